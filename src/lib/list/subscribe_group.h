/*
 * subscribe_group.h - group commit of owners' adds: the subscriptions
 * that threads of one process ask for on one list at the same time are
 * applied as one roster change (one list lock, one append, one fsync).
 *
 * The web service answers each API subscription in its own thread
 * (libmicrohttpd's pool); alone, each took the list lock, wrote and
 * fsync'ed its own change, and the threads queued for the lock with
 * backoff.  Here a thread puts its requests on the list's queue; the
 * first to find no batch under way becomes its leader, takes everything
 * queued, commits it with roster_edit and wakes the others; whoever
 * arrives meanwhile waits for the next batch, which the next leader
 * takes.  So the batch grows with the load, and a lone request costs no
 * waiting.
 *
 * Durability: a request's outcome is known only once roster_edit has
 * returned, that is once its change is on stable storage (roster.h,
 * docs/formats.md "Durability").  A batch that fails fails every
 * request in it with the same error, and commits none of them: the
 * change is one commit record.  The webhook event follows in each
 * caller's own thread, after the commit.  The welcome and the owners'
 * notice are owed in the change itself (subscribe.h, "Owed notices"):
 * after a batch that owes any, the process's sender thread sends what
 * the list owes, several batches' worth at a time, as one file; what it
 * leaves (a crash, a failure) the task members.notices sends.
 */
#ifndef HERALD_SUBSCRIBE_GROUP_H
#define HERALD_SUBSCRIBE_GROUP_H

#include <glib.h>

#include "list/subscribe.h"

/* Owners' adds of n addresses to l (each r[i].admin; the password is
 * ignored: an owner's add sets none): outcomes_r[i] gets DONE, ALREADY
 * (a member, or an earlier address of the same batch) or BANNED.  All n
 * go into one batch, with whatever other threads asked for meanwhile.
 * 0, or -1 with *error and nothing added (HERALD_ERR_INVALID when an
 * address is none: checked before anything is queued). */
int subscribe_group(struct list *l, const struct subscribe_request *r,
		    guint n, int *outcomes_r, GError **error);

/* Waits until the sender thread has nothing left to send (the web
 * service before it exits, and tests). */
void subscribe_group_flush(void);

/* The batches committed and the requests in them since the process
 * started (for tests and the log). */
void subscribe_group_stats(guint64 *batches_r, guint64 *requests_r);
/* The callers of this process waiting for l's next batch, and (*busy_r)
 * whether a batch of l is being committed (tests). */
guint subscribe_group_queued(struct list *l, gboolean *busy_r);

#endif
