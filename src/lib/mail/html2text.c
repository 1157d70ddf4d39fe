/*
 * html2text.c - HTML to plain text with libxml2's HTML parser.
 *
 * Three stages.  The bytes are converted to UTF-8 (iconv; U+FFFD for what
 * does not convert) and cleaned by a linear pre-pass; libxml2 parses them
 * into a tree; a walker renders the tree through a line writer that
 * collapses whitespace, indents, quotes and wraps.
 *
 * An HTML part comes from anyone who can post, and two of libxml2's costs
 * are quadratic in it: every end tag that matches no open element scans
 * the whole stack of open elements, and every attribute of a start tag is
 * compared with each earlier one.  (A few hundred KB of either kept the
 * parser busy for seconds to minutes.)  Hence:
 *   - the pre-pass drops the attributes of a tag past the H2T_MAX_ATTRS-th;
 *   - the document goes to libxml2's push parser H2T_CHUNK bytes at a time,
 *     and when more than H2T_SEGMENT_DEPTH elements are open after a chunk,
 *     the document is ended there and the rest parsed as a new document.
 *     The text is kept; the structure above that depth is lost at the seam
 *     (an open list or <pre> there ends).  XML_PARSE_HUGE is set because
 *     libxml2's own depth limit (256, or 2048 with the option in newer
 *     versions) halts the parse and drops everything after it.
 * The walker follows the tree's parent pointers rather than recursing, and
 * keeps what it must remember about the open elements on an explicit stack,
 * so depth costs memory, never C stack.
 */
#include "mail/html2text.h"

#include <errno.h>
#include <glib.h>
#include <gmodule.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

/* --- libxml2, loaded on first use --------------------------------------- */

/* libxml2 is opened when the first HTML is converted rather than linked:
 * it brings ICU and libstdc++, which would cost every herald process (the
 * MTA's pipe, each command) 1.5 ms to start and 2.8 MB of memory, for a
 * conversion few of them make (docs/dependencies.md).  The headers still
 * give the types and the signatures. */
#define LIBXML2_SONAME "libxml2.so.2"

static struct {
	__typeof__(xmlInitParser) *init_parser;
	__typeof__(xmlGetProp) *get_prop;
	__typeof__(xmlFreeDoc) *free_doc;
	xmlFreeFunc *free_fn;	/* the address of libxml2's xmlFree */
	__typeof__(htmlCreatePushParserCtxt) *create_push;
	__typeof__(htmlCtxtUseOptions) *use_options;
	__typeof__(htmlParseChunk) *parse_chunk;
	__typeof__(htmlFreeParserCtxt) *free_ctxt;
} lx;

static void
load_libxml2(void)
{
	static const struct {
		const char *name;
		gpointer *slot;
	} syms[] = {
		{ "xmlInitParser", (gpointer *)&lx.init_parser },
		{ "xmlGetProp", (gpointer *)&lx.get_prop },
		{ "xmlFreeDoc", (gpointer *)&lx.free_doc },
		{ "xmlFree", (gpointer *)&lx.free_fn },
		{ "htmlCreatePushParserCtxt", (gpointer *)&lx.create_push },
		{ "htmlCtxtUseOptions", (gpointer *)&lx.use_options },
		{ "htmlParseChunk", (gpointer *)&lx.parse_chunk },
		{ "htmlFreeParserCtxt", (gpointer *)&lx.free_ctxt },
	};
	GModule *m = g_module_open(LIBXML2_SONAME, G_MODULE_BIND_LOCAL);

	/* A declared dependency (scripts/install-deps.sh): without it the
	 * installation is broken, and converting on as if the HTML were empty
	 * would throw members' text away.  The runner dies; its message is
	 * retried, and after three deaths set aside in bad/ with the queue's
	 * reason. */
	if (m == NULL)
		g_error("html2text: cannot load %s: %s", LIBXML2_SONAME,
			g_module_error());
	for (gsize i = 0; i < G_N_ELEMENTS(syms); i++)
		if (!g_module_symbol(m, syms[i].name, syms[i].slot))
			g_error("html2text: %s has no %s: %s", LIBXML2_SONAME,
				syms[i].name, g_module_error());
	g_module_make_resident(m);
}

#define H2T_SEGMENT_DEPTH 256	/* open elements that end a segment */
#define H2T_CHUNK 1024		/* bytes given to the parser at once */
#define H2T_MAX_ATTRS 64	/* attribute tokens kept per tag */
#define H2T_MAX_INDENT 24	/* columns of list and <dd> indentation */
#define H2T_MAX_QUOTE 8		/* blockquote levels shown as "> " */
#define H2T_MAX_NL 3		/* newlines in a row (outside <pre>) */
#define H2T_SNIFF 4096		/* bytes searched for a <meta> charset */

/* --- charset conversion -------------------------------------------------- */

static gboolean
is_utf8_name(const char *cs)
{
	return g_ascii_strcasecmp(cs, "utf-8") == 0 ||
	       g_ascii_strcasecmp(cs, "utf8") == 0;
}

