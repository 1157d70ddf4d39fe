/*
 * bench-dkim.c - what DKIM signing costs per copy (src/lib/mail/dkim.c).
 *
 *   bench-dkim [ITER]
 *
 * A copy like a personalised post's (the headers herald writes, a 4 KiB
 * base64 body) is signed ITER times (default 2000) with an rsa-2048 and an
 * ed25519 key: once hashing the body for every copy, once with the body
 * hash given (copies that share their body, as most personalised copies
 * do).  Prints the mean microseconds per signature and signatures/s of
 * one core.  The keys are made here; nothing touches the disk.
 */
#include "bench.h"
#include "mail/dkim.h"

static GString *
sample_copy(void)
{
	GString *m = g_string_new(
		"From: Member 1 <member1@example.net>\n"
		"To: member42@d42.example\n"
		"Subject: [bench 7] a post\n"
		"Message-ID: <bench-7@example.net>\n"
		"Date: Sat, 28 Nov 2026 12:00:00 +0000\n"
		"MIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=utf-8\n"
		"List-Id: <bench.lists.test>\n"
		"List-Unsubscribe: <https://lists.test/unsubscribe/bench@lists.test"
		"?m=member42%40d42.example&t=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA>,\n"
		" <mailto:bench-leave@lists.test>\n"
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
		"List-Post: <mailto:bench@lists.test>\n"
		"List-Help: <mailto:bench-request@lists.test?subject=help>\n"
		"List-Archive: <https://lists.test/archives/bench@lists.test>\n\n");

	for (int i = 0; i < 56; i++)
		g_string_append(m, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5\n");
	return m;
}

static void
run(const char *name, enum dkim_alg alg, const GString *m, long iter)
{
	struct dkim_sign_opts o = { 0 };
	struct dkim_key *k;
	GError *e = NULL;
	char *pem, bh[DKIM_BH_SIZE];
	int64_t t0, t1, t2;

	if (dkim_keygen(alg, 2048, &pem, &e) < 0 ||
	    (k = dkim_key_new("lists.test", "bench", pem, strlen(pem), &e)) == NULL)
		bench_die_gerror("key", e);
	o.sign = g_strsplit("From:To:Cc:Subject:Date:Message-ID:MIME-Version:"
			    "Content-Type:List-Id:List-Help:List-Unsubscribe:"
			    "List-Unsubscribe-Post:List-Post:List-Archive", ":", -1);
	o.oversign = g_strdupv(o.sign);
	t0 = bench_now_us();
	for (long i = 0; i < iter; i++)
		g_free(dkim_sign(k, &o, m->str, m->len, NULL, 1, NULL));
	t1 = bench_now_us();
	dkim_body_hash(m->str + dkim_body_offset(m->str, m->len),
		       m->len - dkim_body_offset(m->str, m->len), bh);
	for (long i = 0; i < iter; i++)
		g_free(dkim_sign(k, &o, m->str, m->len, bh, 1, NULL));
	t2 = bench_now_us();
	printf("%-8s body hashed each copy: %7.1f us/copy (%6.0f/s); "
	       "body hash shared: %7.1f us/copy (%6.0f/s)\n", name,
	       (double)(t1 - t0) / (double)iter, 1e6 * (double)iter / (double)(t1 - t0),
	       (double)(t2 - t1) / (double)iter, 1e6 * (double)iter / (double)(t2 - t1));
	dkim_sign_opts_clear(&o);
	dkim_key_free(&k);
	g_free(pem);
}

int
main(int argc, char **argv)
{
	long iter = argc > 1 ? atol(argv[1]) : 2000;
	GString *m = sample_copy();

	printf("# DKIM signing of a %zu-byte copy, %ld signatures each, one core\n",
	       m->len, iter);
	run("rsa-2048", DKIM_RSA_SHA256, m, iter);
	run("ed25519", DKIM_ED25519_SHA256, m, iter);
	g_string_free(m, TRUE);
	return 0;
}
