/*
 * stage.c - a list is built aside and moved into place by rename.
 *
 * The staging dir var/import/stage-<list>/ is a var dir of its own
 * (site_init, then the real etc/herald.conf), so the list, its roster and
 * its archive are made by the library's usual functions.  The commit:
 *   1. write the marker archives/<list>/import-incomplete in the stage;
 *   2. rename the archive store, then its HTML tree, into the real var dir;
 *   3. rename the list's folder into lists/ (the list now exists);
 *   4. remove the marker.
 * A kill before 3 leaves no list, and an archive that carries the marker:
 * the next run removes it and starts the list again.  A kill after 3
 * leaves at most the marker and the staging dir, which the next run
 * (finding the list there) removes: the list is imported.
 *
 * Ownership: the staging dir's file import-owner names the host, process
 * and its start time of the run building it; the dir comes into place by
 * rename with that file in it.  A second run never touches the staging
 * dir of a live owner.  Another's (gone, a zombie, or its pid now another
 * process's) is renamed aside before it is removed: the archive's
 * rendering workers die with their parent (PR_SET_PDEATHSIG), but a call
 * one of them had under way may still land, and must land there, not in
 * the new stage.
 */
#include "import/import-private.h"
#include "base/base.h"
#include "base/log.h"
#include "list/listaddr.h"
#include "store/lock.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MARKER "import-incomplete"
#define OWNER "import-owner"
#define STAGE_LOCK_WAIT_MS 30000

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

int
import_remove_tree(const char *path, GError **error)
{
	if (access(path, F_OK) < 0)
		return 0;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0) {
		set_errno_error(error, "removing %s", path);
		return -1;
	}
	return 0;
}

int
import_keep(struct site *real, const char *fqdn, const char *src,
	    const char *name_or_null, GError **error)
{
	char *name = g_strdup_printf("kept-%s", fqdn);
	char *dir = site_path(real, "import", name, NULL);
	char *base = name_or_null != NULL ? g_strdup(name_or_null)
					  : g_path_get_basename(src);
	char *dst = g_build_filename(dir, base, NULL);
	char *data = NULL;
	size_t len = 0;
	int ret = -1;

	if (fs_mkdir_p(dir, 0770, error) < 0 ||
	    fs_read_file(src, &data, &len, error) < 0)
		goto out;
	ret = fs_write_atomic(dst, data != NULL ? data : "", len, error);
out:
	g_free(data);
	g_free(dst);
	g_free(base);
	g_free(dir);
	g_free(name);
	return ret;
}

/* Who builds a staging dir: "HOST PID START" in its file import-owner
 * (START: the process's start time, field 22 of /proc/PID/stat, "-" when
 * unknown), so that a pid used again by another process is not taken for
 * the import. */
struct owner {
	char host[256];
	int pid;
	char start[32];
};

/* What /proc says of process pid: 1 running (start set), 0 gone or a
 * zombie (killed, not yet reaped: it does nothing more), -1 when /proc
 * cannot say. */
static int
proc_state(int pid, char start[32])
{
	char path[64], *data = NULL, *end;
	char **f = NULL;
	int ret = -1;

	start[0] = '\0';
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (!g_file_get_contents(path, &data, NULL, NULL))
		return access("/proc/self/stat", F_OK) == 0 ? 0 : -1;
	/* "PID (COMM) STATE PPID ...": COMM may hold spaces and ')'. */
	if ((end = strrchr(data, ')')) != NULL && end[1] == ' ') {
		f = g_strsplit(end + 2, " ", 21);
		if (g_strv_length(f) > 19) {
			ret = f[0][0] == 'Z' || f[0][0] == 'X' ? 0 : 1;
			g_strlcpy(start, f[19], 32);
		}
	}
	g_strfreev(f);
	g_free(data);
	return ret;
}

/* Parses "HOST PID START" (START optional: staging dirs of earlier
 * versions have none). */
static gboolean
owner_parse(const char *text, struct owner *o)
{
	memset(o, 0, sizeof *o);
	if (sscanf(text, "%255s %d %31s", o->host, &o->pid, o->start) < 2 ||
	    o->pid <= 0)
		return FALSE;
	if (strcmp(o->start, "-") == 0)
		o->start[0] = '\0';
	return TRUE;
}

