/*
 * build.c - the two renditions of a digest issue, built from its posts
 * and the list alone (no files, no clock: the caller gives the date and
 * the Message-ID), so that golden files can pin every byte.
 *
 *   MIME (RFC 2046): multipart/mixed of the masthead, digest_header, the
 *   table of contents ("Today's Topics"), a multipart/digest holding each
 *   post whole as message/rfc822 with only the kept headers, and
 *   digest_footer; each text part UTF-8.
 *
 *   plain (RFC 1153): one text/plain UTF-8 part: the masthead, header and
 *   table of contents, a line of 70 dashes, then each post with the kept
 *   headers in RFC 1153's order and its text (HTML made text, other parts
 *   a note saying what was left out), each followed by 30 dashes, the
 *   footer and the "End of ..." line.  A body line that is itself 30
 *   dashes gets a leading space, so it cannot be taken for a separator.
 *
 * Both carry From LIST-request, To and Reply-To the list, the Subject of
 * the masthead template and the list's RFC 2369/2919 headers
 * (list/headers.h, the code posts get them from).  Boundaries are derived
 * from a hash of the posts, so the same issue is the same bytes.
 */
#include "digest/digest.h"
#include "archive/archive.h"
#include "base/base.h"
#include "base/log.h"
#include "list/decorate.h"
#include "list/headers.h"
#include "list/listurls.h"
#include "list/template.h"
#include "mail/html2text.h"
#include "mail/message.h"

#include <string.h>

#define PLAIN_RULE "----------------------------------------------------------------------"
#define PLAIN_SEP "------------------------------"

/* Headers a post keeps inside a MIME digest (and every Content-*). */
static const char *const mime_keep[] = {
	"Date", "From", "To", "Cc", "Subject", "Message-ID", "Keywords",
	"In-Reply-To", "References", "Reply-To", "MIME-Version", NULL,
};
/* And in a plain digest, in RFC 1153's order. */
static const char *const plain_keep[] = {
	"Date", "From", "To", "Cc", "Subject", "Message-ID", "Keywords", NULL,
};

static gboolean
kept(const char *name, const char *const *keep)
{
	if (g_ascii_strncasecmp(name, "Content-", 8) == 0)
		return TRUE;
	for (const char *const *k = keep; *k != NULL; k++)
		if (g_ascii_strcasecmp(name, *k) == 0)
			return TRUE;
	return FALSE;
}

/* --- the common parts ------------------------------------------------------ */

struct texts {
	char *subject;		/* "<real_name> Digest, Vol V, Issue N" */
	char *masthead;
	char *header, *footer;	/* "" when empty */
	char *toc;
	char *boundary;		/* from the posts' hash */
};

static void
texts_clear(struct texts *t)
{
	g_free(t->subject);
	g_free(t->masthead);
	g_free(t->header);
	g_free(t->footer);
	g_free(t->toc);
	g_free(t->boundary);
}

/* One post's subject for the table: decoded, on one line, without the
 * list's own prefix (every post has it: it tells nothing here). */
