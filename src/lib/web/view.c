/*
 * view.c - HTML templates filled from JSON, every value escaped (view.h).
 *
 * The renderer works on the template's text directly: a section's end is
 * found by counting nested sections of the same name, and the inside is
 * rendered recursively with the new scope pushed.  Templates are small
 * (a few KB) and a page renders in microseconds, so there is no parsed
 * form to cache.  Nesting (of sections and partials together) is bounded
 * by VIEW_MAX_DEPTH, so a template including itself is an error, not a
 * stack overflow.
 */
#include "web/view.h"
#include "base/base.h"

#include <stdarg.h>
#include <string.h>

#define BUILTIN_ROOT "/herald/templates/web"
#define VIEW_MAX_DEPTH 32

GResource *herald_templates_get_resource(void);

struct render {
	struct site *site;
	const char *lang;
	GPtrArray *scopes;	/* JsonNode *, innermost last */
	GString *out;
	const char *name;	/* the template being rendered, for errors */
	int depth;
};

/* The built-in templates, by name, looked up once (a page's three or
 * four lookups were a twentieth of its time). */
static GHashTable *builtins;
static GMutex builtins_lock;

static const char *builtin_text(const char *name)
{
	g_mutex_lock(&builtins_lock);
	if (!builtins)
		builtins = g_hash_table_new_full(g_str_hash, g_str_equal,
						 g_free, g_free);
	const char *text = g_hash_table_lookup(builtins, name);
	if (!text) {
		char *path = g_strdup_printf(BUILTIN_ROOT "/%s.html", name);
		GBytes *b = g_resource_lookup_data(
			herald_templates_get_resource(), path, 0, NULL);
		g_free(path);
		if (b) {
			gsize n;
			const char *data = g_bytes_get_data(b, &n);
			char *copy = g_strndup(data, n);
			g_hash_table_insert(builtins, g_strdup(name), copy);
			text = copy;
			g_bytes_unref(b);
		}
	}
	g_mutex_unlock(&builtins_lock);
	return text;
}

static char *template_text(struct site *site, const char *name, GError **error)
{
	if (!name[0] || strchr(name, '/') || strchr(name, '.')) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "bad template name \"%s\"", name);
		return NULL;
	}
	if (site) {
		char *file = g_strconcat(name, ".html", NULL);
		char *path = site_path(site, "etc", "templates", "web", file,
				       NULL);
		char *text = NULL;
		gboolean found = g_file_get_contents(path, &text, NULL, NULL);
		g_free(path);
		g_free(file);
		if (found)
			return text;
	}
	const char *builtin = builtin_text(name);
	if (!builtin) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
			    "no web template \"%s\"", name);
		return NULL;
	}
	return g_strdup(builtin);
}

void view_escape(GString *out, const char *text)
{
	for (const char *p = text; *p; p++) {
		switch (*p) {
		case '&': g_string_append(out, "&amp;"); break;
		case '<': g_string_append(out, "&lt;"); break;
		case '>': g_string_append(out, "&gt;"); break;
		case '"': g_string_append(out, "&quot;"); break;
		case '\'': g_string_append(out, "&#39;"); break;
		default: g_string_append_c(out, *p);
		}
	}
}

char *view_url_part(const char *text)
{
	return g_uri_escape_string(text, NULL, FALSE);
}

/* The translation tables: lang -> (English -> translation).  A table file
 * is blocks of two lines, the English text and its translation, separated
 * by blank lines; '#' starts a comment line. */
/* Reads the lines of one table file into t. */
static void translation_read(GHashTable *t, const char *path)
{
	GBytes *b = g_resource_lookup_data(herald_templates_get_resource(),
					   path, 0, NULL);
	if (!b)
		return;
	char *text = g_strndup(g_bytes_get_data(b, NULL), g_bytes_get_size(b));
	char **lines = g_strsplit(text, "\n", -1);
	const char *english = NULL;
	for (char **l = lines; *l; l++) {
		if ((*l)[0] == '#')
			continue;
		if (!(*l)[0]) {
			english = NULL;
		} else if (!english) {
			english = *l;
		} else {
			g_hash_table_replace(t, g_strdup(english),
					     g_strdup(*l));
			english = NULL;
		}
	}
	g_strfreev(lines);
	g_free(text);
	g_bytes_unref(b);
}

/* The table of lang: every i18n/LANG.txt and i18n/LANG-<part>.txt (one
 * per group of pages), or NULL when there is none. */
static GHashTable *translation_load(const char *lang)
{
	char **files = g_resource_enumerate_children(
		herald_templates_get_resource(), BUILTIN_ROOT "/i18n/", 0, NULL);
	GHashTable *t = NULL;
	char *whole = g_strconcat(lang, ".txt", NULL);
	char *part = g_strconcat(lang, "-", NULL);
	for (char **f = files; f && *f; f++) {
		if (strcmp(*f, whole) && !(g_str_has_prefix(*f, part) &&
					   g_str_has_suffix(*f, ".txt")))
			continue;
		if (!t)
			t = g_hash_table_new_full(g_str_hash, g_str_equal,
						  g_free, g_free);
		char *path = g_strconcat(BUILTIN_ROOT "/i18n/", *f, NULL);
		translation_read(t, path);
		g_free(path);
	}
	g_free(whole);
	g_free(part);
	g_strfreev(files);
	return t;
}

