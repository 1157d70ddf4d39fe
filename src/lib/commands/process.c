/*
 * process.c - one message from the commands queue (process.h): the loop
 * guards, the sender, the kind of address it came to, and the reply.
 *
 *   LIST-request         the commands in it (parse.h), after
 *                        autorespond_requests (1: answer and drop, 2:
 *                        answer and go on; autoresponse_graceperiod)
 *   LIST-join, -subscribe     "subscribe" for the sender
 *   LIST-leave, -unsubscribe  "unsubscribe" for the sender
 *   LIST-confirm+TOKEN   "confirm TOKEN", with the Approved: password of a
 *                        moderator's reply
 *
 * The reply quotes each command with its result and carries the
 * message; it is an automatic reply (notice_autorespond), so a sender
 * gets at most notice.max_autoresponses_per_day a day.  Mail to
 * -request with no command at all gets none (Mailman's
 * DISCARD_MESSAGE_WITH_NO_COMMAND: a spam run gets no backscatter).
 */
#include "commands/process.h"
#include "commands/session.h"
#include "base/base.h"
#include "base/log.h"
#include "list/ledger.h"
#include "list/listaddr.h"
#include "list/notice.h"
#include "list/subscribe.h"
#include "list/template.h"
#include "mail/address.h"
#include "mail/message.h"
#include "store/names.h"

#include <stdarg.h>
#include <string.h>

void
session_result(struct session *s, const char *line, const char *fmt, ...)
{
	va_list ap;
	char *text, **lines;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_string_append_printf(s->reply, "> %s\n", line);
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++)
		g_string_append_printf(s->reply, "%s%s\n", **l != '\0' ? "    "
				       : "", *l);
	g_string_append_c(s->reply, '\n');
	g_strfreev(lines);
	g_free(text);
	s->results++;
}

/* --- who sent it, and may it be answered --------------------------------- */

/* Whether addr is one of the site's list addresses (LIST+tag@ too). */
static gboolean
served(struct site *site, const char *addr)
{
	struct listaddr *r = listaddr_map_tagged(site, addr);

	if (r == NULL)
		return FALSE;
	listaddr_free_ptr(r);
	return TRUE;
}

/* The From mailbox (the first), else the envelope sender; FALSE when
 * neither is an address. */
static gboolean
find_sender(struct session *s, const char *envelope)
{
	const char *from = message_header(s->msg, "From");
	GPtrArray *addrs = NULL;

	if (from != NULL && address_parse_list(from, &addrs, NULL) == 0 &&
	    addrs->len > 0) {
		const struct address *a = addrs->pdata[0];

		s->sender = g_strdup(a->addr);
		s->sender_name = g_strdup(a->name);
	}
	if (addrs != NULL)
		g_ptr_array_unref(addrs);
	if (s->sender == NULL && envelope != NULL &&
	    address_validate(envelope, NULL) == 0)
		s->sender = g_strdup(envelope);
	return s->sender != NULL;
}

/* Why this message must get no answer and change nothing, or NULL. */
static const char *
ignore_reason(struct session *s, const char *envelope)
{
	const char *auto_submitted = message_header(s->msg, "Auto-Submitted");

	if (envelope == NULL || *envelope == '\0' || strcmp(envelope, "<>") == 0)
		return "it comes from the null sender";
	if (auto_submitted != NULL &&
	    g_ascii_strncasecmp(auto_submitted, "no", 2) != 0)
		return "it is Auto-Submitted";
	if (auto_submitted != NULL && auto_submitted[2] != '\0' &&
	    auto_submitted[2] != ';' && !g_ascii_isspace(auto_submitted[2]))
		return "it is Auto-Submitted";
	if (message_is_bulk(s->msg))
		return "its Precedence is bulk, junk or list";
	if (!find_sender(s, envelope))
		return "it names no sender";
	if (served(s->site, s->sender) || served(s->site, envelope))
		return "it comes from a list's own address";
	return NULL;
}

/* --- the reply ------------------------------------------------------------ */