static char *
toc_subject(struct list *l, GMimeMessage *post)
{
	char *s = message_header_decoded(post, "Subject");
	char *prefix = list_get(l, "subject_prefix", NULL);
	char *p, *out;

	if (s == NULL || *g_strstrip(s) == '\0') {
		g_free(s);
		g_free(prefix);
		return g_strdup("(no subject)");
	}
	for (p = s; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	p = s;
	if (prefix != NULL && *g_strstrip(prefix) != '\0' &&
	    strstr(prefix, "%") == NULL) {
		char *at = strstr(p, prefix);

		/* "[Dev] x" and "Re: [Dev] x": the prefix where cookheaders
		 * leaves it, after any "Re:". */
		if (at != NULL && (at == p || (at - p == 4 &&
					       g_ascii_strncasecmp(p, "Re: ", 4) == 0))) {
			char *rest = at + strlen(prefix);

			while (*rest == ' ')
				rest++;
			memmove(at, rest, strlen(rest) + 1);
		}
	}
	out = g_strdup(g_strstrip(p));
	g_free(prefix);
	g_free(s);
	return out;
}

/* The poster as the table names them: From's display name, else the
 * address. */
static char *
toc_sender(GMimeMessage *post)
{
	InternetAddressList *from = g_mime_message_get_from(post);
	InternetAddress *a;
	const char *name;

	if (from == NULL || internet_address_list_length(from) == 0)
		return g_strdup("(no sender)");
	a = internet_address_list_get_address(from, 0);
	name = internet_address_get_name(a);
	if (name != NULL && *name != '\0')
		return g_strdup(name);
	if (INTERNET_ADDRESS_IS_MAILBOX(a))
		return g_strdup(internet_address_mailbox_get_addr(
			INTERNET_ADDRESS_MAILBOX(a)));
	return g_strdup("(no sender)");
}

static char *
build_toc(struct list *l, const struct digest_issue *d)
{
	GString *s = g_string_new("Today's Topics:\n\n");

	for (guint i = 0; i < d->posts->len; i++) {
		char *subj = toc_subject(l, d->posts->pdata[i]);
		char *who = toc_sender(d->posts->pdata[i]);

		g_string_append_printf(s, "%4u. %s (%s)\n", i + 1, subj, who);
		g_free(subj);
		g_free(who);
	}
	return g_string_free(s, FALSE);
}

static char *
boundary_of(const struct digest_issue *d)
{
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA1);
	char head[64], *out;

	g_snprintf(head, sizeof head, "%lld/%lld", (long long)d->volume,
		   (long long)d->issue);
	g_checksum_update(ck, (const guchar *)head, -1);
	for (guint i = 0; i < d->posts->len; i++) {
		GByteArray *b = message_to_bytes(d->posts->pdata[i]);

		g_checksum_update(ck, b->data, b->len);
		g_byte_array_unref(b);
	}
	out = g_strdup_printf("=_digest_%.24s", g_checksum_get_string(ck));
	g_checksum_free(ck);
	return out;
}

static int
texts_make(struct list *l, const struct digest_issue *d, struct texts *t,
	   GError **error)
{
	GHashTable *vars = template_vars_for_list(l);
	struct template_text tt = { 0 };
	char *tmpl;
	int r;

	memset(t, 0, sizeof *t);
	template_vars_take(vars, "volume", g_strdup_printf("%lld", (long long)d->volume));
	template_vars_take(vars, "issue", g_strdup_printf("%lld", (long long)d->issue));
	r = template_render(l, "masthead", NULL, vars, &tt, error);
	g_hash_table_unref(vars);
	if (r < 0)
		return -1;
	t->subject = g_steal_pointer(&tt.subject);
	t->masthead = g_steal_pointer(&tt.body);
	template_text_clear(&tt);
	tmpl = list_get(l, "digest_header", NULL);
	t->header = decorate_text(l, tmpl != NULL ? tmpl : "", NULL);
	g_free(tmpl);
	tmpl = list_get(l, "digest_footer", NULL);
	t->footer = decorate_text(l, tmpl != NULL ? tmpl : "", NULL);
	g_free(tmpl);
	t->toc = build_toc(l, d);
	t->boundary = boundary_of(d);
	return 0;
}

/* The digest's own headers. */
static GMimeMessage *
digest_message(struct list *l, const struct digest_issue *d,
	       const struct texts *t)
{
	GMimeMessage *msg = g_mime_message_new(TRUE);
	char *request = list_address(l, "-request"), *addr = list_address(l, "");
	GDateTime *date = g_date_time_new_from_unix_utc(d->date);

	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, NULL, request);
	g_mime_message_set_subject(msg, t->subject, "utf-8");
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, addr);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_REPLY_TO, NULL, addr);
	g_mime_message_set_date(msg, date);
	if (d->message_id != NULL) {
		char *id = g_strndup(d->message_id + (*d->message_id == '<'),
				     strcspn(d->message_id + (*d->message_id == '<'), ">"));
		g_mime_message_set_message_id(msg, id);
		g_free(id);
	}
	message_header_set(msg, "X-BeenThere", list_fqdn(l));
	message_header_set(msg, "Precedence", "list");
	headers_list(msg, l);
	g_date_time_unref(date);
	g_free(addr);
	g_free(request);
	return msg;
}

