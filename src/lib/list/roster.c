/*
 * roster.c - a list's members: a snapshot plus an append-only change log.
 *
 * Why this shape: Mailman rewrote the whole roster (inside config.pck) for
 * every subscription; a 100,000-member list paid megabytes of I/O per
 * change.  Here a change appends its records to changes.<gen> and a commit
 * record, then fsyncs: the cost is that of the change, not of the roster.
 *
 * Crash safety: every record carries a CRC-32; a reader applies records
 * only up to the last commit record whose CRC holds, so a change that a
 * crash cut short is invisible, and a torn last line is ignored.  The next
 * writer (under the list lock, so alone) cuts such a torn tail off before
 * it appends.  A snapshot is written to a new file and renamed into place,
 * then CURRENT is replaced the same way: a crash leaves the old generation
 * or the new one in force, both whole.
 *
 * NFS: one writer at a time (the lock), which opens the log after taking
 * the lock, so close-to-open consistency gives it the current size before
 * it appends.  Readers never lock; they reread CURRENT if a generation
 * vanished under them (compaction removes the one before the previous).
 */
#include "list/roster.h"
#include "mail/address.h"
#include "base/base.h"
#include "list/list_settings.h"
#include "base/log.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define ROSTER_SUBSYS "roster"
#define SNAPSHOT_MAGIC "herald-roster 3\n"
#define SNAPSHOT_MAGIC_2 "herald-roster 2\n"	/* no topics field: read */
#define SNAPSHOT_MAGIC_1 "herald-roster 1\n"	/* no bounce fields: read */
#define COMPACT_MIN (16 * 1024)
#define EXTRAS_BLOCK 64
#define LOAD_RETRIES 5
#define NFIELDS 18
#define NFIELDS_2 17	/* version 2's lines, without the topics */
#define NFIELDS_1 11	/* version 1's lines, without the bounce fields */

struct roster {
	GHashTable *by_key;	/* key -> struct lazy_member (see buffers) */
	struct lazy_member *block;	/* the snapshot's members, in file order */
	long block_len;
	/* Until something needs every member, the snapshot is not indexed:
	 * its lines (sorted by key) are searched by bisection, so a writer
	 * adding one member reads the file but builds no table of it. */
	gboolean indexed;
	char *snap_begin, *snap_end;	/* the member lines */
	long snap_count;
	GHashTable *removed;	/* keys removed since the snapshot (not indexed) */
	GHashTable *found;	/* key -> member found by bisection */
	GPtrArray *extra;	/* members added by changes since */
	GPtrArray *buffers;	/* file contents the members point into */
	int64_t gen;
	size_t snapshot_size, log_size;
	/* The notices owed (roster.h): "notice\tkey" -> struct owed, each
	 * with the order it was owed in. */
	GHashTable *owed;
	guint64 owed_seq;
	/* The length of the log's first change when it holds only owed
	 * notices: what a compaction carried over, which is not the log's
	 * growth. */
	size_t carried;
	/* Until something asks what is owed, the log's committed O and S
	 * records are only noted (struct log_notice, f[0] and f[1] the span
	 * of their fields): a writer that adds a member does not pay for
	 * them. */
	GArray *notice_recs;
	/* The snapshot, mapped (MAP_PRIVATE: parsing in place copies only
	 * the pages it writes); NULL when read into a buffer. */
	void *snap_map;
	size_t snap_map_len;
	GStringChunk *strings;		/* keep()'s copies */
	gboolean owed_only;	/* roster_load_owed's: no members */
	gboolean snap_v3;	/* the snapshot's lines are of this version */
	struct lazy_member *extras_block;	/* new_extra()'s, in blocks */
	guint extras_left;
};

struct owed {
	struct roster_owed o;	/* strings in the roster's buffers */
	guint64 seq;
};

struct roster_change {
	GString *records;	/* log lines, without the commit */
	GPtrArray *puts;	/* struct member copies, to apply in memory */
	GPtrArray *removes;	/* keys */
	GArray *notices;	/* struct log_notice, its strings owned */
	guint count;
};

/* --- names ---------------------------------------------------------------- */

static const char *const mode_names[] = { "regular", "mime", "plain" };
static const char *const status_names[] = { "enabled", "byuser", "byowner",
					    "bybounce" };
static const struct { const char *name; unsigned bit; } option_names[] = {
	{ "ack", OPT_ACK }, { "notmetoo", OPT_NOTMETOO }, { "hide", OPT_CONCEAL },
	{ "mod", OPT_MODERATE }, { "nodupes", OPT_NODUPES },
	{ "nmtopics", OPT_NMTOPICS },
};

const char *
member_mode_name(enum member_mode m)
{
	return mode_names[m];
}

static int
parse_name(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int
member_mode_parse(const char *s)
{
	return parse_name(s, mode_names, G_N_ELEMENTS(mode_names));
}

const char *
member_status_name(enum member_status s)
{
	return status_names[s];
}

int
member_status_parse(const char *s)
{
	return parse_name(s, status_names, G_N_ELEMENTS(status_names));
}

unsigned
member_option_bit(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(option_names); i++)
		if (strcmp(option_names[i].name, name) == 0)
			return option_names[i].bit;
	return 0;
}

char *
member_options_format(unsigned options)
{
	GString *out = g_string_new(NULL);

	for (size_t i = 0; i < G_N_ELEMENTS(option_names); i++) {
		if (!(options & option_names[i].bit))
			continue;
		if (out->len > 0)
			g_string_append_c(out, ',');
		g_string_append(out, option_names[i].name);
	}
	return g_string_free(out, FALSE);
}

int
member_options_parse(const char *s, unsigned *options_r)
{
	unsigned opts = 0;
	int ret = 0;

	/* By hand, not g_strsplit: it runs for every member of a roster. */
	while (*s != '\0') {
		const char *end = strchr(s, ',');
		size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
		unsigned bit = 0;

		for (size_t i = 0; len > 0 && i < G_N_ELEMENTS(option_names); i++)
			if (strlen(option_names[i].name) == len &&
			    memcmp(option_names[i].name, s, len) == 0)
				bit = option_names[i].bit;
		if (len > 0 && bit == 0)
			ret = -1;
		opts |= bit;
		s += len;
		if (*s == ',')
			s++;
	}
	*options_r = opts;
	return ret;
}

char *
member_password_hash(const char *password, GError **error)
{
	/* The same Argon2id hashing as list passwords. */
	return list_setting_normalise(list_setting_find("password"), password,
				      error);
}

gboolean
member_password_ok(const struct member *m, const char *candidate)
{
	return candidate != NULL && *m->password != '\0' &&
	       list_password_verify(m->password, candidate);
}

struct rehash {
	const char *addr;
	const char *old;	/* the hash that matched */
	char *hash;		/* the new one */
};

static int
rehash_edit(const struct roster *r, struct roster_change *c, void *ctx,
	    GError **error)
{
	struct rehash *rh = ctx;
	const struct member *m = roster_find(r, rh->addr);

	/* Changed or gone meanwhile: theirs stands. */
	if (m == NULL || strcmp(m->password, rh->old) != 0)
		return 0;
	struct member copy = *m;
	copy.password = rh->hash;
	roster_change_put(c, &copy);
	return 0;
}

void
member_password_rehash(struct list *l, const struct member *m,
		       const char *password)
{
	GError *error = NULL;
	struct rehash rh = { m->addr, m->password, NULL };

	if (!list_password_needs_rehash(m->password))
		return;
	rh.hash = member_password_hash(password, &error);
	if (rh.hash == NULL || roster_edit(l, rehash_edit, &rh, &error) < 0) {
		log_warning("roster", "%s: the password of %s matched but "
			    "could not be rehashed: %s", list_fqdn(l), m->addr,
			    error->message);
		g_error_free(error);
	}
	g_free(rh.hash);
}

/* --- CRC-32 (IEEE 802.3), for torn-record detection ----------------------- */

static uint32_t
crc32_of(const char *p, size_t len)
{
	/* zlib's CRC-32 is the same checksum (IEEE 802.3, reflected,
	 * ~0 in and out), computed several bytes at a time. */
	return (uint32_t)crc32(0L, (const Bytef *)p, (uInt)len);
}

