/*
 * store.c - the archive's store, archives/<list>/: the mbox, the records,
 * the periods' catalogs and the state that commits them.
 *
 *     mbox             every message, mboxrd-quoted, in number order
 *     records          RECORD_SIZE bytes per message N at N*RECORD_SIZE:
 *                      its offset and length in the mbox, its period, the
 *                      key it came with (a queue entry's name)
 *     catalog/<period> one line per message of the period: what the
 *                      indexes need (number, date, ids, subject, author)
 *     state            "next N", "mbox LEN", one "period ..." line each:
 *                      the committed length of everything above
 *
 * Appending (under the archive lock, locks/archive-<list>):
 *   1. read the state; every byte of the mbox, records and catalogs past
 *      the lengths it gives is the leftover of a writer that died, and is
 *      overwritten (pwrite at the committed offset, then ftruncate);
 *   2. write the message, its record and its catalog line there;
 *   3. fsync the three files;
 *   4. write the new state with fs_write_atomic (a temp file, fsync,
 *      rename): the commit.  Readers read only what the state says is
 *      committed.  (Not fs_write_swap: web pages read the state without
 *      the lock, and a state of several pages must never be read half
 *      rewritten.  A commit covers a runner's batch, so the new inode is
 *      no cost per post.)
 * A crash before 4 leaves the old state and garbage past it that nobody
 * reads; after 4 the message is in, exactly once.  Nothing relies on
 * O_APPEND, fcntl locks or mmap, so two hosts on NFS can take turns: the
 * lock orders them, and each reads the state the last one committed.
 */
#include "archive/archive-private.h"
#include "base/base.h"
#include "list/list.h"
#include "store/site.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* How long an archive writer may take before its lock is presumed dead
 * (refreshed during an import). */
#define LOCK_WAIT_MS 60000

char *
store_path(struct archive *a, const char *name)
{
	return g_build_filename(a->store, name, NULL);
}

char *
html_path(struct archive *a, const char *name)
{
	return g_build_filename(a->html, name, NULL);
}

int
store_lock(struct archive *a, GError **error)
{
	char *name = g_strdup_printf("archive-%s", list_fqdn(a->list));

	a->lock = lock_new(a->locks, name,
			   site_get_int(a->site, "lock.lifetime") * 1000);
	g_free(name);
	if (lock_acquire(a->lock, LOCK_WAIT_MS, error) < 0) {
		lock_free(&a->lock);
		return -1;
	}
	return 0;
}

void
store_unlock(struct archive *a)
{
	lock_free(&a->lock);
}

void
state_clear(struct state *s)
{
	if (s->periods != NULL)
		g_ptr_array_free(s->periods, TRUE);
	memset(s, 0, sizeof(*s));
}

static void
period_free(gpointer p)
{
	struct period *pp = p;

	g_free(pp->name);
	g_free(pp);
}

struct period *
state_period(struct state *s, const char *name, gboolean create)
{
	for (guint i = 0; i < s->periods->len; i++) {
		struct period *p = s->periods->pdata[i];

		if (strcmp(p->name, name) == 0)
			return p;
	}
	if (!create)
		return NULL;
	struct period *p = g_new0(struct period, 1);

	p->name = g_strdup(name);
	p->first = G_MAXINT64;
	p->last = G_MININT64;
	g_ptr_array_add(s->periods, p);
	return p;
}

int
store_state_read(struct archive *a, struct state *s, GError **error)
{
	char *path = store_path(a, "state"), *data = NULL;
	size_t len;
	int r = fs_read_file(path, &data, &len, error);

	memset(s, 0, sizeof(*s));
	s->periods = g_ptr_array_new_with_free_func(period_free);
	if (r <= 0) {
		g_free(path);
		return r;
	}
	char **lines = g_strsplit(data, "\n", -1);

	for (char **l = lines; *l != NULL; l++) {
		char name[64];
		long long c, cl, tl, f, la;

		if (sscanf(*l, "next %" SCNd64, &s->next) == 1 ||
		    sscanf(*l, "mbox %" SCNd64, &s->mboxlen) == 1)
			continue;
		if (sscanf(*l, "period %63s %lld %lld %lld %lld %lld", name, &c,
			   &cl, &tl, &f, &la) == 6) {
			struct period *p = state_period(s, name, TRUE);

			p->count = c, p->catlen = cl, p->txtlen = tl;
			p->first = f, p->last = la;
		} else if (**l != '\0') {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
				    "%s: cannot read line '%s'", path, *l);
			r = -1;
			break;
		}
	}
	g_strfreev(lines);
	g_free(data);
	g_free(path);
	return r < 0 ? -1 : 1;
}

