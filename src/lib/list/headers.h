/*
 * headers.h - the headers a list puts on its mail (headers.c): what the
 * pipeline's cleanse and cookheaders handlers do to a post, and the
 * per-member part that the delivery runner adds to each personalised copy.
 *
 * Every function takes the message and the list (and the poster or member
 * where one matters), not a pipeline post, so that digests, notices and
 * the web interface can put the same headers on mail that is no post.
 * Header values are given to GMime as UTF-8 with charset "utf-8": GMime
 * encodes (RFC 2047) only the words that need it.
 *
 * docs/headers.md lists every header herald adds, removes or rewrites.
 */
#ifndef HERALD_HEADERS_H
#define HERALD_HEADERS_H

#include <glib.h>
#include <gmime/gmime.h>

#include "list/list.h"
#include "list/token.h"

/* The post number for a subject_prefix with %d: asked only when the prefix
 * has one; -1 with *error when it cannot be had. */
typedef int64_t (*headers_number_fn)(void *ctx, GError **error);

/* Mailman's Cleanse: removes approval passwords and read-receipt requests
 * and, on an anonymous list (anonymous_list), every header that names the
 * poster: From and Reply-To become the list, Message-ID a random one.
 * poster (the author's address, or "") is only named in the log. */
void headers_cleanse(GMimeMessage *msg, struct list *l, const char *poster);

/* Mailman's CookHeaders, in its order: the subject prefix
 * (headers_cook_subject), X-BeenThere, Precedence, Reply-To and Cc
 * (headers_reply_to), the List-* headers when include_rfc2369_headers
 * (headers_list), Sender and Errors-To.  -1 with *error only when number
 * fails. */
int headers_cook(GMimeMessage *msg, struct list *l, headers_number_fn number,
		 void *ctx, GError **error);

/* Subject gets the list's subject_prefix (headers_prefix_subject), ASCII
 * as written, anything else RFC 2047-encoded.  Nothing changes when the
 * prefix is empty; -1 with *error only when number fails. */
int headers_cook_subject(GMimeMessage *msg, struct list *l,
			 headers_number_fn number, void *ctx, GError **error);

/* Reply-To as reply_goes_to_list, reply_to_address and
 * first_strip_reply_to want it; with full personalisation (personalize 2)
 * the list goes to Cc, so that "reply all" still reaches it. */
void headers_reply_to(GMimeMessage *msg, struct list *l);

/* The list's RFC 2369 and 2919 headers (List-Id, -Help, -Post when
 * include_list_post_header, -Subscribe, -Unsubscribe, -Archive when
 * archive, -Owner), in place of any an upstream list put there. */
void headers_list(GMimeMessage *msg, struct list *l);

/* Whether a copy to one member gets a one-click List-Unsubscribe (RFC
 * 8058): the list has include_rfc2369_headers and its web address is
 * https.  A copy that does needs the site key (headers_personalise). */
gboolean headers_one_click(struct list *l);

/* For a copy to one member (personalised delivery): List-Unsubscribe
 * becomes <one-click URL naming the member>, <mailto:LIST-leave@DOMAIN>
 * and List-Unsubscribe-Post: List-Unsubscribe=One-Click is set (RFC
 * 8058).  One click needs an https URL: when web.base_url is not https,
 * List-Unsubscribe stays the list's (options page, mailto) and no
 * List-Unsubscribe-Post is set.  Nothing is done when the list has
 * include_rfc2369_headers off.  key is the site key a job read once for
 * all its copies (token_key_load), or NULL to read it for this copy alone.
 * -1 with *error when the site key cannot be had or member_addr is not an
 * address. */
int headers_personalise(GMimeMessage *msg, struct list *l,
			const struct token_key *key, const char *member_addr,
			GError **error);

/* The List-Unsubscribe field headers_personalise puts in a copy to
 * member_addr, as it is written ("List-Unsubscribe: <...>, <mailto:...>"
 * folded, with its line end): for delivery, which makes the copies of a
 * post that differ only there from one copy's bytes.  NULL with *error as
 * headers_personalise. */
char *headers_unsubscribe_field(struct list *l, const struct token_key *key,
				const char *member_addr, GError **error);

/* The subject with the list's prefix, as cookheaders makes it: subject is
 * the decoded (UTF-8) subject or NULL, prefix the subject_prefix setting,
 * number the post number for %d (only asked for when the prefix has one:
 * the callback may fail, then NULL with *error).  Exposed for the tests and
 * for tools that show what a subject would become. */
char *headers_prefix_subject(const char *subject, const char *prefix,
			     headers_number_fn number, void *ctx,
			     GError **error);

#endif
