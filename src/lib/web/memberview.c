/*
 * memberview.c - the cached views of rosters (memberview.h).
 *
 * A stale view is rebuilt by the request that finds it stale, outside
 * the lock (a load takes a while; other lists' requests must not wait),
 * then swapped in.  Two requests that find it stale at once both build;
 * the later swap wins, and both views are right.  The version is read
 * before the roster, so a view is never older than its version says: at
 * worst newer, which the next request's version then replaces.
 */
#include "web/memberview.h"
#include "list/roster.h"
#include "mail/address.h"

#include <string.h>

static GMutex cache_lock;
static GQueue cache = G_QUEUE_INIT;	/* struct memberview *, most recently
					 * used first */

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
	g_string_chunk_free(v->strings);
	g_free(v->list);
	g_free(v->version);
	g_free(v);
}

static struct memberview *view_build(struct list *l, char *version,
				     GError **error)
{
	struct roster *r = NULL;
	if (roster_load(l, &r, error) < 0)
		return NULL;
	GPtrArray *all = roster_members(r, TRUE);
	struct memberview *v = g_new0(struct memberview, 1);
	g_atomic_ref_count_init(&v->ref);
	v->list = g_strdup(list_fqdn(l));
	v->version = version;
	v->count = all->len;
	v->members = g_new(struct memberview_entry, all->len ? all->len : 1);
	v->visible = g_new(guint, all->len ? all->len : 1);
	v->strings = g_string_chunk_new(64 * 1024);
	for (guint i = 0; i < all->len; i++) {
		const struct member *m = all->pdata[i];
		struct memberview_entry *e = &v->members[i];
		e->addr = g_string_chunk_insert(v->strings, m->addr);
		/* Most names are empty, languages few: shared copies. */
		e->name = g_string_chunk_insert_const(v->strings, m->name);
		e->language = g_string_chunk_insert_const(v->strings,
							  m->language);
		e->mode = (guint8)m->mode;
		e->status = (guint8)m->status;
		e->options = (guint16)m->options;
		if (!(m->options & OPT_CONCEAL))
			v->visible[v->nvisible++] = i;
	}
	g_ptr_array_free(all, TRUE);
	roster_free(&r);
	return v;
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

struct memberview *memberview_get(struct list *l, GError **error)
{
	char *version = roster_version(l, error);
	if (!version)
		return NULL;
	struct memberview *v = NULL;
	g_mutex_lock(&cache_lock);
	for (GList *i = cache.head; i; i = i->next) {
		struct memberview *c = i->data;
		if (!strcmp(c->list, list_fqdn(l))) {
			if (!strcmp(c->version, version)) {
				v = view_ref(c);
				g_queue_unlink(&cache, i);
				g_queue_push_head_link(&cache, i);
			}
			break;
		}
	}
	g_mutex_unlock(&cache_lock);
	if (v) {
		g_free(version);
		return v;
	}
	v = view_build(l, version, error);
	if (!v) {
		g_free(version);
		return NULL;
	}
	if (v->count >= MEMBERVIEW_MIN_CACHED) {
		g_mutex_lock(&cache_lock);
		cache_put(v);
		g_mutex_unlock(&cache_lock);
	}
	return v;
}

const struct memberview_entry *memberview_find(const struct memberview *v,
					       const char *addr)
{
	char *key = address_key(addr);
	const struct memberview_entry *found = NULL;
	guint lo = 0, hi = v->count;
	/* The view is sorted by key (roster_members), the key of a
	 * member's address (normalised already) being it in lower case:
	 * made for the probes only, some 17 of them in 100,000. */
	while (key && lo < hi && !found) {
		guint mid = lo + (hi - lo) / 2;
		char *k = g_ascii_strdown(v->members[mid].addr, -1);
		int c = strcmp(key, k);
		g_free(k);
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

void memberview_flush(void)
{
	g_mutex_lock(&cache_lock);
	struct memberview *v;
	while ((v = g_queue_pop_head(&cache)))
		memberview_unref(&v);
	g_mutex_unlock(&cache_lock);
}
