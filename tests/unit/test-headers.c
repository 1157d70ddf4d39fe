/*
 * test-headers.c - unit tests for headers.c (through the pipeline's
 * handlers in pipe_headers.c, and alone on a message) and listurls.c: the
 * cleanse handler (approval and receipt headers, anonymous lists), the
 * cookheaders handler (subject prefix with and without %d, replies,
 * encoded and empty subjects; Reply-To for each reply_goes_to_list with
 * and without first_strip_reply_to; the List-* headers, replacing an
 * upstream list's; X-BeenThere, Precedence, Sender, Errors-To, Cc), the
 * list URLs, and headers_personalise (one-click unsubscribe, with the site
 * key read once by the caller or by itself).
 *
 * Each test runs in a child process with a fresh temporary var dir and the
 * list dev@example.org.
 */
#include "base/base.h"
#include "list/headers.h"
#include "list/list.h"
#include "list/listurls.h"
#include "mail/message.h"
#include "pipeline/pipeline.h"
#include "store/site.h"
#include "list/token.h"

#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define LIST "dev@example.org"
#define POSTER "alice@example.com"	/* the envelope sender */

/* --- helpers ------------------------------------------------------------- */

/* A message with this subject line ("Subject: ..." or "" for none). */
static struct post *
post_with_subject(struct list_fixture *f, const char *subject_line)
{
	char *text = g_strdup_printf("From: Alice <alice@example.com>\n"
				     "To: dev@example.org\n%s%s"
				     "Message-ID: <1@example.com>\n\nHi\n",
				     subject_line, *subject_line ? "\n" : "");
	struct post *p = fixture_post(f, POSTER, text);

	g_free(text);
	return p;
}

static void
cook(struct post *p)
{
	GError *error = NULL;

	g_assert_cmpint(pipe_cookheaders(p, &error), ==, PIPE_CONTINUE);
	g_assert_no_error(error);
}

static void
cleanse(struct post *p)
{
	GError *error = NULL;

	g_assert_cmpint(pipe_cleanse(p, &error), ==, PIPE_CONTINUE);
	g_assert_no_error(error);
}

static guint
hdr_count(GMimeMessage *msg, const char *name)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	guint n = 0;

	for (int i = 0; i < g_mime_header_list_get_count(hl); i++)
		if (g_ascii_strcasecmp(g_mime_header_get_name(
			g_mime_header_list_get_header_at(hl, i)), name) == 0)
			n++;
	return n;
}

/* The cooked subject (raw) of a post with this subject line. */
static char *
cooked_subject(struct list_fixture *f, const char *subject_line)
{
	struct post *p = post_with_subject(f, subject_line);
	char *s;

	cook(p);
	g_assert_cmpuint(hdr_count(p->msg, "Subject"), ==, 1);
	s = header_value(p->msg, "Subject");
	post_free(&p);
	return s;
}

static void
assert_subject(struct list_fixture *f, const char *subject_line,
	       const char *want)
{
	char *s = cooked_subject(f, subject_line);

	if (g_strcmp0(s, want) != 0)
		g_test_message("[%s]: got [%s], want [%s]", subject_line, s, want);
	g_assert_cmpstr(s, ==, want);
	g_free(s);
}

/* --- subject prefix ------------------------------------------------------- */

static void
test_subject_plain_prefix_added_once(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	/* The default prefix is "[%(real_name)s] " with real_name "Dev". */
	assert_subject(&f, "Subject: hello", "[Dev] hello");
	assert_subject(&f, "Subject: [Dev] hello", "[Dev] hello");
	assert_subject(&f, "Subject: [Dev]hello", "[Dev] hello");
	/* Copies anywhere go, as Mailman's re.sub took them. */
	assert_subject(&f, "Subject: hello [Dev] there", "[Dev] hello  there");
	/* The match is exact: another list's or another case's prefix stays. */
	assert_subject(&f, "Subject: [dev] hello", "[Dev] [dev] hello");
	assert_subject(&f, "Subject: [Other] hello", "[Dev] [Other] hello");
	list_fixture_clear(&f);
}

static void
test_subject_reply_markers_become_one_re_after_prefix(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	assert_subject(&f, "Subject: Re: hello", "[Dev] Re: hello");
	assert_subject(&f, "Subject: Re: [Dev] hello", "[Dev] Re: hello");
	assert_subject(&f, "Subject: [Dev] Re: hello", "[Dev] Re: hello");
	assert_subject(&f, "Subject: RE: Re: [Dev] Re: hello", "[Dev] Re: hello");
	assert_subject(&f, "Subject: AW: Sv: VS:hello", "[Dev] Re: hello");
	assert_subject(&f, "Subject: re[2]: hello", "[Dev] Re: hello");
	assert_subject(&f, "Subject: Re : hello", "[Dev] Re: hello");
	/* Mailman does not take Fwd: for a reply marker, nor a word that
	 * only starts like one. */
	assert_subject(&f, "Subject: Fwd: hello", "[Dev] Fwd: hello");
	assert_subject(&f, "Subject: Fwd: Re: hello", "[Dev] Fwd: Re: hello");
	assert_subject(&f, "Subject: Rex: hello", "[Dev] Rex: hello");
	assert_subject(&f, "Subject: Re: [Dev]", "[Dev] Re: (no subject)");
	list_fixture_clear(&f);
}

