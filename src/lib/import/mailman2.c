/*
 * mailman2.c - a Mailman 2.1 site into herald: `herald import mailman2`.
 *
 * For each lists/NAME/config.pck (read by pickle.h, never by Python):
 * the list is made as NAME@host_name in a staging var dir (stage.c); every
 * setting of herald's table is taken from Mailman's attribute of the same
 * name, converted (seconds to days, text to lines, the charset of the
 * list's language to UTF-8), and every attribute not taken is reported
 * with its reason; the members with their modes, options, delivery
 * status, bounce info, language, name and password (Mailman keeps them in
 * clear: hashed with Argon2id here); the list passwords, which Mailman
 * keeps as SHA-1 hex, stored as "$sha1$HEX", which list_check_password
 * accepts once and replaces by an Argon2id hash.  The archive: the mbox
 * archives/private/NAME.mbox/NAME.mbox imported into the empty archive,
 * which numbers its messages in mbox order from 0 as Pipermail did; then
 * each of Pipermail's pages archives/private/NAME/PERIOD/NNNNNN.html is
 * looked for at the same path in herald's tree, and each missing one is
 * reported.  Held posts and requests waiting for a moderator:
 * mm_requests.c.
 */
#include "import/import-private.h"
#include "import/pickle.h"
#include "archive/archive.h"
#include "base/base.h"
#include "list/list_settings.h"
#include "list/roster.h"
#include "mail/address.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Mailman 2.1's member option bits (Defaults.py). */
#define MM_DISABLE_DELIVERY 1
#define MM_NOTMETOO 2
#define MM_ACK 4
#define MM_PLAIN_DIGEST 8
#define MM_CONCEAL 16
#define MM_MODERATE 128
#define MM_NODUPES 256

/* Mailman 2.1's delivery statuses (MemberAdaptor.py). */
enum { MM_ENABLED, MM_UNKNOWN, MM_BYUSER, MM_BYADMIN, MM_BYBOUNCE };

/* The charsets of Mailman 2.1's languages whose byte strings are not
 * Latin-1 (its LC_DESCRIPTIONS). */
static const struct { const char *lang, *charset; } charsets[] = {
	{ "el", "iso-8859-7" }, { "ru", "koi8-r" }, { "uk", "utf-8" },
	{ "ja", "euc-jp" }, { "ko", "euc-kr" }, { "zh_CN", "utf-8" },
	{ "zh_TW", "big5" }, { "cs", "iso-8859-2" }, { "hr", "iso-8859-2" },
	{ "hu", "iso-8859-2" }, { "pl", "iso-8859-2" }, { "ro", "utf-8" },
	{ "sk", "utf-8" }, { "sl", "iso-8859-2" }, { "sr", "utf-8" },
	{ "tr", "iso-8859-9" }, { "lt", "iso-8859-13" }, { "ar", "utf-8" },
	{ "fa", "utf-8" }, { "he", "utf-8" }, { "vi", "utf-8" },
	{ "eo", "utf-8" }, { "hy", "utf-8" }, { "ia", "utf-8" },
};

/* Why Mailman attributes herald has no setting for are not carried. */
static const struct { const char *prefix, *why; } not_carried[] = {
	{ "web_page_url", "herald's URLs come from the site setting web.base_url "
	  "(the rewrite rules send the old ones there)" },
	{ "volume", "digest volumes start again at 1" },
	{ "next_digest_number", "digest volumes start again at 1" },
	{ "digest_last_sent_at", "digest volumes start again at 1" },
	{ "one_last_digest", "a last digest owed is not carried: the digest "
	  "pending at the move is not imported" },
	{ "admin_responses", "herald keeps its own autoresponse records "
	  "(they start empty)" },
	{ "postings_responses", "herald keeps its own autoresponse records "
	  "(they start empty)" },
	{ "request_responses", "herald keeps its own autoresponse records "
	  "(they start empty)" },
	{ "hold_and_cmd_autoresponses", "herald keeps its own autoresponse "
	  "records (they start empty)" },
	{ "next_request_id", "held posts and requests are kept aside, not "
	  "numbered" },
	{ "data_version", "Mailman's own format number" },
	{ "next_post_number", "unused by Mailman 2.1" },
};

