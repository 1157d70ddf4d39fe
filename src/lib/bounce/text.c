/*
 * text.c - bounces that are prose: the formats of MTAs and providers that
 * do not write RFC 3464 (qmail, Exim, old Postfix and Sendmail, Exchange,
 * Lotus Notes, many providers' own), recognised by the shape of their
 * lines, never by a particular message.
 *
 * Nearly all of them, whatever the words around, name each failed
 * recipient in one of a few line shapes, and follow it with the reason:
 *
 *   lead      the line starts with the address (bare, <bracketed>,
 *             "quoted"), maybe followed by ':' and the reason: qmail's
 *             "<a@b>:", Postfix's "<a@b>: host x said: 550 ...", Exim's
 *             indented address, Exchange's "a@b on <date>",
 *             OpenSMTPD's "a@b: 550 ..."
 *   reply     an SMTP reply that starts with the address:
 *             Sendmail's "550 5.1.1 <a@b>... User unknown"
 *   rcpt      the command that failed: "RCPT TO:<a@b>"
 *   label     "Recipient: a@b", "Unknown user: a@b", "Original-Recipient:"
 *             and their translations
 *   sentence  an address after "to"/"for"/"recipient" in a line that says
 *             delivery failed: "There was an error delivering your mail
 *             to <a@b>." (used only when no line of the other shapes is
 *             found: prose names other addresses too)
 *
 * The reason for a recipient is the text from its address to the next
 * recipient's line (bounded), and failing that the whole notice.  The
 * notice is cut first where the returned message starts (cut.c): its
 * addresses are somebody's correspondents, not failed recipients.
 * Addresses that never are failed recipients are dropped: the bounce's
 * own sender, a mail system's (MAILER-DAEMON), a list's -bounces address;
 * the bounce's own recipient (who sent the returned message) counts only
 * on a line shaped as a failure, not where a reply to MAIL FROM quotes it.
 * postmaster@ counts (people write to it, and it can be a member); the
 * boilerplate that names a contact ("please send mail to", "contact")
 * holds no sentence anchor.
 *
 * X-Failed-Recipients (Exim, Google), when present, is the list of failed
 * recipients; the text then only gives each one's reason.
 */
#include "bounce/bounce-private.h"
#include "mail/address.h"
#include "mail/message.h"

#include <string.h>

#define BLOCK_LINES 25
#define BLOCK_BYTES 4000

enum anchor_kind { A_LEAD, A_REPLY, A_RCPT, A_LABEL, A_SENTENCE };

struct anchor {
	size_t line;		/* offset of its line */
	size_t b, e;		/* the address */
	size_t rest;		/* where its reason starts */
	enum anchor_kind kind;
};

static gboolean
local_char(unsigned char c)
{
	return g_ascii_isalnum(c) || (c != 0 && strchr("!#$%&'*+/=?^_`{|}~.-", c));
}

static gboolean
domain_char(unsigned char c)
{
	return g_ascii_isalnum(c) || c == '.' || c == '-';
}

/* The next address in t[from..len): TRUE with it in [*b, *e).  Linear:
 * each '@' is looked around once, and not farther than an address can
 * reach. */
static gboolean
next_address(const char *t, size_t len, size_t from, size_t *b, size_t *e)
{
	const char *at;

	while (from < len && (at = memchr(t + from, '@', len - from)) != NULL) {
		size_t i = at - t, lb = i, re = i + 1;

		if (lb > 1 && t[lb - 1] == '"') {
			size_t k = lb - 2;

			while (k > 0 && i - k < 66 && t[k] != '"' && t[k] != '\n')
				k--;
			lb = t[k] == '"' ? k : i;
		} else {
			while (lb > 0 && i - lb < 64 && local_char(t[lb - 1]))
				lb--;
		}
		while (re < len && re - i < 255 && domain_char(t[re]))
			re++;
		while (lb < i && t[lb] == '.')
			lb++;
		while (re > i + 1 && (t[re - 1] == '.' || t[re - 1] == '-'))
			re--;
		if (lb < i && re > i + 1 && memchr(t + i + 1, '.', re - i - 1)) {
			*b = lb;
			*e = re;
			return TRUE;
		}
		from = i + 1;
	}
	return FALSE;
}

/* Words before a ':' that name a recipient ("Recipient:", "Unknown
 * user:", "Destinataire :"), and words that rule a label out. */
