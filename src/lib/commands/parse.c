/*
 * parse.c - reading commands from a message (parse.h): a table of
 * command words, one argument reader per command, and the walk over the
 * Subject and the body's lines.  Pure: no list, no file, no clock.
 */
#include "commands/parse.h"
#include "mail/message.h"

#include <string.h>

/* --- arguments ----------------------------------------------------------- */

struct reader {
	const char *name;
	enum command_kind kind;
	/* Fills c from words[0..n); FALSE with c->usage set when they are
	 * wrong. */
	gboolean (*read)(struct command *c, char **words, guint n);
};

static gboolean
usage(struct command *c, const char *why, const char *use)
{
	c->usage = g_strdup_printf("%s; usage: %s", why, use);
	return FALSE;
}

/* Takes an "address=ADDR" word; TRUE when w was one. */
static gboolean
take_address(struct command *c, const char *w)
{
	if (g_ascii_strncasecmp(w, "address=", 8) != 0)
		return FALSE;
	g_free(c->address);
	c->address = g_strdup(w + 8);
	return TRUE;
}

/* Words that are an optional password and address=: [password]
 * [address=ADDR]; digest words too when digest_ok. */
static gboolean
read_password_address(struct command *c, char **words, guint n,
		      gboolean digest_ok, const char *use)
{
	for (guint i = 0; i < n; i++) {
		const char *w = words[i];

		if (take_address(c, w))
			continue;
		if (digest_ok && g_ascii_strcasecmp(w, "digest") == 0)
			c->digest = 1;
		else if (digest_ok && g_ascii_strcasecmp(w, "nodigest") == 0)
			c->digest = 0;
		else if (c->password == NULL)
			c->password = g_strdup(w);
		else
			return usage(c, "too many arguments", use);
	}
	if (c->address != NULL && *c->address == '\0')
		return usage(c, "address= needs an address", use);
	return TRUE;
}

static gboolean
read_subscribe(struct command *c, char **words, guint n)
{
	return read_password_address(c, words, n, TRUE,
				     "subscribe [password] [digest|nodigest] "
				     "[address=ADDRESS]");
}

static gboolean
read_unsubscribe(struct command *c, char **words, guint n)
{
	return read_password_address(c, words, n, FALSE,
				     "unsubscribe [password] [address=ADDRESS]");
}

static gboolean
read_who(struct command *c, char **words, guint n)
{
	return read_password_address(c, words, n, FALSE,
				     "who [password] [address=ADDRESS]");
}

static gboolean
read_confirm(struct command *c, char **words, guint n)
{
	if (n != 1)
		return usage(c, n == 0 ? "the confirmation code is missing"
				       : "too many arguments", "confirm CODE");
	c->token = g_strdup(words[0]);
	return TRUE;
}

static gboolean
read_none(struct command *c, char **words, guint n)
{
	return n == 0 ? TRUE : usage(c, "this command takes no arguments",
				     command_kind_name(c->kind));
}

static gboolean
read_password(struct command *c, char **words, guint n)
{
	static const char use[] = "password [OLD NEW] [address=ADDRESS]";
	guint plain = 0;

	for (guint i = 0; i < n; i++) {
		if (take_address(c, words[i]))
			continue;
		if (plain == 0)
			c->password = g_strdup(words[i]);
		else if (plain == 1)
			c->new_password = g_strdup(words[i]);
		plain++;
	}
	if (plain != 0 && plain != 2)
		return usage(c, "give both the old and the new password", use);
	return TRUE;
}

/* set's options: name, the choice, and which words set it how. */
static const struct {
	const char *name;
	enum command_set set;
} set_options[] = {
	{ "help", SET_HELP }, { "show", SET_SHOW },
	{ "authenticate", SET_AUTHENTICATE }, { "ack", SET_ACK },
	{ "digest", SET_DIGEST }, { "delivery", SET_DELIVERY },
	{ "myposts", SET_MYPOSTS }, { "hide", SET_HIDE },
	{ "duplicates", SET_DUPLICATES }, { "reminders", SET_REMINDERS },
};

