/*
 * smtp.c - the SMTP and LMTP delivery client: the protocol, over a
 * connection that is a plain socket or TLS (tls.c).
 *
 * One non-blocking socket; every wait is a poll() here with the
 * configured timeout, so a server that stops talking costs one timeout,
 * never a hung runner.  TLS (tls.c) never waits: it says whether it needs
 * the socket readable or writable, and the same loops wait for it, so the
 * protocol reads and writes the same way over both and a timeout means
 * the same.  Replies are read through one buffer (multi-line replies,
 * many pipelined replies in one segment); commands are written whole, and
 * with PIPELINING (RFC 2920) MAIL, every RCPT and DATA go in one write.
 * A transaction may also be left open (smtp_send_open): its message goes
 * out but for the last chunk and ".", which are held and written with
 * the next transaction's MAIL, RCPT and DATA, and the reply after that
 * "." is read first of the replies that follow: one round trip, one
 * sleep of the thread, a transaction where there were two.  Nothing may
 * wait for a reply while data is held, so every command settles the open
 * transaction first, or carries its held end in the same write.
 * While writing, whatever the server sends is read into the buffer: a
 * server whose replies fill its socket buffer stops reading our commands,
 * and if we did not read at the same time both would wait for ever (RFC
 * 2920 section 3.1 asks a blocking client to check the TCP window
 * instead).
 *
 * The message goes out in chunks of SMTP_CHUNK bytes, converted on the way
 * (every line end to CRLF, a leading "." doubled), without a copy of the
 * whole message: 50 MB cost 256 KiB of memory.  A lone CR counts as a line
 * end too, so no bare CR or LF reaches the wire (SMTP smuggling relies on
 * servers that disagree about those).
 *
 * Outcomes are per recipient; a recipient whose fate is not known when
 * the connection fails (dropped, timeout, 421, garbage) gets code 0, and
 * the caller retries it.  The one duplicate SMTP cannot avoid remains: a
 * connection lost after the final dot but before its reply leaves the
 * message possibly delivered, and it is retried.  With a transaction
 * open, that is its recipients; the next transaction's, whose envelope
 * went in the same write, get code 0 too (its data never went), while a
 * refusal of the next MAIL or RCPT, or a 4xx/5xx after the open one's
 * dot, is the verdict of its own transaction only.
 *
 * The sendmail command, the third way to hand mail to the MTA, is
 * sendmail.c; it answers in this file's struct smtp_reply.
 */
#include "deliver/smtp.h"
#include "deliver/tls.h"
#include "base/base.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SMTP_SUBSYS "smtp"
#define SMTP_READ_MIN 16384		/* free space wanted before a read */
#define SMTP_LINE_MAX 65536		/* one reply line */
#define SMTP_REPLY_MAX 65536		/* one reply's text, all lines */
#define SMTP_RBUF_MAX (16u << 20)	/* unread replies held at once */
#define SMTP_CHUNK (256u << 10)		/* one write of message data */
#define SMTP_QUIT_TIMEOUT_MS 5000	/* QUIT is a courtesy */

struct txn;
static void open_drop(struct smtp_conn *c);

struct smtp_conn {
	int fd;
	struct tls *tls;	/* NULL: plain text */
	char *peer;		/* "host:port" or "unix:path", for messages */
	gboolean lmtp;
	gboolean loopback;	/* 127/8, ::1 or a unix socket */
	gboolean broken;	/* no further command may be sent */
	gboolean eof;		/* the server closed its side */
	gboolean need_rset;	/* a transaction was left unfinished */
	struct txn *open;	/* a transaction whose data is sent (or
				 * held) but whose final reply is unread:
				 * the next command on the connection
				 * settles it (RFC 2920 3.1 lets the next
				 * MAIL follow the "." unanswered) */
	char *held;		/* the end of the open transaction's data,
				 * final "." included, not written yet: it
				 * goes in one write with the next commands */
	size_t held_len;
	int timeout_ms;
	int data_timeout_ms;
	GHashTable *ext;	/* upper-case EHLO keyword -> parameters */
	guint64 size_limit;	/* SIZE's value; 0: none announced */
	char *rbuf;		/* read buffer: [rpos, rlen) unread */
	size_t rpos, rlen, rcap;
	struct smtp_stats stats;
};

/* --- errors -------------------------------------------------------------- */

/* The reply text on one line, for an error message. */
static char *
reply_oneline(const struct smtp_reply *r)
{
	char *s = g_strdup(r->text != NULL ? r->text : "");

	for (char *p = s; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	return s;
}

static void
set_reply_error(GError **error, const struct smtp_conn *c, const char *what,
		const struct smtp_reply *r)
{
	char *text = reply_oneline(r);

	g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
		    "%s refused %s: %d %s", c->peer, what, r->code, text);
	g_free(text);
}

/* --- the connection: a socket, plain or TLS ----------------------------- */

/* One attempt to read, without waiting, over TLS or the plain socket. */
static enum tls_io
raw_read(struct smtp_conn *c, char *buf, size_t cap, size_t *n_r,
	 GError **error)
{
	if (c->tls != NULL)
		return tls_read(c->tls, buf, cap, n_r, error);
	for (;;) {
		ssize_t n = recv(c->fd, buf, cap, 0);

		if (n > 0) {
			*n_r = (size_t)n;
			return TLS_IO_DONE;
		}
		if (n == 0)
			return TLS_IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return TLS_IO_WANT_READ;
		set_errno_error(error, "read from %s", c->peer);
		return TLS_IO_ERROR;
	}
}

/* One attempt to write, without waiting, over TLS or the plain socket
 * (with MSG_NOSIGNAL, as tls.c's BIO: a server that has gone must not
 * kill the runner with SIGPIPE). */
static enum tls_io
raw_write(struct smtp_conn *c, const char *buf, size_t len, size_t *n_r,
	  GError **error)
{
	if (c->tls != NULL)
		return tls_write(c->tls, buf, len, n_r, error);
	for (;;) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

		if (n >= 0) {
			*n_r = (size_t)n;
			return TLS_IO_DONE;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return TLS_IO_WANT_WRITE;
		set_errno_error(error, "write to %s", c->peer);
		return TLS_IO_ERROR;
	}
}

static void
set_timeout_error(GError **error, const struct smtp_conn *c, int ms,
		  const char *what)
{
	g_set_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT,
		    "%s: no progress within %d ms (%s)", c->peer, ms, what);
}

/* Waits until the socket can do what events ask, or the deadline (a
 * monotonic time) passes.  Returns the revents, 0 on timeout, -1 on error. */
static int
wait_fd(struct smtp_conn *c, short events, gint64 deadline, GError **error)
{
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = events };
		gint64 left = deadline - g_get_monotonic_time();
		int ms, r;

		if (left <= 0)
			return 0;
		ms = (int)MIN((left + 999) / 1000, (gint64)INT_MAX);
		r = poll(&p, 1, ms);
		if (r > 0)
			return p.revents != 0 ? p.revents : events;
		if (r == 0)
			continue;	/* the loop checks the deadline */
		if (errno == EINTR)
			continue;
		set_errno_error(error, "poll(%s)", c->peer);
		return -1;
	}
}

/* Room for at least SMTP_READ_MIN more bytes in the read buffer, moving
 * the unread part to the front first. */
