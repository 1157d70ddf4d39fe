/*
 * pending.h - requests that wait for someone: a confirmation by the
 * person asked (a subscription, an invitation, a moderator's reply to a
 * hold notice) or a moderator's approval (a subscription under
 * subscribe_policy 2 or 3).
 *
 * lists/<list>/pending/<token> holds one request (docs/formats.md): its
 * kind, its state, its data and when it expires.  The token is 32 random
 * bytes (libsodium) in URL-safe base64 without padding (43 characters):
 * unguessable, so it is the request's only secret and its file name.
 *
 *   - Written whole (temporary file, fsync, rename into place, fsync of
 *     the directory): readers never see half a request.  No fcntl locks.
 *   - Single use: acting on a request first claims it by renaming
 *     <token> to <token>.<host>.<pid>.claim.  Of two hosts confirming one
 *     token at once, exactly one rename succeeds (the file server decides);
 *     the other finds no request.  The claim is then removed (done) or
 *     renamed back (the action failed and may be tried again).
 *   - A request waiting for a confirmation expires after the site setting
 *     pending.request_life (Mailman's PENDING_REQUEST_LIFE, 3 days); one
 *     waiting for a moderator does not (Mailman's requests database does
 *     not expire either).  The task pending.expire removes expired ones,
 *     and a claim expired meanwhile is refused.
 *
 * Ages are this host's clock (time(NULL)), like held posts: hosts' skew
 * does not matter against days.
 */
#ifndef HERALD_PENDING_H
#define HERALD_PENDING_H

#include <glib.h>
#include <stdint.h>

#include "list/list.h"

/* What a request is for.  New kinds go at the end (the file stores the
 * name, pending_kind_name(), so the order is free to grow). */
enum pending_kind {
	PENDING_SUBSCRIBE,
	PENDING_UNSUBSCRIBE,
	PENDING_HELD_POST,	/* a hold notice's confirm token */
	PENDING_INVITE,
	PENDING_REENABLE,	/* delivery disabled by bounces, back on */
	PENDING_CHANGE_ADDRESS,	/* a member moves to new_address, confirmed
				 * by the new address (subscribe.h) */
	PENDING_KIND_COUNT
};

/* Whom it waits for. */
enum pending_state {
	PENDING_CONFIRM,	/* the person the token was sent to */
	PENDING_APPROVE,	/* a moderator (listed by `herald requests`) */
};

#define PENDING_TOKEN_LEN 43
/* pending_claim(): the request was there but has expired (now removed). */
#define PENDING_EXPIRED 2

struct pending {
	enum pending_kind kind;
	enum pending_state state;
	char *token;		/* set by pending_add */
	char *address;		/* whom it is about ("" for a held post) */
	char *name;		/* their display name, or "" */
	gboolean digest;	/* subscribe: as a digest member */
	char *password;		/* subscribe: Argon2id hash, or "" */
	int64_t held_id;	/* held post: its id */
	char *requester;	/* who asked (the sender, "admin", ...) */
	char *via;		/* "mail", "cli", "web" */
	char *language;		/* "" = the list's */
	char *reason;		/* why it waits for a moderator, or "" */
	char *new_address;	/* change of address: the new one, else "" */
	gboolean all_lists;	/* change of address: on every list of the
				 * site where address is a member */
	int64_t created;	/* epoch seconds */
	int64_t expires;	/* epoch seconds; 0: never */
	/* For pending.c: the claimed file (pending_claim), or NULL. */
	char *claim;
};

struct pending *pending_new(enum pending_kind kind, const char *address);
void pending_free(struct pending **pp);
void pending_free_ptr(gpointer p);

const char *pending_kind_name(enum pending_kind k);
/* -1 for an unknown name. */
int pending_kind_parse(const char *name);

/* Whether token has a token's form (43 URL-safe base64 characters); a
 * token of any other form is none of ours (and never a path). */
gboolean pending_token_valid(const char *token);

/* The seconds a request waits for a confirmation (pending.request_life). */
int64_t pending_request_life(struct list *l);

/* Stores p as a new request of list l: sets p->token and p->created, and
 * p->expires (now + the request life) when p waits for a confirmation. */
int pending_add(struct list *l, struct pending *p, GError **error);

/* Reads a request without claiming it: 1 with *p_r, 0 none, -1 error. */
int pending_get(struct list *l, const char *token, struct pending **p_r,
		GError **error);

/* The requests of a list, oldest first, claimed ones left out; state -1:
 * all, else only those in that state. */
int pending_list(struct list *l, int state, GPtrArray **requests_r,
		 GError **error);

/* Claims a request for acting on it: 1 with *p_r (then pending_done or
 * pending_release it), 0 when there is none (never was, used already or
 * claimed by someone else this instant), PENDING_EXPIRED when it had
 * expired (it is removed), -1 error. */
int pending_claim(struct list *l, const char *token, struct pending **p_r,
		  GError **error);
/* The claimed request is done: its file is removed, *pp freed. */
int pending_done(struct list *l, struct pending **pp, GError **error);
/* The claimed request goes back as it was (the action failed); *pp
 * freed. */
int pending_release(struct list *l, struct pending **pp, GError **error);

/* Removes the list's expired requests, and claims left by a process that
 * died over PENDING_CLAIM_STALE seconds ago (they go back, or away when
 * expired).  *removed_r gets the number of requests removed. */
#define PENDING_CLAIM_STALE 3600
int pending_expire(struct list *l, int64_t now, guint *removed_r,
		   GError **error);

#endif
