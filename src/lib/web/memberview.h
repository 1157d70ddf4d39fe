/*
 * memberview.h - a list's members as the web pages show them, kept
 * between requests while the roster does not change: the one cache of
 * rosters of the web interface (the owner's roster page, page_members.c;
 * the public roster, page_roster.c; a member's options, page_options.c;
 * the REST API's member pages and members, api_members.c).
 *
 * Loading a roster of 100,000 members parses some 11 MB and costs about
 * 45 ms, sorting it as much again (roster.h, docs/PERFORMANCE.md): far
 * too slow to do for each request of a page when the goal is a p99 under
 * 50 ms at 50 concurrent clients.  A view holds what the pages show of
 * each member (address, name, language, mode, status, options, date of
 * subscription), sorted by address key; the indexes of the visible
 * members (those without OPT_CONCEAL), so that a public page leaves the
 * hidden ones out before paging; and its text, one block: every member's
 * "address\0name\0" case-folded, one after the other, so that a search
 * is a memmem pass over it, not two case-blind comparisons per member (7
 * times faster at 100,000 members), then the addresses and names as
 * written where they differ from their folded form (an address seldom
 * does: a page shows the folded one, which is the same text); and for
 * each block of MEMBERVIEW_BLOCK members a filter of the three-byte runs
 * of their text (a bitmap of hashes), so that a search of three bytes or
 * more reads only the blocks that may hold it (for a rare text, a few
 * percent of the 4 MB).  About 7 MB for 100,000 members.
 *
 * A view is built by roster_scan, which parses the snapshot a member at
 * a time, so the roster is never held whole (at 100,000 members that
 * saves about 17 MB of peak: the service stays under 30 MB while it
 * builds).  It is keyed by the list and roster_version() (generation,
 * size, mtime and inode of the snapshot and the change log: a read of
 * CURRENT and two stat() calls), taken before the scan, so a change from
 * any host or process shows on the next request, and a view is never
 * older than its version says: at worst newer, which the next request's
 * version then replaces.  Views of lists of MEMBERVIEW_MIN_CACHED
 * members or more are kept, MEMBERVIEW_MAX_CACHED of them, the least
 * recently used going first; smaller ones are made for the request and
 * dropped (a small roster loads in well under a millisecond).
 *
 * Thread-safe, shared by the server's threads: a mutex guards the cache,
 * a view is reference counted (a request keeps the one it got while a
 * newer replaces it), and one thread at a time builds a list's view, the
 * others asking for that list wait for it, so fifty clients arriving
 * after a change cost one scan, not fifty; other lists' requests do not
 * wait.  On NFS a change made by another host shows once the client's
 * attribute cache lets stat() see it (seconds): a page may be that much
 * behind; every change goes through roster_edit, which reads the roster
 * itself.
 */
#ifndef HERALD_WEB_MEMBERVIEW_H
#define HERALD_WEB_MEMBERVIEW_H

#include <glib.h>

#include "list/list.h"

#define MEMBERVIEW_MIN_CACHED 1000
#define MEMBERVIEW_MAX_CACHED 4
/* Members a search filter covers, and its size in 64-bit words: 1,024
 * bits for some 600 runs of 16 members' texts keep a bit set in about
 * two of five, so a search of 6 runs reads under 1% of the blocks that
 * do not hold it (fewer when its runs are common ones). */
#define MEMBERVIEW_BLOCK 16
#define MEMBERVIEW_FILTER_WORDS 16

/* A member as the pages use it (memberview_find, memberview_at fill one
 * in; its strings are the view's). */
struct memberview_entry {
	const char *addr;
	const char *name;
	const char *language;	/* "" = the list's */
	guint8 mode;		/* enum member_mode */
	guint8 status;		/* enum member_status */
	guint8 options;		/* OPT_* */
	gint64 subscribed;	/* epoch seconds */
};

struct memberview_slot;

struct memberview {
	guint count;		/* members */
	guint nvisible;		/* those without OPT_CONCEAL */
	/* private */
	struct memberview_slot *slots;	/* sorted by address key */
	guint *visible;		/* their indexes; NULL when all are */
	GPtrArray *languages;	/* char *, [0] = "" */
	gatomicrefcount ref;
	char *list;
	char *version;
	char *text;		/* "address\0name\0" case-folded, each;
				 * then those as written that differ */
	gsize folded_len;	/* the first part's */
	guint64 *filters;	/* MEMBERVIEW_FILTER_WORDS per block */
};

/* The view of l's roster as it is now (a reference: memberview_unref it),
 * or NULL with *error. */
struct memberview *memberview_get(struct list *l, GError **error);
void memberview_unref(struct memberview **vp);

/* The member with address addr (any case), filled in *out; or NULL. */
const struct memberview_entry *memberview_find(const struct memberview *v,
					       const char *addr,
					       struct memberview_entry *out);

/* The i-th member of all (visible FALSE; i below count) or of the visible
 * ones (TRUE; i below nvisible), in address order, filled in *out. */
const struct memberview_entry *memberview_at(const struct memberview *v,
					     gboolean visible, guint i,
					     struct memberview_entry *out);

/* The index of the first member (of all) whose address comes after key
 * (any case) in the view's order: count when none does.  The API's
 * cursors are the last address key of the page before. */
guint memberview_after(const struct memberview *v, const char *key);

/* Whether the address of the i-th member (of all) holds folded, a text
 * case-folded with g_utf8_casefold. */
gboolean memberview_address_holds(const struct memberview *v, guint i,
				  const char *folded);

/* The members whose address or name holds text (any case, compared
 * case-folded), in order: the number of them, and in page the indexes
 * (guint, for memberview_at) of count of them from the start-th on. */
guint memberview_search(const struct memberview *v, const char *text,
			guint start, guint count, GArray *page);

/* Drops every cached view (tests, and the server's end). */
void memberview_flush(void);

#endif
