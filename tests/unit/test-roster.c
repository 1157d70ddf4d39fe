/*
 * test-roster.c - unit tests for roster.c: members put, found (any case),
 * removed; every field through the change log, a reload and a snapshot;
 * changes applied whole; crash leftovers (a torn tail, records after the
 * last commit, a record with a bad CRC, a snapshot without its end line);
 * compaction; the names of modes, statuses and options.
 *
 * Each test runs in a child process with a fresh temporary var dir and a
 * list demo@example.org in it.
 */
#include "mail/address.h"
#include "base/base.h"
#include "list/list.h"
#include "store/lock.h"
#include "base/log.h"
#include "list/roster.h"
#include "store/site.h"

#include <errno.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* --- helpers ------------------------------------------------------------- */

#define FQDN "demo@example.org"

struct fixture {
	char *var;
	struct site *site;
	struct list *list;
};

static void
fixture_setup(struct fixture *f)
{
	static const char *const owners[] = { "owner@example.org", NULL };
	GError *error = NULL;

	f->var = tmp_dir_new();
	g_assert_cmpint(site_init(f->var, &error), ==, 0);
	g_assert_no_error(error);
	f->site = site_open(f->var, &error);
	g_assert_no_error(error);
	g_assert_nonnull(f->site);
	g_assert_cmpint(list_create(f->site, FQDN, owners, &error), ==, 0);
	g_assert_no_error(error);
	f->list = list_open(f->site, FQDN, &error);
	g_assert_no_error(error);
	g_assert_nonnull(f->list);
}

static void
fixture_teardown(struct fixture *f)
{
	list_free(&f->list);
	site_free(&f->site);
	tmp_dir_remove(&f->var);
}

/* A member with the given address and plain defaults; free with
 * member_clear. */
static struct member
member_make(const char *addr)
{
	struct member m = { 0 };
	GError *error = NULL;

	m.key = address_key(addr);
	g_assert_nonnull(m.key);
	m.addr = address_normalise(addr, &error);
	g_assert_no_error(error);
	m.name = g_strdup("");
	m.mode = MODE_REGULAR;
	m.status = STATUS_ENABLED;
	m.status_reason = g_strdup("");
	m.language = g_strdup("");
	m.password = g_strdup("");
	m.subscribed = 1700000000;
	return m;
}

static void
member_clear(struct member *m)
{
	g_free(m->key);
	g_free(m->addr);
	g_free(m->name);
	g_free(m->status_reason);
	g_free(m->language);
	g_free(m->password);
	memset(m, 0, sizeof *m);
}

