/*
 * test-pipeline.c - unit tests for the posting pipeline: the post object
 * (post.c: the poster, metadata read back, the post number, enqueueing),
 * pipeline_run (order, where a hold or an error leaves the rest), and the
 * handlers: approve, moderate, hold, emergency, calcrecips, avoiddups,
 * ownerrecips, todigest, toarchive, afterdelivery, acknowledge, tooutgoing
 * and replybot.
 *
 * Every test parses real messages with message_parse and runs against a
 * fresh var dir (site_init) with a list demo@example.org, in a child
 * process of its own.  What a handler sends or copies is read back from
 * the queues (virgin, out, digest, archive).
 */
#include "mail/address.h"
#include "base/base.h"
#include "list/list.h"
#include "store/lock.h"
#include "base/log.h"
#include "mail/message.h"
#include "pipeline/pipeline.h"
#include "store/names.h"
#include "store/queue.h"
#include "list/roster.h"
#include "store/site.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* --- helpers ------------------------------------------------------------- */

#define FQDN "demo@example.org"

/* A message From from, To the list, with extra header lines (each ended
 * by "\n") and a body. */
static char *
msg_text(const char *from, const char *extra, const char *body)
{
	return g_strdup_printf("From: %s\n"
			       "To: " FQDN "\n"
			       "Subject: Hello\n"
			       "Message-ID: <m1@example.com>\n"
			       "Date: Mon, 1 Jan 2024 10:00:00 +0000\n"
			       "%s"
			       "\n"
			       "%s", from, extra, body);
}

/* A post of msg_text(from, extra, body) with envelope sender from's
 * address. */
static struct post *
simple_post(struct list_fixture *f, const char *from, const char *extra)
{
	char *text = msg_text(from, extra, "Hello, list.\n");
	struct post *p = fixture_post(f, NULL, text);

	g_free(text);
	return p;
}

/* Runs one handler that must not fail. */
static enum pipe_result
run_ok(struct post *p, pipe_handler_fn fn)
{
	GError *error = NULL;
	enum pipe_result r = fn(p, &error);

	g_assert_no_error(error);
	g_assert_cmpint(r, !=, PIPE_ERROR);
	return r;
}