static const char set_use[] =
	"set help | set show [address=ADDRESS] | set authenticate PASSWORD "
	"[address=ADDRESS] | set ack|delivery|myposts|hide|duplicates|"
	"reminders on|off | set digest plain|mime|off";

/* The on/off (or digest plain/mime/off) value of a set option. */
static gboolean
read_set_value(struct command *c, const char *v)
{
	if (c->set == SET_DIGEST) {
		c->digest = g_ascii_strcasecmp(v, "off") == 0 ? 0
			: g_ascii_strcasecmp(v, "plain") == 0 ? 1
			: g_ascii_strcasecmp(v, "mime") == 0 ? 2 : -1;
		return c->digest >= 0 ? TRUE
			: usage(c, "digest takes plain, mime or off", set_use);
	}
	c->on = g_ascii_strcasecmp(v, "on") == 0 ? 1
		: g_ascii_strcasecmp(v, "off") == 0 ? 0 : -1;
	return c->on >= 0 ? TRUE : usage(c, "give on or off", set_use);
}

static gboolean
read_set(struct command *c, char **words, guint n)
{
	GPtrArray *rest = g_ptr_array_new();
	gboolean ok = FALSE;

	for (guint i = 0; i < n; i++)
		if (i == 0 || !take_address(c, words[i]))
			g_ptr_array_add(rest, words[i]);
	if (rest->len == 0) {
		usage(c, "which option?", set_use);
		goto out;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(set_options); i++)
		if (g_ascii_strcasecmp(rest->pdata[0], set_options[i].name) == 0)
			c->set = set_options[i].set;
	if (c->set == SET_NONE)
		usage(c, "no such option", set_use);
	else if (c->set == SET_HELP || c->set == SET_SHOW)
		ok = rest->len == 1 ? TRUE
		     : usage(c, "too many arguments", set_use);
	else if (rest->len != 2)
		usage(c, rest->len < 2 ? "a value is missing"
				       : "too many arguments", set_use);
	else if (c->set == SET_AUTHENTICATE)
		ok = (c->password = g_strdup(rest->pdata[1])) != NULL;
	else
		ok = read_set_value(c, rest->pdata[1]);
out:
	g_ptr_array_free(rest, TRUE);
	return ok;
}

static gboolean
read_options(struct command *c, char **words, guint n)
{
	c->set = SET_SHOW;
	for (guint i = 0; i < n; i++)
		if (!take_address(c, words[i]))
			return usage(c, "too many arguments",
				     "options [address=ADDRESS]");
	return TRUE;
}

static const struct reader readers[] = {
	{ "confirm", COMMAND_CONFIRM, read_confirm },
	{ "subscribe", COMMAND_SUBSCRIBE, read_subscribe },
	{ "join", COMMAND_SUBSCRIBE, read_subscribe },
	{ "unsubscribe", COMMAND_UNSUBSCRIBE, read_unsubscribe },
	{ "leave", COMMAND_UNSUBSCRIBE, read_unsubscribe },
	{ "remove", COMMAND_UNSUBSCRIBE, read_unsubscribe },
	{ "who", COMMAND_WHO, read_who },
	{ "info", COMMAND_INFO, read_none },
	{ "lists", COMMAND_LISTS, read_none },
	{ "help", COMMAND_HELP, read_none },
	{ "password", COMMAND_PASSWORD, read_password },
	{ "set", COMMAND_SET, read_set },
	{ "options", COMMAND_OPTIONS, read_options },
	{ "end", COMMAND_END, read_none },
	{ "stop", COMMAND_END, read_none },
};

const char *
command_kind_name(enum command_kind k)
{
	for (size_t i = 0; i < G_N_ELEMENTS(readers); i++)
		if (readers[i].kind == k)
			return readers[i].name;
	return "?";
}

/* --- one line ------------------------------------------------------------ */

void
command_free(struct command **cp)
{
	struct command *c = *cp;

	if (c == NULL)
		return;
	g_free(c->line);
	g_free(c->usage);
	g_free(c->token);
	g_free(c->password);
	g_free(c->new_password);
	g_free(c->address);
	g_free(c);
	*cp = NULL;
}

