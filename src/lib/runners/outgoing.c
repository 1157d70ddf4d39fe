/*
 * outgoing.c - the out queue's runner (delivery, deliver/deliver.c) and the
 * retry queue's (deferred recipients back to the out queue when due).
 */
#include "runners/runners.h"
#include "deliver/deliver.h"
#include "store/names.h"

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

static void *
outgoing_open(struct site *site, const char *queue, GError **error)
{
	struct outgoing *o = g_new0(struct outgoing, 1);

	o->site = site;
	if ((o->ds = deliver_settings_new(site, error)) == NULL) {
		g_free(o);
		return NULL;
	}
	return o;
}

static void
outgoing_close(void *ctx)
{
	struct outgoing *o = ctx;

	if (o == NULL)
		return;
	deliver_settings_free(&o->ds);
	g_free(o);
}

const struct runner_kind runner_outgoing = {
	.name = "outgoing",
	.init_queue = QUEUE_OUT,
	.doc = "delivery to the members through the MTA.",
	.open = outgoing_open,
	.close = outgoing_close,
	.handle = handle_outgoing,
};

const struct runner_kind runner_retry = {
	.name = "retry",
	.init_queue = QUEUE_RETRY,
	.doc = "deferred recipients back to the out queue when their time "
	       "comes.",
	.handle = handle_retry,
};
