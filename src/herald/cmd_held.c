/*
 * cmd_held.c - `herald held ...`: the moderators' command line.
 *
 *   held list LIST                  one held post a line
 *   held show LIST ID               its reason and the message
 *   held approve|reject|discard|defer LIST ID [--reason TEXT]
 *
 * The decisions are one verb function each; held_action_parse() turns
 * the verb's name (argv[0]) into the action.
 */
#include "cli.h"
#include "base/base.h"
#include "list/held.h"
#include "store/names.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* A held post's id from the command line; 0 after printing an error. */
static int64_t
parse_id(const char *arg)
{
	char *end = NULL;
	int64_t id = g_ascii_strtoll(arg, &end, 10);

	if (*end != '\0' || id <= 0) {
		cli_error("%s is not a held post's id", arg);
		return 0;
	}
	return id;
}

static int
held_print(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Prints the held posts of LIST, one a line: id, time held, "
			   "poster, subject,\nreason, tab-separated.",
	};
	GError *error = NULL;
	GPtrArray *posts;
	struct list *l;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((l = cli_list(cli, argv[1])) == NULL)
		return CLI_FAIL;
	ret = held_list(l, &posts, &error);
	list_free(&l);
	if (ret < 0)
		return cli_gerror(&error);
	for (guint i = 0; i < posts->len; i++) {
		struct held_post *h = posts->pdata[i];
		GDateTime *t = g_date_time_new_from_unix_utc(h->held_at);
		char *when = g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ");

		printf("%" G_GINT64_FORMAT "\t%s\t%s\t%s\t%s%s\n", h->id, when,
		       h->poster, h->subject, h->reason,
		       h->deciding ? " (being decided)" : "");
		g_free(when);
		g_date_time_unref(t);
	}
	g_ptr_array_unref(posts);
	return CLI_OK;
}

static int
held_show(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST ID", .min_args = 2, .max_args = 2,
		.summary = "Prints held post ID: why it was held, the handlers it "
			   "resumes at, and\nthe message.",
	};
	GError *error = NULL;
	struct held_post *h = NULL;
	struct list *l;
	int64_t id;
	int r;

	if ((r = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return r;
	if ((id = parse_id(argv[2])) == 0 || (l = cli_list(cli, argv[1])) == NULL)
		return CLI_FAIL;
	r = held_get(l, id, &h, &error);
	if (r == 0)
		cli_error("list %s has no held post %" G_GINT64_FORMAT,
			  list_fqdn(l), id);
	list_free(&l);
	if (r < 0)
		return cli_gerror(&error);
	if (r == 0)
		return CLI_FAIL;
	printf("Id: %" G_GINT64_FORMAT "\nPoster: %s\nSubject: %s\nReason: %s\n"
	       "Held-by: %s\nResumes-at: %s\n\n", h->id, h->poster, h->subject,
	       h->reason, queue_meta_get(h->meta, META_HOLD_HANDLER),
	       queue_meta_get(h->meta, META_PIPELINE));
	fwrite(h->msg, 1, h->msg_len, stdout);
	held_post_free(&h);
	return CLI_OK;
}

/* approve, reject, discard, defer: the verb is the decision. */
static int
held_decide_verb(struct cli *cli, int argc, char **argv)
{
	static const char *const summaries[] = {
		[HELD_APPROVE] = "Approves held post ID: it goes back to the in "
				 "queue and on through the\nhandlers it was held "
				 "before.",
		[HELD_REJECT] = "Rejects held post ID: the poster is told why "
				"(--reason), the post is\ndropped.",
		[HELD_DISCARD] = "Discards held post ID without a word to the "
				 "poster.",
		[HELD_DEFER] = "Leaves held post ID held (the decision is logged).",
	};
	int action = held_action_parse(argv[0]);
	const struct cli_help help = {
		.params = "LIST ID", .min_args = 2, .max_args = 2,
		.summary = summaries[action],
	};
	char *reason = NULL;
	const GOptionEntry entries[] = {
		{ "reason", 0, 0, G_OPTION_ARG_STRING, &reason,
		  "why, for the poster's rejection notice", "TEXT" },
		G_OPTION_ENTRY_NULL
	};
	GError *error = NULL;
	struct list *l;
	int64_t id;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if ((id = parse_id(argv[2])) == 0 || (l = cli_list(cli, argv[1])) == NULL)
		return CLI_FAIL;
	ret = held_decide(l, id, action, reason, &error) < 0 ? cli_gerror(&error)
							      : CLI_OK;
	list_free(&l);
	return ret;
}

int
cmd_held(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "list", held_print, "print the held posts of a list" },
		{ "show", held_show, "print one held post and why it is held" },
		{ "approve", held_decide_verb, "send a held post on" },
		{ "reject", held_decide_verb, "drop it, telling the poster (--reason)" },
		{ "discard", held_decide_verb, "drop it without a word" },
		{ "defer", held_decide_verb, "leave it held" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, "The moderators' command "
			    "line: the posts a list holds, and decisions\non "
			    "them.");
}
