/*
 * pipeline.h - the posting pipeline: the handlers a list post passes
 * through between the in queue and the out queue.
 *
 * A post is a parsed message (GMime) with its queue metadata, its list and
 * what the handlers decide about it.  Each handler looks at the post,
 * changes it if it must, and says whether the post goes on (PIPE_CONTINUE)
 * or stops here: held for the moderators, rejected, discarded, or done.
 * The order is Mailman 2.1's (pipeline_default_order) and can be changed
 * per list (the list setting "pipeline").
 *
 * Stopping is resumable: a hold, or a shunt after an error, records in the
 * metadata key "pipeline" the handlers still to run, and the message as the
 * earlier handlers left it; approving (or unshunting) puts it back in the in
 * queue, and processing goes on from there.
 */
#ifndef HERALD_PIPELINE_H
#define HERALD_PIPELINE_H

#include <glib.h>
#include <gmime/gmime.h>

#include "list/list.h"
#include "store/queue.h"
#include "list/roster.h"
#include "store/site.h"

enum pipe_result {
	PIPE_ERROR = -1,	/* *error set: the post is shunted, resumable */
	PIPE_CONTINUE = 0,	/* on to the next handler */
	PIPE_HOLD,		/* held for the moderators; reason says why */
	PIPE_REJECT,		/* refused; the poster is told the reason */
	PIPE_DISCARD,		/* dropped (logged); reason says why */
	PIPE_DONE,		/* the handler has sent it on itself: stop */
};

/* Services shared by every post a runner handles (created on first use,
 * freed with the runner). */
struct pipe_env {
	void *dmarc;			/* struct dmarc_resolver * */
	GDestroyNotify dmarc_free;
};

struct post {
	struct site *site;
	struct list *list;
	struct pipe_env *env;
	struct queue_meta *meta;	/* carried into every queue it goes to */
	GMimeMessage *msg;
	char *sender;		/* envelope sender, "" for the null sender */
	char *poster;		/* the author's address (From:, else Sender:,
				 * else the envelope sender), normalised; ""
				 * when there is none */
	char *poster_name;	/* From:'s display name (UTF-8) or "" */
	gboolean approved;	/* by password or a moderator: no more holds */
	char *reason;		/* why a handler held, rejected or discarded */
	GPtrArray *recipients;	/* delivery addresses, set by calcrecips */
	struct roster *roster;	/* see post_roster() */
};

typedef enum pipe_result (*pipe_handler_fn)(struct post *p, GError **error);

struct pipe_handler {
	const char *name;
	pipe_handler_fn run;
	const char *doc;
};

/* All handlers, ended by a NULL name. */
const struct pipe_handler *pipeline_handlers(void);
const struct pipe_handler *pipeline_handler_find(const char *name);
/* Mailman 2.1's order, comma-separated (the default of "pipeline"). */
const char *pipeline_default_order(void);
/* The order of the owner pipeline (mail to LIST-owner). */
const char *pipeline_owner_order(void);

/* A post of msg (taken over) for list, with meta (copied).  The poster is
 * found from the headers and meta "sender"; meta "approved: yes" and
 * "recipient" (a resumed post's recipients) are read back. */
struct post *post_new(struct site *site, struct list *list,
		      struct pipe_env *env, const struct queue_meta *meta,
		      GMimeMessage *msg);
void post_free(struct post **pp);

/* Runs the handlers named in order (comma-separated) on p, stopping at the
 * first that does not return PIPE_CONTINUE, and returns that result.
 * *handler_r gets the name of the handler that stopped (NULL when all ran)
 * and *rest_r the handlers still to run: those after it for a hold (the
 * moderator's approval takes its place), it and those after it for an
 * error (so a resumed post retries it).  An unknown name is an error. */
enum pipe_result pipeline_run(struct post *p, const char *order,
			      char **handler_r, char **rest_r, GError **error);

/* Writes p's message and metadata (with its recipients, the approval and
 * rest as "pipeline") to queue q. */
int post_enqueue(struct post *p, struct queue *q, const char *rest,
		 GError **error);

/* Stores p as a held post of its list (held.h), held by handler (p->reason
 * says why) with rest the handlers still to run; *id_r gets its id. */
int post_hold(struct post *p, const char *handler, const char *rest,
	      int64_t *id_r, GError **error);

/* The list's roster, loaded on first use; NULL with *error on failure. */
struct roster *post_roster(struct post *p, GError **error);
/* The poster's membership, or NULL for a nonmember (or a roster that
 * cannot be read: *error then says why). */
const struct member *post_member(struct post *p, GError **error);
/* The post's number (for subject_prefix's %d and the archive): taken from
 * the list's counter under the list lock on first use and kept in the
 * metadata ("post-id"), so a post that is resumed keeps its number. */
int64_t post_number(struct post *p, GError **error);
/* post_number(); when the number is taken now, the list's last_post_time
 * becomes now in the same update of its counters.  *stamped_r says
 * whether it did. */
int64_t post_number_stamped(struct post *p, int64_t now, gboolean *stamped_r,
			    GError **error);
/* Sets p->reason (printf-style). */
void post_set_reason(struct post *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* A list setting as a string / bool / int (its default when unset). */
char *post_setting(struct post *p, const char *name);
gboolean post_setting_bool(struct post *p, const char *name);
int64_t post_setting_int(struct post *p, const char *name);

/* --- the handlers (each file pipe_<name>.c, or grouped) ---------------- */

enum pipe_result pipe_authcheck(struct post *p, GError **error);
/* DKIM key lookups through a struct dmarc_resolver (ctx): the
 * dkim_lookup_fn of authcheck and of the dmarc handler's re-check. */
int pipe_dkim_lookup(void *ctx, const char *name, GPtrArray **txts_r,
		     GError **error);
enum pipe_result pipe_replybot(struct post *p, GError **error);
enum pipe_result pipe_acknowledge(struct post *p, GError **error);
enum pipe_result pipe_approve(struct post *p, GError **error);
enum pipe_result pipe_moderate(struct post *p, GError **error);
enum pipe_result pipe_dmarc(struct post *p, GError **error);
enum pipe_result pipe_hold(struct post *p, GError **error);
enum pipe_result pipe_mimedel(struct post *p, GError **error);
enum pipe_result pipe_emergency(struct post *p, GError **error);
enum pipe_result pipe_tagger(struct post *p, GError **error);
enum pipe_result pipe_calcrecips(struct post *p, GError **error);
enum pipe_result pipe_avoiddups(struct post *p, GError **error);
enum pipe_result pipe_cleanse(struct post *p, GError **error);
enum pipe_result pipe_cookheaders(struct post *p, GError **error);
enum pipe_result pipe_todigest(struct post *p, GError **error);
enum pipe_result pipe_toarchive(struct post *p, GError **error);
enum pipe_result pipe_tonews(struct post *p, GError **error);
enum pipe_result pipe_scrubber(struct post *p, GError **error);
enum pipe_result pipe_wrapmessage(struct post *p, GError **error);
enum pipe_result pipe_decorate(struct post *p, GError **error);
enum pipe_result pipe_afterdelivery(struct post *p, GError **error);
enum pipe_result pipe_tooutgoing(struct post *p, GError **error);
enum pipe_result pipe_ownerrecips(struct post *p, GError **error);

#endif
