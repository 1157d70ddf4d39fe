/*
 * gate.c - Mailman 2.1's gate_news for one list: the linked newsgroup's
 * new articles into the in queue, as posts from Usenet.
 *
 * The list's counter usenet_next (list/list.h: one file, rewritten
 * atomically under the list lock, so NFS-safe) is the number of the first
 * article not yet taken; 0 means the list never pulled, and its first
 * pull only catches up (Mailman: the watermark starts at the group's
 * last article, the group's past is not mailed to the list).
 *
 * No article enters the list twice, nor is one lost, whatever point a
 * pull is killed at:
 *   1. Each article above the watermark is written, as a complete in-queue
 *      entry (fsync'ed), to lists/<list>/news/pull/<number>.
 *   2. The watermark moves past the last one, under the list lock.
 *   3. Each file is renamed into the in queue (queue_adopt: one rename,
 *      so it is in pull/ or in the queue, never both).
 * A pull first finishes what an earlier one left: a file below the
 * watermark was committed by step 2 and goes on to step 3; one at or
 * above it was not, and is removed (the article is fetched again).
 *
 * An article the list posted itself (X-BeenThere, or the Message-ID the
 * news runner gave it) is not gated back: no loop.  The posts carry
 * from-usenet, so the pipeline skips moderation (Mailman's fromusenet)
 * and does not post them to the group again.
 */
#include "news/nntp.h"
#include "base/base.h"
#include "base/log.h"
#include "mail/address.h"
#include "mail/message.h"
#include "store/names.h"
#include "store/queue.h"
#include "store/site.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SUBSYS "news"
#define WATERMARK "usenet_next"
/* Articles fetched before the watermark moves and they are queued. */
#define CHUNK 10

static char *
pull_dir(struct list *l)
{
	return g_build_filename(list_dir(l), "news", "pull", NULL);
}

/* The number a pull file is named by, or -1 for another file. */
static int64_t
file_number(const char *name)
{
	char *end;
	int64_t n;

	if (!g_ascii_isdigit(*name))
		return -1;
	n = g_ascii_strtoll(name, &end, 10);
	return *end == '\0' ? n : -1;
}

/* Step 3, and the recovery: files below next into the in queue, the
 * others removed.  *adopted_r counts the first. */
static int
settle(struct list *l, const char *dir, int64_t next, unsigned *adopted_r,
       GError **error)
{
	GPtrArray *names = fs_dir_names(dir, NULL, error);
	struct queue *q = NULL;
	int ret = -1;

	if (names == NULL)
		return -1;
	if ((q = queue_open(site_var_dir(list_site(l)), QUEUE_IN, error)) == NULL)
		goto out;
	for (guint i = 0; i < names->len; i++) {
		int64_t n = file_number(names->pdata[i]);
		char *path;
		int r = 0;

		if (n < 0)
			continue;
		path = g_build_filename(dir, names->pdata[i], NULL);
		if (n < next) {
			r = queue_adopt(q, path, NULL, error);
			*adopted_r += r == 0;
		} else if (fs_unlink(path) < 0 && errno != ENOENT) {
			set_errno_error(error, "unlink(%s)", path);
			r = -1;
		}
		g_free(path);
		if (r < 0)
			goto out;
	}
	ret = 0;
out:
	queue_close(&q);
	g_ptr_array_unref(names);
	return ret;
}

/* Step 1 for one article. */
static int
stage(struct list *l, const char *dir, int64_t number, const GString *text,
      GError **error)
{
	struct queue_meta *meta = queue_meta_new();
	GMimeMessage *m = message_parse_stored(text->str, text->len, NULL);
	char *path = g_strdup_printf("%s/%" G_GINT64_FORMAT, dir, number);
	char *tmp = g_strconcat(path, ".tmp", NULL);
	struct address *from = NULL;
	GString *data;
	ino_t ino;
	int r = -1;

	/* The envelope sender of a post from Usenet is its author: bounces
	 * of the list's own mail never go there (they go to -bounces). */
	if (m != NULL && message_header(m, "From") != NULL)
		(void)address_parse(message_header(m, "From"), &from, NULL);
	queue_meta_set(meta, META_LIST, list_fqdn(l));
	queue_meta_set(meta, META_KIND, "post");
	queue_meta_set(meta, META_SENDER, from != NULL ? from->addr : "");
	queue_meta_set(meta, META_RECIPIENT, list_fqdn(l));
	queue_meta_set(meta, META_FROM_USENET, "yes");
	queue_meta_set_int(meta, META_RECEIVED, now_usec());
	data = queue_format(meta, text->str, text->len);
	(void)fs_unlink(tmp);
	if (fs_create_synced(tmp, data->str, data->len, &ino, error) == 0 &&
	    fs_commit_rename(tmp, path, dir, ino, error) == 0)
		r = 0;
	g_string_free(data, TRUE);
	address_free(&from);
	if (m != NULL)
		g_object_unref(m);
	g_free(tmp);
	g_free(path);
	queue_meta_free(&meta);
	return r;
}

/* Whether herald can take the article as a post; logged when not (it
 * stays in the group, where an admin can read it). */
static gboolean
readable(struct list *l, int64_t number, const GString *text)
{
	GError *e = NULL;

	if (message_check_round_trip(text->str, text->len, TRUE, &e) == 0)
		return TRUE;
	log_error(SUBSYS, "list %s: article %" G_GINT64_FORMAT " not gated, "
		  "herald cannot read it: %s", list_fqdn(l), number, e->message);
	g_error_free(e);
	return FALSE;
}

/* Steps 1 and 2 for the articles from next to last; *next_r gets the new
 * watermark.  An error in the middle keeps what was fetched until then. */