static void
test_subject_numbered_prefix_takes_post_number_and_strips_old_numbers(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "subject_prefix", "[Dev %d] ");
	/* A new list's first post is 1; each post takes the next. */
	assert_subject(&f, "Subject: hello", "[Dev 1] hello");
	assert_subject(&f, "Subject: Re: [Dev 1] hello", "[Dev 2] Re: hello");
	assert_subject(&f, "Subject: [Dev 41] Re: [Dev 7] hello",
		       "[Dev 3] Re: hello");
	/* Spaces around the number may vary; the prefix's own may not (as
	 * in Mailman's pattern). */
	assert_subject(&f, "Subject: [Dev  41 ] hello", "[Dev 4] hello");
	assert_subject(&f, "Subject: [Dev41] hello", "[Dev 5] [Dev41] hello");
	/* %05d pads with zeros, as Python's % did for Mailman. */
	list_set_ok(f.list, "subject_prefix", "[Dev %05d]");
	assert_subject(&f, "Subject: Re: [Dev 00005] hello", "[Dev 00006] Re: hello");
	list_fixture_clear(&f);
}

static void
test_subject_number_kept_by_a_resumed_post(void)
{
	struct list_fixture f;
	struct post *p;
	char *s;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "subject_prefix", "[Dev %d]");
	p = post_with_subject(&f, "Subject: hello");
	queue_meta_set(p->meta, "post-id", "17");
	cook(p);
	s = header_value(p->msg, "Subject");
	g_assert_cmpstr(s, ==, "[Dev 17] hello");
	/* GMime's own view of the subject follows. */
	g_assert_cmpstr(g_mime_message_get_subject(p->msg), ==, "[Dev 17] hello");
	g_free(s);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_subject_encoded_is_decoded_stripped_and_encoded_only_if_needed(void)
{
	struct list_fixture f;
	struct post *p;
	char *s;

	list_fixture_init(&f, LIST);
	/* An encoded subject that holds the prefix and Re: */
	assert_subject(&f,
		       "Subject: =?utf-8?q?Re=3A_=5BDev=5D_Gr=C3=BC=C3=9Fe?=",
		       "[Dev] Re: =?UTF-8?B?R3LDvMOfZQ==?=");
	/* Latin-1 in, UTF-8 out. */
	assert_subject(&f, "Subject: =?iso-8859-1?q?=5BDev=5D_Gr=FC=DFe?=",
		       "[Dev] =?UTF-8?B?R3LDvMOfZQ==?=");
	/* An encoded subject that is ASCII once decoded is not encoded. */
	assert_subject(&f, "Subject: =?iso-8859-1?q?=5BDev=5D_hello?=",
		       "[Dev] hello");
	/* A folded subject is unfolded. */
	assert_subject(&f, "Subject: a long\n subject", "[Dev] a long subject");
	/* A line break hidden in an encoded word does not start a header:
	 * the subject is made one line, as Mailman's ch_oneline did. */
	assert_subject(&f, "Subject: =?utf-8?q?hi=0D=0ABcc=3A_x=40example=2Ecom?=",
		       "[Dev] hiBcc: x@example.com");
	/* Two Subject headers become one, ASCII or not. */
	assert_subject(&f, "Subject: one\nSubject: two", "[Dev] one");
	assert_subject(&f, "Subject: =?utf-8?q?=C3=BC?=\nSubject: two",
		       "[Dev] =?UTF-8?B?w7w=?=");
	/* A word too long for a line is not encoded, nor broken. */
	assert_subject(&f, "Subject: see https://example.com/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		       "[Dev] see https://example.com/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	/* The decoded value is what a reader sees. */
	p = post_with_subject(&f, "Subject: =?utf-8?b?UmU6IFtEZXZdIOaXpeacrA==?=");
	cook(p);
	s = message_header_decoded(p->msg, "Subject");
	g_assert_cmpstr(s, ==, "[Dev] Re: 日本");
	g_free(s);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_subject_non_ascii_prefix_is_encoded(void)
{
	struct list_fixture f;
	struct post *p;
	char *s;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "subject_prefix", "[Développeurs] ");
	p = post_with_subject(&f, "Subject: Re: [Développeurs] hello");
	cook(p);
	s = message_header_decoded(p->msg, "Subject");
	g_assert_cmpstr(s, ==, "[Développeurs] Re: hello");
	g_free(s);
	s = header_value(p->msg, "Subject");
	g_assert_true(g_str_is_ascii(s));
	g_assert_nonnull(strstr(s, "=?UTF-8?"));
	g_free(s);
	post_free(&p);
	/* A prefix that was sent encoded is found once decoded. */
	p = post_with_subject(&f, "Subject: =?iso-8859-1?q?=5BD=E9veloppeurs=5D?= hi");
	cook(p);
	s = message_header_decoded(p->msg, "Subject");
	g_assert_cmpstr(s, ==, "[Développeurs] hi");
	g_free(s);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_subject_empty_or_missing_is_no_subject(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	assert_subject(&f, "Subject: ", "[Dev] (no subject)");
	assert_subject(&f, "", "[Dev] (no subject)");
	assert_subject(&f, "Subject: [Dev]", "[Dev] (no subject)");
	assert_subject(&f, "Subject:    ", "[Dev] (no subject)");
	list_fixture_clear(&f);
}

static void
test_subject_empty_prefix_leaves_subject_alone(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "subject_prefix", "  ");
	assert_subject(&f, "Subject: Re: hello", "Re: hello");
	p = post_with_subject(&f, "");
	cook(p);
	g_assert_cmpuint(hdr_count(p->msg, "Subject"), ==, 0);
	post_free(&p);
	list_fixture_clear(&f);
}

static gboolean number_asked;

static int64_t
number_42(void *ctx, GError **error)
{
	number_asked = TRUE;
	return 42;
}

static int64_t
number_fails(void *ctx, GError **error)
{
	g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "no counter");
	return -1;
}

