/*
 * message.c - parsing and writing messages with GMime, and header helpers.
 *
 * GMime's parser is forgiving by design: it repairs broken MIME rather than
 * refusing it, which is what a list wants (a member's odd mail still goes
 * out).  What it cannot make a message of at all is refused here, so that
 * the caller can move the entry to bad/ with a reason.
 *
 * A message with no header at all is refused by message_parse(), which
 * reads what comes from outside: it has two forms, one that starts with a
 * blank line, and one whose only line before the blank line is an mbox
 * "From " line: GMime skips a "From " (or ">From ") line that comes
 * before the first header of a message (it takes it for the separator of
 * an mbox), so `From VM Thu Oct\n\nHi\n`, or just `From userR`, is a
 * message with no header.  This parser used to refuse the first form and
 * take the second, so what it wrote of the second (a blank line first)
 * it could not read back: the pipe took it, the pipeline held it, and the
 * approved post went to bad/.  What herald wrote itself is read with
 * message_parse_stored(), which takes a message with no header: the
 * pipeline may remove every header a post had (an "Approved:" line alone,
 * an anonymous list's cleansing), and what herald writes of that, a blank
 * line and the body, must read back.
 *
 * message_check_round_trip() is the promise every stage relies on: what
 * herald writes of a message, it reads back as the same message
 * (message_same).  The entries check it before storing (entry/accept.c),
 * an approval before sending a held post on, and the fuzzer for every
 * input and for what the pipeline makes of it (fuzz/fuzz-message.c).
 */
#include "mail/message.h"
#include "mail/address.h"
#include "base/base.h"

#include <string.h>

void
message_init(void)
{
	static gsize done;

	if (g_once_init_enter(&done)) {
		g_mime_init();
		g_once_init_leave(&done, 1);
	}
}

size_t
message_header_length(const char *data, size_t len)
{
	/* An empty header block: the blank line comes first. */
	if (len > 0 && data[0] == '\n')
		return 1;
	if (len > 1 && data[0] == '\r' && data[1] == '\n')
		return 2;
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] != '\n')
			continue;
		if (data[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* Whether GMime made a message without a single header: none of its own
 * and none on its body part (GMime moves Content-* headers there). */
static gboolean
headerless(GMimeMessage *msg)
{
	GMimeObject *part = g_mime_message_get_mime_part(msg);

	if (g_mime_header_list_get_count(
		g_mime_object_get_header_list(GMIME_OBJECT(msg))) > 0)
		return FALSE;
	return part == NULL || g_mime_header_list_get_count(
		g_mime_object_get_header_list(part)) == 0;
}

/* Whether name is a header field name (RFC 5322: printable ASCII but the
 * colon, at least one). */
static gboolean
field_name(const char *name)
{
	if (name == NULL || *name == '\0')
		return FALSE;
	for (const char *p = name; *p != '\0'; p++)
		if (*p < 33 || *p > 126 || *p == ':')
			return FALSE;
	return TRUE;
}

/* Drops the headers GMime kept whose name is no field name (a line
 * ":Sender: x" after the first header is kept as a header named "").
 * GMime drops such a line when it comes first, so if the pipeline removes
 * the headers before it, what herald writes starts with it and does not
 * read back (found by the fuzzer).  Dropped at every parse, so the
 * message reads the same at every stage. */
static void
drop_bad_headers(GMimeObject *obj)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);

	for (int i = g_mime_header_list_get_count(hl) - 1; i >= 0; i--)
		if (!field_name(g_mime_header_get_name(
			g_mime_header_list_get_header_at(hl, i))))
			g_mime_header_list_remove_at(hl, i);
}

/* Parses the bytes of array, which the message takes (GMime's parts refer
 * to the stream, which owns the array); with need_header, a message
 * without one is refused. */
static GMimeMessage *
parse_array(GByteArray *array, gboolean need_header, GError **error)
{
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;
	const char *data = (const char *)array->data;
	size_t len = array->len;
	size_t hlen = message_header_length(data, len);

	message_init();
	/* A NUL in the header would end the header line it is in when GMime
	 * writes it out, so that what follows (body lines, say) would become
	 * headers: a header injection.  NULs in the header become spaces. */
	for (size_t i = 0; i < hlen; i++)
		if (array->data[i] == '\0')
			array->data[i] = ' ';
	stream = g_mime_stream_mem_new_with_byte_array(array);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	/* Nothing at all is no message (GMime would make an empty one). */
	msg = len > 0 ? g_mime_parser_construct_message(parser, NULL) : NULL;
	g_object_unref(parser);
	g_object_unref(stream);
	if (msg != NULL) {
		drop_bad_headers(GMIME_OBJECT(msg));
		if (g_mime_message_get_mime_part(msg) != NULL)
			drop_bad_headers(g_mime_message_get_mime_part(msg));
		if (need_header && headerless(msg))
			g_clear_object(&msg);	/* see the top of this file */
	}
	if (msg == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "not a message: no header could be read");
		return NULL;
	}
	return msg;
}

