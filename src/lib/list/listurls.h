/*
 * listurls.h - a list's web addresses, as headers and footers name them.
 *
 * Every URL starts from the site setting web.base_url (given a final '/'
 * when it has none), or https://<the list's domain>/ when that is empty.
 * The web interface serves these paths (docs/headers.md lists them):
 *
 *     <base>listinfo/<list@domain>                 the list's page
 *     <base>archives/<list@domain>/                its archive
 *     <base>archives/<list@domain>/msgid/<key>     one message of it, by
 *                                                  its Message-ID (RFC 5064's
 *                                                  Archived-At)
 *     <base>options/<list@domain>                  members' options (login)
 *     <base>options/<list@domain>/<address>        one member's options
 *     <base>unsubscribe/<list@domain>?m=<address>&t=<token>
 *                                                  one-click unsubscribe
 *                                                  (RFC 8058, token.h)
 *
 * Addresses in a URL are percent-encoded (RFC 3986: all but unreserved
 * characters, so '@' is %40 and '+' is %2B).
 */
#ifndef HERALD_LISTURLS_H
#define HERALD_LISTURLS_H

#include <glib.h>

#include "list/list.h"
#include "list/token.h"

/* The base, ending in '/'. */
char *listurls_base(struct list *l);
char *listurls_listinfo(struct list *l);
char *listurls_archive(struct list *l);
/* The key of a Message-ID (without <>) in archive URLs: its SHA-1 in
 * hex; NULL for none, and for one that is not printable ASCII without
 * spaces or is 250 bytes or longer (the archive keeps a cleaned form of
 * such an ID, which a key made at delivery could not match). */
char *listurls_msgid_key(const char *msgid);
/* The message's permanent URL in the archive, NULL when its Message-ID
 * has no key. */
char *listurls_archived_at(struct list *l, const char *msgid);
char *listurls_options(struct list *l);
char *listurls_member_options(struct list *l, const char *address);
/* The one-click unsubscribe URL for a member, with its token made with
 * key, the site key (token_key_load): NULL with *error when address is not
 * an address. */
char *listurls_unsubscribe(struct list *l, const struct token_key *key,
			   const char *address, GError **error);

/* Whether url is https (RFC 8058 wants nothing else for one click). */
gboolean listurls_is_https(const char *url);

#endif
