/*
 * nntp.c - a small NNTP client (RFC 3977): the greeting, MODE READER,
 * GROUP, ARTICLE and POST, which is all the gateway needs.
 *
 * Every wait is bounded: the socket's timeout covers the connection and
 * each read, and a whole answer must come within ANSWER_TIMEOUTS of them,
 * so a server that stops answering, drips a byte at a time or drops the
 * connection in the middle of an article is an error, never a hang.
 * Memory is bounded too: a line is read into a buffer of MAX_LINE bytes
 * and no further, an article up to MAX_ARTICLE bytes.  Errors say what
 * may work later (HERALD_ERR_IO: no connection, a timeout, a 4xx answer)
 * apart from a refusal (HERALD_ERR_INVALID: a 5xx answer), because the
 * news runner retries the first and gives up the second.
 */
#include "news/nntp.h"
#include "base/base.h"
#include "mail/message.h"

#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NNTP_PORT 119
/* No line of an answer may be longer: RFC 3977 allows 512 octets for
 * status lines, and articles' lines are bounded by RFC 5322's 998. */
#define MAX_LINE 65536
/* No article may be larger (the gateway hands it to the list as a post). */
#define MAX_ARTICLE (64u << 20)
/* A whole answer, an article's included, within this many timeouts. */
#define ANSWER_TIMEOUTS 4

struct nntp {
	char *server;
	GSocketClient *client;
	GSocketConnection *conn;
	GBufferedInputStream *in;	/* holds a line and its end */
	GOutputStream *out;
	int64_t deadline;	/* monotonic, for the answer awaited */
	unsigned timeout;	/* seconds */
	int code;
	char *answer;
};

int
nntp_code(const struct nntp *n)
{
	return n->code;
}

const char *
nntp_answer(const struct nntp *n)
{
	return n->answer != NULL ? n->answer : "";
}

static void
start_answer(struct nntp *n)
{
	n->deadline = g_get_monotonic_time() +
		      (int64_t)n->timeout * ANSWER_TIMEOUTS * G_USEC_PER_SEC;
}

/* One line without its line end; NULL with *error at the end of the
 * stream, a timeout, or a line longer than MAX_LINE. */
static char *
read_line(struct nntp *n, GError **error)
{
	GError *e = NULL;

	for (;;) {
		gsize avail;
		const char *buf = g_buffered_input_stream_peek_buffer(n->in,
								      &avail);
		const char *nl = memchr(buf, '\n', avail);
		gssize got;

		if (nl != NULL) {
			gsize len = (gsize)(nl - buf);
			char *line = g_strndup(buf, len);

			if (len > 0 && line[len - 1] == '\r')
				line[len - 1] = '\0';
			(void)g_input_stream_skip(G_INPUT_STREAM(n->in), len + 1,
						  NULL, NULL);
			return line;
		}
		if (avail > MAX_LINE) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
				    "news server %s: a line longer than %u "
				    "bytes", n->server, MAX_LINE);
			return NULL;
		}
		if (g_get_monotonic_time() > n->deadline) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
				    "news server %s: no whole answer within %u "
				    "s", n->server, n->timeout * ANSWER_TIMEOUTS);
			return NULL;
		}
		got = g_buffered_input_stream_fill(n->in, -1, NULL, &e);
		if (got <= 0) {
			if (e != NULL)
				g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
					    "news server %s: %s", n->server,
					    e->message);
			else
				g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
					    "news server %s closed the "
					    "connection", n->server);
			g_clear_error(&e);
			return NULL;
		}
	}
}

/* Reads a status line into n->code and n->answer. */
static int
read_status(struct nntp *n, GError **error)
{
	char *line = read_line(n, error);

	if (line == NULL)
		return -1;
	g_free(n->answer);
	n->answer = line;
	if (!g_ascii_isdigit(line[0]) || !g_ascii_isdigit(line[1]) ||
	    !g_ascii_isdigit(line[2]) || (line[3] != ' ' && line[3] != '\0')) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "news server %s: not an NNTP answer: %.80s",
			    n->server, line);
		n->code = 0;
		return -1;
	}
	n->code = atoi(line);
	return 0;
}

static int
write_all(struct nntp *n, const char *data, size_t len, GError **error)
{
	GError *e = NULL;

	if (!g_output_stream_write_all(n->out, data, len, NULL, NULL, &e)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "news server %s: %s", n->server, e->message);
		g_error_free(e);
		return -1;
	}
	return 0;
}

