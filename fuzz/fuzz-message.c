/*
 * fuzz-message.c - libFuzzer target: a message from the MTA, whatever its
 * bytes, through the entry's check, the serialisation round trip and the
 * posting pipeline of a list, as the entries and the incoming runner would
 * take it.
 *
 * Each input is one message.  The entry's decision comes first
 * (entry_check, src/lib/entry/accept.c): what it refuses, the MTA bounces,
 * and nothing else happens to it.  For everything it accepts:
 *   - the round trip is asserted: message_parse, message_to_bytes,
 *     message_parse again must give the same message (message_same): what
 *     herald writes to a queue or the held store it must read back as it
 *     was (otherwise an approved or unshunted post would end in bad/);
 *   - it goes through the pipeline of one of the lists made at start,
 *     picked by the input's length so that every list sees every kind of
 *     input; a hold is stored with its notice, a rejection answered with
 *     the post attached, an error shunted, as runners/incoming.c does;
 *   - the message as the pipeline leaves it must pass the same round trip:
 *     that is what the out queue, the held store or the shunt queue get,
 *     and what the next stage parses.
 * An input that message_parse takes but the entry refuses is not a bug
 * (the entry exists to refuse it); HERALD_FUZZ_STRICT=1 aborts on one, to
 * find what the entry refuses that GMime could read (docs/fuzzing.md).
 * Everything is freed after each input (LeakSanitizer checks), and what the
 * pipeline wrote (queue entries, held posts) is removed, so a long run
 * neither fills the disk nor slows down.
 *
 * The var dir is made once, in LLVMFuzzerInitialize, under $TMPDIR, or
 * /dev/shm when that is unset and exists: every enqueue fsyncs, which costs
 * nothing on a tmpfs.  It is removed at a normal exit (fuzz/run.sh cleans
 * up after crashes).  A GLib critical aborts, like a crash.
 *
 * The lists' pipeline is the default order less the handlers this build
 * does not have yet (pipeline.c compiles some only once they are ready), so
 * that posts are not all shunted at an unknown handler.  No list has a
 * password: an Approved: line would cost an Argon2id verification per
 * input, which would slow the fuzzer a hundredfold for no new code.
 */
#include "mail/address.h"
#include "base/base.h"
#include "entry/accept.h"
#include "list/held.h"
#include "list/list.h"
#include "base/log.h"
#include "mail/message.h"
#include "list/notice.h"
#include "pipeline/pipeline.h"
#include "store/queue.h"
#include "list/roster.h"
#include "store/site.h"

#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The lists, each with settings that let posts through (nonmembers
 * accepted, no size limit, no explicit destination needed) and more that
 * give each one different code to run. */
static const struct profile {
	const char *fqdn;
	const char *settings[32];	/* name, value, ..., NULL */
} profiles[] = {
	{ "plain@example.org", {
		"generic_nonmember_action", "0",
		"require_explicit_destination", "no",
		"max_message_size", "0",
		NULL } },
	{ "filtered@example.org", {
		"generic_nonmember_action", "0",
		"require_explicit_destination", "no",
		"max_message_size", "0",
		"filter_content", "yes",
		"pass_mime_types", "multipart\nmessage/rfc822\ntext/plain\ntext/html",
		"convert_html_to_plaintext", "yes",
		"collapse_alternatives", "yes",
		"msg_header", "%(real_name)s: header",
		"msg_footer", "--\n%(real_name)s at %(host_name)s\n%(listinfo_url)s",
		"subject_prefix", "[%(real_name)s %d] ",
		"reply_goes_to_list", "1",
		"from_is_list", "1",
		NULL } },
	{ "wrapped@example.org", {
		"generic_nonmember_action", "0",
		"require_explicit_destination", "no",
		"max_message_size", "0",
		"filter_content", "yes",
		"filter_mime_types", "image\napplication/octet-stream",
		"filter_action", "3",
		"from_is_list", "2",
		"anonymous_list", "yes",
		"first_strip_reply_to", "yes",
		"reply_goes_to_list", "2",
		"reply_to_address", "replies@example.org",
		NULL } },
	{ "strict@example.org", {
		/* Mailman's defaults, but nonmembers accepted: holds for
		 * size, recipients, administrivia, implicit destination. */
		"generic_nonmember_action", "0",
		"max_message_size", "8",
		"header_filter_rules", "hold ^subject:.*viagra\n"
				       "discard ^x-spam-flag: yes\n"
				       "reject ^x-mailer:.*evil",
		"bounce_matching_headers", "to: .*@junk\\.example",
		"acceptable_aliases", "^alias@example\\.org$",
		NULL } },
};
#define N_PROFILES G_N_ELEMENTS(profiles)

static const char *const members[] = {
	"alice@example.org", "bob@example.org", "carol@example.net", NULL,
};

static struct {
	char *var_dir;
	struct site *site;
	struct list *lists[N_PROFILES];
	char *order;
	struct pipe_env env;
	gboolean strict;
} fz;

