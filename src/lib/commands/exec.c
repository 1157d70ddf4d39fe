/*
 * exec.c - the commands of a message to LIST-request, one function each
 * (Mailman 2.1's set, with herald's answers): membership changes go
 * through list/subscribe.h, option changes through roster_edit(), so
 * both are judged on the roster under the list lock.
 *
 * Passwords: a member's own (an Argon2id hash in the roster), or the
 * list's administrator or moderator password, which opens any member's.
 * "set" changes need "set authenticate PASSWORD" earlier in the same
 * message, as in Mailman; "set show" does not.  herald keeps no password
 * in clear, so "password" with no arguments cannot mail one back.
 */
#include "commands/session.h"
#include "base/base.h"
#include "base/log.h"
#include "list/listurls.h"
#include "list/subscribe.h"
#include "list/template.h"
#include "mail/address.h"

#include <string.h>

gboolean
session_admin_password(struct session *s, const char *password)
{
	return password != NULL &&
	       (list_check_password(s->list, "password", password) ||
		list_check_password(s->list, "mod_password", password));
}

gboolean
session_password_ok(struct session *s, const struct member *m,
		    const char *password)
{
	if (password == NULL)
		return FALSE;
	if (m != NULL && member_password_ok(m, password))
		return TRUE;
	return session_admin_password(s, password);
}

/* The member with address addr now (*m_r, to roster_free *r_r after):
 * 1, 0 not a member, -1 error. */
static int
find_member(struct session *s, const char *addr, struct roster **r_r,
	    const struct member **m_r, GError **error)
{
	if (roster_load(s->list, r_r, error) < 0)
		return -1;
	*m_r = roster_find(*r_r, addr);
	return *m_r != NULL;
}

/* An error of the disk stops the message; another is said and logged. */
static int
failed(struct session *s, const char *line, GError **error)
{
	if ((*error)->code == HERALD_ERR_IO)
		return -1;
	session_result(s, line, "%s", (*error)->message);
	g_clear_error(error);
	return 0;
}

/* --- subscribe, unsubscribe ---------------------------------------------- */

static int
exec_subscribe(struct session *s, const struct command *c, GError **error)
{
	const char *addr = c->address != NULL ? c->address : s->sender;
	const struct subscribe_request r = {
		.address = addr,
		.name = c->address != NULL ? NULL : s->sender_name,
		.digest = c->digest == 1, .password = c->password,
		.requester = s->sender, .via = "mail",
		.welcome = SUBSCRIBE_LIST_DEFAULT,
	};
	int o = subscribe_request(s->list, &r, NULL, error);

	if (o < 0)
		return failed(s, c->line, error);
	session_result(s, c->line, "%s: %s.", addr, subscribe_outcome_text(o));
	return 0;
}

static int
exec_unsubscribe(struct session *s, const struct command *c, GError **error)
{
	const char *addr = c->address != NULL ? c->address : s->sender;
	const struct member *m = NULL;
	struct roster *roster = NULL;
	gboolean ok, admin;
	int o;

	if (find_member(s, addr, &roster, &m, error) < 0)
		return failed(s, c->line, error);
	ok = session_password_ok(s, m, c->password);
	admin = session_admin_password(s, c->password);
	roster_free(&roster);
	if (c->password != NULL && !ok) {
		session_result(s, c->line, "The password is wrong.");
		return 0;
	}
	const struct subscribe_request r = {
		.address = addr, .requester = s->sender, .via = "mail",
		.admin = admin, .welcome = SUBSCRIBE_LIST_DEFAULT,
	};
	o = unsubscribe_request(s->list, &r, ok, NULL, error);
	if (o < 0)
		return failed(s, c->line, error);
	session_result(s, c->line, "%s: %s.", addr, subscribe_outcome_text(o));
	return 0;
}

/* --- who, info, lists, help ----------------------------------------------- */

/* Whether the sender may see the roster (private_roster: 0 anyone, 1
 * members with their password, 2 the list's administrators). */
static gboolean
may_see_roster(struct session *s, const struct command *c,
	       const struct roster *r)
{
	int64_t who = list_get_int(s->list, "private_roster");
	const char *addr = c->address != NULL ? c->address : s->sender;

	if (who == 0 || session_admin_password(s, c->password))
		return TRUE;
	return who == 1 && session_password_ok(s, roster_find(r, addr),
					       c->password);
}

static int
exec_who(struct session *s, const struct command *c, GError **error)
{
	struct roster *r = NULL;
	GPtrArray *all;
	GString *out;
	gboolean admin = session_admin_password(s, c->password);

	if (roster_load(s->list, &r, error) < 0)
		return failed(s, c->line, error);
	if (!may_see_roster(s, c, r)) {
		session_result(s, c->line, "The member list of %s is not open "
			       "to you: give your password (who PASSWORD).",
			       list_fqdn(s->list));
		roster_free(&r);
		return 0;
	}
	all = roster_members(r, TRUE);
	out = g_string_new(NULL);
	for (guint i = 0; i < all->len; i++) {
		const struct member *m = all->pdata[i];

		if (admin || !(m->options & OPT_CONCEAL))
			g_string_append_printf(out, "\n    %s%s", m->addr,
					       m->mode != MODE_REGULAR
					       ? " (digest)" : "");
	}
	session_result(s, c->line, "Members of %s:%s", list_fqdn(s->list),
		       out->len > 0 ? out->str : " none you may see.");
	g_string_free(out, TRUE);
	g_ptr_array_free(all, TRUE);
	roster_free(&r);
	return 0;
}

