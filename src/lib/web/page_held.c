/*
 * page_held.c - the moderators' pages: held posts and the requests that
 * wait for a moderator (reached through web_admin_subpage, page_members.c,
 * which has checked the role).
 *
 *     GET  /admin/LIST/held          the held posts, oldest first, with a
 *                                    checkbox each for the bulk form
 *     POST /admin/LIST/held          bulk: do (approve, reject, discard,
 *                                    defer), reason, ban, accept, and one
 *                                    field post-ID per checked post
 *     GET  /admin/LIST/held/ID       one post: why it is held, its headers
 *                                    and its text
 *     POST /admin/LIST/held/ID       do, reason, ban, accept for that post
 *     GET  /admin/LIST/requests      subscriptions and unsubscriptions
 *                                    waiting for a moderator
 *     POST /admin/LIST/requests      token, do (approve, reject, discard),
 *                                    reason
 *
 * Decisions go through held_decide and subscribe_decide, as `herald held`
 * and `herald requests` do; "ban the sender" and "accept the sender" add
 * the poster to ban_list or accept_these_nonmembers through list_set, as
 * `herald config set` does (the setting is read, the address added and
 * the whole stored: two moderators adding at the same instant may lose
 * one of the two additions, never the rest of the setting).
 *
 * A held post is what a stranger wrote, so it is shown as text only: the
 * headers decoded (RFC 2047) and the first text/plain part decoded to
 * UTF-8, both escaped by the template like every value; an HTML part is
 * never rendered, only named in the list of the message's parts.
 */
#include "web/pages.h"
#include "base/base.h"
#include "base/log.h"
#include "list/held.h"
#include "list/pending.h"
#include "list/subscribe.h"
#include "mail/address.h"
#include "mail/message.h"

#include <string.h>

/* What of a held post's text a page shows, in bytes. */
#define BODY_MAX (64 * 1024)

static const char *const held_verbs[] = { "approve", "reject", "discard",
					  "defer" };

/* --- ban and accept ---------------------------------------------------------- */

/* Adds addr to the LS_LIST setting name unless there already: 1 added,
 * 0 there already, -1 error. */
static int setting_add(struct list *l, const char *name, const char *addr,
		       GError **error)
{
	char **lines = list_get_lines(l, name);
	GString *v = g_string_new(NULL);
	int there = 0;
	for (char **p = lines; p && *p; p++) {
		if (!g_ascii_strcasecmp(*p, addr))
			there = 1;
		g_string_append_printf(v, "%s\n", *p);
	}
	g_strfreev(lines);
	int rc = 0;
	if (!there) {
		g_string_append(v, addr);
		rc = list_set(l, name, v->str, error) < 0 ? -1 : 1;
	}
	g_string_free(v, TRUE);
	return rc;
}

/* --- held posts ------------------------------------------------------------ */

/* Decides post id as the form asks (do, reason, ban, accept); a line of
 * what happened, in the page's language, into said. */