static void
command_free_ptr(gpointer p)
{
	struct command *c = p;

	command_free(&c);
}

/* The words of line (split on any white space, empty ones dropped). */
static GPtrArray *
words_of(const char *line)
{
	GPtrArray *words = g_ptr_array_new_with_free_func(g_free);
	const char *p = line;

	while (*p != '\0') {
		const char *start;

		while (*p != '\0' && g_ascii_isspace(*p))
			p++;
		start = p;
		while (*p != '\0' && !g_ascii_isspace(*p))
			p++;
		if (p > start)
			g_ptr_array_add(words, g_strndup(start, p - start));
	}
	return words;
}

struct command *
command_parse_line(const char *line)
{
	GPtrArray *words = words_of(line);
	struct command *c = NULL;

	for (size_t i = 0; words->len > 0 && i < G_N_ELEMENTS(readers); i++) {
		if (g_ascii_strcasecmp(words->pdata[0], readers[i].name) != 0)
			continue;
		c = g_new0(struct command, 1);
		c->kind = readers[i].kind;
		c->line = g_strstrip(g_strdup(line));
		c->digest = -1;
		c->on = -1;
		(void)readers[i].read(c, (char **)words->pdata + 1,
				      words->len - 1);
		break;
	}
	g_ptr_array_free(words, TRUE);
	return c;
}

/* --- the message --------------------------------------------------------- */

/* Reply and forward prefixes mail clients put before a Subject, in some
 * of the languages they speak (compared without case). */
static const char *const prefixes[] = {
	"re", "fw", "fwd", "aw", "wg", "sv", "vs", "antw", "rif", "tr", "r",
	"odp", "res", "enc",
};

/* The length of a "Re:" (or "Re[2]:", "RE :") prefix at s, or 0. */
static size_t
prefix_len(const char *s)
{
	for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
		size_t n = strlen(prefixes[i]);
		const char *p = s + n;

		if (g_ascii_strncasecmp(s, prefixes[i], n) != 0)
			continue;
		if (*p == '[') {
			while (g_ascii_isdigit(*++p))
				;
			if (*p++ != ']')
				continue;
		}
		while (*p == ' ')
			p++;
		if (*p == ':')
			return (size_t)(p + 1 - s);
	}
	return 0;
}

char *
commands_subject_strip(const char *subject)
{
	const char *s = subject;

	for (;;) {
		size_t n;

		while (g_ascii_isspace(*s))
			s++;
		if ((n = prefix_len(s)) > 0) {
			s += n;
		} else if (*s == '[' && strchr(s, ']') != NULL) {
			s = strchr(s, ']') + 1;
		} else {
			break;
		}
	}
	return g_strstrip(g_strdup(s));
}

/* Whether c asks what an earlier command of the same message asked
 * (a reply's Subject and its body both saying "confirm X"). */
