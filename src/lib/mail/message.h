/*
 * message.h - RFC 5322 messages as GMime objects: parse, write, and the
 * header helpers every pipeline handler needs.
 *
 * GMime does the parsing (MIME structure, RFC 2047, charsets); this module
 * adds what herald wants on top: a parse that never fails on bad input
 * (GMime repairs what it can; an input with no header at all is refused),
 * bytes out exactly as GMime writes them, and header access by name
 * without the caller juggling GMimeHeaderList.
 */
#ifndef HERALD_MESSAGE_H
#define HERALD_MESSAGE_H

#include <glib.h>
#include <gmime/gmime.h>

/* g_mime_init() once per process; every function here calls it. */
void message_init(void);

/* Parses a whole message that comes from outside.  NULL with
 * HERALD_ERR_FORMAT when GMime finds no message in it at all, it is
 * empty, or it has no header (a blank line first, or only an mbox "From "
 * line before it).  Headers whose name is no field name are dropped, and
 * NULs in the header block become spaces. */
GMimeMessage *message_parse(const char *data, size_t len, GError **error);
/* The same for what herald wrote itself (a queue entry, a held post): a
 * message with no header is one, since the pipeline may remove every
 * header a post had and herald must read back what it wrote of that. */
GMimeMessage *message_parse_stored(const char *data, size_t len,
				   GError **error);

/* The message as bytes (GMime's serialisation, LF line ends). */
GByteArray *message_to_bytes(GMimeMessage *msg);

/* Whether a and b are the same message: the same headers in the same
 * order with the same values (unfolded), the same MIME structure, and the
 * same content in each part but for CRs and line ends at its end (GMime
 * writes LF line ends, takes a CR off "\r\r\n", adds a line end where a
 * part had none and a blank line before a boundary, each time it writes
 * a message: they carry nothing).  When not, *why_r (if
 * why_r is not NULL) says where they first differ. */
gboolean message_same(GMimeMessage *a, GMimeMessage *b, char **why_r);

/* Whether herald can store data and read it back: it parses (with at
 * least one header, when need_header: what the entries ask of mail from
 * outside), and what message_to_bytes makes of it parses again to the
 * same message (message_same).  Every stage after the entry parses what
 * the one before wrote, so a message that fails this would end in bad/
 * somewhere down the line.  0, or -1 with HERALD_ERR_FORMAT saying why. */
int message_check_round_trip(const char *data, size_t len,
			     gboolean need_header, GError **error);

/* The length of a raw message's header block, up to and with the blank
 * line that ends it (LF or CRLF), or len when there is none: what follows
 * is the body. */
size_t message_header_length(const char *data, size_t len);

/* The value of the first header called name, unfolded and trimmed but not
 * RFC 2047 decoded, or NULL.  Owned by the message; valid until the header
 * is changed or removed. */
const char *message_header(GMimeMessage *msg, const char *name);
/* The same, RFC 2047 decoded to UTF-8; newly allocated, or NULL. */
char *message_header_decoded(GMimeMessage *msg, const char *name);
/* Removes every header called name. */
void message_header_remove_all(GMimeMessage *msg, const char *name);
/* Whether the poster asked that the message not be archived: an
 * X-No-Archive header (any value), or X-Archive: no. */
gboolean message_no_archive(GMimeMessage *msg);
/* Replaces every header called name by one with this (raw) value, in the
 * place of the first (at the end when there was none). */
void message_header_set(GMimeMessage *msg, const char *name,
			const char *value);
/* Adds one more header at the end. */
void message_header_append(GMimeMessage *msg, const char *name,
			   const char *value);

/* Whether a robot sent it: Precedence bulk, junk or list (no automatic
 * reply goes to such mail). */
gboolean message_is_bulk(GMimeMessage *msg);

/* Every address in the headers named (e.g. "To", "Cc"), as address keys
 * (lower-case domain, see address.h); unparsable ones are skipped. */
GPtrArray *message_addresses(GMimeMessage *msg, const char *const *headers);

/* The first text/plain part that is not an attachment, or NULL. */
GMimeTextPart *message_first_text_part(GMimeMessage *msg);

/* Sets msg's body to text (a part: what the reader sees first) followed by
 * attached (a whole message) as a message/rfc822 part, in a
 * multipart/mixed; to text alone when attached is NULL, to the
 * message/rfc822 part alone when text is NULL.  The shape of every message
 * that carries another: a notice with the post it is about, a post wrapped
 * for DMARC.  msg holds its own references to both. */
void message_set_body_attached(GMimeMessage *msg, GMimeObject *text,
			       GMimeMessage *attached);

/* Whether data[0..len) is all ASCII (bytes below 0x80).  Length-bounded,
 * unlike g_str_is_ascii: a part's content may hold NULs. */
gboolean message_text_is_ascii(const char *data, size_t len);

#endif
