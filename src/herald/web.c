/*
 * web.c - the web interface as a service of the master, and `herald web`.
 *
 * The service listens on web.listen (listener.h: unix:PATH or IPv4:PORT)
 * and hands the socket to the server (src/lib/web/server.c), which serves
 * in threads of its own.  This process only waits for signals: SIGHUP
 * reopens the logs and, when web.listen, web.socket_group or a limit of
 * the server changed, starts a new server on the new socket before
 * stopping the old one (requests under way finish); SIGTERM stops it,
 * letting the requests under way finish.
 *
 * Once an hour (and at start) it removes expired sessions, used login
 * links and old login counters (session_sweep): every host that serves
 * pages sweeps the var dir's web/ folder, which is harmless twice over.
 *
 * Its allocations of WEB_MMAP_THRESHOLD bytes or more are mapped on their
 * own (mallopt M_MMAP_THRESHOLD), so that they go back to the system when
 * freed.  glibc's default threshold is dynamic: once a large block is
 * freed it rises to that block's size, and from then on the large
 * temporary buffers of a request (a roster file read whole, a page of
 * 1,000 members as JSON, a member view's strings while they grow) are
 * carved from the heap of the server thread that made them, where their
 * holes stay between requests, one heap per thread.  Measured with
 * bench/api.sh (docs/PERFORMANCE.md, "REST API"): peak RSS 37.6 MB with
 * the dynamic threshold, 29.6 MB with this one, no request slower.  And
 * its threads share one heap (M_ARENA_MAX 1): with a heap each, what one
 * thread freed (the owed welcomes a sender round made, a batch's roster
 * change) stayed in its heap, unused by the others; measured the same
 * way, peak RSS 27.3-28.0 MB against 28.9-30.8 MB with a heap per thread,
 * the subscriptions no slower (docs/PERFORMANCE.md, Session 11).
 *
 * `herald web serve` runs the same in the foreground; `herald web
 * password` sets the site administrator's password (read from standard
 * input, stored as an Argon2id hash in web.admin_password).
 */
#include "cli.h"
#include "listener.h"
#include "services.h"
#include "base/base.h"
#include "base/log.h"
#include "list/roster.h"
#include "list/subscribe_group.h"
#include "web/pages.h"

#include <errno.h>
#include <malloc.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

/* Allocations this large or larger are mapped on their own. */
#define WEB_MMAP_THRESHOLD (128 * 1024)

/* How often expired sessions are swept away. */
#define WEB_SWEEP_S 3600

/* The settings whose change needs a new server. */
static const char *const restart_settings[] = {
	"web.listen", "web.socket_group", "web.threads", "web.max_connections",
	"web.timeout", "web.max_body", NULL,
};

static char *settings_key(struct site *site)
{
	GString *key = g_string_new(NULL);
	for (const char *const *s = restart_settings; *s; s++) {
		char *v = site_get(site, *s, NULL);
		g_string_append_printf(key, "%s\n", v ? v : "");
		g_free(v);
	}
	return g_string_free(key, FALSE);
}

struct web_service {
	struct listener l;
	struct web_daemon *daemon;
	char *key;
};

static int start(struct web_service *ws, struct site *site, GError **error)
{
	char *spec = site_get(site, "web.listen", NULL);
	char *group = site_get(site, "web.socket_group", NULL);
	ws->l = (struct listener){ .what = "web.listen",
				   .group_what = "web.socket_group",
				   .subsys = WEB_SUBSYS };
	int rc = listener_open(&ws->l, spec, group, error);
	if (rc == 0) {
		ws->daemon = web_daemon_start(site, ws->l.fd, error);
		if (!ws->daemon) {
			listener_close(&ws->l);
			rc = -1;
		} else {
			log_info(WEB_SUBSYS, "serving on %s", spec);
			ws->key = settings_key(site);
		}
	}
	g_free(spec);
	g_free(group);
	return rc;
}

/* The daemon closed the socket; only its file is left to remove. */
static void stop(struct web_service *ws)
{
	web_daemon_stop(&ws->daemon);
	ws->l.fd = -1;
	listener_close(&ws->l);
	g_clear_pointer(&ws->key, g_free);
}

