/*
 * template.h - the texts of the mail herald writes itself (welcome,
 * goodbye, confirmations, hold notices, command help, bounce warnings),
 * as Mailman 2.1's templates: the same file names and %(name)s variables.
 *
 * A template NAME in language LANG is looked for in
 *     lists/<list>/templates/LANG/NAME.txt    the list's own (var dir)
 *     etc/templates/LANG/NAME.txt             the site's (var dir)
 *     templates/LANG/NAME.txt                 built in (compiled in)
 * and LANG is tried in the order: the language asked for (a member's),
 * the list's preferred_language, "en".  docs/templates.md lists every
 * template with its variables.
 *
 * A template's first line is "Subject: ..." and a blank line follows it;
 * the rest is the body.  Both take variables.  Files are UTF-8 (a file
 * that is not is read as ISO-8859-1, the charset of many of Mailman 2.1's
 * older templates).
 *
 * Boundary: reads template files and list settings; sends only through
 * list/notice.h.
 */
#ifndef HERALD_TEMPLATE_H
#define HERALD_TEMPLATE_H

#include <glib.h>
#include <gmime/gmime.h>

#include "list/list.h"

struct template_text {
	char *subject;	/* UTF-8, one line; never NULL ("" when none) */
	char *body;	/* UTF-8, variables filled, ends in a newline */
	char *language;	/* the language actually used ("en", "de") */
};

/* Mailman's expansion: each %(name)s becomes vars' value of name (a
 * string -> string table; NULL: none), "%%" becomes "%", and anything else
 * stays as written, also %(name)s with a name vars does not have
 * (Mailman's SafeDict).  One pass: a value's own %(...)s is not expanded.
 * Newly allocated. */
char *template_expand(const char *text, GHashTable *vars);

/* The variables every template of list l may use (string -> string, both
 * g_free'd): listname, list_name, _internal_name (the local part),
 * real_name, list, listaddr, emailaddr, hostname, host_name, requestaddr,
 * requestemail, owneraddr, owneremail, listadmin, listowner, adminaddr,
 * adminemail (LIST-bounces, as Mailman's replybot), joinaddr, leaveaddr
 * (LIST-join@, LIST-leave@: herald's), listinfo_url, listurl,
 * web_page_url, admindb_url, adminDB, description, info, cgiext (""),
 * welcome and goodbye (welcome_msg and goodbye_msg with these variables
 * filled in, ending in a newline when not empty), version, and the
 * digest masthead's got_list_email, got_listinfo_url, got_request_email,
 * got_owner_email.  The caller adds the per-use ones (email, cookie,
 * confirmurl, ...). */
GHashTable *template_vars_for_list(struct list *l);

/* Sets name to a copy of value (NULL: "") in vars; _take takes value
 * (g_malloc'ed) instead of copying it. */
void template_vars_set(GHashTable *vars, const char *name, const char *value);
void template_vars_take(GHashTable *vars, const char *name, char *value);

/* The raw text of template name (no ".txt") for language (NULL: the
 * list's preferred_language), by the lookup above, the language it was
 * found in and where (source_r, optional: "list", "site" or "built-in").
 * 1 found, 0 there is none anywhere, -1 with *error when a file cannot be
 * read or name is not a template name ([a-z0-9_-]). */
int template_find(struct list *l, const char *name, const char *language,
		  char **text_r, char **language_r, const char **source_r,
		  GError **error);

/* The names of the built-in templates (without ".txt"), sorted. */
GPtrArray *template_builtin_names(void);

/* Finds template name for language (NULL: the list's preferred_language)
 * and fills in vars (NULL: template_vars_for_list(l)).  -1 with *error
 * when there is no such template anywhere (HERALD_ERR_NOTFOUND), name is
 * not a template name (HERALD_ERR_INVALID) or a file cannot be read. */
int template_render(struct list *l, const char *name, const char *language,
		    GHashTable *vars, struct template_text *out,
		    GError **error);
void template_text_clear(struct template_text *t);

/* Renders name and sends it as a notice (notice_send) to recipients;
 * when autoresponse is TRUE through notice_autorespond's per-address
 * daily limit instead (to recipients[0] alone).  Returns what notice_send
 * or notice_autorespond returns (-1 also when rendering fails). */
int template_send(struct list *l, const char *const *recipients,
		  const char *name, const char *language, GHashTable *vars,
		  GMimeMessage *attach, gboolean autoresponse, GError **error);

#endif
