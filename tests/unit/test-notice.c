/*
 * test-notice.c - unit tests for notice.c: a notice is a virgin queue
 * entry with its recipients, the envelope sender LIST-bounces, From
 * LIST-owner and the headers that keep robots from answering; an
 * attachment travels as message/rfc822; notices to the owners reach each
 * owner and moderator once; automatic replies stop at the site's daily
 * allowance per address and list, and robots get none; no notice of any
 * kind goes to an address herald serves (the list's own, another list's,
 * in any case, with a +extension).
 *
 * Every test runs against a fresh var dir with a list demo@example.org,
 * in a child process of its own.
 */
#include "mail/address.h"
#include "base/base.h"
#include "list/list.h"
#include "store/lock.h"
#include "base/log.h"
#include "mail/message.h"
#include "list/notice.h"
#include "store/queue.h"
#include "store/site.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* --- helpers ------------------------------------------------------------- */

#define FQDN "demo@example.org"

/* GMime is initialised here, as the runners have it (they parse before
 * they send), so that these tests prove their own point; that a notice
 * needs no earlier parse is test_send_in_a_process_that_parsed_nothing. */
static void
fixture_setup(struct list_fixture *f)
{
	list_fixture_init(f, FQDN);
	message_init();
}

/* The same, the site answering each address automatically per_day
 * times a day from each list. */
static void
allowance_setup(struct list_fixture *f, const char *per_day)
{
	fixture_setup(f);
	site_set_ok(f->site, "notice.max_autoresponses_per_day", per_day);
}

/* The rcpt lines of an entry in their order, joined by ",". */
static char *
item_rcpts(struct queue_item *it)
{
	GPtrArray *all = queue_meta_get_all(it->meta, "rcpt");
	char *s = strings_joined(all, ",");

	g_ptr_array_unref(all);
	return s;
}

/* The addresses of header name, as keys, joined by ",". */
static char *
header_addrs(GMimeMessage *msg, const char *name)
{
	const char *names[] = { name, NULL };
	GPtrArray *a = message_addresses(msg, names);
	char *s = strings_joined(a, ",");

	g_ptr_array_unref(a);
	return s;
}

static int
autorespond(struct list_fixture *f, const char *addr)
{
	GError *error = NULL;
	int r = notice_autorespond(f->list, addr, "Automatic reply", "Text.\n",
				   NULL, &error);

	g_assert_no_error(error);
	return r;
}

/* --- notice_send --------------------------------------------------------- */

static void
test_send_writes_virgin_entry_from_owner_with_bounces_sender(void)
{
	static const char *const to[] = {
		"a@example.net", "B@Example.NET", NULL,
	};
	struct list_fixture f;
	GError *error = NULL;
	GPtrArray *items;
	struct queue_item *it;
	GMimeMessage *msg;
	GMimeTextPart *part;
	char *s;

	fixture_setup(&f);
	g_assert_cmpint(notice_send(f.list, to, "Caf\xc3\xa9 notice",
				    "Hello from the list.\n", NULL, &error), ==, 0);
	g_assert_no_error(error);
	items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 1);
	it = items->pdata[0];
	s = item_rcpts(it);
	g_assert_cmpstr(s, ==, "a@example.net,B@Example.NET");
	g_free(s);
	g_assert_cmpstr(queue_meta_get(it->meta, "sender"), ==,
			"demo-bounces@example.org");
	g_assert_cmpstr(queue_meta_get(it->meta, "list"), ==, FQDN);
	msg = item_message(it);
	s = header_addrs(msg, "From");
	g_assert_cmpstr(s, ==, "demo-owner@example.org");
	g_free(s);
	s = header_addrs(msg, "To");
	g_assert_cmpstr(s, ==, "a@example.net,b@example.net");
	g_free(s);
	s = message_header_decoded(msg, "Subject");
	g_assert_cmpstr(s, ==, "Caf\xc3\xa9 notice");
	g_free(s);
	g_assert_cmpstr(message_header(msg, "Auto-Submitted"), ==, "auto-generated");
	g_assert_cmpstr(message_header(msg, "X-List-Administrivia"), ==, "yes");
	g_assert_cmpstr(message_header(msg, "Precedence"), ==, "bulk");
	g_assert_nonnull(message_header(msg, "Message-ID"));
	g_assert_nonnull(message_header(msg, "Date"));
	part = message_first_text_part(msg);
	g_assert_nonnull(part);
	s = g_mime_text_part_get_text(part);
	g_assert_cmpstr(s, ==, "Hello from the list.\n");
	g_free(s);
	g_object_unref(msg);
	g_ptr_array_unref(items);
	list_fixture_clear(&f);
}

