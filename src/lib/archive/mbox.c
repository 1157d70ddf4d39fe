/*
 * mbox.c - the mbox format as the archive writes it: a "From " line,
 * the message with mboxrd quoting (a '>' added before any line that
 * matches ^>*From ), and a blank line.  Quoting every such line, not only
 * "From " ones, makes it reversible: mbox_unquote gives the bytes back.
 */
#include "archive/archive-private.h"

#include <string.h>
#include <time.h>

static gboolean
is_from_line(const char *p, size_t len)
{
	while (len > 0 && *p == '>')
		p++, len--;
	return len >= 5 && memcmp(p, "From ", 5) == 0;
}

void
mbox_quote(GString *out, const char *from_line, const char *msg, size_t len)
{
	g_string_append(out, from_line);
	g_string_append_c(out, '\n');
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - (msg + i)) + 1 : len - i;

		if (is_from_line(msg + i, n))
			g_string_append_c(out, '>');
		g_string_append_len(out, msg + i, n);
		i += n;
	}
	if (len > 0 && msg[len - 1] != '\n')
		g_string_append_c(out, '\n');
	g_string_append_c(out, '\n');
}

char *
mbox_unquote(const char *data, size_t len, size_t *len_r)
{
	GString *out = g_string_sized_new(len + 1);

	for (size_t i = 0; i < len;) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - (data + i)) + 1 : len - i;

		if (data[i] == '>' && is_from_line(data + i, n))
			g_string_append_len(out, data + i + 1, n - 1);
		else
			g_string_append_len(out, data + i, n);
		i += n;
	}
	*len_r = out->len;
	return g_string_free(out, FALSE);
}

char *
mbox_from_line(const char *addr, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char date[64];
	GString *who = g_string_new(NULL);

	/* The sender is one word: a From_ line is split on spaces. */
	for (const char *p = addr != NULL && *addr != '\0' ? addr : "MAILER-DAEMON";
	     *p != '\0'; p++)
		g_string_append_c(who, g_ascii_isspace(*p) || (guchar)*p < 0x20
				       ? '_' : *p);
	gmtime_r(&tt, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	char *line = g_strdup_printf("From %s  %s", who->str, date);

	g_string_free(who, TRUE);
	return line;
}
