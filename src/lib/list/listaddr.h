/*
 * listaddr.h - which list, and which of its addresses, a recipient is.
 *
 * The LMTP server, `herald mta` (the MTA's pipe) and later the command
 * processor and the web UI map addresses with it, so the table of a list's
 * addresses (LIST, -request, -join, -leave, -owner, -bounces+VERP,
 * -confirm+TOKEN), the kind of mail each receives and the queue that kind
 * goes to are written once, in listaddr.c.
 *
 * Two lists must not share an address: a list named test-owner@DOMAIN
 * beside test@DOMAIN would take the mail of test's owners (and Postfix's
 * postmap sees a duplicate key).  list_create() asks listaddr_check_new()
 * under the domain's creation lock, so the table decides that too.
 */
#ifndef HERALD_LISTADDR_H
#define HERALD_LISTADDR_H

#include <glib.h>

#include "store/site.h"

/* A recipient address mapped to its list. */
struct listaddr {
	char *address;		/* as given */
	char *list;		/* name@domain */
	const char *kind;	/* post, owner, request, join, leave, bounces,
				 * confirm */
	const char *queue;	/* in, commands, bounces */
};

/* NULL when address is none of the site's list addresses. */
struct listaddr *listaddr_map(struct site *site, const char *address);
/* listaddr_map, and when that finds nothing, the same for the address
 * without its +tag (LIST+tag@DOMAIN: an MTA with a recipient delimiter
 * delivers it to LIST@DOMAIN).  Whether a notice or a command came from
 * herald's own addresses. */
struct listaddr *listaddr_map_tagged(struct site *site, const char *address);
void listaddr_free_ptr(gpointer p);

/* The queue that mail of kind goes to; NULL for an unknown kind. */
const char *listaddr_kind_queue(const char *kind);

/* The suffixes of a list's role addresses ("-request", "-owner", ...),
 * the i-th of the table; NULL past its end. */
const char *listaddr_suffix(guint i);

/* Whether a list fqdn that does not exist yet (a name list_name_check()
 * accepts) would share an address with a list of the site: its posting
 * address is a role address of another list (test-owner@ beside test@),
 * or a role address of it is the posting address of another list (test@
 * beside test-owner@, or test-bounces+x@).  0 when it would not; -1 with
 * HERALD_ERR_EXISTS naming the address and the other list, or another
 * error.  Safe against a concurrent creation only under the lock that
 * list_create() holds. */
int listaddr_check_new(struct site *site, const char *fqdn, GError **error);

#endif