static const char *const label_words[] = {
	"recipient", "rcpt", "address", "addressee", "destinat", "user",
	"mailbox", "account", "empf", "adresse", "indirizzo", "direcci",
	"endereço", "宛先", "получател", "адрес", "fail", "unknown",
	"invalid", "undeliver", "reject", "error", NULL,
};
static const char *const label_not[] = {
	"from", "sender", "reply", "reply-to", "contact", "mta", "postmaster",
	"cc", "bcc", "message-id", "return-path", "errors-to", "delivered-to",
	"envelope", "mail", NULL,
};

/* Whether lower holds one of words as a whole word. */
static gboolean
has_word(const char *lower, const char *const *words)
{
	for (const char *const *w = words; *w != NULL; w++) {
		size_t n = strlen(*w);

		for (const char *p = strstr(lower, *w); p != NULL;
		     p = strstr(p + 1, *w))
			if ((p == lower || !g_ascii_isalnum(p[-1])) &&
			    !g_ascii_isalnum(p[n]) && p[n] != '-')
				return TRUE;
	}
	return FALSE;
}

/* Words that make a line say delivery failed, for sentence anchors, and
 * words of the boilerplate that name addresses to write to. */
static const char *const failure_words[] = {
	"deliver", "fail", "reject", "refus", "unable", "could not",
	"couldn't", "cannot", "can't", "error", "bounce", "return",
	"not reach", "problem", "undeliver", "unknown", "invalid",
	"does not exist", "permanent", NULL,
};
static const char *const boilerplate_words[] = {
	"contact", "assistance", "questions", "help", "postmaster",
	"administrator", "please send", NULL,
};

/* Whether line [ls, le) can hold sentence anchors: it says delivery
 * failed, and is not the boilerplate that names addresses to write to
 * (whose words are looked for outside addresses: "postmaster@..." is no
 * boilerplate).  Its lower-cased text in *lower_r. */
static gboolean
sentence_line(const char *t, size_t ls, size_t le, char **lower_r)
{
	char *lower = bounce_lower(t + ls, le - ls, LINE_MAX_SCAN);
	char *words = g_strdup(lower);
	size_t ab, ae;
	gboolean ok;

	for (size_t q = 0; next_address(words, strlen(words), q, &ab, &ae); q = ae)
		memset(words + ab, ' ', ae - ab);
	ok = bounce_has_phrase(lower, failure_words) &&
	     !bounce_has_phrase(words, boilerplate_words);
	g_free(words);
	if (!ok) {
		g_free(lower);
		return FALSE;
	}
	*lower_r = lower;
	return TRUE;
}

/* Whether the address at offset k of a sentence line (lower-cased) has
 * "to", "for", "recipient" ... just before it. */
static gboolean
sentence_anchor(const char *lower, size_t k)
{
	static const char *const before[] = {
		"to", "for", "recipient", "recipients", "address", "user",
		"mailbox", "destinataire", "an", "à", NULL,
	};
	size_t w;

	while (k > 0 && strchr(" \t<\"'(:", lower[k - 1]) != NULL)
		k--;
	w = k;
	while (w > 0 && !g_ascii_isspace(lower[w - 1]))
		w--;
	for (const char *const *p = before; *p != NULL; p++)
		if (k - w == strlen(*p) && strncmp(lower + w, *p, k - w) == 0)
			return TRUE;
	return FALSE;
}

/* A "label:" shape: the label's words before ':' name a recipient. */
static gboolean
label_before(const char *t, size_t p, size_t colon)
{
	char *lower;
	gboolean ok;

	if (colon - p > 80 || colon == p || memchr(t + p, '@', colon - p))
		return FALSE;
	lower = bounce_lower(t + p, colon - p, 96);
	ok = bounce_has_phrase(lower, label_words) && !has_word(lower, label_not);
	g_free(lower);
	return ok;
}

/* Skips bullets, brackets and quotes before an address. */
static size_t
skip_lead(const char *t, size_t i, size_t le)
{
	while (i < le && strchr(" \t*->•·", t[i]) != NULL)
		i++;
	if (i + 1 < le && (unsigned char)t[i] == 0xe2)
		i += 3;		/* a UTF-8 bullet */
	while (i < le && strchr("<\"'([", t[i]) != NULL)
		i++;
	return i;
}

/* An address type before an address ("rfc822;", "SMTP:", "mailto:"):
 * skipped. */
static size_t
skip_type(const char *t, size_t i, size_t le)
{
	size_t j = i;

	while (j < le && j - i <= 8 && (g_ascii_isalnum(t[j]) || t[j] == '-'))
		j++;
	if (j > i && j < le && j - i <= 8 && (t[j] == ':' || t[j] == ';') &&
	    memchr(t + i, '@', j - i) == NULL)
		return j + 1;
	return i;
}

