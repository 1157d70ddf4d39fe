/*
 * held.c - the store of held posts and the moderators' decisions.
 *
 * Storing is atomic (fs_write_atomic: tmp, fsync, rename); deciding claims
 * the file by rename before acting, then acts, then removes the claim.  A
 * crash after an approval's enqueue and before the unlink leaves the claim
 * file and, at worst, lets the post out twice; a crash before the enqueue
 * leaves the claim, which `herald held list` shows as being decided and
 * the next decision on that post takes over.
 */
#include "list/held.h"
#include "store/webhook.h"
#include "base/base.h"
#include "base/log.h"
#include "mail/message.h"
#include "list/notice.h"
#include "store/queue.h"
#include "store/names.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HELD_SUBSYS "held"

void
held_post_free(struct held_post **hp)
{
	struct held_post *h = *hp;

	if (h == NULL)
		return;
	g_free(h->poster);
	g_free(h->subject);
	g_free(h->reason);
	queue_meta_free(&h->meta);
	g_free(h->msg);
	g_free(h);
	*hp = NULL;
}

void
held_post_free_ptr(gpointer hp)
{
	struct held_post *h = hp;

	held_post_free(&h);
}

static char *
held_dir(struct list *l)
{
	return g_build_filename(list_dir(l), "held", NULL);
}

static char *
held_path(struct list *l, int64_t id, const char *ext)
{
	char *name = g_strdup_printf("%" G_GINT64_FORMAT "%s", id, ext);
	char *path = g_build_filename(list_dir(l), "held", name, NULL);

	g_free(name);
	return path;
}

int
held_store(struct list *l, GMimeMessage *msg, const struct queue_meta *meta,
	   const char *poster, const char *reason, const char *handler,
	   const char *rest, int64_t *id_r, GError **error)
{
	struct queue_meta *m = queue_meta_copy(meta);
	GByteArray *bytes = message_to_bytes(msg);
	char *dir = held_dir(l), *path = NULL, *subject;
	GString *file = NULL;
	int64_t id;
	int ret = -1;

	if (reason == NULL)
		reason = "";
	if (fs_mkdir_p(dir, 0755, error) < 0 ||
	    list_counter_update(l, "held_id", 1, 0, &id, error) < 0)
		goto out;
	id++;
	subject = message_header_decoded(msg, "Subject");
	queue_meta_set(m, META_HOLD_REASON, reason);
	queue_meta_set(m, META_HOLD_HANDLER, handler);
	queue_meta_set(m, META_PIPELINE, rest);
	queue_meta_set(m, META_POSTER, poster);
	queue_meta_set(m, META_SUBJECT, subject != NULL ? subject : "");
	queue_meta_set_int(m, META_HELD_AT, (int64_t)time(NULL));
	g_free(subject);
	file = queue_format(m, (const char *)bytes->data, bytes->len);
	path = held_path(l, id, ".msg");
	if (fs_write_atomic(path, file->str, file->len, error) < 0)
		goto out;
	log_info(HELD_SUBSYS, "list %s: post %" G_GINT64_FORMAT " from %s held "
		 "by %s: %s", list_fqdn(l), id, poster, handler, reason);
	JsonObject *ev = json_object_new();
	json_object_set_int_member(ev, "id", id);
	json_object_set_string_member(ev, "poster", poster);
	json_object_set_string_member(ev, "reason", reason);
	webhook_emit(list_site(l), list_fqdn(l), "post.held", ev);
	*id_r = id;
	ret = 0;
out:
	if (file != NULL)
		g_string_free(file, TRUE);
	queue_meta_free(&m);
	g_byte_array_unref(bytes);
	g_free(dir);
	g_free(path);
	return ret;
}

/* Reads a held file (whole) into a struct held_post; 1, 0 absent, -1. */
static int
read_held(const char *path, int64_t id, gboolean with_msg,
	  struct held_post **post_r, GError **error)
{
	struct held_post *h;
	const char *msg;
	size_t msg_len, len;
	char *data;
	int r = fs_read_file(path, &data, &len, error);

