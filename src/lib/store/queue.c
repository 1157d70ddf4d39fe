/*
 * queue.c - the switchboard: on-disk message queues.
 *
 * A message is written to <name>.tmp, fsync'ed and renamed to <name>.msg,
 * and the directory is fsync'ed; only then is it "stored".  A runner claims
 * it by renaming it to <name>.bak, and finishes it by unlinking that.
 * rename() is the only commit point, so a crash leaves a whole file or
 * none.  Safe on NFS: no fcntl locks, no O_APPEND, no mmap; a rename whose
 * reply was lost is judged by stat() afterwards.  Queues need no lock:
 * each slice of a queue is worked by one runner, the holder of its lease.
 *
 * Spare files: a finished entry's file is not unlinked but emptied and
 * renamed into <queue>/.spare/ (under one of SPARE_SLOTS names, so never
 * more of them), and the next entry written to that queue takes one (a
 * rename to its .tmp name) instead of making a new file.  The steps and
 * the commit point are those of a new file; what changes is that no inode
 * is made or freed per entry, which on ext4 without a journal is most of
 * the cost of a small message's hop (each new inode is checked against
 * every one freed in the last minutes: docs/PERFORMANCE.md).  The file is
 * emptied while it still has its claimed name, never once it is a spare:
 * truncate() finds its inode by name first and empties it a moment later,
 * by which time a writer may have taken it and written an entry into it.
 * A crash between the two steps leaves an empty .bak: no entry is ever
 * empty, so readers remove it as the finished entry it is (queue_read).
 *
 * Group commit (queue_batch_*): a runner's handler may write its output
 * into the runner's batch instead, which fsyncs all its files, renames
 * them and fsyncs each directory once; the runner finishes the entries
 * the output came from only after that.  The ordering argument, step by
 * step, is in docs/formats.md ("Durability").
 */
#include "store/queue.h"
#include "base/base.h"
#include "store/lock.h"
#include "base/log.h"
#include "store/names.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUEUE_SUBSYS "queue"
#define QUEUE_MAGIC "herald-queue 1\n"
#define QUEUE_END "herald-end\n"

/* --- metadata ----------------------------------------------------------- */

struct meta_pair {
	char *key;
	char *value;
};

struct queue_meta {
	GPtrArray *pairs;	/* of struct meta_pair */
};

static void
meta_pair_free(gpointer p)
{
	struct meta_pair *mp = p;

	g_free(mp->key);
	g_free(mp->value);
	g_free(mp);
}

struct queue_meta *
queue_meta_new(void)
{
	struct queue_meta *m = g_new0(struct queue_meta, 1);

	m->pairs = g_ptr_array_new_with_free_func(meta_pair_free);
	return m;
}

struct queue_meta *
queue_meta_copy(const struct queue_meta *m)
{
	struct queue_meta *c = queue_meta_new();

	for (guint i = 0; i < m->pairs->len; i++) {
		struct meta_pair *p = m->pairs->pdata[i];
		queue_meta_add(c, p->key, p->value);
	}
	return c;
}

void
queue_meta_free(struct queue_meta **mp)
{
	if (*mp == NULL)
		return;
	g_ptr_array_free((*mp)->pairs, TRUE);
	g_free(*mp);
	*mp = NULL;
}

const char *
queue_meta_get(const struct queue_meta *m, const char *key)
{
	for (guint i = 0; i < m->pairs->len; i++) {
		struct meta_pair *p = m->pairs->pdata[i];
		if (strcmp(p->key, key) == 0)
			return p->value;
	}
	return NULL;
}

int64_t
queue_meta_get_int(const struct queue_meta *m, const char *key, int64_t dflt)
{
	const char *v = queue_meta_get(m, key);
	char *end;
	long long n;

	if (v == NULL)
		return dflt;
	n = strtoll(v, &end, 10);
	return *end == '\0' && end != v ? n : dflt;
}

void
queue_meta_remove(struct queue_meta *m, const char *key)
{
	for (guint i = m->pairs->len; i-- > 0;) {
		struct meta_pair *p = m->pairs->pdata[i];
		if (strcmp(p->key, key) == 0)
			g_ptr_array_remove_index(m->pairs, i);
	}
}

void
queue_meta_add(struct queue_meta *m, const char *key, const char *value)
{
	struct meta_pair *p = g_new(struct meta_pair, 1);

	p->key = g_strdup(key);
	p->value = g_strdup(value);
	g_ptr_array_add(m->pairs, p);
}

void
queue_meta_set(struct queue_meta *m, const char *key, const char *value)
{
	queue_meta_remove(m, key);
	queue_meta_add(m, key, value);
}

void
queue_meta_set_int(struct queue_meta *m, const char *key, int64_t value)
{
	char buf[32];

	g_snprintf(buf, sizeof buf, "%lld", (long long)value);
	queue_meta_set(m, key, buf);
}

GPtrArray *
queue_meta_get_all(const struct queue_meta *m, const char *key)
{
	GPtrArray *out = g_ptr_array_new();

	for (guint i = 0; i < m->pairs->len; i++) {
		struct meta_pair *p = m->pairs->pdata[i];
		if (strcmp(p->key, key) == 0)
			g_ptr_array_add(out, p->value);
	}
	return out;
}

guint
queue_meta_count(const struct queue_meta *m)
{
	return m->pairs->len;
}

void
queue_meta_nth(const struct queue_meta *m, guint i, const char **key_r,
	       const char **value_r)
{
	struct meta_pair *p = m->pairs->pdata[i];

	*key_r = p->key;
	*value_r = p->value;
}

/* --- the file format ------------------------------------------------------ */

static gboolean
valid_key(const char *key)
{
	if (*key == '\0')
		return FALSE;
	for (const char *p = key; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
			return FALSE;
	return TRUE;
}

gboolean
queue_meta_key_valid(const char *key)
{
	return valid_key(key) && strcmp(key, "size") != 0;
}

/* Values are one line: backslash, CR and LF are escaped. */
static void
append_escaped(GString *out, const char *v)
{
	for (; *v != '\0'; v++) {
		switch (*v) {
		case '\\': g_string_append(out, "\\\\"); break;
		case '\n': g_string_append(out, "\\n"); break;
		case '\r': g_string_append(out, "\\r"); break;
		default: g_string_append_c(out, *v);
		}
	}
}

static char *
unescape(const char *v, size_t len)
{
	GString *out = g_string_sized_new(len);

	for (size_t i = 0; i < len; i++) {
		if (v[i] == '\\' && i + 1 < len) {
			i++;
			g_string_append_c(out, v[i] == 'n' ? '\n'
					       : v[i] == 'r' ? '\r' : v[i]);
		} else {
			g_string_append_c(out, v[i]);
		}
	}
	return g_string_free(out, FALSE);
}

GString *
queue_format(const struct queue_meta *meta, const char *msg, size_t msg_len)
{
	GString *out = g_string_sized_new(msg_len + 512);

	g_string_append(out, QUEUE_MAGIC);
	for (guint i = 0; i < meta->pairs->len; i++) {
		struct meta_pair *p = meta->pairs->pdata[i];

		if (strcmp(p->key, "size") == 0)
			continue;	/* reserved: written below */
		g_assert(valid_key(p->key));
		g_string_append(out, p->key);
		g_string_append(out, ": ");
		append_escaped(out, p->value);
		g_string_append_c(out, '\n');
	}
	g_string_append_printf(out, "size: %zu\n\n", msg_len);
	g_string_append_len(out, msg, (gssize)msg_len);
	g_string_append(out, QUEUE_END);
	return out;
}

static int
format_error(GError **error, const char *why)
{
	g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
		    "corrupt queue file: %s", why);
	return -1;
}

