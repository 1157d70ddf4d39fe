/*
 * decorate.c - msg_header and msg_footer around a message of a list
 * (Mailman 2.1's Decorate).  The pipeline's decorate handler
 * (pipeline/pipe_decorate.c) calls it for a post; digests and notices can
 * call it for theirs: it takes the message, the list and the member.
 *
 * The text goes into the post's own text when the post is a single plain
 * text part, since that is what readers see best; anything else gets
 * parts of its own, and a post of any other shape is wrapped whole rather
 * than edited inside, so that a signature (multipart/signed), an
 * encrypted part or an HTML alternative is never touched.
 *
 * A personalised list is decorated at delivery, once per member
 * (decorate_message_member), so that the footer can name the member; the
 * pipeline's handler then leaves the post alone.
 */
#include "list/decorate.h"
#include "mail/address.h"
#include "base/base.h"
#include "list/listurls.h"
#include "list/template.h"
#include "mail/message.h"

#include <string.h>

/* --- the text ------------------------------------------------------------- */

/* The values of the %(name)s a template may use: the list's, and the
 * member's of a personalised copy. */
static void
member_vars(GHashTable *vars, struct list *l, const struct member *m)
{
	if (m != NULL) {
		template_vars_set(vars, "user_address", m->key);
		template_vars_set(vars, "user_delivered_to", m->addr);
		template_vars_set(vars, "user_name",
				  m->name != NULL && *m->name != '\0' ? m->name
								       : m->key);
		template_vars_take(vars, "user_language",
				   m->language != NULL && *m->language != '\0'
					   ? g_strdup(m->language)
					   : list_get(l, "preferred_language",
						      NULL));
		template_vars_take(vars, "user_optionsurl",
				   listurls_member_options(l, m->addr));
	}
}

static GHashTable *
decorate_vars(struct list *l, const struct member *m)
{
	GHashTable *vars = template_vars_for_list(l);

	member_vars(vars, l, m);
	return vars;
}

/* Mailman's clean-up of the filled-in text: CRLF to LF, and spaces at the
 * end of a line removed, except the one of a "-- " signature separator
 * (its regex: "(?m)(?<!^--) +(?=\n)"). */
static void
trim_line_ends(GString *s)
{
	GString *out = g_string_sized_new(s->len);
	gsize line = 0;

	g_string_replace(s, "\r\n", "\n", 0);
	for (gsize i = 0; i <= s->len; i++) {
		gsize end, keep;

		if (i < s->len && s->str[i] != '\n')
			continue;
		if (i == s->len) {	/* a last line without '\n' is kept */
			g_string_append_len(out, s->str + line, (gssize)(i - line));
			break;
		}
		end = i;
		while (end > line && s->str[end - 1] == ' ')
			end--;
		keep = end;
		if (end - line == 2 && s->str[line] == '-' &&
		    s->str[line + 1] == '-' && i > end)
			keep = end + 1;	/* "--" + spaces: "-- " */
		g_string_append_len(out, s->str + line, (gssize)(keep - line));
		g_string_append_c(out, '\n');
		line = i + 1;
	}
	g_string_assign(s, out->str);
	g_string_free(out, TRUE);
}

static gboolean
blank(const char *template)
{
	const char *c = template;

	while (c != NULL && *c != '\0' && g_ascii_isspace(*c))
		c++;
	return c == NULL || *c == '\0';
}

/* template filled in from vars, cleaned up as Mailman does. */
static char *
expand(const char *template, GHashTable *vars)
{
	char *expanded = template_expand(template, vars);
	GString *out = g_string_new(expanded);

	g_free(expanded);
	trim_line_ends(out);
	if (out->len > 0 && out->str[out->len - 1] != '\n')
		g_string_append_c(out, '\n');
	return g_string_free(out, FALSE);
}

char *
decorate_text(struct list *l, const char *template, const struct member *m)
{
	GHashTable *vars;
	char *out;

	if (blank(template))
		return g_strdup("");
	vars = decorate_vars(l, m);
	out = expand(template, vars);
	g_hash_table_destroy(vars);
	return out;
}

