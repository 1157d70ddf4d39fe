/*
 * main.c - the herald program: global options and subcommand dispatch.
 *
 * Each subcommand lives in its own cmd_*.c file and reads its own
 * arguments (cli_parse(), cli.c); this file only reads the options before
 * the command (--var, --version, --help), finds the var dir (--var,
 * HERALD_VAR, else HERALD_DEFAULT_VAR: the Makefile's VARDIR, by default
 * /var/lib/herald) and calls the command.
 */
#include "cli.h"
#include "base/base.h"
#include "store/lock.h"
#include "base/log.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct command {
	const char *name;
	int (*fn)(struct cli *, int, char **);
	const char *summary;
} commands[] = {
	{ "init", cmd_init, "create a var dir with a default configuration" },
	{ "site", cmd_site, "get, set or show site settings" },
	{ "lists", cmd_lists, "list, create or remove mailing lists" },
	{ "config", cmd_config, "get, set, show, export or import list settings" },
	{ "members", cmd_members, "add, remove, list, show, set or find members" },
	{ "mta", cmd_mta, "the MTA's pipe: store a message for a list (exit 0/67/75)" },
	{ "mta-config", cmd_mtaconfig, "print or install the Postfix tables for the lists" },
	{ "lmtp", cmd_lmtp, "serve LMTP in the foreground (the master runs it)" },
	{ "held", cmd_held, "list, show, approve, reject, discard or defer held posts" },
	{ "requests", cmd_requests, "list, approve, reject or discard subscription requests" },
	{ "tasks", cmd_tasks, "list the periodic tasks, or run one now" },
	{ "digests", cmd_digests, "show a list's pending digest, or send it now" },
	{ "news", cmd_news, "a list's mail-news gateway: status, catch up" },
	{ "bounce", cmd_bounce, "detect the failed recipients of a returned message" },
	{ "archive", cmd_archive, "add to, import, rebuild, check or search a list's archive" },
	{ "templates", cmd_templates, "show the texts of herald's own mail as a list sends them" },
	{ "dkim", cmd_dkim, "make, show and check the DKIM keys of the site's domains" },
	{ "web", cmd_web, "serve the web interface; set the site admin's password" },
	{ "api", cmd_api, "create, list or revoke the REST API's tokens" },
	{ "webhooks", cmd_webhooks, "add, list, test, replay or remove webhooks" },
	{ "import", cmd_import, "import lists from Mailman 2.1 (with archives) or mlmmj" },
	{ "queue", cmd_queue, "list queues; show, inject or unshunt messages" },
	{ "start", cmd_start, "start the master and its runners" },
	{ "stop", cmd_stop, "stop this host's master (drains the runners)" },
	{ "status", cmd_status, "show masters, leases, runners and queues" },
	{ "check", cmd_check, "find what is wrong with the set-up, and say what to do" },
	{ "runner", cmd_runner, "run one runner in the foreground (debugging)" },
	{ NULL, NULL, NULL },
};

/* The commands, for `herald --help`. */
static char *
commands_text(void)
{
	GString *text = g_string_new("The var dir holds all of herald's state; "
				     "it comes from --var, else the\n"
				     "environment variable HERALD_VAR, else is "
				     HERALD_DEFAULT_VAR ".\n\nCommands:\n");

	for (const struct command *c = commands; c->name != NULL; c++)
		g_string_append_printf(text, "  %-10s %s\n", c->name, c->summary);
	g_string_append(text, "\n`herald COMMAND --help` describes a command.");
	return g_string_free(text, FALSE);
}

int
main(int argc, char **argv)
{
	struct cli cli = { 0 };
	char *var_dir = NULL, *text = commands_text();
	gboolean version = FALSE;
	const GOptionEntry entries[] = {
		{ "var", 0, 0, G_OPTION_ARG_FILENAME, &var_dir,
		  "the var dir (default: $HERALD_VAR, else "
		  HERALD_DEFAULT_VAR ")", "DIR" },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version,
		  "print herald's version and exit", NULL },
		G_OPTION_ENTRY_NULL
	};
	const struct cli_help help = {
		.params = "COMMAND [ARGS...]", .min_args = 0, .max_args = -1,
		.summary = "herald, a mailing-list manager.",
		.description = text, .options_first = TRUE,
	};
	int ret;

	setlocale(LC_ALL, "C");
	ret = cli_parse(&cli, &argc, &argv, entries, &help);
	g_free(text);
	if (ret == CLI_GO && version) {
		printf("herald %s\n", HERALD_VERSION);
		ret = CLI_OK;
	} else if (ret == CLI_GO && argc < 2) {
		ret = cli_usage_error(&cli, "no command given");
	}
	if (ret != CLI_GO) {
		cli_free(&cli);
		return ret;
	}
	if (var_dir == NULL)
		var_dir = (char *)g_getenv("HERALD_VAR");
	cli.var_dir = g_strdup(var_dir != NULL ? var_dir : HERALD_DEFAULT_VAR);
	/* Absolute, so that paths herald prints or writes into other
	 * programs' configuration (the MTA's) work from anywhere. */
	if (cli.var_dir != NULL && !g_path_is_absolute(cli.var_dir)) {
		char *abs = g_canonicalize_filename(cli.var_dir, NULL);
		g_free(cli.var_dir);
		cli.var_dir = abs;
	}
	ret = CLI_USAGE;
	for (const struct command *c = commands; c->name != NULL; c++) {
		if (strcmp(c->name, argv[1]) != 0)
			continue;
		cli.command = g_strdup(c->name);
		ret = c->fn(&cli, argc - 1, argv + 1);
		break;
	}
	if (cli.command == NULL)
		cli_error("unknown command '%s' (see `herald --help`)", argv[1]);
	lock_cleanup_clocks();
	cli_free(&cli);
	log_close();
	return ret;
}
