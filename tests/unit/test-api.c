/*
 * test-api.c - the REST API's tokens (web/api_token.c) and the webhooks'
 * events (store/webhook.c): what the integration tests cannot see from
 * outside.
 */
#include "testutil.h"
#include "base/base.h"
#include "list/held.h"
#include "list/subscribe.h"
#include "store/names.h"
#include "store/webhook.h"
#include "web/api.h"

/* A token checks; its text is nowhere in the var dir; a changed secret, a
 * changed id or another prefix is no token; a revoked one still checks
 * but says revoked. */
static void
test_token_checks_and_is_stored_only_as_a_hash(void)
{
	struct list_fixture f;
	struct site *site = site_fixture_init(&f);
	GError *error = NULL;
	char *secret = NULL;
	struct api_token *t = NULL;

	g_assert_cmpint(api_token_create(site, "bot", "a@example.org", TRUE,
					 &secret, NULL, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(api_token_check(site, secret, &t, &error), ==, 1);
	g_assert_cmpstr(t->name, ==, "bot");
	g_assert_cmpstr(t->list, ==, "a@example.org");
	g_assert_true(t->read_only);
	g_assert_false(t->revoked);

	char *path = g_build_filename(f.var, "api", "tokens", t->id, NULL);
	char *text = NULL;
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	/* "hrd_<id>_<secret>": the id is hex; the secret, in URL-safe
	 * base64, may hold '_' itself, so it starts after the second one. */
	const char *raw = strchr(strchr(secret, '_') + 1, '_') + 1;
	g_assert_cmpuint(strlen(raw), >=, 43);
	g_assert_null(strstr(text, raw));
	api_token_free(&t);

	char *bad = g_strdup(secret);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
	g_assert_cmpint(api_token_check(site, bad, &t, &error), ==, 0);
	bad[4] = bad[4] == 'a' ? 'b' : 'a';
	g_assert_cmpint(api_token_check(site, bad, &t, &error), ==, 0);
	g_assert_cmpint(api_token_check(site, secret + 1, &t, &error), ==, 0);
	g_assert_cmpint(api_token_check(site, "hrd_../../etc_x", &t, &error), ==, 0);
	g_assert_null(t);

	g_assert_cmpint(api_token_revoke(site, "bot", &error), ==, 1);
	g_assert_cmpint(api_token_revoke(site, "bot", &error), ==, 0);
	g_assert_cmpint(api_token_check(site, secret, &t, &error), ==, 1);
	g_assert_true(t->revoked);
	api_token_free(&t);
	g_free(bad);
	g_free(text);
	g_free(path);
	g_free(secret);
	list_fixture_clear(&f);
}

static guint
queued(struct list_fixture *f)
{
	GError *error = NULL;
	struct queue *q = queue_open(f->var, QUEUE_WEBHOOKS, &error);
	int n = queue_count(q, ".msg", &error);

	g_assert_no_error(error);
	queue_close(&q);
	return (guint)n;
}

/* No webhook: an event writes nothing.  A list's webhook gets its list's
 * events only, a site webhook every list's; each list numbers its events
 * 1, 2, 3 across both. */
static void
test_emit_queues_per_webhook_with_a_sequence_per_list(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct webhook *h1 = NULL, *h2 = NULL;

	list_fixture_init(&f, "a@example.org");
	webhook_emit(f.site, "a@example.org", "post.held", NULL);
	g_assert_cmpuint(queued(&f), ==, 0);
	g_assert_cmpint(webhook_add(f.site, "a@example.org", "http://h/1", &h1,
				    &error), ==, 0);
	g_assert_cmpint(webhook_add(f.site, NULL, "https://h/2", &h2, &error),
			==, 0);
	g_assert_cmpint(webhook_add(f.site, NULL, "file:///etc/passwd", &h2,
				    &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	webhook_emit(f.site, "a@example.org", "post.held", json_object_new());
	webhook_emit(f.site, "b@example.org", "post.held", NULL);
	webhook_emit(f.site, "a@example.org", "post.accepted", NULL);
	g_assert_cmpuint(queued(&f), ==, 5);

	struct queue *q = queue_open(f.var, QUEUE_WEBHOOKS, &error);
	GPtrArray *bases = NULL;
	g_assert_cmpint(queue_list(q, ".msg", 0, 1, &bases, &error), ==, 0);
	guint a_seq_sum = 0;
	for (guint i = 0; i < bases->len; i++) {
		struct queue_item *it = NULL;
		g_assert_cmpint(queue_read(q, bases->pdata[i], ".msg", &it,
					   &error), ==, 1);
		const char *list = queue_meta_get(it->meta, META_LIST);
		int64_t seq = queue_meta_get_int(it->meta, META_SEQUENCE, 0);
		if (!strcmp(list, "b@example.org")) {
			g_assert_cmpint(seq, ==, 1);
			g_assert_cmpstr(queue_meta_get(it->meta, META_WEBHOOK),
					==, h2->id);
		} else {
			a_seq_sum += (guint)seq;
		}
		JsonParser *p = json_parser_new();
		g_assert_true(json_parser_load_from_data(p, it->msg, it->msg_len,
							 NULL));
		JsonObject *o = json_node_get_object(json_parser_get_root(p));
		g_assert_cmpint(json_object_get_int_member(o, "sequence"), ==, seq);
		g_object_unref(p);
		queue_item_free(&it);
	}
	/* a@: events 1 and 2, each to both webhooks. */
	g_assert_cmpuint(a_seq_sum, ==, 1 + 1 + 2 + 2);
	g_ptr_array_free(bases, TRUE);
	queue_close(&q);
	webhook_free(&h1);
	webhook_free(&h2);
	list_fixture_clear(&f);
}

/* A subscription made through the library is a member.subscribed event. */
static void
test_a_subscription_is_an_event(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct webhook *h = NULL;

	list_fixture_init(&f, "a@example.org");
	g_assert_cmpint(webhook_add(f.site, NULL, "http://h/", &h, &error), ==, 0);
	struct subscribe_request r = {
		.address = "new@example.com", .requester = "admin", .via = "cli",
		.admin = TRUE, .welcome = 0,
	};
	g_assert_cmpint(subscribe_request(f.list, &r, NULL, &error), ==,
			SUBSCRIBE_DONE);
	g_assert_cmpint(subscribe_request(f.list, &r, NULL, &error), ==,
			SUBSCRIBE_ALREADY);
	g_assert_cmpuint(queued(&f), ==, 1);
	webhook_free(&h);
	list_fixture_clear(&f);
}

/* A held post is a post.held event with its id, poster and reason. */
static void
test_a_held_post_is_an_event(void)
{
	struct list_fixture f;
	GError *error = NULL;
	struct webhook *h = NULL;
	const char *text = "From: x@example.net\nSubject: hi\n\nbody\n";
	int64_t id = 0;

	list_fixture_init(&f, "a@example.org");
	g_assert_cmpint(webhook_add(f.site, "a@example.org", "http://h/", &h,
				    &error), ==, 0);
	GMimeMessage *msg = message_parse(text, strlen(text), &error);
	struct queue_meta *meta = queue_meta_new();
	g_assert_cmpint(held_store(f.list, msg, meta, "x@example.net", "why",
				   "moderate", "", &id, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(queued(&f), ==, 1);

	struct queue *q = queue_open(f.var, QUEUE_WEBHOOKS, &error);
	GPtrArray *bases = NULL;
	struct queue_item *it = NULL;
	g_assert_cmpint(queue_list(q, ".msg", 0, 1, &bases, &error), ==, 0);
	g_assert_cmpint(queue_read(q, bases->pdata[0], ".msg", &it, &error), ==, 1);
	g_assert_cmpstr(queue_meta_get(it->meta, META_EVENT), ==, "post.held");
	JsonParser *p = json_parser_new();
	g_assert_true(json_parser_load_from_data(p, it->msg, it->msg_len, NULL));
	JsonObject *d = json_object_get_object_member(
		json_node_get_object(json_parser_get_root(p)), "data");
	g_assert_cmpint(json_object_get_int_member(d, "id"), ==, id);
	g_assert_cmpstr(json_object_get_string_member(d, "poster"), ==,
			"x@example.net");
	g_assert_cmpstr(json_object_get_string_member(d, "reason"), ==, "why");
	g_object_unref(p);
	queue_item_free(&it);
	g_ptr_array_free(bases, TRUE);
	queue_close(&q);
	queue_meta_free(&meta);
	g_object_unref(msg);
	webhook_free(&h);
	list_fixture_clear(&f);
}

static const struct unit_test tests[] = {
	{ "/webhook/emit/a-held-post-is-an-event",
	  test_a_held_post_is_an_event },
	{ "/api/token/checks-and-is-stored-only-as-a-hash",
	  test_token_checks_and_is_stored_only_as_a_hash },
	{ "/webhook/emit/queues-per-webhook-with-a-sequence-per-list",
	  test_emit_queues_per_webhook_with_a_sequence_per_list },
	{ "/webhook/emit/a-subscription-is-an-event",
	  test_a_subscription_is_an_event },
};

UNIT_TEST_MAIN(tests)
