/*
 * test-lmtp-session.c - the LMTP session state machine
 * (src/lib/entry/lmtp_session.c) without a socket: transcripts, limits,
 * memory bounds, stops and timeouts, and what each recipient is answered.
 * fuzz/fuzz-lmtp.c checks the same invariants on random input.
 */
#include "testutil.h"
#include "base/base.h"
#include "entry/lmtp_session.h"

/* What the store callback saw, and what it is to answer. */
struct store_log {
	GPtrArray *msgs;	/* char *: "rcpt|sender|message" */
	int fail;		/* 0: store; else the HERALD_ERR_* to fail with */
};

static int
store_cb(void *ctx, const char *sender, const struct listaddr *rcpt,
	 const char *msg, size_t len, char **id_r, GError **error)
{
	struct store_log *log = ctx;

	if (log->fail != 0) {
		g_set_error(error, HERALD_ERROR, log->fail,
			    "refused\r\nX-Injected: yes");
		return -1;
	}
	g_ptr_array_add(log->msgs, g_strdup_printf("%s|%s|%.*s", rcpt->address,
						   sender, (int)len, msg));
	*id_r = g_strdup_printf("ID%u", log->msgs->len);
	return 0;
}

struct fixture {
	struct list_fixture lf;
	struct store_log log;
	struct lmtp_limits limits;
};

static void
fixture_init(struct fixture *f)
{
	site_fixture_init(&f->lf);
	list_free(&f->lf.list);
	f->lf.list = fixture_new_list(&f->lf, "demo@example.org");
	f->log.msgs = g_ptr_array_new_with_free_func(g_free);
	f->log.fail = 0;
	f->limits = (struct lmtp_limits){
		.max_message_size = 1024, .command_limit = 100,
		.error_limit = 5,
	};
}

static void
fixture_clear(struct fixture *f)
{
	g_ptr_array_free(f->log.msgs, TRUE);
	list_fixture_clear(&f->lf);
}

static char *feed(struct lmtp_session *s, const char *text, size_t step);

/* A session of f's, fed before (when not NULL) with its replies and the
 * greeting taken away. */
static struct lmtp_session *
session_new(struct fixture *f, const char *before)
{
	struct lmtp_session *s = lmtp_session_new(f->lf.site, "mx.test",
						  &f->limits, store_cb, &f->log);

	if (before != NULL)
		g_free(feed(s, before, 0));
	return s;
}

/* Feeds text in pieces of step bytes (0: all at once); returns the
 * output (taken from the session). */
static char *
feed(struct lmtp_session *s, const char *text, size_t step)
{
	size_t len = strlen(text);
	GString *out = lmtp_session_output(s);
	char *r;

	for (size_t i = 0; i < len;) {
		size_t n = step == 0 ? len : MIN(step, len - i);

		lmtp_session_feed(s, text + i, n);
		i += n;
	}
	r = g_strndup(out->str, out->len);
	g_string_truncate(out, 0);
	return r;
}

#define SESSION \
	"LHLO client.test\r\n" \
	"MAIL FROM:<alice@example.org> SIZE=100\r\n" \
	"RCPT TO:<demo@example.org>\r\n" \
	"RCPT TO:<nobody@example.org>\r\n" \
	"RCPT TO:<demo-request@example.org>\r\n" \
	"DATA\r\n" \
	"Subject: hi\r\n" \
	"\r\n" \
	"..stuffed\r\n" \
	"a\rb\r\n" \
	".\r\n" \
	"QUIT\r\n"

#define SESSION_REPLIES \
	"220 mx.test LMTP herald ready\r\n" \
	"250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n250 SIZE 1024\r\n" \
	"250 2.1.0 ok\r\n" \
	"250 2.1.5 ok\r\n" \
	"550 5.1.1 <nobody@example.org> no such list\r\n" \
	"250 2.1.5 ok\r\n" \
	"354 go ahead, end with <CRLF>.<CRLF>\r\n" \
	"250 2.0.0 <demo@example.org> stored as ID1\r\n" \
	"250 2.0.0 <demo-request@example.org> stored as ID2\r\n" \
	"221 2.0.0 mx.test bye\r\n"

/* A whole session gives the same replies and the same stored message
 * however its bytes are cut; the message is dot-unstuffed, CRLF made LF,
 * a lone CR kept. */
static void
test_transcript_whatever_the_reads(void)
{
	static const size_t steps[] = { 0, 1, 2, 3, 7, 100 };

	for (size_t i = 0; i < G_N_ELEMENTS(steps); i++) {
		struct fixture f;
		struct lmtp_session *s;
		char *head, *out;

		fixture_init(&f);
		s = session_new(&f, NULL);
		head = feed(s, "", 0);
		out = feed(s, SESSION, steps[i]);
		char *all = g_strconcat(head, out, NULL);
		g_assert_cmpstr(all, ==, SESSION_REPLIES);
		g_assert_cmpuint(f.log.msgs->len, ==, 2);
		g_assert_cmpstr(f.log.msgs->pdata[0], ==,
				"demo@example.org|alice@example.org|"
				"Subject: hi\n\n.stuffed\na\rb\n");
		g_assert_cmpint(lmtp_session_phase(s), ==, LMTP_PHASE_CLOSED);
		g_assert_cmpstr(lmtp_session_close_reason(s), ==, "QUIT");
		g_assert_cmpuint(lmtp_session_stored(s), ==, 2);
		g_free(all);
		g_free(head);
		g_free(out);
		lmtp_session_free(&s);
		fixture_clear(&f);
	}
}

