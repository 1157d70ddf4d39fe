/*
 * cmd_import.c - `herald import ...`: lists moved in from another list
 * manager (src/lib/import, docs/migrating.md).
 *
 *   import mailman2 DIR [--list NAME] [--dry-run]
 *                        a Mailman 2.1 var prefix: every list, or NAME
 *   import mlmmj DIR LIST@DOMAIN [--dry-run]
 *                        one mlmmj list directory
 *
 * The report goes to standard output; the exit status is 1 when a list
 * could not be imported.
 */
#include "cli.h"
#include "base/base.h"
#include "import/import.h"

#include <stdio.h>

/* Prints the report; new lists go into the MTA's tables as `lists
 * create` puts them. */
static int
finish(struct site *site, GString *report, gboolean dry, int r,
       GError **error)
{
	GError *local = NULL;
	int ret = CLI_OK;

	fputs(report->str, stdout);
	fflush(stdout);
	g_string_free(report, TRUE);
	if (!dry && mtaconfig_refresh(site, &local) < 0) {
		g_prefix_error(&local, "the Postfix tables were not updated: ");
		ret = cli_gerror(&local);
	}
	if (r < 0)
		ret = cli_gerror(error);
	return ret;
}

typedef int (*importer_fn)(struct site *site, const char *dir,
			   const struct import_options *o, GString *report,
			   struct import_totals *totals, GError **error);

/* Parses the verb's options (into *dry and *only), runs the importer on
 * DIR (argv[1]; argv[2] is the mlmmj list) and prints the report. */
static int
run(struct cli *cli, int argc, char **argv, const GOptionEntry *entries,
    const struct cli_help *help, gboolean *dry, char **only, importer_fn fn)
{
	struct import_options o = { 0 };
	struct site *site;
	GError *error = NULL;
	GString *report;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	o.only_list = *only;
	o.fqdn = argc > 2 ? argv[2] : NULL;
	o.dry_run = *dry;
	report = g_string_new(NULL);
	ret = fn(site, argv[1], &o, report, NULL, &error);
	return finish(site, report, *dry, ret, &error);
}

static int
import_mailman2_verb(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "DIR", .min_args = 1, .max_args = 1,
		.summary = "Imports the lists of a Mailman 2.1 site from its var "
			   "prefix DIR (lists/,\narchives/, data/): settings, "
			   "members, passwords, the archive with\nPipermail's "
			   "numbers; prints what was carried and what not.",
		.description = "A list that exists already is left alone. Nothing "
			       "is visible of a list\nuntil it is whole; a run "
			       "that was stopped can be run again.",
	};
	char *only = NULL;
	gboolean dry = FALSE;
	const GOptionEntry entries[] = {
		{ "list", 0, 0, G_OPTION_ARG_STRING, &only,
		  "import this list only (its Mailman name)", "NAME" },
		{ "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry,
		  "read and report, change nothing", NULL },
		G_OPTION_ENTRY_NULL
	};

	return run(cli, argc, argv, entries, &help, &dry, &only, import_mailman2);
}

static int
import_mlmmj_verb(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "DIR LIST@DOMAIN", .min_args = 2, .max_args = 2,
		.summary = "Imports the mlmmj list directory DIR (control/, "
			   "subscribers.d/,\ndigesters.d/, nomailsubs.d/, archive/) "
			   "as the list LIST@DOMAIN.",
	};
	char *only = NULL;
	gboolean dry = FALSE;
	const GOptionEntry entries[] = {
		{ "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry,
		  "read and report, change nothing", NULL },
		G_OPTION_ENTRY_NULL
	};

	return run(cli, argc, argv, entries, &help, &dry, &only, import_mlmmj);
}

int
cmd_import(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "mailman2", import_mailman2_verb,
		  "import a Mailman 2.1 site's lists, members and archives" },
		{ "mlmmj", import_mlmmj_verb, "import an mlmmj list directory" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, "Lists moved in from Mailman "
			    "2.1 or mlmmj (docs/migrating.md).");
}
