/*
 * list.h - mailing lists: names, creation and removal, settings.
 *
 * A list lives in lists/<name>@<domain>/ under the var dir:
 *     config     its settings (a GLib key file, one group per category)
 *     counters   post number and last post time, apart from the settings so
 *                that a post does not rewrite them
 * Changes are made under the list lock (locks/list-<name>@<domain>), each
 * file replaced atomically, so readers need no lock.  See docs/formats.md.
 */
#ifndef HERALD_LIST_H
#define HERALD_LIST_H

#include <glib.h>
#include <stdint.h>

#include "store/lock.h"
#include "store/site.h"

struct list;

/* Checks a list's posting address NAME@DOMAIN: NAME made of Mailman's
 * characters [-+_.=a-z0-9], lower case, not starting with '.'; DOMAIN a
 * lower-case host name.  On success *name_r and *domain_r (optional) are
 * set; on failure the error says what is wrong. */
int list_name_check(const char *fqdn, char **name_r, char **domain_r,
		    GError **error);

/* Creates a list with its default settings and the given owners (at least
 * one).  Fails with HERALD_ERR_EXISTS when it exists. */
int list_create(struct site *site, const char *fqdn, const char *const *owners,
		GError **error);

/* Removes a list's settings and members; its archive stays unless purge. */
int list_remove(struct site *site, const char *fqdn, gboolean purge,
		GError **error);

/* The lists of the site, sorted (their posting addresses). */
GPtrArray *list_all(struct site *site, GError **error);

/* Opens a list (HERALD_ERR_NOTFOUND if there is none). */
struct list *list_open(struct site *site, const char *fqdn, GError **error);
void list_free(struct list **lp);
const char *list_fqdn(const struct list *l);
const char *list_dir(const struct list *l);
struct site *list_site(const struct list *l);

/* A setting's value (its default when unset).  NULL with an error for an
 * unknown name. */
char *list_get(struct list *l, const char *name, GError **error);
gboolean list_get_bool(struct list *l, const char *name);
int64_t list_get_int(struct list *l, const char *name);

/* Checks, normalises and stores one setting, under the list lock. */
int list_set(struct list *l, const char *name, const char *value,
	     GError **error);

/* list_set in two steps, for a form that changes several settings at
 * once or none: list_check_setting checks and normalises a value exactly
 * as list_set does (the same errors; a password is hashed), giving the
 * stored form in *norm_r; list_set_checked stores such stored forms,
 * names[i] = norms[i] (NULL-terminated), under one lock and in one
 * rewrite of the file. */
int list_check_setting(const char *name, const char *value, char **norm_r,
		       GError **error);
int list_set_checked(struct list *l, const char *const *names,
		     const char *const *norms, GError **error);

/* Every setting as a key file text (passwords as their hashes), and back:
 * import checks every value before it changes anything.  Imported
 * password hashes must cost at least what herald's own do (see
 * list_setting_password_hash); a setting the text leaves out is kept as
 * it is. */
char *list_export(struct list *l);
int list_import(struct list *l, const char *text, GError **error);
/* list_export() without the passwords (a comment says they are left
 * out): what `herald config export` prints unless asked for secrets.
 * Imported again, it keeps the list's passwords. */
char *list_export_without_secrets(struct list *l);

/* Takes the list lock (lifetime lock.lifetime, waiting up to timeout_ms);
 * *lock_r is to be released with lock_free. */
int list_lock(struct list *l, int64_t timeout_ms, struct lock **lock_r,
	      GError **error);

/* The list's counters (file counters: post_id, last_post_time, ...).  get
 * reads without a lock (0 when unset); update takes the list lock and
 * either adds add (when not 0) or stores set, giving the old value in
 * *old_r (optional). */
int list_counter_get(struct list *l, const char *name, int64_t *value_r,
		     GError **error);
int list_counter_update(struct list *l, const char *name, int64_t add,
			int64_t set, int64_t *old_r, GError **error);
/* list_counter_update(), storing also_set in counter also_name in the same
 * locked rewrite: one lock cycle and one write for two counters (a post's
 * number and time). */
int list_counter_update_with(struct list *l, const char *name, int64_t add,
			     int64_t set, int64_t *old_r, const char *also_name,
			     int64_t also_set, GError **error);

/* A LS_LIST setting's values, blank lines dropped (NULL-terminated). */
char **list_get_lines(struct list *l, const char *name);
/* Whether a member may choose lang: "" (the list's own), the list's
 * preferred_language, or one of its available_languages. */
gboolean list_language_available(struct list *l, const char *lang);
/* Whether candidate is the password stored in setting name (password,
 * mod_password, post_password); an unset password matches nothing. */
gboolean list_check_password(struct list *l, const char *name,
			     const char *candidate);
/* The list's address with suffix: "" the posting address, "-owner",
 * "-bounces", "-request", ... */
char *list_address(struct list *l, const char *suffix);
/* LIST<suffix>+<detail>@DOMAIN: a confirmation's LIST-confirm+TOKEN, a
 * VERP address. */
char *list_address_plus(struct list *l, const char *suffix, const char *detail);

/* Rereads the settings (after another process changed them). */
int list_reload(struct list *l, GError **error);

#endif
