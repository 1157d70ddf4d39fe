/*
 * dkim.c - DKIM signing (RFC 6376 relaxed/relaxed; rsa-sha256 and
 * ed25519-sha256, RFC 8463) and the site's signing keys (see dkim.h).
 *
 * Signing is done here rather than with libopendkim: a personalised
 * fan-out signs one copy per member, and most copies share their body, so
 * the body hash is computed once and given to dkim_sign(); libopendkim
 * hashes every copy's body again (docs/dependencies.md).  OpenSSL does the
 * RSA and Ed25519 signatures.  The boundary: bytes in, a header field out;
 * nothing here knows lists.
 */
#include "mail/dkim.h"
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

struct dkim_key {
	enum dkim_alg alg;
	EVP_PKEY *pkey;
	/* Ed25519: libsodium's secret key, from the PEM's seed.  libsodium
	 * signs in a third of the time OpenSSL 3 takes with its per-call
	 * provider look-ups, and a fan-out signs once per member. */
	unsigned char ed_sk[crypto_sign_SECRETKEYBYTES];
	char *domain, *selector;
};

/* --- keys ---------------------------------------------------------------- */

static void
set_ssl_error(GError **error, const char *what)
{
	g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID, "%s failed", what);
}

int
dkim_keygen(enum dkim_alg alg, unsigned bits, char **pem_r, GError **error)
{
	EVP_PKEY *pkey = alg == DKIM_RSA_SHA256 ? EVP_RSA_gen(bits)
		: EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int ret = -1;

	if (pkey == NULL || bio == NULL ||
	    !PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)) {
		set_ssl_error(error, "generating a DKIM key");
		goto out;
	}
	n = BIO_get_mem_data(bio, &p);
	*pem_r = g_strndup(p, (gsize)n);
	ret = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return ret;
}

struct dkim_key *
dkim_key_new(const char *domain, const char *selector, const char *pem,
	     size_t len, GError **error)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL,
							       NULL) : NULL;
	struct dkim_key *k;
	int bits;

	BIO_free(bio);
	if (pkey == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "DKIM key %s for %s: not a PEM private key",
			    selector, domain);
		return NULL;
	}
	k = g_new0(struct dkim_key, 1);
	k->pkey = pkey;
	k->domain = g_ascii_strdown(domain, -1);
	k->selector = g_strdup(selector);
	bits = EVP_PKEY_get_bits(pkey);
	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		unsigned char seed[32], pk[crypto_sign_PUBLICKEYBYTES];
		size_t slen = sizeof(seed);

		k->alg = DKIM_ED25519_SHA256;
		if (sodium_init() < 0 ||
		    !EVP_PKEY_get_raw_private_key(pkey, seed, &slen) ||
		    slen != sizeof(seed) ||
		    crypto_sign_seed_keypair(pk, k->ed_sk, seed) != 0) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
				    "DKIM key %s for %s: unusable Ed25519 key",
				    selector, domain);
			dkim_key_free(&k);
		}
		sodium_memzero(seed, sizeof(seed));
	} else if (EVP_PKEY_is_a(pkey, "RSA") && bits >= 1024 && bits <= 8192) {
		k->alg = DKIM_RSA_SHA256;
	} else {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "DKIM key %s for %s: neither Ed25519 nor RSA of "
			    "1024 to 8192 bits", selector, domain);
		dkim_key_free(&k);
	}
	return k;
}

void
dkim_key_free(struct dkim_key **kp)
{
	struct dkim_key *k = *kp;

	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	sodium_memzero(k->ed_sk, sizeof(k->ed_sk));
	g_free(k->domain);
	g_free(k->selector);
	g_free(k);
	*kp = NULL;
}

enum dkim_alg
dkim_key_alg(const struct dkim_key *k)
{
	return k->alg;
}

const char *
dkim_key_domain(const struct dkim_key *k)
{
	return k->domain;
}

const char *
dkim_key_selector(const struct dkim_key *k)
{
	return k->selector;
}

