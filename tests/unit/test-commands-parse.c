/*
 * test-commands-parse.c - unit tests for commands/parse.c: every command
 * with good and bad arguments (a table), case-insensitive names with
 * passwords and tokens kept as written; the Subject after reply prefixes
 * and a [list] tag, passed over when it is no command; the body read
 * until the first line that is no command, a signature marker, or "end",
 * with quoted and blank lines skipped; 50 commands in one message stop at
 * the limit with the rest reported as ignored; a reply's Subject and
 * quoted body confirm once; from a real message, the first text/plain
 * part only.
 */
#include "commands/parse.h"
#include "mail/message.h"

#include <string.h>

#include "testutil.h"

#define TOKEN "Ab3-_xYz0123456789Ab3-_xYz0123456789Ab3-_xY"

struct line_case {
	const char *line;
	int kind;		/* -1: no command */
	gboolean ok;		/* usage is NULL */
	const char *password, *address, *token, *new_password;
	int digest, set, on;
};

#define NO -1
static const struct line_case cases[] = {
	{ "confirm " TOKEN, COMMAND_CONFIRM, TRUE, .token = TOKEN, .digest = NO, .on = NO },
	{ "CONFIRM " TOKEN, COMMAND_CONFIRM, TRUE, .token = TOKEN, .digest = NO, .on = NO },
	{ "confirm", COMMAND_CONFIRM, FALSE, .digest = NO, .on = NO },
	{ "confirm a b", COMMAND_CONFIRM, FALSE, .digest = NO, .on = NO },
	{ "subscribe", COMMAND_SUBSCRIBE, TRUE, .digest = NO, .on = NO },
	{ "Subscribe Secret digest", COMMAND_SUBSCRIBE, TRUE, .password = "Secret", .digest = 1, .on = NO },
	{ "join nodigest address=Bob@Example.com", COMMAND_SUBSCRIBE, TRUE, .address = "Bob@Example.com", .digest = 0, .on = NO },
	{ "subscribe pw ADDRESS=x@example.com DIGEST", COMMAND_SUBSCRIBE, TRUE, .password = "pw", .address = "x@example.com", .digest = 1, .on = NO },
	{ "subscribe a b", COMMAND_SUBSCRIBE, FALSE, .digest = NO, .on = NO },
	{ "subscribe address=", COMMAND_SUBSCRIBE, FALSE, .digest = NO, .on = NO },
	{ "unsubscribe", COMMAND_UNSUBSCRIBE, TRUE, .digest = NO, .on = NO },
	{ "leave pw address=a@example.com", COMMAND_UNSUBSCRIBE, TRUE, .password = "pw", .address = "a@example.com", .digest = NO, .on = NO },
	{ "remove", COMMAND_UNSUBSCRIBE, TRUE, .digest = NO, .on = NO },
	{ "unsubscribe digest", COMMAND_UNSUBSCRIBE, TRUE, .password = "digest", .digest = NO, .on = NO },
	{ "unsubscribe a b", COMMAND_UNSUBSCRIBE, FALSE, .digest = NO, .on = NO },
	{ "who", COMMAND_WHO, TRUE, .digest = NO, .on = NO },
	{ "who pw", COMMAND_WHO, TRUE, .password = "pw", .digest = NO, .on = NO },
	{ "who a b", COMMAND_WHO, FALSE, .digest = NO, .on = NO },
	{ "info", COMMAND_INFO, TRUE, .digest = NO, .on = NO },
	{ "info please", COMMAND_INFO, FALSE, .digest = NO, .on = NO },
	{ "lists", COMMAND_LISTS, TRUE, .digest = NO, .on = NO },
	{ "HELP", COMMAND_HELP, TRUE, .digest = NO, .on = NO },
	{ "help me", COMMAND_HELP, FALSE, .digest = NO, .on = NO },
	{ "password", COMMAND_PASSWORD, TRUE, .digest = NO, .on = NO },
	{ "password Old New", COMMAND_PASSWORD, TRUE, .password = "Old", .new_password = "New", .digest = NO, .on = NO },
	{ "password old", COMMAND_PASSWORD, FALSE, .digest = NO, .on = NO },
	{ "password a b c", COMMAND_PASSWORD, FALSE, .digest = NO, .on = NO },
	{ "set help", COMMAND_SET, TRUE, .set = SET_HELP, .digest = NO, .on = NO },
	{ "set show address=a@example.com", COMMAND_SET, TRUE, .set = SET_SHOW, .address = "a@example.com", .digest = NO, .on = NO },
	{ "set authenticate PW", COMMAND_SET, TRUE, .set = SET_AUTHENTICATE, .password = "PW", .digest = NO, .on = NO },
	{ "set ack on", COMMAND_SET, TRUE, .set = SET_ACK, .digest = NO, .on = 1 },
	{ "SET DELIVERY OFF", COMMAND_SET, TRUE, .set = SET_DELIVERY, .digest = NO, .on = 0 },
	{ "set myposts off", COMMAND_SET, TRUE, .set = SET_MYPOSTS, .digest = NO, .on = 0 },
	{ "set hide on", COMMAND_SET, TRUE, .set = SET_HIDE, .digest = NO, .on = 1 },
	{ "set duplicates on", COMMAND_SET, TRUE, .set = SET_DUPLICATES, .digest = NO, .on = 1 },
	{ "set reminders off", COMMAND_SET, TRUE, .set = SET_REMINDERS, .digest = NO, .on = 0 },
	{ "set digest mime", COMMAND_SET, TRUE, .set = SET_DIGEST, .digest = 2, .on = NO },
	{ "set digest plain", COMMAND_SET, TRUE, .set = SET_DIGEST, .digest = 1, .on = NO },
	{ "set digest off", COMMAND_SET, TRUE, .set = SET_DIGEST, .digest = 0, .on = NO },
	{ "set digest weekly", COMMAND_SET, FALSE, .set = SET_DIGEST, .digest = NO, .on = NO },
	{ "set ack maybe", COMMAND_SET, FALSE, .set = SET_ACK, .digest = NO, .on = NO },
	{ "set ack", COMMAND_SET, FALSE, .set = SET_ACK, .digest = NO, .on = NO },
	{ "set colour blue", COMMAND_SET, FALSE, .digest = NO, .on = NO },
	{ "set", COMMAND_SET, FALSE, .digest = NO, .on = NO },
	{ "set show extra", COMMAND_SET, FALSE, .set = SET_SHOW, .digest = NO, .on = NO },
	{ "options", COMMAND_OPTIONS, TRUE, .set = SET_SHOW, .digest = NO, .on = NO },
	{ "end", COMMAND_END, TRUE, .digest = NO, .on = NO },
	{ "stop", COMMAND_END, TRUE, .digest = NO, .on = NO },
	{ "hello there", -1, FALSE, .digest = NO, .on = NO },
	{ "subscribe-me", -1, FALSE, .digest = NO, .on = NO },
	{ "", -1, FALSE, .digest = NO, .on = NO },
	{ "   ", -1, FALSE, .digest = NO, .on = NO },
};