/* --- fields ------------------------------------------------------------------ */

static void
append_field(GString *out, const char *v)
{
	for (; *v != '\0'; v++) {
		switch (*v) {
		case '\\': g_string_append(out, "\\\\"); break;
		case '\t': g_string_append(out, "\\t"); break;
		case '\n': g_string_append(out, "\\n"); break;
		case '\r': g_string_append(out, "\\r"); break;
		default: g_string_append_c(out, *v);
		}
	}
}

/* A weight or score: at most one decimal (halves), never a locale's
 * comma. */
static void
append_score(GString *out, double v)
{
	char buf[G_ASCII_DTOSTR_BUF_SIZE];

	g_string_append_c(out, '\t');
	g_string_append(out, g_ascii_formatd(buf, sizeof buf, "%.1f", v));
}

static void
append_bounce(GString *out, const struct member_bounce *b)
{
	append_score(out, b->score);
	g_string_append_printf(out, "\t%lld", (long long)b->last);
	append_score(out, b->last_weight);
	g_string_append_c(out, '\t');
	append_field(out, b->reason != NULL ? b->reason : "");
	g_string_append_printf(out, "\t%d\t%lld", b->notices_left,
			       (long long)b->last_notice);
}

/* key, addr, name, mode, status, status_time, reason, options, language,
 * subscribed, password, then the bounce info: score, last, last weight,
 * reason, notices left, last notice, then the topics: tab-separated. */
static void
append_member(GString *out, const struct member *m)
{
	char *opts = member_options_format(m->options);

	append_field(out, m->key);
	g_string_append_c(out, '\t');
	append_field(out, m->addr);
	g_string_append_c(out, '\t');
	append_field(out, m->name);
	g_string_append_printf(out, "\t%s\t%s\t%lld\t", mode_names[m->mode],
			       status_names[m->status], (long long)m->status_time);
	append_field(out, m->status_reason);
	g_string_append_printf(out, "\t%s\t", opts);
	append_field(out, m->language);
	g_string_append_printf(out, "\t%lld\t", (long long)m->subscribed);
	append_field(out, m->password);
	append_bounce(out, &m->bounce);
	g_string_append_c(out, '\t');
	append_field(out, m->topics != NULL ? m->topics : "");
	g_free(opts);
}

