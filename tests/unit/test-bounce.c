/*
 * test-bounce.c - bounce detection (src/lib/bounce), one family of
 * formats at a time, on small messages written for these tests: RFC 3464
 * and RFC 6533 reports, the prose of qmail, Exim, Postfix, Sendmail,
 * Exchange, Gmail, Yahoo, Lotus Notes, GroupWise and OpenSMTPD, ARF
 * feedback, Amazon SES notifications, VERP; what is not a bounce
 * (auto-replies, challenges, success and delay reports); and hostile
 * input, in bounded time and memory.
 *
 * Each case states what `herald bounce detect` would print for it: one
 * "permanent|temporary address reason" per failed recipient.
 */
#include "base/base.h"
#include "bounce/detect.h"
#include "testutil.h"

#include <sys/resource.h>

/* The report's lines, "permanent a@b reason", joined by '\n'; "" for
 * none, "(unparsable)" when the input is no message. */
static char *
detect(const char *msg, const char *envelope)
{
	GError *error = NULL;
	struct bounce_report *r = bounce_detect_data(msg, strlen(msg), envelope,
						     &error);
	GString *out = g_string_new(NULL);

	if (r == NULL) {
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
		g_clear_error(&error);
		g_string_free(out, TRUE);
		return g_strdup("(unparsable)");
	}
	for (guint i = 0; i < r->failures->len; i++) {
		const struct bounce_failure *f = r->failures->pdata[i];

		g_string_append_printf(out, "%s%s %s %s", i > 0 ? "\n" : "",
				       f->permanent ? "permanent" : "temporary",
				       f->addr, bounce_reason_name(f->reason));
	}
	bounce_report_free(&r);
	return g_string_free(out, FALSE);
}

#define assert_detects(msg, envelope, expected) \
	do { \
		char *got_ = detect((msg), (envelope)); \
		g_assert_cmpstr(got_, ==, (expected)); \
		g_free(got_); \
	} while (0)

/* The kind of report msg is. */
static enum bounce_kind
kind_of(const char *msg)
{
	struct bounce_report *r = bounce_detect_data(msg, strlen(msg), NULL, NULL);
	enum bounce_kind k;

	g_assert_nonnull(r);
	k = r->kind;
	bounce_report_free(&r);
	return k;
}

/* A multipart/report with a notice and a delivery-status part. */
static char *
dsn_message(const char *notice, const char *status_type, const char *fields)
{
	return g_strdup_printf(
		"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
		"To: sender@example.org\n"
		"Subject: Undelivered Mail Returned to Sender\n"
		"MIME-Version: 1.0\n"
		"Content-Type: multipart/report; report-type=delivery-status;\n"
		"\tboundary=\"rpt\"\n\n"
		"--rpt\nContent-Type: text/plain; charset=us-ascii\n\n%s\n"
		"--rpt\nContent-Type: %s\n\n"
		"Reporting-MTA: dns; mx.example.net\n"
		"Arrival-Date: Mon, 2 Mar 2026 10:00:00 +0100\n\n%s\n"
		"--rpt\nContent-Type: text/rfc822-headers\n\n"
		"From: sender@example.org\nTo: dev@lists.example.org\n"
		"Subject: hello\n\n--rpt--\n",
		notice, status_type, fields);
}

static void
test_dsn_failed_recipient(void)
{
	char *m = dsn_message("Your message could not be delivered.",
			      "message/delivery-status",
			      "Final-Recipient: rfc822; Bob@Example.NET\n"
			      "Original-Recipient: rfc822;bob@example.net\n"
			      "Action: failed\nStatus: 5.1.1\n"
			      "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>:\n"
			      "    Recipient address rejected: User unknown\n");

	assert_detects(m, NULL, "permanent Bob@example.net mailbox-unknown");
	g_free(m);
}

/* Several records, each its own: a full mailbox is temporary, a success
 * reports nothing, a policy rejection is permanent but not the
 * mailbox's; a record without the blank line before it still counts. */
static void
test_dsn_several_records(void)
{
	char *m = dsn_message("Delivery to some recipients failed.",
			      "message/delivery-status",
			      "Final-Recipient: rfc822; full@example.net\n"
			      "Action: failed\nStatus: 5.2.2\n"
			      "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\n\n"
			      "Final-Recipient: rfc822; fine@example.net\n"
			      "Action: delivered\nStatus: 2.0.0\n\n"
			      "Final-Recipient: rfc822; dmarc@example.com\n"
			      "Action: failed\nStatus: 5.7.26\n"
			      "Diagnostic-Code: smtp; 550 5.7.26 Unauthenticated email "
			      "is not accepted due to domain's DMARC policy\n"
			      "Final-Recipient: rfc822; big@example.com\n"
			      "Action: failed\nStatus: 5.3.4\n");

	assert_detects(m, NULL, "temporary full@example.net mailbox-full\n"
		       "permanent dmarc@example.com policy\n"
		       "permanent big@example.com too-big");
	g_free(m);
}

