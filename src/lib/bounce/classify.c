/*
 * classify.c - what a failure's status code, reply code and words say:
 * one reason (enum bounce_reason) and permanent or temporary.
 *
 * The specific words of the diagnostic come first, then the RFC 3463
 * status, then the diagnostic's vaguer words ("rejected", "unknown"),
 * then the specific words of the notice around it.  Specific words first
 * because the status is the least specific part of most replies: MTAs
 * write 5.0.0 or 5.1.1 for anything, while "mailbox full", "blocked using
 * zen.spamhaus.org" and "DMARC policy" say what happened; vague words
 * after it because "550 5.1.1 ... rejected" is still an unknown mailbox.
 * The phrase tables are checked in a fixed order, and the order matters:
 * a rejected *sender* ("Sender address rejected: Domain not found", a
 * reply after MAIL FROM) is policy, not an unknown host; a mail loop's
 * "too many hops" is no policy; "mailbox full" must win over the "mailbox
 * unavailable" that often comes with it.
 *
 * Permanence (docs/bounces.md): a delay warning is never permanent; an
 * unknown mailbox or host that the MTA gave up on is permanent whatever
 * its code class (Postfix returns "450 4.1.1 User unknown" after its
 * retries); a full mailbox, an expired retry and a complaint are
 * temporary (the address may work tomorrow); anything else follows its
 * status class (5 permanent, 4 temporary), then its SMTP reply class,
 * then what the notice says ("This is a permanent error"), and a final
 * failure that says nothing at all is permanent.
 */
#include "bounce/bounce-private.h"

#include <string.h>

/* The sender was refused (its address, domain, or the list's server): the
 * member's address is fine.  Checked before everything else, because
 * these replies quote words like "domain not found" about the sender. */
static const char *const sender_refused[] = {
	"sender address rejected", "sender rejected", "sender denied",
	"sender domain", "sender verify failed", "sender address is",
	"mail from rejected", "envelope sender", "bad sender",
	"invalid sender", "unknown sender", "sender is not allowed",
	"domain of sender address", "after mail from", "to mail from command",
	"my name was rejected", "sender was rejected", "reverse dns",
	"no ptr record", "ptr record", "rdns", "reverse lookup",
	"helo command rejected", "client host rejected",
	"please use the smtp server of your isp", "dynamic ip", "dial-up",
	"dialup", "ip name lookup failed", "invalid ip for sending", NULL,
};

/* Faults of a mail system on the way, not of the address: loops, local
 * delivery programs failing.  Matched early so that their words ("too
 * many hops") are not taken for a policy. */
static const char *const system_fault[] = {
	"hop count", "too many hops", "mail loop", "routing loop",
	"loop detected", "looping", "mailer error", "local configuration error",
	"system error", "internal error", NULL,
};

static const char *const mailbox_full[] = {
	"mailbox full", "mailbox is full", "mailbox has exceeded",
	"mailbox exceeded", "mailbox quota", "mail quota", "over quota",
	"overquota", "over the quota", "quota exceeded", "exceeded quota",
	"exceeds quota", "exceed quota", "quota full", "quota limit",
	"disk quota", "storage quota", "exceeded storage",
	"exceeded its storage", "storage allocation", "account is full",
	"mailbox size limit", "mailfolder is full", "full mailbox",
	"inbox is full", "out of storage", "user is over", "mailbox exceeds",
	"too much mail", "mailbox over", NULL,
};

static const char *const too_big[] = {
	"message too large", "message is too large", "message too big",
	"message is too big", "message size exceeds", "size exceeds",
	"exceeds size limit", "exceeds the size limit", "size limit",
	"message length exceeds", "exceeded the maximum message size",
	"exceeds the maximum", "exceeds maximum", "too large", "mail size",
	"message size", "message exceeds", NULL,
};

static const char *const mailbox_disabled[] = {
	"account disabled", "account has been disabled", "account is disabled",
	"mailbox disabled", "mailbox is disabled", "mailbox has been disabled",
	"disabled recipient", "recipient disabled", "user disabled",
	"disabled user", "account has been suspended", "account is suspended",
	"account suspended", "mailbox suspended", "user suspended",
	"account inactive", "account is inactive", "inactive account",
	"mailbox is inactive", "mailbox inactive", "deactivated",
	"account has been locked", "account is locked", "account locked",
	"account is blocked", "mailbox is blocked", "disabled or discontinued",
	"no longer active", "not active", "mailbox is frozen",
	"account expired", "expired account", "account has expired", "temporarily locked", "temporary locked", NULL,
};

