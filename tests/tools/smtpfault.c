/*
 * smtpfault.c - an SMTP/LMTP server for herald's delivery tests, with
 * faults on demand.
 *
 *   smtpfault [options]
 *
 * It listens on 127.0.0.1 (--addr, --port; port 0, the default, takes a
 * free one), or on a unix socket (--unix), and prints "port N" (or
 * "unix PATH") on standard output once it accepts connections.  Each
 * connection is served by a thread of its own; SIGTERM ends it all.
 *
 * Options:
 *   --addr A          address to listen on (127.0.0.1)
 *   --port N          port (0: any free one)
 *   --unix PATH       listen on a unix socket instead
 *   --lmtp            speak LMTP: LHLO, one reply per recipient after DATA
 *   --spool DIR       store each accepted message (below)
 *   --script FILE     the fault script (below)
 *   --no-pipelining   do not offer PIPELINING; a client that sends a
 *                     command before the previous reply is counted
 *                     ("improper" in the .env file)
 *   --no-esmtp        refuse EHLO (502), so clients fall back to HELO
 *   --no-8bitmime     do not offer 8BITMIME
 *   --smtputf8        offer SMTPUTF8
 *   --size N          offer SIZE N and refuse larger messages (552);
 *                     without it, SIZE without a limit is offered
 *   --max-rcpts N     452 after N recipients in one transaction
 *   --tls-cert FILE, --tls-key FILE
 *                     offer STARTTLS with this certificate (PEM)
 *   --auth USER:PASS  offer AUTH PLAIN LOGIN with these credentials
 *   --auth-mechs M    the mechanisms offered ("PLAIN LOGIN"; "LOGIN" to
 *                     make a client use LOGIN)
 *   --auth-tls-only   offer AUTH only after STARTTLS
 *   --require-auth    MAIL before AUTH gets 530
 *   --small-buffers   4 KiB socket buffers, so that a client that writes a
 *                     long pipelined batch without reading the replies
 *                     meanwhile deadlocks with the server
 *   --max-connections N
 *                     stop listening after N connections (later ones are
 *                     refused), and exit once they end
 *   --die-with-parent exit when the process that started it ends
 *                     (PR_SET_PDEATHSIG), so that a test that dies midway
 *                     leaves no server behind
 *   --verbose         the dialogue on standard error
 *
 * The spool: one delivery (the message and the recipients it was accepted
 * for) is three files, NNNNNN.msg (the message as the client meant it:
 * dot-stuffing undone, CRLF turned into LF), NNNNNN.wire (the bytes after
 * the 354, as they came, final "." included) and NNNNNN.env, written last
 * (by rename), holding lines:
 *   conn N            the connection's number (1, 2, ...)
 *   mail ADDR PARAMS  MAIL FROM's address and parameters
 *   rcpt ADDR         each recipient the message was accepted for
 *   tls yes|no, auth USER|-
 *   ahead N           most complete commands already waiting when one
 *                     was taken (pipelining shows as N > 0)
 *   dot-ahead N       complete commands that came with the final "."
 *                     (in the same read): a client that pipelines the
 *                     next transaction behind the data (RFC 2920 3.1)
 *   improper N        commands sent before the reply to the previous
 *                     one, when PIPELINING was not offered
 *   bare-lf N         lines that ended in LF without CR
 *   size N            bytes in the .msg file
 * Before its reply to the final dot the server has written all three.
 *
 * The fault script: one rule a line, '#' starts a comment.  REPLY is the
 * rest of the line, "CODE text", with "\n" in the text for a multi-line
 * reply.  STEP is one of greeting, ehlo (EHLO and LHLO), helo, starttls,
 * auth, mail, rcpt, data (the 354), dot (after the final "."), rset,
 * noop, quit.  PATTERN is a glob over the address (fnmatch, any case).
 *   reply STEP REPLY            answer REPLY at STEP instead of the usual
 *   reply-first N STEP REPLY    the same, for the first N times (all
 *                               connections together), then the usual
 *   mail PATTERN REPLY          MAIL FROM of a matching sender
 *   rcpt PATTERN REPLY          RCPT TO of a matching recipient
 *   rcpt-first N PATTERN REPLY  the first N RCPTs of each matching
 *                               address get REPLY, later ones 250
 *   dot-if STRING REPLY         after the dot, for a message holding STRING
 *   dot-rcpt PATTERN REPLY      LMTP: the matching recipient's reply after
 *                               the dot
 *   drop STEP                   close the connection instead of answering
 *   drop-data N                 close the connection once N bytes of the
 *                               message have come
 *   stall STEP SECONDS          wait before answering at STEP
 *   refuse N                    close the first N connections at once,
 *                               without a greeting
 * The first rule that matches wins; the rules specific to an address or
 * a message (mail, rcpt, rcpt-first, dot-if, dot-rcpt) before reply.
 */
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define LINE_MAX_BYTES (1u << 20)

enum step {
	ST_GREETING, ST_EHLO, ST_HELO, ST_STARTTLS, ST_AUTH, ST_MAIL, ST_RCPT,
	ST_DATA, ST_DOT, ST_RSET, ST_NOOP, ST_QUIT, ST_COUNT
};

static const char *const step_names[ST_COUNT] = {
	"greeting", "ehlo", "helo", "starttls", "auth", "mail", "rcpt",
	"data", "dot", "rset", "noop", "quit",
};

enum rule_kind {
	RULE_REPLY, RULE_MAIL, RULE_RCPT, RULE_RCPT_FIRST, RULE_DOT_IF,
	RULE_DOT_RCPT, RULE_DROP, RULE_DROP_DATA, RULE_STALL, RULE_REFUSE,
};

struct rule {
	enum rule_kind kind;
	enum step step;
	char *pattern;		/* address glob or string */
	char *reply;		/* "CODE text", '\n' between lines */
	long n;			/* a count, a byte count */
	double seconds;
	long used;		/* reply-first: times applied (under lock) */
};

