/*
 * bench-lmtp-load.c - a load of LMTP clients on herald's LMTP server, and
 * the latency of its LHLO reply (issue 10).
 *
 *   bench-lmtp-load [-c CLIENTS] [-m MESSAGES] [-l LHLOS] [-p SERVER_PID]
 *                   [-r RCPT] ADDRESS
 *
 * ADDRESS is unix:PATH or 127.0.0.1:PORT.  First LHLOS connections (default
 * 50) are made one after another, each timed from the LHLO sent to the last
 * line of its reply: the figure that the Nagle / delayed-ACK stall of a
 * reply written in several write()s shows up in (on TCP).  Then CLIENTS
 * connections (default 200) at once, each sending MESSAGES small messages
 * (default 100) to RCPT (default bench@lists.test): MAIL, RCPT and DATA
 * pipelined, then the message, then the 250 awaited; QUIT.  A connection
 * refused with 421 at its greeting counts as refused (the server's session
 * limit), not as a failure.
 *
 * With -p, the server's memory is sampled every 100 ms during the load:
 * the process and its children, the sum of their VmRSS and of their Pss
 * (smaps_rollup: shared pages counted once in total), and the number of
 * processes.  The peaks are printed.
 *
 * One process, one epoll loop, no threads: the client is cheap next to the
 * server, so that the figures are the server's.  It prints figures and
 * asserts nothing but that every message it sent got an answer.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

enum step { GREETING, LHLO, TXN, BODY, QUIT, DONE };

struct client {
	int fd;
	enum step step;
	int sent;		/* messages whose DATA was sent */
	int pending;		/* replies awaited in this step */
	GString *in;		/* replies read, not yet taken */
	GString *out;		/* to send */
	size_t out_off;
	int64_t lhlo_sent;
};

static const char *addr_spec, *rcpt = "bench@lists.test";
static int nmessages = 100;
static long accepted, refused, failed, others;

static int
connect_to(const char *spec)
{
	int fd;

	if (g_str_has_prefix(spec, "unix:")) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		g_strlcpy(sun.sun_path, spec + 5, sizeof sun.sun_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
			bench_die("connect(%s): %s", spec, strerror(errno));
		return fd;
	}
	const char *colon = strrchr(spec, ':');
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char *host = colon != NULL ? g_strndup(spec, (gsize)(colon - spec)) : NULL;

	if (host == NULL || inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		bench_die("%s: neither unix:PATH nor IPv4:PORT", spec);
	g_free(host);
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)
		bench_die("connect(%s): %s", spec, strerror(errno));
	return fd;
}

/* Takes one whole reply (all its lines) from c->in: its code, 0 when none
 * is complete yet. */
static int
take_reply(struct client *c)
{
	size_t pos = 0;

	for (;;) {
		char *nl = memchr(c->in->str + pos, '\n', c->in->len - pos);
		size_t line = pos;

		if (nl == NULL)
			return 0;
		pos = (size_t)(nl - c->in->str) + 1;
		if (pos - line >= 4 && c->in->str[line + 3] == '-')
			continue;
		int code = atoi(c->in->str + line);
		g_string_erase(c->in, 0, (gssize)pos);
		return code;
	}
}

static void
queue_txn(struct client *c)
{
	g_string_append_printf(c->out, "MAIL FROM:<poster@example.net>\r\n"
			       "RCPT TO:<%s>\r\nDATA\r\n", rcpt);
	c->step = TXN;
	c->pending = 3;
}

static void
queue_body(struct client *c)
{
	g_string_append_printf(c->out,
		"From: poster@example.net\r\nTo: %s\r\nSubject: load %d\r\n"
		"Message-ID: <load-%d-%d@example.net>\r\n\r\n"
		"A small message, as most list posts are.\r\n"
		"..a line that starts with a dot\r\n"
		"The end.\r\n.\r\n", rcpt, c->sent, c->fd, c->sent);
	c->sent++;
	c->step = BODY;
	c->pending = 1;
}