/* Puts members with these addresses (NULL-terminated) in one change. */
static void
put_addrs(struct list *l, ...)
{
	struct roster_change *c = roster_change_new();
	GError *error = NULL;
	const char *a;
	va_list ap;

	va_start(ap, l);
	while ((a = va_arg(ap, const char *)) != NULL) {
		struct member m = member_make(a);
		roster_change_put(c, &m);
		member_clear(&m);
	}
	va_end(ap);
	g_assert_cmpint(roster_commit(l, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
	g_assert_null(c);
}

static struct roster *
load(struct list *l)
{
	struct roster *r = NULL;
	GError *error = NULL;

	g_assert_cmpint(roster_load(l, &r, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_nonnull(r);
	return r;
}

/* Every field of every member, one line each, sorted: for comparing two
 * rosters. */
static char *
roster_dump(const struct roster *r)
{
	GPtrArray *ms = roster_members(r, TRUE);
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < ms->len; i++) {
		const struct member *m = ms->pdata[i];
		char *opts = member_options_format(m->options);
		char *line = g_strdup_printf("%s|%s|%s|%d|%d|%lld|%s|%s|%s|%lld|%s",
					     m->key, m->addr, m->name, (int)m->mode,
					     (int)m->status, (long long)m->status_time,
					     m->status_reason, opts, m->language,
					     (long long)m->subscribed, m->password);
		char *esc = g_strescape(line, NULL);

		g_string_append(out, esc);
		g_string_append_c(out, '\n');
		g_free(esc);
		g_free(line);
		g_free(opts);
	}
	g_ptr_array_free(ms, TRUE);
	return g_string_free(out, FALSE);
}

static char *
roster_file(struct list *l, const char *name)
{
	return g_build_filename(list_dir(l), "roster", name, NULL);
}

static char *
gen_file(struct list *l, const char *what, long long gen)
{
	char *name = g_strdup_printf("%s.%lld", what, gen);
	char *p = roster_file(l, name);

	g_free(name);
	return p;
}

/* The generation in roster/CURRENT. */
static long long
current_gen(struct list *l)
{
	char *path = roster_file(l, "CURRENT"), *text = NULL, *end;
	long long gen;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	gen = g_ascii_strtoll(text, &end, 10);
	g_assert_cmpstr(end, ==, "\n");
	g_assert_cmpint(gen, >, 0);
	g_free(text);
	g_free(path);
	return gen;
}

static char *
read_all(const char *path)
{
	char *text = NULL;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	return text;
}

static void
append_raw(const char *path, const char *data)
{
	FILE *fp = fopen(path, "ab");

	g_assert_nonnull(fp);
	g_assert_cmpuint(fwrite(data, 1, strlen(data), fp), ==, strlen(data));
	g_assert_cmpint(fclose(fp), ==, 0);
}

/* CRC-32 (IEEE 802.3), as the roster's records carry, computed here
 * independently so that the test writes records the reader must trust. */
static uint32_t
crc32_ieee(const char *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= (unsigned char)p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

/* A log record: "<crc> <payload>\n"; with a wrong CRC when bad_crc. */
static char *
record(const char *payload, gboolean bad_crc)
{
	uint32_t crc = crc32_ieee(payload, strlen(payload));

	return g_strdup_printf("%08x %s\n", bad_crc ? crc ^ 0x1u : crc, payload);
}

#define GHOST_PUT "+ ghost@example.org\tghost@example.org\tGhost\tregular" \
		  "\tenabled\t0\t\t\t\t1700000000\t"

static void
append_record(struct list *l, const char *payload, gboolean bad_crc)
{
	char *log = gen_file(l, "changes", current_gen(l));
	char *rec = record(payload, bad_crc);

	append_raw(log, rec);
	g_free(rec);
	g_free(log);
}

/* How many commit records a change log holds. */
static guint
count_commits(const char *text)
{
	guint n = 0;
	char **lines = g_strsplit(text, "\n", -1);

	for (char **p = lines; *p != NULL; p++)
		if (strlen(*p) == 10 && (*p)[8] == ' ' && (*p)[9] == 'C')
			n++;
	g_strfreev(lines);
	return n;
}

/* --- members ------------------------------------------------------------- */

static void
test_new_list_has_empty_roster(void)
{
	struct fixture f;
	struct roster *r;
	GPtrArray *ms;

	fixture_setup(&f);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 0);
	g_assert_null(roster_find(r, "anyone@example.org"));
	ms = roster_members(r, TRUE);
	g_assert_cmpuint(ms->len, ==, 0);
	g_ptr_array_free(ms, TRUE);
	roster_free(&r);
	g_assert_null(r);
	fixture_teardown(&f);
}

static void
test_put_then_load_finds_member_by_any_case(void)
{
	struct fixture f;
	struct roster *r;
	const struct member *m;

	fixture_setup(&f);
	put_addrs(f.list, "Alice.Smith@Example.ORG", NULL);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 1);
	static const char *const spellings[] = {
		"Alice.Smith@Example.ORG", "alice.smith@example.org",
		"ALICE.SMITH@EXAMPLE.ORG", "aLiCe.SmItH@eXaMpLe.OrG",
	};
	for (gsize i = 0; i < G_N_ELEMENTS(spellings); i++) {
		m = roster_find(r, spellings[i]);
		g_assert_nonnull(m);
		if (m != NULL) {
			g_assert_cmpstr(m->key, ==, "alice.smith@example.org");
			/* As written, domain normalised. */
			g_assert_cmpstr(m->addr, ==, "Alice.Smith@example.org");
		}
	}
	g_assert_null(roster_find(r, "alice.smith@example.com"));
	g_assert_null(roster_find(r, "alice@example.org"));
	g_assert_null(roster_find(r, "not an address"));
	roster_free(&r);
	fixture_teardown(&f);
}

static void
assert_rich_member(const struct member *m, const char *pw_hash)
{
	g_assert_nonnull(m);
	if (m == NULL)
		return;
	g_assert_cmpstr(m->key, ==, "ann@example.org");
	g_assert_cmpstr(m->addr, ==, "Ann@example.org");
	g_assert_cmpstr(m->name, ==, "Ann\t\"B.\" Smith\nline two\\ back\\\\slash\r\\t");
	g_assert_cmpint(m->mode, ==, MODE_MIME_DIGEST);
	g_assert_cmpint(m->status, ==, STATUS_BY_BOUNCE);
	g_assert_cmpint(m->status_time, ==, 1712345678);
	g_assert_cmpstr(m->status_reason, ==, "550 5.1.1\tuser unknown\n\\n(x)\\");
	g_assert_cmpuint(m->options, ==, OPT_ACK | OPT_MODERATE | OPT_NODUPES);
	g_assert_cmpstr(m->language, ==, "pt_BR");
	g_assert_cmpint(m->subscribed, ==, 1600000001);
	g_assert_cmpstr(m->password, ==, pw_hash);
	g_assert_cmpfloat(m->bounce.score, ==, 3.5);
	g_assert_cmpint(m->bounce.last, ==, 1712275200);
	g_assert_cmpfloat(m->bounce.last_weight, ==, 0.5);
	g_assert_cmpstr(m->bounce.reason, ==, "mailbox-full");
	g_assert_cmpint(m->bounce.notices_left, ==, 2);
	g_assert_cmpint(m->bounce.last_notice, ==, 1712345679);
}

static void
assert_plain_member(const struct member *m)
{
	g_assert_nonnull(m);
	if (m == NULL)
		return;
	g_assert_cmpstr(m->addr, ==, "bob@example.net");
	g_assert_cmpstr(m->name, ==, "");
	g_assert_cmpint(m->mode, ==, MODE_PLAIN_DIGEST);
	g_assert_cmpint(m->status, ==, STATUS_BY_USER);
	g_assert_cmpint(m->status_time, ==, 0);
	g_assert_cmpstr(m->status_reason, ==, "");
	g_assert_cmpuint(m->options, ==, 0);
	g_assert_cmpfloat(m->bounce.score, ==, 0);
	g_assert_cmpint(m->bounce.last, ==, 0);
	g_assert_cmpstr(m->bounce.reason, ==, "");
	g_assert_cmpint(m->bounce.notices_left, ==, 0);
	g_assert_cmpstr(m->language, ==, "");
	g_assert_cmpint(m->subscribed, ==, 1700000000);
	g_assert_cmpstr(m->password, ==, "");
}

static void
test_fields_round_trip_through_commit_reload_and_snapshot(void)
{
	struct fixture f;
	struct roster_change *c = roster_change_new();
	struct roster *r = NULL;
	GError *error = NULL;
	struct member ann = member_make("Ann@EXAMPLE.org");
	struct member bob = member_make("bob@example.net");
	char *hash = member_password_hash("sesame", &error);

	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(hash, "$argon2id$"));
	fixture_setup(&f);
	g_free(ann.name);
	ann.name = g_strdup("Ann\t\"B.\" Smith\nline two\\ back\\\\slash\r\\t");
	ann.mode = MODE_MIME_DIGEST;
	ann.status = STATUS_BY_BOUNCE;
	ann.status_time = 1712345678;
	g_free(ann.status_reason);
	ann.status_reason = g_strdup("550 5.1.1\tuser unknown\n\\n(x)\\");
	ann.options = OPT_ACK | OPT_MODERATE | OPT_NODUPES;
	g_free(ann.language);
	ann.language = g_strdup("pt_BR");
	ann.subscribed = 1600000001;
	g_free(ann.password);
	ann.password = g_strdup(hash);
	ann.bounce = (struct member_bounce){ 3.5, 1712275200, 0.5, "mailbox-full",
					     2, 1712345679 };
	bob.mode = MODE_PLAIN_DIGEST;
	bob.status = STATUS_BY_USER;
	roster_change_put(c, &ann);
	roster_change_put(c, &bob);
	g_assert_cmpuint(roster_change_count(c), ==, 2);
	/* The change holds copies: the caller's strings may go. */
	member_clear(&ann);
	member_clear(&bob);

	g_assert_cmpint(roster_commit(f.list, c, &r, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
	g_assert_nonnull(r);
	assert_rich_member(roster_find(r, "ann@example.org"), hash);
	assert_plain_member(roster_find(r, "BOB@example.net"));
	roster_free(&r);

	/* From the change log. */
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 2);
	assert_rich_member(roster_find(r, "ann@example.org"), hash);
	assert_plain_member(roster_find(r, "bob@example.net"));
	roster_free(&r);

	/* From a snapshot. */
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 2);
	{
		GPtrArray *ms = roster_members(r, TRUE);
		g_assert_cmpuint(ms->len, ==, 2);
		if (ms->len == 2) {
			assert_rich_member(ms->pdata[0], hash);
			assert_plain_member(ms->pdata[1]);
		}
		g_ptr_array_free(ms, TRUE);
	}
	assert_rich_member(roster_find(r, "ANN@example.org"), hash);
	{
		/* Unsorted (delivery): the same members, parsed. */
		GPtrArray *ms = roster_members(r, FALSE);
		g_assert_cmpuint(ms->len, ==, 2);
		for (guint i = 0; i < ms->len; i++) {
			const struct member *m = ms->pdata[i];
			if (strcmp(m->key, "ann@example.org") == 0)
				assert_rich_member(m, hash);
			else
				assert_plain_member(m);
		}
		g_ptr_array_free(ms, TRUE);
	}
	roster_free(&r);
	g_free(hash);
	fixture_teardown(&f);
}

static void
test_remove_by_any_case_removes_member(void)
{
	struct fixture f;
	struct roster_change *c;
	struct roster *r;
	GError *error = NULL;

	fixture_setup(&f);
	put_addrs(f.list, "alice@example.org", "bob@example.org", NULL);
	c = roster_change_new();
	roster_change_remove(c, "ALICE@Example.Org");
	g_assert_cmpuint(roster_change_count(c), ==, 1);
	g_assert_cmpint(roster_commit(f.list, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 1);
	g_assert_null(roster_find(r, "alice@example.org"));
	g_assert_nonnull(roster_find(r, "bob@example.org"));
	roster_free(&r);
	/* Also gone from a snapshot. */
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 1);
	g_assert_null(roster_find(r, "alice@example.org"));
	roster_free(&r);
	fixture_teardown(&f);
}

struct edit_ctx {
	guint calls;
	guint seen_count;
	gboolean saw_alice;
	gboolean fail;
};

static int
edit_fn(const struct roster *r, struct roster_change *c, void *data,
	GError **error)
{
	struct edit_ctx *ctx = data;

	ctx->calls++;
	ctx->seen_count = roster_count(r);
	ctx->saw_alice = roster_find(r, "alice@example.org") != NULL;
	if (ctx->fail) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID, "no, thanks");
		return -1;
	}
	if (roster_find(r, "bob@example.org") == NULL) {
		struct member m = member_make("bob@example.org");
		roster_change_put(c, &m);
		member_clear(&m);
	}
	return 0;
}

