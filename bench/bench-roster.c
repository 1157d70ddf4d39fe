/*
 * bench-roster.c - the roster's figures (issue "Lists, members and
 * settings"):
 *   - load a 100,000-member roster for delivery, in-process: median time
 *     (goal: < 50 ms);
 *   - one change that adds 100,000 prepared members, in-process.
 * bench/roster.sh measures the command line: bulk add from a file (goal
 * < 2 s), the peak RSS of a process that loads the roster (goal < 30 MB,
 * measured there because a forked child would inherit this process's
 * memory), and 10,000 one-at-a-time subscriptions (goal < 5 s).
 *
 *   bench-roster [MEMBERS]     default 100000
 */
#include "bench.h"

#include "mail/address.h"
#include "base/base.h"
#include "list/list.h"
#include "base/log.h"
#include "list/roster.h"
#include "store/site.h"


static struct list *
make_list(struct site **site_r, const char *var)
{
	GError *error = NULL;
	const char *owners[] = { "owner@example.org", NULL };
	struct site *site;
	struct list *l;

	if (site_init(var, &error) < 0 || (site = site_open(var, &error)) == NULL)
		bench_die_gerror("site", error);
	if (list_create(site, "bench@example.org", owners, &error) < 0 ||
	    (l = list_open(site, "bench@example.org", &error)) == NULL)
		bench_die_gerror("list", error);
	*site_r = site;
	return l;
}

struct one_ctx {
	long i;
};

static int
add_one(const struct roster *r, struct roster_change *c, void *ctx,
	GError **error)
{
	struct one_ctx *oc = ctx;
	char *addr = g_strdup_printf("sub%ld@domain%ld.example", oc->i, oc->i % 100);
	struct member m = {
		.key = address_key(addr), .addr = addr, .name = "",
		.mode = MODE_REGULAR, .status = STATUS_ENABLED,
		.status_reason = "", .options = OPT_NODUPES, .language = "",
		.subscribed = 1795000000, .password = "",
	};

	if (roster_find(r, addr) == NULL)
		roster_change_put(c, &m);
	g_free(m.key);
	g_free(addr);
	return 0;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? bench_count_arg(argv[1], "MEMBERS") : 100000;
	char *var = bench_scratch("roster");
	struct site *site;
	struct list *l = make_list(&site, var);
	struct roster_change *c = roster_change_new();
	GError *error = NULL;
	int64_t t0, times[11];

	log_open(NULL, FALSE);
	printf("roster: scratch %s (%s), %ld members over 100 domains\n", var,
	       bench_fs_name(var), n);
	for (long i = 0; i < n; i++) {
		char *addr = g_strdup_printf("user%ld@domain%ld.example", i, i % 100);
		char *name = g_strdup_printf("User %ld", i);
		struct member m = {
			.key = address_key(addr), .addr = addr, .name = name,
			.mode = MODE_REGULAR, .status = STATUS_ENABLED,
			.status_reason = "", .options = OPT_NODUPES, .language = "",
			.subscribed = 1795000000, .password = "",
		};
		roster_change_put(c, &m);
		g_free(m.key);
		g_free(addr);
		g_free(name);
	}
	t0 = bench_now_us();
	if (roster_commit(l, c, NULL, &error) < 0)
		bench_die_gerror("commit", error);
	printf("roster bulk add (one change, in-process, records prepared): "
	       "%ld members in %.0f ms\n", n, (double)(bench_now_us() - t0) / 1000);
	roster_change_free(&c);

	for (int i = 0; i < 11; i++) {
		struct roster *r = NULL;
		t0 = bench_now_us();
		if (roster_load(l, &r, &error) < 0)
			bench_die_gerror("load", error);
		/* For delivery every member is needed, whole. */
		GPtrArray *all = roster_members(r, FALSE);
		times[i] = bench_now_us() - t0;
		if ((long)all->len != n)
			bench_die("loaded %u members, not %ld", all->len, n);
		g_ptr_array_free(all, TRUE);
		roster_free(&r);
	}
	printf("roster load for delivery (load + every member parsed): "
	       "median %.1f ms (min %.1f, max %.1f, 11 runs)\n",
	       (double)bench_percentile(times, 11, 50) / 1000,
	       (double)bench_percentile(times, 11, 0) / 1000,
	       (double)bench_percentile(times, 11, 100) / 1000);

	/* 10,000 subscriptions, each its own change: lock, load, append,
	 * fsync, release, as `herald members add` does, minus process start. */
	struct one_ctx oc = { 0 };
	GError *err2 = NULL;
	struct list *l2 = NULL;
	const char *owners[] = { "owner@example.org", NULL };
	if (list_create(site, "subs@example.org", owners, &err2) < 0 ||
	    (l2 = list_open(site, "subs@example.org", &err2)) == NULL)
		bench_die_gerror("list", err2);
	t0 = bench_now_us();
	for (oc.i = 0; oc.i < 10000; oc.i++)
		if (roster_edit(l2, add_one, &oc, &err2) < 0)
			bench_die_gerror("edit", err2);
	printf("roster one at a time, in-process: 10000 changes (each its own "
	       "lock, load, append, fsync) in %.0f ms\n",
	       (double)(bench_now_us() - t0) / 1000);
	list_free(&l2);
	list_free(&l);
	site_free(&site);
	bench_rm_rf(var);
	g_free(var);
	return 0;
}
