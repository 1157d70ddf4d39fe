/*
 * api_requests.c - what waits for a list's moderators, its bounces and its
 * archive, through the API (api.h):
 *
 *     GET  /api/v1/lists/LIST/held               held posts, oldest first
 *     GET  /api/v1/lists/LIST/held/ID            one, with its message
 *     POST /api/v1/lists/LIST/held/ID            {"action": "approve" |
 *                                                "reject" | "discard" |
 *                                                "defer", "reason"}
 *     GET  /api/v1/lists/LIST/requests           subscription requests
 *     POST /api/v1/lists/LIST/requests/TOKEN     {"action": "approve" |
 *                                                "reject" | "discard",
 *                                                "reason"}
 *     GET  /api/v1/lists/LIST/bounces            members with bounce info
 *     POST /api/v1/lists/LIST/bounces/ADDRESS    {"action": "reset"}
 *     GET  /api/v1/lists/LIST/archive?q=QUERY&limit=N   archive search
 *
 * Each is the call `herald held|requests|bounce|archive search` makes.
 */
#include "web/api.h"
#include "archive/archive.h"
#include "base/base.h"
#include "base/log.h"
#include "list/held.h"
#include "list/pending.h"
#include "list/roster.h"
#include "list/subscribe.h"

#include <string.h>

static void not_found(struct web_response *rs)
{
	api_problem(rs, 404, "no-resource", "No such resource", NULL, NULL);
}

/* The body's "action" and optional "reason"; NULL with a 422 answered. */
static char *action_arg(struct web_request *rq, struct web_response *rs,
			char **reason_r)
{
	JsonObject *b = api_body(rq, rs);
	if (!b)
		return NULL;
	JsonNode *a = json_object_get_member(b, "action");
	JsonNode *r = json_object_get_member(b, "reason");
	char *action = NULL;
	if (!a || !JSON_NODE_HOLDS_VALUE(a) ||
	    json_node_get_value_type(a) != G_TYPE_STRING)
		api_problem(rs, 422, "type", "Wrong type",
			    "action is a string.", "action");
	else if (r && (!JSON_NODE_HOLDS_VALUE(r) ||
		       json_node_get_value_type(r) != G_TYPE_STRING))
		api_problem(rs, 422, "type", "Wrong type",
			    "reason is a string.", "reason");
	else {
		action = g_strdup(json_node_get_string(a));
		*reason_r = r ? g_strdup(json_node_get_string(r)) : NULL;
	}
	json_object_unref(b);
	return action;
}

/* A decision POSTed: {"action": one of names, "reason"}.  The action's
 * index in names, with *reason_r (or NULL); -1 with the answer made (405
 * for another method than POST, allow naming those there are). */
static int decision(struct web_request *rq, struct web_response *rs,
		    const char *allow, const char *const *names,
		    char **reason_r)
{
	*reason_r = NULL;
	if (!api_method(rq, "POST")) {
		api_not_allowed(rs, allow);
		return -1;
	}
	char *action = action_arg(rq, rs, reason_r);
	if (!action)
		return -1;
	int found = -1;
	for (int i = 0; names[i] && found < 0; i++)
		if (!strcmp(names[i], action))
			found = i;
	g_free(action);
	if (found < 0) {
		char *all = g_strjoinv(", ", (char **)names);
		char *detail = g_strdup_printf("action is one of %s.", all);
		api_problem(rs, 422, "invalid", "Unknown action", detail,
			    "action");
		g_free(detail);
		g_free(all);
		g_clear_pointer(reason_r, g_free);
	}
	return found;
}

/* The answer to a decision done: {"<key>": value, "action": name}. */
static void decided(struct web_response *rs, const char *key,
		    const char *value, const char *action)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, key, value);
	json_object_set_string_member(o, "action", action);
	api_object(rs, 200, o);
}

static JsonObject *held_object(const struct held_post *p)
{
	JsonObject *o = json_object_new();
	json_object_set_int_member(o, "id", p->id);
	json_object_set_int_member(o, "held_at", p->held_at);
	json_object_set_string_member(o, "poster", p->poster);
	json_object_set_string_member(o, "subject", p->subject);
	json_object_set_string_member(o, "reason", p->reason);
	json_object_set_boolean_member(o, "deciding", p->deciding);
	return o;
}

