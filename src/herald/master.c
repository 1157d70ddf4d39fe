/*
 * master.c - `herald start|stop|status`: one master per host, which holds
 * the leases of the queue slices its host works and runs one runner
 * process per slice.
 *
 * Leases are locks (lib/lock.c) under var/leases with the lifetime
 * master.lease_lifetime, renewed every third of it:
 *
 *     leases/host-<host>/              this host's master is alive
 *     leases/slice-<queue>-<s>-of-<n>/ slice s of n of <queue> is worked here
 *
 * Each master aims at an equal share of the slices: ceil(slices / live
 * masters), counting the unexpired host leases.  It takes free or expired
 * slice leases up to its share and gives back what is over it (after its
 * runner has stopped), so two masters on one var dir split the work and a
 * survivor takes a dead host's slices once their leases run out.  A runner
 * starts by returning the .bak files of its slice to the queue, which is
 * what recovers the dead host's work in progress.
 *
 * A runner that dies is restarted after 1, 2, 4 ... seconds, at most
 * master.restart_backoff_max.  A lease that cannot be renewed means
 * another host may take the slice: its runner is killed at once.  Runners
 * get SIGKILL when the master dies (PR_SET_PDEATHSIG) and also check the
 * lease themselves, so no runner outlives its lease.
 *
 * Under systemd (Type=notify, dist/herald.service) the master started with
 * --foreground tells systemd through $NOTIFY_SOCKET when it is ready (it
 * holds its host lease), reloading (SIGHUP) and stopping: the datagram
 * protocol of sd_notify(3), a few lines, so no libsystemd.
 */
#include "cli.h"
#include "services.h"
#include "base/base.h"
#include "store/lock.h"
#include "base/log.h"
#include "store/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MASTER_SUBSYS "master"
#define STOP_GRACE_US (30 * G_USEC_PER_SEC)

struct slot {
	char *queue;
	unsigned slice, nslices;
	char *lease_name;
	struct lock *lease;	/* non-NULL while we hold the lease */
	pid_t pid;		/* runner, 0 when none */
	int crashes;		/* in a row, for the backoff */
	int64_t start_after;	/* monotonic us */
	int64_t started;
	gboolean draining;	/* runner told to stop; lease goes after */
};

struct master {
	struct cli *cli;
	struct site *site;
	char *lease_dir;
	char *pid_path;
	struct lock *host_lease;
	GPtrArray *slots;	/* of struct slot */
	int64_t lifetime_ms;
	int64_t backoff_max_us;
	int sigfd;
	/* The services this host runs (services.h): no lease, restarted
	 * with backoff like a runner.  svc[i] is services[i]'s, unused
	 * unless svc_wanted[i]. */
	struct slot *svc;
	gboolean *svc_wanted;
	guint nsvc;
	gboolean stopping;
	int64_t stop_deadline;
};

static void
slot_free(gpointer p)
{
	struct slot *s = p;

	lock_free(&s->lease);
	g_free(s->queue);
	g_free(s->lease_name);
	g_free(s);
}

static GPtrArray *
make_slots(struct master *m)
{
	GPtrArray *slots = g_ptr_array_new_with_free_func(slot_free);
	GPtrArray *queues = site_runner_queues(m->site);

	for (guint i = 0; i < queues->len; i++) {
		const char *q = queues->pdata[i];
		char *key = g_strdup_printf("runner.%s.slices", q);
		unsigned n = (unsigned)site_get_int(m->site, key);

		g_free(key);
		for (unsigned s = 0; s < n; s++) {
			struct slot *sl = g_new0(struct slot, 1);
			sl->queue = g_strdup(q);
			sl->slice = s;
			sl->nslices = n;
			sl->lease_name = g_strdup_printf("slice-%s-%u-of-%u", q, s, n);
			g_ptr_array_add(slots, sl);
		}
	}
	g_ptr_array_free(queues, TRUE);
	return slots;
}

