/*
 * cmd_api.c - `herald api token create|list|revoke`: the REST API's
 * bearer tokens (src/lib/web/api.h, docs/api.md).
 *
 *   api token create [--list LIST] [--read-only] NAME
 *       makes a token and prints it once (only its hash is kept).
 *   api token list
 *       id, name, scope, access, created, revoked: tab-separated.
 *   api token revoke ID|NAME
 */
#include "cli.h"
#include "base/base.h"
#include "list/list.h"
#include "web/api.h"

#include <stdio.h>
#include <string.h>

static char *day_time(int64_t t)
{
	GDateTime *d = g_date_time_new_from_unix_utc(t);
	char *s = d ? g_date_time_format(d, "%Y-%m-%dT%H:%M:%SZ")
		    : g_strdup("-");
	if (d)
		g_date_time_unref(d);
	return s;
}

static int token_create(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "NAME", .min_args = 1, .max_args = 1,
		.summary = "Makes an API token and prints it, once: only its "
			   "hash is kept.\nA token is for the whole site, or "
			   "with --list for one list only.",
	};
	char *list = NULL;
	gboolean read_only = FALSE;
	const GOptionEntry entries[] = {
		{ "list", 0, 0, G_OPTION_ARG_STRING, &list,
		  "the token acts on this list only", "LIST" },
		{ "read-only", 0, 0, G_OPTION_ARG_NONE, &read_only,
		  "the token may read, not change", NULL },
		G_OPTION_ENTRY_NULL
	};
	int ret;
	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	struct site *site = cli_site(cli);
	if (!site)
		return CLI_FAIL;
	if (!*argv[1] || strlen(argv[1]) > 100 || strchr(argv[1], '\n'))
		return cli_error("a token's name is one line of 1 to 100 "
				 "characters");
	if (list) {
		struct list *l = cli_list(cli, list);
		if (!l)
			return CLI_FAIL;
		list_free(&l);
	}
	char *secret = NULL;
	GError *error = NULL;
	if (api_token_create(site, argv[1], list, read_only, &secret, NULL,
			     &error) < 0)
		return cli_gerror(&error);
	printf("%s\n", secret);
	g_free(secret);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

static int token_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "The API tokens, one a line: id, name, scope (site "
			   "or the list),\nread-write or read-only, created, "
			   "revoked (or -); tab-separated.",
	};
	int ret;
	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	struct site *site = cli_site(cli);
	if (!site)
		return CLI_FAIL;
	GError *error = NULL;
	GPtrArray *all = api_token_list(site, &error);
	if (!all)
		return cli_gerror(&error);
	for (guint i = 0; i < all->len; i++) {
		const struct api_token *t = all->pdata[i];
		char *created = day_time(t->created);
		char *revoked = t->revoked ? day_time(t->revoked_at)
					   : g_strdup("-");
		printf("%s\t%s\t%s\t%s\t%s\t%s\n", t->id, t->name,
		       *t->list ? t->list : "site",
		       t->read_only ? "read-only" : "read-write", created,
		       revoked);
		g_free(created);
		g_free(revoked);
	}
	g_ptr_array_free(all, TRUE);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

static int token_revoke(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "ID|NAME", .min_args = 1, .max_args = 1,
		.summary = "Revokes a token (by its id, or its name): every "
			   "host refuses it from\nits next request.",
	};
	int ret;
	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	struct site *site = cli_site(cli);
	if (!site)
		return CLI_FAIL;
	GError *error = NULL;
	int r = api_token_revoke(site, argv[1], &error);
	if (r < 0)
		return cli_gerror(&error);
	if (r == 0)
		return cli_error("no token %s (or it is revoked already)",
				 argv[1]);
	printf("revoked %s\n", argv[1]);
	return CLI_OK;
}

static int cmd_api_token(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "create", token_create, "make a token and print it once" },
		{ "list", token_list, "list the tokens" },
		{ "revoke", token_revoke, "revoke a token" },
		{ NULL, NULL, NULL },
	};
	return cli_dispatch(cli, argc, argv, verbs, "The REST API's tokens.");
}

int cmd_api(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "token", cmd_api_token, "create, list or revoke API tokens" },
		{ NULL, NULL, NULL },
	};
	return cli_dispatch(cli, argc, argv, verbs,
			    "The REST API (docs/api.md).");
}
