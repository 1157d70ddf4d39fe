/*
 * pipe_dmarc.c - DMARC mitigation in two steps, as in Mailman 2.1: the
 * dmarc handler, early, decides from the poster's domain's policy; the
 * wrapmessage handler, late, changes the message.
 *
 * A list changes what it sends on (subject prefix, footer), so a poster's
 * DKIM signature fails, and the list's server is not in the poster's SPF
 * record: a receiver that honours the poster's domain's DMARC policy of
 * reject refuses the post, and bounce processing then unsubscribes the
 * list's members one by one.  The list avoids that by sending the post
 * From: itself (munging) or inside a message of its own (wrapping), or
 * refuses such posts.  The decision is taken early (dmarc, after approve)
 * so that a reject or a discard happens before anything is held; the
 * change is made late (wrapmessage), so the archive and the digest get
 * the post as written.  The decision travels in the metadata ("dmarc:
 * munge" or "dmarc: wrap"), so it survives a hold and a restart.
 * Posters named in dmarc_moderation_addresses get the action whatever
 * their domain publishes, without a DNS lookup.
 *
 * dmarc_unmunged_if_dkim_intact spares a post both changes when they
 * are not needed: a DKIM signature aligned with From: passed on arrival
 * (authcheck's result in the metadata) and still passes on the copy the
 * list will send, which wrapmessage makes and verifies again (the list's
 * own changes so far, then the footer and per-member headers still to
 * come); a DMARC check at the receiver then passes as it would have for
 * the poster's own mail.
 */
#include "pipeline/pipeline.h"
#include "list/decorate.h"
#include "list/headers.h"
#include "mail/address.h"
#include "mail/dkimverify.h"
#include "mail/dmarc.h"
#include "base/log.h"
#include "mail/message.h"
#include "store/names.h"

#include <string.h>
#include <time.h>

#define DMARC_SUBSYS "dmarc"

/* dmarc_moderation_action and from_is_list values (Mailman's numbers). */
enum { ACT_ACCEPT, ACT_MUNGE, ACT_WRAP, ACT_REJECT, ACT_DISCARD };

/* --- dmarc: the decision -------------------------------------------------- */

static void
resolver_free_notify(gpointer r)
{
	struct dmarc_resolver *dr = r;

	dmarc_resolver_free(&dr);
}

/* The runner's resolver (created on first use, so that a runner whose
 * lists never mitigate never reads the PSL), or a resolver of this post's
 * own in *own_r when there is no environment (a test, a tool). */
static struct dmarc_resolver *
env_resolver(struct post *p, struct dmarc_resolver **own_r, GError **error)
{
	struct dmarc_resolver *r;

	*own_r = NULL;
	if (p->env != NULL && p->env->dmarc != NULL)
		return p->env->dmarc;
	if ((r = dmarc_resolver_new(p->site, error)) == NULL)
		return NULL;
	if (p->env == NULL) {
		*own_r = r;
	} else {
		p->env->dmarc = r;
		p->env->dmarc_free = resolver_free_notify;
	}
	return r;
}

/* Whether policy asks the list to act, per Mailman 2.1: reject always,
 * quarantine when dmarc_quarantine_moderation_action is on, none only
 * for munging or wrapping and when both flags are on (a p=none domain's
 * mail is not refused, so rejecting it would be needless).  A DNS
 * failure needs mitigating: unchanged mail from a p=reject domain costs
 * the list its members' subscriptions, a needless munge costs little
 * (pipe_dmarc munges rather than refuses on a DNS failure). */
static gboolean
needs_mitigation(struct post *p, enum dmarc_policy policy, int64_t action)
{
	switch (policy) {
	case DMARC_P_REJECT:
	case DMARC_TEMPERROR:
		return TRUE;
	case DMARC_P_QUARANTINE:
		return post_setting_bool(p, "dmarc_quarantine_moderation_action");
	case DMARC_P_NONE:
		return (action == ACT_MUNGE || action == ACT_WRAP) &&
		       post_setting_bool(p, "dmarc_quarantine_moderation_action") &&
		       post_setting_bool(p, "dmarc_none_moderation_action");
	case DMARC_NONE_FOUND:
		break;
	}
	return FALSE;
}

