/*
 * page_login.c - logging in and out (session.h).
 *
 *     POST /login      role, list, email, password, next: a new session,
 *                      then 303 to next; or the login form again with
 *                      "wrong" (the same words whatever was wrong)
 *     POST /login      with do=link: a member asks for a login link by
 *                      mail (always "sent", whether or not a member)
 *     GET  /login?list=&m=&e=&t=   a login link: a button that POSTs it
 *     POST /logout     ends the session
 *
 * Who checks what: the site administrator by web.admin_password; a
 * list's owner by its password setting (list_check_password), its
 * moderator by mod_password (or password: an owner may moderate); a
 * member by the password in their roster record.  All are Argon2id
 * hashes; nothing is ever compared in clear or logged.
 *
 * Every failure counts against the client's address and against the
 * account (attempts_fail); either over web.login_attempts in
 * web.login_window gets 429 and no password is even checked.
 *
 * A login link binds (list, address, expiry) under the site key
 * (token.h, purpose "login/<expiry>"), lasts LOGIN_LINK_LIFE_S, and works
 * once: its first use creates web/used/<hash of the token> (O_EXCL), and
 * a second use finds it.  The web service sweeps old ones (session.h).
 *
 * Pages that need a login call web_require (pages.h): it answers with
 * the login form for the role and returns FALSE when the session may not.
 */
#include "web/pages.h"
#include "base/base.h"
#include "base/log.h"
#include "list/list_settings.h"
#include "list/roster.h"
#include "list/template.h"
#include "list/token.h"
#include "mail/address.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#define LOGIN_LINK_LIFE_S 3600

static const char wrong[] =
	"The address or password is wrong, or that account may not do this.";

/* next must be one of this site's paths: under the base path, no scheme,
 * no "//" (another host), no backslash (browsers read it as '/'). */
static gboolean next_ok(struct web_request *rq, const char *next)
{
	return next && g_str_has_prefix(next, rq->base_path) &&
	       !strstr(next, "//") && !strchr(next, '\\') &&
	       !strpbrk(next, "\r\n") && g_utf8_validate(next, -1, NULL);
}

static const char *role_label(enum web_role r)
{
	switch (r) {
	case WEB_ROLE_SITE: return "Site administrator";
	case WEB_ROLE_OWNER: return "List owner";
	case WEB_ROLE_MODERATOR: return "List moderator";
	default: return "Member";
	}
}

static void login_form(struct web_request *rq, struct web_response *rs,
		       unsigned status, enum web_role role, const char *list,
		       const char *next, const char *error)
{
	JsonObject *o = web_page_data(rq);
	json_object_set_string_member(o, "title", view_translate(rq->lang,
		role == WEB_ROLE_MEMBER ? "Your subscription" : "Log in"));
	if (list)
		json_object_set_string_member(o, "list", list);
	if (error)
		json_object_set_string_member(o, "error",
					      view_translate(rq->lang, error));
	char *action = g_strconcat(rq->base_path, "login", NULL);
	json_object_set_string_member(o, "action", action);
	g_free(action);
	json_object_set_boolean_member(o, "ask_address",
				       role == WEB_ROLE_MEMBER);
	json_object_set_boolean_member(o, "email_link",
				       role == WEB_ROLE_MEMBER);
	const char *addr = web_form(rq, "email");
	json_object_set_string_member(o, "address", addr ? addr : "");
	JsonArray *roles = json_array_new();
	if (role == WEB_ROLE_OWNER || role == WEB_ROLE_MODERATOR) {
		for (int r = WEB_ROLE_MODERATOR; r <= WEB_ROLE_OWNER; r++) {
			JsonObject *ro = json_object_new();
			json_object_set_string_member(ro, "value",
						      web_role_name(r));
			json_object_set_string_member(ro, "label",
				view_translate(rq->lang, role_label(r)));
			json_object_set_boolean_member(ro, "checked",
						       r == (int)role);
			json_array_add_object_element(roles, ro);
		}
	}
	json_object_set_boolean_member(o, "has_roles",
				       json_array_get_length(roles) > 0);
	json_object_set_array_member(o, "roles", roles);
	JsonArray *fields = json_array_new();
	const char *names[] = { "list", "next", "role" };
	const char *values[] = { list ? list : "", next ? next : "",
				 web_role_name(role) };
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		if (i == 2 && json_array_get_length(roles))
			continue;
		JsonObject *f = json_object_new();
		json_object_set_string_member(f, "name", names[i]);
		json_object_set_string_member(f, "value", values[i]);
		json_array_add_object_element(fields, f);
	}
	json_object_set_array_member(o, "fields", fields);
	web_page(rq, rs, status, "login", o);
}