static GHashTable *translations;
static GMutex translations_lock;

static GHashTable *translation_table(const char *lang)
{
	g_mutex_lock(&translations_lock);
	if (!translations)
		translations = g_hash_table_new_full(
			g_str_hash, g_str_equal, g_free,
			(GDestroyNotify)g_hash_table_unref);
	GHashTable *t = g_hash_table_lookup(translations, lang);
	/* Only languages that have a table are remembered: a client naming
	 * thousands of others costs a lookup each, no memory. */
	if (!t && strlen(lang) <= 8 && (t = translation_load(lang)))
		g_hash_table_insert(translations, g_strdup(lang), t);
	g_mutex_unlock(&translations_lock);
	return t;
}

const char *view_translate(const char *lang, const char *text)
{
	if (!lang || !strcmp(lang, "en"))
		return text;
	GHashTable *t = translation_table(lang);
	const char *tr = t ? g_hash_table_lookup(t, text) : NULL;
	return tr ? tr : text;
}

char *view_fill(const char *lang, const char *text, ...)
{
	const char *t = view_translate(lang, text);
	GString *out = g_string_new(NULL);
	va_list ap;
	va_start(ap, text);
	const char *arg = va_arg(ap, const char *);
	for (const char *p = t; *p; p++) {
		if (p[0] == '{' && p[1] == '}' && arg) {
			g_string_append(out, arg);
			arg = va_arg(ap, const char *);
			p++;
		} else {
			g_string_append_c(out, *p);
		}
	}
	va_end(ap);
	return g_string_free(out, FALSE);
}

gboolean view_language_known(const char *lang)
{
	return lang && (!strcmp(lang, "en") || translation_table(lang));
}

/* The node a dotted name names, looked up from the innermost scope out
 * (only the first part; the rest are members of what it found). */
static JsonNode *lookup(struct render *r, const char *name)
{
	if (!strcmp(name, "."))
		return r->scopes->len
			? g_ptr_array_index(r->scopes, r->scopes->len - 1)
			: NULL;
	/* Most names have no dot: no split for them. */
	char *one[2] = { (char *)name, NULL };
	char **parts = strchr(name, '.') ? g_strsplit(name, ".", -1) : one;
	JsonNode *found = NULL;
	for (guint i = r->scopes->len; i-- > 0 && !found;) {
		JsonNode *scope = g_ptr_array_index(r->scopes, i);
		if (JSON_NODE_HOLDS_OBJECT(scope) &&
		    json_object_has_member(json_node_get_object(scope),
					   parts[0]))
			found = json_object_get_member(
				json_node_get_object(scope), parts[0]);
	}
	for (char **p = parts + 1; found && *p; p++)
		found = JSON_NODE_HOLDS_OBJECT(found) &&
			json_object_has_member(json_node_get_object(found), *p)
			? json_object_get_member(json_node_get_object(found), *p)
			: NULL;
	if (parts != one)
		g_strfreev(parts);
	return found;
}

static gboolean truthy(JsonNode *n)
{
	if (!n || JSON_NODE_HOLDS_NULL(n))
		return FALSE;
	if (JSON_NODE_HOLDS_ARRAY(n))
		return json_array_get_length(json_node_get_array(n)) > 0;
	if (JSON_NODE_HOLDS_OBJECT(n))
		return TRUE;
	switch (json_node_get_value_type(n)) {
	case G_TYPE_BOOLEAN: return json_node_get_boolean(n);
	case G_TYPE_INT64: return json_node_get_int(n) != 0;
	case G_TYPE_DOUBLE: return json_node_get_double(n) != 0;
	case G_TYPE_STRING: return json_node_get_string(n)[0] != '\0';
	default: return FALSE;
	}
}

static void print_value(struct render *r, JsonNode *n)
{
	if (!n || !JSON_NODE_HOLDS_VALUE(n))
		return;
	switch (json_node_get_value_type(n)) {
	case G_TYPE_BOOLEAN:
		g_string_append(r->out, json_node_get_boolean(n)
				? "true" : "false");
		break;
	case G_TYPE_INT64:
		g_string_append_printf(r->out, "%" G_GINT64_FORMAT,
				       json_node_get_int(n));
		break;
	case G_TYPE_DOUBLE:
		g_string_append_printf(r->out, "%g", json_node_get_double(n));
		break;
	case G_TYPE_STRING:
		view_escape(r->out, json_node_get_string(n));
		break;
	}
}

static int render_text(struct render *r, const char *text, const char *end,
		       GError **error);

