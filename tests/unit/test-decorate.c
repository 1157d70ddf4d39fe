/*
 * test-decorate.c - unit tests for decorate.c: the header/footer text
 * (Mailman's %(name)s substitutions, personalised or not, trailing spaces,
 * "-- "), and where it goes, as exact output bytes: into a single text
 * part in its own charset (latin-1 kept, latin-1 made UTF-8 when the
 * footer does not fit, UTF-8, base64, undeclared 8-bit), as parts of a
 * multipart/mixed, around a multipart/alternative, an HTML part or a text
 * attachment by wrapping, and around a signed message without a byte of
 * it changing; and the decorate handler (not for personalised lists, once
 * only).
 *
 * Each test runs in a child process with a fresh temporary var dir and the
 * list dev@example.org.
 */
#include "base/base.h"
#include "list/decorate.h"
#include "list/list.h"
#include "mail/message.h"
#include "pipeline/pipeline.h"
#include "list/roster.h"
#include "store/site.h"

#include <string.h>

#include "testutil.h"

#define LIST "dev@example.org"

/* --- helpers ------------------------------------------------------------- */

/* The message as bytes, a boundary that decorate made replaced by
 * "BOUNDARY" (GMime makes it random). */
static char *
bytes_of(GMimeMessage *msg, const char *made_boundary)
{
	char *out = g_mime_object_to_string(GMIME_OBJECT(msg), NULL);
	GString *s;

	if (made_boundary == NULL)
		return out;
	s = g_string_new(out);
	g_free(out);
	g_string_replace(s, made_boundary, "BOUNDARY", 0);
	return g_string_free(s, FALSE);
}

/* Decorates text (not personalised) and compares all the bytes. */
static void
assert_decorated(struct list_fixture *f, const char *in,
		 const char *want)
{
	GMimeMessage *msg = parse_ok(in);
	GError *error = NULL;
	GMimeObject *body;
	const char *boundary = NULL;
	char *out;

	g_assert_cmpint(decorate_message(msg, f->list, NULL, &error), ==, 0);
	g_assert_no_error(error);
	body = g_mime_message_get_mime_part(msg);
	if (GMIME_IS_MULTIPART(body) && strstr(in, "multipart/mixed") == NULL)
		boundary = g_mime_multipart_get_boundary(GMIME_MULTIPART(body));
	out = bytes_of(msg, boundary);
	if (strcmp(out, want) != 0)
		g_test_message("got:\n%s\nwant:\n%s", out, want);
	g_assert_cmpstr(out, ==, want);
	/* What decorate makes parses back to the same bytes. */
	{
		char *out1 = g_mime_object_to_string(GMIME_OBJECT(msg), NULL);
		GMimeMessage *again = parse_ok(out1);
		char *out2 = g_mime_object_to_string(GMIME_OBJECT(again), NULL);

		g_assert_cmpstr(out1, ==, out2);
		g_free(out1);
		g_free(out2);
		g_object_unref(again);
	}
	g_free(out);
	g_object_unref(msg);
}

static void
assert_text(struct list_fixture *f, const char *tmpl,
	    const struct member *m, const char *want)
{
	char *t = decorate_text(f->list, tmpl, m);

	g_assert_cmpstr(t, ==, want);
	g_free(t);
}

/* --- the text -------------------------------------------------------------- */

static void
test_text_default_footer(void)
{
	struct list_fixture f;
	char *tmpl;

	list_fixture_init(&f, LIST);
	tmpl = list_get(f.list, "msg_footer", NULL);
	assert_text(&f, tmpl, NULL,
		    "_______________________________________________\n"
		    "Dev mailing list\n"
		    "dev@example.org\n"
		    "https://example.org/listinfo/dev@example.org\n");
	g_free(tmpl);
	list_fixture_clear(&f);
}

static void
test_text_mailman_substitutions(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "description", "The developers");
	list_set_ok(f.list, "info", "All about it.");
	list_set_ok(f.list, "real_name", "DEV");
	assert_text(&f, "%(real_name)s|%(list_name)s|%(_internal_name)s|"
		    "%(host_name)s|%(web_page_url)s|%(description)s|%(info)s|"
		    "[%(cgiext)s]|%(list)s|%(listinfo_url)s", NULL,
		    "DEV|dev|dev|example.org|https://example.org/|The developers|"
		    "All about it.|[]|dev@example.org|"
		    "https://example.org/listinfo/dev@example.org\n");
	/* Mailman 2.1's own footer, as an imported list has it. */
	assert_text(&f, "%(real_name)s@%(host_name)s\n"
		    "%(web_page_url)slistinfo%(cgiext)s/%(_internal_name)s\n",
		    NULL, "DEV@example.org\nhttps://example.org/listinfo/dev\n");
	list_fixture_clear(&f);
}

