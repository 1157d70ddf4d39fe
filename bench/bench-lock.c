/*
 * bench-lock.c - how fast lib/lock.c takes and gives back a lock.
 *
 *   bench-lock [ITER [PROCS [ROUNDS [THINK_US]]]]
 *
 * 1. Uncontended: one struct lock, ITER (default 5000) rounds of
 *    lock_acquire + lock_release.  Prints ops/s (one op = one acquire and
 *    its release) and the mean cost of one op.
 * 2. Contended: PROCS (default 8) forked processes, each ROUNDS (default
 *    200) times: lock_acquire, prove nobody else is inside (an O_EXCL
 *    marker), read, increment and rewrite a counter file, lock_release.
 *    Prints the total throughput, the time each acquire waited (p50, p99,
 *    worst) and checks the counter came out at PROCS * ROUNDS.  THINK_US
 *    (default 0) is slept outside the lock after each release: with 0 the
 *    releaser usually takes the lock straight back while the others sleep
 *    in their backoff, so it also shows how (un)fair the lock is.
 *
 * The lock directory is a fresh scratch directory (see bench.h); each
 * part uses its own, so forked children open their own server-clock file
 * instead of sharing the one the parent opened for part 1.
 */
#include "base/base.h"
#include "bench.h"
#include "store/lock.h"

#include <fcntl.h>
#include <sys/wait.h>

#define LOCK_LIFETIME_MS 30000	/* far longer than any run: no expiry */
#define ACQUIRE_TIMEOUT_MS 120000

static void
bench_uncontended(const char *dir, long iter)
{
	struct lock *l = lock_new(dir, "uncontended", LOCK_LIFETIME_MS);
	GError *error = NULL;
	int64_t t0, t1;

	/* The first acquisition creates the lock file; time the steady
	 * state, where every acquire is a takeover of a .free name. */
	if (lock_acquire(l, ACQUIRE_TIMEOUT_MS, &error) < 0 ||
	    lock_release(l, &error) < 0)
		bench_die_gerror("warm-up", error);
	t0 = bench_now_us();
	for (long i = 0; i < iter; i++) {
		if (lock_acquire(l, ACQUIRE_TIMEOUT_MS, &error) < 0)
			bench_die_gerror("lock_acquire", error);
		if (lock_release(l, &error) < 0)
			bench_die_gerror("lock_release", error);
	}
	t1 = bench_now_us();
	lock_free(&l);
	printf("lock uncontended: %ld acquire+release in %.3f s: %.0f ops/s "
	       "(%.1f us/op)\n", iter, (double)(t1 - t0) / 1e6,
	       (double)iter * 1e6 / (double)(t1 - t0),
	       (double)(t1 - t0) / (double)iter);
}

/* Read-modify-write of the counter: done only while holding the lock, so
 * a lost update would show in the final count. */
