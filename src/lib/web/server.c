/*
 * server.c - the web interface's HTTP server: libmicrohttpd, its limits,
 * and the turning of its requests into struct web_request (web.h).
 *
 * libmicrohttpd runs web.threads threads, each with its own poll loop on
 * the one listening socket; a handler runs in the thread that read its
 * request.  Its limits are the server's defences against clients that
 * cost without asking anything: web.max_connections connections at once,
 * web.timeout seconds of idleness (a client trickling a byte at a time
 * keeps its connection: a whole-request deadline is the reverse proxy's,
 * docs/web.md), 64 KB of request line and headers
 * (more gets 431 from libmicrohttpd itself), web.max_body bytes of body (a
 * larger Content-Length gets 413 before any of the body is read, a body
 * that grows past it while arriving gets 413 once it ends).  A request
 * with both Content-Length and chunked Transfer-Encoding, or a malformed
 * Content-Length, is refused by libmicrohttpd with 400 (request smuggling
 * needs two readings of one request).
 *
 * Each request takes an opened site that an earlier request left, reread
 * when etc/herald.conf changed since (site_take), so a setting changed on
 * any host takes effect at the next request; a site holds only what the
 * file says, so no request sees another's state.  The listening socket
 * (listener.h, made by the caller in src/herald/web.c) is libmicrohttpd's
 * for the daemon's life.
 *
 * An answer that waits for a durable queue entry (web_defer: the RFC 8058
 * one-click POST) suspends its connection, so that its thread serves
 * others meanwhile, and hands the entry to the committer (queue.h), which
 * commits the entries of many requests at once and resumes each
 * connection once its entry is on stable storage; access_handler is then
 * called again and writes the answer.
 */
#include "web/web.h"
#include "web/session.h"
#include "web/view.h"
#include "base/base.h"
#include "base/log.h"
#include "store/queue.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Request line and headers, and the buffers libmicrohttpd works in. */
#define WEB_CONNECTION_MEMORY (64 * 1024)

struct upload {
	GString *body;
	gboolean too_big;
	gboolean ambiguous;	/* Content-Length and Transfer-Encoding */
	gboolean answered;	/* a response is queued already */
	struct call *waiting;	/* suspended until its entry is durable */
};

struct server_ctx {
	char *var_dir;
	gsize max_body;
	struct queue_committer *committer;
	GMutex lock;		/* guards what follows */
	GCond resumed;
	guint suspended;	/* connections waiting for the committer */
	gboolean stopping;	/* no more suspending: commit at once */
	GPtrArray *idle_sites;	/* opened sites no request holds */
};

/* Sites kept open for the next requests: about one per thread, more while
 * deferred answers hold theirs. */
#define IDLE_SITES_MAX 64

/* web_defer's promise: what to do once the entry is committed. */
struct web_deferred {
	struct queue_pending *entry;
	web_then then;
	gpointer data;
	GDestroyNotify data_free;
	GError *error;		/* the commit's, or NULL */
};

/* A request being answered: what handle() builds and frees, kept while the
 * connection is suspended (a deferred answer). */
struct call {
	struct server_ctx *ctx;
	struct web_request rq;
	char *client;
	char *url;
	struct web_deferred *deferred;
};

static GHashTable *string_table(void)
{
	return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

/* Percent-decodes text, with '+' as a space when plus_space (query strings
 * and forms); NULL when the result is not UTF-8 or holds a NUL. */
static char *decode(const char *text, gboolean plus_space)
{
	char *copy = g_strdup(text);
	if (plus_space)
		for (char *p = copy; *p; p++)
			if (*p == '+')
				*p = ' ';
	char *out = g_uri_unescape_string(copy, NULL);
	g_free(copy);
	if (out && !g_utf8_validate(out, -1, NULL))
		g_clear_pointer(&out, g_free);
	return out;
}

/* name=value&name=value into table (the first of each name wins);
 * undecodable pairs are dropped. */
static void parse_urlencoded(GHashTable *table, const char *text)
{
	char **pairs = g_strsplit(text, "&", -1);
	for (char **p = pairs; *p; p++) {
		if (!**p)
			continue;
		char *eq = strchr(*p, '=');
		char *raw_name = eq ? g_strndup(*p, eq - *p) : g_strdup(*p);
		char *name = decode(raw_name, TRUE);
		char *value = decode(eq ? eq + 1 : "", TRUE);
		if (name && value && !g_hash_table_contains(table, name)) {
			g_hash_table_insert(table, name, value);
			name = value = NULL;
		}
		g_free(name);
		g_free(value);
		g_free(raw_name);
	}
	g_strfreev(pairs);
}

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind,
				 const char *key, const char *value)
{
	GHashTable *t = cls;
	/* The unescape callback left them raw: decode here. */
	char *name = decode(key, TRUE);
	char *v = decode(value ? value : "", TRUE);
	if (name && v && !g_hash_table_contains(t, name)) {
		g_hash_table_insert(t, name, v);
		name = v = NULL;
	}
	g_free(name);
	g_free(v);
	return MHD_YES;
}