/* The LHLO reply's five lines are in the output together after one
 * feed: the driver sends them in one write (no Nagle stall). */
static void
test_lhlo_reply_is_one_buffer(void)
{
	struct fixture f;
	struct lmtp_session *s;
	char *out;

	fixture_init(&f);
	s = session_new(&f, "");
	out = feed(s, "LHLO x\r\n", 0);
	g_assert_cmpstr(out, ==, "250-mx.test\r\n250-PIPELINING\r\n"
			"250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
			"250 SIZE 1024\r\n");
	g_free(out);
	lmtp_session_free(&s);
	fixture_clear(&f);
}

#define TXN "LHLO x\r\nMAIL FROM:<a@example.org>\r\n" \
	    "RCPT TO:<demo@example.org>\r\nDATA\r\n"

/* Feeds before, then chunks of 64 KiB of 'x' with no line feed (checking
 * that the session never holds more than a few KiB), then after; the
 * replies to after must be expected, and nothing may be stored. */
static void
endless_line(const char *before, int chunks, const char *after,
	     const char *expected)
{
	struct fixture f;
	struct lmtp_session *s;
	char *chunk = g_malloc(65536), *out;

	memset(chunk, 'x', 65536);
	fixture_init(&f);
	s = session_new(&f, before);
	for (int i = 0; i < chunks; i++) {
		lmtp_session_feed(s, chunk, 65536);
		g_assert_cmpuint(lmtp_session_memory(s), <, 16384);
	}
	out = feed(s, after, 0);
	g_assert_cmpstr(out, ==, expected);
	g_assert_cmpuint(f.log.msgs->len, ==, 0);
	g_free(out);
	g_free(chunk);
	lmtp_session_free(&s);
	fixture_clear(&f);
}

/* 10 MB without a line feed after DATA, limit 1 KiB: the final dot gets
 * 552, and the session goes on. */
static void
test_size_limit_applies_as_bytes_arrive(void)
{
	endless_line(TXN, 160, "\r\n.\r\nNOOP\r\n",
		     "552 5.3.4 <demo@example.org> message larger than 1024 "
		     "bytes\r\n250 2.0.0 ok\r\n");
}

/* A command line over LMTP_LINE_MAX: dropped as it comes, answered 500
 * at its line feed, and the session goes on. */
static void
test_long_command_line_is_answered_500(void)
{
	endless_line("", 16, "\r\nNOOP\r\n",
		     "500 5.5.2 line too long (limit 2048 bytes)\r\n"
		     "250 2.0.0 ok\r\n");
}

/* error_limit protocol errors: 421 and closed; an unknown list is no
 * error; a stored message starts the count again. */
static void
test_error_limit(void)
{
	struct fixture f;
	struct lmtp_session *s;
	char *out;

	fixture_init(&f);
	s = session_new(&f, "");
	out = feed(s, "BAD\r\nBAD\r\nBAD\r\nBAD\r\n"
		   "MAIL FROM:<a@example.org>\r\n"
		   "RCPT TO:<x@example.org>\r\nRCPT TO:<y@example.org>\r\n"
		   "RCPT TO:<demo@example.org>\r\nDATA\r\nS: 1\r\n\r\n.\r\n"
		   "BAD\r\nBAD\r\nBAD\r\nBAD\r\nBAD\r\nNOOP\r\n", 0);
	g_assert_true(g_str_has_suffix(out, "500 5.5.2 unknown command\r\n"
				       "421 4.7.0 mx.test too many errors, "
				       "closing\r\n"));
	g_assert_nonnull(strstr(out, "stored as ID1"));
	g_assert_cmpint(lmtp_session_phase(s), ==, LMTP_PHASE_CLOSED);
	g_assert_cmpstr(lmtp_session_close_reason(s), ==, "too many errors");
	g_free(out);
	lmtp_session_free(&s);
	fixture_clear(&f);
}

static void
test_command_limit(void)
{
	struct fixture f;
	struct lmtp_session *s;
	char *out;

	fixture_init(&f);
	f.limits.command_limit = 3;
	s = session_new(&f, "");
	out = feed(s, "NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n", 0);
	g_assert_cmpstr(out, ==, "250 2.0.0 ok\r\n250 2.0.0 ok\r\n"
			"250 2.0.0 ok\r\n421 4.7.0 mx.test too many commands, "
			"closing\r\n");
	g_assert_cmpstr(lmtp_session_close_reason(s), ==, "too many commands");
	g_free(out);
	lmtp_session_free(&s);
	fixture_clear(&f);
}

