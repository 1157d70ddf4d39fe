/*
 * site.c - the var dir and the site configuration (etc/herald.conf).
 *
 * The configuration is a GLib key file a person can edit.  Writes go
 * through fs_write_atomic under the "site-config" lock, so two admins (or
 * two hosts) changing settings at once do not lose each other's change.
 */
#include "store/site.h"
#include "base/base.h"
#include "store/lock.h"
#include "store/runner.h"
#include "store/schedule.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct setting_def settings[] = {
	{ "site.host", SETTING_STRING, "", NULL, 0, 0,
	  "Name of this host in lock, lease and log file names. Empty: the "
	  "system host name (first label). The environment variable "
	  "HERALD_HOST overrides it." },
	{ "log.target", SETTING_ENUM, "file", "file|syslog", 0, 0,
	  "Where logs go: files under logs/<host>/<subsystem>, or syslog "
	  "(facility mail)." },
	{ "mta.smtp_host", SETTING_STRING, "127.0.0.1", NULL, 0, 0,
	  "The MTA that herald delivers outgoing mail to." },
	{ "mta.smtp_port", SETTING_INT, "25", NULL, 1, 65535,
	  "Its SMTP port." },
	{ "mta.transport", SETTING_ENUM, "smtp", "smtp|lmtp|sendmail", 0, 0,
	  "How the out queue's runner hands mail to the MTA: smtp (to "
	  "mta.smtp_host:mta.smtp_port), lmtp (the same address, or "
	  "mta.lmtp_socket), or sendmail (mta.sendmail_command)." },
	{ "mta.lmtp_socket", SETTING_STRING, "", NULL, 0, 0,
	  "For mta.transport lmtp: a unix socket path instead of host:port." },
	{ "mta.sendmail_command", SETTING_STRING, "/usr/sbin/sendmail", NULL, 0, 0,
	  "For mta.transport sendmail: the command, given -i -f SENDER -- "
	  "RECIPIENTS and the message on standard input." },
	{ "mta.smtp_tls", SETTING_ENUM, "none", "none|opportunistic|required",
	  0, 0,
	  "STARTTLS to the MTA: never, when offered, or always (fail "
	  "without it)." },
	{ "mta.smtp_tls_verify", SETTING_BOOL, "true", NULL, 0, 0,
	  "Check the MTA's certificate and name when using TLS." },
	{ "mta.smtp_user", SETTING_STRING, "", NULL, 0, 0,
	  "User name for SMTP AUTH (PLAIN or LOGIN); empty: no AUTH." },
	{ "mta.smtp_password", SETTING_STRING, "", NULL, 0, 0,
	  "Password for SMTP AUTH." },
	{ "mta.smtp_timeout", SETTING_INT, "60", NULL, 1, 3600,
	  "Seconds to wait for each step of an SMTP or LMTP conversation, "
	  "and for the sendmail command (mta.transport sendmail) to take "
	  "more of the message or to exit: a command that hangs is killed and "
	  "its recipients retried." },
	{ "mta.postfix_config", SETTING_STRING, "/etc/postfix", NULL, 0, 0,
	  "The configuration directory of the Postfix that receives list mail: "
	  "`herald mta-config postfix --write` runs postmap -c with it. Without "
	  "a main.cf there, postmap is not run (build the tables yourself)." },
	{ "mta.postfix_transport", SETTING_ENUM, "lmtp", "lmtp|pipe", 0, 0,
	  "How Postfix hands list mail to herald in the tables of `herald "
	  "mta-config postfix`: lmtp (to the LMTP server of lmtp.listen) or "
	  "pipe (a pipe(8) transport named herald that runs `herald mta "
	  "auto`; see docs/postfix.md)." },
	{ "master.lease_lifetime", SETTING_INT, "30", NULL, 1, 86400,
	  "Seconds a queue-slice lease lasts without renewal. A dead host's "
	  "slices move to another host after this long. The master renews "
	  "its leases every third of it." },
	{ "master.poll_interval", SETTING_INT, "1000", NULL, 10, 600000,
	  "Milliseconds an idle runner waits before it lists its queue again. "
	  "inotify wakes it sooner for files written on this host; files "
	  "written by other NFS hosts are seen at the next poll." },
	{ "master.restart_backoff_max", SETTING_INT, "60", NULL, 1, 3600,
	  "Longest wait, in seconds, before a crashed runner is restarted. "
	  "The wait doubles from one second with each crash in a row." },
	{ "entry.max_message_size", SETTING_INT, "52428800", NULL, 1024,
	  2147483647,
	  "Largest message, in bytes, that herald accepts from the MTA, the "
	  "same for both entries and enforced as the message is read: the "
	  "LMTP server answers 552, `herald mta` exits 65 with 5.3.4 (the MTA "
	  "bounces it; docs/postfix.md). The list's own max_message_size "
	  "holds smaller ones for moderation." },
	{ "lmtp.listen", SETTING_STRING, "", NULL, 0, 0,
	  "Where the master's LMTP server listens for mail from the MTA: "
	  "unix:/path/to/socket or 127.0.0.1:PORT. Empty: no LMTP server (the "
	  "MTA uses `herald mta` instead)." },
	{ "lmtp.pipe_socket", SETTING_BOOL, "true", NULL, 0, 0,
	  "Whether the master's LMTP server also listens on its pipe socket, "
	  "through which herald-mta hands each message over instead of "
	  "storing it itself (faster: docs/postfix.md). A unix socket in the "
	  "abstract namespace, named after the var dir, that only herald's "
	  "user and root may use; the LMTP server runs for it even when "
	  "lmtp.listen is empty. false: herald-mta runs `herald mta`." },
	{ "lmtp.pipe_workers", SETTING_INT, "2", NULL, 0, 64,
	  "Processes the LMTP server keeps ready for herald-mta's connections "
	  "on the pipe socket, each serving one session after another, so "
	  "that a message does not wait for a process to be made for it. "
	  "Connections left waiting 20 ms with every worker busy get a "
	  "process each, as every connection does with 0. Not counted in "
	  "lmtp.max_sessions." },
	{ "lmtp.socket_group", SETTING_STRING, "", NULL, 0, 0,
	  "The group given to a unix LMTP socket (mode 0660), so that the MTA's "
	  "LMTP client (Postfix: user postfix) may connect. Empty: the group "
	  "herald runs as." },
	{ "lmtp.max_message_size", SETTING_INT, "0", NULL, 0, 2147483647,
	  "The old name of entry.max_message_size, still obeyed: when not 0 it "
	  "is the limit of both entries in place of entry.max_message_size. "
	  "0: entry.max_message_size decides." },
	{ "lmtp.max_sessions", SETTING_INT, "100", NULL, 1, 10000,
	  "Most LMTP sessions at once (one process each, Postfix's "
	  "default_process_limit). A connection beyond them is answered "
	  "421 4.3.2 and closed; the MTA tries again later." },
	{ "lmtp.command_timeout", SETTING_INT, "300", NULL, 1, 3600,
	  "Seconds an LMTP session waits for a whole command after its last "
	  "reply (Postfix's smtpd_timeout); then 421 and the session "
	  "closes." },
	{ "lmtp.data_timeout", SETTING_INT, "600", NULL, 1, 86400,
	  "Seconds a message may take from the 354 reply to its final dot, "
	  "however slowly its bytes come (Postfix's lmtp_data_done_timeout); "
	  "then 421, the session closes and nothing of the message is "
	  "stored." },
	{ "lmtp.command_limit", SETTING_INT, "2000", NULL, 1, 1000000,
	  "Most commands an LMTP session may send without a message being "
	  "stored (twice a full transaction of 1,000 recipients); then 421 "
	  "and the session closes. Storing a message starts the count "
	  "again." },
	{ "lmtp.error_limit", SETTING_INT, "20", NULL, 1, 1000,
	  "Most protocol errors (unknown or malformed commands, commands out "
	  "of order, lines over 2048 bytes) an LMTP session may make without "
	  "a message being stored (Postfix's smtpd_hard_error_limit); then "
	  "421 and the session closes. An unknown list at RCPT is no "
	  "error." },
	{ "lock.lifetime", SETTING_INT, "60", NULL, 1, 86400,
	  "Seconds a list lock lasts unless its holder refreshes it. A holder "
	  "that dies blocks the list at most this long (at once when it dies "
	  "on the same host)." },
	{ "web.base_url", SETTING_STRING, "", NULL, 0, 0,
	  "The web interface's address, ending in /; list pages, archives and "
	  "unsubscribe links are made from it (List-Archive, List-Unsubscribe "
	  "and others). Empty: https://<the list's domain>/." },
	{ "web.listen", SETTING_STRING, "", NULL, 0, 0,
	  "Where the web interface listens: unix:PATH or IPv4:PORT (meant to "
	  "sit behind the site's nginx or Apache, docs/web.md); every host's "
	  "master runs it. Empty: no web interface on this host." },
	{ "web.socket_group", SETTING_STRING, "", NULL, 0, 0,
	  "For a unix socket in web.listen: the group that may connect (the "
	  "web server's, www-data). Empty: herald's own group." },
	{ "web.threads", SETTING_INT, "4", NULL, 1, 64,
	  "Threads that serve requests." },
	{ "web.max_connections", SETTING_INT, "256", NULL, 1, 100000,
	  "Most connections open at once; more are refused." },
	{ "web.timeout", SETTING_INT, "30", NULL, 1, 3600,
	  "Seconds a connection may stay idle or take to send its request; "
	  "then it is closed (slow clients)." },
	{ "web.max_body", SETTING_INT, "4194304", NULL, 1024, 1073741824,
	  "Largest request body in bytes (a mass subscription's addresses); "
	  "larger requests get 413." },
	{ "web.trusted_proxies", SETTING_STRING, "127.0.0.1 unix", NULL, 0, 0,
	  "Addresses of the reverse proxies whose X-Forwarded-For and "
	  "X-Forwarded-Proto are believed, separated by spaces; \"unix\" "
	  "stands for any client of a unix socket in web.listen." },
	{ "web.session_lifetime", SETTING_INT, "28800", NULL, 60, 31536000,
	  "Seconds a web login lasts." },
	{ "web.login_attempts", SETTING_INT, "10", NULL, 1, 100000,
	  "Failed logins allowed per client address and per account within "
	  "web.login_window; then logins are refused until it passes." },
	{ "web.login_window", SETTING_INT, "900", NULL, 1, 86400,
	  "Seconds over which failed logins are counted." },
	{ "web.admin_password", SETTING_STRING, "", PASSWORD_HASH_SETTING, 0, 0,
	  "The site administrator's web password, as an Argon2id hash: set it "
	  "with `herald web password`. Empty: no site administrator login." },
	{ "webhooks.retry_wait", SETTING_INT, "30", NULL, 1, 86400,
	  "Seconds before a webhook event the receiver did not take is sent "
	  "again; the wait doubles with each attempt, up to an hour." },
	{ "webhooks.give_up", SETTING_INT, "259200", NULL, 10, 31536000,
	  "Seconds after an event was made when its sending is given up (with "
	  "a log line); `herald webhooks replay` can send it again." },
	{ "webhooks.timeout", SETTING_INT, "10", NULL, 1, 600,
	  "Seconds a webhook receiver may take to connect and answer." },
	{ "news.timeout", SETTING_INT, "30", NULL, 1, 600,
	  "Seconds a news server may take to connect and to answer each "
	  "command of the mail-news gateway (docs/news.md)." },
	{ "news.retry_wait", SETTING_INT, "300", NULL, 1, 86400,
	  "Seconds before a post the news server did not take (no "
	  "connection, a timeout, a 4xx answer) is posted again; the wait "
	  "doubles with each attempt, up to an hour." },
	{ "news.give_up", SETTING_INT, "432000", NULL, 10, 31536000,
	  "Seconds after a post's first failed attempt when its posting to "
	  "the newsgroup is given up: logged, and the post kept in bad/." },
	{ "news.gate_max", SETTING_INT, "1000", NULL, 1, 1000000,
	  "The most articles one run of the task news.gate takes from a "
	  "list's newsgroup; the rest wait for the next run." },
	{ "dmarc.resolver", SETTING_STRING, "", NULL, 0, 0,
	  "The DNS server asked for DMARC policies, as ADDRESS or ADDRESS:PORT "
	  "(IPv4). Empty: the system's (/etc/resolv.conf)." },
	{ "dmarc.timeout", SETTING_INT, "3", NULL, 1, 60,
	  "Seconds to wait for a DNS answer. A DNS failure counts as a policy "
	  "that needs mitigating." },
	{ "dmarc.cache_ttl", SETTING_INT, "3600", NULL, 0, 86400,
	  "Seconds a domain's DMARC policy is remembered by a runner; 0 asks "
	  "DNS every time." },
	{ "dmarc.psl_file", SETTING_STRING,
	  "/usr/share/publicsuffix/public_suffix_list.dat", NULL, 0, 0,
	  "The Public Suffix List that finds a domain's organizational domain "
	  "(Debian's publicsuffix package)." },
	{ "dkim.enabled", SETTING_BOOL, "true", NULL, 0, 0,
	  "Sign every outgoing copy (posts, notices, digests, replies) with "
	  "the DKIM key of the list's domain when it has one (`herald dkim "
	  "keygen`; docs/dkim.md). false: leave signing to the MTA." },
	{ "dkim.selector", SETTING_STRING, "herald", NULL, 0, 0,
	  "The selector of a domain's key when dkim.domains names none for "
	  "it; `herald dkim keygen` uses it without --selector." },
	{ "dkim.domains", SETTING_STRING, "", NULL, 0, 0,
	  "The selectors that sign for each domain: DOMAIN=SELECTOR entries, "
	  "space-separated; DOMAIN=OLD+NEW signs with both keys while a key "
	  "is rotated. A domain not named signs with dkim.selector." },
	{ "dkim.sign_headers", SETTING_STRING,
	  "From:To:Cc:Subject:Date:Message-ID:Reply-To:In-Reply-To:"
	  "References:MIME-Version:Content-Type:Content-Transfer-Encoding:"
	  "List-Id:List-Help:List-Subscribe:List-Unsubscribe:"
	  "List-Unsubscribe-Post:List-Post:List-Owner:List-Archive", NULL, 0, 0,
	  "The header fields a DKIM signature covers (colon-separated), every "
	  "instance present." },
	{ "dkim.oversign_headers", SETTING_STRING,
	  "From:To:Cc:Subject:Date:Message-ID:Reply-To:List-Id:List-Help:"
	  "List-Subscribe:List-Unsubscribe:List-Unsubscribe-Post:List-Post:"
	  "List-Owner:List-Archive", NULL, 0, 0,
	  "Of dkim.sign_headers, those signed once more than present, so that "
	  "none can be added after signing without breaking the signature." },
	{ "arc.enabled", SETTING_BOOL, "true", NULL, 0, 0,
	  "Seal every copy of a post with an ARC set (RFC 8617) made with "
	  "the list domain's first DKIM key, recording how the post "
	  "authenticated when it arrived (docs/dkim.md)." },
	{ "auth.authserv_id", SETTING_STRING, "", NULL, 0, 0,
	  "The authserv-id of this site's MTA: only Authentication-Results "
	  "fields with it are believed (for SPF), and herald's own "
	  "ARC-Authentication-Results name it. Empty: none believed, and "
	  "the host name is used." },
	{ "dkim.resolver", SETTING_STRING, "", NULL, 0, 0,
	  "The DNS server `herald dkim check` asks, as ADDRESS or ADDRESS:PORT "
	  "(IPv4). Empty: dmarc.resolver's." },
	{ "notice.max_autoresponses_per_day", SETTING_INT, "10", NULL, 0, 10000,
	  "Most automatic replies (hold notices, rejections, acknowledgements) "
	  "herald sends one address a day, per list; 0: no limit (Mailman's "
	  "MAX_AUTORESPONSES_PER_DAY)." },
	{ "pending.request_life", SETTING_INT, "259200", NULL, 60, 31536000,
	  "Seconds a request waits for its confirmation (a subscription, an "
	  "unsubscription, an invitation, a hold notice's confirm token) "
	  "before it expires (Mailman's PENDING_REQUEST_LIFE, 3 days). "
	  "Requests waiting for a moderator do not expire." },
	{ "commands.max_lines", SETTING_INT, "25", NULL, 1, 10000,
	  "Most lines of a message's body the command processor reads "
	  "(Mailman's DEFAULT_MAIL_COMMANDS_MAX_LINES); the rest is "
	  "ignored." },
	{ "delivery.max_recipients", SETTING_INT, "500", NULL, 1, 100000,
	  "Most recipients in one SMTP transaction (Mailman's "
	  "SMTP_MAX_RCPTS); recipients of one domain go together." },
	{ "delivery.connections", SETTING_INT, "4", NULL, 1, 64,
	  "SMTP connections one delivery runner uses in parallel, each "
	  "reused for many transactions." },
	{ "delivery.verp_interval", SETTING_INT, "0", NULL, 0, 1000000,
	  "VERP every Nth post (post number divisible by N); 1: every post; "
	  "0: none (Mailman's VERP_DELIVERY_INTERVAL). A share of VERP'd "
	  "posts finds bouncing members without parsing bounces." },
	{ "delivery.verp_personalized", SETTING_BOOL, "true", NULL, 0, 0,
	  "VERP the posts of personalised lists (each member gets a "
	  "transaction of their own anyway)." },
	{ "delivery.retry_wait", SETTING_INT, "900", NULL, 1, 604800,
	  "Seconds before a recipient the MTA deferred is tried again; the "
	  "wait doubles with each attempt." },
	{ "delivery.retry_period", SETTING_INT, "432000", NULL, 60, 31536000,
	  "Seconds after the first attempt when a recipient still deferred "
	  "becomes a bounce event (Mailman's DELIVERY_RETRY_PERIOD, 5 days)." },
	{ "runner.*.slices", SETTING_INT, "1", NULL, 1, 1024,
	  "How many slices the queue is cut into; each slice is worked by one "
	  "runner process on one host." },
	/* The choices are the runner kinds of the registry
	 * (runners/registry.c); site_setting_choices() and site_setting_doc()
	 * spell them out. */
	{ "runner.*.handler", SETTING_ENUM, "forward", SITE_CHOICES_RUNNER_KINDS, 0, 0,
	  "What the runner does with each message:" },
	{ "runner.*.next", SETTING_STRING, "", NULL, 0, 0,
	  "For handler forward: the queue that receives the messages." },
	{ "runner.*.nice", SETTING_INT, "0", NULL, 0, 19,
	  "The CPU priority of the queue's runners, as nice(1) counts (0 to "
	  "19, higher: lower priority). herald init gives 10 to the archive, "
	  "digest and news runners: their work can wait, and under load the "
	  "CPU then goes first to taking mail in and delivering it. Read when "
	  "a runner starts." },
	/* Periodic tasks (docs/scheduler.md). */
	{ "schedule.enabled", SETTING_BOOL, "true", NULL, 0, 0,
	  "Whether the masters run the scheduler, which runs the periodic "
	  "tasks (docs/scheduler.md). false: a running scheduler idles and "
	  "tasks run only by `herald tasks run`; a master started with it "
	  "false runs no scheduler until it is started again." },
	{ "schedule.debug_sleep", SETTING_INT, "0", NULL, 0, 3600,
	  "A test aid; leave it 0. Seconds each task run waits before its "
	  "work, so that a test can kill a host in the middle of a task." },
	{ "schedule.*.*", SETTING_STRING, "", SCHEDULE_SETTING, 0, 0,
	  "When the task of that name runs (schedule.held.summary is task "
	  "held.summary): every N{s,m,h,d}, hourly :MM, daily HH:MM, weekly "
	  "DAY HH:MM (local time) or off. Empty: the task's default (`herald "
	  "tasks` lists them)." },
	{ NULL, 0, NULL, NULL, 0, 0, NULL },
};

