/*
 * bounce-private.h - what the bounce detectors share, and nobody else
 * uses: the message read once into the pieces every detector looks at
 * (notice.c), the evidence about one recipient and its classification
 * (classify.c), the report being built (detect.c), and the detectors.
 *
 * Every detector gets the same struct bounce_msg so that the MIME tree is
 * walked, and the texts decoded and cut, once per message whatever the
 * number of formats tried.
 */
#ifndef HERALD_BOUNCE_PRIVATE_H
#define HERALD_BOUNCE_PRIVATE_H

#include <glib.h>
#include <gmime/gmime.h>
#include <string.h>

#include "bounce/detect.h"

/* Bounds that keep hostile input cheap.  A part's text beyond
 * NOTICE_MAX bytes is not read (a notice is a few KB; the rest would be a
 * returned message); a line is matched on its first LINE_MAX bytes only;
 * MIME is walked to PART_DEPTH_MAX levels and PARTS_MAX parts. */
#define NOTICE_MAX (256 * 1024)
#define LINE_MAX_SCAN 1024
#define PART_DEPTH_MAX 12
#define PARTS_MAX 200
#define REPORT_MAX (32 * 1024 * 1024)
#define FAILURES_MAX 100000

/* One machine-readable report part: its content, decoded. */
struct bounce_part {
	char *text;		/* NUL-free, LF line ends */
	gboolean global;	/* RFC 6533: message/global-delivery-status */
};

/* The message as the detectors see it (notice.c). */
struct bounce_msg {
	GMimeMessage *msg;
	char *subject;		/* decoded, "" when none */
	char *from;		/* From's address key, or NULL */
	char *from_text;	/* From decoded ("Mail Delivery System
				 * <MAILER-DAEMON@...>"), "" when none */
	char *to;		/* To's address key (the bounce's recipient:
				 * whoever sent the original), or NULL */
	char *envelope;		/* the envelope recipient's key, or NULL */
	GPtrArray *dsn;		/* struct bounce_part *: delivery-status parts */
	GPtrArray *arf;		/* struct bounce_part *: feedback-report parts */
	char *notice;		/* the human-readable text: text/plain parts
				 * (text/html when there is none) before the
				 * returned message, UTF-8, LF, one "> "
				 * quoting level removed from a forwarded
				 * bounce; "" when none */
	GMimeMessage *original;	/* the returned message (message/rfc822),
				 * borrowed, or NULL */
	char *original_headers;	/* text/rfc822-headers, or NULL */
	gboolean report;	/* multipart/report */
	struct bounce_text_index *text_index;	/* text.c's, built on first
						 * use */
};

struct bounce_msg *bounce_msg_read(GMimeMessage *msg, const char *envelope);
void bounce_msg_free(struct bounce_msg **m);

/* The first address of a header value (From, To), or NULL; only_one: NULL
 * unless it holds exactly one.  lenient: a value address.c refuses still
 * gives its first thing that looks like an address. */
char *bounce_first_address(const char *value, gboolean only_one,
			   gboolean lenient);

/* Whether a looks like an address of a mail system, not of a person:
 * MAILER-DAEMON, postmaster and their kin. */
gboolean bounce_is_daemon(const char *addr_key);

/* What is known about one failed recipient (classify.c). */
struct bounce_evidence {
	int final;		/* 1: given up, 0: still trying (a delay
				 * warning), -1: not said */
	int perm_hint;		/* 1: the notice says permanent, 0: it says
				 * temporary, -1: not said */
	const char *status;	/* RFC 3463 status field, or NULL */
	const char *diag;	/* the diagnostic: the remote server's reply
				 * or the notice's words for this recipient,
				 * or NULL */
	const char *context;	/* more text to look at when diag says
				 * nothing (the whole notice), or NULL */
};

/* The reason, permanence, status and reply code of one failure. */
void bounce_classify(const struct bounce_evidence *ev,
		     struct bounce_failure *f);

/* The first RFC 3463 status (class.subject.detail, class 2, 4 or 5) in
 * text[0..len), copied to out (at least 16 bytes); FALSE if none. */
gboolean bounce_find_status(const char *text, size_t len, char *out);
/* The first SMTP reply code (a 2xx, 4xx or 5xx number followed by a space,
 * a dash or the end) in text[0..len), 0 if none. */