/* Advances c on the replies it has; FALSE when it is finished. */
static gboolean
advance(struct client *c)
{
	int code;

	while (c->step != DONE && (code = take_reply(c)) != 0) {
		switch (c->step) {
		case GREETING:
			if (code == 421) {
				refused++;
				c->step = DONE;
				break;
			}
			g_string_append(c->out, "LHLO bench.example.net\r\n");
			c->step = LHLO;
			break;
		case LHLO:
			queue_txn(c);
			break;
		case TXN:
			if (--c->pending > 0)
				break;
			if (code != 354) {
				failed++;
				c->step = DONE;
				break;
			}
			queue_body(c);
			break;
		case BODY:
			if (code == 250)
				accepted++;
			else if (code >= 400)
				failed++;
			else
				others++;
			if (c->sent < nmessages)
				queue_txn(c);
			else {
				g_string_append(c->out, "QUIT\r\n");
				c->step = QUIT;
			}
			break;
		case QUIT:
			c->step = DONE;
			break;
		case DONE:
			break;
		}
	}
	return c->step != DONE;
}

/* The server's processes: pid and every descendant.  Sums their VmRSS
 * and Pss (kB). */
static void
sample_memory(pid_t server, long *rss_r, long *pss_r, int *procs_r)
{
	GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
	GHashTable *parent = g_hash_table_new(g_direct_hash, g_direct_equal);
	DIR *d = opendir("/proc");
	struct dirent *e;

	*rss_r = *pss_r = 0;
	*procs_r = 0;
	while (d != NULL && (e = readdir(d)) != NULL) {
		char path[64], buf[512], *p;
		FILE *f;
		int pid = atoi(e->d_name), ppid;

		if (pid <= 0)
			continue;
		g_snprintf(path, sizeof path, "/proc/%d/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof buf, f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1)
			g_hash_table_insert(parent, GINT_TO_POINTER(pid),
					    GINT_TO_POINTER(ppid));
		fclose(f);
	}
	if (d != NULL)
		closedir(d);
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, parent);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		pid_t pid = GPOINTER_TO_INT(k), up = pid;

		for (int depth = 0; up > 1 && depth < 4; depth++) {
			if (up == server) {
				g_array_append_val(pids, pid);
				break;
			}
			up = GPOINTER_TO_INT(g_hash_table_lookup(parent,
							GINT_TO_POINTER(up)));
		}
	}
	for (guint i = 0; i < pids->len; i++) {
		pid_t pid = g_array_index(pids, pid_t, i);
		char path[64], line[256];
		FILE *f;

		g_snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		(*procs_r)++;
		while (fgets(line, sizeof line, f) != NULL) {
			long kb;
			if (sscanf(line, "Rss: %ld kB", &kb) == 1)
				*rss_r += kb;
			else if (sscanf(line, "Pss: %ld kB", &kb) == 1)
				*pss_r += kb;
		}
		fclose(f);
	}
	g_array_free(pids, TRUE);
	g_hash_table_destroy(parent);
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		bench_die("fcntl: %s", strerror(errno));
}

/* One LHLO on a fresh connection, blocking: microseconds from the LHLO
 * written to its last reply line read. */
static int64_t
time_lhlo(void)
{
	struct client c = { .in = g_string_new(NULL) };
	char buf[4096];
	int64_t t0 = 0, t1 = 0;
	int code;

	c.fd = connect_to(addr_spec);
	for (int phase = 0; phase < 3;) {
		ssize_t n = read(c.fd, buf, sizeof buf);
		if (n <= 0)
			bench_die("LHLO probe: connection closed in phase %d", phase);
		g_string_append_len(c.in, buf, n);
		while ((code = take_reply(&c)) != 0) {
			if (phase == 0) {
				if (code == 421)
					bench_die("LHLO probe refused: %s", c.in->str);
				t0 = bench_now_us();
				if (write(c.fd, "LHLO probe.example.net\r\n", 24) != 24)
					bench_die("write: %s", strerror(errno));
			} else if (phase == 1) {
				t1 = bench_now_us();
				if (write(c.fd, "QUIT\r\n", 6) != 6)
					bench_die("write: %s", strerror(errno));
			}
			phase++;
		}
	}
	close(c.fd);
	g_string_free(c.in, TRUE);
	return t1 - t0;
}

