/*
 * incoming.c - the incoming runner's handler: a list post (or owner mail)
 * from the in queue through the list's pipeline, and what a stop means.
 *
 *   all handlers ran    the post is in the out, archive and digest queues
 *   hold                stored in the list's held posts with a confirm
 *                       token (pending.h); moderators (postauth: reply
 *                       to LIST-confirm+TOKEN with Approved: to approve)
 *                       and poster (postheld) told
 *   reject              the poster is told why, with the post attached
 *   discard             logged
 *   error               the post as far as it got, with the handlers still
 *                       to run, goes to the shunt queue; `herald queue
 *                       unshunt` resumes it.  A disk or file-server error is
 *                       not the post's fault: the entry goes back to the
 *                       queue and the runner stops for a backoff.
 *
 * A message GMime cannot read at all goes to bad/ with the reason.
 */
#include "runners/runners.h"
#include "base/base.h"
#include "list/held.h"
#include "base/log.h"
#include "mail/message.h"
#include "list/modlink.h"
#include "list/notice.h"
#include "list/pending.h"
#include "list/template.h"
#include "pipeline/pipeline.h"
#include "store/names.h"

#include <string.h>

#define SUBSYS "incoming"

struct incoming {
	struct site *site;
	struct pipe_env env;
};

static void
log_notice_error(struct post *p, const char *what, GError *e)
{
	if (e == NULL)
		return;
	log_error(SUBSYS, "list %s: %s notice: %s", list_fqdn(p->list), what,
		  e->message);
	g_error_free(e);
}

/* The confirm token of a held post (list/pending.h): a moderator's
 * reply to LIST-confirm+TOKEN with the Approved: password approves it,
 * one without discards it, and the signed links of the notice act on it
 * (commands/confirm.c, list/modlink.h).  NULL when it cannot be stored:
 * the notices then go without it, and the post waits for `herald held`. */
static char *
held_token(struct post *p, int64_t id)
{
	struct pending *r = pending_new(PENDING_HELD_POST, p->poster);
	GError *e = NULL;
	char *token = NULL;

	r->held_id = id;
	g_free(r->requester);
	r->requester = g_strdup(p->poster);
	g_free(r->via);
	r->via = g_strdup("mail");
	g_free(r->reason);
	r->reason = g_strdup(p->reason);
	if (pending_add(p->list, r, &e) < 0)
		log_notice_error(p, "hold (confirm token)", e);
	else
		token = g_strdup(r->token);
	pending_free(&r);
	return token;
}

/* The variables of both hold notices. */
static GHashTable *
hold_vars(struct post *p, const char *subject)
{
	GHashTable *vars = template_vars_for_list(p->list);

	template_vars_set(vars, "sender", p->poster);
	template_vars_set(vars, "subject", subject != NULL ? subject
			  : "(no subject)");
	template_vars_set(vars, "reason", p->reason);
	return vars;
}

/* The moderators (postauth: the post attached, the token's reply
 * address and links) and the poster (postheld) hear of a hold.  Their
 * notices failing does not undo the hold: it is logged. */
static void
hold_notices(struct post *p, int64_t id)
{
	char *subject = message_header_decoded(p->msg, "Subject");
	char *token = NULL, *reply_to = NULL;
	struct notice_from from = { "-request", NULL };
	struct template_text t;
	GHashTable *vars;
	GError *e = NULL;

	if (g_strcmp0(queue_meta_get(p->meta, META_HOLD_QUIET), "yes") == 0)
		goto out;
	token = held_token(p, id);
	if (post_setting_bool(p, "admin_immed_notify")) {
		vars = hold_vars(p, subject);
		if (token != NULL) {
			modlink_template_vars(p->list, vars, token);
			from.reply_to = reply_to =
				modlink_confirm_address(p->list, token);
		}
		if (template_render(p->list, "postauth", NULL, vars, &t, &e) < 0) {
			log_notice_error(p, "hold (moderators)", e);
		} else {
			if (notice_to_owners_from(p->list, &from, t.subject, t.body,
						  p->msg, &e) < 0)
				log_notice_error(p, "hold (moderators)", e);
			template_text_clear(&t);
		}
		g_hash_table_unref(vars);
	}
	if (post_setting_bool(p, "respond_to_post_requests") &&
	    !message_is_bulk(p->msg)) {
		const char *to[] = { p->poster, NULL };

		vars = hold_vars(p, subject);
		template_vars_take(vars, "confirmurl", token != NULL
				   ? modlink_confirm_url(p->list, token)
				   : g_strdup(""));
		if (template_send(p->list, to, "postheld", NULL, vars, NULL, TRUE,
				  &e) < 0)
			log_notice_error(p, "hold (poster)", e);
		g_hash_table_unref(vars);
	}
out:
	g_free(reply_to);
	g_free(token);
	g_free(subject);
}

static void
reject_notice(struct post *p)
{
	char *s = g_strdup_printf("Your message to %s was rejected",
				  list_fqdn(p->list));
	char *t = g_strdup_printf("Your message to the %s mailing list was "
				  "rejected for this reason:\n\n%s\n\nYour "
				  "message is attached.\n", list_fqdn(p->list),
				  p->reason);
	GError *e = NULL;

	if (!message_is_bulk(p->msg) &&
	    notice_autorespond(p->list, p->poster, s, t, p->msg, &e) < 0)
		log_notice_error(p, "rejection", e);
	g_free(s);
	g_free(t);
}