static const char *const host_unknown[] = {
	"host unknown", "unknown host", "host not found", "domain not found",
	"no such domain", "domain does not exist", "unknown domain",
	"invalid domain", "unrouteable mail domain", "unroutable mail domain",
	"unrouteable address", "unroutable address",
	"name or service not known", "host or domain name not found",
	"couldn't find any host", "could not find any host",
	"domain name not found", "nxdomain", "no mx record",
	"no mail exchanger", "does not accept mail", "null mx", "nullmx",
	"dns error", "name service error", "unknown mail domain",
	"domain unknown", "not a valid domain", "host name lookup failure",
	"mx lookup", "not accepting network messages", "domain is not reachable", "dns lookup failure", NULL,
};

static const char *const mailbox_unknown[] = {
	"user unknown", "unknown user", "no such user", "no such mailbox",
	"no such recipient", "no such account", "no such person",
	"unknown recipient", "recipient unknown", "recipient not found",
	"unknown address", "address unknown", "unknown mailbox",
	"mailbox unknown", "invalid recipient", "invalid mailbox",
	"invalid user", "user invalid", "invalid address", "bad recipient",
	"bad destination mailbox", "mailbox not found", "user not found",
	"address not found", "account not found", "addressee unknown",
	"does not exist", "doesn't exist", "dosn't exist", "no mailbox",
	"no longer available", "not a valid mailbox", "is not a valid",
	"not a known user", "recipnotfound", "recipientnotfound",
	"recipient name is not recognized", "not recognized",
	"unknown or illegal", "doesn't have a", "does not have an account",
	"couldn't be found", "could not be found", "unknown local part",
	"no such local user", "mailbox unavailable", "mailbox is unavailable",
	"has moved", "no longer with", "no longer valid", "not a user",
	"unknown e-mail", "unknown email", "undeliverable address",
	"invalid email address", "no valid recipients", "user does not",
	"does not have a mailbox", "not our customer", "見つかりません",
	"存在しません", "not exist", "not listed in", "address rejected: access denied", NULL,
};

static const char *const policy[] = {
	"dmarc", "spf", "dkim", "spam", "junk", "blacklist", "black list",
	"blocklist", "block list", "denylist", "deny list", "rbl", "dnsbl",
	"spamhaus", "spamcop", "barracuda", "sorbs", "reputation",
	"content rejected", "rejected for content", "relay access denied",
	"relaying denied", "relay not permitted", "relaying not allowed",
	"not permitted to relay", "unable to relay", "unauthenticated",
	"authentication", "virus", "malware", "infected", "phishing",
	"bulk mail", "receiving mail at a rate", "rate limit",
	"too many connections", "too many messages", "blocked using",
	"listed at", "listed in", "policy", "too many recipients", NULL,
};

static const char *const expired[] = {
	"retry timeout exceeded", "retry time not reached",
	"failing for a long time", "delivery time expired", "message expired",
	"time expired", "has expired", "too long in queue",
	"in the queue too long", "queue too long", "could not be delivered for",
	"couldn't be delivered for", "undeliverable for",
	"unable to deliver for", "could not deliver for", "not delivered within",
	"aborted after", "multiple retries", "giving up.", ", giving up",
	NULL,
};

/* The host could not be reached: in a final report, the MTA retried
 * until it gave up, so these are "expired" too (matched after every
 * reason a reply could give). */
static const char *const unreachable[] = {
	"connection refused", "connection timed out", "connect timeout",
	"socket error", "no route to host", "host not reachable",
	"host unreachable", "network is unreachable", "not responding",
	"could not connect", "couldn't connect", "unable to connect",
	"did not accept our requests to connect", "connection reset",
	"lost connection", "conversation timed out", NULL,
};

/* Words that say something only when nothing above did: "Recipient
 * address rejected." alone is an unknown mailbox; "refused" alone a
 * policy. */
static const char *const weak_unknown[] = {
	"not found", "no such", "is unknown", "not known", "unknown", "userid", NULL,
};
static const char *const weak_policy[] = {
	"blocked", "refused", "denied", "not allowed", "not authorized",
	"unauthorized", "not accepted", "forbidden", "prohibited", "banned",
	"filtered", "filter", "restricted", "rejected", "security",
	"suspicious", NULL,
};
static const char *const weak_expired[] = {
	"expired", "timeout", "timed out", NULL,
};

struct phrase_class {
	enum bounce_reason reason;
	const char *const *phrases;
};

