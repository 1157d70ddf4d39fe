/*
 * test-lock.c - unit tests for lock.c: NFS-safe locks with a lifetime.
 *
 * Two handles on one lock in one process stand for two contenders: each
 * acquisition has its own claim name, so the protocol cannot tell them
 * from two processes, except for the dead-holder shortcut, which is
 * tested with a forked child.  Expiry tests use lifetimes of a few
 * hundred milliseconds.  Each test works in a fresh temporary directory
 * and removes it afterwards.
 */
#include "base/base.h"
#include "store/lock.h"
#include "base/log.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* --- helpers ------------------------------------------------------------- */


static int
try_lock(struct lock *l)
{
	GError *error = NULL;
	int r = lock_try(l, &error);

	g_assert_no_error(error);
	return r;
}

static int
held(struct lock *l)
{
	GError *error = NULL;
	int r = lock_held(l, &error);

	g_assert_no_error(error);
	return r;
}

static void
acquire(struct lock *l)
{
	GError *error = NULL;

	g_assert_cmpint(lock_acquire(l, 2000, &error), ==, 0);
	g_assert_no_error(error);
}

static void
release(struct lock *l)
{
	GError *error = NULL;

	g_assert_cmpint(lock_release(l, &error), ==, 0);
	g_assert_no_error(error);
}

/* --- tests ------------------------------------------------------------- */

static void
test_acquire_then_release(void)
{
	char *dir = tmp_dir_new();
	struct lock *l = lock_new(dir, "list-a", 10000);

	g_assert_cmpstr(lock_name(l), ==, "list-a");
	g_assert_false(lock_is_mine(l));
	g_assert_null(lock_claim_name(l));
	g_assert_cmpint(held(l), ==, 0);

	acquire(l);
	g_assert_true(lock_is_mine(l));
	g_assert_nonnull(lock_claim_name(l));
	g_assert_cmpint(held(l), ==, 1);

	release(l);
	g_assert_false(lock_is_mine(l));
	g_assert_null(lock_claim_name(l));
	g_assert_cmpint(held(l), ==, 0);

	/* And again: a released lock is taken at once. */
	g_assert_cmpint(try_lock(l), ==, 1);
	g_assert_cmpint(held(l), ==, 1);
	lock_free(&l);
	g_assert_null(l);
	tmp_dir_remove(&dir);
}

static void
test_second_handle_blocked_while_held_then_gets_it(void)
{
	char *dir = tmp_dir_new();
	struct lock *a = lock_new(dir, "l", 10000);
	struct lock *b = lock_new(dir, "l", 10000);

	g_assert_cmpint(try_lock(a), ==, 1);
	g_assert_cmpint(try_lock(b), ==, 0);
	g_assert_false(lock_is_mine(b));
	g_assert_cmpint(held(a), ==, 1);
	g_assert_cmpint(held(b), ==, 0);

	release(a);
	g_assert_cmpint(try_lock(b), ==, 1);
	g_assert_cmpint(held(b), ==, 1);
	g_assert_cmpint(held(a), ==, 0);
	g_assert_cmpint(try_lock(a), ==, 0);

	lock_free(&a);
	lock_free(&b);
	tmp_dir_remove(&dir);
}