/* The anchor of line [ls, le), if it has one. */
static gboolean
line_anchor(const char *t, size_t ls, size_t le, struct anchor *a)
{
	size_t lim = MIN(le, ls + LINE_MAX_SCAN), p = skip_lead(t, ls, lim);
	size_t b, e, q;
	char *lower;

	a->line = ls;
	if (next_address(t, lim, p, &b, &e) && b == p) {
		char *rest = bounce_lower(t + e, lim - e, 32);
		gboolean wrote = strstr(rest, "wrote") != NULL;
		size_t b2, e2;

		g_free(rest);
		/* "a@b <c@d>": a name that looks like an address; the
		 * address is the bracketed one. */
		q = e;
		while (q < lim && (t[q] == ' ' || t[q] == '"' || t[q] == '>'))
			q++;
		if (q < lim && t[q] == '<' && next_address(t, lim, q + 1, &b2, &e2) &&
		    b2 == q + 1) {
			b = b2;
			e = e2;
		}
		if (!wrote) {
			a->kind = A_LEAD;
			goto found;
		}
	}
	/* "550 5.1.1 <a@b>..." and "<<< 550 ...": a reply naming it. */
	q = p;
	if (q + 4 < lim && (t[q] == '4' || t[q] == '5') &&
	    g_ascii_isdigit(t[q + 1]) && g_ascii_isdigit(t[q + 2]) &&
	    (t[q + 3] == ' ' || t[q + 3] == '-')) {
		q += 4;
		while (q < lim && (g_ascii_isdigit(t[q]) || t[q] == '.'))
			q++;
		while (q < lim && (t[q] == ' ' || t[q] == '<'))
			q++;
		if (next_address(t, lim, q, &b, &e) && b == q && q > 0 &&
		    t[q - 1] == '<') {
			a->kind = A_REPLY;
			goto found;
		}
	}
	/* "RCPT TO:<a@b>" anywhere in the line. */
	for (q = ls; q + 8 < lim; q++) {
		if (g_ascii_strncasecmp(t + q, "rcpt to:", 8) != 0)
			continue;
		q += 8;
		while (q < lim && (t[q] == ' ' || t[q] == '<'))
			q++;
		if (next_address(t, lim, q, &b, &e) && b == q) {
			a->kind = A_RCPT;
			goto found;
		}
		break;
	}
	/* "Label: a@b" */
	for (q = p; q < lim && q - p <= 80 && t[q] != ':'; q++)
		;
	if (q < lim && t[q] == ':' && label_before(t, p, q)) {
		size_t r = q + 1;

		r = skip_lead(t, r, lim);
		r = skip_type(t, r, lim);
		r = skip_lead(t, r, lim);
		if (next_address(t, lim, r, &b, &e) && b == r) {
			a->kind = A_LABEL;
			goto found;
		}
	}
	/* An address after "to"/"for"/... in a failure's sentence. */
	if (sentence_line(t, ls, lim, &lower)) {
		for (q = ls; next_address(t, lim, q, &b, &e); q = e)
			if (sentence_anchor(lower, b - ls)) {
				g_free(lower);
				a->kind = A_SENTENCE;
				goto found;
			}
		g_free(lower);
	}
	return FALSE;
found:
	a->b = b;
	a->e = e;
	a->rest = e;
	while (a->rest < le && strchr(">\"')]", t[a->rest]) != NULL)
		a->rest++;
	/* A reply's code and a label's words before the address are its
	 * reason too ("550 5.1.1 <a@b>... ", "Unknown user: a@b"). */
	if (a->kind == A_REPLY || a->kind == A_LABEL)
		a->rest = ls;
	return TRUE;
}

static GArray *
find_anchors(const char *t, size_t len)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(struct anchor));

	for (size_t i = 0; i < len && out->len < FAILURES_MAX;) {
		size_t e = bounce_line_end(t, len, i);
		struct anchor a;

		if (memchr(t + i, '@', e - i) != NULL && line_anchor(t, i, e, &a))
			g_array_append_val(out, a);
		i = e + 1;
	}
	return out;
}

/* The reason text of anchor k: from its address to the next anchor's
 * line, at most BLOCK_LINES lines and BLOCK_BYTES bytes. */