static gboolean decide_one(struct web_request *rq, struct list *l,
			   int64_t id, GString *said)
{
	int action = held_action_parse(web_form(rq, "do") ?
				       web_form(rq, "do") : "");
	const char *reason = web_form(rq, "reason");
	char *sid = g_strdup_printf("%" G_GINT64_FORMAT, id);
	struct held_post *h = NULL;
	GError *error = NULL;
	gboolean ok = FALSE;
	char *line = NULL;
	if (action < 0) {
		line = view_fill(rq->lang, "Post {}: choose what to do.", sid,
				 NULL);
		goto out;
	}
	/* The poster, for ban and accept, before the decision drops it. */
	if (held_get(l, id, &h, &error) <= 0) {
		line = view_fill(rq->lang, "Post {}: there is no such post "
				 "(decided already?).", sid, NULL);
		goto out;
	}
	if (held_decide(l, id, action, reason && *reason ? reason : NULL,
			&error) < 0) {
		line = view_fill(rq->lang, "Post {}: {}", sid, error->message,
				 NULL);
		goto out;
	}
	log_info(WEB_SUBSYS, "list %s: held post %s: %s by %s%s%s",
		 list_fqdn(l), sid, held_verbs[action], rq->client,
		 rq->session->address[0] ? " " : "", rq->session->address);
	static const char *const done[] = {
		"Post {}: approved.", "Post {}: rejected.",
		"Post {}: discarded.", "Post {}: left held.",
	};
	line = view_fill(rq->lang, done[action], sid, NULL);
	ok = TRUE;
	const char *settings[] = { "ban_list", "accept_these_nonmembers" };
	const char *fields[] = { "ban", "accept" };
	for (guint i = 0; i < 2; i++) {
		if (!web_form(rq, fields[i]) || !h->poster[0])
			continue;
		int r = setting_add(l, settings[i], h->poster, &error);
		char *more = r < 0
			? view_fill(rq->lang, "{} not added to {}: {}",
				    h->poster, settings[i], error->message, NULL)
			: view_fill(rq->lang, "{} is in {}.", h->poster,
				    settings[i], NULL);
		g_clear_error(&error);
		char *both = g_strconcat(line, " ", more, NULL);
		g_free(line);
		g_free(more);
		line = both;
	}
out:
	g_string_append_printf(said, "%s%s", said->len ? " " : "", line);
	g_free(line);
	g_clear_error(&error);
	held_post_free(&h);
	g_free(sid);
	return ok;
}

static JsonObject *post_data(struct web_request *rq, struct list *l,
			     const struct held_post *h)
{
	JsonObject *p = json_object_new();
	char *sid = g_strdup_printf("%" G_GINT64_FORMAT, h->id);
	char *rest = g_strconcat("held/", sid, NULL);
	char *url = web_list_path(rq, "admin", l, rest);
	char *when = web_admin_time(h->held_at);
	json_object_set_string_member(p, "id", sid);
	json_object_set_string_member(p, "url", url);
	json_object_set_string_member(p, "poster", h->poster);
	json_object_set_string_member(p, "subject", h->subject);
	json_object_set_string_member(p, "reason", h->reason);
	json_object_set_string_member(p, "held_at", when);
	json_object_set_boolean_member(p, "deciding", h->deciding);
	json_object_set_boolean_member(p, "has_poster", h->poster[0] != '\0');
	g_free(sid);
	g_free(rest);
	g_free(url);
	g_free(when);
	return p;
}

static void held_list_page(struct web_request *rq, struct web_response *rs,
			   struct list *l, const char *said, gboolean ok)
{
	GPtrArray *posts = NULL;
	GError *error = NULL;
	if (held_list(l, &posts, &error) < 0) {
		log_error(WEB_SUBSYS, "list %s: held posts: %s", list_fqdn(l),
			  error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "Please try again later.");
		return;
	}
	JsonObject *o = web_admin_page_data(rq, l, "held", "Held posts");
	JsonArray *a = json_array_new();
	for (guint i = 0; i < posts->len; i++)
		json_array_add_object_element(a, post_data(rq, l,
							   posts->pdata[i]));
	json_object_set_array_member(o, "posts", a);
	json_object_set_boolean_member(o, "has_posts", posts->len > 0);
	char *action = web_list_path(rq, "admin", l, "held");
	json_object_set_string_member(o, "action", action);
	g_free(action);
	if (said)
		web_admin_say(o, ok ? said : NULL, ok ? NULL : said);
	web_page(rq, rs, 200, "held", o);
	g_ptr_array_unref(posts);
}

/* The bulk form: every checked post ("post-ID"), in id order. */
static void held_bulk(struct web_request *rq, struct web_response *rs,
		      struct list *l)
{
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, rq->form);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		char *end = NULL;
		if (!g_str_has_prefix(k, "post-"))
			continue;
		int64_t id = g_ascii_strtoll((char *)k + 5, &end, 10);
		if (id > 0 && !*end)
			g_array_append_val(ids, id);
	}
	GString *said = g_string_new(NULL);
	gboolean ok = ids->len > 0;
	if (!ids->len)
		g_string_append(said, view_translate(rq->lang,
			"Check the posts to act on first."));
	for (guint i = 0; i < ids->len; i++)
		ok &= decide_one(rq, l, g_array_index(ids, int64_t, i), said);
	held_list_page(rq, rs, l, said->str, ok);
	g_string_free(said, TRUE);
	g_array_free(ids, TRUE);
}

