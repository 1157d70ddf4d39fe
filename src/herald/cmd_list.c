/*
 * cmd_list.c - `herald lists [create|remove]` and `herald config
 * get|set|show|export|import|doc`.
 *
 * Secrets (the password settings, stored as Argon2id hashes) are printed
 * only when asked for: `config show` says whether each is set, `config
 * export` leaves them out (its import keeps the list's), unless
 * --show-secrets; `config get LIST password` names one, and prints it.
 */
#include "cli.h"
#include "base/base.h"
#include "list/list.h"
#include "list/list_settings.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int
lists_print(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "Prints the mailing lists, one a line.",
	};
	gboolean verbose = FALSE;
	const GOptionEntry entries[] = {
		{ "verbose", 0, 0, G_OPTION_ARG_NONE, &verbose,
		  "with each list's description, after a tab", NULL },
		G_OPTION_ENTRY_NULL
	};
	GError *error = NULL;
	struct site *site;
	GPtrArray *names;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	if ((names = list_all(site, &error)) == NULL)
		return cli_gerror(&error);
	for (guint i = 0; i < names->len; i++) {
		if (!verbose) {
			printf("%s\n", (char *)names->pdata[i]);
			continue;
		}
		struct list *l = list_open(site, names->pdata[i], &error);
		if (l == NULL) {
			cli_gerror(&error);
			continue;
		}
		char *desc = list_get(l, "description", NULL);
		printf("%s\t%s\n", list_fqdn(l), desc);
		g_free(desc);
		list_free(&l);
	}
	g_ptr_array_free(names, TRUE);
	return CLI_OK;
}

/* After a list was created or removed: the Postfix tables, if installed. */
static int
refresh_mta(struct site *site)
{
	GError *error = NULL;

	if (mtaconfig_refresh(site, &error) < 0) {
		g_prefix_error(&error, "the Postfix tables were not updated: ");
		return cli_gerror(&error);
	}
	return CLI_OK;
}

static int
lists_create(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "NAME@DOMAIN", .min_args = 1, .max_args = 1,
		.summary = "Creates a mailing list with Mailman 2.1's default "
			   "settings, and updates\nthe Postfix tables if `herald "
			   "mta-config postfix --write` installed them.",
	};
	char **owners = NULL;
	const GOptionEntry entries[] = {
		{ "owner", 0, 0, G_OPTION_ARG_STRING_ARRAY, &owners,
		  "an owner's address (at least one; repeatable)", "ADDR" },
		G_OPTION_ENTRY_NULL
	};
	const char *const none[] = { NULL };
	GError *error = NULL;
	struct site *site;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	if (list_create(site, argv[1], owners != NULL ? (const char *const *)owners
						       : none, &error) < 0)
		return cli_gerror(&error);
	printf("list %s created\n", argv[1]);
	return refresh_mta(site);
}

static int
lists_remove(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "NAME@DOMAIN", .min_args = 1, .max_args = 1,
		.summary = "Removes a mailing list: its settings, members and held "
			   "posts.  Its archive\nis kept unless --purge.",
	};
	gboolean purge = FALSE;
	const GOptionEntry entries[] = {
		{ "purge", 0, 0, G_OPTION_ARG_NONE, &purge,
		  "remove its archive too", NULL },
		G_OPTION_ENTRY_NULL
	};
	GError *error = NULL;
	struct site *site;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	if (list_remove(site, argv[1], purge, &error) < 0)
		return cli_gerror(&error);
	printf("list %s removed%s\n", argv[1],
	       purge ? " with its archive" : " (its archive is kept)");
	return refresh_mta(site);
}

int
cmd_lists(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "", lists_print, NULL },
		{ "create", lists_create, "create a list (NAME@DOMAIN --owner ADDR)" },
		{ "remove", lists_remove, "remove a list (its archive too with --purge)" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, NULL);
}

/* --- config ------------------------------------------------------------ */

#define PENDING_NOTE "not acted on yet"

/* Shown values: a password as whether it is set (unless secrets),
 * several lines indented, a setting nothing reads yet marked as such. */