/* Unescapes [p, end) in place and NUL-terminates it. */
static char *
unescape_in_place(char *p, char *end)
{
	char *w = p;

	for (char *r = p; r < end; r++) {
		if (*r == '\\' && r + 1 < end) {
			r++;
			*w++ = *r == 't' ? '\t' : *r == 'n' ? '\n'
			     : *r == 'r' ? '\r' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return p;
}

/* A snapshot member whose line is parsed only when it is needed: loading
 * a roster to check who is a member (every add) then costs a key per line,
 * not eleven fields.  m.addr == NULL until parsed. */
struct lazy_member {
	struct member m;
	char *rest;		/* the fields after the key, up to '\n' */
	gboolean dead;		/* replaced or removed by a later change */
};

/* Splits off the key of line [p, end): NUL-terminates and unescapes it,
 * stores it in m->key and returns where the other fields start, or NULL if
 * the line has no fields after the key. */
static char *
parse_key(char *p, char *end, struct member *m)
{
	char *tab = memchr(p, '\t', (size_t)(end - p));

	if (tab == NULL || tab == p)
		return NULL;
	*tab = '\0';
	if (memchr(p, '\\', (size_t)(tab - p)) != NULL)
		unescape_in_place(p, tab);
	m->key = p;
	return tab + 1;
}

/* Parses the fields after the key, [p, end), in place into *m: a line of
 * version 3, of version 2 (no topics) or of version 1 (no bounce info
 * either).  The change log may hold lines of all three. */
static int
parse_rest(char *p, char *end, struct member *m)
{
	char *f[NFIELDS - 1];
	int n = 0, mode, status;
	gboolean escaped = FALSE;

	/* memchr, not a loop over every byte: this runs for every member of
	 * a 100,000-member roster at each delivery. */
	escaped = memchr(p, '\\', (size_t)(end - p)) != NULL;
	f[n++] = p;
	for (char *q = p; (q = memchr(q, '\t', (size_t)(end - q))) != NULL; q++) {
		if (n == NFIELDS - 1)
			return -1;
		*q = '\0';
		f[n++] = q + 1;
	}
	if (n != NFIELDS - 1 && n != NFIELDS_2 - 1 && n != NFIELDS_1 - 1)
		return -1;
	*end = '\0';
	for (int i = 0; escaped && i < n; i++) {
		char *fe = i + 1 < n ? f[i + 1] - 1 : end;
		unescape_in_place(f[i], fe);
	}
	mode = member_mode_parse(f[2]);
	status = member_status_parse(f[3]);
	if (mode < 0 || status < 0)
		return -1;
	m->addr = f[0];
	m->name = f[1];
	m->mode = mode;
	m->status = status;
	m->status_time = g_ascii_strtoll(f[4], NULL, 10);
	m->status_reason = f[5];
	(void)member_options_parse(f[6], &m->options);
	m->language = f[7];
	m->subscribed = g_ascii_strtoll(f[8], NULL, 10);
	m->password = f[9];
	memset(&m->bounce, 0, sizeof m->bounce);
	m->bounce.reason = "";
	m->topics = "";
	if (n >= NFIELDS_2 - 1) {
		m->bounce.score = g_ascii_strtod(f[10], NULL);
		m->bounce.last = g_ascii_strtoll(f[11], NULL, 10);
		m->bounce.last_weight = g_ascii_strtod(f[12], NULL);
		m->bounce.reason = f[13];
		m->bounce.notices_left = (int)g_ascii_strtoll(f[14], NULL, 10);
		m->bounce.last_notice = g_ascii_strtoll(f[15], NULL, 10);
	}
	if (n == NFIELDS - 1)
		m->topics = f[16];
	return 0;
}

/* Parses a whole member line [p, end) in place into *m (the buffer must
 * outlive the member).  Returns -1 if it does not have the right fields. */
static int
parse_member(char *p, char *end, struct member *m)
{
	char *rest = parse_key(p, end, m);

	return rest != NULL ? parse_rest(rest, end, m) : -1;
}

/* Makes a lazily loaded member whole.  A snapshot line that does not
 * parse (it never should: snapshots are written whole) yields a member
 * with empty fields and a log line, not a crash. */
static const struct member *
ensure_parsed(const struct member *cm)
{
	struct member *m = (struct member *)cm;

	if (m != NULL && m->addr == NULL) {
		struct lazy_member *z = (struct lazy_member *)m;
		/* Snapshot lines end in '\n' (checked when it was read). */
		if (parse_rest(z->rest, rawmemchr(z->rest, '\n'), m) < 0) {
			log_error(ROSTER_SUBSYS, "roster line of %s does not parse",
				  m->key);
			m->addr = m->key;
			m->name = m->status_reason = m->language = m->password = "";
			m->bounce.reason = m->topics = "";
		}
	}
	return m;
}

/* --- paths ------------------------------------------------------------------- */

static char *
roster_path(struct list *l, const char *name)
{
	return g_build_filename(list_dir(l), "roster", name, NULL);
}

static char *
gen_path(struct list *l, const char *what, int64_t gen)
{
	char *name = g_strdup_printf("%s.%lld", what, (long long)gen);
	char *p = roster_path(l, name);

	g_free(name);
	return p;
}

/* CURRENT: 1 and *gen_r, 0 when the list never had a roster, -1 error. */
static int
read_current(struct list *l, int64_t *gen_r, GError **error)
{
	char *path = roster_path(l, "CURRENT");
	char *text = NULL;
	int r = fs_read_file(path, &text, NULL, error);

	if (r == 1) {
		char *end;
		*gen_r = g_ascii_strtoll(text, &end, 10);
		if (*gen_r <= 0 || *end != '\n') {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
				    "%s: not a generation number", path);
			r = -1;
		}
	}
	g_free(text);
	g_free(path);
	return r;
}

/* --- loading ---------------------------------------------------------------- */

/* Every member the roster holds is a struct lazy_member; one that a later
 * change replaces or removes is marked dead, so that delivery can walk the
 * snapshot block in file order (cache-friendly) and skip it. */
static char *keep(struct roster *r, const char *s);

static void
roster_unput(struct roster *r, const char *key)
{
	struct lazy_member *old = g_hash_table_lookup(r->by_key, key);

	if (old != NULL) {
		old->dead = TRUE;
		g_hash_table_remove(r->by_key, key);
	}
	if (!r->indexed)
		g_hash_table_add(r->removed, keep(r, key));
}

static void
roster_put(struct roster *r, struct lazy_member *z)
{
	struct lazy_member *old = g_hash_table_lookup(r->by_key, z->m.key);

	if (old != NULL)
		old->dead = TRUE;
	if (!r->indexed)
		g_hash_table_remove(r->removed, z->m.key);
	g_hash_table_replace(r->by_key, z->m.key, z);
}

/* --- notices owed -------------------------------------------------------- */

static void ensure_owed(const struct roster *cr);

static char *
owed_id(const char *notice, const char *key)
{
	return g_strconcat(notice, "\t", key, NULL);
}

/* Notes notice as owed to key at addr; the strings live as long as r.
 * Owed already: the first record stands (one notice, however often it
 * was owed). */
static void
owe(struct roster *r, const char *notice, const char *key, const char *addr)
{
	char *id = owed_id(notice, key);
	struct owed *w;

	if (g_hash_table_contains(r->owed, id)) {
		g_free(id);
		return;
	}
	w = g_new0(struct owed, 1);
	w->o.notice = notice;
	w->o.key = key;
	w->o.addr = addr;
	w->seq = r->owed_seq++;
	g_hash_table_insert(r->owed, id, w);
}

static void
settle(struct roster *r, const char *id)
{
	struct owed *w = g_hash_table_lookup(r->owed, id);

	if (w == NULL)
		return;
	g_hash_table_remove(r->owed, id);
}

static gint
owed_by_seq(gconstpointer a, gconstpointer b)
{
	const struct owed *x = *(const struct owed *const *)a;
	const struct owed *y = *(const struct owed *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

GPtrArray *
roster_owed(const struct roster *r)
{
	GPtrArray *all = g_ptr_array_new();
	GHashTableIter it;
	gpointer w;

	ensure_owed(r);
	g_hash_table_iter_init(&it, r->owed);
	while (g_hash_table_iter_next(&it, NULL, &w))
		g_ptr_array_add(all, w);
	g_ptr_array_sort(all, owed_by_seq);
	/* struct roster_owed is each struct owed's first member. */
	return all;
}

gboolean
roster_is_owed(const struct roster *r, const char *notice, const char *key)
{
	char *id;
	gboolean owed;

	ensure_owed(r);
	id = owed_id(notice, key);
	owed = g_hash_table_contains(r->owed, id);

	g_free(id);
	return owed;
}

/* Splits [p, end) at tabs into exactly n fields, each unescaped in place
 * and NUL-terminated; FALSE when there are more or fewer. */
static gboolean
split_fields(char *p, char *end, char **f, int n)
{
	for (int i = 0; i < n; i++) {
		char *tab = memchr(p, '\t', (size_t)(end - p));

		if ((tab != NULL) != (i < n - 1))
			return FALSE;
		f[i] = unescape_in_place(p, tab != NULL ? tab : end);
		if (*f[i] == '\0')
			return FALSE;
		p = tab + 1;
	}
	return TRUE;
}

/* An O (owed) or S (settled) record of the log: notice, key and, owed,
 * the address. */
struct log_notice {
	gboolean owed;
	gboolean noted;		/* f[0] and f[1] are the span of its fields,
				 * not split yet (ensure_owed) */
	char *f[3];
};

static void
apply_notice(struct roster *r, const struct log_notice *n)
{
	if (n->owed) {
		owe(r, n->f[0], n->f[1], n->f[2]);
	} else {
		char *id = owed_id(n->f[0], n->f[1]);
		settle(r, id);
		g_free(id);
	}
}

/* Applies the log's noted O and S records, once.  One whose fields do not
 * split is skipped, with a warning. */
static void
ensure_owed(const struct roster *cr)
{
	struct roster *r = (struct roster *)cr;

	if (r->notice_recs == NULL)
		return;
	for (guint i = 0; i < r->notice_recs->len; i++) {
		struct log_notice n = g_array_index(r->notice_recs,
						    struct log_notice, i);
		char *begin = n.f[0], *end = n.f[1];

		if (!n.noted || split_fields(begin, end, n.f, n.owed ? 3 : 2))
			apply_notice(r, &n);
		else
			log_warning(ROSTER_SUBSYS, "a roster's %s record with "
				    "the wrong fields is skipped",
				    n.owed ? "owed notice" : "settled notice");
	}
	g_array_free(r->notice_recs, TRUE);
	r->notice_recs = NULL;
}

/* A member parsed whole (from the log or a change), owned by the roster. */
static struct lazy_member *
new_extra(struct roster *r)
{
	struct lazy_member *z;

	/* In blocks too, for the same reason as keep()'s strings. */
	if (r->extras_left == 0) {
		r->extras_block = g_new0(struct lazy_member, EXTRAS_BLOCK);
		g_ptr_array_add(r->buffers, r->extras_block);
		r->extras_left = EXTRAS_BLOCK;
	}
	z = &r->extras_block[EXTRAS_BLOCK - r->extras_left--];
	g_ptr_array_add(r->extra, z);
	return z;
}

/* Gives the mapped snapshot's pages from *from up to upto back (a
 * private mapping: read again, they come from the file), and moves *from
 * on; done every SNAP_LET_GO bytes, so that reading the whole file does
 * not hold it whole.  Only for pages nothing points into: read only, or
 * parsed by a scan that has copied what it needed. */
#define SNAP_LET_GO (1u << 20)

static void
snap_let_go(const struct roster *r, const char **from, const char *upto)
{
	static size_t page;
	const char *base = r->snap_map;

	if (base == NULL || upto - *from < (ptrdiff_t)SNAP_LET_GO)
		return;
	if (page == 0)
		page = (size_t)sysconf(_SC_PAGESIZE);
	const char *to = base + (size_t)(upto - base) / page * page;
	if (to > *from) {
		(void)madvise((void *)*from, (size_t)(to - *from), MADV_DONTNEED);
		*from = to;
	}
}

static int
load_snapshot(struct roster *r, const char *path, GError **error)
{
	char *buf, *p, *end, *last;
	size_t len;
	gboolean mapped;
	int rd = fs_load_file(path, &buf, &len, &mapped, error);
	long count = 0, want;

	if (rd <= 0)
		return rd == 0 ? 0 : -1;
	if (mapped) {
		r->snap_map = buf;
		r->snap_map_len = len;
	} else {
		g_ptr_array_add(r->buffers, buf);
	}
	r->snapshot_size = len;
	G_STATIC_ASSERT(sizeof SNAPSHOT_MAGIC == sizeof SNAPSHOT_MAGIC_1);
	G_STATIC_ASSERT(sizeof SNAPSHOT_MAGIC == sizeof SNAPSHOT_MAGIC_2);
	if (len < strlen(SNAPSHOT_MAGIC) ||
	    (memcmp(buf, SNAPSHOT_MAGIC, strlen(SNAPSHOT_MAGIC)) != 0 &&
	     memcmp(buf, SNAPSHOT_MAGIC_2, strlen(SNAPSHOT_MAGIC_2)) != 0 &&
	     memcmp(buf, SNAPSHOT_MAGIC_1, strlen(SNAPSHOT_MAGIC_1)) != 0))
		goto corrupt;
	/* The last line, "end <count>", and that many lines before it prove
	 * the file is whole. */
	end = buf + len;
	if (len < 2 || end[-1] != '\n')
		goto corrupt;
	last = memrchr(buf, '\n', len - 1);
	if (last == NULL || strncmp(last + 1, "end ", 4) != 0)
		goto corrupt;
	want = strtol(last + 5, NULL, 10);
	if (want < 0 || (size_t)want > len / NFIELDS_1)
		goto corrupt;
	p = buf + strlen(SNAPSHOT_MAGIC);
	if (p > last + 1)
		goto corrupt;
	const char *let_go = buf;
	for (char *q = p; q < last + 1 && (q = memchr(q, '\n', (size_t)(last + 1 - q))) != NULL; q++) {
		count++;
		snap_let_go(r, &let_go, q);
	}
	if (count != want)
		goto corrupt;
	r->snap_begin = p;
	r->snap_end = last + 1;
	r->snap_count = count;
	r->snap_v3 = memcmp(buf, SNAPSHOT_MAGIC, strlen(SNAPSHOT_MAGIC)) == 0;
	r->indexed = FALSE;
	return 1;
corrupt:
	g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
		    "%s: corrupt roster snapshot", path);
	return -1;
}

/* Indexes the snapshot: every line that no later change replaced or
 * removed becomes a member of the table.  Done once, when something needs
 * every member (listing, delivery, compaction). */
static void
ensure_index(const struct roster *cr)
{
	struct roster *r = (struct roster *)cr;
	struct lazy_member *block;
	char *p = r->snap_begin;
	long count = 0;

	if (r->indexed)
		return;
	r->indexed = TRUE;
	if (p == NULL)
		return;
	/* One block for all the snapshot's members: a 100,000-member roster
	 * is loaded for every delivery. */
	block = g_new0(struct lazy_member, r->snap_count > 0 ? r->snap_count : 1);
	g_ptr_array_add(r->buffers, block);
	r->block = block;
	/* Usually no change since the snapshot: then no look-ups per line. */
	gboolean changed = g_hash_table_size(r->by_key) > 0 ||
			   g_hash_table_size(r->removed) > 0;
	while (p < r->snap_end && count < r->snap_count) {
		char *nl = memchr(p, '\n', (size_t)(r->snap_end - p));
		struct lazy_member *z = &block[count];

		z->rest = parse_key(p, nl, &z->m);
		count++;
		p = nl + 1;
		if (z->rest == NULL) {
			log_error(ROSTER_SUBSYS, "a roster snapshot line has no "
				  "fields; skipped");
			z->dead = TRUE;
			continue;
		}
		/* A later change replaced or removed it: the change wins. */
		if (changed && (g_hash_table_contains(r->by_key, z->m.key) ||
				g_hash_table_contains(r->removed, z->m.key))) {
			z->dead = TRUE;
			continue;
		}
		g_hash_table_insert(r->by_key, z->m.key, z);
	}
	r->block_len = count;
}

/* The unescaped key of the snapshot line starting at p (a new string). */
static char *
line_key(const char *p, const char *end)
{
	const char *tab = memchr(p, '\t', (size_t)(end - p));
	char *key = g_strndup(p, (gsize)((tab != NULL ? tab : end) - p));

	if (strchr(key, '\\') != NULL)
		unescape_in_place(key, key + strlen(key));
	return key;
}

/* Finds key in the (sorted) snapshot lines by bisection and returns a
 * parsed copy of its line, or NULL. */
static struct lazy_member *
bisect_snapshot(struct roster *r, const char *key)
{
	char *lo = r->snap_begin, *hi = r->snap_end;

	while (lo != NULL && lo < hi) {
		char *mid = lo + (hi - lo) / 2;
		char *start = mid > lo ? memrchr(lo, '\n', (size_t)(mid - lo)) : NULL;
		char *line = start != NULL ? start + 1 : lo;
		char *nl = memchr(line, '\n', (size_t)(hi - line));
		char *k;
		int cmp;

		if (nl == NULL)
			return NULL;
		k = line_key(line, nl);
		cmp = strcmp(k, key);
		g_free(k);
		if (cmp == 0) {
			struct lazy_member *z = g_new0(struct lazy_member, 1);
			char *copy = g_strndup(line, (gsize)(nl - line));

			g_ptr_array_add(r->buffers, copy);
			g_ptr_array_add(r->buffers, z);
			if (parse_member(copy, copy + (nl - line), &z->m) < 0)
				return NULL;
			g_hash_table_insert(r->found, z->m.key, z);
			return z;
		}
		if (cmp < 0)
			lo = nl + 1;
		else
			hi = line;
	}
	return NULL;
}

/* Applies the committed records of a change log.  *valid_len_r gets the
 * length of the well-formed prefix (a torn tail is cut there by writers). */
static int
load_log(struct roster *r, const char *path, size_t *valid_len_r,
	 GError **error)
{
	GPtrArray *pending_puts = g_ptr_array_new();
	GPtrArray *pending_removes = g_ptr_array_new();
	/* Owed and settled notices, in record order, noted (ensure_owed). */
	GArray *pending_notices = g_array_new(FALSE, FALSE, sizeof(struct log_notice));
	char *buf, *p, *end;
	size_t len, committed = 0;
	gboolean settles = FALSE;	/* the change has an S record */
	int rd = fs_read_file(path, &buf, &len, error);

	*valid_len_r = 0;
	if (rd <= 0) {
		g_ptr_array_free(pending_puts, TRUE);
		g_ptr_array_free(pending_removes, TRUE);
		g_array_free(pending_notices, TRUE);
		return rd;
	}
	g_ptr_array_add(r->buffers, buf);
	p = buf;
	end = buf + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		uint32_t crc;

		if (nl == NULL || nl - p < 10 || p[8] != ' ')
			break;		/* torn tail */
		crc = (uint32_t)strtoul(p, NULL, 16);
		if (crc != crc32_of(p + 9, (size_t)(nl - p - 9)))
			break;
		if (p[9] == 'C' && nl == p + 10) {
			for (guint i = 0; i < pending_removes->len; i++)
				roster_unput(r, pending_removes->pdata[i]);
			for (guint i = 0; i < pending_puts->len; i++) {
				struct lazy_member *z = pending_puts->pdata[i];
				g_ptr_array_add(r->buffers, z);
				g_ptr_array_add(r->extra, z);
				roster_put(r, z);
			}
			if (pending_notices->len > 0 && r->notice_recs == NULL)
				r->notice_recs = g_array_new(FALSE, FALSE,
							     sizeof(struct log_notice));
			if (pending_notices->len > 0)
				g_array_append_vals(r->notice_recs,
						    pending_notices->data,
						    pending_notices->len);
			/* The first change, all owed notices: carried. */
			if (committed == 0 && pending_puts->len == 0 &&
			    pending_removes->len == 0 && pending_notices->len > 0 &&
			    !settles)
				r->carried = (size_t)(nl + 1 - buf);
			settles = FALSE;
			g_ptr_array_set_size(pending_puts, 0);
			g_ptr_array_set_size(pending_removes, 0);
			g_array_set_size(pending_notices, 0);
			committed = (size_t)(nl + 1 - buf);
		} else if (r->owed_only && (p[9] == '+' || p[9] == '-') &&
			   p[10] == ' ') {
			/* Checked (the CRC), not applied: only notices wanted. */
		} else if (p[9] == '+' && p[10] == ' ') {
			struct lazy_member *z = g_new0(struct lazy_member, 1);
			if (parse_member(p + 11, nl, &z->m) < 0) {
				g_free(z);
				break;
			}
			g_ptr_array_add(pending_puts, z);
		} else if (p[9] == '-' && p[10] == ' ') {
			*nl = '\0';
			g_ptr_array_add(pending_removes,
					unescape_in_place(p + 11, nl));
		} else if ((p[9] == 'O' || p[9] == 'S') && p[10] == ' ') {
			struct log_notice n = { .owed = p[9] == 'O', .noted = TRUE,
						.f = { p + 11, nl, NULL } };

			settles |= !n.owed;

			g_array_append_val(pending_notices, n);
		} else {
			break;
		}
		p = nl + 1;
	}
	/* Records after the last commit belong to a change that did not
	 * finish: they are not applied. */
	for (guint i = 0; i < pending_puts->len; i++)
		g_free(pending_puts->pdata[i]);
	g_ptr_array_free(pending_puts, TRUE);
	g_ptr_array_free(pending_removes, TRUE);
	g_array_free(pending_notices, TRUE);
	r->log_size = len;
	*valid_len_r = committed;
	return 1;
}

static struct roster *
roster_new(void)
{
	struct roster *r = g_new0(struct roster, 1);

	/* Members live in blocks and buffers that r->buffers frees. */
	r->by_key = g_hash_table_new(g_str_hash, g_str_equal);
	r->buffers = g_ptr_array_new_with_free_func(g_free);
	r->extra = g_ptr_array_new();
	r->removed = g_hash_table_new(g_str_hash, g_str_equal);
	r->found = g_hash_table_new(g_str_hash, g_str_equal);
	r->owed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return r;
}

void
roster_free(struct roster **rp)
{
	struct roster *r = *rp;

	if (r == NULL)
		return;
	g_hash_table_destroy(r->by_key);
	g_hash_table_destroy(r->removed);
	g_hash_table_destroy(r->found);
	g_hash_table_destroy(r->owed);
	if (r->notice_recs != NULL)
		g_array_free(r->notice_recs, TRUE);
	fs_unmap_file(r->snap_map, r->snap_map_len);
	if (r->strings != NULL)
		g_string_chunk_free(r->strings);
	g_ptr_array_free(r->extra, TRUE);
	g_ptr_array_free(r->buffers, TRUE);
	g_free(r);
	*rp = NULL;
}

/* Loads generation gen; *log_valid_r as in load_log.  0 when a file of it
 * vanished (compaction removed it): the caller rereads CURRENT. */
static int
load_gen(struct list *l, int64_t gen, struct roster **roster_r,
	 size_t *log_valid_r, GError **error)
{
	struct roster *r = roster_new();
	char *snap = gen_path(l, "members", gen);
	char *log = gen_path(l, "changes", gen);
	int rs, rl;

	r->gen = gen;
	rs = load_snapshot(r, snap, error);
	rl = rs == 1 ? load_log(r, log, log_valid_r, error) : 0;
	g_free(snap);
	g_free(log);
	if (rs <= 0 || rl < 0) {
		roster_free(&r);
		return rs < 0 || rl < 0 ? -1 : 0;
	}
	*roster_r = r;
	return 1;
}

static int
load_current(struct list *l, struct roster **roster_r, size_t *log_valid_r,
	     GError **error)
{
	for (int i = 0; i < LOAD_RETRIES; i++) {
		int64_t gen = 0;
		int r = read_current(l, &gen, error);

		if (r < 0)
			return -1;
		if (r == 0) {
			*roster_r = roster_new();
			*log_valid_r = 0;
			return 0;
		}
		r = load_gen(l, gen, roster_r, log_valid_r, error);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
		    "roster of %s: generations kept vanishing while reading",
		    list_fqdn(l));
	return -1;
}

int
roster_load(struct list *l, struct roster **roster_r, GError **error)
{
	size_t valid;

	return load_current(l, roster_r, &valid, error) < 0 ? -1 : 0;
}

int
roster_load_owed(struct list *l, struct roster **roster_r, GError **error)
{
	int64_t gen = 0;
	size_t valid;
	struct roster *r = roster_new();
	int ret = read_current(l, &gen, error);

	r->owed_only = TRUE;
	if (ret > 0) {
		char *log = gen_path(l, "changes", gen);
		ret = load_log(r, log, &valid, error);
		g_free(log);
	}
	if (ret < 0) {
		roster_free(&r);
		return -1;
	}
	/* A log a compaction removed meanwhile: nothing owed is lost, its
	 * notices were carried into the next; the next look sees them. */
	r->gen = gen;
	*roster_r = r;
	return 0;
}

/* The files' identities: a change appends to changes.<gen> (its size
 * and mtime move), a compaction moves CURRENT to a new gen, a list made
 * anew has new inodes.  stat() only: no file is read but CURRENT. */
char *
roster_version(struct list *l, GError **error)
{
	int64_t gen = 0;
	int r = read_current(l, &gen, error);
	GString *v;

	if (r < 0)
		return NULL;
	v = g_string_new(NULL);
	g_string_append_printf(v, "%" G_GINT64_FORMAT, gen);
	for (int i = 0; r == 1 && i < 2; i++) {
		char *path = gen_path(l, i == 0 ? "members" : "changes", gen);
		struct stat st;

		if (stat(path, &st) < 0) {
			/* changes.<gen> is made by the first change after
			 * a compaction: until then it is absent. */
			if (errno == ENOENT) {
				g_string_append(v, ":-");
				g_free(path);
				continue;
			}
			set_errno_error(error, "stat(%s)", path);
			g_free(path);
			g_string_free(v, TRUE);
			return NULL;
		}
		g_string_append_printf(v, ":%llu:%lld:%lld.%09ld",
				       (unsigned long long)st.st_ino,
				       (long long)st.st_size,
				       (long long)st.st_mtim.tv_sec,
				       st.st_mtim.tv_nsec);
		g_free(path);
	}
	return g_string_free(v, FALSE);
}

int
roster_scan(struct list *l, roster_scan_fn fn, void *ctx, GError **error)
{
	struct roster *r = NULL;
	size_t valid;

	if (load_current(l, &r, &valid, error) < 0)
		return -1;
	if (r->indexed) {
		for (long i = 0; i < r->block_len; i++)
			if (!r->block[i].dead)
				fn(ensure_parsed(&r->block[i].m), ctx);
	} else if (r->snap_begin != NULL) {
		/* As ensure_index reads the snapshot, but each line into the
		 * same lazy member: this roster is the scan's own, so its
		 * buffer may be parsed in place once and thrown away. */
		gboolean changed = g_hash_table_size(r->by_key) > 0 ||
				   g_hash_table_size(r->removed) > 0;
		char *p = r->snap_begin;
		const char *let_go = r->snap_map;

		for (long n = 0; p < r->snap_end && n < r->snap_count; n++) {
			char *nl = memchr(p, '\n', (size_t)(r->snap_end - p));
			struct lazy_member z = { 0 };

			snap_let_go(r, &let_go, p);
			z.rest = parse_key(p, nl, &z.m);
			p = nl + 1;
			if (z.rest == NULL ||
			    (changed && (g_hash_table_contains(r->by_key, z.m.key) ||
					 g_hash_table_contains(r->removed, z.m.key))))
				continue;
			fn(ensure_parsed(&z.m), ctx);
		}
	}
	for (guint i = 0; i < r->extra->len; i++) {
		struct lazy_member *z = r->extra->pdata[i];

		if (!z->dead)
			fn(&z->m, ctx);
	}
	roster_free(&r);
	return 0;
}

guint
roster_count(const struct roster *r)
{
	ensure_index(r);
	return g_hash_table_size(r->by_key);
}

const struct member *
roster_find(const struct roster *r, const char *addr)
{
	char *key = address_key(addr);
	const struct member *m = NULL;

	if (key == NULL)	/* not an address: try it as written */
		key = g_ascii_strdown(addr, -1);
	m = g_hash_table_lookup(r->by_key, key);
	if (m == NULL && !r->indexed &&
	    !g_hash_table_contains(r->removed, key)) {
		struct roster *w = (struct roster *)r;
		struct lazy_member *z = g_hash_table_lookup(r->found, key);
		m = z != NULL ? &z->m : NULL;
		if (m == NULL && (z = bisect_snapshot(w, key)) != NULL)
			m = &z->m;
	}
	g_free(key);
	return ensure_parsed(m);
}

static gint
member_compare(gconstpointer a, gconstpointer b)
{
	const struct member *x = *(const struct member *const *)a;
	const struct member *y = *(const struct member *const *)b;

	return strcmp(x->key, y->key);
}

GPtrArray *
roster_members(const struct roster *r, gboolean sorted)
{
	GPtrArray *out;

	ensure_index(r);
	out = g_ptr_array_sized_new(g_hash_table_size(r->by_key));
	/* The snapshot in file order, then what changes added: memory order,
	 * not hash order, for 100,000 members at each delivery. */
	for (long i = 0; i < r->block_len; i++)
		if (!r->block[i].dead)
			g_ptr_array_add(out, (gpointer)ensure_parsed(&r->block[i].m));
	for (guint i = 0; i < r->extra->len; i++) {
		struct lazy_member *z = r->extra->pdata[i];
		if (!z->dead)
			g_ptr_array_add(out, &z->m);
	}
	if (sorted)
		g_ptr_array_sort(out, member_compare);
	return out;
}

/* --- changes ------------------------------------------------------------------ */

struct roster_change *
roster_change_new(void)
{
	struct roster_change *c = g_new0(struct roster_change, 1);

	c->records = g_string_new(NULL);
	c->puts = g_ptr_array_new();
	c->removes = g_ptr_array_new_with_free_func(g_free);
	c->notices = g_array_new(FALSE, FALSE, sizeof(struct log_notice));
	return c;
}

static void
member_copy_free(gpointer p)
{
	struct member *m = p;

	g_free(m->key);
	g_free(m->addr);
	g_free(m->name);
	g_free(m->status_reason);
	g_free(m->language);
	g_free(m->password);
	g_free(m->bounce.reason);
	g_free(m->topics);
	g_free(m);
}

void
roster_change_free(struct roster_change **cp)
{
	struct roster_change *c = *cp;

	if (c == NULL)
		return;
	g_string_free(c->records, TRUE);
	for (guint i = 0; i < c->puts->len; i++)
		member_copy_free(c->puts->pdata[i]);
	g_ptr_array_free(c->puts, TRUE);
	g_ptr_array_free(c->removes, TRUE);
	for (guint i = 0; i < c->notices->len; i++) {
		struct log_notice *n = &g_array_index(c->notices, struct log_notice, i);
		for (int j = 0; j < 3; j++)
			g_free(n->f[j]);
	}
	g_array_free(c->notices, TRUE);
	g_free(c);
	*cp = NULL;
}

static void
append_record(GString *out, const char *payload, size_t len)
{
	g_string_append_printf(out, "%08x ", crc32_of(payload, len));
	g_string_append_len(out, payload, (gssize)len);
	g_string_append_c(out, '\n');
}

void
roster_change_put(struct roster_change *c, const struct member *m)
{
	struct member *copy = g_new(struct member, 1);
	GString *line = g_string_new("+ ");

	*copy = *m;
	copy->key = g_strdup(m->key);
	copy->addr = g_strdup(m->addr);
	copy->name = g_strdup(m->name != NULL ? m->name : "");
	copy->status_reason = g_strdup(m->status_reason != NULL ? m->status_reason : "");
	copy->language = g_strdup(m->language != NULL ? m->language : "");
	copy->password = g_strdup(m->password != NULL ? m->password : "");
	copy->bounce.reason = g_strdup(m->bounce.reason != NULL ? m->bounce.reason : "");
	copy->topics = g_strdup(m->topics != NULL ? m->topics : "");
	g_ptr_array_add(c->puts, copy);
	append_member(line, copy);
	append_record(c->records, line->str, line->len);
	g_string_free(line, TRUE);
	c->count++;
}

void
roster_change_remove(struct roster_change *c, const char *addr)
{
	char *key = address_key(addr);
	GString *line = g_string_new("- ");

	if (key == NULL)
		key = g_ascii_strdown(addr, -1);
	append_field(line, key);
	append_record(c->records, line->str, line->len);
	g_string_free(line, TRUE);
	g_ptr_array_add(c->removes, key);
	c->count++;
}

/* An O or S record of notice for key (and, owed, addr). */
static void
change_notice(struct roster_change *c, gboolean owed, const char *notice,
	      const char *key, const char *addr)
{
	struct log_notice n = { .owed = owed };
	GString *line = g_string_new(owed ? "O " : "S ");

	n.f[0] = g_strdup(notice);
	n.f[1] = g_strdup(key);
	n.f[2] = g_strdup(addr);
	append_field(line, notice);
	g_string_append_c(line, '\t');
	append_field(line, key);
	if (owed) {
		g_string_append_c(line, '\t');
		append_field(line, addr);
	}
	append_record(c->records, line->str, line->len);
	g_array_append_val(c->notices, n);
	g_string_free(line, TRUE);
	c->count++;
}

void
roster_change_owe(struct roster_change *c, const char *notice,
		  const struct member *m)
{
	change_notice(c, TRUE, notice, m->key, m->addr);
}

void
roster_change_settle(struct roster_change *c, const struct roster_owed *o)
{
	change_notice(c, FALSE, o->notice, o->key, NULL);
}

guint
roster_change_count(const struct roster_change *c)
{
	return c->count;
}

/* Applies a committed change to a loaded roster (in memory).  The roster
 * gets its own copies of the strings, kept in its buffer list. */
static char *
keep(struct roster *r, const char *s)
{
	/* In blocks of their own: a roster kept between changes holds them
	 * for long, and one by one among the requests' short-lived
	 * allocations they would keep the heap from shrinking. */
	if (r->strings == NULL)
		r->strings = g_string_chunk_new(4096);
	return g_string_chunk_insert(r->strings, s);
}

static void
apply_in_memory(struct roster *r, struct roster_change *c)
{
	for (guint i = 0; i < c->removes->len; i++)
		roster_unput(r, c->removes->pdata[i]);
	for (guint i = 0; i < c->puts->len; i++) {
		const struct member *m = c->puts->pdata[i];
		struct lazy_member *z = new_extra(r);
		struct member *own = &z->m;

		*own = *m;
		own->key = keep(r, m->key);
		own->addr = keep(r, m->addr);
		own->name = keep(r, m->name);
		own->status_reason = keep(r, m->status_reason);
		own->language = keep(r, m->language);
		own->password = keep(r, m->password);
		own->bounce.reason = keep(r, m->bounce.reason);
		own->topics = keep(r, m->topics);
		roster_put(r, z);
	}
	/* The notices go after the log's: applied when those are, or now
	 * if they were. */
	for (guint i = 0; i < c->notices->len; i++) {
		const struct log_notice *n = &g_array_index(c->notices,
							    struct log_notice, i);
		struct log_notice kept = *n;

		for (int j = 0; j < 3; j++)
			kept.f[j] = n->f[j] != NULL ? keep(r, n->f[j]) : NULL;
		if (r->notice_recs != NULL)
			g_array_append_val(r->notice_recs, kept);
		else
			apply_notice(r, &kept);
	}
}

/* --- writing ------------------------------------------------------------------ */

/* A snapshot being written: its text goes out a buffer at a time, so
 * that writing one costs a buffer, not the roster's size, in memory. */
struct snap_out {
	int fd;
	const char *path;
	GString *buf;
	guint count;		/* member lines */
	int failed;
};

#define SNAP_BUFFER (64 * 1024)

static void
snap_flush(struct snap_out *o, GError **error)
{
	if (o->failed == 0 && o->buf->len > 0 &&
	    fs_write_all(o->fd, o->buf->str, o->buf->len, o->path, error) < 0)
		o->failed = -1;
	g_string_truncate(o->buf, 0);
}

/* One member line: as written in a version 3 snapshot already (raw, with
 * its '\n'), or made from m. */
static void
snap_line(struct snap_out *o, const char *raw, size_t raw_len,
	  const struct member *m, GError **error)
{
	if (raw != NULL) {
		g_string_append_len(o->buf, raw, (gssize)raw_len);
	} else {
		append_member(o->buf, m);
		g_string_append_c(o->buf, '\n');
	}
	o->count++;
	if (o->buf->len >= SNAP_BUFFER)
		snap_flush(o, error);
}

/* The members in key order by merging: the snapshot's lines (sorted by
 * key) that no change since replaced or removed, copied as they are, and
 * the members the changes put, sorted.  No table of every member is
 * built and no line parsed but for its key: compacting a 100,000-member
 * roster costs its changes in memory, not the roster. */
static void
snap_merge(struct snap_out *o, struct roster *r, GError **error)
{
	GPtrArray *puts = g_ptr_array_new();
	GHashTableIter it;
	gpointer z;
	char *p = r->snap_begin;
	guint e = 0;

	/* Unindexed, by_key holds exactly the members put since. */
	g_hash_table_iter_init(&it, r->by_key);
	while (g_hash_table_iter_next(&it, NULL, &z))
		g_ptr_array_add(puts, &((struct lazy_member *)z)->m);
	g_ptr_array_sort(puts, member_compare);
	for (long n = 0; p != NULL && p < r->snap_end && n < r->snap_count; n++) {
		char *nl = memchr(p, '\n', (size_t)(r->snap_end - p));
		char *key = line_key(p, nl);

		while (e < puts->len &&
		       strcmp(((struct member *)puts->pdata[e])->key, key) < 0)
			snap_line(o, NULL, 0, puts->pdata[e++], error);
		if (!g_hash_table_contains(r->by_key, key) &&
		    !g_hash_table_contains(r->removed, key))
			snap_line(o, p, (size_t)(nl + 1 - p), NULL, error);
		g_free(key);
		p = nl + 1;
	}
	while (e < puts->len)
		snap_line(o, NULL, 0, puts->pdata[e++], error);
	g_ptr_array_free(puts, TRUE);
}

static int
write_snapshot(struct list *l, struct roster *r, int64_t gen, GError **error)
{
	char *path = gen_path(l, "members", gen);
	char *tmp = g_strdup_printf("%s.tmp.%s.%d", path, herald_host(), (int)getpid());
	char *dir = roster_path(l, NULL);
	struct snap_out o = { .path = tmp, .buf = g_string_sized_new(SNAP_BUFFER + 4096) };
	struct stat st;
	int ret = -1;

	(void)fs_unlink(tmp);	/* a leftover of ours from a crash */
	o.fd = fs_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0660);
	if (o.fd < 0) {
		set_errno_error(error, "open(%s)", tmp);
		goto out;
	}
	g_string_append(o.buf, SNAPSHOT_MAGIC);
	if (!r->indexed && r->snap_v3) {
		snap_merge(&o, r, error);
	} else {
		/* Indexed already, or an older version's lines to rewrite. */
		GPtrArray *members = roster_members(r, TRUE);
		for (guint i = 0; i < members->len; i++)
			snap_line(&o, NULL, 0, members->pdata[i], error);
		g_ptr_array_free(members, TRUE);
	}
	g_string_append_printf(o.buf, "end %u\n", o.count);
	snap_flush(&o, error);
	if (o.failed == 0 && fstat(o.fd, &st) < 0) {
		set_errno_error(error, "fstat(%s)", tmp);
		o.failed = -1;
	}
	if (o.failed < 0) {
		close(o.fd);
		(void)fs_unlink(tmp);
		goto out;
	}
	if (fs_sync_close(&o.fd, tmp, error) < 0) {
		(void)fs_unlink(tmp);
		goto out;
	}
	ret = fs_commit_rename(tmp, path, dir, st.st_ino, error);
out:
	g_string_free(o.buf, TRUE);
	g_free(path);
	g_free(tmp);
	g_free(dir);
	return ret;
}

