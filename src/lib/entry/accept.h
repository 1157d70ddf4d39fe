/*
 * accept.h - what herald accepts from the MTA: one decision for both
 * entries (the LMTP server, src/herald/lmtp.c, and the pipe, `herald mta`
 * in src/herald/cmd_mta.c), made before a message is stored.
 *
 * Whatever an entry stores, every later stage must be able to read back:
 * the incoming runner parses it, the pipeline writes it to the out queue,
 * the held store or the shunt queue, and the next stage parses that again.
 * A message that fails this somewhere down the line used to end in bad/
 * after the MTA had been told it was delivered (issue 10, item 4: an mbox
 * "From " line and a body, held, approved, then "not a message").  So the
 * entry decides, and refuses rather than repairs:
 *
 *   - entry_check(): the message parses, has at least one header, and
 *     what herald writes of it parses again to the same message
 *     (message_check_round_trip in mail/message.h).  A refusal is
 *     permanent: the LMTP server answers
 *     554 5.6.0, `herald mta` exits 65 (EX_DATAERR) with "5.6.0 ..." and
 *     the reason on standard error; the MTA bounces the message to its
 *     sender, who learns that it was not taken.  Refusing beats repairing
 *     here: the inputs that fail are not mail anyone wrote (no header at
 *     all, or what GMime cannot represent), and a repair herald invented
 *     would be a message the sender never sent.
 *   - entry_max_message_size(): the one size limit of both entries,
 *     applied while the message is read (neither entry holds more than
 *     the limit in memory).  Too large is permanent too: 552 5.3.4 over
 *     LMTP; exit 65 with "5.3.4 ..." from the pipe.
 *
 * To whoever works on src/herald/lmtp.c: the LMTP server calls
 * entry_check() in its storing callback, store_message(), before
 * queue_put (a refusal is HERALD_ERR_FORMAT, which lmtp_session.c answers
 * 554 5.6.0), once per recipient (list mail has one); and takes its size
 * limit from entry_max_message_size() in session_limits_read().  Keep
 * both where the message is stored and where the limit is read, whatever
 * else moves, so that the two entries cannot drift apart.
 */
#ifndef HERALD_ENTRY_ACCEPT_H
#define HERALD_ENTRY_ACCEPT_H

#include <glib.h>
#include <stdint.h>

#include "store/site.h"

/* 0 when the entry may store msg; -1 with HERALD_ERR_FORMAT and the
 * reason (printable ASCII, one line: fit for an SMTP reply or a log)
 * when it must refuse it for good. */
int entry_check(const char *msg, size_t len, GError **error);

/* The largest message, in bytes, either entry accepts:
 * entry.max_message_size, or lmtp.max_message_size (its old name) when
 * that is set to anything but 0. */
int64_t entry_max_message_size(const struct site *site);

#endif
