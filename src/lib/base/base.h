/*
 * base.h - errors, host identity and careful file operations shared by
 * every herald module.
 *
 * Every system call that can fail on NFS goes through here, so the rules
 * live in one place: a failed call is reported with the call, the path and
 * strerror(); ESTALE is retried a bounded number of times; a rename or
 * link whose reply may have been lost is checked with stat().
 */
#ifndef HERALD_BASE_H
#define HERALD_BASE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define HERALD_VERSION "0.1.0"

/* Exit codes of programs run by the MTA (sysexits.h values). */
#define HERALD_EX_OK 0
#define HERALD_EX_USAGE 64
#define HERALD_EX_NOUSER 67
#define HERALD_EX_SOFTWARE 70
#define HERALD_EX_TEMPFAIL 75

#define HERALD_ERROR (herald_error_quark())
GQuark herald_error_quark(void);

enum herald_error_code {
	HERALD_ERR_IO = 1,	/* a system call failed */
	HERALD_ERR_TIMEOUT,	/* a lock could not be had in time */
	HERALD_ERR_LOST,	/* a lock we held was taken over */
	HERALD_ERR_FORMAT,	/* a file does not parse */
	HERALD_ERR_INVALID,	/* a bad argument or setting */
	HERALD_ERR_NOTFOUND,	/* a named thing does not exist */
	HERALD_ERR_EXISTS,	/* a named thing exists already */
};

/* Sets *error from errno: "<what formatted> failed: <strerror>". */
void set_errno_error(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Same, with an explicit errno value. */
void set_errno_error_n(GError **error, int err, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* The host name herald uses in file names and logs: HERALD_HOST, else the
 * site setting site.host (set by site_load), else gethostname().  Only
 * [A-Za-z0-9-] survive; anything else becomes '-'. */
const char *herald_host(void);
void herald_set_host(const char *host);

/* A random hex string of 2*bytes characters (libsodium). */
char *random_hex(size_t bytes);

/* Wall-clock microseconds since the epoch (local clock: for names and logs
 * only, never for lock or lease expiry, see fs_server_now). */
int64_t now_usec(void);

/* How many times an operation that failed with ESTALE is retried. */
#define FS_ESTALE_RETRIES 5

/* Path operations that retry on ESTALE (NFS: a cached file handle went
 * stale; looking the path up again usually cures it). They return the
 * syscall's result and leave errno set. */
int fs_stat(const char *path, struct stat *st);
int fs_open(const char *path, int flags, mode_t mode);
int fs_unlink(const char *path);

/* rename() that survives a lost NFS reply: when rename reports ENOENT but
 * the source is gone and the target is the inode we moved, it succeeded.
 * Returns 0, or -1 with errno set. src_ino is the inode of src as stat'ed
 * before (0: unknown, then ENOENT stays a failure). */
int fs_rename_checked(const char *src, const char *dst, ino_t src_ino);

/* Writes all of buf, retrying on EINTR and short writes. */
int fs_write_all(int fd, const void *buf, size_t len, const char *path,
		 GError **error);

/* fsync(fd) then close(fd); *fd is set to -1 in every case. */
int fs_sync_close(int *fd, const char *path, GError **error);

/* fsync of a directory, so a rename or create in it is durable. */
int fs_sync_dir(const char *dir, GError **error);

/* mkdir -p with the given mode; an existing directory is fine. */
int fs_mkdir_p(const char *path, mode_t mode, GError **error);

/* Creates path (O_EXCL) and writes data, leaving it open and not yet
 * synced: *fd_r gets the descriptor (for fs_sync_close later), *ino_r the
 * inode (to judge a later rename).  On failure the file is removed and -1
 * returned. */
int fs_create_written(const char *path, const void *data, size_t len,
		      int *fd_r, ino_t *ino_r, GError **error);

/* Creates path (O_EXCL), writes data, fsyncs and closes it: the first half
 * of every durable write.  *ino_r gets its inode (to judge a later rename).
 * On failure the file is removed and -1 returned. */
int fs_create_synced(const char *path, const void *data, size_t len,
		     ino_t *ino_r, GError **error);

/* Asks the kernel to start writing fd's data now, without waiting: a later
 * fsync of it (one of many, say) then finds the I/O under way.  Only a
 * hint: it makes nothing durable and reports nothing. */
void fs_start_writeback(int fd);

/* Renames tmp (inode ino) to path and fsyncs the directory dir; on failure
 * removes tmp.  The second half of every durable write. */
int fs_commit_rename(const char *tmp, const char *path, const char *dir,
		     ino_t ino, GError **error);

/* Writes data to path atomically: path.tmp.<host>.<pid>, fsync, rename,
 * fsync of the directory.  Readers see the old file or the new one. */
int fs_write_atomic(const char *path, const void *data, size_t len,
		    GError **error);

/* Replaces path's content, for a writer that holds a lock over it (no
 * other process writes it at once): writes path.next (kept from the last
 * time, or made), fsyncs it, exchanges the two names in one step
 * (renameat2 RENAME_EXCHANGE) and fsyncs the directory.  Readers see the
 * old content or the new, as with fs_write_atomic, but no inode is made
 * or freed (on ext4 without a journal each new inode costs a look at
 * every one freed in the last minutes).  On NFS, or a file system that
 * cannot exchange names, it is fs_write_atomic.
 * For files of one page (4 KiB) at most, read with fs_read_swapped: a
 * reader that opened the file and read it only after two more writes has
 * the file being written then, emptied and not yet filled. */
int fs_write_swap(const char *path, const void *data, size_t len,
		  GError **error);

/* fs_read_file for a file written with fs_write_swap: the file is read
 * in one read() (no write can fall between two), and read again, from
 * its name (which holds the whole current file), when it was empty or
 * grew meanwhile.  A file of one page is never seen half written: the
 * kernel sets its new size after it copied the page's bytes. */
int fs_read_swapped(const char *path, char **data_r, size_t *len_r,
		    GError **error);

/* Whether path is on NFS (or cannot be looked at). */
gboolean fs_on_nfs(const char *path);

/* Reads a GLib key file: 1 with *keys_r (g_key_file_free it), 0 when
 * the file does not exist, -1 when it cannot be read or parsed (the error
 * names the path).  The file's bytes are wiped from memory after parsing
 * (key files of secrets: webhooks, API tokens). */
int fs_read_keyfile(const char *path, GKeyFile **keys_r, GError **error);
/* Reads a whole file.  Returns 1 and fills *data_r and *len_r, 0 when the file
 * does not exist, -1 on another error. */
int fs_read_file(const char *path, char **data_r, size_t *len_r,
		 GError **error);

/* Like fs_read_file, but a file on a local file system is mapped instead
 * of copied (MAP_PRIVATE and writable: writes stay in this process, and
 * only the pages read are faulted in); *mapped_r says which: unmap with
 * fs_unmap_file, else g_free.  The data is NUL-terminated only when read.
 * Never on NFS: a page faulted after another host removed the file would
 * end the process (SIGBUS), so there the file is read. */
int fs_load_file(const char *path, char **data_r, size_t *len_r,
		 gboolean *mapped_r, GError **error);
void fs_unmap_file(char *data, size_t len);

/* The names in directory dir that start with prefix (NULL: any), sorted,
 * without dot-files; NULL with *error when it cannot be read. */
GPtrArray *fs_dir_names(const char *dir, const char *prefix, GError **error);

/* For g_ptr_array_sort over arrays of C strings. */
gint str_ptr_compare(gconstpointer a, gconstpointer b);

/* The directory part of path (newly allocated). */
char *fs_dirname(const char *path);

#endif
