/*
 * lock.c - NFS-safe locks with a lifetime, judged by the file server's clock.
 *
 * Layout of lock NAME under DIR:
 *
 *     DIR/NAME/lock                          the lock file
 *     DIR/NAME/<host>.<pid>.<rand>.claim     its holder's hard link to it
 *     DIR/NAME/<host>.<pid>.<rand>.free      ... once that holder released
 *
 * The lock's expiry is the mtime of the shared inode.  "Now" is the mtime
 * of a file this process just wrote under DIR (lock_server_now), so every
 * host judges expiry by the file server's clock, whatever its own says.
 *
 * Taking a lock that does not exist yet (Mailman's recipe, repaired):
 *   1. create our claim file with O_EXCL and set its mtime to now+lifetime;
 *   2. link(claim, lock), and ignore what link() says: an NFS reply can be
 *      lost and the retransmission answer EEXIST although the link was
 *      made;
 *   3. we hold the lock iff stat(claim) shows link count 2 and stat(lock)
 *      the same inode.
 *
 * Taking an existing lock: the claim name of a holder is unique to one
 * acquisition and never reused.  A lock is taken over by renaming its
 * current name (a .free one, or a .claim one whose expiry has passed) to
 * our own claim name.  rename() moves one directory entry atomically, so
 * of any number of contenders exactly one can move a given name; the
 * others get ENOENT and look again.
 *
 * Why a takeover can never remove a lock taken after it was judged stale
 * (the race that Mailman's break() has):
 *   - A contender judges a *name*, not the lock file: "name N is .free",
 *     or "name N's expiry has passed".  It then acts on N alone (utimes
 *     then rename of N).  If anyone took the lock meanwhile, they renamed N
 *     away, so our utimes/rename of N fails with ENOENT and we start over.
 *     The lock file itself is never unlinked or replaced.
 *   - A name's state only moves forward.  A .free name stays free until it
 *     is renamed.  A .claim name is expired only once the holder let its
 *     expiry pass; nobody moves the mtime of a name back to the past
 *     (release is a rename, not a touch), and a new .claim name comes into
 *     being only by a rename done *after* the taker set the inode's mtime
 *     into the future (step "pre-touch" in take_over).  So a name judged
 *     expired was really expired at that moment, and a name that is held
 *     and valid is never seen as expired by anyone until its holder stops
 *     refreshing it.
 *   - What remains is the limit of every lease: a holder stopped for longer
 *     than its lifetime may find on waking that its lock was taken.
 *     lock_refresh() and lock_held() tell it so (its claim name is gone).
 *
 * A stale attribute cache on an NFS client could show an old, expired
 * mtime for a lock that its holder just refreshed; expiry is therefore
 * read from a freshly opened file (close-to-open consistency revalidates
 * attributes), and judged twice before a takeover.
 */
#include "store/lock.h"
#include "base/base.h"
#include "base/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCK_SUBSYS "locks"

struct lock {
	char *dir;		/* DIR */
	char *name;		/* NAME */
	char *lock_dir;		/* DIR/NAME */
	char *lock_path;	/* DIR/NAME/lock */
	char *claim_path;	/* our current claim name (NULL when not held) */
	int64_t lifetime_us;
	int64_t expiry_us;	/* server clock; valid while claim_path != NULL */
	ino_t ino;		/* the lock inode we hold */
};

static int64_t
mtime_us(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000 + st->st_mtim.tv_nsec / 1000;
}

static int
set_mtime(const char *path, int64_t us)
{
	struct timespec ts[2];

	ts[0].tv_sec = us / 1000000;
	ts[0].tv_nsec = (us % 1000000) * 1000;
	ts[1] = ts[0];
	for (int i = 0;; i++) {
		if (utimensat(AT_FDCWD, path, ts, 0) == 0)
			return 0;
		if (errno != ESTALE || i >= FS_ESTALE_RETRIES)
			return -1;
	}
}

/* --- the server clock ------------------------------------------------ */

struct clock_file {
	char *path;
	int fd;
};

