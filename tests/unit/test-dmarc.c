/*
 * test-dmarc.c - unit tests for dmarc.c and pipe_dmarc.c: DMARC record
 * parsing, the organizational domain, policy discovery against a DNS
 * server in the test (records at the domain and at its organizational
 * domain, several records, CNAMEs, SERVFAIL, a server that never
 * answers, the cache), the dmarc handler's decisions, and the
 * wrapmessage handler's munged and wrapped messages, header by header.
 *
 * The DNS server is a thread answering UDP on 127.0.0.1 from a fixed
 * zone, so the lookups are real res_nquery calls that need no network.
 * Each test runs in a child process with a fresh temporary directory.
 */
#include "base/base.h"
#include "mail/dmarc.h"
#include "list/list.h"
#include "base/log.h"
#include "mail/message.h"
#include "pipeline/pipeline.h"
#include "store/queue.h"
#include "store/site.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

/* --- a DNS server for the tests --------------------------------------------- */

enum zone_kind { Z_TXT, Z_CNAME, Z_SERVFAIL, Z_DROP, Z_NODATA };

struct zone_rr {
	const char *name;
	enum zone_kind kind;
	const char *a, *b;	/* TXT: one or two strings; CNAME: a target */
};

static const struct zone_rr zone[] = {
	{ "_dmarc.reject.test", Z_TXT, "v=DMARC1; p=reject", NULL },
	{ "_dmarc.quarantine.test", Z_TXT, "v=DMARC1; p=quarantine; pct=20", NULL },
	{ "_dmarc.none.test", Z_TXT, "v=DMARC1; p=none; rua=mailto:d@none.test", NULL },
	{ "_dmarc.orgonly.test", Z_TXT, "v=DMARC1; p=none; sp=reject", NULL },
	{ "_dmarc.two.test", Z_TXT, "v=DMARC1; p=reject", NULL },
	{ "_dmarc.two.test", Z_TXT, "v=DMARC1; p=none", NULL },
	{ "_dmarc.mixed.test", Z_TXT, "v=spf1 -all", NULL },
	{ "_dmarc.mixed.test", Z_TXT, "v=DMARC1; p=quarantine", NULL },
	{ "_dmarc.bad.test", Z_TXT, "v=DMARC1; p=bogus", NULL },
	{ "_dmarc.strict.test", Z_TXT, "v=DMARC1; p=reject", NULL },
	{ "_dmarc.lax.strict.test", Z_TXT, "v=DMARC1; p=none", NULL },
	{ "_dmarc.alias.test", Z_CNAME, "_dmarc.reject.test", NULL },
	{ "_dmarc.split.test", Z_TXT, "v=DMARC1; p=", "quarantine" },
	{ "_dmarc.servfail.test", Z_SERVFAIL, NULL, NULL },
	{ "_dmarc.orgfail.test", Z_SERVFAIL, NULL, NULL },
	{ "_dmarc.slow.test", Z_DROP, NULL, NULL },
	{ "_dmarc.nodata.test", Z_NODATA, NULL, NULL },
};

struct fake_dns {
	int fd;
	guint16 port;
	GThread *thread;
	gint queries;
	gint stop;
};

static void
put16(GByteArray *b, unsigned v)
{
	guint8 x[2] = { (guint8)(v >> 8), (guint8)v };

	g_byte_array_append(b, x, 2);
}

static void
put_name(GByteArray *b, const char *name)
{
	char **labels = g_strsplit(name, ".", -1);

	for (guint i = 0; labels[i] != NULL; i++) {
		guint8 len = (guint8)strlen(labels[i]);

		g_byte_array_append(b, &len, 1);
		g_byte_array_append(b, (guint8 *)labels[i], len);
	}
	g_byte_array_append(b, (const guint8 *)"", 1);
	g_strfreev(labels);
}

/* One resource record: owner, type, class IN, TTL 60, rdata. */
static void
put_rr(GByteArray *b, const char *owner, unsigned type, GByteArray *rdata)
{
	put_name(b, owner);
	put16(b, type);
	put16(b, 1);
	put16(b, 0);
	put16(b, 60);
	put16(b, rdata->len);
	g_byte_array_append(b, rdata->data, rdata->len);
}

static void
put_txt_rr(GByteArray *b, const struct zone_rr *z)
{
	GByteArray *rd = g_byte_array_new();
	const char *s[2] = { z->a, z->b };

	for (int i = 0; i < 2 && s[i] != NULL; i++) {
		guint8 len = (guint8)strlen(s[i]);

		g_byte_array_append(rd, &len, 1);
		g_byte_array_append(rd, (const guint8 *)s[i], len);
	}
	put_rr(b, z->name, 16, rd);
	g_byte_array_unref(rd);
}

/* The answer to query q (n bytes), or NULL to stay silent. */
static GByteArray *
fake_answer(const guint8 *q, size_t n)
{
	GString *qname = g_string_new(NULL);
	GByteArray *ans, *an = g_byte_array_new();
	size_t off = 12;
	unsigned rcode = 3, ancount = 0;
	gboolean drop = FALSE;
	char *name;

	while (off < n && q[off] != 0 && off + 1 + q[off] <= n) {
		if (qname->len > 0)
			g_string_append_c(qname, '.');
		g_string_append_len(qname, (const char *)q + off + 1, q[off]);
		off += 1 + q[off];
	}
	off += 5;		/* the root label, QTYPE, QCLASS */
	if (off > n) {
		g_string_free(qname, TRUE);
		g_byte_array_unref(an);
		return NULL;
	}
	name = g_ascii_strdown(qname->str, -1);
	g_string_free(qname, TRUE);
	/* CNAMEs first (a chain of them), then the TXT records there. */
	for (int hop = 0; hop < 4; hop++) {
		gboolean moved = FALSE;

		for (gsize i = 0; i < G_N_ELEMENTS(zone); i++) {
			GByteArray *rd;

			if (zone[i].kind != Z_CNAME || strcmp(zone[i].name, name) != 0)
				continue;
			rd = g_byte_array_new();
			put_name(rd, zone[i].a);
			put_rr(an, name, 5, rd);
			g_byte_array_unref(rd);
			ancount++;
			g_free(name);
			name = g_strdup(zone[i].a);
			moved = TRUE;
			rcode = 0;
			break;
		}
		if (!moved)
			break;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(zone); i++) {
		if (strcmp(zone[i].name, name) != 0)
			continue;
		switch (zone[i].kind) {
		case Z_TXT:
			put_txt_rr(an, &zone[i]);
			ancount++;
			rcode = 0;
			break;
		case Z_NODATA:
			rcode = 0;
			break;
		case Z_SERVFAIL:
			rcode = 2;
			break;
		case Z_DROP:
			drop = TRUE;
			break;
		case Z_CNAME:
			break;
		}
	}
	g_free(name);
	if (drop) {
		g_byte_array_unref(an);
		return NULL;
	}
	ans = g_byte_array_new();
	g_byte_array_append(ans, q, 2);			/* ID */
	put16(ans, 0x8000 | 0x0400 | (q[2] & 1) << 8 | 0x80 | rcode);
	put16(ans, 1);
	put16(ans, ancount);
	put16(ans, 0);
	put16(ans, 0);
	g_byte_array_append(ans, q + 12, off - 12);	/* the question */
	g_byte_array_append(ans, an->data, an->len);
	g_byte_array_unref(an);
	return ans;
}

