/*
 * test-pickle.c - the safe pickle reader (src/lib/import/pickle.h): the
 * values of pickles written by Debian's python3 at protocols 0, 1 and 2;
 * hostile pickles refused without running anything; truncated, huge and
 * deeply nested ones refused; and three real Mailman 2.1 list pickles
 * (tests/data/mailman2/, from Debian's mailman3 package) read to the
 * values listed in their README.
 */
#include "testutil.h"
#include "base/base.h"
#include "import/pickle.h"

#define PYTHON "/usr/bin/python3"

/* The bytes python3 writes for the expression expr (may use os, with
 * x[:-1] etc.) pickled at protocol proto. */
static GBytes *
py_pickle(const char *setup, const char *expr, int proto)
{
	char *path = g_build_filename(g_get_tmp_dir(), "p.pck", NULL);
	char *script = g_strdup_printf(
		"import os, pickle, sys\n%s\n"
		"open(sys.argv[1], 'wb').write(pickle.dumps(%s, protocol=%d))\n",
		setup, expr, proto);
	char *argv[] = { PYTHON, "-c", script, path, NULL };
	char *out = NULL;
	int status = 0;
	gsize len;
	GError *error = NULL;

	g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL,
				   NULL, NULL, NULL, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	g_assert_true(g_file_get_contents(path, &out, &len, &error));
	g_assert_no_error(error);
	g_free(script);
	g_free(path);
	return g_bytes_new_take(out, len);
}

/* The repr of the pickle, or the error message prefixed "ERROR: ". */
static char *
read_repr(GBytes *b, const struct pickle_limits *lim)
{
	GError *error = NULL;
	gsize len;
	const char *data = g_bytes_get_data(b, &len);
	struct pickle *p = pickle_read(data, len, lim, &error);
	char *out;

	if (p == NULL) {
		g_assert_nonnull(error);
		out = g_strdup_printf("ERROR: %s", error->message);
		g_error_free(error);
		return out;
	}
	g_assert_no_error(error);
	out = pickle_repr(pickle_root(p));
	pickle_free(&p);
	return out;
}

static const char data_setup[] = "";
static const char data_expr[] =
	"{'s': 'caf\\u00e9 \\u03b1', 'n': None, 't': True, 'f': False, "
	"'i': 7, 'neg': -300, 'big': 2**40, 'mid': 70000, 'fl': 1.5, "
	"'l': [1, [2, 3], ()], 'tu': (1,), 't2': (1, 2), 't3': (1, 2, 3), "
	"'b': b'\\xe9t\\xe9', 'd': {'x': {}}}";
static const char data_repr[] =
	"{'s': 'caf\xc3\xa9 \xce\xb1', 'n': None, 't': True, 'f': False, "
	"'i': 7, 'neg': -300, 'big': 1099511627776, 'mid': 70000, 'fl': 1.5, "
	"'l': [1, [2, 3], ()], 'tu': (1), 't2': (1, 2), 't3': (1, 2, 3), "
	"'b': b'\\xe9t\\xe9', 'd': {'x': {}}}";

static void
test_values_at_protocols_0_1_2_read_as_python_wrote_them(void)
{
	for (int proto = 0; proto <= 2; proto++) {
		GBytes *b = py_pickle(data_setup, data_expr, proto);
		char *r = read_repr(b, NULL);

		g_test_message("protocol %d", proto);
		g_assert_cmpstr(r, ==, data_repr);
		g_free(r);
		g_bytes_unref(b);
	}
}

