/*
 * mm_requests.c - Mailman 2.1's waiting requests into herald's.
 *
 * lists/NAME/request.pck (Mailman's ListAdmin database: id -> (type,
 * data)) names each held post with its file data/heldmsg-NAME-N.pck (a
 * pickled email.Message, or .txt when HOLD_MESSAGES_AS_PICKLES was off),
 * its sender, subject and reason; and each subscription or
 * unsubscription awaiting a moderator.  Held posts become herald held
 * posts (the pipeline resumes after "hold" when approved), requests
 * become requests awaiting approval (`herald requests`).  Confirmations
 * Mailman mailed out (pending.pck) cannot carry over: their tokens are
 * 40 hex digits, herald's 43 characters of base64, so the file is kept
 * aside and each is counted in the report.  A held message file no
 * request names is kept aside too.
 */
#include "import/import-private.h"
#include "import/pickle.h"
#include "base/base.h"
#include "list/held.h"
#include "list/list_settings.h"
#include "list/pending.h"
#include "list/roster.h"
#include "mail/message.h"
#include "store/names.h"

#include <string.h>

/* Mailman 2.1's request types (mm_cfg). */
enum { MM_IGN, MM_HELDMSG, MM_SUBSCRIPTION, MM_UNSUBSCRIPTION };

/* A pickled email.Message back to its text, as Python's email.Generator
 * writes it (no re-folding, no re-encoding: the payload is as received). */
static int
message_text(const struct pickle_node *o, const char *charset, GString *out,
	     int depth, GError **error)
{
	const struct pickle_node *st, *h, *pl;
	char *boundary = NULL;

	if (o == NULL || o->type != PK_OBJECT || o->state == NULL ||
	    o->state->type != PK_DICT || depth > 20) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_FORMAT,
			    "not a pickled email message");
		return -1;
	}
	st = o->state;
	h = pickle_get(st, "_headers");
	for (guint i = 0; h != NULL && h->type == PK_LIST && i < h->items->len; i++) {
		const struct pickle_node *pair = h->items->pdata[i];
		char *name, *value;

		if (pair->type != PK_TUPLE || pair->items->len != 2)
			continue;
		name = pickle_text(pair->items->pdata[0], charset);
		value = pickle_text(pair->items->pdata[1], charset);
		if (name != NULL && value != NULL) {
			g_string_append_printf(out, "%s: %s\n", name, value);
			if (g_ascii_strcasecmp(name, "Content-Type") == 0 &&
			    strstr(value, "boundary=") != NULL) {
				const char *b = strstr(value, "boundary=") + 9;
				gboolean q = *b == '"';
				size_t n = q ? strcspn(b + 1, "\"") : strcspn(b, "; \t\r\n");
				g_free(boundary);
				boundary = g_strndup(q ? b + 1 : b, n);
			}
		}
		g_free(name);
		g_free(value);
	}
	g_string_append_c(out, '\n');
	pl = pickle_get(st, "_payload");
	if (pl != NULL && pl->type == PK_LIST) {
		char *pre = pickle_text(pickle_get(st, "preamble"), charset);
		char *epi = pickle_text(pickle_get(st, "epilogue"), charset);
		int ret = 0;

		if (boundary == NULL)
			boundary = g_strdup("herald-import-boundary");
		if (pre != NULL)
			g_string_append_printf(out, "%s\n", pre);
		for (guint i = 0; i < pl->items->len && ret == 0; i++) {
			g_string_append_printf(out, "--%s\n", boundary);
			ret = message_text(pl->items->pdata[i], charset, out,
					   depth + 1, error);
			g_string_append_c(out, '\n');
		}
		g_string_append_printf(out, "--%s--\n", boundary);
		if (epi != NULL)
			g_string_append(out, epi);
		g_free(pre);
		g_free(epi);
		g_free(boundary);
		return ret;
	}
	if (pl != NULL && (pl->type == PK_BYTES || pl->type == PK_UNICODE))
		g_string_append_len(out, pl->s, (gssize)pl->len);
	g_free(boundary);
	return 0;
}

/* The held message in file path (a pickle or text), as bytes. */
static GString *
held_message(const char *path, const char *charset, GError **error)
{
	GString *out = NULL;
	char *data = NULL;
	size_t len = 0;

	if (g_str_has_suffix(path, ".pck")) {
		struct pickle *p = pickle_read_file(path, NULL, error);
		if (p == NULL)
			return NULL;
		out = g_string_new(NULL);
		if (message_text(pickle_root(p), charset, out, 0, error) < 0) {
			g_prefix_error(error, "%s: ", path);
			g_string_free(out, TRUE);
			out = NULL;
		}
		pickle_free(&p);
		return out;
	}
	if (fs_read_file(path, &data, &len, error) <= 0)
		return NULL;
	out = g_string_new_len(data, (gssize)len);
	g_free(data);
	return out;
}