static GHashTable *clocks;	/* dir -> struct clock_file */
/* The web service's threads take locks at once: the table and its files
 * are one thread's at a time (a clock read is a write and an fstat). */
static GMutex clocks_lock;

static void
clock_file_free(gpointer p)
{
	struct clock_file *c = p;

	if (c->fd >= 0)
		close(c->fd);
	g_free(c->path);
	g_free(c);
}

static struct clock_file *
clock_for(const char *dir, GError **error)
{
	struct clock_file *c;
	char *cdir;

	if (clocks == NULL)
		clocks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					       clock_file_free);
	c = g_hash_table_lookup(clocks, dir);
	if (c != NULL && c->fd >= 0)
		return c;
	cdir = g_build_filename(dir, ".clock", NULL);
	if (fs_mkdir_p(cdir, 0770, error) < 0) {
		g_free(cdir);
		return NULL;
	}
	c = g_new0(struct clock_file, 1);
	c->path = g_strdup_printf("%s/%s.%d", cdir, herald_host(), (int)getpid());
	g_free(cdir);
	c->fd = fs_open(c->path, O_RDWR | O_CREAT, 0660);
	if (c->fd < 0) {
		set_errno_error(error, "open(%s)", c->path);
		clock_file_free(c);
		return NULL;
	}
	g_hash_table_replace(clocks, g_strdup(dir), c);
	return c;
}

int
lock_server_now(const char *dir, int64_t *now_r, GError **error)
{
	struct clock_file *c;
	struct stat st;
	int ret = 0;

	g_mutex_lock(&clocks_lock);
	if ((c = clock_for(dir, error)) == NULL) {
		ret = -1;
	} else if (pwrite(c->fd, "t", 1, 0) != 1 || fstat(c->fd, &st) < 0) {
		/* A write makes the file server stamp the mtime with its own
		 * clock (on NFS, fstat first flushes the write, then asks the
		 * server). */
		set_errno_error(error, "write/fstat(%s)", c->path);
		/* The handle may have gone stale: reopen next time. */
		g_hash_table_remove(clocks, dir);
		ret = -1;
	} else {
		*now_r = mtime_us(&st);
	}
	g_mutex_unlock(&clocks_lock);
	return ret;
}

void
lock_cleanup_clocks(void)
{
	GHashTableIter it;
	gpointer val;

	g_mutex_lock(&clocks_lock);
	if (clocks != NULL) {
		g_hash_table_iter_init(&it, clocks);
		while (g_hash_table_iter_next(&it, NULL, &val))
			unlink(((struct clock_file *)val)->path);
		g_clear_pointer(&clocks, g_hash_table_destroy);
	}
	g_mutex_unlock(&clocks_lock);
}

void
lock_gc_clocks(const char *dir)
{
	char *cdir = g_build_filename(dir, ".clock", NULL);
	const char *host = herald_host();
	size_t hlen = strlen(host);
	GDir *d = g_dir_open(cdir, 0, NULL);
	const char *ent;

	while (d != NULL && (ent = g_dir_read_name(d)) != NULL) {
		if (strncmp(ent, host, hlen) != 0 || ent[hlen] != '.')
			continue;
		pid_t pid = (pid_t)atoi(ent + hlen + 1);
		if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH) {
			char *p = g_build_filename(cdir, ent, NULL);
			unlink(p);
			g_free(p);
		}
	}
	if (d != NULL)
		g_dir_close(d);
	g_free(cdir);
}

/* --- lock objects ---------------------------------------------------- */

struct lock *
lock_new(const char *dir, const char *name, int64_t lifetime_ms)
{
	struct lock *l = g_new0(struct lock, 1);

	l->dir = g_strdup(dir);
	l->name = g_strdup(name);
	l->lock_dir = g_build_filename(dir, name, NULL);
	l->lock_path = g_build_filename(l->lock_dir, "lock", NULL);
	l->lifetime_us = lifetime_ms * 1000;
	return l;
}

