/*
 * pending.c - the store of pending requests: lists/<list>/pending/.
 *
 * A request is a small text file named by its token, written whole by
 * fs_write_atomic and claimed by rename (pending.h says why that makes
 * a token single use across hosts).  The format is in docs/formats.md:
 * "herald-pending 1", then "key: value" lines, unknown keys skipped.
 */
#include "list/pending.h"
#include "base/base.h"
#include "base/log.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PENDING_SUBSYS "pending"
#define PENDING_MAGIC "herald-pending 1"
#define TOKEN_RANDOM_BYTES 32
/* Mailman's PENDING_REQUEST_LIFE, when the site setting cannot be read. */
#define DEFAULT_LIFE (3 * 24 * 3600)

static const char *const kind_names[PENDING_KIND_COUNT] = {
	[PENDING_SUBSCRIBE] = "subscribe",
	[PENDING_UNSUBSCRIBE] = "unsubscribe",
	[PENDING_HELD_POST] = "held-post",
	[PENDING_INVITE] = "invite",
	[PENDING_REENABLE] = "reenable",
	[PENDING_CHANGE_ADDRESS] = "change-address",
};

const char *
pending_kind_name(enum pending_kind k)
{
	return k < PENDING_KIND_COUNT ? kind_names[k] : "unknown";
}

int
pending_kind_parse(const char *name)
{
	for (int k = 0; k < PENDING_KIND_COUNT; k++)
		if (g_strcmp0(kind_names[k], name) == 0)
			return k;
	return -1;
}

struct pending *
pending_new(enum pending_kind kind, const char *address)
{
	struct pending *p = g_new0(struct pending, 1);

	p->kind = kind;
	p->state = PENDING_CONFIRM;
	p->address = g_strdup(address != NULL ? address : "");
	p->name = g_strdup("");
	p->password = g_strdup("");
	p->requester = g_strdup("");
	p->via = g_strdup("");
	p->language = g_strdup("");
	p->reason = g_strdup("");
	p->new_address = g_strdup("");
	return p;
}

void
pending_free(struct pending **pp)
{
	struct pending *p = *pp;

	if (p == NULL)
		return;
	g_free(p->token);
	g_free(p->address);
	g_free(p->name);
	g_free(p->password);
	g_free(p->requester);
	g_free(p->via);
	g_free(p->language);
	g_free(p->reason);
	g_free(p->new_address);
	g_free(p->claim);
	g_free(p);
	*pp = NULL;
}

void
pending_free_ptr(gpointer p)
{
	struct pending *r = p;

	pending_free(&r);
}

gboolean
pending_token_valid(const char *token)
{
	if (token == NULL || strlen(token) != PENDING_TOKEN_LEN)
		return FALSE;
	for (const char *c = token; *c != '\0'; c++)
		if (!g_ascii_isalnum(*c) && *c != '-' && *c != '_')
			return FALSE;
	return TRUE;
}

int64_t
pending_request_life(struct list *l)
{
	int64_t life = site_get_int(list_site(l), "pending.request_life");

	return life > 0 ? life : DEFAULT_LIFE;
}

static char *
pending_dir(struct list *l)
{
	return g_build_filename(list_dir(l), "pending", NULL);
}

static char *
pending_path(struct list *l, const char *name)
{
	return g_build_filename(list_dir(l), "pending", name, NULL);
}

/* --- the file ------------------------------------------------------------ */

/* A value on one line: control characters become spaces. */
static void
put(GString *out, const char *key, const char *value)
{
	g_string_append_printf(out, "%s: ", key);
	for (const char *c = value; *c != '\0'; c++)
		g_string_append_c(out, (unsigned char)*c < 0x20 || *c == 0x7f
				       ? ' ' : *c);
	g_string_append_c(out, '\n');
}

static void
put_int(GString *out, const char *key, int64_t value)
{
	g_string_append_printf(out, "%s: %" G_GINT64_FORMAT "\n", key, value);
}

static GString *
format(const struct pending *p)
{
	GString *out = g_string_new(PENDING_MAGIC "\n");

	put(out, "kind", pending_kind_name(p->kind));
	put(out, "state", p->state == PENDING_APPROVE ? "approve" : "confirm");
	put(out, "address", p->address);
	put(out, "name", p->name);
	put(out, "digest", p->digest ? "yes" : "no");
	put(out, "password", p->password);
	put_int(out, "held-id", p->held_id);
	put(out, "requester", p->requester);
	put(out, "via", p->via);
	put(out, "language", p->language);
	put(out, "reason", p->reason);
	put(out, "new-address", p->new_address);
	put(out, "all-lists", p->all_lists ? "yes" : "no");
	put_int(out, "created", p->created);
	put_int(out, "expires", p->expires);
	return out;
}

