/*
 * pipe_replybot.c - automatic responses to posts (autorespond_postings)
 * and to mail for the owners (autorespond_admin).
 *
 * A sender gets one response per autoresponse_graceperiod days (0: every
 * time), recorded in lists/<list>/replybot; robots and bulk mail get
 * none (X-Ack: yes asks for one anyway, X-Ack: no refuses it).  The daily
 * limit of notice_autorespond applies on top.  The texts take the list's
 * template variables (list/template.h), Mailman's listname, listurl,
 * requestemail, owneremail and adminemail among them.
 */
#include "pipeline/pipeline.h"
#include "mail/address.h"
#include "base/base.h"
#include "list/ledger.h"
#include "base/log.h"
#include "mail/message.h"
#include "list/notice.h"
#include "list/template.h"
#include "store/names.h"

#include <string.h>

enum pipe_result
pipe_replybot(struct post *p, GError **error)
{
	gboolean owner = g_strcmp0(queue_meta_get(p->meta, META_KIND), "owner") == 0;
	const char *ack = message_header(p->msg, "X-Ack");
	char *key, *raw, *text, *subject, *orig;
	GHashTable *vars;
	int r;

	if (!post_setting_bool(p, owner ? "autorespond_admin"
				       : "autorespond_postings"))
		return PIPE_CONTINUE;
	if (ack != NULL && g_ascii_strncasecmp(g_strchug((char *)ack), "no", 2) == 0)
		return PIPE_CONTINUE;
	if (message_is_bulk(p->msg) &&
	    !(ack != NULL && g_ascii_strncasecmp(g_strchug((char *)ack), "yes", 3) == 0))
		return PIPE_CONTINUE;
	if ((key = address_key(p->poster)) == NULL)
		return PIPE_CONTINUE;
	r = ledger_grace(p->list, "replybot", key,
			 post_setting_int(p, "autoresponse_graceperiod"), error);
	g_free(key);
	if (r < 0)
		return PIPE_ERROR;
	if (r == 0)
		return PIPE_CONTINUE;
	raw = post_setting(p, owner ? "autoresponse_admin_text"
				    : "autoresponse_postings_text");
	vars = template_vars_for_list(p->list);
	text = template_expand(raw, vars);
	g_hash_table_destroy(vars);
	g_free(raw);
	orig = message_header_decoded(p->msg, "Subject");
	subject = g_strdup_printf("Auto-response for your message to %s%s%s",
				  list_fqdn(p->list), orig != NULL ? ": " : "",
				  orig != NULL ? orig : "");
	r = notice_autorespond(p->list, p->poster, subject, text, NULL, error);
	g_free(text);
	g_free(orig);
	g_free(subject);
	return r < 0 ? PIPE_ERROR : PIPE_CONTINUE;
}
