/*
 * api.c - the REST API's entry (api.h, docs/api.md): the bearer token,
 * Idempotency-Key, problem details, and the resources lists, settings,
 * members/{address} and status.
 *
 *     GET    /api/v1/lists                          lists the token sees
 *     POST   /api/v1/lists                          create (site token)
 *     GET    /api/v1/lists/LIST                     a list and its settings
 *     DELETE /api/v1/lists/LIST                     remove (site token)
 *     GET    /api/v1/lists/LIST/settings            every setting
 *     GET    /api/v1/lists/LIST/settings/NAME       one, with its ETag
 *     PUT    /api/v1/lists/LIST/settings/NAME       {"value": ...}; If-Match
 *     .../members, held, requests, bounces, archive  api_members.c,
 *                                                   api_requests.c
 *     GET    /api/v1/members/ADDRESS                the lists it is on
 *     GET    /api/v1/status                         queues and hosts
 *     GET    /metrics                               api_status.c
 *
 * JSON comes and goes through json-glib only.  Every error is
 * application/problem+json naming the field or setting at fault, and an
 * error changes nothing: each change is one library call that checks all
 * it is given before it writes.
 *
 * Idempotency-Key: a POST that carries one has its answer stored under
 * api/idempotency/<token id>/<SHA-256 of the key> with a fingerprint of
 * the request; the same key again gets the stored answer (Idempotent-
 * Replayed: true), the same key with another request 422, and the same
 * key while the first is still being answered 409.  The answers are kept
 * for a day (removed when found older).
 */
#include "web/api.h"
#include "web/pages.h"
#include "base/base.h"
#include "base/log.h"
#include "list/list_settings.h"
#include "list/roster.h"
#include "mail/address.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#define PROBLEM_BASE "https://herald.invalid/problems/"
#define IDEMPOTENCY_LIFE_S 86400

/* --- answers --- */

void api_json(struct web_response *rs, unsigned status, JsonNode *node)
{
	JsonGenerator *g = json_generator_new();
	json_generator_set_root(g, node);
	gsize n = 0;
	char *text = json_generator_to_data(g, &n);
	web_body(rs, status, "application/json", text, n);
	g_free(text);
	g_object_unref(g);
	json_node_unref(node);
}

void api_object(struct web_response *rs, unsigned status, JsonObject *o)
{
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(n, o);
	api_json(rs, status, n);
}

void api_array(struct web_response *rs, const char *name, JsonArray *a)
{
	JsonObject *o = json_object_new();
	json_object_set_array_member(o, name, a);
	api_object(rs, 200, o);
}

void api_problem(struct web_response *rs, unsigned status, const char *type,
		 const char *title, const char *detail, const char *field)
{
	JsonObject *o = json_object_new();
	char *uri = g_strconcat(PROBLEM_BASE, type, NULL);
	json_object_set_string_member(o, "type", uri);
	json_object_set_string_member(o, "title", title);
	json_object_set_int_member(o, "status", status);
	if (detail)
		json_object_set_string_member(o, "detail", detail);
	if (field)
		json_object_set_string_member(o, "field", field);
	g_free(uri);
	api_object(rs, status, o);
	g_free(rs->content_type);
	rs->content_type = g_strdup("application/problem+json");
}

void api_gerror(struct web_response *rs, GError **error, const char *field)
{
	GError *e = *error;
	unsigned status = 500;
	const char *type = "internal", *title = "Internal error";
	if (e->domain == HERALD_ERROR) {
		switch (e->code) {
		case HERALD_ERR_NOTFOUND:
			status = 404, type = "not-found", title = "Not found";
			break;
		case HERALD_ERR_EXISTS:
			status = 409, type = "exists", title = "It exists already";
			break;
		case HERALD_ERR_INVALID:
			status = 422, type = "invalid", title = "Invalid value";
			break;
		case HERALD_ERR_TIMEOUT:
		case HERALD_ERR_LOST:
			status = 503, type = "busy", title = "Busy, try again";
			break;
		}
	}
	if (status == 500)
		log_error(WEB_SUBSYS, "api: %s", e->message);
	api_problem(rs, status, type, title,
		    status == 500 ? "The site's log says why." : e->message,
		    field);
	g_clear_error(error);
}

