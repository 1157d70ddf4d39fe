/*
 * digest.h - a list's digests: the pending posts, volumes and issues, the
 * MIME (RFC 2046 multipart/digest) and plain (RFC 1153) renditions, and
 * their sending, as Mailman 2.1's ToDigest, Digester and cron/senddigests.
 *
 * Boundary: reads the digest queue's entries (the runner hands them in),
 * the list's settings, roster and templates; writes only its own files
 * under lists/<list>/digest/ and, to send, entries of the out queue, which
 * delivers a digest like any post (batches, VERP, bounces).  Builds with
 * mail/message.h and decorates with list/decorate.h and list/headers.h.
 *
 * Files (lists/<list>/digest/):
 *     pending/<name>.msg  one post each, named by its digest-queue entry:
 *                         written to .tmp, fsync'ed, renamed under the
 *                         list lock
 *     pending/mid-<sha1>  an empty marker of each post's Message-ID
 *     state               volume, issue (the next), last_sent and
 *                         volume_started (epoch seconds), a key file
 *                         replaced atomically
 *     one-last            "mode address" lines: members who left digest
 *                         mode since the last send (they get one more)
 *     recent              "time name" lines: posts claimed by the sends of
 *                         the last RECENT_KEEP seconds
 *     send-<V>-<N>/       a claimed issue: its posts and one-last, then
 *                         (once built) out-*.msg queue entries and "built"
 * The claim is one rename of pending/ under the list lock, so a post is in
 * the pending set or in exactly one issue, never both.  docs/digests.md
 * says why each step survives a crash.
 */
#ifndef HERALD_DIGEST_H
#define HERALD_DIGEST_H

#include <glib.h>
#include <gmime/gmime.h>
#include <stdint.h>
#include <time.h>

#include "list/list.h"
#include "list/roster.h"

#define DIGEST_SUBSYS "digest"

/* digest_volume_frequency. */
enum digest_frequency {
	DIGEST_YEARLY, DIGEST_MONTHLY, DIGEST_QUARTERLY, DIGEST_WEEKLY,
	DIGEST_DAILY,
};

/* What is waiting and how the next issue will be numbered. */
struct digest_status {
	guint posts;		/* pending posts */
	uint64_t bytes;		/* their size */
	int64_t volume, issue;	/* of the next digest, were it sent now */
	int64_t last_sent;	/* epoch seconds, 0: never */
	guint unfinished;	/* claimed issues not yet fully queued */
	guint one_last;		/* members owed one last digest */
};

/* --- the pending store (store.c) ----------------------------------------- */

/* Adds post name (a queue entry's base name: [0-9a-f+]) of len bytes to
 * the list's pending digest, durably, under the list lock.  1 added, 0 it
 * was there already or sent recently (the same queue entry handled again
 * after a crash, or another copy of a post with this message_id: NULL or
 * "" when it has none), -1 with *error.  *bytes_r (optional) gets the
 * pending size afterwards. */
int digest_append(struct list *l, const char *name, const char *message_id,
		  const char *msg, size_t len, uint64_t *bytes_r,
		  GError **error);

/* Whether name can name a pending post. */
gboolean digest_post_name_ok(const char *name);

/* One post of a batch for digest_append_batch: digest_append's arguments,
 * and whether it was added. */
struct digest_post {
	const char *name;
	const char *message_id;
	const char *msg;
	size_t len;
	gboolean added;		/* out */
	char *file, *marker;	/* the store's, while it works */
};

/* Adds posts[0..n) as digest_append does each, under one lock and with
 * one directory sync (a second copy of a Message-ID in the batch counts
 * as there already).  The number added, or -1 with *error (then none was
 * added, or a crash-safe part of them: the queue entries are redone). */
int digest_append_batch(struct list *l, struct digest_post *posts, guint n,
			uint64_t *bytes_r, GError **error);

/* The pending set and the numbering at time now (epoch seconds). */
int digest_status_get(struct list *l, time_t now, struct digest_status *st,
		      GError **error);

/* Whether a digest last sent at last (epoch seconds, 0: never) and one
 * sent at now fall in different periods of freq (local time; quarters are
 * Jan-Mar, Apr-Jun, ...; weeks start on Monday). */
gboolean digest_new_period(enum digest_frequency freq, time_t last,
			   time_t now);

/* Starts a new volume at time now (Mailman's bumpdigests): the next
 * digest is issue 1 of the volume after the one it would have had
 * (*volume_r), and no other volume starts in now's period.  Under the
 * list lock. */
int digest_new_volume(struct list *l, time_t now, int64_t *volume_r,
		      GError **error);

/* Records that member addr (mode: its digest mode until now) is owed the
 * pending digest: Mailman's one_last_digest.  Under the list lock. */
int digest_owe_last(struct list *l, const char *addr, enum member_mode mode,
		    GError **error);

/* A claimed issue: the directory send-<V>-<N>. */
struct digest_claim {
	char *dir;
	int64_t volume, issue;
};
void digest_claim_free(struct digest_claim **cp);

/* Claims the pending posts as the next issue at time now, under the list
 * lock: 1 with *claim_r, 0 nothing pending (or, when min_bytes > 0, less
 * than that), -1.  Numbering advances the volume when now starts a new
 * period of digest_volume_frequency. */
int digest_claim(struct list *l, time_t now, uint64_t min_bytes,
		 struct digest_claim **claim_r, GError **error);

/* The claimed issues left unfinished (a sender died), oldest first. */
int digest_unfinished(struct list *l, GPtrArray **claims_r, GError **error);

/* The posts of a claim, in their order (file names, sorted). */
GPtrArray *digest_claim_posts(const struct digest_claim *c, GError **error);

/* --- the renditions (build.c): pure functions of the posts and the list */

struct digest_issue {
	int64_t volume, issue;
	time_t date;		/* the Date header */
	const char *message_id;	/* "<...>" */
	GPtrArray *posts;	/* GMimeMessage *, in order */
};

/* The MIME digest: multipart/mixed of the masthead, digest_header, the
 * table of contents, a multipart/digest with one message/rfc822 per post
 * (their headers filtered to the kept ones), digest_footer. */
GMimeMessage *digest_build_mime(struct list *l, const struct digest_issue *d,
				GError **error);
/* The plain digest (RFC 1153): one text/plain part. */
GMimeMessage *digest_build_plain(struct list *l, const struct digest_issue *d,
				 GError **error);

/* --- sending (send.c) ---------------------------------------------------- */

struct digest_sent {
	guint issues;		/* issues queued by this call */
	guint posts;		/* posts in them */
	guint mime_rcpts, plain_rcpts;
};

/* Sends the list's digest now (time now): first any issue a dead sender
 * left unfinished, then the pending posts as a new issue, when there are
 * at least min_bytes of them (0: any; G_MAXUINT64: no new issue, only
 * the unfinished ones).  The issue goes to the out queue,
 * one entry per rendition, to the enabled digest members of that mode
 * and those owed one last digest.  Under the list's digest lock (waits up
 * to timeout_ms; busy: 0 and nothing sent).  1 sent or nothing to send,
 * 0 busy, -1 with *error. */
int digest_send(struct list *l, time_t now, uint64_t min_bytes,
		int64_t timeout_ms, struct digest_sent *sent_r,
		GError **error);

#endif