static gboolean
is_ascii_name(const char *cs)
{
	return g_ascii_strcasecmp(cs, "us-ascii") == 0 ||
	       g_ascii_strcasecmp(cs, "ascii") == 0 ||
	       g_ascii_strcasecmp(cs, "ansi_x3.4-1968") == 0;
}

/* Whether in is valid UTF-8 apart from NUL bytes (which the pre-pass
 * drops; g_utf8_validate_len counts them as invalid). */
static gboolean
utf8_valid(const char *in, size_t len)
{
	const char *end;

	while (len > 0) {
		if (g_utf8_validate_len(in, len, &end))
			return TRUE;
		if (*end != '\0')
			return FALSE;
		len -= (size_t)(end - in) + 1;
		in = end + 1;
	}
	return TRUE;
}

/* Converts in with cd, appending to out; a byte that does not convert
 * becomes U+FFFD and conversion goes on after it. */
static void
iconv_all(GIConv cd, const char *in, size_t len, GString *out)
{
	char buf[4096];
	char *inp = (char *)in, *outp;
	gsize inleft = len, outleft;

	while (inleft > 0) {
		gsize r;
		int err;

		outp = buf;
		outleft = sizeof(buf);
		r = g_iconv(cd, &inp, &inleft, &outp, &outleft);
		err = errno;
		g_string_append_len(out, buf, outp - buf);
		if (r != (gsize)-1 || (err == E2BIG && outp != buf))
			continue;
		/* EILSEQ, or EINVAL: a sequence cut short by the end */
		g_string_append(out, "\xEF\xBF\xBD");
		inp++;
		inleft--;
		g_iconv(cd, NULL, NULL, NULL, NULL);
	}
	outp = buf;
	outleft = sizeof(buf);
	g_iconv(cd, NULL, NULL, &outp, &outleft);	/* stateful charsets */
	g_string_append_len(out, buf, outp - buf);
}

/* Converts from charset cs; FALSE when iconv does not know cs. */
static gboolean
convert_from(const char *cs, const char *in, size_t len, GString *out)
{
	GIConv cd = g_iconv_open("UTF-8", cs);

	if (cd == (GIConv)-1)
		return FALSE;
	iconv_all(cd, in, len, out);
	g_iconv_close(cd);
	return TRUE;
}

/* The charset="..." of a <meta> near the start, or NULL. */
static char *
sniff_charset(const char *in, size_t len)
{
	size_t n = MIN(len, H2T_SNIFF);

	for (size_t i = 0; i + 8 <= n; i++) {
		size_t j, k;

		if (g_ascii_strncasecmp(in + i, "charset=", 8) != 0)
			continue;
		for (j = i + 8; j < n && (in[j] == '"' || in[j] == '\'' ||
					  in[j] == ' '); j++)
			;
		for (k = j; k < n && (g_ascii_isalnum(in[k]) || in[k] == '-' ||
				      in[k] == '_' || in[k] == '.' ||
				      in[k] == ':'); k++)
			;
		if (k > j && k - j < 40)
			return g_strndup(in + j, k - j);
	}
	return NULL;
}

/* Legacy HTML with no known charset: windows-1252, as browsers assume. */
static void
convert_legacy(const char *in, size_t len, GString *out)
{
	char *valid;

	if (convert_from("WINDOWS-1252", in, len, out) ||
	    convert_from("CP1252", in, len, out) ||
	    convert_from("ISO-8859-1", in, len, out))
		return;
	valid = g_utf8_make_valid(in, (gssize)len);
	g_string_append(out, valid);
	g_free(valid);
}

static GString *
to_utf8(const char *in, size_t len, const char *charset)
{
	GString *out = g_string_sized_new(len + 16);
	char *sniffed, *valid;

	if (charset != NULL && *charset != '\0') {
		if (is_utf8_name(charset)) {
			valid = g_utf8_make_valid(in, (gssize)len);
			g_string_append(out, valid);
			g_free(valid);
			return out;
		}
		if (is_ascii_name(charset)) {
			/* 8-bit bytes in "ASCII": UTF-8 if they are, else
			 * the usual mislabelled windows-1252 */
			if (utf8_valid(in, len))
				g_string_append_len(out, in, len);
			else
				convert_legacy(in, len, out);
			return out;
		}
		if (convert_from(charset, in, len, out))
			return out;
		/* a charset iconv does not know: guess, as for none */
	}
	if (utf8_valid(in, len)) {
		g_string_append_len(out, in, len);
		return out;
	}
	sniffed = sniff_charset(in, len);
	if (sniffed == NULL || is_utf8_name(sniffed) || is_ascii_name(sniffed) ||
	    !convert_from(sniffed, in, len, out))
		convert_legacy(in, len, out);
	g_free(sniffed);
	return out;
}

/* --- the pre-pass ----------------------------------------------------- */

