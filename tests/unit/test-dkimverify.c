/*
 * test-dkimverify.c - DKIM verification on entry (src/lib/mail/dkimverify.c):
 * Mail::DKIM's verifier corpus (tests/data/dkim, its fake DNS table and
 * expected results) reproduced case by case, herald's own signatures
 * verifying, and hostile signatures (hundreds of them, huge l=, malformed
 * tags, absurd keys) answered in bounded time with permerror or fail.
 */
#include "testutil.h"
#include "base/base.h"
#include "mail/dkim.h"
#include "mail/dkimverify.h"

#include <string.h>

static char *data_dir;

/* The fake DNS: name -> record, or the markers NXDOMAIN, TIMEOUT,
 * SERVFAIL. */
static GHashTable *
load_fake_dns(void)
{
	char *path = g_build_filename(data_dir, "dkim", "FAKE_DNS.dat", NULL);
	char *text = NULL, **lines;
	GHashTable *dns = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						g_free);

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		char *sp, *rec;

		if (**l == '#' || (sp = strpbrk(*l, " \t")) == NULL)
			continue;
		rec = g_strstrip(g_strdup(sp));
		if (strcmp(rec, "\"\"") == 0)
			rec[0] = rec[1] = '\0';
		g_hash_table_insert(dns, g_ascii_strdown(*l, sp - *l), rec);
	}
	g_strfreev(lines);
	g_free(text);
	g_free(path);
	return dns;
}

static int
fake_lookup(void *ctx, const char *name, GPtrArray **txts_r, GError **error)
{
	char *key = g_ascii_strdown(name, -1);
	const char *rec = g_hash_table_lookup(ctx, key);

	g_free(key);
	*txts_r = NULL;
	if (rec == NULL || strcmp(rec, "NXDOMAIN") == 0)
		return 0;
	if (strstr(rec, "~~") != NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "%s", rec);
		return -1;
	}
	*txts_r = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(*txts_r, g_strdup(rec));
	return 1;
}

/* Mail::DKIM's names: pass, fail (checked and wrong), invalid (the
 * signature or its key unusable: permerror, temperror). */
static const char *
corpus_name(enum dkim_result r)
{
	return r == DKIM_RESULT_PASS ? "pass" : r == DKIM_RESULT_FAIL ? "fail"
		: "invalid";
}

/* Mail::DKIM's result for a message: the best of its signatures. */
static const char *
message_result(GPtrArray *verdicts)
{
	const char *best = "none";

	for (guint i = 0; i < verdicts->len; i++) {
		const struct dkim_verdict *v = verdicts->pdata[i];
		const char *n = corpus_name(v->result);

		if (strcmp(n, "pass") == 0 ||
		    (strcmp(n, "fail") == 0 && strcmp(best, "pass") != 0) ||
		    strcmp(best, "none") == 0)
			best = strcmp(best, "pass") == 0 ? best : n;
	}
	return best;
}

static void
test_dkimverify_mail_dkim_corpus(void)
{
	GHashTable *dns = load_fake_dns();
	char *path = g_build_filename(data_dir, "dkim", "expected.tsv", NULL);
	char *text = NULL, **lines;
	struct dkim_verify_opts o = {
		.lookup = fake_lookup, .ctx = dns, .now = 1796600000,
		/* The corpus is of 2005-2010: SHA-1 and 512-bit keys. */
		.allow_sha1 = TRUE, .min_rsa_bits = 512,
	};
	int checked = 0, wrong = 0;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines + 1; *l != NULL; l++) {
		char **f = g_strsplit(*l, "\t", -1), *msgpath, *msg = NULL;
		gsize len;
		GPtrArray *v;
		const char *got;

		/* DomainKeys (dk_*) is not DKIM, and upstream skips the
		 * pre-standard drafts. */
		if (g_strv_length(f) < 3 || strstr(f[0], "dk_") != NULL ||
		    strcmp(f[2], "yes") == 0) {
			g_strfreev(f);
			continue;
		}
		msgpath = g_build_filename(data_dir, "dkim", "corpus", f[0], NULL);
		g_assert_true(g_file_get_contents(msgpath, &msg, &len, NULL));
		v = dkim_verify(msg, len, &o);
		got = message_result(v);
		checked++;
		if (strcmp(got, f[1]) != 0) {
			const struct dkim_verdict *d = v->len > 0 ? v->pdata[0] : NULL;

			g_test_message("%s: expected %s, got %s (%s)", f[0], f[1],
				       got, d != NULL && d->why != NULL ? d->why : "-");
			wrong++;
		}
		g_ptr_array_unref(v);
		g_free(msg);
		g_free(msgpath);
		g_strfreev(f);
	}
	g_test_message("%d corpus cases checked", checked);
	g_assert_cmpint(checked, >=, 50);
	g_assert_cmpint(wrong, ==, 0);
	g_strfreev(lines);
	g_free(text);
	g_free(path);
	g_hash_table_unref(dns);
}


