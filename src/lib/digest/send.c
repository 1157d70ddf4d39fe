/*
 * send.c - sending a digest issue: claim the pending posts, build both
 * renditions, hand them to the out queue, forget the issue.
 *
 * Under the list's digest lock (locks/digest-<list>), so one process at a
 * time sends a list's digests and owns every claimed issue; the runner,
 * the task and `herald digests send` may all try.  Each step of an issue
 * is resumable, and a resumed send does what is left:
 *   1. claim (store.c): pending/ becomes send-<V>-<N>/, one rename;
 *   2. build: each rendition with its recipients is written as a queue
 *      entry out-<kind>.entry in that directory, then the file "built";
 *      without "built" a resumed send builds again from the posts;
 *   3. hand over: each out-<kind>.entry is renamed into the out queue
 *      (queue_adopt), so it is in the issue's directory or in the queue,
 *      never both: a crash neither loses nor repeats a rendition;
 *   4. forget: the posts, then "built", then the directory are removed.
 * Recipients are read at step 2: the enabled digest members of each mode,
 * and those owed one last digest (a member who left digest mode since the
 * last issue, Mailman's one_last_digest).  Regular members never get one.
 */
#include "digest/digest.h"
#include "base/base.h"
#include "base/log.h"
#include "mail/message.h"
#include "store/lock.h"
#include "store/names.h"
#include "store/queue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ENTRY_EXT ".entry"

/* The recipients of one issue, by rendition. */
struct recipients {
	GPtrArray *mime, *plain;	/* addresses (char *, owned) */
};

static void
recipients_clear(struct recipients *r)
{
	g_clear_pointer(&r->mime, g_ptr_array_unref);
	g_clear_pointer(&r->plain, g_ptr_array_unref);
}

static void
add_recipient(struct recipients *r, GHashTable *seen, const struct member *m,
	      enum member_mode mode)
{
	if (m == NULL || m->status != STATUS_ENABLED ||
	    !g_hash_table_add(seen, m->key))
		return;
	g_ptr_array_add(mode == MODE_PLAIN_DIGEST ? r->plain : r->mime,
			g_strdup(m->addr));
}

/* Adds the members named in the claim's one-last file, in the mode they
 * had when they left digest mode. */
static void
add_owed(struct recipients *r, GHashTable *seen, const struct roster *ro,
	 const char *dir)
{
	char *path = g_build_filename(dir, "one-last", NULL), *data = NULL;
	char **lines;
	size_t len;

	if (fs_read_file(path, &data, &len, NULL) <= 0) {
		g_free(path);
		return;
	}
	lines = g_strsplit(data, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		char *sp = strchr(lines[i], ' ');
		int mode;

		if (sp == NULL)
			continue;
		*sp = '\0';
		if ((mode = member_mode_parse(lines[i])) < 0 || mode == MODE_REGULAR)
			continue;
		add_recipient(r, seen, roster_find(ro, sp + 1), mode);
	}
	g_strfreev(lines);
	g_free(data);
	g_free(path);
}

static int
recipients_load(struct list *l, const char *dir, struct recipients *r,
		GError **error)
{
	struct roster *ro = NULL;
	GHashTable *seen;
	GPtrArray *all;

	if (roster_load(l, &ro, error) < 0)
		return -1;
	r->mime = g_ptr_array_new_with_free_func(g_free);
	r->plain = g_ptr_array_new_with_free_func(g_free);
	seen = g_hash_table_new(g_str_hash, g_str_equal);
	all = roster_members(ro, TRUE);
	for (guint i = 0; i < all->len; i++) {
		const struct member *m = all->pdata[i];

		if (m->mode != MODE_REGULAR)
			add_recipient(r, seen, m, m->mode);
	}
	add_owed(r, seen, ro, dir);
	g_ptr_array_unref(all);
	g_hash_table_unref(seen);
	roster_free(&ro);
	return 0;
}

/* --- step 2: build ---------------------------------------------------------- */

static void
posts_free(gpointer p)
{
	g_object_unref(p);
}

