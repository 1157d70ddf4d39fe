/*
 * render.c - a message's page, PERIOD/NNNNNN.html, and its attachments.
 *
 * The body is text only: text/plain parts decoded from their charset,
 * text/html parts through html2text, attached messages inline with their
 * headers; every other part (and any part nested deeper than
 * MAX_DEPTH) is scrubbed to attachments/YYYYMMDD/XXXXXXXX/attachment-N.ext
 * (Pipermail's folders: the date, and 8 hex digits of the SHA-1 of the
 * Message-ID), named by herald, never by the message, with an extension
 * from a table of types a browser shows without running anything (any
 * other type is .bin).  A page is written to a temporary file and renamed,
 * so a reader never sees half of one.
 */
#include "archive/archive-private.h"
#include "base/base.h"
#include "mail/html2text.h"
#include "mail/message.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 20

static const struct { const char *type, *ext; } safe_types[] = {
	{ "text/plain", ".txt" }, { "text/x-patch", ".patch" },
	{ "text/x-diff", ".diff" }, { "text/csv", ".csv" },
	{ "image/png", ".png" }, { "image/jpeg", ".jpg" },
	{ "image/gif", ".gif" }, { "image/webp", ".webp" },
	{ "application/pdf", ".pdf" }, { "application/zip", ".zip" },
	{ "application/gzip", ".gz" }, { "application/x-gzip", ".gz" },
	{ "application/pgp-signature", ".asc" }, { "audio/mpeg", ".mp3" },
	{ "video/mp4", ".mp4" }, { "application/msword", ".doc" },
	{ "message/rfc822", ".eml" },
};

int
render_write(const char *path, const GString *page, gboolean sync,
	     GError **error)
{
	char *tmp;
	int fd, ret = -1;
	ino_t ino;

	if (sync)
		return fs_write_atomic(path, page->str, page->len, error);
	/* Pages are made from the store and made again by `archive check`:
	 * they need not reach the disk before we go on, only be whole. */
	tmp = g_strdup_printf("%s.tmp.%s.%d", path, herald_host(), (int)getpid());
	(void)fs_unlink(tmp);
	if (fs_create_written(tmp, page->str, page->len, &fd, &ino, error) < 0)
		goto out;
	if (close(fd) < 0) {
		set_errno_error(error, "close(%s)", tmp);
		(void)fs_unlink(tmp);
		goto out;
	}
	if (fs_rename_checked(tmp, path, ino) < 0) {
		set_errno_error(error, "rename(%s, %s)", tmp, path);
		(void)fs_unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	g_free(tmp);
	return ret;
}

void
render_head(GString *out, const char *title, const char *list)
{
	g_string_append(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
			"<meta charset=\"utf-8\">\n<title>");
	html_escape(out, list, strlen(list));
	g_string_append(out, ": ");
	html_escape(out, title, strlen(title));
	g_string_append(out, "</title>\n<style>" ARCHIVE_PAGE_STYLE
			"</style>\n</head>\n<body>\n");
}

void
render_foot(GString *out)
{
	g_string_append(out, "</body>\n</html>\n");
}

char *
render_author(struct archive *a, const struct entry *e)
{
	size_t n;

	return a->obscure ? obscure_text(e->author, strlen(e->author), &n)
			  : g_strdup(e->author);
}

struct walk {
	struct archive *a;
	GString *text;		/* the body, UTF-8 */
	GString *atts;		/* the attachments' HTML */
	char *attdir;		/* attachments/YYYYMMDD/XXXXXXXX */
	const char *url;	/* the tree's URL: the text gets a stub with
				 * the link for each attachment (archive_scrub) */
	int natt;
	gboolean sync;
	GError **error;
	int failed;
};

static GByteArray *
part_bytes(GMimePart *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *mem = g_mime_stream_mem_new();
	GByteArray *ba = g_byte_array_new();

	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	g_mime_stream_mem_set_byte_array(GMIME_STREAM_MEM(mem), ba);
	if (w != NULL)
		g_mime_data_wrapper_write_to_stream(w, mem);
	g_object_unref(mem);
	return ba;
}

static void
separator(struct walk *w, const char *what)
{
	if (w->text->len > 0 && w->text->str[w->text->len - 1] != '\n')
		g_string_append_c(w->text, '\n');
	if (w->text->len > 0)
		g_string_append_printf(w->text, "-------------- %s --------------\n", what);
}

static const char *
type_ext(const char *type)
{
	for (size_t i = 0; i < G_N_ELEMENTS(safe_types); i++)
		if (g_ascii_strcasecmp(type, safe_types[i].type) == 0)
			return safe_types[i].ext;
	return ".bin";
}

static void
scrub(struct walk *w, GMimeObject *o, const char *type, const char *data,
      size_t len)
{
	char *name = w->natt == 0
		     ? g_strdup_printf("attachment%s", type_ext(type))
		     : g_strdup_printf("attachment-%04d%s", w->natt, type_ext(type));
	char *rel, *dir, *path;
	const char *orig = GMIME_IS_PART(o) ? g_mime_part_get_filename(GMIME_PART(o)) : NULL;

	w->natt++;
	rel = g_build_filename(w->attdir, name, NULL);
	path = html_path(w->a, rel);
	dir = fs_dirname(path);
	if (fs_mkdir_p(dir, 0775, w->error) < 0 ||
	    render_write(path, &(GString){ (char *)data, len, len }, w->sync,
			 w->error) < 0)
		w->failed = 1;
	g_string_append(w->atts, "<li>");
	if (orig != NULL) {
		char *v = text_valid(orig, strlen(orig));

		html_escape(w->atts, v, strlen(v));
		g_free(v);
		g_string_append(w->atts, " ");
	}
	g_string_append(w->atts, "(");
	html_escape(w->atts, type, strlen(type));
	g_string_append_printf(w->atts, ", %zu bytes): <a href=\"../%s\">%s</a></li>\n",
			       len, rel, name);
	separator(w, "next part");
	if (w->url == NULL) {
		g_string_append_printf(w->text, "A non-text attachment was scrubbed: %s\n", name);
	} else {
		char *v = orig != NULL ? text_valid(orig, strlen(orig)) : NULL;

		g_string_append_printf(w->text,
				       "A non-text attachment was scrubbed...\n"
				       "Name: %s\nType: %s\nSize: %zu bytes\n"
				       "URL: <%s%s>\n", v != NULL ? v : name,
				       type, len, w->url, rel);
		g_free(v);
	}
	g_free(rel);
	g_free(dir);
	g_free(path);
	g_free(name);
}

static void walk_object(struct walk *w, GMimeObject *o, int depth);

static void
walk_leaf(struct walk *w, GMimePart *part, int depth)
{
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	char *type = g_mime_content_type_get_mime_type(ct);
	const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
	gboolean attachment = g_mime_part_is_attachment(part) &&
			      g_mime_part_get_filename(part) != NULL;
	GByteArray *ba = part_bytes(part);
	char *text = NULL;

	if (g_ascii_strcasecmp(type, "text/plain") == 0 && !attachment)
		text = text_decode((char *)ba->data, ba->len, charset);
	else if (g_ascii_strcasecmp(type, "text/html") == 0 && !attachment)
		text = html2text((char *)ba->data, ba->len, charset);
	if (text != NULL) {
		separator(w, "next part");
		g_string_append(w->text, text);
	} else {
		scrub(w, GMIME_OBJECT(part), type, (char *)ba->data, ba->len);
	}
	g_free(text);
	g_free(type);
	g_byte_array_unref(ba);
}

/* An attached message: its headers, then its body, inline. */
static void
walk_message(struct walk *w, GMimeMessage *m, int depth)
{
	static const char *const names[] = { "From", "Subject", "Date" };

	separator(w, "attached message");
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		char *v = message_header_decoded(m, names[i]);

		if (v != NULL) {
			char *t = text_valid(v, strlen(v));

			g_string_append_printf(w->text, "%s: %s\n", names[i], t);
			g_free(t);
		}
		g_free(v);
	}
	g_string_append_c(w->text, '\n');
	if (g_mime_message_get_mime_part(m) != NULL)
		walk_object(w, g_mime_message_get_mime_part(m), depth + 1);
}

