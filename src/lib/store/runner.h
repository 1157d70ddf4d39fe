/*
 * runner.h - the generic runner loop: list a slice, claim, handle, finish
 * or shunt; sleep when idle, waking on inotify or after a poll interval.
 */
#ifndef HERALD_RUNNER_H
#define HERALD_RUNNER_H

#include <glib.h>
#include <signal.h>

#include "store/queue.h"

/* Handles one claimed message.  0: done (the entry is finished once the
 * runner's batch, which holds what the handler wrote with
 * queue_enqueue_batched, is stored; any other outcome drops that).  -1 with
 * *error: HERALD_ERR_IO gives the entry back and stops the runner (the
 * disk, not the message, failed); HERALD_ERR_FORMAT moves it to bad/ with
 * the error as the reason; any other error shunts it, and the runner goes
 * on.  RUNNER_NOT_DUE: see below. */
typedef int (*runner_handler_fn)(void *ctx, struct queue *q,
				 struct queue_item *item, GError **error);
/* A handler's answer for an entry whose time has not come (the retry
 * queue): it goes back, and the pass ends until the next poll. */
#define RUNNER_NOT_DUE 2
/* A handler's answer for an entry it is done with but whose work it put
 * off to the end of the batch (runner_flush_fn): as 0, and the batch
 * waits for more entries (up to its bounds) as it does for queue output,
 * instead of being stored at once. */
#define RUNNER_DEFERRED 3

/* Called before the runner stores its batch, when the batch holds entries
 * the handler is done with (RUNNER_DEFERRED or 0): the work the handler put off so that a batch
 * pays for it once (the archive's index pages, a digest's posts) is done
 * now, before those entries are finished.  -1 with *error: the batch is
 * not stored and its entries go back to the queue, as when storing it
 * fails (the handler's own state for them is dropped either way). */
typedef int (*runner_flush_fn)(void *ctx, GError **error);

/* Whether the runner may still work its slice (the lease is ours). */
typedef gboolean (*runner_lease_fn)(void *ctx);
/* Called between messages, at most once a second: a chance to pick up
 * changed settings.  -1 with *error stops the runner like an I/O error. */
typedef int (*runner_tick_fn)(void *ctx, GError **error);

struct site;

/*
 * A kind of runner: what a queue's runner does with each message.  The
 * site setting runner.<queue>.handler names one; the registry
 * (runners/registry.c) lists them all, and `herald init` gives each kind
 * with an init_queue a [runner.<init_queue>] section.  Adding a runner is
 * one file that defines its struct runner_kind and one row there.
 */
struct runner_kind {
	const char *name;	/* the value of runner.<queue>.handler */
	const char *init_queue;	/* the queue `herald init` sets up, or NULL */
	/* The nice value `herald init` gives its runners (runner.*.nice): work
	 * that can wait (the archive, the digests, the news gateway) gives
	 * the CPU to taking mail in and delivering it. */
	int init_nice;
	const char *doc;	/* one sentence for docs/settings.md */
	/* The handler's context for a runner of queue; NULL with *error when
	 * it cannot be made (the runner exits and the master retries).
	 * NULL open: the context is NULL. */
	void *(*open)(struct site *site, const char *queue, GError **error);
	void (*close)(void *ctx);
	runner_handler_fn handle;
	/* NULL: the handler puts nothing off.  See runner_flush_fn. */
	runner_flush_fn flush;
};

/* Every kind, ended by NULL: defined by the registry in the top layer
 * (runners/registry.c), which may see every concern. */
extern const struct runner_kind *const runner_kinds[];
const struct runner_kind *runner_kind_find(const char *name);

struct runner_config {
	const char *var_dir;
	const char *queue;
	unsigned slice, nslices;
	int poll_ms;			/* idle wait between listings */
	runner_handler_fn handler;
	void *handler_ctx;
	runner_flush_fn flush;		/* NULL: none; given handler_ctx */
	runner_lease_fn lease_ok;	/* NULL: no lease to check */
	void *lease_ctx;
	runner_tick_fn tick;		/* NULL: none */
	void *tick_ctx;
	volatile sig_atomic_t *stop;	/* set by a signal handler */
	gboolean once;			/* one pass, then return */
};

/* Runs until *stop is set, the lease is lost (returns 1) or an error that
 * makes the queue unusable (returns -1).  0: stopped on request. */
int runner_run(const struct runner_config *cfg, GError **error);

#endif
