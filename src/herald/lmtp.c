/*
 * lmtp.c - the LMTP server (RFC 2033) through which Postfix or Exim hands
 * list mail to herald: the listener and the session processes.  The
 * protocol itself is src/lib/entry/lmtp_session.c, fed the bytes read
 * here; this file owns the sockets, the clock and the signals.
 *
 * One process listens (a unix socket or a loopback TCP port, setting
 * lmtp.listen; and the pipe socket, lmtp.pipe_socket) and forks one
 * process per session, at most lmtp.max_sessions of them; a connection
 * beyond that is answered "421 4.3.2 too many connections" by the
 * listener and closed at once.  The master starts the listener when
 * lmtp.listen is set or lmtp.pipe_socket is on, restarts it like a
 * runner, and passes SIGHUP on to it: the listener rereads the settings
 * (a new lmtp.listen or lmtp.socket_group gets a new socket, the pipe
 * socket opens or closes), each new session takes the limits of that
 * moment.
 *
 * The pipe socket is herald-mta's (src/mta/handoff.h): an abstract unix
 * socket named after the var dir (entry/pipe_socket.h), so nothing on
 * disk, one per host, gone with the listener.  Having no file mode, it
 * takes connections only from herald's own user and root (SO_PEERCRED);
 * any other is closed before the greeting and logged.  Its sessions are
 * LMTP sessions like the others, logged "from herald-mta".
 *
 * Pipe workers: the listener keeps lmtp.pipe_workers processes
 * ("herald-pipe") waiting on the pipe socket, each taking one connection
 * after another, so that a message handed over does not wait for a fork
 * (and its copied pages and exit: about a millisecond a message).  The
 * listener leaves the pipe socket to them; when it sees one still
 * waiting PIPE_OVERFLOW_MS after the socket became readable (every worker
 * busy), it accepts what waits and forks a session for each, as it does
 * for every connection when there are no workers: one slow client holds
 * up nobody, and a burst is served in parallel.  Workers are
 * not counted in lmtp.max_sessions; one that dies is replaced (after a
 * pause if it died young), SIGHUP retires them all (SIGUSR1: after the
 * session under way) for new ones with the settings of now, and a stop
 * ends them as it ends sessions.  A listener that died leaves its workers
 * to finish their sessions (up to LMTP_STOP_GRACE), the socket still
 * theirs: the next listener tries it again every PIPE_RETRY_MS meanwhile
 * (herald-mta stores messages itself until then).
 *
 * Why a bounded set of processes and not one event loop: storing a
 * message is an fsync of its file and one of the queue directory before
 * the 250, and the filesystem's journal commits the fsyncs of parallel
 * writers together, where one process storing for every session would
 * wait for each in turn.  Measured on the 2-core ext4 machine of
 * docs/PERFORMANCE.md ("The LMTP server under load"): durable stores from
 * one process 830-1,990/s, from 4 processes 1,430-2,430/s, from 32
 * 1,440-3,650/s (bench/bench-store-parallel.c).  An event loop would need
 * threads to store in parallel, and the queue's file names and the log's
 * descriptors are made per process.  Processes cost little: 200 sessions
 * are about 32 MB of proportional set size in all (a forked session's
 * pages are the listener's until written), and the server accepts as many
 * messages a second as the unbounded one before it (bench/lmtp-load.sh).
 * A process per session also keeps a crash to one session.
 *
 * A session process reads with ppoll() and a deadline: lmtp.command_timeout
 * from its last reply to the next complete command, lmtp.data_timeout from
 * the 354 to the final dot (a whole-message deadline: a client trickling a
 * byte a second is cut off like an idle one).  At the deadline it answers
 * 421 and closes; a message not complete is not stored.  Its replies leave
 * in one write per batch of input (an LHLO's five lines in one segment),
 * and TCP sockets get TCP_NODELAY, so no reply waits for Nagle's algorithm
 * and the client's delayed ACK (44 ms per LHLO before).
 *
 * Stopping (SIGTERM from `herald stop`, through the master): the listener
 * closes its socket (and removes it), sends SIGTERM to each session and
 * waits for them.  A session waiting for a command answers 421 at once; a
 * session in DATA goes on to the final dot, stores and answers the
 * message, then answers 421, or answers 421 having stored nothing when
 * the message is not complete within LMTP_STOP_GRACE seconds.  Sessions
 * outliving that (a store stuck on a dead disk) get SIGKILL, which the
 * queue's write-then-rename survives: a message is stored whole or not at
 * all, and the MTA, without a 250, tries again.
 *
 * Per recipient, after DATA: 250 only once the message is stored in its
 * queue (queue_put: fsync of file and directory), 451 on any failure (the
 * MTA retries), 554 when the entry refuses it (entry/accept.h: herald
 * could not read it back), 552 when it is larger than the entries' size
 * limit (entry.max_message_size).
 * Unknown recipients get 550 at RCPT.  Recipients map to lists as
 * Mailman's aliases did: list@, list-request@, -join@ (-subscribe@),
 * -leave@ (-unsubscribe@), -owner@ (-admin@), -bounces@ (with a VERP
 * suffix after '+'), -confirm@ (with the token after '+').
 *
 * A unix socket path is only ever taken when nothing is there or a socket
 * nobody answers on (a server that died): a live server's socket, or any
 * file that is not a socket, makes the server refuse to start, naming the
 * path.  The new socket is linked into place (link() never replaces), and
 * removed at exit only if it is still the one this server made (same
 * inode).  Two servers starting at once on the path of a dead one could
 * still both remove the stale socket, and the second one's removal could
 * take the first one's new socket; the master runs one LMTP server per
 * host, so that takes two masters started within microseconds.
 */
