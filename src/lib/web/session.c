/*
 * session.c - web sessions and login attempt counters in the var dir
 * (session.h).
 *
 * Both are small key=value files written to a unique temporary name and
 * renamed into place, without fsync: a session or a count lost to a
 * crash costs a login, never data, and a login should not cost an fsync.
 */
#include "web/session.h"
#include "base/base.h"
#include "base/log.h"
#include "web/view.h"
#include "web/web.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SESSION_ID_BYTES 32

static const char *const role_names[] = {
	[WEB_ROLE_MEMBER] = "member",
	[WEB_ROLE_MODERATOR] = "moderator",
	[WEB_ROLE_OWNER] = "owner",
	[WEB_ROLE_SITE] = "site",
};

const char *web_role_name(enum web_role r)
{
	return role_names[r];
}

static int role_parse(const char *s)
{
	for (guint i = 0; i < G_N_ELEMENTS(role_names); i++)
		if (!strcmp(s, role_names[i]))
			return (int)i;
	return -1;
}

static char *random_b64(size_t bytes)
{
	unsigned char raw[64];
	g_assert(bytes <= sizeof raw);
	randombytes_buf(raw, bytes);
	size_t n = sodium_base64_ENCODED_LEN(bytes,
			sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = g_malloc(n);
	sodium_bin2base64(out, n, raw, bytes,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* web/<kind>/<sha-256 of key, hex>. */
static char *hashed_path(struct site *site, const char *kind, const char *key)
{
	char *hex = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);
	char *path = site_path(site, "web", kind, hex, NULL);
	g_free(hex);
	return path;
}

/* Writes text to path by a unique temporary file and a rename. */
static int write_renamed(const char *path, const char *text, GError **error)
{
	char *dir = fs_dirname(path);
	int rc = fs_mkdir_p(dir, 0700, error);
	g_free(dir);
	if (rc < 0)
		return -1;
	char *suffix = random_hex(8);
	char *tmp = g_strdup_printf("%s.tmp.%s", path, suffix);
	g_free(suffix);
	rc = -1;
	int fd = fs_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		set_errno_error(error, "cannot create %s", tmp);
	} else if (fs_write_all(fd, text, strlen(text), tmp, error) < 0) {
		close(fd);
		fs_unlink(tmp);
	} else if (close(fd) < 0 || rename(tmp, path) < 0) {
		set_errno_error(error, "cannot write %s", path);
		fs_unlink(tmp);
	} else {
		rc = 0;
	}
	g_free(tmp);
	return rc;
}

static GHashTable *read_fields(const char *path)
{
	char *text;
	size_t len;
	if (fs_read_file(path, &text, &len, NULL) != 1)
		return NULL;
	GHashTable *f = g_hash_table_new_full(g_str_hash, g_str_equal,
					      g_free, g_free);
	char **lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		char *eq = strchr(*l, '=');
		if (eq)
			g_hash_table_replace(f, g_strndup(*l, eq - *l),
					     g_strdup(eq + 1));
	}
	g_strfreev(lines);
	g_free(text);
	return f;
}

static const char *field(GHashTable *f, const char *name)
{
	const char *v = g_hash_table_lookup(f, name);
	return v ? v : "";
}

struct web_session *session_load(struct site *site, const char *id)
{
	/* Only ids of the shape herald makes: no path games, no huge keys. */
	if (!id || strlen(id) != sodium_base64_ENCODED_LEN(SESSION_ID_BYTES,
			sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1 ||
	    strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		   "0123456789-_") != strlen(id))
		return NULL;
	char *path = hashed_path(site, "sessions", id);
	GHashTable *f = read_fields(path);
	g_free(path);
	if (!f)
		return NULL;
	struct web_session *s = NULL;
	int role = role_parse(field(f, "role"));
	int64_t expires = g_ascii_strtoll(field(f, "expires"), NULL, 10);
	if (role >= 0 && expires > g_get_real_time() / G_USEC_PER_SEC &&
	    field(f, "csrf")[0]) {
		s = g_new0(struct web_session, 1);
		s->id = g_strdup(id);
		s->role = role;
		s->list = g_strdup(field(f, "list"));
		s->address = g_strdup(field(f, "address"));
		s->csrf = g_strdup(field(f, "csrf"));
		s->lang = g_strdup(field(f, "lang"));
		s->expires = expires;
	}
	g_hash_table_unref(f);
	return s;
}

struct web_session *session_create(struct site *site, enum web_role role,
				   const char *list, const char *address,
				   const char *lang, GError **error)
{
	struct web_session *s = g_new0(struct web_session, 1);
	s->id = random_b64(SESSION_ID_BYTES);
	s->role = role;
	s->list = g_strdup(list ? list : "");
	s->address = g_strdup(address ? address : "");
	s->csrf = random_b64(24);
	/* Only a language pages come in; never a line break into the file. */
	s->lang = g_strdup(lang && view_language_known(lang) ? lang : "");
	s->expires = g_get_real_time() / G_USEC_PER_SEC +
		     site_get_int(site, "web.session_lifetime");
	char *text = g_strdup_printf("role=%s\nlist=%s\naddress=%s\ncsrf=%s\n"
				     "lang=%s\nexpires=%" G_GINT64_FORMAT "\n",
				     role_names[role], s->list, s->address,
				     s->csrf, s->lang, s->expires);
	char *path = hashed_path(site, "sessions", s->id);
	int rc = write_renamed(path, text, error);
	g_free(path);
	g_free(text);
	if (rc < 0)
		session_free(&s);
	return s;
}

