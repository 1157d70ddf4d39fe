/*
 * accept.c - what herald accepts from the MTA (accept.h says why the
 * entry decides, and why it refuses rather than repairs).
 */
#include "entry/accept.h"
#include "base/base.h"
#include "mail/message.h"

int
entry_check(const char *msg, size_t len, GError **error)
{
	GError *local = NULL;

	if (message_check_round_trip(msg, len, TRUE, &local) == 0)
		return 0;
	/* The reason goes into an SMTP reply and the MTA's log: one line
	 * of printable ASCII, whatever header names the sender chose. */
	g_strcanon(local->message, " !\"#$%&'()*+,-./0123456789:;<=>?@"
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz"
		   "{|}~", '?');
	g_propagate_error(error, local);
	return -1;
}

int64_t
entry_max_message_size(const struct site *site)
{
	int64_t old = site_get_int(site, "lmtp.max_message_size");

	return old > 0 ? old : site_get_int(site, "entry.max_message_size");
}
