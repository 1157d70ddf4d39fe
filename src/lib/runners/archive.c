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
#include "archive/archive.h"
#include "base/base.h"
#include "base/log.h"
#include "list/list.h"
#include "mail/message.h"
#include "store/names.h"
#include "store/site.h"

#include <string.h>

#define SUBSYS "archive"

/* Bytes of posts kept for the end of the batch, at most: past it they are
 * archived at once. */
#define ARCHIVE_BATCH_BYTES (8 << 20)

/* The posts of one list waiting for the end of the batch. */
struct list_batch {
	struct list *list;
	GArray *posts;		/* struct archive_post, msg and key owned */
};

struct archive_runner {
	struct site *site;
	GHashTable *lists;	/* fqdn -> struct list_batch */
	size_t bytes;
};

static void
list_batch_free(gpointer p)
{
	struct list_batch *lb = p;

	for (guint i = 0; i < lb->posts->len; i++) {
		struct archive_post *pp = &g_array_index(lb->posts, struct archive_post, i);

		g_free((char *)pp->msg);
		g_free((char *)pp->key);
	}
	g_array_free(lb->posts, TRUE);
	list_free(&lb->list);
	g_free(lb);
}

static void *
archive_runner_open(struct site *site, const char *queue, GError **error)
{
	struct archive_runner *ar = g_new0(struct archive_runner, 1);

	ar->site = site;
	ar->lists = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					  list_batch_free);
	return ar;
}

static void
archive_runner_close(void *ctx)
{
	struct archive_runner *ar = ctx;

	g_hash_table_destroy(ar->lists);
	g_free(ar);
}

/* Archives every list's waiting posts.  Kept when it fails, for the
 * runner's own flush to try once more (and drop, if that fails too). */
static int
archive_waiting(struct archive_runner *ar, GError **error)
{
	GHashTableIter it;
	gpointer fqdn, value;

	g_hash_table_iter_init(&it, ar->lists);
	while (g_hash_table_iter_next(&it, &fqdn, &value)) {
		struct list_batch *lb = value;
		struct archive *a = archive_open(lb->list, error);
		int r = a == NULL ? -1 : archive_add_batch(a, (struct archive_post *)
							   lb->posts->data,
							   lb->posts->len, error);

		archive_free(&a);
		if (r < 0) {
			g_prefix_error(error, "archive of %s: ", (char *)fqdn);
			return -1;
		}
		log_info(SUBSYS, "%s: %d of %u posts archived in one commit%s",
			 (char *)fqdn, r, lb->posts->len,
			 (guint)r < lb->posts->len ? " (the others were already)" : "");
		g_hash_table_iter_remove(&it);
	}
	ar->bytes = 0;
	return 0;
}

/* The end of the runner's batch: what waits is archived before the
 * entries are finished, or dropped with them given back. */
static int
archive_flush(void *ctx, GError **error)
{
	struct archive_runner *ar = ctx;
	int r = archive_waiting(ar, error);

	g_hash_table_remove_all(ar->lists);
	ar->bytes = 0;
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
	struct archive_runner *ar = ctx;
	const char *fqdn = queue_meta_get(item->meta, META_LIST);
	int64_t received = queue_meta_get_int(item->meta, META_RECEIVED, 0) / 1000000;
	struct list_batch *lb;
	struct list *l;
	GError *e = NULL;
	int out = 0;

	if (fqdn == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT, "no list in metadata");
		return -1;
	}
	if ((lb = g_hash_table_lookup(ar->lists, fqdn)) != NULL) {
		l = lb->list;
	} else if ((l = list_open(ar->site, fqdn, &e)) == NULL) {
		if (g_error_matches(e, HERALD_ERROR, HERALD_ERR_NOTFOUND)) {
			log_warning(SUBSYS, "%s: no such list, post %s dropped", fqdn, item->base);
			g_error_free(e);
			return 0;
		}
		g_propagate_error(error, e);
		return -1;
	}
	if (!list_get_bool(l, "archive") ||
	    (out = opted_out(item->msg, item->msg_len, error)) != 0) {
		if (lb == NULL)
			list_free(&l);
		return out < 0 ? -1 : 0;	/* unreadable: to bad/ */
	}
	if (lb == NULL) {
		lb = g_new0(struct list_batch, 1);
		lb->list = l;
		lb->posts = g_array_new(FALSE, TRUE, sizeof(struct archive_post));
		g_hash_table_insert(ar->lists, g_strdup(fqdn), lb);
	}
	struct archive_post post = {
		.msg = g_memdup2(item->msg, item->msg_len),
		.len = item->msg_len,
		.key = g_strdup(item->base),
		.check_key = queue_meta_get_int(item->meta, META_BAK_COUNT, 0) > 0,
		.received = received > 0 ? received : now_usec() / 1000000,
	};
	g_array_append_val(lb->posts, post);
	ar->bytes += item->msg_len;
	/* The disk, not the post: give it back and try again later (the
	 * posts before it wait on, for the runner's flush). */
	if (ar->bytes > ARCHIVE_BATCH_BYTES && archive_waiting(ar, &e) < 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "%s", e->message);
		g_error_free(e);
		return -1;
	}
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