/* --- MIME ------------------------------------------------------------------ */

static gboolean
charset_is_ascii(const char *cs)
{
	const char *canon = g_mime_charset_canon_name(cs);

	return g_ascii_strcasecmp(canon, "us-ascii") == 0 ||
	       g_ascii_strcasecmp(canon, "ascii") == 0;
}

static gboolean
charset_is_utf8(const char *cs)
{
	return g_ascii_strcasecmp(g_mime_charset_canon_name(cs), "utf-8") == 0;
}

/* data in charset as UTF-8, or NULL when it is not text in that charset. */
static char *
to_utf8(const char *data, gsize len, const char *charset, gsize *len_r)
{
	char *out;

	if (len == 0) {		/* an empty part: data may be NULL */
		*len_r = 0;
		return g_strdup("");
	}

	if (charset_is_ascii(charset) ? message_text_is_ascii(data, len)
	    : charset_is_utf8(charset) ? g_utf8_validate_len(data, len, NULL)
				       : FALSE) {
		*len_r = len;
		out = g_malloc(len + 1);
		memcpy(out, data, len);
		out[len] = '\0';
		return out;
	}
	if (charset_is_ascii(charset) || charset_is_utf8(charset))
		return NULL;
	return g_convert(data, (gssize)len, "UTF-8",
			 g_mime_charset_iconv_name(charset), NULL, len_r, NULL);
}

/* UTF-8 text in charset, or NULL when it does not fit. */
static char *
from_utf8(const char *text, gsize len, const char *charset, gsize *len_r)
{
	if (charset_is_ascii(charset) && !message_text_is_ascii(text, len))
		return NULL;
	if (charset_is_ascii(charset) || charset_is_utf8(charset)) {
		*len_r = len;
		return g_memdup2(text, len + 1);
	}
	return g_convert(text, (gssize)len, g_mime_charset_iconv_name(charset),
			 "UTF-8", NULL, len_r, NULL);
}

/* The content of part, transfer encoding undone. */
static GByteArray *
part_bytes(GMimePart *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *mem = g_mime_stream_mem_new();
	GByteArray *out;

	if (w != NULL)
		g_mime_data_wrapper_write_to_stream(w, mem);
	/* Taken from the stream, which would otherwise free it. */
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	out = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	g_object_unref(mem);
	return out;
}

static void
part_set_bytes(GMimePart *part, const char *data, gsize len)
{
	GMimeStream *mem = g_mime_stream_mem_new();
	GMimeDataWrapper *w;

	g_mime_stream_write(mem, data, len);
	g_mime_stream_reset(mem);
	w = g_mime_data_wrapper_new_with_stream(mem, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, w);
	g_object_unref(w);
	g_object_unref(mem);
}

/* A 7-bit encoding for text with 8-bit characters: quoted-printable,
 * which leaves the ASCII of the text readable (GMime's "best" would pick
 * base64 for a short footer with a few accents). */