/* A notice's text that is not ASCII arrives as written, whatever charset
 * GMime picks for it (Latin-1 fits "Ünïcode": the label must say so). */
static void
test_send_text_not_ascii_reads_back_the_same(void)
{
	static const char *const to[] = { "a@example.net", NULL };
	static const char text[] = "Held: \xc3\x9cn\xc3\xaf" "code and \xe2\x82\xac\n";
	static const char latin[] = "Held: \xc3\x9cn\xc3\xaf" "code\n";
	const char *texts[] = { text, latin };
	struct list_fixture f;
	GError *error = NULL;

	fixture_setup(&f);
	for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
		g_assert_cmpint(notice_send(f.list, to, "Subject", texts[i], NULL,
					    &error), ==, 0);
		g_assert_no_error(error);
	}
	GPtrArray *items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 2);
	for (guint i = 0; i < items->len; i++) {
		GMimeMessage *msg = item_message(items->pdata[i]);
		GMimeTextPart *part = message_first_text_part(msg);
		char *got = g_mime_text_part_get_text(part);

		g_assert_cmpstr(got, ==, texts[i]);	/* FIFO: in order */
		g_free(got);
		g_object_unref(msg);
	}
	g_ptr_array_unref(items);
	list_fixture_clear(&f);
}

/* notice.h is library API: a program that sends a notice before it parses
 * any message (a command that welcomes a member, say) must not find GMime
 * uninitialised. */
static void
test_send_in_a_process_that_parsed_nothing(void)
{
	static const char *const to[] = { "a@example.net", NULL };
	struct list_fixture f;
	GError *error = NULL;

	list_fixture_init(&f, FQDN);
	g_assert_cmpint(notice_send(f.list, to, "First thing", "Hello.\n", NULL,
				    &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 1);
	list_fixture_clear(&f);
}

static void
test_send_attachment_goes_as_message_rfc822(void)
{
	static const char *const orig_text =
		"From: Ann <ann@example.com>\nTo: " FQDN "\n"
		"Subject: The original\nMessage-ID: <orig@example.com>\n\n"
		"Original body.\n";
	static const char *const to[] = { "ann@example.com", NULL };
	struct list_fixture f;
	GError *error = NULL;
	GPtrArray *items;
	GMimeMessage *orig, *msg, *inner;
	GMimeObject *body, *second;
	GMimeTextPart *part;
	char *s;

	fixture_setup(&f);
	orig = message_parse(orig_text, strlen(orig_text), &error);
	g_assert_no_error(error);
	g_assert_cmpint(notice_send(f.list, to, "Your post", "See attached.\n",
				    orig, &error), ==, 0);
	g_assert_no_error(error);
	g_object_unref(orig);
	items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 1);
	msg = item_message(items->pdata[0]);
	body = g_mime_message_get_mime_part(msg);
	g_assert_true(GMIME_IS_MULTIPART(body));
	g_assert_true(g_mime_content_type_is_type(
		g_mime_object_get_content_type(body), "multipart", "mixed"));
	g_assert_cmpint(g_mime_multipart_get_count(GMIME_MULTIPART(body)), ==, 2);
	part = message_first_text_part(msg);
	s = g_mime_text_part_get_text(part);
	g_assert_cmpstr(s, ==, "See attached.\n");
	g_free(s);
	second = g_mime_multipart_get_part(GMIME_MULTIPART(body), 1);
	g_assert_true(GMIME_IS_MESSAGE_PART(second));
	g_assert_true(g_mime_content_type_is_type(
		g_mime_object_get_content_type(second), "message", "rfc822"));
	inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(second));
	g_assert_nonnull(inner);
	g_assert_cmpstr(message_header(inner, "Subject"), ==, "The original");
	g_assert_cmpstr(message_header(inner, "Message-ID"), ==, "<orig@example.com>");
	g_object_unref(msg);
	g_ptr_array_unref(items);
	list_fixture_clear(&f);
}

