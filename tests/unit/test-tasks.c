/*
 * test-tasks.c - unit tests for src/lib/tasks (run.c, state.c, the
 * registry), with tasks of the test's own given to task_tick and
 * task_run_now:
 *   - every registered task has a GROUP.NAME that the schedule.*.* site
 *     setting matches, a default that parses, and a doc; a site setting
 *     overrides the default;
 *   - the state file round-trips, keeps values on one line, skips unknown
 *     keys, and a damaged one is a FORMAT error (and, under the lock, is
 *     taken as never run);
 *   - task_tick runs the current slot once (a second look does nothing),
 *     not at all when off or while another holder has the lock, records
 *     the task's summary, a failure with its reason and a crash with its
 *     signal;
 *   - a run left "running" by a dead process: its slot is marked
 *     abandoned (host and pid kept) and not run again; an older slot's
 *     abandoned run does not stop the current slot;
 *   - a manual run (task_run_now) is recorded but leaves the slot;
 *   - the watch interrupts a run (recorded as failed), and a run whose
 *     lock is taken from it is killed and records nothing.
 */
#include "base/base.h"
#include "store/lock.h"
#include "store/schedule.h"
#include "store/site.h"
#include "tasks/tasks.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* --- test tasks ------------------------------------------------------------ */

/* The file each run of a test task appends a byte to (set before a run;
 * the task's child inherits it). */
static char *count_path;

static int
count_run(struct site *site, struct task_run *ctx, GError **error)
{
	FILE *f = fopen(count_path, "a");

	g_assert_nonnull(f);
	fputc('x', f);
	fclose(f);
	task_run_message(ctx, "counted\nonce");
	return 0;
}

static int
fail_run(struct site *site, struct task_run *ctx, GError **error)
{
	task_run_message(ctx, "half done");
	g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "the disk said no");
	return -1;
}

static int
crash_run(struct site *site, struct task_run *ctx, GError **error)
{
	raise(SIGKILL);
	return 0;
}

static int
sleep_run(struct site *site, struct task_run *ctx, GError **error)
{
	sleep(20);
	return 0;
}

static const struct task count_task = {
	"test.count", "every 1d", "counts its runs", count_run,
};
static const struct task fail_task = {
	"test.fail", "every 1d", "fails", fail_run,
};
static const struct task crash_task = {
	"test.crash", "every 1d", "dies", crash_run,
};
static const struct task sleep_task = {
	"test.sleep", "every 1d", "sleeps", sleep_run,
};

/* --- helpers --------------------------------------------------------------- */

static int64_t
server_now(struct site *site)
{
	GError *error = NULL;
	int64_t now = 0;

	g_assert_cmpint(task_server_now(site, &now, &error), ==, 0);
	g_assert_no_error(error);
	return now;
}

/* The current slot of "every 1d". */
static int64_t
day_slot(struct site *site)
{
	return server_now(site) / G_USEC_PER_SEC / 86400 * 86400;
}

static int
tick(struct site *site, const struct task *t, GError **error)
{
	return task_tick(site, t, server_now(site), NULL, NULL, error);
}

