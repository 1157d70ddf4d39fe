/*
 * lmtp_session.c - the LMTP protocol (RFC 2033) of one session, fed raw
 * bytes (lmtp_session.h has the contract).
 *
 * Commands: LHLO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT (and VRFY,
 * answered 252).  PIPELINING: a chunk may hold many commands, a command
 * may be split over many chunks; each complete line is answered in order,
 * and the replies of one chunk leave in one write (the driver's), which is
 * what keeps a multi-line LHLO reply from stalling on Nagle's algorithm
 * and the client's delayed ACK.
 *
 * In the command phase a line is collected up to its LF, at most
 * LMTP_LINE_MAX bytes; the rest of a longer line is dropped and the line
 * answered 500 when its LF comes.  In DATA the bytes go through a small
 * state machine instead of a line buffer, so that a line of any length
 * costs nothing more than its bytes in the message:
 *
 *     BOL --'.'--> DOT --'\r'--> DOT_CR --'\n'--> end of message
 *      |            |--'\n'--> end of message
 *      |            `--other: the dot is stuffing, dropped; MID
 *      `--other--> MID --'\r'--> CR --'\n'--> LF kept, BOL
 *                   `--'\n'--> BOL
 *
 * A CR is kept unless an LF follows it (CRLF becomes LF, as the queue
 * stores messages), which is what the line-based reader before it did.
 * Past max_message_size the bytes are counted and dropped: the message is
 * answered 552 after its final dot, and the buffer is freed at once.
 *
 * The per-recipient replies after the final dot come from the storing
 * callback, called once per recipient: 250 only after it returned 0, so a
 * 250 always names a stored message, and nothing is stored for a message
 * whose final dot never came (a connection lost, a timeout, a stop).
 */
#include "entry/lmtp_session.h"
#include "base/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum data_state { DS_BOL, DS_DOT, DS_DOT_CR, DS_MID, DS_CR };

struct lmtp_session {
	struct site *site;
	char *hostname;
	struct lmtp_limits limits;
	lmtp_store_fn *store;
	void *store_ctx;

	enum lmtp_phase phase;
	const char *close_reason;
	gboolean draining;
	GString *out;

	/* The command phase. */
	GString *line;		/* without its LF; never over LMTP_LINE_MAX */
	gboolean line_too_long;
	unsigned commands, errors;	/* since the last message stored */

	/* The transaction. */
	char *sender;		/* NULL before MAIL; "" for <> */
	GPtrArray *rcpts;	/* struct listaddr */

	/* DATA. */
	enum data_state ds;
	GString *msg;		/* NULL once the message is too big */
	int64_t msg_size;	/* bytes of the message, kept or not */

	guint64 stored;
};

/* One reply line.  What goes in it is checked text or a checked address,
 * so it is only cut to length here. */
static void
reply_v(struct lmtp_session *s, const char *fmt, va_list ap)
	G_GNUC_PRINTF(2, 0);

static void
reply_v(struct lmtp_session *s, const char *fmt, va_list ap)
{
	char line[LMTP_REPLY_MAX - 1];

	(void)g_vsnprintf(line, sizeof line, fmt, ap);
	g_string_append(s->out, line);
	g_string_append(s->out, "\r\n");
}