static gpointer
fake_dns_run(gpointer data)
{
	struct fake_dns *d = data;
	guint8 buf[4096];

	while (!g_atomic_int_get(&d->stop)) {
		struct pollfd pfd = { d->fd, POLLIN, 0 };
		struct sockaddr_in from;
		socklen_t flen = sizeof from;
		GByteArray *ans;
		ssize_t n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recvfrom(d->fd, buf, sizeof buf, 0, (struct sockaddr *)&from,
			     &flen);
		if (n < 12)
			continue;
		g_atomic_int_inc(&d->queries);
		if ((ans = fake_answer(buf, (size_t)n)) == NULL)
			continue;
		(void)sendto(d->fd, ans->data, ans->len, 0,
			     (struct sockaddr *)&from, flen);
		g_byte_array_unref(ans);
	}
	return NULL;
}

static struct fake_dns *
fake_dns_start(void)
{
	struct fake_dns *d = g_new0(struct fake_dns, 1);
	struct sockaddr_in sin = { 0 };
	socklen_t len = sizeof sin;

	d->fd = socket(AF_INET, SOCK_DGRAM, 0);
	g_assert_cmpint(d->fd, >=, 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(d->fd, (struct sockaddr *)&sin, sizeof sin), ==, 0);
	g_assert_cmpint(getsockname(d->fd, (struct sockaddr *)&sin, &len), ==, 0);
	d->port = ntohs(sin.sin_port);
	d->thread = g_thread_new("fake-dns", fake_dns_run, d);
	return d;
}

static void
fake_dns_stop(struct fake_dns **dp)
{
	struct fake_dns *d = *dp;

	g_atomic_int_set(&d->stop, 1);
	g_thread_join(d->thread);
	close(d->fd);
	g_free(d);
	*dp = NULL;
}

static char *
fake_dns_server(const struct fake_dns *d)
{
	return g_strdup_printf("127.0.0.1:%u", d->port);
}

/* A small Public Suffix List: test, uk and co.uk are public suffixes.
 * (Wildcard rules are tried on the real list: libpsl 0.21 misreads them
 * in some tiny lists.) */
static char *
write_psl(void)
{
	char *path = g_build_filename(g_get_tmp_dir(), "psl.dat", NULL);
	static const char text[] =
		"// ===BEGIN ICANN DOMAINS===\n"
		"test\nuk\nco.uk\n"
		"// ===END ICANN DOMAINS===\n";

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	return path;
}

static struct dmarc_resolver *
resolver_new(struct fake_dns *d, int timeout, int ttl)
{
	char *server = d != NULL ? fake_dns_server(d) : NULL;
	char *psl = write_psl();
	GError *error = NULL;
	struct dmarc_resolver *r = dmarc_resolver_new_full(server, timeout, ttl,
							   psl, &error);

	g_assert_no_error(error);
	g_assert_nonnull(r);
	g_free(server);
	g_free(psl);
	return r;
}

/* Looks domain up and checks the policy and where it came from. */
static void
assert_policy(struct dmarc_resolver *r, const char *domain,
	      enum dmarc_policy want, const char *want_source)
{
	enum dmarc_policy got = 99;
	char *source = NULL;
	GError *error = NULL;
	int ret = dmarc_lookup(r, domain, &got, &source, &error);

	if (got != want)
		g_test_message("%s: got %s, want %s", domain,
			       dmarc_policy_name(got), dmarc_policy_name(want));
	g_assert_cmpint(got, ==, want);
	if (want == DMARC_TEMPERROR) {
		g_assert_cmpint(ret, ==, -1);
		g_assert_nonnull(error);
	} else {
		g_assert_cmpint(ret, ==, 0);
		g_assert_no_error(error);
	}
	g_assert_cmpstr(source, ==, want_source);
	g_clear_error(&error);
	g_free(source);
}

/* --- records ------------------------------------------------------------- */

static void
assert_record(const char *txt, int want_ret, enum dmarc_policy want_p,
	      enum dmarc_policy want_sp)
{
	struct dmarc_record rec = { 99, 99 };
	GError *error = NULL;
	int ret = dmarc_record_parse(txt, &rec, &error);

	if (ret != want_ret)
		g_test_message("'%s': got %d, want %d", txt, ret, want_ret);
	g_assert_cmpint(ret, ==, want_ret);
	if (ret == 1) {
		g_assert_no_error(error);
		g_assert_cmpint(rec.p, ==, want_p);
		g_assert_cmpint(rec.sp, ==, want_sp);
	} else if (ret == 0) {
		g_assert_no_error(error);
		g_assert_cmpint(rec.p, ==, 99);	/* untouched */
	} else {
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
		g_assert_cmpint(rec.p, ==, 99);
	}
	g_clear_error(&error);
}

static void
test_record_valid_policies_and_sp(void)
{
	assert_record("v=DMARC1; p=reject", 1, DMARC_P_REJECT, DMARC_NONE_FOUND);
	assert_record("v=DMARC1; p=quarantine;", 1, DMARC_P_QUARANTINE,
		      DMARC_NONE_FOUND);
	assert_record("v=DMARC1;p=none", 1, DMARC_P_NONE, DMARC_NONE_FOUND);
	assert_record("v=DMARC1; p=none; sp=reject", 1, DMARC_P_NONE,
		      DMARC_P_REJECT);
	assert_record("v=DMARC1; sp=quarantine; p=reject", 1, DMARC_P_REJECT,
		      DMARC_P_QUARANTINE);
}

/* RFC 7489's ABNF: WSP around '=' and ';', tag names and policy words in
 * any case; the version word itself is case-sensitive. */
static void
test_record_whitespace_and_case(void)
{
	assert_record("v = DMARC1 ;\tP = Reject ; SP=None", 1, DMARC_P_REJECT,
		      DMARC_P_NONE);
	assert_record("V=DMARC1; p=QUARANTINE", 1, DMARC_P_QUARANTINE,
		      DMARC_NONE_FOUND);
	assert_record("v=dmarc1; p=reject", 0, 0, 0);
}

/* pct=, rua=, adkim= and unknown or malformed tags change nothing: a
 * policy applies to all mail (pct= is ignored, as in Mailman). */
static void
test_record_ignores_pct_and_unknown_tags(void)
{
	assert_record("v=DMARC1; p=reject; pct=0", 1, DMARC_P_REJECT,
		      DMARC_NONE_FOUND);
	assert_record("v=DMARC1; fo=1; junk; x-y=z; =q; p=quarantine; "
		      "rua=mailto:a@example.org; adkim=s", 1,
		      DMARC_P_QUARANTINE, DMARC_NONE_FOUND);
	/* A repeated tag: its first value counts. */
	assert_record("v=DMARC1; p=reject; p=none", 1, DMARC_P_REJECT,
		      DMARC_NONE_FOUND);
}

static void
test_record_without_v_first_is_not_dmarc(void)
{
	assert_record("p=reject", 0, 0, 0);
	assert_record("p=reject; v=DMARC1", 0, 0, 0);
	assert_record("v=spf1 include:example.org -all", 0, 0, 0);
	assert_record("v=DMARC2; p=reject", 0, 0, 0);
	assert_record("v=DMARC1p=reject", 0, 0, 0);
	assert_record("", 0, 0, 0);
}