static int
send_reply(struct session *s, const struct commands *cs, GError **error)
{
	GString *text = g_string_new(NULL);
	char *subject = g_strdup_printf("The results of your commands to %s",
					list_fqdn(s->list));
	int r;

	g_string_append_printf(text, "The results of your commands to %s are "
			       "below; your message is attached.\n\n",
			       list_fqdn(s->list));
	g_string_append_len(text, s->reply->str, s->reply->len);
	if (cs != NULL && cs->stopped_at != NULL)
		g_string_append_printf(text, "- Not a command (reading stopped "
				       "here):\n    %s\n\n", cs->stopped_at);
	if (cs != NULL && cs->ignored->len > 0)
		g_string_append_printf(text, "- Ignored: %u more line%s after "
				       "the first %" G_GINT64_FORMAT ".\n\n",
				       cs->ignored->len,
				       cs->ignored->len == 1 ? "" : "s",
				       site_get_int(s->site, "commands.max_lines"));
	if (cs != NULL && cs->other_parts)
		g_string_append(text, "- Only the first plain-text part of your "
				"message was read.\n\n");
	g_string_append(text, "- Done.\n");
	r = notice_autorespond(s->list, s->sender, subject, text->str, s->msg,
			       error);
	g_string_free(text, TRUE);
	g_free(subject);
	return r < 0 ? -1 : 0;
}

/* autorespond_requests: 1 answer and drop, 2 answer and go on; one
 * answer per sender per autoresponse_graceperiod days.  TRUE when the
 * message is to be dropped. */
static gboolean
autorespond(struct session *s, GError **error)
{
	int64_t mode = list_get_int(s->list, "autorespond_requests");
	char *key, *raw, *text, *subject;
	GHashTable *vars;
	int r;

	if (mode == 0 || (key = address_key(s->sender)) == NULL)
		return FALSE;
	r = ledger_grace(s->list, "requestbot", key,
			 list_get_int(s->list, "autoresponse_graceperiod"), error);
	g_free(key);
	if (r > 0) {
		raw = list_get(s->list, "autoresponse_request_text", NULL);
		vars = template_vars_for_list(s->list);
		text = template_expand(raw, vars);
		subject = g_strdup_printf("Auto-response for your message to %s",
					  list_fqdn(s->list));
		if (notice_autorespond(s->list, s->sender, subject, text, NULL,
				       error) < 0)
			r = -1;
		g_hash_table_unref(vars);
		g_free(raw);
		g_free(text);
		g_free(subject);
	}
	if (r < 0) {
		log_error(COMMANDS_SUBSYS, "list %s: autoresponse to %s: %s",
			  list_fqdn(s->list), s->sender, (*error)->message);
		g_clear_error(error);
	}
	return mode == 1;
}

/* --- the kinds ------------------------------------------------------------ */

static int
run_commands(struct session *s, GError **error)
{
	guint max = (guint)site_get_int(s->site, "commands.max_lines");
	struct commands *cs;
	int ret = 0;

	if (autorespond(s, error)) {
		log_info(COMMANDS_SUBSYS, "list %s: request from %s answered by "
			 "autoresponse_request_text and dropped",
			 list_fqdn(s->list), s->sender);
		return 0;
	}
	cs = commands_parse(s->msg, max > 0 ? max : 25);
	for (guint i = 0; ret == 0 && i < cs->commands->len; i++)
		ret = session_exec(s, cs->commands->pdata[i], error);
	if (ret == 0 && s->results == 0)
		log_info(COMMANDS_SUBSYS, "list %s: request from %s ignored: no "
			 "command in it", list_fqdn(s->list), s->sender);
	else if (ret == 0)
		ret = send_reply(s, cs, error);
	commands_free(&cs);
	return ret;
}

/* The token of LIST-confirm+TOKEN@DOMAIN, or NULL. */
static char *
recipient_token(const char *recipient)
{
	const char *plus = recipient != NULL ? strchr(recipient, '+') : NULL;
	const char *at = recipient != NULL ? strrchr(recipient, '@') : NULL;

	if (plus == NULL || at == NULL || at < plus)
		return NULL;
	return g_strndup(plus + 1, (gsize)(at - plus - 1));
}