static void G_GNUC_NORETURN
die(const char *what, GError *error)
{
	fprintf(stderr, "fuzz-message: %s: %s\n", what,
		error != NULL ? error->message : "failed");
	abort();
}

/* The default pipeline less the handlers this build lacks. */
static char *
known_handlers(const char *order)
{
	char **names = g_strsplit(order, ",", -1);
	GString *out = g_string_new(NULL);

	for (guint i = 0; names[i] != NULL; i++) {
		if (pipeline_handler_find(names[i]) == NULL)
			continue;
		if (out->len > 0)
			g_string_append_c(out, ',');
		g_string_append(out, names[i]);
	}
	g_strfreev(names);
	return g_string_free(out, FALSE);
}

static void
add_members(struct list *l)
{
	struct roster_change *c = roster_change_new();
	GError *error = NULL;

	for (guint i = 0; members[i] != NULL; i++) {
		char *key = address_key(members[i]);
		struct member m = {
			.key = key, .addr = (char *)members[i], .name = "",
			.mode = MODE_REGULAR, .status = STATUS_ENABLED,
			.status_reason = "", .language = "", .password = "",
			/* bob wants acknowledgements and no duplicates: the
			 * acknowledge and avoiddups handlers have work. */
			.options = i == 1 ? OPT_ACK | OPT_NODUPES : 0,
		};
		roster_change_put(c, &m);
		g_free(key);
	}
	if (roster_commit(l, c, NULL, &error) < 0)
		die("roster_commit", error);
	roster_change_free(&c);
}

static void
remove_var_dir(void)
{
	char *argv[] = { "rm", "-rf", fz.var_dir, NULL };

	if (fz.var_dir != NULL)
		g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
			     NULL, NULL, NULL, NULL);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = g_getenv("TMPDIR");
	GError *error = NULL;
	char *tmpl, *logs;

	if (tmp == NULL)
		tmp = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm"
								   : g_get_tmp_dir();
	tmpl = g_build_filename(tmp, "herald-fuzz-XXXXXX", NULL);
	if ((fz.var_dir = g_mkdtemp(tmpl)) == NULL) {
		perror(tmpl);
		abort();
	}
	atexit(remove_var_dir);
	/* A GLib critical is a broken precondition (a NULL where none may
	 * be): a bug, to be found like a crash. */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	message_init();
	if (site_init(fz.var_dir, &error) < 0 ||
	    (fz.site = site_open(fz.var_dir, &error)) == NULL)
		die("site", error);
	/* Logs are written (log_msg sees the hostile strings) to files that
	 * are emptied after each input. */
	logs = site_path(fz.site, "logs", NULL);
	log_open(logs, false);
	g_free(logs);
	for (guint i = 0; i < N_PROFILES; i++) {
		const struct profile *pr = &profiles[i];
		const char *owners[] = { "owner@example.org", NULL };

		if (list_create(fz.site, pr->fqdn, owners, &error) < 0 ||
		    (fz.lists[i] = list_open(fz.site, pr->fqdn, &error)) == NULL)
			die(pr->fqdn, error);
		for (guint j = 0; pr->settings[j] != NULL; j += 2)
			if (list_set(fz.lists[i], pr->settings[j],
				     pr->settings[j + 1], &error) < 0) {
				/* A setting this build does not have yet. */
				fprintf(stderr, "fuzz-message: %s: %s (ignored)\n",
					pr->fqdn, error->message);
				g_clear_error(&error);
			}
		add_members(fz.lists[i]);
	}
	fz.order = known_handlers(pipeline_default_order());
	fz.strict = g_strcmp0(g_getenv("HERALD_FUZZ_STRICT"), "1") == 0;
	fprintf(stderr, "fuzz-message: var dir %s, pipeline %s\n", fz.var_dir,
		fz.order);
	return 0;
}

/* Removes the files of dir (not subdirectories), or truncates them. */
static void
empty_dir(const char *dir, gboolean truncate_only)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		char *path = g_build_filename(dir, name, NULL);

		if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
			if (truncate_only)
				(void)!truncate(path, 0);
			else
				(void)g_unlink(path);
		}
		g_free(path);
	}
	g_dir_close(d);
}

/* What the pipeline left behind: every queue's entries, held posts, logs. */
static void
clean_up(void)
{
	char *queues = site_path(fz.site, "queue", NULL);
	char *logs = site_path(fz.site, "logs", herald_host(), NULL);
	GDir *d = g_dir_open(queues, 0, NULL);
	const char *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		char *q = g_build_filename(queues, name, NULL);
		empty_dir(q, FALSE);
		g_free(q);
	}
	if (d != NULL)
		g_dir_close(d);
	for (guint i = 0; i < N_PROFILES; i++) {
		char *held = g_build_filename(list_dir(fz.lists[i]), "held", NULL);
		empty_dir(held, FALSE);
		g_free(held);
	}
	empty_dir(logs, TRUE);
	g_free(logs);
	g_free(queues);
}

