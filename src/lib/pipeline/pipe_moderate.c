/*
 * pipe_moderate.c - who may post: member moderation, the nonmember rules,
 * and emergency moderation.
 *
 * A post is a member's when any of its senders (the From address, the
 * Sender header, the envelope sender), or the same address in one of the
 * list's equivalent_domains, is a member.  Nonmember rules are addresses,
 * ^regexes (case-insensitive, over the whole address) or @list (the
 * members of another list; LIST without a domain means this list's), tried
 * in the order accept, hold, reject, discard, then generic_nonmember_action.
 *
 * Flood control (member_verbosity_threshold, member_verbosity_interval):
 * a member's posts are counted in the list's "verbosity" ledger (the
 * times of the recent ones, so that every host sees the same counts and
 * they survive restarts); one more than the threshold within the interval
 * sets the member's moderation flag, tells the owners, and the post is
 * treated as a moderated member's.
 */
#include "pipeline/pipeline.h"
#include "mail/address.h"
#include "base/log.h"
#include "mail/message.h"
#include "list/ledger.h"
#include "list/notice.h"
#include "store/names.h"

#include <string.h>
#include <time.h>

/* The addresses the post claims to come from, normalised, without
 * repeats: From, Sender, envelope sender. */
static GPtrArray *
senders(struct post *p)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	const char *sender_hdr = message_header(p->msg, "Sender");
	struct address *a = NULL;
	char *cands[3] = { NULL, NULL, NULL };

	cands[0] = g_strdup(p->poster);
	if (sender_hdr != NULL && address_parse(sender_hdr, &a, NULL) == 0) {
		cands[1] = g_strdup(a->addr);
		address_free(&a);
	}
	cands[2] = *p->sender != '\0' ? address_normalise(p->sender, NULL) : NULL;
	for (int i = 0; i < 3; i++) {
		gboolean dup = cands[i] == NULL || *cands[i] == '\0';

		for (guint j = 0; !dup && j < out->len; j++)
			dup = address_equal(out->pdata[j], cands[i]);
		if (dup)
			g_free(cands[i]);
		else
			g_ptr_array_add(out, cands[i]);
	}
	return out;
}

/* addr with its domain replaced by each domain equivalent to it. */
static GPtrArray *
equivalents(struct post *p, const char *addr)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	char *spec = post_setting(p, "equivalent_domains");
	const char *at = strrchr(addr, '@');
	char **groups = g_strsplit(spec, ";", -1);

	for (guint g = 0; at != NULL && groups[g] != NULL; g++) {
		char **doms = g_strsplit(groups[g], ",", -1);
		gboolean in = FALSE;

		for (guint d = 0; doms[d] != NULL; d++)
			in |= g_ascii_strcasecmp(g_strstrip(doms[d]), at + 1) == 0;
		for (guint d = 0; in && doms[d] != NULL; d++)
			if (*doms[d] != '\0' &&
			    g_ascii_strcasecmp(doms[d], at + 1) != 0)
				g_ptr_array_add(out, g_strdup_printf(
					"%.*s@%s", (int)(at - addr), addr, doms[d]));
		g_strfreev(doms);
	}
	g_strfreev(groups);
	g_free(spec);
	return out;
}

/* The member the post is from, or NULL; -1 in *failed when the roster
 * cannot be read. */
static const struct member *
posting_member(struct post *p, gboolean *failed, GError **error)
{
	GPtrArray *from = senders(p);
	const struct member *m = NULL;
	struct roster *r = post_roster(p, error);

	*failed = r == NULL;
	for (guint i = 0; r != NULL && m == NULL && i < from->len; i++) {
		GPtrArray *eq;

		if ((m = roster_find(r, from->pdata[i])) != NULL)
			break;
		eq = equivalents(p, from->pdata[i]);
		for (guint j = 0; m == NULL && j < eq->len; j++)
			m = roster_find(r, eq->pdata[j]);
		g_ptr_array_unref(eq);
	}
	g_ptr_array_unref(from);
	return m;
}

/* Whether addr matches one rule: an address, ^regex, or @list. */
static gboolean
rule_matches(struct post *p, const char *rule, const char *addr)
{
	if (rule[0] == '^') {
		GError *e = NULL;
		GRegex *re = g_regex_new(rule, G_REGEX_CASELESS, 0, &e);
		gboolean m = FALSE;

		if (re == NULL) {
			log_warning("pipeline", "list %s: bad regex %s in a "
				    "nonmember rule: %s", list_fqdn(p->list),
				    rule, e->message);
			g_error_free(e);
			return FALSE;
		}
		m = g_regex_match(re, addr, 0, NULL);
		g_regex_unref(re);
		return m;
	}
	if (rule[0] == '@') {
		char *fqdn = strchr(rule + 1, '@') != NULL ? g_strdup(rule + 1)
			: g_strdup_printf("%s%s", rule + 1,
					  strrchr(list_fqdn(p->list), '@'));
		struct list *other = list_open(p->site, fqdn, NULL);
		struct roster *r = NULL;
		gboolean m = FALSE;

		if (other != NULL && roster_load(other, &r, NULL) == 0)
			m = roster_find(r, addr) != NULL;
		roster_free(&r);
		list_free(&other);
		g_free(fqdn);
		return m;
	}
	return address_equal(rule, addr);
}