static guint
held_count(const struct master *m)
{
	guint n = 0;

	for (guint i = 0; i < m->slots->len; i++) {
		struct slot *s = m->slots->pdata[i];
		if (s->lease != NULL && !s->draining)
			n++;
	}
	return n;
}

/* The hosts whose master holds an unexpired host lease, this one's
 * included (a set of names). */
static GHashTable *
live_hosts(struct master *m)
{
	GHashTable *hosts = g_hash_table_new_full(g_str_hash, g_str_equal,
						  g_free, NULL);
	GPtrArray *names = fs_dir_names(m->lease_dir, "host-", NULL);
	int64_t now;

	g_hash_table_add(hosts, g_strdup(herald_host()));
	for (guint i = 0; names != NULL && i < names->len; i++) {
		const char *ent = names->pdata[i];
		char *claim = NULL;
		int64_t expiry;

		if (i == 0 && lock_server_now(m->lease_dir, &now, NULL) < 0)
			break;
		if (lock_inspect(m->lease_dir, ent, &claim, &expiry, NULL) == 1 &&
		    g_str_has_suffix(claim, ".claim") && expiry > now)
			g_hash_table_add(hosts, g_strdup(ent + strlen("host-")));
		g_free(claim);
	}
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	return hosts;
}

/* In a runner's process: its priority (runner.<queue>.nice).  A failure
 * is logged, and the runner runs at the master's. */
static void
runner_nice(struct master *m, const struct slot *s)
{
	char *key = g_strdup_printf("runner.%s.nice", s->queue);
	int nice = (int)site_get_int(m->site, key);

	g_free(key);
	if (nice != 0 && setpriority(PRIO_PROCESS, 0, nice) < 0)
		log_warning(MASTER_SUBSYS, "runner %s slice %u/%u: nice %d: %s",
			    s->queue, s->slice, s->nslices, nice,
			    g_strerror(errno));
}

static void
start_runner(struct master *m, struct slot *s)
{
	pid_t master_pid = getpid();
	pid_t pid;
	sigset_t all;

	pid = fork();
	if (pid < 0) {
		log_error(MASTER_SUBSYS, "fork for runner %s %u/%u failed: %s",
			  s->queue, s->slice, s->nslices, g_strerror(errno));
		s->start_after = g_get_monotonic_time() + G_USEC_PER_SEC;
		return;
	}
	if (pid == 0) {
		/* The runner must not outlive the master that renews its
		 * lease: the kernel kills it when the master dies. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != master_pid)
			_exit(RUNNER_EXIT_LEASE_LOST);
		close(m->sigfd);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		runner_nice(m, s);
		/* The child shares the master's lock objects; it must never
		 * release them, so it leaves with _exit and frees nothing. */
		_exit(runner_main(m->site, s->queue, s->slice, s->nslices,
				  s->lease_name, lock_claim_name(s->lease), FALSE));
	}
	s->pid = pid;
	s->started = g_get_monotonic_time();
	log_info(MASTER_SUBSYS, "runner %s slice %u/%u started as pid %d",
		 s->queue, s->slice, s->nslices, (int)pid);
}

static void
drop_lease(struct slot *s)
{
	GError *error = NULL;

	if (s->lease != NULL && lock_release(s->lease, &error) < 0) {
		log_error(MASTER_SUBSYS, "releasing lease %s: %s", s->lease_name,
			  error->message);
		g_clear_error(&error);
	}
	lock_free(&s->lease);
	s->draining = FALSE;
	s->crashes = 0;
}

