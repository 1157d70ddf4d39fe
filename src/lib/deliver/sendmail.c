/*
 * sendmail.c - the sendmail command transport (see sendmail.h).
 *
 * The command runs without a shell (g_spawn), so no address is ever
 * parsed by one, and "--" ends the options, so an address that starts
 * with "-" is not taken for one.  It runs in a process group of its own:
 * a hung command is killed with whatever it started (a wrapper script's
 * children, Postfix's postdrop), which would otherwise live on and hold
 * its output pipe.
 *
 * The message goes to its standard input through a non-blocking pipe
 * while its output (standard output and error share one pipe, so the text
 * is what it said in the order it said it) is read: a command that fills
 * its output pipe before it has read all of its input would otherwise
 * wait for us while we wait for it.  Pipes have no MSG_NOSIGNAL, so
 * SIGPIPE is blocked around the writes, and one we raised is taken back;
 * a command that stops reading early must not kill the runner.
 *
 * Every wait is one poll() against a deadline (sendmail.h says which), so
 * a hung command costs one timeout.
 */
#include "deliver/sendmail.h"
#include "base/base.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SENDMAIL_SUBSYS "smtp"		/* the MTA client's log, as SMTP's */
#define SENDMAIL_OUTPUT_MAX 8192	/* command output kept as the text */
#define SENDMAIL_EXIT_POLL_MS 50	/* how often to look for the exit */

/* One run of the command. */
struct child {
	const char *name;	/* argv[0], for messages */
	GPid pid;
	int fd_in;		/* its standard input; -1 once done with */
	int fd_out;		/* its standard output and error */
	gboolean out_open;	/* fd_out has not reached its end */
	gboolean exited;	/* reaped: status is its wait status */
	int status;
	const char *data;	/* the message; off bytes of it written */
	size_t len, off;
	gboolean epipe;		/* it stopped reading before the end */
	GString *output;	/* what it said, at most SENDMAIL_OUTPUT_MAX */
	int timeout_ms;
	gint64 deadline;	/* monotonic time the command must move by */
};

static void
close_logged(int *fdp, const char *what)
{
	if (*fdp >= 0 && close(*fdp) < 0)
		log_warning(SENDMAIL_SUBSYS, "close(%s) failed: %s", what,
			    g_strerror(errno));
	*fdp = -1;
}

/* Kills the command with its process group and reaps it. */
static void
child_kill(struct child *ch)
{
	if (kill(-ch->pid, SIGKILL) < 0)
		kill(ch->pid, SIGKILL);
	while (waitpid(ch->pid, &ch->status, 0) < 0 && errno == EINTR)
		;
	ch->exited = TRUE;
}

/* Run in the child before exec: a process group of its own, so that
 * child_kill reaches whatever it starts. */
static void
child_new_group(gpointer unused)
{
	(void)unused;
	(void)setpgid(0, 0);
}

/* Starts argv with the envelope appended; ch gets its pid and pipes. */
static int
child_spawn(struct child *ch, const char *const *argv, const char *sender,
	    const char *const *rcpts, guint n, GError **error)
{
	GPtrArray *args = g_ptr_array_new();
	int pipefd[2] = { -1, -1 };
	int ret = -1;

	for (guint i = 0; argv[i] != NULL; i++)
		g_ptr_array_add(args, (char *)argv[i]);
	g_ptr_array_add(args, "-i");
	g_ptr_array_add(args, "-f");
	g_ptr_array_add(args, (char *)sender);
	g_ptr_array_add(args, "--");
	for (guint i = 0; i < n; i++)
		g_ptr_array_add(args, (char *)rcpts[i]);
	g_ptr_array_add(args, NULL);
	if (!g_unix_open_pipe(pipefd, FD_CLOEXEC, error))
		goto out;
	if (!g_spawn_async_with_pipes_and_fds(
		NULL, (const char *const *)args->pdata, NULL,
		G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
		child_new_group, NULL, -1, pipefd[1], pipefd[1], NULL, NULL, 0,
		&ch->pid, &ch->fd_in, NULL, NULL, error)) {
		g_prefix_error(error, "running %s: ", argv[0]);
		goto out;
	}
	ch->fd_out = pipefd[0];
	pipefd[0] = -1;
	ch->out_open = TRUE;
	if (close(pipefd[1]) < 0) {
		set_errno_error(error, "close(sendmail output pipe)");
		pipefd[1] = -1;
		close_logged(&ch->fd_in, "sendmail stdin");
		child_kill(ch);
		goto out;
	}
	pipefd[1] = -1;
	ret = 0;
out:
	close_logged(&pipefd[0], "sendmail pipe");
	close_logged(&pipefd[1], "sendmail pipe");
	g_ptr_array_free(args, TRUE);
	return ret;
}