int
store_state_write(struct archive *a, const struct state *s, GError **error)
{
	GString *out = g_string_new(NULL);
	char *path = store_path(a, "state");
	int r;

	g_string_append_printf(out, "next %" G_GINT64_FORMAT "\nmbox %"
			       G_GINT64_FORMAT "\n", s->next, s->mboxlen);
	for (guint i = 0; i < s->periods->len; i++) {
		const struct period *p = s->periods->pdata[i];

		g_string_append_printf(out, "period %s %" G_GINT64_FORMAT " %"
				       G_GINT64_FORMAT " %" G_GINT64_FORMAT
				       " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT
				       "\n", p->name, p->count, p->catlen,
				       p->txtlen, p->first, p->last);
	}
	r = fs_write_atomic(path, out->str, out->len, error);	/* under the lock */
	g_string_free(out, TRUE);
	g_free(path);
	return r;
}

/* pread of exactly len bytes at off: 1, 0 when the file is shorter. */
static int
read_at(int fd, void *buf, size_t len, int64_t off, const char *path,
	GError **error)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_errno_error(error, "pread(%s)", path);
			return -1;
		}
		if (n == 0)
			return 0;
		done += (size_t)n;
	}
	return 1;
}

static int
write_at(int fd, const void *buf, size_t len, int64_t off, const char *path,
	 GError **error)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_errno_error(error, "pwrite(%s)", path);
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Message num's record: its mbox slice and period. */
static int
record_read(struct archive *a, int fd, const char *path, int64_t num,
	    int64_t *off_r, int64_t *len_r, char period[64], char key[KEY_MAX + 1],
	    GError **error)
{
	char rec[RECORD_SIZE + 1];
	long long off, len;
	int r = read_at(fd, rec, RECORD_SIZE, num * RECORD_SIZE, path, error);

	if (r <= 0)
		return r;
	rec[RECORD_SIZE] = '\0';
	key[0] = '\0';
	if (sscanf(rec, "%lld %lld %63s %32s", &off, &len, period, key) < 3) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "%s: record %" G_GINT64_FORMAT " is damaged", path, num);
		return -1;
	}
	if (strcmp(key, "-") == 0)
		key[0] = '\0';
	*off_r = off, *len_r = len;
	return 1;
}

int
store_slice(struct archive *a, const struct state *s, int64_t num,
	    char **data_r, size_t *len_r, char **period_r, GError **error)
{
	char *rpath = store_path(a, "records"), *mpath = store_path(a, "mbox");
	char period[64], key[KEY_MAX + 1];
	int rfd = -1, mfd = -1, r = -1;
	int64_t off, len;

	if (num < 0 || num >= s->next) {
		r = 0;
		goto out;
	}
	if ((rfd = fs_open(rpath, O_RDONLY, 0)) < 0) {
		set_errno_error(error, "open(%s)", rpath);
		goto out;
	}
	if ((r = record_read(a, rfd, rpath, num, &off, &len, period, key,
			     error)) <= 0)
		goto out;
	if (off + len > s->mboxlen) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "%s: message %" G_GINT64_FORMAT " lies past the "
			    "committed end", mpath, num);
		r = -1;
		goto out;
	}
	if ((mfd = fs_open(mpath, O_RDONLY, 0)) < 0) {
		set_errno_error(error, "open(%s)", mpath);
		r = -1;
		goto out;
	}
	*data_r = g_malloc(len + 1);
	if ((r = read_at(mfd, *data_r, len, off, mpath, error)) <= 0) {
		g_clear_pointer(data_r, g_free);
		if (r == 0)
			g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
				    "%s is shorter than its state says", mpath);
		r = -1;
		goto out;
	}
	(*data_r)[len] = '\0';
	*len_r = len;
	if (period_r != NULL)
		*period_r = g_strdup(period);
out:
	if (rfd >= 0)
		close(rfd);
	if (mfd >= 0)
		close(mfd);
	g_free(rpath);
	g_free(mpath);
	return r;
}