static void
renew_leases(struct master *m)
{
	GError *error = NULL;

	if (lock_refresh(m->host_lease, &error) < 0) {
		log_error(MASTER_SUBSYS, "host lease: %s", error->message);
		g_clear_error(&error);
		/* Retake it: the other masters count us by it. */
		if (lock_try(m->host_lease, &error) < 0)
			g_clear_error(&error);
	}
	for (guint i = 0; i < m->slots->len; i++) {
		struct slot *s = m->slots->pdata[i];

		if (s->lease == NULL || lock_refresh(s->lease, &error) == 0)
			continue;
		log_error(MASTER_SUBSYS, "lease %s lost (%s); killing its runner",
			  s->lease_name, error->message);
		g_clear_error(&error);
		if (s->pid > 0)
			kill(s->pid, SIGKILL);
		lock_free(&s->lease);
		s->draining = FALSE;
	}
}

/* Takes or gives back slice leases so that this host holds its share. */
static void
balance(struct master *m, GHashTable *live)
{
	guint hosts = g_hash_table_size(live);
	guint total = m->slots->len;
	guint target = (total + hosts - 1) / hosts;
	guint held = held_count(m);
	/* Start the search at a host-dependent place, so that two masters
	 * starting together do not contend for the same slices. */
	guint offset = total > 0 ? g_str_hash(herald_host()) % total : 0;
	GError *error = NULL;

	for (guint k = 0; k < total && held < target; k++) {
		struct slot *s = m->slots->pdata[(offset + k) % total];

		if (s->lease != NULL)
			continue;
		s->lease = lock_new(m->lease_dir, s->lease_name,
				    m->lifetime_ms);
		int r = lock_try(s->lease, &error);
		if (r == 1) {
			log_info(MASTER_SUBSYS, "took lease %s", s->lease_name);
			held++;
			s->crashes = 0;
			s->start_after = 0;
			continue;
		}
		if (r < 0) {
			log_error(MASTER_SUBSYS, "lease %s: %s", s->lease_name,
				  error->message);
			g_clear_error(&error);
		}
		lock_free(&s->lease);
	}
	for (guint k = 0; k < total && held > target; k++) {
		struct slot *s = m->slots->pdata[(offset + total - 1 - k) % total];

		if (s->lease == NULL || s->draining)
			continue;
		log_info(MASTER_SUBSYS, "giving back lease %s (%u hosts share "
			 "%u slices)", s->lease_name, hosts, total);
		held--;
		if (s->pid > 0) {
			s->draining = TRUE;
			kill(s->pid, SIGTERM);
		} else {
			drop_lease(s);
		}
	}
}

/* Removes what writers that died left half-written in any queue.  This
 * host's leftovers go as soon as their process is gone. */
static void
clean_queues(struct master *m, GHashTable *live)
{
	char *qdir = site_path(m->site, "queue", NULL);
	GPtrArray *names = fs_dir_names(qdir, NULL, NULL);

	for (guint i = 0; names != NULL && i < names->len; i++) {
		const char *ent = names->pdata[i];
		GError *error = NULL;
		struct queue *q = queue_open(site_var_dir(m->site), ent, &error);

		/* A dead host's half-written files go once its lease has
		 * run out twice over. */
		if (q == NULL || queue_clean_tmp(q, live, 2 * m->lifetime_ms / 1000,
						 &error) < 0) {
			log_error(MASTER_SUBSYS, "cleaning queue %s: %s", ent,
				  error->message);
			g_clear_error(&error);
		}
		queue_close(&q);
	}
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	g_free(qdir);
}

static void
start_service(struct master *m, guint i)
{
	const struct service *svc = services[i];
	struct slot *sl = &m->svc[i];
	pid_t master_pid = getpid();
	pid_t pid = fork();
	sigset_t all;

	if (pid < 0) {
		log_error(MASTER_SUBSYS, "fork for service %s failed: %s",
			  svc->name, g_strerror(errno));
		sl->start_after = g_get_monotonic_time() + G_USEC_PER_SEC;
		return;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != master_pid)
			_exit(0);
		close(m->sigfd);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		_exit(svc->main(m->site));
	}
	sl->pid = pid;
	sl->started = g_get_monotonic_time();
	log_info(MASTER_SUBSYS, "service %s started as pid %d", svc->name,
		 (int)pid);
}