/* A delay warning is temporary whatever its words: the MTA still tries. */
static void
test_dsn_delayed_is_never_permanent(void)
{
	char *m = dsn_message("Delivery to the following recipient has been "
			      "delayed.", "message/delivery-status",
			      "Final-Recipient: rfc822; late@example.net\n"
			      "Action: delayed\nStatus: 4.4.1\n"
			      "Diagnostic-Code: smtp; 450 4.1.1 User unknown\n"
			      "Will-Retry-Until: Fri, 6 Mar 2026 10:00:00 +0100\n");

	assert_detects(m, NULL, "temporary late@example.net mailbox-unknown");
	g_assert_cmpint(kind_of(m), ==, BOUNCE_KIND_DELAY);
	g_free(m);
}

static void
test_dsn_success_reports_nothing(void)
{
	static const char *const actions[] = { "delivered", "relayed", "expanded" };

	for (guint i = 0; i < G_N_ELEMENTS(actions); i++) {
		char *fields = g_strdup_printf(
			"Final-Recipient: rfc822; ok@example.net\n"
			"Action: %s\nStatus: 2.0.0\n", actions[i]);
		char *m = dsn_message("Your message was delivered.",
				      "message/delivery-status", fields);

		assert_detects(m, NULL, "");
		g_assert_cmpint(kind_of(m), ==, BOUNCE_KIND_SUCCESS);
		g_free(m);
		g_free(fields);
	}
}

/* RFC 6533: a utf-8 address type, \x{HHHH} escapes, an IDN domain. */
static void
test_dsn_global_utf8(void)
{
	char *m = dsn_message("Échec de la remise.",
			      "message/global-delivery-status",
			      "Final-Recipient: utf-8; jos\\x{E9}@b\\x{FC}cher.example\n"
			      "Action: failed\nStatus: 5.1.1\n\n"
			      "Final-Recipient: utf-8; anna@bücher.example\n"
			      "Action: failed\nStatus: 5.2.2\n");

	assert_detects(m, NULL,
		       "permanent josé@xn--bcher-kva.example mailbox-unknown\n"
		       "temporary anna@xn--bcher-kva.example mailbox-full");
	g_free(m);
}

/* A DSN whose record says little takes its reason from the notice's line
 * for that recipient; Final-Recipient is reported, Original-Recipient
 * kept beside it. */
static void
test_dsn_reason_from_notice(void)
{
	char *m = dsn_message(
		"This is the mail system at host mx.example.net.\n\n"
		"<final@example.net> (expanded from <member@example.org>): host\n"
		"    mx.example.net[192.0.2.1] said: 552 5.2.2 Quota exceeded\n",
		"message/delivery-status",
		"Final-Recipient: rfc822; final@example.net\n"
		"Original-Recipient: rfc822; member@example.org\n"
		"Action: failed\nStatus: 5.0.0\n");
	struct bounce_report *r = bounce_detect_data(m, strlen(m), NULL, NULL);
	const struct bounce_failure *f;

	g_assert_cmpuint(r->failures->len, ==, 1);
	f = r->failures->pdata[0];
	g_assert_cmpstr(f->addr, ==, "final@example.net");
	g_assert_cmpstr(f->original, ==, "member@example.org");
	g_assert_cmpint(f->reason, ==, BOUNCE_MAILBOX_FULL);
	g_assert_false(f->permanent);
	g_assert_cmpstr(f->status, ==, "5.0.0");
	bounce_report_free(&r);
	g_free(m);
}

/* The classifier: status and diagnostic to reason and permanence, for
 * final failures (Action: failed). */