static void
test_python2_strings_and_escapes_read_as_bytes(void)
{
	/* What Python 2 writes for str and unicode at protocol 0 and 1. */
	static const char p0[] =
		"(dp0\nS'a\\'b\\\\c\\n\\xe9\\x00'\np1\nVx\\u00e9\\u20ac\np2\n"
		"sS\"q\"\nL12345678901L\nsS'f'\nF2.25\ns.";
	static const char p1[] = "}q\0(U\x01kq\x01T\x03\0\0\0\xe9t\xe9u.";
	GBytes *b0 = g_bytes_new_static(p0, sizeof p0 - 1);
	GBytes *b1 = g_bytes_new_static(p1, sizeof p1 - 1);
	char *r0 = read_repr(b0, NULL), *r1 = read_repr(b1, NULL);

	g_assert_cmpstr(r0, ==, "{b'a\\'b\\\\c\\x0a\\xe9\\x00': 'x\xc3\xa9\xe2\x82\xac', "
			"b'q': 12345678901, b'f': 2.25}");
	g_assert_cmpstr(r1, ==, "{b'k': b'\\xe9t\\xe9'}");
	g_free(r0);
	g_free(r1);
	g_bytes_unref(b0);
	g_bytes_unref(b1);
}

/* A big dict is looked up through an index: every key found, none
 * invented. */
static void
test_big_dict_lookups(void)
{
	GBytes *b = py_pickle("", "{('k%d' % i): i for i in range(1000)}", 2);
	gsize len;
	const char *data = g_bytes_get_data(b, &len);
	struct pickle *p = pickle_read(data, len, NULL, NULL);
	const struct pickle_node *d;

	g_assert_nonnull(p);
	d = pickle_root(p);
	for (int i = 0; i < 1000; i++) {
		char key[16];
		int64_t v = -1;

		g_snprintf(key, sizeof key, "k%d", i);
		g_assert_true(pickle_int(pickle_get(d, key), &v));
		g_assert_cmpint(v, ==, i);
	}
	g_assert_null(pickle_get(d, "k1000"));
	pickle_free(&p);
	g_bytes_unref(b);
}

static void
test_text_decodes_bytes_from_charset_or_latin1(void)
{
	static const char p[] = "U\x04\xe1\xf5\xf4\xde.";
	struct pickle *pk = pickle_read(p, sizeof p - 1, NULL, NULL);
	char *greek, *latin;

	g_assert_nonnull(pk);
	greek = pickle_text(pickle_root(pk), "iso-8859-7");
	latin = pickle_text(pickle_root(pk), NULL);
	g_assert_cmpstr(greek, ==, "\xce\xb1\xcf\x85\xcf\x84\xce\xae");
	g_assert_cmpstr(latin, ==, "\xc3\xa1\xc3\xb5\xc3\xb4\xc3\x9e");
	g_free(greek);
	g_free(latin);
	pickle_free(&pk);
}

/* A class whose unpickling runs a command, at each protocol; and the
 * classic hand-written GLOBAL os system + REDUCE. */