const char *const site_var_subdirs[] = {
	"etc", "queue", "lists", "archives", "locks", "leases", "logs", "run",
	"tasks", NULL,
};

const struct setting_def *
site_settings(void)
{
	return settings;
}

/* Whether key matches pattern, where a "*" part matches any one part made
 * of [a-z0-9-].  Part by part in place: delivery looks settings up for
 * every copy it makes. */
static gboolean
key_matches(const char *pattern, const char *key)
{
	const char *p = pattern, *k = key;

	for (;;) {
		size_t pl = strcspn(p, "."), kl = strcspn(k, ".");

		if (pl == 1 && *p == '*') {
			if (kl == 0)
				return FALSE;
			for (size_t i = 0; i < kl; i++)
				if (!g_ascii_islower(k[i]) && !g_ascii_isdigit(k[i]) &&
				    k[i] != '-')
					return FALSE;
		} else if (pl != kl || memcmp(p, k, pl) != 0) {
			return FALSE;
		}
		if (p[pl] == '\0' || k[kl] == '\0')
			return p[pl] == k[kl];
		p += pl + 1;
		k += kl + 1;
	}
}

/* The settings without a "*" that no earlier pattern matches, by key:
 * made once, read only after. */
static GHashTable *
exact_settings(void)
{
	static gsize once;
	static GHashTable *table;

	if (g_once_init_enter(&once)) {
		GHashTable *t = g_hash_table_new(g_str_hash, g_str_equal);

		for (const struct setting_def *d = settings; d->key != NULL; d++) {
			const struct setting_def *w = settings;

			/* The first entry that matches wins, as in the scan. */
			while (w < d && !key_matches(w->key, d->key))
				w++;
			if (w == d && strchr(d->key, '*') == NULL)
				g_hash_table_insert(t, (gpointer)d->key, (gpointer)d);
		}
		table = t;
		g_once_init_leave(&once, 1);
	}
	return table;
}

