/*
 * cmd_mta.c - `herald mta KIND LIST`: the MTA's pipe into herald, in the
 * manner of Mailman's mail wrapper.
 *
 * The message comes on standard input.  Exit codes are for the MTA:
 *   0   stored: written, fsync'ed and renamed into its queue, directory
 *       fsync'ed (queue_enqueue) - only then;
 *   65  (EX_DATAERR) refused for what the message is (entry/accept.h):
 *       larger than entry.max_message_size, or not a message herald could
 *       read back once stored.  Standard error starts with the RFC 3463
 *       status, 5.3.4 or 5.6.0, then the reason: Postfix's pipe(8) takes
 *       that status in preference to the exit code's (5.6.0) and bounces
 *       the message with it, as the LMTP server answers 552 5.3.4 or
 *       554 5.6.0.  Not 75: the same message would fail the same way on
 *       every retry, for days.  Not 69 (EX_UNAVAILABLE): the service is
 *       there, it is the input that is refused, which is what EX_DATAERR
 *       means ("the input data was incorrect in some way"); either
 *       bounces;
 *   67  (EX_NOUSER) no such list: the MTA bounces the message;
 *   75  (EX_TEMPFAIL) anything else: the MTA keeps the message and retries.
 * Mailman's wrapper answered some environmental failures with codes that
 * made the MTA bounce; herald never does.  Nor does a usage error (a KIND
 * herald does not know, an unknown option, a missing argument): only an
 * MTA runs this command, so a usage error is a transport the admin
 * misconfigured, and EX_USAGE (64) would make the MTA bounce every
 * message until it is fixed.  It is 75, logged and told on standard error
 * (which the MTA logs), so the mail waits in the MTA's queue instead.
 * Only --help exits 0 without storing anything.
 *
 * The size limit is applied while reading: reading stops at the first
 * byte past it, so the process never holds more than the limit (a 200 MB
 * message against a 1 MB limit costs 1 MB, not 400).  The rest of the
 * input is left unread; the MTA sees the exit code (Postfix ignores the
 * broken pipe when the command exits non-zero).
 */
#include "cli.h"
#include "base/base.h"
#include "list/list.h"
#include "base/log.h"
#include "store/queue.h"
#include "store/names.h"
#include "entry/accept.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#define MTA_SUBSYS "mta"

static int
tempfail(const char *list, GError **error)
{
	const char *why = error != NULL && *error != NULL ? (*error)->message
							: "unknown error";

	/* The MTA shows our standard error in its log: say why it retries. */
	fprintf(stderr, "herald: temporary failure for %s: %s\n", list, why);
	log_error(MTA_SUBSYS, "temporary failure for %s, the MTA keeps the "
		  "message: %s", list, why);
	g_clear_error(error);
	return HERALD_EX_TEMPFAIL;
}

/* A message refused for what it is: status (RFC 3463) first on standard
 * error, for the MTA (see the top of this file). */
static int
refuse(const char *list, const char *status, const char *why)
{
	fprintf(stderr, "%s herald: message for %s refused: %s\n", status, list,
		why);
	log_info(MTA_SUBSYS, "refused a message for %s (%s, the MTA bounces it): "
		 "%s", list, status, why);
	return EX_DATAERR;
}

/* Reads the message on standard input into *buf_r, *len_r: 1 when it is
 * all there, 0 when it is larger than max (reading stops at max + 1
 * bytes, so that memory stays bounded by the limit), -1 on a read
 * error. */