static gboolean
any_sender_matches(struct post *p, const char *setting)
{
	char **rules = list_get_lines(p->list, setting);
	GPtrArray *from = senders(p);
	gboolean m = FALSE;

	for (guint i = 0; !m && rules[i] != NULL; i++)
		for (guint j = 0; !m && j < from->len; j++)
			m = rule_matches(p, rules[i], from->pdata[j]);
	g_ptr_array_unref(from);
	g_strfreev(rules);
	return m;
}

/* Sends the owners a notice (subject and text, which it frees) with the
 * post attached; a failure is logged, the post goes on. */
static void
tell_owners(struct post *p, const char *what, char *subject, char *text)
{
	GError *e = NULL;

	if (notice_to_owners(p->list, subject, text, p->msg, &e) < 0) {
		log_error("pipeline", "list %s: %s notice: %s",
			  list_fqdn(p->list), what, e->message);
		g_error_free(e);
	}
	g_free(subject);
	g_free(text);
}

/* Sends an automatically discarded post to the moderators when
 * forward_auto_discards says so. */
static void
forward_discard(struct post *p)
{
	char *subject, *text;

	if (!post_setting_bool(p, "forward_auto_discards"))
		return;
	subject = g_strdup_printf("Auto-discard notification for %s",
				  list_fqdn(p->list));
	text = g_strdup_printf("This post was discarded automatically: %s\n",
			       p->reason);
	tell_owners(p, "discard", subject, text);
}

static enum pipe_result
nonmember(struct post *p)
{
	static const struct {
		const char *setting;
		enum pipe_result result;
	} rules[] = {
		{ "accept_these_nonmembers", PIPE_CONTINUE },
		{ "hold_these_nonmembers", PIPE_HOLD },
		{ "reject_these_nonmembers", PIPE_REJECT },
		{ "discard_these_nonmembers", PIPE_DISCARD },
	};
	static const enum pipe_result generic[] = {
		PIPE_CONTINUE, PIPE_HOLD, PIPE_REJECT, PIPE_DISCARD
	};
	enum pipe_result r = PIPE_CONTINUE;
	const char *why = NULL;
	int64_t g;

	for (guint i = 0; why == NULL && i < G_N_ELEMENTS(rules); i++)
		if (any_sender_matches(p, rules[i].setting)) {
			r = rules[i].result;
			why = rules[i].setting;
		}
	if (why == NULL) {
		g = post_setting_int(p, "generic_nonmember_action");
		r = generic[CLAMP(g, 0, 3)];
		why = "generic_nonmember_action";
	}
	if (r == PIPE_HOLD) {
		post_set_reason(p, "Post by non-member to a members-only list");
	} else if (r == PIPE_REJECT) {
		char *text = post_setting(p, "nonmember_rejection_notice");
		if (*text != '\0')
			post_set_reason(p, "%s", text);
		else {
			char *owner = list_address(p->list, "-owner");
			post_set_reason(p, "You are not allowed to post to "
					"this mailing list, and your message has "
					"been automatically rejected.  If you "
					"think that your messages are being "
					"rejected in error, contact the list "
					"owner at %s.", owner);
			g_free(owner);
		}
		g_free(text);
	} else if (r == PIPE_DISCARD) {
		post_set_reason(p, "Post by non-member %s discarded (%s)",
				p->poster, why);
		forward_discard(p);
	}
	return r;
}

/* --- flood control ------------------------------------------------------ */

struct verbosity {
	int64_t now, interval, threshold;
};

/* The ledger value is the epoch seconds of the member's recent posts,
 * oldest first, space-separated: those within the interval, at most
 * threshold + 1 of them.  Answers 1 when this post makes more than
 * threshold. */
