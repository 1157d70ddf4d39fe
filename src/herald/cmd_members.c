/*
 * cmd_members.c - `herald members add|remove|list|show|set|find|compact`.
 *
 * Bulk operations read addresses from standard input, one a line ("addr"
 * or "Name <addr>"), check them all, report each bad line with its reason
 * on standard error (a line holding a NUL byte is one), and apply the
 * good ones as one change: one lock, one append, whatever the count.
 */
#include "cli.h"
#include "mail/address.h"
#include "base/base.h"
#include "digest/digest.h"
#include "list/list.h"
#include "list/roster.h"
#include "list/subscribe.h"
#include "list/topics.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct bulk {
	struct list *list;
	GPtrArray *addrs;	/* struct address *, the good input lines */
	gboolean digest, nomail, moderate;
	gboolean welcome, no_welcome;	/* --welcome, --no-welcome (goodbye) */
	struct subscribe_bans *bans;	/* ban_list */
	GPtrArray *changed;	/* the addresses added or removed (borrowed) */
	guint added, skipped;
};

/* Reads standard input; keeps the parsable addresses, reports the others
 * (line number, text, reason).  Returns the count of bad lines. */
static guint
read_addresses(GPtrArray *addrs)
{
	gboolean tty = isatty(STDERR_FILENO);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	guint lineno = 0, bad = 0;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		struct address *a = NULL;
		GError *error = NULL;

		lineno++;
		/* A NUL would end the line early for every string function
		 * below, taking "a@x\0junk" as a@x. */
		if (memchr(line, '\0', (size_t)n) != NULL) {
			fprintf(stderr, "line %u: it holds a NUL byte (at byte %zu)\n",
				lineno, strlen(line) + 1);
			bad++;
			continue;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		g_strstrip(line);
		if (*line == '\0' || *line == '#')
			continue;
		if (address_parse(line, &a, &error) < 0) {
			fprintf(stderr, "line %u: %s: %s\n", lineno, line,
				error->message);
			g_clear_error(&error);
			bad++;
		} else {
			g_ptr_array_add(addrs, a);
		}
		if (tty && lineno % 10000 == 0)
			fprintf(stderr, "\rread %u lines", lineno);
	}
	if (tty && lineno >= 10000)
		fprintf(stderr, "\rread %u lines\n", lineno);
	free(line);
	return bad;
}

static int
add_members(const struct roster *r, struct roster_change *c, void *ctx,
	    GError **error)
{
	struct bulk *b = ctx;
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < b->addrs->len; i++) {
		const struct address *a = b->addrs->pdata[i];
		char *key = address_key(a->addr);
		struct member m = { 0 };

		if (roster_find(r, a->addr) != NULL || g_hash_table_contains(seen, key)) {
			fprintf(stderr, "%s: already a member\n", a->addr);
			b->skipped++;
			g_free(key);
			continue;
		}
		if (subscribe_bans_match(b->bans, a->addr)) {
			fprintf(stderr, "%s: banned from %s (ban_list)\n", a->addr,
				list_fqdn(b->list));
			b->skipped++;
			g_free(key);
			continue;
		}
		subscribe_member_defaults(b->list, &m, b->digest);
		m.key = key;
		m.addr = a->addr;
		m.name = a->name != NULL ? a->name : "";
		if (b->moderate)
			m.options |= OPT_MODERATE;
		if (b->nomail) {
			m.status = STATUS_BY_OWNER;
			m.status_reason = "added with --nomail";
		}
		roster_change_put(c, &m);
		g_hash_table_add(seen, key);
		g_ptr_array_add(b->changed, a->addr);
		b->added++;
	}
	g_hash_table_destroy(seen);
	return 0;
}

static int
remove_members(const struct roster *r, struct roster_change *c, void *ctx,
	       GError **error)
{
	struct bulk *b = ctx;

	for (guint i = 0; i < b->addrs->len; i++) {
		const struct address *a = b->addrs->pdata[i];

		if (roster_find(r, a->addr) == NULL) {
			fprintf(stderr, "%s: not a member\n", a->addr);
			b->skipped++;
			continue;
		}
		roster_change_remove(c, a->addr);
		g_ptr_array_add(b->changed, a->addr);
		b->added++;
	}
	return 0;
}

static void
free_address(gpointer p)
{
	struct address *a = p;

	address_free(&a);
}

