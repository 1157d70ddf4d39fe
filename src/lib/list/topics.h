/*
 * topics.h - Mailman 2.1's topic filter: a list's named regular
 * expressions, the topics a post matches, and whether a member who chose
 * topics gets it.
 *
 * The list setting "topics" holds one topic a line: three tab-separated
 * fields, name, regular expression (PCRE, matched without regard to case,
 * anywhere in a line, as Mailman's re.search with IGNORECASE) and an
 * optional description.  It is checked when it is set (a bad regular
 * expression is refused then, never when a post arrives).  A member's
 * choice is struct member.topics (names, comma-separated) and the
 * OPT_NMTOPICS option.
 */
#ifndef HERALD_TOPICS_H
#define HERALD_TOPICS_H

#include <glib.h>
#include <gmime/gmime.h>

struct topic {
	char *name;
	char *pattern;
	char *description;	/* "" when none */
	GRegex *re;
};

/* A list's topics, in the order of the setting. */
struct topics {
	GPtrArray *all;		/* struct topic * */
};

/* Parses the stored "topics" setting; NULL with an error naming the line
 * (and what is wrong with its expression) if one does not parse.  An empty
 * text gives no topics. */
struct topics *topics_parse(const char *text, GError **error);
void topics_free(struct topics **tp);
const struct topic *topics_find(const struct topics *t, const char *name);

/* The names of the topics msg matches (owned by t), in t's order: each
 * expression is tried on Subject:, Keywords:, and the Subject: and
 * Keywords: lines among the first bodylines non-blank lines of the first
 * text part (0: none, < 0: every line).  Never NULL. */
GPtrArray *topics_match(const struct topics *t, GMimeMessage *msg,
			int bodylines);

/* Whether a member with these topic choices (comma-separated names, "" or
 * NULL for none) and the nmtopics flag gets a post that matched hits
 * (NULL-terminated names): a member who chose nothing gets every post; one
 * who chose topics gets the posts matching one of them, and the posts
 * matching no topic only with nmtopics. */
gboolean topics_member_receives(const char *chosen, gboolean nmtopics,
				const char *const *hits);

/* Checks a member's choice against the list's topics and returns it
 * normalised (names as the list spells them, comma-separated, without
 * repeats), or NULL with an error naming an unknown topic. */
char *topics_choice_normalise(const struct topics *t, const char *names,
			      GError **error);

#endif