static int
write_current(struct list *l, int64_t gen, GError **error)
{
	char *path = roster_path(l, "CURRENT");
	char *text = g_strdup_printf("%lld\n", (long long)gen);
	int r = fs_write_atomic(path, text, strlen(text), error);

	g_free(text);
	g_free(path);
	return r;
}

/* Writes r as generation r->gen + 1 and makes it current; removes the
 * generation before the one that was current (a reader may still be on
 * that one). */
/* Starts generation gen's change log with the notices r still owes, as
 * one committed change (written whole and renamed into place), so that a
 * compaction forgets none; with none owed, removes any log of gen a
 * compaction that died left behind. */
static int
write_owed_log(struct list *l, struct roster *r, int64_t gen, GError **error)
{
	char *path = gen_path(l, "changes", gen);
	GPtrArray *owed = roster_owed(r);
	int ret;

	if (owed->len == 0) {
		ret = fs_unlink(path) < 0 && errno != ENOENT ? -1 : 0;
		if (ret < 0)
			set_errno_error(error, "unlink(%s)", path);
		r->log_size = r->carried = 0;
	} else {
		struct roster_change *c = roster_change_new();
		char *tmp = g_strdup_printf("%s.tmp.%s.%d", path, herald_host(),
					    (int)getpid());
		char *dir = roster_path(l, NULL);
		ino_t ino;

		for (guint i = 0; i < owed->len; i++) {
			const struct roster_owed *o = owed->pdata[i];
			struct member m = { .key = (char *)o->key,
					    .addr = (char *)o->addr };
			roster_change_owe(c, o->notice, &m);
		}
		append_record(c->records, "C", 1);
		(void)fs_unlink(tmp);
		ret = fs_create_synced(tmp, c->records->str, c->records->len,
				       &ino, error);
		if (ret == 0)
			ret = fs_commit_rename(tmp, path, dir, ino, error);
		r->log_size = r->carried = c->records->len;
		g_free(tmp);
		g_free(dir);
		roster_change_free(&c);
	}
	g_ptr_array_free(owed, TRUE);
	g_free(path);
	return ret;
}

