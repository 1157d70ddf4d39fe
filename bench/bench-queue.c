/*
 * bench-queue.c - durable queue throughput against what the disk allows.
 *
 *   bench-queue [COUNT [BLOCKS]]
 *
 * Two loops over 4 KiB messages, fsync on, run in BLOCKS (default 20)
 * alternating blocks of COUNT (default 100) messages each, so that both
 * see the same moments of a shared, noisy machine:
 *
 *   ceiling  the durable steps a queue write needs and nothing else:
 *            open a new tmp file, write 4 KiB, fsync, close, rename,
 *            fsync of the directory (kept open);
 *   queue    one message's whole life in lib/queue.c: queue_enqueue
 *            (which does the steps above), queue_list, queue_claim,
 *            queue_read, queue_finish.
 *
 * Prints messages/s of each over all blocks and their ratio queue/ceiling
 * (the figure; the project's goal is at least 50%), the spread of the
 * per-block ratios, the ratio of the median per-message times (robust to
 * a neighbour's burst of I/O), and where a queue message's time went.
 *
 * Not measured across the loops: ext4 commits all pending metadata at the
 * next fsync, so a block's first fsync pays for what the previous block
 * left.  The ceiling's untimed clean-up is therefore synced (syncfs)
 * before the next block starts.
 */
#include "base/base.h"
#include "bench.h"
#include "store/queue.h"

#include <fcntl.h>
#include <inttypes.h>

#define MSG_SIZE 4096

enum phase { PH_ENQUEUE, PH_LIST, PH_CLAIM, PH_READ, PH_FINISH, PH_COUNT };

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static const char *const phase_names[PH_COUNT] = {
	"enqueue", "list", "claim", "read", "finish",
};

/* The disk's ceiling: the bare durable write sequence.  Returns the
 * block's time (us); each message's time goes to op_us[0..count). */
static int64_t
run_ceiling(const char *dir, long count, const char *msg, int64_t *op_us)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int64_t t0, t1, a = 0;

	if (dfd < 0)
		bench_die("open(%s) failed: %s", dir, strerror(errno));
	t0 = bench_now_us();
	for (long i = 0; i < count; i++) {
		char tmp[64], fin[64];
		int fd;

		a = bench_now_us();
		snprintf(tmp, sizeof tmp, "c%ld.tmp", i);
		snprintf(fin, sizeof fin, "c%ld.msg", i);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			    0600);
		if (fd < 0)
			bench_die("open(%s/%s) failed: %s", dir, tmp,
				  strerror(errno));
		if (write(fd, msg, MSG_SIZE) != MSG_SIZE)
			bench_die("write(%s/%s) failed: %s", dir, tmp,
				  strerror(errno));
		if (fsync(fd) < 0)
			bench_die("fsync(%s/%s) failed: %s", dir, tmp,
				  strerror(errno));
		if (close(fd) < 0)
			bench_die("close(%s/%s) failed: %s", dir, tmp,
				  strerror(errno));
		if (renameat(dfd, tmp, dfd, fin) < 0)
			bench_die("rename(%s/%s) failed: %s", dir, tmp,
				  strerror(errno));
		if (fsync(dfd) < 0)
			bench_die("fsync(%s) failed: %s", dir, strerror(errno));
		op_us[i] = bench_now_us() - a;
	}
	t1 = bench_now_us();
	/* Untimed: leave the directory as small as the queue's, which
	 * finishes (unlinks) every message it takes. */
	for (long i = 0; i < count; i++) {
		char fin[64];

		snprintf(fin, sizeof fin, "c%ld.msg", i);
		if (unlinkat(dfd, fin, 0) < 0)
			bench_die("unlink(%s/%s) failed: %s", dir, fin,
				  strerror(errno));
	}
	if (syncfs(dfd) < 0)
		bench_die("syncfs(%s) failed: %s", dir, strerror(errno));
	close(dfd);
	return t1 - t0;
}

/* lib/queue.c: returns the block's time (us), each message's time goes
 * to op_us[0..count) and each phase's is added to phase_us. */
static int64_t
run_queue(struct queue *q, long count, const char *msg, int64_t *op_us,
	  int64_t *phase_us)
{
	GError *error = NULL;
	int64_t t0, t1, a, b, start;

	t0 = bench_now_us();
	for (long i = 0; i < count; i++) {
		struct queue_meta *meta = queue_meta_new();
		struct queue_item *item = NULL;
		GPtrArray *bases = NULL;
		char *base = NULL;

		queue_meta_set(meta, "list", "bench");
		a = start = bench_now_us();
		if (queue_enqueue(q, meta, msg, MSG_SIZE, &base, &error) < 0)
			bench_die_gerror("queue_enqueue", error);
		b = bench_now_us();
		phase_us[PH_ENQUEUE] += b - a;
		if (queue_list(q, ".msg", 0, 1, &bases, &error) < 0)
			bench_die_gerror("queue_list", error);
		a = bench_now_us();
		phase_us[PH_LIST] += a - b;
		if (bases->len != 1 || strcmp(bases->pdata[0], base) != 0)
			bench_die("queue_list: found %u entries, expected 1",
				  bases->len);
		if (queue_claim(q, base, &error) != 1)
			bench_die_gerror("queue_claim", error);
		b = bench_now_us();
		phase_us[PH_CLAIM] += b - a;
		if (queue_read(q, base, ".bak", &item, &error) != 1)
			bench_die_gerror("queue_read", error);
		a = bench_now_us();
		phase_us[PH_READ] += a - b;
		if (item->msg_len != MSG_SIZE)
			bench_die("queue_read: %zu bytes, expected %d",
				  item->msg_len, MSG_SIZE);
		if (queue_finish(q, base, &error) < 0)
			bench_die_gerror("queue_finish", error);
		b = bench_now_us();
		phase_us[PH_FINISH] += b - a;
		op_us[i] = b - start;
		queue_item_free(&item);
		g_ptr_array_free(bases, TRUE);
		g_free(base);
		queue_meta_free(&meta);
	}
	t1 = bench_now_us();
	return t1 - t0;
}

