/*
 * decorate.h - the list's header and footer (msg_header, msg_footer)
 * around a post, MIME-aware, as Mailman 2.1's Decorate.
 *
 * The templates take Mailman's %(name)s substitutions:
 *     real_name, list_name (the local part; _internal_name is the same),
 *     host_name, web_page_url (the web base URL), description, info,
 *     cgiext (always empty: herald's URLs have no .cgi)
 * and herald's own, which its default footer uses:
 *     list (the posting address), listinfo_url
 * (these and every other list-wide variable of the templates of herald's
 * own mail: template_vars_for_list in list/template.h)
 * and for a copy to one member (personalised delivery):
 *     user_address (the address, lower case), user_delivered_to (as the
 *     member wrote it), user_name (the member's name, else the address),
 *     user_language, user_optionsurl (that member's options page)
 * A name herald does not know is left as written, %(name)s, as is every
 * user_* in a copy that is not personalised (Mailman's SafeDict).  "%%" is
 * "%".  Lines lose their trailing spaces, but "-- " (the signature
 * separator) keeps its one.  A template of only white space adds nothing.
 *
 * Where the text goes:
 *   - a post that is one text/plain part, not an attachment: into its text,
 *     in the part's own charset; if the text does not fit that charset (or
 *     the part's text cannot be read in it) the part becomes UTF-8;
 *   - multipart/mixed: the header and footer become inline text/plain parts
 *     at its start and end;
 *   - anything else (multipart/alternative or related, a signed or
 *     encrypted post, an HTML-only post, a text/plain attachment): the post
 *     is wrapped whole in a new multipart/mixed between the two parts, so
 *     that nothing inside a signature changes.
 */
#ifndef HERALD_DECORATE_H
#define HERALD_DECORATE_H

#include <glib.h>
#include <gmime/gmime.h>

#include "list/list.h"
#include "list/roster.h"

/* The header or footer text of template (UTF-8) for list l; m is the
 * member of a personalised copy or NULL.  "" when it adds nothing,
 * otherwise ending in a newline. */
char *decorate_text(struct list *l, const char *template,
		    const struct member *m);

/* Adds msg_header and msg_footer to msg.  member_addr is the recipient of
 * a personalised copy (user_* from the address alone: user_name is the
 * address) or NULL.  -1 with *error only when member_addr is not an
 * address. */
int decorate_message(GMimeMessage *msg, struct list *l,
		     const char *member_addr, GError **error);

/* The same for a member the caller has from the roster (the delivery
 * runner, which must not load the roster once per copy): user_name and
 * user_language from the record. */
int decorate_message_member(GMimeMessage *msg, struct list *l,
			    const struct member *m, GError **error);

/* msg_header and msg_footer for the many copies of one job (personalised
 * delivery): the list's settings and variables read once, and the text
 * filled in once when it names no user_* variable.  decorate_job_apply
 * does what decorate_message_member does; it may run in several threads
 * at once on one job. */
struct decorate_job;
struct decorate_job *decorate_job_new(struct list *l);
void decorate_job_apply(const struct decorate_job *dj, GMimeMessage *msg,
			const struct member *m);
void decorate_job_free(struct decorate_job **djp);
/* Whether msg_header and msg_footer are the same for every member. */
gboolean decorate_job_same_for_all(const struct decorate_job *dj);

/* A digest's copy to member m (personalised delivery): the digest_header
 * and digest_footer text the digest was built with, for no one (user_*
 * left as written), made again for m, where the builder put it: a text
 * part of its own (MIME digest) or inside the one text part (plain
 * digest: the first occurrence for the header, the last for the footer).
 * Nothing changes when neither names a user_* variable. */
void decorate_digest_member(GMimeMessage *msg, struct list *l,
			    const struct member *m);

#endif
