/*
 * archive.c - what the archive does: add one message, import an mbox,
 * rebuild, check, compress old periods.  Each takes the archive lock,
 * changes the store (store.c: the commit is the state file), then makes
 * the pages that change (render.c, index.c) and the search entry
 * (search.c), all of which can be made again from the store.
 *
 * After a crash between the commit and the pages, the next writer finds
 * the last message without its page (written last of all) and finishes
 * it; `archive check --repair` finds anything else.
 */
#include "archive/archive-private.h"
#include "base/base.h"
#include "base/log.h"
#include "mail/message.h"
#include "store/site.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

/* How many imported messages one commit holds. */
#define IMPORT_BATCH 2000
/* How many of the newest records a key is looked for in without a strike. */
#define RECENT_KEYS 4096
/* Processes that render an import or a rebuild, at most. */
#define RENDER_WORKERS 4

/* The whole mbox as a download, <tree>/<list>.mbox: a hard link to the
 * store's (which is only ever written in place, never replaced), in a
 * private tree only, since it holds the addresses obscure_addresses
 * hides (Pipermail's PUBLIC_MBOX is off by default too). */
static int
mbox_link(struct archive *a, gboolean private, GError **error)
{
	char *name = g_strdup_printf("%s.mbox", list_fqdn(a->list));
	char *link_path = html_path(a, name), *mbox = store_path(a, "mbox");
	struct stat st;
	int r = 0;

	if (!private) {
		if (fs_unlink(link_path) < 0 && errno != ENOENT) {
			set_errno_error(error, "unlink(%s)", link_path);
			r = -1;
		}
	} else if (fs_stat(link_path, &st) < 0 && fs_stat(mbox, &st) == 0 &&
		   link(mbox, link_path) < 0 && errno != EEXIST) {
		set_errno_error(error, "link(%s, %s)", mbox, link_path);
		r = -1;
	}
	g_free(name);
	g_free(link_path);
	g_free(mbox);
	return r;
}

struct archive *
archive_open(struct list *l, GError **error)
{
	struct archive *a = g_new0(struct archive, 1);
	const char *var = site_var_dir(list_site(l));
	gboolean private = list_get_int(l, "archive_private") == 1;
	char *cat;

	a->list = l;
	a->site = list_site(l);
	a->freq = (int)list_get_int(l, "archive_volume_frequency");
	a->obscure = list_get_bool(l, "obscure_addresses");
	a->store = g_build_filename(var, "archives", list_fqdn(l), NULL);
	a->html = g_build_filename(var, "archives", private ? "private" : "public",
				   list_fqdn(l), NULL);
	a->other_html = g_build_filename(var, "archives", private ? "public" : "private",
					 list_fqdn(l), NULL);
	a->locks = g_build_filename(var, "locks", NULL);
	cat = g_build_filename(a->store, "catalog", NULL);
	/* A list whose archive_private changed: its tree moves, whole. */
	if (access(a->html, F_OK) < 0 && access(a->other_html, F_OK) == 0) {
		char *parent = fs_dirname(a->html);

		if (fs_mkdir_p(parent, 0775, error) < 0 ||
		    (fs_rename_checked(a->other_html, a->html, 0) < 0 && errno != ENOENT)) {
			if (error != NULL && *error == NULL)
				set_errno_error(error, "rename(%s, %s)", a->other_html, a->html);
			g_free(parent);
			g_free(cat);
			archive_free(&a);
			return NULL;
		}
		g_free(parent);
	}
	if (fs_mkdir_p(cat, 0770, error) < 0 || fs_mkdir_p(a->html, 0775, error) < 0 ||
	    mbox_link(a, private, error) < 0)
		archive_free(&a);
	g_free(cat);
	return a;
}

void
archive_free(struct archive **ap)
{
	struct archive *a = *ap;

	if (a == NULL)
		return;
	search_close(a);
	lock_free(&a->lock);
	g_free(a->store);
	g_free(a->html);
	g_free(a->other_html);
	g_free(a->locks);
	g_free(a);
	*ap = NULL;
}

const char *
archive_html_dir(const struct archive *a)
{
	return a->html;
}

const char *
archive_store_dir(const struct archive *a)
{
	return a->store;
}

static char *
page_path(struct archive *a, const char *period, int64_t num)
{
	char *name = g_strdup_printf("%s/%06" G_GINT64_FORMAT ".html", period, num);
	char *path = html_path(a, name);

	g_free(name);
	return path;
}