enum scan { SCAN_DATA, SCAN_TAG, SCAN_COMMENT, SCAN_RAW };

/* Whether s (of n bytes left) starts with an end tag named name. */
static gboolean
is_end_tag(const char *s, size_t n, const char *name)
{
	size_t l = strlen(name);

	return n > l + 2 && s[0] == '<' && s[1] == '/' &&
	       g_ascii_strncasecmp(s + 2, name, l) == 0 &&
	       (s[l + 2] == '>' || s[l + 2] == '/' || g_ascii_isspace(s[l + 2]));
}

/* A linear pass over the UTF-8 text: line ends become LF; NUL and the
 * other control characters but tab, LF and FF go; a start tag keeps at
 * most H2T_MAX_ATTRS attribute tokens (the rest, up to its '>', is
 * dropped); and </body> and </html> go, because libxml2's push parser
 * ignores what follows </html> where browsers show it (a footer another
 * list appended, a second document); the end of the input closes them.
 * It follows libxml2's lexing closely enough to find tags:
 * comments and the content of <script> and <style> are not searched for
 * tags, a quote opens a value only after '='. */
static GString *
clean(const GString *in)
{
	GString *out = g_string_sized_new(in->len + 1);
	enum scan st = SCAN_DATA;
	const char *s = in->str;
	size_t len = in->len, comment_start = 0;
	char name[8], raw[8] = "";
	size_t name_len = 0;
	gboolean naming = FALSE, end_tag = FALSE, space = FALSE;
	gboolean after_eq = FALSE, dropping = FALSE;
	char quote = 0;
	int tokens = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			c = '\n';
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
		} else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\f') ||
			   c == 0x7f) {
			continue;
		} else if (c == 0xc2 && i + 1 < len &&
			   (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0x9f) {
			i++;	/* a C1 control character */
			continue;
		}
		switch (st) {
		case SCAN_RAW:
			if (c != '<' || !is_end_tag(s + i, len - i, raw)) {
				g_string_append_c(out, (char)c);
				break;
			}
			/* the end tag starts here */
			st = SCAN_DATA;
			/* fall through */
		case SCAN_DATA:
			if (c == '<' && (is_end_tag(s + i, len - i, "html") ||
					 is_end_tag(s + i, len - i, "body"))) {
				const char *gt = memchr(s + i, '>', len - i);

				i = gt != NULL ? (size_t)(gt - s) : len;
				break;
			}
			if (c == '<' && i + 3 < len && memcmp(s + i + 1, "!--", 3) == 0) {
				g_string_append(out, "<!--");
				comment_start = out->len;
				i += 3;
				st = SCAN_COMMENT;
				break;
			}
			if (c == '<' && i + 1 < len &&
			    (g_ascii_isalpha(s[i + 1]) ||
			     (s[i + 1] == '/' && i + 2 < len &&
			      g_ascii_isalpha(s[i + 2])))) {
				st = SCAN_TAG;
				end_tag = s[i + 1] == '/';
				naming = TRUE;
				name_len = 0;
				space = after_eq = dropping = FALSE;
				quote = 0;
				tokens = 0;
				g_string_append_c(out, (char)c);
				if (end_tag) {
					g_string_append_c(out, '/');
					i++;
				}
				break;
			}
			g_string_append_c(out, (char)c);
			break;
		case SCAN_COMMENT:
			g_string_append_c(out, (char)c);
			if (c == '>' && out->len >= comment_start + 3 &&
			    memcmp(out->str + out->len - 3, "-->", 3) == 0)
				st = SCAN_DATA;
			break;
		case SCAN_TAG:
			if (naming) {
				if (g_ascii_isalnum(c)) {
					if (name_len < sizeof(name) - 1)
						name[name_len++] = g_ascii_tolower((char)c);
					g_string_append_c(out, (char)c);
					break;
				}
				naming = FALSE;
				name[name_len] = '\0';
			}
			if (quote != 0) {
				if (c == (unsigned char)quote)
					quote = 0;
			} else if (c == '>') {
				gboolean empty = out->len > 0 &&
						 out->str[out->len - 1] == '/';

				st = SCAN_DATA;
				if (!end_tag && !empty && (strcmp(name, "script") == 0 ||
							   strcmp(name, "style") == 0)) {
					strcpy(raw, name);
					st = SCAN_RAW;
				}
				g_string_append_c(out, '>');
				break;
			} else if (g_ascii_isspace(c)) {
				space = TRUE;
			} else if ((c == '"' || c == '\'') && after_eq) {
				quote = (char)c;
				after_eq = FALSE;
			} else if (c == '=') {
				after_eq = TRUE;
				space = FALSE;
			} else {
				if (space && !after_eq && ++tokens > H2T_MAX_ATTRS)
					dropping = TRUE;
				space = after_eq = FALSE;
			}
			if (!dropping)
				g_string_append_c(out, (char)c);
			break;
		}
	}
	return out;
}

/* --- the line writer ------------------------------------------------- */