static void
reply(struct lmtp_session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
reply(struct lmtp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_v(s, fmt, ap);
	va_end(ap);
}

static void
close_session(struct lmtp_session *s, const char *reason)
{
	s->phase = LMTP_PHASE_CLOSED;
	s->close_reason = reason;
	g_clear_pointer(&s->sender, g_free);
	g_ptr_array_set_size(s->rcpts, 0);
	if (s->msg != NULL) {
		g_string_free(s->msg, TRUE);
		s->msg = NULL;
	}
}

/* A 421: the session ends here. */
static void
close_421(struct lmtp_session *s, const char *code, const char *text,
	  const char *reason)
{
	reply(s, "421 %s %s %s", code, s->hostname, text);
	close_session(s, reason);
}

/* A protocol error's reply, counted against error_limit. */
static void
error_reply(struct lmtp_session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
error_reply(struct lmtp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_v(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->limits.error_limit)
		close_421(s, "4.7.0", "too many errors, closing", "too many errors");
}

static void
reset_transaction(struct lmtp_session *s)
{
	g_clear_pointer(&s->sender, g_free);
	g_ptr_array_set_size(s->rcpts, 0);
}

struct lmtp_session *
lmtp_session_new(struct site *site, const char *hostname,
		 const struct lmtp_limits *limits, lmtp_store_fn *store,
		 void *store_ctx)
{
	struct lmtp_session *s = g_new0(struct lmtp_session, 1);

	s->site = site;
	s->hostname = g_strdup(hostname);
	s->limits = *limits;
	if (s->limits.command_limit == 0)
		s->limits.command_limit = 1;
	if (s->limits.error_limit == 0)
		s->limits.error_limit = 1;
	s->store = store;
	s->store_ctx = store_ctx;
	s->phase = LMTP_PHASE_COMMAND;
	s->out = g_string_new(NULL);
	s->line = g_string_sized_new(LMTP_LINE_MAX);
	s->rcpts = g_ptr_array_new_with_free_func(listaddr_free_ptr);
	reply(s, "220 %s LMTP herald ready", s->hostname);
	return s;
}

void
lmtp_session_free(struct lmtp_session **sp)
{
	struct lmtp_session *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	close_session(s, s->close_reason);
	g_ptr_array_free(s->rcpts, TRUE);
	g_string_free(s->line, TRUE);
	g_string_free(s->out, TRUE);
	g_free(s->hostname);
	g_free(s);
}

/* ------------------------------------------------------------------ */
/* Commands */

/* The address of "FROM:<a> params" / "TO:<a> params" (prefix given), in
 * *addr_r; *params_r points after the '>'.  FALSE on a syntax error or an
 * address longer than LMTP_PATH_MAX.  The line has no control characters
 * (checked before), so neither has the address. */
static gboolean
path_arg(const char *arg, const char *prefix, char **addr_r,
	 const char **params_r)
{
	const char *lt, *gt;
	size_t plen = strlen(prefix);

	if (g_ascii_strncasecmp(arg, prefix, plen) != 0)
		return FALSE;
	arg += plen;
	while (*arg == ' ')
		arg++;
	lt = arg;
	if (*lt != '<' || (gt = strchr(lt + 1, '>')) == NULL)
		return FALSE;
	if ((size_t)(gt - lt - 1) > LMTP_PATH_MAX ||
	    memchr(lt + 1, '<', (size_t)(gt - lt - 1)) != NULL)
		return FALSE;
	*addr_r = g_strndup(lt + 1, (gsize)(gt - lt - 1));
	*params_r = gt + 1;
	return TRUE;
}

/* The value of SIZE=n among MAIL's parameters, -1 when absent or not a
 * number. */
static int64_t
size_param(const char *params)
{
	char **words = g_strsplit(params, " ", -1);
	int64_t size = -1;

	for (char **w = words; *w != NULL; w++) {
		if (g_ascii_strncasecmp(*w, "SIZE=", 5) == 0) {
			char *end;
			guint64 v = g_ascii_strtoull(*w + 5, &end, 10);

			if (end != *w + 5 && *end == '\0')
				size = v > INT64_MAX ? INT64_MAX : (int64_t)v;
		}
	}
	g_strfreev(words);
	return size;
}

static void
cmd_lhlo(struct lmtp_session *s, const char *arg)
{
	if (*arg == '\0') {
		error_reply(s, "501 5.5.4 syntax: LHLO hostname");
		return;
	}
	reset_transaction(s);
	/* One reply, five lines: they leave in the same write. */
	reply(s, "250-%s", s->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-ENHANCEDSTATUSCODES");
	reply(s, "250-8BITMIME");
	reply(s, "250 SIZE %lld", (long long)s->limits.max_message_size);
}

static void
cmd_mail(struct lmtp_session *s, const char *arg)
{
	const char *params;
	char *from;
	int64_t size;

	if (!path_arg(arg, "FROM:", &from, &params)) {
		error_reply(s, "501 5.5.4 syntax: MAIL FROM:<address>");
		return;
	}
	if (s->sender != NULL) {
		g_free(from);
		error_reply(s, "503 5.5.1 sender already given");
		return;
	}
	size = size_param(params);
	if (size > s->limits.max_message_size) {
		g_free(from);
		reply(s, "552 5.3.4 message larger than %lld bytes",
		      (long long)s->limits.max_message_size);
		return;
	}
	s->sender = from;
	reply(s, "250 2.1.0 ok");
}

static void
cmd_rcpt(struct lmtp_session *s, const char *arg)
{
	const char *params;
	struct listaddr *r;
	char *to;

	if (!path_arg(arg, "TO:", &to, &params)) {
		error_reply(s, "501 5.5.4 syntax: RCPT TO:<address>");
		return;
	}
	if (s->sender == NULL)
		error_reply(s, "503 5.5.1 MAIL first");
	else if (s->rcpts->len >= LMTP_MAX_RCPT)
		reply(s, "452 4.5.3 too many recipients");
	else if ((r = listaddr_map(s->site, to)) == NULL)
		reply(s, "550 5.1.1 <%s> no such list", to);
	else {
		g_ptr_array_add(s->rcpts, r);
		reply(s, "250 2.1.5 ok");
	}
	g_free(to);
}

static void
cmd_data(struct lmtp_session *s, const char *arg)
{
	if (*arg != '\0') {
		error_reply(s, "501 5.5.4 syntax: DATA");
		return;
	}
	if (s->rcpts->len == 0) {
		error_reply(s, "503 5.5.1 no valid recipients");
		return;
	}
	s->phase = LMTP_PHASE_DATA;
	s->ds = DS_BOL;
	s->msg = g_string_new(NULL);
	s->msg_size = 0;
	reply(s, "354 go ahead, end with <CRLF>.<CRLF>");
}

/* TRUE when the line holds a control character (the CR before its LF is
 * gone already): nothing a command needs, and a CR or NUL in an address
 * echoed into a reply would break the reply apart. */
static gboolean
has_control(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return TRUE;
	return FALSE;
}

static void
command(struct lmtp_session *s, char *line, size_t len)
{
	char *arg;
	size_t vlen;

	if (++s->commands > s->limits.command_limit) {
		close_421(s, "4.7.0", "too many commands, closing",
			  "too many commands");
		return;
	}
	if (s->line_too_long) {
		error_reply(s, "500 5.5.2 line too long (limit %d bytes)",
			    LMTP_LINE_MAX);
		return;
	}
	if (has_control(line, len)) {
		error_reply(s, "500 5.5.2 control character in command");
		return;
	}
	arg = strchr(line, ' ');
	vlen = arg != NULL ? (size_t)(arg - line) : len;
	arg = arg != NULL ? arg + 1 : line + len;
#define VERB(v) (vlen == sizeof(v) - 1 && g_ascii_strncasecmp(line, v, vlen) == 0)
	if (VERB("LHLO"))
		cmd_lhlo(s, arg);
	else if (VERB("MAIL"))
		cmd_mail(s, arg);
	else if (VERB("RCPT"))
		cmd_rcpt(s, arg);
	else if (VERB("DATA"))
		cmd_data(s, arg);
	else if (VERB("RSET")) {
		reset_transaction(s);
		reply(s, "250 2.0.0 ok");
	} else if (VERB("NOOP"))
		reply(s, "250 2.0.0 ok");
	else if (VERB("VRFY"))
		reply(s, "252 2.5.2 send some mail, I'll try my best");
	else if (VERB("QUIT")) {
		reply(s, "221 2.0.0 %s bye", s->hostname);
		close_session(s, "QUIT");
	} else
		error_reply(s, "500 5.5.2 unknown command");
#undef VERB
}

/* Command-phase bytes up to end: returns where the command phase ended
 * (after a line that started DATA or closed the session) or end. */
static const char *
feed_commands(struct lmtp_session *s, const char *p, const char *end)
{
	while (p < end && s->phase == LMTP_PHASE_COMMAND) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl != NULL ? nl : end;
		size_t n = (size_t)(stop - p);

		if (!s->line_too_long) {
			if (s->line->len + n > LMTP_LINE_MAX - 1) {
				s->line_too_long = TRUE;
				g_string_truncate(s->line, 0);
			} else
				g_string_append_len(s->line, p, (gssize)n);
		}
		if (nl == NULL)
			return end;
		p = nl + 1;
		if (s->line->len > 0 && s->line->str[s->line->len - 1] == '\r')
			g_string_truncate(s->line, s->line->len - 1);
		command(s, s->line->str, s->line->len);
		g_string_truncate(s->line, 0);
		s->line_too_long = FALSE;
	}
	return p;
}

/* ------------------------------------------------------------------ */
/* DATA */

static void
keep(struct lmtp_session *s, const char *p, size_t n)
{
	s->msg_size += (int64_t)n;
	if (s->msg == NULL)
		return;
	if (s->msg_size > s->limits.max_message_size) {
		g_string_free(s->msg, TRUE);	/* too big: keep nothing */
		s->msg = NULL;
		return;
	}
	g_string_append_len(s->msg, p, (gssize)n);
}

/* The reason a store failed, fit for a reply: printable, short. */
static char *
reply_reason(const GError *error)
{
	char *text = g_strndup(error != NULL ? error->message : "refused", 200);

	for (char *c = text; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return text;
}

/* The final dot came: one reply per recipient. */
static void
end_of_data(struct lmtp_session *s)
{
	const char *msg = s->msg != NULL ? s->msg->str : "";
	size_t len = s->msg != NULL ? s->msg->len : 0;
	gboolean any = FALSE;

	s->phase = LMTP_PHASE_COMMAND;
	for (guint i = 0; i < s->rcpts->len; i++) {
		const struct listaddr *r = s->rcpts->pdata[i];
		GError *error = NULL;
		char *id = NULL;

		if (s->msg == NULL) {
			reply(s, "552 5.3.4 <%s> message larger than %lld bytes",
			      r->address, (long long)s->limits.max_message_size);
		} else if (s->store(s->store_ctx, s->sender, r, msg, len, &id,
				    &error) == 0) {
			reply(s, "250 2.0.0 <%s> stored as %s", r->address,
			      id != NULL ? id : "-");
			s->stored++;
			any = TRUE;
		} else if (g_error_matches(error, HERALD_ERROR,
					   HERALD_ERR_FORMAT)) {
			char *why = reply_reason(error);

			reply(s, "554 5.6.0 <%s> message refused: %s",
			      r->address, why);
			g_free(why);
		} else {
			reply(s, "451 4.3.0 <%s> temporary failure, try again "
			      "later", r->address);
		}
		g_clear_error(&error);
		g_free(id);
	}
	if (s->msg != NULL) {
		g_string_free(s->msg, TRUE);
		s->msg = NULL;
	}
	reset_transaction(s);
	if (any)
		s->commands = s->errors = 0;
	if (s->draining)
		close_421(s, "4.3.2", "shutting down", "server stopping");
}

/* DATA bytes up to end: returns where the message ended (after its final
 * dot's LF) or end. */
static const char *
feed_data(struct lmtp_session *s, const char *p, const char *end)
{
	while (p < end) {
		char c = *p;

		switch (s->ds) {
		case DS_BOL:
			if (c == '.') {
				s->ds = DS_DOT;
				p++;
				continue;
			}
			s->ds = DS_MID;
			continue;
		case DS_DOT:
			if (c == '\r' || c == '\n') {
				s->ds = c == '\r' ? DS_DOT_CR : DS_BOL;
				p++;
				if (c == '\n') {
					end_of_data(s);
					return p;
				}
				continue;
			}
			s->ds = DS_MID;	/* the dot was stuffing */
			continue;
		case DS_DOT_CR:
			if (c == '\n') {
				s->ds = DS_BOL;
				end_of_data(s);
				return p + 1;
			}
			keep(s, "\r", 1);
			s->ds = DS_MID;
			continue;
		case DS_MID: {
			/* The run up to the next CR or LF in one piece. */
			const char *q = memchr(p, '\n', (size_t)(end - p));
			const char *cr;

			if (q == NULL)
				q = end;
			if ((cr = memchr(p, '\r', (size_t)(q - p))) != NULL)
				q = cr;
			if (q > p)
				keep(s, p, (size_t)(q - p));
			p = q;
			if (p == end)
				return p;
			if (*p == '\n') {
				keep(s, "\n", 1);
				s->ds = DS_BOL;
			} else
				s->ds = DS_CR;
			p++;
			continue;
		}
		case DS_CR:
			if (c == '\n') {
				keep(s, "\n", 1);
				s->ds = DS_BOL;
				p++;
			} else if (c == '\r') {
				keep(s, "\r", 1);
				p++;
			} else {
				keep(s, "\r", 1);
				s->ds = DS_MID;
			}
			continue;
		}
	}
	return p;
}

/* ------------------------------------------------------------------ */
/* The driver's calls */

void
lmtp_session_feed(struct lmtp_session *s, const void *data, size_t len)
{
	const char *p = data, *end = p + len;

	while (p < end && s->phase != LMTP_PHASE_CLOSED) {
		if (s->phase == LMTP_PHASE_DATA)
			p = feed_data(s, p, end);
		else
			p = feed_commands(s, p, end);
	}
}

void
lmtp_session_eof(struct lmtp_session *s)
{
	if (s->phase == LMTP_PHASE_CLOSED)
		return;
	close_session(s, s->phase == LMTP_PHASE_DATA
			 ? "connection lost in DATA, nothing stored"
			 : "connection closed by the client");
}

void
lmtp_session_timeout(struct lmtp_session *s)
{
	if (s->phase == LMTP_PHASE_CLOSED)
		return;
	if (s->phase == LMTP_PHASE_DATA)
		close_421(s, "4.4.2", "DATA timeout, closing",
			  "DATA timeout, nothing stored");
	else
		close_421(s, "4.4.2", "command timeout, closing",
			  "command timeout");
}

void
lmtp_session_drain(struct lmtp_session *s)
{
	s->draining = TRUE;
	if (s->phase == LMTP_PHASE_COMMAND)
		close_421(s, "4.3.2", "shutting down", "server stopping");
}

void
lmtp_session_stop(struct lmtp_session *s)
{
	if (s->phase == LMTP_PHASE_CLOSED)
		return;
	close_421(s, "4.3.2", "shutting down",
		  s->phase == LMTP_PHASE_DATA
		  ? "server stopping in DATA, nothing stored"
		  : "server stopping");
}

enum lmtp_phase
lmtp_session_phase(const struct lmtp_session *s)
{
	return s->phase;
}

GString *
lmtp_session_output(struct lmtp_session *s)
{
	return s->out;
}

size_t
lmtp_session_memory(const struct lmtp_session *s)
{
	return s->line->allocated_len + s->out->allocated_len +
	       (s->msg != NULL ? s->msg->allocated_len : 0);
}

const char *
lmtp_session_close_reason(const struct lmtp_session *s)
{
	return s->phase == LMTP_PHASE_CLOSED ? s->close_reason : NULL;
}

guint64
lmtp_session_stored(const struct lmtp_session *s)
{
	return s->stored;
}
