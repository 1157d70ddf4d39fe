/*
 * test-deliver.c - deliver_entry (deliver.c) in process, against smtpfault
 * (tests/tools/smtpfault.c, the one built next to this program): what is
 * easier to prove here than from the shell.
 *
 *   - VERP: each envelope sender the server got decodes, with herald's own
 *     verp_decode, to the one recipient of its transaction;
 *   - every recipient is accounted for in the stats, the retry entry and
 *     the bounce event;
 *   - the progress record: a run that dies after its last batch is
 *     recorded but before its entry is finished is repeated from the
 *     record alone (deliver_entry again on the same claimed entry, the
 *     retry entry the dead run wrote taken away), and the deferred
 *     recipient is still retried; also when the record the dead run
 *     resumed from had been cut short (its last line without a newline,
 *     as a crash or a full disk leaves it);
 *   - a personalised job reads the site key once: a key put in its place
 *     midway changes no copy's one-click token.
 */
#include "base/base.h"
#include "deliver/deliver.h"
#include "list/list.h"
#include "base/log.h"
#include "mail/message.h"
#include "store/queue.h"
#include "store/site.h"
#include "list/token.h"
#include "mail/verp.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define FQDN "demo@lists.test"
#define BOUNCES "demo-bounces@lists.test"

/* --- smtpfault ------------------------------------------------------------ */

struct server {
	GPid pid;
	int port;
	char *dir, *spool;
};

static char *
tool_path(const char *name)
{
	char *exe = g_file_read_link("/proc/self/exe", NULL);
	char *dir, *path;

	g_assert_nonnull(exe);
	dir = g_path_get_dirname(exe);
	path = g_build_filename(dir, name, NULL);
	g_free(dir);
	g_free(exe);
	return path;
}

static struct server *
server_start(const char *script)
{
	struct server *s = g_new0(struct server, 1);
	char *path, *argv[8];
	GString *line = g_string_new(NULL);
	GError *error = NULL;
	int out_fd, i = 0;
	char c;

	s->dir = tmp_dir_new();
	s->spool = g_build_filename(s->dir, "spool", NULL);
	path = g_build_filename(s->dir, "script", NULL);
	g_assert_true(g_file_set_contents(path, script, -1, &error));
	argv[i++] = tool_path("smtpfault");
	argv[i++] = g_strdup("--die-with-parent");
	argv[i++] = g_strdup("--spool");
	argv[i++] = g_strdup(s->spool);
	argv[i++] = g_strdup("--script");
	argv[i++] = path;
	argv[i] = NULL;
	g_assert_true(g_spawn_async_with_pipes(NULL, argv, NULL,
					       G_SPAWN_DO_NOT_REAP_CHILD, NULL,
					       NULL, &s->pid, NULL, &out_fd, NULL,
					       &error));
	g_assert_no_error(error);
	while (read(out_fd, &c, 1) == 1 && c != '\n')
		g_string_append_c(line, c);
	close(out_fd);
	g_assert_true(sscanf(line->str, "port %d", &s->port) == 1);
	g_string_free(line, TRUE);
	for (int k = 0; k < i; k++)
		g_free(argv[k]);
	return s;
}

static void
server_stop(struct server **sp)
{
	struct server *s = *sp;
	int status;

	kill(s->pid, SIGTERM);
	waitpid(s->pid, &status, 0);
	g_spawn_close_pid(s->pid);
	tmp_dir_remove(&s->dir);
	g_free(s->spool);
	g_free(s);
	*sp = NULL;
}

/* The spool's deliveries: each an array of "mail ADDR" then the rcpt
 * addresses. */
static GPtrArray *
spool_deliveries(const struct server *s)
{
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
	GDir *d = g_dir_open(s->spool, 0, NULL);
	const char *name;

	if (d == NULL)
		return out;
	while ((name = g_dir_read_name(d)) != NULL) {
		char *path, *text = NULL, **lines;
		GPtrArray *one;

		if (!g_str_has_suffix(name, ".env"))
			continue;
		path = g_build_filename(s->spool, name, NULL);
		g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
		one = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(one, NULL);	/* the sender, below */
		lines = g_strsplit(text, "\n", -1);
		for (guint i = 0; lines[i] != NULL; i++) {
			if (g_str_has_prefix(lines[i], "mail ")) {
				char *sp = strchr(lines[i] + 5, ' ');

				one->pdata[0] = g_strndup(lines[i] + 5,
					sp != NULL ? (gsize)(sp - lines[i] - 5)
						   : strlen(lines[i] + 5));
			} else if (g_str_has_prefix(lines[i], "rcpt ")) {
				g_ptr_array_add(one, g_strdup(lines[i] + 5));
			}
		}
		g_strfreev(lines);
		g_free(text);
		g_free(path);
		g_ptr_array_add(out, one);
	}
	g_dir_close(d);
	return out;
}