struct writer {
	GString *out;		/* finished lines */
	GString *line;		/* the line being written, prefix included */
	GString *word;		/* scratch */
	int cols;		/* the line's width in columns */
	gboolean open;		/* the line has its prefix (and text after) */
	gboolean started;	/* anything was written at all */
	int nl;			/* newlines owed before the next text */
	int nl_quote;		/* the quote depth for the blank lines owed */
	gboolean space;		/* a collapsed space owed before the next word */
	gboolean sep;		/* a table cell separator owed */
	gboolean hr_last;	/* the last thing written was a rule */
	int quote;		/* blockquote depth */
	int indent;		/* list and <dd> indentation */
	char marker[24];	/* a list item's "* " for the next line start */
	int pre;		/* <pre> depth */
	gboolean pre_start;	/* no text yet in this <pre> */
	int capturing;		/* <a> depth: text also goes to capture */
	GString *capture;
};

static int
char_cols(gunichar c)
{
	if (g_unichar_iszerowidth(c))
		return 0;
	return g_unichar_iswide(c) ? 2 : 1;
}

static int
str_cols(const char *s, size_t len)
{
	const char *end = s + len;
	int cols = 0;

	for (const char *p = s; p < end; p = g_utf8_next_char(p))
		cols += char_cols(g_utf8_get_char(p));
	return cols;
}

static void
w_end_line(struct writer *w)
{
	size_t n = w->line->len;

	while (n > 0 && (w->line->str[n - 1] == ' ' || w->line->str[n - 1] == '\t'))
		n--;
	g_string_append_len(w->out, w->line->str, n);
	/* "--" alone is a signature separator: mail readers want "-- " */
	if (n == 2 && memcmp(w->line->str, "--", 2) == 0)
		g_string_append_c(w->out, ' ');
	g_string_append_c(w->out, '\n');
	g_string_truncate(w->line, 0);
	w->cols = 0;
	w->open = FALSE;
}

static void
w_begin_line(struct writer *w)
{
	int q = MIN(w->quote, H2T_MAX_QUOTE);
	int mlen = (int)strlen(w->marker);
	int sp = MAX(w->indent - mlen, 0);

	for (int i = 0; i < q; i++)
		g_string_append(w->line, "> ");
	for (int i = 0; i < sp; i++)
		g_string_append_c(w->line, ' ');
	g_string_append(w->line, w->marker);
	w->cols = 2 * q + sp + mlen;
	w->marker[0] = '\0';
	w->open = TRUE;
}

/* Writes the newlines owed, before new text. */
static void
w_flush(struct writer *w)
{
	if (w->nl == 0)
		return;
	if (w->started) {
		int q = MIN(w->nl_quote, H2T_MAX_QUOTE);

		w_end_line(w);
		for (int i = 1; i < w->nl; i++) {
			for (int j = 0; j < q; j++)
				g_string_append(w->out, j + 1 < q ? "> " : ">");
			g_string_append_c(w->out, '\n');
		}
	}
	w->nl = 0;
	w->space = w->sep = FALSE;
}

static void
w_owe(struct writer *w, int nl)
{
	if (w->nl == 0)
		w->nl_quote = w->quote;
	else
		w->nl_quote = MIN(w->nl_quote, w->quote);
	w->nl = nl;
}

/* Text that follows starts on a new line (1) or after a blank line (2). */
static void
w_block(struct writer *w, int nl)
{
	w_owe(w, MAX(w->nl, nl));
}

static void
w_br(struct writer *w)
{
	w_owe(w, w->pre > 0 ? w->nl + 1 : MIN(w->nl + 1, H2T_MAX_NL));
}

/* Writes one word of cols columns: after the space or cell separator owed,
 * or on a new line when that would pass the width and wrap is set. */
static void
w_put(struct writer *w, const char *word, size_t len, int cols, gboolean wrap)
{
	const char *sep = w->sep ? " | " : " ";
	int sep_cols = w->sep ? 3 : 1;

	if (w->capturing > 0) {
		if ((w->space || w->sep || w->nl > 0) && w->capture->len > 0)
			g_string_append_c(w->capture, ' ');
		g_string_append_len(w->capture, word, len);
	}
	w_flush(w);
	if (!w->open) {
		w_begin_line(w);
	} else if (w->space || w->sep) {
		if (wrap && w->cols + sep_cols + cols > HTML2TEXT_WIDTH) {
			w_end_line(w);
			w_begin_line(w);
		} else {
			g_string_append(w->line, sep);
			w->cols += sep_cols;
		}
	}
	g_string_append_len(w->line, word, len);
	w->cols += cols;
	w->started = TRUE;
	w->space = w->sep = w->hr_last = FALSE;
}

static gboolean
is_space(gunichar c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == 0x2028 || c == 0x2029;
}

/* Characters that show nothing: controls, soft hyphens, zero-width
 * spaces and joiners that newsletters pad their preview text with. */