static int
rbuf_make_room(struct smtp_conn *c, GError **error)
{
	if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	if (c->rcap - c->rlen >= SMTP_READ_MIN)
		return 0;
	if (c->rcap >= SMTP_RBUF_MAX) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "%s sent more than %u bytes of replies unasked",
			    c->peer, SMTP_RBUF_MAX);
		return -1;
	}
	c->rcap = c->rcap == 0 ? 4 * SMTP_READ_MIN : c->rcap * 2;
	c->rbuf = g_realloc(c->rbuf, c->rcap);
	return 0;
}

/* Reads whatever is there without waiting (during a write, so that the
 * server never blocks on its replies).  0, or -1 on an error. */
static int
rbuf_pull(struct smtp_conn *c, GError **error)
{
	while (!c->eof) {
		size_t n = 0;
		enum tls_io r;

		if (rbuf_make_room(c, error) < 0)
			return -1;
		r = raw_read(c, c->rbuf + c->rlen, c->rcap - c->rlen, &n,
			     error);
		if (r == TLS_IO_DONE) {
			c->rlen += n;
			continue;
		}
		if (r == TLS_IO_EOF)
			c->eof = TRUE;
		if (r == TLS_IO_ERROR)
			return -1;
		return 0;
	}
	return 0;
}

/* Reads at least one more byte, waiting until the deadline. */
static int
rbuf_fill(struct smtp_conn *c, gint64 deadline, int timeout_ms,
	  const char *what, GError **error)
{
	if (rbuf_make_room(c, error) < 0)
		return -1;
	for (;;) {
		size_t n = 0;
		enum tls_io r;
		int ev;

		if (c->eof) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
				    "%s closed the connection (waiting for "
				    "the reply to %s)", c->peer, what);
			return -1;
		}
		r = raw_read(c, c->rbuf + c->rlen, c->rcap - c->rlen, &n,
			     error);
		switch (r) {
		case TLS_IO_DONE:
			c->rlen += n;
			return 0;
		case TLS_IO_EOF:
			c->eof = TRUE;
			continue;
		case TLS_IO_ERROR:
			return -1;
		case TLS_IO_WANT_READ:
		case TLS_IO_WANT_WRITE:
			ev = wait_fd(c, r == TLS_IO_WANT_READ ? POLLIN : POLLOUT,
				     deadline, error);
			if (ev < 0)
				return -1;
			if (ev == 0) {
				char *w = g_strdup_printf("the reply to %s",
							  what);

				set_timeout_error(error, c, timeout_ms, w);
				g_free(w);
				return -1;
			}
			break;
		}
	}
}

/* Writes all of buf; each wait for the socket has timeout_ms.  Replies
 * that arrive meanwhile are kept in the read buffer. */
static int
conn_write(struct smtp_conn *c, const char *buf, size_t len, const char *what,
	   GError **error)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)c->timeout_ms * 1000;
	size_t off = 0;

	while (off < len) {
		size_t n = 0;
		enum tls_io r =
		    raw_write(c, buf + off, len - off, &n, error);
		short events;
		int ev;

		if (r == TLS_IO_DONE) {
			off += n;
			c->stats.bytes_out += n;
			deadline = g_get_monotonic_time() +
				   (gint64)c->timeout_ms * 1000;
			continue;
		}
		if (r == TLS_IO_ERROR || r == TLS_IO_EOF) {
			if (r == TLS_IO_EOF)
				g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
					    "%s closed the connection (sending "
					    "%s)", c->peer, what);
			return -1;
		}
		events = r == TLS_IO_WANT_READ ? POLLIN : POLLOUT;
		if (!c->eof)
			events |= POLLIN;
		ev = wait_fd(c, events, deadline, error);
		if (ev < 0)
			return -1;
		if (ev == 0) {
			char *w = g_strdup_printf("sending %s", what);

			set_timeout_error(error, c, c->timeout_ms, w);
			g_free(w);
			return -1;
		}
		if ((ev & (POLLIN | POLLHUP | POLLERR)) && r != TLS_IO_WANT_READ &&
		    rbuf_pull(c, error) < 0)
			return -1;
	}
	return 0;
}

/* --- replies ------------------------------------------------------------- */

/* The next complete line in the buffer, without its line end; NULL when
 * there is none yet. */
static const char *
rbuf_line(struct smtp_conn *c, size_t *len_r)
{
	const char *start = c->rbuf + c->rpos;
	const char *nl;
	size_t len;

	if (c->rpos >= c->rlen)
		return NULL;
	nl = memchr(start, '\n', c->rlen - c->rpos);
	if (nl == NULL)
		return NULL;
	len = (size_t)(nl - start);
	c->rpos += len + 1;
	if (len > 0 && start[len - 1] == '\r')
		len--;
	*len_r = len;
	return start;
}

/* The printable start of a bad line, for a message. */
static char *
printable(const char *s, size_t len)
{
	GString *out = g_string_new(NULL);

	for (size_t i = 0; i < len && i < 80; i++)
		g_string_append_c(out, g_ascii_isprint(s[i]) ? s[i] : '?');
	return g_string_free(out, FALSE);
}

/* Parses reply lines from the buffer into *r (code, text).  Returns 1
 * when a whole reply was there, 0 when more is needed, -1 on garbage.
 * partial accumulates across calls. */
static int
parse_reply(struct smtp_conn *c, GString *text, int *code_io, GError **error)
{
	const char *line;
	size_t len;

	while ((line = rbuf_line(c, &len)) != NULL) {
		int code;
		char sep;

		if (len < 3 || line[0] < '2' || line[0] > '5' ||
		    !g_ascii_isdigit(line[1]) || !g_ascii_isdigit(line[2]) ||
		    (len > 3 && line[3] != ' ' && line[3] != '-'))
			goto garbage;
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		       (line[2] - '0');
		if (*code_io != 0 && *code_io != code)
			goto garbage;
		*code_io = code;
		sep = len > 3 ? line[3] : ' ';
		if (text->len > 0)
			g_string_append_c(text, '\n');
		if (len > 4)
			g_string_append_len(text, line + 4, (gssize)(len - 4));
		if (text->len > SMTP_REPLY_MAX) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
				    "%s sent a reply longer than %d bytes",
				    c->peer, SMTP_REPLY_MAX);
			return -1;
		}
		if (sep == ' ')
			return 1;
		continue;
garbage: {
		char *p = printable(line, len);

		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "%s sent a garbled reply: \"%s\"", c->peer, p);
		g_free(p);
		return -1;
	}
	}
	if (c->rlen - c->rpos > SMTP_LINE_MAX) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "%s sent a reply line longer than %d bytes",
			    c->peer, SMTP_LINE_MAX);
		return -1;
	}
	return 0;
}

/* Reads one reply, waiting at most timeout_ms for all of it.  On any
 * failure the connection is marked broken. */
static int
read_reply(struct smtp_conn *c, int timeout_ms, const char *what,
	   struct smtp_reply *r, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	GString *text = g_string_new(NULL);
	int code = 0;

	for (;;) {
		int p = parse_reply(c, text, &code, error);

		if (p > 0)
			break;
		if (p < 0 ||
		    rbuf_fill(c, deadline, timeout_ms, what, error) < 0) {
			g_string_free(text, TRUE);
			c->broken = TRUE;
			return -1;
		}
	}
	r->code = code;
	r->text = g_string_free(text, FALSE);
	/* 421: the server is closing the connection, whatever it was
	 * asked (RFC 5321 3.8). */
	if (code == 421)
		c->broken = TRUE;
	return 0;
}

