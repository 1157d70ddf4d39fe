/*
 * held.c - the tasks of held posts, Mailman's cron/checkdbs:
 *
 *   held.expire   discards the held posts older than their list's
 *                 max_days_to_hold (0: never), logs each, and tells the
 *                 owners in one notice per list what expired;
 *   held.summary  one notice per list with posts waiting, to its owners
 *                 and moderators, listing each post and how to act on it.
 *
 * Ages are judged by this host's clock, time(NULL), because held.c stamps
 * held-at with it: a post's age is then right to the second on the host
 * that held it, and off by at most the hosts' skew elsewhere, which does
 * not matter against days.  Held posts are reached only through list/held.h
 * (held_list, held_decide), notices through list/notice.h.
 */
#include "tasks/tasks.h"
#include "base/base.h"
#include "base/log.h"
#include "list/held.h"
#include "list/list.h"
#include "list/listurls.h"
#include "list/notice.h"

#include <string.h>
#include <time.h>

#define DAY (24 * 3600)

/* What a run over the lists counts. */
struct sweep {
	int64_t now;		/* time(NULL), see the top */
	int posts, lists;
};

static char *
age_text(int64_t seconds)
{
	if (seconds >= 2 * DAY)
		return g_strdup_printf("%" G_GINT64_FORMAT " days", seconds / DAY);
	if (seconds >= 2 * 3600)
		return g_strdup_printf("%" G_GINT64_FORMAT " hours", seconds / 3600);
	return g_strdup_printf("%" G_GINT64_FORMAT " minutes",
			       MAX(seconds, 0) / 60);
}

/* One held post, as both notices list it. */
static void
append_post(GString *out, const struct held_post *h, int64_t now)
{
	char *when = task_time_text(h->held_at);
	char *age = age_text(now - h->held_at);

	g_string_append_printf(out, "  #%" G_GINT64_FORMAT "  from %s, held %s "
			       "(%s ago)%s\n      Subject: %s\n      Reason: %s\n\n",
			       h->id, *h->poster != '\0' ? h->poster : "(no sender)",
			       when, age, h->deciding ? ", being decided" : "",
			       h->subject != NULL ? h->subject : "",
			       h->reason != NULL ? h->reason : "");
	g_free(when);
	g_free(age);
}

static const char *
plural(int n)
{
	return n == 1 ? "" : "s";
}

/* --- held.expire --------------------------------------------------------- */

static int
expire_list(struct list *l, void *ctx, GError **error)
{
	struct sweep *sw = ctx;
	int64_t days = list_get_int(l, "max_days_to_hold");
	char *reason = g_strdup_printf("expired: held longer than "
				       "max_days_to_hold (%" G_GINT64_FORMAT
				       " days)", days);
	GString *text = NULL;
	GPtrArray *posts = NULL;
	int n = 0, ret = -1;

	if (days <= 0) {	/* Mailman's meaning: 0 keeps them */
		ret = 0;
		goto out;
	}
	if (held_list(l, &posts, error) < 0)
		goto out;
	text = g_string_new(NULL);
	for (guint i = 0; i < posts->len; i++) {
		struct held_post *h = posts->pdata[i];
		GError *local = NULL;

		/* A post being decided is the moderator's; one without a
		 * held-at stamp has no age to judge. */
		if (h->deciding || h->held_at <= 0 ||
		    sw->now - h->held_at <= days * DAY)
			continue;
		if (held_decide(l, h->id, HELD_DISCARD, reason, &local) < 0) {
			if (g_error_matches(local, HERALD_ERROR,
					    HERALD_ERR_NOTFOUND)) {
				g_clear_error(&local);	/* decided meanwhile */
				continue;
			}
			g_propagate_error(error, local);
			goto notify;	/* the owners hear of those done */
		}
		log_info(TASKS_SUBSYS, "list %s: held post %" G_GINT64_FORMAT
			 " from %s expired (held %" G_GINT64_FORMAT " days, "
			 "max_days_to_hold %" G_GINT64_FORMAT "): discarded",
			 list_fqdn(l), h->id, h->poster,
			 (sw->now - h->held_at) / DAY, days);
		append_post(text, h, sw->now);
		n++;
	}
	ret = 0;
notify:
	if (n > 0) {
		char *subject = g_strdup_printf("%d held post%s expired on %s", n,
						plural(n), list_fqdn(l));
		char *body = g_strdup_printf(
			"%s to %s waited for moderation longer than the "
			"list's\nmax_days_to_hold (%" G_GINT64_FORMAT " days) "
			"and %s discarded:\n\n%s"
			"To keep held posts longer, raise max_days_to_hold "
			"(0 keeps them until a\nmoderator decides):\n"
			"    herald config set %s max_days_to_hold DAYS\n",
			n == 1 ? "This post" : "These posts", list_fqdn(l), days,
			n == 1 ? "was" : "were", text->str, list_fqdn(l));
		GError *local = NULL;

		if (notice_to_owners(l, subject, body, NULL, &local) < 0) {
			if (ret == 0)
				g_propagate_error(error, local);
			else
				g_clear_error(&local);
			ret = -1;
		}
		g_free(subject);
		g_free(body);
		sw->posts += n;
		sw->lists++;
	}
out:
	if (text != NULL)
		g_string_free(text, TRUE);
	if (posts != NULL)
		g_ptr_array_unref(posts);
	g_free(reason);
	return ret;
}

