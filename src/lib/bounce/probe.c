/*
 * probe.c - VERP probes (Mailman 2.1's VERP_PROBES, the list setting
 * bounce_verp_probes): when a bounce that did not come back to a VERP
 * address would disable a member, herald is not certain the member is the
 * one that failed (a DSN names whatever address the mail reached, perhaps
 * after forwarding), so it sends the member a probe instead, from
 *
 *     LIST-bounces+probe-TOKEN-MAILBOX=DOMAIN@LISTDOMAIN
 *
 * where MAILBOX=DOMAIN is the member's VERP form (mail/verp.h) and TOKEN
 * an HMAC token for (list, member, "probe") under the site key
 * (list/token.h), 43 characters.  A bounce of the probe comes back to that
 * address: the token proves herald sent it to that member, and the member
 * is disabled.  Nothing is stored per probe.
 */
#include "bounce/bounce-private.h"
#include "base/log.h"
#include "list/list.h"
#include "list/template.h"
#include "list/token.h"
#include "mail/verp.h"

#include <string.h>

#define PROBE_PREFIX "probe-"
#define PROBE_TOKEN_LEN 43

int
bounce_send_probe(struct list *l, const char *addr, const char *language,
		  GMimeMessage *sample, GError **error)
{
	char *token = token_make(list_site(l), list_fqdn(l), addr,
				 TOKEN_PURPOSE_PROBE, error);
	char *bounces, *verp, *detail, *sender;
	GHashTable *vars;
	int ret;

	if (token == NULL)
		return -1;
	/* The member's VERP detail (MAILBOX=DOMAIN) after "probe-TOKEN-". */
	bounces = list_address(l, "-bounces");
	verp = verp_encode(bounces, addr);
	detail = g_strdup_printf(PROBE_PREFIX "%s-%.*s", token,
				 (int)(strrchr(verp, '@') - strchr(verp, '+') - 1),
				 strchr(verp, '+') + 1);
	sender = list_address_plus(l, "-bounces", detail);
	vars = template_vars_for_list(l);
	ret = bounce_send_template(l, addr, language, "probe", vars, NULL, sender,
				   sample, error);
	if (ret == 0)
		log_info("bounce", "list %s: probe sent to %s", list_fqdn(l), addr);
	g_hash_table_unref(vars);
	g_free(token);
	g_free(bounces);
	g_free(verp);
	g_free(detail);
	g_free(sender);
	return ret;
}

gboolean
bounce_probe_split(const char *rcpt, char **verp_r, char **token_r)
{
	const char *plus = rcpt != NULL ? strchr(rcpt, '+') : NULL;
	const char *tok, *rest;

	*verp_r = *token_r = NULL;
	if (plus == NULL || strncmp(plus + 1, PROBE_PREFIX, strlen(PROBE_PREFIX)) != 0)
		return FALSE;
	tok = plus + 1 + strlen(PROBE_PREFIX);
	if (strlen(tok) < PROBE_TOKEN_LEN + 1 || tok[PROBE_TOKEN_LEN] != '-')
		return FALSE;
	rest = tok + PROBE_TOKEN_LEN + 1;
	*token_r = g_strndup(tok, PROBE_TOKEN_LEN);
	*verp_r = g_strdup_printf("%.*s+%s", (int)(plus - rcpt), rcpt, rest);
	return TRUE;
}