/* A UTF-8 text part, 8bit when it is not ASCII: a plain digest stays
 * readable as it is stored (the MTA converts for a 7-bit next hop). */
static GMimeObject *
text_part(const char *text, const char *description)
{
	GMimeTextPart *p = g_mime_text_part_new_with_subtype("plain");
	GMimeContentEncoding enc;

	g_mime_text_part_set_text(p, text);
	enc = g_mime_part_get_best_content_encoding(GMIME_PART(p),
						    GMIME_ENCODING_CONSTRAINT_8BIT);
	/* GMime leaves 8-bit text undeclared (the default, 7bit) when its
	 * lines are short enough: say what it is. */
	if (!message_text_is_ascii(text, strlen(text)) &&
	    (enc == GMIME_CONTENT_ENCODING_DEFAULT || enc == GMIME_CONTENT_ENCODING_7BIT))
		enc = GMIME_CONTENT_ENCODING_8BIT;
	g_mime_part_set_content_encoding(GMIME_PART(p), enc);
	if (description != NULL)
		g_mime_object_set_header(GMIME_OBJECT(p), "Content-Description",
					 description, NULL);
	return GMIME_OBJECT(p);
}

static void
filter_headers(GMimeObject *obj, const char *const *keep)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);

	for (int i = g_mime_header_list_get_count(hl) - 1; i >= 0; i--) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);

		if (!kept(g_mime_header_get_name(h), keep))
			g_mime_header_list_remove_at(hl, i);
	}
}

/* --- MIME ------------------------------------------------------------------ */

static void
add_text(GMimeMultipart *mp, const char *text, const char *description)
{
	GMimeObject *p;

	if (*text == '\0')
		return;
	p = text_part(text, description);
	g_mime_multipart_add(mp, p);
	g_object_unref(p);
}

/* A copy of post with only the kept headers (the post itself stays). */
static GMimeMessage *
post_copy(GMimeMessage *post, GError **error)
{
	GByteArray *b = message_to_bytes(post);
	GMimeMessage *copy = message_parse_stored((const char *)b->data, b->len,
						  error);

	g_byte_array_unref(b);
	if (copy != NULL)
		filter_headers(GMIME_OBJECT(copy), mime_keep);
	return copy;
}

GMimeMessage *
digest_build_mime(struct list *l, const struct digest_issue *d,
		  GError **error)
{
	struct texts t;
	GMimeMessage *msg = NULL;
	GMimeMultipart *mixed = NULL, *dig = NULL;
	char *desc, *boundary;

	message_init();
	if (texts_make(l, d, &t, error) < 0)
		return NULL;
	mixed = g_mime_multipart_new_with_subtype("mixed");
	g_mime_multipart_set_boundary(mixed, t.boundary);
	add_text(mixed, t.masthead, t.subject);
	add_text(mixed, t.header, "Digest Header");
	desc = g_strdup_printf("Today's Topics (%u message%s)", d->posts->len,
			       d->posts->len == 1 ? "" : "s");
	add_text(mixed, t.toc, desc);
	g_free(desc);
	dig = g_mime_multipart_new_with_subtype("digest");
	boundary = g_strconcat(t.boundary, "_posts", NULL);
	g_mime_multipart_set_boundary(dig, boundary);
	g_free(boundary);
	for (guint i = 0; i < d->posts->len; i++) {
		GMimeMessage *copy = post_copy(d->posts->pdata[i], error);
		GMimeMessagePart *mp;

		if (copy == NULL)
			goto out;
		mp = g_mime_message_part_new_with_message("rfc822", copy);
		g_mime_multipart_add(dig, GMIME_OBJECT(mp));
		g_object_unref(mp);
		g_object_unref(copy);
	}
	g_mime_multipart_add(mixed, GMIME_OBJECT(dig));
	add_text(mixed, t.footer, "Digest Footer");
	msg = digest_message(l, d, &t);
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(mixed));
out:
	if (dig != NULL)
		g_object_unref(dig);
	g_object_unref(mixed);
	texts_clear(&t);
	return msg;
}

