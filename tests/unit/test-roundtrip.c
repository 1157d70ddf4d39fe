/*
 * test-roundtrip.c - what herald writes of a message it accepted, it reads
 * back as the same message (mail/message.h: message_check_round_trip,
 * message_same; entry/accept.h: entry_check).  Each finding of issue 10
 * and of the fuzzer is a case here.
 */
#include "entry/accept.h"
#include "base/base.h"
#include "mail/message.h"

#include <glib.h>
#include <string.h>

static GMimeMessage *
parse(const char *s)
{
	return message_parse(s, strlen(s), NULL);
}

/* What herald writes of m (which it takes) reads back as m, as a stage
 * inside herald reads it (no header needed). */
static void
assert_reads_back(GMimeMessage *m)
{
	GByteArray *out = message_to_bytes(m);
	GError *error = NULL;

	g_assert_cmpint(message_check_round_trip((const char *)out->data,
						 out->len, FALSE, &error), ==, 0);
	g_assert_no_error(error);
	g_byte_array_unref(out);
	g_object_unref(m);
}

/* A message with no header: an mbox "From " line as the only line before
 * the body (GMime skips it), or a blank line first.  The entries and
 * message_parse refuse it; message_parse_stored takes it, and reads back
 * what herald writes of it (the approved post that went to bad/ was
 * one). */
static void
test_roundtrip_no_header_refused_at_entry_read_back_inside(void)
{
	static const char *const inputs[] = {
		"From VM Thu Oct\n\nHi\n",
		"From userR",			/* the fuzzer's 10 bytes */
		">From x\n\nHi\n",
		"From x@y Thu Oct  1 00:00:00 2026\n",
		"\nSubject: hi\n\nbody\n",	/* a blank line first */
	};

	for (guint i = 0; i < G_N_ELEMENTS(inputs); i++) {
		GError *error = NULL;
		const char *in = inputs[i];
		GMimeMessage *m;

		g_assert_cmpint(entry_check(in, strlen(in), &error), ==, -1);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
		g_assert_nonnull(strstr(error->message, "no header"));
		g_clear_error(&error);
		g_assert_null(message_parse(in, strlen(in), &error));
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
		g_clear_error(&error);
		m = message_parse_stored(in, strlen(in), &error);
		g_assert_no_error(error);
		assert_reads_back(m);
	}
}

/* F5 of docs/fuzzing.md: a post whose only header is "Approved:" loses
 * it in the pipeline; what herald writes of it (a blank line, the body,
 * or nothing after it) reads back.  Nothing at all is no message. */
static void
test_roundtrip_post_without_headers_left_reads_back(void)
{
	static const char *const inputs[] = {
		"Approved: secret\n\nbody\n",
		"Approved: modsecretFrdecoom VM Thu ",	/* the fuzzer's */
	};
	GError *error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(inputs); i++) {
		GMimeMessage *m = parse(inputs[i]);

		g_assert_nonnull(m);
		message_header_remove_all(m, "Approved");
		assert_reads_back(m);
	}
	g_assert_null(message_parse_stored("", 0, &error));
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
	g_clear_error(&error);
}

/* A "From " line before real headers is still a message (GMime skips
 * it), and one with only Content-* headers too (GMime keeps them on the
 * body part). */
static void
test_roundtrip_from_line_before_headers_is_taken(void)
{
	static const char *const inputs[] = {
		"From x@y Thu Oct  1 00:00:00 2026\nSubject: s\n\nbody\n",
		"Content-Type: text/plain\n\nbody\n",
	};

	for (guint i = 0; i < G_N_ELEMENTS(inputs); i++)
		g_assert_cmpint(entry_check(inputs[i], strlen(inputs[i]), NULL),
				==, 0);
}

/* F4 of docs/fuzzing.md: GMime keeps ":Sender: x" after the first header
 * as a header named "", which became the first line once the headers
 * before it were removed.  It is dropped at parse. */