/* A reply the server already sent, without waiting: 1 and *r filled, or
 * 0.  Used after a failed write, when the server may have said why. */
static int
buffered_reply(struct smtp_conn *c, struct smtp_reply *r)
{
	GString *text = g_string_new(NULL);
	int code = 0;

	(void)rbuf_pull(c, NULL);
	if (parse_reply(c, text, &code, NULL) != 1) {
		g_string_free(text, TRUE);
		return 0;
	}
	r->code = code;
	r->text = g_string_free(text, FALSE);
	return 1;
}

static gboolean
is_2xx(const struct smtp_reply *r)
{
	return r->code >= 200 && r->code < 300;
}

/* A reply no step of the protocol allows here (a 3xx to MAIL or RCPT,
 * a 2xx to DATA): the server is out of step with us, and a recipient
 * must not be counted delivered on its word.  The connection ends. */
static gboolean
out_of_step(struct smtp_conn *c, const char *what, const struct smtp_reply *r,
	    gboolean is_data, GError **error)
{
	gboolean bad = is_data ? r->code != 354 && r->code < 400
			       : r->code >= 300 && r->code < 400;
	char *text;

	if (!bad)
		return FALSE;
	text = reply_oneline(r);
	g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
		    "%s gave an unexpected reply to %s: %d %s", c->peer, what,
		    r->code, text);
	g_free(text);
	c->broken = TRUE;
	return TRUE;
}

void
smtp_reply_clear(struct smtp_reply *r)
{
	g_clear_pointer(&r->text, g_free);
	r->code = 0;
	r->at_data = FALSE;
}

/* A copy of src's code and text (at_data is the caller's to say). */
static void
reply_set(struct smtp_reply *dst, const struct smtp_reply *src)
{
	g_free(dst->text);
	dst->code = src->code;
	dst->text = g_strdup(src->text);
	dst->at_data = FALSE;
}

static void
reply_synth(struct smtp_reply *dst, int code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void
reply_synth(struct smtp_reply *dst, int code, const char *fmt, ...)
{
	va_list ap;

	g_free(dst->text);
	dst->code = code;
	va_start(ap, fmt);
	dst->text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

/* A command and its reply, one at a time. */
static int
command(struct smtp_conn *c, const char *line, const char *what,
	struct smtp_reply *r, GError **error)
{
	if (conn_write(c, line, strlen(line), what, error) < 0) {
		c->broken = TRUE;
		return -1;
	}
	return read_reply(c, c->timeout_ms, what, r, error);
}

/* --- connecting ---------------------------------------------------------- */

static gboolean
addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_UNIX)
		return TRUE;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return TRUE;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
	}
	return FALSE;
}

/* connect() on a non-blocking socket, waiting at most timeout_ms. */
static int
connect_wait(struct smtp_conn *c, const struct sockaddr *sa, socklen_t salen,
	     const char *name, GError **error)
{
	int err = 0;
	socklen_t errlen = sizeof err;
	int ev;

	if (connect(c->fd, sa, salen) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR) {
		set_errno_error(error, "connect(%s)", name);
		return -1;
	}
	ev = wait_fd(c, POLLOUT,
		     g_get_monotonic_time() + (gint64)c->timeout_ms * 1000,
		     error);
	if (ev < 0)
		return -1;
	if (ev == 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT,
			    "connect(%s) failed: no answer within %d ms", name,
			    c->timeout_ms);
		return -1;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0) {
		set_errno_error(error, "getsockopt(%s, SO_ERROR)", name);
		return -1;
	}
	if (err != 0) {
		set_errno_error_n(error, err, "connect(%s)", name);
		return -1;
	}
	return 0;
}

static int
open_unix(struct smtp_conn *c, const char *path, GError **error)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	c->peer = g_strdup_printf("unix:%s", path);
	if (strlen(path) >= sizeof sun.sun_path) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "socket path too long: %s", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		set_errno_error(error, "socket(AF_UNIX) for %s", path);
		return -1;
	}
	c->loopback = TRUE;
	return connect_wait(c, (struct sockaddr *)&sun, sizeof sun, path,
			    error);
}

static int
open_tcp(struct smtp_conn *c, const char *host, int port, GError **error)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char portstr[16];
	GError *last = NULL;
	int r;

	c->peer = strchr(host, ':') != NULL
		      ? g_strdup_printf("[%s]:%d", host, port)
		      : g_strdup_printf("%s:%d", host, port);
	if (port <= 0 || port > 65535) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "bad port %d for %s", port, host);
		return -1;
	}
	g_snprintf(portstr, sizeof portstr, "%d", port);
	/* getaddrinfo has no timeout; the delivery host is normally an
	 * address or a name in /etc/hosts. */
	r = getaddrinfo(host, portstr, &hints, &res);
	if (r != 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "getaddrinfo(%s) failed: %s", host,
			    r == EAI_SYSTEM ? g_strerror(errno)
					    : gai_strerror(r));
		return -1;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int one = 1;

		g_clear_error(&last);
		c->fd = socket(ai->ai_family,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			set_errno_error(&last, "socket() for %s", c->peer);
			continue;
		}
		if (connect_wait(c, ai->ai_addr, ai->ai_addrlen, c->peer,
				 &last) == 0) {
			c->loopback = addr_is_loopback(ai->ai_addr);
			/* Every write is a whole batch already; Nagle could
			 * only hold back the end of the message. */
			if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
				       sizeof one) < 0)
				log_warning(SMTP_SUBSYS, "setsockopt(%s, "
					    "TCP_NODELAY) failed: %s", c->peer,
					    g_strerror(errno));
			break;
		}
		if (close(c->fd) < 0)
			log_warning(SMTP_SUBSYS, "close(socket for %s) "
				    "failed: %s", c->peer, g_strerror(errno));
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd < 0) {
		if (last == NULL)
			g_set_error(&last, HERALD_ERROR, HERALD_ERR_IO,
				    "%s has no address", host);
		g_propagate_error(error, last);
		return -1;
	}
	g_clear_error(&last);
	return 0;
}

/* Parses an EHLO reply's extension lines (the first line is the
 * server's name). */
static void
parse_ehlo(struct smtp_conn *c, const char *text)
{
	char **lines = g_strsplit(text, "\n", -1);

	g_hash_table_remove_all(c->ext);
	c->size_limit = 0;
	for (guint i = 1; lines[i] != NULL; i++) {
		char *l = g_strstrip(lines[i]);
		size_t k = strcspn(l, " =");
		char *key = g_ascii_strup(l, (gssize)k);
		const char *params = l[k] != '\0' ? l + k + 1 : "";

		if (*key == '\0') {
			g_free(key);
			continue;
		}
		/* "AUTH=LOGIN PLAIN" is an old spelling of AUTH; the real
		 * one wins when both are there. */
		if (l[k] == '=' && g_hash_table_contains(c->ext, key)) {
			g_free(key);
			continue;
		}
		if (strcmp(key, "SIZE") == 0)
			c->size_limit = g_ascii_strtoull(params, NULL, 10);
		g_hash_table_replace(c->ext, key, g_strdup(params));
	}
	g_strfreev(lines);
}

/* EHLO (LHLO), falling back to HELO for an SMTP server that refuses it
 * with a 5xx. */
