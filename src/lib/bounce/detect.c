/*
 * detect.c - bounce detection: the order of the detectors, VERP, and the
 * report they build (detect.h says what each detector reads).
 *
 * The order is the order of trust.  A VERP envelope names the member
 * exactly; an RFC 3464 report names recipients in fields made for it; the
 * text formats read prose written for people and so come last, and only
 * for a message that looks like a report at all (a mail system's sender,
 * a bounce's subject, ...) and is not an auto-reply: an address in a
 * vacation message is not a failed recipient.
 *
 * One failure per address: a report may name an address twice (Sendmail
 * lists it, then quotes the transcript that rejected it); the finding
 * with the most evidence (a reason, a status, a reply code) is kept.
 */
#include "bounce/bounce-private.h"
#include "base/base.h"
#include "mail/address.h"
#include "mail/message.h"
#include "mail/verp.h"

#include <string.h>

static const char *const reason_names[] = {
	[BOUNCE_OTHER] = "other",
	[BOUNCE_MAILBOX_UNKNOWN] = "mailbox-unknown",
	[BOUNCE_MAILBOX_DISABLED] = "mailbox-disabled",
	[BOUNCE_MAILBOX_FULL] = "mailbox-full",
	[BOUNCE_HOST_UNKNOWN] = "host-unknown",
	[BOUNCE_POLICY] = "policy",
	[BOUNCE_TOO_BIG] = "too-big",
	[BOUNCE_EXPIRED] = "expired",
	[BOUNCE_COMPLAINT] = "complaint",
};

static const char *const kind_names[] = {
	[BOUNCE_KIND_NONE] = "none",
	[BOUNCE_KIND_FAILURE] = "failure",
	[BOUNCE_KIND_DELAY] = "delay",
	[BOUNCE_KIND_SUCCESS] = "success",
	[BOUNCE_KIND_AUTOREPLY] = "autoreply",
	[BOUNCE_KIND_CHALLENGE] = "challenge",
	[BOUNCE_KIND_COMPLAINT] = "complaint",
};

const char *
bounce_reason_name(enum bounce_reason reason)
{
	if ((unsigned)reason >= G_N_ELEMENTS(reason_names))
		return "other";
	return reason_names[reason];
}

const char *
bounce_kind_name(enum bounce_kind kind)
{
	if ((unsigned)kind >= G_N_ELEMENTS(kind_names))
		return "none";
	return kind_names[kind];
}

static void
failure_free(gpointer p)
{
	struct bounce_failure *f = p;

	g_free(f->addr);
	g_free(f->original);
	g_free(f->diagnostic);
	g_free(f);
}

struct bounce_report *
bounce_report_new(void)
{
	struct bounce_report *r = g_new0(struct bounce_report, 1);

	r->failures = g_ptr_array_new_with_free_func(failure_free);
	r->index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return r;
}

void
bounce_report_free(struct bounce_report **rp)
{
	struct bounce_report *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	g_ptr_array_unref(r->failures);
	g_hash_table_unref(r->index);
	g_free(r);
}

/* An RFC 6533 address with a UTF-8 local part, which address.c does not
 * take (herald delivers to none): as written, its domain in A-labels if
 * it converts, else lower-cased.  NULL unless it is UTF-8 with a local
 * part, one '@' and a dotted domain, and no space or control character. */
