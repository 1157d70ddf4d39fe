/*
 * notice.c - a bounce read once into what the detectors look at: its
 * senders and subject, its machine-readable report parts, the text a
 * person would read, and the returned message.
 *
 * The text is decoded here once (charset to UTF-8, CRLF and CR to LF, NUL
 * to space) so that every format is matched against the same clean
 * lines.  Only the parts before the returned message are the notice: the
 * returned message is somebody's mail, and its addresses and words must
 * not be taken for the bounce's.  A bounce forwarded by a person ("Fwd:
 * Returned mail") is quoted with "> "; one level of quoting is removed
 * so that the formats still see their shapes.
 */
#include "bounce/bounce-private.h"
#include "mail/address.h"
#include "mail/html2text.h"
#include "mail/message.h"

#include <string.h>

struct walk {
	struct bounce_msg *m;
	GString *plain, *html, *attached;
	int parts;
	gboolean after_original;	/* the returned message was seen */
};

/* The decoded content of a leaf part (transfer encoding undone), at most
 * max bytes of it. */
static GByteArray *
part_content(GMimePart *part, size_t max)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *mem;
	GByteArray *all, *out = g_byte_array_new();

	if (w == NULL)
		return out;
	mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, mem);
	all = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	if (all != NULL && all->len > 0)
		g_byte_array_append(out, all->data, MIN(max, all->len));
	g_object_unref(mem);
	return out;
}

/* Bytes in charset (NULL: not said) as UTF-8 with LF line ends and no
 * NULs.  Undeclared 8-bit text is UTF-8 if it is valid, ISO-2022-JP if it
 * has its escapes, else windows-1252. */
static char *
to_utf8(const guint8 *data, size_t len, const char *charset)
{
	char *conv = NULL, *valid;
	GString *out;

	if (len == 0)
		return g_strdup("");
	if (charset == NULL && memchr(data, 0x1b, len) != NULL)
		charset = "iso-2022-jp";
	if (charset != NULL && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
	    g_ascii_strcasecmp(charset, "us-ascii") != 0) {
		conv = g_convert_with_fallback((const char *)data, len, "UTF-8",
					       g_mime_charset_iconv_name(charset),
					       "?", NULL, NULL, NULL);
	}
	if (conv == NULL && charset == NULL &&
	    !g_utf8_validate((const char *)data, len, NULL))
		conv = g_convert_with_fallback((const char *)data, len, "UTF-8",
					       "windows-1252", "?", NULL, NULL,
					       NULL);
	if (conv != NULL)
		valid = g_utf8_make_valid(conv, -1);
	else
		valid = g_utf8_make_valid((const char *)data, len);
	g_free(conv);
	out = g_string_sized_new(strlen(valid) + 1);
	for (const char *p = valid; *p != '\0'; p++) {
		if (*p == '\r') {
			g_string_append_c(out, '\n');
			if (p[1] == '\n')
				p++;
		} else {
			g_string_append_c(out, *p);
		}
	}
	g_free(valid);
	return g_string_free(out, FALSE);
}

static char *
part_text(GMimePart *part, size_t max)
{
	GByteArray *bytes = part_content(part, max);
	const char *charset = g_mime_object_get_content_type_parameter(
		GMIME_OBJECT(part), "charset");
	char *text;

	/* g_utf8_make_valid keeps NULs; a NUL would end the text early. */
	for (guint i = 0; i < bytes->len; i++)
		if (bytes->data[i] == '\0')
			bytes->data[i] = ' ';
	text = to_utf8(bytes->data, bytes->len, charset);
	g_byte_array_unref(bytes);
	return text;
}

static struct bounce_part *
report_part(GMimePart *part, gboolean global)
{
	struct bounce_part *p = g_new0(struct bounce_part, 1);

	p->text = part_text(part, REPORT_MAX);
	p->global = global;
	return p;
}

static void
part_free(gpointer p)
{
	struct bounce_part *bp = p;

	g_free(bp->text);
	g_free(bp);
}

static void
append_text(GString *s, char *text)
{
	if (s->len >= NOTICE_MAX) {
		g_free(text);
		return;
	}
	if (s->len > 0)
		g_string_append_c(s, '\n');
	g_string_append_len(s, text, MIN(strlen(text), NOTICE_MAX - s->len));
	g_free(text);
}

