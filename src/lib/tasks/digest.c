/*
 * digest.c - the task digest.send, Mailman's cron/senddigests: each list
 * with digest_send_periodic and posts pending gets its digest now,
 * whatever their size; every list also gets any issue a dead sender left
 * unfinished (digest/send.c), periodic or not.
 *
 * "now" for the volume is this host's clock, time(NULL), as for the
 * runner's sends: volumes change at local midnight of the sending host,
 * and hosts' clocks agree to far better than a day.
 */
#include "tasks/tasks.h"
#include "base/base.h"
#include "digest/digest.h"
#include "list/list.h"

#include <time.h>

#define SEND_WAIT_MS 60000

struct sweep {
	guint lists, issues, posts;
};

static int
send_list(struct list *l, void *ctx, GError **error)
{
	struct sweep *sw = ctx;
	struct digest_sent sent;
	uint64_t min = list_get_bool(l, "digest_send_periodic") ? 0 : G_MAXUINT64;
	int r = digest_send(l, time(NULL), min, SEND_WAIT_MS, &sent, error);

	if (r == 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT,
			    "another process was sending its digest for %d s",
			    SEND_WAIT_MS / 1000);
		return -1;
	}
	sw->lists += sent.issues > 0;
	sw->issues += sent.issues;
	sw->posts += sent.posts;
	return r < 0 ? -1 : 0;
}

static int
digest_send_all(struct site *site, struct task_run *ctx, GError **error)
{
	struct sweep sw = { 0 };
	int r = task_for_each_list(site, send_list, &sw, error);

	task_run_message(ctx, "%u digest%s of %u post%s sent on %u list%s",
			 sw.issues, sw.issues == 1 ? "" : "s", sw.posts,
			 sw.posts == 1 ? "" : "s", sw.lists, sw.lists == 1 ? "" : "s");
	return r;
}

const struct task task_digest_send = {
	.name = "digest.send",
	.default_schedule = "daily 12:00",
	.doc = "Sends the pending digest of each list with digest_send_periodic, "
	       "whatever its size, and finishes any digest a dead sender left "
	       "(Mailman's senddigests).",
	.run = digest_send_all,
};
