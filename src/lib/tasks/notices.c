/*
 * notices.c - the task members.notices: sends the notices that rosters
 * still owe (list/subscribe.h, "Owed notices").  The web service's sender
 * thread sends what its API adds owe within moments; this task sends
 * what it left: the service died or was stopped first, or storing failed.
 * A list whose roster owes nothing costs a read of its change log.
 */
#include "tasks/tasks.h"
#include "list/list.h"
#include "list/subscribe.h"

struct owed_sweep {
	unsigned lists, sent;
};

static int
send_list(struct list *l, void *ctx, GError **error)
{
	struct owed_sweep *sw = ctx;
	guint sent = 0;
	int ret = subscribe_send_owed(l, &sent, error);

	sw->lists += sent > 0;
	sw->sent += sent;
	return ret;
}

static int
notices_send_all(struct site *site, struct task_run *ctx, GError **error)
{
	struct owed_sweep sw = { 0 };
	int r = task_for_each_list(site, send_list, &sw, error);

	task_run_message(ctx, "%u owed notice%s sent on %u list%s", sw.sent,
			 sw.sent == 1 ? "" : "s", sw.lists,
			 sw.lists == 1 ? "" : "s");
	return r;
}

const struct task task_members_notices = {
	.name = "members.notices",
	.default_schedule = "every 2m",
	.doc = "Sends the welcomes and owners' notices that the members added "
	       "through the REST API are still owed (the web service sends "
	       "them at once; this sends what it could not).",
	.run = notices_send_all,
};