static int
compact(struct list *l, struct roster *r, GError **error)
{
	int64_t gen = r->gen + 1;

	if (write_snapshot(l, r, gen, error) < 0 ||
	    write_owed_log(l, r, gen, error) < 0 ||
	    write_current(l, gen, error) < 0)
		return -1;
	for (int64_t old = r->gen - 1; old >= 1 && old >= r->gen - 2; old--) {
		char *s = gen_path(l, "members", old);
		char *c = gen_path(l, "changes", old);
		(void)fs_unlink(s);
		(void)fs_unlink(c);
		g_free(s);
		g_free(c);
	}
	log_info(ROSTER_SUBSYS, "%s: roster compacted into generation %lld "
		 "(%u members)", list_fqdn(l), (long long)gen, roster_count(r));
	r->gen = gen;
	return 0;
}

/* Appends the change and its commit to changes.<gen>, cutting off a torn
 * tail first, then fsyncs.  kept: r is a kept roster (below), whose log
 * must be exactly valid_len long: anything else is refused, never cut. */
static int
append_change(struct list *l, struct roster *r, size_t valid_len,
	      gboolean kept, struct roster_change *c, GError **error)
{
	char *path = gen_path(l, "changes", r->gen);
	GString *data = g_string_new_len(c->records->str, (gssize)c->records->len);
	struct stat st;
	int fd, ret = -1;
	gboolean created;

	append_record(data, "C", 1);
	fd = fs_open(path, O_WRONLY | O_CREAT, 0660);
	if (fd < 0) {
		set_errno_error(error, "open(%s)", path);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		set_errno_error(error, "fstat(%s)", path);
		close(fd);
		goto out;
	}
	created = st.st_size == 0;
	if (kept && (size_t)st.st_size != valid_len) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "%s changed under a roster kept in memory: the "
			    "change is not made", path);
		close(fd);
		goto out;
	}
	/* What a crashed writer left after the last commit is not part of
	 * the roster: cut it off, or our records would follow garbage. */
	if ((size_t)st.st_size != valid_len && ftruncate(fd, (off_t)valid_len) < 0) {
		set_errno_error(error, "ftruncate(%s)", path);
		close(fd);
		goto out;
	}
	if (lseek(fd, (off_t)valid_len, SEEK_SET) < 0 ||
	    fs_write_all(fd, data->str, data->len, path, error) < 0) {
		if (error != NULL && *error == NULL)
			set_errno_error(error, "lseek(%s)", path);
		/* Leave no half change behind for the next writer to trust. */
		(void)!ftruncate(fd, (off_t)valid_len);
		close(fd);
		goto out;
	}
	if (fs_sync_close(&fd, path, error) < 0) {
		/* The records may be in the file without being on stable
		 * storage: cut them off, so that no reader sees as committed
		 * a change whose writer was told it failed. */
		(void)!truncate(path, (off_t)valid_len);
		goto out;
	}
	if (created) {
		char *dir = roster_path(l, NULL);
		ret = fs_sync_dir(dir, error);
		g_free(dir);
	} else {
		ret = 0;
	}
	r->log_size = valid_len + data->len;