	if (r <= 0)
		return r;
	h = g_new0(struct held_post, 1);
	if (queue_parse(data, len, &h->meta, &msg, &msg_len, error) < 0) {
		g_prefix_error(error, "%s: ", path);
		g_free(data);
		held_post_free(&h);
		return -1;
	}
	h->id = id;
	h->held_at = queue_meta_get_int(h->meta, META_HELD_AT, 0);
	h->poster = g_strdup(queue_meta_get(h->meta, META_POSTER));
	h->subject = g_strdup(queue_meta_get(h->meta, META_SUBJECT));
	h->reason = g_strdup(queue_meta_get(h->meta, META_HOLD_REASON));
	if (with_msg) {
		h->msg = g_strndup(msg, msg_len);
		h->msg_len = msg_len;
	}
	g_free(data);
	*post_r = h;
	return 1;
}

static gint
compare_id(gconstpointer a, gconstpointer b)
{
	const struct held_post *x = *(struct held_post *const *)a;
	const struct held_post *y = *(struct held_post *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int
held_list(struct list *l, GPtrArray **posts_r, GError **error)
{
	char *dir = held_dir(l);
	GPtrArray *names = NULL, *out;
	int ret = -1;

	out = g_ptr_array_new_with_free_func(held_post_free_ptr);
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		ret = 0;
		goto out;
	}
	if ((names = fs_dir_names(dir, NULL, error)) == NULL)
		goto out;
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];
		char *end, *path;
		int64_t id = g_ascii_strtoll(name, &end, 10);
		struct held_post *h = NULL;
		int r;

		if (end == name || (strcmp(end, ".msg") != 0 &&
				    !g_str_has_suffix(end, ".claim")))
			continue;
		path = g_build_filename(dir, name, NULL);
		r = read_held(path, id, FALSE, &h, error);
		g_free(path);
		if (r < 0)
			goto out;
		if (r > 0) {	/* a decision may have taken it meanwhile */
			h->deciding = strcmp(end, ".msg") != 0;
			g_ptr_array_add(out, h);
		}
	}
	g_ptr_array_sort(out, compare_id);
	ret = 0;
out:
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	if (ret == 0)
		*posts_r = out;
	else
		g_ptr_array_unref(out);
	g_free(dir);
	return ret;
}

int
held_get(struct list *l, int64_t id, struct held_post **post_r, GError **error)
{
	char *path = held_path(l, id, ".msg");
	int r = read_held(path, id, TRUE, post_r, error);

	g_free(path);
	return r;
}

int
held_action_parse(const char *name)
{
	static const char *const names[] = { "approve", "reject", "discard",
					     "defer", NULL };

	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

/* An approved post goes back to the in queue, whose runner parses it: one
 * that cannot be read back would go to bad/ there while the moderator was
 * told it was approved (issue 10, item 4).  It is not approved, and stays
 * held, with an error that says so and what to do instead.  A post with
 * no header left is fine here: the pipeline may have removed them all
 * (an "Approved:" line alone), and message_parse_stored reads that back. */
static int
approve(struct list *l, struct held_post *h, GError **error)
{
	struct queue_meta *meta;
	GError *local = NULL;
	int ret;

	if (message_check_round_trip(h->msg, h->msg_len, FALSE, &local) < 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "held post %" G_GINT64_FORMAT " of %s cannot be "
			    "approved: herald cannot read its message back "
			    "(%s); it stays held: discard or reject it",
			    h->id, list_fqdn(l), local->message);
		log_error(HELD_SUBSYS, "list %s: held post %" G_GINT64_FORMAT
			  " not approved, its message cannot be read back: %s",
			  list_fqdn(l), h->id, local->message);
		g_error_free(local);
		return -1;
	}
	meta = queue_meta_copy(h->meta);
	queue_meta_set(meta, META_APPROVED, "yes");
	queue_meta_set(meta, META_APPROVED_BY, "moderator");
	/* Its old place in the in queue is long gone: a new one. */
	queue_meta_remove(meta, META_RECEIVED);
	ret = queue_put(site_var_dir(list_site(l)), QUEUE_IN, meta, h->msg,
			h->msg_len, NULL, error);
	queue_meta_free(&meta);
	return ret;
}

