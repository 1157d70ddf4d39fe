/*
 * detect.h - bounce detection: what a returned message says about which
 * recipients failed, whether for good, and why.
 *
 * Boundary: reads one message (and the envelope recipient it came to, if
 * known); changes nothing, writes nothing.  The bounces runner (to come)
 * acts on the report: scores members, disables, tells owners.
 *
 * The detectors run in this order, the first that finds recipients wins:
 *
 *   1. VERP: the envelope recipient LIST-bounces+MAILBOX=DOMAIN@... names
 *      the member whatever the message says (mail/verp.h); the message is
 *      still read for permanence and reason, and for whether it is a
 *      bounce at all (a vacation reply to a VERP address is not).
 *   2. RFC 3464 delivery status notifications (message/delivery-status,
 *      and RFC 6533's message/global-delivery-status with UTF-8
 *      addresses), dsn.c; RFC 5965 feedback reports, arf.c.
 *   3. Amazon SES's JSON notifications, ses.c; the formats of MTAs and
 *      providers that do not follow RFC 3464, text.c (with cut.c):
 *      recognised by the shape of the text (qmail's "Hi. This is the
 *      qmail-send program", Sendmail's "----- The following addresses
 *      had permanent fatal errors -----", Postfix's "<addr>: host ...
 *      said: 550 ...", Exim's indented addresses, Exchange's "did not
 *      reach the following recipient(s)" and so on), never by the
 *      particular message; a report inside a report; and as a last
 *      resort the returned message's own recipient, original.c.
 *
 * Not bounces (no failures reported): auto-replies and vacation messages
 * (RFC 3834 Auto-Submitted, X-Autoreply, their subjects), challenge-
 * response messages, and DSNs of successful delivery (Action: delivered,
 * relayed, expanded).  Delay warnings (Action: delayed) report their
 * recipients as temporary failures, never permanent.
 *
 * Classification (classify.c): an RFC 3463 status, an SMTP reply code and
 * the diagnostic text become one reason of enum bounce_reason and a
 * permanence.  docs/bounces.md lists the reasons and the rules.
 *
 * Hostile input is expected: time and memory are linear in the message's
 * size, MIME nesting is read to a bounded depth, long lines are read only
 * up to a bounded length.
 */
#ifndef HERALD_BOUNCE_DETECT_H
#define HERALD_BOUNCE_DETECT_H

#include <glib.h>
#include <gmime/gmime.h>

/* Why a recipient failed.  The names (bounce_reason_name) are what
 * `herald bounce detect` prints; docs/bounces.md describes each. */
enum bounce_reason {
	BOUNCE_OTHER = 0,	/* "other": anything else, or not said */
	BOUNCE_MAILBOX_UNKNOWN,	/* "mailbox-unknown": no such user, moved */
	BOUNCE_MAILBOX_DISABLED,	/* "mailbox-disabled": suspended, inactive */
	BOUNCE_MAILBOX_FULL,	/* "mailbox-full": over quota */
	BOUNCE_HOST_UNKNOWN,	/* "host-unknown": no such domain, no MX,
				 * null MX */
	BOUNCE_POLICY,		/* "policy": DMARC/SPF/DKIM, spam content,
				 * blocklists, the sender refused: not the
				 * member's fault */
	BOUNCE_TOO_BIG,		/* "too-big": message size over a limit */
	BOUNCE_EXPIRED,		/* "expired": retried until given up */
	BOUNCE_COMPLAINT,	/* "complaint": an RFC 5965 abuse report */
};

/* What kind of message it was. */
enum bounce_kind {
	BOUNCE_KIND_NONE = 0,	/* not a report about delivery at all */
	BOUNCE_KIND_FAILURE,	/* failures (some may be temporary) */
	BOUNCE_KIND_DELAY,	/* only delay warnings: temporary failures */
	BOUNCE_KIND_SUCCESS,	/* a DSN of successful delivery */
	BOUNCE_KIND_AUTOREPLY,	/* vacation, out of office, RFC 3834 */
	BOUNCE_KIND_CHALLENGE,	/* challenge-response ("confirm you are
				 * human") */
	BOUNCE_KIND_COMPLAINT,	/* an RFC 5965 feedback report */
};

struct bounce_failure {
	char *addr;		/* the failed recipient, normalised
				 * (mail/address.h): the Final-Recipient of a
				 * DSN, or the VERP member */
	char *original;		/* the DSN's Original-Recipient when it is
				 * another address (the member's address
				 * before forwarding), else NULL */
	gboolean permanent;	/* FALSE: temporary (retry may work) */
	enum bounce_reason reason;
	char status[16];	/* RFC 3463 status as found ("5.1.1"), "" if
				 * none was */
	int reply;		/* SMTP reply code as found, 0 if none */
	char *diagnostic;	/* the remote reply or the notice's words,
				 * one line of at most BOUNCE_DIAG_MAX
				 * bytes, or NULL */
};

#define BOUNCE_DIAG_MAX 300

struct bounce_report {
	enum bounce_kind kind;
	const char *format;	/* the detector that read it ("dsn", "qmail",
				 * ...; docs/bounces.md), NULL for none */
	gboolean verp;		/* the address came from the envelope */
	GPtrArray *failures;	/* struct bounce_failure *, in the order
				 * found, one per address */
	GHashTable *index;	/* detect.c's: address key -> position */
};

/* Reads msg, which came to envelope_rcpt (NULL when unknown).  Never
 * fails: a message that is no bounce gives a report with no failures. */
struct bounce_report *bounce_detect(GMimeMessage *msg,
				    const char *envelope_rcpt);

/* The same for raw bytes (LF, CRLF or CR line ends).  NULL with
 * HERALD_ERR_FORMAT when it is no message at all (mail/message.h). */
struct bounce_report *bounce_detect_data(const char *data, size_t len,
					 const char *envelope_rcpt,
					 GError **error);

const char *bounce_reason_name(enum bounce_reason reason);
const char *bounce_kind_name(enum bounce_kind kind);

void bounce_report_free(struct bounce_report **report);

#endif
