/*
 * smtp.h - an SMTP and LMTP client for delivery: one connection, many
 * transactions, each recipient's answer kept.
 *
 * A connection says EHLO (LHLO for LMTP), upgrades with STARTTLS when told
 * to (OpenSSL, through tls.c), authenticates (AUTH PLAIN or LOGIN) when
 * given a user, and then carries any number of transactions, pipelined
 * when the server offers PIPELINING (MAIL, every RCPT and DATA in one
 * write; with smtp_send_open, the end of one message in the same write
 * as the next transaction's commands).  Every read and write has a
 * timeout.  The message goes in with LF or CRLF line ends; the client
 * sends CRLF and dot-stuffs.
 *
 * Outcomes are per recipient: a transaction fills one struct smtp_reply per
 * recipient (the RCPT reply, or the DATA reply when RCPT was accepted; for
 * LMTP each recipient's own DATA reply).  A connection that fails midway
 * (timeout, dropped, garbage) returns -1 with the error, and every
 * recipient whose fate is not known has code 0: the caller retries those.
 * The sendmail command (sendmail.h) answers in the same struct smtp_reply,
 * so the delivery runner judges every transport's outcome one way.
 */
#ifndef HERALD_SMTP_H
#define HERALD_SMTP_H

#include <glib.h>

enum smtp_tls {
	SMTP_TLS_NONE,		/* plain text */
	SMTP_TLS_OPPORTUNISTIC,	/* STARTTLS when offered */
	SMTP_TLS_REQUIRED,	/* STARTTLS or fail */
};

struct smtp_config {
	const char *host;	/* name or address; NULL with unix_path */
	int port;
	const char *unix_path;	/* a unix socket (LMTP), instead of host */
	gboolean lmtp;		/* LHLO and per-recipient DATA replies */
	const char *helo_name;	/* what EHLO/LHLO says */
	int timeout_ms;		/* for each read, write and connect
				 * (0: SMTP_DEFAULT_TIMEOUT_MS) */
	enum smtp_tls tls;
	gboolean tls_verify;	/* check the server's certificate and name */
	const char *tls_ca_file;	/* NULL: the system's CAs */
	const char *auth_user;	/* NULL: no AUTH */
	const char *auth_password;
	int data_timeout_ms;	/* for the reply(ies) after the final dot,
				 * when the server may be scanning the
				 * message (0: timeout_ms) */
};

/* RFC 5321 4.5.3.2 suggests 5 minutes for most replies. */
#define SMTP_DEFAULT_TIMEOUT_MS 300000

/* What a connection has done, for the delivery log. */
struct smtp_stats {
	guint transactions;	/* smtp_send calls that reached the server */
	guint64 rcpts_sent;	/* RCPT TO commands */
	guint64 rcpts_delivered;	/* recipients with a 2xx after the
					 * data */
	guint64 bytes_out;	/* commands and data (before TLS) */
};

struct smtp_reply {
	int code;		/* 250, 451, 550 ...; 0: unknown (not sent,
				 * or the connection failed before an answer) */
	char *text;		/* the reply text (all lines, joined by
				 * "\n"), or NULL */
	gboolean at_data;	/* the reply came after DATA (the RCPT was
				 * accepted): a refusal of the message, not
				 * of the recipient (the reply to DATA, or
				 * SMTP's one reply after the dot; LMTP's
				 * per-recipient replies are the recipient's
				 * own, FALSE) */
};

struct smtp_conn;

/* Connects, reads the greeting, says EHLO/LHLO, STARTTLS and AUTH as
 * configured.  A server that answers with an error (a 4xx/5xx greeting,
 * EHLO refused, AUTH failed) fails with HERALD_ERR_IO and the reply in the
 * message; *reply_code_r (optional) gets the code (0 for network errors).
 * A timeout fails with HERALD_ERR_TIMEOUT; a setting that cannot be
 * honoured (AUTH over plain text to a host that is not loopback,
 * tls_verify without a name to check) with HERALD_ERR_INVALID.
 * SMTP_TLS_OPPORTUNISTIC falls back to one new plain-text connection when
 * the TLS handshake (or the certificate check) fails. */
