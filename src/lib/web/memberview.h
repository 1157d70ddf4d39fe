/*
 * memberview.h - a list's members as the web pages show them, kept
 * between requests while the roster does not change.
 *
 * Reading a roster of 100,000 members parses some 11 MB (roster.h): far
 * too slow to do for each request of a page when the goal is a p99 under
 * 50 ms at 50 concurrent clients.  A view holds what the pages show of
 * each member (address, name, language, mode, status, options), sorted
 * by address key, in one block of strings; it is good while
 * roster_version() is unchanged, which costs a read of CURRENT and two
 * stat() calls.  Views of lists of MEMBERVIEW_MIN_CACHED members or more
 * are kept, MEMBERVIEW_MAX_CACHED of them, the least recently used going
 * first; smaller ones are made for the request and dropped (a small
 * roster loads in well under a millisecond).
 *
 * Thread-safe: the cache is behind a mutex, and a view is reference
 * counted, so a request keeps the one it got while a newer replaces it.
 * On NFS a change made by another host shows once the client's attribute
 * cache lets stat() see it (seconds): a page may be that much behind;
 * every change goes through roster_edit, which reads the roster itself.
 */
#ifndef HERALD_WEB_MEMBERVIEW_H
#define HERALD_WEB_MEMBERVIEW_H

#include <glib.h>

#include "list/list.h"

#define MEMBERVIEW_MIN_CACHED 1000
#define MEMBERVIEW_MAX_CACHED 4

struct memberview_entry {
	const char *addr;
	const char *name;
	const char *language;	/* "" = the list's */
	guint8 mode;		/* enum member_mode */
	guint8 status;		/* enum member_status */
	guint16 options;	/* OPT_* */
};

struct memberview {
	struct memberview_entry *members;	/* sorted by address key */
	guint count;
	guint *visible;		/* the indexes of those without OPT_CONCEAL */
	guint nvisible;
	/* private */
	gatomicrefcount ref;
	char *list;
	char *version;
	GStringChunk *strings;
};

/* The view of l's roster as it is now (a reference: memberview_unref it),
 * or NULL with *error. */
struct memberview *memberview_get(struct list *l, GError **error);
void memberview_unref(struct memberview **vp);

/* The member with address addr (any case), or NULL. */
const struct memberview_entry *memberview_find(const struct memberview *v,
					       const char *addr);

/* Drops every cached view (tests, and the server's end). */
void memberview_flush(void);

#endif
