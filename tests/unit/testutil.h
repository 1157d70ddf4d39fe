/*
 * testutil.h - what the unit tests share (header only: each test program
 * is one .c file): scratch directories, running each test in a process of
 * its own, the programs built beside the tests, and a fixture of a var
 * dir with a list in it, with members, posts to it and its queues read
 * back.
 */
#ifndef HERALD_TESTUTIL_H
#define HERALD_TESTUTIL_H

#include <ftw.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail/address.h"
#include "list/list.h"
#include "store/lock.h"
#include "base/log.h"
#include "mail/message.h"
#include "pipeline/pipeline.h"
#include "store/queue.h"
#include "list/roster.h"
#include "store/site.h"

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

/* Defines main() of a test program whose tests, the array tests, each
 * run isolated. */
#define UNIT_TEST_MAIN(tests) \
	int \
	main(int argc, char **argv) \
	{ \
		return testutil_main_isolated(argc, argv, (tests), \
					      G_N_ELEMENTS(tests)); \
	}

/* --- strings ------------------------------------------------------------- */

/* The strings of a joined by sep; "(null)" when a is NULL. */
static inline char *
strings_joined(const GPtrArray *a, const char *sep)
{
	GString *out;

	if (a == NULL)
		return g_strdup("(null)");
	out = g_string_new(NULL);
	for (guint i = 0; i < a->len; i++)
		g_string_append_printf(out, "%s%s", i > 0 ? sep : "",
				       (const char *)a->pdata[i]);
	return g_string_free(out, FALSE);
}

/* --- the programs and data beside the tests ------------------------------ */

/* The path of program name in the directory of this test program (the
 * tools in tests/tools are built there), found through /proc/self/exe. */
static inline char *
testutil_tool_path(const char *name)
{
	char *exe = g_file_read_link("/proc/self/exe", NULL);
	char *dir, *path;

	g_assert_nonnull(exe);
	dir = g_path_get_dirname(exe);
	path = g_build_filename(dir, name, NULL);
	g_free(dir);
	g_free(exe);
	return path;
}

/* tests/data, for a test program run as argv0: tests/run exports
 * HERALD_TOP; else the program is in build/tests/. */
static inline char *
testutil_data_dir(const char *argv0)
{
	const char *top = g_getenv("HERALD_TOP");
	char *bin, *dir;

	if (top != NULL)
		return g_build_filename(top, "tests", "data", NULL);
	bin = g_path_get_dirname(argv0);
	dir = g_build_filename(bin, "..", "..", "tests", "data", NULL);
	g_free(bin);
	return dir;
}

/* --- a var dir with a list in it ----------------------------------------- */

/* The owner of every list a fixture creates. */
#define FIXTURE_OWNER "owner@example.org"

struct list_fixture {
	char *var;		/* the scratch var dir */
	struct site *site;
	struct list *list;	/* NULL when made without one */
	struct pipe_env env;	/* the runner's: kept from post to post */
};

/* Creates list fqdn in f's site (owner FIXTURE_OWNER) and opens it. */
static inline struct list *
fixture_new_list(struct list_fixture *f, const char *fqdn)
{
	static const char *const owners[] = { FIXTURE_OWNER, NULL };
	GError *error = NULL;
	struct list *l;

	g_assert_cmpint(list_create(f->site, fqdn, owners, &error), ==, 0);
	g_assert_no_error(error);
	l = list_open(f->site, fqdn, &error);
	g_assert_no_error(error);
	g_assert_nonnull(l);
	return l;
}

/* A fresh var dir (site_init) with its site open and, unless fqdn is
 * NULL, the list fqdn created and open. */
static inline void
list_fixture_init(struct list_fixture *f, const char *fqdn)
{
	GError *error = NULL;

	memset(f, 0, sizeof *f);
	f->var = tmp_dir_new();
	g_assert_cmpint(site_init(f->var, &error), ==, 0);
	g_assert_no_error(error);
	f->site = site_open(f->var, &error);
	g_assert_no_error(error);
	g_assert_nonnull(f->site);
	if (fqdn != NULL)
		f->list = fixture_new_list(f, fqdn);
}

