/*
 * test-list-settings.c - unit tests for list_settings.c: each type's check
 * and normal form (bool, int, enum, string, list, password; UTF-8 only;
 * imported password hashes as costly as herald's), the table's
 * consistency (categories, docs, defaults that pass their own check, unique
 * names), Mailman's default values, and how defaults are filled in.
 *
 * No files: these tests only call the table and its checks.
 */
#include "base/base.h"
#include "list/list_settings.h"
#include "base/log.h"

#include <sodium.h>
#include <string.h>

/* --- helpers ------------------------------------------------------------- */

static const struct list_setting *
setting(const char *name)
{
	const struct list_setting *s = list_setting_find(name);

	g_assert_nonnull(s);
	return s;
}

/* Asserts that value normalises to want for setting name. */
static void
assert_norm(const char *name, const char *value, const char *want)
{
	GError *error = NULL;
	char *v = list_setting_normalise(setting(name), value, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(v, ==, want);
	g_free(v);
}

/* Asserts that value is refused for setting name with HERALD_ERR_INVALID
 * and a message naming the setting and holding each of the given parts
 * (NULL-terminated). */
static void
assert_refused(const char *name, const char *value, ...)
{
	GError *error = NULL;
	char *v = list_setting_normalise(setting(name), value, &error);
	const char *part;
	va_list ap;

	g_assert_null(v);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	if (error == NULL)
		return;
	g_assert_nonnull(strstr(error->message, name));
	va_start(ap, value);
	while ((part = va_arg(ap, const char *)) != NULL) {
		if (strstr(error->message, part) == NULL)
			g_test_message("message '%s' lacks '%s'", error->message, part);
		g_assert_nonnull(strstr(error->message, part));
	}
	va_end(ap);
	g_error_free(error);
	g_free(v);
}

/* --- bool ---------------------------------------------------------------- */

static void
test_bool_accepts_every_spelling_in_any_case_as_yes_or_no(void)
{
	static const char *const yes[] = { "yes", "YES", "Yes", "true", "TRUE",
					   "True", "on", "ON", "On", "1" };
	static const char *const no[] = { "no", "NO", "No", "false", "FALSE",
					  "False", "off", "OFF", "Off", "0" };

	for (gsize i = 0; i < G_N_ELEMENTS(yes); i++)
		assert_norm("archive", yes[i], "yes");
	for (gsize i = 0; i < G_N_ELEMENTS(no); i++)
		assert_norm("archive", no[i], "no");
}

static void
test_bool_refuses_others_naming_setting_and_yes_or_no(void)
{
	static const char *const bad[] = { "", "y", "n", "2", "-1", "yess",
					   " yes", "yes ", "maybe", "enabled" };

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_refused("archive", bad[i], "yes or no", NULL);
}

/* --- int ----------------------------------------------------------------- */

static void
test_int_accepts_min_and_max_refuses_outside_naming_range(void)
{
	/* bounce_score_threshold: 1..1000; max_message_size: 0..1048576 */
	assert_norm("bounce_score_threshold", "1", "1");
	assert_norm("bounce_score_threshold", "1000", "1000");
	assert_refused("bounce_score_threshold", "0", "1..1000", NULL);
	assert_refused("bounce_score_threshold", "1001", "1..1000", NULL);
	assert_norm("max_message_size", "0", "0");
	assert_norm("max_message_size", "1048576", "1048576");
	assert_refused("max_message_size", "-1", "0..1048576", NULL);
	assert_refused("max_message_size", "1048577", "0..1048576", NULL);
	/* The range comes from the table, whatever the setting. */
	for (const struct list_setting *s = list_settings(); s->name != NULL; s++) {
		char *lo, *hi, *below, *above, *range;

		if (s->type != LS_INT)
			continue;
		g_assert_cmpint(s->min, <=, s->max);
		lo = g_strdup_printf("%lld", (long long)s->min);
		hi = g_strdup_printf("%lld", (long long)s->max);
		below = g_strdup_printf("%lld", (long long)s->min - 1);
		above = g_strdup_printf("%lld", (long long)s->max + 1);
		range = g_strdup_printf("%s..%s", lo, hi);
		assert_norm(s->name, lo, lo);
		assert_norm(s->name, hi, hi);
		assert_refused(s->name, below, range, NULL);
		assert_refused(s->name, above, range, NULL);
		g_free(lo);
		g_free(hi);
		g_free(below);
		g_free(above);
		g_free(range);
	}
}

static void
test_int_refuses_non_integers(void)
{
	static const char *const bad[] = { "", "abc", "1.5", "10k", "0x10",
					   "5 ", "1e3", "--1",
					   "99999999999999999999" };

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_refused("max_message_size", bad[i], "integer", NULL);
}

/* --- enum ---------------------------------------------------------------- */

static void
test_enum_by_number_or_any_case_name_is_the_number(void)
{
	/* reply_goes_to_list: 0=poster|1=this_list|2=explicit */
	assert_norm("reply_goes_to_list", "0", "0");
	assert_norm("reply_goes_to_list", "1", "1");
	assert_norm("reply_goes_to_list", "2", "2");
	assert_norm("reply_goes_to_list", "poster", "0");
	assert_norm("reply_goes_to_list", "this_list", "1");
	assert_norm("reply_goes_to_list", "THIS_LIST", "1");
	assert_norm("reply_goes_to_list", "Explicit", "2");
	/* subscribe_policy: 0=open|1=confirm|2=approve|3=confirm_and_approve */
	assert_norm("subscribe_policy", "confirm_and_approve", "3");
	assert_norm("subscribe_policy", "Confirm", "1");
	/* Every choice of every enum, by number and by name. */
	for (const struct list_setting *s = list_settings(); s->name != NULL; s++) {
		char **choices;

		if (s->type != LS_ENUM)
			continue;
		g_assert_nonnull(s->choices);
		choices = g_strsplit(s->choices, "|", -1);
		for (char **c = choices; *c != NULL; c++) {
			char *eq = strchr(*c, '=');
			char *num, *upper;

			g_assert_nonnull(eq);
			num = g_strndup(*c, (gsize)(eq - *c));
			upper = g_ascii_strup(eq + 1, -1);
			assert_norm(s->name, num, num);
			assert_norm(s->name, eq + 1, num);
			assert_norm(s->name, upper, num);
			g_free(num);
			g_free(upper);
		}
		g_strfreev(choices);
	}
}

static void
test_enum_unknown_refused_listing_choices(void)
{
	static const char *const bad[] = { "3", "-1", "", "01", "list",
					   "this", "this_list_", "1=this_list" };

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_refused("reply_goes_to_list", bad[i],
			       "0=poster|1=this_list|2=explicit", NULL);
}

/* --- string, text, list -------------------------------------------------- */

static void
test_string_refuses_cr_and_lf(void)
{
	assert_norm("description", "A list about things", "A list about things");
	assert_norm("description", "", "");
	assert_norm("description", "  tabs\tand spaces kept  ",
		    "  tabs\tand spaces kept  ");
	assert_refused("description", "two\nlines", NULL);
	assert_refused("description", "two\rlines", NULL);
	assert_refused("description", "crlf\r\n", NULL);
	assert_refused("description", "\n", NULL);
}

static void
test_text_keeps_lines_as_written(void)
{
	assert_norm("msg_footer", "  one\n\n two \r\n", "  one\n\n two \r\n");
}

static void
test_list_trims_lines_and_drops_empty_ones(void)
{
	assert_norm("ban_list", "  a@example.org  \n\n\t^.*@spam\\.example$ \n \n"
		    "b@example.org\r\n",
		    "a@example.org\n^.*@spam\\.example$\nb@example.org");
	assert_norm("ban_list", "", "");
	assert_norm("ban_list", "\n \n\t\n", "");
	assert_norm("ban_list", "one", "one");
}

/* --- password ------------------------------------------------------------ */

static void
test_password_is_argon2id_hash_that_verifies_and_hides_clear_text(void)
{
	const char *clear = "correct horse battery staple";
	GError *error = NULL;
	char *h1, *h2;

	g_assert_cmpint(sodium_init(), >=, 0);
	h1 = list_setting_normalise(setting("password"), clear, &error);
	g_assert_no_error(error);
	g_assert_nonnull(h1);
	g_assert_true(g_str_has_prefix(h1, "$argon2id$"));
	g_assert_null(strstr(h1, clear));
	g_assert_null(strstr(h1, "horse"));
	g_assert_cmpint(crypto_pwhash_str_verify(h1, clear, strlen(clear)), ==, 0);
	g_assert_cmpint(crypto_pwhash_str_verify(h1, "wrong", 5), !=, 0);
	/* Salted: the same password hashes differently each time. */
	h2 = list_setting_normalise(setting("mod_password"), clear, &error);
	g_assert_no_error(error);
	g_assert_nonnull(h2);
	g_assert_cmpstr(h1, !=, h2);
	g_assert_cmpint(crypto_pwhash_str_verify(h2, clear, strlen(clear)), ==, 0);
	g_free(h1);
	g_free(h2);
	/* Empty means no password. */
	assert_norm("post_password", "", "");
}


/* --- UTF-8 --------------------------------------------------------------- */

/* The config file is a key file, which holds UTF-8 only: a value that is
 * not would be stored and read back as nothing.  Refused, whatever the
 * type, naming the setting and the byte. */
static void
test_value_that_is_not_utf8_is_refused_for_every_type(void)
{
	static const char *const names[] = {
		"description", "msg_footer", "ban_list", "archive",
		"max_message_size", "reply_goes_to_list", "password",
	};
	static const char *const values[] = {
		"D\xff", "caf\xe9", "\xc3(", "ok \xed\xa0\x80 surrogate",
		"\xf8\x88\x80\x80\x80",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
		for (gsize j = 0; j < G_N_ELEMENTS(values); j++)
			assert_refused(names[i], values[j], "not UTF-8", NULL);
	assert_refused("description", "D\xff", "byte 1 is 0xff", NULL);
	/* UTF-8 beyond ASCII is fine. */
	assert_norm("description", "Caf\xc3\xa9 \xe2\x82\xac", "Caf\xc3\xa9 \xe2\x82\xac");
}

/* --- imported password hashes -------------------------------------------- */

/* An Argon2id hash of "pw" with this cost. */
static char *
hash_with(unsigned long long ops, size_t mem)
{
	char *h = g_malloc(crypto_pwhash_STRBYTES);

	g_assert_cmpint(sodium_init(), >=, 0);
	g_assert_cmpint(crypto_pwhash_str_alg(h, "pw", 2, ops, mem,
					      crypto_pwhash_ALG_ARGON2ID13), ==, 0);
	return h;
}

static void
assert_hash_refused(const char *hash, const char *part)
{
	GError *error = NULL;
	char *v = list_setting_password_hash(setting("password"), hash, &error);

	g_test_message("hash %s", hash);
	g_assert_null(v);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	if (error != NULL) {
		g_test_message("refused: %s", error->message);
		g_assert_nonnull(strstr(error->message, "password"));
		g_assert_nonnull(strstr(error->message, part));
	}
	g_clear_error(&error);
	g_free(v);
}

static void
assert_hash_kept(const char *hash)
{
	GError *error = NULL;
	char *v = list_setting_password_hash(setting("password"), hash, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(v, ==, hash);
	g_free(v);
}

/* A hash weaker than herald's (m=8 KiB, t=1 from another tool) could be
 * cracked quickly if the file leaked, and cannot be made stronger without
 * the password: refused.  herald's own and stronger ones are kept. */
static void
test_password_hash_below_herald_cost_is_refused(void)
{
	GError *error = NULL;
	char *weak = hash_with(1, 8192), *few_passes, *little_memory, *strong;
	char *owasp19, *old_default;
	char *own = list_setting_normalise(setting("password"), "pw", &error);

	g_assert_no_error(error);
	/* herald's own: OWASP's m=7 MiB, t=5, p=1. */
	g_assert_nonnull(strstr(own, "$m=7168,t=5,p=1$"));
	g_assert_false(list_password_needs_rehash(own));
	g_assert_nonnull(strstr(weak, "m=8,t=1"));
	assert_hash_refused(weak, "costs less than herald's");
	/* Memory enough, but m * t below 7 MiB * 5. */
	few_passes = hash_with(1, 19 * 1024 * 1024);
	assert_hash_refused(few_passes, "costs less");
	/* Passes enough, but below 7 MiB. */
	little_memory = hash_with(10, 6 * 1024 * 1024);
	assert_hash_refused(little_memory, "costs less");
	assert_hash_kept(own);
	/* OWASP's other minimum (m=19 MiB, t=2) and the former default
	 * (libsodium's interactive: 64 MiB, t=2) cost as much or more: kept,
	 * and made again at herald's parameters at their next login. */
	owasp19 = hash_with(2, 19 * 1024 * 1024);
	assert_hash_kept(owasp19);
	g_assert_true(list_password_needs_rehash(owasp19));
	old_default = hash_with(crypto_pwhash_OPSLIMIT_INTERACTIVE,
				crypto_pwhash_MEMLIMIT_INTERACTIVE);
	assert_hash_kept(old_default);
	g_assert_true(list_password_needs_rehash(old_default));
	g_assert_true(list_password_verify(old_default, "pw"));
	g_assert_false(list_password_verify(old_default, "wrong"));
	strong = hash_with(crypto_pwhash_OPSLIMIT_INTERACTIVE + 1,
			   crypto_pwhash_MEMLIMIT_INTERACTIVE * 2);
	assert_hash_kept(strong);
	assert_hash_kept("");
	/* Not Argon2id hashes at all. */
	assert_hash_refused("$argon2id$nonsense", "not an Argon2id hash");
	assert_hash_refused("$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$"
			    "wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
			    "not an Argon2id hash");
	assert_hash_refused("$2y$10$abcdefghijklmnopqrstuv", "not an Argon2id hash");
	g_free(weak);
	g_free(few_passes);
	g_free(little_memory);
	g_free(strong);
	g_free(owasp19);
	g_free(old_default);
	g_free(own);
}

/* --- the table ----------------------------------------------------------- */

static void
test_table_every_setting_has_category_doc_and_valid_default(void)
{
	const char *const *cats = list_setting_categories();
	guint n = 0;

	g_assert_nonnull(cats);
	g_assert_nonnull(cats[0]);
	for (const struct list_setting *s = list_settings(); s->name != NULL; s++) {
		GError *error = NULL;
		char *dflt, *norm;
		gboolean known = FALSE;

		n++;
		for (const char *const *c = cats; *c != NULL; c++)
			known = known || g_strcmp0(*c, s->category) == 0;
		if (!known)
			g_test_message("%s: category '%s' unknown", s->name,
				       s->category);
		g_assert_true(known);
		g_assert_nonnull(s->doc);
		g_assert_cmpuint(strlen(s->doc), >, 0);
		g_assert_nonnull(s->dflt);
		g_assert_true(list_setting_find(s->name) == s);
		g_assert_cmpstr(list_setting_type_name(s->type), !=, "?");
		if (s->type == LS_PASSWORD) {
			/* A default password would be a known password. */
			g_assert_cmpstr(s->dflt, ==, "");
			continue;
		}
		dflt = list_setting_default(s, "demo", "example.org");
		norm = list_setting_normalise(s, dflt, &error);
		if (error != NULL)
			g_test_message("%s: default '%s': %s", s->name, dflt,
				       error->message);
		g_assert_no_error(error);
		g_clear_error(&error);
		/* And it is in its stored form already. */
		g_assert_cmpstr(norm, ==, dflt);
		g_free(dflt);
		g_free(norm);
	}
	g_assert_cmpuint(n, >, 0);
}

static void
test_table_categories_in_order_and_each_used(void)
{
	const char *const *cats = list_setting_categories();
	const char *last = NULL;

	/* The table is in category order: a category, once left, does not
	 * come back. */
	GHashTable *left = g_hash_table_new(g_str_hash, g_str_equal);
	for (const struct list_setting *s = list_settings(); s->name != NULL; s++) {
		if (last != NULL && strcmp(last, s->category) != 0) {
			g_hash_table_add(left, (gpointer)last);
			g_assert_false(g_hash_table_contains(left, s->category));
		}
		last = s->category;
	}
	g_hash_table_destroy(left);
	for (const char *const *c = cats; *c != NULL; c++) {
		gboolean used = FALSE;

		for (const char *const *d = cats; d < c; d++)
			g_assert_cmpstr(*d, !=, *c);
		for (const struct list_setting *s = list_settings(); s->name != NULL; s++)
			used = used || strcmp(s->category, *c) == 0;
		g_assert_true(used);
	}
}

static void
test_table_no_two_settings_share_a_name(void)
{
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (const struct list_setting *s = list_settings(); s->name != NULL; s++) {
		if (g_hash_table_contains(seen, s->name))
			g_test_message("duplicate setting %s", s->name);
		g_assert_false(g_hash_table_contains(seen, s->name));
		g_hash_table_add(seen, (gpointer)s->name);
	}
	g_hash_table_destroy(seen);
	g_assert_null(list_setting_find("no_such_setting"));
	g_assert_null(list_setting_find(""));
}

static void
assert_default(const char *name, const char *want)
{
	char *v = list_setting_default(setting(name), "demo", "example.org");

	g_assert_cmpstr(v, ==, want);
	g_free(v);
}

static void
test_defaults_carry_mailman_values(void)
{
	assert_default("max_message_size", "40");
	assert_default("max_num_recipients", "10");
	assert_default("subscribe_policy", "1");
	assert_default("generic_nonmember_action", "1");
	assert_default("new_member_options", "256");
	assert_default("bounce_score_threshold", "5");
	assert_default("digest_size_threshhold", "30");
}

static void
test_default_fills_real_name_but_text_keeps_templates(void)
{
	char *v;

	assert_default("subject_prefix", "[Demo] ");
	assert_default("real_name", "Demo");
	assert_default("host_name", "example.org");
	v = list_setting_default(setting("subject_prefix"), "dev-team", "lists.example.org");
	g_assert_cmpstr(v, ==, "[Dev-team] ");
	g_free(v);
	g_assert_cmpint(setting("msg_footer")->type, ==, LS_TEXT);
	v = list_setting_default(setting("msg_footer"), "demo", "example.org");
	g_assert_nonnull(strstr(v, "%(real_name)s"));
	g_assert_nonnull(strstr(v, "%(list)s"));
	g_assert_null(strstr(v, "Demo"));
	g_assert_cmpstr(v, ==, setting("msg_footer")->dflt);
	g_free(v);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* A failed check fails its test, and the other tests still run. */
	g_test_set_nonfatal_assertions();
	log_open(NULL, FALSE);

	g_test_add_func("/list-settings/bool/accepts-spellings-any-case-as-yes-no",
			test_bool_accepts_every_spelling_in_any_case_as_yes_or_no);
	g_test_add_func("/list-settings/bool/refuses-others-naming-setting-yes-or-no",
			test_bool_refuses_others_naming_setting_and_yes_or_no);
	g_test_add_func("/list-settings/int/min-max-accepted-outside-refused-naming-range",
			test_int_accepts_min_and_max_refuses_outside_naming_range);
	g_test_add_func("/list-settings/int/non-integers-refused",
			test_int_refuses_non_integers);
	g_test_add_func("/list-settings/enum/number-or-any-case-name-is-number",
			test_enum_by_number_or_any_case_name_is_the_number);
	g_test_add_func("/list-settings/enum/unknown-refused-listing-choices",
			test_enum_unknown_refused_listing_choices);
	g_test_add_func("/list-settings/string/refuses-cr-and-lf",
			test_string_refuses_cr_and_lf);
	g_test_add_func("/list-settings/text/kept-as-written",
			test_text_keeps_lines_as_written);
	g_test_add_func("/list-settings/list/trims-lines-drops-empty",
			test_list_trims_lines_and_drops_empty_ones);
	g_test_add_func("/list-settings/password/argon2id-hash-verifies-hides-clear",
			test_password_is_argon2id_hash_that_verifies_and_hides_clear_text);
	g_test_add_func("/list-settings/utf8/not-utf8-refused-for-every-type",
			test_value_that_is_not_utf8_is_refused_for_every_type);
	g_test_add_func("/list-settings/password/hash-below-herald-cost-refused",
			test_password_hash_below_herald_cost_is_refused);
	g_test_add_func("/list-settings/table/category-doc-valid-default",
			test_table_every_setting_has_category_doc_and_valid_default);
	g_test_add_func("/list-settings/table/categories-ordered-and-used",
			test_table_categories_in_order_and_each_used);
	g_test_add_func("/list-settings/table/names-unique",
			test_table_no_two_settings_share_a_name);
	g_test_add_func("/list-settings/default/mailman-values",
			test_defaults_carry_mailman_values);
	g_test_add_func("/list-settings/default/fills-real-name-text-keeps-templates",
			test_default_fills_real_name_but_text_keeps_templates);
	return g_test_run();
}
