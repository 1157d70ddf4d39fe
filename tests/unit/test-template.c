/*
 * test-template.c - unit tests for template.c: Mailman's %(name)s
 * expansion ("%%", unknown names kept, one pass), the list's variables,
 * the lookup order (list, then site, then built in) and the languages
 * (asked, then the list's preferred_language, then English), German
 * output as it leaves (charset, RFC 2047 subject), the errors (no such
 * template, a bad name, an unreadable file), and the built-in set itself
 * (every file compiled in, English and German alike, each with its
 * Subject line).
 *
 * Every test runs against a fresh var dir with a list demo@example.org,
 * in a child process of its own.
 */
#include "base/base.h"
#include "list/list.h"
#include "list/template.h"
#include "mail/message.h"
#include "store/queue.h"
#include "store/site.h"

#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

#define FQDN "demo@example.org"

/* --- helpers ------------------------------------------------------------- */

static GHashTable *
vars_of(const char *first, ...)
{
	GHashTable *vars = g_hash_table_new_full(g_str_hash, g_str_equal,
						 g_free, g_free);
	va_list ap;

	va_start(ap, first);
	for (const char *k = first; k != NULL; k = va_arg(ap, const char *))
		template_vars_set(vars, k, va_arg(ap, const char *));
	va_end(ap);
	return vars;
}

static void
assert_expands(const char *text, GHashTable *vars, const char *want)
{
	char *got = template_expand(text, vars);

	g_assert_cmpstr(got, ==, want);
	g_free(got);
}

/* Writes text to the var dir's path parts (directories made). */
static void
put_file(struct list_fixture *f, const char *text, const char *first, ...)
{
	GString *path = g_string_new(f->var);
	char *dir;
	va_list ap;

	va_start(ap, first);
	for (const char *p = first; p != NULL; p = va_arg(ap, const char *))
		g_string_append_printf(path, "/%s", p);
	va_end(ap);
	dir = g_path_get_dirname(path->str);
	g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
	g_assert_true(g_file_set_contents(path->str, text, -1, NULL));
	g_free(dir);
	g_string_free(path, TRUE);
}

/* Renders name in language and checks where it came from. */
static void
assert_renders(struct list_fixture *f, const char *name, const char *lang,
	       const char *want_subject, const char *want_lang)
{
	struct template_text t;
	GError *error = NULL;

	g_assert_cmpint(template_render(f->list, name, lang, NULL, &t, &error),
			==, 0);
	g_assert_no_error(error);
	g_assert_cmpstr(t.subject, ==, want_subject);
	g_assert_cmpstr(t.language, ==, want_lang);
	template_text_clear(&t);
}

/* Where template name is found for language. */
static void
assert_source(struct list_fixture *f, const char *name, const char *lang,
	      const char *want)
{
	const char *source = NULL;
	char *text = NULL;

	g_assert_cmpint(template_find(f->list, name, lang, &text, NULL,
				      &source, NULL), ==, 1);
	g_assert_cmpstr(source, ==, want);
	g_free(text);
}

/* The names of the .txt files of templates/<lang> in the source tree. */
static GPtrArray *
source_templates(const char *lang)
{
	const char *top = g_getenv("HERALD_TOP");
	char *dir = g_build_filename(top != NULL ? top : ".", "templates", lang,
				     NULL);
	GPtrArray *names = fs_dir_names(dir, NULL, NULL);

	g_assert_nonnull(names);
	g_free(dir);
	return names;
}

/* The %(name)s a text uses, sorted and joined. */
static char *
variables_of(const char *text)
{
	GRegex *re = g_regex_new("%\\(([^)]*)\\)s", 0, 0, NULL);
	GMatchInfo *mi = NULL;
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	char *out;

	g_regex_match(re, text, 0, &mi);
	while (g_match_info_matches(mi)) {
		char *n = g_match_info_fetch(mi, 1);

		if (!g_ptr_array_find_with_equal_func(names, n, g_str_equal,
						      NULL))
			g_ptr_array_add(names, n);
		else
			g_free(n);
		g_match_info_next(mi, NULL);
	}
	g_ptr_array_sort(names, str_ptr_compare);
	out = strings_joined(names, " ");
	g_match_info_free(mi);
	g_regex_unref(re);
	g_ptr_array_unref(names);
	return out;
}

