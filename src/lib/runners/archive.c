/*
 * archive.c - the archive runner: each post of the archive queue (copied
 * there by the pipeline's toarchive) goes into its list's archive
 * (archive/archive.h): the mbox, the pages, the search index.
 *
 * A post is archived once: the queue entry's name is the key the archive
 * keeps with it, and an entry claimed again after a crash (its bak-count
 * is not 0) is looked up by that key before it is added.  A list that has
 * archive off, or a post marked X-No-Archive or "X-Archive: no", is
 * dropped (the pipeline checks too; a setting may change in between).  A
 * list that no longer exists drops its posts, logged.
 */
#include "runners/runners.h"
#include "archive/archive.h"
#include "base/base.h"
#include "base/log.h"
#include "list/list.h"
#include "mail/message.h"
#include "store/names.h"
#include "store/site.h"

#include <string.h>

#define SUBSYS "archive"

static void *
archive_runner_open(struct site *site, const char *queue, GError **error)
{
	return site;
}

/* Whether the post asks not to be archived. */
static gboolean
opted_out(const char *msg, size_t len)
{
	GMimeMessage *m = message_parse_stored(msg, len, NULL);
	gboolean out = FALSE;

	if (m != NULL) {
		out = message_no_archive(m);
		g_object_unref(m);
	}
	return out;
}

static int
handle_archive(void *ctx, struct queue *q, struct queue_item *item,
	       GError **error)
{
	const char *fqdn = queue_meta_get(item->meta, META_LIST);
	int64_t received = queue_meta_get_int(item->meta, META_RECEIVED, 0) / 1000000;
	gboolean again = queue_meta_get_int(item->meta, META_BAK_COUNT, 0) > 0;
	struct archive *a = NULL;
	struct list *l;
	GError *e = NULL;
	int ret = -1;

	if (fqdn == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT, "no list in metadata");
		return -1;
	}
	if ((l = list_open(ctx, fqdn, &e)) == NULL) {
		if (g_error_matches(e, HERALD_ERROR, HERALD_ERR_NOTFOUND)) {
			log_warning(SUBSYS, "%s: no such list, post %s dropped", fqdn, item->base);
			g_error_free(e);
			return 0;
		}
		g_propagate_error(error, e);
		return -1;
	}
	if (!list_get_bool(l, "archive") || opted_out(item->msg, item->msg_len)) {
		ret = 0;
		goto out;
	}
	if ((a = archive_open(l, error)) == NULL)
		goto out;
	if (archive_add(a, item->msg, item->msg_len, item->base, again,
			received > 0 ? received : now_usec() / 1000000, NULL, error) >= 0)
		ret = 0;
	/* The disk, not the post: give it back and try again later. */
	else if (*error != NULL && (*error)->domain == HERALD_ERROR &&
		 (*error)->code != HERALD_ERR_FORMAT)
		(*error)->code = HERALD_ERR_IO;
out:
	archive_free(&a);
	list_free(&l);
	return ret;
}

const struct runner_kind runner_archive = {
	.name = "archive",
	.init_queue = QUEUE_ARCHIVE,
	.init_nice = 10,
	.doc = "the list archives: mbox, HTML pages, search (docs/archive.md).",
	.open = archive_runner_open,
	.handle = handle_archive,
};
