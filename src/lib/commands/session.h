/*
 * session.h - what the files of commands/ share while one message is
 * worked (private to commands/: the runner sees only process.h).
 */
#ifndef HERALD_COMMANDS_SESSION_H
#define HERALD_COMMANDS_SESSION_H

#include <glib.h>
#include <gmime/gmime.h>

#include "commands/parse.h"
#include "list/list.h"
#include "list/roster.h"
#include "store/site.h"

#define COMMANDS_SUBSYS "commands"

struct session {
	struct site *site;
	struct list *list;
	GMimeMessage *msg;
	char *sender;		/* the From address: whom commands act for */
	char *sender_name;	/* its display name, or NULL */
	char *approved;		/* an Approved: password, or NULL */
	char *authenticated;	/* the address "set authenticate" proved */
	GString *reply;		/* each command with its result */
	guint results;		/* how many results reply holds */
};

/* Appends command line and its result (printf) to the reply. */
void session_result(struct session *s, const char *line, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* Whether password opens address's membership: the member's own
 * password, or the list's administrator or moderator password. */
gboolean session_password_ok(struct session *s, const struct member *m,
			     const char *password);
/* Whether password is the list's administrator or moderator password. */
gboolean session_admin_password(struct session *s, const char *password);

/* confirm TOKEN (confirm.c): a subscription, unsubscription or
 * invitation confirmed; a held post or a request awaiting approval
 * decided by s->approved.  0, or -1 with *error for a failure of the
 * disk (the message is tried again). */
int session_confirm(struct session *s, const char *line, const char *token,
		    GError **error);

/* One parsed command (exec.c); 0, or -1 with *error as above. */
int session_exec(struct session *s, const struct command *c, GError **error);

#endif