char *
dkim_key_txt(const struct dkim_key *k)
{
	unsigned char *der = NULL, raw[32];
	size_t rawlen = sizeof(raw);
	char *p, *txt;
	int n;

	if (k->alg == DKIM_ED25519_SHA256) {
		if (!EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen))
			return NULL;
		p = g_base64_encode(raw, rawlen);
		txt = g_strdup_printf("v=DKIM1; k=ed25519; p=%s", p);
	} else {
		if ((n = i2d_PUBKEY(k->pkey, &der)) <= 0)
			return NULL;
		p = g_base64_encode(der, (gsize)n);
		OPENSSL_free(der);
		txt = g_strdup_printf("v=DKIM1; k=rsa; p=%s", p);
	}
	g_free(p);
	return txt;
}

/* SHA-256 fetched once: EVP_sha256() looks the provider up at every use,
 * and OpenSSL's SHA-256 uses the CPU's SHA instructions where libsodium's
 * and GLib's are portable C (a fan-out hashes every copy's header). */
static const EVP_MD *
sha256_md(void)
{
	static gsize once;
	static EVP_MD *md;

	if (g_once_init_enter(&once)) {
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
		g_once_init_leave(&once, 1);
	}
	return md;
}

void
dkim_sha256(const void *data, size_t len, unsigned char out[DKIM_SHA256_BYTES])
{
	const EVP_MD *md = sha256_md();

	if (md == NULL || EVP_Digest(data, len, out, NULL, md, NULL) != 1)
		crypto_hash_sha256(out, data, len);	/* never seen */
}

/* ed25519-sha256 signs the SHA-256 of the data (RFC 8463, 3). */
static char *
ed25519_sign(const struct dkim_key *k, const char *data, size_t len)
{
	unsigned char hash[DKIM_SHA256_BYTES];
	unsigned char sig[crypto_sign_BYTES];

	dkim_sha256(data, len, hash);
	crypto_sign_detached(sig, NULL, hash, sizeof(hash), k->ed_sk);
	return g_base64_encode(sig, sizeof(sig));
}

char *
dkim_key_sign(const struct dkim_key *k, const char *data, size_t len,
	      GError **error)
{
	EVP_MD_CTX *ctx;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char *out = NULL;

	if (k->alg == DKIM_ED25519_SHA256)
		return ed25519_sign(k, data, len);
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)data,
			   len) != 1) {
		set_ssl_error(error, "DKIM signing");
		goto out;
	}
	sig = g_malloc(siglen);
	if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data,
			   len) != 1) {
		set_ssl_error(error, "DKIM signing");
		goto out;
	}
	out = g_base64_encode(sig, siglen);
out:
	g_free(sig);
	EVP_MD_CTX_free(ctx);
	return out;
}

/* --- keys in the var dir ---------------------------------------------------- */

/* A domain or selector that is safe as a file name and a DNS label run. */
static gboolean
name_ok(const char *s)
{
	if (*s == '\0' || *s == '.' || strlen(s) > 253)
		return FALSE;
	for (; *s != '\0'; s++)
		if (!g_ascii_isalnum(*s) && *s != '-' && *s != '.' && *s != '_')
			return FALSE;
	return TRUE;
}

char *
dkim_key_path(struct site *site, const char *domain, const char *selector)
{
	char *d = g_ascii_strdown(domain, -1), *f = g_strconcat(selector, ".pem",
								NULL);
	char *p = site_path(site, "etc", "dkim", d, f, NULL);

	g_free(d);
	g_free(f);
	return p;
}

static gboolean
names_ok(const char *domain, const char *selector, GError **error)
{
	if (name_ok(domain) && name_ok(selector) && strstr(domain, "..") == NULL)
		return TRUE;
	g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
		    "bad DKIM domain or selector: '%s', '%s'", domain, selector);
	return FALSE;
}