#include "cli.h"
#include "listener.h"
#include "services.h"
#include "base/base.h"
#include "base/log.h"
#include "entry/accept.h"
#include "entry/lmtp_session.h"
#include "entry/pipe_socket.h"
#include "list/list.h"
#include "mail/message.h"
#include "store/queue.h"
#include "store/names.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LMTP_SUBSYS "lmtp"
/* Seconds a session in DATA may take to finish once the server stops; the
 * master waits 30 s for its services before it kills them. */
#define LMTP_STOP_GRACE 20
/* Bytes read at a time: replies to one read leave in one write. */
#define LMTP_READ_CHUNK 16384
/* Sessions a pipe worker serves before another takes its place (what a
 * long life might leak stays bounded, as with Postfix's max_use). */
#define PIPE_WORKER_USES 1000
/* How long a connection may wait on the pipe socket for a worker before
 * the listener gives it a process of its own. */
#define PIPE_OVERFLOW_MS 20
/* Connections the listener takes at once when the workers are behind. */
#define PIPE_OVERFLOW_BURST 16
/* A worker that failed this soon after it started is replaced only after
 * as long again (no fork loop). */
#define PIPE_WORKER_PAUSE_MS 1000
/* How often the pipe socket is tried again while another process holds
 * it (the workers of a listener that died, finishing their sessions). */
#define PIPE_RETRY_MS 1000

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* A session process */

static volatile sig_atomic_t session_stop;

static void
on_session_stop(int sig)
{
	session_stop = 1;
}

/* What a session stores for, and through which socket. */
struct store_ctx {
	struct site *site;
	gboolean pipe;		/* herald-mta's, on the pipe socket */
};

/* The storing callback of the sessions (lmtp_store_fn): the message into
 * the recipient's queue, with the envelope in its metadata. */
static int
store_message(void *ctx, const char *sender, const struct listaddr *r,
	      const char *msg, size_t len, char **id_r, GError **error)
{
	const struct store_ctx *sc = ctx;
	struct site *site = sc->site;
	struct queue_meta *meta = queue_meta_new();
	int ret;

	/* The entry's decision, shared with `herald mta` (entry/accept.h):
	 * what herald could not read back is refused for good (554). */
	if (entry_check(msg, len, error) < 0) {
		log_info(LMTP_SUBSYS, "<%s>: refused, the MTA bounces it: %s",
			 r->address, (*error)->message);
		queue_meta_free(&meta);
		return -1;
	}
	queue_meta_set(meta, META_LIST, r->list);
	queue_meta_set(meta, META_KIND, r->kind);
	queue_meta_set(meta, META_SENDER, sender);
	queue_meta_set(meta, META_RECIPIENT, r->address);
	ret = queue_put(site_var_dir(site), r->queue, meta, msg, len, id_r,
			error);
	if (ret < 0)
		log_error(LMTP_SUBSYS, "<%s>: not stored, the MTA will retry: %s",
			  r->address, (*error)->message);
	else
		log_info(LMTP_SUBSYS, "accepted %s for %s from <%s> as %s/%s "
			 "(%zu bytes)%s", r->kind, r->list, sender, r->queue,
			 *id_r, len, sc->pipe ? " from herald-mta" : "");
	queue_meta_free(&meta);
	return ret;
}

