/*
 * list_settings.h - the table of list settings: Mailman 2.1's names, types,
 * defaults and meanings, grouped in its admin categories.
 *
 * The table is the one source: `herald config` checks values against it,
 * shows and exports from it, and docs/list-settings.md is generated from
 * it (`herald config doc`), which also says which settings nothing acts
 * on yet (LS_PENDING).
 */
#ifndef HERALD_LIST_SETTINGS_H
#define HERALD_LIST_SETTINGS_H

#include <glib.h>
#include <stdint.h>

/* The posting pipeline's handlers in Mailman 2.1's order (pipeline.c). */
#define PIPELINE_DEFAULT_ORDER                                              \
	"authcheck,approve,replybot,dmarc,moderate,hold,mimedel,emergency,tagger," \
	"calcrecips,"                                                       \
	"avoiddups,cleanse,cookheaders,todigest,toarchive,tonews,scrubber,"         \
	"afterdelivery,"                                                    \
	"acknowledge,wrapmessage,decorate,tooutgoing"
#define PIPELINE_OWNER_ORDER "replybot,ownerrecips,tooutgoing"

enum list_setting_type {
	LS_BOOL,	/* yes | no (also true/false, 1/0 on input) */
	LS_INT,		/* an integer within min..max */
	LS_ENUM,	/* one of numbered choices; Mailman's numbers or names */
	LS_STRING,	/* one line */
	LS_TEXT,	/* several lines (headers, footers, notices) */
	LS_LIST,	/* several values, one a line (addresses, ^regexes) */
	LS_PASSWORD,	/* stored as an Argon2id hash, never in clear */
};

struct list_setting {
	const char *name;	/* Mailman's attribute name */
	const char *category;	/* Mailman's admin category */
	enum list_setting_type type;
	const char *dflt;	/* may use %(list)s, %(real_name)s, %(domain)s */
	const char *choices;	/* LS_ENUM: "0=poster|1=list|2=explicit" */
	int64_t min, max;	/* LS_INT */
	const char *doc;
	unsigned flags;		/* LS_PENDING */
};

/* Kept, checked, exported and imported (a list moved from Mailman keeps
 * it), but no code acts on it yet: the feature that reads it (bounce
 * processing, digests, welcome messages, ...) is still to come.  `herald
 * config doc` and `config show` say so.  tests/integration/
 * list-settings-pending.sh fails once some file of src/ names a setting
 * that has the flag: the change that starts acting on it removes it. */
#define LS_PENDING 0x1

/* The table, ended by a NULL name; in category order. */
const struct list_setting *list_settings(void);
const struct list_setting *list_setting_find(const char *name);
/* The categories in order, NULL-terminated. */
const char *const *list_setting_categories(void);
/* The name of a type ("yes/no", "integer", ...), for messages and docs. */
const char *list_setting_type_name(enum list_setting_type t);

/* Checks and normalises value for setting s: the stored form (enum as its
 * number, bool as yes/no, list lines trimmed, password hashed) or NULL
 * with an error that names the setting and the expected type.  A value
 * that is not UTF-8 is refused, whatever the type. */
char *list_setting_normalise(const struct list_setting *s, const char *value,
			     GError **error);

/* Checks a password's stored form, as an import gives it: "" (no
 * password), "$sha1$" and 40 lower-case hex digits (Mailman 2.1's
 * unsalted SHA-1 of an imported list's password: list_check_password
 * accepts it once and replaces it with an Argon2id hash) or an Argon2id
 * hash at least as costly as the ones herald
 * makes (memory and passes), returned as it is.  A weaker hash (m=8,t=1
 * from another tool, say) could be cracked quickly if the file leaked,
 * and cannot be strengthened without the password: NULL with an error. */
gboolean list_password_is_sha1(const char *stored);
/* Whether candidate matches an Argon2id hash (one verification at a time
 * in the process: its memory is the web service's peak). */
gboolean list_password_verify(const char *hash, const char *candidate);
/* Whether an Argon2id hash was made at other parameters than herald's
 * (list_settings.c): made again at its next good login. */
gboolean list_password_needs_rehash(const char *hash);
char *list_setting_password_hash(const struct list_setting *s,
				 const char *hash, GError **error);

/* The default of s for list name@domain, with %(real_name)s, %(list)s,
 * %(domain)s filled in; texts (LS_TEXT) keep theirs, as templates that are
 * filled in for each message. */
char *list_setting_default(const struct list_setting *s, const char *list_name,
			   const char *domain);

#endif