/* Parses the entry at the front of buf: its metadata, its message and
 * its length with the end marker (*used_r).  Bytes after it are left
 * alone: a bundle's members follow one another. */
static int
parse_entry(char *buf, size_t len, struct queue_meta **meta_r,
	    const char **msg_r, size_t *msg_len_r, size_t *used_r,
	    GError **error)
{
	struct queue_meta *meta;
	const char *p = buf, *end = buf + len;
	gboolean have_size = FALSE;
	size_t size = 0;

	if (len < strlen(QUEUE_MAGIC) ||
	    memcmp(buf, QUEUE_MAGIC, strlen(QUEUE_MAGIC)) != 0)
		return format_error(error, "no herald-queue version line");
	p += strlen(QUEUE_MAGIC);
	meta = queue_meta_new();
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *colon;

		if (nl == NULL) {
			queue_meta_free(&meta);
			return format_error(error, "header not terminated");
		}
		if (nl == p) {		/* the blank line ends the header */
			p = nl + 1;
			break;
		}
		colon = memchr(p, ':', (size_t)(nl - p));
		if (colon == NULL || colon + 1 >= nl || colon[1] != ' ') {
			queue_meta_free(&meta);
			return format_error(error, "header line without 'key: '");
		}
		char *key = g_strndup(p, (gsize)(colon - p));
		char *value = unescape(colon + 2, (size_t)(nl - colon - 2));
		if (!valid_key(key)) {
			g_free(key);
			g_free(value);
			queue_meta_free(&meta);
			return format_error(error, "bad key");
		}
		if (strcmp(key, "size") == 0) {
			char *e;
			size = strtoull(value, &e, 10);
			have_size = *e == '\0' && e != value;
		} else {
			queue_meta_add(meta, key, value);
		}
		g_free(key);
		g_free(value);
		p = nl + 1;
	}
	if (!have_size) {
		queue_meta_free(&meta);
		return format_error(error, "no size");
	}
	/* The end marker right after exactly `size` bytes proves the entry
	 * was written whole. */
	if ((size_t)(end - p) < strlen(QUEUE_END) ||
	    size > (size_t)(end - p) - strlen(QUEUE_END) ||
	    memcmp(p + size, QUEUE_END, strlen(QUEUE_END)) != 0) {
		queue_meta_free(&meta);
		return format_error(error, "no end marker (truncated?)");
	}
	*meta_r = meta;
	*msg_r = p;
	*msg_len_r = size;
	*used_r = (size_t)(p - buf) + size + strlen(QUEUE_END);
	return 0;
}

int
queue_parse(char *buf, size_t len, struct queue_meta **meta_r,
	    const char **msg_r, size_t *msg_len_r, GError **error)
{
	struct queue_meta *meta;
	size_t used;

	if (parse_entry(buf, len, &meta, msg_r, msg_len_r, &used, error) < 0)
		return -1;
	if (used != len) {
		queue_meta_free(&meta);
		return format_error(error, "no end marker (truncated?)");
	}
	*meta_r = meta;
	return 0;
}

/* --- queues ---------------------------------------------------------------- */

struct queue {
	char *var_dir;
	char *name;
	char *dir;
};

static gboolean
valid_queue_name(const char *name)
{
	if (*name == '\0' || strlen(name) > 32)
		return FALSE;
	for (const char *p = name; *p != '\0'; p++)
		if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '-')
			return FALSE;
	return TRUE;
}

struct queue *
queue_open(const char *var_dir, const char *name, GError **error)
{
	struct queue *q;

	if (!valid_queue_name(name)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "bad queue name '%s' (use a-z, 0-9, -)", name);
		return NULL;
	}
	q = g_new0(struct queue, 1);
	q->var_dir = g_strdup(var_dir);
	q->name = g_strdup(name);
	q->dir = g_build_filename(var_dir, "queue", name, NULL);
	if (fs_mkdir_p(q->dir, 0770, error) < 0) {
		queue_close(&q);
		return NULL;
	}
	return q;
}

/* Another handle on the same queue (no mkdir: q's directory exists). */
static struct queue *
queue_copy(const struct queue *q)
{
	struct queue *c = g_new0(struct queue, 1);

	c->var_dir = g_strdup(q->var_dir);
	c->name = g_strdup(q->name);
	c->dir = g_strdup(q->dir);
	return c;
}

void
queue_close(struct queue **qp)
{
	struct queue *q = *qp;

	if (q == NULL)
		return;
	g_free(q->var_dir);
	g_free(q->name);
	g_free(q->dir);
	g_free(q);
	*qp = NULL;
}

const char *
queue_name(const struct queue *q)
{
	return q->name;
}

const char *
queue_dir(const struct queue *q)
{
	return q->dir;
}

const char *
queue_var_dir(const struct queue *q)
{
	return q->var_dir;
}

/* --- spare files ----------------------------------------------------------- */

#define SPARE_DIR ".spare"
#define SPARE_SLOTS 64
/* A queue with no spare is looked at again after this long, not at every
 * entry. */
#define SPARE_RELIST_US 100000

struct spare_list {
	GPtrArray *names;	/* slots seen there, not yet taken */
	int64_t relist_at;	/* when an empty listing may be made again */
	gboolean off;		/* on NFS: no spares */
};

static GMutex spare_lock;
static GHashTable *spare_lists;	/* spare directory -> struct spare_list */
static guint spare_slot;	/* the next slot a finished file goes to */

static void
spare_list_free(gpointer p)
{
	struct spare_list *sl = p;

	g_ptr_array_unref(sl->names);
	g_free(sl);
}

/* The spare directory dir's entry, made at first use; under spare_lock.
 * Spares are off on NFS: there a truncate is sent by file handle, and a
 * retransmitted one could empty the file after it became another entry
 * (the kernel's own moment of that kind is in the file header). */
static struct spare_list *
spare_list_of(const char *dir)
{
	struct spare_list *sl;

	if (spare_lists == NULL)
		spare_lists = g_hash_table_new_full(g_str_hash, g_str_equal,
						    g_free, spare_list_free);
	if ((sl = g_hash_table_lookup(spare_lists, dir)) == NULL) {
		char *qdir = g_path_get_dirname(dir);

		sl = g_new0(struct spare_list, 1);
		sl->names = g_ptr_array_new_with_free_func(g_free);
		sl->off = fs_on_nfs(qdir);
		g_hash_table_insert(spare_lists, g_strdup(dir), sl);
		g_free(qdir);
	}
	return sl;
}

/* Whether spares are off for the spare directory dir. */
static gboolean
spares_off(const char *dir)
{
	gboolean off;

	g_mutex_lock(&spare_lock);
	off = spare_list_of(dir)->off;
	g_mutex_unlock(&spare_lock);
	return off;
}

