/*
 * test-pending.c - unit tests for pending.c, the store of pending
 * requests: a request stored is read back with every field; tokens are 43
 * URL-safe characters and differ; anything not of a token's form finds
 * nothing (no path tricks); a claim succeeds once, then finds nothing; a
 * released claim can be claimed again; an expired request is refused and
 * removed; pending.expire's work removes expired requests only and gives
 * back a claim whose process died; requests awaiting a moderator never
 * expire and list apart; and two processes claiming one token at once:
 * exactly one wins, over many rounds.
 */
#include "base/base.h"
#include "list/list.h"
#include "list/pending.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define FQDN "demo@example.org"

static char *
add_request(struct list *l, enum pending_kind kind, const char *addr,
	    enum pending_state state)
{
	struct pending *p = pending_new(kind, addr);
	GError *error = NULL;
	char *token;

	p->state = state;
	g_free(p->name);
	p->name = g_strdup("Bob\nSmith");
	p->digest = TRUE;
	p->held_id = 42;
	g_free(p->requester);
	p->requester = g_strdup("asker@example.com");
	g_free(p->via);
	p->via = g_strdup("mail");
	g_assert_cmpint(pending_add(l, p, &error), ==, 0);
	g_assert_no_error(error);
	token = g_strdup(p->token);
	pending_free(&p);
	return token;
}

/* Rewrites a request's expiry (as if it had been made long ago). */
static void
set_expires(struct list *l, const char *token, int64_t when)
{
	char *path = g_build_filename(list_dir(l), "pending", token, NULL);
	char *data = NULL, *text;
	GRegex *re = g_regex_new("expires: [0-9]+", 0, 0, NULL);
	GError *error = NULL;
	char *with = g_strdup_printf("expires: %" G_GINT64_FORMAT, when);

	g_assert_true(g_file_get_contents(path, &data, NULL, &error));
	text = g_regex_replace_literal(re, data, -1, 0, with, 0, NULL);
	g_assert_true(g_file_set_contents(path, text, -1, &error));
	g_free(with);
	g_regex_unref(re);
	g_free(text);
	g_free(data);
	g_free(path);
}

/* A fresh list with one request of kind for bob@example.com waiting for
 * its confirmation; returns its token. */
static char *
fixture_with_request(struct list_fixture *f, enum pending_kind kind)
{
	list_fixture_init(f, FQDN);
	return add_request(f->list, kind, "bob@example.com", PENDING_CONFIRM);
}

