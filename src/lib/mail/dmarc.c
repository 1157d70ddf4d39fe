/*
 * dmarc.c - DMARC policy discovery (RFC 7489 section 6.6.3) over glibc's
 * resolver, with the organizational domain from libpsl and a per-process
 * cache.
 *
 * Each lookup gets a fresh res_state (res_ninit): it reads
 * /etc/resolv.conf as it is now, so a changed system resolver is seen
 * without a restart, and the configured server, timeout and single try
 * are set on it alone, never on the process-wide _res that other code may
 * use.  A DNS failure is an answer of its own (DMARC_TEMPERROR), never
 * confused with "no record": the pipeline mitigates on a failure, as
 * Mailman does, because letting a p=reject post through unchanged gets the
 * list's mail refused and its members unsubscribed by bounces.
 * Failures are not cached, so the next post asks again.
 */
#include "mail/dmarc.h"
#include "base/base.h"
#include "base/log.h"
#include "mail/address.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <libpsl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The largest DNS message (TCP); a UDP answer with TC set makes glibc
 * retry over TCP, so a long TXT record is read whole. */
#define DMARC_ANSWER_MAX 65535
/* CNAMEs followed inside one answer before giving up (a loop). */
#define DMARC_CNAME_HOPS 8
/* Cached domains before the cache is emptied: a flood of posts from
 * random domains must not grow a runner without bound. */
#define DMARC_CACHE_MAX 10000
#define DMARC_SUBSYS "dmarc"
/* The longest domain name in text form (RFC 1035's 255 octets on the
 * wire). */
#define DMARC_NAME_MAX 253

struct dmarc_cached {
	enum dmarc_policy policy;
	char *source;
	gint64 expires;		/* g_get_monotonic_time() microseconds */
};

struct dmarc_resolver {
	gboolean have_server;	/* FALSE: the system's resolv.conf */
	struct sockaddr_in server;
	int timeout_s;
	int cache_ttl_s;
	psl_ctx_t *psl;
	GHashTable *cache;	/* domain -> struct dmarc_cached */
};

const char *
dmarc_policy_name(enum dmarc_policy policy)
{
	switch (policy) {
	case DMARC_NONE_FOUND:
		return "none-found";
	case DMARC_P_NONE:
		return "none";
	case DMARC_P_QUARANTINE:
		return "quarantine";
	case DMARC_P_REJECT:
		return "reject";
	case DMARC_TEMPERROR:
		return "temperror";
	}
	return "?";
}

/* --- records ------------------------------------------------------------- */

static gboolean
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits "name = value" (WSP allowed around '=', as RFC 7489's ABNF has
 * it) into a lower-case name and the value without surrounding WSP.
 * FALSE when there is no '=' or the name is not ALPHA *(ALPHA/DIGIT/_). */
static gboolean
split_tag(const char *tag, char **name_r, char **value_r)
{
	const char *eq = strchr(tag, '=');
	const char *end;
	char *name;

	if (eq == NULL)
		return FALSE;
	end = eq;
	while (end > tag && is_wsp(end[-1]))
		end--;
	while (is_wsp(*tag))
		tag++;
	if (end == tag || !g_ascii_isalpha(*tag))
		return FALSE;
	for (const char *c = tag; c < end; c++)
		if (!g_ascii_isalnum(*c) && *c != '_')
			return FALSE;
	name = g_ascii_strdown(tag, end - tag);
	eq++;
	while (is_wsp(*eq))
		eq++;
	end = eq + strlen(eq);
	while (end > eq && is_wsp(end[-1]))
		end--;
	*name_r = name;
	*value_r = g_strndup(eq, end - eq);
	return TRUE;
}

static enum dmarc_policy
policy_value(const char *v)
{
	if (g_ascii_strcasecmp(v, "none") == 0)
		return DMARC_P_NONE;
	if (g_ascii_strcasecmp(v, "quarantine") == 0)
		return DMARC_P_QUARANTINE;
	if (g_ascii_strcasecmp(v, "reject") == 0)
		return DMARC_P_REJECT;
	return DMARC_NONE_FOUND;
}

/* Whether an rua= value names at least one URI ("scheme:rest", with an
 * optional "!size" after it): RFC 7489 lets such a record count as
 * p=none when its policy is bad, so that its owner still gets reports. */
