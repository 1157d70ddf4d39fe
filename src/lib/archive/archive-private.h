/*
 * archive-private.h - what the files of archive/ share: the store's state
 * and catalog entries, and the functions each file offers the others.
 * Nothing outside src/lib/archive/ includes it.
 */
#ifndef HERALD_ARCHIVE_PRIVATE_H
#define HERALD_ARCHIVE_PRIVATE_H

#include <glib.h>
#include <gmime/gmime.h>
#include <stdint.h>

#include "archive/archive.h"
#include "store/lock.h"

/* One record of the file "records": where message N is (fixed width, so
 * message N's record is at N * RECORD_SIZE). */
#define RECORD_SIZE 96
#define KEY_MAX 32

/* A period (volume) as the state knows it. */
struct period {
	char *name;		/* 2026-December, 2026, 2026q4, ... */
	int64_t count;		/* messages */
	int64_t catlen;		/* committed bytes of catalog/<name> */
	int64_t txtlen;		/* bytes of <name>.txt */
	int64_t first, last;	/* the earliest and latest Date, epoch s */
};

/* The file "state": the commit point of every addition. */
struct state {
	int64_t next;		/* the next message's number */
	int64_t mboxlen;	/* committed bytes of the mbox */
	GPtrArray *periods;	/* struct period *, sorted by first date */
};

/* One line of a period's catalog: what the indexes need of a message. */
struct entry {
	int64_t num;
	int64_t date;		/* epoch seconds */
	int64_t txtoff, txtlen;	/* its text in <period>.txt */
	char *msgid;		/* without <>, "" when none */
	char *irt;		/* In-Reply-To, "" when none */
	char *refs;		/* References, space-separated, "" when none */
	char *subject;		/* decoded, one line */
	char *author;		/* display name or address */
	char *addr;		/* address, "" when none */
	/* For threading (thread.c): */
	int depth;
	int64_t thread_order;
};

struct archive {
	struct list *list;
	struct site *site;
	char *store;		/* archives/<list> */
	char *html;		/* archives/{public,private}/<list> */
	char *other_html;	/* where the tree is not */
	char *locks;
	int freq;		/* archive_volume_frequency */
	gboolean obscure;	/* obscure_addresses */
	struct lock *lock;	/* while adding */
	void *search;		/* search.c's handle, opened on demand */
	int search_part;	/* a rendering worker's part (0: the index) */
};

/* store.c */
int store_lock(struct archive *a, GError **error);
void store_unlock(struct archive *a);
int store_state_read(struct archive *a, struct state *s, GError **error);
int store_state_write(struct archive *a, const struct state *s,
		      GError **error);
void state_clear(struct state *s);
struct period *state_period(struct state *s, const char *name,
			    gboolean create);
char *store_path(struct archive *a, const char *name);
char *html_path(struct archive *a, const char *name);
/* Reads message num's bytes from the mbox (without its From_ line,
 * unquoted).  1, 0 when num is not committed, -1 on error. */
int store_message(struct archive *a, const struct state *s, int64_t num,
		  char **data_r, size_t *len_r, char **period_r,
		  GError **error);
/* The committed catalog of a period: struct entry *, in number order. */
/* The same, as it is in the mbox: From_ line, quoted, blank line. */
int store_slice(struct archive *a, const struct state *s, int64_t num,
		char **data_r, size_t *len_r, char **period_r, GError **error);
/* The period of committed message num (period: 64 bytes). */
int store_period_of(struct archive *a, const struct state *s, int64_t num,
		    char *period, GError **error);
GPtrArray *store_catalog(struct archive *a, const struct period *p,
			 GError **error);
/* The number of the message added with key among the last limit (< 0:
 * all): -1 when none, -2 on error. */
int64_t store_find_key(struct archive *a, const struct state *s,
		       const char *key, int64_t limit, GError **error);

/* Appends one message to the open append (mbox, records, catalog) at the
 * offsets s says; s is updated but not written. */
struct appender;
struct appender *appender_new(struct archive *a, GError **error);
int appender_add(struct appender *ap, struct state *s, const char *msg,
		 size_t len, const char *key, struct entry *e,
		 const char *period, const char *from_line, GError **error);
/* fsyncs what was appended, then commits the state. */
int appender_commit(struct appender *ap, struct state *s, GError **error);
void appender_free(struct appender **app);

void entry_free(gpointer e);
char *entry_line(const struct entry *e);

/* meta.c */
/* Fills e (but num, txtoff) from msg; received is used for a bad Date. */
void meta_extract(GMimeMessage *msg, int64_t received, int64_t fallback,
		  struct entry *e);
char *meta_period(int freq, int64_t t);
/* The period after the one holding t ends (epoch s). */
int64_t meta_period_end(int freq, int64_t t);

/* mbox.c */
/* Appends msg to out as one mbox message: its From_ line, the message
 * with ">From " quoting (mboxrd), a blank line. */
void mbox_quote(GString *out, const char *from_line, const char *msg,
		size_t len);
/* The inverse for one message's bytes in the mbox. */
char *mbox_unquote(const char *data, size_t len, size_t *len_r);
char *mbox_from_line(const char *addr, int64_t t);

/* text.c */
void html_escape(GString *out, const char *text, size_t len);
/* Escapes text, links URLs, marks quoted lines, obscures addresses. */
void html_body(GString *out, const char *text, gboolean obscure);
char *obscure_text(const char *text, size_t len, size_t *len_r);
char *text_valid(const char *data, size_t len);
char *text_decode(const char *data, size_t len, const char *charset);

/* render.c */
/* Renders message e's page (its prev and next in the same period, NULL
 * when none) into *page_r, writing its attachments; *text_r (optional)
 * gets its text, for the search index. */
int render_message(struct archive *a, const char *period,
		   const struct entry *e, const struct entry *prev,
		   const struct entry *next, const char *data, size_t len,
		   GString **page_r, char **text_r, GError **error);
int render_write(const char *path, const GString *page, gboolean sync,
		 GError **error);
void render_head(GString *out, const char *title, const char *list);
void render_foot(GString *out);
char *render_author(struct archive *a, const struct entry *e);

/* index.c */
int index_period(struct archive *a, const struct period *p, GPtrArray *cat,
		 GError **error);
int index_list(struct archive *a, const struct state *s, GError **error);

/* thread.c */
/* Orders cat's entries as threads: returns the entries in thread order,
 * each with depth set. */
GPtrArray *thread_order(GPtrArray *cat);
char *thread_subject_key(const char *subject);

/* search.c */
int search_begin(struct archive *a, GError **error);
int search_put(struct archive *a, const struct entry *e, const char *period,
	       const char *body, GError **error);
int search_commit(struct archive *a, GError **error);
/* Ends search_begin's transaction, keeping nothing of it. */
void search_rollback(struct archive *a);
int64_t search_count(struct archive *a, GError **error);
int search_clear(struct archive *a, GError **error);
void search_close(struct archive *a);
/* Moves the rows of worker part's database into the index. */
int search_merge_part(struct archive *a, int part, GError **error);

#endif
