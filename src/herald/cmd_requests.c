/*
 * cmd_requests.c - `herald requests ...`: subscription and unsubscription
 * requests that wait for a moderator (subscribe_policy 2 or 3,
 * unsubscribe_policy 1), Mailman's admindb for requests.
 *
 *   requests list LIST [--all]       one request a line (--all: also
 *                                    those awaiting a confirmation)
 *   requests approve|reject|discard LIST ID [--reason TEXT]
 *
 * ID is the request's token, or a prefix of it that no other request of
 * the list shares (at least 6 characters).  The decisions go through
 * list/subscribe.h, as the web interface's and mail's will.
 */
#include "cli.h"
#include "base/base.h"
#include "list/pending.h"
#include "list/subscribe.h"

#include <stdio.h>
#include <string.h>

#define ID_PREFIX_MIN 6

static void
print_request(const struct pending *p)
{
	GDateTime *when = g_date_time_new_from_unix_local(p->created);
	char *at = g_date_time_format(when, "%Y-%m-%d %H:%M");

	printf("%s  %s  %s%s%s%s  asked by %s via %s, %s%s%s%s\n", p->token,
	       pending_kind_name(p->kind), p->address,
	       *p->name != '\0' ? " (" : "", p->name,
	       *p->name != '\0' ? ")" : "", p->requester, p->via, at,
	       p->state == PENDING_CONFIRM ? ", awaits a confirmation" : "",
	       *p->reason != '\0' ? ": " : "", p->reason);
	g_free(at);
	g_date_time_unref(when);
}

static int
requests_print(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Prints the requests awaiting a moderator, oldest first: "
			   "the ID (token),\nthe kind, the address, who asked "
			   "and when.",
	};
	gboolean all = FALSE;
	const GOptionEntry entries[] = {
		{ "all", 0, 0, G_OPTION_ARG_NONE, &all,
		  "also the requests awaiting the requester's confirmation", NULL },
		G_OPTION_ENTRY_NULL
	};
	GPtrArray *requests = NULL;
	GError *error = NULL;
	struct list *l = NULL;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, entries, &help, &l)) != CLI_GO)
		return ret;
	if (pending_list(l, all ? -1 : PENDING_APPROVE, &requests, &error) < 0) {
		ret = cli_gerror(&error);
	} else {
		for (guint i = 0; i < requests->len; i++)
			if (((struct pending *)requests->pdata[i])->kind !=
			    PENDING_HELD_POST)	/* those are `herald held` */
				print_request(requests->pdata[i]);
		g_ptr_array_free(requests, TRUE);
		ret = CLI_OK;
	}
	list_free(&l);
	return ret;
}

/* The token of the request awaiting approval that id names; NULL after
 * printing why not. */
static char *
find_request(struct list *l, const char *id)
{
	GPtrArray *requests = NULL;
	GError *error = NULL;
	char *found = NULL;
	guint n = 0;

	if (strlen(id) < ID_PREFIX_MIN) {
		cli_error("request ID %s is too short (at least %d characters)",
			  id, ID_PREFIX_MIN);
		return NULL;
	}
	if (pending_list(l, PENDING_APPROVE, &requests, &error) < 0) {
		cli_gerror(&error);
		return NULL;
	}
	for (guint i = 0; i < requests->len; i++) {
		const struct pending *p = requests->pdata[i];

		if (g_str_has_prefix(p->token, id) && n++ == 0)
			found = g_strdup(p->token);
	}
	g_ptr_array_free(requests, TRUE);
	if (n != 1) {
		cli_error(n == 0 ? "list %s has no request %s awaiting approval"
				 : "list %s: ID %s names several requests; give "
				   "more of it", list_fqdn(l), id);
		g_clear_pointer(&found, g_free);
	}
	return found;
}

static int
requests_decide(struct cli *cli, int argc, char **argv)
{
	static const char *const names[] = { "approve", "reject", "discard" };
	static const char *const summaries[] = {
		[SUBSCRIBE_DECIDE_APPROVE] = "Approves request ID: the address "
			"is subscribed (welcome) or\nunsubscribed (goodbye).",
		[SUBSCRIBE_DECIDE_REJECT] = "Rejects request ID: the requester is "
			"told why (--reason).",
		[SUBSCRIBE_DECIDE_DISCARD] = "Discards request ID without a word.",
	};
	int d = 0;
	char *reason = NULL, *token;
	const GOptionEntry entries[] = {
		{ "reason", 0, 0, G_OPTION_ARG_STRING, &reason,
		  "why, for the requester's rejection notice", "TEXT" },
		G_OPTION_ENTRY_NULL
	};
	GError *error = NULL;
	struct list *l = NULL;
	int ret;

	while (strcmp(names[d], argv[0]) != 0)
		d++;
	const struct cli_help help = {
		.params = "LIST ID", .min_args = 2, .max_args = 2,
		.summary = summaries[d],
	};
	if ((ret = cli_parse_list(cli, &argc, &argv, entries, &help, &l)) != CLI_GO)
		return ret;
	if ((token = find_request(l, argv[2])) == NULL) {
		ret = CLI_FAIL;
	} else {
		ret = subscribe_decide(l, token, d, reason, &error);
		if (ret < 0)
			ret = cli_gerror(&error);
		else
			printf("%s: %s\n", token, subscribe_outcome_text(ret));
		ret = ret < 0 ? CLI_FAIL : CLI_OK;
	}
	g_free(token);
	list_free(&l);
	return ret;
}

int
cmd_requests(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "list", requests_print, "print the requests awaiting a moderator" },
		{ "approve", requests_decide, "subscribe or unsubscribe as asked" },
		{ "reject", requests_decide, "refuse, telling the requester (--reason)" },
		{ "discard", requests_decide, "drop it without a word" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, "The moderators' command "
			    "line for subscription and unsubscription\nrequests "
			    "that await their approval.");
}