/* --- plain (RFC 1153) ------------------------------------------------------- */

/* The decoded bytes of a leaf part. */
static GByteArray *
part_bytes(GMimePart *p)
{
	GMimeDataWrapper *w = g_mime_part_get_content(p);
	GMimeStream *s = g_mime_stream_mem_new();
	GByteArray *out = g_byte_array_new();

	if (w != NULL)
		g_mime_data_wrapper_write_to_stream(w, s);
	g_byte_array_append(out, g_mime_stream_mem_get_byte_array(
				    GMIME_STREAM_MEM(s))->data,
			    g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s))->len);
	g_object_unref(s);
	return out;
}

static void
append_scrubbed(GString *out, GMimePart *p)
{
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(p));
	char *type = g_mime_content_type_get_mime_type(ct);
	const char *name = g_mime_part_get_filename(p);
	const char *desc = g_mime_part_get_content_description(p);
	GByteArray *b = part_bytes(p);

	g_string_append_printf(out, "[A non-text attachment was left out of "
			       "this digest]\nName: %s\nType: %s\nSize: %u "
			       "bytes\nDesc: %s\n",
			       name != NULL ? name : "not available", type,
			       b->len, desc != NULL ? desc : "not available");
	g_byte_array_unref(b);
	g_free(type);
}

static void append_object_text(GString *out, GMimeObject *obj, int depth);

/* The text of a leaf part: text/plain as written, HTML made text,
 * anything else a note. */
static void
append_leaf(GString *out, GMimePart *p)
{
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(p));
	gboolean attachment = g_mime_part_is_attachment(p);
	const char *charset = g_mime_content_type_get_parameter(ct, "charset");

	if (g_mime_content_type_is_type(ct, "text", "plain") &&
	    (!attachment || charset != NULL)) {
		char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(p));

		g_string_append(out, text != NULL ? text : "");
		g_free(text);
	} else if (g_mime_content_type_is_type(ct, "text", "html") && !attachment) {
		GByteArray *b = part_bytes(p);
		char *text = html2text((const char *)b->data, b->len, charset);

		g_string_append(out, text);
		g_free(text);
		g_byte_array_unref(b);
	} else {
		append_scrubbed(out, p);
	}
	if (out->len > 0 && out->str[out->len - 1] != '\n')
		g_string_append_c(out, '\n');
}

/* multipart/alternative: its plain text if it has some, else its first
 * part it can show. */
static void
append_alternative(GString *out, GMimeMultipart *mp, int depth)
{
	int n = g_mime_multipart_get_count(mp);

	for (int i = 0; i < n; i++) {
		GMimeObject *c = g_mime_multipart_get_part(mp, i);

		if (g_mime_content_type_is_type(g_mime_object_get_content_type(c),
						"text", "plain")) {
			append_object_text(out, c, depth + 1);
			return;
		}
	}
	if (n > 0)
		append_object_text(out, g_mime_multipart_get_part(mp, n - 1),
				   depth + 1);
}

static void
append_object_text(GString *out, GMimeObject *obj, int depth)
{
	if (depth > 32)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);

		if (g_mime_content_type_is_type(g_mime_object_get_content_type(obj),
						"multipart", "alternative")) {
			append_alternative(out, mp, depth);
			return;
		}
		for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
			if (i > 0)
				g_string_append(out, "-------------- next part "
					       "--------------\n");
			append_object_text(out, g_mime_multipart_get_part(mp, i),
					   depth + 1);
		}
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(
			GMIME_MESSAGE_PART(obj));
		char *subj = m != NULL ? message_header_decoded(m, "Subject") : NULL;
		char *from = m != NULL ? message_header_decoded(m, "From") : NULL;

		g_string_append_printf(out, "[An attached message was left out "
				       "of this digest]\nFrom: %s\nSubject: %s\n",
				       from != NULL ? from : "",
				       subj != NULL ? subj : "");
		g_free(subj);
		g_free(from);
	} else if (GMIME_IS_PART(obj)) {
		append_leaf(out, GMIME_PART(obj));
	}
}

