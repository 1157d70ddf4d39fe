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
 * leaves at most the marker, which the next run (finding the list there)
 * leaves alone: the list is imported.  The staging dir's file
 * import-owner names the host and process building it, so that a second
 * run does not clear the staging dir of one still running.
 */
#include "import/import-private.h"
#include "base/base.h"
#include "list/listaddr.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MARKER "import-incomplete"
#define OWNER "import-owner"

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

/* A staging dir whose import runs still (its owner file names a live
 * process of this host) is not to be touched: -1.  A host's other
 * staging dirs are left by a killed run (0); another host's live import
 * cannot be told from a dead one, so neither is it touched. */
static int
running_import(const char *dir, GError **error)
{
	char *path = g_build_filename(dir, OWNER, NULL), *data = NULL;
	char host[256];
	size_t len;
	int pid = 0, ret = 0;

	if (fs_read_file(path, &data, &len, NULL) > 0 &&
	    sscanf(data, "%255s %d", host, &pid) == 2 &&
	    (strcmp(host, herald_host()) != 0 ||
	     (pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM)))) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
			    "%s: an import of this list runs (process %d on "
			    "host %s); if it does not, remove that folder", dir,
			    pid, host);
		ret = -1;
	}
	g_free(data);
	g_free(path);
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

int
import_stage_begin(struct site *real, const char *fqdn,
		   struct import_stage **st_r, GError **error)
{
	struct import_stage *st = g_new0(struct import_stage, 1);
	char *list_dir = site_path(real, "lists", fqdn, NULL);
	char *name = g_strdup_printf("stage-%s", fqdn);
	char *dirs[3], *marker, *conf = NULL, *conf_dst = NULL, *data = NULL;
	size_t len = 0;
	int ret = -1;

	st->real = real;
	st->fqdn = g_strdup(fqdn);
	st->dir = site_path(real, "import", name, NULL);
	archive_dirs(real, fqdn, dirs);
	marker = g_build_filename(dirs[0], MARKER, NULL);
	if (access(list_dir, F_OK) == 0) {
		ret = 0;
		goto out;
	}
	if (listaddr_check_new(real, fqdn, error) < 0)
		goto out;
	if (running_import(st->dir, error) < 0)
		goto out;
	if (import_remove_tree(st->dir, error) < 0)
		goto out;
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
	g_free(data);
	data = g_strdup_printf("%s %d\n", herald_host(), (int)getpid());
	g_free(conf_dst);
	conf_dst = g_build_filename(st->dir, OWNER, NULL);
	if (fs_write_atomic(conf_dst, data, strlen(data), error) < 0)
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
	/* Staged leftovers only: what was committed has moved out. */
	import_remove_tree(st->dir, NULL);
	g_free(st->dir);
	g_free(st->fqdn);
	g_free(st);
	*stp = NULL;
}