static struct {
	const char *addr, *unix_path, *spool, *script, *tls_cert, *tls_key;
	const char *auth, *auth_mechs;
	int port, max_connections, max_rcpts;
	gint64 size;
	gboolean lmtp, no_pipelining, no_esmtp, no_8bitmime, smtputf8;
	gboolean auth_tls_only, require_auth, verbose, small_buffers;
	gboolean die_with_parent;
} opt = { .addr = "127.0.0.1", .auth_mechs = "PLAIN LOGIN" };

static GPtrArray *rules;	/* struct rule */
static SSL_CTX *tls_ctx;
static char *auth_user, *auth_pass;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static GHashTable *rcpt_attempts;	/* "rule#:address" -> count */
static long spool_seq;
static int active_sessions;

struct session {
	int fd;
	int no;
	SSL *ssl;
	char *in;
	size_t ipos, ilen, icap;
	GString *out;
	gboolean tls, esmtp, closed;
	gboolean hangup;	/* a 421 was said: close after sending it */
	gboolean refusing;	/* a 5xx greeting: only QUIT is served */
	char *auth;		/* the user, once AUTH succeeded */
	char *mail;		/* NULL: no transaction */
	char *mail_params;
	GPtrArray *rcpts;
	long ahead, improper;
	long dot_ahead;		/* lines read with the final "." */
};

/* --- small helpers ------------------------------------------------------- */