static GMimeMessage *
parse_copy(const char *data, size_t len, gboolean need_header, GError **error)
{
	GByteArray *copy;

	if (len > G_MAXUINT) {	/* GByteArray's limit; no entry takes it */
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "not a message: %zu bytes is too large", len);
		return NULL;
	}
	copy = g_byte_array_sized_new((guint)len);
	g_byte_array_append(copy, (const guint8 *)data, (guint)len);
	return parse_array(copy, need_header, error);
}

GMimeMessage *
message_parse(const char *data, size_t len, GError **error)
{
	return parse_copy(data, len, TRUE, error);
}

GMimeMessage *
message_parse_stored(const char *data, size_t len, GError **error)
{
	return parse_copy(data, len, FALSE, error);
}

GByteArray *
message_to_bytes(GMimeMessage *msg)
{
	GMimeStream *stream = g_mime_stream_mem_new();
	GByteArray *out;

	g_mime_object_write_to_stream(GMIME_OBJECT(msg), NULL, stream);
	/* The stream would free the array's data with itself: take it. */
	out = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	g_object_unref(stream);
	return out;
}

/* Whether the bytes are all line-end characters. */
static gboolean
all_line_ends(const guint8 *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\n' && p[i] != '\r')
			return FALSE;
	return TRUE;
}

/* Reads up to size bytes but its CRs; 0 at the end (or on a read error,
 * which a memory stream does not have).  CRs do not count: GMime writes LF
 * line ends, and takes one CR off a run of them before an LF ("\r\r\n",
 * which real bounces hold) on each write. */
static size_t
fill(GMimeStream *s, guint8 *buf, size_t size)
{
	size_t kept = 0;

	while (s != NULL && kept == 0) {
		ssize_t n = g_mime_stream_read(s, (char *)buf, size);

		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != '\r')
				buf[kept++] = buf[i];
	}
	return kept;
}

/* Whether two streams hold the same bytes but for CRs and for line ends
 * at the end, compared a block at a time (a part may be tens of
 * megabytes): equal up to where they first differ, and nothing but line
 * ends after that in either.  GMime adds a line end to a part that lacked
 * one and a blank line before a boundary on each write. */
static gboolean
stream_same(GMimeStream *sa, GMimeStream *sb)
{
	enum { BLOCK = 16384 };
	guint8 *ba = g_malloc(BLOCK), *bb = g_malloc(BLOCK);
	size_t na = 0, nb = 0, ia = 0, ib = 0;
	gboolean same = TRUE, diverged = FALSE;

	if (sa != NULL)
		g_mime_stream_reset(sa);
	if (sb != NULL)
		g_mime_stream_reset(sb);
	for (;;) {
		if (ia == na) {
			na = fill(sa, ba, BLOCK);
			ia = 0;
		}
		if (ib == nb) {
			nb = fill(sb, bb, BLOCK);
			ib = 0;
		}
		if (na == 0 && nb == 0)
			break;
		if (!diverged && na > 0 && nb > 0) {
			while (ia < na && ib < nb && ba[ia] == bb[ib]) {
				ia++;
				ib++;
			}
			if (ia < na && ib < nb)
				diverged = TRUE;
			continue;
		}
		/* One has ended or they differ: the rest of each must be
		 * line ends. */
		diverged = TRUE;
		if (!all_line_ends(ba + ia, na - ia) ||
		    !all_line_ends(bb + ib, nb - ib)) {
			same = FALSE;
			break;
		}
		ia = na;
		ib = nb;
	}
	if (sa != NULL)
		g_mime_stream_reset(sa);
	if (sb != NULL)
		g_mime_stream_reset(sb);
	g_free(ba);
	g_free(bb);
	return same;
}

/* A preamble or epilogue as it reads: without CRs, no line ends at the
 * end.  Newly allocated. */
static char *
text_lf(const char *t)
{
	char *out = g_strdup(t != NULL ? t : ""), *w = out;
	size_t len;

	for (const char *r = out; *r != '\0'; r++)
		if (*r != '\r')
			*w++ = *r;
	*w = '\0';
	len = strlen(out);
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = '\0';
	return out;
}