static gboolean
rua_has_uri(const char *value)
{
	char **uris = g_strsplit(value, ",", -1);
	gboolean found = FALSE;

	for (guint i = 0; !found && uris[i] != NULL; i++) {
		const char *u = g_strstrip(uris[i]);
		const char *c = u;

		if (!g_ascii_isalpha(*c))
			continue;
		while (g_ascii_isalnum(*c) || *c == '+' || *c == '-' || *c == '.')
			c++;
		found = *c == ':' && c[1] != '\0' && c[1] != '!';
	}
	g_strfreev(uris);
	return found;
}

int
dmarc_record_parse(const char *txt, struct dmarc_record *rec_r,
		   GError **error)
{
	char **tags = g_strsplit(txt, ";", -1);
	char *name = NULL, *value = NULL;
	gboolean is_dmarc, have_p = FALSE, bad_sp = FALSE, rua = FALSE;
	const char *bad = NULL;
	struct dmarc_record rec = { DMARC_NONE_FOUND, DMARC_NONE_FOUND };
	int ret;

	/* The version tag must come first: anything else at _dmarc (an SPF
	 * record put there by mistake, say) is not a DMARC record at all. */
	is_dmarc = tags[0] != NULL && split_tag(tags[0], &name, &value) &&
		   strcmp(name, "v") == 0 && strcmp(value, "DMARC1") == 0;
	g_free(name);
	g_free(value);
	if (!is_dmarc) {
		g_strfreev(tags);
		return 0;
	}
	for (guint i = 1; tags[i] != NULL; i++) {
		/* Unknown or malformed tags are ignored (RFC 7489 6.3), and
		 * so is a repeated tag after its first value. */
		if (!split_tag(tags[i], &name, &value))
			continue;
		if (strcmp(name, "p") == 0 && !have_p) {
			have_p = TRUE;
			rec.p = policy_value(value);
			if (rec.p == DMARC_NONE_FOUND)
				bad = "p=";
		} else if (strcmp(name, "sp") == 0 && rec.sp == DMARC_NONE_FOUND &&
			   !bad_sp) {
			rec.sp = policy_value(value);
			bad_sp = rec.sp == DMARC_NONE_FOUND;
		} else if (strcmp(name, "rua") == 0) {
			rua = rua || rua_has_uri(value);
		}
		g_free(name);
		g_free(value);
	}
	g_strfreev(tags);
	if (!have_p)
		bad = "no p= tag";
	else if (bad != NULL)
		bad = "a p= that is not none, quarantine or reject";
	else if (bad_sp)
		bad = "an sp= that is not none, quarantine or reject";
	if (bad == NULL) {
		ret = 1;
	} else if (rua) {
		rec.p = DMARC_P_NONE;
		rec.sp = DMARC_NONE_FOUND;
		ret = 1;
	} else {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "DMARC record with %s", bad);
		ret = -1;
	}
	if (ret == 1)
		*rec_r = rec;
	return ret;
}

/* --- the resolver -------------------------------------------------------- */

/* "ADDR" or "ADDR:PORT", IPv4. */
static int
parse_server(const char *text, struct sockaddr_in *sin, GError **error)
{
	const char *colon = strchr(text, ':');
	char *host = g_strndup(text, colon != NULL ? (gsize)(colon - text)
						   : strlen(text));
	guint64 port = 53;
	int ok;

	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	ok = inet_pton(AF_INET, host, &sin->sin_addr) == 1;
	if (ok && colon != NULL)
		ok = g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port,
						NULL);
	g_free(host);
	if (!ok) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "dmarc.resolver: '%s' is not ADDRESS or ADDRESS:PORT "
			    "(IPv4)", text);
		return -1;
	}
	sin->sin_port = htons((uint16_t)port);
	return 0;
}

static void
cached_free(gpointer data)
{
	struct dmarc_cached *c = data;

	g_free(c->source);
	g_free(c);
}