/* Attributes that are the roster or counters, not settings. */
static const char *const roster_keys[] = {
	"members", "digest_members", "user_options", "passwords", "language",
	"usernames", "delivery_status", "bounce_info", "post_id",
	"last_post_time", "created_at", "usenet_watermark",
	"topics_userinterest", NULL,
};


static const char *
lang_charset(const char *lang)
{
	for (size_t i = 0; i < G_N_ELEMENTS(charsets); i++)
		if (strcmp(charsets[i].lang, lang) == 0)
			return charsets[i].charset;
	return NULL;
}

static char *
text(struct import_mm *m, const struct pickle_node *n)
{
	return pickle_text(n, m->charset);
}

static gboolean
is_sha1_hex(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!g_ascii_isxdigit(s[i]))
			return FALSE;
	return i == 40;
}

/* header_filter_rules: Mailman's [(patterns, action, empty)] to herald's
 * "ACTION REGEX" lines, one a pattern line.  Mailman's actions (mm_cfg):
 * 0 defer (no rule), 1 approve and 6 accept, 2 reject, 3 discard, 7 hold;
 * 4 and 5 (subscribe, unsubscribe) are not filters. */
static char *
header_rules(struct import_mm *m, const struct pickle_node *v, char **why_r)
{
	static const char *const names[] = {
		NULL, "accept", "reject", "discard", NULL, NULL, "accept", "hold",
	};
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < v->items->len; i++) {
		const struct pickle_node *r = v->items->pdata[i];
		int64_t action = -1;
		char *pat, **lines;

		if (r->type != PK_TUPLE || r->items->len < 2 ||
		    !pickle_int(r->items->pdata[1], &action) || action < 0 ||
		    action > 7 || (action != 0 && names[action] == NULL) ||
		    (pat = text(m, r->items->pdata[0])) == NULL) {
			*why_r = g_strdup_printf("rule %u is not (patterns, accept|"
						 "hold|reject|discard)", i + 1);
			g_string_free(out, TRUE);
			return NULL;
		}
		lines = g_strsplit(pat, "\n", -1);
		for (char **l = lines; action != 0 && *l != NULL; l++)
			if (*g_strstrip(*l) != '\0')
				g_string_append_printf(out, "%s%s %s", out->len ? "\n" : "",
						       names[action], *l);
		g_strfreev(lines);
		g_free(pat);
	}
	return g_string_free(out, FALSE);
}

/* Mailman's value of a setting as herald's text, or NULL with the reason
 * in *why_r. */
static char *
convert(struct import_mm *m, const struct list_setting *s,
	const struct pickle_node *v, char **why_r)
{
	int64_t n;
	char *t;

	if (v->type == PK_NONE)
		return g_strdup("");
	switch (s->type) {
	case LS_BOOL:
		if (!pickle_int(v, &n))
			break;
		return g_strdup(n ? "yes" : "no");
	case LS_INT:
	case LS_ENUM:
		if (!pickle_int(v, &n))
			break;
		/* Mailman counts these in seconds, herald in days. */
		if (strcmp(s->name, "bounce_info_stale_after") == 0 ||
		    strcmp(s->name, "bounce_you_are_disabled_warnings_interval") == 0)
			n = (n + 86399) / 86400;
		return g_strdup_printf("%" G_GINT64_FORMAT, n);
	case LS_STRING:
	case LS_TEXT:
		return text(m, v);
	case LS_PASSWORD:
		if ((t = text(m, v)) == NULL)
			break;
		if (*t == '\0' || is_sha1_hex(t)) {
			char *r = *t == '\0' ? g_strdup("")
					     : g_strdup_printf("$sha1$%s", t);
			g_free(t);
			return r;
		}
		return t;	/* in clear (post_password): hashed by list_set */
	case LS_LIST:
		if (strcmp(s->name, "header_filter_rules") == 0 && v->type == PK_LIST)
			return header_rules(m, v, why_r);
		if (v->type == PK_LIST || v->type == PK_TUPLE) {
			GString *out = g_string_new(NULL);
			for (guint i = 0; i < v->items->len; i++) {
				if ((t = text(m, v->items->pdata[i])) == NULL) {
					g_string_free(out, TRUE);
					*why_r = g_strdup("an item is not a string");
					return NULL;
				}
				g_string_append_printf(out, "%s%s", i ? "\n" : "", t);
				g_free(t);
			}
			return g_string_free(out, FALSE);
		}
		/* acceptable_aliases, bounce_matching_headers: a text, one
		 * item a line, '#' lines comments. */
		if ((t = text(m, v)) != NULL) {
			char **lines = g_strsplit(t, "\n", -1);
			GString *out = g_string_new(NULL);
			for (char **l = lines; *l != NULL; l++) {
				char *x = g_strstrip(*l);
				if (*x != '\0' && *x != '#')
					g_string_append_printf(out, "%s%s",
							       out->len ? "\n" : "", x);
			}
			g_strfreev(lines);
			g_free(t);
			return g_string_free(out, FALSE);
		}
		break;
	}
	t = pickle_repr(v);
	*why_r = g_strdup_printf("Mailman's value %.60s is not a %s", t,
				 list_setting_type_name(s->type));
	g_free(t);
	return NULL;
}

