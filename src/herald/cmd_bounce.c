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
 *   bounce status LIST [ADDR]
 *       the members with bounce information (or the one named): address,
 *       score, the day of the last scored bounce, its reason, delivery
 *       status, warnings left; tab-separated, one member a line.
 *   bounce reset LIST ADDR
 *       enables a member disabled by bounces and forgets its score.
 */
#include "cli.h"
#include "bounce/detect.h"
#include "bounce/process.h"
#include "list/roster.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	GString *in;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if ((in = cli_read_stdin()) == NULL)
		return CLI_OK;
	r = bounce_detect_data(in->str, in->len, recipient, &error);
	g_string_free(in, TRUE);
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

static char *
day_text(int64_t t)
{
	GDateTime *d;
	char *s;

	if (t <= 0 || (d = g_date_time_new_from_unix_utc(t)) == NULL)
		return g_strdup("-");
	s = g_date_time_format(d, "%Y-%m-%d");
	g_date_time_unref(d);
	return s;
}

static void
print_bounce(const struct member *m)
{
	char *day = day_text(m->bounce.last);

	printf("%s\t%.1f\t%s\t%s\t%s\t%d\n", m->addr, m->bounce.score, day,
	       *m->bounce.reason != '\0' ? m->bounce.reason : "-",
	       member_status_name(m->status),
	       m->status == STATUS_BY_BOUNCE ? m->bounce.notices_left : 0);
	g_free(day);
}

static int
bounce_status_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST [ADDR]", .min_args = 1, .max_args = 2,
		.summary = "The members with bounce information, or the one "
			   "named, one a line:\naddress, score, day of the "
			   "last scored bounce (UTC), its reason,\ndelivery "
			   "status (enabled, bybounce, ...), warnings left "
			   "before removal;\ntab-separated.",
	};
	GError *error = NULL;
	struct roster *r = NULL;
	struct list *l;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	ret = roster_load(l, &r, &error);
	list_free(&l);
	if (ret < 0)
		return cli_gerror(&error);
	ret = CLI_OK;
	if (argc == 3) {
		const struct member *m = roster_find(r, argv[2]);

		if (m == NULL)
			ret = cli_error("%s is not a member", argv[2]);
		else
			print_bounce(m);
	} else {
		GPtrArray *all = roster_members(r, TRUE);

		for (guint i = 0; i < all->len; i++) {
			const struct member *m = all->pdata[i];

			if (m->bounce.last != 0 || m->bounce.score > 0 ||
			    *m->bounce.reason != '\0' || m->status == STATUS_BY_BOUNCE)
				print_bounce(m);
		}
		g_ptr_array_free(all, TRUE);
	}
	roster_free(&r);
	if (ret != CLI_OK)
		return ret;
	return fflush(stdout) == 0 ? CLI_OK : cli_error("writing: %s",
							 g_strerror(errno));
}

static int
bounce_reset_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST ADDR", .min_args = 2, .max_args = 2,
		.summary = "Enables a member whose delivery bounce processing "
			   "disabled, and\nforgets its bounce score.",
	};
	GError *error = NULL;
	struct list *l;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	ret = roster_reenable(l, argv[2], &error);
	list_free(&l);
	if (ret < 0)
		return cli_gerror(&error);
	if (ret == 0)
		return cli_error("%s is not a member", argv[2]);
	return CLI_OK;
}

int
cmd_bounce(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "detect", bounce_detect_cmd,
		  "read a message on standard input, print its failed recipients" },
		{ "status", bounce_status_cmd,
		  "members' bounce scores, last bounces and delivery status" },
		{ "reset", bounce_reset_cmd,
		  "enable a member disabled by bounces, forget its score" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs,
			    "Bounces: what a returned message says, members' bounce scores.");
}
