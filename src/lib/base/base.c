/*
 * base.c - errors, host identity and careful file operations.
 *
 * The wrappers here encode what NFS taught Mailman's admins the hard way:
 * check every call, fsync the file and then its directory before saying
 * "stored", retry ESTALE by looking the path up again, and judge a rename
 * whose reply was lost by what stat() shows afterwards.
 */
#include "base/base.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <unistd.h>

GQuark
herald_error_quark(void)
{
	return g_quark_from_static_string("herald-error");
}

static void set_errno_error_va(GError **error, int err, const char *fmt,
			       va_list ap) G_GNUC_PRINTF(3, 0);

static void
set_errno_error_va(GError **error, int err, const char *fmt, va_list ap)
{
	char *what;

	if (error == NULL)
		return;
	what = g_strdup_vprintf(fmt, ap);
	g_set_error(error, HERALD_ERROR,
		    err == ETIMEDOUT ? HERALD_ERR_TIMEOUT : HERALD_ERR_IO,
		    "%s failed: %s", what, g_strerror(err));
	g_free(what);
}

void
set_errno_error(GError **error, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	set_errno_error_va(error, err, fmt, ap);
	va_end(ap);
	errno = err;
}

void
set_errno_error_n(GError **error, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_errno_error_va(error, err, fmt, ap);
	va_end(ap);
}

static char *host_name;

