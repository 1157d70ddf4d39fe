/*
 * nntp.h - the mail-news gateway (docs/news.md): a small NNTP client
 * (RFC 3977), the article a list post becomes, and the pull of a
 * newsgroup's new articles into a list.
 *
 * Boundary: news/ reads lists (settings, counters) and writes queues (the
 * in queue, through queue_adopt) and the list's pull folder
 * lists/<list>/news/; the runner runners/news.c and the task tasks/news.c
 * put it to work.  It knows no other concern.
 */
#ifndef HERALD_NEWS_NNTP_H
#define HERALD_NEWS_NNTP_H

#include <glib.h>
#include <stdint.h>

#include "list/list.h"

struct nntp;

/* Connects to server ("host" or "host:port", port 119 by default) with
 * timeout seconds for the connection and for each answer, reads the
 * greeting and asks for reader mode.  NULL with *error: HERALD_ERR_IO for
 * no connection, a timeout or a 4xx greeting (try later),
 * HERALD_ERR_INVALID for a 5xx greeting or a bad server name. */
struct nntp *nntp_connect(const char *server, unsigned timeout,
			  GError **error);
/* Says QUIT (not waiting long for the answer) and closes. */
void nntp_close(struct nntp **np);

/* The last answer's code and text ("240 article posted"). */
int nntp_code(const struct nntp *n);
const char *nntp_answer(const struct nntp *n);

/* GROUP: 0 with the first and last article numbers (an empty group may
 * have last < first), -1 with *error (a 411: HERALD_ERR_NOTFOUND). */
int nntp_group(struct nntp *n, const char *group, int64_t *first_r,
	       int64_t *last_r, GError **error);

/* ARTICLE number: 1 with the article (LF line ends, dot-unstuffed) in
 * *text_r, 0 when the server has no such article (423, 430), 2 when it is
 * larger than herald takes (read to its end and dropped), -1 with
 * *error. */
int nntp_article(struct nntp *n, int64_t number, GString **text_r,
		 GError **error);

/* POST of article (LF or CRLF line ends).  0 when the server took it, or
 * when it says it has it already (a duplicate Message-ID: a repost after a
 * lost answer); -1 with *error otherwise, its code HERALD_ERR_IO for what
 * may work later (no connection, a timeout, a 4xx answer) and
 * HERALD_ERR_INVALID for a refusal (5xx). */
int nntp_post(struct nntp *n, const char *article, size_t len,
	      GError **error);

/* --- the article a post becomes (article.c) ----------------------------- */

/* The news article of post msg (a list post as the pipeline's tonews
 * left it) for list l: Mailman 2.1's NewsRunner cleaning.  orig_subject
 * (NULL: keep the Subject) replaces the prefixed subject; queue_name, the
 * post's news-queue entry, makes the Message-ID when the post has none.
 * NULL with HERALD_ERR_FORMAT when msg does not parse. */
GString *news_article(struct list *l, const char *msg, size_t len,
		      const char *orig_subject, const char *queue_name,
		      GError **error);
/* The Message-ID the list gives its post of Message-ID msgid in the
 * group: stable (a retried or replayed post gets the same one) and its
 * own for each list (a post to two gatewayed lists is two articles). */
char *news_message_id(struct list *l, const char *msgid);
/* Whether an article came from list l itself (X-BeenThere or the
 * Message-ID news_message_id makes): it is not gated back. */
gboolean news_article_is_ours(struct list *l, const char *article, size_t len);

/* --- the pull (gate.c) -------------------------------------------------- */

struct news_pulled {
	unsigned gated;		/* articles put in the in queue */
	unsigned skipped;	/* the list's own, or unreadable */
	gboolean caught_up;	/* the first run: the watermark was set */
};

/* Mailman's gate_news for one list: the group's articles after the list's
 * watermark into the in queue as posts from Usenet, at most max of them.
 * 0 with *r (nothing done when the list does not gateway to mail), -1
 * with *error. */
int news_pull(struct list *l, unsigned timeout, unsigned max,
	      struct news_pulled *r, GError **error);
/* Mailman's "mass catch up": the watermark moves past the group's last
 * article, so that the articles there now are never gated (what an
 * earlier pull committed goes into the in queue first).  *last_r gets
 * that article's number. */
int news_catchup(struct list *l, unsigned timeout, int64_t *last_r,
		 GError **error);

#endif