static void
test_send_to_nobody_writes_nothing(void)
{
	static const char *const none[] = { NULL };
	struct list_fixture f;
	GError *error = NULL;

	fixture_setup(&f);
	g_assert_cmpint(notice_send(f.list, none, "x", "y", NULL, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 0);
	list_fixture_clear(&f);
}

/* notice_to_owners with the owner and moderator settings so: one notice,
 * to want (its rcpt lines joined). */
static void
assert_to_owners(const char *owner, const char *moderator, const char *want)
{
	struct list_fixture f;
	GError *error = NULL;
	GPtrArray *items;
	char *s;

	fixture_setup(&f);
	list_set_ok(f.list, "owner", owner);
	list_set_ok(f.list, "moderator", moderator);
	g_assert_cmpint(notice_to_owners(f.list, "For the owners", "Text.\n",
					 NULL, &error), ==, 0);
	g_assert_no_error(error);
	items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 1);
	s = item_rcpts(items->pdata[0]);
	g_assert_cmpstr(s, ==, want);
	g_free(s);
	g_ptr_array_unref(items);
	list_fixture_clear(&f);
}

static void
test_to_owners_reaches_owners_and_moderators_once(void)
{
	assert_to_owners(FIXTURE_OWNER "\nboth@example.org",
			 "both@example.org\nmod@example.org",
			 FIXTURE_OWNER ",both@example.org,mod@example.org");
}

/* An owner who is also a moderator, the two settings spelling the address
 * in different case, is one person (address_equal): one copy. */
static void
test_to_owners_duplicate_in_another_case_is_one_recipient(void)
{
	assert_to_owners("Both@example.org", "both@example.org",
			 "Both@example.org");
}

/* --- notice_autorespond -------------------------------------------------- */

static void
test_autorespond_daily_limit_stops_the_next_reply(void)
{
	struct list_fixture f;
	GPtrArray *items;
	char *s;

	allowance_setup(&f, "3");
	for (int i = 0; i < 3; i++)
		g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 1);
	/* The first one over the limit is not sent; the "nomoretoday"
	 * notice goes instead, once (Mailman 2.1). */
	g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 0);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 4);
	/* The same address in another case is the same address: silence. */
	g_assert_cmpint(autorespond(&f, "ANN@Example.com"), ==, 0);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 4);
	/* Another address has its own allowance. */
	g_assert_cmpint(autorespond(&f, "bob@example.net"), ==, 1);
	items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 5);
	s = item_rcpts(items->pdata[3]);
	g_assert_cmpstr(s, ==, "ann@example.com");
	g_free(s);
	g_assert_nonnull(strstr(((struct queue_item *)items->pdata[3])->msg,
				"Subject: Last autoresponse notification for today"));
	s = item_rcpts(items->pdata[4]);
	g_assert_cmpstr(s, ==, "bob@example.net");
	g_free(s);
	g_ptr_array_unref(items);
	list_fixture_clear(&f);
}

/* A quoted local part may hold a space ("john doe"@example.com is an
 * address, and its key keeps the space): the count is still kept. */
static void
test_autorespond_daily_limit_holds_for_address_with_space(void)
{
	struct list_fixture f;

	allowance_setup(&f, "1");
	g_assert_cmpint(autorespond(&f, "\"john doe\"@example.com"), ==, 1);
	g_assert_cmpint(autorespond(&f, "\"john doe\"@example.com"), ==, 0);
	g_assert_cmpint(autorespond(&f, "\"john doe\"@example.com"), ==, 0);
	/* The reply and the one "nomoretoday" notice. */
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 2);
	list_fixture_clear(&f);
}

static void
test_autorespond_allowance_is_per_list(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct list *other;

	allowance_setup(&f, "1");
	other = fixture_new_list(&f, "other@example.org");
	g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 1);
	g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 0);
	g_assert_cmpint(notice_autorespond(other, "ann@example.com", "x", "y",
					   NULL, &error), ==, 1);
	g_assert_no_error(error);
	list_free(&other);
	list_fixture_clear(&f);
}

static void
test_autorespond_count_of_an_earlier_day_does_not_count(void)
{
	struct list_fixture f;
	char *path;

	allowance_setup(&f, "2");
	path = g_build_filename(list_dir(f.list), "autoresponses", NULL);
	g_assert_true(g_file_set_contents(path,
		"ann%40example.com 2001-01-01 99\n", -1, NULL));
	g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 1);
	g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 1);
	g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 0);
	g_free(path);
	list_fixture_clear(&f);
}

/* The ledger is sharded by address (lists/<list>/autoresponses.d/NN), and
 * today's count in the unsharded file of an older herald still counts. */