/* The poster's rejection notice: the list's dmarc_moderation_notice, or
 * one that says which domain, which policy (domain NULL: the poster is in
 * dmarc_moderation_addresses), and whom to ask. */
static void
set_reject_reason(struct post *p, const char *domain, enum dmarc_policy policy)
{
	char *notice = post_setting(p, "dmarc_moderation_notice");
	char *owner;

	if (*g_strstrip(notice) != '\0') {
		post_set_reason(p, "%s", notice);
		g_free(notice);
		return;
	}
	g_free(notice);
	owner = list_address(p->list, "-owner");
	if (domain == NULL)
		post_set_reason(p,
				"Your message to %s was rejected: the list "
				"refuses posts from your address "
				"(dmarc_moderation_addresses).  If you think "
				"this is an error, write to the list's owner "
				"at %s.", list_fqdn(p->list), owner);
	else
		post_set_reason(p,
				"Your message to %s was rejected: your address's "
				"domain, %s, publishes a DMARC policy of %s, so "
				"receivers would refuse your message as the list "
				"sends it on, and this list refuses posts from "
				"such domains.  If you think this is an error, "
				"write to the list's owner at %s.",
				list_fqdn(p->list), domain,
				dmarc_policy_name(policy), owner);
	g_free(owner);
}

/* Whether the poster is in dmarc_moderation_addresses. */
static gboolean
poster_listed(struct post *p)
{
	char **entries = list_get_lines(p->list, "dmarc_moderation_addresses");
	gboolean listed = dmarc_address_listed(entries, p->poster);

	g_strfreev(entries);
	return listed;
}

enum pipe_result
pipe_dmarc(struct post *p, GError **error)
{
	int64_t action = post_setting_int(p, "dmarc_moderation_action");
	struct dmarc_resolver *r, *own = NULL;
	enum dmarc_policy policy;
	GError *dns_error = NULL;
	const char *at, *domain;
	char *source = NULL;
	gboolean listed;

	/* A resumed post is decided afresh. */
	queue_meta_remove(p->meta, META_DMARC);
	queue_meta_remove(p->meta, META_DMARC_POLICY);
	if (action <= ACT_ACCEPT || action > ACT_DISCARD ||
	    (at = strrchr(p->poster, '@')) == NULL)
		return PIPE_CONTINUE;
	domain = at + 1;
	if ((listed = poster_listed(p))) {
		policy = DMARC_P_REJECT;
		source = g_strdup("dmarc_moderation_addresses");
	} else {
		if ((r = env_resolver(p, &own, error)) == NULL)
			return PIPE_ERROR;
		if (dmarc_lookup(r, domain, &policy, &source, &dns_error) < 0) {
			log_warning(DMARC_SUBSYS, "list %s: post from %s: %s; "
				    "taken as a policy to mitigate",
				    list_fqdn(p->list), p->poster,
				    dns_error->message);
			g_clear_error(&dns_error);
		}
		dmarc_resolver_free(&own);
	}
	if (!listed && !needs_mitigation(p, policy, action)) {
		g_free(source);
		return PIPE_CONTINUE;
	}
	/* A moderator's or password approval overrides a reject or discard,
	 * but the approved post still needs its From: changed.  So does a
	 * DNS failure: the policy is unknown, so the post is mitigated, never
	 * refused (a DNS outage must not refuse every post). */
	if ((p->approved || policy == DMARC_TEMPERROR) &&
	    (action == ACT_REJECT || action == ACT_DISCARD))
		action = ACT_MUNGE;
	log_info(DMARC_SUBSYS, "list %s: post from %s: DMARC policy %s%s%s: %s",
		 list_fqdn(p->list), p->poster,
		 listed ? "forced" : dmarc_policy_name(policy),
		 source != NULL ? " at " : "", source != NULL ? source : "",
		 action == ACT_MUNGE ? "From: to be munged"
		 : action == ACT_WRAP ? "to be wrapped"
		 : action == ACT_REJECT ? "rejected" : "discarded");
	g_free(source);
	switch (action) {
	case ACT_MUNGE:
	case ACT_WRAP:
		queue_meta_set(p->meta, META_DMARC,
			       action == ACT_MUNGE ? "munge" : "wrap");
		queue_meta_set(p->meta, META_DMARC_POLICY, listed ? "listed"
			       : dmarc_policy_name(policy));
		return PIPE_CONTINUE;
	case ACT_REJECT:
		set_reject_reason(p, listed ? NULL : domain, policy);
		return PIPE_REJECT;
	default:
		if (listed)
			post_set_reason(p, "DMARC: %s is in dmarc_moderation_"
					"addresses and dmarc_moderation_action "
					"is discard", p->poster);
		else
			post_set_reason(p, "DMARC: %s's policy is %s and "
					"dmarc_moderation_action is discard",
					domain, dmarc_policy_name(policy));
		return PIPE_DISCARD;
	}
}