const struct setting_def *
site_setting_find(const char *key)
{
	const struct setting_def *d = g_hash_table_lookup(exact_settings(), key);

	if (d != NULL)
		return d;
	for (d = settings; d->key != NULL; d++)
		if (key_matches(d->key, key))
			return d;
	return NULL;
}

/* The settings a master or runner reads once at start.  The slices and
 * the lease lifetime shape the leases every host holds; the host name and
 * the log target are fixed for a process's life. */
static const char *const read_at_start[] = {
	"site.host", "log.target", "master.lease_lifetime", "runner.*.slices",
	NULL,
};

gboolean
site_setting_restart(const struct setting_def *def)
{
	return g_strv_contains(read_at_start, def->key);
}

/* The registry of runner kinds (runners/registry.c, in the top layer),
 * reached by a weak reference: it does not make the linker take the
 * registry, and with it every runner and the libraries they use, into a
 * program that runs none (the store layer stays below the runners at
 * link time too); there runner_kinds is NULL, and runner.*.handler takes
 * any word. */
extern const struct runner_kind *const runner_kinds[] __attribute__((weak));

char *
site_setting_choices(const struct setting_def *def)
{
	GString *out;

	if (def->type != SETTING_ENUM)
		return NULL;
	if (strcmp(def->choices, SITE_CHOICES_RUNNER_KINDS) != 0)
		return g_strdup(def->choices);
	if (runner_kinds == NULL)
		return NULL;
	out = g_string_new(NULL);
	for (const struct runner_kind *const *k = runner_kinds; *k != NULL; k++)
		g_string_append_printf(out, "%s%s", out->len > 0 ? "|" : "",
				       (*k)->name);
	return g_string_free(out, FALSE);
}

