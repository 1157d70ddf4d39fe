/*
 * registry.c - the table of periodic tasks (tasks.h).  One row a task;
 * docs/scheduler.md describes each.
 */
#include "tasks/tasks.h"

#include <string.h>

extern const struct task task_held_expire;	/* held.c */
extern const struct task task_held_summary;	/* held.c */
extern const struct task task_bounce_disabled;	/* bounce.c */
extern const struct task task_pending_expire;	/* pending.c */
extern const struct task task_archive_gzip;	/* archive.c */
extern const struct task task_digest_send;	/* digest.c */
extern const struct task task_news_gate;	/* news.c */
extern const struct task task_members_notices;	/* notices.c */

const struct task *const tasks[] = {
	&task_held_expire,
	&task_held_summary,
	&task_bounce_disabled,
	&task_pending_expire,
	&task_archive_gzip,
	&task_digest_send,
	&task_news_gate,
	&task_members_notices,
	NULL,
};

const struct task *
task_find(const char *name)
{
	for (const struct task *const *t = tasks; *t != NULL; t++)
		if (strcmp((*t)->name, name) == 0)
			return *t;
	return NULL;
}
