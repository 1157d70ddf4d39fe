/*
 * services.h - the long-running services a master runs beside its runners.
 *
 * A service needs no lease: every host's master runs each service it
 * wants (the LMTP server takes mail on every host; the scheduler runs on
 * every host and lets one host run each task by the task's lock).  The
 * master forks it, restarts it with the runners' backoff when it dies,
 * passes SIGHUP on to it and stops it with SIGTERM.  Adding a service is
 * one file that defines its struct service and one row in services.c.
 */
#ifndef HERALD_SERVICES_H
#define HERALD_SERVICES_H

#include <glib.h>

#include "store/site.h"

struct service {
	const char *name;
	/* Whether this host runs it, by the site settings. */
	gboolean (*wanted)(struct site *site);
	/* Runs in the forked child until SIGTERM; returns an exit code. */
	int (*main)(struct site *site);
};

/* Every service, ended by NULL (services.c). */
extern const struct service *const services[];

extern const struct service service_lmtp;	/* lmtp.c */
extern const struct service service_scheduler;	/* scheduler.c */
extern const struct service service_web;	/* web.c */

#endif