/* Sends a command line and reads its status. */
static int
command(struct nntp *n, const char *line, GError **error)
{
	char *l = g_strconcat(line, "\r\n", NULL);
	int r;

	start_answer(n);
	r = write_all(n, l, strlen(l), error);

	g_free(l);
	return r < 0 ? -1 : read_status(n, error);
}

/* The error for an answer that is not the one expected: 4xx may work
 * later, anything else will not. */
static void
set_answer_error(struct nntp *n, const char *what, GError **error)
{
	g_set_error(error, HERALD_ERROR,
		    n->code >= 400 && n->code < 500 ? HERALD_ERR_IO
						    : HERALD_ERR_INVALID,
		    "news server %s: %s: %s", n->server, what, nntp_answer(n));
}

struct nntp *
nntp_connect(const char *server, unsigned timeout, GError **error)
{
	struct nntp *n = g_new0(struct nntp, 1);
	GError *e = NULL;

	n->server = g_strdup(server);
	n->timeout = timeout;
	if (*server == '\0' || strpbrk(server, " \t\r\n/") != NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "\"%s\" is no news server name", server);
		goto fail;
	}
	n->client = g_socket_client_new();
	g_socket_client_set_timeout(n->client, timeout);
	n->conn = g_socket_client_connect_to_host(n->client, server, NNTP_PORT,
						  NULL, &e);
	if (n->conn == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "news server %s: %s", server, e->message);
		g_error_free(e);
		goto fail;
	}
	n->out = g_io_stream_get_output_stream(G_IO_STREAM(n->conn));
	n->in = G_BUFFERED_INPUT_STREAM(g_buffered_input_stream_new_sized(
		g_io_stream_get_input_stream(G_IO_STREAM(n->conn)),
		MAX_LINE + 2));
	g_filter_input_stream_set_close_base_stream(G_FILTER_INPUT_STREAM(n->in),
						    FALSE);
	start_answer(n);
	if (read_status(n, error) < 0)
		goto fail;
	if (n->code != 200 && n->code != 201) {
		set_answer_error(n, "greeting", error);
		goto fail;
	}
	/* A server that serves readers and peers on one port (INN's innd)
	 * hands a reader over to its reader daemon only when asked; a
	 * reader-only server says 200 or 201, or that it knows no such
	 * command, which is fine too. */
	if (command(n, "MODE READER", error) < 0)
		goto fail;
	if (n->code >= 400 && n->code < 500 && n->code != 480) {
		set_answer_error(n, "MODE READER", error);
		goto fail;
	}
	return n;
fail:
	nntp_close(&n);
	return NULL;
}

void
nntp_close(struct nntp **np)
{
	struct nntp *n = *np;

	if (n == NULL)
		return;
	*np = NULL;
	if (n->conn != NULL) {
		GError *e = NULL;

		/* The answer to QUIT carries nothing: not waited for. */
		if (write_all(n, "QUIT\r\n", 6, &e) < 0)
			g_clear_error(&e);
		g_io_stream_close(G_IO_STREAM(n->conn), NULL, NULL);
		g_object_unref(n->conn);
	}
	if (n->in != NULL)
		g_object_unref(n->in);
	if (n->client != NULL)
		g_object_unref(n->client);
	g_free(n->answer);
	g_free(n->server);
	g_free(n);
}

int
nntp_group(struct nntp *n, const char *group, int64_t *first_r,
	   int64_t *last_r, GError **error)
{
	char *cmd;
	long long count, first, last;
	int r;

	if (*group == '\0' || strpbrk(group, " \t\r\n") != NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "\"%s\" is no newsgroup name", group);
		return -1;
	}
	cmd = g_strconcat("GROUP ", group, NULL);
	r = command(n, cmd, error);
	g_free(cmd);
	if (r < 0)
		return -1;
	if (n->code == 411) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
			    "news server %s has no group %s", n->server, group);
		return -1;
	}
	if (n->code != 211) {
		set_answer_error(n, "GROUP", error);
		return -1;
	}
	if (sscanf(n->answer, "211 %lld %lld %lld", &count, &first, &last) != 3 ||
	    first < 0 || last < 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "news server %s: a GROUP answer that does not parse: "
			    "%.80s", n->server, n->answer);
		return -1;
	}
	*first_r = first;
	*last_r = last;
	return 0;
}

