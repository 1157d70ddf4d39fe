/*
 * listaddr.c - which list, and which of its addresses, a recipient is:
 * LIST@DOMAIN (post), LIST-request, -join/-subscribe, -leave/-unsubscribe,
 * -owner/-admin, -bounces+VERP and -confirm+TOKEN, as Mailman 2.1 names
 * them.  The LMTP server and `herald mta auto` (the pipe) both map with it.
 */
#include "list/listaddr.h"
#include "base/base.h"
#include "list/list.h"
#include "store/names.h"

#include <string.h>

/* Which queue each kind of mail goes to. */
static const struct {
	const char *kind;
	const char *queue;
} kinds[] = {
	{ "post", QUEUE_IN },		/* LIST@ */
	{ "owner", QUEUE_IN },		/* LIST-owner@: the owner pipeline */
	{ "request", QUEUE_COMMANDS },	/* LIST-request@ */
	{ "join", QUEUE_COMMANDS },		/* LIST-join@ */
	{ "leave", QUEUE_COMMANDS },	/* LIST-leave@ */
	{ "confirm", QUEUE_COMMANDS },	/* LIST-confirm+TOKEN@ */
	{ "bounces", QUEUE_BOUNCES },	/* LIST-bounces+VERP@ */
};

/* The suffixes of a list's addresses and the kind of mail each receives. */
static const struct {
	const char *suffix;
	const char *kind;
	gboolean plus;		/* takes +extension (VERP, token) */
} suffixes[] = {
	{ "-request", "request", FALSE },
	{ "-join", "join", FALSE },
	{ "-subscribe", "join", FALSE },
	{ "-leave", "leave", FALSE },
	{ "-unsubscribe", "leave", FALSE },
	{ "-owner", "owner", FALSE },
	{ "-admin", "owner", FALSE },
	{ "-bounces", "bounces", TRUE },
	{ "-confirm", "confirm", TRUE },
};

const char *
listaddr_suffix(guint i)
{
	return i < G_N_ELEMENTS(suffixes) ? suffixes[i].suffix : NULL;
}

const char *
listaddr_kind_queue(const char *kind)
{
	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return kinds[i].queue;
	return NULL;
}

void
listaddr_free_ptr(gpointer p)
{
	struct listaddr *r = p;

	g_free(r->address);
	g_free(r->list);
	g_free(r);
}

static gboolean
list_exists(struct site *site, const char *fqdn)
{
	char *dir;
	gboolean ok;

	if (list_name_check(fqdn, NULL, NULL, NULL) < 0)
		return FALSE;
	dir = site_path(site, "lists", fqdn, "config", NULL);
	ok = g_file_test(dir, G_FILE_TEST_IS_REGULAR);
	g_free(dir);
	return ok;
}

/* Maps a recipient address to a list and kind.  NULL when it is none of
 * the site's list addresses. */
struct listaddr *
listaddr_map(struct site *site, const char *address)
{
	const char *at = strrchr(address, '@');
	char *local, *domain, *lower;
	struct listaddr *r = NULL;

	if (at == NULL || at == address)
		return NULL;
	lower = g_ascii_strdown(address, -1);
	local = g_strndup(lower, (gsize)(at - address));
	domain = g_strdup(lower + (at - address) + 1);
	char *plain = g_strdup_printf("%s@%s", local, domain);
	if (strchr(local, '+') == NULL && list_exists(site, plain)) {
		r = g_new0(struct listaddr, 1);
		r->list = g_strdup(plain);
		r->kind = "post";
		r->queue = listaddr_kind_queue(r->kind);
	}
	for (size_t i = 0; r == NULL && i < G_N_ELEMENTS(suffixes); i++) {
		char *base = g_strdup(local);
		char *plus = strchr(base, '+');
		if (plus != NULL) {
			if (!suffixes[i].plus) {
				g_free(base);
				continue;
			}
			*plus = '\0';
		}
		if (g_str_has_suffix(base, suffixes[i].suffix)) {
			base[strlen(base) - strlen(suffixes[i].suffix)] = '\0';
			char *fqdn = g_strdup_printf("%s@%s", base, domain);
			if (*base != '\0' && list_exists(site, fqdn)) {
				r = g_new0(struct listaddr, 1);
				r->list = fqdn;
				r->kind = suffixes[i].kind;
				r->queue = listaddr_kind_queue(r->kind);
			} else {
				g_free(fqdn);
			}
		}
		g_free(base);
	}
	if (r != NULL)
		r->address = g_strdup(address);
	g_free(plain);
	g_free(local);
	g_free(domain);
	g_free(lower);
	return r;
}

/* A list that does not exist yet, and the lists there are: two lists
 * share an address only when the posting address of one is a role
 * address of the other.  Two role addresses never meet, as no suffix of
 * the table ends another (test-list.c checks that of the table): name1 +
 * suffix1 == name2 + suffix2 would make the shorter suffix end the
 * longer. */
int
listaddr_check_new(struct site *site, const char *fqdn, GError **error)
{
	const char *at = strrchr(fqdn, '@');
	char *name = g_strndup(fqdn, (gsize)(at - fqdn));
	const char *domain = at + 1;
	struct listaddr *r = listaddr_map(site, fqdn);
	GPtrArray *all = NULL;
	int ret = 0;

	/* Its posting address is another list's LIST-suffix[+ext]. */
	if (r != NULL && strcmp(r->list, fqdn) != 0) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
			    "list name %s is taken: it is the %s address of "
			    "list %s", fqdn, r->kind, r->list);
		ret = -1;
	}
	if (r != NULL)
		listaddr_free_ptr(r);
	/* One of its addresses is another list's posting address. */
	for (size_t i = 0; ret == 0 && i < G_N_ELEMENTS(suffixes); i++) {
		char *addr = g_strdup_printf("%s%s@%s", name, suffixes[i].suffix,
					     domain);
		char *other = list_exists(site, addr) ? g_strdup(addr) : NULL;

		/* LIST-bounces+anything is LIST's too. */
		if (other == NULL && suffixes[i].plus) {
			char *prefix = g_strdup_printf("%s%s+", name,
						       suffixes[i].suffix);
			if (all == NULL &&
			    (all = list_all(site, error)) == NULL)
				ret = -1;
			for (guint j = 0; all != NULL && other == NULL &&
				    j < all->len; j++) {
				const char *l = all->pdata[j], *la = strrchr(l, '@');
				if (g_str_has_prefix(l, prefix) &&
				    strcmp(la + 1, domain) == 0)
					other = g_strdup(l);
			}
			g_free(prefix);
		}
		if (other != NULL) {
			g_set_error(error, HERALD_ERROR, HERALD_ERR_EXISTS,
				    "list name %s is taken: its %s%s address "
				    "would be the posting address of list %s",
				    fqdn, suffixes[i].suffix,
				    strcmp(other, addr) != 0 ? "+..." : "", other);
			ret = -1;
		}
		g_free(other);
		g_free(addr);
	}
	if (all != NULL)
		g_ptr_array_free(all, TRUE);
	g_free(name);
	return ret;
}

struct listaddr *
listaddr_map_tagged(struct site *site, const char *address)
{
	struct listaddr *r = listaddr_map(site, address);
	const char *plus = strchr(address, '+'), *at = strrchr(address, '@');

	if (r == NULL && plus != NULL && at != NULL && plus < at) {
		char *base = g_strdup_printf("%.*s%s", (int)(plus - address),
					     address, at);

		r = listaddr_map(site, base);
		g_free(base);
	}
	return r;
}
