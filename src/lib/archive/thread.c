/*
 * thread.c - threads of a period's messages, after JWZ's algorithm
 * (https://www.jwz.org/doc/threading.html): a container per Message-ID,
 * linked parent to child along each message's References and then its
 * In-Reply-To (which wins: it names the parent itself); containers of
 * messages we do not have are dropped and their children moved up; then
 * roots whose subjects are the same once "Re:" and list tags are taken
 * off are gathered under the first that is no reply.  Threads are ordered
 * by their first message, replies by date.
 */
#include "archive/archive-private.h"

#include <string.h>

struct container {
	struct entry *e;
	struct container *parent, *child, *next;	/* first child, sibling */
	int64_t first;		/* the earliest date below it */
};

static struct container *
get(GHashTable *ids, GPtrArray *all, const char *id)
{
	struct container *c = *id != '\0' ? g_hash_table_lookup(ids, id) : NULL;

	if (c == NULL) {
		c = g_new0(struct container, 1);
		g_ptr_array_add(all, c);
		if (*id != '\0')
			g_hash_table_insert(ids, g_strdup(id), c);
	}
	return c;
}

static gboolean
is_below(struct container *c, struct container *maybe_ancestor)
{
	for (int n = 0; c != NULL && n < 10000; c = c->parent, n++)
		if (c == maybe_ancestor)
			return TRUE;
	return FALSE;
}

static void
unlink_child(struct container *c)
{
	if (c->parent == NULL)
		return;
	for (struct container **pp = &c->parent->child; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->parent = NULL;
	c->next = NULL;
}

static void
set_parent(struct container *c, struct container *p)
{
	if (c == p || is_below(p, c))
		return;		/* a loop */
	unlink_child(c);
	c->parent = p;
	c->next = p->child;
	p->child = c;
}

char *
thread_subject_key(const char *subject)
{
	const char *p = subject;

	for (gboolean again = TRUE; again;) {
		again = FALSE;
		while (*p == ' ')
			p++;
		if (*p == '[') {	/* a list tag: [list] */
			const char *end = strchr(p, ']');

			if (end != NULL && end - p < 40) {
				p = end + 1;
				again = TRUE;
				continue;
			}
		}
		static const char *const prefixes[] = { "re:", "aw:", "fwd:", "fw:", "sv:" };

		for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++)
			if (g_ascii_strncasecmp(p, prefixes[i], strlen(prefixes[i])) == 0) {
				p += strlen(prefixes[i]);
				again = TRUE;
			}
	}
	char *key = g_utf8_casefold(p, -1);

	return g_strstrip(key);
}

static gboolean
is_reply(const char *subject)
{
	char *key = thread_subject_key(subject);
	char *folded = g_utf8_casefold(subject, -1);
	gboolean reply = strcmp(g_strstrip(folded), key) != 0;

	g_free(key);
	g_free(folded);
	return reply;
}

/* Links the containers of e's ids along its References, and gives c its
 * parent: the In-Reply-To's message if we have it, else the last of the
 * References we have, else the last one named (a ghost).  A mangled
 * In-Reply-To (gmane's rewritten ids) then does not cut a thread. */
static void
link_refs(GHashTable *ids, GPtrArray *all, struct container *c, struct entry *e)
{
	char **refs = g_strsplit(e->refs, " ", -1);
	struct container *prev = NULL, *parent = NULL, *known = NULL;

	for (char **r = refs; *r != NULL; r++) {
		if (**r == '\0' || strcmp(*r, e->msgid) == 0)
			continue;
		struct container *rc = get(ids, all, *r);

		if (prev != NULL && rc->parent == NULL)
			set_parent(rc, prev);
		prev = rc;
		if (rc->e != NULL)
			known = rc;
	}
	parent = known != NULL ? known : prev;
	if (*e->irt != '\0' && strcmp(e->irt, e->msgid) != 0) {
		struct container *irt = get(ids, all, e->irt);

		if (irt->e != NULL || parent == NULL)
			parent = irt;
	}
	if (parent != NULL)
		set_parent(c, parent);
	g_strfreev(refs);
}

static int
by_first(const void *a, const void *b)
{
	const struct container *x = *(struct container *const *)a;
	const struct container *y = *(struct container *const *)b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	int64_t nx = x->e != NULL ? x->e->num : 0, ny = y->e != NULL ? y->e->num : 0;

	return nx < ny ? -1 : nx > ny;
}

