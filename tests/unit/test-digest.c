/*
 * test-digest.c - unit tests for src/lib/digest/: the renditions as golden
 * files (tests/data/digest/: the posts in posts/ and two fixtures of
 * tests/data/mime, with attachments, HTML only, non-ASCII subjects and
 * bodies in UTF-8, ISO-8859-1 and KOI8-R), the MIME digest read back with
 * GMime (one message/rfc822 per post, only the kept headers), the pending
 * store (append once, claim, numbering across volume periods), and the
 * send (recipients by mode, one last digest, a resumed issue).
 *
 * HERALD_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing.
 * Each test runs in a child process with a fresh var dir and the list
 * dev@example.org.
 */
#include "base/base.h"
#include "digest/digest.h"
#include "list/decorate.h"
#include "list/list.h"
#include "mail/message.h"
#include "store/names.h"

#include <string.h>

#include "testutil.h"

#define LIST "dev@example.org"
/* 2026-11-02 12:00:00 UTC, a Monday. */
#define DATE 1793620800

static char *data_dir;

static const char *const post_files[] = {
	"digest/posts/01-plain.eml",
	"digest/posts/02-attachment.eml",
	"digest/posts/03-html-only.eml",
	"digest/posts/04-latin1.eml",
	"digest/posts/05-koi8r.eml",
	"mime/nodemailer-mailparser/mixed.eml",
	"mime/mailparse/qp.txt",
};

static char *
read_data(const char *rel, size_t *len_r)
{
	char *path = g_build_filename(data_dir, rel, NULL), *data = NULL;
	GError *error = NULL;

	g_assert_true(g_file_get_contents(path, &data, len_r, &error));
	g_assert_no_error(error);
	g_free(path);
	return data;
}

static GPtrArray *
load_posts(void)
{
	GPtrArray *posts = g_ptr_array_new_with_free_func(g_object_unref);

	for (guint i = 0; i < G_N_ELEMENTS(post_files); i++) {
		size_t len;
		char *data = read_data(post_files[i], &len);
		GError *error = NULL;
		GMimeMessage *m = message_parse(data, len, &error);

		g_assert_no_error(error);
		g_ptr_array_add(posts, m);
		g_free(data);
	}
	return posts;
}

static void
setup_list(struct list_fixture *f)
{
	list_fixture_init(f, LIST);
	list_set_ok(f->list, "real_name", "Dev");
	list_set_ok(f->list, "subject_prefix", "[Dev] ");
	list_set_ok(f->list, "digest_header", "Digest of %(real_name)s, read it at %(listinfo_url)s");
}

/* Compares msg's bytes with golden file name (or writes it). */
static void
assert_golden(GMimeMessage *msg, const char *name)
{
	GByteArray *b = message_to_bytes(msg);
	char *rel = g_build_filename("digest", name, NULL);
	char *path = g_build_filename(data_dir, rel, NULL);

	if (g_getenv("HERALD_UPDATE_GOLDEN") != NULL) {
		g_assert_true(g_file_set_contents(path, (const char *)b->data,
						  (gssize)b->len, NULL));
	} else {
		size_t len;
		char *want = read_data(rel, &len);
		char *got = g_strndup((const char *)b->data, b->len);

		g_assert_cmpstr(got, ==, want);
		g_free(got);
		g_free(want);
	}
	g_free(path);
	g_free(rel);
	g_byte_array_unref(b);
}

static GMimeMessage *
build(struct list_fixture *f, gboolean plain, GPtrArray *posts)
{
	struct digest_issue d = { .volume = 3, .issue = 7, .date = DATE,
				  .message_id = "<digest-3-7@example.org>",
				  .posts = posts };
	GError *error = NULL;
	GMimeMessage *m = plain ? digest_build_plain(f->list, &d, &error)
				: digest_build_mime(f->list, &d, &error);

	g_assert_no_error(error);
	g_assert_nonnull(m);
	return m;
}

/* --- the renditions ------------------------------------------------------ */

