/*
 * list.c - mailing lists: names, creation and removal, settings.
 *
 * Mailman kept a list's settings and roster in one pickle rewritten on
 * every change.  herald keeps the settings alone in a key file a person can
 * read (config), the hot counters apart (counters), and the roster apart
 * again; each file is replaced atomically under the list lock, so a reader
 * never needs the lock and always sees a whole file.
 *
 * A list comes into being by renaming a complete directory into place, so
 * a half-made list is never visible and two creators cannot both succeed.
 * A rename guards one name only, while a new list must also not share an
 * address with another (test-owner@ beside test@, listaddr_check_new()):
 * the check and the rename are made under the domain's creation lock
 * (locks/lists-<domain>), so that of two such creations racing one sees
 * the other's list.
 */
#include "list/list.h"
#include "mail/address.h"
#include "base/base.h"
#include "list/list_settings.h"
#include "list/listaddr.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LIST_SUBSYS "lists"
#define CONFIG_GROUP "herald-list"
#define CONFIG_VERSION 1

struct list {
	struct site *site;
	char *fqdn;
	char *name;
	char *domain;
	char *dir;
	char *config_path;
	GKeyFile *kf;
};

int
list_name_check(const char *fqdn, char **name_r, char **domain_r,
		GError **error)
{
	const char *at = strrchr(fqdn, '@');
	const char *why = NULL;

	if (at == NULL || at == fqdn || at[1] == '\0')
		why = "a list is named name@domain";
	else if (at - fqdn > 64)
		why = "the name is longer than 64 characters";
	else if (fqdn[0] == '.' || fqdn[0] == '-')
		why = "the name may not start with '.' or '-'";
	for (const char *p = fqdn; why == NULL && p < at; p++) {
		if (g_ascii_isupper(*p))
			why = "list names are lower case";
		else if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) &&
			 strchr("-+_.=", *p) == NULL)
			why = "the name may only hold a-z, 0-9 and - + _ . =";
	}
	const char *d = at != NULL ? at + 1 : "";
	if (why == NULL && (strlen(d) > 253 || strchr(d, '.') == NULL))
		why = "the domain must be a host name with a dot";
	for (const char *p = d; why == NULL && *p != '\0'; p++) {
		if (g_ascii_isupper(*p))
			why = "the domain must be lower case";
		else if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) &&
			 *p != '-' && *p != '.')
			why = "the domain may only hold a-z, 0-9, '-' and '.'";
		else if (*p == '.' && (p == d || p[1] == '.' || p[1] == '\0' ||
				       p[-1] == '-' || p[1] == '-'))
			why = "the domain has an empty or badly formed label";
	}
	if (why == NULL && (d[0] == '-'))
		why = "the domain has an empty or badly formed label";
	if (why != NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "bad list name '%s': %s", fqdn, why);
		return -1;
	}
	/* The posting address must also be a valid address (no "a..b", no
	 * trailing dot or dash): the address module has the rules. */
	GError *local = NULL;
	if (address_validate(fqdn, &local) < 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "bad list name '%s': %s", fqdn, local->message);
		g_error_free(local);
		return -1;
	}
	if (name_r != NULL)
		*name_r = g_strndup(fqdn, (gsize)(at - fqdn));
	if (domain_r != NULL)
		*domain_r = g_strdup(at + 1);
	return 0;
}

static GKeyFile *
default_config(const char *name, const char *domain,
	       const char *const *owners)
{
	GKeyFile *kf = g_key_file_new();

	g_key_file_set_integer(kf, CONFIG_GROUP, "version", CONFIG_VERSION);
	for (const struct list_setting *s = list_settings(); s->name != NULL; s++) {
		char *v = list_setting_default(s, name, domain);

		if (strcmp(s->name, "owner") == 0) {
			g_free(v);
			v = g_strjoinv("\n", (char **)owners);
		}
		g_key_file_set_string(kf, s->category, s->name, v);
		g_free(v);
	}
	return kf;
}

static int
write_key_file(GKeyFile *kf, const char *path, GError **error)
{
	gsize len;
	char *data = g_key_file_to_data(kf, &len, NULL);
	int r = fs_write_atomic(path, data, len, error);

	g_free(data);
	return r;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int
rm_tree(const char *dir, GError **error)
{
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT) {
		set_errno_error(error, "removing %s", dir);
		return -1;
	}
	return 0;
}

