/*
 * store.c - a list's pending digest on disk: the posts waiting, the
 * numbering of volumes and issues, the members owed one last digest, and
 * the claim that makes the pending posts an issue.
 *
 * One file per post, named by the digest-queue entry it came from, written
 * to a .tmp file, fsync'ed and renamed into pending/ under the list lock
 * (the posts of a runner's batch together: one lock, one directory sync):
 * a crash leaves the post whole or absent (its queue entry, not yet
 * finished, is handled again), and a post handled twice finds its name
 * taken.  Mailman appended to one mbox, where a crash mid-write left half
 * a message and NFS clients appending at once could interleave.
 *
 * The claim renames pending/ to send-<V>-<N>/ under the list lock, so a
 * post is in the pending set or in one issue, never both, even while
 * another process appends.  The names it claims go to "recent" for a day,
 * so that a queue entry handled again after its post was claimed (the
 * runner died between the two) is not added to the next issue too.
 *
 * A post's Message-ID leaves a marker beside it (mid-<SHA-1>, a hard link
 * to the post: a name, not a file of its own), claimed and remembered the
 * same way: the pipeline replayed after a crash of the
 * incoming runner's commit makes a second copy under another entry name
 * (pipe_fanout.c), and the marker keeps it out of the digests.
 *
 * Numbering: "state" holds the next issue; a claim is renamed before the
 * state is rewritten, so a crash between leaves a send directory whose
 * number the next claim sees and counts past.  Dates are local time, as
 * Mailman's: a volume starts at local midnight.
 */
#include "digest/digest.h"
#include "base/base.h"
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOCK_WAIT_MS 10000
#define RECENT_KEEP (24 * 3600)
#define POST_EXT ".msg"
#define SEND_PREFIX "send-"

static char *
digest_path(struct list *l, const char *name)
{
	return g_build_filename(list_dir(l), "digest", name, NULL);
}

gboolean
digest_post_name_ok(const char *name)
{
	if (*name == '\0' || strlen(name) > 200)
		return FALSE;
	for (const char *p = name; *p != '\0'; p++)
		if (!g_ascii_isalnum(*p) && *p != '+' && *p != '-' && *p != '_')
			return FALSE;
	return TRUE;
}

/* --- numbering ------------------------------------------------------------ */

struct numbering {
	int64_t volume, issue, last_sent;
	int64_t volume_started;	/* a volume started by hand (new-volume) */
};

static int
state_read(struct list *l, struct numbering *n, GError **error)
{
	char *path = digest_path(l, "state"), *data = NULL;
	size_t len;
	int r = fs_read_file(path, &data, &len, error);
	GKeyFile *kf;

	n->volume = 1;
	n->issue = 1;
	n->last_sent = 0;
	n->volume_started = 0;
	if (r <= 0) {
		g_free(path);
		return r;
	}
	kf = g_key_file_new();
	if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, NULL)) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "%s: not a key file", path);
		r = -1;
	} else {
		n->volume = MAX(1, g_key_file_get_int64(kf, "digest", "volume", NULL));
		n->issue = MAX(1, g_key_file_get_int64(kf, "digest", "issue", NULL));
		n->last_sent = g_key_file_get_int64(kf, "digest", "last_sent", NULL);
		n->volume_started = g_key_file_get_int64(kf, "digest",
							 "volume_started", NULL);
	}
	g_key_file_free(kf);
	g_free(data);
	g_free(path);
	return r < 0 ? -1 : 0;
}

static int
state_write(struct list *l, const struct numbering *n, GError **error)
{
	char *path = digest_path(l, "state");
	char *text = g_strdup_printf("[digest]\nvolume=%" G_GINT64_FORMAT
				     "\nissue=%" G_GINT64_FORMAT
				     "\nlast_sent=%" G_GINT64_FORMAT
				     "\nvolume_started=%" G_GINT64_FORMAT "\n",
				     n->volume, n->issue, n->last_sent,
				     n->volume_started);
	int r = fs_write_atomic(path, text, strlen(text), error);

	g_free(text);
	g_free(path);
	return r;
}