static void
walk_object(struct walk *w, GMimeObject *o, int depth)
{
	if (depth > MAX_DEPTH) {
		GMimeStream *mem = g_mime_stream_mem_new();
		GByteArray *ba;

		g_mime_object_write_to_stream(o, NULL, mem);
		ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
		scrub(w, o, "message/rfc822", (char *)ba->data, ba->len);
		g_object_unref(mem);
		return;
	}
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);
		GMimeContentType *ct = g_mime_object_get_content_type(o);

		/* Of alternatives, the plain text one if there is one. */
		if (g_mime_content_type_is_type(ct, "multipart", "alternative")) {
			for (int i = 0; i < n; i++) {
				GMimeObject *sub = g_mime_multipart_get_part(mp, i);

				if (GMIME_IS_PART(sub) && g_mime_content_type_is_type(
				    g_mime_object_get_content_type(sub), "text", "plain")) {
					walk_object(w, sub, depth + 1);
					return;
				}
			}
			if (n > 0)
				walk_object(w, g_mime_multipart_get_part(mp, n - 1), depth + 1);
			return;
		}
		for (int i = 0; i < n; i++)
			walk_object(w, g_mime_multipart_get_part(mp, i), depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		if (m != NULL)
			walk_message(w, m, depth);
	} else if (GMIME_IS_PART(o)) {
		walk_leaf(w, GMIME_PART(o), depth);
	}
}

static char *
att_dir(const struct entry *e)
{
	time_t t = (time_t)e->date;
	struct tm tm;
	char day[16];
	/* Mail without a Message-ID would share one folder a day. */
	char *key = *e->msgid != '\0' ? g_strdup(e->msgid)
		    : g_strdup_printf("herald-%" G_GINT64_FORMAT, e->num);
	char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA1, key, -1);
	char *dir;

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	dir = g_strdup_printf("attachments/%s/%.4s%s", day, sha, sha + strlen(sha) - 4);
	g_free(sha);
	g_free(key);
	return dir;
}

