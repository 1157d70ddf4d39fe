/*
 * page_site.c - the site administrator's page (Mailman 2.1's create and
 * rmlist, and the list of all lists).
 *
 *     GET  /admin/                 every list, the form to create one, the
 *                                  site settings (read only, no secrets)
 *     POST /admin/  op=create      list, owners, password: a new list
 *     POST /admin/  op=remove      list: a page asking to confirm
 *     POST /admin/  op=remove, do=confirm   removes the list
 *
 * The login is the site administrator's (web.admin_password, set by
 * `herald web password`).  Creating and removing go through list_create
 * and list_remove, as `herald lists create|remove` do; a removed list's
 * archive is kept, as the command's default.  The owners are told by mail
 * (templates newlist and rmlist): Mailman's newlist mailed the password in
 * clear, herald's notice does not (the site administrator gives it to
 * them some other way).  The notice of a removal is written before the
 * list goes: delivery sends mail of a list that is gone all the same.
 */
#include "web/pages.h"
#include "base/base.h"
#include "base/log.h"
#include "list/listurls.h"
#include "list/template.h"
#include "mail/address.h"

#include <string.h>

int (*web_lists_changed)(struct site *site, GError **error);

static JsonArray *site_settings_data(struct web_request *rq)
{
	JsonArray *a = json_array_new();
	for (const struct setting_def *d = site_settings(); d->key; d++) {
		if (strchr(d->key, '*'))
			continue;
		char *v = site_get(rq->site, d->key, NULL);
		JsonObject *o = json_object_new();
		json_object_set_string_member(o, "key", d->key);
		json_object_set_boolean_member(o, "hidden", FALSE);
		if (site_setting_secret(d)) {
			json_object_set_string_member(o, "value", view_translate(
				rq->lang, v && *v ? "(set)" : "(not set)"));
			json_object_set_boolean_member(o, "hidden", TRUE);
		} else {
			json_object_set_string_member(o, "value", v);
		}
		json_array_add_object_element(a, o);
		g_free(v);
	}
	return a;
}

static JsonArray *lists_data(struct web_request *rq)
{
	JsonArray *a = json_array_new();
	GPtrArray *names = list_all(rq->site, NULL);
	for (guint i = 0; names && i < names->len; i++) {
		struct list *l = list_open(rq->site, names->pdata[i], NULL);
		if (!l)
			continue;
		json_array_add_object_element(a, web_list_data(rq, l));
		list_free(&l);
	}
	if (names)
		g_ptr_array_free(names, TRUE);
	return a;
}

static void site_page(struct web_request *rq, struct web_response *rs,
		      unsigned status, const char *error)
{
	JsonObject *o = web_page_data(rq);
	json_object_set_string_member(o, "title", view_translate(
					      rq->lang, "Site administration"));
	json_object_set_array_member(o, "lists", lists_data(rq));
	json_object_set_array_member(o, "settings", site_settings_data(rq));
	char *action = g_strconcat(rq->base_path, "admin/", NULL);
	json_object_set_string_member(o, "action", action);
	g_free(action);
	if (error) {
		json_object_set_string_member(o, "error", error);
		const char *keep[] = { "list", "owners" };
		for (guint i = 0; i < G_N_ELEMENTS(keep); i++) {
			const char *v = web_form(rq, keep[i]);
			json_object_set_string_member(o, keep[i], v ? v : "");
		}
	}
	const char *done = web_query(rq, "done"), *list = web_query(rq, "list");
	char *notice = NULL;
	if (list && !g_strcmp0(done, "created"))
		notice = view_fill(rq->lang, "The list {} was created; its "
				   "owners were told by mail.", list, NULL);
	else if (list && !g_strcmp0(done, "removed"))
		notice = view_fill(rq->lang, "The list {} was removed; its "
				   "archive is kept.", list, NULL);
	if (notice)
		json_object_set_string_member(o, "notice", notice);
	g_free(notice);
	web_page(rq, rs, status, "site", o);
}

/* Tells the owners of l by the mail template name (newlist, rmlist). */
static void tell_owners(struct list *l, const char *name)
{
	GError *error = NULL;
	char **owners = list_get_lines(l, "owner");
	GHashTable *vars = template_vars_for_list(l);
	char *base = listurls_base(l);
	template_vars_take(vars, "admin_url",
			   g_strconcat(base, "admin/", list_fqdn(l), NULL));
	if (owners[0] && template_send(l, (const char *const *)owners, name,
				       NULL, vars, NULL, FALSE, &error) < 0) {
		log_error(WEB_SUBSYS, "list %s: telling the owners (%s): %s",
			  list_fqdn(l), name, error->message);
		g_error_free(error);
	}
	g_free(base);
	g_hash_table_unref(vars);
	g_strfreev(owners);
}

/* After a list came or went: the MTA's tables (web_lists_changed). */
static void lists_changed(struct web_request *rq)
{
	GError *error = NULL;
	if (web_lists_changed && web_lists_changed(rq->site, &error) < 0) {
		log_error(WEB_SUBSYS, "the Postfix tables were not updated: %s",
			  error->message);
		g_error_free(error);
	}
}

/* The owners typed in the form: one a line (or separated by commas or
 * blanks), each normalised; NULL with *error_r (translated) when one is
 * not an address or there is none. */
