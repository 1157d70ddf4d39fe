/*
 * page_options.c - a member's own page: the options of one subscription,
 * and the lists the address is on (Mailman 2.1's "options" page).
 *
 *     GET  /options/LIST        the member login (password, or a login
 *                               link by mail: page_login.c); a member
 *                               session of LIST goes on to its options,
 *                               an owner gets a form to pick a member
 *     GET  /options/LIST/ADDR   the options of member ADDR
 *     POST /options/LIST/ADDR   do=options    delivery, digest mode, ack,
 *                                             notmetoo, hide, nodupes,
 *                                             language, name
 *                               do=password   a new password (Argon2id)
 *                               do=address    a change of address, on
 *                                             this list or every list,
 *                                             confirmed by the new one
 *                               do=unsubscribe
 *
 * Who may: the member themself (a member session of LIST for ADDR), or
 * an owner of LIST or the site administrator acting for them.  A
 * moderator may not: Mailman 2.1 let only the list's admin password
 * change a member's options.  A member session covers one list; "all my
 * lists" offers a login link for the others.
 *
 * Every change goes through the library as the command line's does:
 * roster_edit under the list lock (one edit for the whole options form,
 * so it is one committed change), unsubscribe_request under
 * unsubscribe_policy, subscribe_change_address.  The checks the command
 * line makes are made here too: a digest mode the list allows
 * (digestable, nondigestable), the digest owed to a member who leaves
 * digest mode (digest_owe_last).  A successful POST answers 303 back to
 * the page (so a reload does not post again) with done=WHAT, which picks
 * one of the fixed notices below: nothing from the query reaches the page.
 */
#include "web/pages.h"
#include "base/base.h"
#include "base/log.h"
#include "digest/digest.h"
#include "list/roster.h"
#include "list/subscribe.h"
#include "mail/address.h"
#include "web/memberview.h"

#include <string.h>

#define NAME_MAX_CHARS 200

/* The member options of Mailman's page that are the member's to set
 * (mod is the moderators'). */
static const struct {
	const char *name;
	const char *label;
} flags[] = {
	{ "ack", "Get an acknowledgement when you post to the list" },
	{ "notmetoo", "Do not get copies of your own posts" },
	{ "hide", "Hide your address from the list's roster" },
	{ "nodupes", "Do not get a copy of a post you are addressed in "
		     "already" },
};

static const struct {
	const char *done;
	const char *notice;
} notices[] = {
	{ "options", "Your options were saved." },
	{ "password", "Your password was changed." },
	{ "address", "A message asking to confirm the change is on its way to "
		     "the new address." },
};

/* What a request may do for member addr of l: the member themself, or
 * an owner (or the site admin) acting for them. */
static gboolean may_act(struct web_request *rq, struct list *l,
			const char *addr, gboolean *owner_r)
{
	const struct web_session *s = rq->session;
	gboolean owner = session_may(s, WEB_ROLE_OWNER, list_fqdn(l));
	if (owner_r)
		*owner_r = owner;
	return owner || (session_may(s, WEB_ROLE_MEMBER, list_fqdn(l)) &&
			 s->role == WEB_ROLE_MEMBER &&
			 address_equal(s->address, addr));
}

/* The path of member addr's page ("options/LIST/ADDR", encoded), under
 * the base path when full. */
static char *member_path(struct web_request *rq, struct list *l,
			 const char *addr, gboolean full)
{
	char *ea = view_url_part(addr);
	char *path = web_list_path(rq, "options", l, ea);
	g_free(ea);
	if (full)
		return path;
	char *rel = g_strdup(path + strlen(rq->base_path));
	g_free(path);
	return rel;
}

/* --- the page ------------------------------------------------------------ */

static JsonObject *choice(const char *value, const char *label, gboolean on)
{
	JsonObject *o = json_object_new();
	json_object_set_string_member(o, "value", value);
	json_object_set_string_member(o, "label", label);
	json_object_set_boolean_member(o, "checked", on);
	json_object_set_boolean_member(o, "selected", on);
	return o;
}