static int
say_hello(struct smtp_conn *c, const char *name, int *code_r, GError **error)
{
	struct smtp_reply r = { 0 };
	const char *verb = c->lmtp ? "LHLO" : "EHLO";
	char *line = g_strdup_printf("%s %s\r\n", verb, name);
	int ret = -1;

	if (command(c, line, verb, &r, error) < 0)
		goto out;
	if (is_2xx(&r)) {
		parse_ehlo(c, r.text);
		ret = 0;
		goto out;
	}
	if (!c->lmtp && r.code >= 500) {
		g_free(line);
		line = g_strdup_printf("HELO %s\r\n", name);
		smtp_reply_clear(&r);
		if (command(c, line, "HELO", &r, error) < 0)
			goto out;
		if (is_2xx(&r)) {
			g_hash_table_remove_all(c->ext);
			c->size_limit = 0;
			ret = 0;
			goto out;
		}
		verb = "HELO";
	}
	*code_r = r.code;
	set_reply_error(error, c, verb, &r);
out:
	g_free(line);
	smtp_reply_clear(&r);
	return ret;
}

/* The TLS handshake after a 220 to STARTTLS.  *tls_failed_r says the
 * failure was TLS's (so an opportunistic caller may try plain text), not
 * the network's. */
static int
tls_start(struct smtp_conn *c, const struct smtp_config *cfg,
	  gboolean *tls_failed_r, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)c->timeout_ms * 1000;

	if (c->rpos < c->rlen) {
		/* Plain text that arrived with the 220 would be read as if
		 * it came over TLS: an injection (CVE-2011-0411's kind). */
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "%s sent data after its STARTTLS reply", c->peer);
		return -1;
	}
	c->tls = tls_new(c->fd, c->peer, cfg->host, cfg->tls_verify,
			 cfg->tls_ca_file, tls_failed_r, error);
	if (c->tls == NULL)
		return -1;
	for (;;) {
		enum tls_io r = tls_handshake(c->tls, tls_failed_r, error);
		int ev;

		if (r == TLS_IO_DONE)
			return 0;
		if (r != TLS_IO_WANT_READ && r != TLS_IO_WANT_WRITE)
			return -1;
		ev = wait_fd(c, r == TLS_IO_WANT_READ ? POLLIN : POLLOUT,
			     deadline, error);
		if (ev < 0)
			return -1;
		if (ev == 0) {
			set_timeout_error(error, c, c->timeout_ms,
					  "TLS handshake");
			return -1;
		}
	}
}

/* base64 of s (for AUTH), in memory we wipe afterwards. */
static char *
b64(const unsigned char *s, size_t len)
{
	size_t n = sodium_base64_encoded_len(len,
					     sodium_base64_VARIANT_ORIGINAL);
	char *out = g_malloc(n);

	sodium_bin2base64(out, n, s, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		g_free(s);
	}
}

/* A command carrying a secret: the line is wiped after the write. */
static int
secret_command(struct smtp_conn *c, char *line_owned, const char *what,
	       struct smtp_reply *r, GError **error)
{
	int ret = command(c, line_owned, what, r, error);

	wipe_free(line_owned);
	return ret;
}

static gboolean
auth_offers(const char *mechs, const char *mech)
{
	char **v = g_strsplit_set(mechs, " \t", -1);
	gboolean found = FALSE;

	for (guint i = 0; v[i] != NULL && !found; i++)
		found = g_ascii_strcasecmp(v[i], mech) == 0;
	g_strfreev(v);
	return found;
}

static int
authenticate(struct smtp_conn *c, const struct smtp_config *cfg, int *code_r,
	     GError **error)
{
	const char *mechs = g_hash_table_lookup(c->ext, "AUTH");
	const char *pass = cfg->auth_password != NULL ? cfg->auth_password : "";
	struct smtp_reply r = { 0 };
	int ret = -1;

	if (c->tls == NULL && !c->loopback) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "AUTH to %s refused: the password would travel "
			    "in plain text (no TLS, not loopback)", c->peer);
		return -1;
	}
	if (mechs == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "%s does not offer AUTH%s", c->peer,
			    c->tls == NULL ? " (before STARTTLS)" : "");
		return -1;
	}
	if (auth_offers(mechs, "PLAIN")) {
		size_t ul = strlen(cfg->auth_user), pl = strlen(pass);
		unsigned char *raw = g_malloc(ul + pl + 2);
		char *enc;

		raw[0] = '\0';
		memcpy(raw + 1, cfg->auth_user, ul);
		raw[ul + 1] = '\0';
		memcpy(raw + ul + 2, pass, pl);
		enc = b64(raw, ul + pl + 2);
		sodium_memzero(raw, ul + pl + 2);
		g_free(raw);
		if (secret_command(c, g_strdup_printf("AUTH PLAIN %s\r\n", enc),
				   "AUTH PLAIN", &r, error) < 0) {
			wipe_free(enc);
			goto out;
		}
		if (r.code == 334) {
			/* A server that ignores the initial response asks
			 * for it again. */
			smtp_reply_clear(&r);
			if (secret_command(c, g_strdup_printf("%s\r\n", enc),
					   "AUTH PLAIN", &r, error) < 0) {
				wipe_free(enc);
				goto out;
			}
		}
		wipe_free(enc);
	} else if (auth_offers(mechs, "LOGIN")) {
		char *enc;

		if (command(c, "AUTH LOGIN\r\n", "AUTH LOGIN", &r, error) < 0)
			goto out;
		if (r.code == 334) {
			smtp_reply_clear(&r);
			enc = b64((const unsigned char *)cfg->auth_user,
				  strlen(cfg->auth_user));
			if (secret_command(c, g_strdup_printf("%s\r\n", enc),
					   "AUTH LOGIN", &r, error) < 0) {
				wipe_free(enc);
				goto out;
			}
			wipe_free(enc);
		}
		if (r.code == 334) {
			smtp_reply_clear(&r);
			enc = b64((const unsigned char *)pass, strlen(pass));
			if (secret_command(c, g_strdup_printf("%s\r\n", enc),
					   "AUTH LOGIN", &r, error) < 0) {
				wipe_free(enc);
				goto out;
			}
			wipe_free(enc);
		}
	} else {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "%s offers no AUTH mechanism herald knows (%s; "
			    "herald has PLAIN and LOGIN)", c->peer, mechs);
		goto out;
	}
	if (r.code != 235) {
		if (r.code == 334) {
			/* Still asking: end the exchange ("*" cancels). */
			smtp_reply_clear(&r);
			if (command(c, "*\r\n", "AUTH", &r, error) < 0)
				goto out;
			r.code = 535;
		}
		*code_r = r.code;
		set_reply_error(error, c, "AUTH", &r);
		goto out;
	}
	ret = 0;
out:
	smtp_reply_clear(&r);
	return ret;
}

static struct smtp_conn *
conn_new(const struct smtp_config *cfg)
{
	struct smtp_conn *c = g_new0(struct smtp_conn, 1);

	c->fd = -1;
	c->lmtp = cfg->lmtp;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms
					    : SMTP_DEFAULT_TIMEOUT_MS;
	c->data_timeout_ms = cfg->data_timeout_ms > 0 ? cfg->data_timeout_ms
						      : c->timeout_ms;
	c->ext = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return c;
}

