/*
 * dkimverify.c - verifies the DKIM signatures of a message on entry (see
 * dkimverify.h).
 *
 * herald's own code on the canonicalisation of dkim.c rather than
 * libopendkim: ARC (arc.c) needs the same tag parsing, key records and
 * signature checks for its seals, and a verifier must bound its work on
 * hostile input (hundreds of signatures, huge l=, absurd keys) in ways
 * the caller decides.  Bounds: at most max_sigs signatures are checked,
 * each canonical body is computed once per canonicalisation and shared,
 * RSA keys are 512..8192 bits, a field may be named at most 64 times in
 * h=, and l= must not exceed the body.  OpenSSL checks RSA, libsodium
 * Ed25519.
 */
#include "mail/dkimverify.h"
#include "mail/dkim.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#define MAX_SIGS_DEFAULT 8
#define MAX_H_NAMES 64

const char *
dkim_result_name(enum dkim_result r)
{
	static const char *const names[] = {
		"pass", "fail", "neutral", "temperror", "permerror",
	};

	return names[r];
}

/* --- tag=value lists ----------------------------------------------------- */

struct dkim_tags {
	GPtrArray *names, *values;
};

static gboolean
fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A copy of s[0..len) without leading and trailing FWS. */
static char *
trimmed(const char *s, size_t len)
{
	while (len > 0 && fws(*s)) {
		s++;
		len--;
	}
	while (len > 0 && fws(s[len - 1]))
		len--;
	return g_strndup(s, len);
}

/* tag-name = ALPHA *ALNUMPUNC (RFC 6376 3.2) */
static gboolean
tag_name_ok(const char *n)
{
	if (!g_ascii_isalpha(*n))
		return FALSE;
	for (n++; *n != '\0'; n++)
		if (!g_ascii_isalnum(*n) && *n != '_')
			return FALSE;
	return TRUE;
}

struct dkim_tags *
dkim_tags_parse(const char *text, size_t len, const char **why_r)
{
	struct dkim_tags *t = g_new0(struct dkim_tags, 1);
	size_t i = 0;

	t->names = g_ptr_array_new_with_free_func(g_free);
	t->values = g_ptr_array_new_with_free_func(g_free);
	while (i < len) {
		const char *semi = memchr(text + i, ';', len - i);
		size_t end = semi != NULL ? (size_t)(semi - text) : len;
		const char *eq = memchr(text + i, '=', end - i);
		char *name;

		if (eq == NULL) {
			char *rest = trimmed(text + i, end - i);
			gboolean empty = *rest == '\0';

			g_free(rest);
			/* Only the last tag-spec may be empty (a trailing ';'). */
			if (!empty || semi != NULL) {
				*why_r = "a tag without '='";
				dkim_tags_free(&t);
				return NULL;
			}
		} else {
			name = trimmed(text + i, (size_t)(eq - text) - i);
			if (!tag_name_ok(name) || dkim_tags_get(t, name) != NULL) {
				*why_r = !tag_name_ok(name) ? "a bad tag name"
					: "a tag given twice";
				g_free(name);
				dkim_tags_free(&t);
				return NULL;
			}
			g_ptr_array_add(t->names, name);
			g_ptr_array_add(t->values, trimmed(eq + 1, end - (size_t)(eq + 1 - text)));
		}
		i = end + 1;
	}
	return t;
}

void
dkim_tags_free(struct dkim_tags **tp)
{
	struct dkim_tags *t = *tp;

	if (t == NULL)
		return;
	g_ptr_array_unref(t->names);
	g_ptr_array_unref(t->values);
	g_free(t);
	*tp = NULL;
}

const char *
dkim_tags_get(const struct dkim_tags *t, const char *name)
{
	for (guint i = 0; i < t->names->len; i++)
		if (strcmp(t->names->pdata[i], name) == 0)
			return t->values->pdata[i];
	return NULL;
}