static char *
owner_text(const char *sep)
{
	char start[32];

	if (proc_state((int)getpid(), start) != 1)
		g_strlcpy(start, "-", sizeof start);
	return g_strdup_printf("%s%s%d%s%s", herald_host(), sep, (int)getpid(),
			       sep, start);
}

/* Whether o's import may still run: a process of another host cannot be
 * told from a dead one, so it may. */
static gboolean
owner_alive(const struct owner *o)
{
	char now[32];
	int r;

	if (strcmp(o->host, herald_host()) != 0)
		return TRUE;
	if (o->pid == (int)getpid())
		return FALSE;
	if ((r = proc_state(o->pid, now)) < 0)
		return kill(o->pid, 0) == 0 || errno == EPERM;
	return r == 1 && (o->start[0] == '\0' || strcmp(o->start, now) == 0);
}

/* A staging dir whose import runs still (its owner file names a live
 * process) is not to be touched: -1.  One without an owner file, or whose
 * owner is gone, was left by a killed run (0). */
static int
running_import(const char *dir, GError **error)
{
	char *path = g_build_filename(dir, OWNER, NULL), *data = NULL;
	struct owner o;
	size_t len;
	int ret = 0;

	if (fs_read_file(path, &data, &len, NULL) > 0 && owner_parse(data, &o) &&
	    owner_alive(&o)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
			    "%s: an import of this list runs (process %d on "
			    "host %s); if it does not, remove that folder", dir,
			    o.pid, o.host);
		ret = -1;
	}
	g_free(data);
	g_free(path);
	return ret;
}

/* The folder beside staging dir stage (var/import/stage-<list>) named
 * KIND-<list>.TAIL: "old" for one moved aside to be removed, "new" for one
 * being made.  Never stage-..., so never another list's staging dir. */
static char *
side_path(const char *stage, const char *kind, const char *tail)
{
	char *parent = fs_dirname(stage), *base = g_path_get_basename(stage);
	char *path = g_strdup_printf("%s/%s-%s.%s", parent, kind,
				     base + strlen("stage-"), tail);

	g_free(base);
	g_free(parent);
	return path;
}

/* Moves dir, a killed run's staging dir, aside (*aside_r, NULL when there
 * is none): a last call of a process of that run still under way lands in
 * the folder going away, never in the one this run builds. */
static int
move_aside(const char *dir, char **aside_r, GError **error)
{
	char *tail = g_strdup_printf("%s.%d", herald_host(), (int)getpid());
	char *aside = side_path(dir, "old", tail);

	g_free(tail);
	*aside_r = NULL;
	if (fs_rename_checked(dir, aside, 0) == 0) {
		*aside_r = aside;
		return 0;
	}
	if (errno == ENOENT) {
		g_free(aside);
		return 0;
	}
	set_errno_error(error, "rename(%s, %s)", dir, aside);
	g_free(aside);
	return -1;
}

/* Removes what move_aside moved; what cannot be removed yet (a late call
 * landed in it) is left to a later run's sweep. */
static void
remove_aside(char **aside)
{
	if (*aside != NULL && import_remove_tree(*aside, NULL) < 0) {
		g_usleep(100000);
		if (import_remove_tree(*aside, NULL) < 0)
			log_warning("import", "%s: left for the next run", *aside);
	}
	g_free(*aside);
	*aside = NULL;
}

/* The lock import-<list>, held while a run judges the staging dir and
 * takes it or clears it (a few renames): two runs cannot both find its
 * owner gone and take it one after the other.  NULL on timeout. */
static struct lock *
stage_lock(struct site *real, const char *fqdn, GError **error)
{
	char *locks = site_path(real, "locks", NULL);
	char *name = g_strdup_printf("import-%s", fqdn);
	struct lock *lk = lock_new(locks, name,
				   site_get_int(real, "lock.lifetime") * 1000);

	if (lock_acquire(lk, STAGE_LOCK_WAIT_MS, error) < 0)
		lock_free(&lk);
	g_free(name);
	g_free(locks);
	return lk;
}

/* Removes the folders that killed runs left beside the staging dir stage
 * of a list: old-<list>.HOST.PID (moved aside to be removed) and
 * new-<list>.HOST.PID.START (a claim that never came into place) whose
 * owner is gone. */
