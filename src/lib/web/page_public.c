/*
 * page_public.c - the pages anyone may see: the overview of advertised
 * lists, a list's listinfo page with its subscribe form, the style sheet.
 *
 *     GET  /                      advertised lists
 *     GET  /listinfo/LIST         description, info, links, subscribe form
 *     POST /listinfo/LIST         subscribe (email, fullname, pw, digest)
 *     GET  /static/herald.css     the style sheet
 *
 * A subscription goes through subscribe_request (list/subscribe.h), as
 * one by mail does: the list's subscribe_policy decides between done,
 * confirm and approve.  A request made on the web always needs the
 * address's confirmation unless the policy is open (0), and even then
 * Mailman 2.1 asked for it; herald too: a web form proves nothing about
 * who owns the address, so a web subscription is confirmed by mail
 * whatever the policy (docs/web.md).
 */
#include "web/pages.h"
#include "base/base.h"
#include "base/log.h"
#include "mail/address.h"
#include "list/listurls.h"
#include "list/subscribe.h"

#include <string.h>

GResource *herald_templates_get_resource(void);

/* The fields of a list every page about it shows. */
JsonObject *web_list_data(struct web_request *rq, struct list *l)
{
	JsonObject *o = json_object_new();
	char *real_name = list_get(l, "real_name", NULL);
	char *description = list_get(l, "description", NULL);
	char *info = list_get(l, "info", NULL);
	char *address = list_address(l, "");
	json_object_set_string_member(o, "fqdn", list_fqdn(l));
	json_object_set_string_member(o, "real_name", real_name);
	json_object_set_string_member(o, "description", description);
	json_object_set_string_member(o, "info", info);
	JsonArray *lines = json_array_new();
	char **split = g_strsplit(info ? info : "", "\n", -1);
	for (char **s = split; *s; s++)
		if (**s)
			json_array_add_string_element(lines, *s);
	g_strfreev(split);
	json_object_set_array_member(o, "info_lines", lines);
	json_object_set_string_member(o, "address", address);
	static const char *const pages[] = { "listinfo", "options", "admin",
					     "roster", NULL };
	for (const char *const *p = pages; *p; p++) {
		char *key = g_strconcat(*p, "_url", NULL);
		char *url = web_list_path(rq, *p, l, NULL);
		json_object_set_string_member(o, key, url);
		g_free(url);
		g_free(key);
	}
	char *archive = web_list_path(rq, "archives", l, "");
	json_object_set_string_member(o, "archive_url", archive);
	g_free(archive);
	g_free(real_name);
	g_free(description);
	g_free(info);
	g_free(address);
	return o;
}

static void index_page(struct web_request *rq, struct web_response *rs)
{
	if (rq->nsegments > 0) {
		web_error(rq, rs, 404, "There is no such page.");
		return;
	}
	GPtrArray *names = list_all(rq->site, NULL);
	JsonArray *lists = json_array_new();
	for (guint i = 0; names && i < names->len; i++) {
		struct list *l = list_open(rq->site, names->pdata[i], NULL);
		if (!l)
			continue;
		gboolean shown = list_get_bool(l, "advertised") ||
			session_may(rq->session, WEB_ROLE_OWNER, list_fqdn(l));
		if (shown) {
			JsonObject *d = web_list_data(rq, l);
			json_object_set_string_member(
				d, "url", json_object_get_string_member(
						  d, "listinfo_url"));
			json_array_add_object_element(lists, d);
		}
		list_free(&l);
	}
	if (names)
		g_ptr_array_free(names, TRUE);
	JsonObject *o = web_page_data(rq);
	json_object_set_string_member(o, "title",
				      view_translate(rq->lang, "Mailing lists"));
	json_object_set_array_member(o, "lists", lists);
	web_page(rq, rs, 200, "index", o);
}

