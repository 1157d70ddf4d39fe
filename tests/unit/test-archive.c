/*
 * test-archive.c - the archive's pieces that need no var dir: mboxrd
 * quoting and back, escaping and links, obscuring, charset decoding,
 * period names, subject keys and threads.
 */
#include "testutil.h"
#include "archive/archive-private.h"

static void
test_mboxrd_quoting_round_trips(void)
{
	const char *msg = "Subject: x\n\nFrom me\n>From you\n>>From them\nFromage\n";
	GString *out = g_string_new(NULL);
	size_t len;
	char *back;

	mbox_quote(out, "From a@b  Sun Dec  6 10:00:00 2026", msg, strlen(msg));
	g_assert_cmpstr(out->str, ==, "From a@b  Sun Dec  6 10:00:00 2026\nSubject: x\n\n"
			">From me\n>>From you\n>>>From them\nFromage\n\n");
	const char *body = strchr(out->str, '\n') + 1;

	back = mbox_unquote(body, out->len - (body - out->str) - 1, &len);
	g_assert_cmpstr(back, ==, msg);
	g_free(back);
	g_string_free(out, TRUE);
}

static void
test_a_message_without_final_newline_gets_one(void)
{
	GString *out = g_string_new(NULL);

	mbox_quote(out, "From x  Thu Jan  1 00:00:00 1970", "S: y\n\nlast", 10);
	g_assert_true(g_str_has_suffix(out->str, "last\n\n"));
	g_string_free(out, TRUE);
}

static void
test_every_html_character_is_escaped(void)
{
	GString *out = g_string_new(NULL);
	const char *in = "<script>\"'&\x01\x7f\r\n";

	html_escape(out, in, strlen(in));
	g_assert_cmpstr(out->str, ==, "&lt;script&gt;&quot;&#39;&amp;\xEF\xBF\xBD\xEF\xBF\xBD\n");
	g_string_free(out, TRUE);
}

static void
test_urls_are_linked_and_quotes_marked(void)
{
	GString *out = g_string_new(NULL);

	html_body(out, "> see http://a.example/x?y=1&z=\"2\".\nmail me@x.org", TRUE);
	g_assert_cmpstr(out->str, ==, "<span class=\"quote\">&gt; see <a href=\"http://a.example/x?y=1&amp;z=\" "
			"rel=\"nofollow\">http://a.example/x?y=1&amp;z=</a>&quot;2&quot;.</span>\n"
			"mail me at x.org\n");
	g_string_free(out, TRUE);
}

static void
test_javascript_urls_are_not_linked(void)
{
	GString *out = g_string_new(NULL);

	html_body(out, "javascript:alert(1) data:text/html,<b>", FALSE);
	g_assert_null(strstr(out->str, "<a"));
	g_string_free(out, TRUE);
}

static void
test_undecodable_bytes_become_replacement_characters(void)
{
	char *t;

	message_init();
	t = text_decode("caf\xe9 \xff", 6, "utf-8");

	g_assert_cmpstr(t, ==, "caf\xEF\xBF\xBD \xEF\xBF\xBD");
	g_free(t);
	t = text_decode("caf\xe9", 4, "iso-8859-1");
	g_assert_cmpstr(t, ==, "caf\xC3\xA9");
	g_free(t);
	t = text_decode("a\0b", 3, NULL);
	g_assert_cmpstr(t, ==, "a\xEF\xBF\xBD" "b");
	g_free(t);
	t = text_decode("\x1b$B\xff", 4, "iso-2022-jp");
	g_assert_true(g_utf8_validate(t, -1, NULL));
	g_free(t);
	t = text_decode("x", 1, "no-such-charset");
	g_assert_cmpstr(t, ==, "x");
	g_free(t);
}

static void
test_periods_are_named_as_pipermail_names_them(void)
{
	int64_t t = 1796551200;	/* Sun 6 Dec 2026 10:00 UTC */
	static const char *const want[] = { "2026", "2026-December", "2026q4",
					    "Week-of-Mon-20261130", "20261206" };

	for (int f = 0; f < 5; f++) {
		char *p = meta_period(f, t);

		g_assert_cmpstr(p, ==, want[f]);
		g_free(p);
	}
	g_assert_cmpint(meta_period_end(1, t), ==, 1798761600);	/* 1 Jan 2027 */
	g_assert_cmpint(meta_period_end(3, t), ==, 1796601600);	/* Mon 7 Dec */
}

static void
test_subject_keys_drop_replies_and_tags(void)
{
	char *k = thread_subject_key("Re: [list] AW: Fwd: Hello World ");

	g_assert_cmpstr(k, ==, "hello world");
	g_free(k);
}

static struct entry *
entry(int64_t num, const char *id, const char *irt, const char *refs,
      const char *subject)
{
	struct entry *e = g_new0(struct entry, 1);

	e->num = num;
	e->date = 1000 + num;
	e->msgid = g_strdup(id);
	e->irt = g_strdup(irt);
	e->refs = g_strdup(refs);
	e->subject = g_strdup(subject);
	e->author = g_strdup("a");
	e->addr = g_strdup("");
	return e;
}

static void
test_threads_follow_references_and_subjects(void)
{
	GPtrArray *cat = g_ptr_array_new_with_free_func(entry_free);

	g_ptr_array_add(cat, entry(0, "a", "", "", "topic"));
	g_ptr_array_add(cat, entry(1, "c", "ghost", "a ghost", "Re: topic"));
	g_ptr_array_add(cat, entry(2, "b", "a", "a", "Re: topic"));
	g_ptr_array_add(cat, entry(3, "d", "", "", "other"));
	g_ptr_array_add(cat, entry(4, "e", "", "", "Re: other"));	/* no ids */
	g_ptr_array_add(cat, entry(5, "f", "f", "f", "loop"));	/* its own parent */
	GPtrArray *t = thread_order(cat);
	static const int64_t nums[] = { 0, 1, 2, 3, 4, 5 };
	static const int depths[] = { 0, 1, 1, 0, 1, 0 };

	g_assert_cmpuint(t->len, ==, 6);
	for (guint i = 0; i < t->len; i++) {
		const struct entry *e = t->pdata[i];

		g_assert_cmpint(e->num, ==, nums[i]);
		g_assert_cmpint(e->depth, ==, depths[i]);
	}
	g_ptr_array_free(t, TRUE);
	g_ptr_array_free(cat, TRUE);
}

static const struct unit_test tests[] = {
	{ "/archive/mbox/mboxrd-round-trip", test_mboxrd_quoting_round_trips },
	{ "/archive/mbox/final-newline", test_a_message_without_final_newline_gets_one },
	{ "/archive/text/escape-everything", test_every_html_character_is_escaped },
	{ "/archive/text/links-and-quotes", test_urls_are_linked_and_quotes_marked },
	{ "/archive/text/no-javascript-links", test_javascript_urls_are_not_linked },
	{ "/archive/text/replacement-characters", test_undecodable_bytes_become_replacement_characters },
	{ "/archive/meta/period-names", test_periods_are_named_as_pipermail_names_them },
	{ "/archive/thread/subject-keys", test_subject_keys_drop_replies_and_tags },
	{ "/archive/thread/references-and-subjects", test_threads_follow_references_and_subjects },
};

UNIT_TEST_MAIN(tests)