/* The day number (Julian) of local time t, and its weekday (1 Monday). */
static guint32
local_day(time_t t, struct tm *tm)
{
	GDate d;

	localtime_r(&t, tm);
	g_date_clear(&d, 1);
	g_date_set_dmy(&d, (GDateDay)tm->tm_mday, (GDateMonth)(tm->tm_mon + 1),
		       (GDateYear)(tm->tm_year + 1900));
	return g_date_get_julian(&d);
}

static int64_t
period_of(enum digest_frequency freq, time_t t)
{
	struct tm tm;
	guint32 day = local_day(t, &tm);
	int64_t year = tm.tm_year + 1900;

	switch (freq) {
	case DIGEST_YEARLY:
		return year;
	case DIGEST_MONTHLY:
		return year * 12 + tm.tm_mon;
	case DIGEST_QUARTERLY:	/* Mailman's month % 4 was a bug */
		return year * 4 + tm.tm_mon / 3;
	case DIGEST_WEEKLY:
		return day - (tm.tm_wday + 6) % 7;
	case DIGEST_DAILY:
	default:
		return day;
	}
}

gboolean
digest_new_period(enum digest_frequency freq, time_t last, time_t now)
{
	if (last <= 0)
		return FALSE;
	return period_of(freq, last) != period_of(freq, now);
}

static int
parse_send_name(const char *name, int64_t *v_r, int64_t *n_r)
{
	long long v, n;
	int end = 0;

	if (!g_str_has_prefix(name, SEND_PREFIX) ||
	    sscanf(name + strlen(SEND_PREFIX), "%lld-%lld%n", &v, &n, &end) != 2 ||
	    name[strlen(SEND_PREFIX) + (size_t)end] != '\0' || v < 1 || n < 1)
		return -1;
	*v_r = v;
	*n_r = n;
	return 0;
}

static gint
claim_compare(gconstpointer a, gconstpointer b)
{
	const struct digest_claim *x = *(struct digest_claim *const *)a;
	const struct digest_claim *y = *(struct digest_claim *const *)b;

	if (x->volume != y->volume)
		return x->volume < y->volume ? -1 : 1;
	return x->issue < y->issue ? -1 : x->issue > y->issue;
}

void
digest_claim_free(struct digest_claim **cp)
{
	if (*cp == NULL)
		return;
	g_free((*cp)->dir);
	g_clear_pointer(cp, g_free);
}

static void
claim_free_cb(gpointer p)
{
	struct digest_claim *c = p;

	digest_claim_free(&c);
}

int
digest_unfinished(struct list *l, GPtrArray **claims_r, GError **error)
{
	char *dir = g_build_filename(list_dir(l), "digest", NULL);
	GPtrArray *names = NULL, *out;
	GError *local = NULL;

	*claims_r = NULL;
	if ((names = fs_dir_names(dir, SEND_PREFIX, &local)) == NULL) {
		if (g_file_test(dir, G_FILE_TEST_IS_DIR)) {
			g_propagate_error(error, local);
			g_free(dir);
			return -1;
		}
		g_clear_error(&local);
		names = g_ptr_array_new_with_free_func(g_free);
	}
	out = g_ptr_array_new_with_free_func(claim_free_cb);
	for (guint i = 0; i < names->len; i++) {
		struct digest_claim *c = g_new0(struct digest_claim, 1);

		if (parse_send_name(names->pdata[i], &c->volume, &c->issue) < 0) {
			g_free(c);
			continue;
		}
		c->dir = g_build_filename(dir, names->pdata[i], NULL);
		g_ptr_array_add(out, c);
	}
	g_ptr_array_sort(out, claim_compare);
	g_ptr_array_unref(names);
	g_free(dir);
	*claims_r = out;
	return 0;
}

/* The next issue's numbers at time now: the state, past any claim a crash
 * left before the state was rewritten, and a new volume when now starts a
 * new period. */