/* The message's text at its offset in PERIOD.txt (the same bytes each
 * time, so writing it again is harmless). */
static int
txt_put(struct archive *a, const char *period, const struct entry *e,
	const char *slice, size_t len, GError **error)
{
	char *name = g_strdup_printf("%s.txt", period), *path = html_path(a, name);
	size_t tlen;
	char *txt = obscure_text(slice, len, &tlen);
	int fd = fs_open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0664), r = -1;

	if (fd < 0) {
		set_errno_error(error, "open(%s)", path);
		goto out;
	}
	for (size_t done = 0; done < tlen;) {
		ssize_t n = pwrite(fd, txt + done, tlen - done, e->txtoff + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_errno_error(error, "pwrite(%s)", path);
			goto out;
		}
		done += (size_t)n;
	}
	r = 0;
out:
	if (fd >= 0 && close(fd) < 0 && r == 0) {
		set_errno_error(error, "close(%s)", path);
		r = -1;
	}
	g_free(txt);
	g_free(name);
	g_free(path);
	return r;
}

/* Makes entry idx of the period's catalog: writes its text, puts its
 * search entry (when index_it), and renders its page into *page_r, to be
 * written at *path_r. */
static int
page_make(struct archive *a, const struct state *s, const struct period *p,
	  GPtrArray *cat, guint idx, gboolean index_it, GString **page_r,
	  char **path_r, GError **error)
{
	const struct entry *e = cat->pdata[idx];
	const struct entry *prev = idx > 0 ? cat->pdata[idx - 1] : NULL;
	const struct entry *next = idx + 1 < cat->len ? cat->pdata[idx + 1] : NULL;
	char *slice = NULL, *msg = NULL, *text = NULL;
	size_t len, mlen;
	int r;

	*page_r = NULL;
	if ((r = store_slice(a, s, e->num, &slice, &len, NULL, error)) <= 0) {
		if (r == 0)
			g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
				    "message %" G_GINT64_FORMAT " is not in the store", e->num);
		return -1;
	}
	r = -1;
	if (txt_put(a, p->name, e, slice, len, error) < 0)
		goto out;
	const char *nl = memchr(slice, '\n', len);
	size_t skip = nl != NULL ? (size_t)(nl - slice) + 1 : len;

	msg = mbox_unquote(slice + skip, len - skip > 0 ? len - skip - 1 : 0, &mlen);
	if (render_message(a, p->name, e, prev, next, msg, mlen, page_r,
			   index_it ? &text : NULL, error) < 0)
		goto out;
	if (index_it && search_put(a, e, p->name, text, error) < 0)
		goto out;
	*path_r = page_path(a, p->name, e->num);
	r = 0;
out:
	if (r < 0 && *page_r != NULL) {
		g_string_free(*page_r, TRUE);
		*page_r = NULL;
	}
	g_free(text);
	g_free(msg);
	g_free(slice);
	return r;
}

static int
page_write(const char *path, GString *page, GError **error)
{
	char *dir = fs_dirname(path);
	int r = fs_mkdir_p(dir, 0775, error) < 0 ? -1 : render_write(path, page, FALSE, error);

	g_free(dir);
	return r;
}

/* Renders entry idx of the period's catalog: its text, its search entry
 * (when index_it), then its page. */
static int
page_put(struct archive *a, const struct state *s, const struct period *p,
	 GPtrArray *cat, guint idx, gboolean index_it, GError **error)
{
	GString *page;
	char *path = NULL;
	int r = page_make(a, s, p, cat, idx, index_it, &page, &path, error);

	if (r == 0)
		r = page_write(path, page, error);
	if (page != NULL)
		g_string_free(page, TRUE);
	g_free(path);
	return r;
}

/* A page made, waiting to be written. */
struct made_page {
	int64_t num;
	char *path;
	GString *page;
};

static int
by_made_number(gconstpointer x, gconstpointer y)
{
	const struct made_page *m = *(struct made_page *const *)x;
	const struct made_page *n = *(struct made_page *const *)y;

	return m->num < n->num ? -1 : m->num > n->num;
}

static void
made_page_free(gpointer p)
{
	struct made_page *m = p;

	g_free(m->path);
	if (m->page != NULL)
		g_string_free(m->page, TRUE);
	g_free(m);
}

/* The periods holding messages from..s->next-1, oldest message's first
 * (each name once). */
