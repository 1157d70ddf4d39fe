/*
 * api_members.c - a list's members through the API (api.h):
 *
 *     GET    /api/v1/lists/LIST/members?limit=N&cursor=C&status=S&mode=M&q=T
 *     POST   /api/v1/lists/LIST/members   {"address", "name", "digest",
 *                                          "confirm", "welcome"} or
 *                                         {"members": [{...}, ...]}
 *     GET    /api/v1/lists/LIST/members/ADDRESS
 *     PATCH  /api/v1/lists/LIST/members/ADDRESS   {"name", "mode",
 *                                         "status", "options", "language"}
 *     DELETE /api/v1/lists/LIST/members/ADDRESS   ?goodbye=true
 *     GET    /api/v1/members/ADDRESS      the lists the address is on
 *
 * Adds and removes go through subscribe_request / unsubscribe_request as
 * an owner's (admin: no confirmation unless "confirm" asks for one), so
 * they are idempotent by nature: adding a member again answers
 * "already", removing a non-member "not-member", and nothing changes.
 * An owner's adds go through subscribe_group instead, which judges them
 * the same way but commits those of concurrent requests (and all of a
 * many-member POST) as one roster change.
 *
 * Pages are in address-key order; the cursor is the last key of the page
 * before, so a page stays right while members come and go.  Loading and
 * sorting 100,000 members costs more than a page may (docs/PERFORMANCE.md),
 * so pages, a member's GET and the search across lists read the member
 * views of web/memberview.h, the cache the roster pages use: kept per
 * process, keyed by roster_version (any change made by any host changes
 * the version, and the next request builds the view afresh).  A view of
 * 100,000 members takes about 10 MB; a loaded roster and its sorted
 * index, this file's own cache before, put 16 MB more on the service's
 * peak.  A view does not change once built, so pages read it without a
 * lock.
 */
#include "web/api.h"
#include "base/base.h"
#include "base/log.h"
#include "list/roster.h"
#include "list/subscribe.h"
#include "list/subscribe_group.h"
#include "mail/address.h"
#include "web/memberview.h"

#include <sodium.h>
#include <string.h>

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000

static JsonObject *member_object(struct list *l,
				 const struct memberview_entry *m)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "address", m->addr);
	json_object_set_string_member(o, "name", m->name);
	json_object_set_string_member(o, "mode", member_mode_name(m->mode));
	json_object_set_string_member(o, "status",
				      member_status_name(m->status));
	JsonObject *opts = json_object_new();
	static const char *const names[] = { "ack", "notmetoo", "hide", "mod",
					     "nodupes", NULL };
	for (const char *const *n = names; *n; n++)
		json_object_set_boolean_member(
			opts, *n, (m->options & member_option_bit(*n)) != 0);
	json_object_set_object_member(o, "options", opts);
	json_object_set_string_member(o, "language", m->language);
	json_object_set_int_member(o, "subscribed", m->subscribed);
	if (l)
		json_object_set_string_member(o, "list", list_fqdn(l));
	return o;
}

