/*
 * headers.h - the list headers of a post (pipe_headers.c): what the
 * cleanse and cookheaders handlers do, and the per-member part that the
 * delivery runner adds to each personalised copy.
 *
 * docs/headers.md lists every header herald adds, removes or rewrites.
 */
#ifndef HERALD_HEADERS_H
#define HERALD_HEADERS_H

#include <glib.h>
#include <gmime/gmime.h>

#include "list/list.h"

/* For a copy to one member (personalised delivery): List-Unsubscribe
 * becomes <one-click URL naming the member>, <mailto:LIST-leave@DOMAIN>
 * and List-Unsubscribe-Post: List-Unsubscribe=One-Click is set (RFC
 * 8058).  One click needs an https URL: when web.base_url is not https,
 * List-Unsubscribe stays the list's (options page, mailto) and no
 * List-Unsubscribe-Post is set.  Nothing is done when the list has
 * include_rfc2369_headers off.  -1 with *error when the site key cannot
 * be had or member_addr is not an address. */
int headers_personalise(GMimeMessage *msg, struct list *l,
			const char *member_addr, GError **error);

/* The subject with the list's prefix, as cookheaders makes it: subject is
 * the decoded (UTF-8) subject or NULL, prefix the subject_prefix setting,
 * number the post number for %d (only asked for when the prefix has one:
 * the callback may fail, then NULL with *error).  Exposed for the tests and
 * for tools that show what a subject would become. */
typedef int64_t (*headers_number_fn)(void *ctx, GError **error);
char *headers_prefix_subject(const char *subject, const char *prefix,
			     headers_number_fn number, void *ctx,
			     GError **error);

#endif
