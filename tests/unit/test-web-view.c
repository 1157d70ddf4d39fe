/*
 * test-web-view.c - the web pages' templates (web/view.h), the sessions
 * and login counters (web/session.h), and the route tables.
 */
#include "testutil.h"
#include "base/base.h"
#include "web/pages.h"
#include "web/session.h"
#include "web/view.h"

GResource *herald_templates_get_resource(void);

static char *render_text_of(const char *name, JsonObject *data)
{
	GError *error = NULL;
	char *out = view_render(NULL, name, "en", data, &error);
	g_assert_no_error(error);
	return out;
}

static JsonObject *parse_object(const char *json)
{
	JsonParser *p = json_parser_new();
	g_assert_true(json_parser_load_from_data(p, json, -1, NULL));
	JsonObject *o = json_object_ref(json_node_get_object(
						json_parser_get_root(p)));
	g_object_unref(p);
	return o;
}

/* Renders a template text written to a site's override folder. */
static char *render_override(const char *text, const char *json,
			     GError **error)
{
	char *dir = tmp_dir_new();
	char *var = g_build_filename(dir, "var", NULL);
	g_assert_cmpint(site_init(var, NULL), ==, 0);
	struct site *site = site_open(var, NULL);
	char *tdir = site_path(site, "etc", "templates", "web", NULL);
	g_assert_cmpint(g_mkdir_with_parents(tdir, 0700), ==, 0);
	char *file = g_build_filename(tdir, "t.html", NULL);
	g_assert_true(g_file_set_contents(file, text, -1, NULL));
	JsonObject *data = parse_object(json);
	char *out = view_render(site, "t", "en", data, error);
	json_object_unref(data);
	site_free(&site);
	tmp_dir_remove(&dir);
	g_free(file);
	g_free(tdir);
	g_free(var);
	return out;
}

static void test_escapes_every_value(void)
{
	char *out = render_override(
		"<p title=\"{{v}}\">{{v}}</p>",
		"{\"v\": \"<script>alert('x')</script>&\\\"\"}", NULL);
	g_assert_cmpstr(out, ==,
			"<p title=\"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
			"&amp;&quot;\">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
			"&amp;&quot;</p>");
	g_free(out);
	/* A value is never expanded as a template itself. */
	out = render_override("{{v}}", "{\"v\": \"{{w}}\", \"w\": \"no\"}",
			      NULL);
	g_assert_cmpstr(out, ==, "{{w}}");
	g_free(out);
}

static void test_sections(void)
{
	char *out = render_override(
		"{{#items}}[{{name}}:{{n}}{{#flag}}!{{/flag}}]{{/items}}"
		"{{^items}}none{{/items}}{{^empty}}E{{/empty}}"
		"{{#obj}}{{a.b}}{{/obj}}{{#tags}}<{{.}}>{{/tags}}",
		"{\"items\": [{\"name\": \"x\", \"n\": 1, \"flag\": true},"
		" {\"name\": \"y\", \"n\": 0, \"flag\": false}],"
		" \"empty\": [], \"obj\": {\"a\": {\"b\": \"deep\"}},"
		" \"tags\": [\"t1\", \"t2\"]}", NULL);
	g_assert_cmpstr(out, ==, "[x:1!][y:0]Edeep<t1><t2>");
	g_free(out);
	/* Outer names are seen from inside a section. */
	out = render_override("{{#items}}{{outer}}{{/items}}",
			      "{\"items\": [1, 2], \"outer\": \"o\"}", NULL);
	g_assert_cmpstr(out, ==, "oo");
	g_free(out);
}

static void test_bad_templates_are_errors(void)
{
	const char *bad[] = { "{{#a}}open", "{{/a}}", "{{unclosed",
			      "{{> t}}" /* itself, forever */ };
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		GError *error = NULL;
		char *out = render_override(bad[i], "{\"a\": true}", &error);
		g_assert_null(out);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
		g_error_free(error);
	}
	GError *error = NULL;
	JsonObject *o = json_object_new();
	g_assert_null(view_render(NULL, "../etc/passwd", "en", o, &error));
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_null(view_render(NULL, "nosuchpage", "en", o, &error));
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND);
	g_clear_error(&error);
	json_object_unref(o);
}

static void test_translation(void)
{
	g_assert_cmpstr(view_translate("de", "Subscribe"), ==, "Abonnieren");
	g_assert_cmpstr(view_translate("en", "Subscribe"), ==, "Subscribe");
	g_assert_cmpstr(view_translate("xx", "Subscribe"), ==, "Subscribe");
	g_assert_true(view_language_known("de"));
	g_assert_false(view_language_known("xx"));
	char *s = view_fill("de", "Unsubscribe {} from {}?", "a@b", "l@d",
			    NULL);
	g_assert_cmpstr(s, ==, "a@b von l@d abmelden?");
	g_free(s);
	/* A value with "{}" in it is not filled again. */
	s = view_fill("en", "Unsubscribe {} from {}?", "{}", "x", NULL);
	g_assert_cmpstr(s, ==, "Unsubscribe {} from x?");
	g_free(s);
}