static void
part_encode_7bit(GMimePart *part)
{
	g_mime_part_set_content_encoding(part,
					 GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
}

/* An inline text/plain part of the header or footer. */
static GMimeObject *
text_part_new(const char *text)
{
	GMimeTextPart *tp = g_mime_text_part_new_with_subtype("plain");
	gsize len = strlen(text);
	gboolean ascii = message_text_is_ascii(text, len);

	g_mime_text_part_set_charset(tp, ascii ? "us-ascii" : "utf-8");
	g_mime_object_set_disposition(GMIME_OBJECT(tp), "inline");
	part_set_bytes(GMIME_PART(tp), text, len);
	if (ascii)
		g_mime_part_set_content_encoding(GMIME_PART(tp),
						 GMIME_CONTENT_ENCODING_7BIT);
	else
		part_encode_7bit(GMIME_PART(tp));
	return GMIME_OBJECT(tp);
}

static void
ensure_mime_version(GMimeMessage *msg)
{
	if (message_header(msg, "MIME-Version") == NULL)
		message_header_append(msg, "MIME-Version", "1.0");
}

/* "\n" to "\r\n" when the text it joins uses CRLF. */
static void
match_line_ends(GString *s, gboolean crlf)
{
	if (crlf)
		g_string_replace(s, "\n", "\r\n", 0);
}

/* Puts header and footer into the text of a single text/plain part.
 * FALSE when the text cannot be read in its charset: the caller wraps. */
static gboolean
decorate_inline(GMimeMessage *msg, GMimePart *part, const char *header,
		const char *footer)
{
	const char *declared = g_mime_object_get_content_type_parameter(
		GMIME_OBJECT(part), "charset");
	const char *charset = declared != NULL ? declared : "us-ascii";
	GByteArray *raw = part_bytes(part);
	GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
	GString *text, *h, *f;
	gsize len = 0, out_len = 0;
	char *utf8, *out;
	const char *out_charset = charset;
	gboolean crlf;

	utf8 = to_utf8((const char *)raw->data, raw->len, charset, &len);
	/* No charset and not ASCII: undeclared 8-bit text, which is UTF-8
	 * more often than not.  Read as such when it is valid. */
	if (utf8 == NULL && declared == NULL)
		utf8 = to_utf8((const char *)raw->data, raw->len, "utf-8", &len);
	g_byte_array_unref(raw);
	if (utf8 == NULL)
		return FALSE;
	crlf = strstr(utf8, "\r\n") != NULL;
	h = g_string_new(header);
	f = g_string_new(footer);
	match_line_ends(h, crlf);
	match_line_ends(f, crlf);
	text = g_string_new(h->str);
	g_string_append_len(text, utf8, (gssize)len);
	if (f->len > 0 && len > 0 && utf8[len - 1] != '\n')
		g_string_append(text, crlf ? "\r\n" : "\n");
	g_string_append(text, f->str);
	g_string_free(h, TRUE);
	g_string_free(f, TRUE);
	g_free(utf8);

	out = from_utf8(text->str, text->len, charset, &out_len);
	if (out == NULL) {	/* the added text does not fit its charset */
		out_charset = "utf-8";
		out = g_memdup2(text->str, text->len + 1);
		out_len = text->len;
	}
	part_set_bytes(part, out, out_len);
	if (out_charset != charset || (declared == NULL &&
				       !message_text_is_ascii(out, out_len)))
		g_mime_object_set_content_type_parameter(GMIME_OBJECT(part),
							 "charset", out_charset);
	/* base64, quoted-printable and 8bit carry any text; 7bit (or none)
	 * only ASCII. */
	if ((enc == GMIME_CONTENT_ENCODING_DEFAULT ||
	     enc == GMIME_CONTENT_ENCODING_7BIT) &&
	    !message_text_is_ascii(out, out_len)) {
		part_encode_7bit(part);
		ensure_mime_version(msg);
	}
	g_string_free(text, TRUE);
	g_free(out);
	return TRUE;
}

static gboolean
is_plain_text_body(GMimeObject *body)
{
	GMimeContentDisposition *d;

	if (!GMIME_IS_TEXT_PART(body) ||
	    !g_mime_content_type_is_type(g_mime_object_get_content_type(body),
					 "text", "plain"))
		return FALSE;
	d = g_mime_object_get_content_disposition(body);
	return d == NULL || !g_mime_content_disposition_is_attachment(d);
}

static gboolean
is_plain_mixed(GMimeObject *body)
{
	return GMIME_IS_MULTIPART(body) && !GMIME_IS_MULTIPART_SIGNED(body) &&
	       !GMIME_IS_MULTIPART_ENCRYPTED(body) &&
	       g_mime_content_type_is_type(g_mime_object_get_content_type(body),
					   "multipart", "mixed");
}

static void
decorate_mime(GMimeMessage *msg, const char *header, const char *footer)
{
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	GMimeMultipart *mixed;
	GMimeObject *part;

	if (body != NULL && is_plain_text_body(body) &&
	    decorate_inline(msg, GMIME_PART(body), header, footer))
		return;
	if (body != NULL && is_plain_mixed(body)) {
		mixed = GMIME_MULTIPART(body);
		if (*header != '\0') {
			part = text_part_new(header);
			g_mime_multipart_insert(mixed, 0, part);
			g_object_unref(part);
		}
		if (*footer != '\0') {
			part = text_part_new(footer);
			g_mime_multipart_add(mixed, part);
			g_object_unref(part);
		}
		return;
	}
	/* The whole body, its Content-* headers with it, becomes the middle
	 * part: nothing inside it changes. */
	mixed = g_mime_multipart_new_with_subtype("mixed");
	if (*header != '\0') {
		part = text_part_new(header);
		g_mime_multipart_add(mixed, part);
		g_object_unref(part);
	}
	if (body != NULL) {
		/* A body without a Content-Type header (not MIME) must say
		 * what it is once it is a part. */
		GMimeHeaderList *hl = g_mime_object_get_header_list(body);

		if (!g_mime_header_list_contains(hl, "Content-Type")) {
			char *ct = g_mime_content_type_get_mime_type(
				g_mime_object_get_content_type(body));

			g_mime_object_set_header(body, "Content-Type", ct, NULL);
			g_free(ct);
		}
		g_mime_multipart_add(mixed, body);
	}
	if (*footer != '\0') {
		part = text_part_new(footer);
		g_mime_multipart_add(mixed, part);
		g_object_unref(part);
	}
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(mixed));
	g_object_unref(mixed);
	ensure_mime_version(msg);
}