static int
import_held(struct list *l, const char *path, const struct pickle_node *data,
	    const char *charset, GError **error)
{
	GString *text = held_message(path, charset, error);
	GMimeMessage *msg = NULL;
	struct queue_meta *meta = queue_meta_new();
	char *sender = pickle_text(data->items->pdata[1], charset);
	char *reason = pickle_text(data->items->pdata[3], charset);
	const char *rest = strstr(PIPELINE_DEFAULT_ORDER, ",hold,");
	int64_t ptime = 0, id;
	int ret = -1;

	if (text == NULL || (msg = message_parse(text->str, text->len, error)) == NULL)
		goto out;
	pickle_int(data->items->pdata[0], &ptime);
	queue_meta_set(meta, META_LIST, list_fqdn(l));
	queue_meta_set(meta, META_KIND, "post");
	queue_meta_set(meta, META_SENDER, sender != NULL ? sender : "");
	ret = held_store(l, msg, meta, sender != NULL ? sender : "",
			 reason != NULL && *reason != '\0' ? reason
			 : "held in Mailman 2.1", "hold",
			 rest != NULL ? rest + strlen(",hold,") : NULL, &id, error);
out:
	if (text != NULL)
		g_string_free(text, TRUE);
	if (msg != NULL)
		g_object_unref(msg);
	queue_meta_free(&meta);
	g_free(sender);
	g_free(reason);
	return ret;
}

static int
import_request(struct list *l, int64_t type, const struct pickle_node *data,
	       const char *charset, GError **error)
{
	struct pending *p;
	char *addr;
	int64_t v = 0;
	int ret;

	if (type == MM_UNSUBSCRIPTION) {
		addr = pickle_text(data, charset);
		p = pending_new(PENDING_UNSUBSCRIBE, addr);
	} else {
		char *pw;
		addr = pickle_text(data->items->pdata[1], charset);
		p = pending_new(PENDING_SUBSCRIBE, addr);
		g_free(p->name);
		p->name = pickle_text(data->items->pdata[2], charset);
		if (p->name == NULL)
			p->name = g_strdup("");
		pw = pickle_text(data->items->pdata[3], charset);
		if (pw != NULL && *pw != '\0') {
			g_free(p->password);
			p->password = member_password_hash(pw, NULL);
			if (p->password == NULL)
				p->password = g_strdup("");
		}
		g_free(pw);
		p->digest = pickle_int(data->items->pdata[4], &v) && v != 0;
	}
	p->state = PENDING_APPROVE;
	g_free(p->requester);
	p->requester = g_strdup(addr != NULL ? addr : "");
	g_free(p->via);
	p->via = g_strdup("mailman2");
	g_free(p->reason);
	p->reason = g_strdup("waiting in Mailman 2.1");
	ret = addr == NULL ? 0 : pending_add(l, p, error);
	pending_free(&p);
	g_free(addr);
	return ret;
}

