/*
 * cmd_dkim.c - `herald dkim`: the DKIM keys of the site's domains
 * (src/lib/mail/dkim.h, docs/dkim.md).
 *
 *   dkim keygen DOMAIN [--selector S] [--type rsa|ed25519] [--bits N]
 *       writes a new private key to etc/dkim/DOMAIN/S.pem (0600) and
 *       prints the TXT record to publish.
 *   dkim record DOMAIN [--selector S]
 *       prints the TXT record of a stored key again.
 *   dkim check DOMAIN
 *       looks up each signing selector's record in DNS and says whether it
 *       matches the stored key; exit 1 when one does not.
 *   dkim sign DOMAIN
 *       signs the message on standard input as delivery would and prints
 *       it (for testing a key).
 */
#include "cli.h"
#include "mail/dkim.h"
#include "mail/dmarc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The stored key of domain and selector (NULL: the first signing
 * selector), or NULL after printing why not. */
static struct dkim_key *
stored_key(struct site *site, const char *domain, const char *selector)
{
	char **sels = dkim_domain_selectors(site, domain);
	const char *sel = selector != NULL ? selector : sels[0];
	struct dkim_key *k = NULL;
	GError *e = NULL;
	int r = dkim_key_load(site, domain, sel, &k, &e);

	if (r < 0)
		cli_gerror(&e);
	else if (r == 0)
		cli_error("no DKIM key %s for %s (see `herald dkim keygen`)", sel,
			  domain);
	g_strfreev(sels);
	return k;
}

static void
print_record(const struct dkim_key *k)
{
	char *txt = dkim_key_txt(k);
	GString *quoted = g_string_new(NULL);
	size_t len = strlen(txt);

	/* A TXT string holds at most 255 bytes: an RSA key needs several. */
	for (size_t i = 0; i < len; i += 250)
		g_string_append_printf(quoted, "%s\"%.*s\"", i > 0 ? " " : "",
				       (int)MIN(250, len - i), txt + i);
	printf("%s._domainkey.%s. IN TXT %s\n", dkim_key_selector(k),
	       dkim_key_domain(k), quoted->str);
	g_string_free(quoted, TRUE);
	g_free(txt);
}

static int
dkim_keygen_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "DOMAIN", .min_args = 1, .max_args = 1,
		.summary = "Writes a new DKIM private key for DOMAIN into the "
			   "var dir (etc/dkim/DOMAIN/\nSELECTOR.pem, mode 0600) "
			   "and prints the DNS TXT record to publish.\nThe lists "
			   "of DOMAIN sign with it while SELECTOR is the "
			   "domain's\n(dkim.selector, or dkim.domains; "
			   "docs/dkim.md).",
	};
	char *selector = NULL, *type = NULL;
	int bits = 2048;
	const GOptionEntry entries[] = {
		{ "selector", 's', 0, G_OPTION_ARG_STRING, &selector,
		  "the selector (default: the domain's, see dkim.selector)",
		  "S" },
		{ "type", 't', 0, G_OPTION_ARG_STRING, &type,
		  "rsa (default) or ed25519", "TYPE" },
		{ "bits", 'b', 0, G_OPTION_ARG_INT, &bits,
		  "RSA key size, 1024 to 4096 (default 2048)", "N" },
		G_OPTION_ENTRY_NULL
	};
	struct site *site;
	struct dkim_key *k;
	char *pem = NULL, **sels;
	enum dkim_alg alg;
	GError *e = NULL;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if (type != NULL && strcmp(type, "rsa") != 0 &&
	    strcmp(type, "ed25519") != 0)
		return cli_usage_error(cli, "--type is rsa or ed25519");
	if (bits < 1024 || bits > 4096)
		return cli_usage_error(cli, "--bits is 1024 to 4096");
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	alg = type != NULL && strcmp(type, "ed25519") == 0
		? DKIM_ED25519_SHA256 : DKIM_RSA_SHA256;
	sels = dkim_domain_selectors(site, argv[1]);
	if (selector == NULL)
		selector = sels[0];
	if (dkim_keygen(alg, (unsigned)bits, &pem, &e) < 0 ||
	    dkim_key_store(site, argv[1], selector, pem, &e) < 0 ||
	    (k = dkim_key_new(argv[1], selector, pem, strlen(pem), &e)) == NULL) {
		g_free(pem);
		g_strfreev(sels);
		return cli_gerror(&e);
	}
	print_record(k);
	if (!g_strv_contains((const char *const *)sels, selector))
		fprintf(stderr, "herald: %s is not a signing selector of %s yet: "
			"publish the record, then add %s=%s to dkim.domains "
			"(docs/dkim.md)\n", selector, argv[1], argv[1], selector);
	dkim_key_free(&k);
	g_free(pem);
	g_strfreev(sels);
	return CLI_OK;
}

static int
dkim_record_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "DOMAIN", .min_args = 1, .max_args = 1,
		.summary = "Prints the DNS TXT record of DOMAIN's stored key.",
	};
	char *selector = NULL;
	const GOptionEntry entries[] = {
		{ "selector", 's', 0, G_OPTION_ARG_STRING, &selector,
		  "the selector (default: the domain's first)", "S" },
		G_OPTION_ENTRY_NULL
	};
	struct site *site;
	struct dkim_key *k;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL ||
	    (k = stored_key(site, argv[1], selector)) == NULL)
		return CLI_FAIL;
	print_record(k);
	dkim_key_free(&k);
	return CLI_OK;
}

