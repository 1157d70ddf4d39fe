/*
 * cut.c - where a bounce's notice ends and the returned message starts,
 * and whether the notice reports a delay or a final failure.
 *
 * The returned message is somebody's mail: its addresses are the
 * sender's correspondents and its words anybody's, so the text formats
 * read the notice only up to it.  It starts at a line that says so ("---
 * Below this line is a copy of the message.", "----- Original message
 * -----", in the words of each MTA), or failing that at a block of header
 * lines, which is recognised only if it has one of the headers a notice
 * never writes (Received, Message-ID, MIME-Version, X-...): notices sum the
 * message up in "To:", "Subject:", "Date:" lines of their own.  A bounce
 * that a person forwarded starts with the bounce's own header block after
 * "Begin forwarded message:": that block is read past.
 *
 * A delay warning says it is one ("THIS IS A WARNING MESSAGE ONLY", "will
 * keep trying", "Delivery attempts will continue"), sometimes beside words
 * of a final failure ("had fatal errors"): the sure words outweigh those,
 * the vaguer ones do not.
 */
#include "bounce/bounce-private.h"

#include <string.h>

/* Lines where the returned message starts. */
static const char *const cut_markers[] = {
	"original message follows", "below this line is a copy of the message",
	"copy of the message", "copy of the original message",
	"unsent message follows", "returned message follows",
	"message headers follow", "headers of the original message",
	"header of the original message", "original message headers",
	"the body of the message", "original message -----",
	"----- original message", "-----original message-----",
	"original message is attached", "message text follows",
	"headers of your message", "header of your message",
	"your message reads", "undelivered message follows",
	"the original message headers", "original headers follow",
	"------ original message", "original message:", NULL,
};

/* Header names of the returned message's header block.  A block of
 * header lines is the returned message only if it holds one of the first
 * group: a notice may sum the message up in "To:", "Subject:", "Date:"
 * lines of its own. */
static const char *const header_names[] = {
	"received", "return-path", "dkim-signature", "message-id",
	"mime-version", "content-type", "content-transfer-encoding",
	"authentication-results", "delivered-to", "references",
	"in-reply-to", "arc-seal", "arc-message-signature",
	"arc-authentication-results", "domainkey-signature", "x-",
	"",
	"reply-to", "from", "to", "subject", "date", "sender", "cc",
	"user-agent", "thread-topic", "thread-index", "importance", NULL,
};

/* 0: not a header line; 1: one of the second group; 2: of the first. */
static int
header_line(const char *l, size_t len)
{
	size_t n = 0;
	int rank = 2;

	while (n < len && n < 64 && (g_ascii_isalnum(l[n]) || l[n] == '-'))
		n++;
	if (n == 0 || n >= len || l[n] != ':')
		return 0;
	if (n > 2 && g_ascii_strncasecmp(l, "x-", 2) == 0)
		return 2;
	for (const char *const *h = header_names; *h != NULL; h++) {
		if (**h == '\0')
			rank = 1;
		else if (strlen(*h) == n && g_ascii_strncasecmp(l, *h, n) == 0)
			return rank;
	}
	return 0;
}


/* Whether a header block starts at i: at least two header lines in a row
 * (continuations between them allowed), one of the first group among
 * its first twelve lines.  Not when a forwarding line comes just before:
 * that block is the forwarded bounce's own header. */
static gboolean
header_block_at(const char *t, size_t len, size_t i, const char *prev)
{
	int lines = 0, best = 0, r;

	if (header_line(t + i, bounce_line_end(t, len, i) - i) == 0)
		return FALSE;
	if (prev != NULL && (strstr(prev, "forwarded message") != NULL ||
			     strstr(prev, "begin forwarded") != NULL))
		return FALSE;
	for (size_t j = i; j < len && lines < 12; j = bounce_line_end(t, len, j) + 1) {
		if (t[j] == ' ' || t[j] == '\t')
			continue;
		if ((r = header_line(t + j, bounce_line_end(t, len, j) - j)) == 0)
			break;
		lines++;
		best = MAX(best, r);
	}
	return lines >= 2 && best == 2;
}

size_t
bounce_text_cut(const char *t, size_t len)
{
	char *prev = NULL;
	size_t i = 0, cut = len;

	while (i < len) {
		size_t e = bounce_line_end(t, len, i);
		char *lower = bounce_lower(t + i, e - i, LINE_MAX_SCAN);

		if (bounce_has_phrase(lower, cut_markers) ||
		    header_block_at(t, len, i, prev)) {
			g_free(lower);
			cut = i;
			break;
		}
		/* A forwarded bounce's own header block: read on after it. */
		if (prev != NULL && header_line(t + i, e - i) != 0 &&
		    (strstr(prev, "forwarded message") != NULL ||
		     strstr(prev, "begin forwarded") != NULL)) {
			while (e < len && e + 1 < len && t[e + 1] != '\n')
				e = bounce_line_end(t, len, e + 1);
		}
		if (*g_strstrip(lower) != '\0') {
			g_free(prev);
			prev = lower;
		} else {
			g_free(lower);
		}
		i = e + 1;
	}
	g_free(prev);
	return cut;
}

/* A delay warning says so; some say it beside words of a final failure
 * ("The following addresses had fatal errors ... THIS IS A WARNING
 * MESSAGE ONLY"), so the first list outweighs them. */
static const char *const delay_sure[] = {
	"warning message only", "do not need to resend",
	"no action is required on your part", "will be retried for",
	"will keep trying until", "delivery attempts will continue",
	"will continue to try", NULL,
};

static const char *const delay_phrases[] = {
	"will retry", "will keep trying", "will be retried", "still trying",
	"not yet been delivered", "has not been delivered yet",
	"has been delayed", "is delayed", "delay notification", "was delayed",
	"delivery delayed", "will try again", "temporarily deferred",
	"warning: message", "still undelivered", "not yet delivered", NULL,
};

static const char *const final_phrases[] = {
	"permanent", "given up", "giving up", "gave up", "fatal",
	"will not be retried", "not going to try again", NULL,
};

void
bounce_text_tone(struct bounce_msg *m, const char *text, size_t len,
		 int *final_r, int *perm_hint_r)
{
	char *subject = bounce_fold_lower(m->subject, strlen(m->subject), 512);
	char *lower = bounce_fold_lower(text, len, 16384);
	gboolean fin = bounce_has_phrase(lower, final_phrases);
	static const char *const delay_subjects[] = {
		"delay", "warning", "still being", "not yet", NULL,
	};

	*final_r = 1;
	if (bounce_has_phrase(lower, delay_sure))
		*final_r = 0;
	else if (bounce_has_phrase(subject, delay_subjects) &&
		 strstr(subject, "fail") == NULL && !fin)
		*final_r = 0;
	else if (bounce_has_phrase(lower, delay_phrases) && !fin)
		*final_r = 0;
	*perm_hint_r = -1;
	if (strstr(lower, "permanent") != NULL)
		*perm_hint_r = 1;
	else if (strstr(lower, "temporary") != NULL ||
		 strstr(lower, "temporarily") != NULL ||
		 strstr(lower, "transient") != NULL)
		*perm_hint_r = 0;
	g_free(subject);
	g_free(lower);
}