static gint
compare_str(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The strings of an array, sorted and joined by ","; "(null)" for NULL. */
static char *
joined_sorted(GPtrArray *a)
{
	GPtrArray *copy;
	char *s;

	if (a == NULL)
		return g_strdup("(null)");
	copy = g_ptr_array_new();
	for (guint i = 0; i < a->len; i++)
		g_ptr_array_add(copy, a->pdata[i]);
	g_ptr_array_sort(copy, compare_str);
	s = strings_joined(copy, ",");
	g_ptr_array_unref(copy);
	return s;
}

static void
assert_recipients(struct post *p, const char *want)
{
	char *got = joined_sorted(p->recipients);

	g_assert_cmpstr(got, ==, want);
	g_free(got);
}

/* The rcpt lines of a queue entry, sorted and joined. */
static char *
item_rcpts(struct queue_item *it)
{
	GPtrArray *all = queue_meta_get_all(it->meta, "rcpt");
	char *s = joined_sorted(all);

	g_ptr_array_unref(all);
	return s;
}

/* The text of the first text/plain part. */
static char *
body_text(GMimeMessage *msg)
{
	GMimeTextPart *part = message_first_text_part(msg);

	g_assert_nonnull(part);
	return g_mime_text_part_get_text(part);
}

/* The text of the first text/html part, or NULL. */
static void
find_html(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	GMimeTextPart **found = data;

	(void)parent;
	if (*found == NULL && GMIME_IS_TEXT_PART(part) &&
	    g_mime_content_type_is_type(g_mime_object_get_content_type(part),
					"text", "html"))
		*found = GMIME_TEXT_PART(part);
}

static char *
html_text(GMimeMessage *msg)
{
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	GMimeTextPart *found = NULL;

	g_assert_true(GMIME_IS_MULTIPART(body));
	g_mime_multipart_foreach(GMIME_MULTIPART(body), find_html, &found);
	g_assert_nonnull(found);
	return g_mime_text_part_get_text(found);
}

static void
make_other_list(struct list_fixture *f, const char *fqdn, const char *member)
{
	struct list *other = fixture_new_list(f, fqdn);

	if (member != NULL)
		fixture_put_member(other, member, MODE_REGULAR, STATUS_ENABLED, 0);
	list_free(&other);
}

#define ANN "Ann Poster <ann@example.com>"

/* --- the post ------------------------------------------------------------ */

static void
test_post_new_poster_is_from_address_normalised_with_display_name(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	p = fixture_post(&f, "bounce@other.example",
			 "From: Ann Poster <Ann@Example.COM>\n"
			 "Sender: helper@example.net\n"
			 "To: " FQDN "\nSubject: x\n\nbody\n");
	g_assert_cmpstr(p->poster, ==, "Ann@example.com");
	g_assert_cmpstr(p->poster_name, ==, "Ann Poster");
	g_assert_cmpstr(p->sender, ==, "bounce@other.example");
	g_assert_false(p->approved);
	g_assert_null(p->recipients);
	post_free(&p);
	g_assert_null(p);
	list_fixture_clear(&f);
}

static void
test_post_new_display_name_is_decoded_to_utf8(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	p = fixture_post(&f, NULL,
			 "From: =?UTF-8?Q?Ren=C3=A9e_Ma=C3=AFa?= <renee@example.com>\n"
			 "To: " FQDN "\nSubject: x\n\nbody\n");
	g_assert_cmpstr(p->poster, ==, "renee@example.com");
	g_assert_cmpstr(p->poster_name, ==, "Ren\xc3\xa9" "e Ma\xc3\xaf" "a");
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_post_new_poster_from_sender_header_without_from(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	p = fixture_post(&f, "envelope@example.net",
			 "Sender: Helper <helper@Example.NET>\n"
			 "To: " FQDN "\nSubject: x\n\nbody\n");
	g_assert_cmpstr(p->poster, ==, "helper@example.net");
	g_assert_cmpstr(p->poster_name, ==, "");
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_post_new_poster_from_envelope_without_from_or_sender(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	p = fixture_post(&f, "Envelope@Example.NET",
			 "To: " FQDN "\nSubject: x\n\nbody\n");
	g_assert_cmpstr(p->poster, ==, "Envelope@example.net");
	g_assert_cmpstr(p->sender, ==, "Envelope@Example.NET");
	g_assert_cmpstr(p->poster_name, ==, "");
	post_free(&p);
	/* No author anywhere and the null sender: "" (not NULL). */
	p = fixture_post(&f, "", "To: " FQDN "\nSubject: x\n\nbody\n");
	g_assert_cmpstr(p->poster, ==, "");
	g_assert_cmpstr(p->sender, ==, "");
	post_free(&p);
	/* No "sender" in the metadata at all. */
	p = fixture_post(&f, NULL, "To: " FQDN "\nSubject: x\n\nbody\n");
	g_assert_cmpstr(p->poster, ==, "");
	g_assert_cmpstr(p->sender, ==, "");
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_post_new_reads_back_approval_and_recipients_from_meta(void)
{
	struct list_fixture f;
	struct post *p;
	char *text = msg_text(ANN, "", "body\n");

	list_fixture_init(&f, FQDN);
	p = fixture_post_meta(&f, "ann@example.com", text, "approved", "yes",
			      "rcpt", "b@example.net", "rcpt", "a@example.net", NULL);
	g_assert_true(p->approved);
	g_assert_nonnull(p->recipients);
	{
		char *got = strings_joined(p->recipients, ",");
		g_assert_cmpstr(got, ==, "b@example.net,a@example.net");
		g_free(got);
	}
	post_free(&p);
	/* Anything but "yes" is no approval. */
	p = fixture_post_meta(&f, "ann@example.com", text, "approved", "no", NULL);
	g_assert_false(p->approved);
	g_assert_null(p->recipients);
	post_free(&p);
	g_free(text);
	list_fixture_clear(&f);
}

static void
test_post_enqueue_writes_recipients_approval_and_rest(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct queue *q;
	struct post *p;
	GPtrArray *items;
	struct queue_item *it;
	GMimeMessage *back;
	char *text = msg_text(ANN, "", "body\n"), *rc;

	list_fixture_init(&f, FQDN);
	p = fixture_post_meta(&f, "ann@example.com", text, "rcpt", "old@example.net",
			      "pipeline", "stale", NULL);
	g_ptr_array_set_size(p->recipients, 0);
	g_ptr_array_add(p->recipients, g_strdup("x@example.net"));
	g_ptr_array_add(p->recipients, g_strdup("y@example.net"));
	p->approved = TRUE;
	q = queue_open(f.var, "shunt", &error);
	g_assert_no_error(error);
	g_assert_cmpint(post_enqueue(p, q, "calcrecips,tooutgoing", &error), ==, 0);
	g_assert_no_error(error);
	/* No rest: the "pipeline" key goes. */
	g_assert_cmpint(post_enqueue(p, q, NULL, &error), ==, 0);
	g_assert_no_error(error);
	queue_close(&q);
	items = queue_read_all(f.var, "shunt");
	g_assert_cmpuint(items->len, ==, 2);
	it = items->pdata[0];
	rc = item_rcpts(it);
	g_assert_cmpstr(rc, ==, "x@example.net,y@example.net");
	g_free(rc);
	g_assert_cmpstr(queue_meta_get(it->meta, "approved"), ==, "yes");
	g_assert_cmpstr(queue_meta_get(it->meta, "pipeline"), ==,
			"calcrecips,tooutgoing");
	g_assert_cmpstr(queue_meta_get(it->meta, "sender"), ==, "ann@example.com");
	back = item_message(it);
	g_assert_cmpstr(message_header(back, "Subject"), ==, "Hello");
	g_object_unref(back);
	it = items->pdata[1];
	g_assert_null(queue_meta_get(it->meta, "pipeline"));
	g_ptr_array_unref(items);
	post_free(&p);
	g_free(text);
	list_fixture_clear(&f);
}

static void
test_post_number_counts_once_and_is_kept_in_meta_for_a_resumed_post(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct post *p, *q, *resumed;
	int64_t counter = 0;
	char *text = msg_text(ANN, "", "body\n");

	list_fixture_init(&f, FQDN);
	p = fixture_post(&f, NULL, text);
	g_assert_cmpint(post_number(p, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpint(queue_meta_get_int(p->meta, "post-id", 0), ==, 1);
	/* Asked again: the same number, the counter untouched. */
	g_assert_cmpint(post_number(p, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpint(list_counter_get(f.list, "post_id", &counter, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(counter, ==, 2);
	/* The next post gets the next number. */
	q = fixture_post(&f, NULL, text);
	g_assert_cmpint(post_number(q, &error), ==, 2);
	g_assert_no_error(error);
	/* A resumed post (post-id in its metadata) keeps its number. */
	resumed = fixture_post_meta(&f, NULL, text, "post-id", "1", NULL);
	g_assert_cmpint(post_number(resumed, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpint(list_counter_get(f.list, "post_id", &counter, &error), ==, 0);
	g_assert_cmpint(counter, ==, 3);
	post_free(&p);
	post_free(&q);
	post_free(&resumed);
	g_free(text);
	list_fixture_clear(&f);
}

/* --- pipeline_run -------------------------------------------------------- */

static void
test_run_follows_the_order_given(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct post *p;
	char *handler = NULL, *rest = NULL;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "mod_password", "secret");
	fixture_add_member(&f, "bob@example.net", 0);
	/* approve before moderate: the nonmember's approved post passes. */
	p = simple_post(&f, ANN, "Approved: secret\n");
	g_assert_cmpint(pipeline_run(p, "approve,moderate,calcrecips", &handler,
				     &rest, &error), ==, PIPE_CONTINUE);
	g_assert_no_error(error);
	g_assert_null(handler);
	g_assert_null(rest);
	g_assert_true(p->approved);
	assert_recipients(p, "bob@example.net");
	post_free(&p);
	/* moderate first: held before approve could look at the password. */
	p = simple_post(&f, ANN, "Approved: secret\n");
	g_assert_cmpint(pipeline_run(p, "moderate,approve,calcrecips", &handler,
				     &rest, &error), ==, PIPE_HOLD);
	g_assert_no_error(error);
	g_assert_cmpstr(handler, ==, "moderate");
	g_assert_cmpstr(rest, ==, "approve,calcrecips");
	g_assert_false(p->approved);
	g_assert_nonnull(message_header(p->msg, "Approved"));
	g_assert_null(p->recipients);
	g_free(handler);
	g_free(rest);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_run_hold_returns_the_handlers_after_the_holder(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct post *p;
	char *handler = NULL, *rest = NULL;

	list_fixture_init(&f, FQDN);
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(pipeline_run(p, "approve,moderate,hold,calcrecips,tooutgoing",
				     &handler, &rest, &error), ==, PIPE_HOLD);
	g_assert_no_error(error);
	g_assert_cmpstr(handler, ==, "moderate");
	g_assert_cmpstr(rest, ==, "hold,calcrecips,tooutgoing");
	g_assert_nonnull(p->reason);
	/* The handlers after the hold did not run. */
	g_assert_null(p->recipients);
	g_assert_cmpuint(queue_length(f.var, "out"), ==, 0);
	g_free(handler);
	g_free(rest);
	post_free(&p);
	/* Held by the last handler: nothing left to run, "" (not NULL). */
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(pipeline_run(p, "approve,moderate", &handler, &rest,
				     &error), ==, PIPE_HOLD);
	g_assert_cmpstr(handler, ==, "moderate");
	g_assert_cmpstr(rest, ==, "");
	g_free(handler);
	g_free(rest);
	post_free(&p);
	list_fixture_clear(&f);
}

/* The setting is typed by people: spaces around names and empty items
 * do not matter, and the rest names the same handlers. */
static void
test_run_ignores_spaces_and_empty_names(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct post *p;
	char *handler = NULL, *rest = NULL;
	char **names;

	list_fixture_init(&f, FQDN);
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(pipeline_run(p, " approve ,, moderate , hold,calcrecips ",
				     &handler, &rest, &error), ==, PIPE_HOLD);
	g_assert_no_error(error);
	g_assert_cmpstr(handler, ==, "moderate");
	names = g_strsplit(rest, ",", -1);
	g_assert_cmpuint(g_strv_length(names), ==, 2);
	g_assert_cmpstr(g_strstrip(names[0]), ==, "hold");
	g_assert_cmpstr(g_strstrip(names[1]), ==, "calcrecips");
	g_strfreev(names);
	g_free(handler);
	g_free(rest);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_run_error_returns_rest_from_the_failing_handler(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct post *p;
	char *handler = NULL, *rest = NULL;
	int64_t last = 0;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "bob@example.net", 0);
	fixture_break_queue(&f, "out");
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(pipeline_run(p, "calcrecips,tooutgoing,afterdelivery",
				     &handler, &rest, &error), ==, PIPE_ERROR);
	g_assert_nonnull(error);
	g_test_message("error: %s", error->message);
	g_clear_error(&error);
	g_assert_cmpstr(handler, ==, "tooutgoing");
	/* A resumed post retries the failed handler. */
	g_assert_cmpstr(rest, ==, "tooutgoing,afterdelivery");
	assert_recipients(p, "bob@example.net");
	/* afterdelivery did not run. */
	g_assert_cmpint(list_counter_get(f.list, "last_post_time", &last, NULL), ==, 0);
	g_assert_cmpint(last, ==, 0);
	g_free(handler);
	g_free(rest);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_run_unknown_handler_is_an_error_invalid(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct post *p;
	char *handler = NULL, *rest = NULL;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "bob@example.net", 0);
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(pipeline_run(p, "approve,nosuch,calcrecips", &handler,
				     &rest, &error), ==, PIPE_ERROR);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_assert_nonnull(strstr(error->message, "nosuch"));
	g_clear_error(&error);
	g_assert_cmpstr(handler, ==, "nosuch");
	g_assert_cmpstr(rest, ==, "nosuch,calcrecips");
	g_assert_null(p->recipients);
	g_free(handler);
	g_free(rest);
	post_free(&p);
	g_assert_null(pipeline_handler_find("nosuch"));
	g_assert_nonnull(pipeline_handler_find("calcrecips"));
	list_fixture_clear(&f);
}

/* --- approve ------------------------------------------------------------- */

static void
test_approve_header_with_moderator_password_approves_and_is_removed(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "mod_password", "secret");
	p = simple_post(&f, ANN, "Approved: secret\n");
	g_assert_cmpint(run_ok(p, pipe_approve), ==, PIPE_CONTINUE);
	g_assert_true(p->approved);
	g_assert_cmpstr(queue_meta_get(p->meta, "approved"), ==, "yes");
	g_assert_null(message_header(p->msg, "Approved"));
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_approve_wrong_password_not_approved_but_header_removed(void)
{
	struct list_fixture f;
	struct post *p;
	GByteArray *bytes;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "mod_password", "secret");
	p = simple_post(&f, ANN, "Approved: guess\n");
	g_assert_cmpint(run_ok(p, pipe_approve), ==, PIPE_CONTINUE);
	g_assert_false(p->approved);
	g_assert_null(queue_meta_get(p->meta, "approved"));
	g_assert_null(message_header(p->msg, "Approved"));
	bytes = message_to_bytes(p->msg);
	g_assert_null(g_strstr_len((const char *)bytes->data, bytes->len, "guess"));
	g_byte_array_unref(bytes);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_approve_header_variants_approve_and_are_removed(void)
{
	static const char *const names[] = {
		"Approve", "X-Approved", "X-Approve", "approved",
	};
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "mod_password", "secret");
	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		char *extra = g_strdup_printf("%s: secret\n", names[i]);
		struct post *p = simple_post(&f, ANN, extra);

		g_test_message("header %s", names[i]);
		g_assert_cmpint(run_ok(p, pipe_approve), ==, PIPE_CONTINUE);
		g_assert_true(p->approved);
		g_assert_null(message_header(p->msg, names[i]));
		post_free(&p);
		g_free(extra);
	}
	list_fixture_clear(&f);
}

static void
test_approve_body_password_line_and_blank_line_removed_from_text(void)
{
	struct list_fixture f;
	struct post *p;
	char *text, *body;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "mod_password", "secret");
	text = msg_text(ANN, "", "Approved: secret\n\nHello, list.\n\nBye.\n");
	p = fixture_post(&f, NULL, text);
	g_assert_cmpint(run_ok(p, pipe_approve), ==, PIPE_CONTINUE);
	g_assert_true(p->approved);
	g_assert_cmpstr(queue_meta_get(p->meta, "approved"), ==, "yes");
	body = body_text(p->msg);
	/* The line and the one blank line after it are gone, no more. */
	g_assert_cmpstr(body, ==, "Hello, list.\n\nBye.\n");
	g_free(body);
	post_free(&p);
	g_free(text);
	/* Blank lines before the password line are skipped over. */
	text = msg_text(ANN, "", "\n  \nApproved: secret\nHello, list.\n");
	p = fixture_post(&f, NULL, text);
	g_assert_cmpint(run_ok(p, pipe_approve), ==, PIPE_CONTINUE);
	g_assert_true(p->approved);
	body = body_text(p->msg);
	g_assert_null(strstr(body, "secret"));
	g_assert_nonnull(strstr(body, "Hello, list.\n"));
	g_free(body);
	post_free(&p);
	g_free(text);
	/* A wrong password in the body is removed too, and approves nothing. */
	text = msg_text(ANN, "", "Approve: guess\n\nHello\n");
	p = fixture_post(&f, NULL, text);
	g_assert_cmpint(run_ok(p, pipe_approve), ==, PIPE_CONTINUE);
	g_assert_false(p->approved);
	body = body_text(p->msg);
	g_assert_cmpstr(body, ==, "Hello\n");
	g_free(body);
	post_free(&p);
	g_free(text);
	list_fixture_clear(&f);
}

static void
test_approve_body_password_removed_from_quoted_printable_text(void)
{
	struct list_fixture f;
	struct post *p;
	GByteArray *bytes;
	char *body;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "mod_password", "secret");
	p = fixture_post(&f, NULL,
			 "From: " ANN "\n"
			 "To: " FQDN "\n"
			 "Subject: Hello\n"
			 "MIME-Version: 1.0\n"
			 "Content-Type: text/plain; charset=utf-8\n"
			 "Content-Transfer-Encoding: quoted-printable\n"
			 "\n"
			 "Approved: sec=\nret\n"
			 "\n"
			 "Caf=C3=A9 au lait.\n");
	g_assert_cmpint(run_ok(p, pipe_approve), ==, PIPE_CONTINUE);
	g_assert_true(p->approved);
	body = body_text(p->msg);
	g_assert_cmpstr(body, ==, "Caf\xc3\xa9 au lait.\n");
	g_free(body);
	bytes = message_to_bytes(p->msg);
	g_assert_null(g_strstr_len((const char *)bytes->data, bytes->len, "sec"));
	g_byte_array_unref(bytes);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_approve_body_password_only_on_first_nonblank_line(void)
{
	struct list_fixture f;
	struct post *p;
	char *text, *body;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "mod_password", "secret");
	text = msg_text(ANN, "", "Hello\nApproved: secret\n");
	p = fixture_post(&f, NULL, text);
	g_assert_cmpint(run_ok(p, pipe_approve), ==, PIPE_CONTINUE);
	g_assert_false(p->approved);
	body = body_text(p->msg);
	g_assert_cmpstr(body, ==, "Hello\nApproved: secret\n");
	g_free(body);
	post_free(&p);
	g_free(text);
	list_fixture_clear(&f);
}

static void
test_approve_body_password_removed_from_html_alternative(void)
{
	struct list_fixture f;
	struct post *p;
	char *body, *html;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "mod_password", "secret");
	p = fixture_post(&f, NULL,
			 "From: " ANN "\n"
			 "To: " FQDN "\n"
			 "Subject: Hello\n"
			 "MIME-Version: 1.0\n"
			 "Content-Type: multipart/alternative; boundary=\"BB\"\n"
			 "\n"
			 "--BB\n"
			 "Content-Type: text/plain; charset=utf-8\n"
			 "\n"
			 "Approved: secret\n"
			 "\n"
			 "Hello, list.\n"
			 "--BB\n"
			 "Content-Type: text/html; charset=utf-8\n"
			 "\n"
			 "<html><body><p>Approved: secret</p><p>Hello, list.</p></body></html>\n"
			 "--BB--\n");
	g_assert_cmpint(run_ok(p, pipe_approve), ==, PIPE_CONTINUE);
	g_assert_true(p->approved);
	body = body_text(p->msg);
	g_assert_null(strstr(body, "secret"));
	g_assert_nonnull(strstr(body, "Hello, list."));
	html = html_text(p->msg);
	g_assert_null(strstr(html, "secret"));
	g_assert_nonnull(strstr(html, "Hello, list."));
	g_free(body);
	g_free(html);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_approve_owner_and_post_passwords_approve(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "password", "ownerpw");
	list_set_ok(f.list, "post_password", "postpw");
	p = simple_post(&f, ANN, "Approved: ownerpw\n");
	run_ok(p, pipe_approve);
	g_assert_true(p->approved);
	post_free(&p);
	p = simple_post(&f, ANN, "Approved: postpw\n");
	run_ok(p, pipe_approve);
	g_assert_true(p->approved);
	post_free(&p);
	/* The moderator password is unset: it matches nothing, not even "". */
	p = simple_post(&f, ANN, "Approved: \n");
	run_ok(p, pipe_approve);
	g_assert_false(p->approved);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_approve_without_password_changes_nothing(void)
{
	struct list_fixture f;
	struct post *p;
	GByteArray *before, *after;
	char *text = msg_text(ANN, "", "Hello\n");

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "mod_password", "secret");
	p = fixture_post(&f, NULL, text);
	before = message_to_bytes(p->msg);
	g_assert_cmpint(run_ok(p, pipe_approve), ==, PIPE_CONTINUE);
	g_assert_false(p->approved);
	after = message_to_bytes(p->msg);
	g_assert_cmpmem(before->data, before->len, after->data, after->len);
	g_byte_array_unref(before);
	g_byte_array_unref(after);
	post_free(&p);
	g_free(text);
	list_fixture_clear(&f);
}

/* --- moderate ------------------------------------------------------------ */

static enum pipe_result
moderate(struct list_fixture *f, const char *from, struct post **p_r)
{
	struct post *p = simple_post(f, from, "");
	enum pipe_result r = run_ok(p, pipe_moderate);

	if (p_r != NULL)
		*p_r = p;
	else
		post_free(&p);
	return r;
}

static void
test_moderate_member_without_mod_flag_passes(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "ann@example.com", OPT_ACK | OPT_NODUPES);
	g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_CONTINUE);
	/* Any case of the address. */
	g_assert_cmpint(moderate(&f, "ANN@EXAMPLE.COM", NULL), ==, PIPE_CONTINUE);
	list_fixture_clear(&f);
}

static void
test_moderate_moderated_member_hold_reject_discard_by_action(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "ann@example.com", OPT_MODERATE);
	/* 0: hold (the default). */
	g_assert_cmpint(moderate(&f, ANN, &p), ==, PIPE_HOLD);
	g_assert_cmpstr(p->reason, ==, "Post by a moderated member");
	post_free(&p);
	/* 1: reject, with the default text... */
	list_set_ok(f.list, "member_moderation_action", "1");
	g_assert_cmpint(moderate(&f, ANN, &p), ==, PIPE_REJECT);
	g_assert_nonnull(p->reason);
	g_assert_nonnull(strstr(p->reason, "moderated"));
	post_free(&p);
	/* ... or member_moderation_notice. */
	list_set_ok(f.list, "member_moderation_notice", "Please wait for approval.");
	g_assert_cmpint(moderate(&f, ANN, &p), ==, PIPE_REJECT);
	g_assert_cmpstr(p->reason, ==, "Please wait for approval.");
	post_free(&p);
	/* 2: discard. */
	list_set_ok(f.list, "member_moderation_action", "discard");
	g_assert_cmpint(moderate(&f, ANN, &p), ==, PIPE_DISCARD);
	g_assert_nonnull(p->reason);
	g_assert_nonnull(strstr(p->reason, "ann@example.com"));
	post_free(&p);
	list_fixture_clear(&f);
}

/* Flood control: threshold 10, the eleventh post within the interval is
 * held, the member is moderated from then on, the owners are told once;
 * the count is the list's ledger, so a new post object (a restart, another
 * host) sees it. */
static void
test_moderate_flood_control_holds_the_post_over_the_threshold(void)
{
	struct list_fixture f;
	struct roster *r = NULL;
	GPtrArray *items;
	GMimeMessage *msg;
	char *subject;
	struct post *p;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "ann@example.com", 0);
	fixture_add_member(&f, "bob@example.com", 0);
	list_set_ok(f.list, "member_verbosity_threshold", "10");
	list_set_ok(f.list, "member_verbosity_interval", "300");
	for (int i = 0; i < 10; i++)
		g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_CONTINUE);
	/* Another member has a count of their own. */
	g_assert_cmpint(moderate(&f, "bob@example.com", NULL), ==, PIPE_CONTINUE);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 0);
	g_assert_cmpint(moderate(&f, ANN, &p), ==, PIPE_HOLD);
	g_assert_cmpstr(p->reason, ==, "Post by a moderated member");
	post_free(&p);
	g_assert_cmpint(roster_load(f.list, &r, NULL), ==, 0);
	g_assert_true(roster_find(r, "ann@example.com")->options & OPT_MODERATE);
	g_assert_false(roster_find(r, "bob@example.com")->options & OPT_MODERATE);
	roster_free(&r);
	items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 1);
	msg = item_message(items->pdata[0]);
	subject = message_header_decoded(msg, "Subject");
	g_assert_nonnull(strstr(subject, "ann@example.com moderated automatically"));
	g_free(subject);
	g_object_unref(msg);
	g_ptr_array_unref(items);
	/* Moderated now: held without another notice. */
	g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_HOLD);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 1);
	list_fixture_clear(&f);
}