/* The message's headers (decoded) and text, and the kinds of its parts. */
static void message_data(JsonObject *o, const struct held_post *h)
{
	GError *error = NULL;
	GMimeMessage *msg = message_parse_stored(h->msg, h->msg_len, &error);
	JsonArray *headers = json_array_new();
	JsonArray *parts = json_array_new();
	if (!msg) {
		g_clear_error(&error);
		char *raw = g_utf8_make_valid(h->msg, MIN(h->msg_len, BODY_MAX));
		json_object_set_string_member(o, "body", raw);
		g_free(raw);
		json_object_set_array_member(o, "headers", headers);
		json_object_set_array_member(o, "parts", parts);
		return;
	}
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	int n = g_mime_header_list_get_count(hl);
	for (int i = 0; i < n; i++) {
		GMimeHeader *hd = g_mime_header_list_get_header_at(hl, i);
		const char *raw = g_mime_header_get_value(hd);
		char *value = g_mime_utils_header_decode_text(NULL, raw ? raw : "");
		JsonObject *x = json_object_new();
		json_object_set_string_member(x, "name",
					      g_mime_header_get_name(hd));
		char *valid = g_utf8_make_valid(value, -1);
		json_object_set_string_member(x, "value", valid);
		json_array_add_object_element(headers, x);
		g_free(valid);
		g_free(value);
	}
	GMimePartIter *pi = g_mime_part_iter_new(GMIME_OBJECT(msg));
	do {
		GMimeObject *part = g_mime_part_iter_get_current(pi);
		if (!part)
			break;
		char *type = g_mime_content_type_get_mime_type(
			g_mime_object_get_content_type(part));
		json_array_add_string_element(parts, type);
		g_free(type);
	} while (g_mime_part_iter_next(pi));
	g_mime_part_iter_free(pi);
	GMimeTextPart *tp = message_first_text_part(msg);
	char *text = tp ? g_mime_text_part_get_text(tp) : NULL;
	if (text) {
		gsize len = strlen(text);
		char *valid = g_utf8_make_valid(text, MIN(len, BODY_MAX));
		json_object_set_string_member(o, "body", valid);
		json_object_set_boolean_member(o, "cut", len > BODY_MAX);
		g_free(valid);
	}
	g_free(text);
	json_object_set_array_member(o, "headers", headers);
	json_object_set_array_member(o, "parts", parts);
	g_object_unref(msg);
}

static void held_post_page(struct web_request *rq, struct web_response *rs,
			   struct list *l, const char *arg)
{
	char *end = NULL;
	int64_t id = g_ascii_strtoll(arg, &end, 10);
	if (id <= 0 || *end || !g_ascii_isdigit(*arg)) {
		web_error(rq, rs, 404, "There is no such held post.");
		return;
	}
	if (web_is_post(rq)) {
		if (!web_check_csrf(rq, rs))
			return;
		GString *said = g_string_new(NULL);
		gboolean ok = decide_one(rq, l, id, said);
		held_list_page(rq, rs, l, said->str, ok);
		g_string_free(said, TRUE);
		return;
	}
	struct held_post *h = NULL;
	GError *error = NULL;
	int r = held_get(l, id, &h, &error);
	if (r < 0) {
		log_error(WEB_SUBSYS, "list %s: held post %s: %s", list_fqdn(l),
			  arg, error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "Please try again later.");
		return;
	}
	if (r == 0) {
		web_error(rq, rs, 404, "There is no such held post.");
		return;
	}
	JsonObject *o = web_admin_page_data(rq, l, "held", "Held post");
	JsonObject *p = post_data(rq, l, h);
	message_data(p, h);
	json_object_set_object_member(o, "post", p);
	web_page(rq, rs, 200, "held-post", o);
	held_post_free(&h);
}