static int
bump_counter(const char *path)
{
	char buf[32];
	ssize_t n;
	long v = 0;
	int fd = open(path, O_RDWR | O_CREAT, 0600);

	if (fd < 0)
		return -1;
	n = pread(fd, buf, sizeof buf - 1, 0);
	if (n < 0) {
		close(fd);
		return -1;
	}
	buf[n] = '\0';
	v = strtol(buf, NULL, 10) + 1;
	n = snprintf(buf, sizeof buf, "%ld\n", v);
	if (pwrite(fd, buf, (size_t)n, 0) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* One contending process.  Sends its ROUNDS waits (us), then the time it
 * finished (monotonic us), down out_fd.  Exit 0 fine, 1 error, 2 mutual
 * exclusion broken. */
static G_GNUC_NORETURN void
contender(const char *dir, long rounds, long think_us, int start_fd,
	  int out_fd)
{
	char *counter = g_build_filename(dir, "counter", NULL);
	char *marker = g_build_filename(dir, "inside", NULL);
	int64_t *waits = g_new(int64_t, rounds + 1);
	struct lock *l = lock_new(dir, "contended", LOCK_LIFETIME_MS);
	GError *error = NULL;
	char c;
	int status = 0;

	/* Start together: the parent closes the pipe once all are forked. */
	if (read(start_fd, &c, 1) < 0)
		_exit(1);
	close(start_fd);
	for (long i = 0; i < rounds; i++) {
		int64_t t0 = bench_now_us();
		int fd;

		if (lock_acquire(l, ACQUIRE_TIMEOUT_MS, &error) < 0) {
			fprintf(stderr, "bench: pid %d: %s\n", (int)getpid(),
				error->message);
			status = 1;
			break;
		}
		waits[i] = bench_now_us() - t0;
		fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0) {
			fprintf(stderr, "bench: pid %d: open(%s) failed: %s "
				"(two holders at once?)\n", (int)getpid(),
				marker, strerror(errno));
			status = errno == EEXIST ? 2 : 1;
			break;
		}
		close(fd);
		if (bump_counter(counter) < 0 || unlink(marker) < 0) {
			fprintf(stderr, "bench: pid %d: counter: %s\n",
				(int)getpid(), strerror(errno));
			status = 1;
			break;
		}
		if (lock_release(l, &error) < 0) {
			fprintf(stderr, "bench: pid %d: %s\n", (int)getpid(),
				error->message);
			status = 1;
			break;
		}
		if (think_us > 0)
			g_usleep((gulong)think_us);
	}
	lock_free(&l);
	lock_cleanup_clocks();
	waits[rounds] = bench_now_us();
	if (status == 0) {
		size_t len = (size_t)(rounds + 1) * sizeof *waits;
		const char *p = (const char *)waits;

		while (len > 0) {
			ssize_t n = write(out_fd, p, len);
			if (n < 0) {
				status = 1;
				break;
			}
			p += n;
			len -= (size_t)n;
		}
	}
	_exit(status);
}

static void
bench_contended(const char *dir, int procs, long rounds, long think_us)
{
	int start[2];
	int *out = g_new(int, procs);
	pid_t *pids = g_new(pid_t, procs);
	int64_t *waits = g_new0(int64_t, (size_t)procs * (size_t)(rounds + 1));
	int64_t *blocked;
	size_t got = 0, nblocked = 0;
	int64_t t0, t1, sum = 0, first_done = INT64_MAX, last_done = 0;
	int failed = 0;
	char *counter, *data = NULL;
	long count = -1;

	if (pipe(start) < 0)
		bench_die("pipe failed: %s", strerror(errno));
	fflush(stdout);
	for (int i = 0; i < procs; i++) {
		int p[2];

		if (pipe(p) < 0)
			bench_die("pipe failed: %s", strerror(errno));
		pids[i] = fork();
		if (pids[i] < 0)
			bench_die("fork failed: %s", strerror(errno));
		if (pids[i] == 0) {
			close(start[1]);
			close(p[0]);
			contender(dir, rounds, think_us, start[0], p[1]);
		}
		close(p[1]);
		out[i] = p[0];
	}
	close(start[0]);
	t0 = bench_now_us();
	close(start[1]);
	for (int i = 0; i < procs; i++) {
		int64_t *mine = waits + (size_t)i * (size_t)(rounds + 1);
		char *dst = (char *)mine;
		size_t want = (size_t)(rounds + 1) * sizeof *waits, have = 0;
		int st;

		while (have < want) {
			ssize_t n = read(out[i], dst + have, want - have);
			if (n <= 0)
				break;
			have += (size_t)n;
		}
		close(out[i]);
		if (waitpid(pids[i], &st, 0) < 0)
			bench_die("waitpid failed: %s", strerror(errno));
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || have != want) {
			fprintf(stderr, "bench: contender %d failed (status %d)\n",
				i, st);
			failed++;
			continue;
		}
		first_done = MIN(first_done, mine[rounds]);
		last_done = MAX(last_done, mine[rounds]);
		/* Pack the good children's waits together. */
		memmove(waits + got, mine, (size_t)rounds * sizeof *waits);
		got += (size_t)rounds;
	}
	t1 = bench_now_us();

	counter = g_build_filename(dir, "counter", NULL);
	if (g_file_get_contents(counter, &data, NULL, NULL))
		count = strtol(data, NULL, 10);
	/* An acquire that found the lock free returns in tens of us; one that
	 * had to back off slept at least 1 ms (lock_acquire's first sleep). */
	blocked = g_new(int64_t, got + 1);
	for (size_t i = 0; i < got; i++) {
		sum += waits[i];
		if (waits[i] >= 1000)
			blocked[nblocked++] = waits[i];
	}
	printf("lock contended: %d processes x %ld rounds, think %ld us: %ld ops "
	       "in %.3f s: %.0f ops/s; counter %ld (%s)\n", procs, rounds,
	       think_us,
	       (long)procs * rounds, (double)(t1 - t0) / 1e6,
	       (double)procs * (double)rounds * 1e6 / (double)(t1 - t0),
	       count, count == (long)procs * rounds && failed == 0
	       ? "right" : "WRONG");
	printf("lock contended waits (ms): mean %.2f p50 %.2f p90 %.2f "
	       "p99 %.2f max %.2f\n",
	       got > 0 ? (double)sum / (double)got / 1e3 : 0.0,
	       (double)bench_percentile(waits, got, 50) / 1e3,
	       (double)bench_percentile(waits, got, 90) / 1e3,
	       (double)bench_percentile(waits, got, 99) / 1e3,
	       (double)bench_percentile(waits, got, 100) / 1e3);
	printf("lock contended: %zu of %zu acquires had to back off; their "
	       "waits (ms): p50 %.2f p99 %.2f\n", nblocked, got,
	       (double)bench_percentile(blocked, nblocked, 50) / 1e3,
	       (double)bench_percentile(blocked, nblocked, 99) / 1e3);
	if (got > 0)
		printf("lock contended fairness: first process done after "
		       "%.3f s, last after %.3f s\n",
		       (double)(first_done - t0) / 1e6,
		       (double)(last_done - t0) / 1e6);
	g_free(blocked);
	g_free(data);
	g_free(counter);
	g_free(waits);
	g_free(pids);
	g_free(out);
	if (failed > 0)
		exit(1);
}

int
main(int argc, char **argv)
{
	long iter = argc > 1 ? bench_count_arg(argv[1], "ITER") : 5000;
	int procs = argc > 2 ? (int)bench_count_arg(argv[2], "PROCS") : 8;
	long rounds = argc > 3 ? bench_count_arg(argv[3], "ROUNDS") : 200;
	long think_us = argc > 4 && strcmp(argv[4], "0") != 0
			? bench_count_arg(argv[4], "THINK_US") : 0;
	char *scratch = bench_scratch("lock");
	char *udir = g_build_filename(scratch, "uncontended", NULL);
	char *cdir = g_build_filename(scratch, "contended", NULL);

	if (argc > 5)
		bench_die("usage: bench-lock [ITER [PROCS [ROUNDS [THINK_US]]]]");
	if (mkdir(udir, 0700) < 0 || mkdir(cdir, 0700) < 0)
		bench_die("mkdir under %s failed: %s", scratch, strerror(errno));
	printf("lock: scratch %s (%s)\n", scratch, bench_fs_name(scratch));
	bench_uncontended(udir, iter);
	bench_contended(cdir, procs, rounds, think_us);
	lock_cleanup_clocks();
	bench_rm_rf(scratch);
	g_free(udir);
	g_free(cdir);
	g_free(scratch);
	return 0;
}
