/*
 * verp.h - VERP: a member's address folded into the envelope sender, so a
 * bounce names the member it is for whatever it says.
 *
 *   LIST-bounces+MAILBOX=DOMAIN@LISTDOMAIN
 *
 * as Mailman 2.1 writes it.  MAILBOX is the member's local part with every
 * byte outside [A-Za-z0-9!#$&'*+/=?^_`{|}~.-] and '%' written %XX, and
 * DOMAIN never holds '=', so splitting at the last '=' and decoding %XX
 * gives back the member's address exactly, also for local parts with '+',
 * '=', quotes or spaces.
 */
#ifndef HERALD_VERP_H
#define HERALD_VERP_H

#include <glib.h>

/* The VERP envelope sender for member addr (a normalised address) of the
 * list whose bounce address is bounces (LIST-bounces@LISTDOMAIN). */
char *verp_encode(const char *bounces, const char *addr);

/* The member address in a VERP recipient (LIST-bounces+...@...), or NULL
 * when recipient is not one. */
char *verp_decode(const char *recipient);

#endif