static void
test_autorespond_ledger_sharded_reads_older_file(void)
{
	struct list_fixture f;
	GDateTime *now = g_date_time_new_now_utc();
	char *today = g_date_time_format(now, "%Y-%m-%d");
	char *path, *text, *dir;
	GDir *d;
	int files = 0;

	allowance_setup(&f, "2");
	path = g_build_filename(list_dir(f.list), "autoresponses", NULL);
	text = g_strdup_printf("ann%%40example.com %s 2\n", today);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	/* ann had her two today (the older file): the nomoretoday notice. */
	g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 0);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 1);
	for (int i = 0; i < 20; i++) {
		char *who = g_strdup_printf("user%d@example.com", i);
		g_assert_cmpint(autorespond(&f, who), ==, 1);
		g_free(who);
	}
	dir = g_build_filename(list_dir(f.list), "autoresponses.d", NULL);
	d = g_dir_open(dir, 0, NULL);
	g_assert_nonnull(d);
	while (d != NULL && g_dir_read_name(d) != NULL)
		files++;
	if (d != NULL)
		g_dir_close(d);
	/* 21 addresses over 64 buckets: more than one file. */
	g_assert_cmpint(files, >, 1);
	/* The older file is never written. */
	g_free(text);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_assert_cmpuint(strlen(text), ==, strlen("ann%40example.com ") +
			 strlen(today) + strlen(" 2\n"));
	g_free(text);
	g_free(dir);
	g_free(path);
	g_free(today);
	g_date_time_unref(now);
	list_fixture_clear(&f);
}

static void
test_autorespond_limit_0_is_no_limit(void)
{
	struct list_fixture f;

	allowance_setup(&f, "0");
	for (int i = 0; i < 15; i++)
		g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 1);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 15);
	list_fixture_clear(&f);
}

static void
test_autorespond_default_limit_is_10(void)
{
	struct list_fixture f;

	fixture_setup(&f);
	for (int i = 0; i < 10; i++)
		g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 1);
	g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 0);
	g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 0);
	/* Ten replies and the one "nomoretoday" notice. */
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 11);
	list_fixture_clear(&f);
}

static void
test_autorespond_robots_get_none(void)
{
	static const char *const robots[] = {
		"", "mailer-daemon@example.com", "MAILER-DAEMON@example.com",
		"x-bounces@example.com", "demo-bounces@example.org",
		"other-request@example.net", "owner-list@example.net",
		"noreply@example.com", "no-reply@example.com",
		"not an address",
	};
	struct list_fixture f;

	fixture_setup(&f);
	for (gsize i = 0; i < G_N_ELEMENTS(robots); i++) {
		g_test_message("address '%s'", robots[i]);
		g_assert_cmpint(autorespond(&f, robots[i]), ==, 0);
	}
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 0);
	/* A person whose address merely contains such words is answered. */
	g_assert_cmpint(autorespond(&f, "bounces.fan@example.com"), ==, 1);
	list_fixture_clear(&f);
}


/* --- never to a list address -------------------------------------------- */

/* Every address herald serves on the site, as a poster might write it. */
static const char *const served_addrs[] = {
	FQDN, "DEMO@EXAMPLE.ORG", "Demo@example.org", "demo-owner@example.org",
	"demo-admin@Example.org", "demo-request@example.org",
	"demo-bounces@example.org", "demo-bounces+ann=example.com@example.org",
	"demo-confirm+0123abcd@example.org", "demo-join@example.org",
	"demo-leave@example.org", "demo+tag@example.org",
	"demo-owner+x@example.org", "other@example.org", "OTHER-Owner@example.org",
	"other-unsubscribe@example.org",
};

static void
test_send_drops_every_address_herald_serves(void)
{
	GPtrArray *to = g_ptr_array_new();
	struct list_fixture f;
	GError *error = NULL;
	GPtrArray *items;
	GMimeMessage *msg;
	struct list *other;
	char *s;

	fixture_setup(&f);
	other = fixture_new_list(&f, "other@example.org");
	g_ptr_array_add(to, "ann@example.com");
	for (gsize i = 0; i < G_N_ELEMENTS(served_addrs); i++)
		g_ptr_array_add(to, (char *)served_addrs[i]);
	/* Lookalikes of other domains and names are people. */
	g_ptr_array_add(to, "demo@example.net");
	g_ptr_array_add(to, "demo-ownerx@example.org");
	g_ptr_array_add(to, NULL);
	g_assert_cmpint(notice_send(f.list, (const char *const *)to->pdata,
				    "Your post awaits moderator approval",
				    "Text.\n", NULL, &error), ==, 0);
	g_assert_no_error(error);
	items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 1);
	s = item_rcpts(items->pdata[0]);
	g_assert_cmpstr(s, ==, "ann@example.com,demo@example.net,"
			"demo-ownerx@example.org");
	g_free(s);
	msg = item_message(items->pdata[0]);
	s = header_addrs(msg, "To");
	g_assert_cmpstr(s, ==, "ann@example.com,demo@example.net,"
			"demo-ownerx@example.org");
	g_free(s);
	g_object_unref(msg);
	g_ptr_array_unref(items);
	/* Each alone: no notice at all. */
	for (gsize i = 0; i < G_N_ELEMENTS(served_addrs); i++) {
		const char *one[] = { served_addrs[i], NULL };

		g_test_message("to %s", served_addrs[i]);
		g_assert_cmpint(notice_send(f.list, one, "x", "y", NULL, &error),
				==, 0);
		g_assert_no_error(error);
	}
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 1);
	g_ptr_array_free(to, TRUE);
	list_free(&other);
	list_fixture_clear(&f);
}

