/*
 * test-mimedel.c - unit tests for mimefilter.c and the mimedel handler
 * (pipe_mimedel.c): each content filter setting on built messages and on
 * real ones from the MIME corpus (tests/data/mime), collapsing
 * alternatives, HTML made plain text, multiparts recast or removed, the
 * rule that signed and encrypted parts are kept or removed whole, attached
 * messages, nesting 10,000 deep; and the handler's filter_action: discard,
 * reject, forward to the owners, preserve, each leaving the post as it
 * came, and failing (to be retried) when the notice or the file cannot be
 * written.
 *
 * Each test runs in a child process of its own; the handler's tests each
 * with a fresh var dir and a list demo@example.org.
 */
#include "base/base.h"
#include "list/list.h"
#include "mail/message.h"
#include "mail/mimefilter.h"
#include "pipeline/pipeline.h"
#include "store/queue.h"
#include "store/site.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static const char *data_dir;	/* tests/data */

/* --- messages ------------------------------------------------------------ */

#define HEAD "From: Poster <poster@example.net>\n" \
	     "To: demo@example.org\n" \
	     "Subject: test\n" \
	     "Message-ID: <m1@example.net>\n" \
	     "MIME-Version: 1.0\n"

static const char alt_msg[] = HEAD
	"Content-Type: multipart/alternative; boundary=\"alt\"\n\n"
	"--alt\nContent-Type: text/plain; charset=us-ascii\n\nplain version\n"
	"--alt\nContent-Type: text/html; charset=utf-8\n\n"
	"<p>html <b>version</b></p>\n"
	"--alt--\n";

static const char mixed_msg[] = HEAD
	"Content-Type: multipart/mixed; boundary=\"mix\"\n\n"
	"--mix\nContent-Type: text/plain\n\nHello\n"
	"--mix\nContent-Type: image/png; name=\"logo.png\"\n"
	"Content-Disposition: attachment; filename=\"logo.png\"\n"
	"Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
	"--mix\nContent-Type: application/x-msdownload\n"
	"Content-Disposition: attachment; filename=\"SETUP.EXE\"\n"
	"Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n"
	"--mix\nContent-Type: application/pdf; name=\"minutes.pdf\"\n"
	"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n"
	"--mix\nContent-Type: application/octet-stream; name=\"notes\"\n\nraw\n"
	"--mix--\n";

static const char html_msg[] = HEAD
	"Content-Type: text/html; charset=iso-8859-1\n"
	"Content-Transfer-Encoding: quoted-printable\n\n"
	"<html><body><p>Caf=E9 <a href=3D\"https://example.org/m\">menu</a></p>"
	"<ul><li>one<li>two</ul></body></html>\n";

static const char signed_msg[] = HEAD
	"Content-Type: multipart/signed; micalg=pgp-sha256;\n"
	" protocol=\"application/pgp-signature\"; boundary=\"sig\"\n\n"
	"--sig\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n"
	"--alt\nContent-Type: text/plain\n\nsigned plain\n"
	"--alt\nContent-Type: text/html\n\n<p>signed html</p>\n"
	"--alt--\n\n"
	"--sig\nContent-Type: application/pgp-signature; name=\"signature.asc\"\n\n"
	"-----BEGIN PGP SIGNATURE-----\nAAAA\n-----END PGP SIGNATURE-----\n"
	"--sig--\n";

static const char signed_exe_msg[] = HEAD
	"Content-Type: multipart/mixed; boundary=\"out\"\n\n"
	"--out\nContent-Type: text/plain\n\nunsigned intro\n"
	"--out\nContent-Type: multipart/signed; protocol=\"application/pgp-signature\";\n"
	" micalg=pgp-sha256; boundary=\"sig\"\n\n"
	"--sig\nContent-Type: multipart/mixed; boundary=\"in\"\n\n"
	"--in\nContent-Type: text/plain\n\nsigned text\n"
	"--in\nContent-Type: application/octet-stream; name=\"tool.exe\"\n\nMZ\n"
	"--in--\n\n"
	"--sig\nContent-Type: application/pgp-signature\n\nSIG\n"
	"--sig--\n\n"
	"--out--\n";

static const char rfc822_msg[] = HEAD
	"Content-Type: multipart/mixed; boundary=\"out\"\n\n"
	"--out\nContent-Type: text/plain\n\nSee the forwarded message.\n"
	"--out\nContent-Type: message/rfc822\n\n"
	"From: other@example.com\nSubject: inner\nMIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"in\"\n\n"
	"--in\nContent-Type: text/plain\n\ninner text\n"
	"--in\nContent-Type: image/gif; name=\"x.gif\"\n\nGIF89a\n"
	"--in--\n\n"
	"--out--\n";

static GMimeMessage *
parse_fixture(const char *name)
{
	char *path = g_build_filename(data_dir, "mime", "nodemailer-mailparser",
				      name, NULL);
	char *data;
	gsize len;
	GMimeMessage *m;

	g_assert_true(g_file_get_contents(path, &data, &len, NULL));
	m = message_parse(data, len, NULL);
	g_assert_nonnull(m);
	g_free(data);
	g_free(path);
	return m;
}

static char *
to_string(GMimeObject *obj)
{
	GMimeStream *s = g_mime_stream_mem_new();
	GByteArray *b;
	char *out;

	g_mime_object_write_to_stream(obj, NULL, s);
	b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	out = g_strndup((const char *)b->data, b->len);
	g_object_unref(s);
	return out;
}