int
store_period_of(struct archive *a, const struct state *s, int64_t num,
		char *period, GError **error)
{
	char *path = store_path(a, "records"), key[KEY_MAX + 1];
	int fd = fs_open(path, O_RDONLY, 0), r = -1;
	int64_t off, len;

	if (fd < 0)
		set_errno_error(error, "open(%s)", path);
	else if (num >= 0 && num < s->next)
		r = record_read(a, fd, path, num, &off, &len, period, key, error);
	else
		r = 0;
	if (fd >= 0)
		close(fd);
	g_free(path);
	return r;
}

int
store_message(struct archive *a, const struct state *s, int64_t num,
	      char **data_r, size_t *len_r, char **period_r, GError **error)
{
	char *slice;
	size_t len;
	int r = store_slice(a, s, num, &slice, &len, period_r, error);

	if (r <= 0)
		return r;
	/* The slice is "From ...\n", the quoted message, "\n". */
	const char *nl = memchr(slice, '\n', len);
	size_t skip = nl != NULL ? (size_t)(nl - slice) + 1 : len;
	size_t body = len - skip;

	if (body > 0 && slice[len - 1] == '\n')
		body--;
	*data_r = mbox_unquote(slice + skip, body, len_r);
	g_free(slice);
	return 1;
}

/* The key as records keep it: KEY_MAX hex digits of its SHA-256 (a
 * queue entry's name is longer than a record's field). */
static char *
key_digest(const char *key)
{
	char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);

	sum[KEY_MAX] = '\0';
	return sum;
}

int64_t
store_find_key(struct archive *a, const struct state *s, const char *key,
	       int64_t limit, GError **error)
{
	enum { CHUNK = 1024 };
	char *path = store_path(a, "records"), *want = key_digest(key);
	char *buf = g_malloc((size_t)CHUNK * RECORD_SIZE);
	int fd = fs_open(path, O_RDONLY, 0);
	int64_t found = -1, stop = limit < 0 ? 0 : MAX(0, s->next - limit);

	if (fd < 0) {
		if (errno != ENOENT) {
			set_errno_error(error, "open(%s)", path);
			found = -2;
		}
		goto out;
	}
	/* Newest first, a chunk at a time: a key is looked for again after
	 * a crash, so it is recent if it is there at all. */
	for (int64_t end = s->next; end > stop && found == -1;) {
		int64_t first = MAX(stop, end - CHUNK);
		size_t len = (size_t)(end - first) * RECORD_SIZE;
		int r = read_at(fd, buf, len, first * RECORD_SIZE, path, error);

		if (r <= 0) {
			if (r == 0)
				g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
					    "%s is shorter than its state says", path);
			found = -2;
			break;
		}
		for (int64_t n = end - 1; n >= first && found == -1; n--) {
			const char *rec = buf + (size_t)(n - first) * RECORD_SIZE;

			/* The key is the record's last field, at a fixed place. */
			if (memcmp(rec + RECORD_SIZE - 1 - KEY_MAX, want, KEY_MAX) == 0)
				found = n;
		}
		end = first;
	}
	close(fd);
out:
	g_free(buf);
	g_free(want);
	g_free(path);
	return found;
}

/* --- the catalog ------------------------------------------------------- */

void
entry_free(gpointer p)
{
	struct entry *e = p;

	if (e == NULL)
		return;
	g_free(e->msgid);
	g_free(e->irt);
	g_free(e->refs);
	g_free(e->subject);
	g_free(e->author);
	g_free(e->addr);
	g_free(e);
}

/* A field of a catalog line: no tab, no line end. */
static void
field(GString *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		g_string_append_c(out, *s == '\t' || *s == '\n' || *s == '\r'
				       ? ' ' : *s);
	g_string_append_c(out, '\t');
}

char *
entry_line(const struct entry *e)
{
	GString *out = g_string_new(NULL);

	g_string_append_printf(out, "%" G_GINT64_FORMAT "\t%" G_GINT64_FORMAT
			       "\t%" G_GINT64_FORMAT "\t%" G_GINT64_FORMAT "\t",
			       e->num, e->date, e->txtoff, e->txtlen);
	field(out, e->msgid);
	field(out, e->irt);
	field(out, e->refs);
	field(out, e->subject);
	field(out, e->author);
	field(out, e->addr);
	out->str[out->len - 1] = '\n';
	return g_string_free(out, FALSE);
}

