/*
 * commands.c - the commands runner: mail to LIST-request, -join, -leave
 * and -confirm+TOKEN, worked by commands/process.h.  The handler's error
 * decides the message's fate (store/runner.h): a disk failure gives it
 * back, an unparsable message goes to bad/, anything else is shunted.
 */
#include "runners/runners.h"
#include "commands/process.h"
#include "store/names.h"
#include "store/site.h"

static void *
commands_open(struct site *site, const char *queue, GError **error)
{
	return site;
}

static int
handle_commands(void *ctx, struct queue *q, struct queue_item *item,
		GError **error)
{
	return commands_process(ctx, item->meta, item->msg, item->msg_len,
				error);
}

const struct runner_kind runner_commands = {
	.name = "commands",
	.init_queue = QUEUE_COMMANDS,
	.doc = "mail to LIST-request, -join, -leave and -confirm: commands, "
	       "subscriptions and confirmations, answered through the virgin "
	       "queue.",
	.open = commands_open,
	.handle = handle_commands,
};
