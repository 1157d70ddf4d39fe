/*
 * cmd_bounce.c - `herald bounce detect`: what a returned message says
 * (src/lib/bounce/detect.h, docs/bounces.md).
 *
 *   bounce detect [--recipient ADDR] [--verbose]
 *       reads one message on standard input and prints one line per
 *       failed recipient:
 *           permanent<TAB>address<TAB>reason
 *           temporary<TAB>address<TAB>reason
 *       nothing for a message that is not a bounce.  Always exit 0, also
 *       for input that is no message at all (then a line on standard
 *       error): an external scorer compares bounce detectors through
 *       exactly this interface, so it stays as it is.
 *
 * The verbs status and reset (bounce scores of members) come with the
 * bounces runner.
 */
#include "cli.h"
#include "bounce/detect.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* All of standard input; NULL after printing why it could not be read. */
static GByteArray *
read_stdin(void)
{
	GByteArray *in = g_byte_array_new();
	guint8 buf[65536];
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("reading standard input: %s", g_strerror(errno));
			g_byte_array_unref(in);
			return NULL;
		}
		g_byte_array_append(in, buf, n);
	}
	return in;
}

static int
bounce_detect_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "Reads one message on standard input and prints one "
			   "line per failed\nrecipient: "
			   "permanent|temporary<TAB>address<TAB>reason.  "
			   "Nothing for a\nmessage that is not a bounce "
			   "(auto-replies, success reports).\nReasons: "
			   "mailbox-unknown, mailbox-disabled, mailbox-full, "
			   "host-unknown,\npolicy, too-big, expired, "
			   "complaint, other (docs/bounces.md).  Exits 0,\n"
			   "also for input that is no message (a line on "
			   "standard error).",
	};
	char *recipient = NULL;
	gboolean verbose = FALSE;
	const GOptionEntry entries[] = {
		{ "recipient", 0, 0, G_OPTION_ARG_STRING, &recipient,
		  "the envelope recipient it came to (a VERP address names "
		  "the member)", "ADDR" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
		  "add the kind, format, status, reply code and diagnostic "
		  "(tab-separated, after the reason)", NULL },
		G_OPTION_ENTRY_NULL
	};
	GError *error = NULL;
	struct bounce_report *r;
	GByteArray *in;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if ((in = read_stdin()) == NULL)
		return CLI_OK;
	r = bounce_detect_data((const char *)in->data, in->len, recipient,
			       &error);
	g_byte_array_unref(in);
	if (r == NULL) {
		cli_error("%s", error->message);
		g_clear_error(&error);
		return CLI_OK;
	}
	for (guint i = 0; i < r->failures->len; i++) {
		const struct bounce_failure *f = r->failures->pdata[i];

		printf("%s\t%s\t%s", f->permanent ? "permanent" : "temporary",
		       f->addr, bounce_reason_name(f->reason));
		if (verbose)
			printf("\t%s\t%s\t%s\t%d\t%s", bounce_kind_name(r->kind),
			       r->format != NULL ? r->format : "-",
			       f->status[0] ? f->status : "-", f->reply,
			       f->diagnostic != NULL ? f->diagnostic : "-");
		putchar('\n');
	}
	if (verbose && r->failures->len == 0)
		printf("# %s%s%s\n", bounce_kind_name(r->kind),
		       r->format != NULL ? " " : "",
		       r->format != NULL ? r->format : "");
	bounce_report_free(&r);
	return fflush(stdout) == 0 ? CLI_OK : cli_error("writing: %s",
							 g_strerror(errno));
}

int
cmd_bounce(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "detect", bounce_detect_cmd,
		  "read a message on standard input, print its failed recipients" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs,
			    "Bounces: what a returned message says.");
}