int
dkim_key_store(struct site *site, const char *domain, const char *selector,
	       const char *pem, GError **error)
{
	char *path, *dir, *tmp;
	int fd, ret = -1;
	struct stat st;

	if (!names_ok(domain, selector, error))
		return -1;
	path = dkim_key_path(site, domain, selector);
	dir = fs_dirname(path);
	tmp = g_strconcat(path, ".tmp", NULL);
	if (fs_mkdir_p(dir, 0700, error) < 0)
		goto out;
	if (fs_stat(path, &st) == 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
			    "%s exists already (choose another --selector)",
			    path);
		goto out;
	}
	(void)fs_unlink(tmp);
	if ((fd = fs_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			  0600)) < 0) {
		set_errno_error(error, "open(%s)", tmp);
		goto out;
	}
	if (fstat(fd, &st) < 0)
		set_errno_error(error, "fstat(%s)", tmp);
	if ((error != NULL && *error != NULL) ||
	    fs_write_all(fd, pem, strlen(pem), tmp, error) < 0) {
		close(fd);
		(void)fs_unlink(tmp);
		goto out;
	}
	if (fs_sync_close(&fd, tmp, error) < 0 ||
	    fs_commit_rename(tmp, path, dir, st.st_ino, error) < 0)
		goto out;
	ret = 0;
out:
	g_free(path);
	g_free(dir);
	g_free(tmp);
	return ret;
}

int
dkim_key_load(struct site *site, const char *domain, const char *selector,
	      struct dkim_key **key_r, GError **error)
{
	char *path, *pem = NULL;
	size_t len = 0;
	int r;

	*key_r = NULL;
	if (!names_ok(domain, selector, error))
		return -1;
	path = dkim_key_path(site, domain, selector);
	r = fs_read_file(path, &pem, &len, error);
	if (r == 1 && (*key_r = dkim_key_new(domain, selector, pem, len,
					     error)) == NULL)
		r = -1;
	g_free(pem);
	g_free(path);
	return r;
}

char **
dkim_domain_selectors(struct site *site, const char *domain)
{
	char *all = site_get(site, "dkim.domains", NULL);
	char **entries = g_strsplit_set(all != NULL ? all : "", " \t,;", -1);
	char **out = NULL;

	for (char **e = entries; *e != NULL && out == NULL; e++) {
		char *eq = strchr(*e, '=');

		if (eq != NULL && (size_t)(eq - *e) == strlen(domain) &&
		    g_ascii_strncasecmp(*e, domain, strlen(domain)) == 0)
			out = g_strsplit(eq + 1, "+", -1);
	}
	if (out == NULL) {
		char *sel = site_get(site, "dkim.selector", NULL);

		out = g_new0(char *, 2);
		out[0] = sel;
	}
	g_strfreev(entries);
	g_free(all);
	return out;
}

static void
key_free_ptr(gpointer k)
{
	struct dkim_key *key = k;

	dkim_key_free(&key);
}

GPtrArray *
dkim_domain_keys(struct site *site, const char *domain, GError **error)
{
	GPtrArray *keys = g_ptr_array_new_with_free_func(key_free_ptr);
	char **sels = dkim_domain_selectors(site, domain);

	for (char **s = sels; *s != NULL; s++) {
		struct dkim_key *k;

		if (**s == '\0')
			continue;
		if (dkim_key_load(site, domain, *s, &k, error) < 0) {
			g_ptr_array_unref(keys);
			keys = NULL;
			break;
		}
		if (k != NULL)
			g_ptr_array_add(keys, k);
	}
	g_strfreev(sels);
	return keys;
}

void
dkim_sign_opts_load(struct site *site, struct dkim_sign_opts *o)
{
	char *s = site_get(site, "dkim.sign_headers", NULL);
	char *os = site_get(site, "dkim.oversign_headers", NULL);

	o->sign = g_strsplit_set(s != NULL ? s : "", ": ", -1);
	o->oversign = g_strsplit_set(os != NULL ? os : "", ": ", -1);
	g_free(s);
	g_free(os);
}

void
dkim_sign_opts_clear(struct dkim_sign_opts *o)
{
	g_strfreev(o->sign);
	g_strfreev(o->oversign);
	o->sign = o->oversign = NULL;
}

/* --- canonicalisation ------------------------------------------------------- */

const char *
dkim_line_end(const char *msg, size_t len)
{
	const char *nl = memchr(msg, '\n', len);

	return nl != NULL && nl > msg && nl[-1] == '\r' ? "\r\n" : "\n";
}

