/*
 * modlink.c - confirmation and moderators' one-click links (modlink.h),
 * signed with list/token.h: the list's own posting address stands in for
 * the member address a token binds, and the purpose carries the action
 * and the request.
 */
#include "list/modlink.h"
#include "base/base.h"
#include "base/log.h"
#include "list/listurls.h"
#include "list/pending.h"
#include "list/template.h"
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

char *
modlink_confirm_address(struct list *l, const char *token)
{
	char *confirm = list_address(l, "-confirm");
	char *at = strrchr(confirm, '@');
	char *out = g_strdup_printf("%.*s+%s%s", (int)(at - confirm), confirm,
				    token, at);

	g_free(confirm);
	return out;
}

void
modlink_template_vars(struct list *l, GHashTable *vars, const char *token)
{
	static const char *const actions[][2] = {
		{ MODLINK_APPROVE, "approveurl" },
		{ MODLINK_REJECT, "rejecturl" },
		{ MODLINK_DISCARD, "discardurl" },
	};

	template_vars_set(vars, "cookie", token);
	template_vars_take(vars, "confirmaddr", modlink_confirm_address(l, token));
	for (size_t i = 0; i < G_N_ELEMENTS(actions); i++) {
		GError *e = NULL;
		char *url = modlink_url(l, token, actions[i][0], &e);

		if (url == NULL) {
			log_error("modlink", "list %s: the %s link of a "
				  "moderator's notice: %s", list_fqdn(l),
				  actions[i][0], e->message);
			g_error_free(e);
		}
		template_vars_take(vars, actions[i][1],
				   url != NULL ? url : g_strdup(""));
	}
}