static void static_page(struct web_request *rq, struct web_response *rs)
{
	const char *name = web_segment(rq, 1);
	if (!name || strcmp(name, "herald.css") || rq->nsegments != 2) {
		web_error(rq, rs, 404, "There is no such page.");
		return;
	}
	GBytes *b = g_resource_lookup_data(herald_templates_get_resource(),
					   "/herald/templates/web/herald.css",
					   0, NULL);
	web_body(rs, 200, "text/css; charset=utf-8",
		 g_bytes_get_data(b, NULL), g_bytes_get_size(b));
	g_bytes_unref(b);
	rs->cacheable = TRUE;
}

static void listinfo_show(struct web_request *rq, struct web_response *rs,
			  struct list *l, unsigned status, const char *notice,
			  const char *error)
{
	JsonObject *o = web_page_data(rq);
	JsonObject *d = web_list_data(rq, l);
	int64_t policy = list_get_int(l, "subscribe_policy");
	int64_t roster = list_get_int(l, "private_roster");
	json_object_set_boolean_member(d, "confirm", TRUE);
	json_object_set_boolean_member(d, "approve", policy >= 2);
	json_object_set_boolean_member(d, "digestable",
				       list_get_bool(l, "digestable"));
	if (roster > 0 && !session_may(rq->session, roster == 1
				       ? WEB_ROLE_MEMBER : WEB_ROLE_MODERATOR,
				       list_fqdn(l)) &&
	    !session_may(rq->session, WEB_ROLE_MODERATOR, list_fqdn(l)))
		json_object_remove_member(d, "roster_url");
	json_object_set_string_member(o, "title", json_object_get_string_member(
						      d, "real_name"));
	json_object_set_object_member(o, "list", d);
	if (notice)
		json_object_set_string_member(o, "notice",
					      view_translate(rq->lang, notice));
	if (error)
		json_object_set_string_member(o, "error", error);
	web_page(rq, rs, status, "listinfo", o);
}

static void subscribe_post(struct web_request *rq, struct web_response *rs,
			   struct list *l)
{
	const char *email = web_form(rq, "email");
	const char *name = web_form(rq, "fullname");
	const char *pw = web_form(rq, "pw");
	char *addr = email ? address_normalise(email, NULL) : NULL;
	if (!addr) {
		listinfo_show(rq, rs, l, 400, NULL,
			      view_translate(rq->lang,
					     "That is not an email address."));
		return;
	}
	struct subscribe_request r = {
		.address = addr,
		.name = name && *name ? name : NULL,
		.digest = web_form(rq, "digest") != NULL,
		.password = pw && *pw ? pw : NULL,
		/* Someone other than the address asks: a confirmation by
		 * mail whatever the policy (subscribe.h). */
		.requester = "web",
		.via = "web",
		.welcome = SUBSCRIBE_LIST_DEFAULT,
	};
	GError *error = NULL;
	int outcome = subscribe_request(l, &r, NULL, &error);
	if (outcome < 0) {
		log_error(WEB_SUBSYS, "list %s: subscribing %s: %s",
			  list_fqdn(l), addr, error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "The subscription could not be made "
			  "now. Please try again later.");
	} else {
		log_info(WEB_SUBSYS, "list %s: subscription of %s from %s: %s",
			 list_fqdn(l), addr, rq->client,
			 subscribe_outcome_text(outcome));
		/* The same answer whatever the outcome, so the form tells a
		 * stranger nothing about who is a member or banned. */
		listinfo_show(rq, rs, l, 200,
			      "Thank you. If the address can be subscribed, a "
			      "message asking for confirmation is on its way "
			      "to it.", NULL);
	}
	g_free(addr);
}

static void listinfo_page(struct web_request *rq, struct web_response *rs)
{
	struct list *l = web_list_arg(rq, rs, 1);
	if (!l)
		return;
	if (rq->nsegments != 2)
		web_error(rq, rs, 404, "There is no such page.");
	else if (!web_is_post(rq))
		listinfo_show(rq, rs, l, 200, NULL, NULL);
	else if (web_check_csrf(rq, rs))
		subscribe_post(rq, rs, l);
	list_free(&l);
}

const struct web_route web_routes_public[] = {
	{ "", index_page },
	{ "static", static_page },
	{ "listinfo", listinfo_page },
	{ NULL, NULL },
};
