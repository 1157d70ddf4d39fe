/*
 * page_members.c - a list owner's roster pages, and the hook that hands
 * the moderation pages (page_held.c) their paths under admin/LIST/.
 *
 *     GET  /admin/LIST/members?q=&start=&per=   the roster,
 *                                 admin_member_chunksize (50) or 100 a
 *                                 page, searched by a substring of the
 *                                 address or the name
 *     GET  /admin/LIST/members/ADDR             one member's options
 *     POST /admin/LIST/members/ADDR             do=save: name, mode,
 *                                 delivery, the option bits; do=remove
 *     GET  /admin/LIST/members/mass             mass subscribe form
 *     POST /admin/LIST/members/mass             what (subscribe,
 *                                 unsubscribe, invite), addresses (one a
 *                                 line), notify (default, yes, no): one
 *                                 result a line
 *     /admin/LIST/held..., /admin/LIST/requests...   page_held.c
 *
 * Owners only (the site admin too).  Every change goes through the same
 * calls as `herald members`: roster_edit for a member's options,
 * subscribe_request / unsubscribe_request with admin set and
 * subscribe_invite for the mass forms, so bans, welcomes, goodbyes and
 * the owners' notices follow the list's settings as on the command line.
 *
 * The roster page at 100,000 members: a slice of the list's view
 * (memberview.h), the per-process cache of rosters, built by a scan of
 * the roster only when it changed; a search is one pass over the view's
 * case-folded text.  A member's own page and every change read the
 * roster itself (roster_find by bisection, cheap).
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

#define PER_PAGE_MAX 100	/* the form's "100 a page" */
#define CHUNK_MAX 1000		/* admin_member_chunksize's cap on a page */
/* Lines a mass form takes in one request: each address is one locked
 * roster change (about 0.4 ms) plus its notices, so 2,000 finish in a
 * few seconds; more are refused with a message to split them. */
#define MASS_MAX 2000

/* --- the admin pages' frame (shared with page_held.c) ------------------- */

JsonObject *web_admin_page_data(struct web_request *rq, struct list *l,
				const char *tab, const char *title)
{
	static const struct { const char *tab, *label; enum web_role role; }
	tabs[] = {
		{ "", "Settings", WEB_ROLE_OWNER },
		{ "members", "Members", WEB_ROLE_OWNER },
		{ "members/mass", "Mass subscription", WEB_ROLE_OWNER },
		{ "held", "Held posts", WEB_ROLE_MODERATOR },
		{ "requests", "Requests", WEB_ROLE_MODERATOR },
	};
	JsonObject *o = web_page_data(rq);
	JsonObject *d = web_list_data(rq, l);
	json_object_set_string_member(o, "title",
				      view_translate(rq->lang, title));
	json_object_set_object_member(o, "list", d);
	JsonArray *a = json_array_new();
	for (guint i = 0; i < G_N_ELEMENTS(tabs); i++) {
		if (!session_may(rq->session, tabs[i].role, list_fqdn(l)))
			continue;
		JsonObject *t = json_object_new();
		char *url = web_list_path(rq, "admin", l,
					  *tabs[i].tab ? tabs[i].tab : NULL);
		json_object_set_string_member(t, "url", url);
		json_object_set_string_member(
			t, "label", view_translate(rq->lang, tabs[i].label));
		json_object_set_boolean_member(t, "current",
					       !strcmp(tab, tabs[i].tab));
		json_array_add_object_element(a, t);
		g_free(url);
	}
	json_object_set_array_member(o, "tabs", a);
	return o;
}

/* A notice (translated) or an error (already in the page's language). */
void web_admin_say(JsonObject *o, const char *notice, const char *error)
{
	if (notice)
		json_object_set_string_member(o, "notice", notice);
	if (error)
		json_object_set_string_member(o, "error", error);
}

char *web_admin_time(int64_t t)
{
	GDateTime *d = g_date_time_new_from_unix_utc(t);
	char *s = d ? g_date_time_format(d, "%Y-%m-%d %H:%M UTC")
		    : g_strdup("");
	if (d)
		g_date_time_unref(d);
	return s;
}

/* --- the roster page ---------------------------------------------------- */

static const char *mode_label(int mode)
{
	static const char *const labels[] = { "each post", "MIME digest",
					      "plain digest" };
	return mode >= 0 && mode < 3 ? labels[mode] : "";
}