char *
site_setting_doc(const struct setting_def *def)
{
	GString *out;

	out = g_string_new(def->doc);
	if (def->type == SETTING_ENUM && runner_kinds != NULL &&
	    strcmp(def->choices, SITE_CHOICES_RUNNER_KINDS) == 0)
		for (const struct runner_kind *const *k = runner_kinds; *k != NULL;
		     k++)
			g_string_append_printf(out, " %s: %s", (*k)->name,
					       (*k)->doc);
	if (site_setting_restart(def))
		g_string_append(out, " Read when the master starts: a change "
				"takes effect after `herald stop` and `herald "
				"start`.");
	return g_string_free(out, FALSE);
}

gboolean
site_setting_secret(const struct setting_def *def)
{
	const char *dot = strrchr(def->key, '.');

	return g_str_has_suffix(dot != NULL ? dot + 1 : def->key, "password") ||
	       g_strcmp0(def->choices, PASSWORD_HASH_SETTING) == 0;
}

char *
site_setting_check(const struct setting_def *def, const char *value)
{
	char *end;
	long long n;

	/* The file is UTF-8 (GLib's key files); a value that is not would
	 * make it unreadable as text, and its line unreadable to GLib. */
	if (!g_utf8_validate(value, -1, NULL))
		return g_strdup_printf("%s: the value is not UTF-8", def->key);
	switch (def->type) {
	case SETTING_STRING:
		if (strchr(value, '\n') != NULL)
			return g_strdup_printf("%s: a line break is not allowed",
					       def->key);
		if (g_strcmp0(def->choices, SCHEDULE_SETTING) == 0)
			return schedule_setting_check(def->key, value);
		if (g_strcmp0(def->choices, PASSWORD_HASH_SETTING) == 0 &&
		    value[0] && !g_str_has_prefix(value, "$argon2id$"))
			return g_strdup_printf("%s: not an Argon2id hash (set the "
					       "password with `herald web "
					       "password`)", def->key);
		return NULL;
	case SETTING_INT:
		errno = 0;
		n = strtoll(value, &end, 10);
		if (errno != 0 || *value == '\0' || *end != '\0')
			return g_strdup_printf("%s: '%s' is not an integer",
					       def->key, value);
		if (n < def->min || n > def->max)
			return g_strdup_printf("%s: %lld is outside %lld..%lld",
					       def->key, n, (long long)def->min,
					       (long long)def->max);
		return NULL;
	case SETTING_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0)
			return NULL;
		return g_strdup_printf("%s: '%s' is not true or false", def->key,
				       value);
	case SETTING_ENUM: {
		char *choices = site_setting_choices(def);

		if (choices == NULL)	/* runner kinds, in a program without */
			return NULL;
		char **c = g_strsplit(choices, "|", -1);
		gboolean ok = g_strv_contains((const char *const *)c, value);
		char *bad = ok ? NULL
			: g_strdup_printf("%s: '%s' is not one of %s", def->key,
					  value, choices);
		g_strfreev(c);
		g_free(choices);
		return bad;
	}
	}
	return NULL;
}