static int
exec_info(struct session *s, const struct command *c, GError **error)
{
	char *description = list_get(s->list, "description", NULL);
	char *info = list_get(s->list, "info", NULL);
	char *post = list_address(s->list, "");
	char *request = list_address(s->list, "-request");
	char *owner = list_address(s->list, "-owner");
	char *url = listurls_listinfo(s->list);

	session_result(s, c->line, "%s%s%s\n    To post:    %s\n    Commands:"
		       "   %s\n    The owners: %s\n    On the web: %s%s%s",
		       list_fqdn(s->list), *description != '\0' ? ": " : "",
		       description, post, request, owner, url,
		       *info != '\0' ? "\n\n" : "", info);
	g_free(description);
	g_free(info);
	g_free(post);
	g_free(request);
	g_free(owner);
	g_free(url);
	return 0;
}

static int
exec_lists(struct session *s, const struct command *c, GError **error)
{
	const char *domain = strrchr(list_fqdn(s->list), '@');
	GPtrArray *names = list_all(s->site, error);
	GString *out;

	if (names == NULL)
		return failed(s, c->line, error);
	out = g_string_new(NULL);
	for (guint i = 0; i < names->len; i++) {
		struct list *l;
		char *description;

		if (!g_str_has_suffix(names->pdata[i], domain) ||
		    (l = list_open(s->site, names->pdata[i], NULL)) == NULL)
			continue;
		if (list_get_bool(l, "advertised")) {
			description = list_get(l, "description", NULL);
			g_string_append_printf(out, "\n    %s%s%s", list_fqdn(l),
					       *description != '\0' ? " - " : "",
					       description);
			g_free(description);
		}
		list_free(&l);
	}
	session_result(s, c->line, "The lists at %s:%s", domain + 1,
		       out->len > 0 ? out->str : " none are advertised.");
	g_string_free(out, TRUE);
	g_ptr_array_free(names, TRUE);
	return 0;
}

static int
exec_help(struct session *s, const struct command *c, GError **error)
{
	struct template_text t;

	if (template_render(s->list, "help", NULL, NULL, &t, error) < 0)
		return failed(s, c->line, error);
	session_result(s, c->line, "%s", t.body);
	template_text_clear(&t);
	return 0;
}

/* --- password, set ------------------------------------------------------- */

/* A change to one member's record, made under the list lock. */
struct member_edit {
	const char *addr;
	const struct command *c;
	char *password_hash;	/* password: the new one */
	gboolean found;
	gboolean owner_disabled;	/* delivery was turned off by an owner */
};

static void
apply_set(struct member *m, const struct command *c)
{
	static const struct {
		enum command_set set;
		unsigned bit;
		gboolean on_sets;	/* "on" sets the bit (else clears it) */
	} bits[] = {
		{ SET_ACK, OPT_ACK, TRUE },
		{ SET_MYPOSTS, OPT_NOTMETOO, FALSE },
		{ SET_HIDE, OPT_CONCEAL, TRUE },
		{ SET_DUPLICATES, OPT_NODUPES, FALSE },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(bits); i++)
		if (bits[i].set == c->set) {
			if ((c->on == 1) == bits[i].on_sets)
				m->options |= bits[i].bit;
			else
				m->options &= ~bits[i].bit;
		}
	if (c->set == SET_DIGEST)
		m->mode = c->digest == 0 ? MODE_REGULAR
			: c->digest == 1 ? MODE_PLAIN_DIGEST : MODE_MIME_DIGEST;
	/* Delivery an owner turned off stays off (Mailman's BYADMIN); the
	 * member's own, or bounce processing's, the member may undo. */
	if (c->set == SET_DELIVERY && m->status != STATUS_BY_OWNER &&
	    (c->on == 1 || m->status == STATUS_ENABLED)) {
		if (c->on == 1 && m->status == STATUS_BY_BOUNCE) {
			/* Back from bounce processing: the score starts
			 * again (Mailman resets the bounce info). */
			memset(&m->bounce, 0, sizeof m->bounce);
			m->bounce.reason = "";
		}
		m->status = c->on == 1 ? STATUS_ENABLED : STATUS_BY_USER;
		m->status_time = now_usec() / 1000000;
		m->status_reason = "";
	}
}

static int
edit_member(const struct roster *r, struct roster_change *change, void *ctx,
	    GError **error)
{
	struct member_edit *e = ctx;
	const struct member *found = roster_find(r, e->addr);
	struct member m;

	if ((e->found = found != NULL) == FALSE)
		return 0;
	m = *found;
	e->owner_disabled = m.status == STATUS_BY_OWNER;
	if (e->password_hash != NULL)
		m.password = e->password_hash;
	else
		apply_set(&m, e->c);
	roster_change_put(change, &m);
	return 0;
}