void api_not_allowed(struct web_response *rs, const char *allow)
{
	api_problem(rs, 405, "method", "Method not allowed", NULL, NULL);
	web_header(rs, "Allow", allow);
}

gboolean api_method(struct web_request *rq, const char *method)
{
	if (!strcmp(method, "GET") && !strcmp(rq->method, "HEAD"))
		return TRUE;
	return !strcmp(rq->method, method);
}

JsonObject *api_body(struct web_request *rq, struct web_response *rs)
{
	JsonParser *p = json_parser_new();
	GError *error = NULL;
	JsonObject *o = NULL;
	if (!rq->body || !rq->body_length) {
		api_problem(rs, 400, "body", "A JSON object is needed",
			    "The request has no body.", NULL);
	} else if (!json_parser_load_from_data(p, rq->body, rq->body_length,
					       &error)) {
		api_problem(rs, 400, "body", "The body is not JSON",
			    error->message, NULL);
		g_error_free(error);
	} else if (!JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
		api_problem(rs, 400, "body", "A JSON object is needed",
			    "The body is JSON but not an object.", NULL);
	} else {
		o = json_object_ref(json_node_get_object(
			json_parser_get_root(p)));
	}
	g_object_unref(p);
	return o;
}

struct list *api_list_arg(struct web_request *rq, struct web_response *rs,
			  guint i)
{
	const char *name = web_segment(rq, i);
	struct list *l = NULL;
	if (name && list_name_check(name, NULL, NULL, NULL) == 0)
		l = list_open(rq->site, name, NULL);
	if (!l)
		api_problem(rs, 404, "no-list", "No such list", name, "list");
	return l;
}

/* --- the token --- */

static struct api_token *authenticate(struct web_request *rq,
				      struct web_response *rs)
{
	const char *h = web_request_header(rq, "Authorization");
	struct api_token *t = NULL;
	GError *error = NULL;
	if (!h || g_ascii_strncasecmp(h, "Bearer ", 7)) {
		api_problem(rs, 401, "unauthorized", "A bearer token is needed",
			    "Send Authorization: Bearer TOKEN (`herald api "
			    "token create`).", NULL);
		web_header(rs, "WWW-Authenticate", "Bearer realm=\"herald\"");
		return NULL;
	}
	const char *text = h + 7;
	while (*text == ' ')
		text++;
	int r = api_token_check(rq->site, text, &t, &error);
	if (r < 0) {
		api_gerror(rs, &error, NULL);
		return NULL;
	}
	if (r == 0 || t->revoked) {
		api_problem(rs, 401, "unauthorized",
			    r == 0 ? "Unknown token" : "Revoked token", NULL,
			    NULL);
		web_header(rs, "WWW-Authenticate",
			   "Bearer realm=\"herald\", error=\"invalid_token\"");
		api_token_free(&t);
		return NULL;
	}
	return t;
}

gboolean api_allowed(struct web_response *rs, struct api_token *t,
		     const char *list, gboolean write)
{
	if (*t->list && (!list || strcmp(list, t->list))) {
		api_problem(rs, 403, "scope", "Not this token's list",
			    list ? "The token is for another list."
				 : "The token is for one list only.", NULL);
		return FALSE;
	}
	if (write && t->read_only) {
		api_problem(rs, 403, "read-only", "A read-only token",
			    "The token may not change anything.", NULL);
		return FALSE;
	}
	return TRUE;
}

/* Whether the request changes something (a write). */
static gboolean writes(struct web_request *rq)
{
	return strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD");
}

/* --- lists and settings --- */

/* A setting's value as JSON by its type (passwords only as whether set). */
static JsonNode *setting_node(struct list *l, const struct list_setting *s)
{
	char *v = list_get(l, s->name, NULL);
	JsonNode *n = json_node_alloc();
	switch (s->type) {
	case LS_BOOL:
		json_node_init_boolean(n, v && !strcmp(v, "yes"));
		break;
	case LS_INT:
	case LS_ENUM:
		json_node_init_int(n, g_ascii_strtoll(v ? v : "0", NULL, 10));
		break;
	case LS_LIST: {
		JsonArray *a = json_array_new();
		char **lines = list_get_lines(l, s->name);
		for (char **p = lines; p && *p; p++)
			json_array_add_string_element(a, *p);
		g_strfreev(lines);
		json_node_init_array(n, a);
		json_array_unref(a);
		break;
	}
	case LS_PASSWORD:
		json_node_init_boolean(n, v && *v);
		break;
	default:
		json_node_init_string(n, v ? v : "");
	}
	g_free(v);
	return n;
}