/* An owner or moderator setting that names a list address (the list's
 * own -owner, say) does not make the owners' notice mail a list. */
static void
test_to_owners_skips_list_addresses(void)
{
	assert_to_owners(FIXTURE_OWNER "\ndemo-owner@example.org",
			 "Demo@Example.org\nmod@example.org",
			 FIXTURE_OWNER ",mod@example.org");
}

/* An automatic reply to a post From: the list (the hold notice, say) is
 * not sent, and uses none of the day's allowance. */
static void
test_autorespond_to_a_list_address_sends_nothing(void)
{
	struct list_fixture f;

	allowance_setup(&f, "1");
	for (gsize i = 0; i < G_N_ELEMENTS(served_addrs); i++) {
		struct list *other = i == 0 ? fixture_new_list(&f, "other@example.org")
					    : NULL;
		g_test_message("address '%s'", served_addrs[i]);
		g_assert_cmpint(autorespond(&f, served_addrs[i]), ==, 0);
		list_free(&other);
	}
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 0);
	g_assert_cmpint(autorespond(&f, "ann@example.com"), ==, 1);
	list_fixture_clear(&f);
}

/* --- running ------------------------------------------------------------- */

static const struct unit_test tests[] = {
	{ "/notice/send/virgin-entry-from-owner-with-bounces-sender",
	  test_send_writes_virgin_entry_from_owner_with_bounces_sender },
	{ "/notice/send/text-not-ascii-reads-back-the-same",
	  test_send_text_not_ascii_reads_back_the_same },
	{ "/notice/send/in-a-process-that-parsed-nothing",
	  test_send_in_a_process_that_parsed_nothing },
	{ "/notice/send/attachment-as-message-rfc822",
	  test_send_attachment_goes_as_message_rfc822 },
	{ "/notice/send/to-nobody-writes-nothing",
	  test_send_to_nobody_writes_nothing },
	{ "/notice/to-owners/owners-and-moderators-once",
	  test_to_owners_reaches_owners_and_moderators_once },
	{ "/notice/to-owners/duplicate-in-another-case-is-one-recipient",
	  test_to_owners_duplicate_in_another_case_is_one_recipient },
	{ "/notice/autorespond/ledger-sharded-reads-older-file",
	  test_autorespond_ledger_sharded_reads_older_file },
	{ "/notice/autorespond/daily-limit-stops-the-next",
	  test_autorespond_daily_limit_stops_the_next_reply },
	{ "/notice/autorespond/daily-limit-holds-for-address-with-space",
	  test_autorespond_daily_limit_holds_for_address_with_space },
	{ "/notice/autorespond/allowance-is-per-list",
	  test_autorespond_allowance_is_per_list },
	{ "/notice/autorespond/earlier-day-does-not-count",
	  test_autorespond_count_of_an_earlier_day_does_not_count },
	{ "/notice/autorespond/limit-0-is-no-limit",
	  test_autorespond_limit_0_is_no_limit },
	{ "/notice/autorespond/default-limit-is-10",
	  test_autorespond_default_limit_is_10 },
	{ "/notice/autorespond/robots-get-none",
	  test_autorespond_robots_get_none },
	{ "/notice/send/drops-every-address-herald-serves",
	  test_send_drops_every_address_herald_serves },
	{ "/notice/to-owners/skips-list-addresses",
	  test_to_owners_skips_list_addresses },
	{ "/notice/autorespond/to-a-list-address-sends-nothing",
	  test_autorespond_to_a_list_address_sends_nothing },
};

UNIT_TEST_MAIN(tests)