static GPtrArray *
periods_from(struct archive *a, const struct state *s, int64_t from,
	     GError **error)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	char period[64];

	for (int64_t num = from; num < s->next; num++) {
		gboolean known = FALSE;

		if (store_period_of(a, s, num, period, error) <= 0) {
			if (error != NULL && *error == NULL)
				g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
					    "message %" G_GINT64_FORMAT " is not in "
					    "the store", num);
			g_ptr_array_unref(names);
			return NULL;
		}
		for (guint i = 0; i < names->len && !known; i++)
			known = strcmp(names->pdata[i], period) == 0;
		if (!known)
			g_ptr_array_add(names, g_strdup(period));
	}
	return names;
}

/* The pages that messages from..s->next-1 (the last addition, or what a
 * crash left without its pages) change, made in an order that a crash
 * anywhere leaves for recover() to finish:
 *   1. each message's text, its search entry, its page made in memory;
 *      the search entries committed together;
 *   2. the page of the message before the first in each period (its
 *      next link);
 *   3. the indexes of those periods, and the list's index;
 *   4. the messages' pages, in number order.
 * So a message without its page has every message after it without one,
 * and everything but the pages done when the first of them is written. */
static int
finish_from(struct archive *a, const struct state *s, int64_t from,
	    GError **error)
{
	GPtrArray *names = periods_from(a, s, from, error);
	GPtrArray *cats = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
	GPtrArray *made = g_ptr_array_new_with_free_func(made_page_free);
	GPtrArray *periods = g_ptr_array_new();
	gboolean in_txn = FALSE;
	int r = -1;

	if (names == NULL)
		goto out;
	for (guint i = 0; i < names->len; i++) {
		struct period *p = state_period((struct state *)s, names->pdata[i], FALSE);
		GPtrArray *cat = p != NULL ? store_catalog(a, p, error) : NULL;

		if (cat == NULL) {
			if (p == NULL)
				g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
					    "period %s is not in the state",
					    (char *)names->pdata[i]);
			goto out;
		}
		g_ptr_array_add(periods, p);
		g_ptr_array_add(cats, cat);
	}
	if (search_begin(a, error) < 0)
		goto out;
	in_txn = TRUE;
	for (guint i = 0; i < periods->len; i++) {
		GPtrArray *cat = cats->pdata[i];

		for (guint k = 0; k < cat->len; k++) {
			struct made_page *m;

			if (((struct entry *)cat->pdata[k])->num < from)
				continue;
			m = g_new0(struct made_page, 1);
			m->num = ((struct entry *)cat->pdata[k])->num;
			g_ptr_array_add(made, m);
			if (page_make(a, s, periods->pdata[i], cat, k, TRUE,
				      &m->page, &m->path, error) < 0)
				goto out;
		}
	}
	in_txn = FALSE;
	if (search_commit(a, error) < 0)
		goto out;
	for (guint i = 0; i < periods->len; i++) {
		GPtrArray *cat = cats->pdata[i];

		for (guint k = 0; k + 1 < cat->len; k++)
			if (((struct entry *)cat->pdata[k])->num < from &&
			    ((struct entry *)cat->pdata[k + 1])->num >= from &&
			    page_put(a, s, periods->pdata[i], cat, k, FALSE, error) < 0)
				goto out;
	}
	for (guint i = 0; i < periods->len; i++)
		if (index_period(a, periods->pdata[i], cats->pdata[i], error) < 0)
			goto out;
	if (index_list(a, s, error) < 0)
		goto out;
	/* In number order: the periods' pages were made period by period. */
	g_ptr_array_sort(made, by_made_number);
	for (guint i = 0; i < made->len; i++) {
		struct made_page *m = made->pdata[i];

		if (page_write(m->path, m->page, error) < 0)
			goto out;
	}
	r = 0;
out:
	if (in_txn)
		search_rollback(a);
	if (names != NULL)
		g_ptr_array_unref(names);
	g_ptr_array_unref(cats);
	g_ptr_array_unref(made);
	g_ptr_array_free(periods, TRUE);
	return r;
}
/* How far back recover() looks for messages without their pages. */
#define RECOVER_MAX 1024

/* A writer that died after its commit left the last messages without
 * their pages (finish_from's order: those without one are the newest):
 * finish them. */
static int
recover(struct archive *a, const struct state *s, GError **error)
{
	int64_t from = s->next;
	char period[64];
	int r;

	while (from > 0 && s->next - from < RECOVER_MAX) {
		char *path;
		gboolean there;

		if ((r = store_period_of(a, s, from - 1, period, error)) < 0)
			return -1;
		if (r == 0)
			break;
		path = page_path(a, period, from - 1);
		there = access(path, F_OK) == 0;
		g_free(path);
		if (there)
			break;
		from--;
	}
	if (from == s->next)
		return 0;
	log_info("archive", "list %s: finishing the pages of messages %"
		 G_GINT64_FORMAT " to %" G_GINT64_FORMAT ", left by a writer "
		 "that stopped", list_fqdn(a->list), from, s->next - 1);
	return finish_from(a, s, from, error);
}

