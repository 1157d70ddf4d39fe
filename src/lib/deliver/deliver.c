/*
 * deliver.c - the out queue's work: hand a post to the MTA for each of its
 * recipients, and account for every one of them (see deliver.h).
 *
 * The progress record (<base>.progress beside the claimed entry) is a
 * series of lines, each batch's written with one write() and fdatasync'ed:
 *     D INDEX CODE TEXT        deferred (retry)
 *     F INDEX CODE TEXT        failed at RCPT (bounce event)
 *     R INDEX CODE TEXT        refused after DATA (owner report)
 *     B START COUNT            recipients START..START+COUNT-1 handled; the
 *                              others of them were accepted
 * Indexes are into the recipients as sorted here (by domain, then
 * address), which depends only on the entry, so a resumed run finds the
 * same order.  A line cut short by a crash is ignored, and so is its batch
 * (delivered again: a duplicate, never a loss).
 *
 * A job of one batch (a small list's post) keeps no record.  A batch's
 * line is written once the MTA has taken the batch, so for the only batch
 * it would cover no more than the moment between its fdatasync and the
 * runner finishing the entry, at the price of a file, a write and an
 * fdatasync for every post; a crash before it sends the batch again
 * either way.
 */
#include "deliver/deliver.h"
#include "deliver/sendmail.h"
#include "mail/address.h"
#include "mail/arc.h"
#include "mail/dkim.h"
#include "base/base.h"
#include "list/decorate.h"
#include "list/headers.h"
#include "list/list.h"
#include "store/webhook.h"
#include "base/log.h"
#include "mail/message.h"
#include "list/notice.h"
#include "list/roster.h"
#include "store/runner.h"
#include "mail/verp.h"
#include "store/names.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DELIVER_SUBSYS "deliver"

enum fate { FATE_DUE, FATE_ACCEPTED, FATE_DEFERRED, FATE_FAILED, FATE_REFUSED };

/* --- settings ------------------------------------------------------------ */

struct deliver_settings *
deliver_settings_new(struct site *site, GError **error)
{
	struct deliver_settings *ds = g_new0(struct deliver_settings, 1);
	char *transport = site_get(site, "mta.transport", NULL);
	char *tls = site_get(site, "mta.smtp_tls", NULL);
	char *cmd = site_get(site, "mta.sendmail_command", NULL);

	ds->transport = strcmp(transport, "lmtp") == 0 ? DELIVER_LMTP
		: strcmp(transport, "sendmail") == 0 ? DELIVER_SENDMAIL
		: DELIVER_SMTP;
	ds->host = site_get(site, "mta.smtp_host", NULL);
	ds->unix_path = site_get(site, "mta.lmtp_socket", NULL);
	ds->user = site_get(site, "mta.smtp_user", NULL);
	ds->password = site_get(site, "mta.smtp_password", NULL);
	ds->helo = g_strdup(g_get_host_name());
	ds->smtp.host = ds->host;
	ds->smtp.port = (int)site_get_int(site, "mta.smtp_port");
	ds->smtp.unix_path = ds->transport == DELIVER_LMTP && *ds->unix_path != '\0'
		? ds->unix_path : NULL;
	ds->smtp.lmtp = ds->transport == DELIVER_LMTP;
	ds->smtp.helo_name = ds->helo;
	ds->smtp.timeout_ms = (int)site_get_int(site, "mta.smtp_timeout") * 1000;
	ds->smtp.tls = strcmp(tls, "required") == 0 ? SMTP_TLS_REQUIRED
		: strcmp(tls, "opportunistic") == 0 ? SMTP_TLS_OPPORTUNISTIC
		: SMTP_TLS_NONE;
	ds->smtp.tls_verify = site_get_bool(site, "mta.smtp_tls_verify");
	ds->smtp.auth_user = *ds->user != '\0' ? ds->user : NULL;
	ds->smtp.auth_password = ds->password;
	ds->max_rcpts = (int)site_get_int(site, "delivery.max_recipients");
	ds->connections = (int)site_get_int(site, "delivery.connections");
	ds->verp_interval = site_get_int(site, "delivery.verp_interval");
	ds->verp_personalized = site_get_bool(site, "delivery.verp_personalized");
	ds->retry_wait = site_get_int(site, "delivery.retry_wait");
	ds->retry_period = site_get_int(site, "delivery.retry_period");
	if (ds->transport == DELIVER_SENDMAIL &&
	    !g_shell_parse_argv(cmd, NULL, &ds->sendmail_argv, error)) {
		g_prefix_error(error, "mta.sendmail_command: ");
		deliver_settings_free(&ds);
	}
	g_free(transport);
	g_free(tls);
	g_free(cmd);
	return ds;
}

void
deliver_settings_free(struct deliver_settings **dp)
{
	struct deliver_settings *ds = *dp;

	if (ds == NULL)
		return;
	g_strfreev(ds->sendmail_argv);
	g_free(ds->host);
	g_free(ds->unix_path);
	g_free(ds->helo);
	g_free(ds->user);
	g_free(ds->password);
	g_free(ds);
	*dp = NULL;
}

/* --- the job ----------------------------------------------------------------- */

struct batch {
	guint start, count;
};

