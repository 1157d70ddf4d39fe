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
#include "list/topics.h"
#include "base/log.h"

#include <string.h>

#define RECIPS_SUBSYS "pipeline"

/* The recipients so far, once each (by address key): a member of this
 * list and of an included sibling gets one copy.  Without sibling lists
 * the roster's members are distinct already, and the table is not made:
 * for 100,000 members it would cost more than the rest of calcrecips. */
struct recips {
	GPtrArray *addrs;	/* the post's recipients */
	GHashTable *keys;	/* key -> index + 1 in addrs; NULL: no siblings */
};

static void
recips_add(struct recips *rc, const struct member *m)
{
	if (rc->keys != NULL && g_hash_table_contains(rc->keys, m->key))
		return;
	g_ptr_array_add(rc->addrs, g_strdup(m->addr));
	if (rc->keys != NULL)
		g_hash_table_insert(rc->keys, g_strdup(m->key),
				    GUINT_TO_POINTER(rc->addrs->len));
}

static void
recips_remove(struct recips *rc, const char *key)
{
	guint i = GPOINTER_TO_UINT(g_hash_table_lookup(rc->keys, key));

	if (i == 0)
		return;
	/* Leaves a hole, squeezed out at the end: removing one by one from a
	 * 100,000-address array would be quadratic. */
	g_free(rc->addrs->pdata[i - 1]);
	rc->addrs->pdata[i - 1] = NULL;
	g_hash_table_remove(rc->keys, key);
}

/* The recipients without the holes recips_remove left. */
static GPtrArray *
recips_squeeze(struct recips *rc)
{
	guint w = 0;

	for (guint i = 0; i < rc->addrs->len; i++)
		if (rc->addrs->pdata[i] != NULL)
			rc->addrs->pdata[w++] = rc->addrs->pdata[i];
	/* set_size frees what it cuts off: those slots were moved down. */
	for (guint i = w; i < rc->addrs->len; i++)
		rc->addrs->pdata[i] = NULL;
	g_ptr_array_set_size(rc->addrs, w);
	return rc->addrs;
}

/* Mailman's topic rules: a member who chose topics gets the posts that
 * match one of them, and the posts that match none only with nmtopics. */
static gboolean
wants_topics(struct post *p, const struct member *m, const char *const *hits)
{
	return topics_member_receives(m->topics, (m->options & OPT_NMTOPICS) != 0,
				      hits);
}

/* A sibling list named in regular_include_lists or regular_exclude_lists,
 * with its roster; NULL (logged: a setting an admin must fix, not a
 * reason to stop the post) when it is this list or does not exist. */
static struct roster *
sibling_roster(struct post *p, const char *fqdn, const char *setting)
{
	GError *err = NULL;
	struct list *sl;
	struct roster *r = NULL;

	if (g_ascii_strcasecmp(fqdn, list_fqdn(p->list)) == 0) {
		log_error(RECIPS_SUBSYS, "list %s: %s names the list itself",
			  list_fqdn(p->list), setting);
		return NULL;
	}
	if ((sl = list_open(p->site, fqdn, &err)) == NULL ||
	    roster_load(sl, &r, &err) < 0) {
		log_error(RECIPS_SUBSYS, "list %s: %s: %s", list_fqdn(p->list),
			  setting, err->message);
		g_clear_error(&err);
	}
	list_free(&sl);
	return r;
}

static gboolean
in_destinations(GPtrArray *dests, const char *fqdn)
{
	char *key = address_key(fqdn);
	gboolean in = FALSE;

	for (guint i = 0; key != NULL && i < dests->len && !in; i++)
		in = strcmp(dests->pdata[i], key) == 0;
	g_free(key);
	return in;
}

/* regular_exclude_lists: the post was sent to a sibling list too, whose
 * members get it from there.  With regular_exclude_ignore, only when the
 * poster is a member of that list: a nonmember's post may be held there,
 * and the members would then get it from neither list. */
