/*
 * test-topics.c - the topic filter (list/topics.c): the setting's parsing
 * and its refusals, which lines of a post are matched and how, and who
 * receives a post given their topics.
 */
#include "testutil.h"
#include "list/list_settings.h"
#include "list/topics.h"
#include "base/base.h"

#define TOPICS "linux\tlinux|kernel\tThe Linux kernel\n" \
	       "bsd\t\\bbsd\\b\n" \
	       "Food\tlunch|dinner\tMeals"

static struct topics *
topics_ok(const char *text)
{
	GError *error = NULL;
	struct topics *t = topics_parse(text, &error);

	g_assert_no_error(error);
	g_assert_nonnull(t);
	return t;
}

static GMimeMessage *
msg_of(const char *text)
{
	GError *error = NULL;
	GMimeMessage *m = message_parse(text, strlen(text), &error);

	g_assert_no_error(error);
	return m;
}

/* The names matched, comma-separated. */
static char *
hits_of(const struct topics *t, const char *text, int bodylines)
{
	GMimeMessage *m = msg_of(text);
	GPtrArray *hits = topics_match(t, m, bodylines);
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < hits->len; i++)
		g_string_append_printf(out, "%s%s", i > 0 ? "," : "",
				       (char *)hits->pdata[i]);
	g_ptr_array_unref(hits);
	g_object_unref(m);
	return g_string_free(out, FALSE);
}

static void
test_parse_fields_and_blank_lines(void)
{
	struct topics *t = topics_ok("\n" TOPICS "\n\n");
	const struct topic *tp;

	g_assert_cmpuint(t->all->len, ==, 3);
	tp = topics_find(t, "LINUX");
	g_assert_nonnull(tp);
	g_assert_cmpstr(tp->name, ==, "linux");
	g_assert_cmpstr(tp->pattern, ==, "linux|kernel");
	g_assert_cmpstr(tp->description, ==, "The Linux kernel");
	g_assert_cmpstr(topics_find(t, "bsd")->description, ==, "");
	g_assert_null(topics_find(t, "hurd"));
	topics_free(&t);
	g_assert_null(t);
	t = topics_ok("");
	g_assert_cmpuint(t->all->len, ==, 0);
	topics_free(&t);
}

