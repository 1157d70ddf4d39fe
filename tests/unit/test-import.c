/*
 * test-import.c - the Mailman 2.1 importer (src/lib/import/import.h) as a
 * library: a var prefix written by tests/tools/mailman2-vardir.py is
 * imported; members keep their old passwords (member_password_ok), their
 * modes and options; the list's admin password is Mailman's SHA-1 until
 * its first good check; a hostile config.pck makes no list and runs
 * nothing; a dry run writes nothing.
 */
#include "testutil.h"
#include "base/base.h"
#include "import/import.h"

static char *
mailman_dir(const char *extra)
{
	char *dir = g_build_filename(g_get_tmp_dir(), "mm", NULL);
	char *script = g_build_filename(g_getenv("HERALD_TOP") != NULL
					? g_getenv("HERALD_TOP") : ".",
					"tests/tools/mailman2-vardir.py", NULL);
	char *cmd = g_strdup_printf("/usr/bin/python3 %s %s --list team "
				    "--host lists.test --members 12 --passwords 2 "
				    "--messages 5 %s", script, dir, extra);
	int status = 0;
	GError *error = NULL;

	g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	g_free(cmd);
	g_free(script);
	return dir;
}

static void
test_members_keep_passwords_modes_and_options(void)
{
	struct list_fixture f;
	struct site *site = site_fixture_init(&f);
	char *mm = mailman_dir("");
	struct import_options o = { 0 };
	struct import_totals t = { 0 };
	GString *report = g_string_new(NULL);
	GError *error = NULL;
	struct roster *r = NULL;
	struct list *l;
	const struct member *m;

	g_assert_cmpint(import_mailman2(site, mm, &o, report, &t, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(t.lists, ==, 1);
	g_assert_cmpuint(t.members, ==, 12);
	g_assert_cmpuint(t.archived, ==, 5);
	l = list_open(site, "team@lists.test", &error);
	g_assert_no_error(error);
	g_assert_cmpint(roster_load(l, &r, &error), ==, 0);
	g_assert_cmpuint(roster_count(r), ==, 12);
	m = roster_find(r, "m00000@example.org");
	g_assert_nonnull(m);
	g_assert_true(member_password_ok(m, "pw00000"));
	g_assert_false(member_password_ok(m, "pw00001"));
	m = roster_find(r, "m00001@example.org");
	g_assert_true(member_password_ok(m, "pw00001"));
	g_assert_cmpint(m->mode, ==, MODE_MIME_DIGEST);	/* i % 3 == 1 */
	g_assert_cmpuint(m->options, ==, OPT_NOTMETOO);	/* bit 2 */
	m = roster_find(r, "m00002@example.org");
	g_assert_false(member_password_ok(m, "pw00002"));	/* none */
	g_assert_cmpint(m->mode, ==, MODE_PLAIN_DIGEST);	/* i % 3 == 2 */
	g_assert_cmpuint(m->options, ==, OPT_ACK);	/* bit 4 */
	m = roster_find(r, "m00003@example.org");	/* bits 2|4, regular */
	g_assert_cmpint(m->mode, ==, MODE_REGULAR);
	g_assert_cmpuint(m->options, ==, OPT_NOTMETOO | OPT_ACK);
	g_assert_cmpint(m->status, ==, STATUS_BY_USER);	/* (3 / 3) % 4 == 1 */
	m = roster_find(r, "m00005@example.org");	/* bits 2|8, i % 3 == 2 */
	g_assert_cmpint(m->mode, ==, MODE_PLAIN_DIGEST);
	g_assert_cmpuint(m->options, ==, OPT_NOTMETOO);
	m = roster_find(r, "m00011@example.org");	/* (11 / 3) % 4 == 3 */
	g_assert_cmpint(m->status, ==, STATUS_BY_BOUNCE);
	g_assert_cmpfloat(m->bounce.score, ==, 5.0);
	g_assert_cmpint(m->bounce.notices_left, ==, 2);
	/* The list's passwords: SHA-1 until the first good check. */
	g_assert_false(list_check_password(l, "mod_password", "adminpw"));
	g_assert_true(list_check_password(l, "password", "adminpw"));
	g_assert_true(list_check_password(l, "mod_password", "modpw"));
	char *v = list_get(l, "mod_password", NULL);
	g_assert_true(g_str_has_prefix(v, "$argon2id$"));
	g_free(v);
	roster_free(&r);
	list_free(&l);
	g_string_free(report, TRUE);
	g_free(mm);
	list_fixture_clear(&f);
}

static void
test_hostile_config_makes_no_list_and_runs_nothing(void)
{
	struct list_fixture f;
	struct site *site = site_fixture_init(&f);
	char *mm = mailman_dir("");
	char *flag = g_build_filename(g_get_tmp_dir(), "ran", NULL);
	char *cfg = g_build_filename(mm, "lists", "team", "config.pck", NULL);
	char *evil = g_strdup_printf("cos\nsystem\n(S'touch %s'\ntR.", flag);
	struct import_options o = { 0 };
	GString *report = g_string_new(NULL);
	GError *error = NULL;
	GPtrArray *lists;

	g_assert_true(g_file_set_contents(cfg, evil, -1, NULL));
	g_assert_cmpint(import_mailman2(site, mm, &o, report, NULL, &error), ==, -1);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "class os.system refused"));
	g_assert_nonnull(strstr(report->str, "team NOT IMPORTED"));
	g_clear_error(&error);
	lists = list_all(site, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(lists->len, ==, 0);
	g_ptr_array_free(lists, TRUE);
	g_assert_false(g_file_test(flag, G_FILE_TEST_EXISTS));
	g_string_free(report, TRUE);
	g_free(evil);
	g_free(cfg);
	g_free(flag);
	g_free(mm);
	list_fixture_clear(&f);
}

static void
test_dry_run_writes_nothing(void)
{
	struct list_fixture f;
	struct site *site = site_fixture_init(&f);
	char *mm = mailman_dir("--held");
	char *imp = g_build_filename(f.var, "import", NULL);
	struct import_options o = { .dry_run = TRUE };
	struct import_totals t = { 0 };
	GString *report = g_string_new(NULL);
	GError *error = NULL;
	GPtrArray *lists;

	g_assert_cmpint(import_mailman2(site, mm, &o, report, &t, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(t.members, ==, 12);
	g_assert_cmpuint(t.held, ==, 2);
	g_assert_cmpuint(t.lists, ==, 0);
	lists = list_all(site, &error);
	g_assert_cmpuint(lists->len, ==, 0);
	g_ptr_array_free(lists, TRUE);
	g_assert_false(g_file_test(imp, G_FILE_TEST_EXISTS));
	g_string_free(report, TRUE);
	g_free(imp);
	g_free(mm);
	list_fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/import/mailman2/members-passwords-modes-options",
	  test_members_keep_passwords_modes_and_options },
	{ "/import/mailman2/hostile-config-no-list",
	  test_hostile_config_makes_no_list_and_runs_nothing },
	{ "/import/mailman2/dry-run-writes-nothing", test_dry_run_writes_nothing },
};

UNIT_TEST_MAIN(tests)
