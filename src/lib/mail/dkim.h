/*
 * dkim.h - DKIM signing (RFC 6376, relaxed/relaxed) with rsa-sha256 and
 * ed25519-sha256 (RFC 8463) keys, and the site's signing keys.
 *
 * A key is a PEM file in the var dir, etc/dkim/DOMAIN/SELECTOR.pem (mode
 * 0600).  Which selectors sign for a domain is a site setting
 * (dkim.domains, else dkim.selector): see docs/dkim.md.  Signing takes the
 * message as bytes, LF or CRLF line ends, and returns the DKIM-Signature
 * field to put in front of it; no list is involved.
 */
#ifndef HERALD_DKIM_H
#define HERALD_DKIM_H

#include "store/site.h"

#include <glib.h>
#include <stdint.h>

enum dkim_alg { DKIM_RSA_SHA256, DKIM_ED25519_SHA256 };

/* A private key with the domain (d=) and selector (s=) it signs as. */
struct dkim_key;

/* The base64 of a SHA-256 is 44 characters. */
#define DKIM_BH_SIZE 45
#define DKIM_SHA256_BYTES 32

/* A new key: its PEM text (to store) in *pem_r.  bits: RSA only. */
int dkim_keygen(enum dkim_alg alg, unsigned bits, char **pem_r,
		GError **error);
/* Reads a PEM private key (RSA of 1024 to 8192 bits, or Ed25519). */
struct dkim_key *dkim_key_new(const char *domain, const char *selector,
			      const char *pem, size_t len, GError **error);
void dkim_key_free(struct dkim_key **kp);
enum dkim_alg dkim_key_alg(const struct dkim_key *k);
const char *dkim_key_domain(const struct dkim_key *k);
const char *dkim_key_selector(const struct dkim_key *k);
/* The TXT record's text: "v=DKIM1; k=rsa; p=..." (newly allocated). */
char *dkim_key_txt(const struct dkim_key *k);

/* The var dir's key file for domain and selector (newly allocated). */
char *dkim_key_path(struct site *site, const char *domain,
		    const char *selector);
/* Writes a new key file (0600, in a 0700 directory); fails if it exists. */
int dkim_key_store(struct site *site, const char *domain,
		   const char *selector, const char *pem, GError **error);
/* The key of domain and selector from the var dir: 1 with *key_r, 0 when
 * there is no such file, -1 with *error. */
int dkim_key_load(struct site *site, const char *domain, const char *selector,
		  struct dkim_key **key_r, GError **error);
/* The selectors that sign for domain: those dkim.domains names for it,
 * else dkim.selector.  NULL-terminated, to g_strfreev(). */
char **dkim_domain_selectors(struct site *site, const char *domain);
/* The keys that sign for domain (struct dkim_key *, possibly none), or
 * NULL with *error when a named key cannot be read. */
GPtrArray *dkim_domain_keys(struct site *site, const char *domain,
			    GError **error);

/* What a signer needs besides the key: the header fields to sign (each
 * instance present is signed) and those to oversign (named once more
 * than present, so that none can be added), from dkim.sign_headers and
 * dkim.oversign_headers. */
struct dkim_sign_opts {
	char **sign;
	char **oversign;
};
void dkim_sign_opts_load(struct site *site, struct dkim_sign_opts *o);
void dkim_sign_opts_clear(struct dkim_sign_opts *o);

/* The offset of the body in msg (after the blank line; len when there is
 * none). */
size_t dkim_body_offset(const char *msg, size_t len);
/* SHA-256 of data (OpenSSL's, with the CPU's SHA instructions). */
void dkim_sha256(const void *data, size_t len,
		 unsigned char out[DKIM_SHA256_BYTES]);
/* The relaxed body hash of body (base64 SHA-256) into bh. */
void dkim_body_hash(const char *body, size_t len, char bh[DKIM_BH_SIZE]);

/*
 * The DKIM-Signature field (name, value, line end as msg's first line
 * ends) for msg signed with k at time t.  bh is msg's body hash when the
 * caller has it (the same body in many copies), else NULL to compute it.
 */
char *dkim_sign(const struct dkim_key *k, const struct dkim_sign_opts *o,
		const char *msg, size_t len, const char *bh, int64_t t,
		GError **error);

/* dkim_sign() with the field's start given: "DKIM-Signature: v=1;", or
 * "ARC-Message-Signature: i=N;" (arc.c). */
char *dkim_sign_field(const struct dkim_key *k, const struct dkim_sign_opts *o,
		      const char *msg, size_t len, const char *bh, int64_t t,
		      const char *start, GError **error);

/* Internals shared with arc.c: the header fields of a message. */
struct dkim_field {
	const char *name;	/* into the message */
	size_t name_len;
	const char *text;	/* the whole field, without its last line end */
	size_t len;
};
/* The fields of the header of msg (before offset body). */
GArray *dkim_fields(const char *msg, size_t body);
/* Appends the relaxed canonical form of f (with CRLF when crlf). */
void dkim_canon_header(GString *out, const char *text, size_t len,
		       gboolean crlf);
/* Signs data (the canonical header text) with k: base64 in a new string. */
char *dkim_key_sign(const struct dkim_key *k, const char *data, size_t len,
		    GError **error);
/* "rsa-sha256" or "ed25519-sha256". */
const char *dkim_alg_name(enum dkim_alg alg);
/* Appends the base64 text b folded into lines of a header field. */
void dkim_append_folded(GString *out, const char *b, const char *nl);
/* The line end msg uses: "\r\n" or "\n". */
const char *dkim_line_end(const char *msg, size_t len);

#endif
