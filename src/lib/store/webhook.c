/*
 * webhook.c - the webhooks' settings and the writing of events
 * (webhook.h).  The sending is runners/webhook.c.
 */
#include "store/webhook.h"
#include "base/base.h"
#include "base/log.h"
#include "store/lock.h"
#include "store/names.h"
#include "store/queue.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define GROUP "webhook"
#define SITE_SCOPE "_site"
/* How long emit waits for the sequence lock before it gives up (logged). */
#define SEQ_LOCK_WAIT_MS 30000

void webhook_free(struct webhook **hp)
{
	struct webhook *h = *hp;
	if (!h)
		return;
	g_free(h->id);
	g_free(h->url);
	if (h->secret)
		sodium_memzero(h->secret, strlen(h->secret));
	g_free(h->secret);
	g_free(h->list);
	g_free(h);
	*hp = NULL;
}

void webhook_free_ptr(gpointer p)
{
	struct webhook *h = p;
	webhook_free(&h);
}

static char *hooks_dir(const char *var_dir)
{
	return g_build_filename(var_dir, "webhooks", "hooks", NULL);
}

static gboolean id_valid(const char *id)
{
	if (strlen(id) != 16)
		return FALSE;
	for (const char *p = id; *p; p++)
		if (!g_ascii_isxdigit(*p) || g_ascii_isupper(*p))
			return FALSE;
	return TRUE;
}

int webhook_get(const char *var_dir, const char *id, struct webhook **hook_r,
		GError **error)
{
	if (!id_valid(id))
		return 0;
	char *dir = hooks_dir(var_dir);
	char *path = g_build_filename(dir, id, NULL);
	GKeyFile *k = NULL;
	int ret = fs_read_keyfile(path, &k, error);
	if (ret == 1) {
		struct webhook *h = g_new0(struct webhook, 1);
		h->id = g_strdup(id);
		h->url = g_key_file_get_string(k, GROUP, "url", NULL);
		h->secret = g_key_file_get_string(k, GROUP, "secret", NULL);
		h->list = g_key_file_get_string(k, GROUP, "list", NULL);
		h->created = g_key_file_get_int64(k, GROUP, "created", NULL);
		if (!h->url || !h->secret || !h->list) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
				    "%s: url, secret or list missing", path);
			webhook_free(&h);
			ret = -1;
		}
		*hook_r = h;
		g_key_file_free(k);
	}
	g_free(path);
	g_free(dir);
	return ret;
}

static gboolean url_ok(const char *url)
{
	GUri *u = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	gboolean ok = u && (!g_strcmp0(g_uri_get_scheme(u), "http") ||
			    !g_strcmp0(g_uri_get_scheme(u), "https")) &&
		      g_uri_get_host(u) && *g_uri_get_host(u) &&
		      !strpbrk(url, " \r\n\t");
	if (u)
		g_uri_unref(u);
	return ok;
}

int webhook_add(struct site *site, const char *list, const char *url,
		struct webhook **hook_r, GError **error)
{
	if (!url_ok(url)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "%s: not an http:// or https:// URL", url);
		return -1;
	}
	struct webhook *h = g_new0(struct webhook, 1);
	h->id = random_hex(8);
	h->secret = random_hex(32);
	h->url = g_strdup(url);
	h->list = g_strdup(list ? list : "");
	h->created = g_get_real_time() / G_USEC_PER_SEC;
	GKeyFile *k = g_key_file_new();
	g_key_file_set_string(k, GROUP, "url", h->url);
	g_key_file_set_string(k, GROUP, "secret", h->secret);
	g_key_file_set_string(k, GROUP, "list", h->list);
	g_key_file_set_int64(k, GROUP, "created", h->created);
	gsize len;
	char *text = g_key_file_to_data(k, &len, NULL);
	g_key_file_free(k);
	char *dir = hooks_dir(site_var_dir(site));
	char *path = g_build_filename(dir, h->id, NULL);
	int ret = fs_mkdir_p(dir, 0700, error) < 0 ? -1
		: fs_write_atomic(path, text, len, error);
	sodium_memzero(text, len);
	g_free(text);
	g_free(path);
	g_free(dir);
	if (ret < 0)
		webhook_free(&h);
	*hook_r = h;
	return ret;
}

