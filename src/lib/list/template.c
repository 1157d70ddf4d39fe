/*
 * template.c - template lookup (list, site, built in; asked language, the
 * list's, English), Mailman's %(name)s expansion, and the notice made
 * from a template.
 *
 * The built-in texts are the files templates/<lang>/<name>.txt of the
 * source tree, compiled into the library as a GResource (the Makefile
 * runs glib-compile-resources on templates/herald.gresource.xml), so that
 * a herald binary needs no data files installed beside it.  The site's
 * and the list's files are read at each use, without a cache: an edit
 * takes effect at the next notice, on every host of an NFS var dir.
 */
#include "list/template.h"
#include "base/base.h"
#include "list/listurls.h"
#include "list/notice.h"

#include <string.h>

/* The generated resource bundle (build dir, gen/templates.c). */
GResource *herald_templates_get_resource(void);

#define BUILTIN_ROOT "/herald/templates"

/* --- expansion ------------------------------------------------------------ */

char *
template_expand(const char *text, GHashTable *vars)
{
	GString *out = g_string_sized_new(strlen(text) + 64);
	const char *c;

	for (c = text; *c != '\0';) {
		const char *close;

		if (c[0] == '%' && c[1] == '%') {
			g_string_append_c(out, '%');
			c += 2;
		} else if (c[0] == '%' && c[1] == '(' &&
			   (close = strchr(c + 2, ')')) != NULL &&
			   close[1] == 's') {
			char *name = g_strndup(c + 2, (gsize)(close - c - 2));
			const char *v = vars != NULL
				? g_hash_table_lookup(vars, name) : NULL;

			/* Unknown: left as written (Mailman's SafeDict). */
			if (v != NULL)
				g_string_append(out, v);
			else
				g_string_append_len(out, c, close + 2 - c);
			g_free(name);
			c = close + 2;
		} else {
			g_string_append_c(out, *c++);
		}
	}
	return g_string_free(out, FALSE);
}

/* --- the list's variables -------------------------------------------------- */

void
template_vars_take(GHashTable *vars, const char *name, char *value)
{
	g_hash_table_replace(vars, g_strdup(name),
			     value != NULL ? value : g_strdup(""));
}

void
template_vars_set(GHashTable *vars, const char *name, const char *value)
{
	template_vars_take(vars, name, g_strdup(value));
}

/* The same value under each of Mailman's names for it (NULL-ended). */
static void
vars_set_names(GHashTable *vars, const char *const *names, const char *value)
{
	for (guint i = 0; names[i] != NULL; i++)
		template_vars_set(vars, names[i], value);
}

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The list's address with suffix under names. */
static void
vars_set_address(GHashTable *vars, struct list *l, const char *suffix,
		 const char *const *names)
{
	char *addr = list_address(l, suffix);

	vars_set_names(vars, names, addr);
	g_free(addr);
}

/* A list text setting (welcome_msg, goodbye_msg) as the variable name:
 * its own %(...)s filled from vars, ending in a newline unless empty. */
static void
vars_set_text(GHashTable *vars, struct list *l, const char *setting,
	      const char *name)
{
	char *raw = list_get(l, setting, NULL);
	char *text = template_expand(raw != NULL ? raw : "", vars);
	gsize len = strlen(text);

	if (len > 0 && text[len - 1] != '\n') {
		char *t = g_strconcat(text, "\n", NULL);

		g_free(text);
		text = t;
	}
	template_vars_take(vars, name, text);
	g_free(raw);
}

