/*
 * notice.c - herald's own mail: built here, written to the virgin queue.
 *
 * Notices come from LIST-owner with the envelope sender LIST-bounces, so
 * that a bounce of a notice reaches bounce processing, not a person.  They
 * carry X-List-Administrivia and Auto-Submitted (RFC 3834), so that other
 * robots do not answer them.
 *
 * A notice never goes to an address herald serves (listaddr_map: LIST@,
 * LIST-owner@, another list's address, in any case, with a +extension
 * too): a post From: LIST@DOMAIN that is held would otherwise have its
 * "awaits approval" notice posted to the list itself, or mailed to the
 * owners as owner mail.  notice_send() is where every notice is addressed,
 * so the check is there; such a recipient is dropped with a log line.
 */
#include "list/notice.h"
#include "mail/address.h"
#include "base/base.h"
#include "list/ledger.h"
#include "list/template.h"
#include "list/listaddr.h"
#include "base/log.h"
#include "mail/message.h"
#include "store/queue.h"
#include "store/names.h"

#include <string.h>
#include <time.h>

#define NOTICE_SUBSYS "notice"

static GMimeMessage *
build(struct list *l, const char *const *recipients,
      const struct notice_from *from, const char *subject, const char *text,
      GMimeMessage *attach)
{
	GMimeMessage *msg;
	GMimeTextPart *body;
	char *owner = list_address(l, from != NULL && from->suffix != NULL
				   ? from->suffix : "-owner");
	char *id, *name = list_get(l, "real_name", NULL);
	/* From another address than -owner (-request: the command
	 * processor's) the name is the list's, not its owner's. */
	char *from_name = g_strdup_printf(from != NULL && from->suffix != NULL
					  ? "%s mailing list" : "%s list owner",
					  name);
	GDateTime *now = g_date_time_new_now_local();

	message_init();		/* before any GMime object is made */
	msg = g_mime_message_new(TRUE);
	body = g_mime_text_part_new_with_subtype("plain");
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, from_name, owner);
	if (from != NULL && from->reply_to != NULL)
		g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_REPLY_TO,
					   NULL, from->reply_to);
	for (guint i = 0; recipients[i] != NULL; i++)
		g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL,
					   recipients[i]);
	g_mime_message_set_subject(msg, subject, "utf-8");
	g_mime_message_set_date(msg, now);
	id = g_mime_utils_generate_message_id(strchr(owner, '@') + 1);
	g_mime_message_set_message_id(msg, id);
	/* set_text picks the charset (US-ASCII, ISO-8859-1 or UTF-8),
	 * converts the text to it and labels the part: relabelling it
	 * would garble text that fits Latin-1. */
	g_mime_text_part_set_text(body, text);
	message_set_body_attached(msg, GMIME_OBJECT(body), attach);
	g_object_unref(body);
	message_header_append(msg, "X-List-Administrivia", "yes");
	message_header_append(msg, "Auto-Submitted", "auto-generated");
	message_header_append(msg, "Precedence", "bulk");
	g_date_time_unref(now);
	g_free(id);
	g_free(owner);
	g_free(name);
	g_free(from_name);
	return msg;
}

/* Whether addr is an address herald serves on this site; logged when it
 * is.  LIST+tag@DOMAIN counts as LIST@DOMAIN: an MTA with a recipient
 * delimiter delivers it there. */
static gboolean
served(struct list *l, const char *addr, const char *subject)
{
	struct listaddr *r = listaddr_map_tagged(list_site(l), addr);

	if (r == NULL)
		return FALSE;
	log_warning(NOTICE_SUBSYS, "list %s: notice \"%s\" not sent to %s: it "
		    "is the %s address of list %s", list_fqdn(l), subject, addr,
		    r->kind, r->list);
	listaddr_free_ptr(r);
	return TRUE;
}

int
notice_send(struct list *l, const char *const *recipients, const char *subject,
	    const char *text, GMimeMessage *attach, GError **error)
{
	return notice_send_from(l, recipients, NULL, subject, text, attach,
				error);
}

/* Every notice is written here: from (NULL: LIST-owner), the envelope
 * sender (NULL: LIST-bounces). */
