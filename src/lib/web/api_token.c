/*
 * api_token.c - the API's bearer tokens (api.h): api/tokens/<id> in the
 * var dir, one key file each, holding the SHA-256 of the secret only.
 *
 * The secret is 32 random bytes, so a plain hash suffices (no password
 * stretching: nobody can guess 256 bits, and a check must stay cheap at
 * thousands of requests a second).  A token file is written whole and
 * renamed into place (fs_write_atomic), so any host sees a token and its
 * revocation at once and never half of either.
 */
#include "web/api.h"
#include "base/base.h"

#include <sodium.h>
#include <string.h>

#define TOKEN_PREFIX "hrd_"
#define TOKEN_ID_BYTES 8
#define TOKEN_SECRET_BYTES 32
#define GROUP "token"

void api_token_free(struct api_token **tp)
{
	struct api_token *t = *tp;
	if (!t)
		return;
	g_free(t->id);
	g_free(t->name);
	g_free(t->list);
	g_free(t);
	*tp = NULL;
}

static void token_free_ptr(gpointer p)
{
	struct api_token *t = p;
	api_token_free(&t);
}

static char *tokens_dir(struct site *site)
{
	return site_path(site, "api", "tokens", NULL);
}

static char *secret_hash(const char *secret)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)secret, strlen(secret));
	char hex[sizeof h * 2 + 1];
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	return g_strdup(hex);
}

static gboolean id_valid(const char *id)
{
	if (strlen(id) != TOKEN_ID_BYTES * 2)
		return FALSE;
	for (const char *p = id; *p; p++)
		if (!g_ascii_isxdigit(*p) || g_ascii_isupper(*p))
			return FALSE;
	return TRUE;
}

/* Reads token id: 1, 0 none, -1 error; *hash_r (optional) its hash. */
static int token_read(struct site *site, const char *id,
		      struct api_token **token_r, char **hash_r,
		      GError **error)
{
	char *dir = tokens_dir(site);
	char *path = g_build_filename(dir, id, NULL);
	GKeyFile *k = NULL;
	int ret = fs_read_keyfile(path, &k, error);
	g_free(path);
	g_free(dir);
	if (ret != 1)
		return ret;
	struct api_token *t = g_new0(struct api_token, 1);
	t->id = g_strdup(id);
	t->name = g_key_file_get_string(k, GROUP, "name", NULL);
	t->list = g_key_file_get_string(k, GROUP, "list", NULL);
	if (!t->name)
		t->name = g_strdup("");
	if (!t->list)
		t->list = g_strdup("");
	t->read_only = g_key_file_get_boolean(k, GROUP, "read_only", NULL);
	t->created = g_key_file_get_int64(k, GROUP, "created", NULL);
	t->revoked_at = g_key_file_get_int64(k, GROUP, "revoked", NULL);
	t->revoked = t->revoked_at != 0;
	if (hash_r)
		*hash_r = g_key_file_get_string(k, GROUP, "sha256", NULL);
	*token_r = t;
	g_key_file_free(k);
	return 1;
}

static int token_write(struct site *site, const struct api_token *t,
		       const char *hash, GError **error)
{
	char *dir = tokens_dir(site);
	char *path = g_build_filename(dir, t->id, NULL);
	GKeyFile *k = g_key_file_new();
	g_key_file_set_string(k, GROUP, "name", t->name);
	g_key_file_set_string(k, GROUP, "list", t->list);
	g_key_file_set_boolean(k, GROUP, "read_only", t->read_only);
	g_key_file_set_int64(k, GROUP, "created", t->created);
	g_key_file_set_int64(k, GROUP, "revoked", t->revoked_at);
	g_key_file_set_string(k, GROUP, "sha256", hash);
	gsize len;
	char *text = g_key_file_to_data(k, &len, NULL);
	int ret = fs_mkdir_p(dir, 0700, error) < 0 ? -1
		: fs_write_atomic(path, text, len, error);
	g_free(text);
	g_key_file_free(k);
	g_free(path);
	g_free(dir);
	return ret;
}