/* The value without any FWS (b=, bh=, p=). */
static char *
squeezed(const char *v)
{
	GString *s = g_string_new(NULL);

	for (; *v != '\0'; v++)
		if (!fws(*v))
			g_string_append_c(s, *v);
	return g_string_free(s, FALSE);
}

char *
dkim_field_without_b(const char *text, size_t len)
{
	const char *colon = memchr(text, ':', len);
	size_t i = colon != NULL ? (size_t)(colon - text) + 1 : len;
	GString *out = g_string_new_len(text, (gssize)i);

	while (i < len) {
		const char *semi = memchr(text + i, ';', len - i);
		size_t end = semi != NULL ? (size_t)(semi - text) : len;
		const char *eq = memchr(text + i, '=', end - i);
		char *name = eq != NULL ? trimmed(text + i, (size_t)(eq - text) - i)
					: NULL;

		if (name != NULL && strcmp(name, "b") == 0)
			g_string_append_len(out, text + i, eq + 1 - (text + i));
		else
			g_string_append_len(out, text + i, (gssize)(end - i));
		if (semi != NULL)
			g_string_append_c(out, ';');
		g_free(name);
		i = end + 1;
	}
	return g_string_free(out, FALSE);
}

/* --- canonical forms -------------------------------------------------------- */

/* Appends text with bare LF line ends made CRLF (simple header form). */
static void
append_crlf(GString *out, const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			g_string_append_c(out, '\r');
		g_string_append_c(out, text[i]);
	}
}

static void
canon_header(GString *out, const char *text, size_t len, gboolean relaxed,
	     gboolean crlf)
{
	if (relaxed) {
		dkim_canon_header(out, text, len, crlf);
		return;
	}
	append_crlf(out, text, len);
	if (crlf)
		g_string_append(out, "\r\n");
}

/* The simple canonical body: CRLF line ends, no trailing empty lines, an
 * empty body as one CRLF. */
static GString *
simple_body(const char *body, size_t len)
{
	GString *out = g_string_sized_new(len + len / 32 + 2);

	append_crlf(out, body, len);
	if (out->len > 0 && out->str[out->len - 1] != '\n')
		g_string_append(out, "\r\n");
	while (out->len >= 4 && memcmp(out->str + out->len - 4, "\r\n\r\n", 4) == 0)
		g_string_truncate(out, out->len - 2);
	if (out->len == 0 || strcmp(out->str, "\r\n") == 0)
		g_string_assign(out, "\r\n");
	return out;
}

/* The relaxed canonical body (dkim.c hashes it without keeping it; here
 * l= needs the bytes). */
static GString *
relaxed_body(const char *body, size_t len)
{
	GString *out = g_string_sized_new(len + 2);
	size_t i = 0, blank = 0;

	while (i < len) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - body) : len, l = end - i;
		gboolean space = FALSE;

		if (l > 0 && body[i + l - 1] == '\r')
			l--;
		while (l > 0 && (body[i + l - 1] == ' ' || body[i + l - 1] == '\t'))
			l--;
		if (l == 0) {
			blank++;
		} else {
			for (; blank > 0; blank--)
				g_string_append(out, "\r\n");
			for (size_t k = i; k < i + l; k++) {
				if (body[k] == ' ' || body[k] == '\t') {
					space = TRUE;
					continue;
				}
				if (space)
					g_string_append_c(out, ' ');
				space = FALSE;
				g_string_append_c(out, body[k]);
			}
			g_string_append(out, "\r\n");
		}
		i = end + 1;
	}
	return out;
}

/* --- keys and signatures ------------------------------------------------------- */

/* Whether list (colon-separated, FWS allowed) has item. */
static gboolean
list_has(const char *list, const char *item)
{
	char **parts = g_strsplit(list, ":", -1);
	gboolean found = FALSE;

	for (char **p = parts; *p != NULL && !found; p++) {
		g_strstrip(*p);
		found = g_ascii_strcasecmp(*p, item) == 0;
	}
	g_strfreev(parts);
	return found;
}

