/*
 * cmd_held.c - `herald held ...`: the moderators' command line.
 *
 *   held list LIST                  one held post a line
 *   held show LIST ID               its reason and the message
 *   held approve|reject|discard|defer LIST ID [--reason TEXT]
 *
 * The decisions are one verb function each; held_action_parse() turns
 * the verb's name (argv[0]) into the action.
 *
 * What a poster wrote reaches a moderator's terminal here: the Subject
 * (decoded from RFC 2047, so it may hold any character), the poster, the
 * message.  Every field is shown through show(), which escapes control
 * characters (C0, DEL, C1: an ESC sequence can retitle or clear the
 * terminal, a tab or line feed can forge a row of `held list`), bidi
 * overrides and bytes that are not UTF-8, and `held list` cuts long fields,
 * so each held post is one row whatever its Subject holds.
 */
#include "cli.h"
#include "base/base.h"
#include "list/held.h"
#include "store/names.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The longest fields of a `held list` row, in characters. */
#define LIST_POSTER_MAX 60
#define LIST_SUBJECT_MAX 60
#define LIST_REASON_MAX 120

/* Whether u must not reach a terminal as it is: control characters (C0,
 * DEL, C1), the line and paragraph separators and the bidi controls,
 * which reorder what follows them on the line. */
static gboolean
unshowable(gunichar u)
{
	return u < 0x20 || (u >= 0x7F && u <= 0x9F) || u == 0x2028 ||
	       u == 0x2029 || u == 0x200E || u == 0x200F ||
	       (u >= 0x202A && u <= 0x202E) || (u >= 0x2066 && u <= 0x2069);
}

/* Appends text[0..len) to out made safe for a terminal: what unshowable()
 * names as \t, \n, \r, \e, \xHH or \uHHHH, a byte that is not UTF-8 as
 * \xHH; a tab and a line feed are kept when lines is TRUE (a message's
 * body).  At most max characters (0: all), then "...". */
static void
show(GString *out, const char *text, size_t len, gboolean lines, guint max)
{
	const char *p = text, *end = text + len;

	for (guint n = 0; p < end; n++) {
		gunichar u = g_utf8_get_char_validated(p, end - p);

		if (max > 0 && n == max) {
			g_string_append(out, "...");
			break;
		}
		if (u == (gunichar)-1 || u == (gunichar)-2) {
			g_string_append_printf(out, "\\x%02x", (unsigned char)*p++);
			continue;
		}
		if (!unshowable(u) || (lines && (u == '\t' || u == '\n')))
			g_string_append_len(out, p, g_utf8_next_char(p) - p);
		else if (u == '\t')
			g_string_append(out, "\\t");
		else if (u == '\n')
			g_string_append(out, "\\n");
		else if (u == '\r')
			g_string_append(out, "\\r");
		else if (u == 0x1B)
			g_string_append(out, "\\e");
		else if (u < 0x80)
			g_string_append_printf(out, "\\x%02x", (unsigned)u);
		else
			g_string_append_printf(out, "\\u%04x", (unsigned)u);
		p = g_utf8_next_char(p);
	}
}

/* A field (NULL: "") shown on one line, cut at max characters (0: not). */
static char *
field(const char *text, guint max)
{
	GString *out = g_string_new(NULL);

	if (text != NULL)
		show(out, text, strlen(text), FALSE, max);
	return g_string_free(out, FALSE);
}

/* A held post's id from the command line; 0 after printing an error. */
static int64_t
parse_id(const char *arg)
{
	char *end = NULL;
	int64_t id = g_ascii_strtoll(arg, &end, 10);

	if (*end != '\0' || id <= 0) {
		cli_error("%s is not a held post's id", arg);
		return 0;
	}
	return id;
}

