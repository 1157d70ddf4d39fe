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
 * Finishing is a group commit: the entries the handler is done with stay
 * claimed until the runner's batch (queue.h), which holds their output,
 * is stored, and are then unlinked together.  A crash in between leaves
 * them claimed, to be redone: duplicates at worst, never a loss (the
 * argument is in docs/formats.md, "Durability").  A kind that puts work
 * off to the end of a batch (runner_flush_fn) does it just before the
 * batch is stored, so it too is done before its entries are finished.
 *
 * Idle runners sleep in poll() on an inotify descriptor for their queue
 * directory, so a message enqueued on this host is picked up at once.
 * Other NFS hosts' writes raise no inotify event here: the poll timeout
 * (master.poll_interval) bounds how late they are seen.
 */
#include "store/runner.h"
#include "base/base.h"
#include "base/log.h"
#include "store/names.h"

#include <errno.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#define RUNNER_SUBSYS "runner"
#define LEASE_CHECK_US 1000000	/* how often the lease is checked, at most */

/* Group commit: a batch is committed once it holds this many handled
 * entries, or its first was handled this long ago, or the listing is done
 * (or the runner must stop or tick).  Bigger batches share one directory
 * fsync among more entries; the bound keeps a claimed entry from waiting
 * long for its output to become visible downstream.  A runner starts with
 * batches of one entry and doubles them at each commit: one that keeps
 * being killed (its host short of memory, say) still gets entries done,
 * instead of redoing the same batch and striking the same entry until it
 * goes to bad/ as a poison message. */
#define RUNNER_BATCH_MAX 32
#define RUNNER_BATCH_FILES 128	/* files open in one batch, at most */
#define RUNNER_BATCH_US 100000

