/*
 * webhook.h - webhooks: where events are sent, and the writing of an
 * event into the webhooks queue (docs/api.md, "Webhooks").
 *
 * Here in store/ (layer 2) because every layer above makes events (a
 * roster change in list/, a bounce in bounce/, a delivery in deliver/):
 * each calls webhook_emit() once, after its change is committed.  The
 * sending is a runner (runners/webhook.c) of the queue "webhooks", so an
 * event is a queue entry like any other: written whole and synced before
 * webhook_emit returns, claimed by rename by whichever host's runner works
 * the slice, given back on a crash.  Delivery is therefore at least once.
 *
 * The var dir holds
 *     webhooks/hooks/<id>       one webhook (key file): url, secret, list
 *                               ("" for every list of the site), created
 *     webhooks/seq/<list>       the list's last event sequence number
 *                               (site-wide events: "_site"), changed under
 *                               the lock locks/webhook-seq-<list>
 *     webhooks/sent/<id>/<seq>.json   events sent (or given up), for
 *                               `herald webhooks replay`
 *
 * An event's body (JSON):
 *     {"id": "<32 hex>", "event": "member.subscribed", "list": "a@b",
 *      "sequence": 17, "created": 1700000000, "data": {...}}
 * "sequence" grows by one with each event of the list, across hosts, so a
 * receiver can put events in order and see a gap.
 */
#ifndef HERALD_WEBHOOK_H
#define HERALD_WEBHOOK_H

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdint.h>

#include "store/site.h"

struct webhook {
	char *id;		/* 16 hex digits */
	char *url;
	char *secret;
	char *list;		/* "" for the site */
	int64_t created;
};

void webhook_free(struct webhook **hp);
void webhook_free_ptr(gpointer p);

/* Adds a webhook for list (NULL or "": every list) posting to url (http
 * or https); its secret is made here.  HERALD_ERR_INVALID for a bad URL. */
int webhook_add(struct site *site, const char *list, const char *url,
		struct webhook **hook_r, GError **error);
/* 1 with *hook_r, 0 none, -1 error. */
int webhook_get(const char *var_dir, const char *id, struct webhook **hook_r,
		GError **error);
/* Every webhook, by creation. */
GPtrArray *webhook_all(const char *var_dir, GError **error);
/* 1 removed, 0 none. */
int webhook_remove(struct site *site, const char *id, GError **error);

/* An event of list (NULL: the site) happened: one queue entry per webhook
 * that wants it, each carrying the same id and sequence number.  Takes
 * data (may be NULL).  Failures are logged, never returned: the change
 * that made the event is done already.  Costs a directory read when no
 * webhook is configured. */
void webhook_emit(struct site *site, const char *list, const char *event,
		  JsonObject *data);
/* The same for one webhook only (`herald webhooks test`); -1 on error. */
int webhook_emit_to(struct site *site, const struct webhook *h,
		    const char *list, const char *event, JsonObject *data,
		    GError **error);
/* Queues again the events sent to webhook id with a sequence number of at
 * least since (of any list); *count_r gets how many. */
int webhook_replay(struct site *site, const char *id, int64_t since,
		   guint *count_r, GError **error);
/* Where the runner keeps an event it is done with (sent or given up). */
char *webhook_sent_path(const char *var_dir, const char *id,
			const char *list, int64_t seq);

#endif
