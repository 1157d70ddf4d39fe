/*
 * address.c - e-mail addresses in one place: parsing, validation,
 * normalisation and comparison.
 *
 * The structure of a header value (names, quotes, comments, <>, groups,
 * commas) is read by a strict scanner of our own, and the addr-spec is
 * checked against RFC 5322 (dot-atom or quoted local part) and RFC 5321
 * (hostname domain, length limits).  GMime is forgiving by design: it
 * accepts "Name <a@b" and reads "a@b@c.example" as "a@b", which is right
 * for a mail reader and wrong for a gatekeeper that decides who is a member
 * or who may post.  GMime does what it does best: decoding RFC 2047 display
 * names (charsets, adjacent encoded words) and writing them back for a
 * header.  libidn2 turns internationalised domains into A-labels, so one
 * domain has one spelling in the roster.
 *
 * Every address that leaves this module has passed the same checks: no CR
 * or LF (header injection), no control characters, pure ASCII, within the
 * RFC 5321 limits.  docs/addresses.md gives the rules and the reasons.
 */
#include "mail/address.h"
#include "base/base.h"

#include <gmime/gmime.h>
#include <idn2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#define ADDRESS_LABEL_MAX 63
/* How much of a bad input an error message shows. */
#define ADDRESS_SHOW_MAX 80
/* Stands in for the real address when GMime reads the display name. */
#define ADDRESS_PLACEHOLDER "a@example.invalid"

/* --- helpers ------------------------------------------------------------- */

/* GMime wants g_mime_init() once per process, before any other call.  Lazy,
 * so programs that never touch an address do not pay for it. */
static void
address_gmime_init(void)
{
	static gsize done;

	if (g_once_init_enter(&done)) {
		g_mime_init();
		g_once_init_leave(&done, 1);
	}
}

/* text[0..len) made safe to show in an error message (and so in a log):
 * control characters and bytes that are not UTF-8 escaped, cut short. */
static char *
address_show(const char *text, size_t len)
{
	GString *s = g_string_new(NULL);
	bool utf8 = g_utf8_validate(text, (gssize)len, NULL);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (s->len >= ADDRESS_SHOW_MAX && (c & 0xC0) != 0x80) {
			g_string_append(s, "...");
			break;
		}
		if (c == '\r')
			g_string_append(s, "\\r");
		else if (c == '\n')
			g_string_append(s, "\\n");
		else if (c == '\t')
			g_string_append(s, "\\t");
		else if (c == '"' || c == '\\')
			g_string_append_printf(s, "\\%c", c);
		else if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8))
			g_string_append_printf(s, "\\x%02x", c);
		else if (c == 0xC2 && i + 1 < len &&
			 (unsigned char)text[i + 1] >= 0x80 &&
			 (unsigned char)text[i + 1] <= 0x9F)
			/* a C1 control character, U+0080 to U+009F */
			g_string_append_printf(s, "\\u%04x",
					       (unsigned char)text[++i]);
		else
			g_string_append_c(s, (char)c);
	}
	return g_string_free(s, FALSE);
}

/* Sets *error: invalid address "<what>": <reason>. */
static void G_GNUC_PRINTF(4, 5)
address_error(GError **error, const char *what, size_t len,
	      const char *fmt, ...)
{
	char *shown = address_show(what, len);
	char *reason;
	va_list ap;

	va_start(ap, fmt);
	reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
		    "invalid address \"%s\": %s", shown, reason);
	g_free(reason);
	g_free(shown);
}

/* Rejects what must never be in an address, a name or a header value:
 * bytes that are not UTF-8, CR or LF, and control characters (C0, DEL,
 * C1).  Tab passes when it may be whitespace. */