/* A slot name the spare directory holds, or NULL (caller frees). */
static char *
spare_name(const char *dir)
{
	struct spare_list *sl;
	char *name = NULL;

	g_mutex_lock(&spare_lock);
	sl = spare_list_of(dir);
	if (sl->off) {
		g_mutex_unlock(&spare_lock);
		return NULL;
	}
	if (sl->names->len == 0 && now_usec() >= sl->relist_at) {
		GPtrArray *found = fs_dir_names(dir, NULL, NULL);

		for (guint i = 0; found != NULL && i < found->len; i++)
			g_ptr_array_add(sl->names, g_strdup(found->pdata[i]));
		if (found != NULL)
			g_ptr_array_unref(found);
		if (sl->names->len == 0)
			sl->relist_at = now_usec() + SPARE_RELIST_US;
	}
	if (sl->names->len > 0)
		name = g_ptr_array_steal_index_fast(sl->names, sl->names->len - 1);
	g_mutex_unlock(&spare_lock);
	return name;
}

/* Makes tmp (in q) a spare file of q: 1, or 0 when there is none to take
 * (another process may take the one listed first: then the next). */
static int
spare_take(const struct queue *q, const char *tmp)
{
	char *dir = g_build_filename(q->dir, SPARE_DIR, NULL);
	char *name;
	int taken = 0;

	while (!taken && (name = spare_name(dir)) != NULL) {
		char *path = g_build_filename(dir, name, NULL);

		taken = rename(path, tmp) == 0;
		g_free(path);
		g_free(name);
	}
	g_free(dir);
	return taken;
}

/* Done with path, a file of q only this process uses (a claimed entry):
 * emptied and kept as a spare (replacing the one in its slot), or
 * unlinked when that fails.  0, or -1 with errno from the unlink. */
static int
spare_put(const struct queue *q, const char *path)
{
	char *dir = g_build_filename(q->dir, SPARE_DIR, NULL);
	char slot[16];
	char *spare;
	int r;

	g_snprintf(slot, sizeof slot, "%u",
		   __atomic_fetch_add(&spare_slot, 1, __ATOMIC_RELAXED) % SPARE_SLOTS);
	spare = g_build_filename(dir, slot, NULL);
	/* Emptied first, under its own name (the file header says why). */
	r = spares_off(dir) ? -1 : truncate(path, 0);
	if (r == 0) {
		r = rename(path, spare);
		if (r < 0 && errno == ENOENT && mkdir(dir, 0770) == 0)
			r = rename(path, spare);
	}
	if (r < 0)
		r = fs_unlink(path);
	g_free(spare);
	g_free(dir);
	return r;
}

/* Opens tmp, a new entry's file in q, and writes data: a spare file of q
 * when there is one, else a new file (fs_create_written).  On failure
 * nothing is left at tmp. */
static int
entry_create(const struct queue *q, const char *tmp, const void *data,
	     size_t len, int *fd_r, ino_t *ino_r, GError **error)
{
	struct stat st;
	int fd;

	if (spare_take(q, tmp)) {
		/* Only an empty file with no other name: after a power cut
		 * on a file system without a journal, a spare's old name can
		 * come back beside the entry that took it (the rename's
		 * directory was never fsync'ed), and fsck counts two links. */
		fd = open(tmp, O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_nlink == 1 &&
		    st.st_size == 0 &&
		    fs_write_all(fd, data, len, tmp, NULL) == 0) {
			*fd_r = fd;
			*ino_r = st.st_ino;
			return 0;
		}
		/* Another name's file, not ours to write (root's, say), or
		 * the write failed: that name is dropped and a new file
		 * made, which reports what goes wrong. */
		if (fd >= 0)
			close(fd);
		(void)fs_unlink(tmp);
	}
	return fs_create_written(tmp, data, len, fd_r, ino_r, error);
}

/* entry_create, then fsync'ed and closed. */
static int
entry_create_synced(const struct queue *q, const char *tmp, const void *data,
		    size_t len, ino_t *ino_r, GError **error)
{
	int fd;

	if (entry_create(q, tmp, data, len, &fd, ino_r, error) < 0)
		return -1;
	if (fs_sync_close(&fd, tmp, error) < 0) {
		(void)fs_unlink(tmp);
		return -1;
	}
	return 0;
}

static char *
entry_path(const struct queue *q, const char *base, const char *ext)
{
	return g_strdup_printf("%s/%s%s", q->dir, base, ext);
}

/* A file being written: <base>.<host>.<pid>.tmp, so that a crashed
 * writer's leftovers can be told from a live writer's work. */
static char *
tmp_path(const struct queue *q, const char *base)
{
	return g_strdup_printf("%s/%s.%s.%d.tmp", q->dir, base, herald_host(),
			       (int)getpid());
}

static guint64 enqueue_counter;

static char *
make_digest(const struct queue_meta *meta, const char *msg, size_t len)
{
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA1);
	const char *list = queue_meta_get(meta, META_LIST);
	char extra[128];
	char *hex;

	g_checksum_update(ck, (const guchar *)msg, (gssize)len);
	g_checksum_update(ck, (const guchar *)(list != NULL ? list : "-"), -1);
	g_snprintf(extra, sizeof extra, "\n%s\n%d\n%llu\n%lld", herald_host(),
		   (int)getpid(),
		   (unsigned long long)__atomic_add_fetch(&enqueue_counter, 1,
							  __ATOMIC_RELAXED),
		   (long long)now_usec());
	g_checksum_update(ck, (const guchar *)extra, -1);
	hex = g_strdup(g_checksum_get_string(ck));
	g_checksum_free(ck);
	return hex;
}

/* A rename to .msg reported failure, but a runner may have claimed the
 * new entry already (NFS: the reply was lost, and the retransmission
 * found no source).  If the claim is our inode, the rename happened. */
static gboolean
renamed_and_claimed(struct queue *q, const char *base, ino_t ino)
{
	char *bak = entry_path(q, base, ".bak");
	struct stat st;
	int err = errno;
	gboolean ok = (err == ENOENT || err == ESTALE) && fs_stat(bak, &st) == 0 &&
		      st.st_ino == ino;

	g_free(bak);
	errno = err;
	return ok;
}

/* An entry about to be written: its names and its bytes.  The stamp is
 * kept from "received" (a requeue keeps its FIFO place) or set to now. */
struct new_entry {
	char *base;
	char *tmp;
	char *final;
	GString *data;
};

/* The entry's stamp, its FIFO place: "received" kept (a requeue keeps its
 * place) or set to now.  The name has 16 digits of it; anything else (a
 * hand-made or corrupt "received") would make an entry no listing ever
 * finds. */
static int64_t
entry_stamp(struct queue_meta *meta)
{
	int64_t stamp = queue_meta_get_int(meta, META_RECEIVED, 0);

	if (stamp <= 0 || stamp > 9999999999999999LL) {
		stamp = now_usec();
		queue_meta_set_int(meta, META_RECEIVED, stamp);
	}
	return stamp;
}

static void
new_entry_prepare(struct queue *q, struct queue_meta *meta, const char *msg,
		  size_t msg_len, struct new_entry *e)
{
	int64_t stamp = entry_stamp(meta);
	char *digest = make_digest(meta, msg, msg_len);

	e->base = g_strdup_printf("%016lld+%s", (long long)stamp, digest);
	g_free(digest);
	e->tmp = tmp_path(q, e->base);
	e->final = entry_path(q, e->base, ".msg");
	e->data = queue_format(meta, msg, msg_len);
}

static void
new_entry_clear(struct new_entry *e)
{
	g_free(e->base);
	g_free(e->tmp);
	g_free(e->final);
	if (e->data != NULL)
		g_string_free(e->data, TRUE);
	memset(e, 0, sizeof *e);
}