/* Every templates/web/ file of the source tree is compiled in, and every
 * page renders (with no data) in both languages. */
static void test_builtin_pages_render(void)
{
	const char *top = g_getenv("HERALD_TOP");
	char *dir = g_build_filename(top ? top : ".", "templates", "web", NULL);
	GPtrArray *names = fs_dir_names(dir, NULL, NULL);
	g_assert_nonnull(names);
	guint pages = 0;
	for (guint i = 0; i < names->len; i++) {
		const char *f = names->pdata[i];
		char *path = g_strdup_printf("/herald/templates/web/%s", f);
		if (g_str_has_suffix(f, ".html") || g_str_has_suffix(f, ".css"))
			g_assert_true(g_resource_get_info(
				herald_templates_get_resource(), path, 0,
				NULL, NULL, NULL));
		g_free(path);
		if (!g_str_has_suffix(f, ".html"))
			continue;
		char *name = g_strndup(f, strlen(f) - 5);
		for (int lang = 0; lang < 2; lang++) {
			JsonObject *o = json_object_new();
			char *out = render_text_of(name, o);
			json_object_unref(o);
			g_assert_nonnull(out);
			g_free(out);
		}
		g_free(name);
		pages++;
	}
	g_assert_cmpuint(pages, >=, 8);
	g_ptr_array_free(names, TRUE);
	g_free(dir);
}

static void test_routes_unique(void)
{
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (const struct web_route *const *t = web_route_tables; *t; t++)
		for (const struct web_route *r = *t; r->segment; r++) {
			g_assert_false(g_hash_table_contains(seen, r->segment));
			g_hash_table_add(seen, (gpointer)r->segment);
		}
	g_assert_true(g_hash_table_contains(seen, "listinfo"));
	g_assert_true(g_hash_table_contains(seen, "unsubscribe"));
	g_hash_table_unref(seen);
}

static void test_sessions(void)
{
	char *dir = tmp_dir_new();
	char *var = g_build_filename(dir, "var", NULL);
	g_assert_cmpint(site_init(var, NULL), ==, 0);
	struct site *site = site_open(var, NULL);
	GError *error = NULL;
	struct web_session *s = session_create(site, WEB_ROLE_OWNER,
					       "a@example.org", NULL, "de\nrole=site",
					       &error);
	g_assert_no_error(error);
	struct web_session *back = session_load(site, s->id);
	g_assert_nonnull(back);
	g_assert_cmpint(back->role, ==, WEB_ROLE_OWNER);
	g_assert_cmpstr(back->csrf, ==, s->csrf);
	/* A language that is none is not kept (nor a line break). */
	g_assert_cmpstr(back->lang, ==, "");
	/* The owner of a may moderate a, nothing of b, not be a member. */
	g_assert_true(session_may(back, WEB_ROLE_MODERATOR, "a@example.org"));
	g_assert_false(session_may(back, WEB_ROLE_OWNER, "b@example.org"));
	g_assert_false(session_may(back, WEB_ROLE_SITE, NULL));
	g_assert_false(session_may(back, WEB_ROLE_MEMBER, "a@example.org"));
	/* The file is named by the id's hash: the id is nowhere on disk. */
	char *sessions = site_path(site, "web", "sessions", NULL);
	GPtrArray *files = fs_dir_names(sessions, NULL, NULL);
	g_assert_cmpuint(files->len, ==, 1);
	g_assert_null(strstr(files->pdata[0], s->id));
	g_ptr_array_free(files, TRUE);
	/* Ids it did not make, or malformed ones, are nothing. */
	g_assert_null(session_load(site, "../../etc/herald.conf"));
	g_assert_null(session_load(site, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	session_destroy(site, back);
	g_assert_null(session_load(site, s->id));
	session_free(&back);
	session_free(&s);

	/* web.login_attempts failures block; another key is not. */
	g_assert_cmpint(site_set(site, "web.login_attempts", "3", NULL), ==, 0);
	for (int i = 0; i < 3; i++) {
		g_assert_false(attempts_blocked(site, "client\n10.0.0.1"));
		attempts_fail(site, "client\n10.0.0.1");
	}
	g_assert_true(attempts_blocked(site, "client\n10.0.0.1"));
	g_assert_false(attempts_blocked(site, "client\n10.0.0.2"));
	/* Swept once the window has passed. */
	g_assert_cmpuint(session_sweep(site, g_get_real_time() / G_USEC_PER_SEC +
				       100000), ==, 1);
	g_assert_false(attempts_blocked(site, "client\n10.0.0.1"));
	g_free(sessions);
	site_free(&site);
	tmp_dir_remove(&dir);
	g_free(var);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/web/view/escapes-every-value", test_escapes_every_value);
	g_test_add_func("/web/view/sections", test_sections);
	g_test_add_func("/web/view/bad-templates-are-errors",
			test_bad_templates_are_errors);
	g_test_add_func("/web/view/translation", test_translation);
	g_test_add_func("/web/view/builtin-pages-render",
			test_builtin_pages_render);
	g_test_add_func("/web/routes/unique", test_routes_unique);
	g_test_add_func("/web/session/create-load-may-sweep", test_sessions);
	return g_test_run();
}
