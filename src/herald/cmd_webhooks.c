/*
 * cmd_webhooks.c - `herald webhooks add|list|remove|test|replay`
 * (src/lib/store/webhook.h, docs/api.md "Webhooks").
 *
 *   webhooks add [--list LIST] URL   prints the webhook's id and secret
 *   webhooks list                    id, scope, URL, created
 *   webhooks remove ID
 *   webhooks test ID                 queues a webhook.test event to it
 *   webhooks replay ID [--since SEQ] queues again the events kept as sent
 *                                    (or given up) with sequence >= SEQ
 */
#include "cli.h"
#include "base/base.h"
#include "list/list.h"
#include "store/webhook.h"

#include <stdio.h>
#include <string.h>

static int hooks_add(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "URL", .min_args = 1, .max_args = 1,
		.summary = "Adds a webhook: the events of every list (or with "
			   "--list of one) are\nPOSTed to URL.  Prints its id "
			   "and its secret (the HMAC key of\nHerald-Signature).",
	};
	char *list = NULL;
	const GOptionEntry entries[] = {
		{ "list", 0, 0, G_OPTION_ARG_STRING, &list,
		  "only this list's events", "LIST" },
		G_OPTION_ENTRY_NULL
	};
	int ret;
	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	struct site *site = cli_site(cli);
	if (!site)
		return CLI_FAIL;
	if (list) {
		struct list *l = cli_list(cli, list);
		if (!l)
			return CLI_FAIL;
		list_free(&l);
	}
	struct webhook *h = NULL;
	GError *error = NULL;
	if (webhook_add(site, list, argv[1], &h, &error) < 0)
		return cli_gerror(&error);
	printf("id %s\nsecret %s\n", h->id, h->secret);
	webhook_free(&h);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

static int hooks_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "The webhooks, one a line: id, scope (site or the "
			   "list), URL, created\n(epoch seconds); tab-separated.",
	};
	int ret;
	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	struct site *site = cli_site(cli);
	if (!site)
		return CLI_FAIL;
	GError *error = NULL;
	GPtrArray *all = webhook_all(site_var_dir(site), &error);
	if (!all)
		return cli_gerror(&error);
	for (guint i = 0; i < all->len; i++) {
		const struct webhook *h = all->pdata[i];
		printf("%s\t%s\t%s\t%lld\n", h->id, *h->list ? h->list : "site",
		       h->url, (long long)h->created);
	}
	g_ptr_array_free(all, TRUE);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

/* The webhook argv[1] names; NULL after printing why. */
static struct webhook *hook_arg(struct cli *cli, const char *id)
{
	struct site *site = cli_site(cli);
	struct webhook *h = NULL;
	GError *error = NULL;
	if (!site)
		return NULL;
	int r = webhook_get(site_var_dir(site), id, &h, &error);
	if (r < 0)
		cli_gerror(&error);
	else if (r == 0)
		cli_error("no webhook %s", id);
	return h;
}

static int hooks_remove(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "ID", .min_args = 1, .max_args = 1,
		.summary = "Removes a webhook; its events still queued are "
			   "dropped when their turn comes.",
	};
	int ret;
	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	struct webhook *h = hook_arg(cli, argv[1]);
	if (!h)
		return CLI_FAIL;
	webhook_free(&h);
	GError *error = NULL;
	if (webhook_remove(cli_site(cli), argv[1], &error) < 0)
		return cli_gerror(&error);
	printf("removed %s\n", argv[1]);
	return CLI_OK;
}

static int hooks_test(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "ID", .min_args = 1, .max_args = 1,
		.summary = "Queues a webhook.test event for the webhook (the "
			   "webhooks runner sends it).",
	};
	int ret;
	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	struct webhook *h = hook_arg(cli, argv[1]);
	if (!h)
		return CLI_FAIL;
	GError *error = NULL;
	JsonObject *data = json_object_new();
	json_object_set_string_member(data, "webhook", h->id);
	ret = webhook_emit_to(cli_site(cli), h, *h->list ? h->list : NULL,
			      "webhook.test", data, &error);
	webhook_free(&h);
	if (ret < 0)
		return cli_gerror(&error);
	printf("queued a webhook.test event for %s\n", argv[1]);
	return CLI_OK;
}

static int hooks_replay(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "ID", .min_args = 1, .max_args = 1,
		.summary = "Queues again the events sent (or given up) to the "
			   "webhook, with their\nown sequence numbers.",
	};
	gint64 since = 0;
	const GOptionEntry entries[] = {
		{ "since", 0, 0, G_OPTION_ARG_INT64, &since,
		  "only events with this sequence number or later", "SEQ" },
		G_OPTION_ENTRY_NULL
	};
	int ret;
	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	struct webhook *h = hook_arg(cli, argv[1]);
	if (!h)
		return CLI_FAIL;
	webhook_free(&h);
	GError *error = NULL;
	guint n = 0;
	if (webhook_replay(cli_site(cli), argv[1], since, &n, &error) < 0)
		return cli_gerror(&error);
	printf("queued %u event%s again for %s\n", n, n == 1 ? "" : "s",
	       argv[1]);
	return CLI_OK;
}

int cmd_webhooks(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "add", hooks_add, "add a webhook (prints its secret)" },
		{ "list", hooks_list, "list the webhooks" },
		{ "remove", hooks_remove, "remove a webhook" },
		{ "test", hooks_test, "send a test event" },
		{ "replay", hooks_replay, "send kept events again" },
		{ NULL, NULL, NULL },
	};
	return cli_dispatch(cli, argc, argv, verbs,
			    "Webhooks: events POSTed to a URL (docs/api.md).");
}