/* Whether the local part local matches the g= pattern (one '*' at most). */
static gboolean
granularity_matches(const char *g, const char *local)
{
	const char *star = strchr(g, '*');
	size_t pre, post, len = strlen(local);

	if (star == NULL)
		return strcmp(g, local) == 0;
	pre = (size_t)(star - g);
	post = strlen(star + 1);
	return len >= pre + post && strncmp(local, g, pre) == 0 &&
		strcmp(local + len - post, star + 1) == 0;
}

/* Checks the key record's tags against the signature: NULL when usable. */
static const char *
key_record_problem(const struct dkim_tags *k, const char *alg,
		   const char *identity, const char *domain)
{
	const char *v = dkim_tags_get(k, "v"), *kt = dkim_tags_get(k, "k");
	const char *h = dkim_tags_get(k, "h"), *s = dkim_tags_get(k, "s");
	const char *t = dkim_tags_get(k, "t"), *g = dkim_tags_get(k, "g");
	const char *hash = strchr(alg, '-') + 1;
	const char *at = identity != NULL ? strrchr(identity, '@') : NULL;

	if (v != NULL && strcmp(v, "DKIM1") != 0)
		return "key record: unknown v=";
	if (k->names->len > 0 && v != NULL && strcmp(k->names->pdata[0], "v") != 0)
		return "key record: v= not first";
	if (kt != NULL && strncmp(alg, kt, strlen(kt)) != 0)
		return "key record: k= does not match a=";
	if (kt == NULL && strncmp(alg, "rsa-", 4) != 0)
		return "key record: k= does not match a=";
	if (h != NULL && !list_has(h, hash))
		return "key record: h= excludes the hash";
	if (s != NULL && !list_has(s, "*") && !list_has(s, "email"))
		return "key record: s= excludes email";
	if (t != NULL && list_has(t, "s") && at != NULL &&
	    g_ascii_strcasecmp(at + 1, domain) != 0)
		return "key record: t=s and i= is a subdomain";
	if (g != NULL && *g == '\0')
		return "key record: empty g=";
	if (g != NULL && at != NULL) {
		char *local = g_strndup(identity, (gsize)(at - identity));
		gboolean ok = granularity_matches(g, local);

		g_free(local);
		if (!ok)
			return "key record: g= does not match i=";
	}
	return NULL;
}

static enum dkim_result
check_rsa(const struct dkim_verify_opts *o, const guchar *der, gsize derlen,
	  const char *alg, const guchar *sig, gsize siglen, const char *data,
	  size_t len, const char **why_r)
{
	const guchar *p = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)derlen);
	EVP_MD_CTX *ctx = NULL;
	enum dkim_result r = DKIM_RESULT_PERMERROR;
	unsigned min = o->min_rsa_bits != 0 ? o->min_rsa_bits : 1024;
	int bits;

	if (pk == NULL) {
		p = der;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)derlen);
	}
	if (pk == NULL || !EVP_PKEY_is_a(pk, "RSA")) {
		*why_r = "key record: p= is no RSA key";
		goto out;
	}
	bits = EVP_PKEY_get_bits(pk);
	if (bits < (int)min || bits > 8192) {
		*why_r = "key record: RSA key size out of bounds";
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, strcmp(alg, "rsa-sha1") == 0
				 ? EVP_sha1() : EVP_sha256(), NULL, pk) != 1) {
		*why_r = "RSA verification could not start";
		goto out;
	}
	r = EVP_DigestVerify(ctx, sig, siglen, (const guchar *)data, len) == 1
		? DKIM_RESULT_PASS : DKIM_RESULT_FAIL;
	if (r == DKIM_RESULT_FAIL)
		*why_r = "signature does not verify";
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return r;
}