static void
test_classify(void)
{
	static const struct {
		const char *status, *diag, *expected;
	} cases[] = {
		{ "5.1.1", "550 5.1.1 <a@x.example>: Recipient address rejected: "
		  "User unknown in local recipient table",
		  "permanent mailbox-unknown" },
		{ "5.0.0", "550 <a@x.example>: Recipient address\n    rejected.",
		  "permanent mailbox-unknown" },
		{ "4.1.1", "450 4.1.1 <a@x.example>: User unknown",
		  "permanent mailbox-unknown" },
		{ "5.0.0", "550 5.4.1 Recipient address rejected: Access denied. "
		  "AS(201806281)", "permanent mailbox-unknown" },
		{ "5.1.8", "501 5.1.8 Sender address rejected",
		  "permanent policy" },
		{ "5.0.0", "553 5.1.8 <s@x.example>... Domain of sender address "
		  "s@x.example does not exist", "permanent policy" },
		{ "5.7.1", "554 5.7.1 Service unavailable; Client host [192.0.2.1] "
		  "blocked using zen.spamhaus.org", "permanent policy" },
		{ NULL, "550 5.7.26 Unauthenticated email from example.org is not "
		  "accepted due to domain's DMARC policy", "permanent policy" },
		{ "5.2.2", "552 5.2.2 Over quota", "temporary mailbox-full" },
		{ "4.2.2", "452 4.2.2 Mailbox full", "temporary mailbox-full" },
		{ "5.2.1", "550 5.2.1 The email account that you tried to reach is "
		  "disabled", "permanent mailbox-disabled" },
		{ "5.3.4", "552 5.3.4 Message size exceeds fixed limit",
		  "permanent too-big" },
		{ "5.4.6", "554 5.4.6 Too many hops", "permanent other" },
		{ "4.4.7", "Connection timed out", "temporary expired" },
		{ "5.4.7", NULL, "temporary expired" },
		{ "5.1.10", NULL, "permanent host-unknown" },
		{ "5.0.0", "Host or domain name not found. Name service error for "
		  "name=nx.example type=MX: Host not found, try again",
		  "permanent host-unknown" },
		{ "5.0.0", "550 5.0.0 Mail loop detected", "permanent other" },
		{ "4.7.1", "450 4.7.1 Client host rejected: cannot find your "
		  "reverse hostname, [192.0.2.1]", "temporary policy" },
		{ NULL, NULL, "permanent other" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		GString *fields = g_string_new("Final-Recipient: rfc822; r@x.example\n"
					       "Action: failed\n");
		char *m, *got, *want;

		if (cases[i].status != NULL)
			g_string_append_printf(fields, "Status: %s\n",
					       cases[i].status);
		if (cases[i].diag != NULL)
			g_string_append_printf(fields, "Diagnostic-Code: smtp; %s\n",
					       cases[i].diag);
		m = dsn_message("failed", "message/delivery-status", fields->str);
		got = detect(m, NULL);
		want = g_strdup_printf("%s", cases[i].expected);
		/* "permanent mailbox-unknown" -> "permanent r@x.example ..." */
		*strchr(want, ' ') = '\0';
		g_assert_true(g_str_has_prefix(got, want));
		g_assert_true(g_str_has_suffix(got, strchr(cases[i].expected, ' ')));
		if (!g_str_has_suffix(got, strchr(cases[i].expected, ' ')) ||
		    !g_str_has_prefix(got, want))
			g_printerr("case %u: got \"%s\", expected \"%s\"\n", i,
				   got, cases[i].expected);
		g_free(want);
		g_free(got);
		g_free(m);
		g_string_free(fields, TRUE);
	}
}

/* A text bounce with the given sender, subject and body. */
static char *
text_message(const char *from, const char *subject, const char *extra,
	     const char *body)
{
	return g_strdup_printf("From: %s\nTo: sender@example.org\nSubject: %s\n"
			       "%sDate: Mon, 2 Mar 2026 10:00:00 +0100\n\n%s",
			       from, subject, extra, body);
}

static void
test_qmail(void)
{
	char *m = text_message(
		"MAILER-DAEMON@mail.example.net", "failure notice", "",
		"Hi. This is the qmail-send program at mail.example.net.\n"
		"I'm afraid I wasn't able to deliver your message to the "
		"following addresses.\n"
		"This is a permanent error; I've given up. Sorry it didn't work "
		"out.\n\n"
		"<gone@example.com>:\n"
		"Sorry, no mailbox here by that name. (#5.1.1)\n\n"
		"<nohost@nowhere.example>:\n"
		"Sorry, I couldn't find any host named nowhere.example. (#5.1.2)\n\n"
		"--- Below this line is a copy of the message.\n\n"
		"Return-Path: <sender@example.org>\n"
		"Received: (qmail 1 invoked by uid 1); 2 Mar 2026 09:59:00 -0000\n"
		"To: friend@example.com\n\nhello\n");

	assert_detects(m, NULL, "permanent gone@example.com mailbox-unknown\n"
		       "permanent nohost@nowhere.example host-unknown");
	g_free(m);
}

/* Exim: indented addresses, X-Failed-Recipients, Auto-Submitted (which
 * does not make it an auto-reply). */
static void
test_exim(void)
{
	char *m = text_message(
		"Mail Delivery System <Mailer-Daemon@relay.example.net>",
		"Mail delivery failed: returning message to sender",
		"X-Failed-Recipients: full@example.com, nouser@example.com\n"
		"Auto-Submitted: auto-replied\n",
		"This message was created automatically by mail delivery "
		"software.\n\n"
		"A message that you sent could not be delivered to one or more of "
		"its\nrecipients. This is a permanent error. The following "
		"address(es) failed:\n\n"
		"  full@example.com\n"
		"    SMTP error from remote mail server after RCPT TO:"
		"<full@example.com>:\n"
		"    host mx.example.com [192.0.2.7]: 552 5.2.2 mailbox over quota\n"
		"  nouser@example.com\n"
		"    (generated from alias@example.com)\n"
		"    Unrouteable address\n\n"
		"------ This is a copy of the message, including all the headers. "
		"------\n\nReturn-path: <sender@example.org>\n"
		"Received: from localhost by relay.example.net\n"
		"To: alias@example.com, full@example.com\n\nhello\n");

	assert_detects(m, NULL, "temporary full@example.com mailbox-full\n"
		       "permanent nouser@example.com host-unknown");
	g_free(m);
}

/* Exim's delay warning: temporary. */
static void
test_exim_delay_warning(void)
{
	char *m = text_message(
		"Mail Delivery System <Mailer-Daemon@relay.example.net>",
		"Warning: message 1abcde-000001-XY delayed 24 hours",
		"Auto-Submitted: auto-replied\n",
		"This message was created automatically by mail delivery "
		"software.\nA message that you sent has not yet been delivered to "
		"one or more of its\nrecipients after more than 24 hours on the "
		"queue on relay.example.net.\n\n"
		"  slow@example.com\n"
		"    Delay reason: SMTP error from remote mail server after RCPT TO:"
		"<slow@example.com>:\n"
		"    host mx.example.com [192.0.2.7]: 451 4.3.0 Try again later\n\n"
		"No action is required on your part. Delivery attempts will "
		"continue for\nsome time, and this warning may be repeated at "
		"intervals if the message\nremains undelivered.\n");

	assert_detects(m, NULL, "temporary slow@example.com other");
	g_assert_cmpint(kind_of(m), ==, BOUNCE_KIND_DELAY);
	g_free(m);
}

/* Postfix's text without a DSN part (older versions, or the part lost):
 * "<addr>: host ... said: ...", folded. */
static void
test_postfix_text(void)
{
	char *m = text_message(
		"MAILER-DAEMON@mx.example.net (Mail Delivery System)",
		"Undelivered Mail Returned to Sender", "",
		"This is the mail system at host mx.example.net.\n\n"
		"I'm sorry to have to inform you that your message could not\n"
		"be delivered to one or more recipients. It's attached below.\n\n"
		"For further assistance, please send mail to <postmaster>\n\n"
		"                   The mail system\n\n"
		"<spam@example.com>: host mx.example.com[192.0.2.9] said: 554 5.7.1\n"
		"    Service unavailable; Client host [192.0.2.1] blocked using\n"
		"    zen.spamhaus.org (in reply to RCPT TO command)\n\n"
		"<nodomain@nx.example>: Host or domain name not found. Name "
		"service error\n    for name=nx.example type=A: Host not found\n");

	assert_detects(m, NULL, "permanent spam@example.com policy\n"
		       "permanent nodomain@nx.example host-unknown");
	g_free(m);
}

/* Sendmail: the list of addresses, then the transcript that names them
 * again with the reply (the better evidence wins, one line each). */
static void
test_sendmail(void)
{
	char *m = text_message(
		"Mail Delivery Subsystem <MAILER-DAEMON@smtp.example.net>",
		"Returned mail: see transcript for details", "",
		"The original message was received at Mon, 2 Mar 2026 10:00:00\n"
		"from localhost [127.0.0.1]\n\n"
		"   ----- The following addresses had permanent fatal errors -----\n"
		"<who@example.com>\n"
		"    (reason: 550 5.1.1 <who@example.com>... User unknown)\n\n"
		"   ----- Transcript of session follows -----\n"
		"... while talking to mx.example.com.:\n"
		">>> RCPT To:<who@example.com>\n"
		"<<< 550 5.1.1 <who@example.com>... User unknown\n"
		"550 5.1.1 <who@example.com>... User unknown\n\n"
		"   ----- Original message follows -----\n"
		"Received: from localhost\nTo: who@example.com\n\nhi\n");

	assert_detects(m, NULL, "permanent who@example.com mailbox-unknown");
	g_free(m);
}

/* Exchange and Outlook: "did not reach the following recipient(s)",
 * "Your message to ... couldn't be delivered" in HTML only. */
static void
test_microsoft(void)
{
	char *m = text_message(
		"System Administrator <postmaster@corp.example.com>",
		"Undeliverable: quarterly figures", "",
		"Your message\n\n  To:      Some One\n  Subject: quarterly figures\n"
		"  Sent:    Mon, 2 Mar 2026 10:00:00 +0100\n\n"
		"did not reach the following recipient(s):\n\n"
		"someone@corp.example.com on Mon, 2 Mar 2026 10:00:05 +0100\n"
		"    The recipient name is not recognized\n"
		"    The MTS-ID of the original message is: c=us;a= ;p=corp\n");
	char *html = text_message(
		"Microsoft Outlook <MAILER-DAEMON@mail.example.net>",
		"Undeliverable: hello",
		"MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n",
		"<html><body><p>Your message to <b>ghost@example.com</b> "
		"couldn't be delivered.</p><p>ghost wasn't found at "
		"example.com.</p><p>Remote Server returned '550 5.1.10 "
		"RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
		"address lookup'</p></body></html>\n");

	assert_detects(m, NULL, "permanent someone@corp.example.com mailbox-unknown");
	assert_detects(html, NULL, "permanent ghost@example.com mailbox-unknown");
	g_free(m);
	g_free(html);
}

/* Gmail, Yahoo and OpenSMTPD: the recipient on a line of its own or before
 * a colon, the remote reply further down. */
static void
test_providers(void)
{
	char *gmail = text_message(
		"Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
		"Delivery Status Notification (Failure)", "",
		"Delivery to the following recipient failed permanently:\n\n"
		"     nobody@example.org\n\n"
		"Technical details of permanent failure:\n"
		"Google tried to deliver your message, but it was rejected by the "
		"server for the recipient domain example.org.\n\n"
		"The error that the other server returned was:\n"
		"550 5.1.1 <nobody@example.org>: No such user\n\n"
		"----- Original message -----\n\nTo: nobody@example.org\n");
	char *yahoo = text_message(
		"MAILER-DAEMON@yahoo.example", "Failure Notice", "",
		"Sorry, we were unable to deliver your message to the following "
		"address.\n\n<over@example.net>:\n"
		"Remote host said: 552 Message size exceeds fixed limit "
		"[RCPT_TO]\n\n--- Below this line is a copy of the message.\n");
	char *smtpd = text_message(
		"Mailer Daemon <MAILER-DAEMON@smtpd.example.net>",
		"Delivery status notification: error", "",
		"    Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to "
		"this e-mail.\n\n    An error has occurred while attempting to "
		"deliver a message for\n    the following list of recipients:\n\n"
		"disabled@example.com: 550 5.2.1 This mailbox has been disabled\n\n"
		"    Below is a copy of the original message:\n");

	assert_detects(gmail, NULL, "permanent nobody@example.org mailbox-unknown");
	assert_detects(yahoo, NULL, "permanent over@example.net too-big");
	assert_detects(smtpd, NULL, "permanent disabled@example.com mailbox-disabled");
	g_free(gmail);
	g_free(yahoo);
	g_free(smtpd);
}

/* Lotus Notes gives the reason before the address; GroupWise after it in
 * parentheses. */
static void
test_notes_and_groupwise(void)
{
	char *notes = text_message(
		"Postmaster@notes.example.com", "DELIVERY FAILURE: User jane.doe "
		"not listed in Domino Directory", "",
		"------- Failure Reasons  --------\n\n"
		"User jane.doe (jane.doe@notes.example.com) not listed in Domino "
		"Directory\njane.doe@notes.example.com\n\n\n"
		"------- Returned Message --------\n"
		"Received: from gw.example.org\nTo: jane.doe@notes.example.com\n");
	char *gw = text_message(
		"Mail Administrator <postmaster@gw.example.com>",
		"Message status - undeliverable", "",
		"The message that you sent was undeliverable to the following:\n"
		"\tpat@gw.example.com (user not found)\n\n"
		"Possibly truncated original message follows:\n");

	assert_detects(notes, NULL, "permanent jane.doe@notes.example.com mailbox-unknown");
	assert_detects(gw, NULL, "permanent pat@gw.example.com mailbox-unknown");
	g_free(notes);
	g_free(gw);
}

/* A message sent to the member's own address, bounced: the address that
 * is also the bounce's To still counts when a line names it as the
 * failure, but not when only a MAIL FROM reply quotes it. */
static void
test_own_address(void)
{
	char *self = text_message(
		"MAILER-DAEMON@mail.example.net", "failure notice", "",
		"Hi. This is the qmail-send program at mail.example.net.\n"
		"I'm afraid I wasn't able to deliver your message to the "
		"following addresses.\nThis is a permanent error; I've given up.\n\n"
		"<sender@example.org>:\nSorry, no mailbox here by that name.\n");
	char *sender = text_message(
		"Mail Delivery Subsystem <MAILER-DAEMON@smtp.example.net>",
		"Returned mail: see transcript for details", "",
		"   ----- The following addresses had permanent fatal errors -----\n"
		"<member@example.com>\n\n"
		"   ----- Transcript of session follows -----\n"
		">>> MAIL From:<sender@example.org>\n"
		"<<< 553 5.1.8 <sender@example.org>... Domain of sender address "
		"does not exist\n");

	assert_detects(self, NULL, "permanent sender@example.org mailbox-unknown");
	assert_detects(sender, NULL, "permanent member@example.com policy");
	g_free(self);
	g_free(sender);
}

/* RFC 5965 feedback: the complained-about member, reason complaint (or
 * policy for an authentication report), temporary; not-spam: nothing. */
static char *
arf_message(const char *type, const char *fields, const char *to)
{
	return g_strdup_printf(
		"From: Feedback Loop <fbl@isp.example>\nTo: abuse@example.org\n"
		"Subject: Abuse report\nMIME-Version: 1.0\n"
		"Content-Type: multipart/report; report-type=feedback-report; "
		"boundary=\"f\"\n\n--f\nContent-Type: text/plain\n\n"
		"This is an email abuse report.\n\n"
		"--f\nContent-Type: message/feedback-report\n\n"
		"Feedback-Type: %s\nUser-Agent: FBL/1.0\nVersion: 1\n%s\n"
		"--f\nContent-Type: message/rfc822\n\n"
		"From: dev@lists.example.org\nTo: %s\nSubject: news\n\nhi\n--f--\n",
		type, fields, to);
}

static void
test_arf(void)
{
	char *abuse = arf_message("abuse", "Original-Rcpt-To: member@isp.example\n",
				  "dev@lists.example.org");
	char *redacted = arf_message("abuse", "", "member2@isp.example");
	char *auth = arf_message("auth-failure", "Original-Rcpt-To: m3@isp.example\n",
				 "dev@lists.example.org");
	char *notspam = arf_message("not-spam", "Original-Rcpt-To: m4@isp.example\n",
				    "dev@lists.example.org");

	assert_detects(abuse, NULL, "temporary member@isp.example complaint");
	assert_detects(redacted, NULL, "temporary member2@isp.example complaint");
	assert_detects(auth, NULL, "temporary m3@isp.example policy");
	assert_detects(notspam, NULL, "");
	g_assert_cmpint(kind_of(abuse), ==, BOUNCE_KIND_COMPLAINT);
	g_free(abuse);
	g_free(redacted);
	g_free(auth);
	g_free(notspam);
}

/* Amazon SES notifications are JSON, escaped once more inside SNS's. */
static void
test_ses(void)
{
	char *bounce = text_message(
		"SES <no-reply@sns.amazonaws.com>", "AWS Notification Message", "",
		"{\n  \"Type\" : \"Notification\",\n  \"Message\" : \"{\\\""
		"notificationType\\\":\\\"Bounce\\\",\\\"bounce\\\":{\\\"bounceType"
		"\\\":\\\"Permanent\\\",\\\"bouncedRecipients\\\":[{\\\"emailAddress"
		"\\\":\\\"gone@example.com\\\",\\\"action\\\":\\\"failed\\\",\\\""
		"status\\\":\\\"5.1.1\\\",\\\"diagnosticCode\\\":\\\"smtp; 550 "
		"5.1.1 user unknown\\\"}]}}\"\n}\n");
	char *complaint = text_message(
		"SES <no-reply@sns.amazonaws.com>", "AWS Notification Message", "",
		"{\"notificationType\":\"Complaint\",\"complaint\":{"
		"\"complainedRecipients\":[{\"emailAddress\":\"angry@example.com\"}],"
		"\"complaintFeedbackType\":\"abuse\"}}\n");
	char *delivery = text_message(
		"SES <no-reply@sns.amazonaws.com>", "AWS Notification Message", "",
		"{\"notificationType\":\"Delivery\",\"delivery\":{\"recipients\":"
		"[\"ok@example.com\"]}}\n");

	assert_detects(bounce, NULL, "permanent gone@example.com mailbox-unknown");
	assert_detects(complaint, NULL, "temporary angry@example.com complaint");
	assert_detects(delivery, NULL, "");
	g_free(bounce);
	g_free(complaint);
	g_free(delivery);
}

/* VERP names the member whatever the report says (it was forwarded); a
 * report nobody can read still counts; a vacation reply does not. */
static void
test_verp(void)
{
	const char *verp = "dev-bounces+bob=example.net@lists.example.org";
	char *fwd = dsn_message("Delivery failed.", "message/delivery-status",
				"Final-Recipient: rfc822; bob.smith@mail.example.com\n"
				"Action: failed\nStatus: 5.2.2\n");
	char *odd = text_message("postmaster@example.net", "Returned mail", "",
				 "Your mail could not be processed. Sorry.\n");
	char *away = text_message("Bob <bob@example.net>", "Out of Office: news",
				  "Auto-Submitted: auto-replied\n",
				  "I am away until Monday.\n");
	struct bounce_report *r = bounce_detect_data(fwd, strlen(fwd), verp, NULL);

	assert_detects(fwd, verp, "temporary bob@example.net mailbox-full");
	g_assert_true(r->verp);
	g_assert_cmpstr(((struct bounce_failure *)r->failures->pdata[0])->original,
			==, "bob.smith@mail.example.com");
	assert_detects(odd, verp, "permanent bob@example.net other");
	assert_detects(away, verp, "");
	bounce_report_free(&r);
	g_free(fwd);
	g_free(odd);
	g_free(away);
}

/* Auto-replies and challenges are not bounces, whatever addresses they
 * hold. */
static void
test_not_bounces(void)
{
	char *rfc3834 = text_message("Ann <ann@example.com>", "Re: news",
				     "Auto-Submitted: auto-replied\n",
				     "Thanks, I will read <news@example.org> "
				     "later; write to colleague@example.com.\n");
	char *subject = text_message("Ann <ann@example.com>",
				     "Automatic reply: news", "",
				     "I'm out of the office until 9 March.\n"
				     "<ann@example.com> could not be reached.\n");
	char *xauto = text_message("Ann <ann@example.com>", "Re: news",
				   "X-Autoreply: yes\nPrecedence: auto_reply\n",
				   "Mail to ann@example.com failed to reach me.\n");
	char *challenge = text_message(
		"Ann <ann@example.com>",
		"Please confirm your message to ann@example.com", "",
		"I use a spam filter. To deliver your message to "
		"ann@example.com, click the link below.\n");
	char *letter = text_message("Ann <ann@example.com>", "lunch", "",
				    "Could not send to bob@example.net, so I "
				    "write to you.\n");
	/* "Автоматический ответ: news": upper case beyond ASCII. */
	char *russian = text_message(
		"Ivan <ivan@example.ru>", "=?utf-8?b?0JDQstGC0L7QvNCw0YLQuNGH0LXR"
		"gdC60LjQuSDQvtGC0LLQtdGC?=: news", "",
		"Your mail to ivan@example.ru could not be delivered: I am away.\n");

	assert_detects(rfc3834, NULL, "");
	g_assert_cmpint(kind_of(rfc3834), ==, BOUNCE_KIND_AUTOREPLY);
	assert_detects(subject, NULL, "");
	assert_detects(xauto, NULL, "");
	assert_detects(challenge, NULL, "");
	g_assert_cmpint(kind_of(challenge), ==, BOUNCE_KIND_CHALLENGE);
	assert_detects(letter, NULL, "");
	assert_detects(russian, NULL, "");
	g_assert_cmpint(kind_of(russian), ==, BOUNCE_KIND_AUTOREPLY);
	g_free(russian);
	g_free(rfc3834);
	g_free(subject);
	g_free(xauto);
	g_free(challenge);
	g_free(letter);
}

/* A forwarded bounce's "> " quoting, and CRLF and CR line ends, read as
 * the bounce itself. */
static void
test_quoted_and_line_ends(void)
{
	char *fwd = text_message(
		"Ann <ann@example.com>", "Fwd: Returned mail: see transcript for "
		"details", "",
		"What does this mean?\n\nBegin forwarded message:\n\n"
		"> From: Mail Delivery Subsystem <MAILER-DAEMON@smtp.example.net>\n"
		"> Subject: Returned mail: see transcript for details\n"
		"> Date: Mon, 2 Mar 2026 10:00:00 +0100\n"
		"> Message-Id: <x@smtp.example.net>\n>\n"
		">    ----- The following addresses had permanent fatal errors -----\n"
		"> <lost@example.com>\n"
		">     (reason: 550 5.1.1 User unknown)\n");
	char *crlf = text_message(
		"MAILER-DAEMON@mail.example.net", "failure notice", "",
		"Hi. This is the qmail-send program.\r\nI'm afraid I wasn't able "
		"to deliver your message.\r\n\r\n<cr@example.com>:\r\nSorry, no "
		"mailbox here by that name.\r\n");
	char *cr = g_strdelimit(g_strdup(crlf), "\n", '\r');
	char *cr2 = g_strdup(cr);

	/* \r\r in the CRLF copy became CR CR: one line end each, like
	 * the blank lines they were. */
	assert_detects(fwd, NULL, "permanent lost@example.com mailbox-unknown");
	assert_detects(crlf, NULL, "permanent cr@example.com mailbox-unknown");
	assert_detects(cr2, NULL, "permanent cr@example.com mailbox-unknown");
	g_free(fwd);
	g_free(crlf);
	g_free(cr);
	g_free(cr2);
}

/* A report with no recipient line: the returned message's envelope
 * recipient (its top Received "for"); a report inside a report. */
static void
test_returned_message_and_nested(void)
{
	char *bare = text_message(
		"MAILER-DAEMON@mx.example.net", "Undeliverable message", "",
		"Message could not be delivered.\n\n"
		"------ Original message follows ------\n"
		"Received: from out.example.org by mx.example.net\n"
		"\tfor <hidden@example.net>; Mon, 2 Mar 2026 10:00:00 +0100\n"
		"From: sender@example.org\nTo: dev@lists.example.org\n\nhi\n");
	char *inner = dsn_message("failed", "message/delivery-status",
				  "Final-Recipient: rfc822; deep@example.com\n"
				  "Action: failed\nStatus: 5.1.1\n");
	char *outer = g_strdup_printf(
		"From: MAILER-DAEMON@gw.example.net\nTo: sender@example.org\n"
		"Subject: Returned mail\nMIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"o\"\n\n"
		"--o\nContent-Type: text/plain\n\nThe following addresses had "
		"permanent delivery errors\n\n"
		"--o\nContent-Type: message/rfc822\n\n%s\n--o--\n", inner);

	assert_detects(bare, NULL, "permanent hidden@example.net other");
	assert_detects(outer, NULL, "permanent deep@example.com mailbox-unknown");
	g_free(bare);
	g_free(inner);
	g_free(outer);
}

static long
maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Empty input and input with no header are no message; a header alone is
 * no bounce. */
static void
test_hostile_small(void)
{
	assert_detects("", NULL, "(unparsable)");
	assert_detects("\n\n<a@example.com>: 550 user unknown\n", NULL,
		       "(unparsable)");
	assert_detects("From: MAILER-DAEMON@x.example\n", NULL, "");
	assert_detects("From: MAILER-DAEMON@x.example\nSubject: failure notice\n"
		       "\n@@@@ <@> <a@> <@b.example> a@b a@.example\n", NULL, "");
}

/* A DSN nested 1,000 deep and a 10 MB diagnostic line: bounded time and
 * memory (each test runs in a process of its own: maxrss is its own). */
static void
test_hostile_big(void)
{
	GString *m = g_string_new(NULL);
	char *dsn = dsn_message("failed", "message/delivery-status",
				"Final-Recipient: rfc822; deep@example.com\n"
				"Action: failed\nStatus: 5.1.1\n");
	gint64 t0 = g_get_monotonic_time();
	long rss0 = maxrss_kb();
	char *got, *diag;

	g_string_append(m, dsn);
	for (int i = 0; i < 1000; i++) {
		char *outer = g_strdup_printf(
			"From: MAILER-DAEMON@gw%d.example\nTo: s@example.org\n"
			"Subject: Returned mail\nMIME-Version: 1.0\nContent-Type: "
			"multipart/report; report-type=delivery-status; "
			"boundary=\"n%d\"\n\n--n%d\nContent-Type: text/plain\n\n"
			"failed\n--n%d\nContent-Type: message/rfc822\n\n",
			i, i, i, i);

		g_string_prepend(m, outer);
		g_string_append_printf(m, "\n--n%d--\n", i);
		g_free(outer);
	}
	got = detect(m->str, NULL);
	g_assert_cmpstr(got, ==, "");	/* deeper than anyone reads */
	g_free(got);

	diag = g_strnfill(10 * 1024 * 1024, 'x');
	g_string_printf(m, "From: MAILER-DAEMON@mx.example\nTo: s@example.org\n"
			"Subject: failure notice\n\n<long@example.com>: 550 5.1.1 %s\n",
			diag);
	got = detect(m->str, NULL);
	g_assert_cmpstr(got, ==, "permanent long@example.com mailbox-unknown");
	g_free(got);
	g_free(dsn);
	dsn = g_strdup_printf("Final-Recipient: rfc822; long@example.com\n"
			      "Action: failed\nStatus: 5.2.2\n"
			      "Diagnostic-Code: smtp; 552 %s\n", diag);
	g_free(diag);
	diag = dsn_message("failed", "message/delivery-status", dsn);
	got = detect(diag, NULL);
	g_assert_cmpstr(got, ==, "temporary long@example.com mailbox-full");
	g_free(got);
	/* Generous bounds for the sanitizer build: seconds, not minutes;
	 * a few copies of the input, not a blow-up. */
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 30 * G_USEC_PER_SEC);
	g_assert_cmpint(maxrss_kb() - rss0, <, 400 * 1024);
	g_free(diag);
	g_free(dsn);
	g_string_free(m, TRUE);
}