static char *
block_text(const char *t, size_t len, GArray *anchors, guint k)
{
	const struct anchor *a = &g_array_index(anchors, struct anchor, k);
	size_t end = k + 1 < anchors->len ?
		g_array_index(anchors, struct anchor, k + 1).line : len;
	size_t p = a->rest;
	int lines = 0;

	if (end < p)
		end = p;
	for (size_t i = p; i < end; i++)
		if (t[i] == '\n' && ++lines >= BLOCK_LINES) {
			end = i;
			break;
		}
	if (end - p > BLOCK_BYTES)
		end = p + BLOCK_BYTES;
	return g_strndup(t + p, end - p);
}

/* A mail system's own address, never a mailbox that failed (postmaster
 * may be: it is a mailbox people write to). */
static gboolean
machine_address(const char *key)
{
	static const char *const locals[] = {
		"mailer-daemon@", "mailer_daemon@", "maildaemon@",
		"mail-daemon@", "mailerdaemon@", "double-bounce@",
		"mdaemon@", NULL,
	};

	for (const char *const *l = locals; *l != NULL; l++)
		if (g_str_has_prefix(key, *l))
			return TRUE;
	return FALSE;
}

/* Whether an anchor's address is one a report names as a failure.  The
 * bounce's own recipient (the returned message's sender) is named in
 * replies to MAIL FROM and in prose; a line that starts with it is
 * still a failure (one may write to oneself). */
static gboolean
usable(struct bounce_msg *m, const char *t, const struct anchor *a)
{
	char *spec = g_strndup(t + a->b, a->e - a->b);
	char *key = address_key(spec);
	gboolean lead = a->kind == A_LEAD || a->kind == A_LABEL;
	gboolean ok = key != NULL && !machine_address(key) &&
		!(m->from != NULL && strcmp(key, m->from) == 0) &&
		!bounce_addr_excluded(m, key) &&
		(lead || m->to == NULL || strcmp(key, m->to) != 0);

	g_free(spec);
	g_free(key);
	return ok;
}

/* Anchors of the best shape present: lines shaped like recipients, else
 * sentences. */
static GArray *
select_anchors(struct bounce_msg *m, const char *t, GArray *all)
{
	GArray *strong = g_array_new(FALSE, FALSE, sizeof(struct anchor));
	GArray *weak = g_array_new(FALSE, FALSE, sizeof(struct anchor));

	for (guint i = 0; i < all->len; i++) {
		struct anchor *a = &g_array_index(all, struct anchor, i);

		if (!usable(m, t, a))
			continue;
		g_array_append_val(a->kind == A_SENTENCE ? weak : strong, *a);
	}
	if (strong->len > 0) {
		g_array_unref(weak);
		return strong;
	}
	g_array_unref(strong);
	return weak;
}

static int
add_anchor(struct bounce_msg *m, struct bounce_report *r, const char *t,
	   size_t len, GArray *anchors, guint k, struct bounce_evidence *ev)
{
	const struct anchor *a = &g_array_index(anchors, struct anchor, k);
	char *addr = g_strndup(t + a->b, a->e - a->b);
	char *block = block_text(t, len, anchors, k);
	int added;

	ev->diag = block;
	added = bounce_report_add(r, m, addr, NULL, ev) ? 1 : 0;
	g_free(addr);
	g_free(block);
	return added;
}

/* The notice's recipient lines by address key, for a DSN's records: built
 * once per message, so that a report of thousands of recipients is read
 * in linear time. */
struct bounce_text_index {
	size_t len;		/* the notice's length before the cut */
	GArray *anchors;
	GHashTable *first;	/* address key -> index + 1 of its first anchor */
};

void
bounce_text_index_free(struct bounce_text_index **tip)
{
	struct bounce_text_index *ti = *tip;

	if (ti == NULL)
		return;
	*tip = NULL;
	g_array_unref(ti->anchors);
	g_hash_table_unref(ti->first);
	g_free(ti);
}

static struct bounce_text_index *
text_index(struct bounce_msg *m)
{
	struct bounce_text_index *ti = m->text_index;

	if (ti != NULL)
		return ti;
	ti = g_new0(struct bounce_text_index, 1);
	ti->len = bounce_text_cut(m->notice, strlen(m->notice));
	ti->anchors = find_anchors(m->notice, ti->len);
	ti->first = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint k = 0; k < ti->anchors->len; k++) {
		const struct anchor *a = &g_array_index(ti->anchors, struct anchor, k);
		char *spec = g_strndup(m->notice + a->b, a->e - a->b);
		char *key = address_key(spec);

		if (key != NULL && !g_hash_table_contains(ti->first, key))
			g_hash_table_insert(ti->first, key, GUINT_TO_POINTER(k + 1));
		else
			g_free(key);
		g_free(spec);
	}
	m->text_index = ti;
	return ti;
}

