/*
 * cmd_mta.c - `herald mta KIND LIST`: the MTA's pipe into herald, in the
 * manner of Mailman's mail wrapper.
 *
 * The message comes on standard input.  Exit codes are for the MTA:
 *   0   stored: written, fsync'ed and renamed into its queue, directory
 *       fsync'ed (queue_enqueue) - only then;
 *   67  (EX_NOUSER) no such list: the MTA bounces the message;
 *   64  (EX_USAGE) a KIND herald does not know (a configuration error);
 *   75  (EX_TEMPFAIL) anything else: the MTA keeps the message and retries.
 * Mailman's wrapper answered some environmental failures with codes that
 * made the MTA bounce; herald never does.
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

static const char mta_usage[] =
	"mta KIND LIST [--sender ADDR] [--recipient ADDR] < message\n"
	"       herald mta auto [--sender ADDR] --recipient ADDR < message\n"
	"  KIND: post, owner, request, join, leave, confirm, bounces; auto takes\n"
	"  the list and kind from the recipient (LIST-request@..., LIST-bounces+...).\n"
	"  Exit 0 once stored, 67 for an unknown list, 75 on any other failure.\n"
	"  The envelope sender and recipient default to $SENDER and $RECIPIENT\n"
	"  (set by Postfix's local and pipe delivery).";

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

int
cmd_mta(struct cli *cli, int argc, char **argv)
{
	const char *queue_name = NULL, *sender = g_getenv("SENDER");
	const char *recipient = g_getenv("RECIPIENT");
	GError *error = NULL;
	struct site *site;
	struct list *l;
	struct queue_meta *meta;
	GString *msg;
	char buf[65536], *base = NULL;
	size_t n;
	int ret;

	gboolean autokind = argc >= 2 && strcmp(argv[1], "auto") == 0;
	const char *kind = argc >= 2 ? argv[1] : NULL;
	const char *list_name = NULL;
	struct listaddr *mapped = NULL;
	int first_opt = autokind ? 2 : 3;

	if (argc < first_opt) {
		cli_usage(mta_usage);
		return HERALD_EX_USAGE;
	}
	if (!autokind)
		queue_name = listaddr_kind_queue(kind);
	if (!autokind && queue_name == NULL) {
		cli_error("unknown kind '%s'", kind);
		cli_usage(mta_usage);
		return HERALD_EX_USAGE;
	}
	for (int i = first_opt; i < argc; i++) {
		if (strcmp(argv[i], "--sender") == 0 && i + 1 < argc) {
			sender = argv[++i];
		} else if (strcmp(argv[i], "--recipient") == 0 && i + 1 < argc) {
			recipient = argv[++i];
		} else {
			cli_usage(mta_usage);
			return HERALD_EX_USAGE;
		}
	}
	if (autokind && recipient == NULL) {
		cli_error("mta auto needs the recipient (--recipient or $RECIPIENT)");
		return HERALD_EX_USAGE;
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