/* A DMARC record with no usable policy is an error (-1), unless it names a
 * reporting address: then RFC 7489 6.6.3 makes it p=none. */
static void
test_record_bad_or_missing_p(void)
{
	assert_record("v=DMARC1; p=bogus", -1, 0, 0);
	assert_record("v=DMARC1; p=", -1, 0, 0);
	assert_record("v=DMARC1", -1, 0, 0);
	assert_record("v=DMARC1; rua=", -1, 0, 0);
	assert_record("v=DMARC1; p=reject; sp=maybe", -1, 0, 0);
	assert_record("v=DMARC1; p=bogus; rua=mailto:dmarc@example.org", 1,
		      DMARC_P_NONE, DMARC_NONE_FOUND);
	assert_record("v=DMARC1; rua=mailto:dmarc@example.org", 1,
		      DMARC_P_NONE, DMARC_NONE_FOUND);
	assert_record("v=DMARC1; p=reject; sp=x; rua=mailto:d@example.org", 1,
		      DMARC_P_NONE, DMARC_NONE_FOUND);
}

/* --- the organizational domain --------------------------------------------- */

static void
assert_org(struct dmarc_resolver *r, const char *domain, const char *want)
{
	char *org = dmarc_org_domain(r, domain);

	g_assert_cmpstr(org, ==, want);
	g_free(org);
}

static void
test_org_domain_from_psl(void)
{
	struct dmarc_resolver *r = resolver_new(NULL, 1, 0);

	assert_org(r, "a.b.example.co.uk", "example.co.uk");
	assert_org(r, "example.co.uk", "example.co.uk");
	assert_org(r, "mail.example.uk", "example.uk");
	assert_org(r, "sub.orgonly.test", "orgonly.test");
	assert_org(r, "co.uk", NULL);
	assert_org(r, "uk", NULL);
	assert_org(r, "", NULL);
	assert_org(r, "[192.0.2.1]", NULL);
	dmarc_resolver_free(&r);
	g_assert_null(r);
}

/* The list the system ships (Debian's publicsuffix), when it is there. */
static void
test_org_domain_system_psl(void)
{
	const char *path = "/usr/share/publicsuffix/public_suffix_list.dat";
	struct dmarc_resolver *r;
	GError *error = NULL;

	if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
		g_test_skip("no system Public Suffix List");
		return;
	}
	r = dmarc_resolver_new_full(NULL, 1, 0, path, &error);
	g_assert_no_error(error);
	assert_org(r, "a.b.example.co.uk", "example.co.uk");
	assert_org(r, "mail.example.com", "example.com");
	assert_org(r, "xn--mgbaam7a8h", NULL);	/* a TLD */
	assert_org(r, "lists.xn--mgbaam7a8h", "lists.xn--mgbaam7a8h");
	assert_org(r, "x.lists.xn--mnchen-3ya.de", "xn--mnchen-3ya.de");
	/* Wildcard and exception rules: every x.ck is a suffix, but www.ck
	 * is registrable; private-section suffixes count too. */
	assert_org(r, "a.b.ck", "a.b.ck");
	assert_org(r, "x.www.ck", "www.ck");
	assert_org(r, "foo.bar.github.io", "bar.github.io");
	dmarc_resolver_free(&r);
}

static void
test_resolver_refuses_bad_settings(void)
{
	GError *error = NULL;
	char *psl = write_psl();
	struct dmarc_resolver *r;
	static const char *const bad[] = {
		"localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"::1", "1.2.3", "127.0.0.1:53x",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		r = dmarc_resolver_new_full(bad[i], 1, 0, psl, &error);
		g_assert_null(r);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
		g_assert_nonnull(strstr(error->message, "dmarc.resolver"));
		g_clear_error(&error);
	}
	r = dmarc_resolver_new_full("127.0.0.1", 1, 0, "/nonexistent/psl.dat",
				    &error);
	g_assert_null(r);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "/nonexistent/psl.dat"));
	g_clear_error(&error);
	g_free(psl);
}

/* --- lookups --------------------------------------------------------------- */

static void
test_lookup_policies_at_the_domain(void)
{
	struct fake_dns *d = fake_dns_start();
	struct dmarc_resolver *r = resolver_new(d, 2, 0);

	assert_policy(r, "reject.test", DMARC_P_REJECT, "reject.test");
	assert_policy(r, "quarantine.test", DMARC_P_QUARANTINE, "quarantine.test");
	assert_policy(r, "none.test", DMARC_P_NONE, "none.test");
	/* An SPF record beside the DMARC one is not counted. */
	assert_policy(r, "mixed.test", DMARC_P_QUARANTINE, "mixed.test");
	/* A record in two character-strings is one record. */
	assert_policy(r, "split.test", DMARC_P_QUARANTINE, "split.test");
	/* A CNAME is followed. */
	assert_policy(r, "alias.test", DMARC_P_REJECT, "alias.test");
	/* Domain names are compared without regard to case or a final dot. */
	assert_policy(r, "Reject.TEST.", DMARC_P_REJECT, "reject.test");
	assert_policy(r, "nothing.test", DMARC_NONE_FOUND, NULL);
	dmarc_resolver_free(&r);
	fake_dns_stop(&d);
}

/* Without a record of its own, a domain gets its organizational domain's:
 * sp= when there is one, else p=. */
static void
test_lookup_falls_back_to_org_domain_sp_then_p(void)
{
	struct fake_dns *d = fake_dns_start();
	struct dmarc_resolver *r = resolver_new(d, 2, 0);

	assert_policy(r, "sub.orgonly.test", DMARC_P_REJECT, "orgonly.test");
	assert_policy(r, "a.b.orgonly.test", DMARC_P_REJECT, "orgonly.test");
	assert_policy(r, "orgonly.test", DMARC_P_NONE, "orgonly.test");
	assert_policy(r, "mail.reject.test", DMARC_P_REJECT, "reject.test");
	/* NODATA (the name exists, without TXT) is "no record" too. */
	assert_policy(r, "x.nodata.test", DMARC_NONE_FOUND, NULL);
	/* A record of its own wins over the organizational domain's. */
	assert_policy(r, "lax.strict.test", DMARC_P_NONE, "lax.strict.test");
	dmarc_resolver_free(&r);
	fake_dns_stop(&d);
}

/* Several DMARC records, or one that is unusable, mean no policy: RFC
 * 7489 stops there and does not ask the organizational domain. */
static void
test_lookup_several_or_bad_records_no_policy(void)
{
	struct fake_dns *d = fake_dns_start();
	struct dmarc_resolver *r = resolver_new(d, 2, 0);

	assert_policy(r, "two.test", DMARC_NONE_FOUND, NULL);
	assert_policy(r, "sub.two.test", DMARC_NONE_FOUND, NULL);
	assert_policy(r, "bad.test", DMARC_NONE_FOUND, NULL);
	g_assert_cmpint(g_atomic_int_get(&d->queries), ==, 4);
	dmarc_resolver_free(&r);
	fake_dns_stop(&d);
}