/* The stored form of a setting, for the ETag. */
static char *setting_etag(struct list *l, const char *name)
{
	char *v = list_get(l, name, NULL);
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)(v ? v : ""),
			   v ? strlen(v) : 0);
	g_free(v);
	char hex[33];
	sodium_bin2hex(hex, sizeof hex, h, 16);
	return g_strdup_printf("\"%s\"", hex);
}

/* A JSON value as the text list_set takes, checked against the type; NULL
 * with a 422 answered. */
static char *setting_text(struct web_response *rs,
			  const struct list_setting *s, JsonNode *v)
{
	GType vt = v && JSON_NODE_HOLDS_VALUE(v) ? json_node_get_value_type(v)
						 : G_TYPE_INVALID;
	const char *want = NULL;
	switch (s->type) {
	case LS_BOOL:
		if (vt == G_TYPE_BOOLEAN)
			return g_strdup(json_node_get_boolean(v) ? "yes" : "no");
		want = "a boolean";
		break;
	case LS_INT:
		if (vt == G_TYPE_INT64)
			return g_strdup_printf("%" G_GINT64_FORMAT,
					       json_node_get_int(v));
		want = "an integer";
		break;
	case LS_ENUM:
		if (vt == G_TYPE_INT64)
			return g_strdup_printf("%" G_GINT64_FORMAT,
					       json_node_get_int(v));
		if (vt == G_TYPE_STRING)
			return g_strdup(json_node_get_string(v));
		want = "a choice's number or name";
		break;
	case LS_LIST:
		if (v && JSON_NODE_HOLDS_ARRAY(v)) {
			JsonArray *a = json_node_get_array(v);
			GString *out = g_string_new(NULL);
			for (guint i = 0; i < json_array_get_length(a); i++) {
				JsonNode *e = json_array_get_element(a, i);
				if (!JSON_NODE_HOLDS_VALUE(e) ||
				    json_node_get_value_type(e) !=
					    G_TYPE_STRING) {
					g_string_free(out, TRUE);
					out = NULL;
					break;
				}
				const char *str = json_node_get_string(e);
				if (strchr(str, '\n')) {
					g_string_free(out, TRUE);
					out = NULL;
					break;
				}
				g_string_append_printf(out, "%s\n", str);
			}
			if (out)
				return g_string_free(out, FALSE);
		}
		want = "an array of one-line strings";
		break;
	default:
		if (vt == G_TYPE_STRING)
			return g_strdup(json_node_get_string(v));
		want = "a string";
	}
	char *detail = g_strdup_printf("%s takes %s.", s->name, want);
	api_problem(rs, 422, "type", "Wrong type", detail, s->name);
	g_free(detail);
	return NULL;
}

static JsonObject *settings_object(struct list *l)
{
	JsonObject *o = json_object_new();
	for (const struct list_setting *s = list_settings(); s->name; s++)
		json_object_set_member(o, s->name, setting_node(l, s));
	return o;
}

static JsonObject *list_summary(struct list *l)
{
	JsonObject *o = json_object_new();
	char *real_name = list_get(l, "real_name", NULL);
	char *description = list_get(l, "description", NULL);
	json_object_set_string_member(o, "address", list_fqdn(l));
	json_object_set_string_member(o, "real_name", real_name);
	json_object_set_string_member(o, "description", description);
	json_object_set_boolean_member(o, "advertised",
				       list_get_bool(l, "advertised"));
	g_free(real_name);
	g_free(description);
	return o;
}