/* The p= value of a DKIM record, without spaces, or NULL. */
static char *
record_p(const char *txt)
{
	char **tags = g_strsplit(txt, ";", -1);
	char *p = NULL;

	for (char **t = tags; *t != NULL && p == NULL; t++) {
		char *tag = g_strstrip(*t);

		if (tag[0] == 'p' && strchr(tag, '=') != NULL) {
			char *v = g_strstrip(strchr(tag, '=') + 1);
			char **parts = g_strsplit_set(v, " \t\r\n", -1);

			p = g_strjoinv("", parts);
			g_strfreev(parts);
		}
	}
	g_strfreev(tags);
	return p;
}

/* 0 when selector's record in DNS matches its stored key, else 1. */
static int
check_selector(struct site *site, struct dmarc_resolver *r,
	       const char *domain, const char *selector)
{
	struct dkim_key *k = stored_key(site, domain, selector);
	char *name = g_strdup_printf("%s._domainkey.%s", selector, domain);
	char *mine = NULL, *want = NULL;
	GPtrArray *txts = NULL;
	GError *e = NULL;
	int q, ret = 1;

	if (k == NULL)
		goto out;
	mine = dkim_key_txt(k);
	want = record_p(mine);
	q = dmarc_query_txt(r, name, &txts, &e);
	if (q < 0) {
		printf("%s: DNS failed: %s\n", name, e->message);
		g_clear_error(&e);
		goto out;
	}
	for (guint i = 0; q > 0 && i < txts->len; i++) {
		char *p = record_p(txts->pdata[i]);

		if (p != NULL && strcmp(p, want) == 0)
			ret = 0;
		g_free(p);
	}
	if (ret == 0)
		printf("%s: published, matches the key\n", name);
	else if (q == 0 || txts->len == 0)
		printf("%s: not published; publish:\n  %s\n", name, mine);
	else
		printf("%s: published record does not match the key; "
		       "publish:\n  %s\n", name, mine);
out:
	if (txts != NULL)
		g_ptr_array_unref(txts);
	dkim_key_free(&k);
	g_free(mine);
	g_free(want);
	g_free(name);
	return ret;
}

static int
dkim_check_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "DOMAIN", .min_args = 1, .max_args = 1,
		.summary = "Looks up the DKIM records of DOMAIN's signing "
			   "selectors in DNS and says\nwhether each matches "
			   "the stored key; exits 1 when one does not.",
	};
	struct dmarc_resolver *r;
	struct site *site;
	char **sels, *server, *old;
	GError *e = NULL;
	int ret, bad = 0;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	server = site_get(site, "dkim.resolver", NULL);
	old = server;
	if (*server == '\0')
		server = site_get(site, "dmarc.resolver", NULL);
	r = dmarc_resolver_new_full(server,
				    (int)site_get_int(site, "dmarc.timeout"), 0,
				    NULL, &e);
	if (server != old)
		g_free(server);
	g_free(old);
	if (r == NULL)
		return cli_gerror(&e);
	sels = dkim_domain_selectors(site, argv[1]);
	for (char **s = sels; *s != NULL; s++)
		bad |= check_selector(site, r, argv[1], *s);
	g_strfreev(sels);
	dmarc_resolver_free(&r);
	return bad ? CLI_FAIL : CLI_OK;
}

static int
dkim_sign_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "DOMAIN", .min_args = 1, .max_args = 1,
		.summary = "Signs the message on standard input with DOMAIN's "
			   "signing keys, as\ndelivery does, and prints it.",
	};
	struct dkim_sign_opts o = { 0 };
	struct site *site;
	GPtrArray *keys;
	GString *in, *sigs = g_string_new(NULL);
	GError *e = NULL;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL ||
	    (keys = dkim_domain_keys(site, argv[1], &e)) == NULL) {
		g_string_free(sigs, TRUE);
		return e != NULL ? cli_gerror(&e) : CLI_FAIL;
	}
	if ((in = cli_read_stdin()) == NULL) {
		g_ptr_array_unref(keys);
		g_string_free(sigs, TRUE);
		return CLI_FAIL;
	}
	dkim_sign_opts_load(site, &o);
	ret = CLI_OK;
	for (guint i = 0; i < keys->len && ret == CLI_OK; i++) {
		char *sig = dkim_sign(keys->pdata[i], &o, in->str, in->len, NULL,
				      (int64_t)time(NULL), &e);

		if (sig == NULL)
			ret = cli_gerror(&e);
		else
			g_string_append(sigs, sig);
		g_free(sig);
	}
	if (ret == CLI_OK && (fwrite(sigs->str, 1, sigs->len, stdout) != sigs->len ||
			      fwrite(in->str, 1, in->len, stdout) != in->len ||
			      fflush(stdout) != 0))
		ret = cli_error("writing: %s", g_strerror(errno));
	dkim_sign_opts_clear(&o);
	g_ptr_array_unref(keys);
	g_string_free(in, TRUE);
	g_string_free(sigs, TRUE);
	return ret;
}

int
cmd_dkim(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "keygen", dkim_keygen_cmd,
		  "write a new DKIM key for a domain, print its DNS record" },
		{ "record", dkim_record_cmd,
		  "print the DNS record of a domain's stored key" },
		{ "check", dkim_check_cmd,
		  "compare the published DNS records with the stored keys" },
		{ "sign", dkim_sign_cmd,
		  "sign a message on standard input with a domain's keys" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs,
			    "DKIM keys of the site's domains (docs/dkim.md).");
}