static void
set_field(struct pending *p, const char *key, const char *v)
{
	char **s = NULL;

	if (strcmp(key, "kind") == 0)
		p->kind = (enum pending_kind)pending_kind_parse(v);
	else if (strcmp(key, "state") == 0)
		p->state = strcmp(v, "approve") == 0 ? PENDING_APPROVE
						     : PENDING_CONFIRM;
	else if (strcmp(key, "digest") == 0)
		p->digest = strcmp(v, "yes") == 0;
	else if (strcmp(key, "all-lists") == 0)
		p->all_lists = strcmp(v, "yes") == 0;
	else if (strcmp(key, "held-id") == 0)
		p->held_id = g_ascii_strtoll(v, NULL, 10);
	else if (strcmp(key, "created") == 0)
		p->created = g_ascii_strtoll(v, NULL, 10);
	else if (strcmp(key, "expires") == 0)
		p->expires = g_ascii_strtoll(v, NULL, 10);
	else if (strcmp(key, "address") == 0)
		s = &p->address;
	else if (strcmp(key, "name") == 0)
		s = &p->name;
	else if (strcmp(key, "password") == 0)
		s = &p->password;
	else if (strcmp(key, "requester") == 0)
		s = &p->requester;
	else if (strcmp(key, "via") == 0)
		s = &p->via;
	else if (strcmp(key, "language") == 0)
		s = &p->language;
	else if (strcmp(key, "reason") == 0)
		s = &p->reason;
	else if (strcmp(key, "new-address") == 0)
		s = &p->new_address;
	if (s != NULL) {
		g_free(*s);
		*s = g_strdup(v);
	}
}

/* Parses a request file; NULL with HERALD_ERR_FORMAT naming path. */
static struct pending *
parse(const char *path, const char *token, char *data, GError **error)
{
	struct pending *p;
	char **lines = g_strsplit(data, "\n", -1);

	if (lines[0] == NULL || strcmp(lines[0], PENDING_MAGIC) != 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "%s: not a pending request (no \"" PENDING_MAGIC
			    "\" line)", path);
		g_strfreev(lines);
		return NULL;
	}
	p = pending_new(PENDING_SUBSCRIBE, "");
	p->kind = (enum pending_kind)-1;
	for (char **l = lines + 1; *l != NULL; l++) {
		char *colon = strstr(*l, ": ");

		if (colon == NULL)
			continue;
		*colon = '\0';
		set_field(p, *l, colon + 2);
	}
	g_strfreev(lines);
	if ((int)p->kind < 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "%s: no kind, or an unknown one", path);
		pending_free(&p);
		return NULL;
	}
	p->token = g_strdup(token);
	return p;
}

/* 1 with *p_r, 0 absent, -1 error. */
static int
read_request(const char *path, const char *token, struct pending **p_r,
	     GError **error)
{
	char *data;
	size_t len;
	int r = fs_read_file(path, &data, &len, error);

	if (r <= 0)
		return r;
	*p_r = parse(path, token, data, error);
	g_free(data);
	return *p_r != NULL ? 1 : -1;
}

/* --- adding and reading -------------------------------------------------- */

