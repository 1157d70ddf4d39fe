/*
 * page_confirm.c - the pages that a link in herald's mail leads to, where
 * the link itself is the authority (no login):
 *
 *     /confirm/LIST/TOKEN           a pending request's confirmation
 *                                   (list/pending.h): subscribe,
 *                                   unsubscribe, invitation, re-enable,
 *                                   change of address
 *     /unsubscribe/LIST?m=ADDR&t=T  one-click unsubscribe (RFC 8058),
 *                                   T a token.h token for ADDR
 *     /moderate/LIST/TOKEN/ACTION?s=SIG
 *                                   a moderator's signed link
 *                                   (list/modlink.h): approve, reject or
 *                                   discard a held post or a request
 *
 * A GET never changes anything: mail scanners and link previews follow
 * GETs.  It shows what the link would do and a button that POSTs it.  The
 * POST acts, once: every request is claimed before it is acted on
 * (pending_claim), so a second click, from any host, finds nothing.
 *
 * RFC 8058: a POST with the body "List-Unsubscribe=One-Click" to the URL
 * of the List-Unsubscribe header unsubscribes at once, with no page in
 * between and no cookie or CSRF token (mail clients send it from their
 * servers); the token in the URL is what authorises it, bound to the list
 * and the member's address under the site key.  The page's own button
 * sends the same body.  The unsubscription follows unsubscribe_policy (a
 * list whose moderator approves unsubscriptions still gets to).
 */
#include "web/pages.h"
#include "base/base.h"
#include "base/log.h"
#include "list/held.h"
#include "list/modlink.h"
#include "list/pending.h"
#include "list/roster.h"
#include "list/subscribe.h"
#include "list/token.h"
#include "mail/address.h"
#include "store/names.h"
#include "store/queue.h"

#include <string.h>

static void message_page(struct web_request *rq, struct web_response *rs,
			 unsigned status, const char *title, const char *text)
{
	JsonObject *o = web_page_data(rq);
	json_object_set_string_member(o, "title",
				      view_translate(rq->lang, title));
	JsonArray *p = json_array_new();
	json_array_add_string_element(p, view_translate(rq->lang, text));
	json_object_set_array_member(o, "paragraphs", p);
	web_page(rq, rs, status, "message", o);
}

static void confirm_form(struct web_request *rq, struct web_response *rs,
			 const char *what, const char *button,
			 gboolean cancel, gboolean one_click)
{
	JsonObject *o = web_page_data(rq);
	json_object_set_string_member(o, "title",
				      view_translate(rq->lang, "Confirm"));
	json_object_set_string_member(o, "what", what);
	json_object_set_string_member(o, "button",
				      view_translate(rq->lang, button));
	json_object_set_boolean_member(o, "cancel", cancel);
	/* The form posts back to the same path and query. */
	GString *action = g_string_new(rq->base_path);
	for (guint i = 0; i < rq->nsegments; i++) {
		char *seg = view_url_part(rq->segments[i]);
		g_string_append_printf(action, "%s%s", i ? "/" : "", seg);
		g_free(seg);
	}
	JsonArray *fields = json_array_new();
	GHashTableIter it;
	gpointer k, v;
	gboolean first = TRUE;
	g_hash_table_iter_init(&it, rq->query);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		char *ek = view_url_part(k), *ev = view_url_part(v);
		g_string_append_printf(action, "%c%s=%s", first ? '?' : '&',
				       ek, ev);
		first = FALSE;
		g_free(ek);
		g_free(ev);
	}
	if (one_click) {
		JsonObject *f = json_object_new();
		json_object_set_string_member(f, "name", "List-Unsubscribe");
		json_object_set_string_member(f, "value", "One-Click");
		json_array_add_object_element(fields, f);
	}
	json_object_set_array_member(o, "fields", fields);
	json_object_set_string_member(o, "action", action->str);
	g_string_free(action, TRUE);
	web_page(rq, rs, 200, "confirm", o);
}

/* What an outcome (list/subscribe.h) means, said to a person. */
static const char *outcome_message(int outcome)
{
	switch (outcome) {
	case SUBSCRIBE_DONE: return "Done: the change is made.";
	case SUBSCRIBE_CONFIRM: return "A confirmation was sent to the address.";
	case SUBSCRIBE_APPROVE: return "The request now waits for the list's "
				       "moderator.";
	case SUBSCRIBE_ALREADY: return "The address is a member already.";
	case SUBSCRIBE_NOT_MEMBER: return "The address is not a member.";
	case SUBSCRIBE_BANNED: return "The address may not subscribe to this "
				      "list.";
	case SUBSCRIBE_REJECTED: return "The request was rejected.";
	default: return "The request was discarded.";
	}
}

