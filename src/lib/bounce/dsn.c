/*
 * dsn.c - RFC 3464 delivery status notifications, with RFC 6533's
 * message/global-delivery-status (UTF-8 addresses, "utf-8" address type).
 *
 * A message/delivery-status part is one block of per-message fields and
 * one block per recipient, separated by blank lines.  Real ones bend the
 * rules, so the reader is lenient where that cannot mistake a recipient:
 * a block is a recipient's if it has a Final-Recipient or
 * Original-Recipient (some MTAs leave out the blank line after the
 * per-message fields, or between recipients: a second Final-Recipient
 * starts a new recipient), field names are matched without case, folded
 * values are unfolded, an address type other than rfc822 still gives the
 * address it holds, and a missing Action is inferred from the Status
 * class.
 *
 * The same reader runs over the notice text of a message that has no
 * such part but carries the fields inline (some providers paste them into
 * the text, and a forwarded bounce loses its MIME structure).
 *
 * Action decides what a record is: failed is a failure, delayed a
 * temporary one (never permanent: the MTA is still trying), delivered,
 * relayed and expanded are successes and report nothing.
 */
#include "bounce/bounce-private.h"

#include <string.h>

#define FIELD_MAX 4096

struct dsn_rcpt {
	char *final, *original, *action, *status, *diag;
};

enum action { ACT_UNKNOWN, ACT_FAILED, ACT_DELAYED, ACT_SUCCESS };

static void
rcpt_free(gpointer p)
{
	struct dsn_rcpt *r = p;

	g_free(r->final);
	g_free(r->original);
	g_free(r->action);
	g_free(r->status);
	g_free(r->diag);
	g_free(r);
}

/* "Name: value" at the start of line: the name's length, or 0. */
static size_t
field_name(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && i < 40 && (g_ascii_isalnum(line[i]) || line[i] == '-'))
		i++;
	if (i == 0 || i >= len || line[i] != ':' || !g_ascii_isalpha(line[0]))
		return 0;
	return i;
}

/* The value slot of a recipient field, or NULL for fields not kept. */
static char **
rcpt_slot(struct dsn_rcpt *r, const char *name, size_t n)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{ "final-recipient", G_STRUCT_OFFSET(struct dsn_rcpt, final) },
		{ "original-recipient", G_STRUCT_OFFSET(struct dsn_rcpt, original) },
		{ "action", G_STRUCT_OFFSET(struct dsn_rcpt, action) },
		{ "status", G_STRUCT_OFFSET(struct dsn_rcpt, status) },
		{ "diagnostic-code", G_STRUCT_OFFSET(struct dsn_rcpt, diag) },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
		if (strlen(fields[i].name) == n &&
		    g_ascii_strncasecmp(name, fields[i].name, n) == 0)
			return G_STRUCT_MEMBER_P(r, fields[i].off);
	return NULL;
}

struct reader {
	GPtrArray *rcpts;	/* struct dsn_rcpt * */
	struct dsn_rcpt *cur;	/* the block being read */
	GString *value;		/* the field being read, unfolded */
	char **slot;		/* where it goes, or NULL */
	gboolean in_block;
};

static void
flush_field(struct reader *rd)
{
	if (rd->slot != NULL && *rd->slot == NULL)
		*rd->slot = g_strdup(g_strstrip(rd->value->str));
	rd->slot = NULL;
	g_string_truncate(rd->value, 0);
}

static void
end_block(struct reader *rd)
{
	flush_field(rd);
	if (rd->cur != NULL && (rd->cur->final != NULL || rd->cur->original != NULL))
		g_ptr_array_add(rd->rcpts, rd->cur);
	else if (rd->cur != NULL)
		rcpt_free(rd->cur);
	rd->cur = NULL;
	rd->in_block = FALSE;
}

/* One line of the fields.  A line that is neither a field nor a
 * continuation ends the block, as a blank line does. */
