/*
 * pipe_recips.c - who gets the post: calcrecips, avoiddups, ownerrecips.
 *
 * Recipients are delivery addresses (struct member.addr, the case the
 * member wrote), kept in the post and carried in the queue metadata as
 * "rcpt" lines.  A post that already has recipients (resumed, or set by
 * the sender of a notice) keeps them.
 */
#include "pipeline/pipeline.h"
#include "mail/address.h"
#include "mail/message.h"
#include "store/names.h"

#include <string.h>

enum pipe_result
pipe_calcrecips(struct post *p, GError **error)
{
	struct roster *r;
	GPtrArray *all;
	char *poster_key;

	if (p->recipients != NULL)
		return PIPE_CONTINUE;
	if ((r = post_roster(p, error)) == NULL)
		return PIPE_ERROR;
	poster_key = address_key(p->poster);
	all = roster_members(r, FALSE);
	p->recipients = g_ptr_array_new_full(all->len, g_free);
	for (guint i = 0; i < all->len; i++) {
		const struct member *m = all->pdata[i];

		if (m->mode != MODE_REGULAR || m->status != STATUS_ENABLED)
			continue;
		if ((m->options & OPT_NOTMETOO) && poster_key != NULL &&
		    strcmp(m->key, poster_key) == 0)
			continue;
		g_ptr_array_add(p->recipients, g_strdup(m->addr));
	}
	g_ptr_array_unref(all);
	g_free(poster_key);
	return PIPE_CONTINUE;
}

/* drop_cc: the Cc header without the members in drop (keys), who get
 * the post directly and not from the list (Mailman's AvoidDuplicates). */
static void
rewrite_cc(struct post *p, GHashTable *drop)
{
	const char *cc = message_header(p->msg, "Cc");
	InternetAddressList *al, *kept;
	char *text;

	if (cc == NULL || (al = internet_address_list_parse(NULL, cc)) == NULL)
		return;
	kept = internet_address_list_new();
	for (int i = 0; i < internet_address_list_length(al); i++) {
		InternetAddress *ia = internet_address_list_get_address(al, i);
		char *key = INTERNET_ADDRESS_IS_MAILBOX(ia)
			? address_key(internet_address_mailbox_get_addr(
				INTERNET_ADDRESS_MAILBOX(ia)))
			: NULL;

		if (key == NULL || !g_hash_table_contains(drop, key))
			internet_address_list_add(kept, ia);
		g_free(key);
	}
	if (internet_address_list_length(kept) == 0) {
		message_header_remove_all(p->msg, "Cc");
	} else {
		text = internet_address_list_to_string(kept, NULL, TRUE);
		message_header_set(p->msg, "Cc", text);
		g_free(text);
	}
	g_object_unref(kept);
	g_object_unref(al);
}

enum pipe_result
pipe_avoiddups(struct post *p, GError **error)
{
	static const char *const named[] = {
		"To", "Cc", "Resent-To", "Resent-Cc", NULL
	};
	GHashTable *drop = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						 NULL);
	GPtrArray *addrs;
	struct roster *r;

	if (p->recipients == NULL)
		return PIPE_CONTINUE;
	if ((r = post_roster(p, error)) == NULL) {
		g_hash_table_unref(drop);
		return PIPE_ERROR;
	}
	addrs = message_addresses(p->msg, named);
	for (guint i = 0; i < addrs->len; i++) {
		const struct member *m = roster_find(r, addrs->pdata[i]);

		if (m != NULL && (m->options & OPT_NODUPES))
			g_hash_table_add(drop, g_strdup(m->key));
	}
	for (guint i = 0; g_hash_table_size(drop) > 0 && i < p->recipients->len;) {
		char *key = address_key(p->recipients->pdata[i]);

		if (key != NULL && g_hash_table_contains(drop, key))
			g_ptr_array_remove_index(p->recipients, i);
		else
			i++;
		g_free(key);
	}
	if (g_hash_table_size(drop) > 0 && post_setting_bool(p, "drop_cc"))
		rewrite_cc(p, drop);
	g_ptr_array_unref(addrs);
	g_hash_table_unref(drop);
	return PIPE_CONTINUE;
}

enum pipe_result
pipe_ownerrecips(struct post *p, GError **error)
{
	char **owners = list_get_lines(p->list, "owner");
	char **mods = list_get_lines(p->list, "moderator");

	if (p->recipients != NULL)
		g_ptr_array_unref(p->recipients);
	p->recipients = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; owners[i] != NULL; i++)
		g_ptr_array_add(p->recipients, g_strdup(owners[i]));
	for (guint i = 0; mods[i] != NULL; i++)
		if (!address_in((const char *const *)owners, mods[i]))
			g_ptr_array_add(p->recipients, g_strdup(mods[i]));
	/* Owner mail goes out as it came: no footer, no list headers. */
	queue_meta_set(p->meta, META_NODECORATE, "yes");
	g_strfreev(owners);
	g_strfreev(mods);
	return PIPE_CONTINUE;
}
