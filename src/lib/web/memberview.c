/*
 * memberview.c - the cached views of rosters (memberview.h).
 *
 * A missing or stale view is built by the request that finds it so,
 * outside the cache's lock (a scan takes a while; other lists' requests
 * must not wait), the list's name standing in `building` meanwhile: the
 * other requests for that list wait on `built`, then find the new view
 * in the cache (or build their own when it is too small to be kept, or
 * when the roster changed again since).
 */
#include "web/memberview.h"
#include "list/roster.h"
#include "mail/address.h"

#include <malloc.h>
#include <string.h>

/* The bits of a member's language's index: up to a million. */
#define MEMBERVIEW_LANGUAGE_BITS 20

static GMutex cache_lock;
static GCond built;
static GQueue cache = G_QUEUE_INIT;	/* struct memberview *, most recently
					 * used first */
static GQueue building = G_QUEUE_INIT;	/* the lists whose view is being
					 * built (char *) */

static struct memberview *view_ref(struct memberview *v)
{
	g_atomic_ref_count_inc(&v->ref);
	return v;
}

void memberview_unref(struct memberview **vp)
{
	struct memberview *v = *vp;
	*vp = NULL;
	if (!v || !g_atomic_ref_count_dec(&v->ref))
		return;
	g_free(v->slots);
	g_free(v->visible);
	g_ptr_array_free(v->languages, TRUE);
	g_free(v->text);
	g_free(v->filters);
	g_free(v->list);
	g_free(v->version);
	g_free(v);
}

/* --- building ------------------------------------------------------------ */

/* A member in the view: 20 bytes (the text apart), offsets rather than
 * pointers, so that 100,000 members take 2 MB, and the slots are made as
 * the members are scanned, their offsets staying good while the buffer
 * grows and moves. */
struct memberview_slot {
	guint32 addr, name;	/* offsets: into the builder's strings while
				 * it scans, then into the view's text */
	guint32 fold;		/* into text: the folded "address\0name\0" */
	guint32 mode : 2, status : 2, options : 8;
	guint32 language : MEMBERVIEW_LANGUAGE_BITS;	/* in languages */
	guint32 subscribed;	/* epoch seconds; 0 before 1970 (till 2106) */
};

struct builder {
	GString *strings;	/* starts with "", the empty names' */
	GArray *slots;
	GPtrArray *languages;
	GHashTable *language_index;	/* language -> index + 1 */
};

/* roster_scan's callback: one member into the view being built. */
static void builder_add(const struct member *m, void *ctx)
{
	struct builder *b = ctx;
	struct memberview_slot s = {
		.addr = (guint32)b->strings->len,
		.mode = m->mode & 3, .status = m->status & 3,
		.options = m->options & 0xff,
		.subscribed = m->subscribed < 0 ? 0
			      : (guint32)MIN(m->subscribed, G_MAXUINT32),
	};
	g_string_append_len(b->strings, m->addr, (gssize)strlen(m->addr) + 1);
	if (*m->name) {
		s.name = (guint32)b->strings->len;
		g_string_append_len(b->strings, m->name,
				    (gssize)strlen(m->name) + 1);
	}
	guint at = GPOINTER_TO_UINT(g_hash_table_lookup(b->language_index,
							m->language));
	if (!at && b->languages->len < 1u << MEMBERVIEW_LANGUAGE_BITS) {
		g_ptr_array_add(b->languages, g_strdup(m->language));
		at = b->languages->len;
		g_hash_table_insert(b->language_index,
				    b->languages->pdata[at - 1],
				    GUINT_TO_POINTER(at));
	}
	/* Past a million languages (none has so many) the rest show as
	 * the list's. */
	s.language = at ? at - 1 : 0;
	g_array_append_val(b->slots, s);
}

/* By address, any case: the order of the roster's keys. */
static gint slot_compare(gconstpointer a, gconstpointer b, gpointer strings)
{
	const struct memberview_slot *x = a, *y = b;
	return g_ascii_strcasecmp((const char *)strings + x->addr,
				  (const char *)strings + y->addr);
}

/* Appends text case-folded and a NUL to out: the offset it starts at. */
static guint32 fold_append(GString *out, const char *text)
{
	guint32 at = (guint32)out->len;
	const char *p = text;
	while (*p && (unsigned char)*p < 0x80)
		p++;
	if (!*p) {
		/* ASCII, as nearly every address is: no allocation. */
		for (p = text; *p; p++)
			g_string_append_c(out, g_ascii_tolower(*p));
	} else {
		char *valid = g_utf8_make_valid(text, -1);
		char *f = g_utf8_casefold(valid, -1);
		g_string_append(out, f);
		g_free(f);
		g_free(valid);
	}
	g_string_append_c(out, '\0');
	return at;
}

