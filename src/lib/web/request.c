/*
 * request.c - what handlers read from a request and how they answer
 * (web.h): inputs, CSRF tokens, pages, errors, redirects.
 */
#include "web/web.h"
#include "web/session.h"
#include "web/view.h"
#include "base/base.h"
#include "base/log.h"
#include "list/token.h"

#include <sodium.h>
#include <string.h>

/* An anonymous form's CSRF token lasts from one to two of these. */
#define CSRF_PERIOD_S 3600

const char *web_query(struct web_request *rq, const char *name)
{
	return g_hash_table_lookup(rq->query, name);
}

const char *web_form(struct web_request *rq, const char *name)
{
	return g_hash_table_lookup(rq->form, name);
}

const char *web_cookie(struct web_request *rq, const char *name)
{
	return g_hash_table_lookup(rq->cookies, name);
}

const char *web_segment(struct web_request *rq, guint i)
{
	return i < rq->nsegments ? rq->segments[i] : NULL;
}

gboolean web_is_post(struct web_request *rq)
{
	return !strcmp(rq->method, "POST");
}

struct list *web_list_arg(struct web_request *rq, struct web_response *rs,
			  guint i)
{
	const char *name = web_segment(rq, i);
	char *n = NULL, *d = NULL;
	struct list *l = NULL;
	/* list_name_check refuses anything that is not a list name, so
	 * nothing else reaches list_open's path. */
	if (name && list_name_check(name, &n, &d, NULL) == 0)
		l = list_open(rq->site, name, NULL);
	g_free(n);
	g_free(d);
	if (!l)
		web_error(rq, rs, 404, "There is no such list.");
	return l;
}

/* The anonymous token: "<period>.<HMAC of the period>".  It proves only
 * that the form came from this site lately (a page of any host sharing
 * the var dir); forms that change what a person owns need a session,
 * whose own token is checked instead. */
static char *anonymous_token(struct web_request *rq, int64_t period)
{
	unsigned char key[TOKEN_KEY_BYTES];
	if (token_site_key(rq->site, key, NULL) < 0)
		return NULL;
	GString *msg = g_string_new("herald-csrf-1");
	g_string_append_c(msg, '\0');
	g_string_append_printf(msg, "%" G_GINT64_FORMAT, period);
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256(mac, (unsigned char *)msg->str, msg->len, key);
	sodium_memzero(key, sizeof key);
	g_string_free(msg, TRUE);
	char b64[sodium_base64_ENCODED_LEN(sizeof mac,
			sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	sodium_bin2base64(b64, sizeof b64, mac, sizeof mac,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return g_strdup_printf("%" G_GINT64_FORMAT ".%s", period, b64);
}

char *web_csrf_token(struct web_request *rq)
{
	if (rq->session)
		return g_strdup(rq->session->csrf);
	char *t = anonymous_token(rq, g_get_real_time() / G_USEC_PER_SEC /
				      CSRF_PERIOD_S);
	return t ? t : g_strdup("");
}

static gboolean same_token(const char *a, const char *b)
{
	size_t n = strlen(a);
	return n == strlen(b) && n > 0 && sodium_memcmp(a, b, n) == 0;
}

gboolean web_check_csrf(struct web_request *rq, struct web_response *rs)
{
	const char *given = web_form(rq, "csrf");
	gboolean ok = FALSE;
	if (given && rq->session) {
		ok = same_token(given, rq->session->csrf);
	} else if (given) {
		int64_t now = g_get_real_time() / G_USEC_PER_SEC /
			      CSRF_PERIOD_S;
		for (int64_t p = now; p >= now - 1 && !ok; p--) {
			char *t = anonymous_token(rq, p);
			ok = t && same_token(given, t);
			g_free(t);
		}
	}
	if (!ok)
		web_error(rq, rs, 403, "This form has expired or did not come "
			  "from this site. Go back, reload the page and try "
			  "again.");
	return ok;
}

JsonObject *web_page_data(struct web_request *rq)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "base", rq->base_path);
	json_object_set_string_member(o, "lang", rq->lang);
	char *csrf = web_csrf_token(rq);
	json_object_set_string_member(o, "csrf", csrf);
	g_free(csrf);
	if (rq->session) {
		JsonObject *u = json_object_new();
		json_object_set_string_member(u, "role",
					      web_role_name(rq->session->role));
		json_object_set_string_member(u, "list", rq->session->list);
		json_object_set_string_member(u, "address",
					      rq->session->address);
		json_object_set_boolean_member(
			u, "site", rq->session->role == WEB_ROLE_SITE);
		json_object_set_object_member(o, "user", u);
	}
	return o;
}

void web_body(struct web_response *rs, unsigned status, const char *type,
	      const char *body, gsize length)
{
	rs->status = status;
	g_free(rs->content_type);
	rs->content_type = g_strdup(type);
	if (rs->body)
		g_bytes_unref(rs->body);
	rs->body = g_bytes_new(body, length);
}

void web_header(struct web_response *rs, const char *name, const char *value)
{
	if (!rs->headers)
		rs->headers = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(rs->headers, g_strdup(name));
	g_ptr_array_add(rs->headers, g_strdup(value));
}

void web_page(struct web_request *rq, struct web_response *rs,
	      unsigned status, const char *template, JsonObject *data)
{
	GError *error = NULL;
	char *page = view_render(rq->site, template, rq->lang, data, &error);
	json_object_unref(data);
	if (!page) {
		log_error(WEB_SUBSYS, "page %s: %s", template, error->message);
		g_error_free(error);
		const char *text = "Internal error: the page could not be "
				   "made. The site's log says why.\n";
		web_body(rs, 500, "text/plain; charset=utf-8", text,
			 strlen(text));
		return;
	}
	web_body(rs, status, "text/html; charset=utf-8", page, strlen(page));
	g_free(page);
}

void web_error(struct web_request *rq, struct web_response *rs,
	       unsigned status, const char *message)
{
	JsonObject *o = web_page_data(rq);
	json_object_set_int_member(o, "status", status);
	json_object_set_string_member(o, "message",
				      view_translate(rq->lang, message));
	web_page(rq, rs, status, "error", o);
}

void web_redirect(struct web_request *rq, struct web_response *rs,
		  const char *path)
{
	char *location = g_strconcat(rq->base_path, path, NULL);
	web_body(rs, 303, "text/plain; charset=utf-8", "", 0);
	web_header(rs, "Location", location);
	g_free(location);
}

char *web_list_path(struct web_request *rq, const char *what,
		    struct list *l, const char *rest)
{
	char *name = view_url_part(list_fqdn(l));
	char *path = g_strconcat(rq->base_path, what, "/", name,
				 rest ? "/" : NULL, rest, NULL);
	g_free(name);
	return path;
}
