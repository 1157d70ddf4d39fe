/*
 * runner.h - the generic runner loop: list a slice, claim, handle, finish
 * or shunt; sleep when idle, waking on inotify or after a poll interval.
 */
#ifndef HERALD_RUNNER_H
#define HERALD_RUNNER_H

#include <glib.h>
#include <signal.h>

#include "store/queue.h"

/* Handles one claimed message.  0: done (the entry is finished).  -1 with
 * *error: HERALD_ERR_IO gives the entry back and stops the runner (the
 * disk, not the message, failed); HERALD_ERR_FORMAT moves it to bad/ with
 * the error as the reason; any other error shunts it, and the runner goes
 * on.  RUNNER_NOT_DUE: see below. */
typedef int (*runner_handler_fn)(void *ctx, struct queue *q,
				 struct queue_item *item, GError **error);
/* A handler's answer for an entry whose time has not come (the retry
 * queue): it goes back, and the pass ends until the next poll. */
#define RUNNER_NOT_DUE 2

/* Whether the runner may still work its slice (the lease is ours). */
typedef gboolean (*runner_lease_fn)(void *ctx);

struct runner_config {
	const char *var_dir;
	const char *queue;
	unsigned slice, nslices;
	int poll_ms;			/* idle wait between listings */
	runner_handler_fn handler;
	void *handler_ctx;
	runner_lease_fn lease_ok;	/* NULL: no lease to check */
	void *lease_ctx;
	volatile sig_atomic_t *stop;	/* set by a signal handler */
	gboolean once;			/* one pass, then return */
};

/* Runs until *stop is set, the lease is lost (returns 1) or an error that
 * makes the queue unusable (returns -1).  0: stopped on request. */
int runner_run(const struct runner_config *cfg, GError **error);

#endif
