/*
 * modlink.h - the web links a confirmation or a moderator's notice
 * carries: confirming a pending request, and the signed one-click links
 * that approve, reject or discard one (a held post, a subscription
 * awaiting approval).  The web interface serves them (issue 15); mail
 * needs none of them.
 *
 *     <base>confirm/<list@domain>/<token>
 *     <base>moderate/<list@domain>/<token>/<action>?s=<signature>
 *
 * <token> is the pending request's (list/pending.h); the signature is a
 * token.h HMAC under the site key binding the list, the request and the
 * action (purpose "moderate-<action>/<token>"), so a link works only for
 * the request and the action it was made for, and a link of one list
 * never acts on another.  A moderator's link needs no password: whoever
 * holds the notice may act, as whoever holds the password may.  The
 * request's single use (pending_claim) makes a second click do nothing.
 */
#ifndef HERALD_MODLINK_H
#define HERALD_MODLINK_H

#include <glib.h>

#include "list/list.h"

/* The actions a moderator's link may take. */
#define MODLINK_APPROVE "approve"
#define MODLINK_REJECT "reject"
#define MODLINK_DISCARD "discard"

/* LIST-confirm+TOKEN@DOMAIN: where a reply to a confirmation or to a
 * moderator's notice goes. */
char *modlink_confirm_address(struct list *l, const char *token);

/* The variables of a moderator's notice about request token (templates
 * postauth, subauth, unsubauth): cookie, confirmaddr and the signed
 * approveurl, rejecturl and discardurl.  A link that cannot be signed
 * (the site key unreadable) is left empty and logged: mail still works. */
void modlink_template_vars(struct list *l, GHashTable *vars, const char *token);

/* <base>confirm/<list>/<token>. */
char *modlink_confirm_url(struct list *l, const char *token);

/* The signed link for action on the request token; NULL with *error
 * when the site key cannot be had or action is none of the above
 * (HERALD_ERR_INVALID). */
char *modlink_url(struct list *l, const char *token, const char *action,
		  GError **error);

/* The signature alone (the s= of modlink_url). */
char *modlink_sign(struct list *l, const char *token, const char *action,
		   GError **error);

/* Whether signature was made for (l, token, action): 1 yes, 0 no
 * (tampered, another list, request or action, malformed), -1 with
 * *error when the site key cannot be read. */
int modlink_verify(struct list *l, const char *token, const char *action,
		   const char *signature, GError **error);

#endif