static void held_one(struct web_request *rq, struct web_response *rs,
		     struct list *l, const char *idtext)
{
	char *end = NULL;
	gint64 id = g_ascii_strtoll(idtext, &end, 10);
	GError *error = NULL;
	if (!*idtext || *end || id <= 0) {
		api_problem(rs, 404, "no-held", "No such held post", idtext,
			    "id");
		return;
	}
	if (api_method(rq, "GET")) {
		struct held_post *p = NULL;
		int r = held_get(l, id, &p, &error);
		if (r < 0) {
			api_gerror(rs, &error, NULL);
		} else if (r == 0) {
			api_problem(rs, 404, "no-held", "No such held post",
				    idtext, "id");
		} else {
			JsonObject *o = held_object(p);
			/* The raw message as text: it is 8-bit at most, and
			 * invalid UTF-8 is replaced so the JSON stays valid. */
			char *msg = g_utf8_make_valid(p->msg, p->msg_len);
			json_object_set_string_member(o, "message", msg);
			g_free(msg);
			api_object(rs, 200, o);
		}
		held_post_free(&p);
		return;
	}
	/* In enum held_action's order. */
	static const char *const names[] = { "approve", "reject", "discard",
					     "defer", NULL };
	char *reason = NULL;
	int a = decision(rq, rs, "GET, POST", names, &reason);
	if (a < 0)
		return;
	if (held_decide(l, id, (enum held_action)a, reason, &error) < 0) {
		api_gerror(rs, &error, "id");
	} else {
		log_info(WEB_SUBSYS, "api: list %s: held post %" G_GINT64_FORMAT
			 ": %s", list_fqdn(l), id, names[a]);
		decided(rs, "id", idtext, names[a]);
	}
	g_free(reason);
}

void api_held(struct web_request *rq, struct web_response *rs,
	      struct list *l, struct api_token *t)
{
	if (rq->nsegments == 6) {
		held_one(rq, rs, l, web_segment(rq, 5));
		return;
	}
	if (rq->nsegments != 5) {
		not_found(rs);
		return;
	}
	if (!api_method(rq, "GET")) {
		api_not_allowed(rs, "GET");
		return;
	}
	GPtrArray *posts = NULL;
	GError *error = NULL;
	if (held_list(l, &posts, &error) < 0) {
		api_gerror(rs, &error, NULL);
		return;
	}
	JsonArray *a = json_array_new();
	for (guint i = 0; i < posts->len; i++)
		json_array_add_object_element(a, held_object(posts->pdata[i]));
	g_ptr_array_free(posts, TRUE);
	api_array(rs, "held", a);
}

void api_requests(struct web_request *rq, struct web_response *rs,
		  struct list *l, struct api_token *t)
{
	GError *error = NULL;
	if (rq->nsegments == 5) {
		if (!api_method(rq, "GET")) {
			api_not_allowed(rs, "GET");
			return;
		}
		GPtrArray *reqs = NULL;
		if (pending_list(l, PENDING_APPROVE, &reqs, &error) < 0) {
			api_gerror(rs, &error, NULL);
			return;
		}
		JsonArray *a = json_array_new();
		for (guint i = 0; i < reqs->len; i++) {
			const struct pending *p = reqs->pdata[i];
			if (p->kind != PENDING_SUBSCRIBE &&
			    p->kind != PENDING_UNSUBSCRIBE)
				continue;
			JsonObject *o = json_object_new();
			json_object_set_string_member(o, "token", p->token);
			json_object_set_string_member(o, "kind",
						      pending_kind_name(p->kind));
			json_object_set_string_member(o, "address", p->address);
			json_object_set_string_member(o, "name", p->name);
			json_object_set_string_member(o, "reason", p->reason);
			json_object_set_int_member(o, "created", p->created);
			json_array_add_object_element(a, o);
		}
		g_ptr_array_free(reqs, TRUE);
		api_array(rs, "requests", a);
		return;
	}
	const char *token = web_segment(rq, 5);
	if (rq->nsegments != 6 || !pending_token_valid(token)) {
		api_problem(rs, 404, "no-request", "No such request", token,
			    "token");
		return;
	}
	/* In enum subscribe_decision's order. */
	static const char *const names[] = { "approve", "reject", "discard",
					     NULL };
	char *reason = NULL;
	int d = decision(rq, rs, "POST", names, &reason);
	if (d < 0)
		return;
	if (subscribe_decide(l, token, (enum subscribe_decision)d, reason,
			     &error) < 0)
		api_gerror(rs, &error, "token");
	else
		decided(rs, "token", token, names[d]);
	g_free(reason);
}