void
lock_free(struct lock **lp)
{
	struct lock *l = *lp;

	if (l == NULL)
		return;
	if (l->claim_path != NULL)
		(void)lock_release(l, NULL);
	g_free(l->dir);
	g_free(l->name);
	g_free(l->lock_dir);
	g_free(l->lock_path);
	g_free(l->claim_path);
	g_free(l);
	*lp = NULL;
}

gboolean
lock_is_mine(const struct lock *l)
{
	return l->claim_path != NULL;
}

int64_t
lock_expiry(const struct lock *l)
{
	return l->expiry_us;
}

const char *
lock_name(const struct lock *l)
{
	return l->name;
}

const char *
lock_claim_name(const struct lock *l)
{
	return l->claim_path != NULL ? strrchr(l->claim_path, '/') + 1 : NULL;
}

static char *
new_claim_path(const struct lock *l)
{
	char *rnd = random_hex(6);
	char *p = g_strdup_printf("%s/%s.%d.%s.claim", l->lock_dir,
				  herald_host(), (int)getpid(), rnd);

	g_free(rnd);
	return p;
}

static gboolean
is_holder_name(const char *ent)
{
	return g_str_has_suffix(ent, ".claim") || g_str_has_suffix(ent, ".free");
}

/* Finds the name linked to the lock inode.  Returns 1 with *name_r, 0 when
 * the inode has no other name, -1 on error.  Also removes claim files of
 * attempts that died before their link() (link count 1, expired long ago). */