static const char *status_note(const struct memberview_entry *m)
{
	switch (m->status) {
	case STATUS_BY_OWNER:
		return "The list's owner turned your delivery off; only an "
		       "owner can turn it back on.";
	case STATUS_BY_BOUNCE:
		return "Delivery was turned off because mail to your address "
		       "bounced. Tick the box to turn it back on.";
	default:
		return NULL;
	}
}

/* The lists of the site member addr is on, with how this session may
 * reach each: its options, or a login link. */
static JsonArray *all_lists(struct web_request *rq, struct list *here,
			    const char *addr)
{
	JsonArray *a = json_array_new();
	GPtrArray *names = list_all(rq->site, NULL);
	char *login = g_strconcat(rq->base_path, "login", NULL);
	for (guint i = 0; names && i < names->len; i++) {
		gboolean is_here = !strcmp(names->pdata[i], list_fqdn(here));
		struct list *l = is_here ? here
			: list_open(rq->site, names->pdata[i], NULL);
		struct memberview *v = l ? memberview_get(l, NULL) : NULL;
		struct memberview_entry found;
		const struct memberview_entry *m =
			v ? memberview_find(v, addr, &found) : NULL;
		if (m) {
			JsonObject *o = json_object_new();
			char *real_name = list_get(l, "real_name", NULL);
			char *url = member_path(rq, l, m->addr, TRUE);
			json_object_set_string_member(o, "fqdn", list_fqdn(l));
			json_object_set_string_member(o, "real_name", real_name);
			json_object_set_string_member(o, "email", m->addr);
			json_object_set_string_member(o, "url", url);
			json_object_set_boolean_member(o, "here", is_here);
			json_object_set_boolean_member(o, "covered",
				may_act(rq, l, m->addr, NULL));
			json_object_set_string_member(o, "login_action", login);
			json_array_add_object_element(a, o);
			g_free(url);
			g_free(real_name);
		}
		memberview_unref(&v);
		if (!is_here)
			list_free(&l);
	}
	if (names)
		g_ptr_array_free(names, TRUE);
	g_free(login);
	return a;
}

static void options_show(struct web_request *rq, struct web_response *rs,
			 struct list *l, const struct memberview_entry *m,
			 gboolean owner, unsigned status, const char *error)
{
	/* The member's own language, when they chose one herald has. */
	if (!owner && m->language[0] && view_language_known(m->language)) {
		g_free(rq->lang);
		rq->lang = g_strdup(m->language);
	}
	const char *lang = rq->lang;
	JsonObject *o = web_page_data(rq);
	json_object_set_string_member(o, "title",
				      view_translate(lang, "Your subscription"));
	json_object_set_object_member(o, "list", web_list_data(rq, l));
	JsonObject *mo = json_object_new();
	json_object_set_string_member(mo, "address", m->addr);
	json_object_set_string_member(mo, "name", m->name);
	json_object_set_boolean_member(mo, "delivery",
				       m->status == STATUS_ENABLED);
	const char *note = status_note(m);
	if (note)
		json_object_set_string_member(mo, "status_note",
					      view_translate(lang, note));
	json_object_set_object_member(o, "member", mo);

	/* Each mode the list allows, and the member's own whatever it is. */
	gboolean digestable = list_get_bool(l, "digestable");
	gboolean nondigestable = list_get_bool(l, "nondigestable");
	static const struct {
		enum member_mode mode;
		const char *label;
	} modes[] = {
		{ MODE_REGULAR, "Each post as it is sent" },
		{ MODE_MIME_DIGEST, "Digests, as MIME (each post an attachment)" },
		{ MODE_PLAIN_DIGEST, "Digests, as plain text" },
	};
	JsonArray *ma = json_array_new();
	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		gboolean allowed = modes[i].mode == MODE_REGULAR
			? nondigestable : digestable;
		if (allowed || m->mode == modes[i].mode)
			json_array_add_object_element(ma, choice(
				member_mode_name(modes[i].mode),
				view_translate(lang, modes[i].label),
				m->mode == modes[i].mode));
	}
	json_object_set_array_member(o, "modes", ma);

	JsonArray *fa = json_array_new();
	for (guint i = 0; i < G_N_ELEMENTS(flags); i++) {
		JsonObject *f = choice(flags[i].name,
				       view_translate(lang, flags[i].label),
				       (m->options &
					member_option_bit(flags[i].name)) != 0);
		json_object_set_string_member(f, "name", flags[i].name);
		json_array_add_object_element(fa, f);
	}
	json_object_set_array_member(o, "flags", fa);

	static const char *const languages[][2] = {
		{ "", "The list's language" }, { "en", "English" },
		{ "de", "Deutsch" },
	};
	JsonArray *la = json_array_new();
	for (guint i = 0; i < G_N_ELEMENTS(languages); i++)
		if (list_language_available(l, languages[i][0]) ||
		    !strcmp(m->language, languages[i][0]))
			json_array_add_object_element(la, choice(languages[i][0],
			view_translate(lang, languages[i][1]),
			!strcmp(m->language, languages[i][0])));
	json_object_set_array_member(o, "languages", la);

	json_object_set_array_member(o, "lists", all_lists(rq, l, m->addr));
	json_object_set_boolean_member(o, "acting_for", owner);
	json_object_set_boolean_member(o, "approve_unsub",
		!owner && list_get_int(l, "unsubscribe_policy") == 1);
	char *action = member_path(rq, l, m->addr, TRUE);
	json_object_set_string_member(o, "action", action);
	g_free(action);
	const char *done = web_query(rq, "done");
	for (guint i = 0; done && !error && i < G_N_ELEMENTS(notices); i++)
		if (!strcmp(done, notices[i].done))
			json_object_set_string_member(o, "notice",
				view_translate(lang, notices[i].notice));
	if (error)
		json_object_set_string_member(o, "error",
					      view_translate(lang, error));
	web_page(rq, rs, status, "options", o);
}