int
archive_add_batch(struct archive *a, struct archive_post *posts, guint n,
		  GError **error)
{
	struct state s = { 0 };
	struct appender *ap = NULL;
	GMimeMessage **m = g_new0(GMimeMessage *, n ? n : 1);
	int64_t first;
	int ret = -1, added = 0;

	for (guint i = 0; i < n; i++) {
		posts[i].number = -1;
		if ((m[i] = message_parse_stored(posts[i].msg, posts[i].len, error)) == NULL)
			goto out;
	}
	if (store_lock(a, error) < 0)
		goto out;
	if (store_state_read(a, &s, error) < 0 || recover(a, &s, error) < 0)
		goto out;
	first = s.next;
	for (guint i = 0; i < n; i++) {
		struct archive_post *pp = &posts[i];
		int64_t received = pp->received;

		if (pp->key != NULL) {
			/* An entry handled just before a crash comes back
			 * without a strike when it was not the one being
			 * worked on: the recent records are always looked at,
			 * all of them after a strike. */
			int64_t num = store_find_key(a, &s, pp->key, pp->check_key
						     ? -1 : RECENT_KEYS, error);

			if (num < -1)
				goto out;
			if (num >= 0) {	/* archived before a crash: once is enough */
				pp->number = num;
				continue;
			}
		}
		struct entry *e = g_new0(struct entry, 1);
		char *period, *from;
		int r;

		meta_extract(m[i], received, received, e);
		period = meta_period(a->freq, e->date);
		from = mbox_from_line(e->addr, received > 0 ? received : e->date);
		if (ap == NULL)
			ap = appender_new(a, error);
		r = ap == NULL ? -1 : appender_add(ap, &s, pp->msg, pp->len, pp->key,
						   e, period, from, error);
		pp->number = e->num;
		entry_free(e);
		g_free(period);
		g_free(from);
		if (r < 0)
			goto out;
		added++;
	}
	if (added > 0 && (lock_refresh(a->lock, error) < 0 ||
			  appender_commit(ap, &s, error) < 0 ||
			  finish_from(a, &s, first, error) < 0))
		goto out;
	ret = added;
out:
	appender_free(&ap);
	store_unlock(a);
	state_clear(&s);
	for (guint i = 0; i < n; i++)
		if (m[i] != NULL)
			g_object_unref(m[i]);
	g_free(m);
	return ret;
}

int
archive_add(struct archive *a, const char *msg, size_t len, const char *key,
	    gboolean check_key, int64_t received, int64_t *number_r,
	    GError **error)
{
	struct archive_post post = {
		.msg = msg, .len = len, .key = key, .check_key = check_key,
		.received = received,
	};
	int r = archive_add_batch(a, &post, 1, error);

	if (r >= 0 && number_r != NULL)
		*number_r = post.number;
	return r;
}

int64_t
archive_count(struct archive *a, GError **error)
{
	struct state s;
	int64_t n;

	if (store_state_read(a, &s, error) < 0) {
		state_clear(&s);
		return -1;
	}
	n = s.next;
	state_clear(&s);
	return n;
}

/* --- rendering many ---------------------------------------------------- */

/* Renders the pages of period p from message number from on (and the one
 * before it, whose next link changes), and the period's indexes. */
static int
render_period(struct archive *a, const struct state *s, const struct period *p,
	      int64_t from, GError **error)
{
	GPtrArray *cat = store_catalog(a, p, error);
	int r = -1;

	if (cat == NULL)
		return -1;
	for (guint i = 0; i < cat->len; i++) {
		const struct entry *e = cat->pdata[i];
		gboolean last_old = i + 1 < cat->len &&
			((struct entry *)cat->pdata[i + 1])->num >= from && e->num < from;

		if ((e->num >= from || last_old) &&
		    page_put(a, s, p, cat, i, e->num >= from, error) < 0)
			goto out;
	}
	r = index_period(a, p, cat, error);
out:
	g_ptr_array_free(cat, TRUE);
	return r;
}

/* Renders, in this process, the periods of list todo whose index in it
 * is worker modulo workers. */