static void
start_due_runners(struct master *m)
{
	int64_t now = g_get_monotonic_time();

	for (guint i = 0; i < m->nsvc; i++)
		if (m->svc_wanted[i] && m->svc[i].pid == 0 &&
		    now >= m->svc[i].start_after)
			start_service(m, i);

	for (guint i = 0; i < m->slots->len; i++) {
		struct slot *s = m->slots->pdata[i];

		if (s->lease != NULL && s->pid == 0 && !s->draining &&
		    now >= s->start_after)
			start_runner(m, s);
	}
}

/* run/runners.<host>: one line per runner, "queue slice/n pid", and per
 * service, "service name pid", for `herald status` (which may run on
 * another host). */
static void
write_runners_file(struct master *m)
{
	GString *text = g_string_new(NULL);
	GError *error = NULL;
	char *name = g_strdup_printf("runners.%s", herald_host());
	char *path = site_path(m->site, "run", name, NULL);

	for (guint i = 0; i < m->slots->len; i++) {
		struct slot *s = m->slots->pdata[i];
		if (s->pid > 0)
			g_string_append_printf(text, "%s %u/%u %d\n", s->queue,
					       s->slice, s->nslices, (int)s->pid);
	}
	for (guint i = 0; i < m->nsvc; i++)
		if (m->svc[i].pid > 0)
			g_string_append_printf(text, "service %s %d\n",
					       services[i]->name, (int)m->svc[i].pid);
	if (fs_write_atomic(path, text->str, text->len, &error) < 0) {
		log_error(MASTER_SUBSYS, "%s", error->message);
		g_clear_error(&error);
	}
	g_string_free(text, TRUE);
	g_free(path);
	g_free(name);
}

static struct slot *
slot_by_pid(struct master *m, pid_t pid)
{
	for (guint i = 0; i < m->slots->len; i++) {
		struct slot *s = m->slots->pdata[i];
		if (s->pid == pid)
			return s;
	}
	return NULL;
}

/* When a crashed child may start again: 1, 2, 4 ... s, at most
 * master.restart_backoff_max; a child that ran a good while before dying
 * starts a fresh series.  Returns the wait in us. */
static int64_t
schedule_restart(struct master *m, struct slot *s, int64_t now)
{
	int64_t wait;

	if (now - s->started > m->backoff_max_us)
		s->crashes = 0;
	wait = (int64_t)G_USEC_PER_SEC << MIN(s->crashes, 20);
	if (wait > m->backoff_max_us)
		wait = m->backoff_max_us;
	s->crashes++;
	s->start_after = now + wait;
	return wait;
}

/* A service's process ended: restart it after the backoff. */
static void
reap_service(struct master *m, pid_t pid, int status, int64_t now)
{
	for (guint i = 0; i < m->nsvc; i++) {
		if (m->svc[i].pid != pid)
			continue;
		m->svc[i].pid = 0;
		if (!m->stopping)
			log_error(MASTER_SUBSYS, "service %s (pid %d) ended "
				  "(status %d); restart in %.0f s",
				  services[i]->name, (int)pid, status,
				  (double)schedule_restart(m, &m->svc[i], now) / 1e6);
	}
}

static void
reap(struct master *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct slot *s = slot_by_pid(m, pid);
		int64_t now = g_get_monotonic_time();

		if (s == NULL) {
			reap_service(m, pid, status, now);
			continue;
		}
		s->pid = 0;
		if (s->draining || m->stopping) {
			log_info(MASTER_SUBSYS, "runner %s slice %u/%u (pid %d) "
				 "stopped", s->queue, s->slice, s->nslices, (int)pid);
			drop_lease(s);
			continue;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == RUNNER_EXIT_LEASE_LOST) {
			log_error(MASTER_SUBSYS, "runner %s slice %u/%u found its "
				  "lease gone", s->queue, s->slice, s->nslices);
			lock_free(&s->lease);
			continue;
		}
		int64_t wait = schedule_restart(m, s, now);
		if (WIFSIGNALED(status))
			log_error(MASTER_SUBSYS, "runner %s slice %u/%u (pid %d) "
				  "killed by signal %d; restart in %.0f s",
				  s->queue, s->slice, s->nslices, (int)pid,
				  WTERMSIG(status), (double)wait / 1e6);
		else
			log_error(MASTER_SUBSYS, "runner %s slice %u/%u (pid %d) "
				  "exited with %d; restart in %.0f s", s->queue,
				  s->slice, s->nslices, (int)pid,
				  WEXITSTATUS(status), (double)wait / 1e6);
	}
}