/* Lock name of the site's lock dir, of lifetime lock.lifetime. */
static int
lock_named(struct site *site, const char *name, int64_t timeout_ms,
	   struct lock **lock_r, GError **error)
{
	char *locks = site_path(site, "locks", NULL);
	struct lock *lk = lock_new(locks, name,
				   site_get_int(site, "lock.lifetime") * 1000);

	g_free(locks);
	if (lock_acquire(lk, timeout_ms, error) < 0) {
		lock_free(&lk);
		return -1;
	}
	*lock_r = lk;
	return 0;
}

int
list_lock(struct list *l, int64_t timeout_ms, struct lock **lock_r,
	  GError **error)
{
	char *name = g_strdup_printf("list-%s", l->fqdn);
	int ret = lock_named(l->site, name, timeout_ms, lock_r, error);

	g_free(name);
	return ret;
}

int
list_create(struct site *site, const char *fqdn, const char *const *owners,
	    GError **error)
{
	char *name = NULL, *domain = NULL, *dir = NULL, *tmp = NULL, *path;
	char *lock_name = NULL;
	struct lock *lk = NULL;
	GKeyFile *kf = NULL;
	int ret = -1;

	if (list_name_check(fqdn, &name, &domain, error) < 0)
		return -1;
	if (owners == NULL || owners[0] == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "list %s needs at least one owner (--owner ADDR)", fqdn);
		goto out;
	}
	for (const char *const *o = owners; *o != NULL; o++) {
		if (address_validate(*o, error) < 0) {
			g_prefix_error(error, "owner '%s': ", *o);
			goto out;
		}
	}
	/* Lists of a domain are made one at a time: a list's addresses are
	 * all in its domain (listaddr.c), so lists of two domains never
	 * share one, and the domain's lock is enough. */
	lock_name = g_strdup_printf("lists-%s", domain);
	if (lock_named(site, lock_name, 10000, &lk, error) < 0)
		goto out;
	dir = site_path(site, "lists", fqdn, NULL);
	if (g_file_test(dir, G_FILE_TEST_EXISTS)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
			    "list %s exists already", fqdn);
		goto out;
	}
	if (listaddr_check_new(site, fqdn, error) < 0)
		goto out;
	/* Built aside, then renamed into place: a crash leaves no half list,
	 * and of two creators the second rename fails. */
	tmp = g_strdup_printf("%s.new.%s.%d", dir, herald_host(), (int)getpid());
	if (fs_mkdir_p(tmp, 0770, error) < 0)
		goto out;
	kf = default_config(name, domain, owners);
	path = g_build_filename(tmp, "config", NULL);
	ret = write_key_file(kf, path, error);
	g_free(path);
	if (ret == 0) {
		path = g_build_filename(tmp, "counters", NULL);
		char *now = g_strdup_printf("[counters]\npost_id = 1\ncreated_at = %lld\n",
					    (long long)(now_usec() / 1000000));
		ret = fs_write_atomic(path, now, strlen(now), error);
		g_free(now);
		g_free(path);
	}
	/* The lock must still be ours when the list appears: refreshed (or
	 * found lost, HERALD_ERR_LOST) just before, the rename is well within
	 * its lifetime. */
	if (ret == 0)
		ret = lock_refresh(lk, error);
	if (ret == 0 && rename(tmp, dir) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
				    "list %s exists already", fqdn);
		else
			set_errno_error(error, "rename(%s, %s)", tmp, dir);
		ret = -1;
	}
	if (ret == 0) {
		char *lists = site_path(site, "lists", NULL);
		ret = fs_sync_dir(lists, error);
		g_free(lists);
	}
	if (ret < 0)
		(void)rm_tree(tmp, NULL);
	else
		log_info(LIST_SUBSYS, "list %s created", fqdn);
out:
	lock_free(&lk);		/* released: the list is there or not */
	g_free(lock_name);
	if (kf != NULL)
		g_key_file_free(kf);
	g_free(name);
	g_free(domain);
	g_free(dir);
	g_free(tmp);
	return ret;
}

