/*
 * roster.h - a list's members: a snapshot plus an append-only change log.
 *
 * lists/<list>/roster/ holds
 *     CURRENT          the generation number in use
 *     members.<gen>    a whole roster (written once, renamed into place)
 *     changes.<gen>    changes since that snapshot, appended under the
 *                      list lock, each change ended by a commit record
 * Adding a member appends one record: the roster is never rewritten for
 * one change.  When the log grows past a sixteenth of the snapshot (and
 * 16 KiB) the writer compacts: a new snapshot, then CURRENT moves to it.
 * Readers take no lock and apply only committed changes, so they always see
 * the roster as it was before or after each change.  docs/formats.md has
 * the byte format.
 */
#ifndef HERALD_ROSTER_H
#define HERALD_ROSTER_H

#include <glib.h>
#include <stdint.h>

#include "list/list.h"

enum member_mode { MODE_REGULAR, MODE_MIME_DIGEST, MODE_PLAIN_DIGEST };
enum member_status {
	STATUS_ENABLED,
	STATUS_BY_USER,		/* the member turned delivery off */
	STATUS_BY_OWNER,	/* an owner or moderator did */
	STATUS_BY_BOUNCE,	/* bounce processing did */
};

/* Option bits (Mailman's names in the comments). */
#define OPT_ACK 0x01		/* AcknowledgePosts: "ack" */
#define OPT_NOTMETOO 0x02	/* DontReceiveOwnPosts: "notmetoo" */
#define OPT_CONCEAL 0x04	/* ConcealSubscription: "hide" */
#define OPT_MODERATE 0x08	/* Moderate: "mod" */
#define OPT_NODUPES 0x10	/* DontReceiveDuplicates: "nodupes" */
#define OPT_NMTOPICS 0x20	/* ReceiveNonmatchingTopics: "nmtopics" */

/* What bounce processing knows of a member (Mailman 2.1's BounceInfo,
 * bounce/process.h): kept in the member's record so that a score and the
 * disabling it causes are one committed change. */
struct member_bounce {
	double score;		/* the weights of the bounces since the info
				 * was fresh: at most one a day */
	int64_t last;		/* the day (epoch seconds, UTC midnight) of the
				 * last bounce scored, 0: none */
	double last_weight;	/* what that bounce added (an outage the guard
				 * finds later takes it back) */
	char *reason;		/* the last bounce's reason name
				 * (bounce_reason_name), "" for none */
	int notices_left;	/* warnings still to send while disabled */
	int64_t last_notice;	/* when the last warning went, 0: none */
};

struct member {
	char *key;		/* address_key: the lookup key */
	char *addr;		/* the address as written (normalised) */
	char *name;		/* display name or "" */
	enum member_mode mode;
	enum member_status status;
	int64_t status_time;	/* when status last changed (epoch seconds) */
	char *status_reason;	/* "" or a short text */
	unsigned options;	/* OPT_* */
	char *language;		/* "" = the list's */
	int64_t subscribed;	/* epoch seconds */
	char *password;		/* Argon2id hash or "" */
	struct member_bounce bounce;	/* all zero and "" when none */
	char *topics;		/* the topic names chosen, comma-separated;
				 * "" or NULL: none (every post) */
};

struct roster;

/* Reads the committed roster without a lock.  *roster_r gets it; a list
 * that never had members has an empty roster. */
int roster_load(struct list *l, struct roster **roster_r, GError **error);
void roster_free(struct roster **rp);

/* A short text that changes whenever the committed roster may have
 * (the generation, and the inode, size and mtime of its two files): a
 * cache of something made from the roster is good while it is equal.
 * It may change without the roster changing (a torn append), never the
 * other way.  Taken before roster_load, it never names a roster older
 * than the one loaded after it.  NULL with *error. */
char *roster_version(struct list *l, GError **error);

guint roster_count(const struct roster *r);
/* The member with this address (any case), or NULL. */
const struct member *roster_find(const struct roster *r, const char *addr);
/* Every member, sorted by key when sorted (listings, snapshots), else in
 * no particular order (delivery: sorting 100,000 keys would double the
 * cost of loading).  The array owns nothing. */
GPtrArray *roster_members(const struct roster *r, gboolean sorted);

