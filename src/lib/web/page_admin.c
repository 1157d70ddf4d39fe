/*
 * page_admin.c - a list owner's settings pages, Mailman 2.1's admin/LIST.
 *
 *     GET  /admin/LIST                   the owner: the General page; a
 *                                        moderator: the moderation links
 *     GET  /admin/LIST/CATEGORY[/SUB]    one category of settings
 *     POST /admin/LIST/CATEGORY[/SUB]    changes them (csrf)
 *     GET  /admindb/LIST                 303 to admin/LIST/held (the
 *                                        mail templates' admindb_url)
 *     /admin/LIST/members, held, ...     the rows of web_admin_route_tables
 *                                        (routes.c): other page files
 *     /admin/                            the site administrator's page
 *                                        (page_site.c)
 *
 * Every form is generated from the settings table (list/list_settings.h):
 * a setting's type picks the input, its doc is the help text, its choices
 * and range come from the table, and a setting nothing acts on yet says
 * so.  The categories and their order are the table's, with Mailman's
 * titles and URL names; Privacy is split into Mailman's four sub-pages at
 * the settings that start them (privacy_pages below), the table keeping
 * the sub-pages' settings in order.
 *
 * A change is checked exactly as `herald config set` checks it
 * (list_check_setting: list_set's own checks and error texts), every
 * field before any is stored: one wrong field changes nothing and is
 * shown with its error.  Then the changed settings are stored together,
 * under one lock (list_set_checked).  Passwords are hashed as list_set
 * hashes them, and never shown: an empty password field leaves the
 * password as it is.
 */
#include "web/pages.h"
#include "base/base.h"
#include "base/log.h"
#include "list/list_settings.h"

#include <string.h>

/* Mailman 2.1's titles of its admin categories (by URL name). */
static const struct {
	const char *name;
	const char *title;
} category_titles[] = {
	{ "general", "General options" },
	{ "passwords", "Passwords" },
	{ "language", "Language options" },
	{ "nondigest", "Non-digest options" },
	{ "digest", "Digest options" },
	{ "privacy", "Privacy options" },
	{ "bounce", "Bounce processing" },
	{ "archive", "Archiving options" },
	{ "gateway", "Mail/News gateway" },
	{ "autoreply", "Auto-responder" },
	{ "contentfilter", "Content filtering" },
	{ "topics", "Topics" },
};

/* Privacy's sub-pages: each starts at its setting and runs to the next
 * one's, in table order. */
static const struct {
	const char *name;
	const char *title;
	const char *first;
} privacy_pages[] = {
	{ "subscribing", "Subscription rules", "advertised" },
	{ "sender", "Sender filters", "default_member_moderation" },
	{ "recipient", "Recipient filters", "require_explicit_destination" },
	{ "spam", "Spam filters", "header_filter_rules" },
};

static const char *category_title(const char *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(category_titles); i++)
		if (!strcmp(category_titles[i].name, name))
			return category_titles[i].title;
	return name;
}

static gboolean category_exists(const char *name)
{
	for (const char *const *c = list_setting_categories(); *c; c++)
		if (!strcmp(*c, name))
			return TRUE;
	return FALSE;
}

static int privacy_page_index(const char *sub)
{
	for (guint i = 0; i < G_N_ELEMENTS(privacy_pages); i++)
		if (sub && !strcmp(privacy_pages[i].name, sub))
			return (int)i;
	return -1;
}

/* The settings of one page: category, and for privacy sub-page sub
 * (-1: the whole category). */
static GPtrArray *page_settings(const char *category, int sub)
{
	GPtrArray *out = g_ptr_array_new();
	int in_sub = -1;
	for (const struct list_setting *s = list_settings(); s->name; s++) {
		if (strcmp(s->category, category))
			continue;
		if (sub >= 0) {
			for (guint i = 0; i < G_N_ELEMENTS(privacy_pages); i++)
				if (!strcmp(s->name, privacy_pages[i].first))
					in_sub = (int)i;
			if (in_sub != sub)
				continue;
		}
		g_ptr_array_add(out, (gpointer)s);
	}
	return out;
}