/* Done with its standard input: what it has not read it never will, and
 * it now has the timeout to exit. */
static int
child_input_done(struct child *ch, GError **error)
{
	int r = close(ch->fd_in);

	ch->fd_in = -1;
	ch->deadline = g_get_monotonic_time() + (gint64)ch->timeout_ms * 1000;
	if (r < 0 && errno != EPIPE) {
		set_errno_error(error, "close(sendmail stdin)");
		return -1;
	}
	return 0;
}

/* One write to its standard input; bytes going in restart the clock. */
static int
child_feed(struct child *ch, GError **error)
{
	ssize_t w = write(ch->fd_in, ch->data + ch->off, ch->len - ch->off);

	if (w > 0) {
		ch->off += (size_t)w;
		ch->deadline = g_get_monotonic_time() +
			       (gint64)ch->timeout_ms * 1000;
	} else if (w < 0 && errno == EPIPE) {
		ch->epipe = TRUE;
	} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
		set_errno_error(error, "write(sendmail stdin)");
		return -1;
	}
	if (ch->off == ch->len || ch->epipe)
		return child_input_done(ch, error);
	return 0;
}

/* One read of its output, kept up to SENDMAIL_OUTPUT_MAX.  1 when
 * something was read, 0 when nothing was there or the pipe ended, -1 on
 * an error. */
static int
child_collect(struct child *ch, GError **error)
{
	char buf[4096];
	ssize_t k;

	if (!ch->out_open)
		return 0;
	k = read(ch->fd_out, buf, sizeof buf);
	if (k > 0) {
		if (ch->output->len < SENDMAIL_OUTPUT_MAX)
			g_string_append_len(ch->output, buf,
					    MIN((size_t)k, SENDMAIL_OUTPUT_MAX -
								ch->output->len));
		return 1;
	}
	if (k == 0)
		ch->out_open = FALSE;
	else if (errno != EAGAIN && errno != EINTR) {
		set_errno_error(error, "read(sendmail output)");
		return -1;
	}
	return 0;
}

/* The deadline passed: the command is killed, its fate unknown. */
static int
child_timed_out(struct child *ch, GError **error)
{
	const char *what = ch->fd_in >= 0
				   ? "writing the message to its standard input"
				   : "waiting for it to exit";

	child_kill(ch);
	log_warning(SENDMAIL_SUBSYS, "%s: no progress within %d ms (%s); "
		    "killed", ch->name, ch->timeout_ms, what);
	g_set_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT,
		    "no progress within %d ms (%s); killed", ch->timeout_ms,
		    what);
	return -1;
}

/* Feeds the message and collects the output until the command exits or
 * the deadline passes. */
