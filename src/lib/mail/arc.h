/*
 * arc.h - ARC (RFC 8617): validating a message's chain on entry and
 * sealing an outgoing copy with the next set.
 *
 * Built on dkim.c (canonicalisation, signing) and dkimverify.c (tags,
 * keys, signature checks); no list in it.
 */
#ifndef HERALD_ARC_H
#define HERALD_ARC_H

#include "mail/dkim.h"
#include "mail/dkimverify.h"

#include <glib.h>

enum arc_cv { ARC_CV_NONE, ARC_CV_PASS, ARC_CV_FAIL };

const char *arc_cv_name(enum arc_cv cv);
/* "none", "pass", "fail" (NULL and anything else: none). */
enum arc_cv arc_cv_parse(const char *name);

/* The most ARC sets a chain may have (RFC 8617 4.2.1). */
#define ARC_MAX_SETS 50

/* Validates the ARC chain of msg (RFC 8617 5.2): none when there is no
 * ARC field, else pass or fail (*why_r, static text, says why not pass).
 * *sets_r gets the highest instance (0 for none). */
enum arc_cv arc_validate(const char *msg, size_t len,
			 const struct dkim_verify_opts *o, int *sets_r,
			 const char **why_r);

/*
 * The ARC set (ARC-Seal, ARC-Message-Signature and
 * ARC-Authentication-Results fields, in that order, with msg's line ends)
 * that seals msg with k: instance one above msg's highest, cv the chain's
 * validation when msg arrived (none for a message without ARC), results
 * the Authentication-Results text ("authserv-id; dkim=pass ...").  NULL
 * with *error when signing fails or the chain is at its limit.
 */
char *arc_seal(const struct dkim_key *k, const struct dkim_sign_opts *o,
	       const char *msg, size_t len, const char *bh, enum arc_cv cv,
	       const char *results, int64_t t, GError **error);

#endif
