/*
 * cmd_archive.c - `herald archive ...`: a list's archive by hand.
 *
 *   archive add LIST            one message from standard input
 *   archive path LIST           the folder of the HTML tree
 *   archive import LIST MBOX    every message of an mbox
 *   archive rebuild LIST        the pages and search index, same numbers
 *   archive check LIST [--repair]
 *   archive search LIST QUERY   PATH, date, author, subject a line
 *
 * The work is archive/archive.h's; this file parses and prints.  Search
 * results are the author's and subject's text as the index has it, so
 * control characters are replaced before they reach a terminal.
 */
#include "cli.h"
#include "archive/archive.h"
#include "base/base.h"
#include "list/list.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Opens the archive of list argv[1]. */
static struct archive *
open_archive(struct cli *cli, const char *name, struct list **l_r)
{
	GError *error = NULL;
	struct archive *a;

	if ((*l_r = cli_list(cli, name)) == NULL)
		return NULL;
	if ((a = archive_open(*l_r, &error)) == NULL) {
		cli_gerror(&error);
		list_free(l_r);
	}
	return a;
}

static int
archive_add_verb(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Archives the message on standard input (as the archive "
			   "runner does) and\nprints its page's path in the HTML "
			   "tree.",
	};
	GError *error = NULL;
	struct archive *a;
	struct list *l;
	GString *in;
	int64_t num;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	ret = CLI_OK;
	if ((in = cli_read_stdin()) == NULL)
		return CLI_FAIL;
	if ((a = open_archive(cli, argv[1], &l)) == NULL) {
		g_string_free(in, TRUE);
		return CLI_FAIL;
	}
	if (archive_add(a, in->str, in->len, NULL, FALSE, now_usec() / 1000000,
			&num, &error) < 0)
		ret = cli_gerror(&error);
	else
		printf("%06" G_GINT64_FORMAT "\n", num);
	archive_free(&a);
	list_free(&l);
	g_string_free(in, TRUE);
	return ret;
}

/* A verb that takes LIST alone and does fn to its archive. */
static int
simple_verb(struct cli *cli, int argc, char **argv, const struct cli_help *help,
	    int (*fn)(struct archive *a, GError **error))
{
	GError *error = NULL;
	struct archive *a;
	struct list *l;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, help)) != CLI_GO)
		return ret;
	if ((a = open_archive(cli, argv[1], &l)) == NULL)
		return CLI_FAIL;
	ret = CLI_OK;
	if (fn(a, &error) < 0)
		ret = cli_gerror(&error);
	archive_free(&a);
	list_free(&l);
	return ret;
}

static int
print_path(struct archive *a, GError **error)
{
	printf("%s\n", archive_html_dir(a));
	return 0;
}

static int
archive_path_verb(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Prints the folder of LIST's HTML archive (its index.html "
			   "lists the periods).",
	};

	return simple_verb(cli, argc, argv, &help, print_path);
}

static void
progress_bar(uint64_t done, uint64_t total, void *ctx)
{
	int width = 50, filled = total > 0 ? (int)(done * width / total) : 0;

	fprintf(stderr, "\r[%-*.*s] %3d%%", width, filled,
		"##################################################",
		total > 0 ? (int)(done * 100 / total) : 0);
	if (done >= total)
		fputc('\n', stderr);
}

static int
archive_import_verb(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST MBOX", .min_args = 2, .max_args = 2,
		.summary = "Adds every message of MBOX to LIST's archive, numbered on "
			   "from its last,\nand renders their pages.  Unquoted "
			   "\"From \" lines in bodies, CR LF line ends,\nNULs, "
			   "missing Dates and duplicate Message-IDs are taken "
			   "as they come.\nA progress bar is shown on a terminal.",
	};
	struct archive_import_stats st = { 0 };
	GError *error = NULL;
	struct archive *a;
	struct list *l;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((a = open_archive(cli, argv[1], &l)) == NULL)
		return CLI_FAIL;
	ret = CLI_OK;
	if (archive_import(a, argv[2], isatty(STDERR_FILENO) ? progress_bar : NULL,
			   NULL, &st, &error) < 0)
		ret = cli_gerror(&error);
	else
		printf("%" G_GUINT64_FORMAT " messages imported, %" G_GUINT64_FORMAT
		       " skipped (not messages)\n", st.messages, st.skipped);
	archive_free(&a);
	list_free(&l);
	return ret;
}

