/*
 * site.h - the var dir and the site configuration (etc/herald.conf).
 *
 * Every site setting is declared once, in the table in site.c, with its
 * type, default and meaning; `herald site get/set` and the documentation
 * (docs/settings.md) come from that table.  Keys are written section.name,
 * the section being a GKeyFile group: "mta.smtp_port" is [mta] smtp_port.
 */
#ifndef HERALD_SITE_H
#define HERALD_SITE_H

#include <glib.h>
#include <stdint.h>

struct site;

/* The choices of a string setting that holds an Argon2id hash. */
#define PASSWORD_HASH_SETTING "(password hash)"

enum setting_type { SETTING_STRING, SETTING_INT, SETTING_BOOL, SETTING_ENUM };

struct setting_def {
	const char *key;	/* section.name; "*" matches one name part */
	enum setting_type type;
	const char *dflt;
	const char *choices;	/* SETTING_ENUM: "a|b|c", or
				 * SITE_CHOICES_RUNNER_KINDS */
	int64_t min, max;	/* SETTING_INT */
	const char *doc;
};

/* The choices of an enum setting that are the names of the runner kinds
 * (runner.<queue>.handler): the registry holds them, not this table. */
#define SITE_CHOICES_RUNNER_KINDS "(runner kinds)"

/* The table of site settings, ended by a NULL key. */
const struct setting_def *site_settings(void);
/* The definition that key matches, or NULL. */
const struct setting_def *site_setting_find(const char *key);
/* An enum setting's choices, "a|b|c" (NULL for other types), and the
 * setting's documentation: for the runner handler, the registry's kinds
 * with their docs; for a setting read at start, a sentence saying so.
 * Newly allocated. */
char *site_setting_choices(const struct setting_def *def);
char *site_setting_doc(const struct setting_def *def);
/* Whether def is read once when the master starts, so that a change takes
 * effect only after a restart.  Every other setting is picked up while
 * herald runs: runners within a second, services and the master at their
 * next look (docs/settings.md). */
gboolean site_setting_restart(const struct setting_def *def);
/* Whether def holds a secret (a password or its hash: its name ends in
 * "password"), which is shown only as whether it is set. */
gboolean site_setting_secret(const struct setting_def *def);

/* Checks value against def: NULL when fine, else an error message. */
char *site_setting_check(const struct setting_def *def, const char *value);

/* The subdirectories of a var dir that `herald init` creates. */
extern const char *const site_var_subdirs[];

/* Creates the var dir layout and a default etc/herald.conf (kept if it
 * exists).  Returns 0 or -1. */
int site_init(const char *var_dir, GError **error);

/* Loads var_dir/etc/herald.conf.  Fails with a hint to run `herald init`
 * when the var dir has none. */
struct site *site_open(const char *var_dir, GError **error);
void site_free(struct site **sp);
/* Rereads the file (SIGHUP). */
int site_reload(struct site *s, GError **error);
/* Rereads the file if it changed since it was read (`herald site set`
 * replaces it by rename, so another inode, size or mtime: an open() and
 * fstat() tell, also on another NFS host, where the open revalidates).
 * 1 when it was reread, 0 when unchanged, -1 with *error. */
int site_reload_if_changed(struct site *s, GError **error);

const char *site_var_dir(const struct site *s);
/* var_dir/<parts...>, newly allocated. */
char *site_path(const struct site *s, const char *first, ...) G_GNUC_NULL_TERMINATED;

/* The value of key (its default when unset); NULL with an error for an
 * unknown key. */
char *site_get(const struct site *s, const char *key, GError **error);
int64_t site_get_int(const struct site *s, const char *key);
gboolean site_get_bool(const struct site *s, const char *key);
/* Checks and stores key = value, rewriting the file atomically. */
int site_set(struct site *s, const char *key, const char *value,
	     GError **error);

/* The queues that have a [runner.<queue>] section, sorted. */
GPtrArray *site_runner_queues(const struct site *s);

#endif
