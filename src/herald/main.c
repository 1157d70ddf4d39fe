/*
 * main.c - the herald program: global options and subcommand dispatch.
 *
 * Each subcommand lives in its own cmd_*.c file; this file only finds the
 * var dir (--var or HERALD_VAR) and calls it.
 */
#include "cli.h"
#include "base/base.h"
#include "store/lock.h"
#include "base/log.h"

#include <locale.h>
#include <stdarg.h>
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
	{ "queue", cmd_queue, "list queues; show, inject or unshunt messages" },
	{ "start", cmd_start, "start the master and its runners" },
	{ "stop", cmd_stop, "stop this host's master (drains the runners)" },
	{ "status", cmd_status, "show masters, leases, runners and queues" },
	{ "runner", cmd_runner, "run one runner in the foreground (debugging)" },
	{ NULL, NULL, NULL },
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: herald [--var DIR] COMMAND [ARGS...]\n\n"
		"The var dir holds all of herald's state; it comes from --var,\n"
		"else the environment variable HERALD_VAR.\n\nCommands:\n");
	for (const struct command *c = commands; c->name != NULL; c++)
		fprintf(out, "  %-8s %s\n", c->name, c->summary);
	fprintf(out, "\n`herald COMMAND --help` describes one command.\n");
}

int
cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("herald: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

int
cli_gerror(GError **error)
{
	cli_error("%s", *error != NULL ? (*error)->message : "unknown error");
	g_clear_error(error);
	return CLI_FAIL;
}

int
cli_usage(const char *text)
{
	fprintf(stderr, "usage: herald %s\n", text);
	return CLI_USAGE;
}

struct site *
cli_site(struct cli *cli)
{
	GError *error = NULL;

	if (cli->site != NULL)
		return cli->site;
	if (cli->var_dir == NULL) {
		cli_error("no var dir: use --var DIR or set HERALD_VAR");
		return NULL;
	}
	cli->site = site_open(cli->var_dir, &error);
	if (cli->site == NULL) {
		cli_gerror(&error);
		return NULL;
	}
	char *target = site_get(cli->site, "log.target", NULL);
	char *logs = site_path(cli->site, "logs", NULL);
	log_open(logs, g_strcmp0(target, "syslog") == 0);
	g_free(logs);
	g_free(target);
	return cli->site;
}

int
main(int argc, char **argv)
{
	struct cli cli = { 0 };
	int i = 1, ret;

	setlocale(LC_ALL, "C");
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--var") == 0 && i + 1 < argc) {
			cli.var_dir = g_strdup(argv[i + 1]);
			i += 2;
		} else if (g_str_has_prefix(argv[i], "--var=")) {
			cli.var_dir = g_strdup(argv[i] + strlen("--var="));
			i++;
		} else if (strcmp(argv[i], "--help") == 0 ||
			   strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("herald %s\n", HERALD_VERSION);
			return CLI_OK;
		} else {
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (cli.var_dir == NULL && g_getenv("HERALD_VAR") != NULL)
		cli.var_dir = g_strdup(g_getenv("HERALD_VAR"));
	/* Absolute, so that paths herald prints or writes into other
	 * programs' configuration (the MTA's) work from anywhere. */
	if (cli.var_dir != NULL && !g_path_is_absolute(cli.var_dir)) {
		char *abs = g_canonicalize_filename(cli.var_dir, NULL);
		g_free(cli.var_dir);
		cli.var_dir = abs;
	}
	if (i >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	for (const struct command *c = commands; c->name != NULL; c++) {
		if (strcmp(c->name, argv[i]) != 0)
			continue;
		ret = c->fn(&cli, argc - i, argv + i);
		lock_cleanup_clocks();
		site_free(&cli.site);
		g_free(cli.var_dir);
		log_close();
		return ret;
	}
	cli_error("unknown command '%s' (see `herald --help`)", argv[i]);
	return CLI_USAGE;
}