static void
test_lookup_dns_failures_are_temperror(void)
{
	struct fake_dns *d = fake_dns_start();
	struct dmarc_resolver *r = resolver_new(d, 1, 60);
	enum dmarc_policy got;
	GError *error = NULL;
	gint64 t0;
	int queries;

	assert_policy(r, "servfail.test", DMARC_TEMPERROR, NULL);
	g_assert_cmpint(dmarc_lookup(r, "servfail.test", &got, NULL, &error), ==, -1);
	g_assert_nonnull(strstr(error->message, "SERVFAIL"));
	g_assert_nonnull(strstr(error->message, "_dmarc.servfail.test"));
	g_clear_error(&error);
	/* A failure at the organizational domain too. */
	assert_policy(r, "sub.orgfail.test", DMARC_TEMPERROR, NULL);
	/* A server that does not answer: the timeout (1 s), one try. */
	t0 = g_get_monotonic_time();
	g_assert_cmpint(dmarc_lookup(r, "slow.test", &got, NULL, &error), ==, -1);
	g_assert_cmpint(got, ==, DMARC_TEMPERROR);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_TIMEOUT);
	g_clear_error(&error);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 3 * G_USEC_PER_SEC);
	/* Failures are not cached: the next post asks again. */
	queries = g_atomic_int_get(&d->queries);
	assert_policy(r, "servfail.test", DMARC_TEMPERROR, NULL);
	g_assert_cmpint(g_atomic_int_get(&d->queries), ==, queries + 1);
	dmarc_resolver_free(&r);
	fake_dns_stop(&d);
}

static void
test_lookup_nothing_listening_is_temperror(void)
{
	struct dmarc_resolver *r;
	struct fake_dns *d = fake_dns_start();
	char *psl = write_psl();
	GError *error = NULL;
	enum dmarc_policy got;
	char *server;

	/* The port of a server that is gone. */
	server = fake_dns_server(d);
	fake_dns_stop(&d);
	r = dmarc_resolver_new_full(server, 1, 0, psl, &error);
	g_assert_no_error(error);
	g_assert_cmpint(dmarc_lookup(r, "reject.test", &got, NULL, &error), ==, -1);
	g_assert_cmpint(got, ==, DMARC_TEMPERROR);
	g_assert_nonnull(error);
	g_clear_error(&error);
	dmarc_resolver_free(&r);
	g_free(server);
	g_free(psl);
}

static void
test_lookup_cache_keeps_answers_for_ttl(void)
{
	struct fake_dns *d = fake_dns_start();
	struct dmarc_resolver *r = resolver_new(d, 2, 60);
	struct dmarc_resolver *nocache = resolver_new(d, 2, 0);

	assert_policy(r, "reject.test", DMARC_P_REJECT, "reject.test");
	assert_policy(r, "nothing.test", DMARC_NONE_FOUND, NULL);
	g_assert_cmpint(g_atomic_int_get(&d->queries), ==, 2);
	assert_policy(r, "reject.test", DMARC_P_REJECT, "reject.test");
	assert_policy(r, "REJECT.test", DMARC_P_REJECT, "reject.test");
	assert_policy(r, "nothing.test", DMARC_NONE_FOUND, NULL);
	g_assert_cmpint(g_atomic_int_get(&d->queries), ==, 2);
	/* cache_ttl 0: DNS every time. */
	assert_policy(nocache, "reject.test", DMARC_P_REJECT, "reject.test");
	assert_policy(nocache, "reject.test", DMARC_P_REJECT, "reject.test");
	g_assert_cmpint(g_atomic_int_get(&d->queries), ==, 4);
	dmarc_resolver_free(&r);
	dmarc_resolver_free(&nocache);
	fake_dns_stop(&d);
}

/* An address literal or an empty domain has no DNS name: no query. */
static void
test_lookup_no_domain_asks_nothing(void)
{
	struct fake_dns *d = fake_dns_start();
	struct dmarc_resolver *r = resolver_new(d, 2, 0);

	assert_policy(r, "", DMARC_NONE_FOUND, NULL);
	assert_policy(r, "[192.0.2.1]", DMARC_NONE_FOUND, NULL);
	assert_policy(r, ".", DMARC_NONE_FOUND, NULL);
	g_assert_cmpint(g_atomic_int_get(&d->queries), ==, 0);
	/* A domain too long for "_dmarc." in front: no record there, so
	 * only its organizational domain is asked (once). */
	{
		GString *longname = g_string_new(NULL);

		while (longname->len < 240)
			g_string_append(longname, "abcdefghi.");
		g_string_append(longname, "reject.test");
		assert_policy(r, longname->str, DMARC_P_REJECT, "reject.test");
		g_assert_cmpint(g_atomic_int_get(&d->queries), ==, 1);
		g_string_free(longname, TRUE);
	}
	dmarc_resolver_free(&r);
	fake_dns_stop(&d);
}

/* --- the handlers: a site, a list, posts ------------------------------------ */

#define SENDER "bounce@elsewhere.example"	/* the posts' envelope sender */

/* The test DNS server, the site's DMARC resolver in the handler tests
 * (each test runs in a process of its own). */
static struct fake_dns *dns;

/* A var dir, the list demo@example.org, and the test DNS server as the
 * site's DMARC resolver. */
static void
fixture_init(struct list_fixture *f)
{
	char *server, *psl;

	list_fixture_init(f, "demo@example.org");
	dns = fake_dns_start();
	server = fake_dns_server(dns);
	psl = write_psl();
	site_set_ok(f->site, "dmarc.resolver", server);
	site_set_ok(f->site, "dmarc.psl_file", psl);
	site_set_ok(f->site, "dmarc.timeout", "1");
	g_free(server);
	g_free(psl);
}

static void
fixture_clear(struct list_fixture *f)
{
	list_fixture_clear(f);
	fake_dns_stop(&dns);
}

static char *
post_from(struct list_fixture *f, const char *from)
{
	return g_strdup_printf("From: %s\nTo: demo@example.org\n"
			       "Subject: hello\nMessage-ID: <1@x>\n\nHi.\n",
			       from);
}

/* Runs pipe_dmarc on a post From: from and checks the result. */
static struct post *
dmarc_run(struct list_fixture *f, const char *from, gboolean approved,
	  enum pipe_result want)
{
	char *text = post_from(f, from);
	struct post *p = fixture_post(f, SENDER, text);
	GError *error = NULL;
	enum pipe_result r;

	p->approved = approved;
	r = pipe_dmarc(p, &error);
	g_assert_no_error(error);
	g_assert_cmpint(r, ==, want);
	g_free(text);
	return p;
}

static void
test_dmarc_action_accept_asks_nothing(void)
{
	struct list_fixture f;
	struct post *p;

	fixture_init(&f);
	p = dmarc_run(&f, "a@reject.test", FALSE, PIPE_CONTINUE);
	g_assert_null(queue_meta_get(p->meta, "dmarc"));
	g_assert_cmpint(g_atomic_int_get(&dns->queries), ==, 0);
	/* No resolver made either. */
	g_assert_null(f.env.dmarc);
	post_free(&p);
	fixture_clear(&f);
}