static GPtrArray *
posts_load(const struct digest_claim *c, GError **error)
{
	GPtrArray *names = digest_claim_posts(c, error), *posts;

	if (names == NULL)
		return NULL;
	posts = g_ptr_array_new_with_free_func(posts_free);
	for (guint i = 0; i < names->len; i++) {
		char *path = g_build_filename(c->dir, names->pdata[i], NULL);
		char *data = NULL;
		size_t len;
		GMimeMessage *m = NULL;
		GError *local = NULL;

		if (fs_read_file(path, &data, &len, error) <= 0 ||
		    (m = message_parse_stored(data, len, &local)) == NULL) {
			/* What the pipeline stored parses; one that does not
			 * is left out of the issue rather than stopping it. */
			if (local != NULL) {
				log_error(DIGEST_SUBSYS, "%s: %s", path, local->message);
				g_error_free(local);
			}
		}
		if (m != NULL)
			g_ptr_array_add(posts, m);
		g_free(data);
		g_free(path);
	}
	g_ptr_array_unref(names);
	return posts;
}

/* Writes rendition msg for rcpts as the queue entry dir/out-<kind>.entry
 * (kind mime or plain; its metadata kind digest-mime or digest-plain). */
static int
write_entry(struct list *l, const char *dir, gboolean plain,
	    GMimeMessage *msg, GPtrArray *rcpts, GError **error)
{
	struct queue_meta *meta = queue_meta_new();
	GByteArray *bytes = message_to_bytes(msg);
	char *bounces = list_address(l, "-bounces");
	char *path = g_strdup_printf("%s/out-%s" ENTRY_EXT, dir,
				     plain ? "plain" : "mime");
	char *tmp = g_strconcat(path, ".tmp", NULL);
	char *subject = message_header_decoded(msg, "Subject");
	GString *data;
	ino_t ino;
	int r = -1;

	queue_meta_set(meta, META_LIST, list_fqdn(l));
	queue_meta_set(meta, META_KIND, plain ? "digest-plain" : "digest-mime");
	queue_meta_set(meta, META_SENDER, bounces);
	queue_meta_set(meta, META_MESSAGE_ID, message_header(msg, "Message-ID"));
	queue_meta_set(meta, META_SUBJECT, subject != NULL ? subject : "");
	queue_meta_set(meta, META_NODECORATE, "yes");
	queue_meta_set_int(meta, META_RECEIVED, now_usec());
	for (guint i = 0; i < rcpts->len; i++)
		queue_meta_add(meta, META_RCPT, rcpts->pdata[i]);
	data = queue_format(meta, (const char *)bytes->data, bytes->len);
	(void)fs_unlink(tmp);
	if (fs_create_synced(tmp, data->str, data->len, &ino, error) == 0 &&
	    fs_commit_rename(tmp, path, dir, ino, error) == 0)
		r = 0;
	g_string_free(data, TRUE);
	g_free(subject);
	g_free(tmp);
	g_free(path);
	g_free(bounces);
	g_byte_array_unref(bytes);
	queue_meta_free(&meta);
	return r;
}

/* Removes what an earlier build of this issue left (it died before
 * "built": nothing of it was handed over). */
static int
clear_build(const char *dir, GError **error)
{
	GPtrArray *names = fs_dir_names(dir, "out-", error);

	if (names == NULL)
		return -1;
	for (guint i = 0; i < names->len; i++) {
		char *path = g_build_filename(dir, names->pdata[i], NULL);

		if (fs_unlink(path) < 0 && errno != ENOENT) {
			set_errno_error(error, "unlink(%s)", path);
			g_free(path);
			g_ptr_array_unref(names);
			return -1;
		}
		g_free(path);
	}
	g_ptr_array_unref(names);
	return 0;
}

static char *
new_message_id(struct list *l, const struct digest_claim *c)
{
	const char *at = strchr(list_fqdn(l), '@');
	char *rnd = random_hex(8);
	char *id = g_strdup_printf("<herald-digest.%lld.%lld.%s%s>",
				   (long long)c->volume, (long long)c->issue,
				   rnd, at != NULL ? at : "@localhost");

	g_free(rnd);
	return id;
}

