/*
 * subscribe.c - subscriptions, unsubscriptions and invitations under the
 * list's policies (subscribe.h), with their mail.
 *
 * The order of each step is chosen for crashes: a confirmed request is
 * acted on (the roster changed, or a new request for the moderators
 * stored) before its claim is removed, so a crash between the two leaves
 * a claim that pending.expire gives back, and a second confirmation then
 * finds the member there already ("already a member"), never a lost
 * request.  Mail is sent after the change it reports; a notice that
 * fails is logged and does not undo the change.
 *
 * The texts are templates (list/template.h): verify, unsub, invite,
 * changeaddr, subscribeack, unsubscribeack, subauth, unsubauth, refuse,
 * adminsubscribeack, adminunsubscribeack and adminaddrchgack, with
 * Mailman's variables.
 */
#include "list/subscribe.h"
#include "store/webhook.h"
#include "base/base.h"
#include "base/log.h"
#include "list/listurls.h"
#include "list/modlink.h"
#include "list/notice.h"
#include "list/template.h"
#include "mail/address.h"
#include "store/queue.h"

#include <string.h>
#include <time.h>

#define SUBSCRIBE_SUBSYS "subscribe"

static const char *const outcome_texts[] = {
	[SUBSCRIBE_DONE] = "done",
	[SUBSCRIBE_CONFIRM] = "a confirmation was sent to the address",
	[SUBSCRIBE_APPROVE] = "the request awaits a moderator's approval",
	[SUBSCRIBE_ALREADY] = "the address is a member already",
	[SUBSCRIBE_NOT_MEMBER] = "the address is not a member",
	[SUBSCRIBE_BANNED] = "the address may not subscribe to this list",
	[SUBSCRIBE_REJECTED] = "a moderator rejected the request",
	[SUBSCRIBE_DISCARDED] = "a moderator discarded the request",
};

const char *
subscribe_outcome_text(enum subscribe_outcome o)
{
	return o <= SUBSCRIBE_DISCARDED ? outcome_texts[o] : "unknown";
}

/* --- address patterns (ban_list, subscribe_auto_approval) ---------------- */

struct subscribe_bans {
	GPtrArray *regexes;	/* GRegex *: the ^regex lines */
	GPtrArray *keys;	/* char *: the address lines' keys */
};

static struct subscribe_bans *
patterns_load(struct list *l, const char *setting)
{
	struct subscribe_bans *b = g_new0(struct subscribe_bans, 1);
	char **lines = list_get_lines(l, setting);

	b->regexes = g_ptr_array_new_with_free_func((GDestroyNotify)g_regex_unref);
	b->keys = g_ptr_array_new_with_free_func(g_free);
	for (char **line = lines; *line != NULL; line++) {
		if (**line == '^') {
			GRegex *re = g_regex_new(*line, G_REGEX_CASELESS, 0, NULL);

			if (re != NULL)
				g_ptr_array_add(b->regexes, re);
			else
				log_warning(SUBSCRIBE_SUBSYS, "list %s: %s entry "
					    "'%s' is not a valid regex; ignored",
					    list_fqdn(l), setting, *line);
		} else {
			char *k = address_key(*line);

			g_ptr_array_add(b->keys, k != NULL ? k
					: g_ascii_strdown(*line, -1));
		}
	}
	g_strfreev(lines);
	return b;
}

struct subscribe_bans *
subscribe_bans_load(struct list *l)
{
	return patterns_load(l, "ban_list");
}

gboolean
subscribe_bans_match(const struct subscribe_bans *b, const char *addr)
{
	char *key = address_key(addr);
	gboolean hit = FALSE;

	for (guint i = 0; !hit && i < b->keys->len; i++)
		hit = g_strcmp0(b->keys->pdata[i], key) == 0;
	for (guint i = 0; !hit && i < b->regexes->len; i++)
		hit = g_regex_match(b->regexes->pdata[i], addr, 0, NULL);
	g_free(key);
	return hit;
}

void
subscribe_bans_free(struct subscribe_bans **bp)
{
	struct subscribe_bans *b = *bp;

	if (b == NULL)
		return;
	g_ptr_array_free(b->regexes, TRUE);
	g_ptr_array_free(b->keys, TRUE);
	g_free(b);
	*bp = NULL;
}

static gboolean
matches_setting(struct list *l, const char *setting, const char *addr)
{
	struct subscribe_bans *b = patterns_load(l, setting);
	gboolean hit = subscribe_bans_match(b, addr);

	subscribe_bans_free(&b);
	return hit;
}