/* --- the changes --------------------------------------------------------- */

/* What the options form asks, checked before the lock is taken. */
struct options_form {
	const char *addr;
	gboolean owner;		/* an owner acts (may turn delivery on
				 * after an owner turned it off) */
	gboolean delivery;
	int mode;
	unsigned options;	/* of the flags above */
	const char *language;
	const char *name;
	const char *error;	/* set by the edit: what the member may not */
};

/* The record of member addr as it is under the lock, to change: 0, or
 * -1 when the member left meanwhile. */
static int member_now(const struct roster *r, const char *addr,
		      struct member *m_r, GError **error)
{
	const struct member *cur = roster_find(r, addr);
	if (!cur) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
			    "%s is not a member", addr);
		return -1;
	}
	*m_r = *cur;
	return 0;
}

static int edit_options(const struct roster *r, struct roster_change *c,
			void *ctx, GError **error)
{
	struct options_form *f = ctx;
	struct member m;
	if (member_now(r, f->addr, &m, error) < 0)
		return -1;
	if (f->delivery && m.status != STATUS_ENABLED) {
		if (m.status == STATUS_BY_OWNER && !f->owner) {
			f->error = "The list's owner turned your delivery off; "
				   "only an owner can turn it back on.";
			return 0;
		}
		m.status = STATUS_ENABLED;
		m.status_time = now_usec() / G_USEC_PER_SEC;
		m.status_reason = "";
		/* Like roster_reenable: the bounce score starts afresh. */
		memset(&m.bounce, 0, sizeof m.bounce);
		m.bounce.reason = "";
	} else if (!f->delivery && m.status == STATUS_ENABLED) {
		m.status = f->owner ? STATUS_BY_OWNER : STATUS_BY_USER;
		m.status_time = now_usec() / G_USEC_PER_SEC;
		m.status_reason = f->owner ? "set by an owner on the web"
					   : "set by the member on the web";
	}
	m.mode = f->mode;
	for (guint i = 0; i < G_N_ELEMENTS(flags); i++)
		m.options &= ~member_option_bit(flags[i].name);
	m.options |= f->options;
	m.language = (char *)f->language;
	m.name = (char *)f->name;
	roster_change_put(c, &m);
	return 0;
}

