/*
 * lmtp.c - the LMTP server (RFC 2033) through which Postfix or Exim hands
 * list mail to herald.
 *
 * One process listens (a unix socket or a loopback TCP port, setting
 * lmtp.listen) and forks one child per connection, so a crash costs one
 * session, never the listener.  The master starts the listener when
 * lmtp.listen is set and restarts it like a runner.
 *
 * Per recipient, after DATA: 250 only once the message is stored in its
 * queue (queue_enqueue: fsync of file and directory), 451 on any failure
 * (the MTA retries), 552 when it is larger than lmtp.max_message_size.
 * Unknown recipients get 550 at RCPT.  Recipients map to lists as
 * Mailman's aliases did: list@, list-request@, -join@ (-subscribe@),
 * -leave@ (-unsubscribe@), -owner@ (-admin@), -bounces@ (with a VERP
 * suffix after '+'), -confirm@ (with the token after '+').
 */
#include "cli.h"
#include "services.h"
#include "base/base.h"
#include "list/list.h"
#include "base/log.h"
#include "store/queue.h"
#include "store/names.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define LMTP_SUBSYS "lmtp"
#define LMTP_MAX_RCPT 1000
#define LMTP_LINE_MAX 4096

struct session {
	struct site *site;
	FILE *in, *out;
	char *helo;
	char *sender;		/* NULL: no MAIL yet; "" for <> */
	GPtrArray *rcpts;	/* struct listaddr */
	int64_t max_size;
};

static void
reply(struct session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(s->out, fmt, ap);
	va_end(ap);
	fputs("\r\n", s->out);
	fflush(s->out);
}

/* Reads one line without its CRLF; NULL at EOF or on a line too long. */
static char *
read_line(struct session *s, char *buf, size_t size)
{
	size_t len;

	if (fgets(buf, (int)size, s->in) == NULL)
		return NULL;
	len = strlen(buf);
	if (len == size - 1 && buf[len - 1] != '\n')
		return NULL;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return buf;
}

/* The address inside "FROM:<a>" / "TO:<a>", parameters ignored. */
static char *
path_arg(const char *arg, const char *prefix)
{
	const char *lt, *gt;

	if (g_ascii_strncasecmp(arg, prefix, strlen(prefix)) != 0)
		return NULL;
	arg += strlen(prefix);
	while (*arg == ' ')
		arg++;
	lt = strchr(arg, '<');
	gt = lt != NULL ? strchr(lt, '>') : NULL;
	if (lt == NULL || gt == NULL)
		return NULL;
	return g_strndup(lt + 1, (gsize)(gt - lt - 1));
}

static void
reset(struct session *s)
{
	g_clear_pointer(&s->sender, g_free);
	g_ptr_array_set_size(s->rcpts, 0);
}

/* Reads the message after DATA: dot-unstuffed, CRLF made LF.  Returns
 * FALSE when the connection ended first.  *too_big when it exceeded the
 * limit (the rest is read and dropped). */
static gboolean
read_data(struct session *s, GString *msg, gboolean *too_big)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	*too_big = FALSE;
	while ((n = getline(&line, &cap, s->in)) > 0) {
		char *p = line;
		size_t len = (size_t)n;

		if (len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n') {
			p[len - 2] = '\n';
			len--;
		}
		if (len == 2 && p[0] == '.' && p[1] == '\n') {
			free(line);
			return TRUE;
		}
		if (p[0] == '.') {
			p++;
			len--;
		}
		if ((int64_t)(msg->len + len) > s->max_size)
			*too_big = TRUE;
		if (!*too_big)
			g_string_append_len(msg, p, (gssize)len);
	}
	free(line);
	return FALSE;
}

static void
deliver(struct session *s, GString *msg, gboolean too_big)
{
	for (guint i = 0; i < s->rcpts->len; i++) {
		struct listaddr *r = s->rcpts->pdata[i];
		struct queue_meta *meta;
		GError *error = NULL;
		char *base = NULL;

		if (too_big) {
			reply(s, "552 5.3.4 <%s> message larger than %lld bytes",
			      r->address, (long long)s->max_size);
			continue;
		}
		meta = queue_meta_new();
		queue_meta_set(meta, META_LIST, r->list);
		queue_meta_set(meta, META_KIND, r->kind);
		queue_meta_set(meta, META_SENDER, s->sender);
		queue_meta_set(meta, META_RECIPIENT, r->address);
		if (queue_put(site_var_dir(s->site), r->queue, meta, msg->str,
			      msg->len, &base, &error) < 0) {
			log_error(LMTP_SUBSYS, "<%s>: not stored, the MTA will retry: "
				  "%s", r->address, error->message);
			reply(s, "451 4.3.0 <%s> temporary failure, try again later",
			      r->address);
			g_clear_error(&error);
		} else {
			log_info(LMTP_SUBSYS, "accepted %s for %s from <%s> as %s/%s "
				 "(%zu bytes)", r->kind, r->list, s->sender, r->queue,
				 base, msg->len);
			reply(s, "250 2.0.0 <%s> stored as %s", r->address, base);
		}
		g_free(base);
		queue_meta_free(&meta);
	}
}

