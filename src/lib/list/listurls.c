/*
 * listurls.c - a list's web addresses from web.base_url.
 *
 * The list appears in paths by its whole posting address, not by its
 * local part as in Mailman: herald serves several domains from one site,
 * and dev@example.org and dev@example.net are different lists.
 */
#include "list/listurls.h"
#include "list/token.h"

#include <string.h>

char *
listurls_base(struct list *l)
{
	char *base = site_get(list_site(l), "web.base_url", NULL);
	char *out;

	if (base == NULL || *g_strstrip(base) == '\0') {
		const char *at = strrchr(list_fqdn(l), '@');

		out = g_strdup_printf("https://%s/", at != NULL ? at + 1 : "");
	} else if (!g_str_has_suffix(base, "/")) {
		out = g_strconcat(base, "/", NULL);
	} else {
		out = g_strdup(base);
	}
	g_free(base);
	return out;
}

/* <base><what>/<list@domain><tail> */
static char *
list_url(struct list *l, const char *what, const char *tail)
{
	char *base = listurls_base(l);
	char *out = g_strconcat(base, what, "/", list_fqdn(l), tail, NULL);

	g_free(base);
	return out;
}

char *
listurls_listinfo(struct list *l)
{
	return list_url(l, "listinfo", "");
}

char *
listurls_archive(struct list *l)
{
	return list_url(l, "archives", "/");
}

char *
listurls_msgid_key(const char *msgid)
{
	size_t n = msgid != NULL ? strlen(msgid) : 0;

	if (n == 0 || n >= 250)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)msgid[i] <= ' ' || (unsigned char)msgid[i] >= 0x7F)
			return NULL;
	return g_compute_checksum_for_string(G_CHECKSUM_SHA1, msgid, (gssize)n);
}

char *
listurls_archived_at(struct list *l, const char *msgid)
{
	char *key = listurls_msgid_key(msgid);
	char *tail = key != NULL ? g_strconcat("/msgid/", key, NULL) : NULL;
	char *out = tail != NULL ? list_url(l, "archives", tail) : NULL;

	g_free(tail);
	g_free(key);
	return out;
}

char *
listurls_options(struct list *l)
{
	return list_url(l, "options", "");
}

char *
listurls_member_options(struct list *l, const char *address)
{
	char *m = g_uri_escape_string(address, NULL, FALSE);
	char *tail = g_strconcat("/", m, NULL);
	char *out = list_url(l, "options", tail);

	g_free(m);
	g_free(tail);
	return out;
}

char *
listurls_unsubscribe(struct list *l, const struct token_key *key,
		     const char *address, GError **error)
{
	char *tok = token_make_with_key(token_key_bytes(key), list_fqdn(l),
					address, TOKEN_PURPOSE_UNSUBSCRIBE, error);
	char *m, *tail, *out;

	if (tok == NULL)
		return NULL;
	/* The token is URL-safe base64: nothing in it needs escaping. */
	m = g_uri_escape_string(address, NULL, FALSE);
	tail = g_strconcat("?m=", m, "&t=", tok, NULL);
	out = list_url(l, "unsubscribe", tail);
	g_free(tok);
	g_free(m);
	g_free(tail);
	return out;
}

gboolean
listurls_is_https(const char *url)
{
	return g_ascii_strncasecmp(url, "https://", 8) == 0 && url[8] != '\0';
}
