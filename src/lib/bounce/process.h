/*
 * process.h - acting on bounces: Mailman 2.1's scoring, disabling,
 * warnings and removal, with herald's outage guard.
 *
 * Boundary: reads one bounces-queue entry (a DSN or other returned message
 * the MTA handed to LIST-bounces, or a bounce event that delivery wrote),
 * reads it with detect.h, and changes members only through list/roster.h's
 * roster_edit, so that a score, the disabling it causes and the day's
 * outage ledger are one change under the list lock (two hosts processing
 * bounces for one list lose no update).  Writes notices (warnings, the
 * owners' notices, unrecognized bounces) through list/notice.h, after the
 * change is committed.  docs/bounces.md tells a list admin what happens.
 *
 * Scoring, per member, as Mailman 2.1 (settings of the list):
 *   - bounce_processing off: nothing is scored.
 *   - a permanent failure weighs 1.0, a temporary one 0.5; a member is
 *     scored at most once a (UTC) day, whatever the number of bounces;
 *   - information older than bounce_info_stale_after days is reset
 *     before the new bounce counts;
 *   - at bounce_score_threshold the member's delivery is disabled
 *     ("bybounce"), the first of bounce_you_are_disabled_warnings
 *     warnings goes out at once, and the owners are told when
 *     bounce_notify_owner_on_disable; the daily task bounce.disabled
 *     (bounce_run_disabled) sends the others every
 *     bounce_you_are_disabled_warnings_interval days, then removes the
 *     member (bounce_notify_owner_on_removal);
 *   - a member whose delivery is off already (by bounce, by the member,
 *     by an owner) is not scored;
 *   - a policy rejection (DMARC, spam content, a blocklist: not the
 *     member's fault) is not scored: its reason is kept on the member and
 *     the owners are told, once a day per list;
 *   - an abuse complaint (RFC 5965) disables or unsubscribes the member
 *     as bounce_complaint_action says.
 *
 * The outage guard: when the members of a list who bounced today number
 * more than bounce_outage_share percent of its members (and at least
 * bounce_outage_minimum), or the same within one domain's members, the
 * cause is the list's own mail server or a provider's outage or
 * blocklisting, not dead addresses: those bounces are not scored, what
 * today's bounces in that scope scored already is taken back (a member
 * disabled by them today is enabled again), and the owners are told once
 * a day, with the counts and sample reasons.  The day's ledger,
 * lists/<list>/bounces-today, is written under the list lock with the
 * roster change.
 */
#ifndef HERALD_BOUNCE_PROCESS_H
#define HERALD_BOUNCE_PROCESS_H

#include <glib.h>
#include <stdint.h>

#include "list/list.h"
#include "list/roster.h"
#include "store/queue.h"
#include "store/site.h"

/* What one entry came to, for logs and tests. */
struct bounce_outcome {
	int failures;		/* failed recipients found */
	int scored;		/* members whose score rose */
	int disabled;		/* members disabled (or removed, complaint) */
	int unrecognized;	/* addresses that are no member */
	int ignored;		/* already scored today, already disabled,
				 * policy, bounce processing off */
	int guarded;		/* not scored: the outage guard */
	int undone;		/* scores taken back by the outage guard */
	gboolean not_bounce;	/* no failure in it (vacation, success DSN,
				 * unreadable) */
};

/* Processes one bounces-queue entry (meta, data[0..len)) at time now
 * (epoch seconds).  0 when done (including a message that is no bounce,
 * and one for no list: logged, or forwarded to the owners as
 * unrecognized); -1 with *error when the list's files cannot be changed
 * (HERALD_ERR_IO: try again) or the entry is no message at all
 * (HERALD_ERR_FORMAT). */
int bounce_process(struct site *site, const struct queue_meta *meta,
		   const char *data, size_t len, int64_t now,
		   struct bounce_outcome *out, GError **error);

/* The daily work for list l at time now (Mailman's cron/disabled): the
 * next warning to each member disabled by bounces whose interval has
 * passed, removal of those with no warning left, and reset of stale
 * bounce information.  *warned_r and *removed_r (optional) get counts. */
int bounce_run_disabled(struct list *l, int64_t now, int *warned_r,
			int *removed_r, GError **error);

/* The UTC day (midnight, epoch seconds) of time t. */
int64_t bounce_day(int64_t t);

#endif