/* --- requests ------------------------------------------------------------ */

static void requests_page(struct web_request *rq, struct web_response *rs,
			  struct list *l)
{
	GString *said = NULL;
	gboolean ok = TRUE;
	if (web_is_post(rq)) {
		if (!web_check_csrf(rq, rs))
			return;
		const char *token = web_form(rq, "token");
		const char *d = web_form(rq, "do");
		const char *reason = web_form(rq, "reason");
		int decision = !g_strcmp0(d, "approve") ? SUBSCRIBE_DECIDE_APPROVE
			     : !g_strcmp0(d, "reject") ? SUBSCRIBE_DECIDE_REJECT
			     : !g_strcmp0(d, "discard") ? SUBSCRIBE_DECIDE_DISCARD
			     : -1;
		GError *error = NULL;
		said = g_string_new(NULL);
		ok = FALSE;
		if (!token || !pending_token_valid(token) || decision < 0) {
			g_string_append(said, view_translate(rq->lang,
				"There is no such request, or no such "
				"decision."));
		} else if (subscribe_decide(l, token, decision,
					    reason && *reason ? reason : NULL,
					    &error) < 0) {
			char *t = view_fill(rq->lang, "Not done: {}",
					    error->message, NULL);
			g_string_append(said, t);
			g_free(t);
			g_error_free(error);
		} else {
			log_info(WEB_SUBSYS, "list %s: request %.8s...: %s by "
				 "%s", list_fqdn(l), token, d, rq->client);
			g_string_append(said, view_translate(rq->lang,
							     "Done."));
			ok = TRUE;
		}
	}
	GPtrArray *reqs = NULL;
	GError *error = NULL;
	if (pending_list(l, PENDING_APPROVE, &reqs, &error) < 0) {
		log_error(WEB_SUBSYS, "list %s: requests: %s", list_fqdn(l),
			  error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "Please try again later.");
		if (said)
			g_string_free(said, TRUE);
		return;
	}
	JsonObject *o = web_admin_page_data(rq, l, "requests", "Requests");
	JsonArray *a = json_array_new();
	for (guint i = 0; i < reqs->len; i++) {
		const struct pending *p = reqs->pdata[i];
		JsonObject *x = json_object_new();
		char *when = web_admin_time(p->created);
		json_object_set_string_member(x, "token", p->token);
		json_object_set_string_member(x, "kind", view_translate(
			rq->lang, p->kind == PENDING_UNSUBSCRIBE
			? "unsubscription" : "subscription"));
		json_object_set_string_member(x, "address", p->address);
		json_object_set_string_member(x, "name", p->name);
		json_object_set_string_member(x, "requester", p->requester);
		json_object_set_string_member(x, "via", p->via);
		json_object_set_string_member(x, "reason", p->reason);
		json_object_set_string_member(x, "created", when);
		json_array_add_object_element(a, x);
		g_free(when);
	}
	json_object_set_array_member(o, "requests", a);
	char *action = web_list_path(rq, "admin", l, "requests");
	json_object_set_string_member(o, "action", action);
	g_free(action);
	if (said) {
		web_admin_say(o, ok ? said->str : NULL, ok ? NULL : said->str);
		g_string_free(said, TRUE);
	}
	web_page(rq, rs, 200, "requests", o);
	g_ptr_array_unref(reqs);
}

void web_moderate_page(struct web_request *rq, struct web_response *rs,
		       struct list *l, const char *what, const char *arg)
{
	if (rq->nsegments > 4 || (!strcmp(what, "requests") && arg && *arg)) {
		web_error(rq, rs, 404, "There is no such page.");
	} else if (!strcmp(what, "requests")) {
		requests_page(rq, rs, l);
	} else if (arg && *arg) {
		held_post_page(rq, rs, l, arg);
	} else if (!web_is_post(rq)) {
		held_list_page(rq, rs, l, NULL, TRUE);
	} else if (web_check_csrf(rq, rs)) {
		held_bulk(rq, rs, l);
	}
}