static void
test_hostile_pickles_refused_and_nothing_runs(void)
{
	char *flag = g_build_filename(g_get_tmp_dir(), "ran", NULL);
	char *setup = g_strdup_printf(
		"class E:\n"
		"    def __reduce__(self):\n"
		"        return (os.system, ('touch %s',))\n", flag);
	char *hand = g_strdup_printf("cos\nsystem\n(S'touch %s'\ntR.", flag);
	char *hand_posix = g_strdup_printf("cposix\nsystem\n(S'touch %s'\ntR.", flag);
	GBytes *b;
	char *r;

	for (int proto = 0; proto <= 2; proto++) {
		b = py_pickle(setup, "{'x': E()}", proto);
		r = read_repr(b, NULL);
		g_assert_true(g_str_has_prefix(r, "ERROR: pickle: class posix.system refused"));
		g_assert_nonnull(strstr(r, "opcode 0x63 'c'"));
		g_free(r);
		g_bytes_unref(b);
	}
	for (int i = 0; i < 2; i++) {
		const char *h = i == 0 ? hand : hand_posix;
		b = g_bytes_new_static(h, strlen(h));
		r = read_repr(b, NULL);
		g_assert_true(g_str_has_prefix(r, "ERROR: pickle: class "));
		g_assert_nonnull(strstr(r, ".system refused"));
		g_free(r);
		g_bytes_unref(b);
	}
	/* A REDUCE of an allowed class name is still not a call. */
	static const char red[] = "cMailman.Utils\nrmdir\n(S'x'\ntR.";
	b = g_bytes_new_static(red, sizeof red - 1);
	r = read_repr(b, NULL);
	g_assert_cmpstr(r, ==, "ERROR: pickle: REDUCE (a call) of "
			"Mailman.Utils.rmdir refused (opcode 0x52 'R' at offset 28)");
	g_free(r);
	g_bytes_unref(b);
	/* Hooks of the unpickler and later protocols, named. */
	static const struct { const char *in; size_t len; const char *name; } ops[] = {
		{ "Pfoo\n.", 6, "PERSID" },
		{ "K\x01Q.", 4, "BINPERSID" },
		{ "\x82\x01.", 3, "EXT1" },
		{ "\x80\x04\x95", 3, "protocol 4" },
		{ "\x80\x02\x8f.", 4, "EMPTY_SET" },
		{ "Z.", 2, "unknown" },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(ops); i++) {
		b = g_bytes_new_static(ops[i].in, ops[i].len);
		r = read_repr(b, NULL);
		g_test_message("%s", r);
		g_assert_true(g_str_has_prefix(r, "ERROR: pickle: "));
		g_assert_nonnull(strstr(r, ops[i].name));
		g_free(r);
		g_bytes_unref(b);
	}
	g_assert_false(g_file_test(flag, G_FILE_TEST_EXISTS));
	g_free(flag);
	g_free(setup);
	g_free(hand);
	g_free(hand_posix);
}

static void
test_every_truncation_is_an_error(void)
{
	for (int proto = 0; proto <= 2; proto++) {
		GBytes *b = py_pickle(data_setup, data_expr, proto);
		gsize len;
		const char *data = g_bytes_get_data(b, &len);

		for (gsize n = 0; n < len; n++) {
			GError *error = NULL;
			struct pickle *p = pickle_read(data, n, NULL, &error);

			g_assert_null(p);
			g_assert_error(error, HERALD_ERROR, HERALD_ERR_FORMAT);
			g_error_free(error);
		}
		g_bytes_unref(b);
	}
}

/* Reads python's pickle of expr (setup first) at protocol proto under
 * lim: its rendering must hold want (NULL: be no error). */
static void
expect(const char *setup, const char *expr, int proto,
       const struct pickle_limits *lim, const char *want)
{
	GBytes *b = py_pickle(setup, expr, proto);
	char *r = read_repr(b, lim);

	g_test_message("%s at protocol %d: %.100s", expr, proto, r);
	if (want == NULL)
		g_assert_false(g_str_has_prefix(r, "ERROR"));
	else
		g_assert_nonnull(strstr(r, want));
	g_free(r);
	g_bytes_unref(b);
}

static void
test_limits_refuse_huge_and_deep_pickles(void)
{
	struct pickle_limits lim = pickle_default_limits;

	lim.max_size = 4096;
	expect("", "'x' * 5000", 2, &lim, "ERROR: pickle: 5");
	expect("", "'x' * 5000", 2, &lim, "more than the limit of 4096");
	lim = pickle_default_limits;
	lim.max_nodes = 1000;
	expect("", "list(range(2000))", 2, &lim, "more than 1000 values");
	lim = pickle_default_limits;
	lim.max_memo = 10;
	expect("", "[str(i) for i in range(20)]", 1, &lim, "beyond the limit of 10");
	/* Depth: 100 levels pass, 101 and 5000 do not, at each protocol. */
	static const char deep[] =
		"def nest(n):\n"
		"    x = []\n"
		"    for i in range(n - 1):\n"
		"        x = [x]\n"
		"    return x\n"
		"sys.setrecursionlimit(100000)\n";
	for (int proto = 0; proto <= 2; proto++) {
		expect(deep, "nest(100)", proto, NULL, NULL);
		expect(deep, "nest(101)", proto, NULL, "nested deeper than 100");
		expect(deep, "nest(5000)", proto, NULL, "ERROR: pickle: ");
	}
}