static gboolean
is_invisible(gunichar c)
{
	return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0xad || c == 0x34f ||
	       c == 0x200b || c == 0x200c || c == 0x2060 || c == 0xfeff;
}

/* The next character of s and its length; a malformed byte is skipped as
 * U+FFFD (libxml2 gives valid UTF-8, but this does not depend on it). */
static gunichar
next_char(const char *s, size_t *len_r)
{
	gunichar c = g_utf8_get_char_validated(s, -1);

	if (c == (gunichar)-1 || c == (gunichar)-2) {
		*len_r = 1;
		return 0xfffd;
	}
	*len_r = (size_t)(g_utf8_next_char(s) - s);
	return c;
}

static void
w_word_done(struct writer *w, gboolean visible, int cols)
{
	if (w->word->len == 0)
		return;
	if (visible)
		w_put(w, w->word->str, w->word->len, cols, TRUE);
	else
		w->space = TRUE;	/* a word of no-break spaces only */
	g_string_truncate(w->word, 0);
}

/* Text outside <pre>: whitespace runs collapse to one space; a no-break
 * space is a space that neither collapses nor breaks the line. */
static void
w_text(struct writer *w, const char *s)
{
	gboolean visible = FALSE;
	int cols = 0;

	g_string_truncate(w->word, 0);
	while (*s != '\0') {
		size_t n;
		gunichar c = next_char(s, &n);

		if (is_space(c)) {
			w_word_done(w, visible, cols);
			visible = FALSE;
			cols = 0;
			w->space = TRUE;
		} else if (c == 0xa0) {
			g_string_append_c(w->word, ' ');
			cols++;
		} else if (c == 0xfffd && n == 1) {
			g_string_append(w->word, "\xEF\xBF\xBD");
			cols++;
			visible = TRUE;
		} else if (!is_invisible(c)) {
			g_string_append_len(w->word, s, n);
			cols += char_cols(c);
			visible = TRUE;
		}
		s += n;
	}
	w_word_done(w, visible, cols);
}

/* Text inside <pre>: kept as it is, line ends and all. */
static void
w_pre_text(struct writer *w, const char *s)
{
	if (w->pre_start) {
		w->pre_start = FALSE;
		if (*s == '\n')		/* HTML ignores a newline right after <pre> */
			s++;
	}
	g_string_truncate(w->word, 0);
	for (;;) {
		size_t n;
		gunichar c;

		if (*s == '\n' || *s == '\0') {
			if (w->word->len > 0)
				w_put(w, w->word->str, w->word->len,
				      str_cols(w->word->str, w->word->len), FALSE);
			g_string_truncate(w->word, 0);
			if (*s == '\0')
				break;
			w_br(w);
			s++;
			continue;
		}
		c = next_char(s, &n);
		if (c == '\t' || c == 0xa0)
			g_string_append_c(w->word, c == '\t' ? '\t' : ' ');
		else if (c == 0xfffd && n == 1)
			g_string_append(w->word, "\xEF\xBF\xBD");
		else if (!is_invisible(c))
			g_string_append_len(w->word, s, n);
		s += n;
	}
}

static void
w_rule(struct writer *w)
{
	GString *rule;

	if (w->hr_last)
		return;
	w_block(w, 2);
	w_flush(w);
	if (!w->open)
		w_begin_line(w);
	rule = g_string_new(NULL);
	for (int i = w->cols; i < HTML2TEXT_WIDTH || rule->len < 3; i++)
		g_string_append_c(rule, '-');
	g_string_append(w->line, rule->str);
	w->cols += (int)rule->len;
	w->started = TRUE;
	g_string_free(rule, TRUE);
	w_block(w, 2);
	w->hr_last = TRUE;
}

/* --- the walker ------------------------------------------------------- */

enum el {
	EL_INLINE, EL_DROP, EL_BLOCK, EL_PARA, EL_BR, EL_HR, EL_PRE, EL_LIST,
	EL_LI, EL_DL, EL_DT, EL_DD, EL_QUOTE, EL_TABLE, EL_TR, EL_CELL, EL_A,
	EL_IMG, EL_Q, EL_OL,
};

struct el_name {
	const char *name;
	enum el kind;
};

