/*
 * article.c - the article a list post becomes in the linked newsgroup,
 * cleaned as Mailman 2.1's NewsRunner cleans it, and how an article that
 * came from the list itself is known again.
 *
 * News servers refuse articles that carry headers only servers may write
 * (Path, Xref, NNTP-Posting-Host, ...), and some refuse duplicated headers:
 * the first are removed, the second kept once with the other copies
 * renamed (To to X-Original-To, ...).  The Message-ID is replaced by one
 * of the list's own, made from the post's: two lists gatewayed from one
 * post make two articles, and a post posted twice (a retry after a lost
 * answer, a pipeline replayed after a crash) makes the same Message-ID,
 * which the server takes once.
 */
#include "news/nntp.h"
#include "base/base.h"
#include "mail/address.h"
#include "mail/message.h"

#include <string.h>

/* Headers only news servers write (Mailman's NNTP_REMOVE_HEADERS, with
 * Path and the RFC 5536 Injection-* of modern servers). */
static const char *const server_headers[] = {
	"NNTP-Posting-Host", "NNTP-Posting-Date", "X-Trace", "X-Complaints-To",
	"Xref", "Date-Received", "Posted", "Posting-Version", "Relay-Version",
	"Received", "Path", "Injection-Info", "Injection-Date", NULL,
};

/* Headers a news server wants once: the other copies are renamed
 * (Mailman's NNTP_REWRITE_DUPLICATE_HEADERS). */
static const struct { const char *name, *rename; } once_headers[] = {
	{ "To", "X-Original-To" },
	{ "Cc", "X-Original-Cc" },
	{ "Content-Transfer-Encoding", "X-Original-Content-Transfer-Encoding" },
	{ "MIME-Version", "X-MIME-Version" },
};

char *
news_message_id(struct list *l, const char *msgid)
{
	GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
	char *id;

	g_checksum_update(c, (const guchar *)list_fqdn(l), -1);
	g_checksum_update(c, (const guchar *)"\n", 1);
	g_checksum_update(c, (const guchar *)msgid, -1);
	id = g_strdup_printf("<%.32s.news.%s>", g_checksum_get_string(c),
			     list_fqdn(l));
	g_checksum_free(c);
	return id;
}

/* Whether msgid is one news_message_id made for l. */
static gboolean
is_our_message_id(struct list *l, const char *msgid)
{
	char *tail = g_strdup_printf(".news.%s>", list_fqdn(l));
	gboolean ours = msgid != NULL && g_str_has_suffix(msgid, tail);

	g_free(tail);
	return ours;
}

/* The values of every header called name, raw, in order. */
static GPtrArray *
header_values(GMimeMessage *msg, const char *name)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
	GPtrArray *v = g_ptr_array_new_with_free_func(g_free);
	int n = g_mime_header_list_get_count(hl);

	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);

		if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) == 0)
			g_ptr_array_add(v, g_strstrip(g_strdup(
				g_mime_header_get_raw_value(h))));
	}
	return v;
}

/* Newsgroups: the post's groups with the linked one added. */
static void
set_newsgroups(GMimeMessage *msg, const char *group)
{
	const char *have = message_header(msg, "Newsgroups");
	char **groups;
	gboolean in = FALSE;

	if (have == NULL) {
		message_header_set(msg, "Newsgroups", group);
		return;
	}
	groups = g_strsplit(have, ",", -1);
	for (guint i = 0; groups[i] != NULL; i++)
		if (strcmp(g_strstrip(groups[i]), group) == 0)
			in = TRUE;
	if (!in) {
		char *all = g_strconcat(have, ",", group, NULL);

		message_header_set(msg, "Newsgroups", all);
		g_free(all);
	}
	g_strfreev(groups);
}

static guint
body_lines(const char *msg, size_t len)
{
	size_t h = message_header_length(msg, len);
	guint n = 0;

	for (size_t i = h; i < len; i++)
		n += msg[i] == '\n';
	if (len > h && msg[len - 1] != '\n')
		n++;
	return n;
}

GString *
news_article(struct list *l, const char *msg, size_t len,
	     const char *orig_subject, const char *queue_name, GError **error)
{
	GMimeMessage *m = message_parse_stored(msg, len, error);
	char *group, *id, *lines;
	const char *old_id;
	GByteArray *bytes;
	GString *out;

	if (m == NULL)
		return NULL;
	/* The post is approved for the group already (the list's moderation
	 * is the group's: news_moderation), so the server must not send it
	 * to the group's moderator. */
	if (list_get_int(l, "news_moderation") != 0)
		message_header_set(m, "Approved", list_fqdn(l));
	if (orig_subject != NULL)
		message_header_set(m, "Subject", orig_subject);
	group = list_get(l, "linked_newsgroup", NULL);
	set_newsgroups(m, group != NULL ? group : "");
	g_free(group);
	old_id = message_header(m, "Message-ID");
	if (is_our_message_id(l, old_id)) {
		id = g_strdup(old_id);
	} else {
		char *key = old_id != NULL && *old_id != '\0'
			    ? g_strdup(old_id) : g_strdup_printf("entry %s", queue_name);

		id = news_message_id(l, key);
		g_free(key);
	}
	message_header_set(m, "Message-ID", id);
	g_free(id);
	if (message_header(m, "Lines") == NULL) {
		lines = g_strdup_printf("%u", body_lines(msg, len));
		message_header_set(m, "Lines", lines);
		g_free(lines);
	}
	for (const char *const *h = server_headers; *h != NULL; h++)
		message_header_remove_all(m, *h);
	for (size_t i = 0; i < G_N_ELEMENTS(once_headers); i++) {
		GPtrArray *v = header_values(m, once_headers[i].name);

		if (v->len > 1) {
			message_header_set(m, once_headers[i].name, v->pdata[0]);
			for (guint k = 1; k < v->len; k++)
				message_header_append(m, once_headers[i].rename,
						      v->pdata[k]);
		}
		g_ptr_array_unref(v);
	}
	bytes = message_to_bytes(m);
	out = g_string_new_len((const char *)bytes->data, (gssize)bytes->len);
	g_byte_array_unref(bytes);
	g_object_unref(m);
	return out;
}

gboolean
news_article_is_ours(struct list *l, const char *article, size_t len)
{
	GMimeMessage *m = message_parse_stored(article, len, NULL);
	GPtrArray *been;
	gboolean ours;

	if (m == NULL)
		return FALSE;
	ours = is_our_message_id(l, message_header(m, "Message-ID"));
	been = header_values(m, "X-BeenThere");
	for (guint i = 0; !ours && i < been->len; i++)
		ours = address_equal(been->pdata[i], list_fqdn(l));
	g_ptr_array_unref(been);
	g_object_unref(m);
	return ours;
}