static GHashTable *parse_cookies(const char *header)
{
	GHashTable *t = string_table();
	if (!header)
		return t;
	char **parts = g_strsplit(header, ";", -1);
	for (char **p = parts; *p; p++) {
		char *eq = strchr(*p, '=');
		if (!eq)
			continue;
		char *name = g_strstrip(g_strndup(*p, eq - *p));
		char *value = g_strstrip(g_strdup(eq + 1));
		if (!g_hash_table_contains(t, name))
			g_hash_table_insert(t, name, value);
		else {
			g_free(name);
			g_free(value);
		}
	}
	g_strfreev(parts);
	return t;
}

/* Leaves the URL as it came: request.c decodes each segment itself, so
 * that an encoded '/' stays inside its segment. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* The peer's address as text ("unix" for a unix socket's client). */
static char *peer_address(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char buf[INET6_ADDRSTRLEN] = "unix";
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET,
				  &((const struct sockaddr_in *)sa)->sin_addr,
				  buf, sizeof buf);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((const struct sockaddr_in6 *)sa)->sin6_addr,
				  buf, sizeof buf);
	}
	return g_strdup(buf);
}

static gboolean proxy_trusted(struct site *site, const char *peer)
{
	char *list = site_get(site, "web.trusted_proxies", NULL);
	char **items = g_strsplit_set(list ? list : "", " ,", -1);
	gboolean trusted = g_strv_contains((const char *const *)items, peer);
	g_strfreev(items);
	g_free(list);
	return trusted;
}

/* Fills in the client's address and scheme: the peer's, or what a trusted
 * proxy says (the last X-Forwarded-For entry, the one it added). */
static void set_client(struct web_request *rq, struct MHD_Connection *c,
		       char **client_r)
{
	char *peer = peer_address(c);
	const char *xff = header(c, "X-Forwarded-For");
	const char *proto = header(c, "X-Forwarded-Proto");
	rq->https = FALSE;
	if (proxy_trusted(rq->site, peer)) {
		if (xff && *xff) {
			const char *last = strrchr(xff, ',');
			char *addr = g_strstrip(g_strdup(last ? last + 1 : xff));
			if (*addr && strlen(addr) < 64) {
				g_free(peer);
				peer = addr;
			} else {
				g_free(addr);
			}
		}
		rq->https = proto && !g_ascii_strcasecmp(proto, "https");
	}
	*client_r = peer;
	rq->client = peer;
}

static void add_security_headers(struct MHD_Response *r, gboolean cacheable,
				 const char *csp)
{
	MHD_add_response_header(r, "Content-Security-Policy", csp ? csp :
				"default-src 'none'; style-src 'self'; "
				"img-src 'self'; form-action 'self'; "
				"frame-ancestors 'none'; base-uri 'none'");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "same-origin");
	MHD_add_response_header(r, "Cache-Control",
				cacheable ? "public, max-age=300" : "no-store");
}