static int
next_numbers(struct list *l, time_t now, struct numbering *n, GError **error)
{
	GPtrArray *claims;

	if (state_read(l, n, error) < 0 || digest_unfinished(l, &claims, error) < 0)
		return -1;
	for (guint i = 0; i < claims->len; i++) {
		const struct digest_claim *c = claims->pdata[i];

		if (c->volume > n->volume ||
		    (c->volume == n->volume && c->issue >= n->issue)) {
			n->volume = c->volume;
			n->issue = c->issue + 1;
		}
	}
	g_ptr_array_unref(claims);
	/* A volume started by hand counts as sent in its period: the next
	 * digest of that period does not start another. */
	if (digest_new_period(list_get_int(l, "digest_volume_frequency"),
			      (time_t)MAX(n->last_sent, n->volume_started), now)) {
		n->volume++;
		n->issue = 1;
	}
	return 0;
}

/* --- the pending posts ---------------------------------------------------- */

/* The posts in directory dir: their names (with .msg) and total size. */
static GPtrArray *
posts_in(const char *dir, uint64_t *bytes_r, GError **error)
{
	GError *local = NULL;
	GPtrArray *names = fs_dir_names(dir, NULL, &local), *out;

	if (bytes_r != NULL)
		*bytes_r = 0;
	if (names == NULL) {
		if (g_file_test(dir, G_FILE_TEST_EXISTS)) {
			g_propagate_error(error, local);
			return NULL;
		}
		g_clear_error(&local);	/* no posts yet */
		return g_ptr_array_new_with_free_func(g_free);
	}
	out = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < names->len; i++) {
		const char *name = names->pdata[i];
		struct stat st;
		char *path;

		if (!g_str_has_suffix(name, POST_EXT))
			continue;
		path = g_build_filename(dir, name, NULL);
		if (bytes_r != NULL && fs_stat(path, &st) == 0)
			*bytes_r += (uint64_t)st.st_size;
		g_free(path);
		g_ptr_array_add(out, g_strdup(name));
	}
	g_ptr_array_unref(names);
	return out;
}

GPtrArray *
digest_claim_posts(const struct digest_claim *c, GError **error)
{
	return posts_in(c->dir, NULL, error);
}

/* Whether "recent" names post name (claimed by a send of the last day). */
static int
recently_claimed(struct list *l, const char *name, GError **error)
{
	char *path = digest_path(l, "recent"), *data = NULL, *needle;
	size_t len;
	int r = fs_read_file(path, &data, &len, error);

	g_free(path);
	if (r <= 0)
		return r;
	needle = g_strconcat(" ", name, "\n", NULL);
	r = strstr(data, needle) != NULL;
	g_free(needle);
	g_free(data);
	return r;
}

/* Whether post name is pending or in an unfinished issue already. */
static int
already_there(struct list *l, const char *file, GError **error)
{
	char *pending = digest_path(l, "pending");
	char *path = g_build_filename(pending, file, NULL);
	GPtrArray *claims = NULL;
	gboolean there = g_file_test(path, G_FILE_TEST_EXISTS);

	g_free(path);
	g_free(pending);
	if (there)
		return 1;
	if (digest_unfinished(l, &claims, error) < 0)
		return -1;
	for (guint i = 0; i < claims->len && !there; i++) {
		const struct digest_claim *c = claims->pdata[i];

		path = g_build_filename(c->dir, file, NULL);
		there = g_file_test(path, G_FILE_TEST_EXISTS);
		g_free(path);
	}
	g_ptr_array_unref(claims);
	return there;
}

/* Whether file (a post, or a Message-ID's marker) was added before: it is
 * pending, in an unfinished issue, or claimed by a send of the last day. */
static int
seen_before(struct list *l, const char *file, GError **error)
{
	int there = already_there(l, file, error);

	if (there == 0)
		there = recently_claimed(l, file, error);
	return there;
}

/* The marker of a Message-ID: mid-<SHA-1 of it>. */
static char *
message_id_marker(const char *message_id)
{
	char *hex = g_compute_checksum_for_string(G_CHECKSUM_SHA1, message_id, -1);
	char *marker = g_strconcat("mid-", hex, NULL);

	g_free(hex);
	return marker;
}