static int
render_share(struct archive *a, const struct state *s, GPtrArray *todo,
	     int64_t from, guint worker, guint workers, GError **error)
{
	if (search_begin(a, error) < 0)
		return -1;
	for (guint i = worker; i < todo->len; i += workers) {
		if (render_period(a, s, todo->pdata[i], from, error) < 0)
			return -1;
		/* The lock must outlive a long render (the parent only: it
		 * is the holder; workers are waited for below). */
		if (worker == 0 && a->lock != NULL && lock_refresh(a->lock, error) < 0)
			return -1;
	}
	return search_commit(a, error);
}

static int
by_count(const void *x, const void *y)
{
	const struct period *p = *(struct period *const *)x, *q = *(struct period *const *)y;

	return p->count > q->count ? -1 : p->count < q->count;
}

/* Waits for the workers, keeping the lock alive; -1 if any failed. */
static int
wait_workers(struct archive *a, GArray *pids, GError **error)
{
	int failed = 0;

	for (guint left = pids->len; left > 0;) {
		for (guint i = 0; i < pids->len; i++) {
			pid_t *pid = &g_array_index(pids, pid_t, i);
			int status;

			if (*pid <= 0 || waitpid(*pid, &status, WNOHANG) == 0)
				continue;
			failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
			*pid = 0;
			left--;
		}
		if (left > 0) {
			g_usleep(50000);
			if (a->lock != NULL && lock_refresh(a->lock, error) < 0)
				return -1;
		}
	}
	if (failed)
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "a rendering worker failed (see its log)");
	return failed ? -1 : 0;
}

/* Renders everything from message number from on, in the periods named
 * (NULL: all).  Periods are shared among up to RENDER_WORKERS processes
 * (the machine's cores): pages of different periods have nothing in
 * common.  Each worker keeps its search rows in a part database of its
 * own, merged into the index when all are done, so that SQLite has one
 * writer at a time. */
static int
render_from(struct archive *a, const struct state *s, int64_t from,
	    GHashTable *periods, GError **error)
{
	GPtrArray *todo = g_ptr_array_new();
	GArray *pids = g_array_new(FALSE, TRUE, sizeof(pid_t));
	guint workers;
	int r = -1;

	for (guint i = 0; i < s->periods->len; i++) {
		struct period *p = s->periods->pdata[i];

		if (periods == NULL || g_hash_table_contains(periods, p->name))
			g_ptr_array_add(todo, p);
	}
	g_ptr_array_sort(todo, by_count);
	workers = MIN(MIN(g_get_num_processors(), RENDER_WORKERS), MAX(todo->len, 1));
	for (guint w = 1; w < workers; w++) {
		pid_t parent = getpid(), pid = fork();

		if (pid < 0) {
			set_errno_error(error, "fork");
			goto out;
		}
		if (pid == 0) {
			GError *local = NULL;

			/* A worker dies with the process that forked it: one
			 * left rendering after its parent was killed would
			 * write on into a tree that the next run (an import's
			 * rerun: its staging dir) removes or builds anew. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			/* The parent's handle is the parent's: not closed here. */
			a->search = NULL;
			a->search_part = (int)w;
			if (render_share(a, s, todo, from, w, workers, &local) < 0) {
				log_error("archive", "%s: rendering worker %u: %s",
					  list_fqdn(a->list), w, local->message);
				_exit(1);
			}
			search_close(a);
			_exit(0);
		}
		g_array_append_val(pids, pid);
	}
	if (render_share(a, s, todo, from, 0, workers, error) < 0) {
		(void)wait_workers(a, pids, NULL);
		goto out;
	}
	if (wait_workers(a, pids, error) < 0)
		goto out;
	for (guint w = 1; w < workers; w++)
		if (search_merge_part(a, (int)w, error) < 0)
			goto out;
	r = index_list(a, s, error);
out:
	g_array_free(pids, TRUE);
	g_ptr_array_free(todo, TRUE);
	return r;
}

int
archive_rebuild(struct archive *a, GError **error)
{
	struct state s = { 0 };
	int ret = -1;

	if (store_lock(a, error) < 0)
		return -1;
	if (store_state_read(a, &s, error) >= 0 && search_clear(a, error) == 0 &&
	    render_from(a, &s, 0, NULL, error) == 0)
		ret = 0;
	store_unlock(a);
	state_clear(&s);
	return ret;
}

/* --- import ------------------------------------------------------------ */

/* Whether line is an mbox separator: "From " then a sender and a date
 * with a time of day (Mailman's cleanarch asks as much), so a body line
 * "From here on..." that nobody quoted does not split a message. */