/* Sorted by name (strcmp): bsearch.  What is not here is inline. */
static const struct el_name elements[] = {
	{ "a", EL_A }, { "address", EL_PARA }, { "applet", EL_DROP },
	{ "article", EL_BLOCK }, { "aside", EL_BLOCK }, { "audio", EL_DROP },
	{ "blockquote", EL_QUOTE }, { "body", EL_BLOCK }, { "br", EL_BR },
	{ "canvas", EL_DROP }, { "caption", EL_BLOCK }, { "center", EL_BLOCK },
	{ "dd", EL_DD }, { "details", EL_BLOCK }, { "dialog", EL_BLOCK },
	{ "dir", EL_LIST }, { "div", EL_BLOCK }, { "dl", EL_DL }, { "dt", EL_DT },
	{ "embed", EL_DROP }, { "fieldset", EL_BLOCK }, { "figcaption", EL_BLOCK },
	{ "figure", EL_PARA }, { "footer", EL_BLOCK }, { "form", EL_BLOCK },
	{ "frameset", EL_BLOCK }, { "h1", EL_PARA }, { "h2", EL_PARA },
	{ "h3", EL_PARA }, { "h4", EL_PARA }, { "h5", EL_PARA }, { "h6", EL_PARA },
	{ "head", EL_DROP }, { "header", EL_BLOCK }, { "hr", EL_HR },
	{ "html", EL_BLOCK }, { "iframe", EL_DROP }, { "img", EL_IMG },
	{ "legend", EL_BLOCK }, { "li", EL_LI }, { "listing", EL_PRE },
	{ "main", EL_BLOCK }, { "menu", EL_LIST }, { "nav", EL_BLOCK },
	{ "noframes", EL_BLOCK }, { "object", EL_DROP }, { "ol", EL_OL },
	{ "p", EL_PARA }, { "plaintext", EL_PRE }, { "pre", EL_PRE },
	{ "q", EL_Q }, { "script", EL_DROP }, { "section", EL_BLOCK },
	{ "select", EL_DROP }, { "style", EL_DROP }, { "summary", EL_BLOCK },
	{ "svg", EL_DROP }, { "table", EL_TABLE }, { "td", EL_CELL },
	{ "template", EL_DROP }, { "textarea", EL_PRE }, { "th", EL_CELL },
	{ "title", EL_DROP }, { "tr", EL_TR }, { "ul", EL_LIST },
	{ "video", EL_DROP }, { "xmp", EL_PRE },
};

static int
el_compare(const void *key, const void *item)
{
	return strcmp(key, ((const struct el_name *)item)->name);
}

static enum el
el_kind(const xmlNode *n)
{
	const struct el_name *e;

	if (n->name == NULL)
		return EL_INLINE;
	e = bsearch(n->name, elements, G_N_ELEMENTS(elements),
		    sizeof(elements[0]), el_compare);
	return e != NULL ? e->kind : EL_INLINE;
}

/* What the walker remembers about an element it is inside. */
struct frame {
	enum el kind;
	int indent;		/* the writer's indentation before it */
	int outer;		/* EL_LIST/EL_OL: the enclosing list's frame,
				 * EL_TR: the enclosing row's; -1 none */
	int counter;		/* EL_OL: the next item's number */
	int cells;		/* EL_TR: the cells seen */
	gsize link_start;	/* EL_A: where its text starts in capture */
};

struct conv {
	struct writer w;
	GArray *frames;		/* struct frame */
	int list;		/* the innermost list's frame, or -1 */
	int row;		/* the innermost table row's frame, or -1 */
};

static char *
prop(const xmlNode *n, const char *name)
{
	xmlChar *v = lx.get_prop(n, (const xmlChar *)name);
	char *s;

	if (v == NULL)
		return NULL;
	s = g_strdup((const char *)v);
	(*lx.free_fn)(v);
	return s;
}

