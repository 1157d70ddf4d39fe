/*
 * pipe_replybot.c - automatic responses to posts (autorespond_postings)
 * and to mail for the owners (autorespond_admin).
 *
 * A sender gets one response per autoresponse_graceperiod days (0: every
 * time), recorded in lists/<list>/replybot; robots and bulk mail get
 * none (X-Ack: yes asks for one anyway, X-Ack: no refuses it).  The daily
 * limit of notice_autorespond applies on top.
 */
#include "pipeline.h"
#include "address.h"
#include "base.h"
#include "log.h"
#include "message.h"
#include "notice.h"

#include <string.h>
#include <time.h>

/* Whether the post is mail a robot sent: Precedence bulk, junk or list. */
static gboolean
is_bulk(GMimeMessage *msg)
{
	const char *prec = message_header(msg, "Precedence");
	char *v;
	gboolean bulk;

	if (prec == NULL)
		return FALSE;
	v = g_ascii_strdown(g_strstrip(g_strdup(prec)), -1);
	bulk = strcmp(v, "bulk") == 0 || strcmp(v, "junk") == 0 ||
	       strcmp(v, "list") == 0;
	g_free(v);
	return bulk;
}

/* Records that key gets a response now, unless it had one within grace
 * days.  1 respond, 0 not, -1 error. */
static int
grace_check(struct list *l, const char *key, int64_t grace_days, GError **error)
{
	char *path = g_build_filename(list_dir(l), "replybot", NULL);
	int64_t now = (int64_t)time(NULL), last = 0;
	struct lock *lk = NULL;
	GString *out = g_string_new(NULL);
	char *data = NULL;
	size_t len;
	int r, ret = -1;

	if (list_lock(l, 10000, &lk, error) < 0)
		goto out;
	if ((r = fs_read_file(path, &data, &len, error)) < 0)
		goto out;
	if (r > 0) {
		char **lines = g_strsplit(data, "\n", -1);

		for (guint i = 0; lines[i] != NULL; i++) {
			char *sp = strchr(lines[i], ' ');
			int64_t t;

			if (sp == NULL)
				continue;
			t = g_ascii_strtoll(sp + 1, NULL, 10);
			if (strncmp(lines[i], key, sp - lines[i]) == 0 &&
			    key[sp - lines[i]] == '\0')
				last = t;
			else if (now - t < grace_days * 86400)
				g_string_append_printf(out, "%s\n", lines[i]);
		}
		g_strfreev(lines);
	}
	ret = grace_days == 0 || now - last >= grace_days * 86400;
	g_string_append_printf(out, "%s %" G_GINT64_FORMAT "\n", key,
			       ret ? now : last);
	if (fs_write_atomic(path, out->str, out->len, error) < 0)
		ret = -1;
	if (lock_release(lk, ret < 0 ? NULL : error) < 0)
		ret = -1;
out:
	lock_free(&lk);
	g_string_free(out, TRUE);
	g_free(data);
	g_free(path);
	return ret;
}

enum pipe_result
pipe_replybot(struct post *p, GError **error)
{
	gboolean owner = g_strcmp0(queue_meta_get(p->meta, "kind"), "owner") == 0;
	const char *ack = message_header(p->msg, "X-Ack");
	char *key, *text, *subject, *orig;
	int r;

	if (!post_setting_bool(p, owner ? "autorespond_admin"
				       : "autorespond_postings"))
		return PIPE_CONTINUE;
	if (ack != NULL && g_ascii_strncasecmp(g_strchug((char *)ack), "no", 2) == 0)
		return PIPE_CONTINUE;
	if (is_bulk(p->msg) &&
	    !(ack != NULL && g_ascii_strncasecmp(g_strchug((char *)ack), "yes", 3) == 0))
		return PIPE_CONTINUE;
	if ((key = address_key(p->poster)) == NULL)
		return PIPE_CONTINUE;
	r = grace_check(p->list, key,
			post_setting_int(p, "autoresponse_graceperiod"), error);
	g_free(key);
	if (r < 0)
		return PIPE_ERROR;
	if (r == 0)
		return PIPE_CONTINUE;
	text = post_setting(p, owner ? "autoresponse_admin_text"
				     : "autoresponse_postings_text");
	orig = message_header_decoded(p->msg, "Subject");
	subject = g_strdup_printf("Auto-response for your message to %s%s%s",
				  list_fqdn(p->list), orig != NULL ? ": " : "",
				  orig != NULL ? orig : "");
	r = notice_autorespond(p->list, p->poster, subject, text, NULL, error);
	g_free(text);
	g_free(orig);
	g_free(subject);
	return r < 0 ? PIPE_ERROR : PIPE_CONTINUE;
}
