/*
 * cmd_digests.c - `herald digests status|send|new-volume`: a list's digests
 * (src/lib/digest, docs/digests.md).
 *
 *   digests status [LIST]  pending posts and bytes, the volume and issue
 *                          the next digest will have, when the last went,
 *                          unfinished issues and members owed a last one
 *   digests send [LIST]    sends the pending digest now, whatever its size
 *                          (Mailman's "send digest now"), and finishes any
 *                          issue a dead sender left
 *   digests new-volume LIST   the next digest starts a new volume
 *                          (Mailman's bumpdigests)
 * Without LIST, every list of the site.
 */
#include "cli.h"
#include "base/base.h"
#include "digest/digest.h"
#include "list/list.h"
#include "tasks/tasks.h"

#include <stdio.h>
#include <time.h>

#define SEND_WAIT_MS 60000

/* The lists named (one) or all of them; NULL after printing an error. */
static GPtrArray *
lists_of(struct cli *cli, int argc, char **argv)
{
	struct site *site = cli_site(cli);
	GError *error = NULL;
	GPtrArray *names;

	if (site == NULL)
		return NULL;
	if (argc > 1) {
		names = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(names, g_strdup(argv[1]));
		return names;
	}
	if ((names = list_all(site, &error)) == NULL) {
		cli_error("%s", error->message);
		g_error_free(error);
	}
	return names;
}

typedef int (*list_fn)(struct list *l);

static int
each_list(struct cli *cli, int argc, char **argv, list_fn fn)
{
	GPtrArray *names = lists_of(cli, argc, argv);
	int ret = CLI_OK;

	if (names == NULL)
		return CLI_FAIL;
	for (guint i = 0; i < names->len; i++) {
		struct list *l = cli_list(cli, names->pdata[i]);

		if (l == NULL || fn(l) != CLI_OK)
			ret = CLI_FAIL;
		list_free(&l);
	}
	g_ptr_array_unref(names);
	return ret;
}

static int
status_one(struct list *l)
{
	struct digest_status st;
	GError *error = NULL;
	char *last;

	if (digest_status_get(l, time(NULL), &st, &error) < 0) {
		cli_error("list %s: %s", list_fqdn(l), error->message);
		g_error_free(error);
		return CLI_FAIL;
	}
	last = task_time_text(st.last_sent);
	printf("%s: %u post%s pending, %" G_GUINT64_FORMAT " bytes "
	       "(digest_size_threshhold %" G_GINT64_FORMAT " KB); next: vol %"
	       G_GINT64_FORMAT ", issue %" G_GINT64_FORMAT "; last sent %s",
	       list_fqdn(l), st.posts, st.posts == 1 ? "" : "s", st.bytes,
	       list_get_int(l, "digest_size_threshhold"), st.volume, st.issue,
	       last);
	if (st.unfinished > 0)
		printf("; %u unfinished", st.unfinished);
	if (st.one_last > 0)
		printf("; %u owed a last digest", st.one_last);
	printf("\n");
	g_free(last);
	return CLI_OK;
}

static int
send_one(struct list *l)
{
	struct digest_sent sent;
	GError *error = NULL;
	int r = digest_send(l, time(NULL), 0, SEND_WAIT_MS, &sent, &error);

	if (r < 0) {
		cli_error("list %s: %s", list_fqdn(l), error->message);
		g_error_free(error);
		return CLI_FAIL;
	}
	if (r == 0)
		return cli_error("list %s: another process is sending its "
				 "digest; try again", list_fqdn(l));
	if (sent.issues == 0)
		printf("%s: no posts pending\n", list_fqdn(l));
	else
		printf("%s: %u digest%s of %u post%s to %u MIME and %u plain "
		       "recipients\n", list_fqdn(l), sent.issues,
		       sent.issues == 1 ? "" : "s", sent.posts,
		       sent.posts == 1 ? "" : "s", sent.mime_rcpts,
		       sent.plain_rcpts);
	return CLI_OK;
}

static int
digests_status(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "[LIST]", .min_args = 0, .max_args = 1,
		.summary = "Shows each list's pending digest: posts, bytes, the "
			   "volume and issue the\nnext digest will have, when the "
			   "last one was sent.",
	};
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	return each_list(cli, argc, argv, status_one);
}

static int
digests_send(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "[LIST]", .min_args = 0, .max_args = 1,
		.summary = "Sends each list's pending digest now, whatever its "
			   "size, to its digest\nmembers (through the out queue), "
			   "and finishes any a dead sender left.",
	};
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	return each_list(cli, argc, argv, send_one);
}

static int
digests_new_volume(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Starts a new volume: the next digest is its issue 1 "
			   "(Mailman's bumpdigests).",
	};
	GError *error = NULL;
	struct list *l;
	int64_t volume;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	if (digest_new_volume(l, time(NULL), &volume, &error) < 0) {
		ret = cli_error("list %s: %s", list_fqdn(l), error->message);
		g_error_free(error);
	} else {
		printf("%s: the next digest is vol %" G_GINT64_FORMAT ", issue 1\n",
		       list_fqdn(l), volume);
	}
	list_free(&l);
	return ret;
}

int
cmd_digests(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "status", digests_status, "what is pending, and the next volume and issue" },
		{ "send", digests_send, "send the pending digest now" },
		{ "new-volume", digests_new_volume, "start a new volume with the next digest" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, "A list's digests: what "
			    "is pending, and sending it now.");
}