static gboolean
has_prefix_ci(const char *s, const char *prefix)
{
	return g_ascii_strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* A link target as one word: trimmed, line ends removed, spaces escaped. */
static char *
clean_url(const char *href)
{
	GString *u = g_string_new(NULL);
	char *t = g_strstrip(g_strdup(href));

	for (const char *p = t; *p != '\0'; p++) {
		if (*p == ' ')
			g_string_append(u, "%20");
		else if ((unsigned char)*p >= 0x20 && *p != 0x7f)
			g_string_append_c(u, *p);
	}
	g_free(t);
	return g_string_free(u, FALSE);
}

/* The part of a link worth comparing with its text: no scheme, no
 * trailing slash. */
static char *
link_core(const char *s)
{
	static const char *const schemes[] = { "http://", "https://", "mailto:",
					       "ftp://", NULL };
	size_t n;

	for (int i = 0; schemes[i] != NULL; i++)
		if (has_prefix_ci(s, schemes[i])) {
			s += strlen(schemes[i]);
			break;
		}
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		n--;
	return g_strndup(s, n);
}

static void
link_end(struct conv *cv, const struct frame *f, const xmlNode *n)
{
	struct writer *w = &cv->w;
	char *text = g_strstrip(g_strdup(w->capture->str + f->link_start));
	char *href = prop(n, "href");
	char *url, *tc, *uc, *word;

	g_string_truncate(w->capture, f->link_start);
	w->capturing--;
	if (href == NULL) {
		g_free(text);
		return;
	}
	url = clean_url(href);
	tc = link_core(text);
	uc = link_core(url);
	if (*url != '\0' && *url != '#' && !has_prefix_ci(url, "javascript:") &&
	    !has_prefix_ci(url, "vbscript:") && !has_prefix_ci(url, "data:") &&
	    strcmp(text, url) != 0 && strcmp(tc, uc) != 0) {
		word = g_strdup_printf("<%s>", url);
		if (*text != '\0')
			w->space = TRUE;
		w_put(w, word, strlen(word), str_cols(word, strlen(word)),
		      w->pre == 0);
		g_free(word);
	}
	g_free(tc);
	g_free(uc);
	g_free(url);
	g_free(href);
	g_free(text);
}

static void
image(struct conv *cv, const xmlNode *n)
{
	char *alt = prop(n, "alt");
	char *t;

	if (alt == NULL)
		return;
	g_strstrip(alt);
	if (*alt != '\0') {
		t = g_strdup_printf("[%s]", alt);
		if (cv->w.pre > 0)
			w_pre_text(&cv->w, t);
		else
			w_text(&cv->w, t);
		g_free(t);
	}
	g_free(alt);
}

static int
ol_start(const xmlNode *n)
{
	char *v = prop(n, "start");
	long start = 1;

	if (v != NULL) {
		start = strtol(v, NULL, 10);
		start = CLAMP(start, -999999, 999999);
		g_free(v);
	}
	return (int)start;
}

static struct frame *
frame_at(struct conv *cv, int i)
{
	return &g_array_index(cv->frames, struct frame, i);
}

static void
list_item(struct conv *cv, struct frame *f)
{
	struct writer *w = &cv->w;
	struct frame *list = cv->list >= 0 ? frame_at(cv, cv->list) : NULL;

	if (list != NULL && list->kind == EL_OL)
		g_snprintf(w->marker, sizeof(w->marker), "%d. ", list->counter++);
	else
		g_strlcpy(w->marker, "* ", sizeof(w->marker));
	w_block(w, 1);
	w->indent = MIN(f->indent + (int)strlen(w->marker), H2T_MAX_INDENT);
}

/* Starts node n; TRUE when it is to be left later (an element whose
 * frame was pushed), FALSE for text and for dropped elements. */
static gboolean
enter(struct conv *cv, const xmlNode *n)
{
	struct writer *w = &cv->w;
	struct frame f = { 0 };

	if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
		if (n->content == NULL)
			return FALSE;
		if (w->pre > 0)
			w_pre_text(w, (const char *)n->content);
		else
			w_text(w, (const char *)n->content);
		return FALSE;
	}
	if (n->type != XML_ELEMENT_NODE)
		return FALSE;
	f.kind = el_kind(n);
	f.indent = w->indent;
	f.outer = -1;
	switch (f.kind) {
	case EL_DROP:
		return FALSE;
	case EL_BR:
		w_br(w);
		return FALSE;
	case EL_HR:
		w_rule(w);
		return FALSE;
	case EL_IMG:
		image(cv, n);
		return FALSE;
	case EL_INLINE:
	case EL_CELL:
		break;
	case EL_BLOCK:
	case EL_TABLE:
	case EL_DT:
		w_block(w, 1);
		break;
	case EL_PARA:
	case EL_DL:
		w_block(w, 2);
		break;
	case EL_PRE:
		w_block(w, 2);
		w->pre++;
		w->pre_start = TRUE;
		break;
	case EL_LIST:
	case EL_OL:
		w_block(w, cv->list >= 0 ? 1 : 2);
		f.outer = cv->list;
		f.counter = f.kind == EL_OL ? ol_start(n) : 0;
		break;
	case EL_LI:
		list_item(cv, &f);
		break;
	case EL_DD:
		w_block(w, 1);
		w->indent = MIN(w->indent + 4, H2T_MAX_INDENT);
		break;
	case EL_QUOTE:
		w_block(w, 2);
		w->quote++;
		break;
	case EL_TR:
		w_block(w, 1);
		f.outer = cv->row;
		break;
	case EL_A:
		f.link_start = w->capture->len;
		w->capturing++;
		break;
	case EL_Q:
		w_put(w, "\"", 1, 1, TRUE);
		break;
	}
	if (f.kind == EL_CELL && cv->row >= 0 && frame_at(cv, cv->row)->cells++ > 0)
		w->sep = w->open && w->nl == 0;
	g_array_append_val(cv->frames, f);
	if (f.kind == EL_LIST || f.kind == EL_OL)
		cv->list = (int)cv->frames->len - 1;
	else if (f.kind == EL_TR)
		cv->row = (int)cv->frames->len - 1;
	return TRUE;
}