struct site {
	char *var_dir;
	char *conf_path;
	GKeyFile *kf;
	struct stat loaded;	/* the file as it was when read */
};

static char *
default_config_text(void)
{
	GString *out = g_string_new(
	    "# herald site configuration.  Each setting is shown with its\n"
	    "# default, commented out; `herald site set KEY VALUE` changes one\n"
	    "# (KEY is section.name).  docs/settings.md explains them all.\n");
	char *section = NULL;

	for (const struct setting_def *d = settings; d->key != NULL; d++) {
		if (strchr(d->key, '*') != NULL)
			continue;
		const char *dot = strrchr(d->key, '.');
		char *sec = g_strndup(d->key, (gsize)(dot - d->key));
		if (section == NULL || strcmp(section, sec) != 0) {
			g_string_append_printf(out, "\n[%s]\n", sec);
			g_free(section);
			section = sec;
		} else {
			g_free(sec);
		}
		g_string_append_printf(out, "# %s\n#%s = %s\n", d->doc,
				       dot + 1, d->dflt);
	}
	g_free(section);
	g_string_append(out,
	    "\n# Runners: one [runner.<queue>] section per queue that a runner\n"
	    "# works; slices = N shares a queue among N runner processes.\n");
	for (const struct runner_kind *const *k = runner_kinds; k != NULL && *k != NULL; k++) {
		if ((*k)->init_queue == NULL)
			continue;
		g_string_append_printf(out, "\n# %s\n[runner.%s]\nslices = 1\n"
				       "handler = %s\n", (*k)->doc,
				       (*k)->init_queue, (*k)->name);
		if ((*k)->init_nice != 0)
			g_string_append_printf(out, "nice = %d\n", (*k)->init_nice);
	}
	return g_string_free(out, FALSE);
}