static void
sweep(const char *stage)
{
	char *parent = fs_dirname(stage), *base = g_path_get_basename(stage);
	const char *list = base + strlen("stage-");
	char *old = g_strdup_printf("old-%s.", list);
	char *new = g_strdup_printf("new-%s.", list);
	GDir *d = g_dir_open(parent, 0, NULL);
	const char *f;

	while (d != NULL && (f = g_dir_read_name(d)) != NULL) {
		struct owner o;
		gboolean dead = FALSE;
		char *path, *who;

		if (g_str_has_prefix(f, old))
			dead = TRUE;
		else if (g_str_has_prefix(f, new)) {
			/* Another list's, whose name goes on with a dot, does
			 * not parse as HOST PID START. */
			who = g_strdelimit(g_strdup(f + strlen(new)), ".", ' ');
			dead = owner_parse(who, &o) && !owner_alive(&o);
			g_free(who);
		}
		if (!dead)
			continue;
		path = g_build_filename(parent, f, NULL);
		import_remove_tree(path, NULL);
		g_free(path);
	}
	if (d != NULL)
		g_dir_close(d);
	g_free(new);
	g_free(old);
	g_free(base);
	g_free(parent);
}

/* Takes the staging dir (under stage_lock, once it is clear): made under
 * a name of its own with the owner file in it, then renamed into place,
 * so that it never is there without its owner. */
static int
claim(const char *dir, GError **error)
{
	char *who = owner_text("."), *text = owner_text(" ");
	char *tmp = side_path(dir, "new", who);
	char *owner = g_build_filename(tmp, OWNER, NULL);
	char *line = g_strconcat(text, "\n", NULL), *parent = NULL;
	int ret = -1;

	if (import_remove_tree(tmp, error) < 0 ||
	    fs_mkdir_p(tmp, 0770, error) < 0 ||
	    fs_write_atomic(owner, line, strlen(line), error) < 0)
		goto out;
	if (fs_rename_checked(tmp, dir, 0) < 0) {
		set_errno_error(error, "rename(%s, %s)", tmp, dir);
		goto out;
	}
	parent = fs_dirname(dir);
	ret = fs_sync_dir(parent, error);
out:
	if (ret < 0)
		import_remove_tree(tmp, NULL);
	g_free(parent);
	g_free(line);
	g_free(owner);
	g_free(tmp);
	g_free(text);
	g_free(who);
	return ret;
}

/* The archive's three folders in a var dir. */
static void
archive_dirs(struct site *s, const char *fqdn, char *dirs[3])
{
	dirs[0] = site_path(s, "archives", fqdn, NULL);
	dirs[1] = site_path(s, "archives", "public", fqdn, NULL);
	dirs[2] = site_path(s, "archives", "private", fqdn, NULL);
}

static void
dirs_free(char *dirs[3])
{
	for (int i = 0; i < 3; i++)
		g_free(dirs[i]);
}

/* The list is there: a run killed after its folder moved in left at most
 * the marker (the list is whole: its folder moves last) and its staging
 * dir, both cleared unless a run still owns that dir. */
static void
tidy_imported(struct site *real, const char *fqdn, const char *stage,
	      const char *marker)
{
	struct lock *lk = stage_lock(real, fqdn, NULL);
	char *aside = NULL;
	int r = -1;

	if (lk != NULL && running_import(stage, NULL) == 0)
		r = move_aside(stage, &aside, NULL);
	lock_free(&lk);
	if (r < 0)
		return;
	remove_aside(&aside);
	sweep(stage);
	if (fs_unlink(marker) < 0 && errno != ENOENT)
		log_warning("import", "unlink(%s): %s", marker, g_strerror(errno));
}

int
import_stage_begin(struct site *real, const char *fqdn,
		   struct import_stage **st_r, GError **error)
{
	struct import_stage *st = g_new0(struct import_stage, 1);
	char *list_dir = site_path(real, "lists", fqdn, NULL);
	char *name = g_strdup_printf("stage-%s", fqdn);
	char *dirs[3], *marker, *conf = NULL, *conf_dst = NULL, *data = NULL;
	char *aside = NULL;
	struct lock *lk = NULL;
	size_t len = 0;
	int ret = -1;