gboolean web_require(struct web_request *rq, struct web_response *rs,
		     enum web_role role, struct list *l)
{
	if (session_may(rq->session, role, l ? list_fqdn(l) : NULL))
		return TRUE;
	/* Back here after the login: this very path. */
	GString *next = g_string_new(rq->base_path);
	for (guint i = 0; i < rq->nsegments; i++) {
		char *seg = view_url_part(rq->segments[i]);
		g_string_append_printf(next, "%s%s", i ? "/" : "", seg);
		g_free(seg);
	}
	login_form(rq, rs, rq->session ? 403 : 401, role,
		   l ? list_fqdn(l) : NULL, next->str,
		   rq->session ? "Your login may not do this: log in as "
				 "someone who may." : NULL);
	g_string_free(next, TRUE);
	return FALSE;
}

/* The account a login is counted against. */
static char *account_key(const char *role, const char *list,
			 const char *addr)
{
	char *k = address_key(addr ? addr : "");
	char *key = g_strdup_printf("account\n%s\n%s\n%s", role, list, k);
	g_free(k);
	return key;
}

/* The site administrator's hash made again at herald's parameters. */
static void site_password_rehash(struct site *site, const char *password)
{
	GError *error = NULL;
	char *hash = member_password_hash(password, &error);
	if (!hash || site_set(site, "web.admin_password", hash, &error) < 0) {
		log_warning(WEB_SUBSYS, "the site administrator's password "
			    "matched but could not be rehashed: %s",
			    error->message);
		g_error_free(error);
	}
	g_free(hash);
}

static gboolean password_ok(struct web_request *rq, enum web_role role,
			    struct list *l, const char *addr,
			    const char *password)
{
	if (role == WEB_ROLE_SITE) {
		char *hash = site_get(rq->site, "web.admin_password", NULL);
		gboolean ok = hash && *hash &&
			list_password_verify(hash, password);
		if (ok && list_password_needs_rehash(hash))
			site_password_rehash(rq->site, password);
		g_free(hash);
		return ok;
	}
	if (!l)
		return FALSE;
	if (role == WEB_ROLE_OWNER)
		return list_check_password(l, "password", password);
	if (role == WEB_ROLE_MODERATOR)
		return list_check_password(l, "mod_password", password) ||
		       list_check_password(l, "password", password);
	struct roster *r = NULL;
	gboolean ok = FALSE;
	if (addr && roster_load(l, &r, NULL) == 0) {
		const struct member *m = roster_find(r, addr);
		ok = m && member_password_ok(m, password);
		if (ok)
			member_password_rehash(l, m, password);
	}
	roster_free(&r);
	return ok;
}

/* The language a member's pages take: their own, else the list's. */
static char *member_language(struct web_request *rq, const char *list,
			     const char *addr)
{
	struct list *l = list_open(rq->site, list, NULL);
	struct roster *r = NULL;
	char *lang = NULL;
	if (l && roster_load(l, &r, NULL) == 0) {
		const struct member *m = roster_find(r, addr);
		if (m && m->language[0])
			lang = g_strdup(m->language);
	}
	if (l && !lang)
		lang = list_get(l, "preferred_language", NULL);
	roster_free(&r);
	list_free(&l);
	return lang;
}

static void start_session(struct web_request *rq, struct web_response *rs,
			  enum web_role role, const char *list,
			  const char *addr, const char *next)
{
	GError *error = NULL;
	if (rq->session)
		session_destroy(rq->site, rq->session);
	char *lang = role == WEB_ROLE_MEMBER
		? member_language(rq, list, addr) : NULL;
	struct web_session *s = session_create(rq->site, role, list, addr,
					       lang, &error);
	g_free(lang);
	if (!s) {
		log_error(WEB_SUBSYS, "cannot store a session: %s",
			  error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "Please try again later.");
		return;
	}
	log_info(WEB_SUBSYS, "login: %s%s%s%s%s from %s", web_role_name(role),
		 list && *list ? " of " : "", list ? list : "",
		 addr && *addr ? " " : "", addr ? addr : "", rq->client);
	char *cookie = session_cookie(s, rq->base_path, rq->https);
	web_body(rs, 303, "text/plain; charset=utf-8", "", 0);
	web_header(rs, "Set-Cookie", cookie);
	web_header(rs, "Location", next_ok(rq, next) ? next : rq->base_path);
	g_free(cookie);
	session_free(&s);
}