static void
test_edit_sees_current_roster_and_can_abort(void)
{
	struct fixture f;
	struct edit_ctx ctx = { 0 };
	struct roster *r;
	GError *error = NULL;

	fixture_setup(&f);
	put_addrs(f.list, "alice@example.org", NULL);
	g_assert_cmpint(roster_edit(f.list, edit_fn, &ctx, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(ctx.calls, ==, 1);
	g_assert_cmpuint(ctx.seen_count, ==, 1);
	g_assert_true(ctx.saw_alice);
	/* A second edit sees the first's change (and so adds nothing). */
	g_assert_cmpint(roster_edit(f.list, edit_fn, &ctx, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(ctx.seen_count, ==, 2);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 2);
	roster_free(&r);

	/* fn's error aborts the edit and comes back; nothing changes. */
	put_addrs(f.list, "carol@example.org", NULL);
	ctx.fail = TRUE;
	g_assert_cmpint(roster_edit(f.list, edit_fn, &ctx, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpuint(ctx.seen_count, ==, 3);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 3);
	roster_free(&r);
	fixture_teardown(&f);
}

static void
test_change_of_several_puts_and_removes_applied_as_one(void)
{
	struct fixture f;
	struct roster_change *c;
	struct roster *r = NULL, *r2;
	GError *error = NULL;
	struct member m;
	char *log, *text, *before, *dump;
	long long gen;

	fixture_setup(&f);
	put_addrs(f.list, "a@example.org", "b@example.org", "c@example.org", NULL);
	r2 = load(f.list);
	before = roster_dump(r2);
	roster_free(&r2);

	c = roster_change_new();
	roster_change_remove(c, "a@example.org");
	m = member_make("c@example.org");
	g_free(m.name);
	m.name = g_strdup("Carol");
	roster_change_put(c, &m);
	member_clear(&m);
	m = member_make("d@example.org");
	roster_change_put(c, &m);
	member_clear(&m);
	m = member_make("e@example.org");
	roster_change_put(c, &m);
	member_clear(&m);
	roster_change_remove(c, "nosuch@example.org");
	g_assert_cmpuint(roster_change_count(c), ==, 5);
	g_assert_cmpint(roster_commit(f.list, c, &r, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);

	for (int pass = 0; pass < 2; pass++) {
		g_assert_nonnull(r);
		g_assert_cmpuint(roster_count(r), ==, 4);
		g_assert_null(roster_find(r, "a@example.org"));
		g_assert_nonnull(roster_find(r, "b@example.org"));
		g_assert_nonnull(roster_find(r, "d@example.org"));
		g_assert_nonnull(roster_find(r, "e@example.org"));
		{
			const struct member *cm = roster_find(r, "c@example.org");
			g_assert_nonnull(cm);
			if (cm != NULL)
				g_assert_cmpstr(cm->name, ==, "Carol");
		}
		roster_free(&r);
		if (pass == 0)
			r = load(f.list);
	}

	/* One commit record per change. */
	gen = current_gen(f.list);
	log = gen_file(f.list, "changes", gen);
	text = read_all(log);
	g_assert_cmpuint(count_commits(text), ==, 2);

	/* Cut the last commit record off (a crash just before it was
	 * written): none of the change shows, not part of it. */
	{
		size_t len = strlen(text);
		g_assert_cmpuint(len, >, 11);
		g_assert_cmpint(truncate(log, (off_t)(len - 11)), ==, 0);
	}
	r = load(f.list);
	dump = roster_dump(r);
	g_assert_cmpstr(dump, ==, before);
	roster_free(&r);
	g_free(dump);
	g_free(text);
	g_free(log);
	g_free(before);
	fixture_teardown(&f);
}

/* --- crash leftovers ----------------------------------------------------- */

static void
test_torn_tail_ignored_and_cut_by_next_writer(void)
{
	struct fixture f;
	struct roster *r;
	char *log, *text, *committed;

	fixture_setup(&f);
	put_addrs(f.list, "alice@example.org", NULL);
	r = load(f.list);
	committed = roster_dump(r);
	roster_free(&r);
	log = gen_file(f.list, "changes", current_gen(f.list));
	g_assert_true(g_file_test(log, G_FILE_TEST_IS_REGULAR));
	append_raw(log, "0badc0de + torn@example.org\ttorn@exa");

	r = load(f.list);
	{
		char *dump = roster_dump(r);
		g_assert_cmpstr(dump, ==, committed);
		g_free(dump);
	}
	g_assert_null(roster_find(r, "torn@example.org"));
	roster_free(&r);

	/* The next writer cuts the tail off and appends after the commit. */
	put_addrs(f.list, "bob@example.org", NULL);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 2);
	g_assert_nonnull(roster_find(r, "alice@example.org"));
	g_assert_nonnull(roster_find(r, "bob@example.org"));
	roster_free(&r);
	g_free(log);
	log = gen_file(f.list, "changes", current_gen(f.list));
	text = read_all(log);
	g_assert_null(strstr(text, "torn"));
	g_assert_true(g_str_has_suffix(text, "\n"));
	g_assert_cmpuint(count_commits(text), ==, 2);
	g_free(text);
	g_free(log);
	g_free(committed);
	fixture_teardown(&f);
}

/* The records the next two tests append by hand are right: with a commit
 * after them, they are applied. */
static void
test_hand_written_committed_records_are_applied(void)
{
	struct fixture f;
	struct roster *r;
	const struct member *m;

	fixture_setup(&f);
	put_addrs(f.list, "alice@example.org", NULL);
	append_record(f.list, GHOST_PUT, FALSE);
	append_record(f.list, "- alice@example.org", FALSE);
	append_record(f.list, "C", FALSE);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 1);
	m = roster_find(r, "ghost@example.org");
	g_assert_nonnull(m);
	if (m != NULL)
		g_assert_cmpstr(m->name, ==, "Ghost");
	g_assert_null(roster_find(r, "alice@example.org"));
	roster_free(&r);
	fixture_teardown(&f);
}

static void
test_records_after_last_commit_not_applied_and_cut(void)
{
	struct fixture f;
	struct roster *r;
	char *log, *text;

	fixture_setup(&f);
	put_addrs(f.list, "alice@example.org", NULL);
	/* A change a crash cut short: well-formed records, no commit. */
	append_record(f.list, GHOST_PUT, FALSE);
	append_record(f.list, "- alice@example.org", FALSE);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 1);
	g_assert_null(roster_find(r, "ghost@example.org"));
	g_assert_nonnull(roster_find(r, "alice@example.org"));
	roster_free(&r);

	/* The next change must not commit them along with its own. */
	put_addrs(f.list, "bob@example.org", NULL);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 2);
	g_assert_null(roster_find(r, "ghost@example.org"));
	g_assert_nonnull(roster_find(r, "alice@example.org"));
	g_assert_nonnull(roster_find(r, "bob@example.org"));
	roster_free(&r);
	log = gen_file(f.list, "changes", current_gen(f.list));
	text = read_all(log);
	g_assert_null(strstr(text, "ghost"));
	g_free(text);
	g_free(log);
	fixture_teardown(&f);
}

static void
test_record_with_bad_crc_not_applied_nor_what_follows(void)
{
	struct fixture f;
	struct roster *r;

	fixture_setup(&f);
	put_addrs(f.list, "alice@example.org", NULL);
	append_record(f.list, GHOST_PUT, TRUE);
	append_record(f.list, "C", FALSE);
	append_record(f.list, "- alice@example.org", FALSE);
	append_record(f.list, "C", FALSE);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 1);
	g_assert_null(roster_find(r, "ghost@example.org"));
	g_assert_nonnull(roster_find(r, "alice@example.org"));
	roster_free(&r);

	put_addrs(f.list, "bob@example.org", NULL);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 2);
	g_assert_null(roster_find(r, "ghost@example.org"));
	g_assert_nonnull(roster_find(r, "alice@example.org"));
	g_assert_nonnull(roster_find(r, "bob@example.org"));
	roster_free(&r);
	fixture_teardown(&f);
}