static void
not_carried_line(struct import_mm *m, const char *key, const char *why)
{
	g_string_append_printf(m->report, "  not carried: %s: %s\n", key, why);
	m->t->not_carried++;
}

/* Every attribute of config.pck: a setting carried (into l, unless a dry
 * run), the roster, or a line saying why not. */
static int
carry_settings(struct import_mm *m, struct list *l, GError **error)
{
	const GPtrArray *items = m->cfg->items;

	for (guint i = 0; i + 1 < items->len; i += 2) {
		char *key = pickle_text(items->pdata[i], NULL);
		const struct pickle_node *v = items->pdata[i + 1];
		const struct list_setting *s;
		char *value, *why = NULL;
		GError *local = NULL;

		if (key == NULL)
			continue;
		if (g_strv_contains(roster_keys, key)) {
			g_free(key);
			continue;
		}
		if ((s = list_setting_find(key)) == NULL) {
			const char *reason = "herald has no such setting";
			for (size_t k = 0; k < G_N_ELEMENTS(not_carried); k++)
				if (not_carried[k].why != NULL &&
				    g_str_has_prefix(key, not_carried[k].prefix))
					reason = not_carried[k].why;
			not_carried_line(m, key, reason);
			g_free(key);
			continue;
		}
		if ((value = convert(m, s, v, &why)) == NULL) {
			not_carried_line(m, key, why);
			g_free(why);
			g_free(key);
			continue;
		}
		if (l != NULL) {
			int r;
			if (s->type == LS_PASSWORD && g_str_has_prefix(value, "$sha1$")) {
				char *kf = g_strdup_printf("[%s]\n%s=%s\n", s->category,
							   key, value);
				r = list_import(l, kf, &local);
				g_free(kf);
			} else {
				r = list_set(l, key, value, &local);
			}
			if (r < 0) {
				not_carried_line(m, key, local->message);
				g_clear_error(&local);
				g_free(value);
				g_free(key);
				continue;
			}
		}
		m->t->settings++;
		g_free(value);
		g_free(key);
	}
	(void)error;
	return 0;
}

/* The epoch seconds of UTC midnight of a Mailman (y, m, d) tuple; 0 for
 * none or Mailman's "never" (1970). */
static int64_t
day_of(const struct pickle_node *t)
{
	int64_t y, mo, d;
	GDateTime *dt;
	int64_t out;

	if (t == NULL || t->type != PK_TUPLE || t->items->len < 3 ||
	    !pickle_int(t->items->pdata[0], &y) || !pickle_int(t->items->pdata[1], &mo) ||
	    !pickle_int(t->items->pdata[2], &d) || y <= 1970)
		return 0;
	if ((dt = g_date_time_new_utc((int)y, (int)mo, (int)d, 0, 0, 0)) == NULL)
		return 0;
	out = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return out;
}