static void
leave(struct conv *cv, const xmlNode *n)
{
	struct writer *w = &cv->w;
	struct frame f = *frame_at(cv, (int)cv->frames->len - 1);

	g_array_set_size(cv->frames, cv->frames->len - 1);
	w->indent = f.indent;
	switch (f.kind) {
	case EL_BLOCK:
	case EL_TABLE:
	case EL_DT:
	case EL_DD:
		w_block(w, 1);
		break;
	case EL_PARA:
	case EL_DL:
		w_block(w, 2);
		break;
	case EL_PRE:
		w->pre--;
		w->pre_start = FALSE;
		w_block(w, 2);
		break;
	case EL_LIST:
	case EL_OL:
		cv->list = f.outer;
		w_block(w, f.outer >= 0 ? 1 : 2);
		break;
	case EL_LI:
		w->marker[0] = '\0';
		w_block(w, 1);
		break;
	case EL_QUOTE:
		w->quote--;
		w_block(w, 2);
		break;
	case EL_TR:
		cv->row = f.outer;
		w_block(w, 1);
		break;
	case EL_A:
		link_end(cv, &f, n);
		break;
	case EL_Q:
		w_put(w, "\"", 1, 1, TRUE);
		break;
	default:
		break;
	}
}

/* Renders a parsed document, in document order, without recursion: down
 * through children, along through siblings, up through parents. */
static void
walk(struct conv *cv, xmlDoc *doc)
{
	xmlNode *root = (xmlNode *)doc;
	xmlNode *n = root->children;

	while (n != NULL) {
		gboolean entered = enter(cv, n);

		if (entered && n->children != NULL) {
			n = n->children;
			continue;
		}
		if (entered)
			leave(cv, n);
		while (n != NULL && n->next == NULL) {
			n = n->parent;
			if (n == root || n == NULL)
				n = NULL;
			else
				leave(cv, n);
		}
		if (n != NULL)
			n = n->next;
	}
}

/* --- parsing in segments ------------------------------------------------ */

static void
init_once(void)
{
	static gsize done;

	if (g_once_init_enter(&done)) {
		load_libxml2();
		lx.init_parser();
		for (gsize i = 1; i < G_N_ELEMENTS(elements); i++)
			g_assert(strcmp(elements[i - 1].name, elements[i].name) < 0);
		g_once_init_leave(&done, 1);
	}
}

/* Where the chunk starting at off ends: before its last '<' (so that a
 * segment seam falls between tags), else at a character boundary. */
static size_t
chunk_end(const char *buf, size_t len, size_t off)
{
	size_t end = off + H2T_CHUNK;

	if (end >= len)
		return len;
	for (size_t i = end; i > off; i--)
		if (buf[i] == '<')
			return i;
	while (end > off + 1 && ((unsigned char)buf[end] & 0xc0) == 0x80)
		end--;
	return end;
}

static htmlParserCtxtPtr
segment_new(void)
{
	const int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
			 HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
			 HTML_PARSE_IGNORE_ENC | XML_PARSE_HUGE;
	htmlParserCtxtPtr ctxt;

	ctxt = lx.create_push(NULL, NULL, NULL, 0, NULL, XML_CHAR_ENCODING_UTF8);
	if (ctxt != NULL)
		lx.use_options(ctxt, opts);
	return ctxt;
}

static void
segment_end(struct conv *cv, htmlParserCtxtPtr *ctxtp)
{
	htmlParserCtxtPtr ctxt = *ctxtp;

	*ctxtp = NULL;
	lx.parse_chunk(ctxt, NULL, 0, 1);
	if (ctxt->myDoc != NULL) {
		walk(cv, ctxt->myDoc);
		lx.free_doc(ctxt->myDoc);
		ctxt->myDoc = NULL;
	}
	lx.free_ctxt(ctxt);
}

char *
html2text(const char *html, size_t len, const char *charset)
{
	struct conv cv = { .list = -1, .row = -1 };
	struct writer *w = &cv.w;
	htmlParserCtxtPtr ctxt = NULL;
	GString *utf8, *buf;
	char *text;
	size_t off = 0;

	init_once();
	utf8 = to_utf8(html != NULL ? html : "", html != NULL ? len : 0, charset);
	buf = clean(utf8);
	g_string_free(utf8, TRUE);

	w->out = g_string_sized_new(buf->len / 2 + 16);
	w->line = g_string_new(NULL);
	w->word = g_string_new(NULL);
	w->capture = g_string_new(NULL);
	cv.frames = g_array_new(FALSE, FALSE, sizeof(struct frame));
	while (off < buf->len) {
		size_t end = chunk_end(buf->str, buf->len, off);

		if (ctxt == NULL && (ctxt = segment_new()) == NULL)
			break;
		lx.parse_chunk(ctxt, buf->str + off, (int)(end - off), 0);
		off = end;
		if (ctxt->nameNr > H2T_SEGMENT_DEPTH)
			segment_end(&cv, &ctxt);
	}
	if (ctxt != NULL)
		segment_end(&cv, &ctxt);
	if (w->open)
		w_end_line(w);

	g_string_free(buf, TRUE);
	g_string_free(w->line, TRUE);
	g_string_free(w->word, TRUE);
	g_string_free(w->capture, TRUE);
	g_array_free(cv.frames, TRUE);
	text = g_string_free(w->out, FALSE);
	if (!g_utf8_validate(text, -1, NULL)) {
		char *valid = g_utf8_make_valid(text, -1);

		g_free(text);
		text = valid;
	}
	return text;
}
