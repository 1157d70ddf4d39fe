/*
 * nntp.c - a small NNTP client (RFC 3977): the greeting, MODE READER,
 * GROUP, ARTICLE and POST, which is all the gateway needs.
 *
 * Every wait is bounded: the socket's timeout covers the connection and
 * each read, so a server that stops answering (or drops the connection in
 * the middle of an article) is an error, never a hang.  Errors say what
 * may work later (HERALD_ERR_IO: no connection, a timeout, a 4xx answer)
 * apart from a refusal (HERALD_ERR_INVALID: a 5xx answer), because the
 * news runner retries the first and gives up the second.
 */
#include "news/nntp.h"
#include "base/base.h"

#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NNTP_PORT 119
/* No line of an answer may be longer: RFC 3977 allows 512 octets for
 * status lines, and articles' lines are bounded by RFC 5322's 998. */
#define MAX_LINE 65536

struct nntp {
	char *server;
	GSocketClient *client;
	GSocketConnection *conn;
	GDataInputStream *in;
	GOutputStream *out;
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

/* One line without its line end; NULL with *error at the end of the
 * stream or a timeout. */
static char *
read_line(struct nntp *n, GError **error)
{
	gsize len = 0;
	GError *e = NULL;
	char *line = g_data_input_stream_read_line(n->in, &len, NULL, &e);

	if (line == NULL) {
		if (e != NULL)
			g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
				    "news server %s: %s", n->server, e->message);
		else
			g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
				    "news server %s closed the connection",
				    n->server);
		g_clear_error(&e);
		return NULL;
	}
	if (len > MAX_LINE) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "news server %s: a line of %zu bytes", n->server,
			    (size_t)len);
		g_free(line);
		return NULL;
	}
	if (len > 0 && line[len - 1] == '\r')
		line[len - 1] = '\0';
	return line;
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
	int r = write_all(n, l, strlen(l), error);

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
	n->in = g_data_input_stream_new(
		g_io_stream_get_input_stream(G_IO_STREAM(n->conn)));
	g_filter_input_stream_set_close_base_stream(G_FILTER_INPUT_STREAM(n->in),
						    FALSE);
	g_data_input_stream_set_newline_type(n->in,
					     G_DATA_STREAM_NEWLINE_TYPE_LF);
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
	 * half an article. */
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
		g_string_append(text, line[0] == '.' ? line + 1 : line);
		g_string_append_c(text, '\n');
		g_free(line);
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

/* Whether a refusal says the server has the article already (INN: "441
 * 435 Duplicate", RFC 3977's IHAVE 435 "not wanted"). */
static gboolean
is_duplicate(const struct nntp *n)
{
	return n->answer != NULL && (strstr(n->answer, "uplicate") != NULL ||
				     strstr(n->answer, " 435 ") != NULL);
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
	if (r < 0 || read_status(n, error) < 0)
		return -1;
	if (n->code == 240 || (n->code == 441 && is_duplicate(n)))
		return 0;
	set_answer_error(n, "posting", error);
	return -1;
}