/* --- expansion ------------------------------------------------------------- */

static void
test_expand_known_unknown_and_percent(void)
{
	GHashTable *vars = vars_of("listname", "demo", "email",
				   "ann@example.com", NULL);

	assert_expands("%(listname)s: %(email)s", vars,
		       "demo: ann@example.com");
	/* "%%" is "%"; an unknown name stays as written (SafeDict). */
	assert_expands("100%% of %(nosuch)s", vars, "100% of %(nosuch)s");
	/* Not the %(...)s form: kept. */
	assert_expands("%(listname)d %(listname) %listname %", vars,
		       "%(listname)d %(listname) %listname %");
	assert_expands("%%(listname)s", vars, "%(listname)s");
	assert_expands("", vars, "");
	assert_expands("%(listname)s", NULL, "%(listname)s");
	g_hash_table_destroy(vars);
}

/* A value's own %(...)s is not expanded again. */
static void
test_expand_is_one_pass(void)
{
	GHashTable *vars = vars_of("a", "%(b)s", "b", "no", NULL);

	assert_expands("[%(a)s]", vars, "[%(b)s]");
	g_hash_table_destroy(vars);
}

/* --- the list's variables -------------------------------------------------- */

static void
test_vars_for_list_mailman_names(void)
{
	struct list_fixture f;
	GHashTable *v;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "welcome_msg", "Read the FAQ of %(real_name)s.");
	v = template_vars_for_list(f.list);
	g_assert_cmpstr(g_hash_table_lookup(v, "listname"), ==, "demo");
	g_assert_cmpstr(g_hash_table_lookup(v, "_internal_name"), ==, "demo");
	g_assert_cmpstr(g_hash_table_lookup(v, "real_name"), ==, "Demo");
	g_assert_cmpstr(g_hash_table_lookup(v, "list"), ==, FQDN);
	g_assert_cmpstr(g_hash_table_lookup(v, "listaddr"), ==, FQDN);
	g_assert_cmpstr(g_hash_table_lookup(v, "hostname"), ==, "example.org");
	g_assert_cmpstr(g_hash_table_lookup(v, "host_name"), ==, "example.org");
	g_assert_cmpstr(g_hash_table_lookup(v, "requestaddr"), ==,
			"demo-request@example.org");
	g_assert_cmpstr(g_hash_table_lookup(v, "requestemail"), ==,
			"demo-request@example.org");
	g_assert_cmpstr(g_hash_table_lookup(v, "owneraddr"), ==,
			"demo-owner@example.org");
	g_assert_cmpstr(g_hash_table_lookup(v, "owneremail"), ==,
			"demo-owner@example.org");
	g_assert_cmpstr(g_hash_table_lookup(v, "adminemail"), ==,
			"demo-bounces@example.org");
	g_assert_cmpstr(g_hash_table_lookup(v, "joinaddr"), ==,
			"demo-join@example.org");
	g_assert_cmpstr(g_hash_table_lookup(v, "listinfo_url"), ==,
			"https://example.org/listinfo/demo@example.org");
	g_assert_cmpstr(g_hash_table_lookup(v, "listurl"), ==,
			"https://example.org/listinfo/demo@example.org");
	g_assert_cmpstr(g_hash_table_lookup(v, "web_page_url"), ==,
			"https://example.org/");
	g_assert_cmpstr(g_hash_table_lookup(v, "admindb_url"), ==,
			"https://example.org/admindb/demo@example.org");
	/* welcome_msg with its own variables filled, and a newline. */
	g_assert_cmpstr(g_hash_table_lookup(v, "welcome"), ==,
			"Read the FAQ of Demo.\n");
	g_assert_cmpstr(g_hash_table_lookup(v, "goodbye"), ==, "");
	g_hash_table_destroy(v);
	list_fixture_clear(&f);
}