/* Renames a complete, synced tmp file to its .msg name; on failure the
 * tmp file is removed. */
static int
publish(struct queue *q, const char *base, const char *tmp, const char *final,
	ino_t ino, GError **error)
{
	if (fs_rename_checked(tmp, final, ino) < 0 &&
	    !renamed_and_claimed(q, base, ino)) {
		set_errno_error(error, "rename(%s, %s)", tmp, final);
		(void)fs_unlink(tmp);
		return -1;
	}
	return 0;
}

/* A new entry is renamed into place: its name is made durable.  Without
 * this the new name may not survive a power cut even though the data does;
 * the MTA is told "accepted" only after it. */
static int
entry_stored(struct queue *q, const char *base, char **base_r, GError **error)
{
	if (fs_sync_dir(q->dir, error) < 0)
		return -1;
	if (base_r != NULL)
		*base_r = g_strdup(base);
	return 0;
}

/* This thread's gathered entries while it gathers (queue_gather_begin). */
static _Thread_local GPtrArray *gathered;

int
queue_enqueue(struct queue *q, struct queue_meta *meta, const char *msg,
	      size_t msg_len, char **base_r, GError **error)
{
	struct new_entry e;
	ino_t ino;
	int ret = -1;

	if (gathered != NULL) {
		g_ptr_array_add(gathered,
				queue_pending_write(q, meta, msg, msg_len, error));
		if (base_r != NULL)
			*base_r = NULL;
		return 0;
	}
	new_entry_prepare(q, meta, msg, msg_len, &e);
	if (entry_create_synced(q, e.tmp, e.data->str, e.data->len, &ino, error) < 0 ||
	    publish(q, e.base, e.tmp, e.final, ino, error) < 0)
		goto out;
	ret = entry_stored(q, e.base, base_r, error);
out:
	new_entry_clear(&e);
	return ret;
}

int
queue_adopt(struct queue *q, const char *path, char **base_r, GError **error)
{
	struct queue_meta *meta = queue_meta_new();
	char *digest, *base, *final;
	struct stat st;
	int ret = -1;

	if (fs_stat(path, &st) < 0) {
		set_errno_error(error, "stat(%s)", path);
		queue_meta_free(&meta);
		return -1;
	}
	/* Named like any new entry: now, and a digest unique to this call. */
	digest = make_digest(meta, path, strlen(path));
	base = g_strdup_printf("%016lld+%s", (long long)now_usec(), digest);
	final = entry_path(q, base, ".msg");
	if (fs_rename_checked(path, final, st.st_ino) < 0 &&
	    !renamed_and_claimed(q, base, st.st_ino))
		set_errno_error(error, "rename(%s, %s)", path, final);
	else
		ret = entry_stored(q, base, base_r, error);
	queue_meta_free(&meta);
	g_free(final);
	g_free(base);
	g_free(digest);
	return ret;
}

/* --- group commit ------------------------------------------------------- */

/* An entry of a batch: written to its tmp file, still open, not synced. */
struct batch_entry {
	struct queue *q;	/* a copy: the caller's may be closed first */
	char *base;
	char *tmp;
	char *final;
	int fd;
	ino_t ino;
	gboolean synced;	/* fsync'ed and closed already (fd -1) */
};

struct queue_batch {
	GPtrArray *entries;	/* of struct batch_entry, in enqueue order */
};

/* The batch of this process's runner, while it has one: the one place
 * queue_enqueue_batched looks, so that handlers need no new argument. */
static struct queue_batch *current_batch;

static void
batch_entry_free(gpointer p)
{
	struct batch_entry *be = p;

	if (be->fd >= 0)
		close(be->fd);
	queue_close(&be->q);
	g_free(be->base);
	g_free(be->tmp);
	g_free(be->final);
	g_free(be);
}

struct queue_batch *
queue_batch_begin(void)
{
	g_assert(current_batch == NULL);
	current_batch = g_new0(struct queue_batch, 1);
	current_batch->entries = g_ptr_array_new_with_free_func(batch_entry_free);
	return current_batch;
}

guint
queue_batch_size(const struct queue_batch *b)
{
	return b->entries->len;
}

void
queue_batch_rollback(struct queue_batch *b, guint mark)
{
	for (guint i = mark; i < b->entries->len; i++) {
		struct batch_entry *be = b->entries->pdata[i];

		if (be->fd >= 0)
			close(be->fd);
		be->fd = -1;
		(void)fs_unlink(be->tmp);
	}
	if (mark < b->entries->len)
		g_ptr_array_set_size(b->entries, mark);
}

int
queue_batch_commit(struct queue_batch *b, GError **error)
{
	GPtrArray *dirs = g_ptr_array_new();
	guint i, n = b->entries->len;
	int ret = -1;

	/* 1. The data of every file, before any becomes visible: a .msg
	 * name never holds a torn file.  Their writeback started when each
	 * was written, so these fsyncs mostly wait for I/O under way. */
	for (i = 0; i < n; i++) {
		struct batch_entry *be = b->entries->pdata[i];

		if (!be->synced && fs_sync_close(&be->fd, be->tmp, error) < 0) {
			queue_batch_rollback(b, 0);
			goto out;
		}
	}
	/* 2. The names: each entry becomes visible to its queue's runner
	 * (which may deliver it before step 3: a crash then redoes our
	 * claimed entries, a duplicate at worst). */
	for (i = 0; i < n; i++) {
		struct batch_entry *be = b->entries->pdata[i];

		if (publish(be->q, be->base, be->tmp, be->final, be->ino,
			    error) < 0) {
			for (guint j = i + 1; j < n; j++)
				(void)fs_unlink(((struct batch_entry *)
						 b->entries->pdata[j])->tmp);
			goto out;
		}
		if (!g_ptr_array_find_with_equal_func(dirs, be->q->dir, g_str_equal,
						      NULL))
			g_ptr_array_add(dirs, be->q->dir);
	}
	/* 3. One fsync per directory for the whole batch: every rename in
	 * it is durable when its directory's fsync returns. */
	for (i = 0; i < dirs->len; i++)
		if (fs_sync_dir(dirs->pdata[i], error) < 0)
			goto out;
	ret = 0;
out:
	g_ptr_array_free(dirs, TRUE);
	g_ptr_array_set_size(b->entries, 0);
	return ret;
}

void
queue_batch_end(struct queue_batch **bp)
{
	struct queue_batch *b = *bp;

	if (b == NULL)
		return;
	queue_batch_rollback(b, 0);
	g_ptr_array_free(b->entries, TRUE);
	g_free(b);
	if (current_batch == b)
		current_batch = NULL;
	*bp = NULL;
}

/* Writes an entry to its tmp file and starts its writeback: a batch
 * entry, not yet synced.  NULL on failure (nothing left behind). */
static struct batch_entry *
batch_entry_write(struct queue *q, struct queue_meta *meta, const char *msg,
		  size_t msg_len, GError **error)
{
	struct batch_entry *be;
	struct new_entry e;

	new_entry_prepare(q, meta, msg, msg_len, &e);
	be = g_new0(struct batch_entry, 1);
	if (entry_create(q, e.tmp, e.data->str, e.data->len, &be->fd, &be->ino,
			 error) < 0) {
		g_free(be);
		new_entry_clear(&e);
		return NULL;
	}
	fs_start_writeback(be->fd);
	be->q = queue_copy(q);
	be->base = e.base;
	be->tmp = e.tmp;
	be->final = e.final;
	e.base = e.tmp = e.final = NULL;
	new_entry_clear(&e);
	return be;
}

