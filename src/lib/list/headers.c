/*
 * headers.c - a list's headers on a message of the list: what the cleanse
 * and cookheaders handlers do to a post (pipeline/pipe_headers.c calls
 * these), and the headers of a personalised copy (headers_personalise).
 *
 * Cleansing removes what must not go out: approval passwords, requests for
 * read receipts (they fish for members' addresses), and on an anonymous
 * list everything that names the poster.  Cooking adds what makes the
 * message a list's: the subject prefix, Reply-To as the list wants it, the
 * RFC 2369/2919 List-* headers, X-BeenThere, Precedence, Sender and
 * Errors-To.  Both follow Mailman 2.1's Cleanse and CookHeaders;
 * docs/headers.md says where herald differs and why.
 *
 * Header values are given to GMime as UTF-8 with charset "utf-8": GMime
 * encodes (RFC 2047) only the words that need it, and folds on output.
 */
#include "list/headers.h"
#include "mail/address.h"
#include "base/base.h"
#include "list/listurls.h"
#include "base/log.h"
#include "mail/message.h"

#include <string.h>

/* --- small helpers --------------------------------------------------------- */

/* LIST and DOMAIN of LIST@DOMAIN. */
struct list_parts {
	const char *fqdn;
	char *local;
	char *domain;
};

static void
list_parts_init(struct list_parts *lp, struct list *l)
{
	const char *at;

	lp->fqdn = list_fqdn(l);
	at = strrchr(lp->fqdn, '@');
	if (at == NULL) {	/* list_name_check makes this impossible */
		lp->local = g_strdup(lp->fqdn);
		lp->domain = g_strdup("");
	} else {
		lp->local = g_strndup(lp->fqdn, (gsize)(at - lp->fqdn));
		lp->domain = g_strdup(at + 1);
	}
}

static void
list_parts_clear(struct list_parts *lp)
{
	g_free(lp->local);
	g_free(lp->domain);
}

static GMimeHeaderList *
headers_of(GMimeMessage *msg)
{
	return g_mime_object_get_header_list(GMIME_OBJECT(msg));
}

/* Replaces every header called name by one with value (UTF-8; GMime
 * encodes what needs it). */
static void
header_put(GMimeMessage *msg, const char *name, const char *value)
{
	message_header_remove_all(msg, name);
	g_mime_header_list_append(headers_of(msg), name, value, "utf-8");
}

/* value as the raw text of a header called name: folded before a space
 * where the next word would pass column 78, never inside a word, every
 * space kept.  GMime's own formatter is not used for these: it RFC
 * 2047-encodes a word too long for a line, which would break the URLs of
 * List-* and put a plain subject in encoded words.  A CR or LF in value
 * becomes a space: it must never start a header line of its own. */
static char *
fold_raw(const char *name, const char *value)
{
	GString *out = g_string_new(" ");
	size_t col = strlen(name) + 2;	/* "Name: " */
	gboolean line_has_word = FALSE;
	char *flat = g_strdelimit(g_strdup(value), "\r\n", ' ');
	const char *c = flat;

	while (*c != '\0') {
		size_t sp = strspn(c, " ");
		size_t n = strcspn(c + sp, " ");

		if (line_has_word && sp > 0 && n > 0 && col + sp + n > 78) {
			g_string_append_c(out, '\n');
			col = 0;
		}
		g_string_append_len(out, c, (gssize)(sp + n));
		col += sp + n;
		line_has_word = line_has_word || n > 0;
		c += sp + n;
	}
	g_string_append_c(out, '\n');
	g_free(flat);
	return g_string_free(out, FALSE);
}

/* Sets a header to an ASCII value written exactly as given, folded by
 * fold_raw.  replace: the first header of that name takes the value where
 * it stands and the others go; otherwise (or when there is none) it is
 * added at the end. */