static void
test_prefix_subject_function_asks_number_only_for_percent_d(void)
{
	GError *error = NULL;
	char *s;

	number_asked = FALSE;
	s = headers_prefix_subject("hi", "[x]", number_42, NULL, &error);
	g_assert_cmpstr(s, ==, "[x] hi");
	g_assert_false(number_asked);
	g_free(s);
	s = headers_prefix_subject(NULL, "[x %3d|%d]", number_42, NULL, &error);
	g_assert_cmpstr(s, ==, "[x  42|42] (no subject)");
	g_assert_true(number_asked);
	g_free(s);
	/* Regex characters in the prefix are literal. */
	s = headers_prefix_subject("Re: (a.b) *hi*", "(a.b)", number_42, NULL,
				   &error);
	g_assert_cmpstr(s, ==, "(a.b) Re: *hi*");
	g_free(s);
	s = headers_prefix_subject("hi", "[x %d]", number_fails, NULL, &error);
	g_assert_null(s);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_clear_error(&error);
}

/* --- Reply-To ------------------------------------------------------------- */

static const char reply_msg[] =
	"From: Alice <alice@example.com>\n"
	"To: dev@example.org\n"
	"Reply-To: Alice Home <alice@home.example>\n"
	"Subject: hi\n\nbody\n";

static const char no_reply_msg[] =
	"From: Alice <alice@example.com>\n"
	"To: dev@example.org\n"
	"Subject: hi\n\nbody\n";

/* Reply-To after cookheaders of text, NULL when none. */
static char *
reply_to_of(struct list_fixture *f, const char *text)
{
	struct post *p = fixture_post(f, POSTER, text);
	char *v;

	cook(p);
	g_assert_cmpuint(hdr_count(p->msg, "Reply-To"), <=, 1);
	v = header_value(p->msg, "Reply-To");
	post_free(&p);
	return v;
}

static void
assert_reply_to(struct list_fixture *f, const char *text, const char *want)
{
	char *v = reply_to_of(f, text);

	if (g_strcmp0(v, want) != 0)
		g_test_message("Reply-To: got [%s], want [%s]", v, want);
	g_assert_cmpstr(v, ==, want);
	g_free(v);
}

static void
test_reply_to_poster_keeps_or_strips_theirs(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	assert_reply_to(&f, reply_msg, "Alice Home <alice@home.example>");
	assert_reply_to(&f, no_reply_msg, NULL);
	list_set_ok(f.list, "first_strip_reply_to", "yes");
	assert_reply_to(&f, reply_msg, NULL);
	assert_reply_to(&f, no_reply_msg, NULL);
	list_fixture_clear(&f);
}

static void
test_reply_to_list_is_added_last(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "reply_goes_to_list", "this_list");
	assert_reply_to(&f, reply_msg,
			"Alice Home <alice@home.example>, dev@example.org");
	assert_reply_to(&f, no_reply_msg, "dev@example.org");
	/* The list's name in Reply-To is its description, as Mailman's. */
	list_set_ok(f.list, "description", "Developers, all");
	assert_reply_to(&f, no_reply_msg, "\"Developers, all\" <dev@example.org>");
	list_set_ok(f.list, "first_strip_reply_to", "yes");
	assert_reply_to(&f, reply_msg, "\"Developers, all\" <dev@example.org>");
	list_fixture_clear(&f);
}

static void
test_reply_to_explicit_comes_first(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "reply_goes_to_list", "2");
	list_set_ok(f.list, "reply_to_address", "Team <team@example.org>");
	assert_reply_to(&f, reply_msg,
			"Team <team@example.org>, Alice Home <alice@home.example>");
	assert_reply_to(&f, no_reply_msg, "Team <team@example.org>");
	list_set_ok(f.list, "first_strip_reply_to", "yes");
	assert_reply_to(&f, reply_msg, "Team <team@example.org>");
	/* No address to use: nothing, and with the poster's stripped, no
	 * header at all. */
	list_set_ok(f.list, "reply_to_address", "");
	assert_reply_to(&f, reply_msg, NULL);
	list_fixture_clear(&f);
}

static void
test_reply_to_duplicates_dropped_and_headers_merged(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "reply_goes_to_list", "this_list");
	assert_reply_to(&f,
		"From: alice@example.com\n"
		"Reply-To: DEV@Example.ORG, bob@example.com\n"
		"Reply-To: Bob <BOB@example.com>, =?utf-8?q?J=C3=B6rg?= <j@example.de>\n"
		"Subject: hi\n\nbody\n",
		"DEV@Example.ORG, bob@example.com, =?UTF-8?b?SsO2cmc=?= <j@example.de>");
	list_fixture_clear(&f);
}

/* --- List-* and the other list headers -------------------------------------- */

static const char plain_msg[] =
	"From: Alice <alice@example.com>\n"
	"To: dev@example.org\n"
	"Subject: hi\n"
	"Message-ID: <1@example.com>\n"
	"\n"
	"body\n";

static void
test_list_headers_defaults_exact(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, LIST);
	p = fixture_post(&f, POSTER, plain_msg);
	cook(p);
	assert_header(p->msg, "List-Id", "Dev <dev.example.org>");
	assert_header(p->msg, "List-Help",
		      "<mailto:dev-request@example.org?subject=help>");
	assert_header(p->msg, "List-Post", "<mailto:dev@example.org>");
	assert_header(p->msg, "List-Subscribe",
		      "<https://example.org/listinfo/dev@example.org>, "
		      "<mailto:dev-join@example.org>");
	assert_header(p->msg, "List-Unsubscribe",
		      "<https://example.org/options/dev@example.org>, "
		      "<mailto:dev-leave@example.org>");
	assert_header(p->msg, "List-Archive",
		      "<https://example.org/archives/dev@example.org/>");
	assert_header(p->msg, "List-Owner", "<mailto:dev-owner@example.org>");
	assert_header(p->msg, "List-Unsubscribe-Post", NULL);
	assert_header(p->msg, "X-BeenThere", "dev@example.org");
	assert_header(p->msg, "Precedence", "list");
	assert_header(p->msg, "Sender", "Dev <dev-bounces@example.org>");
	assert_header(p->msg, "Errors-To", "dev-bounces@example.org");
	assert_header(p->msg, "Cc", NULL);
	post_free(&p);
	list_fixture_clear(&f);
}

