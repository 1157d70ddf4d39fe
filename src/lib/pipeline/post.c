/*
 * post.c - a post on its way through the pipeline: the parsed message, its
 * metadata, its list, and what handlers need to ask about them (the
 * poster, their membership, the list's settings, the post's number).
 */
#include "pipeline/pipeline.h"
#include "mail/address.h"
#include "base/base.h"
#include "list/held.h"
#include "mail/message.h"
#include "store/names.h"

#include <stdarg.h>
#include <string.h>

/* The address of the first mailbox in header name, normalised, or NULL. */
static char *
first_mailbox(GMimeMessage *msg, const char *name, char **display_r)
{
	const char *raw = message_header(msg, name);
	GPtrArray *addrs = NULL;
	char *out = NULL;

	if (raw == NULL || address_parse_list(raw, &addrs, NULL) < 0)
		return NULL;
	if (addrs->len > 0) {
		struct address *a = addrs->pdata[0];
		out = g_strdup(a->addr);
		if (display_r != NULL)
			*display_r = g_strdup(a->name != NULL ? a->name : "");
	}
	g_ptr_array_unref(addrs);
	return out;
}

struct post *
post_new(struct site *site, struct list *list, struct pipe_env *env,
	 const struct queue_meta *meta, GMimeMessage *msg)
{
	struct post *p = g_new0(struct post, 1);
	const char *sender = queue_meta_get(meta, META_SENDER);
	char *name = NULL;

	p->site = site;
	p->list = list;
	p->env = env;
	p->meta = queue_meta_copy(meta);
	p->msg = msg;
	p->sender = g_strdup(sender != NULL ? sender : "");
	p->poster = first_mailbox(msg, "From", &name);
	if (p->poster == NULL)
		p->poster = first_mailbox(msg, "Sender", NULL);
	if (p->poster == NULL)
		p->poster = *p->sender != '\0' ? address_normalise(p->sender, NULL)
					       : NULL;
	if (p->poster == NULL)
		p->poster = g_strdup("");
	p->poster_name = name != NULL ? name : g_strdup("");
	p->approved = g_strcmp0(queue_meta_get(meta, META_APPROVED), "yes") == 0;
	if (queue_meta_get(meta, META_RCPT) != NULL) {
		GPtrArray *all = queue_meta_get_all(meta, META_RCPT);
		p->recipients = g_ptr_array_new_with_free_func(g_free);
		for (guint i = 0; i < all->len; i++)
			g_ptr_array_add(p->recipients, g_strdup(all->pdata[i]));
		g_ptr_array_unref(all);
	}
	return p;
}

void
post_free(struct post **pp)
{
	struct post *p = *pp;

	if (p == NULL)
		return;
	queue_meta_free(&p->meta);
	g_clear_object(&p->msg);
	g_free(p->sender);
	g_free(p->poster);
	g_free(p->poster_name);
	g_free(p->reason);
	if (p->recipients != NULL)
		g_ptr_array_unref(p->recipients);
	roster_free(&p->roster);
	g_free(p);
	*pp = NULL;
}

struct roster *
post_roster(struct post *p, GError **error)
{
	if (p->roster == NULL && roster_load(p->list, &p->roster, error) < 0)
		return NULL;
	return p->roster;
}

const struct member *
post_member(struct post *p, GError **error)
{
	struct roster *r;

	if (*p->poster == '\0' || (r = post_roster(p, error)) == NULL)
		return NULL;
	return roster_find(r, p->poster);
}

void
post_set_reason(struct post *p, const char *fmt, ...)
{
	va_list ap;

	g_free(p->reason);
	va_start(ap, fmt);
	p->reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

char *
post_setting(struct post *p, const char *name)
{
	char *v = list_get(p->list, name, NULL);

	return v != NULL ? v : g_strdup("");
}

gboolean
post_setting_bool(struct post *p, const char *name)
{
	return list_get_bool(p->list, name);
}

int64_t
post_setting_int(struct post *p, const char *name)
{
	return list_get_int(p->list, name);
}

int64_t
post_number(struct post *p, GError **error)
{
	gboolean stamped;

	return post_number_stamped(p, -1, &stamped, error);
}

int64_t
post_number_stamped(struct post *p, int64_t now, gboolean *stamped_r,
		    GError **error)
{
	int64_t n = queue_meta_get_int(p->meta, META_POST_ID, 0);

	*stamped_r = FALSE;
	if (n > 0)
		return n;
	if (list_counter_update_with(p->list, "post_id", 1, 0, &n,
				     now >= 0 ? "last_post_time" : NULL, now,
				     error) < 0)
		return -1;
	*stamped_r = now >= 0;
	if (n <= 0)		/* a counters file from before post_id */
		n = 1;
	queue_meta_set_int(p->meta, META_POST_ID, n);
	return n;
}

/* p's metadata with its recipients as "rcpt" lines: what a queue or the
 * held posts keep of it. */
static struct queue_meta *
post_meta(struct post *p)
{
	struct queue_meta *meta = queue_meta_copy(p->meta);

	queue_meta_remove(meta, META_RCPT);
	if (p->recipients != NULL)
		for (guint i = 0; i < p->recipients->len; i++)
			queue_meta_add(meta, META_RCPT, p->recipients->pdata[i]);
	return meta;
}

int
post_hold(struct post *p, const char *handler, const char *rest,
	  int64_t *id_r, GError **error)
{
	struct queue_meta *meta = post_meta(p);
	int ret = held_store(p->list, p->msg, meta, p->poster, p->reason,
			     handler, rest, id_r, error);

	queue_meta_free(&meta);
	return ret;
}

/* The incoming runner's output: it joins the runner's batch (group
 * commit, store/queue.h), stored before the runner finishes the post's
 * in-queue entry; a crash before that redoes the post, a duplicate at
 * worst. */
int
post_enqueue(struct post *p, struct queue *q, const char *rest,
	     GError **error)
{
	struct queue_meta *meta = post_meta(p);
	GByteArray *bytes = message_to_bytes(p->msg);
	int ret;

	if (p->approved)
		queue_meta_set(meta, META_APPROVED, "yes");
	if (rest != NULL)
		queue_meta_set(meta, META_PIPELINE, rest);
	else
		queue_meta_remove(meta, META_PIPELINE);
	ret = queue_enqueue_batched(q, meta, (const char *)bytes->data,
				    bytes->len, NULL, error);
	g_byte_array_unref(bytes);
	queue_meta_free(&meta);
	return ret;
}