static unsigned
herald_options(int64_t mm)
{
	return (mm & MM_ACK ? OPT_ACK : 0) | (mm & MM_NOTMETOO ? OPT_NOTMETOO : 0) |
	       (mm & MM_CONCEAL ? OPT_CONCEAL : 0) |
	       (mm & MM_MODERATE ? OPT_MODERATE : 0) |
	       (mm & MM_NODUPES ? OPT_NODUPES : 0);
}

/* One member from the attributes Mailman keeps per address key. */

/* A member's topics_userinterest (a list of topic names) as herald keeps
 * them: comma-separated; a name with a comma in it cannot be kept (herald
 * separates names by commas) and is left out. */
static char *
topic_choices(struct import_mm *m, const struct pickle_node *names)
{
	GString *out = g_string_new(NULL);

	for (guint i = 0; names != NULL && names->type == PK_LIST &&
	     i < names->items->len; i++) {
		char *name = text(m, names->items->pdata[i]);

		if (name != NULL && *name != '\0' && strchr(name, ',') == NULL)
			g_string_append_printf(out, "%s%s", out->len > 0 ? "," : "",
					       name);
		g_free(name);
	}
	return g_string_free(out, FALSE);
}

static int
member_of(struct import_mm *m, const struct pickle_node *key_node,
	  const struct pickle_node *addr_node, gboolean digest,
	  const char *list_lang, struct member *mb, GError **error)
{
	const struct pickle_node *cfg = m->cfg, *n;
	char *key = text(m, key_node);
	int64_t opts = 0, st;

	memset(mb, 0, sizeof *mb);
	/* members[key] is 0 when the address is the key, else the address
	 * as the member wrote it. */
	mb->addr = addr_node->type == PK_BYTES || addr_node->type == PK_UNICODE
		 ? text(m, addr_node) : g_strdup(key);
	if (key == NULL || mb->addr == NULL) {
		g_free(key);
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "a member whose address is not a string");
		return -1;
	}
	pickle_int(pickle_get(pickle_get(cfg, "user_options"), key), &opts);
	mb->options = herald_options(opts);
	mb->mode = !digest ? MODE_REGULAR
		 : opts & MM_PLAIN_DIGEST ? MODE_PLAIN_DIGEST : MODE_MIME_DIGEST;
	mb->name = text(m, pickle_get(pickle_get(cfg, "usernames"), key));
	if (mb->name == NULL)
		mb->name = g_strdup("");
	mb->language = text(m, pickle_get(pickle_get(cfg, "language"), key));
	if (mb->language == NULL || strcmp(mb->language, list_lang) == 0) {
		g_free(mb->language);
		mb->language = g_strdup("");
	}
	mb->status = STATUS_ENABLED;
	mb->status_reason = g_strdup("");
	n = pickle_get(pickle_get(cfg, "delivery_status"), key);
	if (n != NULL && n->type == PK_TUPLE && n->items->len >= 1 &&
	    pickle_int(n->items->pdata[0], &st)) {
		int64_t when = 0;
		if (n->items->len >= 2)
			pickle_int(n->items->pdata[1], &when);
		mb->status_time = when;
		mb->status = st == MM_BYUSER ? STATUS_BY_USER
			   : st == MM_BYADMIN ? STATUS_BY_OWNER
			   : st == MM_BYBOUNCE ? STATUS_BY_BOUNCE
			   : st == MM_UNKNOWN ? STATUS_BY_OWNER : STATUS_ENABLED;
		if (st == MM_UNKNOWN) {
			g_free(mb->status_reason);
			mb->status_reason = g_strdup("disabled in Mailman 2.1 (reason unknown)");
		}
	} else if (opts & MM_DISABLE_DELIVERY) {
		mb->status = STATUS_BY_USER;
	}
	mb->bounce.reason = g_strdup("");
	n = pickle_get(pickle_get(cfg, "bounce_info"), key);
	if (n != NULL && n->type == PK_OBJECT && n->state != NULL) {
		const struct pickle_node *s = n->state;
		int64_t left = 0;
		mb->bounce.score = pickle_get(s, "score") != NULL &&
				   pickle_get(s, "score")->type == PK_FLOAT
				 ? pickle_get(s, "score")->f : 0;
		if (pickle_get(s, "score") != NULL &&
		    pickle_get(s, "score")->type == PK_INT)
			mb->bounce.score = (double)pickle_get(s, "score")->i;
		mb->bounce.last = day_of(pickle_get(s, "date"));
		mb->bounce.last_notice = day_of(pickle_get(s, "lastnotice"));
		pickle_int(pickle_get(s, "noticesleft"), &left);
		mb->bounce.notices_left = (int)left;
	}
	mb->topics = topic_choices(m, pickle_get(pickle_get(cfg, "topics_userinterest"), key));
	mb->subscribed = now_usec() / 1000000;
	/* The clear password, hashed later by carry_members (in parallel:
	 * each Argon2id hash takes 64 MiB and tens of milliseconds). */
	mb->password = text(m, pickle_get(pickle_get(cfg, "passwords"), key));
	if (mb->password == NULL)
		mb->password = g_strdup("");
	mb->key = address_key(mb->addr);
	g_free(key);
	return 0;
}