static int
build_kind(struct list *l, const struct digest_claim *c,
	   const struct digest_issue *d, GPtrArray *rcpts, gboolean plain,
	   GError **error)
{
	GMimeMessage *msg;
	int r;

	if (rcpts->len == 0)
		return 0;
	msg = plain ? digest_build_plain(l, d, error) : digest_build_mime(l, d, error);
	if (msg == NULL)
		return -1;
	r = write_entry(l, c->dir, plain, msg, rcpts, error);
	g_object_unref(msg);
	return r;
}

static int
build_issue(struct list *l, const struct digest_claim *c, time_t now,
	    GError **error)
{
	struct recipients rc = { 0 };
	struct digest_issue d = { .volume = c->volume, .issue = c->issue,
				  .date = now };
	char *marker = g_build_filename(c->dir, "built", NULL), *text = NULL;
	char *id = new_message_id(l, c);
	int r = -1;

	d.message_id = id;
	if (clear_build(c->dir, error) < 0 ||
	    (d.posts = posts_load(c, error)) == NULL ||
	    recipients_load(l, c->dir, &rc, error) < 0)
		goto out;
	if (build_kind(l, c, &d, rc.mime, FALSE, error) < 0 ||
	    build_kind(l, c, &d, rc.plain, TRUE, error) < 0)
		goto out;
	text = g_strdup_printf("posts %u\nmime %u\nplain %u\n", d.posts->len,
			       rc.mime->len, rc.plain->len);
	r = fs_write_atomic(marker, text, strlen(text), error);
out:
	if (d.posts != NULL)
		g_ptr_array_unref(d.posts);
	recipients_clear(&rc);
	g_free(text);
	g_free(id);
	g_free(marker);
	return r;
}

/* --- steps 3 and 4 ---------------------------------------------------------- */

