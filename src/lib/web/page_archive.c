/*
 * page_archive.c - a list's archive on the web (docs/archive.md):
 *
 *     GET /archives/LIST/               the archive's index.html
 *     GET /archives/LIST/PATH           a file of the HTML tree: a period's
 *                                       indexes, a message page, a text
 *                                       archive, a scrubbed attachment
 *     GET /archives/LIST/search?q=      the search page (SQLite FTS5)
 *     GET /archives/LIST/msgid/KEY      301 to the page of the message
 *                                       whose Message-ID has KEY (the
 *                                       Archived-At header's URL)
 *     GET /pipermail/NAME/PATH          Mailman 2.1's URLs: 301 to the
 *     GET /mailman/listinfo/NAME        list of that local part, when the
 *                                       site has exactly one
 *
 * A public list's tree (archives/public/) may equally be served by the
 * site's web server itself; a private one's (archive_private) only here,
 * to the list's members, moderators and owners (a member logs in on the
 * options page) and the site administrator.
 *
 * Files are reached one path segment at a time with openat(O_NOFOLLOW)
 * from the tree's folder: every segment is a plain name ([A-Za-z0-9._-],
 * not starting with a dot), no symlink is followed, and what is opened
 * must be a regular file; nothing else of the var dir can be named.  A
 * scrubbed attachment is sent as a download (Content-Disposition:
 * attachment) with a type that no browser renders as a page, so an HTML
 * attachment cannot run in the site's origin.  The archive's own pages
 * carry one inline style sheet (ARCHIVE_PAGE_STYLE), allowed by its hash.
 */
#include "web/pages.h"
#include "archive/archive.h"
#include "base/base.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEARCH_RESULTS 50

static gboolean plain_name(const char *s)
{
	return s[0] && s[0] != '.' && strlen(s) < 256 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") == strlen(s);
}

/* The Content-Security-Policy of archive pages: the default, and the
 * archive's style sheet by its SHA-256. */
static char *archive_csp(void)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)ARCHIVE_PAGE_STYLE,
			   strlen(ARCHIVE_PAGE_STYLE));
	char b64[sodium_base64_ENCODED_LEN(sizeof h,
					   sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof b64, h, sizeof h,
			  sodium_base64_VARIANT_ORIGINAL);
	return g_strdup_printf("default-src 'none'; style-src 'self' "
			       "'sha256-%s'; img-src 'self'; form-action "
			       "'self'; frame-ancestors 'none'; base-uri 'none'",
			       b64);
}

static const char *content_type(const char *name, gboolean attachment)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".gz", "application/gzip" },
		{ ".pdf", "application/pdf" },
		{ ".png", "image/png" },
		{ ".jpg", "image/jpeg" },
		{ ".gif", "image/gif" },
	};
	for (guint i = 0; i < G_N_ELEMENTS(types); i++)
		if (g_str_has_suffix(name, types[i].ext))
			/* An attachment's HTML is shown as text, never run. */
			return attachment && !strcmp(types[i].ext, ".html")
				? "text/plain; charset=utf-8" : types[i].type;
	return attachment ? "application/octet-stream"
			  : "text/plain; charset=utf-8";
}

/* Opens segments [first, nsegments) under dir; -1 when any is not a
 * plain name, not there, a symlink, or the end is not a regular file. */