struct job {
	const struct deliver_settings *ds;
	struct list *list;		/* NULL when the list is gone */
	const char *data;		/* the message as queued */
	size_t len;
	char **rcpts;			/* sorted recipients */
	guint n;
	enum fate *fate;
	struct smtp_reply *reply;	/* the reply that decided each fate */
	GHashTable *members;		/* key -> struct member * (personalised) */
	struct token_key *key;		/* the site key, read once for the job
					 * (personalised, one-click) or NULL */
	struct decorate_job *decor;	/* msg_header and msg_footer, read
					 * once (personalised posts) */
	GByteArray *tmpl;		/* one copy's bytes, when the others
					 * differ from it only in their
					 * List-Unsubscribe field, or NULL */
	gsize field_at, field_end;	/* that field in tmpl */
	gboolean verp, personalised;
	gboolean digest;		/* a digest (digest/send.c): decorated
					 * already, personalised only in its
					 * user_* variables */
	int64_t personalize;		/* the list's setting: 1 or 2 */
	char *sender;			/* envelope sender (bulk) */
	char *bounces;			/* LIST-bounces@DOMAIN (VERP) */
	GPtrArray *dkim_keys;		/* the list domain's signing keys, or
					 * NULL: copies go out unsigned */
	struct dkim_sign_opts dkim_opts;
	int64_t dkim_time;		/* t= of every copy's signature */
	gboolean arc;			/* seal copies with an ARC set */
	const struct dkim_key *arc_key;	/* of dkim_keys: the first RSA key */
	enum arc_cv arc_cv;		/* the chain as the post arrived */
	char *arc_results;		/* authserv-id; results (the AAR) */
	GByteArray *signed_data;	/* data signed (one copy for all) */
	struct batch *batches;
	guint nbatches;
	gint next;			/* the next batch to take (atomic) */
	gint server_down;		/* a connect failed: defer the rest */
	GMutex progress_lock;
	int progress_fd;
	const char *progress_path;
	GError *progress_error;		/* the first failure to record */
};

/* Domain first, so that one domain's recipients share transactions. */
static gint
compare_by_domain(gconstpointer a, gconstpointer b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	const char *dx = strrchr(x, '@'), *dy = strrchr(y, '@');
	int c = g_ascii_strcasecmp(dx != NULL ? dx : "", dy != NULL ? dy : "");

	return c != 0 ? c : strcmp(x, y);
}

/* The recipients of the entry, each once (address_key), sorted. */
static GPtrArray *
entry_recipients(const struct queue_meta *meta)
{
	GPtrArray *all = queue_meta_get_all(meta, META_RCPT);
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						 NULL);

	for (guint i = 0; i < all->len; i++) {
		char *key = address_key(all->pdata[i]);

		if (key == NULL) {
			log_warning(DELIVER_SUBSYS, "skipping recipient \"%s\": "
				    "not an address", (char *)all->pdata[i]);
			continue;
		}
		if (g_hash_table_add(seen, key))
			g_ptr_array_add(out, g_strdup(all->pdata[i]));
	}
	g_ptr_array_sort(out, compare_by_domain);
	g_hash_table_unref(seen);
	g_ptr_array_unref(all);
	return out;
}

/* --- the progress record ---------------------------------------------------- */

static enum fate
fate_of_tag(char tag)
{
	return tag == 'D' ? FATE_DEFERRED : tag == 'F' ? FATE_FAILED
	     : tag == 'R' ? FATE_REFUSED : FATE_DUE;
}

static char
tag_of_fate(enum fate f)
{
	return f == FATE_DEFERRED ? 'D' : f == FATE_FAILED ? 'F'
	     : f == FATE_REFUSED ? 'R' : '?';
}

/* Applies a progress record left by an earlier run: whole lines only.
 * *valid_r gets the length of those, where the next lines are to go. */
static guint
load_progress(struct job *j, const char *path, off_t *valid_r)
{
	char *data = NULL;
	size_t len;
	guint resumed = 0;
	char **lines;

	*valid_r = 0;
	if (fs_read_file(path, &data, &len, NULL) <= 0)
		return 0;
	/* A last line without its newline was cut short (a crash, a full
	 * disk): it is ignored, and so its batch is sent again, since its B
	 * line comes last.  The fates recorded before it in that batch stand:
	 * they are true. */
	char *end = memrchr(data, '\n', len);
	if (end == NULL) {
		g_free(data);
		return 0;
	}
	end[1] = '\0';
	*valid_r = end + 1 - data;
	lines = g_strsplit(data, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		char *l = lines[i], *e;
		guint64 a, b;

		if (l[0] == 'B' && l[1] == ' ') {
			a = g_ascii_strtoull(l + 2, &e, 10);
			b = g_ascii_strtoull(e, NULL, 10);
			for (guint64 k = a; k < a + b && k < j->n; k++) {
				if (j->fate[k] == FATE_DUE) {
					j->fate[k] = FATE_ACCEPTED;
					resumed++;
				}
			}
		} else if (fate_of_tag(l[0]) != FATE_DUE && l[1] == ' ') {
			a = g_ascii_strtoull(l + 2, &e, 10);
			b = g_ascii_strtoull(e, &e, 10);
			if (a < j->n) {
				j->fate[a] = fate_of_tag(l[0]);
				smtp_reply_clear(&j->reply[a]);
				j->reply[a].code = (int)b;
				j->reply[a].text = g_strdup(g_strchug(e));
			}
		}
	}
	g_strfreev(lines);
	g_free(data);
	return resumed;
}