/* --- the roster ---------------------------------------------------------- */

/* Mailman's new_member_options bits, mapped to herald's options. */
static unsigned
options_from_mailman_bits(int64_t bits)
{
	unsigned o = 0;

	if (bits & 2)
		o |= OPT_NOTMETOO;
	if (bits & 4)
		o |= OPT_ACK;
	if (bits & 16)
		o |= OPT_CONCEAL;
	if (bits & 128)
		o |= OPT_MODERATE;
	if (bits & 256)
		o |= OPT_NODUPES;
	return o;
}

void
subscribe_member_defaults(struct list *l, struct member *m, gboolean digest)
{
	int64_t now = now_usec() / 1000000;

	/* nondigestable off: digests are the only way to get the posts. */
	digest = digest || list_get_bool(l, "digest_is_default") ||
		 !list_get_bool(l, "nondigestable");
	m->mode = !digest ? MODE_REGULAR
		: list_get_bool(l, "mime_is_default_digest") ? MODE_MIME_DIGEST
							     : MODE_PLAIN_DIGEST;
	m->options = options_from_mailman_bits(list_get_int(l,
							    "new_member_options"));
	if (list_get_bool(l, "default_member_moderation"))
		m->options |= OPT_MODERATE;
	m->status = STATUS_ENABLED;
	m->status_time = now;
	m->status_reason = "";
	m->language = "";
	m->subscribed = now;
	m->password = "";
	m->name = "";
	memset(&m->bounce, 0, sizeof m->bounce);
	m->bounce.reason = "";
}

/* What add/remove decide under the list lock. */
struct change {
	struct list *list;
	const struct pending *p;
	enum subscribe_outcome outcome;
};

static int
add_member(const struct roster *r, struct roster_change *c, void *ctx,
	   GError **error)
{
	struct change *ch = ctx;
	struct subscribe_bans *bans;
	struct member m = { 0 };

	if (roster_find(r, ch->p->address) != NULL) {
		ch->outcome = SUBSCRIBE_ALREADY;
		return 0;
	}
	bans = subscribe_bans_load(ch->list);
	ch->outcome = subscribe_bans_match(bans, ch->p->address)
		? SUBSCRIBE_BANNED : SUBSCRIBE_DONE;
	subscribe_bans_free(&bans);
	if (ch->outcome != SUBSCRIBE_DONE)
		return 0;
	subscribe_member_defaults(ch->list, &m, ch->p->digest);
	m.key = address_key(ch->p->address);
	m.addr = ch->p->address;
	m.name = ch->p->name;
	m.password = ch->p->password;
	roster_change_put(c, &m);
	g_free(m.key);
	return 0;
}

static int
remove_member(const struct roster *r, struct roster_change *c, void *ctx,
	      GError **error)
{
	struct change *ch = ctx;

	if (roster_find(r, ch->p->address) == NULL) {
		ch->outcome = SUBSCRIBE_NOT_MEMBER;
		return 0;
	}
	roster_change_remove(c, ch->p->address);
	ch->outcome = SUBSCRIBE_DONE;
	return 0;
}

/* Adds (subscribe, invite) or removes (unsubscribe) p's address, then
 * the welcome or goodbye (welcome: SUBSCRIBE_LIST_DEFAULT, 0, 1) and the
 * owners' notice.  An outcome, or -1. */
static int
apply(struct list *l, const struct pending *p, int welcome, GError **error)
{
	gboolean leave = p->kind == PENDING_UNSUBSCRIBE;
	struct change ch = { l, p, SUBSCRIBE_DONE };

	if (roster_edit(l, leave ? remove_member : add_member, &ch, error) < 0)
		return -1;
	if (ch.outcome != SUBSCRIBE_DONE)
		return ch.outcome;
	log_info(SUBSCRIBE_SUBSYS, "list %s: %s %s (%s, asked by %s via %s)",
		 list_fqdn(l), p->address, leave ? "unsubscribed" : "subscribed",
		 pending_kind_name(p->kind), p->requester, p->via);
	if (leave)
		subscribe_announce_removed(l, p->address, welcome);
	else
		subscribe_announce_added(l, p->address, welcome);
	return SUBSCRIBE_DONE;
}

/* --- mail ---------------------------------------------------------------- */

static void
log_mail_error(struct list *l, const char *what, GError *e)
{
	log_error(SUBSCRIBE_SUBSYS, "list %s: %s: %s", list_fqdn(l), what,
		  e->message);
	g_error_free(e);
}

