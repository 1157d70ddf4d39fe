/*
 * bench.h - what every herald benchmark shares: a scratch directory, a
 * monotonic clock, order statistics and a way to die on a setup failure.
 *
 * Benchmarks print figures; they assert nothing.  Each program makes its
 * own scratch directory (mkdtemp under $HERALD_BENCH_DIR, default
 * /var/tmp) and removes it when done, so runs never see each other's
 * files.  Everything here is static inline because the Makefile builds
 * each bench/bench-*.c into its own program with no shared object.
 */
#ifndef HERALD_BENCH_H
#define HERALD_BENCH_H

#include <errno.h>
#include <ftw.h>
#include <glib.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

/* Setup failures are not figures: say which call failed and stop. */
G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) static inline void
bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static inline void
bench_die_gerror(const char *what, GError *error)
{
	bench_die("%s: %s", what, error != NULL ? error->message : "?");
}

/* Monotonic microseconds (never the wall clock: NTP steps would show up
 * as figures). */
static inline int64_t
bench_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		bench_die("clock_gettime failed: %s", strerror(errno));
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A fresh scratch directory <base>/herald-bench-<what>.XXXXXX. */
static inline char *
bench_scratch(const char *what)
{
	const char *base = g_getenv("HERALD_BENCH_DIR");
	char *dir;

	if (base == NULL || *base == '\0')
		base = "/var/tmp";
	dir = g_strdup_printf("%s/herald-bench-%s.XXXXXX", base, what);
	if (mkdtemp(dir) == NULL)
		bench_die("mkdtemp(%s) failed: %s", dir, strerror(errno));
	return dir;
}

static inline int
bench_rm_one(const char *path, const struct stat *st, int flag,
	     struct FTW *ftw)
{
	if (remove(path) < 0)
		fprintf(stderr, "bench: remove(%s) failed: %s\n", path,
			strerror(errno));
	return 0;
}

/* rm -rf of the scratch directory; a failure is reported, not fatal. */
static inline void
bench_rm_rf(const char *dir)
{
	if (nftw(dir, bench_rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "bench: nftw(%s) failed: %s\n", dir,
			strerror(errno));
}

/* Names the filesystem a directory lives on, for the printed figures. */
static inline const char *
bench_fs_name(const char *dir)
{
	struct statfs sf;

	if (statfs(dir, &sf) < 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53UL:
		return "ext2/3/4";
	case 0x01021994UL:
		return "tmpfs";
	case 0x58465342UL:
		return "xfs";
	case 0x9123683EUL:
		return "btrfs";
	case 0x6969UL:
		return "nfs";
	case 0x794C7630UL:
		return "overlayfs";
	default:
		return "other";
	}
}

static inline int
bench_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100, nearest rank) of v[0..n), which is sorted
 * in place. */
static inline int64_t
bench_percentile(int64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, bench_cmp_i64);
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* Parses a positive decimal count from argv, or dies. */
static inline long
bench_count_arg(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v <= 0)
		bench_die("%s: not a positive number: '%s'", what, s);
	return v;
}

#endif
