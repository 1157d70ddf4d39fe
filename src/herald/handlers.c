/*
 * handlers.c - the runner process: opens the runner kind a queue is
 * configured with (runner.<queue>.handler, one of the registry's kinds in
 * lib/runners/) and runs the generic loop (store/runner.c) over one slice.
 *
 * Between messages, at most once a second, the runner looks whether the
 * site configuration changed (`herald site set` on any host replaces the
 * file; the local master also passes on a SIGHUP): if so it rereads it and
 * opens its kind afresh, so new settings apply from the next message
 * without a restart.
 *
 * At that same tick, when messages were handled since the last one, the
 * runner gives the memory they freed back to the system (malloc_trim).
 * Not a leak (valgrind and LeakSanitizer find nothing lost over many
 * jobs) but glibc's retention: a delivery to a big list holds hundreds of
 * thousands of small strings (the entry's "rcpt" lines, their sorted
 * copies, the set that drops repeats), freed when the entry is done, and
 * they leave holes below the few allocations that outlive the job, which
 * glibc keeps and the next job's pattern does not fit exactly.  Measured
 * (docs/PERFORMANCE.md, "Runner memory"): the out runner went from 28 to
 * 49 MB over fifteen posts to a 100,000-member list with 156 KB in use
 * between jobs (mallinfo2).  The trim must come after the loop has freed
 * the entry (store/runner.c frees it once the handler returns), which is
 * why it is here and not in a handler; it costs a walk of the free lists
 * and a few system calls, at most once a second.
 */
#include "cli.h"
#include "base/base.h"
#include "store/lock.h"
#include "base/log.h"
#include "store/runner.h"
#include "runners/runners.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct lease_check {
	char *dir;
	const char *name;
	const char *claim;
};

/* The master renews the lease; this process only checks that the master's
 * claim is still the lease's holder and has not expired. */
static gboolean
lease_still_ours(void *ctx)
{
	struct lease_check *lc = ctx;
	GError *error = NULL;
	char *holder = NULL;
	int64_t expiry, now;
	gboolean ok;

	if (lock_inspect(lc->dir, lc->name, &holder, &expiry, &error) != 1 ||
	    lock_server_now(lc->dir, &now, &error) < 0) {
		log_error("runner", "lease %s cannot be checked: %s", lc->name,
			  error != NULL ? error->message : "no lease");
		g_clear_error(&error);
		g_free(holder);
		return FALSE;
	}
	ok = strcmp(holder, lc->claim) == 0 && expiry > now;
	g_free(holder);
	return ok;
}

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void
on_stop(int sig)
{
	stop_requested = 1;
}

static void
on_hup(int sig)
{
	log_request_reopen();
	reload_requested = 1;
}

/* What the runner holds of its kind, remade when the settings change. */
struct kind_state {
	struct site *site;
	const char *queue;
	const struct runner_kind *kind;
	void *ctx;			/* the kind's context */
	struct runner_config *cfg;
	gboolean handled;		/* a message since the last tick */
};

static int
kind_open(struct kind_state *ks, GError **error)
{
	void *ctx = NULL;

	if (ks->kind->open != NULL &&
	    (ctx = ks->kind->open(ks->site, ks->queue, error)) == NULL)
		return -1;
	ks->ctx = ctx;
	return 0;
}

static void
kind_close(struct kind_state *ks)
{
	if (ks->kind->close != NULL && ks->ctx != NULL)
		ks->kind->close(ks->ctx);
	ks->ctx = NULL;
}

/* Every message goes to the kind's handler through here, so that the tick
 * knows there is memory to give back. */
static int
kind_handle(void *ctx, struct queue *q, struct queue_item *item,
	    GError **error)
{
	struct kind_state *ks = ctx;

	ks->handled = TRUE;
	return ks->kind->handle(ks->ctx, q, item, error);
}

/* The end of a batch, for a kind that puts work off to it. */
static int
kind_flush(void *ctx, GError **error)
{
	struct kind_state *ks = ctx;

	return ks->kind->flush != NULL ? ks->kind->flush(ks->ctx, error) : 0;
}

