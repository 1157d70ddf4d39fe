/*
 * index.c - the indexes: a period's thread.html, date.html, subject.html
 * and author.html (Pipermail's names; its index.html is a link to
 * thread.html), and the list's index.html of periods.
 *
 * Each is made whole from the period's catalog and replaced by rename, so
 * an addition rewrites its own period's four and the list's one, nothing
 * else.  Thread depth is shown by nested lists: no script is needed.
 * Each index carries its message count in data-count, which `archive
 * check` compares with the store.
 */
#include "archive/archive-private.h"
#include "base/base.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const sorts[] = { "thread", "date", "subject", "author" };

static void
day(char *buf, size_t len, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%a %b %e %H:%M:%S UTC %Y", &tm);
}

static void
index_top(struct archive *a, GString *out, const struct period *p,
	  const char *sort, guint count)
{
	char title[128], first[64], last[64];

	snprintf(title, sizeof(title), "%s archives by %s", p->name, sort);
	render_head(out, title, list_fqdn(a->list));
	g_string_append(out, "<h1>");
	html_escape(out, title, strlen(title));
	g_string_append_printf(out, "</h1>\n<p data-count=\"%u\">", count);
	g_string_append(out, "Messages sorted by:");
	for (size_t i = 0; i < G_N_ELEMENTS(sorts); i++)
		g_string_append_printf(out, " [ <a href=\"%s.html\">%s</a> ]",
				       sorts[i], sorts[i]);
	day(first, sizeof(first), p->first);
	day(last, sizeof(last), p->last);
	g_string_append_printf(out, " [ <a href=\"../index.html\">all periods</a> ]"
			       "</p>\n<p>Starting: <i>%s</i><br>\nEnding: <i>%s</i>"
			       "<br>\nMessages: %u</p>\n", first, last, count);
}

static void
item(struct archive *a, GString *out, const struct entry *e)
{
	char *who = render_author(a, e);

	g_string_append_printf(out, "<li id=\"%" G_GINT64_FORMAT "\"><a href=\"%06"
			       G_GINT64_FORMAT ".html\">", e->num, e->num);
	html_escape(out, e->subject, strlen(e->subject));
	g_string_append(out, "</a> <i>");
	html_escape(out, who, strlen(who));
	g_string_append(out, "</i>");
	g_free(who);
}

static int
by_date(const void *x, const void *y)
{
	const struct entry *a = *(struct entry *const *)x, *b = *(struct entry *const *)y;

	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->num < b->num ? -1 : a->num > b->num;
}

static int
by_subject(const void *x, const void *y)
{
	const struct entry *a = *(struct entry *const *)x, *b = *(struct entry *const *)y;
	char *ka = thread_subject_key(a->subject), *kb = thread_subject_key(b->subject);
	int c = strcmp(ka, kb);

	g_free(ka);
	g_free(kb);
	return c != 0 ? c : by_date(x, y);
}

static int
by_author(const void *x, const void *y)
{
	const struct entry *a = *(struct entry *const *)x, *b = *(struct entry *const *)y;
	char *ka = g_utf8_casefold(a->author, -1), *kb = g_utf8_casefold(b->author, -1);
	int c = strcmp(ka, kb);

	g_free(ka);
	g_free(kb);
	return c != 0 ? c : by_date(x, y);
}

static void
flat_list(struct archive *a, GString *out, GPtrArray *sorted)
{
	g_string_append(out, "<ul>\n");
	for (guint i = 0; i < sorted->len; i++) {
		item(a, out, sorted->pdata[i]);
		g_string_append(out, "</li>\n");
	}
	g_string_append(out, "</ul>\n");
}

static void
thread_list(struct archive *a, GString *out, GPtrArray *threaded)
{
	int depth = -1;

	for (guint i = 0; i < threaded->len; i++) {
		const struct entry *e = threaded->pdata[i];

		if (e->depth > depth) {
			for (; depth < e->depth; depth++)
				g_string_append(out, depth < 0 ? "<ul class=\"thread\">\n"
							       : "<li><ul>\n");
		} else {
			for (; depth > e->depth; depth--)
				g_string_append(out, "</ul></li>\n");
		}
		item(a, out, e);
		g_string_append(out, "</li>\n");
	}
	for (; depth > 0; depth--)
		g_string_append(out, "</ul></li>\n");
	if (depth == 0)
		g_string_append(out, "</ul>\n");
}