static void
golden_case(gboolean plain, const char *name)
{
	struct list_fixture f;
	GPtrArray *posts;
	GMimeMessage *m;

	setup_list(&f);
	posts = load_posts();
	m = build(&f, plain, posts);
	assert_golden(m, name);
	g_object_unref(m);
	g_ptr_array_unref(posts);
	list_fixture_clear(&f);
}

static void
test_mime_digest_matches_its_golden_file(void)
{
	golden_case(FALSE, "mime.eml");
}

static void
test_plain_digest_matches_its_golden_file(void)
{
	golden_case(TRUE, "plain.eml");
}

/* Read back from bytes: a multipart/digest of exactly one message/rfc822
 * per post, in order, each with only the kept headers. */
static void
test_mime_digest_has_one_rfc822_part_per_post(void)
{
	struct list_fixture f;
	GPtrArray *posts;
	GMimeMessage *m, *back;
	GByteArray *b;
	GMimeMultipart *mixed, *dig = NULL;
	GError *error = NULL;

	setup_list(&f);
	posts = load_posts();
	m = build(&f, FALSE, posts);
	b = message_to_bytes(m);
	back = message_parse((const char *)b->data, b->len, &error);
	g_assert_no_error(error);
	assert_header(back, "Subject", "Dev Digest, Vol 3, Issue 7");
	assert_header(back, "From", "dev-request@example.org");
	assert_header(back, "List-Id", "Dev <dev.example.org>");
	mixed = GMIME_MULTIPART(g_mime_message_get_mime_part(back));
	for (int i = 0; i < g_mime_multipart_get_count(mixed); i++) {
		GMimeObject *p = g_mime_multipart_get_part(mixed, i);

		if (GMIME_IS_MULTIPART(p))
			dig = GMIME_MULTIPART(p);
	}
	g_assert_nonnull(dig);
	g_assert_true(g_mime_content_type_is_type(
		g_mime_object_get_content_type(GMIME_OBJECT(dig)), "multipart", "digest"));
	g_assert_cmpint(g_mime_multipart_get_count(dig), ==, posts->len);
	for (int i = 0; i < g_mime_multipart_get_count(dig); i++) {
		GMimeObject *p = g_mime_multipart_get_part(dig, i);
		GMimeMessage *inner;

		g_assert_true(GMIME_IS_MESSAGE_PART(p));
		inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(p));
		g_assert_null(message_header(inner, "Received"));
		g_assert_null(message_header(inner, "X-Mailer"));
		g_assert_null(message_header(inner, "Return-Path"));
		g_assert_cmpstr(message_header(inner, "Message-ID"), ==,
				message_header(posts->pdata[i], "Message-ID"));
	}
	g_object_unref(back);
	g_byte_array_unref(b);
	g_object_unref(m);
	g_ptr_array_unref(posts);
	list_fixture_clear(&f);
}

static void
test_plain_digest_scrubs_attachments_and_escapes_separators(void)
{
	struct list_fixture f;
	GPtrArray *posts;
	GMimeMessage *m;
	char *text;

	setup_list(&f);
	posts = load_posts();
	m = build(&f, TRUE, posts);
	text = g_mime_text_part_get_text(GMIME_TEXT_PART(g_mime_message_get_mime_part(m)));
	g_assert_nonnull(strstr(text, "Name: report.pdf\nType: application/pdf\n"));
	g_assert_nonnull(strstr(text, "\n ------------------------------\nand the text"));
	g_assert_nonnull(strstr(text, "Schöne Grüße!"));
	g_assert_nonnull(strstr(text, "København, Malmö och Åre"));
	g_assert_nonnull(strstr(text, "Привет, мир!"));
	g_assert_null(strstr(text, "<p>"));
	g_assert_nonnull(strstr(text, "   1. Hello everyone (Alice Example)\n"
				"   2. Re: Hello everyone (bob@example.net)\n"));
	g_assert_nonnull(strstr(text, "End of Dev Digest, Vol 3, Issue 7\n"
				"*********************************\n"));
	g_free(text);
	g_object_unref(m);
	g_ptr_array_unref(posts);
	list_fixture_clear(&f);
}

/* A personalised list: each copy's header and footer name the member,
 * in both renditions, after the trip through the out queue's bytes. */
