/*
 * list_settings.c - the table of list settings and their type checks.
 *
 * Names, defaults and numeric codes are Mailman 2.1's (Defaults.py and the
 * admin pages), so that an admin's knowledge carries over: a setting herald
 * has means what it meant there.  Two deliberate differences: passwords are
 * Argon2id hashes (Mailman: unsalted SHA-1), and send_reminders is kept for
 * import only (herald sends no password reminders: they mailed clear-text
 * passwords).
 * Settings of features herald will have but does not have yet (bounce
 * processing, digests, subscription requests, ...) are here, so that a
 * list keeps them, and flagged LS_PENDING, so that nobody is told they
 * work.
 */
#include "list/list_settings.h"
#include "base/base.h"
#include "list/topics.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The cost of the Argon2id hashes of every password (lists', members',
 * the site administrator's): OWASP's password storage guidance lists
 * equivalent minimums, m=19 MiB with t=2 down to m=7 MiB with t=5 (p=1,
 * libsodium's only); herald takes the last, the least memory, since the
 * web service's peak memory is a login's hash (libsodium's interactive
 * limits, 64 MiB and 2 passes, made logins take the service from 15 to
 * 77 MB).  An imported hash is taken when it costs at least as much:
 * m >= 7 MiB and m * t >= 35 MiB (list_setting_password_hash); a hash at
 * other parameters is verified as it is and made again at these at its
 * next good login (list_password_needs_rehash). */
#define PASSWORD_OPSLIMIT 5ULL
#define PASSWORD_MEMLIMIT ((size_t)7 * 1024 * 1024)

/* One Argon2id verification at a time in a process: each takes the hash's
 * m (PASSWORD_MEMLIMIT, more for an older hash), so logins at once on the
 * web service's threads cost no more memory than one.  Making hashes is
 * not serialised: an import makes them on every processor. */
static GMutex pwverify_lock;

#define NO_RANGE 0, 0
#define INT_RANGE(lo, hi) lo, hi
#define KB (1024)

static const struct list_setting settings[] = {
	/* --- general --------------------------------------------------- */
	{ "real_name", "general", LS_STRING, "%(real_name)s", NULL, NO_RANGE,
	  "The list's name as people see it; only its capitalisation may differ "
	  "from the posting address's local part.", 0 },
	{ "owner", "general", LS_LIST, "", NULL, NO_RANGE,
	  "The list administrators' addresses, one a line. They get the "
	  "administrative notices and may change every setting.", 0 },
	{ "moderator", "general", LS_LIST, "", NULL, NO_RANGE,
	  "The moderators' addresses, one a line: they handle held posts.", 0 },
	{ "description", "general", LS_STRING, "", NULL, NO_RANGE,
	  "A short phrase describing the list; used in List-Id and as the "
	  "display name of anonymous posts.", 0 },
	{ "info", "general", LS_TEXT, "", NULL, NO_RANGE,
	  "An introductory description, a few paragraphs, for the list's "
	  "information page.", 0 },
	{ "pipeline", "general", LS_STRING, PIPELINE_DEFAULT_ORDER, NULL, NO_RANGE,
	  "The handlers a post passes through, in order, comma-separated "
	  "(herald's; Mailman 2.1 fixed the order site-wide). `herald config "
	  "doc` and docs/pipeline.md name them.", 0 },
	{ "subject_prefix", "general", LS_STRING, "[%(real_name)s] ", NULL,
	  NO_RANGE,
	  "Put at the front of the Subject of posts; %d is replaced by the post "
	  "number.", 0 },
	{ "from_is_list", "general", LS_ENUM, "0", "0=no|1=munge_from|2=wrap_message",
	  NO_RANGE,
	  "For every post, replace From with the list's address (the poster "
	  "goes to Reply-To or Cc), or wrap the post in a message from the list. "
	  "dmarc_moderation_action applies such a change only where the poster's "
	  "domain asks for it.", 0 },
	{ "anonymous_list", "general", LS_BOOL, "no", NULL, NO_RANGE,
	  "Hide the poster's identity: From, Reply-To and Sender are replaced "
	  "by the list's.", 0 },
	{ "first_strip_reply_to", "general", LS_BOOL, "no", NULL, NO_RANGE,
	  "Remove any Reply-To the poster set before applying "
	  "reply_goes_to_list.", 0 },
	{ "reply_goes_to_list", "general", LS_ENUM, "0", "0=poster|1=this_list|2=explicit",
	  NO_RANGE,
	  "Where replies go: to the poster, to the list, or to "
	  "reply_to_address.", 0 },
	{ "reply_to_address", "general", LS_STRING, "", NULL, NO_RANGE,
	  "The Reply-To address when reply_goes_to_list is explicit.", 0 },
	{ "umbrella_list", "general", LS_BOOL, "no", NULL, NO_RANGE,
	  "The members are other lists: the notices meant for a member "
	  "(welcome, goodbye, confirmations, refusals) go to "
	  "<member local part><umbrella_member_suffix>@<member domain>, the "
	  "member list's owners; posts still go to the member address.", 0 },
	{ "umbrella_member_suffix", "general", LS_STRING, "-owner", NULL, NO_RANGE,
	  "The suffix added to an umbrella list's member's local part for its "
	  "notices (umbrella_list).", 0 },
	{ "send_reminders", "general", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Mailman 2.1's monthly password reminders; kept for import only, and "
	  "deliberately never acted on: herald sends none (they mailed "
	  "passwords in clear, and Mailman 3 dropped them); a member who "
	  "forgot a password asks the options page for an emailed login link "
	  "(docs/web-members.md).", LS_PENDING },
	{ "admin_member_chunksize", "general", LS_INT, "50", NULL,
	  INT_RANGE(1, 100000),
	  "How many members a page of the owners' web roster shows (at most "
	  "1,000; the page's \"100 a page\" box overrides it). Mailman 2.1's "
	  "default was 30.", 0 },
	{ "send_welcome_msg", "general", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Send a welcome message to new members.", 0 },
	{ "welcome_msg", "general", LS_TEXT, "", NULL, NO_RANGE,
	  "List-specific text added to the welcome message.", 0 },
	{ "send_goodbye_msg", "general", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Send a goodbye message to members who leave.", 0 },
	{ "goodbye_msg", "general", LS_TEXT, "", NULL, NO_RANGE,
	  "The text of the goodbye message.", 0 },
	{ "admin_immed_notify", "general", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Tell the moderators at once of each held post and pending request, "
	  "not only in the daily summary.", 0 },
	{ "admin_notify_mchanges", "general", LS_BOOL, "no", NULL, NO_RANGE,
	  "Tell the owners when members join or leave.", 0 },
	{ "respond_to_post_requests", "general", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Tell posters when their post is held for moderation.", 0 },
	{ "emergency", "general", LS_BOOL, "no", NULL, NO_RANGE,
	  "Emergency moderation: hold every post for approval.", 0 },
	{ "new_member_options", "general", LS_INT, "256", NULL, INT_RANGE(0, 511),
	  "Options bits new members start with (Mailman's bits: 2 notmetoo, 4 "
	  "ack, 8 plain, 16 hide, 128 moderate, 256 nodupes).", 0 },
	{ "administrivia", "general", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Hold posts that look like commands (subscribe, unsubscribe ...) sent "
	  "to the list by mistake.", 0 },
	{ "max_message_size", "general", LS_INT, "40", NULL, INT_RANGE(0, 1048576),
	  "Hold posts larger than this many KB; 0 means no limit.", 0 },
	{ "host_name", "general", LS_STRING, "%(domain)s", NULL, NO_RANGE,
	  "The list's mail domain.", 0 },
	{ "include_rfc2369_headers", "general", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Add the RFC 2369 List-* headers (List-Help, List-Subscribe, ...).",
	  0 },
	{ "include_list_post_header", "general", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Add List-Post (turn off for announce-only lists).", 0 },
	{ "include_sender_header", "general", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Set Sender to the list's bounce address.", 0 },
	{ "drop_cc", "general", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Remove from the Cc header the members named there who set nodupes: "
	  "they get the post directly, not from the list (Mailman's "
	  "AvoidDuplicates).", 0 },
	{ "max_days_to_hold", "general", LS_INT, "0", NULL, INT_RANGE(0, 3650),
	  "Discard held posts older than this many days (the task "
	  "held.expire, daily by default: docs/scheduler.md); 0 keeps them.",
	  0 },

	/* --- passwords ------------------------------------------------- */
	{ "password", "passwords", LS_PASSWORD, "", NULL, NO_RANGE,
	  "The list administrator's password (stored as an Argon2id hash).",
	  0 },
	{ "mod_password", "passwords", LS_PASSWORD, "", NULL, NO_RANGE,
	  "The moderators' password (Argon2id hash).", 0 },
	{ "post_password", "passwords", LS_PASSWORD, "", NULL, NO_RANGE,
	  "A password that approves a post when given in an Approved: header, "
	  "but grants nothing else (Argon2id hash).", 0 },

	/* --- language -------------------------------------------------- */
	{ "preferred_language", "language", LS_STRING, "en", NULL, NO_RANGE,
	  "The list's default language.", 0 },
	{ "available_languages", "language", LS_LIST, "en", NULL, NO_RANGE,
	  "The languages members may choose, one a line (preferred_language "
	  "always counts as one): the web options page offers only these, and "
	  "`members set ... language` refuses others.", 0 },
	{ "encode_ascii_prefixes", "language", LS_ENUM, "0", "0=never|1=always|2=as_needed",
	  NO_RANGE,
	  "Whether an ASCII subject prefix is RFC 2047-encoded too: never (only "
	  "words that are not ASCII are encoded, the prefix stays readable as "
	  "it is), always (the whole Subject is encoded, prefix included), or "
	  "as_needed (the whole Subject is encoded when it holds any word that "
	  "is not ASCII, so that prefix and subject are one encoded run, which "
	  "some mail readers need).", 0 },

	/* --- nondigest ------------------------------------------------- */
	{ "nondigestable", "nondigest", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Members may receive posts one by one.", 0 },
	{ "personalize", "nondigest", LS_ENUM, "0", "0=no|1=yes|2=full",
	  NO_RANGE,
	  "Send each member their own copy, so headers and footers can name "
	  "them; full also sets To to the member.", 0 },
	{ "msg_header", "nondigest", LS_TEXT, "", NULL, NO_RANGE,
	  "Text added at the top of each post.", 0 },
	{ "msg_footer", "nondigest", LS_TEXT,
	  "_______________________________________________\n"
	  "%(real_name)s mailing list\n%(list)s\n%(listinfo_url)s", NULL, NO_RANGE,
	  "Text added at the end of each post.", 0 },
	{ "scrub_nondigest", "nondigest", LS_BOOL, "no", NULL, NO_RANGE,
	  "Store the attachments of posts sent one by one in the archive and "
	  "replace them with links to the stored files (digests and the "
	  "archive get the whole post).", 0 },
	{ "regular_exclude_lists", "nondigest", LS_LIST, "", NULL, NO_RANGE,
	  "Other lists of the site (list@domain, one a line): when a post is "
	  "sent to one of them too (To: or Cc:), its regular members do not "
	  "get it from this list.", 0 },
	{ "regular_exclude_ignore", "nondigest", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Apply regular_exclude_lists only when the poster is a member of "
	  "the other list (a nonmember's post may be held there, and its "
	  "members would get it from neither list).", 0 },
	{ "regular_include_lists", "nondigest", LS_LIST, "", NULL, NO_RANGE,
	  "Other lists of the site (list@domain, one a line) whose regular "
	  "members with delivery enabled also get this list's posts, unless "
	  "the post was sent to that list too; each address gets one copy.",
	  0 },

	/* --- digest ---------------------------------------------------- */
	{ "digestable", "digest", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Members may choose digests.", 0 },
	{ "digest_is_default", "digest", LS_BOOL, "no", NULL, NO_RANGE,
	  "New members get digests.", 0 },
	{ "mime_is_default_digest", "digest", LS_BOOL, "no", NULL, NO_RANGE,
	  "New digest members get MIME digests rather than plain (RFC 1153).",
	  0 },
	{ "digest_size_threshhold", "digest", LS_INT, "30", NULL, INT_RANGE(0, 1048576),
	  "Send the digest once it reaches this many KB; 0: no size trigger "
	  "(the spelling is Mailman's).", 0 },
	{ "digest_send_periodic", "digest", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Send a digest every day there is one, even below the size threshold "
	  "(the task digest.send).", 0 },
	{ "digest_header", "digest", LS_TEXT, "", NULL, NO_RANGE,
	  "Text at the top of each digest.", 0 },
	{ "digest_footer", "digest", LS_TEXT,
	  "_______________________________________________\n"
	  "%(real_name)s mailing list\n%(list)s\n%(listinfo_url)s", NULL, NO_RANGE,
	  "Text at the end of each digest.", 0 },
	{ "digest_volume_frequency", "digest", LS_ENUM, "1",
	  "0=yearly|1=monthly|2=quarterly|3=weekly|4=daily", NO_RANGE,
	  "How often a new digest volume starts.", 0 },

	/* --- privacy: subscribing -------------------------------------- */
	{ "advertised", "privacy", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Show the list in the site's list of lists.", 0 },
	{ "subscribe_policy", "privacy", LS_ENUM, "1",
	  "0=open|1=confirm|2=approve|3=confirm_and_approve", NO_RANGE,
	  "What joining takes: nothing, the subscriber's confirmation, a "
	  "moderator's approval, or both.", 0 },
	{ "subscribe_auto_approval", "privacy", LS_LIST, "", NULL, NO_RANGE,
	  "Addresses (or ^regexes) whose subscriptions need no approval.",
	  0 },
	{ "unsubscribe_policy", "privacy", LS_ENUM, "0", "0=free|1=approve", NO_RANGE,
	  "Whether leaving needs a moderator's approval.", 0 },
	{ "ban_list", "privacy", LS_LIST, "", NULL, NO_RANGE,
	  "Addresses (or ^regexes) that may not subscribe.", 0 },
	{ "private_roster", "privacy", LS_ENUM, "1", "0=anyone|1=members|2=admin",
	  NO_RANGE, "Who may see the member list.", 0 },
	{ "obscure_addresses", "privacy", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Show addresses in web pages in a form harvesters do not recognise.",
	  0 },

	/* --- privacy: sender filters ----------------------------------- */
	{ "default_member_moderation", "privacy", LS_BOOL, "no", NULL, NO_RANGE,
	  "New members start moderated.", 0 },
	{ "member_moderation_action", "privacy", LS_ENUM, "0", "0=hold|1=reject|2=discard",
	  NO_RANGE, "What happens to posts from moderated members.", 0 },
	{ "member_moderation_notice", "privacy", LS_TEXT, "", NULL, NO_RANGE,
	  "The text sent when a moderated member's post is rejected.", 0 },
	{ "member_verbosity_threshold", "privacy", LS_INT, "0", NULL, INT_RANGE(0, 100000),
	  "Flood control: a member who posts more than this many times within "
	  "member_verbosity_interval seconds is moderated automatically and "
	  "the owners are told; 0 turns this off.", 0 },
	{ "member_verbosity_interval", "privacy", LS_INT, "300", NULL, INT_RANGE(1, 86400),
	  "The interval, in seconds, for member_verbosity_threshold.", 0 },
	{ "dmarc_moderation_action", "privacy", LS_ENUM, "0",
	  "0=accept|1=munge_from|2=wrap_message|3=reject|4=discard", NO_RANGE,
	  "What to do with a post whose From domain publishes a DMARC policy "
	  "of reject (and quarantine or none, per the next two settings).", 0 },
	{ "dmarc_moderation_addresses", "privacy", LS_LIST, "", NULL, NO_RANGE,
	  "Posters (addresses, or ^regexes over the whole address, one a line) "
	  "whose posts get dmarc_moderation_action whatever their domain's "
	  "DMARC policy, without a DNS lookup.", 0 },
	{ "dmarc_quarantine_moderation_action", "privacy", LS_BOOL, "yes", NULL,
	  NO_RANGE, "Apply dmarc_moderation_action to p=quarantine domains too.",
	  0 },
	{ "dmarc_none_moderation_action", "privacy", LS_BOOL, "no", NULL, NO_RANGE,
	  "Apply munging or wrapping to p=none domains too.", 0 },
	{ "dmarc_moderation_notice", "privacy", LS_TEXT, "", NULL, NO_RANGE,
	  "The text sent when a post is rejected for its DMARC policy.", 0 },
	{ "dmarc_wrapped_message_text", "privacy", LS_TEXT, "", NULL, NO_RANGE,
	  "Text added as a part before a wrapped message.", 0 },
	{ "dmarc_unmunged_if_dkim_intact", "privacy", LS_BOOL, "no", NULL,
	  NO_RANGE,
	  "Leave a post unmunged and unwrapped (whatever from_is_list and "
	  "dmarc_moderation_action say) when a DKIM signature of its From "
	  "domain verified on arrival and still verifies on the copy the list "
	  "sends: no subject prefix, header, footer, content filtering or "
	  "other change of the list breaks it.", 0 },
	{ "equivalent_domains", "privacy", LS_STRING, "", NULL, NO_RANGE,
	  "Domains to treat as the same for membership: groups separated by ';', "
	  "domains within a group by ','.", 0 },
	{ "accept_these_nonmembers", "privacy", LS_LIST, "", NULL, NO_RANGE,
	  "Non-members (addresses or ^regexes) whose posts are accepted.", 0 },
	{ "hold_these_nonmembers", "privacy", LS_LIST, "", NULL, NO_RANGE,
	  "Non-members whose posts are held.", 0 },
	{ "reject_these_nonmembers", "privacy", LS_LIST, "", NULL, NO_RANGE,
	  "Non-members whose posts are rejected.", 0 },
	{ "discard_these_nonmembers", "privacy", LS_LIST, "", NULL, NO_RANGE,
	  "Non-members whose posts are discarded.", 0 },
	{ "generic_nonmember_action", "privacy", LS_ENUM, "1",
	  "0=accept|1=hold|2=reject|3=discard", NO_RANGE,
	  "What happens to other non-members' posts.", 0 },
	{ "forward_auto_discards", "privacy", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Send discarded non-member posts to the moderators.", 0 },
	{ "nonmember_rejection_notice", "privacy", LS_TEXT, "", NULL, NO_RANGE,
	  "The text sent when a non-member's post is rejected.", 0 },

	/* --- privacy: recipient filters -------------------------------- */
	{ "require_explicit_destination", "privacy", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Hold posts that do not name the list (or an acceptable alias) in To "
	  "or Cc.", 0 },
	{ "acceptable_aliases", "privacy", LS_LIST, "", NULL, NO_RANGE,
	  "Other addresses (or regexes) that count as naming the list.", 0 },
	{ "max_num_recipients", "privacy", LS_INT, "10", NULL, INT_RANGE(0, 100000),
	  "Hold posts with this many recipients or more in To and Cc; 0 means "
	  "no limit.", 0 },

	/* --- privacy: spam filters ------------------------------------- */
	{ "header_filter_rules", "privacy", LS_LIST, "", NULL, NO_RANGE,
	  "Rules, one a line: 'ACTION REGEX' where ACTION is accept, hold, "
	  "reject or discard and REGEX matches a header line.", 0 },
	{ "bounce_matching_headers", "privacy", LS_LIST, "", NULL, NO_RANGE,
	  "Header lines ('name: regex') that hold a post.", 0 },

	/* --- bounce ---------------------------------------------------- */
	{ "bounce_processing", "bounce", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Process bounces: score members and disable those who keep "
	  "bouncing.", 0 },
	{ "bounce_score_threshold", "bounce", LS_INT, "5", NULL, INT_RANGE(1, 1000),
	  "The score at which a member's delivery is disabled.", 0 },
	{ "bounce_info_stale_after", "bounce", LS_INT, "7", NULL, INT_RANGE(1, 3650),
	  "Days without a bounce after which a member's score is reset.",
	  0 },
	{ "bounce_you_are_disabled_warnings", "bounce", LS_INT, "3", NULL,
	  INT_RANGE(0, 100),
	  "How many notices a disabled member gets before being removed.",
	  0 },
	{ "bounce_you_are_disabled_warnings_interval", "bounce", LS_INT, "7", NULL,
	  INT_RANGE(1, 365), "Days between those notices.", 0 },
	{ "bounce_unrecognized_goes_to_list_owner", "bounce", LS_BOOL, "yes", NULL,
	  NO_RANGE, "Forward bounces herald cannot read to the owners.",
	  0 },
	{ "bounce_notify_owner_on_bounce_increment", "bounce", LS_BOOL, "no", NULL,
	  NO_RANGE, "Tell the owners each time a member's score rises.",
	  0 },
	{ "bounce_notify_owner_on_disable", "bounce", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Tell the owners when a member is disabled for bouncing.",
	  0 },
	{ "bounce_notify_owner_on_removal", "bounce", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Tell the owners when a member is removed for bouncing.",
	  0 },
	{ "bounce_verp_probes", "bounce", LS_BOOL, "no", NULL, NO_RANGE,
	  "Before disabling a member for bounces that did not come back to "
	  "a VERP address, send a probe: only its bounce disables (Mailman's "
	  "VERP_PROBES).", 0 },
	{ "bounce_complaint_action", "bounce", LS_ENUM, "0",
	  "0=disable|1=unsubscribe|2=ignore", NO_RANGE,
	  "What an abuse complaint (an RFC 5965 feedback report) about a "
	  "member's copy does to the member.", 0 },
	{ "bounce_outage_share", "bounce", LS_INT, "10", NULL, INT_RANGE(1, 100),
	  "The outage guard: when more than this percentage of the members "
	  "(or of one domain's members) bounce on one day, none of those "
	  "bounces is scored and the owners are told.", 0 },
	{ "bounce_outage_minimum", "bounce", LS_INT, "10", NULL,
	  INT_RANGE(1, 1000000),
	  "The outage guard looks only at this many bouncing members or "
	  "more.", 0 },

	/* --- archive --------------------------------------------------- */
	{ "archive", "archive", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Archive the list's posts.", 0 },
	{ "archive_private", "archive", LS_ENUM, "0", "0=public|1=private", NO_RANGE,
	  "Whether only members may read the archive.", 0 },
	{ "archive_volume_frequency", "archive", LS_ENUM, "1",
	  "0=yearly|1=monthly|2=quarterly|3=weekly|4=daily", NO_RANGE,
	  "How the archive is divided into volumes.", 0 },

	/* --- gateway ---------------------------------------------------- */
	{ "nntp_host", "gateway", LS_STRING, "", NULL, NO_RANGE,
	  "The news server of the mail-news gateway, host or host:port "
	  "(port 119 when none is given; docs/news.md).", 0 },
	{ "linked_newsgroup", "gateway", LS_STRING, "", NULL, NO_RANGE,
	  "The newsgroup the list is gatewayed with.", 0 },
	{ "gateway_to_news", "gateway", LS_BOOL, "no", NULL, NO_RANGE,
	  "Post the list's posts to linked_newsgroup (the news runner).", 0 },
	{ "gateway_to_mail", "gateway", LS_BOOL, "no", NULL, NO_RANGE,
	  "Send the newsgroup's new articles to the list (the task "
	  "news.gate); they skip member and nonmember moderation, and are "
	  "not posted back to the group.", 0 },
	{ "news_moderation", "gateway", LS_ENUM, "0",
	  "0=none|1=open_moderated|2=moderated", NO_RANGE,
	  "none: the group is not moderated. open_moderated: the group is "
	  "moderated but the list is open, so the list's posts go to the "
	  "group with an Approved: header. moderated: the list holds every "
	  "post for its moderators as well, and the approved ones go to the "
	  "group with an Approved: header.", 0 },
	{ "news_prefix_subject_too", "gateway", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Keep subject_prefix in the Subject of the articles posted to the "
	  "group (no: the poster's own Subject).", 0 },

	/* --- autoreply ------------------------------------------------- */
	{ "autorespond_postings", "autoreply", LS_BOOL, "no", NULL, NO_RANGE,
	  "Answer each post with autoresponse_postings_text.", 0 },
	{ "autoresponse_postings_text", "autoreply", LS_TEXT, "", NULL, NO_RANGE,
	  "The answer to posts.", 0 },
	{ "autorespond_admin", "autoreply", LS_BOOL, "no", NULL, NO_RANGE,
	  "Answer mail to the -owner address.", 0 },
	{ "autoresponse_admin_text", "autoreply", LS_TEXT, "", NULL, NO_RANGE,
	  "The answer to mail for the owners.", 0 },
	{ "autorespond_requests", "autoreply", LS_ENUM, "0",
	  "0=no|1=respond_and_discard|2=respond_and_process", NO_RANGE,
	  "Answer mail to the -request address.", 0 },
	{ "autoresponse_request_text", "autoreply", LS_TEXT, "", NULL, NO_RANGE,
	  "The answer to requests.", 0 },
	{ "autoresponse_graceperiod", "autoreply", LS_INT, "90", NULL, INT_RANGE(0, 3650),
	  "Days before the same sender gets an automatic answer again.", 0 },

	/* --- contentfilter --------------------------------------------- */
	{ "filter_content", "contentfilter", LS_BOOL, "no", NULL, NO_RANGE,
	  "Filter the MIME parts of posts by the rules below.", 0 },
	{ "filter_mime_types", "contentfilter", LS_LIST, "", NULL, NO_RANGE,
	  "MIME types (or main types) to remove.", 0 },
	{ "pass_mime_types", "contentfilter", LS_LIST,
	  "multipart\nmessage/rfc822\napplication/pgp-signature\ntext/plain",
	  NULL, NO_RANGE,
	  "If not empty, only these MIME types are kept.", 0 },
	{ "filter_filename_extensions", "contentfilter", LS_LIST,
	  "exe\nbat\ncmd\ncom\npif\nscr\nvbs\ncpl", NULL, NO_RANGE,
	  "Attachments with these file name extensions are removed.", 0 },
	{ "pass_filename_extensions", "contentfilter", LS_LIST, "", NULL, NO_RANGE,
	  "If not empty, only attachments with these extensions are kept.", 0 },
	{ "collapse_alternatives", "contentfilter", LS_BOOL, "yes", NULL, NO_RANGE,
	  "Replace multipart/alternative with its first part that is kept.",
	  0 },
	{ "convert_html_to_plaintext", "contentfilter", LS_BOOL, "yes", NULL,
	  NO_RANGE, "Convert text/html parts that are kept to text/plain.", 0 },
	{ "filter_action", "contentfilter", LS_ENUM, "0",
	  "0=discard|1=reject|2=forward_to_owner|3=preserve", NO_RANGE,
	  "What happens to a post that filtering leaves empty or that a rule "
	  "rejects.", 0 },

	/* --- topics ---------------------------------------------------- */
	{ "topics_enabled", "topics", LS_BOOL, "no", NULL, NO_RANGE,
	  "Tag posts with the topics they match (X-Topics:) and let members "
	  "receive only the topics they choose.", 0 },
	{ "topics_bodylines_limit", "topics", LS_INT, "5", NULL,
	  INT_RANGE(-1000000, 1000000),
	  "How many non-blank lines at the top of a post's body are searched "
	  "for Subject: and Keywords: lines to match topics against: 0 none, "
	  "a negative number every line.", 0 },
	{ "topics", "topics", LS_LIST, "", NULL, NO_RANGE,
	  "The topics, one a line of three fields separated by tabs: name, "
	  "regular expression, description (docs/topics.md).  A post is about a topic when the expression "
	  "(case-insensitive) matches its Subject:, its Keywords:, or such a "
	  "line among the first topics_bodylines_limit lines of its body.",
	  0 },

	{ NULL, NULL, 0, NULL, NULL, NO_RANGE, NULL, 0 },
};

static const char *const categories[] = {
	"general", "passwords", "language", "nondigest", "digest", "privacy",
	"bounce", "archive", "gateway", "autoreply", "contentfilter", "topics",
	NULL,
};

const struct list_setting *
list_settings(void)
{
	return settings;
}

const char *const *
list_setting_categories(void)
{
	return categories;
}

const struct list_setting *
list_setting_find(const char *name)
{
	for (const struct list_setting *s = settings; s->name != NULL; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

const char *
list_setting_type_name(enum list_setting_type t)
{
	switch (t) {
	case LS_BOOL: return "yes or no";
	case LS_INT: return "integer";
	case LS_ENUM: return "choice";
	case LS_STRING: return "one line of text";
	case LS_TEXT: return "text";
	case LS_LIST: return "list, one a line";
	case LS_PASSWORD: return "password";
	}
	return "?";
}

static char *
invalid(GError **error, const struct list_setting *s, const char *what)
{
	g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID, "%s: %s (expected %s%s%s)",
		    s->name, what, list_setting_type_name(s->type),
		    s->type == LS_ENUM ? ": " : "",
		    s->type == LS_ENUM ? s->choices : "");
	return NULL;
}

/* An enum value by number or by name: "1" or "this_list". */
static char *
normalise_enum(const struct list_setting *s, const char *value, GError **error)
{
	char **choices = g_strsplit(s->choices, "|", -1);
	char *out = NULL;

	for (char **c = choices; *c != NULL && out == NULL; c++) {
		char *eq = strchr(*c, '=');
		if (strncmp(*c, value, (size_t)(eq - *c)) == 0 &&
		    value[eq - *c] == '\0')
			out = g_strndup(*c, (gsize)(eq - *c));
		else if (g_ascii_strcasecmp(eq + 1, value) == 0)
			out = g_strndup(*c, (gsize)(eq - *c));
	}
	g_strfreev(choices);
	if (out == NULL) {
		char *what = g_strdup_printf("'%s' is not a choice", value);
		invalid(error, s, what);
		g_free(what);
	}
	return out;
}

static char *
normalise_list(const char *value)
{
	char **lines = g_strsplit_set(value, "\n", -1);
	GString *out = g_string_new(NULL);

	for (char **l = lines; *l != NULL; l++) {
		g_strstrip(*l);
		if (**l == '\0')
			continue;
		if (out->len > 0)
			g_string_append_c(out, '\n');
		g_string_append(out, *l);
	}
	g_strfreev(lines);
	return g_string_free(out, FALSE);
}

/* The topics' regular expressions are compiled now, so that a bad one is
 * refused when it is set rather than failing posts. */
static char *
normalise_topics(const char *value, GError **error)
{
	char *out = normalise_list(value);
	struct topics *t = topics_parse(out, error);

	if (t == NULL) {
		g_free(out);
		return NULL;
	}
	topics_free(&t);
	return out;
}

char *
list_setting_normalise(const struct list_setting *s, const char *value,
		       GError **error)
{
	char *end, *hash, *what = NULL;
	const char *bad;
	long long n;

	/* The config file is a GLib key file, which holds UTF-8 only: a value
	 * that is not would be stored and then read back as nothing. */
	if (!g_utf8_validate(value, -1, &bad)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "%s: the value is not UTF-8 (byte %zu is 0x%02x)",
			    s->name, (size_t)(bad - value), (unsigned char)*bad);
		return NULL;
	}
	switch (s->type) {
	case LS_BOOL:
		if (!g_ascii_strcasecmp(value, "yes") || !g_ascii_strcasecmp(value, "true") ||
		    !strcmp(value, "1") || !g_ascii_strcasecmp(value, "on"))
			return g_strdup("yes");
		if (!g_ascii_strcasecmp(value, "no") || !g_ascii_strcasecmp(value, "false") ||
		    !strcmp(value, "0") || !g_ascii_strcasecmp(value, "off"))
			return g_strdup("no");
		what = g_strdup_printf("'%s' is not yes or no", value);
		break;
	case LS_INT:
		errno = 0;
		n = strtoll(value, &end, 10);
		if (errno != 0 || *value == '\0' || *end != '\0') {
			what = g_strdup_printf("'%s' is not an integer", value);
			break;
		}
		if (n < s->min || n > s->max) {
			what = g_strdup_printf("%s is outside %lld..%lld", value,
					       (long long)s->min, (long long)s->max);
			break;
		}
		return g_strdup_printf("%lld", n);
	case LS_ENUM:
		return normalise_enum(s, value, error);
	case LS_STRING:
		if (strpbrk(value, "\r\n") == NULL)
			return g_strdup(value);
		what = g_strdup("a line break is not allowed");
		break;
	case LS_TEXT:
		return g_strdup(value);
	case LS_LIST:
		if (strcmp(s->name, "topics") == 0)
			return normalise_topics(value, error);
		return normalise_list(value);
	case LS_PASSWORD:
		if (*value == '\0')
			return g_strdup("");
		if (sodium_init() < 0)
			g_error("libsodium failed to initialise");
		hash = g_malloc(crypto_pwhash_STRBYTES);
		if (crypto_pwhash_str(hash, value, strlen(value),
				      PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) != 0) {
			g_free(hash);
			g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
				    "%s: hashing the password failed (out of "
				    "memory?)", s->name);
			return NULL;
		}
		return hash;
	}
	invalid(error, s, what != NULL ? what : "bad value");
	g_free(what);
	return NULL;
}

gboolean
list_password_verify(const char *hash, const char *candidate)
{
	if (sodium_init() < 0)
		g_error("libsodium failed to initialise");
	g_mutex_lock(&pwverify_lock);
	gboolean ok = crypto_pwhash_str_verify(hash, candidate,
					       strlen(candidate)) == 0;
	g_mutex_unlock(&pwverify_lock);
	return ok;
}

gboolean
list_password_needs_rehash(const char *hash)
{
	return g_str_has_prefix(hash, "$argon2") &&
	       crypto_pwhash_str_needs_rehash(hash, PASSWORD_OPSLIMIT,
					      PASSWORD_MEMLIMIT) != 0;
}

gboolean
list_password_is_sha1(const char *stored)
{
	size_t i;

	if (!g_str_has_prefix(stored, "$sha1$"))
		return FALSE;
	for (i = 6; stored[i] != '\0'; i++)
		if (!g_ascii_isxdigit(stored[i]) || g_ascii_isupper(stored[i]))
			return FALSE;
	return i == 6 + 40;
}

char *
list_setting_password_hash(const struct list_setting *s, const char *hash,
			   GError **error)
{
	unsigned version, passes, lanes;
	uint64_t kib;

	if (*hash == '\0')
		return g_strdup("");
	if (list_password_is_sha1(hash))
		return g_strdup(hash);
	if (sodium_init() < 0)
		g_error("libsodium failed to initialise");
	/* -1: not a well-formed Argon2id hash string (libsodium's reading). */
	if (!g_str_is_ascii(hash) ||
	    crypto_pwhash_str_needs_rehash(hash, PASSWORD_OPSLIMIT,
					   PASSWORD_MEMLIMIT) < 0 ||
	    sscanf(hash, "$argon2id$v=%u$m=%" SCNu64 ",t=%u,p=%u$", &version,
		   &kib, &passes, &lanes) != 4) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "%s: not an Argon2id hash ($argon2id$v=19$m=...)",
			    s->name);
		return NULL;
	}
	/* A weaker hash cannot be made stronger without the password, and
	 * there is no login yet to rehash it at: refused. */
	if (kib * 1024 < PASSWORD_MEMLIMIT ||
	    kib * 1024 * passes < PASSWORD_MEMLIMIT * PASSWORD_OPSLIMIT) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "%s: the hash costs less than herald's (m=%" G_GUINT64_FORMAT
			    " KiB, t=%u; herald: m=%zu KiB, t=%llu, or more "
			    "memory with m*t as large): set the "
			    "password again with `herald config set`", s->name,
			    kib, passes, (size_t)(PASSWORD_MEMLIMIT / 1024),
			    (unsigned long long)PASSWORD_OPSLIMIT);
		return NULL;
	}
	return g_strdup(hash);
}

char *
list_setting_default(const struct list_setting *s, const char *list_name,
		     const char *domain)
{
	/* Texts keep their %(...)s: they are templates filled in for each
	 * message (headers, footers), as in Mailman. */
	if (s->type == LS_TEXT)
		return g_strdup(s->dflt);
	char *real = g_strdup(list_name);
	char *addr = g_strdup_printf("%s@%s", list_name, domain);
	char *url = g_strdup_printf("https://%s/listinfo/%s", domain, addr);
	GString *out = g_string_new(s->dflt);

	real[0] = g_ascii_toupper(real[0]);
	g_string_replace(out, "%(real_name)s", real, 0);
	g_string_replace(out, "%(list)s", addr, 0);
	g_string_replace(out, "%(domain)s", domain, 0);
	g_string_replace(out, "%(listinfo_url)s", url, 0);
	g_free(real);
	g_free(addr);
	g_free(url);
	return g_string_free(out, FALSE);
}