size_t
dkim_body_offset(const char *msg, size_t len)
{
	size_t i = 0;

	/* A header line that is empty (LF or CRLF alone) ends the header. */
	while (i < len) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t end;

		if (nl == NULL)
			return len;
		end = (size_t)(nl - msg);
		if (end == i || (end == i + 1 && msg[i] == '\r'))
			return end + 1;
		i = end + 1;
	}
	return len;
}

GArray *
dkim_fields(const char *msg, size_t body)
{
	GArray *fields = g_array_new(FALSE, FALSE, sizeof(struct dkim_field));
	size_t i = 0;

	while (i < body) {
		struct dkim_field f = { .name = msg + i, .text = msg + i };
		const char *colon;
		size_t end = i;

		if (msg[i] == '\r' || msg[i] == '\n')
			break;
		/* The field runs on over lines that start with WSP. */
		for (;;) {
			const char *nl = memchr(msg + end, '\n', body - end);

			end = nl != NULL ? (size_t)(nl - msg) + 1 : body;
			if (end >= body || (msg[end] != ' ' && msg[end] != '\t'))
				break;
		}
		f.len = end - i;
		while (f.len > 0 && (f.text[f.len - 1] == '\n' ||
				     f.text[f.len - 1] == '\r'))
			f.len--;
		colon = memchr(f.text, ':', f.len);
		if (colon != NULL) {
			f.name_len = (size_t)(colon - f.text);
			while (f.name_len > 0 && (f.name[f.name_len - 1] == ' ' ||
						  f.name[f.name_len - 1] == '\t'))
				f.name_len--;
			g_array_append_val(fields, f);
		}
		i = end;
	}
	return fields;
}

static gboolean
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void
dkim_canon_header(GString *out, const char *text, size_t len, gboolean crlf)
{
	const char *colon = memchr(text, ':', len);
	size_t nlen = colon != NULL ? (size_t)(colon - text) : len, i;
	gboolean space = FALSE;

	while (nlen > 0 && is_wsp(text[nlen - 1]))
		nlen--;
	for (i = 0; i < nlen; i++)
		g_string_append_c(out, g_ascii_tolower(text[i]));
	g_string_append_c(out, ':');
	i = colon != NULL ? (size_t)(colon - text) + 1 : len;
	while (i < len && is_wsp(text[i]))
		i++;
	/* Runs of WSP become one space; the words between go in whole. */
	while (i < len) {
		size_t start = i;

		if (is_wsp(text[i])) {
			space = TRUE;
			i++;
			continue;
		}
		while (i < len && !is_wsp(text[i]))
			i++;
		if (space)
			g_string_append_c(out, ' ');
		space = FALSE;
		g_string_append_len(out, text + start, (gssize)(i - start));
	}
	if (crlf)
		g_string_append(out, "\r\n");
}

/* Feeds one body line (without its line end) in relaxed form. */
static void
body_line(GString *c, const char *line, size_t len, size_t *blank)
{
	size_t i = 0, start;

	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0) {
		(*blank)++;
		return;
	}
	for (; *blank > 0; (*blank)--)
		g_string_append_len(c, "\r\n", 2);
	while (i < len) {
		start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		g_string_append_len(c, line + start, (gssize)(i - start));
		if (i < len) {
			g_string_append_c(c, ' ');
			while (i < len && (line[i] == ' ' || line[i] == '\t'))
				i++;
		}
	}
	g_string_append_len(c, "\r\n", 2);
}

void
dkim_body_hash(const char *body, size_t len, char bh[DKIM_BH_SIZE])
{
	GString *c = g_string_sized_new(len + 64);	/* the canonical body */
	unsigned char digest[DKIM_SHA256_BYTES];
	size_t i = 0, blank = 0;
	char *b64;

	while (i < len) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - body) : len;
		size_t l = end - i;

		if (l > 0 && body[i + l - 1] == '\r')
			l--;
		body_line(c, body + i, l, &blank);
		i = end + 1;
	}
	dkim_sha256(c->str, c->len, digest);
	g_string_free(c, TRUE);
	b64 = g_base64_encode(digest, sizeof(digest));
	g_strlcpy(bh, b64, DKIM_BH_SIZE);
	g_free(b64);
}

/* --- signing ------------------------------------------------------------- */