int
list_remove(struct site *site, const char *fqdn, gboolean purge,
	    GError **error)
{
	struct list *l = list_open(site, fqdn, error);
	struct lock *lk = NULL;
	char *gone;
	int ret = -1;

	if (l == NULL)
		return -1;
	if (list_lock(l, 10000, &lk, error) < 0)
		goto out;
	/* Renamed away first, so the list vanishes at once and whole; the
	 * files are removed after. */
	gone = g_strdup_printf("%s.removed.%s.%d", l->dir, herald_host(),
			       (int)getpid());
	if (rename(l->dir, gone) < 0) {
		set_errno_error(error, "rename(%s, %s)", l->dir, gone);
		g_free(gone);
		goto out;
	}
	ret = rm_tree(gone, error);
	g_free(gone);
	/* The archive: its store and its pages, public or private. */
	for (int i = 0; ret == 0 && purge && i < 3; i++) {
		static const char *const under[] = { "", "public", "private" };
		char *arch = site_path(site, "archives", under[i], fqdn, NULL);
		ret = rm_tree(arch, error);
		g_free(arch);
	}
	if (ret == 0)
		log_info(LIST_SUBSYS, "list %s removed%s", fqdn,
			 purge ? " with its archive" : "");
out:
	lock_free(&lk);
	list_free(&l);
	return ret;
}

GPtrArray *
list_all(struct site *site, GError **error)
{
	char *dir = site_path(site, "lists", NULL);
	GPtrArray *out = fs_dir_names(dir, NULL, error);

	g_free(dir);
	/* Lists being made or removed carry a suffix: not lists. */
	for (guint i = out != NULL ? out->len : 0; i-- > 0;) {
		const char *ent = out->pdata[i];
		if (list_name_check(ent, NULL, NULL, NULL) < 0 ||
		    strstr(ent, ".new.") != NULL || strstr(ent, ".removed.") != NULL)
			g_ptr_array_remove_index(out, i);
	}
	return out;
}

/* Reads and parses the config file into a key file of l's own. */
static int
config_parse(struct list *l, GKeyFile **kf_r, GError **error)
{
	GKeyFile *kf = g_key_file_new();
	char *data = NULL;
	size_t len;
	int r = fs_read_file(l->config_path, &data, &len, error);

	if (r == 0)
		g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
			    "no such list: %s", l->fqdn);
	if (r <= 0) {
		g_key_file_free(kf);
		return -1;
	}
	GError *local = NULL;
	if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT, "%s: %s",
			    l->config_path, local->message);
		g_error_free(local);
		g_key_file_free(kf);
		g_free(data);
		return -1;
	}
	g_free(data);
	*kf_r = kf;
	return 0;
}

static void
list_set_kf(struct list *l, GKeyFile *kf)
{
	if (l->kf != NULL)
		g_key_file_unref(l->kf);
	l->kf = kf;
}

/*
 * The parsed config files, by path, each with the stat of the version it
 * was read from: a list opened again (a web request, say) shares the key
 * file, read-only, while the file is unchanged.  The check is an open and
 * an fstat, not a stat: on NFS the open revalidates (close-to-open), so a
 * change made on another host is seen at the next open as before.  Only
 * store() changes a key file, and it parses a private one first.
 */
#define CONFIG_CACHE_MAX 512

struct cached_config {
	struct stat st;
	GKeyFile *kf;
};

static GMutex config_cache_lock;
static GHashTable *config_cache;	/* path -> struct cached_config */

static void
cached_config_free(gpointer p)
{
	struct cached_config *c = p;

	g_key_file_unref(c->kf);
	g_free(c);
}

