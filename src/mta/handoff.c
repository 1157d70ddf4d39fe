/*
 * handoff.c - herald-mta's hand-over to the master's LMTP server
 * (handoff.h).  Plain C over the C library: herald-mta must start in
 * about the time of a process that does nothing, so it links none of
 * herald's libraries' dependencies (GMime, GIO).
 */
#include "handoff.h"
#include "entry/pipe_socket.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#ifndef HERALD_DEFAULT_VAR
#define HERALD_DEFAULT_VAR "/var/lib/herald"
#endif

/* Milliseconds to wait for a reply before the message is sent (then the
 * caller stores it itself), and for the reply to the message (then the
 * MTA retries: the server may have stored it, which is a duplicate at
 * worst, never a loss). */
#define HANDOFF_COMMAND_MS 60000
#define HANDOFF_DATA_MS 900000
/* The longest envelope address handed over (RFC 5321's path limit). */
#define HANDOFF_ADDR_MAX 256

struct handoff {
	const char *var_dir;
	const char *kind;
	const char *list;	/* NULL for auto */
	const char *sender;
	const char *recipient;
	int fd;
	char in[4096];		/* the server's replies */
	size_t in_len;
	char reply[512];	/* the last reply's last line */
};

/* --- the arguments ------------------------------------------------------- */

/* The value of option name (--name VALUE or --name=VALUE) at argv[*i], and
 * *i moved past it; NULL when argv[*i] is not that option. */
static const char *
option(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0' || *i + 1 >= argc)
		return NULL;
	*i += 1;
	return argv[*i];
}

/* An address fit for MAIL FROM or RCPT TO as it is: printable, no angle
 * brackets or spaces. */
static int
plain_address(const char *a)
{
	size_t n = strlen(a);

	if (n >= HANDOFF_ADDR_MAX)
		return 0;
	for (const char *p = a; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' ||
		    *p == 0x7f)
			return 0;
	return 1;
}

/* Whether the recipient is LIST's address of that kind (its +tag too, for
 * the kinds that have one), so that the server, mapping it, files the
 * message as `herald mta KIND LIST` does. */
static int
recipient_is(const char *rcpt, const char *list, const char *kind)
{
	const char *at = strrchr(list, '@'), *rat = strrchr(rcpt, '@');
	size_t local = at != NULL ? (size_t)(at - list) : 0;
	size_t rlocal = rat != NULL ? (size_t)(rat - rcpt) : 0;
	size_t want = local;

	if (at == NULL || rat == NULL || local == 0 ||
	    strcasecmp(at, rat) != 0 || strncasecmp(rcpt, list, local) != 0)
		return 0;
	if (strcmp(kind, "post") != 0) {
		size_t k = strlen(kind);

		if (rlocal < local + 1 + k || rcpt[local] != '-' ||
		    strncasecmp(rcpt + local + 1, kind, k) != 0)
			return 0;
		want = local + 1 + k;
	}
	if (rlocal == want)
		return 1;
	/* A VERP or a token after '+': the bounces and confirm addresses. */
	return rcpt[want] == '+' &&
	       (strcmp(kind, "bounces") == 0 || strcmp(kind, "confirm") == 0);
}

/* Reads herald-mta's arguments into *h: 0 when the hand-over can say
 * exactly what they ask for, -1 when `herald mta` must. */
static int
parse_args(int argc, char **argv, struct handoff *h)
{
	const char *pos[2];
	int npos = 0;
	const char *v;

	h->var_dir = getenv("HERALD_VAR");
	h->sender = getenv("SENDER");
	h->recipient = getenv("RECIPIENT");
	for (int i = 1; i < argc; i++) {
		/* --var is herald's, before the kind (program.c). */
		if (npos == 0 && (v = option(argc, argv, &i, "--var")) != NULL)
			h->var_dir = v;
		else if (npos > 0 &&
			 (v = option(argc, argv, &i, "--sender")) != NULL)
			h->sender = v;
		else if (npos > 0 &&
			 (v = option(argc, argv, &i, "--recipient")) != NULL)
			h->recipient = v;
		else if (argv[i][0] == '-' || npos == 2)
			return -1;	/* --help, a mistake: herald mta's */
		else
			pos[npos++] = argv[i];
	}
	if (h->var_dir == NULL || *h->var_dir == '\0')
		h->var_dir = HERALD_DEFAULT_VAR;
	if (npos == 0 || h->sender == NULL || h->recipient == NULL ||
	    !plain_address(h->recipient) || *h->recipient == '\0' ||
	    !plain_address(h->sender))
		return -1;
	h->kind = pos[0];
	if (strcmp(h->kind, "auto") == 0)
		return npos == 1 ? 0 : -1;
	static const char *const kinds[] = {
		"post", "owner", "request", "join", "leave", "confirm",
		"bounces",
	};
	int known = 0;
	for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
		known |= strcmp(h->kind, kinds[k]) == 0;
	if (!known || npos != 2)
		return -1;
	h->list = pos[1];
	return recipient_is(h->recipient, h->list, h->kind) ? 0 : -1;
}

/* --- the conversation ---------------------------------------------------- */

/* Sends all of buf: 0, or -1 when the connection is gone. */
static int
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The next reply's code (its last line in h->reply), or -1 when none came
 * within timeout_ms or the connection closed. */
