/*
 * routes.c - the route tables of the web interface's page files (web.h,
 * pages.h).  A path's first segment picks the route; no two tables may
 * claim the same segment (test-web-view checks it).
 */
#include "web/pages.h"

const struct web_route *const web_route_tables[] = {
	web_routes_public,
	web_routes_confirm,
	web_routes_login,
	web_routes_options,
	web_routes_roster,
	web_routes_api,
	web_routes_archive,
	web_routes_admin,
	NULL,
};

const struct web_route *const web_admin_route_tables[] = {
	web_admin_routes_moderate,
	NULL,
};