static int
verbosity_decide(const char *old, char **new_r, void *ctx)
{
	struct verbosity *v = ctx;
	char **times = g_strsplit(old != NULL ? old : "", " ", -1);
	GPtrArray *kept = g_ptr_array_new();
	GString *out = g_string_new(NULL);
	int64_t t;

	for (guint i = 0; times[i] != NULL; i++)
		if (*times[i] != '\0' &&
		    v->now - (t = g_ascii_strtoll(times[i], NULL, 10)) < v->interval)
			g_ptr_array_add(kept, times[i]);
	for (guint i = kept->len > (guint)v->threshold ?
		     kept->len - (guint)v->threshold : 0; i < kept->len; i++)
		g_string_append_printf(out, "%s ", (char *)kept->pdata[i]);
	g_string_append_printf(out, "%" G_GINT64_FORMAT, v->now);
	t = kept->len + 1;
	g_ptr_array_unref(kept);
	g_strfreev(times);
	*new_r = g_string_free(out, FALSE);
	return t > v->threshold;
}

/* Another member's record is kept while its newest post is recent. */
static gboolean
verbosity_keep(const char *value, void *ctx)
{
	struct verbosity *v = ctx;
	const char *last = strrchr(value, ' ');

	return v->now - g_ascii_strtoll(last != NULL ? last + 1 : value, NULL,
					10) < v->interval;
}

static int
moderate_fn(const struct roster *r, struct roster_change *c, void *ctx,
	    GError **error)
{
	const struct member *m = roster_find(r, ctx);
	struct member w;

	if (m != NULL) {
		w = *m;
		w.options |= OPT_MODERATE;
		roster_change_put(c, &w);
	}
	return 0;
}

/* Counts m's post; when it is one too many, moderates m and tells the
 * owners.  1 moderated now, 0 not, -1 error. */
static int
flood_check(struct post *p, const struct member *m, GError **error)
{
	struct verbosity v = {
		(int64_t)time(NULL),
		post_setting_int(p, "member_verbosity_interval"),
		post_setting_int(p, "member_verbosity_threshold"),
	};
	char *subject, *text;
	int r;

	if (v.threshold <= 0)
		return 0;
	r = ledger_update(p->list, "verbosity", m->key, verbosity_decide,
			  verbosity_keep, &v, error);
	if (r <= 0)
		return r;
	if (roster_edit(p->list, moderate_fn, m->key, error) < 0)
		return -1;
	log_info("pipeline", "list %s: %s moderated automatically: more than "
		 "%" G_GINT64_FORMAT " posts in %" G_GINT64_FORMAT " seconds",
		 list_fqdn(p->list), m->addr, v.threshold, v.interval);
	subject = g_strdup_printf("%s moderated automatically on %s", m->addr,
				  list_fqdn(p->list));
	text = g_strdup_printf("%s posted more than %" G_GINT64_FORMAT
			       " messages in %" G_GINT64_FORMAT " seconds "
			       "(member_verbosity_threshold) and is now "
			       "moderated: the post attached, and the next ones, "
			       "get member_moderation_action (hold by default). "
			       " Clear the member's moderation flag to let them "
			       "post freely again.\n", m->addr, v.threshold,
			       v.interval);
	tell_owners(p, "flood control", subject, text);
	return 1;
}

enum pipe_result
pipe_moderate(struct post *p, GError **error)
{
	const struct member *m;
	gboolean failed;
	char *notice;
	int64_t action;

	/* Posts from the linked newsgroup: the group decided who may post
	 * (Mailman's fromusenet). */
	if (p->approved || queue_meta_get(p->meta, META_FROM_USENET) != NULL)
		return PIPE_CONTINUE;
	m = posting_member(p, &failed, error);
	if (failed)
		return PIPE_ERROR;
	if (m == NULL)
		return nonmember(p);
	if (!(m->options & OPT_MODERATE)) {
		int f = flood_check(p, m, error);

		if (f <= 0)
			return f < 0 ? PIPE_ERROR : PIPE_CONTINUE;
	}
	action = post_setting_int(p, "member_moderation_action");
	if (action == 0) {
		post_set_reason(p, "Post by a moderated member");
		return PIPE_HOLD;
	}
	if (action == 2) {
		post_set_reason(p, "Post by moderated member %s discarded",
				m->addr);
		return PIPE_DISCARD;
	}
	notice = post_setting(p, "member_moderation_notice");
	post_set_reason(p, "%s", *notice != '\0' ? notice
			: "Your posts to this list are moderated, and this one "
			  "was rejected.");
	g_free(notice);
	return PIPE_REJECT;
}

enum pipe_result
pipe_emergency(struct post *p, GError **error)
{
	if (p->approved || !post_setting_bool(p, "emergency"))
		return PIPE_CONTINUE;
	post_set_reason(p, "Emergency hold: the list holds every post");
	/* Mailman tells nobody of emergency holds: the moderators know. */
	queue_meta_set(p->meta, META_HOLD_QUIET, "yes");
	return PIPE_HOLD;
}