/* With the default threshold 0 nothing is counted. */
static void
test_moderate_flood_control_off_by_default(void)
{
	struct list_fixture f;
	char *dir;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "ann@example.com", 0);
	for (int i = 0; i < 20; i++)
		g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_CONTINUE);
	dir = g_build_filename(list_dir(f.list), "verbosity.d", NULL);
	g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
	g_free(dir);
	list_fixture_clear(&f);
}

static void
test_moderate_nonmember_accept_list_exact_and_regex(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	/* Default generic_nonmember_action: hold. */
	g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_HOLD);
	list_set_ok(f.list, "accept_these_nonmembers", "Ann@Example.com");
	g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_CONTINUE);
	g_assert_cmpint(moderate(&f, "carl@example.com", NULL), ==, PIPE_HOLD);
	list_set_ok(f.list, "accept_these_nonmembers", "^[a-z]+@example\\.com$");
	g_assert_cmpint(moderate(&f, "carl@example.com", NULL), ==, PIPE_CONTINUE);
	/* Case-insensitive. */
	g_assert_cmpint(moderate(&f, "Carl@EXAMPLE.com", NULL), ==, PIPE_CONTINUE);
	g_assert_cmpint(moderate(&f, "carl@example.net", NULL), ==, PIPE_HOLD);
	list_fixture_clear(&f);
}

