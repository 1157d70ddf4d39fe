/*
 * test-subscribe.c - unit tests for subscribe.c: subscribe_policy 0 (at
 * once, welcome), 1 (a confirmation with "confirm TOKEN" and a Reply-To
 * LIST-confirm+TOKEN, then member and welcome), 2 (a moderator approves),
 * 3 (confirm, then a moderator by a new token); subscribe_auto_approval
 * skips the moderator; a request for another address always needs that
 * address's confirmation; ban_list and "already a member"; a used or
 * expired token; unsubscription with and without the password and under
 * unsubscribe_policy 1 (goodbye); an invitation; a rejection tells the
 * requester, a discard does not; admin_notify_mchanges tells the owners;
 * send_welcome_msg off sends none.  A change of address: the new address
 * confirms, then the whole record moves (options, mode) on this list or
 * on every list of the site, and the owners hear of it; a non-member, a
 * new address that is a member or banned, and the same address are
 * refused.
 *
 * Mail is read back from the virgin queue.
 */
#include "base/base.h"
#include "list/list.h"
#include "list/pending.h"
#include "list/subscribe.h"
#include "store/queue.h"

#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define FQDN "demo@example.org"
#define BOB "bob@example.com"

/* How many notices in the virgin queue hold needle (in their message),
 * and are for rcpt (NULL: anyone). */
static guint
mails(struct list_fixture *f, const char *rcpt, const char *needle)
{
	GPtrArray *items = queue_read_entries(f->var, "virgin");
	guint n = 0;

	for (guint i = 0; i < items->len; i++) {
		struct queue_item *it = items->pdata[i];
		char *msg = g_strndup(it->msg, it->msg_len);
		const char *to = queue_meta_get(it->meta, "rcpt");

		if (strstr(msg, needle) != NULL &&
		    (rcpt == NULL || g_strcmp0(to, rcpt) == 0))
			n++;
		g_free(msg);
	}
	g_ptr_array_unref(items);
	return n;
}

static gboolean
member(struct list_fixture *f, const char *addr)
{
	struct roster *r = NULL;
	GError *error = NULL;
	gboolean found;

	g_assert_cmpint(roster_load(f->list, &r, &error), ==, 0);
	found = roster_find(r, addr) != NULL;
	roster_free(&r);
	return found;
}

/* A subscription asked for addr by requester by mail; the outcome, and
 * *token_r (optional) its token. */
static int
ask(struct list_fixture *f, const char *addr, const char *requester,
    char **token_r)
{
	const struct subscribe_request r = {
		.address = addr, .requester = requester, .via = "mail",
		.welcome = SUBSCRIBE_LIST_DEFAULT, .name = "Bob",
	};
	GError *error = NULL;
	int o = subscribe_request(f->list, &r, token_r, &error);

	g_assert_no_error(error);
	return o;
}

static int
leave(struct list_fixture *f, const char *addr, gboolean password_ok,
      char **token_r)
{
	const struct subscribe_request r = {
		.address = addr, .requester = addr, .via = "mail",
		.welcome = SUBSCRIBE_LIST_DEFAULT,
	};
	GError *error = NULL;
	int o = unsubscribe_request(f->list, &r, password_ok, token_r, &error);

	g_assert_no_error(error);
	return o;
}

/* The token comes back: the outcome. */
static int
confirm(struct list_fixture *f, const char *token, char **next_r)
{
	struct pending *p = NULL;
	GError *error = NULL;
	int r = pending_claim(f->list, token, &p, &error);

	g_assert_no_error(error);
	if (r != 1)
		return -10 - r;
	r = subscribe_confirmed(f->list, &p, next_r, &error);
	g_assert_no_error(error);
	return r;
}

static void
init(struct list_fixture *f, const char *policy)
{
	list_fixture_init(f, FQDN);
	list_set_ok(f->list, "subscribe_policy", policy);
}

