/*
 * arf.c - RFC 5965 feedback reports (ARF): a receiving provider tells the
 * sender that its user marked a message as spam, asked to be removed, or
 * that the message failed authentication.
 *
 * The member complained about is named by Original-Rcpt-To (one per
 * recipient) or the older Removal-Recipient; providers that redact those
 * (most do) leave only the returned message, whose To is then the best
 * witness.  Microsoft's older JMRP reports have no feedback part at all:
 * a "complaint about message from <IP>" with the message attached.
 *
 * Reasons: abuse, fraud, virus, opt-out and their kin are "complaint";
 * auth-failure and dkim reports are about the sending domain's DMARC,
 * SPF or DKIM, not about the member, so they are "policy".  Both are
 * reported as temporary: nothing failed to be delivered; what to do about
 * a complaint is the list's setting (docs/bounces.md).  not-spam reports
 * nothing.
 */
#include "bounce/bounce-private.h"
#include "mail/address.h"
#include "mail/message.h"

#include <string.h>

/* The value of every field called name (a "Name:" at a line start) in
 * text, in order. */
static GPtrArray *
field_values(const char *text, const char *name)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	size_t n = strlen(name);

	for (const char *l = text; *l != '\0' && out->len < FAILURES_MAX;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl != NULL ? (size_t)(nl - l) : strlen(l);

		if (len > n && g_ascii_strncasecmp(l, name, n) == 0 && l[n] == ':') {
			char *v = g_strndup(l + n + 1, MIN(len - n - 1, 1024));

			g_ptr_array_add(out, g_strstrip(v));
		}
		l = nl != NULL ? nl + 1 : l + len;
	}
	return out;
}

/* Addresses of the To of the returned message (or of its headers). */
static GPtrArray *
original_to(struct bounce_msg *m)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	const char *to = NULL;
	GPtrArray *list = NULL;
	GPtrArray *vals = NULL;

	if (m->original != NULL)
		to = message_header(m->original, "To");
	else if (m->original_headers != NULL) {
		vals = field_values(m->original_headers, "To");
		if (vals->len > 0)
			to = vals->pdata[0];
	}
	if (to != NULL && address_parse_list(to, &list, NULL) == 0) {
		for (guint i = 0; i < list->len; i++)
			g_ptr_array_add(out, g_strdup(
				((struct address *)list->pdata[i])->addr));
		g_ptr_array_unref(list);
	}
	if (vals != NULL)
		g_ptr_array_unref(vals);
	return out;
}

static void
add_all(struct bounce_msg *m, struct bounce_report *r, GPtrArray *addrs,
	const struct bounce_evidence *ev, enum bounce_reason reason, int *added)
{
	for (guint i = 0; i < addrs->len; i++)
		if (bounce_report_add(r, m, addrs->pdata[i], NULL, ev))
			(*added)++;
	/* The classifier reads delivery failures; a report's reason is its
	 * feedback type, and nothing failed to be delivered. */
	for (guint i = 0; i < r->failures->len; i++) {
		struct bounce_failure *f = r->failures->pdata[i];

		f->reason = reason;
		f->permanent = FALSE;
	}
}

static enum bounce_reason
feedback_reason(const char *type)
{
	if (type == NULL)
		return BOUNCE_COMPLAINT;
	if (g_ascii_strncasecmp(type, "auth-failure", 12) == 0 ||
	    g_ascii_strncasecmp(type, "dkim", 4) == 0)
		return BOUNCE_POLICY;
	return BOUNCE_COMPLAINT;
}

static int
report_from(struct bounce_msg *m, struct bounce_report *r, const char *fields)
{
	GPtrArray *types = field_values(fields, "Feedback-Type");
	GPtrArray *rcpts = field_values(fields, "Original-Rcpt-To");
	const char *type = types->len > 0 ? types->pdata[0] : NULL;
	struct bounce_evidence ev = { .final = 1, .perm_hint = 0,
				      .diag = type };
	int added = 0;

	if (type != NULL && g_ascii_strncasecmp(type, "not-spam", 8) == 0) {
		g_ptr_array_unref(types);
		g_ptr_array_unref(rcpts);
		r->kind = BOUNCE_KIND_COMPLAINT;
		return 0;
	}
	if (rcpts->len == 0) {
		g_ptr_array_unref(rcpts);
		rcpts = field_values(fields, "Removal-Recipient");
	}
	add_all(m, r, rcpts, &ev, feedback_reason(type), &added);
	if (added == 0) {
		GPtrArray *to = original_to(m);

		add_all(m, r, to, &ev, feedback_reason(type), &added);
		g_ptr_array_unref(to);
	}
	r->kind = BOUNCE_KIND_COMPLAINT;
	r->format = "arf";
	g_ptr_array_unref(types);
	g_ptr_array_unref(rcpts);
	return added;
}

/* Microsoft's JMRP: no feedback part, a fixed sender and subject, the
 * complained-about message attached. */
static gboolean
is_jmrp(struct bounce_msg *m)
{
	return m->original != NULL && m->from != NULL &&
	       g_str_has_prefix(m->from, "staff@hotmail.com") &&
	       g_ascii_strncasecmp(m->subject, "complaint about message from",
				   28) == 0;
}

/* Apple Mail's one-click unsubscribe: a message from the member to the
 * List-Unsubscribe mailto address, marked X-Apple-Unsubscribe: an
 * opt-out by the sender itself. */
static int
apple_unsubscribe(struct bounce_msg *m, struct bounce_report *r)
{
	const char *v = message_header(m->msg, "X-Apple-Unsubscribe");
	char *fields;
	int added;

	if (v == NULL || g_ascii_strncasecmp(v, "true", 4) != 0 || m->from == NULL)
		return 0;
	fields = g_strdup_printf("Feedback-Type: opt-out\nRemoval-Recipient: %s\n",
				 m->from);
	added = report_from(m, r, fields);
	g_free(fields);
	return added;
}

int
bounce_arf_detect(struct bounce_msg *m, struct bounce_report *r)
{
	int added = 0;

	for (guint i = 0; i < m->arf->len; i++)
		added += report_from(m, r, ((struct bounce_part *)
					    m->arf->pdata[i])->text);
	if (m->arf->len == 0 && is_jmrp(m))
		added += report_from(m, r, "Feedback-Type: abuse\n");
	if (m->arf->len == 0 && r->kind == BOUNCE_KIND_NONE)
		added += apple_unsubscribe(m, r);
	return added;
}