static int
reply(struct handoff *h, int timeout_ms)
{
	for (;;) {
		char *nl = memchr(h->in, '\n', h->in_len);

		if (nl != NULL) {
			size_t n = (size_t)(nl - h->in) + 1, keep = n;
			int last;

			while (keep > 0 && (h->in[keep - 1] == '\n' ||
					    h->in[keep - 1] == '\r'))
				keep--;
			keep = keep < sizeof h->reply ? keep : sizeof h->reply - 1;
			memcpy(h->reply, h->in, keep);
			h->reply[keep] = '\0';
			memmove(h->in, h->in + n, h->in_len - n);
			h->in_len -= n;
			last = keep < 4 || h->reply[3] != '-';
			if (keep < 3 || h->reply[0] < '1' || h->reply[0] > '5')
				return -1;
			if (last)
				return atoi(h->reply);
			continue;	/* a multiline reply's next line */
		}
		if (h->in_len == sizeof h->in)
			return -1;	/* no server of ours */
		struct pollfd p = { .fd = h->fd, .events = POLLIN };
		int r = poll(&p, 1, timeout_ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ssize_t got = recv(h->fd, h->in + h->in_len,
				   sizeof h->in - h->in_len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		h->in_len += (size_t)got;
	}
}

/* Standard input to the server as LMTP DATA: lines ended with CRLF, a
 * leading dot doubled, the final dot.  0, or -1 when the connection or
 * standard input failed (errno). */
static int
send_message(struct handoff *h)
{
	char in[65536], out[2 * sizeof in + 8];
	int bol = 1, cr = 0;

	for (;;) {
		ssize_t n = read(STDIN_FILENO, in, sizeof in);
		size_t o = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			char c = in[i];

			if (bol && c == '.')
				out[o++] = '.';
			if (c == '\n' && !cr)
				out[o++] = '\r';
			out[o++] = c;
			bol = c == '\n';
			cr = c == '\r';
		}
		if (send_all(h->fd, out, o) < 0)
			return -1;
	}
	if (!bol)
		return send_all(h->fd, "\r\n.\r\n", 5);
	return send_all(h->fd, ".\r\n", 3);
}

/* The enhanced status code at the start of the reply's text (after the
 * code), or def. */
static const char *
enhanced(const struct handoff *h, char *buf, size_t size, const char *def)
{
	const char *t = h->reply + 4;
	size_t n = strspn(t, "0123456789.");

	if (strlen(h->reply) < 4 || n < 5 || n >= size || t[1] != '.')
		return def;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return buf;
}

/* After the message: the server's answer as herald-mta's exit code. */
static int
answer(struct handoff *h, int code)
{
	const char *what = h->list != NULL ? h->list : h->recipient;
	char status[32];

	if (code >= 200 && code < 300)
		return 0;
	if (code >= 500) {
		/* As herald mta refuses: the status first, for the MTA. */
		fprintf(stderr, "%s herald: message for %s refused: %s\n",
			enhanced(h, status, sizeof status, "5.6.0"), what,
			h->reply);
		return EX_DATAERR;
	}
	fprintf(stderr, "herald: temporary failure for %s: %s\n", what,
		code > 0 ? h->reply : "the LMTP server did not answer");
	return EX_TEMPFAIL;
}

/* The conversation up to the message: 1 when the server waits for it, 0
 * when `herald mta` must store it instead, or the exit code + 2 (an
 * unknown list).  The commands go in one write, before the greeting is
 * read (the server answers them in order, in one write: two round trips
 * instead of five); none of them is the message, so whatever the replies
 * say, standard input is still unread. */
static int
start(struct handoff *h)
{
	char cmds[3 * HANDOFF_ADDR_MAX];
	int n = snprintf(cmds, sizeof cmds,
			 "LHLO herald-mta\r\nMAIL FROM:<%s>\r\n"
			 "RCPT TO:<%s>\r\nDATA\r\n", h->sender, h->recipient);
	int code;

	if (n < 0 || (size_t)n >= sizeof cmds ||
	    send_all(h->fd, cmds, (size_t)n) < 0 ||
	    reply(h, HANDOFF_COMMAND_MS) != 220 ||
	    reply(h, HANDOFF_COMMAND_MS) != 250 ||
	    reply(h, HANDOFF_COMMAND_MS) != 250)
		return 0;
	code = reply(h, HANDOFF_COMMAND_MS);
	if (code >= 500 && code < 600) {
		/* As herald mta: no such list, no status (the MTA bounces on
		 * the exit code).  DATA's 503 is left unread. */
		fprintf(stderr, "herald: no such list address: %s (%s)\n",
			h->recipient, h->reply);
		return EX_NOUSER + 2;
	}
	if (code != 250 || reply(h, HANDOFF_COMMAND_MS) != 354)
		return 0;
	return 1;
}

int
handoff_main(int argc, char **argv)
{
	struct handoff h = { .fd = -1 };
	struct sockaddr_un sa;
	socklen_t len;
	int ret;

	if (parse_args(argc, argv, &h) < 0 ||
	    pipe_socket_address(h.var_dir, &sa, &len) < 0 ||
	    (h.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(h.fd, (struct sockaddr *)&sa, len) < 0) {
		close(h.fd);
		return -1;
	}
	ret = start(&h);
	if (ret == 0) {
		close(h.fd);
		return -1;
	}
	if (ret > 1) {
		close(h.fd);
		return ret - 2;
	}
	/* From here on standard input is being read: the server's answer
	 * (or its silence: 75) is the answer. */
	if (send_message(&h) < 0)
		ret = answer(&h, reply(&h, 1000));
	else
		ret = answer(&h, reply(&h, HANDOFF_DATA_MS));
	/* No QUIT: closing ends the session as well, a round trip sooner. */
	close(h.fd);
	return ret;
}