static struct entry *
entry_parse(char *line)
{
	char **f = g_strsplit(line, "\t", 10);
	struct entry *e = NULL;

	if (g_strv_length(f) == 10) {
		e = g_new0(struct entry, 1);
		e->num = g_ascii_strtoll(f[0], NULL, 10);
		e->date = g_ascii_strtoll(f[1], NULL, 10);
		e->txtoff = g_ascii_strtoll(f[2], NULL, 10);
		e->txtlen = g_ascii_strtoll(f[3], NULL, 10);
		e->msgid = g_strdup(f[4]);
		e->irt = g_strdup(f[5]);
		e->refs = g_strdup(f[6]);
		e->subject = g_strdup(f[7]);
		e->author = g_strdup(f[8]);
		e->addr = g_strdup(f[9]);
	}
	g_strfreev(f);
	return e;
}

GPtrArray *
store_catalog(struct archive *a, const struct period *p, GError **error)
{
	char *name = g_build_filename("catalog", p->name, NULL);
	char *path = store_path(a, name), *data = NULL;
	GPtrArray *cat = g_ptr_array_new_with_free_func(entry_free);
	size_t len = 0;
	int r = fs_read_file(path, &data, &len, error);

	g_free(name);
	if (r < 0) {
		g_ptr_array_free(cat, TRUE);
		cat = NULL;
		goto out;
	}
	/* Only the committed part: what lies past it is a dead writer's. */
	if ((int64_t)len > p->catlen)
		len = (size_t)p->catlen;
	for (size_t i = 0; i < len;) {
		char *nl = memchr(data + i, '\n', len - i);

		if (nl == NULL)
			break;
		*nl = '\0';
		struct entry *e = entry_parse(data + i);

		if (e != NULL)
			g_ptr_array_add(cat, e);
		i = (size_t)(nl - data) + 1;
	}
out:
	g_free(data);
	g_free(path);
	return cat;
}

/* --- appending --------------------------------------------------------- */

struct appender {
	struct archive *a;
	char *mbox_path, *rec_path;
	int mbox_fd, rec_fd;
	GHashTable *cats;	/* period name -> struct cat_file * */
	gboolean truncated;	/* mbox and records cut to the state */
	gboolean new_files;	/* a file was created: its folder is synced */
};

struct cat_file {
	char *path;
	int fd;
};

static void
cat_file_free(gpointer p)
{
	struct cat_file *c = p;

	if (c->fd >= 0)
		close(c->fd);
	g_free(c->path);
	g_free(c);
}

static int
open_rw(const char *path, GError **error)
{
	int fd = fs_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);

	if (fd < 0)
		set_errno_error(error, "open(%s)", path);
	return fd;
}

struct appender *
appender_new(struct archive *a, GError **error)
{
	struct appender *ap = g_new0(struct appender, 1);

	ap->a = a;
	ap->mbox_path = store_path(a, "mbox");
	ap->rec_path = store_path(a, "records");
	ap->rec_fd = -1;
	ap->cats = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 cat_file_free);
	if ((ap->mbox_fd = open_rw(ap->mbox_path, error)) < 0 ||
	    (ap->rec_fd = open_rw(ap->rec_path, error)) < 0)
		appender_free(&ap);
	return ap;
}

void
appender_free(struct appender **app)
{
	struct appender *ap = *app;

	if (ap == NULL)
		return;
	if (ap->mbox_fd >= 0)
		close(ap->mbox_fd);
	if (ap->rec_fd >= 0)
		close(ap->rec_fd);
	g_hash_table_destroy(ap->cats);
	g_free(ap->mbox_path);
	g_free(ap->rec_path);
	g_free(ap);
	*app = NULL;
}

static int
cut(int fd, int64_t len, const char *path, GError **error)
{
	if (ftruncate(fd, (off_t)len) < 0) {
		set_errno_error(error, "ftruncate(%s)", path);
		return -1;
	}
	return 0;
}