/* A display name: UTF-8, one line, no control characters, not too
 * long. */
static gboolean name_ok(const char *name)
{
	if (!g_utf8_validate(name, -1, NULL) ||
	    g_utf8_strlen(name, -1) > NAME_MAX_CHARS)
		return FALSE;
	for (const char *p = name; *p; p = g_utf8_next_char(p))
		if (g_unichar_iscntrl(g_utf8_get_char(p)))
			return FALSE;
	return TRUE;
}

/* The options form: NULL when done, else what is wrong (English). */
static const char *post_options(struct web_request *rq, struct list *l,
				const struct memberview_entry *m, gboolean owner,
				GError **error)
{
	const char *mode_name = web_form(rq, "mode");
	const char *language = web_form(rq, "language");
	const char *name = web_form(rq, "name");
	struct options_form f = {
		.addr = m->addr, .owner = owner,
		.delivery = web_form(rq, "delivery") != NULL,
		.mode = mode_name ? member_mode_parse(mode_name) : (int)m->mode,
		.language = language ? language : m->language,
		.name = name ? name : m->name,
	};
	if (f.mode < 0)
		return "That is not a way of receiving the posts.";
	if (*f.language && !view_language_known(f.language))
		return "That language is not one herald has.";
	/* available_languages; the one the member has stays choosable. */
	if (strcmp(f.language, m->language) && !list_language_available(l, f.language))
		return "That language is not one the list offers.";
	if (!name_ok(f.name))
		return "The name must be one line of at most 200 characters.";
	for (guint i = 0; i < G_N_ELEMENTS(flags); i++)
		if (web_form(rq, flags[i].name))
			f.options |= member_option_bit(flags[i].name);
	if (f.mode != (int)m->mode) {
		if (f.mode == MODE_REGULAR ? !list_get_bool(l, "nondigestable")
					   : !list_get_bool(l, "digestable"))
			return f.mode == MODE_REGULAR
				? "This list sends its posts only as digests."
				: "This list has no digests.";
		/* Leaving digest mode: the digest under way is still owed
		 * (Mailman 2.1), recorded before the mode changes. */
		if (f.mode == MODE_REGULAR &&
		    digest_owe_last(l, m->addr, (enum member_mode)m->mode,
				    error) < 0)
			return "";
	}
	if (roster_edit(l, edit_options, &f, error) < 0)
		return "";
	if (!f.error)
		log_info(WEB_SUBSYS, "list %s: options of %s changed by %s",
			 list_fqdn(l), m->addr, owner ? "an owner" : "the member");
	return f.error;
}

struct password_form {
	const char *addr;
	char *hash;
};

static int edit_password(const struct roster *r, struct roster_change *c,
			 void *ctx, GError **error)
{
	struct password_form *f = ctx;
	struct member m;
	if (member_now(r, f->addr, &m, error) < 0)
		return -1;
	m.password = f->hash;
	roster_change_put(c, &m);
	return 0;
}

static const char *post_password(struct web_request *rq, struct list *l,
				 const struct memberview_entry *m, GError **error)
{
	const char *pw = web_form(rq, "pw"), *pw2 = web_form(rq, "pw2");
	if (!pw || !*pw)
		return "Type the new password.";
	if (g_strcmp0(pw, pw2))
		return "The two passwords differ.";
	/* Hashed before the lock: Argon2id takes its time on purpose. */
	struct password_form f = { m->addr, member_password_hash(pw, error) };
	if (!f.hash)
		return "";
	int r = roster_edit(l, edit_password, &f, error);
	g_free(f.hash);
	if (r < 0)
		return "";
	log_info(WEB_SUBSYS, "list %s: password of %s changed", list_fqdn(l),
		 m->addr);
	return NULL;
}