static enum MHD_Result send_response(struct MHD_Connection *c,
				     struct web_response *rs)
{
	struct MHD_Response *r;
	if (rs->fd >= 0) {
		r = MHD_create_response_from_fd(rs->fd_size, rs->fd);
		rs->fd = -1;	/* libmicrohttpd closes it */
	} else {
		gsize n = 0;
		const void *data = rs->body ? g_bytes_get_data(rs->body, &n)
					    : "";
		r = MHD_create_response_from_buffer(n, (void *)data,
						    MHD_RESPMEM_MUST_COPY);
	}
	if (!r)
		return MHD_NO;
	if (rs->content_type)
		MHD_add_response_header(r, "Content-Type", rs->content_type);
	for (guint i = 0; rs->headers && i + 1 < rs->headers->len; i += 2)
		MHD_add_response_header(r, rs->headers->pdata[i],
					rs->headers->pdata[i + 1]);
	add_security_headers(r, rs->cacheable, rs->csp);
	enum MHD_Result ok = MHD_queue_response(c, rs->status, r);
	MHD_destroy_response(r);
	return ok;
}

static void response_clear(struct web_response *rs)
{
	g_free(rs->content_type);
	g_free(rs->csp);
	if (rs->body)
		g_bytes_unref(rs->body);
	if (rs->fd >= 0)
		close(rs->fd);
	if (rs->headers)
		g_ptr_array_free(rs->headers, TRUE);
}

/* Splits the path below the base path into decoded segments; FALSE for a
 * path outside it or one that does not decode. */
static gboolean split_path(struct web_request *rq, const char *url)
{
	if (!g_str_has_prefix(url, rq->base_path) &&
	    strcmp(url, rq->base_path) != 0) {
		/* "/base" without its final slash is the base too. */
		size_t n = strlen(rq->base_path);
		if (n < 2 || strncmp(url, rq->base_path, n - 1) || url[n - 1])
			return FALSE;
		url = rq->base_path;
	}
	const char *rest = url + strlen(rq->base_path);
	char **raw = g_strsplit(rest, "/", -1);
	GPtrArray *segs = g_ptr_array_new();
	gboolean ok = TRUE;
	guint n = g_strv_length(raw);
	for (guint i = 0; i < n && ok; i++) {
		if (!raw[i][0])
			continue;
		char *s = decode(raw[i], FALSE);
		/* No segment may climb or hide: "." and ".." and anything
		 * with a NUL or a '/' once decoded go no further. */
		if (!s || !strcmp(s, ".") || !strcmp(s, "..") ||
		    strchr(s, '/'))
			ok = FALSE;
		if (s)
			g_ptr_array_add(segs, s);
	}
	rq->trailing_slash = n > 0 && !raw[n - 1][0] && n > 1;
	g_strfreev(raw);
	g_ptr_array_add(segs, NULL);
	rq->segments = (char **)g_ptr_array_free(segs, FALSE);
	rq->nsegments = g_strv_length(rq->segments);
	return ok;
}

/* web.base_url's path, ending in '/'. */
static char *base_path(struct site *site)
{
	char *url = site_get(site, "web.base_url", NULL);
	char *path = NULL;
	if (url && *url) {
		GUri *u = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
		if (u) {
			const char *p = g_uri_get_path(u);
			path = g_str_has_suffix(p, "/") ? g_strdup(p)
				: g_strconcat(p, "/", NULL);
			g_uri_unref(u);
		}
	}
	g_free(url);
	if (!path || path[0] != '/') {
		g_free(path);
		path = g_strdup("/");
	}
	return path;
}

/* The page's language: the first of the browser's that herald has. */
static char *pick_language(const char *accept)
{
	if (!accept)
		return g_strdup("en");
	char **items = g_strsplit(accept, ",", 16);
	char *lang = NULL;
	for (char **i = items; *i && !lang; i++) {
		char *tag = g_strstrip(g_strndup(*i, strcspn(*i, ";")));
		char *dash = strchr(tag, '-');
		if (dash)
			*dash = '\0';
		char *low = g_ascii_strdown(tag, -1);
		if (view_language_known(low))
			lang = low;
		else
			g_free(low);
		g_free(tag);
	}
	g_strfreev(items);
	return lang ? lang : g_strdup("en");
}

/* GET, HEAD and POST everywhere; PUT, PATCH and DELETE only for the API
 * (api.c), whose resources have them: a page would take them as a GET. */
static gboolean method_allowed(struct web_request *rq)
{
	const char *m = rq->method;
	if (!strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "POST"))
		return TRUE;
	return (!strcmp(m, "PUT") || !strcmp(m, "PATCH") ||
		!strcmp(m, "DELETE")) &&
	       rq->nsegments > 0 && !strcmp(rq->segments[0], "api");
}