static gint by_created(gconstpointer a, gconstpointer b)
{
	const struct webhook *x = *(struct webhook *const *)a;
	const struct webhook *y = *(struct webhook *const *)b;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

GPtrArray *webhook_all(const char *var_dir, GError **error)
{
	char *dir = hooks_dir(var_dir);
	GPtrArray *out = g_ptr_array_new_with_free_func(webhook_free_ptr);
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		g_free(dir);
		return out;
	}
	GPtrArray *names = fs_dir_names(dir, NULL, error);
	g_free(dir);
	if (!names) {
		g_ptr_array_free(out, TRUE);
		return NULL;
	}
	for (guint i = 0; i < names->len; i++) {
		struct webhook *h = NULL;
		int r = webhook_get(var_dir, names->pdata[i], &h, error);
		if (r < 0) {
			g_ptr_array_free(names, TRUE);
			g_ptr_array_free(out, TRUE);
			return NULL;
		}
		if (r == 1)
			g_ptr_array_add(out, h);
	}
	g_ptr_array_free(names, TRUE);
	g_ptr_array_sort(out, by_created);
	return out;
}

int webhook_remove(struct site *site, const char *id, GError **error)
{
	if (!id_valid(id))
		return 0;
	char *dir = hooks_dir(site_var_dir(site));
	char *path = g_build_filename(dir, id, NULL);
	int ret = 1;
	if (fs_unlink(path) < 0) {
		if (errno == ENOENT) {
			ret = 0;
		} else {
			set_errno_error(error, "unlink(%s)", path);
			ret = -1;
		}
	}
	if (ret == 1 && fs_sync_dir(dir, error) < 0)
		ret = -1;
	g_free(path);
	g_free(dir);
	return ret;
}

/* The next sequence number of scope (a list, or "_site"), under its lock:
 * every host's events of one list share the numbers. */
static int next_sequence(struct site *site, const char *scope,
			 int64_t *seq_r, GError **error)
{
	char *locks = site_path(site, "locks", NULL);
	char *name = g_strdup_printf("webhook-seq-%s", scope);
	struct lock *lk = lock_new(locks, name,
				   site_get_int(site, "lock.lifetime") * 1000);
	char *dir = site_path(site, "webhooks", "seq", NULL);
	char *path = g_build_filename(dir, scope, NULL);
	char *text = NULL;
	int ret = -1;
	g_free(locks);
	g_free(name);
	if (lock_acquire(lk, SEQ_LOCK_WAIT_MS, error) < 0)
		goto out;
	int r = fs_read_file(path, &text, NULL, error);
	if (r < 0)
		goto out;
	int64_t seq = (r == 1 ? g_ascii_strtoll(text, NULL, 10) : 0) + 1;
	char *next = g_strdup_printf("%" G_GINT64_FORMAT "\n", seq);
	ret = fs_mkdir_p(dir, 0755, error) < 0 ? -1
		: fs_write_atomic(path, next, strlen(next), error);
	g_free(next);
	if (ret == 0)
		*seq_r = seq;
out:
	lock_free(&lk);
	g_free(text);
	g_free(path);
	g_free(dir);
	return ret;
}

/* The body every webhook of the event gets (data borrowed). */
static char *event_body(const char *id, const char *list, const char *event,
			int64_t seq, JsonObject *data)
{
	JsonBuilder *b = json_builder_new();
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "id");
	json_builder_add_string_value(b, id);
	json_builder_set_member_name(b, "event");
	json_builder_add_string_value(b, event);
	json_builder_set_member_name(b, "list");
	if (list)
		json_builder_add_string_value(b, list);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "sequence");
	json_builder_add_int_value(b, seq);
	json_builder_set_member_name(b, "created");
	json_builder_add_int_value(b, g_get_real_time() / G_USEC_PER_SEC);
	json_builder_set_member_name(b, "data");
	JsonNode *d = json_node_new(JSON_NODE_OBJECT);
	if (data)
		json_node_set_object(d, data);
	else
		json_node_take_object(d, json_object_new());
	json_builder_add_value(b, d);
	json_builder_end_object(b);
	JsonGenerator *g = json_generator_new();
	JsonNode *root = json_builder_get_root(b);
	json_generator_set_root(g, root);
	char *text = json_generator_to_data(g, NULL);
	json_node_unref(root);
	g_object_unref(g);
	g_object_unref(b);
	return text;
}