void session_destroy(struct site *site, struct web_session *s)
{
	char *path = hashed_path(site, "sessions", s->id);
	fs_unlink(path);
	g_free(path);
}

void session_free(struct web_session **sp)
{
	struct web_session *s = *sp;
	if (!s)
		return;
	g_free(s->id);
	g_free(s->list);
	g_free(s->address);
	g_free(s->csrf);
	g_free(s->lang);
	g_free(s);
	*sp = NULL;
}

char *session_cookie(struct web_session *s, const char *base_path,
		     gboolean https)
{
	const char *secure = https ? "; Secure" : "";
	if (!s)
		return g_strdup_printf(SESSION_COOKIE "=; Path=%s; Max-Age=0; "
				       "HttpOnly; SameSite=Lax%s",
				       base_path, secure);
	int64_t age = s->expires - g_get_real_time() / G_USEC_PER_SEC;
	return g_strdup_printf(SESSION_COOKIE "=%s; Path=%s; Max-Age=%"
			       G_GINT64_FORMAT "; HttpOnly; SameSite=Lax%s",
			       s->id, base_path, MAX(age, 0), secure);
}

gboolean session_may(const struct web_session *s, enum web_role role,
		     const char *list)
{
	if (!s)
		return FALSE;
	if (s->role == WEB_ROLE_SITE)
		return TRUE;
	if (!list || strcmp(s->list, list))
		return FALSE;
	if (role == WEB_ROLE_MEMBER)
		return s->role == WEB_ROLE_MEMBER;
	return s->role >= role && role != WEB_ROLE_SITE;
}

static guint sweep_dir(struct site *site, const char *kind, int64_t now,
		       const char *time_field, int64_t keep)
{
	char *dir = site_path(site, "web", kind, NULL);
	GPtrArray *names = fs_dir_names(dir, NULL, NULL);
	guint removed = 0;
	for (guint i = 0; names && i < names->len; i++) {
		char *path = g_build_filename(dir, names->pdata[i], NULL);
		GHashTable *f = read_fields(path);
		int64_t t = f ? g_ascii_strtoll(field(f, time_field), NULL, 10)
			      : 0;
		struct stat st;
		/* An unreadable file (a temporary one a crash left) goes
		 * when it is an hour old. */
		gboolean stale = f ? t + keep <= now
			: (fs_stat(path, &st) == 0 && st.st_mtime + 3600 < now);
		if (stale && fs_unlink(path) == 0)
			removed++;
		if (f)
			g_hash_table_unref(f);
		g_free(path);
	}
	if (names)
		g_ptr_array_free(names, TRUE);
	g_free(dir);
	return removed;
}

guint session_sweep(struct site *site, int64_t now)
{
	return sweep_dir(site, "sessions", now, "expires", 0) +
	       sweep_dir(site, "used", now, "expires", 0) +
	       sweep_dir(site, "attempts", now, "start",
			 site_get_int(site, "web.login_window"));
}

/* A counter's file: start= (the window's start), count=. */
static void attempts_read(struct site *site, const char *key,
			  int64_t *start_r, int64_t *count_r)
{
	char *path = hashed_path(site, "attempts", key);
	GHashTable *f = read_fields(path);
	g_free(path);
	int64_t now = g_get_real_time() / G_USEC_PER_SEC;
	*start_r = now;
	*count_r = 0;
	if (!f)
		return;
	int64_t start = g_ascii_strtoll(field(f, "start"), NULL, 10);
	if (start + site_get_int(site, "web.login_window") > now) {
		*start_r = start;
		*count_r = g_ascii_strtoll(field(f, "count"), NULL, 10);
	}
	g_hash_table_unref(f);
}

gboolean attempts_blocked(struct site *site, const char *key)
{
	int64_t start, count;
	attempts_read(site, key, &start, &count);
	return count >= site_get_int(site, "web.login_attempts");
}

void attempts_fail(struct site *site, const char *key)
{
	int64_t start, count;
	attempts_read(site, key, &start, &count);
	char *text = g_strdup_printf("start=%" G_GINT64_FORMAT "\ncount=%"
				     G_GINT64_FORMAT "\n", start, count + 1);
	char *path = hashed_path(site, "attempts", key);
	GError *error = NULL;
	if (write_renamed(path, text, &error) < 0) {
		log_error(WEB_SUBSYS, "cannot count a failed login: %s",
			  error->message);
		g_error_free(error);
	}
	g_free(path);
	g_free(text);
}