/* --- compaction, snapshots ----------------------------------------------- */

static void
test_compact_grows_generation_keeps_roster_removes_old_gen(void)
{
	struct fixture f;
	struct roster *r;
	GError *error = NULL;
	char *before, *dump, *p;
	long long g0, g1, g2;

	fixture_setup(&f);
	put_addrs(f.list, "a@example.org", "b@example.org", NULL);
	put_addrs(f.list, "c@example.org", NULL);
	{
		struct roster_change *c = roster_change_new();
		roster_change_remove(c, "b@example.org");
		g_assert_cmpint(roster_commit(f.list, c, NULL, &error), ==, 0);
		g_assert_no_error(error);
		roster_change_free(&c);
	}
	r = load(f.list);
	before = roster_dump(r);
	roster_free(&r);
	g0 = current_gen(f.list);

	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	g1 = current_gen(f.list);
	g_assert_cmpint(g1, >, g0);
	r = load(f.list);
	dump = roster_dump(r);
	g_assert_cmpstr(dump, ==, before);
	g_free(dump);
	roster_free(&r);
	/* A reader may still be on the previous generation: kept. */
	p = gen_file(f.list, "members", g0);
	g_assert_true(g_file_test(p, G_FILE_TEST_EXISTS));
	g_free(p);

	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	g2 = current_gen(f.list);
	g_assert_cmpint(g2, >, g1);
	r = load(f.list);
	dump = roster_dump(r);
	g_assert_cmpstr(dump, ==, before);
	g_free(dump);
	roster_free(&r);
	p = gen_file(f.list, "members", g0);
	g_assert_false(g_file_test(p, G_FILE_TEST_EXISTS));
	g_free(p);
	p = gen_file(f.list, "changes", g0);
	g_assert_false(g_file_test(p, G_FILE_TEST_EXISTS));
	g_free(p);
	p = gen_file(f.list, "members", g1);
	g_assert_true(g_file_test(p, G_FILE_TEST_EXISTS));
	g_free(p);

	/* Changes go on in the new generation. */
	put_addrs(f.list, "d@example.org", NULL);
	p = gen_file(f.list, "changes", g2);
	g_assert_true(g_file_test(p, G_FILE_TEST_IS_REGULAR));
	g_free(p);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 3);
	g_assert_nonnull(roster_find(r, "d@example.org"));
	g_assert_null(roster_find(r, "b@example.org"));
	roster_free(&r);
	g_free(before);
	fixture_teardown(&f);
}

static void
test_compact_of_empty_or_never_used_roster(void)
{
	struct fixture f;
	struct roster *r;
	GError *error = NULL;

	fixture_setup(&f);
	/* No roster yet: nothing to do, and still no members. */
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 0);
	roster_free(&r);
	/* A roster emptied again compacts to an empty snapshot. */
	put_addrs(f.list, "a@example.org", NULL);
	{
		struct roster_change *c = roster_change_new();
		roster_change_remove(c, "a@example.org");
		g_assert_cmpint(roster_commit(f.list, c, NULL, &error), ==, 0);
		g_assert_no_error(error);
		roster_change_free(&c);
	}
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 0);
	roster_free(&r);
	fixture_teardown(&f);
}

/* Writes members.<gen> back cut to len bytes. */
static void
cut_snapshot(struct list *l, long long gen, size_t len)
{
	char *p = gen_file(l, "members", gen);

	g_assert_cmpint(truncate(p, (off_t)len), ==, 0);
	g_free(p);
}