int
site_init(const char *var_dir, GError **error)
{
	char *conf, *text;
	int ret = 0;

	for (int i = 0; site_var_subdirs[i] != NULL; i++) {
		char *p = g_build_filename(var_dir, site_var_subdirs[i], NULL);
		ret = fs_mkdir_p(p, 0770, error);
		g_free(p);
		if (ret < 0)
			return -1;
	}
	conf = g_build_filename(var_dir, "etc", "herald.conf", NULL);
	if (!g_file_test(conf, G_FILE_TEST_EXISTS)) {
		text = default_config_text();
		ret = fs_write_atomic(conf, text, strlen(text), error);
		g_free(text);
	}
	g_free(conf);
	return ret;
}

/* Whether two stats are of the same version of the file. */
static gboolean
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int
site_reload_if_changed(struct site *s, GError **error)
{
	struct stat st;
	/* open and fstat, not stat: on NFS the open revalidates the file's
	 * attributes (close-to-open), where a stat may answer from the
	 * attribute cache. */
	int fd = fs_open(s->conf_path, O_RDONLY, 0);

	if (fd < 0 || fstat(fd, &st) < 0) {
		set_errno_error(error, "open(%s)", s->conf_path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (same_file(&st, &s->loaded))
		return 0;
	return site_reload(s, error) < 0 ? -1 : 1;
}

int
site_reload(struct site *s, GError **error)
{
	GKeyFile *kf = g_key_file_new();
	GError *local = NULL;
	struct stat st;

	/* Stat before reading: a change between the two is seen again at
	 * the next check, never missed. */
	if (stat(s->conf_path, &st) < 0)
		memset(&st, 0, sizeof st);

	if (!g_key_file_load_from_file(kf, s->conf_path, G_KEY_FILE_KEEP_COMMENTS,
				       &local)) {
		if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
				    "%s: no herald var dir here (run `herald "
				    "--var %s init`)", s->conf_path, s->var_dir);
		else
			g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
				    "%s: %s", s->conf_path, local->message);
		g_error_free(local);
		g_key_file_free(kf);
		return -1;
	}
	if (s->kf != NULL)
		g_key_file_free(s->kf);
	s->kf = kf;
	s->loaded = st;
	return 0;
}

