/*
 * dmarctool.c - looks up DMARC policies with lib/dmarc.c, for the tests
 * (tests/integration/dmarc-dns.sh) and for a person checking a domain.
 *
 *   dmarctool [--server ADDR[:PORT]] [--timeout S] [--psl FILE] DOMAIN...
 *
 * Prints "DOMAIN POLICY" a line, POLICY being none-found, none,
 * quarantine, reject or temperror; with --verbose, the domain whose
 * record gave the policy follows, and a DNS failure's reason goes to
 * standard error.  Exits 0 when every lookup was answered, 1 when one was
 * a temperror, 64 on bad usage.
 */
#include "base/base.h"
#include "mail/dmarc.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char **argv)
{
	char *server = NULL, *psl = NULL;
	int timeout = 3;
	gboolean verbose = FALSE;
	GOptionEntry entries[] = {
		{ "server", 0, 0, G_OPTION_ARG_STRING, &server,
		  "DNS server (default: /etc/resolv.conf's)", "ADDR[:PORT]" },
		{ "timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
		  "seconds to wait for an answer (default 3)", "S" },
		{ "psl", 0, 0, G_OPTION_ARG_FILENAME, &psl,
		  "Public Suffix List file (default: the system's)", "FILE" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
		  "say where each policy came from, and why a lookup failed",
		  NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	GOptionContext *ctx = g_option_context_new("DOMAIN...");
	struct dmarc_resolver *r;
	GError *error = NULL;
	int rc = 0;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc < 2 ||
	    timeout < 1) {
		fprintf(stderr, "dmarctool: %s\n", error != NULL ? error->message
				: "usage: dmarctool [--server ADDR[:PORT]] "
				  "[--timeout S] [--psl FILE] DOMAIN...");
		g_clear_error(&error);
		g_option_context_free(ctx);
		return HERALD_EX_USAGE;
	}
	g_option_context_free(ctx);
	log_open(NULL, FALSE);
	/* No cache: each argument is asked of DNS. */
	r = dmarc_resolver_new_full(server, timeout, 0, psl, &error);
	if (r == NULL) {
		fprintf(stderr, "dmarctool: %s\n", error->message);
		g_clear_error(&error);
		return HERALD_EX_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		enum dmarc_policy policy;
		char *source = NULL;

		if (dmarc_lookup(r, argv[i], &policy, &source, &error) < 0) {
			if (verbose)
				fprintf(stderr, "dmarctool: %s\n", error->message);
			g_clear_error(&error);
			rc = 1;
		}
		if (verbose && source != NULL)
			printf("%s %s %s\n", argv[i], dmarc_policy_name(policy),
			       source);
		else
			printf("%s %s\n", argv[i], dmarc_policy_name(policy));
		g_free(source);
	}
	dmarc_resolver_free(&r);
	g_free(server);
	g_free(psl);
	return rc;
}
