/*
 * web.c - the task web.sessions: removes the web interface's expired
 * sessions, spent login links and stale login counters (web/session.h)
 * from the var dir, so that web/ does not grow with every login.
 */
#include "tasks/tasks.h"
#include "web/session.h"

#include <time.h>

static int
web_sessions_sweep(struct site *site, struct task_run *ctx, GError **error)
{
	guint n = session_sweep(site, (int64_t)time(NULL));

	task_run_message(ctx, "%u expired session file%s removed", n,
			 n == 1 ? "" : "s");
	return 0;
}

const struct task task_web_sessions = {
	.name = "web.sessions",
	.default_schedule = "hourly :41",
	.doc = "Removes the web interface's expired sessions, used login "
	       "links and stale counters of failed logins.",
	.run = web_sessions_sweep,
};