static const struct phrase_class strong_classes[] = {
	{ BOUNCE_POLICY, sender_refused },
	{ BOUNCE_OTHER, system_fault },
	{ BOUNCE_MAILBOX_FULL, mailbox_full },
	{ BOUNCE_TOO_BIG, too_big },
	{ BOUNCE_MAILBOX_DISABLED, mailbox_disabled },
	{ BOUNCE_HOST_UNKNOWN, host_unknown },
	{ BOUNCE_MAILBOX_UNKNOWN, mailbox_unknown },
	{ BOUNCE_POLICY, policy },
	{ BOUNCE_EXPIRED, expired },
	{ BOUNCE_EXPIRED, unreachable },
	{ 0, NULL },
};

static const struct phrase_class weak_classes[] = {
	{ BOUNCE_MAILBOX_UNKNOWN, weak_unknown },
	{ BOUNCE_POLICY, weak_policy },
	{ BOUNCE_EXPIRED, weak_expired },
	{ 0, NULL },
};

gboolean
bounce_has_phrase(const char *lower, const char *const *phrases)
{
	for (const char *const *p = phrases; *p != NULL; p++)
		if (strstr(lower, *p) != NULL)
			return TRUE;
	return FALSE;
}

char *
bounce_lower(const char *s, size_t len, size_t max)
{
	char *out = g_strndup(s, MIN(len, max));

	for (char *p = out; *p != '\0'; p++)
		*p = g_ascii_tolower(*p);
	return out;
}

char *
bounce_fold_lower(const char *s, size_t len, size_t max)
{
	GString *out = g_string_sized_new(MIN(len, max) + 1);
	gboolean space = FALSE;

	for (size_t i = 0; i < len && out->len < max && s[i] != '\0'; i++) {
		if (g_ascii_isspace(s[i])) {
			space = out->len > 0;
			continue;
		}
		if (space)
			g_string_append_c(out, ' ');
		space = FALSE;
		g_string_append_c(out, g_ascii_tolower(s[i]));
	}
	return g_string_free(out, FALSE);
}

gboolean
bounce_find_status(const char *t, size_t len, char *out)
{
	for (size_t i = 0; i + 4 < len; i++) {
		size_t j = i + 2, a, b;

		if ((t[i] != '4' && t[i] != '5' && t[i] != '2') || t[i + 1] != '.')
			continue;
		if (i > 0 && (g_ascii_isalnum(t[i - 1]) || t[i - 1] == '.'))
			continue;
		for (a = 0; j < len && g_ascii_isdigit(t[j]) && a < 4; j++)
			a++;
		if (a == 0 || a > 3 || j >= len || t[j] != '.')
			continue;
		j++;
		for (b = 0; j < len && g_ascii_isdigit(t[j]) && b < 4; j++)
			b++;
		if (b == 0 || b > 3 || (j < len && g_ascii_isalnum(t[j])))
			continue;
		if (j + 1 < len && t[j] == '.' && g_ascii_isdigit(t[j + 1]))
			continue;	/* an IP address */
		memcpy(out, t + i, j - i);
		out[j - i] = '\0';
		return TRUE;
	}
	return FALSE;
}

int
bounce_find_reply(const char *t, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++) {
		if ((t[i] != '4' && t[i] != '5') || !g_ascii_isdigit(t[i + 1]) ||
		    !g_ascii_isdigit(t[i + 2]))
			continue;
		if (i > 0 && (g_ascii_isalnum(t[i - 1]) || t[i - 1] == '.' ||
			      t[i - 1] == '-' || t[i - 1] == '#' ||
			      t[i - 1] == '/' || t[i - 1] == '_'))
			continue;
		if (i + 3 < len && t[i + 3] != ' ' && t[i + 3] != '-' &&
		    t[i + 3] != '\n' && t[i + 3] != '\t')
			continue;
		if (t[i + 1] > '5')
			continue;	/* reply codes are x0x..x5x */
		return (t[i] - '0') * 100 + (t[i + 1] - '0') * 10 + t[i + 2] - '0';
	}
	return 0;
}

/* The reason an RFC 3463 status gives, OTHER when it is not specific. */
static enum bounce_reason
status_reason(const char *status)
{
	int subject, detail;

	if (status == NULL || *status == '\0' ||
	    sscanf(status + 2, "%d.%d", &subject, &detail) != 2)
		return BOUNCE_OTHER;
	switch (subject * 100 + detail) {
	case 101: case 103: case 106:
		return BOUNCE_MAILBOX_UNKNOWN;
	case 102: case 110: case 302: case 404:
		return BOUNCE_HOST_UNKNOWN;
	case 201:
		return BOUNCE_MAILBOX_DISABLED;
	case 202:
		return BOUNCE_MAILBOX_FULL;
	case 203: case 304:
		return BOUNCE_TOO_BIG;
	case 407:
		return BOUNCE_EXPIRED;
	case 107: case 108:
		return BOUNCE_POLICY;
	}
	if (subject == 7)
		return BOUNCE_POLICY;
	return BOUNCE_OTHER;
}