/* The whole header as it goes out, in order, folded by GMime. */
static void
test_cooked_message_golden(void)
{
	static const char want[] =
		"From: Alice <alice@example.com>\n"
		"To: dev@example.org\n"
		"Subject: [Dev] hi\n"
		"Message-ID: <1@example.com>\n"
		"X-BeenThere: dev@example.org\n"
		"Precedence: list\n"
		"List-Id: Dev <dev.example.org>\n"
		"List-Help: <mailto:dev-request@example.org?subject=help>\n"
		"List-Post: <mailto:dev@example.org>\n"
		"List-Subscribe: <https://example.org/listinfo/dev@example.org>,\n"
		" <mailto:dev-join@example.org>\n"
		"List-Unsubscribe: <https://example.org/options/dev@example.org>,\n"
		" <mailto:dev-leave@example.org>\n"
		"List-Archive: <https://example.org/archives/dev@example.org/>\n"
		/* RFC 5064, the SHA-1 of "1@example.com" */
		"Archived-At: <https://example.org/archives/dev@example.org/msgid/"
		"7558cc3cf3dc01375d24f7c1070abb01cd979956>\n"
		"List-Owner: <mailto:dev-owner@example.org>\n"
		"Sender: Dev <dev-bounces@example.org>\n"
		"Errors-To: dev-bounces@example.org\n"
		"\n"
		"body\n";
	struct list_fixture f;
	struct post *p;
	char *out;

	list_fixture_init(&f, LIST);
	p = fixture_post(&f, POSTER, plain_msg);
	cleanse(p);
	cook(p);
	out = g_mime_object_to_string(GMIME_OBJECT(p->msg), NULL);
	g_assert_cmpstr(out, ==, want);
	g_free(out);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_list_id_phrase_description_quoted_or_encoded(void)
{
	struct list_fixture f;
	struct post *p;
	char *v;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "description", "Developers, Inc.");
	p = fixture_post(&f, POSTER, plain_msg);
	cook(p);
	assert_header(p->msg, "List-Id", "\"Developers, Inc.\" <dev.example.org>");
	post_free(&p);

	list_set_ok(f.list, "description", "Entwickler für X");
	p = fixture_post(&f, POSTER, plain_msg);
	cook(p);
	v = header_value(p->msg, "List-Id");
	g_assert_true(g_str_is_ascii(v));
	g_assert_true(g_str_has_suffix(v, " <dev.example.org>"));
	g_free(v);
	v = message_header_decoded(p->msg, "List-Id");
	g_assert_cmpstr(v, ==, "Entwickler für X <dev.example.org>");
	g_free(v);
	post_free(&p);

	/* Neither description nor real name: the id alone. */
	list_set_ok(f.list, "description", "");
	list_set_ok(f.list, "real_name", "");
	p = fixture_post(&f, POSTER, plain_msg);
	cook(p);
	assert_header(p->msg, "List-Id", "<dev.example.org>");
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_list_headers_follow_settings_and_base_url(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, LIST);
	site_set_ok(f.site, "web.base_url", "https://lists.example.net/mailman");
	list_set_ok(f.list, "include_list_post_header", "no");
	list_set_ok(f.list, "archive", "no");
	list_set_ok(f.list, "include_sender_header", "no");
	p = fixture_post(&f, POSTER, "From: alice@example.com\n"
			 "Sender: alice@example.com\n"
			     "Subject: hi\n\nbody\n");
	cook(p);
	assert_header(p->msg, "List-Post", NULL);
	assert_header(p->msg, "List-Archive", NULL);
	assert_header(p->msg, "List-Subscribe",
		      "<https://lists.example.net/mailman/listinfo/dev@example.org>, "
		      "<mailto:dev-join@example.org>");
	assert_header(p->msg, "List-Unsubscribe",
		      "<https://lists.example.net/mailman/options/dev@example.org>, "
		      "<mailto:dev-leave@example.org>");
	/* The poster's Sender stays when the list does not set its own. */
	assert_header(p->msg, "Sender", "alice@example.com");
	assert_header(p->msg, "Errors-To", "dev-bounces@example.org");
	post_free(&p);
	list_fixture_clear(&f);
}

static const char upstream_msg[] =
	"From: alice@example.com\n"
	"Subject: [Up] hi\n"
	"List-Id: Upstream <up.example.com>\n"
	"List-Post: <mailto:up@example.com>\n"
	"List-Help: <mailto:up-request@example.com?subject=help>\n"
	"List-Unsubscribe: <https://example.com/u>, <mailto:up-leave@example.com>\n"
	"List-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
	"List-Archive: <https://example.com/a>\n"
	"List-Subscribe: <https://example.com/s>\n"
	"List-Owner: <mailto:up-owner@example.com>\n"
	"X-BeenThere: up@example.com\n"
	"Precedence: bulk\n"
	"Errors-To: up-bounces@example.com\n"
	"\n"
	"body\n";

