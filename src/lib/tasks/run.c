/*
 * run.c - running a task: its schedule, its lock, its child process and
 * the state it leaves.  The protocol, and why it runs a slot once across
 * hosts, is at the top of tasks.h.
 *
 * The task works in a child process while this one keeps the task's lock
 * alive (a refresh every third of its lifetime): the task needs no
 * progress callback however long it takes, and a task that crashes is a
 * failed run, not a dead scheduler.  The child dies with its parent
 * (PR_SET_PDEATHSIG), so it never works on without the lock: when the
 * parent is gone, nobody refreshes the lock, another host may take it,
 * and the child must not be running then.
 */
#include "tasks/tasks.h"
#include "base/base.h"
#include "base/log.h"
#include "store/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Most bytes of summary and error a child may hand back. */
#define CHILD_OUTPUT_MAX 65536

struct task_run {
	char *message;		/* task_run_message() */
};

void
task_run_message(struct task_run *ctx, const char *fmt, ...)
{
	va_list ap;

	g_free(ctx->message);
	va_start(ap, fmt);
	ctx->message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

char *
task_time_text(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[64];

	if (t <= 0 || localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return g_strdup("-");
	return g_strdup(buf);
}

int
task_schedule(struct site *site, const struct task *t, struct schedule *s,
	      char **spec_r, GError **error)
{
	char *key = g_strdup_printf("schedule.%s", t->name);
	char *value = site_get(site, key, error);
	int ret = -1;

	if (value != NULL) {
		const char *spec = *value != '\0' ? value : t->default_schedule;

		ret = schedule_parse(spec, s, error);
		if (ret < 0)
			g_prefix_error(error, "%s: ", key);
		else if (spec_r != NULL)
			*spec_r = schedule_format(s);
	}
	g_free(value);
	g_free(key);
	return ret;
}

int
task_server_now(struct site *site, int64_t *now_r, GError **error)
{
	char *dir = site_path(site, "locks", NULL);
	int ret = lock_server_now(dir, now_r, error);

	g_free(dir);
	return ret;
}

/* The lock of t: locks/task-<name>, lasting lifetime_ms. */
static struct lock *
task_lock_for(struct site *site, const struct task *t, int64_t lifetime_ms)
{
	char *dir = site_path(site, "locks", NULL);
	char *name = g_strdup_printf("task-%s", t->name);
	struct lock *l = lock_new(dir, name, lifetime_ms);

	g_free(name);
	g_free(dir);
	return l;
}

/* The lock of a run, lasting master.lease_lifetime (a dead host's task is
 * given up as late as its queue slices). */
static struct lock *
task_lock_new(struct site *site, const struct task *t)
{
	return task_lock_for(site, t, site_get_int(site, "master.lease_lifetime")
				      * 1000);
}

struct lock *
task_lock_hold(struct site *site, const struct task *t, int64_t lifetime_ms,
	       int64_t wait_ms, GError **error)
{
	struct lock *l = task_lock_for(site, t, lifetime_ms);

	if (lock_acquire(l, wait_ms, error) < 0) {
		lock_free(&l);
		g_prefix_error(error, "task %s is running (it holds its lock): ",
			       t->name);
		return NULL;
	}
	return l;
}

static void
set_text(char **field, char *value)
{
	g_free(*field);
	*field = value;
}

/* st says "running", and we hold the lock: its holder died or lost the
 * lock before it recorded an end.  The slot is given up, not run again. */
static int
abandon(struct site *site, const struct task *t, struct task_state *st,
	int64_t now_us, GError **error)
{
	char *slot = task_time_text(st->slot);

	log_error(TASKS_SUBSYS, "task %s: the %s run of slot %" G_GINT64_FORMAT
		  " (%s) on host %s (pid %" G_GINT64_FORMAT ") did not finish "
		  "(that host died or lost the task's lock): marked abandoned "
		  "and not run again; the next slot runs as usual, `herald "
		  "tasks run %s` runs it now", t->name,
		  st->manual ? "manual" : "scheduled", st->slot, slot, st->host,
		  st->pid, t->name);
	set_text(&st->outcome, g_strdup(TASK_ABANDONED));
	set_text(&st->message, g_strdup_printf(
		"host %s (pid %" G_GINT64_FORMAT ") did not finish it: the "
		"host died or lost the task's lock", st->host, st->pid));
	st->ended = now_us / G_USEC_PER_SEC;
	g_free(slot);
	return task_state_write(site, t->name, st, error);
}

/* Takes t's lock and reads its state (*state_r NULL: never ran); a run
 * left "running" is abandoned first.  1 with the lock, 0 when another
 * process holds it, -1 on error. */
static int
take(struct site *site, const struct task *t, int64_t now_us,
     struct lock **lock_r, struct task_state **state_r, GError **error)
{
	struct lock *l = task_lock_new(site, t);
	struct task_state *st = NULL;
	GError *local = NULL;
	int r = lock_try(l, error);

	if (r <= 0) {
		lock_free(&l);
		return r;
	}
	if (task_state_read(site, t->name, &st, &local) < 0) {
		if (!g_error_matches(local, HERALD_ERROR, HERALD_ERR_FORMAT)) {
			g_propagate_error(error, local);
			lock_free(&l);
			return -1;
		}
		/* A damaged state must not stop the task for good. */
		log_warning(TASKS_SUBSYS, "task %s: %s; taken as never run",
			    t->name, local->message);
		g_clear_error(&local);
	}
	if (st != NULL && strcmp(st->outcome, TASK_RUNNING) == 0 &&
	    abandon(site, t, st, now_us, error) < 0) {
		task_state_free(&st);
		lock_free(&l);
		return -1;
	}
	*lock_r = l;
	*state_r = st;
	return 1;
}

/* The task's process: runs it and hands back "summary\0error". */
static void G_GNUC_NORETURN
child_main(struct site *site, const struct task *t, int fd, pid_t parent)
{
	struct task_run ctx = { NULL };
	unsigned nap = (unsigned)site_get_int(site, "schedule.debug_sleep");
	GError *error = NULL;
	GString *out;
	sigset_t none;
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	while (nap > 0)		/* schedule.debug_sleep: a test aid */
		nap = sleep(nap);
	r = t->run(site, &ctx, &error);
	out = g_string_new(ctx.message != NULL ? ctx.message : "");
	g_string_append_c(out, '\0');
	if (r < 0)
		g_string_append(out, error != NULL ? error->message
				     : "the task gave no reason");
	(void)fs_write_all(fd, out->str, out->len, "the task's pipe", NULL);
	_exit(r < 0 ? 1 : 0);
}

/* text on one line, for the log and the state: control characters
 * become spaces (in place). */
static char *
one_line(char *text)
{
	for (char *c = text; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	return text;
}

/* What the child's exit and output say, in st (outcome, message). */
static void
judge(struct task_state *st, int status, gboolean stopped, GString *out)
{
	char *nul = memchr(out->str, '\0', out->len);
	const char *why = "";

	if (nul != NULL)
		why = one_line(nul + 1);
	set_text(&st->message, g_strdup(one_line(out->str)));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		set_text(&st->outcome, g_strdup(TASK_OK));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
		set_text(&st->outcome, g_strconcat(TASK_FAILED_PREFIX, why, NULL));
	else if (stopped)
		set_text(&st->outcome, g_strdup(TASK_FAILED_PREFIX "interrupted "
						"(SIGTERM) before it finished"));
	else if (WIFSIGNALED(status))
		set_text(&st->outcome, g_strdup_printf(
			TASK_FAILED_PREFIX "killed by signal %d (%s)",
			WTERMSIG(status), strsignal(WTERMSIG(status))));
	else
		set_text(&st->outcome, g_strdup_printf(
			TASK_FAILED_PREFIX "exited with status %d",
			WEXITSTATUS(status)));
}

/*
 * Runs t in a child while refreshing l; fills st's outcome and message.
 * 0 when the run ended (whatever its outcome), -1 when the lock was lost
 * meanwhile: the child is killed and there is nothing to record.
 */
static int
execute(struct site *site, const struct task *t, struct lock *l,
	const struct task_watch *w, struct task_state *st, GError **error)
{
	int64_t refresh_us = site_get_int(site, "master.lease_lifetime") *
			     G_USEC_PER_SEC / 3;
	int64_t next_refresh = g_get_monotonic_time() + refresh_us, kill_at = 0;
	pid_t parent = getpid(), pid;
	gboolean stopped = FALSE, eof = FALSE;
	GString *out;
	int fds[2], status = 0;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		set_text(&st->outcome, g_strdup_printf(TASK_FAILED_PREFIX
			 "pipe: %s", g_strerror(errno)));
		return 0;
	}
	if ((pid = fork()) < 0) {
		set_text(&st->outcome, g_strdup_printf(TASK_FAILED_PREFIX
			 "fork: %s", g_strerror(errno)));
		close(fds[0]);
		close(fds[1]);
		return 0;
	}
	if (pid == 0) {
		close(fds[0]);
		child_main(site, t, fds[1], parent);
	}
	close(fds[1]);
	out = g_string_new(NULL);
	while (!eof) {
		struct pollfd pfd[2] = {
			{ .fd = fds[0], .events = POLLIN },
			{ .fd = w != NULL ? w->fd : -1, .events = POLLIN },
		};
		int64_t now = g_get_monotonic_time();
		int64_t until = kill_at != 0 && kill_at < next_refresh
				? kill_at : next_refresh;
		char buf[4096];
		ssize_t n;

		(void)poll(pfd, 2, until > now ? (int)((until - now) / 1000) + 1 : 0);
		if (pfd[0].revents != 0) {
			n = read(fds[0], buf, sizeof buf);
			if (n > 0 && out->len < CHILD_OUTPUT_MAX)
				g_string_append_len(out, buf, n);
			else if (n == 0 || (n < 0 && errno != EINTR))
				eof = TRUE;
		}
		if ((pfd[1].revents & POLLIN) && w->stop(w->data) && !stopped) {
			log_info(TASKS_SUBSYS, "task %s: stopping it (SIGTERM)",
				 t->name);
			stopped = TRUE;
			kill(pid, SIGTERM);
			kill_at = g_get_monotonic_time() +
				  TASK_STOP_GRACE * G_USEC_PER_SEC;
		}
		now = g_get_monotonic_time();
		if (kill_at != 0 && now >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = 0;
		}
		if (now >= next_refresh) {
			if (lock_refresh(l, error) < 0)
				break;
			next_refresh = now + refresh_us;
		}
	}
	close(fds[0]);
	if (!eof)	/* the lock is lost: not one more moment of work */
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (eof)
		judge(st, status, stopped, out);
	g_string_free(out, TRUE);
	return eof ? 0 : -1;
}

/* Records that t runs (slot, or the last one for a manual run), runs it
 * and records the outcome.  0 when it ran (*state_r), -1 on error. */
static int
run_locked(struct site *site, const struct task *t, struct lock *l,
	   const struct task_state *prev, gboolean manual, int64_t slot,
	   const struct task_watch *w, struct task_state **state_r,
	   GError **error)
{
	struct task_state *st = g_new0(struct task_state, 1);
	int64_t now, t0 = g_get_monotonic_time();
	char *when, *summary;
	GError *local = NULL;

	if (task_server_now(site, &now, error) < 0) {
		task_state_free(&st);
		return -1;
	}
	st->slot = manual ? (prev != NULL ? prev->slot : 0) : slot;
	st->manual = manual;
	st->host = g_strdup(herald_host());
	st->pid = getpid();
	st->started = now / G_USEC_PER_SEC;
	st->outcome = g_strdup(TASK_RUNNING);
	st->message = g_strdup("");
	if (task_state_write(site, t->name, st, error) < 0) {
		task_state_free(&st);
		return -1;
	}
	if (manual) {
		when = g_strdup("manual run");
	} else {
		char *text = task_time_text(slot);
		when = g_strdup_printf("slot %" G_GINT64_FORMAT " (%s)", slot,
				       text);
		g_free(text);
	}
	log_info(TASKS_SUBSYS, "task %s: %s started on host %s", t->name, when,
		 st->host);
	if (execute(site, t, l, w, st, &local) < 0) {
		log_error(TASKS_SUBSYS, "task %s: could not keep its lock while "
			  "running (%s): the run was killed; the next holder of "
			  "the lock marks it abandoned", t->name, local->message);
		g_propagate_prefixed_error(error, local, "task %s: ", t->name);
		task_state_free(&st);
		g_free(when);
		return -1;
	}
	if (task_server_now(site, &now, NULL) == 0)
		st->ended = now / G_USEC_PER_SEC;
	else
		st->ended = st->started +
			    (g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
	summary = task_state_summary(st);
	log_msg(strcmp(st->outcome, TASK_OK) == 0 ? LOG_LVL_INFO : LOG_LVL_ERROR,
		TASKS_SUBSYS, "task %s: %s on host %s: %s; %.1f s", t->name, when,
		st->host, summary,
		(double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
	g_free(summary);
	g_free(when);
	if (task_state_write(site, t->name, st, error) < 0) {
		/* The state still says "running": the next look finds the lock
		 * free and marks the run abandoned. */
		task_state_free(&st);
		return -1;
	}
	*state_r = st;
	return 0;
}

int
task_tick(struct site *site, const struct task *t, int64_t now_us,
	  const struct task_watch *w, int64_t *next_r, GError **error)
{
	struct task_state *st = NULL, *done = NULL;
	struct lock *l = NULL;
	struct schedule s;
	int64_t slot, next;
	int r;

	if (next_r != NULL)
		*next_r = 0;
	if (task_schedule(site, t, &s, NULL, error) < 0)
		return -1;
	if (schedule_slot(&s, now_us / G_USEC_PER_SEC, &slot, &next) == 0)
		return 0;
	if (next_r != NULL)
		*next_r = next;
	/* A look without the lock first: most looks find the slot done.  A
	 * file that cannot be read is judged under the lock. */
	if (task_state_read(site, t->name, &st, NULL) == 1 &&
	    strcmp(st->outcome, TASK_RUNNING) != 0 && st->slot >= slot) {
		task_state_free(&st);
		return 0;
	}
	task_state_free(&st);
	if ((r = take(site, t, now_us, &l, &st, error)) <= 0)
		return r;
	/* Whoever had the lock before us may have run it; an abandoned run
	 * of this slot is not run again. */
	if (st != NULL && st->slot >= slot)
		r = 0;
	else
		r = run_locked(site, t, l, st, FALSE, slot, w, &done, error) < 0
		    ? -1 : 1;
	task_state_free(&done);
	task_state_free(&st);
	lock_free(&l);
	return r;
}

int
task_run_now(struct site *site, const struct task *t,
	     const struct task_watch *w, struct task_state **state_r,
	     GError **error)
{
	struct task_state *prev = NULL;
	struct lock *l = NULL;
	int64_t now;
	int r;

	*state_r = NULL;
	if (task_server_now(site, &now, error) < 0)
		return -1;
	if ((r = take(site, t, now, &l, &prev, error)) < 0)
		return -1;
	if (r == 0) {
		(void)task_state_read(site, t->name, state_r, NULL);
		return 0;
	}
	r = run_locked(site, t, l, prev, TRUE, 0, w, state_r, error) < 0 ? -1 : 1;
	task_state_free(&prev);
	lock_free(&l);
	return r;
}