GHashTable *
template_vars_for_list(struct list *l)
{
	GHashTable *vars = g_hash_table_new_full(g_str_hash, g_str_equal,
						 g_free, g_free);
	const char *fqdn = list_fqdn(l);
	char *local = g_strndup(fqdn, strcspn(fqdn, "@"));
	char *host = list_get(l, "host_name", NULL);
	char *base = listurls_base(l);
	char *listinfo = listurls_listinfo(l);
	char *admindb = g_strconcat(base, "admindb/", fqdn, NULL);

	vars_set_names(vars, NAMES("listname", "list_name", "_internal_name"),
		       local);
	template_vars_take(vars, "real_name", list_get(l, "real_name", NULL));
	vars_set_names(vars, NAMES("list", "listaddr", "emailaddr",
				   "got_list_email"), fqdn);
	vars_set_names(vars, NAMES("hostname", "host_name"), host);
	vars_set_address(vars, l, "-request",
			 NAMES("requestaddr", "requestemail",
			       "got_request_email"));
	vars_set_address(vars, l, "-owner",
			 NAMES("owneraddr", "owneremail", "listadmin",
			       "listowner", "adminaddr", "got_owner_email"));
	vars_set_address(vars, l, "-bounces", NAMES("adminemail"));
	vars_set_address(vars, l, "-join", NAMES("joinaddr"));
	vars_set_address(vars, l, "-leave", NAMES("leaveaddr"));
	vars_set_names(vars, NAMES("listinfo_url", "listurl",
				   "got_listinfo_url"), listinfo);
	template_vars_set(vars, "web_page_url", base);
	vars_set_names(vars, NAMES("admindb_url", "adminDB"), admindb);
	template_vars_take(vars, "description",
			   list_get(l, "description", NULL));
	template_vars_take(vars, "info", list_get(l, "info", NULL));
	template_vars_set(vars, "cgiext", "");
	template_vars_set(vars, "version", HERALD_VERSION);
	/* Last: their own %(...)s may use everything above. */
	vars_set_text(vars, l, "welcome_msg", "welcome");
	vars_set_text(vars, l, "goodbye_msg", "goodbye");
	g_free(local);
	g_free(host);
	g_free(base);
	g_free(listinfo);
	g_free(admindb);
	return vars;
}

/* --- lookup ---------------------------------------------------------------- */

/* A template or language name: it becomes a path component. */
static gboolean
name_ok(const char *s, gboolean upper)
{
	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return FALSE;
	for (const char *c = s; *c != '\0'; c++)
		if (!(g_ascii_islower(*c) || g_ascii_isdigit(*c) || *c == '_' ||
		      *c == '-' || (upper && g_ascii_isupper(*c))))
			return FALSE;
	return TRUE;
}

/* data (len bytes) as UTF-8 text: as it is when it is UTF-8, else read as
 * ISO-8859-1, which every byte string is. */
static char *
text_from_bytes(const char *data, gsize len)
{
	if (g_utf8_validate_len(data, len, NULL))
		return g_strndup(data, len);
	return g_convert(data, (gssize)len, "UTF-8", "ISO-8859-1", NULL, NULL,
			 NULL);
}

/* A template file: 1 read, 0 absent, -1 unreadable. */
static int
file_text(const char *path, char **text_r, GError **error)
{
	char *data = NULL;
	size_t len = 0;
	int r = fs_read_file(path, &data, &len, error);

	if (r <= 0)
		return r;
	*text_r = text_from_bytes(data, len);
	g_free(data);
	if (*text_r == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "%s: not text", path);
		return -1;
	}
	return 1;
}

/* A built-in template: 1 or 0. */
static int
builtin_text(const char *language, const char *file, char **text_r)
{
	char *path = g_strdup_printf(BUILTIN_ROOT "/%s/%s", language, file);
	GBytes *b = g_resource_lookup_data(herald_templates_get_resource(),
					   path, G_RESOURCE_LOOKUP_FLAGS_NONE,
					   NULL);
	gsize len = 0;
	const char *data;

	g_free(path);
	if (b == NULL)
		return 0;
	data = g_bytes_get_data(b, &len);
	*text_r = text_from_bytes(data, len);
	g_bytes_unref(b);
	return *text_r != NULL;
}

GPtrArray *
template_builtin_names(void)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	char **files = g_resource_enumerate_children(
		herald_templates_get_resource(), BUILTIN_ROOT "/en/",
		G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);

	/* English has every template (test-template checks the others). */
	for (guint i = 0; files != NULL && files[i] != NULL; i++)
		if (g_str_has_suffix(files[i], ".txt"))
			g_ptr_array_add(names, g_strndup(files[i],
							 strlen(files[i]) - 4));
	g_ptr_array_sort(names, str_ptr_compare);
	g_strfreev(files);
	return names;
}

/* The template in one language, list first, then site, then built in. */
static int
find_in_language(struct list *l, const char *file, const char *language,
		 char **text_r, const char **source_r, GError **error)
{
	char *list_path = g_build_filename(list_dir(l), "templates", language,
					   file, NULL);
	char *site_file = site_path(list_site(l), "etc", "templates", language,
				    file, NULL);
	int r = file_text(list_path, text_r, error);

	*source_r = "list";
	if (r == 0) {
		r = file_text(site_file, text_r, error);
		*source_r = "site";
	}
	if (r == 0) {
		r = builtin_text(language, file, text_r);
		*source_r = "built-in";
	}
	g_free(list_path);
	g_free(site_file);
	return r;
}