/* The kind runner.<queue>.handler names, or NULL. */
static const struct runner_kind *
configured_kind(struct site *site, const char *queue)
{
	char *key = g_strdup_printf("runner.%s.handler", queue);
	char *name = site_get(site, key, NULL);
	const struct runner_kind *kind = runner_kind_find(name);

	g_free(key);
	g_free(name);
	return kind;
}

/* The runner's tick: new settings, when the file changed; even a new
 * handler (the kind is swapped between two messages). */
static int
kind_tick(void *ctx, GError **error)
{
	struct kind_state *ks = ctx;
	const struct runner_kind *kind;
	int r;

	if (ks->handled) {	/* see the top of this file */
		ks->handled = FALSE;
		(void)malloc_trim(0);
	}
	if (reload_requested) {
		reload_requested = 0;
		r = site_reload(ks->site, error) < 0 ? -1 : 1;
	} else {
		r = site_reload_if_changed(ks->site, error);
	}
	if (r <= 0)
		return r;
	log_info("runner", "runner %s: settings reread", ks->queue);
	kind_close(ks);
	if ((kind = configured_kind(ks->site, ks->queue)) != NULL &&
	    kind != ks->kind) {
		log_info("runner", "runner %s: handler %s instead of %s",
			 ks->queue, kind->name, ks->kind->name);
		ks->kind = kind;
	}
	ks->cfg->poll_ms = (int)site_get_int(ks->site, "master.poll_interval");
	return kind_open(ks, error);
}

int
runner_main(struct site *site, const char *queue, unsigned s, unsigned n,
	    const char *lease_name, const char *lease_claim, gboolean once)
{
	struct runner_config cfg = { 0 };
	struct kind_state ks = { .site = site, .queue = queue, .cfg = &cfg };
	struct lease_check lc = { 0 };
	struct sigaction sa = { 0 };
	GError *error = NULL;
	int r, code;

	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);

	ks.kind = configured_kind(site, queue);
	if (ks.kind == NULL || kind_open(&ks, &error) < 0) {
		log_error("runner", "runner %s: %s", queue, error != NULL ?
			  error->message : "unknown handler");
		g_clear_error(&error);
		return HERALD_EX_SOFTWARE;
	}
	cfg.var_dir = site_var_dir(site);
	cfg.queue = queue;
	cfg.slice = s;
	cfg.nslices = n;
	cfg.poll_ms = (int)site_get_int(site, "master.poll_interval");
	cfg.stop = &stop_requested;
	cfg.once = once;
	cfg.handler = kind_handle;
	cfg.handler_ctx = &ks;
	cfg.flush = kind_flush;
	cfg.tick = kind_tick;
	cfg.tick_ctx = &ks;
	if (lease_name != NULL) {
		lc.dir = site_path(site, "leases", NULL);
		lc.name = lease_name;
		lc.claim = lease_claim;
		cfg.lease_ok = lease_still_ours;
		cfg.lease_ctx = &lc;
	}
	r = runner_run(&cfg, &error);
	code = r == 0 ? 0 : r == 1 ? RUNNER_EXIT_LEASE_LOST : HERALD_EX_TEMPFAIL;
	if (r < 0)
		g_clear_error(&error);
	kind_close(&ks);
	g_free(lc.dir);
	return code;
}

int
cmd_runner(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "QUEUE", .min_args = 1, .max_args = 1,
		.summary = "Runs one runner of QUEUE in the foreground, without "
			   "a lease: only for debugging, never beside a master "
			   "that runs the same slice.",
	};
	char *slice = NULL;
	gboolean once = FALSE;
	const GOptionEntry entries[] = {
		{ "slice", 0, 0, G_OPTION_ARG_STRING, &slice,
		  "work slice S of N (default 0/1)", "S/N" },
		{ "once", 0, 0, G_OPTION_ARG_NONE, &once,
		  "one pass over the queue, then exit", NULL },
		G_OPTION_ENTRY_NULL
	};
	unsigned s = 0, n = 1;
	struct site *site;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if (slice != NULL && (sscanf(slice, "%u/%u", &s, &n) != 2 || n == 0 ||
			      s >= n))
		return cli_usage_error(cli, "--slice %s: not S/N with S < N",
				       slice);
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	log_set_stderr(TRUE);
	return runner_main(site, argv[1], s, n, NULL, NULL, once);
}