static const char no_request[] =
	"Nothing waits for this link: it was used already, has expired, or "
	"is not one of this list's.";

/* --- /confirm/LIST/TOKEN ------------------------------------------------ */

static char *describe(struct web_request *rq, const struct pending *p)
{
	switch (p->kind) {
	case PENDING_SUBSCRIBE:
		return view_fill(rq->lang, "Subscribe {} to the list?",
				 p->address, NULL);
	case PENDING_UNSUBSCRIBE:
		return view_fill(rq->lang, "Unsubscribe {} from the list?",
				 p->address, NULL);
	case PENDING_INVITE:
		return view_fill(rq->lang, "Accept the invitation to the "
				 "list for {}?", p->address, NULL);
	case PENDING_REENABLE:
		return view_fill(rq->lang, "Turn delivery to {} back on?",
				 p->address, NULL);
	case PENDING_CHANGE_ADDRESS:
		return view_fill(rq->lang, p->all_lists
				 ? "Move the subscriptions of {} on every list "
				   "to {}?"
				 : "Move the subscription of {} to {}?",
				 p->address, p->new_address, NULL);
	default:
		return NULL;
	}
}

/* Acts on the claimed request *pp (freed): 0, or -1 with *error. */
static int confirm_claimed(struct list *l, struct pending **pp,
			   const char **done_r, GError **error)
{
	struct pending *p = *pp;
	if (p->kind == PENDING_REENABLE) {
		int r = roster_reenable(l, p->address, error);
		if (r < 0) {
			(void)pending_release(l, pp, NULL);
			return -1;
		}
		*done_r = r ? "Delivery is on again."
			    : "The address is no longer a member.";
		return pending_done(l, pp, error);
	}
	int outcome = subscribe_confirmed(l, pp, NULL, error);
	if (outcome < 0)
		return -1;
	*done_r = outcome_message(outcome);
	return 0;
}

static void confirm_page(struct web_request *rq, struct web_response *rs)
{
	struct list *l = web_list_arg(rq, rs, 1);
	if (!l)
		return;
	const char *token = web_segment(rq, 2);
	struct pending *p = NULL;
	GError *error = NULL;
	char *what = NULL;
	int r = token && rq->nsegments == 3 && pending_token_valid(token)
		? pending_get(l, token, &p, &error) : 0;
	if (r < 0) {
		log_error(WEB_SUBSYS, "list %s: %s", list_fqdn(l),
			  error->message);
		g_clear_error(&error);
		web_error(rq, rs, 503, "Please try again later.");
	} else if (r == 0 || p->state != PENDING_CONFIRM ||
		   !(what = describe(rq, p))) {
		message_page(rq, rs, 404, "Confirm", no_request);
	} else if (!web_is_post(rq)) {
		confirm_form(rq, rs, what, "Confirm", TRUE, FALSE);
	} else if (web_check_csrf(rq, rs)) {
		const char *done = NULL;
		gboolean cancel = !g_strcmp0(web_form(rq, "do"), "cancel");
		pending_free(&p);
		r = pending_claim(l, token, &p, &error);
		if (r == 1 && cancel) {
			r = pending_done(l, &p, &error) < 0 ? -1 : 1;
			done = "The request was cancelled.";
		} else if (r == 1) {
			r = confirm_claimed(l, &p, &done, &error) < 0 ? -1 : 1;
		}
		if (r < 0) {
			log_error(WEB_SUBSYS, "list %s: confirming: %s",
				  list_fqdn(l), error->message);
			g_clear_error(&error);
			web_error(rq, rs, 503, "Please try again later.");
		} else if (r != 1) {
			message_page(rq, rs, 404, "Confirm", no_request);
		} else {
			log_info(WEB_SUBSYS, "list %s: request %s confirmed "
				 "from %s", list_fqdn(l), token, rq->client);
			message_page(rq, rs, 200, "Confirm", done);
		}
	}
	g_free(what);
	pending_free(&p);
	list_free(&l);
}

/* --- /unsubscribe/LIST?m=&t= -------------------------------------------- */