static void
die(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "smtpfault: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
vlog(struct session *s, const char *dir, const char *line, size_t len)
{
	if (!opt.verbose)
		return;
	fprintf(stderr, "[%d] %s %.*s\n", s->no, dir,
		(int)MIN(len, (size_t)200), line);
}

static int
step_by_name(const char *name)
{
	for (int i = 0; i < ST_COUNT; i++)
		if (strcmp(step_names[i], name) == 0)
			return i;
	return -1;
}

/* --- the script ---------------------------------------------------------- */

/* The next word of *p (moved past it), or NULL. */
static char *
word(char **p)
{
	char *start;

	while (**p == ' ' || **p == '\t')
		(*p)++;
	if (**p == '\0')
		return NULL;
	start = *p;
	while (**p != '\0' && **p != ' ' && **p != '\t')
		(*p)++;
	if (**p != '\0')
		*(*p)++ = '\0';
	return start;
}

/* The rest of the line as a reply: "CODE text" with "\n" escapes. */
static char *
rest_reply(char *p, const char *file, int lineno)
{
	GString *r = g_string_new(NULL);

	while (*p == ' ' || *p == '\t')
		p++;
	if (strlen(p) < 3 || !g_ascii_isdigit(p[0]) || !g_ascii_isdigit(p[1]) ||
	    !g_ascii_isdigit(p[2]))
		die("%s:%d: a reply must start with a 3-digit code", file,
		    lineno);
	for (; *p != '\0'; p++) {
		if (p[0] == '\\' && p[1] == 'n') {
			g_string_append_c(r, '\n');
			p++;
		} else {
			g_string_append_c(r, *p);
		}
	}
	return g_string_free(r, FALSE);
}

static enum step
need_step(char *p, const char *file, int lineno)
{
	int st = p != NULL ? step_by_name(p) : -1;

	if (st < 0)
		die("%s:%d: unknown step %s", file, lineno, p ? p : "(none)");
	return (enum step)st;
}

static long
need_number(const char *p, const char *file, int lineno)
{
	char *end;
	long v;

	if (p == NULL)
		die("%s:%d: a number is missing", file, lineno);
	v = strtol(p, &end, 10);
	if (*end != '\0' || v < 0)
		die("%s:%d: bad number %s", file, lineno, p);
	return v;
}

static void
load_script(const char *file)
{
	char *text = NULL;
	GError *error = NULL;
	char **lines;

	if (!g_file_get_contents(file, &text, NULL, &error))
		die("%s", error->message);
	lines = g_strsplit(text, "\n", -1);
	for (int i = 0; lines[i] != NULL; i++) {
		char *p = lines[i], *kind;
		struct rule *r;
		int ln = i + 1;

		g_strchomp(p);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		kind = word(&p);
		r = g_new0(struct rule, 1);
		if (strcmp(kind, "reply") == 0) {
			r->kind = RULE_REPLY;
			r->step = need_step(word(&p), file, ln);
			r->reply = rest_reply(p, file, ln);
		} else if (strcmp(kind, "reply-first") == 0) {
			r->kind = RULE_REPLY;
			r->n = need_number(word(&p), file, ln);
			r->step = need_step(word(&p), file, ln);
			r->reply = rest_reply(p, file, ln);
			if (r->n == 0)
				die("%s:%d: reply-first needs N > 0", file, ln);
		} else if (strcmp(kind, "mail") == 0 ||
			   strcmp(kind, "rcpt") == 0 ||
			   strcmp(kind, "dot-rcpt") == 0 ||
			   strcmp(kind, "dot-if") == 0) {
			r->kind = kind[0] == 'm'   ? RULE_MAIL
				  : kind[0] == 'r' ? RULE_RCPT
				  : kind[4] == 'r' ? RULE_DOT_RCPT
						   : RULE_DOT_IF;
			r->pattern = g_strdup(word(&p));
			if (r->pattern == NULL)
				die("%s:%d: a pattern is missing", file, ln);
			r->reply = rest_reply(p, file, ln);
		} else if (strcmp(kind, "rcpt-first") == 0) {
			r->kind = RULE_RCPT_FIRST;
			r->n = need_number(word(&p), file, ln);
			r->pattern = g_strdup(word(&p));
			if (r->pattern == NULL)
				die("%s:%d: a pattern is missing", file, ln);
			r->reply = rest_reply(p, file, ln);
		} else if (strcmp(kind, "drop") == 0) {
			r->kind = RULE_DROP;
			r->step = need_step(word(&p), file, ln);
		} else if (strcmp(kind, "drop-data") == 0) {
			r->kind = RULE_DROP_DATA;
			r->n = need_number(word(&p), file, ln);
		} else if (strcmp(kind, "stall") == 0) {
			char *sec;

			r->kind = RULE_STALL;
			r->step = need_step(word(&p), file, ln);
			sec = word(&p);
			if (sec == NULL)
				die("%s:%d: stall needs SECONDS", file, ln);
			r->seconds = g_ascii_strtod(sec, NULL);
		} else if (strcmp(kind, "refuse") == 0) {
			r->kind = RULE_REFUSE;
			r->n = need_number(word(&p), file, ln);
		} else {
			die("%s:%d: unknown rule %s", file, ln, kind);
		}
		g_ptr_array_add(rules, r);
	}
	g_strfreev(lines);
	g_free(text);
}

/* --- session I/O --------------------------------------------------------- */

static void
sess_close(struct session *s)
{
	if (s->closed)
		return;
	s->closed = TRUE;
	if (s->ssl != NULL) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (close(s->fd) < 0)
		fprintf(stderr, "smtpfault: close(connection %d) failed: %s\n",
			s->no, g_strerror(errno));
}

static int
sess_flush(struct session *s)
{
	size_t off = 0;

	if (s->closed)
		return -1;
	while (off < s->out->len) {
		ssize_t n;

		if (s->ssl != NULL) {
			size_t w = 0;

			n = SSL_write_ex(s->ssl, s->out->str + off,
					 s->out->len - off, &w) == 1
				? (ssize_t)w
				: -1;
		} else {
			n = send(s->fd, s->out->str + off, s->out->len - off,
				 MSG_NOSIGNAL);
		}
		if (n < 0 && errno == EINTR && s->ssl == NULL)
			continue;
		if (n <= 0) {
			g_string_truncate(s->out, 0);
			sess_close(s);
			return -1;
		}
		off += (size_t)n;
	}
	g_string_truncate(s->out, 0);
	return 0;
}

/* Reads more input; 0, or -1 at the end. */
static int
sess_fill(struct session *s)
{
	ssize_t n;

	if (s->closed)
		return -1;
	if (s->ipos > 0) {
		memmove(s->in, s->in + s->ipos, s->ilen - s->ipos);
		s->ilen -= s->ipos;
		s->ipos = 0;
	}
	if (s->icap - s->ilen < 65536) {
		s->icap = MAX(s->icap * 2, s->ilen + 65536);
		s->in = g_realloc(s->in, s->icap);
	}
	for (;;) {
		if (s->ssl != NULL) {
			size_t got = 0;

			n = SSL_read_ex(s->ssl, s->in + s->ilen,
					s->icap - s->ilen, &got) == 1
				? (ssize_t)got
				: -1;
			if (n < 0)
				n = 0;
		} else {
			n = recv(s->fd, s->in + s->ilen, s->icap - s->ilen, 0);
			if (n < 0 && errno == EINTR)
				continue;
		}
		break;
	}
	if (n <= 0)
		return -1;
	s->ilen += (size_t)n;
	return 0;
}

/* The next line (without CR LF), or NULL at the end.  Replies are sent
 * only when no further command waits: a pipelining client gets its
 * replies in one segment. */
static char *
sess_line(struct session *s, size_t *len_r)
{
	for (;;) {
		char *start = s->in + s->ipos;
		char *nl = memchr(start, '\n', s->ilen - s->ipos);

		if (nl != NULL) {
			size_t len = (size_t)(nl - start);

			s->ipos += len + 1;
			if (len > 0 && start[len - 1] == '\r')
				len--;
			start[len] = '\0';
			*len_r = len;
			return start;
		}
		if (s->ilen - s->ipos > LINE_MAX_BYTES)
			return NULL;
		if (sess_flush(s) < 0 || sess_fill(s) < 0)
			return NULL;
	}
}

static void
sess_reply(struct session *s, const char *reply)
{
	char code[4];
	char **lines;
	const char *text = reply + 3;

	memcpy(code, reply, 3);
	code[3] = '\0';
	if (strcmp(code, "421") == 0)
		s->hangup = TRUE;
	if (*text == ' ')
		text++;
	lines = g_strsplit(text, "\n", -1);
	for (int i = 0; lines[i] != NULL; i++) {
		gsize mark = s->out->len;

		g_string_append_printf(s->out, "%s%c%s\r\n", code,
				       lines[i + 1] != NULL ? '-' : ' ',
				       lines[i]);
		vlog(s, "S:", s->out->str + mark, s->out->len - mark - 2);
	}
	g_strfreev(lines);
}

/* --- rules --------------------------------------------------------------- */

/* Stall, then: TRUE when the step is to be dropped (the connection is
 * closed). */
static gboolean
step_faults(struct session *s, enum step st)
{
	for (guint i = 0; i < rules->len; i++) {
		struct rule *r = rules->pdata[i];

		if (r->kind == RULE_STALL && r->step == st) {
			if (sess_flush(s) < 0)
				return TRUE;
			g_usleep((gulong)(r->seconds * G_USEC_PER_SEC));
		}
	}
	for (guint i = 0; i < rules->len; i++) {
		struct rule *r = rules->pdata[i];

		if (r->kind == RULE_DROP && r->step == st) {
			if (opt.verbose)
				fprintf(stderr, "[%d] dropped at %s\n", s->no,
					step_names[st]);
			(void)sess_flush(s);
			sess_close(s);
			return TRUE;
		}
	}
	return FALSE;
}

/* The reply a "reply" / "reply-first" rule sets for the step, or NULL. */
static const char *
step_reply(enum step st)
{
	const char *found = NULL;

	pthread_mutex_lock(&lock);
	for (guint i = 0; i < rules->len && found == NULL; i++) {
		struct rule *r = rules->pdata[i];

		if (r->kind != RULE_REPLY || r->step != st)
			continue;
		if (r->n > 0 && r->used >= r->n)
			continue;
		r->used++;
		found = r->reply;
	}
	pthread_mutex_unlock(&lock);
	return found;
}

static gboolean
addr_match(const char *pattern, const char *addr)
{
	return fnmatch(pattern, addr, FNM_CASEFOLD) == 0;
}

/* The reply of a mail/rcpt/dot-rcpt rule for addr, or NULL. */
static const char *
addr_reply(enum rule_kind kind, const char *addr)
{
	for (guint i = 0; i < rules->len; i++) {
		struct rule *r = rules->pdata[i];

		if (r->kind == kind && addr_match(r->pattern, addr))
			return r->reply;
		if (kind == RULE_RCPT && r->kind == RULE_RCPT_FIRST &&
		    addr_match(r->pattern, addr)) {
			char *key = g_strdup_printf("%u:%s", i, addr);
			gboolean fail;
			long count;

			g_ascii_strdown(key, -1);
			pthread_mutex_lock(&lock);
			count = GPOINTER_TO_SIZE(
			    g_hash_table_lookup(rcpt_attempts, key));
			fail = count < r->n;
			if (fail)
				g_hash_table_replace(
				    rcpt_attempts, g_strdup(key),
				    GSIZE_TO_POINTER(count + 1));
			pthread_mutex_unlock(&lock);
			g_free(key);
			if (fail)
				return r->reply;
		}
	}
	return NULL;
}

/* --- the spool ----------------------------------------------------------- */

static void
write_file(const char *path, const char *data, size_t len)
{
	GError *error = NULL;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die("open(%s) failed: %s", path, g_strerror(errno));
	if (fs_write_all(fd, data, len, path, &error) < 0)
		die("%s", error->message);
	if (close(fd) < 0)
		die("close(%s) failed: %s", path, g_strerror(errno));
}

static void
spool_store(struct session *s, GPtrArray *rcpts, const GString *msg,
	    const GString *wire, long bare_lf)
{
	GString *env;
	char *base, *path, *tmp;
	long seq;

	if (opt.spool == NULL || rcpts->len == 0)
		return;
	pthread_mutex_lock(&lock);
	seq = ++spool_seq;
	pthread_mutex_unlock(&lock);
	base = g_strdup_printf("%s/%06ld", opt.spool, seq);
	path = g_strconcat(base, ".msg", NULL);
	write_file(path, msg->str, msg->len);
	g_free(path);
	path = g_strconcat(base, ".wire", NULL);
	write_file(path, wire->str, wire->len);
	g_free(path);
	env = g_string_new(NULL);
	g_string_append_printf(env, "conn %d\nmail %s %s\n", s->no, s->mail,
			       s->mail_params);
	for (guint i = 0; i < rcpts->len; i++)
		g_string_append_printf(env, "rcpt %s\n",
				       (char *)rcpts->pdata[i]);
	g_string_append_printf(env, "tls %s\nauth %s\nahead %ld\n"
			       "dot-ahead %ld\nimproper %ld\nbare-lf %ld\n"
			       "size %zu\n", s->tls ? "yes" : "no",
			       s->auth != NULL ? s->auth : "-", s->ahead,
			       s->dot_ahead, s->improper, bare_lf, msg->len);
	tmp = g_strconcat(base, ".env.tmp", NULL);
	path = g_strconcat(base, ".env", NULL);
	write_file(tmp, env->str, env->len);
	if (rename(tmp, path) < 0)
		die("rename(%s, %s) failed: %s", tmp, path, g_strerror(errno));
	g_free(tmp);
	g_free(path);
	g_free(base);
	g_string_free(env, TRUE);
}

/* The first free sequence number in the spool, so a restarted server
 * does not overwrite what an earlier one stored. */
static void
spool_init(void)
{
	GError *error = NULL;
	GPtrArray *names;

	if (opt.spool == NULL)
		return;
	if (fs_mkdir_p(opt.spool, 0755, &error) < 0)
		die("%s", error->message);
	names = fs_dir_names(opt.spool, NULL, &error);
	if (names == NULL)
		die("%s", error->message);
	for (guint i = 0; i < names->len; i++)
		spool_seq = MAX(spool_seq, atol(names->pdata[i]));
	g_ptr_array_free(names, TRUE);
}

/* --- the dialogue -------------------------------------------------------- */

static void
txn_reset(struct session *s)
{
	g_clear_pointer(&s->mail, g_free);
	g_clear_pointer(&s->mail_params, g_free);
	g_ptr_array_set_size(s->rcpts, 0);
	s->ahead = 0;
	s->improper = 0;
}

/* The address in "<addr> params" (after "FROM:" or "TO:"), or NULL. */
static char *
parse_path(const char *arg, char **params_r)
{
	const char *lt, *gt;

	while (*arg == ' ')
		arg++;
	lt = *arg == '<' ? arg : NULL;
	gt = lt != NULL ? strchr(lt, '>') : NULL;
	if (gt == NULL)
		return NULL;
	if (params_r != NULL)
		*params_r = g_strstrip(g_strdup(gt + 1));
	return g_strndup(lt + 1, (gsize)(gt - lt - 1));
}

static void
ehlo_reply(struct session *s, const char *verb)
{
	GString *r = g_string_new("250 smtpfault");
	char *line = g_strdup_printf("\nhello %s", verb);

	g_string_append(r, line);
	g_free(line);
	if (!opt.no_pipelining)
		g_string_append(r, "\nPIPELINING");
	if (opt.size > 0)
		g_string_append_printf(r, "\nSIZE %" G_GINT64_FORMAT, opt.size);
	else
		g_string_append(r, "\nSIZE");
	if (!opt.no_8bitmime)
		g_string_append(r, "\n8BITMIME");
	if (opt.smtputf8)
		g_string_append(r, "\nSMTPUTF8");
	g_string_append(r, "\nENHANCEDSTATUSCODES");
	if (tls_ctx != NULL && !s->tls)
		g_string_append(r, "\nSTARTTLS");
	if (auth_user != NULL && s->auth == NULL &&
	    (!opt.auth_tls_only || s->tls))
		g_string_append_printf(r, "\nAUTH %s", opt.auth_mechs);
	sess_reply(s, r->str);
	g_string_free(r, TRUE);
}

static gboolean
auth_check(const char *user, const char *pass)
{
	return strcmp(user, auth_user) == 0 && strcmp(pass, auth_pass) == 0;
}

/* base64 text to a string (NUL-terminated); NULL when it is not. */
static char *
unb64(const char *in, gsize *len_r)
{
	guchar *raw;
	gsize len;
	char *out;

	if (*in == '\0' || strcmp(in, "=") == 0) {
		*len_r = 0;
		return g_strdup("");
	}
	raw = g_base64_decode(in, &len);
	out = g_malloc(len + 1);
	memcpy(out, raw, len);
	out[len] = '\0';
	g_free(raw);
	*len_r = len;
	return out;
}

static void
do_auth(struct session *s, char *arg)
{
	char *mech = word(&arg);
	char *initial = word(&arg);
	const char *fixed = step_reply(ST_AUTH);
	gboolean ok = FALSE;
	gsize len;
	size_t l;
	char *line;

	if (step_faults(s, ST_AUTH))
		return;
	if (fixed != NULL) {
		sess_reply(s, fixed);
		return;
	}
	if (auth_user == NULL || mech == NULL) {
		sess_reply(s, "502 5.5.1 AUTH not offered");
		return;
	}
	if (s->auth != NULL) {
		sess_reply(s, "503 5.5.1 already authenticated");
		return;
	}
	if (g_ascii_strcasecmp(mech, "PLAIN") == 0) {
		char *raw, *authz, *user, *pass;

		if (initial == NULL) {
			sess_reply(s, "334 ");
			if ((line = sess_line(s, &l)) == NULL)
				return;
			initial = line;
		}
		if (strcmp(initial, "*") == 0) {
			sess_reply(s, "501 5.7.0 AUTH cancelled");
			return;
		}
		raw = unb64(initial, &len);
		authz = raw;
		user = memchr(raw, '\0', len);
		pass = user != NULL ? memchr(user + 1, '\0',
					     len - (size_t)(user + 1 - raw))
				    : NULL;
		if (pass != NULL) {
			user++;
			pass++;
			ok = (*authz == '\0' || strcmp(authz, user) == 0) &&
			     auth_check(user, pass);
		}
		if (ok)
			s->auth = g_strdup(user);
		g_free(raw);
	} else if (g_ascii_strcasecmp(mech, "LOGIN") == 0) {
		char *user, *pass;

		sess_reply(s, "334 VXNlcm5hbWU6");
		if ((line = sess_line(s, &l)) == NULL)
			return;
		if (strcmp(line, "*") == 0) {
			sess_reply(s, "501 5.7.0 AUTH cancelled");
			return;
		}
		user = unb64(line, &len);
		sess_reply(s, "334 UGFzc3dvcmQ6");
		if ((line = sess_line(s, &l)) == NULL) {
			g_free(user);
			return;
		}
		if (strcmp(line, "*") == 0) {
			g_free(user);
			sess_reply(s, "501 5.7.0 AUTH cancelled");
			return;
		}
		pass = unb64(line, &len);
		ok = auth_check(user, pass);
		if (ok)
			s->auth = g_strdup(user);
		g_free(user);
		g_free(pass);
	} else {
		sess_reply(s, "504 5.5.4 unknown mechanism");
		return;
	}
	sess_reply(s, ok ? "235 2.7.0 authenticated"
			 : "535 5.7.8 authentication failed");
}

static gboolean
do_starttls(struct session *s)
{
	const char *fixed = step_reply(ST_STARTTLS);

	if (step_faults(s, ST_STARTTLS))
		return FALSE;
	if (tls_ctx == NULL || s->tls) {
		sess_reply(s, "502 5.5.1 STARTTLS not offered");
		return TRUE;
	}
	if (fixed != NULL) {
		sess_reply(s, fixed);
		return TRUE;
	}
	sess_reply(s, "220 2.0.0 go ahead");
	if (sess_flush(s) < 0)
		return FALSE;
	/* Plain text sent with STARTTLS is dropped, never read as if it
	 * had come over TLS. */
	s->ipos = s->ilen = 0;
	s->ssl = SSL_new(tls_ctx);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1 ||
	    SSL_accept(s->ssl) != 1) {
		if (opt.verbose)
			fprintf(stderr, "[%d] TLS handshake failed\n", s->no);
		ERR_clear_error();
		sess_close(s);
		return FALSE;
	}
	s->tls = TRUE;
	s->esmtp = FALSE;
	txn_reset(s);
	return TRUE;
}

