/*
 * lmtp_session.h - one LMTP session (RFC 2033) as a state machine: fed the
 * client's raw bytes, it answers into an output buffer and hands each
 * complete message to a storing callback.  No socket, no clock, no signal:
 * the driver (src/herald/lmtp.c) reads and writes the connection, keeps
 * the time and tells the session when a timeout or a stop has come, and the
 * fuzzer (fuzz/fuzz-lmtp.c) drives the very same code from memory.
 *
 * Boundary: reads the site's lists through list/listaddr.h (RCPT), stores
 * nothing itself (the callback does, and decides with what).
 *
 * What the session promises, whatever the bytes:
 *   - replies are whole lines "DDD text\r\n" or "DDD-text\r\n", at most
 *     LMTP_REPLY_MAX bytes each, with no other CR or LF and no control
 *     character (what a client sent is echoed only as a checked address);
 *   - each recipient accepted at RCPT gets exactly one reply after the
 *     final dot, in RCPT order: 250 only when the callback stored the
 *     message for it (once), 451 when it failed, 554 when it refused the
 *     message (HERALD_ERR_FORMAT), 552 when the message was too big;
 *   - memory is bounded: a command line never grows past LMTP_LINE_MAX
 *     (the rest is dropped, then answered 500), a message never past
 *     max_message_size (the rest is counted, not kept, then answered 552),
 *     and the output by what one call to lmtp_session_feed() can produce
 *     (at most command_limit replies): the driver writes it all before it
 *     feeds more;
 *   - command_limit commands, or error_limit protocol errors (500, 501,
 *     503), without a message stored in between: 421 and the session
 *     closes (Postfix's smtpd_hard_error_limit and junk command limit).
 *     An unknown list (550) or one recipient too many (452) is the
 *     client's normal business, not an error.
 */
#ifndef HERALD_LMTP_SESSION_H
#define HERALD_LMTP_SESSION_H

#include <glib.h>
#include <stdint.h>

#include "list/listaddr.h"
#include "store/site.h"

/* A command line, CRLF included (Postfix's line_length_limit). */
#define LMTP_LINE_MAX 2048
/* An address in MAIL FROM:<...> or RCPT TO:<...> (RFC 5321's path). */
#define LMTP_PATH_MAX 256
/* Recipients in one transaction (Postfix's smtpd_recipient_limit); the
 * next ones get 452 and the client sends them in another transaction. */
#define LMTP_MAX_RCPT 1000
/* The longest reply line the session writes, CRLF included. */
#define LMTP_REPLY_MAX 512

struct lmtp_limits {
	int64_t max_message_size;	/* bytes, dot-unstuffed, LF line ends */
	unsigned command_limit;		/* commands without a message stored */
	unsigned error_limit;		/* protocol errors, likewise */
};

/* Stores msg (dot-unstuffed, CRLF made LF) from sender ("" for <>) for one
 * recipient.  Returns 0 once it is stored for good, with *id_r (newly
 * allocated, no spaces or control characters) naming it in the reply;
 * -1 when it is not, with error: HERALD_ERR_FORMAT refuses the message for
 * good (554), anything else is temporary (451, the MTA retries).  Called
 * once per recipient, in RCPT order. */
typedef int lmtp_store_fn(void *ctx, const char *sender,
			  const struct listaddr *rcpt, const char *msg,
			  size_t len, char **id_r, GError **error);

enum lmtp_phase {
	LMTP_PHASE_COMMAND,	/* waiting for (the rest of) a command */
	LMTP_PHASE_DATA,	/* inside DATA, until the final dot */
	LMTP_PHASE_CLOSED,	/* done: write the output, then close */
};

struct lmtp_session;

/* A session; the 220 greeting is already in its output.  site: where RCPT
 * looks up lists; hostname: named in the greeting and the 421s. */
struct lmtp_session *lmtp_session_new(struct site *site, const char *hostname,
				      const struct lmtp_limits *limits,
				      lmtp_store_fn *store, void *store_ctx);
void lmtp_session_free(struct lmtp_session **sp);

/* The client's next bytes, any amount, split anywhere.  Every complete
 * command is answered and every complete message stored before it
 * returns; bytes after the session closed are ignored. */
void lmtp_session_feed(struct lmtp_session *s, const void *data, size_t len);
/* The client closed its side: a transaction in progress is dropped
 * (nothing of it was stored).  No reply. */
void lmtp_session_eof(struct lmtp_session *s);
/* The driver's timer ran out (command or DATA timeout): 421, closed. */
void lmtp_session_timeout(struct lmtp_session *s);
/* The server is stopping: waiting for a command, the session answers 421
 * and closes now; inside DATA it goes on to the final dot, stores and
 * answers the message, and then answers 421 and closes. */
void lmtp_session_drain(struct lmtp_session *s);
/* The server cannot wait any longer: 421 and closed, in any phase (a
 * message in DATA is dropped, never half-stored). */
void lmtp_session_stop(struct lmtp_session *s);

enum lmtp_phase lmtp_session_phase(const struct lmtp_session *s);
/* The replies not yet written.  The driver writes them and removes what
 * it wrote (g_string_erase or g_string_truncate). */
GString *lmtp_session_output(struct lmtp_session *s);
/* Bytes the session holds for the client (line, message and output
 * buffers, as allocated): what the memory bound is about. */
size_t lmtp_session_memory(const struct lmtp_session *s);
/* Why the session closed (static text), NULL while it is open. */
const char *lmtp_session_close_reason(const struct lmtp_session *s);
/* Messages stored (recipients answered 250) in this session. */
guint64 lmtp_session_stored(const struct lmtp_session *s);

#endif
