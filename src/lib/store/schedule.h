/*
 * schedule.h - when periodic work is due: schedule specs and their slots.
 *
 * A spec is one of
 *
 *     every N{s,m,h,d}   every N seconds/minutes/hours/days, counted from
 *                        the epoch (UTC): "every 1d" falls at 00:00 UTC
 *     hourly :MM         every hour at minute MM (local time)
 *     daily HH:MM        every day at HH:MM (local time)
 *     weekly DAY HH:MM   every week, DAY mon..sun (or monday..sunday)
 *     off                never
 *
 * A schedule cuts time into *slots*: the slot at a moment is the latest
 * scheduled instant at or before it, an epoch second that names the
 * period, so that hosts which look at different moments of one period
 * agree on which period it is (when the instant comes from one clock:
 * the caller passes the file server's, lock_server_now).  Local times of
 * day are in the time zone of the process (TZ, else /etc/localtime).  A
 * daily time that a DST change skips (02:30 on a night that jumps from
 * 02:00 to 03:00) falls as far past the jump (03:30); one that a DST
 * change repeats falls once, at its first occurrence.
 *
 * This module knows nothing of what runs at those times (src/lib/tasks).
 */
#ifndef HERALD_SCHEDULE_H
#define HERALD_SCHEDULE_H

#include <glib.h>
#include <stdint.h>

enum schedule_kind {
	SCHEDULE_OFF,
	SCHEDULE_EVERY,
	SCHEDULE_HOURLY,
	SCHEDULE_DAILY,
	SCHEDULE_WEEKLY,
};

struct schedule {
	enum schedule_kind kind;
	int64_t interval;	/* SCHEDULE_EVERY: seconds, > 0 */
	int wday;		/* SCHEDULE_WEEKLY: 0 = Sunday .. 6 (struct tm) */
	int hour, minute;	/* local time of day (HOURLY: minute only) */
};

/* Parses spec (case and surrounding blanks do not matter) into *s.
 * HERALD_ERR_INVALID with a message that shows the accepted forms when it
 * is not one of them. */
int schedule_parse(const char *spec, struct schedule *s, GError **error);

/* The spec in its canonical form ("daily 08:00", "every 30m", "off"). */
char *schedule_format(const struct schedule *s);

/* The slot at now (epoch seconds) in *slot_r, and the first scheduled
 * instant after now in *next_r (both optional).  1 when the schedule has
 * slots, 0 when it is off. */
int schedule_slot(const struct schedule *s, int64_t now, int64_t *slot_r,
		  int64_t *next_r);

/* The choices field of a string site setting whose value is a spec, or
 * empty for "the default" (schedule.<task>, store/site.c), and its
 * check: NULL when value is fine, else the message (newly allocated). */
#define SCHEDULE_SETTING "(schedule)"
char *schedule_setting_check(const char *key, const char *value);

#endif