static void
test_reason_names(void)
{
	static const char *const names[] = {
		"other", "mailbox-unknown", "mailbox-disabled", "mailbox-full",
		"host-unknown", "policy", "too-big", "expired", "complaint",
	};

	for (guint i = 0; i < G_N_ELEMENTS(names); i++)
		g_assert_cmpstr(bounce_reason_name(i), ==, names[i]);
	g_assert_cmpstr(bounce_reason_name(99), ==, "other");
}

static const struct unit_test tests[] = {
	{ "/bounce/dsn/failed-recipient", test_dsn_failed_recipient },
	{ "/bounce/dsn/several-records", test_dsn_several_records },
	{ "/bounce/dsn/delayed-is-never-permanent", test_dsn_delayed_is_never_permanent },
	{ "/bounce/dsn/success-reports-nothing", test_dsn_success_reports_nothing },
	{ "/bounce/dsn/global-utf8", test_dsn_global_utf8 },
	{ "/bounce/dsn/reason-from-notice", test_dsn_reason_from_notice },
	{ "/bounce/classify", test_classify },
	{ "/bounce/text/qmail", test_qmail },
	{ "/bounce/text/exim", test_exim },
	{ "/bounce/text/exim-delay-warning", test_exim_delay_warning },
	{ "/bounce/text/postfix", test_postfix_text },
	{ "/bounce/text/sendmail", test_sendmail },
	{ "/bounce/text/microsoft", test_microsoft },
	{ "/bounce/text/providers", test_providers },
	{ "/bounce/text/notes-and-groupwise", test_notes_and_groupwise },
	{ "/bounce/text/own-address", test_own_address },
	{ "/bounce/arf", test_arf },
	{ "/bounce/ses", test_ses },
	{ "/bounce/verp", test_verp },
	{ "/bounce/not-bounces", test_not_bounces },
	{ "/bounce/quoted-and-line-ends", test_quoted_and_line_ends },
	{ "/bounce/returned-message-and-nested", test_returned_message_and_nested },
	{ "/bounce/hostile/small", test_hostile_small },
	{ "/bounce/hostile/big", test_hostile_big },
	{ "/bounce/reason-names", test_reason_names },
};

UNIT_TEST_MAIN(tests)