static void
test_personalised_copy_names_the_member(void)
{
	struct list_fixture f;
	GPtrArray *posts;
	struct member m = { .key = (char *)"ann@example.com",
			    .addr = (char *)"Ann@example.com",
			    .name = (char *)"Ann Ångström", .language = (char *)"" };

	setup_list(&f);
	list_set_ok(f.list, "digest_footer", "Sent to %(user_name)s <%(user_address)s>");
	posts = load_posts();
	for (int plain = 0; plain < 2; plain++) {
		GMimeMessage *built = build(&f, plain, posts), *copy;
		GByteArray *b = message_to_bytes(built);
		GError *error = NULL;
		char *text;

		copy = message_parse_stored((const char *)b->data, b->len, &error);
		g_assert_no_error(error);
		decorate_digest_member(copy, f.list, &m);
		g_byte_array_unref(b);
		b = message_to_bytes(copy);
		text = g_strndup((const char *)b->data, b->len);
		g_assert_null(strstr(text, "%(user_address)s"));
		g_assert_nonnull(strstr(text, "Sent to Ann \xc3\x85ngstr\xc3\xb6m <ann@example.com>"));
		/* The header was not personal: as built. */
		g_assert_nonnull(strstr(text, "Digest of Dev, read it at"));
		g_free(text);
		g_byte_array_unref(b);
		g_object_unref(copy);
		g_object_unref(built);
	}
	g_ptr_array_unref(posts);
	list_fixture_clear(&f);
}

/* --- the store ------------------------------------------------------------ */

static void
append_ok(struct list *l, const char *name, const char *text, int want)
{
	GError *error = NULL;

	g_assert_cmpint(digest_append(l, name, NULL, text, strlen(text), NULL, &error), ==, want);
	g_assert_no_error(error);
}

#define POST_TEXT "From: a@example.com\nSubject: s\n\nbody\n"