/* Writes the session's output, all of it: -1 when the client stopped
 * reading for timeout_ms or the connection is gone. */
static int
flush_output(int fd, GString *out, int timeout_ms, const sigset_t *waitmask)
{
	size_t off = 0;
	int ret = 0;

	while (off < out->len) {
		ssize_t n = send(fd, out->str + off, out->len - off, MSG_NOSIGNAL);

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			ret = -1;
			break;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
		int r = ppoll(&pfd, 1, &ts, waitmask);

		if (r == 0) {
			ret = -1;
			break;
		}
	}
	g_string_truncate(out, 0);
	return ret;
}

struct session_limits {
	struct lmtp_limits lmtp;
	int64_t command_timeout_ms;
	int64_t data_timeout_ms;
};

/* One session on connection fd, in its own process, until it closes. */
static void
session_serve(struct store_ctx *sc, int fd, const struct session_limits *lim,
	      const sigset_t *waitmask)
{
	struct lmtp_session *s = lmtp_session_new(sc->site, herald_host(),
						  &lim->lmtp, store_message, sc);
	int64_t progress = now_ms(), stop_deadline = 0;
	char *buf = g_malloc(LMTP_READ_CHUNK);
	const char *why = NULL;

	for (;;) {
		GString *out = lmtp_session_output(s);
		enum lmtp_phase phase = lmtp_session_phase(s);
		int64_t deadline, now;

		if (out->len > 0) {
			/* A client that does not read its replies waits like
			 * an idle one, and no longer than a stop allows. */
			int64_t flush_ms = lim->command_timeout_ms;

			if (session_stop)
				flush_ms = MIN(flush_ms, LMTP_STOP_GRACE * 1000);
			if (flush_output(fd, out, (int)flush_ms, waitmask) < 0) {
				why = "the client stopped reading replies";
				break;
			}
			progress = now_ms();
		}
		if (phase == LMTP_PHASE_CLOSED)
			break;
		if (session_stop && stop_deadline == 0) {
			stop_deadline = now_ms() + LMTP_STOP_GRACE * 1000;
			lmtp_session_drain(s);
			continue;
		}
		deadline = progress + (phase == LMTP_PHASE_DATA
				       ? lim->data_timeout_ms
				       : lim->command_timeout_ms);
		now = now_ms();
		if (stop_deadline != 0 && stop_deadline <= deadline) {
			if (now >= stop_deadline) {
				lmtp_session_stop(s);
				continue;
			}
			deadline = stop_deadline;
		} else if (now >= deadline) {
			lmtp_session_timeout(s);
			continue;
		}

		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now;
		struct timespec ts = { left / 1000, (left % 1000) * 1000000L };
		int r = ppoll(&pfd, 1, &ts, waitmask);

		if (r <= 0)
			continue;	/* a signal or the deadline: looked at above */
		ssize_t n = read(fd, buf, LMTP_READ_CHUNK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			lmtp_session_eof(s);
			break;
		}
		lmtp_session_feed(s, buf, (size_t)n);
		if (lmtp_session_phase(s) != phase)
			progress = now_ms();
	}
	if (why == NULL)
		why = lmtp_session_close_reason(s);
	if (why != NULL && strcmp(why, "QUIT") != 0 &&
	    strcmp(why, "connection closed by the client") != 0)
		log_info(LMTP_SUBSYS, "session closed: %s (%llu stored)", why,
			 (unsigned long long)lmtp_session_stored(s));
	g_free(buf);
	lmtp_session_free(&s);
	close(fd);
}

