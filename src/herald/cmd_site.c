/*
 * cmd_site.c - `herald init` and `herald site get|set|show`.
 */
#include "cli.h"
#include "base.h"

#include <stdio.h>
#include <string.h>

int
cmd_init(struct cli *cli, int argc, char **argv)
{
	GError *error = NULL;

	if (argc != 1)
		return cli_usage("[--var DIR] init");
	if (cli->var_dir == NULL)
		return cli_error("no var dir: use --var DIR or set HERALD_VAR");
	if (site_init(cli->var_dir, &error) < 0)
		return cli_gerror(&error);
	printf("herald var dir ready at %s\n", cli->var_dir);
	return CLI_OK;
}

static int
site_show(struct site *site)
{
	for (const struct setting_def *d = site_settings(); d->key != NULL; d++) {
		if (strchr(d->key, '*') != NULL)
			continue;
		char *v = site_get(site, d->key, NULL);
		printf("%s = %s\n", d->key, v);
		g_free(v);
	}
	GPtrArray *queues = site_runner_queues(site);
	for (guint i = 0; i < queues->len; i++) {
		const char *names[] = { "slices", "handler", "next" };
		for (size_t j = 0; j < G_N_ELEMENTS(names); j++) {
			char *key = g_strdup_printf("runner.%s.%s",
						    (char *)queues->pdata[i],
						    names[j]);
			char *v = site_get(site, key, NULL);
			printf("%s = %s\n", key, v);
			g_free(v);
			g_free(key);
		}
	}
	g_ptr_array_free(queues, TRUE);
	return CLI_OK;
}

int
cmd_site(struct cli *cli, int argc, char **argv)
{
	static const char usage[] = "site get KEY | site set KEY VALUE | site show";
	GError *error = NULL;
	struct site *site;

	if (argc < 2)
		return cli_usage(usage);
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	if (strcmp(argv[1], "get") == 0 && argc == 3) {
		char *v = site_get(site, argv[2], &error);
		if (v == NULL)
			return cli_gerror(&error);
		printf("%s\n", v);
		g_free(v);
		return CLI_OK;
	}
	if (strcmp(argv[1], "set") == 0 && argc == 4) {
		if (site_set(site, argv[2], argv[3], &error) < 0)
			return cli_gerror(&error);
		return CLI_OK;
	}
	if (strcmp(argv[1], "show") == 0 && argc == 2)
		return site_show(site);
	return cli_usage(usage);
}