static guint
running_count(const struct master *m)
{
	guint n = 0;

	for (guint i = 0; i < m->slots->len; i++)
		if (((struct slot *)m->slots->pdata[i])->pid > 0)
			n++;
	for (guint i = 0; i < m->nsvc; i++)
		n += m->svc[i].pid > 0;
	return n;
}

/* Changes whenever a runner starts or stops. */
static guint64
runners_signature(const struct master *m)
{
	guint64 sig = 0;

	for (guint i = 0; i < m->slots->len; i++)
		sig = sig * 1000003 + (guint64)((struct slot *)m->slots->pdata[i])->pid;
	return sig;
}

static void
signal_runners(struct master *m, int sig)
{
	for (guint i = 0; i < m->nsvc; i++)
		if (m->svc[i].pid > 0)
			kill(m->svc[i].pid, sig);
	for (guint i = 0; i < m->slots->len; i++) {
		struct slot *s = m->slots->pdata[i];
		if (s->pid > 0)
			kill(s->pid, sig);
	}
}

/* The site configuration changed (`herald site set` on any host): reread
 * it, start or stop the services it now wants, and pass a SIGHUP to the
 * runners and services so they reread it at once (runners would see it
 * within a second anyway; services reread on SIGHUP).  Settings the
 * master itself works by (leases, slices) need a restart: docs/settings.md
 * says which. */
static void
reread_settings(struct master *m)
{
	GError *error = NULL;
	int r = site_reload_if_changed(m->site, &error);

	if (r < 0) {
		log_error(MASTER_SUBSYS, "rereading the settings: %s",
			  error->message);
		g_clear_error(&error);
	}
	if (r <= 0)
		return;
	log_info(MASTER_SUBSYS, "settings changed: reread");
	m->backoff_max_us = site_get_int(m->site, "master.restart_backoff_max") *
			    G_USEC_PER_SEC;
	for (guint i = 0; i < m->nsvc; i++) {
		gboolean want = services[i]->wanted(m->site);

		if (m->svc_wanted[i] && !want && m->svc[i].pid > 0)
			kill(m->svc[i].pid, SIGTERM);
		m->svc_wanted[i] = want;
	}
	signal_runners(m, SIGHUP);
}

/* Tells systemd the master's state ("READY=1", "STOPPING=1"...) when it
 * runs the master as a Type=notify service; nothing otherwise. */
static void
notify_systemd(const char *state)
{
	const char *path = g_getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0';	/* an abstract socket */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, len) < 0)
		log_warning(MASTER_SUBSYS, "telling systemd %s: %s", state,
			    g_strerror(errno));
	close(fd);
}

static void
begin_stop(struct master *m)
{
	if (m->stopping)
		return;
	notify_systemd("STOPPING=1");
	log_info(MASTER_SUBSYS, "stopping: draining %u runners",
		 running_count(m));
	m->stopping = TRUE;
	m->stop_deadline = g_get_monotonic_time() + STOP_GRACE_US;
	signal_runners(m, SIGTERM);
}