/* The message at fault (its first 4 KiB), escaped, for the report. */
static void
dump(const char *data, size_t len)
{
	fprintf(stderr, "fuzz-message: the message (%zu bytes): \"", len);
	for (size_t i = 0; i < len && i < 4096; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c == '\n')
			fputs("\\n", stderr);
		else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
}

/* The round trip, asserted step by step (not through
 * message_check_round_trip, so that a change there cannot weaken it):
 * data parses (as mail from outside, or as what herald wrote itself:
 * stored), what herald writes of it parses, and the two are the same
 * message.  what names the stage for the report. */
static void
round_trip(const char *what, const char *data, size_t len, gboolean stored)
{
	GMimeMessage *first, *back;
	GByteArray *bytes;
	GError *error = NULL;
	char *why = NULL;

	first = stored ? message_parse_stored(data, len, &error)
		       : message_parse(data, len, &error);
	if (first == NULL) {
		fprintf(stderr, "fuzz-message: %s: %s\n", what, error->message);
		dump(data, len);
		abort();
	}
	bytes = message_to_bytes(first);
	back = message_parse_stored((const char *)bytes->data, bytes->len,
				    &error);
	if (back == NULL) {
		fprintf(stderr, "fuzz-message: %s: herald cannot read back what "
			"it wrote (%u bytes): %s\n", what, bytes->len,
			error->message);
		dump((const char *)bytes->data, bytes->len);
		abort();
	}
	if (!message_same(first, back, &why)) {
		fprintf(stderr, "fuzz-message: %s: what herald wrote reads back "
			"as another message: %s\n", what, why);
		dump(data, len);
		abort();
	}
	g_object_unref(back);
	g_object_unref(first);
	g_byte_array_unref(bytes);
}

/* What the pipeline leaves of the post is written and read again by the
 * next stage: the same round trip. */
static void
round_trip_after(GMimeMessage *msg)
{
	GByteArray *bytes = message_to_bytes(msg);

	round_trip("after the pipeline", (const char *)bytes->data, bytes->len,
		   TRUE);
	g_byte_array_unref(bytes);
}

/* What incoming.c does with a post that stopped, less its log lines. */
static void
outcome(struct post *p, enum pipe_result r, const char *handler,
	const char *rest)
{
	const char *why = p->reason != NULL ? p->reason : "";
	GError *error = NULL;
	struct queue *shunt;
	int64_t id;

	switch (r) {
	case PIPE_HOLD:
		if (post_hold(p, handler, rest, &id, &error) == 0)
			(void)notice_to_owners(p->list, "held", why, p->msg,
					       &error);
		break;
	case PIPE_REJECT:
		(void)notice_autorespond(p->list, p->poster, "rejected", why,
					 p->msg, &error);
		break;
	case PIPE_ERROR:
		shunt = queue_open(fz.var_dir, "shunt", &error);
		if (shunt != NULL)
			(void)post_enqueue(p, shunt, rest, &error);
		queue_close(&shunt);
		break;
	default:
		break;
	}
	g_clear_error(&error);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	guint which = (guint)(size % N_PROFILES);
	struct list *l = fz.lists[which];
	char *handler = NULL, *rest = NULL;
	struct queue_meta *meta;
	GMimeMessage *msg;
	GError *error = NULL;
	struct post *p;
	enum pipe_result r;

	if (entry_check((const char *)data, size, &error) < 0) {
		/* Refused at the entry: the MTA bounces it.  Strict mode asks
		 * whether GMime could have read it all the same. */
		if (fz.strict && (msg = message_parse((const char *)data, size,
						       NULL)) != NULL) {
			fprintf(stderr, "fuzz-message: message_parse takes it but "
				"the entry refuses it: %s\n", error->message);
			abort();
		}
		g_clear_error(&error);
		return 0;
	}
	round_trip("the entry's message", (const char *)data, size, FALSE);
	msg = message_parse((const char *)data, size, &error);
	if (msg == NULL) {	/* round_trip() made sure it parses */
		fprintf(stderr, "fuzz-message: %s\n", error->message);
		abort();
	}

	meta = queue_meta_new();
	queue_meta_set(meta, "list", list_fqdn(l));
	queue_meta_set(meta, "kind", "post");
	queue_meta_set(meta, "sender", "envelope@example.net");
	queue_meta_set(meta, "recipient", list_fqdn(l));
	p = post_new(fz.site, l, &fz.env, meta, msg);	/* takes msg */
	queue_meta_free(&meta);
	queue_meta_set_int(p->meta, "post-size", (int64_t)size);
	r = pipeline_run(p, fz.order, &handler, &rest, &error);
	if (r != PIPE_DISCARD)	/* queued, held, attached or shunted */
		round_trip_after(p->msg);
	outcome(p, r, handler, rest);
	g_clear_error(&error);
	g_free(handler);
	g_free(rest);
	post_free(&p);
	clean_up();
	return 0;
}
