/*
 * main.c - herald-mta: `herald mta` as a program of its own, for the
 * MTA's pipe transport (docs/postfix.md), which starts a process for
 * every message. It links only what storing a message needs (the site
 * and list settings, the queue, GMime for the readability check), not
 * the web service's, archive's or runners' libraries, so it starts in
 * about half the time of herald (docs/PERFORMANCE.md). Same arguments,
 * exit codes and logs as `herald mta` (cmd_mta.c):
 *
 *     herald-mta [--var DIR] KIND LIST < message
 *     herald-mta [--var DIR] auto --recipient ADDR --sender ADDR < message
 */
#include "../herald/cli.h"

static const struct command commands[] = {
	{ "mta", cmd_mta, "the MTA's pipe: store a message for a list" },
	{ NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
	return program_main(argc, argv, commands, "mta");
}