static void
handle_signals(struct master *m)
{
	struct signalfd_siginfo si;

	while (read(m->sigfd, &si, sizeof si) == sizeof si) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			break;	/* reap() runs every round */
		case SIGTERM:
		case SIGINT:
			begin_stop(m);
			break;
		case SIGHUP:
			notify_systemd("RELOADING=1");
			log_request_reopen();
			log_info(MASTER_SUBSYS, "SIGHUP: logs reopened");
			reread_settings(m);
			signal_runners(m, SIGHUP);
			notify_systemd("READY=1");
			break;
		}
	}
}

static int
write_pid_file(struct master *m, GError **error)
{
	char *text = g_strdup_printf("%d\n", (int)getpid());
	int r = fs_write_atomic(m->pid_path, text, strlen(text), error);

	g_free(text);
	return r;
}

static void
master_free(struct master *m)
{
	if (m->slots != NULL)
		g_ptr_array_free(m->slots, TRUE);
	lock_free(&m->host_lease);
	g_free(m->svc);
	g_free(m->svc_wanted);
	g_free(m->lease_dir);
	g_free(m->pid_path);
	if (m->sigfd >= 0)
		close(m->sigfd);
}

int
master_run(struct cli *cli, int ready_fd)
{
	struct master m = { .cli = cli, .sigfd = -1 };
	GError *error = NULL;
	sigset_t mask;
	int64_t next_tick = 0, tick_us;
	char *host_lease_name;

	if ((m.site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	m.lease_dir = site_path(m.site, "leases", NULL);
	{
		char *name = g_strdup_printf("master.%s.pid", herald_host());
		m.pid_path = site_path(m.site, "run", name, NULL);
		g_free(name);
	}
	m.lifetime_ms = site_get_int(m.site, "master.lease_lifetime") * 1000;
	m.backoff_max_us = site_get_int(m.site, "master.restart_backoff_max") *
			   G_USEC_PER_SEC;
	tick_us = m.lifetime_ms * 1000 / 3;
	lock_gc_clocks(m.lease_dir);

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	m.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	host_lease_name = g_strdup_printf("host-%s", herald_host());
	m.host_lease = lock_new(m.lease_dir, host_lease_name, m.lifetime_ms);
	g_free(host_lease_name);
	int r = lock_try(m.host_lease, &error);
	if (r <= 0) {
		if (r == 0)
			cli_error("a master is already running for host %s on %s "
				  "(see `herald status`)", herald_host(),
				  site_var_dir(m.site));
		else
			cli_gerror(&error);
		master_free(&m);
		return CLI_FAIL;
	}
	if (write_pid_file(&m, &error) < 0) {
		cli_gerror(&error);
		master_free(&m);
		return CLI_FAIL;
	}
	m.slots = make_slots(&m);
	while (services[m.nsvc] != NULL)
		m.nsvc++;
	m.svc = g_new0(struct slot, m.nsvc);
	m.svc_wanted = g_new0(gboolean, m.nsvc);
	for (guint i = 0; i < m.nsvc; i++)
		m.svc_wanted[i] = services[i]->wanted(m.site);
	log_info(MASTER_SUBSYS, "master started (pid %d, %u slices configured, "
		 "lease lifetime %lld s)", (int)getpid(), m.slots->len,
		 (long long)m.lifetime_ms / 1000);
	notify_systemd("READY=1");
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "R", 1);
		close(ready_fd);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}

	for (;;) {
		int64_t now = g_get_monotonic_time();
		struct pollfd pfd = { .fd = m.sigfd, .events = POLLIN };
		guint64 running = runners_signature(&m);

		handle_signals(&m);
		reap(&m);
		if (m.stopping) {
			if (running_count(&m) == 0)
				break;
			if (now > m.stop_deadline) {
				log_error(MASTER_SUBSYS, "runners did not stop in "
					  "time; killing them");
				signal_runners(&m, SIGKILL);
			}
		} else {
			if (now >= next_tick) {
				GHashTable *live = live_hosts(&m);
				reread_settings(&m);
				renew_leases(&m);
				balance(&m, live);
				clean_queues(&m, live);
				g_hash_table_destroy(live);
				next_tick = now + tick_us;
			}
			start_due_runners(&m);
		}
		if (runners_signature(&m) != running)
			write_runners_file(&m);
		int64_t wake = next_tick;
		for (guint i = 0; i < m.nsvc; i++)
			if (m.svc_wanted[i] && m.svc[i].pid == 0 &&
			    m.svc[i].start_after > now &&
			    m.svc[i].start_after < wake)
				wake = m.svc[i].start_after;
		for (guint i = 0; i < m.slots->len; i++) {
			struct slot *s = m.slots->pdata[i];
			if (s->lease != NULL && s->pid == 0 && s->start_after > now &&
			    s->start_after < wake)
				wake = s->start_after;
		}
		int timeout = m.stopping ? 200
			    : (int)CLAMP((wake - now) / 1000 + 1, 1, 60000);
		(void)poll(&pfd, 1, timeout);
	}
	for (guint i = 0; i < m.slots->len; i++)
		drop_lease(m.slots->pdata[i]);
	write_runners_file(&m);
	unlink(m.pid_path);
	log_info(MASTER_SUBSYS, "master stopped");
	master_free(&m);
	return CLI_OK;
}

