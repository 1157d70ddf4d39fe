/*
 * bench-archive.c - the archive's figures in one process, on an archive
 * made beforehand (bench/archive.sh imports one):
 *   search p50 and p90 for a word, a phrase and a from: query
 *   archive_add of one message: p50 and p90 over ADDS additions
 * Usage: bench-archive VAR LIST [ADDS [PHRASE]]   (PHRASE: one more phrase
 * query, two words found together in the archive)
 */
#include "bench.h"
#include "archive/archive.h"
#include "base/base.h"
#include "base/log.h"
#include "list/list.h"
#include "mail/message.h"
#include "store/site.h"

#define RUNS 101

static void
search_figure(struct archive *a, const char *label, const char *query)
{
	int64_t t[RUNS];
	guint hits = 0;

	for (int i = 0; i < RUNS; i++) {
		GError *error = NULL;
		int64_t t0 = bench_now_us();
		GPtrArray *h = archive_search(a, query, 20, &error);

		t[i] = bench_now_us() - t0;
		if (h == NULL)
			bench_die_gerror("archive_search", error);
		hits = h->len;
		g_ptr_array_free(h, TRUE);
	}
	printf("search %-8s %-28s p50 %6.2f ms  p90 %6.2f ms  (%u results shown)\n",
	       label, query, bench_percentile(t, RUNS, 50) / 1000.0,
	       bench_percentile(t, RUNS, 90) / 1000.0, hits);
}

int
main(int argc, char **argv)
{
	GError *error = NULL;
	struct site *site;
	struct list *l;
	struct archive *a;
	int adds = argc > 3 ? atoi(argv[3]) : 21;

	if (argc < 3)
		bench_die("usage: bench-archive VAR LIST [ADDS]");
	log_open(NULL, FALSE);
	message_init();
	if ((site = site_open(argv[1], &error)) == NULL)
		bench_die_gerror("site_open", error);
	if ((l = list_open(site, argv[2], &error)) == NULL)
		bench_die_gerror("list_open", error);
	if ((a = archive_open(l, &error)) == NULL)
		bench_die_gerror("archive_open", error);
	printf("archive of %" G_GINT64_FORMAT " messages\n", archive_count(a, NULL));
	search_figure(a, "word", "kernel");
	search_figure(a, "phrase", "\"memory buffer\"");
	if (argc > 4) {
		char *q = g_strdup_printf("\"%s\"", argv[4]);

		search_figure(a, "phrase", q);
		g_free(q);
	}
	search_figure(a, "from:", "from:greta");
	search_figure(a, "combined", "patch subject:driver after:2020-01-01");

	int64_t *t = g_new(int64_t, adds);

	for (int i = 0; i < adds; i++) {
		char *msg = g_strdup_printf("From: Bench <bench@example.org>\nSubject: added %d\n"
					    "Message-ID: <bench-%d-%" G_GINT64_FORMAT "@example.org>\n"
					    "In-Reply-To: <1.1@example.org>\n\n"
					    "A message added to a big archive, number %d.\n",
					    i, i, now_usec(), i);
		int64_t t0 = bench_now_us();

		if (archive_add(a, msg, strlen(msg), NULL, FALSE, now_usec() / 1000000,
				NULL, &error) < 0)
			bench_die_gerror("archive_add", error);
		t[i] = bench_now_us() - t0;
		g_free(msg);
	}
	printf("archive_add of one message: p50 %.2f ms  p90 %.2f ms  (%d adds)\n",
	       bench_percentile(t, adds, 50) / 1000.0,
	       bench_percentile(t, adds, 90) / 1000.0, adds);
	g_free(t);
	archive_free(&a);
	list_free(&l);
	site_free(&site);
	return 0;
}
