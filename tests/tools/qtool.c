/*
 * qtool.c - bulk queue operations for the integration tests.
 *
 *   qtool inject VAR QUEUE N [PREFIX]
 *       enqueues N messages, message i carrying "X-Test-Id: PREFIX-i"
 *   qtool collect VAR QUEUE
 *       reads every .msg of QUEUE and prints "unique N duplicates D" over
 *       their X-Test-Id headers, then each duplicated id on its own line
 */
#include "base/base.h"
#include "base/log.h"
#include "store/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
inject(const char *var, const char *qname, long n, const char *prefix)
{
	GError *error = NULL;
	struct queue *q = queue_open(var, qname, &error);

	if (q == NULL)
		goto fail;
	for (long i = 0; i < n; i++) {
		struct queue_meta *m = queue_meta_new();
		char *msg = g_strdup_printf(
		    "From: tester@example.org\nTo: list@example.com\n"
		    "Subject: test %ld\nX-Test-Id: %s-%ld\n\nbody %ld\n", i,
		    prefix, i, i);
		queue_meta_set(m, "list", "list@example.com");
		int r = queue_enqueue(q, m, msg, strlen(msg), NULL, &error);
		queue_meta_free(&m);
		g_free(msg);
		if (r < 0)
			goto fail;
	}
	queue_close(&q);
	return 0;
fail:
	fprintf(stderr, "qtool: %s\n", error->message);
	return 1;
}

static int
collect(const char *var, const char *qname)
{
	GError *error = NULL;
	struct queue *q = queue_open(var, qname, &error);
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						 NULL);
	GPtrArray *bases;
	long dups = 0;

	if (q == NULL || queue_list(q, ".msg", 0, 1, &bases, &error) < 0) {
		fprintf(stderr, "qtool: %s\n", error->message);
		return 1;
	}
	for (guint i = 0; i < bases->len; i++) {
		struct queue_item *it = NULL;
		if (queue_read(q, bases->pdata[i], ".msg", &it, &error) <= 0) {
			fprintf(stderr, "qtool: %s: %s\n", (char *)bases->pdata[i],
				error != NULL ? error->message : "vanished");
			return 1;
		}
		char *body = g_strndup(it->msg, it->msg_len);
		char *id = strstr(body, "X-Test-Id: ");
		char *end = id != NULL ? strchr(id, '\n') : NULL;
		if (end == NULL) {
			fprintf(stderr, "qtool: %s has no X-Test-Id\n", it->base);
			return 1;
		}
		char *key = g_strndup(id + 11, (gsize)(end - id - 11));
		int c = GPOINTER_TO_INT(g_hash_table_lookup(seen, key));
		if (c > 0) {
			dups++;
			printf("dup %s\n", key);
		}
		g_hash_table_replace(seen, key, GINT_TO_POINTER(c + 1));
		g_free(body);
		queue_item_free(&it);
	}
	printf("unique %u duplicates %ld\n", g_hash_table_size(seen), dups);
	return 0;
}

int
main(int argc, char **argv)
{
	log_open(NULL, FALSE);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "inject") == 0)
		return inject(argv[2], argv[3], atol(argv[4]),
			      argc == 6 ? argv[5] : "m");
	if (argc == 4 && strcmp(argv[1], "collect") == 0)
		return collect(argv[2], argv[3]);
	fprintf(stderr, "usage: see the comment at the top of qtool.c\n");
	return 64;
}
