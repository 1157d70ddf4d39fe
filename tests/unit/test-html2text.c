/*
 * test-html2text.c - unit tests for html2text.c: the layout of each kind
 * of element (paragraphs, headings, lists, links, pre, tables, quotes),
 * entities and whitespace, wrapping at 72 columns counted in characters,
 * charsets and broken bytes, and hostile input: 10,000 levels of nesting,
 * floods of end tags and attributes, a parser-killer from the MIME corpus,
 * all in bounded time.  Golden files: tests/data/html2text/<case>.html is
 * converted and compared with <case>.txt.
 *
 * Each test runs in a child process of its own.
 */
#include "mail/html2text.h"

#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *data_dir;	/* tests/data */

/* --- helpers ------------------------------------------------------------- */

/* html2text of a C string */
static char *
h2t(const char *html, const char *charset)
{
	return html2text(html, strlen(html), charset);
}

static void
assert_text(const char *html, const char *want)
{
	char *got = h2t(html, NULL);

	g_assert_cmpstr(got, ==, want);
	g_free(got);
}

/* A line's width in columns, as a terminal shows it. */
static int
line_cols(const char *line)
{
	int cols = 0;

	for (const char *p = line; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		cols += g_unichar_iszerowidth(c) ? 0 : g_unichar_iswide(c) ? 2 : 1;
	}
	return cols;
}