static gboolean
same_version(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The file's version now; 0, or -1 with errno. */
static int
config_version(const char *path, struct stat *st)
{
	int fd = fs_open(path, O_RDONLY, 0);
	int r;

	if (fd < 0)
		return -1;
	r = fstat(fd, st);
	close(fd);
	return r;
}

/* l's key file from the cache, or parsed and cached. */
static int
config_load_shared(struct list *l, GError **error)
{
	struct stat st;
	struct cached_config *c;
	GKeyFile *kf;

	/* Not there (or not readable): the read says why, as before. */
	if (config_version(l->config_path, &st) < 0) {
		if (config_parse(l, &kf, error) < 0)
			return -1;
		list_set_kf(l, kf);
		return 0;
	}
	g_mutex_lock(&config_cache_lock);
	c = config_cache != NULL ? g_hash_table_lookup(config_cache, l->config_path)
				 : NULL;
	if (c != NULL && same_version(&c->st, &st)) {
		list_set_kf(l, g_key_file_ref(c->kf));
		g_mutex_unlock(&config_cache_lock);
		return 0;
	}
	g_mutex_unlock(&config_cache_lock);
	/* Read after the fstat: a change in between is seen at the next
	 * check, never missed. */
	if (config_parse(l, &kf, error) < 0)
		return -1;
	list_set_kf(l, kf);
	c = g_new0(struct cached_config, 1);
	c->st = st;
	c->kf = g_key_file_ref(kf);
	g_mutex_lock(&config_cache_lock);
	if (config_cache == NULL || g_hash_table_size(config_cache) >= CONFIG_CACHE_MAX) {
		if (config_cache != NULL)
			g_hash_table_unref(config_cache);
		config_cache = g_hash_table_new_full(g_str_hash, g_str_equal,
						     g_free, cached_config_free);
	}
	g_hash_table_replace(config_cache, g_strdup(l->config_path), c);
	g_mutex_unlock(&config_cache_lock);
	return 0;
}

int
list_reload(struct list *l, GError **error)
{
	return config_load_shared(l, error);
}

struct list *
list_open(struct site *site, const char *fqdn, GError **error)
{
	struct list *l;

	if (list_name_check(fqdn, NULL, NULL, error) < 0)
		return NULL;
	l = g_new0(struct list, 1);
	l->site = site;
	l->fqdn = g_strdup(fqdn);
	list_name_check(fqdn, &l->name, &l->domain, NULL);
	l->dir = site_path(site, "lists", fqdn, NULL);
	l->config_path = g_build_filename(l->dir, "config", NULL);
	if (list_reload(l, error) < 0)
		list_free(&l);
	return l;
}

void
list_free(struct list **lp)
{
	struct list *l = *lp;

	if (l == NULL)
		return;
	if (l->kf != NULL)
		g_key_file_unref(l->kf);
	g_free(l->fqdn);
	g_free(l->name);
	g_free(l->domain);
	g_free(l->dir);
	g_free(l->config_path);
	g_free(l);
	*lp = NULL;
}

const char *
list_fqdn(const struct list *l)
{
	return l->fqdn;
}

const char *
list_dir(const struct list *l)
{
	return l->dir;
}

struct site *
list_site(const struct list *l)
{
	return l->site;
}

static const struct list_setting *
find_setting(const char *name, GError **error)
{
	const struct list_setting *s = list_setting_find(name);

	if (s == NULL)
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "unknown list setting '%s' (see `herald config show "
			    "LIST`)", name);
	return s;
}

char *
list_get(struct list *l, const char *name, GError **error)
{
	const struct list_setting *s = find_setting(name, error);
	char *v;

	if (s == NULL)
		return NULL;
	v = g_key_file_get_string(l->kf, s->category, s->name, NULL);
	if (v != NULL) {
		/* A hand edit that does not pass the check reads as the
		 * default rather than misleading a handler later. */
		char *norm = s->type == LS_PASSWORD ? g_strdup(v)
			   : list_setting_normalise(s, v, NULL);
		if (norm != NULL) {
			g_free(v);
			return norm;
		}
		log_warning(LIST_SUBSYS, "list %s: bad value of %s in %s; using "
			    "the default", l->fqdn, s->name, l->config_path);
		g_free(v);
	}
	return list_setting_default(s, l->name, l->domain);
}

gboolean
list_get_bool(struct list *l, const char *name)
{
	char *v = list_get(l, name, NULL);
	gboolean b = g_strcmp0(v, "yes") == 0;

	g_free(v);
	return b;
}

int64_t
list_get_int(struct list *l, const char *name)
{
	char *v = list_get(l, name, NULL);
	int64_t n = v != NULL ? g_ascii_strtoll(v, NULL, 10) : 0;

	g_free(v);
	return n;
}