static const char *post_address(struct web_request *rq, struct list *l,
				const struct memberview_entry *m, gboolean owner,
				GError **error)
{
	const char *to = web_form(rq, "new_address");
	char *norm = to ? address_normalise(to, NULL) : NULL;
	if (!norm)
		return "That is not an email address.";
	gboolean same = address_equal(norm, m->addr);
	g_free(norm);
	if (same)
		return "That is your address already.";
	int r = subscribe_change_address(l, m->addr, to,
					 web_form(rq, "all_lists") != NULL,
					 owner ? "admin" : m->addr, "web",
					 NULL, error);
	switch (r) {
	case SUBSCRIBE_CONFIRM:
		log_info(WEB_SUBSYS, "list %s: %s asked to change address",
			 list_fqdn(l), m->addr);
		return NULL;
	case SUBSCRIBE_ALREADY:
		return "The new address is a member of this list already.";
	case SUBSCRIBE_BANNED:
		return "The new address may not subscribe to this list.";
	case SUBSCRIBE_NOT_MEMBER:
		return "The address is no longer a member.";
	default:
		return "";
	}
}

static void post_unsubscribe(struct web_request *rq, struct web_response *rs,
			     struct list *l, const struct memberview_entry *m,
			     gboolean owner)
{
	if (!web_form(rq, "confirm")) {
		options_show(rq, rs, l, m, owner, 400, "Tick the box to say "
			     "you want to leave the list.");
		return;
	}
	/* The session proves the address (its password, or a login link
	 * sent to it): the member's password_ok.  An owner removes at
	 * once, as on the command line. */
	struct subscribe_request r = {
		.address = m->addr, .requester = owner ? "admin" : m->addr,
		.via = "web", .admin = owner,
		.welcome = SUBSCRIBE_LIST_DEFAULT,
	};
	GError *error = NULL;
	int outcome = unsubscribe_request(l, &r, TRUE, NULL, &error);
	if (outcome < 0) {
		log_error(WEB_SUBSYS, "list %s: unsubscribing %s: %s",
			  list_fqdn(l), m->addr, error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "Please try again later.");
		return;
	}
	log_info(WEB_SUBSYS, "list %s: unsubscription of %s from %s: %s",
		 list_fqdn(l), m->addr, rq->client,
		 subscribe_outcome_text(outcome));
	JsonObject *o = web_page_data(rq);
	json_object_set_string_member(o, "title",
				      view_translate(rq->lang, "Unsubscribe"));
	JsonArray *p = json_array_new();
	char *text = view_fill(rq->lang, outcome == SUBSCRIBE_APPROVE
		? "The unsubscription of {} from {} waits for a moderator's "
		  "approval."
		: "{} is no longer subscribed to {}.", m->addr, list_fqdn(l),
		NULL);
	json_array_add_string_element(p, text);
	g_free(text);
	json_object_set_array_member(o, "paragraphs", p);
	JsonObject *link = json_object_new();
	char *url = web_list_path(rq, "listinfo", l, NULL);
	json_object_set_string_member(link, "href", url);
	json_object_set_string_member(link, "text", view_translate(rq->lang,
		"The list's page"));
	g_free(url);
	json_object_set_object_member(o, "link", link);
	web_page(rq, rs, 200, "message", o);
}

static void options_post(struct web_request *rq, struct web_response *rs,
			 struct list *l, const struct memberview_entry *m,
			 gboolean owner)
{
	const char *what = web_form(rq, "do");
	const char *wrong;
	GError *error = NULL;
	if (!g_strcmp0(what, "unsubscribe")) {
		post_unsubscribe(rq, rs, l, m, owner);
		return;
	}
	if (!g_strcmp0(what, "options"))
		wrong = post_options(rq, l, m, owner, &error);
	else if (!g_strcmp0(what, "password"))
		wrong = post_password(rq, l, m, &error);
	else if (!g_strcmp0(what, "address"))
		wrong = post_address(rq, l, m, owner, &error);
	else
		wrong = "There is no such change.";
	if (error) {
		log_error(WEB_SUBSYS, "list %s: options of %s: %s",
			  list_fqdn(l), m->addr, error->message);
		int code = error->code;
		g_error_free(error);
		if (code == HERALD_ERR_NOTFOUND) {
			web_error(rq, rs, 404, "There is no such member.");
			return;
		}
		if (code != HERALD_ERR_INVALID) {
			web_error(rq, rs, 503, "Please try again later.");
			return;
		}
		wrong = !g_strcmp0(what, "address")
			? "That is not an email address."
			: "That change could not be made.";
	}
	if (wrong) {
		options_show(rq, rs, l, m, owner, 400, wrong);
		return;
	}
	char *path = member_path(rq, l, m->addr, FALSE);
	char *to = g_strconcat(path, "?done=", what, NULL);
	web_redirect(rq, rs, to);
	g_free(to);
	g_free(path);
}