static void
header_put_raw(GMimeMessage *msg, const char *name, const char *value,
	       gboolean replace)
{
	GMimeHeaderList *hl = headers_of(msg);
	GMimeHeader *h = replace ? g_mime_header_list_get_header(hl, name) : NULL;
	char *raw = fold_raw(name, value);

	if (h == NULL) {
		g_mime_header_list_append(hl, name, "", NULL);
		h = g_mime_header_list_get_header_at(
			hl, g_mime_header_list_get_count(hl) - 1);
	} else {
		for (int i = g_mime_header_list_get_count(hl) - 1; i >= 0; i--) {
			GMimeHeader *o = g_mime_header_list_get_header_at(hl, i);

			if (o != h && g_ascii_strcasecmp(
					g_mime_header_get_name(o), name) == 0)
				g_mime_header_list_remove_at(hl, i);
		}
	}
	g_mime_header_set_raw_value(h, raw);
	g_free(raw);
}

static void
header_remove_names(GMimeMessage *msg, const char *const *names)
{
	for (; *names != NULL; names++)
		message_header_remove_all(msg, *names);
}

static char *
setting(struct list *l, const char *name)
{
	char *v = list_get(l, name, NULL);

	return v != NULL ? g_strstrip(v) : g_strdup("");
}

/* "Name <addr>" (the name RFC 2047-encoded in UTF-8 where it must be), or
 * "addr" when name is empty. */
static char *
mailbox_string(const char *name, const char *addr)
{
	InternetAddress *ia;
	char *s;

	message_init();
	ia = internet_address_mailbox_new(name != NULL && *name != '\0' ? name
					  : NULL, addr);
	internet_address_set_charset(ia, "utf-8");
	s = internet_address_to_string(ia, NULL, TRUE);
	g_object_unref(ia);
	return s;
}

/* An ordered set of mailboxes, compared by address key (any case): the
 * address lists cookheaders builds, as Mailman's add() did. */
struct addr_set {
	InternetAddressList *list;
	GHashTable *seen;
};

static void
addr_set_init(struct addr_set *s)
{
	message_init();
	s->list = internet_address_list_new();
	s->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

static void
addr_set_clear(struct addr_set *s)
{
	g_object_unref(s->list);
	g_hash_table_destroy(s->seen);
}

static void
addr_set_add(struct addr_set *s, const char *name, const char *addr)
{
	char *key;
	InternetAddress *ia;

	if (addr == NULL || *addr == '\0')
		return;
	key = address_key(addr);
	if (key == NULL)	/* not valid, but the poster wrote it */
		key = g_ascii_strdown(addr, -1);
	if (!g_hash_table_add(s->seen, key))
		return;
	ia = internet_address_mailbox_new(name != NULL && *name != '\0' ? name
					  : NULL, addr);
	internet_address_set_charset(ia, "utf-8");
	internet_address_list_add(s->list, ia);
	g_object_unref(ia);
}

/* Every mailbox of al (group members included, as Python's getaddresses
 * gave them to Mailman). */
static void
addr_set_add_list(struct addr_set *s, InternetAddressList *al)
{
	for (int i = 0; i < internet_address_list_length(al); i++) {
		InternetAddress *ia = internet_address_list_get_address(al, i);

		if (INTERNET_ADDRESS_IS_GROUP(ia))
			addr_set_add_list(s, internet_address_group_get_members(
						     INTERNET_ADDRESS_GROUP(ia)));
		else if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			addr_set_add(s, internet_address_get_name(ia),
				     internet_address_mailbox_get_addr(
					     INTERNET_ADDRESS_MAILBOX(ia)));
	}
}

/* The mailboxes of every header called name. */
static void
addr_set_add_headers(struct addr_set *s, GMimeMessage *msg, const char *name)
{
	GMimeHeaderList *hl = headers_of(msg);

	for (int i = 0; i < g_mime_header_list_get_count(hl); i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		InternetAddressList *al;

		if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) != 0)
			continue;
		al = internet_address_list_parse(NULL,
						 g_mime_header_get_raw_value(h));
		if (al == NULL)
			continue;
		addr_set_add_list(s, al);
		g_object_unref(al);
	}
}

/* Replaces header name by the set, or removes it when the set is empty. */
static void
addr_set_put(struct addr_set *s, GMimeMessage *msg, const char *name)
{
	char *v;

	if (internet_address_list_length(s->list) == 0) {
		message_header_remove_all(msg, name);
		return;
	}
	v = internet_address_list_to_string(s->list, NULL, TRUE);
	header_put(msg, name, v);
	g_free(v);
}

