/*
 * pipe_headers.c - the cleanse and cookheaders handlers: the list's
 * headers on a post.  The work is list/headers.c's, which takes a message
 * and its list so that mail that is no post can have the same headers;
 * what a post adds is its poster (named in the log of an anonymised post)
 * and its number (subject_prefix's %d, taken from the list's counter once
 * and kept in the post's metadata, so that a resumed post keeps it).
 */
#include "pipeline/pipeline.h"
#include "list/headers.h"
#include "mail/message.h"
#include "store/names.h"

enum pipe_result
pipe_cleanse(struct post *p, GError **error)
{
	headers_cleanse(p->msg, p->list, p->poster);
	return PIPE_CONTINUE;
}

static int64_t
post_number_cb(void *ctx, GError **error)
{
	return post_number(ctx, error);
}

enum pipe_result
pipe_cookheaders(struct post *p, GError **error)
{
	/* The news runner's Subject when the group is to have the poster's
	 * (Mailman's origsubj); kept once, so that a resumed post keeps the
	 * poster's rather than its own prefixed one. */
	if (post_setting_bool(p, "gateway_to_news") &&
	    !post_setting_bool(p, "news_prefix_subject_too") &&
	    queue_meta_get(p->meta, META_ORIG_SUBJECT) == NULL) {
		const char *s = message_header(p->msg, "Subject");

		queue_meta_set(p->meta, META_ORIG_SUBJECT, s != NULL ? s : "");
	}
	if (headers_cook(p->msg, p->list, post_number_cb, p, error) < 0)
		return PIPE_ERROR;
	return PIPE_CONTINUE;
}
