/*
 * schedule.c - schedule specs and their slots (schedule.h).
 *
 * Intervals ("every") and the hour ("hourly") are arithmetic on epoch
 * seconds, so they hold across DST changes without asking the calendar.
 * Days ("daily", "weekly") are found day by day from the local date of
 * "now": each date has exactly one instant at HH:MM (see day_instant for
 * the dates whose HH:MM a DST change skips or repeats), so a day 23 or 25
 * hours long still has one slot, and the instants only ever increase
 * from one day to the next.
 */
#include "store/schedule.h"
#include "base/base.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHEDULE_FORMS "every N{s|m|h|d}, hourly :MM, daily HH:MM, " \
		       "weekly DAY HH:MM (DAY mon..sun) or off"
/* A longer interval is surely a typo (and N * unit must not overflow). */
#define EVERY_MAX (3660LL * 86400)

static const char *const day_names[] = {
	"sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
	"saturday",
};

static int
invalid(GError **error, const char *spec, const char *why)
{
	g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
		    "'%s' is not a schedule%s%s%s; use " SCHEDULE_FORMS, spec,
		    why != NULL ? " (" : "", why != NULL ? why : "",
		    why != NULL ? ")" : "");
	return -1;
}

/* A number of 1 to max_digits digits, the whole of text. */
static int
parse_digits(const char *text, size_t max_digits, int64_t *n_r)
{
	size_t len = strlen(text);

	if (len == 0 || len > max_digits)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isdigit(text[i]))
			return -1;
	*n_r = g_ascii_strtoll(text, NULL, 10);
	return 0;
}

/* "HH:MM" (or "H:MM"). */
static int
parse_time(const char *text, int *hour_r, int *minute_r)
{
	const char *colon = strchr(text, ':');
	char *hour;
	int64_t h, m;
	int r;

	if (colon == NULL || strlen(colon + 1) != 2)
		return -1;
	hour = g_strndup(text, colon - text);
	r = parse_digits(hour, 2, &h);
	g_free(hour);
	if (r < 0 || parse_digits(colon + 1, 2, &m) < 0 || h > 23 || m > 59)
		return -1;
	*hour_r = (int)h;
	*minute_r = (int)m;
	return 0;
}

static int
parse_day(const char *text)
{
	for (int i = 0; i < 7; i++)
		if (strcmp(text, day_names[i]) == 0 ||
		    (strlen(text) == 3 && strncmp(text, day_names[i], 3) == 0))
			return i;
	return -1;
}

static int
parse_every(const char *text, int64_t *seconds_r)
{
	static const struct { char unit; int64_t seconds; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
	};
	size_t len = strlen(text);
	char *digits;
	int64_t n;
	int r;

	if (len < 2)
		return -1;
	digits = g_strndup(text, len - 1);
	r = parse_digits(digits, 10, &n);
	g_free(digits);
	if (r < 0 || n == 0)
		return -1;
	for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
		if (text[len - 1] != units[i].unit)
			continue;
		if (n > EVERY_MAX / units[i].seconds)
			return -1;
		*seconds_r = n * units[i].seconds;
		return 0;
	}
	return -1;
}

int
schedule_parse(const char *spec, struct schedule *s, GError **error)
{
	char *lower = g_ascii_strdown(spec, -1);
	char **words = g_strsplit_set(g_strstrip(lower), " \t", -1);
	GPtrArray *w = g_ptr_array_new();
	struct schedule out = { .kind = SCHEDULE_OFF };
	const char *why = NULL, *kind;
	int ret = -1;

	for (char **p = words; *p != NULL; p++)
		if (**p != '\0')
			g_ptr_array_add(w, *p);
	if (w->len == 0)
		goto bad;
	kind = w->pdata[0];
	if (strcmp(kind, "off") == 0 && w->len == 1) {
		out.kind = SCHEDULE_OFF;
	} else if (strcmp(kind, "every") == 0 && w->len == 2) {
		out.kind = SCHEDULE_EVERY;
		if (parse_every(w->pdata[1], &out.interval) < 0) {
			why = "the interval is a positive number and a unit "
			      "(s, m, h or d), at most 3660 days";
			goto bad;
		}
	} else if (strcmp(kind, "hourly") == 0 && w->len == 2) {
		const char *mm = w->pdata[1];
		int64_t m;

		out.kind = SCHEDULE_HOURLY;
		if (mm[0] != ':' || strlen(mm) != 3 ||
		    parse_digits(mm + 1, 2, &m) < 0 || m > 59) {
			why = "the minute is :00 to :59";
			goto bad;
		}
		out.minute = (int)m;
	} else if (strcmp(kind, "daily") == 0 && w->len == 2) {
		out.kind = SCHEDULE_DAILY;
		if (parse_time(w->pdata[1], &out.hour, &out.minute) < 0) {
			why = "the time is HH:MM, 00:00 to 23:59";
			goto bad;
		}
	} else if (strcmp(kind, "weekly") == 0 && w->len == 3) {
		out.kind = SCHEDULE_WEEKLY;
		if ((out.wday = parse_day(w->pdata[1])) < 0) {
			why = "the day is mon, tue, wed, thu, fri, sat or sun";
			goto bad;
		}
		if (parse_time(w->pdata[2], &out.hour, &out.minute) < 0) {
			why = "the time is HH:MM, 00:00 to 23:59";
			goto bad;
		}
	} else {
		goto bad;
	}
	*s = out;
	ret = 0;
	goto out;
bad:
	invalid(error, spec, why);
out:
	g_ptr_array_free(w, TRUE);
	g_strfreev(words);
	g_free(lower);
	return ret;
}