static void
test_moderate_nonmember_hold_reject_discard_lists(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "generic_nonmember_action", "accept");
	list_set_ok(f.list, "hold_these_nonmembers", "held@example.com");
	list_set_ok(f.list, "reject_these_nonmembers", "^rej.*@example\\.com$");
	list_set_ok(f.list, "discard_these_nonmembers", "gone@example.com");
	list_set_ok(f.list, "forward_auto_discards", "no");
	g_assert_cmpint(moderate(&f, "other@example.com", NULL), ==, PIPE_CONTINUE);
	g_assert_cmpint(moderate(&f, "held@example.com", &p), ==, PIPE_HOLD);
	g_assert_cmpstr(p->reason, ==, "Post by non-member to a members-only list");
	post_free(&p);
	g_assert_cmpint(moderate(&f, "reject-me@example.com", &p), ==, PIPE_REJECT);
	/* The default rejection names the owner address. */
	g_assert_nonnull(strstr(p->reason, "demo-owner@example.org"));
	post_free(&p);
	list_set_ok(f.list, "nonmember_rejection_notice", "Members only, sorry.");
	g_assert_cmpint(moderate(&f, "reject-me@example.com", &p), ==, PIPE_REJECT);
	g_assert_cmpstr(p->reason, ==, "Members only, sorry.");
	post_free(&p);
	g_assert_cmpint(moderate(&f, "gone@example.com", &p), ==, PIPE_DISCARD);
	g_assert_nonnull(strstr(p->reason, "gone@example.com"));
	post_free(&p);
	/* forward_auto_discards off: nobody told. */
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 0);
	/* accept comes first: an address in both is accepted. */
	list_set_ok(f.list, "accept_these_nonmembers", "held@example.com");
	g_assert_cmpint(moderate(&f, "held@example.com", NULL), ==, PIPE_CONTINUE);
	list_fixture_clear(&f);
}

static void
test_moderate_auto_discard_is_forwarded_to_owners(void)
{
	struct list_fixture f;
	GPtrArray *items;
	struct queue_item *it;
	GMimeMessage *msg;
	char *rc, *subject;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "moderator", "mod@example.org");
	list_set_ok(f.list, "discard_these_nonmembers", "gone@example.com");
	/* forward_auto_discards is on by default. */
	g_assert_cmpint(moderate(&f, "gone@example.com", NULL), ==, PIPE_DISCARD);
	items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 1);
	it = items->pdata[0];
	rc = item_rcpts(it);
	g_assert_cmpstr(rc, ==, "mod@example.org," FIXTURE_OWNER);
	g_free(rc);
	msg = item_message(it);
	subject = message_header_decoded(msg, "Subject");
	g_assert_cmpstr(subject, ==, "Auto-discard notification for " FQDN);
	g_free(subject);
	/* The discarded post goes along. */
	{
		GByteArray *b = message_to_bytes(msg);
		g_assert_nonnull(g_strstr_len((const char *)b->data, b->len,
					      "gone@example.com"));
		g_byte_array_unref(b);
	}
	g_object_unref(msg);
	g_ptr_array_unref(items);
	list_fixture_clear(&f);
}

static void
test_moderate_at_list_rule_accepts_members_of_that_list(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	make_other_list(&f, "other@example.org", "ann@example.com");
	make_other_list(&f, "far@elsewhere.example", "ann@example.com");
	/* "@other": the list of that name in this list's domain. */
	list_set_ok(f.list, "accept_these_nonmembers", "@other");
	g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_CONTINUE);
	g_assert_cmpint(moderate(&f, "carl@example.com", NULL), ==, PIPE_HOLD);
	/* "@name@domain": any list. */
	list_set_ok(f.list, "accept_these_nonmembers", "@far@elsewhere.example");
	g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_CONTINUE);
	/* A list that does not exist matches nobody. */
	list_set_ok(f.list, "accept_these_nonmembers", "@nosuch");
	g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_HOLD);
	/* Nor does a bad regex (logged). */
	list_set_ok(f.list, "accept_these_nonmembers", "^(ann");
	g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_HOLD);
	list_fixture_clear(&f);
}

static void
test_moderate_generic_nonmember_action_0_to_3(void)
{
	static const enum pipe_result want[] = {
		PIPE_CONTINUE, PIPE_HOLD, PIPE_REJECT, PIPE_DISCARD,
	};
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "forward_auto_discards", "no");
	for (int i = 0; i < 4; i++) {
		char v[2] = { (char)('0' + i), '\0' };
		struct post *p;

		list_set_ok(f.list, "generic_nonmember_action", v);
		g_assert_cmpint(moderate(&f, ANN, &p), ==, want[i]);
		if (want[i] != PIPE_CONTINUE)
			g_assert_nonnull(p->reason);
		post_free(&p);
	}
	list_fixture_clear(&f);
}

static void
test_moderate_equivalent_domain_address_is_a_member(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "ann@example.net", 0);
	fixture_add_member(&f, "mod@example.net", OPT_MODERATE);
	g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_HOLD);
	list_set_ok(f.list, "equivalent_domains", "example.org, example.com;"
		     "example.com,example.net");
	g_assert_cmpint(moderate(&f, ANN, NULL), ==, PIPE_CONTINUE);
	/* And the equivalent member's options apply. */
	g_assert_cmpint(moderate(&f, "mod@example.com", NULL), ==, PIPE_HOLD);
	list_set_ok(f.list, "generic_nonmember_action", "accept");
	g_assert_cmpint(moderate(&f, "mod@example.com", NULL), ==, PIPE_HOLD);
	list_fixture_clear(&f);
}

static void
test_moderate_member_by_sender_header_or_envelope_is_a_member(void)
{
	struct list_fixture f;
	struct post *p;
	char *text;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "bob@example.net", 0);
	text = msg_text(ANN, "Sender: bob@example.net\n", "Hi\n");
	p = fixture_post(&f, NULL, text);
	g_assert_cmpint(run_ok(p, pipe_moderate), ==, PIPE_CONTINUE);
	post_free(&p);
	g_free(text);
	text = msg_text(ANN, "", "Hi\n");
	p = fixture_post(&f, "Bob@Example.NET", text);
	g_assert_cmpint(run_ok(p, pipe_moderate), ==, PIPE_CONTINUE);
	post_free(&p);
	g_free(text);
	list_fixture_clear(&f);
}

static void
test_moderate_approved_post_skips_moderation(void)
{
	struct list_fixture f;
	struct post *p;
	char *text = msg_text(ANN, "", "Hi\n");

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "generic_nonmember_action", "discard");
	fixture_add_member(&f, "mod@example.com", OPT_MODERATE);
	p = fixture_post_meta(&f, NULL, text, "approved", "yes", NULL);
	g_assert_cmpint(run_ok(p, pipe_moderate), ==, PIPE_CONTINUE);
	g_assert_null(p->reason);
	post_free(&p);
	g_free(text);
	text = msg_text("mod@example.com", "", "Hi\n");
	p = fixture_post_meta(&f, NULL, text, "approved", "yes", NULL);
	g_assert_cmpint(run_ok(p, pipe_moderate), ==, PIPE_CONTINUE);
	post_free(&p);
	g_free(text);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 0);
	list_fixture_clear(&f);
}

/* --- hold ---------------------------------------------------------------- */

static enum pipe_result
hold_text(struct list_fixture *f, const char *text, struct post **p_r)
{
	struct post *p = fixture_post(f, NULL, text);
	enum pipe_result r = run_ok(p, pipe_hold);

	if (p_r != NULL)
		*p_r = p;
	else
		post_free(&p);
	return r;
}

static enum pipe_result
hold_extra(struct list_fixture *f, const char *extra, const char *body,
	   struct post **p_r)
{
	char *text = msg_text(ANN, extra, body);
	enum pipe_result r = hold_text(f, text, p_r);

