/*
 * handoff.h - herald-mta's hand-over: the message on standard input given
 * to the master's LMTP server over its pipe socket, instead of stored by
 * a process that loads GMime and the site's settings for each message.
 *
 * The socket (lmtp.pipe_socket, src/herald/lmtp.c; its name:
 * entry/pipe_socket.h) is an abstract unix socket named after the var
 * dir: one per var dir and host, nothing on disk, nothing to clean up
 * after a crash; the server takes connections only from its own user and
 * root (SO_PEERCRED).
 *
 * Whatever the hand-over cannot say exactly as `herald mta` would (an
 * option it does not know, no envelope sender or recipient, a recipient
 * that is not the list's address of that kind), and whenever the server is
 * not there or does not take the message before its DATA (no socket, 421
 * for too many sessions, a 4xx at RCPT), standard input is still unread
 * and the caller runs `herald mta` instead.  Once the message is being
 * sent, the server's answer is the answer: 250 exits 0, 5xx 65 (its
 * enhanced status first on standard error, as `herald mta` prints it), an
 * unknown list at RCPT 67, anything else 75 (the MTA keeps the message).
 */
#ifndef HERALD_MTA_HANDOFF_H
#define HERALD_MTA_HANDOFF_H

/* The exit code of herald-mta for argv (its arguments, argv[0] its
 * name) when the message was handed over, or -1 to run `herald mta`
 * (standard input untouched). */
int handoff_main(int argc, char **argv);

#endif