/* Frees the connection without a word to the server. */
static void
conn_free(struct smtp_conn **cp)
{
	struct smtp_conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	open_drop(c);
	tls_free(&c->tls);
	if (c->fd >= 0 && close(c->fd) < 0)
		log_warning(SMTP_SUBSYS, "close(socket for %s) failed: %s",
			    c->peer, g_strerror(errno));
	g_hash_table_destroy(c->ext);
	g_free(c->rbuf);
	g_free(c->peer);
	g_free(c);
}

/* One connection attempt with the given TLS policy. */
static int
connect_once(const struct smtp_config *cfg, enum smtp_tls tls,
	     struct smtp_conn **conn_r, int *code_r,
	     gboolean *handshake_failed_r, GError **error)
{
	struct smtp_conn *c = conn_new(cfg);
	struct smtp_reply r = { 0 };
	const char *helo = cfg->helo_name != NULL ? cfg->helo_name
						  : g_get_host_name();

	if (cfg->unix_path != NULL ? open_unix(c, cfg->unix_path, error) < 0
				   : open_tcp(c, cfg->host != NULL ? cfg->host
								  : "localhost",
					      cfg->port, error) < 0)
		goto fail;
	if (read_reply(c, c->timeout_ms, "the greeting", &r, error) < 0)
		goto fail;
	if (r.code != 220) {
		*code_r = r.code;
		set_reply_error(error, c, "the connection", &r);
		goto quit;
	}
	smtp_reply_clear(&r);
	if (say_hello(c, helo, code_r, error) < 0)
		goto quit;
	if (tls != SMTP_TLS_NONE && !smtp_has_extension(c, "STARTTLS") &&
	    tls == SMTP_TLS_REQUIRED) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "%s does not offer STARTTLS, and TLS is required",
			    c->peer);
		goto quit;
	}
	if (tls != SMTP_TLS_NONE && smtp_has_extension(c, "STARTTLS")) {
		if (command(c, "STARTTLS\r\n", "STARTTLS", &r, error) < 0)
			goto fail;
		if (r.code == 220) {
			if (tls_start(c, cfg, handshake_failed_r, error) < 0)
				goto fail;
			if (say_hello(c, helo, code_r, error) < 0)
				goto quit;
		} else if (tls == SMTP_TLS_REQUIRED) {
			*code_r = r.code;
			set_reply_error(error, c, "STARTTLS", &r);
			goto quit;
		} else {
			log_warning(SMTP_SUBSYS, "%s refused STARTTLS (%d); "
				    "going on in plain text", c->peer, r.code);
		}
		smtp_reply_clear(&r);
	}
	if (cfg->auth_user != NULL && authenticate(c, cfg, code_r, error) < 0)
		goto quit;
	*conn_r = c;
	return 0;
quit:
	smtp_reply_clear(&r);
	smtp_close(&c);
	return -1;
fail:
	smtp_reply_clear(&r);
	conn_free(&c);
	return -1;
}

int
smtp_connect(const struct smtp_config *cfg, struct smtp_conn **conn_r,
	     int *reply_code_r, GError **error)
{
	int code = 0;
	gboolean handshake_failed = FALSE;
	GError *local = NULL;
	int r;

	*conn_r = NULL;
	r = connect_once(cfg, cfg->tls, conn_r, &code, &handshake_failed,
			 &local);
	if (r < 0 && handshake_failed && cfg->tls == SMTP_TLS_OPPORTUNISTIC) {
		/* As Postfix's "may" level: TLS that fails is not better
		 * than none, and a server that cannot do it must still get
		 * its mail. */
		log_warning(SMTP_SUBSYS, "%s; trying again without TLS",
			    local->message);
		g_clear_error(&local);
		code = 0;
		r = connect_once(cfg, SMTP_TLS_NONE, conn_r, &code,
				 &handshake_failed, &local);
	}
	if (reply_code_r != NULL)
		*reply_code_r = r < 0 ? code : 0;
	if (r < 0)
		g_propagate_error(error, local);
	return r;
}

gboolean
smtp_has_extension(const struct smtp_conn *c, const char *name)
{
	char *key = g_ascii_strup(name, -1);
	gboolean found = g_hash_table_contains(c->ext, key);

	g_free(key);
	return found;
}

gboolean
smtp_is_tls(const struct smtp_conn *c)
{
	return c->tls != NULL;
}

void
smtp_get_stats(const struct smtp_conn *c, struct smtp_stats *stats_r)
{
	*stats_r = c->stats;
}

/* --- the message --------------------------------------------------------- */

/* Walks the message line by line; a line ends with CRLF, LF or a lone CR.
 * The position of the next LF is remembered, so a message of lone CRs is
 * not searched again for each of them. */
struct line_iter {
	const char *d;
	size_t len, pos;
	const char *nl;		/* the next '\n' at or after pos, or NULL */
	gboolean nl_known;
};

/* The next line: its start, its length without the line end, and whether
 * its end was CRLF already.  FALSE at the end. */
static gboolean
line_next(struct line_iter *it, const char **line_r, size_t *len_r,
	  gboolean *crlf_r)
{
	const char *start = it->d + it->pos;
	size_t rest = it->len - it->pos, seg;
	const char *cr;

	if (it->pos >= it->len)
		return FALSE;
	if (!it->nl_known || (it->nl != NULL && it->nl < start)) {
		it->nl = memchr(start, '\n', rest);
		it->nl_known = TRUE;
	}
	seg = it->nl != NULL ? (size_t)(it->nl - start) : rest;
	*line_r = start;
	*crlf_r = FALSE;
	cr = memchr(start, '\r', seg);
	if (cr != NULL) {
		size_t k = (size_t)(cr - start);

		*len_r = k;
		if (k + 1 == seg && it->nl != NULL) {
			*crlf_r = TRUE;
			it->pos += seg + 1;
		} else {
			it->pos += k + 1;
		}
		return TRUE;
	}
	*len_r = seg;
	it->pos += it->nl != NULL ? seg + 1 : seg;
	return TRUE;
}

/* The size of the message on the wire (CRLF, dot-stuffed, with the
 * final "."), for SIZE=. */
static guint64
wire_size(const char *data, size_t len)
{
	struct line_iter it = { .d = data, .len = len };
	const char *line;
	size_t n;
	gboolean crlf;
	guint64 size = 3;

	while (line_next(&it, &line, &n, &crlf))
		size += n + 2 + (n > 0 && line[0] == '.');
	return size;
}

struct out_buf {
	struct smtp_conn *c;
	char *buf;
	size_t len;
};

static int
out_flush(struct out_buf *o, GError **error)
{
	if (o->len == 0)
		return 0;
	if (conn_write(o->c, o->buf, o->len, "the message", error) < 0)
		return -1;
	o->len = 0;
	return 0;
}

static int
out_put(struct out_buf *o, const char *p, size_t n, GError **error)
{
	while (n > 0) {
		size_t k = MIN(n, SMTP_CHUNK - o->len);

		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		n -= k;
		if (o->len == SMTP_CHUNK && out_flush(o, error) < 0)
			return -1;
	}
	return 0;
}

/* The message after a 354: CRLF line ends, dot-stuffed, "." at the end.
 * With hold the last chunk, "." included, is not written but kept in
 * c->held, to go out with the next transaction's commands. */