static int open_below(const char *dir, struct web_request *rq, guint first,
		      struct stat *st)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (guint i = first; fd >= 0 && i < rq->nsegments; i++) {
		const char *seg = rq->segments[i];
		int next = plain_name(seg)
			? openat(fd, seg, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
				 (i + 1 < rq->nsegments ? O_DIRECTORY : 0))
			: -1;
		close(fd);
		fd = next;
	}
	if (fd >= 0 && (fstat(fd, st) < 0 || !S_ISREG(st->st_mode))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void search_page(struct web_request *rq, struct web_response *rs,
			struct list *l, struct archive *a)
{
	const char *q = web_query(rq, "q");
	JsonObject *o = web_page_data(rq);
	JsonObject *d = web_list_data(rq, l);
	json_object_set_string_member(o, "title", view_translate(
					      rq->lang, "Search the archive"));
	json_object_set_string_member(o, "q", q ? q : "");
	char *action = web_list_path(rq, "archives", l, "search");
	json_object_set_string_member(o, "action", action);
	g_free(action);
	if (q && *q) {
		GError *error = NULL;
		GPtrArray *hits = archive_search(a, q, SEARCH_RESULTS, &error);
		JsonArray *results = json_array_new();
		if (!hits) {
			json_object_set_string_member(o, "error",
						      error->message);
			g_error_free(error);
		}
		for (guint i = 0; hits && i < hits->len; i++) {
			struct archive_hit *h = hits->pdata[i];
			JsonObject *r = json_object_new();
			char *url = web_list_path(rq, "archives", l, h->path);
			GDateTime *t = g_date_time_new_from_unix_utc(h->date);
			char *date = t ? g_date_time_format(t, "%Y-%m-%d %H:%M")
				       : g_strdup("");
			json_object_set_string_member(r, "url", url);
			json_object_set_string_member(r, "subject", h->subject);
			json_object_set_string_member(r, "author", h->author);
			json_object_set_string_member(r, "date", date);
			json_array_add_object_element(results, r);
			g_free(date);
			if (t)
				g_date_time_unref(t);
			g_free(url);
		}
		json_object_set_boolean_member(o, "searched", TRUE);
		json_object_set_int_member(o, "count", hits ? hits->len : 0);
		json_object_set_array_member(o, "results", results);
		if (hits)
			g_ptr_array_free(hits, TRUE);
	}
	json_object_set_object_member(o, "list", d);
	web_page(rq, rs, 200, "archive-search", o);
}

/* Archived-At's URL: to the message's page, once it is archived. */
static void by_msgid(struct web_request *rq, struct web_response *rs,
		     struct list *l, struct archive *a)
{
	const char *key = rq->segments[3];
	GError *error = NULL;
	char *page = strlen(key) == 40 && strspn(key, "0123456789abcdef") == 40
		? archive_find_msgid(a, key, &error) : NULL;
	if (page) {
		char *path = web_list_path(rq, "archives", l, page);
		web_body(rs, 301, "text/plain; charset=utf-8", "", 0);
		web_header(rs, "Location", path);
		g_free(path);
		g_free(page);
	} else if (error) {
		log_error(WEB_SUBSYS, "list %s: archive: %s", list_fqdn(l),
			  error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "The archive cannot be read now.");
	} else {
		web_error(rq, rs, 404, "This message is not in the archive "
			  "(or not yet: try again in a minute).");
	}
}

static void archive_page(struct web_request *rq, struct web_response *rs)
{
	struct list *l = web_list_arg(rq, rs, 1);
	if (!l)
		return;
	if (rq->nsegments == 2 && !rq->trailing_slash) {
		/* The tree's links are relative: its folder needs its '/'. */
		char *path = web_list_path(rq, "archives", l, "");
		web_body(rs, 301, "text/plain; charset=utf-8", "", 0);
		web_header(rs, "Location", path);
		g_free(path);
		list_free(&l);
		return;
	}
	gboolean private = list_get_int(l, "archive_private") != 0;
	if (private &&
	    !session_may(rq->session, WEB_ROLE_MODERATOR, list_fqdn(l)) &&
	    !web_require(rq, rs, WEB_ROLE_MEMBER, l)) {
		list_free(&l);
		return;
	}
	GError *error = NULL;
	struct archive *a = archive_open(l, &error);
	if (!a) {
		log_error(WEB_SUBSYS, "list %s: archive: %s", list_fqdn(l),
			  error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "The archive cannot be read now.");
		list_free(&l);
		return;
	}
	if (rq->nsegments == 3 && !strcmp(rq->segments[2], "search")) {
		search_page(rq, rs, l, a);
	} else if (rq->nsegments == 4 && !strcmp(rq->segments[2], "msgid")) {
		by_msgid(rq, rs, l, a);
	} else {
		struct stat st;
		const char *dir = archive_html_dir(a);
		int fd = rq->nsegments == 2
			? openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY) : -1;
		if (fd >= 0) {
			/* The folder itself: its index page. */
			int idx = openat(fd, "index.html",
					 O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			close(fd);
			fd = idx >= 0 && fstat(idx, &st) == 0 &&
			     S_ISREG(st.st_mode) ? idx : -1;
			if (fd < 0 && idx >= 0)
				close(idx);
		} else {
			fd = open_below(dir, rq, 2, &st);
		}
		if (fd < 0) {
			web_error(rq, rs, 404, rq->nsegments == 2
				  ? "The archive is empty."
				  : "There is no such page.");
		} else {
			const char *last = rq->nsegments > 2
				? rq->segments[rq->nsegments - 1] : "index.html";
			gboolean attachment = rq->nsegments > 2 &&
				!strcmp(rq->segments[2], "attachments");
			rs->fd = fd;
			rs->fd_size = (gsize)st.st_size;
			g_free(rs->content_type);
			rs->content_type = g_strdup(content_type(last,
								 attachment));
			rs->cacheable = !private;
			rs->csp = archive_csp();
			if (attachment)
				web_header(rs, "Content-Disposition",
					   "attachment");
		}
	}
	archive_free(&a);
	list_free(&l);
}

/* The one list whose local part is name, or NULL (none, or several). */
static char *list_by_local_part(struct web_request *rq, const char *name)
{
	GPtrArray *all = list_all(rq->site, NULL);
	char *found = NULL;
	int n = 0;
	char *prefix = g_strconcat(name, "@", NULL);
	for (guint i = 0; all && i < all->len; i++)
		if (g_str_has_prefix(all->pdata[i], prefix) && n++ == 0)
			found = g_strdup(all->pdata[i]);
	g_free(prefix);
	if (all)
		g_ptr_array_free(all, TRUE);
	if (n != 1)
		g_clear_pointer(&found, g_free);
	return found;
}

/* /pipermail/NAME/REST -> archives/LIST/REST; /mailman/listinfo/NAME ->
 * listinfo/LIST (and options, admin, admindb alike). */
static void old_urls(struct web_request *rq, struct web_response *rs)
{
	gboolean pipermail = !strcmp(rq->segments[0], "pipermail");
	guint name_at = pipermail ? 1 : 2;
	const char *page = pipermail ? "archives" : web_segment(rq, 1);
	const char *name = web_segment(rq, name_at);
	static const char *const pages[] = { "listinfo", "options", "admin",
					     "admindb", "roster", "private",
					     NULL };
	char *fqdn = name && plain_name(name)
		? list_by_local_part(rq, name) : NULL;
	if (!fqdn || !page ||
	    (!pipermail && !g_strv_contains(pages, page))) {
		web_error(rq, rs, 404, "There is no such page.");
		g_free(fqdn);
		return;
	}
	if (!strcmp(page, "private"))
		page = "archives";
	GString *to = g_string_new(rq->base_path);
	char *ef = view_url_part(fqdn);
	g_string_append_printf(to, "%s/%s", page, ef);
	for (guint i = name_at + 1; i < rq->nsegments; i++) {
		char *seg = view_url_part(rq->segments[i]);
		g_string_append_printf(to, "/%s", seg);
		g_free(seg);
	}
	if (pipermail && (rq->nsegments == name_at + 1 || rq->trailing_slash))
		g_string_append_c(to, '/');
	web_body(rs, 301, "text/plain; charset=utf-8", "", 0);
	web_header(rs, "Location", to->str);
	g_string_free(to, TRUE);
	g_free(ef);
	g_free(fqdn);
}

const struct web_route web_routes_archive[] = {
	{ "archives", archive_page },
	{ "pipermail", old_urls },
	{ "mailman", old_urls },
	{ NULL, NULL },
};
