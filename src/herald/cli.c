/*
 * cli.c - what the subcommands share: messages, the site, and reading a
 * command line with GLib's GOptionContext (cli.h says how to use it).
 *
 * GOptionContext alone would take every argument that starts with a dash
 * for an option, and a list's footer ("-- \n...") or a setting of -1 is a
 * value.  So cli_parse() first sorts the arguments itself: those shaped
 * like an option (-x, --name, --name=VALUE), with the value that follows a
 * string option, go to GOptionContext, which reads them against the
 * command's table (types, unknown options, missing values, --help); all
 * the others are the positional arguments, counted against the command's
 * cli_help.  `--` ends the options.
 */
#include "cli.h"
#include "base/log.h"
#include "list/list.h"

#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

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

/* "herald" or "herald members add". */
static char *
command_path(const struct cli *cli)
{
	return cli->command != NULL ? g_strdup_printf("herald %s", cli->command)
				    : g_strdup("herald");
}

int
cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	char *path = command_path(cli);
	va_list ap;

	g_free(cli->usage_error);
	va_start(ap, fmt);
	cli->usage_error = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (cli->command != NULL)
		fprintf(stderr, "herald: %s: %s\n", cli->command, cli->usage_error);
	else
		fprintf(stderr, "herald: %s\n", cli->usage_error);
	fprintf(stderr, "usage: %s [OPTION...]%s%s\n"
		"`%s --help` says more.\n", path,
		cli->params != NULL && *cli->params != '\0' ? " " : "",
		cli->params != NULL ? cli->params : "", path);
	g_free(path);
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

struct list *
cli_list(struct cli *cli, const char *name)
{
	GError *error = NULL;
	struct site *site = cli_site(cli);
	struct list *l;

	if (site == NULL)
		return NULL;
	if ((l = list_open(site, name, &error)) == NULL)
		cli_gerror(&error);
	return l;
}

void
cli_free(struct cli *cli)
{
	site_free(&cli->site);
	g_free(cli->var_dir);
	g_free(cli->command);
	g_free(cli->usage_error);
	if (cli->owned != NULL)
		g_ptr_array_free(cli->owned, TRUE);
	memset(cli, 0, sizeof *cli);
}

/* -x, --name or --name=VALUE: the shape of an option. */
static gboolean
looks_like_option(const char *a)
{
	if (a[0] != '-')
		return FALSE;
	if (a[1] != '-')
		return g_ascii_isalpha(a[1]) && a[2] == '\0';
	if (!g_ascii_isalpha(a[2]))
		return FALSE;
	for (a += 3; *a != '\0' && *a != '='; a++)
		if (!g_ascii_isalnum(*a) && *a != '-' && *a != '_')
			return FALSE;
	return TRUE;
}

/* Whether option a takes the next argument as its value (--opt VALUE). */
static gboolean
takes_value(const GOptionEntry *entries, const char *a)
{
	if (entries == NULL || strchr(a, '=') != NULL)
		return FALSE;
	for (const GOptionEntry *e = entries; e->long_name != NULL; e++) {
		if (a[1] == '-' ? strcmp(a + 2, e->long_name) == 0
				: e->short_name == a[1])
			return e->arg != G_OPTION_ARG_NONE;
	}
	return FALSE;
}

static gboolean
is_array(GOptionArg arg)
{
	return arg == G_OPTION_ARG_STRING_ARRAY ||
	       arg == G_OPTION_ARG_FILENAME_ARRAY;
}

static gboolean
is_string(GOptionArg arg)
{
	return arg == G_OPTION_ARG_STRING || arg == G_OPTION_ARG_FILENAME ||
	       is_array(arg);
}

/* The string values GOptionContext allocated (those that differ from
 * what the variables held before, in before[]) become cli's to free. */
static void
keep_values(struct cli *cli, const GOptionEntry *entries, gpointer *before)
{
	for (size_t i = 0; entries != NULL && entries[i].long_name != NULL; i++) {
		gpointer now;

		if (!is_string(entries[i].arg))
			continue;
		now = *(gpointer *)entries[i].arg_data;
		if (now == before[i] || now == NULL)
			continue;
		if (cli->owned == NULL)
			cli->owned = g_ptr_array_new_with_free_func(g_free);
		if (is_array(entries[i].arg))
			for (char **s = now; *s != NULL; s++)
				g_ptr_array_add(cli->owned, *s);
		g_ptr_array_add(cli->owned, now);
	}
}

/* The verbs of the command, for its --help. */
static void
append_verbs(GString *text, const struct cli *cli)
{
	if (text->len > 0)
		g_string_append(text, "\n\n");
	g_string_append(text, "Verbs:\n");
	for (const struct cli_verb *v = cli->verbs; v->name != NULL; v++)
		if (*v->name != '\0')
			g_string_append_printf(text, "  %-10s %s\n", v->name,
					       v->summary);
	g_string_append_printf(text, "\n`herald %s VERB --help` describes a verb.",
			       cli->command);
}

static void
print_help(struct cli *cli, GOptionContext *ctx, const struct cli_help *help)
{
	char *path = command_path(cli);
	GString *desc = g_string_new(help->description);
	GString *text;
	char *s;

	if (cli->verbs != NULL)
		append_verbs(desc, cli);
	if (desc->len > 0)
		g_option_context_set_description(ctx, desc->str);
	/* The Usage line names the program by g_get_prgname(). */
	g_set_prgname(path);
	s = g_option_context_get_help(ctx, TRUE, NULL);
	text = g_string_new(s);
	g_string_replace(text, "[OPTION\u2026]", "[OPTION...]", 0);
	fputs(text->str, stdout);
	g_string_free(text, TRUE);
	g_string_free(desc, TRUE);
	g_free(s);
	g_free(path);
}