static char *cursor_encode(const char *key)
{
	size_t n = strlen(key);
	char *out = g_malloc(sodium_base64_ENCODED_LEN(
		n, sodium_base64_VARIANT_URLSAFE_NO_PADDING));
	sodium_bin2base64(out, sodium_base64_ENCODED_LEN(
			  n, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
			  (const unsigned char *)key, n,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

static char *cursor_decode(const char *text)
{
	size_t cap = strlen(text) + 1, n = 0;
	unsigned char *out = g_malloc(cap);
	if (sodium_base642bin(out, cap, text, strlen(text), NULL, &n, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) < 0 ||
	    memchr(out, '\0', n)) {
		g_free(out);
		return NULL;
	}
	out[n] = '\0';
	return (char *)out;
}

static gboolean int_param(struct web_response *rs, const char *text,
			  const char *name, int64_t min, int64_t max,
			  int64_t *value_r)
{
	char *end = NULL;
	if (!text)
		return TRUE;
	gint64 v = g_ascii_strtoll(text, &end, 10);
	if (!*text || *end || v < min || v > max) {
		char *d = g_strdup_printf("%s is a number from %" G_GINT64_FORMAT
					  " to %" G_GINT64_FORMAT ".", name,
					  min, max);
		api_problem(rs, 400, "parameter", "Bad parameter", d, name);
		g_free(d);
		return FALSE;
	}
	*value_r = v;
	return TRUE;
}

static void members_page(struct web_request *rq, struct web_response *rs,
			 struct list *l)
{
	int64_t limit = PAGE_DEFAULT;
	const char *status = web_query(rq, "status");
	const char *mode = web_query(rq, "mode");
	const char *q = web_query(rq, "q");
	const char *cursor = web_query(rq, "cursor");
	int want_status = -1, want_mode = -1;
	if (!int_param(rs, web_query(rq, "limit"), "limit", 1, PAGE_MAX,
		       &limit))
		return;
	if (status && (want_status = member_status_parse(status)) < 0) {
		api_problem(rs, 400, "parameter", "Bad parameter",
			    "status is enabled, byuser, byowner or bybounce.",
			    "status");
		return;
	}
	if (mode && (want_mode = member_mode_parse(mode)) < 0) {
		api_problem(rs, 400, "parameter", "Bad parameter",
			    "mode is regular, mime or plain.", "mode");
		return;
	}
	char *from = NULL;
	if (cursor && !(from = cursor_decode(cursor))) {
		api_problem(rs, 400, "parameter", "Bad cursor",
			    "Use the next_cursor of the page before.", "cursor");
		return;
	}
	char *needle = q ? g_utf8_casefold(q, -1) : NULL;
	GError *error = NULL;
	struct memberview *v = memberview_get(l, &error);
	if (!v) {
		api_gerror(rs, &error, NULL);
		g_free(from);
		g_free(needle);
		return;
	}
	JsonArray *a = json_array_new();
	struct memberview_entry e;
	char *next = NULL;
	guint i = from ? memberview_after(v, from) : 0, last = v->count;
	for (; i < v->count && json_array_get_length(a) < limit; i++) {
		memberview_at(v, FALSE, i, &e);
		if ((want_status >= 0 && (int)e.status != want_status) ||
		    (want_mode >= 0 && (int)e.mode != want_mode) ||
		    (needle && !memberview_address_holds(v, i, needle)))
			continue;
		json_array_add_object_element(a, member_object(NULL, &e));
		last = i;
	}
	/* A next page only when members remain past this one; the cursor
	 * is the last one's address key. */
	if (i < v->count && last < v->count) {
		char *key = g_ascii_strdown(memberview_at(v, FALSE, last,
							  &e)->addr, -1);
		next = cursor_encode(key);
		g_free(key);
	}
	guint total = v->count;
	memberview_unref(&v);
	JsonObject *o = json_object_new();
	json_object_set_array_member(o, "members", a);
	json_object_set_int_member(o, "total", total);
	if (next)
		json_object_set_string_member(o, "next_cursor", next);
	else
		json_object_set_null_member(o, "next_cursor");
	api_object(rs, 200, o);
	g_free(next);
	g_free(from);
	g_free(needle);
}

static const char *string_member(JsonObject *o, const char *name,
				 gboolean *bad)
{
	JsonNode *n = json_object_get_member(o, name);
	if (!n || JSON_NODE_HOLDS_NULL(n))
		return NULL;
	if (!JSON_NODE_HOLDS_VALUE(n) ||
	    json_node_get_value_type(n) != G_TYPE_STRING) {
		*bad = TRUE;
		return NULL;
	}
	return json_node_get_string(n);
}

/* -1 absent, else 0/1; *bad when present but no boolean. */
static int bool_member(JsonObject *o, const char *name, gboolean *bad)
{
	JsonNode *n = json_object_get_member(o, name);
	if (!n || JSON_NODE_HOLDS_NULL(n))
		return -1;
	if (!JSON_NODE_HOLDS_VALUE(n) ||
	    json_node_get_value_type(n) != G_TYPE_BOOLEAN) {
		*bad = TRUE;
		return -1;
	}
	return json_node_get_boolean(n);
}

static const char *const add_fields[] = { "address", "name", "digest",
					  "confirm", "welcome", NULL };

/* One {"address", ...} read into *r (its strings borrowed from m, but
 * r->address, the normalised address, is the caller's to free): TRUE, or
 * FALSE with *field_r (the field at fault) and *detail_r. */
static gboolean add_parse(JsonObject *m, struct subscribe_request *r,
			  const char **field_r, char **detail_r)
{
	gboolean bad = FALSE;
	GList *names = json_object_get_members(m);
	for (GList *n = names; n; n = n->next)
		if (!g_strv_contains(add_fields, n->data)) {
			*field_r = n->data;
			*detail_r = g_strdup_printf("Unknown field %s.",
						    (char *)n->data);
			g_list_free(names);
			return FALSE;
		}
	g_list_free(names);
	const char *address = string_member(m, "address", &bad);
	if (bad || !address) {
		*field_r = "address";
		*detail_r = g_strdup("address is a string, and needed.");
		return FALSE;
	}
	const char *name = string_member(m, "name", &bad);
	if (bad) {
		*field_r = "name";
		*detail_r = g_strdup("name is a string.");
		return FALSE;
	}
	static const char *const flags[] = { "digest", "confirm", "welcome" };
	int v[3];
	for (int i = 0; i < 3; i++) {
		v[i] = bool_member(m, flags[i], &bad);
		if (bad) {
			*field_r = flags[i];
			*detail_r = g_strdup_printf("%s is a boolean.",
						    flags[i]);
			return FALSE;
		}
	}
	char *addr = address_normalise(address, NULL);
	if (!addr) {
		*field_r = "address";
		*detail_r = g_strdup("That is not an email address.");
		return FALSE;
	}
	*r = (struct subscribe_request){
		.address = addr,
		.name = name,
		.digest = v[0] == 1,
		.requester = "admin",
		.via = "api",
		/* An owner's add unless the request asks that the address
		 * confirm (a sign-up form's). */
		.admin = v[1] != 1,
		.welcome = v[2] < 0 ? SUBSCRIBE_LIST_DEFAULT : v[2],
	};
	return TRUE;
}

/* An outcome's name in the answer, and its status. */
static const char *outcome_name(int outcome, int *status_r)
{
	switch (outcome) {
	case SUBSCRIBE_DONE:
		*status_r = 201;
		return "subscribed";
	case SUBSCRIBE_CONFIRM:
		*status_r = 202;
		return "confirmation-sent";
	case SUBSCRIBE_APPROVE:
		*status_r = 202;
		return "awaiting-approval";
	case SUBSCRIBE_ALREADY:
		*status_r = 200;
		return "already-member";
	case SUBSCRIBE_BANNED:
		*status_r = 403;
		return "banned";
	default:
		*status_r = 200;
		return subscribe_outcome_text(outcome);
	}
}

/* Adds the n parsed requests r: an owner's adds together, in one roster
 * change with whatever other threads add meanwhile
 * (list/subscribe_group.h), the others (confirm: true) one by one.
 * outcomes_r[i] for each; 0, or -1 with *error. */
static int add_all(struct list *l, const struct subscribe_request *r,
		   guint n, int *outcomes_r, GError **error)
{
	GArray *admin = g_array_new(FALSE, FALSE, sizeof *r);
	GArray *where = g_array_new(FALSE, FALSE, sizeof(guint));
	int ret = 0;
	for (guint i = 0; i < n && ret == 0; i++) {
		if (r[i].admin) {
			g_array_append_val(admin, r[i]);
			g_array_append_val(where, i);
		} else if ((outcomes_r[i] = subscribe_request(l, &r[i], NULL,
							      error)) < 0) {
			ret = -1;
		}
	}
	int *out = g_new0(int, admin->len + 1);
	if (ret == 0 && admin->len > 0 &&
	    (ret = subscribe_group(l, (struct subscribe_request *)admin->data,
				   admin->len, out, error)) == 0)
		for (guint j = 0; j < admin->len; j++)
			outcomes_r[g_array_index(where, guint, j)] = out[j];
	g_free(out);
	g_array_free(admin, TRUE);
	g_array_free(where, TRUE);
	return ret;
}

static void add_answer(struct web_response *rs, struct list *l,
		       JsonObject *b)
{
	const char *field = NULL;
	char *detail = NULL;
	GError *error = NULL;
	struct subscribe_request r;
	int outcome = -1, status = 200;
	if (!add_parse(b, &r, &field, &detail)) {
		api_problem(rs, 422, "field", "Bad member", detail, field);
		g_free(detail);
		return;
	}
	if (add_all(l, &r, 1, &outcome, &error) < 0) {
		api_gerror(rs, &error, "address");
	} else if (outcome == SUBSCRIBE_BANNED) {
		api_problem(rs, 403, "banned", "Banned",
			    "The address is in ban_list.", "address");
	} else {
		JsonObject *o = json_object_new();
		const char *name = outcome_name(outcome, &status);
		json_object_set_string_member(o, "outcome", name);
		json_object_set_string_member(
			o, "address", json_object_get_string_member(b, "address"));
		api_object(rs, status, o);
	}
	g_free((char *)r.address);
}

static void add_many(struct web_response *rs, struct list *l, JsonArray *a)
{
	guint n = json_array_get_length(a);
	/* Check every address before changing anything. */
	for (guint i = 0; i < n; i++) {
		JsonNode *e = json_array_get_element(a, i);
		gboolean bad = FALSE;
		JsonObject *m = JSON_NODE_HOLDS_OBJECT(e)
			? json_node_get_object(e) : NULL;
		const char *addr = m ? string_member(m, "address", &bad) : NULL;
		char *norm = addr && !bad ? address_normalise(addr, NULL) : NULL;
		if (!norm) {
			char *d = g_strdup_printf("members[%u] has no good "
						  "address.", i);
			api_problem(rs, 422, "field", "Bad members", d,
				    "members");
			g_free(d);
			return;
		}
		g_free(norm);
	}
	struct subscribe_request *r = g_new0(struct subscribe_request, n + 1);
	guint *index = g_new0(guint, n + 1);	/* r[j] is members[index[j]] */
	const char **fields = g_new0(const char *, n + 1);
	char **details = g_new0(char *, n + 1);
	int *outcomes = g_new0(int, n + 1);
	guint good = 0;
	for (guint i = 0; i < n; i++)
		if (add_parse(json_array_get_object_element(a, i), &r[good],
			      &fields[i], &details[i]))
			index[good++] = i;
	GError *error = NULL;
	if (add_all(l, r, good, outcomes, &error) < 0) {
		api_gerror(rs, &error, "members");
	} else {
		JsonArray *results = json_array_new();
		for (guint i = 0, j = 0; i < n; i++) {
			JsonObject *m = json_array_get_object_element(a, i);
			JsonObject *x = json_object_new();
			int status;
			json_object_set_string_member(
				x, "address",
				json_object_get_string_member(m, "address"));
			if (j < good && index[j] == i) {
				json_object_set_string_member(
					x, "outcome",
					outcome_name(outcomes[j++], &status));
			} else {
				json_object_set_string_member(x, "outcome",
							      "invalid");
				json_object_set_string_member(x, "field",
							      fields[i]);
				json_object_set_string_member(x, "detail",
							      details[i]);
			}
			json_array_add_object_element(results, x);
		}
		api_array(rs, "results", results);
	}
	for (guint j = 0; j < good; j++)
		g_free((char *)r[j].address);
	g_strfreev(details);
	g_free(outcomes);
	g_free(fields);
	g_free(index);
	g_free(r);
}

static void members_post(struct web_request *rq, struct web_response *rs,
			 struct list *l)
{
	JsonObject *b = api_body(rq, rs);
	if (!b)
		return;
	JsonNode *many = json_object_get_member(b, "members");
	if (!many)
		add_answer(rs, l, b);
	else if (!JSON_NODE_HOLDS_ARRAY(many) || json_object_get_size(b) != 1)
		api_problem(rs, 422, "field", "Bad members",
			    "members is an array of member objects, alone in "
			    "the body.", "members");
	else
		add_many(rs, l, json_node_get_array(many));
	json_object_unref(b);
}

/* --- one member --- */

struct patch {
	const char *address;
	JsonObject *body;
	const char *field;	/* at fault */
	char *detail;
	gboolean found;
};

static int patch_member(const struct roster *r, struct roster_change *c,
			void *ctx, GError **error)
{
	struct patch *p = ctx;
	const struct member *old = roster_find(r, p->address);
	if (!old)
		return 0;
	p->found = TRUE;
	struct member m = *old;
	gboolean bad = FALSE;
	const char *v;
	GList *names = json_object_get_members(p->body);
	for (GList *n = names; n && !p->detail; n = n->next) {
		const char *f = n->data;
		p->field = f;
		if (!strcmp(f, "name")) {
			if ((v = string_member(p->body, f, &bad)) && !bad)
				m.name = (char *)v;
			else
				p->detail = g_strdup("name is a string.");
		} else if (!strcmp(f, "language")) {
			if ((v = string_member(p->body, f, &bad)) && !bad &&
			    strlen(v) < 16)
				m.language = (char *)v;
			else
				p->detail = g_strdup("language is a short "
						     "string (\"\": the "
						     "list's).");
		} else if (!strcmp(f, "mode")) {
			int x;
			if ((v = string_member(p->body, f, &bad)) && !bad &&
			    (x = member_mode_parse(v)) >= 0)
				m.mode = x;
			else
				p->detail = g_strdup("mode is regular, mime or "
						     "plain.");
		} else if (!strcmp(f, "status")) {
			int x;
			if ((v = string_member(p->body, f, &bad)) && !bad &&
			    (x = member_status_parse(v)) >= 0) {
				if ((int)m.status != x) {
					m.status = x;
					m.status_time = g_get_real_time() /
							G_USEC_PER_SEC;
					m.status_reason = "api";
				}
			} else {
				p->detail = g_strdup("status is enabled, byuser, "
						     "byowner or bybounce.");
			}
		} else if (!strcmp(f, "options")) {
			JsonNode *on = json_object_get_member(p->body, f);
			JsonObject *oo = JSON_NODE_HOLDS_OBJECT(on)
				? json_node_get_object(on) : NULL;
			GList *opts = oo ? json_object_get_members(oo) : NULL;
			if (!oo)
				p->detail = g_strdup("options is an object of "
						     "booleans.");
			for (GList *o = opts; o && !p->detail; o = o->next) {
				unsigned bit = member_option_bit(o->data);
				int on_off = bool_member(oo, o->data, &bad);
				if (!bit || bad || on_off < 0)
					p->detail = g_strdup_printf(
						"options.%s: not an option, or "
						"not a boolean.",
						(char *)o->data);
				else if (on_off)
					m.options |= bit;
				else
					m.options &= ~bit;
			}
			g_list_free(opts);
		} else {
			p->detail = g_strdup_printf("%s cannot be changed "
						    "here.", f);
		}
	}
	g_list_free(names);
	if (!p->detail)
		roster_change_put(c, &m);
	return 0;
}

static void member_get(struct web_response *rs, struct list *l,
		       const char *address)
{
	GError *error = NULL;
	struct memberview *v = memberview_get(l, &error);
	if (!v) {
		api_gerror(rs, &error, NULL);
		return;
	}
	struct memberview_entry e;
	if (memberview_find(v, address, &e))
		api_object(rs, 200, member_object(l, &e));
	else
		api_problem(rs, 404, "not-member", "Not a member", address,
			    "address");
	memberview_unref(&v);
}

static void member_one(struct web_request *rq, struct web_response *rs,
		       struct list *l, const char *address)
{
	GError *error = NULL;
	if (api_method(rq, "GET")) {
		member_get(rs, l, address);
	} else if (api_method(rq, "DELETE")) {
		const char *goodbye = web_query(rq, "goodbye");
		struct subscribe_request r = {
			.address = address,
			.requester = "admin",
			.via = "api",
			.admin = TRUE,
			.welcome = goodbye ? !strcmp(goodbye, "true")
					   : SUBSCRIBE_LIST_DEFAULT,
		};
		int outcome = unsubscribe_request(l, &r, FALSE, NULL, &error);
		if (outcome < 0) {
			api_gerror(rs, &error, "address");
			return;
		}
		JsonObject *o = json_object_new();
		json_object_set_string_member(o, "address", address);
		json_object_set_string_member(
			o, "outcome", outcome == SUBSCRIBE_DONE ? "unsubscribed"
				    : outcome == SUBSCRIBE_NOT_MEMBER
				    ? "not-member"
				    : subscribe_outcome_text(outcome));
		api_object(rs, 200, o);
	} else if (api_method(rq, "PATCH")) {
		JsonObject *b = api_body(rq, rs);
		if (!b)
			return;
		struct patch p = { .address = address, .body = b };
		if (roster_edit(l, patch_member, &p, &error) < 0)
			api_gerror(rs, &error, NULL);
		else if (p.detail)
			api_problem(rs, 422, "field", "Bad member option",
				    p.detail, p.field);
		else if (!p.found)
			api_problem(rs, 404, "not-member", "Not a member",
				    address, "address");
		else
			member_get(rs, l, address);
		g_free(p.detail);
		json_object_unref(b);
	} else {
		api_not_allowed(rs, "GET, PATCH, DELETE");
	}
}

void api_members(struct web_request *rq, struct web_response *rs,
		 struct list *l, struct api_token *t)
{
	if (rq->nsegments == 5) {
		if (api_method(rq, "GET"))
			members_page(rq, rs, l);
		else if (api_method(rq, "POST"))
			members_post(rq, rs, l);
		else
			api_not_allowed(rs, "GET, POST");
	} else if (rq->nsegments == 6) {
		member_one(rq, rs, l, web_segment(rq, 5));
	} else {
		api_problem(rs, 404, "no-resource", "No such resource", NULL,
			    NULL);
	}
}

void api_member_find(struct web_request *rq, struct web_response *rs,
		     struct api_token *t)
{
	const char *address = web_segment(rq, 3);
	GPtrArray *names = api_lists_seen(rq, rs, t);
	if (!names)
		return;
	JsonArray *a = json_array_new();
	for (guint i = 0; i < names->len; i++) {
		struct list *l = list_open(rq->site, names->pdata[i], NULL);
		struct memberview *v = l ? memberview_get(l, NULL) : NULL;
		struct memberview_entry e;
		if (v && memberview_find(v, address, &e))
			json_array_add_object_element(a, member_object(l, &e));
		memberview_unref(&v);
		list_free(&l);
	}
	g_ptr_array_free(names, TRUE);
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "address", address);
	json_object_set_array_member(o, "memberships", a);
	api_object(rs, 200, o);
}