static const char *
kind_verb(enum pending_kind k)
{
	return k == PENDING_UNSUBSCRIBE ? "unsubscription" : "subscription";
}

/* A member's language, "" = the list's: NULL for template_render. */
static const char *
language(const char *lang)
{
	return lang != NULL && *lang != '\0' ? lang : NULL;
}

/* The confirmation of p, to its address (templates verify, unsub,
 * invite) or, for a change of address, to the new one (changeaddr):
 * Subject "confirm TOKEN", From LIST-request, Reply-To
 * LIST-confirm+TOKEN, so that a plain reply, by any mail client,
 * confirms.  Limited like every automatic reply, so that requests made
 * in a stranger's name cannot flood them. */
static void
send_confirmation(struct list *l, const struct pending *p)
{
	static const char *const names[] = {
		[PENDING_SUBSCRIBE] = "verify",
		[PENDING_UNSUBSCRIBE] = "unsub",
		[PENDING_INVITE] = "invite",
		[PENDING_CHANGE_ADDRESS] = "changeaddr",
	};
	gboolean move = p->kind == PENDING_CHANGE_ADDRESS;
	const char *whom = move ? p->new_address : p->address;
	GHashTable *vars = template_vars_for_list(l);
	char *reply_to = modlink_confirm_address(l, p->token);
	/* An umbrella list's member is a list: its owners answer. */
	char *to = notice_member_address(l, whom);
	struct notice_from from = { "-request", reply_to };
	struct template_text t;
	GError *e = NULL;

	template_vars_set(vars, "email", whom);
	template_vars_set(vars, "oldaddr", p->address);
	template_vars_set(vars, "cookie", p->token);
	template_vars_take(vars, "confirmurl", modlink_confirm_url(l, p->token));
	template_vars_set(vars, "confirmaddr", reply_to);
	template_vars_take(vars, "remote",
			   address_equal(p->requester, p->address) ? g_strdup("")
			   : g_strdup_printf(" from %s", p->requester));
	if (template_render(l, names[p->kind], language(p->language), vars, &t,
			    &e) < 0) {
		log_mail_error(l, "confirmation", e);
	} else {
		if (notice_autorespond_from(l, to, &from, t.subject, t.body,
					    NULL, &e) < 0)
			log_mail_error(l, "confirmation", e);
		template_text_clear(&t);
	}
	g_free(to);
	g_free(reply_to);
	g_hash_table_unref(vars);
}

/* The moderators hear of a request that waits for them (subauth,
 * unsubauth; when admin_immed_notify), From LIST-request with Reply-To
 * LIST-confirm+TOKEN: a reply with Approved: PASSWORD approves. */
static void
tell_moderators(struct list *l, const struct pending *p)
{
	GHashTable *vars;
	char *reply_to;
	struct notice_from from = { "-request", NULL };
	struct template_text t;
	GError *e = NULL;

	if (!list_get_bool(l, "admin_immed_notify"))
		return;
	vars = template_vars_for_list(l);
	modlink_template_vars(l, vars, p->token);
	template_vars_set(vars, "username", p->address);
	reply_to = modlink_confirm_address(l, p->token);
	from.reply_to = reply_to;
	if (template_render(l, p->kind == PENDING_UNSUBSCRIBE ? "unsubauth"
			    : "subauth", NULL, vars, &t, &e) < 0) {
		log_mail_error(l, "request notice to the moderators", e);
	} else {
		if (notice_to_owners_from(l, &from, t.subject, t.body,
						   NULL, &e) < 0)
			log_mail_error(l, "request notice to the moderators", e);
		template_text_clear(&t);
	}
	g_free(reply_to);
	g_hash_table_unref(vars);
}

static void
tell_refused(struct list *l, const struct pending *p, const char *reason)
{
	GHashTable *vars = template_vars_for_list(l);
	char *addr = notice_member_address(l, p->address);
	const char *to[] = { addr, NULL };
	GError *e = NULL;

	template_vars_take(vars, "request", g_strdup_printf("%s of %s",
				kind_verb(p->kind), p->address));
	template_vars_set(vars, "reason", reason != NULL ? reason
			  : "(no reason was given)");
	if (template_send(l, to, "refuse", language(p->language), vars, NULL,
			  TRUE, &e) < 0)
		log_mail_error(l, "refusal", e);
	g_free(addr);
	g_hash_table_unref(vars);
}