static enum dkim_result
check_ed25519(const guchar *pk, gsize pklen, const guchar *sig, gsize siglen,
	      const char *data, size_t len, const char **why_r)
{
	unsigned char hash[DKIM_SHA256_BYTES];

	if (pklen != crypto_sign_PUBLICKEYBYTES) {
		*why_r = "key record: Ed25519 key of the wrong length";
		return DKIM_RESULT_PERMERROR;
	}
	if (siglen != crypto_sign_BYTES) {
		*why_r = "signature does not verify";
		return DKIM_RESULT_FAIL;
	}
	dkim_sha256(data, len, hash);
	if (crypto_sign_verify_detached(sig, hash, sizeof(hash), pk) == 0)
		return DKIM_RESULT_PASS;
	*why_r = "signature does not verify";
	return DKIM_RESULT_FAIL;
}

/* The usable key record of name: 1 with *tags_r, else the result. */
static enum dkim_result
fetch_key(const struct dkim_verify_opts *o, const char *name,
	  struct dkim_tags **tags_r, const char **why_r)
{
	GPtrArray *txts = NULL;
	GError *e = NULL;
	int q = o->lookup(o->ctx, name, &txts, &e);
	enum dkim_result r = DKIM_RESULT_PERMERROR;

	*tags_r = NULL;
	g_clear_error(&e);
	if (q < 0) {
		*why_r = "key lookup failed";
		r = DKIM_RESULT_TEMPERROR;
	} else if (q == 0 || txts->len == 0) {
		*why_r = "no key record";
	} else if (txts->len > 1) {
		*why_r = "more than one key record";
	} else {
		const char *txt = txts->pdata[0];

		if ((*tags_r = dkim_tags_parse(txt, strlen(txt), why_r)) != NULL)
			r = DKIM_RESULT_PASS;
		else
			*why_r = "key record: syntax error";
	}
	if (txts != NULL)
		g_ptr_array_unref(txts);
	return r;
}

struct dkim_pubkey {
	guchar *key;
	gsize len;
};

void
dkim_pubkey_free(struct dkim_pubkey **pp)
{
	if (*pp == NULL)
		return;
	g_free((*pp)->key);
	g_free(*pp);
	*pp = NULL;
}

struct dkim_pubkey *
dkim_pubkey_get(const struct dkim_verify_opts *o, const char *domain,
		const char *selector, const char *alg, const char *identity,
		enum dkim_result *result_r, const char **why_r)
{
	char *name = g_strdup_printf("%s._domainkey.%s", selector, domain);
	struct dkim_tags *k = NULL;
	struct dkim_pubkey *pk = NULL;
	const char *p;
	char *pq = NULL;

	*result_r = fetch_key(o, name, &k, why_r);
	g_free(name);
	if (*result_r != DKIM_RESULT_PASS)
		return NULL;
	*result_r = DKIM_RESULT_PERMERROR;
	if ((*why_r = key_record_problem(k, alg, identity, domain)) != NULL)
		goto out;
	if ((p = dkim_tags_get(k, "p")) == NULL) {
		*why_r = "key record: no p=";
		goto out;
	}
	pq = squeezed(p);
	/* 8192-bit RSA is some 1,100 base64 bytes: anything much longer is
	 * not a key worth decoding. */
	if (*pq == '\0' || strlen(pq) > 1400) {
		*why_r = *pq == '\0' ? "key revoked" : "key too long";
		goto out;
	}
	pk = g_new0(struct dkim_pubkey, 1);
	pk->key = g_base64_decode(pq, &pk->len);
	if (pk->len == 0 || (strcmp(alg, "ed25519-sha256") == 0 &&
			     pk->len != crypto_sign_PUBLICKEYBYTES)) {
		*why_r = pk->len == 0 ? "key record: p= is not base64"
			: "key record: Ed25519 key of the wrong length";
		dkim_pubkey_free(&pk);
		goto out;
	}
	*result_r = DKIM_RESULT_PASS;
out:
	g_free(pq);
	dkim_tags_free(&k);
	return pk;
}

