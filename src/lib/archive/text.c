/*
 * text.c - text on its way into a page: decoding to UTF-8 (every byte
 * that does not decode is U+FFFD), escaping (every character that means
 * something to HTML, every control character), links for URLs, quoted
 * lines marked, addresses obscured as Pipermail does ("user at domain").
 *
 * Everything of a message that reaches a page goes through html_escape
 * or html_body, which escape all of it; no caller writes a message's
 * bytes into a page any other way.
 */
#include "archive/archive-private.h"

#include <errno.h>
#include <string.h>

char *
text_valid(const char *data, size_t len)
{
	if (data == NULL || len == 0)
		return g_strdup("");
	if (memchr(data, '\0', len) == NULL)
		return g_utf8_make_valid(data, (gssize)len);
	/* A NUL would end the string early: it becomes U+FFFD too. */
	GString *s = g_string_sized_new(len + 8);

	for (size_t i = 0; i < len; i++)
		if (data[i] == '\0')
			g_string_append(s, "\xEF\xBF\xBD");
		else
			g_string_append_c(s, data[i]);
	char *v = g_utf8_make_valid(s->str, (gssize)s->len);

	g_string_free(s, TRUE);
	return v;
}

char *
text_decode(const char *data, size_t len, const char *charset)
{
	if (charset == NULL || g_ascii_strcasecmp(charset, "utf-8") == 0 ||
	    g_ascii_strcasecmp(charset, "us-ascii") == 0)
		return text_valid(data, len);
	GIConv cd = g_mime_iconv_open("UTF-8", charset);

	if (cd == (GIConv)-1)
		return text_valid(data, len);
	GString *out = g_string_sized_new(len + len / 2 + 16);
	char buf[4096];
	char *in = (char *)data;
	size_t inleft = len;

	while (inleft > 0) {
		char *o = buf;
		size_t oleft = sizeof(buf);
		size_t r = g_iconv(cd, &in, &inleft, &o, &oleft);

		g_string_append_len(out, buf, o - buf);
		if (r != (size_t)-1 || errno == E2BIG)
			continue;
		/* A byte that is not of the charset, or cut off at the end. */
		g_string_append(out, "\xEF\xBF\xBD");
		in++, inleft--;
		g_iconv(cd, NULL, NULL, NULL, NULL);
	}
	g_mime_iconv_close(cd);
	char *valid = text_valid(out->str, out->len);

	g_string_free(out, TRUE);
	return valid;
}

void
html_escape(GString *out, const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		switch (c) {
		case '&': g_string_append(out, "&amp;"); break;
		case '<': g_string_append(out, "&lt;"); break;
		case '>': g_string_append(out, "&gt;"); break;
		case '"': g_string_append(out, "&quot;"); break;
		case '\'': g_string_append(out, "&#39;"); break;
		case '\r': break;
		case '\n': case '\t': g_string_append_c(out, (char)c); break;
		default:
			if (c < 0x20 || c == 0x7F)
				g_string_append(out, "\xEF\xBF\xBD");
			else
				g_string_append_c(out, (char)c);
		}
	}
}

static gboolean
addr_char(char c)
{
	return g_ascii_isalnum(c) || (c != '\0' && strchr("._%+-", c) != NULL);
}

char *
obscure_text(const char *text, size_t len, size_t *len_r)
{
	GString *out = g_string_sized_new(len + 16);

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '@' && i > 0 && i + 1 < len &&
		    addr_char(text[i - 1]) && addr_char(text[i + 1]))
			g_string_append(out, " at ");
		else
			g_string_append_c(out, text[i]);
	}
	*len_r = out->len;
	return g_string_free(out, FALSE);
}

/* The length of a URL at p (0: none). */
static size_t
url_at(const char *p, size_t left)
{
	static const char *const schemes[] = { "http://", "https://", "ftp://" };
	size_t n = 0;

	for (size_t i = 0; i < G_N_ELEMENTS(schemes); i++) {
		size_t sl = strlen(schemes[i]);

		if (left > sl && g_ascii_strncasecmp(p, schemes[i], sl) == 0) {
			n = sl;
			break;
		}
	}
	if (n == 0)
		return 0;
	while (n < left && (unsigned char)p[n] > ' ' && p[n] != 0x7F &&
	       strchr("<>\"'`", p[n]) == NULL)
		n++;
	while (n > 0 && strchr(".,;:!?)]}", p[n - 1]) != NULL)
		n--;
	return n;
}

/* One line of text, escaped, with its URLs linked. */
static void
line_html(GString *out, const char *p, size_t len, gboolean obscure)
{
	size_t start = 0;

	for (size_t i = 0; i < len;) {
		size_t u = (i == 0 || !g_ascii_isalnum(p[i - 1])) ? url_at(p + i, len - i) : 0;

		if (u == 0 && !(obscure && p[i] == '@' && i > 0 && i + 1 < len &&
				addr_char(p[i - 1]) && addr_char(p[i + 1]))) {
			i++;
			continue;
		}
		html_escape(out, p + start, i - start);
		if (u == 0) {
			g_string_append(out, " at ");
			start = ++i;
			continue;
		}
		g_string_append(out, "<a href=\"");
		html_escape(out, p + i, u);
		g_string_append(out, "\" rel=\"nofollow\">");
		html_escape(out, p + i, u);
		g_string_append(out, "</a>");
		start = i += u;
	}
	html_escape(out, p + start, len - start);
}

void
html_body(GString *out, const char *text, gboolean obscure)
{
	for (const char *p = text; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		gboolean quoted = *p == '>';

		if (quoted)
			g_string_append(out, "<span class=\"quote\">");
		line_html(out, p, n, obscure);
		if (quoted)
			g_string_append(out, "</span>");
		g_string_append_c(out, '\n');
		p += n;
		if (*p == '\n')
			p++;
	}
}
