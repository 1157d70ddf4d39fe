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
	g_free(v->members);
	g_free(v->visible);
	g_free(v->strings);
	g_free(v->folded);
	g_free(v->list);
	g_free(v->version);
	g_free(v);
}

/* --- building ------------------------------------------------------------ */

/* A member as scanned: offsets into the strings being gathered (they
 * move as the buffer grows), made pointers once it is whole. */
struct scanned {
	guint32 addr, name, language;
	guint8 mode, status;
	guint16 options;
};

struct builder {
	GString *strings;	/* starts with "", the empty names' */
	GArray *members;	/* struct scanned */
};

static guint32 builder_string(GString *strings, const char *s)
{
	if (!*s)
		return 0;
	guint32 at = (guint32)strings->len;
	g_string_append_len(strings, s, (gssize)strlen(s) + 1);
	return at;
}

/* roster_scan's callback: one member into the view being built. */
static void builder_add(const struct member *m, void *ctx)
{
	struct builder *b = ctx;
	struct scanned s = {
		.addr = builder_string(b->strings, m->addr),
		.name = builder_string(b->strings, m->name),
		.language = builder_string(b->strings, m->language),
		.mode = (guint8)m->mode, .status = (guint8)m->status,
		.options = (guint16)m->options,
	};
	g_array_append_val(b->members, s);
}

/* By address, any case: the order of the roster's keys. */
static gint scanned_compare(gconstpointer a, gconstpointer b,
			    gpointer strings)
{
	const struct scanned *x = a, *y = b;
	return g_ascii_strcasecmp((const char *)strings + x->addr,
				  (const char *)strings + y->addr);
}

/* text case-folded, without tabs and line ends (the separators). */
static void fold_append(GString *out, const char *text)
{
	const char *p = text;
	while (*p && (unsigned char)*p < 0x80)
		p++;
	if (!*p) {
		/* ASCII, as nearly every address is: no allocation. */
		for (p = text; *p; p++)
			g_string_append_c(out, *p == '\t' || *p == '\n'
					  ? ' ' : g_ascii_tolower(*p));
		return;
	}
	char *valid = g_utf8_make_valid(text, -1);
	char *f = g_utf8_casefold(valid, -1);
	for (const char *q = f; *q; q++)
		g_string_append_c(out, *q == '\t' || *q == '\n' ? ' ' : *q);
	g_free(f);
	g_free(valid);
}

static struct memberview *view_build(struct list *l, char *version,
				     GError **error)
{
	struct builder b = {
		.strings = g_string_sized_new(64 * 1024),
		.members = g_array_new(FALSE, FALSE, sizeof(struct scanned)),
	};
	g_string_append_c(b.strings, '\0');
	if (roster_scan(l, builder_add, &b, error) < 0) {
		g_string_free(b.strings, TRUE);
		g_array_free(b.members, TRUE);
		return NULL;
	}
	struct memberview *v = g_new0(struct memberview, 1);
	g_atomic_ref_count_init(&v->ref);
	v->list = g_strdup(list_fqdn(l));
	v->version = version;
	v->count = b.members->len;
	gsize size = b.strings->len;
	v->strings = g_string_free(b.strings, FALSE);
	g_array_sort_with_data(b.members, scanned_compare, v->strings);
	v->members = g_new(struct memberview_entry, MAX(v->count, 1));
	v->visible = g_new(guint, MAX(v->count, 1));
	GString *folded = g_string_sized_new(size);
	for (guint i = 0; i < v->count; i++) {
		const struct scanned *s = &g_array_index(b.members,
							 struct scanned, i);
		struct memberview_entry *e = &v->members[i];
		*e = (struct memberview_entry){
			.addr = v->strings + s->addr,
			.name = v->strings + s->name,
			.language = v->strings + s->language,
			.fold = (guint32)folded->len,
			.mode = s->mode, .status = s->status,
			.options = s->options,
		};
		if (!(e->options & OPT_CONCEAL))
			v->visible[v->nvisible++] = i;
		fold_append(folded, e->addr);
		g_string_append_c(folded, '\t');
		fold_append(folded, e->name);
		g_string_append_c(folded, '\n');
	}
	g_array_free(b.members, TRUE);
	v->folded_len = folded->len;
	v->folded = g_string_free(folded, FALSE);
	/* The scan's file buffer is gone: give its pages back, so the
	 * service's memory is what it keeps. */
	malloc_trim(0);
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

const struct memberview_entry *memberview_find(const struct memberview *v,
					       const char *addr)
{
	char *key = address_key(addr);
	const struct memberview_entry *found = NULL;
	guint lo = 0, hi = v->count;
	/* The view is sorted by address in any case, which is the order of
	 * the keys (a key is the normalised address in lower case). */
	while (key && lo < hi && !found) {
		guint mid = lo + (hi - lo) / 2;
		int c = g_ascii_strcasecmp(key, v->members[mid].addr);
		if (c == 0)
			found = &v->members[mid];
		else if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	g_free(key);
	return found;
}

const struct memberview_entry *memberview_at(const struct memberview *v,
					     gboolean visible, guint i)
{
	return &v->members[visible ? v->visible[i] : i];
}

/* The member whose folded text holds the byte at. */
static guint member_at(const struct memberview *v, gsize at)
{
	guint lo = 0, hi = v->count;
	while (hi - lo > 1) {
		guint mid = lo + (hi - lo) / 2;
		if (v->members[mid].fold <= at)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

guint memberview_search(const struct memberview *v, const char *text,
			guint start, guint count, GArray *page)
{
	char *f = g_utf8_casefold(text, -1);
	gsize flen = strlen(f), at = 0;
	guint total = 0;
	/* A tab or a line end would match across the separators. */
	while (flen && !strpbrk(f, "\t\n") && at < v->folded_len) {
		const char *hit = memmem(v->folded + at, v->folded_len - at,
					 f, flen);
		if (!hit)
			break;
		guint i = member_at(v, (gsize)(hit - v->folded));
		if (total >= start && total - start < count)
			g_array_append_val(page, i);
		total++;
		/* On to the next member: one match each. */
		at = i + 1 < v->count ? v->members[i + 1].fold : v->folded_len;
	}
	g_free(f);
	return total;
}