static int
send_message(struct smtp_conn *c, const char *data, size_t len,
	     gboolean hold, GError **error)
{
	struct line_iter it = { .d = data, .len = len };
	struct out_buf o = { .c = c, .buf = g_malloc(SMTP_CHUNK) };
	const char *line;
	size_t n;
	gboolean crlf;
	int ret = -1;

	while (line_next(&it, &line, &n, &crlf)) {
		if (n > 0 && line[0] == '.' && out_put(&o, ".", 1, error) < 0)
			goto out;
		if (crlf) {
			if (out_put(&o, line, n + 2, error) < 0)
				goto out;
		} else if (out_put(&o, line, n, error) < 0 ||
			   out_put(&o, "\r\n", 2, error) < 0) {
			goto out;
		}
	}
	if (out_put(&o, ".\r\n", 3, error) < 0)
		goto out;
	if (hold) {
		c->held = g_steal_pointer(&o.buf);
		c->held_len = o.len;
	} else if (out_flush(&o, error) < 0) {
		goto out;
	}
	ret = 0;
out:
	g_free(o.buf);
	return ret;
}

/* --- transactions -------------------------------------------------------- */

/* An address that may go between angle brackets in a command. */
static gboolean
address_sendable(const char *a, gboolean may_be_empty)
{
	if (*a == '\0')
		return may_be_empty;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return FALSE;
	return TRUE;
}

enum rcpt_state {
	RCPT_UNSENT,	/* not sent (a bad address: its reply is final) */
	RCPT_SENT,	/* RCPT sent, no reply yet */
	RCPT_REFUSED,	/* the RCPT reply is final */
	RCPT_ACCEPTED,	/* waits for the data's reply */
	RCPT_DONE,	/* the data's reply is final */
};

struct txn {
	struct smtp_conn *c;
	guint n;
	const char *const *rcpts;
	struct smtp_reply *replies;
	struct smtp_reply *mail;
	enum rcpt_state *state;
	guint accepted;
};

/* The connection is gone: every recipient whose fate is not known gets
 * code 0, and the caller retries it. */
static int
txn_fail(struct txn *t)
{
	t->c->broken = TRUE;
	for (guint i = 0; i < t->n; i++)
		if (t->state[i] == RCPT_SENT || t->state[i] == RCPT_ACCEPTED)
			smtp_reply_clear(&t->replies[i]);
	return -1;
}

/* One RCPT reply for recipient i.  -1 when the connection ends. */
static int
txn_rcpt_reply(struct txn *t, guint i, GError **error)
{
	struct smtp_reply *r = &t->replies[i];

	if (read_reply(t->c, t->c->timeout_ms, "RCPT TO", r, error) < 0)
		return -1;
	if (r->code == 421) {
		set_reply_error(error, t->c, "RCPT TO", r);
		return -1;
	}
	if (out_of_step(t->c, "RCPT TO", r, FALSE, error))
		return -1;
	if (is_2xx(r)) {
		t->state[i] = RCPT_ACCEPTED;
		t->accepted++;
	} else {
		t->state[i] = RCPT_REFUSED;
	}
	return 0;
}

/* Every recipient still waiting gets r (the DATA or final reply), marked
 * as a verdict on the message rather than on the recipient. */
static void
txn_settle(struct txn *t, const struct smtp_reply *r)
{
	for (guint i = 0; i < t->n; i++)
		if (t->state[i] == RCPT_ACCEPTED) {
			reply_set(&t->replies[i], r);
			t->replies[i].at_data = TRUE;
			t->state[i] = RCPT_DONE;
			if (is_2xx(r))
				t->c->stats.rcpts_delivered++;
		}
}

/* MAIL refused: that is every recipient's answer. */
static void
txn_mail_refused(struct txn *t)
{
	for (guint i = 0; i < t->n; i++) {
		reply_set(&t->replies[i], t->mail);
		t->state[i] = RCPT_REFUSED;
	}
	t->accepted = 0;
}

/* The replies after the final dot: one (SMTP) or one per accepted
 * recipient in order (LMTP). */
static int
txn_final_replies(struct txn *t, GError **error)
{
	struct smtp_conn *c = t->c;

	if (!c->lmtp) {
		struct smtp_reply r = { 0 };

		if (read_reply(c, c->data_timeout_ms, "the end of the data", &r,
			       error) < 0)
			return -1;
		if (r.code == 421 ||
		    out_of_step(c, "the end of the data", &r, FALSE, error)) {
			if (r.code == 421)
				set_reply_error(error, c, "the message", &r);
			smtp_reply_clear(&r);
			return -1;
		}
		txn_settle(t, &r);
		smtp_reply_clear(&r);
		return 0;
	}
	for (guint i = 0; i < t->n; i++) {
		struct smtp_reply *r = &t->replies[i];
		struct smtp_reply got = { 0 };

		if (t->state[i] != RCPT_ACCEPTED)
			continue;
		if (read_reply(c, c->data_timeout_ms, "the end of the data",
			       &got, error) < 0)
			return -1;
		if (got.code == 421 ||
		    out_of_step(c, "the end of the data", &got, FALSE, error)) {
			if (got.code == 421)
				set_reply_error(error, c, "the message", &got);
			smtp_reply_clear(&got);
			return -1;
		}
		/* The recipient's own verdict (mailbox full, say), not
		 * the message's: at_data stays FALSE. */
		smtp_reply_clear(r);
		*r = got;
		t->state[i] = RCPT_DONE;
		if (is_2xx(r))
			c->stats.rcpts_delivered++;
	}
	return 0;
}

/* The message could not be written.  A server that refuses a message
 * early (too big, say) may have said so and closed before we were done:
 * that reply is then the message's verdict. */
static void
txn_early_refusal(struct txn *t, GError **error)
{
	struct smtp_reply early = { 0 };

	if (buffered_reply(t->c, &early) && early.code >= 400 &&
	    early.code != 421) {
		g_prefix_error(error, "%d %s; ", early.code, early.text);
		txn_settle(t, &early);
	}
	smtp_reply_clear(&early);
}

/* After a 354: the message, or just "." when nobody is left to take it
 * (RFC 2920 3.1: a pipelined DATA may succeed after every RCPT failed). */
static int
txn_data(struct txn *t, const char *data, size_t len, GError **error)
{
	struct smtp_conn *c = t->c;

	if (t->accepted == 0) {
		struct smtp_reply r = { 0 };

		if (conn_write(c, ".\r\n", 3, "the end of the data", error) < 0)
			return -1;
		if (c->lmtp) {
			/* An LMTP server owes no reply here (no recipient
			 * to answer for), so the stream may be out of step:
			 * RFC 2033 4.2 says DATA must fail instead. */
			g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
				    "%s accepted DATA without recipients",
				    c->peer);
			return -1;
		}
		if (read_reply(c, c->data_timeout_ms, "the end of the data", &r,
			       error) < 0)
			return -1;
		smtp_reply_clear(&r);
		return 0;
	}
	if (send_message(c, data, len, FALSE, error) < 0) {
		txn_early_refusal(t, error);
		return -1;
	}
	return txn_final_replies(t, error);
}

/* --- transactions left open ---------------------------------------------- */

static void
txn_free(struct txn *t)
{
	g_free(t->state);
	g_free(t);
}

/* After a 354, every recipient accepted: the message goes out with its
 * last chunk held (send_message), and t stays open on the connection
 * until the next command reads its final reply.  Its accepted
 * recipients have code 0 meanwhile, so that a reply read too early says
 * "unknown", never "delivered". */