/* The offset in out of text as written: the folded copy at `folded` when
 * it is the same text, else a copy appended. */
static guint32 written_append(GString *out, guint32 folded, const char *text)
{
	if (!strcmp(out->str + folded, text))
		return folded;
	guint32 at = (guint32)out->len;
	g_string_append_len(out, text, (gssize)strlen(text) + 1);
	return at;
}

/* The filter bit of the three bytes at p. */
static guint gram_bit(const char *p)
{
	guint32 g = (guint32)(guchar)p[0] << 16 | (guint32)(guchar)p[1] << 8 |
		    (guchar)p[2];
	return (g * 2654435761u) >> (32 - 10);	/* 1,024 bits */
}

G_STATIC_ASSERT(MEMBERVIEW_FILTER_WORDS * 64 == 1024);

/* The end of member i's folded text (its last NUL included). */
static gsize fold_end(const struct memberview *v, guint i)
{
	return i + 1 < v->count ? v->slots[i + 1].fold : v->folded_len;
}

/* Each block's filter: a bit for each three-byte run of its members'
 * folded texts (runs across their separators too: a search holds no
 * separator, so those bits only cost room). */
static void filters_build(struct memberview *v)
{
	guint nblocks = (v->count + MEMBERVIEW_BLOCK - 1) / MEMBERVIEW_BLOCK;
	v->filters = g_new0(guint64, (gsize)nblocks * MEMBERVIEW_FILTER_WORDS);
	for (guint b = 0; b < nblocks; b++) {
		guint64 *f = v->filters + (gsize)b * MEMBERVIEW_FILTER_WORDS;
		guint last = MIN(v->count, (b + 1) * MEMBERVIEW_BLOCK) - 1;
		gsize from = v->slots[b * MEMBERVIEW_BLOCK].fold;
		gsize to = fold_end(v, last);
		for (gsize k = from; k + 3 <= to; k++) {
			guint bit = gram_bit(v->text + k);
			f[bit / 64] |= G_GUINT64_CONSTANT(1) << (bit % 64);
		}
	}
}

static struct memberview *view_build(struct list *l, char *version,
				     GError **error)
{
	struct builder b = {
		.strings = g_string_sized_new(64 * 1024),
		.slots = g_array_new(FALSE, FALSE,
				     sizeof(struct memberview_slot)),
		.languages = g_ptr_array_new_with_free_func(g_free),
		.language_index = g_hash_table_new(g_str_hash, g_str_equal),
	};
	g_string_append_c(b.strings, '\0');
	g_ptr_array_add(b.languages, g_strdup(""));
	g_hash_table_insert(b.language_index, b.languages->pdata[0],
			    GUINT_TO_POINTER(1));
	/* roster_scan, not roster_load: the members are copied one by one
	 * from the snapshot, so the roster is never held whole. */
	int rc = roster_scan(l, builder_add, &b, error);
	g_hash_table_destroy(b.language_index);
	if (rc < 0) {
		g_string_free(b.strings, TRUE);
		g_array_free(b.slots, TRUE);
		g_ptr_array_free(b.languages, TRUE);
		return NULL;
	}
	struct memberview *v = g_new0(struct memberview, 1);
	g_atomic_ref_count_init(&v->ref);
	v->list = g_strdup(list_fqdn(l));
	v->version = version;
	v->languages = b.languages;
	v->count = b.slots->len;
	g_array_sort_with_data(b.slots, slot_compare, b.strings->str);
	v->slots = (struct memberview_slot *)g_array_free(b.slots, FALSE);
	v->slots = g_renew(struct memberview_slot, v->slots, MAX(v->count, 1));
	/* The text: first the folded part, in the members' order, then what
	 * differs from it as written (the slots' offsets move from the
	 * scan's strings to it). */
	GString *text = g_string_sized_new(b.strings->len + 2);
	for (guint i = 0; i < v->count; i++) {
		struct memberview_slot *s = &v->slots[i];
		s->fold = fold_append(text, b.strings->str + s->addr);
		(void)fold_append(text, b.strings->str + s->name);
	}
	v->folded_len = text->len;
	for (guint i = 0; i < v->count; i++) {
		struct memberview_slot *s = &v->slots[i];
		guint32 name = s->fold + (guint32)strlen(text->str + s->fold) + 1;
		s->addr = written_append(text, s->fold, b.strings->str + s->addr);
		s->name = written_append(text, name, b.strings->str + s->name);
	}
	g_string_free(b.strings, TRUE);
	gsize len = text->len;
	v->text = g_realloc(g_string_free(text, FALSE), MAX(len, 1));
	/* The scan's file buffer and strings are gone: give their pages
	 * back, so the service's memory is what it keeps. */
	malloc_trim(0);
	for (guint i = 0; i < v->count; i++) {
		const struct memberview_slot *s = &v->slots[i];
		if (s->options & OPT_CONCEAL)
			continue;
		if (v->nvisible < i && !v->visible) {
			/* The first hidden one was just before. */
			v->visible = g_new(guint, v->count);
			for (guint j = 0; j < v->nvisible; j++)
				v->visible[j] = j;
		}
		if (v->visible)
			v->visible[v->nvisible] = i;
		v->nvisible++;
	}
	filters_build(v);
	return v;
}

