/*
 * locktool.c - drives lib/lock.c from tests and the NFS lab.
 *
 *   locktool counter DIR NAME ITER LIFETIME_MS
 *       ITER times: take the lock, prove nobody else is inside (an O_EXCL
 *       marker file), increment DIR/counter, leave, release.  Exit 2 on an
 *       overlap.  Prints "done ITER max_wait_ms".
 *   locktool hold DIR NAME LIFETIME_MS
 *       take the lock, print "held", then sleep until killed.
 *   locktool keep DIR NAME LIFETIME_MS SECONDS
 *       take the lock and keep it SECONDS, refreshing it every quarter
 *       lifetime; exit 2 if it was ever lost.
 *   locktool acquire DIR NAME LIFETIME_MS TIMEOUT_MS
 *       take the lock, print "acquired after N ms", release.  Exit 1 on
 *       timeout.
 *   locktool now DIR
 *       print the file server's clock (usec) and the local one.
 */
#include "base/base.h"
#include "store/lock.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
fail(GError **error)
{
	fprintf(stderr, "locktool: %s\n", (*error)->message);
	g_clear_error(error);
	return 1;
}

static int
counter(const char *dir, const char *name, int iter, int64_t lifetime)
{
	struct lock *l = lock_new(dir, name, lifetime);
	char *marker = g_build_filename(dir, "inside", NULL);
	char *counter_path = g_build_filename(dir, "counter", NULL);
	GError *error = NULL;
	int64_t max_wait = 0;

	for (int i = 0; i < iter; i++) {
		int64_t t0 = g_get_monotonic_time();
		if (lock_acquire(l, -1, &error) < 0)
			return fail(&error);
		int64_t waited = g_get_monotonic_time() - t0;
		if (waited > max_wait)
			max_wait = waited;
		/* fs_open/fs_unlink: the shim's ESTALE faults hit this tool's
		 * own calls too; only EEXIST means someone else is inside. */
		int fd = fs_open(marker, O_WRONLY | O_CREAT | O_EXCL, 0660);
		if (fd < 0) {
			fprintf(stderr, "locktool: OVERLAP: %s exists (%s)\n",
				marker, g_strerror(errno));
			return 2;
		}
		close(fd);
		char *text = NULL;
		long n = 0;
		if (fs_read_file(counter_path, &text, NULL, &error) < 0)
			return fail(&error);
		if (text != NULL)
			n = atol(text);
		g_free(text);
		text = g_strdup_printf("%ld\n", n + 1);
		if (fs_write_atomic(counter_path, text, strlen(text), &error) < 0)
			return fail(&error);
		g_free(text);
		if (fs_unlink(marker) < 0) {
			fprintf(stderr, "locktool: unlink(%s): %s\n", marker,
				g_strerror(errno));
			return 2;
		}
		if (lock_held(l, &error) != 1) {
			fprintf(stderr, "locktool: lock lost while inside\n");
			return 2;
		}
		if (lock_release(l, &error) < 0)
			return fail(&error);
	}
	printf("done %d %.1f\n", iter, (double)max_wait / 1000);
	lock_free(&l);
	g_free(marker);
	g_free(counter_path);
	return 0;
}

int
main(int argc, char **argv)
{
	GError *error = NULL;
	int ret = 64;

	log_open(NULL, FALSE);
	if (argc == 6 && strcmp(argv[1], "counter") == 0) {
		ret = counter(argv[2], argv[3], atoi(argv[4]), atoll(argv[5]));
	} else if (argc == 5 && strcmp(argv[1], "hold") == 0) {
		struct lock *l = lock_new(argv[2], argv[3], atoll(argv[4]));
		if (lock_acquire(l, -1, &error) < 0)
			return fail(&error);
		printf("held\n");
		fflush(stdout);
		for (;;)
			pause();
	} else if (argc == 6 && strcmp(argv[1], "keep") == 0) {
		int64_t life = atoll(argv[4]);
		struct lock *l = lock_new(argv[2], argv[3], life);
		int64_t end = g_get_monotonic_time() + atoll(argv[5]) * 1000000;
		if (lock_acquire(l, -1, &error) < 0)
			return fail(&error);
		printf("held\n");
		fflush(stdout);
		ret = 0;
		while (g_get_monotonic_time() < end) {
			g_usleep((gulong)life * 250);
			if (lock_refresh(l, &error) < 0 || lock_held(l, &error) != 1) {
				fprintf(stderr, "locktool: lock lost: %s\n",
					error != NULL ? error->message : "not held");
				return 2;
			}
		}
		lock_free(&l);
	} else if (argc == 6 && strcmp(argv[1], "acquire") == 0) {
		struct lock *l = lock_new(argv[2], argv[3], atoll(argv[4]));
		int64_t t0 = g_get_monotonic_time();
		if (lock_acquire(l, atoll(argv[5]), &error) < 0) {
			printf("timeout after %.0f ms\n",
			       (double)(g_get_monotonic_time() - t0) / 1000);
			g_clear_error(&error);
			ret = 1;
		} else {
			printf("acquired after %.0f ms\n",
			       (double)(g_get_monotonic_time() - t0) / 1000);
			ret = lock_release(l, &error) < 0 ? fail(&error) : 0;
		}
		lock_free(&l);
	} else if (argc == 3 && strcmp(argv[1], "now") == 0) {
		int64_t now;
		if (lock_server_now(argv[2], &now, &error) < 0)
			return fail(&error);
		printf("%lld %lld\n", (long long)now, (long long)now_usec());
		ret = 0;
	} else {
		fprintf(stderr, "usage: see the comment at the top of locktool.c\n");
	}
	lock_cleanup_clocks();
	return ret;
}
