/*
 * token.c - the site secret (etc/site.key) and HMAC tokens.
 *
 * The key is created the first time a token is made.  Several processes
 * (runners, the web interface) may want it at once, and a token made with
 * a key that then loses a race would never verify, so the key is committed
 * with link(), not rename(): link() never replaces an existing name, and
 * whoever loses the race reads the winner's key.  On NFS a link whose
 * reply was lost reports EEXIST or another error although it happened;
 * both cases end by reading the file that is there, and a link count of 2
 * on our temporary file tells us the other errors were such a lost reply.
 */
#include "list/token.h"
#include "mail/address.h"
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define TOKEN_MAC_BYTES crypto_auth_hmacsha256_BYTES
#define TOKEN_DOMAIN "herald-token-1"

static void
token_sodium_init(void)
{
	if (sodium_init() < 0)
		g_error("libsodium failed to initialise");
}

/* 1 with the key, 0 when the file does not exist, -1 on error. */
static int
key_read(const char *path, unsigned char key_r[TOKEN_KEY_BYTES],
	 GError **error)
{
	char *data = NULL;
	size_t len = 0;
	int r = fs_read_file(path, &data, &len, error);

	if (r <= 0)
		return r;
	if (len != TOKEN_KEY_BYTES) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "%s: %zu bytes, but a site key has %d (restore it, "
			    "or remove it to make a new one: links already sent "
			    "stop working)", path, len, TOKEN_KEY_BYTES);
		sodium_memzero(data, len);
		g_free(data);
		return -1;
	}
	memcpy(key_r, data, TOKEN_KEY_BYTES);
	sodium_memzero(data, len);
	g_free(data);
	return 1;
}

/* Writes a new random key to a temporary file (0600 from the start: the
 * key is never readable by the group, not even for a moment) and links it
 * to path unless path exists by then. */
static int
key_create(const char *path, GError **error)
{
	unsigned char key[TOKEN_KEY_BYTES];
	char *rnd = random_hex(8);
	char *tmp = g_strdup_printf("%s.tmp.%s.%d.%s", path, herald_host(),
				    (int)getpid(), rnd);
	char *dir = fs_dirname(path);
	struct stat st;
	int fd, ret = -1;

	randombytes_buf(key, sizeof key);
	fd = fs_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		set_errno_error(error, "open(%s)", tmp);
		goto out;
	}
	if (fs_write_all(fd, key, sizeof key, tmp, error) < 0) {
		close(fd);
		goto out_unlink;
	}
	if (fs_sync_close(&fd, tmp, error) < 0)
		goto out_unlink;
	if (link(tmp, path) < 0) {
		int err = errno;

		/* EEXIST: another process won (or our own link's reply was
		 * lost); the key in place is the key either way. */
		if (err != EEXIST &&
		    !(fs_stat(tmp, &st) == 0 && st.st_nlink == 2)) {
			set_errno_error_n(error, err, "link(%s, %s)", tmp, path);
			goto out_unlink;
		}
	}
	if (fs_unlink(tmp) < 0) {
		set_errno_error(error, "unlink(%s)", tmp);
		goto out;
	}
	ret = fs_sync_dir(dir, error);
	goto out;
out_unlink:
	(void)fs_unlink(tmp);
out:
	sodium_memzero(key, sizeof key);
	g_free(rnd);
	g_free(tmp);
	g_free(dir);
	return ret;
}

int
token_site_key(struct site *s, unsigned char key_r[TOKEN_KEY_BYTES],
	       GError **error)
{
	char *path = site_path(s, "etc", "site.key", NULL);
	int r;

	token_sodium_init();
	r = key_read(path, key_r, error);
	if (r == 0) {
		if (key_create(path, error) < 0) {
			g_free(path);
			return -1;
		}
		r = key_read(path, key_r, error);
		if (r == 0)
			g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
				    "%s: gone right after it was created", path);
	}
	g_free(path);
	return r == 1 ? 0 : -1;
}

struct token_key {
	unsigned char *bytes;	/* TOKEN_KEY_BYTES, sodium_malloc'ed */
};