/* stream_same for two strings (a multipart's preamble and epilogue). */
static gboolean
text_same(const char *a, const char *b)
{
	char *x = text_lf(a), *y = text_lf(b);
	gboolean same = strcmp(x, y) == 0;

	g_free(x);
	g_free(y);
	return same;
}

static gboolean object_same(GMimeObject *a, GMimeObject *b, GString *where,
			    char **why_r);

static gboolean
differ(char **why_r, GString *where, const char *what)
{
	if (why_r != NULL && *why_r == NULL)
		*why_r = g_strdup_printf("%s %s", where->len > 0 ? where->str
					 : "the message", what);
	return FALSE;
}

/* A header's value as it reads: unfolded, without the CRs of CRLF line
 * ends, trimmed.  How GMime folds and ends lines when it writes is not the
 * sender's text. */
static char *
header_text(GMimeHeader *h)
{
	const char *raw = g_mime_header_get_raw_value(h);
	char *v = g_mime_utils_header_unfold(raw != NULL ? raw : "");
	char *w = v;

	for (char *r = v; *r != '\0'; r++)
		if (*r != '\r')
			*w++ = *r;
	*w = '\0';
	return g_strstrip(v);
}

/* The same headers, in the same order, with the same values. */
static gboolean
headers_same(GMimeObject *a, GMimeObject *b, GString *where, char **why_r)
{
	GMimeHeaderList *ha = g_mime_object_get_header_list(a);
	GMimeHeaderList *hb = g_mime_object_get_header_list(b);
	int n = g_mime_header_list_get_count(ha);

	if (n != g_mime_header_list_get_count(hb))
		return differ(why_r, where, "has a different number of headers");
	for (int i = 0; i < n; i++) {
		GMimeHeader *x = g_mime_header_list_get_header_at(ha, i);
		GMimeHeader *y = g_mime_header_list_get_header_at(hb, i);
		char *vx = header_text(x), *vy = header_text(y);
		gboolean same = g_strcmp0(g_mime_header_get_name(x),
					  g_mime_header_get_name(y)) == 0 &&
				strcmp(vx, vy) == 0;

		g_free(vx);
		g_free(vy);
		if (!same) {
			char *what = g_strdup_printf("has header %d (%s) changed",
						     i + 1, g_mime_header_get_name(x));
			differ(why_r, where, what);
			g_free(what);
			return FALSE;
		}
	}
	return TRUE;
}

/* A message with nothing in it: no header, and no body or an empty one.
 * GMime makes one of an empty message/rfc822 part, and none of what it
 * writes for it. */
static gboolean
message_empty(GMimeMessage *m)
{
	GMimeObject *body;
	GMimeDataWrapper *w;

	if (m == NULL)
		return TRUE;
	if (g_mime_header_list_get_count(
		g_mime_object_get_header_list(GMIME_OBJECT(m))) > 0)
		return FALSE;
	if ((body = g_mime_message_get_mime_part(m)) == NULL)
		return TRUE;
	if (!GMIME_IS_PART(body) || g_mime_header_list_get_count(
		g_mime_object_get_header_list(body)) > 0)
		return FALSE;
	w = g_mime_part_get_content(GMIME_PART(body));
	return w == NULL || stream_same(g_mime_data_wrapper_get_stream(w), NULL);
}

static gboolean
message_same_at(GMimeMessage *a, GMimeMessage *b, GString *where,
		char **why_r)
{
	if (a == NULL || b == NULL)
		return (message_empty(a) && message_empty(b)) ||
		       differ(why_r, where, "has lost its message");
	if (!headers_same(GMIME_OBJECT(a), GMIME_OBJECT(b), where, why_r))
		return FALSE;
	return object_same(g_mime_message_get_mime_part(a),
			   g_mime_message_get_mime_part(b), where, why_r);
}

