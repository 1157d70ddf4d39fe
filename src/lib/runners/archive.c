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
 *
 * Posts are archived at the end of the runner's batch (runner_flush_fn),
 * a list's posts of the batch together (archive_add_batch): before their
 * entries are finished, so a crash redoes them, found by their keys.  A
 * failure then gives the whole batch back, to be tried again after the
 * master's backoff: an archive the disk or a damaged store keeps from
 * growing holds its posts in the queue, to be archived once it is
 * mended.
 */
#include "runners/runners.h"
#include "runners/waiting.h"
#include "archive/archive.h"
#include "base/base.h"
#include "base/log.h"
#include "list/list.h"
#include "mail/message.h"
#include "store/names.h"
#include "store/site.h"

#include <string.h>

#define SUBSYS "archive"

/* Archives one list's waiting posts in one batch. */
static int
archive_list(struct waiting_list *wl, void *ctx, GError **error)
{
	struct archive_post *posts = g_new0(struct archive_post, wl->posts->len);
	struct archive *a = archive_open(wl->list, error);
	int r = -1;

	for (guint i = 0; i < wl->posts->len; i++) {
		const struct waiting_post *wp = wl->posts->pdata[i];

		posts[i] = (struct archive_post) {
			.msg = wp->msg, .len = wp->len, .key = wp->base,
			.check_key = wp->again, .received = wp->received,
		};
	}
	if (a != NULL)
		r = archive_add_batch(a, posts, wl->posts->len, error);
	if (r < 0)
		g_prefix_error(error, "archive of %s: ", list_fqdn(wl->list));
	else
		log_info(SUBSYS, "%s: %d of %u posts archived in one commit%s",
			 list_fqdn(wl->list), r, wl->posts->len,
			 (guint)r < wl->posts->len ? " (the others were already)" : "");
	archive_free(&a);
	g_free(posts);
	return r < 0 ? -1 : 0;
}

static void *
archive_runner_open(struct site *site, const char *queue, GError **error)
{
	return waiting_new(site);
}

static void
archive_runner_close(void *ctx)
{
	struct waiting *w = ctx;

	waiting_free(&w);
}

/* The end of the runner's batch: what waits is archived before the
 * entries are finished, or dropped with them given back. */
static int
archive_flush(void *ctx, GError **error)
{
	int r = waiting_each(ctx, archive_list, NULL, error);

	waiting_clear(ctx);
	return r;
}

/* Whether the post asks not to be archived; -1 when it cannot be read. */
static int
opted_out(const char *msg, size_t len, GError **error)
{
	GMimeMessage *m = message_parse_stored(msg, len, error);
	int out;

	if (m == NULL)
		return -1;
	out = message_no_archive(m);
	g_object_unref(m);
	return out;
}

/* Each post waits for the end of the runner's batch (archive_flush), so
 * that a burst of posts pays for one lock, one commit and one set of
 * index pages, not one each. */
static int
handle_archive(void *ctx, struct queue *q, struct queue_item *item,
	       GError **error)
{
	struct waiting *w = ctx;
	const char *fqdn = queue_meta_get(item->meta, META_LIST);
	struct waiting_list *wl;
	GError *e = NULL;
	int out = 0;

	if (fqdn == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT, "no list in metadata");
		return -1;
	}
	/* Enough kept: archived before this one is taken.  A failure is the
	 * disk's, not the post's: it goes back, to be tried again later
	 * (those before it wait on, for the runner's flush). */
	if (waiting_bytes(w) > 0 &&
	    waiting_bytes(w) + item->msg_len > WAITING_MAX_BYTES &&
	    waiting_each(w, archive_list, NULL, &e) < 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "%s", e->message);
		g_error_free(e);
		return -1;
	}
	if ((wl = waiting_list(w, fqdn, &e)) == NULL) {
		if (g_error_matches(e, HERALD_ERROR, HERALD_ERR_NOTFOUND)) {
			log_warning(SUBSYS, "%s: no such list, post %s dropped", fqdn, item->base);
			g_error_free(e);
			return 0;
		}
		g_propagate_error(error, e);
		return -1;
	}
	if (!list_get_bool(wl->list, "archive") ||
	    (out = opted_out(item->msg, item->msg_len, error)) != 0) {
		waiting_list_unused(w, fqdn);
		return out < 0 ? -1 : 0;	/* unreadable: to bad/ */
	}
	waiting_add(w, wl, item, NULL);
	return RUNNER_DEFERRED;
}

const struct runner_kind runner_archive = {
	.name = "archive",
	.init_queue = QUEUE_ARCHIVE,
	.init_nice = 10,
	.doc = "the list archives: mbox, HTML pages, search (docs/archive.md).",
	.open = archive_runner_open,
	.close = archive_runner_close,
	.handle = handle_archive,
	.flush = archive_flush,
};