static void
nav_link(GString *out, const char *label, const struct entry *e)
{
	if (e == NULL)
		return;
	g_string_append_printf(out, "<li>%s: <a href=\"%06" G_GINT64_FORMAT
			       ".html\">", label, e->num);
	html_escape(out, e->subject, strlen(e->subject));
	g_string_append(out, "</a></li>\n");
}

static void
nav(GString *out, const struct entry *e, const struct entry *prev,
    const struct entry *next)
{
	static const char *const sorts[] = { "date", "thread", "subject", "author" };

	g_string_append(out, "<ul class=\"nav\">\n");
	nav_link(out, "Previous message", prev);
	nav_link(out, "Next message", next);
	g_string_append(out, "<li>Messages sorted by:");
	for (size_t i = 0; i < G_N_ELEMENTS(sorts); i++)
		g_string_append_printf(out, " [ <a href=\"%s.html#%" G_GINT64_FORMAT
				       "\">%s</a> ]", sorts[i], e->num, sorts[i]);
	g_string_append(out, "</li>\n<li><a href=\"../index.html\">All periods</a></li>\n</ul>\n");
}

/* Header of a page: subject, author, date. */
static void
page_top(struct archive *a, GString *out, const struct entry *e)
{
	char date[64], *who = render_author(a, e);
	time_t t = (time_t)e->date;
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S UTC", &tm);
	render_head(out, e->subject, list_fqdn(a->list));
	g_string_append(out, "<h1>");
	html_escape(out, e->subject, strlen(e->subject));
	g_string_append(out, "</h1>\n<p class=\"from\"><b>");
	html_escape(out, who, strlen(who));
	g_string_append(out, "</b> ");
	if (*e->addr != '\0') {
		char *addr = a->obscure ? obscure_text(e->addr, strlen(e->addr), &n)
					: g_strdup(e->addr);

		g_string_append(out, "&lt;");
		html_escape(out, addr, strlen(addr));
		g_string_append(out, "&gt;");
		g_free(addr);
	}
	g_string_append_printf(out, "<br>\n<i>%s</i></p>\n", date);
	g_free(who);
}

int
render_message(struct archive *a, const char *period, const struct entry *e,
	       const struct entry *prev, const struct entry *next,
	       const char *data, size_t len, GString **page_r, char **text_r,
	       GError **error)
{
	GMimeMessage *msg = message_parse_stored(data, len, NULL);
	struct walk w = { .a = a, .text = g_string_new(NULL),
			  .atts = g_string_new(NULL), .attdir = att_dir(e),
			  .error = error };
	GString *out = NULL;
	int ret = -1;

	if (msg != NULL && g_mime_message_get_mime_part(msg) != NULL)
		walk_object(&w, g_mime_message_get_mime_part(msg), 0);
	if (w.failed)
		goto out;
	out = g_string_sized_new(len + 2048);
	page_top(a, out, e);
	nav(out, e, prev, next);
	g_string_append(out, "<hr>\n<pre id=\"body\">\n");
	html_body(out, w.text->str, a->obscure);
	g_string_append(out, "</pre>\n");
	if (w.atts->len > 0) {
		g_string_append(out, "<p>Attachments:</p>\n<ul class=\"attachments\">\n");
		g_string_append_len(out, w.atts->str, w.atts->len);
		g_string_append(out, "</ul>\n");
	}
	g_string_append(out, "<hr>\n");
	nav(out, e, prev, next);
	render_foot(out);
	*page_r = out;
	if (text_r != NULL)
		*text_r = g_string_free(w.text, FALSE);
	else
		g_string_free(w.text, TRUE);
	w.text = NULL;
	ret = 0;
out:
	if (msg != NULL)
		g_object_unref(msg);
	if (w.text != NULL)
		g_string_free(w.text, TRUE);
	g_string_free(w.atts, TRUE);
	g_free(w.attdir);
	return ret;
}

char *
archive_scrub(struct archive *a, GMimeMessage *msg, int64_t received,
	      const char *url, int *count_r, GError **error)
{
	struct entry *e = g_new0(struct entry, 1);
	struct walk w = { .a = a, .text = g_string_new(NULL),
			  .atts = g_string_new(NULL), .url = url,
			  .error = error };

	meta_extract(msg, received, received, e);
	w.attdir = att_dir(e);
	if (g_mime_message_get_mime_part(msg) != NULL)
		walk_object(&w, g_mime_message_get_mime_part(msg), 0);
	entry_free(e);
	g_string_free(w.atts, TRUE);
	g_free(w.attdir);
	*count_r = w.natt;
	if (w.failed) {
		g_string_free(w.text, TRUE);
		return NULL;
	}
	return g_string_free(w.text, FALSE);
}
