/*
 * nfsfault.c - an LD_PRELOAD shim that makes system calls fail the way NFS
 * (and full disks) make them fail, on demand.
 *
 *   NFSFAULT="fault=N[,fault=N...]"   the Nth matching call faults
 *   NFSFAULT="fault=%K"               every Kth matching call faults
 *   NFSFAULT_PATH=substring           only calls on paths containing it count
 *                                     (a trailing $: paths ending in it)
 *   NFSFAULT_LOG=file                 each injected fault appends a line
 *
 * Faults ("done" ones perform the call first, then report failure, as when
 * an NFS reply is lost and the retransmission is answered from scratch):
 *   link_eexist   link done, reports EEXIST     link_eio      done, EIO
 *   rename_enoent rename done, reports ENOENT   unlink_enoent done, ENOENT
 *   stat_estale   stat/lstat/fstatat fail ESTALE (not done)
 *   open_estale   open fails ESTALE             unlink_estale fails ESTALE
 *   stat_stale    stat or fstat returns the *first* result ever seen for
 *                 that path, as a stale attribute cache would
 *   write_enospc, write_edquot, fsync_enospc, fsync_edquot, rename_enospc
 *                 the call fails, nothing written / renamed
 *   rename_kill   rename done, then the process is killed (SIGKILL), as
 *   unlink_kill   unlink done, then killed   a kill -9 between two steps
 * Counters are per process.  Calls libc makes internally are not seen.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum fault {
	F_LINK_EEXIST, F_LINK_EIO, F_RENAME_ENOENT, F_UNLINK_ENOENT,
	F_STAT_ESTALE, F_OPEN_ESTALE, F_UNLINK_ESTALE, F_STAT_STALE,
	F_WRITE_ENOSPC, F_WRITE_EDQUOT, F_FSYNC_ENOSPC, F_FSYNC_EDQUOT,
	F_RENAME_ENOSPC, F_RENAME_KILL, F_UNLINK_KILL, F_COUNT
};

static const char *const fault_names[F_COUNT] = {
	"link_eexist", "link_eio", "rename_enoent", "unlink_enoent",
	"stat_estale", "open_estale", "unlink_estale", "stat_stale",
	"write_enospc", "write_edquot", "fsync_enospc", "fsync_edquot",
	"rename_enospc", "rename_kill", "unlink_kill",
};

static long nth[F_COUNT], every[F_COUNT], calls[F_COUNT];
static int configured;
static const char *path_filter;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void
configure(void)
{
	const char *spec = getenv("NFSFAULT");

	configured = 1;
	path_filter = getenv("NFSFAULT_PATH");
	if (spec == NULL)
		return;
	for (int f = 0; f < F_COUNT; f++) {
		char pat[64];
		const char *p;

		snprintf(pat, sizeof pat, "%s=", fault_names[f]);
		p = strstr(spec, pat);
		if (p == NULL || (p != spec && p[-1] != ','))
			continue;
		p += strlen(pat);
		if (*p == '%')
			every[f] = atol(p + 1);
		else
			nth[f] = atol(p);
	}
}

static void
note(enum fault f, const char *path)
{
	const char *log = getenv("NFSFAULT_LOG");
	char line[512];
	int fd;

	if (log == NULL)
		return;
	snprintf(line, sizeof line, "%d %s %s\n", (int)getpid(), fault_names[f],
		 path != NULL ? path : "-");
	fd = ((int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open"))(
	    log, O_WRONLY | O_CREAT | O_APPEND, 0666);
	if (fd >= 0) {
		((ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write"))(
		    fd, line, strlen(line));
		close(fd);
	}
}

/* Whether path contains NFSFAULT_PATH; one that ends in '$' must end the
 * path (".../queue/out$": the directory, not the files in it). */
static int
path_matches(const char *path)
{
	size_t flen = strlen(path_filter), plen;

	if (path == NULL)
		return 0;
	if (flen == 0 || path_filter[flen - 1] != '$')
		return strstr(path, path_filter) != NULL;
	plen = strlen(path);
	return plen >= flen - 1 &&
	       memcmp(path + plen - (flen - 1), path_filter, flen - 1) == 0;
}

/* Whether this call of kind f (on path) is the one to fault. */
static int
should_fault(enum fault f, const char *path)
{
	long n;
	int hit;

	if (!configured)
		configure();
	if (nth[f] == 0 && every[f] == 0)
		return 0;
	if (path_filter != NULL && !path_matches(path))
		return 0;
	pthread_mutex_lock(&mu);
	n = ++calls[f];
	pthread_mutex_unlock(&mu);
	hit = nth[f] != 0 ? n == nth[f] : n % every[f] == 0;
	if (hit)
		note(f, path);
	return hit;
}