static void
test_upstream_list_headers_replaced_not_duplicated(void)
{
	static const char *const names[] = {
		"List-Id", "List-Help", "List-Subscribe", "List-Unsubscribe",
		"List-Owner", "Errors-To", NULL,
	};
	struct list_fixture f;
	struct post *p;
	GMimeHeaderList *hl;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "include_list_post_header", "no");
	list_set_ok(f.list, "archive", "no");
	p = fixture_post(&f, POSTER, upstream_msg);
	cook(p);
	for (const char *const *n = names; *n != NULL; n++)
		g_assert_cmpuint(hdr_count(p->msg, *n), ==, 1);
	assert_header(p->msg, "List-Id", "Dev <dev.example.org>");
	assert_header(p->msg, "List-Owner", "<mailto:dev-owner@example.org>");
	assert_header(p->msg, "Errors-To", "dev-bounces@example.org");
	/* Upstream's, which this list does not replace, are gone too. */
	assert_header(p->msg, "List-Post", NULL);
	assert_header(p->msg, "List-Archive", NULL);
	assert_header(p->msg, "List-Unsubscribe-Post", NULL);
	/* Precedence is kept; X-BeenThere is appended after upstream's. */
	assert_header(p->msg, "Precedence", "bulk");
	g_assert_cmpuint(hdr_count(p->msg, "X-BeenThere"), ==, 2);
	hl = g_mime_object_get_header_list(GMIME_OBJECT(p->msg));
	for (int i = g_mime_header_list_get_count(hl) - 1; i >= 0; i--) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);

		if (g_ascii_strcasecmp(g_mime_header_get_name(h),
				       "X-BeenThere") == 0) {
			char *v = g_strstrip(g_strdup(g_mime_header_get_raw_value(h)));

			g_assert_cmpstr(v, ==, "dev@example.org");
			g_free(v);
			break;
		}
	}
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_rfc2369_off_adds_none_and_keeps_upstream(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "include_rfc2369_headers", "no");
	p = fixture_post(&f, POSTER, upstream_msg);
	cook(p);
	assert_header(p->msg, "List-Id", "Upstream <up.example.com>");
	assert_header(p->msg, "List-Post", "<mailto:up@example.com>");
	g_assert_cmpuint(hdr_count(p->msg, "List-Help"), ==, 1);
	/* The rest is done all the same. */
	assert_header(p->msg, "Errors-To", "dev-bounces@example.org");
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_full_personalisation_puts_list_in_cc(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "personalize", "full");
	p = fixture_post(&f, POSTER, "From: alice@example.com\n"
			 "To: dev@example.org\n"
			     "Cc: Carol <carol@example.com>, DEV@example.org\n"
			     "Subject: hi\n\nbody\n");
	cook(p);
	assert_header(p->msg, "Cc", "Carol <carol@example.com>, DEV@example.org");
	post_free(&p);
	p = fixture_post(&f, POSTER, plain_msg);
	cook(p);
	assert_header(p->msg, "Cc", "dev@example.org");
	post_free(&p);
	/* Not when replies go to the list anyway. */
	list_set_ok(f.list, "reply_goes_to_list", "1");
	p = fixture_post(&f, POSTER, plain_msg);
	cook(p);
	assert_header(p->msg, "Cc", NULL);
	post_free(&p);
	list_fixture_clear(&f);
}

/* --- cleanse -------------------------------------------------------------- */

static const char cleanse_msg[] =
	"Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\n"
	"Received: from c by d; Mon, 1 Jan 2024 00:00:00 +0000\n"
	"Return-Path: <alice@example.com>\n"
	"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; b=abc\n"
	"Authentication-Results: mx.example.org; dkim=pass\n"
	"From: Alice <alice@example.com>\n"
	"Sender: alice@example.com\n"
	"Reply-To: alice@home.example\n"
	"Organization: Alice Inc.\n"
	"To: dev@example.org\n"
	"Subject: hi\n"
	"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
	"Message-ID: <secret-1@alice.example.com>\n"
	"In-Reply-To: <0@example.org>\n"
	"Approved: sesame\n"
	"Approve: sesame\n"
	"X-Approved: sesame\n"
	"X-Approve: sesame\n"
	"Urgent: sesame\n"
	"Return-Receipt-To: alice@example.com\n"
	"Disposition-Notification-To: alice@example.com\n"
	"X-Confirm-Reading-To: alice@example.com\n"
	"X-PMRQC: 1\n"
	"X-Originating-Email: alice@example.com\n"
	"X-Originating-IP: 192.0.2.1\n"
	"X-Envelope-From: alice@example.com\n"
	"X-Mailer: Alice's Mailer 1.0\n"
	"X-Spam-Score: 0.1\n"
	"X-Mailman-Approved-At: Mon, 1 Jan 2024 00:00:00 +0000\n"
	"X-Ack: no\n"
	"\n"
	"body\n";

static const char *const always_removed[] = {
	"Approved", "Approve", "X-Approved", "X-Approve", "Urgent",
	"Return-Receipt-To", "Disposition-Notification-To",
	"X-Confirm-Reading-To", "X-PMRQC", NULL,
};