/* text with each line that is exactly the separator given a space. */
static void
append_escaped(GString *out, const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		size_t n = strcspn(p, "\n");

		if (n == strlen(PLAIN_SEP) && strncmp(p, PLAIN_SEP, n) == 0)
			g_string_append_c(out, ' ');
		g_string_append_len(out, p, (gssize)n);
		g_string_append_c(out, '\n');
		p += n + (p[n] == '\n');
	}
}

/* The post's text as Mailman's Scrubber makes it for a plain digest, when
 * it has parts that are not text: the archive's text of it, each such part
 * stored under the archive's attachments/ (where archiving the post puts
 * it) and replaced by a stub with its URL.  NULL when there is nothing to
 * scrub, or the files cannot be written (logged; the digest then names
 * the parts without links). */
static char *
scrubbed_text(struct archive *a, const char *url, GMimeMessage *post,
	      time_t date)
{
	GError *e = NULL;
	int count = 0;
	char *text;

	if (a == NULL)
		return NULL;
	text = archive_scrub(a, post, (int64_t)date, url, &count, &e);
	if (text == NULL) {
		log_error("digest", "storing a post's attachments: %s",
			  e->message);
		g_error_free(e);
		return NULL;
	}
	if (count == 0)
		g_clear_pointer(&text, g_free);
	return text;
}

static void
append_post(GString *out, GMimeMessage *post, guint number, char *scrubbed)
{
	GString *body = g_string_new(scrubbed);

	g_string_append_printf(out, "Message: %u\n", number);
	for (const char *const *k = plain_keep; *k != NULL; k++) {
		char *v = message_header_decoded(post, *k);

		if (v != NULL) {
			for (char *c = v; *c != '\0'; c++)
				if (*c == '\n' || *c == '\r')
					*c = ' ';
			g_string_append_printf(out, "%s: %s\n", *k, v);
		}
		g_free(v);
	}
	g_string_append_c(out, '\n');
	if (scrubbed == NULL && g_mime_message_get_mime_part(post) != NULL)
		append_object_text(body, g_mime_message_get_mime_part(post), 0);
	append_escaped(out, body->str);
	g_string_free(body, TRUE);
	g_string_append(out, "\n" PLAIN_SEP "\n\n");
}

GMimeMessage *
digest_build_plain(struct list *l, const struct digest_issue *d,
		   GError **error)
{
	struct texts t;
	struct archive *a;
	GMimeMessage *msg;
	GMimeObject *part;
	GError *e = NULL;
	GString *s;
	char *end, *url;

	message_init();
	if (texts_make(l, d, &t, error) < 0)
		return NULL;
	s = g_string_new(t.masthead);
	if (*t.header != '\0')
		g_string_append_printf(s, "\n%s", t.header);
	g_string_append_printf(s, "\n%s\n" PLAIN_RULE "\n\n", t.toc);
	a = archive_open(l, &e);
	if (a == NULL) {
		log_error("digest", "list %s: the archive, for attachments: %s",
			  list_fqdn(l), e->message);
		g_clear_error(&e);
	}
	url = listurls_archive(l);
	for (guint i = 0; i < d->posts->len; i++) {
		char *text = scrubbed_text(a, url, d->posts->pdata[i], d->date);

		append_post(s, d->posts->pdata[i], i + 1, text);
		g_free(text);
	}
	archive_free(&a);
	g_free(url);
	if (*t.footer != '\0')
		g_string_append_printf(s, "Subject: Digest Footer\n\n%s\n"
				       PLAIN_SEP "\n\n", t.footer);
	end = g_strdup_printf("End of %s", t.subject);
	g_string_append_printf(s, "%s\n", end);
	for (size_t i = g_utf8_strlen(end, -1); i > 0; i--)
		g_string_append_c(s, '*');
	g_string_append_c(s, '\n');
	g_free(end);
	msg = digest_message(l, d, &t);
	part = text_part(s->str, NULL);
	g_mime_message_set_mime_part(msg, part);
	g_object_unref(part);
	g_string_free(s, TRUE);
	texts_clear(&t);
	return msg;
}