char *
schedule_format(const struct schedule *s)
{
	static const struct { char unit; int64_t seconds; } units[] = {
		{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
	};

	switch (s->kind) {
	case SCHEDULE_OFF:
		break;
	case SCHEDULE_EVERY:
		for (size_t i = 0; i < G_N_ELEMENTS(units); i++)
			if (s->interval % units[i].seconds == 0)
				return g_strdup_printf("every %" G_GINT64_FORMAT "%c",
						       s->interval / units[i].seconds,
						       units[i].unit);
		break;
	case SCHEDULE_HOURLY:
		return g_strdup_printf("hourly :%02d", s->minute);
	case SCHEDULE_DAILY:
		return g_strdup_printf("daily %02d:%02d", s->hour, s->minute);
	case SCHEDULE_WEEKLY:
		return g_strdup_printf("weekly %.3s %02d:%02d",
				       day_names[s->wday], s->hour, s->minute);
	}
	return g_strdup("off");
}

/* a rounded down to a multiple of b (b > 0), also for a < 0. */
static int64_t
floor_multiple(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q * b;
}

/* The UTC offset of local time at instant t. */
static int64_t
gmtoff(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	return tm.tm_gmtoff;
}

/* The instant of HH:MM on the local day `days` after base's, or -1 when
 * that day is not s's weekday.  Not mktime(): with tm_isdst = -1 it picks
 * between the two instants of a repeated wall time by what it was asked
 * before, and two hosts must agree.  The wall time W is an instant t with
 * t + offset(t) = W, for the offset in force a day before W or a day
 * after (a zone changes its offset at most once in between):
 *   - one of them fits: that instant;
 *   - both fit (a time that a DST change repeats): the first;
 *   - neither (a time that a DST change skips): W read with the offset of
 *     before the change, which is as far past the change as W was into
 *     the gap (02:30 on a night that jumps from 02:00 to 03:00 is 03:30). */
static int64_t
day_instant(const struct schedule *s, const struct tm *base, int days)
{
	struct tm tm = {
		.tm_year = base->tm_year, .tm_mon = base->tm_mon,
		.tm_mday = base->tm_mday + days,
		.tm_hour = s->hour, .tm_min = s->minute,
	};
	int64_t wall = (int64_t)timegm(&tm);	/* sets tm_wday */
	int64_t before = gmtoff(wall - 86400), after = gmtoff(wall + 86400);
	gboolean fits_before = gmtoff(wall - before) == before;
	gboolean fits_after = gmtoff(wall - after) == after;

	if (s->kind == SCHEDULE_WEEKLY && tm.tm_wday != s->wday)
		return -1;
	if (fits_before && fits_after)
		return MIN(wall - before, wall - after);
	if (fits_after)
		return wall - after;
	return wall - before;
}

int
schedule_slot(const struct schedule *s, int64_t now, int64_t *slot_r,
	      int64_t *next_r)
{
	int64_t slot = 0, next = 0, off, t;
	time_t tnow = (time_t)now;
	struct tm base;

	/* TZ may have changed since the last call (the tests change it);
	 * localtime_r() alone need not look again. */
	tzset();
	switch (s->kind) {
	case SCHEDULE_OFF:
		return 0;
	case SCHEDULE_EVERY:
		slot = floor_multiple(now, s->interval);
		next = slot + s->interval;
		break;
	case SCHEDULE_HOURLY:
		/* Local minute MM: t + gmtoff == MM * 60 (mod 3600).  A DST
		 * change moves gmtoff by whole hours, which this ignores. */
		localtime_r(&tnow, &base);
		off = ((int64_t)s->minute * 60 - base.tm_gmtoff) % 3600;
		if (off < 0)
			off += 3600;
		slot = floor_multiple(now - off, 3600) + off;
		next = slot + 3600;
		break;
	case SCHEDULE_DAILY:
	case SCHEDULE_WEEKLY:
		localtime_r(&tnow, &base);
		/* Today's instant may be ahead of now: look back up to a week
		 * and a day, and forward as far, for the nearest on each
		 * side. */
		for (int d = 0; d >= -8; d--)
			if ((t = day_instant(s, &base, d)) >= 0 && t <= now) {
				slot = t;
				break;
			}
		for (int d = 0; d <= 8; d++)
			if ((t = day_instant(s, &base, d)) > now) {
				next = t;
				break;
			}
		break;
	}
	if (slot_r != NULL)
		*slot_r = slot;
	if (next_r != NULL)
		*next_r = next;
	return 1;
}

char *
schedule_setting_check(const char *key, const char *value)
{
	struct schedule s;
	GError *error = NULL;
	char *bad;

	if (*value == '\0' || schedule_parse(value, &s, &error) == 0)
		return NULL;
	bad = g_strdup_printf("%s: %s", key, error->message);
	g_error_free(error);
	return bad;
}
