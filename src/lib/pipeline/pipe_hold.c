/*
 * pipe_hold.c - the hold handler: posts that need a moderator's look.
 *
 * In order: a loop (our own X-BeenThere: discarded, approved or not), then,
 * unless approved, header_filter_rules, administrivia, too many
 * recipients, no explicit destination, bounce_matching_headers, size, and
 * a list gatewayed to a moderated newsgroup (news_moderation moderated).
 * Articles from the newsgroup skip the destination tests.
 * The first that applies decides; its reason is what the moderators and
 * the poster are told.
 */
#include "pipeline/pipeline.h"
#include "mail/address.h"
#include "base/log.h"
#include "mail/message.h"
#include "store/names.h"

#include <string.h>

static const char *const dest_headers[] = {
	"To", "Cc", "Resent-To", "Resent-Cc", NULL
};
static const char *const rcpt_headers[] = { "To", "Cc", NULL };

/* The commands of the -request address and how many arguments each
 * takes at most (Mailman's email commands). */
static const struct {
	const char *word;
	guint max_args;
} commands[] = {
	{ "confirm", 1 }, { "end", 0 }, { "help", 0 }, { "info", 0 },
	{ "join", 3 }, { "leave", 2 }, { "lists", 0 }, { "options", 1 },
	{ "password", 2 }, { "set", 3 }, { "subscribe", 3 },
	{ "unsubscribe", 2 }, { "who", 1 },
};

/* Whether line is a command: a command word followed by no more
 * arguments than that command takes ("help" alone, not "Help with
 * printing"; "subscribe me@example.org", not "Join us on Friday ..."). */
static gboolean
is_command(const char *line)
{
	char **words = g_strsplit_set(line, " \t", -1);
	GPtrArray *w = g_ptr_array_new();
	gboolean is = FALSE;

	for (guint i = 0; words[i] != NULL; i++)
		if (*words[i] != '\0')
			g_ptr_array_add(w, words[i]);
	for (guint c = 0; w->len > 0 && c < G_N_ELEMENTS(commands); c++)
		if (g_ascii_strcasecmp(w->pdata[0], commands[c].word) == 0)
			is = w->len - 1 <= commands[c].max_args;
	g_ptr_array_free(w, TRUE);
	g_strfreev(words);
	return is;
}

/* Mailman's test, stated: a subject that is a command, or a short body
 * (at most 5 non-blank lines) whose first non-blank line is one. */
static gboolean
looks_like_command(struct post *p)
{
	char *subject = message_header_decoded(p->msg, "Subject");
	GMimeTextPart *part;
	char *text;
	char **lines;
	guint nonblank = 0;
	gboolean first_is_cmd = FALSE, seen = FALSE;

	if (subject != NULL && is_command(subject)) {
		g_free(subject);
		return TRUE;
	}
	g_free(subject);
	if ((part = message_first_text_part(p->msg)) == NULL ||
	    (text = g_mime_text_part_get_text(part)) == NULL)
		return FALSE;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (*g_strstrip(lines[i]) == '\0')
			continue;
		if (!seen)
			first_is_cmd = is_command(lines[i]);
		seen = TRUE;
		nonblank++;
	}
	g_strfreev(lines);
	g_free(text);
	return first_is_cmd && nonblank <= 5;
}

/* Whether s matches any of the list's acceptable_aliases (addresses or
 * ^regexes). */
static gboolean
acceptable_alias(struct post *p, const char *addr)
{
	char **aliases = list_get_lines(p->list, "acceptable_aliases");
	gboolean m = FALSE;

	for (guint i = 0; !m && aliases[i] != NULL; i++) {
		if (aliases[i][0] == '^')
			m = g_regex_match_simple(aliases[i], addr, G_REGEX_CASELESS, 0);
		else
			m = address_equal(aliases[i], addr);
	}
	g_strfreev(aliases);
	return m;
}