static void
read_line(struct reader *rd, const char *line, size_t len)
{
	size_t n;

	if (len > 0 && (line[0] == ' ' || line[0] == '\t') && rd->in_block) {
		if (rd->slot != NULL && rd->value->len < FIELD_MAX) {
			g_string_append_c(rd->value, ' ');
			g_string_append_len(rd->value, line,
					    MIN(len, FIELD_MAX - rd->value->len));
		}
		return;
	}
	if ((n = field_name(line, len)) == 0) {
		end_block(rd);
		return;
	}
	flush_field(rd);
	if (rd->cur == NULL)
		rd->cur = g_new0(struct dsn_rcpt, 1);
	rd->in_block = TRUE;
	rd->slot = rcpt_slot(rd->cur, line, n);
	/* A second recipient field in one block: the blank line between
	 * two recipients was left out. */
	if (rd->slot != NULL && *rd->slot != NULL &&
	    (rd->slot == &rd->cur->final ||
	     (rd->slot == &rd->cur->original && rd->cur->final != NULL))) {
		end_block(rd);
		rd->cur = g_new0(struct dsn_rcpt, 1);
		rd->in_block = TRUE;
		rd->slot = rcpt_slot(rd->cur, line, n);
	}
	n++;
	g_string_append_len(rd->value, line + n, MIN(len - n, FIELD_MAX));
}

static GPtrArray *
read_fields(const char *text, size_t len)
{
	struct reader rd = { 0 };
	const char *p = text, *end = text + len;

	rd.rcpts = g_ptr_array_new_with_free_func(rcpt_free);
	rd.value = g_string_new(NULL);
	while (p < end && rd.rcpts->len < FAILURES_MAX) {
		const char *nl = memchr(p, '\n', end - p);
		const char *le = nl != NULL ? nl : end;

		read_line(&rd, p, le - p);
		p = nl != NULL ? nl + 1 : end;
	}
	end_block(&rd);
	g_string_free(rd.value, TRUE);
	return rd.rcpts;
}

/* The address in a recipient field: after "type;", without brackets; a
 * utf-8 type's \x{HHHH} escapes (RFC 6533) decoded. */
static char *
field_address(const char *value)
{
	const char *semi = strchr(value, ';');
	const char *p = semi != NULL ? semi + 1 : value;
	GString *out = g_string_new(NULL);

	while (*p == ' ' || *p == '\t')
		p++;
	for (; *p != '\0'; p++) {
		unsigned long c;
		char *e;

		if (p[0] == '\\' && p[1] == 'x' && p[2] == '{' &&
		    (c = strtoul(p + 3, &e, 16)) > 0 && *e == '}' &&
		    c <= 0x10ffff) {
			g_string_append_unichar(out, (gunichar)c);
			p = e;
		} else if (*p == ' ' || *p == '\t') {
			break;
		} else {
			g_string_append_c(out, *p);
		}
	}
	return g_string_free(out, FALSE);
}

static enum action
action_of(const struct dsn_rcpt *r)
{
	char st[16];

	if (r->action != NULL) {
		char *a = bounce_lower(r->action, strlen(r->action), 64);
		enum action act = ACT_UNKNOWN;

		if (g_str_has_prefix(a, "fail") || g_str_has_prefix(a, "undeliver") ||
		    g_str_has_prefix(a, "reject") || g_str_has_prefix(a, "bounce"))
			act = ACT_FAILED;
		else if (g_str_has_prefix(a, "delay") || g_str_has_prefix(a, "defer") ||
			 g_str_has_prefix(a, "retry") || g_str_has_prefix(a, "queued"))
			act = ACT_DELAYED;
		else if (g_str_has_prefix(a, "deliver") || g_str_has_prefix(a, "relay") ||
			 g_str_has_prefix(a, "expand"))
			act = ACT_SUCCESS;
		g_free(a);
		if (act != ACT_UNKNOWN)
			return act;
	}
	if (r->status != NULL &&
	    bounce_find_status(r->status, strlen(r->status), st))
		return st[0] == '2' ? ACT_SUCCESS : ACT_FAILED;
	return ACT_UNKNOWN;
}

/* The diagnostic without its type ("smtp; 550 ..." -> "550 ..."). */
static const char *
diag_text(const char *diag)
{
	const char *semi;

	if (diag == NULL)
		return NULL;
	semi = strchr(diag, ';');
	if (semi != NULL && semi - diag < 24 && memchr(diag, ' ', semi - diag) == NULL)
		diag = semi + 1;
	while (*diag == ' ')
		diag++;
	return *diag != '\0' ? diag : NULL;
}

