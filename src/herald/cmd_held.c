/*
 * cmd_held.c - `herald held ...`: the moderators' command line.
 *
 *   held list LIST                  one held post a line
 *   held show LIST ID               its reason and the message
 *   held approve|reject|discard|defer LIST ID [--reason TEXT]
 */
#include "cli.h"
#include "base/base.h"
#include "list/held.h"
#include "store/names.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char usage[] =
	"held list LIST\n"
	"       herald held show LIST ID\n"
	"       herald held approve|reject|discard|defer LIST ID [--reason TEXT]";

static int
held_print(struct list *l)
{
	GError *error = NULL;
	GPtrArray *posts;

	if (held_list(l, &posts, &error) < 0)
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
held_show(struct list *l, int64_t id)
{
	GError *error = NULL;
	struct held_post *h = NULL;
	int r = held_get(l, id, &h, &error);

	if (r < 0)
		return cli_gerror(&error);
	if (r == 0)
		return cli_error("list %s has no held post %" G_GINT64_FORMAT,
				 list_fqdn(l), id);
	printf("Id: %" G_GINT64_FORMAT "\nPoster: %s\nSubject: %s\nReason: %s\n"
	       "Held-by: %s\nResumes-at: %s\n\n", h->id, h->poster, h->subject,
	       h->reason, queue_meta_get(h->meta, META_HOLD_HANDLER),
	       queue_meta_get(h->meta, META_PIPELINE));
	fwrite(h->msg, 1, h->msg_len, stdout);
	held_post_free(&h);
	return CLI_OK;
}

int
cmd_held(struct cli *cli, int argc, char **argv)
{
	GError *error = NULL;
	struct site *site;
	struct list *l;
	const char *reason = NULL;
	int64_t id = 0;
	int action = -1, ret;
	char *end = NULL;

	if (argc < 3)
		return cli_usage(usage);
	if (strcmp(argv[1], "list") != 0) {
		if (argc < 4)
			return cli_usage(usage);
		id = g_ascii_strtoll(argv[3], &end, 10);
		if (*end != '\0' || id <= 0)
			return cli_error("%s is not a held post's id", argv[3]);
		if (argc == 6 && strcmp(argv[4], "--reason") == 0)
			reason = argv[5];
		else if (argc != 4)
			return cli_usage(usage);
		if (strcmp(argv[1], "show") != 0 &&
		    (action = held_action_parse(argv[1])) < 0)
			return cli_usage(usage);
	} else if (argc != 3) {
		return cli_usage(usage);
	}
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	if ((l = list_open(site, argv[2], &error)) == NULL)
		return cli_gerror(&error);
	if (strcmp(argv[1], "list") == 0)
		ret = held_print(l);
	else if (strcmp(argv[1], "show") == 0)
		ret = held_show(l, id);
	else if (held_decide(l, id, action, reason, &error) < 0)
		ret = cli_gerror(&error);
	else
		ret = CLI_OK;
	list_free(&l);
	return ret;
}