out:
	g_string_free(data, TRUE);
	g_free(path);
	return ret;
}

/* --- the writer's roster, kept between changes ----------------------------
 *
 * A process that changes one list's roster again and again (the web
 * service's batches of subscriptions, subscribe_group.h) would read the
 * roster for every change: the snapshot and the whole log, O(n) a change.
 * So after a change the roster as it now is stays in memory, with the
 * identity of its files (roster_version), and the next change of that
 * list takes it if, under the lock, the files are still what the last
 * change left: any other writer's change grows the log or moves CURRENT.
 * Only on a local file system (on NFS, stat may answer from a cache; the
 * log's size is checked again when appending, and a mismatch fails the
 * change rather than cut anything), and only rosters that were not indexed
 * and whose snapshot is at most KEPT_SNAPSHOT_MAX: a kept roster holds
 * its snapshot mapped and the members changed since, not a table of all.
 */
#define KEPT_MAX 8
#define KEPT_SNAPSHOT_MAX (4 * 1024 * 1024)

struct kept {
	char *version;
	struct roster *r;
	size_t valid;
};

static GMutex kept_lock;
static GHashTable *kept_rosters;	/* list dir -> struct kept * */

static void
kept_free(gpointer p)
{
	struct kept *k = p;

	g_free(k->version);
	roster_free(&k->r);
	g_free(k);
}