GPtrArray *api_lists_seen(struct web_request *rq, struct web_response *rs,
			  struct api_token *t)
{
	GError *error = NULL;
	GPtrArray *names = list_all(rq->site, &error);
	if (!names) {
		api_gerror(rs, &error, NULL);
		return NULL;
	}
	for (guint i = names->len; *t->list && i-- > 0;)
		if (strcmp(t->list, names->pdata[i]))
			g_ptr_array_remove_index(names, i);
	return names;
}

static void lists_get(struct web_request *rq, struct web_response *rs,
		      struct api_token *t)
{
	GPtrArray *names = api_lists_seen(rq, rs, t);
	if (!names)
		return;
	JsonArray *a = json_array_new();
	for (guint i = 0; i < names->len; i++) {
		struct list *l = list_open(rq->site, names->pdata[i], NULL);
		if (l)
			json_array_add_object_element(a, list_summary(l));
		list_free(&l);
	}
	g_ptr_array_free(names, TRUE);
	api_array(rs, "lists", a);
}

/* After a list came or went: the MTA's tables, as the site admin's page
 * does (pages.h). */
static void tables_refresh(struct web_request *rq)
{
	GError *error = NULL;
	if (web_lists_changed && web_lists_changed(rq->site, &error) < 0) {
		log_error(WEB_SUBSYS, "api: the Postfix tables were not "
			  "updated: %s", error->message);
		g_error_free(error);
	}
}

/* {"address": "x@y", "owners": ["a@b"]} */
static void lists_post(struct web_request *rq, struct web_response *rs)
{
	JsonObject *b = api_body(rq, rs);
	if (!b)
		return;
	JsonNode *addr = json_object_get_member(b, "address");
	JsonNode *owners = json_object_get_member(b, "owners");
	GPtrArray *ow = g_ptr_array_new_with_free_func(g_free);
	GError *error = NULL;
	if (!addr || !JSON_NODE_HOLDS_VALUE(addr) ||
	    json_node_get_value_type(addr) != G_TYPE_STRING) {
		api_problem(rs, 422, "type", "Wrong type",
			    "address is the list's posting address, a string.",
			    "address");
		goto out;
	}
	if (!owners || !JSON_NODE_HOLDS_ARRAY(owners) ||
	    json_array_get_length(json_node_get_array(owners)) == 0) {
		api_problem(rs, 422, "type", "Wrong type",
			    "owners is a non-empty array of addresses.",
			    "owners");
		goto out;
	}
	JsonArray *oa = json_node_get_array(owners);
	for (guint i = 0; i < json_array_get_length(oa); i++) {
		JsonNode *e = json_array_get_element(oa, i);
		char *norm = NULL;
		if (JSON_NODE_HOLDS_VALUE(e) &&
		    json_node_get_value_type(e) == G_TYPE_STRING)
			norm = address_normalise(json_node_get_string(e), NULL);
		if (!norm) {
			api_problem(rs, 422, "address", "Not an address",
				    "Each owner must be an email address.",
				    "owners");
			goto out;
		}
		g_ptr_array_add(ow, norm);
	}
	g_ptr_array_add(ow, NULL);
	const char *fqdn = json_node_get_string(addr);
	if (list_name_check(fqdn, NULL, NULL, &error) < 0) {
		api_gerror(rs, &error, "address");
		goto out;
	}
	if (list_create(rq->site, fqdn, (const char *const *)ow->pdata,
			&error) < 0) {
		api_gerror(rs, &error, "address");
		goto out;
	}
	log_info(WEB_SUBSYS, "api: list %s created", fqdn);
	tables_refresh(rq);
	struct list *l = list_open(rq->site, fqdn, &error);
	if (!l) {
		api_gerror(rs, &error, NULL);
		goto out;
	}
	char *loc = g_strconcat(rq->base_path, "api/v1/lists/", fqdn, NULL);
	web_header(rs, "Location", loc);
	g_free(loc);
	api_object(rs, 201, list_summary(l));
	list_free(&l);
out:
	g_ptr_array_free(ow, TRUE);
	json_object_unref(b);
}

