/*
 * pipe_decorate.c - the decorate handler: msg_header and msg_footer around
 * the post (list/decorate.c does the work, for any message of a list).
 *
 * A personalised list is decorated at delivery instead, once per member
 * (deliver.c), so that the footer can name the member: the handler leaves
 * such a post alone.  The metadata records that the post was decorated, so
 * a pipeline run again (a resumed post) does not add a second footer.
 */
#include "pipeline/pipeline.h"
#include "list/decorate.h"
#include "store/names.h"

enum pipe_result
pipe_decorate(struct post *p, GError **error)
{
	if (post_setting_int(p, "personalize") != 0)
		return PIPE_CONTINUE;
	if (g_strcmp0(queue_meta_get(p->meta, META_DECORATED), "yes") == 0)
		return PIPE_CONTINUE;
	if (decorate_message(p->msg, p->list, NULL, error) < 0)
		return PIPE_ERROR;
	queue_meta_set(p->meta, META_DECORATED, "yes");
	return PIPE_CONTINUE;
}
