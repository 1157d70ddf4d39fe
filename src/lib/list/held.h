/*
 * held.h - posts held for the moderators.
 *
 * lists/<list>/held/<id>.msg holds one held post in the queue file format
 * (docs/formats.md): the message as the pipeline left it, and metadata with
 * the reason ("hold-reason"), the handler that held it ("hold-handler"),
 * the handlers still to run ("pipeline"), the poster, subject and time.
 * ids are numbers from the list's counter held_id.  A moderator's decision
 * claims the file by renaming it to <id>.<host>.<pid>.claim (a rename is
 * atomic, also on NFS), so two moderators cannot both approve one post.
 */
#ifndef HERALD_HELD_H
#define HERALD_HELD_H

#include <glib.h>
#include <stdint.h>

#include <gmime/gmime.h>

#include "list/list.h"
#include "store/queue.h"

struct held_post {
	int64_t id;
	int64_t held_at;	/* epoch seconds */
	char *poster;
	char *subject;		/* decoded, UTF-8 */
	char *reason;
	struct queue_meta *meta;
	char *msg;		/* the raw message (NUL-terminated) */
	size_t msg_len;
	gboolean deciding;	/* a decision has claimed it (or crashed) */
};

void held_post_free(struct held_post **hp);
/* GDestroyNotify form, for arrays. */
void held_post_free_ptr(gpointer hp);

/* Stores msg, which handler held for reason, with rest the handlers still
 * to run, as a held post of list l.  meta is what the post carries (list,
 * sender, recipients as "rcpt" lines ...: kept, so that an approval
 * resumes the post as it was); poster is the author's address ("" when
 * there is none).  The subject is msg's.  *id_r gets its id. */
int held_store(struct list *l, GMimeMessage *msg,
	       const struct queue_meta *meta, const char *poster,
	       const char *reason, const char *handler, const char *rest,
	       int64_t *id_r, GError **error);

/* The held posts of a list, oldest first (without their messages),
 * including those a decision has claimed (deciding). */
int held_list(struct list *l, GPtrArray **posts_r, GError **error);

/* One held post with its message: 1, 0 when there is none, -1 error. */
int held_get(struct list *l, int64_t id, struct held_post **post_r,
	     GError **error);

enum held_action {
	HELD_APPROVE,	/* back to the in queue, approved, to resume */
	HELD_REJECT,	/* the poster is told why; the post is dropped */
	HELD_DISCARD,	/* dropped without a word */
	HELD_DEFER,	/* left as it is (recorded in the log) */
};

/* Applies a moderator's decision; reason (optional) goes into a
 * rejection notice.  HERALD_ERR_NOTFOUND when there is no such post (or
 * another moderator decided it just now).  A claim left by a decision
 * that died (its process gone on this host, or older than
 * HELD_CLAIM_STALE seconds) is taken over, so no post stays stuck. */
#define HELD_CLAIM_STALE 600
int held_decide(struct list *l, int64_t id, enum held_action action,
		const char *reason, GError **error);

int held_action_parse(const char *name);

#endif