static void
member_clear(struct member *mb)
{
	g_free(mb->key);
	g_free(mb->addr);
	g_free(mb->name);
	g_free(mb->status_reason);
	g_free(mb->language);
	g_free(mb->password);
	g_free(mb->bounce.reason);
	g_free(mb->topics);
	memset(mb, 0, sizeof *mb);
}

struct hash_job {
	struct member *mb;
	GError *error;
};

static void
hash_one(gpointer data, gpointer user)
{
	struct hash_job *j = data;
	char *h = member_password_hash(j->mb->password, &j->error);

	(void)user;
	g_free(j->mb->password);
	j->mb->password = h != NULL ? h : g_strdup("");
}

/* Replaces each member's clear password by its Argon2id hash, one thread
 * a processor. */
static int
hash_passwords(GArray *members, GError **error)
{
	GArray *jobs = g_array_new(FALSE, TRUE, sizeof(struct hash_job));
	GThreadPool *pool;
	int ret = 0;

	for (guint i = 0; i < members->len; i++) {
		struct member *mb = &g_array_index(members, struct member, i);
		if (*mb->password != '\0') {
			struct hash_job j = { mb, NULL };
			g_array_append_val(jobs, j);
		}
	}
	pool = g_thread_pool_new(hash_one, NULL, (gint)g_get_num_processors(),
				 FALSE, NULL);
	for (guint i = 0; i < jobs->len; i++)
		g_thread_pool_push(pool, &g_array_index(jobs, struct hash_job, i), NULL);
	g_thread_pool_free(pool, FALSE, TRUE);
	for (guint i = 0; i < jobs->len; i++) {
		struct hash_job *j = &g_array_index(jobs, struct hash_job, i);
		if (j->error != NULL && ret == 0) {
			g_propagate_error(error, j->error);
			ret = -1;
		} else if (j->error != NULL) {
			g_error_free(j->error);
		}
	}
	g_array_free(jobs, TRUE);
	return ret;
}

static int
carry_members(struct import_mm *m, struct list *l, const char *list_lang,
	      GError **error)
{
	static const char *const kinds[] = { "members", "digest_members" };
	GArray *members = g_array_new(FALSE, TRUE, sizeof(struct member));
	struct roster_change *c = NULL;
	int ret = 0;

	for (int k = 0; k < 2; k++) {
		const struct pickle_node *d = pickle_get(m->cfg, kinds[k]);
		for (guint i = 0; d != NULL && d->type == PK_DICT &&
				  i + 1 < d->items->len; i += 2) {
			struct member mb;
			GError *local = NULL;

			if (member_of(m, d->items->pdata[i], d->items->pdata[i + 1],
				      k == 1, list_lang, &mb, &local) < 0 ||
			    address_validate(mb.addr, &local) < 0) {
				char *a = text(m, d->items->pdata[i]);
				g_string_append_printf(m->report,
						       "  member not carried: %s: %s\n",
						       a != NULL ? a : "?", local->message);
				m->t->not_carried++;
				g_free(a);
				g_clear_error(&local);
				member_clear(&mb);
				continue;
			}
			g_array_append_val(members, mb);
		}
	}
	m->t->members += members->len;
	if (l != NULL && members->len > 0) {
		c = roster_change_new();
		ret = hash_passwords(members, error);
		for (guint i = 0; ret == 0 && i < members->len; i++)
			roster_change_put(c, &g_array_index(members, struct member, i));
		if (ret == 0)
			ret = roster_commit(l, c, NULL, error);
		roster_change_free(&c);
	}
	for (guint i = 0; i < members->len; i++)
		member_clear(&g_array_index(members, struct member, i));
	g_array_free(members, TRUE);
	return ret;
}