/* The post as far as it got goes to the shunt queue, resumable at rest. */
static int
shunt(struct post *p, struct queue *q, const char *rest, const char *why,
      GError **error)
{
	struct queue *sq = queue_open(site_var_dir(p->site), QUEUE_SHUNT, error);
	int r;

	if (sq == NULL)
		return -1;
	queue_meta_mark_shunted(p->meta, queue_name(q), why);
	r = post_enqueue(p, sq, rest, error);
	queue_close(&sq);
	if (r == 0)
		log_error(SUBSYS, "list %s: post from %s shunted at %s: %s",
			  list_fqdn(p->list), p->poster, rest, why);
	return r;
}

static int
outcome(struct post *p, struct queue *q, enum pipe_result r,
	const char *handler, const char *rest, GError *local, GError **error)
{
	const char *fqdn = list_fqdn(p->list);
	int64_t id;

	switch (r) {
	case PIPE_CONTINUE:
	case PIPE_DONE:
		log_info(SUBSYS, "list %s: post %s from %s to %u recipients",
			 fqdn,
			 queue_meta_get(p->meta, META_POST_ID) != NULL
			 ? queue_meta_get(p->meta, META_POST_ID) : "-", p->poster,
			 p->recipients != NULL ? p->recipients->len : 0);
		return 0;
	case PIPE_HOLD:
		if (post_hold(p, handler, rest, &id, error) < 0)
			return -1;
		hold_notices(p, id);
		return 0;
	case PIPE_REJECT:
		log_info(SUBSYS, "list %s: post from %s rejected by %s: %s", fqdn,
			 p->poster, handler, p->reason);
		reject_notice(p);
		return 0;
	case PIPE_DISCARD:
		log_info(SUBSYS, "list %s: post from %s discarded by %s: %s",
			 fqdn, p->poster, handler, p->reason);
		return 0;
	case PIPE_ERROR:
		break;
	}
	/* The disk failed, or a lock was not had in time (the list lock of
	 * a host that died holding it lasts until its lifetime is over): the
	 * environment's fault, not the post's.  It goes back to the queue,
	 * to be tried again (HERALD_ERR_IO), not to the shunt queue. */
	if (g_error_matches(local, HERALD_ERROR, HERALD_ERR_IO) ||
	    g_error_matches(local, HERALD_ERROR, HERALD_ERR_TIMEOUT) ||
	    g_error_matches(local, HERALD_ERROR, HERALD_ERR_LOST)) {
		g_propagate_error(error, g_error_copy(local));
		(*error)->code = HERALD_ERR_IO;
		return -1;
	}
	return shunt(p, q, rest, local != NULL ? local->message
		     : "handler failed without a reason", error);
}

static int
handle_incoming(void *ctx, struct queue *q, struct queue_item *item,
		GError **error)
{
	struct incoming *in = ctx;
	const char *fqdn = queue_meta_get(item->meta, META_LIST);
	const char *kind = queue_meta_get(item->meta, META_KIND);
	const char *order = queue_meta_get(item->meta, META_PIPELINE);
	char *handler = NULL, *rest = NULL, *list_order = NULL;
	struct list *l = NULL;
	struct post *p = NULL;
	GMimeMessage *msg;
	GError *local = NULL;
	enum pipe_result r;
	int ret = -1;

	if (fqdn == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "no list in the metadata");
		return -1;
	}
	if ((l = list_open(in->site, fqdn, error)) == NULL)
		return -1;	/* shunted: the list may come back */
	/* What is in the in queue passed an entry or was written by herald
	 * (an approval, an unshunt), which may have left no header. */
	if ((msg = message_parse_stored(item->msg, item->msg_len, error)) == NULL)
		goto out;
	p = post_new(in->site, l, &in->env, item->meta, msg);
	queue_meta_set_int(p->meta, META_POST_SIZE, (int64_t)item->msg_len);
	queue_meta_set_int(p->meta, META_POST_BODY_SIZE, (int64_t)(item->msg_len -
			   message_header_length(item->msg, item->msg_len)));
	if (order == NULL) {
		if (g_strcmp0(kind, "owner") == 0)
			order = pipeline_owner_order();
		else
			order = list_order = post_setting(p, "pipeline");
	}
	r = pipeline_run(p, order, &handler, &rest, &local);
	ret = outcome(p, q, r, handler, rest, local, error);
	g_clear_error(&local);
out:
	post_free(&p);
	list_free(&l);
	g_free(handler);
	g_free(rest);
	g_free(list_order);
	return ret;
}

static void *
incoming_open(struct site *site, const char *queue, GError **error)
{
	struct incoming *in = g_new0(struct incoming, 1);

	in->site = site;
	return in;
}

static void
incoming_close(void *ctx)
{
	struct incoming *in = ctx;

	if (in == NULL)
		return;
	if (in->env.dmarc != NULL && in->env.dmarc_free != NULL)
		in->env.dmarc_free(in->env.dmarc);
	g_free(in);
}

const struct runner_kind runner_incoming = {
	.name = "incoming",
	.init_queue = QUEUE_IN,
	.doc = "the posting pipeline: list posts and owner mail.",
	.open = incoming_open,
	.close = incoming_close,
	.handle = handle_incoming,
};