/* The kept roster of l if its files are as it left them (then *valid_r
 * gets its log's length), else NULL. */
static struct roster *
kept_take(struct list *l, size_t *valid_r)
{
	gpointer key = NULL, value = NULL;
	struct kept *k;
	struct roster *r = NULL;
	char *now;

	g_mutex_lock(&kept_lock);
	if (kept_rosters != NULL)
		(void)g_hash_table_steal_extended(kept_rosters, list_dir(l),
						  &key, &value);
	g_mutex_unlock(&kept_lock);
	if ((k = value) == NULL)
		return NULL;
	g_free(key);
	now = roster_version(l, NULL);
	if (now != NULL && strcmp(now, k->version) == 0) {
		r = k->r;
		k->r = NULL;
		*valid_r = k->valid;
	}
	g_free(now);
	kept_free(k);
	return r;
}

/* Keeps r (taken) for l's next change, or frees it. */
static void
kept_put(struct list *l, struct roster *r, size_t valid)
{
	struct kept *k;
	char *version;

	if (r->indexed || r->snapshot_size > KEPT_SNAPSHOT_MAX ||
	    fs_on_nfs(list_dir(l)) ||
	    (version = roster_version(l, NULL)) == NULL) {
		roster_free(&r);
		return;
	}
	/* Its snapshot's pages were all read once (the line count), none
	 * written (kept rosters are not indexed): let them go; a lookup
	 * faults in the few it bisects. */
	if (r->snap_map != NULL)
		(void)madvise(r->snap_map, r->snap_map_len, MADV_DONTNEED);
	k = g_new0(struct kept, 1);
	k->version = version;
	k->r = r;
	k->valid = valid;
	g_mutex_lock(&kept_lock);
	if (kept_rosters == NULL)
		kept_rosters = g_hash_table_new_full(g_str_hash, g_str_equal,
						     g_free, kept_free);
	if (g_hash_table_size(kept_rosters) >= KEPT_MAX)
		g_hash_table_remove_all(kept_rosters);
	g_hash_table_replace(kept_rosters, g_strdup(list_dir(l)), k);
	g_mutex_unlock(&kept_lock);
}

