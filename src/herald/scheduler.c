/*
 * scheduler.c - the scheduler service: Mailman's cron jobs without cron.
 *
 * Every host's master runs it (services.h); each task's lock and state
 * file let exactly one host run each slot of each task (the protocol is
 * at the top of src/lib/tasks/tasks.h, the user's view in
 * docs/scheduler.md).  It looks at every task every SCHEDULER_LOOK_MS and
 * at each task's next slot, by the file server's clock, so the hosts wake
 * together and the task's lock picks one.  It rereads the site settings
 * when etc/herald.conf changed and on SIGHUP (which also reopens the
 * logs).  SIGTERM stops it, interrupting a task that runs (recorded as
 * failed); when the master dies it gets SIGTERM too (PR_SET_PDEATHSIG),
 * and the task's process dies with it.
 */
#include "services.h"
#include "base/base.h"
#include "base/log.h"
#include "store/lock.h"
#include "tasks/tasks.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* How often the tasks are looked at besides their slots: to see a run
 * another host abandoned, and settings another host changed. */
#define SCHEDULER_LOOK_MS 5000
/* Woken this long after a slot begins, so that the server's clock has
 * certainly passed it. */
#define SLOT_MARGIN_MS 20

struct scheduler {
	struct site *site;
	int sigfd;
	gboolean stopping;
	gboolean reload;	/* SIGHUP: reread the settings */
	gboolean idle_logged;	/* schedule.enabled = false was logged */
};

/* Reads the pending signals; TRUE when one says stop.  Also the
 * task_watch callback while a task runs. */
static gboolean
read_signals(void *data)
{
	struct scheduler *s = data;
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			log_request_reopen();
			s->reload = TRUE;
		} else {
			s->stopping = TRUE;
		}
	}
	return s->stopping;
}

static void
reload_settings(struct scheduler *s)
{
	GError *error = NULL;
	int r;

	if (s->reload) {
		s->reload = FALSE;
		r = site_reload(s->site, &error);
	} else {
		r = site_reload_if_changed(s->site, &error);
	}
	if (r < 0) {
		log_error(TASKS_SUBSYS, "scheduler: rereading the settings: %s "
			  "(the old ones stay)", error->message);
		g_clear_error(&error);
	}
}

/* One look at every task.  TRUE when a task has a next slot, with
 * *wait_us_r the time until the earliest (0 if it has come already). */
static gboolean
look(struct scheduler *s, const struct task_watch *w, int64_t *wait_us_r)
{
	int64_t now, next, earliest = 0;
	GError *error = NULL;

	if (task_server_now(s->site, &now, &error) < 0) {
		log_error(TASKS_SUBSYS, "scheduler: %s", error->message);
		g_clear_error(&error);
		return FALSE;
	}
	for (const struct task *const *t = tasks; *t != NULL; t++) {
		int r = task_tick(s->site, *t, now, w, &next, &error);

		if (r < 0) {
			log_error(TASKS_SUBSYS, "task %s: %s", (*t)->name,
				  error->message);
			g_clear_error(&error);
		}
		if (s->stopping)
			break;
		if (next > 0 && (earliest == 0 || next * G_USEC_PER_SEC < earliest))
			earliest = next * G_USEC_PER_SEC;
		/* A run took time: the next task is judged at the new now. */
		if (r != 0 && task_server_now(s->site, &now, &error) < 0) {
			log_error(TASKS_SUBSYS, "scheduler: %s", error->message);
			g_clear_error(&error);
			break;
		}
	}
	/* The wait is measured from this now. */
	if (earliest == 0 || task_server_now(s->site, &now, NULL) < 0)
		return FALSE;
	*wait_us_r = MAX(earliest - now, 0);
	return TRUE;
}

static int
scheduler_main(struct site *site)
{
	struct scheduler s = { .site = site };
	struct task_watch w = { .stop = read_signals, .data = &s };
	sigset_t mask;

	prctl(PR_SET_NAME, "herald-sched");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((s.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		log_error(TASKS_SUBSYS, "scheduler: signalfd: %s",
			  g_strerror(errno));
		return 1;
	}
	w.fd = s.sigfd;
	log_info(TASKS_SUBSYS, "scheduler started on host %s (pid %d)",
		 herald_host(), (int)getpid());
	while (!read_signals(&s)) {
		struct pollfd pfd = { .fd = s.sigfd, .events = POLLIN };
		int64_t wait_ms = SCHEDULER_LOOK_MS, until;

		reload_settings(&s);
		if (site_get_bool(site, "schedule.enabled")) {
			s.idle_logged = FALSE;
			if (look(&s, &w, &until))
				wait_ms = MIN(wait_ms, until / 1000 + SLOT_MARGIN_MS);
		} else if (!s.idle_logged) {
			log_info(TASKS_SUBSYS, "scheduler: schedule.enabled is "
				 "false: no task runs");
			s.idle_logged = TRUE;
		}
		if (!s.stopping)
			(void)poll(&pfd, 1, (int)MAX(wait_ms, 0));
	}
	close(s.sigfd);
	/* The master's child ends with _exit(): no atexit cleanup. */
	lock_cleanup_clocks();
	log_info(TASKS_SUBSYS, "scheduler stopped");
	return 0;
}

static gboolean
scheduler_wanted(struct site *site)
{
	return site_get_bool(site, "schedule.enabled");
}

const struct service service_scheduler = {
	.name = "scheduler",
	.wanted = scheduler_wanted,
	.main = scheduler_main,
};