static void
test_try_on_handle_already_holding_is_an_error(void)
{
	char *dir = tmp_dir_new();
	struct lock *a = lock_new(dir, "l", 10000);
	GError *error = NULL;

	g_assert_cmpint(try_lock(a), ==, 1);
	g_assert_cmpint(lock_try(a, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpint(held(a), ==, 1);
	lock_free(&a);
	tmp_dir_remove(&dir);
}

static void
test_lock_free_releases(void)
{
	char *dir = tmp_dir_new();
	struct lock *a = lock_new(dir, "l", 60000);
	struct lock *b = lock_new(dir, "l", 60000);

	acquire(a);
	lock_free(&a);
	g_assert_cmpint(try_lock(b), ==, 1);
	lock_free(&b);
	tmp_dir_remove(&dir);
}

static void
test_refresh_moves_expiry_forward(void)
{
	char *dir = tmp_dir_new();
	struct lock *l = lock_new(dir, "l", 10000);
	GError *error = NULL;
	int64_t now, e1, e2;

	acquire(l);
	e1 = lock_expiry(l);
	g_assert_cmpint(lock_server_now(dir, &now, &error), ==, 0);
	/* The expiry is about a lifetime ahead of the server clock. */
	g_assert_cmpint(e1, >, now + 9 * 1000000);
	g_assert_cmpint(e1, <=, now + 10 * 1000000);
	g_usleep(50 * 1000);
	g_assert_cmpint(lock_refresh(l, &error), ==, 0);
	g_assert_no_error(error);
	e2 = lock_expiry(l);
	g_assert_cmpint(e2, >, e1);
	g_assert_cmpint(held(l), ==, 1);

	/* The expiry is on the disk, for the others to see. */
	char *claim = NULL;
	int64_t disk_expiry = 0;
	g_assert_cmpint(lock_inspect(dir, "l", &claim, &disk_expiry, &error), ==, 1);
	g_assert_cmpint(disk_expiry, ==, e2);
	g_free(claim);

	lock_free(&l);
	tmp_dir_remove(&dir);
}

static void
test_expired_lock_taken_over_and_old_holder_lost(void)
{
	char *dir = tmp_dir_new();
	struct lock *a = lock_new(dir, "l", 200);
	struct lock *b = lock_new(dir, "l", 10000);
	GError *error = NULL;

	acquire(a);
	/* Not before it expires. */
	g_assert_cmpint(try_lock(b), ==, 0);
	g_usleep(300 * 1000);
	/* a has stopped refreshing: after its lifetime b takes it. */
	g_assert_cmpint(try_lock(b), ==, 1);
	g_assert_cmpint(held(b), ==, 1);

	/* a learns it lost the lock. */
	g_assert_cmpint(held(a), ==, 0);
	g_assert_cmpint(lock_refresh(a, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_LOST);
	g_clear_error(&error);
	g_assert_false(lock_is_mine(a));
	g_assert_cmpint(held(a), ==, 0);
	/* b's lock is untouched by a's failed refresh. */
	g_assert_cmpint(held(b), ==, 1);

	lock_free(&a);
	lock_free(&b);
	tmp_dir_remove(&dir);
}

static void
test_release_of_lost_lock_leaves_new_holder_alone(void)
{
	char *dir = tmp_dir_new();
	struct lock *a = lock_new(dir, "l", 200);
	struct lock *b = lock_new(dir, "l", 10000);
	struct lock *c = lock_new(dir, "l", 10000);

	acquire(a);
	g_usleep(300 * 1000);
	g_assert_cmpint(try_lock(b), ==, 1);
	/* a still believes it holds the lock; its release is not an error
	 * and must not free b's lock. */
	g_assert_true(lock_is_mine(a));
	release(a);
	g_assert_cmpint(held(b), ==, 1);
	g_assert_cmpint(try_lock(c), ==, 0);

	lock_free(&a);
	lock_free(&b);
	lock_free(&c);
	tmp_dir_remove(&dir);
}

static void
test_refresh_after_own_expiry_is_lost_even_if_nobody_took_it(void)
{
	char *dir = tmp_dir_new();
	struct lock *a = lock_new(dir, "l", 100);
	GError *error = NULL;

	acquire(a);
	g_usleep(200 * 1000);
	g_assert_cmpint(held(a), ==, 0);
	g_assert_cmpint(lock_refresh(a, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_LOST);
	g_clear_error(&error);
	g_assert_false(lock_is_mine(a));
	lock_free(&a);
	tmp_dir_remove(&dir);
}

static void
test_acquire_times_out_while_lock_stays_held(void)
{
	char *dir = tmp_dir_new();
	struct lock *a = lock_new(dir, "l", 60000);
	struct lock *b = lock_new(dir, "l", 60000);
	GError *error = NULL;
	int64_t t0, elapsed_ms;

	acquire(a);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(lock_acquire(b, 150, &error), ==, -1);
	elapsed_ms = (g_get_monotonic_time() - t0) / 1000;
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT);
	g_clear_error(&error);
	g_assert_false(lock_is_mine(b));
	g_assert_cmpint(elapsed_ms, >=, 140);
	g_assert_cmpint(elapsed_ms, <, 3000);
	g_assert_cmpint(held(a), ==, 1);

	/* Waiting works when the holder lets go in time. */
	release(a);
	g_assert_cmpint(lock_acquire(b, 150, &error), ==, 0);
	g_assert_no_error(error);

	lock_free(&a);
	lock_free(&b);
	tmp_dir_remove(&dir);
}

static void
test_lock_of_dead_child_taken_at_once(void)
{
	char *dir = tmp_dir_new();
	struct lock *l = lock_new(dir, "l", 60000);
	char *claim = NULL, *prefix;
	int64_t expiry = 0, now = 0;
	GError *error = NULL;
	int status;
	pid_t pid;

	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		/* Another process of this host: takes the lock and dies
		 * without releasing it. */
		struct lock *cl = lock_new(dir, "l", 60000);
		_exit(lock_acquire(cl, 2000, NULL) == 0 ? 0 : 1);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);

	/* The child's claim, still valid for about a minute. */
	g_assert_cmpint(lock_inspect(dir, "l", &claim, &expiry, &error), ==, 1);
	prefix = g_strdup_printf("%s.%d.", herald_host(), (int)pid);
	g_assert_true(g_str_has_prefix(claim, prefix));
	g_assert_true(g_str_has_suffix(claim, ".claim"));
	g_assert_cmpint(lock_server_now(dir, &now, &error), ==, 0);
	g_assert_cmpint(expiry, >, now + 30 * 1000000);

	/* Taken at once, not after the minute. */
	g_assert_cmpint(try_lock(l), ==, 1);
	g_assert_cmpint(held(l), ==, 1);

	g_free(prefix);
	g_free(claim);
	lock_free(&l);
	tmp_dir_remove(&dir);
}

static void
test_inspect_shows_holder_claim_name_then_free(void)
{
	char *dir = tmp_dir_new();
	struct lock *l = lock_new(dir, "l", 10000);
	GError *error = NULL;
	char *claim = NULL, *mine;
	int64_t expiry = 0;
	char **parts;

	g_assert_cmpint(lock_inspect(dir, "l", &claim, &expiry, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_null(claim);

	acquire(l);
	g_assert_cmpint(lock_inspect(dir, "l", &claim, &expiry, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpstr(claim, ==, lock_claim_name(l));
	g_assert_cmpint(expiry, ==, lock_expiry(l));
	/* host.pid.random.claim */
	parts = g_strsplit(claim, ".", -1);
	g_assert_cmpuint(g_strv_length(parts), ==, 4);
	g_assert_cmpstr(parts[0], ==, herald_host());
	g_assert_cmpint(atoi(parts[1]), ==, (int)getpid());
	g_assert_cmpuint(strlen(parts[2]), >=, 8);
	for (const char *p = parts[2]; *p != '\0'; p++)
		g_assert_true(g_ascii_isxdigit(*p));
	g_assert_cmpstr(parts[3], ==, "claim");
	g_strfreev(parts);
	mine = g_strndup(claim, strlen(claim) - strlen(".claim"));
	g_free(claim);

	release(l);
	g_assert_cmpint(lock_inspect(dir, "l", &claim, &expiry, &error), ==, 1);
	g_assert_no_error(error);
	char *want = g_strconcat(mine, ".free", NULL);
	g_assert_cmpstr(claim, ==, want);
	g_free(want);
	g_free(claim);
	g_free(mine);

	lock_free(&l);
	tmp_dir_remove(&dir);
}

static void
test_each_acquisition_gets_a_new_claim_name(void)
{
	char *dir = tmp_dir_new();
	struct lock *l = lock_new(dir, "l", 10000);
	char *first;

	acquire(l);
	first = g_strdup(lock_claim_name(l));
	release(l);
	acquire(l);
	g_assert_cmpstr(lock_claim_name(l), !=, first);
	g_free(first);
	lock_free(&l);
	tmp_dir_remove(&dir);
}

static void
test_server_now_is_close_to_local_clock(void)
{
	char *dir = tmp_dir_new();
	GError *error = NULL;
	int64_t a = 0, b = 0, local;

	g_assert_cmpint(lock_server_now(dir, &a, &error), ==, 0);
	g_assert_no_error(error);
	local = now_usec();
	g_assert_cmpint(llabs((long long)(a - local)), <, 2 * 1000000);
	g_usleep(20 * 1000);
	g_assert_cmpint(lock_server_now(dir, &b, &error), ==, 0);
	g_assert_cmpint(b, >, a);
	tmp_dir_remove(&dir);
}

static void
test_two_handles_never_both_hold(void)
{
	char *dir = tmp_dir_new();
	struct lock *h[2] = { lock_new(dir, "l", 10000), lock_new(dir, "l", 10000) };
	GRand *rnd = g_rand_new_with_seed(20261128);
	int takes[2] = { 0, 0 };

	for (int i = 0; i < 400; i++) {
		int k = g_rand_int_range(rnd, 0, 2);

		if (lock_is_mine(h[k])) {
			if (g_rand_boolean(rnd))
				release(h[k]);
		} else if (try_lock(h[k]) == 1) {
			takes[k]++;
		}
		int both = held(h[0]) == 1 && held(h[1]) == 1;
		g_assert_false(both);
		g_assert_false(lock_is_mine(h[0]) && lock_is_mine(h[1]));
	}
	/* Both really competed. */
	g_assert_cmpint(takes[0], >, 10);
	g_assert_cmpint(takes[1], >, 10);
	g_rand_free(rnd);
	lock_free(&h[0]);
	lock_free(&h[1]);
	tmp_dir_remove(&dir);
}

static void
test_locks_with_different_names_are_independent(void)
{
	char *dir = tmp_dir_new();
	struct lock *a = lock_new(dir, "one", 10000);
	struct lock *b = lock_new(dir, "two", 10000);

	g_assert_cmpint(try_lock(a), ==, 1);
	g_assert_cmpint(try_lock(b), ==, 1);
	g_assert_cmpint(held(a), ==, 1);
	g_assert_cmpint(held(b), ==, 1);
	lock_free(&a);
	lock_free(&b);
	tmp_dir_remove(&dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* A failed check fails its test, and the other tests still run. */
	g_test_set_nonfatal_assertions();
	log_open(NULL, FALSE);

	g_test_add_func("/lock/acquire-then-release", test_acquire_then_release);
	g_test_add_func("/lock/second-handle-blocked-while-held",
			test_second_handle_blocked_while_held_then_gets_it);
	g_test_add_func("/lock/try-while-holding-is-error",
			test_try_on_handle_already_holding_is_an_error);
	g_test_add_func("/lock/free-releases", test_lock_free_releases);
	g_test_add_func("/lock/refresh-moves-expiry-forward",
			test_refresh_moves_expiry_forward);
	g_test_add_func("/lock/expired-taken-over-old-holder-lost",
			test_expired_lock_taken_over_and_old_holder_lost);
	g_test_add_func("/lock/release-of-lost-lock-leaves-new-holder",
			test_release_of_lost_lock_leaves_new_holder_alone);
	g_test_add_func("/lock/refresh-after-own-expiry-is-lost",
			test_refresh_after_own_expiry_is_lost_even_if_nobody_took_it);
	g_test_add_func("/lock/acquire-times-out-while-held",
			test_acquire_times_out_while_lock_stays_held);
	g_test_add_func("/lock/dead-child-holder-taken-at-once",
			test_lock_of_dead_child_taken_at_once);
	g_test_add_func("/lock/inspect-shows-claim-then-free",
			test_inspect_shows_holder_claim_name_then_free);
	g_test_add_func("/lock/new-claim-name-per-acquisition",
			test_each_acquisition_gets_a_new_claim_name);
	g_test_add_func("/lock/server-now-close-to-local-clock",
			test_server_now_is_close_to_local_clock);
	g_test_add_func("/lock/two-handles-never-both-hold",
			test_two_handles_never_both_hold);
	g_test_add_func("/lock/different-names-independent",
			test_locks_with_different_names_are_independent);
	return g_test_run();
}
