/*
 * handlers.c - the runner process: picks the handler a queue is configured
 * with and runs the generic loop (lib/runner.c) over one slice.
 *
 * incoming: the posting pipeline (incoming.c).  virgin: herald's own
 * notices, on to the out queue.  outgoing: delivery; retry: deferred
 * recipients back to out when due (outgoing.c).  forward: move messages to the next queue;
 * sink: accept them (tests).  Delivery and the archive join as they are
 * built.
 */
#include "cli.h"
#include "base/base.h"
#include "store/lock.h"
#include "base/log.h"
#include "store/runner.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct forward_ctx {
	struct queue *next;
};

static int
handle_forward(void *ctx, struct queue *q, struct queue_item *item,
	       GError **error)
{
	struct forward_ctx *f = ctx;

	return queue_enqueue(f->next, item->meta, item->msg, item->msg_len, NULL,
			     error);
}

static int
handle_sink(void *ctx, struct queue *q, struct queue_item *item, GError **error)
{
	return 0;
}

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

static void
on_stop(int sig)
{
	stop_requested = 1;
}

static void
on_hup(int sig)
{
	log_request_reopen();
}

int
runner_main(struct site *site, const char *queue, unsigned s, unsigned n,
	    const char *lease_name, const char *lease_claim, gboolean once)
{
	struct runner_config cfg = { 0 };
	struct forward_ctx fwd = { 0 };
	struct lease_check lc = { 0 };
	void *incoming = NULL, *outgoing = NULL;
	struct sigaction sa = { 0 };
	GError *error = NULL;
	char *key, *handler, *next;
	int r, code;

	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);

	key = g_strdup_printf("runner.%s.handler", queue);
	handler = site_get(site, key, NULL);
	g_free(key);
	key = g_strdup_printf("runner.%s.next", queue);
	next = site_get(site, key, NULL);
	g_free(key);

	cfg.var_dir = site_var_dir(site);
	cfg.queue = queue;
	cfg.slice = s;
	cfg.nslices = n;
	cfg.poll_ms = (int)site_get_int(site, "master.poll_interval");
	cfg.stop = &stop_requested;
	cfg.once = once;
	if (strcmp(handler, "virgin") == 0) {
		/* herald's own notices: straight on to delivery. */
		g_free(next);
		next = g_strdup("out");
	}
	if (strcmp(handler, "incoming") == 0) {
		cfg.handler = incoming_handler();
		cfg.handler_ctx = incoming = incoming_new(site);
	} else if (strcmp(handler, "outgoing") == 0) {
		if ((outgoing = outgoing_new(site, &error)) == NULL) {
			log_error("runner", "runner %s: %s", queue, error->message);
			g_clear_error(&error);
			g_free(handler);
			g_free(next);
			return HERALD_EX_SOFTWARE;
		}
		cfg.handler = outgoing_handler();
		cfg.handler_ctx = outgoing;
	} else if (strcmp(handler, "retry") == 0) {
		cfg.handler = retry_handler();
	} else if (strcmp(handler, "forward") == 0 ||
		   strcmp(handler, "virgin") == 0) {
		if (*next == '\0' ||
		    (fwd.next = queue_open(cfg.var_dir, next, &error)) == NULL) {
			log_error("runner", "runner %s: handler forward needs a "
				  "valid runner.%s.next: %s", queue, queue,
				  error != NULL ? error->message : "unset");
			g_clear_error(&error);
			g_free(handler);
			g_free(next);
			return HERALD_EX_SOFTWARE;
		}
		cfg.handler = handle_forward;
		cfg.handler_ctx = &fwd;
	} else {
		cfg.handler = handle_sink;
	}
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
	queue_close(&fwd.next);
	incoming_free(incoming);
	outgoing_free(outgoing);
	g_free(lc.dir);
	g_free(handler);
	g_free(next);
	return code;
}

int
cmd_runner(struct cli *cli, int argc, char **argv)
{
	static const char usage[] = "runner QUEUE [--slice S/N] [--once]\n"
		"  Runs one runner in the foreground, without a lease: only for\n"
		"  debugging, never beside a master that runs the same slice.";
	unsigned s = 0, n = 1;
	gboolean once = FALSE;
	struct site *site;

	if (argc < 2)
		return cli_usage(usage);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--once") == 0)
			once = TRUE;
		else if (strcmp(argv[i], "--slice") == 0 && i + 1 < argc &&
			 sscanf(argv[i + 1], "%u/%u", &s, &n) == 2 && n > 0 && s < n)
			i++;
		else
			return cli_usage(usage);
	}
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	log_set_stderr(TRUE);
	return runner_main(site, argv[1], s, n, NULL, NULL, once);
}
