/*
 * test-schedule.c - unit tests for schedule.c: every accepted form of a
 * schedule spec parses (case and blanks aside) and prints back in its
 * canonical form; each malformed one is refused with a message naming it
 * and the accepted forms; slots are the latest scheduled instant at or
 * before "now" (an instant on the boundary is its own slot), across day,
 * week and year boundaries, in UTC, in Europe/Paris across both DST
 * changes (a day of 23 and of 25 hours has one slot each; a time the
 * change skips falls as far past it, one it repeats at its first
 * occurrence, whatever was asked before), in a zone half
 * an hour off UTC (hourly :MM is local), and consistent at every instant
 * of a stretch of days in several zones; the site setting check accepts
 * empty (the default).
 */
#include "base/base.h"
#include "store/schedule.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

static void
set_tz(const char *tz)
{
	g_assert_true(g_setenv("TZ", tz, TRUE));
	tzset();
}

static struct schedule
spec_ok(const char *spec)
{
	struct schedule s;
	GError *error = NULL;

	if (schedule_parse(spec, &s, &error) < 0)
		g_test_message("%s: %s", spec, error->message);
	g_assert_no_error(error);
	return s;
}

/* spec parses, and prints as canonical. */
static void
assert_canonical(const char *spec, const char *canonical)
{
	struct schedule s = spec_ok(spec);
	char *text = schedule_format(&s);

	g_assert_cmpstr(text, ==, canonical);
	g_free(text);
}

static void
test_parse_good(void)
{
	struct schedule s;

	s = spec_ok("every 30m");
	g_assert_cmpint(s.kind, ==, SCHEDULE_EVERY);
	g_assert_cmpint(s.interval, ==, 1800);
	g_assert_cmpint(spec_ok("every 1h").interval, ==, 3600);
	g_assert_cmpint(spec_ok("every 2d").interval, ==, 2 * 86400);
	g_assert_cmpint(spec_ok("every 5s").interval, ==, 5);
	s = spec_ok("daily 08:00");
	g_assert_cmpint(s.kind, ==, SCHEDULE_DAILY);
	g_assert_cmpint(s.hour, ==, 8);
	g_assert_cmpint(s.minute, ==, 0);
	s = spec_ok("weekly mon 23:59");
	g_assert_cmpint(s.kind, ==, SCHEDULE_WEEKLY);
	g_assert_cmpint(s.wday, ==, 1);
	g_assert_cmpint(s.hour, ==, 23);
	g_assert_cmpint(s.minute, ==, 59);
	g_assert_cmpint(spec_ok("weekly sun 00:00").wday, ==, 0);
	g_assert_cmpint(spec_ok("weekly Saturday 00:00").wday, ==, 6);
	s = spec_ok("hourly :15");
	g_assert_cmpint(s.kind, ==, SCHEDULE_HOURLY);
	g_assert_cmpint(s.minute, ==, 15);
	g_assert_cmpint(spec_ok("off").kind, ==, SCHEDULE_OFF);

	assert_canonical("  Daily   8:05 ", "daily 08:05");
	assert_canonical("EVERY 120m", "every 2h");
	assert_canonical("every 90s", "every 90s");
	assert_canonical("every 48h", "every 2d");
	assert_canonical("weekly Friday 17:30", "weekly fri 17:30");
	assert_canonical("hourly :07", "hourly :07");
	assert_canonical("Off", "off");
}

static void
test_parse_bad(void)
{
	static const char *const bad[] = {
		"", "   ", "every", "every 0m", "every 5", "every 5x",
		"every -5m", "every 5 m", "every m", "every 1.5h",
		"every 99999999999d", "every 3661d", "daily", "daily 24:00",
		"daily 08:60", "daily 8", "daily 08:0", "daily 08:000",
		"daily 8h", "daily 08:00 extra", "weekly 08:00",
		"weekly xyz 08:00", "weekly mo 08:00", "weekly mon",
		"weekly mon 25:00", "hourly", "hourly 15", "hourly :60",
		"hourly :5", "monthly 1 08:00", "off now", "cron 0 8 * * *",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct schedule s;
		GError *error = NULL;
		char *quoted = g_strdup_printf("'%s'", bad[i]);

		g_test_message("spec [%s]", bad[i]);
		g_assert_cmpint(schedule_parse(bad[i], &s, &error), ==, -1);
		g_assert_error(error, HERALD_ERROR, HERALD_ERR_INVALID);
		if (error != NULL) {
			g_assert_nonnull(strstr(error->message, quoted));
			g_assert_nonnull(strstr(error->message, "daily HH:MM"));
			g_clear_error(&error);
		}
		g_free(quoted);
	}
}