static gboolean
wanted(struct list *l, int override, const char *setting)
{
	return override == SUBSCRIBE_LIST_DEFAULT ? list_get_bool(l, setting)
						  : override != 0;
}

/* Renders template name with vars (taken) and sends it to the owners;
 * a failure is logged as what, and -1. */
static int
owners_notice(struct list *l, const char *name, GHashTable *vars,
	      const char *what)
{
	struct template_text t;
	GError *e = NULL;
	int ret = -1;

	if (template_render(l, name, NULL, vars, &t, &e) < 0) {
		log_mail_error(l, what, e);
	} else {
		if ((ret = notice_to_owners(l, t.subject, t.body, NULL, &e)) < 0)
			log_mail_error(l, what, e);
		template_text_clear(&t);
	}
	g_hash_table_unref(vars);
	return ret < 0 ? -1 : 0;
}

/* The owners hear of a member who came or went (adminsubscribeack,
 * adminunsubscribeack) when admin_notify_mchanges. */
static int
tell_owners(struct list *l, const char *address, gboolean added)
{
	GHashTable *vars;

	if (!list_get_bool(l, "admin_notify_mchanges"))
		return 0;
	vars = template_vars_for_list(l);
	template_vars_set(vars, "member", address);
	template_vars_set(vars, "whence", "");
	return owners_notice(l, added ? "adminsubscribeack"
				      : "adminunsubscribeack",
			     vars, "member change notice to the owners");
}

/* The welcome (subscribeack) or goodbye (unsubscribeack) to address; a
 * failure is logged, and -1. */
static int
tell_member(struct list *l, const char *address, gboolean added)
{
	GHashTable *vars = template_vars_for_list(l);
	char *addr = notice_member_address(l, address);
	const char *to[] = { addr, NULL };
	GError *e = NULL;
	int ret = 0;

	template_vars_set(vars, added ? "user" : "email", address);
	template_vars_take(vars, "optionsurl",
			   listurls_member_options(l, address));
	if (template_send(l, to, added ? "subscribeack" : "unsubscribeack",
			  NULL, vars, NULL, FALSE, &e) < 0) {
		log_mail_error(l, added ? "welcome" : "goodbye", e);
		ret = -1;
	}
	g_free(addr);
	g_hash_table_unref(vars);
	return ret;
}

/* The webhooks' member events (store/webhook.h). */
static void
member_event(struct list *l, const char *event, const char *address)
{
	JsonObject *d = json_object_new();

	json_object_set_string_member(d, "address", address);
	webhook_emit(list_site(l), list_fqdn(l), event, d);
}

void
subscribe_announce_event(struct list *l, const char *address, gboolean added)
{
	member_event(l, added ? "member.subscribed" : "member.unsubscribed",
		     address);
}

void
subscribe_announce_added(struct list *l, const char *address, int welcome)
{
	member_event(l, "member.subscribed", address);
	if (wanted(l, welcome, "send_welcome_msg"))
		tell_member(l, address, TRUE);
	tell_owners(l, address, TRUE);
}

void
subscribe_announce_removed(struct list *l, const char *address, int goodbye)
{
	member_event(l, "member.unsubscribed", address);
	if (wanted(l, goodbye, "send_goodbye_msg"))
		tell_member(l, address, FALSE);
	tell_owners(l, address, FALSE);
}

/* --- notices owed ----------------------------------------------------------- */

#define OWED_WELCOME "welcome"
#define OWED_OWNERS "owners"
/* Owed notices sent in one round: one file and one settling change. */
#define OWED_ROUND 250

gboolean
subscribe_owe_added(struct list *l, struct roster_change *c,
		    const struct member *m, int welcome)
{
	gboolean owed = FALSE;

	if (wanted(l, welcome, "send_welcome_msg")) {
		roster_change_owe(c, OWED_WELCOME, m);
		owed = TRUE;
	}
	if (list_get_bool(l, "admin_notify_mchanges")) {
		roster_change_owe(c, OWED_OWNERS, m);
		owed = TRUE;
	}
	return owed;
}

/* An owed notice, rendered: what it would queue, gathered. */
struct owed_send {
	const struct roster_owed *o;
	GPtrArray *pendings;	/* struct queue_pending * */
	gboolean failed;	/* rendering it failed (logged): left owed */
};

static void
owed_send_free(gpointer p)
{
	struct owed_send *s = p;

	for (guint i = 0; i < s->pendings->len; i++)
		queue_pending_drop((struct queue_pending **)&s->pendings->pdata[i]);
	g_ptr_array_free(s->pendings, TRUE);
	g_free(s);
}