char *
bounce_text_block_for(struct bounce_msg *m, const char *addr)
{
	struct bounce_text_index *ti = text_index(m);
	char *key = address_key(addr);
	guint k = key != NULL ? GPOINTER_TO_UINT(g_hash_table_lookup(ti->first,
								     key)) : 0;

	g_free(key);
	if (k == 0)
		return NULL;
	return block_text(m->notice, ti->len, ti->anchors, k - 1);
}

/* X-Failed-Recipients names the failures; the anchors give reasons. */
static int
add_listed(struct bounce_msg *m, struct bounce_report *r, const char *t,
	   size_t len, GArray *anchors, const char *listed,
	   struct bounce_evidence *ev)
{
	char **addrs = g_strsplit_set(listed, ", \t", -1);
	int added = 0;

	for (char **p = addrs; *p != NULL && added < FAILURES_MAX; p++) {
		gboolean done = FALSE;

		if (**p == '\0')
			continue;
		for (guint k = 0; k < anchors->len && !done; k++) {
			const struct anchor *a = &g_array_index(anchors,
								struct anchor, k);
			char *spec = g_strndup(t + a->b, a->e - a->b);

			if (address_equal(spec, *p) &&
			    add_anchor(m, r, t, len, anchors, k, ev) > 0) {
				done = TRUE;
				added++;
			}
			g_free(spec);
		}
		if (!done) {
			ev->diag = NULL;
			if (bounce_report_add(r, m, *p, NULL, ev))
				added++;
		}
	}
	g_strfreev(addrs);
	return added;
}

/* The anchors whose address X-Failed-Recipients lists.  When it lists
 * none of theirs, the text's recipient lines still count unless they only
 * name the bounce's own recipient (a greeting: "kijitora@example.jp 様").
 * Empty: the list names the failures. */
static GArray *
listed_only(struct bounce_msg *m, const char *t, GArray *anchors,
	    const char *listed)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(struct anchor));
	char **addrs = g_strsplit_set(listed, ", \t", -1);

	for (guint k = 0; k < anchors->len; k++) {
		const struct anchor *a = &g_array_index(anchors, struct anchor, k);
		char *spec = g_strndup(t + a->b, a->e - a->b);

		for (char **p = addrs; *p != NULL; p++)
			if (**p != '\0' && address_equal(spec, *p)) {
				g_array_append_val(out, *a);
				break;
			}
		g_free(spec);
	}
	g_strfreev(addrs);
	for (guint k = 0; k < anchors->len && out->len == 0; k++) {
		const struct anchor *a = &g_array_index(anchors, struct anchor, k);
		char *spec = g_strndup(t + a->b, a->e - a->b);
		char *key = address_key(spec);

		if (key != NULL && (m->to == NULL || strcmp(key, m->to) != 0)) {
			g_array_unref(out);
			out = g_array_ref(anchors);
		}
		g_free(key);
		g_free(spec);
	}
	g_array_unref(anchors);
	return out;
}

int
bounce_text_detect(struct bounce_msg *m, struct bounce_report *r)
{
	const char *t = m->notice;
	size_t len = bounce_text_cut(t, strlen(t));
	char *cut = g_strndup(t, len);
	const char *listed = message_header(m->msg, "X-Failed-Recipients");
	GArray *all = find_anchors(cut, len);
	GArray *anchors = select_anchors(m, cut, all);
	struct bounce_evidence ev = { .context = cut };
	int added = 0;

	bounce_text_tone(m, cut, len, &ev.final, &ev.perm_hint);
	/* X-Failed-Recipients lists the failures; the text gives reasons,
	 * and the recipients when there is no such list. */
	if (listed != NULL && anchors->len > 0)
		anchors = listed_only(m, cut, anchors, listed);
	if (listed != NULL && anchors->len == 0)
		added = add_listed(m, r, cut, len, all, listed, &ev);
	for (guint k = 0; k < anchors->len; k++)
		added += add_anchor(m, r, cut, len, anchors, k, &ev);
	if (added > 0) {
		if (r->format == NULL)
			r->format = "text";
		if (ev.final == 0)
			r->kind = BOUNCE_KIND_DELAY;
	}
	g_array_unref(anchors);
	g_array_unref(all);
	g_free(cut);
	return added;
}
