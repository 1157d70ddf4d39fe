/*
 * cmd_queue.c - `herald queue [show FILE | inject QUEUE | unshunt]`.
 *
 * show reads any path it is given, so it opens only a regular file (a FIFO
 * would hang it, /dev/zero would fill the memory) and no larger than a
 * queue entry can be; inject takes metadata keys from the command line,
 * so it checks them as the queue file format wants them (a bad key is a
 * usage error, not an assertion in queue.c).
 */
#include "cli.h"
#include "base/base.h"
#include "store/queue.h"
#include "store/names.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest queue file `queue show` reads: a message of the largest
 * entry.max_message_size (2 GiB) and its metadata. */
#define SHOW_MAX ((uint64_t)2147483647 + (64u << 20))

static int
queue_counts(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "Counts the entries of every queue: ready (.msg) and "
			   "claimed by a runner\n(.bak).",
	};
	struct site *site;
	char *qdir;
	GPtrArray *names;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	qdir = site_path(site, "queue", NULL);
	names = fs_dir_names(qdir, NULL, NULL);
	ret = CLI_OK;

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
too_large(const char *path, uint64_t max)
{
	return cli_error("%s is larger than %" G_GUINT64_FORMAT " bytes, the "
			 "most a queue file holds", path, max);
}

/* Reads path, which must be a regular file of at most max bytes, into
 * *buf_r (NUL-terminated).  Opened without blocking, so that a FIFO is
 * refused rather than waited on. */
static int
read_regular(const char *path, uint64_t max, char **buf_r, size_t *len_r)
{
	struct stat st;
	GString *buf;
	char chunk[65536];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0)
		return cli_error("open(%s): %s", path, g_strerror(errno));
	if (fstat(fd, &st) < 0) {
		close(fd);
		return cli_error("fstat(%s): %s", path, g_strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cli_error("%s is not a regular file (a queue file is)", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return too_large(path, max);
	}
	buf = g_string_sized_new((gsize)st.st_size + 1);
	/* Bounded by max, not by st_size: the file may grow meanwhile. */
	for (;;) {
		if ((n = read(fd, chunk, sizeof chunk)) == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("read(%s): %s", path, g_strerror(errno));
			break;
		}
		if ((uint64_t)buf->len + (uint64_t)n > max) {
			too_large(path, max);
			n = -1;
			break;
		}
		g_string_append_len(buf, chunk, n);
	}
	close(fd);
	if (n < 0) {
		g_string_free(buf, TRUE);
		return CLI_FAIL;
	}
	*len_r = buf->len;
	*buf_r = g_string_free(buf, FALSE);
	return CLI_OK;
}

static int
queue_show(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "FILE", .min_args = 1, .max_args = 1,
		.summary = "Prints the metadata and the message of queue file FILE "
			   "(no var dir needed).",
	};
	GError *error = NULL;
	struct queue_meta *meta;
	const char *msg, *path;
	size_t len;
	char *buf;
	int r;

	if ((r = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return r;
	path = argv[1];
	if ((r = read_regular(path, SHOW_MAX, &buf, &len)) != CLI_OK)
		return r;
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
queue_inject(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "QUEUE < message", .min_args = 1, .max_args = 1,
		.summary = "Stores the message on standard input in queue QUEUE "
			   "(in, out, ...) and\nprints its entry name.",
	};
	char *list = NULL, **pairs = NULL;
	const GOptionEntry entries[] = {
		{ "list", 0, 0, G_OPTION_ARG_STRING, &list,
		  "the list the message is for (metadata 'list')", "LIST" },
		{ "meta", 0, 0, G_OPTION_ARG_STRING_ARRAY, &pairs,
		  "one more metadata field (repeatable); KEY is letters, "
		  "digits, - and _", "KEY=VALUE" },
		G_OPTION_ENTRY_NULL
	};
	GError *error = NULL;
	struct queue_meta *meta;
	struct site *site;
	struct queue *q;
	GString *msg = NULL;
	char *base = NULL;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	for (char **kv = pairs; kv != NULL && *kv != NULL; kv++) {
		char *eq = strchr(*kv, '='), *key;
		gboolean ok;

		if (eq == NULL || eq == *kv)
			return cli_usage_error(cli, "--meta %s: not KEY=VALUE", *kv);
		key = g_strndup(*kv, (gsize)(eq - *kv));
		ok = queue_meta_key_valid(key);
		g_free(key);
		if (!ok)
			return cli_usage_error(cli, "--meta %s: a key is letters, "
					       "digits, - and _ (and not size)",
					       *kv);
	}
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	meta = queue_meta_new();
	if (list != NULL)
		queue_meta_set(meta, META_LIST, list);
	for (char **kv = pairs; kv != NULL && *kv != NULL; kv++) {
		char *eq = strchr(*kv, '=');
		*eq = '\0';
		queue_meta_add(meta, *kv, eq + 1);
	}
	ret = CLI_FAIL;
	if ((msg = cli_read_stdin()) == NULL)
		goto out;
	q = queue_open(site_var_dir(site), argv[1], &error);
	if (q == NULL || queue_enqueue(q, meta, msg->str, msg->len, &base,
				       &error) < 0) {
		cli_gerror(&error);
		queue_close(&q);
		goto out;
	}
	printf("%s/%s.msg\n", argv[1], base);
	g_free(base);
	queue_close(&q);
	ret = CLI_OK;
out:
	queue_meta_free(&meta);
	if (msg != NULL)
		g_string_free(msg, TRUE);
	return ret;
}

static int
queue_unshunt_verb(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "Moves every shunted message back to the queue it came "
			   "from, to resume\nwhere it stopped.",
	};
	GError *error = NULL;
	struct site *site;
	int n;

	if ((n = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return n;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	if ((n = queue_unshunt(site_var_dir(site), &error)) < 0)
		return cli_gerror(&error);
	printf("%d message%s moved back to their queues\n", n,
	       n == 1 ? "" : "s");
	return CLI_OK;
}

int
cmd_queue(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "", queue_counts, NULL },
		{ "show", queue_show, "print a queue file's metadata and message" },
		{ "inject", queue_inject, "store a message in a queue" },
		{ "unshunt", queue_unshunt_verb, "resume shunted messages" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, NULL);
}