int bounce_find_reply(const char *text, size_t len);
/* Whether lower-cased text holds one of the phrases (NULL-terminated). */
gboolean bounce_has_phrase(const char *lower, const char *const *phrases);

/* The report being built (detect.c). */
struct bounce_report *bounce_report_new(void);
/* Adds a failure of raw address text (normalised here; an invalid or
 * excluded address is dropped: FALSE) classified from ev.  An address
 * already in the report is merged: the permanent, more specific finding
 * wins. */
gboolean bounce_report_add(struct bounce_report *r, struct bounce_msg *m,
			   const char *raw_addr, const char *original,
			   const struct bounce_evidence *ev);
/* Whether the address is one that never names a failed recipient in this
 * message: the envelope recipient (the bounce came to it), a list's
 * -bounces address (the returned message's sender). */
gboolean bounce_addr_excluded(struct bounce_msg *m, const char *key);

/* The detectors.  Each returns the number of failures it added to r
 * (it may also set r->kind: success, delay, complaint); 0 when it did
 * not recognise the message. */
int bounce_dsn_detect(struct bounce_msg *m, struct bounce_report *r);
int bounce_dsn_detect_inline(struct bounce_msg *m, struct bounce_report *r);
int bounce_arf_detect(struct bounce_msg *m, struct bounce_report *r);
int bounce_text_detect(struct bounce_msg *m, struct bounce_report *r);
int bounce_ses_detect(struct bounce_msg *m, struct bounce_report *r);
int bounce_original_detect(struct bounce_msg *m, struct bounce_report *r);

/* Auto-replies and challenge-response (autoreply.c): the kind when m is
 * one of those, else BOUNCE_KIND_NONE.  Checked before the text formats,
 * which could otherwise read an address in a vacation message. */
enum bounce_kind bounce_autoreply_kind(struct bounce_msg *m);
/* Whether m has the look of a delivery report at all: a mail system's
 * sender, a bounce's subject, X-Failed-Recipients, a report MIME type.
 * The text formats read nothing else. */
gboolean bounce_looks_like_report(struct bounce_msg *m);

/* Where the returned message starts in the notice (its length if it
 * does not): a "copy of the message follows" line, or a block of
 * header lines. */
size_t bounce_text_cut(const char *text, size_t len);
/* Finality and permanence the notice and subject state (cut.c). */
void bounce_text_tone(struct bounce_msg *m, const char *text, size_t len,
		      int *final_r, int *perm_hint_r);

/* The notice's text about addr (from its recipient line to the next
 * one), or NULL when no line names it.  For a DSN whose record says
 * little. */
char *bounce_text_block_for(struct bounce_msg *m, const char *addr);
void bounce_text_index_free(struct bounce_text_index **ti);

/* Where the line at i of t[0..len) ends (its '\n', or len). */
static inline size_t
bounce_line_end(const char *t, size_t len, size_t i)
{
	const char *nl = memchr(t + i, '\n', len - i);

	return nl != NULL ? (size_t)(nl - t) : len;
}

/* Lower-cased copy of at most max bytes of s (ASCII case only). */
char *bounce_lower(const char *s, size_t len, size_t max);
/* The same with each run of white space (line ends too) made one space:
 * for phrases that a reply folded across lines. */
char *bounce_fold_lower(const char *s, size_t len, size_t max);

/* --- processing (process.c, disabled.c) ------------------------------- */

/* The warning to a member disabled by bounces (process.h), with how many
 * more will come before removal: a notice from the list.  As
 * notice_send. */
struct list;
struct notice_from;
/* Renders template name for member addr (language "" or NULL: the list's)
 * with vars (plus address, email, optionsurl) and sends it, from (NULL:
 * LIST-owner) or with the envelope sender (NULL: LIST-bounces). */
int bounce_send_template(struct list *l, const char *addr, const char *language,
			 const char *name, GHashTable *vars,
			 const struct notice_from *from, const char *sender,
			 GMimeMessage *attach, GError **error);
int bounce_send_warning(struct list *l, const char *addr, const char *language,
			const char *reason, int notices_left, GError **error);

/* VERP probes (probe.c): sends one to member addr of l (as notice_send);
 * and splits a probe's bounce address into the member's plain VERP
 * address and the token (TRUE), or says it is none (FALSE). */
int bounce_send_probe(struct list *l, const char *addr, const char *language,
		      GMimeMessage *sample, GError **error);
gboolean bounce_probe_split(const char *rcpt, char **verp_r, char **token_r);

#endif
