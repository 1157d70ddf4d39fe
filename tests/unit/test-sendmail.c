/*
 * test-sendmail.c - unit tests for sendmail.c's timeout: a command that
 * hangs is killed, with what it started, and its recipients are left
 * unanswered (code 0: retried), never lost and never a hung runner; a slow
 * command that keeps reading is not killed.
 *
 * The commands are small shell scripts written for each test.  The exit
 * statuses, the arguments and the message on standard input are tested
 * in test-smtp.c (through smtp_sendmail_command, the old name).
 */
#include "base/base.h"
#include "deliver/sendmail.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define TIMEOUT_MS 500

/* DIR/sendmail holding body after a "#!/bin/sh" line; "DIR" in body
 * becomes dir. */
static char *
script_new(const char *dir, const char *body)
{
	char *path = g_build_filename(dir, "sendmail", NULL);
	GString *script = g_string_new("#!/bin/sh\n");

	g_string_append(script, body);
	g_string_replace(script, "DIR", dir, 0);
	g_assert_true(g_file_set_contents(path, script->str, -1, NULL));
	g_assert_cmpint(chmod(path, 0755), ==, 0);
	g_string_free(script, TRUE);
	return path;
}

/* A message of about size bytes, in lines. */
static char *
message_of(size_t size)
{
	GString *m = g_string_new("From: list-bounces@example.org\n"
				  "Subject: for a slow command\n\n");

	for (guint i = 0; m->len < size; i++)
		g_string_append_printf(m, "line %u of the body\n", i);
	return g_string_free(m, FALSE);
}

/* Whether process pid is gone (or a zombie, dead but not yet reaped by
 * whoever inherited it), waiting up to 2 s for it. */
static gboolean
process_gone(pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
		char *stat = NULL;
		gboolean gone = !g_file_get_contents(path, &stat, NULL, NULL);
		const char *paren = stat != NULL ? strrchr(stat, ')') : NULL;

		if (!gone && paren != NULL && paren[1] == ' ' && paren[2] == 'Z')
			gone = TRUE;
		g_free(path);
		g_free(stat);
		if (gone)
			return TRUE;
		g_usleep(10000);
	}
	return FALSE;
}

/* The process whose pid the command wrote to DIR/name is gone. */
static void
assert_pid_file_gone(const char *dir, const char *name)
{
	char *path = g_build_filename(dir, name, NULL);
	char *got = NULL;

	g_assert_true(g_file_get_contents(path, &got, NULL, NULL));
	if (got != NULL)
		g_assert_true(process_gone((pid_t)atoi(got)));
	g_free(got);
	g_free(path);
}

/* sendmail_send of msg from s@example.org to rcpts (NULL-terminated)
 * through the command at path, with TIMEOUT_MS; *took_r gets the
 * seconds it took. */
static int
send_timed(const char *path, const char *const *rcpts, const char *msg,
	   struct smtp_reply *r, double *took_r, GError **error)
{
	const char *argv[] = { path, NULL };
	gint64 t0 = g_get_monotonic_time();
	int ret = sendmail_send(argv, TIMEOUT_MS, "s@example.org", rcpts,
				g_strv_length((char **)rcpts), msg,
				strlen(msg), r, error);

	*took_r = (double)(g_get_monotonic_time() - t0) / 1e6;
	return ret;
}

/* A command that first does reading (shell lines; "" for nothing), then
 * starts a child that sleeps for an hour and waits for it, both pids
 * written down.  Run with TIMEOUT_MS on a message of about size bytes
 * for two recipients, it must be killed for the timeout, why named in
 * the error, neither recipient answered (code 0: retried), neither
 * process left running, and no more than a few seconds lost.  With
 * reading, what it read must be the whole message. */