static void
test_dmarc_munge_and_wrap_are_recorded(void)
{
	struct list_fixture f;
	struct post *p;

	fixture_init(&f);
	list_set_ok(f.list, "dmarc_moderation_action", "munge_from");
	p = dmarc_run(&f, "a@reject.test", FALSE, PIPE_CONTINUE);
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc"), ==, "munge");
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc-policy"), ==, "reject");
	/* The resolver is the runner's, made once. */
	g_assert_nonnull(f.env.dmarc);
	g_assert_true(f.env.dmarc_free != NULL);
	post_free(&p);
	list_set_ok(f.list, "dmarc_moderation_action", "wrap_message");
	p = dmarc_run(&f, "Someone <b@sub.orgonly.test>", FALSE, PIPE_CONTINUE);
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc"), ==, "wrap");
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc-policy"), ==, "reject");
	post_free(&p);
	/* No policy, no decision. */
	p = dmarc_run(&f, "c@nothing.test", FALSE, PIPE_CONTINUE);
	g_assert_null(queue_meta_get(p->meta, "dmarc"));
	g_assert_null(queue_meta_get(p->meta, "dmarc-policy"));
	post_free(&p);
	fixture_clear(&f);
}

static void
test_dmarc_reject_and_discard(void)
{
	struct list_fixture f;
	struct post *p;

	fixture_init(&f);
	list_set_ok(f.list, "dmarc_moderation_action", "reject");
	p = dmarc_run(&f, "a@reject.test", FALSE, PIPE_REJECT);
	g_assert_nonnull(p->reason);
	g_assert_nonnull(strstr(p->reason, "reject.test"));
	g_assert_nonnull(strstr(p->reason, "DMARC policy of reject"));
	g_assert_nonnull(strstr(p->reason, "demo-owner@example.org"));
	post_free(&p);
	list_set_ok(f.list, "dmarc_moderation_notice",
		    "No DMARC-reject domains here.");
	p = dmarc_run(&f, "a@quarantine.test", FALSE, PIPE_REJECT);
	g_assert_cmpstr(p->reason, ==, "No DMARC-reject domains here.");
	post_free(&p);
	list_set_ok(f.list, "dmarc_moderation_action", "discard");
	p = dmarc_run(&f, "a@reject.test", FALSE, PIPE_DISCARD);
	g_assert_nonnull(strstr(p->reason, "reject.test"));
	post_free(&p);
	fixture_clear(&f);
}

/* An approved post is not rejected or discarded: it is munged. */
static void
test_dmarc_approved_posts_are_munged_not_rejected(void)
{
	struct list_fixture f;
	struct post *p;

	fixture_init(&f);
	list_set_ok(f.list, "dmarc_moderation_action", "reject");
	p = dmarc_run(&f, "a@reject.test", TRUE, PIPE_CONTINUE);
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc"), ==, "munge");
	g_assert_null(p->reason);
	post_free(&p);
	list_set_ok(f.list, "dmarc_moderation_action", "discard");
	p = dmarc_run(&f, "a@reject.test", TRUE, PIPE_CONTINUE);
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc"), ==, "munge");
	post_free(&p);
	fixture_clear(&f);
}

/* quarantine counts when dmarc_quarantine_moderation_action is on (the
 * default); none only with dmarc_none_moderation_action, and only for
 * munging or wrapping. */
static void
test_dmarc_quarantine_and_none_flags(void)
{
	struct list_fixture f;
	struct post *p;

	fixture_init(&f);
	list_set_ok(f.list, "dmarc_moderation_action", "munge_from");
	p = dmarc_run(&f, "a@quarantine.test", FALSE, PIPE_CONTINUE);
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc"), ==, "munge");
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc-policy"), ==, "quarantine");
	post_free(&p);
	p = dmarc_run(&f, "a@none.test", FALSE, PIPE_CONTINUE);
	g_assert_null(queue_meta_get(p->meta, "dmarc"));
	post_free(&p);
	list_set_ok(f.list, "dmarc_none_moderation_action", "yes");
	p = dmarc_run(&f, "a@none.test", FALSE, PIPE_CONTINUE);
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc"), ==, "munge");
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc-policy"), ==, "none");
	post_free(&p);
	list_set_ok(f.list, "dmarc_moderation_action", "reject");
	p = dmarc_run(&f, "a@none.test", FALSE, PIPE_CONTINUE);
	post_free(&p);
	list_set_ok(f.list, "dmarc_quarantine_moderation_action", "no");
	p = dmarc_run(&f, "a@quarantine.test", FALSE, PIPE_CONTINUE);
	g_assert_null(queue_meta_get(p->meta, "dmarc"));
	post_free(&p);
	p = dmarc_run(&f, "a@reject.test", FALSE, PIPE_REJECT);
	post_free(&p);
	fixture_clear(&f);
}

/* A DNS failure is mitigated (munged), even when the action is reject:
 * a DNS outage must not refuse every post. */
/* dmarc_moderation_addresses: the action applies whatever the domain
 * publishes (here nothing), and no DNS question is asked. */
static void
test_dmarc_moderation_addresses_force_the_action(void)
{
	struct list_fixture f;
	struct post *p;
	char *bad[] = { "^(", "", NULL };
	int asked;

	fixture_init(&f);
	list_set_ok(f.list, "dmarc_moderation_action", "reject");
	list_set_ok(f.list, "dmarc_moderation_addresses",
		    "Ann@Nothing.test\n^.*@sub\\.nothing\\.test$");
	/* Not listed, no policy: accepted, after a lookup. */
	p = dmarc_run(&f, "b@nothing.test", FALSE, PIPE_CONTINUE);
	post_free(&p);
	asked = g_atomic_int_get(&dns->queries);
	g_assert_cmpint(asked, >, 0);
	/* Listed by address, any case: rejected, nothing asked. */
	p = dmarc_run(&f, "Ann <ann@nothing.test>", FALSE, PIPE_REJECT);
	g_assert_nonnull(strstr(p->reason, "dmarc_moderation_addresses"));
	post_free(&p);
	/* By regex: munged, the metadata saying why. */
	list_set_ok(f.list, "dmarc_moderation_action", "munge_from");
	p = dmarc_run(&f, "x@sub.nothing.test", FALSE, PIPE_CONTINUE);
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc"), ==, "munge");
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc-policy"), ==, "listed");
	post_free(&p);
	list_set_ok(f.list, "dmarc_moderation_action", "discard");
	p = dmarc_run(&f, "ann@nothing.test", FALSE, PIPE_DISCARD);
	post_free(&p);
	/* An approved post is munged, not discarded. */
	p = dmarc_run(&f, "ann@nothing.test", TRUE, PIPE_CONTINUE);
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc"), ==, "munge");
	post_free(&p);
	g_assert_cmpint(g_atomic_int_get(&dns->queries), ==, asked);
	/* accept: the list is not even read. */
	list_set_ok(f.list, "dmarc_moderation_action", "accept");
	p = dmarc_run(&f, "ann@nothing.test", FALSE, PIPE_CONTINUE);
	g_assert_null(queue_meta_get(p->meta, "dmarc"));
	post_free(&p);
	/* A bad regex matches nothing; empty entries neither. */
	g_assert_false(dmarc_address_listed(bad, "a@b.test"));
	g_assert_false(dmarc_address_listed(NULL, "a@b.test"));
	fixture_clear(&f);
}