static void
test_roundtrip_nameless_header_is_dropped(void)
{
	GMimeMessage *m = parse("From: a@example.org\n:Sender: x\nSubject: s\n"
				"\nbody\n");
	GMimeHeaderList *hl;
	GByteArray *out;

	g_assert_nonnull(m);
	hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	g_assert_cmpint(g_mime_header_list_get_count(hl), ==, 2);
	message_header_remove_all(m, "From");
	out = message_to_bytes(m);
	g_assert_cmpint(out->data[0], !=, ':');
	g_assert_cmpint(message_check_round_trip((const char *)out->data,
						 out->len, TRUE, NULL), ==, 0);
	g_byte_array_unref(out);
	g_object_unref(m);
}

/* What GMime changes on each write is not a change of the message: CRLF
 * made LF, a CR taken off "\r\r\n" (a real bounce, sisimai's
 * lhost-dragonfly-01.eml, holds them), a final newline added, a blank line
 * before a boundary, an empty attached message dropped. */
static void
test_roundtrip_harmless_rewrites_are_the_same_message(void)
{
	static const char *const inputs[] = {
		"From: a@example.org\r\nSubject: crlf\r\n\r\nline one\r\nline two\r\n",
		"From: a@example.org\nSubject: no final newline",
		"From: a@example.org\r\nSubject: cr cr lf\r\n\r\n550-5.7.26 "
		"not accepted\r\r\n550 5.7.26 policy\r\r\n",
		"From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n"
		"--b\nContent-Type: text/plain\n\nno blank line before the "
		"boundary\n--b--\n",
		"From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n"
		"--b\nContent-Type: message/rfc822\n\n--b--\n",
		"From: a@example.org\nContent-Type: multipart/mixed; boundary=never\n\n"
		"--other\n\ntext\n",
	};

	for (guint i = 0; i < G_N_ELEMENTS(inputs); i++) {
		GError *error = NULL;
		int r = message_check_round_trip(inputs[i], strlen(inputs[i]),
						 TRUE, &error);

		g_assert_no_error(error);
		g_assert_cmpint(r, ==, 0);
	}
}

/* message_same tells a real change, and says where. */
static void
test_roundtrip_same_tells_changes(void)
{
	const char *base = "From: a@example.org\nContent-Type: multipart/mixed; "
			   "boundary=b\n\n--b\nContent-Type: text/plain\n\none\n"
			   "--b\nContent-Type: text/plain\n\ntwo\n--b--\n";
	const char *other_text = "From: a@example.org\nContent-Type: multipart/"
				 "mixed; boundary=b\n\n--b\nContent-Type: text/"
				 "plain\n\none\n--b\nContent-Type: text/plain\n\n"
				 "TWO\n--b--\n";
	const char *other_header = "From: b@example.org\nContent-Type: multipart/"
				   "mixed; boundary=b\n\n--b\nContent-Type: "
				   "text/plain\n\none\n--b\nContent-Type: text/"
				   "plain\n\ntwo\n--b--\n";
	GMimeMessage *a = parse(base), *b = parse(other_text);
	GMimeMessage *c = parse(other_header), *d = parse(base);
	char *why = NULL;

	g_assert_true(message_same(a, d, &why));
	g_assert_null(why);
	g_assert_false(message_same(a, b, &why));
	g_assert_cmpstr(why, ==, "part 2 has other content");
	g_free(why);
	g_assert_false(message_same(a, c, &why));
	g_assert_cmpstr(why, ==, "the message has header 1 (From) changed");
	g_free(why);
	g_object_unref(a);
	g_object_unref(b);
	g_object_unref(c);
	g_object_unref(d);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/roundtrip/no-header-refused-at-entry-read-back-inside",
			test_roundtrip_no_header_refused_at_entry_read_back_inside);
	g_test_add_func("/roundtrip/post-without-headers-left-reads-back",
			test_roundtrip_post_without_headers_left_reads_back);
	g_test_add_func("/roundtrip/from-line-before-headers-is-taken",
			test_roundtrip_from_line_before_headers_is_taken);
	g_test_add_func("/roundtrip/nameless-header-is-dropped",
			test_roundtrip_nameless_header_is_dropped);
	g_test_add_func("/roundtrip/harmless-rewrites-are-the-same-message",
			test_roundtrip_harmless_rewrites_are_the_same_message);
	g_test_add_func("/roundtrip/same-tells-changes",
			test_roundtrip_same_tells_changes);
	return g_test_run();
}