/* The welcome or goodbye (only when asked for: a bulk import should
 * not mail thousands unasked, as Mailman's add_members -w n) and the
 * owners' notice (admin_notify_mchanges) for each address changed. */
static void
announce(struct bulk *b, gboolean add)
{
	int mail = b->welcome && !b->no_welcome;

	for (guint i = 0; i < b->changed->len; i++)
		if (add)
			subscribe_announce_added(b->list, b->changed->pdata[i],
						 mail);
		else
			subscribe_announce_removed(b->list, b->changed->pdata[i],
						   mail);
}

/* Adds or removes the addresses on standard input: one roster change. */
static int
members_bulk(struct cli *cli, struct bulk *b, gboolean add, int argc,
	     char **argv)
{
	GError *error = NULL;
	guint bad;
	int ret = CLI_OK;

	if ((b->list = cli_list(cli, argv[1])) == NULL)
		return CLI_FAIL;
	b->addrs = g_ptr_array_new_with_free_func(free_address);
	bad = read_addresses(b->addrs);
	b->changed = g_ptr_array_new();
	if (add)
		b->bans = subscribe_bans_load(b->list);
	if (roster_edit(b->list, add ? add_members : remove_members, b,
			&error) < 0)
		ret = cli_gerror(&error);
	else
		announce(b, add);
	if (ret == CLI_OK)
		printf("%s %u member%s of %s; %u skipped, %u bad lines\n",
		       add ? "added" : "removed", b->added,
		       b->added == 1 ? "" : "s", list_fqdn(b->list), b->skipped,
		       bad);
	subscribe_bans_free(&b->bans);
	g_ptr_array_free(b->changed, TRUE);
	g_ptr_array_free(b->addrs, TRUE);
	list_free(&b->list);
	return ret == CLI_OK && bad > 0 ? CLI_FAIL : ret;
}

static int
members_add(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST < addresses", .min_args = 1, .max_args = 1,
		.summary = "Adds the addresses on standard input, one a line (\"addr\" "
			   "or \"Name <addr>\";\nblank lines and # comments are "
			   "skipped), as one change.  Each bad line is\nreported "
			   "with its reason and the good ones are still added; "
			   "members and\nbanned addresses (ban_list) are skipped.  "
			   "New members get the list's\nnew_member_options, "
			   "digest_is_default and default_member_moderation; the "
			   "owners\nare told when admin_notify_mchanges is set.",
	};
	struct bulk b = { 0 };
	const GOptionEntry entries[] = {
		{ "digest", 0, 0, G_OPTION_ARG_NONE, &b.digest,
		  "as digest members", NULL },
		{ "nomail", 0, 0, G_OPTION_ARG_NONE, &b.nomail,
		  "with delivery disabled (by the owner)", NULL },
		{ "moderate", 0, 0, G_OPTION_ARG_NONE, &b.moderate,
		  "with their posts moderated", NULL },
		{ "welcome", 0, 0, G_OPTION_ARG_NONE, &b.welcome,
		  "send each new member the welcome (welcome_msg)", NULL },
		{ "no-welcome", 0, 0, G_OPTION_ARG_NONE, &b.no_welcome,
		  "send no welcome (the default)", NULL },
		G_OPTION_ENTRY_NULL
	};
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	return members_bulk(cli, &b, TRUE, argc, argv);
}

static int
members_remove(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST < addresses", .min_args = 1, .max_args = 1,
		.summary = "Removes the addresses on standard input, one a line, as "
			   "one change; each\naddress that is not a member is "
			   "reported.",
	};
	struct bulk b = { 0 };
	const GOptionEntry entries[] = {
		{ "goodbye", 0, 0, G_OPTION_ARG_NONE, &b.welcome,
		  "send each member removed the goodbye (goodbye_msg)", NULL },
		{ "no-goodbye", 0, 0, G_OPTION_ARG_NONE, &b.no_welcome,
		  "send no goodbye (the default)", NULL },
		G_OPTION_ENTRY_NULL
	};
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	return members_bulk(cli, &b, FALSE, argc, argv);
}

/* Invites each address on standard input: each gets a token to
 * confirm (Mailman's add_members --invite). */