static int64_t
first_date(struct container *c)
{
	int64_t f = c->e != NULL ? c->e->date : G_MAXINT64;

	for (struct container *k = c->child; k != NULL; k = k->next) {
		int64_t kf = first_date(k);

		if (kf < f)
			f = kf;
	}
	c->first = f;
	return f;
}

/* The children of c as a sorted array (empty containers replaced by their
 * own children). */
static GPtrArray *
children(struct container *c)
{
	GPtrArray *kids = g_ptr_array_new();

	for (struct container *k = c->child; k != NULL; k = k->next) {
		if (k->e != NULL) {
			g_ptr_array_add(kids, k);
			continue;
		}
		GPtrArray *sub = children(k);

		for (guint i = 0; i < sub->len; i++)
			g_ptr_array_add(kids, sub->pdata[i]);
		g_ptr_array_free(sub, TRUE);
	}
	g_ptr_array_sort(kids, by_first);
	return kids;
}

static void
emit(GPtrArray *out, struct container *c, int depth)
{
	GPtrArray *kids = children(c);

	c->e->depth = depth;
	c->e->thread_order = out->len;
	g_ptr_array_add(out, c->e);
	for (guint i = 0; i < kids->len; i++)
		emit(out, kids->pdata[i], depth + 1);
	g_ptr_array_free(kids, TRUE);
}

/* Gathers roots with the same subject under the first that is no reply
 * (or the first of them). */
static void
gather_subjects(GPtrArray *roots)
{
	GHashTable *by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < roots->len; i++) {
		struct container *r = roots->pdata[i];
		char *key = thread_subject_key(r->e->subject);
		struct container *have;

		if (*key == '\0' || strcmp(key, "(no subject)") == 0) {
			g_free(key);
			continue;
		}
		have = g_hash_table_lookup(by_key, key);
		if (have == NULL) {
			g_hash_table_insert(by_key, key, r);
			continue;
		}
		g_free(key);
		if (is_reply(have->e->subject) && !is_reply(r->e->subject)) {
			/* r starts the thread: have goes under it. */
			g_hash_table_replace(by_key, thread_subject_key(r->e->subject), r);
			set_parent(have, r);
		} else {
			set_parent(r, have);
		}
	}
	g_hash_table_destroy(by_key);
}

GPtrArray *
thread_order(GPtrArray *cat)
{
	GHashTable *ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GPtrArray *all = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *out = g_ptr_array_sized_new(cat->len);
	struct container root = { 0 };

	/* First every message's container, so that linking knows which ids
	 * are messages we have. */
	GPtrArray *mine = g_ptr_array_sized_new(cat->len);

	for (guint i = 0; i < cat->len; i++) {
		struct entry *e = cat->pdata[i];
		struct container *c = *e->msgid != '\0'
			? g_hash_table_lookup(ids, e->msgid) : NULL;

		/* A second message with the same id gets a container of its own. */
		if (c == NULL || c->e != NULL) {
			c = g_new0(struct container, 1);
			g_ptr_array_add(all, c);
			if (*e->msgid != '\0' && g_hash_table_lookup(ids, e->msgid) == NULL)
				g_hash_table_insert(ids, g_strdup(e->msgid), c);
		}
		c->e = e;
		g_ptr_array_add(mine, c);
	}
	for (guint i = 0; i < cat->len; i++)
		link_refs(ids, all, mine->pdata[i], cat->pdata[i]);
	g_ptr_array_free(mine, TRUE);
	for (guint i = 0; i < all->len; i++) {
		struct container *c = all->pdata[i];

		if (c->parent == NULL)
			set_parent(c, &root);
	}
	first_date(&root);
	GPtrArray *roots = children(&root);

	gather_subjects(roots);
	g_ptr_array_free(roots, TRUE);
	first_date(&root);
	roots = children(&root);
	for (guint i = 0; i < roots->len; i++) {
		struct container *r = roots->pdata[i];

		if (r->parent != &root && r->parent != NULL && r->parent->e != NULL)
			continue;	/* gathered under another root */
		emit(out, r, 0);
	}
	g_ptr_array_free(roots, TRUE);
	g_ptr_array_free(all, TRUE);
	g_hash_table_destroy(ids);
	return out;
}
