/*
 * api_status.c - what monitoring reads: GET /api/v1/status (JSON) and
 * GET /metrics (Prometheus text format 0.0.4), from what `herald status`
 * reads: the queues' entries, the leases, the runner processes each
 * host's master lists in run/runners.<host>, and per list its held posts
 * and the requests waiting for a moderator.
 *
 * herald keeps no counters of messages accepted, delivered, deferred or
 * bounced, of runner restarts or of lease takeovers across processes (each
 * runner is a process of its own, on any host), so /metrics has none of
 * them: it reports only states it can read from the var dir at the time
 * of the request (docs/api.md says so).
 *
 * /metrics answers clients on loopback (or a unix socket), and others
 * only with a site-wide API token.
 */
#include "web/api.h"
#include "base/base.h"
#include "list/held.h"
#include "list/pending.h"
#include "store/lock.h"
#include "store/queue.h"

#include <string.h>

struct queue_state {
	char *name;
	int ready, claimed;
};

static GArray *queue_states(struct site *site)
{
	GArray *out = g_array_new(FALSE, TRUE, sizeof(struct queue_state));
	char *qdir = site_path(site, "queue", NULL);
	GPtrArray *names = fs_dir_names(qdir, NULL, NULL);
	g_free(qdir);
	for (guint i = 0; names && i < names->len; i++) {
		struct queue *q = queue_open(site_var_dir(site),
					     names->pdata[i], NULL);
		if (!q)
			continue;
		struct queue_state s = {
			.name = g_strdup(names->pdata[i]),
			.ready = queue_count(q, ".msg", NULL),
			.claimed = queue_count(q, ".bak", NULL),
		};
		g_array_append_val(out, s);
		queue_close(&q);
	}
	if (names)
		g_ptr_array_free(names, TRUE);
	return out;
}

static void queue_states_free(GArray *a)
{
	for (guint i = 0; i < a->len; i++)
		g_free(g_array_index(a, struct queue_state, i).name);
	g_array_free(a, TRUE);
}

/* Each lease: held (1) or not (0) now. */
static GPtrArray *lease_names(struct site *site, char **dir_r, int64_t *now_r)
{
	*dir_r = site_path(site, "leases", NULL);
	if (lock_server_now(*dir_r, now_r, NULL) < 0)
		*now_r = g_get_real_time();
	return fs_dir_names(*dir_r, NULL, NULL);
}

static gboolean lease_held(const char *dir, const char *name, int64_t now,
			   char **holder_r)
{
	char *claim = NULL;
	int64_t expiry = 0;
	gboolean held = lock_inspect(dir, name, &claim, &expiry, NULL) == 1 &&
			!g_str_has_suffix(claim, ".free") && expiry > now;
	if (holder_r)
		*holder_r = held ? g_strdup(claim) : NULL;
	g_free(claim);
	return held;
}

/* host -> the count of runner lines in run/runners.<host>. */
static GHashTable *runner_counts(struct site *site)
{
	GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      NULL);
	char *run = site_path(site, "run", NULL);
	GPtrArray *names = fs_dir_names(run, "runners.", NULL);
	for (guint i = 0; names && i < names->len; i++) {
		if (strstr(names->pdata[i], ".tmp."))
			continue;
		char *path = g_build_filename(run, names->pdata[i], NULL);
		char *text = NULL;
		if (fs_read_file(path, &text, NULL, NULL) == 1) {
			guint n = 0;
			for (char *p = text; *p; p++)
				n += *p == '\n';
			g_hash_table_insert(t, g_strdup((char *)names->pdata[i] +
							strlen("runners.")),
					    GUINT_TO_POINTER(n));
		}
		g_free(text);
		g_free(path);
	}
	if (names)
		g_ptr_array_free(names, TRUE);
	g_free(run);
	return t;
}

void api_status(struct web_request *rq, struct web_response *rs)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "host", herald_host());
	json_object_set_string_member(o, "version", HERALD_VERSION);
	GArray *qs = queue_states(rq->site);
	JsonArray *qa = json_array_new();
	for (guint i = 0; i < qs->len; i++) {
		struct queue_state *s = &g_array_index(qs, struct queue_state, i);
		JsonObject *q = json_object_new();
		json_object_set_string_member(q, "name", s->name);
		json_object_set_int_member(q, "ready", s->ready);
		json_object_set_int_member(q, "claimed", s->claimed);
		json_array_add_object_element(qa, q);
	}
	queue_states_free(qs);
	json_object_set_array_member(o, "queues", qa);
	char *dir = NULL;
	int64_t now = 0;
	GPtrArray *leases = lease_names(rq->site, &dir, &now);
	JsonArray *la = json_array_new();
	for (guint i = 0; leases && i < leases->len; i++) {
		char *holder = NULL;
		JsonObject *l = json_object_new();
		json_object_set_string_member(l, "name", leases->pdata[i]);
		json_object_set_boolean_member(
			l, "held", lease_held(dir, leases->pdata[i], now, &holder));
		if (holder)
			json_object_set_string_member(l, "holder", holder);
		g_free(holder);
		json_array_add_object_element(la, l);
	}
	if (leases)
		g_ptr_array_free(leases, TRUE);
	g_free(dir);
	json_object_set_array_member(o, "leases", la);
	GHashTable *runners = runner_counts(rq->site);
	JsonObject *ro = json_object_new();
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, runners);
	while (g_hash_table_iter_next(&it, &k, &v))
		json_object_set_int_member(ro, k, GPOINTER_TO_UINT(v));
	g_hash_table_unref(runners);
	json_object_set_object_member(o, "runner_processes", ro);
	api_object(rs, 200, o);
}