static JsonObject *bounce_object(const struct member *m)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "address", m->addr);
	json_object_set_double_member(o, "score", m->bounce.score);
	json_object_set_int_member(o, "last", m->bounce.last);
	json_object_set_string_member(o, "reason", m->bounce.reason);
	json_object_set_string_member(o, "status",
				      member_status_name(m->status));
	json_object_set_int_member(o, "notices_left", m->bounce.notices_left);
	return o;
}

void api_bounces(struct web_request *rq, struct web_response *rs,
		 struct list *l, struct api_token *t)
{
	GError *error = NULL;
	if (rq->nsegments == 6) {
		const char *address = web_segment(rq, 5);
		static const char *const names[] = { "reset", NULL };
		char *reason = NULL;
		int r;
		if (decision(rq, rs, "POST", names, &reason) < 0)
			return;
		g_free(reason);
		if ((r = roster_reenable(l, address, &error)) < 0)
			api_gerror(rs, &error, NULL);
		else if (r == 0)
			api_problem(rs, 404, "not-member", "Not a member",
				    address, "address");
		else
			decided(rs, "address", address, names[0]);
		return;
	}
	if (rq->nsegments != 5) {
		not_found(rs);
		return;
	}
	if (!api_method(rq, "GET")) {
		api_not_allowed(rs, "GET");
		return;
	}
	struct roster *r = NULL;
	if (roster_load(l, &r, &error) < 0) {
		api_gerror(rs, &error, NULL);
		return;
	}
	GPtrArray *all = roster_members(r, TRUE);
	JsonArray *a = json_array_new();
	for (guint i = 0; i < all->len; i++) {
		const struct member *m = all->pdata[i];
		if (m->bounce.last != 0 || m->bounce.score > 0 ||
		    *m->bounce.reason || m->status == STATUS_BY_BOUNCE)
			json_array_add_object_element(a, bounce_object(m));
	}
	g_ptr_array_free(all, TRUE);
	roster_free(&r);
	api_array(rs, "bounces", a);
}

void api_archive(struct web_request *rq, struct web_response *rs,
		 struct list *l, struct api_token *t)
{
	if (rq->nsegments != 5) {
		not_found(rs);
		return;
	}
	if (!api_method(rq, "GET")) {
		api_not_allowed(rs, "GET");
		return;
	}
	const char *q = web_query(rq, "q");
	const char *lim = web_query(rq, "limit");
	char *end = NULL;
	gint64 limit = lim ? g_ascii_strtoll(lim, &end, 10) : 20;
	if (!q || !*q) {
		api_problem(rs, 400, "parameter", "Bad parameter",
			    "q is the search.", "q");
		return;
	}
	if ((lim && (!*lim || *end)) || limit < 1 || limit > 100) {
		api_problem(rs, 400, "parameter", "Bad parameter",
			    "limit is a number from 1 to 100.", "limit");
		return;
	}
	GError *error = NULL;
	struct archive *a = archive_open(l, &error);
	if (!a) {
		api_gerror(rs, &error, NULL);
		return;
	}
	GPtrArray *hits = archive_search(a, q, (int)limit, &error);
	archive_free(&a);
	if (!hits) {
		api_gerror(rs, &error, "q");
		return;
	}
	JsonArray *arr = json_array_new();
	for (guint i = 0; i < hits->len; i++) {
		const struct archive_hit *h = hits->pdata[i];
		JsonObject *o = json_object_new();
		json_object_set_string_member(o, "path", h->path);
		json_object_set_int_member(o, "date", h->date);
		json_object_set_string_member(o, "author", h->author);
		json_object_set_string_member(o, "subject", h->subject);
		json_array_add_object_element(arr, o);
	}
	g_ptr_array_free(hits, TRUE);
	api_array(rs, "hits", arr);
}
