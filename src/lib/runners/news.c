/*
 * news.c - the news queue's runner (Mailman 2.1's NewsRunner): each post
 * the pipeline's tonews copied there is posted to its list's
 * linked_newsgroup on nntp_host (news/nntp.h).
 *
 * The article is made once (news_article: the headers cleaned, the
 * Message-ID the list's own) and kept in the entry from then on, marked
 * news-prepared, so every attempt posts the same bytes.  A connection that
 * fails, times out or answers 4xx is tried again later: the entry goes
 * back into the queue with its name's stamp set to when it falls due,
 * after news.retry_wait seconds doubling with each attempt up to an hour,
 * and an entry not yet due ends the pass (as in the retry queue).  A 5xx
 * refusal, or news.give_up seconds of failures, gives it up: a log line,
 * and the article in bad/ with the reason (Mailman dropped it).  A list
 * whose gateway was turned off meanwhile drops its posts, logged.
 */
#include "runners/runners.h"
#include "base/base.h"
#include "base/log.h"
#include "list/list.h"
#include "news/nntp.h"
#include "store/names.h"
#include "store/site.h"

#define SUBSYS "news"
#define MAX_WAIT_S 3600

static void *
news_open(struct site *site, const char *queue, GError **error)
{
	return site;
}

/* Again later, or given up (HERALD_ERR_FORMAT: to bad/ with why). */
static int
failed(struct site *site, struct list *l, struct queue *q,
       struct queue_item *item, const char *msg, size_t len, GError *e,
       GError **error)
{
	int64_t now = now_usec();
	int64_t attempt = queue_meta_get_int(item->meta, META_ATTEMPT, 0) + 1;
	int64_t first = queue_meta_get_int(item->meta, META_FIRST_ATTEMPT,
					   now / G_USEC_PER_SEC);
	int64_t wait = site_get_int(site, "news.retry_wait");
	gboolean later = e->code == HERALD_ERR_IO;
	struct queue_meta *m;
	int r;

	if (!later || now / G_USEC_PER_SEC - first >=
	    site_get_int(site, "news.give_up")) {
		log_error(SUBSYS, "list %s: post %s not posted to the group, "
			  "given up after %" G_GINT64_FORMAT " attempt%s: %s",
			  list_fqdn(l), item->base, attempt,
			  attempt == 1 ? "" : "s", e->message);
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "not posted to the newsgroup: %s", e->message);
		return -1;
	}
	for (int64_t i = 1; i < attempt && wait < MAX_WAIT_S; i++)
		wait *= 2;
	if (wait > MAX_WAIT_S)
		wait = MAX_WAIT_S;
	log_warning(SUBSYS, "list %s: post %s: %s; again in %" G_GINT64_FORMAT
		    " s", list_fqdn(l), item->base, e->message, wait);
	m = queue_meta_copy(item->meta);
	queue_meta_set_int(m, META_ATTEMPT, attempt);
	queue_meta_set_int(m, META_FIRST_ATTEMPT, first);
	queue_meta_set(m, META_NEWS_PREPARED, "yes");
	queue_meta_set_int(m, META_RECEIVED,
			   (now / G_USEC_PER_SEC + wait) * G_USEC_PER_SEC);
	r = queue_enqueue_batched(q, m, msg, len, NULL, error);
	queue_meta_free(&m);
	return r;
}

static int
handle_news(void *ctx, struct queue *q, struct queue_item *item,
	    GError **error)
{
	struct site *site = ctx;
	const char *fqdn = queue_meta_get(item->meta, META_LIST);
	gboolean prepared = queue_meta_get(item->meta, META_NEWS_PREPARED) != NULL;
	char *host = NULL;
	struct nntp *n = NULL;
	GString *article = NULL;
	struct list *l;
	GError *e = NULL;
	int ret = -1;

	if (g_ascii_strtoll(item->base, NULL, 10) > now_usec())
		return RUNNER_NOT_DUE;
	if (fqdn == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT, "no list in metadata");
		return -1;
	}
	if ((l = list_open(site, fqdn, &e)) == NULL) {
		if (g_error_matches(e, HERALD_ERROR, HERALD_ERR_NOTFOUND)) {
			log_warning(SUBSYS, "%s: no such list, post %s dropped",
				    fqdn, item->base);
			g_error_free(e);
			return 0;
		}
		g_propagate_error(error, e);
		return -1;
	}
	host = list_get(l, "nntp_host", NULL);
	if (!list_get_bool(l, "gateway_to_news") || host == NULL || *host == '\0') {
		log_warning(SUBSYS, "list %s: gateway_to_news is off or nntp_host "
			    "empty: post %s dropped", fqdn, item->base);
		ret = 0;
		goto out;
	}
	if (prepared)
		article = g_string_new_len(item->msg, (gssize)item->msg_len);
	else if ((article = news_article(l, item->msg, item->msg_len,
					 queue_meta_get(item->meta, META_ORIG_SUBJECT),
					 item->base, error)) == NULL)
		goto out;
	if ((n = nntp_connect(host, (unsigned)site_get_int(site, "news.timeout"),
			      &e)) == NULL ||
	    nntp_post(n, article->str, article->len, &e) < 0) {
		ret = failed(site, l, q, item, article->str, article->len, e,
			     error);
		goto out;
	}
	log_info(SUBSYS, "list %s: post %s posted to the group on %s", fqdn,
		 item->base, host);
	ret = 0;
out:
	g_clear_error(&e);
	nntp_close(&n);
	if (article != NULL)
		g_string_free(article, TRUE);
	g_free(host);
	list_free(&l);
	return ret;
}

const struct runner_kind runner_news = {
	.name = "news",
	.init_queue = QUEUE_NEWS,
	.init_nice = 10,
	.doc = "the mail-news gateway: posts to the linked newsgroup over "
	       "NNTP (docs/news.md).",
	.open = news_open,
	.handle = handle_news,
};