struct dmarc_resolver *
dmarc_resolver_new_full(const char *server, int timeout_s, int cache_ttl_s,
			const char *psl_file, GError **error)
{
	struct dmarc_resolver *r = g_new0(struct dmarc_resolver, 1);

	r->timeout_s = timeout_s >= 1 ? timeout_s : 1;
	r->cache_ttl_s = cache_ttl_s >= 0 ? cache_ttl_s : 0;
	r->cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 cached_free);
	if (server != NULL && *server != '\0') {
		if (parse_server(server, &r->server, error) < 0)
			goto fail;
		r->have_server = TRUE;
	}
	if (psl_file == NULL || *psl_file == '\0') {
		r->psl = psl_latest(NULL);
		if (r->psl == NULL) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
				    "no Public Suffix List: set dmarc.psl_file "
				    "(Debian: install publicsuffix)");
			goto fail;
		}
	} else {
		r->psl = psl_load_file(psl_file);
		/* A setting's fault, not the file system's: HERALD_ERR_INVALID
		 * (the incoming runner shunts the posts that need it, rather
		 * than stopping for everyone). */
		if (r->psl == NULL) {
			int err = access(psl_file, R_OK) < 0 ? errno : 0;

			g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
				    "dmarc.psl_file: %s%s%s", psl_file,
				    err != 0 ? ": " : " ",
				    err != 0 ? g_strerror(err)
					     : "is not a Public Suffix List");
			goto fail;
		}
	}
	return r;
fail:
	dmarc_resolver_free(&r);
	return NULL;
}

struct dmarc_resolver *
dmarc_resolver_new(struct site *site, GError **error)
{
	struct dmarc_resolver *r = NULL;
	char *server, *psl_file = NULL;

	if ((server = site_get(site, "dmarc.resolver", error)) == NULL)
		return NULL;
	if ((psl_file = site_get(site, "dmarc.psl_file", error)) != NULL)
		r = dmarc_resolver_new_full(
			server, (int)site_get_int(site, "dmarc.timeout"),
			(int)site_get_int(site, "dmarc.cache_ttl"), psl_file,
			error);
	g_free(server);
	g_free(psl_file);
	return r;
}

void
dmarc_resolver_free(struct dmarc_resolver **rp)
{
	struct dmarc_resolver *r = *rp;

	if (r == NULL)
		return;
	if (r->psl != NULL)
		psl_free(r->psl);
	g_hash_table_unref(r->cache);
	g_free(r);
	*rp = NULL;
}

char *
dmarc_org_domain(struct dmarc_resolver *r, const char *domain)
{
	const char *reg;

	if (domain == NULL || *domain == '\0' || *domain == '[')
		return NULL;
	reg = psl_registrable_domain(r->psl, domain);
	return reg != NULL ? g_strdup(reg) : NULL;
}

/* --- DNS ------------------------------------------------------------------ */

/* The name of a resource record's domain-name rdata (a CNAME's target),
 * lower-cased, or NULL when it does not expand. */
static char *
rr_target(const ns_msg *msg, const ns_rr *rr)
{
	char buf[NS_MAXDNAME];

	if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg),
			       ns_rr_rdata(*rr), buf, sizeof buf) < 0)
		return NULL;
	return g_ascii_strdown(buf, -1);
}

/* A TXT record's character-strings joined, or NULL when it is malformed
 * or holds a NUL (no DMARC record can). */
static char *
rr_txt(const ns_rr *rr)
{
	const unsigned char *d = ns_rr_rdata(*rr);
	const unsigned char *end = d + ns_rr_rdlen(*rr);
	GString *s = g_string_new(NULL);

	while (d < end) {
		unsigned len = *d++;

		if (len > (unsigned)(end - d) || memchr(d, '\0', len) != NULL) {
			g_string_free(s, TRUE);
			return NULL;
		}
		g_string_append_len(s, (const char *)d, len);
		d += len;
	}
	return g_string_free(s, FALSE);
}

/* The TXT records of name in answer (following CNAMEs inside it, as the
 * recursive server gave them). */
static GPtrArray *
answer_txts(const unsigned char *answer, int len, const char *name,
	    GError **error)
{
	GPtrArray *txts = g_ptr_array_new_with_free_func(g_free);
	char *want = g_ascii_strdown(name, -1);
	ns_msg msg;
	ns_rr rr;
	int count;

	if (ns_initparse(answer, len, &msg) < 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "TXT %s: the DNS answer does not parse", name);
		g_ptr_array_unref(txts);
		g_free(want);
		return NULL;
	}
	count = ns_msg_count(msg, ns_s_an);
	for (int hop = 0; hop < DMARC_CNAME_HOPS; hop++) {
		char *next = NULL;

		for (int i = 0; next == NULL && i < count; i++)
			if (ns_parserr(&msg, ns_s_an, i, &rr) == 0 &&
			    ns_rr_type(rr) == ns_t_cname &&
			    g_ascii_strcasecmp(ns_rr_name(rr), want) == 0)
				next = rr_target(&msg, &rr);
		if (next == NULL)
			break;
		g_free(want);
		want = next;
	}
	for (int i = 0; i < count; i++) {
		char *txt;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 ||
		    ns_rr_type(rr) != ns_t_txt ||
		    g_ascii_strcasecmp(ns_rr_name(rr), want) != 0)
			continue;
		if ((txt = rr_txt(&rr)) != NULL)
			g_ptr_array_add(txts, txt);
	}
	g_free(want);
	return txts;
}