static gboolean
named(const struct dkim_field *f, const char *name, size_t name_len)
{
	return name_len == f->name_len &&
		g_ascii_strncasecmp(f->name, name, name_len) == 0;
}

static gboolean
in_list(char **list, const char *name)
{
	for (char **l = list; l != NULL && *l != NULL; l++)
		if (g_ascii_strcasecmp(*l, name) == 0)
			return TRUE;
	return FALSE;
}

/* The h= tag being written, and the column its current line has reached
 * in the field (the tag's first line starts after some 45). */
struct h_tag {
	GString *text;
	size_t col;
};

/* Adds name to the h= tag, folding its line before 70 characters. */
static void
h_add(struct h_tag *h, const char *name, size_t name_len, const char *nl)
{
	if (h->text->len > 0) {
		g_string_append_c(h->text, ':');
		h->col++;
		if (h->col + name_len > 71) {
			g_string_append(h->text, nl);
			g_string_append(h->text, "\t ");
			h->col = 3;	/* counting the line feed */
		}
	}
	g_string_append_len(h->text, name, (gssize)name_len);
	h->col += name_len;
}

/* Adds name's instances, bottom up, to the h= tag and their canonical
 * forms to data; one more name for an oversigned field. */
static void
sign_field(GArray *fields, const char *name, gboolean over, struct h_tag *h,
	   GString *data, const char *nl)
{
	size_t name_len = strlen(name);

	for (guint i = fields->len; i-- > 0;) {
		const struct dkim_field *f = &g_array_index(fields,
							    struct dkim_field, i);

		if (!named(f, name, name_len))
			continue;
		h_add(h, name, name_len, nl);
		dkim_canon_header(data, f->text, f->len, TRUE);
	}
	if (over)
		h_add(h, name, name_len, nl);
}

const char *
dkim_alg_name(enum dkim_alg alg)
{
	return alg == DKIM_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256";
}

void
dkim_append_folded(GString *out, const char *b, const char *nl)
{
	size_t len = strlen(b);

	for (size_t i = 0; i < len; i += 64) {
		if (i > 0)
			g_string_append_printf(out, "%s\t ", nl);
		g_string_append_len(out, b + i, (gssize)MIN(64, len - i));
	}
}

char *
dkim_sign(const struct dkim_key *k, const struct dkim_sign_opts *o,
	  const char *msg, size_t len, const char *bh, int64_t t,
	  GError **error)
{
	return dkim_sign_field(k, o, msg, len, bh, t, "DKIM-Signature: v=1;",
			       error);
}

char *
dkim_sign_field(const struct dkim_key *k, const struct dkim_sign_opts *o,
		const char *msg, size_t len, const char *bh, int64_t t,
		const char *start, GError **error)
{
	size_t body = dkim_body_offset(msg, len);
	GArray *fields = dkim_fields(msg, body);
	struct h_tag h = { g_string_sized_new(256), 45 };
	GString *data = g_string_sized_new(2048), *field = g_string_sized_new(1024);
	const char *nl = dkim_line_end(msg, len);
	char own_bh[DKIM_BH_SIZE], *b;

	if (bh == NULL) {
		dkim_body_hash(msg + body, len - body, own_bh);
		bh = own_bh;
	}
	for (char **s = o->sign; s != NULL && *s != NULL; s++)
		if (**s != '\0')
			sign_field(fields, *s, in_list(o->oversign, *s), &h,
				   data, nl);
	g_string_append_printf(field, "%s a=%s; c=relaxed/relaxed;"
			       " d=%s; s=%s;%s\tt=%" G_GINT64_FORMAT "; h=%s;%s"
			       "\tbh=%s;%s\tb=", start,
			       dkim_alg_name(k->alg), k->domain, k->selector, nl,
			       t, h.text->str, nl, bh, nl);
	dkim_canon_header(data, field->str, field->len, FALSE);
	b = dkim_key_sign(k, data->str, data->len, error);
	if (b != NULL) {
		dkim_append_folded(field, b, nl);
		g_string_append(field, nl);
	}
	g_free(b);
	g_array_unref(fields);
	g_string_free(h.text, TRUE);
	g_string_free(data, TRUE);
	return g_string_free(field, b == NULL);
}
