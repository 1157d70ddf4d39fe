/*
 * outgoing.c - the out queue's handler (delivery, lib/deliver.c) and the
 * retry queue's (deferred recipients back to the out queue when due).
 */
#include "cli.h"
#include "deliver/deliver.h"
#include "base/log.h"

struct outgoing {
	struct site *site;
	struct deliver_settings *ds;
};

static int
handle_outgoing(void *ctx, struct queue *q, struct queue_item *item,
		GError **error)
{
	struct outgoing *o = ctx;

	return deliver_entry(o->site, o->ds, q, item, NULL, error);
}

static int
handle_retry(void *ctx, struct queue *q, struct queue_item *item,
	     GError **error)
{
	return deliver_retry_due(q, item, error);
}

void *
outgoing_new(struct site *site, GError **error)
{
	struct outgoing *o = g_new0(struct outgoing, 1);

	o->site = site;
	if ((o->ds = deliver_settings_new(site, error)) == NULL) {
		g_free(o);
		return NULL;
	}
	return o;
}

void
outgoing_free(void *ctx)
{
	struct outgoing *o = ctx;

	if (o == NULL)
		return;
	deliver_settings_free(&o->ds);
	g_free(o);
}

runner_handler_fn
outgoing_handler(void)
{
	return handle_outgoing;
}

runner_handler_fn
retry_handler(void)
{
	return handle_retry;
}