static int
carry_counters(struct import_mm *m, struct list *l, GError **error)
{
	static const char *const keys[] = { "post_id", "last_post_time", "created_at" };
	int64_t v;

	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
		if (pickle_int(pickle_get(m->cfg, keys[i]), &v) &&
		    list_counter_update(l, keys[i], 0, v, NULL, error) < 0)
			return -1;
	}
	/* Mailman's watermark is the last article gated; herald's counter
	 * the next one (docs/news.md).  None: never pulled. */
	if (pickle_int(pickle_get(m->cfg, "usenet_watermark"), &v) &&
	    list_counter_update(l, "usenet_next", 0, v + 1, NULL, error) < 0)
		return -1;
	return 0;
}

/* Pipermail's pages PERIOD/NNNNNN.html, each looked for in herald's tree. */
static void
check_pages(struct import_mm *m, const char *html_dir)
{
	char *pm = g_build_filename(m->dir, "archives", "private", m->name, NULL);
	GDir *d = g_dir_open(pm, 0, NULL);
	const char *period;
	uint64_t missing = 0;

	while (d != NULL && (period = g_dir_read_name(d)) != NULL) {
		char *pd = g_build_filename(pm, period, NULL);
		GDir *pdir = g_dir_open(pd, 0, NULL);
		const char *f;

		while (pdir != NULL && (f = g_dir_read_name(pdir)) != NULL) {
			if (strlen(f) != 11 || !g_str_has_suffix(f, ".html") ||
			    strspn(f, "0123456789") != 6)
				continue;
			m->t->pages_checked++;
			if (html_dir == NULL)
				continue;
			char *mine = g_build_filename(html_dir, period, f, NULL);
			if (!g_file_test(mine, G_FILE_TEST_EXISTS)) {
				if (missing++ < 20)
					g_string_append_printf(m->report,
						"  archive: Pipermail's %s/%s has no page "
						"at the same URL in herald\n", period, f);
				m->t->pages_mismatched++;
			}
			g_free(mine);
		}
		if (pdir != NULL)
			g_dir_close(pdir);
		g_free(pd);
	}
	if (d != NULL)
		g_dir_close(d);
	g_free(pm);
}

static int
carry_archive(struct import_mm *m, struct list *l, GError **error)
{
	char *base = g_strdup_printf("%s.mbox", m->name);
	char *mbox = g_build_filename(m->dir, "archives", "private", base, base, NULL);
	struct archive_import_stats st = { 0 };
	struct archive *a = NULL;
	int ret = -1;

	if (!g_file_test(mbox, G_FILE_TEST_EXISTS)) {
		g_string_append_printf(m->report, "  archive: no %s\n", mbox);
		ret = 0;
		goto out;
	}
	if (l == NULL) {
		check_pages(m, NULL);
		g_string_append_printf(m->report, "  archive: %s, %" G_GUINT64_FORMAT
				       " Pipermail pages\n", mbox, m->t->pages_checked);
		ret = 0;
		goto out;
	}
	if ((a = archive_open(l, error)) == NULL ||
	    archive_import(a, mbox, NULL, NULL, &st, error) < 0)
		goto out;
	m->t->archived += st.messages;
	g_string_append_printf(m->report, "  archive: %" G_GUINT64_FORMAT
			       " messages (%" G_GUINT64_FORMAT " not messages, "
			       "skipped)\n", st.messages, st.skipped);
	check_pages(m, archive_html_dir(a));
	ret = 0;
out:
	archive_free(&a);
	g_free(mbox);
	g_free(base);
	return ret;
}