static int enqueue(struct site *site, const char *hook, const char *list,
		   const char *event, int64_t seq, const char *body,
		   GError **error)
{
	struct queue_meta *m = queue_meta_new();
	queue_meta_set(m, META_WEBHOOK, hook);
	queue_meta_set(m, META_EVENT, event);
	queue_meta_set(m, META_LIST, list ? list : "");
	queue_meta_set_int(m, META_SEQUENCE, seq);
	queue_meta_set_int(m, META_FIRST_ATTEMPT,
			   g_get_real_time() / G_USEC_PER_SEC);
	int ret = queue_put(site_var_dir(site), QUEUE_WEBHOOKS, m, body,
			    strlen(body), NULL, error);
	queue_meta_free(&m);
	return ret;
}

/* Takes data. */
static int emit(struct site *site, GPtrArray *hooks, const char *list,
		const char *event, JsonObject *data, GError **error)
{
	int64_t seq = 0;
	if (next_sequence(site, list ? list : SITE_SCOPE, &seq, error) < 0) {
		if (data)
			json_object_unref(data);
		return -1;
	}
	char *id = random_hex(16);
	char *body = event_body(id, list, event, seq, data);
	if (data)
		json_object_unref(data);
	int ret = 0;
	for (guint i = 0; i < hooks->len && ret == 0; i++) {
		const struct webhook *h = hooks->pdata[i];
		ret = enqueue(site, h->id, list, event, seq, body, error);
	}
	g_free(body);
	g_free(id);
	return ret;
}

void webhook_emit(struct site *site, const char *list, const char *event,
		  JsonObject *data)
{
	GError *error = NULL;
	GPtrArray *all = webhook_all(site_var_dir(site), &error);
	GPtrArray *want = g_ptr_array_new();
	for (guint i = 0; all && i < all->len; i++) {
		struct webhook *h = all->pdata[i];
		if (!*h->list || (list && !strcmp(h->list, list)))
			g_ptr_array_add(want, h);
	}
	if (all && want->len > 0)
		emit(site, want, list, event, data, &error);
	else if (data)
		json_object_unref(data);
	if (error) {
		log_error("webhook", "event %s of %s lost: %s", event,
			  list ? list : "the site", error->message);
		g_error_free(error);
	}
	g_ptr_array_free(want, TRUE);
	if (all)
		g_ptr_array_free(all, TRUE);
}

int webhook_emit_to(struct site *site, const struct webhook *h,
		    const char *list, const char *event, JsonObject *data,
		    GError **error)
{
	GPtrArray *one = g_ptr_array_new();
	g_ptr_array_add(one, (gpointer)h);
	int ret = emit(site, one, list, event, data, error);
	g_ptr_array_free(one, TRUE);
	return ret;
}

char *webhook_sent_path(const char *var_dir, const char *id,
			const char *list, int64_t seq)
{
	char *name = g_strdup_printf("%s.%012" G_GINT64_FORMAT ".json",
				     *list ? list : SITE_SCOPE, seq);
	char *path = g_build_filename(var_dir, "webhooks", "sent", id, name,
				      NULL);
	g_free(name);
	return path;
}

int webhook_replay(struct site *site, const char *id, int64_t since,
		   guint *count_r, GError **error)
{
	*count_r = 0;
	if (!id_valid(id)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
			    "no webhook %s", id);
		return -1;
	}
	char *dir = g_build_filename(site_var_dir(site), "webhooks", "sent", id,
				     NULL);
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		g_free(dir);
		return 0;
	}
	GPtrArray *names = fs_dir_names(dir, NULL, error);
	int ret = names ? 0 : -1;
	for (guint i = 0; names && i < names->len && ret == 0; i++) {
		const char *n = names->pdata[i];
		if (!g_str_has_suffix(n, ".json"))
			continue;
		char *path = g_build_filename(dir, n, NULL);
		char *body = NULL;
		size_t len = 0;
		JsonParser *p = json_parser_new();
		if (fs_read_file(path, &body, &len, error) == 1 &&
		    json_parser_load_from_data(p, body, len, NULL) &&
		    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
			JsonObject *o = json_node_get_object(
				json_parser_get_root(p));
			int64_t seq = json_object_get_int_member_with_default(
				o, "sequence", 0);
			const char *list = json_object_get_string_member_with_default(
				o, "list", NULL);
			const char *event = json_object_get_string_member_with_default(
				o, "event", "");
			if (seq >= since) {
				ret = enqueue(site, id, list, event, seq, body,
					      error);
				if (ret == 0)
					(*count_r)++;
			}
		}
		g_object_unref(p);
		g_free(body);
		g_free(path);
	}
	if (names)
		g_ptr_array_free(names, TRUE);
	g_free(dir);
	return ret;
}