/* Applies (name, normalised value) pairs under the lock, after rereading
 * the file so that another writer's change is kept. */
static int
store(struct list *l, GPtrArray *pairs, GError **error)
{
	struct lock *lk = NULL;
	int ret = -1;

	if (list_lock(l, 10000, &lk, error) < 0)
		return -1;
	GKeyFile *kf;
	/* A key file of our own to change: the shared one stays as read. */
	if (config_parse(l, &kf, error) == 0) {
		list_set_kf(l, kf);
		for (guint i = 0; i + 1 < pairs->len; i += 2) {
			const struct list_setting *s = list_setting_find(pairs->pdata[i]);
			g_key_file_set_string(l->kf, s->category, s->name,
					      pairs->pdata[i + 1]);
		}
		ret = write_key_file(l->kf, l->config_path, error);
	}
	if (ret == 0 && lock_release(lk, error) < 0)
		ret = -1;
	lock_free(&lk);
	return ret;
}

/* owner and moderator hold addresses, and a list keeps at least one owner:
 * checked for `config set` and `config import` alike. */
static int
check_people(const char *name, const char *norm, GError **error)
{
	char **addrs;
	int ret = 0;

	if (strcmp(name, "owner") != 0 && strcmp(name, "moderator") != 0)
		return 0;
	if (strcmp(name, "owner") == 0 && *norm == '\0') {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "owner: a list needs at least one owner");
		return -1;
	}
	addrs = g_strsplit(norm, "\n", -1);
	for (char **a = addrs; ret == 0 && *a != NULL && **a != '\0'; a++) {
		if (address_validate(*a, error) < 0) {
			g_prefix_error(error, "%s: '%s': ", name, *a);
			ret = -1;
		}
	}
	g_strfreev(addrs);
	return ret;
}

int
list_check_setting(const char *name, const char *value, char **norm_r,
		   GError **error)
{
	const struct list_setting *s = find_setting(name, error);
	char *norm;

	*norm_r = NULL;
	if (s == NULL)
		return -1;
	if ((norm = list_setting_normalise(s, value, error)) == NULL)
		return -1;
	if (check_people(name, norm, error) < 0) {
		g_free(norm);
		return -1;
	}
	*norm_r = norm;
	return 0;
}

int
list_set_checked(struct list *l, const char *const *names,
		 const char *const *norms, GError **error)
{
	GPtrArray *pairs = g_ptr_array_new_with_free_func(g_free);
	int ret;

	for (size_t i = 0; names[i] != NULL; i++) {
		if (find_setting(names[i], error) == NULL) {
			g_ptr_array_free(pairs, TRUE);
			return -1;
		}
		g_ptr_array_add(pairs, g_strdup(names[i]));
		g_ptr_array_add(pairs, g_strdup(norms[i]));
	}
	ret = store(l, pairs, error);
	g_ptr_array_free(pairs, TRUE);
	return ret;
}

int
list_set(struct list *l, const char *name, const char *value, GError **error)
{
	const char *names[] = { name, NULL };
	char *norm;
	int ret;

	if (list_check_setting(name, value, &norm, error) < 0)
		return -1;
	ret = list_set_checked(l, names, (const char *const[]){ norm, NULL },
			       error);
	g_free(norm);
	return ret;
}

/* Every setting as a key file; passwords as their hashes, or left out
 * with a comment saying so. */
static char *
export(struct list *l, gboolean secrets)
{
	GKeyFile *kf = g_key_file_new();
	GString *left_out = g_string_new(NULL);
	char *out;

	g_key_file_set_integer(kf, CONFIG_GROUP, "version", CONFIG_VERSION);
	for (const struct list_setting *s = list_settings(); s->name != NULL; s++) {
		if (s->type == LS_PASSWORD && !secrets) {
			g_string_append_printf(left_out, "%s%s",
					       left_out->len > 0 ? ", " : "",
					       s->name);
			continue;
		}
		char *v = list_get(l, s->name, NULL);
		g_key_file_set_string(kf, s->category, s->name, v);
		g_free(v);
	}
	if (left_out->len > 0) {
		char *c = g_strdup_printf(
			" The passwords (%s) are left out:\n"
			" imported, this file keeps the list's as they are.\n"
			" `herald config export --show-secrets` includes their "
			"hashes.", left_out->str);
		g_key_file_set_comment(kf, NULL, NULL, c, NULL);
		g_free(c);
	}
	out = g_key_file_to_data(kf, NULL, NULL);
	g_key_file_free(kf);
	g_string_free(left_out, TRUE);
	return out;
}

