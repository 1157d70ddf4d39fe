/*
 * subscribe.h - how people come and go: subscriptions, unsubscriptions
 * and invitations under the list's policies, their confirmations and the
 * moderators' approvals, and the welcome, goodbye and owner notices.
 *
 * Boundary: members change only through roster_edit() (so "already a
 * member" and bans are judged on the roster under the lock), requests
 * wait in list/pending.h, mail goes out through list/notice.h.  The
 * command processor (mail), the command line and the web interface all
 * come in here, so the policies are written once:
 *
 *   subscribe_policy      0 open, 1 confirm, 2 approve, 3 confirm then
 *                         approve (Mailman 2.1's meanings; an address in
 *                         subscribe_auto_approval skips the approval)
 *   unsubscribe_policy    0 free, 1 a moderator approves
 *   ban_list              addresses and ^regexes that may not subscribe
 *   send_welcome_msg, welcome_msg, send_goodbye_msg, goodbye_msg,
 *   admin_notify_mchanges, admin_immed_notify
 *
 * A request someone makes for another address (mail from a@ asking to
 * subscribe b@) always needs b's confirmation, whatever the policy, so a
 * stranger cannot sign anybody up.
 */
#ifndef HERALD_SUBSCRIBE_H
#define HERALD_SUBSCRIBE_H

#include <glib.h>

#include "list/list.h"
#include "list/notice.h"
#include "list/pending.h"
#include "list/roster.h"

/* What a request came to (>= 0; -1 is an error). */
enum subscribe_outcome {
	SUBSCRIBE_DONE,		/* the member was added or removed */
	SUBSCRIBE_CONFIRM,	/* a confirmation was sent to the address */
	SUBSCRIBE_APPROVE,	/* it waits for a moderator */
	SUBSCRIBE_ALREADY,	/* a member already */
	SUBSCRIBE_NOT_MEMBER,	/* not a member (unsubscribe) */
	SUBSCRIBE_BANNED,	/* ban_list */
	SUBSCRIBE_REJECTED,	/* a moderator said no */
	SUBSCRIBE_DISCARDED,	/* a moderator dropped it */
};

/* For welcome / goodbye: follow the list's setting, or override it. */
#define SUBSCRIBE_LIST_DEFAULT (-1)

struct subscribe_request {
	const char *address;	/* the address to add or remove */
	const char *name;	/* display name, or NULL */
	gboolean digest;	/* as a digest member */
	const char *password;	/* clear text, or NULL: none */
	const char *requester;	/* who asked: their address, "admin" ... */
	const char *via;	/* "mail", "cli", "web" */
	gboolean admin;		/* an owner asked: no confirmation, no
				 * approval (bans still apply) */
	int welcome;		/* SUBSCRIBE_LIST_DEFAULT, 0 or 1 (goodbye for
				 * an unsubscription) */
};

/* One line saying what an outcome means ("a confirmation was sent"). */
const char *subscribe_outcome_text(enum subscribe_outcome o);

/* A subscription request: an outcome (*token_r, optional, gets the
 * pending request's token for CONFIRM and APPROVE), or -1 with *error
 * (HERALD_ERR_INVALID for an address that is none). */
int subscribe_request(struct list *l, const struct subscribe_request *r,
		      char **token_r, GError **error);

/* An unsubscription request; r->verified is implied when the requester
 * is the address and gave the member's password. */
int unsubscribe_request(struct list *l, const struct subscribe_request *r,
			gboolean password_ok, char **token_r, GError **error);

/* An invitation (`herald members invite`): the invitee gets a token to
 * confirm; confirming makes them a member without approval. */
int subscribe_invite(struct list *l, const char *address, const char *name,
		     const char *inviter, char **token_r, GError **error);

/* A member asks to move from address old to new_address, on list l or
 * (all_lists) on every list of the site where old is a member (Mailman
 * 2.1's "change my address globally").  The new address always confirms
 * (template changeaddr), whoever asks: nobody moves a subscription to an
 * address they cannot read.  An outcome: CONFIRM, NOT_MEMBER (old is not
 * a member of l), ALREADY (new_address is a member of l already), BANNED
 * (ban_list of l); -1 with *error (HERALD_ERR_INVALID for an address that
 * is none, or the same address). */
int subscribe_change_address(struct list *l, const char *old,
			     const char *new_address, gboolean all_lists,
			     const char *requester, const char *via,
			     char **token_r, GError **error);

/* A confirmation came back for a claimed request of kind subscribe,
 * unsubscribe, invite or change-address (pending_claim): does what it
 * asked, or passes it on to the moderators.  A change of address moves
 * the member's whole record (options, password, digest mode) on each
 * list where the old address is a member, the new one is not and not
 * banned; DONE when it moved on l (or, all_lists, on any list), else
 * the outcome on l.  The claim is done (or released on an
 * error); *pp is freed.  An outcome, or -1. */
int subscribe_confirmed(struct list *l, struct pending **pp, char **token_r,
			GError **error);

/* A moderator's decision on a request waiting for one (state approve):
 * approve (DONE), reject (the requester is told, with reason when given)
 * or discard.  HERALD_ERR_NOTFOUND when there is no such request. */
enum subscribe_decision {
	SUBSCRIBE_DECIDE_APPROVE,
	SUBSCRIBE_DECIDE_REJECT,
	SUBSCRIBE_DECIDE_DISCARD,
};
int subscribe_decide(struct list *l, const char *token,
		     enum subscribe_decision d, const char *reason,
		     GError **error);

/* Whether the address may not subscribe (ban_list); reads the setting
 * each time. */
struct subscribe_bans;
struct subscribe_bans *subscribe_bans_load(struct list *l);
gboolean subscribe_bans_match(const struct subscribe_bans *b, const char *addr);
void subscribe_bans_free(struct subscribe_bans **bp);

/* A new member's record as the list starts members (new_member_options,
 * default_member_moderation, digest_is_default, mime_is_default_digest),
 * for address a, name, digest asked or not; strings are borrowed. */
void subscribe_member_defaults(struct list *l, struct member *m,
			       gboolean digest);

/* What follows a change made elsewhere (`herald members add/remove`):
 * the welcome (welcome: SUBSCRIBE_LIST_DEFAULT, 0, 1) or goodbye, and
 * the owners' notice when admin_notify_mchanges.  Failures are logged. */
void subscribe_announce_added(struct list *l, const char *address,
			      int welcome);
void subscribe_announce_removed(struct list *l, const char *address,
				int goodbye);
/* Only the webhook event of an add or a removal. */
void subscribe_announce_event(struct list *l, const char *address,
			      gboolean added);

/*
 * Owed notices: a change that adds member m may owe it the welcome
 * (welcome as above) and the owners their notice, recorded in the change
 * itself (roster.h) instead of being sent at once, so that the add costs
 * no file but the roster's (subscribe_group.h, the API's adds).
 * subscribe_owe_added records them in c (TRUE when any).
 * subscribe_send_owed sends what l's roster owes, rounds of up to 250:
 * each round renders them without the lock, then, under it, stores those
 * still owed as one file (a bundle of notices, store/queue.h) and settles
 * them in one change.  At least once: a crash between the two makes the
 * next sender send them again.  A notice to an address no longer a member
 * is settled unsent.  *sent_r gets how many went; -1 with *error when the
 * roster cannot be read, the round cannot be stored (nothing of that
 * round is settled) or a notice cannot be made (it stays owed; the rest
 * of its round went).
 */
gboolean subscribe_owe_added(struct list *l, struct roster_change *c,
			     const struct member *m, int welcome);
int subscribe_send_owed(struct list *l, guint *sent_r, GError **error);

#endif