static void
print_setting(const struct list_setting *s, const char *v, gboolean secrets)
{
	const char *note = (s->flags & LS_PENDING) ? "    # " PENDING_NOTE : "";

	if (s->type == LS_PASSWORD && !secrets) {
		printf("%s = %s%s\n", s->name, *v != '\0' ? "(set)" : "(not set)",
		       note);
	} else if (strchr(v, '\n') != NULL) {
		char **lines = g_strsplit(v, "\n", -1);
		printf("%s =%s\n", s->name, note);
		for (char **l = lines; *l != NULL; l++)
			printf("    %s\n", *l);
		g_strfreev(lines);
	} else {
		printf("%s = %s%s\n", s->name, v, note);
	}
}

/* --- config ------------------------------------------------------------ */

static int
config_get(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST NAME", .min_args = 2, .max_args = 2,
		.summary = "Prints the value of setting NAME of LIST (a list: one "
			   "value a line).  A\npassword is printed as its hash: "
			   "naming it is asking for it.",
	};
	GError *error = NULL;
	struct list *l;
	char *v;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	if ((v = list_get(l, argv[2], &error)) == NULL) {
		ret = cli_gerror(&error);
	} else {
		printf("%s\n", v);
		ret = CLI_OK;
	}
	g_free(v);
	list_free(&l);
	return ret;
}

static int
config_set(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST NAME VALUE", .min_args = 3, .max_args = 3,
		.summary = "Checks VALUE against the type of setting NAME and stores "
			   "it.  Choices may be\ngiven by number or name; yes/no "
			   "also accepts true/false, on/off, 1/0; a\nlist takes "
			   "one value a line.  A VALUE that starts with a dash is "
			   "a value\n(`--` is not needed).",
	};
	GError *error = NULL;
	struct list *l;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	ret = list_set(l, argv[2], argv[3], &error) < 0 ? cli_gerror(&error)
							 : CLI_OK;
	list_free(&l);
	return ret;
}

static int
config_show(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Prints every setting of LIST by category; passwords only "
			   "as whether they are\nset (--show-secrets: their "
			   "hashes); settings nothing acts on yet end in\n\"# "
			   PENDING_NOTE "\".",
	};
	char *category = NULL;
	gboolean secrets = FALSE;
	const GOptionEntry entries[] = {
		{ "show-secrets", 0, 0, G_OPTION_ARG_NONE, &secrets,
		  "print the password hashes too", NULL },
		{ "category", 0, 0, G_OPTION_ARG_STRING, &category,
		  "only this category (general, passwords, language, nondigest, "
		  "digest, privacy, bounce, archive, autoreply, contentfilter)", "C" },
		G_OPTION_ENTRY_NULL
	};
	const char *last = NULL;
	struct list *l;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if (category != NULL) {
		gboolean known = FALSE;
		for (const char *const *c = list_setting_categories(); *c; c++)
			known = known || strcmp(*c, category) == 0;
		if (!known)
			return cli_error("unknown category '%s' (one of: general, "
					 "passwords, language, nondigest, digest, "
					 "privacy, bounce, archive, autoreply, "
					 "contentfilter)", category);
	}
	if ((l = cli_list(cli, argv[1])) == NULL)
		return CLI_FAIL;
	for (const struct list_setting *s = list_settings(); s->name != NULL; s++) {
		if (category != NULL && strcmp(s->category, category) != 0)
			continue;
		if (last == NULL || strcmp(last, s->category) != 0)
			printf("%s[%s]\n", last != NULL ? "\n" : "", s->category);
		last = s->category;
		char *v = list_get(l, s->name, NULL);
		print_setting(s, v, secrets);
		g_free(v);
	}
	list_free(&l);
	return CLI_OK;
}

static int
config_export(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST > file", .min_args = 1, .max_args = 1,
		.summary = "Prints every setting of LIST as a key file (one group a "
			   "category), for\n`herald config import`.  The passwords "
			   "are left out (a comment says so),\nand importing the "
			   "file keeps the passwords of the list it goes into;\n"
			   "--show-secrets includes their hashes, to move a list "
			   "with its passwords.",
	};
	gboolean secrets = FALSE;
	const GOptionEntry entries[] = {
		{ "show-secrets", 0, 0, G_OPTION_ARG_NONE, &secrets,
		  "include the password hashes", NULL },
		G_OPTION_ENTRY_NULL
	};
	struct list *l;
	char *text;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, entries, &help, &l)) != CLI_GO)
		return ret;
	text = secrets ? list_export(l) : list_export_without_secrets(l);
	fputs(text, stdout);
	g_free(text);
	list_free(&l);
	return CLI_OK;
}