static void
test_text_unknown_and_user_names_kept_percent_percent_is_percent(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	assert_text(&f, "%(user_address)s %(user_name)s %(password)s %(x 100%% "
		    "%(real_name) 5% %(real_name)d", NULL,
		    "%(user_address)s %(user_name)s %(password)s %(x 100% "
		    "%(real_name) 5% %(real_name)d\n");
	list_fixture_clear(&f);
}

static void
test_text_trailing_spaces_trimmed_but_signature_separator_kept(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	assert_text(&f, "a  \r\n--  \n-- \nx--  \n  \nb", NULL,
		    "a\n-- \n-- \nx--\n\nb\n");
	/* Only white space: nothing at all. */
	assert_text(&f, " \n\t\n", NULL, "");
	assert_text(&f, "", NULL, "");
	assert_text(&f, NULL, NULL, "");
	list_fixture_clear(&f);
}

static void
test_text_personalised_substitutions(void)
{
	struct list_fixture f;
	struct member m = { 0 };

	list_fixture_init(&f, LIST);
	m.key = (char *)"bob+x@example.com";
	m.addr = (char *)"Bob+x@example.com";
	m.name = (char *)"Bob Example";
	m.language = (char *)"";
	assert_text(&f, "%(user_address)s|%(user_delivered_to)s|%(user_name)s|"
		    "%(user_language)s|%(user_optionsurl)s", &m,
		    "bob+x@example.com|Bob+x@example.com|Bob Example|en|"
		    "https://example.org/options/dev@example.org/Bob%2Bx%40example.com\n");
	m.name = (char *)"";
	m.language = (char *)"de";
	assert_text(&f, "%(user_name)s %(user_language)s", &m,
		    "bob+x@example.com de\n");
	list_fixture_clear(&f);
}

/* --- what decorate writes ------------------------------------------------ */

/* A message of one text part, with these Content-Type and
 * Content-Transfer-Encoding, up to its body. */
#define TEXT_HEAD(type, cte) \
	"From: a@example.com\n" \
	"MIME-Version: 1.0\n" \
	"Content-Type: " type "\n" \
	"Content-Transfer-Encoding: " cte "\n" \
	"\n"

/* A header or footer that decorate adds as a part of its own, in ASCII. */
#define ADDED_PART(text) \
	"Content-Type: text/plain; charset=us-ascii\n" \
	"Content-Disposition: inline\n" \
	"Content-Transfer-Encoding: 7bit\n" \
	"\n" \
	text "\n" \
	"\n"

/* A message that decorate could not add to in place: the headers head,
 * then its body (part, untouched) in a multipart/mixed with the footer
 * after it. */
#define WRAPPED(head, part, footer) \
	head \
	"MIME-Version: 1.0\n" \
	"Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\n" \
	"\n" \
	"--BOUNDARY\n" \
	part \
	"\n" \
	"--BOUNDARY\n" \
	ADDED_PART(footer) \
	"--BOUNDARY--\n"

/* --- single text parts --------------------------------------------------- */

static void
test_plain_ascii_default_footer_exact(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_header", "Header of %(real_name)s");
	assert_decorated(&f,
		"From: a@example.com\n"
		"Subject: x\n"
		"\n"
		"Hello\n",
		"From: a@example.com\n"
		"Subject: x\n"
		"\n"
		"Header of Dev\n"
		"Hello\n"
		"_______________________________________________\n"
		"Dev mailing list\n"
		"dev@example.org\n"
		"https://example.org/listinfo/dev@example.org\n");
	/* A body without a last newline gets one before the footer. */
	list_set_ok(f.list, "msg_header", "");
	list_set_ok(f.list, "msg_footer", "-- \nfoot");
	assert_decorated(&f,
		"From: a@example.com\n\nHello",
		"From: a@example.com\n\nHello\n-- \nfoot\n");
	list_fixture_clear(&f);
}