/* --- cleanse --------------------------------------------------------------- */

/* Passwords: the approve handler has read them by now. */
static const char *const approval_headers[] = {
	"Approved", "Approve", "X-Approved", "X-Approve", "Urgent", NULL,
};

/* Receipt requests would tell the poster who read the post. */
static const char *const receipt_headers[] = {
	"Return-Receipt-To", "Disposition-Notification-To",
	"X-Confirm-Reading-To", "X-PMRQC", NULL,
};

/* What names the poster of an anonymous post (Mailman's Cleanse, and its
 * CleanseDKIM, which always applies to anonymous lists: a signature names
 * the poster's domain; ARC sets do too). */
static const char *const anonymous_headers[] = {
	"From", "Reply-To", "Sender", "Organization", "Return-Path",
	"X-Originating-Email", "Received", "X-Envelope-From", "Message-ID",
	"DKIM-Signature", "DomainKey-Signature", "Authentication-Results",
	"ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results",
	NULL,
};

/* The X- headers an anonymous post keeps (Mailman's
 * ANONYMOUS_LIST_KEEP_HEADERS); the others are removed, since too many
 * name the poster (X-Originating-IP, X-Mailer, X-Sender ...).  A name
 * ending in '-' is a prefix. */
static const char *const anonymous_keep_x[] = {
	"X-Mailman-", "X-Content-Filtered-By", "X-Topics", "X-Ack",
	"X-BeenThere", "X-List-Administrivia", "X-Spam-", NULL,
};