	g_free(text);
	return r;
}

static void
test_hold_plain_post_passes(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	g_assert_cmpint(hold_extra(&f, "", "Hello, list.\n", &p), ==, PIPE_CONTINUE);
	g_assert_null(p->reason);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_hold_loop_via_x_beenthere_discarded_even_approved(void)
{
	struct list_fixture f;
	struct post *p;
	char *text;

	list_fixture_init(&f, FQDN);
	g_assert_cmpint(hold_extra(&f, "X-BeenThere: " FQDN "\n", "Hi\n", &p),
			==, PIPE_DISCARD);
	g_assert_nonnull(strstr(p->reason, "loop"));
	post_free(&p);
	/* Any case, after another list's. */
	g_assert_cmpint(hold_extra(&f, "X-BeenThere: other@example.org\n"
				   "X-BeenThere: Demo@Example.ORG\n", "Hi\n", NULL),
			==, PIPE_DISCARD);
	text = msg_text(ANN, "X-BeenThere: " FQDN "\n", "Hi\n");
	p = fixture_post_meta(&f, NULL, text, "approved", "yes", NULL);
	g_assert_cmpint(run_ok(p, pipe_hold), ==, PIPE_DISCARD);
	post_free(&p);
	g_free(text);
	/* Another list's X-BeenThere is no loop. */
	g_assert_cmpint(hold_extra(&f, "X-BeenThere: other@example.org\n", "Hi\n",
				   NULL), ==, PIPE_CONTINUE);
	list_fixture_clear(&f);
}

static void
test_hold_administrivia_subject_or_short_command_body_held(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	g_assert_cmpint(hold_text(&f, "From: " ANN "\nTo: " FQDN "\n"
				  "Subject: unsubscribe\n\nPlease.\n", &p),
			==, PIPE_HOLD);
	g_assert_nonnull(strstr(p->reason, "administrivia"));
	g_assert_nonnull(strstr(p->reason, "demo-request@example.org"));
	post_free(&p);
	g_assert_cmpint(hold_extra(&f, "", "subscribe\n", NULL), ==, PIPE_HOLD);
	g_assert_cmpint(hold_extra(&f, "", "\n  Subscribe me please\n\nAnn\n", NULL),
			==, PIPE_HOLD);
	/* Turned off: not held. */
	list_set_ok(f.list, "administrivia", "no");
	g_assert_cmpint(hold_extra(&f, "", "subscribe\n", NULL), ==, PIPE_CONTINUE);
	list_fixture_clear(&f);
}

static void
test_hold_administrivia_not_for_a_long_post_starting_with_help(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	g_assert_cmpint(hold_text(&f, "From: " ANN "\nTo: " FQDN "\n"
				  "Subject: Help me with the mail server\n\n"
				  "Help me with the configuration, please.\n"
				  "\n"
				  "I have set up the server as the guide says,\n"
				  "but the mail does not arrive at the list.\n"
				  "The log says nothing about it.\n"
				  "What am I missing?\n"
				  "\n"
				  "Thanks,\n"
				  "Ann\n", NULL), ==, PIPE_CONTINUE);
	/* A subject that starts with a command word but is a sentence. */
	g_assert_cmpint(hold_text(&f, "From: " ANN "\nTo: " FQDN "\n"
				  "Subject: set up of the new server here\n\n"
				  "We are done with it.\nLine\nLine\nLine\nLine\n"
				  "Line\n", NULL), ==, PIPE_CONTINUE);
	list_fixture_clear(&f);
}

/* A short post whose first line is a sentence that happens to start with
 * a command word is no command: a command takes a few arguments at most
 * (Mailman's test counts them; herald's own subject test stops at three
 * words).  "Who is coming to the meetup?" is a question to the list. */
static void
test_hold_administrivia_not_for_a_short_sentence_starting_with_command_word(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	g_assert_cmpint(hold_text(&f, "From: " ANN "\nTo: " FQDN "\n"
				  "Subject: Meetup\n\n"
				  "Who is coming to the meetup on Friday evening?\n"
				  "\nAnn\n", NULL), ==, PIPE_CONTINUE);
	g_assert_cmpint(hold_text(&f, "From: " ANN "\nTo: " FQDN "\n"
				  "Subject: Meetup\n\n"
				  "Join us at the meetup on Friday, all of you!\n",
				  NULL), ==, PIPE_CONTINUE);
	list_fixture_clear(&f);
}

static void
test_hold_max_num_recipients(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "max_num_recipients", "3");
	/* Three addresses in To and Cc: "this many or more" is held. */
	g_assert_cmpint(hold_text(&f, "From: " ANN "\n"
				  "To: " FQDN ", a@example.net\n"
				  "Cc: b@example.net\nSubject: Hi\n\nHi\n", &p),
			==, PIPE_HOLD);
	g_assert_cmpstr(p->reason, ==, "Too many recipients to the message");
	post_free(&p);
	g_assert_cmpint(hold_text(&f, "From: " ANN "\n"
				  "To: " FQDN "\nCc: a@example.net\n"
				  "Subject: Hi\n\nHi\n", NULL), ==, PIPE_CONTINUE);
	list_set_ok(f.list, "max_num_recipients", "0");
	g_assert_cmpint(hold_text(&f, "From: " ANN "\n"
				  "To: " FQDN ", a@example.net, c@example.net\n"
				  "Cc: b@example.net, d@example.net\n"
				  "Subject: Hi\n\nHi\n", NULL), ==, PIPE_CONTINUE);
	list_fixture_clear(&f);
}

static void
test_hold_require_explicit_destination_and_acceptable_aliases(void)
{
	static const char *const to_alias =
		"From: " ANN "\nTo: alias@example.org\nSubject: Hi\n\nHi\n";
	static const char *const to_prefixed =
		"From: " ANN "\nTo: demo-all@Example.ORG\nSubject: Hi\n\nHi\n";
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	g_assert_cmpint(hold_text(&f, "From: " ANN "\nTo: someone@example.net\n"
				  "Subject: Hi\n\nHi\n", &p), ==, PIPE_HOLD);
	g_assert_cmpstr(p->reason, ==, "Message has implicit destination");
	post_free(&p);
	/* The list in Cc, in any case, is explicit. */
	g_assert_cmpint(hold_text(&f, "From: " ANN "\nTo: someone@example.net\n"
				  "Cc: Demo <DEMO@Example.org>\nSubject: Hi\n\nHi\n",
				  NULL), ==, PIPE_CONTINUE);
	g_assert_cmpint(hold_text(&f, to_alias, NULL), ==, PIPE_HOLD);
	g_assert_cmpint(hold_text(&f, to_prefixed, NULL), ==, PIPE_HOLD);
	list_set_ok(f.list, "acceptable_aliases", "Alias@example.org\n"
		    "^demo-[a-z]+@example\\.org$");
	g_assert_cmpint(hold_text(&f, to_alias, NULL), ==, PIPE_CONTINUE);
	g_assert_cmpint(hold_text(&f, to_prefixed, NULL), ==, PIPE_CONTINUE);
	g_assert_cmpint(hold_text(&f, "From: " ANN "\nTo: demo-1@example.org\n"
				  "Subject: Hi\n\nHi\n", NULL), ==, PIPE_HOLD);
	list_set_ok(f.list, "acceptable_aliases", "");
	list_set_ok(f.list, "require_explicit_destination", "no");
	g_assert_cmpint(hold_text(&f, to_alias, NULL), ==, PIPE_CONTINUE);
	list_fixture_clear(&f);
}

static void
test_hold_bounce_matching_headers(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "bounce_matching_headers", "X-Spam-Flag: ^yes");
	g_assert_cmpint(hold_extra(&f, "X-Spam-Flag: YES\n", "Hi\n", &p), ==,
			PIPE_HOLD);
	g_assert_nonnull(strstr(p->reason, "bounce_matching_headers"));
	post_free(&p);
	g_assert_cmpint(hold_extra(&f, "X-Spam-Flag: no\n", "Hi\n", NULL), ==,
			PIPE_CONTINUE);
	g_assert_cmpint(hold_extra(&f, "", "Hi\n", NULL), ==, PIPE_CONTINUE);
	list_fixture_clear(&f);
}

static void
test_hold_header_filter_rules_accept_hold_reject_discard(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "header_filter_rules",
		    "accept ^X-Trusted: yes\n"
		    "hold ^Subject: .*cheap\n"
		    "reject ^X-Mailer: spambot\n"
		    "discard ^X-Spam-Level: \\*{5}");
	g_assert_cmpint(hold_text(&f, "From: " ANN "\nTo: " FQDN "\n"
				  "Subject: Cheap watches\n\nHi\n", &p), ==, PIPE_HOLD);
	g_assert_nonnull(strstr(p->reason, "filter rule"));
	post_free(&p);
	g_assert_cmpint(hold_extra(&f, "X-Mailer: SpamBot 2.0\n", "Hi\n", NULL),
			==, PIPE_REJECT);
	g_assert_cmpint(hold_extra(&f, "X-Spam-Level: *******\n", "Hi\n", NULL),
			==, PIPE_DISCARD);
	/* The first rule that matches decides: accept wins over the rest. */
	g_assert_cmpint(hold_text(&f, "From: " ANN "\nTo: " FQDN "\n"
				  "X-Trusted: yes\nX-Mailer: spambot\n"
				  "Subject: Cheap watches\n\nHi\n", NULL), ==,
			PIPE_CONTINUE);
	g_assert_cmpint(hold_extra(&f, "X-Mailer: mutt\n", "Hi\n", NULL), ==,
			PIPE_CONTINUE);
	list_fixture_clear(&f);
}