/* A leaf part: a report, the returned headers, or notice text. */
static void
walk_leaf(struct walk *w, GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *type = g_mime_content_type_get_media_type(ct);
	const char *sub = g_mime_content_type_get_media_subtype(ct);
	GMimePart *part = GMIME_PART(obj);

	if (g_ascii_strcasecmp(type, "message") == 0 &&
	    (g_ascii_strcasecmp(sub, "delivery-status") == 0 ||
	     g_ascii_strcasecmp(sub, "global-delivery-status") == 0)) {
		g_ptr_array_add(w->m->dsn, report_part(part,
			g_ascii_strcasecmp(sub, "global-delivery-status") == 0));
	} else if (g_ascii_strcasecmp(type, "message") == 0 &&
		   g_ascii_strcasecmp(sub, "feedback-report") == 0) {
		g_ptr_array_add(w->m->arf, report_part(part, FALSE));
	} else if ((g_ascii_strcasecmp(type, "text") == 0 &&
		    (g_ascii_strcasecmp(sub, "rfc822-headers") == 0 ||
		     g_ascii_strcasecmp(sub, "rfc822-header") == 0)) ||
		   (g_ascii_strcasecmp(type, "message") == 0 &&
		    g_ascii_strcasecmp(sub, "global-headers") == 0)) {
		if (w->m->original_headers == NULL)
			w->m->original_headers = part_text(part, NOTICE_MAX);
		w->after_original = TRUE;
	} else if (g_ascii_strcasecmp(type, "text") == 0 && !w->after_original) {
		const char *disp = g_mime_object_get_disposition(obj);
		GString *to = g_ascii_strcasecmp(sub, "html") == 0 ? w->html
							            : w->plain;

		/* A text attachment is the returned headers more often
		 * than the notice: read only when there is nothing else. */
		if (disp != NULL && g_ascii_strcasecmp(disp, "attachment") == 0)
			to = w->attached;
		append_text(to, part_text(part, NOTICE_MAX));
	}
}

/* A multipart's prologue as notice text: a multipart whose boundary never
 * comes holds its parts there, each with its boundary line and MIME
 * headers, which are dropped (they would look like the returned
 * message's header block). */
static char *
prologue_text(const char *pro)
{
	char *text = to_utf8((const guint8 *)pro, strlen(pro), NULL);
	char **lines = g_strsplit(text, "\n", -1);
	GString *out = g_string_sized_new(strlen(text));
	gboolean in_mime = FALSE;

	for (char **l = lines; *l != NULL; l++) {
		if (in_mime && (**l == ' ' || **l == '\t'))
			continue;
		in_mime = g_ascii_strncasecmp(*l, "content-", 8) == 0 &&
			strchr(*l, ':') != NULL;
		if (in_mime || (g_str_has_prefix(*l, "--") && strlen(*l) > 10 &&
				strchr(*l, ' ') == NULL))
			continue;
		g_string_append(out, *l);
		g_string_append_c(out, '\n');
	}
	g_strfreev(lines);
	g_free(text);
	return g_string_free(out, FALSE);
}

static void
walk(struct walk *w, GMimeObject *obj, int depth)
{
	if (obj == NULL || depth > PART_DEPTH_MAX || ++w->parts > PARTS_MAX)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = g_mime_multipart_get_count(mp);

		const char *pro = g_mime_multipart_get_prologue(mp);

		/* No part at all (its boundary never comes, or is not the
		 * one declared): the text is all in the prologue. */
		if (n == 0 && pro != NULL)
			append_text(w->plain, prologue_text(pro));
		for (int i = 0; i < n && w->parts <= PARTS_MAX; i++)
			walk(w, g_mime_multipart_get_part(mp, i), depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		/* The returned message: kept, not read as the notice. */
		if (w->m->original == NULL)
			w->m->original = g_mime_message_part_get_message(
				GMIME_MESSAGE_PART(obj));
		w->after_original = TRUE;
	} else if (GMIME_IS_PART(obj)) {
		walk_leaf(w, obj);
	}
}

/* One level of "> " quoting removed when most lines have it: a bounce a
 * person forwarded inline. */
static char *
unquote(char *text)
{
	char **lines = g_strsplit(text, "\n", -1);
	unsigned quoted = 0, nonempty = 0;
	GString *out;

	for (char **l = lines; *l != NULL; l++) {
		if (**l == '\0')
			continue;
		nonempty++;
		if (**l == '>')
			quoted++;
	}
	if (nonempty < 4 || quoted * 2 < nonempty) {
		g_strfreev(lines);
		return text;
	}
	out = g_string_sized_new(strlen(text));
	for (char **l = lines; *l != NULL; l++) {
		const char *p = *l;

		if (*p == '>')
			p += p[1] == ' ' ? 2 : 1;
		g_string_append(out, p);
		g_string_append_c(out, '\n');
	}
	g_strfreev(lines);
	g_free(text);
	return g_string_free(out, FALSE);
}