static int
exec_password(struct session *s, const struct command *c, GError **error)
{
	const char *addr = c->address != NULL ? c->address : s->sender;
	struct member_edit e = { .addr = addr, .c = c };
	const struct member *m = NULL;
	struct roster *r = NULL;
	gboolean ok;

	if (c->password == NULL) {
		session_result(s, c->line, "herald keeps no password in clear, "
			       "so it cannot send you yours.  Set a new one with "
			       "\"password OLD NEW\".");
		return 0;
	}
	if (find_member(s, addr, &r, &m, error) < 0)
		return failed(s, c->line, error);
	ok = m != NULL && session_password_ok(s, m, c->password);
	roster_free(&r);
	if (!ok) {
		session_result(s, c->line, m == NULL ? "%s is not a member."
			       : "The old password is wrong for %s.", addr);
		return 0;
	}
	if ((e.password_hash = member_password_hash(c->new_password, error)) == NULL ||
	    roster_edit(s->list, edit_member, &e, error) < 0) {
		g_free(e.password_hash);
		return failed(s, c->line, error);
	}
	g_free(e.password_hash);
	session_result(s, c->line, e.found ? "The password of %s is changed."
		       : "%s is not a member.", addr);
	return 0;
}

static void
show_options(struct session *s, const struct command *c, const char *addr)
{
	const struct member *m = NULL;
	struct roster *r = NULL;
	GError *e = NULL;

	if (find_member(s, addr, &r, &m, &e) <= 0) {
		session_result(s, c->line, "%s is not a member.", addr);
		g_clear_error(&e);
	} else {
		session_result(s, c->line, "The options of %s:\n"
			       "    ack %s\n    digest %s\n    delivery %s\n"
			       "    myposts %s\n    hide %s\n    duplicates %s",
			       addr, m->options & OPT_ACK ? "on" : "off",
			       m->mode == MODE_REGULAR ? "off"
			       : m->mode == MODE_MIME_DIGEST ? "mime" : "plain",
			       m->status == STATUS_ENABLED ? "on" : "off",
			       m->options & OPT_NOTMETOO ? "off" : "on",
			       m->options & OPT_CONCEAL ? "on" : "off",
			       m->options & OPT_NODUPES ? "off" : "on");
	}
	roster_free(&r);
}

static int
exec_set(struct session *s, const struct command *c, GError **error)
{
	const char *addr = c->address != NULL ? c->address : s->sender;
	struct member_edit e = { .addr = addr, .c = c };
	const struct member *m = NULL;
	struct roster *r = NULL;

	switch (c->set) {
	case SET_HELP:
		session_result(s, c->line, "set authenticate PASSWORD first, "
			       "then: set ack|delivery|myposts|hide|duplicates "
			       "on|off, set digest plain|mime|off; set show "
			       "shows them.");
		return 0;
	case SET_SHOW:
		show_options(s, c, addr);
		return 0;
	case SET_AUTHENTICATE:
		if (find_member(s, addr, &r, &m, error) < 0)
			return failed(s, c->line, error);
		if (session_password_ok(s, m, c->password)) {
			g_free(s->authenticated);
			s->authenticated = g_strdup(addr);
			session_result(s, c->line, "Authenticated as %s.", addr);
		} else {
			session_result(s, c->line, "The password is wrong.");
		}
		roster_free(&r);
		return 0;
	case SET_REMINDERS:
		session_result(s, c->line, "herald sends no password reminders.");
		return 0;
	default:
		break;
	}
	if (s->authenticated == NULL || !address_equal(s->authenticated, addr)) {
		session_result(s, c->line, "Give \"set authenticate PASSWORD\" "
			       "first.");
		return 0;
	}
	if (roster_edit(s->list, edit_member, &e, error) < 0)
		return failed(s, c->line, error);
	if (e.found && c->set == SET_DELIVERY && e.owner_disabled)
		session_result(s, c->line, "Delivery to %s was turned off by the "
			       "list's owner; only they can turn it on.", addr);
	else
		session_result(s, c->line, e.found ? "Done."
			       : "%s is not a member.", addr);
	return 0;
}

int
session_exec(struct session *s, const struct command *c, GError **error)
{
	if (c->usage != NULL) {
		session_result(s, c->line, "%s", c->usage);
		return 0;
	}
	switch (c->kind) {
	case COMMAND_CONFIRM:
		return session_confirm(s, c->line, c->token, error);
	case COMMAND_SUBSCRIBE:
		return exec_subscribe(s, c, error);
	case COMMAND_UNSUBSCRIBE:
		return exec_unsubscribe(s, c, error);
	case COMMAND_WHO:
		return exec_who(s, c, error);
	case COMMAND_INFO:
		return exec_info(s, c, error);
	case COMMAND_LISTS:
		return exec_lists(s, c, error);
	case COMMAND_HELP:
		return exec_help(s, c, error);
	case COMMAND_PASSWORD:
		return exec_password(s, c, error);
	case COMMAND_SET:
	case COMMAND_OPTIONS:
		return exec_set(s, c, error);
	case COMMAND_END:
		break;
	}
	return 0;
}