int
queue_enqueue_batched(struct queue *q, struct queue_meta *meta,
		      const char *msg, size_t msg_len, char **base_r,
		      GError **error)
{
	struct batch_entry *be;

	if (current_batch == NULL)
		return queue_enqueue(q, meta, msg, msg_len, base_r, error);
	be = batch_entry_write(q, meta, msg, msg_len, error);
	if (be == NULL)
		return -1;
	g_ptr_array_add(current_batch->entries, be);
	if (base_r != NULL)
		*base_r = g_strdup(be->base);
	return 0;
}

/* --- group commit across threads ----------------------------------------- */

/* An entry handed to a committer: kept in memory, formatted, until the
 * committer writes it (alone, or in its queue's bundle). */
struct queue_pending {
	struct queue *q;	/* a copy */
	int64_t stamp;
	GString *data;		/* the whole entry, as queue_format makes it */
	queue_committed_fn done;
	gpointer done_data;
};

struct queue_committer {
	GMutex lock;
	GCond wake;
	GPtrArray *waiting;	/* of struct queue_pending, submitted */
	gboolean stopping;
	GThread *thread;
	guint64 batches;	/* commits made, for tests and figures */
};

struct queue_pending *
queue_pending_write(struct queue *q, struct queue_meta *meta,
		    const char *msg, size_t msg_len, GError **error)
{
	struct queue_pending *p = g_new0(struct queue_pending, 1);

	(void)error;		/* nothing is written before the commit */
	p->q = queue_copy(q);
	p->stamp = entry_stamp(meta);
	p->data = queue_format(meta, msg, msg_len);
	return p;
}

static void
pending_free(struct queue_pending *p)
{
	queue_close(&p->q);
	g_string_free(p->data, TRUE);
	g_free(p);
}

void
queue_pending_drop(struct queue_pending **pp)
{
	if (*pp != NULL)
		pending_free(*pp);
	*pp = NULL;
}

/* The batch entry for pendings[from..to) of one queue: the one entry as
 * it is, or a bundle of them.  NULL on failure. */
static struct batch_entry *
pendings_write(GPtrArray *pendings, guint from, guint to, GError **error)
{
	struct queue_pending *first = pendings->pdata[from];
	struct queue_meta *meta;
	struct batch_entry *be;
	const char *msg;
	size_t msg_len;

	if (to - from == 1) {
		/* Written as it was formatted: parse back its parts. */
		if (queue_parse(first->data->str, first->data->len, &meta, &msg,
				&msg_len, error) < 0)
			return NULL;
		be = batch_entry_write(first->q, meta, msg, msg_len, error);
		queue_meta_free(&meta);
		return be;
	}
	GString *all = g_string_new(NULL);
	int64_t stamp = first->stamp;
	for (guint i = from; i < to; i++) {
		struct queue_pending *p = pendings->pdata[i];

		g_string_append_len(all, p->data->str, (gssize)p->data->len);
		stamp = MIN(stamp, p->stamp);
	}
	meta = queue_meta_new();
	queue_meta_set(meta, META_KIND, KIND_BUNDLE);
	queue_meta_set_int(meta, META_BUNDLE, (int64_t)(to - from));
	/* Its place is its oldest member's. */
	queue_meta_set_int(meta, META_RECEIVED, stamp);
	be = batch_entry_write(first->q, meta, all->str, all->len, error);
	queue_meta_free(&meta);
	g_string_free(all, TRUE);
	return be;
}

static gint
pending_by_queue(gconstpointer a, gconstpointer b)
{
	const struct queue_pending *x = *(struct queue_pending *const *)a;
	const struct queue_pending *y = *(struct queue_pending *const *)b;

	return strcmp(x->q->dir, y->q->dir);
}

/* Commits the pendings as one batch, one file a queue (a bundle where a
 * queue has several), then tells each how it went. */
static void
commit_pendings(GPtrArray *pendings)
{
	struct queue_batch b = { g_ptr_array_new_with_free_func(batch_entry_free) };
	GError *error = NULL;
	guint from = 0;

	/* Stable: a queue's members keep the order they were handed in. */
	g_ptr_array_sort(pendings, pending_by_queue);
	while (error == NULL && from < pendings->len) {
		guint to = from + 1;
		struct batch_entry *be;

		while (to < pendings->len &&
		       pending_by_queue(&pendings->pdata[from],
					&pendings->pdata[to]) == 0)
			to++;
		be = pendings_write(pendings, from, to, &error);
		if (be != NULL)
			g_ptr_array_add(b.entries, be);
		from = to;
	}
	if (error != NULL)
		queue_batch_rollback(&b, 0);
	else
		(void)queue_batch_commit(&b, &error);
	if (error != NULL)
		log_error(QUEUE_SUBSYS, "a group commit of %u entries failed: %s",
			  pendings->len, error->message);
	g_ptr_array_free(b.entries, TRUE);
	for (guint i = 0; i < pendings->len; i++) {
		struct queue_pending *p = pendings->pdata[i];

		p->done(p->done_data, error);
		pending_free(p);
	}
	g_ptr_array_set_size(pendings, 0);
	g_clear_error(&error);
}

static void
store_error(gpointer data, const GError *error)
{
	if (error != NULL && data != NULL)
		*(GError **)data = g_error_copy(error);
}

int
queue_pendings_commit(GPtrArray *pendings, GError **error)
{
	GError *err = NULL;

	if (pendings->len == 0)
		return 0;
	/* Every entry is told the batch's one outcome: the first keeps it. */
	for (guint i = 0; i < pendings->len; i++) {
		struct queue_pending *p = pendings->pdata[i];
		p->done = store_error;
		p->done_data = i == 0 ? &err : NULL;
	}
	commit_pendings(pendings);
	if (err != NULL) {
		g_propagate_error(error, err);
		return -1;
	}
	return 0;
}

int
queue_pending_commit(struct queue_pending **pp, GError **error)
{
	GPtrArray *one = g_ptr_array_new();
	int ret;

	g_ptr_array_add(one, *pp);
	*pp = NULL;
	ret = queue_pendings_commit(one, error);
	g_ptr_array_free(one, TRUE);
	return ret;
}

void
queue_gather_begin(void)
{
	g_assert(gathered == NULL);
	gathered = g_ptr_array_new();
}

GPtrArray *
queue_gather_end(void)
{
	GPtrArray *all = gathered;

	g_assert(all != NULL);
	gathered = NULL;
	return all;
}

/* The committer's thread: whatever was submitted while the last batch was
 * being committed is the next batch. */
static gpointer
committer_main(gpointer data)
{
	struct queue_committer *c = data;
	GPtrArray *batch = g_ptr_array_new();

	g_mutex_lock(&c->lock);
	for (;;) {
		while (c->waiting->len == 0 && !c->stopping)
			g_cond_wait(&c->wake, &c->lock);
		if (c->waiting->len == 0)
			break;
		GPtrArray *t = batch;
		batch = c->waiting;
		c->waiting = t;
		c->batches++;
		g_mutex_unlock(&c->lock);
		commit_pendings(batch);
		g_mutex_lock(&c->lock);
	}
	g_mutex_unlock(&c->lock);
	g_ptr_array_free(batch, TRUE);
	return NULL;
}

