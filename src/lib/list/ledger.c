/*
 * ledger.c - per-address records of a list, updated under the list lock.
 *
 * A ledger is sharded: lists/<list>/<file>.d/<bucket>, LEDGER_BUCKETS
 * files by a hash of the address key, so that an update rewrites a few
 * lines, not one line per sender of the day (with thousands of senders a
 * day the whole file was the command processor's main cost,
 * docs/PERFORMANCE.md).  The unsharded file an older herald wrote,
 * lists/<list>/<file>, is still read for an address its bucket does not
 * know yet, and never written.
 */
#include "list/ledger.h"
#include "base/base.h"
#include "store/lock.h"

#include <string.h>
#include <time.h>

#define LEDGER_BUCKETS 64

/* The value of ekey in the unsharded file of an older herald, or NULL. */
static char *
unsharded_value(struct list *l, const char *file, const char *ekey)
{
	char *path = g_build_filename(list_dir(l), file, NULL);
	char *data = NULL, *value = NULL;
	size_t len, klen = strlen(ekey);

	if (fs_read_file(path, &data, &len, NULL) > 0) {
		char **lines = g_strsplit(data, "\n", -1);

		for (guint i = 0; lines[i] != NULL && value == NULL; i++)
			if (strncmp(lines[i], ekey, klen) == 0 && lines[i][klen] == ' ')
				value = g_strdup(lines[i] + klen + 1);
		g_strfreev(lines);
	}
	g_free(data);
	g_free(path);
	return value;
}

int
ledger_update(struct list *l, const char *file, const char *key,
	      ledger_decide_fn decide, ledger_keep_fn keep, void *ctx,
	      GError **error)
{
	char *ekey = g_uri_escape_string(key, NULL, FALSE);
	char *dir = g_strdup_printf("%s/%s.d", list_dir(l), file);
	char *path = g_strdup_printf("%s/%02x", dir,
				     g_str_hash(ekey) % LEDGER_BUCKETS);
	struct lock *lk = NULL;
	GString *out = g_string_new(NULL);
	char *data = NULL, *old = NULL, *new_value = NULL;
	size_t len;
	int r, ret = -1;

	if (list_lock(l, 10000, &lk, error) < 0)
		goto out;
	if ((r = fs_read_file(path, &data, &len, error)) < 0)
		goto out;
	if (r == 0 && fs_mkdir_p(dir, 0770, error) < 0)
		goto out;
	if (r > 0) {
		char **lines = g_strsplit(data, "\n", -1);

		for (guint i = 0; lines[i] != NULL; i++) {
			char *sp = strchr(lines[i], ' ');

			if (sp == NULL)
				continue;
			*sp = '\0';
			if (strcmp(lines[i], ekey) == 0)
				old = g_strdup(sp + 1);
			else if (keep(sp + 1, ctx))
				g_string_append_printf(out, "%s %s\n", lines[i],
						       sp + 1);
		}
		g_strfreev(lines);
	}
	if (old == NULL)
		old = unsharded_value(l, file, ekey);
	ret = decide(old, &new_value, ctx);
	g_string_append_printf(out, "%s %s\n", ekey, new_value);
	if (fs_write_atomic(path, out->str, out->len, error) < 0)
		ret = -1;
	if (lock_release(lk, ret < 0 ? NULL : error) < 0)
		ret = -1;
out:
	lock_free(&lk);
	g_string_free(out, TRUE);
	g_free(data);
	g_free(old);
	g_free(new_value);
	g_free(ekey);
	g_free(dir);
	g_free(path);
	return ret;
}

/* --- the grace period of automatic responses ---------------------------- */

struct grace {
	int64_t now, days;
};

static int
grace_decide(const char *old, char **new_r, void *ctx)
{
	struct grace *g = ctx;
	int64_t last = old != NULL ? g_ascii_strtoll(old, NULL, 10) : 0;
	int answer = g->days == 0 || g->now - last >= g->days * 86400;

	*new_r = g_strdup_printf("%" G_GINT64_FORMAT, answer ? g->now : last);
	return answer;
}

static gboolean
grace_keep(const char *value, void *ctx)
{
	struct grace *g = ctx;

	return g->now - g_ascii_strtoll(value, NULL, 10) < g->days * 86400;
}

int
ledger_grace(struct list *l, const char *file, const char *key, int64_t days,
	     GError **error)
{
	struct grace g = { (int64_t)time(NULL), days };

	return ledger_update(l, file, key, grace_decide, grace_keep, &g, error);
}