/* --- lookup ---------------------------------------------------------------- */

static void
test_lookup_list_before_site_before_builtin(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	assert_renders(&f, "verify", "en", "confirm %(cookie)s", "en");
	assert_source(&f, "verify", "en", "built-in");
	put_file(&f, "Subject: site %(listname)s\n\nsite\n", "etc", "templates",
		 "en", "verify.txt", NULL);
	assert_renders(&f, "verify", "en", "site demo", "en");
	assert_source(&f, "verify", "en", "site");
	put_file(&f, "Subject: list %(listname)s\n\nlist\n", "lists", FQDN,
		 "templates", "en", "verify.txt", NULL);
	assert_renders(&f, "verify", "en", "list demo", "en");
	assert_source(&f, "verify", "en", "list");
	/* Another template is still the built-in one. */
	assert_renders(&f, "probe", "en", "Demo mailing list probe message",
		       "en");
	list_fixture_clear(&f);
}

/* The member's language, else the list's preferred_language, else
 * English; in each, list, site and built in are tried before the next. */
static void
test_lookup_language_member_then_list_then_en(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	assert_renders(&f, "probe", "de",
		       "Testnachricht der Mailingliste Demo", "de");
	/* No French anywhere: the list's language (en by default). */
	assert_renders(&f, "probe", "fr", "Demo mailing list probe message",
		       "en");
	assert_renders(&f, "probe", NULL, "Demo mailing list probe message",
		       "en");
	list_set_ok(f.list, "preferred_language", "de");
	assert_renders(&f, "probe", "fr",
		       "Testnachricht der Mailingliste Demo", "de");
	assert_renders(&f, "probe", NULL,
		       "Testnachricht der Mailingliste Demo", "de");
	/* A member who asked for English gets English. */
	assert_renders(&f, "probe", "en", "Demo mailing list probe message",
		       "en");
	/* A site's French template serves a French member. */
	put_file(&f, "Subject: Sonde %(real_name)s\n\nsonde\n", "etc",
		 "templates", "fr", "probe.txt", NULL);
	assert_renders(&f, "probe", "fr", "Sonde Demo", "fr");
	/* A template only in English is found for a German list. */
	put_file(&f, "Subject: only english\n\nx\n", "etc", "templates", "en",
		 "custom.txt", NULL);
	assert_renders(&f, "custom", "fr", "only english", "en");
	list_fixture_clear(&f);
}

/* A language that is no name (from a member record, say) is passed over
 * rather than made a path. */
static void
test_lookup_hostile_language_passed_over(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	put_file(&f, "Subject: escaped\n\nx\n", "etc", "verify.txt", NULL);
	assert_renders(&f, "verify", "../..", "confirm %(cookie)s", "en");
	assert_renders(&f, "verify", "", "confirm %(cookie)s", "en");
	list_fixture_clear(&f);
}

