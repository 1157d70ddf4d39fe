/*
 * message.c - parsing and writing messages with GMime, and header helpers.
 *
 * GMime's parser is forgiving by design: it repairs broken MIME rather than
 * refusing it, which is what a list wants (a member's odd mail still goes
 * out).  What it cannot make a message of at all (no header) is refused
 * here, so that the caller can move the entry to bad/ with a reason.
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

GMimeMessage *
message_parse(const char *data, size_t len, GError **error)
{
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;
	size_t hlen = message_header_length(data, len);
	gboolean headless = len == 0 || data[0] == '\n' ||
		(len > 1 && data[0] == '\r' && data[1] == '\n');
	char *copy = NULL;

	message_init();
	/* A NUL in the header would end the header line it is in when GMime
	 * writes it out, so that what follows (body lines, say) would become
	 * headers: a header injection.  NULs in the header become spaces. */
	if (memchr(data, '\0', hlen) != NULL) {
		copy = g_memdup2(data, len);
		for (size_t i = 0; i < hlen; i++)
			if (copy[i] == '\0')
				copy[i] = ' ';
		data = copy;
	}
	/* The stream copies data (GMime's mem stream owns its buffer). */
	stream = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	g_free(copy);
	/* Starting with a blank line: no header at all (GMime would make a
	 * message of the rest). */
	if (msg != NULL && headless)
		g_clear_object(&msg);
	if (msg == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "not a message: no header could be read");
		return NULL;
	}
	return msg;
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