int smtp_connect(const struct smtp_config *cfg, struct smtp_conn **conn_r,
		 int *reply_code_r, GError **error);

/* Whether the server offered PIPELINING / SIZE / 8BITMIME / SMTPUTF8
 * (any EHLO keyword, case-insensitive). */
gboolean smtp_has_extension(const struct smtp_conn *c, const char *name);

/* Whether the session is encrypted (STARTTLS done). */
gboolean smtp_is_tls(const struct smtp_conn *c);

/* Counters since smtp_connect. */
void smtp_get_stats(const struct smtp_conn *c, struct smtp_stats *stats_r);

/* One transaction: MAIL FROM:<sender> (with BODY=8BITMIME and SIZE when
 * offered), RCPT TO for each of the n recipients, DATA, the message, ".".
 * replies[0..n) get each recipient's outcome.  *mail_reply_r (optional)
 * gets the MAIL reply: when MAIL is refused, every recipient gets that
 * reply.  Returns 0 when the transaction ended (whatever the codes say;
 * the connection can be used for the next one, after RSET if it failed),
 * -1 when the connection is no longer usable (error says why; recipients
 * not answered have code 0).
 * The replies are overwritten, not freed: clear them with
 * smtp_reply_clear after use.  A sender or recipient holding a control
 * character or an angle bracket is never sent: it gets 553 (the sender:
 * every recipient) without a word on the wire.  A message larger than the
 * server's SIZE gets 552 for everyone, likewise.  When the previous
 * transaction did not end with the data, RSET goes first (in the same
 * write when pipelining).  A transaction left open by smtp_send_open is
 * settled first (its end in the same write when pipelining).  n == 0
 * sends nothing (but settles an open transaction) and returns 0. */
int smtp_send(struct smtp_conn *c, const char *sender,
	      const char *const *rcpts, guint n, const char *data, size_t len,
	      struct smtp_reply *replies, struct smtp_reply *mail_reply_r,
	      GError **error);

/* smtp_send, except that the transaction may be left open, to save a
 * round trip a transaction (RFC 2920 3.1): with PIPELINING, over SMTP
 * (never LMTP), when every recipient was accepted, the message goes out
 * but for its last chunk and "."; those go in the same write as the next
 * transaction's MAIL, RCPT and DATA, and the reply after the "." is read
 * before theirs.  Returns 1 when the transaction was left open: the
 * accepted recipients' replies have code 0 until the next call on c
 * (smtp_send, smtp_send_open, smtp_settle, smtp_reset or smtp_close) has
 * returned, whatever it returned; then they hold the outcome, as
 * smtp_send would have left them (code 0 when the connection failed
 * before the reply).  replies must stay allocated until then; data need
 * not.  Otherwise as smtp_send. */
int smtp_send_open(struct smtp_conn *c, const char *sender,
		   const char *const *rcpts, guint n, const char *data,
		   size_t len, struct smtp_reply *replies,
		   struct smtp_reply *mail_reply_r, GError **error);

/* Settles the transaction left open, if any: writes the end of its
 * message and reads the reply.  0, or -1 when the connection is no longer
 * usable (its recipients then have code 0, or the server's early
 * refusal). */
int smtp_settle(struct smtp_conn *c, GError **error);

/* RSET (after a failed transaction).  0 or -1 (connection unusable). */
int smtp_reset(struct smtp_conn *c, GError **error);

/* QUIT (best effort) and free; *cp set to NULL. */
void smtp_close(struct smtp_conn **cp);

void smtp_reply_clear(struct smtp_reply *r);

/* The sendmail command transport under the name it had when it lived
 * here: sendmail_send (sendmail.h) with timeout_ms 0, that is
 * SMTP_DEFAULT_TIMEOUT_MS.  Defined in sendmail.c; the delivery runner
 * calls sendmail_send with mta.smtp_timeout. */
int smtp_sendmail_command(const char *const *argv, const char *sender,
			  const char *const *rcpts, guint n, const char *data,
			  size_t len, struct smtp_reply *replies,
			  GError **error);

#endif