/* --- wrapmessage: the change ---------------------------------------------- */

/* name with an e-mail-like ending ("@host.domain") replaced by "---", as
 * Mailman does: a display name that looks like an address in a From: of
 * the list's would read as a second, forged address. */
static char *
hide_address(const char *name)
{
	for (const char *at = strchr(name, '@'); at != NULL;
	     at = strchr(at + 1, '@')) {
		const char *c = at + 1;
		gboolean dot = FALSE, ok = *c != '\0' && *c != '.';

		for (; ok && *c != '\0'; c++) {
			if (*c == ' ' || (*c == '.' && (c[1] == '.' || c[1] == '\0')))
				ok = FALSE;
			dot |= *c == '.';
		}
		if (ok && dot)
			return g_strdup_printf("%.*s---", (int)(at - name), name);
	}
	return g_strdup(name);
}

/* "<poster's name> via <list's real_name>": the poster's display name, or
 * the local part of their address when they gave none. */
static char *
via_name(struct post *p)
{
	char *real = post_setting(p, "real_name");
	char *who, *out;

	if (*p->poster_name != '\0') {
		who = hide_address(p->poster_name);
	} else {
		const char *at = strrchr(p->poster, '@');
		size_t len = at != NULL ? (size_t)(at - p->poster)
					: strlen(p->poster);

		/* A quoted local part is shown without its quotes. */
		if (len >= 2 && p->poster[0] == '"' && p->poster[len - 1] == '"')
			who = g_strndup(p->poster + 1, len - 2);
		else
			who = g_strndup(p->poster, len);
	}
	g_strdelimit(who, "\r\n\t", ' ');
	out = g_strdup_printf("%s via %s", g_strstrip(who),
			      *real != '\0' ? real : list_fqdn(p->list));
	g_free(who);
	g_free(real);
	return out;
}

/* Sets header name to value where it is (the first of that name; any
 * others go), or at the end when there is none: the headers keep their
 * order. */
static void
header_replace(GMimeMessage *msg, const char *name, const char *value)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	GMimeHeader *first = NULL;
	int first_at = -1;

	/* From the end, so that removing one leaves the indexes still to
	 * visit as they were. */
	for (int i = g_mime_header_list_get_count(hl) - 1; i >= 0; i--) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);

		if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) != 0)
			continue;
		if (first != NULL)
			g_mime_header_list_remove_at(hl, first_at);
		first = h;
		first_at = i;
	}
	if (first != NULL)
		g_mime_header_set_value(first, NULL, value, NULL);
	else
		message_header_append(msg, name, value);
}

/* Puts a (formatted) into header name of msg, after the addresses there
 * (first when first), unless the address is there already. */