static void
test_parse_refuses_bad_lines_naming_them(void)
{
	static const struct { const char *text, *want; } bad[] = {
		{ "linux\tlinux\nbsd\t(unclosed", "line 2 (bsd): bad regular expression" },
		{ "linux only a name", "line 1: expected name<TAB>" },
		{ "\tkernel", "line 1: a topic name may not be empty" },
		{ "a,b\tkernel", "may not be empty or hold a comma" },
		{ "linux\t  \tdesc", "line 1: the regular expression is empty" },
		{ "linux\tx\nLinux\ty", "line 2: topic Linux is named twice" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		GError *error = NULL;
		struct topics *t = topics_parse(bad[i].text, &error);

		g_assert_null(t);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
		if (strstr(error->message, bad[i].want) == NULL)
			g_error("case %zu: \"%s\" lacks \"%s\"", i, error->message,
				bad[i].want);
		g_error_free(error);
	}
}

/* The setting refuses a bad expression when it is set. */
static void
test_setting_refuses_bad_regex_keeps_good(void)
{
	const struct list_setting *s = list_setting_find("topics");
	GError *error = NULL;
	char *v;

	g_assert_nonnull(s);
	g_assert_null(list_setting_normalise(s, "x\t[a-", &error));
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_assert_nonnull(strstr(error->message, "bad regular expression"));
	g_clear_error(&error);
	v = list_setting_normalise(s, "  linux\tkernel\tK  \n\n bsd\tbsd\n", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(v, ==, "linux\tkernel\tK\nbsd\tbsd");
	g_free(v);
	g_assert_cmpstr(list_setting_find("topics_bodylines_limit")->dflt, ==, "5");
	g_assert_cmpstr(list_setting_find("topics_enabled")->dflt, ==, "no");
}

static void
test_match_subject_keywords_case_insensitive(void)
{
	struct topics *t = topics_ok(TOPICS);
	char *h;

	h = hits_of(t, "Subject: KERNEL oops\n\nlunch\n", 5);
	g_assert_cmpstr(h, ==, "linux");
	g_free(h);
	h = hits_of(t, "Subject: hello\nKeywords: BSD, Dinner\n\nx\n", 5);
	g_assert_cmpstr(h, ==, "bsd,Food");
	g_free(h);
	/* \b: "freebsd" is not the word bsd; the body's prose is not
	 * searched, only its Subject:/Keywords: lines. */
	h = hits_of(t, "Subject: freebsd\n\nlinux kernel lunch\n", -1);
	g_assert_cmpstr(h, ==, "");
	g_free(h);
	/* RFC 2047 is decoded first. */
	h = hits_of(t, "Subject: =?utf-8?q?d=C3=A9j=C3=A0_kernel?=\n\nx\n", 0);
	g_assert_cmpstr(h, ==, "linux");
	g_free(h);
	topics_free(&t);
}

static void
test_match_body_lines_limit(void)
{
	static const char msg[] =
		"Subject: q\n\n\n\nKeywords: bsd\ntext\n\nSubject: lunch\n";
	struct topics *t = topics_ok(TOPICS);
	char *h;

	h = hits_of(t, msg, 0);		/* 0: the body is not looked at */
	g_assert_cmpstr(h, ==, "");
	g_free(h);
	h = hits_of(t, msg, 1);		/* blank lines do not count */
	g_assert_cmpstr(h, ==, "bsd");
	g_free(h);
	h = hits_of(t, msg, 2);
	g_assert_cmpstr(h, ==, "bsd");
	g_free(h);
	h = hits_of(t, msg, 3);
	g_assert_cmpstr(h, ==, "bsd,Food");
	g_free(h);
	h = hits_of(t, msg, -1);	/* negative: every line */
	g_assert_cmpstr(h, ==, "bsd,Food");
	g_free(h);
	topics_free(&t);
}

static void
test_member_receives_mailman_rules(void)
{
	const char *linux_hit[] = { "linux", NULL };
	const char *two_hits[] = { "bsd", "Food", NULL };
	const char *none[] = { NULL };

	/* No choice: every post. */
	g_assert_true(topics_member_receives("", FALSE, linux_hit));
	g_assert_true(topics_member_receives(NULL, FALSE, none));
	/* A choice: the posts matching one of them. */
	g_assert_true(topics_member_receives("linux", FALSE, linux_hit));
	g_assert_true(topics_member_receives("LINUX", FALSE, linux_hit));
	g_assert_true(topics_member_receives("linux,food", FALSE, two_hits));
	g_assert_false(topics_member_receives("linux", FALSE, two_hits));
	g_assert_false(topics_member_receives("linux", TRUE, two_hits));
	g_assert_false(topics_member_receives("lin", FALSE, linux_hit));
	/* The posts matching nothing: only with nmtopics. */
	g_assert_false(topics_member_receives("linux", FALSE, none));
	g_assert_true(topics_member_receives("linux", TRUE, none));
	g_assert_true(topics_member_receives("linux", TRUE, NULL));
}

static void
test_choice_normalise(void)
{
	struct topics *t = topics_ok(TOPICS);
	GError *error = NULL;
	char *c;

	c = topics_choice_normalise(t, " LINUX, food,linux,", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(c, ==, "linux,Food");
	g_free(c);
	c = topics_choice_normalise(t, "", &error);
	g_assert_cmpstr(c, ==, "");
	g_free(c);
	g_assert_null(topics_choice_normalise(t, "linux,hurd", &error));
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_assert_nonnull(strstr(error->message, "hurd"));
	g_clear_error(&error);
	topics_free(&t);
}

static const struct unit_test tests[] = {
	{ "/topics/parse/fields-and-blank-lines", test_parse_fields_and_blank_lines },
	{ "/topics/parse/bad-lines-refused-named", test_parse_refuses_bad_lines_naming_them },
	{ "/topics/setting/bad-regex-refused-when-set",
	  test_setting_refuses_bad_regex_keeps_good },
	{ "/topics/match/subject-keywords-case-insensitive",
	  test_match_subject_keywords_case_insensitive },
	{ "/topics/match/body-lines-limit", test_match_body_lines_limit },
	{ "/topics/member/receives-mailman-rules", test_member_receives_mailman_rules },
	{ "/topics/member/choice-normalised-unknown-refused", test_choice_normalise },
};

int
main(int argc, char **argv)
{
	message_init();
	return testutil_main_isolated(argc, argv, tests, G_N_ELEMENTS(tests));
}
