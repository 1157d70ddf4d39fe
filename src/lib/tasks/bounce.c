/*
 * bounce.c - the daily task of bounce processing, Mailman 2.1's
 * cron/disabled:
 *
 *   bounce.disabled   for each list, the next warning to each member whose
 *                     delivery bounce processing disabled, once
 *                     bounce_you_are_disabled_warnings_interval days have
 *                     passed since the last; removal of those with no
 *                     warning left; reset of stale bounce information
 *                     (bounce/process.h: bounce_run_disabled).
 *
 * Times are this host's clock, time(NULL), as process.c stamps them.
 */
#include "tasks/tasks.h"
#include "bounce/process.h"
#include "list/list.h"

#include <time.h>

struct count {
	int64_t now;
	int warned, removed;
};

static int
disabled_list(struct list *l, void *ctx, GError **error)
{
	struct count *c = ctx;
	int warned = 0, removed = 0;

	if (bounce_run_disabled(l, c->now, &warned, &removed, error) < 0)
		return -1;
	c->warned += warned;
	c->removed += removed;
	return 0;
}

static int
bounce_disabled(struct site *site, struct task_run *ctx, GError **error)
{
	struct count c = { .now = time(NULL) };
	int ret = task_for_each_list(site, disabled_list, &c, error);

	task_run_message(ctx, "%d warning%s sent, %d member%s removed", c.warned,
			 c.warned == 1 ? "" : "s", c.removed,
			 c.removed == 1 ? "" : "s");
	return ret;
}

const struct task task_bounce_disabled = {
	.name = "bounce.disabled",
	.default_schedule = "daily 09:00",
	.doc = "Sends the next warning to each member whose delivery bounce "
	       "processing disabled, every bounce_you_are_disabled_warnings_"
	       "interval days, removes those warned "
	       "bounce_you_are_disabled_warnings times, and forgets stale "
	       "bounce information (Mailman's cron/disabled).",
	.run = bounce_disabled,
};