static int
write_rewrites(struct import_mm *m, GError **error)
{
	char *nginx = import_rewrite_nginx(m->real, m->name, m->fqdn);
	char *apache = import_rewrite_apache(m->real, m->name, m->fqdn);
	char *n1 = g_strdup_printf("rewrite-%s.nginx.conf", m->fqdn);
	char *n2 = g_strdup_printf("rewrite-%s.apache.conf", m->fqdn);
	char *p1 = site_path(m->real, "import", n1, NULL);
	char *p2 = site_path(m->real, "import", n2, NULL);
	int ret = 0;

	if (!m->dry_run)
		ret = fs_write_atomic(p1, nginx, strlen(nginx), error) < 0 ||
		      fs_write_atomic(p2, apache, strlen(apache), error) < 0 ? -1 : 0;
	if (ret == 0)
		g_string_append_printf(m->report, "  web server rules: %s, %s\n",
				       p1, p2);
	g_free(nginx);
	g_free(apache);
	g_free(n1);
	g_free(n2);
	g_free(p1);
	g_free(p2);
	return ret;
}

/* The list's owners (at least one is needed to create it). */
static char **
owners_of(struct import_mm *m)
{
	const struct pickle_node *o = pickle_get(m->cfg, "owner");
	GPtrArray *out = g_ptr_array_new();

	for (guint i = 0; o != NULL && o->type == PK_LIST && i < o->items->len; i++) {
		char *t = text(m, o->items->pdata[i]);
		if (t != NULL && address_validate(t, NULL) == 0)
			g_ptr_array_add(out, t);
		else
			g_free(t);
	}
	g_ptr_array_add(out, NULL);
	return (char **)g_ptr_array_free(out, FALSE);
}

static int
import_one(struct import_mm *m, GError **error)
{
	struct import_stage *st = NULL;
	struct list *l = NULL;
	char **owners = owners_of(m);
	char *lang = text(m, pickle_get(m->cfg, "preferred_language"));
	struct import_totals before = *m->t;
	int ret = -1, r;

	if (lang == NULL)
		lang = g_strdup("en");
	m->charset = lang_charset(lang);
	g_string_append_printf(m->report, "list %s (Mailman's %s)%s\n", m->fqdn,
			       m->name, m->dry_run ? ", dry run: nothing written" : "");
	if (owners[0] == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "%s: Mailman's list has no valid owner", m->name);
		goto out;
	}
	if (m->dry_run) {
		ret = carry_settings(m, NULL, error) < 0 ||
		      carry_members(m, NULL, lang, error) < 0 ||
		      carry_archive(m, NULL, error) < 0 ||
		      import_mm_requests(m, NULL, error) < 0 ||
		      write_rewrites(m, error) < 0
		    ? -1 : 0;
		goto out;
	}
	if ((r = import_stage_begin(m->real, m->fqdn, &st, error)) <= 0) {
		if (r == 0) {
			g_string_append_printf(m->report, "  exists already: "
					       "left as it is (imported before?)\n");
			m->t->lists_skipped++;
			ret = 0;
		}
		goto out;
	}
	if (list_create(st->stage, m->fqdn, (const char *const *)owners, error) < 0 ||
	    (l = list_open(st->stage, m->fqdn, error)) == NULL ||
	    carry_settings(m, l, error) < 0 || carry_counters(m, l, error) < 0 ||
	    carry_members(m, l, lang, error) < 0 ||
	    carry_archive(m, l, error) < 0 || import_mm_requests(m, l, error) < 0 ||
	    write_rewrites(m, error) < 0)
		goto out;
	list_free(&l);
	if (import_stage_commit(st, error) < 0)
		goto out;
	m->t->lists++;
	ret = 0;