static void
exclude_siblings(struct post *p, struct recips *rc, GPtrArray *dests)
{
	char **lists = list_get_lines(p->list, "regular_exclude_lists");
	gboolean ignore = post_setting_bool(p, "regular_exclude_ignore");

	for (int i = 0; lists[i] != NULL; i++) {
		struct roster *sr;
		GPtrArray *all;

		if (!in_destinations(dests, lists[i]) ||
		    (sr = sibling_roster(p, lists[i], "regular_exclude_lists")) == NULL)
			continue;
		if (ignore && roster_find(sr, p->poster) == NULL &&
		    (*p->sender == '\0' || roster_find(sr, p->sender) == NULL)) {
			roster_free(&sr);
			continue;
		}
		all = roster_members(sr, FALSE);
		for (guint j = 0; j < all->len; j++) {
			const struct member *m = all->pdata[j];
			if (m->mode == MODE_REGULAR)
				recips_remove(rc, m->key);
		}
		g_ptr_array_unref(all);
		roster_free(&sr);
	}
	g_strfreev(lists);
}

/* regular_include_lists: the regular members of the siblings (delivery
 * enabled) get the post too, unless it was sent to that list as well. */
static void
include_siblings(struct post *p, struct recips *rc, GPtrArray *dests)
{
	char **lists = list_get_lines(p->list, "regular_include_lists");

	for (int i = 0; lists[i] != NULL; i++) {
		struct roster *sr;
		GPtrArray *all;

		if (in_destinations(dests, lists[i]) ||
		    (sr = sibling_roster(p, lists[i], "regular_include_lists")) == NULL)
			continue;
		all = roster_members(sr, FALSE);
		for (guint j = 0; j < all->len; j++) {
			const struct member *m = all->pdata[j];
			if (m->mode == MODE_REGULAR && m->status == STATUS_ENABLED)
				recips_add(rc, m);
		}
		g_ptr_array_unref(all);
		roster_free(&sr);
	}
	g_strfreev(lists);
}

static gboolean
has_siblings(struct post *p)
{
	char **inc = list_get_lines(p->list, "regular_include_lists");
	char **exc = list_get_lines(p->list, "regular_exclude_lists");
	gboolean has = inc[0] != NULL || exc[0] != NULL;

	g_strfreev(inc);
	g_strfreev(exc);
	return has;
}

/* Whether the list's pipeline has the tagger.  A list keeps the pipeline
 * it was created with, so one made before herald had topics lacks it:
 * calcrecips tags such a post itself. */
static gboolean
pipeline_names_tagger(struct post *p)
{
	char *order = post_setting(p, "pipeline");
	char **names = g_strsplit(order, ",", -1);
	gboolean has = FALSE;

	for (int i = 0; names[i] != NULL && !has; i++)
		has = strcmp(g_strstrip(names[i]), "tagger") == 0;
	g_strfreev(names);
	g_free(order);
	return has;
}

enum pipe_result
pipe_calcrecips(struct post *p, GError **error)
{
	static const char *const named[] = { "To", "Cc", NULL };
	struct recips rc;
	struct roster *r;
	GPtrArray *all, *dests, *hits = NULL;
	gboolean topics;
	char *poster_key;

	if (p->recipients != NULL)
		return PIPE_CONTINUE;
	if ((r = post_roster(p, error)) == NULL)
		return PIPE_ERROR;
	topics = post_setting_bool(p, "topics_enabled");
	if (topics && !pipeline_names_tagger(p) && pipe_tagger(p, error) != PIPE_CONTINUE)
		return PIPE_ERROR;
	poster_key = address_key(p->poster);
	if (topics) {
		hits = queue_meta_get_all(p->meta, META_TOPIC);
		g_ptr_array_add(hits, NULL);
	}
	all = roster_members(r, FALSE);
	rc.addrs = g_ptr_array_new_full(all->len, g_free);
	rc.keys = has_siblings(p) ? g_hash_table_new_full(g_str_hash, g_str_equal,
							  g_free, NULL)
				  : NULL;
	for (guint i = 0; i < all->len; i++) {
		const struct member *m = all->pdata[i];

		if (m->mode != MODE_REGULAR || m->status != STATUS_ENABLED)
			continue;
		if ((m->options & OPT_NOTMETOO) && poster_key != NULL &&
		    strcmp(m->key, poster_key) == 0)
			continue;
		if (topics && !wants_topics(p, m, (const char *const *)hits->pdata))
			continue;
		recips_add(&rc, m);
	}
	g_ptr_array_unref(all);
	if (rc.keys != NULL) {
		dests = message_addresses(p->msg, named);
		exclude_siblings(p, &rc, dests);
		include_siblings(p, &rc, dests);
		g_ptr_array_unref(dests);
		g_hash_table_unref(rc.keys);
	}
	p->recipients = recips_squeeze(&rc);
	if (hits != NULL)
		g_ptr_array_unref(hits);
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