static void
session_limits_read(struct site *site, struct session_limits *lim)
{
	/* One limit for both entries (entry/accept.h). */
	lim->lmtp.max_message_size = entry_max_message_size(site);
	lim->lmtp.command_limit = (unsigned)site_get_int(site, "lmtp.command_limit");
	lim->lmtp.error_limit = (unsigned)site_get_int(site, "lmtp.error_limit");
	lim->command_timeout_ms = site_get_int(site, "lmtp.command_timeout") * 1000;
	lim->data_timeout_ms = site_get_int(site, "lmtp.data_timeout") * 1000;
}

/* ------------------------------------------------------------------ */
/* The listener */

static volatile sig_atomic_t lmtp_stop, lmtp_hup, lmtp_chld;

/* The handlers of SIGTERM and SIGINT (stop), SIGHUP and SIGCHLD, without
 * SA_RESTART: the signals are let in only inside ppoll(), which they
 * interrupt. */
static void
set_handlers(void (*stop)(int), void (*hup)(int), void (*chld)(int))
{
	struct sigaction sa = { 0 };

	sa.sa_handler = stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = chld;
	sigaction(SIGCHLD, &sa, NULL);
}

static void
on_lmtp_stop(int sig)
{
	lmtp_stop = 1;
}

static void
on_lmtp_hup(int sig)
{
	lmtp_hup = 1;
}

static void
on_lmtp_chld(int sig)
{
	lmtp_chld = 1;
}

struct server {
	struct site *site;
	struct listener l;	/* lmtp.listen's; fd -1 when it is empty */
	int pipe_fd;		/* the pipe socket (lmtp.pipe_socket), or -1 */
	int64_t pipe_retry_at;	/* ms: when to try it again while it is -1 */
	GHashTable *sessions;	/* pid -> nothing: the live sessions */
	GHashTable *workers;	/* pid -> its start (gint64 ms): pipe workers */
	int64_t workers_paused;	/* ms: no new worker before then */
	int64_t pipe_waiting;	/* ms: since a pipe connection waits, or 0 */
	sigset_t waitmask;	/* the signals ppoll lets in */
	int64_t refused_since;	/* refusals not yet logged */
	unsigned refused;
	int64_t refused_logged;	/* ms */
};

static void workers_retire(struct server *sv);

/* The pipe socket (entry/pipe_socket.h): its descriptor, or -1 when
 * another server of this host has it or it cannot be made (logged, unless
 * quiet: herald-mta then stores messages itself). */
static int
pipe_socket_open(struct site *site, gboolean quiet)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	if (pipe_socket_address(site_var_dir(site), &sa, &len) < 0 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			 0)) < 0) {
		log_error(LMTP_SUBSYS, "pipe socket: %s", g_strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 128) < 0) {
		if (errno == EADDRINUSE && !quiet)
			log_info(LMTP_SUBSYS, "pipe socket: another process of "
				 "this host has it; tried again every %d ms",
				 PIPE_RETRY_MS);
		else if (errno != EADDRINUSE)
			log_error(LMTP_SUBSYS, "pipe socket: %s",
				  g_strerror(errno));
		close(fd);
		return -1;
	}
	log_info(LMTP_SUBSYS, "listening on the pipe socket for herald-mta");
	return fd;
}

static void
pipe_socket_close(struct server *sv)
{
	if (sv->pipe_fd >= 0)
		close(sv->pipe_fd);
	sv->pipe_fd = -1;
}

/* Whether the pipe socket's client is herald's user or root: only they
 * may hand mail over as the MTA does. */
static gboolean
pipe_peer_trusted(int c)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	return getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	       (cred.uid == geteuid() || cred.uid == 0);
}

/* lmtp.listen's listener, as the settings now say: opened, moved, given
 * a new group or closed (an old one stays if the new one cannot be
 * opened). */