static gboolean
is_separator(const char *line, size_t len)
{
	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return FALSE;
	for (size_t i = 5; i + 5 <= len; i++)
		if (g_ascii_isdigit(line[i]) && g_ascii_isdigit(line[i + 1]) &&
		    line[i + 2] == ':' && g_ascii_isdigit(line[i + 3]) &&
		    g_ascii_isdigit(line[i + 4]))
			return TRUE;
	return FALSE;
}

/* The date of a From_ line ("From sender Sun Dec  6 22:36:52 2026"). */
static int64_t
separator_date(const char *line)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char m[4];
	int d, h, mi, sec, y;
	const char *p = strchr(line + 5, ' ');

	for (; p != NULL && *p != '\0'; p = strchr(p + 1, ' ')) {
		if (sscanf(p, " %*3s %3s %d %d:%d:%d %d", m, &d, &h, &mi, &sec, &y) == 6)
			for (int i = 0; i < 12; i++)
				if (strcmp(m, mon[i]) == 0) {
					struct tm tm = { .tm_year = y - 1900, .tm_mon = i,
							 .tm_mday = d, .tm_hour = h,
							 .tm_min = mi, .tm_sec = sec };

					return (int64_t)timegm(&tm);
				}
	}
	return -1;
}

struct importer {
	struct archive *a;
	struct state *s;
	struct appender *ap;
	GHashTable *periods;	/* touched */
	struct archive_import_stats *st;
	int64_t last_date;
	uint64_t since_commit;
};

static int
import_one(struct importer *im, const char *from_line, GString *msg,
	   GError **error)
{
	GMimeMessage *m;
	struct entry *e;
	int64_t fallback = separator_date(from_line);
	char *period;
	int r;

	/* Trailing blank line: the mbox's, not the message's. */
	if (msg->len > 0 && msg->str[msg->len - 1] == '\n')
		g_string_truncate(msg, msg->len - 1);
	/* The catalog needs the header only: the body is parsed once, when
	 * the page is made. */
	if ((m = message_parse(msg->str, message_header_length(msg->str, msg->len),
			       NULL)) == NULL) {
		im->st->skipped++;
		return 0;
	}
	e = g_new0(struct entry, 1);
	meta_extract(m, 0, fallback >= 0 ? fallback : im->last_date, e);
	g_object_unref(m);
	im->last_date = e->date;
	period = meta_period(im->a->freq, e->date);
	r = appender_add(im->ap, im->s, msg->str, msg->len, NULL, e, period,
			 from_line, error);
	if (r == 0) {
		g_hash_table_add(im->periods, period);
		im->st->messages++;
	} else {
		g_free(period);
	}
	entry_free(e);
	if (r == 0 && ++im->since_commit >= IMPORT_BATCH) {
		im->since_commit = 0;
		if (lock_refresh(im->a->lock, error) < 0 ||
		    appender_commit(im->ap, im->s, error) < 0)
			r = -1;
	}
	return r;
}

/* Reads the mbox line by line: CR LF becomes LF, ">From " loses one '>'
 * (mboxrd), and each message goes to import_one. */