static int
fetch(struct list *l, struct nntp *n, const char *dir, int64_t next,
      int64_t last, int64_t *next_r, struct news_pulled *r, GError **error)
{
	int64_t num;
	int ret = 0;

	for (num = next; num <= last; num++) {
		GString *text = NULL;
		int got = nntp_article(n, num, &text, error);

		if (got < 0) {
			ret = -1;
			break;
		}
		if (got == 0) {
			continue;	/* cancelled or expired */
		} else if (got == 2) {
			log_error(SUBSYS, "list %s: article %" G_GINT64_FORMAT
				  " not gated: larger than herald takes from "
				  "news", list_fqdn(l), num);
			r->skipped++;
		} else if (news_article_is_ours(l, text->str, text->len)) {
			r->skipped++;
		} else if (!readable(l, num, text)) {
			r->skipped++;
		} else if (stage(l, dir, num, text, error) < 0) {
			g_string_free(text, TRUE);
			return -1;	/* the watermark stays: all refetched */
		}
		if (text != NULL)
			g_string_free(text, TRUE);
	}
	if (num == next)
		return ret;
	/* Only a stored watermark lets the files go on (step 3). */
	if (list_counter_update(l, WATERMARK, 0, num, NULL,
				ret < 0 ? NULL : error) < 0)
		return -1;
	*next_r = num;
	return ret;
}

int
news_pull(struct list *l, unsigned timeout, unsigned max,
	  struct news_pulled *r, GError **error)
{
	char *dir = pull_dir(l), *host = NULL, *group = NULL;
	int64_t next, first, last, moved;
	struct nntp *n = NULL;
	GError *fetch_error = NULL;
	int ret = -1;

	memset(r, 0, sizeof *r);
	/* A pull that died left its staged articles: settled first, even if
	 * the gateway was turned off since.  A list that never gated has no
	 * folder, and costs a stat. */
	if (g_file_test(dir, G_FILE_TEST_IS_DIR) &&
	    (list_counter_get(l, WATERMARK, &next, error) < 0 ||
	     settle(l, dir, next, &r->gated, error) < 0))
		goto out;
	host = list_get(l, "nntp_host", NULL);
	group = list_get(l, "linked_newsgroup", NULL);
	if (!list_get_bool(l, "gateway_to_mail") || host == NULL ||
	    *host == '\0' || group == NULL || *group == '\0') {
		ret = 0;
		goto out;
	}
	if (fs_mkdir_p(dir, 0700, error) < 0 ||
	    list_counter_get(l, WATERMARK, &next, error) < 0 ||
	    (n = nntp_connect(host, timeout, error)) == NULL ||
	    nntp_group(n, group, &first, &last, error) < 0)
		goto out;
	if (next == 0) {
		if (list_counter_update(l, WATERMARK, 0, last + 1, NULL, error) < 0)
			goto out;
		log_info(SUBSYS, "list %s: caught up with %s on %s at article %"
			 G_GINT64_FORMAT, list_fqdn(l), group, host, last);
		r->caught_up = TRUE;
		ret = 0;
		goto out;
	}
	if (next < first)
		next = first;	/* the articles in between expired */
	if (last - next + 1 > (int64_t)max)
		last = next + max - 1;
	/* In chunks, so that a long backlog is gated as it goes. */
	while (next <= last) {
		int64_t to = MIN(last, next + CHUNK - 1);

		moved = next;
		if (fetch(l, n, dir, next, to, &moved, r, &fetch_error) < 0 &&
		    moved == next) {
			g_propagate_error(error, fetch_error);
			fetch_error = NULL;
			goto out;
		}
		/* What was fetched before an error is gated all the same. */
		if (settle(l, dir, moved, &r->gated, error) < 0) {
			g_clear_error(&fetch_error);
			goto out;
		}
		if (fetch_error != NULL) {
			g_propagate_error(error, fetch_error);
			fetch_error = NULL;
			goto out;
		}
		next = moved;
	}
	ret = 0;
out:
	if (r->gated > 0 || r->skipped > 0)
		log_info(SUBSYS, "list %s: %u article%s gated from %s, %u not",
			 list_fqdn(l), r->gated, r->gated == 1 ? "" : "s",
			 group != NULL ? group : "", r->skipped);
	nntp_close(&n);
	g_free(host);
	g_free(group);
	g_free(dir);
	return ret;
}

int
news_catchup(struct list *l, unsigned timeout, int64_t *last_r,
	     GError **error)
{
	char *dir = pull_dir(l), *host = list_get(l, "nntp_host", NULL);
	char *group = list_get(l, "linked_newsgroup", NULL);
	struct nntp *n = NULL;
	unsigned adopted = 0;
	int64_t next, first;
	int ret = -1;

	if (host == NULL || *host == '\0' || group == NULL || *group == '\0') {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "list %s has no nntp_host or linked_newsgroup",
			    list_fqdn(l));
		goto out;
	}
	if (fs_mkdir_p(dir, 0700, error) < 0 ||
	    list_counter_get(l, WATERMARK, &next, error) < 0 ||
	    settle(l, dir, next, &adopted, error) < 0 ||
	    (n = nntp_connect(host, timeout, error)) == NULL ||
	    nntp_group(n, group, &first, last_r, error) < 0 ||
	    list_counter_update(l, WATERMARK, 0, *last_r + 1, NULL, error) < 0)
		goto out;
	log_info(SUBSYS, "list %s: caught up with %s at article %" G_GINT64_FORMAT,
		 list_fqdn(l), group, *last_r);
	ret = 0;
out:
	nntp_close(&n);
	g_free(host);
	g_free(group);
	g_free(dir);
	return ret;
}
