/*
 * test-list.c - unit tests for list.c: list names, creation (owners,
 * duplicates, names that are another list's addresses, one creation at a
 * time per domain), listing, settings (defaults, checked writes that
 * survive a reopen, hand edits, invalid UTF-8), export and import (weak
 * password hashes refused, secrets left out on request), and removal with
 * or without the archive.
 *
 * Each test runs in a child process with a fresh temporary var dir.
 */
#include "base/base.h"
#include "list/list.h"
#include "list/list_settings.h"
#include "list/listaddr.h"
#include "store/lock.h"
#include "base/log.h"
#include "store/site.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* --- helpers ------------------------------------------------------------- */

static const char *const one_owner[] = { "owner@example.org", NULL };

/* A new var dir, initialised and opened. */
static struct site *
new_site(char **var_r)
{
	GError *error = NULL;
	struct site *s;

	*var_r = tmp_dir_new();
	g_assert_cmpint(site_init(*var_r, &error), ==, 0);
	g_assert_no_error(error);
	s = site_open(*var_r, &error);
	g_assert_no_error(error);
	g_assert_nonnull(s);
	return s;
}

static void
create_ok(struct site *site, const char *fqdn)
{
	GError *error = NULL;

	g_assert_cmpint(list_create(site, fqdn, one_owner, &error), ==, 0);
	g_assert_no_error(error);
}

static struct list *
open_ok(struct site *site, const char *fqdn)
{
	GError *error = NULL;
	struct list *l = list_open(site, fqdn, &error);

	g_assert_no_error(error);
	g_assert_nonnull(l);
	return l;
}

static void
assert_get(struct list *l, const char *name, const char *want)
{
	GError *error = NULL;
	char *v = list_get(l, name, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(v, ==, want);
	g_free(v);
}

static void
set_ok(struct list *l, const char *name, const char *value)
{
	GError *error = NULL;

	g_assert_cmpint(list_set(l, name, value, &error), ==, 0);
	g_assert_no_error(error);
}

static void
assert_open_notfound(struct site *site, const char *fqdn)
{
	GError *error = NULL;
	struct list *l = list_open(site, fqdn, &error);

	g_assert_null(l);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND);
	g_clear_error(&error);
	list_free(&l);
}

/* --- names --------------------------------------------------------------- */