/* --- the cache ----------------------------------------------------------- */

/* The cached view of list at version, referenced and made the most
 * recently used, or NULL.  Under cache_lock. */
static struct memberview *cache_find(const char *list, const char *version)
{
	for (GList *i = cache.head; i; i = i->next) {
		struct memberview *c = i->data;
		if (strcmp(c->list, list))
			continue;
		if (strcmp(c->version, version))
			return NULL;
		g_queue_unlink(&cache, i);
		g_queue_push_head_link(&cache, i);
		return view_ref(c);
	}
	return NULL;
}

/* Puts v in the cache (replacing the list's older one), and drops the
 * least recently used beyond the limit.  Under cache_lock. */
static void cache_put(struct memberview *v)
{
	for (GList *i = cache.head; i; i = i->next) {
		struct memberview *old = i->data;
		if (!strcmp(old->list, v->list)) {
			g_queue_delete_link(&cache, i);
			memberview_unref(&old);
			break;
		}
	}
	g_queue_push_head(&cache, view_ref(v));
	while (cache.length > MEMBERVIEW_MAX_CACHED) {
		struct memberview *last = g_queue_pop_tail(&cache);
		memberview_unref(&last);
	}
}

static gboolean is_building(const char *list)
{
	for (GList *i = building.head; i; i = i->next)
		if (!strcmp(i->data, list))
			return TRUE;
	return FALSE;
}

struct memberview *memberview_get(struct list *l, GError **error)
{
	char *version = roster_version(l, error);
	if (!version)
		return NULL;
	const char *list = list_fqdn(l);
	g_mutex_lock(&cache_lock);
	struct memberview *v;
	while (!(v = cache_find(list, version)) && is_building(list))
		g_cond_wait(&built, &cache_lock);
	if (!v)
		g_queue_push_tail(&building, g_strdup(list));
	g_mutex_unlock(&cache_lock);
	if (v) {
		g_free(version);
		return v;
	}
	v = view_build(l, version, error);
	if (!v)
		g_free(version);
	g_mutex_lock(&cache_lock);
	if (v && v->count >= MEMBERVIEW_MIN_CACHED)
		cache_put(v);
	for (GList *i = building.head; i; i = i->next) {
		if (!strcmp(i->data, list)) {
			g_free(i->data);
			g_queue_delete_link(&building, i);
			break;
		}
	}
	g_cond_broadcast(&built);
	g_mutex_unlock(&cache_lock);
	return v;
}

void memberview_flush(void)
{
	g_mutex_lock(&cache_lock);
	struct memberview *v;
	while ((v = g_queue_pop_head(&cache)))
		memberview_unref(&v);
	g_mutex_unlock(&cache_lock);
}

/* --- reading a view ------------------------------------------------------ */

static const struct memberview_entry *fill(const struct memberview *v,
					   guint i,
					   struct memberview_entry *out)
{
	const struct memberview_slot *s = &v->slots[i];
	*out = (struct memberview_entry){
		.addr = v->text + s->addr,
		.name = v->text + s->name,
		.language = v->languages->pdata[s->language],
		.mode = (guint8)s->mode, .status = (guint8)s->status,
		.options = (guint8)s->options,
		.subscribed = s->subscribed,
	};
	return out;
}