static int
address_check_chars(const char *what, const char *text, size_t len,
		    bool allow_tab, GError **error)
{
	const char *end;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\r' || text[i] == '\n') {
			address_error(error, what, strlen(what),
				      "it contains a CR or LF (a header "
				      "injection?)");
			return -1;
		}
	}
	if (!g_utf8_validate(text, (gssize)len, &end)) {
		address_error(error, what, strlen(what),
			      "it is not valid UTF-8 (byte %zu)",
			      (size_t)(end - text));
		return -1;
	}
	for (const char *p = text; p < text + len; p = g_utf8_next_char(p)) {
		gunichar u = g_utf8_get_char(p);

		if (u == '\t' && allow_tab)
			continue;
		if (u < 0x20 || (u >= 0x7F && u <= 0x9F)) {
			address_error(error, what, strlen(what),
				      "it contains the control character "
				      "U+%04X", (unsigned)u);
			return -1;
		}
	}
	return 0;
}

/* p at '"': the end of the quoted string (after its closing quote), or
 * NULL when it has none. */
static const char *
skip_quoted(const char *p)
{
	for (p++; *p != '\0'; p++) {
		if (*p == '\\') {
			if (p[1] == '\0')
				return NULL;
			p++;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* p at '(': the end of the comment (comments nest), or NULL. */
static const char *
skip_comment(const char *p)
{
	int depth = 0;

	for (; *p != '\0'; p++) {
		if (*p == '\\') {
			if (p[1] == '\0')
				return NULL;
			p++;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && --depth == 0) {
			return p + 1;
		}
	}
	return NULL;
}

/* p at '<': the end of the angle address (after '>'), or NULL. */
static const char *
skip_angle(const char *p)
{
	for (p++; *p != '\0'; p++) {
		if (*p == '"') {
			if ((p = skip_quoted(p)) == NULL)
				return NULL;
			p--;
		} else if (*p == '>') {
			return p + 1;
		} else if (*p == '<') {
			return NULL;
		}
	}
	return NULL;
}

static bool
is_atext(unsigned char c)
{
	return g_ascii_isalnum(c) ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Whether s is a dot-atom: atext runs joined by single dots. */
static bool
is_dot_atom(const char *s)
{
	if (*s == '\0' || *s == '.')
		return false;
	for (; *s != '\0'; s++) {
		if (*s == '.' ? s[1] == '.' || s[1] == '\0'
			      : !is_atext((unsigned char)*s))
			return false;
	}
	return true;
}

/* --- the addr-spec ------------------------------------------------------- */

/* Appends the normal form of the local part [p, end) of spec to out.  A
 * quoted local part loses its quotes when it does not need them
 * ("john"@x is john@x: the same mailbox), and keeps only the escapes it
 * needs. */
static int
local_normalise(const char *spec, const char *p, const char *end,
		GString *out, GError **error)
{
	size_t start = out->len;

	if (p == end) {
		address_error(error, spec, strlen(spec),
			      "the local part before the @ is empty");
		return -1;
	}
	if (*p == '"') {
		GString *content = g_string_new(NULL);

		/* The caller found the closing quote at end - 1. */
		for (const char *q = p + 1; q < end - 1; q++) {
			unsigned char c = (unsigned char)*q;

			if (c == '\\')
				c = (unsigned char)*++q;
			if (c >= 0x80) {
				address_error(error, spec, strlen(spec),
					      "non-ASCII characters in the "
					      "local part (SMTPUTF8) are not "
					      "supported");
				g_string_free(content, TRUE);
				return -1;
			}
			if (c < 0x20 || c == 0x7F) {
				address_error(error, spec, strlen(spec),
					      "a control character in the "
					      "quoted local part");
				g_string_free(content, TRUE);
				return -1;
			}
			g_string_append_c(content, (char)c);
		}
		if (content->len == 0) {
			address_error(error, spec, strlen(spec),
				      "the quoted local part is empty");
			g_string_free(content, TRUE);
			return -1;
		}
		if (is_dot_atom(content->str)) {
			g_string_append(out, content->str);
		} else {
			g_string_append_c(out, '"');
			for (const char *q = content->str; *q != '\0'; q++) {
				if (*q == '"' || *q == '\\')
					g_string_append_c(out, '\\');
				g_string_append_c(out, *q);
			}
			g_string_append_c(out, '"');
		}
		g_string_free(content, TRUE);
	} else {
		for (const char *q = p; q < end; q++) {
			unsigned char c = (unsigned char)*q;
			const char *why = NULL;

			if (c == '.' && q == p)
				why = "the local part starts with a dot";
			else if (c == '.' && q[-1] == '.')
				why = "two dots in a row in the local part "
				      "(only allowed inside quotes)";
			else if (c == '.' && q + 1 == end)
				why = "the local part ends with a dot "
				      "(only allowed inside quotes)";
			else if (c >= 0x80)
				why = "non-ASCII characters in the local part "
				      "(SMTPUTF8) are not supported";
			else if (c == ' ' || c == '\t')
				why = "a space outside quotes";
			else if (c == '"')
				why = "a quote in the middle of the local "
				      "part (quote all of it or none)";
			if (why != NULL) {
				address_error(error, spec, strlen(spec), "%s",
					      why);
				return -1;
			}
			if (c != '.' && !is_atext(c)) {
				address_error(error, spec, strlen(spec),
					      "the character '%c' is not "
					      "allowed in a local part "
					      "without quotes", c);
				return -1;
			}
		}
		g_string_append_len(out, p, end - p);
	}
	if (out->len - start > ADDRESS_LOCAL_MAX) {
		address_error(error, spec, strlen(spec),
			      "the local part is %zu octets long, more than "
			      "%d", out->len - start, ADDRESS_LOCAL_MAX);
		return -1;
	}
	return 0;
}

/* Checks the domain in A-label, lower-case form: RFC 1123 host names of
 * at least two labels, the last not all digits. */
static int
domain_check_ace(const char *spec, const char *ace, GError **error)
{
	char **labels = g_strsplit(ace, ".", -1);
	guint n = g_strv_length(labels);
	int ret = -1;

	for (guint i = 0; i < n; i++) {
		const char *l = labels[i];
		size_t len = strlen(l);

		if (len == 0) {
			address_error(error, spec, strlen(spec),
				      "an empty label in the domain");
			goto out;
		}
		if (len > ADDRESS_LABEL_MAX) {
			address_error(error, spec, strlen(spec),
				      "a domain label is %zu octets long, "
				      "more than %d", len, ADDRESS_LABEL_MAX);
			goto out;
		}
		for (const char *q = l; *q != '\0'; q++) {
			if (*q == ' ' || *q == '\t') {
				address_error(error, spec, strlen(spec),
					      "a space in the domain");
				goto out;
			}
			if (!g_ascii_isalnum(*q) && *q != '-') {
				address_error(error, spec, strlen(spec),
					      "the character '%c' is not "
					      "allowed in a domain", *q);
				goto out;
			}
		}
		if (l[0] == '-' || l[len - 1] == '-') {
			address_error(error, spec, strlen(spec),
				      "the domain label \"%s\" %s with a "
				      "hyphen", l,
				      l[0] == '-' ? "starts" : "ends");
			goto out;
		}
	}
	if (n < 2) {
		address_error(error, spec, strlen(spec),
			      "the domain has no dot (herald wants a fully "
			      "qualified domain name)");
		goto out;
	}
	if (strspn(labels[n - 1], "0123456789") == strlen(labels[n - 1])) {
		address_error(error, spec, strlen(spec),
			      "the domain ends in a number (IP addresses are "
			      "not accepted, use a name)");
		goto out;
	}
	if (strlen(ace) > ADDRESS_DOMAIN_MAX) {
		address_error(error, spec, strlen(spec),
			      "the domain is %zu octets long, more than %d",
			      strlen(ace), ADDRESS_DOMAIN_MAX);
		goto out;
	}
	ret = 0;
out:
	g_strfreev(labels);
	return ret;
}

/* Appends the normal form of the domain [p, end) of spec to out: lower
 * case, internationalised names as A-labels (IDNA2008 with the UTS #46
 * mapping, as browsers and MTAs look them up, so BÜCHER.example and
 * bücher.example are one domain). */
static int
domain_normalise(const char *spec, const char *p, const char *end,
		 GString *out, GError **error)
{
	char *dom = g_strndup(p, end - p);
	char *ace = NULL;
	bool ascii = true;
	int ret = -1;

	if (*dom == '\0') {
		address_error(error, spec, strlen(spec),
			      "no domain after the @");
		goto out;
	}
	if (*dom == '[') {
		address_error(error, spec, strlen(spec),
			      "domain literals such as [192.0.2.1] are not "
			      "accepted, use a domain name");
		goto out;
	}
	/* Before libidn2, which would quietly accept some of these. */
	if (dom[0] == '.' || dom[strlen(dom) - 1] == '.' ||
	    strstr(dom, "..") != NULL) {
		address_error(error, spec, strlen(spec), "%s",
			      dom[0] == '.' ? "the domain starts with a dot"
			      : strstr(dom, "..") != NULL
				  ? "two dots in a row in the domain"
				  : "the domain ends with a dot");
		goto out;
	}
	for (const char *q = dom; *q != '\0'; q++)
		ascii = ascii && (unsigned char)*q < 0x80;
	if (ascii) {
		ace = g_ascii_strdown(dom, -1);
	} else {
		char *idn = NULL;
		int rc = idn2_to_ascii_8z(dom, &idn,
					  IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);

		if (rc != IDN2_OK) {
			address_error(error, spec, strlen(spec),
				      "the domain is not a valid "
				      "internationalised domain name: %s",
				      idn2_strerror(rc));
			goto out;
		}
		ace = g_ascii_strdown(idn, -1);
		idn2_free(idn);
	}
	if (domain_check_ace(spec, ace, error) < 0)
		goto out;
	g_string_append(out, ace);
	ret = 0;
out:
	g_free(ace);
	g_free(dom);
	return ret;
}

/* The normal form of the bare addr-spec [p, end), or NULL with *error
 * set.  The characters have been checked (address_check_chars). */
static char *
spec_normalise(const char *p, const char *end, GError **error)
{
	char *spec = g_strndup(p, end - p);
	GString *out = g_string_new(NULL);
	const char *at;

	if (*spec == '\0') {
		address_error(error, spec, 0, "it is empty");
		goto fail;
	}
	if (*spec == '"') {
		if ((at = skip_quoted(spec)) == NULL) {
			address_error(error, spec, strlen(spec),
				      "a quote without its closing quote");
			goto fail;
		}
		if (*at != '@') {
			address_error(error, spec, strlen(spec), "%s",
				      *at == '\0' ? "no @ after the quoted "
						    "local part"
				      : "text between the quoted local part "
					"and the @");
			goto fail;
		}
	} else if ((at = strchr(spec, '@')) == NULL) {
		address_error(error, spec, strlen(spec),
			      "no @ (an address is local-part@domain)");
		goto fail;
	}
	if (strchr(at + 1, '@') != NULL) {
		address_error(error, spec, strlen(spec),
			      "more than one @ outside quotes");
		goto fail;
	}
	if (local_normalise(spec, spec, at, out, error) < 0)
		goto fail;
	g_string_append_c(out, '@');
	if (domain_normalise(spec, at + 1, spec + strlen(spec), out,
			     error) < 0)
		goto fail;
	if (out->len > ADDRESS_MAX) {
		address_error(error, spec, strlen(spec),
			      "the address is %zu octets long, more than %d",
			      out->len, ADDRESS_MAX);
		goto fail;
	}
	g_free(spec);
	return g_string_free(out, FALSE);
fail:
	g_string_free(out, TRUE);
	g_free(spec);
	return NULL;
}

/* --- mailboxes, lists, groups ------------------------------------------- */

/* One element of an address list, as spans of the input. */
struct item {
	const char *start, *end;	/* the element, separators excluded */
	const char *first, *last;	/* first token and past the last, <>
					 * excluded: the name, or the bare
					 * addr-spec */
	const char *angle, *angle_end;	/* inside <...>, if there is one */
	bool gap;			/* space or comment between tokens */
	bool comment;			/* a comment anywhere */
};

/* Reads one element from *pp up to the next ',', ';', ':' or the end. */
static int
scan_item(const char *text, const char **pp, struct item *it,
	  GError **error)
{
	const char *p = *pp;
	bool pending = false;	/* whitespace since the last token */

	memset(it, 0, sizeof *it);
	it->start = p;
	for (;;) {
		const char *tok = p;
		const char *why = NULL;

		switch (*p) {
		case '\0':
		case ',':
		case ';':
		case ':':
			it->end = *pp = p;
			return 0;
		case ' ':
		case '\t':
			pending = true;
			p++;
			continue;
		case '(':
			if ((p = skip_comment(p)) == NULL) {
				why = "a ( without its closing )";
				break;
			}
			it->comment = pending = true;
			continue;
		case ')':
			why = "a ) without its (";
			break;
		case '>':
			why = "a > without its <";
			break;
		case '<':
			if (it->angle != NULL) {
				why = "more than one <...>";
				break;
			}
			if ((p = skip_angle(p)) == NULL) {
				why = "a < without its closing >";
				break;
			}
			it->angle = tok + 1;
			it->angle_end = p - 1;
			continue;
		case '"':
			if ((p = skip_quoted(p)) == NULL)
				why = "a quote without its closing quote";
			break;
		default:
			p++;
			break;
		}
		if (why == NULL && it->angle != NULL)
			why = "text after the <address>";
		if (why != NULL) {
			address_error(error, text, strlen(text), "%s", why);
			return -1;
		}
		if (it->first == NULL)
			it->first = tok;
		else if (pending)
			it->gap = true;
		pending = false;
		it->last = p;
	}
}

/* Rejects specials that RFC 5322 allows in a display name only inside
 * quotes; "john@example.org <john@example.org>" is how a forged name
 * looks. */
static int
phrase_check(const char *text, const char *p, const char *end,
	     GError **error)
{
	while (p < end) {
		if (*p == '"' || *p == '(') {
			/* balanced: scan_item has read them */
			p = *p == '"' ? skip_quoted(p) : skip_comment(p);
			if (p == NULL)
				break;
		} else if (strchr("@[]\\", *p) != NULL) {
			address_error(error, text, strlen(text),
				      "the character '%c' in a display name "
				      "must be inside quotes", *p);
			return -1;
		} else {
			p++;
		}
	}
	return 0;
}

/* The decoded display name of an element whose address is [sp, se), or
 * NULL when it has none.  GMime reads the element with a placeholder for
 * the address, so its leniency about addresses cannot matter. */
static int
item_name(const char *text, const struct item *it, const char *sp,
	  const char *se, char **name_r, GError **error)
{
	GString *s = g_string_new_len(it->start, sp - it->start);
	InternetAddressList *list;
	InternetAddress *ia;
	char *name = NULL;
	int ret = -1;

	*name_r = NULL;
	g_string_append(s, ADDRESS_PLACEHOLDER);
	g_string_append_len(s, se, it->end - se);
	address_gmime_init();
	list = internet_address_list_parse(NULL, s->str);
	if (list == NULL || internet_address_list_length(list) != 1 ||
	    !INTERNET_ADDRESS_IS_MAILBOX(
		ia = internet_address_list_get_address(list, 0))) {
		address_error(error, text, strlen(text),
			      "the display name does not parse");
		goto out;
	}
	name = g_strstrip(g_strdup(internet_address_get_name(ia) != NULL
				       ? internet_address_get_name(ia)
				       : ""));
	/* An encoded word can hide anything: =?utf-8?q?a=0D=0ABcc:_x?= */
	if (address_check_chars(name, name, strlen(name), false, NULL) < 0) {
		address_error(error, text, strlen(text),
			      "the display name decodes to a CR, LF or other "
			      "control character");
		goto out;
	}
	if (*name != '\0') {
		*name_r = name;
		name = NULL;
	}
	ret = 0;
out:
	g_free(name);
	if (list != NULL)
		g_object_unref(list);
	g_string_free(s, TRUE);
	return ret;
}

static struct address *
item_address(const char *text, const struct item *it, GError **error)
{
	struct address *a;
	const char *sp, *se;
	char *addr, *name = NULL;

	if (it->angle != NULL) {
		if (phrase_check(text, it->start, it->angle, error) < 0)
			return NULL;
		for (sp = it->angle; *sp == ' ' || *sp == '\t'; sp++)
			;
		for (se = it->angle_end; se > sp &&
					 (se[-1] == ' ' || se[-1] == '\t'); se--)
			;
		if (sp == se) {
			address_error(error, text, strlen(text),
				      "an empty <> (a null sender is not an "
				      "address)");
			return NULL;
		}
	} else {
		if (it->gap) {
			address_error(error, text, strlen(text),
				      "a space outside quotes, or a comment "
				      "inside the address (write \"Name "
				      "<addr>\", or quote a local part that "
				      "has spaces)");
			return NULL;
		}
		sp = it->first;
		se = it->last;
	}
	if ((addr = spec_normalise(sp, se, error)) == NULL)
		return NULL;
	if ((it->angle != NULL && it->first != NULL) || it->comment) {
		if (item_name(text, it, sp, se, &name, error) < 0) {
			g_free(addr);
			return NULL;
		}
	}
	a = g_new(struct address, 1);
	a->addr = addr;
	a->name = name;
	return a;
}

/* Skips whitespace and comments; NULL on an unclosed comment. */
static const char *
skip_cfws(const char *p)
{
	while (p != NULL && (*p == ' ' || *p == '\t' || *p == '('))
		p = *p == '(' ? skip_comment(p) : p + 1;
	return p;
}

/* Reads text (checked by address_check_chars) into out.  single: exactly
 * one mailbox, no group. */
static int
scan_addresses(const char *text, bool single, GPtrArray *out,
	       GError **error)
{
	const char *p = text;
	bool in_group = false, any = false;
	const char *why = NULL;

	for (;;) {
		struct item it;
		bool empty;
		char sep;

		if (scan_item(text, &p, &it, error) < 0)
			return -1;
		sep = *p;
		empty = it.first == NULL && it.angle == NULL;
		if (sep == ':') {
			if (single)
				why = "a group (\"name: addresses;\") or a ':' "
				      "outside quotes; one address was wanted";
			else if (in_group)
				why = "a group inside a group";
			else if (empty || it.angle != NULL)
				why = "a ':' without a group name before it";
			if (why != NULL)
				break;
			in_group = any = true;
			p++;
			continue;
		}
		if (single && sep == ',') {
			why = "more than one address (or a comma outside "
			      "quotes: quote a display name that has one)";
			break;
		}
		if (single && sep == ';') {
			why = "a ';' outside quotes";
			break;
		}
		if (!empty) {
			struct address *a = item_address(text, &it, error);

			if (a == NULL)
				return -1;
			g_ptr_array_add(out, a);
			any = true;
		}
		if (sep == '\0') {
			if (in_group)
				why = "a group without its closing ';'";
			break;
		}
		p++;
		if (sep == ';') {
			if (!in_group) {
				why = "a ';' outside a group";
				break;
			}
			in_group = false;
			p = skip_cfws(p);
			if (p == NULL || (*p != ',' && *p != '\0')) {
				why = "text after the ';' that ends a group";
				break;
			}
			if (*p == ',')
				p++;
		}
	}
	if (why == NULL && !any)
		why = "it is empty";
	if (why != NULL) {
		address_error(error, text, strlen(text), "%s", why);
		return -1;
	}
	return 0;
}

/* --- the API ------------------------------------------------------------- */

int
address_parse(const char *text, struct address **addr_r, GError **error)
{
	GPtrArray *addrs;
	int ret = -1;

	*addr_r = NULL;
	if (text == NULL)
		text = "";
	if (address_check_chars(text, text, strlen(text), true, error) < 0)
		return -1;
	addrs = g_ptr_array_new_with_free_func(address_free_ptr);
	if (scan_addresses(text, true, addrs, error) == 0) {
		*addr_r = g_ptr_array_steal_index(addrs, 0);
		ret = 0;
	}
	g_ptr_array_unref(addrs);
	return ret;
}

int
address_parse_list(const char *text, GPtrArray **addrs_r, GError **error)
{
	GString *unfolded = g_string_new(NULL);
	GPtrArray *addrs = NULL;
	int ret = -1;

	*addrs_r = NULL;
	if (text == NULL)
		text = "";
	/* A header value may be folded: CRLF (or LF) before whitespace is
	 * not part of it (RFC 5322 section 2.2.3).  Any other CR or LF is. */
	for (const char *p = text; *p != '\0'; p++) {
		const char *q = p;

		if (*q == '\r' && q[1] == '\n')
			q++;
		if (*q == '\n' && (q[1] == ' ' || q[1] == '\t')) {
			p = q;
			continue;
		}
		g_string_append_c(unfolded, *p);
	}
	if (address_check_chars(unfolded->str, unfolded->str, unfolded->len,
				true, error) < 0)
		goto out;
	addrs = g_ptr_array_new_with_free_func(address_free_ptr);
	if (scan_addresses(unfolded->str, false, addrs, error) < 0)
		goto out;
	*addrs_r = g_steal_pointer(&addrs);
	ret = 0;
out:
	if (addrs != NULL)
		g_ptr_array_unref(addrs);
	g_string_free(unfolded, TRUE);
	return ret;
}

char *
address_normalise(const char *addr_spec, GError **error)
{
	if (addr_spec == NULL)
		addr_spec = "";
	if (address_check_chars(addr_spec, addr_spec, strlen(addr_spec),
				false, error) < 0)
		return NULL;
	return spec_normalise(addr_spec, addr_spec + strlen(addr_spec),
			      error);
}

int
address_validate(const char *addr_spec, GError **error)
{
	char *addr = address_normalise(addr_spec, error);

	if (addr == NULL)
		return -1;
	g_free(addr);
	return 0;
}

/* Folds the local part too, though RFC 5321 lets a server tell John from
 * john: no MTA in use does, people write their address in any case, and a
 * member who subscribed as John@ and posts as john@ is one member (Mailman
 * keys its roster the same way).  docs/addresses.md says more. */
char *
address_key(const char *addr_spec)
{
	char *addr = address_normalise(addr_spec, NULL);
	char *key;

	if (addr == NULL)
		return NULL;
	key = g_ascii_strdown(addr, -1);
	g_free(addr);
	return key;
}

gboolean
address_equal(const char *a, const char *b)
{
	char *ka = address_key(a);
	char *kb = address_key(b);
	gboolean eq = ka != NULL && kb != NULL && strcmp(ka, kb) == 0;

	g_free(ka);
	g_free(kb);
	return eq;
}

char *
address_format(const struct address *a)
{
	InternetAddress *ia;
	char *s;

	if (a->name == NULL || *a->name == '\0')
		return g_strdup(a->addr);
	address_gmime_init();
	ia = internet_address_mailbox_new(a->name, a->addr);
	s = internet_address_to_string(ia, NULL, TRUE);
	g_object_unref(ia);
	return s;
}

void
address_free(struct address **a)
{
	if (*a == NULL)
		return;
	g_free((*a)->addr);
	g_free((*a)->name);
	g_free(*a);
	*a = NULL;
}

void
address_free_ptr(gpointer p)
{
	struct address *a = p;

	address_free(&a);
}

gboolean
address_in(const char *const *addrs, const char *addr)
{
	for (; *addrs != NULL; addrs++)
		if (address_equal(*addrs, addr))
			return TRUE;
	return FALSE;
}
