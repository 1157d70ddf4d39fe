/*
 * privacy.h - who may see a list's roster, and how they see it
 * (private_roster, hide, obscure_addresses): one rule for the email
 * `who` command and the web roster page.
 *
 * Reads the list's settings and the roster it is given; changes nothing.
 * Authenticating the viewer (a member's password, the list's admin or
 * moderator password, a web session) is the caller's: it says who the
 * viewer is.
 */
#ifndef HERALD_PRIVACY_H
#define HERALD_PRIVACY_H

#include <glib.h>

#include "list/list.h"
#include "list/roster.h"

enum privacy_viewer {
	VIEWER_ANYONE,		/* not authenticated, or not a member */
	VIEWER_MEMBER,		/* a member who gave their password */
	VIEWER_ADMIN,		/* an owner or moderator */
};

/* Whether viewer may see l's roster at all (private_roster: 0 anyone,
 * 1 members, 2 the list's administrators). */
gboolean privacy_may_see_roster(struct list *l, enum privacy_viewer viewer);

/* The members viewer sees, sorted by address: concealed members (the
 * hide option) are left out for all but administrators.  The array owns
 * nothing (the members are r's).  Call privacy_may_see_roster first. */
GPtrArray *privacy_visible_members(const struct roster *r,
				   enum privacy_viewer viewer);

/* addr as viewer is shown it: "user at example.org" when
 * obscure_addresses is on and the viewer is not an administrator, else
 * addr as it is.  Newly allocated. */
char *privacy_address(struct list *l, const char *addr,
		      enum privacy_viewer viewer);

#endif
