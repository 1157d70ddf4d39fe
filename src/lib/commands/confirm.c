/*
 * confirm.c - a confirmation token comes back: by "confirm TOKEN" to
 * LIST-request, or as a reply to LIST-confirm+TOKEN.
 *
 *   subscription, unsubscription, invitation   done, or passed on to the
 *                                              moderators (subscribe.h)
 *   re-enable (a bounce warning's reply)       delivery on again, the
 *                                              bounce score forgotten
 *   held post, or a request awaiting approval  with a right Approved:
 *                                              password approved; with
 *                                              none discarded (Mailman
 *                                              2.1: a reply with the
 *                                              Subject unchanged); with a
 *                                              wrong one refused, and it
 *                                              stays waiting
 *
 * The password is checked before the request is claimed, so a wrong one
 * uses nothing up.  The claim (pending_claim) makes every token single
 * use, also when two hosts get the same reply at once.
 */
#include "commands/session.h"
#include "base/base.h"
#include "base/log.h"
#include "list/held.h"
#include "list/pending.h"
#include "list/roster.h"
#include "list/subscribe.h"

static const char no_request[] =
	"No request waits for this code: it was used already, has expired, "
	"or is not one of this list's.";

/* An error of the disk stops the message (it is tried again); any other
 * is the request's own trouble, said in the reply and logged. */
static int
failed(struct session *s, const char *line, GError **error)
{
	if ((*error)->code == HERALD_ERR_IO)
		return -1;
	log_error(COMMANDS_SUBSYS, "list %s: %s: %s", list_fqdn(s->list), line,
		  (*error)->message);
	session_result(s, line, "This request could not be carried out: %s",
		       (*error)->message);
	g_clear_error(error);
	return 0;
}

/* Claims token; 1 with *p_r, else the reply says why not (0) or -1. */
static int
claim(struct session *s, const char *line, const char *token,
      struct pending **p_r, GError **error)
{
	int r = pending_claim(s->list, token, p_r, error);

	if (r < 0)
		return failed(s, line, error) < 0 ? -1 : 0;
	if (r == PENDING_EXPIRED)
		session_result(s, line, "This request has expired: make it "
			       "again if you still want it.");
	else if (r == 0)
		session_result(s, line, "%s", no_request);
	return r == 1 ? 1 : 0;
}

static int
confirm_request(struct session *s, const char *line, const char *token,
		GError **error)
{
	struct pending *p = NULL;
	char *address;
	int r = claim(s, line, token, &p, error);

	if (r <= 0)
		return r;
	address = g_strdup(p->address);
	r = subscribe_confirmed(s->list, &p, NULL, error);
	if (r < 0)
		r = failed(s, line, error);
	else
		session_result(s, line, "%s: %s.", address,
			       subscribe_outcome_text(r));
	g_free(address);
	return r < 0 ? -1 : 0;
}

/* A reply to a bounce warning (bounce/disabled.c): the member's delivery
 * is on again and its bounce score forgotten (roster_reenable).  A claim
 * that cannot be acted on goes back, to be tried again. */
static int
confirm_reenable(struct session *s, const char *line, const char *token,
		 GError **error)
{
	struct pending *p = NULL;
	int r = claim(s, line, token, &p, error);

	if (r <= 0)
		return r;
	if ((r = roster_reenable(s->list, p->address, error)) < 0) {
		(void)pending_release(s->list, &p, NULL);
		return failed(s, line, error);
	}
	log_info(COMMANDS_SUBSYS, "list %s: %s re-enabled by a reply to a "
		 "bounce warning", list_fqdn(s->list), p->address);
	session_result(s, line, r == 1 ? "%s: delivery is on again."
		       : "%s is no longer a member.", p->address);
	return pending_done(s->list, &p, error) < 0 ? failed(s, line, error) : 0;
}

/* A wrong password refuses; TRUE when the decision may go on. */
static gboolean
password_checked(struct session *s, const char *line)
{
	if (s->approved == NULL || session_admin_password(s, s->approved))
		return TRUE;
	log_info(COMMANDS_SUBSYS, "list %s: %s from %s: wrong moderator "
		 "password", list_fqdn(s->list), line, s->sender);
	session_result(s, line, "The password is wrong: nothing was decided, "
		       "and the request still waits.");
	return FALSE;
}

static int
confirm_held(struct session *s, const char *line, const char *token,
	     GError **error)
{
	enum held_action action = s->approved != NULL ? HELD_APPROVE
						      : HELD_DISCARD;
	struct pending *p = NULL;
	int64_t id;
	int r;

	if (!password_checked(s, line))
		return 0;
	if ((r = claim(s, line, token, &p, error)) <= 0)
		return r;
	id = p->held_id;
	if (held_decide(s->list, id, action, NULL, error) < 0) {
		if ((*error)->code == HERALD_ERR_NOTFOUND) {
			g_clear_error(error);
			session_result(s, line, "Held post #%" G_GINT64_FORMAT
				       " was decided already.", id);
		} else {
			(void)pending_release(s->list, &p, NULL);
			return failed(s, line, error);
		}
	} else {
		session_result(s, line, "Held post #%" G_GINT64_FORMAT " %s.", id,
			       action == HELD_APPROVE
			       ? "approved: it goes on to the members"
			       : "discarded");
	}
	return pending_done(s->list, &p, error) < 0 ? failed(s, line, error) : 0;
}

static int
confirm_approval(struct session *s, const char *line, const struct pending *p,
		 GError **error)
{
	enum subscribe_decision d = s->approved != NULL
		? SUBSCRIBE_DECIDE_APPROVE : SUBSCRIBE_DECIDE_DISCARD;
	int r;

	if (!password_checked(s, line))
		return 0;
	r = subscribe_decide(s->list, p->token, d, NULL, error);
	if (r < 0 && (*error)->code == HERALD_ERR_NOTFOUND) {
		g_clear_error(error);
		session_result(s, line, "%s", no_request);
		return 0;
	}
	if (r < 0)
		return failed(s, line, error);
	session_result(s, line, "The %s request of %s: %s.",
		       pending_kind_name(p->kind), p->address,
		       subscribe_outcome_text(r));
	return 0;
}

int
session_confirm(struct session *s, const char *line, const char *token,
		GError **error)
{
	struct pending *p = NULL;
	int r = pending_get(s->list, token, &p, error);

	if (r < 0)
		return failed(s, line, error);
	if (r == 0) {
		session_result(s, line, "%s", no_request);
		return 0;
	}
	if (p->kind == PENDING_HELD_POST)
		r = confirm_held(s, line, token, error);
	else if (p->kind == PENDING_REENABLE)
		r = confirm_reenable(s, line, token, error);
	else if (p->state == PENDING_APPROVE)
		r = confirm_approval(s, line, p, error);
	else
		r = confirm_request(s, line, token, error);
	pending_free(&p);
	return r;
}