/* A fresh var dir with its site open, and no list; returns the site. */
static inline struct site *
site_fixture_init(struct list_fixture *f)
{
	list_fixture_init(f, NULL);
	return f->site;
}

/* Frees what the posts left in the runner's env, closes the list and the
 * site, and removes the var dir. */
static inline void
list_fixture_clear(struct list_fixture *f)
{
	if (f->env.dmarc_free != NULL)
		f->env.dmarc_free(f->env.dmarc);
	memset(&f->env, 0, sizeof f->env);
	list_free(&f->list);
	site_free(&f->site);
	tmp_dir_remove(&f->var);
}

/* Sets list setting name, and checks that it took. */
static inline void
list_set_ok(struct list *l, const char *name, const char *value)
{
	GError *error = NULL;

	g_assert_cmpint(list_set(l, name, value, &error), ==, 0);
	g_assert_no_error(error);
}

/* Sets site setting key, and checks that it took. */
static inline void
site_set_ok(struct site *s, const char *key, const char *value)
{
	GError *error = NULL;

	g_assert_cmpint(site_set(s, key, value, &error), ==, 0);
	g_assert_no_error(error);
}

/* Makes queue name impossible to open: a file where its directory would
 * be (a permission would not do: the tests may run as root). */
static inline void
fixture_break_queue(struct list_fixture *f, const char *name)
{
	char *qdir = g_build_filename(f->var, "queue", NULL);
	char *path = g_build_filename(qdir, name, NULL);

	g_assert_cmpint(g_mkdir_with_parents(qdir, 0755), ==, 0);
	if (g_file_test(path, G_FILE_TEST_IS_DIR))
		g_assert_cmpint(rmdir(path), ==, 0);
	g_assert_true(g_file_set_contents(path, "not a directory", -1, NULL));
	g_free(path);
	g_free(qdir);
}

/* --- members ------------------------------------------------------------- */

/* Puts addr in l's roster with this mode, status and options, and plain
 * values in the other fields. */
static inline void
fixture_put_member(struct list *l, const char *addr, enum member_mode mode,
		   enum member_status status, unsigned options)
{
	struct roster_change *c = roster_change_new();
	struct member m = { 0 };
	GError *error = NULL;

