/*
 * bench-queue-list.c - how long a runner's look at a big queue takes.
 *
 *   bench-queue-list [ENTRIES [RUNS]]
 *
 * Fills a queue with ENTRIES (default 100000) ready entries, then times
 * RUNS (default 11) calls each of queue_list(".msg") for slice 0 of 1
 * (the whole queue), slice 0 of 4 and slice 3 of 4, with a warm cache (an
 * untimed listing of every slice first), taking turns.  Prints the median,
 * min and max.  The project's
 * goal is a median under 100 ms for a slice.
 *
 * For context it also times a bare opendir/readdir loop over the same
 * directory: the part of queue_list that no code change can remove.
 *
 * Setup writes real queue files (queue_format, valid <stamp>+<digest>
 * names) without fsync: durability is not what is measured, and 100,000
 * fsyncs would take minutes.  The message body is small for the same
 * reason; queue_list reads names, never contents.
 */
#include "base/base.h"
#include "bench.h"
#include "store/queue.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>

#define DEFAULT_ENTRIES 100000
#define DEFAULT_RUNS 11

static void
fill_queue(struct queue *q, long entries)
{
	const char *body = "From: a@example.org\nSubject: bench\n\nhello\n";
	int64_t stamp0 = now_usec();
	int64_t t0 = bench_now_us();

	for (long i = 0; i < entries; i++) {
		struct queue_meta *meta = queue_meta_new();
		char seed[32];
		char *digest, *path;
		GString *data;
		int fd;

		/* Distinct stamps keep FIFO order defined; the digest is a
		 * real SHA-1, so entries spread over the slices as they do
		 * in production. */
		queue_meta_set(meta, "list", "bench");
		queue_meta_set_int(meta, "received", stamp0 + i);
		snprintf(seed, sizeof seed, "%ld", i);
		digest = g_compute_checksum_for_string(G_CHECKSUM_SHA1, seed, -1);
		path = g_strdup_printf("%s/%016" PRId64 "+%s.msg", queue_dir(q),
				       stamp0 + i, digest);
		data = queue_format(meta, body, strlen(body));
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			bench_die("open(%s) failed: %s", path, strerror(errno));
		if (write(fd, data->str, data->len) != (ssize_t)data->len)
			bench_die("write(%s) failed: %s", path, strerror(errno));
		if (close(fd) < 0)
			bench_die("close(%s) failed: %s", path, strerror(errno));
		g_string_free(data, TRUE);
		g_free(path);
		g_free(digest);
		queue_meta_free(&meta);
	}
	printf("queue-list: setup wrote %ld entries in %.1f s\n", entries,
	       (double)(bench_now_us() - t0) / 1e6);
}

/* CPU time of this process (user + system), us: with wall time it tells
 * a slow listing from a listing that waited for a CPU on a busy host. */
static int64_t
cpu_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
		bench_die("clock_gettime failed: %s", strerror(errno));
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t cpu_used;	/* us, of the last time_list/time_readdir */

/* One timed queue_list; returns us, and the number of entries found. */
static int64_t
time_list(struct queue *q, unsigned s, unsigned n, guint *found_r)
{
	GError *error = NULL;
	GPtrArray *bases = NULL;
	int64_t c0 = cpu_now_us(), t0 = bench_now_us(), t1;

	if (queue_list(q, ".msg", s, n, &bases, &error) < 0)
		bench_die_gerror("queue_list", error);
	t1 = bench_now_us();
	cpu_used = cpu_now_us() - c0;
	*found_r = bases->len;
	g_ptr_array_free(bases, TRUE);
	return t1 - t0;
}

static int64_t
time_readdir(const char *dir, long *count_r)
{
	int64_t c0 = cpu_now_us(), t0 = bench_now_us();
	struct dirent *e;
	DIR *d = opendir(dir);
	long n = 0;

	if (d == NULL)
		bench_die("opendir(%s) failed: %s", dir, strerror(errno));
	errno = 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (errno != 0)
		bench_die("readdir(%s) failed: %s", dir, strerror(errno));
	closedir(d);
	*count_r = n;
	cpu_used = cpu_now_us() - c0;
	return bench_now_us() - t0;
}

