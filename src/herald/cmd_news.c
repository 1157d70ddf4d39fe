/*
 * cmd_news.c - `herald news status|catchup`: a list's mail-news gateway
 * (src/lib/news, docs/news.md).
 *
 *   news status LIST    the gateway's settings and the watermark
 *   news catchup LIST   the watermark past the group's last article: what
 *                       the group holds now is never gated (Mailman's
 *                       "mass catch up")
 */
#include "cli.h"
#include "list/list.h"
#include "news/nntp.h"
#include "store/lock.h"
#include "tasks/tasks.h"

#include <stdio.h>

/* How long a catch-up waits for a news.gate run to end. */
#define CATCHUP_WAIT_MS 30000

static int
news_status(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Shows the list's gateway settings and the number of "
			   "the next article news.gate takes (0: it never ran; "
			   "its first run catches up).",
	};
	static const char *const names[] = {
		"nntp_host", "linked_newsgroup", "gateway_to_news",
		"gateway_to_mail", "news_moderation", "news_prefix_subject_too",
		NULL,
	};
	GError *error = NULL;
	struct list *l;
	int64_t next;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	for (const char *const *n = names; *n != NULL; n++) {
		char *v = list_get(l, *n, NULL);

		printf("%s: %s\n", *n, v != NULL ? v : "");
		g_free(v);
	}
	if (list_counter_get(l, "usenet_next", &next, &error) < 0) {
		ret = cli_error("list %s: %s", list_fqdn(l), error->message);
		g_error_free(error);
	} else {
		printf("next article: %" G_GINT64_FORMAT "\n", next);
		ret = CLI_OK;
	}
	list_free(&l);
	return ret;
}

static int
news_catchup_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Moves the list's watermark past the newsgroup's last "
			   "article: the articles there now are never sent to "
			   "the list (Mailman's mass catch up).",
	};
	GError *error = NULL;
	struct lock *gate = NULL;
	struct list *l;
	int64_t last;
	unsigned timeout;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	timeout = (unsigned)site_get_int(cli_site(cli), "news.timeout");
	/* Not while news.gate pulls: its watermark and staged articles would
	 * undo the catch-up (the lock lasts as long as the catch-up's two
	 * commands may). */
	if ((gate = task_lock_hold(cli_site(cli), task_find("news.gate"),
				   (int64_t)timeout * 4000 + 10000,
				   CATCHUP_WAIT_MS, &error)) == NULL ||
	    news_catchup(l, timeout, &last, &error) < 0) {
		ret = cli_error("list %s: %s", list_fqdn(l), error->message);
		g_error_free(error);
	} else {
		printf("%s: caught up at article %" G_GINT64_FORMAT "\n",
		       list_fqdn(l), last);
		ret = CLI_OK;
	}
	if (gate != NULL) {
		(void)lock_release(gate, NULL);
		lock_free(&gate);
	}
	list_free(&l);
	return ret;
}

int
cmd_news(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "status", news_status, "the gateway's settings and watermark" },
		{ "catchup", news_catchup_cmd, "skip what the newsgroup holds now" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, "A list's mail-news "
			    "gateway (docs/news.md).");
}