static void
test_render_errors(void)
{
	struct list_fixture f;
	struct template_text t;
	GError *error = NULL;

	list_fixture_init(&f, FQDN);
	g_assert_cmpint(template_render(f.list, "nosuch", "de", NULL, &t,
					&error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND);
	g_clear_error(&error);
	g_assert_cmpint(template_render(f.list, "../verify", NULL, NULL, &t,
					&error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpint(template_render(f.list, "verify.txt", NULL, NULL, &t,
					&error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	/* A file that cannot be read is an error, not a reason to fall
	 * back to the built-in text. */
	put_file(&f, "x", "etc", "templates", "en", "verify.txt", "x", NULL);
	g_assert_cmpint(template_render(f.list, "verify", "en", NULL, &t,
					&error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_assert_nonnull(strstr(error->message, "verify.txt"));
	g_clear_error(&error);
	list_fixture_clear(&f);
}

/* --- rendering ------------------------------------------------------------- */

static void
test_render_fills_subject_and_body(void)
{
	struct list_fixture f;
	struct template_text t;
	GError *error = NULL;
	GHashTable *vars;

	list_fixture_init(&f, FQDN);
	vars = template_vars_for_list(f.list);
	template_vars_set(vars, "email", "ann@example.com");
	template_vars_set(vars, "cookie", "c0ffee");
	template_vars_set(vars, "remote", "");
	template_vars_set(vars, "confirmurl", "https://example.org/confirm/x");
	g_assert_cmpint(template_render(f.list, "verify", "en", vars, &t,
					&error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpstr(t.subject, ==, "confirm c0ffee");
	g_assert_nonnull(strstr(t.body, "ann@example.com"));
	g_assert_nonnull(strstr(t.body, "    confirm c0ffee\n"));
	g_assert_nonnull(strstr(t.body, "demo-request@example.org"));
	g_assert_nonnull(strstr(t.body, "https://example.org/confirm/x"));
	g_assert_null(strstr(t.body, "%("));
	/* The Subject line and the blank line are not body. */
	g_assert_false(g_str_has_prefix(t.body, "Subject"));
	g_assert_false(g_str_has_prefix(t.body, "\n"));
	g_assert_true(g_str_has_suffix(t.body, "\n"));
	template_text_clear(&t);
	g_hash_table_destroy(vars);
	list_fixture_clear(&f);
}

/* A template without a Subject line is all body; one without a final
 * newline gets one; a value cannot make the subject two lines; CRLF
 * files read as LF. */
static void
test_render_subject_edge_cases(void)
{
	struct list_fixture f;
	struct template_text t;
	GHashTable *vars;

	list_fixture_init(&f, FQDN);
	put_file(&f, "No subject here %(listname)s", "etc", "templates", "en",
		 "a.txt", NULL);
	g_assert_cmpint(template_render(f.list, "a", NULL, NULL, &t, NULL), ==,
			0);
	g_assert_cmpstr(t.subject, ==, "");
	g_assert_cmpstr(t.body, ==, "No subject here demo\n");
	template_text_clear(&t);

	put_file(&f, "subject:  %(x)s  \r\n\r\nline 1\r\nline 2\r\n", "etc",
		 "templates", "en", "b.txt", NULL);
	vars = vars_of("x", "one\nBcc: evil@example.com", NULL);
	g_assert_cmpint(template_render(f.list, "b", NULL, vars, &t, NULL), ==,
			0);
	g_assert_cmpstr(t.subject, ==, "one Bcc: evil@example.com");
	g_assert_cmpstr(t.body, ==, "line 1\nline 2\n");
	template_text_clear(&t);
	g_hash_table_destroy(vars);
	list_fixture_clear(&f);
}

/* A site template in ISO-8859-1 (as many of Mailman 2.1's German ones
 * were) is read as such. */
static void
test_render_latin1_file(void)
{
	struct list_fixture f;
	struct template_text t;

	list_fixture_init(&f, FQDN);
	put_file(&f, "Subject: Gr\xfc\xdf" "e\n\nSch\xf6n\n", "etc",
		 "templates", "de", "probe.txt", NULL);
	g_assert_cmpint(template_render(f.list, "probe", "de", NULL, &t, NULL),
			==, 0);
	g_assert_cmpstr(t.subject, ==, "Grüße");
	g_assert_cmpstr(t.body, ==, "Schön\n");
	template_text_clear(&t);
	list_fixture_clear(&f);
}

/* German as it leaves: the subject RFC 2047 encoded (the header is
 * ASCII), the body's charset declared (notice.c: the smallest of
 * US-ASCII, ISO-8859-1 and UTF-8 that holds it), both read back as
 * written. */
static void
test_send_german_notice_encoded(void)
{
	struct list_fixture f;
	const char *to[] = { "owner@example.org", NULL };
	GError *error = NULL;
	GHashTable *vars;
	GPtrArray *items;
	GMimeMessage *msg;
	GMimeTextPart *part;
	const struct queue_item *it;
	const char *raw_subject, *end;
	char *subject, *body;

	list_fixture_init(&f, FQDN);
	message_init();
	list_set_ok(f.list, "preferred_language", "de");
	vars = template_vars_for_list(f.list);
	template_vars_set(vars, "name", "Jürgen Groß");
	template_vars_set(vars, "oldaddr", "jg@example.com");
	template_vars_set(vars, "newaddr", "jg@example.net");
	g_assert_cmpint(template_send(f.list, to, "adminaddrchgack", NULL, vars,
				      NULL, FALSE, &error), ==, 0);
	g_assert_no_error(error);
	items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 1);
	it = items->pdata[0];
	msg = item_message(it);
	end = g_strstr_len(it->msg, (gssize)it->msg_len, "\n\n");
	g_assert_nonnull(end);
	g_assert_true(message_text_is_ascii(it->msg, (size_t)(end - it->msg)));
	raw_subject = g_strstr_len(it->msg, end - it->msg, "\nSubject: ");
	g_assert_nonnull(raw_subject);
	g_assert_nonnull(g_strstr_len(raw_subject, end - raw_subject, "=?"));
	subject = message_header_decoded(msg, "Subject");
	g_assert_cmpstr(subject, ==, "Demo: Adresse eines Mitglieds geändert");
	part = message_first_text_part(msg);
	g_assert_nonnull(g_mime_object_get_content_type_parameter(
		GMIME_OBJECT(part), "charset"));
	body = g_mime_text_part_get_text(part);
	g_assert_nonnull(strstr(body, "Jürgen Groß"));
	g_assert_nonnull(strstr(body, "geändert"));
	g_free(subject);
	g_free(body);
	g_object_unref(msg);
	g_ptr_array_unref(items);
	g_hash_table_destroy(vars);
	list_fixture_clear(&f);
}

/* As an automatic reply, a template is subject to the daily allowance. */
static void
test_send_autoresponse_limited(void)
{
	struct list_fixture f;
	const char *to[] = { "ann@example.com", NULL };
	GError *error = NULL;

	list_fixture_init(&f, FQDN);
	message_init();
	site_set_ok(f.site, "notice.max_autoresponses_per_day", "1");
	g_assert_cmpint(template_send(f.list, to, "help", "en", NULL, NULL,
				      TRUE, &error), ==, 1);
	g_assert_cmpint(template_send(f.list, to, "help", "en", NULL, NULL,
				      TRUE, &error), ==, 0);
	g_assert_cmpint(template_send(f.list, to, "help", "en", NULL, NULL,
				      TRUE, &error), ==, 0);
	g_assert_no_error(error);
	/* The help, then the one "nomoretoday" notice instead of the second. */
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 2);
	g_assert_cmpint(template_send(f.list, to, "nosuch", "en", NULL, NULL,
				      TRUE, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND);
	g_clear_error(&error);
	list_fixture_clear(&f);
}

/* --- the built-in set ------------------------------------------------------ */

/* Every templates/<lang>/NAME.txt of the source tree is compiled in (the
 * gresource XML lists it), German has every English template, each
 * starts with its Subject line and a blank line, and a translation
 * uses the same variables as the English text. */
static void
test_builtin_set_complete(void)
{
	struct list_fixture f;
	GPtrArray *en = source_templates("en"), *de = source_templates("de");
	char *en_names = strings_joined(en, " "), *de_names = strings_joined(de, " ");

	GPtrArray *builtin = template_builtin_names();
	char *builtin_names = strings_joined(builtin, ".txt ");

	list_fixture_init(&f, FQDN);
	g_assert_cmpstr(en_names, ==, de_names);
	g_assert_cmpuint(en->len, >=, 20);
	/* template_builtin_names: the same, without ".txt". */
	g_assert_true(g_str_has_prefix(en_names, builtin_names));
	g_assert_cmpuint(builtin->len, ==, en->len);
	for (guint i = 0; i < en->len; i++) {
		const char *file = en->pdata[i];
		char *name = g_strndup(file, strlen(file) - 4);
		char *text[2] = { NULL, NULL }, *lang = NULL;
		char *vars[2];
		const char *langs[2] = { "en", "de" };

		g_assert_true(g_str_has_suffix(file, ".txt"));
		for (int j = 0; j < 2; j++) {
			g_assert_cmpint(template_find(f.list, name, langs[j],
						      &text[j], &lang, NULL,
						      NULL), ==, 1);
			g_assert_cmpstr(lang, ==, langs[j]);
			g_clear_pointer(&lang, g_free);
			g_assert_true(g_str_has_prefix(text[j], "Subject: "));
			g_assert_nonnull(strstr(text[j], "\n\n"));
			g_assert_true(strchr(text[j], '\n')[1] == '\n');
			vars[j] = variables_of(text[j]);
		}
		if (strcmp(vars[0], vars[1]) != 0)
			g_test_message("%s: en %s, de %s", name, vars[0],
				       vars[1]);
		g_assert_cmpstr(vars[0], ==, vars[1]);
		for (int j = 0; j < 2; j++) {
			g_free(text[j]);
			g_free(vars[j]);
		}
		g_free(name);
	}
	g_free(en_names);
	g_free(de_names);
	g_free(builtin_names);
	g_ptr_array_unref(builtin);
	g_ptr_array_unref(en);
	g_ptr_array_unref(de);
	list_fixture_clear(&f);
}

/* The templates Mailman 2.1 has and herald's issues use are there. */
static void
test_builtin_mailman_names(void)
{
	static const char *const names[] = {
		"subscribeack", "unsubscribeack", "verify", "unsub", "invite",
		"refuse", "postheld", "postauth", "subauth", "unsubauth",
		"postack", "help", "adminsubscribeack", "adminunsubscribeack",
		"adminaddrchgack", "disabled", "probe", "nomoretoday",
		"masthead", "bounce", "checkdbs",
	};
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		struct template_text t;
		GError *error = NULL;

		g_assert_cmpint(template_render(f.list, names[i], "en", NULL,
						&t, &error), ==, 0);
		g_assert_no_error(error);
		g_assert_cmpstr(t.language, ==, "en");
		template_text_clear(&t);
	}
	list_fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/template/expand/known-unknown-percent", test_expand_known_unknown_and_percent },
	{ "/template/expand/one-pass", test_expand_is_one_pass },
	{ "/template/vars/mailman-names", test_vars_for_list_mailman_names },
	{ "/template/lookup/list-site-builtin", test_lookup_list_before_site_before_builtin },
	{ "/template/lookup/language-fallback", test_lookup_language_member_then_list_then_en },
	{ "/template/lookup/hostile-language", test_lookup_hostile_language_passed_over },
	{ "/template/render/errors", test_render_errors },
	{ "/template/render/fills-subject-and-body", test_render_fills_subject_and_body },
	{ "/template/render/subject-edge-cases", test_render_subject_edge_cases },
	{ "/template/render/latin1-file", test_render_latin1_file },
	{ "/template/send/german-encoded", test_send_german_notice_encoded },
	{ "/template/send/autoresponse-limited", test_send_autoresponse_limited },
	{ "/template/builtin/complete", test_builtin_set_complete },
	{ "/template/builtin/mailman-names", test_builtin_mailman_names },
};

UNIT_TEST_MAIN(tests)