/* slot and next of spec at now. */
static void
assert_slot(const char *spec, int64_t now, int64_t slot, int64_t next)
{
	struct schedule s = spec_ok(spec);
	int64_t got_slot = -1, got_next = -1;

	g_assert_cmpint(schedule_slot(&s, now, &got_slot, &got_next), ==, 1);
	if (got_slot != slot || got_next != next)
		g_test_message("%s at %" G_GINT64_FORMAT ": slot %" G_GINT64_FORMAT
			       " next %" G_GINT64_FORMAT, spec, now, got_slot,
			       got_next);
	g_assert_cmpint(got_slot, ==, slot);
	g_assert_cmpint(got_next, ==, next);
}

/* Epoch seconds of 2026-12-06 08:00 UTC (a Sunday), and others. */
#define SUN_0800 1796544000LL
#define SAT_0800 1796457600LL
#define MON_0800 1796630400LL
#define PREV_MON_0800 1796025600LL
#define HOUR 3600LL
#define DAY 86400LL

static void
test_slots_utc(void)
{
	struct schedule off = spec_ok("off");
	int64_t x = 7;

	set_tz("UTC");
	/* every: multiples of the interval from the epoch. */
	assert_slot("every 30m", SUN_0800 + 1799, SUN_0800, SUN_0800 + 1800);
	assert_slot("every 30m", SUN_0800 + 1800, SUN_0800 + 1800,
		    SUN_0800 + 3600);
	assert_slot("every 5s", 1000000003, 1000000000, 1000000005);
	assert_slot("every 2d", SUN_0800, SUN_0800 - 8 * HOUR - DAY,
		    SUN_0800 - 8 * HOUR + DAY);
	/* daily: before the time it is yesterday's; at it, today's. */
	assert_slot("daily 08:00", SUN_0800 - 1, SAT_0800, SUN_0800);
	assert_slot("daily 08:00", SUN_0800, SUN_0800, MON_0800);
	assert_slot("daily 08:00", SUN_0800 + 16 * HOUR - 1, SUN_0800, MON_0800);
	assert_slot("daily 00:00", SUN_0800, SUN_0800 - 8 * HOUR,
		    SUN_0800 + 16 * HOUR);
	/* weekly: across the week's boundary (Sunday to Monday). */
	assert_slot("weekly mon 08:00", SUN_0800, PREV_MON_0800, MON_0800);
	assert_slot("weekly mon 08:00", MON_0800 - 1, PREV_MON_0800, MON_0800);
	assert_slot("weekly mon 08:00", MON_0800, MON_0800, MON_0800 + 7 * DAY);
	assert_slot("weekly sun 08:00", SUN_0800 + 1, SUN_0800,
		    SUN_0800 + 7 * DAY);
	assert_slot("weekly sat 08:00", SUN_0800, SAT_0800, SAT_0800 + 7 * DAY);
	/* ... and the year's: 2026-12-31 23:59 is a Thursday; weekly mon
	 * 09:00 falls on 2026-12-28 and 2027-01-04. */
	assert_slot("weekly mon 09:00", 1798761540, 1798448400, 1799053200);
	assert_slot("daily 00:00", 1798761540, 1798761600 - DAY, 1798761600);
	/* hourly. */
	assert_slot("hourly :15", SUN_0800 + 10 * 60, SUN_0800 - 45 * 60,
		    SUN_0800 + 15 * 60);
	assert_slot("hourly :00", SUN_0800, SUN_0800, SUN_0800 + HOUR);
	/* off has no slot. */
	g_assert_cmpint(schedule_slot(&off, SUN_0800, &x, NULL), ==, 0);
}