static int
import_stream(struct importer *im, FILE *f, uint64_t total,
	      archive_progress_fn progress, void *ctx, GError **error)
{
	GString *msg = g_string_new(NULL);
	char *line = NULL, *from = NULL;
	size_t cap = 0;
	ssize_t n;
	gboolean blank = TRUE;
	int r = 0;

	while (r == 0 && (n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n;

		im->st->bytes += len;
		if (len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n')
			line[len - 2] = '\n', len--;
		if (blank && is_separator(line, len)) {
			if (from != NULL)
				r = import_one(im, from, msg, error);
			g_free(from);
			from = g_strndup(line, len);
			g_strchomp(from);
			for (char *p = from; *p != '\0'; p++)
				if ((guchar)*p < 0x20)
					*p = ' ';
			g_string_truncate(msg, 0);
			blank = FALSE;
			if (progress != NULL && im->st->messages % 500 == 0)
				progress(im->st->bytes, total, ctx);
			continue;
		}
		blank = len == 1 && line[0] == '\n';
		if (from == NULL)
			continue;	/* no message yet: junk before the first */
		if (line[0] == '>' && len > 1 && (line[1] == '>' || line[1] == 'F')) {
			size_t k = 0;

			while (k < len && line[k] == '>')
				k++;
			if (len - k >= 5 && memcmp(line + k, "From ", 5) == 0) {
				g_string_append_len(msg, line + 1, len - 1);
				continue;
			}
		}
		g_string_append_len(msg, line, len);
	}
	if (r == 0 && ferror(f)) {
		set_errno_error(error, "read of the mbox");
		r = -1;
	}
	if (r == 0 && from != NULL)
		r = import_one(im, from, msg, error);
	if (progress != NULL)
		progress(im->st->bytes, total, ctx);
	g_free(from);
	free(line);
	g_string_free(msg, TRUE);
	return r;
}

int
archive_import(struct archive *a, const char *path,
	       archive_progress_fn progress, void *progress_ctx,
	       struct archive_import_stats *stats, GError **error)
{
	struct state s = { 0 };
	struct archive_import_stats dummy = { 0 };
	struct importer im = { .a = a, .s = &s, .st = stats != NULL ? stats : &dummy };
	struct stat st;
	FILE *f = fopen(path, "re");
	int64_t from;
	int ret = -1;

	if (f == NULL) {
		set_errno_error(error, "open(%s)", path);
		return -1;
	}
	im.periods = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (store_lock(a, error) < 0)
		goto out;
	if (store_state_read(a, &s, error) < 0 || recover(a, &s, error) < 0 ||
	    (im.ap = appender_new(a, error)) == NULL)
		goto out;
	from = s.next;
	if (import_stream(&im, f, fstat(fileno(f), &st) == 0 ? (uint64_t)st.st_size : 0,
			  progress, progress_ctx, error) < 0 ||
	    lock_refresh(a->lock, error) < 0 || appender_commit(im.ap, &s, error) < 0)
		goto out;
	if (render_from(a, &s, from, im.periods, error) < 0)
		goto out;
	ret = 0;
out:
	appender_free(&im.ap);
	store_unlock(a);
	state_clear(&s);
	g_hash_table_destroy(im.periods);
	fclose(f);
	return ret;
}

/* --- check ------------------------------------------------------------- */

/* The data-count of an index page, -1 when it has none. */
static int64_t
page_count(const char *path)
{
	char *data = NULL, *p;
	size_t len;
	int64_t n = -1;

	if (fs_read_file(path, &data, &len, NULL) > 0 &&
	    (p = strstr(data, "data-count=\"")) != NULL)
		n = g_ascii_strtoll(p + 12, NULL, 10);
	g_free(data);
	return n;
}

/* PERIOD.txt must be as long as the state says; repair writes each
 * message's text at its offset again. */
static int
check_text(struct archive *a, const struct state *s, const struct period *p,
	   GPtrArray *cat, gboolean repair, GString *report, GError **error)
{
	char *name = g_strdup_printf("%s.txt", p->name), *path = html_path(a, name);
	struct stat st;
	int found = 0;

	if (fs_stat(path, &st) < 0 || st.st_size < p->txtlen) {
		g_string_append_printf(report, "%s: shorter than its %" G_GINT64_FORMAT
				       " bytes\n", name, p->txtlen);
		found = 1;
		for (guint i = 0; repair && i < cat->len; i++) {
			const struct entry *e = cat->pdata[i];
			char *slice;
			size_t len;
			int r = store_slice(a, s, e->num, &slice, &len, NULL, error);

			if (r > 0) {
				r = txt_put(a, p->name, e, slice, len, error);
				g_free(slice);
			}
			if (r < 0) {
				found = -1;
				break;
			}
		}
	}
	g_free(name);
	g_free(path);
	return found;
}

static int
check_period(struct archive *a, const struct state *s, const struct period *p,
	     gboolean repair, GString *report, GError **error)
{
	GPtrArray *cat = store_catalog(a, p, error);
	char *name, *path;
	int found = 0, r;

	if (cat == NULL)
		return -1;
	if ((int64_t)cat->len != p->count) {
		g_string_append_printf(report, "%s: the catalog has %u messages, the "
				       "state %" G_GINT64_FORMAT " (not repairable)\n",
				       p->name, cat->len, p->count);
		found++;
	}
	for (guint i = 0; i < cat->len; i++) {
		const struct entry *e = cat->pdata[i];

		path = page_path(a, p->name, e->num);
		if (access(path, F_OK) < 0) {
			g_string_append_printf(report, "%s/%06" G_GINT64_FORMAT
					       ".html: missing\n", p->name, e->num);
			found++;
			if (repair && page_put(a, s, p, cat, i, TRUE, error) < 0) {
				g_free(path);
				found = -1;
				goto out;
			}
		}
		g_free(path);
	}
	if ((r = check_text(a, s, p, cat, repair, report, error)) < 0) {
		found = -1;
		goto out;
	}
	found += r;
	name = g_strdup_printf("%s/thread.html", p->name);
	path = html_path(a, name);
	if (page_count(path) != (int64_t)cat->len) {
		g_string_append_printf(report, "%s: the indexes do not list %u "
				       "messages\n", p->name, cat->len);
		found++;
		if (repair && index_period(a, p, cat, error) < 0)
			found = -1;
	}
	g_free(name);
	g_free(path);
out:
	g_ptr_array_free(cat, TRUE);
	return found;
}

int
archive_check(struct archive *a, gboolean repair, GString *report,
	      GError **error)
{
	struct state s = { 0 };
	struct stat st;
	char *path = NULL;
	int found = 0, r;
	int64_t n;

	if (store_lock(a, error) < 0)
		return -1;
	if (store_state_read(a, &s, error) < 0)
		goto fail;
	path = store_path(a, "mbox");
	if (s.next > 0 && (fs_stat(path, &st) < 0 || st.st_size < s.mboxlen)) {
		g_string_append_printf(report, "mbox: shorter than the %" G_GINT64_FORMAT
				       " bytes committed (not repairable)\n", s.mboxlen);
		found++;
	}
	for (guint i = 0; i < s.periods->len; i++) {
		if ((r = check_period(a, &s, s.periods->pdata[i], repair, report, error)) < 0)
			goto fail;
		found += r;
	}
	g_free(path);
	path = html_path(a, "index.html");
	if (page_count(path) != s.next) {
		g_string_append(report, "index.html: does not count every message\n");
		found++;
		if (repair && index_list(a, &s, error) < 0)
			goto fail;
	}
	if ((n = search_count(a, error)) < 0)
		goto fail;
	if (n != s.next) {
		g_string_append_printf(report, "search index: %" G_GINT64_FORMAT " messages "
				       "of %" G_GINT64_FORMAT "\n", n, s.next);
		found++;
		if (repair && (search_clear(a, error) < 0 ||
			       render_from(a, &s, 0, NULL, error) < 0))
			goto fail;
	}
	goto out;
fail:
	found = -1;
out:
	g_free(path);
	store_unlock(a);
	state_clear(&s);
	return found;
}

/* --- compression of old periods ---------------------------------------- */

static int
gzip_file(const char *src, const char *dst, GError **error)
{
	char *data = NULL;
	size_t len;
	z_stream z = { 0 };
	GByteArray *out = g_byte_array_new();
	unsigned char buf[65536];
	int r = -1, zr;

	if (fs_read_file(src, &data, &len, error) <= 0)
		goto out;
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "deflateInit2 failed");
		goto out;
	}
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)len;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		zr = deflate(&z, Z_FINISH);
		g_byte_array_append(out, buf, sizeof(buf) - z.avail_out);
	} while (zr == Z_OK);
	deflateEnd(&z);
	if (zr != Z_STREAM_END) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "deflate of %s failed", src);
		goto out;
	}
	r = fs_write_atomic(dst, (char *)out->data, out->len, error);