static void
test_each_command_with_good_and_bad_arguments(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const struct line_case *k = &cases[i];
		struct command *c = command_parse_line(k->line);

		g_test_message("line \"%s\"", k->line);
		if (k->kind < 0) {
			g_assert_null(c);
			continue;
		}
		g_assert_nonnull(c);
		g_assert_cmpint(c->kind, ==, k->kind);
		g_assert_cmpint(c->usage == NULL, ==, k->ok);
		if (c->usage != NULL)
			g_assert_nonnull(strstr(c->usage, "usage: "));
		g_assert_cmpstr(c->line, ==, k->line);
		if (k->ok) {
			g_assert_cmpstr(c->password, ==, k->password);
			g_assert_cmpstr(c->new_password, ==, k->new_password);
			g_assert_cmpstr(c->address, ==, k->address);
			g_assert_cmpstr(c->token, ==, k->token);
			g_assert_cmpint(c->digest, ==, k->digest);
			g_assert_cmpint(c->on, ==, k->on);
		}
		g_assert_cmpint(c->set, ==, k->set);
		command_free(&c);
	}
}

static void
test_subject_prefixes_and_tag_are_stripped(void)
{
	static const char *const subjects[] = {
		"confirm " TOKEN, "Re: confirm " TOKEN, "RE: Re: confirm " TOKEN,
		"AW: confirm " TOKEN, "Fwd: re: confirm " TOKEN,
		"Re[2]: confirm " TOKEN, "RE : confirm " TOKEN,
		"Re: [Demo] confirm " TOKEN, "  SV:  Confirm " TOKEN "  ",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(subjects); i++) {
		struct commands *cs = commands_parse_text(subjects[i], NULL, 25);

		g_test_message("subject \"%s\"", subjects[i]);
		g_assert_cmpuint(cs->commands->len, ==, 1);
		g_assert_cmpstr(((struct command *)cs->commands->pdata[0])->token,
				==, TOKEN);
		commands_free(&cs);
	}
}

