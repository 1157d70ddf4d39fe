/*
 * runners.h - the kinds of runner herald has (the top layer of the
 * library: a runner may use every concern below it).
 *
 * Each kind is a struct runner_kind (store/runner.h) defined in its own
 * file and listed once in registry.c; the site setting
 * runner.<queue>.handler names it, and `herald init` configures the kinds
 * that have an init_queue.  Adding a runner is one new file here (or in
 * its concern's folder) and one row in registry.c.
 */
#ifndef HERALD_RUNNERS_H
#define HERALD_RUNNERS_H

#include "store/runner.h"

extern const struct runner_kind runner_incoming;	/* incoming.c */
extern const struct runner_kind runner_virgin;		/* basic.c */
extern const struct runner_kind runner_outgoing;	/* outgoing.c */
extern const struct runner_kind runner_retry;		/* outgoing.c */
extern const struct runner_kind runner_commands;	/* commands.c */
extern const struct runner_kind runner_forward;		/* basic.c */
extern const struct runner_kind runner_sink;		/* basic.c */
extern const struct runner_kind runner_bounces;	/* bounces.c */
extern const struct runner_kind runner_archive;	/* archive.c */
extern const struct runner_kind runner_digest;		/* digest.c */
extern const struct runner_kind runner_webhook;	/* webhook.c */
extern const struct runner_kind runner_news;		/* news.c */

#endif