/* A stop while waiting for a command: 421 at once.  In DATA: the message
 * is finished, stored and answered, then 421. */
static void
test_drain(void)
{
	struct fixture f;
	struct lmtp_session *s;
	char *out;

	fixture_init(&f);
	s = session_new(&f, "LHLO x\r\n");
	lmtp_session_drain(s);
	out = feed(s, "NOOP\r\n", 0);
	g_assert_cmpstr(out, ==, "421 4.3.2 mx.test shutting down\r\n");
	g_assert_cmpstr(lmtp_session_close_reason(s), ==, "server stopping");
	g_free(out);
	lmtp_session_free(&s);

	s = session_new(&f, TXN "Subject: s\r\n");
	lmtp_session_drain(s);
	g_assert_cmpint(lmtp_session_phase(s), ==, LMTP_PHASE_DATA);
	out = feed(s, "\r\nbody\r\n.\r\nMAIL FROM:<a@example.org>\r\n", 0);
	g_assert_cmpstr(out, ==, "250 2.0.0 <demo@example.org> stored as ID1\r\n"
			"421 4.3.2 mx.test shutting down\r\n");
	g_assert_cmpuint(f.log.msgs->len, ==, 1);
	g_free(out);
	lmtp_session_free(&s);
	fixture_clear(&f);
}

/* A stop that cannot wait, a timeout, a lost connection in DATA: nothing
 * of the message is stored. */
static void
test_cut_short_in_data_stores_nothing(void)
{
	for (int how = 0; how < 3; how++) {
		struct fixture f;
		struct lmtp_session *s;
		char *out;

		fixture_init(&f);
		s = session_new(&f, TXN "Subject: s\r\n\r\nbody\r\n");
		if (how == 0)
			lmtp_session_stop(s);
		else if (how == 1)
			lmtp_session_timeout(s);
		else
			lmtp_session_eof(s);
		out = feed(s, ".\r\n", 0);
		g_assert_cmpstr(out, ==, how == 0 ? "421 4.3.2 mx.test shutting down\r\n"
				: how == 1 ? "421 4.4.2 mx.test DATA timeout, closing\r\n"
				: "");
		g_assert_cmpuint(f.log.msgs->len, ==, 0);
		g_assert_cmpint(lmtp_session_phase(s), ==, LMTP_PHASE_CLOSED);
		g_free(out);
		lmtp_session_free(&s);
		fixture_clear(&f);
	}
}

/* The store's failures: 451 for a temporary one, 554 for a refusal (its
 * reason in the reply, control characters made harmless); MAIL with a
 * SIZE over the limit gets 552 at once. */
static void
test_store_failures_and_size_param(void)
{
	struct fixture f;
	struct lmtp_session *s;
	char *out;

	fixture_init(&f);
	s = session_new(&f, "");
	f.log.fail = HERALD_ERR_IO;
	out = feed(s, TXN ".\r\n", 0);
	g_assert_true(g_str_has_suffix(out, "451 4.3.0 <demo@example.org> "
				       "temporary failure, try again later\r\n"));
	g_free(out);
	f.log.fail = HERALD_ERR_FORMAT;
	out = feed(s, "MAIL FROM:<a@example.org>\r\nRCPT TO:<demo@example.org>\r\n"
		   "DATA\r\n.\r\n", 0);
	g_assert_true(g_str_has_suffix(out, "554 5.6.0 <demo@example.org> "
				       "message refused: refused??X-Injected: "
				       "yes\r\n"));
	g_free(out);
	out = feed(s, "MAIL FROM:<a@example.org> SIZE=2000\r\n", 0);
	g_assert_cmpstr(out, ==, "552 5.3.4 message larger than 1024 bytes\r\n");
	g_free(out);
	out = feed(s, "RCPT TO:<demo\x01@example.org>\r\n", 0);
	g_assert_cmpstr(out, ==, "500 5.5.2 control character in command\r\n");
	g_free(out);
	lmtp_session_free(&s);
	fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/lmtp-session/transcript-whatever-the-reads",
	  test_transcript_whatever_the_reads },
	{ "/lmtp-session/lhlo-reply-is-one-buffer", test_lhlo_reply_is_one_buffer },
	{ "/lmtp-session/size-limit-applies-as-bytes-arrive",
	  test_size_limit_applies_as_bytes_arrive },
	{ "/lmtp-session/long-command-line-is-answered-500",
	  test_long_command_line_is_answered_500 },
	{ "/lmtp-session/error-limit", test_error_limit },
	{ "/lmtp-session/command-limit", test_command_limit },
	{ "/lmtp-session/drain", test_drain },
	{ "/lmtp-session/cut-short-in-data-stores-nothing",
	  test_cut_short_in_data_stores_nothing },
	{ "/lmtp-session/store-failures-and-size-param",
	  test_store_failures_and_size_param },
};

UNIT_TEST_MAIN(tests)