static gboolean
explicit_destination(struct post *p, GPtrArray *dests)
{
	char *list_key = address_key(list_fqdn(p->list));
	gboolean ok = FALSE;

	for (guint i = 0; !ok && i < dests->len; i++)
		ok = strcmp(dests->pdata[i], list_key) == 0 ||
		     acceptable_alias(p, dests->pdata[i]);
	g_free(list_key);
	return ok;
}

/* Appends each header of obj as "Name: decoded value". */
static void
add_header_lines(GMimeObject *obj, GPtrArray *out)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
	int n = g_mime_header_list_get_count(hl);

	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		char *unfolded = g_mime_utils_header_unfold(
			g_mime_header_get_raw_value(h));
		char *decoded = g_mime_utils_header_decode_text(NULL, unfolded);

		g_ptr_array_add(out, g_strdup_printf("%s: %s",
			g_mime_header_get_name(h), g_strstrip(decoded)));
		g_free(unfolded);
		g_free(decoded);
	}
}

static void
add_part_lines(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	add_header_lines(part, data);
}

/* Every header of the message and of each of its MIME parts (GMime keeps
 * Content-* on the parts), for the regex rules, as Mailman matches them. */
static GPtrArray *
header_lines(GMimeMessage *msg)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	GMimeObject *body = g_mime_message_get_mime_part(msg);

	add_header_lines(GMIME_OBJECT(msg), out);
	if (body != NULL) {
		add_header_lines(body, out);
		if (GMIME_IS_MULTIPART(body))
			g_mime_multipart_foreach(GMIME_MULTIPART(body),
						 add_part_lines, out);
	}
	return out;
}

static gboolean
any_line_matches(struct post *p, GPtrArray *lines, const char *pattern)
{
	GError *e = NULL;
	GRegex *re = g_regex_new(pattern, G_REGEX_CASELESS | G_REGEX_MULTILINE,
				 0, &e);
	gboolean m = FALSE;

	if (re == NULL) {
		log_warning("pipeline", "list %s: bad regex \"%s\": %s",
			    list_fqdn(p->list), pattern, e->message);
		g_error_free(e);
		return FALSE;
	}
	for (guint i = 0; !m && i < lines->len; i++)
		m = g_regex_match(re, lines->pdata[i], 0, NULL);
	g_regex_unref(re);
	return m;
}

/* header_filter_rules: "ACTION REGEX" lines.  Returns the result of the
 * first matching rule (accept: PIPE_CONTINUE and no further rules), or -2
 * when none matched. */
static int
header_filters(struct post *p, GPtrArray *lines)
{
	static const struct {
		const char *name;
		enum pipe_result r;
	} actions[] = {
		{ "accept", PIPE_CONTINUE }, { "hold", PIPE_HOLD },
		{ "reject", PIPE_REJECT }, { "discard", PIPE_DISCARD },
	};
	char **rules = list_get_lines(p->list, "header_filter_rules");
	int result = -2;

	for (guint i = 0; result == -2 && rules[i] != NULL; i++) {
		char *sp = strpbrk(rules[i], " \t");
		char *action;

		if (sp == NULL)
			continue;
		action = g_ascii_strdown(rules[i], sp - rules[i]);
		for (guint a = 0; a < G_N_ELEMENTS(actions); a++) {
			if (strcmp(action, actions[a].name) != 0 ||
			    !any_line_matches(p, lines, g_strchug(sp)))
				continue;
			result = actions[a].r;
			post_set_reason(p, "The message headers matched a filter "
					"rule (%s)", g_strchug(sp));
		}
		g_free(action);
	}
	g_strfreev(rules);
	return result;
}

/* bounce_matching_headers: "Name: regex" lines. */
static gboolean
bounce_matching(struct post *p)
{
	char **rules = list_get_lines(p->list, "bounce_matching_headers");
	gboolean m = FALSE;

	for (guint i = 0; !m && rules[i] != NULL; i++) {
		char *colon = strchr(rules[i], ':');
		char *name, *value;

		if (colon == NULL)
			continue;
		name = g_strstrip(g_strndup(rules[i], colon - rules[i]));
		value = message_header_decoded(p->msg, name);
		if (value != NULL) {
			char *re = g_strstrip(g_strdup(colon + 1));
			m = g_regex_match_simple(re, value, G_REGEX_CASELESS, 0);
			g_free(re);
		}
		if (m)
			post_set_reason(p, "The message has a header matching "
					"bounce_matching_headers (%s)", rules[i]);
		g_free(name);
		g_free(value);
	}
	g_strfreev(rules);
	return m;
}