char *
list_export(struct list *l)
{
	return export(l, TRUE);
}

char *
list_export_without_secrets(struct list *l)
{
	return export(l, FALSE);
}

int
list_import(struct list *l, const char *text, GError **error)
{
	GKeyFile *kf = g_key_file_new();
	GPtrArray *pairs = g_ptr_array_new_with_free_func(g_free);
	GError *local = NULL;
	gchar **groups;
	int ret = -1;

	if (!g_key_file_load_from_data(kf, text, strlen(text), G_KEY_FILE_NONE,
				       &local)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "not a settings file: %s", local->message);
		g_error_free(local);
		goto out;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (gchar **g = groups; *g != NULL; g++) {
		gchar **keys;

		if (strcmp(*g, CONFIG_GROUP) == 0)
			continue;
		keys = g_key_file_get_keys(kf, *g, NULL, NULL);
		for (gchar **k = keys; keys != NULL && *k != NULL; k++) {
			const struct list_setting *s = find_setting(*k, error);
			char *v, *norm;

			if (s == NULL || strcmp(s->category, *g) != 0) {
				if (s != NULL)
					g_set_error(error, HERALD_ERROR,
						    HERALD_ERR_INVALID,
						    "%s belongs in [%s], not [%s]",
						    *k, s->category, *g);
				g_strfreev(keys);
				g_strfreev(groups);
				goto out;
			}
			/* NULL: not UTF-8, or a bad escape. */
			if ((v = g_key_file_get_string(kf, *g, *k, &local)) == NULL) {
				g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
					    "%s: %s", *k, local->message);
				g_clear_error(&local);
				g_strfreev(keys);
				g_strfreev(groups);
				goto out;
			}
			/* Passwords travel as their hashes, which must be as
			 * costly as herald's (or Mailman 2.1's SHA-1, which
			 * the first good check replaces); a clear one (a
			 * hand-written file) is hashed like `config set`. */
			norm = s->type == LS_PASSWORD &&
			       (*v == '\0' || g_str_has_prefix(v, "$argon2") ||
				g_str_has_prefix(v, "$sha1$"))
			     ? list_setting_password_hash(s, v, error)
			     : list_setting_normalise(s, v, error);
			g_free(v);
			if (norm == NULL || check_people(*k, norm, error) < 0) {
				g_free(norm);
				g_strfreev(keys);
				g_strfreev(groups);
				goto out;
			}
			g_ptr_array_add(pairs, g_strdup(*k));
			g_ptr_array_add(pairs, norm);
		}
		g_strfreev(keys);
	}
	g_strfreev(groups);
	ret = store(l, pairs, error);
out:
	g_ptr_array_free(pairs, TRUE);
	g_key_file_free(kf);
	return ret;
}

/* --- counters ------------------------------------------------------------ */

static int
load_counters(struct list *l, GKeyFile *kf, GError **error)
{
	char *path = g_build_filename(l->dir, "counters", NULL);
	char *data = NULL;
	size_t len;
	GError *local = NULL;
	int r = fs_read_swapped(path, &data, &len, error);

	if (r > 0 && !g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE,
						&local)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT, "%s: %s",
			    path, local->message);
		g_error_free(local);
		r = -1;
	}
	g_free(data);
	g_free(path);
	return r < 0 ? -1 : 0;
}

int
list_counter_get(struct list *l, const char *name, int64_t *value_r,
		 GError **error)
{
	GKeyFile *kf = g_key_file_new();
	int ret = load_counters(l, kf, error);

	if (ret == 0)
		*value_r = g_key_file_get_int64(kf, "counters", name, NULL);
	g_key_file_free(kf);
	return ret;
}

int
list_counter_update(struct list *l, const char *name, int64_t add,
		    int64_t set, int64_t *old_r, GError **error)
{
	return list_counter_update_with(l, name, add, set, old_r, NULL, 0, error);
}

