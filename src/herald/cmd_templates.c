/*
 * cmd_templates.c - `herald templates list|show`: the templates of
 * herald's own mail as a list would send them (list/template.h,
 * docs/templates.md).
 *
 *   templates list LIST [--language L]
 *       one line per built-in template name: NAME<TAB>LANG<TAB>SOURCE,
 *       the language and place (list, site, built-in) the list takes it
 *       from: an admin's check that an override is the one in use.
 *
 *   templates show LIST NAME [--language L] [--set NAME=VALUE ...] [--raw]
 *       prints "Subject: ...", "Language: ..." (the language found), a
 *       blank line and the body, the list's variables filled and the
 *       --set ones added; the variables of one message (cookie, email,
 *       ...) that are not set stay as written.  --raw prints the file's
 *       text as found, unfilled: the start of a list's or site's own
 *       copy of it.
 */
#include "cli.h"
#include "list/list.h"
#include "list/template.h"

#include <stdio.h>
#include <string.h>

/* NAME=VALUE pairs into vars; FALSE after a usage error. */
static gboolean
add_pairs(struct cli *cli, GHashTable *vars, char **pairs)
{
	for (guint i = 0; pairs != NULL && pairs[i] != NULL; i++) {
		const char *eq = strchr(pairs[i], '=');
		char *name;

		if (eq == NULL || eq == pairs[i]) {
			cli_usage_error(cli, "--set %s: NAME=VALUE expected",
					pairs[i]);
			return FALSE;
		}
		name = g_strndup(pairs[i], (gsize)(eq - pairs[i]));
		template_vars_set(vars, name, eq + 1);
		g_free(name);
	}
	return TRUE;
}

static int
print_raw(struct list *l, const char *name, const char *language)
{
	GError *error = NULL;
	char *text = NULL, *found = NULL;
	int r = template_find(l, name, language, &text, &found, NULL, &error);

	if (r < 0)
		return cli_gerror(&error);
	if (r == 0)
		return cli_error("no template \"%s\" for list %s", name,
				 list_fqdn(l));
	fputs(text, stdout);
	g_free(text);
	g_free(found);
	return CLI_OK;
}

static int
templates_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Prints each of herald's templates with the language "
			   "and the place (list,\nsite or built-in) LIST takes "
			   "it from: NAME<TAB>LANG<TAB>SOURCE.",
	};
	char *language = NULL;
	const GOptionEntry entries[] = {
		{ "language", 'l', 0, G_OPTION_ARG_STRING, &language,
		  "the language to look for first (a member's)", "LANG" },
		G_OPTION_ENTRY_NULL
	};
	GPtrArray *names;
	struct list *l;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, entries, &help, &l)) != CLI_GO)
		return ret;
	names = template_builtin_names();
	for (guint i = 0; i < names->len && ret == CLI_GO; i++) {
		GError *error = NULL;
		const char *source = NULL;
		char *text = NULL, *found = NULL;

		if (template_find(l, names->pdata[i], language, &text, &found,
				  &source, &error) < 0)
			ret = cli_gerror(&error);
		else
			printf("%s\t%s\t%s\n", (char *)names->pdata[i], found,
			       source);
		g_free(text);
		g_free(found);
	}
	g_ptr_array_unref(names);
	list_free(&l);
	return ret == CLI_GO ? CLI_OK : ret;
}

static int
templates_show(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST NAME", .min_args = 2, .max_args = 2,
		.summary = "Prints template NAME (verify, subscribeack, help, "
			   "...; docs/templates.md) as\nLIST would send it: "
			   "its Subject, the language found, and the body, "
			   "with the\nlist's variables filled in.  Lookup: "
			   "the list's templates, the site's\n(etc/templates/), "
			   "the built-in ones; in the language asked, else "
			   "the\nlist's preferred_language, else en.",
	};
	char *language = NULL;
	char **pairs = NULL;
	gboolean raw = FALSE;
	const GOptionEntry entries[] = {
		{ "language", 'l', 0, G_OPTION_ARG_STRING, &language,
		  "the language to look for first (a member's)", "LANG" },
		{ "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &pairs,
		  "a variable of one message, e.g. cookie=abc (repeatable)",
		  "NAME=VALUE" },
		{ "raw", 0, 0, G_OPTION_ARG_NONE, &raw,
		  "print the template's text as found, variables unfilled",
		  NULL },
		G_OPTION_ENTRY_NULL
	};
	struct template_text t;
	GError *error = NULL;
	GHashTable *vars;
	struct list *l;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, entries, &help, &l)) != CLI_GO)
		return ret;
	if (raw) {
		ret = print_raw(l, argv[2], language);
		list_free(&l);
		return ret;
	}
	vars = template_vars_for_list(l);
	if (!add_pairs(cli, vars, pairs))
		ret = CLI_USAGE;
	else if (template_render(l, argv[2], language, vars, &t, &error) < 0)
		ret = cli_gerror(&error);
	else {
		printf("Subject: %s\nLanguage: %s\n\n%s", t.subject, t.language,
		       t.body);
		template_text_clear(&t);
		ret = CLI_OK;
	}
	g_hash_table_destroy(vars);
	list_free(&l);
	return ret;
}

int
cmd_templates(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "list", templates_list, "name each template and where a list takes it from" },
		{ "show", templates_show, "print a template as a list would send it" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, "The texts of herald's own "
			    "mail (welcome, confirmations, notices), as\n"
			    "templates per list, per site and built in "
			    "(docs/templates.md).");
}
