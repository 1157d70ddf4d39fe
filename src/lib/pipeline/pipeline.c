/*
 * pipeline.c - the handler table, the post object, and running a post
 * through the handlers of its list's pipeline.
 *
 * The handlers themselves live in pipe_*.c, one file per concern.  This
 * file knows only their names and order, and what stopping means: the
 * runner (src/herald/incoming.c) decides what a hold, a rejection or an
 * error does to the queue entry.
 */
#include "pipeline/pipeline.h"
#include "mail/address.h"
#include "base/base.h"
#include "list/list_settings.h"
#include "mail/message.h"

#include <stdarg.h>
#include <string.h>

static const struct pipe_handler handlers[] = {
	{ "authcheck", pipe_authcheck,
	  "Verifies the post's DKIM signatures and ARC chain as it arrived "
	  "and records the results (with SPF from the MTA's own "
	  "Authentication-Results, auth.authserv_id) for delivery's ARC "
	  "seal (docs/dkim.md). Never stops a post." },
	{ "approve", pipe_approve,
	  "Approved:/Approve: header, or the first line of the first text "
	  "part, with the list's moderator or owner password: the post "
	  "skips every hold.  The password is removed wherever it was." },
	{ "replybot", pipe_replybot,
	  "Automatic responses (autorespond_postings, autorespond_admin), "
	  "at most one per sender per autoresponse_graceperiod days." },
	{ "dmarc", pipe_dmarc,
	  "Looks up the poster's domain's DMARC policy and applies "
	  "dmarc_moderation_action: reject or discard now, or mark the post "
	  "for munging or wrapping (wrapmessage)." },
	{ "moderate", pipe_moderate,
	  "Member moderation (the mod flag, member_moderation_action) and "
	  "nonmember rules (accept/hold/reject/discard_these_nonmembers, "
	  "generic_nonmember_action)." },
	{ "hold", pipe_hold,
	  "Holds for max_message_size, max_num_recipients, an implicit "
	  "destination, administrivia, header_filter_rules and loops." },
	{ "mimedel", pipe_mimedel,
	  "Content filtering (filter_content and the other contentfilter "
	  "settings)." },
	{ "emergency", pipe_emergency,
	  "Holds every post while the list's emergency setting is on." },
	{ "tagger", pipe_tagger,
	  "Topics (topics_enabled): the topics the post matches, in an "
	  "X-Topics header and the metadata, for calcrecips." },
	{ "calcrecips", pipe_calcrecips,
	  "The recipients: regular members whose delivery is enabled, less "
	  "the poster unless they want their own posts, less the members "
	  "whose topics the post does not match; regular_include_lists and "
	  "regular_exclude_lists." },
	{ "avoiddups", pipe_avoiddups,
	  "Removes recipients who are named in To/Cc and set nodupes." },
	{ "cleanse", pipe_cleanse,
	  "Removes Approved and receipt-request headers; anonymous_list." },
	{ "cookheaders", pipe_cookheaders,
	  "Subject prefix, Reply-To, List-* (RFC 2369, 2919, 8058), "
	  "Precedence, X-BeenThere, Sender and Errors-To." },
	{ "todigest", pipe_todigest, "A copy to the digest queue." },
	{ "toarchive", pipe_toarchive, "A copy to the archive queue." },
	{ "tonews", pipe_tonews,
	  "gateway_to_news: a copy to the news queue, for the linked "
	  "newsgroup (not for posts that came from it)." },
	{ "scrubber", pipe_scrubber,
	  "scrub_nondigest: attachments stored in the archive and replaced by "
	  "links." },
	{ "afterdelivery", pipe_afterdelivery,
	  "Numbers the post (unless cookheaders did) and records the last "
	  "post time." },
	{ "acknowledge", pipe_acknowledge,
	  "Tells a member with the ack option that the post went out." },
	{ "wrapmessage", pipe_wrapmessage,
	  "DMARC mitigation (from_is_list, dmarc_moderation_action): From "
	  "munged to the list, or the post wrapped as message/rfc822." },
	{ "decorate", pipe_decorate,
	  "msg_header and msg_footer, MIME-aware (at delivery instead when "
	  "the list is personalised)." },
	{ "tooutgoing", pipe_tooutgoing,
	  "The post with its recipients to the out queue." },
	{ "ownerrecips", pipe_ownerrecips,
	  "Owner mail: the recipients are the owners and moderators." },
	{ NULL, NULL, NULL },
};

const struct pipe_handler *
pipeline_handlers(void)
{
	return handlers;
}

const struct pipe_handler *
pipeline_handler_find(const char *name)
{
	for (const struct pipe_handler *h = handlers; h->name != NULL; h++)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

const char *
pipeline_default_order(void)
{
	return PIPELINE_DEFAULT_ORDER;
}

const char *
pipeline_owner_order(void)
{
	return PIPELINE_OWNER_ORDER;
}

/* --- running ---------------------------------------------------------------- */

enum pipe_result
pipeline_run(struct post *p, const char *order, char **handler_r,
	     char **rest_r, GError **error)
{
	char **names = g_strsplit(order, ",", -1);
	enum pipe_result r = PIPE_CONTINUE;
	guint i;

	*handler_r = NULL;
	*rest_r = NULL;
	for (i = 0; names[i] != NULL; i++) {
		const char *name = g_strstrip(names[i]);
		const struct pipe_handler *h;

		if (*name == '\0')
			continue;
		if ((h = pipeline_handler_find(name)) == NULL) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
				    "list %s: unknown pipeline handler \"%s\"",
				    list_fqdn(p->list), name);
			r = PIPE_ERROR;
		} else {
			r = h->run(p, error);
		}
		if (r != PIPE_CONTINUE)
			break;
	}
	if (r != PIPE_CONTINUE) {
		/* A hold resumes after the handler, an error at it. */
		guint from = r == PIPE_ERROR ? i : i + 1;

		*handler_r = g_strdup(names[i]);
		*rest_r = names[from] != NULL ? g_strjoinv(",", names + from)
					      : g_strdup("");
	}
	g_strfreev(names);
	return r;
}