/* The head of a latin-1 quoted-printable text part. */
#define LATIN1_QP \
	TEXT_HEAD("text/plain; charset=iso-8859-1; format=flowed", \
		  "quoted-printable")

static void
test_latin1_part_stays_latin1_with_utf8_footer(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_footer", "Grüße von %(real_name)s");
	assert_decorated(&f,
		LATIN1_QP "Sch=F6n\n",
		LATIN1_QP "Sch=F6n\n"
		"Gr=FC=DFe von Dev\n");
	/* Latin-1 8bit stays 8bit latin-1. */
	assert_decorated(&f,
		TEXT_HEAD("text/plain; charset=ISO-8859-1", "8bit")
		"Sch\xf6n\n",
		TEXT_HEAD("text/plain; charset=ISO-8859-1", "8bit")
		"Sch\xf6n\n"
		"Gr\xfc\xdf" "e von Dev\n");
	list_fixture_clear(&f);
}

static void
test_latin1_part_becomes_utf8_when_footer_does_not_fit(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_footer", "→ 5 €");
	assert_decorated(&f,
		LATIN1_QP "Sch=F6n\n",
		TEXT_HEAD("text/plain; charset=utf-8; format=flowed",
			  "quoted-printable")
		"Sch=C3=B6n\n"
		"=E2=86=92 5 =E2=82=AC\n");
	/* An ASCII part with no charset and a non-ASCII footer: UTF-8,
	 * encoded for 7-bit transport, and marked as MIME. */
	assert_decorated(&f,
		"From: a@example.com\n\nHello\n",
		TEXT_HEAD("text/plain; charset=utf-8", "quoted-printable")
		"Hello\n"
		"=E2=86=92 5 =E2=82=AC\n");
	list_fixture_clear(&f);
}

static void
test_utf8_8bit_and_base64_parts_keep_their_encoding(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_header", "Kopf");
	list_set_ok(f.list, "msg_footer", "Fuß");
	assert_decorated(&f,
		TEXT_HEAD("text/plain; charset=UTF-8", "8bit")
		"日本\n",
		TEXT_HEAD("text/plain; charset=UTF-8", "8bit")
		"Kopf\n"
		"日本\n"
		"Fuß\n");
	/* "Hallo\n" in base64; decoded, decorated, encoded again. */
	assert_decorated(&f,
		TEXT_HEAD("text/plain; charset=utf-8", "base64")
		"SGFsbG8K\n",
		TEXT_HEAD("text/plain; charset=utf-8", "base64")
		"S29wZgpIYWxsbwpGdcOfCg==\n");
	list_fixture_clear(&f);
}

static void
test_undeclared_8bit_utf8_body_is_labelled_utf8(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_footer", "foot");
	assert_decorated(&f,
		"From: a@example.com\n\nGr\xc3\xbc\xc3\x9f" "e\n",
		TEXT_HEAD("text/plain; charset=utf-8", "quoted-printable")
		"Gr=C3=BC=C3=9Fe\n"
		"foot\n");
	list_fixture_clear(&f);
}

/* A part declared ASCII that is not. */
#define UNREADABLE_PART \
	"Content-Type: text/plain; charset=us-ascii\n" \
	"\n" \
	"Gr\xfc\xdf" "e\n"

static void
test_text_that_cannot_be_read_in_its_charset_is_wrapped(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_footer", "foot");
	/* Declared ASCII, but 8-bit: not touched, wrapped. */
	assert_decorated(&f,
		"From: a@example.com\n"
		"MIME-Version: 1.0\n"
		UNREADABLE_PART,
		WRAPPED("From: a@example.com\n", UNREADABLE_PART, "foot"));
	list_fixture_clear(&f);
}

/* --- multiparts ------------------------------------------------------------ */

/* The parts of a multipart/mixed, as they came and as they stay. */
#define MIXED_PARTS \
	"--MIX\n" \
	"Content-Type: text/plain; charset=us-ascii\n" \
	"\n" \
	"see attached\n" \
	"--MIX\n" \
	"Content-Type: application/octet-stream; name=\"a.bin\"\n" \
	"Content-Disposition: attachment; filename=\"a.bin\"\n" \
	"Content-Transfer-Encoding: base64\n" \
	"\n" \
	"AAEC\n"

