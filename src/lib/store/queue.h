/*
 * queue.h - the switchboard: on-disk message queues under var/queue/<name>.
 *
 * Entry names: <stamp>+<digest>.msg (ready), .bak (claimed by a runner),
 * .tmp (being written; never read).  stamp is 16 digits of UTC
 * microseconds, so names sort in FIFO order; digest is 40 hex digits of
 * SHA-1 and places the entry in a slice of the hash space.  The file
 * format is in docs/formats.md.
 */
#ifndef HERALD_QUEUE_H
#define HERALD_QUEUE_H

#include <glib.h>
#include <stdint.h>

#define QUEUE_MAX_BAK_COUNT 3	/* crashes before a message goes to bad/ */
#define QUEUE_BASE_LEN 57	/* 16 + 1 + 40 */
/* Age after which another host's unfinished .tmp file is removed. */
#define QUEUE_TMP_FOREIGN_AGE 3600

/* --- metadata: an ordered list of key: value pairs, keys may repeat --- */

struct queue_meta;

struct queue_meta *queue_meta_new(void);
struct queue_meta *queue_meta_copy(const struct queue_meta *m);
void queue_meta_free(struct queue_meta **mp);
/* The first value of key, or NULL. */
const char *queue_meta_get(const struct queue_meta *m, const char *key);
int64_t queue_meta_get_int(const struct queue_meta *m, const char *key,
			   int64_t dflt);
/* Replaces every value of key with one value. */
void queue_meta_set(struct queue_meta *m, const char *key, const char *value);
void queue_meta_set_int(struct queue_meta *m, const char *key, int64_t value);
/* Whether key may be set: [A-Za-z0-9_-]+ (docs/formats.md), and not
 * "size", which the file format writes itself.  Check keys from outside
 * (the command line) with it: writing an entry asserts the rule. */
gboolean queue_meta_key_valid(const char *key);
/* Appends one more value of key (recipients, say). */
void queue_meta_add(struct queue_meta *m, const char *key, const char *value);
void queue_meta_remove(struct queue_meta *m, const char *key);
/* All values of key, in order; the array owns nothing. */
GPtrArray *queue_meta_get_all(const struct queue_meta *m, const char *key);
/* Iteration: number of pairs and the i-th pair. */
guint queue_meta_count(const struct queue_meta *m);
void queue_meta_nth(const struct queue_meta *m, guint i, const char **key_r,
		    const char **value_r);

/* --- queues ------------------------------------------------------------ */

struct queue;

struct queue_item {
	char *base;		/* <stamp>+<digest> */
	struct queue_meta *meta;
	const char *msg;	/* the raw message, inside buf */
	size_t msg_len;
	char *buf;		/* the whole file */
};

/* Opens (creating if needed) var/queue/<name>.  Queue names are [a-z0-9-]. */
struct queue *queue_open(const char *var_dir, const char *name, GError **error);
void queue_close(struct queue **qp);
const char *queue_name(const struct queue *q);
const char *queue_dir(const struct queue *q);
/* The var dir this queue belongs to. */
const char *queue_var_dir(const struct queue *q);

/* Writes msg with meta to the queue and makes it durable before returning
 * 0: write <name>.tmp, fsync, rename to .msg, fsync the directory.  On any
 * failure nothing becomes visible and -1 is returned.  The entry keeps the
 * metadata "received" stamp if present (FIFO position survives a requeue);
 * otherwise it is set to now.  *base_r (optional) gets the entry name. */
int queue_enqueue(struct queue *q, struct queue_meta *meta, const char *msg,
		  size_t msg_len, char **base_r, GError **error);

/*
 * Group commit: a runner hands the output of many claimed entries to one
 * batch, and makes it durable at once before it finishes them.
 *
 * queue_batch_begin() makes a batch this process's current one.  While it
 * is, queue_enqueue_batched() writes each entry to its .tmp file and
 * starts its writeback, but neither syncs nor renames it: the entry
 * belongs to the batch.  queue_batch_commit() then (1) fsyncs every file,
 * (2) renames each to .msg, (3) fsyncs each directory once.  Only after it
 * returns 0 is the batch's output stored; on -1 none of it is stored but
 * what step 2 had renamed (complete files: a redo makes them duplicates),
 * and the batch is empty either way.  The argument is in docs/formats.md.
 *
 * queue_enqueue_batched() is for a runner handler's output only: the
 * claimed entry it came from must stay claimed until the commit, which is
 * what runner.c does.  Code that removes a message itself after storing it
 * elsewhere (a held post approved, say) must use queue_enqueue().  With no
 * current batch it is queue_enqueue().
 */