int
main(int argc, char **argv)
{
	long count = argc > 1 ? bench_count_arg(argv[1], "COUNT") : 100;
	int blocks = argc > 2 ? (int)bench_count_arg(argv[2], "BLOCKS") : 20;
	char *scratch = bench_scratch("queue");
	char *cdir = g_build_filename(scratch, "ceiling", NULL);
	char *var = g_build_filename(scratch, "var", NULL);
	char msg[MSG_SIZE];
	int64_t phase_us[PH_COUNT] = { 0 };
	int64_t ctime = 0, qtime = 0, *cops, *qops;
	size_t nops;
	double *ratios, c, qq;
	struct queue *q;
	GError *error = NULL;
	GString *sample;
	struct queue_meta *meta;

	if (argc > 3)
		bench_die("usage: bench-queue [COUNT [BLOCKS]]");
	if (mkdir(cdir, 0700) < 0)
		bench_die("mkdir(%s) failed: %s", cdir, strerror(errno));
	q = queue_open(var, "in", &error);
	if (q == NULL)
		bench_die_gerror("queue_open", error);
	/* A plausible message: 64-column lines of text. */
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = i % 65 == 64 ? '\n' : (char)('a' + i % 26);

	meta = queue_meta_new();
	queue_meta_set(meta, "list", "bench");
	queue_meta_set_int(meta, "received", now_usec());
	sample = queue_format(meta, msg, sizeof msg);
	printf("queue: scratch %s (%s); message %d bytes, queue file %zu "
	       "bytes\n", scratch, bench_fs_name(scratch), MSG_SIZE,
	       sample->len);
	g_string_free(sample, TRUE);
	queue_meta_free(&meta);

	nops = (size_t)count * (size_t)blocks;
	cops = g_new(int64_t, nops);
	qops = g_new(int64_t, nops);
	ratios = g_new(double, blocks);
	for (int b = 0; b < blocks; b++) {
		int64_t *cb = cops + (size_t)b * (size_t)count;
		int64_t *qb = qops + (size_t)b * (size_t)count;
		int64_t ct, qt;

		/* Alternate which goes first so a drift in the disk's speed
		 * does not favour one side. */
		if (b % 2 == 0) {
			ct = run_ceiling(cdir, count, msg, cb);
			qt = run_queue(q, count, msg, qb, phase_us);
		} else {
			qt = run_queue(q, count, msg, qb, phase_us);
			ct = run_ceiling(cdir, count, msg, cb);
		}
		ratios[b] = (double)ct / (double)qt;
		ctime += ct;
		qtime += qt;
	}
	c = (double)nops * 1e6 / (double)ctime;
	qq = (double)nops * 1e6 / (double)qtime;
	printf("queue ceiling: %.0f msgs/s; queue: %.0f msgs/s; ratio %.0f%% "
	       "(goal >= 50%%: %s) [%d blocks of %ld, alternating]\n", c, qq,
	       100.0 * qq / c, qq / c >= 0.5 ? "met" : "NOT met", blocks,
	       count);
	{
		int64_t cp50 = bench_percentile(cops, nops, 50);
		int64_t qp50 = bench_percentile(qops, nops, 50);

		qsort(ratios, (size_t)blocks, sizeof *ratios, cmp_double);
		printf("queue per-block ratio: min %.0f%% median %.0f%% max "
		       "%.0f%%; median message: ceiling %" PRId64 " us, queue %"
		       PRId64 " us, ratio %.0f%%\n", 100.0 * ratios[0],
		       100.0 * ratios[blocks / 2], 100.0 * ratios[blocks - 1],
		       cp50, qp50, 100.0 * (double)cp50 / (double)qp50);
		printf("queue p99 message: ceiling %" PRId64 " us, queue %" PRId64
		       " us\n", bench_percentile(cops, nops, 99),
		       bench_percentile(qops, nops, 99));
	}
	{
		int64_t total = 0;

		for (int i = 0; i < PH_COUNT; i++)
			total += phase_us[i];
		printf("queue time per message:");
		for (int i = 0; i < PH_COUNT; i++)
			printf(" %s %.0f us (%.0f%%)%s", phase_names[i],
			       (double)phase_us[i] / (double)nops,
			       100.0 * (double)phase_us[i] / (double)total,
			       i + 1 < PH_COUNT ? "," : "\n");
	}
	g_free(cops);
	g_free(qops);
	queue_close(&q);
	bench_rm_rf(scratch);
	g_free(ratios);
	g_free(cdir);
	g_free(var);
	g_free(scratch);
	return 0;
}