static void
test_subject_that_is_no_command_is_passed_over(void)
{
	struct commands *cs = commands_parse_text("Please add me",
						  "subscribe\n", 25);

	g_assert_cmpuint(cs->commands->len, ==, 1);
	g_assert_null(cs->stopped_at);
	commands_free(&cs);
}

static void
test_body_stops_at_first_non_command_line(void)
{
	struct commands *cs = commands_parse_text(NULL,
		"\n  help  \n\ninfo\nThanks a lot!\nwho\n", 25);

	g_assert_cmpuint(cs->commands->len, ==, 2);
	g_assert_cmpstr(cs->stopped_at, ==, "Thanks a lot!");
	commands_free(&cs);
}

static void
test_body_stops_at_signature_and_end(void)
{
	struct commands *sig = commands_parse_text(NULL,
		"help\r\n-- \r\nwho\r\n", 25);
	struct commands *end = commands_parse_text(NULL,
		"help\nEND\nwho\nsome text\n", 25);

	g_assert_cmpuint(sig->commands->len, ==, 1);
	g_assert_null(sig->stopped_at);
	g_assert_cmpuint(end->commands->len, ==, 1);
	g_assert_null(end->stopped_at);
	commands_free(&sig);
	commands_free(&end);
}

static void
test_quoted_lines_are_skipped(void)
{
	struct commands *cs = commands_parse_text(NULL,
		"> unsubscribe\n>> who\ninfo\n> lists\nhelp\n", 25);

	g_assert_cmpuint(cs->commands->len, ==, 2);
	g_assert_cmpint(((struct command *)cs->commands->pdata[0])->kind, ==,
			COMMAND_INFO);
	g_assert_cmpint(((struct command *)cs->commands->pdata[1])->kind, ==,
			COMMAND_HELP);
	commands_free(&cs);
}

static void
test_fifty_commands_stop_at_the_limit(void)
{
	GString *body = g_string_new(NULL);
	struct commands *cs;

	for (int i = 0; i < 50; i++)
		g_string_append(body, i % 2 ? "info\n" : "lists\n");
	cs = commands_parse_text("help", body->str, 25);
	/* The Subject and 25 lines of the body. */
	g_assert_cmpuint(cs->commands->len, ==, 26);
	g_assert_cmpuint(cs->ignored->len, ==, 25);
	g_assert_cmpstr(cs->ignored->pdata[0], ==, "info");
	commands_free(&cs);
	g_string_free(body, TRUE);
}

static void
test_reply_confirms_once(void)
{
	struct commands *cs = commands_parse_text("Re: confirm " TOKEN,
		"confirm " TOKEN "\n\nOn Monday, the list wrote:\n> confirm "
		TOKEN "\n", 25);

	g_assert_cmpuint(cs->commands->len, ==, 1);
	g_assert_cmpstr(cs->stopped_at, ==, "On Monday, the list wrote:");
	commands_free(&cs);
}

