/*
 * web.h - the web interface's requests, responses and routes: what a page
 * handler sees.  docs/web.md is the tour for admins; this is the one for
 * people adding a page.
 *
 * The server (server.c, libmicrohttpd) turns each HTTP request into a
 * struct web_request - the path split into percent-decoded segments, the
 * query, the urlencoded form of a POST, the cookies, the client's address
 * (after the site's trusted proxies), the session (session.h) when the
 * request carries a valid one - and hands it to the route whose first
 * path segment matches (routes.c: one row per page file).  The handler
 * fills a struct web_response, through the helpers below, and never
 * writes markup itself: pages come from view.h's templates.
 *
 * State lives in the var dir only (sessions, login counters, everything a
 * page changes goes through the same library calls as the command line),
 * so any host sharing the var dir serves any request.  The server runs a
 * pool of threads (web.threads); a handler opens what it needs per
 * request and shares nothing with other requests except through the
 * thread-safe caches it documents.
 *
 * Every response carries Content-Security-Policy (no scripts, no framing,
 * styles from this site only), X-Frame-Options DENY, Referrer-Policy
 * same-origin, X-Content-Type-Options nosniff, and Cache-Control no-store
 * for anything but the style sheet and public archive files.
 */
#ifndef HERALD_WEB_H
#define HERALD_WEB_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "list/list.h"
#include "store/site.h"

/* The log subsystem of the web interface. */
#define WEB_SUBSYS "web"

struct web_session;

struct web_request {
	struct site *site;
	const char *method;	/* "GET", "HEAD", "POST" */
	char **segments;	/* the path's segments, percent-decoded, NULL-
				 * terminated; "" segments dropped except a
				 * last one (a path ending in '/') */
	guint nsegments;
	gboolean trailing_slash;
	GHashTable *query;	/* name -> value (the first of each name) */
	GHashTable *form;	/* a POST's urlencoded fields, the same way */
	GHashTable *cookies;
	const char *client;	/* the client's address (the proxy's X-Forwarded-
				 * For when it is a trusted proxy) */
	gboolean https;		/* the client's scheme was https */
	const char *accept_language;	/* the header, or NULL */
	const char *user_agent;
	const char *content_type;
	const char *body;	/* a POST's raw body (NUL-terminated) */
	gsize body_length;
	struct web_session *session;	/* NULL: no (valid) session */
	char *lang;		/* the page's language: the session's, else the
				 * browser's first known one, else "en" */
	char *base_path;	/* web.base_url's path ("/" or "/lists/") */
	void *connection;	/* the server's (server.c) */
};

struct web_response {
	unsigned status;
	char *content_type;
	GBytes *body;
	int fd;			/* a file to send instead of body, or -1 */
	gsize fd_size;
	gboolean cacheable;	/* public, may be cached (css, archive) */
	char *csp;		/* a Content-Security-Policy of its own, or
				 * NULL for the default (no script, no inline
				 * style, no framing) */
	GPtrArray *headers;	/* name, value, name, value ... (owned) */
	struct web_deferred *deferred;	/* web_defer's, for the server */
};

typedef void (*web_handler)(struct web_request *rq, struct web_response *rs);

/* --- answers that wait for a durable queue entry --- */

struct queue_pending;
typedef void (*web_then)(struct web_request *rq, struct web_response *rs,
			 const GError *error, gpointer data);

/* The answer waits until entry (queue_pending_write, store/queue.h) is on
 * stable storage.  The server commits it together with other requests'
 * entries (one fsync of each directory for the batch), and meanwhile its
 * thread serves other connections; then it calls then(rq, rs, error,
 * data), with rq as it was, error NULL when the entry is durable, else why
 * it is not; then writes the response.  data is freed with data_free after
 * (may be NULL).  The handler writes no response itself; web_defer takes
 * entry. */
void web_defer(struct web_request *rq, struct web_response *rs,
	       struct queue_pending *entry, web_then then, gpointer data,
	       GDestroyNotify data_free);

struct web_route {
	const char *segment;	/* the first path segment ("" for "/") */
	web_handler handler;
};

/* The route tables of the page files (pages.h), each ended by
 * { NULL, NULL }; the list of them ended by NULL (routes.c). */
extern const struct web_route *const web_route_tables[];

/* --- inputs --- */

/* A query parameter, form field or cookie, or NULL. */
const char *web_query(struct web_request *rq, const char *name);
const char *web_form(struct web_request *rq, const char *name);
const char *web_cookie(struct web_request *rq, const char *name);
/* Segment i (0 is the route's own), or NULL past the end. */
const char *web_segment(struct web_request *rq, guint i);
gboolean web_is_post(struct web_request *rq);
/* A request header, or NULL (server.c). */
const char *web_request_header(struct web_request *rq, const char *name);

/* Opens the list named by segment i ("name@domain"); on failure answers
 * 404 itself and returns NULL.  The caller list_free's it. */
struct list *web_list_arg(struct web_request *rq, struct web_response *rs,
			  guint i);

/* Whether a POST carries the right CSRF token (field "csrf"): the
 * session's when there is one, else a signed, timed one made for the
 * form's path by web_csrf_token.  When it does not, answers 403 itself. */
gboolean web_check_csrf(struct web_request *rq, struct web_response *rs);
/* The token the page's forms carry (field "csrf"). */
char *web_csrf_token(struct web_request *rq);

/* --- outputs --- */

/* The page data every template can use: base (the base path), csrf,
 * lang, the logged-in identity (user.role, user.list, user.address),
 * site_name.  Handlers add their own members and pass it to web_page. */
JsonObject *web_page_data(struct web_request *rq);
/* Renders template with data (taking it) as the response, status given. */
void web_page(struct web_request *rq, struct web_response *rs,
	      unsigned status, const char *template, JsonObject *data);
/* An error page: status and a one-line message (escaped like all else). */
void web_error(struct web_request *rq, struct web_response *rs,
	       unsigned status, const char *message);
/* 303 See Other to path (relative to the base path: "listinfo/x@y"). */
void web_redirect(struct web_request *rq, struct web_response *rs,
		  const char *path);
/* A plain body of the given type. */
void web_body(struct web_response *rs, unsigned status, const char *type,
	      const char *body, gsize length);
void web_header(struct web_response *rs, const char *name, const char *value);

/* The path of a list's page: base + what + "/" + the list, percent-encoded
 * ("listinfo", "admin", ...), + "/" + rest when rest is given. */
char *web_list_path(struct web_request *rq, const char *what,
		    struct list *l, const char *rest);

/* --- the server (server.c) --- */

/* Starts serving on the listening socket listen_fd (libmicrohttpd's from
 * now on, closed by web_daemon_stop) in web.threads threads of their own;
 * NULL with *error when it cannot start.  web_daemon_stop lets the
 * requests under way finish. */
struct web_daemon;
struct web_daemon *web_daemon_start(struct site *site, int listen_fd,
				    GError **error);
void web_daemon_stop(struct web_daemon **dp);

#endif