static struct owed_send *
owed_render(struct list *l, const struct roster_owed *o)
{
	struct owed_send *s = g_new0(struct owed_send, 1);

	s->o = o;
	queue_gather_begin();
	if (strcmp(o->notice, OWED_WELCOME) == 0)
		s->failed = tell_member(l, o->addr, TRUE) < 0;
	else if (strcmp(o->notice, OWED_OWNERS) == 0)
		s->failed = tell_owners(l, o->addr, TRUE) < 0;
	else
		log_warning(SUBSCRIBE_SUBSYS, "list %s: a notice \"%s\" is owed "
			    "to %s, which this herald does not know: settled "
			    "unsent", list_fqdn(l), o->notice, o->addr);
	s->pendings = queue_gather_end();
	return s;
}

struct settle_ctx {
	GPtrArray *sends;	/* struct owed_send * */
	guint sent;
};

/* Under the list lock: what is still owed (another sender may have been
 * quicker) is stored, one file a queue, and settled by this change; a
 * notice to somebody no longer a member is settled unsent.  A failure
 * to store settles nothing. */
static int
settle_edit(const struct roster *r, struct roster_change *c, void *ctx,
	    GError **error)
{
	struct settle_ctx *x = ctx;
	GPtrArray *store = g_ptr_array_new();
	int ret;

	x->sent = 0;
	for (guint i = 0; i < x->sends->len; i++) {
		struct owed_send *s = x->sends->pdata[i];

		if (s->failed || !roster_is_owed(r, s->o->notice, s->o->key))
			continue;
		if (roster_find(r, s->o->key) != NULL) {
			for (guint j = 0; j < s->pendings->len; j++)
				g_ptr_array_add(store, s->pendings->pdata[j]);
			g_ptr_array_set_size(s->pendings, 0);
			x->sent++;
		}
		roster_change_settle(c, s->o);
	}
	ret = queue_pendings_commit(store, error);
	g_ptr_array_free(store, TRUE);
	return ret;
}

int
subscribe_send_owed(struct list *l, guint *sent_r, GError **error)
{
	*sent_r = 0;
	for (;;) {
		struct roster *r = NULL;
		GPtrArray *owed;
		struct settle_ctx x = {
			.sends = g_ptr_array_new_with_free_func(owed_send_free),
		};
		int ret;

		if (roster_load_owed(l, &r, error) < 0)
			return -1;
		owed = roster_owed(r);
		for (guint i = 0; i < owed->len && i < OWED_ROUND; i++)
			g_ptr_array_add(x.sends, owed_render(l, owed->pdata[i]));
		ret = owed->len == 0 ? 0 : roster_edit(l, settle_edit, &x, error);
		*sent_r += x.sent;
		guint failed = 0;
		for (guint i = 0; i < x.sends->len; i++)
			failed += ((struct owed_send *)x.sends->pdata[i])->failed;
		if (ret == 0 && failed > 0) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
				    "%u owed notice%s could not be made (logged): "
				    "left owed", failed, failed == 1 ? "" : "s");
			ret = -1;
		}
		gboolean more = ret == 0 && owed->len > OWED_ROUND;
		g_ptr_array_free(x.sends, TRUE);
		g_ptr_array_free(owed, TRUE);
		roster_free(&r);
		if (!more)
			return ret;
	}
}

/* --- requests ------------------------------------------------------------ */

/* A new pending request from r; NULL with *error for an address that is
 * none, or a password that cannot be hashed. */
static struct pending *
request_new(enum pending_kind kind, const struct subscribe_request *r,
	    GError **error)
{
	char *addr = address_normalise(r->address, error);
	struct pending *p;

	if (addr == NULL)
		return NULL;
	p = pending_new(kind, addr);
	g_free(addr);
	g_free(p->name);
	p->name = g_strdup(r->name != NULL ? r->name : "");
	p->digest = r->digest;
	g_free(p->requester);
	p->requester = g_strdup(r->requester != NULL ? r->requester : p->address);
	g_free(p->via);
	p->via = g_strdup(r->via != NULL ? r->via : "");
	if (r->password != NULL && *r->password != '\0') {
		char *hash = member_password_hash(r->password, error);

		if (hash == NULL) {
			pending_free(&p);
			return NULL;
		}
		g_free(p->password);
		p->password = hash;
	}
	return p;
}

