/*
 * registry.c - the table of runner kinds (store/runner.h).
 *
 * The order is the order of the [runner.<queue>] sections `herald init`
 * writes and of the choices of runner.<queue>.handler.
 */
#include "runners/runners.h"

#include <string.h>

const struct runner_kind *const runner_kinds[] = {
	&runner_incoming,
	&runner_virgin,
	&runner_outgoing,
	&runner_retry,
	&runner_bounces,
	&runner_commands,
	&runner_archive,
	&runner_digest,
	&runner_news,
	&runner_webhook,
	&runner_forward,
	&runner_sink,
	NULL,
};

const struct runner_kind *
runner_kind_find(const char *name)
{
	for (const struct runner_kind *const *k = runner_kinds; *k != NULL; k++)
		if (strcmp((*k)->name, name) == 0)
			return *k;
	return NULL;
}