/* "Recipient address rejected." with nothing after it: Postfix's words
 * for an unknown mailbox when the check gave no reason (with a reason,
 * "Recipient address rejected: Access denied", the reason says). */
static gboolean
bare_rejection(const char *lower)
{
	const char *p = lower != NULL ? strstr(lower, "recipient address rejected")
				      : NULL;

	if (p == NULL)
		return FALSE;
	for (p += 26; *p != '\0'; p++)
		if (!g_ascii_isspace(*p) && *p != '.')
			return FALSE;
	return TRUE;
}

/* Whether lower (lower-cased) has a phrase of one of the classes; the
 * first class that has one gives *reason. */
static gboolean
text_reason(const char *lower, const struct phrase_class *classes,
	    enum bounce_reason *reason)
{
	if (lower == NULL)
		return FALSE;
	for (const struct phrase_class *c = classes; c->phrases != NULL; c++)
		if (bounce_has_phrase(lower, c->phrases)) {
			*reason = c->reason;
			return TRUE;
		}
	return FALSE;
}

static gboolean
permanence(const struct bounce_evidence *ev, const struct bounce_failure *f)
{
	if (ev->final == 0)
		return FALSE;
	switch (f->reason) {
	case BOUNCE_MAILBOX_UNKNOWN:
	case BOUNCE_HOST_UNKNOWN:
		return TRUE;
	case BOUNCE_MAILBOX_FULL:
	case BOUNCE_EXPIRED:
	case BOUNCE_COMPLAINT:
		return FALSE;
	default:
		break;
	}
	if (f->status[0] == '5' || f->status[0] == '4')
		return f->status[0] == '5';
	if (f->reply != 0)
		return f->reply >= 500;
	if (ev->perm_hint >= 0)
		return ev->perm_hint == 1;
	return TRUE;
}

/* The diagnostic as one line: runs of white space made one space, cut at
 * BOUNCE_DIAG_MAX bytes on a character boundary. */
static char *
one_line(const char *text)
{
	GString *s = g_string_new(NULL);
	gboolean space = FALSE;

	for (const char *p = text; *p != '\0' && s->len < BOUNCE_DIAG_MAX; p++) {
		if (g_ascii_isspace(*p)) {
			space = s->len > 0;
			continue;
		}
		if (space)
			g_string_append_c(s, ' ');
		space = FALSE;
		g_string_append_c(s, *p);
	}
	if (s->len >= BOUNCE_DIAG_MAX) {
		const char *end = s->str + s->len;

		while (end > s->str && ((unsigned char)end[-1] & 0xc0) == 0x80)
			end--;
		if (end > s->str && ((unsigned char)end[-1] & 0x80))
			end--;
		g_string_truncate(s, end - s->str);
	}
	if (s->len == 0) {
		g_string_free(s, TRUE);
		return NULL;
	}
	return g_string_free(s, FALSE);
}

void
bounce_classify(const struct bounce_evidence *ev, struct bounce_failure *f)
{
	size_t dlen = ev->diag != NULL ? strlen(ev->diag) : 0;
	char *lower = ev->diag != NULL ? bounce_fold_lower(ev->diag, dlen, 4096)
				       : NULL;
	char found[16];

	f->status[0] = '\0';
	if (ev->status != NULL &&
	    bounce_find_status(ev->status, strlen(ev->status), found))
		g_strlcpy(f->status, found, sizeof f->status);
	else if (ev->diag != NULL && bounce_find_status(ev->diag, MIN(dlen, 4096),
							found))
		g_strlcpy(f->status, found, sizeof f->status);
	f->reply = ev->diag != NULL ? bounce_find_reply(ev->diag, MIN(dlen, 4096))
				    : 0;
	/* The diagnostic's specific words, the status, the diagnostic's
	 * vaguer words, the notice's specific words. */
	f->reason = BOUNCE_OTHER;
	if (bare_rejection(lower))
		f->reason = BOUNCE_MAILBOX_UNKNOWN;
	else if (!text_reason(lower, strong_classes, &f->reason) &&
	    (f->reason = status_reason(f->status)) == BOUNCE_OTHER &&
	    !text_reason(lower, weak_classes, &f->reason) &&
	    ev->context != NULL) {
		char *ctx = bounce_fold_lower(ev->context, strlen(ev->context),
					      8192);

		text_reason(ctx, strong_classes, &f->reason);
		g_free(ctx);
	}
	f->permanent = permanence(ev, f);
	g_free(f->diagnostic);
	f->diagnostic = ev->diag != NULL ? one_line(ev->diag) : NULL;
	g_free(lower);
}