/* Complete lines read but not yet taken. */
static long
lines_buffered(const struct session *s)
{
	long n = 0;
	const char *p = s->in + s->ipos, *end = s->in + s->ilen;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* DATA after the 354: reads to the final dot, then answers. */
static void
do_message(struct session *s)
{
	GString *msg = g_string_new(NULL);
	GString *wire = g_string_new(NULL);
	GPtrArray *delivered = g_ptr_array_new();
	long drop_at = -1, bare_lf = 0;
	const char *reply = NULL;
	gboolean ended = FALSE;

	for (guint i = 0; i < rules->len; i++) {
		struct rule *r = rules->pdata[i];

		if (r->kind == RULE_DROP_DATA)
			drop_at = r->n;
	}
	while (!ended) {
		char *start = s->in + s->ipos;
		char *nl = memchr(start, '\n', s->ilen - s->ipos);
		size_t len;

		if (nl == NULL) {
			if (sess_fill(s) < 0)
				goto out;
			continue;
		}
		len = (size_t)(nl - start) + 1;
		g_string_append_len(wire, start, (gssize)len);
		s->ipos += len;
		if (drop_at >= 0 && wire->len >= (size_t)drop_at) {
			if (opt.verbose)
				fprintf(stderr, "[%d] dropped after %zu bytes "
					"of data\n", s->no, wire->len);
			sess_close(s);
			goto out;
		}
		if (len >= 2 && start[len - 2] == '\r') {
			len -= 2;
		} else {
			len -= 1;
			bare_lf++;
		}
		if (len == 1 && start[0] == '.') {
			ended = TRUE;
			break;
		}
		if (len > 0 && start[0] == '.') {
			start++;
			len--;
		}
		g_string_append_len(msg, start, (gssize)len);
		g_string_append_c(msg, '\n');
	}
	s->dot_ahead = lines_buffered(s);
	if (step_faults(s, ST_DOT))
		goto out;
	for (guint i = 0; i < rules->len && reply == NULL; i++) {
		struct rule *r = rules->pdata[i];

		if (r->kind == RULE_DOT_IF && strstr(msg->str, r->pattern))
			reply = r->reply;
	}
	if (reply == NULL)
		reply = step_reply(ST_DOT);
	if (reply == NULL && opt.size > 0 && (gint64)wire->len > opt.size)
		reply = "552 5.3.4 message too big";
	if (reply == NULL)
		reply = "250 2.0.0 queued";
	if (opt.lmtp) {
		const char **each = g_new0(const char *, s->rcpts->len);

		for (guint i = 0; i < s->rcpts->len; i++) {
			const char *a = s->rcpts->pdata[i];
			const char *own = addr_reply(RULE_DOT_RCPT, a);

			each[i] = own != NULL ? own : reply;
			if (each[i][0] == '2')
				g_ptr_array_add(delivered, (char *)a);
		}
		spool_store(s, delivered, msg, wire, bare_lf);
		for (guint i = 0; i < s->rcpts->len; i++)
			sess_reply(s, each[i]);
		g_free(each);
	} else {
		if (reply[0] == '2')
			for (guint i = 0; i < s->rcpts->len; i++)
				g_ptr_array_add(delivered, s->rcpts->pdata[i]);
		spool_store(s, delivered, msg, wire, bare_lf);
		sess_reply(s, reply);
	}
	txn_reset(s);
out:
	g_ptr_array_free(delivered, TRUE);
	g_string_free(msg, TRUE);
	g_string_free(wire, TRUE);
}

/* Counts commands sent ahead of their turn. */
static void
note_ahead(struct session *s)
{
	long n = lines_buffered(s);

	if (s->ssl == NULL && n == 0) {
		char c;

		if (recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
			n = 1;
	}
	s->ahead = MAX(s->ahead, n);
	if (n > 0 && opt.no_pipelining)
		s->improper++;
}

/* Answers a step: a stall or drop first, then a fixed reply, else
 * the usual one.  FALSE when the connection was dropped. */
static gboolean
answer(struct session *s, enum step st, const char *usual)
{
	const char *fixed;

	if (step_faults(s, st))
		return FALSE;
	fixed = step_reply(st);
	sess_reply(s, fixed != NULL ? fixed : usual);
	return TRUE;
}

static void
dialogue(struct session *s)
{
	char *line;
	size_t len;

	if (!answer(s, ST_GREETING, opt.lmtp ? "220 smtpfault LMTP ready"
					     : "220 smtpfault ESMTP ready"))
		return;
	if (s->hangup) {
		(void)sess_flush(s);
		return;
	}
	/* Any other refusing greeting: RFC 5321 3.1 has the server wait
	 * for QUIT. */
	s->refusing = s->out->str[0] != '2';
	while ((line = sess_line(s, &len)) != NULL) {
		char *arg = line, *verb;

		vlog(s, "C:", line, len);
		verb = word(&arg);
		if (verb == NULL) {
			sess_reply(s, "500 5.5.2 empty command");
			continue;
		}
		while (*arg == ' ')
			arg++;
		if (s->refusing && g_ascii_strcasecmp(verb, "QUIT") != 0) {
			sess_reply(s, "503 5.5.1 no service here");
		} else if (g_ascii_strcasecmp(verb, "EHLO") == 0 ||
		    g_ascii_strcasecmp(verb, "LHLO") == 0) {
			gboolean lhlo = g_ascii_toupper(verb[0]) == 'L';
			const char *fixed;

			if (step_faults(s, ST_EHLO))
				return;
			fixed = step_reply(ST_EHLO);
			txn_reset(s);
			if (lhlo != opt.lmtp || (opt.no_esmtp && !lhlo)) {
				sess_reply(s, "502 5.5.1 not here");
			} else if (fixed != NULL) {
				sess_reply(s, fixed);
			} else {
				s->esmtp = TRUE;
				ehlo_reply(s, arg);
			}
		} else if (g_ascii_strcasecmp(verb, "HELO") == 0) {
			txn_reset(s);
			if (!answer(s, ST_HELO, opt.lmtp ? "502 5.5.1 LHLO"
							 : "250 smtpfault"))
				return;
		} else if (g_ascii_strcasecmp(verb, "STARTTLS") == 0) {
			if (!do_starttls(s))
				return;
		} else if (g_ascii_strcasecmp(verb, "AUTH") == 0) {
			do_auth(s, arg);
			if (s->closed)
				return;
		} else if (g_ascii_strcasecmp(verb, "MAIL") == 0) {
			char *params = NULL, *addr;
			const char *r;

			note_ahead(s);
			if (step_faults(s, ST_MAIL))
				return;
			if (g_ascii_strncasecmp(arg, "FROM:", 5) != 0 ||
			    (addr = parse_path(arg + 5, &params)) == NULL) {
				sess_reply(s, "501 5.5.4 syntax: "
					      "MAIL FROM:<a>");
				continue;
			}
			if (s->mail != NULL) {
				sess_reply(s, "503 5.5.1 nested MAIL");
			} else if (opt.require_auth && s->auth == NULL) {
				sess_reply(s, "530 5.7.0 authentication "
					      "required");
			} else if ((r = addr_reply(RULE_MAIL, addr)) != NULL ||
				   (r = step_reply(ST_MAIL)) != NULL) {
				sess_reply(s, r);
				if (r[0] == '2') {
					s->mail = g_strdup(addr);
					s->mail_params = g_strdup(params);
				}
			} else {
				const char *sz = strstr(params, "SIZE=");

				if (opt.size > 0 && sz != NULL &&
				    g_ascii_strtoll(sz + 5, NULL, 10) >
					opt.size) {
					sess_reply(s, "552 5.3.4 message too "
						      "big");
				} else {
					s->mail = g_strdup(addr);
					s->mail_params = g_strdup(params);
					sess_reply(s, "250 2.1.0 ok");
				}
			}
			g_free(addr);
			g_free(params);
		} else if (g_ascii_strcasecmp(verb, "RCPT") == 0) {
			char *addr;
			const char *r;

			note_ahead(s);
			if (step_faults(s, ST_RCPT))
				return;
			if (g_ascii_strncasecmp(arg, "TO:", 3) != 0 ||
			    (addr = parse_path(arg + 3, NULL)) == NULL) {
				sess_reply(s, "501 5.5.4 syntax: RCPT TO:<a>");
				continue;
			}
			if (s->mail == NULL) {
				sess_reply(s, "503 5.5.1 need MAIL first");
			} else if ((r = addr_reply(RULE_RCPT, addr)) != NULL ||
				   (r = step_reply(ST_RCPT)) != NULL) {
				sess_reply(s, r);
				if (r[0] == '2')
					g_ptr_array_add(s->rcpts,
							g_strdup(addr));
			} else if (opt.max_rcpts > 0 &&
				   s->rcpts->len >= (guint)opt.max_rcpts) {
				sess_reply(s, "452 4.5.3 too many recipients");
			} else {
				g_ptr_array_add(s->rcpts, g_strdup(addr));
				sess_reply(s, "250 2.1.5 ok");
			}
			g_free(addr);
		} else if (g_ascii_strcasecmp(verb, "DATA") == 0) {
			const char *fixed;

			note_ahead(s);
			if (step_faults(s, ST_DATA))
				return;
			fixed = step_reply(ST_DATA);
			if (s->mail == NULL) {
				sess_reply(s, "503 5.5.1 need MAIL first");
			} else if (s->rcpts->len == 0) {
				sess_reply(s, opt.lmtp ? "503 5.5.1 no valid "
							 "recipients"
						       : "554 5.5.1 no valid "
							 "recipients");
			} else if (fixed != NULL && fixed[0] != '3') {
				sess_reply(s, fixed);
			} else {
				sess_reply(s, fixed != NULL ? fixed
							    : "354 end with "
							      "<CRLF>.<CRLF>");
				if (sess_flush(s) < 0)
					return;
				do_message(s);
				if (s->closed)
					return;
			}
		} else if (g_ascii_strcasecmp(verb, "RSET") == 0) {
			txn_reset(s);
			if (!answer(s, ST_RSET, "250 2.0.0 ok"))
				return;
		} else if (g_ascii_strcasecmp(verb, "NOOP") == 0) {
			if (!answer(s, ST_NOOP, "250 2.0.0 ok"))
				return;
		} else if (g_ascii_strcasecmp(verb, "QUIT") == 0) {
			if (answer(s, ST_QUIT, "221 2.0.0 bye"))
				(void)sess_flush(s);
			return;
		} else {
			sess_reply(s, "502 5.5.2 unknown command");
		}
		if (s->hangup) {
			(void)sess_flush(s);
			return;
		}
	}
}

static void *
session_main(void *arg)
{
	struct session *s = arg;

	dialogue(s);
	if (!s->closed)
		(void)sess_flush(s);
	sess_close(s);
	txn_reset(s);
	g_ptr_array_free(s->rcpts, TRUE);
	g_string_free(s->out, TRUE);
	g_free(s->in);
	g_free(s->auth);
	g_free(s);
	ERR_clear_error();
	OPENSSL_thread_stop();
	pthread_mutex_lock(&lock);
	active_sessions--;
	pthread_cond_broadcast(&idle_cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* --- main ---------------------------------------------------------------- */

static int
listen_socket(void)
{
	int fd, one = 1;

	if (opt.unix_path != NULL) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		if (strlen(opt.unix_path) >= sizeof sun.sun_path)
			die("socket path too long: %s", opt.unix_path);
		strcpy(sun.sun_path, opt.unix_path);
		if (unlink(opt.unix_path) < 0 && errno != ENOENT)
			die("unlink(%s) failed: %s", opt.unix_path,
			    g_strerror(errno));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket(AF_UNIX) failed: %s", g_strerror(errno));
		if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
			die("bind(%s) failed: %s", opt.unix_path,
			    g_strerror(errno));
	} else {
		struct sockaddr_in sin = {
			.sin_family = AF_INET,
			.sin_port = htons((uint16_t)opt.port),
		};

		if (inet_pton(AF_INET, opt.addr, &sin.sin_addr) != 1)
			die("not an IPv4 address: %s", opt.addr);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket(AF_INET) failed: %s", g_strerror(errno));
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
			       sizeof one) < 0)
			die("setsockopt(SO_REUSEADDR) failed: %s",
			    g_strerror(errno));
		if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
			die("bind(%s:%d) failed: %s", opt.addr, opt.port,
			    g_strerror(errno));
	}
	if (opt.small_buffers) {
		/* On the listener, so that the accepted sockets start with
		 * them (the window is advertised at the handshake). */
		int sz = 4096;

		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz) < 0)
			die("setsockopt(SO_SNDBUF/SO_RCVBUF) failed: %s",
			    g_strerror(errno));
	}
	if (listen(fd, 128) < 0)
		die("listen() failed: %s", g_strerror(errno));
	return fd;
}

