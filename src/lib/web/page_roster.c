/*
 * page_roster.c - who is on a list (Mailman 2.1's "roster" page).
 *
 *     GET  /roster/LIST?page=N   the members, ROSTER_PAGE a page, sorted by
 *                                address
 *
 * private_roster decides who may see it: 0 anyone, 1 the list's members
 * (a member session of the list) and its moderators and owners, 2 only
 * the moderators and owners; anyone else gets the login form for that
 * role.  Members who chose to hide (the hide option, Mailman's
 * ConcealSubscription) are left out for everyone but the moderators and
 * owners, and only the number of them is shown.  With obscure_addresses
 * an address is shown "user at domain" to all but the moderators and
 * owners, as Mailman did, to slow down harvesters.
 *
 * Big rosters: the page shows one slice of the members' view
 * (memberview.h), which is read from the roster only when it changed.
 */
#include "web/pages.h"
#include "base/log.h"
#include "list/roster.h"
#include "web/memberview.h"

#include <string.h>

#define ROSTER_PAGE 100

static char *shown_address(const char *addr, gboolean obscure)
{
	const char *at = strrchr(addr, '@');
	if (!obscure || !at)
		return g_strdup(addr);
	return g_strdup_printf("%.*s at %s", (int)(at - addr), addr, at + 1);
}

static JsonObject *pager_link(struct web_request *rq, struct list *l,
			      guint page, const char *text)
{
	JsonObject *o = json_object_new();
	char *base = web_list_path(rq, "roster", l, NULL);
	char *url = g_strdup_printf("%s?page=%u", base, page);
	json_object_set_string_member(o, "href", url);
	json_object_set_string_member(o, "text", view_translate(rq->lang,
								 text));
	g_free(url);
	g_free(base);
	return o;
}

static void roster_show(struct web_request *rq, struct web_response *rs,
			struct list *l, gboolean admin)
{
	GError *error = NULL;
	struct memberview *v = memberview_get(l, &error);
	if (!v) {
		log_error(WEB_SUBSYS, "list %s: %s", list_fqdn(l),
			  error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "Please try again later.");
		return;
	}
	/* Hidden members are left out before paging, so no page is short
	 * and no position gives them away. */
	guint total = admin ? v->count : v->nvisible;
	guint hidden = v->count - v->nvisible;
	const char *p = web_query(rq, "page");
	guint64 page = p ? g_ascii_strtoull(p, NULL, 10) : 1;
	guint pages = total ? (total + ROSTER_PAGE - 1) / ROSTER_PAGE
				 : 1;
	if (page < 1)
		page = 1;
	if (page > pages)
		page = pages;
	guint first = (guint)(page - 1) * ROSTER_PAGE;
	guint last = MIN(first + ROSTER_PAGE, total);
	gboolean obscure = !admin && list_get_bool(l, "obscure_addresses");

	JsonArray *rows = json_array_new();
	for (guint i = first; i < last; i++) {
		struct memberview_entry e;
		const struct memberview_entry *m = memberview_at(v, !admin, i,
								 &e);
		JsonObject *o = json_object_new();
		char *a = shown_address(m->addr, obscure);
		json_object_set_string_member(o, "address", a);
		json_object_set_string_member(o, "name", m->name);
		json_object_set_boolean_member(o, "digest",
					       m->mode != MODE_REGULAR);
		json_object_set_boolean_member(o, "hidden", admin &&
					       (m->options & OPT_CONCEAL));
		json_object_set_boolean_member(o, "nomail",
					       admin &&
					       m->status != STATUS_ENABLED);
		json_array_add_object_element(rows, o);
		g_free(a);
	}
	JsonObject *o = web_page_data(rq);
	JsonObject *d = web_list_data(rq, l);
	json_object_set_string_member(o, "title", json_object_get_string_member(
						      d, "real_name"));
	json_object_set_object_member(o, "list", d);
	json_object_set_array_member(o, "members", rows);
	char *n1 = g_strdup_printf("%u", total ? first + 1 : 0);
	char *n2 = g_strdup_printf("%u", last);
	char *n3 = g_strdup_printf("%u", total);
	char *n4 = g_strdup_printf("%u", hidden);
	char *range = view_fill(rq->lang, "Members {} to {} of {}", n1, n2, n3,
				NULL);
	json_object_set_string_member(o, "range", range);
	if (!admin && hidden) {
		char *h = view_fill(rq->lang, "{} members chose not to be "
				    "shown.", n4, NULL);
		json_object_set_string_member(o, "hidden_note", h);
		g_free(h);
	}
	g_free(range);
	g_free(n1);
	g_free(n2);
	g_free(n3);
	g_free(n4);
	json_object_set_boolean_member(o, "admin", admin);
	if (page > 1)
		json_object_set_object_member(o, "prev", pager_link(
			rq, l, (guint)page - 1, "Previous page"));
	if (page < pages)
		json_object_set_object_member(o, "next", pager_link(
			rq, l, (guint)page + 1, "Next page"));
	web_page(rq, rs, 200, "roster", o);
	memberview_unref(&v);
}

static void roster_page(struct web_request *rq, struct web_response *rs)
{
	struct list *l = web_list_arg(rq, rs, 1);
	if (!l)
		return;
	const char *fqdn = list_fqdn(l);
	gboolean admin = session_may(rq->session, WEB_ROLE_MODERATOR, fqdn);
	int64_t privacy = list_get_int(l, "private_roster");
	if (rq->nsegments != 2 || web_is_post(rq))
		web_error(rq, rs, 404, "There is no such page.");
	else if (admin || privacy == 0 ||
		 (privacy == 1 &&
		  session_may(rq->session, WEB_ROLE_MEMBER, fqdn)))
		roster_show(rq, rs, l, admin);
	else
		(void)web_require(rq, rs, privacy == 1 ? WEB_ROLE_MEMBER
				  : WEB_ROLE_MODERATOR, l);
	list_free(&l);
}

const struct web_route web_routes_roster[] = {
	{ "roster", roster_page },
	{ NULL, NULL },
};