enum dkim_result
dkim_pubkey_verify(const struct dkim_verify_opts *o,
		   const struct dkim_pubkey *pk, const char *alg,
		   const char *sig, const char *data, size_t len,
		   const char **why_r)
{
	char *sq = squeezed(sig);
	guchar *s = NULL;
	gsize slen = 0;
	enum dkim_result r;

	if (strlen(sq) > 1400) {
		g_free(sq);
		*why_r = "signature too long";
		return DKIM_RESULT_FAIL;
	}
	s = g_base64_decode(sq, &slen);
	if (strcmp(alg, "ed25519-sha256") == 0)
		r = check_ed25519(pk->key, pk->len, s, slen, data, len, why_r);
	else
		r = check_rsa(o, pk->key, pk->len, alg, s, slen, data, len, why_r);
	g_free(s);
	g_free(sq);
	return r;
}

/* --- one signature ------------------------------------------------------------ */

struct bodies {
	const char *body;
	size_t len;
	GString *simple, *relaxed;	/* made on first use */
};

static const GString *
canon_body(struct bodies *b, gboolean relaxed)
{
	GString **slot = relaxed ? &b->relaxed : &b->simple;

	if (*slot == NULL)
		*slot = relaxed ? relaxed_body(b->body, b->len)
				: simple_body(b->body, b->len);
	return *slot;
}

/* DKIM's quoted-printable (i=): =XX decoded. */
static char *
qp_decode(const char *v)
{
	GString *s = g_string_new(NULL);

	for (; *v != '\0'; v++) {
		if (*v == '=' && g_ascii_isxdigit(v[1]) && g_ascii_isxdigit(v[2])) {
			g_string_append_c(s, (char)(g_ascii_xdigit_value(v[1]) * 16 +
						    g_ascii_xdigit_value(v[2])));
			v += 2;
		} else if (!fws(*v)) {
			g_string_append_c(s, *v);
		}
	}
	return g_string_free(s, FALSE);
}

/* Whether sub is domain or a subdomain of it. */
static gboolean
within(const char *sub, const char *domain)
{
	size_t ls = strlen(sub), ld = strlen(domain);

	return g_ascii_strcasecmp(sub, domain) == 0 ||
		(ls > ld && sub[ls - ld - 1] == '.' &&
		 g_ascii_strcasecmp(sub + ls - ld, domain) == 0);
}

/* The signature's tags checked: NULL when usable, else why not. */
static const char *
sig_problem(const struct dkim_tags *t, const struct dkim_verify_opts *o,
	    gboolean arc, char **identity_r)
{
	const char *v = dkim_tags_get(t, "v"), *a = dkim_tags_get(t, "a");
	const char *q = dkim_tags_get(t, "q"), *d = dkim_tags_get(t, "d");
	const char *x = dkim_tags_get(t, "x"), *i = dkim_tags_get(t, "i");
	const char *c = dkim_tags_get(t, "c"), *h = dkim_tags_get(t, "h");

	/* 0.5: the last draft before RFC 4871, as Mail::DKIM accepts. */
	if (!arc && v != NULL && strcmp(v, "1") != 0 && strcmp(v, "0.5") != 0)
		return "unknown v=";
	if (a == NULL || d == NULL || dkim_tags_get(t, "s") == NULL ||
	    h == NULL || dkim_tags_get(t, "b") == NULL ||
	    dkim_tags_get(t, "bh") == NULL)
		return "a required tag is missing";
	if (strcmp(a, "rsa-sha256") != 0 && strcmp(a, "ed25519-sha256") != 0 &&
	    !(o->allow_sha1 && strcmp(a, "rsa-sha1") == 0))
		return "unsupported a=";
	if (c != NULL && strcmp(c, "simple") != 0 && strcmp(c, "relaxed") != 0 &&
	    strcmp(c, "simple/simple") != 0 && strcmp(c, "simple/relaxed") != 0 &&
	    strcmp(c, "relaxed/simple") != 0 && strcmp(c, "relaxed/relaxed") != 0)
		return "unsupported c=";
	if (q != NULL && !list_has(q, "dns/txt") && !list_has(q, "dns"))
		return "unsupported q=";
	if (!arc && !list_has(h, "from"))
		return "h= does not sign From";
	if (x != NULL && o->now > 0 && g_ascii_strtoll(x, NULL, 10) < o->now)
		return "signature expired";
	/* In an ARC-Message-Signature i= is the instance. */
	*identity_r = i != NULL && !arc ? qp_decode(i) : g_strconcat("@", d, NULL);
	if (strrchr(*identity_r, '@') == NULL ||
	    !within(strrchr(*identity_r, '@') + 1, d))
		return "i= is not within d=";
	return NULL;
}