int
nntp_article(struct nntp *n, int64_t number, GString **text_r,
	     GError **error)
{
	char *cmd = g_strdup_printf("ARTICLE %" G_GINT64_FORMAT, number);
	gboolean too_big = FALSE;
	GString *text;
	int r = command(n, cmd, error);

	g_free(cmd);
	*text_r = NULL;
	if (r < 0)
		return -1;
	if (n->code == 423 || n->code == 430)
		return 0;
	if (n->code != 220) {
		set_answer_error(n, "ARTICLE", error);
		return -1;
	}
	/* Up to the lone dot; an article cut off before it is an error, never
	 * half an article.  One too large is read on to its end, so that the
	 * connection stays in step, and dropped. */
	text = g_string_new(NULL);
	for (;;) {
		char *line = read_line(n, error);

		if (line == NULL) {
			g_string_free(text, TRUE);
			return -1;
		}
		if (strcmp(line, ".") == 0) {
			g_free(line);
			break;
		}
		if (text->len + strlen(line) + 1 > MAX_ARTICLE)
			too_big = TRUE;
		if (!too_big) {
			g_string_append(text, line[0] == '.' ? line + 1 : line);
			g_string_append_c(text, '\n');
		}
		g_free(line);
	}
	if (too_big) {
		g_string_free(text, TRUE);
		return 2;
	}
	*text_r = text;
	return 1;
}

/* article with CRLF line ends, dot-stuffed, ended by the lone dot. */
static GString *
stuffed(const char *article, size_t len)
{
	GString *s = g_string_sized_new(len + len / 32 + 8);
	gboolean bol = TRUE;

	for (size_t i = 0; i < len; i++) {
		char c = article[i];

		if (bol && c == '.')
			g_string_append_c(s, '.');
		bol = FALSE;
		if (c == '\r' && i + 1 < len && article[i + 1] == '\n')
			continue;
		if (c == '\n') {
			g_string_append(s, "\r\n");
			bol = TRUE;
			continue;
		}
		g_string_append_c(s, c);
	}
	if (!bol)
		g_string_append(s, "\r\n");
	g_string_append(s, ".\r\n");
	return s;
}

/* The Message-ID of article, or NULL. */
static char *
article_id(const char *article, size_t len)
{
	GMimeMessage *m = message_parse_stored(article, len, NULL);
	char *id = NULL;

	if (m != NULL) {
		id = g_strdup(message_header(m, "Message-ID"));
		g_object_unref(m);
	}
	return id;
}

/* After a 441: whether the server holds the article already (a repost
 * after a lost answer).  Only STAT says so; the text of a refusal does
 * not (INN's "441 435 Duplicate" and its "441 Duplicate Subject header
 * field" read alike).  The refusal stays in n's answer either way. */
static gboolean
server_has(struct nntp *n, const char *article, size_t len)
{
	char *id = article_id(article, len), *cmd, *answer;
	int code;
	gboolean has = FALSE;
	GError *e = NULL;

	if (id == NULL || strpbrk(id, "\r\n") != NULL) {
		g_free(id);
		return FALSE;
	}
	code = n->code;
	answer = g_steal_pointer(&n->answer);
	cmd = g_strconcat("STAT ", id, NULL);
	if (command(n, cmd, &e) == 0)
		has = n->code == 223;
	g_clear_error(&e);
	g_free(cmd);
	g_free(id);
	g_free(n->answer);
	n->answer = answer;
	n->code = code;
	return has;
}

int
nntp_post(struct nntp *n, const char *article, size_t len, GError **error)
{
	GString *s;
	int r;

	if (command(n, "POST", error) < 0)
		return -1;
	if (n->code != 340) {
		set_answer_error(n, "POST", error);
		return -1;
	}
	s = stuffed(article, len);
	r = write_all(n, s->str, s->len, error);
	g_string_free(s, TRUE);
	if (r < 0)
		return -1;
	start_answer(n);
	if (read_status(n, error) < 0)
		return -1;
	if (n->code == 240 || (n->code == 441 && server_has(n, article, len)))
		return 0;
	set_answer_error(n, "posting", error);
	return -1;
}
