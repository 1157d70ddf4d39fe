/*
 * pipe_fanout.c - the end of the pipeline: copies to the digest, archive
 * and news queues, the post's bookkeeping, the poster's acknowledgement,
 * and the post with its recipients to the out queue.
 *
 * Each copy joins the incoming runner's batch (post_enqueue): written now,
 * stored together with the other posts' copies at the batch's commit (one
 * fsync per file, one per queue directory), and the post's in-queue entry
 * is finished only after that.  A crash before the commit replays the
 * pipeline from the in queue: a copy that was already renamed into place
 * is then made twice (a duplicate in the archive queue, which the archiver
 * recognises by Message-ID), never lost.
 */
#include "pipeline/pipeline.h"
#include "base/log.h"
#include "mail/message.h"
#include "list/notice.h"
#include "store/names.h"
#include "store/webhook.h"

#include <string.h>
#include <time.h>

static enum pipe_result
copy_to(struct post *p, const char *queue, GError **error)
{
	struct queue *q = queue_open(site_var_dir(p->site), queue, error);
	int r;

	if (q == NULL)
		return PIPE_ERROR;
	r = post_enqueue(p, q, NULL, error);
	queue_close(&q);
	return r < 0 ? PIPE_ERROR : PIPE_CONTINUE;
}

enum pipe_result
pipe_todigest(struct post *p, GError **error)
{
	if (!post_setting_bool(p, "digestable"))
		return PIPE_CONTINUE;
	return copy_to(p, QUEUE_DIGEST, error);
}

enum pipe_result
pipe_toarchive(struct post *p, GError **error)
{
	if (!post_setting_bool(p, "archive") || message_no_archive(p->msg))
		return PIPE_CONTINUE;
	return copy_to(p, QUEUE_ARCHIVE, error);
}

enum pipe_result
pipe_tonews(struct post *p, GError **error)
{
	/* A post from the group is not posted back to it: no loop. */
	if (!post_setting_bool(p, "gateway_to_news") ||
	    queue_meta_get(p->meta, META_FROM_USENET) != NULL)
		return PIPE_CONTINUE;
	return copy_to(p, QUEUE_NEWS, error);
}

enum pipe_result
pipe_afterdelivery(struct post *p, GError **error)
{
	int64_t now = (int64_t)time(NULL), last;
	gboolean stamped;

	/* Every post has a number (VERP every Nth post, the archive), taken
	 * here unless the subject prefix took it already; taken here, the
	 * time goes into the same update of the counters (one lock cycle and
	 * one write over NFS instead of two: docs/scaling.md). */
	if (post_number_stamped(p, now, &stamped, error) < 0)
		return PIPE_ERROR;
	if (stamped)
		return PIPE_CONTINUE;
	/* The time is kept to the second: a busy list posts many times a
	 * second, and rewriting the same value costs the list lock and two
	 * fsyncs for nothing.  (Read without the lock: a writer racing us
	 * stores a time at least as new.) */
	if (list_counter_get(p->list, "last_post_time", &last, error) < 0)
		return PIPE_ERROR;
	if (last == now)
		return PIPE_CONTINUE;
	if (list_counter_update(p->list, "last_post_time", 0, now, NULL,
				error) < 0)
		return PIPE_ERROR;
	return PIPE_CONTINUE;
}

enum pipe_result
pipe_acknowledge(struct post *p, GError **error)
{
	const struct member *m = post_member(p, NULL);
	char *subject, *text, *orig;
	int r;

	if (m == NULL || !(m->options & OPT_ACK))
		return PIPE_CONTINUE;
	orig = message_header_decoded(p->msg, "Subject");
	subject = g_strdup_printf("%s post acknowledgement", list_fqdn(p->list));
	text = g_strdup_printf("Your message\n\n    Subject: %s\n\nwas received "
			       "by the %s mailing list and sent to its "
			       "members.\n", orig != NULL ? orig : "",
			       list_fqdn(p->list));
	r = notice_autorespond(p->list, m->addr, subject, text, NULL, error);
	g_free(orig);
	g_free(subject);
	g_free(text);
	return r < 0 ? PIPE_ERROR : PIPE_CONTINUE;
}

/* The webhooks' post.accepted. */
static void
accepted_event(struct post *p)
{
	JsonObject *ev = json_object_new();
	const char *mid = queue_meta_get(p->meta, META_MESSAGE_ID);

	json_object_set_int_member(ev, "post_id",
				   queue_meta_get_int(p->meta, META_POST_ID, 0));
	json_object_set_string_member(ev, "message_id", mid != NULL ? mid : "");
	json_object_set_string_member(ev, "poster", p->poster != NULL ? p->poster : "");
	json_object_set_int_member(ev, "recipients", p->recipients->len);
	webhook_emit(list_site(p->list), list_fqdn(p->list), "post.accepted", ev);
}

enum pipe_result
pipe_tooutgoing(struct post *p, GError **error)
{
	if (p->recipients == NULL || p->recipients->len == 0) {
		log_info("pipeline", "list %s: post from %s has no recipients",
			 list_fqdn(p->list), p->poster);
		return PIPE_CONTINUE;
	}
	if (message_header(p->msg, "Message-ID") != NULL)
		queue_meta_set(p->meta, META_MESSAGE_ID,
			       message_header(p->msg, "Message-ID"));
	if (copy_to(p, QUEUE_OUT, error) != PIPE_CONTINUE)
		return PIPE_ERROR;
	accepted_event(p);
	return PIPE_CONTINUE;
}