/* The catalog of period p, opened and cut to its committed length. */
static struct cat_file *
cat_open(struct appender *ap, const struct period *p, GError **error)
{
	struct cat_file *c = g_hash_table_lookup(ap->cats, p->name);

	if (c != NULL)
		return c;
	c = g_new0(struct cat_file, 1);
	char *name = g_build_filename("catalog", p->name, NULL);

	c->path = store_path(ap->a, name);
	g_free(name);
	if (p->catlen == 0)
		ap->new_files = TRUE;
	if ((c->fd = open_rw(c->path, error)) < 0 ||
	    cut(c->fd, p->catlen, c->path, error) < 0) {
		cat_file_free(c);
		return NULL;
	}
	g_hash_table_insert(ap->cats, g_strdup(p->name), c);
	return c;
}

int
appender_add(struct appender *ap, struct state *s, const char *msg,
	     size_t len, const char *key, struct entry *e, const char *period,
	     const char *from_line, GError **error)
{
	GString *slice = g_string_sized_new(len + 128);
	char rec[RECORD_SIZE + 1];
	struct period *p = state_period(s, period, TRUE);
	struct cat_file *c;
	char *line = NULL, *txt;
	size_t txtlen;
	int ret = -1;

	if (!ap->truncated) {
		if (s->next == 0)
			ap->new_files = TRUE;
		if (cut(ap->mbox_fd, s->mboxlen, ap->mbox_path, error) < 0 ||
		    cut(ap->rec_fd, s->next * RECORD_SIZE, ap->rec_path,
			error) < 0)
			goto out;
		ap->truncated = TRUE;
	}
	if ((c = cat_open(ap, p, error)) == NULL)
		goto out;
	mbox_quote(slice, from_line, msg, len);
	txt = obscure_text(slice->str, slice->len, &txtlen);
	g_free(txt);
	memset(rec, ' ', RECORD_SIZE);
	snprintf(rec, sizeof(rec), "%014" G_GINT64_FORMAT " %010zu %s",
		 s->mboxlen, slice->len, period);
	rec[strlen(rec)] = ' ';
	if (key != NULL && *key != '\0') {
		char *d = key_digest(key);

		memcpy(rec + RECORD_SIZE - 1 - KEY_MAX, d, KEY_MAX);
		g_free(d);
	} else {
		rec[RECORD_SIZE - 2] = '-';
	}
	rec[RECORD_SIZE - 1] = '\n';
	e->num = s->next;
	e->txtoff = p->txtlen;
	e->txtlen = (int64_t)txtlen;
	line = entry_line(e);
	if (write_at(ap->mbox_fd, slice->str, slice->len, s->mboxlen,
		     ap->mbox_path, error) < 0 ||
	    write_at(ap->rec_fd, rec, RECORD_SIZE, s->next * RECORD_SIZE,
		     ap->rec_path, error) < 0 ||
	    write_at(c->fd, line, strlen(line), p->catlen, c->path, error) < 0)
		goto out;
	s->mboxlen += (int64_t)slice->len;
	s->next++;
	p->count++;
	p->catlen += (int64_t)strlen(line);
	p->txtlen += (int64_t)txtlen;
	if (e->date < p->first)
		p->first = e->date;
	if (e->date > p->last)
		p->last = e->date;
	ret = 0;
out:
	g_free(line);
	g_string_free(slice, TRUE);
	return ret;
}

static int
sync_fd(int fd, const char *path, GError **error)
{
	if (fdatasync(fd) < 0) {
		set_errno_error(error, "fdatasync(%s)", path);
		return -1;
	}
	return 0;
}

int
appender_commit(struct appender *ap, struct state *s, GError **error)
{
	GHashTableIter it;
	gpointer k, v;

	if (sync_fd(ap->mbox_fd, ap->mbox_path, error) < 0 ||
	    sync_fd(ap->rec_fd, ap->rec_path, error) < 0)
		return -1;
	g_hash_table_iter_init(&it, ap->cats);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct cat_file *c = v;

		if (sync_fd(c->fd, c->path, error) < 0)
			return -1;
	}
	/* A new catalog (or a first mbox) must be in its folder before the
	 * state that counts it is. */
	if (ap->new_files) {
		char *cat = store_path(ap->a, "catalog");
		int r = fs_sync_dir(cat, error) < 0 || fs_sync_dir(ap->a->store, error) < 0;

		g_free(cat);
		if (r)
			return -1;
		ap->new_files = FALSE;
	}
	return store_state_write(ap->a, s, error);
}