int
import_mm_requests(struct import_mm *m, struct list *l, GError **error)
{
	char *rpath = g_build_filename(m->dir, "lists", m->name, "request.pck", NULL);
	char *data_dir = g_build_filename(m->dir, "data", NULL);
	char *prefix = g_strdup_printf("heldmsg-%s-", m->name);
	GHashTable *named = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	struct pickle *p = NULL;
	GDir *d = NULL;
	const char *f;
	int ret = -1;

	if (g_file_test(rpath, G_FILE_TEST_EXISTS)) {
		const struct pickle_node *db;
		if ((p = pickle_read_file(rpath, NULL, error)) == NULL)
			goto out;
		db = pickle_root(p);
		for (guint i = 0; db->type == PK_DICT && i + 1 < db->items->len; i += 2) {
			const struct pickle_node *e = db->items->pdata[i + 1];
			int64_t id, type;
			GError *local = NULL;
			int r = 0;

			if (!pickle_int(db->items->pdata[i], &id) || e->type != PK_TUPLE ||
			    e->items->len != 2 || !pickle_int(e->items->pdata[0], &type))
				continue;	/* 'version' */
			const struct pickle_node *data = e->items->pdata[1];
			if (type == MM_HELDMSG && data->type == PK_TUPLE &&
			    data->items->len >= 5) {
				char *file = pickle_text(data->items->pdata[4], NULL);
				char *base = file != NULL ? g_path_get_basename(file) : NULL;
				char *path = base != NULL ? g_build_filename(data_dir, base, NULL) : NULL;
				if (path == NULL) {
					r = -1;
					g_set_error(&local, HERALD_ERROR, HERALD_ERR_FORMAT,
						    "no file name");
				} else {
					g_hash_table_add(named, g_strdup(base));
					if (l != NULL)
						r = import_held(l, path, data, m->charset, &local);
				}
				if (r == 0) {
					g_string_append_printf(m->report, "  held post %" G_GINT64_FORMAT
							       " (%s): %s\n", id, base,
							       m->dry_run ? "to be carried" : "carried");
					m->t->held++;
				} else {
					g_string_append_printf(m->report, "  held post %" G_GINT64_FORMAT
							       " not carried, kept aside: %s\n",
							       id, local->message);
					if (path != NULL && !m->dry_run &&
					    g_file_test(path, G_FILE_TEST_EXISTS) &&
					    import_keep(m->real, m->fqdn, path, NULL, error) < 0) {
						g_clear_error(&local);
						g_free(file);
						g_free(base);
						g_free(path);
						goto out;
					}
					m->t->kept++;
				}
				g_clear_error(&local);
				g_free(file);
				g_free(base);
				g_free(path);
			} else if ((type == MM_SUBSCRIPTION && data->type == PK_TUPLE &&
				    data->items->len >= 6) ||
				   (type == MM_UNSUBSCRIPTION &&
				    (data->type == PK_BYTES || data->type == PK_UNICODE))) {
				if (l != NULL && import_request(l, type, data, m->charset,
								error) < 0)
					goto out;
				g_string_append_printf(m->report, "  %s request %" G_GINT64_FORMAT
						       ": %s (awaits a moderator)\n",
						       type == MM_SUBSCRIPTION ? "subscription"
						       : "unsubscription", id,
						       m->dry_run ? "to be carried" : "carried");
				m->t->requests++;
			}
		}
	}
	/* Held messages no request names, and the confirmations mailed out. */
	d = g_dir_open(data_dir, 0, NULL);
	while (d != NULL && (f = g_dir_read_name(d)) != NULL) {
		char *path;
		if (!g_str_has_prefix(f, prefix) || g_hash_table_contains(named, f))
			continue;
		path = g_build_filename(data_dir, f, NULL);
		g_string_append_printf(m->report, "  kept aside: %s (a held message "
				       "no request names)\n", path);
		m->t->kept++;
		if (!m->dry_run && import_keep(m->real, m->fqdn, path, NULL, error) < 0) {
			g_free(path);
			goto out;
		}
		g_free(path);
	}
	for (int i = 0; i < 2; i++) {
		char *pp = i == 0 ? g_build_filename(m->dir, "lists", m->name, "pending.pck", NULL)
				  : g_build_filename(data_dir, "pending.pck", NULL);
		struct pickle *pk;
		GError *local = NULL;
		guint n = 0;

		if (!g_file_test(pp, G_FILE_TEST_EXISTS)) {
			g_free(pp);
			continue;
		}
		if ((pk = pickle_read_file(pp, NULL, &local)) != NULL) {
			const struct pickle_node *r = pickle_root(pk);
			for (guint k = 0; r->type == PK_DICT && k + 1 < r->items->len; k += 2)
				if (((const struct pickle_node *)r->items->pdata[k + 1])->type == PK_TUPLE)
					n++;
			pickle_free(&pk);
		}
		g_string_append_printf(m->report, "  kept aside: %s (%u confirmations "
				       "Mailman mailed out%s%s: their tokens cannot carry "
				       "over; people ask again)\n", pp, n,
				       local != NULL ? "; unreadable: " : "",
				       local != NULL ? local->message : "");
		g_clear_error(&local);
		m->t->kept++;
		if (!m->dry_run && import_keep(m->real, m->fqdn, pp, i == 0 ? "list-pending.pck" : NULL, error) < 0) {
			g_free(pp);
			goto out;
		}
		g_free(pp);
	}
	ret = 0;
out:
	if (d != NULL)
		g_dir_close(d);
	pickle_free(&p);
	g_hash_table_destroy(named);
	g_free(prefix);
	g_free(data_dir);
	g_free(rpath);
	return ret;
}
