/*
 * subscribe_group.c - group commit of owners' adds (subscribe_group.h).
 *
 * One mutex guards every list's queue; one condition wakes the waiters
 * when a batch is done (they check whether it was theirs).  A caller's
 * requests are queued together, so they land in one batch.  The leader
 * judges each address under the list lock as add_member in subscribe.c
 * does (a member already, banned), and an address twice in one batch
 * counts once: the later asks get "already", as they would one after
 * the other.
 */
#include "list/subscribe_group.h"
#include "base/base.h"
#include "base/log.h"
#include "mail/address.h"
#include "store/site.h"

#include <string.h>

#define GROUP_SUBSYS "subscribe"
/* How long the sender waits after a kick before it sends: the owed
 * notices of the batches meanwhile go in the same round. */
#define SENDER_LINGER_MS 100

/* One caller's requests, and what became of them. */
struct caller {
	const struct subscribe_request *r;
	char **addrs;		/* normalised, n of them */
	guint n;
	int *outcomes;
	GError *error;		/* the batch failed */
	gboolean done;
};

/* A list's queue: callers waiting for the next batch. */
struct queue {
	GPtrArray *waiting;	/* struct caller * */
	gboolean busy;		/* a leader is committing a batch */
};

static GMutex group_lock;
static GCond group_done;
static GHashTable *queues;	/* list directory -> struct queue * */
static guint64 stat_batches, stat_requests;

static struct queue *queue_of(struct list *l)
{
	if (!queues)
		queues = g_hash_table_new(g_str_hash, g_str_equal);
	struct queue *q = g_hash_table_lookup(queues, list_dir(l));
	if (!q) {
		q = g_new0(struct queue, 1);
		q->waiting = g_ptr_array_new();
		g_hash_table_insert(queues, g_strdup(list_dir(l)), q);
	}
	return q;
}

struct batch {
	struct list *list;
	GPtrArray *callers;
	gboolean owed;		/* the change owes notices */
};

/* The roster_edit callback: every request of the batch against the
 * roster as it is under the lock. */
static int add_batch(const struct roster *r, struct roster_change *c,
		     void *ctx, GError **error)
{
	struct batch *b = ctx;
	struct subscribe_bans *bans = subscribe_bans_load(b->list);
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal,
						 g_free, NULL);
	for (guint i = 0; i < b->callers->len; i++) {
		struct caller *k = b->callers->pdata[i];
		for (guint j = 0; j < k->n; j++) {
			const struct subscribe_request *q = &k->r[j];
			char *key = address_key(k->addrs[j]);
			/* Banned first, as subscribe_request judges. */
			int outcome = SUBSCRIBE_DONE;
			if (subscribe_bans_match(bans, k->addrs[j]))
				outcome = SUBSCRIBE_BANNED;
			else if (roster_find(r, k->addrs[j]) ||
				 g_hash_table_contains(seen, key))
				outcome = SUBSCRIBE_ALREADY;
			k->outcomes[j] = outcome;
			if (outcome != SUBSCRIBE_DONE) {
				g_free(key);
				continue;
			}
			struct member m = { 0 };
			subscribe_member_defaults(b->list, &m, q->digest);
			m.key = key;
			m.addr = k->addrs[j];
			if (q->name)
				m.name = (char *)q->name;
			roster_change_put(c, &m);
			if (subscribe_owe_added(b->list, c, &m, q->welcome))
				b->owed = TRUE;
			g_hash_table_add(seen, key);
		}
	}
	g_hash_table_destroy(seen);
	subscribe_bans_free(&bans);
	return 0;
}

/* --- the sender of owed notices --------------------------------------------- */

/* Lists whose roster owes notices, as "var dir\nlist": the sender thread
 * takes them one at a time, opening the site and the list itself (a
 * caller's are its request's).  Guarded by group_lock. */
static GHashTable *to_send;
static GThread *sender;
static gboolean sender_busy;
static GCond sender_wake, sender_idle;

static void send_one(const char *what)
{
	const char *nl = strchr(what, '\n');
	char *var_dir = g_strndup(what, (gsize)(nl - what));
	GError *error = NULL;
	struct site *site = site_open(var_dir, &error);
	struct list *l = site ? list_open(site, nl + 1, &error) : NULL;
	guint sent = 0;
	if (!l || subscribe_send_owed(l, &sent, &error) < 0) {
		/* They stay owed: the task members.notices sends them. */
		log_error(GROUP_SUBSYS, "list %s: the notices owed to new "
			  "members are left for later: %s", nl + 1,
			  error->message);
		g_error_free(error);
	} else if (sent > 0) {
		log_info(GROUP_SUBSYS, "list %s: %u owed notice%s sent",
			 list_fqdn(l), sent, sent == 1 ? "" : "s");
	}
	list_free(&l);
	site_free(&site);
	g_free(var_dir);
}