static int
reject(struct list *l, struct held_post *h, const char *reason, GError **error)
{
	const char *to[] = { h->poster, NULL };
	char *fqdn = g_strdup(list_fqdn(l));
	char *subject = g_strdup_printf("Your post to %s was rejected", fqdn);
	char *text = g_strdup_printf(
		"Your message to the %s mailing list, with the subject\n\n"
		"    %s\n\nwas rejected by the list moderator, who gave this "
		"reason:\n\n%s\n\nYour message is attached.\n", fqdn,
		h->subject != NULL ? h->subject : "",
		reason != NULL && *reason != '\0' ? reason : "(no reason given)");
	GMimeMessage *orig = message_parse_stored(h->msg, h->msg_len, NULL);
	int ret = 0;

	if (*h->poster != '\0')
		ret = notice_send(l, to, subject, text, orig, error);
	if (orig != NULL)
		g_object_unref(orig);
	g_free(fqdn);
	g_free(subject);
	g_free(text);
	return ret;
}

/* A claim on post id whose decision died: its process is gone (this
 * host) or it is older than HELD_CLAIM_STALE.  Its path, or NULL. */
static char *
stale_claim(struct list *l, int64_t id)
{
	char *dir = held_dir(l), *found = NULL;
	char *prefix = g_strdup_printf("%" G_GINT64_FORMAT ".", id);
	GPtrArray *names = fs_dir_names(dir, prefix, NULL);
	size_t hl = strlen(herald_host());

	for (guint i = 0; names != NULL && found == NULL && i < names->len; i++) {
		const char *rest = (char *)names->pdata[i] + strlen(prefix);
		char *path = g_build_filename(dir, names->pdata[i], NULL);
		struct stat st;
		gboolean dead = FALSE;

		if (!g_str_has_suffix(rest, ".claim") || fs_stat(path, &st) < 0) {
			g_free(path);
			continue;
		}
		if (strncmp(rest, herald_host(), hl) == 0 && rest[hl] == '.') {
			long pid = strtol(rest + hl + 1, NULL, 10);
			dead = pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
		}
		if (dead || time(NULL) - st.st_mtime > HELD_CLAIM_STALE)
			found = path;
		else
			g_free(path);
	}
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	g_free(prefix);
	g_free(dir);
	return found;
}

int
held_decide(struct list *l, int64_t id, enum held_action action,
	    const char *reason, GError **error)
{
	static const char *const verbs[] = { "approved", "rejected",
					     "discarded", "deferred" };
	char *path = held_path(l, id, ".msg");
	char *ext = g_strdup_printf(".%s.%d.claim", herald_host(), (int)getpid());
	char *claim = held_path(l, id, ext);
	struct held_post *h = NULL;
	int r, ret = -1;

	if (action == HELD_DEFER) {
		r = fs_stat(path, &(struct stat){ 0 });
		if (r < 0) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
				    "list %s has no held post %" G_GINT64_FORMAT,
				    list_fqdn(l), id);
			goto out;
		}
		ret = 0;
		goto done;
	}
	if (rename(path, claim) < 0) {
		int err = errno;
		char *stale = err == ENOENT ? stale_claim(l, id) : NULL;

		if (stale != NULL && rename(stale, claim) == 0) {
			log_warning(HELD_SUBSYS, "list %s: held post %" G_GINT64_FORMAT
				    ": taking over %s, left by a decision that "
				    "did not finish", list_fqdn(l), id, stale);
			g_free(stale);
		} else if (err == ENOENT) {
			g_free(stale);
			g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
				    "list %s has no held post %" G_GINT64_FORMAT,
				    list_fqdn(l), id);
			goto out;
		} else {
			set_errno_error_n(error, err, "rename(%s, %s)", path, claim);
			goto out;
		}
	}
	r = read_held(claim, id, TRUE, &h, error);
	if (r <= 0) {
		if (r == 0)
			g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
				    "%s vanished", claim);
		goto out;
	}
	if (action == HELD_APPROVE)
		r = approve(l, h, error);
	else if (action == HELD_REJECT)
		r = reject(l, h, reason, error);
	else
		r = 0;
	if (r < 0) {
		/* Undecided after all: back where it was. */
		(void)rename(claim, path);
		goto out;
	}
	if (fs_unlink(claim) < 0 && errno != ENOENT) {
		set_errno_error(error, "unlink(%s)", claim);
		goto out;
	}
	ret = 0;
done:
	log_info(HELD_SUBSYS, "list %s: held post %" G_GINT64_FORMAT " %s%s%s",
		 list_fqdn(l), id, verbs[action], reason != NULL ? ": " : "",
		 reason != NULL ? reason : "");
out:
	held_post_free(&h);
	g_free(path);
	g_free(ext);
	g_free(claim);
	return ret;
}