static void list_one(struct web_request *rq, struct web_response *rs,
		     struct api_token *t)
{
	const char *fqdn = web_segment(rq, 3);
	if (api_method(rq, "DELETE")) {
		if (!api_allowed(rs, t, NULL, TRUE))
			return;
		GError *error = NULL;
		const char *purge = web_query(rq, "purge");
		struct list *l = api_list_arg(rq, rs, 3);
		if (!l)
			return;
		list_free(&l);
		if (list_remove(rq->site, fqdn, purge && !strcmp(purge, "true"),
				&error) < 0) {
			api_gerror(rs, &error, NULL);
			return;
		}
		log_info(WEB_SUBSYS, "api: list %s removed", fqdn);
		tables_refresh(rq);
		web_body(rs, 204, "application/json", "", 0);
		return;
	}
	if (!api_method(rq, "GET")) {
		api_not_allowed(rs, "GET, DELETE");
		return;
	}
	struct list *l = api_list_arg(rq, rs, 3);
	if (!l)
		return;
	JsonObject *o = list_summary(l);
	struct roster *r = NULL;
	if (roster_load(l, &r, NULL) == 0)
		json_object_set_int_member(o, "members", roster_count(r));
	roster_free(&r);
	json_object_set_object_member(o, "settings", settings_object(l));
	api_object(rs, 200, o);
	list_free(&l);
}

static void setting_one(struct web_request *rq, struct web_response *rs,
			struct list *l, const char *name)
{
	const struct list_setting *s = list_setting_find(name);
	if (!s) {
		api_problem(rs, 404, "unknown-setting", "No such setting",
			    name, name);
		return;
	}
	if (api_method(rq, "PUT")) {
		const char *if_match = web_request_header(rq, "If-Match");
		char *etag = setting_etag(l, name);
		gboolean stale = if_match && strcmp(if_match, "*") &&
				 strcmp(if_match, etag);
		g_free(etag);
		if (stale) {
			api_problem(rs, 412, "stale", "The setting has changed",
				    "Someone changed it since your ETag: get "
				    "it again.", name);
			return;
		}
		JsonObject *b = api_body(rq, rs);
		if (!b)
			return;
		char *text = setting_text(rs, s, json_object_get_member(
							 b, "value"));
		json_object_unref(b);
		if (!text)
			return;
		GError *error = NULL;
		int ret = list_set(l, name, text, &error);
		g_free(text);
		if (ret < 0) {
			api_gerror(rs, &error, name);
			return;
		}
		log_info(WEB_SUBSYS, "api: list %s: %s changed", list_fqdn(l),
			 name);
	} else if (!api_method(rq, "GET")) {
		api_not_allowed(rs, "GET, PUT");
		return;
	}
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "name", name);
	json_object_set_string_member(o, "type",
				      list_setting_type_name(s->type));
	json_object_set_member(o, "value", setting_node(l, s));
	char *etag = setting_etag(l, name);
	web_header(rs, "ETag", etag);
	g_free(etag);
	api_object(rs, 200, o);
}

static void settings(struct web_request *rq, struct web_response *rs,
		     struct list *l)
{
	const char *name = web_segment(rq, 5);
	if (name && rq->nsegments == 6) {
		setting_one(rq, rs, l, name);
	} else if (rq->nsegments != 5) {
		api_problem(rs, 404, "no-resource", "No such resource", NULL,
			    NULL);
	} else if (!api_method(rq, "GET")) {
		api_not_allowed(rs, "GET");
	} else {
		api_object(rs, 200, settings_object(l));
	}
}

/* /api/v1/lists/LIST/<what>... */
static void list_resource(struct web_request *rq, struct web_response *rs,
			  struct api_token *t)
{
	static const struct {
		const char *name;
		void (*fn)(struct web_request *, struct web_response *,
			   struct list *, struct api_token *);
	} table[] = {
		{ "members", api_members },
		{ "held", api_held },
		{ "requests", api_requests },
		{ "bounces", api_bounces },
		{ "archive", api_archive },
	};
	const char *what = web_segment(rq, 4);
	struct list *l = api_list_arg(rq, rs, 3);
	if (!l)
		return;
	if (!strcmp(what, "settings")) {
		settings(rq, rs, l);
		list_free(&l);
		return;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(table); i++)
		if (!strcmp(what, table[i].name)) {
			table[i].fn(rq, rs, l, t);
			list_free(&l);
			return;
		}
	api_problem(rs, 404, "no-resource", "No such resource", what, NULL);
	list_free(&l);
}