static struct task_state *
state_ok(struct site *site, const char *name)
{
	GError *error = NULL;
	struct task_state *st = NULL;

	g_assert_cmpint(task_state_read(site, name, &st, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_nonnull(st);
	return st;
}

static size_t
runs(void)
{
	char *data = NULL;
	size_t len = 0;

	if (!g_file_get_contents(count_path, &data, &len, NULL))
		return 0;
	g_free(data);
	return len;
}

static void
fixture(struct list_fixture *f)
{
	site_fixture_init(f);
	count_path = g_build_filename(f->var, "count", NULL);
}

static void
fixture_done(struct list_fixture *f)
{
	g_clear_pointer(&count_path, g_free);
	list_fixture_clear(f);
}

/* Takes lock task-<name> in a child process that exits without releasing
 * it: a claim of a dead process of this host, as a crashed run leaves. */
static void
leave_dead_lock(struct site *site, const char *name, int64_t *pid_r)
{
	char *dir = site_path(site, "locks", NULL);
	char *lname = g_strdup_printf("task-%s", name);
	pid_t pid = fork();
	int status;

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		struct lock *l = lock_new(dir, lname, 60000);
		_exit(lock_try(l, NULL) == 1 ? 0 : 1);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	*pid_r = pid;
	g_free(lname);
	g_free(dir);
}

/* A state that says slot is running on this host in process pid. */
static void
write_running(struct site *site, const char *name, int64_t slot, int64_t pid)
{
	struct task_state st = {
		.slot = slot, .host = (char *)herald_host(), .pid = pid,
		.started = slot, .outcome = (char *)TASK_RUNNING,
		.message = (char *)"",
	};
	GError *error = NULL;

	g_assert_cmpint(task_state_write(site, name, &st, &error), ==, 0);
	g_assert_no_error(error);
}

/* --- the registry and schedules -------------------------------------------- */

static void
test_registry(void)
{
	g_assert_nonnull(tasks[0]);
	for (const struct task *const *t = tasks; *t != NULL; t++) {
		char *key = g_strdup_printf("schedule.%s", (*t)->name);
		const struct setting_def *def = site_setting_find(key);
		struct schedule s;
		GError *error = NULL;

		g_test_message("task %s", (*t)->name);
		g_assert_nonnull(def);
		g_assert_cmpstr(def->key, ==, "schedule.*.*");
		g_assert_cmpint(schedule_parse((*t)->default_schedule, &s, &error),
				==, 0);
		g_assert_no_error(error);
		g_assert_nonnull((*t)->doc);
		g_assert_nonnull((*t)->run);
		g_assert_true(task_find((*t)->name) == *t);
		g_free(key);
	}
	g_assert_null(task_find("no.such"));
	g_assert_nonnull(task_find("held.expire"));
	g_assert_nonnull(task_find("held.summary"));
}

static void
test_schedule_setting(void)
{
	struct list_fixture f;
	struct schedule s;
	GError *error = NULL;
	char *spec = NULL;

	fixture(&f);
	g_assert_cmpint(task_schedule(f.site, &count_task, &s, &spec, &error), ==, 0);
	g_assert_cmpstr(spec, ==, "every 1d");
	g_clear_pointer(&spec, g_free);
	site_set_ok(f.site, "schedule.test.count", "Daily 7:05");
	g_assert_cmpint(task_schedule(f.site, &count_task, &s, &spec, &error), ==, 0);
	g_assert_cmpstr(spec, ==, "daily 07:05");
	g_clear_pointer(&spec, g_free);
	g_assert_cmpint(site_set(f.site, "schedule.test.count", "daily 7", &error),
			==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	site_set_ok(f.site, "schedule.test.count", "");
	g_assert_cmpint(task_schedule(f.site, &count_task, &s, &spec, &error), ==, 0);
	g_assert_cmpstr(spec, ==, "every 1d");
	g_free(spec);
	fixture_done(&f);
}

/* --- the state file ---------------------------------------------------------- */

static void
test_state_roundtrip(void)
{
	struct list_fixture f;
	struct task_state in = {
		.slot = 1796544000, .manual = TRUE, .host = (char *)"h1",
		.pid = 4242, .started = 1796544001, .ended = 1796544002,
		.outcome = (char *)"failed: a\nb", .message = (char *)"x\ty\rz",
	};
	struct task_state *out;
	GError *error = NULL;
	char *path, *text;

	fixture(&f);
	g_assert_cmpint(task_state_read(f.site, "test.count", &out, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(task_state_write(f.site, "test.count", &in, &error), ==, 0);
	g_assert_no_error(error);
	out = state_ok(f.site, "test.count");
	g_assert_cmpint(out->slot, ==, in.slot);
	g_assert_true(out->manual);
	g_assert_cmpstr(out->host, ==, "h1");
	g_assert_cmpint(out->pid, ==, 4242);
	g_assert_cmpint(out->started, ==, in.started);
	g_assert_cmpint(out->ended, ==, in.ended);
	g_assert_cmpstr(out->outcome, ==, "failed: a b");
	g_assert_cmpstr(out->message, ==, "x y z");
	text = task_state_summary(out);
	g_assert_cmpstr(text, ==, "failed: a b (x y z)");
	g_free(text);
	task_state_free(&out);
	g_assert_null(out);

	/* A newer herald's key is skipped. */
	path = g_build_filename(f.var, "tasks", "test.count", NULL);
	g_assert_true(g_file_set_contents(path, "herald-task 1\nslot: 5\n"
					  "colour: blue\noutcome: ok\n", -1, NULL));
	out = state_ok(f.site, "test.count");
	g_assert_cmpint(out->slot, ==, 5);
	g_assert_cmpstr(out->host, ==, "");
	text = task_state_summary(out);
	g_assert_cmpstr(text, ==, "ok");
	g_free(text);
	task_state_free(&out);
	g_free(path);
	fixture_done(&f);
}

static void
test_state_damaged(void)
{
	static const char *const bad[] = {
		"", "herald-task 2\noutcome: ok\n", "slot: 1\noutcome: ok\n",
		"herald-task 1\nslot: twelve\noutcome: ok\n",
		"herald-task 1\nslot: 1\n", "herald-task 1\njunk line\n",
	};
	struct list_fixture f;
	char *path;

	fixture(&f);
	path = g_build_filename(f.var, "tasks", "test.count", NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct task_state *st = NULL;
		GError *error = NULL;

		g_test_message("state [%s]", bad[i]);
		g_assert_true(g_file_set_contents(path, bad[i], -1, NULL));
		g_assert_cmpint(task_state_read(f.site, "test.count", &st,
						&error), ==, -1);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
		g_clear_error(&error);
		g_assert_null(st);
	}
	/* Under the lock a damaged state is taken as never run. */
	g_assert_cmpint(tick(f.site, &count_task, NULL), ==, 1);
	g_assert_cmpuint(runs(), ==, 1);
	g_free(path);
	fixture_done(&f);
}

/* --- ticks ----------------------------------------------------------------- */

static void
test_tick_once_per_slot(void)
{
	struct list_fixture f;
	struct task_state *st;
	GError *error = NULL;
	int64_t next = 0, slot;

	fixture(&f);
	slot = day_slot(f.site);
	g_assert_cmpint(task_tick(f.site, &count_task, server_now(f.site), NULL,
				  &next, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpint(next, ==, day_slot(f.site) + 86400);
	g_assert_cmpint(tick(f.site, &count_task, &error), ==, 0);
	g_assert_cmpint(tick(f.site, &count_task, &error), ==, 0);
	g_assert_cmpuint(runs(), ==, 1);
	st = state_ok(f.site, "test.count");
	g_assert_cmpint(st->slot, ==, slot);
	g_assert_false(st->manual);
	g_assert_cmpstr(st->host, ==, herald_host());
	g_assert_cmpint(st->pid, ==, getpid());
	g_assert_cmpstr(st->outcome, ==, "ok");
	g_assert_cmpstr(st->message, ==, "counted once");
	g_assert_cmpint(st->started, >=, slot);
	g_assert_cmpint(st->ended, >=, st->started);
	task_state_free(&st);

	/* The lock was released: another handle takes it at once. */
	{
		char *dir = site_path(f.site, "locks", NULL);
		struct lock *l = lock_new(dir, "task-test.count", 1000);

		g_assert_cmpint(lock_try(l, NULL), ==, 1);
		lock_free(&l);
		g_free(dir);
	}
	fixture_done(&f);
}

static void
test_tick_off_and_busy(void)
{
	struct list_fixture f;
	struct task_state *st = NULL;
	GError *error = NULL;
	char *dir;
	struct lock *l;
	int64_t next = 1;

	fixture(&f);
	site_set_ok(f.site, "schedule.test.count", "off");
	g_assert_cmpint(task_tick(f.site, &count_task, server_now(f.site), NULL,
				  &next, &error), ==, 0);
	g_assert_cmpint(next, ==, 0);
	g_assert_cmpuint(runs(), ==, 0);
	site_set_ok(f.site, "schedule.test.count", "");

	/* Another holder of the task's lock: nothing runs, also by hand. */
	dir = site_path(f.site, "locks", NULL);
	l = lock_new(dir, "task-test.count", 60000);
	g_assert_cmpint(lock_try(l, NULL), ==, 1);
	g_assert_cmpint(tick(f.site, &count_task, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(task_run_now(f.site, &count_task, NULL, &st, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(runs(), ==, 0);
	lock_free(&l);
	g_assert_cmpint(tick(f.site, &count_task, &error), ==, 1);
	g_assert_cmpuint(runs(), ==, 1);
	g_free(dir);
	fixture_done(&f);
}

static void
test_tick_failure_and_crash(void)
{
	struct list_fixture f;
	struct task_state *st;

	fixture(&f);
	g_assert_cmpint(tick(f.site, &fail_task, NULL), ==, 1);
	st = state_ok(f.site, "test.fail");
	g_assert_cmpstr(st->outcome, ==, "failed: the disk said no");
	g_assert_cmpstr(st->message, ==, "half done");
	g_assert_cmpint(st->slot, ==, day_slot(f.site));
	task_state_free(&st);
	/* A failed run took its slot. */
	g_assert_cmpint(tick(f.site, &fail_task, NULL), ==, 0);

	g_assert_cmpint(tick(f.site, &crash_task, NULL), ==, 1);
	st = state_ok(f.site, "test.crash");
	g_assert_true(g_str_has_prefix(st->outcome, "failed: killed by signal 9"));
	task_state_free(&st);
	fixture_done(&f);
}

static void
test_abandoned_not_rerun(void)
{
	struct list_fixture f;
	struct task_state *st;
	int64_t dead, slot;

	fixture(&f);
	slot = day_slot(f.site);
	leave_dead_lock(f.site, "test.count", &dead);
	write_running(f.site, "test.count", slot, dead);
	g_assert_cmpint(tick(f.site, &count_task, NULL), ==, 0);
	g_assert_cmpuint(runs(), ==, 0);
	st = state_ok(f.site, "test.count");
	g_assert_cmpstr(st->outcome, ==, "abandoned");
	g_assert_cmpint(st->slot, ==, slot);
	g_assert_cmpint(st->pid, ==, dead);
	g_assert_cmpstr(st->host, ==, herald_host());
	g_assert_nonnull(strstr(st->message, "did not finish it"));
	g_assert_cmpint(st->ended, >, 0);
	task_state_free(&st);
	g_assert_cmpint(tick(f.site, &count_task, NULL), ==, 0);
	g_assert_cmpuint(runs(), ==, 0);

	/* An abandoned run of an earlier slot: the current one still runs. */
	leave_dead_lock(f.site, "test.count", &dead);
	write_running(f.site, "test.count", slot - 86400, dead);
	g_assert_cmpint(tick(f.site, &count_task, NULL), ==, 1);
	g_assert_cmpuint(runs(), ==, 1);
	st = state_ok(f.site, "test.count");
	g_assert_cmpstr(st->outcome, ==, "ok");
	g_assert_cmpint(st->slot, ==, slot);
	task_state_free(&st);
	fixture_done(&f);
}

static void
test_manual_run_keeps_slot(void)
{
	struct list_fixture f;
	struct task_state *st = NULL;
	GError *error = NULL;
	int64_t slot;

	fixture(&f);
	site_set_ok(f.site, "schedule.test.count", "off");
	g_assert_cmpint(task_run_now(f.site, &count_task, NULL, &st, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_true(st->manual);
	g_assert_cmpint(st->slot, ==, 0);
	g_assert_cmpstr(st->outcome, ==, "ok");
	task_state_free(&st);
	site_set_ok(f.site, "schedule.test.count", "");
	/* The slot is still to run, and runs. */
	slot = day_slot(f.site);
	g_assert_cmpint(tick(f.site, &count_task, NULL), ==, 1);
	g_assert_cmpint(task_run_now(f.site, &count_task, NULL, &st, &error), ==, 1);
	task_state_free(&st);
	st = state_ok(f.site, "test.count");
	g_assert_true(st->manual);
	g_assert_cmpint(st->slot, ==, slot);
	task_state_free(&st);
	g_assert_cmpint(tick(f.site, &count_task, NULL), ==, 0);
	g_assert_cmpuint(runs(), ==, 3);
	fixture_done(&f);
}

/* --- a run interrupted, a run that loses its lock --------------------------- */

static gboolean
stop_now(void *data)
{
	char c;

	(void)!read(*(int *)data, &c, 1);
	return TRUE;
}

static void
test_watch_interrupts(void)
{
	struct list_fixture f;
	struct task_state *st;
	int fds[2];
	struct task_watch w = { .stop = stop_now, .data = &fds[0] };
	int64_t t0;

	fixture(&f);
	g_assert_cmpint(pipe(fds), ==, 0);
	g_assert_cmpint(write(fds[1], "x", 1), ==, 1);
	w.fd = fds[0];
	t0 = g_get_monotonic_time();
	g_assert_cmpint(task_tick(f.site, &sleep_task, server_now(f.site), &w,
				  NULL, NULL), ==, 1);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 10 * G_USEC_PER_SEC);
	st = state_ok(f.site, "test.sleep");
	g_assert_cmpstr(st->outcome, ==, "failed: interrupted (SIGTERM) before "
			"it finished");
	task_state_free(&st);
	close(fds[0]);
	close(fds[1]);
	fixture_done(&f);
}

struct thief {
	int fd;
	char *lock_dir;
};

/* Takes the task's lock from the run: renames its claim away, as a
 * takeover by another host does. */
static gboolean
steal_lock(void *data)
{
	struct thief *t = data;
	GPtrArray *names = fs_dir_names(t->lock_dir, NULL, NULL);
	char c;

	(void)!read(t->fd, &c, 1);
	for (guint i = 0; names != NULL && i < names->len; i++) {
		const char *n = names->pdata[i];
		if (g_str_has_suffix(n, ".claim")) {
			char *from = g_build_filename(t->lock_dir, n, NULL);
			char *to = g_build_filename(t->lock_dir, "thief.1.x.claim", NULL);
			g_assert_cmpint(rename(from, to), ==, 0);
			g_free(from);
			g_free(to);
		}
	}
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	return FALSE;
}

static void
test_lock_lost_kills_run(void)
{
	struct list_fixture f;
	struct task_state *st;
	GError *error = NULL;
	int fds[2];
	struct thief thief;
	struct task_watch w = { .stop = steal_lock, .data = &thief };
	int64_t t0;

	fixture(&f);
	site_set_ok(f.site, "master.lease_lifetime", "1");
	g_assert_cmpint(pipe(fds), ==, 0);
	g_assert_cmpint(write(fds[1], "x", 1), ==, 1);
	thief.fd = w.fd = fds[0];
	thief.lock_dir = g_build_filename(f.var, "locks", "task-test.sleep", NULL);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(task_tick(f.site, &sleep_task, server_now(f.site), &w,
				  NULL, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_LOST);
	g_clear_error(&error);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
	/* Nothing recorded: the state is the new holder's to judge. */
	st = state_ok(f.site, "test.sleep");
	g_assert_cmpstr(st->outcome, ==, "running");
	task_state_free(&st);
	g_free(thief.lock_dir);
	close(fds[0]);
	close(fds[1]);
	fixture_done(&f);
}

static const struct unit_test tests[] = {
	{ "/tasks/registry", test_registry },
	{ "/tasks/schedule-setting", test_schedule_setting },
	{ "/tasks/state-roundtrip", test_state_roundtrip },
	{ "/tasks/state-damaged", test_state_damaged },
	{ "/tasks/tick-once-per-slot", test_tick_once_per_slot },
	{ "/tasks/tick-off-and-busy", test_tick_off_and_busy },
	{ "/tasks/tick-failure-and-crash", test_tick_failure_and_crash },
	{ "/tasks/abandoned-not-rerun", test_abandoned_not_rerun },
	{ "/tasks/manual-run-keeps-slot", test_manual_run_keeps_slot },
	{ "/tasks/watch-interrupts", test_watch_interrupts },
	{ "/tasks/lock-lost-kills-run", test_lock_lost_kills_run },
};

UNIT_TEST_MAIN(tests)