static gpointer sender_main(gpointer unused)
{
	g_mutex_lock(&group_lock);
	for (;;) {
		GHashTableIter it;
		gpointer what;
		while (g_hash_table_size(to_send) == 0)
			g_cond_wait(&sender_wake, &group_lock);
		sender_busy = TRUE;
		/* Let the batches of the next moments owe theirs too: one
		 * round sends them all, with one roster load. */
		g_mutex_unlock(&group_lock);
		g_usleep(SENDER_LINGER_MS * 1000);
		g_mutex_lock(&group_lock);
		g_hash_table_iter_init(&it, to_send);
		g_hash_table_iter_next(&it, &what, NULL);
		g_hash_table_iter_steal(&it);
		g_mutex_unlock(&group_lock);
		send_one(what);
		g_free(what);
		g_mutex_lock(&group_lock);
		sender_busy = FALSE;
		g_cond_broadcast(&sender_idle);
	}
	return NULL;
}

static void sender_kick(struct list *l)
{
	char *what = g_strconcat(site_var_dir(list_site(l)), "\n",
				 list_fqdn(l), NULL);
	g_mutex_lock(&group_lock);
	if (!to_send)
		to_send = g_hash_table_new_full(g_str_hash, g_str_equal,
						g_free, NULL);
	if (!sender)
		sender = g_thread_new("owed-notices", sender_main, NULL);
	g_hash_table_add(to_send, what);
	g_cond_signal(&sender_wake);
	g_mutex_unlock(&group_lock);
}

void subscribe_group_flush(void)
{
	g_mutex_lock(&group_lock);
	while (to_send && (g_hash_table_size(to_send) > 0 || sender_busy))
		g_cond_wait(&sender_idle, &group_lock);
	g_mutex_unlock(&group_lock);
}

/* Commits the callers queued on q (the leader holds no group_lock). */
static void commit_batch(struct list *l, GPtrArray *callers)
{
	struct batch b = { l, callers, FALSE };
	GError *error = NULL;
	guint requests = 0;
	for (guint i = 0; i < callers->len; i++)
		requests += ((struct caller *)callers->pdata[i])->n;
	if (roster_edit(l, add_batch, &b, &error) < 0) {
		log_error(GROUP_SUBSYS, "list %s: a batch of %u subscriptions "
			  "failed: %s", list_fqdn(l), requests, error->message);
		for (guint i = 0; i < callers->len; i++) {
			struct caller *k = callers->pdata[i];
			k->error = g_error_copy(error);
		}
		g_error_free(error);
	} else {
		if (callers->len > 1)
			log_info(GROUP_SUBSYS, "list %s: %u subscriptions of %u "
				 "requests in one roster change", list_fqdn(l),
				 requests, callers->len);
		if (b.owed)
			sender_kick(l);
	}
	g_mutex_lock(&group_lock);
	stat_batches++;
	stat_requests += requests;
	g_mutex_unlock(&group_lock);
}

/* Queues k and waits until a batch holding it is committed, leading one
 * when no batch is under way. */
static void wait_for_batch(struct list *l, struct caller *k)
{
	g_mutex_lock(&group_lock);
	struct queue *q = queue_of(l);
	g_ptr_array_add(q->waiting, k);
	while (!k->done) {
		if (q->busy) {
			g_cond_wait(&group_done, &group_lock);
			continue;
		}
		/* Lead: take everyone queued (k among them). */
		GPtrArray *batch = q->waiting;
		q->waiting = g_ptr_array_new();
		q->busy = TRUE;
		g_mutex_unlock(&group_lock);
		commit_batch(l, batch);
		g_mutex_lock(&group_lock);
		for (guint i = 0; i < batch->len; i++)
			((struct caller *)batch->pdata[i])->done = TRUE;
		q->busy = FALSE;
		g_cond_broadcast(&group_done);
		g_ptr_array_free(batch, TRUE);
	}
	g_mutex_unlock(&group_lock);
}

int subscribe_group(struct list *l, const struct subscribe_request *r,
		    guint n, int *outcomes_r, GError **error)
{
	struct caller k = { .r = r, .n = n, .outcomes = outcomes_r };
	k.addrs = g_new0(char *, n + 1);
	for (guint i = 0; i < n; i++)
		if (!(k.addrs[i] = address_normalise(r[i].address, error))) {
			g_strfreev(k.addrs);
			return -1;
		}
	if (n > 0)
		wait_for_batch(l, &k);
	if (k.error) {
		g_propagate_error(error, k.error);
		g_strfreev(k.addrs);
		return -1;
	}
	for (guint i = 0; i < n; i++) {
		if (outcomes_r[i] != SUBSCRIBE_DONE)
			continue;
		log_info(GROUP_SUBSYS, "list %s: %s subscribed (asked by %s "
			 "via %s, in a batch)", list_fqdn(l), k.addrs[i],
			 r[i].requester ? r[i].requester : "admin",
			 r[i].via ? r[i].via : "");
		subscribe_announce_event(l, k.addrs[i], TRUE);
	}
	g_strfreev(k.addrs);
	return 0;
}

void subscribe_group_stats(guint64 *batches_r, guint64 *requests_r)
{
	g_mutex_lock(&group_lock);
	*batches_r = stat_batches;
	*requests_r = stat_requests;
	g_mutex_unlock(&group_lock);
}

guint subscribe_group_queued(struct list *l, gboolean *busy_r)
{
	g_mutex_lock(&group_lock);
	struct queue *q = queue_of(l);
	guint n = q->waiting->len;
	*busy_r = q->busy;
	g_mutex_unlock(&group_lock);
	return n;
}