static void
test_add_then_get_reads_every_field(void)
{
	struct list_fixture f;
	struct pending *p = NULL;
	GError *error = NULL;
	char *token;
	int64_t before = (int64_t)time(NULL);

	token = fixture_with_request(&f, PENDING_SUBSCRIBE);
	g_assert_true(pending_token_valid(token));
	g_assert_cmpint(pending_get(f.list, token, &p, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpint(p->kind, ==, PENDING_SUBSCRIBE);
	g_assert_cmpint(p->state, ==, PENDING_CONFIRM);
	g_assert_cmpstr(p->address, ==, "bob@example.com");
	g_assert_cmpstr(p->name, ==, "Bob Smith");	/* one line */
	g_assert_true(p->digest);
	g_assert_cmpint(p->held_id, ==, 42);
	g_assert_cmpstr(p->requester, ==, "asker@example.com");
	g_assert_cmpstr(p->via, ==, "mail");
	g_assert_cmpint(p->created, >=, before);
	g_assert_cmpint(p->expires, ==, p->created + 3 * 24 * 3600);
	pending_free(&p);
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_tokens_are_urlsafe_and_differ(void)
{
	struct list_fixture f;
	char *a, *b;

	list_fixture_init(&f, FQDN);
	a = add_request(f.list, PENDING_INVITE, "a@example.com", PENDING_CONFIRM);
	b = add_request(f.list, PENDING_INVITE, "a@example.com", PENDING_CONFIRM);
	g_assert_cmpuint(strlen(a), ==, PENDING_TOKEN_LEN);
	g_assert_cmpstr(a, !=, b);
	g_assert_cmpuint(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				"qrstuvwxyz0123456789-_"), ==, PENDING_TOKEN_LEN);
	g_free(a);
	g_free(b);
	list_fixture_clear(&f);
}

static void
test_malformed_tokens_find_nothing(void)
{
	static const char *const bad[] = {
		"", "short", "../../../etc/passwd",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.",
	};
	struct list_fixture f;
	struct pending *p = NULL;
	GError *error = NULL;

	list_fixture_init(&f, FQDN);
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_false(pending_token_valid(bad[i]));
		g_assert_cmpint(pending_claim(f.list, bad[i], &p, &error), ==, 0);
		g_assert_cmpint(pending_get(f.list, bad[i], &p, &error), ==, 0);
		g_assert_no_error(error);
	}
	g_assert_null(p);
	list_fixture_clear(&f);
}

static void
test_claim_succeeds_once(void)
{
	struct list_fixture f;
	struct pending *p = NULL;
	GError *error = NULL;
	char *token;

	token = fixture_with_request(&f, PENDING_SUBSCRIBE);
	g_assert_cmpint(pending_claim(f.list, token, &p, &error), ==, 1);
	g_assert_cmpstr(p->token, ==, token);
	g_assert_cmpint(pending_done(f.list, &p, &error), ==, 0);
	g_assert_null(p);
	g_assert_cmpint(pending_claim(f.list, token, &p, &error), ==, 0);
	g_assert_cmpint(pending_get(f.list, token, &p, &error), ==, 0);
	g_assert_no_error(error);
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_released_claim_can_be_claimed_again(void)
{
	struct list_fixture f;
	struct pending *p = NULL;
	GError *error = NULL;
	char *token;

	token = fixture_with_request(&f, PENDING_UNSUBSCRIBE);
	g_assert_cmpint(pending_claim(f.list, token, &p, &error), ==, 1);
	g_assert_cmpint(pending_claim(f.list, token, &(struct pending *){ NULL },
				      &error), ==, 0);
	g_assert_cmpint(pending_release(f.list, &p, &error), ==, 0);
	g_assert_cmpint(pending_claim(f.list, token, &p, &error), ==, 1);
	g_assert_cmpint(p->kind, ==, PENDING_UNSUBSCRIBE);
	g_assert_cmpint(pending_done(f.list, &p, &error), ==, 0);
	g_assert_no_error(error);
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_expired_request_is_refused_and_removed(void)
{
	struct list_fixture f;
	struct pending *p = NULL;
	GError *error = NULL;
	char *token;

	token = fixture_with_request(&f, PENDING_SUBSCRIBE);
	set_expires(f.list, token, (int64_t)time(NULL) - 1);
	g_assert_cmpint(pending_claim(f.list, token, &p, &error), ==,
			PENDING_EXPIRED);
	g_assert_null(p);
	g_assert_cmpint(pending_claim(f.list, token, &p, &error), ==, 0);
	g_assert_no_error(error);
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_request_life_follows_the_site_setting(void)
{
	struct list_fixture f;
	struct pending *p = NULL;
	GError *error = NULL;
	char *token;

	list_fixture_init(&f, FQDN);
	site_set_ok(f.site, "pending.request_life", "3600");
	token = add_request(f.list, PENDING_SUBSCRIBE, "bob@example.com",
			    PENDING_CONFIRM);
	g_assert_cmpint(pending_get(f.list, token, &p, &error), ==, 1);
	g_assert_cmpint(p->expires - p->created, ==, 3600);
	pending_free(&p);
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_expire_removes_only_expired_and_never_approvals(void)
{
	struct list_fixture f;
	GPtrArray *left = NULL;
	GError *error = NULL;
	char *old, *young, *approval;
	guint removed = 0;
	int64_t now = (int64_t)time(NULL);

	list_fixture_init(&f, FQDN);
	old = add_request(f.list, PENDING_SUBSCRIBE, "old@example.com",
			  PENDING_CONFIRM);
	young = add_request(f.list, PENDING_SUBSCRIBE, "young@example.com",
			    PENDING_CONFIRM);
	approval = add_request(f.list, PENDING_SUBSCRIBE, "mod@example.com",
			       PENDING_APPROVE);
	set_expires(f.list, old, now - 10);
	g_assert_cmpint(pending_expire(f.list, now, &removed, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(removed, ==, 1);
	g_assert_cmpint(pending_list(f.list, -1, &left, &error), ==, 0);
	g_assert_cmpuint(left->len, ==, 2);
	g_ptr_array_free(left, TRUE);
	g_assert_cmpint(pending_list(f.list, PENDING_APPROVE, &left, &error), ==, 0);
	g_assert_cmpuint(left->len, ==, 1);
	g_assert_cmpstr(((struct pending *)left->pdata[0])->token, ==, approval);
	g_assert_cmpint(((struct pending *)left->pdata[0])->expires, ==, 0);
	g_ptr_array_free(left, TRUE);
	/* Years later the approval is still there. */
	g_assert_cmpint(pending_expire(f.list, now + 100 * 24 * 3600, &removed,
				       &error), ==, 0);
	g_assert_cmpuint(removed, ==, 1);
	g_assert_cmpint(pending_list(f.list, -1, &left, &error), ==, 0);
	g_assert_cmpuint(left->len, ==, 1);
	g_ptr_array_free(left, TRUE);
	g_free(old);
	g_free(young);
	g_free(approval);
	list_fixture_clear(&f);
}

static void
test_expire_gives_back_a_dead_process_claim(void)
{
	struct list_fixture f;
	struct pending *p = NULL;
	GError *error = NULL;
	char *token, *from, *to, *name;
	guint removed = 0;
	pid_t child = fork();

	g_assert_cmpint(child, >=, 0);
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	token = fixture_with_request(&f, PENDING_SUBSCRIBE);
	name = g_strdup_printf("%s.%s.%d.claim", token, herald_host(), (int)child);
	from = g_build_filename(list_dir(f.list), "pending", token, NULL);
	to = g_build_filename(list_dir(f.list), "pending", name, NULL);
	g_assert_cmpint(rename(from, to), ==, 0);
	g_assert_cmpint(pending_claim(f.list, token, &p, &error), ==, 0);
	g_assert_cmpint(pending_expire(f.list, (int64_t)time(NULL), &removed,
				       &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(removed, ==, 0);
	g_assert_cmpint(pending_claim(f.list, token, &p, &error), ==, 1);
	g_assert_cmpint(pending_done(f.list, &p, &error), ==, 0);
	g_free(name);
	g_free(from);
	g_free(to);
	g_free(token);
	list_fixture_clear(&f);
}

/* One contender: waits for the start, claims, exits 0 when it won. */
static void
contend(struct list *l, const char *token, int start_fd)
{
	struct pending *p = NULL;
	char c;
	int r;

	(void)!read(start_fd, &c, 1);
	r = pending_claim(l, token, &p, NULL);
	if (r == 1 && pending_done(l, &p, NULL) == 0)
		_exit(0);
	_exit(r == 0 ? 1 : 2);
}

static void
test_two_processes_racing_exactly_one_wins(void)
{
	struct list_fixture f;
	int rounds = 200, both = 0, none = 0, errors = 0;

	list_fixture_init(&f, FQDN);
	for (int i = 0; i < rounds; i++) {
		char *token = add_request(f.list, PENDING_SUBSCRIBE,
					  "race@example.com", PENDING_CONFIRM);
		int fds[2], won = 0;
		pid_t kids[2];

		g_assert_cmpint(pipe(fds), ==, 0);
		for (int k = 0; k < 2; k++) {
			kids[k] = fork();
			g_assert_cmpint(kids[k], >=, 0);
			if (kids[k] == 0) {
				close(fds[1]);
				contend(f.list, token, fds[0]);
			}
		}
		close(fds[0]);
		close(fds[1]);	/* both start now */
		for (int k = 0; k < 2; k++) {
			int status = 0;

			waitpid(kids[k], &status, 0);
			if (!WIFEXITED(status) || WEXITSTATUS(status) == 2)
				errors++;
			else if (WEXITSTATUS(status) == 0)
				won++;
		}
		both += won == 2;
		none += won == 0;
		g_free(token);
	}
	g_assert_cmpint(errors, ==, 0);
	g_assert_cmpint(both, ==, 0);
	g_assert_cmpint(none, ==, 0);
	list_fixture_clear(&f);
}

static void
test_kind_names_round_trip(void)
{
	for (int k = 0; k < PENDING_KIND_COUNT; k++)
		g_assert_cmpint(pending_kind_parse(pending_kind_name(k)), ==, k);
	g_assert_cmpint(pending_kind_parse("nonsense"), ==, -1);
}

static const struct unit_test tests[] = {
	{ "/pending/add/get-reads-every-field",
	  test_add_then_get_reads_every_field },
	{ "/pending/add/tokens-urlsafe-and-differ",
	  test_tokens_are_urlsafe_and_differ },
	{ "/pending/token/malformed-finds-nothing",
	  test_malformed_tokens_find_nothing },
	{ "/pending/claim/succeeds-once", test_claim_succeeds_once },
	{ "/pending/claim/released-can-be-claimed-again",
	  test_released_claim_can_be_claimed_again },
	{ "/pending/claim/expired-refused-and-removed",
	  test_expired_request_is_refused_and_removed },
	{ "/pending/add/life-follows-site-setting",
	  test_request_life_follows_the_site_setting },
	{ "/pending/expire/only-expired-never-approvals",
	  test_expire_removes_only_expired_and_never_approvals },
	{ "/pending/expire/gives-back-dead-process-claim",
	  test_expire_gives_back_a_dead_process_claim },
	{ "/pending/claim/two-processes-racing-exactly-one-wins",
	  test_two_processes_racing_exactly_one_wins },
	{ "/pending/kind/names-round-trip", test_kind_names_round_trip },
};

UNIT_TEST_MAIN(tests)