static char *
new_token(void)
{
	unsigned char raw[TOKEN_RANDOM_BYTES];
	char out[sodium_base64_ENCODED_LEN(TOKEN_RANDOM_BYTES,
					   sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(out, sizeof out, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return g_strdup(out);
}

int
pending_add(struct list *l, struct pending *p, GError **error)
{
	char *dir = pending_dir(l), *path = NULL;
	GString *file = NULL;
	int ret = -1;

	if (fs_mkdir_p(dir, 0755, error) < 0)
		goto out;
	g_free(p->token);
	p->token = new_token();
	p->created = (int64_t)time(NULL);
	p->expires = p->state == PENDING_CONFIRM
		? p->created + pending_request_life(l) : 0;
	file = format(p);
	path = pending_path(l, p->token);
	if (fs_write_atomic(path, file->str, file->len, error) < 0)
		goto out;
	log_info(PENDING_SUBSYS, "list %s: %s request for %s pending (%s)",
		 list_fqdn(l), pending_kind_name(p->kind), p->address,
		 p->state == PENDING_APPROVE ? "awaits a moderator"
					     : "awaits a confirmation");
	ret = 0;
out:
	if (file != NULL)
		g_string_free(file, TRUE);
	g_free(path);
	g_free(dir);
	return ret;
}

int
pending_get(struct list *l, const char *token, struct pending **p_r,
	    GError **error)
{
	char *path;
	int r;

	if (!pending_token_valid(token))
		return 0;
	path = pending_path(l, token);
	r = read_request(path, token, p_r, error);
	g_free(path);
	return r;
}

static gint
compare_created(gconstpointer a, gconstpointer b)
{
	const struct pending *x = *(struct pending *const *)a;
	const struct pending *y = *(struct pending *const *)b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->token, y->token);
}

int
pending_list(struct list *l, int state, GPtrArray **requests_r, GError **error)
{
	char *dir = pending_dir(l);
	GPtrArray *names, *out;
	int ret = -1;

	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		*requests_r = g_ptr_array_new_with_free_func(pending_free_ptr);
		g_free(dir);
		return 0;
	}
	if ((names = fs_dir_names(dir, NULL, error)) == NULL)
		goto out;
	out = g_ptr_array_new_with_free_func(pending_free_ptr);
	for (guint i = 0; i < names->len; i++) {
		struct pending *p = NULL;
		int r;

		if (!pending_token_valid(names->pdata[i]))
			continue;	/* a claim or a temporary file */
		r = pending_get(l, names->pdata[i], &p, error);
		if (r < 0) {
			g_ptr_array_free(out, TRUE);
			g_ptr_array_free(names, TRUE);
			goto out;
		}
		if (r > 0 && (state < 0 || (int)p->state == state))
			g_ptr_array_add(out, p);
		else
			pending_free(&p);
	}
	g_ptr_array_free(names, TRUE);
	g_ptr_array_sort(out, compare_created);
	*requests_r = out;
	ret = 0;
out:
	g_free(dir);
	return ret;
}

/* --- claiming ------------------------------------------------------------ */

/* <token>.<host>.<pid>-<thread>.claim: the thread is in the name because
 * a rename is judged by stat when its reply is lost (fs_rename_checked),
 * and two threads of one process (the web service's) claiming one token
 * with one name would each find "its" claim there.  stale_claim reads the
 * pid, which ends at the '-'. */
static char *
claim_name(const char *token)
{
	return g_strdup_printf("%s.%s.%d-%d.claim", token, herald_host(),
			       (int)getpid(), (int)gettid());
}

/* Renames from to to, judged by stat when an NFS reply is lost.  1 moved,
 * 0 from is not there (someone else moved it), -1 error. */
static int
move(const char *from, const char *to, GError **error)
{
	struct stat st;

	if (fs_stat(from, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		set_errno_error(error, "stat(%s)", from);
		return -1;
	}
	if (fs_rename_checked(from, to, st.st_ino) < 0) {
		if (errno == ENOENT)
			return 0;
		set_errno_error(error, "rename(%s, %s)", from, to);
		return -1;
	}
	return 1;
}

int
pending_claim(struct list *l, const char *token, struct pending **p_r,
	      GError **error)
{
	char *path, *claim, *name;
	struct pending *p = NULL;
	int r;

	if (!pending_token_valid(token))
		return 0;
	path = pending_path(l, token);
	name = claim_name(token);
	claim = pending_path(l, name);
	g_free(name);
	r = move(path, claim, error);
	if (r <= 0)
		goto out;
	r = read_request(claim, token, &p, error);
	if (r == 0)
		g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
			    "%s vanished", claim);
	if (r <= 0) {
		/* A damaged file stays claimed for an admin to see. */
		r = -1;
		goto out;
	}
	p->claim = g_strdup(claim);
	if (p->expires != 0 && p->expires <= (int64_t)time(NULL)) {
		r = pending_done(l, &p, error) < 0 ? -1 : PENDING_EXPIRED;
		goto out;
	}
	*p_r = p;
	r = 1;
out:
	g_free(path);
	g_free(claim);
	return r;
}

int
pending_done(struct list *l, struct pending **pp, GError **error)
{
	struct pending *p = *pp;
	int ret = 0;

	if (p->claim != NULL && fs_unlink(p->claim) < 0 && errno != ENOENT) {
		set_errno_error(error, "unlink(%s)", p->claim);
		ret = -1;
	}
	pending_free(pp);
	return ret;
}

int
pending_release(struct list *l, struct pending **pp, GError **error)
{
	struct pending *p = *pp;
	char *path = pending_path(l, p->token);
	int ret = 0;

	if (p->claim != NULL && move(p->claim, path, error) < 0)
		ret = -1;
	g_free(path);
	pending_free(pp);
	return ret;
}

/* --- expiry -------------------------------------------------------------- */

/* Whether claim file name (in dir) was left by a decision that died: its
 * process is gone (this host), or it was made over PENDING_CLAIM_STALE
 * seconds ago (a rename sets ctime). */
static gboolean
stale_claim(const char *dir, const char *name, int64_t now)
{
	const char *rest = name + PENDING_TOKEN_LEN + 1;
	size_t hl = strlen(herald_host());
	char *path = g_build_filename(dir, name, NULL);
	struct stat st;
	gboolean stale = FALSE;

	if (fs_stat(path, &st) == 0) {
		if (strncmp(rest, herald_host(), hl) == 0 && rest[hl] == '.') {
			long pid = strtol(rest + hl + 1, NULL, 10);

			stale = pid > 0 && kill((pid_t)pid, 0) < 0 &&
				errno == ESRCH;
		}
		stale = stale || now - (int64_t)st.st_ctime > PENDING_CLAIM_STALE;
	}
	g_free(path);
	return stale;
}

/* A stale claim goes back under its token, to expire or be used. */
static int
unclaim_stale(struct list *l, const char *dir, const char *name, int64_t now,
	      GError **error)
{
	char *token, *from, *to;
	int r;

	if (!g_str_has_suffix(name, ".claim") ||
	    strlen(name) <= PENDING_TOKEN_LEN || name[PENDING_TOKEN_LEN] != '.')
		return 0;
	token = g_strndup(name, PENDING_TOKEN_LEN);
	if (!pending_token_valid(token) || !stale_claim(dir, name, now)) {
		g_free(token);
		return 0;
	}
	from = g_build_filename(dir, name, NULL);
	to = pending_path(l, token);
	r = move(from, to, error);
	if (r > 0)
		log_warning(PENDING_SUBSYS, "list %s: request %.8s...: a claim "
			    "left by a process that died is given back",
			    list_fqdn(l), token);
	g_free(from);
	g_free(to);
	g_free(token);
	return r < 0 ? -1 : 0;
}

static int
expire_one(struct list *l, struct pending *p, int64_t now, guint *removed,
	   GError **error)
{
	struct pending *c = NULL;
	char *path, *claim, *name;
	int r;

	if (p->expires == 0 || p->expires > now)
		return 0;
	/* Claimed first, so that a confirmation racing with us either got
	 * it before (we find nothing) or finds nothing. */
	path = pending_path(l, p->token);
	name = claim_name(p->token);
	claim = pending_path(l, name);
	r = move(path, claim, error);
	if (r > 0) {
		c = pending_new(p->kind, p->address);
		c->token = g_strdup(p->token);
		c->claim = g_strdup(claim);
		r = pending_done(l, &c, error);
		if (r == 0) {
			(*removed)++;
			log_info(PENDING_SUBSYS, "list %s: %s request for %s "
				 "expired", list_fqdn(l),
				 pending_kind_name(p->kind), p->address);
		}
	}
	g_free(name);
	g_free(claim);
	g_free(path);
	return r < 0 ? -1 : 0;
}

int
pending_expire(struct list *l, int64_t now, guint *removed_r, GError **error)
{
	char *dir = pending_dir(l);
	GPtrArray *names = NULL, *all = NULL;
	int ret = -1;

	*removed_r = 0;
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		ret = 0;
		goto out;
	}
	if ((names = fs_dir_names(dir, NULL, error)) == NULL)
		goto out;
	for (guint i = 0; i < names->len; i++)
		if (unclaim_stale(l, dir, names->pdata[i], now, error) < 0)
			goto out;
	if (pending_list(l, -1, &all, error) < 0)
		goto out;
	for (guint i = 0; i < all->len; i++)
		if (expire_one(l, all->pdata[i], now, removed_r, error) < 0)
			goto out;
	ret = 0;
out:
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	if (all != NULL)
		g_ptr_array_free(all, TRUE);
	g_free(dir);
	return ret;
}
