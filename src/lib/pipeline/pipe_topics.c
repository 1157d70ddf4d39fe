/*
 * pipe_topics.c - tagger: the topics a post is about (Mailman 2.1's
 * Tagger).
 *
 * The hits go into the metadata ("topic" lines), where calcrecips reads
 * them, and into an X-Topics header for the members' filters.  A post
 * resumed at this handler is tagged afresh, so the hits never double.
 */
#include "pipeline/pipeline.h"
#include "list/topics.h"
#include "mail/message.h"
#include "store/names.h"

enum pipe_result
pipe_tagger(struct post *p, GError **error)
{
	struct topics *t;
	GPtrArray *hits;
	GString *header;
	char *text;

	queue_meta_remove(p->meta, META_TOPIC);
	if (!post_setting_bool(p, "topics_enabled"))
		return PIPE_CONTINUE;
	text = post_setting(p, "topics");
	t = topics_parse(text, error);
	g_free(text);
	/* Checked when set; a config file edited by hand can still hold a bad
	 * expression: the post is shunted, to be resumed once it is fixed. */
	if (t == NULL)
		return PIPE_ERROR;
	hits = topics_match(t, p->msg, (int)post_setting_int(p, "topics_bodylines_limit"));
	header = g_string_new(NULL);
	for (guint i = 0; i < hits->len; i++) {
		queue_meta_add(p->meta, META_TOPIC, hits->pdata[i]);
		if (header->len > 0)
			g_string_append(header, ", ");
		g_string_append(header, hits->pdata[i]);
	}
	message_header_remove_all(p->msg, "X-Topics");
	if (header->len > 0)
		message_header_set(p->msg, "X-Topics", header->str);
	g_string_free(header, TRUE);
	g_ptr_array_unref(hits);
	topics_free(&t);
	return PIPE_CONTINUE;
}
