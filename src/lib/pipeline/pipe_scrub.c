/*
 * pipe_scrub.c - the scrubber handler: scrub_nondigest, as in Mailman 2.1.
 *
 * With scrub_nondigest on, the members who get posts one by one get each
 * post as text: its attachments are stored in the list's archive tree and
 * replaced by a stub with a link to the file (archive_scrub, the same
 * walk and the same file names as the archive's pages).  The handler runs
 * after todigest and toarchive, so the digest and the archive get the post
 * whole; the archive then writes the same files again, byte for byte.
 * A post with nothing to scrub (plain text, or text and HTML) goes on
 * unchanged.
 */
#include "pipeline/pipeline.h"
#include "archive/archive.h"
#include "base/log.h"
#include "list/listurls.h"
#include "mail/message.h"
#include "store/names.h"

#include <string.h>
#include <time.h>

#define SCRUB_SUBSYS "scrub"

/* The post's body becomes one text/plain UTF-8 part of text; the
 * headers other than Content-* stay. */
static void
set_text_body(GMimeMessage *msg, const char *text)
{
	GMimeTextPart *tp = g_mime_text_part_new_with_subtype("plain");

	g_mime_text_part_set_text(tp, text);
	g_mime_part_set_content_encoding(
		GMIME_PART(tp), g_mime_part_get_best_content_encoding(
			GMIME_PART(tp), GMIME_ENCODING_CONSTRAINT_7BIT));
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(tp));
	g_object_unref(tp);
}

enum pipe_result
pipe_scrubber(struct post *p, GError **error)
{
	int64_t received = queue_meta_get_int(p->meta, META_RECEIVED, 0) / 1000000;
	struct archive *a;
	char *url, *text;
	int count = 0;

	if (!post_setting_bool(p, "scrub_nondigest"))
		return PIPE_CONTINUE;
	if ((a = archive_open(p->list, error)) == NULL)
		return PIPE_ERROR;
	url = listurls_archive(p->list);
	text = archive_scrub(a, p->msg, received > 0 ? received : time(NULL),
			     url, &count, error);
	archive_free(&a);
	g_free(url);
	if (text == NULL)
		return PIPE_ERROR;
	if (count > 0) {
		set_text_body(p->msg, text);
		log_info(SCRUB_SUBSYS, "list %s: post %s: %d attachment%s "
			 "scrubbed", list_fqdn(p->list),
			 g_mime_message_get_message_id(p->msg) != NULL
				 ? g_mime_message_get_message_id(p->msg) : "-",
			 count, count == 1 ? "" : "s");
	}
	g_free(text);
	return PIPE_CONTINUE;
}