struct queue_committer *
queue_committer_new(void)
{
	struct queue_committer *c = g_new0(struct queue_committer, 1);

	g_mutex_init(&c->lock);
	g_cond_init(&c->wake);
	c->waiting = g_ptr_array_new();
	c->thread = g_thread_new("queue-commit", committer_main, c);
	return c;
}

void
queue_committer_submit(struct queue_committer *c, struct queue_pending *p,
		       queue_committed_fn done, gpointer data)
{
	p->done = done;
	p->done_data = data;
	g_mutex_lock(&c->lock);
	g_assert(!c->stopping);
	g_ptr_array_add(c->waiting, p);
	g_cond_signal(&c->wake);
	g_mutex_unlock(&c->lock);
}

guint64
queue_committer_batches(struct queue_committer *c)
{
	g_mutex_lock(&c->lock);
	guint64 n = c->batches;
	g_mutex_unlock(&c->lock);
	return n;
}

void
queue_committer_free(struct queue_committer **cp)
{
	struct queue_committer *c = *cp;

	if (c == NULL)
		return;
	g_mutex_lock(&c->lock);
	c->stopping = TRUE;
	g_cond_signal(&c->wake);
	g_mutex_unlock(&c->lock);
	g_thread_join(c->thread);
	g_ptr_array_free(c->waiting, TRUE);
	g_cond_clear(&c->wake);
	g_mutex_clear(&c->lock);
	g_free(c);
	*cp = NULL;
}

int
queue_put(const char *var_dir, const char *name, struct queue_meta *meta,
	  const char *msg, size_t msg_len, char **base_r, GError **error)
{
	struct queue *q = queue_open(var_dir, name, error);
	int r;

	if (q == NULL)
		return -1;
	r = queue_enqueue(q, meta, msg, msg_len, base_r, error);
	queue_close(&q);
	return r;
}

/* Hex digit values, -1 for anything else: a table, because listing a
 * 100,000-entry queue decodes four million digits. */
static int8_t hex_values[256];

static void
init_hex_values(void)
{
	static gsize done;

	if (!g_once_init_enter(&done))
		return;
	memset(hex_values, -1, sizeof hex_values);
	for (int c = '0'; c <= '9'; c++)
		hex_values[c] = (int8_t)(c - '0');
	for (int c = 'a'; c <= 'f'; c++)
		hex_values[c] = (int8_t)(c - 'a' + 10);
	for (int c = 'A'; c <= 'F'; c++)
		hex_values[c] = (int8_t)(c - 'A' + 10);
	g_once_init_leave(&done, 1);
}

gboolean
queue_digest_in_slice(const char *digest, unsigned s, unsigned n)
{
	uint32_t limb[5];	/* the 160-bit digest, most significant first */
	uint64_t carry = 0;

	if (n <= 1)
		return s == 0;
	init_hex_values();
	for (int i = 0; i < 5; i++) {
		limb[i] = 0;
		for (int j = 0; j < 8; j++) {
			int v = hex_values[(unsigned char)digest[i * 8 + j]];
			if (v < 0)
				return FALSE;
			limb[i] = limb[i] << 4 | (uint32_t)v;
		}
	}
	/* floor(d * n / 2^160) is the word that overflows 160 bits when the
	 * digest is multiplied by n: exact for any n, not only powers of 2. */
	for (int i = 4; i >= 0; i--) {
		uint64_t prod = (uint64_t)limb[i] * n + carry;
		carry = prod >> 32;
	}
	return carry == s;
}

/* Whether name is <16 digits>+<40 hex><ext>. */
static gboolean
parse_entry_name(const char *name, const char *ext)
{
	size_t elen = strlen(ext);

	if (strlen(name) != QUEUE_BASE_LEN + elen || name[16] != '+' ||
	    strcmp(name + QUEUE_BASE_LEN, ext) != 0)
		return FALSE;
	for (int i = 0; i < 16; i++)
		if (!g_ascii_isdigit(name[i]))
			return FALSE;
	return TRUE;
}

struct listed {
	uint64_t stamp;
	char *base;
};

static int
compare_listed(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;

	if (x->stamp != y->stamp)
		return x->stamp < y->stamp ? -1 : 1;
	return strcmp(x->base, y->base);
}

int
queue_list(struct queue *q, const char *ext, unsigned s, unsigned n,
	   GPtrArray **bases_r, GError **error)
{
	GArray *found;
	GPtrArray *out;
	struct dirent *e;
	DIR *d;

	d = opendir(q->dir);
	if (d == NULL) {
		set_errno_error(error, "opendir(%s)", q->dir);
		return -1;
	}
	found = g_array_new(FALSE, FALSE, sizeof(struct listed));
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		struct listed l;

		if (e->d_name[0] == '.' || !parse_entry_name(e->d_name, ext))
			continue;
		if (!queue_digest_in_slice(e->d_name + 17, s, n))
			continue;
		l.stamp = g_ascii_strtoull(e->d_name, NULL, 10);
		l.base = g_strndup(e->d_name, QUEUE_BASE_LEN);
		g_array_append_val(found, l);
		errno = 0;
	}
	if (errno != 0) {
		set_errno_error(error, "readdir(%s)", q->dir);
		closedir(d);
		for (guint i = 0; i < found->len; i++)
			g_free(g_array_index(found, struct listed, i).base);
		g_array_free(found, TRUE);
		return -1;
	}
	closedir(d);
	/* FIFO: by stamp, compared as numbers (cheaper than the names). */
	if (found->len > 1)
		qsort(found->data, found->len, sizeof(struct listed),
		      compare_listed);
	out = g_ptr_array_new_full(found->len, g_free);
	for (guint i = 0; i < found->len; i++)
		g_ptr_array_add(out, g_array_index(found, struct listed, i).base);
	g_array_free(found, TRUE);
	*bases_r = out;
	return 0;
}

int
queue_claim(struct queue *q, const char *base, GError **error)
{
	char *msg = entry_path(q, base, ".msg");
	char *bak = entry_path(q, base, ".bak");
	struct stat st;
	int ret = 1;

	if (rename(msg, bak) < 0) {
		int err = errno;

		/* ENOENT is normal (another runner, or a lost NFS reply for
		 * a rename that happened).  Slices are exclusive, so a .bak of
		 * our slice that exists now is ours. */
		if (err == ENOENT || err == ESTALE) {
			ret = fs_stat(bak, &st) == 0 ? 1 : 0;
			if (ret == 1)
				log_warning(QUEUE_SUBSYS, "rename(%s) reported %s "
					    "but the claim exists; taking it",
					    msg, g_strerror(err));
		} else {
			set_errno_error_n(error, err, "rename(%s, %s)", msg, bak);
			ret = -1;
		}
	}
	g_free(msg);
	g_free(bak);
	return ret;
}

int
queue_unclaim(struct queue *q, const char *base, GError **error)
{
	char *msg = entry_path(q, base, ".msg");
	char *bak = entry_path(q, base, ".bak");
	int ret = 0;

	if (rename(bak, msg) < 0 && errno != ENOENT) {
		set_errno_error(error, "rename(%s, %s)", bak, msg);
		ret = -1;
	}
	g_free(msg);
	g_free(bak);
	return ret;
}

static void
queue_item_free_one(struct queue_item *it)
{
	queue_item_free(&it);
}