/* The login link for a member of l, valid until expires. */
static char *login_link(struct web_request *rq, struct list *l,
			const char *addr, int64_t expires, GError **error)
{
	char *purpose = g_strdup_printf("login/%" G_GINT64_FORMAT, expires);
	char *token = token_make(rq->site, list_fqdn(l), addr, purpose, error);
	g_free(purpose);
	if (!token)
		return NULL;
	char *base = site_get(rq->site, "web.base_url", NULL);
	char *el = view_url_part(list_fqdn(l)), *ea = view_url_part(addr);
	char *url = g_strdup_printf("%slogin?list=%s&m=%s&e=%" G_GINT64_FORMAT
				    "&t=%s", base && *base ? base : "/", el, ea,
				    expires, token);
	g_free(el);
	g_free(ea);
	g_free(base);
	g_free(token);
	return url;
}

static void send_login_link(struct web_request *rq, struct web_response *rs,
			    struct list *l, const char *addr)
{
	struct roster *r = NULL;
	GError *error = NULL;
	const struct member *m = NULL;
	if (roster_load(l, &r, &error) == 0)
		m = roster_find(r, addr);
	g_clear_error(&error);
	if (m) {
		int64_t expires = g_get_real_time() / G_USEC_PER_SEC +
				  LOGIN_LINK_LIFE_S;
		char *url = login_link(rq, l, m->addr, expires, &error);
		GHashTable *vars = template_vars_for_list(l);
		template_vars_set(vars, "email", m->addr);
		template_vars_take(vars, "loginurl", url);
		const char *to[] = { m->addr, NULL };
		if (!url || template_send(l, to, "loginlink",
					  m->language[0] ? m->language : NULL,
					  vars, NULL, TRUE, &error) < 0) {
			log_error(WEB_SUBSYS, "list %s: login link for %s: %s",
				  list_fqdn(l), m->addr,
				  error ? error->message : "no link");
			g_clear_error(&error);
		}
		g_hash_table_unref(vars);
	}
	roster_free(&r);
	/* The same answer for members and strangers. */
	JsonObject *o = web_page_data(rq);
	json_object_set_string_member(o, "title", view_translate(rq->lang,
						"Your subscription"));
	JsonArray *p = json_array_new();
	json_array_add_string_element(p, view_translate(rq->lang,
		"If the address is a member of the list, a login link is on "
		"its way to it. It works once, for an hour."));
	json_object_set_array_member(o, "paragraphs", p);
	web_page(rq, rs, 200, "message", o);
}

/* A login link's token, used once: 1 now used, 0 used before, -1. */
static int mark_used(struct web_request *rq, const char *token)
{
	char *hex = g_compute_checksum_for_string(G_CHECKSUM_SHA256, token, -1);
	char *dir = site_path(rq->site, "web", "used", NULL);
	char *path = g_build_filename(dir, hex, NULL);
	int rc = -1;
	if (fs_mkdir_p(dir, 0700, NULL) == 0) {
		int fd = fs_open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			char *line = g_strdup_printf(
				"expires=%" G_GINT64_FORMAT "\n",
				g_get_real_time() / G_USEC_PER_SEC +
				LOGIN_LINK_LIFE_S);
			(void)fs_write_all(fd, line, strlen(line), path, NULL);
			g_free(line);
			close(fd);
			rc = 1;
		} else {
			rc = errno == EEXIST ? 0 : -1;
		}
	}
	g_free(path);
	g_free(dir);
	g_free(hex);
	return rc;
}

static void link_login(struct web_request *rq, struct web_response *rs)
{
	const char *list = web_query(rq, "list"), *m = web_query(rq, "m");
	const char *e = web_query(rq, "e"), *t = web_query(rq, "t");
	int64_t expires = e ? g_ascii_strtoll(e, NULL, 10) : 0;
	char *purpose = g_strdup_printf("login/%" G_GINT64_FORMAT, expires);
	int ok = list && m && t && expires > g_get_real_time() / G_USEC_PER_SEC
		? token_verify(rq->site, list, m, purpose, t, NULL) : 0;
	g_free(purpose);
	if (ok != 1) {
		web_error(rq, rs, 403, "This login link is not valid, or it "
			  "has expired: ask for a new one.");
		return;
	}
	if (!web_is_post(rq)) {
		JsonObject *o = web_page_data(rq);
		json_object_set_string_member(o, "title", view_translate(
						      rq->lang, "Log in"));
		char *what = view_fill(rq->lang, "Log in to your options "
				       "for {} as {}?", list, m, NULL);
		json_object_set_string_member(o, "what", what);
		g_free(what);
		json_object_set_string_member(o, "button", view_translate(
						      rq->lang, "Log in"));
		GString *action = g_string_new(rq->base_path);
		g_string_append(action, "login?");
		const char *keys[] = { "list", "m", "e", "t" };
		for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
			char *v = view_url_part(web_query(rq, keys[i]));
			g_string_append_printf(action, "%s%s=%s", i ? "&" : "",
					       keys[i], v);
			g_free(v);
		}
		json_object_set_string_member(o, "action", action->str);
		g_string_free(action, TRUE);
		web_page(rq, rs, 200, "confirm", o);
		return;
	}
	if (!web_check_csrf(rq, rs))
		return;
	int used = mark_used(rq, t);
	if (used != 1) {
		web_error(rq, rs, used < 0 ? 503 : 403, used < 0
			  ? "Please try again later."
			  : "This login link was used already: ask for a new "
			    "one.");
		return;
	}
	char *ea = view_url_part(m), *el = view_url_part(list);
	char *next = g_strdup_printf("%soptions/%s/%s", rq->base_path, el, ea);
	start_session(rq, rs, WEB_ROLE_MEMBER, list, m, next);
	g_free(next);
	g_free(ea);
	g_free(el);
}

