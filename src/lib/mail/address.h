/*
 * address.h - e-mail addresses in one place: parsing, validation,
 * normalisation and comparison.
 *
 * Every part of herald that reads an address (the member roster, the
 * posting pipeline's From/To/Cc, bans, moderation lists) goes through this
 * module, so "is this an address", "how is it written" and "is it the same
 * member" have one answer.  docs/addresses.md says what is accepted and why.
 *
 * Two forms of an address:
 *   - the address itself (struct address.addr): the addr-spec normalised
 *     for delivery: domain lower-cased and in A-label (xn--) form, local
 *     part as written (its case kept), quotes only where needed.  Pure
 *     ASCII, at most 254 octets.
 *   - the key (address_key): the address folded to lower case in full, for
 *     comparison, roster lookups and ban lists.  Never used for delivery.
 */
#ifndef HERALD_ADDRESS_H
#define HERALD_ADDRESS_H

#include <glib.h>

/* RFC 5321 limits, in octets of the normalised (A-label) form. */
#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_DOMAIN_MAX 253
#define ADDRESS_MAX 254

struct address {
	char *addr;	/* normalised addr-spec (see above), never NULL */
	char *name;	/* display name, decoded to UTF-8, or NULL */
};

/* Parses one mailbox: "addr", "<addr>", "Name <addr>", "\"Quoted, Name\"
 * <addr>", "addr (Name)"; RFC 2047 encoded words in the name are decoded.
 * Returns 0 and sets *addr_r, or -1 with HERALD_ERR_INVALID and a message
 * naming what is wrong (empty, several addresses, a group, CR/LF, ...). */
int address_parse(const char *text, struct address **addr_r, GError **error);

/* Parses a header value with any number of mailboxes and groups (To, Cc;
 * folded lines allowed).  Groups are flattened into their members, so
 * "undisclosed-recipients:;" gives none.  All or nothing: one bad address
 * fails the whole value.  *addrs_r holds struct address pointers and frees
 * them itself (g_ptr_array_unref). */
int address_parse_list(const char *text, GPtrArray **addrs_r, GError **error);

/* Checks a bare addr-spec (no name, no brackets, no comments). */
int address_validate(const char *addr_spec, GError **error);

/* The normalised form of a bare addr-spec (struct address.addr), or NULL
 * with *error set when it is not valid. */
char *address_normalise(const char *addr_spec, GError **error);

/* The comparison key of a bare addr-spec: its normalised form, lower-cased
 * in full.  NULL when addr_spec is not a valid address. */
char *address_key(const char *addr_spec);

/* Whether two bare addr-specs are the same member (equal keys).  An
 * invalid address equals nothing, not even itself. */
gboolean address_equal(const char *a, const char *b);

/* Whether addr equals (address_equal) one of addrs (NULL-terminated). */
gboolean address_in(const char *const *addrs, const char *addr);

/* "Name <addr>" for a header, the name quoted or RFC 2047-encoded as
 * needed; just "addr" without a name.  Never folded. */
char *address_format(const struct address *a);

void address_free(struct address **a);

/* address_free for a GPtrArray of struct address * (a GDestroyNotify). */
void address_free_ptr(gpointer a);

#endif