static const char *status_label(int status)
{
	static const char *const labels[] = { "enabled", "off (by the member)",
					      "off (by an owner)",
					      "off (bounces)" };
	return status >= 0 && status < 4 ? labels[status] : "";
}

static guint number_arg(const char *s, guint fallback)
{
	char *end = NULL;
	guint64 v = s && *s ? g_ascii_strtoull(s, &end, 10) : 0;
	/* Bounded well below overflow: start + per must stay a number. */
	return s && *s && !*end && v <= 1000000000 ? (guint)v : fallback;
}

/* A row of the roster; prefix is the members' pages' path, ending in '/'. */
static JsonObject *row_data(struct web_request *rq, const char *prefix,
			    const struct memberview_entry *e)
{
	JsonObject *m = json_object_new();
	const char *addr = e->addr;
	char *opts = member_options_format(e->options & ~OPT_MODERATE);
	char *part = view_url_part(addr);
	char *murl = g_strconcat(prefix, part, NULL);
	json_object_set_string_member(m, "address", addr);
	json_object_set_string_member(m, "name", e->name);
	json_object_set_string_member(m, "url", murl);
	json_object_set_string_member(m, "mode", view_translate(
					      rq->lang, mode_label(e->mode)));
	json_object_set_string_member(m, "delivery", view_translate(
					      rq->lang, status_label(e->status)));
	json_object_set_boolean_member(m, "off", e->status != STATUS_ENABLED);
	json_object_set_boolean_member(m, "moderated",
				       (e->options & OPT_MODERATE) != 0);
	json_object_set_string_member(m, "options", opts);
	g_free(opts);
	g_free(part);
	g_free(murl);
	return m;
}

/* The pager's link to the page starting at start. */
static char *page_link(struct web_request *rq, struct list *l,
		       const char *q, guint start, guint per)
{
	char *url = web_list_path(rq, "admin", l, "members");
	char *eq = view_url_part(q);
	char *link = g_strdup_printf("%s?q=%s&per=%u&start=%u", url, eq, per,
				     start);
	g_free(url);
	g_free(eq);
	return link;
}

static void roster_page(struct web_request *rq, struct web_response *rs,
			struct list *l)
{
	GError *error = NULL;
	struct memberview *v = memberview_get(l, &error);
	if (!v) {
		log_error(WEB_SUBSYS, "list %s: roster: %s", list_fqdn(l),
			  error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "Please try again later.");
		return;
	}
	const char *q = web_query(rq, "q");
	if (!q || !g_utf8_validate(q, -1, NULL))
		q = "";
	/* Mailman's admin_member_chunksize, or 100 when the form asks. */
	guint chunk = (guint)CLAMP(list_get_int(l, "admin_member_chunksize"), 1,
				   CHUNK_MAX);
	guint per = number_arg(web_query(rq, "per"), chunk);
	if (per != PER_PAGE_MAX)
		per = chunk;
	guint start = number_arg(web_query(rq, "start"), 0);
	JsonArray *rows = json_array_new();
	guint total = 0;
	char *prefix = web_list_path(rq, "admin", l, "members/");
	char *needle = g_strstrip(g_strdup(q));
	struct memberview_entry e;
	if (!*needle) {
		/* Without a search the page is a slice of the view; past the
		 * end, the last page. */
		total = v->count;
		if (start >= total)
			start = total ? (total - 1) / per * per : 0;
		for (guint i = start; i < total && i < start + per; i++)
			json_array_add_object_element(rows, row_data(
				rq, prefix, memberview_at(v, FALSE, i, &e)));
	} else {
		GArray *page = g_array_new(FALSE, FALSE, sizeof(guint));
		total = memberview_search(v, needle, start, per, page);
		for (guint i = 0; i < page->len; i++)
			json_array_add_object_element(rows, row_data(
				rq, prefix, memberview_at(
					v, FALSE, g_array_index(page, guint, i),
					&e)));
		g_array_free(page, TRUE);
	}
	JsonObject *o = web_admin_page_data(rq, l, "members", "Members");
	json_object_set_array_member(o, "members", rows);
	json_object_set_string_member(o, "q", needle);
	json_object_set_boolean_member(o, "per100", per == PER_PAGE_MAX);
	char *count = g_strdup_printf("%u", total);
	char *all = g_strdup_printf("%u", v->count);
	char *first = g_strdup_printf("%u", total ? MIN(start + 1, total) : 0);
	char *last = g_strdup_printf("%u", MIN(start + per, total));
	char *shown = *needle
		? view_fill(rq->lang, "{} to {} of {} members matching, of {}",
			    first, last, count, all, NULL)
		: view_fill(rq->lang, "{} to {} of {} members", first, last,
			    all, NULL);
	json_object_set_string_member(o, "shown", shown);
	if (start > 0) {
		char *prev = page_link(rq, l, needle, start > per
				       ? start - per : 0, per);
		json_object_set_string_member(o, "prev_url", prev);
		g_free(prev);
	}
	if (start + per < total) {
		char *next = page_link(rq, l, needle, start + per, per);
		json_object_set_string_member(o, "next_url", next);
		g_free(next);
	}
	char *action = web_list_path(rq, "admin", l, "members");
	json_object_set_string_member(o, "action", action);
	web_page(rq, rs, 200, "members", o);
	g_free(action);
	g_free(count);
	g_free(all);
	g_free(first);
	g_free(last);
	g_free(shown);
	g_free(needle);
	g_free(prefix);
	memberview_unref(&v);
}

