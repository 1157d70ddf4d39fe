/*
 * process.h - the command processor's one entry: a message from the
 * commands queue, as the MTA entry stored it (metadata list, kind
 * request | join | leave | confirm, sender, recipient), worked and
 * answered.  commands/parse.h states the boundary of commands/.
 *
 * Every message is accounted for: worked (and answered, rate limited per
 * address), ignored with a log line (mail from the null sender, with
 * Auto-Submitted other than "no", Precedence bulk, junk or list, from one
 * of the site's list addresses, with no command at all), or refused
 * with HERALD_ERR_FORMAT (unparsable: the runner moves it to bad/ with a
 * log line).  A failure of the disk is HERALD_ERR_IO: the message is
 * tried again later.
 */
#ifndef HERALD_COMMANDS_PROCESS_H
#define HERALD_COMMANDS_PROCESS_H

#include <glib.h>

#include "store/queue.h"
#include "store/site.h"

int commands_process(struct site *site, const struct queue_meta *meta,
		     const char *msg, size_t len, GError **error);

#endif