void
queue_item_free(struct queue_item **ip)
{
	struct queue_item *it = *ip;

	if (it == NULL)
		return;
	g_free(it->base);
	queue_meta_free(&it->meta);
	g_free(it->buf);
	g_free(it);
	*ip = NULL;
}

int
queue_read(struct queue *q, const char *base, const char *ext,
	   struct queue_item **item_r, GError **error)
{
	char *path = entry_path(q, base, ext);
	struct queue_item *it;
	char *buf;
	size_t len;
	int r;

	r = fs_read_file(path, &buf, &len, error);
	if (r > 0 && len == 0) {
		/* A finished entry emptied on its way to .spare/ by a process
		 * that died before the rename (spare_put): gone. */
		if (fs_unlink(path) == 0)
			log_warning(QUEUE_SUBSYS, "%s/%s%s removed: an entry "
				    "already finished, emptied to be kept as a "
				    "spare when its runner died", q->name, base,
				    ext);
		g_free(buf);
		r = 0;
	}
	if (r <= 0) {
		g_free(path);
		return r;
	}
	it = g_new0(struct queue_item, 1);
	it->buf = buf;
	it->base = g_strdup(base);
	if (queue_parse(buf, len, &it->meta, &it->msg, &it->msg_len, error) < 0) {
		g_prefix_error(error, "%s: ", path);
		queue_item_free(&it);
		g_free(path);
		return -1;
	}
	g_free(path);
	*item_r = it;
	return 1;
}

gboolean
queue_item_is_bundle(const struct queue_item *it)
{
	return queue_meta_get(it->meta, META_BUNDLE) != NULL;
}

int
queue_bundle_members(const struct queue_item *it, GPtrArray **members_r,
		     GError **error)
{
	GPtrArray *members = g_ptr_array_new_with_free_func(
		(GDestroyNotify)queue_item_free_one);
	int64_t n = queue_meta_get_int(it->meta, META_BUNDLE, -1);
	const char *digest = strchr(it->base, '+');
	char *p = (char *)it->msg, *end = (char *)it->msg + it->msg_len;

	while (p < end) {
		struct queue_item *m = g_new0(struct queue_item, 1);
		size_t used;

		g_ptr_array_add(members, m);
		if (parse_entry(p, (size_t)(end - p), &m->meta, &m->msg,
				&m->msg_len, &used, error) < 0) {
			g_prefix_error(error, "bundle %s, member %u: ", it->base,
				       members->len);
			g_ptr_array_free(members, TRUE);
			return -1;
		}
		m->base = g_strdup_printf("%016lld%s.%u", (long long)
					  entry_stamp(m->meta),
					  digest != NULL ? digest : "+",
					  members->len);
		p += used;
	}
	if ((int64_t)members->len != n) {
		g_ptr_array_free(members, TRUE);
		return format_error(error, "a bundle's count of members is "
				    "wrong");
	}
	*members_r = members;
	return 0;
}

int
queue_finish(struct queue *q, const char *base, GError **error)
{
	char *bak = entry_path(q, base, ".bak");
	int ret = 0;

	/* Kept as a spare for the queue's next entry, or unlinked.  ENOENT
	 * after a retransmitted NFS unlink means it is gone: fine. */
	if (spare_put(q, bak) < 0 && errno != ENOENT) {
		set_errno_error(error, "unlink(%s)", bak);
		ret = -1;
	}
	g_free(bak);
	/* Its progress record goes with it (after it: a crash between the
	 * two leaves an orphan record, never an entry without its record). */
	if (ret == 0) {
		char *prog = queue_progress_path(q, base);
		if (fs_unlink(prog) < 0 && errno != ENOENT)
			log_warning(QUEUE_SUBSYS, "unlink(%s) failed: %s", prog,
				    g_strerror(errno));
		g_free(prog);
	}
	return ret;
}

char *
queue_progress_path(struct queue *q, const char *base)
{
	return entry_path(q, base, ".progress");
}

int
queue_move_bad(struct queue *q, const char *base, const char *ext,
	       const char *why, GError **error)
{
	char *src = entry_path(q, base, ext);
	char *bad_dir = g_build_filename(q->var_dir, "queue", QUEUE_BAD, NULL);
	char *dst = g_strdup_printf("%s/%s.msg", bad_dir, base);
	int ret = -1;

	if (fs_mkdir_p(bad_dir, 0770, error) < 0)
		goto out;
	if (rename(src, dst) < 0 && errno != ENOENT) {
		set_errno_error(error, "rename(%s, %s)", src, dst);
		goto out;
	}
	log_error(QUEUE_SUBSYS, "%s/%s%s moved to bad/: %s", q->name, base, ext,
		  why);
	ret = 0;
out:
	g_free(src);
	g_free(bad_dir);
	g_free(dst);
	return ret;
}

void
queue_meta_mark_shunted(struct queue_meta *meta, const char *from,
			const char *why)
{
	queue_meta_set(meta, META_WHICHQ, from);
	queue_meta_set(meta, META_SHUNT_REASON, why);
	queue_meta_remove(meta, META_BAK_COUNT);
}

int
queue_shunt(struct queue *q, struct queue_item *item, const char *why,
	    GError **error)
{
	struct queue_meta *meta = queue_meta_copy(item->meta);
	int ret;

	queue_meta_mark_shunted(meta, q->name, why);
	ret = queue_put(q->var_dir, QUEUE_SHUNT, meta, item->msg, item->msg_len, NULL,
			error);
	queue_meta_free(&meta);
	if (ret < 0)
		return -1;
	log_error(QUEUE_SUBSYS, "%s/%s shunted: %s", q->name, item->base, why);
	return queue_finish(q, item->base, error);
}

/* Rewrites claimed entry base.bak with new metadata, in place by rename
 * (never in place by write: a crash must leave the old or the new file). */
static int
rewrite_bak(struct queue *q, struct queue_item *it, GError **error)
{
	char *tmp = tmp_path(q, it->base);
	char *bak = entry_path(q, it->base, ".bak");
	GString *data = queue_format(it->meta, it->msg, it->msg_len);
	ino_t ino;
	int ret = -1;

	if (entry_create_synced(q, tmp, data->str, data->len, &ino, error) == 0)
		ret = fs_commit_rename(tmp, bak, q->dir, ino, error);
	g_string_free(data, TRUE);
	g_free(tmp);
	g_free(bak);
	return ret;
}

/* Whether a claimed entry's progress record grew since the last recovery
 * (its size is kept in "progress-seen"): a runner killed while making
 * progress through a long fan-out is no sign of a poison message. */
static gboolean
progressed(struct queue *q, const char *base, struct queue_meta *meta)
{
	char *prog = queue_progress_path(q, base);
	struct stat st;
	gboolean grew = FALSE;

	if (fs_stat(prog, &st) == 0 &&
	    st.st_size > queue_meta_get_int(meta, META_PROGRESS_SEEN, 0)) {
		queue_meta_set_int(meta, META_PROGRESS_SEEN, (int64_t)st.st_size);
		grew = TRUE;
	}
	g_free(prog);
	return grew;
}

/* Recovery's last step for one entry: .bak back to .msg.  1 done, 0 gone
 * already, -1 failed (logged: the next recovery tries again). */