static void
listener_update(struct server *sv)
{
	GError *error = NULL;
	struct listener nl = sv->l;
	char *spec = site_get(sv->site, "lmtp.listen", NULL);
	char *group = site_get(sv->site, "lmtp.socket_group", NULL);

	if (*spec == '\0') {
		if (sv->l.fd >= 0) {
			listener_close(&sv->l);
			log_info(LMTP_SUBSYS, "no longer listening on "
				 "lmtp.listen");
		}
	} else if (sv->l.fd >= 0 && strcmp(spec, sv->l.spec) == 0) {
		/* The same socket, perhaps another group (an empty one
		 * leaves the group as it is until the next start). */
		if (strcmp(group, sv->l.group) != 0 &&
		    listener_set_group(&sv->l, group, &error) < 0) {
			log_error(LMTP_SUBSYS, "%s", error->message);
			g_clear_error(&error);
		}
	} else if (listener_open(&nl, spec, group, &error) < 0) {
		log_error(LMTP_SUBSYS, "new listener %s: %s%s%s", spec,
			  error->message, sv->l.fd >= 0 ? "; still on " : "",
			  sv->l.fd >= 0 ? sv->l.spec : "");
		g_clear_error(&error);
	} else {
		listener_close(&sv->l);
		sv->l = nl;
		log_info(LMTP_SUBSYS, "now listening on %s", spec);
	}
	g_free(spec);
	g_free(group);
}

/* After SIGHUP: logs reopened, settings reread, the listener and the pipe
 * socket as they now say.  Sessions read the rest of the settings as they
 * start. */
static void
lmtp_reload(struct server *sv)
{
	GError *error = NULL;

	lmtp_hup = 0;
	log_request_reopen();
	if (site_reload_if_changed(sv->site, &error) < 0) {
		log_error(LMTP_SUBSYS, "rereading the settings: %s",
			  error->message);
		g_clear_error(&error);
		return;
	}
	listener_update(sv);
	if (!site_get_bool(sv->site, "lmtp.pipe_socket"))
		pipe_socket_close(sv);
	else if (sv->pipe_fd < 0)
		sv->pipe_fd = pipe_socket_open(sv->site, FALSE);
	/* Workers read the settings as they started: new ones take over. */
	workers_retire(sv);
}

static void
reap_sessions(struct server *sv)
{
	int status;
	pid_t pid;

	lmtp_chld = 0;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		gint64 *started = g_hash_table_lookup(sv->workers, GINT_TO_POINTER(pid));
		gboolean failed = WIFSIGNALED(status) ||
				  (WIFEXITED(status) && WEXITSTATUS(status) != 0);

		if (started != NULL && failed &&
		    now_ms() - *started < PIPE_WORKER_PAUSE_MS)
			sv->workers_paused = now_ms() + PIPE_WORKER_PAUSE_MS;
		g_hash_table_remove(sv->workers, GINT_TO_POINTER(pid));
		g_hash_table_remove(sv->sessions, GINT_TO_POINTER(pid));
		if (WIFSIGNALED(status))
			log_error(LMTP_SUBSYS, "%s %d killed by signal %d",
				  started != NULL ? "pipe worker" : "session",
				  (int)pid, WTERMSIG(status));
	}
}

/* The session limit is reached: a 421 and the door, from the listener
 * itself (never blocking on the client), logged at most once a second. */