/* Memo references make cycles and trees that double at each level from
 * a few bytes: a container may be placed once only. */
static void
test_shared_and_recursive_containers_refused(void)
{
	static const char *const exprs[] = {
		"rec()", "shared()", "laughs()",
	};
	static const char setup[] =
		"def rec():\n    l = []\n    l.append(l)\n    return l\n"
		"def shared():\n    a = [1]\n    return [a, a]\n"
		"def laughs():\n"
		"    x = ['lol']\n"
		"    for i in range(60):\n"
		"        x = [x, x]\n"
		"    return x\n";

	for (int proto = 0; proto <= 2; proto++)
		for (size_t i = 0; i < G_N_ELEMENTS(exprs); i++) {
			GBytes *b = py_pickle(setup, exprs[i], proto);
			char *r = read_repr(b, NULL);

			g_assert_true(g_str_has_prefix(r, "ERROR: pickle: a container placed"));
			g_free(r);
			g_bytes_unref(b);
		}
}

static struct pickle *
read_data(const char *name)
{
	char *path = g_build_filename(g_getenv("HERALD_TOP") != NULL
				      ? g_getenv("HERALD_TOP") : ".",
				      "tests/data/mailman2", name, NULL);
	GError *error = NULL;
	struct pickle *p = pickle_read_file(path, NULL, &error);

	g_assert_no_error(error);
	g_assert_nonnull(p);
	g_free(path);
	return p;
}

static void
assert_text(const struct pickle_node *d, const char *key, const char *charset,
	    const char *want)
{
	char *t = pickle_text(pickle_get(d, key), charset);

	g_test_message("%s", key);
	g_assert_cmpstr(t, ==, want);
	g_free(t);
}

static void
assert_int(const struct pickle_node *d, const char *key, int64_t want)
{
	int64_t v = -12345;

	g_test_message("%s", key);
	g_assert_true(pickle_int(pickle_get(d, key), &v));
	g_assert_cmpint(v, ==, want);
}

/* The table of tests/data/mailman2/README. */
static void
test_real_mailman_pickles_read_to_their_values(void)
{
	static const char *const files[] = {
		"config.pck", "config-with-instances.pck", "config-greek.pck",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		struct pickle *p = read_data(files[i]);
		const struct pickle_node *d = pickle_root(p);

		g_assert_cmpint(d->type, ==, PK_DICT);
		g_assert_cmpuint(d->items->len, ==, 2 * 129);
		assert_int(d, "data_version", 97);
		g_assert_cmpuint(pickle_get(d, "members")->items->len, ==, 6);
		g_assert_cmpuint(pickle_get(d, "passwords")->items->len, ==, 6);
		pickle_free(&p);
	}
}

static void
test_config_pck_values(void)
{
	struct pickle *p = read_data("config.pck");
	const struct pickle_node *d = pickle_root(p), *n;
	char *r;

	assert_text(d, "real_name", NULL, "Test");
	assert_text(d, "host_name", NULL, "heresy.example.org");
	assert_text(d, "password", NULL, "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33");
	assert_text(d, "preferred_language", NULL, "en");
	assert_text(d, "subject_prefix", NULL, "[Test] ");
	assert_int(d, "bounce_info_stale_after", 604800);
	assert_int(d, "max_message_size", 40);
	assert_int(d, "new_member_options", 256);
	assert_int(d, "subscribe_policy", 1);
	assert_int(d, "send_welcome_msg", 1);
	assert_int(d, "post_id", 1);
	g_assert_cmpint(pickle_get(d, "mod_password")->type, ==, PK_NONE);
	r = pickle_repr(pickle_get(d, "owner"));
	g_assert_cmpstr(r, ==, "[b'anne@example.com']");
	g_free(r);
	n = pickle_get(d, "passwords");
	assert_text(n, "bperson@example.com", NULL, "ukuhfoef");
	assert_text(n, "cris.person@example.net", NULL, "meheefze");
	assert_text(n, "dperson@example.org", NULL, "isigwiuc");
	n = pickle_get(d, "usernames");
	assert_text(n, "bperson@example.com", NULL, "Bill Person");
	assert_int(pickle_get(d, "user_options"), "dperson@example.org", 264);
	g_assert_cmpuint(pickle_get(d, "members")->items->len, ==, 6);
	pickle_free(&p);
}