/* --- commands ------------------------------------------------------------ */

int
cmd_start(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.summary = "Starts this host's master, which runs the runners of "
			   "the queue slices it leases and the services (LMTP "
			   "server, scheduler); returns once the master holds "
			   "its host lease.",
	};
	gboolean foreground = FALSE;
	const GOptionEntry entries[] = {
		{ "foreground", 0, 0, G_OPTION_ARG_NONE, &foreground,
		  "stay attached and log to standard error", NULL },
		G_OPTION_ENTRY_NULL
	};
	int pipefd[2], ret;
	pid_t pid;
	char c;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if (cli_site(cli) == NULL)
		return CLI_FAIL;
	if (foreground) {
		log_set_stderr(TRUE);
		return master_run(cli, -1);
	}
	/* Daemonise, but report failure to start (another master, a bad var
	 * dir) through a pipe before the parent exits. */
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return cli_error("pipe failed: %s", g_strerror(errno));
	pid = fork();
	if (pid < 0)
		return cli_error("fork failed: %s", g_strerror(errno));
	if (pid == 0) {
		close(pipefd[0]);
		setsid();
		if (fork() > 0)
			_exit(0);
		int null = open("/dev/null", O_RDWR);
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		/* Standard error stays until the master is ready, so that a
		 * start-up error reaches the admin. */
		_exit(master_run(cli, pipefd[1]));
	}
	close(pipefd[1]);
	waitpid(pid, NULL, 0);
	if (read(pipefd[0], &c, 1) != 1) {
		close(pipefd[0]);
		return CLI_FAIL;	/* the master printed why */
	}
	close(pipefd[0]);
	return CLI_OK;
}

static pid_t
read_pid_file(struct site *site)
{
	char *name = g_strdup_printf("master.%s.pid", herald_host());
	char *path = site_path(site, "run", name, NULL);
	char *text = NULL;
	pid_t pid = 0;

	if (fs_read_file(path, &text, NULL, NULL) == 1)
		pid = (pid_t)atoi(text);
	if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH) {
		unlink(path);	/* stale */
		pid = 0;
	}
	g_free(text);
	g_free(path);
	g_free(name);
	return pid;
}

int
cmd_stop(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.summary = "Stops this host's master: each runner finishes the "
			   "message in hand, the leases are given back.",
	};
	struct site *site;
	pid_t pid;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	pid = read_pid_file(site);
	if (pid <= 0) {
		printf("no master is running for host %s\n", herald_host());
		return CLI_OK;
	}
	if (kill(pid, SIGTERM) < 0)
		return cli_error("kill(%d) failed: %s", (int)pid, g_strerror(errno));
	/* Wait for the drain: runners finish the message in hand. */
	for (int i = 0; i < 700 && kill(pid, 0) == 0; i++)
		g_usleep(50000);
	if (kill(pid, 0) == 0)
		return cli_error("master %d has not stopped yet", (int)pid);
	printf("master %d stopped\n", (int)pid);
	return CLI_OK;
}

