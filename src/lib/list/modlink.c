/*
 * modlink.c - confirmation and moderators' one-click links (modlink.h),
 * signed with list/token.h: the list's own posting address stands in for
 * the member address a token binds, and the purpose carries the action
 * and the request.
 */
#include "list/modlink.h"
#include "base/base.h"
#include "list/listurls.h"
#include "list/pending.h"
#include "list/token.h"

#include <string.h>

static gboolean
action_valid(const char *action)
{
	return g_strcmp0(action, MODLINK_APPROVE) == 0 ||
	       g_strcmp0(action, MODLINK_REJECT) == 0 ||
	       g_strcmp0(action, MODLINK_DISCARD) == 0;
}

static char *
purpose(const char *token, const char *action)
{
	return g_strdup_printf("moderate-%s/%s", action, token);
}

char *
modlink_confirm_url(struct list *l, const char *token)
{
	char *base = listurls_base(l);
	char *url = g_strconcat(base, "confirm/", list_fqdn(l), "/", token,
				NULL);

	g_free(base);
	return url;
}

char *
modlink_sign(struct list *l, const char *token, const char *action,
	     GError **error)
{
	char *p, *sig;

	if (!action_valid(action) || !pending_token_valid(token)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "no link for action \"%s\" on request \"%s\"",
			    action, token);
		return NULL;
	}
	p = purpose(token, action);
	sig = token_make(list_site(l), list_fqdn(l), list_fqdn(l), p, error);
	g_free(p);
	return sig;
}

char *
modlink_url(struct list *l, const char *token, const char *action,
	    GError **error)
{
	char *sig = modlink_sign(l, token, action, error);
	char *base, *url;

	if (sig == NULL)
		return NULL;
	base = listurls_base(l);
	url = g_strconcat(base, "moderate/", list_fqdn(l), "/", token, "/",
			  action, "?s=", sig, NULL);
	g_free(base);
	g_free(sig);
	return url;
}

int
modlink_verify(struct list *l, const char *token, const char *action,
	       const char *signature, GError **error)
{
	char *p;
	int r;

	if (!action_valid(action) || !pending_token_valid(token) ||
	    signature == NULL)
		return 0;
	p = purpose(token, action);
	r = token_verify(list_site(l), list_fqdn(l), list_fqdn(l), p, signature,
			 error);
	g_free(p);
	return r;
}
