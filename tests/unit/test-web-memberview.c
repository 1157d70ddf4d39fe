/*
 * test-web-memberview.c - unit tests for web/memberview.c: a view holds
 * every member sorted by address with what the pages show, finds one in
 * any case, indexes the visible (not hidden) ones; a big roster's view is
 * kept and given again while the roster is unchanged, replaced after a
 * change; a small roster's is never kept; the API's cursor (the first
 * member after an address key), its address filter, and the date of
 * subscription.
 */
#include "base/base.h"
#include "list/roster.h"
#include "web/memberview.h"

#include <string.h>

#include "testutil.h"

#define FQDN "big@example.org"

static void
add_many(struct list *l, guint n)
{
	struct roster_change *c = roster_change_new();
	GError *error = NULL;

	for (guint i = n; i > 0; i--) {
		struct member m = { 0 };
		char *addr = g_strdup_printf("M%05u@Example.net", i);

		m.addr = addr;
		m.key = g_ascii_strdown(addr, -1);
		m.name = i == 7 ? "Seven" : "";
		m.status_reason = "";
		m.language = i == 7 ? "de" : "";
		m.password = "";
		m.bounce.reason = "";
		m.options = i % 10 == 0 ? OPT_CONCEAL : 0;
		m.mode = i == 7 ? MODE_MIME_DIGEST : MODE_REGULAR;
		m.subscribed = 1700000000 + i;
		roster_change_put(c, &m);
		g_free(m.key);
		g_free(addr);
	}
	g_assert_cmpint(roster_commit(l, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
}

static void
test_view_sorted_find_visible(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct memberview *v;
	const struct memberview_entry *e;
	struct memberview_entry x, y;

	list_fixture_init(&f, FQDN);
	add_many(f.list, 50);
	v = memberview_get(f.list, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(v->count, ==, 50);
	for (guint i = 1; i < v->count; i++)
		g_assert_cmpint(g_ascii_strcasecmp(
					memberview_at(v, FALSE, i - 1, &x)->addr,
					memberview_at(v, FALSE, i, &y)->addr),
				<, 0);
	e = memberview_find(v, "m00007@EXAMPLE.NET", &x);
	g_assert_nonnull(e);
	g_assert_cmpstr(e->addr, ==, "M00007@Example.net");
	g_assert_cmpstr(e->name, ==, "Seven");
	g_assert_cmpstr(e->language, ==, "de");
	g_assert_cmpint(e->mode, ==, MODE_MIME_DIGEST);
	g_assert_null(memberview_find(v, "m00051@example.net", &x));
	g_assert_null(memberview_find(v, "not an address", &x));
	g_assert_cmpuint(v->nvisible, ==, 45);
	for (guint i = 0; i < v->nvisible; i++)
		g_assert_false(memberview_at(v, TRUE, i, &x)->options &
			       OPT_CONCEAL);
	memberview_unref(&v);
	g_assert_null(v);
	list_fixture_clear(&f);
}

static void
test_big_view_kept_until_roster_changes(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct memberview *a, *b, *c;
	struct memberview_entry x;

	list_fixture_init(&f, FQDN);
	add_many(f.list, MEMBERVIEW_MIN_CACHED);
	a = memberview_get(f.list, &error);
	b = memberview_get(f.list, &error);
	g_assert_no_error(error);
	g_assert_true(a == b);
	fixture_add_member(&f, "new@example.com", 0);
	c = memberview_get(f.list, &error);
	g_assert_no_error(error);
	g_assert_true(c != a);
	g_assert_cmpuint(c->count, ==, MEMBERVIEW_MIN_CACHED + 1);
	g_assert_nonnull(memberview_find(c, "new@example.com", &x));
	/* The old view stays whole for whoever still holds it. */
	g_assert_cmpuint(a->count, ==, MEMBERVIEW_MIN_CACHED);
	g_assert_null(memberview_find(a, "new@example.com", &x));
	memberview_unref(&a);
	memberview_unref(&b);
	memberview_unref(&c);
	memberview_flush();
	list_fixture_clear(&f);
}

static void
test_small_view_not_kept(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct memberview *a, *b;
	struct memberview_entry x;

	list_fixture_init(&f, FQDN);
	add_many(f.list, 10);
	a = memberview_get(f.list, &error);
	b = memberview_get(f.list, &error);
	g_assert_no_error(error);
	g_assert_true(a != b);
	/* Only the last is hidden: the visible ones are the first nine. */
	g_assert_cmpuint(a->nvisible, ==, 9);
	g_assert_cmpstr(memberview_at(a, TRUE, 8, &x)->addr, ==,
			"M00009@Example.net");
	g_assert_cmpstr(memberview_at(a, FALSE, 9, &x)->addr, ==,
			"M00010@Example.net");
	memberview_unref(&a);
	memberview_unref(&b);
	list_fixture_clear(&f);
}

static void
test_search_folded_paged(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct memberview *v;
	GArray *page = g_array_new(FALSE, FALSE, sizeof(guint));
	struct memberview_entry x;
	static const char *const second[] = { "M00011@Example.net",
					      "M00012@Example.net",
					      "M00013@Example.net" };

	list_fixture_init(&f, FQDN);
	add_many(f.list, 50);
	v = memberview_get(f.list, &error);
	g_assert_no_error(error);
	/* By name, in another case. */
	g_assert_cmpuint(memberview_search(v, "sEVEN", 0, 10, page), ==, 1);
	g_assert_cmpuint(page->len, ==, 1);
	g_assert_cmpstr(memberview_at(v, FALSE, g_array_index(page, guint, 0),
				      &x)->addr, ==, "M00007@Example.net");
	/* By address: m0001x and m00010 hold "m0001"; one each, in order;
	 * a page of 3 from the 2nd. */
	g_array_set_size(page, 0);
	g_assert_cmpuint(memberview_search(v, "M0001", 1, 3, page), ==, 10);
	g_assert_cmpuint(page->len, ==, 3);
	for (guint i = 0; i < page->len; i++)
		g_assert_cmpstr(memberview_at(v, FALSE,
					      g_array_index(page, guint, i),
					      &x)->addr, ==, second[i]);
	/* Every member holds "example.net", once. */
	g_array_set_size(page, 0);
	g_assert_cmpuint(memberview_search(v, "EXAMPLE.NET", 0, 100, page),
			 ==, 50);
	/* Nothing across a member's separators. */
	g_assert_cmpuint(memberview_search(v, "net\tseven", 0, 10, page), ==,
			 0);
	g_assert_cmpuint(memberview_search(v, "net\t", 0, 10, page), ==, 0);
	g_assert_cmpuint(memberview_search(v, "nobody", 0, 10, page), ==, 0);
	g_assert_cmpuint(memberview_at(v, TRUE, 0, &x)->options & OPT_CONCEAL,
			 ==, 0);
	g_array_free(page, TRUE);
	memberview_unref(&v);
	list_fixture_clear(&f);
}

/* The members holding q (case-folded) by brute force: the oracle. */
static guint
brute_search(const struct memberview *v, const char *q)
{
	char *f = g_utf8_casefold(q, -1);
	struct memberview_entry x;
	guint n = 0;

	for (guint i = 0; i < v->count; i++) {
		char *a, *b;

		memberview_at(v, FALSE, i, &x);
		a = g_utf8_casefold(x.addr, -1);
		b = g_utf8_casefold(x.name, -1);
		n += strstr(a, f) != NULL || strstr(b, f) != NULL;
		g_free(a);
		g_free(b);
	}
	g_free(f);
	return n;
}

/* The filtered search finds what a scan of every member finds: texts of
 * members at the start, middle and end of the filter's blocks, the last
 * member, names with non-ASCII letters, short texts (no filter), texts
 * nobody holds but whose three-byte runs are common. */
static void
test_search_blocks_match_scan(void)
{
	struct list_fixture f;
	struct roster_change *c = roster_change_new();
	GError *error = NULL;
	struct memberview *v;
	GArray *page = g_array_new(FALSE, FALSE, sizeof(guint));
	static const char *const fixed[] = {
		"a", "ü", "7", "42", "user", "USER1", "r1999@", "ample.org",
		"zoë", "ZOË 12", "nobody", "user1x", "9@ex", "@example",
		"grüße", "name 1000", "1@", "0000",
	};
	guint n = 2000;

	list_fixture_init(&f, FQDN);
	for (guint i = 0; i < n; i++) {
		struct member m = { 0 };
		char *addr = g_strdup_printf("User%u@Example%u.org", i, i % 7);
		char *name = i % 3 == 0 ? g_strdup_printf("Zoë Grüße %u", i)
			   : i % 3 == 1 ? g_strdup_printf("Name %u", i)
					: g_strdup("");

		m.addr = addr;
		m.key = g_ascii_strdown(addr, -1);
		m.name = name;
		m.status_reason = m.language = m.password = m.bounce.reason = "";
		roster_change_put(c, &m);
		g_free(m.key);
		g_free(addr);
		g_free(name);
	}
	g_assert_cmpint(roster_commit(f.list, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
	v = memberview_get(f.list, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(v->count, ==, n);
	for (guint k = 0; k < G_N_ELEMENTS(fixed); k++) {
		g_array_set_size(page, 0);
		g_assert_cmpuint(memberview_search(v, fixed[k], 0, n, page), ==,
				 brute_search(v, fixed[k]));
		g_assert_cmpuint(page->len, ==, brute_search(v, fixed[k]));
	}
	/* Each member's whole address, and a piece of it, for members at
	 * every place in their block (16 a block) and the last one. */
	for (guint i = 0; i < n; i += 5) {
		struct memberview_entry x;
		char *piece;

		memberview_at(v, FALSE, i == 1995 ? n - 1 : i, &x);
		piece = g_strndup(x.addr + 2, 6);
		g_array_set_size(page, 0);
		g_assert_cmpuint(memberview_search(v, x.addr, 0, 10, page), ==,
				 brute_search(v, x.addr));
		g_assert_cmpuint(page->len, >=, 1);
		g_assert_cmpuint(memberview_search(v, piece, 0, 0, page), ==,
				 brute_search(v, piece));
		g_free(piece);
	}
	g_array_free(page, TRUE);
	memberview_unref(&v);
	list_fixture_clear(&f);
}

static void
test_after_address_subscribed(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct memberview *v;
	struct memberview_entry x;

	list_fixture_init(&f, FQDN);
	add_many(f.list, 50);
	v = memberview_get(f.list, &error);
	g_assert_no_error(error);
	/* After a member's key: the next one; before the first: 0; after
	 * the last, or past every address: count. */
	g_assert_cmpuint(memberview_after(v, "m00007@example.net"), ==, 7);
	g_assert_cmpstr(memberview_at(v, FALSE, 7, &x)->addr, ==,
			"M00008@Example.net");
	g_assert_cmpuint(memberview_after(v, "m00007@example.mmm"), ==, 6);
	g_assert_cmpuint(memberview_after(v, "a"), ==, 0);
	g_assert_cmpuint(memberview_after(v, "m00050@example.net"), ==, 50);
	g_assert_cmpuint(memberview_after(v, "z"), ==, 50);
	/* The address only, any case, not the name. */
	g_assert_true(memberview_address_holds(v, 6, "m00007@"));
	g_assert_true(memberview_address_holds(v, 6, "example.net"));
	g_assert_true(memberview_address_holds(v, 6, ""));
	g_assert_false(memberview_address_holds(v, 6, "seven"));
	g_assert_false(memberview_address_holds(v, 5, "m00007"));
	g_assert_false(memberview_address_holds(v, 6,
						"m00007@example.net\tseven"));
	g_assert_cmpint(memberview_find(v, "m00007@example.net", &x)->subscribed,
			==, 1700000007);
	g_assert_cmpint(memberview_at(v, FALSE, 49, &x)->subscribed, ==,
			1700000050);
	memberview_unref(&v);
	list_fixture_clear(&f);
}

/* Whether s lies in the view's folded text (shared, not a copy). */
static gboolean
in_folded(const struct memberview *v, const char *s)
{
	return s >= v->text && s < v->text + v->folded_len;
}

/* Addresses and names are shown as written; the ones already in folded
 * form are not stored twice, the others are, and the search reads the
 * folded form of both. */
static void
test_text_as_written_folded_shared(void)
{
	static const char *const members[][2] = {
		{ "ann@example.net", "ann" },
		{ "Bob@Example.NET", "Bob Jones" },
		{ "carl@example.net", "J\xc3\xbcrgen Gro\xc3\x9f" },
		{ "dora@example.net", "" },
	};
	struct list_fixture f;
	struct roster_change *c = roster_change_new();
	GError *error = NULL;
	struct memberview *v;
	struct memberview_entry x;
	const struct memberview_entry *e;
	GArray *page = g_array_new(FALSE, FALSE, sizeof(guint));

	list_fixture_init(&f, FQDN);
	for (guint i = 0; i < G_N_ELEMENTS(members); i++) {
		struct member m = { 0 };
		m.addr = (char *)members[i][0];
		m.key = g_ascii_strdown(m.addr, -1);
		m.name = (char *)members[i][1];
		m.status_reason = m.language = m.password = "";
		m.bounce.reason = "";
		roster_change_put(c, &m);
		g_free(m.key);
	}
	g_assert_cmpint(roster_commit(f.list, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
	v = memberview_get(f.list, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(v->count, ==, 4);
	for (guint i = 0; i < G_N_ELEMENTS(members); i++) {
		e = memberview_at(v, FALSE, i, &x);
		g_assert_cmpstr(e->addr, ==, members[i][0]);
		g_assert_cmpstr(e->name, ==, members[i][1]);
	}
	e = memberview_at(v, FALSE, 0, &x);
	g_assert_true(in_folded(v, e->addr) && in_folded(v, e->name));
	e = memberview_at(v, FALSE, 1, &x);
	g_assert_false(in_folded(v, e->addr) || in_folded(v, e->name));
	e = memberview_at(v, FALSE, 2, &x);
	g_assert_true(in_folded(v, e->addr));
	g_assert_false(in_folded(v, e->name));
	g_assert_true(in_folded(v, memberview_at(v, FALSE, 3, &x)->name));
	/* Case-folded: "GROSS" finds Gro\xc3\x9f, "bob j" the name. */
	g_assert_cmpuint(memberview_search(v, "GROSS", 0, 10, page), ==, 1);
	g_assert_cmpuint(g_array_index(page, guint, 0), ==, 2);
	g_array_set_size(page, 0);
	g_assert_cmpuint(memberview_search(v, "bob j", 0, 10, page), ==, 1);
	g_assert_cmpuint(g_array_index(page, guint, 0), ==, 1);
	/* Not across an address and its name. */
	g_assert_cmpuint(memberview_search(v, "netann", 0, 10, page), ==, 0);
	g_assert_true(memberview_address_holds(v, 1, "bob@example.net"));
	g_assert_false(memberview_address_holds(v, 1, "bob@example.netbob"));
	g_array_free(page, TRUE);
	memberview_unref(&v);
	list_fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/memberview/text-as-written-folded-shared",
	  test_text_as_written_folded_shared },
	{ "/memberview/after-address-subscribed",
	  test_after_address_subscribed },
	{ "/memberview/search-folded-paged", test_search_folded_paged },
	{ "/memberview/search-blocks-match-scan",
	  test_search_blocks_match_scan },
	{ "/memberview/sorted-find-visible", test_view_sorted_find_visible },
	{ "/memberview/big-kept-until-change",
	  test_big_view_kept_until_roster_changes },
	{ "/memberview/small-not-kept", test_small_view_not_kept },
};

UNIT_TEST_MAIN(tests)