static void
test_cleanse_removes_passwords_and_receipt_requests_only(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, LIST);
	p = fixture_post(&f, POSTER, cleanse_msg);
	cleanse(p);
	for (const char *const *n = always_removed; *n != NULL; n++)
		g_assert_cmpuint(hdr_count(p->msg, *n), ==, 0);
	assert_header(p->msg, "From", "Alice <alice@example.com>");
	assert_header(p->msg, "Sender", "alice@example.com");
	assert_header(p->msg, "Reply-To", "alice@home.example");
	assert_header(p->msg, "Message-ID", "<secret-1@alice.example.com>");
	assert_header(p->msg, "X-Mailer", "Alice's Mailer 1.0");
	g_assert_cmpuint(hdr_count(p->msg, "Received"), ==, 2);
	g_assert_cmpuint(hdr_count(p->msg, "DKIM-Signature"), ==, 1);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_cleanse_anonymous_list_hides_the_poster(void)
{
	static const char *const gone[] = {
		"Sender", "Organization", "Return-Path", "Received",
		"DKIM-Signature", "Authentication-Results", "X-Originating-Email",
		"X-Originating-IP", "X-Envelope-From", "X-Mailer", NULL,
	};
	static const char *const kept[] = {
		"To", "Subject", "Date", "In-Reply-To", "X-Spam-Score",
		"X-Mailman-Approved-At", "X-Ack", NULL,
	};
	struct list_fixture f;
	struct post *p;
	char *id, *hex;
	GRegex *re;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "anonymous_list", "yes");
	p = fixture_post(&f, POSTER, cleanse_msg);
	cleanse(p);
	for (const char *const *n = always_removed; *n != NULL; n++)
		g_assert_cmpuint(hdr_count(p->msg, *n), ==, 0);
	for (const char *const *n = gone; *n != NULL; n++) {
		if (hdr_count(p->msg, *n) != 0)
			g_test_message("%s kept", *n);
		g_assert_cmpuint(hdr_count(p->msg, *n), ==, 0);
	}
	for (const char *const *n = kept; *n != NULL; n++)
		g_assert_cmpuint(hdr_count(p->msg, *n), ==, 1);
	assert_header(p->msg, "From", "Dev <dev@example.org>");
	assert_header(p->msg, "Reply-To", "Dev <dev@example.org>");
	id = header_value(p->msg, "Message-ID");
	re = g_regex_new("^<herald\\.[0-9a-f]{32}@example\\.org>$", 0, 0, NULL);
	g_assert_true(g_regex_match(re, id, 0, NULL));
	g_regex_unref(re);
	g_free(id);
	/* Nothing of the poster is left anywhere in the header. */
	hex = g_mime_object_get_headers(GMIME_OBJECT(p->msg), NULL);
	g_assert_null(strstr(hex, "alice"));
	g_assert_null(strstr(hex, "Alice"));
	g_free(hex);

	/* cookheaders keeps the list's Reply-To (Mailman: unless
	 * first_strip_reply_to) and the Sender is the list's. */
	cook(p);
	assert_header(p->msg, "Reply-To", "Dev <dev@example.org>");
	assert_header(p->msg, "Sender", "Dev <dev-bounces@example.org>");
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_cleanse_anonymous_message_ids_differ(void)
{
	struct list_fixture f;
	struct post *p1, *p2;
	char *a, *b;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "anonymous_list", "yes");
	p1 = fixture_post(&f, POSTER, cleanse_msg);
	p2 = fixture_post(&f, POSTER, cleanse_msg);
	cleanse(p1);
	cleanse(p2);
	a = header_value(p1->msg, "Message-ID");
	b = header_value(p2->msg, "Message-ID");
	g_assert_cmpstr(a, !=, b);
	g_free(a);
	g_free(b);
	post_free(&p1);
	post_free(&p2);
	list_fixture_clear(&f);
}

/* --- URLs ----------------------------------------------------------------- */

static void
test_urls_from_base_url_or_list_domain(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct token_key *key;
	char *u, *tok, *want;

	list_fixture_init(&f, LIST);
	u = listurls_base(f.list);
	g_assert_cmpstr(u, ==, "https://example.org/");
	g_free(u);
	u = listurls_member_options(f.list, "bob+x@example.com");
	g_assert_cmpstr(u, ==,
			"https://example.org/options/dev@example.org/bob%2Bx%40example.com");
	g_free(u);
	site_set_ok(f.site, "web.base_url", "https://lists.example.net/");
	u = listurls_listinfo(f.list);
	g_assert_cmpstr(u, ==, "https://lists.example.net/listinfo/dev@example.org");
	g_free(u);
	u = listurls_archive(f.list);
	g_assert_cmpstr(u, ==, "https://lists.example.net/archives/dev@example.org/");
	g_free(u);
	u = listurls_options(f.list);
	g_assert_cmpstr(u, ==, "https://lists.example.net/options/dev@example.org");
	g_free(u);
	key = token_key_load(f.site, &error);
	g_assert_no_error(error);
	u = listurls_unsubscribe(f.list, key, "bob+x@example.com", &error);
	g_assert_no_error(error);
	token_key_free(&key);
	g_assert_null(key);
	tok = token_make(f.site, LIST, "bob+x@example.com",
			 TOKEN_PURPOSE_UNSUBSCRIBE, &error);
	want = g_strconcat("https://lists.example.net/unsubscribe/dev@example.org"
			   "?m=bob%2Bx%40example.com&t=", tok, NULL);
	g_assert_cmpstr(u, ==, want);
	g_free(u);
	g_free(tok);
	g_free(want);
	g_assert_true(listurls_is_https("https://x/"));
	g_assert_true(listurls_is_https("HTTPS://x/"));
	g_assert_false(listurls_is_https("http://x/"));
	g_assert_false(listurls_is_https("https://"));
	list_fixture_clear(&f);
}

/* --- per member ----------------------------------------------------------- */