/* Writes the unsubscription of addr for the commands queue (KIND_ONECLICK,
 * commands/process.c), to be committed with other requests' (web_defer:
 * one file for the batch, a bundle, and its fsyncs) before the page says
 * it is done.  The commands runner takes it within moments.  A POST is an
 * entry, whatever the list's size, and never waits for the list lock:
 * one-click stays fast when a newsletter's readers click by the thousand,
 * and two hosts never contend.  NULL on failure. */
static struct queue_pending *oneclick_write(struct web_request *rq,
					    struct list *l, const char *addr,
					    GError **error)
{
	struct queue *q = queue_open(site_var_dir(rq->site), QUEUE_COMMANDS,
				     error);
	if (!q)
		return NULL;
	struct queue_meta *meta = queue_meta_new();
	queue_meta_set(meta, META_LIST, list_fqdn(l));
	queue_meta_set(meta, META_KIND, KIND_ONECLICK);
	queue_meta_set(meta, META_MEMBER, addr);
	queue_meta_set(meta, META_SENDER, addr);
	queue_meta_set_int(meta, META_RECEIVED, now_usec());
	/* A message for the queue's tools to show; the metadata says all. */
	char *text = g_strdup_printf("From: %s\nSubject: one-click "
				     "unsubscribe from %s\n\n"
				     "List-Unsubscribe=One-Click\n", addr,
				     list_fqdn(l));
	struct queue_pending *p = queue_pending_write(q, meta, text,
						      strlen(text), error);
	g_free(text);
	queue_meta_free(&meta);
	queue_close(&q);
	return p;
}

/* What the answer to a one-click POST needs once its entry is committed. */
struct oneclick {
	char *list;
	char *addr;
	gboolean moderated;
};

static void oneclick_free(gpointer p)
{
	struct oneclick *o = p;
	g_free(o->list);
	g_free(o->addr);
	g_free(o);
}

static void oneclick_done(struct web_request *rq, struct web_response *rs,
			  const GError *error, gpointer data)
{
	struct oneclick *o = data;
	if (error) {
		log_error(WEB_SUBSYS, "list %s: one-click unsubscribe of %s: "
			  "%s", o->list, o->addr, error->message);
		web_error(rq, rs, 503, "Please try again later.");
		return;
	}
	log_info(WEB_SUBSYS, "list %s: one-click unsubscribe of %s from %s "
		 "taken", o->list, o->addr, rq->client);
	message_page(rq, rs, 200, "Unsubscribe",
		     o->moderated
		     ? "Your request is taken; it waits for the list's "
		       "moderator."
		     : "You are unsubscribed: no more mail from the list will "
		       "be sent to you.");
}

static void unsubscribe_page(struct web_request *rq, struct web_response *rs)
{
	struct list *l = web_list_arg(rq, rs, 1);
	if (!l)
		return;
	const char *m = web_query(rq, "m"), *t = web_query(rq, "t");
	GError *error = NULL;
	int ok = m && t && rq->nsegments == 2
		? token_verify(rq->site, list_fqdn(l), m, TOKEN_PURPOSE_UNSUBSCRIBE,
			       t, &error)
		: 0;
	if (ok < 0) {
		log_error(WEB_SUBSYS, "list %s: %s", list_fqdn(l),
			  error->message);
		g_clear_error(&error);
		web_error(rq, rs, 503, "Please try again later.");
	} else if (!ok) {
		message_page(rq, rs, 403, "Unsubscribe",
			     "This unsubscribe link is not valid.");
	} else if (!web_is_post(rq)) {
		char *what = view_fill(rq->lang, "Unsubscribe {} from {}?", m,
				       list_fqdn(l), NULL);
		confirm_form(rq, rs, what, "Unsubscribe", FALSE, TRUE);
		g_free(what);
	} else if (g_strcmp0(web_form(rq, "List-Unsubscribe"), "One-Click")) {
		web_error(rq, rs, 400, "The request lacks "
			  "List-Unsubscribe=One-Click.");
	} else {
		struct queue_pending *entry = oneclick_write(rq, l, m, &error);
		if (!entry) {
			log_error(WEB_SUBSYS, "list %s: one-click unsubscribe "
				  "of %s: %s", list_fqdn(l), m, error->message);
			g_clear_error(&error);
			web_error(rq, rs, 503, "Please try again later.");
		} else {
			struct oneclick *o = g_new0(struct oneclick, 1);
			o->list = g_strdup(list_fqdn(l));
			o->addr = g_strdup(m);
			o->moderated = list_get_int(l, "unsubscribe_policy") == 1;
			web_defer(rq, rs, entry, oneclick_done, o,
				  oneclick_free);
		}
	}
	list_free(&l);
}