int api_token_create(struct site *site, const char *name, const char *list,
		     gboolean read_only, char **secret_r,
		     struct api_token **token_r, GError **error)
{
	unsigned char raw[TOKEN_SECRET_BYTES];
	char b64[sodium_base64_ENCODED_LEN(TOKEN_SECRET_BYTES,
			sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(b64, sizeof b64, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	struct api_token *t = g_new0(struct api_token, 1);
	t->id = random_hex(TOKEN_ID_BYTES);
	t->name = g_strdup(name);
	t->list = g_strdup(list ? list : "");
	t->read_only = read_only;
	t->created = g_get_real_time() / G_USEC_PER_SEC;
	char *hash = secret_hash(b64);
	int ret = token_write(site, t, hash, error);
	g_free(hash);
	if (ret < 0) {
		api_token_free(&t);
		sodium_memzero(b64, sizeof b64);
		return -1;
	}
	*secret_r = g_strconcat(TOKEN_PREFIX, t->id, "_", b64, NULL);
	sodium_memzero(b64, sizeof b64);
	if (token_r)
		*token_r = t;
	else
		api_token_free(&t);
	return 0;
}

static gint by_created(gconstpointer a, gconstpointer b)
{
	const struct api_token *x = *(struct api_token *const *)a;
	const struct api_token *y = *(struct api_token *const *)b;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

GPtrArray *api_token_list(struct site *site, GError **error)
{
	char *dir = tokens_dir(site);
	GPtrArray *out = g_ptr_array_new_with_free_func(token_free_ptr);
	/* No directory: no token made yet. */
	GPtrArray *names = g_file_test(dir, G_FILE_TEST_IS_DIR)
		? fs_dir_names(dir, NULL, error)
		: g_ptr_array_new_with_free_func(g_free);
	g_free(dir);
	if (!names) {
		g_ptr_array_free(out, TRUE);
		return NULL;
	}
	for (guint i = 0; i < names->len; i++) {
		struct api_token *t = NULL;
		if (!id_valid(names->pdata[i]))
			continue;
		int r = token_read(site, names->pdata[i], &t, NULL, error);
		if (r < 0) {
			g_ptr_array_free(names, TRUE);
			g_ptr_array_free(out, TRUE);
			return NULL;
		}
		if (r == 1)
			g_ptr_array_add(out, t);
	}
	g_ptr_array_free(names, TRUE);
	g_ptr_array_sort(out, by_created);
	return out;
}

int api_token_revoke(struct site *site, const char *id_or_name,
		     GError **error)
{
	GPtrArray *all = api_token_list(site, error);
	if (!all)
		return -1;
	int ret = 0;
	for (guint i = 0; i < all->len && ret == 0; i++) {
		struct api_token *t = all->pdata[i];
		char *hash = NULL;
		struct api_token *again = NULL;
		if (t->revoked || (strcmp(t->id, id_or_name) &&
				   strcmp(t->name, id_or_name)))
			continue;
		if (token_read(site, t->id, &again, &hash, error) != 1) {
			ret = -1;
			break;
		}
		again->revoked_at = g_get_real_time() / G_USEC_PER_SEC;
		ret = token_write(site, again, hash ? hash : "", error) < 0
			? -1 : 1;
		api_token_free(&again);
		g_free(hash);
	}
	g_ptr_array_free(all, TRUE);
	return ret;
}

int api_token_check(struct site *site, const char *text,
		    struct api_token **token_r, GError **error)
{
	*token_r = NULL;
	if (!g_str_has_prefix(text, TOKEN_PREFIX))
		return 0;
	const char *id_start = text + strlen(TOKEN_PREFIX);
	const char *sep = strchr(id_start, '_');
	if (!sep || sep - id_start != TOKEN_ID_BYTES * 2)
		return 0;
	char *id = g_strndup(id_start, sep - id_start);
	if (!id_valid(id)) {
		g_free(id);
		return 0;
	}
	struct api_token *t = NULL;
	char *stored = NULL;
	int r = token_read(site, id, &t, &stored, error);
	g_free(id);
	if (r <= 0)
		return r;
	char *given = secret_hash(sep + 1);
	gboolean same = stored && strlen(stored) == strlen(given) &&
			sodium_memcmp(stored, given, strlen(given)) == 0;
	g_free(given);
	g_free(stored);
	if (!same) {
		api_token_free(&t);
		return 0;
	}
	*token_r = t;
	return 1;
}
