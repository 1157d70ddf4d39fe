/*
 * pending.c - the task pending.expire: removes the pending requests whose
 * confirmation did not come within pending.request_life (Mailman's
 * PENDING_REQUEST_LIFE), on every list, and gives back claims left by a
 * confirmation that died.  Requests are reached only through
 * list/pending.h.
 */
#include "tasks/tasks.h"
#include "base/base.h"
#include "base/log.h"
#include "list/list.h"
#include "list/pending.h"

#include <time.h>

static int
pending_expire_all(struct site *site, struct task_run *ctx, GError **error)
{
	GPtrArray *names = list_all(site, error);
	int64_t now = (int64_t)time(NULL);
	guint removed = 0, lists = 0, failed = 0;
	GError *first = NULL;

	if (names == NULL)
		return -1;
	for (guint i = 0; i < names->len; i++) {
		GError *local = NULL;
		struct list *l = list_open(site, names->pdata[i], &local);
		guint n = 0;

		if (l == NULL || pending_expire(l, now, &n, &local) < 0) {
			log_error(TASKS_SUBSYS, "list %s: %s",
				  (char *)names->pdata[i], local->message);
			if (first == NULL)
				g_propagate_prefixed_error(&first, local, "list %s: ",
							   (char *)names->pdata[i]);
			else
				g_error_free(local);
			failed++;
		}
		removed += n;
		lists += n > 0;
		list_free(&l);
	}
	g_ptr_array_free(names, TRUE);
	task_run_message(ctx, "%u expired request%s removed on %u list%s",
			 removed, removed == 1 ? "" : "s", lists,
			 lists == 1 ? "" : "s");
	if (first == NULL)
		return 0;
	g_propagate_prefixed_error(error, first, "%u list%s failed, the first: ",
				   failed, failed == 1 ? "" : "s");
	return -1;
}

const struct task task_pending_expire = {
	.name = "pending.expire",
	.default_schedule = "hourly :17",
	.doc = "Removes the pending requests (subscriptions, unsubscriptions, "
	       "invitations, hold notices' confirm tokens) not confirmed within "
	       "pending.request_life, and gives back claims left by a "
	       "confirmation that died.",
	.run = pending_expire_all,
};