static void lists_route(struct web_request *rq, struct web_response *rs,
			struct api_token *t)
{
	if (rq->nsegments == 3) {
		if (api_method(rq, "GET"))
			lists_get(rq, rs, t);
		else if (!api_method(rq, "POST"))
			api_not_allowed(rs, "GET, POST");
		else if (api_allowed(rs, t, NULL, TRUE))
			lists_post(rq, rs);
		return;
	}
	if (!api_allowed(rs, t, web_segment(rq, 3), writes(rq)))
		return;
	if (rq->nsegments == 4)
		list_one(rq, rs, t);
	else
		list_resource(rq, rs, t);
}

/* --- Idempotency-Key --- */

struct idem {
	char *path;	/* the stored answer */
	char *lock;	/* held while the first request is answered */
	char *fingerprint;
};

static char *sha256_hex(const void *data, gsize len)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	char hex[sizeof h * 2 + 1];
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	return g_strdup(hex);
}

static void idem_free(struct idem *d)
{
	if (d->lock)
		fs_unlink(d->lock);
	g_free(d->lock);
	g_free(d->path);
	g_free(d->fingerprint);
}

/* 1: answered from the store (or refused), 0: go on (d set up), -1: no
 * key. */
static int idem_begin(struct web_request *rq, struct web_response *rs,
		      struct api_token *t, struct idem *d)
{
	const char *key = web_request_header(rq, "Idempotency-Key");
	if (!key || !web_is_post(rq))
		return -1;
	if (!*key || strlen(key) > 255) {
		api_problem(rs, 400, "idempotency-key", "Bad Idempotency-Key",
			    "A key is 1 to 255 characters.", "Idempotency-Key");
		return 1;
	}
	char *dir = site_path(rq->site, "api", "idempotency", t->id, NULL);
	char *name = sha256_hex(key, strlen(key));
	GString *fp = g_string_new(rq->method);
	for (guint i = 0; i < rq->nsegments; i++)
		g_string_append_printf(fp, "/%s", rq->segments[i]);
	char *body = sha256_hex(rq->body ? rq->body : "", rq->body_length);
	g_string_append_printf(fp, " %s", body);
	g_free(body);
	d->fingerprint = g_string_free(fp, FALSE);
	d->path = g_build_filename(dir, name, NULL);
	char *lock = g_strconcat(d->path, ".lock", NULL);
	g_free(name);
	GError *error = NULL;
	int ret = 1;
	if (fs_mkdir_p(dir, 0700, &error) < 0) {
		api_gerror(rs, &error, NULL);
		goto out;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		GKeyFile *k = g_key_file_new();
		if (g_key_file_load_from_file(k, d->path, 0, NULL)) {
			int64_t at = g_key_file_get_int64(k, "answer", "time",
							  NULL);
			char *f = g_key_file_get_string(k, "answer",
							"fingerprint", NULL);
			if (at + IDEMPOTENCY_LIFE_S <
			    g_get_real_time() / G_USEC_PER_SEC) {
				/* Expired: forget it, answer afresh. */
				fs_unlink(d->path);
			} else if (!f || strcmp(f, d->fingerprint)) {
				api_problem(rs, 422, "idempotency-key",
					    "Idempotency-Key reused",
					    "The key was used for another "
					    "request.", "Idempotency-Key");
				g_free(f);
				g_key_file_free(k);
				goto out;
			} else {
				char *type = g_key_file_get_string(
					k, "answer", "type", NULL);
				char *text = g_key_file_get_string(
					k, "answer", "body", NULL);
				web_body(rs, (unsigned)g_key_file_get_integer(
						     k, "answer", "status", NULL),
					 type ? type : "application/json",
					 text ? text : "", text ? strlen(text) : 0);
				web_header(rs, "Idempotent-Replayed", "true");
				g_free(type);
				g_free(text);
				g_free(f);
				g_key_file_free(k);
				goto out;
			}
			g_free(f);
		}
		g_key_file_free(k);
		int fd = open(lock, O_CREAT | O_EXCL | O_WRONLY, 0600);
		if (fd >= 0) {
			close(fd);
			d->lock = lock;
			lock = NULL;
			/* Answered between our read and our lock? */
			if (access(d->path, F_OK) == 0) {
				fs_unlink(d->lock);
				g_clear_pointer(&d->lock, g_free);
				continue;
			}
			ret = 0;
			goto out;
		}
		if (errno != EEXIST) {
			set_errno_error(&error, "open(%s)", lock);
			api_gerror(rs, &error, NULL);
			goto out;
		}
		struct stat st;
		/* A lock left by a process that died answers nothing. */
		if (stat(lock, &st) == 0 &&
		    st.st_mtime + 600 < g_get_real_time() / G_USEC_PER_SEC) {
			fs_unlink(lock);
			continue;
		}
		api_problem(rs, 409, "idempotency-key", "Still being answered",
			    "A request with this key is under way.",
			    "Idempotency-Key");
		goto out;
	}
	api_problem(rs, 409, "idempotency-key", "Still being answered",
		    "A request with this key is under way.", "Idempotency-Key");
out:
	g_free(lock);
	g_free(dir);
	return ret;
}