/* --- one member ----------------------------------------------------------- */

static const char *const option_names[] = { "ack", "notmetoo", "hide",
					    "nodupes", "mod" };
static const char *const option_labels[] = {
	"Acknowledge their posts", "Not their own posts",
	"Hidden from the roster", "No duplicates of posts they got",
	"Their posts are moderated",
};

/* What the owner's form asks for one member. */
struct member_form {
	const char *addr;
	const char *name;
	int mode;		/* -1: unchanged */
	int enable;		/* 1 on, 0 off, -1 unchanged */
	unsigned options;
};

static int member_save(const struct roster *r, struct roster_change *c,
		       void *ctx, GError **error)
{
	const struct member_form *f = ctx;
	const struct member *cur = roster_find(r, f->addr);
	if (!cur) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
			    "%s is not a member", f->addr);
		return -1;
	}
	struct member m = *cur;
	m.name = (char *)f->name;
	if (f->mode >= 0)
		m.mode = f->mode;
	if (f->enable == 1 && m.status != STATUS_ENABLED) {
		m.status = STATUS_ENABLED;
		m.status_reason = "";
		m.status_time = g_get_real_time() / G_USEC_PER_SEC;
	} else if (f->enable == 0 && m.status == STATUS_ENABLED) {
		m.status = STATUS_BY_OWNER;
		m.status_reason = "set by an owner";
		m.status_time = g_get_real_time() / G_USEC_PER_SEC;
	}
	m.options = f->options;
	roster_change_put(c, &m);
	return 0;
}

/* Checks the form against the member m as it is; applies it.  An error
 * text in the page's language, or NULL when saved. */
