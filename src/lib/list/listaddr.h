/*
 * listaddr.h - which list, and which of its addresses, a recipient is.
 *
 * The LMTP server, `herald mta` (the MTA's pipe) and later the command
 * processor and the web UI map addresses with it, so the table of a list's
 * addresses (LIST, -request, -join, -leave, -owner, -bounces+VERP,
 * -confirm+TOKEN), the kind of mail each receives and the queue that kind
 * goes to are written once, in listaddr.c.
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
void listaddr_free_ptr(gpointer p);

/* The queue that mail of kind goes to; NULL for an unknown kind. */
const char *listaddr_kind_queue(const char *kind);

#endif
