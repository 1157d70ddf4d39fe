/*
 * sendmail.h - the sendmail command transport: a message handed to a
 * sendmail-compatible program (argv with "-i -f SENDER -- RECIPIENT..."
 * appended, the message on its standard input), its exit status turned
 * into each recipient's reply.
 *
 * It answers in SMTP's terms (struct smtp_reply, smtp.h) so that the
 * delivery runner judges the outcome of every transport one way: 2xx
 * accepted, 4xx or code 0 retried, 5xx failed.  A command gets one verdict
 * for all its recipients; sendmail says no more than its exit status.
 *
 * A command that hangs must not hang the runner, nor lose its
 * recipients: it has a timeout, like every step of an SMTP conversation,
 * and when that passes it is killed (with whatever it started) and its
 * recipients are left with code 0, retried like those of a connection
 * that timed out.
 */
#ifndef HERALD_SENDMAIL_H
#define HERALD_SENDMAIL_H

#include <glib.h>

#include "deliver/smtp.h"

/* Runs argv[0] (found on PATH, no shell) with argv's other words, then
 * "-i -f sender -- rcpt...", the message on its standard input; its
 * standard output and error, together, become the reply text (the first
 * 8 KiB).  Each of replies[0..n) gets
 *     exit 0                                      250
 *     exit 75 (EX_TEMPFAIL)                       451
 *     any other exit                              550
 *     killed by a signal, or exit 0 without
 *     reading the whole message                   451
 * and 0 is returned.  timeout_ms (0: SMTP_DEFAULT_TIMEOUT_MS) bounds each
 * wait to write to the command (the clock restarts whenever bytes go in,
 * so a big message fed to a slow but working command is fine), and then
 * the wait for it to exit.  When it passes, the command's process group
 * is killed and -1 returned with HERALD_ERR_TIMEOUT, every code 0: the
 * command may have queued the message before it hung, so a retry may
 * deliver a copy twice, as after an SMTP timeout after the final dot.
 * -1 (codes 0) also when the command could not be run. */
int sendmail_send(const char *const *argv, int timeout_ms, const char *sender,
		  const char *const *rcpts, guint n, const char *data,
		  size_t len, struct smtp_reply *replies, GError **error);

#endif