static void
test_hold_max_message_size_from_meta_post_size(void)
{
	struct list_fixture f;
	struct post *p;
	char *text = msg_text(ANN, "", "Hi\n");
	GString *big;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "max_message_size", "1");
	p = fixture_post_meta(&f, NULL, text, "post-body-size", "1025", NULL);
	g_assert_cmpint(run_ok(p, pipe_hold), ==, PIPE_HOLD);
	g_assert_nonnull(strstr(p->reason, "1025 bytes"));
	post_free(&p);
	p = fixture_post_meta(&f, NULL, text, "post-body-size", "1024", NULL);
	g_assert_cmpint(run_ok(p, pipe_hold), ==, PIPE_CONTINUE);
	post_free(&p);
	g_free(text);
	/* Without post-body-size the body of the message itself is measured. */
	big = g_string_new(NULL);
	for (int i = 0; i < 40; i++)
		g_string_append(big, "0123456789012345678901234567890123456789\n");
	text = msg_text(ANN, "", big->str);
	g_assert_cmpint(hold_text(&f, text, NULL), ==, PIPE_HOLD);
	list_set_ok(f.list, "max_message_size", "0");
	g_assert_cmpint(hold_text(&f, text, NULL), ==, PIPE_CONTINUE);
	g_free(text);
	g_string_free(big, TRUE);
	list_fixture_clear(&f);
}

static void
test_hold_approved_skips_all_checks_but_the_loop(void)
{
	static const char *const text =
		"From: " ANN "\n"
		"To: someone@example.net, a@example.net, b@example.net\n"
		"X-Spam-Flag: yes\n"
		"Subject: unsubscribe\n\nsubscribe\n";
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "max_num_recipients", "2");
	list_set_ok(f.list, "max_message_size", "1");
	list_set_ok(f.list, "bounce_matching_headers", "X-Spam-Flag: yes");
	list_set_ok(f.list, "header_filter_rules", "discard ^Subject:");
	g_assert_cmpint(hold_text(&f, text, NULL), !=, PIPE_CONTINUE);
	p = fixture_post_meta(&f, NULL, text, "approved", "yes",
			      "post-body-size", "999999", NULL);
	g_assert_cmpint(run_ok(p, pipe_hold), ==, PIPE_CONTINUE);
	post_free(&p);
	list_fixture_clear(&f);
}

/* --- emergency ----------------------------------------------------------- */

static void
test_emergency_holds_quietly_unless_approved(void)
{
	struct list_fixture f;
	struct post *p;
	char *text = msg_text(ANN, "", "Hi\n");

	list_fixture_init(&f, FQDN);
	p = fixture_post(&f, NULL, text);
	g_assert_cmpint(run_ok(p, pipe_emergency), ==, PIPE_CONTINUE);
	post_free(&p);
	list_set_ok(f.list, "emergency", "yes");
	p = fixture_post(&f, NULL, text);
	g_assert_cmpint(run_ok(p, pipe_emergency), ==, PIPE_HOLD);
	g_assert_nonnull(p->reason);
	g_assert_cmpstr(queue_meta_get(p->meta, "hold-quiet"), ==, "yes");
	post_free(&p);
	p = fixture_post_meta(&f, NULL, text, "approved", "yes", NULL);
	g_assert_cmpint(run_ok(p, pipe_emergency), ==, PIPE_CONTINUE);
	g_assert_null(queue_meta_get(p->meta, "hold-quiet"));
	post_free(&p);
	g_free(text);
	list_fixture_clear(&f);
}

/* --- recipients ---------------------------------------------------------- */

static void
test_calcrecips_only_regular_enabled_members(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "a@example.net", 0);
	fixture_add_member(&f, "Bob@Example.NET", OPT_ACK);
	fixture_put_member(f.list, "mime@example.net", MODE_MIME_DIGEST,
			   STATUS_ENABLED, 0);
	fixture_put_member(f.list, "plain@example.net", MODE_PLAIN_DIGEST,
			   STATUS_ENABLED, 0);
	fixture_put_member(f.list, "nomail@example.net", MODE_REGULAR,
			   STATUS_BY_USER, 0);
	fixture_put_member(f.list, "owneroff@example.net", MODE_REGULAR,
			   STATUS_BY_OWNER, 0);
	fixture_put_member(f.list, "bouncing@example.net", MODE_REGULAR,
			   STATUS_BY_BOUNCE, 0);
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(run_ok(p, pipe_calcrecips), ==, PIPE_CONTINUE);
	/* The address as the member wrote it. */
	assert_recipients(p, "Bob@example.net,a@example.net");
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_calcrecips_poster_left_out_only_with_notmetoo(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "ann@example.com", OPT_NOTMETOO);
	fixture_add_member(&f, "bob@example.net", 0);
	p = simple_post(&f, "Ann <ANN@example.com>", "");
	run_ok(p, pipe_calcrecips);
	assert_recipients(p, "bob@example.net");
	post_free(&p);
	p = simple_post(&f, "bob@example.net", "");
	run_ok(p, pipe_calcrecips);
	assert_recipients(p, "ann@example.com,bob@example.net");
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_calcrecips_keeps_existing_recipients(void)
{
	struct list_fixture f;
	struct post *p;
	char *text = msg_text(ANN, "", "Hi\n");

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "bob@example.net", 0);
	p = fixture_post_meta(&f, NULL, text, "rcpt", "kept@example.net", NULL);
	run_ok(p, pipe_calcrecips);
	assert_recipients(p, "kept@example.net");
	post_free(&p);
	g_free(text);
	list_fixture_clear(&f);
}

static void
test_avoiddups_removes_named_nodupes_members_only(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "nodup@example.net", OPT_NODUPES);
	fixture_add_member(&f, "dupok@example.net", 0);
	fixture_add_member(&f, "unnamed@example.net", OPT_NODUPES);
	p = simple_post(&f, ANN, "Cc: NoDup@Example.net, dupok@example.net\n");
	run_ok(p, pipe_calcrecips);
	assert_recipients(p, "dupok@example.net,nodup@example.net,"
			  "unnamed@example.net");
	g_assert_cmpint(run_ok(p, pipe_avoiddups), ==, PIPE_CONTINUE);
	assert_recipients(p, "dupok@example.net,unnamed@example.net");
	post_free(&p);
	/* No recipients yet: nothing to do. */
	p = simple_post(&f, ANN, "Cc: nodup@example.net\n");
	g_assert_cmpint(run_ok(p, pipe_avoiddups), ==, PIPE_CONTINUE);
	g_assert_null(p->recipients);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_ownerrecips_owners_and_moderators_without_duplicates_nodecorate(void)
{
	struct list_fixture f;
	struct post *p;
	char *text = msg_text(ANN, "", "Hi\n");

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "owner", FIXTURE_OWNER "\nboth@example.org");
	list_set_ok(f.list, "moderator", "both@example.org\nmod@example.org");
	p = fixture_post_meta(&f, NULL, text, "rcpt", "replaced@example.net", NULL);
	g_assert_cmpint(run_ok(p, pipe_ownerrecips), ==, PIPE_CONTINUE);
	assert_recipients(p, "both@example.org,mod@example.org," FIXTURE_OWNER);
	g_assert_cmpstr(queue_meta_get(p->meta, "nodecorate"), ==, "yes");
	post_free(&p);
	g_free(text);
	list_fixture_clear(&f);
}

/* An owner who is also a moderator is one person however the two settings
 * spell the address's case (address_equal): one copy. */
static void
test_ownerrecips_duplicate_in_another_case_is_one_recipient(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "owner", "Both@example.org");
	list_set_ok(f.list, "moderator", "both@example.org");
	p = simple_post(&f, ANN, "");
	run_ok(p, pipe_ownerrecips);
	g_assert_nonnull(p->recipients);
	g_assert_cmpuint(p->recipients->len, ==, 1);
	post_free(&p);
	list_fixture_clear(&f);
}

/* --- fan-out ------------------------------------------------------------- */

