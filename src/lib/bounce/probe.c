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
#include "list/notice.h"
#include "list/token.h"
#include "mail/verp.h"

#include <string.h>

#define PROBE_PREFIX "probe-"
#define PROBE_TOKEN_LEN 43

int
bounce_send_probe(struct list *l, const char *addr, GError **error)
{
	const char *to[] = { addr, NULL };
	char *bounces = list_address(l, "-bounces");
	char *token = token_make(list_site(l), list_fqdn(l), addr,
				 TOKEN_PURPOSE_PROBE, error);
	char *verp, *plus, *sender, *subject, *text;
	int ret;

	if (token == NULL) {
		g_free(bounces);
		return -1;
	}
	/* The member's VERP address with "probe-TOKEN-" after the '+'. */
	verp = verp_encode(bounces, addr);
	plus = strchr(verp, '+');
	sender = g_strdup_printf("%.*s+" PROBE_PREFIX "%s-%s", (int)(plus - verp),
				 verp, token, plus + 1);
	g_free(verp);
	subject = g_strdup_printf("%s mailing list probe message", list_fqdn(l));
	text = g_strdup_printf(
		"This is a probe message from the mailing list %s.\n"
		"You can ignore it.\n\n"
		"Mail to your address, %s, has been bouncing, and herald\n"
		"sends this message to find out whether the bounces really\n"
		"were about your address.  If this message reaches you, nothing\n"
		"more happens.  If it bounces too, your delivery from the list\n"
		"will be disabled.\n", list_fqdn(l), addr);
	ret = notice_send_envelope(l, to, sender, subject, text, NULL, error);
	if (ret == 0)
		log_info("bounce", "list %s: probe sent to %s", list_fqdn(l), addr);
	g_free(token);
	g_free(bounces);
	g_free(sender);
	g_free(subject);
	g_free(text);
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
