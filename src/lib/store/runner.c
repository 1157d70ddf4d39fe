/*
 * runner.c - the generic runner loop.
 *
 * A runner owns one slice of one queue for as long as its host holds the
 * slice's lease.  At start it returns the .bak files of its slice to the
 * queue (a runner that died left them; the third strike sends one to
 * bad/).  Then it repeats: list the slice oldest first, claim each entry by
 * rename, read it, hand it to the handler, and finish (unlink) or shunt
 * it.  A stop request is honoured between messages, never inside one.
 *
 * Idle runners sleep in poll() on an inotify descriptor for their queue
 * directory, so a message enqueued on this host is picked up at once.
 * Other NFS hosts' writes raise no inotify event here: the poll timeout
 * (master.poll_interval) bounds how late they are seen.
 */
#include "store/runner.h"
#include "base/base.h"
#include "base/log.h"

#include <errno.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#define RUNNER_SUBSYS "runner"
#define LEASE_CHECK_US 1000000	/* how often the lease is checked, at most */

struct runner_state {
	const struct runner_config *cfg;
	struct queue *q;
	int inotify_fd;
	int64_t lease_checked;
	int64_t ticked;
};

static gboolean
stopping(const struct runner_state *st)
{
	return st->cfg->stop != NULL && *st->cfg->stop;
}

static gboolean
lease_lost(struct runner_state *st, gboolean force)
{
	int64_t now = g_get_monotonic_time();

	if (st->cfg->lease_ok == NULL)
		return FALSE;
	if (!force && now - st->lease_checked < LEASE_CHECK_US)
		return FALSE;
	st->lease_checked = now;
	return !st->cfg->lease_ok(st->cfg->lease_ctx);
}

/* The configuration's tick (picking up changed settings), at most once
 * a second, between messages. */
static int
tick(struct runner_state *st, GError **error)
{
	int64_t now = g_get_monotonic_time();

	if (st->cfg->tick == NULL || now - st->ticked < LEASE_CHECK_US)
		return 0;
	st->ticked = now;
	return st->cfg->tick(st->cfg->tick_ctx, error);
}

/* Claims and handles one entry.  Returns 0, or -1 when the environment
 * failed (the disk, the file server): the entry is then given back to the
 * queue untouched and the caller stops, to be restarted after a backoff. */
static int
handle_one(struct runner_state *st, const char *base, GError **error)
{
	struct queue_item *item = NULL;
	GError *local = NULL;
	int r;

	r = queue_claim(st->q, base, error);
	if (r <= 0)
		return r;
	r = queue_read(st->q, base, ".bak", &item, &local);
	if (r == 0)
		return 0;
	if (r < 0 && g_error_matches(local, HERALD_ERROR, HERALD_ERR_FORMAT)) {
		/* A corrupt file cannot be retried: set it aside. */
		r = queue_move_bad(st->q, base, ".bak", local->message, error);
		g_error_free(local);
		return r;
	}
	if (r < 0) {
		g_propagate_error(error, local);
		(void)queue_unclaim(st->q, base, NULL);
		return -1;
	}
	r = st->cfg->handler(st->cfg->handler_ctx, st->q, item, &local);
	if (r == 0) {
		r = queue_finish(st->q, base, error);
	} else if (r == RUNNER_NOT_DUE) {
		/* Not yet (a retry waiting for its time): back, and since the
		 * queue is in time order, nothing after it is due either. */
		r = queue_unclaim(st->q, base, error) < 0 ? -1 : RUNNER_NOT_DUE;
	} else if (g_error_matches(local, HERALD_ERROR, HERALD_ERR_IO)) {
		/* The disk or the file server failed, not the message: give
		 * it back and let the master restart us after a backoff. */
		g_propagate_error(error, local);
		(void)queue_unclaim(st->q, base, NULL);
		r = -1;
	} else if (g_error_matches(local, HERALD_ERROR, HERALD_ERR_FORMAT)) {
		/* The handler found the message unusable (not a message at
		 * all, say): no retry can help, set it aside with why. */
		r = queue_move_bad(st->q, base, ".bak", local->message, error);
		g_clear_error(&local);
	} else {
		const char *why = local != NULL ? local->message
				: "handler failed without a reason";
		r = queue_shunt(st->q, item, why, error);
		if (r < 0) {
			/* Not even the shunt queue takes it: keep it where it
			 * is, for a later try. */
			log_error(RUNNER_SUBSYS, "%s/%s: %s; shunting failed too: "
				  "%s; left in the queue", queue_name(st->q), base,
				  why, (*error)->message);
			(void)queue_unclaim(st->q, base, NULL);
		}
		g_clear_error(&local);
	}
	queue_item_free(&item);
	return r;
}

