/*
 * bench-roster-load.c - one process that loads a list's roster the way
 * delivery does (every member, parsed, in file order) and reports its time
 * and peak RSS: the figure "load a 100,000-member roster for delivery"
 * (goal < 50 ms, < 30 MB).  bench/roster.sh runs it on the list it built.
 *
 *   bench-roster-load VAR_DIR LIST
 */
#include "list/list.h"
#include "list/roster.h"
#include "store/site.h"

#include <stdio.h>
#include <sys/resource.h>

int
main(int argc, char **argv)
{
	GError *error = NULL;
	struct site *site;
	struct list *l;
	struct roster *r = NULL;
	struct rusage ru;
	GPtrArray *all;
	int64_t t0;
	guint n = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: bench-roster-load VAR_DIR LIST\n");
		return 64;
	}
	if ((site = site_open(argv[1], &error)) == NULL ||
	    (l = list_open(site, argv[2], &error)) == NULL) {
		fprintf(stderr, "%s\n", error->message);
		return 1;
	}
	t0 = g_get_monotonic_time();
	if (roster_load(l, &r, &error) < 0) {
		fprintf(stderr, "%s\n", error->message);
		return 1;
	}
	all = roster_members(r, FALSE);
	for (guint i = 0; i < all->len; i++)
		n += ((const struct member *)all->pdata[i])->addr[0] != '\0';
	getrusage(RUSAGE_SELF, &ru);
	printf("roster load for delivery, own process: %u members in %.1f ms, "
	       "peak RSS %ld KB (the whole process: libraries included)\n", n,
	       (double)(g_get_monotonic_time() - t0) / 1000.0, ru.ru_maxrss);
	g_ptr_array_unref(all);
	roster_free(&r);
	list_free(&l);
	site_free(&site);
	return 0;
}