static void
test_todigest_copies_only_when_digestable(void)
{
	struct list_fixture f;
	struct post *p;

	list_fixture_init(&f, FQDN);
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(run_ok(p, pipe_todigest), ==, PIPE_CONTINUE);
	g_assert_cmpuint(queue_length(f.var, "digest"), ==, 1);
	post_free(&p);
	list_set_ok(f.list, "digestable", "no");
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(run_ok(p, pipe_todigest), ==, PIPE_CONTINUE);
	g_assert_cmpuint(queue_length(f.var, "digest"), ==, 1);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_toarchive_skips_no_archive_headers_and_archive_off(void)
{
	static const struct {
		const char *extra;
		guint copies;
	} cases[] = {
		{ "", 1 },
		{ "X-No-Archive: yes\n", 0 },
		{ "X-Archive: no\n", 0 },
		{ "X-Archive: No\n", 0 },
		{ "X-Archive: yes\n", 1 },
	};
	struct list_fixture f;
	struct post *p;
	guint total = 0;

	list_fixture_init(&f, FQDN);
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("case %s", cases[i].extra);
		p = simple_post(&f, ANN, cases[i].extra);
		g_assert_cmpint(run_ok(p, pipe_toarchive), ==, PIPE_CONTINUE);
		total += cases[i].copies;
		g_assert_cmpuint(queue_length(f.var, "archive"), ==, total);
		post_free(&p);
	}
	list_set_ok(f.list, "archive", "no");
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(run_ok(p, pipe_toarchive), ==, PIPE_CONTINUE);
	g_assert_cmpuint(queue_length(f.var, "archive"), ==, total);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_tooutgoing_writes_recipients_to_out_queue(void)
{
	struct list_fixture f;
	struct post *p;
	GPtrArray *items;
	struct queue_item *it;
	GMimeMessage *msg;
	char *rc;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "a@example.net", 0);
	fixture_add_member(&f, "b@example.net", 0);
	p = simple_post(&f, ANN, "");
	run_ok(p, pipe_calcrecips);
	g_assert_cmpint(run_ok(p, pipe_tooutgoing), ==, PIPE_CONTINUE);
	items = queue_read_all(f.var, "out");
	g_assert_cmpuint(items->len, ==, 1);
	it = items->pdata[0];
	rc = item_rcpts(it);
	g_assert_cmpstr(rc, ==, "a@example.net,b@example.net");
	g_free(rc);
	g_assert_cmpstr(queue_meta_get(it->meta, "list"), ==, FQDN);
	msg = item_message(it);
	g_assert_cmpstr(message_header(msg, "Message-ID"), ==, "<m1@example.com>");
	g_object_unref(msg);
	g_ptr_array_unref(items);
	post_free(&p);
	/* Nobody to send to: nothing queued, and no error. */
	p = simple_post(&f, ANN, "");
	p->recipients = g_ptr_array_new_with_free_func(g_free);
	g_assert_cmpint(run_ok(p, pipe_tooutgoing), ==, PIPE_CONTINUE);
	g_assert_cmpuint(queue_length(f.var, "out"), ==, 1);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_afterdelivery_sets_last_post_time(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct post *p;
	int64_t before = (int64_t)time(NULL), after, last = 0;

	list_fixture_init(&f, FQDN);
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(run_ok(p, pipe_afterdelivery), ==, PIPE_CONTINUE);
	after = (int64_t)time(NULL);
	g_assert_cmpint(list_counter_get(f.list, "last_post_time", &last, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(last, >=, before);
	g_assert_cmpint(last, <=, after);
	post_free(&p);
	list_fixture_clear(&f);
}

/* A post numbered by afterdelivery gets the list's next number (post_id,
 * 1 on a new list, then 2) and the time in one update; one numbered
 * earlier (subject_prefix's %d) keeps its number and still gets the time. */
static void
test_afterdelivery_numbers_and_stamps(void)
{
	struct list_fixture f;
	struct post *p;
	int64_t before = (int64_t)time(NULL), id = 0, last = 0;

	list_fixture_init(&f, FQDN);
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(run_ok(p, pipe_afterdelivery), ==, PIPE_CONTINUE);
	g_assert_cmpint(list_counter_get(f.list, "post_id", &id, NULL), ==, 0);
	g_assert_cmpint(id, ==, 2);
	g_assert_cmpint(queue_meta_get_int(p->meta, META_POST_ID, 0), ==, 1);
	post_free(&p);

	list_counter_update(f.list, "last_post_time", 0, 5, NULL, NULL);
	p = simple_post(&f, ANN, "");
	queue_meta_set_int(p->meta, META_POST_ID, 7);
	g_assert_cmpint(run_ok(p, pipe_afterdelivery), ==, PIPE_CONTINUE);
	g_assert_cmpint(list_counter_get(f.list, "post_id", &id, NULL), ==, 0);
	g_assert_cmpint(id, ==, 2);
	g_assert_cmpint(queue_meta_get_int(p->meta, META_POST_ID, 0), ==, 7);
	g_assert_cmpint(list_counter_get(f.list, "last_post_time", &last, NULL), ==, 0);
	g_assert_cmpint(last, >=, before);
	post_free(&p);
	list_fixture_clear(&f);
}

static void
test_acknowledge_only_members_with_ack(void)
{
	struct list_fixture f;
	struct post *p;
	GPtrArray *items;
	GMimeMessage *msg;
	char *rc, *subject, *body;

	list_fixture_init(&f, FQDN);
	fixture_add_member(&f, "ann@example.com", OPT_ACK);
	fixture_add_member(&f, "bob@example.net", 0);
	p = simple_post(&f, "bob@example.net", "");
	g_assert_cmpint(run_ok(p, pipe_acknowledge), ==, PIPE_CONTINUE);
	post_free(&p);
	p = simple_post(&f, "carl@example.net", "");
	g_assert_cmpint(run_ok(p, pipe_acknowledge), ==, PIPE_CONTINUE);
	post_free(&p);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 0);
	p = simple_post(&f, ANN, "");
	g_assert_cmpint(run_ok(p, pipe_acknowledge), ==, PIPE_CONTINUE);
	post_free(&p);
	items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 1);
	rc = item_rcpts(items->pdata[0]);
	g_assert_cmpstr(rc, ==, "ann@example.com");
	msg = item_message(items->pdata[0]);
	subject = message_header_decoded(msg, "Subject");
	g_assert_nonnull(strstr(subject, "acknowledgement"));
	body = body_text(msg);
	g_assert_nonnull(strstr(body, "Subject: Hello"));
	g_free(rc);
	g_free(subject);
	g_free(body);
	g_object_unref(msg);
	g_ptr_array_unref(items);
	list_fixture_clear(&f);
}

/* --- replybot ------------------------------------------------------------ */

static guint
replybot_run(struct list_fixture *f, const char *extra)
{
	struct post *p = simple_post(f, ANN, extra);

	g_assert_cmpint(run_ok(p, pipe_replybot), ==, PIPE_CONTINUE);
	post_free(&p);
	return queue_length(f->var, "virgin");
}

static void
test_replybot_one_response_per_grace_period(void)
{
	struct list_fixture f;
	GPtrArray *items;
	GMimeMessage *msg;
	char *rc, *body, *subject;

	list_fixture_init(&f, FQDN);
	/* Off by default. */
	g_assert_cmpuint(replybot_run(&f, ""), ==, 0);
	list_set_ok(f.list, "autorespond_postings", "yes");
	list_set_ok(f.list, "autoresponse_postings_text", "Thanks for writing.");
	g_assert_cmpuint(replybot_run(&f, ""), ==, 1);
	/* Again within autoresponse_graceperiod (90 days): none. */
	g_assert_cmpuint(replybot_run(&f, ""), ==, 1);
	items = queue_read_all(f.var, "virgin");
	rc = item_rcpts(items->pdata[0]);
	g_assert_cmpstr(rc, ==, "ann@example.com");
	msg = item_message(items->pdata[0]);
	body = body_text(msg);
	g_assert_nonnull(strstr(body, "Thanks for writing."));
	subject = message_header_decoded(msg, "Subject");
	g_assert_nonnull(strstr(subject, "Hello"));
	g_free(rc);
	g_free(body);
	g_free(subject);
	g_object_unref(msg);
	g_ptr_array_unref(items);
	list_fixture_clear(&f);
}

/* The texts take the list's variables, Mailman's replybot names among
 * them; an unknown name stays as written. */
static void
test_replybot_text_variables_filled(void)
{
	struct list_fixture f;
	GPtrArray *items;
	GMimeMessage *msg;
	char *body;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "autorespond_postings", "yes");
	list_set_ok(f.list, "autoresponse_postings_text",
		    "%(listname)s at %(listurl)s; ask %(requestemail)s or "
		    "%(owneremail)s (%(adminemail)s), %(real_name)s, "
		    "%(nosuch)s, 100%%");
	g_assert_cmpuint(replybot_run(&f, ""), ==, 1);
	items = queue_read_all(f.var, "virgin");
	msg = item_message(items->pdata[0]);
	body = body_text(msg);
	g_assert_cmpstr(body, ==,
			"demo at https://example.org/listinfo/demo@example.org; "
			"ask demo-request@example.org or demo-owner@example.org "
			"(demo-bounces@example.org), Demo, %(nosuch)s, 100%\n");
	g_free(body);
	g_object_unref(msg);
	g_ptr_array_unref(items);
	list_fixture_clear(&f);
}

/* A quoted local part may hold a space; its key keeps it.  The grace
 * period still holds for such a poster. */
static void
test_replybot_grace_period_holds_for_address_with_space(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "autorespond_postings", "yes");
	g_assert_cmpint(site_set(f.site, "notice.max_autoresponses_per_day", "0",
				 NULL), ==, 0);
	for (int i = 0; i < 2; i++) {
		struct post *p = simple_post(&f, "John <\"john doe\"@example.com>", "");

		g_assert_cmpstr(p->poster, ==, "\"john doe\"@example.com");
		run_ok(p, pipe_replybot);
		post_free(&p);
	}
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 1);
	list_fixture_clear(&f);
}

static void
test_replybot_grace_period_0_responds_every_time(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "autorespond_postings", "yes");
	list_set_ok(f.list, "autoresponse_graceperiod", "0");
	g_assert_cmpuint(replybot_run(&f, ""), ==, 1);
	g_assert_cmpuint(replybot_run(&f, ""), ==, 2);
	list_fixture_clear(&f);
}