/* Calls fn for every member of the committed roster, in no particular
 * order, without building the roster's index: the members are parsed one
 * at a time from the snapshot as it was read, so walking 100,000 costs
 * the file's size in memory, not the loaded roster's (about twice as
 * much).  For whoever copies the members elsewhere (the web's roster
 * index); the member and its strings live only during the call. */
typedef void (*roster_scan_fn)(const struct member *m, void *ctx);
int roster_scan(struct list *l, roster_scan_fn fn, void *ctx, GError **error);

/* A change: several additions, removals and replacements applied at once,
 * under the list lock, committed as one. */
struct roster_change;
struct roster_change *roster_change_new(void);
void roster_change_free(struct roster_change **cp);
/* Adds or replaces a whole member record (copied). */
void roster_change_put(struct roster_change *c, const struct member *m);
/* Removes a member by address (any case). */
void roster_change_remove(struct roster_change *c, const char *addr);
guint roster_change_count(const struct roster_change *c);

/*
 * Notices owed: a change that adds a member may also record that a
 * notice is owed to it (the welcome, the owners' notice of the add), so
 * that the notice's durable trace costs no file of its own: it is
 * committed with the member, by the same fsync.  Whoever sends it later
 * settles it with another change (list/subscribe.h, subscribe_send_owed).
 * A compaction carries what is still owed into the next change log, so
 * owed notices always live in the current log; docs/formats.md has the
 * records.
 */
struct roster_owed {
	const char *notice;	/* a template-like name: "welcome", "owners" */
	const char *key;	/* the member's key */
	const char *addr;	/* its address when it was owed */
};
/* Records notice as owed to member m (its key and address). */
void roster_change_owe(struct roster_change *c, const char *notice,
		       const struct member *m);
/* Records that o was sent (or is no longer wanted). */
void roster_change_settle(struct roster_change *c, const struct roster_owed *o);
/* The notices r owes, oldest first: an array of const struct roster_owed *
 * that live as long as r (free the array only). */
GPtrArray *roster_owed(const struct roster *r);
gboolean roster_is_owed(const struct roster *r, const char *notice,
			const char *key);
/* A roster that holds only the notices l's roster owes (only the current
 * change log is read, its members are not parsed): cheap, for
 * roster_owed alone. */
int roster_load_owed(struct list *l, struct roster **roster_r, GError **error);

/* Takes the list lock, applies change c, and releases.  *current_r (if
 * not NULL) receives the roster as it is afterwards. */
int roster_commit(struct list *l, struct roster_change *c,
		  struct roster **current_r, GError **error);

/* Like roster_commit, but the caller builds the change from the roster as
 * it is under the lock: fn(roster, change, ctx) fills c (it may return -1
 * with an error to abort).  Used by add/remove, which must see the latest
 * roster to know who is a member already. */
typedef int (*roster_edit_fn)(const struct roster *r, struct roster_change *c,
			      void *ctx, GError **error);
int roster_edit(struct list *l, roster_edit_fn fn, void *ctx, GError **error);

/* Enables a member whose delivery bounce processing disabled, and forgets
 * its bounce info (`herald bounce reset`, a confirmed re-enable): 1 done,
 * 0 no such member. */
int roster_reenable(struct list *l, const char *addr, GError **error);

/* Writes a new snapshot now (normally automatic). */
int roster_compact(struct list *l, GError **error);

/* An Argon2id hash of a member's password (libsodium), or NULL. */
char *member_password_hash(const char *password, GError **error);
/* Whether candidate is m's password (FALSE when m has none). */
gboolean member_password_ok(const struct member *m, const char *candidate);
/* After a good login: m's hash made again at herald's parameters when it
 * was made at others (list_password_needs_rehash), unless it changed
 * meanwhile.  A failure is logged, the login stands. */
void member_password_rehash(struct list *l, const struct member *m,
			    const char *password);

/* Names of modes, statuses and options, as the command line and files use
 * them; *_parse return -1 for an unknown name. */
const char *member_mode_name(enum member_mode m);
int member_mode_parse(const char *s);
const char *member_status_name(enum member_status s);
int member_status_parse(const char *s);
/* "ack,nodupes" and back. */
char *member_options_format(unsigned options);
int member_options_parse(const char *s, unsigned *options_r);
/* Option bit by one name ("ack", "notmetoo", "hide", "mod", "nodupes",
 * "nmtopics"). */
unsigned member_option_bit(const char *name);

#endif
