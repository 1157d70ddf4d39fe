/*
 * ledger.h - small per-list, per-address records: how many automatic
 * replies an address had today, when replybot last answered it.
 *
 * lists/<list>/<file> holds one line per address: the address key
 * (percent-encoded, so that a quoted local part with spaces stays one
 * field), a space, and the record's value.  Updates take the list lock and
 * replace the file atomically.
 */
#ifndef HERALD_LEDGER_H
#define HERALD_LEDGER_H

#include <glib.h>
#include <stdint.h>

#include "list/list.h"

/* Decides on key's record: old is its value (NULL when it has none);
 * *new_r gets the value to store (newly allocated).  Returns 1 or 0, the
 * answer ledger_update passes on. */
typedef int (*ledger_decide_fn)(const char *old, char **new_r, void *ctx);
/* Whether another address's record is still worth keeping. */
typedef gboolean (*ledger_keep_fn)(const char *value, void *ctx);

/* Under the list lock: reads lists/<list>/<file>, lets decide judge key's
 * record, drops the other records keep refuses, and writes the file
 * back.  Returns decide's answer, or -1 with *error. */
int ledger_update(struct list *l, const char *file, const char *key,
		  ledger_decide_fn decide, ledger_keep_fn keep, void *ctx,
		  GError **error);

/* Records in file that key gets an automatic response now, unless it had
 * one within the last days days (0: always respond): the grace period of
 * Mailman's autoresponders (autoresponse_graceperiod).  The value is the
 * epoch second of the last response.  1 respond, 0 not, -1 error. */
int ledger_grace(struct list *l, const char *file, const char *key,
		 int64_t days, GError **error);

#endif