/* Stores p to wait in state, tells whom it waits for; the outcome. */
static int
wait_for(struct list *l, struct pending *p, enum pending_state state,
	 const char *reason, char **token_r, GError **error)
{
	p->state = state;
	g_free(p->reason);
	p->reason = g_strdup(reason != NULL ? reason : "");
	if (pending_add(l, p, error) < 0)
		return -1;
	if (state == PENDING_CONFIRM)
		send_confirmation(l, p);
	else
		tell_moderators(l, p);
	if (token_r != NULL)
		*token_r = g_strdup(p->token);
	return state == PENDING_CONFIRM ? SUBSCRIBE_CONFIRM : SUBSCRIBE_APPROVE;
}

/* Whether the member is there now: 1, 0, -1. */
static int
is_member(struct list *l, const char *addr, GError **error)
{
	struct roster *r = NULL;
	int found;

	if (roster_load(l, &r, error) < 0)
		return -1;
	found = roster_find(r, addr) != NULL;
	roster_free(&r);
	return found;
}

/* Whether a subscription needs a moderator: subscribe_policy 2 or 3,
 * and the address is not in subscribe_auto_approval. */
static gboolean
needs_approval(struct list *l, const char *addr)
{
	int64_t policy = list_get_int(l, "subscribe_policy");

	return (policy == 2 || policy == 3) &&
	       !matches_setting(l, "subscribe_auto_approval", addr);
}

/* Where request p from r goes: done at once for an owner, else to the
 * address's confirmation when confirm, else to a moderator when
 * approve, else done. */
static int
route(struct list *l, struct pending *p, const struct subscribe_request *r,
      gboolean confirm, gboolean approve, char **token_r, GError **error)
{
	if (r->admin)
		return apply(l, p, r->welcome, error);
	if (confirm)
		return wait_for(l, p, PENDING_CONFIRM, NULL, token_r, error);
	if (approve)
		return wait_for(l, p, PENDING_APPROVE, NULL, token_r, error);
	return apply(l, p, r->welcome, error);
}

int
subscribe_request(struct list *l, const struct subscribe_request *r,
		  char **token_r, GError **error)
{
	struct pending *p = request_new(PENDING_SUBSCRIBE, r, error);
	int64_t policy;
	int ret = -1, member;

	if (p == NULL)
		return -1;
	if (matches_setting(l, "ban_list", p->address)) {
		ret = SUBSCRIBE_BANNED;
		goto out;
	}
	/* An owner's add goes straight to the roster change, which judges
	 * "already a member" under the lock anyway: one roster load, not
	 * two (the API's single subscriptions, docs/PERFORMANCE.md). */
	if (!r->admin && (member = is_member(l, p->address, error)) != 0) {
		ret = member < 0 ? -1 : SUBSCRIBE_ALREADY;
		goto out;
	}
	policy = list_get_int(l, "subscribe_policy");
	ret = route(l, p, r, policy == 1 || policy == 3 ||
		    !address_equal(p->requester, p->address),
		    needs_approval(l, p->address), token_r, error);
out:
	pending_free(&p);
	return ret;
}

int
unsubscribe_request(struct list *l, const struct subscribe_request *r,
		    gboolean password_ok, char **token_r, GError **error)
{
	struct pending *p = request_new(PENDING_UNSUBSCRIBE, r, error);
	int ret = -1, member;

	if (p == NULL)
		return -1;
	if ((member = is_member(l, p->address, error)) <= 0) {
		ret = member < 0 ? -1 : SUBSCRIBE_NOT_MEMBER;
		goto out;
	}
	ret = route(l, p, r, !password_ok ||
		    !address_equal(p->requester, p->address),
		    list_get_int(l, "unsubscribe_policy") == 1, token_r, error);
out:
	pending_free(&p);
	return ret;
}

int
subscribe_invite(struct list *l, const char *address, const char *name,
		 const char *inviter, char **token_r, GError **error)
{
	const struct subscribe_request r = {
		.address = address, .name = name, .requester = inviter,
		.via = "cli",
	};
	struct pending *p = request_new(PENDING_INVITE, &r, error);
	int ret = -1, member;

	if (p == NULL)
		return -1;
	if (matches_setting(l, "ban_list", p->address))
		ret = SUBSCRIBE_BANNED;
	else if ((member = is_member(l, p->address, error)) != 0)
		ret = member < 0 ? -1 : SUBSCRIBE_ALREADY;
	else
		ret = wait_for(l, p, PENDING_CONFIRM, NULL, token_r, error);
	pending_free(&p);
	return ret;
}