/* The records of text added to r; counts of each action in counts[]. */
static int
add_records(struct bounce_msg *m, struct bounce_report *r, GPtrArray *rcpts,
	    int counts[4])
{
	int added = 0;

	for (guint i = 0; i < rcpts->len; i++) {
		struct dsn_rcpt *d = rcpts->pdata[i];
		enum action act = action_of(d);
		struct bounce_evidence ev = {
			.final = act == ACT_DELAYED ? 0 : act == ACT_FAILED ? 1 : -1,
			.perm_hint = -1, .status = d->status,
			.diag = diag_text(d->diag), .context = m->notice,
		};
		char *fin = d->final != NULL ? field_address(d->final) : NULL;
		char *orig = d->original != NULL ? field_address(d->original) : NULL;
		char *block = NULL;

		/* The notice's words about this recipient: its reason
		 * when the record has no Diagnostic-Code. */
		if (act != ACT_SUCCESS && (fin != NULL || orig != NULL))
			block = bounce_text_block_for(m, fin != NULL ? fin : orig);
		if (block != NULL && ev.diag == NULL)
			ev.diag = block;
		else if (block != NULL)
			ev.context = block;
		counts[act]++;
		if (act != ACT_SUCCESS) {
			/* Final-Recipient names the mailbox that failed;
			 * Original-Recipient the address as first given,
			 * kept beside it.  An unusable Final-Recipient
			 * (an X.400 or source-routed form) falls back. */
			if ((fin != NULL && bounce_report_add(r, m, fin, orig, &ev)) ||
			    (orig != NULL && bounce_report_add(r, m, orig, NULL, &ev)))
				added++;
		}
		g_free(fin);
		g_free(orig);
		g_free(block);
	}
	return added;
}

static int
detect_in(struct bounce_msg *m, struct bounce_report *r, const char *text,
	  size_t len, const char *format)
{
	GPtrArray *rcpts = read_fields(text, len);
	int counts[4] = { 0 };
	int added = add_records(m, r, rcpts, counts);

	if (rcpts->len > 0 && r->format == NULL)
		r->format = format;
	if (added == 0 && counts[ACT_SUCCESS] > 0 && counts[ACT_FAILED] == 0 &&
	    counts[ACT_DELAYED] == 0)
		r->kind = BOUNCE_KIND_SUCCESS;
	else if (added > 0 && counts[ACT_FAILED] == 0 && counts[ACT_DELAYED] > 0)
		r->kind = BOUNCE_KIND_DELAY;
	g_ptr_array_unref(rcpts);
	return added;
}

int
bounce_dsn_detect(struct bounce_msg *m, struct bounce_report *r)
{
	int added = 0;

	for (guint i = 0; i < m->dsn->len; i++) {
		struct bounce_part *p = m->dsn->pdata[i];

		added += detect_in(m, r, p->text, strlen(p->text),
				   p->global ? "dsn-global" : "dsn");
	}
	return added;
}

static gboolean
recipient_line(const char *l)
{
	return g_ascii_strncasecmp(l, "Final-Recipient:", 16) == 0 ||
	       g_ascii_strncasecmp(l, "Original-Recipient:", 19) == 0;
}

int
bounce_dsn_detect_inline(struct bounce_msg *m, struct bounce_report *r)
{
	const char *n = m->notice;

	for (const char *ls = n; *ls != '\0';) {
		const char *nl = strchr(ls, '\n');

		if (recipient_line(ls)) {
			const char *start = ls;

			/* Fields just above it (Action before
			 * Final-Recipient) belong to it. */
			for (int k = 0; k < 12 && start > n; k++) {
				const char *pl = start - 1;

				while (pl > n && pl[-1] != '\n')
					pl--;
				if (field_name(pl, start - 1 - pl) == 0)
					break;
				start = pl;
			}
			return detect_in(m, r, start, strlen(start), "dsn-inline");
		}
		ls = nl != NULL ? nl + 1 : ls + strlen(ls);
	}
	return 0;
}
