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
#include "log.h"

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

/* A unit test that runs in a child process of its own. */
struct unit_test {
	const char *path;
	void (*fn)(void);
};

/* Each test runs in a child process of its own, so a crash in one (a
 * sanitizer abort, say) fails that test alone and the others still run.
 * The child's TMPDIR is a directory of the parent's, removed afterwards
 * even when the child died before cleaning up. */
static void
testutil_run_isolated(gconstpointer data)
{
	const struct unit_test *t = data;
	char *box, *old_tmpdir;

	if (g_test_subprocess()) {
		t->fn();
		return;
	}
	box = tmp_dir_new();
	old_tmpdir = g_strdup(g_getenv("TMPDIR"));
	g_assert_true(g_setenv("TMPDIR", box, TRUE));
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
	if (old_tmpdir != NULL)
		g_setenv("TMPDIR", old_tmpdir, TRUE);
	else
		g_unsetenv("TMPDIR");
	g_free(old_tmpdir);
	tmp_dir_remove(&box);
	g_test_trap_assert_passed();
}

/* main() of a test program whose tests each run isolated. */
static inline int
testutil_main_isolated(int argc, char **argv, const struct unit_test *tests,
		       size_t n)
{
	g_test_init(&argc, &argv, NULL);
	/* A failed check fails its test, and the other tests still run. */
	g_test_set_nonfatal_assertions();
	log_open(NULL, FALSE);
	for (size_t i = 0; i < n; i++)
		g_test_add_data_func(tests[i].path, &tests[i], testutil_run_isolated);
	return g_test_run();
}

#endif
