/*
 * cli.h - what the subcommands of the herald program share.
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

struct cli {
	char *var_dir;		/* --var, HERALD_VAR */
	struct site *site;	/* loaded on demand by cli_site() */
};

/* The site of the var dir, loaded once; NULL after printing an error. */
struct site *cli_site(struct cli *cli);
/* Prints "herald: <message>" to standard error; returns CLI_FAIL. */
int cli_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Prints the error and frees it; returns CLI_FAIL. */
int cli_gerror(GError **error);
/* Prints a usage line to standard error; returns CLI_USAGE. */
int cli_usage(const char *usage);

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

/* incoming.c: the in queue's handler (runner.in.handler = incoming). */
void *incoming_new(struct site *site);
void incoming_free(void *ctx);
runner_handler_fn incoming_handler(void);

/* outgoing.c: the out queue's (outgoing) and retry queue's handlers. */
void *outgoing_new(struct site *site, GError **error);
void outgoing_free(void *ctx);
runner_handler_fn outgoing_handler(void);
runner_handler_fn retry_handler(void);

#define RUNNER_EXIT_LEASE_LOST 3

#endif