/* --- the routes ---------------------------------------------------------- */

/* /options/LIST: the login, or on to the session's member, or (an
 * owner) a form to pick a member. */
static void options_list(struct web_request *rq, struct web_response *rs,
			 struct list *l)
{
	const struct web_session *s = rq->session;
	const char *email = web_query(rq, "email");
	if (session_may(s, WEB_ROLE_MEMBER, list_fqdn(l)) &&
	    s->role == WEB_ROLE_MEMBER && *s->address) {
		char *path = member_path(rq, l, s->address, FALSE);
		web_redirect(rq, rs, path);
		g_free(path);
		return;
	}
	if (!session_may(s, WEB_ROLE_OWNER, list_fqdn(l))) {
		(void)web_require(rq, rs, WEB_ROLE_MEMBER, l);
		return;
	}
	char *addr = email ? address_normalise(email, NULL) : NULL;
	if (addr) {
		char *path = member_path(rq, l, addr, FALSE);
		web_redirect(rq, rs, path);
		g_free(path);
		g_free(addr);
		return;
	}
	JsonObject *o = web_page_data(rq);
	json_object_set_string_member(o, "title", view_translate(rq->lang,
		"A member's options"));
	json_object_set_object_member(o, "list", web_list_data(rq, l));
	char *action = web_list_path(rq, "options", l, NULL);
	json_object_set_string_member(o, "action", action);
	g_free(action);
	if (email)
		json_object_set_string_member(o, "error", view_translate(
			rq->lang, "That is not an email address."));
	web_page(rq, rs, email ? 400 : 200, "options-find", o);
}

static void options_member(struct web_request *rq, struct web_response *rs,
			   struct list *l, const char *segment)
{
	char *addr = address_normalise(segment, NULL);
	gboolean owner = FALSE;
	struct memberview *v = NULL;
	GError *error = NULL;
	struct memberview_entry found;
	const struct memberview_entry *m = NULL;
	if (!addr) {
		web_error(rq, rs, 404, "There is no such member.");
		goto out;
	}
	if (!may_act(rq, l, addr, &owner)) {
		/* A member of this list looking at someone else: no login
		 * helps.  Anyone else may log in as the member. */
		if (session_may(rq->session, WEB_ROLE_MEMBER, list_fqdn(l)))
			web_error(rq, rs, 403, "You may see and change only "
				  "your own options.");
		else
			(void)web_require(rq, rs, WEB_ROLE_MEMBER, l);
		goto out;
	}
	if (!(v = memberview_get(l, &error))) {
		log_error(WEB_SUBSYS, "list %s: %s", list_fqdn(l),
			  error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "Please try again later.");
		goto out;
	}
	if (!(m = memberview_find(v, addr, &found)))
		web_error(rq, rs, 404, "There is no such member.");
	else if (!web_is_post(rq))
		options_show(rq, rs, l, m, owner, 200, NULL);
	else if (web_check_csrf(rq, rs))
		options_post(rq, rs, l, m, owner);
out:
	memberview_unref(&v);
	g_free(addr);
}

static void options_page(struct web_request *rq, struct web_response *rs)
{
	struct list *l = web_list_arg(rq, rs, 1);
	if (!l)
		return;
	if (rq->nsegments == 2 && !web_is_post(rq))
		options_list(rq, rs, l);
	else if (rq->nsegments == 3)
		options_member(rq, rs, l, web_segment(rq, 2));
	else
		web_error(rq, rs, 404, "There is no such page.");
	list_free(&l);
}

const struct web_route web_routes_options[] = {
	{ "options", options_page },
	{ NULL, NULL },
};