const struct memberview_entry *memberview_find(const struct memberview *v,
					       const char *addr,
					       struct memberview_entry *out)
{
	char *key = address_key(addr);
	const struct memberview_entry *found = NULL;
	guint lo = 0, hi = v->count;
	/* The view is sorted by address in any case, which is the order of
	 * the keys (a key is the normalised address in lower case). */
	while (key && lo < hi && !found) {
		guint mid = lo + (hi - lo) / 2;
		int c = g_ascii_strcasecmp(key, v->text + v->slots[mid].addr);
		if (c == 0)
			found = fill(v, mid, out);
		else if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	g_free(key);
	return found;
}

const struct memberview_entry *memberview_at(const struct memberview *v,
					     gboolean visible, guint i,
					     struct memberview_entry *out)
{
	return fill(v, visible && v->visible ? v->visible[i] : i, out);
}

guint memberview_after(const struct memberview *v, const char *key)
{
	guint lo = 0, hi = v->count;
	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		if (g_ascii_strcasecmp(v->text + v->slots[mid].addr, key) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

gboolean memberview_address_holds(const struct memberview *v, guint i,
				  const char *folded)
{
	/* The member's folded text starts with its address. */
	const char *addr = v->text + v->slots[i].fold;
	gsize len = strlen(addr), n = strlen(folded);
	return n <= len && memmem(addr, len, folded, n) != NULL;
}

/* The member whose folded text holds the byte at. */
static guint member_at(const struct memberview *v, gsize at)
{
	guint lo = 0, hi = v->count;
	while (hi - lo > 1) {
		guint mid = lo + (hi - lo) / 2;
		if (v->slots[mid].fold <= at)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}
/* The filter bits that every block holding f (flen >= 3) has set. */
static void query_mask(const char *f, gsize flen,
		       guint64 mask[MEMBERVIEW_FILTER_WORDS])
{
	memset(mask, 0, sizeof *mask * MEMBERVIEW_FILTER_WORDS);
	for (gsize k = 0; k + 3 <= flen; k++) {
		guint bit = gram_bit(f + k);
		mask[bit / 64] |= G_GUINT64_CONSTANT(1) << (bit % 64);
	}
}

static gboolean block_may_hold(const struct memberview *v, guint b,
			       const guint64 mask[MEMBERVIEW_FILTER_WORDS])
{
	const guint64 *f = v->filters + (gsize)b * MEMBERVIEW_FILTER_WORDS;
	for (guint w = 0; w < MEMBERVIEW_FILTER_WORDS; w++)
		if ((f[w] & mask[w]) != mask[w])
			return FALSE;
	return TRUE;
}

struct search {
	const struct memberview *v;
	const char *f;
	gsize flen;
	guint start, count, total;
	GArray *page;
};

/* The members holding the text among those whose folded texts lie in
 * [at, end): counted, and the page's put in it. */
static void search_range(struct search *s, gsize at, gsize end)
{
	const struct memberview *v = s->v;
	while (at < end) {
		const char *hit = memmem(v->text + at, end - at, s->f,
					 s->flen);
		if (!hit)
			break;
		guint i = member_at(v, (gsize)(hit - v->text));
		if (s->total >= s->start && s->total - s->start < s->count)
			g_array_append_val(s->page, i);
		s->total++;
		/* On to the next member: one match each. */
		at = fold_end(v, i);
	}
}

guint memberview_search(const struct memberview *v, const char *text,
			guint start, guint count, GArray *page)
{
	char *f = g_utf8_casefold(text, -1);
	struct search s = { v, f, strlen(f), start, count, 0, page };
	/* The folded texts' separators are NULs, which no text holds: a
	 * match is within an address or a name. */
	if (s.flen == 0 || v->count == 0) {
		g_free(f);
		return 0;
	}
	if (s.flen < 3) {
		search_range(&s, 0, v->folded_len);
	} else {
		guint64 mask[MEMBERVIEW_FILTER_WORDS];
		guint nblocks = (v->count + MEMBERVIEW_BLOCK - 1) /
				MEMBERVIEW_BLOCK;
		query_mask(f, s.flen, mask);
		for (guint b = 0; b < nblocks; b++) {
			guint last;
			if (!block_may_hold(v, b, mask))
				continue;
			last = MIN(v->count, (b + 1) * MEMBERVIEW_BLOCK) - 1;
			search_range(&s, v->slots[b * MEMBERVIEW_BLOCK].fold,
				     fold_end(v, last));
		}
	}
	g_free(f);
	return s.total;
}