/* Writes the new posts of a batch into pending/: each to a .tmp file,
 * synced; all renamed into place and the directory synced; then each
 * one's Message-ID marker, a hard link to it (no file of its own), and
 * the directory synced again.  The posts are durable before any marker
 * is: a crash between leaves a post that a copy made again may double,
 * never a marker that drops a post nobody stored. */
static int
write_posts(const char *pending, struct digest_post *posts, guint n,
	    GError **error)
{
	char **tmp = g_new0(char *, n + 1);
	ino_t *ino = g_new0(ino_t, n ? n : 1);
	int r = -1;
	guint i;

	for (i = 0; i < n; i++) {
		if (!posts[i].added)
			continue;
		char *final = g_build_filename(pending, posts[i].file, NULL);

		tmp[i] = g_strdup_printf("%s.%s.%d.tmp", final, herald_host(),
					 (int)getpid());
		g_free(final);
		(void)fs_unlink(tmp[i]);	/* our own leftover: this pid died */
		if (fs_create_synced(tmp[i], posts[i].msg, posts[i].len, &ino[i],
				     error) < 0) {
			g_clear_pointer(&tmp[i], g_free);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (tmp[i] == NULL)
			continue;
		char *final = g_build_filename(pending, posts[i].file, NULL);
		int rr = fs_rename_checked(tmp[i], final, ino[i]);

		if (rr < 0)
			set_errno_error(error, "rename(%s, %s)", tmp[i], final);
		g_free(final);
		if (rr < 0)
			goto out;
		g_clear_pointer(&tmp[i], g_free);
	}
	if (fs_sync_dir(pending, error) < 0)
		goto out;
	gboolean linked = FALSE;

	for (i = 0; i < n; i++) {
		if (!posts[i].added || posts[i].marker == NULL)
			continue;
		char *final = g_build_filename(pending, posts[i].file, NULL);
		char *marker = g_build_filename(pending, posts[i].marker, NULL);
		/* EEXIST: a lost NFS reply to our own link. */
		int rr = link(final, marker) < 0 && errno != EEXIST ? -1 : 0;

		if (rr < 0)
			set_errno_error(error, "link(%s, %s)", final, marker);
		g_free(final);
		g_free(marker);
		if (rr < 0)
			goto out;
		linked = TRUE;
	}
	r = linked ? fs_sync_dir(pending, error) : 0;
out:
	for (i = 0; i < n; i++)
		if (tmp[i] != NULL)
			(void)fs_unlink(tmp[i]);
	g_strfreev(tmp);
	g_free(ino);
	return r;
}

int
digest_append_batch(struct list *l, struct digest_post *posts, guint n,
		    uint64_t *bytes_r, GError **error)
{
	char *pending = digest_path(l, "pending");
	GHashTable *markers = g_hash_table_new(g_str_hash, g_str_equal);
	struct lock *lk = NULL;
	GPtrArray *found;
	int r = -1, added = 0;

	for (guint i = 0; i < n; i++) {
		posts[i].added = FALSE;
		posts[i].file = g_strconcat(posts[i].name, POST_EXT, NULL);
		posts[i].marker = posts[i].message_id != NULL &&
				  *posts[i].message_id != '\0'
				  ? message_id_marker(posts[i].message_id) : NULL;
		if (!digest_post_name_ok(posts[i].name)) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
				    "'%s' is no name for a digest post", posts[i].name);
			goto out;
		}
	}
	if (list_lock(l, LOCK_WAIT_MS, &lk, error) < 0)
		goto out;
	for (guint i = 0; i < n; i++) {
		struct digest_post *p = &posts[i];
		int there;

		/* A second copy in this batch is as good as one stored. */
		if (p->marker != NULL && g_hash_table_contains(markers, p->marker))
			continue;
		if ((there = seen_before(l, p->file, error)) < 0 ||
		    (there == 0 && p->marker != NULL &&
		     (there = seen_before(l, p->marker, error)) < 0))
			goto out;
		if (there)
			continue;
		p->added = TRUE;
		added++;
		if (p->marker != NULL)
			g_hash_table_add(markers, p->marker);
	}
	if (added > 0 && (fs_mkdir_p(pending, 0770, error) < 0 ||
			  write_posts(pending, posts, n, error) < 0))
		goto out;
	if (bytes_r != NULL) {
		if ((found = posts_in(pending, bytes_r, error)) == NULL)
			goto out;
		g_ptr_array_unref(found);
	}
	if (lock_release(lk, error) < 0)
		goto out;
	r = added;