/* --- the var dir ------------------------------------------------------------ */

struct fixture {
	char *var;
	struct site *site;
	struct server *srv;
	struct deliver_settings *ds;
	struct queue *out;
};

static void
setting(struct fixture *f, const char *key, const char *value)
{
	GError *error = NULL;

	g_assert_cmpint(site_set(f->site, key, value, &error), ==, 0);
	g_assert_no_error(error);
}

/* A var dir with the list, smtpfault running the script, and the
 * settings (key, value pairs, NULL-terminated). */
static void
fixture_setup(struct fixture *f, const char *script, ...)
{
	static const char *const owners[] = { "owner@example.org", NULL };
	GError *error = NULL;
	char port[16];
	va_list ap;
	const char *k;

	memset(f, 0, sizeof *f);
	message_init();
	f->var = tmp_dir_new();
	g_assert_cmpint(site_init(f->var, &error), ==, 0);
	f->site = site_open(f->var, &error);
	g_assert_no_error(error);
	g_assert_cmpint(list_create(f->site, FQDN, owners, &error), ==, 0);
	g_assert_no_error(error);
	f->srv = server_start(script);
	g_snprintf(port, sizeof port, "%d", f->srv->port);
	setting(f, "mta.smtp_port", port);
	setting(f, "mta.smtp_timeout", "10");
	va_start(ap, script);
	while ((k = va_arg(ap, const char *)) != NULL)
		setting(f, k, va_arg(ap, const char *));
	va_end(ap);
	f->ds = deliver_settings_new(f->site, &error);
	g_assert_no_error(error);
	f->out = queue_open(f->var, "out", &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(struct fixture *f)
{
	queue_close(&f->out);
	deliver_settings_free(&f->ds);
	server_stop(&f->srv);
	site_free(&f->site);
	tmp_dir_remove(&f->var);
}

/* An out entry for the recipients, claimed (.bak) as a runner has it. */
static struct queue_item *
claimed_post(struct fixture *f, const char *const *rcpts, int64_t post_id)
{
	static const char msg[] = "From: user01@alpha.example\nTo: " FQDN "\n"
		"Subject: test\nMessage-ID: <t@alpha.example>\n\nbody\n";
	struct queue_meta *m = queue_meta_new();
	struct queue_item *item = NULL;
	GError *error = NULL;
	char *base = NULL;

	queue_meta_set(m, "list", FQDN);
	queue_meta_set(m, "kind", "post");
	queue_meta_set(m, "message-id", "<t@alpha.example>");
	if (post_id > 0)
		queue_meta_set_int(m, "post-id", post_id);
	for (guint i = 0; rcpts[i] != NULL; i++)
		queue_meta_add(m, "rcpt", rcpts[i]);
	g_assert_cmpint(queue_enqueue(f->out, m, msg, strlen(msg), &base, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(queue_claim(f->out, base, &error), ==, 1);
	g_assert_cmpint(queue_read(f->out, base, ".bak", &item, &error), ==, 1);
	g_assert_no_error(error);
	queue_meta_free(&m);
	g_free(base);
	return item;
}

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The values of key in every .msg entry of queue name, sorted, joined by
 * spaces; and (optional) how many entries there are. */
static char *
queue_values(struct fixture *f, const char *name, const char *key, int *n_r)
{
	char *dir = g_build_filename(f->var, "queue", name, NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	GPtrArray *all = g_ptr_array_new_with_free_func(g_free);
	const char *e;
	char *joined;
	int n = 0;

	while (d != NULL && (e = g_dir_read_name(d)) != NULL) {
		char *path, *buf = NULL;
		struct queue_meta *meta = NULL;
		const char *msg;
		size_t len;
		GPtrArray *v;

		if (!g_str_has_suffix(e, ".msg"))
			continue;
		n++;
		path = g_build_filename(dir, e, NULL);
		g_assert_true(g_file_get_contents(path, &buf, &len, NULL));
		g_assert_cmpint(queue_parse(buf, len, &meta, &msg, &len, NULL), ==, 0);
		v = queue_meta_get_all(meta, key);
		for (guint i = 0; i < v->len; i++)
			g_ptr_array_add(all, g_strdup(v->pdata[i]));
		g_ptr_array_unref(v);
		queue_meta_free(&meta);
		g_free(buf);
		g_free(path);
	}
	if (d != NULL)
		g_dir_close(d);
	g_ptr_array_sort(all, cmp_str);
	g_ptr_array_add(all, NULL);
	joined = g_strjoinv(" ", (char **)all->pdata);
	g_ptr_array_free(all, TRUE);
	g_free(dir);
	if (n_r != NULL)
		*n_r = n;
	return joined;
}

/* Removes every .msg entry of queue name. */
static void
queue_empty(struct fixture *f, const char *name)
{
	char *dir = g_build_filename(f->var, "queue", name, NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *e;

	while (d != NULL && (e = g_dir_read_name(d)) != NULL) {
		char *path = g_build_filename(dir, e, NULL);

		if (g_str_has_suffix(e, ".msg"))
			g_assert_cmpint(unlink(path), ==, 0);
		g_free(path);
	}
	if (d != NULL)
		g_dir_close(d);
	g_free(dir);
}

/* --- VERP ------------------------------------------------------------------- */

static void
test_verp_each_sender_decodes_to_its_one_recipient(void)
{
	static const char *const rcpts[] = {
		"user01@alpha.example", "user17+tag@delta.example",
		"user18=x@delta.example", "user19%y@delta.example",
		"\"user 20\"@delta.example", "O'Brien@Beta.example", NULL,
	};
	struct fixture f;
	struct queue_item *item;
	struct deliver_stats st;
	GError *error = NULL;
	GPtrArray *got;

	fixture_setup(&f, "", "delivery.verp_interval", "1", NULL);
	item = claimed_post(&f, rcpts, 1);
	g_assert_cmpint(deliver_entry(f.site, f.ds, f.out, item, &st, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_true(st.verp);
	g_assert_cmpuint(st.accepted, ==, 6);
	got = spool_deliveries(f.srv);
	g_assert_cmpuint(got->len, ==, 6);
	for (guint i = 0; i < got->len; i++) {
		GPtrArray *one = got->pdata[i];
		char *member = verp_decode(one->pdata[0]);

		g_assert_cmpuint(one->len, ==, 2);	/* one recipient each */
		g_assert_true(g_str_has_prefix(one->pdata[0], "demo-bounces+"));
		g_assert_true(g_str_has_suffix(one->pdata[0], "@lists.test"));
		g_assert_cmpstr(member, ==, one->pdata[1]);
		g_free(member);
	}
	g_ptr_array_unref(got);
	queue_item_free(&item);
	fixture_teardown(&f);
}

/* --- accounting ----------------------------------------------------------- */

static void
test_every_recipient_has_one_fate(void)
{
	static const char *const rcpts[] = {
		"a1@alpha.example", "a2@alpha.example", "a3@alpha.example",
		"b1@beta.example", "b2@beta.example", "b3@beta.example",
		"c1@gamma.example", "c2@gamma.example", NULL,
	};
	struct fixture f;
	struct queue_item *item;
	struct deliver_stats st;
	GError *error = NULL;
	GPtrArray *got, *delivered = g_ptr_array_new_with_free_func(g_free);
	char *v;
	int n;

	fixture_setup(&f, "rcpt a2@* 451 4.2.0 later\nrcpt c1@* 451 4.2.0 later\n"
		      "rcpt b1@* 550 5.1.1 unknown\nrcpt b3@* 550 5.1.1 unknown\n",
		      "delivery.max_recipients", "3", NULL);
	item = claimed_post(&f, rcpts, 0);
	g_assert_cmpint(deliver_entry(f.site, f.ds, f.out, item, &st, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(st.recipients, ==, 8);
	g_assert_cmpuint(st.accepted, ==, 4);
	g_assert_cmpuint(st.deferred, ==, 2);
	g_assert_cmpuint(st.failed, ==, 2);
	g_assert_cmpuint(st.refused, ==, 0);
	got = spool_deliveries(f.srv);
	for (guint i = 0; i < got->len; i++) {
		GPtrArray *one = got->pdata[i];

		g_assert_cmpstr(one->pdata[0], ==, BOUNCES);
		g_assert_cmpuint(one->len - 1, <=, 3);
		for (guint k = 1; k < one->len; k++)
			g_ptr_array_add(delivered, g_strdup(one->pdata[k]));
	}
	g_ptr_array_sort(delivered, cmp_str);
	g_ptr_array_add(delivered, NULL);
	v = g_strjoinv(" ", (char **)delivered->pdata);
	g_assert_cmpstr(v, ==, "a1@alpha.example a3@alpha.example "
			"b2@beta.example c2@gamma.example");
	g_free(v);
	v = queue_values(&f, "retry", "rcpt", &n);
	g_assert_cmpint(n, ==, 1);
	g_assert_cmpstr(v, ==, "a2@alpha.example c1@gamma.example");
	g_free(v);
	v = queue_values(&f, "bounces", "member", &n);
	g_assert_cmpint(n, ==, 1);
	g_assert_cmpstr(v, ==, "b1@beta.example b3@beta.example");
	g_free(v);
	v = queue_values(&f, "bounces", "kind", NULL);
	g_assert_cmpstr(v, ==, "bounce-event");
	g_free(v);
	g_ptr_array_free(delivered, TRUE);
	g_ptr_array_unref(got);
	queue_item_free(&item);
	fixture_teardown(&f);
}

/* --- the progress record ---------------------------------------------------- */

/* m01..m20 of one domain: index i of the sorted order is m(i+1).  The
 * server defers m08 (index 7).  The record holds what an earlier run left
 * (the first batch done, then tail).  Run 2 resumes from it and finishes;
 * then, as if it had died just before its entry was finished, its retry
 * entry is taken away and run 3 repeats from the record alone: m08 must
 * be retried again, and nobody sent again. */
static void
resume_twice(const char *tail)
{
	const char *rcpts[21];
	struct fixture f;
	struct queue_item *item;
	struct deliver_stats st;
	GError *error = NULL;
	GPtrArray *got;
	char *progress, *record, *v;
	guint sent;

	for (int i = 0; i < 20; i++)
		rcpts[i] = g_strdup_printf("m%02d@a.example", i + 1);
	rcpts[20] = NULL;
	fixture_setup(&f, "rcpt m08@* 451 4.2.0 try later\n",
		      "delivery.max_recipients", "5", "delivery.connections", "1",
		      NULL);
	item = claimed_post(&f, rcpts, 0);
	progress = queue_progress_path(f.out, item->base);
	record = g_strconcat("B 0 5\n", tail, NULL);
	g_assert_true(g_file_set_contents(progress, record, -1, NULL));

	/* Run 2. */
	g_assert_cmpint(deliver_entry(f.site, f.ds, f.out, item, &st, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(st.resumed, ==, 5);
	g_assert_cmpuint(st.accepted, ==, 19);	/* the resumed 5 with them */
	g_assert_cmpuint(st.deferred, ==, 1);
	v = queue_values(&f, "retry", "rcpt", NULL);
	g_assert_cmpstr(v, ==, "m08@a.example");
	g_free(v);
	got = spool_deliveries(f.srv);
	sent = got->len;
	g_ptr_array_unref(got);

	/* Run 3, from the record run 2 left. */
	queue_empty(&f, "retry");
	g_assert_cmpint(deliver_entry(f.site, f.ds, f.out, item, &st, &error), ==, 0);
	g_assert_no_error(error);
	got = spool_deliveries(f.srv);
	g_assert_cmpuint(got->len, ==, sent);	/* nobody sent again */
	g_ptr_array_unref(got);
	v = queue_values(&f, "retry", "rcpt", NULL);
	g_assert_cmpstr(v, ==, "m08@a.example");	/* m08 not lost */
	g_free(v);
	g_assert_cmpuint(st.deferred, ==, 1);
	g_assert_cmpuint(st.resumed, ==, 19);
	g_assert_cmpuint(st.accepted + st.deferred, ==, 20);

	g_free(record);
	g_free(progress);
	queue_item_free(&item);
	fixture_teardown(&f);
	for (int i = 0; i < 20; i++)
		g_free((char *)rcpts[i]);
}

/* A job of one batch keeps no record (it would only cover the moment
 * before the entry is finished); a job of three records each batch. */
static void
test_progress_kept_only_for_more_than_one_batch(void)
{
	const char *rcpts[13];
	struct fixture f;
	struct queue_item *item;
	struct deliver_stats st;
	GError *error = NULL;
	char *progress, *record = NULL;

	for (int i = 0; i < 12; i++)
		rcpts[i] = g_strdup_printf("m%02d@a.example", i + 1);
	rcpts[12] = NULL;
	fixture_setup(&f, "", "delivery.max_recipients", "5",
		      "delivery.connections", "1", NULL);
	/* Three recipients: one batch. */
	const char *fourth = rcpts[3];

	rcpts[3] = NULL;
	item = claimed_post(&f, rcpts, 0);
	progress = queue_progress_path(f.out, item->base);
	g_assert_cmpint(deliver_entry(f.site, f.ds, f.out, item, &st, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(st.accepted, ==, 3);
	g_assert_false(g_file_test(progress, G_FILE_TEST_EXISTS));
	g_free(progress);
	queue_item_free(&item);
	/* Twelve: three batches, each recorded. */
	rcpts[3] = fourth;
	item = claimed_post(&f, rcpts, 0);
	progress = queue_progress_path(f.out, item->base);
	g_assert_cmpint(deliver_entry(f.site, f.ds, f.out, item, &st, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(st.accepted, ==, 12);
	g_assert_true(g_file_get_contents(progress, &record, NULL, NULL));
	g_assert_cmpstr(record, ==, "B 0 5\nB 5 5\nB 10 2\n");
	g_free(record);
	g_free(progress);
	queue_item_free(&item);
	fixture_teardown(&f);
	for (int i = 0; i < 12; i++)
		g_free((char *)rcpts[i]);
}

static void
test_progress_whole_record_resumed_twice_loses_nobody(void)
{
	resume_twice("");
}

static void
test_progress_record_cut_short_resumed_twice_loses_nobody(void)
{
	/* The next batch's first line, cut after its tag. */
	resume_twice("D");
}

static void
test_progress_record_cut_mid_batch_line_resumed_twice_loses_nobody(void)
{
	resume_twice("B 5");
}

/* --- personalised copies: the site key once per job ------------------------ */

/* A personalised post to five recipients through a sendmail command that,
 * the first time it runs (after the first copy was made, before the
 * others), puts another key in etc/site.key.  The job read the key once,
 * before the first copy: every copy carries a token of the original key,
 * which token_verify accepts once the file holds it again, and none of
 * the key that replaced it. */
static void
test_personalised_job_reads_the_site_key_once(void)
{
	static const char other[] = "0123456789abcdef0123456789abcdef";
	static const char *const rcpts[] = {
		"m1@a.example", "m2@a.example", "m3@a.example", "m4@a.example",
		"m5@a.example", NULL,
	};
	struct fixture f;
	struct queue_item *item;
	struct deliver_stats st;
	struct list *l;
	GError *error = NULL;
	char *dir = tmp_dir_new();
	char *script = g_build_filename(dir, "sendmail", NULL);
	char *spool = g_build_filename(dir, "spool", NULL);
	char *other_path = g_build_filename(dir, "other.key", NULL);
	char *cmd = g_strdup_printf("sh %s", script);
	char *key_path, *now = NULL, *text;
	unsigned char orig[TOKEN_KEY_BYTES];
	gsize now_len = 0;
	GPtrArray *names;

	fixture_setup(&f, "", "mta.transport", "sendmail",
		      "mta.sendmail_command", cmd, NULL);
	key_path = g_build_filename(f.var, "etc", "site.key", NULL);
	g_assert_cmpint(mkdir(spool, 0700), ==, 0);
	g_assert_true(g_file_set_contents(other_path, other, TOKEN_KEY_BYTES,
					  NULL));
	text = g_strdup_printf(
		"n=$(ls '%s' | wc -l)\n"
		"cat > '%s'/$n.eml\n"
		"if [ ! -e '%s/replaced' ]; then\n"
		"	cp '%s' '%s.new' && mv -f '%s.new' '%s' || exit 1\n"
		"	touch '%s/replaced'\n"
		"fi\n", spool, spool, dir, other_path, key_path, key_path,
		key_path, dir);
	g_assert_true(g_file_set_contents(script, text, -1, NULL));
	g_free(text);
	l = list_open(f.site, FQDN, &error);
	g_assert_no_error(error);
	g_assert_cmpint(list_set(l, "personalize", "1", &error), ==, 0);
	g_assert_no_error(error);

	/* The site's key before the job. */
	g_assert_cmpint(token_site_key(f.site, orig, &error), ==, 0);
	g_assert_no_error(error);

	item = claimed_post(&f, rcpts, 1);
	g_assert_cmpint(deliver_entry(f.site, f.ds, f.out, item, &st, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_true(st.personalised);
	g_assert_cmpuint(st.accepted, ==, 5);
	/* The command did replace it, after the first copy. */
	g_assert_true(g_file_get_contents(key_path, &now, &now_len, NULL));
	g_assert_cmpmem(now, now_len, other, TOKEN_KEY_BYTES);
	g_free(now);

	names = fs_dir_names(spool, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(names->len, ==, 5);
	for (int pass = 0; pass < 2; pass++) {
		for (guint i = 0; i < names->len; i++) {
			char *path = g_build_filename(spool, names->pdata[i], NULL);
			char *data = NULL, *m, *member;
			const char *t;
			gsize len = 0;
			GMimeMessage *msg;
			const char *v;

			g_assert_true(g_file_get_contents(path, &data, &len, NULL));
			msg = message_parse(data, len, &error);
			g_assert_no_error(error);
			v = message_header(msg, "List-Unsubscribe");
			g_assert_nonnull(v);
			m = strstr(v, "?m=");
			t = strstr(v, "&t=");
			g_assert_nonnull(m);
			g_assert_nonnull(t);
			m = g_strndup(m + 3, (gsize)(t - m - 3));
			member = g_uri_unescape_string(m, NULL);
			g_assert_true(g_strv_contains(rcpts, member));
			t = g_strndup(t + 3, 43);
			/* Pass 0: the replacing key in the file, pass 1 the
			 * original again. */
			g_assert_cmpint(token_verify(f.site, FQDN, member,
						     TOKEN_PURPOSE_UNSUBSCRIBE, t,
						     &error), ==, pass);
			g_assert_no_error(error);
			g_free((char *)t);
			g_free(member);
			g_free(m);
			g_object_unref(msg);
			g_free(data);
			g_free(path);
		}
		if (pass == 0)
			g_assert_true(g_file_set_contents(key_path,
							  (const char *)orig,
							  sizeof orig, NULL));
	}
	g_ptr_array_free(names, TRUE);
	list_free(&l);
	queue_item_free(&item);
	fixture_teardown(&f);
	tmp_dir_remove(&dir);
	g_free(script);
	g_free(spool);
	g_free(other_path);
	g_free(cmd);
	g_free(key_path);
}

int
main(int argc, char **argv)
{
	static const struct unit_test tests[] = {
		{ "/deliver/verp/each-sender-decodes-to-its-one-recipient",
		  test_verp_each_sender_decodes_to_its_one_recipient },
		{ "/deliver/every-recipient-has-one-fate",
		  test_every_recipient_has_one_fate },
		{ "/deliver/progress/kept-only-for-more-than-one-batch",
		  test_progress_kept_only_for_more_than_one_batch },
		{ "/deliver/progress/whole-record-resumed-twice-loses-nobody",
		  test_progress_whole_record_resumed_twice_loses_nobody },
		{ "/deliver/progress/record-cut-short-resumed-twice-loses-nobody",
		  test_progress_record_cut_short_resumed_twice_loses_nobody },
		{ "/deliver/progress/record-cut-mid-batch-line-resumed-twice-loses-nobody",
		  test_progress_record_cut_mid_batch_line_resumed_twice_loses_nobody },
		{ "/deliver/personalised/site-key-read-once-per-job",
		  test_personalised_job_reads_the_site_key_once },
	};

	return testutil_main_isolated(argc, argv, tests, G_N_ELEMENTS(tests));
}