static int
config_import(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST < file", .min_args = 1, .max_args = 1,
		.summary = "Reads settings in the form `herald config export` "
			   "prints and stores them,\nall or, if one is wrong, none.  "
			   "A setting the file leaves out is kept.  A\npassword is "
			   "an Argon2id hash at least as costly as herald's (a "
			   "weaker one is\nrefused), or in clear (it is hashed).",
	};
	GError *error = NULL;
	struct list *l;
	GString *text;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	if ((text = cli_read_stdin()) == NULL)
		ret = CLI_FAIL;
	else if (list_import(l, text->str, &error) < 0)
		ret = cli_gerror(&error);
	else
		ret = CLI_OK;
	if (text != NULL)
		g_string_free(text, TRUE);
	list_free(&l);
	return ret;
}

/* docs/list-settings.md is this output. */
static int
config_doc(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "Prints every list setting, its type, default and "
			   "meaning, as Markdown\n(docs/list-settings.md is this "
			   "output).",
	};
	const char *last = NULL;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	printf("# List settings\n\n"
	       "Generated by `herald config doc` from the table in\n"
	       "src/lib/list/list_settings.c. Names, defaults and numeric codes are\n"
	       "Mailman 2.1's. `herald config set LIST NAME VALUE` changes one;\n"
	       "choices may be given by number or by name; yes/no also accepts\n"
	       "true/false, on/off, 1/0; a list takes one value a line.\n"
	       "In defaults, %%(real_name)s, %%(list)s and %%(domain)s are filled\n"
	       "in when the list is created; texts keep theirs, filled in for\n"
	       "each message.\n\n"
	       "A setting marked *" PENDING_NOTE "* is kept, checked, exported\n"
	       "and imported (a list moved from Mailman keeps it), but nothing in\n"
	       "herald acts on it yet: its feature (bounce processing, digests,\n"
	       "subscription requests, ...) is still to come.\n\n"
	       "Values are UTF-8; one that is not is refused. Passwords are\n"
	       "stored as Argon2id hashes (7 MiB, 5 passes), never in clear.\n"
	       "`config show` says only whether each is set, and `config export`\n"
	       "leaves them out (a comment says so; importing such a file keeps\n"
	       "the passwords of the list it goes into) unless `--show-secrets`,\n"
	       "which exports their hashes, to move a list with its passwords.\n"
	       "`config import` takes a hash only if it is Argon2id and at least\n"
	       "as costly as herald's own (m at least 7 MiB, m times t at least\n"
	       "35 MiB): a weaker one (m=8,t=1, say) could be cracked quickly if\n"
	       "the file leaked, and with no login yet to rehash it at, it is\n"
	       "refused; set the password again instead. A hash at other\n"
	       "parameters is made again at herald's at its next good login. A\n"
	       "password in clear in an imported file is hashed.\n");
	for (const struct list_setting *s = list_settings(); s->name != NULL; s++) {
		if (last == NULL || strcmp(last, s->category) != 0)
			printf("\n## %s\n\n| setting | type | default | meaning |\n"
			       "|---|---|---|---|\n", s->category);
		last = s->category;
		char *type = s->type == LS_ENUM
			? g_strdelimit(g_strdup(s->choices), "|", ',')
			: s->type == LS_INT
			? g_strdup_printf("integer %lld..%lld", (long long)s->min,
					  (long long)s->max)
			: g_strdup(list_setting_type_name(s->type));
		GString *esc = g_string_new(s->dflt);
		g_string_replace(esc, "\n", "\\n", 0);
		g_string_replace(esc, "|", "\\|", 0);
		printf("| `%s` | %s | `%s` | %s%s |\n", s->name, type,
		       esc->len > 0 ? esc->str : "\"\"",
		       (s->flags & LS_PENDING) ? "*(" PENDING_NOTE ")* " : "", s->doc);
		g_string_free(esc, TRUE);
		g_free(type);
	}
	return CLI_OK;
}

int
cmd_config(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "get", config_get, "print one setting of a list" },
		{ "set", config_set, "change one setting of a list" },
		{ "show", config_show, "print every setting of a list" },
		{ "export", config_export, "print a list's settings for import" },
		{ "import", config_import, "store settings read from standard input" },
		{ "doc", config_doc, "every list setting documented, as Markdown" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, "Reads and changes the "
			    "settings of a list (Mailman 2.1's names).");
}
