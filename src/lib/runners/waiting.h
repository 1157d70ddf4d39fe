/*
 * waiting.h - the posts a runner keeps for the end of its batch, by list:
 * the archive and digest runners take a burst of posts in as one
 * (store/runner.h, RUNNER_DEFERRED and runner_flush_fn).
 *
 * Each post is copied from its queue entry with what the kind needs of
 * it; the lists are opened once a batch.  waiting_each() hands each
 * list's posts over and forgets them as it goes; what it could not hand
 * over stays, for the runner's flush to try once more.
 */
#ifndef HERALD_RUNNERS_WAITING_H
#define HERALD_RUNNERS_WAITING_H

#include <glib.h>
#include <stdint.h>

#include "list/list.h"
#include "store/queue.h"

/* Bytes of posts kept, at most: past it a kind hands them over at once. */
#define WAITING_MAX_BYTES (8 << 20)

struct waiting_post {
	char *msg;
	size_t len;
	char *base;		/* the queue entry's name */
	char *extra;		/* the kind's own (a Message-ID, say), or NULL */
	int64_t received;	/* epoch seconds */
	gboolean again;		/* the entry came back after a crash */
};

struct waiting_list {
	struct list *list;
	GPtrArray *posts;	/* struct waiting_post * */
};

struct waiting;

struct waiting *waiting_new(struct site *site);
void waiting_free(struct waiting **wp);

/* The list fqdn's posts waiting: opened when it has none yet (NULL with
 * *error, HERALD_ERR_NOTFOUND when there is no such list). */
struct waiting_list *waiting_list(struct waiting *w, const char *fqdn,
				  GError **error);
/* Drops the list from the waiting ones when it has no post. */
void waiting_list_unused(struct waiting *w, const char *fqdn);
/* Keeps a copy of item for the end of the batch, with extra (taken). */
void waiting_add(struct waiting *w, struct waiting_list *wl,
		 const struct queue_item *item, char *extra);
/* Bytes kept. */
size_t waiting_bytes(const struct waiting *w);

/* Hands each list's posts to fn, forgetting them once fn returns >= 0;
 * stops at the first -1 (with *error), the rest kept. */
typedef int (*waiting_fn)(struct waiting_list *wl, void *ctx, GError **error);
int waiting_each(struct waiting *w, waiting_fn fn, void *ctx, GError **error);
/* Forgets every post kept. */
void waiting_clear(struct waiting *w);

#endif
