/*
 * tasks.h - periodic tasks: what herald does on a schedule instead of
 * Mailman's cron jobs (checkdbs, and later digests, bounces, archives).
 *
 * Boundary: a task may read and change anything the lower layers offer,
 * through their public functions only (held posts through held_*, mail
 * through notice_* and queue_put, ...).  This folder adds the table of
 * tasks, each task's state file and the one way a task is run; the
 * scheduler service (src/herald/scheduler.c) and `herald tasks` drive it.
 *
 * Adding a task is one file that defines its struct task and one row in
 * registry.c.  A task's name is GROUP.NAME in [a-z0-9-] (its schedule is
 * the site setting schedule.GROUP.NAME); its run function works in a
 * process of its own, so it may take as long as it needs (the parent
 * keeps the task's lock alive) and may crash without taking the scheduler
 * with it.
 *
 * Exactly once per slot across hosts (docs/scheduler.md):
 *   1. "now" is the file server's clock (lock_server_now), so every host
 *      computes the same slot (store/schedule.h).
 *   2. A host that reads from tasks/<name> that the current slot has not
 *      been run takes the lock locks/task-<name> (lifetime
 *      master.lease_lifetime), reads the state again under it, and runs
 *      the slot only if it still has not been: whoever held the lock
 *      before wrote the slot's outcome (or "running", if it died) while
 *      it held it.
 *   3. It writes "running" with its host, runs the task in a child while
 *      refreshing the lock every third of its lifetime, writes the
 *      outcome and releases the lock.  If it loses the lock meanwhile it
 *      kills the child and writes nothing: the state belongs to whoever
 *      took the lock.
 *   4. A host that takes the lock and finds "running" knows that run's
 *      holder died (or lost the lock): it marks that slot "abandoned",
 *      logs the dead host's name, and does not run the slot again.  A
 *      task that crashed its host must not crash every host in turn; the
 *      next slot runs as usual, and an admin may `herald tasks run NAME`.
 */
#ifndef HERALD_TASKS_H
#define HERALD_TASKS_H

#include <glib.h>
#include <stdint.h>

#include "store/schedule.h"
#include "store/site.h"

#define TASKS_SUBSYS "tasks"

/* One run of a task, for the task's run function. */
struct task_run;

struct task {
	const char *name;		/* GROUP.NAME */
	const char *default_schedule;	/* a schedule spec */
	const char *doc;		/* one paragraph, for `herald tasks --help` */
	/* Does the work.  0 on success, -1 with *error; either way the
	 * summary given to task_run_message() is recorded. */
	int (*run)(struct site *site, struct task_run *ctx, GError **error);
};

/* Every task, ended by NULL (registry.c). */
extern const struct task *const tasks[];

/* The task of that name, or NULL. */
const struct task *task_find(const char *name);

/* For run functions: the one-line summary of this run ("3 held posts
 * expired on 2 lists"), kept in the task's state; a later call replaces
 * it. */
void task_run_message(struct task_run *ctx, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/* For run functions: calls fn(list, ctx) for each list of the site; a
 * list that fails (cannot be opened, or fn returns -1) is logged and does
 * not stop the others.  -1 when any failed (*error: the first failure and
 * how many lists failed). */
struct list;
struct lock;
int task_for_each_list(struct site *site,
		       int (*fn)(struct list *l, void *ctx, GError **error),
		       void *ctx, GError **error);

/* --- the schedule and the state ----------------------------------------- */

/* t's schedule: the site setting schedule.<name>, else its default.
 * *spec_r (optional) gets the spec in canonical form, newly allocated. */
int task_schedule(struct site *site, const struct task *t, struct schedule *s,
		  char **spec_r, GError **error);

/* The task's state file, tasks/<name> (docs/formats.md). */
struct task_state {
	int64_t slot;		/* the last slot a scheduled run took, 0: none */
	gboolean manual;	/* the last run was `herald tasks run` */
	char *host;		/* who ran it ... */
	int64_t pid;		/* ... the process that held the lock */
	int64_t started, ended;	/* file server's clock, epoch seconds; ended 0
				 * while running */
	char *outcome;		/* "ok", "failed: <reason>", "running",
				 * "abandoned" */
	char *message;		/* the run's summary, or why it was abandoned */
};

void task_state_free(struct task_state **sp);
/* 1 with *state_r, 0 when the task never ran, -1 on error (a file that
 * does not parse: HERALD_ERR_FORMAT). */
int task_state_read(struct site *site, const char *name,
		    struct task_state **state_r, GError **error);
/* Replaces the state file atomically (fs_write_atomic). */
int task_state_write(struct site *site, const char *name,
		     const struct task_state *state, GError **error);
/* The outcome with the message, as logs and `herald tasks` show them:
 * "ok: <message>", "failed: <reason> (<message>)".  Newly allocated. */
char *task_state_summary(const struct task_state *s);
/* The outcome words, as stored. */
#define TASK_OK "ok"
#define TASK_RUNNING "running"
#define TASK_ABANDONED "abandoned"
#define TASK_FAILED_PREFIX "failed: "

/* --- running ------------------------------------------------------------- */

/* What the caller watches while a task runs in its child: when fd is
 * readable, stop(data) is called (it must read what made fd readable);
 * TRUE interrupts the run (the child gets
 * SIGTERM, then SIGKILL after TASK_STOP_GRACE seconds) and records it as
 * failed.  fd -1: nothing to watch. */
struct task_watch {
	int fd;
	gboolean (*stop)(void *data);
	void *data;
};
#define TASK_STOP_GRACE 5

/* An instant (epoch seconds) as logs and `herald tasks` show it: local
 * time, "YYYY-MM-DD HH:MM:SS"; "-" for 0.  Newly allocated. */
char *task_time_text(int64_t t);

/* The file server's clock, in microseconds (lock_server_now on locks/). */
int task_server_now(struct site *site, int64_t *now_r, GError **error);

/*
 * The scheduler's look at one task at server time now_us: runs the
 * current slot when it is due and no other host has (see the top of this
 * file).  1 when it ran the slot (whatever the outcome), 0 when there was
 * nothing to do (off, done, or running elsewhere), -1 on error.  *next_r
 * (optional) gets the task's next slot (server seconds; 0 when off).
 */
int task_tick(struct site *site, const struct task *t, int64_t now_us,
	      const struct task_watch *w, int64_t *next_r, GError **error);

/*
 * Keeps t from running while a command does what would conflict with a
 * run (`herald news catchup` and news.gate): t's lock, held for at most
 * lifetime_ms, waited for up to wait_ms.  The holder gives it back with
 * lock_release and lock_free (store/lock.h).  NULL with *error (a
 * HERALD_ERR_TIMEOUT one while a run goes on).
 */
struct lock *task_lock_hold(struct site *site, const struct task *t,
			    int64_t lifetime_ms, int64_t wait_ms,
			    GError **error);

/*
 * `herald tasks run`: runs t now, under its lock, recording the run like
 * a scheduled one but leaving the slot as it is.  1 when it ran
 * (*state_r: the state it recorded), 0 when another process is running
 * the task (*state_r: its state, if any), -1 on error.
 */
int task_run_now(struct site *site, const struct task *t,
		 const struct task_watch *w, struct task_state **state_r,
		 GError **error);

#endif