static void
session_run(struct session *s)
{
	char buf[LMTP_LINE_MAX];

	reply(s, "220 %s herald LMTP ready", herald_host());
	for (;;) {
		char *line = read_line(s, buf, sizeof buf);
		char *arg;

		if (line == NULL)
			return;
		arg = strchr(line, ' ');
		arg = arg != NULL ? arg + 1 : line + strlen(line);
		if (g_ascii_strncasecmp(line, "LHLO", 4) == 0) {
			reset(s);
			reply(s, "250-%s", herald_host());
			reply(s, "250-PIPELINING");
			reply(s, "250-ENHANCEDSTATUSCODES");
			reply(s, "250-8BITMIME");
			reply(s, "250 SIZE %lld", (long long)s->max_size);
		} else if (g_ascii_strncasecmp(line, "MAIL ", 5) == 0) {
			char *from = path_arg(arg, "FROM:");
			if (from == NULL)
				reply(s, "501 5.5.4 syntax: MAIL FROM:<address>");
			else if (s->sender != NULL)
				reply(s, "503 5.5.1 sender already given");
			else {
				s->sender = from;
				from = NULL;
				reply(s, "250 2.1.0 ok");
			}
			g_free(from);
		} else if (g_ascii_strncasecmp(line, "RCPT ", 5) == 0) {
			char *to = path_arg(arg, "TO:");
			struct listaddr *r;
			if (to == NULL)
				reply(s, "501 5.5.4 syntax: RCPT TO:<address>");
			else if (s->sender == NULL)
				reply(s, "503 5.5.1 MAIL first");
			else if (s->rcpts->len >= LMTP_MAX_RCPT)
				reply(s, "452 4.5.3 too many recipients");
			else if ((r = listaddr_map(s->site, to)) == NULL)
				reply(s, "550 5.1.1 <%s> no such list", to);
			else {
				g_ptr_array_add(s->rcpts, r);
				reply(s, "250 2.1.5 ok");
			}
			g_free(to);
		} else if (g_ascii_strcasecmp(line, "DATA") == 0) {
			if (s->rcpts->len == 0) {
				reply(s, "503 5.5.1 no valid recipients");
				continue;
			}
			GString *msg = g_string_new(NULL);
			gboolean too_big;
			reply(s, "354 go ahead, end with <CRLF>.<CRLF>");
			if (!read_data(s, msg, &too_big)) {
				g_string_free(msg, TRUE);
				return;	/* connection lost: nothing stored */
			}
			deliver(s, msg, too_big);
			g_string_free(msg, TRUE);
			reset(s);
		} else if (g_ascii_strcasecmp(line, "RSET") == 0) {
			reset(s);
			reply(s, "250 2.0.0 ok");
		} else if (g_ascii_strcasecmp(line, "NOOP") == 0) {
			reply(s, "250 2.0.0 ok");
		} else if (g_ascii_strcasecmp(line, "QUIT") == 0) {
			reply(s, "221 2.0.0 bye");
			return;
		} else {
			reply(s, "500 5.5.2 unknown command");
		}
	}
}

/* "unix:/path" or "HOST:PORT".  group: for a unix socket, the group
 * that may connect (NULL or "": ours). */
