/*
 * tls.c - the OpenSSL layer of the SMTP/LMTP client (see tls.h).
 *
 * OpenSSL talks to the socket through a BIO of our own, which writes with
 * MSG_NOSIGNAL: a server that drops the connection must not kill the
 * runner with SIGPIPE, and a library has no business ignoring signals
 * for its caller.  One SSL_CTX per session keeps the CA file and the
 * verification settings per connection; it costs one CA load per
 * connection, which a runner reusing connections hardly notices.
 *
 * OpenSSL's error queue is per thread and outlives the call that filled
 * it, so every call here empties it first, and a failure empties it into
 * its message: a stale entry would otherwise be blamed on the next one.
 */
#include "deliver/tls.h"
#include "base/base.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <sys/socket.h>

struct tls {
	SSL_CTX *ctx;
	SSL *ssl;
	char *peer;		/* for messages */
};

/* OpenSSL's queued errors as one string (and the queue emptied). */
static char *
ssl_errors(void)
{
	GString *s = g_string_new(NULL);
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof buf);
		if (s->len > 0)
			g_string_append(s, "; ");
		g_string_append(s, buf);
	}
	if (s->len == 0)
		g_string_append(s, "no detail");
	return g_string_free(s, FALSE);
}

/* "TLS with PEER failed: <OpenSSL's errors>". */
static void
set_ssl_error(GError **error, const struct tls *t)
{
	char *why = ssl_errors();

	g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "TLS with %s failed: %s",
		    t->peer, why);
	g_free(why);
}

/* --- the socket BIO ------------------------------------------------------ */

/* OpenSSL's own socket BIO writes with write(2), which raises SIGPIPE
 * when the server has gone; ours uses send(MSG_NOSIGNAL).  The fd is the
 * BIO's data. */
static int
hbio_write(BIO *b, const char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_write(b);
		return -1;
	}
	return (int)n;
}

static int
hbio_read(BIO *b, char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = recv(fd, buf, (size_t)len, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_read(b);
		return -1;
	}
	return (int)n;
}

static long
hbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	/* Nothing is buffered here, so a flush is done at once; every other
	 * request is one a plain socket does not answer either. */
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
hbio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int
hbio_destroy(BIO *b)
{
	(void)b;
	return 1;	/* the fd belongs to the connection */
}

static BIO_METHOD *
hbio_method(void)
{
	static gsize once;
	static BIO_METHOD *m;

	if (g_once_init_enter(&once)) {
		m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				 "herald socket");
		if (m != NULL) {
			BIO_meth_set_write(m, hbio_write);
			BIO_meth_set_read(m, hbio_read);
			BIO_meth_set_ctrl(m, hbio_ctrl);
			BIO_meth_set_create(m, hbio_create);
			BIO_meth_set_destroy(m, hbio_destroy);
		}
		g_once_init_leave(&once, 1);
	}
	return m;
}

/* --- setting up ---------------------------------------------------------- */

static gboolean
is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

/* The context: TLS 1.2 or later, and the CAs when verifying.  -1 with
 * *tls_failed_r unset when the CA file could not be loaded (a setting to
 * fix, not a server to give up TLS for). */
static int
ctx_setup(struct tls *t, gboolean verify, const char *ca_file,
	  gboolean *tls_failed_r, GError **error)
{
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (t->ctx == NULL ||
	    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) != 1)
		goto ssl_fail;
	SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (!verify) {
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if ((ca_file != NULL
		 ? SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL)
		 : SSL_CTX_set_default_verify_paths(t->ctx)) != 1) {
		char *why = ssl_errors();

		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "loading the CA certificates (%s) failed: %s",
			    ca_file != NULL ? ca_file : "system default", why);
		g_free(why);
		return -1;
	}
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	return 0;
ssl_fail:
	*tls_failed_r = TRUE;
	set_ssl_error(error, t);
	return -1;
}