static int bad_template(struct render *r, const char *why, const char *tag,
			GError **error)
{
	g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
		    "web template \"%s\": %s \"%s\"", r->name, why, tag);
	return -1;
}

/* The first mark ("{{" or "}}") in [p, end), or NULL. */
static const char *find_tag(const char *p, const char *end, const char *mark)
{
	return memmem(p, (size_t)(end - p), mark, 2);
}

/* The end of the section name opened just before p: the position of its
 * matching {{/name}} (nested ones of the same name counted), NULL if none. */
static const char *section_end(const char *p, const char *end,
			       const char *name, const char **after_r)
{
	int depth = 1;
	size_t n = strlen(name);
	while (p < end) {
		const char *open = find_tag(p, end, "{{");
		if (!open)
			return NULL;
		const char *close = find_tag(open, end, "}}");
		if (!close)
			return NULL;
		char kind = open[2];
		const char *tag = open + 3;
		if ((kind == '#' || kind == '^' || kind == '/') &&
		    (size_t)(close - tag) == n && !strncmp(tag, name, n)) {
			depth += kind == '/' ? -1 : 1;
			if (depth == 0) {
				*after_r = close + 2;
				return open;
			}
		}
		p = close + 2;
	}
	return NULL;
}

static int render_partial(struct render *r, const char *name, GError **error)
{
	char *text = template_text(r->site, name, error);
	if (!text)
		return -1;
	const char *outer = r->name;
	r->name = name;
	int rc = render_text(r, text, text + strlen(text), error);
	r->name = outer;
	g_free(text);
	return rc;
}

static int render_section(struct render *r, char kind, const char *name,
			  const char *inside, const char *inside_end,
			  GError **error)
{
	JsonNode *n = lookup(r, name);
	if (kind == '^')
		return truthy(n) ? 0
			: render_text(r, inside, inside_end, error);
	if (!truthy(n))
		return 0;
	if (JSON_NODE_HOLDS_ARRAY(n)) {
		JsonArray *a = json_node_get_array(n);
		for (guint i = 0; i < json_array_get_length(a); i++) {
			g_ptr_array_add(r->scopes,
					json_array_get_element(a, i));
			int rc = render_text(r, inside, inside_end, error);
			g_ptr_array_set_size(r->scopes, r->scopes->len - 1);
			if (rc < 0)
				return -1;
		}
		return 0;
	}
	g_ptr_array_add(r->scopes, n);
	int rc = render_text(r, inside, inside_end, error);
	g_ptr_array_set_size(r->scopes, r->scopes->len - 1);
	return rc;
}

static int render_text(struct render *r, const char *text, const char *end,
		       GError **error)
{
	if (++r->depth > VIEW_MAX_DEPTH) {
		r->depth--;
		return bad_template(r, "nested too deep at", "", error);
	}
	int rc = 0;
	const char *p = text;
	while (p < end && rc == 0) {
		const char *open = find_tag(p, end, "{{");
		if (!open) {
			g_string_append_len(r->out, p, end - p);
			break;
		}
		g_string_append_len(r->out, p, open - p);
		const char *close = find_tag(open, end, "}}");
		if (!close) {
			rc = bad_template(r, "unclosed tag", "{{", error);
			break;
		}
		char kind = open[2];
		const char *tag = open + 2;
		if (strchr("#^/>@", kind))
			tag++;
		char *name = g_strstrip(g_strndup(tag, close - tag));
		p = close + 2;
		if (kind == '#' || kind == '^') {
			const char *after;
			const char *inside_end = section_end(p, end, name, &after);
			if (!inside_end)
				rc = bad_template(r, "unclosed section", name,
						  error);
			else
				rc = render_section(r, kind, name, p,
						    inside_end, error);
			if (inside_end)
				p = after;
		} else if (kind == '/') {
			rc = bad_template(r, "stray end of section", name,
					  error);
		} else if (kind == '>') {
			rc = render_partial(r, name, error);
		} else if (kind == '@') {
			view_escape(r->out, view_translate(r->lang, name));
		} else {
			print_value(r, lookup(r, name));
		}
		g_free(name);
	}
	r->depth--;
	return rc;
}

char *view_render(struct site *site, const char *name, const char *lang,
		  JsonObject *data, GError **error)
{
	char *text = template_text(site, name, error);
	if (!text)
		return NULL;
	JsonNode *root = json_node_new(JSON_NODE_OBJECT);
	json_node_set_object(root, data);
	struct render r = {
		.site = site,
		.lang = view_language_known(lang) ? lang : "en",
		.scopes = g_ptr_array_new(),
		.out = g_string_sized_new(8192),
		.name = name,
	};
	g_ptr_array_add(r.scopes, root);
	int rc = render_text(&r, text, text + strlen(text), error);
	g_ptr_array_free(r.scopes, TRUE);
	json_node_unref(root);
	g_free(text);
	if (rc < 0) {
		g_string_free(r.out, TRUE);
		return NULL;
	}
	return g_string_free(r.out, FALSE);
}