static gboolean
object_same(GMimeObject *a, GMimeObject *b, GString *where, char **why_r)
{
	gsize mark = where->len;
	gboolean same = TRUE;

	if (a == NULL || b == NULL)
		return a == b || differ(why_r, where, "has lost its body");
	if (G_OBJECT_TYPE(a) != G_OBJECT_TYPE(b))
		return differ(why_r, where, "is another kind of part");
	if (!headers_same(a, b, where, why_r))
		return FALSE;
	if (GMIME_IS_MULTIPART(a)) {
		GMimeMultipart *ma = GMIME_MULTIPART(a), *mb = GMIME_MULTIPART(b);
		int n = g_mime_multipart_get_count(ma);

		if (n != g_mime_multipart_get_count(mb))
			return differ(why_r, where, "has a different number of "
				      "parts");
		if (!text_same(g_mime_multipart_get_prologue(ma),
			       g_mime_multipart_get_prologue(mb)) ||
		    !text_same(g_mime_multipart_get_epilogue(ma),
			       g_mime_multipart_get_epilogue(mb)))
			return differ(why_r, where, "has another preamble or "
				      "epilogue");
		for (int i = 0; same && i < n; i++) {
			g_string_append_printf(where, "%spart %d",
					       where->len > 0 ? ", " : "", i + 1);
			same = object_same(g_mime_multipart_get_part(ma, i),
					   g_mime_multipart_get_part(mb, i),
					   where, why_r);
			g_string_truncate(where, mark);
		}
	} else if (GMIME_IS_MESSAGE_PART(a)) {
		g_string_append_printf(where, "%sthe attached message",
				       where->len > 0 ? ", " : "");
		same = message_same_at(
			g_mime_message_part_get_message(GMIME_MESSAGE_PART(a)),
			g_mime_message_part_get_message(GMIME_MESSAGE_PART(b)),
			where, why_r);
		g_string_truncate(where, mark);
	} else if (GMIME_IS_PART(a)) {
		GMimeDataWrapper *wa = g_mime_part_get_content(GMIME_PART(a));
		GMimeDataWrapper *wb = g_mime_part_get_content(GMIME_PART(b));

		if (!stream_same(wa != NULL ? g_mime_data_wrapper_get_stream(wa)
				 : NULL,
				 wb != NULL ? g_mime_data_wrapper_get_stream(wb)
				 : NULL))
			return differ(why_r, where, "has other content");
	}
	return same;
}

gboolean
message_same(GMimeMessage *a, GMimeMessage *b, char **why_r)
{
	GString *where = g_string_new(NULL);
	gboolean same;

	if (why_r != NULL)
		*why_r = NULL;
	same = message_same_at(a, b, where, why_r);
	g_string_free(where, TRUE);
	return same;
}

int
message_check_round_trip(const char *data, size_t len, gboolean need_header,
			 GError **error)
{
	GMimeMessage *first, *again;
	GError *local = NULL;
	char *why = NULL;
	int ret = -1;

	if ((first = parse_copy(data, len, need_header, error)) == NULL)
		return -1;
	/* What herald wrote is read as stored.  The written copy is handed to
	 * the second parse, not copied: at most three times the message is
	 * in memory (data, and what each parse holds). */
	again = parse_array(message_to_bytes(first), FALSE, &local);
	if (again == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "not a message herald can store: what it writes "
			    "of it does not read back (%s)", local->message);
		g_error_free(local);
	} else if (!message_same(first, again, &why)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "not a message herald can store: it does not read "
			    "back the same (%s)", why);
		g_free(why);
	} else {
		ret = 0;
	}
	g_clear_object(&again);
	g_object_unref(first);
	return ret;
}

/* GMime keeps a header's raw value as it was folded on the wire (leading
 * space, CRLF continuations); callers want it unfolded.  The unfolded form
 * is cached on the header object beside a copy of the raw value it came
 * from, and recomputed when the header has been changed since. */
struct unfolded {
	char *raw;
	char *value;
};

static void
unfolded_free(gpointer p)
{
	struct unfolded *u = p;

	g_free(u->raw);
	g_free(u->value);
	g_free(u);
}

gboolean
message_no_archive(GMimeMessage *msg)
{
	const char *arch = message_header(msg, "X-Archive");

	return message_header(msg, "X-No-Archive") != NULL ||
	       (arch != NULL && g_ascii_strncasecmp(arch, "no", 2) == 0);
}

const char *
message_header(GMimeMessage *msg, const char *name)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	GMimeHeader *h = g_mime_header_list_get_header(hl, name);
	struct unfolded *u;
	const char *raw;

	if (h == NULL)
		return NULL;
	raw = g_mime_header_get_raw_value(h);
	if (raw == NULL)
		return NULL;
	u = g_object_get_data(G_OBJECT(h), "herald-unfolded");
	if (u == NULL || strcmp(u->raw, raw) != 0) {
		u = g_new0(struct unfolded, 1);
		u->raw = g_strdup(raw);
		u->value = g_strstrip(g_mime_utils_header_unfold(raw));
		g_object_set_data_full(G_OBJECT(h), "herald-unfolded", u,
				       unfolded_free);
	}
	return u->value;
}

char *
message_header_decoded(GMimeMessage *msg, const char *name)
{
	const char *value = message_header(msg, name);

	if (value == NULL)
		return NULL;
	return g_strstrip(g_mime_utils_header_decode_text(NULL, value));
}