static int
hand_over(struct list *l, const struct digest_claim *c, GError **error)
{
	GPtrArray *names = fs_dir_names(c->dir, "out-", error);
	struct queue *q = NULL;
	int r = -1;

	if (names == NULL)
		return -1;
	if ((q = queue_open(site_var_dir(list_site(l)), QUEUE_OUT, error)) == NULL)
		goto out;
	for (guint i = 0; i < names->len; i++) {
		char *path;

		if (!g_str_has_suffix(names->pdata[i], ENTRY_EXT))
			continue;
		path = g_build_filename(c->dir, names->pdata[i], NULL);
		r = queue_adopt(q, path, NULL, error);
		g_free(path);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	queue_close(&q);
	g_ptr_array_unref(names);
	return r;
}

static int
forget(const struct digest_claim *c, GError **error)
{
	GPtrArray *names = fs_dir_names(c->dir, NULL, error);
	char *parent = fs_dirname(c->dir);
	int r = -1;

	if (names == NULL)
		goto out;
	/* "built" goes last: until then a resumed send knows not to build. */
	for (guint pass = 0; pass < 2; pass++)
		for (guint i = 0; i < names->len; i++) {
			const char *n = names->pdata[i];
			char *path;

			if ((strcmp(n, "built") == 0) != (pass == 1))
				continue;
			path = g_build_filename(c->dir, n, NULL);
			if (fs_unlink(path) < 0 && errno != ENOENT) {
				set_errno_error(error, "unlink(%s)", path);
				g_free(path);
				goto out;
			}
			g_free(path);
		}
	if (rmdir(c->dir) < 0 && errno != ENOENT) {
		/* NFS: a file removed while some process holds it open stays
		 * as a hidden .nfs* name until it is closed.  The issue is
		 * sent: out of the way (no longer send-*) rather than in the
		 * way of every later send. */
		char *aside = g_strdup_printf("%s/sent-%lld-%lld.%s.%d", parent,
					      (long long)c->volume, (long long)c->issue,
					      herald_host(), (int)getpid());
		int err = errno;
		struct stat st;

		if ((err != ENOTEMPTY && err != EEXIST) || fs_stat(c->dir, &st) < 0 ||
		    fs_rename_checked(c->dir, aside, st.st_ino) < 0) {
			set_errno_error_n(error, err, "rmdir(%s)", c->dir);
			g_free(aside);
			goto out;
		}
		log_info(DIGEST_SUBSYS, "%s is not empty yet: left as %s", c->dir, aside);
		g_free(aside);
	}
	r = fs_sync_dir(parent, error);
out:
	if (names != NULL)
		g_ptr_array_unref(names);
	g_free(parent);
	return r;
}

/* The counts "built" recorded. */
static void
read_built(const char *dir, struct digest_sent *sent)
{
	char *path = g_build_filename(dir, "built", NULL), *data = NULL;
	unsigned posts = 0, mime = 0, plain = 0;
	size_t len;

	if (fs_read_file(path, &data, &len, NULL) > 0 &&
	    sscanf(data, "posts %u\nmime %u\nplain %u", &posts, &mime, &plain) == 3) {
		sent->posts += posts;
		sent->mime_rcpts += mime;
		sent->plain_rcpts += plain;
	}
	g_free(data);
	g_free(path);
}

static int
finish_issue(struct list *l, const struct digest_claim *c, time_t now,
	     struct digest_sent *sent, GError **error)
{
	char *marker = g_build_filename(c->dir, "built", NULL);
	struct digest_sent one = { 0 };
	gboolean built = g_file_test(marker, G_FILE_TEST_EXISTS);
	int r = -1;

	if (!built) {
		GPtrArray *posts = digest_claim_posts(c, error);
		guint n = posts != NULL ? posts->len : 0;

		if (posts == NULL)
			goto out;
		g_ptr_array_unref(posts);
		/* No posts and not built: a forget that died before its
		 * rmdir (it removes "built" after the posts). */
		if (n == 0) {
			r = forget(c, error);
			goto out;
		}
		if (build_issue(l, c, now, error) < 0)
			goto out;
	}
	read_built(c->dir, &one);
	if (hand_over(l, c, error) < 0 || forget(c, error) < 0)
		goto out;
	log_info(DIGEST_SUBSYS, "list %s: digest vol %lld, issue %lld: %u "
		 "posts to %u MIME and %u plain recipients%s", list_fqdn(l),
		 (long long)c->volume, (long long)c->issue, one.posts,
		 one.mime_rcpts, one.plain_rcpts, built ? " (resumed)" : "");
	sent->issues++;
	sent->posts += one.posts;
	sent->mime_rcpts += one.mime_rcpts;
	sent->plain_rcpts += one.plain_rcpts;
	r = 0;
out:
	g_free(marker);
	return r;
}

/* --- the send ------------------------------------------------------------- */

static int
send_locked(struct list *l, struct lock *lk, time_t now, uint64_t min_bytes,
	    struct digest_sent *sent, GError **error)
{
	struct digest_claim *c = NULL;
	GPtrArray *left;
	int r;

	if (digest_unfinished(l, &left, error) < 0)
		return -1;
	for (guint i = 0; i < left->len; i++)
		if (finish_issue(l, left->pdata[i], now, sent, error) < 0 ||
		    lock_refresh(lk, error) < 0) {
			g_ptr_array_unref(left);
			return -1;
		}
	g_ptr_array_unref(left);
	if (min_bytes == G_MAXUINT64)
		return 0;
	if ((r = digest_claim(l, now, min_bytes, &c, error)) <= 0)
		return r;
	r = finish_issue(l, c, now, sent, error);
	digest_claim_free(&c);
	return r;
}

int
digest_send(struct list *l, time_t now, uint64_t min_bytes,
	    int64_t timeout_ms, struct digest_sent *sent_r, GError **error)
{
	struct site *site = list_site(l);
	char *locks = site_path(site, "locks", NULL);
	char *name = g_strdup_printf("digest-%s", list_fqdn(l));
	struct lock *lk = lock_new(locks, name,
				   site_get_int(site, "lock.lifetime") * 1000);
	struct digest_sent sent = { 0 };
	GError *local = NULL;
	int r = -1;

	if (lock_acquire(lk, timeout_ms, &local) < 0) {
		if (!g_error_matches(local, HERALD_ERROR, HERALD_ERR_TIMEOUT)) {
			g_propagate_error(error, local);
			goto out;
		}
		g_error_free(local);
		r = 0;		/* another process is sending */
		goto out;
	}
	if (send_locked(l, lk, now, min_bytes, &sent, error) == 0 &&
	    lock_release(lk, error) == 0)
		r = 1;
out:
	if (sent_r != NULL)
		*sent_r = sent;
	lock_free(&lk);
	g_free(name);
	g_free(locks);
	return r;
}