static void
test_dmarc_dns_failure_mitigates(void)
{
	struct list_fixture f;
	struct post *p;

	fixture_init(&f);
	list_set_ok(f.list, "dmarc_moderation_action", "munge_from");
	p = dmarc_run(&f, "a@servfail.test", FALSE, PIPE_CONTINUE);
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc"), ==, "munge");
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc-policy"), ==, "temperror");
	post_free(&p);
	list_set_ok(f.list, "dmarc_moderation_action", "reject");
	p = dmarc_run(&f, "a@servfail.test", FALSE, PIPE_CONTINUE);
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc"), ==, "munge");
	post_free(&p);
	list_set_ok(f.list, "dmarc_moderation_action", "discard");
	p = dmarc_run(&f, "a@servfail.test", FALSE, PIPE_CONTINUE);
	g_assert_cmpstr(queue_meta_get(p->meta, "dmarc"), ==, "munge");
	post_free(&p);
	fixture_clear(&f);
}

/* A resumed post is decided again: an old decision does not stick. */
static void
test_dmarc_resumed_post_decided_afresh(void)
{
	struct list_fixture f;
	char *text;
	struct post *p;
	GError *error = NULL;

	fixture_init(&f);
	list_set_ok(f.list, "dmarc_moderation_action", "munge_from");
	text = post_from(&f, "a@nothing.test");
	p = fixture_post(&f, SENDER, text);
	queue_meta_set(p->meta, "dmarc", "wrap");
	g_assert_cmpint(pipe_dmarc(p, &error), ==, PIPE_CONTINUE);
	g_assert_null(queue_meta_get(p->meta, "dmarc"));
	post_free(&p);
	g_free(text);
	fixture_clear(&f);
}

/* A PSL that cannot be loaded is an error (the post is shunted, to be
 * retried once the setting is fixed), not a silent "no policy". */
static void
test_dmarc_bad_psl_is_an_error(void)
{
	struct list_fixture f;
	char *text;
	struct post *p;
	GError *error = NULL;

	fixture_init(&f);
	list_set_ok(f.list, "dmarc_moderation_action", "reject");
	g_assert_cmpint(site_set(f.site, "dmarc.psl_file", "/nonexistent/psl",
				 &error), ==, 0);
	text = post_from(&f, "a@reject.test");
	p = fixture_post(&f, SENDER, text);
	g_assert_cmpint(pipe_dmarc(p, &error), ==, PIPE_ERROR);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "/nonexistent/psl"));
	g_clear_error(&error);
	post_free(&p);
	g_free(text);
	fixture_clear(&f);
}

/* --- wrapmessage: munging -------------------------------------------------- */

static const char base_post[] =
	"Received: from mx.reject.test by mx.example.org; Mon, 1 Jan 2024 "
	"10:00:00 +0000\n"
	"DKIM-Signature: v=1; a=rsa-sha256; d=reject.test; s=s1;\n"
	"\tb=abc\n"
	"From: Alice Example <alice@reject.test>\n"
	"To: demo@example.org\n"
	"Cc: carol@elsewhere.example\n"
	"Subject: [Demo] hello\n"
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
	"Message-ID: <orig-1@reject.test>\n"
	"In-Reply-To: <orig-0@reject.test>\n"
	"References: <orig-0@reject.test>\n"
	"MIME-Version: 1.0\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"List-Id: <demo.example.org>\n"
	"List-Post: <mailto:demo@example.org>\n"
	"X-BeenThere: demo@example.org\n"
	"Precedence: list\n"
	"\n"
	"Hi all.\n";

/* The post's headers as written, up to the blank line. */
static char *
header_block(GMimeMessage *msg)
{
	GByteArray *b = message_to_bytes(msg);
	char *all = g_strndup((const char *)b->data, b->len);
	char *end = strstr(all, "\n\n");

	if (end != NULL)
		end[1] = '\0';
	g_byte_array_unref(b);
	return all;
}

static struct post *
wrap_run(struct list_fixture *f, const char *text, const char *decided)
{
	struct post *p = fixture_post(f, SENDER, text);
	GError *error = NULL;

	if (decided != NULL)
		queue_meta_set(p->meta, "dmarc", decided);
	g_assert_cmpint(pipe_wrapmessage(p, &error), ==, PIPE_CONTINUE);
	g_assert_no_error(error);
	return p;
}

static void
test_munge_whole_header_block(void)
{
	struct list_fixture f;
	struct post *p;
	char *block;

	fixture_init(&f);
	p = wrap_run(&f, base_post, "munge");
	block = header_block(p->msg);
	g_assert_cmpstr(block, ==,
		"Received: from mx.reject.test by mx.example.org; Mon, 1 Jan "
		"2024 10:00:00 +0000\n"
		"From: Alice Example via Demo <demo@example.org>\n"
		"To: demo@example.org\n"
		"Cc: carol@elsewhere.example\n"
		"Subject: [Demo] hello\n"
		"Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
		"Message-ID: <orig-1@reject.test>\n"
		"In-Reply-To: <orig-0@reject.test>\n"
		"References: <orig-0@reject.test>\n"
		"MIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=us-ascii\n"
		"List-Id: <demo.example.org>\n"
		"List-Post: <mailto:demo@example.org>\n"
		"X-BeenThere: demo@example.org\n"
		"Precedence: list\n"
		"Reply-To: Alice Example <alice@reject.test>\n");
	g_free(block);
	post_free(&p);
	fixture_clear(&f);
}

/* from_is_list munges every post, without any DMARC decision. */
static void
test_munge_from_is_list_applies_to_every_post(void)
{
	struct list_fixture f;
	struct post *p;

	fixture_init(&f);
	list_set_ok(f.list, "from_is_list", "munge_from");
	list_set_ok(f.list, "real_name", "DEMO");
	p = wrap_run(&f, "From: bob@nothing.test\nTo: demo@example.org\n"
			 "Subject: x\n\nbody\n", NULL);
	/* No display name: the local part stands in. */
	assert_header(p->msg, "From", "bob via DEMO <demo@example.org>");
	assert_header(p->msg, "Reply-To", "bob@nothing.test");
	post_free(&p);
	fixture_clear(&f);
}

static void
test_munge_nothing_to_do_leaves_post_alone(void)
{
	struct list_fixture f;
	struct post *p;
	GByteArray *before, *after;
	GMimeMessage *msg;

	fixture_init(&f);
	msg = message_parse(base_post, strlen(base_post), NULL);
	before = message_to_bytes(msg);
	g_object_unref(msg);
	p = wrap_run(&f, base_post, NULL);
	after = message_to_bytes(p->msg);
	g_assert_cmpmem(before->data, before->len, after->data, after->len);
	g_byte_array_unref(before);
	g_byte_array_unref(after);
	post_free(&p);
	/* An anonymous list's posts are From: the list already. */
	list_set_ok(f.list, "anonymous_list", "yes");
	p = wrap_run(&f, base_post, "wrap");
	assert_header(p->msg, "From", "Alice Example <alice@reject.test>");
	g_assert_null(message_header(p->msg, "Reply-To"));
	post_free(&p);
	fixture_clear(&f);
}