static int
open_listener(const char *spec, const char *group, GError **error)
{
	int fd;

	if (g_str_has_prefix(spec, "unix:")) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		const char *path = spec + 5;

		if (strlen(path) >= sizeof sun.sun_path) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
				    "lmtp.listen: socket path too long: %s", path);
			return -1;
		}
		strcpy(sun.sun_path, path);
		(void)unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
		    chmod(path, 0660) < 0) {
			set_errno_error(error, "listen on %s", spec);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		if (group != NULL && *group != '\0') {
			struct group *gr = getgrnam(group);
			if (gr == NULL || chown(path, (uid_t)-1, gr->gr_gid) < 0) {
				if (gr == NULL)
					g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
						    "lmtp.socket_group: no group '%s'",
						    group);
				else
					set_errno_error(error, "chown(%s, group %s)",
							path, group);
				close(fd);
				(void)unlink(path);	/* offer no socket at all */
				return -1;
			}
		}
		if (listen(fd, 64) < 0) {
			set_errno_error(error, "listen on %s", spec);
			close(fd);
			return -1;
		}
		return fd;
	}
	const char *colon = strrchr(spec, ':');
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int one = 1;
	char *host = colon != NULL ? g_strndup(spec, (gsize)(colon - spec)) : NULL;

	if (host == NULL || inet_pton(AF_INET, host, &sin.sin_addr) != 1 ||
	    atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "lmtp.listen: '%s' is neither unix:PATH nor IPv4:PORT",
			    spec);
		g_free(host);
		return -1;
	}
	g_free(host);
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 64) < 0) {
		set_errno_error(error, "listen on %s", spec);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static volatile sig_atomic_t lmtp_stop;

static void
on_lmtp_stop(int sig)
{
	lmtp_stop = 1;
}

static volatile sig_atomic_t lmtp_hup;

static void
on_lmtp_hup(int sig)
{
	lmtp_hup = 1;
}

/* After SIGHUP: logs reopened, settings reread; a new lmtp.listen or
 * lmtp.socket_group gets a new listener (the old one stays if the new one
 * cannot be opened).  Sessions read the rest of the settings as they
 * start.  Returns the listener. */
static int
lmtp_reload(struct site *site, int fd, char **spec_r, char **group_r)
{
	GError *error = NULL;
	char *spec, *group;
	int nfd;

	lmtp_hup = 0;
	log_request_reopen();
	if (site_reload_if_changed(site, &error) < 0) {
		log_error(LMTP_SUBSYS, "rereading the settings: %s",
			  error->message);
		g_clear_error(&error);
		return fd;
	}
	spec = site_get(site, "lmtp.listen", NULL);
	group = site_get(site, "lmtp.socket_group", NULL);
	if (strcmp(spec, *spec_r) == 0 && strcmp(group, *group_r) == 0) {
		g_free(spec);
		g_free(group);
		return fd;
	}
	if ((nfd = open_listener(spec, group, &error)) < 0) {
		log_error(LMTP_SUBSYS, "new listener %s: %s; still on %s", spec,
			  error->message, *spec_r);
		g_clear_error(&error);
		g_free(spec);
		g_free(group);
		return fd;
	}
	close(fd);
	if (g_str_has_prefix(*spec_r, "unix:") && strcmp(spec, *spec_r) != 0)
		(void)unlink(*spec_r + 5);
	log_info(LMTP_SUBSYS, "now listening on %s", spec);
	g_free(*spec_r);
	g_free(*group_r);
	*spec_r = spec;
	*group_r = group;
	return nfd;
}

int
lmtp_main(struct site *site)
{
	char *spec = site_get(site, "lmtp.listen", NULL);
	char *group = site_get(site, "lmtp.socket_group", NULL);
	struct sigaction sa = { 0 };
	GError *error = NULL;
	int fd;

	fd = open_listener(spec, group, &error);
	if (fd < 0) {
		log_error(LMTP_SUBSYS, "%s", error->message);
		g_clear_error(&error);
		g_free(spec);
		g_free(group);
		return HERALD_EX_TEMPFAIL;
	}
	sa.sa_handler = on_lmtp_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* No SA_RESTART: accept() returns EINTR and the loop rereads. */
	sa.sa_handler = on_lmtp_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_NOCLDWAIT;	/* sessions reap themselves */
	sigaction(SIGCHLD, &sa, NULL);
	log_info(LMTP_SUBSYS, "listening on %s", spec);
	while (!lmtp_stop) {
		int c;
		pid_t pid;

		if (lmtp_hup)
			fd = lmtp_reload(site, fd, &spec, &group);
		c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno != EINTR)
				log_error(LMTP_SUBSYS, "accept: %s", g_strerror(errno));
			continue;
		}
		pid = fork();
		if (pid == 0) {
			struct session s = { .site = site };
			int c2 = dup(c);

			close(fd);
			s.in = fdopen(c, "r");
			s.out = fdopen(c2, "w");
			s.rcpts = g_ptr_array_new_with_free_func(listaddr_free_ptr);
			s.max_size = site_get_int(site, "lmtp.max_message_size");
			if (s.in != NULL && s.out != NULL)
				session_run(&s);
			_exit(0);
		}
		if (pid < 0)
			log_error(LMTP_SUBSYS, "fork: %s", g_strerror(errno));
		close(c);
	}
	close(fd);
	if (g_str_has_prefix(spec, "unix:"))
		(void)unlink(spec + 5);
	log_info(LMTP_SUBSYS, "stopped");
	g_free(spec);
	g_free(group);
	return 0;
}

static gboolean
lmtp_wanted(struct site *site)
{
	char *listen = site_get(site, "lmtp.listen", NULL);
	gboolean wanted = listen != NULL && *listen != '\0';

	g_free(listen);
	return wanted;
}

/* The master runs the LMTP server on every host when lmtp.listen is set
 * (accepting mail needs no lease). */
const struct service service_lmtp = {
	.name = "lmtp",
	.wanted = lmtp_wanted,
	.main = lmtp_main,
};

int
cmd_lmtp(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "Serves LMTP on lmtp.listen in the foreground, logging "
			   "to standard error,\nuntil SIGTERM.  The master runs "
			   "it when lmtp.listen is set.",
	};
	struct site *site;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	log_set_stderr(TRUE);
	return lmtp_main(site);
}