static void
hung_case(const char *reading, size_t size, const char *why)
{
	char *dir = tmp_dir_new();
	char *body = g_strconcat(reading,
				 "echo $$ > 'DIR/sh.pid'\n"
				 "sleep 3600 &\n"
				 "echo $! > 'DIR/sleep.pid'\n"
				 "wait\n", NULL);
	char *path = script_new(dir, body);
	char *msg = message_of(size), *got = NULL;
	const char *rcpts[] = { "a@example.com", "b@example.net", NULL };
	struct smtp_reply r[2];
	GError *error = NULL;
	double took;

	g_assert_cmpint(send_timed(path, rcpts, msg, r, &took, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT);
	if (error != NULL) {
		g_test_message("%.2f s: %s", took, error->message);
		g_assert_nonnull(strstr(error->message, why));
		g_assert_nonnull(strstr(error->message, "killed"));
	}
	g_clear_error(&error);
	g_assert_cmpint(r[0].code, ==, 0);
	g_assert_cmpint(r[1].code, ==, 0);
	g_assert_null(r[0].text);
	g_assert_cmpfloat(took, >=, TIMEOUT_MS / 1000.0);
	g_assert_cmpfloat(took, <, 5.0);
	assert_pid_file_gone(dir, "sh.pid");
	assert_pid_file_gone(dir, "sleep.pid");
	if (*reading != '\0') {
		char *stdin_file = g_build_filename(dir, "stdin", NULL);

		g_assert_true(g_file_get_contents(stdin_file, &got, NULL, NULL));
		g_assert_cmpstr(got, ==, msg);
		g_free(stdin_file);
	}
	g_free(got);
	g_free(msg);
	g_free(path);
	g_free(body);
	tmp_dir_remove(&dir);
}

/* The command reads the message, then hangs: killed after the timeout
 * for its exit, with its child. */
static void
test_command_that_hangs_after_reading_is_killed(void)
{
	hung_case("cat > 'DIR/stdin'\n", 1000, "waiting for it to exit");
}

/* The command never reads, and the message is more than a pipe holds:
 * the write cannot finish, and the command is killed after the timeout
 * without progress, with its child. */
static void
test_command_that_never_reads_is_killed(void)
{
	hung_case("", 1 << 20, "writing the message to its standard input");
}

/* The command reads 64 KiB at a time with a pause between: in all it
 * takes several timeouts, but bytes keep going in, so it is not killed,
 * and it gets the whole message. */
static void
test_slow_command_that_keeps_reading_is_not_killed(void)
{
	char *dir = tmp_dir_new();
	char *path = script_new(dir,
				": > 'DIR/stdin'\n"
				"while :; do\n"
				"  n=$(dd bs=65536 count=1 status=none |\n"
				"      tee -a 'DIR/stdin' | wc -c)\n"
				"  [ \"$n\" -gt 0 ] || break\n"
				"  sleep 0.2\n"
				"done\n"
				"echo slow but done\n");
	char *stdin_file = g_build_filename(dir, "stdin", NULL);
	const char *rcpts[] = { "a@example.com", NULL };
	char *msg = message_of(512 << 10), *got = NULL;
	struct smtp_reply r[1];
	GError *error = NULL;
	double took;

	g_assert_cmpint(send_timed(path, rcpts, msg, r, &took, &error), ==, 0);
	g_assert_no_error(error);
	g_test_message("%.2f s (timeout %d ms): %d %s", took, TIMEOUT_MS,
		       r[0].code, r[0].text);
	g_assert_cmpfloat(took, >, 2 * TIMEOUT_MS / 1000.0);
	g_assert_cmpint(r[0].code, ==, 250);
	g_assert_nonnull(strstr(r[0].text, "slow but done"));
	g_assert_true(g_file_get_contents(stdin_file, &got, NULL, NULL));
	g_assert_cmpstr(got, ==, msg);
	smtp_reply_clear(&r[0]);
	g_free(got);
	g_free(msg);
	g_free(stdin_file);
	g_free(path);
	tmp_dir_remove(&dir);
}

static const struct unit_test tests[] = {
	{ "/sendmail/command-that-hangs-after-reading-is-killed",
	  test_command_that_hangs_after_reading_is_killed },
	{ "/sendmail/command-that-never-reads-is-killed",
	  test_command_that_never_reads_is_killed },
	{ "/sendmail/slow-command-that-keeps-reading-is-not-killed",
	  test_slow_command_that_keeps_reading_is_not_killed },
};

UNIT_TEST_MAIN(tests)