static int
own_lookup(void *ctx, const char *name, GPtrArray **txts_r, GError **error)
{
	*txts_r = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(*txts_r, g_strdup(ctx));
	return 1;
}

static char *
signed_message(struct dkim_key **key_r, const char *msg)
{
	GError *e = NULL;
	char *pem = NULL, *sig, *out;
	struct dkim_sign_opts so = {
		.sign = g_strsplit("From:To:Subject", ":", -1),
		.oversign = g_strsplit("From", ":", -1),
	};

	g_assert_cmpint(dkim_keygen(DKIM_ED25519_SHA256, 0, &pem, &e), ==, 0);
	*key_r = dkim_key_new("lists.test", "s", pem, strlen(pem), &e);
	g_assert_no_error(e);
	sig = dkim_sign(*key_r, &so, msg, strlen(msg), NULL, 1, &e);
	g_assert_no_error(e);
	out = g_strconcat(sig, msg, NULL);
	g_free(sig);
	g_free(pem);
	dkim_sign_opts_clear(&so);
	return out;
}

static void
test_dkimverify_own_signatures_pass_and_changes_fail(void)
{
	static const char msg[] = "From: a@lists.test\nTo: b@x.test\nSubject: s\n\nhello\n";
	struct dkim_key *k;
	char *m = signed_message(&k, msg), *txt = dkim_key_txt(k), *changed;
	struct dkim_verify_opts o = { .lookup = own_lookup, .ctx = txt };
	GPtrArray *v = dkim_verify(m, strlen(m), &o);

	g_assert_cmpuint(v->len, ==, 1);
	g_assert_cmpint(((struct dkim_verdict *)v->pdata[0])->result, ==,
			DKIM_RESULT_PASS);
	g_ptr_array_unref(v);
	/* A second From (oversigned) breaks it; so does a changed body. */
	changed = g_strconcat("From: evil@x.test\n", m, NULL);
	v = dkim_verify(changed, strlen(changed), &o);
	g_assert_cmpint(((struct dkim_verdict *)v->pdata[0])->result, ==,
			DKIM_RESULT_FAIL);
	g_ptr_array_unref(v);
	g_free(changed);
	changed = g_strconcat(m, "more\n", NULL);
	v = dkim_verify(changed, strlen(changed), &o);
	g_assert_cmpint(((struct dkim_verdict *)v->pdata[0])->result, ==,
			DKIM_RESULT_FAIL);
	g_ptr_array_unref(v);
	g_free(changed);
	g_free(m);
	g_free(txt);
	dkim_key_free(&k);
}

static void
test_dkimverify_hostile_signatures_are_bounded(void)
{
	GString *m = g_string_new(NULL);
	char *huge_key = g_strnfill(200000, 'A');
	char *txt = g_strdup_printf("v=DKIM1; k=rsa; p=%s", huge_key);
	struct dkim_verify_opts o = { .lookup = own_lookup, .ctx = txt };
	GPtrArray *v;
	int64_t t0 = g_get_monotonic_time();

	for (int i = 0; i < 500; i++)
		g_string_append_printf(m, "DKIM-Signature: v=1; a=rsa-sha256; d=x.test;"
				       " s=s; h=from; l=%s; z=%s; bh=AAAA; b=%s;;=;%s\n",
				       i % 2 ? "99999999999999999999999999" : "-1",
				       huge_key + 199000, huge_key + 190000,
				       i % 3 ? "" : "x");
	g_string_append(m, "From: a@x.test\n\nbody\n");
	v = dkim_verify(m->str, m->len, &o);
	g_assert_cmpuint(v->len, ==, 500);
	for (guint i = 0; i < v->len; i++) {
		const struct dkim_verdict *d = v->pdata[i];

		g_assert_cmpint(d->result, !=, DKIM_RESULT_PASS);
	}
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
	g_ptr_array_unref(v);
	g_string_free(m, TRUE);
	g_free(txt);
	g_free(huge_key);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	data_dir = testutil_data_dir(argv[0]);
	g_test_add_func("/dkimverify/mail-dkim-corpus",
			test_dkimverify_mail_dkim_corpus);
	g_test_add_func("/dkimverify/own-signatures-pass-and-changes-fail",
			test_dkimverify_own_signatures_pass_and_changes_fail);
	g_test_add_func("/dkimverify/hostile-signatures-are-bounded",
			test_dkimverify_hostile_signatures_are_bounded);
	return g_test_run();
}