static int
run_kind(struct session *s, const char *kind, const char *recipient,
	 GError **error)
{
	char *token = NULL, *line;
	struct command *c;
	int ret;

	if (strcmp(kind, "confirm") == 0 &&
	    (token = recipient_token(recipient)) != NULL) {
		s->approved = commands_approved(s->msg);
		line = g_strdup_printf("confirm %s", token);
		ret = session_confirm(s, line, token, error);
		g_free(line);
		g_free(token);
	} else if (strcmp(kind, "join") == 0 || strcmp(kind, "leave") == 0) {
		c = command_parse_line(strcmp(kind, "join") == 0 ? "subscribe"
							      : "unsubscribe");
		ret = session_exec(s, c, error);
		command_free(&c);
	} else {
		s->approved = commands_approved(s->msg);
		return run_commands(s, error);
	}
	return ret < 0 ? -1 : send_reply(s, NULL, error);
}

/* A one-click unsubscription the web interface took (KIND_ONECLICK): the
 * token was checked there, so the member's own request, with no
 * confirmation; unsubscribe_policy still applies.  No reply: the page
 * said what happens (and the goodbye, if the list sends one, goes). */
static int
oneclick(struct list *l, const struct queue_meta *meta, GError **error)
{
	const char *addr = queue_meta_get(meta, META_MEMBER);
	struct subscribe_request r = {
		.address = addr, .requester = addr, .via = "web",
		.welcome = SUBSCRIBE_LIST_DEFAULT,
	};
	int outcome;

	if (addr == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "a one-click entry without %s", META_MEMBER);
		return -1;
	}
	if ((outcome = unsubscribe_request(l, &r, TRUE, NULL, error)) < 0)
		return -1;
	log_info(COMMANDS_SUBSYS, "list %s: one-click unsubscription of %s: %s",
		 list_fqdn(l), addr, subscribe_outcome_text(outcome));
	return 0;
}

int
commands_process(struct site *site, const struct queue_meta *meta,
		 const char *msg, size_t len, GError **error)
{
	const char *fqdn = queue_meta_get(meta, META_LIST);
	const char *kind = queue_meta_get(meta, META_KIND);
	const char *envelope = queue_meta_get(meta, META_SENDER);
	struct session s = { .site = site };
	const char *why;
	int ret = -1;

	if (fqdn == NULL || kind == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "a commands entry without %s", fqdn == NULL
			    ? META_LIST : META_KIND);
		return -1;
	}
	if ((s.list = list_open(site, fqdn, error)) == NULL) {
		if ((*error)->code != HERALD_ERR_NOTFOUND)
			return -1;
		log_info(COMMANDS_SUBSYS, "%s mail for list %s ignored: the "
			 "list is gone", kind, fqdn);
		g_clear_error(error);
		return 0;
	}
	if (strcmp(kind, KIND_ONECLICK) == 0) {
		ret = oneclick(s.list, meta, error);
		goto out;
	}
	if ((s.msg = message_parse(msg, len, error)) == NULL)
		goto out;
	s.reply = g_string_new(NULL);
	if ((why = ignore_reason(&s, envelope)) != NULL) {
		log_info(COMMANDS_SUBSYS, "list %s: %s mail from %s ignored: %s",
			 fqdn, kind, envelope != NULL && *envelope != '\0'
			 ? envelope : "<>", why);
		ret = 0;
		goto out;
	}
	ret = run_kind(&s, kind, queue_meta_get(meta, META_RECIPIENT), error);
	if (ret == 0 && s.results > 0)
		log_info(COMMANDS_SUBSYS, "list %s: %s mail from %s: %u "
			 "command%s worked", fqdn, kind, s.sender, s.results,
			 s.results == 1 ? "" : "s");
out:
	if (s.reply != NULL)
		g_string_free(s.reply, TRUE);
	if (s.msg != NULL)
		g_object_unref(s.msg);
	g_free(s.sender);
	g_free(s.sender_name);
	if (s.approved != NULL)
		memset(s.approved, 0, strlen(s.approved));
	g_free(s.approved);
	g_free(s.authenticated);
	list_free(&s.list);
	return ret;
}
