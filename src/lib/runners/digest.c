/*
 * digest.c - the digest queue's runner: each post the pipeline's todigest
 * handler copied there is added to its list's pending digest
 * (digest/store.c), and the digest is sent at once when the pending size
 * reaches the list's digest_size_threshhold (KB; 0: never by size).
 *
 * The posts of a runner batch are stored together at its end
 * (digest_append_batch, from the runner's flush), before their entries
 * are finished: a crash between the two hands the entries over again, and the
 * store finds its name taken (or its Message-ID, for a second copy the
 * pipeline made).  A send that fails is logged and left to
 * the next post or to the task digest.send (Mailman's senddigests): the
 * post is in the pending digest either way, and a digest that cannot go
 * now must not stop the posts that follow.  A send that finds another
 * process sending (the list's digest lock) does not wait for it.
 */
#include "runners/runners.h"
#include "runners/waiting.h"
#include "base/base.h"
#include "base/log.h"
#include "digest/digest.h"
#include "list/list.h"
#include "mail/message.h"
#include "store/names.h"

#include <time.h>

static void
send_by_size(struct list *l, uint64_t bytes)
{
	int64_t kb = list_get_int(l, "digest_size_threshhold");
	struct digest_sent sent;
	GError *e = NULL;

	if (kb <= 0 || bytes < (uint64_t)kb * 1024)
		return;
	if (digest_send(l, time(NULL), (uint64_t)kb * 1024, 0, &sent, &e) < 0) {
		log_error(DIGEST_SUBSYS, "list %s: sending the digest: %s "
			  "(the task digest.send tries again)", list_fqdn(l), e->message);
		g_error_free(e);
	}
}

/* The post's Message-ID (NULL: none), which the store keys duplicates
 * by: read from the message, since the pipeline copies a post to the
 * digest queue before it records the header in the metadata. */
static char *
post_message_id(const struct queue_item *item)
{
	GMimeMessage *msg = message_parse_stored(item->msg, item->msg_len, NULL);
	char *id = NULL;

	if (msg != NULL) {
		id = g_strdup(message_header(msg, "Message-ID"));
		g_object_unref(msg);
	}
	return id;
}

/* Adds one list's waiting posts to its pending digest, then sends it if
 * it is big enough. */
static int
digest_list(struct waiting_list *wl, void *ctx, GError **error)
{
	struct digest_post *posts = g_new0(struct digest_post, wl->posts->len);
	uint64_t bytes = 0;
	GError *e = NULL;
	int r;

	for (guint i = 0; i < wl->posts->len; i++) {
		const struct waiting_post *wp = wl->posts->pdata[i];

		posts[i] = (struct digest_post) {
			.name = wp->base, .message_id = wp->extra,
			.msg = wp->msg, .len = wp->len,
		};
	}
	r = digest_append_batch(wl->list, posts, wl->posts->len, &bytes, &e);
	for (guint i = 0; r >= 0 && i < wl->posts->len; i++)
		if (!posts[i].added)
			log_info(DIGEST_SUBSYS, "list %s: post %s is in a digest already",
				 list_fqdn(wl->list),
				 ((struct waiting_post *)wl->posts->pdata[i])->base);
	g_free(posts);
	if (r < 0) {
		/* The list lock held too long is no fault of the posts: they
		 * go back to the queue, as after a failed disk (Mailman lost
		 * such posts). */
		if (e->domain == HERALD_ERROR && e->code == HERALD_ERR_TIMEOUT)
			e->code = HERALD_ERR_IO;
		g_prefix_error(&e, "digest of %s: ", list_fqdn(wl->list));
		g_propagate_error(error, e);
		return -1;
	}
	send_by_size(wl->list, bytes);
	return 0;
}

/* The end of the runner's batch: the posts waiting are stored before
 * their entries are finished, or dropped with the entries given back. */
static int
digest_flush(void *ctx, GError **error)
{
	int r = waiting_each(ctx, digest_list, NULL, error);

	waiting_clear(ctx);
	return r;
}

/* Each post waits for the end of the runner's batch (digest_flush): a
 * burst of posts takes the list lock once and syncs the directory once. */
static int
handle_digest(void *ctx, struct queue *q, struct queue_item *item,
	      GError **error)
{
	struct waiting *w = ctx;
	const char *fqdn = queue_meta_get(item->meta, META_LIST);
	struct waiting_list *wl;
	GError *e = NULL;

	if (fqdn == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "a digest entry without a list");
		return -1;
	}
	if (!digest_post_name_ok(item->base)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "'%s' is no name for a digest post", item->base);
		return -1;
	}
	/* Enough kept: stored before this one is taken.  A failure is the
	 * disk's or the lock's, not the post's: it goes back (those before
	 * it wait on, for the flush). */
	if (waiting_bytes(w) > 0 &&
	    waiting_bytes(w) + item->msg_len > WAITING_MAX_BYTES &&
	    waiting_each(w, digest_list, NULL, &e) < 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "%s", e->message);
		g_error_free(e);
		return -1;
	}
	if ((wl = waiting_list(w, fqdn, &e)) == NULL) {
		if (!g_error_matches(e, HERALD_ERROR, HERALD_ERR_NOTFOUND)) {
			g_propagate_error(error, e);
			return -1;
		}
		log_info(DIGEST_SUBSYS, "list %s is gone: its post %s is dropped",
			 fqdn, item->base);
		g_error_free(e);
		return 0;
	}
	waiting_add(w, wl, item, post_message_id(item));
	return RUNNER_DEFERRED;
}

static void *
digest_open(struct site *site, const char *queue, GError **error)
{
	return waiting_new(site);
}

static void
digest_close(void *ctx)
{
	struct waiting *w = ctx;

	waiting_free(&w);
}

const struct runner_kind runner_digest = {
	.name = "digest",
	.init_queue = QUEUE_DIGEST,
	.init_nice = 10,
	.doc = "posts into their list's pending digest; the digest is sent "
	       "when it reaches digest_size_threshhold.",
	.open = digest_open,
	.close = digest_close,
	.handle = handle_digest,
	.flush = digest_flush,
};