static void login_page(struct web_request *rq, struct web_response *rs)
{
	if (!web_is_post(rq) || web_query(rq, "t")) {
		link_login(rq, rs);
		return;
	}
	if (!web_check_csrf(rq, rs))
		return;
	const char *role_name = web_form(rq, "role");
	const char *list = web_form(rq, "list");
	const char *email = web_form(rq, "email");
	const char *password = web_form(rq, "password");
	const char *next = web_form(rq, "next");
	int role = -1;
	for (int r = WEB_ROLE_MEMBER; r <= WEB_ROLE_SITE; r++)
		if (!g_strcmp0(role_name, web_role_name(r)))
			role = r;
	if (role < 0) {
		web_error(rq, rs, 400, "There is no such kind of login.");
		return;
	}
	struct list *l = NULL;
	if (role != WEB_ROLE_SITE && list && *list)
		l = list_open(rq->site, list, NULL);
	if (role != WEB_ROLE_SITE && !l) {
		web_error(rq, rs, 404, "There is no such list.");
		return;
	}
	char *addr = role == WEB_ROLE_MEMBER && email
		? address_normalise(email, NULL) : NULL;
	const char *fqdn = l ? list_fqdn(l) : "";
	if (role == WEB_ROLE_MEMBER && !g_strcmp0(web_form(rq, "do"), "link")) {
		if (addr)
			send_login_link(rq, rs, l, addr);
		else
			login_form(rq, rs, 400, role, fqdn, next,
				   "That is not an email address.");
		g_free(addr);
		list_free(&l);
		return;
	}
	char *client_key = g_strconcat("client\n", rq->client, NULL);
	char *acct = account_key(role_name, fqdn, addr);
	if (attempts_blocked(rq->site, client_key) ||
	    attempts_blocked(rq->site, acct)) {
		log_info(WEB_SUBSYS, "login refused: too many failures (%s, "
			 "%s%s)", rq->client, role_name,
			 l ? list_fqdn(l) : "");
		login_form(rq, rs, 429, role, fqdn, next,
			   "Too many failed logins: wait a while and try "
			   "again.");
	} else if (!password || !*password ||
		   (role == WEB_ROLE_MEMBER && !addr) ||
		   !password_ok(rq, role, l, addr, password)) {
		attempts_fail(rq->site, client_key);
		attempts_fail(rq->site, acct);
		log_info(WEB_SUBSYS, "failed login: %s%s%s from %s", role_name,
			 *fqdn ? " of " : "", fqdn, rq->client);
		login_form(rq, rs, 403, role, fqdn, next, wrong);
	} else {
		start_session(rq, rs, role, fqdn, addr, next);
	}
	g_free(client_key);
	g_free(acct);
	g_free(addr);
	list_free(&l);
}

static void logout_page(struct web_request *rq, struct web_response *rs)
{
	if (!web_is_post(rq)) {
		web_error(rq, rs, 405, "That method is not allowed here.");
		return;
	}
	if (!web_check_csrf(rq, rs))
		return;
	if (rq->session)
		session_destroy(rq->site, rq->session);
	char *cookie = session_cookie(NULL, rq->base_path, rq->https);
	web_body(rs, 303, "text/plain; charset=utf-8", "", 0);
	web_header(rs, "Set-Cookie", cookie);
	web_header(rs, "Location", rq->base_path);
	g_free(cookie);
}

const struct web_route web_routes_login[] = {
	{ "login", login_page },
	{ "logout", logout_page },
	{ NULL, NULL },
};