int
main(int argc, char **argv)
{
	int nclients = 200, nlhlo = 50, opt, ep, live;
	pid_t server = 0;
	struct client *cl;
	int64_t t0, t1, next_sample = 0;
	long peak_rss = 0, peak_pss = 0;
	int peak_procs = 0;

	while ((opt = getopt(argc, argv, "c:m:l:p:r:")) != -1) {
		switch (opt) {
		case 'c': nclients = (int)bench_count_arg(optarg, "-c"); break;
		case 'm': nmessages = (int)bench_count_arg(optarg, "-m"); break;
		case 'l': nlhlo = atoi(optarg); break;
		case 'p': server = (pid_t)bench_count_arg(optarg, "-p"); break;
		case 'r': rcpt = optarg; break;
		default:
			bench_die("usage: bench-lmtp-load [-c CLIENTS] [-m MESSAGES] "
				  "[-l LHLOS] [-p SERVER_PID] [-r RCPT] ADDRESS");
		}
	}
	if (optind != argc - 1)
		bench_die("an address is needed: unix:PATH or 127.0.0.1:PORT");
	addr_spec = argv[optind];

	if (nlhlo > 0) {
		int64_t *lat = g_new(int64_t, nlhlo), sum = 0;

		for (int i = 0; i < nlhlo; i++)
			sum += lat[i] = time_lhlo();
		printf("LHLO reply, %d connections one at a time: median %.2f ms, "
		       "p90 %.2f ms, mean %.2f ms\n", nlhlo,
		       (double)bench_percentile(lat, (size_t)nlhlo, 50) / 1000,
		       (double)bench_percentile(lat, (size_t)nlhlo, 90) / 1000,
		       (double)sum / nlhlo / 1000);
		g_free(lat);
	}

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		bench_die("epoll_create1: %s", strerror(errno));
	cl = g_new0(struct client, nclients);
	t0 = bench_now_us();
	for (int i = 0; i < nclients; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET,
					  .data.ptr = &cl[i] };

		cl[i].fd = connect_to(addr_spec);
		cl[i].in = g_string_new(NULL);
		cl[i].out = g_string_new(NULL);
		set_nonblock(cl[i].fd);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev) < 0)
			bench_die("epoll_ctl: %s", strerror(errno));
	}
	live = nclients;
	while (live > 0) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 100);

		if (n < 0 && errno != EINTR)
			bench_die("epoll_wait: %s", strerror(errno));
		if (server > 0 && bench_now_us() >= next_sample) {
			long rss, pss;
			int procs;

			sample_memory(server, &rss, &pss, &procs);
			peak_rss = MAX(peak_rss, rss);
			peak_pss = MAX(peak_pss, pss);
			peak_procs = MAX(peak_procs, procs);
			next_sample = bench_now_us() + 100000;
		}
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;
			char buf[16384];
			ssize_t r;
			gboolean alive = TRUE;

			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				while ((r = read(c->fd, buf, sizeof buf)) > 0)
					g_string_append_len(c->in, buf, r);
				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					alive = advance(c);
					if (alive) {
						failed += c->step == BODY || c->step == TXN;
						alive = FALSE;
					}
				} else
					alive = advance(c);
			}
			while (alive && c->out_off < c->out->len) {
				r = write(c->fd, c->out->str + c->out_off,
					  c->out->len - c->out_off);
				if (r < 0 && errno == EAGAIN)
					break;
				if (r < 0) {
					failed++;
					alive = FALSE;
					break;
				}
				c->out_off += (size_t)r;
			}
			if (c->out_off == c->out->len) {
				g_string_truncate(c->out, 0);
				c->out_off = 0;
			}
			if (!alive && c->fd >= 0) {
				close(c->fd);
				c->fd = -1;
				live--;
			}
		}
	}
	t1 = bench_now_us();
	printf("load: %d clients x %d messages: %ld accepted (250) in %.2f s = "
	       "%.0f msgs/s; %ld connections refused (421), %ld failed, %ld "
	       "other\n", nclients, nmessages, accepted, (double)(t1 - t0) / 1e6,
	       (double)accepted / ((double)(t1 - t0) / 1e6), refused, failed,
	       others);
	if (server > 0)
		printf("server: peak %d processes, peak RSS sum %.1f MB, peak PSS "
		       "sum %.1f MB\n", peak_procs, (double)peak_rss / 1024,
		       (double)peak_pss / 1024);
	for (int i = 0; i < nclients; i++) {
		g_string_free(cl[i].in, TRUE);
		g_string_free(cl[i].out, TRUE);
	}
	g_free(cl);
	return failed > 0 ? 1 : 0;
}