static void
test_mixed_gets_header_and_footer_parts(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_header", "Header");
	list_set_ok(f.list, "msg_footer", "Footer ü");
	assert_decorated(&f,
		"From: a@example.com\n"
		"MIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"MIX\"\n"
		"\n"
		MIXED_PARTS
		"--MIX--\n",
		"From: a@example.com\n"
		"MIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"MIX\"\n"
		"\n"
		"--MIX\n"
		ADDED_PART("Header")
		MIXED_PARTS
		"--MIX\n"
		"Content-Type: text/plain; charset=utf-8\n"
		"Content-Disposition: inline\n"
		"Content-Transfer-Encoding: quoted-printable\n"
		"\n"
		"Footer =C3=BC\n"
		"\n"
		"--MIX--\n");
	list_fixture_clear(&f);
}

/* A multipart/alternative body, with its Content-Type. */
#define ALTERNATIVE_PART \
	"Content-Type: multipart/alternative; boundary=\"ALT\"\n" \
	"\n" \
	"--ALT\n" \
	"Content-Type: text/plain; charset=us-ascii\n" \
	"\n" \
	"plain\n" \
	"--ALT\n" \
	"Content-Type: text/html; charset=us-ascii\n" \
	"\n" \
	"<p>html</p>\n" \
	"--ALT--\n"

static void
test_alternative_is_wrapped_in_mixed(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_header", "");
	list_set_ok(f.list, "msg_footer", "Footer");
	assert_decorated(&f,
		"From: a@example.com\n"
		"Subject: x\n"
		"MIME-Version: 1.0\n"
		ALTERNATIVE_PART,
		WRAPPED("From: a@example.com\n"
			"Subject: x\n", ALTERNATIVE_PART, "Footer"));
	list_fixture_clear(&f);
}

/* Bodies with their Content-Type: an HTML part, a text attachment. */
#define HTML_PART "Content-Type: text/html\n\n<p>hi</p>\n"
#define NOTES_PART \
	"Content-Type: text/plain\n" \
	"Content-Disposition: attachment; filename=\"notes.txt\"\n" \
	"\n" \
	"notes\n"

static void
test_html_part_and_text_attachment_are_wrapped(void)
{
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_footer", "Footer");
	assert_decorated(&f,
		"From: a@example.com\n"
		HTML_PART,
		WRAPPED("From: a@example.com\n", HTML_PART, "Footer"));
	assert_decorated(&f,
		"From: a@example.com\n"
		"MIME-Version: 1.0\n"
		NOTES_PART,
		WRAPPED("From: a@example.com\n", NOTES_PART, "Footer"));
	list_fixture_clear(&f);
}

/* The signed entity: its bytes are what the signature covers. */
static const char signed_entity[] =
	"Content-Type: multipart/signed; boundary=\"SIG\";\n"
	" protocol=\"application/pgp-signature\"; micalg=pgp-sha256\n"
	"\n"
	"--SIG\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"Content-Transfer-Encoding: 7bit\n"
	"\n"
	"Signed text   \n"
	"with trailing spaces.\n"
	"--SIG\n"
	"Content-Type: application/pgp-signature; name=\"signature.asc\"\n"
	"\n"
	"-----BEGIN PGP SIGNATURE-----\n"
	"\n"
	"iQEzBAEBCAAdFiEEabcdefghijklmnopqrstuvwxyz0123456789ABCDEF\n"
	"=abcd\n"
	"-----END PGP SIGNATURE-----\n"
	"--SIG--\n";

static void
test_signed_message_wrapped_and_untouched_inside(void)
{
	struct list_fixture f;
	GMimeMessage *msg;
	GError *error = NULL;
	GMimeObject *body;
	char *in, *out;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_header", "Header");
	list_set_ok(f.list, "msg_footer", "Footer");
	in = g_strconcat("From: a@example.com\nMIME-Version: 1.0\n",
			 signed_entity, NULL);
	msg = parse_ok(in);
	g_assert_cmpint(decorate_message(msg, f.list, NULL, &error), ==, 0);
	body = g_mime_message_get_mime_part(msg);
	g_assert_true(GMIME_IS_MULTIPART(body));
	g_assert_false(GMIME_IS_MULTIPART_SIGNED(body));
	g_assert_cmpint(g_mime_multipart_get_count(GMIME_MULTIPART(body)), ==, 3);
	g_assert_true(GMIME_IS_MULTIPART_SIGNED(
		g_mime_multipart_get_part(GMIME_MULTIPART(body), 1)));
	out = g_mime_object_to_string(GMIME_OBJECT(msg), NULL);
	/* Byte for byte, trailing spaces and all. */
	if (strstr(out, signed_entity) == NULL)
		g_test_message("signed entity changed:\n%s", out);
	g_assert_nonnull(strstr(out, signed_entity));
	g_free(out);
	g_free(in);
	g_object_unref(msg);
	list_fixture_clear(&f);
}