int
cli_parse(struct cli *cli, int *argc, char ***argv,
	  const GOptionEntry *entries, const struct cli_help *help)
{
	gboolean want_help = FALSE, ended = FALSE;
	const GOptionEntry help_entry[] = {
		{ "help", 'h', 0, G_OPTION_ARG_NONE, &want_help,
		  "show this help and exit", NULL },
		G_OPTION_ENTRY_NULL
	};
	int n = *argc, nopts = 1, npos = 1, nentries = 0, ret;
	char **opts = g_new0(char *, n + 1), **pos = g_new0(char *, n + 1);
	GOptionContext *ctx = g_option_context_new(help->params);
	GError *error = NULL;
	gpointer *before;

	cli->params = help->params;
	opts[0] = pos[0] = (*argv)[0];
	for (int i = 1; i < n; i++) {
		char *a = (*argv)[i];

		if (!ended && strcmp(a, "--") == 0) {
			ended = TRUE;
		} else if (ended || !looks_like_option(a)) {
			pos[npos++] = a;
			ended = ended || help->options_first;
		} else {
			opts[nopts++] = a;
			if (takes_value(entries, a) && i + 1 < n)
				opts[nopts++] = (*argv)[++i];
		}
	}
	while (entries != NULL && entries[nentries].long_name != NULL)
		nentries++;
	before = g_new0(gpointer, nentries + 1);
	for (int i = 0; i < nentries; i++)
		if (is_string(entries[i].arg))
			before[i] = *(gpointer *)entries[i].arg_data;

	g_option_context_set_help_enabled(ctx, FALSE);
	g_option_context_add_main_entries(ctx, help_entry, NULL);
	if (entries != NULL)
		g_option_context_add_main_entries(ctx, entries, NULL);
	if (help->summary != NULL)
		g_option_context_set_summary(ctx, help->summary);

	if (!g_option_context_parse(ctx, &nopts, &opts, &error)) {
		/* GLib's messages start with a capital; ours do not. */
		error->message[0] = g_ascii_tolower(error->message[0]);
		ret = cli_usage_error(cli, "%s", error->message);
		g_error_free(error);
	} else if (want_help) {
		print_help(cli, ctx, help);
		ret = CLI_OK;
	} else if (nopts > 1) {
		ret = cli_usage_error(cli, "unexpected argument '%s'", opts[1]);
	} else if (npos - 1 < help->min_args) {
		ret = cli_usage_error(cli, "missing arguments (%s)", help->params);
	} else if (help->max_args >= 0 && npos - 1 > help->max_args) {
		ret = cli_usage_error(cli, "unexpected argument '%s'",
				      pos[1 + help->max_args]);
	} else {
		for (int i = 0; i < npos; i++)
			(*argv)[i] = pos[i];
		(*argv)[npos] = NULL;
		*argc = npos;
		ret = CLI_GO;
	}
	keep_values(cli, entries, before);
	g_option_context_free(ctx);
	g_free(before);
	g_free(opts);
	g_free(pos);
	return ret;
}

int
cli_parse_list(struct cli *cli, int *argc, char ***argv,
	       const GOptionEntry *entries, const struct cli_help *help,
	       struct list **list_r)
{
	int ret = cli_parse(cli, argc, argv, entries, help);

	*list_r = NULL;
	if (ret == CLI_GO && (*list_r = cli_list(cli, (*argv)[1])) == NULL)
		ret = CLI_FAIL;
	return ret;
}

static const struct cli_verb *
find_verb(const struct cli_verb *verbs, const char *name)
{
	for (const struct cli_verb *v = verbs; v->name != NULL; v++)
		if (*v->name != '\0' && strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

/* Runs verb v of the command, argv[0] becoming the verb. */
static int
run_verb(struct cli *cli, const struct cli_verb *v, int argc, char **argv)
{
	char *command = g_strdup_printf("%s %s", cli->command, v->name);

	g_free(cli->command);
	cli->command = command;
	cli->verbs = NULL;
	return v->fn(cli, argc - 1, argv + 1);
}

int
cli_dispatch(struct cli *cli, int argc, char **argv,
	     const struct cli_verb *verbs, const char *summary)
{
	const struct cli_help help = {
		.params = "VERB [ARGS...]", .min_args = 1, .max_args = -1,
		.summary = summary,
	};
	const struct cli_verb *v, *bare;
	int ret;

	if (argc >= 2 && (v = find_verb(verbs, argv[1])) != NULL)
		return run_verb(cli, v, argc, argv);
	for (bare = verbs; bare->name != NULL && *bare->name != '\0'; bare++)
		;
	/* The command itself: its --help lists the verbs. */
	cli->verbs = verbs;
	if (bare->name != NULL && (argc == 1 || argv[1][0] == '-'))
		return bare->fn(cli, argc, argv);
	if (argc == 1 || argv[1][0] == '-') {
		/* --help, an unknown option, `--` before the verb. */
		if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
			return ret;
	}
	if ((v = find_verb(verbs, argv[1])) == NULL)
		return cli_usage_error(cli, "unknown verb '%s'", argv[1]);
	return run_verb(cli, v, argc, argv);
}

GString *
cli_read_stdin(void)
{
	GString *in = g_string_new(NULL);
	char buf[65536];
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("reading standard input: %s", g_strerror(errno));
			g_string_free(in, TRUE);
			return NULL;
		}
		g_string_append_len(in, buf, n);
	}
	return in;
}
