/*
 * parse.h - the commands a message to LIST-request holds, as Mailman 2.1
 * reads them.
 *
 * Boundary of commands/ (layer 5): the -request, -join, -leave and
 * -confirm processor.  It reads the commands queue (its runner kind is in
 * runners/commands.c), confirms through list/pending.h, changes members
 * only through list/subscribe.h and roster_edit(), decides held posts
 * through list/held.h, and answers through list/notice.h and
 * list/template.h.  This file is its pure part: text in, commands out,
 * nothing read or written.
 *
 * Where commands are read:
 *   - the Subject (RFC 2047 decoded), after any reply or forward prefixes
 *     ("Re:", "AW:", "Fwd:" ..., repeated) and a "[list]" tag; a Subject
 *     that is no command is passed over;
 *   - then the lines of the first text/plain part: blank lines and quoted
 *     lines (">") are skipped; reading stops at the first line that is no
 *     command, at a signature marker ("-- "), at "end" or "stop", or after
 *     max_lines lines (commands.max_lines, Mailman's 25); the lines after
 *     the limit are reported as ignored.
 * Words are split on white space; command names and keywords are
 * case-insensitive; passwords and tokens keep their case.
 */
#ifndef HERALD_COMMANDS_PARSE_H
#define HERALD_COMMANDS_PARSE_H

#include <glib.h>
#include <gmime/gmime.h>

enum command_kind {
	COMMAND_CONFIRM,	/* confirm TOKEN */
	COMMAND_SUBSCRIBE,	/* subscribe, join */
	COMMAND_UNSUBSCRIBE,	/* unsubscribe, leave, remove */
	COMMAND_WHO,
	COMMAND_INFO,
	COMMAND_LISTS,
	COMMAND_HELP,
	COMMAND_PASSWORD,
	COMMAND_SET,
	COMMAND_OPTIONS,	/* set show */
	COMMAND_END,		/* end, stop */
};

/* What a set command changes or does. */
enum command_set {
	SET_NONE,
	SET_HELP, SET_SHOW, SET_AUTHENTICATE,
	SET_ACK, SET_DIGEST, SET_DELIVERY, SET_MYPOSTS, SET_HIDE,
	SET_DUPLICATES, SET_REMINDERS,
};

struct command {
	enum command_kind kind;
	char *line;		/* as written (trimmed): quoted in the reply */
	char *usage;		/* NULL, or what is wrong and the usage */
	char *token;		/* confirm */
	char *password;		/* subscribe, unsubscribe, who, set
				 * authenticate; password: the old one */
	char *new_password;	/* password */
	char *address;		/* address=ADDR, or NULL */
	int digest;		/* subscribe: -1 not said, 0 nodigest, 1 digest;
				 * set digest: 0 off, 1 plain, 2 mime */
	enum command_set set;	/* set */
	int on;			/* set ack|delivery|...: 1 on, 0 off */
};

struct commands {
	GPtrArray *commands;	/* struct command *, in order */
	char *stopped_at;	/* the line that was no command, or NULL */
	GPtrArray *ignored;	/* char *: lines after the limit */
	gboolean other_parts;	/* the message had parts that are not the
				 * text read (attachments, HTML) */
};

/* One line: a command (with usage set when its arguments are wrong), or
 * NULL when the line is no command. */
struct command *command_parse_line(const char *line);
void command_free(struct command **cp);

/* The commands of a Subject (NULL: none) and a body (NULL: none). */
struct commands *commands_parse_text(const char *subject, const char *body,
				     guint max_lines);
/* The same from a message (its Subject and first text/plain part). */
struct commands *commands_parse(GMimeMessage *msg, guint max_lines);
void commands_free(struct commands **cp);

/* A moderator's password: the value of an Approved: header (or Approve:,
 * X-Approved:, X-Approve:), else of the first such line of the first
 * text/plain part that is not quoted (">"), before a signature; NULL
 * when there is none. */
char *commands_approved(GMimeMessage *msg);

/* The Subject without reply/forward prefixes and a "[list]" tag. */
char *commands_subject_strip(const char *subject);

/* A command's name as the reply names it ("confirm", "set"). */
const char *command_kind_name(enum command_kind k);

#endif
