/*
 * basic.c - the runner kinds that move messages without reading them.
 *
 *   forward   into the queue named by runner.<queue>.next (a chain of
 *             queues for tests and for sites that split work by queue);
 *   virgin    herald's own notices (notice.c), on to the out queue, so that
 *             they are delivered like posts but never pass the pipeline;
 *   sink      accepted and deleted (tests, benchmarks).
 *
 * Forwarding enqueues into the next queue before the runner finishes the
 * entry, so a crash between the two gives a duplicate, never a loss.
 */
#include "runners/runners.h"
#include "base/base.h"
#include "store/names.h"
#include "store/site.h"

struct forward {
	struct queue *next;
};

static int
handle_forward(void *ctx, struct queue *q, struct queue_item *item,
	       GError **error)
{
	struct forward *f = ctx;

	return queue_enqueue(f->next, item->meta, item->msg, item->msg_len, NULL,
			     error);
}

static void *
forward_to(struct site *site, const char *next, GError **error)
{
	struct forward *f = g_new0(struct forward, 1);

	if ((f->next = queue_open(site_var_dir(site), next, error)) == NULL) {
		g_free(f);
		return NULL;
	}
	return f;
}

static void *
forward_open(struct site *site, const char *queue, GError **error)
{
	char *key = g_strdup_printf("runner.%s.next", queue);
	char *next = site_get(site, key, NULL);
	void *f = NULL;

	if (next == NULL || *next == '\0')
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "handler forward needs %s, the queue to forward to",
			    key);
	else
		f = forward_to(site, next, error);
	g_free(next);
	g_free(key);
	return f;
}

static void *
virgin_open(struct site *site, const char *queue, GError **error)
{
	return forward_to(site, QUEUE_OUT, error);
}

static void
forward_close(void *ctx)
{
	struct forward *f = ctx;

	if (f == NULL)
		return;
	queue_close(&f->next);
	g_free(f);
}

static int
handle_sink(void *ctx, struct queue *q, struct queue_item *item, GError **error)
{
	return 0;
}

const struct runner_kind runner_forward = {
	.name = "forward",
	.doc = "move each message to the queue named by runner.<queue>.next.",
	.open = forward_open,
	.close = forward_close,
	.handle = handle_forward,
};

const struct runner_kind runner_virgin = {
	.name = "virgin",
	.init_queue = QUEUE_VIRGIN,
	.doc = "herald's own notices, on to the out queue.",
	.open = virgin_open,
	.close = forward_close,
	.handle = handle_forward,
};

const struct runner_kind runner_sink = {
	.name = "sink",
	.doc = "accept and delete each message (tests).",
	.handle = handle_sink,
};