struct runner_state {
	const struct runner_config *cfg;
	struct queue *q;
	int inotify_fd;
	int64_t lease_checked;
	int64_t ticked;
	struct queue_batch *batch;	/* the handlers' output not yet stored */
	GPtrArray *done;		/* claimed entries finished at commit */
	int64_t batch_started;		/* monotonic time of done's first */
	guint batch_max;		/* entries in a batch, at most: 1, 2, 4... */
	gboolean deferred;		/* the handler put work off to the flush */
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

/* Whether it is time for the configuration's tick (picking up changed
 * settings): at most once a second, between messages. */
static gboolean
tick_due(const struct runner_state *st)
{
	return st->cfg->tick != NULL &&
	       g_get_monotonic_time() - st->ticked >= LEASE_CHECK_US;
}

static int
tick(struct runner_state *st, GError **error)
{
	if (!tick_due(st))
		return 0;
	st->ticked = g_get_monotonic_time();
	return st->cfg->tick(st->cfg->tick_ctx, error);
}

/* Makes the batch durable, then finishes the entries whose output it
 * holds.  When the commit fails, those entries go back to the queue
 * untouched (no strike): redone later, their output is a duplicate at
 * worst, never lost.  -1 with *error as for a handler's I/O error. */
static int
commit(struct runner_state *st, GError **error)
{
	GError *local = NULL;
	int ret = 0;

	if (queue_batch_size(st->batch) == 0 && st->done->len == 0)
		return 0;
	if ((st->done->len > 0 && st->cfg->flush != NULL &&
	     st->cfg->flush(st->cfg->handler_ctx, &local) < 0) ||
	    queue_batch_commit(st->batch, &local) < 0) {
		queue_batch_rollback(st->batch, 0);
		for (guint i = 0; i < st->done->len; i++)
			(void)queue_unclaim(st->q, st->done->pdata[i], NULL);
		g_propagate_error(error, local);
		ret = -1;
	} else {
		if (st->done->len > 0)
			st->batch_max = MIN(st->batch_max * 2, RUNNER_BATCH_MAX);
		for (guint i = 0; i < st->done->len; i++) {
			if (queue_finish(st->q, st->done->pdata[i], &local) == 0)
				continue;
			/* Left claimed: recovery redoes it (a duplicate). */
			if (ret == 0)
				g_propagate_error(error, local);
			else
				g_clear_error(&local);
			ret = -1;
		}
	}
	g_ptr_array_set_size(st->done, 0);
	st->deferred = FALSE;
	return ret;
}

/* commit() once the batch is big or old enough, or at once when it holds
 * no output (queue entries, or work the handler put off): then nothing
 * waits for an fsync, and an entry whose handler
 * had an effect outside the queues (delivery to the members) must not stay
 * claimed, to be redone after a crash, any longer than before. */
static int
commit_if_due(struct runner_state *st, GError **error)
{
	if ((queue_batch_size(st->batch) > 0 || st->deferred) &&
	    st->done->len < st->batch_max &&
	    queue_batch_size(st->batch) < RUNNER_BATCH_FILES &&
	    (st->done->len == 0 ||
	     g_get_monotonic_time() - st->batch_started < RUNNER_BATCH_US))
		return 0;
	return commit(st, error);
}

/* The members of a bundle (queue.h), each handled as an entry of its own,
 * with one outcome for the bundle: done once every member is done or
 * stored alone again.  A member whose handler did not finish it (not due,
 * unusable, failed) is written back to the queue as an entry of its own,
 * in the batch, to meet the usual fate when handled next: a retry later,
 * bad/, the shunt queue.  An I/O error gives the whole bundle back (its
 * members done so far are redone: duplicates at worst).  A bundle that
 * came back from a crash (a strike against it) is only split into its
 * members: a member that kills the runner then strikes out alone. */
static int
handle_bundle(struct runner_state *st, struct queue_item *item, GError **error)
{
	gboolean split = queue_meta_get_int(item->meta, META_BAK_COUNT, 0) > 0;
	GPtrArray *members;
	GError *local = NULL;
	int ret = 0;

	if (queue_bundle_members(item, &members, error) < 0)
		return -1;
	for (guint i = 0; i < members->len && ret == 0; i++) {
		struct queue_item *m = members->pdata[i];
		guint mark = queue_batch_size(st->batch);
		int r = split ? 1 : st->cfg->handler(st->cfg->handler_ctx, st->q,
						      m, &local);

		if (r == RUNNER_DEFERRED)
			st->deferred = TRUE;
		if (r == 0 || r == RUNNER_DEFERRED)
			continue;
		queue_batch_rollback(st->batch, mark);
		if (r < 0 && g_error_matches(local, HERALD_ERROR, HERALD_ERR_IO)) {
			g_propagate_error(error, g_steal_pointer(&local));
			ret = -1;
		} else if (queue_enqueue_batched(st->q, m->meta, m->msg,
						 m->msg_len, NULL, error) < 0) {
			ret = -1;
		}
		g_clear_error(&local);
	}
	g_ptr_array_free(members, TRUE);
	return ret;
}

/* Claims and handles one entry.  Returns 0, or -1 when the environment
 * failed (the disk, the file server): the entry is then given back to the
 * queue untouched and the caller stops, to be restarted after a backoff.
 * An entry the handler is done with is finished by the next commit, with
 * the output the handler gave the batch; any other outcome drops that
 * output (a shunted or given-back entry is redone whole). */
static int
handle_one(struct runner_state *st, const char *base, GError **error)
{
	struct queue_item *item = NULL;
	GError *local = NULL;
	guint mark = queue_batch_size(st->batch);
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
	if (queue_item_is_bundle(item))
		r = handle_bundle(st, item, &local);
	else
		r = st->cfg->handler(st->cfg->handler_ctx, st->q, item, &local);
	if (r == RUNNER_DEFERRED) {
		st->deferred = TRUE;
		r = 0;
	}
	if (r == 0) {
		if (st->done->len == 0)
			st->batch_started = g_get_monotonic_time();
		g_ptr_array_add(st->done, g_strdup(base));
		queue_item_free(&item);
		return 0;
	}
	queue_batch_rollback(st->batch, mark);
	if (r == RUNNER_NOT_DUE) {
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
 * queue error, or -2 when the lease was lost.  Whatever way it ends, the
 * batch is committed first. */
static int
one_pass(struct runner_state *st, GError **error)
{
	const struct runner_config *cfg = st->cfg;
	GPtrArray *bases;
	GError *local = NULL;
	int done = 0;

	if (queue_list(st->q, ".msg", cfg->slice, cfg->nslices, &bases, error) < 0)
		return -1;
	for (guint i = 0; i < bases->len && !stopping(st); i++) {
		if (lease_lost(st, FALSE)) {
			done = -2;
			break;
		}
		/* A tick may swap the handler: its output so far is stored
		 * first. */
		if (tick_due(st) &&
		    (commit(st, error) < 0 || tick(st, error) < 0)) {
			done = -1;
			break;
		}
		int r = handle_one(st, bases->pdata[i], error);

		if (r < 0 || commit_if_due(st, error) < 0) {
			done = -1;
			break;
		}
		if (r == RUNNER_NOT_DUE)
			break;
		done++;
	}
	g_ptr_array_free(bases, TRUE);
	/* After an error the batch is still committed (its entries were
	 * handled); a failure then is logged, the first error reported. */
	if (commit(st, done == -1 ? &local : error) < 0) {
		if (done == -1) {
			log_error(RUNNER_SUBSYS, "runner %s slice %u/%u: %s",
				  cfg->queue, cfg->slice, cfg->nslices,
				  local->message);
			g_clear_error(&local);
		}
		done = -1;
	}
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
	st.batch = queue_batch_begin();
	st.batch_max = 1;
	st.done = g_ptr_array_new_with_free_func(g_free);
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
	queue_batch_end(&st.batch);	/* empty: every pass commits */
	g_ptr_array_free(st.done, TRUE);
	queue_close(&st.q);
	return ret;
}
