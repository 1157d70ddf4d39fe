/*
 * bench-store-parallel.c - durable stores (queue_put: write, fsync,
 * rename, fsync of the directory) from one process and from many at once:
 * the figure behind the LMTP server's choice of a process per session
 * over one event loop (src/herald/lmtp.c's header comment).
 *
 *   bench-store-parallel [COUNT [PROCS...]]
 *
 * For each number of processes P (default 1 4 32), P forked processes
 * store COUNT (default 2000) small messages between them into one queue
 * and the wall time is taken: stores/s.  One process stores one after
 * another, each waiting for its fsyncs; parallel processes' fsyncs are
 * committed together by the filesystem's journal, which is what an LMTP
 * server with a process per session gets and one storing for every
 * session in turn does not.  Scratch under $HERALD_BENCH_DIR (default
 * /var/tmp): the figures are for that filesystem.
 */
#include "base/base.h"
#include "bench.h"
#include "store/names.h"
#include "store/queue.h"

#include <sys/wait.h>

static const char message[] =
	"From: poster@example.net\nTo: bench@lists.test\nSubject: small\n\n"
	"A small message, as most list posts are.\n";

static void
store_some(const char *dir, int n)
{
	for (int i = 0; i < n; i++) {
		struct queue_meta *meta = queue_meta_new();
		GError *error = NULL;

		queue_meta_set(meta, META_LIST, "bench@lists.test");
		if (queue_put(dir, QUEUE_IN, meta, message, sizeof message - 1,
			      NULL, &error) < 0)
			bench_die_gerror("queue_put", error);
		queue_meta_free(&meta);
	}
}

int
main(int argc, char **argv)
{
	long count = argc > 1 ? bench_count_arg(argv[1], "COUNT") : 2000;
	GArray *procs = g_array_new(FALSE, FALSE, sizeof(long));
	char *dir = bench_scratch("store-parallel");

	for (int a = 2; a < argc; a++) {
		long p = bench_count_arg(argv[a], "PROCS");
		g_array_append_val(procs, p);
	}
	if (procs->len == 0) {
		static const long dflt[] = { 1, 4, 32 };
		g_array_append_vals(procs, dflt, G_N_ELEMENTS(dflt));
	}
	printf("# %ld small messages stored with queue_put into %s (%s), by "
	       "P processes at once\n", count, dir, bench_fs_name(dir));
	for (guint i = 0; i < procs->len; i++) {
		long np = g_array_index(procs, long, i);
		int64_t t0 = bench_now_us();
		double secs;

		for (long p = 0; p < np; p++) {
			pid_t pid = fork();

			if (pid < 0)
				bench_die("fork: %s", strerror(errno));
			if (pid == 0) {
				store_some(dir, (int)(count / np + (p < count % np)));
				_exit(0);
			}
		}
		while (wait(NULL) > 0)
			;
		secs = (double)(bench_now_us() - t0) / 1e6;
		printf("P = %3ld: %6.0f stores/s (%ld in %.2f s)\n", np,
		       (double)count / secs, count, secs);
		bench_rm_rf(dir);
		if (mkdir(dir, 0700) < 0)
			bench_die("mkdir(%s): %s", dir, strerror(errno));
	}
	bench_rm_rf(dir);
	g_free(dir);
	g_array_free(procs, TRUE);
	return 0;
}