static int
held_print(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Prints the held posts of LIST, one a line: id, time held, "
			   "poster, subject,\nreason, tab-separated.  Control "
			   "characters in a field are shown escaped\n(\\t, \\n, "
			   "\\e, \\xHH, \\uHHHH), and a long field is cut (\"...\").",
	};
	GError *error = NULL;
	GPtrArray *posts;
	struct list *l;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((l = cli_list(cli, argv[1])) == NULL)
		return CLI_FAIL;
	ret = held_list(l, &posts, &error);
	list_free(&l);
	if (ret < 0)
		return cli_gerror(&error);
	for (guint i = 0; i < posts->len; i++) {
		struct held_post *h = posts->pdata[i];
		GDateTime *t = g_date_time_new_from_unix_utc(h->held_at);
		char *when = g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ");

		char *poster = field(h->poster, LIST_POSTER_MAX);
		char *subject = field(h->subject, LIST_SUBJECT_MAX);
		char *reason = field(h->reason, LIST_REASON_MAX);

		printf("%" G_GINT64_FORMAT "\t%s\t%s\t%s\t%s%s\n", h->id, when,
		       poster, subject, reason,
		       h->deciding ? " (being decided)" : "");
		g_free(poster);
		g_free(subject);
		g_free(reason);
		g_free(when);
		g_date_time_unref(t);
	}
	g_ptr_array_unref(posts);
	return CLI_OK;
}

static int
held_show(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST ID", .min_args = 2, .max_args = 2,
		.summary = "Prints held post ID: why it was held, the handlers it "
			   "resumes at, and\nthe message.  Control characters are "
			   "shown escaped (\\e, \\xHH, ...; in the\nmessage "
			   "tabs and line feeds are kept).",
	};
	const char *names[] = { "Poster", "Subject", "Reason", "Held-by",
				"Resumes-at" };
	GError *error = NULL;
	struct held_post *h = NULL;
	GString *out;
	struct list *l;
	int64_t id;
	int r;

	if ((r = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return r;
	if ((id = parse_id(argv[2])) == 0 || (l = cli_list(cli, argv[1])) == NULL)
		return CLI_FAIL;
	r = held_get(l, id, &h, &error);
	if (r == 0)
		cli_error("list %s has no held post %" G_GINT64_FORMAT,
			  list_fqdn(l), id);
	list_free(&l);
	if (r < 0)
		return cli_gerror(&error);
	if (r == 0)
		return CLI_FAIL;
	const char *values[] = { h->poster, h->subject, h->reason,
				 queue_meta_get(h->meta, META_HOLD_HANDLER),
				 queue_meta_get(h->meta, META_PIPELINE) };
	out = g_string_new(NULL);
	g_string_append_printf(out, "Id: %" G_GINT64_FORMAT "\n", h->id);
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		char *v = field(values[i], 0);
		g_string_append_printf(out, "%s: %s\n", names[i], v);
		g_free(v);
	}
	g_string_append_c(out, '\n');
	show(out, h->msg, h->msg_len, TRUE, 0);
	fwrite(out->str, 1, out->len, stdout);
	g_string_free(out, TRUE);
	held_post_free(&h);
	return CLI_OK;
}

/* approve, reject, discard, defer: the verb is the decision. */
static int
held_decide_verb(struct cli *cli, int argc, char **argv)
{
	static const char *const summaries[] = {
		[HELD_APPROVE] = "Approves held post ID: it goes back to the in "
				 "queue and on through the\nhandlers it was held "
				 "before.",
		[HELD_REJECT] = "Rejects held post ID: the poster is told why "
				"(--reason), the post is\ndropped.",
		[HELD_DISCARD] = "Discards held post ID without a word to the "
				 "poster.",
		[HELD_DEFER] = "Leaves held post ID held (the decision is logged).",
	};
	int action = held_action_parse(argv[0]);
	const struct cli_help help = {
		.params = "LIST ID", .min_args = 2, .max_args = 2,
		.summary = summaries[action],
	};
	char *reason = NULL;
	const GOptionEntry entries[] = {
		{ "reason", 0, 0, G_OPTION_ARG_STRING, &reason,
		  "why, for the poster's rejection notice", "TEXT" },
		G_OPTION_ENTRY_NULL
	};
	GError *error = NULL;
	struct list *l;
	int64_t id;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if ((id = parse_id(argv[2])) == 0 || (l = cli_list(cli, argv[1])) == NULL)
		return CLI_FAIL;
	ret = held_decide(l, id, action, reason, &error) < 0 ? cli_gerror(&error)
							      : CLI_OK;
	list_free(&l);
	return ret;
}

int
cmd_held(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "list", held_print, "print the held posts of a list" },
		{ "show", held_show, "print one held post and why it is held" },
		{ "approve", held_decide_verb, "send a held post on" },
		{ "reject", held_decide_verb, "drop it, telling the poster (--reason)" },
		{ "discard", held_decide_verb, "drop it without a word" },
		{ "defer", held_decide_verb, "leave it held" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, "The moderators' command "
			    "line: the posts a list holds, and decisions\non "
			    "them.");
}
