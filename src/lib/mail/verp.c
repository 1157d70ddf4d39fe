/*
 * verp.c - encoding a member's address into a bounce address and back.
 */
#include "mail/verp.h"

#include <string.h>

static gboolean
plain_char(unsigned char c)
{
	return g_ascii_isalnum(c) || (c != '%' && c < 0x80 &&
				      strchr("!#$&'*+/=?^_`{|}~.-", c) != NULL);
}

char *
verp_encode(const char *bounces, const char *addr)
{
	const char *at = strrchr(addr, '@'), *bat = strrchr(bounces, '@');
	GString *out = g_string_new(NULL);

	if (at == NULL || bat == NULL) {
		g_string_free(out, TRUE);
		return g_strdup(bounces);
	}
	g_string_append_len(out, bounces, bat - bounces);
	g_string_append_c(out, '+');
	for (const char *p = addr; p < at; p++) {
		unsigned char c = (unsigned char)*p;

		if (plain_char(c))
			g_string_append_c(out, (char)c);
		else
			g_string_append_printf(out, "%%%02X", c);
	}
	g_string_append_c(out, '=');
	g_string_append(out, at + 1);
	g_string_append(out, bat);
	return g_string_free(out, FALSE);
}

char *
verp_decode(const char *recipient)
{
	const char *at = strrchr(recipient, '@');
	const char *plus = strchr(recipient, '+');
	const char *eq;
	GString *out;

	if (at == NULL || plus == NULL || plus > at)
		return NULL;
	/* The last '=' before the '@' separates mailbox and domain. */
	for (eq = at - 1; eq > plus && *eq != '='; eq--)
		;
	if (eq <= plus + 1 || eq == at - 1)
		return NULL;
	out = g_string_new(NULL);
	for (const char *p = plus + 1; p < eq; p++) {
		if (*p == '%' && p + 2 < eq && g_ascii_isxdigit(p[1]) &&
		    g_ascii_isxdigit(p[2])) {
			g_string_append_c(out, (char)(g_ascii_xdigit_value(p[1]) * 16 +
						      g_ascii_xdigit_value(p[2])));
			p += 2;
		} else {
			g_string_append_c(out, *p);
		}
	}
	g_string_append_c(out, '@');
	g_string_append_len(out, eq + 1, at - eq - 1);
	return g_string_free(out, FALSE);
}