/* Asks for the TXT records of name: 1 and *txts_r (maybe empty: only
 * other types there), 0 when the name or its TXT records do not exist
 * (NXDOMAIN, NODATA), -1 when DNS failed. */
int
dmarc_query_txt(struct dmarc_resolver *r, const char *name, GPtrArray **txts_r,
		GError **error)
{
	struct __res_state st;
	unsigned char *answer;
	int n, herr, err, ret = -1;
	gint64 t0, waited;

	*txts_r = NULL;
	memset(&st, 0, sizeof st);
	if (res_ninit(&st) < 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "TXT %s: res_ninit failed", name);
		return -1;
	}
	if (r->have_server) {
		st.nscount = 1;
		st.nsaddr_list[0] = r->server;
	}
	st.retrans = r->timeout_s;
	st.retry = 1;
	st.options |= RES_USE_EDNS0;
	answer = g_malloc(DMARC_ANSWER_MAX);
	t0 = g_get_monotonic_time();
	errno = 0;
	n = res_nquery(&st, name, ns_c_in, ns_t_txt, answer, DMARC_ANSWER_MAX);
	err = errno;
	herr = st.res_h_errno;
	waited = g_get_monotonic_time() - t0;
	res_nclose(&st);
	if (n >= 0) {
		*txts_r = answer_txts(answer, n < DMARC_ANSWER_MAX ? n
						: DMARC_ANSWER_MAX,
				      name, error);
		ret = *txts_r != NULL ? 1 : -1;
	} else if (herr == HOST_NOT_FOUND || herr == NO_DATA) {
		ret = 0;
	} else if (herr == TRY_AGAIN &&
		   waited >= (gint64)r->timeout_s * G_USEC_PER_SEC) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT,
			    "TXT %s: no answer from the DNS server in %d s",
			    name, r->timeout_s);
	} else if (herr == TRY_AGAIN && err != 0 && err != ETIMEDOUT) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "TXT %s: no answer from the DNS server: %s", name,
			    g_strerror(err));
	} else if (herr == TRY_AGAIN) {
		/* glibc reports a SERVFAIL (or REFUSED) answer as a
		 * timeout; the clock tells them apart. */
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "TXT %s: DNS server failure (SERVFAIL or REFUSED)",
			    name);
	} else {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO,
			    "TXT %s: DNS query failed: %s", name,
			    hstrerror(herr));
	}
	g_free(answer);
	return ret;
}

/* What _dmarc.<domain> says. */
enum found {
	FOUND_FAILED = -1,	/* DNS failed: *error set */
	FOUND_NOTHING,		/* no DMARC record: ask the org domain */
	FOUND_UNUSABLE,		/* DMARC records, but not one usable: stop */
	FOUND_RECORD,		/* *rec_r */
};

static enum found
domain_record(struct dmarc_resolver *r, const char *domain,
	      struct dmarc_record *rec_r, GError **error)
{
	char *name = g_strconcat("_dmarc.", domain, NULL);
	GPtrArray *txts = NULL;
	enum found f = FOUND_NOTHING;
	guint dmarcs = 0;
	int q;

	/* A name too long for DNS cannot have a record (and asking would
	 * fail as if DNS had). */
	if (strlen(name) > DMARC_NAME_MAX) {
		g_free(name);
		return FOUND_NOTHING;
	}
	q = dmarc_query_txt(r, name, &txts, error);
	if (q < 0)
		f = FOUND_FAILED;
	for (guint i = 0; q > 0 && i < txts->len; i++) {
		struct dmarc_record rec;
		GError *bad = NULL;
		int p = dmarc_record_parse(txts->pdata[i], &rec, &bad);

		if (p == 0)
			continue;
		dmarcs++;
		if (p > 0) {
			*rec_r = rec;
			f = FOUND_RECORD;
		} else {
			log_info(DMARC_SUBSYS, "%s: %s (%s): no DMARC policy",
				 name, bad->message, (char *)txts->pdata[i]);
			f = FOUND_UNUSABLE;
		}
		g_clear_error(&bad);
	}
	/* Several DMARC records are an error of the domain's: RFC 7489
	 * applies none of them (and does not look further). */
	if (dmarcs > 1) {
		log_info(DMARC_SUBSYS, "%s: %u DMARC records: no DMARC policy",
			 name, dmarcs);
		f = FOUND_UNUSABLE;
	}
	if (txts != NULL)
		g_ptr_array_unref(txts);
	g_free(name);
	return f;
}

