/*
 * session.h - who is logged in to the web interface, and how often a
 * client or an address may try.
 *
 * A session is a file web/sessions/<hash> in the var dir, so every host
 * sharing the var dir knows it: <hash> is the SHA-256 (hex) of the
 * session id, and only the browser holds the id itself (cookie
 * "herald_session": 32 random bytes from libsodium, URL-safe base64;
 * HttpOnly, SameSite=Lax, Secure when the client came over https).
 * Someone who can read the var dir learns no id from the file names.
 * A session file holds:
 *
 *     role      site | owner | moderator | member
 *     list      the list (owner, moderator, member), else ""
 *     address   the member's address (member), else ""
 *     csrf      the token every form of this session carries
 *     lang      the member's language ("" for the browser's)
 *     expires   epoch seconds (web.session_lifetime after the login)
 *
 * A login always makes a new session (its id never seen before), so an id
 * an attacker planted in a browser (session fixation) is worth nothing;
 * ids the server did not make are not accepted (there is no file).
 * Logging out removes the file.  Expired files are removed by the
 * web.sessions task.
 *
 * Login attempts are counted per client address and per (list, address
 * or role) in web/attempts/<hash>: web.login_attempts failures within
 * web.login_window seconds block further tries (HTTP 429) until the
 * window passes.  Counting is read-modify-rename without a lock: two
 * hosts racing may lose a count, never block anybody wrongly.
 */
#ifndef HERALD_WEB_SESSION_H
#define HERALD_WEB_SESSION_H

#include <glib.h>
#include <stdint.h>

#include "store/site.h"

#define SESSION_COOKIE "herald_session"

enum web_role {
	WEB_ROLE_MEMBER,	/* a member of one list, about themself */
	WEB_ROLE_MODERATOR,	/* a list's moderator: the held posts and
				 * requests */
	WEB_ROLE_OWNER,		/* a list's owner: everything of the list */
	WEB_ROLE_SITE,		/* the site admin: every list, create, remove */
};

struct web_session {
	char *id;		/* the cookie's value */
	enum web_role role;
	char *list;		/* list fqdn or "" */
	char *address;		/* member address or "" */
	char *csrf;
	char *lang;		/* "" or the language pages take */
	int64_t expires;
};

const char *web_role_name(enum web_role r);

/* The session with cookie value id, or NULL (none, expired, malformed). */
struct web_session *session_load(struct site *site, const char *id);
/* Makes and stores a new session; NULL with *error when it cannot be
 * written. */
struct web_session *session_create(struct site *site, enum web_role role,
				   const char *list, const char *address,
				   const char *lang, GError **error);
/* Removes the session's file (logging out). */
void session_destroy(struct site *site, struct web_session *s);
void session_free(struct web_session **sp);

/* The Set-Cookie value for s (NULL: one that removes the cookie), for the
 * path base_path. */
char *session_cookie(struct web_session *s, const char *base_path,
		     gboolean https);

/* Whether s may act as role on list (NULL: the site): the site admin may
 * do anything, an owner anything a moderator may on the same list. */
gboolean session_may(const struct web_session *s, enum web_role role,
		     const char *list);

/* Removes the expired session files, spent login links (web/used/, see
 * page_login.c) and stale attempt counters; the number removed. */
guint session_sweep(struct site *site, int64_t now);

/* Login attempts: whether key (a client address, or "list\naddress") is
 * blocked now; and a failure counted against it. */
gboolean attempts_blocked(struct site *site, const char *key);
void attempts_fail(struct site *site, const char *key);

#endif
