/*
 * import-private.h - what the importers share: the staging var dir.
 */
#ifndef HERALD_IMPORT_PRIVATE_H
#define HERALD_IMPORT_PRIVATE_H

#include "import/import.h"
#include "list/list.h"

struct import_stage {
	struct site *real;
	struct site *stage;	/* a var dir of its own, the real one's settings */
	char *dir;		/* var/import/stage-<fqdn> */
	char *fqdn;
	gboolean claimed;	/* dir is ours (import-owner names us) */
	gboolean committed;
};

/* Prepares the staging var dir for fqdn, clearing what a killed run left.
 * 1 with *st_r set; 0 when the list exists already (imported before);
 * -1 on error (an archive of that name exists that no import left). */
int import_stage_begin(struct site *real, const char *fqdn,
		       struct import_stage **st_r, GError **error);
/* Moves the staged list (archive first, the list's folder last) into the
 * real var dir. */
int import_stage_commit(struct import_stage *st, GError **error);
/* Frees; removes the staging dir unless committed. */
void import_stage_free(struct import_stage **stp);

/* Removes path and everything under it (no error when absent). */
int import_remove_tree(const char *path, GError **error);
/* Copies file src to var/import/kept-<fqdn>/<name> (name NULL: src's). */
int import_keep(struct site *real, const char *fqdn, const char *src,
		const char *name, GError **error);

/* One Mailman 2.1 list being imported (mailman2.c). */
struct pickle_node;
struct import_mm {
	struct site *real;
	const char *dir;	/* the Mailman var prefix */
	char *name;		/* Mailman's internal name */
	char *fqdn;
	const char *charset;	/* of its byte strings, NULL: Latin-1 */
	const struct pickle_node *cfg;
	GString *report;
	struct import_totals *t;
	gboolean dry_run;
};

/* Held posts and requests waiting (mm_requests.c): into l, or only
 * reported when l is NULL (a dry run). */
int import_mm_requests(struct import_mm *m, struct list *l, GError **error);

#endif