static int
txn_leave_open(struct txn *t, const char *data, size_t len, GError **error)
{
	struct txn *open;

	if (send_message(t->c, data, len, TRUE, error) < 0) {
		txn_early_refusal(t, error);
		return -1;
	}
	open = g_memdup2(t, sizeof *t);
	open->state = g_memdup2(t->state, sizeof *t->state * t->n);
	open->rcpts = NULL;
	open->mail = NULL;
	for (guint i = 0; i < t->n; i++)
		if (t->state[i] == RCPT_ACCEPTED)
			smtp_reply_clear(&t->replies[i]);
	t->c->open = open;
	t->c->need_rset = FALSE;
	return 0;
}

/* Settles the open transaction from the final reply, its data being
 * written.  When the reply cannot be had its recipients get code 0. */
static int
open_collect(struct smtp_conn *c, GError **error)
{
	struct txn *t = c->open;
	int r;

	c->open = NULL;
	r = txn_final_replies(t, error);
	if (r < 0)
		txn_fail(t);
	txn_free(t);
	return r;
}

/* The write that carried the open transaction's held data failed: its
 * verdict is a reply the server sent before closing, or unknown.  A 2xx
 * already read can only answer its "." (the held end went out whole, and
 * a later send of the same write failed): delivered, not retried. */
static void
open_lost(struct smtp_conn *c, GError **error)
{
	struct txn *t = c->open;
	struct smtp_reply early = { 0 };

	c->open = NULL;
	if (!c->lmtp && buffered_reply(c, &early) && is_2xx(&early))
		txn_settle(t, &early);
	else
		txn_early_refusal(t, error);
	smtp_reply_clear(&early);
	txn_fail(t);
	txn_free(t);
}

/* The connection ends with a transaction open: its fate is unknown. */
static void
open_drop(struct smtp_conn *c)
{
	if (c->open != NULL) {
		txn_fail(c->open);
		txn_free(c->open);
		c->open = NULL;
	}
	g_clear_pointer(&c->held, g_free);
}

/* Writes the held data and reads the open transaction's final reply,
 * for a command that cannot go in the same write. */
static int
open_settle(struct smtp_conn *c, GError **error)
{
	char *held;
	int w;

	if (c->open == NULL)
		return 0;
	held = g_steal_pointer(&c->held);
	w = conn_write(c, held, c->held_len, "the end of the data", error);
	g_free(held);
	if (w < 0) {
		open_lost(c, error);
		return -1;
	}
	return open_collect(c, error);
}

static char *
mail_command(struct smtp_conn *c, const char *sender, guint64 size,
	     gboolean utf8)
{
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, "MAIL FROM:<%s>", sender);
	if (smtp_has_extension(c, "SIZE"))
		g_string_append_printf(s, " SIZE=%" G_GUINT64_FORMAT, size);
	if (smtp_has_extension(c, "8BITMIME"))
		g_string_append(s, " BODY=8BITMIME");
	if (utf8)
		g_string_append(s, " SMTPUTF8");
	g_string_append(s, "\r\n");
	return g_string_free(s, FALSE);
}

/* MAIL, RCPTs and DATA in one write, then their replies in order.  The
 * end of an open transaction's data goes first in the same write, and its
 * final reply is read first: one round trip a transaction (RFC 2920 3.1).
 * With may_hold, and every recipient accepted, t itself is left open. */
static int
txn_pipelined(struct txn *t, const char *mail_line, const char *data,
	      size_t len, gboolean may_hold, GError **error)
{
	struct smtp_conn *c = t->c;
	size_t held = c->held != NULL ? c->held_len : 0;
	GString *batch = g_string_sized_new(held + 64 + (gsize)t->n * 48);
	struct smtp_reply r = { 0 };
	gboolean rset = c->need_rset;
	int ret = -1;

	if (c->held != NULL) {
		g_string_append_len(batch, c->held, (gssize)c->held_len);
		g_clear_pointer(&c->held, g_free);
	}
	if (rset)
		g_string_append(batch, "RSET\r\n");
	g_string_append(batch, mail_line);
	for (guint i = 0; i < t->n; i++)
		if (t->state[i] == RCPT_SENT)
			g_string_append_printf(batch, "RCPT TO:<%s>\r\n",
					       t->rcpts[i]);
	g_string_append(batch, "DATA\r\n");
	c->need_rset = TRUE;
	if (conn_write(c, batch->str, batch->len, "MAIL, RCPT and DATA",
		       error) < 0) {
		if (c->open != NULL)
			open_lost(c, error);
		goto out;
	}
	if (c->open != NULL && open_collect(c, error) < 0)
		goto out;
	if (rset) {
		if (read_reply(c, c->timeout_ms, "RSET", &r, error) < 0)
			goto out;
		if (!is_2xx(&r)) {
			set_reply_error(error, c, "RSET", &r);
			goto out;
		}
		smtp_reply_clear(&r);
	}
	if (read_reply(c, c->timeout_ms, "MAIL FROM", t->mail, error) < 0)
		goto out;
	if (t->mail->code == 421) {
		set_reply_error(error, c, "MAIL FROM", t->mail);
		goto out;
	}
	if (out_of_step(c, "MAIL FROM", t->mail, FALSE, error))
		goto out;
	for (guint i = 0; i < t->n; i++)
		if (t->state[i] == RCPT_SENT && txn_rcpt_reply(t, i, error) < 0)
			goto out;
	if (!is_2xx(t->mail)) {
		txn_mail_refused(t);
		c->need_rset = FALSE;
	}
	if (read_reply(c, c->timeout_ms, "DATA", &r, error) < 0)
		goto out;
	if (r.code == 421) {
		set_reply_error(error, c, "DATA", &r);
		goto out;
	}
	if (out_of_step(c, "DATA", &r, TRUE, error))
		goto out;
	if (r.code == 354 && may_hold && t->accepted == t->n) {
		if (txn_leave_open(t, data, len, error) < 0)
			goto out;
		ret = 1;
		goto out;
	} else if (r.code == 354) {
		if (txn_data(t, data, len, error) < 0)
			goto out;
		c->need_rset = FALSE;
	} else {
		txn_settle(t, &r);
	}
	ret = 0;
out:
	smtp_reply_clear(&r);
	g_string_free(batch, TRUE);
	return ret;
}

