/*
 * pages.h - what the page files (page_*.c) share, and their route tables.
 *
 * Each page file serves the paths under one or a few first segments and
 * exports its table of routes; routes.c lists the tables.  Adding a page
 * is a function in the right file and a row in its table.
 */
#ifndef HERALD_WEB_PAGES_H
#define HERALD_WEB_PAGES_H

#include "web/session.h"
#include "web/view.h"
#include "web/web.h"

/* The fields of a list every page about it shows: fqdn, real_name,
 * description, info, info_lines, address, and the URLs listinfo_url,
 * options_url, admin_url, roster_url, archive_url (page_public.c). */
JsonObject *web_list_data(struct web_request *rq, struct list *l);

/* Whether the request's session may act as role on list l (NULL: the
 * site); when not, answers with the login form for that role, which
 * brings the user back to this path, and returns FALSE (page_login.c). */
gboolean web_require(struct web_request *rq, struct web_response *rs,
		     enum web_role role, struct list *l);

/* The pages under admin/LIST/ that page_members.c and page_held.c serve:
 * members..., held..., requests...; FALSE (nothing answered) for any
 * other path, which the settings pages take.  Each page checks its own
 * role (web_require). */
gboolean web_admin_subpage(struct web_request *rq, struct web_response *rs,
			   struct list *l);
/* What the admin pages of l share: web_page_data, the list (web_list_data),
 * the title (translated) and the tabs the session may see, tab current
 * (page_members.c). */
JsonObject *web_admin_page_data(struct web_request *rq, struct list *l,
				const char *tab, const char *title);
/* Sets o's notice and error (texts already in the page's language). */
void web_admin_say(JsonObject *o, const char *notice, const char *error);
/* "2026-12-07 01:30 UTC". */
char *web_admin_time(int64_t t);
/* admin/LIST/held[/ID] and admin/LIST/requests, what being "held" or
 * "requests", arg the next segment or NULL; the caller has checked the
 * moderator's role (page_held.c). */
void web_moderate_page(struct web_request *rq, struct web_response *rs,
		       struct list *l, const char *what, const char *arg);

extern const struct web_route web_routes_public[];	/* page_public.c */
extern const struct web_route web_routes_confirm[];	/* page_confirm.c */
extern const struct web_route web_routes_login[];	/* page_login.c */
extern const struct web_route web_routes_options[];	/* page_options.c */
extern const struct web_route web_routes_roster[];	/* page_roster.c */
extern const struct web_route web_routes_api[];	/* api.c */
extern const struct web_route web_routes_archive[];	/* page_archive.c */
extern const struct web_route web_routes_admin[];	/* page_admin.c */

/* The pages under admin/LIST/ that other page files serve (the roster,
 * the held posts, the requests), keyed by segment 2 ("members", "held",
 * "requests"); their handlers open the list (segment 1) and check the
 * login themselves.  Listed in routes.c, ended by NULL; page_admin.c
 * looks here before its settings categories. */
extern const struct web_route *const web_admin_route_tables[];

/* admin/: the site administrator's page (page_site.c). */
void web_site_admin(struct web_request *rq, struct web_response *rs);

/* Called after the site administrator created or removed a list (the
 * program sets it: the Postfix tables); NULL: nothing to do. */
extern int (*web_lists_changed)(struct site *site, GError **error);
/* The rows of web_admin_route_tables for members, held and requests
 * (page_members.c; they call web_admin_subpage). */
extern const struct web_route web_admin_routes_moderate[];

#endif