out:
	lock_free(&lk);
	g_hash_table_destroy(markers);
	for (guint i = 0; i < n; i++) {
		g_clear_pointer(&posts[i].file, g_free);
		g_clear_pointer(&posts[i].marker, g_free);
		if (r < 0)
			posts[i].added = FALSE;
	}
	g_free(pending);
	return r;
}

int
digest_append(struct list *l, const char *name, const char *message_id,
	      const char *msg, size_t len, uint64_t *bytes_r, GError **error)
{
	struct digest_post post = {
		.name = name, .message_id = message_id, .msg = msg, .len = len,
	};

	return digest_append_batch(l, &post, 1, bytes_r, error);
}

/* --- members owed one last digest ---------------------------------------- */

int
digest_owe_last(struct list *l, const char *addr, enum member_mode mode,
		GError **error)
{
	char *pending = digest_path(l, "pending");
	char *path = g_build_filename(pending, "one-last", NULL);
	char *data = NULL, *line;
	GPtrArray *posts = NULL;
	struct lock *lk = NULL;
	GString *text;
	size_t len;
	int r = -1;

	if (list_lock(l, LOCK_WAIT_MS, &lk, error) < 0)
		goto out;
	/* Kept with the posts, so the claim that takes them takes it too;
	 * nothing pending, nothing owed. */
	if ((posts = posts_in(pending, NULL, error)) == NULL)
		goto out;
	if (posts->len == 0) {
		r = lock_release(lk, error);
		goto out;
	}
	if (fs_read_file(path, &data, &len, error) < 0)
		goto out;
	text = g_string_new(data);
	line = g_strdup_printf("%s %s\n", member_mode_name(mode), addr);
	if (strstr(text->str, line) == NULL)
		g_string_append(text, line);
	g_free(line);
	r = fs_write_atomic(path, text->str, text->len, error);
	g_string_free(text, TRUE);
	if (r == 0)
		r = lock_release(lk, error);
out:
	if (posts != NULL)
		g_ptr_array_unref(posts);
	lock_free(&lk);
	g_free(data);
	g_free(path);
	g_free(pending);
	return r;
}

/* --- status and the claim ----------------------------------------------- */

static guint
count_lines(const char *path)
{
	char *data = NULL;
	size_t len;
	guint n = 0;

	if (fs_read_file(path, &data, &len, NULL) > 0)
		for (size_t i = 0; i < len; i++)
			n += data[i] == '\n';
	g_free(data);
	return n;
}

int
digest_status_get(struct list *l, time_t now, struct digest_status *st,
		  GError **error)
{
	char *pending = digest_path(l, "pending");
	char *owed = g_build_filename(pending, "one-last", NULL);
	GPtrArray *posts = posts_in(pending, &st->bytes, error), *claims = NULL;
	struct numbering n;
	int r = -1;

	if (posts == NULL || next_numbers(l, now, &n, error) < 0 ||
	    digest_unfinished(l, &claims, error) < 0)
		goto out;
	st->posts = posts->len;
	st->volume = n.volume;
	st->issue = n.issue;
	st->last_sent = n.last_sent;
	st->unfinished = claims->len;
	st->one_last = count_lines(owed);
	r = 0;
out:
	if (posts != NULL)
		g_ptr_array_unref(posts);
	if (claims != NULL)
		g_ptr_array_unref(claims);
	g_free(owed);
	g_free(pending);
	return r;
}

/* "recent" with the names of posts (claimed at now) added and the lines
 * older than RECENT_KEEP dropped. */
