/*
 * waiting.c - the posts a runner keeps for the end of its batch, by list
 * (waiting.h).
 */
#include "runners/waiting.h"
#include "base/base.h"
#include "store/names.h"

struct waiting {
	struct site *site;
	GHashTable *lists;	/* fqdn -> struct waiting_list */
	size_t bytes;
};

static void
post_free(gpointer p)
{
	struct waiting_post *wp = p;

	g_free(wp->msg);
	g_free(wp->base);
	g_free(wp->extra);
	g_free(wp);
}

static void
list_free_waiting(gpointer p)
{
	struct waiting_list *wl = p;

	g_ptr_array_unref(wl->posts);
	list_free(&wl->list);
	g_free(wl);
}

struct waiting *
waiting_new(struct site *site)
{
	struct waiting *w = g_new0(struct waiting, 1);

	w->site = site;
	w->lists = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 list_free_waiting);
	return w;
}

void
waiting_free(struct waiting **wp)
{
	if (*wp == NULL)
		return;
	g_hash_table_destroy((*wp)->lists);
	g_free(*wp);
	*wp = NULL;
}

struct waiting_list *
waiting_list(struct waiting *w, const char *fqdn, GError **error)
{
	struct waiting_list *wl = g_hash_table_lookup(w->lists, fqdn);
	struct list *l;

	if (wl != NULL)
		return wl;
	if ((l = list_open(w->site, fqdn, error)) == NULL)
		return NULL;
	wl = g_new0(struct waiting_list, 1);
	wl->list = l;
	wl->posts = g_ptr_array_new_with_free_func(post_free);
	g_hash_table_insert(w->lists, g_strdup(fqdn), wl);
	return wl;
}

void
waiting_list_unused(struct waiting *w, const char *fqdn)
{
	struct waiting_list *wl = g_hash_table_lookup(w->lists, fqdn);

	if (wl != NULL && wl->posts->len == 0)
		g_hash_table_remove(w->lists, fqdn);
}

void
waiting_add(struct waiting *w, struct waiting_list *wl,
	    const struct queue_item *item, char *extra)
{
	struct waiting_post *p = g_new0(struct waiting_post, 1);
	int64_t received = queue_meta_get_int(item->meta, META_RECEIVED, 0) / 1000000;

	p->msg = g_memdup2(item->msg, item->msg_len);
	p->len = item->msg_len;
	p->base = g_strdup(item->base);
	p->extra = extra;
	p->received = received > 0 ? received : now_usec() / 1000000;
	p->again = queue_meta_get_int(item->meta, META_BAK_COUNT, 0) > 0;
	g_ptr_array_add(wl->posts, p);
	w->bytes += item->msg_len;
}

size_t
waiting_bytes(const struct waiting *w)
{
	return w->bytes;
}

int
waiting_each(struct waiting *w, waiting_fn fn, void *ctx, GError **error)
{
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, w->lists);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct waiting_list *wl = value;

		if (wl->posts->len > 0 && fn(wl, ctx, error) < 0)
			return -1;
		for (guint i = 0; i < wl->posts->len; i++)
			w->bytes -= ((struct waiting_post *)wl->posts->pdata[i])->len;
		g_hash_table_iter_remove(&it);
	}
	return 0;
}

void
waiting_clear(struct waiting *w)
{
	g_hash_table_remove_all(w->lists);
	w->bytes = 0;
}
