/*
 * meta.c - what the archive keeps of a message besides its bytes: its
 * date (Pipermail's rule: the received time stands in for a Date that is
 * missing, unparseable or more than 15 days off), ids for threading, the
 * decoded subject and author; and the period a date falls in, named as
 * Pipermail names its volumes.
 */
#include "archive/archive-private.h"
#include "mail/message.h"

#include <string.h>
#include <time.h>

#define SANE_SKEW (15 * 86400)
#define SUBJECT_MAX 200
#define REFS_MAX 20

static const char *const months[] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December",
};

/* text made one valid UTF-8 line of at most max characters. */
static char *
one_line(const char *text, glong max)
{
	char *v = text_valid(text != NULL ? text : "", text != NULL ? strlen(text) : 0);
	GString *out = g_string_new(NULL);
	glong n = 0;

	for (const char *p = v; *p != '\0' && n < max; p = g_utf8_next_char(p), n++) {
		gunichar u = g_utf8_get_char(p);

		if (u < 0x20 || u == 0x7F)
			g_string_append_c(out, ' ');
		else
			g_string_append_unichar(out, u);
	}
	g_free(v);
	return g_strstrip(g_string_free(out, FALSE));
}

static char *
ids_joined(GMimeReferences *refs, guint max)
{
	GString *out = g_string_new(NULL);
	int n = refs != NULL ? g_mime_references_length(refs) : 0;
	int first = n > (int)max ? n - (int)max : 0;

	for (int i = first; i < n; i++) {
		const char *id = g_mime_references_get_message_id(refs, i);

		if (out->len > 0)
			g_string_append_c(out, ' ');
		for (; *id != '\0'; id++)
			g_string_append_c(out, g_ascii_isspace(*id) ? '_' : *id);
	}
	return g_string_free(out, FALSE);
}

static char *
header_ids(GMimeMessage *msg, const char *name, guint max)
{
	const char *v = message_header(msg, name);
	GMimeReferences *refs;
	char *out;

	if (v == NULL)
		return g_strdup("");
	refs = g_mime_references_parse(NULL, v);
	out = ids_joined(refs, max);
	if (refs != NULL)
		g_mime_references_free(refs);
	return out;
}

static void
author(GMimeMessage *msg, struct entry *e)
{
	InternetAddressList *from = g_mime_message_get_from(msg);
	InternetAddress *ia = NULL;

	for (int i = 0; from != NULL && i < internet_address_list_length(from); i++) {
		ia = internet_address_list_get_address(from, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			break;
		ia = NULL;
	}
	if (ia == NULL) {
		e->addr = g_strdup("");
		e->author = one_line(message_header(msg, "From"), 80);
		if (*e->author == '\0')
			g_free(e->author), e->author = g_strdup("(unknown)");
		return;
	}
	e->addr = one_line(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)), 254);
	e->author = one_line(internet_address_get_name(ia), 80);
	if (*e->author == '\0') {
		g_free(e->author);
		e->author = g_strdup(e->addr);
	}
}

void
meta_extract(GMimeMessage *msg, int64_t received, int64_t fallback,
	     struct entry *e)
{
	GDateTime *d = g_mime_message_get_date(msg);
	const char *id = g_mime_message_get_message_id(msg);

	e->date = d != NULL ? g_date_time_to_unix(d) : (received > 0 ? received : fallback);
	if (received > 0 && (e->date > received + SANE_SKEW ||
			     e->date < received - SANE_SKEW))
		e->date = received;
	if (e->date < 0)
		e->date = 0;
	e->msgid = one_line(id, 250);
	for (char *p = e->msgid; *p != '\0'; p++)
		if (*p == ' ')
			*p = '_';
	e->irt = header_ids(msg, "In-Reply-To", 1);
	e->refs = header_ids(msg, "References", REFS_MAX);
	e->subject = one_line(g_mime_message_get_subject(msg), SUBJECT_MAX);
	if (*e->subject == '\0') {
		g_free(e->subject);
		e->subject = g_strdup("(no subject)");
	}
	author(msg, e);
}

static void
utc(int64_t t, struct tm *tm)
{
	time_t tt = (time_t)t;

	gmtime_r(&tt, tm);
}

/* The start of the week (Monday) holding t. */
static int64_t
monday(int64_t t)
{
	struct tm tm;

	utc(t, &tm);
	return t - ((tm.tm_wday + 6) % 7) * 86400 - tm.tm_hour * 3600 -
	       tm.tm_min * 60 - tm.tm_sec;
}

char *
meta_period(int freq, int64_t t)
{
	struct tm tm;

	utc(t, &tm);
	switch (freq) {
	case 0:
		return g_strdup_printf("%04d", tm.tm_year + 1900);
	case 2:
		return g_strdup_printf("%04dq%d", tm.tm_year + 1900, tm.tm_mon / 3 + 1);
	case 3:
		utc(monday(t), &tm);
		return g_strdup_printf("Week-of-Mon-%04d%02d%02d", tm.tm_year + 1900,
				       tm.tm_mon + 1, tm.tm_mday);
	case 4:
		return g_strdup_printf("%04d%02d%02d", tm.tm_year + 1900,
				       tm.tm_mon + 1, tm.tm_mday);
	default:
		return g_strdup_printf("%04d-%s", tm.tm_year + 1900, months[tm.tm_mon]);
	}
}

int64_t
meta_period_end(int freq, int64_t t)
{
	struct tm tm;

	utc(t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	switch (freq) {
	case 0:
		tm.tm_mon = 0, tm.tm_mday = 1, tm.tm_year++;
		break;
	case 2:
		tm.tm_mon = tm.tm_mon / 3 * 3 + 3, tm.tm_mday = 1;
		break;
	case 3:
		return monday(t) + 7 * 86400;
	case 4:
		tm.tm_mday++;
		break;
	default:
		tm.tm_mon++, tm.tm_mday = 1;
		break;
	}
	return (int64_t)timegm(&tm);
}