/* The size of the body (what follows the header), as Mailman measures
 * max_message_size: from the metadata the runner set, else computed. */
static size_t
post_size(struct post *p)
{
	int64_t size = queue_meta_get_int(p->meta, META_POST_BODY_SIZE, -1);
	GByteArray *bytes;

	if (size >= 0)
		return (size_t)size;
	bytes = message_to_bytes(p->msg);
	size = bytes->len - message_header_length((const char *)bytes->data,
						  bytes->len);
	g_byte_array_unref(bytes);
	return (size_t)size;
}

enum pipe_result
pipe_hold(struct post *p, GError **error)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(p->msg));
	int n = g_mime_header_list_get_count(hl);
	int64_t max_rcpts, max_kb;
	GPtrArray *dests, *rcpts, *lines;
	enum pipe_result r = PIPE_CONTINUE;
	int filtered;
	/* An article from the linked newsgroup is addressed to the group,
	 * not to the list: the destination tests do not apply to it. */
	gboolean usenet = queue_meta_get(p->meta, META_FROM_USENET) != NULL;

	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		char *v;

		if (g_ascii_strcasecmp(g_mime_header_get_name(h), "X-BeenThere") != 0)
			continue;
		v = g_strstrip(g_strdup(g_mime_header_get_raw_value(h)));
		if (address_equal(v, list_fqdn(p->list))) {
			post_set_reason(p, "Mail loop: the post has been through "
					"this list before (X-BeenThere)");
			g_free(v);
			return PIPE_DISCARD;
		}
		g_free(v);
	}
	if (p->approved)
		return PIPE_CONTINUE;
	lines = header_lines(p->msg);
	filtered = header_filters(p, lines);
	g_ptr_array_unref(lines);
	/* accept ends the filter rules only; the other holds still apply. */
	if (filtered != -2 && filtered != PIPE_CONTINUE)
		return filtered;
	dests = message_addresses(p->msg, dest_headers);
	rcpts = message_addresses(p->msg, rcpt_headers);
	max_rcpts = post_setting_int(p, "max_num_recipients");
	max_kb = post_setting_int(p, "max_message_size");
	if (post_setting_bool(p, "administrivia") && looks_like_command(p)) {
		char *req = list_address(p->list, "-request");
		post_set_reason(p, "Message may contain administrivia (commands "
				"belong to %s)", req);
		g_free(req);
		r = PIPE_HOLD;
	} else if (!usenet && max_rcpts > 0 && rcpts->len >= (guint)max_rcpts) {
		post_set_reason(p, "Too many recipients to the message");
		r = PIPE_HOLD;
	} else if (!usenet &&
		   post_setting_bool(p, "require_explicit_destination") &&
		   !explicit_destination(p, dests)) {
		post_set_reason(p, "Message has implicit destination");
		r = PIPE_HOLD;
	} else if (bounce_matching(p)) {
		r = PIPE_HOLD;
	} else if (max_kb > 0 && post_size(p) > (size_t)max_kb * 1024) {
		post_set_reason(p, "Message body is too big: %zu bytes with a "
				"limit of %" G_GINT64_FORMAT " KB", post_size(p),
				max_kb);
		r = PIPE_HOLD;
	} else if (!usenet && post_setting_bool(p, "gateway_to_news") &&
		   post_setting_int(p, "news_moderation") == 2) {
		post_set_reason(p, "Posting to a moderated newsgroup");
		r = PIPE_HOLD;
	}
	g_ptr_array_unref(dests);
	g_ptr_array_unref(rcpts);
	return r;
}