/* --- change of address --------------------------------------------------- */

/* What moving a member decides under the list lock. */
struct move {
	struct list *list;
	const char *from, *to;
	char *name;		/* the member's display name (for the owners) */
	enum subscribe_outcome outcome;
};

static int
move_member(const struct roster *r, struct roster_change *c, void *ctx,
	    GError **error)
{
	struct move *mv = ctx;
	const struct member *cur = roster_find(r, mv->from);
	struct subscribe_bans *bans;
	struct member m;

	if (cur == NULL) {
		mv->outcome = SUBSCRIBE_NOT_MEMBER;
		return 0;
	}
	if (roster_find(r, mv->to) != NULL) {
		mv->outcome = SUBSCRIBE_ALREADY;
		return 0;
	}
	bans = subscribe_bans_load(mv->list);
	mv->outcome = subscribe_bans_match(bans, mv->to) ? SUBSCRIBE_BANNED
							 : SUBSCRIBE_DONE;
	subscribe_bans_free(&bans);
	if (mv->outcome != SUBSCRIBE_DONE)
		return 0;
	/* The whole record moves: options, password, mode, bounce info. */
	m = *cur;
	m.key = address_key(mv->to);
	m.addr = (char *)mv->to;
	roster_change_remove(c, mv->from);
	roster_change_put(c, &m);
	g_free(m.key);
	g_free(mv->name);
	mv->name = g_strdup(cur->name);
	return 0;
}

/* The owners hear of a member who moved (adminaddrchgack) when
 * admin_notify_mchanges. */
static void
tell_owners_moved(struct list *l, const struct move *mv)
{
	GHashTable *vars;

	if (!list_get_bool(l, "admin_notify_mchanges"))
		return;
	vars = template_vars_for_list(l);
	template_vars_set(vars, "name", mv->name != NULL ? mv->name : "");
	template_vars_set(vars, "oldaddr", mv->from);
	template_vars_set(vars, "newaddr", mv->to);
	owners_notice(l, "adminaddrchgack", vars,
		      "address change notice to the owners");
}

/* Moves p's member on list l: an outcome, or -1. */
static int
move_on(struct list *l, const struct pending *p, GError **error)
{
	struct move mv = { l, p->address, p->new_address, NULL,
			   SUBSCRIBE_DONE };

	if (roster_edit(l, move_member, &mv, error) < 0)
		return -1;
	if (mv.outcome == SUBSCRIBE_DONE) {
		log_info(SUBSCRIBE_SUBSYS, "list %s: %s changed address to %s "
			 "(asked by %s via %s)", list_fqdn(l), p->address,
			 p->new_address, p->requester, p->via);
		tell_owners_moved(l, &mv);
	}
	g_free(mv.name);
	return mv.outcome;
}

/* A confirmed change of address: on l, then (all_lists) on every other
 * list of the site.  One list's failure does not stop the others (each
 * is its own committed change); it is logged, and an error on l itself
 * is the result, so the request can be confirmed again (the lists done
 * already then say "not a member", and are skipped). */
static int
move_everywhere(struct list *l, const struct pending *p, GError **error)
{
	int ret = move_on(l, p, error), moved = ret == SUBSCRIBE_DONE;
	GPtrArray *names;

	if (ret < 0 || !p->all_lists)
		return ret;
	names = list_all(list_site(l), NULL);
	for (guint i = 0; names != NULL && i < names->len; i++) {
		struct list *other;
		GError *e = NULL;
		int r;

		if (strcmp(names->pdata[i], list_fqdn(l)) == 0)
			continue;
		other = list_open(list_site(l), names->pdata[i], &e);
		r = other != NULL ? move_on(other, p, &e) : -1;
		if (r < 0)
			log_mail_error(other != NULL ? other : l,
				       "changing a member's address", e);
		moved |= r == SUBSCRIBE_DONE;
		list_free(&other);
	}
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	return moved ? SUBSCRIBE_DONE : ret;
}