/* --- /moderate/LIST/TOKEN/ACTION?s= ------------------------------------- */

static int moderate_act(struct list *l, const char *token, const char *action,
			const char **done_r, GError **error)
{
	struct pending *p = NULL;
	int r = pending_get(l, token, &p, error);
	if (r <= 0)
		return r;
	if (p->kind == PENDING_HELD_POST) {
		int64_t id = p->held_id;
		pending_free(&p);
		if ((r = pending_claim(l, token, &p, error)) != 1)
			return r < 0 ? -1 : 0;
		enum held_action a = !strcmp(action, MODLINK_APPROVE)
			? HELD_APPROVE : !strcmp(action, MODLINK_REJECT)
			? HELD_REJECT : HELD_DISCARD;
		if (held_decide(l, id, a, NULL, error) < 0) {
			if ((*error)->code != HERALD_ERR_NOTFOUND) {
				(void)pending_release(l, &p, NULL);
				return -1;
			}
			g_clear_error(error);
		}
		*done_r = a == HELD_APPROVE ? "The post is approved: it goes "
						"on to the members."
			: a == HELD_REJECT ? "The post is rejected; its "
					     "sender is told."
			: "The post is discarded.";
		return pending_done(l, &p, error) < 0 ? -1 : 1;
	}
	gboolean waits = p->state == PENDING_APPROVE;
	pending_free(&p);
	if (!waits)
		return 0;
	enum subscribe_decision d = !strcmp(action, MODLINK_APPROVE)
		? SUBSCRIBE_DECIDE_APPROVE : !strcmp(action, MODLINK_REJECT)
		? SUBSCRIBE_DECIDE_REJECT : SUBSCRIBE_DECIDE_DISCARD;
	r = subscribe_decide(l, token, d, NULL, error);
	if (r < 0 && (*error)->code == HERALD_ERR_NOTFOUND) {
		g_clear_error(error);
		return 0;
	}
	if (r < 0)
		return -1;
	*done_r = outcome_message(r);
	return 1;
}

static void moderate_page(struct web_request *rq, struct web_response *rs)
{
	struct list *l = web_list_arg(rq, rs, 1);
	if (!l)
		return;
	const char *token = web_segment(rq, 2), *action = web_segment(rq, 3);
	const char *sig = web_query(rq, "s");
	GError *error = NULL;
	int ok = rq->nsegments == 4 && sig && pending_token_valid(token)
		? modlink_verify(l, token, action, sig, &error) : 0;
	if (ok < 0) {
		log_error(WEB_SUBSYS, "list %s: %s", list_fqdn(l),
			  error->message);
		g_clear_error(&error);
		web_error(rq, rs, 503, "Please try again later.");
	} else if (!ok) {
		message_page(rq, rs, 403, "Moderation",
			     "This moderation link is not valid.");
	} else if (!web_is_post(rq)) {
		char *what = view_fill(rq->lang, "{}: this request of {}?",
				       view_translate(rq->lang, action),
				       list_fqdn(l), NULL);
		confirm_form(rq, rs, what, "Confirm", FALSE, FALSE);
		g_free(what);
	} else if (web_check_csrf(rq, rs)) {
		const char *done = NULL;
		int r = moderate_act(l, token, action, &done, &error);
		if (r < 0) {
			log_error(WEB_SUBSYS, "list %s: moderating %s: %s",
				  list_fqdn(l), token, error->message);
			g_clear_error(&error);
			web_error(rq, rs, 503, "Please try again later.");
		} else if (r == 0) {
			message_page(rq, rs, 404, "Moderation", no_request);
		} else {
			log_info(WEB_SUBSYS, "list %s: %s of request %s by a "
				 "moderator's link from %s", list_fqdn(l),
				 action, token, rq->client);
			message_page(rq, rs, 200, "Moderation", done);
		}
	}
	list_free(&l);
}

const struct web_route web_routes_confirm[] = {
	{ "confirm", confirm_page },
	{ "unsubscribe", unsubscribe_page },
	{ "moderate", moderate_page },
	{ NULL, NULL },
};