/* Non-ASCII names come out RFC 2047-encoded, in From: and Reply-To:. */
static void
test_munge_encodes_non_ascii_names(void)
{
	struct list_fixture f;
	struct post *p;
	char *from;
	InternetAddressList *al;

	fixture_init(&f);
	p = wrap_run(&f, "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= "
			 "<jm@reject.test>\nTo: demo@example.org\n"
			 "Subject: x\n\nbody\n", "munge");
	assert_header(p->msg, "From", "=?iso-8859-1?q?J=FCrgen_M=FCller?= via Demo "
				      "<demo@example.org>");
	assert_header(p->msg, "Reply-To", "=?iso-8859-1?q?J=FCrgen_M=FCller?= "
					  "<jm@reject.test>");
	/* and decode to what they say. */
	from = header_value(p->msg, "From");
	al = internet_address_list_parse(NULL, from);
	g_assert_cmpstr(internet_address_get_name(
				internet_address_list_get_address(al, 0)),
			==, "Jürgen Müller via Demo");
	g_object_unref(al);
	g_free(from);
	post_free(&p);
	fixture_clear(&f);
}

/* A display name that looks like an address loses its domain: "---". */
static void
test_munge_hides_address_like_names(void)
{
	struct list_fixture f;
	struct post *p;

	fixture_init(&f);
	p = wrap_run(&f, "From: \"bob@bank.example\" <bob@reject.test>\n"
			 "To: demo@example.org\n\nbody\n", "munge");
	assert_header(p->msg, "From", "bob--- via Demo <demo@example.org>");
	post_free(&p);
	p = wrap_run(&f, "From: \"Bob at bob@example, home\" <bob@reject.test>\n"
			 "To: demo@example.org\n\nbody\n", "munge");
	assert_header(p->msg, "From",
		      "\"Bob at bob@example, home via Demo\" <demo@example.org>");
	post_free(&p);
	fixture_clear(&f);
}

/* The original From: joins a Reply-To: the post has (once). */
static void
test_munge_adds_to_existing_reply_to_without_duplicates(void)
{
	struct list_fixture f;
	struct post *p;

	fixture_init(&f);
	p = wrap_run(&f, "From: Alice <alice@reject.test>\n"
			 "Reply-To: Team <team@elsewhere.example>\n"
			 "To: demo@example.org\n\nbody\n", "munge");
	assert_header(p->msg, "Reply-To", "Team <team@elsewhere.example>, "
					  "Alice <alice@reject.test>");
	g_assert_null(message_header(p->msg, "Cc"));
	post_free(&p);
	p = wrap_run(&f, "From: Alice <alice@reject.test>\n"
			 "Reply-To: other@elsewhere.example, ALICE@reject.test\n"
			 "To: demo@example.org\n\nbody\n", "munge");
	assert_header(p->msg, "Reply-To",
		      "other@elsewhere.example, ALICE@reject.test");
	post_free(&p);
	fixture_clear(&f);
}

/* When replies go to the list (or an explicit address), Reply-To: keeps
 * that meaning and the original From: goes to Cc: (first). */
static void
test_munge_reply_goes_to_list_puts_poster_in_cc(void)
{
	struct list_fixture f;
	struct post *p;

	fixture_init(&f);
	list_set_ok(f.list, "reply_goes_to_list", "this_list");
	p = wrap_run(&f, "From: Alice <alice@reject.test>\n"
			 "Reply-To: demo@example.org\n"
			 "To: demo@example.org\nCc: carol@elsewhere.example\n"
			 "\nbody\n", "munge");
	assert_header(p->msg, "Reply-To", "demo@example.org");
	assert_header(p->msg, "Cc", "Alice <alice@reject.test>, "
				    "carol@elsewhere.example");
	post_free(&p);
	list_set_ok(f.list, "reply_goes_to_list", "explicit");
	p = wrap_run(&f, "From: alice@reject.test\nTo: demo@example.org\n"
			 "\nbody\n", "munge");
	g_assert_null(message_header(p->msg, "Reply-To"));
	assert_header(p->msg, "Cc", "alice@reject.test");
	post_free(&p);
	fixture_clear(&f);
}

/* --- wrapmessage: wrapping ------------------------------------------------- */

static void
test_wrap_whole_header_block_and_inner_message(void)
{
	struct list_fixture f;
	struct post *p;
	char *block, *inner_block;
	GMimeObject *body;
	GMimeMessage *inner;
	const char *id;

	fixture_init(&f);
	p = wrap_run(&f, base_post, "wrap");
	id = message_header(p->msg, "Message-ID");
	g_assert_nonnull(id);
	g_assert_true(g_str_has_prefix(id, "<"));
	g_assert_true(g_str_has_suffix(id, "@example.org>"));
	g_assert_cmpstr(id, !=, "<orig-1@reject.test>");
	block = header_block(p->msg);
	{
		char *want = g_strdup_printf(
			"From: Alice Example via Demo <demo@example.org>\n"
			"To: demo@example.org\n"
			"Cc: carol@elsewhere.example\n"
			"Subject: [Demo] hello\n"
			"Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
			"In-Reply-To: <orig-0@reject.test>\n"
			"References: <orig-0@reject.test>\n"
			"List-Id: <demo.example.org>\n"
			"List-Post: <mailto:demo@example.org>\n"
			"X-BeenThere: demo@example.org\n"
			"Precedence: list\n"
			"Reply-To: Alice Example <alice@reject.test>\n"
			"Message-Id: %s\n"
			"MIME-Version: 1.0\n"
			"Content-Type: message/rfc822\n", id);

		g_assert_cmpstr(block, ==, want);
		g_free(want);
	}
	g_free(block);
	/* The original, whole, inside: its From:, its signature. */
	body = g_mime_message_get_mime_part(p->msg);
	g_assert_true(GMIME_IS_MESSAGE_PART(body));
	inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(body));
	inner_block = header_block(inner);
	g_assert_true(g_str_has_prefix(inner_block, "Received: "));
	g_assert_nonnull(strstr(inner_block,
				"\nFrom: Alice Example <alice@reject.test>\n"));
	g_assert_nonnull(strstr(inner_block, "\nDKIM-Signature: v=1; "));
	g_assert_nonnull(strstr(inner_block,
				"\nMessage-ID: <orig-1@reject.test>\n"));
	g_free(inner_block);
	post_free(&p);
	fixture_clear(&f);
}

/* With dmarc_wrapped_message_text: multipart/mixed of that text and the
 * original; and the result reads back the same once written. */
static void
test_wrap_with_text_is_multipart_mixed(void)
{
	struct list_fixture f;
	struct post *p;
	GMimeMessage *back;
	GMimeObject *body, *first, *second;
	GByteArray *bytes;
	GError *error = NULL;
	char *text;

	fixture_init(&f);
	list_set_ok(f.list, "dmarc_wrapped_message_text",
		    "This message was wrapped: its sender's domain asks for it.");
	p = wrap_run(&f, base_post, "wrap");
	bytes = message_to_bytes(p->msg);
	back = message_parse((const char *)bytes->data, bytes->len, &error);
	g_assert_no_error(error);
	body = g_mime_message_get_mime_part(back);
	g_assert_true(GMIME_IS_MULTIPART(body));
	g_assert_true(g_mime_content_type_is_type(
		g_mime_object_get_content_type(body), "multipart", "mixed"));
	g_assert_cmpint(g_mime_multipart_get_count(GMIME_MULTIPART(body)), ==, 2);
	first = g_mime_multipart_get_part(GMIME_MULTIPART(body), 0);
	second = g_mime_multipart_get_part(GMIME_MULTIPART(body), 1);
	g_assert_true(g_mime_content_type_is_type(
		g_mime_object_get_content_type(first), "text", "plain"));
	text = g_mime_text_part_get_text(GMIME_TEXT_PART(first));
	g_assert_cmpstr(text, ==,
			"This message was wrapped: its sender's domain asks "
			"for it.\n");
	g_free(text);
	g_assert_true(GMIME_IS_MESSAGE_PART(second));
	assert_header(g_mime_message_part_get_message(GMIME_MESSAGE_PART(second)),
		      "From", "Alice Example <alice@reject.test>");
	assert_header(back, "From", "Alice Example via Demo <demo@example.org>");
	assert_header(back, "Reply-To", "Alice Example <alice@reject.test>");
	g_object_unref(back);
	g_byte_array_unref(bytes);
	post_free(&p);
	fixture_clear(&f);
}