static gboolean
repeated(const struct commands *cs, const struct command *c)
{
	for (guint i = 0; i < cs->commands->len; i++) {
		const struct command *o = cs->commands->pdata[i];

		if (o->kind == COMMAND_CONFIRM && c->kind == COMMAND_CONFIRM &&
		    g_strcmp0(o->token, c->token) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
signature_marker(const char *line)
{
	return strcmp(line, "-- ") == 0 || strcmp(line, "--") == 0;
}

static const char *const approve_names[] = {
	"Approved", "Approve", "X-Approved", "X-Approve",
};

/* The password of an "Approved: PASSWORD" line (any of the names), or
 * NULL. */
static char *
approved_line(const char *line)
{
	for (size_t i = 0; i < G_N_ELEMENTS(approve_names); i++) {
		size_t n = strlen(approve_names[i]);

		if (g_ascii_strncasecmp(line, approve_names[i], n) == 0 &&
		    line[n] == ':')
			return g_strstrip(g_strdup(line + n + 1));
	}
	return NULL;
}

/* The password of the first "Approved: PASSWORD" line of body that is
 * not quoted, before any signature; NULL when there is none.  Any such
 * line, not only the first, so that a moderator who writes below the
 * quoted notice does not discard the post by mistake. */
static char *
body_approved(const char *body)
{
	char **lines = g_strsplit(body, "\n", -1);
	char *pw = NULL;

	for (char **l = lines; pw == NULL && *l != NULL; l++) {
		char *line = *l;
		size_t len = strlen(line);

		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (signature_marker(line))
			break;
		g_strstrip(line);
		if (*line != '>')
			pw = approved_line(line);
	}
	g_strfreev(lines);
	return pw;
}

char *
commands_approved(GMimeMessage *msg)
{
	GMimeTextPart *part;
	char *text, *pw;

	for (size_t i = 0; i < G_N_ELEMENTS(approve_names); i++) {
		const char *v = message_header(msg, approve_names[i]);

		if (v != NULL)
			return g_strstrip(g_strdup(v));
	}
	if ((part = message_first_text_part(msg)) == NULL ||
	    (text = g_mime_text_part_get_text(part)) == NULL)
		return NULL;
	pw = body_approved(text);
	g_free(text);
	return pw;
}

/* Reads the body's lines into cs; see parse.h.  A line "Approved:
 * PASSWORD" is the moderator's password (commands_approved), no
 * command. */
static void
parse_body(struct commands *cs, const char *body, guint max_lines)
{
	char **lines = g_strsplit(body, "\n", -1);
	guint read = 0;
	char *pw;

	for (char **l = lines; *l != NULL; l++) {
		char *line = *l;
		size_t len = strlen(line);
		struct command *c;

		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (read++ >= max_lines) {
			if (*g_strstrip(line) != '\0')
				g_ptr_array_add(cs->ignored, g_strdup(line));
			continue;
		}
		if (signature_marker(line))
			break;
		g_strstrip(line);
		if (*line == '\0' || *line == '>')
			continue;
		if ((pw = approved_line(line)) != NULL) {
			g_free(pw);
			continue;
		}
		if ((c = command_parse_line(line)) == NULL) {
			cs->stopped_at = g_strdup(line);
			break;
		}
		if (c->kind == COMMAND_END) {
			command_free(&c);
			break;
		}
		if (repeated(cs, c))
			command_free(&c);
		else
			g_ptr_array_add(cs->commands, c);
	}
	g_strfreev(lines);
}

struct commands *
commands_parse_text(const char *subject, const char *body, guint max_lines)
{
	struct commands *cs = g_new0(struct commands, 1);

	cs->commands = g_ptr_array_new_with_free_func(command_free_ptr);
	cs->ignored = g_ptr_array_new_with_free_func(g_free);
	if (subject != NULL) {
		char *s = commands_subject_strip(subject);
		struct command *c = command_parse_line(s);

		/* A Subject that is no command is passed over, as Mailman
		 * does; "end" there ends nothing. */
		if (c != NULL && c->kind != COMMAND_END)
			g_ptr_array_add(cs->commands, c);
		else
			command_free(&c);
		g_free(s);
	}
	if (body != NULL)
		parse_body(cs, body, max_lines);
	return cs;
}

struct commands *
commands_parse(GMimeMessage *msg, guint max_lines)
{
	char *subject = message_header_decoded(msg, "Subject");
	GMimeTextPart *part = message_first_text_part(msg);
	GMimeObject *top = g_mime_message_get_mime_part(msg);
	char *body = part != NULL ? g_mime_text_part_get_text(part) : NULL;
	struct commands *cs = commands_parse_text(subject, body, max_lines);

	cs->other_parts = top != NULL && GMIME_OBJECT(part) != top;
	g_free(subject);
	g_free(body);
	return cs;
}

void
commands_free(struct commands **cp)
{
	struct commands *cs = *cp;

	if (cs == NULL)
		return;
	g_ptr_array_free(cs->commands, TRUE);
	g_ptr_array_free(cs->ignored, TRUE);
	g_free(cs->stopped_at);
	g_free(cs);
	*cp = NULL;
}
