/*
 * test-smtp.c - unit tests for smtp.c, the delivery client, against
 * smtpfault (tests/tools/smtpfault.c), a server that fails on demand.
 *
 * Each test starts its own smtpfault (the one built next to this program,
 * found through /proc/self/exe) on a free loopback port with a fault
 * script, talks to it through the client, and checks both sides: the
 * codes the client reports per recipient, and what the server stored
 * (NNNNNN.env: envelope, .msg: the message, .wire: the bytes sent).
 * TLS uses a certificate made with the openssl command for the test.
 */
#include "base/base.h"
#include "deliver/smtp.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* A TAP comment on standard error: the tests run in child processes
 * whose standard output is not shown, and g_test_message's lines are
 * lost there. */
static void note(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void
note(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_strdelimit(s, "\n", '|');
	g_printerr("# %s\n", s);
	g_free(s);
}

/* --- the server ---------------------------------------------------------- */

struct server {
	GPid pid;
	int port;
	char *dir;		/* scratch directory of the test */
	char *spool;
	char *unix_path;
	char *cert;		/* with STARTTLS: its certificate, self-signed */
	char *key;
};

static gboolean make_cert(const char *dir, char **cert_r, char **key_r);

/* Starts smtpfault in s's directory with the script (NULL: none) and
 * extra options (a NULL-terminated list); returns once it listens. */
static struct server *
server_spawn(struct server *s, const char *script, const char *const *extra)
{
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	GError *error = NULL;
	gboolean unix_mode = FALSE;
	GString *line = g_string_new(NULL);
	int out_fd;
	char c;

	s->spool = g_build_filename(s->dir, "spool", NULL);
	g_ptr_array_add(argv, testutil_tool_path("smtpfault"));
	g_ptr_array_add(argv, g_strdup("--die-with-parent"));
	g_ptr_array_add(argv, g_strdup("--spool"));
	g_ptr_array_add(argv, g_strdup(s->spool));
	if (script != NULL) {
		char *path = g_build_filename(s->dir, "script", NULL);

		g_assert_true(g_file_set_contents(path, script, -1, &error));
		g_ptr_array_add(argv, g_strdup("--script"));
		g_ptr_array_add(argv, path);
	}
	if (s->cert != NULL) {
		g_ptr_array_add(argv, g_strdup("--tls-cert"));
		g_ptr_array_add(argv, g_strdup(s->cert));
		g_ptr_array_add(argv, g_strdup("--tls-key"));
		g_ptr_array_add(argv, g_strdup(s->key));
	}
	for (guint i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (strcmp(extra[i], "--unix") == 0)
			unix_mode = TRUE;
		g_ptr_array_add(argv, g_strdup(extra[i]));
	}
	if (unix_mode) {
		s->unix_path = g_build_filename(s->dir, "lmtp.sock", NULL);
		g_ptr_array_add(argv, g_strdup(s->unix_path));
	}
	g_ptr_array_add(argv, NULL);
	g_assert_true(g_spawn_async_with_pipes(
	    NULL, (char **)argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
	    NULL, &s->pid, NULL, &out_fd, NULL, &error));
	g_assert_no_error(error);
	while (read(out_fd, &c, 1) == 1 && c != '\n')
		g_string_append_c(line, c);
	g_assert_cmpint(close(out_fd), ==, 0);
	if (unix_mode)
		g_assert_true(g_str_has_prefix(line->str, "unix "));
	else
		g_assert_true(sscanf(line->str, "port %d", &s->port) == 1);
	g_string_free(line, TRUE);
	g_ptr_array_free(argv, TRUE);
	return s;
}

/* Starts smtpfault with the script (NULL: none) and extra options (a
 * NULL-terminated list); returns once it listens. */
static struct server *
server_start(const char *script, const char *const *extra)
{
	struct server *s = g_new0(struct server, 1);

	s->dir = tmp_dir_new();
	return server_spawn(s, script, extra);
}

/* The same offering STARTTLS, with a certificate for localhost and
 * 127.0.0.1; NULL, and the test skipped, without an openssl command. */
static struct server *
server_start_tls(const char *script, const char *const *extra)
{
	struct server *s = g_new0(struct server, 1);

	s->dir = tmp_dir_new();
	if (!make_cert(s->dir, &s->cert, &s->key)) {
		g_test_skip("no openssl command");
		tmp_dir_remove(&s->dir);
		g_free(s);
		return NULL;
	}
	return server_spawn(s, script, extra);
}

static void
server_stop(struct server **sp)
{
	struct server *s = *sp;
	int status;

	g_assert_cmpint(kill(s->pid, SIGTERM), ==, 0);
	g_assert_cmpint(waitpid(s->pid, &status, 0), ==, s->pid);
	g_spawn_close_pid(s->pid);
	tmp_dir_remove(&s->dir);
	g_free(s->spool);
	g_free(s->unix_path);
	g_free(s->cert);
	g_free(s->key);
	g_free(s);
	*sp = NULL;
}

/* A configuration for the server, plain SMTP, 5 s timeouts. */
static struct smtp_config
config_for(const struct server *s)
{
	struct smtp_config cfg = {
		.host = s->unix_path == NULL ? "127.0.0.1" : NULL,
		.port = s->port,
		.unix_path = s->unix_path,
		.helo_name = "herald.test",
		.timeout_ms = 5000,
		.tls = SMTP_TLS_NONE,
	};

	return cfg;
}

static struct smtp_conn *
connect_ok(const struct smtp_config *cfg)
{
	struct smtp_conn *c = NULL;
	GError *error = NULL;
	int code = -1;

	g_assert_cmpint(smtp_connect(cfg, &c, &code, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(code, ==, 0);
	g_assert_nonnull(c);
	return c;
}

/* The deliveries in the spool, in order: their .env texts. */
static GPtrArray *
spool_envs(const struct server *s)
{
	GError *error = NULL;
	GPtrArray *names = fs_dir_names(s->spool, NULL, &error);
	GPtrArray *envs = g_ptr_array_new_with_free_func(g_free);

	g_assert_no_error(error);
	for (guint i = 0; i < names->len; i++) {
		const char *n = names->pdata[i];
		char *path, *text = NULL;

		if (!g_str_has_suffix(n, ".env"))
			continue;
		path = g_build_filename(s->spool, n, NULL);
		g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
		g_ptr_array_add(envs, text);
		g_free(path);
	}
	g_ptr_array_free(names, TRUE);
	return envs;
}

/* File NNNNNN.ext of delivery no (1, 2, ...). */
static char *
spool_file(const struct server *s, int no, const char *ext, gsize *len_r)
{
	char *path = g_strdup_printf("%s/%06d.%s", s->spool, no, ext);
	char *text = NULL;

	g_assert_true(g_file_get_contents(path, &text, len_r, NULL));
	g_free(path);
	return text;
}

/* The value of "key value" in an .env text (the first one). */
static char *
env_get(const char *env, const char *key)
{
	char **lines = g_strsplit(env, "\n", -1);
	char *v = NULL;
	size_t kl = strlen(key);

	for (guint i = 0; lines[i] != NULL && v == NULL; i++)
		if (strncmp(lines[i], key, kl) == 0 && lines[i][kl] == ' ')
			v = g_strdup(lines[i] + kl + 1);
	g_strfreev(lines);
	return v;
}

static long
env_num(const char *env, const char *key)
{
	char *v = env_get(env, key);
	long n;

	g_assert_nonnull(v);
	n = atol(v);
	g_free(v);
	return n;
}

static guint
env_count(const char *env, const char *key)
{
	char **lines = g_strsplit(env, "\n", -1);
	guint n = 0;
	size_t kl = strlen(key);

	for (guint i = 0; lines[i] != NULL; i++)
		if (strncmp(lines[i], key, kl) == 0 && lines[i][kl] == ' ')
			n++;
	g_strfreev(lines);
	return n;
}

static gboolean
env_has(const char *env, const char *line)
{
	char *l = g_strdup_printf("\n%s\n", line);
	char *e = g_strdup_printf("\n%s", env);
	gboolean found = strstr(e, l) != NULL;

	g_free(l);
	g_free(e);
	return found;
}

static void
replies_clear(struct smtp_reply *r, guint n)
{
	for (guint i = 0; i < n; i++)
		smtp_reply_clear(&r[i]);
}

/* How many of the n replies are not 250 (one assertion, not n). */
static guint
count_not_250(const struct smtp_reply *r, guint n)
{
	guint bad = 0;

	for (guint i = 0; i < n; i++)
		bad += r[i].code != 250;
	return bad;
}

/* member0@example.com ... member<n-1>@example.com */
static char **
make_rcpts(guint n)
{
	char **v = g_new0(char *, n + 1);

	for (guint i = 0; i < n; i++)
		v[i] = g_strdup_printf("member%u@example.com", i);
	return v;
}

static const char message[] =
    "From: list@example.org\nTo: list@example.org\nSubject: test\n\n"
    "Hello.\n";

/* Its size on the wire: a CR for each of its 5 lines, and ".\r\n". */
#define MESSAGE_WIRE_SIZE (sizeof message - 1 + 5 + 3)

/* Sends text from s@example.org to the n rcpts in one transaction; r
 * gets their replies.  What smtp_send returns. */
static int
send_text(struct smtp_conn *c, const char *const *rcpts, guint n,
	  const char *text, struct smtp_reply *r, GError **error)
{
	return smtp_send(c, "s@example.org", rcpts, n, text, strlen(text), r,
			 NULL, error);
}

/* --- tests --------------------------------------------------------------- */

static void
test_plain_transaction_delivers(void)
{
	struct server *s = server_start(NULL, NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "bob@example.com" };
	struct smtp_reply r[1], mail;
	GError *error = NULL;
	GPtrArray *envs;
	char *msg;

	g_assert_true(smtp_has_extension(c, "PIPELINING"));
	g_assert_true(smtp_has_extension(c, "8bitmime"));
	g_assert_false(smtp_has_extension(c, "SMTPUTF8"));
	g_assert_false(smtp_is_tls(c));
	g_assert_cmpint(smtp_send(c, "list-bounces@example.org", rcpts, 1,
				  message, strlen(message), r, &mail, &error),
			==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(mail.code, ==, 250);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpstr(r[0].text, ==, "2.0.0 queued");
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 1);
	g_assert_true(env_has(envs->pdata[0], "rcpt bob@example.com"));
	{
		char *want = g_strdup_printf("mail list-bounces@example.org "
					     "SIZE=%zu BODY=8BITMIME",
					     MESSAGE_WIRE_SIZE);

		g_assert_true(env_has(envs->pdata[0], want));
		g_free(want);
	}
	msg = spool_file(s, 1, "msg", NULL);
	g_assert_cmpstr(msg, ==, message);
	g_free(msg);
	g_ptr_array_free(envs, TRUE);
	replies_clear(r, 1);
	smtp_reply_clear(&mail);
	smtp_close(&c);
	g_assert_null(c);
	server_stop(&s);
}

/* n recipients in one transaction; checks they all got 250 and returns
 * the .env text of the one delivery. */
static char *
send_many(struct server *s, guint n, double *secs_r)
{
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	char **rcpts = make_rcpts(n);
	struct smtp_reply *r = g_new(struct smtp_reply, n);
	GError *error = NULL;
	struct smtp_stats st;
	GPtrArray *envs;
	gint64 t0 = g_get_monotonic_time();
	char *env;

	g_assert_cmpint(smtp_send(c, "list-bounces@example.org",
				  (const char *const *)rcpts, n, message,
				  strlen(message), r, NULL, &error),
			==, 0);
	g_assert_no_error(error);
	if (secs_r != NULL)
		*secs_r = (double)(g_get_monotonic_time() - t0) / 1e6;
	g_assert_cmpuint(count_not_250(r, n), ==, 0);
	smtp_get_stats(c, &st);
	g_assert_cmpuint(st.transactions, ==, 1);
	g_assert_cmpuint(st.rcpts_sent, ==, n);
	g_assert_cmpuint(st.rcpts_delivered, ==, n);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 1);
	g_assert_cmpuint(env_count(envs->pdata[0], "rcpt"), ==, n);
	g_assert_true(env_has(envs->pdata[0], "rcpt member0@example.com"));
	env = g_strdup(envs->pdata[0]);
	g_ptr_array_free(envs, TRUE);
	replies_clear(r, n);
	g_free(r);
	g_strfreev(rcpts);
	smtp_close(&c);
	return env;
}

static void
test_hundred_recipients_pipelined(void)
{
	struct server *s = server_start(NULL, NULL);
	char *env = send_many(s, 100, NULL);

	/* MAIL came with the RCPTs and DATA behind it. */
	g_assert_cmpint(env_num(env, "ahead"), >=, 1);
	g_free(env);
	server_stop(&s);
}

static void
test_hundred_recipients_lockstep(void)
{
	const char *opts[] = { "--no-pipelining", NULL };
	struct server *s = server_start(NULL, opts);
	char *env = send_many(s, 100, NULL);

	/* Without PIPELINING, never a command before the last reply. */
	g_assert_cmpint(env_num(env, "ahead"), ==, 0);
	g_assert_cmpint(env_num(env, "improper"), ==, 0);
	g_free(env);
	server_stop(&s);
}

static void
test_thousand_recipients_in_one_transaction(void)
{
	struct server *s = server_start(NULL, NULL);
	double secs = 0;
	char *env = send_many(s, 1000, &secs);

	note("1000 recipients, pipelined: %.3f s (%.0f rcpt/s)",
		       secs, 1000 / MAX(secs, 1e-6));
	g_assert_cmpfloat(secs, <, 5.0);
	g_free(env);
	server_stop(&s);
}

/* A pipelined batch far larger than the socket buffers (10 MB of RCPTs),
 * answered with long replies (4 MB): the client reads the replies while
 * it writes, or both sides would wait for each other for ever (RFC 2920
 * 3.1).  A client that does not shows here as a timeout. */
static void
long_batch(gboolean tls)
{
	GString *script = g_string_new("rcpt * 250 2.1.5 ");
	const char *opts[] = { "--small-buffers", NULL };
	struct server *s;
	struct smtp_config cfg;
	struct smtp_conn *c;
	guint n = 1000;
	char **rcpts;
	struct smtp_reply *r;
	GError *error = NULL;
	char *pad;

	for (int i = 0; i < 4000; i++)
		g_string_append_c(script, 'y');
	g_string_append_c(script, '\n');
	s = tls ? server_start_tls(script->str, opts)
		: server_start(script->str, opts);
	g_string_free(script, TRUE);
	if (s == NULL)
		return;
	rcpts = g_new0(char *, n + 1);
	r = g_new(struct smtp_reply, n);
	pad = g_strnfill(10000, 'x');
	cfg = config_for(s);
	cfg.timeout_ms = 3000;
	cfg.tls = tls ? SMTP_TLS_REQUIRED : SMTP_TLS_NONE;
	c = connect_ok(&cfg);
	for (guint i = 0; i < n; i++)
		rcpts[i] = g_strdup_printf("%s%u@example.com", pad, i);
	g_assert_cmpint(send_text(c, (const char *const *)rcpts, n, message, r,
				  &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(count_not_250(r, n), ==, 0);
	replies_clear(r, n);
	smtp_close(&c);
	server_stop(&s);
	g_strfreev(rcpts);
	g_free(r);
	g_free(pad);
}

static void
test_long_pipelined_batch_does_not_deadlock(void)
{
	long_batch(FALSE);
}

static void
test_long_pipelined_batch_does_not_deadlock_tls(void)
{
	long_batch(TRUE);
}

/* SMTPUTF8 goes with MAIL when an address needs it and the server
 * offers it; without the offer the server judges the address. */
static void
test_smtputf8_when_needed_and_offered(void)
{
	const char *opts[] = { "--smtputf8", NULL };
	struct server *s = server_start(NULL, opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com", "j\xc3\xb6rg@example.com" };
	struct smtp_reply r[2];
	GError *error = NULL;
	GPtrArray *envs;

	g_assert_true(smtp_has_extension(c, "SMTPUTF8"));
	g_assert_cmpint(send_text(c, rcpts, 1, message, r, &error), ==, 0);
	replies_clear(r, 1);
	g_assert_cmpint(send_text(c, rcpts, 2, message, r, &error), ==, 0);
	g_assert_cmpint(r[1].code, ==, 250);
	replies_clear(r, 2);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 2);
	g_assert_null(strstr(envs->pdata[0], "SMTPUTF8"));
	g_assert_nonnull(strstr(envs->pdata[1], " SMTPUTF8\n"));
	g_assert_true(env_has(envs->pdata[1], "rcpt j\xc3\xb6rg@example.com"));
	g_ptr_array_free(envs, TRUE);
	smtp_close(&c);
	server_stop(&s);
}

/* 4xx and 5xx RCPT replies stay with their recipients, text and all. */
static void
per_recipient_codes(gboolean pipelining)
{
	const char *opts[] = { pipelining ? NULL : "--no-pipelining", NULL };
	struct server *s = server_start(
	    "rcpt later*@* 451 4.2.1 try later\n"
	    "rcpt nobody*@* 550 5.1.1 no such user\\nreally none\n",
	    opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com", "later@example.com",
				"nobody@example.com", "b@example.com" };
	struct smtp_reply r[4];
	GError *error = NULL;
	GPtrArray *envs;

	g_assert_cmpint(smtp_has_extension(c, "PIPELINING"), ==, pipelining);
	g_assert_cmpint(send_text(c, rcpts, 4, message, r, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 451);
	g_assert_cmpstr(r[1].text, ==, "4.2.1 try later");
	g_assert_false(r[1].at_data);
	g_assert_true(r[0].at_data);	/* its 250 came after the data */
	g_assert_cmpint(r[2].code, ==, 550);
	g_assert_cmpstr(r[2].text, ==, "5.1.1 no such user\nreally none");
	g_assert_cmpint(r[3].code, ==, 250);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 1);
	g_assert_cmpuint(env_count(envs->pdata[0], "rcpt"), ==, 2);
	g_assert_true(env_has(envs->pdata[0], "rcpt a@example.com"));
	g_assert_true(env_has(envs->pdata[0], "rcpt b@example.com"));
	g_ptr_array_free(envs, TRUE);
	replies_clear(r, 4);
	smtp_close(&c);
	server_stop(&s);
}

static void
test_rcpt_codes_kept_pipelined(void)
{
	per_recipient_codes(TRUE);
}

static void
test_rcpt_codes_kept_lockstep(void)
{
	per_recipient_codes(FALSE);
}

/* MAIL refused: every recipient gets its reply; the connection goes on. */
static void
mail_refused(gboolean pipelining)
{
	const char *opts[] = { pipelining ? NULL : "--no-pipelining", NULL };
	struct server *s = server_start(
	    "mail spammer@* 550 5.7.1 not you\n", opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com", "b@example.com" };
	struct smtp_reply r[2], mail;
	GError *error = NULL;
	GPtrArray *envs;

	g_assert_cmpint(smtp_send(c, "spammer@example.org", rcpts, 2, message,
				  strlen(message), r, &mail, &error),
			==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(mail.code, ==, 550);
	g_assert_cmpstr(mail.text, ==, "5.7.1 not you");
	for (int i = 0; i < 2; i++) {
		g_assert_cmpint(r[i].code, ==, 550);
		g_assert_cmpstr(r[i].text, ==, "5.7.1 not you");
		g_assert_false(r[i].at_data);
	}
	replies_clear(r, 2);
	smtp_reply_clear(&mail);
	g_assert_cmpint(smtp_send(c, "good@example.org", rcpts, 2, message,
				  strlen(message), r, &mail, &error),
			==, 0);
	g_assert_cmpint(mail.code, ==, 250);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 250);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 1);
	g_ptr_array_free(envs, TRUE);
	replies_clear(r, 2);
	smtp_reply_clear(&mail);
	smtp_close(&c);
	server_stop(&s);
}

static void
test_mail_refused_pipelined(void)
{
	mail_refused(TRUE);
}

static void
test_mail_refused_lockstep(void)
{
	mail_refused(FALSE);
}

/* 554 after the data: each accepted recipient gets it, a refused one
 * keeps its own; nothing is stored. */
static void
test_data_rejected_reaches_every_accepted_recipient(void)
{
	struct server *s = server_start(
	    "rcpt gone@* 550 5.1.1 gone\n"
	    "dot-if VIRUS 554 5.6.0 rejected: virus\n", NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com", "gone@example.com",
				"b@example.com" };
	const char *bad = "Subject: x\n\nVIRUS\n";
	struct smtp_reply r[3];
	GError *error = NULL;
	GPtrArray *envs;

	g_assert_cmpint(send_text(c, rcpts, 3, bad, r, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 554);
	g_assert_cmpstr(r[0].text, ==, "5.6.0 rejected: virus");
	g_assert_cmpint(r[1].code, ==, 550);
	g_assert_cmpint(r[2].code, ==, 554);
	/* The 554s refuse the message, the 550 the recipient. */
	g_assert_true(r[0].at_data);
	g_assert_false(r[1].at_data);
	g_assert_true(r[2].at_data);
	replies_clear(r, 3);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 0);
	g_ptr_array_free(envs, TRUE);
	/* The same connection takes the next message. */
	g_assert_cmpint(send_text(c, rcpts, 3, message, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[2].code, ==, 250);
	replies_clear(r, 3);
	smtp_close(&c);
	server_stop(&s);
}

/* The DATA command itself refused (pipelined: after the RCPTs). */
static void
test_data_command_refused(void)
{
	struct server *s =
	    server_start("reply-first 1 data 451 4.3.0 not now\n", NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com", "b@example.com" };
	struct smtp_reply r[2];
	GError *error = NULL;

	g_assert_cmpint(send_text(c, rcpts, 2, message, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 451);
	g_assert_cmpint(r[1].code, ==, 451);
	g_assert_true(r[0].at_data);
	replies_clear(r, 2);
	/* RSET goes first by itself (the transaction was left open). */
	g_assert_cmpint(send_text(c, rcpts, 2, message, r, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 250);
	replies_clear(r, 2);
	smtp_close(&c);
	server_stop(&s);
}

/* A 2xx to DATA would have the client count recipients delivered that
 * never got the message: the connection ends instead, codes 0. */
static void
test_data_250_is_out_of_step(void)
{
	struct server *s = server_start("reply data 250 2.0.0 sure\n", NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com" };
	struct smtp_reply r[1];
	GError *error = NULL;

	g_assert_cmpint(send_text(c, rcpts, 1, message, r, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "unexpected reply to DATA"));
	g_clear_error(&error);
	g_assert_cmpint(r[0].code, ==, 0);
	smtp_close(&c);
	server_stop(&s);
}

/* LMTP: the connection lost after the dot, before the replies. */
static void
test_lmtp_drop_after_dot_gives_code_0(void)
{
	const char *opts[] = { "--lmtp", NULL };
	struct server *s = server_start("rcpt nouser@* 550 5.1.1 no such user\n"
					"drop dot\n", opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c;
	const char *rcpts[] = { "a@example.com", "nouser@example.com",
				"b@example.com" };
	struct smtp_reply r[3];
	GError *error = NULL;

	cfg.lmtp = TRUE;
	c = connect_ok(&cfg);
	g_assert_cmpint(send_text(c, rcpts, 3, message, r, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_clear_error(&error);
	g_assert_cmpint(r[0].code, ==, 0);
	g_assert_cmpint(r[1].code, ==, 550);
	g_assert_cmpint(r[2].code, ==, 0);
	replies_clear(r, 3);
	smtp_close(&c);
	server_stop(&s);
}

static char *
big_message(size_t size)
{
	GString *m = g_string_sized_new(size + 100);
	guint i = 0;

	g_string_append(m, "From: a@example.org\nSubject: big\n\n");
	while (m->len < size) {
		if (i % 50 == 0)
			g_string_append(m, ".a line that starts with a dot\n");
		g_string_append_printf(m, "line %u: the quick brown fox jumps "
				       "over the lazy dog, again and again\n",
				       i++);
	}
	return g_string_free(m, FALSE);
}

static void
test_drop_during_data_gives_code_0(void)
{
	struct server *s = server_start("rcpt gone@* 550 5.1.1 gone\n"
					"drop-data 20000\n", NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com", "gone@example.com",
				"b@example.com" };
	char *big = big_message(1 << 20);
	struct smtp_reply r[3];
	GError *error = NULL;
	GPtrArray *envs;

	g_assert_cmpint(send_text(c, rcpts, 3, big, r, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	note("error: %s", error->message);
	g_clear_error(&error);
	g_assert_cmpint(r[0].code, ==, 0);
	g_assert_null(r[0].text);
	g_assert_cmpint(r[1].code, ==, 550);	/* known already */
	g_assert_cmpint(r[2].code, ==, 0);
	replies_clear(r, 3);
	/* The connection is done for. */
	g_assert_cmpint(send_text(c, rcpts, 1, message, r, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_clear_error(&error);
	g_assert_cmpint(r[0].code, ==, 0);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 0);
	g_ptr_array_free(envs, TRUE);
	smtp_close(&c);
	g_free(big);
	server_stop(&s);
}

/* A server that stops answering costs one timeout. */
static void
stall_at(const char *step)
{
	char *script = g_strdup_printf("stall %s 30\n", step);
	struct server *s = server_start(script, NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c;
	const char *rcpts[] = { "a@example.com", "b@example.com" };
	struct smtp_reply r[2];
	GError *error = NULL;
	gint64 t0;
	double secs;

	cfg.timeout_ms = 400;
	c = connect_ok(&cfg);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(send_text(c, rcpts, 2, message, r, &error), ==, -1);
	secs = (double)(g_get_monotonic_time() - t0) / 1e6;
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT);
	note("%s after %.3f s", error->message, secs);
	g_clear_error(&error);
	g_assert_cmpfloat(secs, >=, 0.39);
	g_assert_cmpfloat(secs, <, 1.5);
	g_assert_cmpint(r[0].code, ==, 0);
	g_assert_cmpint(r[1].code, ==, 0);
	replies_clear(r, 2);
	smtp_close(&c);
	g_free(script);
	server_stop(&s);
}

static void
test_stall_at_rcpt_times_out(void)
{
	stall_at("rcpt");
}

static void
test_stall_after_dot_times_out(void)
{
	stall_at("dot");
}

static void
test_stall_at_greeting_fails_connect(void)
{
	struct server *s = server_start("stall greeting 30\n", NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = NULL;
	GError *error = NULL;
	int code = -1;
	gint64 t0 = g_get_monotonic_time();

	cfg.timeout_ms = 300;
	g_assert_cmpint(smtp_connect(&cfg, &c, &code, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT);
	g_assert_cmpint(code, ==, 0);
	g_assert_null(c);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 1500000);
	g_clear_error(&error);
	server_stop(&s);
}

static void
test_not_listening_is_connect_error(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct smtp_config cfg = { .host = "127.0.0.1", .timeout_ms = 2000 };
	struct smtp_conn *c = NULL;
	GError *error = NULL;
	int code = -1;

	/* A port that was free a moment ago, and is closed now. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof sin), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &sl), ==, 0);
	g_assert_cmpint(close(fd), ==, 0);
	cfg.port = ntohs(sin.sin_port);
	g_assert_cmpint(smtp_connect(&cfg, &c, &code, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "connect(127.0.0.1:"));
	g_assert_nonnull(strstr(error->message, "Connection refused"));
	g_assert_cmpint(code, ==, 0);
	g_assert_null(c);
	g_clear_error(&error);
}

static void
test_greeting_421_fails_with_code(void)
{
	struct server *s = server_start("reply greeting 421 4.3.2 too busy\n",
					NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = NULL;
	GError *error = NULL;
	int code = 0;

	g_assert_cmpint(smtp_connect(&cfg, &c, &code, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "421 4.3.2 too busy"));
	g_assert_cmpint(code, ==, 421);
	g_assert_null(c);
	g_clear_error(&error);
	server_stop(&s);
}

static void
test_greeting_554_fails_with_code(void)
{
	struct server *s = server_start("reply greeting 554 5.7.1 go away\n",
					NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = NULL;
	GError *error = NULL;
	int code = 0;

	g_assert_cmpint(smtp_connect(&cfg, &c, &code, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_cmpint(code, ==, 554);
	g_clear_error(&error);
	server_stop(&s);
}

/* 421 to a RCPT ends the connection: -1, and the accepted recipients
 * before it are unknown (code 0); a refused one keeps its code. */
static void
test_421_mid_transaction_ends_connection(void)
{
	struct server *s = server_start("rcpt gone@* 550 5.1.1 gone\n"
					"rcpt shut@* 421 4.3.2 shutting down\n",
					NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com", "gone@example.com",
				"shut@example.com", "b@example.com" };
	struct smtp_reply r[4];
	GError *error = NULL;

	g_assert_cmpint(send_text(c, rcpts, 4, message, r, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "421"));
	g_clear_error(&error);
	g_assert_cmpint(r[0].code, ==, 0);
	g_assert_cmpint(r[1].code, ==, 550);
	g_assert_cmpint(r[2].code, ==, 0);
	g_assert_cmpint(r[3].code, ==, 0);
	replies_clear(r, 4);
	smtp_close(&c);
	server_stop(&s);
}

/* "." and ".." lines survive byte-exact; LF becomes CRLF on the wire. */
static void
test_dot_stuffing_and_line_ends(void)
{
	struct server *s = server_start(NULL, NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com" };
	const char *in_lf = "Subject: dots\n\n.\n..\n...\n.x\nx.\n. \n\nend";
	const char *wire_lf = "Subject: dots\r\n\r\n..\r\n...\r\n....\r\n"
			      "..x\r\nx.\r\n.. \r\n\r\nend\r\n.\r\n";
	const char *in_crlf = "Subject: crlf\r\n\r\n.\r\n..\r\nlast\r\n";
	const char *msg_crlf = "Subject: crlf\n\n.\n..\nlast\n";
	const char *in_cr = "Subject: cr\n\na\rb\r.\r\n.";
	const char *wire_cr = "Subject: cr\r\n\r\na\r\nb\r\n..\r\n..\r\n.\r\n";
	struct smtp_reply r[1];
	GError *error = NULL;
	char *got;
	gsize len;

	g_assert_cmpint(send_text(c, rcpts, 1, in_lf, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	got = spool_file(s, 1, "wire", &len);
	g_assert_cmpmem(got, len, wire_lf, strlen(wire_lf));
	g_free(got);
	got = spool_file(s, 1, "msg", &len);
	/* The original, plus the line end the last line lacked. */
	g_assert_cmpmem(got, len,
			"Subject: dots\n\n.\n..\n...\n.x\nx.\n. \n\nend\n",
			strlen(in_lf) + 1);
	g_free(got);

	g_assert_cmpint(send_text(c, rcpts, 1, in_crlf, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	got = spool_file(s, 2, "msg", &len);
	g_assert_cmpmem(got, len, msg_crlf, strlen(msg_crlf));
	g_free(got);
	got = spool_file(s, 2, "env", NULL);
	g_assert_cmpint(env_num(got, "bare-lf"), ==, 0);
	g_free(got);

	/* A lone CR ends a line too: no bare CR reaches the wire. */
	g_assert_cmpint(send_text(c, rcpts, 1, in_cr, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	got = spool_file(s, 3, "wire", &len);
	g_assert_cmpmem(got, len, wire_cr, strlen(wire_cr));
	g_free(got);

	/* An empty message is just the final dot. */
	g_assert_cmpint(send_text(c, rcpts, 1, "", r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	got = spool_file(s, 4, "wire", &len);
	g_assert_cmpmem(got, len, ".\r\n", 3);
	g_free(got);
	smtp_close(&c);
	server_stop(&s);
}

static void
lmtp_replies(gboolean unix_socket)
{
	const char *tcp_opts[] = { "--lmtp", NULL };
	const char *unix_opts[] = { "--lmtp", "--unix", NULL };
	struct server *s = server_start(
	    "rcpt nouser@* 550 5.1.1 no such user\n"
	    "dot-rcpt full@* 552 5.2.2 mailbox full\n"
	    "dot-rcpt later@* 451 4.3.0 try again\n",
	    unix_socket ? unix_opts : tcp_opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c;
	const char *rcpts[] = { "a@example.com", "full@example.com",
				"nouser@example.com", "later@example.com",
				"b@example.com" };
	struct smtp_reply r[5];
	GError *error = NULL;
	GPtrArray *envs;

	cfg.lmtp = TRUE;
	c = connect_ok(&cfg);
	g_assert_cmpint(send_text(c, rcpts, 5, message, r, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 552);
	g_assert_cmpstr(r[1].text, ==, "5.2.2 mailbox full");
	g_assert_false(r[1].at_data);	/* its own, not the message's */
	g_assert_cmpint(r[2].code, ==, 550);
	g_assert_false(r[2].at_data);
	g_assert_cmpint(r[3].code, ==, 451);
	g_assert_cmpint(r[4].code, ==, 250);
	replies_clear(r, 5);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 1);
	g_assert_cmpuint(env_count(envs->pdata[0], "rcpt"), ==, 2);
	g_assert_true(env_has(envs->pdata[0], "rcpt a@example.com"));
	g_assert_true(env_has(envs->pdata[0], "rcpt b@example.com"));
	g_ptr_array_free(envs, TRUE);
	/* And again on the same connection. */
	g_assert_cmpint(send_text(c, rcpts, 1, message, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	smtp_close(&c);
	server_stop(&s);
}

static void
test_lmtp_per_recipient_replies(void)
{
	lmtp_replies(FALSE);
}

static void
test_lmtp_over_unix_socket(void)
{
	lmtp_replies(TRUE);
}

/* Every recipient refused leaves the transaction open: RSET, then the
 * next transaction on the same connection. */
static void
test_rset_then_second_transaction(void)
{
	const char *opts[] = { "--no-pipelining", NULL };
	struct server *s = server_start("rcpt *@nowhere.example 550 5.1.2 "
					"bad domain\n", opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *bad[] = { "a@nowhere.example", "b@nowhere.example" };
	const char *good[] = { "a@example.com" };
	struct smtp_reply r[2];
	GError *error = NULL;
	GPtrArray *envs;

	g_assert_cmpint(send_text(c, bad, 2, message, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 550);
	g_assert_cmpint(r[1].code, ==, 550);
	replies_clear(r, 2);
	g_assert_cmpint(smtp_reset(c, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(smtp_send(c, "t@example.org", good, 1, message,
				  strlen(message), r, NULL, &error),
			==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 1);
	g_assert_nonnull(strstr(envs->pdata[0], "\nmail t@example.org SIZE="));
	g_ptr_array_free(envs, TRUE);
	smtp_close(&c);
	server_stop(&s);
}

/* A second transaction whose RCPT was refused at the first try and
 * accepted at the next (rcpt-first), across connections too. */
static void
test_recipient_accepted_after_n_failures(void)
{
	struct server *s = server_start("rcpt-first 2 slow@* 451 4.7.1 "
					"greylisted\n", NULL);
	struct smtp_config cfg = config_for(s);
	const char *rcpts[] = { "slow@example.com", "fast@example.com" };
	int want[] = { 451, 451, 250 };

	for (int round = 0; round < 3; round++) {
		struct smtp_conn *c = connect_ok(&cfg);
		struct smtp_reply r[2];
		GError *error = NULL;

		g_assert_cmpint(send_text(c, rcpts, 2, message, r, &error), ==, 0);
		g_assert_cmpint(r[0].code, ==, want[round]);
		g_assert_cmpint(r[1].code, ==, 250);
		replies_clear(r, 2);
		smtp_close(&c);
	}
	server_stop(&s);
}

static void
auth_case(const char *mechs, const char *password, gboolean good)
{
	const char *opts[] = { "--auth", "herald:s3cret", "--require-auth",
			       "--auth-mechs", mechs, NULL };
	struct server *s = server_start(NULL, opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = NULL;
	GError *error = NULL;
	int code = 0;

	cfg.auth_user = "herald";
	cfg.auth_password = password;
	if (good) {
		const char *rcpts[] = { "a@example.com" };
		struct smtp_reply r[1];
		GPtrArray *envs;

		c = connect_ok(&cfg);
		g_assert_cmpint(send_text(c, rcpts, 1, message, r, &error), ==, 0);
		g_assert_cmpint(r[0].code, ==, 250);
		replies_clear(r, 1);
		envs = spool_envs(s);
		g_assert_cmpuint(envs->len, ==, 1);
		g_assert_true(env_has(envs->pdata[0], "auth herald"));
		g_ptr_array_free(envs, TRUE);
		smtp_close(&c);
	} else {
		g_assert_cmpint(smtp_connect(&cfg, &c, &code, &error), ==, -1);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
		g_assert_nonnull(strstr(error->message, "AUTH"));
		g_assert_cmpint(code, ==, 535);
		g_assert_null(c);
		g_clear_error(&error);
	}
	server_stop(&s);
}

static void
test_auth_plain_good(void)
{
	auth_case("PLAIN LOGIN", "s3cret", TRUE);
}

static void
test_auth_plain_bad(void)
{
	auth_case("PLAIN LOGIN", "wrong", FALSE);
}

static void
test_auth_login_good(void)
{
	auth_case("LOGIN", "s3cret", TRUE);
}

static void
test_auth_login_bad(void)
{
	auth_case("LOGIN", "wrong", FALSE);
}

/* Without AUTH, a server that wants it refuses MAIL: every recipient
 * gets the 530. */
static void
test_auth_required_but_not_configured(void)
{
	const char *opts[] = { "--auth", "herald:s3cret", "--require-auth",
			       NULL };
	struct server *s = server_start(NULL, opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com", "b@example.com" };
	struct smtp_reply r[2];
	GError *error = NULL;

	g_assert_cmpint(send_text(c, rcpts, 2, message, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 530);
	g_assert_cmpint(r[1].code, ==, 530);
	replies_clear(r, 2);
	smtp_close(&c);
	server_stop(&s);
}

/* A local IPv4 address that is not loopback, or NULL. */
static char *
non_loopback_address(void)
{
	struct ifaddrs *ifs, *i;
	char *found = NULL;

	if (getifaddrs(&ifs) < 0)
		return NULL;
	for (i = ifs; i != NULL && found == NULL; i = i->ifa_next) {
		char buf[INET_ADDRSTRLEN];
		const struct sockaddr_in *sin;

		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
			continue;
		sin = (const struct sockaddr_in *)i->ifa_addr;
		if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
			continue;
		if (inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf))
			found = g_strdup(buf);
	}
	freeifaddrs(ifs);
	return found;
}

/* The password never goes in plain text to a host that is not loopback. */
static void
test_auth_refused_without_tls_off_loopback(void)
{
	char *addr = non_loopback_address();
	const char *opts[] = { "--addr", addr, "--auth", "herald:s3cret",
			       NULL };
	struct server *s;
	struct smtp_config cfg;
	struct smtp_conn *c = NULL;
	GError *error = NULL;
	int code = -1;

	if (addr == NULL) {
		g_test_skip("no IPv4 address besides loopback");
		return;
	}
	s = server_start(NULL, opts);
	cfg = config_for(s);
	cfg.host = addr;
	cfg.auth_user = "herald";
	cfg.auth_password = "s3cret";
	g_assert_cmpint(smtp_connect(&cfg, &c, &code, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_assert_nonnull(strstr(error->message, "plain text"));
	g_assert_cmpint(code, ==, 0);
	g_clear_error(&error);
	server_stop(&s);
	g_free(addr);
}

static void
test_starttls_required_but_not_offered(void)
{
	struct server *s = server_start(NULL, NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = NULL;
	GError *error = NULL;
	int code = -1;

	cfg.tls = SMTP_TLS_REQUIRED;
	g_assert_cmpint(smtp_connect(&cfg, &c, &code, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "does not offer STARTTLS"));
	g_assert_null(c);
	g_clear_error(&error);
	/* Opportunistic goes on in plain text. */
	cfg.tls = SMTP_TLS_OPPORTUNISTIC;
	c = connect_ok(&cfg);
	g_assert_false(smtp_is_tls(c));
	smtp_close(&c);
	server_stop(&s);
}

/* A self-signed certificate for name (and san, a subjectAltName value, if
 * not NULL) in dir as <stem>-cert.pem and <stem>-key.pem; FALSE when
 * there is no openssl command. */
static gboolean
make_cert_named(const char *dir, const char *stem, const char *name,
		const char *san, char **cert_r, char **key_r)
{
	char *cert = g_strdup_printf("%s/%s-cert.pem", dir, stem);
	char *key = g_strdup_printf("%s/%s-key.pem", dir, stem);
	char *subj = g_strdup_printf("/CN=%s", name);
	char *ext = g_strdup_printf("subjectAltName=%s", san ? san : "");
	const char *argv[] = {
		"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
		"ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
		"-subj", subj, "-keyout", key, "-out", cert,
		san != NULL ? "-addext" : NULL, ext, NULL,
	};
	GError *error = NULL;
	int status = 0;
	gboolean ok;

	ok = g_spawn_sync(NULL, (char **)argv, NULL,
			  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
			      G_SPAWN_STDERR_TO_DEV_NULL,
			  NULL, NULL, NULL, NULL, &status, &error) &&
	     g_spawn_check_wait_status(status, NULL);
	g_clear_error(&error);
	g_free(subj);
	g_free(ext);
	if (!ok) {
		g_free(cert);
		g_free(key);
		return FALSE;
	}
	*cert_r = cert;
	*key_r = key;
	return TRUE;
}

/* The server's certificate: localhost and 127.0.0.1. */
static gboolean
make_cert(const char *dir, char **cert_r, char **key_r)
{
	return make_cert_named(dir, "server", "localhost",
			       "DNS:localhost,IP:127.0.0.1", cert_r, key_r);
}

static void
test_starttls_then_auth(void)
{
	const char *opts[] = { "--auth", "herald:s3cret", "--auth-tls-only",
			       "--require-auth", NULL };
	struct server *s = server_start_tls(NULL, opts);
	struct smtp_config cfg;
	struct smtp_conn *c = NULL;
	const char *rcpts[] = { "a@example.com" };
	struct smtp_reply r[1];
	GError *error = NULL;
	GPtrArray *envs;
	int code = 0;

	if (s == NULL)
		return;
	cfg = config_for(s);
	cfg.tls = SMTP_TLS_REQUIRED;
	cfg.tls_verify = TRUE;
	cfg.tls_ca_file = s->cert;
	cfg.auth_user = "herald";
	cfg.auth_password = "s3cret";

	/* By name (SNI and the name check) and by address. */
	cfg.host = "localhost";
	c = connect_ok(&cfg);
	g_assert_true(smtp_is_tls(c));
	g_assert_false(smtp_has_extension(c, "STARTTLS"));
	g_assert_cmpint(send_text(c, rcpts, 1, message, r, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	smtp_close(&c);
	cfg.host = "127.0.0.1";
	c = connect_ok(&cfg);
	g_assert_true(smtp_is_tls(c));
	smtp_close(&c);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 1);
	g_assert_true(env_has(envs->pdata[0], "tls yes"));
	g_assert_true(env_has(envs->pdata[0], "auth herald"));
	g_ptr_array_free(envs, TRUE);

	/* A certificate the CA file does not vouch for fails... */
	cfg.tls_ca_file = NULL;	/* the system's CAs */
	g_assert_cmpint(smtp_connect(&cfg, &c, &code, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "certificate"));
	note("%s", error->message);
	g_clear_error(&error);
	/* ...and so does one for another name, vouched for by the CA
	 * file (it is its own CA). */
	{
		char *other_cert, *other_key;
		const char *other_opts[] = { "--tls-cert", NULL, "--tls-key",
					     NULL, NULL };
		struct server *s2;

		g_assert_true(make_cert_named(s->dir, "other", "other.example",
					      "DNS:other.example",
					      &other_cert, &other_key));
		other_opts[1] = other_cert;
		other_opts[3] = other_key;
		s2 = server_start(NULL, other_opts);
		cfg.port = s2->port;
		cfg.tls_ca_file = other_cert;
		cfg.host = "localhost";
		g_assert_cmpint(smtp_connect(&cfg, &c, &code, &error), ==, -1);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
		g_assert_nonnull(strstr(error->message, "certificate"));
		note("%s", error->message);
		g_clear_error(&error);
		server_stop(&s2);
		cfg.port = s->port;
		g_free(other_cert);
		g_free(other_key);
	}
	/* Without verification, the same works. */
	cfg.tls_verify = FALSE;
	cfg.tls_ca_file = NULL;
	c = connect_ok(&cfg);
	g_assert_true(smtp_is_tls(c));
	smtp_close(&c);
	server_stop(&s);
}

/* Opportunistic TLS whose handshake fails tries once more in plain
 * text (with the verification failing here). */
static void
test_opportunistic_tls_falls_back(void)
{
	struct server *s = server_start_tls(NULL, NULL);
	struct smtp_config cfg;
	struct smtp_conn *c;
	const char *rcpts[] = { "a@example.com" };
	struct smtp_reply r[1];
	GError *error = NULL;
	GPtrArray *envs;

	if (s == NULL)
		return;
	cfg = config_for(s);
	cfg.tls = SMTP_TLS_OPPORTUNISTIC;
	cfg.tls_verify = TRUE;	/* with the system's CAs: fails */
	c = connect_ok(&cfg);
	g_assert_false(smtp_is_tls(c));
	g_assert_cmpint(send_text(c, rcpts, 1, message, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	smtp_close(&c);
	/* And plainly opportunistic, without verification, is TLS. */
	cfg.tls_verify = FALSE;
	c = connect_ok(&cfg);
	g_assert_true(smtp_is_tls(c));
	g_assert_cmpint(send_text(c, rcpts, 1, message, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	smtp_close(&c);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 2);
	g_assert_true(env_has(envs->pdata[0], "tls no"));
	g_assert_true(env_has(envs->pdata[1], "tls yes"));
	g_ptr_array_free(envs, TRUE);
	server_stop(&s);
}

/* A big message over TLS and in plain text: byte-exact, in time. */
static void
large_message(size_t size, gboolean tls)
{
	struct server *s = tls ? server_start_tls(NULL, NULL)
			       : server_start(NULL, NULL);
	struct smtp_config cfg;
	struct smtp_conn *c;
	const char *rcpts[] = { "a@example.com", "b@example.com" };
	char *big;
	struct smtp_reply r[2];
	GError *error = NULL;
	gint64 t0;
	char *got;
	gsize len;

	if (s == NULL)
		return;
	big = big_message(size);
	cfg = config_for(s);
	cfg.tls = tls ? SMTP_TLS_REQUIRED : SMTP_TLS_NONE;
	c = connect_ok(&cfg);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(send_text(c, rcpts, 2, big, r, &error), ==, 0);
	g_assert_no_error(error);
	note("%zu bytes%s: %.3f s", strlen(big), tls ? " (TLS)" : "",
		       (double)(g_get_monotonic_time() - t0) / 1e6);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 250);
	replies_clear(r, 2);
	got = spool_file(s, 1, "msg", &len);
	g_assert_cmpuint(len, ==, strlen(big));
	g_assert_true(memcmp(got, big, len) == 0);
	g_free(got);
	smtp_close(&c);
	server_stop(&s);
	g_free(big);
}

static void
test_five_megabyte_message(void)
{
	large_message(5 << 20, FALSE);
}

static void
test_five_megabyte_message_tls(void)
{
	large_message(5 << 20, TRUE);
}

/* SIZE: a message larger than the server takes is not sent at all. */
static void
test_size_limit_refuses_before_sending(void)
{
	const char *opts[] = { "--size", "1000", NULL };
	struct server *s = server_start(NULL, opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com" };
	char *big = big_message(5000);
	struct smtp_reply r[1], mail;
	GError *error = NULL;
	struct smtp_stats st;

	g_assert_cmpint(smtp_send(c, "s@example.org", rcpts, 1, big,
				  strlen(big), r, &mail, &error),
			==, 0);
	g_assert_cmpint(r[0].code, ==, 552);
	g_assert_cmpint(mail.code, ==, 552);
	replies_clear(r, 1);
	smtp_reply_clear(&mail);
	smtp_get_stats(c, &st);
	g_assert_cmpuint(st.transactions, ==, 0);
	g_assert_cmpint(send_text(c, rcpts, 1, message, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	smtp_close(&c);
	g_free(big);
	server_stop(&s);
}

static void
test_helo_when_ehlo_refused(void)
{
	const char *opts[] = { "--no-esmtp", NULL };
	struct server *s = server_start(NULL, opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com", "b@example.com" };
	struct smtp_reply r[2];
	GError *error = NULL;
	GPtrArray *envs;

	g_assert_false(smtp_has_extension(c, "PIPELINING"));
	g_assert_cmpint(send_text(c, rcpts, 2, message, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 250);
	replies_clear(r, 2);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 1);
	/* No SIZE or BODY without EHLO. */
	g_assert_true(env_has(envs->pdata[0], "mail s@example.org "));
	g_assert_cmpint(env_num(envs->pdata[0], "improper"), ==, 0);
	g_ptr_array_free(envs, TRUE);
	smtp_close(&c);
	server_stop(&s);
}

/* An address that would inject a command is never sent. */
static void
test_unsendable_addresses_get_553(void)
{
	struct server *s = server_start(NULL, NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *rcpts[] = { "a@example.com",
				"x@example.com>\r\nRCPT TO:<evil@example.com",
				"", "b@example.com" };
	struct smtp_reply r[4], mail;
	GError *error = NULL;
	GPtrArray *envs;

	g_assert_cmpint(send_text(c, rcpts, 4, message, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 553);
	g_assert_cmpint(r[2].code, ==, 553);
	g_assert_cmpint(r[3].code, ==, 250);
	replies_clear(r, 4);
	envs = spool_envs(s);
	g_assert_cmpuint(envs->len, ==, 1);
	g_assert_cmpuint(env_count(envs->pdata[0], "rcpt"), ==, 2);
	g_ptr_array_free(envs, TRUE);
	g_assert_cmpint(smtp_send(c, "s@example.org\nMAIL", rcpts, 1, message,
				  strlen(message), r, &mail, &error),
			==, 0);
	g_assert_cmpint(mail.code, ==, 553);
	g_assert_cmpint(r[0].code, ==, 553);
	replies_clear(r, 1);
	smtp_reply_clear(&mail);
	/* The null sender is fine. */
	g_assert_cmpint(smtp_send(c, "", rcpts, 1, message, strlen(message), r,
				  NULL, &error),
			==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	smtp_close(&c);
	server_stop(&s);
}

/* The first connection closed at once, the second told 421, the third
 * served: what a retrying runner meets. */
static void
test_refused_connections_then_accept(void)
{
	struct server *s = server_start("refuse 1\n"
					"reply-first 1 greeting 421 4.3.2 busy\n",
					NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = NULL;
	GError *error = NULL;
	int code = -1;

	g_assert_cmpint(smtp_connect(&cfg, &c, &code, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_cmpint(code, ==, 0);
	g_clear_error(&error);
	g_assert_cmpint(smtp_connect(&cfg, &c, &code, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_cmpint(code, ==, 421);
	g_clear_error(&error);
	c = connect_ok(&cfg);
	smtp_close(&c);
	server_stop(&s);
}

/* --max-connections: the server stops listening; later connections are
 * refused while the open one still works. */
static void
test_server_stops_listening_after_max_connections(void)
{
	const char *opts[] = { "--max-connections", "1", NULL };
	struct server *s = server_start(NULL, opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg), *c2 = NULL;
	const char *rcpts[] = { "a@example.com" };
	struct smtp_reply r[1];
	GError *error = NULL;
	int code = -1;

	g_assert_cmpint(smtp_connect(&cfg, &c2, &code, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "Connection refused"));
	g_clear_error(&error);
	g_assert_cmpint(send_text(c, rcpts, 1, message, r, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	smtp_close(&c);
	server_stop(&s);
}

/* --- sendmail ------------------------------------------------------------ */

/* A "sendmail" that records its arguments and input, says something and
 * exits with the status in DIR/status. */
static char *
fake_sendmail(const char *dir)
{
	char *path = g_build_filename(dir, "sendmail", NULL);
	char *script = g_strdup_printf(
	    "#!/bin/sh\n"
	    "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done > '%s/argv'\n"
	    "if [ -e '%s/noread' ]; then :; else cat > '%s/stdin'; fi\n"
	    "echo \"said on stdout\"\n"
	    "echo \"said on stderr\" >&2\n"
	    "exit $(cat '%s/status')\n",
	    dir, dir, dir, dir);

	g_assert_true(g_file_set_contents(path, script, -1, NULL));
	g_assert_cmpint(chmod(path, 0755), ==, 0);
	g_free(script);
	return path;
}

static void
sendmail_case(const char *dir, const char *status, int want_code)
{
	char *path = fake_sendmail(dir);
	char *status_file = g_build_filename(dir, "status", NULL);
	char *argv_file = g_build_filename(dir, "argv", NULL);
	char *stdin_file = g_build_filename(dir, "stdin", NULL);
	const char *argv[] = { path, "-oem", NULL };
	const char *rcpts[] = { "a@example.com", "-oQ/tmp/evil" };
	struct smtp_reply r[2];
	GError *error = NULL;
	char *got = NULL;

	g_assert_true(g_file_set_contents(status_file, status, -1, NULL));
	g_assert_cmpint(smtp_sendmail_command(argv, "list-bounces@example.org",
					      rcpts, 2, message,
					      strlen(message), r, &error),
			==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, want_code);
	g_assert_cmpint(r[1].code, ==, want_code);
	note("exit %s: %d %s", status, r[0].code, r[0].text);
	g_assert_nonnull(strstr(r[0].text, "said on stdout"));
	g_assert_nonnull(strstr(r[0].text, "said on stderr"));
	g_assert_true(g_file_get_contents(argv_file, &got, NULL, NULL));
	g_assert_cmpstr(got, ==, "-oem\n-i\n-f\nlist-bounces@example.org\n--\n"
				 "a@example.com\n-oQ/tmp/evil\n");
	g_free(got);
	g_assert_true(g_file_get_contents(stdin_file, &got, NULL, NULL));
	g_assert_cmpstr(got, ==, message);
	g_free(got);
	replies_clear(r, 2);
	g_free(path);
	g_free(status_file);
	g_free(argv_file);
	g_free(stdin_file);
}

static void
test_sendmail_command_exit_codes(void)
{
	char *dir = tmp_dir_new();

	sendmail_case(dir, "0", 250);
	sendmail_case(dir, "75", 451);
	sendmail_case(dir, "1", 550);
	tmp_dir_remove(&dir);
}

/* A command that exits 0 without reading a big message did not take it;
 * and one that cannot run is an error. */
static void
test_sendmail_command_failures(void)
{
	char *dir = tmp_dir_new();
	char *path = fake_sendmail(dir);
	char *noread = g_build_filename(dir, "noread", NULL);
	char *status_file = g_build_filename(dir, "status", NULL);
	char *missing = g_build_filename(dir, "no-such-sendmail", NULL);
	const char *argv[] = { path, NULL };
	const char *argv_missing[] = { missing, NULL };
	const char *rcpts[] = { "a@example.com" };
	char *big = big_message(4 << 20);
	struct smtp_reply r[1];
	GError *error = NULL;

	g_assert_true(g_file_set_contents(noread, "", -1, NULL));
	g_assert_true(g_file_set_contents(status_file, "0", -1, NULL));
	g_assert_cmpint(smtp_sendmail_command(argv, "s@example.org", rcpts, 1,
					      big, strlen(big), r, &error),
			==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 451);
	note("%s", r[0].text);
	replies_clear(r, 1);
	g_assert_cmpint(smtp_sendmail_command(argv_missing, "s@example.org",
					      rcpts, 1, message,
					      strlen(message), r, &error),
			==, -1);
	g_assert_nonnull(error);
	note("%s", error->message);
	g_clear_error(&error);
	g_assert_cmpint(r[0].code, ==, 0);
	g_free(big);
	g_free(path);
	g_free(noread);
	g_free(status_file);
	g_free(missing);
	tmp_dir_remove(&dir);
}

/* --- transactions left open (smtp_send_open) ----------------------------- */

/* One recipient, text from s@example.org, the transaction maybe left
 * open.  What smtp_send_open returns. */
static int
send_open(struct smtp_conn *c, const char *rcpt, const char *text,
	  struct smtp_reply *r, GError **error)
{
	const char *rcpts[] = { rcpt };

	return smtp_send_open(c, "s@example.org", rcpts, 1, text, strlen(text),
			      r, NULL, error);
}

/* The "dot-ahead" of delivery no: commands that came in the same read as
 * its final ".". */
static long
dot_ahead(const struct server *s, int no)
{
	char *env = spool_file(s, no, "env", NULL);
	long n = env_num(env, "dot-ahead");

	g_free(env);
	return n;
}

static guint
spool_count(const struct server *s)
{
	GPtrArray *envs = spool_envs(s);
	guint n = envs->len;

	g_ptr_array_free(envs, TRUE);
	return n;
}

/* One round trip a transaction: the "." of each message reaches the
 * server in the same read as the next MAIL, RCPT and DATA, and each reply
 * is known only once the next call on the connection has read it. */
static void
open_back_to_back(gboolean tls)
{
	struct server *s = tls ? server_start_tls(NULL, NULL)
			       : server_start(NULL, NULL);
	struct smtp_config cfg;
	struct smtp_conn *c;
	struct smtp_reply r[3];
	GError *error = NULL;
	struct smtp_stats st;

	if (s == NULL)
		return;
	cfg = config_for(s);
	cfg.tls = tls ? SMTP_TLS_REQUIRED : SMTP_TLS_NONE;
	c = connect_ok(&cfg);
	g_assert_cmpint(send_open(c, "a@example.com", message, &r[0], &error),
			==, 1);
	g_assert_no_error(error);
	/* Unknown, not delivered, until the reply is read; the server has
	 * not even had the end of the message. */
	g_assert_cmpint(r[0].code, ==, 0);
	g_assert_cmpuint(spool_count(s), ==, 0);
	g_assert_cmpint(send_open(c, "b@example.com", message, &r[1], &error),
			==, 1);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_true(r[0].at_data);
	g_assert_cmpint(r[1].code, ==, 0);
	g_assert_cmpint(send_open(c, "c@example.com", message, &r[2], &error),
			==, 1);
	g_assert_cmpint(r[1].code, ==, 250);
	g_assert_cmpint(smtp_settle(c, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[2].code, ==, 250);
	g_assert_cmpstr(r[2].text, ==, "2.0.0 queued");
	/* Settling twice is harmless. */
	g_assert_cmpint(smtp_settle(c, &error), ==, 0);
	g_assert_cmpuint(spool_count(s), ==, 3);
	g_assert_cmpint(dot_ahead(s, 1), ==, 3);	/* MAIL, RCPT, DATA */
	g_assert_cmpint(dot_ahead(s, 2), ==, 3);
	g_assert_cmpint(dot_ahead(s, 3), ==, 0);	/* the last, alone */
	smtp_get_stats(c, &st);
	g_assert_cmpuint(st.transactions, ==, 3);
	g_assert_cmpuint(st.rcpts_delivered, ==, 3);
	replies_clear(r, 3);
	smtp_close(&c);
	server_stop(&s);
}

static void
test_open_dot_goes_with_next_mail(void)
{
	open_back_to_back(FALSE);
}

static void
test_open_dot_goes_with_next_mail_tls(void)
{
	open_back_to_back(TRUE);
}

/* A message of several chunks: all but the last are written at once,
 * the last held; both messages arrive whole. */
static void
test_open_long_message_arrives_whole(void)
{
	struct server *s = server_start(NULL, NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	GString *big = g_string_new("Subject: big\n\n");
	struct smtp_reply r[2];
	GError *error = NULL;

	for (guint i = 0; big->len < 700000; i++)
		g_string_append_printf(big, "line %u of a long message\n", i);
	for (guint i = 0; i < 2; i++)
		g_assert_cmpint(send_open(c, "a@example.com", big->str, &r[i],
					  &error), ==, 1);
	g_assert_cmpint(smtp_settle(c, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 250);
	for (int no = 1; no <= 2; no++) {
		char *msg = spool_file(s, no, "msg", NULL);

		g_assert_cmpstr(msg, ==, big->str);
		g_free(msg);
	}
	g_assert_cmpint(dot_ahead(s, 1), ==, 3);
	g_string_free(big, TRUE);
	replies_clear(r, 2);
	smtp_close(&c);
	server_stop(&s);
}

/* smtp_close settles the open transaction before QUIT. */
static void
test_open_settled_by_close(void)
{
	struct server *s = server_start(NULL, NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	struct smtp_reply r = { 0 };
	GError *error = NULL;

	g_assert_cmpint(send_open(c, "a@example.com", message, &r, &error),
			==, 1);
	smtp_close(&c);
	g_assert_cmpint(r.code, ==, 250);
	g_assert_cmpuint(spool_count(s), ==, 1);
	smtp_reply_clear(&r);
	server_stop(&s);
}

/* The server (script) ends the connection after the "." of the open
 * message, the next envelope in flight: both unknown (code 0, retried),
 * nothing claimed delivered, the error naming want. */
static void
open_then_connection_lost(const char *script, const char *want)
{
	struct server *s = server_start(script, NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	struct smtp_reply r[2];
	GError *error = NULL;

	g_assert_cmpint(send_open(c, "a@example.com", message, &r[0], &error),
			==, 1);
	g_assert_cmpint(send_open(c, "b@example.com", message, &r[1], &error),
			==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, want));
	g_clear_error(&error);
	g_assert_cmpint(r[0].code, ==, 0);
	g_assert_cmpint(r[1].code, ==, 0);
	g_assert_cmpint(send_open(c, "a@example.com", message, &r[0], &error),
			==, -1);
	g_clear_error(&error);
	replies_clear(r, 2);
	smtp_close(&c);
	server_stop(&s);
}

static void
test_open_drop_after_dot(void)
{
	open_then_connection_lost("drop dot\n", "closed the connection");
}

/* A 5xx or 4xx after the open message's data is its own verdict; the
 * next message, whose envelope came with it, goes through. */
static void
test_open_final_refusal_is_that_messages_only(void)
{
	struct server *s = server_start("dot-if VIRUS 554 5.6.0 virus\n"
					"dot-if LATER 451 4.3.0 later\n", NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	const char *texts[] = { "Subject: x\n\nVIRUS\n", message,
				"Subject: y\n\nLATER\n", message };
	struct smtp_reply r[4];
	GError *error = NULL;

	for (guint i = 0; i < 4; i++)
		g_assert_cmpint(send_open(c, "a@example.com", texts[i], &r[i],
					  &error), ==, 1);
	g_assert_cmpint(smtp_settle(c, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 554);
	g_assert_cmpstr(r[0].text, ==, "5.6.0 virus");
	g_assert_true(r[0].at_data);
	g_assert_cmpint(r[1].code, ==, 250);
	g_assert_cmpint(r[2].code, ==, 451);
	g_assert_true(r[2].at_data);
	g_assert_cmpint(r[3].code, ==, 250);
	g_assert_cmpuint(spool_count(s), ==, 2);
	replies_clear(r, 4);
	smtp_close(&c);
	server_stop(&s);
}

/* The next transaction's refused RCPT (or an address never sent) does not
 * touch the open one's verdict; a refused transaction is not left open,
 * and the one after it still gets through. */
static void
test_open_next_rcpt_refused(void)
{
	struct server *s = server_start("rcpt gone@* 550 5.1.1 gone\n", NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	struct smtp_reply r[5];
	GError *error = NULL;

	g_assert_cmpint(send_open(c, "a@example.com", message, &r[0], &error),
			==, 1);
	g_assert_cmpint(send_open(c, "gone@example.com", message, &r[1],
				  &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 550);
	g_assert_false(r[1].at_data);
	g_assert_cmpint(send_open(c, "b@example.com", message, &r[2], &error),
			==, 1);
	/* An address never sent settles the open one all the same. */
	g_assert_cmpint(send_open(c, "bad<@example.com", message, &r[3],
				  &error), ==, 0);
	g_assert_cmpint(r[2].code, ==, 250);
	g_assert_cmpint(r[3].code, ==, 553);
	g_assert_cmpint(send_open(c, "c@example.com", message, &r[4], &error),
			==, 1);
	g_assert_cmpint(smtp_reset(c, &error), ==, 0);	/* settles it too */
	g_assert_no_error(error);
	g_assert_cmpint(r[4].code, ==, 250);
	g_assert_cmpuint(spool_count(s), ==, 3);
	replies_clear(r, 5);
	smtp_close(&c);
	server_stop(&s);
}

/* 421 ends the connection: after the open message's "." its recipients
 * are unknown, and so are the next one's; a 421 to the next RCPT leaves
 * the open message's 250 standing. */
static void
test_open_421_mid_stream(void)
{
	struct server *s;
	struct smtp_config cfg;
	struct smtp_conn *c;
	struct smtp_reply r[2];
	GError *error = NULL;

	open_then_connection_lost("reply dot 421 4.3.2 shutting down\n", "421");
	s = server_start("rcpt shut@* 421 4.3.2 shutting down\n", NULL);
	cfg = config_for(s);
	c = connect_ok(&cfg);
	g_assert_cmpint(send_open(c, "a@example.com", message, &r[0], &error),
			==, 1);
	g_assert_cmpint(send_open(c, "shut@example.com", message, &r[1],
				  &error), ==, -1);
	g_clear_error(&error);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 0);
	g_assert_cmpuint(spool_count(s), ==, 1);
	replies_clear(r, 2);
	smtp_close(&c);
	server_stop(&s);
}

/* Without PIPELINING, and over LMTP, nothing is left open: lockstep as
 * before, every reply known on return. */
static void
open_never(const char *const *opts, gboolean lmtp)
{
	struct server *s = server_start(NULL, opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c;
	struct smtp_reply r[2];
	GError *error = NULL;

	cfg.lmtp = lmtp;
	c = connect_ok(&cfg);
	for (guint i = 0; i < 2; i++) {
		g_assert_cmpint(send_open(c, "a@example.com", message, &r[i],
					  &error), ==, 0);
		g_assert_no_error(error);
		g_assert_cmpint(r[i].code, ==, 250);
	}
	g_assert_cmpuint(spool_count(s), ==, 2);
	for (int no = 1; no <= 2; no++) {
		char *env = spool_file(s, no, "env", NULL);

		g_assert_cmpint(env_num(env, "dot-ahead"), ==, 0);
		g_assert_cmpint(env_num(env, "improper"), ==, 0);
		g_free(env);
	}
	replies_clear(r, 2);
	smtp_close(&c);
	server_stop(&s);
}

static void
test_open_never_without_pipelining(void)
{
	const char *opts[] = { "--no-pipelining", NULL };

	open_never(opts, FALSE);
}

static void
test_open_never_over_lmtp(void)
{
	const char *opts[] = { "--lmtp", NULL };

	open_never(opts, TRUE);
}

/* --- edge cases of the open transaction ----------------------------------- */

/* A message whose wire form before the "." is exactly want bytes (LF
 * lines, none starting with '.'). */
static char *
sized_message(size_t want)
{
	GString *m = g_string_new("Subject: c\n\n");
	size_t wire = m->len + 2;	/* two lines */

	while (want - wire > 200) {
		g_string_append_printf(m, "%078d\n", 0);
		wire += 80;
	}
	g_assert_cmpuint(want - wire, >=, 3);
	for (size_t i = 0; i < want - wire - 2; i++)
		g_string_append_c(m, 'b');
	g_string_append_c(m, '\n');
	return g_string_free(m, FALSE);
}

static void
test_open_chunk_edges(void)
{
	const size_t chunk = 256u << 10;
	const size_t sizes[] = { chunk - 3, chunk - 2, chunk - 1, chunk,
				 chunk + 1, 2 * chunk - 3, 100 };
	const guint n = G_N_ELEMENTS(sizes);
	struct server *s = server_start(NULL, NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	struct smtp_reply r[G_N_ELEMENTS(sizes)];
	char *msgs[G_N_ELEMENTS(sizes)];
	GError *error = NULL;

	for (guint i = 0; i < n; i++) {
		msgs[i] = sized_message(sizes[i]);
		g_assert_cmpint(send_open(c, "a@example.com", msgs[i], &r[i],
					  &error), ==, 1);
		g_assert_no_error(error);
	}
	g_assert_cmpint(smtp_settle(c, &error), ==, 0);
	g_assert_no_error(error);
	for (guint i = 0; i < n; i++) {
		char *msg = spool_file(s, (int)i + 1, "msg", NULL);

		g_assert_cmpint(r[i].code, ==, 250);
		g_assert_cmpstr(msg, ==, msgs[i]);
		g_free(msg);
		g_free(msgs[i]);
	}
	replies_clear(r, n);
	smtp_close(&c);
	server_stop(&s);
}

/* Open, then RSET; open, then an unsendable address; open, then a
 * message over SIZE; open, then a DATA refusal and RSET. */
static void
test_open_then_other_calls(void)
{
	const char *const opts[] = { "--size", "5000", NULL };
	struct server *s = server_start("rcpt refused@* 550 5.1.1 no\n", opts);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	struct smtp_reply r[2];
	GString *big = g_string_new("Subject: big\n\n");
	GError *error = NULL;

	while (big->len < 6000)
		g_string_append_printf(big, "%043d\n", 0);
	/* reset */
	g_assert_cmpint(send_open(c, "a@example.com", message,
				  &r[0], &error), ==, 1);
	g_assert_cmpint(smtp_reset(c, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	/* unsendable address */
	g_assert_cmpint(send_open(c, "a@example.com", message,
				  &r[0], &error), ==, 1);
	g_assert_cmpint(send_open(c, "bad<x>@example.com", message,
				  &r[1], &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 553);
	replies_clear(r, 2);
	/* over SIZE */
	g_assert_cmpint(send_open(c, "a@example.com", message,
				  &r[0], &error), ==, 1);
	g_assert_cmpint(send_open(c, "b@example.com", big->str,
				  &r[1], &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 552);
	replies_clear(r, 2);
	/* refused recipient, then RSET, then another open */
	g_assert_cmpint(send_open(c, "a@example.com", message,
				  &r[0], &error), ==, 1);
	g_assert_cmpint(send_open(c, "refused@example.com", message,
				  &r[1], &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_cmpint(r[1].code, ==, 550);
	replies_clear(r, 2);
	g_assert_cmpint(smtp_reset(c, &error), ==, 0);
	g_assert_cmpint(send_open(c, "a@example.com", message,
				  &r[0], &error), ==, 1);
	/* n == 0 settles */
	g_assert_cmpint(smtp_send(c, "s@example.org", NULL, 0, message,
				   strlen(message), NULL, NULL, &error), ==, 0);
	g_assert_cmpint(r[0].code, ==, 250);
	replies_clear(r, 1);
	g_assert_cmpuint(spool_count(s), ==, 5);
	g_string_free(big, TRUE);
	smtp_close(&c);
	server_stop(&s);
}

/* The server drops the connection partway into the held tail of a long
 * message: neither it nor the next one is claimed. */
static void
test_open_drop_in_held_tail(void)
{
	struct server *s = server_start("drop-data 600000\n", NULL);
	struct smtp_config cfg = config_for(s);
	struct smtp_conn *c = connect_ok(&cfg);
	GString *big = g_string_new("Subject: big\n\n");
	struct smtp_reply r[2];
	GError *error = NULL;
	int ret;

	for (guint i = 0; big->len < 700000; i++)
		g_string_append_printf(big, "line %u of a long message\n", i);
	ret = send_open(c, "a@example.com", big->str, &r[0], &error);
	note("first: %d %s", ret, error ? error->message : "");
	g_clear_error(&error);
	if (ret == 1) {
		ret = send_open(c, "b@example.com", message, &r[1], &error);
		note("second: %d %s", ret, error ? error->message : "");
		g_assert_cmpint(ret, ==, -1);
		g_clear_error(&error);
		g_assert_cmpint(r[1].code, ==, 0);
		replies_clear(r + 1, 1);
	}
	g_assert_cmpint(r[0].code, ==, 0);
	g_assert_cmpuint(spool_count(s), ==, 0);
	replies_clear(r, 1);
	smtp_close(&c);
	server_stop(&s);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "/smtp/plain-transaction-delivers",
		  test_plain_transaction_delivers },
		{ "/smtp/hundred-recipients-pipelined",
		  test_hundred_recipients_pipelined },
		{ "/smtp/hundred-recipients-lockstep",
		  test_hundred_recipients_lockstep },
		{ "/smtp/thousand-recipients-in-one-transaction",
		  test_thousand_recipients_in_one_transaction },
		{ "/smtp/long-pipelined-batch-does-not-deadlock",
		  test_long_pipelined_batch_does_not_deadlock },
		{ "/smtp/long-pipelined-batch-does-not-deadlock-tls",
		  test_long_pipelined_batch_does_not_deadlock_tls },
		{ "/smtp/smtputf8-when-needed-and-offered",
		  test_smtputf8_when_needed_and_offered },
		{ "/smtp/rcpt-codes-kept-pipelined",
		  test_rcpt_codes_kept_pipelined },
		{ "/smtp/rcpt-codes-kept-lockstep",
		  test_rcpt_codes_kept_lockstep },
		{ "/smtp/mail-refused-pipelined", test_mail_refused_pipelined },
		{ "/smtp/mail-refused-lockstep", test_mail_refused_lockstep },
		{ "/smtp/data-rejected-reaches-every-accepted-recipient",
		  test_data_rejected_reaches_every_accepted_recipient },
		{ "/smtp/data-command-refused", test_data_command_refused },
		{ "/smtp/data-250-is-out-of-step",
		  test_data_250_is_out_of_step },
		{ "/smtp/lmtp-drop-after-dot-gives-code-0",
		  test_lmtp_drop_after_dot_gives_code_0 },
		{ "/smtp/drop-during-data-gives-code-0",
		  test_drop_during_data_gives_code_0 },
		{ "/smtp/stall-at-rcpt-times-out",
		  test_stall_at_rcpt_times_out },
		{ "/smtp/stall-after-dot-times-out",
		  test_stall_after_dot_times_out },
		{ "/smtp/stall-at-greeting-fails-connect",
		  test_stall_at_greeting_fails_connect },
		{ "/smtp/not-listening-is-connect-error",
		  test_not_listening_is_connect_error },
		{ "/smtp/greeting-421-fails-with-code",
		  test_greeting_421_fails_with_code },
		{ "/smtp/greeting-554-fails-with-code",
		  test_greeting_554_fails_with_code },
		{ "/smtp/421-mid-transaction-ends-connection",
		  test_421_mid_transaction_ends_connection },
		{ "/smtp/dot-stuffing-and-line-ends",
		  test_dot_stuffing_and_line_ends },
		{ "/smtp/lmtp-per-recipient-replies",
		  test_lmtp_per_recipient_replies },
		{ "/smtp/lmtp-over-unix-socket", test_lmtp_over_unix_socket },
		{ "/smtp/open/dot-goes-with-next-mail",
		  test_open_dot_goes_with_next_mail },
		{ "/smtp/open/dot-goes-with-next-mail-tls",
		  test_open_dot_goes_with_next_mail_tls },
		{ "/smtp/open/long-message-arrives-whole",
		  test_open_long_message_arrives_whole },
		{ "/smtp/open/settled-by-close", test_open_settled_by_close },
		{ "/smtp/open/drop-after-dot", test_open_drop_after_dot },
		{ "/smtp/open/final-refusal-is-that-messages-only",
		  test_open_final_refusal_is_that_messages_only },
		{ "/smtp/open/next-rcpt-refused", test_open_next_rcpt_refused },
		{ "/smtp/open/421-mid-stream", test_open_421_mid_stream },
		{ "/smtp/open/never-without-pipelining",
		  test_open_never_without_pipelining },
		{ "/smtp/open/never-over-lmtp", test_open_never_over_lmtp },
		{ "/smtp/open/chunk-edges", test_open_chunk_edges },
		{ "/smtp/open/then-other-calls", test_open_then_other_calls },
		{ "/smtp/open/drop-in-held-tail", test_open_drop_in_held_tail },
		{ "/smtp/rset-then-second-transaction",
		  test_rset_then_second_transaction },
		{ "/smtp/recipient-accepted-after-n-failures",
		  test_recipient_accepted_after_n_failures },
		{ "/smtp/auth-plain-good", test_auth_plain_good },
		{ "/smtp/auth-plain-bad", test_auth_plain_bad },
		{ "/smtp/auth-login-good", test_auth_login_good },
		{ "/smtp/auth-login-bad", test_auth_login_bad },
		{ "/smtp/auth-required-but-not-configured",
		  test_auth_required_but_not_configured },
		{ "/smtp/auth-refused-without-tls-off-loopback",
		  test_auth_refused_without_tls_off_loopback },
		{ "/smtp/starttls-required-but-not-offered",
		  test_starttls_required_but_not_offered },
		{ "/smtp/starttls-then-auth", test_starttls_then_auth },
		{ "/smtp/opportunistic-tls-falls-back",
		  test_opportunistic_tls_falls_back },
		{ "/smtp/five-megabyte-message", test_five_megabyte_message },
		{ "/smtp/five-megabyte-message-tls",
		  test_five_megabyte_message_tls },
		{ "/smtp/size-limit-refuses-before-sending",
		  test_size_limit_refuses_before_sending },
		{ "/smtp/helo-when-ehlo-refused", test_helo_when_ehlo_refused },
		{ "/smtp/unsendable-addresses-get-553",
		  test_unsendable_addresses_get_553 },
		{ "/smtp/refused-connections-then-accept",
		  test_refused_connections_then_accept },
		{ "/smtp/server-stops-listening-after-max-connections",
		  test_server_stops_listening_after_max_connections },
		{ "/smtp/sendmail-command-exit-codes",
		  test_sendmail_command_exit_codes },
		{ "/smtp/sendmail-command-failures",
		  test_sendmail_command_failures },
	};

	return testutil_main_isolated(argc, argv, tests, G_N_ELEMENTS(tests));
}