static int
find_holder(const struct lock *l, ino_t ino, int64_t now, char **name_r,
	    GError **error)
{
	DIR *d;
	struct dirent *e;
	int found = 0;

	*name_r = NULL;
	d = opendir(l->lock_dir);
	if (d == NULL) {
		set_errno_error(error, "opendir(%s)", l->lock_dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		char *p;

		if (!is_holder_name(e->d_name))
			continue;
		p = g_build_filename(l->lock_dir, e->d_name, NULL);
		if (fs_stat(p, &st) < 0) {
			g_free(p);
			continue;	/* renamed meanwhile */
		}
		if (st.st_ino == ino && found == 0) {
			*name_r = p;
			found = 1;
			continue;
		}
		/* An orphan: created, never linked.  Once it has not changed
		 * for a lifetime nobody is about to link it.  (ctime, not
		 * mtime: an NFSv4 exclusive create leaves a verifier in the
		 * mtime until the creator sets it.) */
		if (st.st_ino != ino && st.st_nlink == 1 &&
		    (int64_t)st.st_ctim.tv_sec * 1000000 + l->lifetime_us < now)
			(void)fs_unlink(p);
		g_free(p);
	}
	closedir(d);
	return found;
}

/* Reads a name's expiry from a freshly opened descriptor: on NFS, open()
 * revalidates the attributes (close-to-open), a bare stat() may not. */
static int
fresh_mtime(const char *path, int64_t *mtime_r)
{
	struct stat st;
	int fd = fs_open(path, O_RDONLY, 0);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	close(fd);
	*mtime_r = mtime_us(&st);
	return 0;
}

/* We hold the lock iff our claim and the lock file are one inode with link
 * count 2 (or more, while someone adopts an ownerless lock, see below). */
static int
verify_ours(struct lock *l, const char *claim, GError **error)
{
	struct stat cst, lst;

	if (fs_stat(claim, &cst) < 0) {
		if (errno == ENOENT)
			return 0;
		set_errno_error(error, "stat(%s)", claim);
		return -1;
	}
	if (fs_stat(l->lock_path, &lst) < 0) {
		if (errno == ENOENT)
			return 0;
		set_errno_error(error, "stat(%s)", l->lock_path);
		return -1;
	}
	if (cst.st_ino != lst.st_ino || cst.st_dev != lst.st_dev ||
	    cst.st_nlink < 2)
		return 0;
	l->ino = cst.st_ino;
	return 1;
}

static void
become_holder(struct lock *l, char *claim, int64_t expiry)
{
	g_free(l->claim_path);
	l->claim_path = claim;
	l->expiry_us = expiry;
}

/* The lock file does not exist: create it by link().  1 acquired, 0 lost
 * the race (the lock exists now), -1 error. */
static int
create_lock(struct lock *l, int64_t now, GError **error)
{
	char *claim = new_claim_path(l);
	int64_t expiry = now + l->lifetime_us;
	int fd, r;

	fd = fs_open(claim, O_WRONLY | O_CREAT | O_EXCL, 0660);
	if (fd < 0) {
		set_errno_error(error, "open(%s)", claim);
		g_free(claim);
		return -1;
	}
	close(fd);
	/* The expiry goes on before the link, so the lock never appears
	 * with a past mtime that a contender could judge expired. */
	if (set_mtime(claim, expiry) < 0) {
		/* ENOENT: we stalled so long that a contender removed our
		 * unlinked claim as an orphan; just try again. */
		r = errno == ENOENT ? 0 : -1;
		if (r < 0)
			set_errno_error(error, "utimensat(%s)", claim);
		(void)fs_unlink(claim);
		g_free(claim);
		return r;
	}
	if (link(claim, l->lock_path) < 0 && errno != EEXIST)
		log_warning(LOCK_SUBSYS, "link(%s, %s) reported %s; checking "
			    "with stat", claim, l->lock_path, g_strerror(errno));
	r = verify_ours(l, claim, error);
	if (r == 1) {
		become_holder(l, claim, expiry);
		return 1;
	}
	if (fs_unlink(claim) < 0 && errno != ENOENT)
		log_warning(LOCK_SUBSYS, "unlink(%s) failed: %s", claim,
			    g_strerror(errno));
	g_free(claim);
	return r < 0 ? -1 : 0;
}

/* Takes the lock over from holder name `from`, which was judged .free or
 * expired.  1 acquired, 0 someone else was quicker, -1 error. */
static int
take_over(struct lock *l, const char *from, ino_t ino, int64_t now,
	  GError **error)
{
	char *claim = new_claim_path(l);
	int64_t expiry = now + l->lifetime_us;
	int r;

	/* Pre-touch: the inode's expiry moves to the future *before* our
	 * claim name exists, so our name is never seen expired.  ENOENT:
	 * another contender renamed `from` first. */
	if (set_mtime(from, expiry) < 0) {
		r = errno == ENOENT ? 0 : -1;
		if (r < 0)
			set_errno_error(error, "utimensat(%s)", from);
		g_free(claim);
		return r;
	}
	if (fs_rename_checked(from, claim, ino) < 0) {
		r = errno == ENOENT ? 0 : -1;
		if (r < 0)
			set_errno_error(error, "rename(%s, %s)", from, claim);
		g_free(claim);
		return r;
	}
	/* Other contenders may have pre-touched too; set our own expiry. */
	if (set_mtime(claim, expiry) < 0 && errno != ENOENT) {
		set_errno_error(error, "utimensat(%s)", claim);
		g_free(claim);
		return -1;
	}
	r = verify_ours(l, claim, error);
	if (r == 1)
		become_holder(l, claim, expiry);
	else
		g_free(claim);
	return r;
}

/* The lock file exists but no name links to it: someone removed the claim
 * by hand.  Once it has expired we adopt it: pre-touch, link our claim name
 * to it, and keep it only if ours is its single other name. */
static int
adopt_orphan(struct lock *l, ino_t ino, int64_t now, GError **error)
{
	char *claim = new_claim_path(l);
	int64_t expiry = now + l->lifetime_us;
	int r;

	log_warning(LOCK_SUBSYS, "lock %s has no holder name; adopting it",
		    l->lock_path);
	if (set_mtime(l->lock_path, expiry) < 0 ||
	    (link(l->lock_path, claim) < 0 && errno != EEXIST)) {
		r = errno == ENOENT ? 0 : -1;
		if (r < 0)
			set_errno_error(error, "adopt(%s)", l->lock_path);
		g_free(claim);
		return r;
	}
	struct stat st;
	if (fs_stat(claim, &st) == 0 && st.st_ino == ino && st.st_nlink == 2) {
		r = verify_ours(l, claim, error);
		if (r == 1) {
			become_holder(l, claim, expiry);
			return 1;
		}
	}
	(void)fs_unlink(claim);
	g_free(claim);
	return 0;
}

/* Whether claim path names a process of this host that no longer exists.
 * Such a holder can neither refresh nor release, so its lock can be taken
 * at once instead of after its lifetime (a restarted master must not wait
 * for its own dead predecessor's leases).  Another host's processes cannot
 * be checked and always wait for expiry. */
static gboolean
holder_is_dead_here(const char *claim)
{
	const char *base = strrchr(claim, '/') + 1;
	const char *host = herald_host();
	size_t hlen = strlen(host);
	char *end;
	long pid;

	if (strncmp(base, host, hlen) != 0 || base[hlen] != '.')
		return FALSE;
	pid = strtol(base + hlen + 1, &end, 10);
	if (pid <= 0 || *end != '.' || pid == getpid())
		return FALSE;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int
lock_try(struct lock *l, GError **error)
{
	struct stat st;
	int64_t now, mtime;
	char *holder = NULL;
	int r;

	if (l->claim_path != NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "lock %s is already held by this handle", l->name);
		return -1;
	}
	if (lock_server_now(l->dir, &now, error) < 0)
		return -1;
	if (fs_stat(l->lock_path, &st) < 0) {
		if (errno != ENOENT) {
			set_errno_error(error, "stat(%s)", l->lock_path);
			return -1;
		}
		if (fs_mkdir_p(l->lock_dir, 0770, error) < 0)
			return -1;
		return create_lock(l, now, error);
	}
	r = find_holder(l, st.st_ino, now, &holder, error);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (mtime_us(&st) > now)
			return 0;
		return adopt_orphan(l, st.st_ino, now, error);
	}
	if (g_str_has_suffix(holder, ".free")) {
		r = take_over(l, holder, st.st_ino, now, error);
		g_free(holder);
		return r;
	}
	if (holder_is_dead_here(holder)) {
		log_warning(LOCK_SUBSYS, "lock %s: holder %s is a dead process of "
			    "this host; taking it over", l->name,
			    strrchr(holder, '/') + 1);
		r = take_over(l, holder, st.st_ino, now, error);
		g_free(holder);
		return r;
	}
	/* A .claim name: take it only if its expiry has passed, judged twice
	 * from fresh attributes (one stale answer must not break a lock). */
	for (int i = 0; i < 2; i++) {
		if (fresh_mtime(holder, &mtime) < 0) {
			/* ENOENT: taken over or released meanwhile; look again. */
			r = errno == ENOENT ? 0 : -1;
			if (r < 0)
				set_errno_error(error, "open(%s)", holder);
			g_free(holder);
			return r;
		}
		if (mtime > now) {
			g_free(holder);
			return 0;
		}
		if (i == 0 && lock_server_now(l->dir, &now, error) < 0) {
			g_free(holder);
			return -1;
		}
	}
	log_warning(LOCK_SUBSYS, "lock %s: holder %s expired %.3f s ago; "
		    "taking it over", l->name, strrchr(holder, '/') + 1,
		    (double)(now - mtime) / 1e6);
	r = take_over(l, holder, st.st_ino, now, error);
	g_free(holder);
	return r;
}

