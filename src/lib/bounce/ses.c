/*
 * ses.c - Amazon SES's bounce and complaint notifications, which are not
 * mail reports at all but JSON, mailed by Amazon SNS ("AWS Notification
 * Message"): {"notificationType":"Bounce","bounce":{"bounceType":
 * "Permanent","bouncedRecipients":[{"emailAddress":...,"status":...,
 * "diagnosticCode":...}]}}, "Complaint" with "complainedRecipients", and
 * "Delivery" for a success.  SNS wraps the notification as a JSON string
 * in its own JSON, so quotes may come escaped once more.
 *
 * No JSON library: the few string fields are found by name in the text
 * with its escaping undone, which is all these flat records need; a
 * value is read to its closing quote and never past BOUNCE_DIAG_MAX * 4
 * bytes.
 */
#include "bounce/bounce-private.h"

#include <string.h>

/* The text with \" and \\ unescaped, twice (SNS's string in SNS's JSON). */
static char *
unescape(const char *text)
{
	char *s = g_strdup(text);

	for (int round = 0; round < 2; round++) {
		char *w = s;

		for (const char *p = s; *p != '\0'; p++) {
			if (p[0] == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			*w++ = *p;
		}
		*w = '\0';
	}
	return s;
}

/* The string value of "key" in text[0..end), or NULL. */
static char *
value_of(const char *text, const char *end, const char *key)
{
	char *quoted = g_strdup_printf("\"%s\"", key);
	const char *p = g_strstr_len(text, end - text, quoted);
	const char *v;

	g_free(quoted);
	if (p == NULL)
		return NULL;
	p += strlen(key) + 2;
	while (p < end && (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n'))
		p++;
	if (p >= end || *p != '"')
		return NULL;
	v = ++p;
	while (p < end && *p != '"' && p - v < BOUNCE_DIAG_MAX * 4)
		p++;
	return g_strndup(v, p - v);
}

/* Each {...} of the array "key": [...] gives one recipient. */
static int
add_recipients(struct bounce_msg *m, struct bounce_report *r, const char *text,
	       const char *key, struct bounce_evidence *ev)
{
	char *quoted = g_strdup_printf("\"%s\"", key);
	const char *p = strstr(text, quoted), *end;
	int added = 0;

	g_free(quoted);
	if (p == NULL || (p = strchr(p, '[')) == NULL)
		return 0;
	end = strchr(p, ']');
	if (end == NULL)
		end = p + strlen(p);
	while ((p = memchr(p, '{', end - p)) != NULL) {
		const char *close = memchr(p, '}', end - p);
		char *addr, *status, *diag;

		if (close == NULL)
			close = end;
		addr = value_of(p, close, "emailAddress");
		status = value_of(p, close, "status");
		diag = value_of(p, close, "diagnosticCode");
		ev->status = status;
		ev->diag = diag;
		if (addr != NULL && bounce_report_add(r, m, addr, NULL, ev))
			added++;
		g_free(addr);
		g_free(status);
		g_free(diag);
		p = close;
	}
	return added;
}

int
bounce_ses_detect(struct bounce_msg *m, struct bounce_report *r)
{
	char *text, *type, *bounce_type;
	struct bounce_evidence ev = { .final = 1, .perm_hint = -1 };
	int added = 0;

	if (strstr(m->notice, "notificationType") == NULL &&
	    strstr(m->notice, "eventType") == NULL)
		return 0;
	text = unescape(m->notice);
	type = value_of(text, text + strlen(text), "notificationType");
	if (type == NULL)
		type = value_of(text, text + strlen(text), "eventType");
	bounce_type = value_of(text, text + strlen(text), "bounceType");
	if (type != NULL && strcmp(type, "Bounce") == 0) {
		ev.perm_hint = bounce_type != NULL &&
			strcmp(bounce_type, "Permanent") == 0 ? 1 : 0;
		added = add_recipients(m, r, text, "bouncedRecipients", &ev);
	} else if (type != NULL && strcmp(type, "Complaint") == 0) {
		added = add_recipients(m, r, text, "complainedRecipients", &ev);
		for (guint i = 0; i < r->failures->len; i++) {
			struct bounce_failure *f = r->failures->pdata[i];

			f->reason = BOUNCE_COMPLAINT;
			f->permanent = FALSE;
		}
		r->kind = BOUNCE_KIND_COMPLAINT;
	} else if (type != NULL && strcmp(type, "Delivery") == 0) {
		r->kind = BOUNCE_KIND_SUCCESS;
	}
	if (added > 0 || r->kind != BOUNCE_KIND_NONE)
		r->format = "ses";
	g_free(type);
	g_free(bounce_type);
	g_free(text);
	return added;
}