static void
test_message_first_text_part_only(void)
{
	GMimeMessage *msg = parse_ok(
		"From: bob@example.com\n"
		"To: demo-request@example.org\n"
		"Subject: Re: hello\n"
		"MIME-Version: 1.0\n"
		"Content-Type: multipart/alternative; boundary=\"b\"\n"
		"\n"
		"--b\n"
		"Content-Type: text/plain\n"
		"\n"
		"subscribe digest\n"
		"--b\n"
		"Content-Type: text/html\n"
		"\n"
		"<p>unsubscribe</p>\n"
		"--b--\n");
	struct commands *cs = commands_parse(msg, 25);

	g_assert_cmpuint(cs->commands->len, ==, 1);
	g_assert_cmpint(((struct command *)cs->commands->pdata[0])->kind, ==,
			COMMAND_SUBSCRIBE);
	g_assert_true(cs->other_parts);
	commands_free(&cs);
	g_object_unref(msg);
}

static void
test_encoded_subject_is_decoded(void)
{
	GMimeMessage *msg = parse_ok(
		"From: bob@example.com\n"
		"Subject: =?utf-8?q?Re=3A_confirm_?= " TOKEN "\n"
		"\n"
		"\n");
	struct commands *cs = commands_parse(msg, 25);

	g_assert_cmpuint(cs->commands->len, ==, 1);
	g_assert_cmpstr(((struct command *)cs->commands->pdata[0])->token, ==,
			TOKEN);
	g_assert_false(cs->other_parts);
	commands_free(&cs);
	g_object_unref(msg);
}

static char *
approved_of(const char *text)
{
	GMimeMessage *msg = parse_ok(text);
	char *pw = commands_approved(msg);

	g_object_unref(msg);
	return pw;
}

static void
test_approved_password_from_header_or_unquoted_line(void)
{
	static const struct {
		const char *text, *want;
	} approvals[] = {
		{ "From: m@example.org\nApproved: Secret\n\nhi\n", "Secret" },
		{ "From: m@example.org\nX-Approve:  pw2 \n\nhi\n", "pw2" },
		{ "From: m@example.org\n\n\n  Approved: first\n\n> quoted\n",
		  "first" },
		{ "From: m@example.org\n\nOn Monday the list wrote:\n> notice\n"
		  "\nApproved: below\n", "below" },
		{ "From: m@example.org\n\n> Approved: quoted\n", NULL },
		{ "From: m@example.org\n\nhi\n-- \nApproved: sig\n", NULL },
		{ "From: m@example.org\n\nApproved:\n", "" },
		{ "From: m@example.org\n\nNot approved: x\n", NULL },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(approvals); i++) {
		char *pw = approved_of(approvals[i].text);

		g_test_message("case %zu", i);
		g_assert_cmpstr(pw, ==, approvals[i].want);
		g_free(pw);
	}
}

static void
test_approved_line_is_no_command(void)
{
	struct commands *cs = commands_parse_text(NULL,
		"Approved: pw\nconfirm " TOKEN "\n", 25);

	g_assert_cmpuint(cs->commands->len, ==, 1);
	g_assert_null(cs->stopped_at);
	commands_free(&cs);
}

static const struct unit_test tests[] = {
	{ "/commands/parse/each-command-good-and-bad-arguments",
	  test_each_command_with_good_and_bad_arguments },
	{ "/commands/parse/subject-prefixes-and-tag-stripped",
	  test_subject_prefixes_and_tag_are_stripped },
	{ "/commands/parse/subject-no-command-passed-over",
	  test_subject_that_is_no_command_is_passed_over },
	{ "/commands/parse/body-stops-at-first-non-command",
	  test_body_stops_at_first_non_command_line },
	{ "/commands/parse/body-stops-at-signature-and-end",
	  test_body_stops_at_signature_and_end },
	{ "/commands/parse/quoted-lines-skipped", test_quoted_lines_are_skipped },
	{ "/commands/parse/fifty-commands-stop-at-limit",
	  test_fifty_commands_stop_at_the_limit },
	{ "/commands/parse/reply-confirms-once", test_reply_confirms_once },
	{ "/commands/parse/message-first-text-part-only",
	  test_message_first_text_part_only },
	{ "/commands/parse/encoded-subject-decoded",
	  test_encoded_subject_is_decoded },
	{ "/commands/approved/header-or-unquoted-line",
	  test_approved_password_from_header_or_unquoted_line },
	{ "/commands/approved/line-is-no-command",
	  test_approved_line_is_no_command },
};

UNIT_TEST_MAIN(tests)