static void
test_slots_dst(void)
{
	set_tz("Europe/Paris");
	/* Spring forward, 2026-03-29 02:00 -> 03:00: 08:00 on the 28th is
	 * 07:00 UTC, on the 29th 06:00 UTC; that day has 23 hours. */
	assert_slot("daily 08:00", 1774778400, 1774764000, 1774764000 + DAY);
	assert_slot("daily 08:00", 1774764000 - 1, 1774681200, 1774764000);
	g_assert_cmpint(1774764000 - 1774681200, ==, 23 * HOUR);
	/* 02:30 does not exist that night: it falls at 03:30 CEST, once;
	 * the next day's 02:30 is 23 hours later. */
	assert_slot("daily 02:30", 1774778400, 1774747800,
		    1774747800 + DAY - HOUR);
	/* Fall back, 2026-10-25 03:00 -> 02:00: a day of 25 hours. */
	assert_slot("daily 08:00", 1792926000, 1792911600, 1792911600 + DAY);
	assert_slot("daily 08:00", 1792911600 - 1, 1792821600, 1792911600);
	g_assert_cmpint(1792911600 - 1792821600, ==, 25 * HOUR);
	/* 02:30 comes twice that night (CEST, then CET): the first. */
	assert_slot("daily 02:30", 1792926000, 1792888200,
		    1792888200 + DAY + HOUR);
	/* weekly across it: Sunday 08:00 CEST to Sunday 08:00 CET. */
	assert_slot("weekly sun 08:00", 1792911600 - 1, 1792911600 - 7 * DAY - HOUR,
		    1792911600);
	/* hourly :30 stays at minute 30 local on both sides. */
	assert_slot("hourly :30", 1774778400, 1774778400 - 30 * 60,
		    1774778400 + 30 * 60);
	assert_slot("hourly :30", 1792926000, 1792926000 - 30 * 60,
		    1792926000 + 30 * 60);
}

static void
test_slots_half_hour_zone(void)
{
	/* India is UTC+5:30: local 10:15 is 04:45 UTC. */
	set_tz("Asia/Kolkata");
	assert_slot("hourly :15", 1796532300 + 60, 1796532300, 1796532300 + HOUR);
	assert_slot("daily 10:15", 1796532300, 1796532300, 1796532300 + DAY);
	set_tz("UTC");
	assert_slot("hourly :15", 1796532300 + 60, 1796532300 - 30 * 60,
		    1796532300 + 30 * 60);
}

/* At every instant (in steps) of a stretch that covers both DST changes
 * of 2026 in several zones: slot <= now < next, the slot of next is next,
 * and every instant between slot and next has that slot. */
static void
test_slots_consistent(void)
{
	static const char *const zones[] = {
		"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata",
		"Australia/Sydney",
	};
	static const char *const specs[] = {
		"every 7m", "hourly :45", "daily 02:30", "daily 00:00",
		"weekly sun 02:30", "weekly wed 12:00",
	};
	static const int64_t starts[] = { 1773014400, 1774656000, 1775260800,
					  1792800000, 1793577600 };

	for (size_t z = 0; z < G_N_ELEMENTS(zones); z++) {
		set_tz(zones[z]);
		for (size_t i = 0; i < G_N_ELEMENTS(specs); i++) {
			struct schedule s = spec_ok(specs[i]);

			for (size_t k = 0; k < G_N_ELEMENTS(starts); k++) {
				int64_t prev_slot = 0;

				for (int64_t t = starts[k]; t < starts[k] + 9 * DAY;
				     t += 7 * 60 + 13) {
					int64_t slot, next, slot2, next2;

					g_assert_cmpint(schedule_slot(&s, t, &slot,
								      &next), ==, 1);
					g_assert_cmpint(slot, <=, t);
					g_assert_cmpint(next, >, t);
					g_assert_cmpint(slot, >=, prev_slot);
					g_assert_cmpint(schedule_slot(&s, next, &slot2,
								      &next2), ==, 1);
					g_assert_cmpint(slot2, ==, next);
					g_assert_cmpint(schedule_slot(&s, next - 1,
								      &slot2, NULL),
							==, 1);
					g_assert_cmpint(slot2, ==, slot);
					prev_slot = slot;
				}
			}
		}
	}
}

static void
test_setting_check(void)
{
	char *bad;

	g_assert_null(schedule_setting_check("schedule.held.summary", ""));
	g_assert_null(schedule_setting_check("schedule.held.summary", "off"));
	g_assert_null(schedule_setting_check("schedule.held.summary",
					     "daily 08:00"));
	bad = schedule_setting_check("schedule.held.summary", "daily 8am");
	g_assert_nonnull(bad);
	g_assert_true(g_str_has_prefix(bad, "schedule.held.summary: "));
	g_assert_nonnull(strstr(bad, "'daily 8am' is not a schedule"));
	g_free(bad);
}

static const struct unit_test tests[] = {
	{ "/schedule/parse-good", test_parse_good },
	{ "/schedule/parse-bad", test_parse_bad },
	{ "/schedule/slots-utc", test_slots_utc },
	{ "/schedule/slots-dst", test_slots_dst },
	{ "/schedule/slots-half-hour-zone", test_slots_half_hour_zone },
	{ "/schedule/slots-consistent", test_slots_consistent },
	{ "/schedule/setting-check", test_setting_check },
};

UNIT_TEST_MAIN(tests)