static void
test_nothing_added_when_header_and_footer_empty(void)
{
	static const char in[] =
		"From: a@example.com\n"
		"Content-Type: text/html\n"
		"\n"
		"<p>hi</p>\n";
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_footer", "  \n");
	assert_decorated(&f, in, in);
	list_fixture_clear(&f);
}

/* --- personalised ---------------------------------------------------------- */

static void
test_decorate_message_personalised_by_address_or_member(void)
{
	struct list_fixture f;
	struct member m = { 0 };
	GMimeMessage *msg;
	GError *error = NULL;
	char *out;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_footer",
		    "To %(user_name)s <%(user_delivered_to)s>, "
		    "%(user_address)s\n%(user_optionsurl)s");
	msg = parse_ok("From: a@example.com\n\nHi\n");
	g_assert_cmpint(decorate_message(msg, f.list, "Bob@Example.COM", &error),
			==, 0);
	g_assert_no_error(error);
	out = bytes_of(msg, NULL);
	g_assert_cmpstr(out, ==,
		"From: a@example.com\n\nHi\n"
		"To bob@example.com <Bob@example.com>, bob@example.com\n"
		"https://example.org/options/dev@example.org/Bob%40example.com\n");
	g_free(out);
	g_object_unref(msg);

	m.key = (char *)"bob@example.com";
	m.addr = (char *)"Bob@example.com";
	m.name = (char *)"Bob Example";
	m.language = (char *)"";
	msg = parse_ok("From: a@example.com\n\nHi\n");
	g_assert_cmpint(decorate_message_member(msg, f.list, &m, &error), ==, 0);
	out = bytes_of(msg, NULL);
	g_assert_cmpstr(out, ==,
		"From: a@example.com\n\nHi\n"
		"To Bob Example <Bob@example.com>, bob@example.com\n"
		"https://example.org/options/dev@example.org/Bob%40example.com\n");
	g_free(out);
	g_object_unref(msg);

	msg = parse_ok("From: a@example.com\n\nHi\n");
	g_assert_cmpint(decorate_message(msg, f.list, "not an address", &error),
			==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_object_unref(msg);
	list_fixture_clear(&f);
}

/* decorate_job_apply makes the same bytes as decorate_message_member, for
 * a header and footer that name the member and for ones that do not (the
 * text filled in once for the job), for two members in turn. */
static void
test_decorate_job_same_as_per_copy(void)
{
	static const char *const footers[] = {
		"To %(user_name)s <%(user_delivered_to)s>\n%(user_optionsurl)s",
		"%(real_name)s: %(listinfo_url)s",
		"",
	};
	struct member ms[2] = {
		{ .key = (char *)"bob@example.com", .addr = (char *)"Bob@example.com",
		  .name = (char *)"Bob", .language = (char *)"" },
		{ .key = (char *)"cy@example.com", .addr = (char *)"cy@example.com",
		  .name = (char *)"", .language = (char *)"" },
	};
	struct list_fixture f;

	list_fixture_init(&f, LIST);
	for (guint i = 0; i < G_N_ELEMENTS(footers); i++) {
		struct decorate_job *dj;

		list_set_ok(f.list, "msg_footer", footers[i]);
		list_set_ok(f.list, "msg_header",
			    i == 1 ? "" : "Hello %(user_address)s");
		dj = decorate_job_new(f.list);
		for (guint k = 0; k < 2; k++) {
			GMimeMessage *a = parse_ok("From: a@example.com\n\nHi\n");
			GMimeMessage *b = parse_ok("From: a@example.com\n\nHi\n");
			GError *error = NULL;
			char *sa, *sb;

			g_assert_cmpint(decorate_message_member(a, f.list, &ms[k],
								&error), ==, 0);
			decorate_job_apply(dj, b, &ms[k]);
			sa = bytes_of(a, NULL);
			sb = bytes_of(b, NULL);
			g_assert_cmpstr(sb, ==, sa);
			g_assert_nonnull(strstr(sb, i == 1 ? "example.org/listinfo"
							   : "Hello "));
			g_free(sa);
			g_free(sb);
			g_object_unref(a);
			g_object_unref(b);
		}
		decorate_job_free(&dj);
		g_assert_null(dj);
	}
	list_fixture_clear(&f);
}