int
decorate_message_member(GMimeMessage *msg, struct list *l,
			const struct member *m, GError **error)
{
	char *tmpl_h = list_get(l, "msg_header", NULL);
	char *tmpl_f = list_get(l, "msg_footer", NULL);
	char *header = decorate_text(l, tmpl_h, m);
	char *footer = decorate_text(l, tmpl_f, m);

	message_init();
	if (*header != '\0' || *footer != '\0')
		decorate_mime(msg, header, footer);
	g_free(tmpl_h);
	g_free(tmpl_f);
	g_free(header);
	g_free(footer);
	return 0;
}

int
decorate_message(GMimeMessage *msg, struct list *l, const char *member_addr,
		 GError **error)
{
	struct member m = { 0 };
	int ret;

	if (member_addr == NULL)
		return decorate_message_member(msg, l, NULL, error);
	if ((m.addr = address_normalise(member_addr, error)) == NULL)
		return -1;
	m.key = address_key(m.addr);
	m.name = (char *)"";
	m.language = (char *)"";
	ret = decorate_message_member(msg, l, &m, error);
	g_free(m.addr);
	g_free(m.key);
	return ret;
}

/* --- once per job ---------------------------------------------------------- */

struct decorate_job {
	struct list *list;
	char *tmpl[2];		/* msg_header, msg_footer */
	char *fixed[2];		/* the text, when the template names no
				 * user_* variable (the same for everyone),
				 * else NULL */
	GHashTable *vars;	/* the list's variables, read only */
};

struct decorate_job *
decorate_job_new(struct list *l)
{
	struct decorate_job *dj = g_new0(struct decorate_job, 1);

	dj->list = l;
	dj->tmpl[0] = list_get(l, "msg_header", NULL);
	dj->tmpl[1] = list_get(l, "msg_footer", NULL);
	dj->vars = template_vars_for_list(l);
	for (guint i = 0; i < 2; i++)
		if (blank(dj->tmpl[i]))
			dj->fixed[i] = g_strdup("");
		else if (strstr(dj->tmpl[i], "user_") == NULL)
			dj->fixed[i] = expand(dj->tmpl[i], dj->vars);
	return dj;
}

/* Template i for m: the fixed text, or filled in with a copy of the list's
 * variables and m's. */