/* A label value, escaped as the text format wants. */
static void label(GString *out, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			g_string_append_c(out, '\\');
		if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
}

static void metric_head(GString *out, const char *name, const char *help)
{
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name,
			       help, name);
}

static gboolean loopback(const char *client)
{
	return !strcmp(client, "127.0.0.1") || !strcmp(client, "::1") ||
	       !strcmp(client, "unix") || g_str_has_prefix(client, "127.");
}

static gboolean metrics_allowed(struct web_request *rq,
				struct web_response *rs)
{
	const char *h = web_request_header(rq, "Authorization");
	struct api_token *t = NULL;
	gboolean ok = FALSE;
	if (h && !g_ascii_strncasecmp(h, "Bearer ", 7) &&
	    api_token_check(rq->site, h + 7, &t, NULL) == 1 && !t->revoked &&
	    !*t->list)
		ok = TRUE;
	api_token_free(&t);
	if (!ok && !loopback(rq->client)) {
		api_problem(rs, 401, "unauthorized", "A site token is needed",
			    "/metrics answers loopback, or a site-wide API "
			    "token.", NULL);
		return FALSE;
	}
	return TRUE;
}

static void list_metrics(struct site *site, GString *out)
{
	GPtrArray *names = list_all(site, NULL);
	GString *held = g_string_new(NULL), *reqs = g_string_new(NULL);
	for (guint i = 0; names && i < names->len; i++) {
		struct list *l = list_open(site, names->pdata[i], NULL);
		GPtrArray *a = NULL;
		if (!l)
			continue;
		if (held_list(l, &a, NULL) == 0) {
			g_string_append(held, "herald_held_posts{list=\"");
			label(held, list_fqdn(l));
			g_string_append_printf(held, "\"} %u\n", a->len);
			g_ptr_array_free(a, TRUE);
		}
		if (pending_list(l, PENDING_APPROVE, &a, NULL) == 0) {
			g_string_append(reqs, "herald_pending_requests{list=\"");
			label(reqs, list_fqdn(l));
			g_string_append_printf(reqs, "\"} %u\n", a->len);
			g_ptr_array_free(a, TRUE);
		}
		list_free(&l);
	}
	metric_head(out, "herald_lists", "Mailing lists of the site.");
	g_string_append_printf(out, "herald_lists %u\n", names ? names->len : 0);
	metric_head(out, "herald_held_posts", "Posts held for the moderators.");
	g_string_append(out, held->str);
	metric_head(out, "herald_pending_requests",
		    "Requests waiting for a moderator.");
	g_string_append(out, reqs->str);
	g_string_free(held, TRUE);
	g_string_free(reqs, TRUE);
	if (names)
		g_ptr_array_free(names, TRUE);
}

void api_metrics_page(struct web_request *rq, struct web_response *rs)
{
	if (rq->nsegments != 1 || !api_method(rq, "GET")) {
		api_problem(rs, 404, "no-resource", "No such resource", NULL,
			    NULL);
		return;
	}
	if (!metrics_allowed(rq, rs))
		return;
	GString *out = g_string_new(NULL);
	GArray *qs = queue_states(rq->site);
	metric_head(out, "herald_queue_ready", "Entries ready in a queue.");
	for (guint i = 0; i < qs->len; i++) {
		struct queue_state *s = &g_array_index(qs, struct queue_state, i);
		g_string_append(out, "herald_queue_ready{queue=\"");
		label(out, s->name);
		g_string_append_printf(out, "\"} %d\n", s->ready);
	}
	metric_head(out, "herald_queue_claimed",
		    "Entries of a queue a runner is working on.");
	for (guint i = 0; i < qs->len; i++) {
		struct queue_state *s = &g_array_index(qs, struct queue_state, i);
		g_string_append(out, "herald_queue_claimed{queue=\"");
		label(out, s->name);
		g_string_append_printf(out, "\"} %d\n", s->claimed);
	}
	queue_states_free(qs);
	char *dir = NULL;
	int64_t now = 0;
	GPtrArray *leases = lease_names(rq->site, &dir, &now);
	metric_head(out, "herald_lease_held",
		    "Whether a lease (a queue slice's, a master's) is held.");
	for (guint i = 0; leases && i < leases->len; i++) {
		g_string_append(out, "herald_lease_held{lease=\"");
		label(out, leases->pdata[i]);
		g_string_append_printf(out, "\"} %d\n",
				       lease_held(dir, leases->pdata[i], now,
						  NULL));
	}
	if (leases)
		g_ptr_array_free(leases, TRUE);
	g_free(dir);
	GHashTable *runners = runner_counts(rq->site);
	metric_head(out, "herald_runner_processes",
		    "Runner processes a host's master runs.");
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, runners);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		g_string_append(out, "herald_runner_processes{host=\"");
		label(out, k);
		g_string_append_printf(out, "\"} %u\n", GPOINTER_TO_UINT(v));
	}
	g_hash_table_unref(runners);
	list_metrics(rq->site, out);
	web_body(rs, 200, "text/plain; version=0.0.4; charset=utf-8",
		 out->str, out->len);
	g_string_free(out, TRUE);
}
