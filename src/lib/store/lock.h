/*
 * lock.h - NFS-safe locks with a lifetime, judged by the file server's clock.
 *
 * A lock is a directory <dir>/<name>/ holding the lock file "lock" and
 * exactly one other hard link to it: the holder's claim file
 * "<host>.<pid>.<random>.claim", or "<...>.free" once released.  The
 * lock's expiry is the shared inode's mtime, set into the future by the
 * holder.  See lock.c for the protocol and why it is safe.
 *
 * The same object serves as a list lock (seconds) and as a lease (a queue
 * slice owned by one host's master, renewed while it lives).
 */
#ifndef HERALD_LOCK_H
#define HERALD_LOCK_H

#include <glib.h>
#include <stdint.h>

struct lock;

/* A handle on lock <dir>/<name>.  lifetime_ms: how long an acquisition or
 * refresh lasts.  Nothing touches the disk until lock_try/lock_acquire. */
struct lock *lock_new(const char *dir, const char *name, int64_t lifetime_ms);
/* Releases the lock if held, then frees; sets *lp to NULL. */
void lock_free(struct lock **lp);

/* One attempt: 1 acquired, 0 held by someone else (not expired), -1 error. */
int lock_try(struct lock *l, GError **error);

/* Waits up to timeout_ms (< 0: for ever) with jittered backoff.  Returns 0
 * when acquired, -1 on timeout (HERALD_ERR_TIMEOUT) or I/O error. */
int lock_acquire(struct lock *l, int64_t timeout_ms, GError **error);

/* 1 while still ours and unexpired, 0 when lost or expired, -1 on error. */
int lock_held(struct lock *l, GError **error);

/* Moves the expiry to now + lifetime.  Fails with HERALD_ERR_LOST when the
 * lock already expired or was taken over: the caller must stop acting on
 * what the lock protects. */
int lock_refresh(struct lock *l, GError **error);

/* Gives the lock up (renames the claim to .free).  Releasing a lock that
 * was lost meanwhile is logged and is not an error. */
int lock_release(struct lock *l, GError **error);

/* Whether this handle believes it holds the lock (no I/O). */
gboolean lock_is_mine(const struct lock *l);
/* Our expiry in server-clock microseconds (valid while held). */
int64_t lock_expiry(const struct lock *l);
const char *lock_name(const struct lock *l);
/* The base name of our claim file while held, else NULL. */
const char *lock_claim_name(const struct lock *l);

/* Who holds <dir>/<name>: 1 with the claim file name and expiry (server
 * clock usec; the claim name ends in .free when released), 0 when the lock
 * was never taken, -1 on error. */
int lock_inspect(const char *dir, const char *name, char **claim_r,
		 int64_t *expiry_r, GError **error);

/* The file server's clock in microseconds: the mtime of a file this process
 * just wrote under dir.  Hosts with skewed clocks agree on it. */
int lock_server_now(const char *dir, int64_t *now_r, GError **error);

/* Removes this process's clock files (at exit). */
void lock_cleanup_clocks(void);

/* Removes clock files left by dead processes of this host under dir. */
void lock_gc_clocks(const char *dir);

#endif