static int
recent_add(struct list *l, GPtrArray *posts, time_t now, GError **error)
{
	char *path = digest_path(l, "recent"), *data = NULL;
	GString *out = g_string_new(NULL);
	size_t len;
	int r;

	if ((r = fs_read_file(path, &data, &len, error)) > 0) {
		char **lines = g_strsplit(data, "\n", -1);

		for (guint i = 0; lines[i] != NULL; i++)
			if (g_ascii_strtoll(lines[i], NULL, 10) > now - RECENT_KEEP)
				g_string_append_printf(out, "%s\n", lines[i]);
		g_strfreev(lines);
	}
	for (guint i = 0; r >= 0 && i < posts->len; i++)
		g_string_append_printf(out, "%lld %s\n", (long long)now,
				       (char *)posts->pdata[i]);
	if (r >= 0)
		r = fs_write_atomic(path, out->str, out->len, error);
	g_string_free(out, TRUE);
	g_free(data);
	g_free(path);
	return r < 0 ? -1 : 0;
}

static int
claim_locked(struct list *l, time_t now, uint64_t min_bytes,
	     struct digest_claim **claim_r, GError **error)
{
	char *digest_dir = g_build_filename(list_dir(l), "digest", NULL);
	char *pending = digest_path(l, "pending"), *name = NULL, *dir = NULL;
	GPtrArray *posts, *markers = NULL;
	struct numbering n;
	struct stat st;
	uint64_t bytes;
	int r = -1;

	if ((posts = posts_in(pending, &bytes, error)) == NULL)
		goto out;
	if (posts->len == 0 || (min_bytes > 0 && bytes < min_bytes)) {
		r = 0;
		goto out;
	}
	if ((markers = fs_dir_names(pending, "mid-", error)) == NULL)
		goto out;
	for (guint i = 0; i < markers->len; i++)
		g_ptr_array_add(posts, g_strdup(markers->pdata[i]));
	if (next_numbers(l, now, &n, error) < 0 ||
	    recent_add(l, posts, now, error) < 0)
		goto out;
	name = g_strdup_printf(SEND_PREFIX "%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT,
			       n.volume, n.issue);
	dir = g_build_filename(digest_dir, name, NULL);
	/* One rename makes every pending post this issue's; judged by the
	 * inode when NFS loses the reply. */
	if (fs_stat(pending, &st) < 0 ||
	    fs_rename_checked(pending, dir, st.st_ino) < 0) {
		set_errno_error(error, "rename(%s, %s)", pending, dir);
		goto out;
	}
	if (fs_sync_dir(digest_dir, error) < 0)
		goto out;
	*claim_r = g_new0(struct digest_claim, 1);
	(*claim_r)->dir = g_steal_pointer(&dir);
	(*claim_r)->volume = n.volume;
	(*claim_r)->issue = n.issue;
	n.issue++;
	n.last_sent = now;
	r = state_write(l, &n, error) < 0 ? -1 : 1;
	if (r < 0)	/* the claim stands: its number is counted past */
		digest_claim_free(claim_r);
out:
	if (posts != NULL)
		g_ptr_array_unref(posts);
	if (markers != NULL)
		g_ptr_array_unref(markers);
	g_free(name);
	g_free(dir);
	g_free(pending);
	g_free(digest_dir);
	return r;
}

int
digest_claim(struct list *l, time_t now, uint64_t min_bytes,
	     struct digest_claim **claim_r, GError **error)
{
	struct lock *lk = NULL;
	int r;

	*claim_r = NULL;
	if (list_lock(l, LOCK_WAIT_MS, &lk, error) < 0)
		return -1;
	r = claim_locked(l, now, min_bytes, claim_r, error);
	if (r >= 0 && lock_release(lk, error) < 0) {
		digest_claim_free(claim_r);
		r = -1;
	}
	lock_free(&lk);
	return r;
}

int
digest_new_volume(struct list *l, time_t now, int64_t *volume_r,
		  GError **error)
{
	struct lock *lk = NULL;
	struct numbering n;
	int r = -1;

	if (list_lock(l, LOCK_WAIT_MS, &lk, error) < 0)
		return -1;
	if (next_numbers(l, now, &n, error) == 0) {
		n.volume++;
		n.issue = 1;
		n.volume_started = now;
		if (state_write(l, &n, error) == 0 && lock_release(lk, error) == 0) {
			*volume_r = n.volume;
			r = 0;
		}
	}
	lock_free(&lk);
	return r;
}
