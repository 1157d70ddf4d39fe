/*
 * log.c - one log file per subsystem, or syslog.
 *
 * Each line is written with a single write(2) on an O_APPEND descriptor,
 * so lines from the processes of one host never interleave.  Hosts do not
 * share a file (see log.h).  SIGHUP only sets a flag; the files are closed
 * and reopened by the next writer, outside the signal handler.
 */
#include "base/log.h"
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char *log_dir;
static bool log_syslog;
static bool log_stderr;
static GHashTable *log_fds;	/* subsystem -> fd (GINT_TO_POINTER) */
/* The web service logs from several threads: the table of files, and a
 * line's write to its file, are one thread's at a time. */
static GMutex log_lock;
static volatile sig_atomic_t reopen_requested;

static void
close_fds(void)
{
	GHashTableIter it;
	gpointer fd;

	if (log_fds == NULL)
		return;
	g_hash_table_iter_init(&it, log_fds);
	while (g_hash_table_iter_next(&it, NULL, &fd))
		close(GPOINTER_TO_INT(fd));
	g_hash_table_remove_all(log_fds);
}

void
log_open(const char *dir, bool use_syslog)
{
	log_close();
	log_dir = dir != NULL ? g_build_filename(dir, herald_host(), NULL) : NULL;
	log_syslog = use_syslog;
	if (log_syslog)
		openlog("herald", LOG_PID, LOG_MAIL);
	if (log_fds == NULL)
		log_fds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						NULL);
}

void
log_set_stderr(bool on)
{
	log_stderr = on;
}

void
log_request_reopen(void)
{
	reopen_requested = 1;
}

void
log_close(void)
{
	close_fds();
	if (log_syslog)
		closelog();
	g_clear_pointer(&log_dir, g_free);
	log_syslog = false;
}

static int
fd_for(const char *subsystem)
{
	gpointer val;
	char *path;
	int fd;

	if (log_dir == NULL)
		return -1;
	if (reopen_requested) {
		reopen_requested = 0;
		close_fds();
	}
	if (g_hash_table_lookup_extended(log_fds, subsystem, NULL, &val))
		return GPOINTER_TO_INT(val);
	(void)g_mkdir_with_parents(log_dir, 0770);
	path = g_build_filename(log_dir, subsystem, NULL);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0660);
	g_free(path);
	if (fd >= 0)
		g_hash_table_insert(log_fds, g_strdup(subsystem),
				    GINT_TO_POINTER(fd));
	return fd;
}

static const char *const level_names[] = { "info", "warning", "error" };

void
log_msg(enum log_level level, const char *subsystem, const char *fmt, ...)
{
	int saved_errno = errno;
	char stamp[64];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	char *text, *line;
	int fd;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);

	if (log_syslog) {
		int prio = level == LOG_LVL_ERROR ? LOG_ERR
			 : level == LOG_LVL_WARNING ? LOG_WARNING : LOG_INFO;
		syslog(prio, "%s %s: %s", subsystem, level_names[level], text);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	line = g_strdup_printf("%s.%06ldZ %s %d %s %s: %s\n", stamp,
			       ts.tv_nsec / 1000, herald_host(), (int)getpid(),
			       subsystem, level_names[level], text);
	g_mutex_lock(&log_lock);
	fd = log_syslog ? -1 : fd_for(subsystem);
	/* One write per line: O_APPEND keeps lines whole. */
	if (fd >= 0 && write(fd, line, strlen(line)) < 0 && !log_stderr)
		(void)!write(STDERR_FILENO, line, strlen(line));
	g_mutex_unlock(&log_lock);
	if (fd < 0 && !log_stderr && !log_syslog) {
		(void)!write(STDERR_FILENO, line, strlen(line));
	}
	if (log_stderr)
		(void)!write(STDERR_FILENO, line, strlen(line));
	g_free(line);
	g_free(text);
	errno = saved_errno;
}