struct site *
site_open(const char *var_dir, GError **error)
{
	struct site *s = g_new0(struct site, 1);

	s->var_dir = g_strdup(var_dir);
	s->conf_path = g_build_filename(var_dir, "etc", "herald.conf", NULL);
	if (site_reload(s, error) < 0) {
		site_free(&s);
		return NULL;
	}
	char *host = site_get(s, "site.host", NULL);
	if (host != NULL && *host != '\0')
		herald_set_host(host);
	g_free(host);
	return s;
}

void
site_free(struct site **sp)
{
	struct site *s = *sp;

	if (s == NULL)
		return;
	if (s->kf != NULL)
		g_key_file_free(s->kf);
	g_free(s->var_dir);
	g_free(s->conf_path);
	g_free(s);
	*sp = NULL;
}

const char *
site_var_dir(const struct site *s)
{
	return s->var_dir;
}

char *
site_path(const struct site *s, const char *first, ...)
{
	GPtrArray *parts = g_ptr_array_new();
	va_list ap;
	char *path;

	g_ptr_array_add(parts, s->var_dir);
	va_start(ap, first);
	for (const char *p = first; p != NULL; p = va_arg(ap, const char *))
		g_ptr_array_add(parts, (gpointer)p);
	va_end(ap);
	g_ptr_array_add(parts, NULL);
	path = g_build_filenamev((char **)parts->pdata);
	g_ptr_array_free(parts, TRUE);
	return path;
}