static void
header_add_address(GMimeMessage *msg, const char *name,
		   const struct address *a, gboolean first)
{
	const char *raw = message_header(msg, name);
	char *formatted = address_format(a), *old = NULL, *value;
	GPtrArray *addrs = NULL;

	if (raw != NULL) {
		old = g_mime_utils_header_unfold(raw);
		g_strstrip(old);
	}
	if (old == NULL || *old == '\0') {
		header_replace(msg, name, formatted);
		goto out;
	}
	if (address_parse_list(old, &addrs, NULL) == 0) {
		for (guint i = 0; i < addrs->len; i++) {
			const struct address *b = addrs->pdata[i];

			if (address_equal(a->addr, b->addr))
				goto out;
		}
	}
	value = first ? g_strconcat(formatted, ", ", old, NULL)
		      : g_strconcat(old, ", ", formatted, NULL);
	header_replace(msg, name, value);
	g_free(value);
out:
	if (addrs != NULL)
		g_ptr_array_unref(addrs);
	g_free(old);
	g_free(formatted);
}

/* From: becomes the list's (with the poster's name), and the poster's
 * address goes where replies will find it: Reply-To when replies go to the
 * poster (reply_goes_to_list 0), else Cc, so that a Reply-To the list set
 * (to itself, or reply_to_address) keeps its meaning.  Done on the post
 * itself (munging) or on the wrapper (wrapping). */
static void
set_list_from(struct post *p, GMimeMessage *msg)
{
	struct address from = { (char *)list_fqdn(p->list), via_name(p) };
	struct address poster = { p->poster,
				  *p->poster_name != '\0' ? p->poster_name : NULL };
	char *value = address_format(&from);

	header_replace(msg, "From", value);
	if (post_setting_int(p, "reply_goes_to_list") == 0)
		header_add_address(msg, "Reply-To", &poster, FALSE);
	else
		header_add_address(msg, "Cc", &poster, TRUE);
	g_free(value);
	g_free(from.name);
}

static void
munge(struct post *p)
{
	set_list_from(p, p->msg);
	/* The poster's domain's signatures cannot verify any more (From:
	 * changed); left in, they would only make the post look forged. */
	message_header_remove_all(p->msg, "DKIM-Signature");
	message_header_remove_all(p->msg, "DomainKey-Signature");
}

/* The post's headers that the wrapper carries too: those a reader and a
 * reply need, and the list's own (added by cookheaders). */
static gboolean
wrapper_keeps(const char *name)
{
	static const char *const keep[] = {
		"Date", "To", "Cc", "Subject", "In-Reply-To", "References",
		"Reply-To", "Sender", "Errors-To", "Precedence", "X-BeenThere",
		"Archived-At",
		NULL,
	};

	if (g_ascii_strncasecmp(name, "List-", 5) == 0)
		return TRUE;
	for (guint i = 0; keep[i] != NULL; i++)
		if (g_ascii_strcasecmp(keep[i], name) == 0)
			return TRUE;
	return FALSE;
}

/* Copies a header as it is (raw value: its encoding and folding kept). */
static void
copy_header(GMimeMessage *to, GMimeHeader *h)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(to));
	int n;

	g_mime_header_list_append(hl, g_mime_header_get_name(h), "", NULL);
	n = g_mime_header_list_get_count(hl);
	g_mime_header_set_raw_value(g_mime_header_list_get_header_at(hl, n - 1),
				    g_mime_header_get_raw_value(h));
}