static void idem_store(struct idem *d, struct web_response *rs)
{
	if (rs->status >= 500)
		return;	/* an outage: the retry should try again */
	GKeyFile *k = g_key_file_new();
	gsize n = 0;
	const char *data = rs->body ? g_bytes_get_data(rs->body, &n) : "";
	char *body = g_strndup(data ? data : "", n);
	g_key_file_set_int64(k, "answer", "time",
			     g_get_real_time() / G_USEC_PER_SEC);
	g_key_file_set_string(k, "answer", "fingerprint", d->fingerprint);
	g_key_file_set_integer(k, "answer", "status", (int)rs->status);
	g_key_file_set_string(k, "answer", "type",
			      rs->content_type ? rs->content_type : "");
	g_key_file_set_string(k, "answer", "body", body);
	gsize len;
	char *text = g_key_file_to_data(k, &len, NULL);
	GError *error = NULL;
	if (fs_write_atomic(d->path, text, len, &error) < 0) {
		log_error(WEB_SUBSYS, "api: storing an idempotent answer: %s",
			  error->message);
		g_error_free(error);
	}
	g_free(text);
	g_free(body);
	g_key_file_free(k);
}

/* --- the entry --- */

static void member_route(struct web_request *rq, struct web_response *rs,
			 struct api_token *t)
{
	if (rq->nsegments != 4)
		api_problem(rs, 404, "no-resource", "No such resource", NULL,
			    NULL);
	else if (!api_method(rq, "GET"))
		api_not_allowed(rs, "GET");
	else
		api_member_find(rq, rs, t);
}

static void api_route(struct web_request *rq, struct web_response *rs)
{
	const char *version = web_segment(rq, 1);
	const char *what = web_segment(rq, 2);
	if (!version || strcmp(version, "v1") || !what) {
		api_problem(rs, 404, "no-resource", "No such resource",
			    "The API lives under /api/v1/.", NULL);
		return;
	}
	struct api_token *t = authenticate(rq, rs);
	if (!t)
		return;
	struct idem d = { 0 };
	int idem = idem_begin(rq, rs, t, &d);
	if (idem == 1) {
		idem_free(&d);
		api_token_free(&t);
		return;
	}
	if (!strcmp(what, "lists")) {
		lists_route(rq, rs, t);
	} else if (!strcmp(what, "members")) {
		member_route(rq, rs, t);
	} else if (!strcmp(what, "status") && rq->nsegments == 3) {
		if (!api_method(rq, "GET"))
			api_not_allowed(rs, "GET");
		else if (api_allowed(rs, t, NULL, FALSE))
			api_status(rq, rs);
	} else {
		api_problem(rs, 404, "no-resource", "No such resource", what,
			    NULL);
	}
	if (idem == 0)
		idem_store(&d, rs);
	idem_free(&d);
	api_token_free(&t);
}

const struct web_route web_routes_api[] = {
	{ "api", api_route },
	{ "metrics", api_metrics_page },
	{ NULL, NULL },
};
