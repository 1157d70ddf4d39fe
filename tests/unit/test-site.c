/*
 * test-site.c - unit tests for site.c: the var dir layout and the site
 * configuration (etc/herald.conf): defaults, checked writes that survive a
 * reopen, the setting table and its wildcard keys.
 *
 * Each test works in a fresh temporary var dir and removes it afterwards.
 * HERALD_HOST is unset at start, so site.host is what names this host.
 */
#include "base/base.h"
#include "store/lock.h"
#include "base/log.h"
#include "store/site.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* --- helpers ------------------------------------------------------------- */


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
assert_get(const struct site *s, const char *key, const char *want)
{
	GError *error = NULL;
	char *v = site_get(s, key, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(v, ==, want);
	g_free(v);
}

static void
set_ok(struct site *s, const char *key, const char *value)
{
	GError *error = NULL;

	g_assert_cmpint(site_set(s, key, value, &error), ==, 0);
	g_assert_no_error(error);
}

/* site_set(key, value) fails with HERALD_ERR_INVALID naming the setting,
 * and leaves the stored value alone. */
static void
assert_set_rejected(struct site *s, const char *key, const char *value,
		    const char *named)
{
	GError *error = NULL;
	char *before = site_get(s, key, NULL);

	g_assert_cmpint(site_set(s, key, value, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	if (error != NULL)
		g_assert_nonnull(strstr(error->message, named));
	g_clear_error(&error);
	if (before != NULL)
		assert_get(s, key, before);
	g_free(before);
}

/* --- tests ------------------------------------------------------------- */

static void
test_init_creates_config_and_subdirs(void)
{
	char *var = tmp_dir_new();
	GError *error = NULL;
	char *conf = g_build_filename(var, "etc", "herald.conf", NULL);

	g_assert_cmpint(site_init(var, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_true(g_file_test(conf, G_FILE_TEST_IS_REGULAR));
	for (int i = 0; site_var_subdirs[i] != NULL; i++) {
		char *p = g_build_filename(var, site_var_subdirs[i], NULL);
		g_assert_true(g_file_test(p, G_FILE_TEST_IS_DIR));
		g_free(p);
	}
	/* The ones the rest of herald relies on are among them. */
	const char *needed[] = { "etc", "queue", "locks", "leases", "logs" };
	for (guint i = 0; i < G_N_ELEMENTS(needed); i++)
		g_assert_true(g_strv_contains(site_var_subdirs, needed[i]));

	/* The default file parses and documents the settings. */
	char *text = NULL;
	g_assert_true(g_file_get_contents(conf, &text, NULL, NULL));
	g_assert_nonnull(strstr(text, "[mta]"));
	g_assert_nonnull(strstr(text, "#smtp_port = 25"));
	g_free(text);
	struct site *s = site_open(var, &error);
	g_assert_no_error(error);
	g_assert_nonnull(s);
	site_free(&s);
	g_assert_null(s);

	g_free(conf);
	tmp_dir_remove(&var);
}

static void
test_init_keeps_existing_config(void)
{
	char *var = NULL;
	struct site *s = new_site(&var);
	GError *error = NULL;

	set_ok(s, "mta.smtp_port", "2525");
	site_free(&s);
	g_assert_cmpint(site_init(var, &error), ==, 0);
	g_assert_no_error(error);
	s = site_open(var, &error);
	g_assert_no_error(error);
	assert_get(s, "mta.smtp_port", "2525");
	site_free(&s);
	tmp_dir_remove(&var);
}

static void
test_open_without_config_fails_notfound_hinting_init(void)
{
	char *var = tmp_dir_new();
	GError *error = NULL;
	struct site *s = site_open(var, &error);

	g_assert_null(s);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND);
	if (error != NULL) {
		g_assert_nonnull(strstr(error->message, "`herald "));
		g_assert_nonnull(strstr(error->message, " init`"));
		g_assert_nonnull(strstr(error->message, var));
	}
	g_clear_error(&error);
	tmp_dir_remove(&var);
}

static void
test_open_of_unparsable_config_fails_with_format_error(void)
{
	char *var = NULL;
	struct site *s = new_site(&var);
	char *conf = g_build_filename(var, "etc", "herald.conf", NULL);
	GError *error = NULL;

	site_free(&s);
	g_assert_true(g_file_set_contents(conf, "this is not a key file\n", -1,
					  NULL));
	s = site_open(var, &error);
	g_assert_null(s);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
	if (error != NULL)
		g_assert_nonnull(strstr(error->message, conf));
	g_clear_error(&error);
	g_free(conf);
	tmp_dir_remove(&var);
}

static void
test_get_returns_documented_defaults(void)
{
	char *var = NULL;
	struct site *s = new_site(&var);

	assert_get(s, "mta.smtp_port", "25");
	assert_get(s, "master.lease_lifetime", "30");
	assert_get(s, "mta.smtp_host", "127.0.0.1");
	assert_get(s, "log.target", "file");
	assert_get(s, "runner.in.slices", "1");
	assert_get(s, "runner.in.handler", "incoming");
	assert_get(s, "runner.virgin.handler", "virgin");
	assert_get(s, "runner.out.slices", "1");
	assert_get(s, "runner.out.handler", "outgoing");
	assert_get(s, "runner.retry.handler", "retry");
	assert_get(s, "runner.other.handler", "forward");
	g_assert_cmpint(site_get_int(s, "mta.smtp_port"), ==, 25);
	g_assert_cmpint(site_get_int(s, "master.lease_lifetime"), ==, 30);
	g_assert_cmpstr(site_var_dir(s), ==, var);
	char *p = site_path(s, "queue", "in", NULL);
	char *want = g_build_filename(var, "queue", "in", NULL);
	g_assert_cmpstr(p, ==, want);
	g_free(p);
	g_free(want);
	site_free(&s);
	tmp_dir_remove(&var);
}

static void
test_set_then_get_survives_reopen(void)
{
	char *var = NULL;
	struct site *s = new_site(&var);
	GError *error = NULL;

	set_ok(s, "mta.smtp_port", "2525");
	set_ok(s, "mta.smtp_host", "mx.example.org");
	set_ok(s, "log.target", "syslog");
	set_ok(s, "runner.in.slices", "4");
	assert_get(s, "mta.smtp_port", "2525");
	g_assert_cmpint(site_get_int(s, "runner.in.slices"), ==, 4);
	/* Other settings keep their defaults. */
	assert_get(s, "master.lease_lifetime", "30");
	site_free(&s);

	s = site_open(var, &error);
	g_assert_no_error(error);
	assert_get(s, "mta.smtp_port", "2525");
	assert_get(s, "mta.smtp_host", "mx.example.org");
	assert_get(s, "log.target", "syslog");
	assert_get(s, "runner.in.slices", "4");
	assert_get(s, "runner.out.slices", "1");
	/* Setting it again replaces the value. */
	set_ok(s, "mta.smtp_port", "587");
	site_free(&s);
	s = site_open(var, &error);
	assert_get(s, "mta.smtp_port", "587");
	site_free(&s);
	tmp_dir_remove(&var);
}

static void
test_set_keeps_concurrent_writers_change(void)
{
	char *var = NULL;
	struct site *a = new_site(&var);
	GError *error = NULL;
	struct site *b = site_open(var, &error);

	g_assert_no_error(error);
	/* Two admins with the file loaded: each write rereads it first. */
	set_ok(a, "mta.smtp_port", "2525");
	set_ok(b, "mta.smtp_host", "mx.example.org");
	site_free(&a);
	site_free(&b);
	a = site_open(var, &error);
	assert_get(a, "mta.smtp_port", "2525");
	assert_get(a, "mta.smtp_host", "mx.example.org");
	site_free(&a);
	tmp_dir_remove(&var);
}

static void
test_unknown_key_errors_naming_it(void)
{
	char *var = NULL;
	struct site *s = new_site(&var);
	GError *error = NULL;
	const char *unknown[] = { "mta.no_such_thing", "nosection", "runner.in",
				  "runner.in.bogus", "" };

	for (guint i = 0; i < G_N_ELEMENTS(unknown); i++) {
		char *v = site_get(s, unknown[i], &error);
		char *quoted = g_strdup_printf("'%s'", unknown[i]);

		g_assert_null(v);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
		if (error != NULL)
			g_assert_nonnull(strstr(error->message, quoted));
		g_clear_error(&error);

		g_assert_cmpint(site_set(s, unknown[i], "1", &error), ==, -1);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
		if (error != NULL)
			g_assert_nonnull(strstr(error->message, quoted));
		g_clear_error(&error);
		g_free(quoted);
	}
	site_free(&s);
	tmp_dir_remove(&var);
}

static void
test_set_rejects_bad_values_naming_setting(void)
{
	char *var = NULL;
	struct site *s = new_site(&var);

	/* int out of range */
	assert_set_rejected(s, "mta.smtp_port", "70000", "mta.smtp_port");
	assert_set_rejected(s, "mta.smtp_port", "0", "mta.smtp_port");
	assert_set_rejected(s, "mta.smtp_port", "-25", "mta.smtp_port");
	assert_set_rejected(s, "mta.smtp_port", "99999999999999999999",
			    "mta.smtp_port");
	/* not an integer */
	assert_set_rejected(s, "master.lease_lifetime", "abc",
			    "master.lease_lifetime");
	assert_set_rejected(s, "master.lease_lifetime", "30s",
			    "master.lease_lifetime");
	assert_set_rejected(s, "master.lease_lifetime", "",
			    "master.lease_lifetime");
	/* bad enum value */
	assert_set_rejected(s, "log.target", "stderr", "log.target");
	assert_set_rejected(s, "log.target", "File", "log.target");
	/* string with a line break */
	assert_set_rejected(s, "mta.smtp_host", "a\nb", "mta.smtp_host");
	/* wildcard settings name their pattern */
	assert_set_rejected(s, "runner.in.slices", "0", "runner.*.slices");
	assert_set_rejected(s, "runner.in.handler", "drop", "runner.*.handler");

	/* The limits themselves are fine. */
	set_ok(s, "mta.smtp_port", "1");
	set_ok(s, "mta.smtp_port", "65535");
	site_free(&s);
	tmp_dir_remove(&var);
}

static void
test_hand_edited_bad_value_reads_as_default(void)
{
	char *var = tmp_dir_new();
	char *etc = g_build_filename(var, "etc", NULL);
	char *conf = g_build_filename(etc, "herald.conf", NULL);
	GError *error = NULL;
	struct site *s;

	g_assert_cmpint(g_mkdir_with_parents(etc, 0700), ==, 0);
	g_assert_true(g_file_set_contents(conf,
	    "[mta]\nsmtp_port = lots\nsmtp_host =  mx.example.org  \n"
	    "[log]\ntarget = nowhere\n", -1, NULL));
	s = site_open(var, &error);
	g_assert_no_error(error);
	assert_get(s, "mta.smtp_port", "25");
	assert_get(s, "log.target", "file");
	assert_get(s, "mta.smtp_host", "mx.example.org");
	site_free(&s);
	g_free(etc);
	g_free(conf);
	tmp_dir_remove(&var);
}

static void
test_wildcard_matches_one_lowercase_name_part(void)
{
	const struct setting_def *d;

	d = site_setting_find("runner.in.slices");
	g_assert_nonnull(d);
	if (d != NULL)
		g_assert_cmpstr(d->key, ==, "runner.*.slices");
	g_assert_nonnull(site_setting_find("runner.out-2.slices"));
	g_assert_null(site_setting_find("runner.In.slices"));
	g_assert_null(site_setting_find("runner..slices"));
	g_assert_null(site_setting_find("runner.a.b.slices"));
	g_assert_null(site_setting_find("runner.in_x.slices"));
	g_assert_null(site_setting_find("runner.*.slices"));
	g_assert_null(site_setting_find("runner.slices"));
	g_assert_null(site_setting_find("runnerX.in.slices"));
	d = site_setting_find("mta.smtp_port");
	g_assert_nonnull(d);
	if (d != NULL)
		g_assert_cmpstr(d->key, ==, "mta.smtp_port");
	g_assert_null(site_setting_find("mta.smtp_port.x"));
	g_assert_null(site_setting_find("MTA.smtp_port"));
}

static void
test_runner_queues_lists_runner_sections_sorted(void)
{
	char *var = NULL;
	struct site *s = new_site(&var);
	GError *error = NULL;
	GPtrArray *qs;

	/* The default file has the pipeline's and delivery's four and the
	 * command processor's. */
	qs = site_runner_queues(s);
	g_assert_cmpuint(qs->len, ==, 5);
	if (qs->len == 5) {
		g_assert_cmpstr(qs->pdata[0], ==, "commands");
		g_assert_cmpstr(qs->pdata[1], ==, "in");
		g_assert_cmpstr(qs->pdata[2], ==, "out");
		g_assert_cmpstr(qs->pdata[3], ==, "retry");
		g_assert_cmpstr(qs->pdata[4], ==, "virgin");
	}
	g_ptr_array_free(qs, TRUE);

	set_ok(s, "runner.zeta.slices", "2");
	set_ok(s, "runner.alpha.handler", "sink");
	set_ok(s, "runner.mid-1.next", "out");
	set_ok(s, "mta.smtp_port", "2525");
	qs = site_runner_queues(s);
	g_assert_cmpuint(qs->len, ==, 8);
	if (qs->len == 8) {
		g_assert_cmpstr(qs->pdata[0], ==, "alpha");
		g_assert_cmpstr(qs->pdata[1], ==, "commands");
		g_assert_cmpstr(qs->pdata[2], ==, "in");
		g_assert_cmpstr(qs->pdata[3], ==, "mid-1");
		g_assert_cmpstr(qs->pdata[4], ==, "out");
		g_assert_cmpstr(qs->pdata[5], ==, "retry");
		g_assert_cmpstr(qs->pdata[6], ==, "virgin");
		g_assert_cmpstr(qs->pdata[7], ==, "zeta");
	}
	g_ptr_array_free(qs, TRUE);
	site_free(&s);

	/* A hand-written section that is not a queue name is not a runner. */
	char *conf = g_build_filename(var, "etc", "herald.conf", NULL);
	char *text = NULL;
	g_assert_true(g_file_get_contents(conf, &text, NULL, NULL));
	char *more = g_strconcat(text, "\n[runner.Bad]\nslices = 2\n"
				 "[runner]\nx = 1\n[runner.a.b]\nslices = 1\n", NULL);
	g_assert_true(g_file_set_contents(conf, more, -1, NULL));
	s = site_open(var, &error);
	g_assert_no_error(error);
	qs = site_runner_queues(s);
	g_assert_cmpuint(qs->len, ==, 8);
	g_ptr_array_free(qs, TRUE);
	site_free(&s);
	g_free(text);
	g_free(more);
	g_free(conf);
	tmp_dir_remove(&var);
}

static void
test_every_setting_documented_with_valid_default(void)
{
	const struct setting_def *d = site_settings();
	guint n = 0;

	for (; d->key != NULL; d++, n++) {
		char *bad = site_setting_check(d, d->dflt);

		g_assert_nonnull(d->doc);
		g_assert_cmpuint(strlen(d->doc), >, 10);
		g_assert_nonnull(d->dflt);
		/* The default passes its own check. */
		g_assert_cmpstr(bad, ==, NULL);
		g_free(bad);
		if (d->type == SETTING_ENUM)
			g_assert_nonnull(d->choices);
		if (d->type == SETTING_INT)
			g_assert_cmpint(d->min, <=, d->max);

		/* A key of this pattern finds this definition. */
		char *key = g_strdup(d->key);
		for (char *p = key; *p != '\0'; p++)
			if (*p == '*')
				*p = 'q';
		g_assert_true(site_setting_find(key) == d);
		g_free(key);
	}
	g_assert_cmpuint(n, >, 5);
}

static void
test_site_host_setting_names_this_host(void)
{
	char *var = NULL;
	struct site *s = new_site(&var);
	GError *error = NULL;

	g_unsetenv("HERALD_HOST");
	set_ok(s, "site.host", "web.one");
	site_free(&s);
	s = site_open(var, &error);
	g_assert_no_error(error);
	/* Dots are separators in claim names: sanitized. */
	g_assert_cmpstr(herald_host(), ==, "web-one");
	site_free(&s);
	herald_set_host(NULL);
	tmp_dir_remove(&var);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* A failed check fails its test, and the other tests still run. */
	g_test_set_nonfatal_assertions();
	g_unsetenv("HERALD_HOST");
	log_open(NULL, FALSE);

	g_test_add_func("/site/init/creates-config-and-subdirs",
			test_init_creates_config_and_subdirs);
	g_test_add_func("/site/init/keeps-existing-config",
			test_init_keeps_existing_config);
	g_test_add_func("/site/open/no-config-notfound-hints-init",
			test_open_without_config_fails_notfound_hinting_init);
	g_test_add_func("/site/open/unparsable-config-format-error",
			test_open_of_unparsable_config_fails_with_format_error);
	g_test_add_func("/site/get/documented-defaults",
			test_get_returns_documented_defaults);
	g_test_add_func("/site/set/round-trip-survives-reopen",
			test_set_then_get_survives_reopen);
	g_test_add_func("/site/set/keeps-other-writers-change",
			test_set_keeps_concurrent_writers_change);
	g_test_add_func("/site/key/unknown-errors-naming-key",
			test_unknown_key_errors_naming_it);
	g_test_add_func("/site/set/bad-values-rejected-naming-setting",
			test_set_rejects_bad_values_naming_setting);
	g_test_add_func("/site/get/hand-edited-bad-value-is-default",
			test_hand_edited_bad_value_reads_as_default);
	g_test_add_func("/site/key/wildcard-one-lowercase-part",
			test_wildcard_matches_one_lowercase_name_part);
	g_test_add_func("/site/runner-queues/sections-sorted",
			test_runner_queues_lists_runner_sections_sorted);
	g_test_add_func("/site/settings/documented-valid-defaults",
			test_every_setting_documented_with_valid_default);
	g_test_add_func("/site/host/setting-names-this-host",
			test_site_host_setting_names_this_host);
	return g_test_run();
}