static char *
utf8_address(const char *p)
{
	const char *at = strrchr(p, '@');
	char *domain, *ace, *out;

	if (at == NULL || at == p || strchr(p, '@') != at ||
	    strchr(at, '.') == NULL || !g_utf8_validate(p, -1, NULL) ||
	    g_str_is_ascii(p))
		return NULL;
	for (const char *c = p; *c != '\0'; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return NULL;
	domain = g_strconcat("x@", at + 1, NULL);
	ace = address_normalise(domain, NULL);
	g_free(domain);
	if (ace != NULL) {
		out = g_strdup_printf("%.*s%s", (int)(at - p), p, strchr(ace, '@'));
		g_free(ace);
		return out;
	}
	domain = g_utf8_strdown(at, -1);
	out = g_strdup_printf("%.*s%s", (int)(at - p), p, domain);
	g_free(domain);
	return out;
}

/* Raw address text as a report writes it ("<a@b>", "'a@b'", "a@b.",
 * "mailto:a@b") normalised, or NULL when it is no valid address. */
static char *
clean_address(const char *raw)
{
	char *s = g_strstrip(g_strdup(raw)), *p = s, *norm;
	size_t n;

	if (g_ascii_strncasecmp(p, "mailto:", 7) == 0)
		p += 7;
	while (*p == '<' || *p == '\'' || *p == '(' || *p == '[' ||
	       (*p == '"' && strchr(p + 1, '"') != NULL &&
		strchr(p + 1, '"')[1] != '@'))
		p++;
	n = strlen(p);
	while (n > 0 && strchr(">'\".,;:)]", p[n - 1]) != NULL &&
	       !(p[n - 1] == '"' && memchr(p, '"', n - 1) != NULL &&
		 memchr(p, '@', n) == NULL))
		n--;
	p[n] = '\0';
	norm = address_normalise(p, NULL);
	if (norm == NULL)
		norm = utf8_address(p);
	g_free(s);
	return norm;
}

gboolean
bounce_addr_excluded(struct bounce_msg *m, const char *key)
{
	const char *at = strrchr(key, '@');
	size_t n = at != NULL ? (size_t)(at - key) : strlen(key);

	if (m->envelope != NULL && strcmp(key, m->envelope) == 0)
		return TRUE;
	/* A list's bounce address (herald's or Mailman's), VERP or not:
	 * the sender of the returned message, never its recipient. */
	if ((n >= 8 && memcmp(key + n - 8, "-bounces", 8) == 0) ||
	    g_strstr_len(key, n, "-bounces+") != NULL)
		return TRUE;
	return FALSE;
}

/* The comparison key of a reported address (address_key; a UTF-8 one
 * lower-cased). */
static char *
report_key(const char *addr)
{
	char *key = address_key(addr);

	return key != NULL ? key : g_utf8_strdown(addr, -1);
}

/* How much a finding says: a reason, a status and a reply code each
 * count. */
static int
weight(const struct bounce_failure *f)
{
	return (f->reason != BOUNCE_OTHER ? 4 : 0) + (f->status[0] ? 2 : 0) +
	       (f->reply != 0 ? 1 : 0);
}

gboolean
bounce_report_add(struct bounce_report *r, struct bounce_msg *m,
		  const char *raw_addr, const char *original,
		  const struct bounce_evidence *ev)
{
	char *addr = clean_address(raw_addr), *key;
	struct bounce_failure *f;
	gpointer pos;

	if (addr == NULL)
		return FALSE;
	key = report_key(addr);
	if (bounce_addr_excluded(m, key) || r->failures->len >= FAILURES_MAX) {
		g_free(key);
		g_free(addr);
		return FALSE;
	}
	f = g_new0(struct bounce_failure, 1);
	f->addr = addr;
	if (original != NULL) {
		char *o = clean_address(original);

		char *okey = o != NULL ? report_key(o) : NULL;

		if (okey != NULL && strcmp(okey, key) != 0)
			f->original = g_steal_pointer(&o);
		g_free(okey);
		g_free(o);
	}
	bounce_classify(ev, f);
	if (g_hash_table_lookup_extended(r->index, key, NULL, &pos)) {
		guint i = GPOINTER_TO_UINT(pos);
		struct bounce_failure *old = r->failures->pdata[i];

		if (weight(f) > weight(old)) {
			if (f->original == NULL)
				f->original = g_steal_pointer(&old->original);
			r->failures->pdata[i] = f;
			failure_free(old);
		} else {
			failure_free(f);
		}
		g_free(key);
		return TRUE;
	}
	g_hash_table_insert(r->index, key, GUINT_TO_POINTER(r->failures->len));
	g_ptr_array_add(r->failures, f);
	return TRUE;
}

/* VERP: the member the envelope names is the one failed recipient; what
 * the detectors found gives its permanence and reason (the most
 * permanent, most specific finding).  A report they could not read still
 * counts when the message looks like one. */
static void
apply_verp(struct bounce_report *r, struct bounce_msg *m, const char *member)
{
	struct bounce_failure *best = NULL, *f;

	if (r->kind == BOUNCE_KIND_SUCCESS || r->kind == BOUNCE_KIND_AUTOREPLY ||
	    r->kind == BOUNCE_KIND_CHALLENGE)
		return;
	for (guint i = 0; i < r->failures->len; i++) {
		struct bounce_failure *c = r->failures->pdata[i];

		if (best == NULL || (c->permanent && !best->permanent) ||
		    (c->permanent == best->permanent && weight(c) > weight(best)))
			best = c;
	}
	if (best == NULL && !bounce_looks_like_report(m))
		return;
	f = g_new0(struct bounce_failure, 1);
	f->addr = g_strdup(member);
	if (best != NULL) {
		f->permanent = best->permanent;
		f->reason = best->reason;
		memcpy(f->status, best->status, sizeof f->status);
		f->reply = best->reply;
		f->diagnostic = g_strdup(best->diagnostic);
		if (!address_equal(best->addr, member))
			f->original = g_strdup(best->addr);
	} else {
		struct bounce_evidence ev = { .final = -1, .perm_hint = -1,
					      .context = m->notice };

		bounce_text_tone(m, m->notice, bounce_text_cut(m->notice,
				 strlen(m->notice)), &ev.final, &ev.perm_hint);
		bounce_classify(&ev, f);
		if (r->format == NULL)
			r->format = "verp";
	}
	g_ptr_array_set_size(r->failures, 0);
	g_hash_table_remove_all(r->index);
	g_hash_table_insert(r->index, report_key(member), GUINT_TO_POINTER(0));
	g_ptr_array_add(r->failures, f);
	r->verp = TRUE;
}

/* The returned message is itself a report (a bounce of a bounce, or a
 * gateway that wraps the DSN it got): read it instead, to a bounded
 * depth. */
#define NESTED_MAX 3

static void run_detectors(struct bounce_report *r, struct bounce_msg *m,
			  const char *envelope, int depth);

static void
nested(struct bounce_report *r, struct bounce_msg *m, const char *envelope,
       int depth)
{
	struct bounce_msg *inner;

	if (depth >= NESTED_MAX || m->original == NULL)
		return;
	inner = bounce_msg_read(m->original, envelope);
	if (bounce_looks_like_report(inner) &&
	    (inner->report || bounce_is_daemon(inner->from))) {
		run_detectors(r, inner, envelope, depth + 1);
		if (r->failures->len > 0 && r->format != NULL &&
		    !g_str_has_prefix(r->format, "nested-")) {
			char *name = g_strconcat("nested-", r->format, NULL);

			r->format = g_intern_string(name);
			g_free(name);
		}
	}
	bounce_msg_free(&inner);
}

/* The detectors in order of trust, until one finds something. */
static void
run_detectors(struct bounce_report *r, struct bounce_msg *m,
	      const char *envelope, int depth)
{
	if (bounce_dsn_detect(m, r) > 0 || r->kind != BOUNCE_KIND_NONE)
		return;
	if (bounce_arf_detect(m, r) > 0 || r->kind != BOUNCE_KIND_NONE)
		return;
	if (m->dsn->len == 0) {
		enum bounce_kind k = bounce_autoreply_kind(m);

		if (k != BOUNCE_KIND_NONE) {
			r->kind = k;
			return;
		}
	}
	if (bounce_ses_detect(m, r) > 0 || r->kind != BOUNCE_KIND_NONE)
		return;
	if (!bounce_looks_like_report(m))
		return;
	if (bounce_dsn_detect_inline(m, r) > 0 || r->kind != BOUNCE_KIND_NONE)
		return;
	if (bounce_text_detect(m, r) > 0 || r->kind != BOUNCE_KIND_NONE)
		return;
	nested(r, m, envelope, depth);
	if (r->failures->len == 0 && r->kind == BOUNCE_KIND_NONE)
		bounce_original_detect(m, r);
}

struct bounce_report *
bounce_detect(GMimeMessage *msg, const char *envelope_rcpt)
{
	struct bounce_report *r = bounce_report_new();
	struct bounce_msg *m = bounce_msg_read(msg, envelope_rcpt);
	char *member = envelope_rcpt != NULL ? verp_decode(envelope_rcpt) : NULL;

	run_detectors(r, m, envelope_rcpt, 0);
	if (member != NULL) {
		char *norm = address_normalise(member, NULL);

		if (norm != NULL)
			apply_verp(r, m, norm);
		g_free(norm);
	}
	if (r->failures->len > 0 && (r->kind == BOUNCE_KIND_NONE ||
				     r->kind == BOUNCE_KIND_DELAY)) {
		gboolean any_final = FALSE;

		for (guint i = 0; i < r->failures->len; i++)
			if (((struct bounce_failure *)r->failures->pdata[i])->permanent)
				any_final = TRUE;
		if (r->kind == BOUNCE_KIND_NONE || any_final)
			r->kind = BOUNCE_KIND_FAILURE;
	}
	if (r->failures->len == 0 && r->kind == BOUNCE_KIND_FAILURE)
		r->kind = BOUNCE_KIND_NONE;
	g_free(member);
	bounce_msg_free(&m);
	return r;
}

/* Line ends made LF: GMime reads CR-only text as one long line. */
static char *
lf_copy(const char *data, size_t len, size_t *len_r)
{
	char *out = g_malloc(len + 1);
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\r') {
			out[n++] = '\n';
			if (i + 1 < len && data[i + 1] == '\n')
				i++;
		} else {
			out[n++] = data[i];
		}
	}
	out[n] = '\0';
	*len_r = n;
	return out;
}

struct bounce_report *
bounce_detect_data(const char *data, size_t len, const char *envelope_rcpt,
		   GError **error)
{
	size_t n = len;
	GMimeMessage *msg;
	struct bounce_report *r;
	char *lf;

	if (len == 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "not a message: it is empty");
		return NULL;
	}
	lf = memchr(data, '\r', len) != NULL ? lf_copy(data, len, &n) : NULL;
	msg = message_parse(lf != NULL ? lf : data, n, error);
	g_free(lf);
	if (msg == NULL)
		return NULL;
	r = bounce_detect(msg, envelope_rcpt);
	g_object_unref(msg);
	return r;
}
