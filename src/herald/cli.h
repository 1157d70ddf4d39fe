/*
 * cli.h - what the subcommands of the herald program share: the var dir and
 * its site, error messages, and one way to read a command line.
 *
 * Every command and verb reads its options through cli_parse() (GLib's
 * GOptionContext), so that all of them take `--opt VALUE` and
 * `--opt=VALUE`, print the same --help (to standard output, exit 0) and
 * fail the same way on an unknown option, a missing option argument or a
 * wrong number of arguments ("herald: <message>" and the usage line on
 * standard error, exit 64).  A command is written like this:
 *
 *	int
 *	cmd_start(struct cli *cli, int argc, char **argv)
 *	{
 *		static const struct cli_help help = {
 *			.params = "", .min_args = 0, .max_args = 0,
 *			.summary = "Starts the master and its runners.",
 *		};
 *		gboolean foreground = FALSE;
 *		const GOptionEntry entries[] = {
 *			{ "foreground", 0, 0, G_OPTION_ARG_NONE, &foreground,
 *			  "stay in the foreground, log to standard error", NULL },
 *			G_OPTION_ENTRY_NULL
 *		};
 *		int ret;
 *
 *		if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
 *			return ret;
 *		... argv[1] .. argv[argc - 1] are the positional arguments ...
 *	}
 *
 * A command with verbs (`herald members add|remove|...`) is a table of
 * struct cli_verb given to cli_dispatch(), which runs the verb's function
 * with argv[0] = the verb; each verb then calls cli_parse() itself.
 */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H

#include <glib.h>

#include "store/runner.h"
#include "store/site.h"
#include "list/listaddr.h"

/* Command exit codes (the MTA entry points use sysexits, see base.h). */
#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 64
/* cli_parse(): the arguments are read, the command goes on. */
#define CLI_GO (-1)

struct cli_verb;
struct list;

struct cli;

/* A command of a program: herald's table is in main.c. */
struct command {
	const char *name;
	int (*fn)(struct cli *, int, char **);
	const char *summary;
};
/* A program's main(): the options before the command, the var dir, then
 * the command of commands (ended by a NULL name) that argv names, or
 * with implied, that one: its argv is the program's (program.c). */
int program_main(int argc, char **argv, const struct command *commands,
		 const char *implied);

struct cli {
	char *var_dir;		/* --var, HERALD_VAR */
	struct site *site;	/* loaded on demand by cli_site() */
	/* For cli.c: */
	char *command;		/* "members add", as usage lines name it */
	const char *params;	/* its positional arguments, for usage lines */
	const struct cli_verb *verbs;	/* listed by its --help, or NULL */
	GPtrArray *owned;	/* option values cli_parse() allocated */
	char *usage_error;	/* the last usage error printed, or NULL */
};

/* What a command's --help and usage lines say about it. */
struct cli_help {
	const char *params;	/* positional arguments: "LIST ADDR [NAME]" */
	int min_args, max_args;	/* how many; max_args -1: no limit */
	const char *summary;	/* the paragraph above the options */
	const char *description;	/* the text below them, or NULL */
	gboolean options_first;	/* options end at the first argument (main:
				 * the rest belongs to the command) */
};

/* A verb of a command with verbs; name "" is the command without a verb
 * (`herald queue`), which also prints the command's --help.  A table ends
 * with a NULL name. */
struct cli_verb {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
	const char *summary;	/* one line, for the command's --help */
};

/*
 * Reads the options of a command (or verb) with GOptionContext; argv[0]
 * is the command's name.  entries (ended by G_OPTION_ENTRY_NULL) may be
 * NULL for none; -h/--help is always there.  Returns CLI_GO when the
 * command should go on: *argc and *argv then hold argv[0] and the
 * positional arguments only, between help->min_args and max_args of them.
 * Otherwise returns the exit code: CLI_OK after printing the help, or
 * CLI_USAGE after printing the error and the usage line.
 *
 * An argument is an option only if it looks like one (-x, --name,
 * --name=VALUE); anything else that starts with a dash is an argument, so
 * `config set LIST msg_footer '-- ...'` and a value of -1 need no `--`
 * (which also works, and ends the options).  The option after a string
 * option is its value whatever it looks like.  String values cli_parse()
 * stores (G_OPTION_ARG_STRING, _FILENAME, _STRING_ARRAY, _FILENAME_ARRAY)
 * belong to cli and live until the program ends: do not free them; a
 * default left in the variable when the option is absent is not touched.
 */
