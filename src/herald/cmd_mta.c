/*
 * cmd_mta.c - `herald mta KIND LIST`: the MTA's pipe into herald, in the
 * manner of Mailman's mail wrapper.
 *
 * The message comes on standard input.  Exit codes are for the MTA:
 *   0   stored: written, fsync'ed and renamed into its queue, directory
 *       fsync'ed (queue_enqueue) - only then;
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
 */
#include "cli.h"
#include "base/base.h"
#include "list/list.h"
#include "base/log.h"
#include "store/queue.h"
#include "store/names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
		.description = "Exit 0 once stored, 67 for an unknown list, 75 on "
			       "any other failure, a usage\nerror too (a KIND "
			       "herald does not know, an unknown option): the MTA "
			       "keeps\nthe message and retries, so a "
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
	GString *msg;
	char buf[65536], *base = NULL;
	size_t n;
	int ret;
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
	msg = g_string_new(NULL);
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
		g_string_append_len(msg, buf, (gssize)n);
	if (ferror(stdin)) {
		set_errno_error(&error, "reading the message from standard input");
		ret = tempfail(list_name, &error);
		goto out;
	}
	meta = queue_meta_new();
	queue_meta_set(meta, META_LIST, list_fqdn(l));
	queue_meta_set(meta, META_KIND, kind);
	if (sender != NULL)
		queue_meta_set(meta, META_SENDER, sender);
	if (recipient != NULL)
		queue_meta_set(meta, META_RECIPIENT, recipient);
	if (queue_put(site_var_dir(site), queue_name, meta, msg->str, msg->len,
		      &base, &error) < 0) {
		ret = tempfail(list_name, &error);
	} else {
		log_info(MTA_SUBSYS, "accepted %s for %s from %s as %s/%s (%zu "
			 "bytes)", kind, list_fqdn(l),
			 sender != NULL ? sender : "(unknown sender)", queue_name,
			 base, msg->len);
		ret = HERALD_EX_OK;
	}
	g_free(base);
	queue_meta_free(&meta);
out:
	g_string_free(msg, TRUE);
	list_free(&l);
done:
	if (mapped != NULL)
		listaddr_free_ptr(mapped);
	return ret;
}
