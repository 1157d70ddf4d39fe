/*
 * webhook.c - the webhooks queue's runner: sends each event (store/
 * webhook.h) to its webhook with an HTTP POST, signed.
 *
 * The request carries
 *     Content-Type: application/json
 *     Herald-Event: member.subscribed
 *     Herald-Attempt: 1, 2, ... (the event's own id is in the body)
 *     Herald-Sequence: <the list's event number>
 *     Herald-Signature: t=<unix time>,v1=<hex HMAC-SHA256>
 * where the HMAC is keyed with the webhook's secret over "<t>.<body>", so
 * a receiver checks the body and refuses an old replay by t.
 *
 * A 2xx answer is success.  Anything else (no connection, a timeout, a
 * 4xx or 5xx) is tried again: the entry goes back into the queue with its
 * name stamp (the queue's order) set to when it falls due, after
 * webhooks.retry_wait seconds doubling with each attempt up to an hour;
 * an entry not yet due ends the runner's pass, as in the retry queue.
 * Once webhooks.give_up seconds have passed since the event, it is given
 * up with a log line.  Sent or given up, the event is kept under
 * webhooks/sent/ for `herald webhooks replay`.
 */
#include "runners/runners.h"
#include "base/base.h"
#include "base/log.h"
#include "store/names.h"
#include "store/webhook.h"

#include <gio/gio.h>
#include <sodium.h>
#include <string.h>

#define SUBSYS "webhook"
#define MAX_WAIT_S 3600

struct sender {
	struct site *site;
};

static char *signature(const char *secret, int64_t t, const char *body,
		       size_t len)
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char *ts = g_strdup_printf("%" G_GINT64_FORMAT ".", t);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret,
				    strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts,
				      strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	char hex[sizeof mac * 2 + 1];
	sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
	g_free(ts);
	return g_strdup_printf("t=%" G_GINT64_FORMAT ",v1=%s", t, hex);
}

/* POSTs body to h: the HTTP status, or -1 with *error (no answer). */
static int post(const struct webhook *h, const struct queue_item *item,
		unsigned timeout, GError **error)
{
	GUri *u = g_uri_parse(h->url, G_URI_FLAGS_NONE, error);
	if (!u)
		return -1;
	gboolean tls = !g_strcmp0(g_uri_get_scheme(u), "https");
	int port = g_uri_get_port(u) > 0 ? g_uri_get_port(u) : tls ? 443 : 80;
	const char *path = *g_uri_get_path(u) ? g_uri_get_path(u) : "/";
	const char *query = g_uri_get_query(u);
	GSocketClient *c = g_socket_client_new();
	g_socket_client_set_timeout(c, timeout);
	g_socket_client_set_tls(c, tls);
	int status = -1;
	GSocketConnection *conn = g_socket_client_connect_to_host(
		c, g_uri_get_host(u), (guint16)port, NULL, error);
	if (!conn)
		goto out;
	char *sig = signature(h->secret, g_get_real_time() / G_USEC_PER_SEC,
			      item->msg, item->msg_len);
	/* Only our own values go into these lines: the URL was checked for
	 * spaces and line breaks when the webhook was added, the event's
	 * name and numbers are herald's. */
	char *head = g_strdup_printf(
		"POST %s%s%s HTTP/1.1\r\nHost: %s\r\n"
		"User-Agent: herald/%s\r\nContent-Type: application/json\r\n"
		"Content-Length: %zu\r\nHerald-Event: %s\r\n"
		"Herald-Attempt: %" G_GINT64_FORMAT "\r\nHerald-Sequence: %s\r\n"
		"Herald-Signature: %s\r\nConnection: close\r\n\r\n",
		path, query ? "?" : "", query ? query : "", g_uri_get_host(u),
		HERALD_VERSION, item->msg_len,
		queue_meta_get(item->meta, META_EVENT),
		queue_meta_get_int(item->meta, META_ATTEMPT, 0) + 1,
		queue_meta_get(item->meta, META_SEQUENCE), sig);
	g_free(sig);
	GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
	if (g_output_stream_write_all(out, head, strlen(head), NULL, NULL,
				      error) &&
	    g_output_stream_write_all(out, item->msg, item->msg_len, NULL,
				      NULL, error)) {
		GDataInputStream *d = g_data_input_stream_new(in);
		g_filter_input_stream_set_close_base_stream(
			G_FILTER_INPUT_STREAM(d), FALSE);
		char *line = g_data_input_stream_read_line(d, NULL, NULL,
							   error);
		unsigned code = 0;
		if (line && sscanf(line, "HTTP/1.%*u %u", &code) == 1 &&
		    code >= 100 && code < 600)
			status = (int)code;
		else if (line)
			g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
				    "not an HTTP answer");
		else if (error && !*error)
			g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
				    "the connection closed without an answer");
		g_free(line);
		g_object_unref(d);
	}
	g_free(head);
	g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
	g_object_unref(conn);
