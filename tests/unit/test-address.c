/*
 * test-address.c - unit tests for address.c: the forms of one mailbox,
 * normalisation (case, IDN, quotes), the comparison key, every rejection
 * with its reason, header lists with groups and folds, formatting that
 * reads back, and the RFC 2047 section 8 examples (tests/data/rfc2047,
 * found through $HERALD_TOP or relative to the test binary).
 */
#include "mail/address.h"
#include "base/base.h"

#include <stdlib.h>
#include <string.h>

static const char *data_dir;	/* tests/data */

/* --- helpers ------------------------------------------------------------- */

/* address_parse(text) succeeds with this address and name (NULL: none). */
static void
assert_parses(const char *text, const char *want_addr, const char *want_name)
{
	struct address *a = NULL;
	GError *error = NULL;

	g_test_message("parse: %s", text);
	g_assert_cmpint(address_parse(text, &a, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_nonnull(a);
	g_assert_cmpstr(a->addr, ==, want_addr);
	g_assert_cmpstr(a->name, ==, want_name);
	address_free(&a);
	g_assert_null(a);
}

/* address_parse(text) fails with HERALD_ERR_INVALID, a message that
 * contains reason (NULL: any), and no address. */
static void
assert_rejected(const char *text, const char *reason)
{
	struct address *a = (struct address *)&a;	/* must become NULL */
	GError *error = NULL;

	g_test_message("reject: %s", text);
	g_assert_cmpint(address_parse(text, &a, &error), ==, -1);
	g_assert_null(a);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_test_message("  -> %s", error->message);
	if (reason != NULL && strstr(error->message, reason) == NULL)
		g_error("\"%s\": message \"%s\" does not say \"%s\"", text,
			error->message, reason);
	/* A message goes to logs: the input is never in it raw. */
	g_assert_null(strchr(error->message, '\r'));
	g_assert_null(strchr(error->message, '\n'));
	g_assert_true(g_utf8_validate(error->message, -1, NULL));
	g_clear_error(&error);
}

static char *
repeat(char c, size_t n)
{
	char *s = g_malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A valid domain of exactly len octets (len >= 10). */
static char *
domain_of_length(size_t len)
{
	GString *d = g_string_new(NULL);

	while (len - d->len > 8 + 64) {
		char *label = repeat('d', 63);

		g_string_append_printf(d, "%s.", label);
		g_free(label);
	}
	char *last = repeat('e', len - d->len - 8);
	g_string_append_printf(d, "%s.example", last);
	g_free(last);
	g_assert_cmpuint(d->len, ==, len);
	return g_string_free(d, FALSE);
}

/* --- the forms of one mailbox ------------------------------------------- */

static void
test_plain_address(void)
{
	assert_parses("jane@example.org", "jane@example.org", NULL);
	assert_parses("  jane@example.org\t", "jane@example.org", NULL);
}

static void
test_angle_bracketed_address(void)
{
	assert_parses("<jane@example.org>", "jane@example.org", NULL);
	assert_parses(" < jane@example.org > ", "jane@example.org", NULL);
}

static void
test_named_address(void)
{
	assert_parses("Jane Doe <jane@example.org>", "jane@example.org",
		      "Jane Doe");
	assert_parses("John Q. Public <jqp@example.org>", "jqp@example.org",
		      "John Q. Public");
	assert_parses("Zoë Ñandú <zoe@example.org>", "zoe@example.org",
		      "Zoë Ñandú");
}

static void
test_quoted_name_with_comma(void)
{
	assert_parses("\"Doe, Jane\" <jane@example.org>", "jane@example.org",
		      "Doe, Jane");
	assert_parses("\"Jane \\\"JD\\\" Doe\" <jane@example.org>",
		      "jane@example.org", "Jane \"JD\" Doe");
}

static void
test_rfc2047_encoded_name_is_decoded(void)
{
	assert_parses("=?ISO-8859-1?Q?Andr=E9?= Pirard <pirard@example.org>",
		      "pirard@example.org", "André Pirard");
	assert_parses("=?UTF-8?B?Wm/Dqw==?= <zoe@example.org>",
		      "zoe@example.org", "Zoë");
}

static void
test_comment_form_gives_name(void)
{
	assert_parses("jane@example.org (Jane Doe)", "jane@example.org",
		      "Jane Doe");
	/* A comment beside a display name does not replace it. */
	assert_parses("Jane <jane@example.org> (work)", "jane@example.org",
		      "Jane");
}

static void
test_quoted_local_part_is_valid_and_kept_quoted(void)
{
	assert_parses("\"john doe\"@example.org", "\"john doe\"@example.org",
		      NULL);
	assert_parses("John <\"john..doe.\"@example.org>",
		      "\"john..doe.\"@example.org", "John");
	assert_parses("\"a\\\"b\"@example.org", "\"a\\\"b\"@example.org", NULL);
	/* Quotes that change nothing go: "john"@x is john@x. */
	assert_parses("\"john\"@example.org", "john@example.org", NULL);
	assert_parses("\"j\\ohn\"@example.org", "john@example.org", NULL);
	g_assert_cmpint(address_validate("\"john doe\"@example.org", NULL), ==,
			0);
}

static void
test_idn_domain_becomes_a_label(void)
{
	assert_parses("user@bücher.example", "user@xn--bcher-kva.example",
		      NULL);
	assert_parses("Jürgen <user@BÜCHER.Example>",
		      "user@xn--bcher-kva.example", "Jürgen");
	assert_parses("user@XN--BCHER-KVA.example",
		      "user@xn--bcher-kva.example", NULL);
	/* IDNA2008, not 2003: ß stays ß. */
	assert_parses("user@straße.example", "user@xn--strae-oqa.example",
		      NULL);
	assert_rejected("user@-bücher.example", "internationalised");
}

static void
test_domain_lowercased_local_case_kept(void)
{
	char *key;

	assert_parses("Jane.Doe@Example.ORG", "Jane.Doe@example.org", NULL);
	key = address_key("Jane.Doe@Example.ORG");
	g_assert_cmpstr(key, ==, "jane.doe@example.org");
	g_free(key);
	key = address_key("\"Jane Doe\"@EXAMPLE.org");
	g_assert_cmpstr(key, ==, "\"jane doe\"@example.org");
	g_free(key);
	/* Not an address (a UTF-8 local part): no key. */
	g_assert_null(address_key("Jürgen@bücher.example"));
	key = address_key("JORG@BÜCHER.example");
	g_assert_cmpstr(key, ==, "jorg@xn--bcher-kva.example");
	g_free(key);
}

static void
test_equal_ignores_case_and_spelling(void)
{
	g_assert_true(address_equal("Jane@Example.org", "jane@EXAMPLE.ORG"));
	g_assert_true(address_equal("user@bücher.example",
				    "USER@xn--bcher-kva.example"));
	g_assert_true(address_equal("\"jane\"@example.org",
				    "JANE@example.org"));
	g_assert_false(address_equal("jane@example.org", "jane@example.com"));
	g_assert_false(address_equal("jane@example.org", "jan@example.org"));
	/* An invalid address equals nothing, itself included. */
	g_assert_false(address_equal("jane@", "jane@"));
	g_assert_false(address_equal(NULL, "jane@example.org"));
}

/* --- rejections ---------------------------------------------------------- */

static void
test_cr_lf_injection_rejected(void)
{
	assert_rejected("a@b.example\r\nBcc: x@y.example", "CR or LF");
	assert_rejected("a@b.example\nBcc: x@y.example", "CR or LF");
	assert_rejected("Name\r <a@b.example>", "CR or LF");
	assert_rejected("\"a\rb\"@example.org", "CR or LF");
	/* Hidden in an encoded word, it comes out when decoded. */
	assert_rejected("=?utf-8?q?Jane=0D=0ABcc=3A_x=40y.example?= "
			"<a@b.example>", "control character");
	g_assert_cmpint(address_validate("a@b.example\r\n", NULL), ==, -1);
}

static void
test_dots_in_local_part_rejected(void)
{
	assert_rejected("jane.@example.org", "ends with a dot");
	assert_rejected("jane..doe@example.org", "two dots in a row");
	assert_rejected(".jane@example.org", "starts with a dot");
	assert_rejected("Jane <jane.@example.org>", "ends with a dot");
}

static void
test_missing_parts_rejected(void)
{
	assert_rejected("jane@", "no domain");
	assert_rejected("@example.org", "local part before the @ is empty");
	assert_rejected("jane.example.org", "no @");
	assert_rejected("Jane <jane>", "no @");
	assert_rejected("jane@doe@example.org", "more than one @");
	assert_rejected("\"\"@example.org", "quoted local part is empty");
}

static void
test_group_rejected_by_parse(void)
{
	assert_rejected("undisclosed-recipients:;", "group");
	assert_rejected("friends: a@b.example, c@d.example;", "group");
}

static void
test_two_addresses_rejected_by_parse(void)
{
	assert_rejected("a@b.example, c@d.example", "more than one address");
	assert_rejected("Doe, Jane <jane@example.org>",
			"more than one address");
	assert_rejected("<a@b.example> <c@d.example>", "more than one <");
	assert_rejected("a@b.example c@d.example", "space outside quotes");
}

static void
test_empty_rejected(void)
{
	assert_rejected("", "empty");
	assert_rejected("   ", "empty");
	assert_rejected("(just a comment)", "empty");
	assert_rejected(NULL, "empty");
	assert_rejected("Jane <>", "empty <>");
	g_assert_cmpint(address_validate("", NULL), ==, -1);
}

static void
test_overlong_local_part_rejected(void)
{
	char *l64 = repeat('a', 64), *l65 = repeat('a', 65);
	char *ok = g_strdup_printf("%s@example.org", l64);
	char *bad = g_strdup_printf("%s@example.org", l65);
	char *bad_quoted = g_strdup_printf("\"%s x\"@example.org", l64);

	assert_parses(ok, ok, NULL);
	assert_rejected(bad, "65 octets long, more than 64");
	assert_rejected(bad_quoted, "more than 64");
	g_free(l64);
	g_free(l65);
	g_free(ok);
	g_free(bad);
	g_free(bad_quoted);
}

static void
test_overlong_address_rejected(void)
{
	char *local = repeat('a', 64);
	char *d189 = domain_of_length(189), *d190 = domain_of_length(190);
	char *ok = g_strdup_printf("%s@%s", local, d189);
	char *bad = g_strdup_printf("%s@%s", local, d190);
	char *label64 = repeat('l', 64);
	char *bad_label = g_strdup_printf("a@%s.example", label64);

	g_assert_cmpuint(strlen(ok), ==, 254);
	g_assert_cmpuint(strlen(bad), ==, 255);
	assert_parses(ok, ok, NULL);
	assert_rejected(bad, "255 octets long, more than 254");
	assert_rejected(bad_label, "64 octets long, more than 63");
	g_free(local);
	g_free(d189);
	g_free(d190);
	g_free(ok);
	g_free(bad);
	g_free(label64);
	g_free(bad_label);
}

static void
test_domain_label_hyphen_rejected(void)
{
	assert_rejected("a@-example.org", "starts with a hyphen");
	assert_rejected("a@example-.org", "ends with a hyphen");
	assert_rejected("a@mail.-x.example", "starts with a hyphen");
	assert_parses("a@ex-ample.org", "a@ex-ample.org", NULL);
}

static void
test_control_characters_rejected(void)
{
	assert_rejected("a\x01@example.org", "U+0001");
	assert_rejected("a@example.org\x7f", "U+007F");
	assert_rejected("Jane\x1b[31m <a@example.org>", "U+001B");
	assert_rejected("Jane\xc2\x85 <a@example.org>", "U+0085");
	assert_rejected("a\xff@example.org", "not valid UTF-8");
	g_assert_cmpint(address_validate("a\t@example.org", NULL), ==, -1);
}

static void
test_dotless_domain_rejected(void)
{
	assert_rejected("root@localhost", "no dot");
	assert_rejected("jane@gmail", "no dot");
	assert_rejected("jane@192.0.2.1", "ends in a number");
	assert_rejected("jane@[192.0.2.1]", "domain literals");
}

static void
test_utf8_local_part_rejected(void)
{
	assert_rejected("jörg@example.org", "SMTPUTF8");
	assert_rejected("\"jörg\"@example.org", "SMTPUTF8");
}

/* --- tables -------------------------------------------------------------- */

static const struct {
	const char *text, *addr, *name;
} valid_cases[] = {
	{ "a@b.example", "a@b.example", NULL },
	{ "first.last@example.org", "first.last@example.org", NULL },
	{ "user+tag@example.org", "user+tag@example.org", NULL },
	{ "!#$%&'*+-/=?^_`{|}~@example.org", "!#$%&'*+-/=?^_`{|}~@example.org",
	  NULL },
	{ "x@sub.domain.example.co.uk", "x@sub.domain.example.co.uk", NULL },
	{ "x@123.example", "x@123.example", NULL },
	{ "x@example.x1", "x@example.x1", NULL },
	{ "<x@Example.COM>", "x@example.com", NULL },
	{ "X Y <x@example.org>", "x@example.org", "X Y" },
	{ "\"X, Y\" <x@example.org>", "x@example.org", "X, Y" },
	{ "\"x@example.org\" <x@example.org>", "x@example.org",
	  "x@example.org" },
	{ "(comment) x@example.org", "x@example.org", NULL },
	{ "x@example.org (X Y)", "x@example.org", "X Y" },
	{ "\"very.(),:;<>[]\\\".VERY.\\\"very@\\\\ \\\"very\\\".unusual\""
	  "@strange.example.com",
	  "\"very.(),:;<>[]\\\".VERY.\\\"very@\\\\ \\\"very\\\".unusual\""
	  "@strange.example.com", NULL },
	{ "\" \"@example.org", "\" \"@example.org", NULL },
	{ "user@müller.example", "user@xn--mller-kva.example", NULL },
	{ "user@日本語.jp", "user@xn--wgv71a119e.jp", NULL },
	{ "=?utf-8?q?Caf=C3=A9?= <cafe@example.org>", "cafe@example.org",
	  "Café" },
	{ "Mary Smith <mary@x.test>", "mary@x.test", "Mary Smith" },
	{ "\t<a@b.example>\t", "a@b.example", NULL },
};

static const struct {
	const char *text, *reason;
} invalid_cases[] = {
	{ "plainaddress", "no @" },
	{ "@no-local.example", "empty" },
	{ "a@b@c.example", "more than one @" },
	{ "a b@example.org", "space outside quotes" },
	{ "a@exa mple.org", "space outside quotes" },
	{ "a\"b@example.org", "quote" },
	{ "\"unclosed@example.org", "closing quote" },
	{ "Name <a@b.example", "closing >" },
	{ "Name a@b.example>", "> without" },
	{ "(unclosed a@b.example", "closing )" },
	{ "a@b.example)", ") without" },
	{ "a(b)c@example.org", "space outside quotes" },
	{ "a@b..example", "two dots in a row in the domain" },
	{ "a@.b.example", "domain starts with a dot" },
	{ "a@b.example.", "domain ends with a dot" },
	{ "a@exa_mple.org", "'_'" },
	{ "a,b@example.org", "more than one address" },
	{ "a;b@example.org", "';'" },
	{ "a@b.example <c@d.example>", "must be inside quotes" },
	{ "<a@b.example> trailing", "text after" },
	{ "<a@b.example>, ", "more than one address" },
	{ "Name <a b@example.org>", "space outside quotes" },
	{ "\"john\"doe@example.org", "text between" },
	{ "a\\b@example.org", "'\\'" },
	{ "a@xn--ab--.example", "hyphen" },
};

static void
test_table_of_valid_addresses(void)
{
	g_assert_cmpuint(G_N_ELEMENTS(valid_cases), >=, 15);
	for (guint i = 0; i < G_N_ELEMENTS(valid_cases); i++)
		assert_parses(valid_cases[i].text, valid_cases[i].addr,
			      valid_cases[i].name);
}

static void
test_table_of_invalid_addresses(void)
{
	g_assert_cmpuint(G_N_ELEMENTS(invalid_cases), >=, 15);
	for (guint i = 0; i < G_N_ELEMENTS(invalid_cases); i++)
		assert_rejected(invalid_cases[i].text, invalid_cases[i].reason);
}

/* --- validate, lists, format --------------------------------------------- */

static void
test_validate_wants_bare_addr_spec(void)
{
	GError *error = NULL;
	char *n;

	g_assert_cmpint(address_validate("jane@example.org", &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(address_validate("<jane@example.org>", &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpint(address_validate("Jane <jane@example.org>", &error),
			==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
	g_assert_cmpint(address_validate(" jane@example.org", &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);

	n = address_normalise("Jane@BÜCHER.example", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(n, ==, "Jane@xn--bcher-kva.example");
	g_free(n);
	g_assert_null(address_normalise("jane@", &error));
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
	g_clear_error(&error);
}

static void
test_list_flattens_groups_and_unfolds(void)
{
	GPtrArray *addrs = NULL;
	GError *error = NULL;
	struct address *a;

	g_assert_cmpint(address_parse_list(
			    "\"Doe, Jane\" <jane@example.org>,\r\n"
			    "\tfriends: bob@example.org, Carol\r\n"
			    " <carol@EXAMPLE.org>;, undisclosed-recipients:;,"
			    " dave@bücher.example (Dave),",
			    &addrs, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(addrs->len, ==, 4);
	a = addrs->pdata[0];
	g_assert_cmpstr(a->addr, ==, "jane@example.org");
	g_assert_cmpstr(a->name, ==, "Doe, Jane");
	a = addrs->pdata[1];
	g_assert_cmpstr(a->addr, ==, "bob@example.org");
	g_assert_null(a->name);
	a = addrs->pdata[2];
	g_assert_cmpstr(a->addr, ==, "carol@example.org");
	g_assert_cmpstr(a->name, ==, "Carol");
	a = addrs->pdata[3];
	g_assert_cmpstr(a->addr, ==, "dave@xn--bcher-kva.example");
	g_assert_cmpstr(a->name, ==, "Dave");
	g_ptr_array_unref(addrs);

	g_assert_cmpint(address_parse_list("undisclosed-recipients:;", &addrs,
					   &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(addrs->len, ==, 0);
	g_ptr_array_unref(addrs);
}

static void
test_list_fails_whole_on_one_bad_address(void)
{
	const char *bad[] = {
		"a@b.example, c@d",
		"a@b.example\r\nBcc: x@y.example",
		"a@b.example,\nBcc: x@y.example",
		"g: a@b.example",
		"g: a@b.example; c@d.example",
		"g: h: a@b.example;;",
		"a@b.example; c@d.example",
		"",
		" , ",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		GPtrArray *addrs = (GPtrArray *)&addrs;
		GError *error = NULL;

		g_test_message("list: %s", bad[i]);
		g_assert_cmpint(address_parse_list(bad[i], &addrs, &error), ==,
				-1);
		g_assert_null(addrs);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
		g_clear_error(&error);
	}
}

static void
test_format_reads_back(void)
{
	const struct {
		const char *name, *addr, *want;
	} cases[] = {
		{ NULL, "jane@example.org", "jane@example.org" },
		{ "Jane Doe", "jane@example.org", "Jane Doe <jane@example.org>" },
		{ "Doe, Jane", "jane@example.org",
		  "\"Doe, Jane\" <jane@example.org>" },
		{ "Jane \"JD\" Doe", "\"jane doe\"@example.org", NULL },
		{ "André Pirard", "pirard@example.org", NULL },
		{ "日本語", "x@xn--wgv71a119e.jp", NULL },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct address in = { (char *)cases[i].addr,
				      (char *)cases[i].name };
		struct address *out = NULL;
		char *s = address_format(&in);

		g_test_message("format: %s", s);
		if (cases[i].want != NULL)
			g_assert_cmpstr(s, ==, cases[i].want);
		/* Fit for a header: ASCII, one line. */
		for (const char *p = s; *p != '\0'; p++)
			g_assert_true(*p >= 0x20 && *p < 0x7f);
		g_assert_cmpint(address_parse(s, &out, NULL), ==, 0);
		g_assert_cmpstr(out->addr, ==, cases[i].addr);
		g_assert_cmpstr(out->name, ==, cases[i].name);
		address_free(&out);
		g_free(s);
	}
}

/* --- the RFC 2047 section 8 examples ------------------------------------- */

/* Each encoded text of tests/data/rfc2047/rfc2047_section8.tsv is read as
 * a header value (folded, through address_parse_list) and unfolded
 * (address_parse): a mailbox must give its decoded "Name <addr>"; any other
 * text is used as a display name, "(...)" as a comment that names a bare
 * address, and must decode to the expected text. */
static void
test_rfc2047_section8_examples(void)
{
	char *path = g_build_filename(data_dir, "rfc2047",
				      "rfc2047_section8.tsv", NULL);
	char *text = NULL, **lines;
	GError *error = NULL;
	guint rows = 0;

	g_assert_true(g_file_get_contents(path, &text, NULL, &error));
	g_assert_no_error(error);
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 1; lines[i] != NULL; i++) {
		char **f;
		char *folded, *unfolded, *value, *want, *inner;
		GString *u;
		size_t n;

		if (*lines[i] == '\0')
			continue;
		f = g_strsplit(lines[i], "\t", -1);
		g_assert_cmpuint(g_strv_length(f), ==, 3);
		/* The literal \r\n stands for a fold. */
		u = g_string_new(f[1]);
		g_string_replace(u, "\\r\\n", "\r\n", 0);
		folded = g_string_free(u, FALSE);
		u = g_string_new(f[1]);
		g_string_replace(u, "\\r\\n", "", 0);
		unfolded = g_string_free(u, FALSE);
		n = strlen(f[1]);

		if (strchr(f[1], '<') != NULL && f[1][n - 1] == ')') {
			/* A mailbox with a comment: the comment as the name
			 * of the bare address. */
			char *lt = strchr(folded, '<'), *gt = strchr(folded, '>');
			char *addr = g_strndup(lt + 1, gt - lt - 1);
			char *open = strrchr(f[2], '(');
			value = g_strdup_printf("%s %s", addr, gt + 2);
			inner = g_strndup(open + 1, strlen(open) - 2);
			want = g_strdup_printf("%s <%s>", inner, addr);
			g_free(addr);
		} else if (strchr(f[1], '<') != NULL) {
			/* A mailbox: expected starts "Name <addr>". */
			char *end = strchr(f[2], '>');
			want = g_strndup(f[2], end - f[2] + 1);
			value = folded;
			inner = NULL;
		} else if (f[1][0] == '(' && f[1][n - 1] == ')') {
			/* A comment: as the name of a bare address. */
			value = g_strdup_printf("x@example.org %s", folded);
			inner = g_strndup(f[2] + 1, strlen(f[2]) - 2);
			want = g_strdup_printf("%s <x@example.org>", inner);
		} else {
			value = g_strdup_printf("%s <x@example.org>", folded);
			inner = g_strdup(f[2]);
			want = g_strdup_printf("%s <x@example.org>", inner);
		}

		for (int pass = 0; pass < 2; pass++) {
			GPtrArray *addrs = NULL;
			struct address *a = NULL;
			char *got;

			if (pass == 0) {
				g_assert_cmpint(address_parse_list(value, &addrs,
								   &error), ==, 0);
				g_assert_no_error(error);
				g_assert_cmpuint(addrs->len, ==, 1);
				a = addrs->pdata[0];
			} else {
				/* Same text unfolded, as one mailbox. */
				u = g_string_new(value);
				g_string_replace(u, "\r\n", "", 0);
				g_assert_cmpint(address_parse(u->str, &a,
							      &error), ==, 0);
				g_assert_no_error(error);
				g_string_free(u, TRUE);
			}
			got = g_strdup_printf("%s <%s>", a->name, a->addr);
			g_test_message("rfc2047 %s -> %s", f[1], got);
			g_assert_cmpstr(got, ==, want);
			g_free(got);
			if (addrs != NULL)
				g_ptr_array_unref(addrs);
			else
				address_free(&a);
		}
		rows++;
		if (value != folded)
			g_free(value);
		g_free(folded);
		g_free(unfolded);
		g_free(want);
		g_free(inner);
		g_strfreev(f);
	}
	g_assert_cmpuint(rows, ==, 14);
	g_strfreev(lines);
	g_free(text);
	g_free(path);
}

int
main(int argc, char **argv)
{
	const char *top = getenv("HERALD_TOP");
	char *dir;

	g_test_init(&argc, &argv, NULL);
	/* tests/run exports HERALD_TOP; else the binary is in build/tests/ */
	if (top != NULL) {
		dir = g_build_filename(top, "tests", "data", NULL);
	} else {
		char *bin = g_path_get_dirname(argv[0]);
		dir = g_build_filename(bin, "..", "..", "tests", "data", NULL);
		g_free(bin);
	}
	data_dir = dir;

	g_test_add_func("/address/parse/plain", test_plain_address);
	g_test_add_func("/address/parse/angle-bracketed",
			test_angle_bracketed_address);
	g_test_add_func("/address/parse/named", test_named_address);
	g_test_add_func("/address/parse/quoted-name-with-comma",
			test_quoted_name_with_comma);
	g_test_add_func("/address/parse/rfc2047-encoded-name-is-decoded",
			test_rfc2047_encoded_name_is_decoded);
	g_test_add_func("/address/parse/comment-form-gives-name",
			test_comment_form_gives_name);
	g_test_add_func("/address/parse/quoted-local-part-valid-and-kept-quoted",
			test_quoted_local_part_is_valid_and_kept_quoted);
	g_test_add_func("/address/normalise/idn-domain-becomes-a-label",
			test_idn_domain_becomes_a_label);
	g_test_add_func("/address/normalise/domain-lowercased-local-case-kept-key-folds-all",
			test_domain_lowercased_local_case_kept);
	g_test_add_func("/address/equal/ignores-case-and-spelling",
			test_equal_ignores_case_and_spelling);
	g_test_add_func("/address/reject/cr-lf-injection",
			test_cr_lf_injection_rejected);
	g_test_add_func("/address/reject/leading-trailing-doubled-dot-in-local-part",
			test_dots_in_local_part_rejected);
	g_test_add_func("/address/reject/missing-domain-local-part-or-at-and-two-ats",
			test_missing_parts_rejected);
	g_test_add_func("/address/reject/group-in-parse",
			test_group_rejected_by_parse);
	g_test_add_func("/address/reject/two-addresses-in-parse",
			test_two_addresses_rejected_by_parse);
	g_test_add_func("/address/reject/empty", test_empty_rejected);
	g_test_add_func("/address/reject/local-part-over-64-octets",
			test_overlong_local_part_rejected);
	g_test_add_func("/address/reject/address-over-254-octets",
			test_overlong_address_rejected);
	g_test_add_func("/address/reject/domain-label-with-edge-hyphen",
			test_domain_label_hyphen_rejected);
	g_test_add_func("/address/reject/control-characters",
			test_control_characters_rejected);
	g_test_add_func("/address/reject/domain-without-dot-or-ip",
			test_dotless_domain_rejected);
	g_test_add_func("/address/reject/utf8-local-part",
			test_utf8_local_part_rejected);
	g_test_add_func("/address/table/valid", test_table_of_valid_addresses);
	g_test_add_func("/address/table/invalid",
			test_table_of_invalid_addresses);
	g_test_add_func("/address/validate/wants-bare-addr-spec",
			test_validate_wants_bare_addr_spec);
	g_test_add_func("/address/list/flattens-groups-and-unfolds",
			test_list_flattens_groups_and_unfolds);
	g_test_add_func("/address/list/fails-whole-on-one-bad-address",
			test_list_fails_whole_on_one_bad_address);
	g_test_add_func("/address/format/reads-back", test_format_reads_back);
	g_test_add_func("/address/rfc2047/section8-examples",
			test_rfc2047_section8_examples);

	int rc = g_test_run();
	g_free(dir);
	return rc;
}