static void
test_personalise_sets_one_click_unsubscribe(void)
{
	struct list_fixture f;
	struct post *p;
	GError *error = NULL;
	char *tok, *want;

	list_fixture_init(&f, LIST);
	p = fixture_post(&f, POSTER, plain_msg);
	cook(p);
	g_assert_cmpint(headers_personalise(p->msg, f.list, NULL,
					    "Bob+x@example.com", &error), ==, 0);
	g_assert_no_error(error);
	tok = token_make(f.site, LIST, "bob+x@example.com",
			 TOKEN_PURPOSE_UNSUBSCRIBE, &error);
	want = g_strdup_printf("<https://example.org/unsubscribe/dev@example.org"
			       "?m=Bob%%2Bx%%40example.com&t=%s>, "
			       "<mailto:dev-leave@example.org>", tok);
	assert_header(p->msg, "List-Unsubscribe", want);
	assert_header(p->msg, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
	g_assert_cmpint(token_verify(f.site, LIST, "bob+x@example.com",
				     TOKEN_PURPOSE_UNSUBSCRIBE, tok, &error), ==, 1);
	/* Again for the next member: replaced, never two. */
	g_assert_cmpint(headers_personalise(p->msg, f.list, NULL,
					    "carol@example.com", &error), ==, 0);
	g_assert_cmpuint(hdr_count(p->msg, "List-Unsubscribe"), ==, 1);
	g_assert_cmpuint(hdr_count(p->msg, "List-Unsubscribe-Post"), ==, 1);
	g_free(want);
	g_free(tok);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_personalise_without_https_has_no_one_click(void)
{
	struct list_fixture f;
	struct post *p;
	GError *error = NULL;

	list_fixture_init(&f, LIST);
	site_set_ok(f.site, "web.base_url", "http://lists.example.org/");
	p = fixture_post(&f, POSTER, upstream_msg);
	cook(p);
	g_assert_cmpint(headers_personalise(p->msg, f.list, NULL,
					    "bob@example.com", &error), ==, 0);
	g_assert_no_error(error);
	assert_header(p->msg, "List-Unsubscribe",
		      "<http://lists.example.org/options/dev@example.org>, "
		      "<mailto:dev-leave@example.org>");
	assert_header(p->msg, "List-Unsubscribe-Post", NULL);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_personalise_bad_address_or_no_rfc2369(void)
{
	struct list_fixture f;
	struct post *p;
	GError *error = NULL;

	list_fixture_init(&f, LIST);
	p = fixture_post(&f, POSTER, plain_msg);
	g_assert_cmpint(headers_personalise(p->msg, f.list, NULL, "no address",
					    &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	list_set_ok(f.list, "include_rfc2369_headers", "no");
	g_assert_cmpint(headers_personalise(p->msg, f.list, NULL,
					    "bob@example.com", &error), ==, 0);
	assert_header(p->msg, "List-Unsubscribe", NULL);
	assert_header(p->msg, "List-Unsubscribe-Post", NULL);
	post_free(&p);
	list_fixture_clear(&f);
}

/* The site key read once (token_key_load) is what the tokens are made with
 * for as long as the caller holds it, whatever happens to etc/site.key
 * meanwhile; without a key, headers_personalise reads the file. */
static void
test_personalise_with_a_loaded_key_keeps_it_when_the_file_changes(void)
{
	static const char other[TOKEN_KEY_BYTES + 1] =
		"0123456789abcdef0123456789abcdef";
	unsigned char orig[TOKEN_KEY_BYTES];
	struct list_fixture f;
	struct token_key *key;
	GMimeMessage *msg;
	GError *error = NULL;
	char *path, *tok_orig, *tok_other, *v, *saved = NULL;
	gsize saved_len = 0;

	list_fixture_init(&f, LIST);
	key = token_key_load(f.site, &error);
	g_assert_no_error(error);
	g_assert_nonnull(key);
	memcpy(orig, token_key_bytes(key), sizeof orig);
	path = g_build_filename(f.var, "etc", "site.key", NULL);
	g_assert_true(g_file_get_contents(path, &saved, &saved_len, NULL));
	g_assert_cmpmem(saved, saved_len, orig, sizeof orig);
	/* Another key in the file once the caller has its own. */
	g_assert_true(g_file_set_contents(path, other, TOKEN_KEY_BYTES, NULL));
	tok_orig = token_make_with_key(orig, LIST, "bob@example.com",
				       TOKEN_PURPOSE_UNSUBSCRIBE, &error);
	tok_other = token_make_with_key((const unsigned char *)other, LIST,
					"bob@example.com",
					TOKEN_PURPOSE_UNSUBSCRIBE, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(tok_orig, !=, tok_other);

	msg = parse_ok(plain_msg);
	g_assert_cmpint(headers_personalise(msg, f.list, key, "bob@example.com",
					    &error), ==, 0);
	g_assert_no_error(error);
	v = header_value(msg, "List-Unsubscribe");
	g_assert_nonnull(strstr(v, tok_orig));
	g_free(v);
	/* Without a key it reads the file as it is now. */
	g_assert_cmpint(headers_personalise(msg, f.list, NULL,
					    "bob@example.com", &error), ==, 0);
	g_assert_no_error(error);
	v = header_value(msg, "List-Unsubscribe");
	g_assert_nonnull(strstr(v, tok_other));
	g_free(v);

	/* The cached key's token is the site's once the file is back. */
	g_assert_cmpint(token_verify(f.site, LIST, "bob@example.com",
				     TOKEN_PURPOSE_UNSUBSCRIBE, tok_orig,
				     &error), ==, 0);
	g_assert_true(g_file_set_contents(path, saved, (gssize)saved_len, NULL));
	g_assert_cmpint(token_verify(f.site, LIST, "bob@example.com",
				     TOKEN_PURPOSE_UNSUBSCRIBE, tok_orig,
				     &error), ==, 1);
	g_assert_no_error(error);
	token_key_free(&key);
	g_assert_null(key);
	token_key_free(&key);	/* a second free is harmless */
	g_object_unref(msg);
	g_free(tok_orig);
	g_free(tok_other);
	g_free(saved);
	g_free(path);
	list_fixture_clear(&f);
}

/* The loaded key is read-only: a stray write through the pointer kills
 * the process instead of changing the key. */
static void
test_loaded_key_is_read_only(void)
{
	struct list_fixture f;
	struct token_key *key;
	GError *error = NULL;
	int status = 0;
	pid_t pid;

	list_fixture_init(&f, LIST);
	key = token_key_load(f.site, &error);
	g_assert_no_error(error);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* A sanitizer build reports the fault: not in the log. */
		if (null >= 0)
			dup2(null, 2);
		((volatile unsigned char *)token_key_bytes(key))[0] ^= 1;
		_exit(0);
	}
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	token_key_free(&key);
	list_fixture_clear(&f);
}

/* --- on a message that is no post ------------------------------------------- */

static int64_t
number_7(void *ctx, GError **error)
{
	return 7;
}

/* headers_cleanse and headers_cook on a bare message do exactly what the
 * cleanse and cookheaders handlers do to a post of it. */
static void
test_cook_on_a_bare_message_is_what_the_handlers_do(void)
{
	static const char text[] =
		"From: Alice <alice@example.com>\n"
		"To: dev@example.org\n"
		"Cc: Carol <carol@example.com>\n"
		"Reply-To: Bob <bob@example.com>\n"
		"Subject: Re: [Dev 3] hi\n"
		"Approved: secret\n"
		"Disposition-Notification-To: alice@example.com\n"
		"List-Id: <up.stream.example>\n"
		"Message-ID: <1@example.com>\n"
		"\n"
		"body\n";
	struct list_fixture f;
	struct post *p;
	GMimeMessage *msg;
	GError *error = NULL;
	GByteArray *a, *b;
	char *subject;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "subject_prefix", "[Dev %d] ");
	list_set_ok(f.list, "personalize", "2");
	list_set_ok(f.list, "reply_goes_to_list", "2");
	list_set_ok(f.list, "reply_to_address", "Talk <talk@example.org>");
	p = fixture_post_meta(&f, POSTER, text, "post-id", "7", NULL);
	cleanse(p);
	cook(p);
	msg = parse_ok(text);
	headers_cleanse(msg, f.list, POSTER);
	g_assert_cmpint(headers_cook(msg, f.list, number_7, NULL, &error), ==, 0);
	g_assert_no_error(error);
	subject = header_value(msg, "Subject");
	g_assert_cmpstr(subject, ==, "[Dev 7] Re: hi");
	g_free(subject);
	assert_header(msg, "Approved", NULL);
	assert_header(msg, "List-Id", "Dev <dev.example.org>");
	a = message_to_bytes(p->msg);
	b = message_to_bytes(msg);
	g_assert_cmpmem(a->data, a->len, b->data, b->len);
	/* A number that cannot be had fails it, the message untouched. */
	g_object_unref(msg);
	msg = parse_ok(text);
	g_assert_cmpint(headers_cook(msg, f.list, number_fails, NULL, &error),
			==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_clear_error(&error);
	assert_header(msg, "X-BeenThere", NULL);
	g_byte_array_unref(a);
	g_byte_array_unref(b);
	g_object_unref(msg);
	post_free(&p);
	list_fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/headers/subject/plain-prefix-added-once",
	  test_subject_plain_prefix_added_once },
	{ "/headers/subject/reply-markers-one-re-after-prefix",
	  test_subject_reply_markers_become_one_re_after_prefix },
	{ "/headers/subject/numbered-prefix-post-number-old-numbers-stripped",
	  test_subject_numbered_prefix_takes_post_number_and_strips_old_numbers },
	{ "/headers/subject/number-kept-by-resumed-post",
	  test_subject_number_kept_by_a_resumed_post },
	{ "/headers/subject/encoded-decoded-stripped-encoded-if-needed",
	  test_subject_encoded_is_decoded_stripped_and_encoded_only_if_needed },
	{ "/headers/subject/non-ascii-prefix-encoded",
	  test_subject_non_ascii_prefix_is_encoded },
	{ "/headers/subject/empty-or-missing-no-subject",
	  test_subject_empty_or_missing_is_no_subject },
	{ "/headers/subject/empty-prefix-leaves-subject",
	  test_subject_empty_prefix_leaves_subject_alone },
	{ "/headers/subject/number-asked-only-for-percent-d",
	  test_prefix_subject_function_asks_number_only_for_percent_d },
	{ "/headers/reply-to/poster-keeps-or-strips",
	  test_reply_to_poster_keeps_or_strips_theirs },
	{ "/headers/reply-to/list-added-last",
	  test_reply_to_list_is_added_last },
	{ "/headers/reply-to/explicit-first",
	  test_reply_to_explicit_comes_first },
	{ "/headers/reply-to/duplicates-dropped-headers-merged",
	  test_reply_to_duplicates_dropped_and_headers_merged },
	{ "/headers/list/defaults-exact",
	  test_list_headers_defaults_exact },
	{ "/headers/list/cooked-message-golden",
	  test_cooked_message_golden },
	{ "/headers/list/list-id-phrase-quoted-or-encoded",
	  test_list_id_phrase_description_quoted_or_encoded },
	{ "/headers/list/follow-settings-and-base-url",
	  test_list_headers_follow_settings_and_base_url },
	{ "/headers/list/upstream-replaced-not-duplicated",
	  test_upstream_list_headers_replaced_not_duplicated },
	{ "/headers/list/rfc2369-off-adds-none",
	  test_rfc2369_off_adds_none_and_keeps_upstream },
	{ "/headers/cc/full-personalisation-list-in-cc",
	  test_full_personalisation_puts_list_in_cc },
	{ "/headers/cleanse/passwords-and-receipts-only",
	  test_cleanse_removes_passwords_and_receipt_requests_only },
	{ "/headers/cleanse/anonymous-hides-poster",
	  test_cleanse_anonymous_list_hides_the_poster },
	{ "/headers/cleanse/anonymous-message-ids-differ",
	  test_cleanse_anonymous_message_ids_differ },
	{ "/headers/urls/base-url-or-list-domain",
	  test_urls_from_base_url_or_list_domain },
	{ "/headers/personalise/one-click-unsubscribe",
	  test_personalise_sets_one_click_unsubscribe },
	{ "/headers/personalise/no-https-no-one-click",
	  test_personalise_without_https_has_no_one_click },
	{ "/headers/personalise/bad-address-or-no-rfc2369",
	  test_personalise_bad_address_or_no_rfc2369 },
	{ "/headers/personalise/loaded-key-kept-when-the-file-changes",
	  test_personalise_with_a_loaded_key_keeps_it_when_the_file_changes },
	{ "/headers/personalise/loaded-key-read-only",
	  test_loaded_key_is_read_only },
	{ "/headers/bare-message/cook-is-what-the-handlers-do",
	  test_cook_on_a_bare_message_is_what_the_handlers_do },
};

UNIT_TEST_MAIN(tests)