static int
archive_rebuild_verb(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Renders every page and the search index of LIST's archive "
			   "again from its\nmbox; every message keeps its number "
			   "and its URL.",
	};

	return simple_verb(cli, argc, argv, &help, archive_rebuild);
}

static int
archive_check_verb(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Compares LIST's pages and search index with its mbox and "
			   "prints each\ndifference; --repair renders what differs "
			   "again.  Exits 1 when it found any.",
	};
	gboolean repair = FALSE;
	const GOptionEntry entries[] = {
		{ "repair", 0, 0, G_OPTION_ARG_NONE, &repair,
		  "render again what differs", NULL },
		G_OPTION_ENTRY_NULL
	};
	GString *report = g_string_new(NULL);
	GError *error = NULL;
	struct archive *a;
	struct list *l;
	int ret, found;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		goto out;
	if ((a = open_archive(cli, argv[1], &l)) == NULL) {
		ret = CLI_FAIL;
		goto out;
	}
	found = archive_check(a, repair, report, &error);
	fputs(report->str, stdout);
	if (found < 0)
		ret = cli_gerror(&error);
	else
		ret = found > 0 ? CLI_FAIL : CLI_OK;
	if (found > 0 && repair)
		printf("%d difference%s repaired\n", found, found == 1 ? "" : "s");
	archive_free(&a);
	list_free(&l);
out:
	g_string_free(report, TRUE);
	return ret;
}

/* A field made one line for a terminal. */
static void
put_field(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7F ? ' ' : *s);
}

static int
archive_search_verb(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST QUERY...", .min_args = 2, .max_args = -1,
		.summary = "Prints the messages of LIST's archive that match QUERY, "
			   "best first, one a\nline: the page's path in the HTML "
			   "tree, date, author, subject,\ntab-separated.  QUERY: "
			   "words, \"phrases\", from:WORD, subject:WORD,\n"
			   "after:YYYY-MM-DD, before:YYYY-MM-DD; all must match.",
	};
	int limit = 50;
	const GOptionEntry entries[] = {
		{ "limit", 0, 0, G_OPTION_ARG_INT, &limit, "at most N results (50)", "N" },
		G_OPTION_ENTRY_NULL
	};
	GError *error = NULL;
	struct archive *a;
	struct list *l;
	GPtrArray *hits;
	char *query;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if ((a = open_archive(cli, argv[1], &l)) == NULL)
		return CLI_FAIL;
	query = g_strjoinv(" ", argv + 2);
	ret = CLI_OK;
	if ((hits = archive_search(a, query, limit, &error)) == NULL) {
		ret = cli_gerror(&error);
	} else {
		for (guint i = 0; i < hits->len; i++) {
			const struct archive_hit *h = hits->pdata[i];
			GDateTime *t = g_date_time_new_from_unix_utc(h->date);
			char *when = g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ");

			printf("%s\t%s\t", h->path, when);
			put_field(h->author);
			putchar('\t');
			put_field(h->subject);
			putchar('\n');
			g_free(when);
			g_date_time_unref(t);
		}
		g_ptr_array_free(hits, TRUE);
	}
	g_free(query);
	archive_free(&a);
	list_free(&l);
	return ret;
}

int
cmd_archive(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "add", archive_add_verb, "archive the message on standard input" },
		{ "path", archive_path_verb, "print the folder of the HTML archive" },
		{ "import", archive_import_verb, "archive every message of an mbox" },
		{ "rebuild", archive_rebuild_verb, "render the pages and the search index again" },
		{ "check", archive_check_verb, "compare the pages with the mbox (--repair)" },
		{ "search", archive_search_verb, "search the archive" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, "A list's archive: its mbox, "
			    "its HTML pages with Pipermail's URLs,\nand its "
			    "search index (docs/archive.md).");
}