static int
write_index(struct archive *a, const struct period *p, const char *sort,
	    GString *page, GError **error)
{
	char *name = g_strdup_printf("%s/%s.html", p->name, sort);
	char *path = html_path(a, name);
	char *dir = fs_dirname(path);
	int r = fs_mkdir_p(dir, 0775, error) < 0 ? -1
		: render_write(path, page, FALSE, error);

	g_free(name);
	g_free(path);
	g_free(dir);
	return r;
}

/* PERIOD/index.html: a link to thread.html, as Pipermail has it. */
static int
index_link(struct archive *a, const struct period *p, GError **error)
{
	char *name = g_strdup_printf("%s/index.html", p->name);
	char *path = html_path(a, name);
	struct stat st;
	int r = 0;

	if (lstat(path, &st) < 0 && symlink("thread.html", path) < 0 && errno != EEXIST) {
		set_errno_error(error, "symlink(%s)", path);
		r = -1;
	}
	g_free(name);
	g_free(path);
	return r;
}

int
index_period(struct archive *a, const struct period *p, GPtrArray *cat,
	     GError **error)
{
	GPtrArray *sorted = g_ptr_array_sized_new(cat->len);
	int ret = 0;

	for (guint i = 0; i < cat->len; i++)
		g_ptr_array_add(sorted, cat->pdata[i]);
	for (size_t s = 0; s < G_N_ELEMENTS(sorts) && ret == 0; s++) {
		GString *page = g_string_sized_new(256 * cat->len + 1024);

		index_top(a, page, p, sorts[s], cat->len);
		if (s == 0) {
			GPtrArray *threaded = thread_order(cat);

			thread_list(a, page, threaded);
			g_ptr_array_free(threaded, TRUE);
		} else {
			g_ptr_array_sort(sorted, s == 1 ? by_date : s == 2 ? by_subject
									  : by_author);
			flat_list(a, page, sorted);
		}
		render_foot(page);
		ret = write_index(a, p, sorts[s], page, error);
		g_string_free(page, TRUE);
	}
	g_ptr_array_free(sorted, TRUE);
	return ret < 0 ? -1 : index_link(a, p, error);
}

static int
by_period_first(const void *x, const void *y)
{
	const struct period *a = *(struct period *const *)x, *b = *(struct period *const *)y;

	return a->first > b->first ? -1 : a->first < b->first;
}

int
index_list(struct archive *a, const struct state *s, GError **error)
{
	GString *page = g_string_new(NULL);
	GPtrArray *periods = g_ptr_array_new();
	char *path = html_path(a, "index.html");
	const char *list = list_fqdn(a->list);
	int r;

	for (guint i = 0; i < s->periods->len; i++)
		g_ptr_array_add(periods, s->periods->pdata[i]);
	g_ptr_array_sort(periods, by_period_first);
	render_head(page, "archives", list);
	g_string_append(page, "<h1>The ");
	html_escape(page, list, strlen(list));
	g_string_append_printf(page, " archives</h1>\n<p data-count=\"%" G_GINT64_FORMAT
			       "\">%" G_GINT64_FORMAT " messages.</p>\n<table>\n"
			       "<tr><th>Period</th><th>Sorted by</th><th>Messages</th>"
			       "<th>Text</th></tr>\n", s->next, s->next);
	for (guint i = 0; i < periods->len; i++) {
		const struct period *p = periods->pdata[i];
		char *gz = g_strdup_printf("%s.txt.gz", p->name);
		char *gzpath = html_path(a, gz);
		gboolean zipped = access(gzpath, F_OK) == 0;

		g_string_append_printf(page, "<tr><td>%s</td><td>", p->name);
		for (size_t k = 0; k < G_N_ELEMENTS(sorts); k++)
			g_string_append_printf(page, "[ <a href=\"%s/%s.html\">%s</a> ] ",
					       p->name, sorts[k], sorts[k]);
		g_string_append_printf(page, "</td><td>%" G_GINT64_FORMAT "</td>"
				       "<td><a href=\"%s.txt%s\">%s.txt%s</a></td></tr>\n",
				       p->count, p->name, zipped ? ".gz" : "",
				       p->name, zipped ? ".gz" : "");
		g_free(gz);
		g_free(gzpath);
	}
	g_string_append(page, "</table>\n");
	render_foot(page);
	r = render_write(path, page, FALSE, error);
	g_string_free(page, TRUE);
	g_ptr_array_free(periods, TRUE);
	g_free(path);
	return r;
}