static void
test_name_check_accepts_good_names_and_splits_them(void)
{
	static const char *const good[] = {
		"demo@example.org", "a.b-c+d_e=f@lists.example.org",
		"x1@a-b.example.org", "0@example.co.uk",
	};
	GError *error = NULL;
	char *name = NULL, *domain = NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
		g_assert_cmpint(list_name_check(good[i], NULL, NULL, &error), ==, 0);
		g_assert_no_error(error);
		g_clear_error(&error);
	}
	g_assert_cmpint(list_name_check("a.b-c+d_e=f@lists.example.org", &name,
					&domain, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpstr(name, ==, "a.b-c+d_e=f");
	g_assert_cmpstr(domain, ==, "lists.example.org");
	g_free(name);
	g_free(domain);
}

static void
assert_name_refused(const char *fqdn)
{
	GError *error = NULL;
	char *name = NULL, *domain = NULL;
	int r = list_name_check(fqdn, &name, &domain, &error);

	if (r == 0)
		g_test_message("list name '%s' was accepted", fqdn);
	g_assert_cmpint(r, ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_assert_null(name);
	g_assert_null(domain);
	g_clear_error(&error);
	g_free(name);
	g_free(domain);
}

static void
test_name_check_refuses_bad_names_invalid(void)
{
	static const char *const bad[] = {
		"Demo@example.org",		/* upper case name */
		"demo@Example.org",		/* upper case domain */
		"de/mo@example.org",		/* '/' */
		"demo@example.org/x",
		"../demo@example.org",
		"..@example.org",		/* ".." */
		".demo@example.org",		/* leading '.' */
		"demo.example.org",		/* no '@' */
		"@example.org",			/* empty name */
		"demo@",			/* empty domain */
		"demo@localhost",		/* domain without a dot */
		"demo@-example.org",		/* label with a leading '-' */
		"demo@lists.-example.org",
		"demo@.example.org",		/* empty labels */
		"demo@example..org",
		"demo@example.org.",
		"demo@exa_mple.org",
		"de mo@example.org",
		"",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_name_refused(bad[i]);
}

/* The posting address must be an address: RFC 5322's dot-atom has no
 * empty atoms, so ".." inside or a '.' at the end of the name is not one,
 * and a host name label may not end with '-' (RFC 952/1123). */
static void
test_name_check_refuses_dot_dot_trailing_dot_and_label_ending_dash(void)
{
	assert_name_refused("de..mo@example.org");
	assert_name_refused("demo.@example.org");
	assert_name_refused("demo@example-.org");
	assert_name_refused("demo@example.org-");
}

/* --- create, open, list -------------------------------------------------- */

static void
test_create_then_open_and_list_all_sorted_ignoring_new_dirs(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	GPtrArray *all;
	struct list *l;
	char *leftover;

	all = list_all(site, &error);
	g_assert_no_error(error);
	g_assert_nonnull(all);
	g_assert_cmpuint(all->len, ==, 0);
	g_ptr_array_free(all, TRUE);

	create_ok(site, "zeta@example.org");
	create_ok(site, "alpha@example.org");
	create_ok(site, "beta@example.com");
	l = open_ok(site, "alpha@example.org");
	g_assert_cmpstr(list_fqdn(l), ==, "alpha@example.org");
	g_assert_true(g_file_test(list_dir(l), G_FILE_TEST_IS_DIR));
	g_assert_true(list_site(l) == site);
	list_free(&l);
	g_assert_null(l);

	/* A creator that crashed leaves <list>.new.<host>.<pid> behind. */
	leftover = site_path(site, "lists", "gamma@example.org.new.host1.123", NULL);
	g_assert_cmpint(g_mkdir_with_parents(leftover, 0770), ==, 0);
	g_free(leftover);
	leftover = site_path(site, "lists", "alpha@example.org.removed.host1.99", NULL);
	g_assert_cmpint(g_mkdir_with_parents(leftover, 0770), ==, 0);
	g_free(leftover);

	all = list_all(site, &error);
	g_assert_no_error(error);
	g_assert_nonnull(all);
	g_assert_cmpuint(all->len, ==, 3);
	if (all->len == 3) {
		g_assert_cmpstr(all->pdata[0], ==, "alpha@example.org");
		g_assert_cmpstr(all->pdata[1], ==, "beta@example.com");
		g_assert_cmpstr(all->pdata[2], ==, "zeta@example.org");
	}
	g_ptr_array_free(all, TRUE);
	assert_open_notfound(site, "gamma@example.org");
	assert_open_notfound(site, "nosuch@example.org");
	site_free(&site);
	tmp_dir_remove(&var);
}

static void
test_create_twice_fails_exists(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	static const char *const other[] = { "someone@example.net", NULL };
	struct list *l;

	create_ok(site, "demo@example.org");
	g_assert_cmpint(list_create(site, "demo@example.org", other, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_EXISTS);
	g_clear_error(&error);
	/* The first list is untouched. */
	l = open_ok(site, "demo@example.org");
	assert_get(l, "owner", "owner@example.org");
	list_free(&l);
	site_free(&site);
	tmp_dir_remove(&var);
}

static void
test_create_requires_valid_owners(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	static const char *const none[] = { NULL };
	static const char *const bad[] = { "owner@example.org", "not an address",
					   NULL };
	static const char *const two[] = { "a@example.org", "b@example.net", NULL };
	struct list *l;
	GPtrArray *all;

	g_assert_cmpint(list_create(site, "demo@example.org", NULL, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpint(list_create(site, "demo@example.org", none, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpint(list_create(site, "demo@example.org", bad, &error), ==, -1);
	g_assert_nonnull(error);
	if (error != NULL)
		g_assert_nonnull(strstr(error->message, "not an address"));
	g_clear_error(&error);
	g_assert_cmpint(list_create(site, "Bad@example.org", one_owner, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	assert_open_notfound(site, "demo@example.org");
	all = list_all(site, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(all->len, ==, 0);
	g_ptr_array_free(all, TRUE);

	g_assert_cmpint(list_create(site, "demo@example.org", two, &error), ==, 0);
	g_assert_no_error(error);
	l = open_ok(site, "demo@example.org");
	assert_get(l, "owner", "a@example.org\nb@example.net");
	list_free(&l);
	site_free(&site);
	tmp_dir_remove(&var);
}


/* Creating fqdn fails with HERALD_ERR_EXISTS saying the name is taken,
 * and no list fqdn appears. */
static void
assert_create_taken(struct site *site, const char *fqdn)
{
	GError *error = NULL;

	g_test_message("creating %s", fqdn);
	g_assert_cmpint(list_create(site, fqdn, one_owner, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_EXISTS);
	if (error != NULL)
		g_assert_nonnull(strstr(error->message, "is taken"));
	g_clear_error(&error);
	assert_open_notfound(site, fqdn);
}

/* test-owner@ beside test@ would take the mail of test's owners: every
 * role address of listaddr's table is refused as a list name, in the
 * domain of the list only. */
static void
test_create_refuses_another_lists_role_address(void)
{
	char *var;
	struct site *site = new_site(&var);
	const char *suffix;
	guint n = 0;

	create_ok(site, "test@example.org");
	for (guint i = 0; (suffix = listaddr_suffix(i)) != NULL; i++, n++) {
		char *name = g_strdup_printf("test%s@example.org", suffix);
		char *plus = g_strdup_printf("test%s+x@example.org", suffix);

		assert_create_taken(site, name);
		/* -bounces+VERP and -confirm+TOKEN are test's too; the
		 * others do not take an extension (listaddr_map). */
		if (strcmp(suffix, "-bounces") == 0 ||
		    strcmp(suffix, "-confirm") == 0)
			assert_create_taken(site, plus);
		g_free(plus);
		g_free(name);
	}
	/* -owner, -request, -bounces, -confirm, -join, -leave, -subscribe,
	 * -unsubscribe, -admin at least. */
	g_assert_cmpuint(n, >=, 9);
	/* Another domain's test-owner is no address of test@example.org. */
	create_ok(site, "test-owner@example.net");
	/* Nor is a name that merely contains a suffix. */
	create_ok(site, "test-ownership@example.org");
	site_free(&site);
	tmp_dir_remove(&var);
}

/* The reverse: test@ beside test-owner@ would make test-owner's posts the
 * mail of test's owners. */
static void
test_create_refuses_a_list_whose_role_address_is_a_list(void)
{
	char *var;
	struct site *site = new_site(&var);
	const char *suffix;

	for (guint i = 0; (suffix = listaddr_suffix(i)) != NULL; i++) {
		char *base = g_strdup_printf("r%u@example.org", i);
		char *role = g_strdup_printf("r%u%s@example.org", i, suffix);

		create_ok(site, role);
		assert_create_taken(site, base);
		g_free(role);
		g_free(base);
	}
	create_ok(site, "v-bounces+x@example.org");
	assert_create_taken(site, "v@example.org");
	/* Lists of another domain do not count. */
	create_ok(site, "r0@example.net");
	site_free(&site);
	tmp_dir_remove(&var);
}

/* listaddr_check_new relies on it: two role addresses of two lists never
 * meet because no suffix ends another. */
static void
test_no_role_suffix_ends_another(void)
{
	const char *a, *b;

	for (guint i = 0; (a = listaddr_suffix(i)) != NULL; i++)
		for (guint j = 0; (b = listaddr_suffix(j)) != NULL; j++)
			if (i != j && g_str_has_suffix(a, b))
				g_test_fail_printf("suffix %s ends %s", b, a);
}

/* Whether list fqdn exists (open succeeds). */
static gboolean
list_there(struct site *site, const char *fqdn)
{
	struct list *l = list_open(site, fqdn, NULL);
	gboolean there = l != NULL;

	list_free(&l);
	return there;
}

/* A child process that creates list fqdn and exits 0 when it could. */
static pid_t
create_in_child(struct site *site, const char *fqdn)
{
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0)
		_exit(list_create(site, fqdn, one_owner, NULL) == 0 ? 0 : 1);
	return pid;
}

static int
child_status(pid_t pid)
{
	int st;

	g_assert_cmpint(waitpid(pid, &st, 0), ==, pid);
	g_assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The check and the rename are one step under the domain's creation lock:
 * while another process holds it, a creation waits; and of two colliding
 * creations racing, exactly one gets in. */
static void
test_create_waits_for_the_domains_lock_and_races_let_one_in(void)
{
	char *var;
	struct site *site = new_site(&var);
	char *locks = g_build_filename(var, "locks", NULL);
	struct lock *lk = lock_new(locks, "lists-example.org", 60000);
	GError *error = NULL;
	pid_t pid;

	g_assert_cmpint(lock_acquire(lk, 1000, &error), ==, 0);
	g_assert_no_error(error);
	pid = create_in_child(site, "held@example.org");
	g_usleep(500 * 1000);
	g_assert_false(list_there(site, "held@example.org"));
	/* Lists of another domain are not held up. */
	create_ok(site, "free@example.net");
	g_assert_cmpint(lock_release(lk, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(child_status(pid), ==, 0);
	g_assert_true(list_there(site, "held@example.org"));

	for (int i = 0; i < 10; i++) {
		char *a = g_strdup_printf("race%d@example.org", i);
		char *b = g_strdup_printf("race%d-owner@example.org", i);
		pid_t pa = create_in_child(site, a), pb = create_in_child(site, b);
		int ok = (child_status(pa) == 0) + (child_status(pb) == 0);

		g_assert_cmpint(ok, ==, 1);
		g_assert_cmpint(list_there(site, a) + list_there(site, b), ==, 1);
		g_free(a);
		g_free(b);
	}
	lock_free(&lk);
	g_free(locks);
	site_free(&site);
	tmp_dir_remove(&var);
}

/* --- settings ------------------------------------------------------------ */

static void
test_get_defaults_and_set_round_trip_surviving_reopen(void)
{
	char *var;
	struct site *site = new_site(&var);
	struct list *l;

	create_ok(site, "demo@example.org");
	l = open_ok(site, "demo@example.org");
	assert_get(l, "max_message_size", "40");
	assert_get(l, "real_name", "Demo");
	assert_get(l, "subject_prefix", "[Demo] ");
	assert_get(l, "host_name", "example.org");
	assert_get(l, "archive", "yes");
	assert_get(l, "password", "");
	g_assert_true(list_get_bool(l, "archive"));
	g_assert_cmpint(list_get_int(l, "max_message_size"), ==, 40);

	set_ok(l, "max_message_size", "100");
	set_ok(l, "archive", "OFF");
	set_ok(l, "generic_nonmember_action", "Discard");
	set_ok(l, "ban_list", " a@example.org \n\n^b.*@example\\.net$\n");
	set_ok(l, "description", "Talk about demos");
	set_ok(l, "msg_footer", "-- \nfooter %(real_name)s\n");
	set_ok(l, "moderator", "mod@example.org");
	set_ok(l, "password", "s3cret");
	assert_get(l, "max_message_size", "100");
	assert_get(l, "archive", "no");
	list_free(&l);

	l = open_ok(site, "demo@example.org");
	assert_get(l, "max_message_size", "100");
	assert_get(l, "archive", "no");
	g_assert_false(list_get_bool(l, "archive"));
	g_assert_cmpint(list_get_int(l, "max_message_size"), ==, 100);
	assert_get(l, "generic_nonmember_action", "3");
	assert_get(l, "ban_list", "a@example.org\n^b.*@example\\.net$");
	assert_get(l, "description", "Talk about demos");
	assert_get(l, "msg_footer", "-- \nfooter %(real_name)s\n");
	assert_get(l, "moderator", "mod@example.org");
	{
		char *h = list_get(l, "password", NULL);
		g_assert_true(g_str_has_prefix(h, "$argon2id$"));
		g_assert_null(strstr(h, "s3cret"));
		g_free(h);
	}
	/* Untouched settings keep their defaults. */
	assert_get(l, "max_num_recipients", "10");
	list_free(&l);
	site_free(&site);
	tmp_dir_remove(&var);
}

static void
test_set_refuses_unknown_name_and_bad_values_keeping_old(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	struct list *l;
	char *v;

	create_ok(site, "demo@example.org");
	l = open_ok(site, "demo@example.org");
	g_assert_cmpint(list_set(l, "no_such_setting", "1", &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	if (error != NULL)
		g_assert_nonnull(strstr(error->message, "no_such_setting"));
	g_clear_error(&error);
	v = list_get(l, "no_such_setting", &error);
	g_assert_null(v);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	if (error != NULL)
		g_assert_nonnull(strstr(error->message, "no_such_setting"));
	g_clear_error(&error);

	g_assert_cmpint(list_set(l, "max_message_size", "huge", &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpint(list_set(l, "owner", "", &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpint(list_set(l, "owner", "a@example.org\nnot an address", &error),
			==, -1);
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_cmpint(list_set(l, "moderator", "nobody", &error), ==, -1);
	g_assert_nonnull(error);
	g_clear_error(&error);
	list_free(&l);
	l = open_ok(site, "demo@example.org");
	assert_get(l, "max_message_size", "40");
	assert_get(l, "owner", "owner@example.org");
	assert_get(l, "moderator", "");
	list_free(&l);
	site_free(&site);
	tmp_dir_remove(&var);
}

/* list_check_setting refuses what list_set refuses, with its message, and
 * stores nothing; list_set_checked stores several checked values at once. */
static void
test_check_then_set_checked_as_list_set(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL, *error2 = NULL;
	struct list *l;
	char *norm = NULL, *norm2 = NULL;

	create_ok(site, "demo@example.org");
	l = open_ok(site, "demo@example.org");
	g_assert_cmpint(list_check_setting("owner", "", &norm, &error), ==, -1);
	g_assert_null(norm);
	g_assert_cmpint(list_set(l, "owner", "", &error2), ==, -1);
	g_assert_cmpstr(error->message, ==, error2->message);
	g_clear_error(&error);
	g_clear_error(&error2);
	g_assert_cmpint(list_check_setting("max_message_size", "12abc", &norm,
					   &error), ==, -1);
	g_assert_cmpint(list_set(l, "max_message_size", "12abc", &error2), ==, -1);
	g_assert_cmpstr(error->message, ==, error2->message);
	g_clear_error(&error);
	g_clear_error(&error2);
	g_assert_cmpint(list_check_setting("no_such", "1", &norm, &error), ==, -1);
	g_clear_error(&error);

	g_assert_cmpint(list_check_setting("from_is_list", "munge_from", &norm,
					   &error), ==, 0);
	g_assert_cmpstr(norm, ==, "1");
	g_assert_cmpint(list_check_setting("mod_password", "secret", &norm2,
					   &error), ==, 0);
	g_assert_true(g_str_has_prefix(norm2, "$argon2id$"));
	assert_get(l, "from_is_list", "0");	/* checking stores nothing */
	const char *const names[] = { "from_is_list", "mod_password", NULL };
	const char *const norms[] = { norm, norm2, NULL };
	g_assert_cmpint(list_set_checked(l, names, norms, &error), ==, 0);
	g_assert_no_error(error);
	list_free(&l);
	l = open_ok(site, "demo@example.org");
	assert_get(l, "from_is_list", "1");
	g_assert_true(list_check_password(l, "mod_password", "secret"));
	const char *const bad[] = { "from_is_list", "no_such", NULL };
	g_assert_cmpint(list_set_checked(l, bad, norms, &error), ==, -1);
	g_clear_error(&error);
	g_free(norm);
	g_free(norm2);
	list_free(&l);
	site_free(&site);
	tmp_dir_remove(&var);
}

/* Rewrites key in group of the list's config file by hand. */
static void
hand_edit(struct list *l, const char *group, const char *key, const char *value)
{
	char *path = g_build_filename(list_dir(l), "config", NULL);
	GKeyFile *kf = g_key_file_new();
	GError *error = NULL;

	g_assert_true(g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS,
						&error));
	g_assert_no_error(error);
	g_key_file_set_string(kf, group, key, value);
	g_assert_true(g_key_file_save_to_file(kf, path, &error));
	g_assert_no_error(error);
	g_key_file_free(kf);
	g_free(path);
}

static void
test_hand_edited_bad_value_reads_as_default(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	struct list *l;

	create_ok(site, "demo@example.org");
	l = open_ok(site, "demo@example.org");
	set_ok(l, "max_message_size", "100");
	hand_edit(l, "general", "max_message_size", "lots");
	hand_edit(l, "archive", "archive", "perhaps");
	hand_edit(l, "privacy", "subscribe_policy", "7");
	hand_edit(l, "general", "description", "two\nlines");
	hand_edit(l, "bounce", "bounce_score_threshold", "True");
	/* A good hand edit is taken. */
	hand_edit(l, "privacy", "max_num_recipients", "25");
	g_assert_cmpint(list_reload(l, &error), ==, 0);
	g_assert_no_error(error);
	assert_get(l, "max_message_size", "40");
	assert_get(l, "archive", "yes");
	assert_get(l, "subscribe_policy", "1");
	assert_get(l, "description", "");
	assert_get(l, "bounce_score_threshold", "5");
	assert_get(l, "max_num_recipients", "25");
	g_assert_cmpint(list_get_int(l, "max_message_size"), ==, 40);
	list_free(&l);
	site_free(&site);
	tmp_dir_remove(&var);
}

/* --- export, import ------------------------------------------------------ */

static void
test_export_import_export_is_identical(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	struct list *a, *b;
	char *ea, *eb, *eb0;

	create_ok(site, "demo@example.org");
	create_ok(site, "other@example.net");
	a = open_ok(site, "demo@example.org");
	b = open_ok(site, "other@example.net");
	set_ok(a, "max_message_size", "123");
	set_ok(a, "archive", "no");
	set_ok(a, "reply_goes_to_list", "this_list");
	set_ok(a, "msg_footer", "line one\n\tline two %(list)s\n");
	set_ok(a, "ban_list", "x@example.org\n^y.*@example\\.com$");
	set_ok(a, "description", "semi; colon # hash = equals \\ backslash");
	set_ok(a, "password", "pw");
	set_ok(a, "owner", "boss@example.org\nvice@example.org");
	ea = list_export(a);
	g_assert_nonnull(ea);
	eb0 = list_export(b);
	g_assert_cmpstr(ea, !=, eb0);
	g_assert_cmpint(list_import(b, ea, &error), ==, 0);
	g_assert_no_error(error);
	eb = list_export(b);
	g_assert_cmpstr(ea, ==, eb);
	assert_get(b, "max_message_size", "123");
	assert_get(b, "msg_footer", "line one\n\tline two %(list)s\n");
	g_free(eb);
	/* And after a reopen, from the file. */
	list_free(&b);
	b = open_ok(site, "other@example.net");
	eb = list_export(b);
	g_assert_cmpstr(ea, ==, eb);
	{
		char *ha = list_get(a, "password", NULL);
		char *hb = list_get(b, "password", NULL);
		g_assert_true(g_str_has_prefix(ha, "$argon2id$"));
		g_assert_cmpstr(ha, ==, hb);
		g_free(ha);
		g_free(hb);
	}
	g_free(ea);
	g_free(eb);
	g_free(eb0);
	list_free(&a);
	list_free(&b);
	site_free(&site);
	tmp_dir_remove(&var);
}

/* Imports text into l, expecting a failure, and checks that nothing
 * changed (max_message_size is a sentinel the text also sets). */
static void
assert_import_refused(struct site *site, struct list *l, const char *text)
{
	GError *error = NULL;
	char *before = list_export(l), *after;
	struct list *again;

	g_assert_cmpint(list_import(l, text, &error), ==, -1);
	g_assert_nonnull(error);
	if (error != NULL)
		g_test_message("refused: %s", error->message);
	g_clear_error(&error);
	assert_get(l, "max_message_size", "40");
	again = open_ok(site, list_fqdn(l));
	assert_get(again, "max_message_size", "40");
	after = list_export(again);
	/* Not g_assert_cmpstr: a whole export is too long to read. */
	g_assert_true(g_strcmp0(before, after) == 0);
	list_free(&again);
	g_free(before);
	g_free(after);
}


/* A value that is not UTF-8 used to be stored and read back as the
 * default: refused by set and import alike, the old value kept. */
static void
test_value_that_is_not_utf8_is_refused_by_set_and_import(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	struct list *l;

	create_ok(site, "demo@example.org");
	l = open_ok(site, "demo@example.org");
	set_ok(l, "description", "Demo");
	g_assert_cmpint(list_set(l, "description", "D\xff", &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	if (error != NULL)
		g_assert_nonnull(strstr(error->message, "not UTF-8"));
	g_clear_error(&error);
	g_assert_cmpint(list_set(l, "msg_footer", "caf\xe9", &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	assert_get(l, "description", "Demo");
	list_free(&l);
	l = open_ok(site, "demo@example.org");
	assert_get(l, "description", "Demo");
	set_ok(l, "description", "");
	assert_import_refused(site, l, "[general]\nmax_message_size=100\n"
			      "description=D\xff\n");
	assert_import_refused(site, l, "[general]\nmax_message_size=100\n"
			      "[nondigest]\nmsg_footer=caf\xe9\n");
	list_free(&l);
	site_free(&site);
	tmp_dir_remove(&var);
}

/* An imported password hash weaker than herald's is refused (nothing
 * changes); a hash herald made travels as it is. */
static void
test_import_refuses_a_weak_password_hash(void)
{
	char *var;
	struct site *site = new_site(&var);
	char weak[crypto_pwhash_STRBYTES];
	GError *error = NULL;
	struct list *l;
	char *text;

	create_ok(site, "demo@example.org");
	l = open_ok(site, "demo@example.org");
	g_assert_cmpint(sodium_init(), >=, 0);
	g_assert_cmpint(crypto_pwhash_str_alg(weak, "pw", 2, 1, 8192,
					      crypto_pwhash_ALG_ARGON2ID13), ==, 0);
	text = g_strdup_printf("[general]\nmax_message_size=100\n"
			       "[passwords]\npassword=%s\n", weak);
	assert_import_refused(site, l, text);
	g_free(text);
	assert_import_refused(site, l, "[general]\nmax_message_size=100\n"
			      "[passwords]\nmod_password=$argon2id$v=19$m=8,t=1\n");
	/* A clear password in a hand-written file is hashed by herald. */
	g_assert_cmpint(list_import(l, "[passwords]\npost_password=s3cret\n",
				    &error), ==, 0);
	g_assert_no_error(error);
	g_assert_true(list_check_password(l, "post_password", "s3cret"));
	list_free(&l);
	site_free(&site);
	tmp_dir_remove(&var);
}

/* Mailman 2.1's SHA-1 hex of a list password ("$sha1$HEX", as `herald
 * import mailman2` stores it) matches its password once, and the match
 * replaces it with an Argon2id hash; a wrong password matches nothing and
 * changes nothing; a malformed one is refused on import. */
static void
test_mailman_sha1_password_accepted_then_rehashed(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	struct list *l;
	char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA1, "adminpw", -1);
	char *stored = g_strdup_printf("$sha1$%s", sha);
	char *text = g_strdup_printf("[passwords]\npassword=%s\n", stored);
	char *v;

	create_ok(site, "demo@example.org");
	l = open_ok(site, "demo@example.org");
	g_assert_cmpint(list_import(l, text, &error), ==, 0);
	g_assert_no_error(error);
	assert_get(l, "password", stored);
	g_assert_false(list_check_password(l, "password", "wrong"));
	assert_get(l, "password", stored);
	g_assert_true(list_check_password(l, "password", "adminpw"));
	v = list_get(l, "password", NULL);
	g_assert_true(g_str_has_prefix(v, "$argon2id$"));
	g_free(v);
	g_assert_true(list_check_password(l, "password", "adminpw"));
	g_assert_false(list_check_password(l, "password", "wrong"));
	assert_import_refused(site, l, "[passwords]\nmod_password=$sha1$abc\n");
	list_free(&l);
	site_free(&site);
	tmp_dir_remove(&var);
	g_free(sha);
	g_free(stored);
	g_free(text);
}

/* An Argon2id hash at other parameters (the former default, libsodium's
 * interactive 64 MiB, t=2) is imported, matches its password, and the
 * match makes it again at herald's (m=7 MiB, t=5). */
static void
test_other_argon2_parameters_rehashed_at_login(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	struct list *l;
	char old[crypto_pwhash_STRBYTES];
	char *text, *v;

	g_assert_cmpint(crypto_pwhash_str(old, "adminpw", 7,
					  crypto_pwhash_OPSLIMIT_INTERACTIVE,
					  crypto_pwhash_MEMLIMIT_INTERACTIVE), ==, 0);
	text = g_strdup_printf("[passwords]\npassword=%s\n", old);
	create_ok(site, "demo@example.org");
	l = open_ok(site, "demo@example.org");
	g_assert_cmpint(list_import(l, text, &error), ==, 0);
	g_assert_no_error(error);
	assert_get(l, "password", old);
	g_assert_false(list_check_password(l, "password", "wrong"));
	assert_get(l, "password", old);
	g_assert_true(list_check_password(l, "password", "adminpw"));
	v = list_get(l, "password", NULL);
	g_assert_nonnull(strstr(v, "$m=7168,t=5,p=1$"));
	g_free(v);
	g_assert_true(list_check_password(l, "password", "adminpw"));

	list_free(&l);
	site_free(&site);
	tmp_dir_remove(&var);
	g_free(text);
}

/* The export a person reads leaves the password hashes out (a comment
 * says so); imported, it keeps the passwords of the list it goes into,
 * and moves every other setting. */
static void
test_export_without_secrets_leaves_passwords_out_and_import_keeps_them(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	struct list *a, *b;
	char *ea, *eb, *ha, *hb;

	create_ok(site, "demo@example.org");
	create_ok(site, "other@example.net");
	a = open_ok(site, "demo@example.org");
	b = open_ok(site, "other@example.net");
	set_ok(a, "password", "pw-a");
	set_ok(a, "mod_password", "mod-a");
	set_ok(a, "max_message_size", "123");
	set_ok(b, "password", "pw-b");
	ha = list_get(a, "password", NULL);
	ea = list_export_without_secrets(a);
	g_assert_null(strstr(ea, "$argon2"));
	g_assert_null(strstr(ea, "password="));
	g_assert_null(strstr(ea, "[passwords]"));
	g_assert_nonnull(strstr(ea, "# The passwords (password, mod_password, "
				"post_password) are left out"));
	g_assert_nonnull(strstr(ea, "max_message_size=123"));
	/* Into another list: its own passwords stay. */
	g_assert_cmpint(list_import(b, ea, &error), ==, 0);
	g_assert_no_error(error);
	assert_get(b, "max_message_size", "123");
	g_assert_true(list_check_password(b, "password", "pw-b"));
	g_assert_false(list_check_password(b, "mod_password", "mod-a"));
	eb = list_export_without_secrets(b);
	g_assert_cmpstr(ea, ==, eb);
	/* Into itself: nothing changes. */
	g_assert_cmpint(list_import(a, ea, &error), ==, 0);
	g_assert_no_error(error);
	hb = list_get(a, "password", NULL);
	g_assert_cmpstr(ha, ==, hb);
	g_assert_true(list_check_password(a, "mod_password", "mod-a"));
	g_free(ha);
	g_free(hb);
	g_free(ea);
	g_free(eb);
	list_free(&a);
	list_free(&b);
	site_free(&site);
	tmp_dir_remove(&var);
}

static void
test_import_refuses_bad_value_and_changes_nothing(void)
{
	char *var;
	struct site *site = new_site(&var);
	struct list *l;

	create_ok(site, "demo@example.org");
	l = open_ok(site, "demo@example.org");
	assert_get(l, "max_message_size", "40");
	assert_import_refused(site, l,
			      "[general]\nmax_message_size=100\n"
			      "[privacy]\nsubscribe_policy=whenever\n");
	assert_import_refused(site, l,
			      "[general]\nmax_message_size=100\nno_such_setting=1\n");
	assert_import_refused(site, l,
			      "[general]\nmax_message_size=100\n"
			      "[bounce]\narchive=yes\n");	/* wrong group */
	assert_import_refused(site, l,
			      "[general]\nmax_message_size=100\ndescription=a\\nb\n");
	assert_import_refused(site, l, "this is not a key file\n");
	list_free(&l);
	site_free(&site);
	tmp_dir_remove(&var);
}

/* list_set refuses an owner or moderator that is not an address and an
 * empty owner; import "checks every value", so it must refuse them too. */
static void
test_import_refuses_bad_owner_or_moderator(void)
{
	static const char *const cases[] = {
		"[general]\nmax_message_size=100\nowner=not an address\n",
		"[general]\nmax_message_size=100\nowner=\n",
		"[general]\nmax_message_size=100\nmoderator=nobody\n",
	};
	char *var;
	struct site *site = new_site(&var);

	/* A list of its own for each case, so one wrong import does not
	 * spoil the next case's "before". */
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *fqdn = g_strdup_printf("demo%u@example.org", (unsigned)i);
		struct list *l;

		create_ok(site, fqdn);
		l = open_ok(site, fqdn);
		assert_import_refused(site, l, cases[i]);
		assert_get(l, "owner", "owner@example.org");
		assert_get(l, "moderator", "");
		list_free(&l);
		g_free(fqdn);
	}
	site_free(&site);
	tmp_dir_remove(&var);
}

/* --- remove -------------------------------------------------------------- */

static void
test_remove_keeps_archive_unless_purge(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	char *arch1, *arch2, *file, *dir1;
	GPtrArray *all;

	create_ok(site, "one@example.org");
	create_ok(site, "two@example.org");
	arch1 = site_path(site, "archives", "one@example.org", NULL);
	arch2 = site_path(site, "archives", "two@example.org", NULL);
	dir1 = site_path(site, "lists", "one@example.org", NULL);
	g_assert_cmpint(g_mkdir_with_parents(arch1, 0770), ==, 0);
	g_assert_cmpint(g_mkdir_with_parents(arch2, 0770), ==, 0);
	file = g_build_filename(arch1, "2024-01.mbox", NULL);
	g_assert_true(g_file_set_contents(file, "From x\n", -1, NULL));
	g_free(file);
	file = g_build_filename(arch2, "2024-01.mbox", NULL);
	g_assert_true(g_file_set_contents(file, "From x\n", -1, NULL));
	g_free(file);

	g_assert_cmpint(list_remove(site, "one@example.org", FALSE, &error), ==, 0);
	g_assert_no_error(error);
	assert_open_notfound(site, "one@example.org");
	g_assert_false(g_file_test(dir1, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(arch1, G_FILE_TEST_IS_DIR));
	file = g_build_filename(arch1, "2024-01.mbox", NULL);
	g_assert_true(g_file_test(file, G_FILE_TEST_IS_REGULAR));
	g_free(file);

	g_assert_cmpint(list_remove(site, "two@example.org", TRUE, &error), ==, 0);
	g_assert_no_error(error);
	assert_open_notfound(site, "two@example.org");
	g_assert_false(g_file_test(arch2, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(arch1, G_FILE_TEST_IS_DIR));

	all = list_all(site, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(all->len, ==, 0);
	g_ptr_array_free(all, TRUE);
	/* Nothing left in lists/ (no .removed. directories). */
	{
		char *lists = site_path(site, "lists", NULL);
		GDir *d = g_dir_open(lists, 0, NULL);
		g_assert_nonnull(d);
		g_assert_null(g_dir_read_name(d));
		g_dir_close(d);
		g_free(lists);
	}
	/* And the name can be used again. */
	create_ok(site, "one@example.org");
	g_free(arch1);
	g_free(arch2);
	g_free(dir1);
	site_free(&site);
	tmp_dir_remove(&var);
}

static void
test_remove_missing_list_fails_notfound(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;

	g_assert_cmpint(list_remove(site, "nosuch@example.org", FALSE, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND);
	g_clear_error(&error);
	g_assert_cmpint(list_remove(site, "nosuch@example.org", TRUE, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND);
	g_clear_error(&error);
	site_free(&site);
	tmp_dir_remove(&var);
}

/* --- running ------------------------------------------------------------- */

/* Lists opened from one version of the config share its parsed key file
 * (list.c's cache): a change through one of them is written from a copy,
 * the others keep what they read, and the next open or reload sees it;
 * a file changed behind herald's back is seen at the next open too. */
static void
test_shared_config_sees_changes_and_stays_unchanged(void)
{
	char *var;
	struct site *site = new_site(&var);
	GError *error = NULL;
	struct list *a, *b, *c;
	char *v, *path, *text;

	create_ok(site, "demo@example.org");
	a = open_ok(site, "demo@example.org");
	b = open_ok(site, "demo@example.org");
	g_assert_cmpint(list_get_int(a, "max_message_size"), ==,
			list_get_int(b, "max_message_size"));
	g_assert_cmpint(list_set(b, "max_message_size", "77", &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(list_get_int(b, "max_message_size"), ==, 77);
	g_assert_cmpint(list_get_int(a, "max_message_size"), !=, 77);
	c = open_ok(site, "demo@example.org");
	g_assert_cmpint(list_get_int(c, "max_message_size"), ==, 77);
	g_assert_cmpint(list_reload(a, &error), ==, 0);
	g_assert_cmpint(list_get_int(a, "max_message_size"), ==, 77);
	list_free(&c);

	/* Rewritten by another program, same size: still seen. */
	path = g_build_filename(list_dir(a), "config", NULL);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	char *at = strstr(text, "max_message_size=77");
	g_assert_nonnull(at);
	at[strlen("max_message_size=")] = '6';
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	c = open_ok(site, "demo@example.org");
	v = list_get(c, "max_message_size", NULL);
	g_assert_cmpstr(v, ==, "67");
	g_free(v);
	list_free(&c);
	g_free(text);
	g_free(path);
	list_free(&a);
	list_free(&b);
	site_free(&site);
	tmp_dir_remove(&var);
}

static const struct unit_test tests[] = {
	{ "/list/password/other-argon2-parameters-rehashed-at-login",
	  test_other_argon2_parameters_rehashed_at_login },
	{ "/list/config/shared-sees-changes-stays-unchanged",
	  test_shared_config_sees_changes_and_stays_unchanged },
	{ "/list/name/accepts-good-names-and-splits",
	  test_name_check_accepts_good_names_and_splits_them },
	{ "/list/name/refuses-bad-names-invalid",
	  test_name_check_refuses_bad_names_invalid },
	{ "/list/name/refuses-dot-dot-trailing-dot-label-ending-dash",
	  test_name_check_refuses_dot_dot_trailing_dot_and_label_ending_dash },
	{ "/list/create/open-and-list-all-sorted-ignoring-new-dirs",
	  test_create_then_open_and_list_all_sorted_ignoring_new_dirs },
	{ "/list/create/twice-fails-exists",
	  test_create_twice_fails_exists },
	{ "/list/create/requires-valid-owners",
	  test_create_requires_valid_owners },
	{ "/list/create/refuses-another-lists-role-address",
	  test_create_refuses_another_lists_role_address },
	{ "/list/create/refuses-a-list-whose-role-address-is-a-list",
	  test_create_refuses_a_list_whose_role_address_is_a_list },
	{ "/list/create/no-role-suffix-ends-another",
	  test_no_role_suffix_ends_another },
	{ "/list/create/waits-for-domain-lock-races-let-one-in",
	  test_create_waits_for_the_domains_lock_and_races_let_one_in },
	{ "/list/set/defaults-and-round-trip-survive-reopen",
	  test_get_defaults_and_set_round_trip_surviving_reopen },
	{ "/list/set/unknown-name-and-bad-values-refused-old-kept",
	  test_set_refuses_unknown_name_and_bad_values_keeping_old },
	{ "/list/set/check-then-set-checked-as-list-set",
	  test_check_then_set_checked_as_list_set },
	{ "/list/get/hand-edited-bad-value-is-default",
	  test_hand_edited_bad_value_reads_as_default },
	{ "/list/export/import-into-other-list-exports-identical",
	  test_export_import_export_is_identical },
	{ "/list/import/bad-value-refused-nothing-changed",
	  test_import_refuses_bad_value_and_changes_nothing },
	{ "/list/import/bad-owner-or-moderator-refused",
	  test_import_refuses_bad_owner_or_moderator },
	{ "/list/set/not-utf8-refused-by-set-and-import",
	  test_value_that_is_not_utf8_is_refused_by_set_and_import },
	{ "/list/password/mailman-sha1-accepted-then-rehashed",
	  test_mailman_sha1_password_accepted_then_rehashed },
	{ "/list/import/weak-password-hash-refused",
	  test_import_refuses_a_weak_password_hash },
	{ "/list/export/without-secrets-leaves-passwords-out-import-keeps",
	  test_export_without_secrets_leaves_passwords_out_and_import_keeps_them },
	{ "/list/remove/keeps-archive-unless-purge",
	  test_remove_keeps_archive_unless_purge },
	{ "/list/remove/missing-list-notfound",
	  test_remove_missing_list_fails_notfound },
};

int
main(int argc, char **argv)
{
	return testutil_main_isolated(argc, argv, tests, G_N_ELEMENTS(tests));
}