static void
print_lease(const char *lease_dir, const char *name, int64_t now)
{
	char *claim = NULL;
	int64_t expiry = 0;

	if (lock_inspect(lease_dir, name, &claim, &expiry, NULL) != 1) {
		printf("  %-28s never taken\n", name);
		return;
	}
	if (g_str_has_suffix(claim, ".free"))
		printf("  %-28s free (last: %s)\n", name, claim);
	else if (expiry <= now)
		printf("  %-28s EXPIRED %.1f s ago (%s)\n", name,
		       (double)(now - expiry) / 1e6, claim);
	else
		printf("  %-28s held by %s, %.1f s left\n", name, claim,
		       (double)(expiry - now) / 1e6);
	g_free(claim);
}

static void
print_runner_files(struct site *site)
{
	char *run = site_path(site, "run", NULL);
	GPtrArray *names = fs_dir_names(run, "runners.", NULL);

	for (guint i = 0; names != NULL && i < names->len; i++) {
		if (strstr(names->pdata[i], ".tmp.") != NULL)
			continue;	/* being written */
		const char *host = (char *)names->pdata[i] + strlen("runners.");
		char *path = g_build_filename(run, names->pdata[i], NULL);
		char *text = NULL;

		if (fs_read_file(path, &text, NULL, NULL) == 1) {
			char **lines = g_strsplit(text, "\n", -1);
			printf("runner processes on %s:%s\n", host,
			       *text == '\0' ? " none" : "");
			for (char **l = lines; *l != NULL; l++)
				if (**l != '\0')
					printf("  %s\n", *l);
			g_strfreev(lines);
		}
		g_free(text);
		g_free(path);
	}
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	g_free(run);
}

int
cmd_status(struct cli *cli, int argc, char **argv)
{
	struct site *site;
	GError *error = NULL;
	GPtrArray *names;
	char *lease_dir;
	int64_t now;
	pid_t pid;
	int ret;
	static const struct cli_help help = {
		.summary = "Shows the masters, the leases, the runner and service "
			   "processes of every host, and the queues.",
	};

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	pid = read_pid_file(site);
	if (pid > 0)
		printf("master on %s: running, pid %d\n", herald_host(), (int)pid);
	else
		printf("master on %s: not running\n", herald_host());
	lease_dir = site_path(site, "leases", NULL);
	if (lock_server_now(lease_dir, &now, &error) < 0) {
		g_free(lease_dir);
		return cli_gerror(&error);
	}
	names = fs_dir_names(lease_dir, NULL, NULL);
	printf("leases (holder claim = host.pid.random):\n");
	for (guint i = 0; names != NULL && i < names->len; i++)
		print_lease(lease_dir, names->pdata[i], now);
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	g_free(lease_dir);

	print_runner_files(site);
	GPtrArray *queues = site_runner_queues(site);
	printf("queues:\n");
	for (guint i = 0; i < queues->len; i++) {
		char *key = g_strdup_printf("runner.%s.slices", (char *)queues->pdata[i]);
		char *hkey = g_strdup_printf("runner.%s.handler", (char *)queues->pdata[i]);
		char *handler = site_get(site, hkey, NULL);
		struct queue *q = queue_open(site_var_dir(site), queues->pdata[i], NULL);
		printf("  %-10s slices %lld, handler %s, %d ready, %d claimed\n",
		       (char *)queues->pdata[i], (long long)site_get_int(site, key),
		       handler, q ? queue_count(q, ".msg", NULL) : -1,
		       q ? queue_count(q, ".bak", NULL) : -1);
		queue_close(&q);
		g_free(handler);
		g_free(hkey);
		g_free(key);
	}
	g_ptr_array_free(queues, TRUE);
	return CLI_OK;
}