/* A reply text on one line, for the record and the logs. */
static char *
one_line(const char *text)
{
	char *s = g_strdup(text != NULL ? text : "");

	for (char *p = s; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return s;
}

/* Appends batch b's outcome to the record and makes it durable. */
static void
record_batch(struct job *j, const struct batch *b)
{
	GString *s = g_string_new(NULL);

	/* The fates first, the batch line last: a record cut short by a
	 * crash lacks the B line, and the batch is sent again. */
	for (guint k = b->start; k < b->start + b->count; k++) {
		char *t;

		if (j->fate[k] == FATE_ACCEPTED)
			continue;
		t = one_line(j->reply[k].text);
		g_string_append_printf(s, "%c %u %d %s\n", tag_of_fate(j->fate[k]),
				       k, j->reply[k].code, t);
		g_free(t);
	}
	g_string_append_printf(s, "B %u %u\n", b->start, b->count);
	if (j->progress_fd < 0) {	/* one batch: no record */
		g_string_free(s, TRUE);
		return;
	}
	g_mutex_lock(&j->progress_lock);
	if (j->progress_error == NULL) {
		GError *e = NULL;

		if (fs_write_all(j->progress_fd, s->str, s->len, j->progress_path,
				 &e) < 0)
			j->progress_error = e;
		else if (fdatasync(j->progress_fd) < 0)
			set_errno_error(&j->progress_error, "fdatasync(%s)",
					j->progress_path);
	}
	g_mutex_unlock(&j->progress_lock);
	g_string_free(s, TRUE);
}

/* --- one batch ------------------------------------------------------------- */

static enum fate
fate_of(const struct smtp_reply *r, gboolean at_data)
{
	if (r->code >= 200 && r->code < 300)
		return FATE_ACCEPTED;
	if (r->code >= 500 && r->code < 600)
		return at_data ? FATE_REFUSED : FATE_FAILED;
	return FATE_DEFERRED;	/* 4xx, or no answer */
}

/* The body hash of the copies a worker signed last: personalised copies
 * share their body unless the footer names the member, and comparing
 * bodies costs far less than hashing one. */
struct body_hash_cache {
	char *body;
	size_t len;
	char bh[DKIM_BH_SIZE];
};

static void
body_hash_cache_clear(struct body_hash_cache *c)
{
	g_free(c->body);
	c->body = NULL;
}

/* The body hash of msg, from the cache when its body is the last one. */
static const char *
cached_body_hash(struct body_hash_cache *c, const char *msg, size_t len)
{
	size_t off = dkim_body_offset(msg, len);

	if (c->body == NULL || c->len != len - off ||
	    memcmp(c->body, msg + off, c->len) != 0) {
		g_free(c->body);
		c->len = len - off;
		c->body = g_memdup2(msg + off, c->len);
		dkim_body_hash(msg + off, c->len, c->bh);
	}
	return c->bh;
}

/* Puts an ARC set in front of the signed copy out, sealed with the
 * domain's first RSA key (RFC 8617 knows no other algorithm); a chain that has ended (or cannot be sealed) leaves it unsealed. */
static void
arc_seal_copy(struct job *j, GByteArray *out, const char *bh)
{
	GError *e = NULL;
	char *set = arc_seal(j->arc_key, &j->dkim_opts,
			     (const char *)out->data, out->len, bh, j->arc_cv,
			     j->arc_results, j->dkim_time, &e);

	if (set == NULL) {
		log_info(DELIVER_SUBSYS, "not sealed with ARC: %s", e->message);
		g_error_free(e);
		return;
	}
	g_byte_array_prepend(out, (const guint8 *)set, (guint)strlen(set));
	g_free(set);
}

/* msg with the DKIM-Signature fields of the job's keys in front, or NULL
 * when there are no keys or signing failed (logged: the copy then goes
 * unsigned, as it would without a key, rather than not at all). */
static GByteArray *
signed_copy(struct job *j, const char *msg, size_t len,
	    struct body_hash_cache *c)
{
	GByteArray *out;
	const char *bh;

	if (j->dkim_keys == NULL || j->dkim_keys->len == 0)
		return NULL;
	bh = c != NULL ? cached_body_hash(c, msg, len) : NULL;
	out = g_byte_array_new();
	for (guint i = 0; i < j->dkim_keys->len; i++) {
		GError *e = NULL;
		char *sig = dkim_sign(j->dkim_keys->pdata[i], &j->dkim_opts, msg,
				      len, bh, j->dkim_time, &e);

		if (sig == NULL) {
			log_error(DELIVER_SUBSYS, "DKIM signing: %s", e->message);
			g_error_free(e);
			g_byte_array_unref(out);
			return NULL;
		}
		g_byte_array_append(out, (const guint8 *)sig, (guint)strlen(sig));
		g_free(sig);
	}
	g_byte_array_append(out, (const guint8 *)msg, (guint)len);
	if (j->arc)
		arc_seal_copy(j, out, bh);
	return out;
}

/* The message for recipient k of a personalised post: the member's footer
 * and unsubscribe link, and To: the member with full personalisation;
 * made from the parsed post. */
static GByteArray *
parsed_copy(struct job *j, guint k, GError **error)
{
	GMimeMessage *msg = message_parse_stored(j->data, j->len, error);
	char *key = address_key(j->rcpts[k]);
	const struct member *m = key != NULL && j->members != NULL
				 ? g_hash_table_lookup(j->members, key)
				 : NULL;
	GByteArray *out = NULL;
	int r;

	g_free(key);
	if (msg == NULL)
		return NULL;
	if (j->digest) {	/* built with its own header and footer */
		if (m != NULL)
			decorate_digest_member(msg, j->list, m);
		r = 0;
	} else {
		if (m != NULL)
			decorate_job_apply(j->decor, msg, m);
		r = m != NULL ? 0 : decorate_message(msg, j->list, j->rcpts[k],
						     error);
	}
	if (r == 0)
		r = headers_personalise(msg, j->list, j->key, j->rcpts[k],
					error);
	if (r == 0) {
		if (j->personalize == 2)
			message_header_set(msg, "To", j->rcpts[k]);
		out = message_to_bytes(msg);
	}
	g_object_unref(msg);
	return out;
}

/* --- copies from one copy's bytes ------------------------------------------ */

/* Where the field called name is in the header of msg (LF line ends): from
 * its first byte to past the line end of its last line. */
static gboolean
find_field(const char *msg, size_t len, const char *name, gsize *at_r,
	   gsize *end_r)
{
	const char *blank = g_strstr_len(msg, (gssize)len, "\n\n");
	size_t head = blank != NULL ? (size_t)(blank - msg) + 1 : len;
	size_t nl = strlen(name), at = 0;

	while (at < head) {
		const char *eol = memchr(msg + at, '\n', len - at);
		size_t next = eol != NULL ? (size_t)(eol - msg) + 1 : len;

		if (head - at > nl && g_ascii_strncasecmp(msg + at, name, nl) == 0 &&
		    msg[at + nl] == ':') {
			while (next < head && (msg[next] == ' ' || msg[next] == '\t')) {
				eol = memchr(msg + next, '\n', len - next);
				next = eol != NULL ? (size_t)(eol - msg) + 1 : len;
			}
			*at_r = at;
			*end_r = next;
			return TRUE;
		}
		at = next;
	}
	return FALSE;
}

/* The copy to recipient k from j->tmpl: its List-Unsubscribe field made
 * for k, the rest as it is. */
static GByteArray *
spliced_copy(struct job *j, guint k, GError **error)
{
	char *field = headers_unsubscribe_field(j->list, j->key, j->rcpts[k],
						error);
	size_t flen;
	GByteArray *out;

	if (field == NULL)
		return NULL;
	flen = strlen(field);
	out = g_byte_array_sized_new((guint)(j->tmpl->len + flen));
	g_byte_array_append(out, j->tmpl->data, (guint)j->field_at);
	g_byte_array_append(out, (const guint8 *)field, (guint)flen);
	g_byte_array_append(out, j->tmpl->data + j->field_end,
			    (guint)(j->tmpl->len - j->field_end));
	g_free(field);
	return out;
}

/* Parsing the post and writing it out again for every member is most of
 * the cost of a personalised copy.  When the footer and header are the
 * same for everyone and To: stays the list's (personalize 1), the copies
 * differ only in their List-Unsubscribe field: the first is made from
 * the parsed post, the others from its bytes with that field replaced.
 * The second copy is made both ways first, and only when the two are the
 * same byte for byte are the rest spliced. */
static void
prepare_template(struct job *j)
{
	GByteArray *first, *second, *spliced;
	GError *e = NULL;

	if (!j->personalised || j->digest || j->personalize != 1 || j->n < 2 ||
	    j->decor == NULL || !decorate_job_same_for_all(j->decor))
		return;
	if ((first = parsed_copy(j, 0, &e)) == NULL) {
		g_clear_error(&e);
		return;
	}
	if (!find_field((const char *)first->data, first->len,
			"List-Unsubscribe", &j->field_at, &j->field_end)) {
		g_byte_array_unref(first);
		return;
	}
	j->tmpl = first;	/* the job's now, or freed below */
	second = parsed_copy(j, 1, &e);
	spliced = second != NULL ? spliced_copy(j, 1, &e) : NULL;
	if (spliced == NULL || second->len != spliced->len ||
	    memcmp(second->data, spliced->data, second->len) != 0) {
		log_info(DELIVER_SUBSYS, "list %s: copies made one by one "
			 "(the spliced copy differs)", list_fqdn(j->list));
		g_clear_pointer(&j->tmpl, g_byte_array_unref);
	} else {
		log_info(DELIVER_SUBSYS, "list %s: %u copies spliced from the "
			 "first", list_fqdn(j->list), j->n - 1);
	}
	g_clear_error(&e);
	if (second != NULL)
		g_byte_array_unref(second);
	if (spliced != NULL)
		g_byte_array_unref(spliced);
}

static GByteArray *
personal_copy(struct job *j, guint k, GError **error)
{
	return j->tmpl != NULL ? spliced_copy(j, k, error)
			       : parsed_copy(j, k, error);
}

/* Sets the fate of recipients k..k+count-1 from their replies.  A 5xx to
 * MAIL (the sender refused, or the message too large for SIZE) refuses the
 * message for all of them: nothing a member did, so no bounce events. */
static void
settle(struct job *j, guint k, guint count, gboolean mail_refused)
{
	for (guint i = k; i < k + count; i++) {
		j->fate[i] = fate_of(&j->reply[i], j->reply[i].at_data ||
				     mail_refused);
		/* Only the other fates' texts are read again (the progress
		 * record, bounce events, the owners' report): an accepted
		 * recipient's goes now, in the worker thread that made it,
		 * instead of a string per member left in the worker's malloc
		 * arena until the job ends (docs/PERFORMANCE.md, "Runner
		 * memory"). */
		if (j->fate[i] == FATE_ACCEPTED)
			g_clear_pointer(&j->reply[i].text, g_free);
	}
}

/* Defers recipients k..k+count-1 with why as the reason. */
static void
defer_all(struct job *j, guint k, guint count, const char *why)
{
	for (guint i = k; i < k + count; i++) {
		smtp_reply_clear(&j->reply[i]);
		j->reply[i].text = g_strdup(why);
		j->fate[i] = FATE_DEFERRED;
	}
}

/* A worker's connection, and the one-recipient transaction it may have
 * left open (smtp_send_open): the final reply of a personalised copy is
 * read with the next copy's envelope replies, one round trip a copy. */
struct lane {
	struct smtp_conn *conn;
	gboolean open;
	guint open_k;		/* the recipient of the open transaction */
};

/* After any call on l->conn: the transaction left open, if any, has its
 * reply now (or code 0: the connection failed), and its fate is final. */
static void
lane_settled(struct job *j, struct lane *l)
{
	if (l->open) {
		settle(j, l->open_k, 1, FALSE);
		l->open = FALSE;
	}
}

/* Reads the open transaction's final reply, so that a batch is recorded
 * only when every fate in it is known. */
static void
lane_settle(struct job *j, struct lane *l)
{
	GError *e = NULL;

	if (!l->open)
		return;
	if (smtp_settle(l->conn, &e) < 0) {
		log_error(DELIVER_SUBSYS, "SMTP transaction for 1 recipient "
			  "failed: %s", e->message);
		g_error_free(e);
		smtp_close(&l->conn);
	}
	lane_settled(j, l);
}

/* One transaction: rcpts k..k+count-1, from sender, with data; with
 * may_hold it may be left open on the lane.  Returns FALSE when the
 * connection is gone. */
static gboolean
transact(struct job *j, struct lane *l, const char *sender, guint k,
	 guint count, const char *data, size_t len, gboolean may_hold)
{
	const struct deliver_settings *ds = j->ds;
	struct smtp_conn **conn = &l->conn;
	struct smtp_reply mail = { 0 };
	GError *e = NULL;
	int r;

	if (ds->transport == DELIVER_SENDMAIL) {
		r = sendmail_send((const char *const *)ds->sendmail_argv,
				  ds->smtp.timeout_ms, sender,
				  (const char *const *)j->rcpts + k, count, data,
				  len, j->reply + k, &e);
		if (r < 0) {
			defer_all(j, k, count, e->message);
			g_error_free(e);
		} else {
			settle(j, k, count, FALSE);
		}
		return TRUE;
	}
	if (*conn == NULL) {
		if (g_atomic_int_get(&j->server_down)) {
			defer_all(j, k, count, "the MTA could not be reached");
			return FALSE;
		}
		if (smtp_connect(&ds->smtp, conn, NULL, &e) < 0) {
			log_error(DELIVER_SUBSYS, "connecting to the MTA: %s",
				  e->message);
			defer_all(j, k, count, e->message);
			g_error_free(e);
			g_atomic_int_set(&j->server_down, 1);
			return FALSE;
		}
	}
	if (may_hold)
		r = smtp_send_open(*conn, sender, (const char *const *)j->rcpts + k,
				   count, data, len, j->reply + k, &mail, &e);
	else
		r = smtp_send(*conn, sender, (const char *const *)j->rcpts + k,
			      count, data, len, j->reply + k, &mail, &e);
	lane_settled(j, l);
	if (r == 1) {
		l->open = TRUE;
		l->open_k = k;
		smtp_reply_clear(&mail);
		return TRUE;
	}
	settle(j, k, count, mail.code >= 500);
	if (r < 0) {
		log_error(DELIVER_SUBSYS, "SMTP transaction for %u recipients "
			  "failed: %s", count, e->message);
		g_error_free(e);
		smtp_close(conn);
		smtp_reply_clear(&mail);
		return FALSE;
	}
	if (mail.code < 200 || mail.code >= 300)
		log_error(DELIVER_SUBSYS, "MAIL FROM:<%s> refused: %d %s", sender,
			  mail.code, mail.text != NULL ? mail.text : "");
	for (guint i = k; i < k + count; i++)
		if (j->fate[i] != FATE_ACCEPTED) {
			if (smtp_reset(*conn, NULL) < 0)
				smtp_close(conn);
			break;
		}
	smtp_reply_clear(&mail);
	return TRUE;
}

/* The batch's transactions; every fate in it is final on return.  A
 * personalised copy is made while the previous one's final reply is still
 * to come, and its envelope goes out with the end of that one's data. */
static void
run_batch(struct job *j, struct lane *l, const struct batch *b,
	  struct body_hash_cache *bhc)
{
	const char *data = j->signed_data != NULL
		? (const char *)j->signed_data->data : j->data;
	size_t len = j->signed_data != NULL ? j->signed_data->len : j->len;

	if (!j->verp && !j->personalised) {
		transact(j, l, j->sender, b->start, b->count, data, len, FALSE);
		return;
	}
	for (guint k = b->start; k < b->start + b->count; k++) {
		char *sender = j->verp ? verp_encode(j->bounces, j->rcpts[k])
				       : g_strdup(j->sender);
		GByteArray *copy = NULL, *sig;
		GError *e = NULL;

		if (j->personalised && (copy = personal_copy(j, k, &e)) != NULL &&
		    (sig = signed_copy(j, (const char *)copy->data, copy->len,
				       bhc)) != NULL) {
			g_byte_array_unref(copy);
			copy = sig;
		}
		if (j->personalised && copy == NULL) {
			/* Not the MTA's fault nor the member's: retried. */
			log_error(DELIVER_SUBSYS, "personalising for %s: %s",
				  j->rcpts[k], e->message);
			defer_all(j, k, 1, e->message);
			g_error_free(e);
		} else {
			transact(j, l, sender, k, 1,
				 copy != NULL ? (const char *)copy->data : data,
				 copy != NULL ? copy->len : len, TRUE);
		}
		if (copy != NULL)
			g_byte_array_unref(copy);
		g_free(sender);
	}
	lane_settle(j, l);
}

static gpointer
worker(gpointer data)
{
	struct job *j = data;
	struct lane lane = { 0 };
	struct body_hash_cache bhc = { 0 };
	gint b;

	while ((b = g_atomic_int_add(&j->next, 1)) < (gint)j->nbatches) {
		run_batch(j, &lane, &j->batches[b], &bhc);
		record_batch(j, &j->batches[b]);
	}
	body_hash_cache_clear(&bhc);
	smtp_close(&lane.conn);
	return NULL;
}

/* Batches over the recipients still due: runs of consecutive indexes, at
 * most max_rcpts long. */
static void
make_batches(struct job *j)
{
	guint cap = (guint)MAX(j->ds->max_rcpts, 1);

	j->batches = g_new0(struct batch, j->n + 1);
	for (guint k = 0; k < j->n; k++) {
		struct batch *cur = j->nbatches > 0 ? &j->batches[j->nbatches - 1]
						    : NULL;

		if (j->fate[k] != FATE_DUE)
			continue;
		if (cur != NULL && cur->start + cur->count == k && cur->count < cap)
			cur->count++;
		else
			j->batches[j->nbatches++] = (struct batch){ k, 1 };
	}
}

/* --- after the deliveries ------------------------------------------------- */

/* Bounce events for the recipients with fate f (or deferred ones past
 * the retry period, gave_up), one bounces-queue entry for all. */
static int
bounce_events(struct site *site, struct job *j, const struct queue_meta *meta,
	      GPtrArray *idx, const char *why, GError **error)
{
	struct queue_meta *m;
	GString *body;
	int r;

	if (idx->len == 0)
		return 0;
	m = queue_meta_new();
	body = g_string_new(NULL);
	queue_meta_set(m, META_KIND, "bounce-event");
	if (queue_meta_get(meta, META_LIST) != NULL)
		queue_meta_set(m, META_LIST, queue_meta_get(meta, META_LIST));
	if (queue_meta_get(meta, META_MESSAGE_ID) != NULL)
		queue_meta_set(m, META_MESSAGE_ID, queue_meta_get(meta, META_MESSAGE_ID));
	g_string_append_printf(body, "Delivery failures (%s):\n", why);
	for (guint i = 0; i < idx->len; i++) {
		guint k = GPOINTER_TO_UINT(idx->pdata[i]);
		char *t = one_line(j->reply[k].text);

		queue_meta_add(m, META_MEMBER, j->rcpts[k]);
		g_string_append_printf(body, "%s: %d %s\n", j->rcpts[k],
				       j->reply[k].code, t);
		g_free(t);
	}
	r = queue_put(site_var_dir(site), QUEUE_BOUNCES, m, body->str, body->len, NULL,
		      error);
	queue_meta_free(&m);
	g_string_free(body, TRUE);
	return r;
}

/* The deferred recipients go to the retry queue, due after the backoff. */
static int
schedule_retry(struct site *site, struct job *j, const struct queue_meta *meta,
	       GPtrArray *idx, int64_t attempt, int64_t first, GError **error)
{
	struct queue_meta *m = queue_meta_copy(meta);
	int64_t wait = j->ds->retry_wait;
	int r;

	for (int64_t a = 1; a < attempt && wait < j->ds->retry_period; a++)
		wait *= 2;
	queue_meta_remove(m, META_RCPT);
	queue_meta_remove(m, META_BAK_COUNT);
	queue_meta_remove(m, META_PROGRESS_SEEN);
	for (guint i = 0; i < idx->len; i++)
		queue_meta_add(m, META_RCPT, j->rcpts[GPOINTER_TO_UINT(idx->pdata[i])]);
	queue_meta_set_int(m, META_ATTEMPT, attempt + 1);
	queue_meta_set_int(m, META_FIRST_ATTEMPT, first);
	/* The entry's name stamp is its due time: the retry queue is in the
	 * order the retries fall due. */
	queue_meta_set_int(m, META_RECEIVED, (now_usec() / 1000000 + wait) * 1000000);
	r = queue_put(site_var_dir(site), QUEUE_RETRY, m, j->data, j->len, NULL, error);
	queue_meta_free(&m);
	return r;
}

/* A 5xx to MAIL or after DATA: the MTA refused the message itself.  The
 * owners get the reply and the message; when that cannot be written the
 * entry is retried (its progress record keeps the refusals, so nothing is
 * sent again). */
static int
report_refusal(struct job *j, GPtrArray *idx, GError **error)
{
	GMimeMessage *msg;
	char *s, *t;
	GError *e = NULL;
	guint k;
	int r;

	if (j->list == NULL || idx->len == 0)
		return 0;
	k = GPOINTER_TO_UINT(idx->pdata[0]);
	msg = message_parse_stored(j->data, j->len, NULL);
	s = g_strdup_printf("%s: the mail server refused a post",
			    list_fqdn(j->list));
	t = g_strdup_printf("The mail server refused the attached post for %u "
			    "recipients, with\n\n    %d %s\n\n"
			    "They did not get it.  No bounce was recorded for "
			    "them: the refusal was of the message (or of its "
			    "sender), not of the members.\n", idx->len,
			    j->reply[k].code,
			    j->reply[k].text != NULL ? j->reply[k].text : "");
	r = notice_to_owners(j->list, s, t, msg, &e);
	if (r < 0) {
		log_error(DELIVER_SUBSYS, "list %s: reporting a refused post: %s; "
			  "the delivery will be looked at again", list_fqdn(j->list),
			  e->message);
		g_propagate_error(error, e);
	}
	if (msg != NULL)
		g_object_unref(msg);
	g_free(s);
	g_free(t);
	return r;
}

/* --- the entry ------------------------------------------------------------ */

static void
job_clear(struct job *j)
{
	for (guint k = 0; k < j->n; k++)
		smtp_reply_clear(&j->reply[k]);
	g_free(j->reply);
	g_free(j->fate);
	g_free(j->batches);
	g_free(j->sender);
	g_free(j->bounces);
	if (j->dkim_keys != NULL)
		g_ptr_array_unref(j->dkim_keys);
	dkim_sign_opts_clear(&j->dkim_opts);
	g_free(j->arc_results);
	if (j->signed_data != NULL)
		g_byte_array_unref(j->signed_data);
	if (j->members != NULL)
		g_hash_table_unref(j->members);
	token_key_free(&j->key);
	decorate_job_free(&j->decor);
	if (j->tmpl != NULL)
		g_byte_array_unref(j->tmpl);
	if (j->progress_fd >= 0)
		close(j->progress_fd);
	g_clear_error(&j->progress_error);
	g_mutex_clear(&j->progress_lock);
}

/* Whether this post goes out VERP'd, personalised. */
static void
choose_mode(struct job *j, const struct queue_meta *meta)
{
	const char *kind = queue_meta_get(meta, META_KIND);
	int64_t post_id = queue_meta_get_int(meta, META_POST_ID, 0);
	gboolean post = g_strcmp0(kind, "post") == 0;

	/* A digest is personalised (its one-click unsubscribe, To, the
	 * user_* of digest_header and digest_footer) and VERP'd as a post
	 * is, but its header and footer are the digest's own. */
	j->digest = kind != NULL && g_str_has_prefix(kind, "digest-");
	if (j->list != NULL && ((post &&
	    g_strcmp0(queue_meta_get(meta, META_NODECORATE), "yes") != 0) ||
	    j->digest)) {
		j->personalize = list_get_int(j->list, "personalize");
		j->personalised = j->personalize > 0;
	}
	j->verp = j->list != NULL && (post || j->digest) &&
		((j->personalised && j->ds->verp_personalized) ||
		 j->ds->verp_interval == 1 ||
		 (j->ds->verp_interval > 1 && post_id > 0 &&
		  post_id % j->ds->verp_interval == 0));
}

/* Members by key, read once here: the workers must not load the roster. */
static int
load_members(struct job *j, struct roster **roster_r, GError **error)
{
	GPtrArray *all;

	if (roster_load(j->list, roster_r, error) < 0)
		return -1;
	all = roster_members(*roster_r, FALSE);
	j->members = g_hash_table_new(g_str_hash, g_str_equal);
	for (guint i = 0; i < all->len; i++) {
		const struct member *m = all->pdata[i];
		g_hash_table_insert(j->members, m->key, (gpointer)m);
	}
	g_ptr_array_unref(all);
	return 0;
}

/* The site key, read once here for every copy's one-click token: read per
 * copy, it would be a file-server round trip per member of a fan-out.  A
 * key that cannot be read now is logged and left NULL: each copy then
 * tries again itself, and one that fails is deferred, as any copy that
 * cannot be made. */
static void
load_site_key(struct job *j, struct site *site)
{
	GError *e = NULL;

	if ((j->key = token_key_load(site, &e)) == NULL) {
		log_error(DELIVER_SUBSYS, "list %s: the site key: %s",
			  list_fqdn(j->list), e->message);
		g_error_free(e);
	}
}

/* The signing keys of the list's domain (fqdn name@domain), read once
 * for the job, and the one signed copy of a post that every recipient
 * gets alike.  A key that cannot be read is logged and the copies go
 * unsigned: the MTA may still sign them, and mail is not held back. */
static void
load_dkim(struct job *j, struct site *site, const char *fqdn,
	  const struct queue_meta *meta)
{
	const char *at = fqdn != NULL ? strrchr(fqdn, '@') : NULL;
	const char *kind = queue_meta_get(meta, META_KIND);
	GError *e = NULL;

	if (at == NULL || !site_get_bool(site, "dkim.enabled"))
		return;
	if ((j->dkim_keys = dkim_domain_keys(site, at + 1, &e)) == NULL) {
		log_error(DELIVER_SUBSYS, "list %s: DKIM keys: %s", fqdn,
			  e->message);
		g_error_free(e);
		return;
	}
	dkim_sign_opts_load(site, &j->dkim_opts);
	j->dkim_time = (int64_t)time(NULL);
	for (guint i = 0; i < j->dkim_keys->len && j->arc_key == NULL; i++)
		if (dkim_key_alg(j->dkim_keys->pdata[i]) == DKIM_RSA_SHA256)
			j->arc_key = j->dkim_keys->pdata[i];
	j->arc = j->arc_key != NULL && g_strcmp0(kind, "post") == 0 &&
		site_get_bool(site, "arc.enabled");
	if (j->arc) {
		char *srvid = site_get(site, "auth.authserv_id", NULL);
		const char *res = queue_meta_get(meta, META_AUTH_RESULTS);

		j->arc_cv = arc_cv_parse(queue_meta_get(meta, META_ARC_CV));
		j->arc_results = g_strdup_printf("%s; %s", *srvid != '\0' ? srvid
						 : g_get_host_name(),
						 res != NULL ? res : "dkim=none; arc=none");
		g_free(srvid);
	}
	if (!j->personalised)
		j->signed_data = signed_copy(j, j->data, j->len, NULL);
}

/* The webhooks' post.delivered, with this attempt's counts. */
static void
delivered_event(struct site *site, const char *fqdn,
		const struct queue_meta *meta, const struct deliver_stats *st)
{
	JsonObject *ev = json_object_new();
	const char *mid = queue_meta_get(meta, META_MESSAGE_ID);

	json_object_set_int_member(ev, "post_id",
				   queue_meta_get_int(meta, META_POST_ID, 0));
	json_object_set_string_member(ev, "message_id", mid != NULL ? mid : "");
	json_object_set_int_member(ev, "accepted", st->accepted);
	json_object_set_int_member(ev, "deferred", st->deferred);
	json_object_set_int_member(ev, "failed", st->failed);
	json_object_set_int_member(ev, "refused", st->refused);
	webhook_emit(site, fqdn, "post.delivered", ev);
}

int
deliver_entry(struct site *site, const struct deliver_settings *ds,
	      struct queue *q, struct queue_item *item,
	      struct deliver_stats *stats_r, GError **error)
{
	struct job j = { 0 };
	struct deliver_stats st = { 0 };
	const char *fqdn = queue_meta_get(item->meta, META_LIST);
	const char *sender = queue_meta_get(item->meta, META_SENDER);
	GPtrArray *rcpts = entry_recipients(item->meta);
	GPtrArray *deferred = g_ptr_array_new(), *failed = g_ptr_array_new();
	GPtrArray *refused = g_ptr_array_new(), *gave_up = g_ptr_array_new();
	struct roster *roster = NULL;
	char *progress = queue_progress_path(q, item->base);
	int64_t t0 = now_usec(), now = t0 / 1000000;
	int64_t attempt = queue_meta_get_int(item->meta, META_ATTEMPT, 1);
	int64_t first = queue_meta_get_int(item->meta, META_FIRST_ATTEMPT, now);
	int nthreads, ret = -1;
	off_t valid;
	GThread **threads;

	g_mutex_init(&j.progress_lock);
	j.progress_fd = -1;
	j.ds = ds;
	j.data = item->msg;
	j.len = item->msg_len;
	j.n = rcpts->len;
	j.rcpts = (char **)rcpts->pdata;
	j.fate = g_new0(enum fate, j.n + 1);
	j.reply = g_new0(struct smtp_reply, j.n + 1);
	if (fqdn != NULL) {
		GError *e = NULL;

		if ((j.list = list_open(site, fqdn, &e)) == NULL) {
			if (!g_error_matches(e, HERALD_ERROR, HERALD_ERR_NOTFOUND)) {
				g_propagate_error(error, e);
				goto out;
			}
			g_error_free(e);	/* gone: delivered all the same */
		}
	}
	j.bounces = j.list != NULL ? list_address(j.list, "-bounces") : NULL;
	/* Bounces of list mail go to the list, whoever wrote it; the entry's
	 * own sender only when the list is gone. */
	j.sender = g_strdup(j.bounces != NULL ? j.bounces
			    : sender != NULL ? sender : "");
	choose_mode(&j, item->meta);
	if (j.personalised && !j.digest)
		j.decor = decorate_job_new(j.list);
	/* The members' records are for the user_* variables of a header or
	 * footer; one the same for everyone needs none (a hundred thousand
	 * records are a good part of a large fan-out's memory). */
	if (j.personalised &&
	    (j.digest || !decorate_job_same_for_all(j.decor)) &&
	    load_members(&j, &roster, error) < 0)
		goto out;
	if (j.personalised && headers_one_click(j.list))
		load_site_key(&j, site);
	prepare_template(&j);
	load_dkim(&j, site, fqdn, item->meta);
	st.resumed = load_progress(&j, progress, &valid);
	make_batches(&j);
	st.recipients = j.n - st.resumed;
	st.verp = j.verp;
	st.personalised = j.personalised;
	j.progress_path = progress;
	if (j.nbatches > 1 &&
	    (j.progress_fd = fs_open(progress, O_WRONLY | O_CREAT | O_APPEND |
				     O_CLOEXEC, 0640)) < 0) {
		set_errno_error(error, "open(%s)", progress);
		goto out;
	}
	/* Cut off a line a crash left half written, so that the next line
	 * does not run on from it. */
	if (j.progress_fd >= 0 && ftruncate(j.progress_fd, valid) < 0) {
		set_errno_error(error, "ftruncate(%s)", progress);
		goto out;
	}

	nthreads = ds->transport == DELIVER_SENDMAIL ? 1
		 : MIN(ds->connections, (int)MAX(j.nbatches, 1));
	threads = g_new0(GThread *, nthreads);
	for (int t = 0; t < nthreads; t++)
		threads[t] = g_thread_new("deliver", worker, &j);
	for (int t = 0; t < nthreads; t++)
		g_thread_join(threads[t]);
	g_free(threads);
	if (j.progress_error != NULL) {
		g_propagate_error(error, j.progress_error);
		j.progress_error = NULL;
		goto out;
	}

	for (guint k = 0; k < j.n; k++) {
		gpointer v = GUINT_TO_POINTER(k);

		switch (j.fate[k]) {
		case FATE_ACCEPTED: st.accepted++; break;
		case FATE_DEFERRED:
			g_ptr_array_add(now - first >= ds->retry_period ? gave_up
					: deferred, v);
			break;
		case FATE_FAILED: g_ptr_array_add(failed, v); break;
		case FATE_REFUSED: g_ptr_array_add(refused, v); break;
		case FATE_DUE: g_ptr_array_add(deferred, v); break;
		}
	}
	st.deferred = deferred->len + gave_up->len;
	st.failed = failed->len;
	st.refused = refused->len;
	/* The owner report first: if it cannot be written nothing else has
	 * been, and the entry is simply looked at again. */
	if (report_refusal(&j, refused, error) < 0 ||
	    bounce_events(site, &j, item->meta, failed, "refused by the MTA",
			  error) < 0 ||
	    bounce_events(site, &j, item->meta, gave_up, "still deferred at the "
			  "end of delivery.retry_period", error) < 0 ||
	    (deferred->len > 0 &&
	     schedule_retry(site, &j, item->meta, deferred, attempt, first,
			    error) < 0))
		goto out;
	st.seconds = (double)(now_usec() - t0) / 1e6;
	log_info(DELIVER_SUBSYS, "list %s: message %s to %u recipients%s%s: "
		 "%u accepted, %u deferred, %u failed, %u refused, %u done "
		 "before; %.2f s", fqdn != NULL ? fqdn : "-",
		 queue_meta_get(item->meta, META_MESSAGE_ID) != NULL
		 ? queue_meta_get(item->meta, META_MESSAGE_ID) : item->base, j.n,
		 j.verp ? " (VERP)" : "", j.personalised ? " (personalised)" : "",
		 st.accepted, st.deferred, st.failed, st.refused, st.resumed,
		 st.seconds);
	if (fqdn != NULL && queue_meta_get(item->meta, META_POST_ID) != NULL)
		delivered_event(site, fqdn, item->meta, &st);
	if (stats_r != NULL)
		*stats_r = st;
	ret = 0;
out:
	job_clear(&j);
	roster_free(&roster);
	list_free(&j.list);
	g_ptr_array_unref(rcpts);
	g_ptr_array_unref(deferred);
	g_ptr_array_unref(failed);
	g_ptr_array_unref(refused);
	g_ptr_array_unref(gave_up);
	g_free(progress);
	return ret;
}

int
deliver_retry_due(struct queue *q, struct queue_item *item, GError **error)
{
	int64_t due = g_ascii_strtoll(item->base, NULL, 10);

	if (due > now_usec())
		return RUNNER_NOT_DUE;
	return queue_put(queue_var_dir(q), QUEUE_OUT, item->meta, item->msg,
			 item->msg_len, NULL, error);
}
