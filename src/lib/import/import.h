/*
 * import.h - moving lists in from Mailman 2.1 and mlmmj.
 *
 * Boundary: reads another list manager's files (never runs its code:
 * Mailman's pickles go through pickle.h) and writes a herald list through
 * the library's own functions: list.h (settings), roster.h (members),
 * archive.h (the archive).  Each list is built in a staging var dir,
 * var/import/stage-<list>/, and moved into place by rename (stage.c), the
 * list's folder last: until that rename nothing of it is visible, and a
 * run that was killed starts that list again.  A list that exists is left
 * alone (importing twice is a no-op).  What cannot be carried (a setting
 * herald does not have, a held post, a pending request) is named in the
 * report, and the files it came from are copied to
 * var/import/kept-<list>/, never dropped.
 */
#ifndef HERALD_IMPORT_H
#define HERALD_IMPORT_H

#include <glib.h>
#include <stdint.h>

#include "store/site.h"

struct import_options {
	const char *only_list;	/* Mailman: import this list only (NULL: all) */
	const char *fqdn;	/* mlmmj: the herald list to make */
	gboolean dry_run;	/* read and report; write nothing */
};

struct import_totals {
	unsigned lists, lists_skipped;
	uint64_t members, settings, not_carried, archived, kept;
	uint64_t held, requests;
	uint64_t pages_checked, pages_mismatched;
};

/* Imports DIR, a Mailman 2.1 var prefix (lists/, archives/, data/).  The
 * report (lines for a person) gets what was done and what was not;
 * totals (optional) the counts.  0, or -1 when a list could not be
 * imported (the others still are; the report says which). */
int import_mailman2(struct site *site, const char *dir,
		    const struct import_options *o, GString *report,
		    struct import_totals *totals, GError **error);

/* Imports the mlmmj list directory DIR as the herald list o->fqdn. */
int import_mlmmj(struct site *site, const char *dir,
		 const struct import_options *o, GString *report,
		 struct import_totals *totals, GError **error);

/* The web server rules that send Mailman's old URLs of list NAME (its
 * Mailman name) to herald's list fqdn, for nginx and Apache. */
char *import_rewrite_nginx(struct site *site, const char *name,
			   const char *fqdn);
char *import_rewrite_apache(struct site *site, const char *name,
			    const char *fqdn);

#endif