static int64_t
mono_us(void)
{
	return g_get_monotonic_time();
}

int
lock_acquire(struct lock *l, int64_t timeout_ms, GError **error)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : mono_us() + timeout_ms * 1000;
	/* Backoff in us: doubles while under 25 ms (so at most 32 ms); waiters
	 * sleep half to one and a half times it.  Waiters are not woken when
	 * the lock is released, so a longer cap leaves the lock idle. */
	int64_t backoff = 1000;

	for (;;) {
		int r = lock_try(l, error);

		if (r < 0)
			return -1;
		if (r == 1)
			return 0;
		if (mono_us() >= deadline) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT,
				    "lock %s: not acquired within %lld ms",
				    l->name, (long long)timeout_ms);
			return -1;
		}
		/* Jitter spreads contenders so they do not retry in step. */
		int64_t sleep_us = backoff / 2 + g_random_int_range(0, (gint32)backoff);
		if (mono_us() + sleep_us > deadline)
			sleep_us = deadline - mono_us();
		if (sleep_us > 0)
			g_usleep((gulong)sleep_us);
		if (backoff < 25000)
			backoff *= 2;
	}
}

int
lock_held(struct lock *l, GError **error)
{
	int64_t now;
	int r;

	if (l->claim_path == NULL)
		return 0;
	r = verify_ours(l, l->claim_path, error);
	if (r <= 0)
		return r;
	if (lock_server_now(l->dir, &now, error) < 0)
		return -1;
	return now < l->expiry_us ? 1 : 0;
}