static void
test_config_with_instances_reads_bounce_info_as_data(void)
{
	struct pickle *p = read_data("config-with-instances.pck");
	const struct pickle_node *d = pickle_root(p);
	const struct pickle_node *bi = pickle_get(pickle_get(d, "bounce_info"),
						  "xxxxxx@examplexxxxxx.org");
	char *r;

	assert_text(d, "real_name", NULL, "eclipse-sig");
	assert_text(d, "description", NULL, "Eclipse Special Interest Group");
	assert_text(d, "password", NULL, "34d82f2ba7bf19e5a667da4317cd0f42b00b8b5b");
	assert_int(d, "post_id", 248);
	assert_int(d, "reply_goes_to_list", 1);
	g_assert_nonnull(bi);
	g_assert_cmpint(bi->type, ==, PK_OBJECT);
	g_assert_cmpstr(bi->cls->s, ==, "Mailman.Bouncer._BounceInfo");
	assert_int(bi->state, "score", 1);
	assert_int(bi->state, "noticesleft", 3);
	r = pickle_repr(pickle_get(bi->state, "date"));
	g_assert_cmpstr(r, ==, "(2015, 3, 24)");
	g_free(r);
	pickle_free(&p);
}

static void
test_config_greek_decodes_info_from_iso_8859_7(void)
{
	struct pickle *p = read_data("config-greek.pck");
	const struct pickle_node *d = pickle_root(p);

	assert_text(d, "preferred_language", NULL, "el");
	assert_text(d, "info", "iso-8859-7",
		    "\xce\x91\xcf\x85\xcf\x84\xce\xae \xce\xb5\xce\xaf\xce\xbd\xce\xb1\xce\xb9 "
		    "\xce\xbc\xce\xb9\xce\xb1 \xce\xbb\xce\xaf\xcf\x83\xcf\x84\xce\xb1.");
	pickle_free(&p);
}

static const struct unit_test tests[] = {
	{ "/pickle/values/protocols-0-1-2", test_values_at_protocols_0_1_2_read_as_python_wrote_them },
	{ "/pickle/values/python2-strings", test_python2_strings_and_escapes_read_as_bytes },
	{ "/pickle/values/big-dict-lookups", test_big_dict_lookups },
	{ "/pickle/text/charset-or-latin1", test_text_decodes_bytes_from_charset_or_latin1 },
	{ "/pickle/hostile/refused-nothing-runs", test_hostile_pickles_refused_and_nothing_runs },
	{ "/pickle/truncated/every-prefix-an-error", test_every_truncation_is_an_error },
	{ "/pickle/limits/huge-and-deep-refused", test_limits_refuse_huge_and_deep_pickles },
	{ "/pickle/limits/shared-and-recursive-refused", test_shared_and_recursive_containers_refused },
	{ "/pickle/mailman/three-real-pickles-read", test_real_mailman_pickles_read_to_their_values },
	{ "/pickle/mailman/config-pck", test_config_pck_values },
	{ "/pickle/mailman/bounce-info-instances", test_config_with_instances_reads_bounce_info_as_data },
	{ "/pickle/mailman/greek-charset", test_config_greek_decodes_info_from_iso_8859_7 },
};

UNIT_TEST_MAIN(tests)
