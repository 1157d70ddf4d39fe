/*
 * notice.h - mail that herald writes itself: hold notices, rejections,
 * acknowledgements, automatic responses, mail forwarded to the owners.
 *
 * A notice is a new message from the list's -owner (or -bounces) address,
 * written to the virgin queue with its recipients; the virgin runner sends
 * it on to the out queue.  Automatic replies to a sender are limited per
 * list, address and day (notice.max_autoresponses_per_day), so that two
 * robots cannot keep each other busy.
 */
#ifndef HERALD_NOTICE_H
#define HERALD_NOTICE_H

#include <glib.h>
#include <gmime/gmime.h>

#include "list/list.h"

/* A notice for list to recipients (addresses, NULL-terminated), with a
 * subject and a plain-text body (UTF-8); attach (optional) goes along as a
 * message/rfc822 part.  Written to the virgin queue. */
int notice_send(struct list *l, const char *const *recipients,
		const char *subject, const char *text, GMimeMessage *attach,
		GError **error);

/* Where a notice comes from when not from LIST-owner: suffix is the
 * list's address it is From ("-request": a reply to it reaches the
 * command processor), reply_to (optional) its Reply-To
 * (LIST-confirm+TOKEN: a plain reply confirms). */
struct notice_from {
	const char *suffix;
	const char *reply_to;
};

/* notice_send from another of the list's addresses (from NULL:
 * notice_send). */
int notice_send_from(struct list *l, const char *const *recipients,
		     const struct notice_from *from, const char *subject,
		     const char *text, GMimeMessage *attach, GError **error);

/* notice_send with another envelope sender than LIST-bounces (a VERP
 * probe's own bounce address). */
int notice_send_envelope(struct list *l, const char *const *recipients,
			 const char *sender, const char *subject,
			 const char *text, GMimeMessage *attach, GError **error);

/* Where a notice meant for member addr goes (Mailman's
 * GetMemberAdminEmail): addr itself, or on an umbrella list, whose
 * members are other lists, that list's owners, <local part>
 * <umbrella_member_suffix>@<domain>.  Welcomes, goodbyes, confirmations
 * and refusals go there; posts still go to addr. */
char *notice_member_address(struct list *l, const char *addr);

/* The same to the list's owners and moderators (LIST-owner). */
int notice_to_owners(struct list *l, const char *subject, const char *text,
		     GMimeMessage *attach, GError **error);
/* The same from another of the list's addresses (see notice_send_from):
 * the notices a moderator answers by mail. */
int notice_to_owners_from(struct list *l, const struct notice_from *from,
			  const char *subject, const char *text,
			  GMimeMessage *attach, GError **error);

/* An automatic reply to addr: sent unless addr had its day's allowance
 * already (then 0 is returned and nothing is sent, logged), or addr looks
 * like a robot (the null sender, -bounces, -request, mailer-daemon).
 * 1 sent, 0 not sent, -1 error. */
int notice_autorespond(struct list *l, const char *addr, const char *subject,
		       const char *text, GMimeMessage *attach, GError **error);
/* The same from another of the list's addresses (see notice_send_from). */
int notice_autorespond_from(struct list *l, const char *addr,
			    const struct notice_from *from, const char *subject,
			    const char *text, GMimeMessage *attach,
			    GError **error);

#endif
