/*
 * disabled.c - what happens to members disabled by bounces later: the
 * warnings and the removal (process.h: bounce_run_disabled), as Mailman
 * 2.1's cron/disabled.
 *
 * Like process.c, decisions are made in one roster_edit (so that two
 * hosts never warn or remove twice for one slot), and the mail goes once
 * the change is committed.
 */
#include "bounce/process.h"
#include "bounce/bounce-private.h"
#include "base/base.h"
#include "base/log.h"
#include "list/listurls.h"
#include "list/modlink.h"
#include "list/notice.h"
#include "list/pending.h"
#include "list/template.h"
#include "mail/address.h"

#include <string.h>

#define BOUNCE_SUBSYS "bounce"
#define DAY (24 * 3600)

int
bounce_send_template(struct list *l, const char *addr, const char *language,
	      const char *name, GHashTable *vars, const struct notice_from *from,
	      const char *sender, GMimeMessage *attach, GError **error)
{
	const char *to[] = { addr, NULL };
	struct template_text t;
	int ret;

	template_vars_set(vars, "address", addr);
	template_vars_set(vars, "email", addr);
	template_vars_take(vars, "optionsurl", listurls_member_options(l, addr));
	if (template_render(l, name, language != NULL && *language != '\0'
			    ? language : NULL, vars, &t, error) < 0)
		return -1;
	ret = sender != NULL
	      ? notice_send_envelope(l, to, sender, t.subject, t.body, attach, error)
	      : notice_send_from(l, to, from, t.subject, t.body, attach, error);
	template_text_clear(&t);
	return ret;
}

int
bounce_send_warning(struct list *l, const char *addr, const char *language,
		    const char *reason, int notices_left, GError **error)
{
	struct pending *p = pending_new(PENDING_REENABLE, addr);
	GHashTable *vars = template_vars_for_list(l);
	char *reply_to = NULL;
	int ret = -1;

	/* A reply to the warning (LIST-confirm+TOKEN) or the token in a
	 * "confirm TOKEN" command re-enables (the commands runner). */
	p->requester = g_strdup("bounce");
	p->via = g_strdup("mail");
	g_free(p->language);
	p->language = g_strdup(language != NULL ? language : "");
	if (pending_add(l, p, error) < 0)
		goto out;
	reply_to = list_address_plus(l, "-confirm", p->token);
	template_vars_set(vars, "reason", *reason != '\0' ? reason : "other");
	template_vars_take(vars, "noticesleft", g_strdup_printf("%d", notices_left));
	template_vars_set(vars, "cookie", p->token);
	template_vars_set(vars, "confirmaddr", reply_to);
	template_vars_take(vars, "confirmurl", modlink_confirm_url(l, p->token));
	{
		const struct notice_from from = { "-request", reply_to };

		ret = bounce_send_template(l, addr, language, "disabled", vars,
					   &from, NULL, NULL, error);
	}
out:
	g_free(reply_to);
	g_hash_table_unref(vars);
	pending_free(&p);
	return ret;
}

/* --- the daily task ------------------------------------------------------------ */

/* A warning to send once the change is committed. */
struct warning {
	char *addr, *reason, *language;
	int notices_left;
};

static void
warning_free(gpointer p)
{
	struct warning *w = p;

	g_free(w->addr);
	g_free(w->reason);
	g_free(w->language);
	g_free(w);
}

struct sweep {
	int64_t now;
	int64_t interval, stale_days;
	int warnings;
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
		if (m->bounce.last_notice == 0 && sw->warnings > 0) {
			/* Never warned: disabled by an older herald (a
			 * version-1 roster) or while the list had no
			 * warnings.  The warnings start now. */
			w.bounce.notices_left = sw->warnings;
		} else if (m->bounce.last_notice != 0 &&
			   bounce_day(sw->now) - bounce_day(m->bounce.last_notice)
			   < sw->interval * DAY) {
			/* Days, not seconds, as Mailman: a daily task at a
			 * fixed hour must not slip a day behind. */
			continue;
		} else if (m->bounce.notices_left <= 0) {
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
			wa->language = g_strdup(m->language);
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
		.warnings = (int)list_get_int(l, "bounce_you_are_disabled_warnings"),
		.stale_days = list_get_int(l, "bounce_info_stale_after"),
		.warn = g_ptr_array_new_with_free_func(warning_free),
		.remove = g_ptr_array_new_with_free_func(g_free),
	};
	int ret = roster_edit(l, sweep_fn, &sw, error);

	for (guint i = 0; ret == 0 && i < sw.warn->len; i++) {
		const struct warning *wa = sw.warn->pdata[i];
		GError *local = NULL;

		if (bounce_send_warning(l, wa->addr, wa->language, wa->reason,
					wa->notices_left, &local) < 0) {
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