static void
refuse(struct server *sv, int c, gint64 max)
{
	static const char busy[] = "421 4.3.2 too many connections, try "
				   "again later\r\n";
	char drain[512];
	int64_t now = now_ms();

	(void)!send(c, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	/* Unread bytes would turn the close into a reset that can overtake
	 * the 421. */
	while (recv(c, drain, sizeof drain, MSG_DONTWAIT) > 0)
		;
	shutdown(c, SHUT_WR);
	close(c);
	sv->refused++;
	if (now - sv->refused_logged >= 1000) {
		log_warning(LMTP_SUBSYS, "%u connection%s refused: %lld sessions "
			    "already (lmtp.max_sessions)", sv->refused,
			    sv->refused == 1 ? "" : "s", (long long)max);
		sv->refused = 0;
		sv->refused_logged = now;
	}
}

static void
start_session(struct server *sv, int c, gboolean pipe)
{
	gboolean tcp = !pipe && sv->l.path == NULL;
	struct session_limits lim;
	pid_t parent = getpid(), pid;

	session_limits_read(sv->site, &lim);
	pid = fork();
	if (pid < 0) {
		log_error(LMTP_SUBSYS, "fork: %s", g_strerror(errno));
		refuse(sv, c, g_hash_table_size(sv->sessions));
		return;
	}
	if (pid > 0) {
		g_hash_table_add(sv->sessions, GINT_TO_POINTER(pid));
		close(c);
		return;
	}
	/* The session: stopped by SIGTERM from the listener, or by the
	 * listener's death; SIGHUP is the listener's business. */
	sigset_t waitmask = sv->waitmask;

	struct store_ctx sc = { .site = sv->site, .pipe = pipe };

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		session_stop = 1;
	if (sv->l.fd >= 0)
		close(sv->l.fd);
	if (sv->pipe_fd >= 0)
		close(sv->pipe_fd);
	set_handlers(on_session_stop, SIG_IGN, SIG_DFL);
	if (tcp) {
		int one = 1;
		(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	session_serve(&sc, c, &lim, &waitmask);
	_exit(0);
}

/* A connection on fd (the pipe socket's when pipe): a session, or a
 * refusal. */
static void
accept_session(struct server *sv, int fd, gboolean pipe)
{
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (c < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			log_error(LMTP_SUBSYS, "accept: %s", g_strerror(errno));
		return;
	}
	if (pipe && !pipe_peer_trusted(c)) {
		log_warning(LMTP_SUBSYS, "pipe socket: a connection from another "
			    "user refused");
		close(c);
		return;
	}
	reap_sessions(sv);
	gint64 max = site_get_int(sv->site, "lmtp.max_sessions");
	if ((gint64)g_hash_table_size(sv->sessions) >= max)
		refuse(sv, c, max);
	else
		start_session(sv, c, pipe);
}

/* ------------------------------------------------------------------ */
/* The pipe workers */

static volatile sig_atomic_t worker_retire;

static void
on_worker_retire(int sig)
{
	worker_retire = 1;
}

/* A pipe worker's life: connections on the pipe socket, one session
 * after another, until SIGTERM (the session under way ends as any session
 * does when the server stops), SIGUSR1 (retire: after the session under
 * way, when the settings changed) or PIPE_WORKER_USES sessions. */
static void
pipe_worker(struct server *sv, pid_t parent)
{
	struct store_ctx sc = { .site = sv->site, .pipe = TRUE };
	sigset_t waitmask = sv->waitmask, block;
	struct sigaction sa = { 0 };

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	prctl(PR_SET_NAME, "herald-pipe");	/* as ps and pgrep show it */
	if (sv->l.fd >= 0)
		close(sv->l.fd);
	set_handlers(on_session_stop, SIG_IGN, SIG_DFL);
	/* SIGUSR1, like the others, only inside ppoll(). */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigdelset(&waitmask, SIGUSR1);
	sa.sa_handler = on_worker_retire;
	sigaction(SIGUSR1, &sa, NULL);
	for (unsigned uses = 0; uses < PIPE_WORKER_USES && !session_stop &&
			       !worker_retire;) {
		struct pollfd pfd = { .fd = sv->pipe_fd, .events = POLLIN };
		struct session_limits lim;
		int c;

		if (ppoll(&pfd, 1, NULL, &waitmask) <= 0)
			continue;	/* a signal: looked at above */
		c = accept4(sv->pipe_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0)
			continue;	/* another worker took it */
		if (!pipe_peer_trusted(c)) {
			log_warning(LMTP_SUBSYS, "pipe socket: a connection from "
				    "another user refused");
			close(c);
			continue;
		}
		session_limits_read(sv->site, &lim);
		session_serve(&sc, c, &lim, &waitmask);
		uses++;
	}
	_exit(0);
}

/* Workers up to lmtp.pipe_workers while the pipe socket is open (none
 * while they are paused after failing). */
static void
workers_start(struct server *sv)
{
	gint64 wanted = sv->pipe_fd >= 0 ? site_get_int(sv->site, "lmtp.pipe_workers") : 0;
	pid_t parent = getpid();

	while ((gint64)g_hash_table_size(sv->workers) < wanted &&
	       now_ms() >= sv->workers_paused) {
		pid_t pid = fork();

		if (pid < 0) {
			log_error(LMTP_SUBSYS, "fork of a pipe worker: %s",
				  g_strerror(errno));
			sv->workers_paused = now_ms() + PIPE_WORKER_PAUSE_MS;
			return;
		}
		if (pid == 0)
			pipe_worker(sv, parent);
		gint64 *started = g_new(gint64, 1);

		*started = now_ms();
		g_hash_table_insert(sv->workers, GINT_TO_POINTER(pid), started);
	}
}

/* The workers finish their sessions under way and go; they are waited
 * for as sessions are, and new ones (with the settings of now) take their
 * place. */
static void
workers_retire(struct server *sv)
{
	GHashTableIter it;
	gpointer pid;

	g_hash_table_iter_init(&it, sv->workers);
	while (g_hash_table_iter_next(&it, &pid, NULL)) {
		kill(GPOINTER_TO_INT(pid), SIGUSR1);
		g_hash_table_add(sv->sessions, pid);
		g_hash_table_iter_remove(&it);
	}
}

/* With workers, the listener looks at the pipe socket only for a
 * connection left waiting (every worker busy): when it becomes readable,
 * the listener looks away for PIPE_OVERFLOW_MS, then again, and serves
 * what still waits itself.  Returns the descriptor to poll (-1: none) and
 * sets *timeout_ms (-1: none). */
static int
pipe_poll_fd(struct server *sv, int64_t *timeout_ms)
{
	int64_t now = now_ms();

	*timeout_ms = -1;
	if (sv->pipe_fd < 0 && site_get_bool(sv->site, "lmtp.pipe_socket")) {
		if (now >= sv->pipe_retry_at) {
			sv->pipe_fd = pipe_socket_open(sv->site, TRUE);
			sv->pipe_retry_at = now + PIPE_RETRY_MS;
		}
		/* Got: round again at once, for the workers to start. */
		*timeout_ms = sv->pipe_fd < 0 ? sv->pipe_retry_at - now : 0;
		if (sv->pipe_fd >= 0)
			return -1;
	}
	if (sv->workers_paused > now && sv->pipe_fd >= 0)
		*timeout_ms = sv->workers_paused - now;
	if (sv->pipe_fd < 0 || g_hash_table_size(sv->workers) == 0) {
		sv->pipe_waiting = 0;
		return sv->pipe_fd;
	}
	if (sv->pipe_waiting == 0)
		return sv->pipe_fd;
	if (now - sv->pipe_waiting < PIPE_OVERFLOW_MS) {
		*timeout_ms = PIPE_OVERFLOW_MS - (now - sv->pipe_waiting);
		return -1;
	}
	struct pollfd pfd = { .fd = sv->pipe_fd, .events = POLLIN };

	/* The workers are behind: what waits now gets processes of its own
	 * (a burst is served in parallel, as without workers), a few at a
	 * time so the other socket is not kept waiting. */
	sv->pipe_waiting = 0;
	for (int k = 0; k < PIPE_OVERFLOW_BURST && poll(&pfd, 1, 0) > 0 &&
			(pfd.revents & POLLIN); k++)
		accept_session(sv, sv->pipe_fd, TRUE);
	return sv->pipe_fd;
}

/* Stopping: no new connections, every session told, waited for. */
static void
stop_sessions(struct server *sv)
{
	int64_t deadline = now_ms() + (LMTP_STOP_GRACE + 5) * 1000;
	GHashTableIter it;
	gpointer pid;

	listener_close(&sv->l);
	pipe_socket_close(sv);
	/* The workers are waited for as sessions: SIGTERM ends them alike. */
	g_hash_table_iter_init(&it, sv->workers);
	while (g_hash_table_iter_next(&it, &pid, NULL))
		g_hash_table_add(sv->sessions, pid);
	g_hash_table_remove_all(sv->workers);
	if (g_hash_table_size(sv->sessions) > 0)
		log_info(LMTP_SUBSYS, "stopping: %u sessions to finish",
			 g_hash_table_size(sv->sessions));
	g_hash_table_iter_init(&it, sv->sessions);
	while (g_hash_table_iter_next(&it, &pid, NULL))
		kill(GPOINTER_TO_INT(pid), SIGTERM);
	while (g_hash_table_size(sv->sessions) > 0) {
		int64_t left = deadline - now_ms();
		struct timespec ts = { left / 1000, (left % 1000) * 1000000L };

		if (left <= 0) {
			log_error(LMTP_SUBSYS, "%u sessions did not finish in "
				  "time: killed", g_hash_table_size(sv->sessions));
			g_hash_table_iter_init(&it, sv->sessions);
			while (g_hash_table_iter_next(&it, &pid, NULL))
				kill(GPOINTER_TO_INT(pid), SIGKILL);
			while (waitpid(-1, NULL, 0) > 0)
				;
			break;
		}
		(void)ppoll(NULL, 0, &ts, &sv->waitmask);
		reap_sessions(sv);
	}
}

int
lmtp_main(struct site *site)
{
	struct server sv = {
		.site = site,
		.l = { .what = "lmtp.listen", .group_what = "lmtp.socket_group",
		       .subsys = LMTP_SUBSYS, .fd = -1 },
		.pipe_fd = -1,
	};
	char *spec = site_get(site, "lmtp.listen", NULL);
	char *group = site_get(site, "lmtp.socket_group", NULL);
	GError *error = NULL;
	sigset_t block;

	if (*spec != '\0' && listener_open(&sv.l, spec, group, &error) < 0) {
		log_error(LMTP_SUBSYS, "%s", error->message);
		g_clear_error(&error);
		g_free(spec);
		g_free(group);
		return HERALD_EX_TEMPFAIL;
	}
	g_free(spec);
	g_free(group);
	if (site_get_bool(site, "lmtp.pipe_socket"))
		sv.pipe_fd = pipe_socket_open(site, FALSE);
	sv.pipe_retry_at = now_ms() + PIPE_RETRY_MS;
	/* The signals are let in only inside ppoll(): none is lost between a
	 * look at the flags and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &sv.waitmask);
	sigdelset(&sv.waitmask, SIGTERM);
	sigdelset(&sv.waitmask, SIGINT);
	sigdelset(&sv.waitmask, SIGHUP);
	sigdelset(&sv.waitmask, SIGCHLD);
	set_handlers(on_lmtp_stop, on_lmtp_hup, on_lmtp_chld);
	sv.sessions = g_hash_table_new(g_direct_hash, g_direct_equal);
	sv.workers = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	/* GMime set up once here, not in each session process as it parses
	 * its first message: the sessions inherit it (the listener has no
	 * thread to make fork unsafe). */
	message_init();
	if (sv.l.fd >= 0)
		log_info(LMTP_SUBSYS, "listening on %s", sv.l.spec);

	while (!lmtp_stop) {
		int64_t timeout_ms;

		if (lmtp_hup)
			lmtp_reload(&sv);
		if (lmtp_chld)
			reap_sessions(&sv);
		workers_start(&sv);
		/* [0] lmtp.listen's, [1] the pipe socket; fd -1 is skipped. */
		struct pollfd pfd[2] = {
			{ .fd = sv.l.fd, .events = POLLIN },
			{ .fd = pipe_poll_fd(&sv, &timeout_ms), .events = POLLIN },
		};
		struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };

		if (ppoll(pfd, 2, timeout_ms >= 0 ? &ts : NULL, &sv.waitmask) <= 0)
			continue;
		if (pfd[0].fd >= 0 && (pfd[0].revents & POLLIN))
			accept_session(&sv, pfd[0].fd, FALSE);
		if (pfd[1].fd >= 0 && (pfd[1].revents & POLLIN)) {
			if (g_hash_table_size(sv.workers) > 0)
				sv.pipe_waiting = now_ms();	/* theirs first */
			else
				accept_session(&sv, pfd[1].fd, TRUE);
		}
	}
	stop_sessions(&sv);
	g_hash_table_destroy(sv.sessions);
	g_hash_table_destroy(sv.workers);
	log_info(LMTP_SUBSYS, "stopped");
	return 0;
}

static gboolean
lmtp_wanted(struct site *site)
{
	char *listen = site_get(site, "lmtp.listen", NULL);
	gboolean wanted = (listen != NULL && *listen != '\0') ||
			  site_get_bool(site, "lmtp.pipe_socket");

	g_free(listen);
	return wanted;
}

/* The master runs the LMTP server on every host when lmtp.listen is set
 * or lmtp.pipe_socket is on (accepting mail needs no lease). */
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
