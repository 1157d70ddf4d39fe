/*
 * privacy.c - who may see a list's roster, and how (Mailman 2.1's
 * private_roster, ConcealSubscription and obscure_addresses).
 *
 * Administrators see everything as it is: they manage the members.
 * Everyone else sees only members who did not conceal themselves, and,
 * with obscure_addresses, addresses written "user at domain", which
 * address harvesters reading a roster page or a `who` answer do not
 * take for addresses (Mailman's text form).
 */
#include "list/privacy.h"

#include <string.h>

gboolean
privacy_may_see_roster(struct list *l, enum privacy_viewer viewer)
{
	int64_t who = list_get_int(l, "private_roster");

	switch (viewer) {
	case VIEWER_ADMIN:
		return TRUE;
	case VIEWER_MEMBER:
		return who <= 1;
	case VIEWER_ANYONE:
		return who == 0;
	}
	return FALSE;
}

GPtrArray *
privacy_visible_members(const struct roster *r, enum privacy_viewer viewer)
{
	GPtrArray *all = roster_members(r, TRUE);

	if (viewer != VIEWER_ADMIN) {
		guint w = 0;

		for (guint i = 0; i < all->len; i++) {
			const struct member *m = all->pdata[i];
			if (!(m->options & OPT_CONCEAL))
				all->pdata[w++] = all->pdata[i];
		}
		g_ptr_array_set_size(all, w);	/* owns nothing: frees none */
	}
	return all;
}

char *
privacy_address(struct list *l, const char *addr, enum privacy_viewer viewer)
{
	const char *at = strrchr(addr, '@');

	if (viewer == VIEWER_ADMIN || at == NULL ||
	    !list_get_bool(l, "obscure_addresses"))
		return g_strdup(addr);
	return g_strdup_printf("%.*s at %s", (int)(at - addr), addr, at + 1);
}
