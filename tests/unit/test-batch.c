/*
 * test-batch.c - unit tests for group commit: queue_batch_* (queue.c) and
 * the runner that uses it (runner.c).  A batched entry is invisible until
 * its batch commits; a rollback or an uncommitted batch leaves nothing; a
 * runner finishes an entry only after the batch holding its output has
 * committed (batches of 1, 2, 4, ... entries after it starts), drops the
 * output of an entry it shunts or gives back, and a recovery after a crash
 * counts a strike only against the entry the runner was working on.
 */
#include "base/base.h"
#include "store/queue.h"
#include "store/runner.h"

#include <stdio.h>
#include <string.h>

#include "testutil.h"

static struct queue *
open_queue(const char *var, const char *name)
{
	GError *error = NULL;
	struct queue *q = queue_open(var, name, &error);

	g_assert_no_error(error);
	g_assert_nonnull(q);
	return q;
}

static int
count(struct queue *q, const char *ext)
{
	GError *error = NULL;
	int n = queue_count(q, ext, &error);

	g_assert_no_error(error);
	return n;
}

/* Files in q's directory whose names end in suffix. */
static int
files(struct queue *q, const char *suffix)
{
	GDir *d = g_dir_open(queue_dir(q), 0, NULL);
	const char *e;
	int n = 0;

	g_assert_nonnull(d);
	while ((e = g_dir_read_name(d)) != NULL)
		if (g_str_has_suffix(e, suffix))
			n++;
	g_dir_close(d);
	return n;
}

/* The entries in q's .msg files, a bundle's members each counted, and
 * (texts_r, optional) their messages. */
static int
entries(struct queue *q, GPtrArray **texts_r)
{
	GPtrArray *bases = NULL, *texts = g_ptr_array_new_with_free_func(g_free);
	GError *error = NULL;
	int n = 0;

	g_assert_cmpint(queue_list(q, ".msg", 0, 1, &bases, &error), ==, 0);
	for (guint i = 0; i < bases->len; i++) {
		struct queue_item *it = NULL;
		GPtrArray *members = NULL;

		g_assert_cmpint(queue_read(q, bases->pdata[i], ".msg", &it, &error),
				==, 1);
		if (queue_item_is_bundle(it)) {
			g_assert_cmpint(queue_bundle_members(it, &members, &error),
					==, 0);
		} else {
			members = g_ptr_array_new();
			g_ptr_array_add(members, it);
		}
		for (guint j = 0; j < members->len; j++) {
			struct queue_item *m = members->pdata[j];

			g_ptr_array_add(texts, g_strndup(m->msg, m->msg_len));
			n++;
		}
		/* A bundle's members are freed with it; it alone is freed
		 * below. */
		g_ptr_array_free(members, TRUE);
		queue_item_free(&it);
	}
	g_ptr_array_free(bases, TRUE);
	if (texts_r != NULL)
		*texts_r = texts;
	else
		g_ptr_array_free(texts, TRUE);
	return n;
}