struct queue_batch;

struct queue_batch *queue_batch_begin(void);
/* Entries in the batch; also a mark for queue_batch_rollback. */
guint queue_batch_size(const struct queue_batch *b);
/* Drops the entries added since mark (their .tmp files are removed). */
void queue_batch_rollback(struct queue_batch *b, guint mark);
int queue_batch_commit(struct queue_batch *b, GError **error);
/* Rolls back what was not committed; the process has no batch after. */
void queue_batch_end(struct queue_batch **bp);
int queue_enqueue_batched(struct queue *q, struct queue_meta *meta,
			  const char *msg, size_t msg_len, char **base_r,
			  GError **error);

/*
 * Group commit across threads (the web service's one-click POSTs): each
 * thread hands its entry to the committer (queue_pending_write keeps it in
 * memory, formatted), and the committer's own thread takes everything
 * handed over while it was busy as one batch.  It writes one file a queue, the one entry or a bundle of
 * them (above), and commits them as queue_batch_commit does (the files
 * fsync'ed, renamed, each directory fsync'ed once).  Then, from its
 * thread, it calls each entry's done with NULL (the entry is durable) or
 * the batch's error (the entry is not stored, or, if the failure came
 * after its rename, stored but perhaps not durable: a retry makes a
 * duplicate at worst).  docs/formats.md, "Durability", has the argument.
 */
struct queue_pending;
struct queue_committer;
typedef void (*queue_committed_fn)(gpointer data, const GError *error);

/* An entry for q, not written yet (never fails: error is unused). */
struct queue_pending *queue_pending_write(struct queue *q,
					  struct queue_meta *meta,
					  const char *msg, size_t msg_len,
					  GError **error);
/* An entry never submitted. */
void queue_pending_drop(struct queue_pending **pp);
/* Commits p alone, in this thread (queue_enqueue's work); frees it. */
int queue_pending_commit(struct queue_pending **pp, GError **error);
/* Commits the pendings (struct queue_pending *) in this thread as one
 * batch, one file a queue as the committer does; frees them and empties
 * the array.  0, or -1 with *error: none stored, or, if the failure came
 * after a rename, some stored (a redo makes duplicates). */
int queue_pendings_commit(GPtrArray *pendings, GError **error);

/* Gathering: while a thread gathers, its queue_enqueue() calls (and so
 * queue_put's, and a notice's) keep their entries in memory, formatted
 * (queue_pending_write), and store nothing; *base_r gets NULL.  The
 * caller then commits what it gathered together (queue_pendings_commit)
 * or drops it (queue_pending_drop each): a sender of many notices pays
 * one file, not one each (list/subscribe.h, the owed notices). */
void queue_gather_begin(void);
/* Ends this thread's gathering: what was gathered, in order. */
GPtrArray *queue_gather_end(void);

struct queue_committer *queue_committer_new(void);
/* Hands p over (the committer frees it); done(data, error) is called once,
 * from the committer's thread. */
void queue_committer_submit(struct queue_committer *c, struct queue_pending *p,
			    queue_committed_fn done, gpointer data);
/* Batches committed so far. */
guint64 queue_committer_batches(struct queue_committer *c);
/* Commits what was submitted, then stops the thread; submit no more. */
void queue_committer_free(struct queue_committer **cp);

/* queue_enqueue into queue name of var_dir, opened for this one write. */
int queue_put(const char *var_dir, const char *name, struct queue_meta *meta,
	      const char *msg, size_t msg_len, char **base_r, GError **error);

/* Moves file path (a complete, synced entry in the queue's format, on the
 * var dir's file system) into q as a new entry: one rename, so a caller
 * that keeps the file until then enqueues it exactly once, across crashes
 * (the digests: an issue's renditions are written beside its posts first).
 * On failure the file stays where it was.  *base_r (optional) gets the
 * entry name. */
int queue_adopt(struct queue *q, const char *path, char **base_r,
		GError **error);

/* Whether digest (40 hex digits) lies in slice s of n: the hash space
 * [s*2^160/n, (s+1)*2^160/n), computed exactly. */
gboolean queue_digest_in_slice(const char *digest, unsigned s, unsigned n);

/* The ready (.msg) entries of slice s of n, oldest first, as base names.
 * ext selects ".msg" or ".bak". */
