/*
 * test-queue.c - unit tests for queue.c: metadata, the file format, hash
 * slices, and the life of an entry (enqueue, list, claim, read, finish,
 * unclaim, recover, shunt, unshunt, tmp cleaning).
 *
 * Each test works in a fresh temporary var dir and removes it afterwards.
 */
#include "base/base.h"
#include "store/lock.h"
#include "base/log.h"
#include "store/queue.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* --- helpers ------------------------------------------------------------- */


static struct queue *
open_queue(const char *var, const char *name)
{
	GError *error = NULL;
	struct queue *q = queue_open(var, name, &error);

	g_assert_no_error(error);
	g_assert_nonnull(q);
	return q;
}

/* Enqueues msg with the given metadata pairs (key, value, ..., NULL);
 * returns the entry name. */
static char *
enqueue(struct queue *q, const char *msg, ...)
{
	struct queue_meta *m = queue_meta_new();
	GError *error = NULL;
	char *base = NULL;
	const char *k;
	va_list ap;

	va_start(ap, msg);
	while ((k = va_arg(ap, const char *)) != NULL)
		queue_meta_add(m, k, va_arg(ap, const char *));
	va_end(ap);
	g_assert_cmpint(queue_enqueue(q, m, msg, strlen(msg), &base, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_nonnull(base);
	g_assert_cmpuint(strlen(base), ==, QUEUE_BASE_LEN);
	queue_meta_free(&m);
	return base;
}

static GPtrArray *
list(struct queue *q, const char *ext, unsigned s, unsigned n)
{
	GError *error = NULL;
	GPtrArray *bases = NULL;

	g_assert_cmpint(queue_list(q, ext, s, n, &bases, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_nonnull(bases);
	return bases;
}

static int
count(struct queue *q, const char *ext)
{
	GError *error = NULL;
	int n = queue_count(q, ext, &error);

	g_assert_no_error(error);
	g_assert_cmpint(n, >=, 0);
	return n;
}

static struct queue_item *
read_entry(struct queue *q, const char *base, const char *ext)
{
	GError *error = NULL;
	struct queue_item *it = NULL;

	g_assert_cmpint(queue_read(q, base, ext, &it, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_nonnull(it);
	return it;
}

static gboolean
entry_exists(struct queue *q, const char *base, const char *ext)
{
	char *p = g_strdup_printf("%s/%s%s", queue_dir(q), base, ext);
	gboolean r = g_file_test(p, G_FILE_TEST_EXISTS);

	g_free(p);
	return r;
}

static void
claim(struct queue *q, const char *base)
{
	GError *error = NULL;

	g_assert_cmpint(queue_claim(q, base, &error), ==, 1);
	g_assert_no_error(error);
}

static int
recover(struct queue *q, unsigned s, unsigned n)
{
	GError *error = NULL;
	int r = queue_recover(q, s, n, &error);

	g_assert_no_error(error);
	g_assert_cmpint(r, >=, 0);
	return r;
}

/* A pid that existed and is gone: a child that exited and was reaped. */
static pid_t
dead_pid(void)
{
	int status;
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0)
		_exit(0);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_cmpint(kill(pid, 0), ==, -1);
	g_assert_cmpint(errno, ==, ESRCH);
	return pid;
}

/* --- metadata -------------------------------------------------------------- */

static void
test_meta_set_add_get_get_all_remove(void)
{
	struct queue_meta *m = queue_meta_new();
	GPtrArray *all;
	const char *k, *v;

	g_assert_null(queue_meta_get(m, "rcpt"));
	queue_meta_add(m, "rcpt", "a@example.org");
	queue_meta_add(m, "list", "l@example.com");
	queue_meta_add(m, "rcpt", "b@example.org");
	g_assert_cmpuint(queue_meta_count(m), ==, 3);
	/* get: the first value. */
	g_assert_cmpstr(queue_meta_get(m, "rcpt"), ==, "a@example.org");
	/* get_all: every value, in order. */
	all = queue_meta_get_all(m, "rcpt");
	g_assert_cmpuint(all->len, ==, 2);
	g_assert_cmpstr(all->pdata[0], ==, "a@example.org");
	g_assert_cmpstr(all->pdata[1], ==, "b@example.org");
	g_ptr_array_free(all, TRUE);
	all = queue_meta_get_all(m, "none");
	g_assert_cmpuint(all->len, ==, 0);
	g_ptr_array_free(all, TRUE);

	/* set: replaces every value with one. */
	queue_meta_set(m, "rcpt", "c@example.org");
	all = queue_meta_get_all(m, "rcpt");
	g_assert_cmpuint(all->len, ==, 1);
	g_assert_cmpstr(all->pdata[0], ==, "c@example.org");
	g_ptr_array_free(all, TRUE);
	g_assert_cmpstr(queue_meta_get(m, "list"), ==, "l@example.com");

	/* nth iterates in insertion order. */
	queue_meta_nth(m, 0, &k, &v);
	g_assert_cmpstr(k, ==, "list");
	g_assert_cmpstr(v, ==, "l@example.com");

	/* remove: every value of the key, nothing else. */
	queue_meta_add(m, "rcpt", "d@example.org");
	queue_meta_remove(m, "rcpt");
	g_assert_null(queue_meta_get(m, "rcpt"));
	g_assert_cmpuint(queue_meta_count(m), ==, 1);
	queue_meta_remove(m, "absent");
	g_assert_cmpuint(queue_meta_count(m), ==, 1);

	queue_meta_free(&m);
	g_assert_null(m);
}

static void
test_meta_get_int_parses_or_gives_default(void)
{
	struct queue_meta *m = queue_meta_new();

	queue_meta_set_int(m, "n", -42);
	g_assert_cmpstr(queue_meta_get(m, "n"), ==, "-42");
	g_assert_cmpint(queue_meta_get_int(m, "n", 7), ==, -42);
	queue_meta_set_int(m, "big", G_GINT64_CONSTANT(1700000000000000));
	g_assert_cmpint(queue_meta_get_int(m, "big", 0), ==,
			G_GINT64_CONSTANT(1700000000000000));
	g_assert_cmpint(queue_meta_get_int(m, "missing", 7), ==, 7);
	queue_meta_set(m, "junk", "12x");
	g_assert_cmpint(queue_meta_get_int(m, "junk", 7), ==, 7);
	queue_meta_set(m, "empty", "");
	g_assert_cmpint(queue_meta_get_int(m, "empty", 7), ==, 7);
	queue_meta_free(&m);
}

static void
test_meta_copy_is_independent(void)
{
	struct queue_meta *m = queue_meta_new(), *c;

	queue_meta_add(m, "a", "1");
	queue_meta_add(m, "a", "2");
	c = queue_meta_copy(m);
	queue_meta_set(m, "a", "changed");
	g_assert_cmpuint(queue_meta_count(c), ==, 2);
	g_assert_cmpstr(queue_meta_get(c, "a"), ==, "1");
	queue_meta_free(&m);
	g_assert_cmpstr(queue_meta_get(c, "a"), ==, "1");
	queue_meta_free(&c);
}

/* --- the file format ------------------------------------------------------- */

static void
assert_meta_equal(const struct queue_meta *a, const struct queue_meta *b)
{
	g_assert_cmpuint(queue_meta_count(a), ==, queue_meta_count(b));
	for (guint i = 0; i < queue_meta_count(a); i++) {
		const char *ka, *va, *kb, *vb;

		queue_meta_nth(a, i, &ka, &va);
		queue_meta_nth(b, i, &kb, &vb);
		g_assert_cmpstr(ka, ==, kb);
		g_assert_cmpstr(va, ==, vb);
	}
}

static void
round_trip(const struct queue_meta *m, const char *msg, size_t len)
{
	GString *s = queue_format(m, msg, len);
	struct queue_meta *got = NULL;
	const char *gmsg = NULL;
	size_t glen = 999;
	GError *error = NULL;

	g_assert_cmpint(queue_parse(s->str, s->len, &got, &gmsg, &glen, &error),
			==, 0);
	g_assert_no_error(error);
	assert_meta_equal(m, got);
	g_assert_nonnull(gmsg);
	g_assert_cmpmem(gmsg, glen, msg, len);
	queue_meta_free(&got);
	g_string_free(s, TRUE);
}

static void
test_format_parse_round_trip_escapes_newline_cr_backslash(void)
{
	struct queue_meta *m = queue_meta_new();
	static const char msg[] = "From: a@example.org\r\nSubject: x\r\n\r\n"
				  "body\nherald-end\nmore\n";

	queue_meta_add(m, "nl", "line1\nline2\n");
	queue_meta_add(m, "cr", "a\rb\r\n");
	queue_meta_add(m, "bs", "back\\slash \\n not a newline \\");
	queue_meta_add(m, "empty", "");
	queue_meta_add(m, "colon", "k: v: w");
	queue_meta_add(m, "rcpt", "a@example.org");
	queue_meta_add(m, "rcpt", "b@example.org");
	round_trip(m, msg, strlen(msg));

	/* A header value never spans lines in the file. */
	GString *s = queue_format(m, msg, strlen(msg));
	g_assert_nonnull(strstr(s->str, "\nnl: line1\\nline2\\n\n"));
	g_assert_nonnull(strstr(s->str, "\ncr: a\\rb\\r\\n\n"));
	g_string_free(s, TRUE);
	queue_meta_free(&m);
}

static void
test_format_parse_round_trip_empty_message(void)
{
	struct queue_meta *m = queue_meta_new();
	struct queue_meta *none = queue_meta_new();

	queue_meta_add(m, "list", "l@example.com");
	round_trip(m, "", 0);
	round_trip(none, "", 0);
	queue_meta_free(&m);
	queue_meta_free(&none);
}

static void
test_format_parse_round_trip_binary_message(void)
{
	struct queue_meta *m = queue_meta_new();
	static const char msg[] = "a\0b\xff\n\n\0";

	queue_meta_add(m, "k", "v");
	round_trip(m, msg, sizeof msg);
	queue_meta_free(&m);
}

static void
assert_parse_fails(const char *text, const char *why)
{
	char *buf = g_strdup(text);
	struct queue_meta *meta = NULL;
	const char *msg = NULL;
	size_t len = 0;
	GError *error = NULL;

	g_assert_cmpint(queue_parse(buf, strlen(buf), &meta, &msg, &len, &error),
			==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
	g_assert_nonnull(strstr(error->message, why));
	g_assert_null(meta);
	g_clear_error(&error);
	g_free(buf);
}

static void
test_parse_rejects_missing_version_line(void)
{
	assert_parse_fails("k: v\nsize: 2\n\nhiherald-end\n", "version");
	assert_parse_fails("herald-queue 2\nsize: 2\n\nhiherald-end\n", "version");
	assert_parse_fails("", "version");
}

static void
test_parse_rejects_missing_size(void)
{
	assert_parse_fails("herald-queue 1\nk: v\n\nhiherald-end\n", "size");
	assert_parse_fails("herald-queue 1\nsize: two\n\nhiherald-end\n", "size");
	assert_parse_fails("herald-queue 1\nsize: \n\nherald-end\n", "size");
}

static void
test_parse_rejects_truncated_body(void)
{
	assert_parse_fails("herald-queue 1\nsize: 10\n\nhello", "end marker");
	assert_parse_fails("herald-queue 1\nsize: 10\n\nhelloherald-end\n",
			   "end marker");
	/* Cut inside the header. */
	assert_parse_fails("herald-queue 1\nk: v", "header");
}

static void
test_parse_rejects_missing_end_marker(void)
{
	assert_parse_fails("herald-queue 1\nsize: 5\n\nhello", "end marker");
	assert_parse_fails("herald-queue 1\nsize: 5\n\nhelloherald-fin\n",
			   "end marker");
	/* Bytes after the marker: not the file that was written. */
	assert_parse_fails("herald-queue 1\nsize: 5\n\nhelloherald-end\nx",
			   "end marker");
}

static void
test_parse_rejects_header_line_without_key(void)
{
	assert_parse_fails("herald-queue 1\nno colon\nsize: 0\n\nherald-end\n",
			   "key");
	assert_parse_fails("herald-queue 1\nbad key: v\nsize: 0\n\nherald-end\n",
			   "key");
}

/* --- slices ---------------------------------------------------------------- */

static void
test_digest_in_exactly_one_slice(void)
{
	for (int i = 0; i < 2000; i++) {
		char *d = random_hex(20);

		for (unsigned n = 1; n <= 7; n++) {
			unsigned hits = 0;

			for (unsigned s = 0; s < n; s++)
				hits += queue_digest_in_slice(d, s, n) ? 1 : 0;
			g_assert_cmpuint(hits, ==, 1);
			/* No slice beyond the last (n = 1 takes every
			 * digest without looking at s). */
			if (n > 1)
				g_assert_false(queue_digest_in_slice(d, n, n));
		}
		g_free(d);
	}
}

static void
test_digest_slice_matches_position_in_hash_space(void)
{
	/* Slice of d is floor(d * n / 2^160).  With t the top 64 bits of d,
	 * that lies in [floor(t*n / 2^64), floor(((t+1)*n - 1) / 2^64)]. */
	for (int i = 0; i < 2000; i++) {
		char *d = random_hex(20);
		char top[17];
		uint64_t t;

		memcpy(top, d, 16);
		top[16] = '\0';
		t = g_ascii_strtoull(top, NULL, 16);
		for (unsigned n = 1; n <= 7; n++) {
			unsigned __int128 lo = ((unsigned __int128)t * n) >> 64;
			unsigned __int128 hi =
			    (((unsigned __int128)t + 1) * n - 1) >> 64;
			unsigned s;

			for (s = 0; s < n; s++)
				if (queue_digest_in_slice(d, s, n))
					break;
			g_assert_cmpuint(s, >=, (unsigned)lo);
			g_assert_cmpuint(s, <=, (unsigned)hi);
		}
		g_free(d);
	}
}

static void
test_digest_slice_boundaries(void)
{
	const char *zeros = "0000000000000000000000000000000000000000";
	const char *ones = "ffffffffffffffffffffffffffffffffffffffff";

	for (unsigned n = 1; n <= 7; n++) {
		g_assert_true(queue_digest_in_slice(zeros, 0, n));
		g_assert_true(queue_digest_in_slice(ones, n - 1, n));
	}
	/* n = 4: slice 1 starts exactly at 2^158. */
	g_assert_true(queue_digest_in_slice(
	    "4000000000000000000000000000000000000000", 1, 4));
	g_assert_true(queue_digest_in_slice(
	    "3fffffffffffffffffffffffffffffffffffffff", 0, 4));
	g_assert_true(queue_digest_in_slice(
	    "8000000000000000000000000000000000000000", 2, 4));
	g_assert_true(queue_digest_in_slice(
	    "7fffffffffffffffffffffffffffffffffffffff", 1, 4));
	g_assert_true(queue_digest_in_slice(
	    "c000000000000000000000000000000000000000", 3, 4));
	g_assert_true(queue_digest_in_slice(
	    "bfffffffffffffffffffffffffffffffffffffff", 2, 4));
	/* n = 3, not a power of two: 0x55..55 * 3 = 2^160 - 1 (slice 0),
	 * 0x55..56 * 3 = 2^160 + 2 (slice 1); 0xaa..aa * 3 = 2^161 - 2
	 * (slice 1), 0xaa..ab * 3 = 2^161 + 1 (slice 2). */
	g_assert_true(queue_digest_in_slice(
	    "5555555555555555555555555555555555555555", 0, 3));
	g_assert_true(queue_digest_in_slice(
	    "5555555555555555555555555555555555555556", 1, 3));
	g_assert_true(queue_digest_in_slice(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1, 3));
	g_assert_true(queue_digest_in_slice(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", 2, 3));
	/* Not hex: in no slice. */
	for (unsigned s = 0; s < 4; s++)
		g_assert_false(queue_digest_in_slice(
		    "g000000000000000000000000000000000000000", s, 4));
}

/* --- queues ---------------------------------------------------------------- */

static void
test_open_rejects_bad_queue_names(void)
{
	char *var = tmp_dir_new();
	const char *bad[] = { "", "In", "a/b", "..", "a.b", "a b" };

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		GError *error = NULL;
		struct queue *q = queue_open(var, bad[i], &error);

		g_assert_null(q);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
		g_clear_error(&error);
	}
	struct queue *q = open_queue(var, "out-2");
	g_assert_true(g_file_test(queue_dir(q), G_FILE_TEST_IS_DIR));
	g_assert_cmpstr(queue_name(q), ==, "out-2");
	g_assert_cmpstr(queue_var_dir(q), ==, var);
	queue_close(&q);
	g_assert_null(q);
	tmp_dir_remove(&var);
}

static void
test_list_of_empty_queue_is_empty(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	GPtrArray *l = list(q, ".msg", 0, 1);

	g_assert_cmpuint(l->len, ==, 0);
	g_ptr_array_free(l, TRUE);
	g_assert_cmpint(count(q, NULL), ==, 0);
	g_assert_cmpint(recover(q, 0, 1), ==, 0);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_list_returns_oldest_first_by_received(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	/* Given stamps, enqueued out of order. */
	char *c = enqueue(q, "c", "received", "3000", NULL);
	char *a = enqueue(q, "a", "received", "1000", NULL);
	char *b = enqueue(q, "b", "received", "2000", NULL);
	GPtrArray *l = list(q, ".msg", 0, 1);

	g_assert_cmpuint(l->len, ==, 3);
	g_assert_cmpstr(l->pdata[0], ==, a);
	g_assert_cmpstr(l->pdata[1], ==, b);
	g_assert_cmpstr(l->pdata[2], ==, c);
	g_assert_true(g_str_has_prefix(a, "0000000000001000+"));
	g_ptr_array_free(l, TRUE);

	/* Without a stamp: now, so later enqueues sort later. */
	char *d = enqueue(q, "d", NULL);
	char *e = enqueue(q, "e", NULL);
	l = list(q, ".msg", 0, 1);
	g_assert_cmpuint(l->len, ==, 5);
	g_assert_cmpstr(l->pdata[3], ==, d);
	g_assert_cmpstr(l->pdata[4], ==, e);
	g_ptr_array_free(l, TRUE);

	g_free(a); g_free(b); g_free(c); g_free(d); g_free(e);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_requeued_item_keeps_older_stamp_and_sorts_first(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	GError *error = NULL;
	char *first = enqueue(q, "first message", NULL);
	char *second = enqueue(q, "second message", NULL);
	char *again = NULL;

	/* A runner takes the older one and puts it back (a retry). */
	claim(q, first);
	struct queue_item *it = read_entry(q, first, ".bak");
	g_assert_cmpint(queue_enqueue(q, it->meta, it->msg, it->msg_len, &again,
				      &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(queue_finish(q, first, &error), ==, 0);
	queue_item_free(&it);

	GPtrArray *l = list(q, ".msg", 0, 1);
	g_assert_cmpuint(l->len, ==, 2);
	g_assert_cmpstr(l->pdata[0], ==, again);
	g_assert_cmpstr(l->pdata[1], ==, second);
	g_assert_cmpmem(again, 16, first, 16);	/* the same stamp */
	g_ptr_array_free(l, TRUE);
	it = read_entry(q, again, ".msg");
	g_assert_cmpmem(it->msg, it->msg_len, "first message", 13);
	queue_item_free(&it);

	g_free(first); g_free(second); g_free(again);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_list_slices_partition_all_entries(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	GPtrArray *all;

	for (int i = 0; i < 64; i++) {
		char *msg = g_strdup_printf("message %d", i);
		g_free(enqueue(q, msg, NULL));
		g_free(msg);
	}
	all = list(q, ".msg", 0, 1);
	g_assert_cmpuint(all->len, ==, 64);

	for (unsigned n = 1; n <= 7; n++) {
		GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal,
							 g_free, NULL);
		for (unsigned s = 0; s < n; s++) {
			GPtrArray *part = list(q, ".msg", s, n);

			for (guint i = 0; i < part->len; i++) {
				const char *b = part->pdata[i];
				/* disjoint */
				g_assert_true(g_hash_table_add(seen, g_strdup(b)));
				g_assert_true(queue_digest_in_slice(b + 17, s, n));
				/* and each slice oldest first */
				if (i > 0)
					g_assert_cmpint(strcmp(part->pdata[i - 1], b),
							<, 0);
			}
			g_ptr_array_free(part, TRUE);
		}
		/* covering */
		g_assert_cmpuint(g_hash_table_size(seen), ==, all->len);
		for (guint i = 0; i < all->len; i++)
			g_assert_true(g_hash_table_contains(seen, all->pdata[i]));
		g_hash_table_destroy(seen);
	}
	g_ptr_array_free(all, TRUE);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_list_ignores_other_files(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *b = enqueue(q, "m", NULL);
	const char *junk[] = {
		"notes.txt", ".hidden.msg",
		"000000000000000x+0000000000000000000000000000000000000000.msg",
		"0000000000000001+0000000000000000000000000000000000000000.msg.old",
		"0000000000000001+0000000000000000000000000000000000000000.x.1.tmp",
	};

	for (guint i = 0; i < G_N_ELEMENTS(junk); i++) {
		char *p = g_build_filename(queue_dir(q), junk[i], NULL);
		g_assert_true(g_file_set_contents(p, "x", 1, NULL));
		g_free(p);
	}
	GPtrArray *l = list(q, ".msg", 0, 1);
	g_assert_cmpuint(l->len, ==, 1);
	g_assert_cmpstr(l->pdata[0], ==, b);
	g_ptr_array_free(l, TRUE);
	g_assert_cmpint(count(q, NULL), ==, 1);
	g_free(b);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_claim_twice_in_own_slice_returns_1(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *b = enqueue(q, "m", NULL);
	GError *error = NULL;

	g_assert_cmpint(queue_claim(q, b, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_false(entry_exists(q, b, ".msg"));
	g_assert_true(entry_exists(q, b, ".bak"));
	/* Claimed entries are not listed as ready. */
	GPtrArray *l = list(q, ".msg", 0, 1);
	g_assert_cmpuint(l->len, ==, 0);
	g_ptr_array_free(l, TRUE);
	l = list(q, ".bak", 0, 1);
	g_assert_cmpuint(l->len, ==, 1);
	g_ptr_array_free(l, TRUE);

	/* Claimed already: within its slice that can only be our own claim
	 * whose NFS reply was lost, so it counts as claimed (queue.h). */
	g_assert_cmpint(queue_claim(q, b, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_true(entry_exists(q, b, ".bak"));

	g_free(b);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_claim_of_finished_entry_returns_0(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *b = enqueue(q, "m", NULL);
	GError *error = NULL;

	claim(q, b);
	g_assert_cmpint(queue_finish(q, b, &error), ==, 0);
	g_assert_cmpint(queue_claim(q, b, &error), ==, 0);
	g_assert_no_error(error);
	/* Never there at all: also 0, not an error. */
	g_assert_cmpint(queue_claim(q,
	    "0000000000000001+0000000000000000000000000000000000000000", &error),
	    ==, 0);
	g_assert_no_error(error);

	g_free(b);
	queue_close(&q);
	tmp_dir_remove(&var);
}

/* The inode of entry base<ext> of q. */
static ino_t
entry_ino(struct queue *q, const char *base, const char *ext)
{
	char *path = g_strdup_printf("%s/%s%s", queue_dir(q), base, ext);
	struct stat st;

	g_assert_cmpint(stat(path, &st), ==, 0);
	g_free(path);
	return st.st_ino;
}

/* A finished entry's file is kept, emptied, as a spare, and the queue's
 * next entry is written into it: the same inode, the new bytes only (a
 * short message after a long one), no spare left; never more than 64. */
static void
test_finished_file_is_the_next_entrys(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *spare_dir = g_build_filename(queue_dir(q), ".spare", NULL);
	char *b = enqueue(q, "a long message, longer than the next one", NULL);
	ino_t ino = entry_ino(q, b, ".msg");
	struct queue_item *it = NULL;
	GError *error = NULL;
	GPtrArray *names;
	char *c;

	claim(q, b);
	g_assert_cmpint(queue_finish(q, b, &error), ==, 0);
	names = fs_dir_names(spare_dir, NULL, &error);
	g_assert_nonnull(names);
	g_assert_cmpuint(names->len, ==, 1);
	g_ptr_array_unref(names);
	/* The first enqueue found no spare, and an empty spare directory is
	 * looked at again only after 100 ms. */
	g_usleep(150000);
	c = enqueue(q, "short", NULL);
	g_assert_cmpuint(entry_ino(q, c, ".msg"), ==, ino);
	g_assert_cmpint(queue_read(q, c, ".msg", &it, &error), ==, 1);
	g_assert_cmpmem(it->msg, it->msg_len, "short", 5);
	queue_item_free(&it);
	/* Taken: none left. */
	names = fs_dir_names(spare_dir, NULL, &error);
	g_assert_cmpuint(names->len, ==, 0);
	g_ptr_array_unref(names);
	/* 70 finished one after another fill the 64 slots, no more (the
	 * entries written first, so that none of them takes a spare, however
	 * slow the machine). */
	GPtrArray *many = g_ptr_array_new_with_free_func(g_free);

	for (int i = 0; i < 70; i++)
		g_ptr_array_add(many, enqueue(q, "m", NULL));
	for (guint i = 0; i < many->len; i++) {
		claim(q, many->pdata[i]);
		g_assert_cmpint(queue_finish(q, many->pdata[i], &error), ==, 0);
	}
	g_ptr_array_unref(many);
	names = fs_dir_names(spare_dir, NULL, &error);
	g_assert_cmpuint(names->len, ==, 64);
	g_ptr_array_unref(names);
	g_assert_cmpint(queue_count(q, NULL, &error), ==, 1);
	g_free(b);
	g_free(c);
	g_free(spare_dir);
	queue_close(&q);
	tmp_dir_remove(&var);
}

/* truncate(), as the queue code calls it, with another writer in the gap
 * the kernel leaves: truncate() finds the file by its name, and empties
 * that inode a moment later, whatever its name is by then.  While
 * race_dir is set, this one looks the file up, lets a writer take every
 * spare in race_dir (a rename out of .spare/, as an enqueue does) and
 * write an entry into it, and only then empties the file it looked up. */
static const char *race_dir;	/* the queue's directory */
static int race_taken;		/* spares the writer took */

int
truncate(const char *path, off_t length)
{
	char *spare_dir;
	GPtrArray *names;
	int fd, r;

	if (race_dir == NULL)
		return (int)syscall(SYS_truncate, path, length);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	spare_dir = g_build_filename(race_dir, ".spare", NULL);
	names = fs_dir_names(spare_dir, NULL, NULL);
	for (guint i = 0; names != NULL && i < names->len; i++) {
		char *from = g_build_filename(spare_dir, names->pdata[i], NULL);
		char *to = g_strdup_printf("%s/taken.%d", race_dir, race_taken);

		if (rename(from, to) == 0) {
			int wfd = open(to, O_WRONLY | O_TRUNC | O_CLOEXEC);

			g_assert_cmpint(wfd, >=, 0);
			g_assert_cmpint(write(wfd, "an entry", 8), ==, 8);
			close(wfd);
			race_taken++;
		}
		g_free(from);
		g_free(to);
	}
	if (names != NULL)
		g_ptr_array_unref(names);
	g_free(spare_dir);
	r = ftruncate(fd, length);
	close(fd);
	return r;
}

/* A writer that takes a spare while an entry is being finished keeps what
 * it wrote: the finisher empties its file before the file is a spare,
 * never after (two-masters.sh lost a message to that, 1 in 4,000). */
static void
test_finish_never_empties_a_taken_spare(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *a = enqueue(q, "first", NULL);
	char *b = enqueue(q, "second", NULL);
	char *bak = g_strdup_printf("%s/%s.bak", queue_dir(q), b);
	GError *error = NULL;
	struct stat st;

	claim(q, a);
	claim(q, b);
	g_assert_cmpint(queue_finish(q, a, &error), ==, 0);
	race_dir = queue_dir(q);
	race_taken = 0;
	g_assert_cmpint(queue_finish(q, b, &error), ==, 0);
	race_dir = NULL;
	g_assert_no_error(error);
	/* a's spare was there to take; b's file, if it was one already,
	 * would have been taken too. */
	g_assert_cmpint(race_taken, >=, 1);
	for (int i = 0; i < race_taken; i++) {
		char *taken = g_strdup_printf("%s/taken.%d", queue_dir(q), i);
		char *data = NULL;

		g_assert_true(g_file_get_contents(taken, &data, NULL, NULL));
		g_assert_cmpstr(data, ==, "an entry");
		g_free(data);
		g_free(taken);
	}
	g_assert_cmpint(stat(bak, &st), <, 0);
	g_free(bak);
	g_free(a);
	g_free(b);
	queue_close(&q);
	tmp_dir_remove(&var);
}

/* After a power cut on a file system without a journal, a spare's name
 * can come back beside the entry that took it (fsck counts two links):
 * the next writer leaves that file alone and makes a new one, and the
 * entry keeps its bytes.  A spare that was not emptied (its truncate
 * lost) is not written into either. */
static void
test_spare_with_another_name_is_left_alone(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *spare_dir = g_build_filename(queue_dir(q), ".spare", NULL);
	char *y = enqueue(q, "an entry that took a spare", NULL);
	char *ypath = g_strdup_printf("%s/%s.msg", queue_dir(q), y);
	char *alias = g_build_filename(spare_dir, "7", NULL);
	char *full = g_build_filename(spare_dir, "8", NULL);
	struct queue_item *it = NULL;
	GError *error = NULL;
	char *z, *w;

	g_assert_cmpint(mkdir(spare_dir, 0770), ==, 0);
	g_assert_cmpint(link(ypath, alias), ==, 0);
	g_assert_true(g_file_set_contents(full, "old bytes", 9, NULL));
	g_usleep(150000);	/* .spare/ looked at again, both found */
	z = enqueue(q, "z", NULL);
	w = enqueue(q, "w", NULL);
	g_assert_cmpuint(entry_ino(q, z, ".msg"), !=, entry_ino(q, y, ".msg"));
	g_assert_cmpuint(entry_ino(q, w, ".msg"), !=, entry_ino(q, y, ".msg"));
	g_assert_cmpint(queue_read(q, y, ".msg", &it, &error), ==, 1);
	g_assert_cmpmem(it->msg, it->msg_len, "an entry that took a spare", 26);
	queue_item_free(&it);
	g_assert_cmpint(queue_read(q, z, ".msg", &it, &error), ==, 1);
	g_assert_cmpmem(it->msg, it->msg_len, "z", 1);
	queue_item_free(&it);
	g_assert_cmpint(queue_count(q, NULL, &error), ==, 3);
	g_free(z);
	g_free(w);
	g_free(y);
	g_free(ypath);
	g_free(alias);
	g_free(full);
	g_free(spare_dir);
	queue_close(&q);
	tmp_dir_remove(&var);
}

/* A runner that died between emptying a finished entry and keeping it as
 * a spare left an empty .bak: recovery removes it, as the finished entry
 * it is, and nothing goes to bad/; an empty .msg (an empty .bak given back
 * with others) is removed when read. */
static void
test_empty_entry_is_a_finished_one(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *base = enqueue(q, "hello", NULL);
	char *bak = g_strdup_printf("%s/%s.bak", queue_dir(q), base);
	char *bad = g_build_filename(var, "queue", "bad", NULL);
	struct queue_item *it = NULL;
	GError *error = NULL;
	struct stat st;

	claim(q, base);
	g_assert_cmpint(truncate(bak, 0), ==, 0);
	g_assert_cmpint(recover(q, 0, 1), ==, 0);
	g_assert_cmpint(stat(bak, &st), <, 0);
	g_assert_cmpint(queue_count(q, NULL, &error), ==, 0);
	g_assert_cmpint(stat(bad, &st), <, 0);
	g_free(base);
	g_free(bak);
	base = enqueue(q, "hello", NULL);
	bak = g_strdup_printf("%s/%s.bak", queue_dir(q), base);
	claim(q, base);
	g_assert_cmpint(truncate(bak, 0), ==, 0);
	g_assert_cmpint(queue_unclaim(q, base, &error), ==, 0);
	claim(q, base);
	g_assert_cmpint(queue_read(q, base, ".bak", &it, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_null(it);
	g_assert_cmpint(queue_count(q, NULL, &error), ==, 0);
	g_assert_cmpint(stat(bad, &st), <, 0);
	g_free(bak);
	g_free(bad);
	g_free(base);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_read_claimed_gives_same_message_and_metadata(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	GError *error = NULL;
	struct queue_meta *m = queue_meta_new();
	static const char msg[] = "From: a@example.org\n\nhello\r\nworld\n";
	char *b = NULL;

	queue_meta_add(m, "list", "l@example.com");
	queue_meta_add(m, "rcpt", "x@example.org");
	queue_meta_add(m, "rcpt", "y@example.org");
	queue_meta_add(m, "note", "two\nlines");
	g_assert_cmpint(queue_enqueue(q, m, msg, strlen(msg), &b, &error), ==, 0);
	/* enqueue stamped the metadata it was given. */
	g_assert_cmpint(queue_meta_get_int(m, "received", 0), >, 0);
	char *stamp = g_strdup_printf("%016lld", (long long)
				      queue_meta_get_int(m, "received", 0));
	g_assert_cmpmem(b, 16, stamp, 16);
	g_free(stamp);
	claim(q, b);

	struct queue_item *it = read_entry(q, b, ".bak");
	g_assert_cmpstr(it->base, ==, b);
	g_assert_cmpmem(it->msg, it->msg_len, msg, strlen(msg));
	assert_meta_equal(it->meta, m);
	queue_item_free(&it);
	g_assert_null(it);

	/* The .msg is gone: absent, not an error. */
	g_assert_cmpint(queue_read(q, b, ".msg", &it, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_null(it);

	queue_meta_free(&m);
	g_free(b);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_read_corrupt_entry_fails_with_format_error(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	const char *base =
	    "0000000000000001+0123456789abcdef0123456789abcdef01234567";
	char *p = g_strdup_printf("%s/%s.msg", queue_dir(q), base);
	struct queue_item *it = NULL;
	GError *error = NULL;

	g_assert_true(g_file_set_contents(p, "herald-queue 1\nsize: 10\n\nab",
					  -1, NULL));
	g_assert_cmpint(queue_read(q, base, ".msg", &it, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
	g_assert_nonnull(strstr(error->message, p));	/* names the file */
	g_assert_null(it);
	g_clear_error(&error);
	g_free(p);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_finish_removes_claimed_entry(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *b = enqueue(q, "m", NULL);
	GError *error = NULL;

	claim(q, b);
	g_assert_cmpint(queue_finish(q, b, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_false(entry_exists(q, b, ".bak"));
	g_assert_false(entry_exists(q, b, ".msg"));
	g_assert_cmpint(count(q, NULL), ==, 0);
	/* Finishing twice (a retransmitted NFS unlink) is fine. */
	g_assert_cmpint(queue_finish(q, b, &error), ==, 0);
	g_assert_no_error(error);
	g_free(b);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_unclaim_puts_entry_back(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *b = enqueue(q, "m", NULL);
	GError *error = NULL;

	claim(q, b);
	g_assert_cmpint(queue_unclaim(q, b, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_true(entry_exists(q, b, ".msg"));
	g_assert_false(entry_exists(q, b, ".bak"));
	GPtrArray *l = list(q, ".msg", 0, 1);
	g_assert_cmpuint(l->len, ==, 1);
	g_assert_cmpstr(l->pdata[0], ==, b);
	g_ptr_array_free(l, TRUE);
	/* And it can be claimed again. */
	claim(q, b);
	g_free(b);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_recover_returns_bak_to_msg_with_bak_count_1(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *b = enqueue(q, "the message", "pipeline", "p1", NULL);

	claim(q, b);
	/* The runner died here.  The next runner starts with a recovery. */
	g_assert_cmpint(recover(q, 0, 1), ==, 1);
	g_assert_true(entry_exists(q, b, ".msg"));
	g_assert_false(entry_exists(q, b, ".bak"));
	struct queue_item *it = read_entry(q, b, ".msg");
	g_assert_cmpint(queue_meta_get_int(it->meta, "bak-count", 0), ==, 1);
	g_assert_cmpstr(queue_meta_get(it->meta, "pipeline"), ==, "p1");
	g_assert_cmpmem(it->msg, it->msg_len, "the message", 11);
	queue_item_free(&it);
	/* No leftover temporary file. */
	g_assert_cmpint(count(q, NULL), ==, 1);
	GDir *d = g_dir_open(queue_dir(q), 0, NULL);
	const char *e;
	while ((e = g_dir_read_name(d)) != NULL)
		g_assert_false(g_str_has_suffix(e, ".tmp"));
	g_dir_close(d);
	g_free(b);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_recover_third_strike_moves_to_bad(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *b = enqueue(q, "poison", NULL);

	for (int strike = 1; strike < QUEUE_MAX_BAK_COUNT; strike++) {
		claim(q, b);
		g_assert_cmpint(recover(q, 0, 1), ==, 1);
		struct queue_item *it = read_entry(q, b, ".msg");
		g_assert_cmpint(queue_meta_get_int(it->meta, "bak-count", 0), ==,
				strike);
		queue_item_free(&it);
	}
	claim(q, b);
	g_assert_cmpint(recover(q, 0, 1), ==, 0);
	g_assert_cmpint(count(q, NULL), ==, 0);

	struct queue *bad = open_queue(var, "bad");
	struct queue_item *it = read_entry(bad, b, ".msg");
	g_assert_cmpmem(it->msg, it->msg_len, "poison", 6);
	queue_item_free(&it);
	queue_close(&bad);
	g_free(b);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_recover_moves_corrupt_bak_to_bad(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	const char *base =
	    "0000000000000001+0123456789abcdef0123456789abcdef01234567";
	char *p = g_strdup_printf("%s/%s.bak", queue_dir(q), base);
	char *badp = g_build_filename(var, "queue", "bad", NULL);
	char *badf = g_strdup_printf("%s/%s.msg", badp, base);

	/* Written up to the body, no end marker: its writer died. */
	g_assert_true(g_file_set_contents(
	    p, "herald-queue 1\nsize: 100\n\nFrom: a@example.org\n", -1, NULL));
	g_assert_cmpint(recover(q, 0, 1), ==, 0);
	g_assert_false(g_file_test(p, G_FILE_TEST_EXISTS));
	g_assert_cmpint(count(q, NULL), ==, 0);
	g_assert_true(g_file_test(badf, G_FILE_TEST_IS_REGULAR));

	g_free(p);
	g_free(badp);
	g_free(badf);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_recover_touches_only_its_slice(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	int in_slice0 = 0;

	for (int i = 0; i < 32; i++) {
		char *msg = g_strdup_printf("m%d", i);
		char *b = enqueue(q, msg, NULL);
		claim(q, b);
		if (queue_digest_in_slice(b + 17, 0, 2))
			in_slice0++;
		g_free(b);
		g_free(msg);
	}
	g_assert_cmpint(recover(q, 0, 2), ==, in_slice0);
	g_assert_cmpint(count(q, ".msg"), ==, in_slice0);
	g_assert_cmpint(count(q, ".bak"), ==, 32 - in_slice0);
	GPtrArray *l = list(q, ".bak", 0, 2);
	g_assert_cmpuint(l->len, ==, 0);
	g_ptr_array_free(l, TRUE);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_shunt_then_unshunt_returns_item_with_its_metadata(void)
{
	char *var = tmp_dir_new();
	struct queue *in = open_queue(var, "in");
	struct queue *shunt;
	GError *error = NULL;
	char *b = enqueue(in, "the message", "pipeline", "decorate,deliver",
			  "list", "l@example.com", "bak-count", "1", NULL);
	struct queue_item *it;
	GPtrArray *l;
	int64_t received;

	claim(in, b);
	it = read_entry(in, b, ".bak");
	received = queue_meta_get_int(it->meta, "received", 0);
	g_assert_cmpint(queue_shunt(in, it, "handler crashed", &error), ==, 0);
	g_assert_no_error(error);
	queue_item_free(&it);
	g_assert_cmpint(count(in, NULL), ==, 0);

	shunt = open_queue(var, "shunt");
	l = list(shunt, ".msg", 0, 1);
	g_assert_cmpuint(l->len, ==, 1);
	it = read_entry(shunt, l->pdata[0], ".msg");
	g_assert_cmpstr(queue_meta_get(it->meta, "whichq"), ==, "in");
	g_assert_cmpstr(queue_meta_get(it->meta, "shunt-reason"), ==,
			"handler crashed");
	g_assert_cmpstr(queue_meta_get(it->meta, "pipeline"), ==,
			"decorate,deliver");
	g_assert_null(queue_meta_get(it->meta, "bak-count"));
	g_assert_cmpmem(it->msg, it->msg_len, "the message", 11);
	queue_item_free(&it);
	g_ptr_array_free(l, TRUE);

	g_assert_cmpint(queue_unshunt(var, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpint(count(shunt, NULL), ==, 0);
	l = list(in, ".msg", 0, 1);
	g_assert_cmpuint(l->len, ==, 1);
	it = read_entry(in, l->pdata[0], ".msg");
	g_assert_cmpstr(queue_meta_get(it->meta, "pipeline"), ==,
			"decorate,deliver");
	g_assert_cmpstr(queue_meta_get(it->meta, "list"), ==, "l@example.com");
	g_assert_null(queue_meta_get(it->meta, "whichq"));
	g_assert_null(queue_meta_get(it->meta, "shunt-reason"));
	g_assert_null(queue_meta_get(it->meta, "bak-count"));
	/* Back in its old FIFO position. */
	g_assert_cmpint(queue_meta_get_int(it->meta, "received", 0), ==, received);
	g_assert_cmpmem(it->msg, it->msg_len, "the message", 11);
	queue_item_free(&it);
	g_ptr_array_free(l, TRUE);

	g_free(b);
	queue_close(&shunt);
	queue_close(&in);
	tmp_dir_remove(&var);
}

static void
test_unshunt_returns_each_item_to_its_own_queue(void)
{
	char *var = tmp_dir_new();
	struct queue *a = open_queue(var, "alpha");
	struct queue *b = open_queue(var, "beta");
	GError *error = NULL;
	char *ba = enqueue(a, "to alpha", NULL);
	char *bb = enqueue(b, "to beta", NULL);
	struct queue_item *it;

	claim(a, ba);
	it = read_entry(a, ba, ".bak");
	g_assert_cmpint(queue_shunt(a, it, "x", &error), ==, 0);
	queue_item_free(&it);
	claim(b, bb);
	it = read_entry(b, bb, ".bak");
	g_assert_cmpint(queue_shunt(b, it, "y", &error), ==, 0);
	queue_item_free(&it);
	g_assert_no_error(error);

	g_assert_cmpint(queue_unshunt(var, &error), ==, 2);
	g_assert_no_error(error);
	GPtrArray *l = list(a, ".msg", 0, 1);
	g_assert_cmpuint(l->len, ==, 1);
	it = read_entry(a, l->pdata[0], ".msg");
	g_assert_cmpmem(it->msg, it->msg_len, "to alpha", 8);
	queue_item_free(&it);
	g_ptr_array_free(l, TRUE);
	l = list(b, ".msg", 0, 1);
	g_assert_cmpuint(l->len, ==, 1);
	it = read_entry(b, l->pdata[0], ".msg");
	g_assert_cmpmem(it->msg, it->msg_len, "to beta", 7);
	queue_item_free(&it);
	g_ptr_array_free(l, TRUE);

	g_free(ba);
	g_free(bb);
	queue_close(&a);
	queue_close(&b);
	tmp_dir_remove(&var);
}

static char *
write_tmp(struct queue *q, const char *base, const char *host, long pid)
{
	char *p = g_strdup_printf("%s/%s.%s.%ld.tmp", queue_dir(q), base, host,
				  pid);

	g_assert_true(g_file_set_contents(p, "herald-queue 1\n", -1, NULL));
	return p;
}

static void
test_clean_tmp_removes_dead_writers_file_and_keeps_live_ones(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	GHashTable *live = g_hash_table_new(g_str_hash, g_str_equal);
	GError *error = NULL;
	const char *b1 = "0000000000000001+0000000000000000000000000000000000000001";
	const char *b2 = "0000000000000002+0000000000000000000000000000000000000002";
	const char *b3 = "0000000000000003+0000000000000000000000000000000000000003";
	char *dead = write_tmp(q, b1, herald_host(), (long)dead_pid());
	char *alive = write_tmp(q, b2, herald_host(), (long)getpid());
	/* Another host's fresh file: its writer may be at work. */
	char *foreign = write_tmp(q, b3, "some-other-host", 1);
	char *msg = enqueue(q, "ready", NULL);

	g_assert_cmpint(queue_clean_tmp(q, live, 3600, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_false(g_file_test(dead, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(alive, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(foreign, G_FILE_TEST_EXISTS));
	g_assert_true(entry_exists(q, msg, ".msg"));
	/* Nothing more to clean. */
	g_assert_cmpint(queue_clean_tmp(q, live, 3600, &error), ==, 0);

	g_hash_table_destroy(live);
	g_free(dead);
	g_free(alive);
	g_free(foreign);
	g_free(msg);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_clean_tmp_removes_old_tmp_of_dead_host_only(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	GHashTable *live = g_hash_table_new(g_str_hash, g_str_equal);
	GError *error = NULL;
	const char *b1 = "0000000000000001+0000000000000000000000000000000000000001";
	const char *b2 = "0000000000000002+0000000000000000000000000000000000000002";
	char *of_dead = write_tmp(q, b1, "dead-host", 4242);
	char *of_live = write_tmp(q, b2, "live-host", 4242);

	g_hash_table_add(live, (gpointer)"live-host");
	/* Age is judged in whole seconds of the server clock: let one pass,
	 * so both files are older than a dead_age_s of 0. */
	g_usleep(1100 * 1000);
	g_assert_cmpint(queue_clean_tmp(q, live, 0, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_false(g_file_test(of_dead, G_FILE_TEST_EXISTS));
	/* A live host's writer gets QUEUE_TMP_FOREIGN_AGE. */
	g_assert_true(g_file_test(of_live, G_FILE_TEST_EXISTS));

	g_hash_table_destroy(live);
	g_free(of_dead);
	g_free(of_live);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static void
test_count_counts_by_extension(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "in");
	char *a = enqueue(q, "a", NULL);
	char *b = enqueue(q, "b", NULL);
	char *c = enqueue(q, "c", NULL);
	char *t = write_tmp(q, "0000000000000001+0000000000000000000000000000000000000001",
			    herald_host(), (long)getpid());

	g_assert_cmpint(count(q, NULL), ==, 3);
	claim(q, b);
	g_assert_cmpint(count(q, ".msg"), ==, 2);
	g_assert_cmpint(count(q, ".bak"), ==, 1);
	g_assert_cmpint(count(q, NULL), ==, 3);
	GError *error = NULL;
	g_assert_cmpint(queue_finish(q, b, &error), ==, 0);
	g_assert_cmpint(count(q, NULL), ==, 2);
	g_free(a); g_free(b); g_free(c); g_free(t);
	queue_close(&q);
	tmp_dir_remove(&var);
}

static const struct unit_test tests[] = {
	{ "/queue/meta/set-add-get-get-all-remove",
	  test_meta_set_add_get_get_all_remove },
	{ "/queue/meta/get-int-parses-or-default",
	  test_meta_get_int_parses_or_gives_default },
	{ "/queue/meta/copy-is-independent",
	  test_meta_copy_is_independent },
	{ "/queue/format/round-trip-escapes-nl-cr-backslash",
	  test_format_parse_round_trip_escapes_newline_cr_backslash },
	{ "/queue/format/round-trip-empty-message",
	  test_format_parse_round_trip_empty_message },
	{ "/queue/format/round-trip-binary-message",
	  test_format_parse_round_trip_binary_message },
	{ "/queue/parse/rejects-missing-version-line",
	  test_parse_rejects_missing_version_line },
	{ "/queue/parse/rejects-missing-size",
	  test_parse_rejects_missing_size },
	{ "/queue/parse/rejects-truncated-body",
	  test_parse_rejects_truncated_body },
	{ "/queue/parse/rejects-missing-end-marker",
	  test_parse_rejects_missing_end_marker },
	{ "/queue/parse/rejects-header-line-without-key",
	  test_parse_rejects_header_line_without_key },
	{ "/queue/slice/every-digest-in-exactly-one-slice",
	  test_digest_in_exactly_one_slice },
	{ "/queue/slice/matches-position-in-hash-space",
	  test_digest_slice_matches_position_in_hash_space },
	{ "/queue/slice/boundaries",
	  test_digest_slice_boundaries },
	{ "/queue/open/rejects-bad-names",
	  test_open_rejects_bad_queue_names },
	{ "/queue/list/empty-queue-is-empty",
	  test_list_of_empty_queue_is_empty },
	{ "/queue/list/oldest-first-by-received",
	  test_list_returns_oldest_first_by_received },
	{ "/queue/list/requeued-keeps-stamp-sorts-first",
	  test_requeued_item_keeps_older_stamp_and_sorts_first },
	{ "/queue/list/slices-partition-entries",
	  test_list_slices_partition_all_entries },
	{ "/queue/list/ignores-other-files",
	  test_list_ignores_other_files },
	{ "/queue/claim/repeat-claim-of-own-slice-entry-is-1",
	  test_claim_twice_in_own_slice_returns_1 },
	{ "/queue/finish/file-kept-for-the-next-entry",
	  test_finished_file_is_the_next_entrys },
	{ "/queue/finish/never-empties-a-taken-spare",
	  test_finish_never_empties_a_taken_spare },
	{ "/queue/enqueue/spare-with-another-name-left-alone",
	  test_spare_with_another_name_is_left_alone },
	{ "/queue/recover/empty-entry-is-a-finished-one",
	  test_empty_entry_is_a_finished_one },
	{ "/queue/claim/finished-or-unknown-returns-0",
	  test_claim_of_finished_entry_returns_0 },
	{ "/queue/read/claimed-same-message-and-meta",
	  test_read_claimed_gives_same_message_and_metadata },
	{ "/queue/read/corrupt-entry-format-error",
	  test_read_corrupt_entry_fails_with_format_error },
	{ "/queue/finish/removes-entry",
	  test_finish_removes_claimed_entry },
	{ "/queue/unclaim/puts-entry-back",
	  test_unclaim_puts_entry_back },
	{ "/queue/recover/bak-to-msg-bak-count-1",
	  test_recover_returns_bak_to_msg_with_bak_count_1 },
	{ "/queue/recover/third-strike-to-bad",
	  test_recover_third_strike_moves_to_bad },
	{ "/queue/recover/corrupt-bak-to-bad",
	  test_recover_moves_corrupt_bak_to_bad },
	{ "/queue/recover/only-its-slice",
	  test_recover_touches_only_its_slice },
	{ "/queue/shunt/unshunt-restores-item-and-metadata",
	  test_shunt_then_unshunt_returns_item_with_its_metadata },
	{ "/queue/shunt/unshunt-to-each-origin-queue",
	  test_unshunt_returns_each_item_to_its_own_queue },
	{ "/queue/clean-tmp/dead-writer-removed-live-kept",
	  test_clean_tmp_removes_dead_writers_file_and_keeps_live_ones },
	{ "/queue/clean-tmp/dead-hosts-old-file-removed",
	  test_clean_tmp_removes_old_tmp_of_dead_host_only },
	{ "/queue/count/by-extension",
	  test_count_counts_by_extension },
};

int
main(int argc, char **argv)
{
	return testutil_main_isolated(argc, argv, tests, G_N_ELEMENTS(tests));
}
