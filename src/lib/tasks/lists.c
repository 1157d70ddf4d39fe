/*
 * lists.c - a task's run over every list of the site (tasks.h:
 * task_for_each_list), shared by the tasks that work list by list.
 */
#include "tasks/tasks.h"
#include "base/base.h"
#include "base/log.h"
#include "list/list.h"

int
task_for_each_list(struct site *site,
		   int (*fn)(struct list *l, void *ctx, GError **error),
		   void *ctx, GError **error)
{
	GPtrArray *names = list_all(site, error);
	GError *first = NULL;
	int failed = 0;

	if (names == NULL)
		return -1;
	for (guint i = 0; i < names->len; i++) {
		const char *fqdn = names->pdata[i];
		GError *local = NULL;
		struct list *l = list_open(site, fqdn, &local);

		if (l == NULL || fn(l, ctx, &local) < 0) {
			log_error(TASKS_SUBSYS, "list %s: %s", fqdn, local->message);
			if (first == NULL)
				g_propagate_prefixed_error(&first, local, "list %s: ",
							   fqdn);
			else
				g_clear_error(&local);
			failed++;
		}
		list_free(&l);
	}
	g_ptr_array_free(names, TRUE);
	if (first == NULL)
		return 0;
	g_propagate_prefixed_error(error, first, "%d list%s failed, the first: ",
				   failed, failed == 1 ? "" : "s");
	return -1;
}