static void
split_key(const char *key, char **group_r, char **name_r)
{
	const char *dot = strrchr(key, '.');

	*group_r = g_strndup(key, (gsize)(dot - key));
	*name_r = g_strdup(dot + 1);
}

char *
site_get(const struct site *s, const char *key, GError **error)
{
	const struct setting_def *def = site_setting_find(key);
	char *group, *name, *value;

	if (def == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "unknown site setting '%s' (see `herald site show`)",
			    key);
		return NULL;
	}
	split_key(key, &group, &name);
	value = g_key_file_get_value(s->kf, group, name, NULL);
	g_free(group);
	g_free(name);
	if (value != NULL) {
		g_strstrip(value);
		/* A hand-edited file may hold a bad value: the default wins
		 * rather than a crash later. */
		char *bad = site_setting_check(def, value);
		if (bad == NULL)
			return value;
		g_free(bad);
		g_free(value);
	}
	return g_strdup(def->dflt);
}

int64_t
site_get_int(const struct site *s, const char *key)
{
	char *v = site_get(s, key, NULL);
	int64_t n;

	g_return_val_if_fail(v != NULL, 0);
	n = g_ascii_strtoll(v, NULL, 10);
	g_free(v);
	return n;
}

gboolean
site_get_bool(const struct site *s, const char *key)
{
	char *v = site_get(s, key, NULL);
	gboolean b = v != NULL && strcmp(v, "true") == 0;

	g_free(v);
	return b;
}

int
site_set(struct site *s, const char *key, const char *value, GError **error)
{
	const struct setting_def *def = site_setting_find(key);
	char *group, *name, *bad, *data, *locks;
	struct lock *l;
	int ret = -1;

	if (def == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "unknown site setting '%s' (see `herald site show`)",
			    key);
		return -1;
	}
	if ((bad = site_setting_check(def, value)) != NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID, "%s", bad);
		g_free(bad);
		return -1;
	}
	locks = site_path(s, "locks", NULL);
	l = lock_new(locks, "site-config", 30000);
	g_free(locks);
	if (lock_acquire(l, 10000, error) < 0) {
		lock_free(&l);
		return -1;
	}
	/* Reread under the lock: another writer may have changed the file
	 * since we loaded it. */
	if (site_reload(s, error) < 0)
		goto out;
	split_key(key, &group, &name);
	g_key_file_set_value(s->kf, group, name, value);
	g_free(group);
	g_free(name);
	data = g_key_file_to_data(s->kf, NULL, NULL);
	ret = fs_write_atomic(s->conf_path, data, strlen(data), error);
	g_free(data);
	/* Not written: what is in memory is not the file; the next
	 * site_reload_if_changed rereads it. */
	if (ret < 0)
		memset(&s->loaded, 0, sizeof s->loaded);
out:
	if (lock_release(l, ret == 0 ? error : NULL) < 0)
		ret = -1;
	lock_free(&l);
	return ret;
}

GPtrArray *
site_runner_queues(const struct site *s)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	gchar **groups = g_key_file_get_groups(s->kf, NULL);

	for (gchar **g = groups; *g != NULL; g++) {
		char *probe = g_strconcat(*g, ".slices", NULL);
		if (key_matches("runner.*.slices", probe))
			g_ptr_array_add(out, g_strdup(*g + strlen("runner.")));
		g_free(probe);
	}
	g_strfreev(groups);
	g_ptr_array_sort(out, str_ptr_compare);
	return out;
}