out:
	g_object_unref(c);
	g_uri_unref(u);
	return status;
}

/* Keeps the event for replay (a convenience: not synced). */
static void keep_sent(struct sender *s, const struct webhook *h,
		      const struct queue_item *item)
{
	const char *list = queue_meta_get(item->meta, META_LIST);
	int64_t seq = queue_meta_get_int(item->meta, META_SEQUENCE, 0);
	char *path = webhook_sent_path(site_var_dir(s->site), h->id,
				       list ? list : "", seq);
	char *dir = fs_dirname(path);
	GError *error = NULL;
	if (fs_mkdir_p(dir, 0700, &error) < 0 ||
	    !g_file_set_contents(path, item->msg, (gssize)item->msg_len,
				 &error)) {
		log_warning(SUBSYS, "keeping %s: %s", path, error->message);
		g_error_free(error);
	}
	g_free(dir);
	g_free(path);
}

static int handle_webhook(void *ctx, struct queue *q, struct queue_item *item,
			  GError **error)
{
	struct sender *s = ctx;
	int64_t now = now_usec();
	if (g_ascii_strtoll(item->base, NULL, 10) > now)
		return RUNNER_NOT_DUE;
	const char *id = queue_meta_get(item->meta, META_WEBHOOK);
	struct webhook *h = NULL;
	int r = id ? webhook_get(queue_var_dir(q), id, &h, error) : 0;
	if (r < 0)
		return -1;
	if (r == 0) {
		log_warning(SUBSYS, "event %s: webhook %s is gone: dropped",
			    item->base, id ? id : "(none)");
		return 0;
	}
	GError *e = NULL;
	int status = post(h, item, (unsigned)site_get_int(s->site,
							  "webhooks.timeout"),
			  &e);
	int ret = 0;
	if (status >= 200 && status < 300) {
		log_info(SUBSYS, "event %s %s seq %s to %s: %d",
			 queue_meta_get(item->meta, META_EVENT), item->base,
			 queue_meta_get(item->meta, META_SEQUENCE), h->url,
			 status);
		keep_sent(s, h, item);
		goto out;
	}
	int64_t attempt = queue_meta_get_int(item->meta, META_ATTEMPT, 0) + 1;
	int64_t first = queue_meta_get_int(item->meta, META_FIRST_ATTEMPT,
					   now / G_USEC_PER_SEC);
	char *why = status > 0 ? g_strdup_printf("HTTP %d", status)
			       : g_strdup(e ? e->message : "no answer");
	g_clear_error(&e);
	if (now / G_USEC_PER_SEC - first >=
	    site_get_int(s->site, "webhooks.give_up")) {
		log_error(SUBSYS, "event %s seq %s to %s: given up after %"
			  G_GINT64_FORMAT " attempts: %s",
			  queue_meta_get(item->meta, META_EVENT),
			  queue_meta_get(item->meta, META_SEQUENCE), h->url,
			  attempt, why);
		keep_sent(s, h, item);
		g_free(why);
		goto out;
	}
	int64_t wait = site_get_int(s->site, "webhooks.retry_wait");
	for (int64_t i = 1; i < attempt && wait < MAX_WAIT_S; i++)
		wait *= 2;
	if (wait > MAX_WAIT_S)
		wait = MAX_WAIT_S;
	log_warning(SUBSYS, "event %s seq %s to %s: %s; again in %"
		    G_GINT64_FORMAT " s", queue_meta_get(item->meta, META_EVENT),
		    queue_meta_get(item->meta, META_SEQUENCE), h->url, why,
		    wait);
	g_free(why);
	struct queue_meta *m = queue_meta_copy(item->meta);
	queue_meta_set_int(m, META_ATTEMPT, attempt);
	/* The name's stamp is when it falls due: the queue stays in due
	 * order, as the retry queue does. */
	queue_meta_set_int(m, META_RECEIVED,
			   (now / G_USEC_PER_SEC + wait) * G_USEC_PER_SEC);
	ret = queue_enqueue_batched(q, m, item->msg, item->msg_len, NULL,
				    error);
	queue_meta_free(&m);
out:
	webhook_free(&h);
	return ret;
}

static void *webhook_open(struct site *site, const char *queue,
			  GError **error)
{
	struct sender *s = g_new0(struct sender, 1);
	s->site = site;
	return s;
}

static void webhook_close(void *ctx)
{
	g_free(ctx);
}

const struct runner_kind runner_webhook = {
	.name = "webhook",
	.init_queue = QUEUE_WEBHOOKS,
	.doc = "sends the webhooks' events (docs/api.md), signed, retried "
	       "with backoff.",
	.open = webhook_open,
	.close = webhook_close,
	.handle = handle_webhook,
};