#define REAL(ret, name, args) \
	static ret(*real_##name) args; \
	if (real_##name == NULL) real_##name = (ret(*) args)dlsym(RTLD_NEXT, #name)

int
link(const char *a, const char *b)
{
	REAL(int, link, (const char *, const char *));
	int r = real_link(a, b);

	if (r == 0 && should_fault(F_LINK_EEXIST, b)) {
		errno = EEXIST;
		return -1;
	}
	if (r == 0 && should_fault(F_LINK_EIO, b)) {
		errno = EIO;
		return -1;
	}
	return r;
}

int
rename(const char *a, const char *b)
{
	REAL(int, rename, (const char *, const char *));
	int r;

	if (should_fault(F_RENAME_ENOSPC, b)) {
		errno = ENOSPC;
		return -1;
	}
	r = real_rename(a, b);
	if (r == 0 && should_fault(F_RENAME_ENOENT, b)) {
		errno = ENOENT;
		return -1;
	}
	if (r == 0 && should_fault(F_RENAME_KILL, b))
		kill(getpid(), SIGKILL);
	return r;
}

int
unlink(const char *p)
{
	REAL(int, unlink, (const char *));
	int r;

	if (should_fault(F_UNLINK_ESTALE, p)) {
		errno = ESTALE;
		return -1;
	}
	r = real_unlink(p);
	if (r == 0 && should_fault(F_UNLINK_ENOENT, p)) {
		errno = ENOENT;
		return -1;
	}
	if (r == 0 && should_fault(F_UNLINK_KILL, p))
		kill(getpid(), SIGKILL);
	return r;
}

/* --- stale attributes: the first result seen per path, kept ----------- */

#define STALE_SLOTS 256
static struct {
	char path[256];
	struct stat st;
} stale_cache[STALE_SLOTS];

static void
stale_filter(const char *path, struct stat *st)
{
	int free_slot = -1;

	if (path == NULL || strlen(path) >= sizeof stale_cache[0].path)
		return;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < STALE_SLOTS; i++) {
		if (stale_cache[i].path[0] == '\0') {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (strcmp(stale_cache[i].path, path) == 0) {
			pthread_mutex_unlock(&mu);
			if (should_fault(F_STAT_STALE, path))
				*st = stale_cache[i].st;
			return;
		}
	}
	if (free_slot >= 0) {
		strcpy(stale_cache[free_slot].path, path);
		stale_cache[free_slot].st = *st;
	}
	pthread_mutex_unlock(&mu);
}

static const char *
fd_path(int fd, char *buf, size_t len)
{
	char link_name[64];
	ssize_t n;

	snprintf(link_name, sizeof link_name, "/proc/self/fd/%d", fd);
	n = readlink(link_name, buf, len - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

int
stat(const char *p, struct stat *st)
{
	REAL(int, stat, (const char *, struct stat *));
	int r;

	if (should_fault(F_STAT_ESTALE, p)) {
		errno = ESTALE;
		return -1;
	}
	r = real_stat(p, st);
	if (r == 0)
		stale_filter(p, st);
	return r;
}

int
lstat(const char *p, struct stat *st)
{
	REAL(int, lstat, (const char *, struct stat *));

	if (should_fault(F_STAT_ESTALE, p)) {
		errno = ESTALE;
		return -1;
	}
	return real_lstat(p, st);
}

int
fstat(int fd, struct stat *st)
{
	REAL(int, fstat, (int, struct stat *));
	char buf[512];
	int r = real_fstat(fd, st);

	if (!configured)
		configure();
	if (r == 0 && (nth[F_STAT_STALE] != 0 || every[F_STAT_STALE] != 0))
		stale_filter(fd_path(fd, buf, sizeof buf), st);
	return r;
}

static int
open_common(const char *p, int flags, mode_t mode, int at, int dirfd)
{
	REAL(int, open, (const char *, int, ...));
	REAL(int, openat, (int, const char *, int, ...));

	if (should_fault(F_OPEN_ESTALE, p)) {
		errno = ESTALE;
		return -1;
	}
	return at ? real_openat(dirfd, p, flags, mode) : real_open(p, flags, mode);
}

int
open(const char *p, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	return open_common(p, flags, mode, 0, 0);
}

int
open64(const char *p, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	return open_common(p, flags, mode, 0, 0);
}

int
openat(int dirfd, const char *p, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	return open_common(p, flags, mode, 1, dirfd);
}

static int
fd_matches(enum fault f, int fd)
{
	char buf[512];

	if (!configured)
		configure();
	if (nth[f] == 0 && every[f] == 0)
		return 0;
	return should_fault(f, fd_path(fd, buf, sizeof buf));
}

ssize_t
write(int fd, const void *b, size_t n)
{
	REAL(ssize_t, write, (int, const void *, size_t));

	if (fd > 2 && fd_matches(F_WRITE_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	if (fd > 2 && fd_matches(F_WRITE_EDQUOT, fd)) {
		errno = EDQUOT;
		return -1;
	}
	return real_write(fd, b, n);
}

int
fsync(int fd)
{
	REAL(int, fsync, (int));

	if (fd_matches(F_FSYNC_ENOSPC, fd)) {
		errno = ENOSPC;
		return -1;
	}
	if (fd_matches(F_FSYNC_EDQUOT, fd)) {
		errno = EDQUOT;
		return -1;
	}
	return real_fsync(fd);
}
