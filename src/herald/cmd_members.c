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
#include "list/list.h"
#include "list/roster.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct bulk {
	struct list *list;
	GPtrArray *addrs;	/* struct address *, the good input lines */
	gboolean digest, nomail, moderate;
	GRegex **bans;		/* ^regex entries of ban_list */
	char **ban_exact;	/* keys of exact ban_list entries */
	guint added, skipped;
};

/* Mailman's new_member_options bits, mapped to herald's options. */
static unsigned
options_from_mailman_bits(int64_t bits)
{
	unsigned o = 0;

	if (bits & 2)
		o |= OPT_NOTMETOO;
	if (bits & 4)
		o |= OPT_ACK;
	if (bits & 16)
		o |= OPT_CONCEAL;
	if (bits & 128)
		o |= OPT_MODERATE;
	if (bits & 256)
		o |= OPT_NODUPES;
	return o;
}

static gboolean
banned(struct bulk *b, const char *addr)
{
	char *key = address_key(addr);
	gboolean hit = FALSE;

	for (char **e = b->ban_exact; !hit && e != NULL && *e != NULL; e++)
		hit = g_strcmp0(*e, key) == 0;
	for (GRegex **re = b->bans; !hit && re != NULL && *re != NULL; re++)
		hit = g_regex_match(*re, addr, 0, NULL);
	g_free(key);
	return hit;
}

static void
load_bans(struct bulk *b)
{
	char *v = list_get(b->list, "ban_list", NULL);
	char **lines = g_strsplit(v != NULL ? v : "", "\n", -1);
	GPtrArray *res = g_ptr_array_new(), *exact = g_ptr_array_new();

	for (char **l = lines; *l != NULL; l++) {
		if (**l == '^') {
			GRegex *re = g_regex_new(*l, G_REGEX_CASELESS, 0, NULL);
			if (re != NULL)
				g_ptr_array_add(res, re);
			else
				fprintf(stderr, "herald: ban_list entry '%s' is not "
					"a valid regex; ignored\n", *l);
		} else if (**l != '\0') {
			char *k = address_key(*l);
			g_ptr_array_add(exact, k != NULL ? k : g_ascii_strdown(*l, -1));
		}
	}
	g_ptr_array_add(res, NULL);
	g_ptr_array_add(exact, NULL);
	b->bans = (GRegex **)g_ptr_array_free(res, FALSE);
	b->ban_exact = (char **)g_ptr_array_free(exact, FALSE);
	g_strfreev(lines);
	g_free(v);
}

static void
free_bans(struct bulk *b)
{
	for (GRegex **re = b->bans; re != NULL && *re != NULL; re++)
		g_regex_unref(*re);
	g_free(b->bans);
	g_strfreev(b->ban_exact);
}

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
	int64_t now = now_usec() / 1000000;
	gboolean digest = b->digest || list_get_bool(b->list, "digest_is_default");
	enum member_mode digest_mode = list_get_bool(b->list, "mime_is_default_digest")
		? MODE_MIME_DIGEST : MODE_PLAIN_DIGEST;
	unsigned options = options_from_mailman_bits(
	    list_get_int(b->list, "new_member_options"));
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	if (list_get_bool(b->list, "default_member_moderation") || b->moderate)
		options |= OPT_MODERATE;
	for (guint i = 0; i < b->addrs->len; i++) {
		const struct address *a = b->addrs->pdata[i];
		char *key = address_key(a->addr);

		if (roster_find(r, a->addr) != NULL || g_hash_table_contains(seen, key)) {
			fprintf(stderr, "%s: already a member\n", a->addr);
			b->skipped++;
			g_free(key);
			continue;
		}
		if (banned(b, a->addr)) {
			fprintf(stderr, "%s: banned from %s (ban_list)\n", a->addr,
				list_fqdn(b->list));
			b->skipped++;
			g_free(key);
			continue;
		}
		struct member m = {
			.key = key, .addr = a->addr,
			.name = a->name != NULL ? a->name : "",
			.mode = digest ? digest_mode : MODE_REGULAR,
			.status = b->nomail ? STATUS_BY_OWNER : STATUS_ENABLED,
			.status_time = now,
			.status_reason = b->nomail ? "added with --nomail" : "",
			.options = options, .language = "", .subscribed = now,
			.password = "",
		};
		roster_change_put(c, &m);
		g_hash_table_add(seen, key);
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
	if (add)
		load_bans(b);
	if (roster_edit(b->list, add ? add_members : remove_members, b,
			&error) < 0)
		ret = cli_gerror(&error);
	else
		printf("%s %u member%s of %s; %u skipped, %u bad lines\n",
		       add ? "added" : "removed", b->added,
		       b->added == 1 ? "" : "s", list_fqdn(b->list), b->skipped,
		       bad);
	if (add)
		free_bans(b);
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
			   "digest_is_default and default_member_moderation.",
	};
	struct bulk b = { 0 };
	const GOptionEntry entries[] = {
		{ "digest", 0, 0, G_OPTION_ARG_NONE, &b.digest,
		  "as digest members", NULL },
		{ "nomail", 0, 0, G_OPTION_ARG_NONE, &b.nomail,
		  "with delivery disabled (by the owner)", NULL },
		{ "moderate", 0, 0, G_OPTION_ARG_NONE, &b.moderate,
		  "with their posts moderated", NULL },
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
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, NULL, &help)) != CLI_GO)
		return ret;
	return members_bulk(cli, &b, FALSE, argc, argv);
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
};

static int
set_option(const struct roster *r, struct roster_change *c, void *ctx,
	   GError **error)
{
	struct set_ctx *sc = ctx;
	const struct member *cur = roster_find(r, sc->addr);
	struct member m;
	char *hash = NULL;
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
	} else if ((bit = member_option_bit(sc->option)) != 0) {
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
			    "notmetoo, hide, mod, nodupes, language, password)",
			    sc->option);
		return -1;
	}
	roster_change_put(c, &m);
	g_free(hash);
	return 0;
bad:
	g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
		    "%s: '%s' is not a valid value (see `herald members set --help`)",
		    sc->option, sc->value);
	return -1;
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
			"  language CODE\n"
			"  password TEXT      (stored as an Argon2id hash)",
	};
	struct set_ctx sc;
	GError *error = NULL;
	struct list *l;
	int ret;

	if ((ret = cli_parse_list(cli, &argc, &argv, NULL, &help, &l)) != CLI_GO)
		return ret;
	sc = (struct set_ctx){ argv[2], argv[3], argv[4] };
	ret = roster_edit(l, set_option, &sc, &error) < 0 ? cli_gerror(&error)
							  : CLI_OK;
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