static void
tls_init(void)
{
	if (opt.tls_cert == NULL)
		return;
	if (opt.tls_key == NULL)
		die("--tls-cert needs --tls-key");
	tls_ctx = SSL_CTX_new(TLS_server_method());
	if (tls_ctx == NULL ||
	    SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(tls_ctx, opt.tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(tls_ctx, opt.tls_key,
					SSL_FILETYPE_PEM) != 1)
		die("TLS setup with %s and %s failed: %s", opt.tls_cert,
		    opt.tls_key, ERR_error_string(ERR_get_error(), NULL));
}

int
main(int argc, char **argv)
{
	gint64 size = 0;
	char *addr = NULL, *unix_path = NULL, *spool = NULL, *script = NULL;
	char *cert = NULL, *key = NULL, *auth = NULL, *mechs = NULL;
	GOptionEntry entries[] = {
		{ "addr", 0, 0, G_OPTION_ARG_STRING, &addr,
		  "listen address", "A" },
		{ "port", 0, 0, G_OPTION_ARG_INT, &opt.port,
		  "port (0: any)", "N" },
		{ "unix", 0, 0, G_OPTION_ARG_FILENAME, &unix_path,
		  "unix socket", "PATH" },
		{ "lmtp", 0, 0, G_OPTION_ARG_NONE, &opt.lmtp,
		  "speak LMTP", NULL },
		{ "spool", 0, 0, G_OPTION_ARG_FILENAME, &spool,
		  "delivery directory", "DIR" },
		{ "script", 0, 0, G_OPTION_ARG_FILENAME, &script,
		  "fault script", "FILE" },
		{ "no-pipelining", 0, 0, G_OPTION_ARG_NONE, &opt.no_pipelining,
		  "no PIPELINING", NULL },
		{ "no-esmtp", 0, 0, G_OPTION_ARG_NONE, &opt.no_esmtp,
		  "refuse EHLO", NULL },
		{ "no-8bitmime", 0, 0, G_OPTION_ARG_NONE, &opt.no_8bitmime,
		  "no 8BITMIME", NULL },
		{ "smtputf8", 0, 0, G_OPTION_ARG_NONE, &opt.smtputf8,
		  "offer SMTPUTF8", NULL },
		{ "size", 0, 0, G_OPTION_ARG_INT64, &size, "SIZE limit", "N" },
		{ "max-rcpts", 0, 0, G_OPTION_ARG_INT, &opt.max_rcpts,
		  "recipients per transaction", "N" },
		{ "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &cert,
		  "certificate (PEM)", "FILE" },
		{ "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &key,
		  "private key (PEM)", "FILE" },
		{ "auth", 0, 0, G_OPTION_ARG_STRING, &auth,
		  "AUTH credentials", "USER:PASS" },
		{ "auth-mechs", 0, 0, G_OPTION_ARG_STRING, &mechs,
		  "AUTH mechanisms offered", "M" },
		{ "auth-tls-only", 0, 0, G_OPTION_ARG_NONE, &opt.auth_tls_only,
		  "AUTH after STARTTLS only", NULL },
		{ "require-auth", 0, 0, G_OPTION_ARG_NONE, &opt.require_auth,
		  "530 without AUTH", NULL },
		{ "small-buffers", 0, 0, G_OPTION_ARG_NONE, &opt.small_buffers,
		  "4 KiB socket buffers", NULL },
		{ "max-connections", 0, 0, G_OPTION_ARG_INT,
		  &opt.max_connections,
		  "stop after N connections", "N" },
		{ "die-with-parent", 0, 0, G_OPTION_ARG_NONE,
		  &opt.die_with_parent, "exit with the parent", NULL },
		{ "verbose", 0, 0, G_OPTION_ARG_NONE, &opt.verbose,
		  "log the dialogue", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	GOptionContext *ctx =
	    g_option_context_new("- an SMTP/LMTP server with faults");
	GError *error = NULL;
	long refuse = 0;
	int lfd, conns = 0;
	pid_t parent = getppid();

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error))
		die("%s", error->message);
	g_option_context_free(ctx);
	if (addr != NULL)
		opt.addr = addr;
	opt.unix_path = unix_path;
	opt.spool = spool;
	opt.tls_cert = cert;
	opt.tls_key = key;
	opt.size = size;
	if (mechs != NULL)
		opt.auth_mechs = mechs;
	if (auth != NULL) {
		char *colon = strchr(auth, ':');

		if (colon == NULL)
			die("--auth wants USER:PASS");
		auth_user = g_strndup(auth, (gsize)(colon - auth));
		auth_pass = g_strdup(colon + 1);
	}
	if (opt.die_with_parent) {
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
			die("prctl(PR_SET_PDEATHSIG) failed: %s",
			    g_strerror(errno));
		if (getppid() != parent)
			return 0;	/* it is gone already */
	}
	signal(SIGPIPE, SIG_IGN);
	rules = g_ptr_array_new();
	rcpt_attempts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      NULL);
	if (script != NULL)
		load_script(script);
	for (guint i = 0; i < rules->len; i++) {
		struct rule *r = rules->pdata[i];

		if (r->kind == RULE_REFUSE)
			refuse += r->n;
	}
	tls_init();
	spool_init();
	lfd = listen_socket();
	if (opt.unix_path != NULL) {
		printf("unix %s\n", opt.unix_path);
	} else {
		struct sockaddr_in sin;
		socklen_t sl = sizeof sin;

		if (getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0)
			die("getsockname() failed: %s", g_strerror(errno));
		printf("port %d\n", ntohs(sin.sin_port));
	}
	if (fflush(stdout) == EOF)
		die("writing to standard output failed: %s", g_strerror(errno));
	for (;;) {
		struct session *s;
		pthread_t th;
		pthread_attr_t attr;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept() failed: %s", g_strerror(errno));
		}
		conns++;
		if (opt.unix_path == NULL) {
			int one = 1;

			/* Replies go out in whole batches already; Nagle
			 * would hold back the second TLS record of one. */
			if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				       sizeof one) < 0)
				die("setsockopt(TCP_NODELAY) failed: %s",
				    g_strerror(errno));
		}
		if (refuse > 0) {
			refuse--;
			if (close(fd) < 0)
				die("close() failed: %s", g_strerror(errno));
			continue;
		}
		s = g_new0(struct session, 1);
		s->fd = fd;
		s->no = conns;
		s->out = g_string_new(NULL);
		s->icap = 65536;
		s->in = g_malloc(s->icap);
		s->rcpts = g_ptr_array_new_with_free_func(g_free);
		pthread_mutex_lock(&lock);
		active_sessions++;
		pthread_mutex_unlock(&lock);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &attr, session_main, s) != 0)
			die("pthread_create() failed");
		pthread_attr_destroy(&attr);
		if (opt.max_connections > 0 && conns >= opt.max_connections)
			break;
	}
	if (close(lfd) < 0)
		die("close(listening socket) failed: %s", g_strerror(errno));
	pthread_mutex_lock(&lock);
	while (active_sessions > 0)
		pthread_cond_wait(&idle_cond, &lock);
	pthread_mutex_unlock(&lock);
	return 0;
}