	m.key = address_key(addr);
	g_assert_nonnull(m.key);
	m.addr = address_normalise(addr, &error);
	g_assert_no_error(error);
	m.name = g_strdup("");
	m.mode = mode;
	m.status = status;
	m.status_reason = g_strdup("");
	m.language = g_strdup("");
	m.password = g_strdup("");
	m.subscribed = 1700000000;
	m.options = options;
	roster_change_put(c, &m);
	g_assert_cmpint(roster_commit(l, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
	g_free(m.key);
	g_free(m.addr);
	g_free(m.name);
	g_free(m.status_reason);
	g_free(m.language);
	g_free(m.password);
}

/* A regular member of f's list, delivery enabled. */
static inline void
fixture_add_member(struct list_fixture *f, const char *addr, unsigned options)
{
	fixture_put_member(f->list, addr, MODE_REGULAR, STATUS_ENABLED, options);
}

/* --- messages and posts -------------------------------------------------- */

/* text (a whole message) parsed, which must succeed. */
static inline GMimeMessage *
parse_ok(const char *text)
{
	GError *error = NULL;
	GMimeMessage *msg = message_parse(text, strlen(text), &error);

	g_assert_no_error(error);
	g_assert_nonnull(msg);
	return msg;
}

/* Header name's value as written (encoded words kept), unfolded and
 * trimmed, the tab GMime may fold with read as a space; NULL when
 * absent. */
static inline char *
header_value(GMimeMessage *msg, const char *name)
{
	const char *raw = message_header(msg, name);
	char *v;

	if (raw == NULL)
		return NULL;
	v = g_mime_utils_header_unfold(raw);
	g_strdelimit(v, "\t", ' ');
	return g_strstrip(v);
}

/* Header name's value is want (NULL: there is none). */
static inline void
assert_header(GMimeMessage *msg, const char *name, const char *want)
{
	char *v = header_value(msg, name);

	if (g_strcmp0(v, want) != 0)
		g_test_message("%s: got [%s], want [%s]", name, v, want);
	g_assert_cmpstr(v, ==, want);
	g_free(v);
}

/* A post of text (a whole message) to f's list, as the incoming runner
 * makes one: metadata "list", "sender" unless sender is NULL, and the
 * pairs that follow (key, value, ..., NULL). */
static inline struct post *
fixture_post_meta(struct list_fixture *f, const char *sender,
		  const char *text, ...)
{
	struct queue_meta *meta = queue_meta_new();
	struct post *p;
	const char *k;
	va_list ap;

	queue_meta_set(meta, "list", list_fqdn(f->list));
	if (sender != NULL)
		queue_meta_set(meta, "sender", sender);
	va_start(ap, text);
	while ((k = va_arg(ap, const char *)) != NULL)
		queue_meta_add(meta, k, va_arg(ap, const char *));
	va_end(ap);
	p = post_new(f->site, f->list, &f->env, meta, parse_ok(text));
	queue_meta_free(&meta);
	g_assert_nonnull(p);
	return p;
}

static inline struct post *
fixture_post(struct list_fixture *f, const char *sender, const char *text)
{
	return fixture_post_meta(f, sender, text, NULL);
}

/* --- queues -------------------------------------------------------------- */

static inline void
testutil_queue_item_free(gpointer p)
{
	struct queue_item *it = p;

	queue_item_free(&it);
}

/* Every ready entry (struct queue_item) of queue name in var dir var,
 * oldest first. */
static inline GPtrArray *
queue_read_all(const char *var, const char *name)
{
	GError *error = NULL;
	struct queue *q = queue_open(var, name, &error);
	GPtrArray *bases = NULL, *items;

	g_assert_no_error(error);
	g_assert_nonnull(q);
	g_assert_cmpint(queue_list(q, ".msg", 0, 1, &bases, &error), ==, 0);
	g_assert_no_error(error);
	items = g_ptr_array_new_with_free_func(testutil_queue_item_free);
	for (guint i = 0; i < bases->len; i++) {
		struct queue_item *it = NULL;

		g_assert_cmpint(queue_read(q, bases->pdata[i], ".msg", &it,
					   &error), ==, 1);
		g_assert_no_error(error);
		g_ptr_array_add(items, it);
	}
	g_ptr_array_unref(bases);
	queue_close(&q);
	return items;
}

/* Like queue_read_all, but a bundle's members are items of their own. */
static inline GPtrArray *
queue_read_entries(const char *var, const char *name)
{
	GPtrArray *files = queue_read_all(var, name);
	GPtrArray *items = g_ptr_array_new_with_free_func(testutil_queue_item_free);
	GError *error = NULL;

	for (guint i = 0; i < files->len; i++) {
		struct queue_item *it = files->pdata[i];
		GPtrArray *members = NULL;

		if (!queue_item_is_bundle(it)) {
			files->pdata[i] = NULL;
			g_ptr_array_add(items, it);
			continue;
		}
		g_assert_cmpint(queue_bundle_members(it, &members, &error), ==, 0);
		g_assert_no_error(error);
		for (guint j = 0; j < members->len; j++) {
			struct queue_item *m = members->pdata[j];
			/* Its own copy: a member points into the bundle's. */
			m->buf = g_malloc(m->msg_len + 1);
			memcpy(m->buf, m->msg, m->msg_len);
			m->buf[m->msg_len] = '\0';
			m->msg = m->buf;
			g_ptr_array_add(items, m);
			members->pdata[j] = NULL;
		}
		g_ptr_array_unref(members);
	}
	g_ptr_array_unref(files);
	return items;
}

/* How many ready entries queue name holds. */
static inline guint
queue_length(const char *var, const char *name)
{
	GPtrArray *items = queue_read_all(var, name);
	guint n = items->len;

	g_ptr_array_unref(items);
	return n;
}

/* A queue entry's message, parsed. */
static inline GMimeMessage *
item_message(const struct queue_item *it)
{
	GError *error = NULL;
	GMimeMessage *msg = message_parse(it->msg, it->msg_len, &error);

	g_assert_no_error(error);
	g_assert_nonnull(msg);
	return msg;
}

#endif
