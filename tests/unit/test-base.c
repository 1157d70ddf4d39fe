/*
 * test-base.c - unit tests for base.c: errors, host identity, careful file
 * operations.
 *
 * Each test works in a fresh temporary directory of its own and removes
 * it afterwards.  The host-name tests change process-wide state (the
 * cached herald_host() and HERALD_HOST), so they run in a fixed order and
 * put the cache back with herald_set_host(NULL) when they are done.
 */
#include "base/base.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* --- helpers ------------------------------------------------------------- */


/* The names in dir, sorted, as one space-separated string. */
static char *
dir_listing(const char *dir)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;
	GString *out = g_string_new(NULL);

	g_assert_nonnull(d);
	while ((e = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(names, g_strdup(e));
	g_dir_close(d);
	g_ptr_array_sort(names, str_ptr_compare);
	for (guint i = 0; i < names->len; i++)
		g_string_append_printf(out, "%s%s", i > 0 ? " " : "",
				       (char *)names->pdata[i]);
	g_ptr_array_free(names, TRUE);
	return g_string_free(out, FALSE);
}

/* --- fs_write_atomic / fs_read_file ---------------------------------------- */

static void
test_write_atomic_then_read_returns_same_bytes(void)
{
	char *dir = tmp_dir_new();
	char *path = g_build_filename(dir, "data", NULL);
	static const char data[] = "line one\n\0binary\xff\r\nend";
	GError *error = NULL;
	char *got = NULL;
	size_t len = 0;

	g_assert_cmpint(fs_write_atomic(path, data, sizeof data, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(fs_read_file(path, &got, &len, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpmem(got, len, data, sizeof data);
	/* A terminating NUL past the data, so text can be used as a string. */
	g_assert_cmpint(got[len], ==, '\0');
	g_free(got);

	/* Only the file itself is left: the temporary name was renamed. */
	char *names = dir_listing(dir);
	g_assert_cmpstr(names, ==, "data");
	g_free(names);

	g_free(path);
	tmp_dir_remove(&dir);
}

static void
test_write_atomic_replaces_existing_file(void)
{
	char *dir = tmp_dir_new();
	char *path = g_build_filename(dir, "conf", NULL);
	GError *error = NULL;
	char *got = NULL;
	size_t len = 0;

	g_assert_cmpint(fs_write_atomic(path, "old contents, long", 18, &error),
			==, 0);
	g_assert_cmpint(fs_write_atomic(path, "new", 3, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(fs_read_file(path, &got, &len, &error), ==, 1);
	g_assert_cmpmem(got, len, "new", 3);
	g_free(got);

	char *names = dir_listing(dir);
	g_assert_cmpstr(names, ==, "conf");
	g_free(names);

	g_free(path);
	tmp_dir_remove(&dir);
}

/* fs_write_swap: the content replaced as fs_write_atomic replaces it, a
 * reader holding the old file still reading the old content, and no new
 * inode after the first two: the name and path.next trade places. */
static void
test_write_swap_trades_two_inodes(void)
{
	char *dir = tmp_dir_new();
	char *path = g_build_filename(dir, "counters", NULL);
	GError *error = NULL;
	GHashTable *inodes = g_hash_table_new(g_int64_hash, g_int64_equal);
	gint64 ino[6];
	char *got = NULL, old[16];
	size_t len = 0;
	int fd = -1;

	for (int i = 0; i < 6; i++) {
		char *text = g_strdup_printf("post_id=%d\n", i * 1000);
		struct stat st;

		if (i == 5)	/* a reader of the one before */
			fd = open(path, O_RDONLY);
		g_assert_cmpint(fs_write_swap(path, text, strlen(text), &error), ==, 0);
		g_assert_no_error(error);
		g_assert_cmpint(fs_read_file(path, &got, &len, &error), ==, 1);
		g_assert_cmpstr(got, ==, text);
		g_clear_pointer(&got, g_free);
		g_assert_cmpint(stat(path, &st), ==, 0);
		ino[i] = (gint64)st.st_ino;
		g_hash_table_add(inodes, &ino[i]);
		g_free(text);
	}
	g_assert_cmpuint(g_hash_table_size(inodes), ==, 2);
	g_assert_cmpint(read(fd, old, sizeof old), ==, 13);
	g_assert_cmpmem(old, 13, "post_id=4000\n", 13);
	close(fd);
	g_hash_table_destroy(inodes);
	g_free(path);
	tmp_dir_remove(&dir);
}

/* The moment fs_read_swapped is for: the file at the name is empty (a
 * reader that opened it two writes ago reads while the second is being
 * written) and is filled a little later.  Read again, it is whole; a file
 * that stays empty is returned empty, after 200 ms. */
static gpointer
fill_later(gpointer path)
{
	int fd;

	g_usleep(5000);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, "post_id=7\n", 10), ==, 10);
	close(fd);
	return NULL;
}

static void
test_read_swapped_waits_out_an_empty_file(void)
{
	char *dir = tmp_dir_new();
	char *path = g_build_filename(dir, "counters", NULL);
	GError *error = NULL;
	char *got = NULL;
	size_t len = 99;
	int64_t t0;
	GThread *t;

	g_assert_true(g_file_set_contents(path, "", 0, NULL));
	t = g_thread_new("writer", fill_later, path);
	g_assert_cmpint(fs_read_swapped(path, &got, &len, &error), ==, 1);
	g_thread_join(t);
	g_assert_cmpstr(got, ==, "post_id=7\n");
	g_assert_cmpuint(len, ==, 10);
	g_clear_pointer(&got, g_free);
	g_assert_cmpint(truncate(path, 0), ==, 0);
	t0 = g_get_monotonic_time();
	g_assert_cmpint(fs_read_swapped(path, &got, &len, &error), ==, 1);
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 200000);
	g_assert_cmpuint(len, ==, 0);
	g_assert_cmpstr(got, ==, "");
	g_free(got);
	g_free(path);
	tmp_dir_remove(&dir);
}

static void
test_write_atomic_into_missing_dir_fails_naming_call_and_path(void)
{
	char *dir = tmp_dir_new();
	char *path = g_build_filename(dir, "nodir", "file", NULL);
	GError *error = NULL;

	g_assert_cmpint(fs_write_atomic(path, "x", 1, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "open("));
	g_assert_nonnull(strstr(error->message, path));
	g_assert_nonnull(strstr(error->message, g_strerror(ENOENT)));
	g_clear_error(&error);

	g_free(path);
	tmp_dir_remove(&dir);
}

static void
test_read_file_of_missing_file_returns_0_absent(void)
{
	char *dir = tmp_dir_new();
	char *path = g_build_filename(dir, "missing", NULL);
	GError *error = NULL;
	char *got = NULL;
	size_t len = 12345;

	g_assert_cmpint(fs_read_file(path, &got, &len, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_null(got);

	g_free(path);
	tmp_dir_remove(&dir);
}

static void
test_read_file_of_empty_file_returns_1_and_empty_string(void)
{
	char *dir = tmp_dir_new();
	char *path = g_build_filename(dir, "empty", NULL);
	GError *error = NULL;
	char *got = NULL;
	size_t len = 12345;

	g_assert_true(g_file_set_contents(path, "", 0, NULL));
	g_assert_cmpint(fs_read_file(path, &got, &len, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_nonnull(got);
	g_assert_cmpuint(len, ==, 0);
	g_assert_cmpstr(got, ==, "");
	g_free(got);

	g_free(path);
	tmp_dir_remove(&dir);
}

static void
test_read_file_failure_other_than_absent_returns_minus_1(void)
{
	char *dir = tmp_dir_new();
	char *file = g_build_filename(dir, "file", NULL);
	char *path = g_build_filename(file, "below", NULL);	/* ENOTDIR */
	GError *error = NULL;
	char *got = NULL;
	size_t len = 0;

	g_assert_true(g_file_set_contents(file, "x", 1, NULL));
	g_assert_cmpint(fs_read_file(path, &got, &len, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, path));
	g_assert_nonnull(strstr(error->message, g_strerror(ENOTDIR)));
	g_clear_error(&error);

	/* A directory opens but does not read: also a failure, not absent. */
	g_assert_cmpint(fs_read_file(dir, &got, &len, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "read("));
	g_clear_error(&error);

	g_free(path);
	g_free(file);
	tmp_dir_remove(&dir);
}

/* --- fs_rename_checked ----------------------------------------------------- */

static void
test_rename_checked_moves_file(void)
{
	char *dir = tmp_dir_new();
	char *src = g_build_filename(dir, "src", NULL);
	char *dst = g_build_filename(dir, "dst", NULL);
	struct stat st, dst_st;
	char *got = NULL;

	g_assert_true(g_file_set_contents(src, "payload", -1, NULL));
	g_assert_cmpint(stat(src, &st), ==, 0);
	g_assert_cmpint(fs_rename_checked(src, dst, st.st_ino), ==, 0);
	g_assert_false(g_file_test(src, G_FILE_TEST_EXISTS));
	g_assert_cmpint(stat(dst, &dst_st), ==, 0);
	g_assert_cmpuint(dst_st.st_ino, ==, st.st_ino);
	g_assert_true(g_file_get_contents(dst, &got, NULL, NULL));
	g_assert_cmpstr(got, ==, "payload");
	g_free(got);

	g_free(src);
	g_free(dst);
	tmp_dir_remove(&dir);
}

static void
test_rename_checked_missing_source_fails_with_enoent(void)
{
	char *dir = tmp_dir_new();
	char *src = g_build_filename(dir, "src", NULL);
	char *dst = g_build_filename(dir, "dst", NULL);
	char *other = g_build_filename(dir, "other", NULL);
	struct stat st;

	/* Unknown inode: ENOENT stays a failure. */
	errno = 0;
	g_assert_cmpint(fs_rename_checked(src, dst, 0), ==, -1);
	g_assert_cmpint(errno, ==, ENOENT);

	/* Known inode, but the target is not it: still a failure. */
	g_assert_true(g_file_set_contents(other, "x", -1, NULL));
	g_assert_cmpint(stat(other, &st), ==, 0);
	g_assert_true(g_file_set_contents(dst, "y", -1, NULL));
	errno = 0;
	g_assert_cmpint(fs_rename_checked(src, dst, st.st_ino), ==, -1);
	g_assert_cmpint(errno, ==, ENOENT);
	g_assert_true(g_file_test(other, G_FILE_TEST_EXISTS));

	g_free(src);
	g_free(dst);
	g_free(other);
	tmp_dir_remove(&dir);
}

static void
test_rename_checked_counts_done_rename_with_lost_reply_as_success(void)
{
	char *dir = tmp_dir_new();
	char *src = g_build_filename(dir, "src", NULL);
	char *dst = g_build_filename(dir, "dst", NULL);
	struct stat st;

	/* What a retransmitted NFS rename sees: the source is gone and the
	 * target is the inode that was to be moved. */
	g_assert_true(g_file_set_contents(src, "x", -1, NULL));
	g_assert_cmpint(stat(src, &st), ==, 0);
	g_assert_cmpint(rename(src, dst), ==, 0);
	g_assert_cmpint(fs_rename_checked(src, dst, st.st_ino), ==, 0);

	g_free(src);
	g_free(dst);
	tmp_dir_remove(&dir);
}

/* --- errors ---------------------------------------------------------------- */

static void
test_set_errno_error_names_call_path_and_strerror(void)
{
	GError *error = NULL;

	errno = ENOSPC;
	set_errno_error(&error, "rename(%s, %s)", "queue/in/x.tmp",
			"queue/in/x.msg");
	/* errno survives, so a caller can still test it. */
	g_assert_cmpint(errno, ==, ENOSPC);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	char *want = g_strdup_printf("rename(queue/in/x.tmp, queue/in/x.msg) "
				     "failed: %s", g_strerror(ENOSPC));
	g_assert_cmpstr(error->message, ==, want);
	g_free(want);
	g_clear_error(&error);

	set_errno_error_n(&error, EACCES, "open(%s)", "/var/herald/etc");
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "open(/var/herald/etc)"));
	g_assert_nonnull(strstr(error->message, g_strerror(EACCES)));
	g_clear_error(&error);
}

static void
test_set_errno_error_etimedout_is_timeout_code(void)
{
	GError *error = NULL;

	set_errno_error_n(&error, ETIMEDOUT, "stat(%s)", "/nfs/x");
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT);
	g_assert_nonnull(strstr(error->message, "/nfs/x"));
	g_clear_error(&error);
}

static void
test_set_errno_error_with_null_error_keeps_errno(void)
{
	errno = EIO;
	set_errno_error(NULL, "write(%s)", "f");
	g_assert_cmpint(errno, ==, EIO);
}

/* --- random_hex ------------------------------------------------------------ */

static void
test_random_hex_has_twice_the_bytes_in_lowercase_hex(void)
{
	for (size_t bytes = 0; bytes <= 64; bytes += 1) {
		char *h = random_hex(bytes);

		g_assert_cmpuint(strlen(h), ==, bytes * 2);
		for (const char *p = h; *p != '\0'; p++)
			g_assert_true(g_ascii_isdigit(*p) ||
				      (*p >= 'a' && *p <= 'f'));
		g_free(h);
	}
}

static void
test_random_hex_differs_between_calls(void)
{
	char *a = random_hex(16), *b = random_hex(16);

	g_assert_cmpstr(a, !=, b);
	g_free(a);
	g_free(b);
}

/* --- host name ------------------------------------------------------------- */

static void
test_herald_host_honours_HERALD_HOST_and_sanitizes_it(void)
{
	g_assert_true(g_setenv("HERALD_HOST", "mx1.example_org/é x", TRUE));
	herald_set_host(NULL);	/* forget the cached name */
	/* Dots, '_', '/', ' ' and each byte of é become '-'. */
	g_assert_cmpstr(herald_host(), ==, "mx1-example-org----x");
	/* Cached: a second call gives the same pointer. */
	g_assert_true(herald_host() == herald_host());

	/* The environment wins over a site setting. */
	herald_set_host("from-site");
	g_assert_cmpstr(herald_host(), ==, "mx1-example-org----x");

	g_unsetenv("HERALD_HOST");
	herald_set_host(NULL);
}

static void
test_herald_set_host_sanitizes_dots_and_odd_chars(void)
{
	g_unsetenv("HERALD_HOST");
	herald_set_host("web.one_2:x");
	g_assert_cmpstr(herald_host(), ==, "web-one-2-x");
	herald_set_host("Plain-Host-9");
	g_assert_cmpstr(herald_host(), ==, "Plain-Host-9");
	herald_set_host(NULL);
}

static void
test_herald_host_falls_back_to_first_label_of_system_name(void)
{
	char buf[256], *want;

	g_unsetenv("HERALD_HOST");
	herald_set_host("");	/* empty setting: no override */
	g_assert_cmpint(gethostname(buf, sizeof buf), ==, 0);
	buf[sizeof buf - 1] = '\0';
	if (buf[0] == '\0')
		g_strlcpy(buf, "localhost", sizeof buf);
	if (strchr(buf, '.') != NULL)
		*strchr(buf, '.') = '\0';
	want = g_strdup(buf);
	for (char *p = want; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-')
			*p = '-';
	g_assert_cmpstr(herald_host(), ==, want);
	g_assert_null(strchr(herald_host(), '.'));
	g_free(want);

	/* An empty HERALD_HOST is no override either. */
	g_assert_true(g_setenv("HERALD_HOST", "", TRUE));
	herald_set_host(NULL);
	g_assert_cmpstr(herald_host(), !=, "");
	g_assert_null(strchr(herald_host(), '.'));
	g_unsetenv("HERALD_HOST");
	herald_set_host(NULL);
}

/* --- small helpers --------------------------------------------------------- */

static void
test_str_ptr_compare_sorts_strings(void)
{
	const char *in[] = { "queue", "b", "a", "aa", "", "B", "lock" };
	const char *want[] = { "", "B", "a", "aa", "b", "lock", "queue" };
	GPtrArray *a = g_ptr_array_new();

	for (guint i = 0; i < G_N_ELEMENTS(in); i++)
		g_ptr_array_add(a, (gpointer)in[i]);
	g_ptr_array_sort(a, str_ptr_compare);
	for (guint i = 0; i < G_N_ELEMENTS(want); i++)
		g_assert_cmpstr(a->pdata[i], ==, want[i]);
	g_ptr_array_free(a, TRUE);
}

static void
test_mkdir_p_creates_nested_dirs_and_accepts_existing(void)
{
	char *dir = tmp_dir_new();
	char *deep = g_build_filename(dir, "a", "b", "c", NULL);
	GError *error = NULL;

	g_assert_cmpint(fs_mkdir_p(deep, 0770, &error), ==, 0);
	g_assert_true(g_file_test(deep, G_FILE_TEST_IS_DIR));
	g_assert_cmpint(fs_mkdir_p(deep, 0770, &error), ==, 0);
	g_assert_no_error(error);

	char *dn = fs_dirname(deep);
	char *want = g_build_filename(dir, "a", "b", NULL);
	g_assert_cmpstr(dn, ==, want);
	g_free(dn);
	g_free(want);

	g_free(deep);
	tmp_dir_remove(&dir);
}

static void
test_sync_dir_of_missing_dir_fails_naming_it(void)
{
	char *dir = tmp_dir_new();
	char *missing = g_build_filename(dir, "gone", NULL);
	GError *error = NULL;

	g_assert_cmpint(fs_sync_dir(dir, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(fs_sync_dir(missing, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, missing));
	g_clear_error(&error);

	g_free(missing);
	tmp_dir_remove(&dir);
}

static void
test_sync_close_closes_and_resets_fd(void)
{
	char *dir = tmp_dir_new();
	char *path = g_build_filename(dir, "f", NULL);
	GError *error = NULL;
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(fs_write_all(fd, "abc", 3, path, &error), ==, 0);
	g_assert_cmpint(fs_sync_close(&fd, path, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(fd, ==, -1);

	/* A failing fsync (a descriptor closed already) is reported, and
	 * the descriptor is reset all the same. */
	fd = dup(2);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(close(fd), ==, 0);
	g_assert_cmpint(fs_sync_close(&fd, path, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "fsync("));
	g_assert_cmpint(fd, ==, -1);
	g_clear_error(&error);

	g_free(path);
	tmp_dir_remove(&dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* A failed check fails its test, and the other tests still run. */
	g_test_set_nonfatal_assertions();
	log_open(NULL, FALSE);

	g_test_add_func("/base/write-atomic/read-back-same-bytes",
			test_write_atomic_then_read_returns_same_bytes);
	g_test_add_func("/base/write-atomic/replaces-existing-file",
			test_write_atomic_replaces_existing_file);
	g_test_add_func("/base/write-swap/trades-two-inodes",
			test_write_swap_trades_two_inodes);
	g_test_add_func("/base/read-swapped/waits-out-an-empty-file",
			test_read_swapped_waits_out_an_empty_file);
	g_test_add_func("/base/write-atomic/missing-dir-error-names-call-path",
			test_write_atomic_into_missing_dir_fails_naming_call_and_path);
	g_test_add_func("/base/read-file/missing-returns-0-absent",
			test_read_file_of_missing_file_returns_0_absent);
	g_test_add_func("/base/read-file/empty-file-returns-1-empty",
			test_read_file_of_empty_file_returns_1_and_empty_string);
	g_test_add_func("/base/read-file/other-failure-returns-minus-1",
			test_read_file_failure_other_than_absent_returns_minus_1);
	g_test_add_func("/base/rename-checked/moves-file",
			test_rename_checked_moves_file);
	g_test_add_func("/base/rename-checked/missing-source-fails-enoent",
			test_rename_checked_missing_source_fails_with_enoent);
	g_test_add_func("/base/rename-checked/lost-reply-done-rename-succeeds",
			test_rename_checked_counts_done_rename_with_lost_reply_as_success);
	g_test_add_func("/base/errno-error/names-call-path-strerror",
			test_set_errno_error_names_call_path_and_strerror);
	g_test_add_func("/base/errno-error/etimedout-is-timeout",
			test_set_errno_error_etimedout_is_timeout_code);
	g_test_add_func("/base/errno-error/null-error-keeps-errno",
			test_set_errno_error_with_null_error_keeps_errno);
	g_test_add_func("/base/random-hex/length-and-charset",
			test_random_hex_has_twice_the_bytes_in_lowercase_hex);
	g_test_add_func("/base/random-hex/differs-between-calls",
			test_random_hex_differs_between_calls);
	g_test_add_func("/base/host/HERALD_HOST-honoured-and-sanitized",
			test_herald_host_honours_HERALD_HOST_and_sanitizes_it);
	g_test_add_func("/base/host/set-host-sanitizes",
			test_herald_set_host_sanitizes_dots_and_odd_chars);
	g_test_add_func("/base/host/falls-back-to-system-first-label",
			test_herald_host_falls_back_to_first_label_of_system_name);
	g_test_add_func("/base/str-ptr-compare/sorts",
			test_str_ptr_compare_sorts_strings);
	g_test_add_func("/base/mkdir-p/nested-and-existing",
			test_mkdir_p_creates_nested_dirs_and_accepts_existing);
	g_test_add_func("/base/sync-dir/missing-dir-fails-naming-it",
			test_sync_dir_of_missing_dir_fails_naming_it);
	g_test_add_func("/base/sync-close/closes-and-resets-fd",
			test_sync_close_closes_and_resets_fd);
	return g_test_run();
}
