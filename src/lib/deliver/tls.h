/*
 * tls.h - TLS (OpenSSL) for the SMTP/LMTP client's STARTTLS: a session
 * over a connected non-blocking socket, its handshake, the certificate
 * and name checks, and reads and writes that never wait.
 *
 * Nothing here waits or keeps time.  Each call makes one attempt and says
 * what the socket must become (readable, writable) before the next one;
 * smtp.c does every wait, with its poll() and its deadlines, for plain
 * text and TLS alike, so a timeout means the same over both.  TLS may
 * need to read while the caller writes (and the reverse), which is why
 * the answer names the wait rather than repeating the caller's wish.
 *
 * What a failed TLS read or write means is decided here once
 * (tls_read, tls_write): a clean close, or a close without close_notify,
 * is the end of the stream; anything else is an error naming the peer.
 */
#ifndef HERALD_TLS_H
#define HERALD_TLS_H

#include <glib.h>

/* What one read, write or handshake step did.  smtp.c's plain socket
 * answers in the same terms, so the protocol above has one loop. */
enum tls_io {
	TLS_IO_DONE,		/* some bytes moved (or the handshake ended) */
	TLS_IO_WANT_READ,	/* wait until the socket is readable */
	TLS_IO_WANT_WRITE,	/* wait until the socket is writable */
	TLS_IO_EOF,		/* the peer ended the stream */
	TLS_IO_ERROR,		/* *error says why */
};

struct tls;

/* A client session over fd (connected, non-blocking; it stays the
 * caller's to close): TLS 1.2 or later, SNI with host when host is a
 * name, and with verify the chain checked against ca_file (NULL: the
 * system's CAs) and host checked against the certificate (a DNS name
 * without partial wildcards, or an IP address).  peer names the server
 * in messages.  NULL on failure: HERALD_ERR_INVALID when verify has no
 * host to check; HERALD_ERR_IO otherwise, with *tls_failed_r set when
 * the failure is OpenSSL's own (not a CA file that could not be
 * loaded). */
struct tls *tls_new(int fd, const char *peer, const char *host,
		    gboolean verify, const char *ca_file,
		    gboolean *tls_failed_r, GError **error);

/* One step of the handshake.  TLS_IO_ERROR with *tls_failed_r set when
 * TLS failed (the certificate check, say: a caller may go on without
 * TLS), not set when the network did. */
enum tls_io tls_handshake(struct tls *t, gboolean *tls_failed_r,
			  GError **error);

/* One attempt to read up to cap bytes (*n_r: how many came). */
enum tls_io tls_read(struct tls *t, char *buf, size_t cap, size_t *n_r,
		     GError **error);

/* One attempt to write up to len bytes (*n_r: how many went). */
enum tls_io tls_write(struct tls *t, const char *buf, size_t len,
		      size_t *n_r, GError **error);

/* Sends close_notify, without waiting for the peer's (best effort). */
void tls_close_notify(struct tls *t);

/* Frees the session (not the socket); *tp set to NULL. */
void tls_free(struct tls **tp);

#endif
