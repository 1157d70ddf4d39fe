/*
 * cmd_mtaconfig.c - `herald mta-config postfix [--write]`: the Postfix
 * lookup tables that route every list address to herald's LMTP server.
 *
 * Three tables, one key a line, under etc/postfix/ in the var dir:
 *   domains      the list domains            (relay_domains)
 *   recipients   every list address           (relay_recipient_maps)
 *   transport    list address -> lmtp:...     (transport_maps), or with
 *                mta.postfix_transport = pipe -> herald: (a pipe(8)
 *                transport running `herald-mta auto`, or `herald mta auto`
 *                where herald-mta is not installed beside herald)
 * With recipient_delimiter = + Postfix looks up list-bounces+VERP@ and
 * list-confirm+TOKEN@ under their base address.  --write installs them
 * (atomically, then postmap if it is there); `lists create` and
 * `lists remove` rewrite them when they were installed.
 */
#include "cli.h"
#include "base/base.h"
#include "list/list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char *const list_suffixes[] = {
	"", "-request", "-join", "-subscribe", "-leave", "-unsubscribe",
	"-owner", "-admin", "-bounces", "-confirm",
};

struct tables {
	GString *domains, *recipients, *transport;
};

static int
build_tables(struct site *site, struct tables *t, GError **error)
{
	char *listen = site_get(site, "lmtp.listen", NULL);
	char *via = site_get(site, "mta.postfix_transport", NULL);
	GPtrArray *lists = list_all(site, error);
	GHashTable *domains = g_hash_table_new(g_str_hash, g_str_equal);
	char *nexthop;

	if (lists == NULL) {
		g_free(listen);
		g_free(via);
		g_hash_table_destroy(domains);
		return -1;
	}
	if (strcmp(via, "pipe") == 0) {
		/* The pipe(8) transport named "herald" (master.cf). */
		nexthop = g_strdup("herald:");
	} else if (*listen == '\0') {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "lmtp.listen is not set: `herald site set lmtp.listen "
			    "unix:%s/run/lmtp.sock` first (or set "
			    "mta.postfix_transport pipe)", site_var_dir(site));
		g_free(listen);
		g_free(via);
		g_ptr_array_free(lists, TRUE);
		g_hash_table_destroy(domains);
		return -1;
	} else {
		/* Postfix's lmtp client: lmtp:unix:/path or lmtp:inet:host:port. */
		nexthop = g_str_has_prefix(listen, "unix:")
			? g_strdup_printf("lmtp:%s", listen)
			: g_strdup_printf("lmtp:inet:%s", listen);
	}
	t->domains = g_string_new("# herald: the list domains (relay_domains)\n");
	t->recipients = g_string_new("# herald: every list address "
				     "(relay_recipient_maps)\n");
	t->transport = g_string_new("# herald: list addresses go to herald "
				    "(transport_maps)\n");
	for (guint i = 0; i < lists->len; i++) {
		const char *fqdn = lists->pdata[i];
		const char *at = strrchr(fqdn, '@');
		char *name = g_strndup(fqdn, (gsize)(at - fqdn));

		if (!g_hash_table_contains(domains, at + 1)) {
			g_hash_table_add(domains, (gpointer)(at + 1));
			g_string_append_printf(t->domains, "%s\therald\n", at + 1);
		}
		for (size_t k = 0; k < G_N_ELEMENTS(list_suffixes); k++) {
			g_string_append_printf(t->recipients, "%s%s%s\tOK\n", name,
					       list_suffixes[k], at);
			g_string_append_printf(t->transport, "%s%s%s\t%s\n", name,
					       list_suffixes[k], at, nexthop);
		}
		g_free(name);
	}
	g_hash_table_destroy(domains);
	g_ptr_array_free(lists, TRUE);
	g_free(nexthop);
	g_free(listen);
	g_free(via);
	return 0;
}

static void
free_tables(struct tables *t)
{
	g_string_free(t->domains, TRUE);
	g_string_free(t->recipients, TRUE);
	g_string_free(t->transport, TRUE);
}

/* Runs postmap on a table, with the configuration of the Postfix that
 * uses it (mta.postfix_config).  No Postfix there (no postmap, no main.cf)
 * is not an error: the admin may build the maps elsewhere; a postmap that
 * fails is. */
static int
postmap(struct site *site, const char *path, GError **error)
{
	const char *prog = "/usr/sbin/postmap";
	char *config = site_get(site, "mta.postfix_config", NULL);
	char *main_cf = g_build_filename(config, "main.cf", NULL);
	char *argv[] = { (char *)prog, (char *)"-c", config, (char *)path, NULL };
	GError *local = NULL;
	int status, ret = 0;

	if (!g_file_test(prog, G_FILE_TEST_IS_EXECUTABLE) ||
	    !g_file_test(main_cf, G_FILE_TEST_EXISTS)) {
		fprintf(stderr, "herald: %s written; postmap not run (no %s)\n",
			path, g_file_test(prog, G_FILE_TEST_EXISTS) ? main_cf : prog);
	} else if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
				 NULL, NULL, &status, &local) ||
		   !g_spawn_check_wait_status(status, &local)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "postmap -c %s %s: %s",
			    config, path, local->message);
		g_error_free(local);
		ret = -1;
	}
	g_free(main_cf);
	g_free(config);
	return ret;
}

