/*
 * arctool.c - ARC validation and sealing with lib/mail/arc.c, for the tests
 * (tests/integration/arc-corpus.sh).
 *
 *   arctool validate MSG DNS         prints "cv=pass|fail|none sets=N why"
 *   arctool seal MSG DNS KEYPEM DOMAIN SELECTOR SRVID T HEADERS
 *                                     prints the ARC set sealing MSG
 *
 * DNS is a file of "NAME<TAB>RECORD" lines, the keys the corpus gives.
 * MSG may have LF or CRLF line ends.
 */
#include "base/base.h"
#include "mail/arc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
table_lookup(void *ctx, const char *name, GPtrArray **txts_r, GError **error)
{
	char *key = g_ascii_strdown(name, -1);
	const char *rec = g_hash_table_lookup(ctx, key);

	g_free(key);
	*txts_r = NULL;
	if (rec == NULL)
		return 0;
	*txts_r = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(*txts_r, g_strdup(rec));
	return 1;
}

static GHashTable *
load_table(const char *path)
{
	GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      g_free);
	char *text = NULL, **lines;

	if (!g_file_get_contents(path, &text, NULL, NULL)) {
		fprintf(stderr, "arctool: cannot read %s\n", path);
		exit(64);
	}
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		char *tab = strchr(*l, '\t');

		if (tab != NULL)
			g_hash_table_insert(t, g_ascii_strdown(*l, tab - *l),
					    g_strdup(tab + 1));
	}
	g_strfreev(lines);
	g_free(text);
	return t;
}

int
main(int argc, char **argv)
{
	char *msg = NULL, *pem = NULL, *set;
	gsize len = 0, pemlen = 0;
	GHashTable *dns;
	struct dkim_verify_opts o = { .lookup = table_lookup };
	const char *why = NULL;
	enum arc_cv cv;
	int sets = 0;

	if (argc < 4 || !g_file_get_contents(argv[2], &msg, &len, NULL)) {
		fprintf(stderr, "usage: arctool validate|seal MSG DNS ...\n");
		return 64;
	}
	dns = load_table(argv[3]);
	o.ctx = dns;
	/* The corpus's keys are 1024-bit RSA. */
	o.min_rsa_bits = 1024;
	cv = arc_validate(msg, len, &o, &sets, &why);
	if (strcmp(argv[1], "validate") == 0) {
		printf("cv=%s sets=%d %s\n", arc_cv_name(cv), sets,
		       why != NULL ? why : "");
	} else if (strcmp(argv[1], "seal") == 0 && argc == 10 &&
		   g_file_get_contents(argv[4], &pem, &pemlen, NULL)) {
		GError *e = NULL;
		struct dkim_key *k = dkim_key_new(argv[5], argv[6], pem, pemlen, &e);
		struct dkim_sign_opts so = { .sign = g_strsplit(argv[9], ":", -1) };
		char *results = g_strdup_printf("%s; arc=%s", argv[7], arc_cv_name(cv));

		set = k != NULL ? arc_seal(k, &so, msg, len, NULL, cv, results,
					   g_ascii_strtoll(argv[8], NULL, 10), &e)
				: NULL;
		if (set == NULL) {
			fprintf(stderr, "arctool: %s\n", e->message);
			return 1;
		}
		fputs(set, stdout);
		g_free(set);
		g_free(results);
		dkim_sign_opts_clear(&so);
		dkim_key_free(&k);
	} else {
		fprintf(stderr, "usage: arctool validate|seal MSG DNS ...\n");
		return 64;
	}
	g_hash_table_unref(dns);
	g_free(msg);
	g_free(pem);
	return 0;
}