/* --- the handler ------------------------------------------------------------ */

static void
test_handler_decorates_once_and_not_personalised_lists(void)
{
	struct list_fixture f;
	struct post *p;
	GError *error = NULL;
	char *out;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "msg_footer", "foot");
	p = fixture_post(&f, NULL, "From: a@example.com\n\nHi\n");
	g_assert_cmpint(pipe_decorate(p, &error), ==, PIPE_CONTINUE);
	g_assert_no_error(error);
	g_assert_cmpstr(queue_meta_get(p->meta, "decorated"), ==, "yes");
	/* Run again (a pipeline run twice): no second footer. */
	g_assert_cmpint(pipe_decorate(p, &error), ==, PIPE_CONTINUE);
	out = bytes_of(p->msg, NULL);
	g_assert_cmpstr(out, ==, "From: a@example.com\n\nHi\nfoot\n");
	g_free(out);
	post_free(&p);

	/* Personalised: left to delivery, which decorates per member. */
	list_set_ok(f.list, "personalize", "yes");
	p = fixture_post(&f, NULL, "From: a@example.com\n\nHi\n");
	g_assert_cmpint(pipe_decorate(p, &error), ==, PIPE_CONTINUE);
	g_assert_null(queue_meta_get(p->meta, "decorated"));
	out = bytes_of(p->msg, NULL);
	g_assert_cmpstr(out, ==, "From: a@example.com\n\nHi\n");
	g_free(out);
	post_free(&p);
	list_fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/decorate/text/default-footer", test_text_default_footer },
	{ "/decorate/text/mailman-substitutions",
	  test_text_mailman_substitutions },
	{ "/decorate/text/unknown-and-user-kept-percent-percent",
	  test_text_unknown_and_user_names_kept_percent_percent_is_percent },
	{ "/decorate/text/trailing-spaces-trimmed-sig-separator-kept",
	  test_text_trailing_spaces_trimmed_but_signature_separator_kept },
	{ "/decorate/text/personalised-substitutions",
	  test_text_personalised_substitutions },
	{ "/decorate/plain/ascii-default-footer-exact",
	  test_plain_ascii_default_footer_exact },
	{ "/decorate/plain/latin1-stays-latin1-utf8-footer",
	  test_latin1_part_stays_latin1_with_utf8_footer },
	{ "/decorate/plain/latin1-becomes-utf8-when-footer-does-not-fit",
	  test_latin1_part_becomes_utf8_when_footer_does_not_fit },
	{ "/decorate/plain/utf8-8bit-and-base64-keep-encoding",
	  test_utf8_8bit_and_base64_parts_keep_their_encoding },
	{ "/decorate/plain/undeclared-8bit-utf8-labelled",
	  test_undeclared_8bit_utf8_body_is_labelled_utf8 },
	{ "/decorate/plain/unreadable-in-charset-wrapped",
	  test_text_that_cannot_be_read_in_its_charset_is_wrapped },
	{ "/decorate/multipart/mixed-gets-parts",
	  test_mixed_gets_header_and_footer_parts },
	{ "/decorate/multipart/alternative-wrapped",
	  test_alternative_is_wrapped_in_mixed },
	{ "/decorate/single/html-and-text-attachment-wrapped",
	  test_html_part_and_text_attachment_are_wrapped },
	{ "/decorate/multipart/signed-wrapped-untouched",
	  test_signed_message_wrapped_and_untouched_inside },
	{ "/decorate/empty-adds-nothing",
	  test_nothing_added_when_header_and_footer_empty },
	{ "/decorate/personalised/by-address-or-member",
	  test_decorate_message_personalised_by_address_or_member },
	{ "/decorate/personalised/job-same-as-per-copy",
	  test_decorate_job_same_as_per_copy },
	{ "/decorate/handler/once-and-not-personalised",
	  test_handler_decorates_once_and_not_personalised_lists },
};

UNIT_TEST_MAIN(tests)