int queue_list(struct queue *q, const char *ext, unsigned s, unsigned n,
	       GPtrArray **bases_r, GError **error);

/* Claims an entry: rename .msg to .bak.  1 claimed, 0 gone (finished, or
 * taken by another runner), -1 error.  When the rename reports ENOENT but
 * the .bak exists, that is taken as our own claim whose NFS reply was lost
 * (1): each slice has one runner, the holder of its lease, so nobody else
 * claims entries of our slice. */
int queue_claim(struct queue *q, const char *base, GError **error);

/* Reads and checks entry base<ext>.  1 read, 0 absent, -1 error; a file
 * that does not parse (no end marker, bad header) fails with
 * HERALD_ERR_FORMAT. */
int queue_read(struct queue *q, const char *base, const char *ext,
	       struct queue_item **item_r, GError **error);
void queue_item_free(struct queue_item **ip);

/*
 * Bundles: a committer (below) writes the entries one batch holds for a
 * queue as one entry of that queue, kind "bundle", whose message is its
 * members, whole entries in this format one after another, and whose
 * "received" is its oldest member's.  One file, one fsync and one rename
 * for the batch, where each entry alone costs its own (docs/formats.md).
 * A runner handles each member as an entry of its own (runner.c).
 */
gboolean queue_item_is_bundle(const struct queue_item *it);
/* The members of bundle it, as items (of struct queue_item *, their
 * messages inside it's buffer: free them first).  A member's base is the
 * bundle's with its own stamp and ".N" (N from 1): not a file's name.  -1
 * with a HERALD_ERR_FORMAT error for a bundle that cannot be read whole. */
int queue_bundle_members(const struct queue_item *it, GPtrArray **members_r,
			 GError **error);

/* Gives a claimed entry back (.bak to .msg), to be retried later. */
int queue_unclaim(struct queue *q, const char *base, GError **error);

/* Done with a claimed entry: unlink the .bak (and its progress record). */
int queue_finish(struct queue *q, const char *base, GError **error);

/* <dir>/<base>.progress: a handler's record of how far it got with a
 * claimed entry (delivery writes the batches it has handed over), kept
 * across crashes and removed by queue_finish.  Recovery does not count a
 * crash against an entry whose record grew since the last one. */
char *queue_progress_path(struct queue *q, const char *base);

/* Moves base<ext> to the bad queue, logging why. */
int queue_move_bad(struct queue *q, const char *base, const char *ext,
		   const char *why, GError **error);

/* What an entry's metadata says in the shunt queue: the queue it came
 * from ("whichq"), why ("shunt-reason"), and no crash count.  For handlers
 * that shunt a message they have changed (queue_shunt takes it as read). */
void queue_meta_mark_shunted(struct queue_meta *meta, const char *from,
			     const char *why);

/* Processing failed: enqueue the item in the shunt queue with "whichq"
 * naming this queue and "shunt-reason", then finish the original.  If the
 * shunt enqueue fails (a full disk, say) -1 is returned and the claimed
 * entry is left as it was. */
int queue_shunt(struct queue *q, struct queue_item *item, const char *why,
		GError **error);

/* Runner start: every .bak of slice s of n goes back to .msg.  The last in
 * FIFO order (the one its runner was working on when it died; the others
 * waited for their batch's commit) has its crash counter ("bak-count")
 * raised first; the third strike sends it to bad/.  Returns the number of
 * entries recovered, or -1. */
int queue_recover(struct queue *q, unsigned s, unsigned n, GError **error);

/* Removes the .tmp files of writers that died: this host's whose process
 * is gone; those of hosts not in live_hosts (a set of host names) unchanged
 * for dead_age_s; any unchanged for QUEUE_TMP_FOREIGN_AGE.  Returns how
 * many were removed. */
int queue_clean_tmp(struct queue *q, GHashTable *live_hosts, int64_t dead_age_s,
		    GError **error);

/* Counts entries with the given extension (NULL: .msg and .bak). */
int queue_count(struct queue *q, const char *ext, GError **error);

/* Moves every entry of the shunt queue back to the queue it came from,
 * with its remaining work.  Returns how many were moved, or -1. */
int queue_unshunt(const char *var_dir, GError **error);

/* Serialises / parses the on-disk form (exported for tests and tools). */
GString *queue_format(const struct queue_meta *meta, const char *msg,
		      size_t msg_len);
int queue_parse(char *buf, size_t len, struct queue_meta **meta_r,
		const char **msg_r, size_t *msg_len_r, GError **error);

#endif
