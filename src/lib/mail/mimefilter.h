/*
 * mimefilter.h - content filtering of a message's MIME parts: the rules of
 * the list settings filter_mime_types, pass_mime_types,
 * filter_filename_extensions, pass_filename_extensions,
 * collapse_alternatives and convert_html_to_plaintext, applied to a
 * GMimeMessage (pipe_mimedel.c applies them to posts).
 *
 * In order (docs/content-filter.md says more):
 *  1. A part is removed, with all it holds, when its type (type/subtype, or
 *     the bare type) is in filter_mime_types; when pass_mime_types is not
 *     empty and its type is not in it (multiparts and attached messages
 *     are exempt from this one); when its file name's extension is in
 *     filter_filename_extensions; or when it has an extension and
 *     pass_filename_extensions is not empty and does not hold it.
 *     Inside a kept message/rfc822 part the same rules apply to the
 *     attached message's parts.
 *  2. multipart/signed and multipart/encrypted are kept whole or removed
 *     whole, never changed inside (that would break the signature): they
 *     are removed when the rules of 1 remove them, or when any part inside
 *     has a type in filter_mime_types or an extension in
 *     filter_filename_extensions (so that signing is no way around them).
 *     The pass lists are not applied inside.
 *  3. After its parts: a multipart/alternative, when collapse_alternatives
 *     is on, is replaced by its first remaining part (the first in the
 *     message, the plainest by RFC 2046's order; Mailman 2.1's rule too);
 *     a multipart left with one part is replaced by that part; a multipart
 *     left with none is removed.
 *  4. When convert_html_to_plaintext is on, each remaining text/html part
 *     becomes text/plain; charset=utf-8 through html2text().
 * Parts nested deeper than MIMEFILTER_MAX_DEPTH are removed.
 */
#ifndef HERALD_MIMEFILTER_H
#define HERALD_MIMEFILTER_H

#include <glib.h>
#include <gmime/gmime.h>

/* Multiparts and attached messages inside one another: a part deeper than
 * this is removed (with what it holds).  No mail a person wrote nests so
 * deep; a message that does is an attack on MIME parsers, the members'
 * among them.  The walk itself is iterative; GMime caps its parse at
 * 1024 levels. */
#define MIMEFILTER_MAX_DEPTH 64

/* The rules.  Each list is NULL-terminated (or NULL for empty), one value
 * an entry as stored in the list settings; case, surrounding blanks and a
 * leading '.' on extensions do not matter.  A bare type ("image") names
 * all its subtypes, and so does the glob form ("image/" then '*'). */
struct mimefilter_settings {
	const char *const *filter_mime_types;
	const char *const *pass_mime_types;
	const char *const *filter_filename_extensions;
	const char *const *pass_filename_extensions;
	gboolean collapse_alternatives;
	gboolean convert_html_to_plaintext;
};

/* At most this many removals are described in mimefilter_result.removed. */
#define MIMEFILTER_MAX_REPORTED 20

struct mimefilter_result {
	gboolean changed;	/* anything removed, replaced or converted */
	gboolean empty;		/* nothing is left to send */
	char *top_removed;	/* when a rule removed the whole body (not
				 * only what it held): what and why, e.g.
				 * "text/html: not in pass_mime_types" */
	GPtrArray *removed;	/* each part a rule removed, described the
				 * same way (char *), the first
				 * MIMEFILTER_MAX_REPORTED of them */
	unsigned n_removed;	/* parts removed by a rule (all of them) */
	unsigned n_collapsed;	/* multipart/alternatives collapsed */
	unsigned n_converted;	/* text/html parts made text/plain */
};

/* Filters msg in place by the rules s.  When anything changed, the header
 * "X-Content-Filtered-By: herald" is set.  When nothing is left, the body
 * becomes an empty text/plain part and r->empty is set: such a message is
 * not to be sent.  r is filled in; free it with mimefilter_result_clear.
 * Cannot fail. */
void mimefilter_apply(GMimeMessage *msg, const struct mimefilter_settings *s,
		      struct mimefilter_result *r);
void mimefilter_result_clear(struct mimefilter_result *r);

/* The extension of a file name as the rules compare it: lower case,
 * after the last '.' of the last path component, trailing dots and blanks
 * ignored ("virus.exe." runs as virus.exe on Windows); NULL when it has
 * none. */
char *mimefilter_file_extension(const char *filename);

#endif