/* The lookup itself, uncached. */
static int
discover(struct dmarc_resolver *r, const char *domain,
	 enum dmarc_policy *policy_r, char **source_r, GError **error)
{
	struct dmarc_record rec;
	enum found f;
	char *org;

	*policy_r = DMARC_NONE_FOUND;
	*source_r = NULL;
	f = domain_record(r, domain, &rec, error);
	if (f == FOUND_RECORD) {
		*policy_r = rec.p;
		*source_r = g_strdup(domain);
		return 0;
	}
	if (f != FOUND_NOTHING)
		goto stop;
	/* Nothing at the domain itself: its organizational domain's record
	 * applies, with sp= (the policy for subdomains) before p=. */
	org = dmarc_org_domain(r, domain);
	if (org == NULL || strcmp(org, domain) == 0) {
		g_free(org);
		return 0;
	}
	f = domain_record(r, org, &rec, error);
	if (f == FOUND_RECORD) {
		*policy_r = rec.sp != DMARC_NONE_FOUND ? rec.sp : rec.p;
		*source_r = org;
		return 0;
	}
	g_free(org);
stop:
	if (f == FOUND_FAILED) {
		*policy_r = DMARC_TEMPERROR;
		return -1;
	}
	return 0;
}

int
dmarc_lookup(struct dmarc_resolver *r, const char *domain,
	     enum dmarc_policy *policy_r, char **source_r, GError **error)
{
	char *key = g_ascii_strdown(domain != NULL ? domain : "", -1);
	gint64 now = g_get_monotonic_time();
	struct dmarc_cached *c;
	char *source = NULL;
	size_t len = strlen(key);
	int ret;

	if (len > 0 && key[len - 1] == '.')
		key[--len] = '\0';
	/* No name, or an address literal: no DNS, no policy. */
	if (len == 0 || *key == '[' || *key == '.' || len > DMARC_NAME_MAX) {
		g_free(key);
		*policy_r = DMARC_NONE_FOUND;
		if (source_r != NULL)
			*source_r = NULL;
		return 0;
	}
	c = g_hash_table_lookup(r->cache, key);
	if (c != NULL && c->expires > now) {
		*policy_r = c->policy;
		if (source_r != NULL)
			*source_r = g_strdup(c->source);
		g_free(key);
		return 0;
	}
	ret = discover(r, key, policy_r, &source, error);
	if (ret == 0 && r->cache_ttl_s > 0) {
		if (g_hash_table_size(r->cache) >= DMARC_CACHE_MAX)
			g_hash_table_remove_all(r->cache);
		c = g_new0(struct dmarc_cached, 1);
		c->policy = *policy_r;
		c->source = g_strdup(source);
		c->expires = now + (gint64)r->cache_ttl_s * G_USEC_PER_SEC;
		g_hash_table_replace(r->cache, key, c);
		key = NULL;
	}
	g_free(key);
	if (source_r != NULL)
		*source_r = source;
	else
		g_free(source);
	return ret;
}

/* --- dmarc_moderation_addresses ------------------------------------------- */

static gboolean
entry_matches(const char *entry, const char *addr)
{
	GError *e = NULL;
	GRegex *re;
	gboolean m;

	if (entry[0] != '^')
		return address_equal(entry, addr);
	if ((re = g_regex_new(entry, G_REGEX_CASELESS, 0, &e)) == NULL) {
		log_warning("dmarc", "bad regex %s in dmarc_moderation_addresses: "
			    "%s", entry, e->message);
		g_error_free(e);
		return FALSE;
	}
	m = g_regex_match(re, addr, 0, NULL);
	g_regex_unref(re);
	return m;
}

gboolean
dmarc_address_listed(char **entries, const char *addr)
{
	for (guint i = 0; entries != NULL && entries[i] != NULL; i++)
		if (*entries[i] != '\0' && entry_matches(entries[i], addr))
			return TRUE;
	return FALSE;
}
