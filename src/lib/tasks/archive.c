/*
 * archive.c - the task archive.gzip: on every list with an archive,
 * compresses the text archive (PERIOD.txt) of each period that has ended
 * to PERIOD.txt.gz, as Mailman's nightly_gzip did; a period that got a
 * late message since is compressed again.  Archives are reached only
 * through archive/archive.h.
 */
#include "tasks/tasks.h"
#include "archive/archive.h"
#include "base/base.h"
#include "list/list.h"

#include <time.h>
#include <unistd.h>

struct gzip_ctx {
	int64_t now;
	int periods, lists;
};

static int
gzip_list(struct list *l, void *p, GError **error)
{
	struct gzip_ctx *c = p;
	char *store = g_build_filename(site_var_dir(list_site(l)), "archives",
				       list_fqdn(l), NULL);
	struct archive *a = NULL;
	int n = 0, r = 0;

	/* A list that never archived anything has no store to open. */
	if (access(store, F_OK) == 0) {
		if ((a = archive_open(l, error)) == NULL ||
		    archive_gzip_old(a, c->now, &n, error) < 0)
			r = -1;
		c->periods += n;
		c->lists += n > 0;
	}
	archive_free(&a);
	g_free(store);
	return r;
}

static int
archive_gzip_all(struct site *site, struct task_run *ctx, GError **error)
{
	struct gzip_ctx c = { .now = (int64_t)time(NULL) };
	int r = task_for_each_list(site, gzip_list, &c, error);

	task_run_message(ctx, "%d period%s compressed on %d list%s", c.periods,
			 c.periods == 1 ? "" : "s", c.lists, c.lists == 1 ? "" : "s");
	return r;
}

const struct task task_archive_gzip = {
	.name = "archive.gzip",
	.default_schedule = "daily 03:27",
	.doc = "Compresses the text archive of every ended period of every "
	       "list's archive to PERIOD.txt.gz (Mailman's nightly_gzip).",
	.run = archive_gzip_all,
};