static int
child_run(struct child *ch, GError **error)
{
	if (fcntl(ch->fd_in, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(ch->fd_out, F_SETFL, O_NONBLOCK) < 0) {
		set_errno_error(error, "fcntl(O_NONBLOCK) on a pipe");
		return -1;
	}
	ch->deadline = g_get_monotonic_time() + (gint64)ch->timeout_ms * 1000;
	if (ch->len == 0 && child_input_done(ch, error) < 0)
		return -1;
	while (!ch->exited) {
		struct pollfd p[2];
		nfds_t np = 0;
		gint64 left = ch->deadline - g_get_monotonic_time();
		int r, ms;

		if (left <= 0)
			return child_timed_out(ch, error);
		ms = (int)MIN((left + 999) / 1000, (gint64)INT_MAX);
		if (ch->fd_in >= 0)
			p[np++] = (struct pollfd){ .fd = ch->fd_in,
						   .events = POLLOUT };
		else
			/* Only its exit is left to wait for, and stdout may
			 * stay open (closed, or a child of its holding it):
			 * poll as a sleep. */
			ms = MIN(ms, SENDMAIL_EXIT_POLL_MS);
		if (ch->out_open)
			p[np++] = (struct pollfd){ .fd = ch->fd_out,
						   .events = POLLIN };
		r = poll(p, np, ms);
		if (r < 0 && errno != EINTR) {
			set_errno_error(error, "poll(sendmail pipes)");
			return -1;
		}
		if (ch->fd_in >= 0 && r > 0 && p[0].revents != 0 &&
		    child_feed(ch, error) < 0)
			return -1;
		if (child_collect(ch, error) < 0)
			return -1;
		if (ch->fd_in < 0) {
			pid_t w = waitpid(ch->pid, &ch->status, WNOHANG);

			if (w == ch->pid)
				ch->exited = TRUE;
			else if (w < 0 && errno != EINTR) {
				set_errno_error(error, "waitpid(%d)",
						(int)ch->pid);
				return -1;
			}
		}
	}
	/* What it wrote just before it exited. */
	while (child_collect(ch, NULL) > 0)
		;
	return 0;
}

/* child_run with SIGPIPE blocked, and one raised by our writes taken
 * back; the command is never left running (nor unreaped) on a failure. */
static int
child_run_nosigpipe(struct child *ch, GError **error)
{
	sigset_t pipe_set, old_set, pending;
	gboolean had_pipe;
	int ret;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	sigpending(&pending);
	had_pipe = sigismember(&pending, SIGPIPE);
	ret = child_run(ch, error);
	close_logged(&ch->fd_in, "sendmail stdin");
	if (!ch->exited) {
		/* An I/O failure here: do not leave the command behind. */
		child_kill(ch);
	}
	if (ch->epipe && !had_pipe) {
		struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 &&
		       errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	return ret;
}

/* The verdict on every recipient from how the command ended. */
static char *
child_verdict(struct child *ch, int *code_r)
{
	const char *out = ch->output->str, *sep = *out != '\0' ? ": " : "";
	int st = ch->status;

	if (WIFSIGNALED(st)) {
		*code_r = 451;
		return g_strdup_printf("4.3.0 %s killed by signal %d%s%s",
				       ch->name, WTERMSIG(st), sep, out);
	}
	if (WEXITSTATUS(st) == 0 && ch->off < ch->len) {
		*code_r = 451;
		return g_strdup_printf("4.3.0 %s exited before reading the "
				       "whole message", ch->name);
	}
	if (WEXITSTATUS(st) == 0) {
		*code_r = 250;
		return g_strdup_printf("2.0.0 accepted by %s%s%s", ch->name,
				       sep, out);
	}
	if (WEXITSTATUS(st) == HERALD_EX_TEMPFAIL) {
		*code_r = 451;
		return g_strdup_printf("4.3.0 %s exited with status 75%s%s",
				       ch->name, sep, out);
	}
	*code_r = 550;
	return g_strdup_printf("5.3.0 %s exited with status %d%s%s", ch->name,
			       WEXITSTATUS(st), sep, out);
}

int
sendmail_send(const char *const *argv, int timeout_ms, const char *sender,
	      const char *const *rcpts, guint n, const char *data, size_t len,
	      struct smtp_reply *replies, GError **error)
{
	struct child ch = {
		.name = argv[0], .fd_in = -1, .fd_out = -1, .data = data,
		.len = len, .output = g_string_new(NULL),
		.timeout_ms = timeout_ms > 0 ? timeout_ms
					     : SMTP_DEFAULT_TIMEOUT_MS,
	};
	char *text;
	int code, ret = -1;

	memset(replies, 0, sizeof *replies * n);
	if (child_spawn(&ch, argv, sender, rcpts, n, error) < 0)
		goto out;
	if (child_run_nosigpipe(&ch, error) < 0) {
		g_prefix_error(error, "%s: ", argv[0]);
		goto out;
	}
	g_strstrip(ch.output->str);
	ch.output->len = strlen(ch.output->str);
	text = child_verdict(&ch, &code);
	for (guint i = 0; i < n; i++) {
		replies[i].code = code;
		replies[i].text = g_strdup(text);
	}
	g_free(text);
	ret = 0;
out:
	close_logged(&ch.fd_out, "sendmail pipe");
	g_string_free(ch.output, TRUE);
	return ret;
}

int
smtp_sendmail_command(const char *const *argv, const char *sender,
		      const char *const *rcpts, guint n, const char *data,
		      size_t len, struct smtp_reply *replies, GError **error)
{
	return sendmail_send(argv, 0, sender, rcpts, n, data, len, replies,
			     error);
}
