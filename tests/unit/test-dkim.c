/*
 * test-dkim.c - DKIM signing (src/lib/mail/dkim.c): the RFC 8463 key and
 * body hash, relaxed canonicalisation as RFC 6376 3.4.5 shows it,
 * oversigning, and line ends that do not change a signature.  That
 * python3-dkim verifies the signatures is tests/integration/dkim-postfix.sh.
 */
#include "mail/dkim.h"
#include "base/base.h"

#include <glib.h>
#include <string.h>

/* RFC 8463 appendix A: the ed25519 key of brisbane._domainkey. */
static const char rfc8463_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
	"-----END PRIVATE KEY-----\n";

static const char rfc8463_msg[] =
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

static struct dkim_key *
rfc8463_key(void)
{
	GError *e = NULL;
	struct dkim_key *k = dkim_key_new("football.example.com", "brisbane",
					  rfc8463_pem, strlen(rfc8463_pem), &e);

	g_assert_no_error(e);
	return k;
}

static void
test_dkim_rfc8463_key_gives_the_published_record(void)
{
	struct dkim_key *k = rfc8463_key();
	char *txt = dkim_key_txt(k);

	g_assert_cmpint(dkim_key_alg(k), ==, DKIM_ED25519_SHA256);
	g_assert_cmpstr(txt, ==, "v=DKIM1; k=ed25519; "
			"p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	g_free(txt);
	dkim_key_free(&k);
	g_assert_null(k);
}

static void
test_dkim_rfc8463_body_hash(void)
{
	size_t off = dkim_body_offset(rfc8463_msg, strlen(rfc8463_msg));
	char bh[DKIM_BH_SIZE];

	dkim_body_hash(rfc8463_msg + off, strlen(rfc8463_msg) - off, bh);
	g_assert_cmpstr(bh, ==, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
}

static char *
sha256_b64(const char *s)
{
	GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
	guint8 d[32];
	gsize n = sizeof(d);
	char *b;

	g_checksum_update(c, (const guchar *)s, (gssize)strlen(s));
	g_checksum_get_digest(c, d, &n);
	g_checksum_free(c);
	b = g_base64_encode(d, n);
	return b;
}

/* RFC 6376 3.4.5's example, header and body. */
static void
test_dkim_relaxed_canonicalisation_as_rfc6376_shows(void)
{
	static const char body[] = " C \r\nD \t E\r\n\r\n\r\n";
	GString *h = g_string_new(NULL);
	char bh[DKIM_BH_SIZE], *want = sha256_b64(" C\r\nD E\r\n");

	dkim_canon_header(h, "A: X", 4, TRUE);
	dkim_canon_header(h, "B : Y\t\r\n\tZ  ", 12, TRUE);
	g_assert_cmpstr(h->str, ==, "a:X\r\nb:Y Z\r\n");
	dkim_body_hash(body, strlen(body), bh);
	g_assert_cmpstr(bh, ==, want);
	g_free(want);
	/* An empty body, and one of blank lines only, hash as nothing. */
	want = sha256_b64("");
	dkim_body_hash("", 0, bh);
	g_assert_cmpstr(bh, ==, want);
	dkim_body_hash("\r\n\n \r\n", 6, bh);
	g_assert_cmpstr(bh, ==, want);
	g_free(want);
	g_string_free(h, TRUE);
}

static char *
sign(const struct dkim_key *k, const char *msg, const char *bh)
{
	struct dkim_sign_opts o = {
		.sign = g_strsplit("From:To:Subject:List-Unsubscribe:"
				   "List-Unsubscribe-Post", ":", -1),
		.oversign = g_strsplit("From:List-Unsubscribe:"
				       "List-Unsubscribe-Post", ":", -1),
	};
	GError *e = NULL;
	char *sig = dkim_sign(k, &o, msg, strlen(msg), bh, 1528637909, &e);

	g_assert_no_error(e);
	dkim_sign_opts_clear(&o);
	return sig;
}

static void
test_dkim_signature_names_and_oversigns_the_fields(void)
{
	struct dkim_key *k = rfc8463_key();
	char *sig = sign(k, rfc8463_msg, NULL), **parts, *h;

	g_assert_true(g_str_has_prefix(sig, "DKIM-Signature: v=1; "
				       "a=ed25519-sha256; c=relaxed/relaxed; "
				       "d=football.example.com; s=brisbane;\r\n"));
	g_assert_true(g_str_has_suffix(sig, "\r\n"));
	g_assert_nonnull(strstr(sig, "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;"));
	/* Present fields once each; the oversigned ones once more, also
	 * when absent. */
	parts = g_strsplit_set(strstr(sig, "h=") + 2, ";", 2);
	h = g_strdelimit(parts[0], " \t\r\n", ' ');
	g_strstrip(h);
	{
		char **names = g_strsplit_set(h, ": ", -1);
		GString *joined = g_string_new(NULL);

		for (char **n = names; *n != NULL; n++)
			if (**n != '\0')
				g_string_append_printf(joined, "%s%s",
						       joined->len ? ":" : "", *n);
		g_assert_cmpstr(joined->str, ==, "From:From:To:Subject:"
				"List-Unsubscribe:List-Unsubscribe-Post");
		g_string_free(joined, TRUE);
		g_strfreev(names);
	}
	g_strfreev(parts);
	g_free(sig);
	dkim_key_free(&k);
}

static void
test_dkim_lf_and_crlf_copies_sign_alike(void)
{
	struct dkim_key *k = rfc8463_key();
	char *lf = g_strdup(rfc8463_msg), *crlf_sig, *lf_sig, *given;
	char **lines = g_strsplit(rfc8463_msg, "\r\n", -1);

	g_free(lf);
	lf = g_strjoinv("\n", lines);
	crlf_sig = sign(k, rfc8463_msg, NULL);
	lf_sig = sign(k, lf, NULL);
	given = sign(k, lf, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	/* ed25519 is deterministic: the same canonical form, the same b=. */
	g_strfreev(lines);
	lines = g_strsplit(crlf_sig, "\r\n", -1);
	g_free(crlf_sig);
	crlf_sig = g_strjoinv("\n", lines);
	g_assert_cmpstr(lf_sig, ==, crlf_sig);
	g_assert_cmpstr(given, ==, lf_sig);
	g_strfreev(lines);
	g_free(lf);
	g_free(lf_sig);
	g_free(crlf_sig);
	g_free(given);
	dkim_key_free(&k);
}

static void
test_dkim_keygen_makes_keys_that_load(void)
{
	GError *e = NULL;
	char *pem = NULL, *txt;
	struct dkim_key *k;

	g_assert_cmpint(dkim_keygen(DKIM_RSA_SHA256, 1024, &pem, &e), ==, 0);
	k = dkim_key_new("d.test", "s", pem, strlen(pem), &e);
	g_assert_no_error(e);
	g_assert_cmpint(dkim_key_alg(k), ==, DKIM_RSA_SHA256);
	txt = dkim_key_txt(k);
	g_assert_true(g_str_has_prefix(txt, "v=DKIM1; k=rsa; p=MI"));
	g_free(txt);
	dkim_key_free(&k);
	g_free(pem);
	g_assert_null(dkim_key_new("d.test", "s", "junk", 4, &e));
	g_assert_error(e, HERALD_ERROR, HERALD_ERR_FORMAT);
	g_clear_error(&e);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dkim/rfc8463-key-gives-the-published-record",
			test_dkim_rfc8463_key_gives_the_published_record);
	g_test_add_func("/dkim/rfc8463-body-hash", test_dkim_rfc8463_body_hash);
	g_test_add_func("/dkim/relaxed-canonicalisation-as-rfc6376-shows",
			test_dkim_relaxed_canonicalisation_as_rfc6376_shows);
	g_test_add_func("/dkim/signature-names-and-oversigns-the-fields",
			test_dkim_signature_names_and_oversigns_the_fields);
	g_test_add_func("/dkim/lf-and-crlf-copies-sign-alike",
			test_dkim_lf_and_crlf_copies_sign_alike);
	g_test_add_func("/dkim/keygen-makes-keys-that-load",
			test_dkim_keygen_makes_keys_that_load);
	return g_test_run();
}