int cli_parse(struct cli *cli, int *argc, char ***argv,
	      const GOptionEntry *entries, const struct cli_help *help);
/* cli_parse(), then the list named by the first argument is opened
 * (*list_r, to list_free()) for CLI_GO; else *list_r is NULL and the exit
 * code is returned. */
int cli_parse_list(struct cli *cli, int *argc, char ***argv,
		   const GOptionEntry *entries, const struct cli_help *help,
		   struct list **list_r);
/* Runs the verb argv[1] of a command from a table of verbs (see struct
 * cli_verb); summary describes the command for its --help (NULL when the
 * table has a verb "", whose help is the command's). */
int cli_dispatch(struct cli *cli, int argc, char **argv,
		 const struct cli_verb *verbs, const char *summary);
/* Prints "herald: <message>" and the current command's usage line to
 * standard error, and remembers the message (cli->usage_error); returns
 * CLI_USAGE. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Frees what cli holds (the site too). */
void cli_free(struct cli *cli);

/* The site of the var dir, loaded once; NULL after printing an error. */
struct site *cli_site(struct cli *cli);
/* List name@domain of that site, opened (list_free() it); NULL after
 * printing an error. */
struct list *cli_list(struct cli *cli, const char *name);
/* All of standard input (binary-safe); NULL after printing why it could
 * not be read. */
GString *cli_read_stdin(void);
/* Prints "herald: <message>" to standard error; returns CLI_FAIL. */
int cli_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Prints the error and frees it; returns CLI_FAIL. */
int cli_gerror(GError **error);

int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_site(struct cli *cli, int argc, char **argv);
int cmd_queue(struct cli *cli, int argc, char **argv);
int cmd_lists(struct cli *cli, int argc, char **argv);
int cmd_config(struct cli *cli, int argc, char **argv);
int cmd_members(struct cli *cli, int argc, char **argv);
int cmd_mta(struct cli *cli, int argc, char **argv);
int cmd_lmtp(struct cli *cli, int argc, char **argv);
int cmd_mtaconfig(struct cli *cli, int argc, char **argv);
int cmd_held(struct cli *cli, int argc, char **argv);
int cmd_requests(struct cli *cli, int argc, char **argv);
int cmd_tasks(struct cli *cli, int argc, char **argv);
int cmd_digests(struct cli *cli, int argc, char **argv);
int cmd_news(struct cli *cli, int argc, char **argv);
int cmd_bounce(struct cli *cli, int argc, char **argv);
int cmd_templates(struct cli *cli, int argc, char **argv);
int cmd_archive(struct cli *cli, int argc, char **argv);
int cmd_dkim(struct cli *cli, int argc, char **argv);
int cmd_web(struct cli *cli, int argc, char **argv);
int cmd_api(struct cli *cli, int argc, char **argv);
int cmd_webhooks(struct cli *cli, int argc, char **argv);
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_import(struct cli *cli, int argc, char **argv);

/* Rewrites the Postfix tables if `mta-config postfix --write` installed
 * them (cmd_mtaconfig.c); 0 when there is nothing to do. */
int mtaconfig_refresh(struct site *site, GError **error);

/* The LMTP listener (lmtp.c): serves until SIGTERM; an exit code. */
int lmtp_main(struct site *site);
int cmd_start(struct cli *cli, int argc, char **argv);
int cmd_stop(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_runner(struct cli *cli, int argc, char **argv);

/* The master (master.c): runs until stopped; returns an exit code.
 * ready_fd (or -1) gets one byte once the master holds its host lease. */
int master_run(struct cli *cli, int ready_fd);

/* Runs one runner for queue slice s/n in this process (handlers.c).
 * lease_dir/lease_name/lease_claim name the master's lease that must stay
 * valid (NULL: none).  Returns a process exit code. */
int runner_main(struct site *site, const char *queue, unsigned s, unsigned n,
		const char *lease_name, const char *lease_claim, gboolean once);

#define RUNNER_EXIT_LEASE_LOST 3

#endif