static void
test_replybot_bulk_and_x_ack_no_get_none(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "autorespond_postings", "yes");
	g_assert_cmpuint(replybot_run(&f, "Precedence: bulk\n"), ==, 0);
	g_assert_cmpuint(replybot_run(&f, "Precedence: Junk\n"), ==, 0);
	g_assert_cmpuint(replybot_run(&f, "Precedence: list\n"), ==, 0);
	g_assert_cmpuint(replybot_run(&f, "X-Ack: no\n"), ==, 0);
	/* X-Ack: yes asks for one even from bulk mail. */
	g_assert_cmpuint(replybot_run(&f, "Precedence: bulk\nX-Ack: yes\n"), ==, 1);
	list_fixture_clear(&f);
}

static void
test_replybot_owner_mail_uses_autorespond_admin(void)
{
	struct list_fixture f;
	struct post *p;
	char *text = msg_text(ANN, "", "Hi\n");

	list_fixture_init(&f, FQDN);
	list_set_ok(f.list, "autorespond_postings", "yes");
	p = fixture_post_meta(&f, NULL, text, "kind", "owner", NULL);
	run_ok(p, pipe_replybot);
	post_free(&p);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 0);
	list_set_ok(f.list, "autorespond_admin", "yes");
	p = fixture_post_meta(&f, NULL, text, "kind", "owner", NULL);
	run_ok(p, pipe_replybot);
	post_free(&p);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 1);
	g_free(text);
	list_fixture_clear(&f);
}

/* --- running ------------------------------------------------------------- */

static const struct unit_test tests[] = {
	{ "/post/new/poster-from-from-normalised-with-display-name",
	  test_post_new_poster_is_from_address_normalised_with_display_name },
	{ "/post/new/display-name-decoded-to-utf8",
	  test_post_new_display_name_is_decoded_to_utf8 },
	{ "/post/new/poster-from-sender-without-from",
	  test_post_new_poster_from_sender_header_without_from },
	{ "/post/new/poster-from-envelope-without-from-or-sender",
	  test_post_new_poster_from_envelope_without_from_or_sender },
	{ "/post/new/reads-back-approval-and-recipients",
	  test_post_new_reads_back_approval_and_recipients_from_meta },
	{ "/post/enqueue/writes-recipients-approval-and-rest",
	  test_post_enqueue_writes_recipients_approval_and_rest },
	{ "/post/number/counts-once-kept-in-meta-for-resumed-post",
	  test_post_number_counts_once_and_is_kept_in_meta_for_a_resumed_post },
	{ "/pipeline/run/follows-the-order-given",
	  test_run_follows_the_order_given },
	{ "/pipeline/run/hold-returns-handlers-after-the-holder",
	  test_run_hold_returns_the_handlers_after_the_holder },
	{ "/pipeline/run/ignores-spaces-and-empty-names",
	  test_run_ignores_spaces_and_empty_names },
	{ "/pipeline/run/error-returns-rest-from-the-failing-handler",
	  test_run_error_returns_rest_from_the_failing_handler },
	{ "/pipeline/run/unknown-handler-is-an-error-invalid",
	  test_run_unknown_handler_is_an_error_invalid },
	{ "/approve/header-mod-password-approves-and-is-removed",
	  test_approve_header_with_moderator_password_approves_and_is_removed },
	{ "/approve/wrong-password-not-approved-header-removed",
	  test_approve_wrong_password_not_approved_but_header_removed },
	{ "/approve/header-variants-approve-and-are-removed",
	  test_approve_header_variants_approve_and_are_removed },
	{ "/approve/body-password-line-and-blank-line-removed",
	  test_approve_body_password_line_and_blank_line_removed_from_text },
	{ "/approve/body-password-removed-from-quoted-printable-text",
	  test_approve_body_password_removed_from_quoted_printable_text },
	{ "/approve/body-password-only-on-first-nonblank-line",
	  test_approve_body_password_only_on_first_nonblank_line },
	{ "/approve/body-password-removed-from-html-alternative",
	  test_approve_body_password_removed_from_html_alternative },
	{ "/approve/owner-and-post-passwords-approve",
	  test_approve_owner_and_post_passwords_approve },
	{ "/approve/without-password-changes-nothing",
	  test_approve_without_password_changes_nothing },
	{ "/moderate/member-without-mod-flag-passes",
	  test_moderate_member_without_mod_flag_passes },
	{ "/moderate/moderated-member-hold-reject-discard-by-action",
	  test_moderate_moderated_member_hold_reject_discard_by_action },
	{ "/moderate/flood-control-holds-the-post-over-the-threshold",
	  test_moderate_flood_control_holds_the_post_over_the_threshold },
	{ "/moderate/flood-control-off-by-default",
	  test_moderate_flood_control_off_by_default },
	{ "/moderate/nonmember-accept-exact-and-regex",
	  test_moderate_nonmember_accept_list_exact_and_regex },
	{ "/moderate/nonmember-hold-reject-discard-lists",
	  test_moderate_nonmember_hold_reject_discard_lists },
	{ "/moderate/auto-discard-forwarded-to-owners",
	  test_moderate_auto_discard_is_forwarded_to_owners },
	{ "/moderate/at-list-rule-accepts-members-of-that-list",
	  test_moderate_at_list_rule_accepts_members_of_that_list },
	{ "/moderate/generic-nonmember-action-0-to-3",
	  test_moderate_generic_nonmember_action_0_to_3 },
	{ "/moderate/equivalent-domain-address-is-a-member",
	  test_moderate_equivalent_domain_address_is_a_member },
	{ "/moderate/member-by-sender-header-or-envelope",
	  test_moderate_member_by_sender_header_or_envelope_is_a_member },
	{ "/moderate/approved-post-skips-moderation",
	  test_moderate_approved_post_skips_moderation },
	{ "/hold/plain-post-passes", test_hold_plain_post_passes },
	{ "/hold/loop-x-beenthere-discarded-even-approved",
	  test_hold_loop_via_x_beenthere_discarded_even_approved },
	{ "/hold/administrivia-subject-or-short-command-body-held",
	  test_hold_administrivia_subject_or_short_command_body_held },
	{ "/hold/administrivia-not-for-long-post-starting-with-help",
	  test_hold_administrivia_not_for_a_long_post_starting_with_help },
	{ "/hold/administrivia-not-for-short-sentence-starting-with-command-word",
	  test_hold_administrivia_not_for_a_short_sentence_starting_with_command_word },
	{ "/hold/max-num-recipients", test_hold_max_num_recipients },
	{ "/hold/require-explicit-destination-and-acceptable-aliases",
	  test_hold_require_explicit_destination_and_acceptable_aliases },
	{ "/hold/bounce-matching-headers", test_hold_bounce_matching_headers },
	{ "/hold/header-filter-rules-accept-hold-reject-discard",
	  test_hold_header_filter_rules_accept_hold_reject_discard },
	{ "/hold/max-message-size-from-meta-post-body-size",
	  test_hold_max_message_size_from_meta_post_size },
	{ "/hold/approved-skips-all-but-the-loop",
	  test_hold_approved_skips_all_checks_but_the_loop },
	{ "/emergency/holds-quietly-unless-approved",
	  test_emergency_holds_quietly_unless_approved },
	{ "/calcrecips/only-regular-enabled-members",
	  test_calcrecips_only_regular_enabled_members },
	{ "/calcrecips/poster-left-out-only-with-notmetoo",
	  test_calcrecips_poster_left_out_only_with_notmetoo },
	{ "/calcrecips/keeps-existing-recipients",
	  test_calcrecips_keeps_existing_recipients },
	{ "/avoiddups/removes-named-nodupes-members-only",
	  test_avoiddups_removes_named_nodupes_members_only },
	{ "/ownerrecips/owners-and-moderators-no-duplicates-nodecorate",
	  test_ownerrecips_owners_and_moderators_without_duplicates_nodecorate },
	{ "/ownerrecips/duplicate-in-another-case-is-one-recipient",
	  test_ownerrecips_duplicate_in_another_case_is_one_recipient },
	{ "/todigest/copies-only-when-digestable",
	  test_todigest_copies_only_when_digestable },
	{ "/toarchive/skips-no-archive-headers-and-archive-off",
	  test_toarchive_skips_no_archive_headers_and_archive_off },
	{ "/tooutgoing/writes-recipients-to-out-queue",
	  test_tooutgoing_writes_recipients_to_out_queue },
	{ "/afterdelivery/numbers-and-stamps",
	  test_afterdelivery_numbers_and_stamps },
	{ "/afterdelivery/sets-last-post-time",
	  test_afterdelivery_sets_last_post_time },
	{ "/acknowledge/only-members-with-ack",
	  test_acknowledge_only_members_with_ack },
	{ "/replybot/one-response-per-grace-period",
	  test_replybot_one_response_per_grace_period },
	{ "/replybot/text-variables-filled",
	  test_replybot_text_variables_filled },
	{ "/replybot/grace-period-holds-for-address-with-space",
	  test_replybot_grace_period_holds_for_address_with_space },
	{ "/replybot/grace-period-0-responds-every-time",
	  test_replybot_grace_period_0_responds_every_time },
	{ "/replybot/bulk-and-x-ack-no-get-none",
	  test_replybot_bulk_and_x_ack_no_get_none },
	{ "/replybot/owner-mail-uses-autorespond-admin",
	  test_replybot_owner_mail_uses_autorespond_admin },
};

UNIT_TEST_MAIN(tests)
