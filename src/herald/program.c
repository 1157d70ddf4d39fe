/*
 * program.c - what the herald programs do before a command: read the
 * options before it (--var, --version, --help), find the var dir (--var,
 * HERALD_VAR, else HERALD_DEFAULT_VAR: the Makefile's VARDIR, by default
 * /var/lib/herald) and call the command.
 *
 * Two programs: herald (main.c, every command) and herald-mta
 * (mta/main.c, the one command `herald mta`, implied), which the MTA's
 * pipe starts once a message and which links only what storing a message
 * needs (docs/postfix.md).
 */
#include "cli.h"
#include "base/base.h"
#include "store/lock.h"
#include "base/log.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

/* What --help prints below the options. */
static char *
commands_text(const struct command *commands, const char *implied)
{
	GString *text = g_string_new("The var dir holds all of herald's state; "
				     "it comes from --var, else the\n"
				     "environment variable HERALD_VAR, else is "
				     HERALD_DEFAULT_VAR ".\n\n");

	if (implied != NULL) {
		g_string_append_printf(text, "This program is `herald %s` (%s),\n"
				       "linked with only what that needs. "
				       "`herald-%s KIND --help` describes it.",
				       implied, commands->summary, implied);
		return g_string_free(text, FALSE);
	}
	g_string_append(text, "Commands:\n");
	for (const struct command *c = commands; c->name != NULL; c++)
		g_string_append_printf(text, "  %-10s %s\n", c->name, c->summary);
	g_string_append(text, "\n`herald COMMAND --help` describes a command.");
	return g_string_free(text, FALSE);
}

/* A usage error before the command: 64, or for herald-mta 75, as every
 * failure of the MTA's pipe but a refused message (cmd_mta.c). */
static int
usage_exit(int ret, const char *implied)
{
	return ret == CLI_USAGE && implied != NULL ? HERALD_EX_TEMPFAIL : ret;
}

int
program_main(int argc, char **argv, const struct command *commands,
	     const char *implied)
{
	struct cli cli = { 0 };
	char *var_dir = NULL, *text = commands_text(commands, implied);
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
		.params = implied != NULL ? "KIND LIST < message" : "COMMAND [ARGS...]",
		.min_args = 0, .max_args = -1,
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
	} else if (ret == CLI_GO && implied == NULL && argc < 2) {
		ret = cli_usage_error(&cli, "no command given");
	}
	if (ret != CLI_GO) {
		cli_free(&cli);
		return usage_exit(ret, implied);
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
	/* herald COMMAND ARGS: the command sees COMMAND ARGS; herald-mta
	 * ARGS: the implied command sees herald-mta ARGS. */
	const char *name = implied != NULL ? implied : argv[1];
	ret = CLI_USAGE;
	for (const struct command *c = commands; c->name != NULL; c++) {
		if (strcmp(c->name, name) != 0)
			continue;
		cli.command = g_strdup(c->name);
		ret = implied != NULL ? c->fn(&cli, argc, argv)
				      : c->fn(&cli, argc - 1, argv + 1);
		break;
	}
	if (cli.command == NULL)
		cli_error("unknown command '%s' (see `herald --help`)", name);
	lock_cleanup_clocks();
	cli_free(&cli);
	log_close();
	return ret;
}
