/*
 * pipe_approve.c - the approve handler: a password that lets a post skip
 * every hold.
 *
 * The password comes from an Approved: or Approve: header (X-Approved,
 * X-Approve too, as Mailman), or else from the first non-blank line of the
 * first text/plain part written as such a header.  It is removed wherever
 * it was found, valid or not, so it never reaches the members: from the
 * headers, from the text part, and from the text/html alternatives of that
 * part.  The owner's, the moderators' and the post password approve.
 */
#include "pipeline/pipeline.h"
#include "base/log.h"
#include "mail/message.h"
#include "store/names.h"

#include <sodium.h>
#include <string.h>

static const char *const approve_headers[] = {
	"Approved", "Approve", "X-Approved", "X-Approve", NULL
};

/* The password if line is "Approved: PW" (any of the names), else NULL. */
static char *
pseudo_header(const char *line)
{
	for (int i = 0; approve_headers[i] != NULL; i++) {
		size_t n = strlen(approve_headers[i]);

		if (g_ascii_strncasecmp(line, approve_headers[i], n) == 0 &&
		    line[n] == ':')
			return g_strstrip(g_strdup(line + n + 1));
	}
	return NULL;
}

static gboolean
is_blank(const char *line)
{
	for (; *line != '\0'; line++)
		if (!g_ascii_isspace(*line))
			return FALSE;
	return TRUE;
}

/* Removes the first occurrence of needle from the text of a part. */
static void
remove_from_part(GMimeTextPart *part, const char *needle)
{
	char *text = g_mime_text_part_get_text(part);
	char *at = text != NULL ? strstr(text, needle) : NULL;

	if (at != NULL) {
		GString *s = g_string_new_len(text, at - text);
		g_string_append(s, at + strlen(needle));
		g_mime_text_part_set_text(part, s->str);
		g_string_free(s, TRUE);
	}
	g_free(text);
}

struct html_scrub {
	const char *needle;
};

static void
scrub_html(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	struct html_scrub *hs = data;

	if (GMIME_IS_TEXT_PART(part) &&
	    g_mime_content_type_is_type(g_mime_object_get_content_type(part),
					"text", "html"))
		remove_from_part(GMIME_TEXT_PART(part), hs->needle);
}

/* Looks for the password line in the first text part; removes it (and a
 * blank line after it) there and from HTML parts.  Returns the password
 * or NULL. */
static char *
body_password(GMimeMessage *msg)
{
	GMimeTextPart *part = message_first_text_part(msg);
	char *text, *pw = NULL;
	char **lines;
	guint i;

	if (part == NULL || (text = g_mime_text_part_get_text(part)) == NULL)
		return NULL;
	lines = g_strsplit(text, "\n", -1);
	for (i = 0; lines[i] != NULL; i++) {
		if (!is_blank(lines[i]))
			break;
	}
	if (lines[i] != NULL && (pw = pseudo_header(g_strchug(lines[i]))) != NULL) {
		char *line = g_strchomp(g_strdup(lines[i]));
		GString *out = g_string_new(NULL);
		struct html_scrub hs = { line };
		guint skip_blank = i + 1;

		if (lines[skip_blank] != NULL && is_blank(lines[skip_blank]))
			skip_blank++;
		for (guint j = 0; lines[j] != NULL; j++) {
			if (j == i || (j > i && j < skip_blank))
				continue;
			g_string_append(out, lines[j]);
			if (lines[j + 1] != NULL)
				g_string_append_c(out, '\n');
		}
		g_mime_text_part_set_text(part, out->str);
		g_string_free(out, TRUE);
		if (GMIME_IS_MULTIPART(g_mime_message_get_mime_part(msg)))
			g_mime_multipart_foreach(
				GMIME_MULTIPART(g_mime_message_get_mime_part(msg)),
				scrub_html, &hs);
		g_free(line);
	}
	g_strfreev(lines);
	g_free(text);
	return pw;
}

enum pipe_result
pipe_approve(struct post *p, GError **error)
{
	char *pw = NULL;

	for (int i = 0; approve_headers[i] != NULL && pw == NULL; i++) {
		const char *v = message_header(p->msg, approve_headers[i]);
		if (v != NULL)
			pw = g_strstrip(g_strdup(v));
	}
	for (int i = 0; approve_headers[i] != NULL; i++)
		message_header_remove_all(p->msg, approve_headers[i]);
	if (pw == NULL)
		pw = body_password(p->msg);
	if (pw == NULL)
		return PIPE_CONTINUE;
	if (list_check_password(p->list, "password", pw) ||
	    list_check_password(p->list, "mod_password", pw) ||
	    list_check_password(p->list, "post_password", pw)) {
		p->approved = TRUE;
		queue_meta_set(p->meta, META_APPROVED, "yes");
		queue_meta_set(p->meta, META_APPROVED_BY, "password");
	} else {
		log_info("pipeline", "list %s: post from %s has a wrong approval "
			 "password; treated as unapproved", list_fqdn(p->list),
			 p->poster);
	}
	sodium_memzero(pw, strlen(pw));
	g_free(pw);
	return PIPE_CONTINUE;
}
