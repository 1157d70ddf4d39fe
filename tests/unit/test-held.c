/*
 * test-held.c - unit tests for held.c: storing held posts, listing them
 * (in id order, with poster, subject and reason), reading one back, and
 * the moderators' decisions: approve (back to the in queue, approved, with
 * the handlers still to run), reject (the poster is told why), discard,
 * defer; a missing post and a second decision on one post are NOTFOUND,
 * and a decision that fails leaves the post where it was.
 *
 * post_hold, the pipeline's way in, stores a post as the handlers left it.
 *
 * Every test parses real messages and runs against a fresh var dir with a
 * list demo@example.org, in a child process of its own.
 */
#include "mail/address.h"
#include "base/base.h"
#include "list/held.h"
#include "list/list.h"
#include "store/lock.h"
#include "base/log.h"
#include "mail/message.h"
#include "pipeline/pipeline.h"
#include "store/queue.h"
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

static char *
msg_text(const char *from, const char *subject)
{
	return g_strdup_printf("From: %s\n"
			       "To: " FQDN "\n"
			       "Subject: %s\n"
			       "Message-ID: <held-%s@example.com>\n"
			       "\n"
			       "Please post this.\n", from, subject, subject);
}

/* A post from from with subject, held by handler for reason, with rest
 * still to run; returns its id.  *bytes_r (optional) gets the message as
 * stored. */
static int64_t
hold(struct list_fixture *f, const char *from, const char *subject,
     const char *handler, const char *reason, const char *rest,
     GByteArray **bytes_r)
{
	char *text = msg_text(from, subject);
	GError *error = NULL;
	struct post *p;
	int64_t id = -1;

	/* A post for its metadata and poster, as the pipeline has them. */
	p = fixture_post_meta(f, "bounce@example.com", text,
			      "received", "1700000000000000",
			      "rcpt", "r1@example.net", NULL);
	g_assert_cmpint(held_store(f->list, p->msg, p->meta, p->poster, reason,
				   handler, rest, &id, &error), ==, 0);
	g_assert_no_error(error);
	if (bytes_r != NULL)
		*bytes_r = message_to_bytes(p->msg);
	post_free(&p);
	g_free(text);
	return id;
}