struct token_key *
token_key_load(struct site *s, GError **error)
{
	struct token_key *k;
	unsigned char *bytes;

	token_sodium_init();
	if ((bytes = sodium_malloc(TOKEN_KEY_BYTES)) == NULL) {
		set_errno_error(error, "sodium_malloc(%d) for the site key",
				TOKEN_KEY_BYTES);
		return NULL;
	}
	if (token_site_key(s, bytes, error) < 0) {
		sodium_free(bytes);	/* wipes it */
		return NULL;
	}
	if (sodium_mprotect_readonly(bytes) < 0) {
		set_errno_error(error, "mprotect of the site key");
		sodium_free(bytes);
		return NULL;
	}
	k = g_new0(struct token_key, 1);
	k->bytes = bytes;
	return k;
}

const unsigned char *
token_key_bytes(const struct token_key *k)
{
	return k->bytes;
}

void
token_key_free(struct token_key **kp)
{
	struct token_key *k = *kp;

	if (k == NULL)
		return;
	sodium_free(k->bytes);	/* wipes it, read-only or not */
	g_free(k);
	*kp = NULL;
}

static void
mac_add(crypto_auth_hmacsha256_state *st, const char *s)
{
	/* With its NUL: no two tuples give the same input. */
	crypto_auth_hmacsha256_update(st, (const unsigned char *)s,
				      strlen(s) + 1);
}

/* The MAC of (list, address key, purpose); -1 when address is not one. */
static int
token_mac(const unsigned char key[TOKEN_KEY_BYTES], const char *list_fqdn,
	  const char *address, const char *purpose,
	  unsigned char mac_r[TOKEN_MAC_BYTES])
{
	crypto_auth_hmacsha256_state st;
	char *addr_key = address_key(address);

	if (addr_key == NULL)
		return -1;
	crypto_auth_hmacsha256_init(&st, key, TOKEN_KEY_BYTES);
	mac_add(&st, TOKEN_DOMAIN);
	mac_add(&st, purpose);
	mac_add(&st, list_fqdn);
	mac_add(&st, addr_key);
	crypto_auth_hmacsha256_final(&st, mac_r);
	sodium_memzero(&st, sizeof st);
	g_free(addr_key);
	return 0;
}

char *
token_make_with_key(const unsigned char key[TOKEN_KEY_BYTES],
		    const char *list_fqdn, const char *address,
		    const char *purpose, GError **error)
{
	unsigned char mac[TOKEN_MAC_BYTES];
	char out[sodium_base64_ENCODED_LEN(TOKEN_MAC_BYTES, TOKEN_B64_VARIANT)];

	token_sodium_init();
	if (token_mac(key, list_fqdn, address, purpose, mac) < 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "token for %s: \"%s\" is not an address", list_fqdn,
			    address);
		return NULL;
	}
	sodium_bin2base64(out, sizeof out, mac, sizeof mac, TOKEN_B64_VARIANT);
	return g_strdup(out);
}

char *
token_make(struct site *s, const char *list_fqdn, const char *address,
	   const char *purpose, GError **error)
{
	unsigned char key[TOKEN_KEY_BYTES];
	char *tok;

	if (token_site_key(s, key, error) < 0)
		return NULL;
	tok = token_make_with_key(key, list_fqdn, address, purpose, error);
	sodium_memzero(key, sizeof key);
	return tok;
}

int
token_verify(struct site *s, const char *list_fqdn, const char *address,
	     const char *purpose, const char *token, GError **error)
{
	unsigned char key[TOKEN_KEY_BYTES];
	unsigned char want[TOKEN_MAC_BYTES], got[TOKEN_MAC_BYTES];
	size_t got_len = 0, tok_len = strlen(token);
	const char *end = NULL;
	int ok;

	if (token_site_key(s, key, error) < 0)
		return -1;
	/* Only a whole token of the right size is compared; what it holds
	 * is then compared in constant time. */
	ok = sodium_base642bin(got, sizeof got, token, tok_len, NULL, &got_len,
			       &end, TOKEN_B64_VARIANT) == 0 &&
	     end == token + tok_len && got_len == sizeof got &&
	     token_mac(key, list_fqdn, address, purpose, want) == 0 &&
	     crypto_verify_32(want, got) == 0;
	sodium_memzero(key, sizeof key);
	sodium_memzero(want, sizeof want);
	return ok ? 1 : 0;
}