/* One command at a time, for a server without PIPELINING. */
static int
txn_lockstep(struct txn *t, const char *mail_line, const char *data,
	     size_t len, GError **error)
{
	struct smtp_conn *c = t->c;
	struct smtp_reply r = { 0 };
	int ret = -1;

	if (c->need_rset) {
		if (command(c, "RSET\r\n", "RSET", &r, error) < 0)
			goto out;
		if (!is_2xx(&r)) {
			set_reply_error(error, c, "RSET", &r);
			goto out;
		}
		smtp_reply_clear(&r);
		c->need_rset = FALSE;
	}
	if (command(c, mail_line, "MAIL FROM", t->mail, error) < 0)
		goto out;
	if (t->mail->code == 421) {
		set_reply_error(error, c, "MAIL FROM", t->mail);
		goto out;
	}
	if (out_of_step(c, "MAIL FROM", t->mail, FALSE, error))
		goto out;
	if (!is_2xx(t->mail)) {
		txn_mail_refused(t);
		ret = 0;
		goto out;
	}
	c->need_rset = TRUE;
	for (guint i = 0; i < t->n; i++) {
		char *line;
		int w;

		if (t->state[i] != RCPT_SENT)
			continue;
		line = g_strdup_printf("RCPT TO:<%s>\r\n", t->rcpts[i]);
		w = conn_write(c, line, strlen(line), "RCPT TO", error);
		g_free(line);
		if (w < 0 || txn_rcpt_reply(t, i, error) < 0)
			goto out;
	}
	if (t->accepted == 0) {
		ret = 0;
		goto out;
	}
	if (command(c, "DATA\r\n", "DATA", &r, error) < 0)
		goto out;
	if (r.code == 421) {
		set_reply_error(error, c, "DATA", &r);
		goto out;
	}
	if (out_of_step(c, "DATA", &r, TRUE, error))
		goto out;
	if (r.code != 354) {
		txn_settle(t, &r);
		ret = 0;
		goto out;
	}
	if (txn_data(t, data, len, error) < 0)
		goto out;
	c->need_rset = FALSE;
	ret = 0;
out:
	smtp_reply_clear(&r);
	return ret;
}

/* What goes on the wire of t: a sender or recipient that cannot be sent,
 * or a message larger than the server's SIZE, is refused here (553, 552)
 * without a word to the server.  Each recipient's state is RCPT_SENT or
 * RCPT_UNSENT; returns how many are to be sent (0: nothing goes out). */
static guint
txn_check(struct txn *t, const char *sender, guint64 size)
{
	struct smtp_conn *c = t->c;
	guint to_send = 0;

	if (!address_sendable(sender, TRUE)) {
		reply_synth(t->mail, 553, "5.1.7 herald: the sender address "
			    "holds a control character or an angle bracket");
		txn_mail_refused(t);
		return 0;
	}
	if (c->size_limit > 0 && size > c->size_limit) {
		reply_synth(t->mail, 552, "5.3.4 herald: the message (%"
			    G_GUINT64_FORMAT " bytes) is larger than %s "
			    "accepts (%" G_GUINT64_FORMAT ")", size, c->peer,
			    c->size_limit);
		txn_mail_refused(t);
		return 0;
	}
	for (guint i = 0; i < t->n; i++) {
		if (!address_sendable(t->rcpts[i], FALSE)) {
			reply_synth(&t->replies[i], 553, "5.1.3 herald: the "
				    "address is empty or holds a control "
				    "character or an angle bracket");
			t->state[i] = RCPT_UNSENT;
			continue;
		}
		t->state[i] = RCPT_SENT;
		to_send++;
	}
	return to_send;
}

/* Whether the envelope needs SMTPUTF8, and the server offers it: without
 * it the server refuses the UTF-8 address itself, which is the right
 * outcome for that recipient. */
static gboolean
txn_utf8(const struct txn *t, const char *sender)
{
	gboolean utf8 = !g_str_is_ascii(sender);

	for (guint i = 0; i < t->n && !utf8; i++)
		utf8 = t->state[i] == RCPT_SENT && !g_str_is_ascii(t->rcpts[i]);
	return utf8 && smtp_has_extension(t->c, "SMTPUTF8");
}

/* smtp_send and smtp_send_open: 1 when t was left open (may_hold). */
static int
send_txn(struct smtp_conn *c, const char *sender, const char *const *rcpts,
	 guint n, const char *data, size_t len, struct smtp_reply *replies,
	 struct smtp_reply *mail_reply_r, gboolean may_hold, GError **error)
{
	struct smtp_reply mail = { 0 };
	struct txn t = { .c = c, .n = n, .rcpts = rcpts, .replies = replies,
			 .mail = &mail };
	gboolean pipelining = smtp_has_extension(c, "PIPELINING");
	guint64 size;
	guint to_send;
	char *mail_line = NULL;
	int ret = -1;

	if (n > 0)
		memset(replies, 0, sizeof *replies * n);
	if (mail_reply_r != NULL)
		memset(mail_reply_r, 0, sizeof *mail_reply_r);
	if (c->broken) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "the connection to %s is no longer usable",
			    c->peer);
		return -1;
	}
	if (n == 0)
		return open_settle(c, error);
	t.state = g_new0(enum rcpt_state, n);
	size = wire_size(data, len);
	to_send = txn_check(&t, sender, size);
	/* Only a pipelined MAIL carries the end of the open transaction
	 * with it; anything else settles that first. */
	if ((to_send == 0 || !pipelining) && open_settle(c, error) < 0) {
		txn_fail(&t);
		goto out;
	}
	if (to_send == 0) {
		ret = 0;
		goto out;
	}
	mail_line = mail_command(c, sender, size, txn_utf8(&t, sender));
	c->stats.transactions++;
	c->stats.rcpts_sent += to_send;
	ret = pipelining ? txn_pipelined(&t, mail_line, data, len,
					 may_hold && !c->lmtp, error)
			 : txn_lockstep(&t, mail_line, data, len, error);
	if (ret < 0)
		txn_fail(&t);
out:
	if (mail_reply_r != NULL)
		*mail_reply_r = mail;
	else
		smtp_reply_clear(&mail);
	g_free(mail_line);
	g_free(t.state);
	return ret;
}

int
smtp_send(struct smtp_conn *c, const char *sender,
	  const char *const *rcpts, guint n, const char *data, size_t len,
	  struct smtp_reply *replies, struct smtp_reply *mail_reply_r,
	  GError **error)
{
	return send_txn(c, sender, rcpts, n, data, len, replies,
			mail_reply_r, FALSE, error);
}

int
smtp_send_open(struct smtp_conn *c, const char *sender,
	       const char *const *rcpts, guint n, const char *data,
	       size_t len, struct smtp_reply *replies,
	       struct smtp_reply *mail_reply_r, GError **error)
{
	return send_txn(c, sender, rcpts, n, data, len, replies,
			mail_reply_r, TRUE, error);
}

int
smtp_settle(struct smtp_conn *c, GError **error)
{
	return open_settle(c, error);
}

int
smtp_reset(struct smtp_conn *c, GError **error)
{
	struct smtp_reply r = { 0 };
	int ret = -1;

	if (c->broken) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "the connection to %s is no longer usable",
			    c->peer);
		return -1;
	}
	if (open_settle(c, error) < 0)
		return -1;
	if (command(c, "RSET\r\n", "RSET", &r, error) < 0)
		goto out;
	if (!is_2xx(&r)) {
		set_reply_error(error, c, "RSET", &r);
		c->broken = TRUE;
		goto out;
	}
	c->need_rset = FALSE;
	ret = 0;
out:
	smtp_reply_clear(&r);
	return ret;
}

void
smtp_close(struct smtp_conn **cp)
{
	struct smtp_conn *c = *cp;

	if (c == NULL)
		return;
	if (!c->broken && c->fd >= 0 && open_settle(c, NULL) == 0) {
		struct smtp_reply r = { 0 };

		c->timeout_ms = MIN(c->timeout_ms, SMTP_QUIT_TIMEOUT_MS);
		if (command(c, "QUIT\r\n", "QUIT", &r, NULL) == 0 &&
		    c->tls != NULL)
			tls_close_notify(c->tls);
		smtp_reply_clear(&r);
	}
	conn_free(cp);
}