static int
read_message(int64_t max, char **buf_r, size_t *len_r, GError **error)
{
	size_t limit = (size_t)max + 1, cap = MIN((size_t)65536, limit), len = 0;
	char *buf;
	struct stat st;
	ssize_t n;

	/* A file (not the MTA's pipe) says how much room it needs. */
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size > 0)
		cap = MIN((size_t)st.st_size + 1, limit);
	buf = g_malloc(cap);
	for (;;) {
		if (len == cap) {
			if (len == limit)
				break;
			cap = MIN(cap * 2, limit);
			buf = g_realloc(buf, cap);
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_errno_error(error, "reading the message from standard "
					"input");
			g_free(buf);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*buf_r = buf;
	*len_r = len;
	return len < limit;
}

/* A usage error (already printed by cli_parse() or cli_usage_error()):
 * the MTA must keep the message, see the top of this file. */
static int
usage_tempfail(struct cli *cli)
{
	fprintf(stderr, "herald: exit 75 (temporary failure): the MTA keeps the "
		"message until the transport is fixed\n");
	/* Into the var dir's log (logs/HOST/mta), when there is one. */
	if (cli->var_dir != NULL)
		(void)cli_site(cli);
	log_error(MTA_SUBSYS, "usage error, the MTA keeps the message: %s",
		  cli->usage_error != NULL ? cli->usage_error : "(unknown)");
	return HERALD_EX_TEMPFAIL;
}

int
cmd_mta(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "KIND LIST < message | auto --recipient ADDR < message",
		.min_args = 1, .max_args = 2,
		.summary = "The MTA's pipe into herald: stores the message on "
			   "standard input for list\nLIST.  KIND: post, owner, "
			   "request, join, leave, confirm, bounces; auto\ntakes "
			   "the list and kind from the recipient (LIST-request@..., "
			   "LIST-bounces+...).",
		.description = "Exit 0 once stored, 65 for a message refused for "
			       "what it is (larger than\n"
			       "entry.max_message_size, or not a message herald "
			       "can read back), 67 for an\nunknown list, 75 on "
			       "any other failure, a usage error too (a KIND\n"
			       "herald does not know, an unknown option): the MTA "
			       "keeps the message and\nretries, so a "
			       "misconfigured transport loses no mail.\nThe "
			       "envelope sender and recipient default to $SENDER "
			       "and $RECIPIENT\n(set by Postfix's local and pipe "
			       "delivery).",
	};
	const char *queue_name = NULL, *sender = g_getenv("SENDER");
	const char *recipient = g_getenv("RECIPIENT");
	const GOptionEntry entries[] = {
		{ "sender", 0, 0, G_OPTION_ARG_STRING, &sender,
		  "the envelope sender (default: $SENDER)", "ADDR" },
		{ "recipient", 0, 0, G_OPTION_ARG_STRING, &recipient,
		  "the envelope recipient (default: $RECIPIENT)", "ADDR" },
		G_OPTION_ENTRY_NULL
	};
	GError *error = NULL;
	struct site *site;
	struct list *l;
	struct queue_meta *meta;
	char *msg = NULL, *base = NULL;
	size_t msg_len = 0;
	int ret, r;
	gboolean autokind;
	const char *kind, *list_name = NULL;
	struct listaddr *mapped = NULL;

	ret = cli_parse(cli, &argc, &argv, entries, &help);
	if (ret == CLI_USAGE)
		return usage_tempfail(cli);
	if (ret != CLI_GO)
		return ret;
	kind = argv[1];
	autokind = strcmp(kind, "auto") == 0;
	if (autokind && argc != 2) {
		cli_usage_error(cli, "unexpected argument '%s'", argv[2]);
		return usage_tempfail(cli);
	}
	if (!autokind && argc != 3) {
		cli_usage_error(cli, "missing arguments (KIND LIST)");
		return usage_tempfail(cli);
	}
	if (!autokind && (queue_name = listaddr_kind_queue(kind)) == NULL) {
		cli_usage_error(cli, "unknown kind '%s' (post, owner, request, "
				"join, leave, confirm, bounces or auto)", kind);
		return usage_tempfail(cli);
	}
	if (autokind && recipient == NULL) {
		cli_usage_error(cli, "auto needs the recipient (--recipient or "
				"$RECIPIENT)");
		return usage_tempfail(cli);
	}
	/* No var dir or no configuration is the admin's to fix: retry. */
	if ((site = cli_site(cli)) == NULL)
		return HERALD_EX_TEMPFAIL;
	if (autokind) {
		if ((mapped = listaddr_map(site, recipient)) == NULL) {
			fprintf(stderr, "herald: no such list address: %s\n",
				recipient);
			log_info(MTA_SUBSYS, "refused mail for %s: no such list "
				 "address", recipient);
			return HERALD_EX_NOUSER;
		}
		kind = mapped->kind;
		queue_name = mapped->queue;
		list_name = mapped->list;
	} else {
		list_name = argv[2];
	}
	l = list_open(site, list_name, &error);
	if (l == NULL) {
		if (g_error_matches(error, HERALD_ERROR, HERALD_ERR_NOTFOUND) ||
		    g_error_matches(error, HERALD_ERROR, HERALD_ERR_INVALID)) {
			fprintf(stderr, "herald: no such list: %s\n", list_name);
			log_info(MTA_SUBSYS, "refused %s for %s: no such list",
				 kind, list_name);
			g_clear_error(&error);
			ret = HERALD_EX_NOUSER;
			goto done;
		}
		ret = tempfail(list_name, &error);
		goto done;
	}
	r = read_message(entry_max_message_size(site), &msg, &msg_len, &error);
	if (r < 0) {
		ret = tempfail(list_name, &error);
		goto out;
	}
	if (r == 0) {
		char *why = g_strdup_printf("larger than %" G_GINT64_FORMAT
					    " bytes (entry.max_message_size)",
					    entry_max_message_size(site));
		ret = refuse(list_fqdn(l), "5.3.4", why);
		g_free(why);
		goto out;
	}
	if (entry_check(msg, msg_len, &error) < 0) {
		ret = refuse(list_fqdn(l), "5.6.0", error->message);
		g_clear_error(&error);
		goto out;
	}
	meta = queue_meta_new();
	queue_meta_set(meta, META_LIST, list_fqdn(l));
	queue_meta_set(meta, META_KIND, kind);
	if (sender != NULL)
		queue_meta_set(meta, META_SENDER, sender);
	if (recipient != NULL)
		queue_meta_set(meta, META_RECIPIENT, recipient);
	if (queue_put(site_var_dir(site), queue_name, meta, msg, msg_len,
		      &base, &error) < 0) {
		ret = tempfail(list_name, &error);
	} else {
		log_info(MTA_SUBSYS, "accepted %s for %s from %s as %s/%s (%zu "
			 "bytes)", kind, list_fqdn(l),
			 sender != NULL ? sender : "(unknown sender)", queue_name,
			 base, msg_len);
		ret = HERALD_EX_OK;
	}
	g_free(base);
	queue_meta_free(&meta);
out:
	g_free(msg);
	list_free(&l);
done:
	if (mapped != NULL)
		listaddr_free_ptr(mapped);
	return ret;
}