const char *web_request_header(struct web_request *rq, const char *name)
{
	return header(rq->connection, name);
}

static void dispatch(struct web_request *rq, struct web_response *rs)
{
	const char *first = rq->nsegments ? rq->segments[0] : "";
	for (const struct web_route *const *t = web_route_tables; *t; t++)
		for (const struct web_route *r = *t; r->segment; r++)
			if (!strcmp(r->segment, first)) {
				r->handler(rq, rs);
				return;
			}
	web_error(rq, rs, 404, "There is no such page.");
}

void web_defer(struct web_request *rq, struct web_response *rs,
	       struct queue_pending *entry, web_then then, gpointer data,
	       GDestroyNotify data_free)
{
	g_assert(!rs->deferred);
	rs->deferred = g_new0(struct web_deferred, 1);
	rs->deferred->entry = entry;
	rs->deferred->then = then;
	rs->deferred->data = data;
	rs->deferred->data_free = data_free;
}

static void deferred_free(struct web_deferred **dp)
{
	struct web_deferred *d = *dp;
	if (!d)
		return;
	queue_pending_drop(&d->entry);
	if (d->data_free)
		d->data_free(d->data);
	g_clear_error(&d->error);
	g_free(d);
	*dp = NULL;
}

/* A site for a request: one a finished request left, reread if its file
 * changed since (the check opens the file: on NFS that revalidates it, so
 * a setting changed on any host takes effect at the next request), or a
 * new one. */
static struct site *site_take(struct server_ctx *ctx, GError **error)
{
	g_mutex_lock(&ctx->lock);
	struct site *site = ctx->idle_sites->len
		? g_ptr_array_steal_index_fast(ctx->idle_sites,
					       ctx->idle_sites->len - 1)
		: NULL;
	g_mutex_unlock(&ctx->lock);
	if (!site)
		return site_open(ctx->var_dir, error);
	if (site_reload_if_changed(site, error) < 0)
		site_free(&site);
	return site;
}

static void site_give_back(struct server_ctx *ctx, struct site **sitep)
{
	g_mutex_lock(&ctx->lock);
	if (ctx->idle_sites->len < IDLE_SITES_MAX) {
		g_ptr_array_add(ctx->idle_sites, *sitep);
		*sitep = NULL;
	}
	g_mutex_unlock(&ctx->lock);
	site_free(sitep);
}

/* The request's inputs, read from the connection; NULL (and a 503 in rs)
 * when the site does not open. */
static struct call *call_open(struct server_ctx *ctx, struct MHD_Connection *c,
			      const char *method, const char *url,
			      struct upload *up, struct web_response *rs)
{
	GError *error = NULL;
	struct site *site = site_take(ctx, &error);
	if (!site) {
		log_error(WEB_SUBSYS, "cannot open the site: %s",
			  error->message);
		g_error_free(error);
		web_body(rs, 503, "text/plain; charset=utf-8",
			 "Service unavailable\n", 20);
		return NULL;
	}
	struct call *call = g_new0(struct call, 1);
	struct web_request *rq = &call->rq;
	call->ctx = ctx;
	call->url = g_strdup(url);
	*rq = (struct web_request){
		.site = site,
		.method = method,
		.query = string_table(),
		.form = string_table(),
		.accept_language = header(c, "Accept-Language"),
		.user_agent = header(c, "User-Agent"),
		.content_type = header(c, "Content-Type"),
		.connection = c,
	};
	rq->base_path = base_path(site);
	rq->cookies = parse_cookies(header(c, "Cookie"));
	set_client(rq, c, &call->client);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_query,
				  rq->query);
	if (up->body) {
		rq->body = up->body->str;
		rq->body_length = up->body->len;
	}
	if (rq->body && rq->content_type &&
	    g_str_has_prefix(rq->content_type,
			     "application/x-www-form-urlencoded"))
		parse_urlencoded(rq->form, rq->body);
	rq->session = session_load(site, web_cookie(rq, SESSION_COOKIE));
	rq->lang = rq->session && rq->session->lang[0]
		? g_strdup(rq->session->lang)
		: pick_language(rq->accept_language);
	return call;
}