/* Creates generation 1 (empty) for a list that never had a roster. */
static int
init_roster(struct list *l, struct roster *r, GError **error)
{
	char *dir = roster_path(l, NULL);
	int ret = fs_mkdir_p(dir, 0770, error);

	g_free(dir);
	if (ret == 0 && (ret = write_snapshot(l, r, 1, error)) == 0)
		ret = write_current(l, 1, error);
	if (ret == 0)
		r->gen = 1;
	return ret;
}

int
roster_edit(struct list *l, roster_edit_fn fn, void *ctx, GError **error)
{
	struct lock *lk = NULL;
	struct roster *r = NULL;
	struct roster_change *c = NULL;
	size_t valid = 0;
	gboolean kept, keep = FALSE, compacted = FALSE;
	int ret = -1;

	if (list_lock(l, 30000, &lk, error) < 0)
		return -1;
	r = kept_take(l, &valid);
	kept = r != NULL;
	if (r == NULL && load_current(l, &r, &valid, error) < 0)
		goto out;
	c = roster_change_new();
	/* Unchanged, r is still the roster on disk: it may be kept. */
	keep = TRUE;
	if (fn(r, c, ctx, error) < 0)
		goto out;
	if (c->count == 0) {
		ret = 0;
		goto out;
	}
	keep = FALSE;
	if (r->gen == 0 && init_roster(l, r, error) < 0)
		goto out;
	/* Our lock must still be ours before we write (a long bulk change
	 * could outlive it): lock_refresh fails if it was lost. */
	if (lock_refresh(lk, error) < 0 ||
	    append_change(l, r, valid, kept, c, error) < 0)
		goto out;
	apply_in_memory(r, c);
	valid = r->log_size;
	keep = TRUE;
	/* The notices still owed are carried into the next log: what grows
	 * is the rest. */
	size_t grown = r->log_size - MIN(r->log_size, r->carried);
	compacted = grown > COMPACT_MIN && grown > r->snapshot_size / 16;
	if (compacted && compact(l, r, error) < 0) {
		/* The change is committed; only the compaction failed. */
		log_error(ROSTER_SUBSYS, "%s: compaction failed: %s", list_fqdn(l),
			  (*error)->message);
		g_clear_error(error);
		keep = FALSE;
	}
	ret = 0;
out:
	roster_change_free(&c);
	if (compacted)
		keep = FALSE;	/* indexed by the compaction: not kept */
	/* Kept while the lock is still ours: the version is of our files. */
	if (keep && r != NULL)
		kept_put(l, r, valid);
	else
		roster_free(&r);
	if (lk != NULL && lock_release(lk, ret == 0 ? error : NULL) < 0)
		ret = -1;
	lock_free(&lk);
	return ret;
}

struct commit_ctx {
	struct roster_change *c;
};

static int
take_change(const struct roster *r, struct roster_change *c, void *ctx,
	    GError **error)
{
	struct roster_change *src = ((struct commit_ctx *)ctx)->c;

	/* Move the prepared change's content into the one being applied. */
	g_string_append_len(c->records, src->records->str, (gssize)src->records->len);
	for (guint i = 0; i < src->puts->len; i++)
		g_ptr_array_add(c->puts, src->puts->pdata[i]);
	g_ptr_array_set_size(src->puts, 0);
	for (guint i = 0; i < src->removes->len; i++)
		g_ptr_array_add(c->removes, g_strdup(src->removes->pdata[i]));
	g_array_append_vals(c->notices, src->notices->data, src->notices->len);
	g_array_set_size(src->notices, 0);
	c->count += src->count;
	return 0;
}

int
roster_commit(struct list *l, struct roster_change *c, struct roster **current_r,
	      GError **error)
{
	struct commit_ctx ctx = { c };

	if (roster_edit(l, take_change, &ctx, error) < 0)
		return -1;
	return current_r != NULL ? roster_load(l, current_r, error) : 0;
}

struct reenable {
	const char *addr;
	gboolean found;
};

static int
reenable_fn(const struct roster *r, struct roster_change *c, void *ctx,
	    GError **error)
{
	struct reenable *re = ctx;
	const struct member *m = roster_find(r, re->addr);
	struct member w;

	if ((re->found = m != NULL) == FALSE)
		return 0;
	w = *m;
	memset(&w.bounce, 0, sizeof w.bounce);
	w.bounce.reason = "";
	if (w.status == STATUS_BY_BOUNCE) {
		w.status = STATUS_ENABLED;
		w.status_time = now_usec() / 1000000;
		w.status_reason = "";
	}
	roster_change_put(c, &w);
	return 0;
}

int
roster_reenable(struct list *l, const char *addr, GError **error)
{
	struct reenable re = { addr, FALSE };

	if (roster_edit(l, reenable_fn, &re, error) < 0)
		return -1;
	return re.found ? 1 : 0;
}

int
roster_compact(struct list *l, GError **error)
{
	struct lock *lk = NULL;
	struct roster *r = NULL;
	size_t valid;
	int ret = -1;

	if (list_lock(l, 30000, &lk, error) < 0)
		return -1;
	if (load_current(l, &r, &valid, error) == 0)
		ret = r->gen > 0 ? compact(l, r, error) : 0;
	roster_free(&r);
	if (lock_release(lk, ret == 0 ? error : NULL) < 0)
		ret = -1;
	lock_free(&lk);
	return ret;
}