static char *member_apply(struct web_request *rq, struct list *l,
			  const struct member *m)
{
	struct member_form f = { .addr = m->addr, .mode = -1, .enable = -1 };
	const char *name = web_form(rq, "name");
	f.name = name ? name : "";
	for (const char *p = f.name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return g_strdup(view_translate(rq->lang,
				"A name cannot hold control characters."));
	if (strlen(f.name) > 200 || !g_utf8_validate(f.name, -1, NULL))
		return g_strdup(view_translate(rq->lang,
			"That name is too long or not text."));
	int mode = member_mode_parse(web_form(rq, "mode") ?
				     web_form(rq, "mode") : "");
	if (mode < 0)
		return g_strdup(view_translate(rq->lang,
					       "There is no such mode."));
	if (mode != (int)m->mode) {
		gboolean allowed = mode == MODE_REGULAR
			? list_get_bool(l, "nondigestable")
			: list_get_bool(l, "digestable");
		if (!allowed)
			return g_strdup(view_translate(rq->lang,
				"The list does not offer that mode."));
		f.mode = mode;
	}
	const char *delivery = web_form(rq, "delivery");
	f.enable = !g_strcmp0(delivery, "enabled") ? 1
		 : !g_strcmp0(delivery, "disabled") ? 0 : -1;
	f.options = m->options;
	for (guint i = 0; i < G_N_ELEMENTS(option_names); i++) {
		unsigned bit = member_option_bit(option_names[i]);
		if (web_form(rq, option_names[i]))
			f.options |= bit;
		else
			f.options &= ~bit;
	}
	GError *error = NULL;
	int rc = 0;
	/* A member leaving digests is owed the digest pending now (as
	 * `herald members set` does); one that bounces back on forgets its
	 * bounce record (roster_reenable). */
	if (f.mode == MODE_REGULAR && m->mode != MODE_REGULAR)
		rc = digest_owe_last(l, m->addr, m->mode, &error);
	if (rc == 0 && f.enable == 1 && m->status == STATUS_BY_BOUNCE)
		rc = roster_reenable(l, m->addr, &error) < 0 ? -1 : 0;
	if (rc == 0)
		rc = roster_edit(l, member_save, &f, &error);
	if (rc < 0) {
		log_error(WEB_SUBSYS, "list %s: member %s: %s", list_fqdn(l),
			  m->addr, error->message);
		char *text = view_fill(rq->lang, "Not saved: {}",
				       error->message, NULL);
		g_error_free(error);
		return text;
	}
	log_info(WEB_SUBSYS, "list %s: member %s changed on the web by %s",
		 list_fqdn(l), m->addr, rq->client);
	return NULL;
}

static void member_show(struct web_request *rq, struct web_response *rs,
			struct list *l, const struct member *m,
			const char *notice, const char *error)
{
	JsonObject *o = web_admin_page_data(rq, l, "members", "Member");
	JsonObject *d = json_object_new();
	json_object_set_string_member(d, "address", m->addr);
	json_object_set_string_member(d, "name", m->name);
	JsonArray *modes = json_array_new();
	for (int i = MODE_REGULAR; i <= MODE_PLAIN_DIGEST; i++) {
		JsonObject *x = json_object_new();
		json_object_set_string_member(x, "value", member_mode_name(i));
		json_object_set_string_member(x, "label", view_translate(
						      rq->lang, mode_label(i)));
		json_object_set_boolean_member(x, "selected",
					       i == (int)m->mode);
		json_array_add_object_element(modes, x);
	}
	json_object_set_array_member(d, "modes", modes);
	json_object_set_boolean_member(d, "enabled",
				       m->status == STATUS_ENABLED);
	json_object_set_string_member(d, "status", view_translate(
					      rq->lang, status_label(m->status)));
	json_object_set_string_member(d, "status_reason", m->status_reason);
	JsonArray *opts = json_array_new();
	for (guint i = 0; i < G_N_ELEMENTS(option_names); i++) {
		JsonObject *x = json_object_new();
		json_object_set_string_member(x, "name", option_names[i]);
		json_object_set_string_member(x, "label", view_translate(
						      rq->lang, option_labels[i]));
		json_object_set_boolean_member(
			x, "checked",
			(m->options & member_option_bit(option_names[i])) != 0);
		json_array_add_object_element(opts, x);
	}
	json_object_set_array_member(d, "options", opts);
	char *when = web_admin_time(m->subscribed);
	json_object_set_string_member(d, "subscribed", when);
	g_free(when);
	json_object_set_string_member(d, "language", m->language);
	char *base = web_list_path(rq, "admin", l, NULL);
	char *part = view_url_part(m->addr);
	char *action = g_strconcat(base, "/members/", part, NULL);
	json_object_set_string_member(d, "action", action);
	json_object_set_object_member(o, "member", d);
	web_admin_say(o, notice, error);
	web_page(rq, rs, error ? 400 : 200, "members-one", o);
	g_free(base);
	g_free(part);
	g_free(action);
}

static void member_page(struct web_request *rq, struct web_response *rs,
			struct list *l, const char *arg)
{
	char *addr = address_normalise(arg, NULL);
	struct roster *r = NULL;
	GError *error = NULL;
	const struct member *m = NULL;
	if (addr && roster_load(l, &r, &error) == 0)
		m = roster_find(r, addr);
	if (error) {
		log_error(WEB_SUBSYS, "list %s: roster: %s", list_fqdn(l),
			  error->message);
		g_error_free(error);
		web_error(rq, rs, 503, "Please try again later.");
	} else if (!m) {
		web_error(rq, rs, 404, "There is no such member.");
	} else if (!web_is_post(rq)) {
		member_show(rq, rs, l, m, NULL, NULL);
	} else if (web_check_csrf(rq, rs)) {
		if (!g_strcmp0(web_form(rq, "do"), "remove")) {
			struct subscribe_request sr = {
				.address = m->addr, .requester = "admin",
				.via = "web", .admin = TRUE,
				.welcome = SUBSCRIBE_LIST_DEFAULT,
			};
			int out = unsubscribe_request(l, &sr, TRUE, NULL,
						      &error);
			if (out < 0) {
				web_error(rq, rs, 503, "Please try again later.");
				log_error(WEB_SUBSYS, "list %s: removing %s: %s",
					  list_fqdn(l), m->addr, error->message);
				g_error_free(error);
			} else {
				char *to = web_list_path(rq, "admin", l,
							 "members");
				web_body(rs, 303, "text/plain; charset=utf-8",
					 "", 0);
				web_header(rs, "Location", to);
				g_free(to);
			}
		} else {
			char *err = member_apply(rq, l, m);
			if (err) {
				member_show(rq, rs, l, m, NULL, err);
				g_free(err);
			} else {
				/* Shown as it is now. */
				roster_free(&r);
				if (roster_load(l, &r, NULL) == 0 &&
				    (m = roster_find(r, addr)) != NULL)
					member_show(rq, rs, l, m, view_translate(
						rq->lang, "Saved."), NULL);
				else
					web_error(rq, rs, 404,
						  "There is no such member.");
			}
		}
	}
	roster_free(&r);
	g_free(addr);
}

/* --- mass subscription ------------------------------------------------------ */

static const char *outcome_label(int outcome)
{
	switch (outcome) {
	case SUBSCRIBE_DONE: return "done";
	case SUBSCRIBE_CONFIRM: return "asked to confirm";
	case SUBSCRIBE_APPROVE: return "waits for a moderator";
	case SUBSCRIBE_ALREADY: return "already a member";
	case SUBSCRIBE_NOT_MEMBER: return "not a member";
	case SUBSCRIBE_BANNED: return "banned (ban_list)";
	default: return "not done";
	}
}

static void add_result(struct web_request *rq, JsonArray *results,
		       const char *address, const char *text, gboolean ok)
{
	JsonObject *x = json_object_new();
	json_object_set_string_member(x, "address", address);
	json_object_set_string_member(x, "result", text);
	json_object_set_boolean_member(x, "ok", ok);
	json_array_add_object_element(results, x);
}

/* One address of the mass form: its outcome, or -1 with *error. */
static int mass_one(struct list *l, const char *what,
		    const struct address *a, int notify, GError **error)
{
	struct subscribe_request sr = {
		.address = a->addr, .name = a->name, .requester = "admin",
		.via = "web", .admin = TRUE, .welcome = notify,
	};
	if (!strcmp(what, "invite"))
		return subscribe_invite(l, a->addr, a->name,
					"the list's owner", NULL, error);
	if (!strcmp(what, "unsubscribe"))
		return unsubscribe_request(l, &sr, TRUE, NULL, error);
	return subscribe_request(l, &sr, NULL, error);
}

static void mass_page(struct web_request *rq, struct web_response *rs,
		      struct list *l)
{
	JsonObject *o = web_admin_page_data(rq, l, "members/mass",
					    "Mass subscription");
	char *action = web_list_path(rq, "admin", l, "members/mass");
	json_object_set_string_member(o, "action", action);
	g_free(action);
	char *limit = g_strdup_printf("%d", MASS_MAX);
	char *says = view_fill(rq->lang, "One address a line (\"addr\" or "
			       "\"Name <addr>\"), at most {} at a time.",
			       limit, NULL);
	json_object_set_string_member(o, "limit", says);
	g_free(says);
	g_free(limit);
	if (!web_is_post(rq)) {
		web_page(rq, rs, 200, "members-mass", o);
		return;
	}
	if (!web_check_csrf(rq, rs)) {
		json_object_unref(o);
		return;
	}
	const char *what = web_form(rq, "what");
	const char *text = web_form(rq, "addresses");
	const char *notify = web_form(rq, "notify");
	int welcome = !g_strcmp0(notify, "yes") ? 1
		    : !g_strcmp0(notify, "no") ? 0 : SUBSCRIBE_LIST_DEFAULT;
	if (!what || (strcmp(what, "subscribe") && strcmp(what, "unsubscribe") &&
		      strcmp(what, "invite")) || !text) {
		web_admin_say(o, NULL, view_translate(rq->lang,
			"Choose what to do and give some addresses."));
		web_page(rq, rs, 400, "members-mass", o);
		return;
	}
	char **lines = g_strsplit(text, "\n", -1);
	guint n = 0;
	for (char **p = lines; *p; p++)
		if (*g_strstrip(*p) && **p != '#')
			n++;
	if (n > MASS_MAX) {
		json_object_set_string_member(o, "addresses", text);
		web_admin_say(o, NULL, view_translate(rq->lang,
			"Too many addresses for one go: split them."));
		web_page(rq, rs, 413, "members-mass", o);
		g_strfreev(lines);
		return;
	}
	JsonArray *results = json_array_new();
	guint done = 0, failed = 0;
	gint64 t0 = g_get_monotonic_time();
	for (char **p = lines; *p; p++) {
		if (!**p || **p == '#')
			continue;
		struct address *a = NULL;
		GError *error = NULL;
		if (!g_utf8_validate(*p, -1, NULL) ||
		    address_parse(*p, &a, &error) < 0) {
			add_result(rq, results, *p, view_translate(rq->lang,
				   "not an address"), FALSE);
			g_clear_error(&error);
			failed++;
			continue;
		}
		int out = mass_one(l, what, a, welcome, &error);
		gboolean ok = out == SUBSCRIBE_DONE || out == SUBSCRIBE_CONFIRM;
		if (out < 0) {
			char *t = view_fill(rq->lang, "failed: {}",
					    error->message, NULL);
			add_result(rq, results, a->addr, t, FALSE);
			g_free(t);
			g_error_free(error);
		} else {
			add_result(rq, results, a->addr, view_translate(
					   rq->lang, outcome_label(out)), ok);
		}
		if (ok)
			done++;
		else
			failed++;
		address_free(&a);
	}
	g_strfreev(lines);
	char *sd = g_strdup_printf("%u", done), *sf = g_strdup_printf("%u",
								      failed);
	char *summary = view_fill(rq->lang, "{} done, {} not done.", sd, sf,
				  NULL);
	log_info(WEB_SUBSYS, "list %s: mass %s from %s: %u done, %u not, "
		 "%.1f s", list_fqdn(l), what, rq->client, done, failed,
		 (g_get_monotonic_time() - t0) / 1e6);
	web_admin_say(o, summary, NULL);
	json_object_set_array_member(o, "results", results);
	json_object_set_boolean_member(o, "has_results", TRUE);
	web_page(rq, rs, 200, "members-mass", o);
	g_free(summary);
	g_free(sd);
	g_free(sf);
}

/* --- dispatch --------------------------------------------------------------- */

gboolean web_admin_subpage(struct web_request *rq, struct web_response *rs,
			   struct list *l)
{
	const char *what = web_segment(rq, 2);
	const char *arg = web_segment(rq, 3);
	if (!what)
		return FALSE;
	if (!strcmp(what, "held") || !strcmp(what, "requests")) {
		if (web_require(rq, rs, WEB_ROLE_MODERATOR, l))
			web_moderate_page(rq, rs, l, what, arg);
		return TRUE;
	}
	if (strcmp(what, "members"))
		return FALSE;
	if (!web_require(rq, rs, WEB_ROLE_OWNER, l))
		return TRUE;
	if (rq->nsegments > 4)
		web_error(rq, rs, 404, "There is no such page.");
	else if (!arg || !*arg)
		roster_page(rq, rs, l);
	else if (!strcmp(arg, "mass"))
		mass_page(rq, rs, l);
	else
		member_page(rq, rs, l, arg);
	return TRUE;
}

/* page_admin.c's route for admin/LIST/<members|held|requests>...
 * (web_admin_route_tables, routes.c). */
static void admin_route(struct web_request *rq, struct web_response *rs)
{
	struct list *l = web_list_arg(rq, rs, 1);
	if (!l)
		return;
	if (!web_admin_subpage(rq, rs, l))
		web_error(rq, rs, 404, "There is no such page.");
	list_free(&l);
}

const struct web_route web_admin_routes_moderate[] = {
	{ "members", admin_route },
	{ "held", admin_route },
	{ "requests", admin_route },
	{ NULL, NULL },
};
