/*
 * archive.h - a list's archive: the mbox of its posts and a static,
 * threaded HTML tree with Pipermail's URLs, kept up to date one post at a
 * time, with a full-text search index beside it.
 *
 * Boundary: reads the list's settings (archive_private,
 * archive_volume_frequency, obscure_addresses) and writes only under
 * archives/ in the var dir: the store archives/<list>/ (docs/archive.md)
 * and the HTML tree archives/public/<list>/ or archives/private/<list>/.
 * Messages come in through archive_add (the archive runner, `herald
 * archive add`) or archive_import (an mbox); nothing here writes a queue.
 */
#ifndef HERALD_ARCHIVE_H
#define HERALD_ARCHIVE_H

#include <glib.h>
#include <stdint.h>

#include "list/list.h"

#include <gmime/gmime.h>

struct archive;

/* Opens the archive of list l (creating its folders).  l must outlive it. */
/* The style sheet inside every archive page's <style> element: the web
 * interface allows exactly it by its hash in Content-Security-Policy. */
#define ARCHIVE_PAGE_STYLE \
	".quote{color:#555}ul.thread ul{margin:0;padding-left:1.5em}"

struct archive *archive_open(struct list *l, GError **error);
void archive_free(struct archive **ap);

/* The folder of the list's HTML tree (its index.html lists the periods). */
const char *archive_html_dir(const struct archive *a);
/* The folder of the store (mbox, state, catalogs, search index). */
const char *archive_store_dir(const struct archive *a);

/* Mailman's Scrubber, for scrub_nondigest and the plain digest: msg's
 * text as the archive's page shows it (text parts decoded to UTF-8, HTML
 * as text, attached messages inline, parts joined by "-------------- next
 * part --------------"), each other part written to the file under
 * attachments/ that archiving msg (received: its arrival, as archive_add
 * takes it) writes, and replaced in the text by a stub with its name,
 * type, size and URL (url: the tree's URL, listurls_archive).  *count_r
 * gets the number of parts written.  NULL with *error when a file cannot
 * be written. */
char *archive_scrub(struct archive *a, GMimeMessage *msg, int64_t received,
		    const char *url, int *count_r, GError **error);

/* Archives one message (raw bytes, as herald stored it).  key (may be
 * NULL) names where it came from (a queue entry): when a message with
 * that key is among the newest archived (among all of them when
 * check_key is set: the entry was recovered after a crash), nothing is
 * added (returns 0; *number_r gets its number).  received: epoch seconds, the
 * Date used when the message's own is missing or insane.  Returns 1
 * when added, with its number in *number_r (optional), -1 on error. */
int archive_add(struct archive *a, const char *msg, size_t len,
		const char *key, gboolean check_key, int64_t received,
		int64_t *number_r, GError **error);

/* One message of a batch for archive_add_batch: the arguments of
 * archive_add, and its number once added (or found added before). */
struct archive_post {
	const char *msg;
	size_t len;
	const char *key;
	gboolean check_key;
	int64_t received;
	int64_t number;		/* out; -1 when not added */
};

/* Archives posts[0..n) as archive_add does each, in that order, at the
 * cost of about one: one lock, one commit, each index page made once.
 * Returns how many were added (those found added before are not
 * counted), or -1 with *error: a message that does not parse
 * (HERALD_ERR_FORMAT, nothing added) or the disk failing (none of them
 * is added, or all are: the commit is one). */
int archive_add_batch(struct archive *a, struct archive_post *posts,
		      guint n, GError **error);

/* What an import did. */
struct archive_import_stats {
	uint64_t messages;	/* added */
	uint64_t skipped;	/* not a message at all */
	uint64_t bytes;		/* of the mbox read */
};
/* Called now and then during an import (done and total bytes). */
typedef void (*archive_progress_fn)(uint64_t done, uint64_t total,
				    void *ctx);

/* Adds every message of the mbox at path, in order, numbering on from
 * the archive's last, and renders the pages once at the end. */
int archive_import(struct archive *a, const char *path,
		   archive_progress_fn progress, void *progress_ctx,
		   struct archive_import_stats *stats, GError **error);

/* Renders the whole HTML tree and the search index again from the store
 * (the mbox and the catalogs): every message keeps its number. */
int archive_rebuild(struct archive *a, GError **error);

/* Compares the HTML tree and the search index with the store: a message
 * without its page, an index that misses messages, a search index that
 * does not match.  Each difference is a line added to report; repair
 * renders what differs again.  Returns the number of differences found,
 * -1 on error. */
int archive_check(struct archive *a, gboolean repair, GString *report,
		  GError **error);

/* One search result. */
struct archive_hit {
	char *path;		/* PERIOD/NNNNNN.html, relative to the tree */
	int64_t date;		/* epoch seconds */
	char *author;
	char *subject;
	double score;		/* BM25 (rank.c), negated: lower is better */
};
void archive_hit_free(gpointer hit);
/* Messages matching query (words, "phrases", from:WORD, subject:WORD,
 * after:YYYY-MM-DD, before:YYYY-MM-DD), best first, at most limit. */
GPtrArray *archive_search(struct archive *a, const char *query, int limit,
			  GError **error);
/* The page (PERIOD/NNNNNN.html) of the first message archived whose
 * Message-ID has key (listurls_msgid_key); NULL when none (error unset)
 * or on error. */
char *archive_find_msgid(struct archive *a, const char *key, GError **error);

/* Compresses the text archive PERIOD.txt of every period that ended
 * before now to PERIOD.txt.gz (Mailman's nightly_gzip); *count_r gets how
 * many were written. */
int archive_gzip_old(struct archive *a, int64_t now, int *count_r,
		     GError **error);

/* The number of messages archived. */
int64_t archive_count(struct archive *a, GError **error);

#endif