/* The tree of types, e.g. "multipart/mixed[text/plain,image/png]" (the
 * test messages are shallow: recursion is fine here). */
static void
shape_of(GMimeObject *obj, GString *out)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char *type = g_mime_content_type_get_mime_type(ct);

	g_string_append(out, type);
	g_free(type);
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);

		g_string_append_c(out, '[');
		for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
			if (i > 0)
				g_string_append_c(out, ',');
			shape_of(g_mime_multipart_get_part(mp, i), out);
		}
		g_string_append_c(out, ']');
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		g_string_append_c(out, '{');
		if (m != NULL && g_mime_message_get_mime_part(m) != NULL)
			shape_of(g_mime_message_get_mime_part(m), out);
		g_string_append_c(out, '}');
	}
}

static void
assert_shape(GMimeMessage *m, const char *want)
{
	GString *s = g_string_new(NULL);

	shape_of(g_mime_message_get_mime_part(m), s);
	g_assert_cmpstr(s->str, ==, want);
	g_string_free(s, TRUE);
}

/* The decoded content of a leaf part. */
static char *
content_of(GMimeObject *obj)
{
	GMimeStream *s = g_mime_stream_mem_new();
	GByteArray *b;
	char *out;

	g_assert_true(GMIME_IS_PART(obj));
	g_mime_data_wrapper_write_to_stream(g_mime_part_get_content(GMIME_PART(obj)), s);
	b = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	out = g_strndup((const char *)b->data, b->len);
	g_object_unref(s);
	return out;
}

static GMimeObject *
part_at(GMimeMessage *m, int i)
{
	GMimeObject *body = g_mime_message_get_mime_part(m);

	g_assert_true(GMIME_IS_MULTIPART(body));
	return g_mime_multipart_get_part(GMIME_MULTIPART(body), i);
}

static const char *const no_rules[] = { NULL };

/* Nothing on: every test turns on what it tests. */
static struct mimefilter_settings
settings_none(void)
{
	struct mimefilter_settings s = {
		.filter_mime_types = no_rules,
		.pass_mime_types = no_rules,
		.filter_filename_extensions = no_rules,
		.pass_filename_extensions = no_rules,
	};
	return s;
}

/* The list defaults (list_settings.c). */
static const char *const dflt_pass[] = { "multipart", "message/rfc822",
					 "application/pgp-signature",
					 "text/plain", NULL };
static const char *const dflt_exts[] = { "exe", "bat", "cmd", "com", "pif",
					 "scr", "vbs", "cpl", NULL };

static struct mimefilter_settings
settings_default(void)
{
	struct mimefilter_settings s = settings_none();

	s.pass_mime_types = dflt_pass;
	s.filter_filename_extensions = dflt_exts;
	s.collapse_alternatives = TRUE;
	s.convert_html_to_plaintext = TRUE;
	return s;
}

/* text parsed and filtered with s; *r gets what was done (clear it with
 * mimefilter_result_clear). */
static GMimeMessage *
filtered(const char *text, const struct mimefilter_settings *s,
	 struct mimefilter_result *r)
{
	GMimeMessage *m = parse_ok(text);

	mimefilter_apply(m, s, r);
	return m;
}

static void
assert_removed(const struct mimefilter_result *r, guint i, const char *want)
{
	g_assert_cmpuint(r->removed->len, >, i);
	g_assert_cmpstr(r->removed->pdata[i], ==, want);
}

static void
assert_filtered_header(GMimeMessage *m, gboolean want)
{
	if (want)
		g_assert_cmpstr(message_header(m, "X-Content-Filtered-By"), ==, "herald");
	else
		g_assert_null(message_header(m, "X-Content-Filtered-By"));
}

/* --- the type and extension rules ---------------------------------------- */