/* The session: SNI, the name or address to check, and our BIO on fd. */
static int
ssl_setup(struct tls *t, int fd, const char *host, gboolean verify,
	  gboolean *tls_failed_r, GError **error)
{
	BIO *bio;

	t->ssl = SSL_new(t->ctx);
	if (t->ssl == NULL)
		goto ssl_fail;
	SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (host != NULL && !is_ip_literal(host) &&
	    SSL_set_tlsext_host_name(t->ssl, host) != 1)
		goto ssl_fail;
	if (verify) {
		if (host == NULL) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
				    "tls_verify for %s needs a host name to "
				    "check", t->peer);
			return -1;
		}
		if (is_ip_literal(host)) {
			if (X509_VERIFY_PARAM_set1_ip_asc(
				SSL_get0_param(t->ssl), host) != 1)
				goto ssl_fail;
		} else {
			SSL_set_hostflags(t->ssl,
					  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			if (SSL_set1_host(t->ssl, host) != 1)
				goto ssl_fail;
		}
	}
	bio = BIO_new(hbio_method());
	if (bio == NULL)
		goto ssl_fail;
	BIO_set_data(bio, (void *)(intptr_t)fd);
	SSL_set_bio(t->ssl, bio, bio);
	return 0;
ssl_fail:
	*tls_failed_r = TRUE;
	set_ssl_error(error, t);
	return -1;
}

struct tls *
tls_new(int fd, const char *peer, const char *host, gboolean verify,
	const char *ca_file, gboolean *tls_failed_r, GError **error)
{
	struct tls *t = g_new0(struct tls, 1);

	t->peer = g_strdup(peer);
	ERR_clear_error();
	if (ctx_setup(t, verify, ca_file, tls_failed_r, error) < 0 ||
	    ssl_setup(t, fd, host, verify, tls_failed_r, error) < 0)
		tls_free(&t);
	return t;
}

/* --- the session --------------------------------------------------------- */

enum tls_io
tls_handshake(struct tls *t, gboolean *tls_failed_r, GError **error)
{
	int r, e;
	long v;

	ERR_clear_error();
	errno = 0;
	r = SSL_connect(t->ssl);
	if (r == 1)
		return TLS_IO_DONE;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return TLS_IO_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return TLS_IO_WANT_WRITE;
	if (e == SSL_ERROR_SYSCALL && errno != 0) {
		set_errno_error(error, "TLS handshake with %s", t->peer);
		return TLS_IO_ERROR;
	}
	*tls_failed_r = TRUE;
	v = SSL_get_verify_result(t->ssl);
	if (v != X509_V_OK) {
		ERR_clear_error();
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "TLS handshake with %s failed: certificate "
			    "verification: %s", t->peer,
			    X509_verify_cert_error_string(v));
		return TLS_IO_ERROR;
	}
	set_ssl_error(error, t);
	return TLS_IO_ERROR;
}

/* What a failed SSL_read_ex / SSL_write_ex means: the one place that
 * decides it.  A clean close (and, reading, a close without
 * close_notify: SSL_OP_IGNORE_UNEXPECTED_EOF) is the end of the stream;
 * writing, the peer has gone.  Called with errno and OpenSSL's queue as
 * the failed call left them. */
static enum tls_io
io_failed(struct tls *t, gboolean reading, GError **error)
{
	const char *what = reading ? "read from" : "write to";
	char *why;

	switch (SSL_get_error(t->ssl, 0)) {
	case SSL_ERROR_WANT_READ:
		return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		if (reading)
			return TLS_IO_EOF;
		break;
	case SSL_ERROR_SYSCALL:
		if (reading && errno == 0)
			return TLS_IO_EOF;
		set_errno_error_n(error, errno != 0 ? errno : EPIPE, "%s %s",
				  what, t->peer);
		return TLS_IO_ERROR;
	default:
		break;
	}
	why = ssl_errors();
	g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "TLS %s %s failed: %s",
		    what, t->peer, why);
	g_free(why);
	return TLS_IO_ERROR;
}

enum tls_io
tls_read(struct tls *t, char *buf, size_t cap, size_t *n_r, GError **error)
{
	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(t->ssl, buf, cap, n_r) == 1)
		return TLS_IO_DONE;
	return io_failed(t, TRUE, error);
}

enum tls_io
tls_write(struct tls *t, const char *buf, size_t len, size_t *n_r,
	  GError **error)
{
	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(t->ssl, buf, len, n_r) == 1)
		return TLS_IO_DONE;
	return io_failed(t, FALSE, error);
}

void
tls_close_notify(struct tls *t)
{
	ERR_clear_error();
	(void)SSL_shutdown(t->ssl);
}

void
tls_free(struct tls **tp)
{
	struct tls *t = *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	if (t->ssl != NULL)
		SSL_free(t->ssl);
	if (t->ctx != NULL)
		SSL_CTX_free(t->ctx);
	ERR_clear_error();
	g_free(t->peer);
	g_free(t);
}