static char *
job_text(const struct decorate_job *dj, guint i, const struct member *m)
{
	GHashTable *vars;
	GHashTableIter it;
	gpointer k, v;
	char *out;

	if (dj->fixed[i] != NULL)
		return g_strdup(dj->fixed[i]);
	vars = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_hash_table_iter_init(&it, dj->vars);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_hash_table_insert(vars, g_strdup(k), g_strdup(v));
	member_vars(vars, dj->list, m);
	out = expand(dj->tmpl[i], vars);
	g_hash_table_destroy(vars);
	return out;
}

void
decorate_job_apply(const struct decorate_job *dj, GMimeMessage *msg,
		   const struct member *m)
{
	char *header = job_text(dj, 0, m), *footer = job_text(dj, 1, m);

	message_init();
	if (*header != '\0' || *footer != '\0')
		decorate_mime(msg, header, footer);
	g_free(header);
	g_free(footer);
}

gboolean
decorate_job_same_for_all(const struct decorate_job *dj)
{
	return dj->fixed[0] != NULL && dj->fixed[1] != NULL;
}

void
decorate_job_free(struct decorate_job **djp)
{
	struct decorate_job *dj = *djp;

	if (dj == NULL)
		return;
	for (guint i = 0; i < 2; i++) {
		g_free(dj->tmpl[i]);
		g_free(dj->fixed[i]);
	}
	g_hash_table_destroy(dj->vars);
	g_free(dj);
	*djp = NULL;
}

/* --- digests ---------------------------------------------------------------- */

/* The text of part (UTF-8) with the first (header) or last (footer)
 * occurrence of generic replaced by personal.  The part becomes UTF-8, 8bit when not ASCII
 * (the encoding a digest's parts have). */
static void
digest_part_replace(GMimeTextPart *tp, const char *generic,
		    const char *personal, gboolean last)
{
	char *text = g_mime_text_part_get_text(tp), *at = NULL, *p;
	GString *out;

	if (text == NULL)
		return;
	for (p = text; (p = strstr(p, generic)) != NULL; p++) {
		at = p;
		if (!last)
			break;
	}
	if (at != NULL) {
		out = g_string_new_len(text, at - text);
		g_string_append(out, personal);
		g_string_append(out, at + strlen(generic));
		/* UTF-8 whatever it was: the text is UTF-8 now, and a
		 * plain digest's may hold any script. */
		g_mime_text_part_set_charset(tp, "utf-8");
		part_set_bytes(GMIME_PART(tp), out->str, out->len);
		if (!message_text_is_ascii(out->str, out->len))
			g_mime_part_set_content_encoding(GMIME_PART(tp),
							 GMIME_CONTENT_ENCODING_8BIT);
		g_string_free(out, TRUE);
	}
	g_free(text);
}

static void
digest_replace(GMimeMessage *msg, const char *generic, const char *personal,
	       gboolean last)
{
	GMimeObject *body = g_mime_message_get_mime_part(msg);

	if (body != NULL && GMIME_IS_TEXT_PART(body)) {
		digest_part_replace(GMIME_TEXT_PART(body), generic, personal, last);
	} else if (body != NULL && GMIME_IS_MULTIPART(body)) {
		GMimeMultipart *mp = GMIME_MULTIPART(body);

		for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
			GMimeObject *c = g_mime_multipart_get_part(mp, i);

			if (GMIME_IS_TEXT_PART(c))
				digest_part_replace(GMIME_TEXT_PART(c), generic,
						    personal, last);
		}
	}
}

void
decorate_digest_member(GMimeMessage *msg, struct list *l,
		       const struct member *m)
{
	static const char *const names[] = { "digest_header", "digest_footer" };

	message_init();
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		char *tmpl = list_get(l, names[i], NULL);
		char *generic, *personal;

		if (tmpl == NULL || strstr(tmpl, "%(user_") == NULL) {
			g_free(tmpl);
			continue;	/* the same for everyone: as built */
		}
		generic = decorate_text(l, tmpl, NULL);
		personal = decorate_text(l, tmpl, m);
		if (*generic != '\0')
			digest_replace(msg, generic, personal, i == 1);
		g_free(generic);
		g_free(personal);
		g_free(tmpl);
	}
}