void
message_header_remove_all(GMimeMessage *msg, const char *name)
{
	GMimeObject *obj = GMIME_OBJECT(msg);

	while (g_mime_object_remove_header(obj, name))
		;
}

void
message_header_set(GMimeMessage *msg, const char *name, const char *value)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));

	/* GMime sets the first one in its place (a rewritten Cc stays where
	 * it was), removes the others, and appends when there is none. */
	g_mime_header_list_set(hl, name, value, NULL);
}

void
message_header_append(GMimeMessage *msg, const char *name, const char *value)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));

	/* GMime folds on output; the value is stored raw, as given. */
	g_mime_header_list_append(hl, name, value, NULL);
}

gboolean
message_is_bulk(GMimeMessage *msg)
{
	const char *prec = message_header(msg, "Precedence");

	return prec != NULL && (g_ascii_strcasecmp(prec, "bulk") == 0 ||
				g_ascii_strcasecmp(prec, "junk") == 0 ||
				g_ascii_strcasecmp(prec, "list") == 0);
}

/* Header names compare without regard to case. */
static gboolean
name_in(const char *const *names, const char *name)
{
	for (; *names != NULL; names++)
		if (g_ascii_strcasecmp(*names, name) == 0)
			return TRUE;
	return FALSE;
}

GPtrArray *
message_addresses(GMimeMessage *msg, const char *const *headers)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	int n = g_mime_header_list_get_count(hl);

	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		InternetAddressList *al;

		if (!name_in(headers, g_mime_header_get_name(h)))
			continue;
		al = internet_address_list_parse(NULL,
						 g_mime_header_get_raw_value(h));
		if (al == NULL)
			continue;
		for (int j = 0; j < internet_address_list_length(al); j++) {
			InternetAddress *ia = internet_address_list_get_address(al, j);
			GPtrArray *flat = g_ptr_array_new();

			if (INTERNET_ADDRESS_IS_GROUP(ia)) {
				InternetAddressList *m = internet_address_group_get_members(
					INTERNET_ADDRESS_GROUP(ia));
				for (int k = 0; k < internet_address_list_length(m); k++)
					g_ptr_array_add(flat, internet_address_list_get_address(m, k));
			} else {
				g_ptr_array_add(flat, ia);
			}
			for (guint k = 0; k < flat->len; k++) {
				InternetAddress *a = flat->pdata[k];
				char *key;

				if (!INTERNET_ADDRESS_IS_MAILBOX(a))
					continue;
				key = address_key(internet_address_mailbox_get_addr(
					INTERNET_ADDRESS_MAILBOX(a)));
				if (key != NULL)
					g_ptr_array_add(out, key);
			}
			g_ptr_array_free(flat, TRUE);
		}
		g_object_unref(al);
	}
	return out;
}

static void
find_text(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	GMimeTextPart **found = data;
	GMimeContentDisposition *d;

	if (*found != NULL || !GMIME_IS_TEXT_PART(part))
		return;
	if (!g_mime_content_type_is_type(g_mime_object_get_content_type(part),
					 "text", "plain"))
		return;
	d = g_mime_object_get_content_disposition(part);
	if (d != NULL && g_mime_content_disposition_is_attachment(d))
		return;
	*found = GMIME_TEXT_PART(part);
}

GMimeTextPart *
message_first_text_part(GMimeMessage *msg)
{
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	GMimeTextPart *found = NULL;

	if (body == NULL)
		return NULL;
	if (GMIME_IS_MULTIPART(body))
		g_mime_multipart_foreach(GMIME_MULTIPART(body), find_text, &found);
	else
		find_text(NULL, body, &found);
	return found;
}

void
message_set_body_attached(GMimeMessage *msg, GMimeObject *text,
			  GMimeMessage *attached)
{
	GMimeMessagePart *part;
	GMimeMultipart *mixed;

	if (attached == NULL) {
		g_mime_message_set_mime_part(msg, text);
		return;
	}
	part = g_mime_message_part_new_with_message("rfc822", attached);
	if (text == NULL) {
		g_mime_message_set_mime_part(msg, GMIME_OBJECT(part));
	} else {
		mixed = g_mime_multipart_new_with_subtype("mixed");
		g_mime_multipart_add(mixed, text);
		g_mime_multipart_add(mixed, GMIME_OBJECT(part));
		g_mime_message_set_mime_part(msg, GMIME_OBJECT(mixed));
		g_object_unref(mixed);
	}
	g_object_unref(part);
}

gboolean
message_text_is_ascii(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)data[i] >= 0x80)
			return FALSE;
	return TRUE;
}
