/*
 * bounces.c - the bounces runner: each entry of the bounces queue (DSNs
 * the MTA handed to LIST-bounces, VERP'd or not, and the bounce events
 * delivery writes) goes through bounce processing (bounce/process.h),
 * which scores, disables and tells.
 *
 * Every entry is accounted for: processed (scored, ignored, or logged as
 * unrecognized and perhaps forwarded to the owners), or, when it is no
 * message at all, moved to bad/ with the reason (HERALD_ERR_FORMAT).  A
 * list whose files cannot be changed gives the entry back (HERALD_ERR_IO)
 * to be tried again.
 */
#include "runners/runners.h"
#include "base/base.h"
#include "bounce/process.h"
#include "store/names.h"
#include "store/site.h"

static void *
bounces_open(struct site *site, const char *queue, GError **error)
{
	return site;
}

static int
handle_bounce(void *ctx, struct queue *q, struct queue_item *item,
	      GError **error)
{
	struct bounce_outcome out;

	return bounce_process(ctx, item->meta, item->msg, item->msg_len,
			      now_usec() / 1000000, &out, error);
}

const struct runner_kind runner_bounces = {
	.name = "bounces",
	.init_queue = QUEUE_BOUNCES,
	.doc = "bounce processing: detect, score, disable, tell (docs/bounces.md).",
	.open = bounces_open,
	.handle = handle_bounce,
};