/* A link of the page's navigation. */
static void nav_add(JsonArray *nav, const char *href, const char *label,
		    gboolean current)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "href", href);
	json_object_set_string_member(o, "label", label);
	json_object_set_boolean_member(o, "current", current);
	json_array_add_object_element(nav, o);
}

/* The links every admin page of l has: the categories (owners only) and
 * the moderation pages. */
static void admin_nav(struct web_request *rq, JsonObject *o, struct list *l,
		      gboolean owner, const char *current)
{
	JsonArray *nav = json_array_new();
	if (owner) {
		for (const char *const *c = list_setting_categories(); *c; c++) {
			char *href = web_list_path(rq, "admin", l, *c);
			nav_add(nav, href, view_translate(rq->lang,
							  category_title(*c)),
				current && !strcmp(current, *c));
			g_free(href);
		}
		char *href = web_list_path(rq, "admin", l, "members");
		nav_add(nav, href, view_translate(rq->lang, "Members"), FALSE);
		g_free(href);
	}
	static const char *const moderation[][2] = {
		{ "held", "Held messages" },
		{ "requests", "Subscription requests" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(moderation); i++) {
		char *href = web_list_path(rq, "admin", l, moderation[i][0]);
		nav_add(nav, href, view_translate(rq->lang, moderation[i][1]),
			FALSE);
		g_free(href);
	}
	json_object_set_array_member(o, "nav", nav);
}

/* s's choices ("0=poster|1=list") as radio buttons, value checked. */
static JsonArray *enum_choices(const struct list_setting *s, const char *value)
{
	JsonArray *a = json_array_new();
	char **choices = g_strsplit(s->choices, "|", -1);
	for (char **c = choices; *c; c++) {
		char *eq = strchr(*c, '=');
		if (!eq)
			continue;
		*eq = '\0';
		JsonObject *o = json_object_new();
		json_object_set_string_member(o, "value", *c);
		json_object_set_string_member(o, "label", eq + 1);
		json_object_set_boolean_member(o, "checked",
					       value && !strcmp(value, *c));
		json_array_add_object_element(a, o);
	}
	g_strfreev(choices);
	return a;
}

/* The yes/no choices of a LS_BOOL setting. */
static JsonArray *bool_choices(struct web_request *rq, const char *value)
{
	JsonArray *a = json_array_new();
	static const char *const v[][2] = { { "yes", "Yes" }, { "no", "No" } };
	for (guint i = 0; i < G_N_ELEMENTS(v); i++) {
		JsonObject *o = json_object_new();
		json_object_set_string_member(o, "value", v[i][0]);
		json_object_set_string_member(o, "label",
					      view_translate(rq->lang, v[i][1]));
		json_object_set_boolean_member(o, "checked",
					       value && !strcmp(value, v[i][0]));
		json_array_add_object_element(a, o);
	}
	return a;
}

/* A form value as the command line would take it: a browser sends a
 * textarea's line breaks as CRLF. */
static char *form_value(const struct list_setting *s, const char *v)
{
	GString *out = g_string_new(v);
	if (s->type == LS_TEXT || s->type == LS_LIST)
		g_string_replace(out, "\r\n", "\n", 0);
	return g_string_free(out, FALSE);
}

static const char again_prefix[] = "again.";

/* One setting's field: its type picks the input; value is what the
 * field shows (the stored value, or what was sent when a field was
 * wrong); passwords show only whether they are set. */
static JsonObject *setting_data(struct web_request *rq, struct list *l,
				const struct list_setting *s,
				GHashTable *sent, GHashTable *errors)
{
	JsonObject *o = json_object_new();
	char *stored = list_get(l, s->name, NULL);
	const char *value = sent && g_hash_table_contains(sent, s->name)
		? g_hash_table_lookup(sent, s->name) : stored;
	json_object_set_string_member(o, "name", s->name);
	json_object_set_string_member(o, "help", s->doc);
	json_object_set_boolean_member(o, "one_a_line", s->type == LS_LIST);
	json_object_set_boolean_member(o, "pending", s->flags & LS_PENDING);
	/* Every member set, so that none is looked up in the page's scope
	 * (view.h: Mustache's lookup from the innermost scope out). */
	const char *error = errors ? g_hash_table_lookup(errors, s->name)
				   : NULL;
	json_object_set_string_member(o, "error", error ? error : "");
	static const char *const kinds[] = { "is_radio", "is_int", "is_string",
					     "is_text", "is_password" };
	for (guint i = 0; i < G_N_ELEMENTS(kinds); i++)
		json_object_set_boolean_member(o, kinds[i], FALSE);
	json_object_set_boolean_member(o, "is_radio", s->type == LS_BOOL ||
				       s->type == LS_ENUM);
	switch (s->type) {
	case LS_BOOL:
		json_object_set_array_member(o, "radios",
					     bool_choices(rq, value));
		break;
	case LS_ENUM:
		json_object_set_array_member(o, "radios",
					     enum_choices(s, value));
		break;
	case LS_INT:
		json_object_set_boolean_member(o, "is_int", TRUE);
		json_object_set_int_member(o, "min", s->min);
		json_object_set_int_member(o, "max", s->max);
		json_object_set_string_member(o, "value", value);
		break;
	case LS_STRING:
		json_object_set_boolean_member(o, "is_string", TRUE);
		json_object_set_string_member(o, "value", value);
		break;
	case LS_TEXT:
	case LS_LIST:
		json_object_set_boolean_member(o, "is_text", TRUE);
		json_object_set_string_member(o, "value", value);
		break;
	case LS_PASSWORD: {
		char *again = g_strconcat(again_prefix, s->name, NULL);
		json_object_set_boolean_member(o, "is_password", TRUE);
		json_object_set_string_member(o, "again", again);
		json_object_set_string_member(o, "state", view_translate(
			rq->lang, stored && *stored ? "A password is set."
						    : "No password is set."));
		g_free(again);
		break;
	}
	}
	g_free(stored);
	return o;
}

/* The page of category (sub-page sub of privacy, else -1). */
static void settings_page(struct web_request *rq, struct web_response *rs,
			  struct list *l, const char *category, int sub,
			  unsigned status, GHashTable *sent,
			  GHashTable *errors)
{
	JsonObject *o = web_page_data(rq);
	JsonObject *ld = web_list_data(rq, l);
	const char *title = view_translate(rq->lang, category_title(category));
	char *full = view_fill(rq->lang, "{}: {}", title,
			       json_object_get_string_member(ld, "real_name"),
			       NULL);
	json_object_set_string_member(o, "title", full);
	json_object_set_string_member(o, "heading", title);
	g_free(full);
	json_object_set_object_member(o, "list", ld);
	json_object_set_boolean_member(o, "owner", TRUE);
	admin_nav(rq, o, l, TRUE, category);
	if (!strcmp(category, "privacy")) {
		JsonArray *subnav = json_array_new();
		for (guint i = 0; i < G_N_ELEMENTS(privacy_pages); i++) {
			char *rest = g_strconcat("privacy/",
						 privacy_pages[i].name, NULL);
			char *href = web_list_path(rq, "admin", l, rest);
			nav_add(subnav, href, view_translate(
				rq->lang, privacy_pages[i].title),
				(int)i == sub);
			g_free(href);
			g_free(rest);
		}
		json_object_set_array_member(o, "subnav", subnav);
		json_object_set_boolean_member(o, "has_subnav", TRUE);
	}
	char *rest = sub >= 0 ? g_strconcat(category, "/",
					    privacy_pages[sub].name, NULL)
			      : g_strdup(category);
	char *action = web_list_path(rq, "admin", l, rest);
	json_object_set_string_member(o, "action", action);
	g_free(action);
	g_free(rest);
	GPtrArray *settings = page_settings(category, sub);
	JsonArray *a = json_array_new();
	for (guint i = 0; i < settings->len; i++)
		json_array_add_object_element(a, setting_data(
			rq, l, settings->pdata[i], sent, errors));
	g_ptr_array_free(settings, TRUE);
	json_object_set_array_member(o, "settings", a);
	if (errors && g_hash_table_size(errors))
		json_object_set_string_member(o, "error", view_translate(
			rq->lang, "Nothing was changed: correct the fields "
				  "marked below."));
	else if (!g_strcmp0(web_query(rq, "saved"), "1"))
		json_object_set_string_member(o, "notice", view_translate(
			rq->lang, "Your changes are saved."));
	web_page(rq, rs, status, "admin", o);
}

/* What a password field asks for: NULL (leave it), the password, or
 * *error_r (translated) when the two fields differ. */
static const char *password_field(struct web_request *rq,
				  const struct list_setting *s,
				  const char **error_r)
{
	const char *v = web_form(rq, s->name);
	char *again = g_strconcat(again_prefix, s->name, NULL);
	const char *v2 = web_form(rq, again);
	g_free(again);
	if (!v || !*v)
		return NULL;
	if (g_strcmp0(v, v2)) {
		*error_r = view_translate(rq->lang, "The two passwords differ.");
		return NULL;
	}
	return v;
}

/* Checks every field of the page as list_set does, then stores the
 * changed ones, all at once (list_set_checked) or none: the settings page
 * again with the errors, or 303 back to it. */
static void settings_post(struct web_request *rq, struct web_response *rs,
			  struct list *l, const char *category, int sub)
{
	GHashTable *sent = g_hash_table_new_full(g_str_hash, g_str_equal,
						 NULL, g_free);
	GHashTable *errors = g_hash_table_new_full(g_str_hash, g_str_equal,
						   NULL, g_free);
	GPtrArray *names = g_ptr_array_new();
	GPtrArray *norms = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *settings = page_settings(category, sub);
	for (guint i = 0; i < settings->len; i++) {
		const struct list_setting *s = settings->pdata[i];
		const char *v = web_form(rq, s->name), *bad = NULL;
		char *value = NULL, *norm = NULL;
		GError *error = NULL;
		if (s->type == LS_PASSWORD)
			v = password_field(rq, s, &bad);
		else if (v)
			value = form_value(s, v);
		if (bad) {
			g_hash_table_insert(errors, (gpointer)s->name,
					    g_strdup(bad));
		} else if (!v) {
			/* unchecked radios, a field not sent, an empty
			 * password: left as they are */
		} else if (list_check_setting(s->name, value ? value : v, &norm,
					      &error) < 0) {
			g_hash_table_insert(errors, (gpointer)s->name,
					    g_strdup(error->message));
			g_error_free(error);
		} else {
			char *stored = list_get(l, s->name, NULL);
			if (s->type == LS_PASSWORD || g_strcmp0(norm, stored)) {
				g_ptr_array_add(names, (gpointer)s->name);
				g_ptr_array_add(norms, norm);
				norm = NULL;
			}
			g_free(stored);
		}
		g_free(norm);
		if (value)
			g_hash_table_insert(sent, (gpointer)s->name, value);
	}
	g_ptr_array_free(settings, TRUE);
	g_ptr_array_add(names, NULL);
	g_ptr_array_add(norms, NULL);
	GError *error = NULL;
	if (!g_hash_table_size(errors) && names->len > 1 &&
	    list_set_checked(l, (const char *const *)names->pdata,
			     (const char *const *)norms->pdata, &error) < 0) {
		log_error(WEB_SUBSYS, "list %s: storing settings: %s",
			  list_fqdn(l), error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "Please try again later.");
	} else if (g_hash_table_size(errors)) {
		settings_page(rq, rs, l, category, sub, 400, sent, errors);
	} else {
		for (guint i = 0; i + 1 < names->len; i++)
			log_info(WEB_SUBSYS, "list %s: %s changed %s from %s",
				 list_fqdn(l), web_role_name(rq->session->role),
				 (const char *)names->pdata[i], rq->client);
		GString *path = g_string_new(NULL);
		char *el = view_url_part(list_fqdn(l));
		g_string_printf(path, "admin/%s/%s", el, category);
		if (sub >= 0)
			g_string_append_printf(path, "/%s",
					       privacy_pages[sub].name);
		g_string_append(path, "?saved=1");
		web_redirect(rq, rs, path->str);
		g_string_free(path, TRUE);
		g_free(el);
	}
	g_ptr_array_free(names, TRUE);
	g_ptr_array_free(norms, TRUE);
	g_hash_table_unref(errors);
	g_hash_table_unref(sent);
}

/* A moderator's admin/LIST: what Mailman showed them, the moderation
 * pages. */
static void moderator_page(struct web_request *rq, struct web_response *rs,
			   struct list *l)
{
	JsonObject *o = web_page_data(rq);
	JsonObject *ld = web_list_data(rq, l);
	json_object_set_string_member(o, "title",
				      json_object_get_string_member(ld,
								    "real_name"));
	json_object_set_string_member(o, "heading", view_translate(
					      rq->lang, "List moderation"));
	json_object_set_object_member(o, "list", ld);
	admin_nav(rq, o, l, FALSE, NULL);
	web_page(rq, rs, 200, "admin", o);
}

/* admin/LIST/... once the list is known. */
static void list_admin(struct web_request *rq, struct web_response *rs,
		       struct list *l)
{
	const char *category = web_segment(rq, 2);
	const char *sub = web_segment(rq, 3);
	if (!category || !*category) {
		if (!session_may(rq->session, WEB_ROLE_OWNER, list_fqdn(l)) &&
		    session_may(rq->session, WEB_ROLE_MODERATOR, list_fqdn(l)))
			moderator_page(rq, rs, l);
		else if (web_require(rq, rs, WEB_ROLE_OWNER, l))
			settings_page(rq, rs, l, "general", -1, 200, NULL,
				      NULL);
		return;
	}
	int subpage = -1;
	if (!strcmp(category, "privacy")) {
		subpage = sub && *sub ? privacy_page_index(sub) : 0;
		if (subpage < 0)
			subpage = -2;
	} else if (sub && *sub) {
		subpage = -2;
	}
	const char *more = web_segment(rq, 4);
	if (!category_exists(category) || subpage < -1 || (more && *more) ||
	    rq->nsegments > 5) {
		web_error(rq, rs, 404, "There is no such page.");
		return;
	}
	if (!web_require(rq, rs, WEB_ROLE_OWNER, l))
		return;
	if (!web_is_post(rq))
		settings_page(rq, rs, l, category, subpage, 200, NULL, NULL);
	else if (web_check_csrf(rq, rs))
		settings_post(rq, rs, l, category, subpage);
}

static void admin_page(struct web_request *rq, struct web_response *rs)
{
	const char *name = web_segment(rq, 1);
	if (!name || !*name) {
		web_site_admin(rq, rs);
		return;
	}
	/* Another page file's page under admin/LIST/ (routes.c)? */
	const char *what = web_segment(rq, 2);
	for (const struct web_route *const *t = web_admin_route_tables;
	     what && *t; t++)
		for (const struct web_route *r = *t; r->segment; r++)
			if (!strcmp(r->segment, what)) {
				r->handler(rq, rs);
				return;
			}
	struct list *l = web_list_arg(rq, rs, 1);
	if (!l)
		return;
	list_admin(rq, rs, l);
	list_free(&l);
}

static void admindb_page(struct web_request *rq, struct web_response *rs)
{
	struct list *l = rq->nsegments == 2 ? web_list_arg(rq, rs, 1) : NULL;
	if (!l) {
		if (rq->nsegments != 2)
			web_error(rq, rs, 404, "There is no such page.");
		return;
	}
	char *el = view_url_part(list_fqdn(l));
	char *path = g_strconcat("admin/", el, "/held", NULL);
	web_redirect(rq, rs, path);
	g_free(path);
	g_free(el);
	list_free(&l);
}

const struct web_route web_routes_admin[] = {
	{ "admin", admin_page },
	{ "admindb", admindb_page },
	{ NULL, NULL },
};