static int
write_tables(struct site *site, struct tables *t, GError **error)
{
	const char *names[] = { "domains", "recipients", "transport" };
	GString *texts[] = { t->domains, t->recipients, t->transport };
	char *dir = site_path(site, "etc", "postfix", NULL);
	int ret = fs_mkdir_p(dir, 0770, error);

	for (size_t i = 0; ret == 0 && i < G_N_ELEMENTS(names); i++) {
		char *path = g_build_filename(dir, names[i], NULL);
		ret = fs_write_atomic(path, texts[i]->str, texts[i]->len, error);
		if (ret == 0)
			ret = postmap(site, path, error);
		g_free(path);
	}
	g_free(dir);
	return ret;
}

int
mtaconfig_refresh(struct site *site, GError **error)
{
	char *marker = site_path(site, "etc", "postfix", "transport", NULL);
	struct tables t;
	int ret = 0;

	/* Only when the admin installed the tables once. */
	if (g_file_test(marker, G_FILE_TEST_EXISTS) &&
	    (ret = build_tables(site, &t, error)) == 0) {
		ret = write_tables(site, &t, error);
		free_tables(&t);
	}
	g_free(marker);
	return ret;
}

/* This program's absolute path, for the master.cf line. */
static char *
program_path(void)
{
	char *path = g_file_read_link("/proc/self/exe", NULL);

	return path != NULL ? path : g_strdup("/usr/local/bin/herald");
}

static int
mtaconfig_postfix(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "Prints the Postfix lookup tables that send every list "
			   "address to herald\n(relay_domains, "
			   "relay_recipient_maps, transport_maps: to the LMTP "
			   "server of\nlmtp.listen, or with mta.postfix_transport "
			   "= pipe to `herald mta auto`),\nand the main.cf (and "
			   "master.cf) lines that use them.",
	};
	gboolean write = FALSE, pipe_mode;
	const GOptionEntry entries[] = {
		{ "write", 0, 0, G_OPTION_ARG_NONE, &write,
		  "install them in etc/postfix/ of the var dir (and run postmap); "
		  "`lists create/remove` then keep them current", NULL },
		G_OPTION_ENTRY_NULL
	};
	GError *error = NULL;
	struct site *site;
	struct tables t;
	char *via;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	via = site_get(site, "mta.postfix_transport", NULL);
	pipe_mode = strcmp(via, "pipe") == 0;
	g_free(via);
	if (build_tables(site, &t, &error) < 0)
		return cli_gerror(&error);
	if (write && write_tables(site, &t, &error) < 0) {
		free_tables(&t);
		return cli_gerror(&error);
	}
	if (!write)
		printf("%s\n%s\n%s\n", t.domains->str, t.recipients->str,
		       t.transport->str);
	printf("# main.cf of the Postfix that receives list mail:\n"
	       "#   relay_domains = hash:%1$s/etc/postfix/domains\n"
	       "#   relay_recipient_maps = hash:%1$s/etc/postfix/recipients\n"
	       "#   transport_maps = hash:%1$s/etc/postfix/transport\n"
	       "#   recipient_delimiter = +\n", site_var_dir(site));
	if (pipe_mode) {
		char *prog = program_path();
		char *dir = g_path_get_dirname(prog);
		char *mta = g_build_filename(dir, "herald-mta", NULL);
		/* herald-mta, beside this program: `herald mta` alone, which
		 * starts in half the time (src/mta/main.c). */
		gboolean alone = g_file_test(mta, G_FILE_TEST_IS_EXECUTABLE);

		printf("# master.cf (USER: the account herald's var dir belongs "
		       "to, not root):\n"
		       "#   herald unix - n n - - pipe flags= user=USER "
		       "argv=%2$s --var %1$s %3$sauto --sender ${sender} "
		       "--recipient ${recipient}\n"
		       "#   and in main.cf: herald_destination_recipient_limit = 1\n",
		       site_var_dir(site), alone ? mta : prog, alone ? "" : "mta ");
		g_free(mta);
		g_free(dir);
		g_free(prog);
	}
	printf("# %s\n", write
	       ? "tables written; `lists create/remove` keep them current"
	       : "herald mta-config postfix --write installs the tables");
	free_tables(&t);
	return CLI_OK;
}

int
cmd_mtaconfig(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "postfix", mtaconfig_postfix, "the tables of a Postfix that "
		  "receives list mail" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, "Prints or installs the "
			    "configuration an MTA needs to send list mail\nto "
			    "herald (for Exim: docs/exim.md).");
}
