/*
 * test-modlink.c - unit tests for modlink.c: the confirmation URL, and
 * the signed one-click links of a moderator: a link verifies for its own
 * list, request and action only; a tampered, truncated or empty
 * signature, another action, another request or another list's link is
 * refused; an unknown action or a malformed token gets no link; removing
 * the site key invalidates every link.
 */
#include "base/base.h"
#include "list/list.h"
#include "list/modlink.h"
#include "list/pending.h"

#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define FQDN "demo@example.org"
#define TOKEN_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define TOKEN_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

static char *
sign_ok(struct list *l, const char *token, const char *action)
{
	GError *error = NULL;
	char *sig = modlink_sign(l, token, action, &error);

	g_assert_no_error(error);
	g_assert_nonnull(sig);
	return sig;
}

static int
verify(struct list *l, const char *token, const char *action, const char *sig)
{
	GError *error = NULL;
	int r = modlink_verify(l, token, action, sig, &error);

	g_assert_no_error(error);
	return r;
}

static void
test_urls_have_the_documented_form(void)
{
	struct list_fixture f;
	GError *error = NULL;
	char *confirm, *approve, *sig;

	list_fixture_init(&f, FQDN);
	site_set_ok(f.site, "web.base_url", "https://lists.example.org/mm");
	confirm = modlink_confirm_url(f.list, TOKEN_A);
	g_assert_cmpstr(confirm, ==, "https://lists.example.org/mm/confirm/"
			FQDN "/" TOKEN_A);
	approve = modlink_url(f.list, TOKEN_A, MODLINK_APPROVE, &error);
	g_assert_no_error(error);
	sig = sign_ok(f.list, TOKEN_A, MODLINK_APPROVE);
	g_assert_true(g_str_has_prefix(approve, "https://lists.example.org/mm/"
				       "moderate/" FQDN "/" TOKEN_A "/approve?s="));
	g_assert_cmpstr(strstr(approve, "?s=") + 3, ==, sig);
	g_free(confirm);
	g_free(approve);
	g_free(sig);
	list_fixture_clear(&f);
}

static void
test_link_verifies_for_its_request_and_action_only(void)
{
	struct list_fixture f;
	struct list *other;
	char *sig, *bad;

	list_fixture_init(&f, FQDN);
	other = fixture_new_list(&f, "other@example.org");
	sig = sign_ok(f.list, TOKEN_A, MODLINK_DISCARD);
	g_assert_cmpint(verify(f.list, TOKEN_A, MODLINK_DISCARD, sig), ==, 1);
	g_assert_cmpint(verify(f.list, TOKEN_A, MODLINK_APPROVE, sig), ==, 0);
	g_assert_cmpint(verify(f.list, TOKEN_B, MODLINK_DISCARD, sig), ==, 0);
	g_assert_cmpint(verify(other, TOKEN_A, MODLINK_DISCARD, sig), ==, 0);
	bad = g_strdup(sig);
	bad[5] = bad[5] == 'x' ? 'y' : 'x';
	g_assert_cmpint(verify(f.list, TOKEN_A, MODLINK_DISCARD, bad), ==, 0);
	bad[10] = '\0';
	g_assert_cmpint(verify(f.list, TOKEN_A, MODLINK_DISCARD, bad), ==, 0);
	g_assert_cmpint(verify(f.list, TOKEN_A, MODLINK_DISCARD, ""), ==, 0);
	g_assert_cmpint(verify(f.list, TOKEN_A, MODLINK_DISCARD, NULL), ==, 0);
	g_assert_cmpint(verify(f.list, "../x", MODLINK_DISCARD, sig), ==, 0);
	g_free(bad);
	g_free(sig);
	list_free(&other);
	list_fixture_clear(&f);
}

static void
test_unknown_action_or_bad_token_gets_no_link(void)
{
	struct list_fixture f;
	GError *error = NULL;

	list_fixture_init(&f, FQDN);
	g_assert_null(modlink_url(f.list, TOKEN_A, "delete", &error));
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_null(modlink_url(f.list, "short", MODLINK_APPROVE, &error));
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	list_fixture_clear(&f);
}

static void
test_new_site_key_invalidates_links(void)
{
	struct list_fixture f;
	char *sig, *key;

	list_fixture_init(&f, FQDN);
	sig = sign_ok(f.list, TOKEN_A, MODLINK_REJECT);
	key = g_build_filename(f.var, "etc", "site.key", NULL);
	g_assert_cmpint(unlink(key), ==, 0);
	g_assert_cmpint(verify(f.list, TOKEN_A, MODLINK_REJECT, sig), ==, 0);
	g_free(key);
	g_free(sig);
	list_fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/modlink/urls/documented-form", test_urls_have_the_documented_form },
	{ "/modlink/verify/own-request-and-action-only",
	  test_link_verifies_for_its_request_and_action_only },
	{ "/modlink/sign/unknown-action-or-bad-token-no-link",
	  test_unknown_action_or_bad_token_gets_no_link },
	{ "/modlink/verify/new-site-key-invalidates",
	  test_new_site_key_invalidates_links },
};

UNIT_TEST_MAIN(tests)