out:
	g_byte_array_unref(out);
	g_free(data);
	return r;
}

int
archive_gzip_old(struct archive *a, int64_t now, int *count_r, GError **error)
{
	struct state s = { 0 };
	int ret = 0;

	*count_r = 0;
	if (store_lock(a, error) < 0)
		return -1;
	if (store_state_read(a, &s, error) < 0)
		ret = -1;
	for (guint i = 0; ret == 0 && i < s.periods->len; i++) {
		const struct period *p = s.periods->pdata[i];
		char *txt = g_strdup_printf("%s/%s.txt", a->html, p->name);
		char *gz = g_strdup_printf("%s.gz", txt);
		struct stat st_txt, st_gz;

		/* A period is old once it has ended; a late message (an old
		 * Date) changes its text, and then it is compressed again. */
		if (meta_period_end(a->freq, p->last) <= now &&
		    fs_stat(txt, &st_txt) == 0 &&
		    (fs_stat(gz, &st_gz) < 0 || st_gz.st_mtime < st_txt.st_mtime)) {
			if (gzip_file(txt, gz, error) < 0)
				ret = -1;
			else
				(*count_r)++;
		}
		g_free(txt);
		g_free(gz);
	}
	if (ret == 0 && *count_r > 0)
		ret = index_list(a, &s, error);
	store_unlock(a);
	state_clear(&s);
	return ret;
}