static int
members_invite(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST < addresses", .min_args = 1, .max_args = 1,
		.summary = "Invites the addresses on standard input, one a line: "
			   "each gets an invitation\nto confirm by a reply; "
			   "confirming makes them a member without a\n"
			   "moderator's approval.  Members and banned addresses "
			   "are skipped.",
	};
	struct list *l = NULL;
	GPtrArray *addrs = g_ptr_array_new_with_free_func(free_address);
	guint bad, sent = 0, skipped = 0;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		goto out;
	bad = read_addresses(addrs);
	for (guint i = 0; i < addrs->len; i++) {
		const struct address *a = addrs->pdata[i];
		GError *error = NULL;
		int r = subscribe_invite(l, a->addr, a->name, "the list's owner",
					 NULL, &error);

		if (r < 0) {
			ret = cli_gerror(&error);
			goto out;
		}
		if (r == SUBSCRIBE_CONFIRM) {
			sent++;
		} else {
			fprintf(stderr, "%s: %s\n", a->addr,
				subscribe_outcome_text(r));
			skipped++;
		}
	}
	printf("invited %u address%s to %s; %u skipped, %u bad lines\n", sent,
	       sent == 1 ? "" : "es", list_fqdn(l), skipped, bad);
	ret = bad > 0 ? CLI_FAIL : CLI_OK;
out:
	g_ptr_array_free(addrs, TRUE);
	list_free(&l);
	return ret;
}

static void
print_member(const struct member *m)
{
	char *opts = member_options_format(m->options);
	GDateTime *when = g_date_time_new_from_unix_utc(m->subscribed);
	char *subscribed = g_date_time_format(when, "%Y-%m-%d %H:%M:%S UTC");

	printf("address: %s\nname: %s\nmode: %s\ndelivery: %s", m->addr, m->name,
	       member_mode_name(m->mode), member_status_name(m->status));
	if (m->status != STATUS_ENABLED)
		printf(" (since %lld%s%s)", (long long)m->status_time,
		       *m->status_reason != '\0' ? ": " : "", m->status_reason);
	printf("\noptions: %s\nlanguage: %s\nsubscribed: %s\npassword: %s\n",
	       *opts != '\0' ? opts : "(none)",
	       *m->language != '\0' ? m->language : "(the list's)", subscribed,
	       *m->password != '\0' ? "(set)" : "(not set)");
	if (*m->topics != '\0')
		printf("topics: %s%s\n", m->topics,
		       (m->options & OPT_NMTOPICS) ? " (and posts matching none)" : "");
	if (m->bounce.last != 0 || m->bounce.score > 0) {
		GDateTime *day = g_date_time_new_from_unix_utc(m->bounce.last);
		char *last = g_date_time_format(day, "%Y-%m-%d");

		printf("bounce score: %.1f (last %s: %s)\n", m->bounce.score, last,
		       *m->bounce.reason != '\0' ? m->bounce.reason : "other");
		g_free(last);
		g_date_time_unref(day);
	}
	g_free(subscribed);
	g_date_time_unref(when);
	g_free(opts);
}

static int
members_list(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Prints the members' addresses, one a line, sorted; at "
			   "most one option\nchooses some of them.",
	};
	gboolean regular = FALSE, digest = FALSE, nomail = FALSE, moderated = FALSE;
	const GOptionEntry entries[] = {
		{ "regular", 0, 0, G_OPTION_ARG_NONE, &regular,
		  "only those who get each post", NULL },
		{ "digest", 0, 0, G_OPTION_ARG_NONE, &digest,
		  "only digest members", NULL },
		{ "nomail", 0, 0, G_OPTION_ARG_NONE, &nomail,
		  "only those whose delivery is disabled", NULL },
		{ "moderated", 0, 0, G_OPTION_ARG_NONE, &moderated,
		  "only those whose posts are moderated", NULL },
		G_OPTION_ENTRY_NULL
	};
	struct roster *r = NULL;
	GError *error = NULL;
	struct list *l;
	GPtrArray *all;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if (regular + digest + nomail + moderated > 1)
		return cli_usage_error(cli, "--regular, --digest, --nomail and "
				       "--moderated exclude each other");
	if ((l = cli_list(cli, argv[1])) == NULL)
		return CLI_FAIL;
	if (roster_load(l, &r, &error) < 0) {
		list_free(&l);
		return cli_gerror(&error);
	}
	all = roster_members(r, TRUE);
	for (guint i = 0; i < all->len; i++) {
		const struct member *m = all->pdata[i];
		gboolean show = (!regular || m->mode == MODE_REGULAR) &&
			(!digest || m->mode != MODE_REGULAR) &&
			(!nomail || m->status != STATUS_ENABLED) &&
			(!moderated || (m->options & OPT_MODERATE));
		if (show)
			printf("%s\n", m->addr);
	}
	g_ptr_array_free(all, TRUE);
	roster_free(&r);
	list_free(&l);
	return CLI_OK;
}