/* The body hash check: NULL when it matches, else why not. */
static const char *
body_problem(const struct dkim_tags *t, struct bodies *b, gboolean relaxed)
{
	const GString *body = canon_body(b, relaxed);
	const char *l = dkim_tags_get(t, "l"), *a = dkim_tags_get(t, "a");
	size_t n = body->len;
	guint8 digest[32];
	gsize dl = sizeof(digest);
	GChecksum *c;
	char *got, *want;
	gboolean ok;

	if (l != NULL) {
		char *end;
		guint64 v = g_ascii_strtoull(l, &end, 10);

		if (*l == '\0' || *end != '\0' || strlen(l) > 76 || v > n)
			return "l= is not a length within the body";
		n = (size_t)v;
	}
	c = g_checksum_new(strcmp(a, "rsa-sha1") == 0 ? G_CHECKSUM_SHA1
			   : G_CHECKSUM_SHA256);
	g_checksum_update(c, (const guchar *)body->str, (gssize)n);
	g_checksum_get_digest(c, digest, &dl);
	g_checksum_free(c);
	got = g_base64_encode(digest, dl);
	want = squeezed(dkim_tags_get(t, "bh"));
	ok = strcmp(got, want) == 0;
	g_free(got);
	g_free(want);
	return ok ? NULL : "body hash does not match";
}

static gboolean
field_named(const struct dkim_field *f, const char *name)
{
	return strlen(name) == f->name_len &&
		g_ascii_strncasecmp(f->name, name, f->name_len) == 0;
}

/* The canonical header data the signature covers: the fields h= names,
 * bottom-up per name, then the signature field without b=. */
static GString *
header_data(GArray *fields, const struct dkim_field *sig, const char *h,
	    gboolean relaxed)
{
	GString *data = g_string_new(NULL);
	char **names = g_strsplit(h, ":", MAX_H_NAMES + 1);
	GHashTable *used = g_hash_table_new(g_direct_hash, g_direct_equal);
	char *own;

	for (char **n = names; *n != NULL; n++) {
		g_strstrip(*n);
		for (guint i = fields->len; i-- > 0;) {
			struct dkim_field *f = &g_array_index(fields, struct dkim_field, i);

			if (!field_named(f, *n) || g_hash_table_contains(used, f))
				continue;
			g_hash_table_add(used, f);
			canon_header(data, f->text, f->len, relaxed, TRUE);
			break;
		}
	}
	own = dkim_field_without_b(sig->text, sig->len);
	canon_header(data, own, strlen(own), relaxed, FALSE);
	g_free(own);
	g_hash_table_unref(used);
	g_strfreev(names);
	return data;
}

static void
verify_one(struct dkim_verdict *v, GArray *fields, const struct dkim_field *f,
	   struct bodies *b, const struct dkim_verify_opts *o, gboolean arc)
{
	const char *why = NULL, *c;
	char *identity = NULL;
	struct dkim_tags *t = dkim_tags_parse(f->text + f->name_len + 1,
					      f->len - f->name_len - 1, &why);
	gboolean hrelaxed, brelaxed;
	struct dkim_pubkey *pk = NULL;
	GString *data;

