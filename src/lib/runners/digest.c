/*
 * digest.c - the digest queue's runner: each post the pipeline's todigest
 * handler copied there is added to its list's pending digest
 * (digest/store.c), and the digest is sent at once when the pending size
 * reaches the list's digest_size_threshhold (KB; 0: never by size).
 *
 * The post is stored before the handler returns, so the entry is finished
 * only after: a crash between the two hands the entry over again, and the
 * store finds its name taken (or its Message-ID, for a second copy the
 * pipeline made).  A send that fails is logged and left to
 * the next post or to the task digest.send (Mailman's senddigests): the
 * post is in the pending digest either way, and a digest that cannot go
 * now must not stop the posts that follow.  A send that finds another
 * process sending (the list's digest lock) does not wait for it.
 */
#include "runners/runners.h"
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

static int
handle_digest(void *ctx, struct queue *q, struct queue_item *item,
	      GError **error)
{
	struct site *site = ctx;
	const char *fqdn = queue_meta_get(item->meta, META_LIST);
	struct list *l;
	uint64_t bytes = 0;
	char *message_id;
	GError *e = NULL;
	int r;

	if (fqdn == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "a digest entry without a list");
		return -1;
	}
	if ((l = list_open(site, fqdn, &e)) == NULL) {
		if (!g_error_matches(e, HERALD_ERROR, HERALD_ERR_NOTFOUND)) {
			g_propagate_error(error, e);
			return -1;
		}
		log_info(DIGEST_SUBSYS, "list %s is gone: its post %s is dropped",
			 fqdn, item->base);
		g_error_free(e);
		return 0;
	}
	message_id = post_message_id(item);
	r = digest_append(l, item->base, message_id, item->msg, item->msg_len,
			  &bytes, &e);
	g_free(message_id);
	/* The list lock held too long is no fault of the post: it goes back
	 * to the queue, as after a failed disk (Mailman lost such posts). */
	if (r < 0 && e->domain == HERALD_ERROR && e->code == HERALD_ERR_TIMEOUT)
		e->code = HERALD_ERR_IO;
	if (r < 0)
		g_propagate_error(error, e);
	if (r == 0)
		log_info(DIGEST_SUBSYS, "list %s: post %s is in a digest already",
			 fqdn, item->base);
	if (r >= 0)
		send_by_size(l, bytes);
	list_free(&l);
	return r < 0 ? -1 : 0;
}

static void *
digest_open(struct site *site, const char *queue, GError **error)
{
	return site;
}

const struct runner_kind runner_digest = {
	.name = "digest",
	.init_queue = QUEUE_DIGEST,
	.init_nice = 10,
	.doc = "posts into their list's pending digest; the digest is sent "
	       "when it reaches digest_size_threshhold.",
	.open = digest_open,
	.handle = handle_digest,
};