static void
test_open_policy_subscribes_at_once_with_welcome(void)
{
	struct list_fixture f;

	init(&f, "0");
	g_assert_cmpint(ask(&f, BOB, BOB, NULL), ==, SUBSCRIBE_DONE);
	g_assert_true(member(&f, BOB));
	g_assert_cmpuint(mails(&f, BOB, "You are subscribed as " BOB), ==, 1);
	g_assert_cmpuint(mails(&f, NULL, "confirm "), ==, 0);
	g_assert_cmpint(ask(&f, "BOB@example.com", "BOB@example.com", NULL), ==,
			SUBSCRIBE_ALREADY);
	list_fixture_clear(&f);
}

static void
test_confirm_policy_sends_token_then_subscribes(void)
{
	struct list_fixture f;
	char *token = NULL, *subject, *reply_to;

	init(&f, "1");
	g_assert_cmpint(ask(&f, BOB, BOB, &token), ==, SUBSCRIBE_CONFIRM);
	g_assert_false(member(&f, BOB));
	subject = g_strdup_printf("Subject: confirm %s", token);
	reply_to = g_strdup_printf("Reply-To: demo-confirm+%s@example.org", token);
	g_assert_cmpuint(mails(&f, BOB, subject), ==, 1);
	g_assert_cmpuint(mails(&f, BOB, reply_to), ==, 1);
	g_assert_cmpuint(mails(&f, BOB, "mailing list <demo-request@example.org>"),
			 ==, 1);
	g_assert_cmpint(confirm(&f, token, NULL), ==, SUBSCRIBE_DONE);
	g_assert_true(member(&f, BOB));
	g_assert_cmpuint(mails(&f, BOB, "You are subscribed as"), ==, 1);
	/* Single use. */
	g_assert_cmpint(confirm(&f, token, NULL), ==, -10);
	g_free(subject);
	g_free(reply_to);
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_approve_policy_waits_for_moderator(void)
{
	struct list_fixture f;
	GError *error = NULL;
	char *token = NULL;

	init(&f, "2");
	g_assert_cmpint(ask(&f, BOB, BOB, &token), ==, SUBSCRIBE_APPROVE);
	g_assert_false(member(&f, BOB));
	g_assert_cmpuint(mails(&f, FIXTURE_OWNER, "asks to join the"), ==, 1);
	/* A token waiting for a moderator is not the subscriber's to use
	 * by subscribe_decide only. */
	g_assert_cmpint(subscribe_decide(f.list, token, SUBSCRIBE_DECIDE_APPROVE,
					 NULL, &error), ==, SUBSCRIBE_DONE);
	g_assert_no_error(error);
	g_assert_true(member(&f, BOB));
	g_assert_cmpint(subscribe_decide(f.list, token, SUBSCRIBE_DECIDE_APPROVE,
					 NULL, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND);
	g_clear_error(&error);
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_confirm_and_approve_policy_takes_both_with_new_token(void)
{
	struct list_fixture f;
	GError *error = NULL;
	char *token = NULL, *next = NULL;

	init(&f, "3");
	g_assert_cmpint(ask(&f, BOB, BOB, &token), ==, SUBSCRIBE_CONFIRM);
	g_assert_cmpint(confirm(&f, token, &next), ==, SUBSCRIBE_APPROVE);
	g_assert_nonnull(next);
	g_assert_cmpstr(next, !=, token);
	g_assert_false(member(&f, BOB));
	/* The subscriber's token is spent: it cannot approve. */
	g_assert_cmpint(subscribe_decide(f.list, token, SUBSCRIBE_DECIDE_APPROVE,
					 NULL, &error), ==, -1);
	g_clear_error(&error);
	g_assert_cmpint(subscribe_decide(f.list, next, SUBSCRIBE_DECIDE_APPROVE,
					 NULL, &error), ==, SUBSCRIBE_DONE);
	g_assert_true(member(&f, BOB));
	g_free(token);
	g_free(next);
	list_fixture_clear(&f);
}

static void
test_auto_approval_skips_the_moderator(void)
{
	struct list_fixture f;

	init(&f, "2");
	list_set_ok(f.list, "subscribe_auto_approval", "^.*@example\\.com$");
	g_assert_cmpint(ask(&f, BOB, BOB, NULL), ==, SUBSCRIBE_DONE);
	g_assert_cmpint(ask(&f, "eve@example.net", "eve@example.net", NULL), ==,
			SUBSCRIBE_APPROVE);
	list_fixture_clear(&f);
}

static void
test_request_for_another_address_needs_its_confirmation(void)
{
	struct list_fixture f;
	char *token = NULL;

	init(&f, "0");
	g_assert_cmpint(ask(&f, BOB, "mallory@example.net", &token), ==,
			SUBSCRIBE_CONFIRM);
	g_assert_false(member(&f, BOB));
	g_assert_cmpuint(mails(&f, BOB, "from mallory@example.net"), ==, 1);
	g_assert_cmpuint(mails(&f, "mallory@example.net", "confirm"), ==, 0);
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_banned_address_is_refused(void)
{
	struct list_fixture f;
	char *token = NULL;

	init(&f, "1");
	list_set_ok(f.list, "ban_list", "^.*@spam\\.example$\nbob@example.com");
	g_assert_cmpint(ask(&f, "x@spam.example", "x@spam.example", NULL), ==,
			SUBSCRIBE_BANNED);
	g_assert_cmpint(ask(&f, "Bob@Example.com", "Bob@Example.com", NULL), ==,
			SUBSCRIBE_BANNED);
	g_assert_cmpuint(mails(&f, NULL, "confirm"), ==, 0);
	/* Banned after the confirmation was sent: still refused. */
	list_set_ok(f.list, "ban_list", "");
	g_assert_cmpint(ask(&f, BOB, BOB, &token), ==, SUBSCRIBE_CONFIRM);
	list_set_ok(f.list, "ban_list", BOB);
	g_assert_cmpint(confirm(&f, token, NULL), ==, SUBSCRIBE_BANNED);
	g_assert_false(member(&f, BOB));
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_invalid_address_is_an_error(void)
{
	struct list_fixture f;
	const struct subscribe_request r = { .address = "not an address",
					     .requester = "x@example.com" };
	GError *error = NULL;

	init(&f, "0");
	g_assert_cmpint(subscribe_request(f.list, &r, NULL, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	list_fixture_clear(&f);
}

static void
test_unsubscribe_without_password_confirms_then_goodbye(void)
{
	struct list_fixture f;
	char *token = NULL;

	init(&f, "0");
	g_assert_cmpint(ask(&f, BOB, BOB, NULL), ==, SUBSCRIBE_DONE);
	g_assert_cmpint(leave(&f, BOB, FALSE, &token), ==, SUBSCRIBE_CONFIRM);
	g_assert_true(member(&f, BOB));
	g_assert_cmpuint(mails(&f, BOB, "to remove your address"), ==, 1);
	g_assert_cmpint(confirm(&f, token, NULL), ==, SUBSCRIBE_DONE);
	g_assert_false(member(&f, BOB));
	g_assert_cmpuint(mails(&f, BOB, BOB " is no longer subscribed to"), ==, 1);
	g_assert_cmpint(leave(&f, BOB, FALSE, NULL), ==, SUBSCRIBE_NOT_MEMBER);
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_unsubscribe_with_password_at_once_or_approval(void)
{
	struct list_fixture f;
	GError *error = NULL;
	char *token = NULL;

	init(&f, "0");
	g_assert_cmpint(ask(&f, BOB, BOB, NULL), ==, SUBSCRIBE_DONE);
	g_assert_cmpint(leave(&f, BOB, TRUE, NULL), ==, SUBSCRIBE_DONE);
	g_assert_false(member(&f, BOB));
	g_assert_cmpint(ask(&f, BOB, BOB, NULL), ==, SUBSCRIBE_DONE);
	list_set_ok(f.list, "unsubscribe_policy", "1");
	g_assert_cmpint(leave(&f, BOB, TRUE, &token), ==, SUBSCRIBE_APPROVE);
	g_assert_true(member(&f, BOB));
	g_assert_cmpint(subscribe_decide(f.list, token, SUBSCRIBE_DECIDE_APPROVE,
					 NULL, &error), ==, SUBSCRIBE_DONE);
	g_assert_false(member(&f, BOB));
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_invitation_confirmed_skips_approval(void)
{
	struct list_fixture f;
	GError *error = NULL;
	char *token = NULL;

	init(&f, "3");
	g_assert_cmpint(subscribe_invite(f.list, BOB, NULL, "owner@example.org",
					 &token, &error), ==, SUBSCRIBE_CONFIRM);
	g_assert_cmpuint(mails(&f, BOB, "You are invited to the"), ==, 1);
	g_assert_cmpint(confirm(&f, token, NULL), ==, SUBSCRIBE_DONE);
	g_assert_true(member(&f, BOB));
	g_assert_cmpint(subscribe_invite(f.list, BOB, NULL, "o", NULL, &error),
			==, SUBSCRIBE_ALREADY);
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_reject_tells_requester_discard_does_not(void)
{
	struct list_fixture f;
	GError *error = NULL;
	char *a = NULL, *b = NULL;

	init(&f, "2");
	g_assert_cmpint(ask(&f, BOB, BOB, &a), ==, SUBSCRIBE_APPROVE);
	g_assert_cmpint(ask(&f, "eve@example.com", "eve@example.com", &b), ==,
			SUBSCRIBE_APPROVE);
	g_assert_cmpint(subscribe_decide(f.list, a, SUBSCRIBE_DECIDE_REJECT,
					 "not a student", &error), ==,
			SUBSCRIBE_REJECTED);
	g_assert_cmpint(subscribe_decide(f.list, b, SUBSCRIBE_DECIDE_DISCARD,
					 NULL, &error), ==, SUBSCRIBE_DISCARDED);
	g_assert_no_error(error);
	g_assert_cmpuint(mails(&f, BOB, "not a student"), ==, 1);
	g_assert_cmpuint(mails(&f, "eve@example.com", "rejected"), ==, 0);
	g_assert_false(member(&f, BOB));
	g_free(a);
	g_free(b);
	list_fixture_clear(&f);
}

static void
test_owners_told_only_with_admin_notify_mchanges(void)
{
	struct list_fixture f;

	init(&f, "0");
	list_set_ok(f.list, "send_welcome_msg", "no");
	g_assert_cmpint(ask(&f, BOB, BOB, NULL), ==, SUBSCRIBE_DONE);
	g_assert_cmpuint(mails(&f, FIXTURE_OWNER, "is now a member of the"), ==, 0);
	g_assert_cmpuint(mails(&f, BOB, "You are subscribed as"), ==, 0);
	list_set_ok(f.list, "admin_notify_mchanges", "yes");
	g_assert_cmpint(leave(&f, BOB, TRUE, NULL), ==, SUBSCRIBE_DONE);
	g_assert_cmpuint(mails(&f, FIXTURE_OWNER,
			       BOB " is no longer a member of the"), ==, 1);
	list_fixture_clear(&f);
}


/* Members put on the list in one change, each with the notices
 * subscribe_owe_added owes it (welcome as subscribe_request's). */
static void
add_owing(struct list_fixture *f, const char *const *addrs, int welcome)
{
	struct roster_change *c = roster_change_new();
	GError *error = NULL;

	for (guint i = 0; addrs[i] != NULL; i++) {
		struct member m = { 0 };
		subscribe_member_defaults(f->list, &m, FALSE);
		m.key = g_ascii_strdown(addrs[i], -1);
		m.addr = (char *)addrs[i];
		m.subscribed = 1700000000;
		roster_change_put(c, &m);
		(void)subscribe_owe_added(f->list, c, &m, welcome);
		g_free(m.key);
	}
	g_assert_cmpint(roster_commit(f->list, c, NULL, &error), ==, 0);
	g_assert_no_error(error);
	roster_change_free(&c);
}

static guint
owed_count(struct list_fixture *f)
{
	struct roster *r = NULL;
	GError *error = NULL;
	GPtrArray *owed;
	guint n;

	g_assert_cmpint(roster_load_owed(f->list, &r, &error), ==, 0);
	owed = roster_owed(r);
	n = owed->len;
	g_ptr_array_free(owed, TRUE);
	roster_free(&r);
	return n;
}

static int
send_owed(struct list_fixture *f, guint *sent_r, GError **error)
{
	return subscribe_send_owed(f->list, sent_r, error);
}

static void
test_owed_notices_sent_in_one_file_and_settled(void)
{
	static const char *const abc[] = { "a@example.com", "b@example.com",
					   "c@example.com", NULL };
	static const char *const d[] = { "d@example.com", NULL };
	struct list_fixture f;
	GError *error = NULL;
	guint sent = 0;

	init(&f, "0");
	list_set_ok(f.list, "admin_notify_mchanges", "yes");
	add_owing(&f, abc, SUBSCRIBE_LIST_DEFAULT);
	add_owing(&f, d, 0);
	g_assert_cmpuint(owed_count(&f), ==, 7);	/* 3 welcomes, 4 to owners */
	g_assert_cmpuint(mails(&f, NULL, "You are subscribed as"), ==, 0);
	/* b leaves before anything was sent: its notices go unsent. */
	{
		struct roster_change *c = roster_change_new();
		roster_change_remove(c, "b@example.com");
		g_assert_cmpint(roster_commit(f.list, c, NULL, &error), ==, 0);
		roster_change_free(&c);
	}
	g_assert_cmpint(send_owed(&f, &sent, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(sent, ==, 5);
	g_assert_cmpuint(mails(&f, "a@example.com", "You are subscribed as a@example.com"), ==, 1);
	g_assert_cmpuint(mails(&f, "c@example.com", "You are subscribed as c@example.com"), ==, 1);
	g_assert_cmpuint(mails(&f, "b@example.com", "You are subscribed as"), ==, 0);
	g_assert_cmpuint(mails(&f, "d@example.com", "You are subscribed as"), ==, 0);
	g_assert_cmpuint(mails(&f, FIXTURE_OWNER, "is now a member of the"), ==, 3);
	/* Five notices, one file. */
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 1);
	g_assert_cmpuint(owed_count(&f), ==, 0);
	g_assert_cmpint(send_owed(&f, &sent, &error), ==, 0);
	g_assert_cmpuint(sent, ==, 0);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 1);
	list_fixture_clear(&f);
}

static void
test_owed_notice_left_owed_when_it_cannot_be_stored(void)
{
	static const char *const e[] = { "e@example.com", NULL };
	struct list_fixture f;
	GError *error = NULL;
	guint sent = 0;
	char *q, *away;

	init(&f, "0");
	add_owing(&f, e, SUBSCRIBE_LIST_DEFAULT);
	/* The virgin queue cannot be opened: a file where its folder was. */
	q = g_build_filename(f.var, "queue", "virgin", NULL);
	away = g_strconcat(q, ".away", NULL);
	g_assert_cmpint(g_mkdir_with_parents(q, 0770), ==, 0);
	g_assert_cmpint(rename(q, away), ==, 0);
	g_assert_true(g_file_set_contents(q, "", 0, NULL));
	g_assert_cmpint(send_owed(&f, &sent, &error), ==, -1);
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_cmpuint(sent, ==, 0);
	g_assert_cmpuint(owed_count(&f), ==, 1);
	/* Room again: sent once. */
	g_assert_cmpint(unlink(q), ==, 0);
	g_assert_cmpint(rename(away, q), ==, 0);
	g_assert_cmpint(send_owed(&f, &sent, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(sent, ==, 1);
	g_assert_cmpuint(mails(&f, "e@example.com", "You are subscribed as e@example.com"), ==, 1);
	g_assert_cmpuint(owed_count(&f), ==, 0);
	g_free(q);
	g_free(away);
	list_fixture_clear(&f);
}

/* A change of address asked by old itself on l. */
static int
move(struct list *l, const char *old, const char *to, gboolean all,
     char **token_r)
{
	GError *error = NULL;
	int o = subscribe_change_address(l, old, to, all, old, "web", token_r,
					 &error);

	g_assert_no_error(error);
	return o;
}

static void
test_change_address_confirmed_by_new_address_moves_record(void)
{
	struct list_fixture f;
	struct roster *r = NULL;
	const struct member *m;
	GError *error = NULL;
	char *token = NULL, *subject;

	init(&f, "1");
	list_set_ok(f.list, "admin_notify_mchanges", "yes");
	fixture_put_member(f.list, BOB, MODE_MIME_DIGEST, STATUS_ENABLED,
			   OPT_ACK | OPT_CONCEAL);
	g_assert_cmpint(move(f.list, BOB, "New@Example.net", FALSE, &token),
			==, SUBSCRIBE_CONFIRM);
	subject = g_strdup_printf("Subject: confirm %s", token);
	g_assert_cmpuint(mails(&f, "New@example.net", subject), ==, 1);
	g_assert_cmpuint(mails(&f, BOB, subject), ==, 0);
	g_assert_true(member(&f, BOB));
	g_assert_false(member(&f, "new@example.net"));
	g_assert_cmpint(confirm(&f, token, NULL), ==, SUBSCRIBE_DONE);
	g_assert_false(member(&f, BOB));
	g_assert_cmpint(roster_load(f.list, &r, &error), ==, 0);
	m = roster_find(r, "new@example.net");
	g_assert_nonnull(m);
	g_assert_cmpstr(m->addr, ==, "New@example.net");
	g_assert_cmpint(m->mode, ==, MODE_MIME_DIGEST);
	g_assert_cmpuint(m->options, ==, OPT_ACK | OPT_CONCEAL);
	roster_free(&r);
	g_assert_cmpuint(mails(&f, FIXTURE_OWNER, "New address:  New@example.net"),
			 ==, 1);
	g_assert_cmpint(confirm(&f, token, NULL), ==, -10);
	g_free(subject);
	g_free(token);
	list_fixture_clear(&f);
}

static void
test_change_address_refusals(void)
{
	struct list_fixture f;
	GError *error = NULL;

	init(&f, "1");
	fixture_add_member(&f, BOB, 0);
	fixture_add_member(&f, "ann@example.com", 0);
	list_set_ok(f.list, "ban_list", "^.*@spam\\.example$");
	g_assert_cmpint(move(f.list, "eve@example.com", "x@example.com", FALSE,
			     NULL), ==, SUBSCRIBE_NOT_MEMBER);
	g_assert_cmpint(move(f.list, BOB, "ANN@example.com", FALSE, NULL), ==,
			SUBSCRIBE_ALREADY);
	g_assert_cmpint(move(f.list, BOB, "bob@spam.example", FALSE, NULL), ==,
			SUBSCRIBE_BANNED);
	g_assert_cmpint(subscribe_change_address(f.list, BOB, "BOB@example.com",
						 FALSE, BOB, "web", NULL,
						 &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpint(subscribe_change_address(f.list, BOB, "not an address",
						 FALSE, BOB, "web", NULL,
						 &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpuint(mails(&f, NULL, "Subject: confirm"), ==, 0);
	list_fixture_clear(&f);
}

static void
test_change_address_on_every_list(void)
{
	struct list_fixture f;
	struct list *two, *three;
	char *token = NULL;

	init(&f, "1");
	two = fixture_new_list(&f, "two@example.org");
	three = fixture_new_list(&f, "three@example.org");
	fixture_add_member(&f, BOB, 0);
	fixture_put_member(two, BOB, MODE_REGULAR, STATUS_BY_USER, OPT_NODUPES);
	fixture_put_member(three, "other@example.com", MODE_REGULAR,
			   STATUS_ENABLED, 0);
	g_assert_cmpint(move(f.list, BOB, "new@example.net", TRUE, &token), ==,
			SUBSCRIBE_CONFIRM);
	g_assert_cmpuint(mails(&f, "new@example.net", "Subject: confirm"), ==, 1);
	g_assert_cmpint(confirm(&f, token, NULL), ==, SUBSCRIBE_DONE);
	g_assert_true(member(&f, "new@example.net"));
	{
		struct roster *r = NULL;
		const struct member *m;
		GError *error = NULL;

		g_assert_cmpint(roster_load(two, &r, &error), ==, 0);
		g_assert_null(roster_find(r, BOB));
		m = roster_find(r, "new@example.net");
		g_assert_nonnull(m);
		g_assert_cmpint(m->status, ==, STATUS_BY_USER);
		g_assert_cmpuint(m->options, ==, OPT_NODUPES);
		roster_free(&r);
		g_assert_cmpint(roster_load(three, &r, &error), ==, 0);
		g_assert_null(roster_find(r, "new@example.net"));
		g_assert_cmpuint(roster_count(r), ==, 1);
		roster_free(&r);
	}
	list_free(&two);
	list_free(&three);
	g_free(token);
	list_fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/subscribe/policy0/at-once-with-welcome",
	  test_open_policy_subscribes_at_once_with_welcome },
	{ "/subscribe/policy1/token-then-member",
	  test_confirm_policy_sends_token_then_subscribes },
	{ "/subscribe/policy2/moderator-approves",
	  test_approve_policy_waits_for_moderator },
	{ "/subscribe/policy3/confirm-then-moderator-new-token",
	  test_confirm_and_approve_policy_takes_both_with_new_token },
	{ "/subscribe/auto-approval/skips-moderator",
	  test_auto_approval_skips_the_moderator },
	{ "/subscribe/other-address/needs-its-confirmation",
	  test_request_for_another_address_needs_its_confirmation },
	{ "/subscribe/ban-list/refused", test_banned_address_is_refused },
	{ "/subscribe/invalid-address/error", test_invalid_address_is_an_error },
	{ "/unsubscribe/no-password/confirm-then-goodbye",
	  test_unsubscribe_without_password_confirms_then_goodbye },
	{ "/unsubscribe/password/at-once-or-approval",
	  test_unsubscribe_with_password_at_once_or_approval },
	{ "/subscribe/invite/confirmed-skips-approval",
	  test_invitation_confirmed_skips_approval },
	{ "/subscribe/decide/reject-tells-discard-silent",
	  test_reject_tells_requester_discard_does_not },
	{ "/subscribe/owners/told-with-admin-notify-mchanges",
	  test_owners_told_only_with_admin_notify_mchanges },
	{ "/subscribe/owed/sent-in-one-file-and-settled",
	  test_owed_notices_sent_in_one_file_and_settled },
	{ "/subscribe/owed/left-owed-when-not-stored",
	  test_owed_notice_left_owed_when_it_cannot_be_stored },
	{ "/subscribe/change-address/new-confirms-record-moves",
	  test_change_address_confirmed_by_new_address_moves_record },
	{ "/subscribe/change-address/refusals", test_change_address_refusals },
	{ "/subscribe/change-address/every-list",
	  test_change_address_on_every_list },
};

UNIT_TEST_MAIN(tests)
