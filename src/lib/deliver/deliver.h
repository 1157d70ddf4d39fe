/*
 * deliver.h - delivery of an out-queue entry to its recipients through
 * the MTA: batches, parallel connections, VERP, personalisation, the fate
 * of every recipient, retries, bounce events, and progress that survives a
 * crash.
 *
 * An out-queue entry carries its recipients ("rcpt" metadata lines).  They
 * are sorted by domain and cut into batches of up to
 * delivery.max_recipients (bulk: one transaction a batch; VERP or
 * personalised: one transaction a recipient, a batch being the unit of
 * progress).  delivery.connections workers take batches in turn, each over
 * its own reused connection.  Each finished batch is appended to the
 * entry's progress record (queue_progress_path) and fsync'ed before the
 * next counts as started, so a runner killed midway resumes with the
 * batches not recorded: duplicates are bounded by the batches in flight.
 *
 * Each recipient ends as one of
 *   accepted    2xx
 *   deferred    4xx, or no answer (connection lost, timeout, server down):
 *               retried later from the retry queue, with backoff, until
 *               delivery.retry_period, then a bounce event
 *   failed      5xx to RCPT: a bounce event (the bounces queue, kind
 *               bounce-event) for the bounce runner
 *   refused     5xx to MAIL or after DATA, for the whole transaction:
 *               logged and reported to the list's owners with the
 *               message, never silently dropped
 */
#ifndef HERALD_DELIVER_H
#define HERALD_DELIVER_H

#include <glib.h>

#include "store/queue.h"
#include "store/site.h"
#include "deliver/smtp.h"

enum deliver_transport { DELIVER_SMTP, DELIVER_LMTP, DELIVER_SENDMAIL };

struct deliver_settings {
	enum deliver_transport transport;
	struct smtp_config smtp;	/* its strings point into the fields below */
	char **sendmail_argv;
	int max_rcpts;
	int connections;
	int64_t verp_interval;
	gboolean verp_personalized;
	int64_t retry_wait, retry_period;	/* seconds */
	char *host, *unix_path, *helo, *user, *password;
};

/* The settings from the site configuration. */
struct deliver_settings *deliver_settings_new(struct site *site,
					      GError **error);
void deliver_settings_free(struct deliver_settings **dp);

struct deliver_stats {
	guint recipients;	/* due in this attempt */
	guint accepted, deferred, failed, refused;
	guint resumed;		/* already handled before a crash */
	gboolean verp, personalised;
	double seconds;
};

/* Delivers claimed entry item of queue q (the out queue).  0 when every
 * recipient has its fate recorded (retry queue, bounce events, owner
 * report); -1 with *error when that could not be recorded (HERALD_ERR_IO:
 * the entry is retried later, the progress record keeps what was done). */
int deliver_entry(struct site *site, const struct deliver_settings *ds,
		  struct queue *q, struct queue_item *item,
		  struct deliver_stats *stats_r, GError **error);

/* The retry queue's handler: an entry whose time (its name's stamp) has
 * come goes back to the out queue; RUNNER_NOT_DUE otherwise. */
int deliver_retry_due(struct queue *q, struct queue_item *item,
		      GError **error);

#endif