static void
test_append_is_once_per_name_even_after_a_claim(void)
{
	struct list_fixture f;
	struct digest_claim *c = NULL;
	struct digest_status st;
	GError *error = NULL;

	list_fixture_init(&f, LIST);
	append_ok(f.list, "0001+aa", POST_TEXT, 1);
	append_ok(f.list, "0001+aa", POST_TEXT, 0);
	append_ok(f.list, "0002+bb", POST_TEXT, 1);
	g_assert_cmpint(digest_status_get(f.list, DATE, &st, &error), ==, 0);
	g_assert_cmpuint(st.posts, ==, 2);
	g_assert_cmpuint(st.bytes, ==, 2 * strlen(POST_TEXT));
	g_assert_cmpint(digest_claim(f.list, DATE, 0, &c, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpint(c->volume, ==, 1);
	g_assert_cmpint(c->issue, ==, 1);
	/* The same queue entry handled again (its runner died after the
	 * claim): not added to the next issue. */
	append_ok(f.list, "0001+aa", POST_TEXT, 0);
	g_assert_cmpint(digest_status_get(f.list, DATE, &st, &error), ==, 0);
	g_assert_cmpuint(st.posts, ==, 0);
	g_assert_cmpuint(st.unfinished, ==, 1);
	g_assert_cmpint(st.issue, ==, 2);
	digest_claim_free(&c);
	list_fixture_clear(&f);
}

/* A second copy of a post (the pipeline replayed after a crash) has
 * another entry name but the same Message-ID: kept out, also after the
 * first was claimed. */
static void
test_append_drops_a_second_copy_by_message_id(void)
{
	struct list_fixture f;
	struct digest_claim *c = NULL;
	GError *error = NULL;
	const char *t = POST_TEXT;

	list_fixture_init(&f, LIST);
	g_assert_cmpint(digest_append(f.list, "0001+aa", "<x@example.com>", t, strlen(t), NULL, &error), ==, 1);
	g_assert_cmpint(digest_append(f.list, "0002+bb", "<x@example.com>", t, strlen(t), NULL, &error), ==, 0);
	g_assert_cmpint(digest_append(f.list, "0003+cc", "<y@example.com>", t, strlen(t), NULL, &error), ==, 1);
	g_assert_cmpint(digest_claim(f.list, DATE, 0, &c, &error), ==, 1);
	g_assert_cmpint(digest_append(f.list, "0004+dd", "<y@example.com>", t, strlen(t), NULL, &error), ==, 0);
	g_assert_cmpint(digest_append(f.list, "0005+ee", NULL, t, strlen(t), NULL, &error), ==, 1);
	g_assert_no_error(error);
	digest_claim_free(&c);
	list_fixture_clear(&f);
}

/* A batch (the digest runner's): each post once, a second copy of a
 * Message-ID in the same batch kept out, the pending size counted once;
 * the marker a second name of its post, not a file of its own. */
static void
test_append_batch_stores_each_once(void)
{
	struct list_fixture f;
	GError *error = NULL;
	const char *t = POST_TEXT;
	uint64_t bytes = 0;
	struct digest_post posts[] = {
		{ .name = "0001+aa", .message_id = "<x@example.com>", .msg = t, .len = strlen(t) },
		{ .name = "0002+bb", .message_id = "<x@example.com>", .msg = t, .len = strlen(t) },
		{ .name = "0003+cc", .message_id = NULL, .msg = t, .len = strlen(t) },
		{ .name = "0004+dd", .message_id = "<y@example.com>", .msg = t, .len = strlen(t) },
	};
	struct stat st;
	char *post, *marker, *hex;

	list_fixture_init(&f, LIST);
	g_assert_cmpint(digest_append_batch(f.list, posts, 4, &bytes, &error), ==, 3);
	g_assert_no_error(error);
	g_assert_true(posts[0].added);
	g_assert_false(posts[1].added);
	g_assert_true(posts[2].added);
	g_assert_true(posts[3].added);
	g_assert_cmpuint(bytes, ==, 3 * strlen(t));
	hex = g_compute_checksum_for_string(G_CHECKSUM_SHA1, "<y@example.com>", -1);
	post = g_build_filename(list_dir(f.list), "digest", "pending", "0004+dd.msg", NULL);
	marker = g_strdup_printf("%s/digest/pending/mid-%s", list_dir(f.list), hex);
	g_assert_cmpint(stat(marker, &st), ==, 0);
	g_assert_cmpint(st.st_nlink, ==, 2);
	g_assert_cmpint(stat(post, &st), ==, 0);
	g_assert_cmpint(st.st_nlink, ==, 2);
	/* The batch again (its entries redone after a crash): nothing new. */
	g_assert_cmpint(digest_append_batch(f.list, posts, 4, NULL, &error), ==, 0);
	g_assert_no_error(error);
	g_free(hex);
	g_free(post);
	g_free(marker);
	list_fixture_clear(&f);
}

static void
test_claim_below_the_size_claims_nothing(void)
{
	struct list_fixture f;
	struct digest_claim *c = NULL;
	GError *error = NULL;

	list_fixture_init(&f, LIST);
	g_assert_cmpint(digest_claim(f.list, DATE, 0, &c, &error), ==, 0);
	append_ok(f.list, "0001+aa", POST_TEXT, 1);
	g_assert_cmpint(digest_claim(f.list, DATE, 1000, &c, &error), ==, 0);
	g_assert_null(c);
	g_assert_cmpint(digest_claim(f.list, DATE, 10, &c, &error), ==, 1);
	digest_claim_free(&c);
	list_fixture_clear(&f);
}

static void
test_new_period_by_frequency(void)
{
	/* Local time is UTC here (TZ set in main). */
	time_t mon = DATE, sun = DATE - 86400, dec31 = 1798718400;

	g_assert_false(digest_new_period(DIGEST_DAILY, 0, mon));
	g_assert_false(digest_new_period(DIGEST_DAILY, mon, mon + 3600));
	g_assert_true(digest_new_period(DIGEST_DAILY, sun, mon));
	g_assert_true(digest_new_period(DIGEST_WEEKLY, sun, mon));
	g_assert_false(digest_new_period(DIGEST_WEEKLY, mon, mon + 6 * 86400));
	g_assert_true(digest_new_period(DIGEST_WEEKLY, mon, mon + 7 * 86400));
	g_assert_false(digest_new_period(DIGEST_MONTHLY, mon, mon + 20 * 86400));
	g_assert_true(digest_new_period(DIGEST_MONTHLY, mon, mon + 30 * 86400));
	/* November and December are one quarter (Mailman's month % 4 said
	 * not); January starts the next. */
	g_assert_false(digest_new_period(DIGEST_QUARTERLY, mon, dec31));
	g_assert_true(digest_new_period(DIGEST_QUARTERLY, dec31, dec31 + 86400));
	g_assert_false(digest_new_period(DIGEST_YEARLY, mon, dec31));
	g_assert_true(digest_new_period(DIGEST_YEARLY, dec31, dec31 + 86400));
}

static void
test_volume_advances_at_a_new_period(void)
{
	struct list_fixture f;
	struct digest_claim *c = NULL;
	GError *error = NULL;

	list_fixture_init(&f, LIST);
	list_set_ok(f.list, "digest_volume_frequency", "4");	/* daily */
	append_ok(f.list, "0001+aa", POST_TEXT, 1);
	g_assert_cmpint(digest_claim(f.list, DATE, 0, &c, &error), ==, 1);
	g_assert_cmpint(c->volume * 100 + c->issue, ==, 101);
	digest_claim_free(&c);
	append_ok(f.list, "0002+aa", POST_TEXT, 1);
	g_assert_cmpint(digest_claim(f.list, DATE + 60, 0, &c, &error), ==, 1);
	g_assert_cmpint(c->volume * 100 + c->issue, ==, 102);
	digest_claim_free(&c);
	append_ok(f.list, "0003+aa", POST_TEXT, 1);
	g_assert_cmpint(digest_claim(f.list, DATE + 86400, 0, &c, &error), ==, 1);
	g_assert_cmpint(c->volume * 100 + c->issue, ==, 201);
	digest_claim_free(&c);
	list_fixture_clear(&f);
}

/* --- the send ------------------------------------------------------------- */

static guint
rcpts_of(GPtrArray *items, const char *addr)
{
	guint n = 0;

	for (guint i = 0; i < items->len; i++) {
		struct queue_item *it = items->pdata[i];
		GPtrArray *r = queue_meta_get_all(it->meta, META_RCPT);

		for (guint k = 0; k < r->len; k++)
			n += strcmp(r->pdata[k], addr) == 0;
		g_ptr_array_unref(r);
	}
	return n;
}

static void
test_send_goes_to_digest_members_by_mode(void)
{
	struct list_fixture f;
	struct digest_sent sent;
	GError *error = NULL;
	GPtrArray *out;

	list_fixture_init(&f, LIST);
	fixture_put_member(f.list, "mime@example.com", MODE_MIME_DIGEST, STATUS_ENABLED, 0);
	fixture_put_member(f.list, "plain@example.com", MODE_PLAIN_DIGEST, STATUS_ENABLED, 0);
	fixture_put_member(f.list, "regular@example.com", MODE_REGULAR, STATUS_ENABLED, 0);
	fixture_put_member(f.list, "off@example.com", MODE_MIME_DIGEST, STATUS_BY_USER, 0);
	fixture_put_member(f.list, "left@example.com", MODE_PLAIN_DIGEST, STATUS_ENABLED, 0);
	append_ok(f.list, "0001+aa", POST_TEXT, 1);
	/* left@ leaves digest mode: owed the pending digest. */
	g_assert_cmpint(digest_owe_last(f.list, "left@example.com", MODE_PLAIN_DIGEST, &error), ==, 0);
	fixture_put_member(f.list, "left@example.com", MODE_REGULAR, STATUS_ENABLED, 0);
	g_assert_cmpint(digest_send(f.list, DATE, 0, 1000, &sent, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpuint(sent.issues, ==, 1);
	g_assert_cmpuint(sent.posts, ==, 1);
	g_assert_cmpuint(sent.mime_rcpts, ==, 1);
	g_assert_cmpuint(sent.plain_rcpts, ==, 2);
	out = queue_read_all(f.var, QUEUE_OUT);
	g_assert_cmpuint(out->len, ==, 2);
	g_assert_cmpuint(rcpts_of(out, "mime@example.com"), ==, 1);
	g_assert_cmpuint(rcpts_of(out, "plain@example.com"), ==, 1);
	g_assert_cmpuint(rcpts_of(out, "left@example.com"), ==, 1);
	g_assert_cmpuint(rcpts_of(out, "regular@example.com"), ==, 0);
	g_assert_cmpuint(rcpts_of(out, "off@example.com"), ==, 0);
	g_ptr_array_unref(out);
	/* Nothing pending: the next send sends nothing. */
	g_assert_cmpint(digest_send(f.list, DATE, 0, 1000, &sent, &error), ==, 1);
	g_assert_cmpuint(sent.issues, ==, 0);
	list_fixture_clear(&f);
}

/* A sender that died after building hands over what is left, once. */
static void
test_send_resumes_a_built_issue(void)
{
	struct list_fixture f;
	struct digest_claim *c = NULL;
	struct digest_sent sent;
	GError *error = NULL;
	GPtrArray *out;
	char *entry, *built;

	list_fixture_init(&f, LIST);
	fixture_put_member(f.list, "mime@example.com", MODE_MIME_DIGEST, STATUS_ENABLED, 0);
	append_ok(f.list, "0001+aa", POST_TEXT, 1);
	g_assert_cmpint(digest_claim(f.list, DATE, 0, &c, &error), ==, 1);
	/* As if built, with a rendition not yet handed over. */
	entry = g_build_filename(c->dir, "out-mime.entry", NULL);
	built = g_build_filename(c->dir, "built", NULL);
	{
		struct queue_meta *meta = queue_meta_new();
		GString *s;

		queue_meta_set(meta, META_LIST, LIST);
		queue_meta_add(meta, META_RCPT, "mime@example.com");
		s = queue_format(meta, "Subject: x\n\nx\n", 14);
		g_assert_true(g_file_set_contents(entry, s->str, (gssize)s->len, NULL));
		g_string_free(s, TRUE);
		queue_meta_free(&meta);
	}
	g_assert_true(g_file_set_contents(built, "posts 1\nmime 1\nplain 0\n", -1, NULL));
	g_assert_cmpint(digest_send(f.list, DATE, 0, 1000, &sent, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpuint(sent.issues, ==, 1);
	out = queue_read_all(f.var, QUEUE_OUT);
	g_assert_cmpuint(out->len, ==, 1);
	g_ptr_array_unref(out);
	g_assert_false(g_file_test(c->dir, G_FILE_TEST_EXISTS));
	g_free(entry);
	g_free(built);
	digest_claim_free(&c);
	list_fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/digest/mime/golden", test_mime_digest_matches_its_golden_file },
	{ "/digest/plain/golden", test_plain_digest_matches_its_golden_file },
	{ "/digest/mime/one-rfc822-part-per-post",
	  test_mime_digest_has_one_rfc822_part_per_post },
	{ "/digest/plain/scrubbed-and-escaped",
	  test_plain_digest_scrubs_attachments_and_escapes_separators },
	{ "/digest/personalised/member-footer", test_personalised_copy_names_the_member },
	{ "/digest/store/append-once", test_append_is_once_per_name_even_after_a_claim },
	{ "/digest/store/same-message-id", test_append_drops_a_second_copy_by_message_id },
	{ "/digest/store/batch-once-each", test_append_batch_stores_each_once },
	{ "/digest/store/claim-threshold", test_claim_below_the_size_claims_nothing },
	{ "/digest/store/new-period", test_new_period_by_frequency },
	{ "/digest/store/volume-advances", test_volume_advances_at_a_new_period },
	{ "/digest/send/by-mode", test_send_goes_to_digest_members_by_mode },
	{ "/digest/send/resume-built", test_send_resumes_a_built_issue },
};

int
main(int argc, char **argv)
{
	g_setenv("TZ", "UTC", TRUE);
	message_init();
	data_dir = testutil_data_dir(argv[0]);
	return testutil_main_isolated(argc, argv, tests, G_N_ELEMENTS(tests));
}
