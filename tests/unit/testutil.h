/*
 * testutil.h - scratch directories for the unit tests (header only: each
 * test program is one .c file).
 */
#ifndef HERALD_TESTUTIL_H
#define HERALD_TESTUTIL_H

#include <ftw.h>
#include <glib.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"

static int
testutil_rm_one(const char *path, const struct stat *st, int flag,
		struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* A new empty directory under $TMPDIR. */
static inline char *
tmp_dir_new(void)
{
	GError *error = NULL;
	char *dir = g_dir_make_tmp("herald-unit-XXXXXX", &error);

	g_assert_no_error(error);
	g_assert_nonnull(dir);
	return dir;
}

/* Removes it and all it holds (this process's lock clock files first). */
static inline void
tmp_dir_remove(char **dirp)
{
	lock_cleanup_clocks();
	g_assert_cmpint(nftw(*dirp, testutil_rm_one, 16, FTW_DEPTH | FTW_PHYS), ==, 0);
	g_assert_false(g_file_test(*dirp, G_FILE_TEST_EXISTS));
	g_clear_pointer(dirp, g_free);
}

#endif