int
subscribe_change_address(struct list *l, const char *old,
			 const char *new_address, gboolean all_lists,
			 const char *requester, const char *via,
			 char **token_r, GError **error)
{
	const struct subscribe_request r = {
		.address = old, .requester = requester, .via = via,
	};
	struct pending *p = request_new(PENDING_CHANGE_ADDRESS, &r, error);
	char *to = address_normalise(new_address, error);
	int ret = -1, member;

	if (p == NULL || to == NULL)
		goto out;
	if (address_equal(p->address, to)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "%s is the address already", to);
		goto out;
	}
	g_free(p->new_address);
	p->new_address = g_strdup(to);
	p->all_lists = all_lists;
	if ((member = is_member(l, p->address, error)) <= 0)
		ret = member < 0 ? -1 : SUBSCRIBE_NOT_MEMBER;
	else if ((member = is_member(l, to, error)) != 0)
		ret = member < 0 ? -1 : SUBSCRIBE_ALREADY;
	else if (matches_setting(l, "ban_list", to))
		ret = SUBSCRIBE_BANNED;
	else
		ret = wait_for(l, p, PENDING_CONFIRM, NULL, token_r, error);
out:
	g_free(to);
	pending_free(&p);
	return ret;
}

/* Finishes a claimed request after outcome ret: done, or given back on
 * an error. */
static int
finish_claim(struct list *l, struct pending **pp, int ret, GError **error)
{
	GError *e = NULL;

	if (ret < 0) {
		if (pending_release(l, pp, &e) < 0)
			log_mail_error(l, "giving back a request", e);
		return -1;
	}
	return pending_done(l, pp, error) < 0 ? -1 : ret;
}

int
subscribe_confirmed(struct list *l, struct pending **pp, char **token_r,
		    GError **error)
{
	struct pending *p = *pp, *next;
	int ret;

	if (p->state == PENDING_APPROVE) {
		ret = apply(l, p, SUBSCRIBE_LIST_DEFAULT, error);
	} else if (p->kind == PENDING_SUBSCRIBE &&
		   needs_approval(l, p->address)) {
		/* The subscriber confirmed; now a moderator decides, by a new
		 * token the subscriber never saw. */
		next = pending_new(p->kind, p->address);
		g_free(next->name);
		next->name = g_strdup(p->name);
		next->digest = p->digest;
		g_free(next->password);
		next->password = g_strdup(p->password);
		g_free(next->requester);
		next->requester = g_strdup(p->requester);
		g_free(next->via);
		next->via = g_strdup(p->via);
		ret = wait_for(l, next, PENDING_APPROVE, "confirmed by the "
			       "subscriber", token_r, error);
		pending_free(&next);
	} else if (p->kind == PENDING_UNSUBSCRIBE &&
		   list_get_int(l, "unsubscribe_policy") == 1) {
		next = pending_new(p->kind, p->address);
		g_free(next->requester);
		next->requester = g_strdup(p->requester);
		g_free(next->via);
		next->via = g_strdup(p->via);
		ret = wait_for(l, next, PENDING_APPROVE, "confirmed by the "
			       "member", token_r, error);
		pending_free(&next);
	} else if (p->kind == PENDING_SUBSCRIBE || p->kind == PENDING_INVITE ||
		   p->kind == PENDING_UNSUBSCRIBE) {
		ret = apply(l, p, SUBSCRIBE_LIST_DEFAULT, error);
	} else if (p->kind == PENDING_CHANGE_ADDRESS) {
		ret = move_everywhere(l, p, error);
	} else {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "a %s request is not a subscription",
			    pending_kind_name(p->kind));
		ret = -1;
	}
	return finish_claim(l, pp, ret, error);
}

int
subscribe_decide(struct list *l, const char *token, enum subscribe_decision d,
		 const char *reason, GError **error)
{
	struct pending *p = NULL;
	int r = pending_claim(l, token, &p, error);

	if (r < 0)
		return -1;
	if (r != 1 || p->state != PENDING_APPROVE) {
		if (r == 1)
			(void)pending_release(l, &p, NULL);
		g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
			    "list %s has no request %s awaiting approval",
			    list_fqdn(l), token);
		return -1;
	}
	if (d == SUBSCRIBE_DECIDE_APPROVE)
		return subscribe_confirmed(l, &p, NULL, error);
	if (d == SUBSCRIBE_DECIDE_REJECT)
		tell_refused(l, p, reason);
	log_info(SUBSCRIBE_SUBSYS, "list %s: %s request for %s %s%s%s",
		 list_fqdn(l), pending_kind_name(p->kind), p->address,
		 d == SUBSCRIBE_DECIDE_REJECT ? "rejected" : "discarded",
		 reason != NULL ? ": " : "", reason != NULL ? reason : "");
	r = d == SUBSCRIBE_DECIDE_REJECT ? SUBSCRIBE_REJECTED
					 : SUBSCRIBE_DISCARDED;
	return finish_claim(l, &p, r, error);
}
