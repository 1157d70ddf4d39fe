/*
 * original.c - the last resort for a report that names no recipient in
 * any shape the other detectors read ("Delivery report unavailable", a
 * notice that only says "could not be delivered to mobile"): the
 * returned message's recipient.
 *
 * Its topmost Received header was written by the MTA that gave up, and
 * says "for <address>" when the message had one recipient there: that
 * is the envelope recipient that failed.  Failing that, a To of exactly
 * one address.  Both are read from the returned message, its headers
 * (text/rfc822-headers) or, in a single-part bounce, the text after the
 * notice.  A To with several addresses names nobody in particular, and
 * is not used.
 *
 * For a list's post the To is the list itself, which the bounces runner
 * finds is no member ("unrecognized"); VERP makes this moot.
 */
#include "bounce/bounce-private.h"
#include "mail/address.h"
#include "mail/message.h"

#include <string.h>

/* The address after "for" in a Received header's value, or NULL. */
static char *
received_for(const char *v)
{
	const char *p = v;

	while ((p = strstr(p, "for ")) != NULL) {
		const char *b, *e;

		if (p > v && !g_ascii_isspace(p[-1])) {
			p += 4;
			continue;
		}
		b = p + 4;
		while (*b == ' ' || *b == '<')
			b++;
		e = b;
		while (*e != '\0' && strchr(">; \t\n\r", *e) == NULL)
			e++;
		if (e > b && memchr(b, '@', e - b) != NULL)
			return g_strndup(b, e - b);
		p += 4;
	}
	return NULL;
}

/* The recipient in a header block given as text: unfolded "Received:"
 * and "To:" lines. */
static char *
from_header_text(const char *text, size_t len)
{
	char *unfolded = g_strndup(text, MIN(len, NOTICE_MAX));
	char **lines, *found = NULL, *to = NULL;
	gboolean started = FALSE;

	/* Unfold: a line end before white space joins the lines. */
	for (char *p = unfolded; *p != '\0'; p++)
		if (*p == '\n' && (p[1] == ' ' || p[1] == '\t'))
			*p = ' ';
	lines = g_strsplit(unfolded, "\n", -1);
	for (char **l = lines; *l != NULL && found == NULL; l++) {
		if (**l == '\0' && started)
			break;	/* the end of the header block */
		started = started || **l != '\0';
		if (g_ascii_strncasecmp(*l, "Received:", 9) == 0)
			found = received_for(*l + 9);
		else if (to == NULL && g_ascii_strncasecmp(*l, "To:", 3) == 0)
			to = bounce_first_address(*l + 3, TRUE, FALSE);
	}
	g_strfreev(lines);
	g_free(unfolded);
	if (found != NULL) {
		g_free(to);
		return found;
	}
	return to;
}

static char *
from_message(GMimeMessage *msg)
{
	GMimeHeaderList *h = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	int n = g_mime_header_list_get_count(h);

	for (int i = 0; i < n; i++) {
		GMimeHeader *hd = g_mime_header_list_get_header_at(h, i);

		if (g_ascii_strcasecmp(g_mime_header_get_name(hd), "Received") == 0) {
			char *v = received_for(g_mime_header_get_raw_value(hd));

			if (v != NULL)
				return v;
		}
	}
	return bounce_first_address(message_header(msg, "To"), TRUE, FALSE);
}

int
bounce_original_detect(struct bounce_msg *m, struct bounce_report *r)
{
	size_t len = strlen(m->notice), cut = bounce_text_cut(m->notice, len);
	struct bounce_evidence ev = { .context = NULL };
	char *addr = NULL, *diag;
	int added = 0;

	/* A returned message that is itself a report went to its sender:
	 * its recipient is nobody that failed. */
	if (m->original != NULL) {
		char *from = bounce_first_address(message_header(m->original,
								 "From"), FALSE, TRUE);
		char *key = from != NULL ? address_key(from) : NULL;

		if (!bounce_is_daemon(key))
			addr = from_message(m->original);
		g_free(key);
		g_free(from);
	}
	if (addr == NULL && m->original_headers != NULL)
		addr = from_header_text(m->original_headers,
					strlen(m->original_headers));
	if (addr == NULL && cut < len) {
		/* The returned message inline: skip the marker line. */
		const char *nl = strchr(m->notice + cut, '\n');
		size_t from = nl != NULL ? (size_t)(nl + 1 - m->notice) : len;

		addr = from_header_text(m->notice + from, len - from);
	}
	if (addr != NULL && m->to != NULL) {
		char *key = address_key(addr);

		/* The bounce's own recipient sent the returned message. */
		if (key != NULL && strcmp(key, m->to) == 0)
			g_clear_pointer(&addr, g_free);
		g_free(key);
	}
	if (addr == NULL)
		return 0;
	diag = g_strndup(m->notice, MIN(cut, 4000));
	bounce_text_tone(m, m->notice, cut, &ev.final, &ev.perm_hint);
	ev.diag = diag;
	if (bounce_report_add(r, m, addr, NULL, &ev)) {
		added = 1;
		r->format = "returned-message";
		if (ev.final == 0)
			r->kind = BOUNCE_KIND_DELAY;
	}
	g_free(diag);
	g_free(addr);
	return added;
}
