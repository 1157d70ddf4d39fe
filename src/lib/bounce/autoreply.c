/*
 * autoreply.c - which messages are not bounces though they come back to
 * the bounce address: auto-replies and vacation notices (RFC 3834),
 * challenge-response ("confirm you are human") messages; and the gate
 * the text formats pass first: does the message look like a delivery
 * report at all.
 *
 * The two questions overlap.  Exim marks its bounces "Auto-Submitted:
 * auto-replied" like any vacation program, so an RFC 3834 header alone
 * does not make an auto-reply: a mail system's sender (MAILER-DAEMON,
 * postmaster, "Mail Delivery System"), X-Failed-Recipients or a bounce's
 * subject outweigh it.  A subject that an auto-responder writes ("Out of
 * Office:", "Automatic reply:") outweighs a bounce-like word later in it
 * (the subject it replies to may say "error").  A challenge's subject
 * outweighs everything but a machine-readable report, which never comes
 * here.
 */
#include "bounce/bounce-private.h"
#include "mail/message.h"

#include <string.h>

/* Subjects only a mail system writes, and words that need more evidence
 * ("error" is also spam's and people's). */
static const char *const bounce_subjects[] = {
	"undeliver", "undelivered", "returned mail", "return mail",
	"returning message", "delivery fail", "failed delivery",
	"delivery status notification", "delivery notification",
	"delivery report", "delivery problem", "delivery error",
	"failure notice", "mail delivery failed", "mail failure",
	"non-delivery", "nondelivery", "non delivery", "not delivered",
	"could not be delivered", "couldn't be delivered", "mail system error",
	"could not send message", "cannot send message", "unzustellbar",
	"nicht zustellbar", "non remis", "non distribuable", "no entregado",
	"non recapitabile", "onbestelbaar", "не доставлено", "delivery delay",
	"warning: message", "unable to deliver", NULL,
};
static const char *const weak_subjects[] = {
	"error", "failure", "failed", "rejected", "returned", "bounce",
	"delayed", "could not send", "cannot send", "can't send", "エラー",
	"配信", NULL,
};

static const char *const daemon_names[] = {
	"mailer-daemon", "mailer daemon", "mail delivery", "postmaster",
	"mail system", "mail administrator", "system administrator",
	"delivery subsystem", "delivery system", "mail daemon", NULL,
};

/* Openings of reports a person would not write, and phrases that need
 * a bounce's subject too. */
static const char *const report_openings[] = {
	"this is the mail system", "qmail-send program",
	"created automatically by mail delivery software",
	"the following addresses had permanent fatal errors",
	"transcript of session follows", "did not reach the following recipient",
	"delivery to the following recipient", "delivery has failed to these",
	"this is an automatically generated delivery status notification",
	"could not be delivered to one or more recipients", NULL,
};
static const char *const report_phrases[] = {
	"could not be delivered", "couldn't be delivered", "undeliverable",
	"delivery has failed", "unable to deliver", "was not delivered",
	"delivery failed", "permanent error", "returned to sender",
	"wasn't delivered", "not be delivered", "failed to deliver",
	"error delivering", "delivery problem", "following address",
	"following recipient", "mailer-daemon", "requested action not taken",
	"rcpt to", "remote host said", "user unknown", NULL,
};

static const char *const autoreply_subjects[] = {
	"auto:", "automatic reply", "autoreply", "auto reply", "auto-reply",
	"auto response", "autoresponse", "auto-response",
	"automatische antwort", "abwesenheit", "out of office",
	"out of the office", "away from", "on vacation", "vacation",
	"réponse automatique", "respuesta automática", "risposta automatica",
	"resposta automática", "automatisch antwoord", "autosvar",
	"automaattinen vastaus", "odpowiedź automatyczna",
	"automatická odpověď", "автоматический ответ", "自動応答", "自動返信",
	"自动回复", "自動回覆", "away until", "i am away", "i'm away",
	"urlaub", "congés", "abwesend", "fuori sede", "frånvaro", "afwezig",
	NULL,
};

static const char *const challenge_subjects[] = {
	"please confirm your", "confirm your message", "verify your email",
	"verify your e-mail", "verification required", "sender verification",
	"challenge", "spam protection", "anti-spam", "antispam",
	"awaiting your confirmation", "requires confirmation",
	"confirm that you", "prove you are", "are you human",
	"boxtrapper", "spamarrest", "mailblocks", NULL,
};

static gboolean
lower_has(const char *s, const char *const *phrases, size_t max)
{
	char *cut = g_utf8_make_valid(s, MIN(strlen(s), max));
	/* Lower case beyond ASCII: "Автоматический ответ". */
	char *lower = g_utf8_strdown(cut, -1);
	gboolean has = bounce_has_phrase(lower, phrases);

	g_free(cut);
	g_free(lower);
	return has;
}

static gboolean
daemon_sender(struct bounce_msg *m)
{
	return bounce_is_daemon(m->from) ||
	       lower_has(m->from_text, daemon_names, 256) ||
	       message_header(m->msg, "X-Failed-Recipients") != NULL;
}

/* RFC 3834's header, and the older ones of vacation programs. */
static gboolean
autoreply_headers(GMimeMessage *msg)
{
	const char *v;

	if ((v = message_header(msg, "Auto-Submitted")) != NULL &&
	    g_ascii_strncasecmp(v, "no", 2) != 0)
		return TRUE;
	if (message_header(msg, "X-Autoreply") != NULL ||
	    message_header(msg, "X-Autorespond") != NULL ||
	    message_header(msg, "X-Autoresponder") != NULL ||
	    message_header(msg, "X-Vacation") != NULL)
		return TRUE;
	v = message_header(msg, "Precedence");
	if (v == NULL)
		v = message_header(msg, "X-Precedence");
	return v != NULL && g_ascii_strncasecmp(v, "auto_reply", 10) == 0;
}

enum bounce_kind
bounce_autoreply_kind(struct bounce_msg *m)
{
	gboolean reply_subject = lower_has(m->subject, autoreply_subjects, 256);

	if (message_header(m->msg, "X-Failed-Recipients") != NULL)
		return BOUNCE_KIND_NONE;
	if (lower_has(m->subject, challenge_subjects, 256) ||
	    message_header(m->msg, "X-Boxtrapper") != NULL)
		return BOUNCE_KIND_CHALLENGE;
	if (daemon_sender(m) || m->report)
		return BOUNCE_KIND_NONE;
	if (reply_subject)
		return BOUNCE_KIND_AUTOREPLY;
	if (autoreply_headers(m->msg) &&
	    !lower_has(m->subject, bounce_subjects, 256))
		return BOUNCE_KIND_AUTOREPLY;
	return BOUNCE_KIND_NONE;
}

gboolean
bounce_looks_like_report(struct bounce_msg *m)
{
	const char *rp;

	if (m->report || m->dsn->len > 0 || m->arf->len > 0 || daemon_sender(m))
		return TRUE;
	if (lower_has(m->subject, bounce_subjects, 256))
		return TRUE;
	rp = message_header(m->msg, "Return-Path");
	if (rp != NULL && strstr(rp, "<>") != NULL)
		return TRUE;
	if (lower_has(m->notice, report_openings, 4096))
		return TRUE;
	return lower_has(m->subject, weak_subjects, 256) &&
	       lower_has(m->notice, report_phrases, 4096);
}