static GPtrArray *
list_ok(struct list_fixture *f)
{
	GError *error = NULL;
	GPtrArray *posts = NULL;

	g_assert_cmpint(held_list(f->list, &posts, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_nonnull(posts);
	return posts;
}

/* Whether held post id is there (held_get). */
static gboolean
is_held(struct list_fixture *f, int64_t id)
{
	GError *error = NULL;
	struct held_post *h = NULL;
	int r = held_get(f->list, id, &h, &error);

	g_assert_no_error(error);
	g_assert_cmpint(r, >=, 0);
	g_assert_true((r == 1) == (h != NULL));
	held_post_free(&h);
	return r == 1;
}

/* The names of the files in the list's held directory, sorted, joined. */
static char *
held_files(struct list_fixture *f)
{
	char *dir = g_build_filename(list_dir(f->list), "held", NULL);
	GPtrArray *names = fs_dir_names(dir, NULL, NULL);
	char *s;

	if (names != NULL) {
		g_ptr_array_sort(names, str_ptr_compare);
		s = strings_joined(names, " ");
		g_ptr_array_free(names, TRUE);
	} else {
		s = g_strdup("");
	}
	g_free(dir);
	return s;
}

/* How many entries the in and virgin queues hold. */
static void
assert_queued(struct list_fixture *f, guint in, guint virgin)
{
	g_assert_cmpuint(queue_length(f->var, "in"), ==, in);
	g_assert_cmpuint(queue_length(f->var, "virgin"), ==, virgin);
}

static void
decide_ok(struct list_fixture *f, int64_t id, enum held_action action,
	  const char *reason)
{
	GError *error = NULL;

	g_assert_cmpint(held_decide(f->list, id, action, reason, &error), ==, 0);
	g_assert_no_error(error);
}

static void
decide_notfound(struct list_fixture *f, int64_t id, enum held_action action)
{
	GError *error = NULL;

	g_assert_cmpint(held_decide(f->list, id, action, NULL, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND);
	g_clear_error(&error);
}

#define ANN "Ann Poster <ann@example.com>"

/* --- store, list, get ---------------------------------------------------- */

static void
test_list_is_empty_when_nothing_was_held(void)
{
	struct list_fixture f;
	GPtrArray *posts;

	list_fixture_init(&f, FQDN);
	posts = list_ok(&f);
	g_assert_cmpuint(posts->len, ==, 0);
	g_ptr_array_unref(posts);
	list_fixture_clear(&f);
}

static void
test_store_then_list_shows_id_poster_subject_reason_in_id_order(void)
{
	struct list_fixture f;
	GPtrArray *posts;
	struct held_post *h;
	int64_t before = (int64_t)time(NULL), after;

	list_fixture_init(&f, FQDN);
	g_assert_cmpint(hold(&f, ANN, "First", "moderate",
			     "Post by non-member to a members-only list",
			     "hold,calcrecips", NULL), ==, 1);
	g_assert_cmpint(hold(&f, "bob@example.net", "=?UTF-8?Q?Caf=C3=A9?=",
			     "hold", "Message has implicit destination",
			     "calcrecips", NULL), ==, 2);
	/* Up to 11: ids sort as numbers, not as file names ("10" < "2"). */
	for (int i = 3; i <= 11; i++) {
		char *s = g_strdup_printf("Post %d", i);

		g_assert_cmpint(hold(&f, ANN, s, "hold", "reason", "", NULL), ==, i);
		g_free(s);
	}
	after = (int64_t)time(NULL);
	posts = list_ok(&f);
	g_assert_cmpuint(posts->len, ==, 11);
	for (guint i = 0; i < posts->len; i++) {
		h = posts->pdata[i];
		g_assert_cmpint(h->id, ==, (int64_t)i + 1);
		/* The listing leaves the messages out. */
		g_assert_null(h->msg);
		g_assert_cmpint(h->held_at, >=, before);
		g_assert_cmpint(h->held_at, <=, after);
	}
	h = posts->pdata[0];
	g_assert_cmpstr(h->poster, ==, "ann@example.com");
	g_assert_cmpstr(h->subject, ==, "First");
	g_assert_cmpstr(h->reason, ==, "Post by non-member to a members-only list");
	h = posts->pdata[1];
	g_assert_cmpstr(h->poster, ==, "bob@example.net");
	g_assert_cmpstr(h->subject, ==, "Caf\xc3\xa9");
	g_assert_cmpstr(h->reason, ==, "Message has implicit destination");
	h = posts->pdata[10];
	g_assert_cmpstr(h->subject, ==, "Post 11");
	g_ptr_array_unref(posts);
	list_fixture_clear(&f);
}

static void
test_get_returns_the_message_bytes_and_metadata(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct held_post *h = NULL;
	GByteArray *bytes = NULL;
	GPtrArray *rcpts;
	int64_t id;

	list_fixture_init(&f, FQDN);
	id = hold(&f, ANN, "First", "moderate", "why", "hold,calcrecips", &bytes);
	g_assert_cmpint(held_get(f.list, id, &h, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_nonnull(h);
	g_assert_cmpint(h->id, ==, id);
	g_assert_cmpmem(h->msg, h->msg_len, bytes->data, bytes->len);
	g_assert_cmpint(h->msg[h->msg_len], ==, '\0');
	g_assert_cmpstr(h->poster, ==, "ann@example.com");
	g_assert_cmpstr(queue_meta_get(h->meta, "hold-handler"), ==, "moderate");
	g_assert_cmpstr(queue_meta_get(h->meta, "hold-reason"), ==, "why");
	g_assert_cmpstr(queue_meta_get(h->meta, "pipeline"), ==, "hold,calcrecips");
	g_assert_cmpstr(queue_meta_get(h->meta, "list"), ==, FQDN);
	g_assert_cmpstr(queue_meta_get(h->meta, "sender"), ==, "bounce@example.com");
	rcpts = queue_meta_get_all(h->meta, "rcpt");
	g_assert_cmpuint(rcpts->len, ==, 1);
	g_assert_cmpstr(rcpts->pdata[0], ==, "r1@example.net");
	g_ptr_array_unref(rcpts);
	held_post_free(&h);
	g_assert_null(h);
	g_byte_array_unref(bytes);
	/* None with that id: 0, no error. */
	g_assert_cmpint(held_get(f.list, id + 1, &h, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_null(h);
	list_fixture_clear(&f);
}

/* A post without Subject or any author: listed with "" for both, and a
 * rejection has nobody to tell. */
static void
test_post_without_subject_or_poster_listed_with_empty_strings(void)
{
	static const char *const text = "To: " FQDN "\n\nAnonymous.\n";
	struct list_fixture f;
	GError *error = NULL;
	GPtrArray *posts;
	struct held_post *h;
	struct post *p;
	int64_t id = 0;

	list_fixture_init(&f, FQDN);
	p = fixture_post(&f, "", text);
	g_assert_cmpstr(p->poster, ==, "");
	g_assert_cmpint(held_store(f.list, p->msg, p->meta, p->poster, "why",
				   "moderate", "hold", &id, &error), ==, 0);
	g_assert_no_error(error);
	post_free(&p);
	posts = list_ok(&f);
	g_assert_cmpuint(posts->len, ==, 1);
	h = posts->pdata[0];
	g_assert_cmpint(h->id, ==, id);
	g_assert_cmpstr(h->subject, ==, "");
	g_assert_cmpstr(h->poster, ==, "");
	g_ptr_array_unref(posts);
	decide_ok(&f, id, HELD_REJECT, "no");
	g_assert_false(is_held(&f, id));
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 0);
	list_fixture_clear(&f);
}

/* post_hold (the pipeline's way in): the post's reason, poster and
 * recipients as the handlers left them, not as its metadata came in. */
static void
test_post_hold_stores_the_post_with_its_recipients_and_reason(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct held_post *h = NULL;
	GPtrArray *rcpts;
	struct post *p;
	char *text = msg_text(ANN, "Pipeline");
	int64_t id = 0;

	list_fixture_init(&f, FQDN);
	p = fixture_post_meta(&f, "bounce@example.com", text,
			      "rcpt", "old@example.net", NULL);
	post_set_reason(p, "Post by non-member");
	g_ptr_array_set_size(p->recipients, 0);
	g_ptr_array_add(p->recipients, g_strdup("r1@example.net"));
	g_ptr_array_add(p->recipients, g_strdup("r2@example.net"));
	g_assert_cmpint(post_hold(p, "moderate", "hold,calcrecips", &id,
				  &error), ==, 0);
	g_assert_no_error(error);
	post_free(&p);
	g_assert_cmpint(held_get(f.list, id, &h, &error), ==, 1);
	g_assert_no_error(error);
	g_assert_cmpstr(h->poster, ==, "ann@example.com");
	g_assert_cmpstr(h->subject, ==, "Pipeline");
	g_assert_cmpstr(h->reason, ==, "Post by non-member");
	g_assert_cmpstr(queue_meta_get(h->meta, "hold-handler"), ==, "moderate");
	g_assert_cmpstr(queue_meta_get(h->meta, "pipeline"), ==,
			"hold,calcrecips");
	rcpts = queue_meta_get_all(h->meta, "rcpt");
	g_assert_cmpuint(rcpts->len, ==, 2);
	g_assert_cmpstr(rcpts->pdata[0], ==, "r1@example.net");
	g_assert_cmpstr(rcpts->pdata[1], ==, "r2@example.net");
	g_ptr_array_unref(rcpts);
	held_post_free(&h);
	g_free(text);
	list_fixture_clear(&f);
}

/* --- decisions ----------------------------------------------------------- */

static void
test_approve_enqueues_in_with_approved_and_rest_and_removes_held(void)
{
	struct list_fixture f;
	GPtrArray *items, *posts;
	struct queue_item *it;
	GByteArray *bytes = NULL;
	struct post *p;
	char *files;
	int64_t id;

	list_fixture_init(&f, FQDN);
	id = hold(&f, ANN, "First", "moderate", "why", "hold,calcrecips,tooutgoing",
		  &bytes);
	decide_ok(&f, id, HELD_APPROVE, NULL);
	items = queue_read_all(f.var, "in");
	g_assert_cmpuint(items->len, ==, 1);
	it = items->pdata[0];
	g_assert_cmpstr(queue_meta_get(it->meta, "approved"), ==, "yes");
	g_assert_cmpstr(queue_meta_get(it->meta, "approved-by"), ==, "moderator");
	g_assert_cmpstr(queue_meta_get(it->meta, "pipeline"), ==,
			"hold,calcrecips,tooutgoing");
	g_assert_cmpstr(queue_meta_get(it->meta, "list"), ==, FQDN);
	g_assert_cmpstr(queue_meta_get(it->meta, "sender"), ==, "bounce@example.com");
	/* A new place in the in queue, not the original arrival time. */
	g_assert_cmpstr(queue_meta_get(it->meta, "received"), !=, "1700000000000000");
	g_assert_cmpmem(it->msg, it->msg_len, bytes->data, bytes->len);
	/* The resumed post is approved. */
	p = post_new(f.site, f.list, &f.env, it->meta, item_message(it));
	g_assert_true(p->approved);
	post_free(&p);
	g_ptr_array_unref(items);
	g_byte_array_unref(bytes);
	/* Gone from the held posts, and no claim file left behind. */
	g_assert_false(is_held(&f, id));
	posts = list_ok(&f);
	g_assert_cmpuint(posts->len, ==, 0);
	g_ptr_array_unref(posts);
	files = held_files(&f);
	g_assert_cmpstr(files, ==, "");
	g_free(files);
	g_assert_cmpuint(queue_length(f.var, "virgin"), ==, 0);
	list_fixture_clear(&f);
}

static void
test_reject_tells_the_poster_the_reason_and_removes_held(void)
{
	struct list_fixture f;
	GPtrArray *items, *rcpts;
	struct queue_item *it;
	GMimeMessage *msg;
	GByteArray *b;
	GMimeTextPart *part;
	char *text, *subject, *files;
	int64_t id, id2;

	list_fixture_init(&f, FQDN);
	id = hold(&f, ANN, "Unwanted", "moderate", "why", "hold", NULL);
	id2 = hold(&f, ANN, "Other", "moderate", "why", "hold", NULL);
	decide_ok(&f, id, HELD_REJECT, "Off topic for this list.");
	items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 1);
	it = items->pdata[0];
	rcpts = queue_meta_get_all(it->meta, "rcpt");
	g_assert_cmpuint(rcpts->len, ==, 1);
	g_assert_cmpstr(rcpts->pdata[0], ==, "ann@example.com");
	g_ptr_array_unref(rcpts);
	msg = item_message(it);
	subject = message_header_decoded(msg, "Subject");
	g_assert_nonnull(strstr(subject, "rejected"));
	g_free(subject);
	part = message_first_text_part(msg);
	g_assert_nonnull(part);
	text = g_mime_text_part_get_text(part);
	g_assert_nonnull(strstr(text, "Off topic for this list."));
	g_assert_nonnull(strstr(text, "Unwanted"));
	g_free(text);
	/* The post goes back with it. */
	b = message_to_bytes(msg);
	g_assert_nonnull(g_strstr_len((const char *)b->data, b->len,
				      "<held-Unwanted@example.com>"));
	g_byte_array_unref(b);
	g_object_unref(msg);
	g_ptr_array_unref(items);
	g_assert_false(is_held(&f, id));
	g_assert_true(is_held(&f, id2));
	g_assert_cmpuint(queue_length(f.var, "in"), ==, 0);
	/* No reason given: the notice says so. */
	decide_ok(&f, id2, HELD_REJECT, NULL);
	items = queue_read_all(f.var, "virgin");
	g_assert_cmpuint(items->len, ==, 2);
	msg = item_message(items->pdata[1]);
	text = g_mime_text_part_get_text(message_first_text_part(msg));
	g_assert_nonnull(strstr(text, "(no reason given)"));
	g_free(text);
	g_object_unref(msg);
	g_ptr_array_unref(items);
	files = held_files(&f);
	g_assert_cmpstr(files, ==, "");
	g_free(files);
	list_fixture_clear(&f);
}

static void
test_discard_removes_it_without_a_word(void)
{
	struct list_fixture f;
	char *files;
	int64_t id;

	list_fixture_init(&f, FQDN);
	id = hold(&f, ANN, "First", "moderate", "why", "hold", NULL);
	decide_ok(&f, id, HELD_DISCARD, "spam");
	g_assert_false(is_held(&f, id));
	assert_queued(&f, 0, 0);
	files = held_files(&f);
	g_assert_cmpstr(files, ==, "");
	g_free(files);
	list_fixture_clear(&f);
}

static void
test_defer_keeps_it(void)
{
	struct list_fixture f;
	GPtrArray *posts;
	int64_t id;

	list_fixture_init(&f, FQDN);
	id = hold(&f, ANN, "First", "moderate", "why", "hold", NULL);
	decide_ok(&f, id, HELD_DEFER, "later");
	g_assert_true(is_held(&f, id));
	posts = list_ok(&f);
	g_assert_cmpuint(posts->len, ==, 1);
	g_ptr_array_unref(posts);
	assert_queued(&f, 0, 0);
	/* And it can still be decided. */
	decide_ok(&f, id, HELD_APPROVE, NULL);
	g_assert_cmpuint(queue_length(f.var, "in"), ==, 1);
	list_fixture_clear(&f);
}

static void
test_deciding_a_missing_id_is_notfound(void)
{
	struct list_fixture f;

	list_fixture_init(&f, FQDN);
	/* No held directory at all yet. */
	decide_notfound(&f, 1, HELD_APPROVE);
	hold(&f, ANN, "First", "moderate", "why", "hold", NULL);
	decide_notfound(&f, 2, HELD_APPROVE);
	decide_notfound(&f, 2, HELD_REJECT);
	decide_notfound(&f, 2, HELD_DISCARD);
	decide_notfound(&f, 2, HELD_DEFER);
	g_assert_true(is_held(&f, 1));
	assert_queued(&f, 0, 0);
	list_fixture_clear(&f);
}

static void
test_second_decision_on_one_id_is_notfound(void)
{
	struct list_fixture f;
	int64_t id, id2;

	list_fixture_init(&f, FQDN);
	id = hold(&f, ANN, "First", "moderate", "why", "hold", NULL);
	id2 = hold(&f, ANN, "Second", "moderate", "why", "hold", NULL);
	decide_ok(&f, id, HELD_APPROVE, NULL);
	decide_notfound(&f, id, HELD_APPROVE);
	decide_notfound(&f, id, HELD_REJECT);
	decide_notfound(&f, id, HELD_DEFER);
	/* The post went out once. */
	assert_queued(&f, 1, 0);
	decide_ok(&f, id2, HELD_DISCARD, NULL);
	decide_notfound(&f, id2, HELD_DISCARD);
	list_fixture_clear(&f);
}

static void
test_failed_approve_leaves_the_post_held(void)
{
	struct list_fixture f;
	GError *error = NULL;
	char *inpath, *files;
	int64_t id;

	list_fixture_init(&f, FQDN);
	id = hold(&f, ANN, "First", "moderate", "why", "hold", NULL);
	/* The in queue cannot be created: a file is in its place. */
	fixture_break_queue(&f, "in");
	inpath = g_build_filename(f.var, "queue", "in", NULL);
	g_assert_cmpint(held_decide(f.list, id, HELD_APPROVE, NULL, &error), ==, -1);
	g_assert_nonnull(error);
	g_test_message("error: %s", error->message);
	g_clear_error(&error);
	g_assert_true(is_held(&f, id));
	files = held_files(&f);
	g_assert_cmpstr(files, ==, "1.msg");
	g_free(files);
	/* Once the queue is back, the decision goes through. */
	g_assert_cmpint(unlink(inpath), ==, 0);
	decide_ok(&f, id, HELD_APPROVE, NULL);
	g_assert_cmpuint(queue_length(f.var, "in"), ==, 1);
	g_free(inpath);
	list_fixture_clear(&f);
}

/* held.c: "a crash before the enqueue leaves the claim, which `herald held
 * list` shows as being decided": a post whose decision died half-way is
 * still in the listing, not lost to the moderators. */
static void
test_claim_left_by_a_crashed_decision_is_still_listed(void)
{
	struct list_fixture f;
	GPtrArray *posts;
	char *from, *to;
	int64_t id;

	list_fixture_init(&f, FQDN);
	id = hold(&f, ANN, "First", "moderate", "why", "hold", NULL);
	from = g_strdup_printf("%s/held/%" G_GINT64_FORMAT ".msg",
			       list_dir(f.list), id);
	to = g_strdup_printf("%s/held/%" G_GINT64_FORMAT ".deadhost.4242.claim",
			     list_dir(f.list), id);
	g_assert_cmpint(rename(from, to), ==, 0);
	posts = list_ok(&f);
	g_assert_cmpuint(posts->len, ==, 1);
	if (posts->len == 1)
		g_assert_cmpint(((struct held_post *)posts->pdata[0])->id, ==, id);
	g_ptr_array_unref(posts);
	g_free(from);
	g_free(to);
	list_fixture_clear(&f);
}

static void
test_action_parse_names(void)
{
	g_assert_cmpint(held_action_parse("approve"), ==, HELD_APPROVE);
	g_assert_cmpint(held_action_parse("reject"), ==, HELD_REJECT);
	g_assert_cmpint(held_action_parse("discard"), ==, HELD_DISCARD);
	g_assert_cmpint(held_action_parse("defer"), ==, HELD_DEFER);
	g_assert_cmpint(held_action_parse("Approve"), ==, -1);
	g_assert_cmpint(held_action_parse(""), ==, -1);
	g_assert_cmpint(held_action_parse("accept"), ==, -1);
}

/* --- running ------------------------------------------------------------- */

static const struct unit_test tests[] = {
	{ "/held/list/empty-when-nothing-held",
	  test_list_is_empty_when_nothing_was_held },
	{ "/held/store/list-shows-id-poster-subject-reason-in-id-order",
	  test_store_then_list_shows_id_poster_subject_reason_in_id_order },
	{ "/held/get/returns-message-bytes-and-metadata",
	  test_get_returns_the_message_bytes_and_metadata },
	{ "/held/list/post-without-subject-or-poster-empty-strings",
	  test_post_without_subject_or_poster_listed_with_empty_strings },
	{ "/held/store/post-hold-keeps-recipients-and-reason",
	  test_post_hold_stores_the_post_with_its_recipients_and_reason },
	{ "/held/decide/approve-enqueues-in-approved-with-rest-removes-held",
	  test_approve_enqueues_in_with_approved_and_rest_and_removes_held },
	{ "/held/decide/reject-tells-poster-the-reason-removes-held",
	  test_reject_tells_the_poster_the_reason_and_removes_held },
	{ "/held/decide/discard-removes-without-a-word",
	  test_discard_removes_it_without_a_word },
	{ "/held/decide/defer-keeps-it", test_defer_keeps_it },
	{ "/held/decide/missing-id-notfound",
	  test_deciding_a_missing_id_is_notfound },
	{ "/held/decide/second-decision-notfound",
	  test_second_decision_on_one_id_is_notfound },
	{ "/held/decide/failed-approve-leaves-post-held",
	  test_failed_approve_leaves_the_post_held },
	{ "/held/list/claim-left-by-crashed-decision-still-listed",
	  test_claim_left_by_a_crashed_decision_is_still_listed },
	{ "/held/action-parse/names", test_action_parse_names },
};

UNIT_TEST_MAIN(tests)