static int
give_back(struct queue *q, const char *base)
{
	char *bak = entry_path(q, base, ".bak");
	char *msg = entry_path(q, base, ".msg");
	int r = 1;

	if (rename(bak, msg) < 0) {
		r = errno == ENOENT ? 0 : -1;
		if (r < 0)
			log_error(QUEUE_SUBSYS, "rename(%s, %s) failed: %s", bak,
				  msg, g_strerror(errno));
	}
	g_free(bak);
	g_free(msg);
	return r;
}

int
queue_recover(struct queue *q, unsigned s, unsigned n, GError **error)
{
	GPtrArray *baks;
	int recovered = 0, batch = 0;

	if (queue_list(q, ".bak", s, n, &baks, error) < 0)
		return -1;
	for (guint i = 0; i < baks->len; i++) {
		const char *base = baks->pdata[i];
		struct queue_item *it = NULL;
		GError *local = NULL;
		int64_t count;
		int r;

		/* A runner claims in FIFO order and commits its batch at the
		 * end of every pass, so the last claimed entry (the last in
		 * this listing) is the one it was working on when it died.
		 * The others had been handled and waited for their batch's
		 * commit: they go back with no strike. */
		if (i + 1 < baks->len) {
			if (give_back(q, base) > 0) {
				recovered++;
				batch++;
			}
			continue;
		}
		r = queue_read(q, base, ".bak", &it, &local);
		if (r == 0)
			continue;
		if (r < 0) {
			(void)queue_move_bad(q, base, ".bak", local->message, NULL);
			g_clear_error(&local);
			continue;
		}
		count = queue_meta_get_int(it->meta, META_BAK_COUNT, 0) + 1;
		if (progressed(q, base, it->meta))
			count--;	/* it got further: not a poison message */
		if (count >= QUEUE_MAX_BAK_COUNT) {
			(void)queue_move_bad(q, base, ".bak", "its runner died "
					     "three times while working on it",
					     NULL);
			queue_item_free(&it);
			continue;
		}
		queue_meta_set_int(it->meta, META_BAK_COUNT, count);
		if (rewrite_bak(q, it, &local) < 0) {
			log_error(QUEUE_SUBSYS, "recovery of %s/%s failed: %s",
				  q->name, base, local->message);
			g_propagate_error(error, local);
			queue_item_free(&it);
			g_ptr_array_free(baks, TRUE);
			return -1;
		}
		if (give_back(q, base) > 0)
			recovered++;
		log_warning(QUEUE_SUBSYS, "%s/%s recovered after a crash "
			    "(strike %lld)", q->name, base, (long long)count);
		queue_item_free(&it);
	}
	g_ptr_array_free(baks, TRUE);
	if (batch > 0)
		log_warning(QUEUE_SUBSYS, "%s: %d handled entries of an "
			    "uncommitted batch given back (no strike)", q->name,
			    batch);
	return recovered;
}

int
queue_clean_tmp(struct queue *q, GHashTable *live_hosts, int64_t dead_age_s,
		GError **error)
{
	const char *host = herald_host();
	size_t hlen = strlen(host);
	char *locks = g_build_filename(q->var_dir, "locks", NULL);
	int64_t now = -1;
	struct dirent *e;
	DIR *d = opendir(q->dir);
	int removed = 0;

	if (d == NULL) {
		set_errno_error(error, "opendir(%s)", q->dir);
		g_free(locks);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		gboolean stale;
		struct stat st;

		if (strlen(name) < QUEUE_BASE_LEN + 6 ||
		    !g_str_has_suffix(name, ".tmp") || name[QUEUE_BASE_LEN] != '.')
			continue;
		const char *who = name + QUEUE_BASE_LEN + 1;
		char *path = g_build_filename(q->dir, name, NULL);
		if (strncmp(who, host, hlen) == 0 && who[hlen] == '.') {
			/* Ours: stale when its writer is dead. */
			pid_t pid = (pid_t)atoi(who + hlen + 1);
			stale = pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
		} else {
			/* Another host's.  Its processes cannot be checked, so
			 * the file's age decides: the time of its last change
			 * (ctime: on NFSv4 an exclusive create leaves a
			 * verifier, not a time, in the mtime), by the server's
			 * clock.  A dead host's files go after dead_age_s, a
			 * live host's only after QUEUE_TMP_FOREIGN_AGE. */
			const char *dot = strchr(who, '.');
			char *writer = dot != NULL ? g_strndup(who, (gsize)(dot - who))
						   : g_strdup(who);
			int64_t age = g_hash_table_contains(live_hosts, writer)
				    ? QUEUE_TMP_FOREIGN_AGE : dead_age_s;
			g_free(writer);
			if (now < 0 && lock_server_now(locks, &now, NULL) < 0)
				now = 0;
			stale = now > 0 && fs_stat(path, &st) == 0 &&
				st.st_ctime + age < now / 1000000;
		}
		/* Removing a live writer's file by mistake loses nothing: its
		 * rename then fails and it reports a temporary failure. */
		if (stale && fs_unlink(path) == 0) {
			log_warning(QUEUE_SUBSYS, "%s/%s removed: its writer "
				    "died before it was complete", q->name, name);
			removed++;
		}
		g_free(path);
	}
	closedir(d);
	g_free(locks);
	return removed;
}

int
queue_count(struct queue *q, const char *ext, GError **error)
{
	struct dirent *e;
	DIR *d = opendir(q->dir);
	int n = 0;

	if (d == NULL) {
		set_errno_error(error, "opendir(%s)", q->dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (ext != NULL ? parse_entry_name(e->d_name, ext)
				: (parse_entry_name(e->d_name, ".msg") ||
				   parse_entry_name(e->d_name, ".bak")))
			n++;
	}
	closedir(d);
	return n;
}

int
queue_unshunt(const char *var_dir, GError **error)
{
	struct queue *shunt = queue_open(var_dir, QUEUE_SHUNT, error);
	GPtrArray *bases;
	int moved = 0;

	if (shunt == NULL)
		return -1;
	/* Entries a crashed unshunt left claimed come back first. */
	if (queue_recover(shunt, 0, 1, error) < 0 ||
	    queue_list(shunt, ".msg", 0, 1, &bases, error) < 0) {
		queue_close(&shunt);
		return -1;
	}
	for (guint i = 0; i < bases->len && moved >= 0; i++) {
		const char *base = bases->pdata[i];
		struct queue_item *it = NULL;
		struct queue *dest;
		const char *whichq;

		if (queue_claim(shunt, base, error) <= 0 ||
		    queue_read(shunt, base, ".bak", &it, error) <= 0) {
			if (error != NULL && *error != NULL)
				moved = -1;
			continue;
		}
		whichq = queue_meta_get(it->meta, META_WHICHQ);
		dest = queue_open(var_dir, whichq != NULL ? whichq : QUEUE_IN, error);
		if (dest == NULL) {
			moved = -1;
		} else {
			queue_meta_remove(it->meta, META_WHICHQ);
			queue_meta_remove(it->meta, META_SHUNT_REASON);
			queue_meta_remove(it->meta, META_BAK_COUNT);
			if (queue_enqueue(dest, it->meta, it->msg, it->msg_len,
					  NULL, error) < 0 ||
			    queue_finish(shunt, base, error) < 0)
				moved = -1;
			else
				moved++;
			queue_close(&dest);
		}
		queue_item_free(&it);
	}
	g_ptr_array_free(bases, TRUE);
	queue_close(&shunt);
	return moved;
}