static void
put(struct queue *q, const char *msg, gboolean batched)
{
	struct queue_meta *m = queue_meta_new();
	GError *error = NULL;
	int r;

	queue_meta_set(m, "list", "demo@example.org");
	r = batched ? queue_enqueue_batched(q, m, msg, strlen(msg), NULL, &error)
		    : queue_enqueue(q, m, msg, strlen(msg), NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(r, ==, 0);
	queue_meta_free(&m);
}

static void
test_batched_entries_invisible_until_commit(void)
{
	char *var = tmp_dir_new();
	struct queue *out = open_queue(var, "out");
	struct queue *arch = open_queue(var, "archive");
	struct queue_batch *b = queue_batch_begin();
	GError *error = NULL;

	put(out, "one", TRUE);
	put(arch, "one", TRUE);
	put(out, "two", TRUE);
	g_assert_cmpuint(queue_batch_size(b), ==, 3);
	g_assert_cmpint(count(out, ".msg"), ==, 0);
	g_assert_cmpint(count(arch, ".msg"), ==, 0);
	g_assert_cmpint(files(out, ".tmp"), ==, 2);
	g_assert_cmpint(queue_batch_commit(b, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(queue_batch_size(b), ==, 0);
	g_assert_cmpint(count(out, ".msg"), ==, 2);
	g_assert_cmpint(count(arch, ".msg"), ==, 1);
	g_assert_cmpint(files(out, ".tmp") + files(arch, ".tmp"), ==, 0);
	queue_batch_end(&b);
	g_assert_null(b);
	queue_close(&out);
	queue_close(&arch);
	tmp_dir_remove(&var);
}

static void
test_rollback_drops_entries_after_mark(void)
{
	char *var = tmp_dir_new();
	struct queue *out = open_queue(var, "out");
	struct queue_batch *b = queue_batch_begin();
	GError *error = NULL;
	guint mark;

	put(out, "kept", TRUE);
	mark = queue_batch_size(b);
	put(out, "dropped 1", TRUE);
	put(out, "dropped 2", TRUE);
	queue_batch_rollback(b, mark);
	g_assert_cmpuint(queue_batch_size(b), ==, 1);
	g_assert_cmpint(files(out, ".tmp"), ==, 1);
	g_assert_cmpint(queue_batch_commit(b, &error), ==, 0);
	g_assert_cmpint(count(out, ".msg"), ==, 1);
	g_assert_cmpint(files(out, ".tmp"), ==, 0);
	queue_batch_end(&b);
	queue_close(&out);
	tmp_dir_remove(&var);
}

static void
test_end_without_commit_leaves_nothing(void)
{
	char *var = tmp_dir_new();
	struct queue *out = open_queue(var, "out");
	struct queue_batch *b = queue_batch_begin();

	put(out, "never stored", TRUE);
	queue_batch_end(&b);
	g_assert_cmpint(count(out, NULL), ==, 0);
	g_assert_cmpint(files(out, ".tmp"), ==, 0);
	/* With no batch, a batched enqueue is an ordinary one. */
	put(out, "stored at once", TRUE);
	g_assert_cmpint(count(out, ".msg"), ==, 1);
	queue_close(&out);
	tmp_dir_remove(&var);
}

static void
test_recover_strikes_only_the_last_claimed(void)
{
	char *var = tmp_dir_new();
	struct queue *in = open_queue(var, "in");
	GPtrArray *bases = NULL;
	GError *error = NULL;

	for (int i = 0; i < 3; i++)
		put(in, "post", FALSE);
	g_assert_cmpint(queue_list(in, ".msg", 0, 1, &bases, &error), ==, 0);
	/* The runner claimed all three in order, handled two (their output
	 * waiting in its batch) and died working on the third. */
	for (guint i = 0; i < bases->len; i++)
		g_assert_cmpint(queue_claim(in, bases->pdata[i], &error), ==, 1);
	g_assert_cmpint(queue_recover(in, 0, 1, &error), ==, 3);
	g_assert_no_error(error);
	for (guint i = 0; i < bases->len; i++) {
		struct queue_item *it = NULL;

		g_assert_cmpint(queue_read(in, bases->pdata[i], ".msg", &it, &error),
				==, 1);
		g_assert_cmpint(queue_meta_get_int(it->meta, "bak-count", 0), ==,
				i == bases->len - 1 ? 1 : 0);
		queue_item_free(&it);
	}
	g_ptr_array_free(bases, TRUE);
	queue_close(&in);
	tmp_dir_remove(&var);
}

/* --- the runner ------------------------------------------------------------ */

struct copier {
	struct queue *in, *out;
	int calls;
	int fail_at;		/* the call that fails (1-based), 0: none */
	int fail_code;		/* its HERALD_ERR_* */
	gboolean ok;		/* every check inside the handler held */
};

/* Entries finished before call k (1-based) of a fresh runner: its batches
 * hold 1, 2, 4, ... entries (slow start), so it commits after calls 1, 3,
 * 7, ... */
static int
finished_before(int k)
{
	int done = 0;

	for (int size = 1; done + size < k; size *= 2)
		done += size;
	return done;
}

/* Copies each entry to "out" through the batch.  Checks, at each call,
 * that exactly the entries of committed batches are finished and their
 * copies visible, and the others still claimed with their copies not. */
static int
copy_handler(void *ctx, struct queue *q, struct queue_item *item,
	     GError **error)
{
	struct copier *c = ctx;
	struct queue_meta *m = queue_meta_copy(item->meta);
	int r, done;

	c->calls++;
	done = finished_before(c->calls);
	if (count(c->out, ".msg") != done ||
	    count(c->in, ".bak") != c->calls - done ||
	    count(c->in, NULL) != 5 - done)
		c->ok = FALSE;
	r = queue_enqueue_batched(c->out, m, item->msg, item->msg_len, NULL,
				  error);
	queue_meta_free(&m);
	if (r < 0)
		return -1;
	if (c->calls == c->fail_at) {
		g_set_error(error, HERALD_ERROR, c->fail_code, "handler failed");
		return -1;
	}
	return 0;
}

/* One pass of a fresh runner with handler over five entries of "in". */
static int
run_handler(const char *var, runner_handler_fn handler, struct copier *c,
	    GError **error)
{
	struct runner_config cfg = {
		.var_dir = var, .queue = "in", .slice = 0, .nslices = 1,
		.poll_ms = 10, .handler = handler, .handler_ctx = c,
		.once = TRUE,
	};

	c->in = open_queue(var, "in");
	c->out = open_queue(var, "out");
	c->ok = TRUE;
	for (int i = 0; i < 5; i++)
		put(c->in, "a post", FALSE);
	return runner_run(&cfg, error);
}

static void
copier_clear(struct copier *c)
{
	queue_close(&c->in);
	queue_close(&c->out);
}

static void
test_runner_finishes_only_after_commit(void)
{
	char *var = tmp_dir_new();
	struct copier c = { 0 };
	GError *error = NULL;

	g_assert_cmpint(run_handler(var, copy_handler, &c, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(c.calls, ==, 5);
	g_assert_true(c.ok);
	g_assert_cmpint(count(c.out, ".msg"), ==, 5);
	g_assert_cmpint(count(c.in, NULL), ==, 0);
	g_assert_cmpint(files(c.out, ".tmp"), ==, 0);
	copier_clear(&c);
	tmp_dir_remove(&var);
}

static void
test_runner_io_error_commits_earlier_drops_failed(void)
{
	char *var = tmp_dir_new();
	struct copier c = { .fail_at = 3, .fail_code = HERALD_ERR_IO };
	GError *error = NULL;

	g_assert_cmpint(run_handler(var, copy_handler, &c, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_clear_error(&error);
	/* The two handled before stored and finished; the failed one's copy
	 * dropped and it given back with the two never tried. */
	g_assert_cmpint(count(c.out, ".msg"), ==, 2);
	g_assert_cmpint(count(c.in, ".msg"), ==, 3);
	g_assert_cmpint(count(c.in, ".bak"), ==, 0);
	g_assert_cmpint(files(c.out, ".tmp"), ==, 0);
	copier_clear(&c);
	tmp_dir_remove(&var);
}

static void
test_runner_shunt_drops_partial_output(void)
{
	char *var = tmp_dir_new();
	struct copier c = { .fail_at = 2, .fail_code = HERALD_ERR_INVALID };
	struct queue *shunt;
	GError *error = NULL;

	g_assert_cmpint(run_handler(var, copy_handler, &c, &error), ==, 0);
	g_assert_no_error(error);
	shunt = open_queue(var, "shunt");
	/* The shunted post is redone whole on unshunt: its copy is not kept. */
	g_assert_cmpint(count(shunt, ".msg"), ==, 1);
	g_assert_cmpint(count(c.out, ".msg"), ==, 4);
	g_assert_cmpint(count(c.in, NULL), ==, 0);
	g_assert_cmpint(files(c.out, ".tmp"), ==, 0);
	queue_close(&shunt);
	copier_clear(&c);
	tmp_dir_remove(&var);
}

/* A handler that stores nothing through the batch (delivery, say). */
static int
deliver_handler(void *ctx, struct queue *q, struct queue_item *item,
		GError **error)
{
	struct copier *c = ctx;

	/* Every entry handled before this one is finished already. */
	c->calls++;
	if (count(c->in, NULL) != 5 - (c->calls - 1) ||
	    count(c->in, ".bak") != 1)
		c->ok = FALSE;
	return 0;
}

static void
test_runner_without_output_finishes_at_once(void)
{
	char *var = tmp_dir_new();
	struct copier c = { 0 };
	GError *error = NULL;

	g_assert_cmpint(run_handler(var, deliver_handler, &c, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(c.calls, ==, 5);
	g_assert_true(c.ok);
	g_assert_cmpint(count(c.in, NULL), ==, 0);
	copier_clear(&c);
	tmp_dir_remove(&var);
}

/* A handler that puts its work off to the flush (RUNNER_DEFERRED): counts
 * the entries waiting, checks that none of them is finished before the
 * flush that does their work, and records each flush's size. */
struct deferrer {
	struct copier c;
	int waiting;		/* handled, not yet flushed */
	GArray *flushed;	/* int: entries per flush */
	int fail_flush;		/* the flush that fails (1-based), 0: none */
};

static int
defer_handler(void *ctx, struct queue *q, struct queue_item *item,
	      GError **error)
{
	struct deferrer *d = ctx;

	d->c.calls++;
	d->waiting++;
	/* Every entry handled and not flushed is still claimed. */
	if (count(d->c.in, ".bak") != d->waiting)
		d->c.ok = FALSE;
	return RUNNER_DEFERRED;
}

static int
defer_flush(void *ctx, GError **error)
{
	struct deferrer *d = ctx;
	int n = d->waiting;

	d->waiting = 0;
	g_array_append_val(d->flushed, n);
	if ((int)d->flushed->len == d->fail_flush) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "flush failed");
		return -1;
	}
	return 0;
}

static int
run_deferrer(const char *var, struct deferrer *d, GError **error)
{
	struct runner_config cfg = {
		.var_dir = var, .queue = "in", .slice = 0, .nslices = 1,
		.poll_ms = 10, .handler = defer_handler, .handler_ctx = d,
		.flush = defer_flush, .once = TRUE,
	};

	d->c.in = open_queue(var, "in");
	d->c.ok = TRUE;
	d->flushed = g_array_new(FALSE, FALSE, sizeof(int));
	for (int i = 0; i < 7; i++)
		put(d->c.in, "a post", FALSE);
	return runner_run(&cfg, error);
}

static void
test_runner_deferred_work_is_flushed_per_batch(void)
{
	char *var = tmp_dir_new();
	struct deferrer d = { 0 };
	GError *error = NULL;

	g_assert_cmpint(run_deferrer(var, &d, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_true(d.c.ok);
	/* Batched as queue output is (slow start: 1, 2, 4), one flush each,
	 * not one per entry; then every entry is finished. */
	g_assert_cmpint(d.flushed->len, ==, 3);
	g_assert_cmpint(g_array_index(d.flushed, int, 0), ==, 1);
	g_assert_cmpint(g_array_index(d.flushed, int, 1), ==, 2);
	g_assert_cmpint(g_array_index(d.flushed, int, 2), ==, 4);
	g_assert_cmpint(count(d.c.in, NULL), ==, 0);
	g_array_free(d.flushed, TRUE);
	queue_close(&d.c.in);
	tmp_dir_remove(&var);
}

static void
test_runner_failed_flush_gives_the_batch_back(void)
{
	char *var = tmp_dir_new();
	struct deferrer d = { .fail_flush = 2 };
	GError *error = NULL;

	g_assert_cmpint(run_deferrer(var, &d, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_clear_error(&error);
	/* The first batch (one entry) finished; the second's two entries
	 * back in the queue, unstruck, with the four never tried. */
	g_assert_cmpint(count(d.c.in, ".msg"), ==, 6);
	g_assert_cmpint(count(d.c.in, ".bak"), ==, 0);
	g_array_free(d.flushed, TRUE);
	queue_close(&d.c.in);
	tmp_dir_remove(&var);
}

/* --- group commit across threads (queue_committer) ---------------------- */

#define COMMIT_THREADS 4
#define COMMIT_EACH 50

struct commit_run {
	struct queue_committer *c;
	struct queue *q;
	GMutex lock;
	GCond all_done;
	int done[COMMIT_THREADS * COMMIT_EACH];	/* calls of done per entry */
	int failed;		/* calls with an error */
	int visible_late;	/* done before its entry was a .msg */
	int ndone;
};

struct commit_ticket {
	struct commit_run *run;
	int index;
};

static void
ticket_done(gpointer data, const GError *error)
{
	struct commit_ticket *t = data;
	struct commit_run *run = t->run;
	char *needle = g_strdup_printf("entry %d\n", t->index);
	int seen = 0;
	GDir *d = g_dir_open(queue_dir(run->q), 0, NULL);
	const char *e;

	/* Told "durable": its .msg must be there already. */
	while (d != NULL && error == NULL && (e = g_dir_read_name(d)) != NULL) {
		char *path, *text = NULL;

		if (!g_str_has_suffix(e, ".msg"))
			continue;
		path = g_build_filename(queue_dir(run->q), e, NULL);
		if (g_file_get_contents(path, &text, NULL, NULL) &&
		    strstr(text, needle) != NULL)
			seen = 1;
		g_free(text);
		g_free(path);
	}
	if (d != NULL)
		g_dir_close(d);
	g_free(needle);
	g_mutex_lock(&run->lock);
	run->done[t->index]++;
	run->failed += error != NULL;
	run->visible_late += error == NULL && !seen;
	run->ndone++;
	g_cond_signal(&run->all_done);
	g_mutex_unlock(&run->lock);
	g_free(t);
}

static gpointer
submitter(gpointer data)
{
	struct commit_ticket *first = data;
	struct commit_run *run = first->run;

	for (int i = 0; i < COMMIT_EACH; i++) {
		struct commit_ticket *t = g_new0(struct commit_ticket, 1);
		struct queue_meta *m = queue_meta_new();
		char *msg;
		GError *error = NULL;
		struct queue_pending *p;

		t->run = run;
		t->index = first->index * COMMIT_EACH + i;
		msg = g_strdup_printf("entry %d\n", t->index);
		queue_meta_set(m, "list", "demo@example.org");
		p = queue_pending_write(run->q, m, msg, strlen(msg), &error);
		g_assert_no_error(error);
		g_assert_nonnull(p);
		queue_committer_submit(run->c, p, ticket_done, t);
		queue_meta_free(&m);
		g_free(msg);
	}
	g_free(first);
	return NULL;
}

/* Runs COMMIT_THREADS threads submitting COMMIT_EACH entries each, and
 * waits for every done. */
static void
commit_run_go(struct commit_run *run)
{
	GThread *threads[COMMIT_THREADS];

	for (int i = 0; i < COMMIT_THREADS; i++) {
		struct commit_ticket *t = g_new0(struct commit_ticket, 1);

		t->run = run;
		t->index = i;
		threads[i] = g_thread_new("submitter", submitter, t);
	}
	for (int i = 0; i < COMMIT_THREADS; i++)
		g_thread_join(threads[i]);
	g_mutex_lock(&run->lock);
	while (run->ndone < COMMIT_THREADS * COMMIT_EACH)
		g_cond_wait(&run->all_done, &run->lock);
	g_mutex_unlock(&run->lock);
}

static void
test_committer_threads_each_durable_once(void)
{
	char *var = tmp_dir_new();
	struct commit_run *run = g_new0(struct commit_run, 1);
	guint64 batches;

	run->q = open_queue(var, "commands");
	run->c = queue_committer_new();
	commit_run_go(run);
	batches = queue_committer_batches(run->c);
	queue_committer_free(&run->c);
	g_assert_null(run->c);
	for (int i = 0; i < COMMIT_THREADS * COMMIT_EACH; i++)
		g_assert_cmpint(run->done[i], ==, 1);
	g_assert_cmpint(run->failed, ==, 0);
	g_assert_cmpint(run->visible_late, ==, 0);
	/* Each entry stored once, alone or in its batch's bundle: one file a
	 * batch. */
	GPtrArray *texts = NULL;
	g_assert_cmpint(entries(run->q, &texts), ==, COMMIT_THREADS * COMMIT_EACH);
	for (int i = 0; i < COMMIT_THREADS * COMMIT_EACH; i++) {
		char *want = g_strdup_printf("entry %d\n", i);
		g_assert_true(g_ptr_array_find_with_equal_func(texts, want,
							       g_str_equal, NULL));
		g_free(want);
	}
	g_ptr_array_free(texts, TRUE);
	g_assert_cmpint(count(run->q, ".msg"), ==, (int)batches);
	g_assert_cmpint(files(run->q, ".tmp"), ==, 0);
	/* Entries submitted while a batch was being fsync'ed went into the
	 * next one: fewer batches than entries. */
	g_assert_cmpuint(batches, >=, 1);
	g_assert_cmpuint(batches, <, COMMIT_THREADS * COMMIT_EACH);
	queue_close(&run->q);
	g_free(run);
	tmp_dir_remove(&var);
}

static void
test_committer_failed_batch_fails_every_entry(void)
{
	char *var = tmp_dir_new();
	struct commit_run *run = g_new0(struct commit_run, 1);
	char *moved = g_strconcat(var, "/moved", NULL);
	struct queue_pending *p[3];
	struct commit_ticket *t[3];
	GError *error = NULL;

	run->q = open_queue(var, "commands");
	for (int i = 0; i < 3; i++) {
		struct queue_meta *m = queue_meta_new();

		p[i] = queue_pending_write(run->q, m, "x\n", 2, &error);
		g_assert_no_error(error);
		queue_meta_free(&m);
		t[i] = g_new0(struct commit_ticket, 1);
		t[i]->run = run;
		t[i]->index = i;
	}
	/* The directory goes away under the written files: no rename can
	 * succeed, whichever batch each entry lands in. */
	g_assert_cmpint(rename(queue_dir(run->q), moved), ==, 0);
	run->c = queue_committer_new();
	for (int i = 0; i < 3; i++)
		queue_committer_submit(run->c, p[i], ticket_done, t[i]);
	queue_committer_free(&run->c);
	g_assert_cmpint(run->ndone, ==, 3);
	g_assert_cmpint(run->failed, ==, 3);
	/* (Their .tmp files could not be removed either, the directory being
	 * away: a dead writer's, for the master to clean.) */
	g_assert_cmpint(rename(moved, queue_dir(run->q)), ==, 0);
	g_assert_cmpint(count(run->q, ".msg"), ==, 0);
	queue_close(&run->q);
	g_free(run);
	g_free(moved);
	tmp_dir_remove(&var);
}

static void
test_pending_drop_and_commit_alone(void)
{
	char *var = tmp_dir_new();
	struct queue *q = open_queue(var, "commands");
	struct queue_meta *m = queue_meta_new();
	GError *error = NULL;
	struct queue_pending *a = queue_pending_write(q, m, "a\n", 2, &error);
	struct queue_pending *b = queue_pending_write(q, m, "b\n", 2, &error);

	g_assert_no_error(error);
	/* Nothing is written before the commit. */
	g_assert_cmpint(files(q, ".tmp"), ==, 0);
	g_assert_cmpint(count(q, ".msg"), ==, 0);
	queue_pending_drop(&a);
	g_assert_null(a);
	g_assert_cmpint(queue_pending_commit(&b, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_null(b);
	g_assert_cmpint(files(q, ".tmp"), ==, 0);
	g_assert_cmpint(count(q, ".msg"), ==, 1);
	/* Alone, an entry is stored as itself, not as a bundle of one. */
	GPtrArray *texts = NULL;
	g_assert_cmpint(entries(q, &texts), ==, 1);
	g_assert_cmpstr(texts->pdata[0], ==, "b\n");
	g_ptr_array_free(texts, TRUE);
	queue_meta_free(&m);
	queue_close(&q);
	tmp_dir_remove(&var);
}

/* Threads' entries for two queues through one committer: each queue's
 * entries of a batch in one file. */
struct two_run {
	struct queue_committer *c;
	struct queue *q[2];
	int index;
	gint *done;
};

static void
two_done(gpointer data, const GError *error)
{
	g_assert_no_error(error);
	g_atomic_int_inc((gint *)data);
}

static gpointer
two_submitter(gpointer data)
{
	struct two_run *r = data;

	for (int i = 0; i < COMMIT_EACH; i++) {
		struct queue_meta *m = queue_meta_new();
		char *msg = g_strdup_printf("entry %d\n", r->index * COMMIT_EACH + i);
		GError *error = NULL;
		struct queue_pending *p = queue_pending_write(r->q[i % 2], m, msg,
							      strlen(msg), &error);

		g_assert_no_error(error);
		queue_committer_submit(r->c, p, two_done, r->done);
		queue_meta_free(&m);
		g_free(msg);
	}
	return NULL;
}

static void
test_committer_two_queues(void)
{
	char *var = tmp_dir_new();
	struct queue *v = open_queue(var, "virgin");
	struct queue *w = open_queue(var, "webhooks");
	struct queue_committer *c = queue_committer_new();
	struct two_run runs[COMMIT_THREADS];
	GThread *threads[COMMIT_THREADS];
	gint done = 0;

	for (int i = 0; i < COMMIT_THREADS; i++) {
		runs[i] = (struct two_run){ c, { v, w }, i, &done };
		threads[i] = g_thread_new("submitter", two_submitter, &runs[i]);
	}
	for (int i = 0; i < COMMIT_THREADS; i++)
		g_thread_join(threads[i]);
	queue_committer_free(&c);
	g_assert_cmpint(done, ==, COMMIT_THREADS * COMMIT_EACH);
	/* Every entry in its own queue, once. */
	g_assert_cmpint(entries(v, NULL), ==, COMMIT_THREADS * COMMIT_EACH / 2);
	g_assert_cmpint(entries(w, NULL), ==, COMMIT_THREADS * COMMIT_EACH / 2);
	g_assert_cmpint(files(v, ".tmp") + files(w, ".tmp"), ==, 0);
	queue_close(&v);
	queue_close(&w);
	tmp_dir_remove(&var);
}

/* --- a runner and bundles ---------------------------------------------- */

/* Writes a bundle of the texts to q by hand, in the documented format;
 * count: what its metadata claims, strikes: its bak-count. */
static void
put_bundle(struct queue *q, const char *const *texts, int count, int strikes)
{
	GString *all = g_string_new(NULL);
	struct queue_meta *m = queue_meta_new();
	GError *error = NULL;

	for (guint i = 0; texts[i] != NULL; i++) {
		struct queue_meta *mm = queue_meta_new();

		queue_meta_set(mm, "list", "demo@example.org");
		queue_meta_set_int(mm, "received", 1000000 + i);
		GString *one = queue_format(mm, texts[i], strlen(texts[i]));
		g_string_append_len(all, one->str, (gssize)one->len);
		g_string_free(one, TRUE);
		queue_meta_free(&mm);
	}
	queue_meta_set(m, "kind", "bundle");
	queue_meta_set_int(m, "bundle", count);
	if (strikes > 0)
		queue_meta_set_int(m, "bak-count", strikes);
	g_assert_cmpint(queue_enqueue(q, m, all->str, all->len, NULL, &error),
			==, 0);
	queue_meta_free(&m);
	g_string_free(all, TRUE);
}

struct member_run {
	char *var;
	struct queue *in, *out;
	GPtrArray *seen;	/* messages handled, in order */
};

/* Copies a member to "out"; "invalid" fails as a message no retry helps,
 * "io" as the disk. */
static int
member_handler(void *ctx, struct queue *q, struct queue_item *item,
	       GError **error)
{
	struct member_run *r = ctx;
	char *text = g_strndup(item->msg, item->msg_len);
	int code = strcmp(text, "invalid") == 0 ? HERALD_ERR_INVALID
		 : strcmp(text, "io") == 0 ? HERALD_ERR_IO : -1;

	g_ptr_array_add(r->seen, text);
	/* The member's own metadata, not the bundle's. */
	g_assert_cmpstr(queue_meta_get(item->meta, "list"), ==, "demo@example.org");
	g_assert_null(queue_meta_get(item->meta, "bundle"));
	if (queue_enqueue_batched(r->out, item->meta, item->msg, item->msg_len,
				  NULL, error) < 0)
		return -1;
	if (code >= 0) {
		g_set_error(error, HERALD_ERROR, code, "member failed");
		return -1;
	}
	return 0;
}

static int
run_members(const char *var, struct member_run *r, GError **error)
{
	struct runner_config cfg = {
		.var_dir = var, .queue = "in", .slice = 0, .nslices = 1,
		.poll_ms = 10, .handler = member_handler, .handler_ctx = r,
		.once = TRUE,
	};

	return runner_run(&cfg, error);
}

/* A fresh var dir whose "in" queue holds one bundle of texts (count and
 * strikes: put_bundle's). */
static void
member_run_init(struct member_run *r, const char *const *texts, int count,
		int strikes)
{
	r->var = tmp_dir_new();
	r->in = open_queue(r->var, "in");
	r->out = open_queue(r->var, "out");
	r->seen = g_ptr_array_new_with_free_func(g_free);
	put_bundle(r->in, texts, count, strikes);
}

static void
member_run_clear(struct member_run *r)
{
	queue_close(&r->in);
	queue_close(&r->out);
	g_ptr_array_free(r->seen, TRUE);
	tmp_dir_remove(&r->var);
}

static void
test_bundle_members_handled_each(void)
{
	const char *texts[] = { "one", "two", "three", NULL };
	struct member_run r;
	GError *error = NULL;

	member_run_init(&r, texts, 3, 0);
	g_assert_cmpint(run_members(r.var, &r, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(r.seen->len, ==, 3);
	for (int i = 0; i < 3; i++)
		g_assert_cmpstr(r.seen->pdata[i], ==, texts[i]);
	g_assert_cmpint(count(r.out, ".msg"), ==, 3);
	g_assert_cmpint(count(r.in, NULL), ==, 0);
	member_run_clear(&r);
}

static void
test_bundle_failed_member_stored_alone(void)
{
	const char *texts[] = { "one", "invalid", "three", NULL };
	struct member_run r;
	GError *error = NULL;
	GPtrArray *left = NULL;

	member_run_init(&r, texts, 3, 0);
	g_assert_cmpint(run_members(r.var, &r, &error), ==, 0);
	g_assert_no_error(error);
	/* The others done, their output kept, the failed one's dropped; the
	 * failed one back in the queue alone. */
	g_assert_cmpint(count(r.out, ".msg"), ==, 2);
	g_assert_cmpint(count(r.in, ".msg"), ==, 1);
	g_assert_cmpint(entries(r.in, &left), ==, 1);
	g_assert_cmpstr(left->pdata[0], ==, "invalid");
	g_ptr_array_free(left, TRUE);
	/* Handled alone next, it meets an entry's usual fate: shunted. */
	g_assert_cmpint(run_members(r.var, &r, &error), ==, 0);
	struct queue *shunt = open_queue(r.var, "shunt");
	g_assert_cmpint(count(shunt, ".msg"), ==, 1);
	g_assert_cmpint(count(r.in, NULL), ==, 0);
	g_assert_cmpint(count(r.out, ".msg"), ==, 2);
	queue_close(&shunt);
	member_run_clear(&r);
}

static void
test_bundle_io_error_gives_it_back_whole(void)
{
	const char *texts[] = { "one", "io", "three", NULL };
	struct member_run r;
	GError *error = NULL;

	member_run_init(&r, texts, 3, 0);
	g_assert_cmpint(run_members(r.var, &r, &error), ==, -1);
	g_assert_error(error, HERALD_ERROR, HERALD_ERR_IO);
	g_clear_error(&error);
	/* Nothing of it stored; the bundle back as it was, untouched. */
	g_assert_cmpint(count(r.out, ".msg"), ==, 0);
	g_assert_cmpint(files(r.out, ".tmp"), ==, 0);
	g_assert_cmpint(count(r.in, ".msg"), ==, 1);
	g_assert_cmpint(count(r.in, ".bak"), ==, 0);
	g_assert_cmpint(entries(r.in, NULL), ==, 3);
	member_run_clear(&r);
}

static void
test_bundle_struck_is_split(void)
{
	const char *texts[] = { "one", "two", "three", NULL };
	struct member_run r;
	GError *error = NULL;

	member_run_init(&r, texts, 3, 1);
	g_assert_cmpint(run_members(r.var, &r, &error), ==, 0);
	g_assert_no_error(error);
	/* Not handled: split into three entries of their own. */
	g_assert_cmpuint(r.seen->len, ==, 0);
	g_assert_cmpint(count(r.in, ".msg"), ==, 3);
	g_assert_cmpint(entries(r.in, NULL), ==, 3);
	g_assert_cmpint(run_members(r.var, &r, &error), ==, 0);
	g_assert_cmpuint(r.seen->len, ==, 3);
	g_assert_cmpint(count(r.out, ".msg"), ==, 3);
	g_assert_cmpint(count(r.in, NULL), ==, 0);
	member_run_clear(&r);
}

static void
test_bundle_miscounted_goes_to_bad(void)
{
	const char *texts[] = { "one", "two", NULL };
	struct member_run r;
	GError *error = NULL;

	member_run_init(&r, texts, 3, 0);
	g_assert_cmpint(run_members(r.var, &r, &error), ==, 0);
	g_assert_no_error(error);
	struct queue *bad = open_queue(r.var, "bad");
	g_assert_cmpint(queue_count(bad, NULL, &error), ==, 1);
	g_assert_cmpuint(r.seen->len, ==, 0);
	g_assert_cmpint(count(r.in, NULL), ==, 0);
	queue_close(&bad);
	member_run_clear(&r);
}

static const struct unit_test tests[] = {
	{ "/batch/committer/threads-each-durable-once",
	  test_committer_threads_each_durable_once },
	{ "/batch/committer/failed-batch-fails-every-entry",
	  test_committer_failed_batch_fails_every_entry },
	{ "/batch/committer/drop-and-commit-alone",
	  test_pending_drop_and_commit_alone },
	{ "/batch/committer/two-queues", test_committer_two_queues },
	{ "/batch/bundle/members-handled-each", test_bundle_members_handled_each },
	{ "/batch/bundle/failed-member-stored-alone",
	  test_bundle_failed_member_stored_alone },
	{ "/batch/bundle/io-error-gives-it-back-whole",
	  test_bundle_io_error_gives_it_back_whole },
	{ "/batch/bundle/struck-is-split", test_bundle_struck_is_split },
	{ "/batch/bundle/miscounted-goes-to-bad", test_bundle_miscounted_goes_to_bad },
	{ "/batch/entries-invisible-until-commit",
	  test_batched_entries_invisible_until_commit },
	{ "/batch/rollback-drops-entries-after-mark",
	  test_rollback_drops_entries_after_mark },
	{ "/batch/end-without-commit-leaves-nothing",
	  test_end_without_commit_leaves_nothing },
	{ "/batch/recover-strikes-only-the-last-claimed",
	  test_recover_strikes_only_the_last_claimed },
	{ "/batch/runner/finishes-only-after-commit",
	  test_runner_finishes_only_after_commit },
	{ "/batch/runner/io-error-commits-earlier-drops-failed",
	  test_runner_io_error_commits_earlier_drops_failed },
	{ "/batch/runner/shunt-drops-partial-output",
	  test_runner_shunt_drops_partial_output },
	{ "/batch/runner/without-output-finishes-at-once",
	  test_runner_without_output_finishes_at_once },
	{ "/batch/runner/deferred-work-is-flushed-per-batch",
	  test_runner_deferred_work_is_flushed_per_batch },
	{ "/batch/runner/failed-flush-gives-the-batch-back",
	  test_runner_failed_flush_gives_the_batch_back },
};

int
main(int argc, char **argv)
{
	return testutil_main_isolated(argc, argv, tests, G_N_ELEMENTS(tests));
}