static GPtrArray *form_owners(struct web_request *rq, char **error_r)
{
	const char *text = web_form(rq, "owners");
	char **parts = g_strsplit_set(text ? text : "", "\r\n\t ,", -1);
	GPtrArray *owners = g_ptr_array_new_with_free_func(g_free);
	for (char **p = parts; *p && !*error_r; p++) {
		if (!**p)
			continue;
		char *addr = address_normalise(*p, NULL);
		if (addr)
			g_ptr_array_add(owners, addr);
		else
			*error_r = view_fill(rq->lang, "{} is not an email "
					     "address.", *p, NULL);
	}
	g_strfreev(parts);
	if (!*error_r && !owners->len)
		*error_r = g_strdup(view_translate(rq->lang, "Name at least one "
						   "owner."));
	if (*error_r) {
		g_ptr_array_free(owners, TRUE);
		return NULL;
	}
	g_ptr_array_add(owners, NULL);
	return owners;
}

static void site_redirect(struct web_request *rq, struct web_response *rs,
			  const char *done, const char *fqdn)
{
	char *el = view_url_part(fqdn);
	char *path = g_strdup_printf("admin/?done=%s&list=%s", done, el);
	web_redirect(rq, rs, path);
	g_free(path);
	g_free(el);
}

static void create_list(struct web_request *rq, struct web_response *rs)
{
	const char *fqdn = web_form(rq, "list");
	const char *password = web_form(rq, "password");
	const char *const names[] = { "password", NULL };
	char *error = NULL, *hash = NULL;
	GError *gerror = NULL;
	GPtrArray *owners = NULL;
	struct list *l = NULL;

	/* Everything is checked before the list is made: a list is created
	 * with its password or not at all. */
	if (!fqdn || list_name_check(fqdn, NULL, NULL, &gerror) < 0) {
		error = g_strdup(gerror ? gerror->message : view_translate(
			rq->lang, "Give the list's address."));
	} else if (!password || !*password) {
		error = g_strdup(view_translate(rq->lang, "Give the list an "
						"owner password."));
	} else if (list_check_setting("password", password, &hash,
				      &gerror) < 0) {
		error = g_strdup(gerror->message);
	} else if ((owners = form_owners(rq, &error)) &&
		   list_create(rq->site, fqdn, (const char *const *)owners->pdata,
			       &gerror) < 0) {
		error = g_strdup(gerror->message);
	} else if (owners) {
		l = list_open(rq->site, fqdn, &gerror);
		if (!l || list_set_checked(l, names, (const char *const[]){
						   hash, NULL }, &gerror) < 0) {
			error = g_strdup(gerror->message);
			log_error(WEB_SUBSYS, "list %s: created, but its password "
				  "was not set: %s", fqdn, gerror->message);
		}
	}
	g_clear_error(&gerror);
	if (error) {
		site_page(rq, rs, 400, error);
	} else {
		log_info(WEB_SUBSYS, "list %s created by the site administrator "
			 "from %s", fqdn, rq->client);
		lists_changed(rq);
		tell_owners(l, "newlist");
		site_redirect(rq, rs, "created", fqdn);
	}
	list_free(&l);
	if (owners)
		g_ptr_array_free(owners, TRUE);
	g_free(hash);
	g_free(error);
}

static void remove_list(struct web_request *rq, struct web_response *rs)
{
	struct list *l = NULL;
	const char *fqdn = web_form(rq, "list");
	if (fqdn && list_name_check(fqdn, NULL, NULL, NULL) == 0)
		l = list_open(rq->site, fqdn, NULL);
	if (!l) {
		web_error(rq, rs, 404, "There is no such list.");
		return;
	}
	if (g_strcmp0(web_form(rq, "do"), "confirm")) {
		JsonObject *o = web_page_data(rq);
		json_object_set_string_member(o, "title", view_translate(
						      rq->lang, "Remove a list"));
		char *what = view_fill(rq->lang, "Remove the list {} with its "
				       "members, settings and held messages? "
				       "Its archive is kept.", list_fqdn(l),
				       NULL);
		json_object_set_string_member(o, "what", what);
		g_free(what);
		json_object_set_string_member(o, "button", view_translate(
					      rq->lang, "Remove the list"));
		char *action = g_strconcat(rq->base_path, "admin/", NULL);
		json_object_set_string_member(o, "action", action);
		g_free(action);
		JsonArray *fields = json_array_new();
		const char *names[] = { "op", "list" };
		const char *values[] = { "remove", list_fqdn(l) };
		for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
			JsonObject *f = json_object_new();
			json_object_set_string_member(f, "name", names[i]);
			json_object_set_string_member(f, "value", values[i]);
			json_array_add_object_element(fields, f);
		}
		json_object_set_array_member(o, "fields", fields);
		web_page(rq, rs, 200, "confirm", o);
		list_free(&l);
		return;
	}
	GError *error = NULL;
	char *name = g_strdup(list_fqdn(l));
	tell_owners(l, "rmlist");
	list_free(&l);
	if (list_remove(rq->site, name, FALSE, &error) < 0) {
		site_page(rq, rs, 500, error->message);
		g_error_free(error);
	} else {
		log_info(WEB_SUBSYS, "list %s removed by the site administrator "
			 "from %s", name, rq->client);
		lists_changed(rq);
		site_redirect(rq, rs, "removed", name);
	}
	g_free(name);
}

void web_site_admin(struct web_request *rq, struct web_response *rs)
{
	if (rq->nsegments > 2) {
		web_error(rq, rs, 404, "There is no such page.");
		return;
	}
	if (!web_require(rq, rs, WEB_ROLE_SITE, NULL))
		return;
	if (!web_is_post(rq)) {
		site_page(rq, rs, 200, NULL);
		return;
	}
	if (!web_check_csrf(rq, rs))
		return;
	const char *op = web_form(rq, "op");
	if (!g_strcmp0(op, "create"))
		create_list(rq, rs);
	else if (!g_strcmp0(op, "remove"))
		remove_list(rq, rs);
	else
		web_error(rq, rs, 400, "There is no such action.");
}
