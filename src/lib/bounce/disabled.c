/*
 * disabled.c - what happens to members disabled by bounces later: the
 * warnings, the removal, the reset (process.h: bounce_run_disabled,
 * bounce_reset_member), as Mailman 2.1's cron/disabled.
 *
 * Like process.c, decisions are made in one roster_edit (so that two
 * hosts never warn or remove twice for one slot), and the mail goes once
 * the change is committed.
 */
#include "bounce/process.h"
#include "bounce/bounce-private.h"
#include "base/base.h"
#include "base/log.h"
#include "list/notice.h"
#include "mail/address.h"

#include <string.h>

#define BOUNCE_SUBSYS "bounce"
#define DAY (24 * 3600)

int
bounce_send_warning(struct list *l, const char *addr, const char *reason,
		    int notices_left, GError **error)
{
	const char *to[] = { addr, NULL };
	char *request = list_address(l, "-request");
	char *subject = g_strdup_printf("Your membership in %s is disabled",
					list_fqdn(l));
	char *text = g_strdup_printf(
		"Your membership in the mailing list %s has been disabled\n"
		"because mail to your address, %s, kept coming back\n"
		"(last reason: %s).  You receive no posts until you\n"
		"re-enable it.\n\n"
		"To re-enable it, send a message to %s\n"
		"with the line\n\n    set delivery on\n\n"
		"in its body, or ask the list's owners.\n\n"
		"%s\n", list_fqdn(l), addr, *reason != '\0' ? reason : "other",
		request, notices_left > 0
		? "If you do nothing, you will be warned again, then removed."
		: "This is the last warning: if you do nothing, you will be "
		  "removed from the list.");
	int ret = notice_send(l, to, subject, text, NULL, error);

	g_free(request);
	g_free(subject);
	g_free(text);
	return ret;
}

/* --- the daily task ------------------------------------------------------------ */

/* A warning to send once the change is committed. */
struct warning {
	char *addr, *reason;
	int notices_left;
};

static void
warning_free(gpointer p)
{
	struct warning *w = p;

	g_free(w->addr);
	g_free(w->reason);
	g_free(w);
}

struct sweep {
	int64_t now;
	int64_t interval, stale_days;
	GPtrArray *warn;	/* struct warning * */
	GPtrArray *remove;	/* addresses removed */
	int reset;
};

static int
sweep_fn(const struct roster *r, struct roster_change *c, void *ctx,
	 GError **error)
{
	struct sweep *sw = ctx;
	GPtrArray *all = roster_members(r, FALSE);

	for (guint i = 0; i < all->len; i++) {
		const struct member *m = all->pdata[i];
		struct member w = *m;

		if (m->status != STATUS_BY_BOUNCE) {
			/* Stale information goes (Mailman resets it on the
			 * next bounce; clearing it keeps `bounce status`
			 * short). */
			if (m->bounce.last != 0 && m->status == STATUS_ENABLED &&
			    m->bounce.last + sw->stale_days * DAY < bounce_day(sw->now)) {
				memset(&w.bounce, 0, sizeof w.bounce);
				w.bounce.reason = "";
				roster_change_put(c, &w);
				sw->reset++;
			}
			continue;
		}
		if (sw->now - m->bounce.last_notice < sw->interval * DAY)
			continue;
		if (m->bounce.notices_left <= 0) {
			roster_change_remove(c, m->addr);
			g_ptr_array_add(sw->remove, g_strdup(m->addr));
			continue;
		}
		w.bounce.notices_left--;
		w.bounce.last_notice = sw->now;
		roster_change_put(c, &w);
		{
			struct warning *wa = g_new(struct warning, 1);

			wa->addr = g_strdup(m->addr);
			wa->reason = g_strdup(m->bounce.reason);
			wa->notices_left = w.bounce.notices_left;
			g_ptr_array_add(sw->warn, wa);
		}
	}
	g_ptr_array_free(all, TRUE);
	return 0;
}

static void
removed_notice(struct list *l, const char *addr)
{
	GError *error = NULL;
	char *subject, *text;

	log_info(BOUNCE_SUBSYS, "list %s: %s removed: disabled by bounces and "
		 "warned", list_fqdn(l), addr);
	if (!list_get_bool(l, "bounce_notify_owner_on_removal"))
		return;
	subject = g_strdup_printf("Bounce action notification: %s removed", addr);
	text = g_strdup_printf("%s was removed from %s: its delivery was disabled "
			       "by bounces and it did not answer the warnings.\n",
			       addr, list_fqdn(l));
	if (notice_to_owners(l, subject, text, NULL, &error) < 0) {
		log_error(BOUNCE_SUBSYS, "list %s: removal notice not sent: %s",
			  list_fqdn(l), error->message);
		g_clear_error(&error);
	}
	g_free(subject);
	g_free(text);
}

int
bounce_run_disabled(struct list *l, int64_t now, int *warned_r, int *removed_r,
		    GError **error)
{
	struct sweep sw = {
		.now = now,
		.interval = list_get_int(l, "bounce_you_are_disabled_warnings_interval"),
		.stale_days = list_get_int(l, "bounce_info_stale_after"),
		.warn = g_ptr_array_new_with_free_func(warning_free),
		.remove = g_ptr_array_new_with_free_func(g_free),
	};
	int ret = roster_edit(l, sweep_fn, &sw, error);

	for (guint i = 0; ret == 0 && i < sw.warn->len; i++) {
		const struct warning *wa = sw.warn->pdata[i];
		GError *local = NULL;

		if (bounce_send_warning(l, wa->addr, wa->reason, wa->notices_left,
					&local) < 0) {
			log_error(BOUNCE_SUBSYS, "list %s: warning to %s not sent: %s",
				  list_fqdn(l), wa->addr, local->message);
			g_clear_error(&local);
		}
	}
	for (guint i = 0; ret == 0 && i < sw.remove->len; i++)
		removed_notice(l, sw.remove->pdata[i]);
	if (warned_r != NULL)
		*warned_r = (int)sw.warn->len;
	if (removed_r != NULL)
		*removed_r = (int)sw.remove->len;
	g_ptr_array_free(sw.warn, TRUE);
	g_ptr_array_free(sw.remove, TRUE);
	return ret;
}

/* --- reset -------------------------------------------------------------------------- */

static int
reset_fn(const struct roster *r, struct roster_change *c, void *ctx,
	 GError **error)
{
	const char *addr = ctx;
	const struct member *m = roster_find(r, addr);
	struct member w;

	if (m == NULL)
		return 0;
	w = *m;
	memset(&w.bounce, 0, sizeof w.bounce);
	w.bounce.reason = "";
	if (w.status == STATUS_BY_BOUNCE) {
		w.status = STATUS_ENABLED;
		w.status_time = now_usec() / 1000000;
		w.status_reason = "";
	}
	roster_change_put(c, &w);
	return 0;
}

int
bounce_reset_member(struct list *l, const char *addr, GError **error)
{
	struct roster *r = NULL;
	int found;

	if (roster_load(l, &r, error) < 0)
		return -1;
	found = roster_find(r, addr) != NULL;
	roster_free(&r);
	if (!found)
		return 0;
	return roster_edit(l, reset_fn, (void *)addr, error) < 0 ? -1 : 1;
}