static void
wrap(struct post *p)
{
	GMimeMessage *inner = p->msg, *outer = g_mime_message_new(FALSE);
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(inner));
	char *text = post_setting(p, "dmarc_wrapped_message_text");
	const char *at = strrchr(list_fqdn(p->list), '@');
	char *id = g_mime_utils_generate_message_id(at + 1);
	int n = g_mime_header_list_get_count(hl);

	message_header_append(outer, "From", "");
	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);

		if (wrapper_keeps(g_mime_header_get_name(h)))
			copy_header(outer, h);
	}
	set_list_from(p, outer);
	g_mime_message_set_message_id(outer, id);
	message_header_append(outer, "MIME-Version", "1.0");
	if (*text == '\0') {
		message_set_body_attached(outer, NULL, inner);
	} else {
		GMimeTextPart *tp = g_mime_text_part_new_with_subtype("plain");
		size_t len = strlen(text);

		if (text[len - 1] != '\n') {
			char *nl = g_strconcat(text, "\n", NULL);

			g_free(text);
			text = nl;
		}
		g_mime_text_part_set_text(tp, text);
		g_mime_part_set_content_encoding(
			GMIME_PART(tp),
			g_mime_part_get_best_content_encoding(
				GMIME_PART(tp), GMIME_ENCODING_CONSTRAINT_7BIT));
		message_set_body_attached(outer, GMIME_OBJECT(tp), inner);
		g_object_unref(tp);
	}
	g_object_unref(inner);	/* the wrapper's part holds it now */
	p->msg = outer;
	g_free(id);
	g_free(text);
}

/* --- dmarc_unmunged_if_dkim_intact: the signature that survives -------- */

/* Whether DKIM domain d is aligned with the author's domain (relaxed
 * alignment, RFC 7489 3.1.1: the same organizational domain). */
static gboolean
aligned(struct dmarc_resolver *r, const char *d, const char *author)
{
	char *od = dmarc_org_domain(r, d), *oa = dmarc_org_domain(r, author);
	gboolean same = od != NULL && oa != NULL && strcmp(od, oa) == 0;

	g_free(od);
	g_free(oa);
	return same;
}

/* The domains of the signatures that passed on arrival and are aligned
 * with the author's domain, from authcheck's "pass d=D a=A, fail d=..."
 * (META_AUTH_DKIM); empty when none (or authcheck did not run). */
static GPtrArray *
aligned_passes(struct dmarc_resolver *r, const char *results,
	       const char *author)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	char **items = g_strsplit(results != NULL ? results : "", ", ", -1);

	for (guint i = 0; items[i] != NULL; i++) {
		char **w = g_strsplit(items[i], " ", -1);

		if (g_strv_length(w) >= 2 && strcmp(w[0], "pass") == 0 &&
		    g_str_has_prefix(w[1], "d=") &&
		    aligned(r, w[1] + 2, author))
			g_ptr_array_add(out, g_ascii_strdown(w[1] + 2, -1));
		g_strfreev(w);
	}
	g_strfreev(items);
	return out;
}

/* The post as delivery will send it, to a member at the poster's own
 * address: the decoration the decorate handler or delivery will add
 * (msg_header, msg_footer) and, on a personalised list, the member's
 * List-Unsubscribe and To:.  The same functions as theirs, so that this
 * sees every change they make; NULL with *error when one fails. */
static GByteArray *
copy_as_sent(struct post *p, GError **error)
{
	GByteArray *raw = message_to_bytes(p->msg), *out = NULL;
	GMimeMessage *copy = message_parse_stored((const char *)raw->data,
						  raw->len, error);
	int64_t personalize = post_setting_int(p, "personalize");
	gboolean plain = g_strcmp0(queue_meta_get(p->meta, META_NODECORATE),
				   "yes") == 0;
	int r = 0;

	g_byte_array_unref(raw);
	if (copy == NULL)
		return NULL;
	if (!plain && personalize == 0 &&
	    g_strcmp0(queue_meta_get(p->meta, META_DECORATED), "yes") != 0)
		r = decorate_message(copy, p->list, NULL, error);
	else if (!plain && personalize != 0)
		r = decorate_message(copy, p->list, p->poster, error);
	if (r == 0 && !plain && personalize != 0)
		r = headers_personalise(copy, p->list, NULL, p->poster, error);
	if (r == 0 && !plain && personalize == 2)
		message_header_set(copy, "To", p->poster);
	if (r == 0)
		out = message_to_bytes(copy);
	g_object_unref(copy);
	return out;
}

/* Whether a DKIM signature aligned with the author's domain passed on
 * arrival and passes still on the copy the list sends; *domain_r gets its
 * domain.  why_r: why not, for the log. */