/* Logs a server error's answer, and frees the call. */
static void call_close(struct call **callp, struct web_response *rs)
{
	struct call *call = *callp;
	struct web_request *rq = &call->rq;
	if (rs->status >= 500)
		log_error(WEB_SUBSYS, "%s %s from %s: %u", rq->method,
			  call->url, call->client, rs->status);
	deferred_free(&call->deferred);
	session_free(&rq->session);
	g_strfreev(rq->segments);
	g_hash_table_unref(rq->query);
	g_hash_table_unref(rq->form);
	g_hash_table_unref(rq->cookies);
	g_free(rq->lang);
	g_free(rq->base_path);
	g_free(call->client);
	g_free(call->url);
	site_give_back(call->ctx, &rq->site);
	g_free(call);
	*callp = NULL;
}

/* The committer's thread: the entry is committed (or not); the connection
 * goes on, and access_handler finishes the answer. */
static void entry_committed(gpointer data, const GError *error)
{
	struct call *call = data;
	struct server_ctx *ctx = call->ctx;
	if (error)
		call->deferred->error = g_error_copy(error);
	MHD_resume_connection(call->rq.connection);
	g_mutex_lock(&ctx->lock);
	ctx->suspended--;
	g_cond_broadcast(&ctx->resumed);
	g_mutex_unlock(&ctx->lock);
}

/* A deferred answer: the connection is suspended (its thread serves
 * others) and the entry goes to the committer; entry_committed resumes
 * it.  While the server stops, the entry is committed here instead.
 * TRUE when the call waits (up->waiting). */
static gboolean call_wait(struct call *call, struct upload *up)
{
	struct server_ctx *ctx = call->ctx;
	struct web_deferred *d = call->deferred;
	struct queue_pending *entry = d->entry;
	d->entry = NULL;
	g_mutex_lock(&ctx->lock);
	gboolean wait = !ctx->stopping;
	if (wait) {
		ctx->suspended++;
		up->waiting = call;
		MHD_suspend_connection(call->rq.connection);
		queue_committer_submit(ctx->committer, entry, entry_committed,
				       call);
	}
	g_mutex_unlock(&ctx->lock);
	if (!wait)
		(void)queue_pending_commit(&entry, &d->error);
	return wait;
}

/* The deferred answer, once its entry is committed. */
static void call_finish(struct call *call, struct web_response *rs)
{
	struct web_deferred *d = call->deferred;
	d->then(&call->rq, rs, d->error, d->data);
	g_assert(!rs->deferred);
}

/* Answers the request into rs; FALSE when the answer waits for a commit
 * (up->waiting), and access_handler is called again once it is done. */
static gboolean handle(struct server_ctx *ctx, struct MHD_Connection *c,
		       const char *method, const char *url, struct upload *up,
		       struct web_response *rs)
{
	struct call *call = call_open(ctx, c, method, url, up, rs);
	if (!call)
		return TRUE;
	struct web_request *rq = &call->rq;
	if (up->ambiguous)
		web_error(rq, rs, 400, "The request is malformed.");
	else if (up->too_big)
		web_error(rq, rs, 413, "The request is too large.");
	else if (!split_path(rq, url))
		web_error(rq, rs, 404, "There is no such page.");
	else if (!method_allowed(rq)) {
		web_error(rq, rs, 405, "That method is not allowed here.");
		web_header(rs, "Allow", "GET, HEAD, POST");
	} else
		dispatch(rq, rs);