static int
write_notice(struct list *l, const char *const *recipients,
	     const struct notice_from *from, const char *sender,
	     const char *subject, const char *text, GMimeMessage *attach,
	     GError **error)
{
	struct queue_meta *meta;
	GMimeMessage *msg;
	GByteArray *bytes;
	GPtrArray *kept = g_ptr_array_new();
	char *bounces;
	int ret;

	for (guint i = 0; recipients[i] != NULL; i++)
		if (!served(l, recipients[i], subject))
			g_ptr_array_add(kept, (char *)recipients[i]);
	g_ptr_array_add(kept, NULL);
	recipients = (const char *const *)kept->pdata;
	if (recipients[0] == NULL) {
		g_ptr_array_free(kept, TRUE);
		return 0;
	}
	msg = build(l, recipients, from, subject, text, attach);
	bytes = message_to_bytes(msg);
	bounces = sender != NULL ? g_strdup(sender) : list_address(l, "-bounces");
	meta = queue_meta_new();
	queue_meta_set(meta, META_LIST, list_fqdn(l));
	queue_meta_set(meta, META_KIND, "notice");
	queue_meta_set(meta, META_SENDER, bounces);
	for (guint i = 0; recipients[i] != NULL; i++)
		queue_meta_add(meta, META_RCPT, recipients[i]);
	ret = queue_put(site_var_dir(list_site(l)), QUEUE_VIRGIN, meta,
			(const char *)bytes->data, bytes->len, NULL, error);
	if (ret == 0)
		log_info(NOTICE_SUBSYS, "list %s: notice \"%s\" to %s%s",
			 list_fqdn(l), subject, recipients[0],
			 recipients[1] != NULL ? " and others" : "");
	queue_meta_free(&meta);
	g_byte_array_unref(bytes);
	g_object_unref(msg);
	g_free(bounces);
	g_ptr_array_free(kept, TRUE);
	return ret;
}

int
notice_send_from(struct list *l, const char *const *recipients,
		 const struct notice_from *from, const char *subject,
		 const char *text, GMimeMessage *attach, GError **error)
{
	return write_notice(l, recipients, from, NULL, subject, text, attach,
			    error);
}

int
notice_send_envelope(struct list *l, const char *const *recipients,
		     const char *sender, const char *subject, const char *text,
		     GMimeMessage *attach, GError **error)
{
	return write_notice(l, recipients, NULL, sender, subject, text, attach,
			    error);
}

int
notice_to_owners(struct list *l, const char *subject, const char *text,
		 GMimeMessage *attach, GError **error)
{
	return notice_to_owners_from(l, NULL, subject, text, attach, error);
}

int
notice_to_owners_from(struct list *l, const struct notice_from *from,
		      const char *subject, const char *text,
		      GMimeMessage *attach, GError **error)
{
	char **owners = list_get_lines(l, "owner");
	char **mods = list_get_lines(l, "moderator");
	GPtrArray *all = g_ptr_array_new();
	int ret;

	for (guint i = 0; owners[i] != NULL; i++)
		g_ptr_array_add(all, owners[i]);
	for (guint i = 0; mods[i] != NULL; i++)
		if (!address_in((const char *const *)owners, mods[i]))
			g_ptr_array_add(all, mods[i]);
	g_ptr_array_add(all, NULL);
	ret = notice_send_from(l, (const char *const *)all->pdata, from,
			       subject, text, attach, error);
	g_ptr_array_free(all, TRUE);
	g_strfreev(owners);
	g_strfreev(mods);
	return ret;
}

/* Robots do not get automatic replies: the null sender, list and bounce
 * addresses, mailer daemons. */
static gboolean
is_robot(const char *addr)
{
	const char *at = strrchr(addr, '@');
	char *local;
	gboolean robot;

	if (*addr == '\0' || at == NULL)
		return TRUE;
	local = g_ascii_strdown(addr, at - addr);
	robot = strcmp(local, "mailer-daemon") == 0 ||
		g_str_has_suffix(local, "-bounces") ||
		g_str_has_suffix(local, "-request") ||
		g_str_has_prefix(local, "owner-") ||
		g_str_has_prefix(local, "noreply") ||
		g_str_has_prefix(local, "no-reply");
	g_free(local);
	return robot;
}

/* The autoresponses ledger: "DATE COUNT" per address, today's only. */
struct daily {
	const char *today;
	int64_t max;
};