struct set_ctx {
	const char *addr, *option, *value;
	struct topics *topics;	/* the list's, for "topics" */
};

static int
set_option(const struct roster *r, struct roster_change *c, void *ctx,
	   GError **error)
{
	struct set_ctx *sc = ctx;
	const struct member *cur = roster_find(r, sc->addr);
	struct member m;
	char *hash = NULL, *topics = NULL;
	unsigned bit;
	int v;

	if (cur == NULL) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_NOTFOUND,
			    "%s is not a member", sc->addr);
		return -1;
	}
	m = *cur;
	if (strcmp(sc->option, "name") == 0) {
		m.name = (char *)sc->value;
	} else if (strcmp(sc->option, "mode") == 0) {
		if ((v = member_mode_parse(sc->value)) < 0)
			goto bad;
		m.mode = v;
	} else if (strcmp(sc->option, "delivery") == 0) {
		if (strcmp(sc->value, "enabled") != 0 && strcmp(sc->value, "disabled") != 0)
			goto bad;
		m.status = strcmp(sc->value, "enabled") == 0 ? STATUS_ENABLED
							       : STATUS_BY_OWNER;
		m.status_time = now_usec() / 1000000;
		m.status_reason = m.status == STATUS_ENABLED ? "" : "set by an owner";
	} else if (strcmp(sc->option, "topics") == 0) {
		if ((topics = topics_choice_normalise(sc->topics, sc->value, error)) == NULL)
			return -1;
		m.topics = topics;
	} else if ((bit = member_option_bit(strcmp(sc->option, "nomatch") == 0
					    ? "nmtopics" : sc->option)) != 0) {
		if (strcmp(sc->value, "yes") == 0)
			m.options |= bit;
		else if (strcmp(sc->value, "no") == 0)
			m.options &= ~bit;
		else
			goto bad;
	} else if (strcmp(sc->option, "language") == 0) {
		m.language = (char *)sc->value;
	} else if (strcmp(sc->option, "password") == 0) {
		hash = member_password_hash(sc->value, error);
		if (hash == NULL)
			return -1;
		m.password = hash;
	} else {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "unknown member option '%s' (name, mode, delivery, ack, "
			    "notmetoo, hide, mod, nodupes, topics, nomatch, "
			    "language, password)",
			    sc->option);
		return -1;
	}
	roster_change_put(c, &m);
	g_free(hash);
	g_free(topics);
	return 0;
bad:
	g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
		    "%s: '%s' is not a valid value (see `herald members set --help`)",
		    sc->option, sc->value);
	return -1;
}

/* Before a member's mode changes: the list must allow the new mode
 * (digestable, nondigestable), and a member leaving digest mode is owed
 * the pending digest (Mailman 2.1), recorded first so that no post
 * pending now is lost to them. */
static int
mode_change(struct list *l, const struct set_ctx *sc, GError **error)
{
	int mode = member_mode_parse(sc->value);
	struct roster *r = NULL;
	const struct member *m;
	int ret = 0;

	if (mode < 0)
		return 0;	/* set_option says what is wrong */
	if ((mode == MODE_REGULAR && !list_get_bool(l, "nondigestable")) ||
	    (mode != MODE_REGULAR && !list_get_bool(l, "digestable"))) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "%s has %s off: its members cannot choose %s", list_fqdn(l),
			    mode == MODE_REGULAR ? "nondigestable" : "digestable",
			    mode == MODE_REGULAR ? "each post" : "digests");
		return -1;
	}
	if (roster_load(l, &r, error) < 0)
		return -1;
	m = roster_find(r, sc->addr);
	if (m != NULL && m->mode != MODE_REGULAR && mode == MODE_REGULAR)
		ret = digest_owe_last(l, m->addr, m->mode, error);
	roster_free(&r);
	return ret;
}

