/*
 * dmarc.h - the DMARC policy (RFC 7489) a poster's domain publishes.
 *
 * The posting pipeline asks this module whether mail From: a domain would
 * be refused or quarantined by receivers when it comes through the list
 * (the list changes the message, so the domain's DKIM signature breaks, and
 * the list's server is not in its SPF record).  The answer comes from DNS:
 * a TXT record at _dmarc.<domain>, else at _dmarc.<organizational domain>
 * (found with the Public Suffix List), where sp= applies.  A resolver keeps
 * the answers for a while (dmarc.cache_ttl); it belongs to one process and
 * one thread.  docs/dmarc.md tells the whole story.
 */
#ifndef HERALD_DMARC_H
#define HERALD_DMARC_H

#include <glib.h>

#include "store/site.h"

enum dmarc_policy {
	DMARC_NONE_FOUND = 0,	/* no usable DMARC record: no policy */
	DMARC_P_NONE,		/* p=none: monitoring only */
	DMARC_P_QUARANTINE,	/* p=quarantine */
	DMARC_P_REJECT,		/* p=reject */
	DMARC_TEMPERROR,	/* DNS failed (SERVFAIL, timeout, ...) */
};

/* "none-found", "none", "quarantine", "reject", "temperror". */
const char *dmarc_policy_name(enum dmarc_policy policy);

/* One TXT record, as parsed.  sp is DMARC_NONE_FOUND when the record has
 * no sp= tag (p then applies to subdomains too). */
struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp;
};

/* Parses the text of one TXT record (its strings joined).  1: a DMARC
 * record, *rec_r filled; 0: not a DMARC record (it does not begin with the
 * tag v=DMARC1), to be ignored; -1: a DMARC record that cannot be used (no
 * valid p=, a bad sp=, a malformed tag), *error saying why.  As RFC 7489
 * 6.6.3 asks, a record whose p= or sp= is bad but that names a reporting
 * address (rua=) is taken as p=none.  pct= and the other tags are
 * ignored: a policy applies to all mail, as in Mailman. */
int dmarc_record_parse(const char *txt, struct dmarc_record *rec_r,
		       GError **error);

struct dmarc_resolver;

/* A resolver configured from the site settings dmarc.resolver,
 * dmarc.timeout, dmarc.cache_ttl and dmarc.psl_file.  Fails when a setting
 * is unusable (a bad server address, a PSL file that does not load). */
struct dmarc_resolver *dmarc_resolver_new(struct site *site, GError **error);

/* The same with explicit values: server "" or NULL (the system's
 * /etc/resolv.conf) or "ADDR" / "ADDR:PORT" (IPv4); timeout_s >= 1;
 * cache_ttl_s 0 for no cache; psl_file "" or NULL for the distribution's
 * default list (libpsl's psl_latest), else the file to load. */
struct dmarc_resolver *dmarc_resolver_new_full(const char *server,
					       int timeout_s, int cache_ttl_s,
					       const char *psl_file,
					       GError **error);

void dmarc_resolver_free(struct dmarc_resolver **rp);

/* The organizational domain of domain (lower-case, A-labels): its
 * registrable domain by the Public Suffix List, newly allocated; NULL when
 * domain is itself a public suffix (or not a domain name). */
char *dmarc_org_domain(struct dmarc_resolver *r, const char *domain);

/* The DMARC policy that applies to mail From: domain (lower-case,
 * A-labels).  Returns 0 with *policy_r set (DMARC_NONE_FOUND included),
 * and *source_r (optional) the domain whose record gave it (domain itself
 * or its organizational domain; NULL for DMARC_NONE_FOUND).  When DNS
 * fails, returns -1 with *policy_r DMARC_TEMPERROR and *error naming the
 * query and the reason; callers treat that as a policy needing
 * mitigation.  Answers other than DMARC_TEMPERROR are cached. */
int dmarc_lookup(struct dmarc_resolver *r, const char *domain,
		 enum dmarc_policy *policy_r, char **source_r, GError **error);

/* Whether addr (normalised) is named by one of entries (NULL-terminated):
 * an address, any case, or a ^regex, case-insensitive, over the whole
 * address.  Mailman 2.1's dmarc_moderation_addresses: posts from them get
 * dmarc_moderation_action whatever their domain publishes.  A bad regex
 * matches nothing (and is logged). */
gboolean dmarc_address_listed(char **entries, const char *addr);

/* The TXT records of name through r (no cache), for other lookups than
 * DMARC's (DKIM keys): 1 with *txts_r (char *, maybe none), 0 when the name
 * or its TXT records do not exist, -1 when DNS failed. */
int dmarc_query_txt(struct dmarc_resolver *r, const char *name,
		    GPtrArray **txts_r, GError **error);

#endif
