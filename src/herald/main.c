/*
 * main.c - the herald program: global options and subcommand dispatch.
 *
 * Each subcommand lives in its own cmd_*.c file and reads its own
 * arguments (cli_parse(), cli.c); this file is the table of commands, and
 * program.c reads the options before the command (--var, --version,
 * --help), finds the var dir and calls the command.
 */
#include "cli.h"

static const struct command commands[] = {
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

int
main(int argc, char **argv)
{
	return program_main(argc, argv, commands, NULL);
}