static void
test_filter_mime_types_removes_by_type_or_bare_type(void)
{
	static const char *const types[] = { "image/png", " APPLICATION ", NULL };
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;

	s.filter_mime_types = types;
	m = filtered(mixed_msg, &s, &r);
	assert_shape(m, "text/plain");	/* one part left: recast */
	g_assert_true(r.changed);
	g_assert_false(r.empty);
	g_assert_null(r.top_removed);
	g_assert_cmpuint(r.n_removed, ==, 4);
	assert_removed(&r, 0, "image/png \"logo.png\": listed in filter_mime_types");
	assert_removed(&r, 1, "application/x-msdownload \"SETUP.EXE\": listed in "
		       "filter_mime_types");
	assert_filtered_header(m, TRUE);
	/* the message's own headers stay */
	g_assert_cmpstr(message_header(m, "Subject"), ==, "test");
	mimefilter_result_clear(&r);
	g_object_unref(m);

	/* "image/" and a star: the glob form of a bare type */
	{
		static const char *const glob[] = { "image/*", NULL };

		s.filter_mime_types = glob;
	}
	m = filtered(mixed_msg, &s, &r);
	assert_shape(m, "multipart/mixed[text/plain,application/x-msdownload,"
		     "application/pdf,application/octet-stream]");
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_pass_mime_types_keeps_only_listed_but_containers_pass(void)
{
	static const char *const pass[] = { "text/plain", "application/pdf", NULL };
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;

	s.pass_mime_types = pass;
	m = filtered(mixed_msg, &s, &r);
	/* multipart/mixed is not listed, and stays */
	assert_shape(m, "multipart/mixed[text/plain,application/pdf]");
	g_assert_cmpuint(r.n_removed, ==, 3);
	assert_removed(&r, 0, "image/png \"logo.png\": not in pass_mime_types");
	mimefilter_result_clear(&r);
	g_object_unref(m);

	/* attached messages pass too, and their parts are filtered */
	m = filtered(rfc822_msg, &s, &r);
	assert_shape(m, "multipart/mixed[text/plain,message/rfc822{text/plain}]");
	assert_removed(&r, 0, "image/gif \"x.gif\": not in pass_mime_types");
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_filter_filename_extensions_any_case_from_either_header(void)
{
	static const char *const exts[] = { "exe", ".PDF", NULL };
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;

	s.filter_filename_extensions = exts;
	m = filtered(mixed_msg, &s, &r);
	/* SETUP.EXE by Content-Disposition, minutes.pdf by Content-Type name */
	assert_shape(m, "multipart/mixed[text/plain,image/png,application/octet-stream]");
	assert_removed(&r, 0, "application/x-msdownload \"SETUP.EXE\": extension "
		       ".exe listed in filter_filename_extensions");
	assert_removed(&r, 1, "application/pdf \"minutes.pdf\": extension .pdf "
		       "listed in filter_filename_extensions");
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_file_extension_is_what_windows_would_run(void)
{
	char *e;

	e = mimefilter_file_extension("Report.Final.DOCX");
	g_assert_cmpstr(e, ==, "docx");
	g_free(e);
	e = mimefilter_file_extension("virus.exe. . ");	/* Windows drops these */
	g_assert_cmpstr(e, ==, "exe");
	g_free(e);
	e = mimefilter_file_extension("C:\\Users\\x\\run.bat");
	g_assert_cmpstr(e, ==, "bat");
	g_free(e);
	e = mimefilter_file_extension("dir.d/README");
	g_assert_null(e);
	e = mimefilter_file_extension("noext");
	g_assert_null(e);
	e = mimefilter_file_extension(NULL);
	g_assert_null(e);
}

static void
test_pass_filename_extensions_keeps_listed_and_unnamed(void)
{
	static const char *const exts[] = { "pdf", NULL };
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;

	s.pass_filename_extensions = exts;
	m = filtered(mixed_msg, &s, &r);
	/* text/plain has no file name; "notes" has no extension: both stay */
	assert_shape(m, "multipart/mixed[text/plain,application/pdf,"
		     "application/octet-stream]");
	assert_removed(&r, 0, "image/png \"logo.png\": extension .png not in "
		       "pass_filename_extensions");
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

/* --- collapsing, converting, recasting ----------------------------------- */

static void
test_collapse_alternatives_keeps_the_first_remaining(void)
{
	static const char *const no_plain[] = { "text/plain", NULL };
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;
	char *text;

	s.collapse_alternatives = TRUE;
	m = filtered(alt_msg, &s, &r);
	assert_shape(m, "text/plain");
	text = content_of(g_mime_message_get_mime_part(m));
	g_assert_cmpstr(text, ==, "plain version");
	g_free(text);
	g_assert_cmpuint(r.n_collapsed, ==, 1);
	g_assert_cmpuint(r.n_removed, ==, 0);
	assert_filtered_header(m, TRUE);
	mimefilter_result_clear(&r);
	g_object_unref(m);

	/* the first after filtering: text/plain gone, the HTML is first */
	s.filter_mime_types = no_plain;
	s.convert_html_to_plaintext = TRUE;
	m = filtered(alt_msg, &s, &r);
	assert_shape(m, "text/plain");
	text = content_of(g_mime_message_get_mime_part(m));
	g_assert_cmpstr(text, ==, "html version\n");
	g_free(text);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_without_collapse_html_alternative_is_converted_in_place(void)
{
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;
	GMimeObject *html;
	char *text;

	s.convert_html_to_plaintext = TRUE;
	m = filtered(alt_msg, &s, &r);
	assert_shape(m, "multipart/alternative[text/plain,text/plain]");
	html = part_at(m, 1);
	text = content_of(html);
	g_assert_cmpstr(text, ==, "html version\n");
	g_free(text);
	g_assert_cmpstr(g_mime_object_get_content_type_parameter(html, "charset"), ==,
			"utf-8");
	g_assert_cmpuint(r.n_converted, ==, 1);
	g_assert_cmpuint(r.n_collapsed, ==, 0);
	mimefilter_result_clear(&r);
	g_object_unref(m);

	/* neither on: nothing changes, no header */
	s.convert_html_to_plaintext = FALSE;
	m = filtered(alt_msg, &s, &r);
	assert_shape(m, "multipart/alternative[text/plain,text/html]");
	g_assert_false(r.changed);
	assert_filtered_header(m, FALSE);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_html_becomes_utf8_plain_text_by_html2text(void)
{
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;
	GMimeObject *body;
	char *text, *raw;

	s.convert_html_to_plaintext = TRUE;
	m = filtered(html_msg, &s, &r);
	body = g_mime_message_get_mime_part(m);
	assert_shape(m, "text/plain");
	g_assert_cmpstr(g_mime_object_get_content_type_parameter(body, "charset"), ==,
			"utf-8");
	/* ISO-8859-1 in, UTF-8 out, html2text's layout */
	text = content_of(body);
	g_assert_cmpstr(text, ==, "Café menu <https://example.org/m>\n\n* one\n* two\n");
	g_free(text);
	/* not ASCII: quoted-printable; and it reads back */
	g_assert_cmpint(g_mime_part_get_content_encoding(GMIME_PART(body)), ==,
			GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	raw = to_string(GMIME_OBJECT(m));
	g_assert_nonnull(strstr(raw, "Caf=C3=A9"));
	g_free(raw);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_html_attachment_keeps_disposition_renamed_txt(void)
{
	static const char msg[] = HEAD
		"Content-Type: multipart/mixed; boundary=\"b\"\n\n"
		"--b\nContent-Type: text/plain\n\nsee attached\n"
		"--b\nContent-Type: text/html; name=\"page.HTML\"\n"
		"Content-Disposition: attachment; filename=\"page.HTML\"\n"
		"Content-Description: the page\n\n<h1>Page</h1>\n"
		"--b--\n";
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;
	GMimeObject *part;
	char *text;

	s.convert_html_to_plaintext = TRUE;
	m = filtered(msg, &s, &r);
	part = part_at(m, 1);
	g_assert_cmpstr(g_mime_object_get_content_disposition_parameter(part, "filename"),
			==, "page.txt");
	g_assert_cmpstr(g_mime_object_get_content_type_parameter(part, "name"), ==,
			"page.txt");
	g_assert_cmpstr(g_mime_object_get_header(part, "Content-Description"), ==,
			"the page");
	text = content_of(part);
	g_assert_cmpstr(text, ==, "Page\n");
	g_free(text);
	/* ASCII only: 7bit */
	g_assert_cmpint(g_mime_part_get_content_encoding(GMIME_PART(part)), ==,
			GMIME_CONTENT_ENCODING_7BIT);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_empty_multipart_is_removed_and_single_part_recast(void)
{
	static const char msg[] = HEAD
		"Content-Type: multipart/mixed; boundary=\"o\"\n\n"
		"--o\nContent-Type: multipart/related; boundary=\"r\"\n\n"
		"--r\nContent-Type: image/png\n\nPNG\n"
		"--r\nContent-Type: image/gif\n\nGIF\n"
		"--r--\n\n"
		"--o\nContent-Type: multipart/mixed; boundary=\"i\"\n\n"
		"--i\nContent-Type: text/plain\n\nkept\n"
		"--i--\n\n"
		"--o--\n";
	static const char *const images[] = { "image", NULL };
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;
	char *text;

	s.filter_mime_types = images;
	m = filtered(msg, &s, &r);
	/* related lost both parts and went; the inner mixed and then the
	 * outer one were left with one part each */
	assert_shape(m, "text/plain");
	text = content_of(g_mime_message_get_mime_part(m));
	g_assert_cmpstr(text, ==, "kept");
	g_free(text);
	g_assert_false(r.empty);
	g_assert_cmpuint(r.n_removed, ==, 2);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_removing_every_part_leaves_the_message_empty(void)
{
	static const char *const all[] = { "text", "image", "application", NULL };
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;

	s.filter_mime_types = all;
	m = filtered(mixed_msg, &s, &r);
	g_assert_true(r.empty);
	g_assert_true(r.changed);
	g_assert_null(r.top_removed);	/* emptied, not removed itself */
	g_assert_cmpuint(r.n_removed, ==, 5);
	g_assert_cmpuint(r.removed->len, ==, 5);
	assert_shape(m, "text/plain");	/* an empty body in its place */
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_top_level_type_filtered_by_default_pass_list(void)
{
	struct mimefilter_settings s = settings_default();
	struct mimefilter_result r;
	GMimeMessage *m;

	/* as in Mailman 2.1: text/html is not in the default pass list, and
	 * an HTML-only post is filtered whole before any conversion */
	m = filtered(html_msg, &s, &r);
	g_assert_true(r.empty);
	g_assert_cmpstr(r.top_removed, ==, "text/html: not in pass_mime_types");
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_unchanged_message_is_left_byte_for_byte(void)
{
	struct mimefilter_settings s = settings_default();
	struct mimefilter_result r;
	GMimeMessage *m = parse_ok(HEAD "Content-Type: text/plain\n\nJust text.\n");
	char *before = to_string(GMIME_OBJECT(m)), *after;

	mimefilter_apply(m, &s, &r);
	after = to_string(GMIME_OBJECT(m));
	g_assert_false(r.changed);
	g_assert_false(r.empty);
	g_assert_cmpstr(after, ==, before);
	g_free(before);
	g_free(after);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

/* --- signed and encrypted ------------------------------------------------ */

static void
test_signed_part_is_kept_whole_and_unchanged(void)
{
	static const char *const pass[] = { "text/plain", NULL };
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m = parse_ok(signed_msg);
	char *before = to_string(g_mime_message_get_mime_part(m)), *after;

	/* every rule that would change its inside is on: the pass list
	 * does not name the HTML or the signature */
	s.pass_mime_types = pass;
	s.collapse_alternatives = TRUE;
	s.convert_html_to_plaintext = TRUE;
	mimefilter_apply(m, &s, &r);
	after = to_string(g_mime_message_get_mime_part(m));
	g_assert_cmpstr(after, ==, before);	/* the signature still verifies */
	g_assert_false(r.changed);
	assert_shape(m, "multipart/signed[multipart/alternative[text/plain,text/html],"
		     "application/pgp-signature]");
	g_free(before);
	g_free(after);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_signed_part_holding_a_filtered_part_is_removed_whole(void)
{
	struct mimefilter_settings s = settings_default();
	struct mimefilter_result r;
	GMimeMessage *m;
	char *text;

	/* tool.exe is in filter_filename_extensions: signing it is no way
	 * around the rule */
	m = filtered(signed_exe_msg, &s, &r);
	assert_shape(m, "text/plain");
	text = content_of(g_mime_message_get_mime_part(m));
	g_assert_cmpstr(text, ==, "unsigned intro");
	g_free(text);
	assert_removed(&r, 0, "multipart/signed: holds application/octet-stream "
		       "\"tool.exe\": extension .exe listed in filter_filename_extensions "
		       "(a signed or encrypted part is removed whole)");
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_signed_part_listed_in_filter_mime_types_is_removed(void)
{
	static const char *const types[] = { "multipart/signed", NULL };
	static const char msg[] = HEAD
		"Content-Type: multipart/mixed; boundary=\"o\"\n\n"
		"--o\nContent-Type: text/plain\n\nintro\n"
		"--o\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";"
		" boundary=\"e\"\n\n"
		"--e\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n"
		"--e\nContent-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\n"
		"--e--\n\n"
		"--o--\n";
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;

	s.filter_mime_types = types;
	m = filtered(signed_msg, &s, &r);
	g_assert_true(r.empty);
	g_assert_cmpstr(r.top_removed, ==, "multipart/signed: listed in filter_mime_types");
	mimefilter_result_clear(&r);
	g_object_unref(m);

	/* encrypted is kept whole the same way: nothing inside is judged by
	 * the pass list */
	s = settings_default();
	m = filtered(msg, &s, &r);
	assert_shape(m, "multipart/mixed[text/plain,multipart/encrypted["
		     "application/pgp-encrypted,application/octet-stream]]");
	g_assert_false(r.changed);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

/* --- attached messages and depth ------------------------------------------- */

static void
test_attached_message_emptied_is_removed(void)
{
	static const char *const types[] = { "text", "image/gif", NULL };
	static const char *const only_gif[] = { "image/gif", NULL };
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m;
	GMimeMessage *inner;

	/* inside: the gif goes and the inner multipart is recast, under the
	 * attached message's own headers */
	s.filter_mime_types = only_gif;
	m = filtered(rfc822_msg, &s, &r);
	assert_shape(m, "multipart/mixed[text/plain,message/rfc822{text/plain}]");
	inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part_at(m, 1)));
	g_assert_cmpstr(message_header(inner, "Subject"), ==, "inner");
	mimefilter_result_clear(&r);
	g_object_unref(m);

	/* all its parts go: so does the attached message */
	s.filter_mime_types = types;
	m = filtered(rfc822_msg, &s, &r);
	g_assert_true(r.empty);
	g_assert_cmpuint(r.n_removed, ==, 3);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

/* A chain of depth multipart/mixed, each holding the next and, at the
 * top, a text/plain beside it. */
static char *
nested_message(int depth)
{
	GString *s = g_string_new(HEAD "Content-Type: multipart/mixed; boundary=\"b0\"\n\n"
				  "--b0\nContent-Type: text/plain\n\ntop text\n");

	for (int i = 0; i < depth; i++)
		g_string_append_printf(s, "--b%d\nContent-Type: multipart/mixed; "
				       "boundary=\"b%d\"\n\n", i, i + 1);
	g_string_append_printf(s, "--b%d\nContent-Type: text/plain\n\nbottom\n", depth);
	for (int i = depth; i >= 0; i--)
		g_string_append_printf(s, "--b%d--\n", i);
	return g_string_free(s, FALSE);
}

static void
test_nesting_within_the_limit_is_recast_down_to_its_leaf(void)
{
	char *text = nested_message(MIMEFILTER_MAX_DEPTH - 1);
	struct mimefilter_settings s = settings_default();
	struct mimefilter_result r;
	GMimeMessage *m;

	m = filtered(text, &s, &r);
	/* each level had one part: all recast, the bottom text kept */
	assert_shape(m, "multipart/mixed[text/plain,text/plain]");
	g_assert_cmpuint(r.n_removed, ==, 0);
	g_free(text);
	text = content_of(part_at(m, 1));
	g_assert_cmpstr(text, ==, "bottom");
	g_free(text);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_ten_thousand_levels_are_cut_at_the_limit(void)
{
	char *text = nested_message(10000);
	struct mimefilter_settings s = settings_default();
	struct mimefilter_result r;
	GMimeMessage *m = parse_ok(text);
	gint64 start = g_get_monotonic_time();
	char *top;

	mimefilter_apply(m, &s, &r);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
	/* the chain went past the limit and was removed; the text beside it
	 * at the top stays */
	assert_shape(m, "text/plain");
	top = content_of(g_mime_message_get_mime_part(m));
	g_assert_cmpstr(top, ==, "top text");
	g_free(top);
	g_assert_cmpuint(r.n_removed, ==, 1);
	g_assert_nonnull(strstr(r.removed->pdata[0], "nested deeper than"));
	g_free(text);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

/* --- real messages from the corpus ------------------------------------------ */

static void
test_corpus_nested_alternatives_with_defaults(void)
{
	struct mimefilter_settings s = settings_default();
	struct mimefilter_result r;
	GMimeMessage *m = parse_fixture("nested.eml");
	char *a, *b;

	/* mixed[related[alternative[plain,html]],alternative[plain,html]] */
	mimefilter_apply(m, &s, &r);
	assert_shape(m, "multipart/mixed[text/plain,text/plain]");
	a = content_of(part_at(m, 0));
	b = content_of(part_at(m, 1));
	g_assert_nonnull(strstr(a, "Dear Sir"));
	g_assert_nonnull(strstr(b, "The footer"));
	g_free(a);
	g_free(b);
	g_assert_false(r.empty);
	assert_filtered_header(m, TRUE);
	mimefilter_result_clear(&r);
	g_object_unref(m);

	m = parse_fixture("mixed.eml");
	mimefilter_apply(m, &s, &r);
	assert_shape(m, "multipart/mixed[text/plain,text/plain]");
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_corpus_nodemailer_images_and_alternatives(void)
{
	struct mimefilter_settings s = settings_default();
	struct mimefilter_result r;
	GMimeMessage *m = parse_fixture("nodemailer.eml");
	char *text;

	/* defaults: watch-html, html and the images are not in the pass
	 * list; the related part empties, the alternative has only its
	 * text/plain left; notes.txt is text/plain and stays */
	mimefilter_apply(m, &s, &r);
	assert_shape(m, "multipart/mixed[text/plain,text/plain]");
	g_assert_cmpstr(g_mime_part_get_filename(GMIME_PART(part_at(m, 1))), ==,
			"notes.txt");
	/* the gif's RFC 2047-encoded name is decoded for the report */
	g_assert_cmpuint(r.n_removed, ==, 4);
	g_assert_cmpstr(r.removed->pdata[3], ==, "image/gif \"nyan cat ✔.gif\": "
			"not in pass_mime_types");
	mimefilter_result_clear(&r);
	g_object_unref(m);

	/* everything passes, no collapse: the HTML in the related part is
	 * converted where it is */
	m = parse_fixture("nodemailer.eml");
	s = settings_none();
	s.convert_html_to_plaintext = TRUE;
	mimefilter_apply(m, &s, &r);
	assert_shape(m, "multipart/mixed[multipart/alternative[text/plain,"
		     "text/watch-html,multipart/related[text/plain,image/png,"
		     "image/gif]],text/plain]");
	text = content_of(g_mime_multipart_get_part(GMIME_MULTIPART(
		g_mime_multipart_get_part(GMIME_MULTIPART(part_at(m, 0)), 2)), 0));
	g_assert_true(g_utf8_validate(text, -1, NULL));
	g_assert_null(strstr(text, "<"));
	g_free(text);
	g_assert_cmpuint(r.n_converted, ==, 1);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_corpus_latin1_html_and_empty_attached_message(void)
{
	static const char *const pass[] = { "text", "message", NULL };
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m = parse_fixture("decoderended.eml");
	char *text;

	s.pass_mime_types = pass;
	s.convert_html_to_plaintext = TRUE;
	mimefilter_apply(m, &s, &r);
	assert_shape(m, "multipart/mixed[multipart/alternative[text/plain,text/plain],"
		     "message/rfc822{}]");
	/* "<span>html section\xdc</span>" in ISO-8859-1 */
	text = content_of(g_mime_multipart_get_part(GMIME_MULTIPART(part_at(m, 0)), 1));
	g_assert_cmpstr(text, ==, "html section\xc3\x9c\n");
	g_free(text);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

static void
test_corpus_parser_killer_html_is_converted_in_bounded_time(void)
{
	static const char *const pass[] = { "text", NULL };
	struct mimefilter_settings s = settings_none();
	struct mimefilter_result r;
	GMimeMessage *m = parse_fixture("htmllargecallstack.eml");
	gint64 start = g_get_monotonic_time();

	s.pass_mime_types = pass;
	s.convert_html_to_plaintext = TRUE;
	mimefilter_apply(m, &s, &r);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
	assert_shape(m, "text/plain");
	g_assert_cmpuint(r.n_converted, ==, 1);
	g_assert_false(r.empty);
	mimefilter_result_clear(&r);
	g_object_unref(m);
}

/* --- the handler ------------------------------------------------------------ */

#define FQDN "demo@example.org"
#define POSTER "poster@example.net"	/* the envelope sender */

/* A var dir and the list, filtering content with this filter_action
 * (NULL: the default, discard). */
static void
filtering_list_init(struct list_fixture *f, const char *action)
{
	list_fixture_init(f, FQDN);
	list_set_ok(f->list, "filter_content", "yes");
	if (action != NULL)
		list_set_ok(f->list, "filter_action", action);
}

/* Runs the handler on p, which returns want and no error. */
static void
mimedel_ok(struct post *p, enum pipe_result want)
{
	GError *error = NULL;

	g_assert_cmpint(pipe_mimedel(p, &error), ==, want);
	g_assert_no_error(error);
}

static char *
post_bytes(struct post *p)
{
	return to_string(GMIME_OBJECT(p->msg));
}

/* p's message is still the bytes before. */
static void
assert_post_bytes(struct post *p, const char *before)
{
	char *after = post_bytes(p);

	g_assert_cmpstr(after, ==, before);
	g_free(after);
}

static void
test_handler_does_nothing_unless_filter_content(void)
{
	struct list_fixture f;
	struct post *p;
	char *before;

	list_fixture_init(&f, FQDN);
	p = fixture_post(&f, POSTER, mixed_msg);
	before = post_bytes(p);
	mimedel_ok(p, PIPE_CONTINUE);
	assert_post_bytes(p, before);
	g_free(before);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_handler_filters_with_the_list_settings(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct post *p;

	filtering_list_init(&f, NULL);
	list_set_ok(f.list, "pass_mime_types", "");
	list_set_ok(f.list, "filter_mime_types", "image\napplication/pdf");
	p = fixture_post(&f, POSTER, mixed_msg);
	mimedel_ok(p, PIPE_CONTINUE);
	/* SETUP.EXE by the default filter_filename_extensions */
	assert_shape(p->msg, "multipart/mixed[text/plain,application/octet-stream]");
	assert_filtered_header(p->msg, TRUE);
	g_assert_null(p->reason);
	post_free(&p);

	/* collapse_alternatives and convert_html_to_plaintext are read too */
	list_set_ok(f.list, "collapse_alternatives", "no");
	p = fixture_post(&f, POSTER, alt_msg);
	g_assert_cmpint(pipe_mimedel(p, &error), ==, PIPE_CONTINUE);
	assert_shape(p->msg, "multipart/alternative[text/plain,text/plain]");
	post_free(&p);
	list_set_ok(f.list, "convert_html_to_plaintext", "no");
	p = fixture_post(&f, POSTER, alt_msg);
	g_assert_cmpint(pipe_mimedel(p, &error), ==, PIPE_CONTINUE);
	assert_shape(p->msg, "multipart/alternative[text/plain,text/html]");
	assert_filtered_header(p->msg, FALSE);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_handler_discards_an_emptied_post_as_it_came(void)
{
	struct list_fixture f;
	struct post *p;
	char *before;

	filtering_list_init(&f, NULL);	/* filter_action 0: discard */
	p = fixture_post(&f, POSTER, html_msg);
	before = post_bytes(p);
	mimedel_ok(p, PIPE_DISCARD);
	g_assert_nonnull(strstr(p->reason, "content filter"));
	g_assert_nonnull(strstr(p->reason, "text/html: not in pass_mime_types"));
	assert_post_bytes(p, before);
	g_free(before);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_handler_rejects_naming_what_was_filtered(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct post *p;

	filtering_list_init(&f, "reject");
	list_set_ok(f.list, "filter_mime_types", "text\nimage\napplication");
	p = fixture_post(&f, POSTER, mixed_msg);
	mimedel_ok(p, PIPE_REJECT);
	g_assert_cmpstr(p->reason, ==,
			"After content filtering, the message was empty (removed: "
			"text/plain: listed in filter_mime_types; image/png \"logo.png\": "
			"listed in filter_mime_types; application/x-msdownload "
			"\"SETUP.EXE\": listed in filter_mime_types; application/pdf "
			"\"minutes.pdf\": listed in filter_mime_types; "
			"application/octet-stream \"notes\": listed in filter_mime_types).");
	/* the notice quotes what the poster sent */
	assert_shape(p->msg, "multipart/mixed[text/plain,image/png,"
		     "application/x-msdownload,application/pdf,application/octet-stream]");
	post_free(&p);

	p = fixture_post(&f, POSTER, html_msg);
	g_assert_cmpint(pipe_mimedel(p, &error), ==, PIPE_REJECT);
	g_assert_cmpstr(p->reason, ==, "The message's content was not accepted by "
			"the list's content filter (text/html: listed in filter_mime_types).");
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_handler_forwards_the_original_to_the_owners(void)
{
	struct list_fixture f;
	struct post *p;
	GPtrArray *notices;
	const char *n;

	filtering_list_init(&f, "forward_to_owner");
	p = fixture_post(&f, POSTER, html_msg);
	mimedel_ok(p, PIPE_DISCARD);
	g_assert_nonnull(strstr(p->reason, "forwarded to the owners"));
	notices = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(notices->len, ==, 1);
	n = ((struct queue_item *)notices->pdata[0])->msg;
	g_assert_nonnull(strstr(n, "Content filtered message notification"));
	g_assert_nonnull(strstr(n, FIXTURE_OWNER));
	g_assert_nonnull(strstr(n, "text/html: not in pass_mime_types"));
	/* the post as it came rides along, HTML and all */
	g_assert_nonnull(strstr(n, "message/rfc822"));
	g_assert_nonnull(strstr(n, "Message-ID: <m1@example.net>"));
	g_assert_nonnull(strstr(n, "<html><body><p>Caf=E9"));
	g_ptr_array_unref(notices);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_handler_preserves_the_original_in_a_file(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct post *p;
	char *dir, *path, *data, *before;
	GPtrArray *names;
	gsize len;

	filtering_list_init(&f, "3");
	p = fixture_post(&f, POSTER, html_msg);
	before = post_bytes(p);
	mimedel_ok(p, PIPE_DISCARD);
	dir = g_build_filename(list_dir(f.list), "preserved", NULL);
	names = fs_dir_names(dir, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(names->len, ==, 1);	/* no temporary left */
	g_assert_true(g_str_has_suffix(names->pdata[0], ".eml"));
	g_assert_true(g_regex_match_simple("^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{16}\\.eml$",
					   names->pdata[0], 0, 0));
	g_assert_nonnull(strstr(p->reason, names->pdata[0]));
	path = g_build_filename(dir, names->pdata[0], NULL);
	g_assert_true(g_file_get_contents(path, &data, &len, NULL));
	g_assert_cmpstr(data, ==, before);
	g_free(data);
	g_free(path);
	g_ptr_array_unref(names);
	g_free(dir);
	g_free(before);
	post_free(&p);
	list_fixture_clear(&f);
}

/* Something in the way of the file (or the queue): the handler fails, so
 * the post is shunted and retried, and it is put back as it came. */
static void
test_handler_fails_retryably_when_it_cannot_keep_the_original(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct post *p;
	char *blocker, *before;

	filtering_list_init(&f, "preserve");
	blocker = g_build_filename(list_dir(f.list), "preserved", NULL);
	g_assert_true(g_file_set_contents(blocker, "not a directory", -1, NULL));
	p = fixture_post(&f, POSTER, html_msg);
	before = post_bytes(p);
	g_assert_cmpint(pipe_mimedel(p, &error), ==, PIPE_ERROR);
	g_assert_nonnull(error);
	g_test_message("%s", error->message);
	g_clear_error(&error);
	assert_post_bytes(p, before);
	post_free(&p);
	g_free(blocker);

	/* the same for the notice: the virgin queue cannot be opened */
	list_set_ok(f.list, "filter_action", "forward_to_owner");
	fixture_break_queue(&f, "virgin");
	p = fixture_post(&f, POSTER, html_msg);
	g_assert_cmpint(pipe_mimedel(p, &error), ==, PIPE_ERROR);
	g_assert_nonnull(error);
	g_clear_error(&error);
	assert_post_bytes(p, before);
	post_free(&p);
	g_free(before);
	list_fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/mimefilter/rules/filter-mime-types-type-or-bare-type",
	  test_filter_mime_types_removes_by_type_or_bare_type },
	{ "/mimefilter/rules/pass-mime-types-only-listed-containers-pass",
	  test_pass_mime_types_keeps_only_listed_but_containers_pass },
	{ "/mimefilter/rules/filter-extensions-any-case-either-header",
	  test_filter_filename_extensions_any_case_from_either_header },
	{ "/mimefilter/rules/file-extension-as-windows-runs-it",
	  test_file_extension_is_what_windows_would_run },
	{ "/mimefilter/rules/pass-extensions-listed-and-unnamed-kept",
	  test_pass_filename_extensions_keeps_listed_and_unnamed },
	{ "/mimefilter/collapse/first-remaining-alternative",
	  test_collapse_alternatives_keeps_the_first_remaining },
	{ "/mimefilter/convert/without-collapse-html-converted-in-place",
	  test_without_collapse_html_alternative_is_converted_in_place },
	{ "/mimefilter/convert/html-becomes-utf8-plain-text",
	  test_html_becomes_utf8_plain_text_by_html2text },
	{ "/mimefilter/convert/attachment-keeps-disposition-renamed-txt",
	  test_html_attachment_keeps_disposition_renamed_txt },
	{ "/mimefilter/structure/empty-multipart-removed-single-recast",
	  test_empty_multipart_is_removed_and_single_part_recast },
	{ "/mimefilter/structure/all-removed-message-empty",
	  test_removing_every_part_leaves_the_message_empty },
	{ "/mimefilter/structure/top-level-type-filtered",
	  test_top_level_type_filtered_by_default_pass_list },
	{ "/mimefilter/structure/unchanged-left-byte-for-byte",
	  test_unchanged_message_is_left_byte_for_byte },
	{ "/mimefilter/signed/kept-whole-and-unchanged",
	  test_signed_part_is_kept_whole_and_unchanged },
	{ "/mimefilter/signed/holding-filtered-part-removed-whole",
	  test_signed_part_holding_a_filtered_part_is_removed_whole },
	{ "/mimefilter/signed/listed-type-removed-encrypted-kept",
	  test_signed_part_listed_in_filter_mime_types_is_removed },
	{ "/mimefilter/nesting/attached-message-emptied-removed",
	  test_attached_message_emptied_is_removed },
	{ "/mimefilter/nesting/within-limit-recast-to-leaf",
	  test_nesting_within_the_limit_is_recast_down_to_its_leaf },
	{ "/mimefilter/nesting/10000-levels-cut-at-limit",
	  test_ten_thousand_levels_are_cut_at_the_limit },
	{ "/mimefilter/corpus/nested-alternatives-defaults",
	  test_corpus_nested_alternatives_with_defaults },
	{ "/mimefilter/corpus/nodemailer-images-alternatives",
	  test_corpus_nodemailer_images_and_alternatives },
	{ "/mimefilter/corpus/latin1-html-empty-attached-message",
	  test_corpus_latin1_html_and_empty_attached_message },
	{ "/mimefilter/corpus/parser-killer-bounded-time",
	  test_corpus_parser_killer_html_is_converted_in_bounded_time },
	{ "/mimedel/handler/nothing-unless-filter-content",
	  test_handler_does_nothing_unless_filter_content },
	{ "/mimedel/handler/filters-with-list-settings",
	  test_handler_filters_with_the_list_settings },
	{ "/mimedel/action/discard-post-as-it-came",
	  test_handler_discards_an_emptied_post_as_it_came },
	{ "/mimedel/action/reject-names-what-was-filtered",
	  test_handler_rejects_naming_what_was_filtered },
	{ "/mimedel/action/forward-original-to-owners",
	  test_handler_forwards_the_original_to_the_owners },
	{ "/mimedel/action/preserve-original-in-file",
	  test_handler_preserves_the_original_in_a_file },
	{ "/mimedel/action/failure-retryable-post-restored",
	  test_handler_fails_retryably_when_it_cannot_keep_the_original },
};

int
main(int argc, char **argv)
{
	message_init();
	data_dir = testutil_data_dir(argv[0]);
	return testutil_main_isolated(argc, argv, tests, G_N_ELEMENTS(tests));
}