static void
report(const char *what, int64_t *us, int64_t *cpu, int runs, guint found)
{
	int64_t mn = us[0], mx = us[0];

	for (int i = 1; i < runs; i++) {
		mn = MIN(mn, us[i]);
		mx = MAX(mx, us[i]);
	}
	printf("queue-list %s: median %.1f ms (min %.1f, max %.1f, %d runs; "
	       "CPU median %.1f ms), %u entries\n", what,
	       (double)bench_percentile(us, (size_t)runs, 50) / 1e3,
	       (double)mn / 1e3, (double)mx / 1e3, runs,
	       (double)bench_percentile(cpu, (size_t)runs, 50) / 1e3, found);
}

int
main(int argc, char **argv)
{
	long entries = argc > 1 ? bench_count_arg(argv[1], "ENTRIES")
				: DEFAULT_ENTRIES;
	int runs = argc > 2 ? (int)bench_count_arg(argv[2], "RUNS")
			    : DEFAULT_RUNS;
	static const struct { unsigned s, n; } slices[] = {
		{ 0, 1 }, { 0, 4 }, { 3, 4 },
	};
	char *scratch = bench_scratch("queue-list");
	char *var = g_build_filename(scratch, "var", NULL);
	int64_t *us = g_new(int64_t, (G_N_ELEMENTS(slices) + 1) * (size_t)runs);
	int64_t *cpu = g_new(int64_t, (G_N_ELEMENTS(slices) + 1) * (size_t)runs);
	GError *error = NULL;
	struct queue *q;
	guint found[G_N_ELEMENTS(slices)], total = 0;
	long raw = 0;
	int count;

	if (argc > 3)
		bench_die("usage: bench-queue-list [ENTRIES [RUNS]]");
	q = queue_open(var, "in", &error);
	if (q == NULL)
		bench_die_gerror("queue_open", error);
	printf("queue-list: scratch %s (%s)\n", scratch, bench_fs_name(scratch));
	fill_queue(q, entries);
	count = queue_count(q, ".msg", &error);
	if (count != entries)
		bench_die("queue_count says %d, expected %ld", count, entries);

	/* Warm the cache: the directory's blocks come into memory once. */
	(void)time_list(q, 0, 1, &found[0]);
	for (unsigned s = 0; s < 4; s++) {
		(void)time_list(q, s, 4, &found[0]);
		total += found[0];
	}
	if (total != (guint)entries)
		bench_die("the 4 slices hold %u entries, expected %ld", total,
			  entries);

	/* Round-robin: each round times every kind once, so a burst of
	 * load from a neighbour hits all of them alike. */
	for (int i = 0; i < runs; i++) {
		size_t at;

		for (size_t k = 0; k < G_N_ELEMENTS(slices); k++) {
			at = k * (size_t)runs + (size_t)i;
			us[at] = time_list(q, slices[k].s, slices[k].n,
					   &found[k]);
			cpu[at] = cpu_used;
		}
		at = G_N_ELEMENTS(slices) * (size_t)runs + (size_t)i;
		us[at] = time_readdir(queue_dir(q), &raw);
		cpu[at] = cpu_used;
	}
	for (size_t k = 0; k < G_N_ELEMENTS(slices); k++) {
		char what[64];

		snprintf(what, sizeof what, "slice %u of %u", slices[k].s,
			 slices[k].n);
		report(what, us + k * (size_t)runs, cpu + k * (size_t)runs, runs,
		       found[k]);
	}
	report("bare readdir (floor)", us + G_N_ELEMENTS(slices) * (size_t)runs,
	       cpu + G_N_ELEMENTS(slices) * (size_t)runs, runs, (guint)raw);

	queue_close(&q);
	bench_rm_rf(scratch);
	g_free(us);
	g_free(cpu);
	g_free(var);
	g_free(scratch);
	return 0;
}