	v->result = DKIM_RESULT_PERMERROR;
	if (t == NULL)
		goto out;
	v->domain = g_strdup(dkim_tags_get(t, "d"));
	v->selector = g_strdup(dkim_tags_get(t, "s"));
	v->algorithm = g_strdup(dkim_tags_get(t, "a"));
	if ((why = sig_problem(t, o, arc, &identity)) != NULL)
		goto out;
	c = dkim_tags_get(t, "c");
	/* An ARC-Message-Signature without c= is relaxed/relaxed, as the
	 * ValiMail suite has it. */
	hrelaxed = c != NULL ? g_str_has_prefix(c, "relaxed") : arc;
	brelaxed = c != NULL ? g_str_has_suffix(c, "/relaxed") : arc;
	if (strlen(dkim_tags_get(t, "h")) > 4096) {
		why = "h= too long";
		goto out;
	}
	/* The key first: a signature whose key is unusable is permerror
	 * whatever its hashes say. */
	if ((pk = dkim_pubkey_get(o, v->domain, v->selector, v->algorithm,
				  identity, &v->result, &why)) == NULL)
		goto out;
	if ((why = body_problem(t, b, brelaxed)) != NULL) {
		v->result = DKIM_RESULT_FAIL;
		goto out;
	}
	data = header_data(fields, f, dkim_tags_get(t, "h"), hrelaxed);
	v->result = dkim_pubkey_verify(o, pk, v->algorithm, dkim_tags_get(t, "b"),
				       data->str, data->len, &why);
	g_string_free(data, TRUE);
out:
	dkim_pubkey_free(&pk);
	v->why = why != NULL ? g_strdup(why) : NULL;
	g_free(identity);
	dkim_tags_free(&t);
}

enum dkim_result
dkim_verify_field(const char *msg, size_t len, GArray *fields,
		  const struct dkim_field *sig, const struct dkim_verify_opts *o,
		  gboolean arc, const char **why_r)
{
	size_t body = dkim_body_offset(msg, len);
	struct bodies b = { .body = msg + body, .len = len - body };
	struct dkim_verdict v = { 0 };
	enum dkim_result r;

	verify_one(&v, fields, sig, &b, o, arc);
	r = v.result;
	/* why_r is static text: name the common reasons only. */
	*why_r = r == DKIM_RESULT_PASS ? NULL : "the signature does not verify";
	g_free(v.domain);
	g_free(v.selector);
	g_free(v.algorithm);
	g_free(v.why);
	if (b.simple != NULL)
		g_string_free(b.simple, TRUE);
	if (b.relaxed != NULL)
		g_string_free(b.relaxed, TRUE);
	return r;
}

static void
verdict_free(gpointer p)
{
	struct dkim_verdict *v = p;

	g_free(v->domain);
	g_free(v->selector);
	g_free(v->algorithm);
	g_free(v->why);
	g_free(v);
}

GPtrArray *
dkim_verify(const char *msg, size_t len, const struct dkim_verify_opts *o)
{
	size_t body = dkim_body_offset(msg, len);
	GArray *fields = dkim_fields(msg, body);
	GPtrArray *out = g_ptr_array_new_with_free_func(verdict_free);
	struct bodies b = { .body = msg + body, .len = len - body };
	unsigned max = o->max_sigs != 0 ? o->max_sigs : MAX_SIGS_DEFAULT;

	for (guint i = 0; i < fields->len; i++) {
		const struct dkim_field *f = &g_array_index(fields, struct dkim_field, i);
		struct dkim_verdict *v;

		if (!field_named(f, "DKIM-Signature"))
			continue;
		v = g_new0(struct dkim_verdict, 1);
		if (out->len >= max) {
			v->result = DKIM_RESULT_PERMERROR;
			v->why = g_strdup("too many signatures");
		} else {
			verify_one(v, fields, f, &b, o, FALSE);
		}
		g_ptr_array_add(out, v);
	}
	if (b.simple != NULL)
		g_string_free(b.simple, TRUE);
	if (b.relaxed != NULL)
		g_string_free(b.relaxed, TRUE);
	g_array_unref(fields);
	return out;
}