	if (rs->deferred) {
		call->deferred = rs->deferred;
		rs->deferred = NULL;
		if (call_wait(call, up))
			return FALSE;
		call_finish(call, rs);
	}
	call_close(&call, rs);
	return TRUE;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c,
				      const char *url, const char *method,
				      const char *version,
				      const char *upload_data,
				      size_t *upload_data_size, void **con_cls)
{
	struct server_ctx *ctx = cls;
	struct upload *up = *con_cls;
	if (up && up->waiting) {
		/* Resumed: the entry is committed, or failed to be. */
		struct web_response rs = { .status = 200, .fd = -1 };
		call_finish(up->waiting, &rs);
		call_close(&up->waiting, &rs);
		enum MHD_Result ok = send_response(c, &rs);
		response_clear(&rs);
		return ok;
	}
	if (!up) {
		up = g_new0(struct upload, 1);
		*con_cls = up;
		const char *len = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
		const char *te = header(c, MHD_HTTP_HEADER_TRANSFER_ENCODING);
		if (len && g_ascii_strtoull(len, NULL, 10) > ctx->max_body)
			up->too_big = TRUE;
		/* Both lengths: two readings of one request are how requests
		 * are smuggled past a proxy; refuse it (RFC 9112 6.3). */
		up->ambiguous = len && te;
		if (!up->too_big && !up->ambiguous)
			return MHD_YES;
		/* Answer before reading any of the body. */
		struct web_response rs = { .status = 200, .fd = -1 };
		handle(ctx, c, method, url, up, &rs);
		enum MHD_Result ok = send_response(c, &rs);
		response_clear(&rs);
		up->answered = TRUE;
		return ok;
	}
	if (up->answered) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!up->too_big) {
			if (!up->body)
				up->body = g_string_new(NULL);
			if (up->body->len + *upload_data_size > ctx->max_body)
				up->too_big = TRUE;
			else
				g_string_append_len(up->body, upload_data,
						    *upload_data_size);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	struct web_response rs = { .status = 200, .fd = -1 };
	if (!handle(ctx, c, method, url, up, &rs)) {
		response_clear(&rs);
		return MHD_YES;	/* suspended: back here once committed */
	}
	enum MHD_Result ok = send_response(c, &rs);
	response_clear(&rs);
	return ok;
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;
	if (!up)
		return;
	if (up->waiting) {	/* the server stops: never answered */
		struct web_response rs = { .status = 200, .fd = -1 };
		call_close(&up->waiting, &rs);
	}
	if (up->body)
		g_string_free(up->body, TRUE);
	g_free(up);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char *text = g_strdup_vprintf(fmt, ap);
	log_warning(WEB_SUBSYS, "%s", g_strchomp(text));
	g_free(text);
}

static void server_ctx_clear(struct server_ctx *ctx)
{
	queue_committer_free(&ctx->committer);
	for (guint i = 0; i < ctx->idle_sites->len; i++)
		site_free((struct site **)&ctx->idle_sites->pdata[i]);
	g_ptr_array_free(ctx->idle_sites, TRUE);
	g_cond_clear(&ctx->resumed);
	g_mutex_clear(&ctx->lock);
	g_free(ctx->var_dir);
}

struct web_daemon {
	struct MHD_Daemon *mhd;
	struct server_ctx ctx;
};

struct web_daemon *web_daemon_start(struct site *site, int listen_fd,
				    GError **error)
{
	struct web_daemon *d = g_new0(struct web_daemon, 1);
	d->ctx.var_dir = g_strdup(site_var_dir(site));
	d->ctx.max_body = (gsize)site_get_int(site, "web.max_body");
	g_mutex_init(&d->ctx.lock);
	d->ctx.idle_sites = g_ptr_array_new();
	g_cond_init(&d->ctx.resumed);
	d->ctx.committer = queue_committer_new();
	d->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
		MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
		0, NULL, NULL, access_handler, &d->ctx,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned)site_get_int(site, "web.threads"),
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)site_get_int(site, "web.max_connections"),
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)site_get_int(site, "web.timeout"),
		MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)WEB_CONNECTION_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
		MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
		MHD_OPTION_END);
	if (!d->mhd) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "libmicrohttpd would not start");
		server_ctx_clear(&d->ctx);
		g_free(d);
		return NULL;
	}
	return d;
}

void web_daemon_stop(struct web_daemon **dp)
{
	struct web_daemon *d = *dp;
	if (!d)
		return;
	/* libmicrohttpd must not stop with a connection suspended: no more
	 * are, and those that are get their commit first. */
	g_mutex_lock(&d->ctx.lock);
	d->ctx.stopping = TRUE;
	while (d->ctx.suspended)
		g_cond_wait(&d->ctx.resumed, &d->ctx.lock);
	g_mutex_unlock(&d->ctx.lock);
	MHD_stop_daemon(d->mhd);
	server_ctx_clear(&d->ctx);
	g_free(d);
	*dp = NULL;
}
