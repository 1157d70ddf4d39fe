/*
 * dkimverify.h - verification of a message's DKIM signatures (RFC 6376,
 * RFC 8463, RFC 8301) on entry, with bounded work for hostile input.
 *
 * Keys come through a lookup function (DNS in herald, a table in the
 * tests).  Each signature gets one result as RFC 8601 names them.
 */
#ifndef HERALD_DKIMVERIFY_H
#define HERALD_DKIMVERIFY_H

#include "mail/dkim.h"

#include <glib.h>
#include <stdint.h>

enum dkim_result {
	DKIM_RESULT_PASS, DKIM_RESULT_FAIL, DKIM_RESULT_NEUTRAL,
	DKIM_RESULT_TEMPERROR, DKIM_RESULT_PERMERROR,
};

const char *dkim_result_name(enum dkim_result r);

/* Looks up the TXT records of name: 1 with *txts_r (char *), 0 when
 * there are none, -1 when DNS failed (dmarc_query_txt() fits). */
typedef int (*dkim_lookup_fn)(void *ctx, const char *name,
			      GPtrArray **txts_r, GError **error);

struct dkim_verify_opts {
	dkim_lookup_fn lookup;
	void *ctx;
	int64_t now;		/* for x=; 0: no expiry check */
	unsigned max_sigs;	/* signatures verified; later ones are
				 * permerror "too many" (0: 8) */
	unsigned min_rsa_bits;	/* 0: 1024 (RFC 8301) */
	gboolean allow_sha1;	/* rsa-sha1 (RFC 8301 forbids it; old
				 * corpora use it) */
};

struct dkim_verdict {
	enum dkim_result result;
	char *domain;		/* d=, or NULL */
	char *selector;		/* s=, or NULL */
	char *algorithm;	/* a=, or NULL */
	char *why;		/* why not pass, or NULL */
};

/* One verdict per DKIM-Signature field of msg, top to bottom (none: an
 * empty array); free with g_ptr_array_unref. */
GPtrArray *dkim_verify(const char *msg, size_t len,
		       const struct dkim_verify_opts *o);

/* The parts of verification that ARC (arc.c) shares. */
/* Verifies the one signature field sig of msg (fields: dkim_fields() of
 * it); arc: an ARC-Message-Signature (i= the instance, no v=). */
enum dkim_result dkim_verify_field(const char *msg, size_t len,
				   GArray *fields,
				   const struct dkim_field *sig,
				   const struct dkim_verify_opts *o,
				   gboolean arc, const char **why_r);
struct dkim_tags;
/* Parses a tag=value list; NULL with *why_r when it is malformed. */
struct dkim_tags *dkim_tags_parse(const char *text, size_t len,
				  const char **why_r);
void dkim_tags_free(struct dkim_tags **tp);
/* The value of tag name (whitespace kept as in the field), or NULL. */
const char *dkim_tags_get(const struct dkim_tags *t, const char *name);
/* The field text with the value of its b= tag removed (newly allocated). */
char *dkim_field_without_b(const char *text, size_t len);
/* A public key from selector._domainkey.domain, checked against the
 * signature's algorithm and identity (i=): NULL with *result_r and *why_r
 * (static text) when there is none usable. */
struct dkim_pubkey;
struct dkim_pubkey *dkim_pubkey_get(const struct dkim_verify_opts *o,
				    const char *domain, const char *selector,
				    const char *alg, const char *identity,
				    enum dkim_result *result_r,
				    const char **why_r);
void dkim_pubkey_free(struct dkim_pubkey **pp);
/* Checks sig (base64) over data with pk: pass, or fail/permerror with
 * *why_r. */
enum dkim_result dkim_pubkey_verify(const struct dkim_verify_opts *o,
				    const struct dkim_pubkey *pk,
				    const char *alg, const char *sig,
				    const char *data, size_t len,
				    const char **why_r);

#endif