static int
held_expire(struct site *site, struct task_run *ctx, GError **error)
{
	struct sweep sw = { .now = time(NULL) };
	int ret = task_for_each_list(site, expire_list, &sw, error);

	task_run_message(ctx, "%d held post%s expired on %d list%s", sw.posts,
			 plural(sw.posts), sw.lists, plural(sw.lists));
	return ret;
}

const struct task task_held_expire = {
	.name = "held.expire",
	.default_schedule = "daily 03:00",
	.doc = "Discards the held posts older than their list's "
	       "max_days_to_hold (0: never), logs each, and tells the list's "
	       "owners in one notice what expired (Mailman's checkdbs).",
	.run = held_expire,
};

/* --- held.summary -------------------------------------------------------- */

/* Where moderators act on the web: <web.base_url>admindb/<list>, when
 * web.base_url is set (the web interface is to serve that page); NULL
 * otherwise. */
static char *
moderation_url(struct list *l)
{
	char *set = site_get(list_site(l), "web.base_url", NULL);
	char *url = NULL;

	if (set != NULL && *g_strstrip(set) != '\0') {
		char *base = listurls_base(l);
		url = g_strconcat(base, "admindb/", list_fqdn(l), NULL);
		g_free(base);
	}
	g_free(set);
	return url;
}

static int
summary_list(struct list *l, void *ctx, GError **error)
{
	struct sweep *sw = ctx;
	const char *fqdn = list_fqdn(l);
	int64_t days = list_get_int(l, "max_days_to_hold");
	GString *text;
	GPtrArray *posts;
	char *subject, *url;
	int ret;

	if (held_list(l, &posts, error) < 0)
		return -1;
	if (posts->len == 0) {
		g_ptr_array_unref(posts);
		return 0;
	}
	text = g_string_new(NULL);
	g_string_append_printf(text, "The mailing list %s has %u post%s held "
			       "for moderation:\n\n", fqdn, posts->len,
			       plural((int)posts->len));
	for (guint i = 0; i < posts->len; i++)
		append_post(text, posts->pdata[i], sw->now);
	g_string_append_printf(text,
		"To decide on a post (ID is the number after #):\n"
		"    herald held show %s ID       read it\n"
		"    herald held approve %s ID    send it to the list\n"
		"    herald held reject %s ID     return it to the poster\n"
		"    herald held discard %s ID    drop it\n", fqdn, fqdn, fqdn,
		fqdn);
	if ((url = moderation_url(l)) != NULL)
		g_string_append_printf(text, "or on the web: %s\n", url);
	if (days > 0)
		g_string_append_printf(text, "\nHeld posts are discarded after "
				       "%" G_GINT64_FORMAT " days "
				       "(max_days_to_hold).\n", days);
	else
		g_string_append(text, "\nHeld posts are kept until a moderator "
				 "decides (max_days_to_hold is 0).\n");
	g_string_append(text, "This summary comes on the schedule of the task "
			"held.summary while posts wait.\n");
	subject = g_strdup_printf("%u held post%s wait%s for moderation on %s",
				  posts->len, plural((int)posts->len),
				  posts->len == 1 ? "s" : "", fqdn);
	ret = notice_to_owners(l, subject, text->str, NULL, error);
	if (ret == 0) {
		sw->posts += (int)posts->len;
		sw->lists++;
	}
	g_free(subject);
	g_free(url);
	g_string_free(text, TRUE);
	g_ptr_array_unref(posts);
	return ret;
}

static int
held_summary(struct site *site, struct task_run *ctx, GError **error)
{
	struct sweep sw = { .now = time(NULL) };
	int ret = task_for_each_list(site, summary_list, &sw, error);

	task_run_message(ctx, "%d list%s with %d held post%s: owners told",
			 sw.lists, plural(sw.lists), sw.posts, plural(sw.posts));
	return ret;
}

const struct task task_held_summary = {
	.name = "held.summary",
	.default_schedule = "daily 08:00",
	.doc = "Sends the owners and moderators of each list with held posts "
	       "one notice listing them (id, poster, subject, reason, age) "
	       "and how to act on them (Mailman's daily checkdbs summary).",
	.run = held_summary,
};