static gboolean
dkim_intact(struct post *p, char **domain_r, char **why_r)
{
	struct dmarc_resolver *r, *own = NULL;
	const char *at = strrchr(p->poster, '@');
	GPtrArray *passed = NULL, *v = NULL;
	GByteArray *copy = NULL;
	GError *e = NULL;
	gboolean ok = FALSE;

	*domain_r = NULL;
	*why_r = NULL;
	if ((r = env_resolver(p, &own, &e)) == NULL) {
		*why_r = g_strdup_printf("no resolver: %s", e->message);
		goto out;
	}
	passed = aligned_passes(r, queue_meta_get(p->meta, META_AUTH_DKIM),
				at + 1);
	if (passed->len == 0) {
		*why_r = g_strdup("no DKIM signature aligned with From: "
				  "verified on arrival");
		goto out;
	}
	if ((copy = copy_as_sent(p, &e)) == NULL) {
		*why_r = g_strdup_printf("the copy to send: %s", e->message);
		goto out;
	}
	{
		struct dkim_verify_opts o = { .lookup = pipe_dkim_lookup,
					      .ctx = r, .now = time(NULL) };

		v = dkim_verify((const char *)copy->data, copy->len, &o);
	}
	for (guint i = 0; i < v->len && !ok; i++) {
		const struct dkim_verdict *d = v->pdata[i];

		for (guint k = 0; k < passed->len && !ok; k++)
			if (d->result == DKIM_RESULT_PASS && d->domain != NULL &&
			    g_ascii_strcasecmp(d->domain, passed->pdata[k]) == 0) {
				ok = TRUE;
				*domain_r = g_strdup(d->domain);
			}
	}
	if (!ok)
		*why_r = g_strdup("the list's changes break the aligned DKIM "
				  "signature");
out:
	g_clear_error(&e);
	if (v != NULL)
		g_ptr_array_unref(v);
	if (passed != NULL)
		g_ptr_array_unref(passed);
	if (copy != NULL)
		g_byte_array_unref(copy);
	dmarc_resolver_free(&own);
	return ok;
}

enum pipe_result
pipe_wrapmessage(struct post *p, GError **error)
{
	int64_t mode = post_setting_int(p, "from_is_list");
	const char *decided = queue_meta_get(p->meta, META_DMARC);

	/* The stronger of the list's own setting and the DMARC decision. */
	if (g_strcmp0(decided, "wrap") == 0)
		mode = ACT_WRAP;
	else if (g_strcmp0(decided, "munge") == 0 && mode != ACT_WRAP)
		mode = ACT_MUNGE;
	/* An anonymous list's posts are From: the list already; a post with
	 * no author has no From: to move. */
	if ((mode != ACT_MUNGE && mode != ACT_WRAP) || *p->poster == '\0' ||
	    post_setting_bool(p, "anonymous_list"))
		return PIPE_CONTINUE;
	queue_meta_remove(p->meta, META_DMARC_DKIM);
	if (strchr(p->poster, '@') != NULL &&
	    post_setting_bool(p, "dmarc_unmunged_if_dkim_intact")) {
		char *domain, *why;

		if (dkim_intact(p, &domain, &why)) {
			log_info(DMARC_SUBSYS, "list %s: post from %s: not %s: "
				 "its DKIM signature of %s survives the list",
				 list_fqdn(p->list), p->poster,
				 mode == ACT_MUNGE ? "munged" : "wrapped",
				 domain);
			queue_meta_set(p->meta, META_DMARC_DKIM, domain);
			g_free(domain);
			return PIPE_CONTINUE;
		}
		log_info(DMARC_SUBSYS, "list %s: post from %s: %s: %s",
			 list_fqdn(p->list), p->poster,
			 mode == ACT_MUNGE ? "munged" : "wrapped", why);
		g_free(why);
	}
	if (mode == ACT_MUNGE)
		munge(p);
	else
		wrap(p);
	return PIPE_CONTINUE;
}