static int
members_set(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST ADDR OPTION VALUE", .min_args = 4, .max_args = 4,
		.summary = "Changes one option of member ADDR.",
		.description = "OPTION VALUE:\n"
			"  name TEXT          the display name\n"
			"  mode regular|mime|plain   each post, or MIME or plain digests\n"
			"  delivery enabled|disabled\n"
			"  ack|notmetoo|hide|mod|nodupes yes|no\n"
			"  topics NAME,NAME   receive only posts about these topics\n"
			"                     (\"\" for every post)\n"
			"  nomatch yes|no     with topics, also posts matching no topic\n"
			"  language CODE\n"
			"  password TEXT      (stored as an Argon2id hash)",
	};
	struct set_ctx sc;
	GError *error = NULL;
	struct list *l;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	sc = (struct set_ctx){ argv[2], argv[3], argv[4], NULL };
	if (strcmp(sc.option, "topics") == 0) {
		char *text = list_get(l, "topics", NULL);
		sc.topics = topics_parse(text != NULL ? text : "", &error);
		g_free(text);
	}
	if (strcmp(sc.option, "topics") == 0 && sc.topics == NULL)
		ret = cli_gerror(&error);
	else if (strcmp(sc.option, "language") == 0 &&
		 !list_language_available(l, sc.value))
		ret = cli_error("language '%s' is not one the list offers "
				"(preferred_language, available_languages)",
				sc.value);
	else if (strcmp(sc.option, "mode") == 0 && mode_change(l, &sc, &error) < 0)
		ret = cli_gerror(&error);
	else
		ret = roster_edit(l, set_option, &sc, &error) < 0
			? cli_gerror(&error) : CLI_OK;
	topics_free(&sc.topics);
	list_free(&l);
	return ret;
}

static int
members_show(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST ADDR", .min_args = 2, .max_args = 2,
		.summary = "Prints what herald knows of member ADDR: name, mode, "
			   "delivery, options,\nlanguage, when subscribed.",
	};
	struct roster *r = NULL;
	const struct member *m;
	GError *error = NULL;
	struct list *l;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	ret = CLI_OK;
	if (roster_load(l, &r, &error) < 0)
		ret = cli_gerror(&error);
	else if ((m = roster_find(r, argv[2])) == NULL)
		ret = cli_error("%s is not a member of %s", argv[2], list_fqdn(l));
	else
		print_member(m);
	roster_free(&r);
	list_free(&l);
	return ret;
}

static int
members_compact(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "LIST", .min_args = 1, .max_args = 1,
		.summary = "Rewrites the roster's snapshot now, folding in its change "
			   "log (herald does\nthis by itself once the log is long).",
	};
	GError *error = NULL;
	struct list *l;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	ret = roster_compact(l, &error) < 0 ? cli_gerror(&error) : CLI_OK;
	list_free(&l);
	return ret;
}

static int
members_find(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "ADDR", .min_args = 1, .max_args = 1,
		.summary = "Prints every list ADDR is a member of, one a line.",
	};
	GError *error = NULL;
	struct site *site;
	GPtrArray *names;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	if ((names = list_all(site, &error)) == NULL)
		return cli_gerror(&error);
	for (guint i = 0; i < names->len; i++) {
		struct list *l = list_open(site, names->pdata[i], &error);
		struct roster *r = NULL;

		if (l == NULL || roster_load(l, &r, &error) < 0) {
			cli_gerror(&error);
		} else if (roster_find(r, argv[1]) != NULL) {
			printf("%s\n", list_fqdn(l));
		}
		roster_free(&r);
		list_free(&l);
	}
	g_ptr_array_free(names, TRUE);
	return CLI_OK;
}

int
cmd_members(struct cli *cli, int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
		{ "add", members_add, "add the addresses on standard input" },
		{ "remove", members_remove, "remove the addresses on standard input" },
		{ "invite", members_invite, "invite the addresses on standard input" },
		{ "list", members_list, "print the members' addresses" },
		{ "show", members_show, "print one member's options" },
		{ "set", members_set, "change one option of a member" },
		{ "find", members_find, "print the lists an address is on" },
		{ "compact", members_compact, "rewrite the roster snapshot now" },
		{ NULL, NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, verbs,
			    "Reads and changes the members of a list.");
}
