/*
 * cmd_queue.c - `herald queue [show FILE | inject QUEUE | unshunt]`.
 */
#include "cli.h"
#include "base/base.h"
#include "store/queue.h"
#include "store/names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char queue_usage[] =
	"queue                     (count the entries of every queue)\n"
	"       herald queue show FILE          (metadata and message)\n"
	"       herald queue inject QUEUE [--list LIST] [--meta KEY=VALUE]... < message\n"
	"       herald queue unshunt            (resume shunted messages)";

static int
queue_counts(struct site *site)
{
	char *qdir = site_path(site, "queue", NULL);
	GPtrArray *names = fs_dir_names(qdir, NULL, NULL);
	int ret = CLI_OK;

	if (names == NULL)
		names = g_ptr_array_new_with_free_func(g_free);
	printf("%-10s %8s %8s\n", "queue", "ready", "claimed");
	for (guint i = 0; i < names->len; i++) {
		GError *error = NULL;
		struct queue *q = queue_open(site_var_dir(site), names->pdata[i],
					     &error);
		if (q == NULL) {
			g_clear_error(&error);
			continue;
		}
		int ready = queue_count(q, ".msg", &error);
		int claimed = queue_count(q, ".bak", &error);
		if (ready < 0 || claimed < 0)
			ret = cli_gerror(&error);
		else
			printf("%-10s %8d %8d\n", queue_name(q), ready, claimed);
		queue_close(&q);
	}
	g_ptr_array_free(names, TRUE);
	g_free(qdir);
	return ret;
}

static int
queue_show(const char *path)
{
	GError *error = NULL;
	struct queue_meta *meta;
	const char *msg;
	size_t len;
	char *buf;
	int r = fs_read_file(path, &buf, &len, &error);

	if (r == 0)
		return cli_error("%s: no such file", path);
	if (r < 0)
		return cli_gerror(&error);
	if (queue_parse(buf, len, &meta, &msg, &len, &error) < 0) {
		g_free(buf);
		g_prefix_error(&error, "%s: ", path);
		return cli_gerror(&error);
	}
	for (guint i = 0; i < queue_meta_count(meta); i++) {
		const char *k, *v;
		queue_meta_nth(meta, i, &k, &v);
		printf("%s: %s\n", k, v);
	}
	printf("size: %zu\n\n", len);
	fwrite(msg, 1, len, stdout);
	queue_meta_free(&meta);
	g_free(buf);
	return CLI_OK;
}

static int
queue_inject(struct site *site, int argc, char **argv)
{
	GError *error = NULL;
	struct queue_meta *meta = queue_meta_new();
	struct queue *q;
	GString *msg = g_string_new(NULL);
	char buf[65536], *base = NULL;
	size_t n;
	int ret = CLI_FAIL;

	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--list") == 0 && i + 1 < argc) {
			queue_meta_set(meta, META_LIST, argv[++i]);
		} else if (strcmp(argv[i], "--meta") == 0 && i + 1 < argc &&
			   strchr(argv[i + 1], '=') != NULL) {
			char **kv = g_strsplit(argv[++i], "=", 2);
			queue_meta_add(meta, kv[0], kv[1]);
			g_strfreev(kv);
		} else {
			queue_meta_free(&meta);
			g_string_free(msg, TRUE);
			return cli_usage(queue_usage);
		}
	}
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
		g_string_append_len(msg, buf, (gssize)n);
	if (ferror(stdin)) {
		cli_error("reading standard input: %s", g_strerror(errno));
		goto out;
	}
	q = queue_open(site_var_dir(site), argv[2], &error);
	if (q == NULL || queue_enqueue(q, meta, msg->str, msg->len, &base,
				       &error) < 0) {
		cli_gerror(&error);
		queue_close(&q);
		goto out;
	}
	printf("%s/%s.msg\n", argv[2], base);
	g_free(base);
	queue_close(&q);
	ret = CLI_OK;
out:
	queue_meta_free(&meta);
	g_string_free(msg, TRUE);
	return ret;
}

int
cmd_queue(struct cli *cli, int argc, char **argv)
{
	GError *error = NULL;
	struct site *site;

	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		printf("usage: herald %s\n", queue_usage);
		return CLI_OK;
	}
	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return queue_show(argv[2]);
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	if (argc == 1)
		return queue_counts(site);
	if (argc >= 3 && strcmp(argv[1], "inject") == 0)
		return queue_inject(site, argc, argv);
	if (argc == 2 && strcmp(argv[1], "unshunt") == 0) {
		int n = queue_unshunt(site_var_dir(site), &error);
		if (n < 0)
			return cli_gerror(&error);
		printf("%d message%s moved back to their queues\n", n,
		       n == 1 ? "" : "s");
		return CLI_OK;
	}
	return cli_usage(queue_usage);
}