static int
daily_decide(const char *old, char **new_r, void *ctx)
{
	struct daily *d = ctx;
	int64_t count = 0;
	int allow;

	if (old != NULL && g_str_has_prefix(old, d->today) &&
	    old[strlen(d->today)] == ' ')
		count = g_ascii_strtoll(old + strlen(d->today) + 1, NULL, 10);
	/* The first reply over the limit is the day's last: Mailman's
	 * "nomoretoday" notice, counted, so that later ones are not. */
	allow = d->max == 0 || count < d->max ? 1 : count == d->max ? 2 : 0;
	*new_r = g_strdup_printf("%s %" G_GINT64_FORMAT, d->today,
				 count + (allow ? 1 : 0));
	return allow;
}

static gboolean
daily_keep(const char *value, void *ctx)
{
	struct daily *d = ctx;

	return g_str_has_prefix(value, d->today);
}

/* One more automatic reply to key today, if the allowance lets it.
 * 1 allowed (and counted), 0 not, -1 error. */
static int
count_response(struct list *l, const char *key, GError **error)
{
	int64_t max = site_get_int(list_site(l),
				   "notice.max_autoresponses_per_day");
	GDateTime *now;
	char *today;
	int r;

	/* No limit, nothing to count: the ledger is rewritten whole under
	 * the list lock for each reply, the command processor's cost at
	 * thousands of senders a day (docs/PERFORMANCE.md). */
	if (max == 0)
		return 1;
	now = g_date_time_new_now_utc();
	today = g_date_time_format(now, "%Y-%m-%d");
	struct daily d = { today, max };
	r = ledger_update(l, "autoresponses", key, daily_decide, daily_keep, &d,
			  error);
	g_free(today);
	g_date_time_unref(now);
	return r;
}

int
notice_autorespond(struct list *l, const char *addr, const char *subject,
		   const char *text, GMimeMessage *attach, GError **error)
{
	return notice_autorespond_from(l, addr, NULL, subject, text, attach,
				       error);
}

/* Mailman's nomoretoday: addr had the day's automatic replies (template
 * nomoretoday, in the list's language). */
static int
last_for_today(struct list *l, const char *addr, GError **error)
{
	const char *to[] = { addr, NULL };
	GHashTable *vars = template_vars_for_list(l);
	struct template_text t;
	int ret = -1;

	template_vars_set(vars, "sender", addr);
	template_vars_take(vars, "num", g_strdup_printf("%" G_GINT64_FORMAT,
		site_get_int(list_site(l), "notice.max_autoresponses_per_day")));
	if (template_render(l, "nomoretoday", NULL, vars, &t, error) == 0) {
		ret = notice_send(l, to, t.subject, t.body, NULL, error);
		template_text_clear(&t);
	}
	g_hash_table_unref(vars);
	return ret;
}

int
notice_autorespond_from(struct list *l, const char *addr,
			const struct notice_from *from, const char *subject,
			const char *text, GMimeMessage *attach, GError **error)
{
	const char *to[] = { addr, NULL };
	char *key;
	int r;

	/* Before the count: a reply that is not sent uses no allowance. */
	if (is_robot(addr) || served(l, addr, subject))
		return 0;
	if ((key = address_key(addr)) == NULL)
		return 0;
	r = count_response(l, key, error);
	if (r == 0 || r == 2)
		log_info(NOTICE_SUBSYS, "list %s: %s had today's automatic "
			 "replies; \"%s\" not sent", list_fqdn(l), addr, subject);
	g_free(key);
	if (r == 2)
		return last_for_today(l, addr, error) < 0 ? -1 : 0;
	if (r <= 0)
		return r;
	return notice_send_from(l, to, from, subject, text, attach, error) < 0
	       ? -1 : 1;
}

char *
notice_member_address(struct list *l, const char *addr)
{
	const char *at = strrchr(addr, '@');
	char *suffix, *out;

	if (at == NULL || !list_get_bool(l, "umbrella_list"))
		return g_strdup(addr);
	suffix = list_get(l, "umbrella_member_suffix", NULL);
	out = g_strdup_printf("%.*s%s%s", (int)(at - addr), addr,
			      suffix != NULL ? suffix : "", at);
	g_free(suffix);
	return out;
}