/* The stronger treatment wins: wrapping over munging, from whichever of
 * from_is_list and the DMARC decision asks for it. */
static void
test_wrap_beats_munge(void)
{
	struct list_fixture f;
	struct post *p;

	fixture_init(&f);
	list_set_ok(f.list, "from_is_list", "wrap_message");
	p = wrap_run(&f, base_post, "munge");
	g_assert_true(GMIME_IS_MESSAGE_PART(g_mime_message_get_mime_part(p->msg)));
	post_free(&p);
	list_set_ok(f.list, "from_is_list", "munge_from");
	p = wrap_run(&f, base_post, "wrap");
	g_assert_true(GMIME_IS_MESSAGE_PART(g_mime_message_get_mime_part(p->msg)));
	post_free(&p);
	p = wrap_run(&f, base_post, NULL);
	g_assert_false(GMIME_IS_MESSAGE_PART(g_mime_message_get_mime_part(p->msg)));
	assert_header(p->msg, "From", "Alice Example via Demo <demo@example.org>");
	post_free(&p);
	fixture_clear(&f);
}

/* The two handlers together, as the pipeline runs them. */
static void
test_dmarc_then_wrapmessage(void)
{
	struct list_fixture f;
	struct post *p;
	GError *error = NULL;

	fixture_init(&f);
	list_set_ok(f.list, "dmarc_moderation_action", "munge_from");
	p = fixture_post(&f, SENDER, base_post);
	g_assert_cmpint(pipe_dmarc(p, &error), ==, PIPE_CONTINUE);
	g_assert_cmpint(pipe_wrapmessage(p, &error), ==, PIPE_CONTINUE);
	g_assert_no_error(error);
	assert_header(p->msg, "From", "Alice Example via Demo <demo@example.org>");
	g_assert_null(message_header(p->msg, "DKIM-Signature"));
	post_free(&p);
	p = fixture_post(&f, SENDER, "From: Dora <dora@nothing.test>\n"
			 "To: demo@example.org\n\nbody\n");
	g_assert_cmpint(pipe_dmarc(p, &error), ==, PIPE_CONTINUE);
	g_assert_cmpint(pipe_wrapmessage(p, &error), ==, PIPE_CONTINUE);
	assert_header(p->msg, "From", "Dora <dora@nothing.test>");
	post_free(&p);
	fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/dmarc/record/valid-policies-and-sp", test_record_valid_policies_and_sp },
	{ "/dmarc/record/whitespace-and-case", test_record_whitespace_and_case },
	{ "/dmarc/record/ignores-pct-and-unknown-tags",
	  test_record_ignores_pct_and_unknown_tags },
	{ "/dmarc/record/without-v-first-is-not-dmarc",
	  test_record_without_v_first_is_not_dmarc },
	{ "/dmarc/record/bad-or-missing-p", test_record_bad_or_missing_p },
	{ "/dmarc/org-domain/from-psl", test_org_domain_from_psl },
	{ "/dmarc/org-domain/system-psl", test_org_domain_system_psl },
	{ "/dmarc/resolver/refuses-bad-settings",
	  test_resolver_refuses_bad_settings },
	{ "/dmarc/lookup/policies-at-the-domain",
	  test_lookup_policies_at_the_domain },
	{ "/dmarc/lookup/falls-back-to-org-domain-sp-then-p",
	  test_lookup_falls_back_to_org_domain_sp_then_p },
	{ "/dmarc/lookup/several-or-bad-records-no-policy",
	  test_lookup_several_or_bad_records_no_policy },
	{ "/dmarc/lookup/dns-failures-are-temperror",
	  test_lookup_dns_failures_are_temperror },
	{ "/dmarc/lookup/nothing-listening-is-temperror",
	  test_lookup_nothing_listening_is_temperror },
	{ "/dmarc/lookup/cache-keeps-answers-for-ttl",
	  test_lookup_cache_keeps_answers_for_ttl },
	{ "/dmarc/lookup/no-domain-asks-nothing",
	  test_lookup_no_domain_asks_nothing },
	{ "/dmarc/handler/action-accept-asks-nothing",
	  test_dmarc_action_accept_asks_nothing },
	{ "/dmarc/handler/munge-and-wrap-are-recorded",
	  test_dmarc_munge_and_wrap_are_recorded },
	{ "/dmarc/handler/reject-and-discard", test_dmarc_reject_and_discard },
	{ "/dmarc/handler/approved-posts-are-munged-not-rejected",
	  test_dmarc_approved_posts_are_munged_not_rejected },
	{ "/dmarc/handler/quarantine-and-none-flags",
	  test_dmarc_quarantine_and_none_flags },
	{ "/dmarc/handler/dns-failure-mitigates", test_dmarc_dns_failure_mitigates },
	{ "/dmarc/handler/moderation-addresses-force-the-action",
	  test_dmarc_moderation_addresses_force_the_action },
	{ "/dmarc/handler/resumed-post-decided-afresh",
	  test_dmarc_resumed_post_decided_afresh },
	{ "/dmarc/handler/bad-psl-is-an-error", test_dmarc_bad_psl_is_an_error },
	{ "/dmarc/munge/whole-header-block", test_munge_whole_header_block },
	{ "/dmarc/munge/from-is-list-applies-to-every-post",
	  test_munge_from_is_list_applies_to_every_post },
	{ "/dmarc/munge/nothing-to-do-leaves-post-alone",
	  test_munge_nothing_to_do_leaves_post_alone },
	{ "/dmarc/munge/encodes-non-ascii-names",
	  test_munge_encodes_non_ascii_names },
	{ "/dmarc/munge/hides-address-like-names",
	  test_munge_hides_address_like_names },
	{ "/dmarc/munge/adds-to-existing-reply-to-without-duplicates",
	  test_munge_adds_to_existing_reply_to_without_duplicates },
	{ "/dmarc/munge/reply-goes-to-list-puts-poster-in-cc",
	  test_munge_reply_goes_to_list_puts_poster_in_cc },
	{ "/dmarc/wrap/whole-header-block-and-inner-message",
	  test_wrap_whole_header_block_and_inner_message },
	{ "/dmarc/wrap/with-text-is-multipart-mixed",
	  test_wrap_with_text_is_multipart_mixed },
	{ "/dmarc/wrap/beats-munge", test_wrap_beats_munge },
	{ "/dmarc/pipeline/dmarc-then-wrapmessage", test_dmarc_then_wrapmessage },
};

int
main(int argc, char **argv)
{
	return testutil_main_isolated(argc, argv, tests, G_N_ELEMENTS(tests));
}
