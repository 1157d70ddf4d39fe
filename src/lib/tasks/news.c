/*
 * news.c - the task news.gate, Mailman 2.1's cron/gate_news: each list
 * with gateway_to_mail gets its newsgroup's new articles as posts
 * (news/nntp.h: news_pull, which says why none is gated twice).  The
 * task's lock makes the runs of all hosts one at a time, as Mailman's
 * gate_news.lock did.
 */
#include "tasks/tasks.h"
#include "list/list.h"
#include "news/nntp.h"

struct gate_sweep {
	struct site *site;
	unsigned lists, gated, skipped;
};

static int
gate_list(struct list *l, void *ctx, GError **error)
{
	struct gate_sweep *sw = ctx;
	struct news_pulled r;
	int ret = news_pull(l, (unsigned)site_get_int(sw->site, "news.timeout"),
			    (unsigned)site_get_int(sw->site, "news.gate_max"),
			    &r, error);

	sw->lists += r.gated > 0;
	sw->gated += r.gated;
	sw->skipped += r.skipped;
	return ret;
}

static int
news_gate_all(struct site *site, struct task_run *ctx, GError **error)
{
	struct gate_sweep sw = { .site = site };
	int r = task_for_each_list(site, gate_list, &sw, error);

	task_run_message(ctx, "%u article%s gated to %u list%s, %u not (the "
			 "lists' own)", sw.gated, sw.gated == 1 ? "" : "s",
			 sw.lists, sw.lists == 1 ? "" : "s", sw.skipped);
	return r;
}

const struct task task_news_gate = {
	.name = "news.gate",
	.default_schedule = "every 5m",
	.doc = "Takes the new articles of the linked newsgroup of each list "
	       "with gateway_to_mail into the list (Mailman's gate_news).",
	.run = news_gate_all,
};
