/*
 * cmd_tasks.c - `herald tasks [run NAME]`: the periodic tasks
 * (src/lib/tasks, docs/scheduler.md).
 *
 *   tasks            every task: its schedule, the last slot run, by which
 *                    host and how it went, and the next slot
 *   tasks run NAME   runs a task now in the foreground, under its lock,
 *                    recorded like a scheduled run but leaving the slot
 */
#include "cli.h"
#include "base/base.h"
#include "tasks/tasks.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

/* The tasks and what each does, for --help. */
static char *
tasks_text(void)
{
	GString *out = g_string_new("Tasks (their schedule is the site setting "
				    "schedule.NAME; empty: the default):\n");

	for (const struct task *const *t = tasks; *t != NULL; t++) {
		char **words = g_strsplit((*t)->doc, " ", -1);
		size_t col = 72;

		g_string_append_printf(out, "  %s (default \"%s\")", (*t)->name,
				       (*t)->default_schedule);
		/* The doc, wrapped at 72 columns and indented. */
		for (char **w = words; *w != NULL; w++) {
			if (col + 1 + strlen(*w) > 72) {
				g_string_append(out, "\n     ");
				col = 5;
			}
			g_string_append_printf(out, " %s", *w);
			col += 1 + strlen(*w);
		}
		g_string_append_c(out, '\n');
		g_strfreev(words);
	}
	return g_string_free(out, FALSE);
}

/* How the last run went, in a few words. */
static char *
outcome_text(const struct task_state *st)
{
	char *what, *out;

	if (strcmp(st->outcome, TASK_RUNNING) == 0) {
		char *since = task_time_text(st->started);

		what = g_strconcat("running since ", since, NULL);
		g_free(since);
	} else {
		what = task_state_summary(st);
	}
	out = g_strconcat(what, st->manual ? " (manual run)" : "", NULL);
	g_free(what);
	return out;
}

static void
print_task(struct site *site, const struct task *t, int64_t now)
{
	GError *error = NULL;
	struct task_state *st = NULL;
	struct schedule s;
	char *spec = NULL, *last = NULL, *next = NULL, *outcome = NULL;
	int64_t next_slot = 0;
	int r;

	if (task_schedule(site, t, &s, &spec, &error) < 0) {
		spec = g_strdup("(bad)");
		outcome = g_strdup(error->message);
		g_clear_error(&error);
	} else if (schedule_slot(&s, now, NULL, &next_slot) == 0) {
		next_slot = 0;
	}
	r = task_state_read(site, t->name, &st, &error);
	if (r < 0) {
		g_free(outcome);
		outcome = g_strdup(error->message);
		g_clear_error(&error);
	}
	if (r > 0) {
		last = task_time_text(st->slot);
		if (outcome == NULL)
			outcome = outcome_text(st);
	}
	next = task_time_text(next_slot);
	printf("%-14s %-18s %-19s %-8s %-19s %s\n", t->name, spec,
	       last != NULL ? last : "-", st != NULL && *st->host != '\0'
	       ? st->host : "-", next, outcome != NULL ? outcome : "never run");
	task_state_free(&st);
	g_free(spec);
	g_free(last);
	g_free(next);
	g_free(outcome);
}

static int
tasks_list(struct cli *cli, int argc, char **argv)
{
	char *text = tasks_text();
	const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "Lists the periodic tasks: schedule, the last slot "
			   "run (local time), the host\nthat ran it, the next "
			   "slot and how the last run went.  The masters'\n"
			   "scheduler runs each slot once, on one host "
			   "(docs/scheduler.md).",
		.description = text,
	};
	struct site *site;
	int64_t now;
	int ret;

	ret = cli_parse(cli, &argc, &argv, NULL, &help);
	g_free(text);
	if (ret != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	/* Slots by the clock the scheduler uses; this host's if the var
	 * dir cannot be written (a reader's account). */
	if (task_server_now(site, &now, NULL) == 0)
		now /= G_USEC_PER_SEC;
	else
		now = (int64_t)time(NULL);
	printf("%-14s %-18s %-19s %-8s %-19s %s\n", "task", "schedule",
	       "last slot", "host", "next slot", "last outcome");
	for (const struct task *const *t = tasks; *t != NULL; t++)
		print_task(site, *t, now);
	return CLI_OK;
}

/* task_watch callback of a foreground run: any of SIGINT, SIGTERM and
 * SIGHUP interrupts it (and is recorded). */
static gboolean
interrupted(void *data)
{
	struct signalfd_siginfo si;
	gboolean any = FALSE;

	while (read(*(int *)data, &si, sizeof si) == (ssize_t)sizeof si)
		any = TRUE;
	return any;
}

static int
tasks_run(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "NAME", .min_args = 1, .max_args = 1,
		.summary = "Runs task NAME now, in the foreground, under the "
			   "task's lock: recorded in\nits state like a "
			   "scheduled run, but the current slot stays as it "
			   "was (a\nslot not yet run still runs at its time). "
			   "Fails if the task is running\nelsewhere.  Ctrl-C "
			   "stops it (recorded as failed).",
	};
	GError *error = NULL;
	struct task_state *st = NULL;
	struct task_watch w = { .stop = interrupted };
	const struct task *t;
	struct site *site;
	sigset_t mask;
	int sigfd, r;

	if ((r = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return r;
	if ((t = task_find(argv[1])) == NULL)
		return cli_usage_error(cli, "no task '%s' (`herald tasks` lists "
				       "them)", argv[1]);
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return cli_error("signalfd: %s", g_strerror(errno));
	w.fd = sigfd;
	w.data = &sigfd;
	r = task_run_now(site, t, &w, &st, &error);
	close(sigfd);
	if (r < 0)
		return cli_gerror(&error);
	if (r == 0) {
		char *since = st != NULL ? task_time_text(st->started) : NULL;

		cli_error("task %s is running%s%s%s%s; try again when it is done",
			  t->name, st != NULL ? " on host " : "",
			  st != NULL ? st->host : "", since != NULL ? " since " : "",
			  since != NULL ? since : "");
		g_free(since);
		task_state_free(&st);
		return CLI_FAIL;
	}
	char *text = outcome_text(st);
	printf("%s: %s\n", t->name, text);
	r = strcmp(st->outcome, TASK_OK) == 0 ? CLI_OK : CLI_FAIL;
	g_free(text);
	task_state_free(&st);
	return r;
}

int
cmd_tasks(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "", tasks_list, NULL },
		{ "run", tasks_run, "run a task now" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs, NULL);
}