	st->real = real;
	st->fqdn = g_strdup(fqdn);
	st->dir = site_path(real, "import", name, NULL);
	archive_dirs(real, fqdn, dirs);
	marker = g_build_filename(dirs[0], MARKER, NULL);
	if (access(list_dir, F_OK) == 0) {
		tidy_imported(real, fqdn, st->dir, marker);
		ret = 0;
		goto out;
	}
	if (listaddr_check_new(real, fqdn, error) < 0 ||
	    (lk = stage_lock(real, fqdn, error)) == NULL)
		goto out;
	if (running_import(st->dir, error) < 0 ||
	    move_aside(st->dir, &aside, error) < 0 || claim(st->dir, error) < 0) {
		lock_free(&lk);
		remove_aside(&aside);
		goto out;
	}
	st->claimed = TRUE;
	lock_free(&lk);
	remove_aside(&aside);
	sweep(st->dir);
	/* Ours now: no other run commits this list until we are done.  One
	 * may have committed it since we looked. */
	if (access(list_dir, F_OK) == 0) {
		ret = 0;
		goto out;
	}
	if (access(marker, F_OK) == 0) {
		for (int i = 0; i < 3; i++)
			if (import_remove_tree(dirs[i], error) < 0)
				goto out;
	}
	for (int i = 0; i < 3; i++)
		if (access(dirs[i], F_OK) == 0) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
				    "%s exists (an archive without its list, "
				    "which no import left): move it away first",
				    dirs[i]);
			goto out;
		}
	if (site_init(st->dir, error) < 0)
		goto out;
	conf = site_path(real, "etc", "herald.conf", NULL);
	conf_dst = g_build_filename(st->dir, "etc", "herald.conf", NULL);
	if (fs_read_file(conf, &data, &len, error) < 0 ||
	    (data != NULL && fs_write_atomic(conf_dst, data, len, error) < 0))
		goto out;
	if ((st->stage = site_open(st->dir, error)) == NULL)
		goto out;
	ret = 1;
out:
	if (ret == 1)
		*st_r = st;
	else
		import_stage_free(&st);
	dirs_free(dirs);
	g_free(marker);
	g_free(conf);
	g_free(conf_dst);
	g_free(data);
	g_free(list_dir);
	g_free(name);
	return ret;
}

static int
move(const char *src, const char *dst, GError **error)
{
	char *parent;
	int ret;

	if (access(src, F_OK) < 0)
		return 0;
	parent = fs_dirname(dst);
	ret = fs_mkdir_p(parent, 0770, error);
	if (ret == 0 && fs_rename_checked(src, dst, 0) < 0) {
		set_errno_error(error, "rename(%s, %s)", src, dst);
		ret = -1;
	}
	if (ret == 0)
		ret = fs_sync_dir(parent, error);
	g_free(parent);
	return ret;
}

int
import_stage_commit(struct import_stage *st, GError **error)
{
	char *from[3], *to[3], *marker_stage, *marker_real;
	char *list_from = site_path(st->stage, "lists", st->fqdn, NULL);
	char *list_to = site_path(st->real, "lists", st->fqdn, NULL);
	int ret = -1;

	archive_dirs(st->stage, st->fqdn, from);
	archive_dirs(st->real, st->fqdn, to);
	marker_stage = g_build_filename(from[0], MARKER, NULL);
	marker_real = g_build_filename(to[0], MARKER, NULL);
	if (access(from[0], F_OK) == 0 &&
	    fs_write_atomic(marker_stage, "", 0, error) < 0)
		goto out;
	for (int i = 0; i < 3; i++)
		if (move(from[i], to[i], error) < 0)
			goto out;
	if (move(list_from, list_to, error) < 0)
		goto out;
	st->committed = TRUE;
	if (fs_unlink(marker_real) < 0 && errno != ENOENT) {
		set_errno_error(error, "unlink(%s)", marker_real);
		goto out;
	}
	ret = 0;
out:
	dirs_free(from);
	dirs_free(to);
	g_free(marker_stage);
	g_free(marker_real);
	g_free(list_from);
	g_free(list_to);
	return ret;
}

void
import_stage_free(struct import_stage **stp)
{
	struct import_stage *st = *stp;

	if (st == NULL)
		return;
	if (st->stage != NULL)
		site_free(&st->stage);
	/* Staged leftovers only: what was committed has moved out.  A
	 * staging dir that is not ours is never touched. */
	if (st->claimed)
		import_remove_tree(st->dir, NULL);
	g_free(st->dir);
	g_free(st->fqdn);
	g_free(st);
	*stp = NULL;
}