static char *
sanitize_host(const char *in)
{
	char *out = g_strdup(in);

	for (char *p = out; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-')
			*p = '-';
	return out;
}

void
herald_set_host(const char *host)
{
	/* The environment wins over the site setting, so tests can run two
	 * "hosts" on one machine with one configuration. */
	if (g_getenv("HERALD_HOST") != NULL && host != NULL)
		return;
	char *name = host != NULL && *host != '\0' ? sanitize_host(host) : NULL;
	/* Unchanged, the name stays: the web service's threads open the site
	 * and call this while others read herald_host(). */
	if (g_strcmp0(name, host_name) == 0) {
		g_free(name);
		return;
	}
	g_free(host_name);
	host_name = name;
}

const char *
herald_host(void)
{
	char buf[256];
	const char *env;

	if (host_name != NULL)
		return host_name;
	env = g_getenv("HERALD_HOST");
	if (env != NULL && *env != '\0') {
		host_name = sanitize_host(env);
		return host_name;
	}
	if (gethostname(buf, sizeof buf) < 0 || buf[0] == '\0')
		g_strlcpy(buf, "localhost", sizeof buf);
	buf[sizeof buf - 1] = '\0';
	/* Only the first label: names stay short and free of dots, which
	 * herald uses as separators in claim file names. */
	char *dot = strchr(buf, '.');
	if (dot != NULL)
		*dot = '\0';
	host_name = sanitize_host(buf);
	return host_name;
}

char *
random_hex(size_t bytes)
{
	unsigned char raw[64];
	char *hex;

	g_assert(bytes <= sizeof raw);
	if (sodium_init() < 0)
		g_error("libsodium failed to initialise");
	randombytes_buf(raw, bytes);
	hex = g_malloc(bytes * 2 + 1);
	sodium_bin2hex(hex, bytes * 2 + 1, raw, bytes);
	return hex;
}

int64_t
now_usec(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Whether a call that failed should be retried: only for ESTALE, a bounded
 * number of times, and each retry is logged. */
static gboolean
retry_estale(const char *call, const char *path, int attempt)
{
	if (errno != ESTALE || attempt >= FS_ESTALE_RETRIES)
		return FALSE;
	log_warning("fs", "%s(%s): stale NFS file handle; looking it up again",
		    call, path);
	errno = ESTALE;
	return TRUE;
}

int
fs_stat(const char *path, struct stat *st)
{
	for (int i = 0;; i++) {
		if (stat(path, st) == 0)
			return 0;
		if (!retry_estale("stat", path, i))
			return -1;
	}
}

int
fs_open(const char *path, int flags, mode_t mode)
{
	for (int i = 0;; i++) {
		int fd = open(path, flags | O_CLOEXEC, mode);

		if (fd >= 0)
			return fd;
		if (!retry_estale("open", path, i))
			return -1;
	}
}

int
fs_unlink(const char *path)
{
	for (int i = 0;; i++) {
		if (unlink(path) == 0)
			return 0;
		if (!retry_estale("unlink", path, i))
			return -1;
	}
}

int
fs_rename_checked(const char *src, const char *dst, ino_t src_ino)
{
	struct stat st;
	int err;

	for (int i = 0;; i++) {
		if (rename(src, dst) == 0)
			return 0;
		err = errno;
		if (!retry_estale("rename", src, i))
			break;
	}
	/* NFS: the server did the rename, the reply was lost, and the
	 * retransmitted request found no source.  If the target now is the
	 * inode we meant to move, the rename happened. */
	if ((err == ENOENT || err == ESTALE || err == EIO) && src_ino != 0) {
		/* Asked more than once: one stale cached answer must not
		 * turn a rename that happened into a failure. */
		for (int i = 0; i < 3; i++)
			if (fs_stat(dst, &st) == 0 && st.st_ino == src_ino &&
			    fs_stat(src, &st) < 0 && errno == ENOENT)
				return 0;
	}
	errno = err;
	return -1;
}

int
fs_write_all(int fd, const void *buf, size_t len, const char *path,
	     GError **error)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			set_errno_error(error, "write(%s)", path);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fs_sync_close(int *fd, const char *path, GError **error)
{
	int ret = 0;

	if (fsync(*fd) < 0) {
		set_errno_error(error, "fsync(%s)", path);
		ret = -1;
	}
	/* close() can report a deferred write error on NFS: it counts. */
	if (close(*fd) < 0 && ret == 0) {
		set_errno_error(error, "close(%s)", path);
		ret = -1;
	}
	*fd = -1;
	return ret;
}

int
fs_sync_dir(const char *dir, GError **error)
{
	int fd = fs_open(dir, O_RDONLY | O_DIRECTORY, 0);

	if (fd < 0) {
		set_errno_error(error, "open(%s)", dir);
		return -1;
	}
	/* Some filesystems refuse fsync on a directory (EINVAL); the rename
	 * is then as durable as that filesystem makes it. */
	if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS) {
		set_errno_error(error, "fsync(%s)", dir);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
fs_mkdir_p(const char *path, mode_t mode, GError **error)
{
	if (g_mkdir_with_parents(path, (int)mode) < 0) {
		set_errno_error(error, "mkdir(%s)", path);
		return -1;
	}
	return 0;
}

char *
fs_dirname(const char *path)
{
	return g_path_get_dirname(path);
}

int
fs_create_written(const char *path, const void *data, size_t len, int *fd_r,
		  ino_t *ino_r, GError **error)
{
	struct stat st;
	int fd = fs_open(path, O_WRONLY | O_CREAT | O_EXCL, 0660);

	if (fd < 0) {
		set_errno_error(error, "open(%s)", path);
		return -1;
	}
	if (fs_write_all(fd, data, len, path, error) < 0)
		goto fail;
	if (fstat(fd, &st) < 0) {
		set_errno_error(error, "fstat(%s)", path);
		goto fail;
	}
	*fd_r = fd;
	*ino_r = st.st_ino;
	return 0;
fail:
	close(fd);
	(void)fs_unlink(path);
	return -1;
}

int
fs_create_synced(const char *path, const void *data, size_t len, ino_t *ino_r,
		 GError **error)
{
	int fd;

	if (fs_create_written(path, data, len, &fd, ino_r, error) < 0)
		return -1;
	if (fs_sync_close(&fd, path, error) < 0) {
		(void)fs_unlink(path);
		return -1;
	}
	return 0;
}

void
fs_start_writeback(int fd)
{
#ifdef SYNC_FILE_RANGE_WRITE
	/* Linux; elsewhere the fsync does all the work, as before. */
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
	(void)fd;
#endif
}

int
fs_commit_rename(const char *tmp, const char *path, const char *dir, ino_t ino,
		 GError **error)
{
	if (fs_rename_checked(tmp, path, ino) < 0) {
		set_errno_error(error, "rename(%s, %s)", tmp, path);
		(void)fs_unlink(tmp);
		return -1;
	}
	/* Without this the new name may not survive a power cut even though
	 * the data does. */
	return fs_sync_dir(dir, error);
}

int
fs_write_atomic(const char *path, const void *data, size_t len,
		GError **error)
{
	static unsigned serial;
	/* A new name each time: never a file that an NFS client may still
	 * hold cached attributes for. */
	char *tmp = g_strdup_printf("%s.tmp.%s.%d.%u", path, herald_host(),
				    (int)getpid(), ++serial);
	char *dir = fs_dirname(path);
	ino_t ino;
	int ret = -1;

	if (fs_create_synced(tmp, data, len, &ino, error) == 0)
		ret = fs_commit_rename(tmp, path, dir, ino, error);
	g_free(tmp);
	g_free(dir);
	return ret;
}

gboolean
fs_on_nfs(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) < 0 || sfs.f_type == NFS_SUPER_MAGIC;
}

int
fs_write_swap(const char *path, const void *data, size_t len, GError **error)
{
	char *dir = fs_dirname(path), *next;
	int fd, ret = -1;

	if (fs_on_nfs(dir)) {
		g_free(dir);
		return fs_write_atomic(path, data, len, error);
	}
	next = g_strconcat(path, ".next", NULL);
	fd = fs_open(next, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	if (fd < 0) {
		set_errno_error(error, "open(%s)", next);
		goto out;
	}
	if (fs_write_all(fd, data, len, next, error) < 0) {
		close(fd);
		goto out;
	}
	if (fs_sync_close(&fd, next, error) < 0)
		goto out;
	if (renameat2(AT_FDCWD, next, AT_FDCWD, path, RENAME_EXCHANGE) < 0) {
		if (errno == EINVAL || errno == ENOSYS) {
			/* The file system cannot exchange: the usual way. */
			ret = fs_write_atomic(path, data, len, error);
			goto out;
		}
		/* No file yet: the new one takes the name (a rename). */
		if (errno != ENOENT || rename(next, path) < 0) {
			set_errno_error(error, "rename(%s, %s)", next, path);
			goto out;
		}
	}
	ret = fs_sync_dir(dir, error);
out:
	g_free(next);
	g_free(dir);
	return ret;
}

/* Opens path to read it and gives its size: 1, 0 when there is no file,
 * -1 with *error. */
static int
open_to_read(const char *path, int *fd_r, size_t *size_r, GError **error)
{
	struct stat st;
	/* Not g_file_get_contents: its open() does not retry ESTALE. */
	int fd = fs_open(path, O_RDONLY, 0);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		set_errno_error(error, "open(%s)", path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		set_errno_error(error, "fstat(%s)", path);
		close(fd);
		return -1;
	}
	*fd_r = fd;
	*size_r = (size_t)st.st_size;
	return 1;
}

int
fs_read_file(const char *path, char **data_r, size_t *len_r, GError **error)
{
	size_t cap, len = 0;
	char *buf;
	int fd, r;

	if ((r = open_to_read(path, &fd, &cap, error)) <= 0)
		return r;
	cap += 1;
	buf = g_malloc(cap);
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {	/* grew since fstat */
			cap *= 2;
			buf = g_realloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			set_errno_error(error, "read(%s)", path);
			g_free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*data_r = buf;
	if (len_r != NULL)
		*len_r = len;
	return 1;
}

/* One read of a whole file: the size it had at open, and a page more to
 * tell if it grew.  1 with the bytes, 0 when there is no file, 2 when it
 * grew while read (a rewrite: the bytes may be torn), -1 on error. */
static int
read_once(const char *path, char **data_r, size_t *len_r, GError **error)
{
	size_t cap;
	ssize_t n;
	char *buf;
	int fd, r;

	if ((r = open_to_read(path, &fd, &cap, error)) <= 0)
		return r;
	cap += 4096;
	buf = g_malloc(cap + 1);
	do
		n = pread(fd, buf, cap, 0);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0) {
		set_errno_error(error, "read(%s)", path);
		g_free(buf);
		return -1;
	}
	buf[n] = '\0';
	*data_r = buf;
	*len_r = (size_t)n;
	return (size_t)n == cap ? 2 : 1;
}

int
fs_read_swapped(const char *path, char **data_r, size_t *len_r,
		GError **error)
{
	int64_t give_up = g_get_monotonic_time() + 200000;
	size_t len = 0;
	int r;

	/* One read() each try, so that no other write falls between two
	 * reads.  Each try opens the name again: the file written, if the
	 * last one was being written.  A file is empty only while a writer
	 * is between its open() and its write(), so one that stays empty
	 * 200 ms is empty (it never is, but nothing hangs); one that keeps
	 * growing is read the usual way. */
	while ((r = read_once(path, data_r, &len, error)) > 0 &&
	       (len == 0 || r == 2) && g_get_monotonic_time() < give_up) {
		g_free(*data_r);
		g_usleep(1000);
	}
	if (r == 2) {
		g_free(*data_r);
		return fs_read_file(path, data_r, len_r, error);
	}
	if (r > 0 && len_r != NULL)
		*len_r = len;
	return r;
}

int
fs_load_file(const char *path, char **data_r, size_t *len_r,
	     gboolean *mapped_r, GError **error)
{
	struct statfs sfs;
	struct stat st;
	void *map;
	int fd = fs_open(path, O_RDONLY, 0);

	*mapped_r = FALSE;
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		set_errno_error(error, "open(%s)", path);
		return -1;
	}
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type == NFS_SUPER_MAGIC ||
	    fstat(fd, &st) < 0 || st.st_size == 0 ||
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		close(fd);
		return fs_read_file(path, data_r, len_r, error);
	}
	close(fd);
	*data_r = map;
	*len_r = (size_t)st.st_size;
	*mapped_r = TRUE;
	return 1;
}

void
fs_unmap_file(char *data, size_t len)
{
	if (data != NULL)
		munmap(data, len);
}

gint
str_ptr_compare(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

GPtrArray *
fs_dir_names(const char *dir, const char *prefix, GError **error)
{
	GError *local = NULL;
	GDir *d = g_dir_open(dir, 0, &local);
	GPtrArray *out;
	const char *ent;

	if (d == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "%s", local->message);
		g_error_free(local);
		return NULL;
	}
	out = g_ptr_array_new_with_free_func(g_free);
	while ((ent = g_dir_read_name(d)) != NULL)
		if (ent[0] != '.' && (prefix == NULL || g_str_has_prefix(ent, prefix)))
			g_ptr_array_add(out, g_strdup(ent));
	g_dir_close(d);
	g_ptr_array_sort(out, str_ptr_compare);
	return out;
}

int
fs_read_keyfile(const char *path, GKeyFile **keys_r, GError **error)
{
	char *data = NULL;
	size_t len = 0;
	int ret = fs_read_file(path, &data, &len, error);

	*keys_r = NULL;
	if (ret == 1) {
		GKeyFile *k = g_key_file_new();

		if (!g_key_file_load_from_data(k, data, len, 0, error)) {
			g_prefix_error(error, "%s: ", path);
			g_key_file_free(k);
			ret = -1;
		} else {
			*keys_r = k;
		}
		memset(data, 0, len);
	}
	g_free(data);
	return ret;
}