int
lock_refresh(struct lock *l, GError **error)
{
	int64_t now, expiry;
	int r;

	if (l->claim_path == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_LOST,
			    "lock %s is not held", l->name);
		return -1;
	}
	if (lock_server_now(l->dir, &now, error) < 0)
		return -1;
	/* Refreshing after our own expiry would revive a lock someone may
	 * already have judged expired: it is lost instead. */
	if (now >= l->expiry_us) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_LOST,
			    "lock %s expired %.3f s ago before it was refreshed",
			    l->name, (double)(now - l->expiry_us) / 1e6);
		g_clear_pointer(&l->claim_path, g_free);
		return -1;
	}
	expiry = now + l->lifetime_us;
	/* By path, not by descriptor: if our name was taken over, this fails
	 * with ENOENT instead of moving the new holder's expiry. */
	if (set_mtime(l->claim_path, expiry) < 0) {
		if (errno != ENOENT) {
			set_errno_error(error, "utimensat(%s)", l->claim_path);
			return -1;
		}
		r = 0;
	} else {
		r = verify_ours(l, l->claim_path, error);
		if (r < 0)
			return -1;
	}
	if (r == 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_LOST,
			    "lock %s was taken over by another holder", l->name);
		g_clear_pointer(&l->claim_path, g_free);
		return -1;
	}
	l->expiry_us = expiry;
	return 0;
}

int
lock_release(struct lock *l, GError **error)
{
	char *free_path;
	int ret = 0;

	if (l->claim_path == NULL)
		return 0;
	free_path = g_strndup(l->claim_path,
			      strlen(l->claim_path) - strlen(".claim"));
	{
		char *tmp = g_strconcat(free_path, ".free", NULL);
		g_free(free_path);
		free_path = tmp;
	}
	if (fs_rename_checked(l->claim_path, free_path, l->ino) < 0) {
		if (errno == ENOENT) {
			log_warning(LOCK_SUBSYS, "lock %s was lost before its "
				    "release", l->name);
		} else {
			set_errno_error(error, "rename(%s, %s)", l->claim_path,
					free_path);
			ret = -1;
		}
	}
	g_free(free_path);
	g_clear_pointer(&l->claim_path, g_free);
	return ret;
}

int
lock_inspect(const char *dir, const char *name, char **claim_r,
	     int64_t *expiry_r, GError **error)
{
	struct lock *l = lock_new(dir, name, 0);
	struct stat st;
	char *holder = NULL;
	int r;

	if (fs_stat(l->lock_path, &st) < 0) {
		r = errno == ENOENT ? 0 : -1;
		if (r < 0)
			set_errno_error(error, "stat(%s)", l->lock_path);
		lock_free(&l);
		return r;
	}
	r = find_holder(l, st.st_ino, 0, &holder, error);
	if (r >= 0) {
		*claim_r = holder != NULL ? g_path_get_basename(holder)
					  : g_strdup("(no holder name)");
		*expiry_r = mtime_us(&st);
		r = 1;
	}
	g_free(holder);
	lock_free(&l);
	return r;
}