static gboolean
anonymous_keeps(const char *name)
{
	if (g_ascii_strncasecmp(name, "X-", 2) != 0)
		return TRUE;
	for (const char *const *k = anonymous_keep_x; *k != NULL; k++) {
		size_t n = strlen(*k);

		if ((*k)[n - 1] == '-' ? g_ascii_strncasecmp(name, *k, n) == 0
				       : g_ascii_strcasecmp(name, *k) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
anonymise(GMimeMessage *msg, struct list *l, const char *poster)
{
	GMimeHeaderList *hl = headers_of(msg);
	struct list_parts lp;
	char *real = setting(l, "real_name");
	char *from, *hex, *msgid;

	list_parts_init(&lp, l);
	header_remove_names(msg, anonymous_headers);
	for (int i = g_mime_header_list_get_count(hl) - 1; i >= 0; i--) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);

		if (!anonymous_keeps(g_mime_header_get_name(h)))
			g_mime_header_list_remove_at(hl, i);
	}
	/* Random, with nothing of the poster's or of the time in it. */
	hex = random_hex(16);
	msgid = g_strdup_printf("<herald.%s@%s>", hex, lp.domain);
	header_put(msg, "Message-ID", msgid);
	from = mailbox_string(real, lp.fqdn);
	header_put(msg, "From", from);
	header_put(msg, "Reply-To", from);
	log_info("post", "list %s: post from %s anonymised", lp.fqdn,
		 poster != NULL && *poster != '\0' ? poster : "(unknown)");
	g_free(from);
	g_free(msgid);
	g_free(hex);
	g_free(real);
	list_parts_clear(&lp);
}

void
headers_cleanse(GMimeMessage *msg, struct list *l, const char *poster)
{
	header_remove_names(msg, approval_headers);
	if (list_get_bool(l, "anonymous_list"))
		anonymise(msg, l, poster);
	header_remove_names(msg, receipt_headers);
}

/* --- the subject prefix ---------------------------------------------------- */

/* A %d of subject_prefix: Python's %-format of one integer, as Mailman
 * applied it (%d, %5d, %05d).  *end_r is set past it. */
static gboolean
number_spec(const char *s, const char **end_r, int *width_r, gboolean *zero_r)
{
	const char *d = s + 1;
	int width = 0;

	if (*s != '%')
		return FALSE;
	*zero_r = *d == '0';
	for (; g_ascii_isdigit(*d); d++)
		if (width < 100)
			width = width * 10 + (*d - '0');
	if (*d != 'd')
		return FALSE;
	*end_r = d + 1;
	*width_r = MIN(width, 20);	/* an int64 has at most 19 digits */
	return TRUE;
}

/* Mailman's strip of reply markers: any run of Re:, Aw:, Sv:, Vs: (any
 * case, with an optional [n] count) at the start.  Fwd: is not one. */
#define REPLY_RE "^(\\s*(RE|AW|SV|VS)\\s*(\\[\\d+\\])?\\s*:\\s*)+"

char *
headers_prefix_subject(const char *subject, const char *prefix_setting,
		       headers_number_fn number, void *ctx, GError **error)
{
	char *prefix = g_strstrip(g_strdup(prefix_setting));
	char *subj = subject != NULL && g_utf8_validate(subject, -1, NULL)
			     ? g_strdup(subject)
			     : subject != NULL ? g_utf8_make_valid(subject, -1)
					       : g_strdup("");
	GString *pattern = g_string_new(NULL);
	GString *expanded = g_string_new(NULL);
	gboolean numbered = FALSE, recolon = FALSE;
	int64_t n = 0;
	GRegex *re = NULL;
	GMatchInfo *mi = NULL;
	char *out = NULL, *tmp;

	if (*prefix == '\0') {
		out = g_strdup(subj);
		goto done;
	}
	/* One line, as Mailman's ch_oneline joined it: a decoded "=0A" must
	 * not end the header. */
	{
		char *w = subj;

		for (const char *r = subj; *r != '\0'; r++)
			if (*r != '\r' && *r != '\n')
				*w++ = *r;
		*w = '\0';
	}
	/* The pattern that finds the prefix in a subject, with any number
	 * where the prefix has %d (so that a reply's "[dev 41]" goes when
	 * this post is "[dev 42]"); and the prefix of this post. */
	for (const char *c = prefix; *c != '\0';) {
		const char *end;
		int width;
		gboolean zero;

		if (number_spec(c, &end, &width, &zero)) {
			if (!numbered) {
				n = number(ctx, error);
				if (n < 0)
					goto done;
				numbered = TRUE;
			}
			g_string_append(pattern, "\\s*\\d+\\s*");
			g_string_append_printf(expanded, zero ? "%0*lld" : "%*lld",
					       width, (long long)n);
			c = end;
		} else {
			const char *next = g_utf8_next_char(c);
			char *lit = g_regex_escape_string(c, (gint)(next - c));

			g_string_append(pattern, lit);
			g_string_append_len(expanded, c, next - c);
			g_free(lit);
			c = next;
		}
	}
	/* Every copy of the prefix, anywhere, as Mailman's re.sub did. */
	re = g_regex_new(pattern->str, 0, 0, NULL);
	if (re != NULL) {	/* it is escaped: it always compiles */
		tmp = g_regex_replace_literal(re, subj, -1, 0, "", 0, NULL);
		if (tmp != NULL) {
			g_free(subj);
			subj = tmp;
		}
		g_regex_unref(re);
	}
	re = g_regex_new(REPLY_RE, G_REGEX_CASELESS, 0, NULL);
	if (re != NULL && g_regex_match(re, subj, 0, &mi)) {
		int start, end;

		if (g_match_info_fetch_pos(mi, 0, &start, &end)) {
			memmove(subj, subj + end, strlen(subj + end) + 1);
			recolon = TRUE;
		}
	}
	g_match_info_free(mi);
	if (re != NULL)
		g_regex_unref(re);
	g_strstrip(subj);
	out = g_strdup_printf("%s %s%s", expanded->str, recolon ? "Re: " : "",
			      *subj != '\0' ? subj : "(no subject)");
done:
	g_string_free(pattern, TRUE);
	g_string_free(expanded, TRUE);
	g_free(prefix);
	g_free(subj);
	return out;
}

/* encode_ascii_prefixes (Mailman's 0, 1, 2). */
enum { ENCODE_PREFIX_NEVER = 0, ENCODE_PREFIX_ALWAYS = 1, ENCODE_PREFIX_AS_NEEDED = 2 };

/* text (UTF-8) as RFC 2047 encoded words, every byte of it: base64 of at
 * most 45 bytes each (a 72-character word, within RFC 2047's 75), cut
 * between characters, separated by spaces where the header may fold
 * (white space between encoded words is not part of the text). */
static char *
encoded_words(const char *text)
{
	GString *out = g_string_new(NULL);
	const char *p = text, *end = text + strlen(text);

	while (p < end) {
		const char *q = p;

		while (q < end) {
			const char *next = g_utf8_next_char(q);

			if (next - p > 45)
				break;
			q = next;
		}
		if (q == p)	/* not UTF-8 (cannot happen: decoded text) */
			q = MIN(end, p + 45);
		char *b64 = g_base64_encode((const guchar *)p, (gsize)(q - p));

		g_string_append_printf(out, "%s=?utf-8?b?%s?=", out->len > 0 ? " " : "",
				       b64);
		g_free(b64);
		p = q;
	}
	return g_string_free(out, FALSE);
}

int
headers_cook_subject(GMimeMessage *msg, struct list *l,
		     headers_number_fn number, void *ctx, GError **error)
{
	char *prefix = setting(l, "subject_prefix");
	char *subject, *cooked;

	if (*prefix == '\0') {
		g_free(prefix);
		return 0;
	}
	subject = message_header_decoded(msg, "Subject");
	cooked = headers_prefix_subject(subject, prefix, number, ctx, error);
	g_free(subject);
	g_free(prefix);
	if (cooked == NULL)
		return -1;
	/* encode_ascii_prefixes never: encoded (UTF-8) only where it is not
	 * ASCII, so the prefix stays readable; ASCII goes in as it is (GMime
	 * would encode a word too long for a line, a URL).  always, and
	 * as_needed for a Subject that is not all ASCII: the whole of it. */
	int64_t encode = list_get_int(l, "encode_ascii_prefixes");
	gboolean ascii = g_str_is_ascii(cooked);

	if (encode == ENCODE_PREFIX_ALWAYS ||
	    (encode == ENCODE_PREFIX_AS_NEEDED && !ascii)) {
		char *words = encoded_words(cooked);

		header_put_raw(msg, "Subject", words, TRUE);
		g_free(words);
	} else if (ascii) {
		header_put_raw(msg, "Subject", cooked, TRUE);
	} else {
		g_mime_message_set_subject(msg, cooked, "utf-8");
	}
	g_free(cooked);
	return 0;
}

/* --- Reply-To and Cc ------------------------------------------------------- */

enum { REPLY_POSTER = 0, REPLY_LIST = 1, REPLY_EXPLICIT = 2 };

/* Built as Mailman's CookHeaders does, in this order: the explicit
 * address, the poster's own Reply-To (unless first_strip_reply_to), the
 * list; duplicates dropped; no header when nothing is left.  Munging From
 * (from_is_list, DMARC) is the wrapmessage handler's. */
static void
cook_reply_to(GMimeMessage *msg, struct list *l, const struct list_parts *lp)
{
	int64_t where = list_get_int(l, "reply_goes_to_list");
	struct addr_set s;

	addr_set_init(&s);
	if (where == REPLY_EXPLICIT) {
		char *explicit = setting(l, "reply_to_address");
		InternetAddressList *al = *explicit != '\0'
			? internet_address_list_parse(NULL, explicit) : NULL;

		if (al != NULL && internet_address_list_length(al) > 0) {
			InternetAddressList *first = internet_address_list_new();

			internet_address_list_add(first,
				internet_address_list_get_address(al, 0));
			addr_set_add_list(&s, first);
			g_object_unref(first);
		} else {
			log_warning("post", "list %s: reply_goes_to_list is "
				    "explicit but reply_to_address \"%s\" is no "
				    "address", lp->fqdn, explicit);
		}
		if (al != NULL)
			g_object_unref(al);
		g_free(explicit);
	}
	if (!list_get_bool(l, "first_strip_reply_to"))
		addr_set_add_headers(&s, msg, "Reply-To");
	if (where == REPLY_LIST) {
		char *desc = setting(l, "description");

		addr_set_add(&s, desc, lp->fqdn);
		g_free(desc);
	}
	addr_set_put(&s, msg, "Reply-To");
	addr_set_clear(&s);
}

/* Full personalisation puts the member in To; the list goes to Cc so that
 * "reply all" still reaches it (Mailman: unless Reply-To or From has it). */
static void
cook_cc(GMimeMessage *msg, struct list *l, const struct list_parts *lp)
{
	struct addr_set s;
	char *desc;

	if (list_get_int(l, "personalize") != 2 ||
	    list_get_int(l, "reply_goes_to_list") == REPLY_LIST ||
	    list_get_bool(l, "anonymous_list"))
		return;
	addr_set_init(&s);
	addr_set_add_headers(&s, msg, "Cc");
	desc = setting(l, "description");
	addr_set_add(&s, desc, lp->fqdn);
	addr_set_put(&s, msg, "Cc");
	g_free(desc);
	addr_set_clear(&s);
}

void
headers_reply_to(GMimeMessage *msg, struct list *l)
{
	struct list_parts lp;

	list_parts_init(&lp, l);
	cook_reply_to(msg, l, &lp);
	cook_cc(msg, l, &lp);
	list_parts_clear(&lp);
}

/* --- List-* ---------------------------------------------------------------- */

/* Every header of RFC 2369, 2919 and 8058: an upstream list's are removed
 * (each may appear once, and theirs would point readers to the wrong
 * list). */
static const char *const list_headers[] = {
	"List-Id", "List-Help", "List-Post", "List-Subscribe",
	"List-Unsubscribe", "List-Unsubscribe-Post", "List-Archive",
	"List-Owner", NULL,
};

/* "<options URL>, <mailto:LIST-leave@DOMAIN>" */
static char *
unsubscribe_value(struct list *l, const char *url)
{
	char *leave = list_address(l, "-leave");
	char *v = g_strdup_printf("<%s>, <mailto:%s>", url, leave);

	g_free(leave);
	return v;
}

/* Header name: <mailto:LIST<suffix>@DOMAIN<query>> */
static void
put_list_mailto(GMimeMessage *msg, struct list *l, const char *name,
		const char *suffix, const char *query)
{
	char *a = list_address(l, suffix);
	char *v = g_strdup_printf("<mailto:%s%s>", a, query);

	header_put_raw(msg, name, v, FALSE);
	g_free(v);
	g_free(a);
}

void
headers_list(GMimeMessage *msg, struct list *l)
{
	struct list_parts lp;
	char *desc = setting(l, "description");
	char *real = setting(l, "real_name");
	const char *name = *desc != '\0' ? desc : real;
	char *v, *a, *url;

	list_parts_init(&lp, l);
	header_remove_names(msg, list_headers);

	/* RFC 2919: the list's address with '@' made '.'; the phrase is
	 * encoded here, since GMime would not quote it. */
	if (*name != '\0') {
		char *phrase = g_mime_utils_header_encode_phrase(NULL, name,
								 "utf-8");
		v = g_strdup_printf("%s <%s.%s>", phrase, lp.local, lp.domain);
		g_free(phrase);
	} else {
		v = g_strdup_printf("<%s.%s>", lp.local, lp.domain);
	}
	header_put_raw(msg, "List-Id", v, FALSE);
	g_free(v);

	put_list_mailto(msg, l, "List-Help", "-request", "?subject=help");

	if (list_get_bool(l, "include_list_post_header")) {
		v = g_strdup_printf("<mailto:%s>", lp.fqdn);
		header_put_raw(msg, "List-Post", v, FALSE);
		g_free(v);
	}

	url = listurls_listinfo(l);
	a = list_address(l, "-join");
	v = g_strdup_printf("<%s>, <mailto:%s>", url, a);
	header_put_raw(msg, "List-Subscribe", v, FALSE);
	g_free(v);
	g_free(a);
	g_free(url);

	url = listurls_options(l);
	v = unsubscribe_value(l, url);
	header_put_raw(msg, "List-Unsubscribe", v, FALSE);
	g_free(v);
	g_free(url);

	if (list_get_bool(l, "archive")) {
		url = listurls_archive(l);
		v = g_strdup_printf("<%s>", url);
		header_put_raw(msg, "List-Archive", v, FALSE);
		g_free(v);
		g_free(url);
		/* RFC 5064: where this message will be; appended, so that an
		 * upstream list's archive stays named too. */
		url = message_no_archive(msg) ? NULL
			: listurls_archived_at(l, g_mime_message_get_message_id(msg));
		if (url != NULL) {
			v = g_strdup_printf("<%s>", url);
			header_put_raw(msg, "Archived-At", v, FALSE);
			g_free(v);
			g_free(url);
		}
	}

	put_list_mailto(msg, l, "List-Owner", "-owner", "");

	g_free(desc);
	g_free(real);
	list_parts_clear(&lp);
}

int
headers_cook(GMimeMessage *msg, struct list *l, headers_number_fn number,
	     void *ctx, GError **error)
{
	char *bounces;

	if (headers_cook_subject(msg, l, number, ctx, error) < 0)
		return -1;
	/* Appended: an upstream list's X-BeenThere stays, for loop checks. */
	header_put_raw(msg, "X-BeenThere", list_fqdn(l), FALSE);
	if (message_header(msg, "Precedence") == NULL)
		header_put_raw(msg, "Precedence", "list", FALSE);
	headers_reply_to(msg, l);
	if (list_get_bool(l, "include_rfc2369_headers"))
		headers_list(msg, l);
	/* Bounces come to the list, not to the poster (Mailman sets these
	 * at delivery; they do not change per copy, so here). */
	bounces = list_address(l, "-bounces");
	if (list_get_bool(l, "include_sender_header")) {
		char *real = setting(l, "real_name");
		char *sender = mailbox_string(real, bounces);

		header_put(msg, "Sender", sender);
		g_free(sender);
		g_free(real);
	}
	header_put_raw(msg, "Errors-To", bounces, TRUE);
	g_free(bounces);
	return 0;
}

/* --- per member ------------------------------------------------------------ */

gboolean
headers_one_click(struct list *l)
{
	char *base;
	gboolean https;

	if (!list_get_bool(l, "include_rfc2369_headers"))
		return FALSE;
	base = listurls_base(l);
	https = listurls_is_https(base);
	g_free(base);
	return https;
}

/* The List-Unsubscribe value of a copy to member_addr, *one_click_r
 * whether it is the one-click URL: NULL with *error as headers_personalise
 * says. */
static char *
unsubscribe_for(struct list *l, const struct token_key *key,
		const char *member_addr, gboolean *one_click_r, GError **error)
{
	struct token_key *own = NULL;
	char *url, *v;

	if (address_validate(member_addr, error) < 0)
		return NULL;
	*one_click_r = headers_one_click(l);
	if (*one_click_r && key == NULL &&
	    (key = own = token_key_load(list_site(l), error)) == NULL)
		return NULL;
	url = *one_click_r ? listurls_unsubscribe(l, key, member_addr, error)
			   : listurls_options(l);
	token_key_free(&own);
	if (url == NULL)
		return NULL;
	v = unsubscribe_value(l, url);
	g_free(url);
	return v;
}

int
headers_personalise(GMimeMessage *msg, struct list *l,
		    const struct token_key *key, const char *member_addr,
		    GError **error)
{
	gboolean one_click;
	char *v;

	if (!list_get_bool(l, "include_rfc2369_headers"))
		return 0;
	if ((v = unsubscribe_for(l, key, member_addr, &one_click, error)) == NULL)
		return -1;
	header_put_raw(msg, "List-Unsubscribe", v, TRUE);
	if (one_click)
		header_put_raw(msg, "List-Unsubscribe-Post",
			       "List-Unsubscribe=One-Click", TRUE);
	else
		message_header_remove_all(msg, "List-Unsubscribe-Post");
	g_free(v);
	return 0;
}

char *
headers_unsubscribe_field(struct list *l, const struct token_key *key,
			  const char *member_addr, GError **error)
{
	gboolean one_click;
	char *v = unsubscribe_for(l, key, member_addr, &one_click, error);
	char *raw, *field;

	if (v == NULL)
		return NULL;
	raw = fold_raw("List-Unsubscribe", v);
	field = g_strconcat("List-Unsubscribe:", raw, NULL);
	g_free(raw);
	g_free(v);
	return field;
}