int
list_counter_update_with(struct list *l, const char *name, int64_t add,
			 int64_t set, int64_t *old_r, const char *also_name,
			 int64_t also_set, GError **error)
{
	GKeyFile *kf = g_key_file_new();
	struct lock *lk = NULL;
	char *path = g_build_filename(l->dir, "counters", NULL);
	int64_t old;
	int ret = -1;

	if (list_lock(l, 10000, &lk, error) < 0)
		goto out;
	if (load_counters(l, kf, error) < 0)
		goto out;
	old = g_key_file_get_int64(kf, "counters", name, NULL);
	g_key_file_set_int64(kf, "counters", name, add != 0 ? old + add : set);
	if (also_name != NULL)
		g_key_file_set_int64(kf, "counters", also_name, also_set);
	gsize len;
	char *data = g_key_file_to_data(kf, &len, NULL);
	/* Under the list lock: swapped in, no new file each post. */
	int r = fs_write_swap(path, data, len, error);

	g_free(data);
	if (r < 0)
		goto out;
	if (old_r != NULL)
		*old_r = old;
	ret = lock_release(lk, error);
out:
	lock_free(&lk);
	g_key_file_free(kf);
	g_free(path);
	return ret;
}

/* --- helpers for the handlers ------------------------------------------------ */

char **
list_get_lines(struct list *l, const char *name)
{
	char *v = list_get(l, name, NULL);
	GPtrArray *out = g_ptr_array_new();
	char **lines = g_strsplit(v != NULL ? v : "", "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++) {
		char *t = g_strstrip(lines[i]);
		if (*t != '\0')
			g_ptr_array_add(out, g_strdup(t));
	}
	g_ptr_array_add(out, NULL);
	g_strfreev(lines);
	g_free(v);
	return (char **)g_ptr_array_free(out, FALSE);
}

gboolean
list_language_available(struct list *l, const char *lang)
{
	char **avail;
	char *preferred;
	gboolean yes;

	if (lang == NULL || *lang == '\0')
		return TRUE;
	preferred = list_get(l, "preferred_language", NULL);
	avail = list_get_lines(l, "available_languages");
	yes = g_strcmp0(preferred, lang) == 0 ||
	      g_strv_contains((const char *const *)avail, lang);
	g_strfreev(avail);
	g_free(preferred);
	return yes;
}

/* Mailman 2.1's form: SHA-1 hex of the password, unsalted.  Matched in
 * constant time; on a match the password is stored again as an Argon2id
 * hash, so the weak form lives only until its first use. */
static gboolean
check_sha1(struct list *l, const char *name, const char *stored,
	   const char *candidate)
{
	char *hex = g_compute_checksum_for_string(G_CHECKSUM_SHA1, candidate, -1);
	gboolean ok = sodium_memcmp(hex, stored + 6, 40) == 0;
	GError *error = NULL;

	g_free(hex);
	if (ok && list_set(l, name, candidate, &error) < 0) {
		log_msg(LOG_LVL_WARNING, "list", "%s: %s matched but could not be rehashed: %s",
			    l->fqdn, name, error->message);
		g_error_free(error);
	}
	return ok;
}

gboolean
list_check_password(struct list *l, const char *name, const char *candidate)
{
	char *hash = list_get(l, name, NULL);
	gboolean ok = hash != NULL && *hash != '\0' &&
		(list_password_is_sha1(hash)
		 ? check_sha1(l, name, hash, candidate)
		 : list_password_verify(hash, candidate));
	GError *error = NULL;

	/* Made at other parameters than herald's: made again now. */
	if (ok && list_password_needs_rehash(hash) &&
	    list_set(l, name, candidate, &error) < 0) {
		log_msg(LOG_LVL_WARNING, "list", "%s: %s matched but could not "
			"be rehashed: %s", l->fqdn, name, error->message);
		g_error_free(error);
	}
	g_free(hash);
	return ok;
}

char *
list_address(struct list *l, const char *suffix)
{
	return g_strdup_printf("%s%s@%s", l->name, suffix, l->domain);
}

char *
list_address_plus(struct list *l, const char *suffix, const char *detail)
{
	return g_strdup_printf("%s%s+%s@%s", l->name, suffix, detail, l->domain);
}