static void
assert_load_format_error(struct list *l)
{
	struct roster *r = NULL;
	GError *error = NULL;

	g_assert_cmpint(roster_load(l, &r, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
	g_assert_null(r);
	g_clear_error(&error);
	roster_free(&r);
}

static void
test_snapshot_without_end_line_fails_format(void)
{
	struct fixture f;
	struct edit_ctx ctx = { 0 };
	GError *error = NULL;
	char *p, *text, *last;
	long long gen;
	size_t whole, no_end;

	fixture_setup(&f);
	put_addrs(f.list, "a@example.org", "b@example.org", "c@example.org", NULL);
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	gen = current_gen(f.list);
	p = gen_file(f.list, "members", gen);
	text = read_all(p);
	whole = strlen(text);
	g_assert_true(g_str_has_suffix(text, "end 3\n"));
	last = g_strrstr_len(text, (gssize)whole - 1, "\n");
	g_assert_nonnull(last);
	no_end = (size_t)(last + 1 - text);

	/* Without "end 3": the members are all there, but nothing proves
	 * it, so no roster rather than a partial one. */
	cut_snapshot(f.list, gen, no_end);
	assert_load_format_error(f.list);
	/* Cut inside the last member line, and inside the end line. */
	cut_snapshot(f.list, gen, no_end - 5);
	assert_load_format_error(f.list);
	g_assert_true(g_file_set_contents(p, text, (gssize)whole - 3, NULL));
	assert_load_format_error(f.list);
	g_assert_true(g_file_set_contents(p, text, (gssize)whole - 1, NULL));
	assert_load_format_error(f.list);
	/* An end line that counts wrong. */
	{
		char *wrong = g_strndup(text, no_end);
		char *full = g_strconcat(wrong, "end 2\n", NULL);
		g_assert_true(g_file_set_contents(p, full, -1, NULL));
		assert_load_format_error(f.list);
		g_free(full);
		full = g_strconcat(wrong, "end 4\n", NULL);
		g_assert_true(g_file_set_contents(p, full, -1, NULL));
		assert_load_format_error(f.list);
		g_free(full);
		g_free(wrong);
	}
	/* An empty snapshot file. */
	cut_snapshot(f.list, gen, 0);
	assert_load_format_error(f.list);
	/* A writer does not build on it either. */
	g_assert_cmpint(roster_edit(f.list, edit_fn, &ctx, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
	g_clear_error(&error);
	g_assert_cmpuint(ctx.calls, ==, 0);

	/* Whole again, it loads. */
	g_assert_true(g_file_set_contents(p, text, (gssize)whole, NULL));
	{
		struct roster *r = load(f.list);
		g_assert_cmpuint(roster_count(r), ==, 3);
		roster_free(&r);
	}
	g_free(text);
	g_free(p);
	fixture_teardown(&f);
}

/* Compacting writes a snapshot of the current version, 3. */
static void
compacts_to_version_3(struct list *l)
{
	GError *error = NULL;
	char *p, *text;

	g_assert_cmpint(roster_compact(l, &error), ==, 0);
	g_assert_no_error(error);
	p = gen_file(l, "members", current_gen(l));
	text = read_all(p);
	g_assert_true(g_str_has_prefix(text, "herald-roster 3\n"));
	g_free(text);
	g_free(p);
}

/* A roster an older herald wrote (version 1: no bounce fields), snapshot
 * and change log, reads with empty bounce info; the next change writes
 * version 2 and the old members keep every field. */
static void
test_version_1_roster_reads_and_upgrades(void)
{
	struct fixture f;
	struct roster *r;
	const struct member *m;
	GError *error = NULL;
	long long gen;
	char *p, *text;

	fixture_setup(&f);
	put_addrs(f.list, "zed@example.org", NULL);
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	gen = current_gen(f.list);
	p = gen_file(f.list, "members", gen);
	text = g_strdup("herald-roster 1\n"
			"old@example.org\tOld@example.org\tOld\tmime\tbybounce"
			"\t1700000005\tbounces\tack\tde\t1600000000\t\n"
			"end 1\n");
	g_assert_true(g_file_set_contents(p, text, -1, NULL));
	g_free(text);
	g_free(p);
	append_record(f.list, GHOST_PUT, FALSE);
	append_record(f.list, "C", FALSE);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 2);
	m = roster_find(r, "old@example.org");
	g_assert_nonnull(m);
	g_assert_cmpint(m->status, ==, STATUS_BY_BOUNCE);
	g_assert_cmpstr(m->language, ==, "de");
	g_assert_cmpfloat(m->bounce.score, ==, 0);
	g_assert_cmpstr(m->bounce.reason, ==, "");
	m = roster_find(r, "ghost@example.org");
	g_assert_nonnull(m);
	g_assert_cmpstr(m->bounce.reason, ==, "");
	roster_free(&r);

	put_addrs(f.list, "new@example.org", NULL);
	compacts_to_version_3(f.list);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 3);
	m = roster_find(r, "old@example.org");
	g_assert_nonnull(m);
	g_assert_cmpstr(m->status_reason, ==, "bounces");
	g_assert_cmpint(m->subscribed, ==, 1600000000);
	roster_free(&r);
	fixture_teardown(&f);
}

/* A version 2 roster (no topics field), snapshot and change log, reads
 * with no topics and keeps its bounce info; a member given topics is
 * written as version 3 and reads back with them. */
static void
test_version_2_roster_reads_and_topics_round_trip(void)
{
	struct fixture f;
	struct roster *r;
	struct roster_change *c;
	const struct member *m;
	struct member w;
	GError *error = NULL;
	char *p, *text;

	fixture_setup(&f);
	put_addrs(f.list, "zed@example.org", NULL);
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	p = gen_file(f.list, "members", current_gen(f.list));
	text = g_strdup("herald-roster 2\n"
			"old@example.org\tOld@example.org\tOld\tregular\tenabled"
			"\t0\t\tack\t\t1600000000\t\t1.5\t1700000000\t1.0"
			"\thard\t0\t0\n"
			"end 1\n");
	g_assert_true(g_file_set_contents(p, text, -1, NULL));
	g_free(text);
	g_free(p);
	append_record(f.list, GHOST_PUT "\t0.0\t0\t0.0\t\t0\t0", FALSE);
	append_record(f.list, "C", FALSE);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 2);
	m = roster_find(r, "old@example.org");
	g_assert_nonnull(m);
	g_assert_cmpfloat(m->bounce.score, ==, 1.5);
	g_assert_cmpstr(m->bounce.reason, ==, "hard");
	g_assert_cmpstr(m->topics, ==, "");
	g_assert_cmpuint(m->options, ==, OPT_ACK);
	g_assert_cmpstr(roster_find(r, "ghost@example.org")->topics, ==, "");

	w = *m;
	w.topics = "linux,bsd";
	w.options |= OPT_NMTOPICS;
	c = roster_change_new();
	roster_change_put(c, &w);
	roster_free(&r);
	g_assert_cmpint(roster_commit(f.list, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
	r = load(f.list);
	m = roster_find(r, "old@example.org");
	g_assert_cmpstr(m->topics, ==, "linux,bsd");
	g_assert_cmpuint(m->options, ==, OPT_ACK | OPT_NMTOPICS);
	roster_free(&r);
	compacts_to_version_3(f.list);
	r = load(f.list);
	m = roster_find(r, "old@example.org");
	g_assert_cmpstr(m->topics, ==, "linux,bsd");
	g_assert_cmpfloat(m->bounce.score, ==, 1.5);
	g_assert_cmpstr(roster_find(r, "ghost@example.org")->topics, ==, "");
	roster_free(&r);
	fixture_teardown(&f);
}

/* --- names --------------------------------------------------------------- */

static void
test_options_format_parse_round_trip_and_unknown_names(void)
{
	static const char *const names[] = { "ack", "notmetoo", "hide", "mod",
					     "nodupes", "nmtopics" };
	const unsigned all = OPT_ACK | OPT_NOTMETOO | OPT_CONCEAL | OPT_MODERATE |
			     OPT_NODUPES | OPT_NMTOPICS;
	unsigned opts;
	char *s;

	for (unsigned o = 0; o <= all; o++) {
		if (o & ~all)
			continue;
		s = member_options_format(o);
		opts = 0xdead;
		g_assert_cmpint(member_options_parse(s, &opts), ==, 0);
		g_assert_cmpuint(opts, ==, o);
		g_free(s);
	}
	s = member_options_format(0);
	g_assert_cmpstr(s, ==, "");
	g_free(s);
	s = member_options_format(OPT_ACK | OPT_NODUPES);
	g_assert_cmpstr(s, ==, "ack,nodupes");
	g_free(s);
	g_assert_cmpint(member_options_parse("nodupes,ack", &opts), ==, 0);
	g_assert_cmpuint(opts, ==, OPT_ACK | OPT_NODUPES);
	g_assert_cmpint(member_options_parse("", &opts), ==, 0);
	g_assert_cmpuint(opts, ==, 0);
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		unsigned bit = member_option_bit(names[i]);
		g_assert_cmpuint(bit, !=, 0);
		g_assert_cmpint(member_options_parse(names[i], &opts), ==, 0);
		g_assert_cmpuint(opts, ==, bit);
		s = member_options_format(bit);
		g_assert_cmpstr(s, ==, names[i]);
		g_free(s);
	}
	g_assert_cmpuint(member_option_bit("ack"), ==, OPT_ACK);
	g_assert_cmpuint(member_option_bit("notmetoo"), ==, OPT_NOTMETOO);
	g_assert_cmpuint(member_option_bit("hide"), ==, OPT_CONCEAL);
	g_assert_cmpuint(member_option_bit("mod"), ==, OPT_MODERATE);
	g_assert_cmpuint(member_option_bit("nodupes"), ==, OPT_NODUPES);

	/* Unknown names. */
	g_assert_cmpuint(member_option_bit("bogus"), ==, 0);
	g_assert_cmpuint(member_option_bit(""), ==, 0);
	g_assert_cmpuint(member_option_bit("ac"), ==, 0);
	g_assert_cmpuint(member_option_bit("acknowledge"), ==, 0);
	g_assert_cmpint(member_options_parse("bogus", &opts), ==, -1);
	g_assert_cmpint(member_options_parse("ack,bogus", &opts), ==, -1);
	g_assert_cmpint(member_options_parse("ac", &opts), ==, -1);
	g_assert_cmpint(member_options_parse("acks", &opts), ==, -1);
	g_assert_cmpint(member_options_parse("ack,nodupesx", &opts), ==, -1);
}

static void
test_mode_and_status_parse_every_name_and_refuse_unknown(void)
{
	static const char *const modes[] = { "regular", "mime", "plain" };
	static const char *const statuses[] = { "enabled", "byuser", "byowner",
						"bybounce" };

	g_assert_cmpint(member_mode_parse("regular"), ==, MODE_REGULAR);
	g_assert_cmpint(member_mode_parse("mime"), ==, MODE_MIME_DIGEST);
	g_assert_cmpint(member_mode_parse("plain"), ==, MODE_PLAIN_DIGEST);
	for (gsize i = 0; i < G_N_ELEMENTS(modes); i++)
		g_assert_cmpstr(member_mode_name(member_mode_parse(modes[i])), ==,
				modes[i]);
	g_assert_cmpint(member_status_parse("enabled"), ==, STATUS_ENABLED);
	g_assert_cmpint(member_status_parse("byuser"), ==, STATUS_BY_USER);
	g_assert_cmpint(member_status_parse("byowner"), ==, STATUS_BY_OWNER);
	g_assert_cmpint(member_status_parse("bybounce"), ==, STATUS_BY_BOUNCE);
	for (gsize i = 0; i < G_N_ELEMENTS(statuses); i++)
		g_assert_cmpstr(member_status_name(member_status_parse(statuses[i])),
				==, statuses[i]);

	g_assert_cmpint(member_mode_parse("digest"), ==, -1);
	g_assert_cmpint(member_mode_parse(""), ==, -1);
	g_assert_cmpint(member_mode_parse("regular "), ==, -1);
	g_assert_cmpint(member_mode_parse("enabled"), ==, -1);
	g_assert_cmpint(member_status_parse("disabled"), ==, -1);
	g_assert_cmpint(member_status_parse(""), ==, -1);
	g_assert_cmpint(member_status_parse("by"), ==, -1);
	g_assert_cmpint(member_status_parse("regular"), ==, -1);
}

/* --- the stamp ------------------------------------------------------------- */

static char *
stamp(struct list *l)
{
	GError *error = NULL;
	char *s = roster_version(l, &error);

	g_assert_no_error(error);
	g_assert_nonnull(s);
	return s;
}

static void
test_stamp_changes_with_every_commit_and_compaction_only(void)
{
	struct fixture f;
	GError *error = NULL;
	char *s0, *s1, *s2, *s3;

	fixture_setup(&f);
	s0 = stamp(f.list);
	/* A list that never had a member has a version too. */
	g_assert_nonnull(s0);
	put_addrs(f.list, "a@example.org", NULL);
	s1 = stamp(f.list);
	g_assert_cmpstr(s1, !=, s0);
	/* Reading changes nothing. */
	struct roster *r = load(f.list);
	roster_free(&r);
	char *again = stamp(f.list);
	g_assert_cmpstr(again, ==, s1);
	put_addrs(f.list, "b@example.org", NULL);
	s2 = stamp(f.list);
	g_assert_cmpstr(s2, !=, s1);
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	s3 = stamp(f.list);
	g_assert_cmpstr(s3, !=, s2);
	g_free(s0);
	g_free(s1);
	g_free(s2);
	g_free(s3);
	g_free(again);
	fixture_teardown(&f);
}

static gint
compare_strp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* roster_scan's callback: "addr name" lines into a sorted list. */
static void
scan_collect(const struct member *m, void *ctx)
{
	g_ptr_array_add(ctx, g_strdup_printf("%s %s", m->addr, m->name));
}

static char *
scan_text(struct list *l)
{
	GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
	GError *error = NULL;

	g_assert_cmpint(roster_scan(l, scan_collect, seen, &error), ==, 0);
	g_assert_no_error(error);
	g_ptr_array_sort(seen, compare_strp);
	g_ptr_array_add(seen, NULL);
	char *text = g_strjoinv(",", (char **)seen->pdata);
	g_ptr_array_free(seen, TRUE);
	return text;
}

static void
test_scan_sees_snapshot_and_changes_since(void)
{
	struct fixture f;
	GError *error = NULL;
	char *text;

	fixture_setup(&f);
	text = scan_text(f.list);
	g_assert_cmpstr(text, ==, "");
	g_free(text);
	put_addrs(f.list, "a@example.org", "b@example.org", "c@example.org", NULL);
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	/* After the snapshot: b renamed, c removed, d added. */
	struct roster_change *c = roster_change_new();
	struct member m = member_make("B@example.org");
	g_free(m.name);
	m.name = g_strdup("Bee\tTab");
	roster_change_put(c, &m);
	member_clear(&m);
	roster_change_remove(c, "c@example.org");
	m = member_make("d@example.org");
	roster_change_put(c, &m);
	member_clear(&m);
	g_assert_cmpint(roster_commit(f.list, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
	text = scan_text(f.list);
	g_assert_cmpstr(text, ==,
			"B@example.org Bee\tTab,a@example.org ,d@example.org ");
	g_free(text);
	fixture_teardown(&f);
}

/* --- running ------------------------------------------------------------- */

/* roster_version: equal while nothing changes; new after each commit and
 * after a compaction; there for a list that never had members. */
static void
test_version_follows_changes(void)
{
	struct fixture f;
	GError *error = NULL;
	char *v0, *v1, *v1again, *v2, *v3;

	fixture_setup(&f);
	v0 = roster_version(f.list, &error);
	g_assert_no_error(error);
	g_assert_nonnull(v0);
	put_addrs(f.list, "a@example.com", NULL);
	v1 = roster_version(f.list, &error);
	v1again = roster_version(f.list, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(v0, !=, v1);
	g_assert_cmpstr(v1, ==, v1again);
	put_addrs(f.list, "b@example.com", NULL);
	v2 = roster_version(f.list, &error);
	g_assert_cmpstr(v1, !=, v2);
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	v3 = roster_version(f.list, &error);
	g_assert_no_error(error);
	g_assert_nonnull(v3);
	g_assert_cmpstr(v2, !=, v3);
	g_free(v0);
	g_free(v1);
	g_free(v1again);
	g_free(v2);
	g_free(v3);
	fixture_teardown(&f);
}

/* A member's Argon2id hash at other parameters (the former default,
 * libsodium's interactive 64 MiB, t=2) matches, and member_password_rehash
 * makes it again at herald's (m=7 MiB, t=5); a hash changed meanwhile is
 * left alone. */
static void
test_member_password_rehashed_at_other_parameters(void)
{
	struct fixture f;
	struct roster_change *c = roster_change_new();
	struct member ann = member_make("ann@example.com");
	char old[crypto_pwhash_STRBYTES];
	GError *error = NULL;
	struct roster *r;
	const struct member *m;

	fixture_setup(&f);
	g_assert_cmpint(crypto_pwhash_str(old, "sesame", 6,
					  crypto_pwhash_OPSLIMIT_INTERACTIVE,
					  crypto_pwhash_MEMLIMIT_INTERACTIVE), ==, 0);
	g_free(ann.password);
	ann.password = g_strdup(old);
	roster_change_put(c, &ann);
	g_assert_cmpint(roster_commit(f.list, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
	r = load(f.list);
	m = roster_find(r, "ann@example.com");
	g_assert_false(member_password_ok(m, "wrong"));
	g_assert_true(member_password_ok(m, "sesame"));
	member_password_rehash(f.list, m, "sesame");
	roster_free(&r);
	r = load(f.list);
	m = roster_find(r, "ann@example.com");
	g_assert_nonnull(strstr(m->password, "$m=7168,t=5,p=1$"));
	g_assert_true(member_password_ok(m, "sesame"));
	/* Already at herald's: nothing to do, the hash stays. */
	char *now = g_strdup(m->password);
	member_password_rehash(f.list, m, "sesame");
	roster_free(&r);
	r = load(f.list);
	g_assert_cmpstr(roster_find(r, "ann@example.com")->password, ==, now);
	g_free(now);
	roster_free(&r);
	member_clear(&ann);
	fixture_teardown(&f);
}

/* --- notices owed ---------------------------------------------------------- */

/* Puts members with these addresses, each owed a welcome, in one change. */
static void
put_owed(struct list *l, const char *const *addrs)
{
	struct roster_change *c = roster_change_new();
	GError *error = NULL;

	for (guint i = 0; addrs[i] != NULL; i++) {
		struct member m = member_make(addrs[i]);
		roster_change_put(c, &m);
		roster_change_owe(c, "welcome", &m);
		member_clear(&m);
	}
	g_assert_cmpint(roster_commit(l, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
}

/* Whether changes.<gen> of l exists. */
static gboolean
log_exists(struct list *l, long long gen)
{
	char *path = gen_file(l, "changes", gen);
	gboolean there = g_file_test(path, G_FILE_TEST_EXISTS);

	g_free(path);
	return there;
}

/* The owed notices of r as "notice key addr" lines, oldest first. */
static char *
owed_text(const struct roster *r)
{
	GPtrArray *owed = roster_owed(r);
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < owed->len; i++) {
		const struct roster_owed *o = owed->pdata[i];
		g_string_append_printf(out, "%s %s %s\n", o->notice, o->key, o->addr);
	}
	g_ptr_array_free(owed, TRUE);
	return g_string_free(out, FALSE);
}

/* What l's roster owes, read both ways (whole, and the log alone), which
 * must agree. */
static char *
owed_now(struct list *l)
{
	struct roster *r = load(l), *o = NULL;
	GError *error = NULL;
	char *whole = owed_text(r), *log;

	g_assert_cmpint(roster_load_owed(l, &o, &error), ==, 0);
	g_assert_no_error(error);
	log = owed_text(o);
	g_assert_cmpstr(whole, ==, log);
	roster_free(&r);
	roster_free(&o);
	g_free(log);
	return whole;
}

/* Settles, in one change, the owed notices of these keys. */
static void
settle_keys(struct list *l, const char *const *keys)
{
	struct roster *r = load(l);
	GPtrArray *owed = roster_owed(r);
	struct roster_change *c = roster_change_new();
	GError *error = NULL;

	for (guint i = 0; i < owed->len; i++) {
		const struct roster_owed *o = owed->pdata[i];
		if (keys == NULL || g_strv_contains(keys, o->key))
			roster_change_settle(c, o);
	}
	g_assert_cmpint(roster_commit(l, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
	g_ptr_array_free(owed, TRUE);
	roster_free(&r);
}

static void
test_owed_notices_recorded_settled_and_carried_by_compaction(void)
{
	static const char *const abc[] = { "a@example.org", "B@Example.org",
					   "c@example.org", NULL };
	static const char *const b[] = { "b@example.org", NULL };
	struct fixture f;
	GError *error = NULL;
	char *text, *log;
	long long gen;

	fixture_setup(&f);
	put_addrs(f.list, "plain@example.org", NULL);
	put_owed(f.list, abc);
	text = owed_now(f.list);
	g_assert_cmpstr(text, ==, "welcome a@example.org a@example.org\n"
				  "welcome b@example.org B@example.org\n"
				  "welcome c@example.org c@example.org\n");
	g_free(text);
	{
		struct roster *r = load(f.list);
		g_assert_true(roster_is_owed(r, "welcome", "b@example.org"));
		g_assert_false(roster_is_owed(r, "welcome", "plain@example.org"));
		g_assert_false(roster_is_owed(r, "owners", "b@example.org"));
		g_assert_cmpuint(roster_count(r), ==, 4);
		roster_free(&r);
	}

	settle_keys(f.list, b);
	text = owed_now(f.list);
	g_assert_cmpstr(text, ==, "welcome a@example.org a@example.org\n"
				  "welcome c@example.org c@example.org\n");

	/* A compaction writes the members to the snapshot and carries what
	 * is still owed, in order, into the next log as one committed change. */
	gen = current_gen(f.list);
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(current_gen(f.list), ==, gen + 1);
	{
		char *now = owed_now(f.list);
		g_assert_cmpstr(now, ==, text);
		g_free(now);
	}
	{
		char *path = gen_file(f.list, "changes", gen + 1);
		log = read_all(path);
		g_free(path);
	}
	g_assert_cmpuint(count_commits(log), ==, 1);
	g_assert_nonnull(strstr(log, " O welcome\ta@example.org\ta@example.org\n"));
	g_assert_null(strstr(log, " + "));
	g_assert_null(strstr(log, "b@example.org"));
	g_free(log);
	g_free(text);
	{
		struct roster *r = load(f.list);
		g_assert_cmpuint(roster_count(r), ==, 4);
		g_assert_nonnull(roster_find(r, "b@example.org"));
		roster_free(&r);
	}

	/* Everything settled: the next compaction leaves no log behind. */
	settle_keys(f.list, NULL);
	text = owed_now(f.list);
	g_assert_cmpstr(text, ==, "");
	g_free(text);
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_false(log_exists(f.list, gen + 2));
	text = owed_now(f.list);
	g_assert_cmpstr(text, ==, "");
	g_free(text);
	fixture_teardown(&f);
}

static void
test_owed_notice_records_torn_or_uncommitted_not_applied(void)
{
	static const char *const a[] = { "a@example.org", NULL };
	struct fixture f;
	char *text;

	fixture_setup(&f);
	put_owed(f.list, a);
	/* A settle without its commit, then a torn owed record. */
	append_record(f.list, "S welcome\ta@example.org", FALSE);
	{
		char *path = gen_file(f.list, "changes", current_gen(f.list));
		append_raw(path, "12345678 O welcome\tz@exam");
		g_free(path);
	}
	text = owed_now(f.list);
	g_assert_cmpstr(text, ==, "welcome a@example.org a@example.org\n");
	g_free(text);
	/* Hand-written and committed, they count (and a bad field count
	 * ends the log as a torn record does). */
	put_addrs(f.list, "other@example.org", NULL);	/* cuts the tail */
	append_record(f.list, "O owners\ta@example.org\ta@example.org", FALSE);
	append_record(f.list, "S welcome\ta@example.org", FALSE);
	append_record(f.list, "C", FALSE);
	append_record(f.list, "O welcome\tonly-two@example.org", FALSE);
	append_record(f.list, "C", FALSE);
	text = owed_now(f.list);
	g_assert_cmpstr(text, ==, "owners a@example.org a@example.org\n");
	g_free(text);
	fixture_teardown(&f);
}

/* What a compaction carries over does not count as the log's growth:
 * a log that holds many owed notices is not compacted again at every
 * change. */
static void
test_owed_notices_carried_do_not_trigger_compaction(void)
{
	GPtrArray *addrs = g_ptr_array_new_with_free_func(g_free);
	struct fixture f;
	long long gen;

	fixture_setup(&f);
	for (guint i = 0; i < 1000; i++)
		g_ptr_array_add(addrs, g_strdup_printf("m%u@example.org", i));
	g_ptr_array_add(addrs, NULL);
	put_owed(f.list, (const char *const *)addrs->pdata);
	/* 1,000 puts: that change was growth enough to compact. */
	gen = current_gen(f.list);
	g_assert_cmpint(gen, ==, 2);
	{
		char *text = owed_now(f.list);
		g_assert_cmpuint(strlen(text), >, 16 * 1024);
		g_free(text);
	}
	put_addrs(f.list, "one@example.org", NULL);
	put_addrs(f.list, "two@example.org", NULL);
	g_assert_cmpint(current_gen(f.list), ==, gen);
	/* Settling them all is growth: compacted, nothing carried. */
	settle_keys(f.list, NULL);
	g_assert_cmpint(current_gen(f.list), ==, gen + 1);
	g_assert_false(log_exists(f.list, gen + 1));
	{
		struct roster *r = load(f.list);
		g_assert_cmpuint(roster_count(r), ==, 1002);
		roster_free(&r);
	}
	g_ptr_array_free(addrs, TRUE);
	fixture_teardown(&f);
}

/* A writer keeps the roster it changed for its next change (roster.c,
 * "kept"): whatever another writer did meanwhile is seen, never lost. */
static void
test_kept_roster_sees_other_writers(void)
{
	struct fixture f;
	GError *error = NULL;
	struct roster *r;

	fixture_setup(&f);
	put_addrs(f.list, "a@example.org", NULL);
	put_addrs(f.list, "b@example.org", NULL);	/* a kept roster's change */
	/* Another writer's committed change, appended behind our back. */
	append_record(f.list, GHOST_PUT, FALSE);
	append_record(f.list, "C", FALSE);
	put_addrs(f.list, "c@example.org", NULL);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 4);
	g_assert_nonnull(roster_find(r, "ghost@example.org"));
	g_assert_nonnull(roster_find(r, "c@example.org"));
	roster_free(&r);
	/* Another's compaction, then a removal in another's log. */
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	put_addrs(f.list, "d@example.org", NULL);
	append_record(f.list, "- a@example.org", FALSE);
	append_record(f.list, "C", FALSE);
	put_addrs(f.list, "e@example.org", NULL);
	r = load(f.list);
	g_assert_cmpuint(roster_count(r), ==, 5);
	g_assert_null(roster_find(r, "a@example.org"));
	g_assert_nonnull(roster_find(r, "e@example.org"));
	roster_free(&r);
	fixture_teardown(&f);
}

/* A compaction merges the snapshot's lines with the changes since (no
 * index built): members replaced, removed, and added before the first,
 * between and after the last come out in key order, each once. */
static void
test_compaction_merges_snapshot_and_changes(void)
{
	struct fixture f;
	GError *error = NULL;
	struct roster *r;
	char *before, *after, *snap, *path;
	struct roster_change *c;

	fixture_setup(&f);
	put_addrs(f.list, "b@example.org", "d@example.org", "f@example.org",
		  "h@example.org", NULL);
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	/* Since the snapshot: d replaced (a new name), f removed, a, e, z
	 * and a key with a tab escaped added. */
	c = roster_change_new();
	{
		struct member m = member_make("d@example.org");
		g_free(m.name);
		m.name = g_strdup("Dee");
		roster_change_put(c, &m);
		member_clear(&m);
	}
	roster_change_remove(c, "f@example.org");
	g_assert_cmpint(roster_commit(f.list, c, NULL, &error), ==, 0);
	roster_change_free(&c);
	put_addrs(f.list, "z@example.org", "a@example.org", "e@example.org", NULL);
	r = load(f.list);
	before = roster_dump(r);
	roster_free(&r);
	g_assert_cmpint(roster_compact(f.list, &error), ==, 0);
	g_assert_no_error(error);
	r = load(f.list);
	after = roster_dump(r);
	g_assert_cmpuint(roster_count(r), ==, 6);
	g_assert_cmpstr(roster_find(r, "d@example.org")->name, ==, "Dee");
	g_assert_null(roster_find(r, "f@example.org"));
	roster_free(&r);
	g_assert_cmpstr(after, ==, before);
	/* The snapshot itself: sorted, each once, counted. */
	path = gen_file(f.list, "members", current_gen(f.list));
	snap = read_all(path);
	{
		char **lines = g_strsplit(snap, "\n", -1);
		const char *want[] = { "a@", "b@", "d@", "e@", "h@", "z@" };
		g_assert_cmpstr(lines[0], ==, "herald-roster 3");
		for (guint i = 0; i < G_N_ELEMENTS(want); i++)
			g_assert_true(g_str_has_prefix(lines[i + 1], want[i]));
		g_assert_cmpstr(lines[7], ==, "end 6");
		g_strfreev(lines);
	}
	g_free(snap);
	g_free(path);
	g_free(before);
	g_free(after);
	fixture_teardown(&f);
}

static const struct unit_test tests[] = {
	{ "/roster/password/rehashed-at-other-parameters",
	  test_member_password_rehashed_at_other_parameters },
	{ "/roster/version/follows-changes", test_version_follows_changes },
	{ "/roster/load/new-list-empty",
	  test_new_list_has_empty_roster },
	{ "/roster/find/put-then-load-any-case",
	  test_put_then_load_finds_member_by_any_case },
	{ "/roster/fields/round-trip-commit-reload-snapshot",
	  test_fields_round_trip_through_commit_reload_and_snapshot },
	{ "/roster/remove/any-case",
	  test_remove_by_any_case_removes_member },
	{ "/roster/edit/sees-current-roster-and-can-abort",
	  test_edit_sees_current_roster_and_can_abort },
	{ "/roster/change/several-puts-removes-applied-as-one",
	  test_change_of_several_puts_and_removes_applied_as_one },
	{ "/roster/log/torn-tail-ignored-and-cut-by-next-writer",
	  test_torn_tail_ignored_and_cut_by_next_writer },
	{ "/roster/log/hand-written-committed-records-applied",
	  test_hand_written_committed_records_are_applied },
	{ "/roster/log/records-after-last-commit-not-applied",
	  test_records_after_last_commit_not_applied_and_cut },
	{ "/roster/log/bad-crc-record-and-rest-not-applied",
	  test_record_with_bad_crc_not_applied_nor_what_follows },
	{ "/roster/compact/generation-grows-roster-same-old-removed",
	  test_compact_grows_generation_keeps_roster_removes_old_gen },
	{ "/roster/compact/empty-or-unused-roster",
	  test_compact_of_empty_or_never_used_roster },
	{ "/roster/snapshot/without-end-line-format-error",
	  test_snapshot_without_end_line_fails_format },
	{ "/roster/format/version-1-reads-and-upgrades",
	  test_version_1_roster_reads_and_upgrades },
	{ "/roster/format/version-2-reads-and-topics-round-trip",
	  test_version_2_roster_reads_and_topics_round_trip },
	{ "/roster/names/options-round-trip-unknown-refused",
	  test_options_format_parse_round_trip_and_unknown_names },
	{ "/roster/stamp/changes-with-commits-and-compaction",
	  test_stamp_changes_with_every_commit_and_compaction_only },
	{ "/roster/scan/snapshot-and-changes-since",
	  test_scan_sees_snapshot_and_changes_since },
	{ "/roster/owed/recorded-settled-carried-by-compaction",
	  test_owed_notices_recorded_settled_and_carried_by_compaction },
	{ "/roster/owed/torn-or-uncommitted-not-applied",
	  test_owed_notice_records_torn_or_uncommitted_not_applied },
	{ "/roster/owed/carried-not-growth",
	  test_owed_notices_carried_do_not_trigger_compaction },
	{ "/roster/compact/merges-snapshot-and-changes",
	  test_compaction_merges_snapshot_and_changes },
	{ "/roster/kept/other-writers-seen",
	  test_kept_roster_sees_other_writers },
	{ "/roster/names/modes-statuses-parse",
	  test_mode_and_status_parse_every_name_and_refuse_unknown },
};

int
main(int argc, char **argv)
{
	return testutil_main_isolated(argc, argv, tests, G_N_ELEMENTS(tests));
}