char *
bounce_first_address(const char *v, gboolean only_one, gboolean lenient)
{
	GPtrArray *list = NULL;
	char *addr = NULL;
	const char *at;

	if (v == NULL)
		return NULL;
	if (address_parse_list(v, &list, NULL) == 0) {
		if (list->len == 1 || (list->len > 1 && !only_one))
			addr = g_strdup(((struct address *)list->pdata[0])->addr);
		g_ptr_array_unref(list);
		return addr;
	}
	/* A value address.c refuses (MAILER-DAEMON without a domain, a bad
	 * name) still gives its first thing that looks like an address. */
	if (lenient && (at = strchr(v, '@')) != NULL) {
		const char *b = at, *e = at + 1;

		while (b > v && strchr(" \t<>\"(),;:", b[-1]) == NULL)
			b--;
		while (*e != '\0' && strchr(" \t<>\"(),;:", *e) == NULL)
			e++;
		addr = g_strndup(b, e - b);
	}
	return addr;
}

/* The key of the first address in header name, or NULL. */
static char *
header_key(GMimeMessage *msg, const char *name)
{
	char *addr = bounce_first_address(message_header(msg, name), FALSE, TRUE);
	char *key = addr != NULL ? address_key(addr) : NULL;

	g_free(addr);
	return key;
}

struct bounce_msg *
bounce_msg_read(GMimeMessage *msg, const char *envelope)
{
	struct bounce_msg *m = g_new0(struct bounce_msg, 1);
	struct walk w = { .m = m };
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	char *s;

	m->msg = msg;
	s = message_header_decoded(msg, "Subject");
	m->subject = s != NULL ? s : g_strdup("");
	s = message_header_decoded(msg, "From");
	m->from_text = s != NULL ? s : g_strdup("");
	m->from = header_key(msg, "From");
	m->to = header_key(msg, "To");
	m->envelope = envelope != NULL ? address_key(envelope) : NULL;
	m->dsn = g_ptr_array_new_with_free_func(part_free);
	m->arf = g_ptr_array_new_with_free_func(part_free);
	m->report = body != NULL && GMIME_IS_MULTIPART(body) &&
		g_mime_content_type_is_type(
			g_mime_object_get_content_type(body), "multipart",
			"report");
	w.plain = g_string_new(NULL);
	w.html = g_string_new(NULL);
	w.attached = g_string_new(NULL);
	walk(&w, body, 0);
	if (w.plain->len == 0 && w.html->len > 0) {
		char *t = html2text(w.html->str, w.html->len, "utf-8");

		g_string_assign(w.plain, t);
		g_free(t);
	}
	if (w.plain->len == 0)
		g_string_assign(w.plain, w.attached->str);
	m->notice = unquote(g_string_free(w.plain, FALSE));
	g_string_free(w.html, TRUE);
	g_string_free(w.attached, TRUE);
	return m;
}

void
bounce_msg_free(struct bounce_msg **mp)
{
	struct bounce_msg *m = *mp;

	if (m == NULL)
		return;
	*mp = NULL;
	g_free(m->subject);
	g_free(m->from);
	g_free(m->from_text);
	g_free(m->to);
	g_free(m->envelope);
	g_ptr_array_unref(m->dsn);
	g_ptr_array_unref(m->arf);
	g_free(m->notice);
	g_free(m->original_headers);
	bounce_text_index_free(&m->text_index);
	g_free(m);
}

gboolean
bounce_is_daemon(const char *key)
{
	static const char *const locals[] = {
		"mailer-daemon", "postmaster", "mail-daemon", "maildaemon",
		"mailerdaemon", "mdaemon", "mailer_daemon", "mail.daemon",
		"double-bounce", "mail-delivery-system", "mailadmin",
		"bounce", "bounces", "nobody", "root", "post_master",
		"mailer", NULL,
	};
	const char *at;
	size_t n;

	if (key == NULL)
		return FALSE;
	at = strrchr(key, '@');
	n = at != NULL ? (size_t)(at - key) : strlen(key);
	for (const char *const *l = locals; *l != NULL; l++)
		if (strlen(*l) == n && strncmp(key, *l, n) == 0)
			return TRUE;
	return FALSE;
}
