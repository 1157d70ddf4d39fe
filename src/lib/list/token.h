/*
 * token.h - the site secret and the HMAC tokens made with it.
 *
 * A token proves that herald itself wrote a link: it binds a list, a
 * member address and a purpose ("unsubscribe") under the site's secret
 * key, so that the web interface can act on a one-click unsubscribe
 * (RFC 8058) without a password and without a database of issued links.
 *
 *     key    etc/site.key under the var dir: 32 random bytes (libsodium),
 *            mode 0600, created on first use.  It is read for every token,
 *            or once per job by a job that makes many (struct token_key:
 *            the delivery of a personalised post, a token per member), and
 *            no process keeps it longer, so deleting it invalidates every
 *            link ever sent with no restart (jobs under way finish with the
 *            old key); a new one is made.
 *     token  HMAC-SHA-256 over "herald-token-1", purpose, list, address
 *            key (each NUL-terminated), in URL-safe base64 without padding
 *            (43 characters).  It does not expire: a footer in a message
 *            archived years ago still unsubscribes.
 *
 * The address is bound by its comparison key (address.h), so a token made
 * for Bob@Example.ORG verifies for bob@example.org.
 */
#ifndef HERALD_TOKEN_H
#define HERALD_TOKEN_H

#include <glib.h>

#include "store/site.h"

#define TOKEN_KEY_BYTES 32
/* The purpose of the tokens in List-Unsubscribe's one-click URL. */
#define TOKEN_PURPOSE_UNSUBSCRIBE "unsubscribe"
/* The purpose of a VERP probe's token (bounce/probe.c). */
#define TOKEN_PURPOSE_PROBE "probe"

/* The site's secret key, read from etc/site.key or created there when it
 * does not exist.  Two processes racing to create it both end up with the
 * one that was linked into place first.  A key file of the wrong size is
 * an error (HERALD_ERR_FORMAT), never silently replaced: that would
 * invalidate every link sent. */
int token_site_key(struct site *s, unsigned char key_r[TOKEN_KEY_BYTES],
		   GError **error);

/* A token for (list, address, purpose) with the site key; NULL with *error
 * when the key cannot be had or the address is not one (HERALD_ERR_INVALID). */
char *token_make(struct site *s, const char *list_fqdn, const char *address,
		 const char *purpose, GError **error);

/* The same with a key the caller holds (a runner making many). */
char *token_make_with_key(const unsigned char key[TOKEN_KEY_BYTES],
			  const char *list_fqdn, const char *address,
			  const char *purpose, GError **error);

/* The site key held by a job that makes many tokens, read once (a read of
 * the file per member would be a file-server round trip per member of a
 * fan-out).  It lives in libsodium's guarded memory (sodium_malloc):
 * locked out of swap, left out of core dumps, guard pages around it,
 * read-only once loaded, wiped when freed.  Threads may share it. */
struct token_key;

/* The site key as token_site_key reads (or creates) it; NULL with *error
 * as token_site_key, or when no guarded memory could be had. */
struct token_key *token_key_load(struct site *s, GError **error);
/* Its bytes, for token_make_with_key. */
const unsigned char *token_key_bytes(const struct token_key *k);
void token_key_free(struct token_key **kp);

/* Whether token was made for exactly (list, address, purpose): 1 if so, 0
 * if not (wrong, tampered, malformed, or an invalid address), -1 with
 * *error when the key cannot be read.  The comparison takes the same time
 * whatever the token. */
int token_verify(struct site *s, const char *list_fqdn, const char *address,
		 const char *purpose, const char *token, GError **error);

#endif
