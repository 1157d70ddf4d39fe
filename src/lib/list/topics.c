/*
 * topics.c - Mailman 2.1's topic filter (Tagger and CalcRecips' topic
 * rules): which topics a post is about, and who wants it.
 *
 * The expressions are compiled when the setting is parsed, and the
 * setting is parsed (so checked) when an admin sets it: a typo in a
 * regular expression is refused at `herald config set`, not found by the
 * first post, which would otherwise be shunted.  Matching never fails:
 * GRegex's match-time errors (a backtracking limit) count as no match.
 */
#include "list/topics.h"
#include "base/base.h"
#include "mail/message.h"

#include <string.h>

static void
topic_free(gpointer p)
{
	struct topic *tp = p;

	g_free(tp->name);
	g_free(tp->pattern);
	g_free(tp->description);
	if (tp->re != NULL)
		g_regex_unref(tp->re);
	g_free(tp);
}

void
topics_free(struct topics **tp)
{
	if (*tp == NULL)
		return;
	g_ptr_array_unref((*tp)->all);
	g_free(*tp);
	*tp = NULL;
}

/* A topic name is a word that a member's comma-separated choice and the
 * X-Topics header can carry unambiguously. */
static gboolean
name_valid(const char *name)
{
	return *name != '\0' && strpbrk(name, ",\r\n") == NULL &&
	       g_utf8_validate(name, -1, NULL);
}

static struct topic *
parse_line(const char *line, int lineno, GError **error)
{
	char **f = g_strsplit(line, "\t", 3);
	struct topic *tp = NULL;
	GError *re_error = NULL;
	GRegex *re;

	if (f[0] == NULL || f[1] == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "topics: line %d: expected name<TAB>regular "
			    "expression[<TAB>description]", lineno);
		goto out;
	}
	g_strstrip(f[0]);
	g_strstrip(f[1]);
	if (!name_valid(f[0]) || *f[1] == '\0') {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "topics: line %d: %s", lineno,
			    *f[1] == '\0' ? "the regular expression is empty"
					  : "a topic name may not be empty "
					    "or hold a comma");
		goto out;
	}
	re = g_regex_new(f[1], G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0,
			 &re_error);
	if (re == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "topics: line %d (%s): bad regular expression: %s",
			    lineno, f[0], re_error->message);
		g_error_free(re_error);
		goto out;
	}
	tp = g_new0(struct topic, 1);
	tp->name = g_strdup(f[0]);
	tp->pattern = g_strdup(f[1]);
	tp->description = g_strstrip(g_strdup(f[2] != NULL ? f[2] : ""));
	tp->re = re;
out:
	g_strfreev(f);
	return tp;
}

struct topics *
topics_parse(const char *text, GError **error)
{
	struct topics *t = g_new0(struct topics, 1);
	char **lines = g_strsplit(text != NULL ? text : "", "\n", -1);

	t->all = g_ptr_array_new_with_free_func(topic_free);
	for (int i = 0; lines[i] != NULL; i++) {
		struct topic *tp;

		/* Blank lines are skipped; the fields are trimmed one by one
		 * (a leading tab is an empty name, not nothing). */
		if (strspn(lines[i], " \t\r") == strlen(lines[i]))
			continue;
		if ((tp = parse_line(lines[i], i + 1, error)) == NULL) {
			topics_free(&t);
			break;
		}
		if (topics_find(t, tp->name) != NULL) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
				    "topics: line %d: topic %s is named twice",
				    i + 1, tp->name);
			topic_free(tp);
			topics_free(&t);
			break;
		}
		g_ptr_array_add(t->all, tp);
	}
	g_strfreev(lines);
	return t;
}

const struct topic *
topics_find(const struct topics *t, const char *name)
{
	for (guint i = 0; i < t->all->len; i++) {
		const struct topic *tp = t->all->pdata[i];

		if (g_ascii_strcasecmp(tp->name, name) == 0)
			return tp;
	}
	return NULL;
}

/* Adds to lines the values of the Subject: and Keywords: lines among the
 * first limit non-blank lines of the first text part: Mailman lets a poster
 * whose client cannot set Keywords: write it at the top of the body. */
static void
body_lines(GMimeMessage *msg, int limit, GPtrArray *lines)
{
	GMimeTextPart *part;
	char *text, **all;
	int seen = 0;

	if (limit == 0 || (part = message_first_text_part(msg)) == NULL ||
	    (text = g_mime_text_part_get_text(part)) == NULL)
		return;
	all = g_strsplit(text, "\n", -1);
	for (int i = 0; all[i] != NULL && (limit < 0 || seen < limit); i++) {
		char *l = g_strstrip(all[i]);

		if (*l == '\0')
			continue;
		seen++;
		if (g_ascii_strncasecmp(l, "subject:", 8) == 0)
			g_ptr_array_add(lines, g_strdup(l + 8));
		else if (g_ascii_strncasecmp(l, "keywords:", 9) == 0)
			g_ptr_array_add(lines, g_strdup(l + 9));
	}
	g_strfreev(all);
	g_free(text);
}

GPtrArray *
topics_match(const struct topics *t, GMimeMessage *msg, int bodylines)
{
	static const char *const headers[] = { "Subject", "Keywords" };
	GPtrArray *hits = g_ptr_array_new();
	GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);

	if (t->all->len == 0)
		goto out;
	for (size_t i = 0; i < G_N_ELEMENTS(headers); i++) {
		char *v = message_header_decoded(msg, headers[i]);
		if (v != NULL)
			g_ptr_array_add(lines, v);
	}
	body_lines(msg, bodylines, lines);
	for (guint i = 0; i < t->all->len; i++) {
		const struct topic *tp = t->all->pdata[i];

		for (guint j = 0; j < lines->len; j++) {
			if (g_regex_match(tp->re, lines->pdata[j], 0, NULL)) {
				g_ptr_array_add(hits, tp->name);
				break;
			}
		}
	}
out:
	g_ptr_array_unref(lines);
	return hits;
}

static gboolean
chosen_has(const char *chosen, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = chosen; *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n == len && g_ascii_strncasecmp(p, name, n) == 0)
			return TRUE;
		p += n;
		if (*p == ',')
			p++;
	}
	return FALSE;
}

gboolean
topics_member_receives(const char *chosen, gboolean nmtopics,
		       const char *const *hits)
{
	if (chosen == NULL || *chosen == '\0')
		return TRUE;
	if (hits == NULL || hits[0] == NULL)
		return nmtopics;
	for (int i = 0; hits[i] != NULL; i++)
		if (chosen_has(chosen, hits[i]))
			return TRUE;
	return FALSE;
}

char *
topics_choice_normalise(const struct topics *t, const char *names,
			GError **error)
{
	char **want = g_strsplit(names, ",", -1);
	GString *out = g_string_new(NULL);

	for (int i = 0; want[i] != NULL; i++) {
		const struct topic *tp;

		if (*g_strstrip(want[i]) == '\0')
			continue;
		if ((tp = topics_find(t, want[i])) == NULL) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
				    "no topic %s in this list", want[i]);
			g_strfreev(want);
			g_string_free(out, TRUE);
			return NULL;
		}
		if (chosen_has(out->str, tp->name))
			continue;
		if (out->len > 0)
			g_string_append_c(out, ',');
		g_string_append(out, tp->name);
	}
	g_strfreev(want);
	return g_string_free(out, FALSE);
}
