/*
 * main.c - herald-mta: the MTA's pipe into herald (docs/postfix.md),
 * which the MTA starts for every message.  Same arguments, exit codes and
 * answers as `herald mta` (src/herald/cmd_mta.c):
 *
 *     herald-mta [--var DIR] KIND LIST < message
 *     herald-mta [--var DIR] auto --recipient ADDR --sender ADDR < message
 *
 * It hands the message to the master's LMTP server over its pipe socket
 * (handoff.h), which stores it as for an LMTP client: the process links
 * only the C library, so a message costs a small process's start and a
 * few round trips instead of loading GMime, GIO and the site's settings.
 * When the hand-over cannot be made (no master on this host, the socket
 * turned off, an argument only `herald mta` understands) standard input
 * is still unread, and it runs `herald mta` with the same arguments: the
 * `herald` beside it, else the one on $PATH.
 */
#include "handoff.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

/* Runs `herald [GLOBAL OPTIONS] mta ARGS` for `herald-mta [GLOBAL
 * OPTIONS] ARGS`; returns only if it cannot. */
static int
run_herald(int argc, char **argv)
{
	char **args = calloc((size_t)argc + 2, sizeof *args);
	char self[PATH_MAX], path[PATH_MAX + 8];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	int i = 1, j = 1;

	if (args == NULL)
		return EX_TEMPFAIL;
	args[0] = "herald";
	/* herald's own options (program.c) stay before the command. */
	while (i < argc && (strncmp(argv[i], "--var=", 6) == 0 ||
			    strcmp(argv[i], "--version") == 0 ||
			    (strcmp(argv[i], "--var") == 0 && i + 1 < argc))) {
		if (strcmp(argv[i], "--var") == 0)
			args[j++] = argv[i++];
		args[j++] = argv[i++];
	}
	args[j++] = "mta";
	while (i < argc)
		args[j++] = argv[i++];
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			snprintf(path, sizeof path, "%s/herald", self);
			execv(path, args);
		}
	}
	execvp("herald", args);
	/* As any failure before the message is stored: the MTA retries. */
	fprintf(stderr, "herald-mta: cannot run herald: %s\n", strerror(errno));
	return EX_TEMPFAIL;
}

int
main(int argc, char **argv)
{
	int ret = handoff_main(argc, argv);

	return ret >= 0 ? ret : run_herald(argc, argv);
}
