/*
 * services.c - the table of services the master runs (services.h).
 */
#include "services.h"

const struct service *const services[] = {
	&service_lmtp,
	&service_scheduler,
	&service_web,
	NULL,
};
