/*
 * test-verp.c - VERP addresses decode back to the member exactly.
 */
#include "mail/verp.h"

#include <glib.h>
#include <string.h>

static void
test_verp_plain_address_round_trips(void)
{
	char *v = verp_encode("dev-bounces@lists.example.org", "bob@example.net");
	char *d = verp_decode(v);

	g_assert_cmpstr(v, ==, "dev-bounces+bob=example.net@lists.example.org");
	g_assert_cmpstr(d, ==, "bob@example.net");
	g_free(v);
	g_free(d);
}

static void
test_verp_awkward_local_parts_round_trip(void)
{
	static const char *const addrs[] = {
		"bob+tag@example.net", "a=b@example.net", "a=b=c+d@example.net",
		"\"john doe\"@example.net", "\"a@b\"@example.net",
		"percent%sign@example.net", "O'Brien@Example.net",
		"x@xn--bcher-kva.example", "dots.in.it@sub.example.co.uk",
	};

	for (guint i = 0; i < G_N_ELEMENTS(addrs); i++) {
		char *v = verp_encode("l-bounces@h.example", addrs[i]);
		char *d = verp_decode(v);

		g_assert_null(strchr(v, ' '));
		g_assert_null(strchr(v, '"'));
		g_assert_cmpstr(d, ==, addrs[i]);
		g_free(v);
		g_free(d);
	}
}

static void
test_verp_decode_refuses_what_is_not_verp(void)
{
	g_assert_null(verp_decode("dev-bounces@lists.example.org"));
	g_assert_null(verp_decode("dev-bounces+nodomain@lists.example.org"));
	g_assert_null(verp_decode("dev-bounces+bob=@lists.example.org"));
	g_assert_null(verp_decode("no-at-sign"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/verp/plain-address-round-trips",
			test_verp_plain_address_round_trips);
	g_test_add_func("/verp/awkward-local-parts-round-trip",
			test_verp_awkward_local_parts_round_trip);
	g_test_add_func("/verp/decode-refuses-what-is-not-verp",
			test_verp_decode_refuses_what_is_not_verp);
	return g_test_run();
}
