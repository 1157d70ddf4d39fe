/*
 * test-token.c - unit tests for token.c: the site key (created 0600 on
 * first use, kept, one key when processes race, a damaged key refused and
 * left alone) and the HMAC tokens (good, any address case, tampered,
 * malformed, other list, address or purpose, another site key).
 *
 * Each test runs in a child process with a fresh temporary var dir.
 */
#include "base/base.h"
#include "store/site.h"
#include "list/token.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define LIST "dev@example.org"
#define BOB "bob@example.com"

static char *
key_path(struct site *s)
{
	return site_path(s, "etc", "site.key", NULL);
}

static char *
make_ok(struct site *s, const char *list, const char *addr, const char *purpose)
{
	GError *error = NULL;
	char *t = token_make(s, list, addr, purpose, &error);

	g_assert_no_error(error);
	g_assert_nonnull(t);
	return t;
}

static int
verify(struct site *s, const char *list, const char *addr, const char *purpose,
       const char *tok)
{
	GError *error = NULL;
	int r = token_verify(s, list, addr, purpose, tok, &error);

	g_assert_no_error(error);
	return r;
}

/* --- the key ---------------------------------------------------------------- */

static void
test_key_created_once_0600_32_bytes_and_kept(void)
{
	struct list_fixture f;
	struct site *s = site_fixture_init(&f);
	char *path = key_path(s);
	unsigned char k1[TOKEN_KEY_BYTES], k2[TOKEN_KEY_BYTES];
	GError *error = NULL;
	struct stat st;
	GPtrArray *names;
	char *etc;

	g_assert_cmpint(stat(path, &st), ==, -1);
	g_assert_cmpint(token_site_key(s, k1, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);
	g_assert_cmpint(st.st_size, ==, TOKEN_KEY_BYTES);
	g_assert_cmpint(token_site_key(s, k2, &error), ==, 0);
	g_assert_cmpmem(k1, sizeof k1, k2, sizeof k2);
	/* No temporary file is left behind. */
	etc = site_path(s, "etc", NULL);
	names = fs_dir_names(etc, "site.key.", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(names->len, ==, 0);
	g_ptr_array_unref(names);
	g_free(etc);
	g_free(path);
	list_fixture_clear(&f);
}

/* Processes that start together all end up with the key that was linked
 * first, so no token made by one of them fails in another. */
static void
test_key_race_between_processes_ends_with_one_key(void)
{
	enum { N = 12 };
	struct list_fixture f;
	struct site *s = site_fixture_init(&f);
	int fds[N][2];
	pid_t pids[N];
	int go[2];
	unsigned char mine[TOKEN_KEY_BYTES], theirs[TOKEN_KEY_BYTES];
	GError *error = NULL;

	g_assert_cmpint(pipe(go), ==, 0);
	for (int i = 0; i < N; i++) {
		g_assert_cmpint(pipe(fds[i]), ==, 0);
		pids[i] = fork();
		g_assert_cmpint(pids[i], >=, 0);
		if (pids[i] == 0) {
			unsigned char k[TOKEN_KEY_BYTES];
			char c;

			close(go[1]);
			/* All wait here, then race. */
			if (read(go[0], &c, 1) < 0)
				_exit(2);
			if (token_site_key(s, k, NULL) < 0)
				_exit(1);
			_exit(write(fds[i][1], k, sizeof k) == sizeof k ? 0 : 1);
		}
		close(fds[i][1]);
	}
	close(go[0]);
	close(go[1]);	/* EOF: everyone goes */
	g_assert_cmpint(token_site_key(s, mine, &error), ==, 0);
	g_assert_no_error(error);
	for (int i = 0; i < N; i++) {
		int status;

		g_assert_cmpint(read(fds[i][0], theirs, sizeof theirs), ==,
				sizeof theirs);
		close(fds[i][0]);
		g_assert_cmpint(waitpid(pids[i], &status, 0), ==, pids[i]);
		g_assert_true(WIFEXITED(status));
		g_assert_cmpint(WEXITSTATUS(status), ==, 0);
		g_assert_cmpmem(mine, sizeof mine, theirs, sizeof theirs);
	}
	list_fixture_clear(&f);
}

static void
test_key_of_wrong_size_refused_and_left_alone(void)
{
	struct list_fixture f;
	struct site *s = site_fixture_init(&f);
	char *path = key_path(s);
	unsigned char k[TOKEN_KEY_BYTES];
	GError *error = NULL;
	char *data = NULL;
	size_t len = 0;

	g_assert_true(g_file_set_contents(path, "short", 5, NULL));
	g_assert_cmpint(token_site_key(s, k, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
	g_assert_nonnull(strstr(error->message, "site.key"));
	g_clear_error(&error);
	g_assert_null(token_make(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE,
				 &error));
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
	g_clear_error(&error);
	g_assert_cmpint(token_verify(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE,
				     "x", &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
	g_clear_error(&error);
	g_assert_cmpint(fs_read_file(path, &data, &len, NULL), ==, 1);
	g_assert_cmpmem(data, len, "short", 5);
	g_free(data);
	g_free(path);
	list_fixture_clear(&f);
}

/* --- tokens ------------------------------------------------------------------ */

static void
test_token_is_43_url_safe_chars_and_stable(void)
{
	struct list_fixture f;
	struct site *s = site_fixture_init(&f);
	char *t1 = make_ok(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE);
	char *t2 = make_ok(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE);

	g_assert_cmpuint(strlen(t1), ==, 43);
	for (const char *c = t1; *c != '\0'; c++)
		g_assert_true(g_ascii_isalnum(*c) || *c == '-' || *c == '_');
	g_assert_cmpstr(t1, ==, t2);
	g_free(t1);
	g_free(t2);
	list_fixture_clear(&f);
}

static void
test_token_verifies_for_its_tuple_in_any_address_case(void)
{
	struct list_fixture f;
	struct site *s = site_fixture_init(&f);
	char *t = make_ok(s, LIST, "Bob@Example.COM", TOKEN_PURPOSE_UNSUBSCRIBE);

	g_assert_cmpint(verify(s, LIST, "Bob@Example.COM",
			       TOKEN_PURPOSE_UNSUBSCRIBE, t), ==, 1);
	g_assert_cmpint(verify(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE, t), ==, 1);
	g_free(t);
	list_fixture_clear(&f);
}

static void
test_token_fails_for_other_list_address_or_purpose(void)
{
	struct list_fixture f;
	struct site *s = site_fixture_init(&f);
	char *t = make_ok(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE);

	g_assert_cmpint(verify(s, "dev@example.net", BOB,
			       TOKEN_PURPOSE_UNSUBSCRIBE, t), ==, 0);
	g_assert_cmpint(verify(s, "devel@example.org", BOB,
			       TOKEN_PURPOSE_UNSUBSCRIBE, t), ==, 0);
	g_assert_cmpint(verify(s, LIST, "bob@example.net",
			       TOKEN_PURPOSE_UNSUBSCRIBE, t), ==, 0);
	g_assert_cmpint(verify(s, LIST, "rob@example.com",
			       TOKEN_PURPOSE_UNSUBSCRIBE, t), ==, 0);
	g_assert_cmpint(verify(s, LIST, BOB, "subscribe", t), ==, 0);
	/* The fields are separated: moving a character from one to the
	 * next does not give the same input. */
	g_assert_cmpint(verify(s, "dev@example.or", "gbob@example.com",
			       TOKEN_PURPOSE_UNSUBSCRIBE, t), ==, 0);
	g_free(t);
	list_fixture_clear(&f);
}

static void
test_token_tampered_or_malformed_fails(void)
{
	struct list_fixture f;
	struct site *s = site_fixture_init(&f);
	char *t = make_ok(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE);
	char *bad = g_strdup(t);
	char *longer = g_strconcat(t, "A", NULL);
	char *padded = g_strconcat(t, "=", NULL);
	char *shorter = g_strndup(t, 42);

	/* Every position changed once gives a token that fails. */
	for (size_t i = 0; i < strlen(t); i++) {
		strcpy(bad, t);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		g_assert_cmpint(verify(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE,
				       bad), ==, 0);
	}
	g_assert_cmpint(verify(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE,
			       longer), ==, 0);
	g_assert_cmpint(verify(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE,
			       padded), ==, 0);
	g_assert_cmpint(verify(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE,
			       shorter), ==, 0);
	g_assert_cmpint(verify(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE, ""),
			==, 0);
	g_assert_cmpint(verify(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE,
			       "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"), ==, 0);
	/* The standard alphabet's '+' and '/' are not the URL-safe one. */
	strcpy(bad, t);
	for (char *c = bad; *c != '\0'; c++)
		if (*c == '-')
			*c = '+';
		else if (*c == '_')
			*c = '/';
	if (strcmp(bad, t) != 0)
		g_assert_cmpint(verify(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE,
				       bad), ==, 0);
	g_free(t);
	g_free(bad);
	g_free(longer);
	g_free(padded);
	g_free(shorter);
	list_fixture_clear(&f);
}

static void
test_token_fails_after_the_key_is_replaced(void)
{
	struct list_fixture f;
	struct site *s = site_fixture_init(&f);
	char *path = key_path(s);
	char *t = make_ok(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE);
	char *t2;

	g_assert_cmpint(unlink(path), ==, 0);
	g_assert_cmpint(verify(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE, t), ==, 0);
	t2 = make_ok(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE);
	g_assert_cmpstr(t, !=, t2);
	g_assert_cmpint(verify(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE, t2), ==, 1);
	g_free(t);
	g_free(t2);
	g_free(path);
	list_fixture_clear(&f);
}

static void
test_token_for_a_non_address_refused_invalid(void)
{
	struct list_fixture f;
	struct site *s = site_fixture_init(&f);
	GError *error = NULL;
	char *t = token_make(s, LIST, "not an address", TOKEN_PURPOSE_UNSUBSCRIBE,
			     &error);

	g_assert_null(t);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	t = make_ok(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE);
	g_assert_cmpint(verify(s, LIST, "not an address",
			       TOKEN_PURPOSE_UNSUBSCRIBE, t), ==, 0);
	g_free(t);
	list_fixture_clear(&f);
}

static void
test_token_with_key_matches_site_key_token(void)
{
	struct list_fixture f;
	struct site *s = site_fixture_init(&f);
	unsigned char k[TOKEN_KEY_BYTES];
	GError *error = NULL;
	char *t1 = make_ok(s, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE);
	char *t2;

	g_assert_cmpint(token_site_key(s, k, &error), ==, 0);
	t2 = token_make_with_key(k, LIST, BOB, TOKEN_PURPOSE_UNSUBSCRIBE, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(t1, ==, t2);
	g_free(t1);
	g_free(t2);
	list_fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/token/key/created-once-0600-32-bytes-and-kept",
	  test_key_created_once_0600_32_bytes_and_kept },
	{ "/token/key/race-between-processes-ends-with-one-key",
	  test_key_race_between_processes_ends_with_one_key },
	{ "/token/key/wrong-size-refused-and-left-alone",
	  test_key_of_wrong_size_refused_and_left_alone },
	{ "/token/make/43-url-safe-chars-and-stable",
	  test_token_is_43_url_safe_chars_and_stable },
	{ "/token/verify/good-in-any-address-case",
	  test_token_verifies_for_its_tuple_in_any_address_case },
	{ "/token/verify/other-list-address-or-purpose-fails",
	  test_token_fails_for_other_list_address_or_purpose },
	{ "/token/verify/tampered-or-malformed-fails",
	  test_token_tampered_or_malformed_fails },
	{ "/token/verify/fails-after-key-replaced",
	  test_token_fails_after_the_key_is_replaced },
	{ "/token/make/non-address-invalid",
	  test_token_for_a_non_address_refused_invalid },
	{ "/token/make/with-key-matches-site-key",
	  test_token_with_key_matches_site_key_token },
};

UNIT_TEST_MAIN(tests)
