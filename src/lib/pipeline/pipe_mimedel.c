/*
 * pipe_mimedel.c - the mimedel handler: content filtering of posts
 * (Mailman 2.1's MimeDel), when the list's filter_content is on.
 *
 * The rules are mimefilter.c's, with the list's settings.  A post they
 * leave with nothing to send is never sent; filter_action says what
 * becomes of it: discarded, rejected (the poster is told what was
 * filtered), forwarded to the owners, or preserved as a file in
 * lists/<list>/preserved/.  Those last two want the post as it came, so
 * it is serialised before filtering; and a post that stops here (or
 * fails here, to be retried after a shunt) is put back as it came, so that
 * a rejection notice quotes what the poster sent and a retry starts from
 * the same message.
 */
#include "pipeline/pipeline.h"
#include "base/base.h"
#include "mail/message.h"
#include "mail/mimefilter.h"
#include "list/notice.h"

#include <string.h>

enum filter_action {
	FILTER_DISCARD = 0,
	FILTER_REJECT = 1,
	FILTER_FORWARD = 2,
	FILTER_PRESERVE = 3,
};

#define NOTICE_SUBJECT "Content filtered message notification"

/* One sentence saying what the filter did to the post. */
static char *
filtered_summary(const struct mimefilter_result *r)
{
	GString *s = g_string_new(NULL);

	if (r->top_removed != NULL) {
		g_string_append_printf(s, "The message's content was not accepted "
				       "by the list's content filter (%s).",
				       r->top_removed);
		return g_string_free(s, FALSE);
	}
	g_string_append(s, "After content filtering, the message was empty");
	for (guint i = 0; i < r->removed->len; i++)
		g_string_append_printf(s, "%s%s", i == 0 ? " (removed: " : "; ",
				       (const char *)r->removed->pdata[i]);
	if (r->n_removed > r->removed->len)
		g_string_append_printf(s, "; and %u more",
				       r->n_removed - r->removed->len);
	g_string_append(s, r->removed->len > 0 ? ")." : ".");
	return g_string_free(s, FALSE);
}

/* Writes the post as it came to lists/<list>/preserved/<UTC
 * time>-<random>.eml, atomically; *name_r gets the file's name. */
static int
preserve(struct post *p, const GByteArray *orig, char **name_r, GError **error)
{
	char *dir = g_build_filename(list_dir(p->list), "preserved", NULL);
	GDateTime *now = g_date_time_new_now_utc();
	char *stamp = g_date_time_format(now, "%Y%m%dT%H%M%SZ");
	char *rnd = random_hex(8);
	char *name = g_strdup_printf("%s-%s.eml", stamp, rnd);
	char *path = g_build_filename(dir, name, NULL);
	int ret = -1;

	if (fs_mkdir_p(dir, 0770, error) < 0 ||
	    fs_write_atomic(path, orig->data, orig->len, error) < 0) {
		g_free(name);
		goto out;
	}
	*name_r = name;
	ret = 0;
out:
	g_free(path);
	g_free(rnd);
	g_free(stamp);
	g_date_time_unref(now);
	g_free(dir);
	return ret;
}

static int
forward(struct post *p, const GByteArray *orig, const char *summary,
	GError **error)
{
	GMimeMessage *copy;
	char *text;
	int ret;

	if ((copy = message_parse_stored((const char *)orig->data, orig->len,
					  error)) == NULL)
		return -1;
	text = g_strdup_printf(
		"The attached message matched the %s mailing list's content\n"
		"filtering rules and was prevented from being forwarded on to the\n"
		"list membership.  You are receiving the only remaining copy of the\n"
		"discarded message.\n\n%s\n", list_fqdn(p->list), summary);
	ret = notice_to_owners(p->list, NOTICE_SUBJECT, text, copy, error);
	g_free(text);
	g_object_unref(copy);
	return ret;
}

/* What becomes of a post with nothing left to send. */
static enum pipe_result
dispose(struct post *p, const struct mimefilter_result *r,
	const GByteArray *orig, GError **error)
{
	int64_t action = post_setting_int(p, "filter_action");
	char *summary = filtered_summary(r);
	enum pipe_result ret = PIPE_DISCARD;
	char *name = NULL;

	switch (action) {
	case FILTER_REJECT:
		post_set_reason(p, "%s", summary);
		ret = PIPE_REJECT;
		break;
	case FILTER_FORWARD:
		if (forward(p, orig, summary, error) < 0) {
			ret = PIPE_ERROR;
			break;
		}
		post_set_reason(p, "content filter, forwarded to the owners: %s",
				summary);
		break;
	case FILTER_PRESERVE:
		if (preserve(p, orig, &name, error) < 0) {
			ret = PIPE_ERROR;
			break;
		}
		post_set_reason(p, "content filter, preserved as preserved/%s: %s",
				name, summary);
		g_free(name);
		break;
	case FILTER_DISCARD:
		post_set_reason(p, "content filter: %s", summary);
		break;
	default:	/* a hand-edited config: discarding loses nothing sent */
		post_set_reason(p, "content filter (unknown filter_action %" G_GINT64_FORMAT
				", discarded): %s", action, summary);
		break;
	}
	g_free(summary);
	return ret;
}

enum pipe_result
pipe_mimedel(struct post *p, GError **error)
{
	struct mimefilter_settings s = { 0 };
	struct mimefilter_result r;
	char **filter_types, **pass_types, **filter_exts, **pass_exts;
	GByteArray *orig;
	enum pipe_result ret = PIPE_CONTINUE;

	if (!post_setting_bool(p, "filter_content"))
		return PIPE_CONTINUE;
	filter_types = list_get_lines(p->list, "filter_mime_types");
	pass_types = list_get_lines(p->list, "pass_mime_types");
	filter_exts = list_get_lines(p->list, "filter_filename_extensions");
	pass_exts = list_get_lines(p->list, "pass_filename_extensions");
	s.filter_mime_types = (const char *const *)filter_types;
	s.pass_mime_types = (const char *const *)pass_types;
	s.filter_filename_extensions = (const char *const *)filter_exts;
	s.pass_filename_extensions = (const char *const *)pass_exts;
	s.collapse_alternatives = post_setting_bool(p, "collapse_alternatives");
	s.convert_html_to_plaintext = post_setting_bool(p, "convert_html_to_plaintext");

	orig = message_to_bytes(p->msg);
	mimefilter_apply(p->msg, &s, &r);
	if (r.empty)
		ret = dispose(p, &r, orig, error);
	if (ret != PIPE_CONTINUE) {
		GMimeMessage *back = message_parse_stored((const char *)orig->data,
						   orig->len, NULL);

		if (back != NULL) {
			g_object_unref(p->msg);
			p->msg = back;
		}
	}

	mimefilter_result_clear(&r);
	g_byte_array_unref(orig);
	g_strfreev(filter_types);
	g_strfreev(pass_types);
	g_strfreev(filter_exts);
	g_strfreev(pass_exts);
	return ret;
}