out:
	if (ret < 0 && error != NULL && *error != NULL)
		g_string_append_printf(m->report, "  NOT IMPORTED: %s\n",
				       (*error)->message);
	else if (ret == 0 && m->t->lists_skipped == before.lists_skipped)
		g_string_append_printf(m->report, "  %s: %" G_GUINT64_FORMAT
			" settings carried, %" G_GUINT64_FORMAT " not carried (above); %"
			G_GUINT64_FORMAT " members; %" G_GUINT64_FORMAT " archived "
			"messages; %" G_GUINT64_FORMAT " held posts; %" G_GUINT64_FORMAT
			" requests; %" G_GUINT64_FORMAT " files kept aside\n",
			m->dry_run ? "would be" : "imported",
			m->t->settings - before.settings,
			m->t->not_carried - before.not_carried,
			m->t->members - before.members,
			m->t->archived - before.archived, m->t->held - before.held,
			m->t->requests - before.requests, m->t->kept - before.kept);
	list_free(&l);
	import_stage_free(&st);
	g_strfreev(owners);
	g_free(lang);
	return ret;
}

int
import_mailman2(struct site *site, const char *dir,
		const struct import_options *o, GString *report,
		struct import_totals *totals, GError **error)
{
	struct import_totals local_t = { 0 };
	struct import_totals *t = totals != NULL ? totals : &local_t;
	char *lists = g_build_filename(dir, "lists", NULL);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GDir *d = g_dir_open(lists, 0, error);
	const char *f;
	int ret = 0;

	if (d == NULL) {
		g_prefix_error(error, "not a Mailman 2.1 var dir: ");
		g_free(lists);
		g_ptr_array_free(names, TRUE);
		return -1;
	}
	while ((f = g_dir_read_name(d)) != NULL)
		if (o->only_list == NULL || strcmp(f, o->only_list) == 0)
			g_ptr_array_add(names, g_strdup(f));
	g_dir_close(d);
	g_ptr_array_sort(names, str_ptr_compare);
	if (names->len == 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
			    "no list %s in %s", o->only_list != NULL ? o->only_list : "",
			    lists);
		ret = -1;
	}
	for (guint i = 0; i < names->len; i++) {
		char *path = g_build_filename(lists, names->pdata[i], "config.pck", NULL);
		GError *local = NULL;
		struct pickle *p = pickle_read_file(path, NULL, &local);
		struct import_mm m = { .real = site, .dir = dir, .report = report,
				     .t = t, .dry_run = o->dry_run };
		char *host;

		m.name = g_ascii_strdown(names->pdata[i], -1);
		if (p != NULL) {
			m.cfg = pickle_root(p);
			host = pickle_text(pickle_get(m.cfg, "host_name"), NULL);
			m.fqdn = g_strdup_printf("%s@%s", m.name,
						 host != NULL ? host : "");
			g_free(host);
			if (m.cfg->type != PK_DICT)
				g_set_error(&local, HERALD_ERROR, HERALD_ERR_FORMAT,
					    "%s: not a dict", path);
			else if (list_name_check(m.fqdn, NULL, NULL, &local) == 0)
				import_one(&m, &local);
		}
		if (local != NULL) {
			if (p == NULL || m.fqdn == NULL ||
			    !strstr(report->str, m.fqdn))
				g_string_append_printf(report, "list %s NOT IMPORTED: %s\n",
						       m.name, local->message);
			if (ret == 0)
				g_propagate_error(error, local);
			else
				g_error_free(local);
			ret = -1;
		}
		pickle_free(&p);
		g_free(m.name);
		g_free(m.fqdn);
		g_free(path);
	}
	g_ptr_array_free(names, TRUE);
	g_free(lists);
	g_string_append_printf(report,
		"total: %u lists imported, %u there already; %" G_GUINT64_FORMAT
		" members; %" G_GUINT64_FORMAT " settings carried, %" G_GUINT64_FORMAT
		" not carried; %" G_GUINT64_FORMAT " archived messages; %"
		G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " Pipermail pages without "
		"a page at the same URL; %" G_GUINT64_FORMAT " held posts, %"
		G_GUINT64_FORMAT " requests; %" G_GUINT64_FORMAT " files kept aside\n",
		t->lists, t->lists_skipped, t->members, t->settings,
		t->not_carried, t->archived, t->pages_mismatched,
		t->pages_checked, t->held, t->requests, t->kept);
	return ret;
}