/* One pass over the slice.  Returns the number of entries handled, -1 on a
 * queue error, or -2 when the lease was lost. */
static int
one_pass(struct runner_state *st, GError **error)
{
	const struct runner_config *cfg = st->cfg;
	GPtrArray *bases;
	int done = 0;

	if (queue_list(st->q, ".msg", cfg->slice, cfg->nslices, &bases, error) < 0)
		return -1;
	for (guint i = 0; i < bases->len && !stopping(st); i++) {
		if (lease_lost(st, FALSE)) {
			done = -2;
			break;
		}
		if (tick(st, error) < 0) {
			done = -1;
			break;
		}
		int r = handle_one(st, bases->pdata[i], error);

		if (r < 0) {
			done = -1;
			break;
		}
		if (r == RUNNER_NOT_DUE)
			break;
		done++;
	}
	g_ptr_array_free(bases, TRUE);
	return done;
}

static void
wait_idle(struct runner_state *st)
{
	struct pollfd pfd = { .fd = st->inotify_fd, .events = POLLIN };
	char buf[4096];

	if (st->inotify_fd < 0) {
		g_usleep((gulong)st->cfg->poll_ms * 1000);
		return;
	}
	if (poll(&pfd, 1, st->cfg->poll_ms) > 0)
		while (read(st->inotify_fd, buf, sizeof buf) > 0)
			;	/* drain: the next listing sees everything */
}

int
runner_run(const struct runner_config *cfg, GError **error)
{
	struct runner_state st = { .cfg = cfg, .inotify_fd = -1 };
	int recovered, ret = 0;

	st.q = queue_open(cfg->var_dir, cfg->queue, error);
	if (st.q == NULL)
		return -1;
	if (lease_lost(&st, TRUE)) {
		queue_close(&st.q);
		return 1;
	}
	recovered = queue_recover(st.q, cfg->slice, cfg->nslices, error);
	if (recovered < 0) {
		queue_close(&st.q);
		return -1;
	}
	log_info(RUNNER_SUBSYS, "runner %s slice %u/%u started (%d recovered)",
		 cfg->queue, cfg->slice, cfg->nslices, recovered);
	st.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (st.inotify_fd >= 0 &&
	    inotify_add_watch(st.inotify_fd, queue_dir(st.q),
			      IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		close(st.inotify_fd);
		st.inotify_fd = -1;
	}
	while (!stopping(&st)) {
		int n = one_pass(&st, error);

		if (n == -1) {
			ret = -1;
			break;
		}
		if (n == -2 || lease_lost(&st, FALSE)) {
			log_error(RUNNER_SUBSYS, "runner %s slice %u/%u: lease "
				  "lost, stopping", cfg->queue, cfg->slice,
				  cfg->nslices);
			ret = 1;
			break;
		}
		if (cfg->once)
			break;
		if (n == 0)
			wait_idle(&st);
		if (tick(&st, error) < 0) {
			ret = -1;
			break;
		}
	}
	if (ret == -1)
		log_error(RUNNER_SUBSYS, "runner %s slice %u/%u: %s", cfg->queue,
			  cfg->slice, cfg->nslices, (*error)->message);
	if (st.inotify_fd >= 0)
		close(st.inotify_fd);
	queue_close(&st.q);
	return ret;
}
