/*
 * log.h - one log file per subsystem, or syslog.
 *
 * Files live in logs/<host>/<subsystem> under the var dir: one writer host
 * per file, because O_APPEND from two NFS clients interleaves badly.  Each
 * line: "<UTC time> <host> <pid> <subsystem> <level>: <text>".
 */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <glib.h>
#include <stdbool.h>

enum log_level { LOG_LVL_INFO, LOG_LVL_WARNING, LOG_LVL_ERROR };

/* Logs go to files under dir (NULL: standard error only) or, with
 * use_syslog, to syslog(3) facility mail. */
void log_open(const char *dir, bool use_syslog);
/* Also copy every line to standard error (foreground runs, the CLI). */
void log_set_stderr(bool on);
/* Async-signal-safe: the next line written reopens the files (SIGHUP,
 * after logrotate moved them). */
void log_request_reopen(void);
void log_close(void);

void log_msg(enum log_level level, const char *subsystem, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

#define log_info(sub, ...) log_msg(LOG_LVL_INFO, sub, __VA_ARGS__)
#define log_warning(sub, ...) log_msg(LOG_LVL_WARNING, sub, __VA_ARGS__)
#define log_error(sub, ...) log_msg(LOG_LVL_ERROR, sub, __VA_ARGS__)

#endif