static void
assert_lines_fit(const char *text)
{
	char **lines = g_strsplit(text, "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++)
		if (line_cols(lines[i]) > HTML2TEXT_WIDTH)
			g_test_message("too wide: \"%s\"", lines[i]);
	for (guint i = 0; lines[i] != NULL; i++)
		g_assert_cmpint(line_cols(lines[i]), <=, HTML2TEXT_WIDTH);
	g_strfreev(lines);
}

static int
count(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

static gint64
elapsed_ms(gint64 start)
{
	return (g_get_monotonic_time() - start) / 1000;
}

/* --- layout -------------------------------------------------------------- */

static void
test_paragraphs_give_blank_lines_and_br_a_line_break(void)
{
	assert_text("<p>One</p><p>Two<br>Three</p>", "One\n\nTwo\nThree\n");
	assert_text("<div>a</div><div>b</div>c", "a\nb\nc\n");
	assert_text("a<br><br>b", "a\n\nb\n");
	/* runs of <br> stop at two blank lines */
	assert_text("a<br><br><br><br><br><br>b", "a\n\n\nb\n");
	/* no blank lines at the start or the end */
	assert_text("<p></p><br><p>x</p><p></p><br>", "x\n");
}

static void
test_headings_stand_on_their_own_lines(void)
{
	assert_text("text<h1>Title</h1>more<h2>Sub</h2><p>para</p>",
		    "text\n\nTitle\n\nmore\n\nSub\n\npara\n");
}

static void
test_lists_are_bulleted_or_numbered_and_nest(void)
{
	assert_text("<ul><li>a</li><li>b<ul><li>c</li></ul></li><li>d</li></ul>",
		    "* a\n* b\n  * c\n* d\n");
	assert_text("<ol><li>x<li>y<li>z</ol>", "1. x\n2. y\n3. z\n");
	assert_text("<ol start=\"9\"><li>nine<li>ten</ol>", "9. nine\n10. ten\n");
	/* a long item wraps under its text, not under the bullet */
	assert_text("<ul><li>aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj "
		    "kkkk llll mmmm nnnn oooo</li></ul>",
		    "* aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn\n"
		    "  oooo\n");
	assert_text("<li>stray item</li>", "* stray item\n");
}

static void
test_links_give_text_then_url_or_url_alone(void)
{
	assert_text("See <a href=\"https://example.org/doc\">the docs</a>.",
		    "See the docs <https://example.org/doc>.\n");
	/* the text is the URL (give or take scheme and slash): once */
	assert_text("<a href=\"https://example.org/\">https://example.org/</a>",
		    "https://example.org/\n");
	assert_text("<a href=\"https://example.org/\">example.org</a>",
		    "example.org\n");
	assert_text("<a href=\"mailto:a@example.org\">a@example.org</a>",
		    "a@example.org\n");
	/* no URL for fragments, scripts and anchors */
	assert_text("<a href=\"#top\">top</a> <a href=\"javascript:go()\">go</a> "
		    "<a name=\"x\">here</a>", "top go here\n");
	/* an image link: its alt text, or the URL alone */
	assert_text("<a href=\"https://example.org/\"><img src=\"l.png\" alt=\"Logo\"></a>",
		    "[Logo] <https://example.org/>\n");
	assert_text("<a href=\"https://example.org/x\"><img src=\"l.png\"></a>",
		    "<https://example.org/x>\n");
	/* blanks in a URL do not split it */
	assert_text("<a href=\" https://example.org/a b \">ab</a>",
		    "ab <https://example.org/a%20b>\n");
}

static void
test_entities_are_decoded(void)
{
	assert_text("caf&eacute; &amp; cr&egrave;me &lt;b&gt; &#169; &#x263A; "
		    "&euro;5 &mdash; &quot;q&quot;",
		    "café & crème <b> © ☺ €5 — \"q\"\n");
	/* no-break spaces are kept as spaces, and never break a line */
	assert_text("a&nbsp;b", "a b\n");
	/* invisible padding goes */
	assert_text("preview &zwnj;&nbsp;&zwnj;&nbsp;&zwnj;&nbsp; text soft&shy;hyphen",
		    "preview text softhyphen\n");
	assert_text("two&nbsp;&nbsp;spaces", "two  spaces\n");
}

static void
test_pre_is_kept_verbatim(void)
{
	assert_text("<p>before</p><pre>\n  two  spaces\n\tтаб\n\n  end &amp; more</pre>after",
		    "before\n\n  two  spaces\n\tтаб\n\n  end & more\n\nafter\n");
	/* no wrapping inside pre */
	assert_text("<pre>aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff gggggggggg</pre>",
		    "aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff gggggggggg\n");
}

static void
test_tables_give_a_line_a_row_with_cells_separated(void)
{
	assert_text("<table><tr><th>Name</th><th>Qty</th></tr>"
		    "<tr><td>apples</td><td>3</td></tr>"
		    "<tr><td>pears</td><td>12</td></tr></table>",
		    "Name | Qty\napples | 3\npears | 12\n");
	/* a layout table's cells of paragraphs are not joined by separators */
	assert_text("<table><tr><td><p>left</p></td><td><p>right</p></td></tr></table>",
		    "left\n\nright\n");
}

static void
test_blockquotes_are_quoted(void)
{
	assert_text("<p>I wrote:</p><blockquote><p>one</p><p>two</p>"
		    "<blockquote>deeper</blockquote></blockquote><p>back</p>",
		    "I wrote:\n\n> one\n>\n> two\n>\n> > deeper\n\nback\n");
}

static void
test_script_style_and_head_are_dropped(void)
{
	assert_text("<html><head><title>T</title><style>p { color: red }</style>"
		    "<script>var x = \"<p>no</p>\";</script></head><body>"
		    "<script>alert(1)</script>yes<style>.a{}</style>"
		    "<!-- comment --><template>t</template></body></html>",
		    "yes\n");
}

static void
test_whitespace_collapses_outside_pre(void)
{
	assert_text("  a \n\n\t b   <b> c </b>d\n", "a b c d\n");
	assert_text("<span>x</span><span>y</span>", "xy\n");
	assert_text("<p>   </p>", "");
	assert_text("", "");
	assert_text(" \n\t ", "");
}

static void
test_text_after_the_end_of_html_is_kept(void)
{
	/* a footer another list appended, as a browser shows it */
	assert_text("<html><body><p>post</p></body></html>\n"
		    "<p>footer</p>", "post\n\nfooter\n");
	assert_text("<html><body>one</body></html>\n"
		    "<html><body>two</body></HTML >", "one two\n");
}

static void
test_hr_and_signature_separator(void)
{
	char *got = h2t("a<hr>b", NULL);
	char **lines = g_strsplit(got, "\n", -1);

	g_assert_cmpstr(lines[0], ==, "a");
	g_assert_cmpstr(lines[1], ==, "");
	g_assert_cmpint(strspn(lines[2], "-"), ==, HTML2TEXT_WIDTH);
	g_assert_cmpstr(lines[4], ==, "b");
	g_strfreev(lines);
	g_free(got);
	/* "-- " keeps its blank: mail readers look for it */
	assert_text("<div>text</div><div>-- <br>Sig</div>", "text\n-- \nSig\n");
	assert_text("<p>a -- b</p>", "a -- b\n");
}

/* --- wrapping -------------------------------------------------------------- */

static void
test_lines_wrap_at_72_columns_at_spaces(void)
{
	GString *html = g_string_new("<p>");
	char *got;

	for (int i = 0; i < 60; i++)
		g_string_append_printf(html, "word%d ", i);
	g_string_append(html, "</p><p>");
	for (int i = 0; i < 40; i++)
		g_string_append(html, "crème brûlée ");
	g_string_append(html, "</p><p>");
	/* CJK words are two columns a character */
	for (int i = 0; i < 30; i++)
		g_string_append(html, "漢字漢字 ");
	g_string_append(html, "</p>");
	got = html2text(html->str, html->len, "utf-8");
	assert_lines_fit(got);
	/* nothing lost: the words are all there, in order */
	g_assert_nonnull(strstr(got, "word0 word1"));
	g_assert_nonnull(strstr(got, "word59\n"));
	g_assert_cmpint(count(got, "漢字漢字"), ==, 30);
	/* 30 words of 9 columns a line at most: 8 a line (71 columns) */
	g_assert_nonnull(strstr(got, "\n漢字漢字 漢字漢字 漢字漢字 漢字漢字 漢字漢字 "
				"漢字漢字 漢字漢字 漢字漢字\n"));
	g_free(got);
	g_string_free(html, TRUE);
}

static void
test_a_word_longer_than_a_line_is_not_broken(void)
{
	char *word = g_strnfill(100, 'x');
	char *html = g_strdup_printf("short %s end", word);
	char *want = g_strdup_printf("short\n%s\nend\n", word);

	assert_text(html, want);
	g_free(want);
	g_free(html);
	g_free(word);
}

/* --- charsets -------------------------------------------------------------- */

static void
test_charset_is_converted_to_utf8(void)
{
	char *got;

	/* 0x80 is a control character in ISO-8859-15: it goes */
	got = h2t("<p>caf\xe9 \x80</p>", "iso-8859-15");
	g_assert_cmpstr(got, ==, "café\n");
	g_free(got);
	got = h2t("<p>caf\xe9</p>", "ISO-8859-1");
	g_assert_cmpstr(got, ==, "café\n");
	g_free(got);
	got = h2t("<p>\x93quoted\x94 \x80</p>", "windows-1252");
	g_assert_cmpstr(got, ==, "“quoted” €\n");
	g_free(got);
	/* the declared charset wins over a <meta> */
	got = h2t("<meta charset=\"iso-8859-1\"><p>caf\xc3\xa9</p>", "utf-8");
	g_assert_cmpstr(got, ==, "café\n");
	g_free(got);
}

static void
test_unknown_charset_is_guessed(void)
{
	char *got;

	/* none given: valid UTF-8 is UTF-8 */
	got = h2t("<p>caf\xc3\xa9</p>", NULL);
	g_assert_cmpstr(got, ==, "café\n");
	g_free(got);
	/* else a <meta> charset */
	got = h2t("<meta http-equiv=\"Content-Type\" content=\"text/html; "
		  "charset=iso-8859-7\"><p>\xe1\xe2\xe3</p>", NULL);
	g_assert_cmpstr(got, ==, "αβγ\n");
	g_free(got);
	/* else windows-1252; and a name iconv does not know is guessed too */
	got = h2t("<p>caf\xe9 \x80</p>", NULL);
	g_assert_cmpstr(got, ==, "café €\n");
	g_free(got);
	got = h2t("<p>caf\xe9</p>", "x-no-such-charset");
	g_assert_cmpstr(got, ==, "café\n");
	g_free(got);
	/* 8-bit bytes in "us-ascii" */
	got = h2t("<p>caf\xe9</p>", "us-ascii");
	g_assert_cmpstr(got, ==, "café\n");
	g_free(got);
}

static void
test_invalid_bytes_become_replacement_characters(void)
{
	char *got = h2t("<p>a\xff" "b \xc3</p>", "utf-8");

	g_assert_true(g_utf8_validate(got, -1, NULL));
	g_assert_cmpstr(got, ==, "a\xef\xbf\xbd" "b \xef\xbf\xbd\n");
	g_free(got);
	got = h2t("<p>\xa4\xa4 x</p>", "euc-jp");
	g_assert_true(g_utf8_validate(got, -1, NULL));
	g_free(got);
}

static void
test_nul_and_control_characters_are_dropped(void)
{
	static const char html[] = "<p>a\0b\x01" "c\x1b[31md\r\ne\x7f</p>";
	char *got = html2text(html, sizeof(html) - 1, NULL);

	g_assert_cmpstr(got, ==, "abc[31md e\n");
	g_free(got);
}

/* --- hostile input ---------------------------------------------------------- */

static char *
repeat(const char *s, int n)
{
	GString *out = g_string_sized_new(strlen(s) * (size_t)n);

	for (int i = 0; i < n; i++)
		g_string_append(out, s);
	return g_string_free(out, FALSE);
}

static void
test_ten_thousand_nested_divs_keep_their_text(void)
{
	char *open = repeat("<div>", 10000), *close = repeat("</div>", 10000);
	char *html = g_strconcat("<p>start</p>", open, "inner", close, "after", NULL);
	char *got = h2t(html, NULL);

	g_assert_cmpstr(got, ==, "start\n\ninner\nafter\n");
	g_free(got);
	g_free(html);
	g_free(open);
	g_free(close);
}

static void
test_deep_lists_and_quotes_are_indented_within_bounds(void)
{
	char *open = repeat("<ul><li>", 10000), *close = repeat("</li></ul>", 10000);
	char *html = g_strconcat(open, "inner", close, "after", NULL);
	char *got = h2t(html, NULL);

	g_assert_nonnull(strstr(got, "* inner\n"));
	g_assert_true(g_str_has_suffix(got, "\nafter\n"));
	assert_lines_fit(got);
	g_free(got);
	g_free(html);
	g_free(open);
	g_free(close);

	open = repeat("<blockquote>", 10000);
	close = repeat("</blockquote>", 10000);
	html = g_strconcat(open, "inner", close, "after", NULL);
	got = h2t(html, NULL);
	g_assert_cmpstr(got, ==, "> > > > > > > > inner\n\nafter\n");
	g_free(got);
	g_free(html);
	g_free(open);
	g_free(close);
}

/* Each end tag that matches no open element makes libxml2 scan all the
 * open ones: 50,000 open and 200,000 such end tags is 10^10 steps unless
 * the depth is bounded (it takes well under a second here). */
static void
test_end_tag_flood_under_deep_nesting_is_fast(void)
{
	char *open = repeat("<div>", 50000), *close = repeat("</span>", 200000);
	char *html = g_strconcat(open, "mid", close, "end", NULL);
	gint64 start = g_get_monotonic_time();
	char *got = h2t(html, NULL);

	g_test_message("%zu bytes in %" G_GINT64_FORMAT " ms", strlen(html),
		       elapsed_ms(start));
	g_assert_cmpint(elapsed_ms(start), <, 10000);
	g_assert_cmpstr(got, ==, "midend\n");
	g_free(got);
	g_free(html);
	g_free(open);
	g_free(close);
}

/* libxml2 compares each attribute with every earlier one of its tag. */
static void
test_attribute_flood_is_fast(void)
{
	GString *html = g_string_new("<p>before</p><div");
	gint64 start;
	char *got;

	for (int i = 0; i < 100000; i++)
		g_string_append_printf(html, " a%d=\"v\"", i);
	g_string_append(html, ">text</div><p>after</p>");
	start = g_get_monotonic_time();
	got = html2text(html->str, html->len, NULL);
	g_test_message("%zu bytes in %" G_GINT64_FORMAT " ms", html->len,
		       elapsed_ms(start));
	g_assert_cmpint(elapsed_ms(start), <, 10000);
	g_assert_cmpstr(got, ==, "before\n\ntext\n\nafter\n");
	g_free(got);
	g_string_free(html, TRUE);
}

/* nodemailer's "Kill the HTML parser" message: half a megabyte of
 * brackets inside an unclosed <title>. */
static void
test_corpus_parser_killer_is_converted_in_bounded_time(void)
{
	char *path = g_build_filename(data_dir, "mime", "nodemailer-mailparser",
				      "htmllargecallstack.eml", NULL);
	char *data, *body, *got;
	gsize len;
	gint64 start;

	g_assert_true(g_file_get_contents(path, &data, &len, NULL));
	body = strstr(data, "\n\n");
	g_assert_nonnull(body);
	start = g_get_monotonic_time();
	got = html2text(body, len - (size_t)(body - data), NULL);
	g_assert_cmpint(elapsed_ms(start), <, 10000);
	g_assert_true(g_utf8_validate(got, -1, NULL));
	/* all of it is the title's, which is not shown */
	g_assert_cmpstr(got, ==, "");
	g_free(got);
	/* the same with the title closed at once: the text is there */
	memcpy(strstr(body, "<title>"), "<p>    ", 7);
	got = html2text(body, len - (size_t)(body - data), NULL);
	g_assert_cmpint(elapsed_ms(start), <, 20000);
	g_assert_nonnull(strstr(got, "||Alerts||"));
	g_free(got);
	g_free(data);
	g_free(path);
}

/* --- golden files ------------------------------------------------------ */

static void
test_golden_files_match(void)
{
	char *dir = g_build_filename(data_dir, "html2text", NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	int cases = 0;

	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL) {
		char *in_path, *out_path, *html, *want, *got, *base;
		gsize len;

		if (!g_str_has_suffix(name, ".html"))
			continue;
		base = g_strndup(name, strlen(name) - 5);
		in_path = g_build_filename(dir, name, NULL);
		out_path = g_strdup_printf("%s/%s.txt", dir, base);
		g_assert_true(g_file_get_contents(in_path, &html, &len, NULL));
		g_assert_true(g_file_get_contents(out_path, &want, NULL, NULL));
		got = html2text(html, len, NULL);
		if (strcmp(got, want) != 0)
			g_test_message("%s differs; got:\n%s", name, got);
		g_assert_cmpstr(got, ==, want);
		assert_lines_fit(strcmp(base, "code") == 0 ? "" : got);
		cases++;
		g_free(got);
		g_free(want);
		g_free(html);
		g_free(out_path);
		g_free(in_path);
		g_free(base);
	}
	g_dir_close(d);
	g_assert_cmpint(cases, >=, 6);
	g_free(dir);
}

static const struct unit_test tests[] = {
	{ "/html2text/layout/paragraphs-blank-lines-br-line-breaks",
	  test_paragraphs_give_blank_lines_and_br_a_line_break },
	{ "/html2text/layout/headings-on-their-own-lines",
	  test_headings_stand_on_their_own_lines },
	{ "/html2text/layout/lists-bulleted-numbered-nested",
	  test_lists_are_bulleted_or_numbered_and_nest },
	{ "/html2text/layout/links-text-then-url-or-url-alone",
	  test_links_give_text_then_url_or_url_alone },
	{ "/html2text/layout/entities-decoded",
	  test_entities_are_decoded },
	{ "/html2text/layout/pre-kept-verbatim",
	  test_pre_is_kept_verbatim },
	{ "/html2text/layout/tables-row-a-line-cells-separated",
	  test_tables_give_a_line_a_row_with_cells_separated },
	{ "/html2text/layout/blockquotes-quoted",
	  test_blockquotes_are_quoted },
	{ "/html2text/layout/script-style-head-dropped",
	  test_script_style_and_head_are_dropped },
	{ "/html2text/layout/whitespace-collapses-outside-pre",
	  test_whitespace_collapses_outside_pre },
	{ "/html2text/layout/text-after-end-of-html-kept",
	  test_text_after_the_end_of_html_is_kept },
	{ "/html2text/layout/hr-and-signature-separator",
	  test_hr_and_signature_separator },
	{ "/html2text/wrap/72-columns-at-spaces-utf8-aware",
	  test_lines_wrap_at_72_columns_at_spaces },
	{ "/html2text/wrap/long-word-not-broken",
	  test_a_word_longer_than_a_line_is_not_broken },
	{ "/html2text/charset/converted-to-utf8",
	  test_charset_is_converted_to_utf8 },
	{ "/html2text/charset/unknown-is-guessed",
	  test_unknown_charset_is_guessed },
	{ "/html2text/charset/invalid-bytes-become-u+fffd",
	  test_invalid_bytes_become_replacement_characters },
	{ "/html2text/charset/nul-and-controls-dropped",
	  test_nul_and_control_characters_are_dropped },
	{ "/html2text/hostile/10000-nested-divs-keep-text",
	  test_ten_thousand_nested_divs_keep_their_text },
	{ "/html2text/hostile/deep-lists-and-quotes-bounded-indent",
	  test_deep_lists_and_quotes_are_indented_within_bounds },
	{ "/html2text/hostile/end-tag-flood-fast",
	  test_end_tag_flood_under_deep_nesting_is_fast },
	{ "/html2text/hostile/attribute-flood-fast",
	  test_attribute_flood_is_fast },
	{ "/html2text/hostile/corpus-parser-killer-bounded",
	  test_corpus_parser_killer_is_converted_in_bounded_time },
	{ "/html2text/golden/files-match",
	  test_golden_files_match },
};

int
main(int argc, char **argv)
{
	const char *top = getenv("HERALD_TOP");
	char *bin;

	/* tests/run exports HERALD_TOP; else the binary is in build/tests/ */
	if (top != NULL) {
		data_dir = g_build_filename(top, "tests", "data", NULL);
	} else {
		bin = g_path_get_dirname(argv[0]);
		data_dir = g_build_filename(bin, "..", "..", "tests", "data", NULL);
		g_free(bin);
	}
	return testutil_main_isolated(argc, argv, tests, G_N_ELEMENTS(tests));
}