int
template_find(struct list *l, const char *name, const char *language,
	      char **text_r, char **language_r, const char **source_r,
	      GError **error)
{
	char *preferred = list_get(l, "preferred_language", NULL);
	const char *tries[] = { language, preferred, "en" };
	const char *source = NULL;
	char *file;
	int r = 0;

	if (!name_ok(name, FALSE)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "\"%s\" is not a template name", name);
		g_free(preferred);
		return -1;
	}
	file = g_strconcat(name, ".txt", NULL);
	for (guint i = 0; i < G_N_ELEMENTS(tries) && r == 0; i++) {
		gboolean tried = FALSE;

		/* A language that is no name (a member's setting, hostile
		 * or mistyped) is passed over, as one without templates. */
		if (!name_ok(tries[i], TRUE))
			continue;
		for (guint j = 0; j < i; j++)
			tried |= g_strcmp0(tries[j], tries[i]) == 0;
		if (tried)
			continue;
		r = find_in_language(l, file, tries[i], text_r, &source, error);
		if (r > 0 && language_r != NULL)
			*language_r = g_strdup(tries[i]);
		if (r > 0 && source_r != NULL)
			*source_r = source;
	}
	g_free(file);
	g_free(preferred);
	return r;
}

/* --- rendering -------------------------------------------------------------- */

/* Splits "Subject: S\n\nBODY" (the blank line optional) into S and BODY;
 * a text without a Subject line is all body. */
static void
split_subject(const char *text, char **subject_r, const char **body_r)
{
	const char *eol;

	if (g_ascii_strncasecmp(text, "Subject:", 8) != 0) {
		*subject_r = g_strdup("");
		*body_r = text;
		return;
	}
	eol = strchr(text, '\n');
	if (eol == NULL)
		eol = text + strlen(text);
	*subject_r = g_strstrip(g_strndup(text + 8, (gsize)(eol - text - 8)));
	*body_r = *eol == '\0' ? eol : eol + 1;
	if (**body_r == '\n')
		(*body_r)++;
	else if ((*body_r)[0] == '\r' && (*body_r)[1] == '\n')
		*body_r += 2;
}

/* A subject is one header line: a value's line ends and tabs become
 * spaces, so that no variable can add a header. */
static char *
subject_line(const char *subject, GHashTable *vars)
{
	char *s = template_expand(subject, vars);

	for (char *c = s; *c != '\0'; c++)
		if (*c == '\r' || *c == '\n' || *c == '\t')
			*c = ' ';
	return g_strstrip(s);
}

static char *
body_text(const char *body, GHashTable *vars)
{
	char *text = template_expand(body, vars);
	GString *s = g_string_new(text);

	g_free(text);
	g_string_replace(s, "\r\n", "\n", 0);
	if (s->len == 0 || s->str[s->len - 1] != '\n')
		g_string_append_c(s, '\n');
	return g_string_free(s, FALSE);
}

int
template_render(struct list *l, const char *name, const char *language,
		GHashTable *vars, struct template_text *out, GError **error)
{
	GHashTable *own = NULL;
	char *text = NULL, *subject;
	const char *body;
	int r;

	memset(out, 0, sizeof(*out));
	r = template_find(l, name, language, &text, &out->language, NULL,
			  error);
	if (r < 0)
		return -1;
	if (r == 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
			    "no template \"%s\" for list %s", name,
			    list_fqdn(l));
		return -1;
	}
	if (vars == NULL)
		vars = own = template_vars_for_list(l);
	split_subject(text, &subject, &body);
	out->subject = subject_line(subject, vars);
	out->body = body_text(body, vars);
	g_free(subject);
	g_free(text);
	if (own != NULL)
		g_hash_table_destroy(own);
	return 0;
}

void
template_text_clear(struct template_text *t)
{
	g_free(t->subject);
	g_free(t->body);
	g_free(t->language);
	memset(t, 0, sizeof(*t));
}

int
template_send(struct list *l, const char *const *recipients, const char *name,
	      const char *language, GHashTable *vars, GMimeMessage *attach,
	      gboolean autoresponse, GError **error)
{
	struct template_text t;
	int r;

	if (template_render(l, name, language, vars, &t, error) < 0)
		return -1;
	if (autoresponse)
		r = notice_autorespond(l, recipients[0], t.subject, t.body,
				       attach, error);
	else
		r = notice_send(l, recipients, t.subject, t.body, attach,
				error);
	template_text_clear(&t);
	return r;
}