static void reload(struct web_service *ws, struct site *site)
{
	GError *error = NULL;
	log_request_reopen();
	if (site_reload_if_changed(site, &error) < 0) {
		log_error(WEB_SUBSYS, "rereading the settings: %s",
			  error->message);
		g_error_free(error);
		return;
	}
	char *key = settings_key(site);
	gboolean same = !strcmp(key, ws->key);
	g_free(key);
	if (same)
		return;
	/* The same unix socket path cannot be had twice: stop first, then
	 * start; a TCP port likewise. */
	stop(ws);
	if (start(ws, site, &error) < 0) {
		log_error(WEB_SUBSYS, "%s", error->message);
		g_error_free(error);
	}
}

static int web_main(struct site *site)
{
	struct web_service ws = { 0 };
	GError *error = NULL;
	sigset_t mask;

	prctl(PR_SET_NAME, "herald-web");
	mallopt(M_MMAP_THRESHOLD, WEB_MMAP_THRESHOLD);
	mallopt(M_ARENA_MAX, 1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* Blocked before the server's threads exist, so they inherit it and
	 * only sigwaitinfo below takes these signals. */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* A list the site administrator creates on the web needs the
	 * Postfix tables as one made by `herald lists create` does. */
	web_lists_changed = mtaconfig_refresh;
	if (start(&ws, site, &error) < 0) {
		log_error(WEB_SUBSYS, "%s", error->message);
		g_error_free(error);
		return HERALD_EX_TEMPFAIL;
	}
	for (;;) {
		siginfo_t si;
		struct timespec hour = { .tv_sec = WEB_SWEEP_S };
		guint swept = session_sweep(site, (int64_t)time(NULL));
		if (swept)
			log_info(WEB_SUBSYS, "%u expired session file%s removed",
				 swept, swept == 1 ? "" : "s");
		int sig = sigtimedwait(&mask, &si, &hour);
		if (sig < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (sig == SIGHUP) {
			reload(&ws, site);
			continue;
		}
		break;
	}
	stop(&ws);
	/* What the requests owed their new members goes out now, or is
	 * left in the rosters for the task members.notices. */
	subscribe_group_flush();
	log_info(WEB_SUBSYS, "stopped");
	return 0;
}

static gboolean web_wanted(struct site *site)
{
	char *listen = site_get(site, "web.listen", NULL);
	gboolean wanted = listen && *listen;
	g_free(listen);
	return wanted;
}

const struct service service_web = {
	.name = "web",
	.wanted = web_wanted,
	.main = web_main,
};

static int web_serve_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "Serves the web interface on web.listen in the "
			   "foreground, logging to standard\nerror, until "
			   "SIGTERM.  The master runs it when web.listen is set.",
	};
	struct site *site;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	if (!web_wanted(site)) {
		fprintf(stderr, "herald web serve: web.listen is not set\n");
		return CLI_FAIL;
	}
	log_set_stderr(TRUE);
	return web_main(site);
}

static int web_password_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "Sets the site administrator's web password to the "
			   "first line of standard\ninput (stored as an Argon2id "
			   "hash in web.admin_password).  An empty line\nremoves "
			   "it: no site administrator login.",
	};
	struct site *site;
	GError *error = NULL;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	GString *in = cli_read_stdin();
	char *line = g_strndup(in->str, strcspn(in->str, "\r\n"));
	g_string_free(in, TRUE);
	char *hash = line[0] ? member_password_hash(line, &error) : g_strdup("");
	sodium_memzero(line, strlen(line));
	g_free(line);
	if (!hash || site_set(site, "web.admin_password", hash, &error) < 0) {
		fprintf(stderr, "herald web password: %s\n", error->message);
		g_error_free(error);
		g_free(hash);
		return CLI_FAIL;
	}
	g_free(hash);
	return CLI_OK;
}

int cmd_web(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "serve", web_serve_cmd,
		  "serve the web interface in the foreground" },
		{ "password", web_password_cmd,
		  "set the site administrator's web password" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs,
			    "The web interface (docs/web.md).");
}
