/*
 * cmd_check.c - `herald check`, the site doctor: what is wrong with this
 * set-up, each problem with what to do about it.
 *
 * It looks, in this order, at: the var dir's files (one owner, nothing
 * world-writable, the secrets etc/site.key and etc/dkim/ mode 0600), free
 * space and inodes, the file system (NFS or local, its mount options) and
 * the clock offset to it, the MTA's wiring (Postfix's transport_maps,
 * relay_domains and relay_recipient_maps hold every list; the LMTP socket
 * reachable by the postfix user, outside a chrooted client's reach or
 * not), each list's settings and roster, the queues, the masters and
 * leases of every host, and stale files.  A problem is printed as
 * "PROBLEM: what" and "  fix: what to do"; a fact worth knowing as
 * "note: ..."; the exit status is 1 when there was a problem, else 0.
 * It changes nothing, but for --deliver-test: a message sent through the
 * MTA (mta.transport: SMTP to mta.smtp_host:mta.smtp_port, or the
 * sendmail command) to a scratch list, herald-check@ a list domain,
 * created for the test (and the Postfix tables with it) and removed
 * after; each hop it passed is printed, the first it did not pass is a
 * problem.
 */
#include "cli.h"
#include "archive/archive.h"
#include "base/base.h"
#include "deliver/deliver.h"
#include "deliver/sendmail.h"
#include "list/list.h"
#include "list/list_settings.h"
#include "list/roster.h"
#include "store/lock.h"
#include "store/names.h"

#include <gio/gio.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <unistd.h>

#define NFS_MAGIC 0x6969
/* A .tmp file this old was left by a writer that died. */
#define STALE_TMP_S 3600
/* Beyond this offset to the file server's clock, schedules, ages and
 * expiries (local clocks) disagree between hosts: a problem. */
#define MAX_CLOCK_OFFSET_S 60
/* How many paths a problem about many files names. */
#define SHOW_PATHS 5

struct doctor {
	int problems;
};

static void G_GNUC_PRINTF(3, 4)
problem(struct doctor *d, const char *fix, const char *fmt, ...)
{
	va_list ap;

	fputs("PROBLEM: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n  fix: %s\n", fix);
	d->problems++;
}

static void G_GNUC_PRINTF(1, 2)
note(const char *fmt, ...)
{
	va_list ap;

	fputs("note: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

/* --- the var dir's files -------------------------------------------------- */

/* Paths found wrong by one rule, for one problem line. */
struct found {
	GPtrArray *paths;
	guint count;
};

static void
found_add(struct found *f, const char *path)
{
	if (f->paths == NULL)
		f->paths = g_ptr_array_new_with_free_func(g_free);
	if (f->paths->len < SHOW_PATHS)
		g_ptr_array_add(f->paths, g_strdup(path));
	f->count++;
}

/* "a, b, c and 4 more", then freed. */
static char *
found_text(struct found *f)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < f->paths->len; i++)
		g_string_append_printf(s, "%s%s", i > 0 ? ", " : "",
				       (char *)f->paths->pdata[i]);
	if (f->count > f->paths->len)
		g_string_append_printf(s, " and %u more", f->count - f->paths->len);
	g_ptr_array_free(f->paths, TRUE);
	f->paths = NULL;
	return g_string_free(s, FALSE);
}

static struct {
	uid_t owner;
	size_t var_len;
	struct found other_owner, world_writable, open_secret, stale_tmp;
	time_t now;
} walk;

/* etc/site.key and the DKIM keys under etc/dkim/. */
static gboolean
is_secret(const char *rel)
{
	return strcmp(rel, "etc/site.key") == 0 ||
	       (g_str_has_prefix(rel, "etc/dkim/") && g_str_has_suffix(rel, ".pem"));
}

static int
walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *rel = path + walk.var_len;

	if (*rel == '/')
		rel++;
	if (flag == FTW_SL || flag == FTW_SLN)
		return 0;
	if (st->st_uid != walk.owner)
		found_add(&walk.other_owner, path);
	if ((st->st_mode & S_IWOTH) && !S_ISSOCK(st->st_mode))
		found_add(&walk.world_writable, path);
	if (S_ISREG(st->st_mode) && is_secret(rel) && (st->st_mode & 077))
		found_add(&walk.open_secret, path);
	if (S_ISREG(st->st_mode) && g_str_has_prefix(rel, "queue/") &&
	    strstr(rel, ".tmp") != NULL && walk.now - st->st_mtime > STALE_TMP_S)
		found_add(&walk.stale_tmp, path);
	return 0;
}

static void
check_files(struct doctor *d, const char *var)
{
	struct stat st;
	char *fix, *paths;
	struct passwd *pw;

	if (stat(var, &st) < 0) {
		problem(d, "herald init (with --var or $HERALD_VAR)",
			"the var dir %s: %s", var, g_strerror(errno));
		return;
	}
	memset(&walk, 0, sizeof walk);
	walk.owner = st.st_uid;
	walk.var_len = strlen(var);
	walk.now = time(NULL);
	pw = getpwuid(st.st_uid);
	note("var dir %s, owner %s, mode %04o", var,
	     pw != NULL ? pw->pw_name : "(unknown user)", st.st_mode & 07777);
	if (nftw(var, walk_one, 32, FTW_PHYS) < 0)
		problem(d, "make the var dir readable by herald's user",
			"cannot read all of %s: %s", var, g_strerror(errno));
	if (walk.other_owner.count > 0) {
		paths = found_text(&walk.other_owner);
		fix = g_strdup_printf("chown -R %s %s (and run herald as that user)",
				      pw != NULL ? pw->pw_name : "OWNER", var);
		problem(d, fix, "%u files not owned by the var dir's owner: %s",
			walk.other_owner.count, paths);
		g_free(fix);
		g_free(paths);
	}
	if (walk.world_writable.count > 0) {
		paths = found_text(&walk.world_writable);
		problem(d, "chmod o-w on each (herald makes none: a umask of 0007 "
			"or 0027 keeps it so)", "%u world-writable files: %s",
			walk.world_writable.count, paths);
		g_free(paths);
	}
	if (walk.open_secret.count > 0) {
		paths = found_text(&walk.open_secret);
		problem(d, "chmod 600 on each: they are secrets", "%u secret files "
			"readable by others than their owner: %s",
			walk.open_secret.count, paths);
		g_free(paths);
	}
	if (walk.stale_tmp.count > 0) {
		paths = found_text(&walk.stale_tmp);
		problem(d, "remove them: no writer is alive to finish them (a "
			"running master removes those of dead hosts)",
			"%u stale temporary queue files (older than %d s): %s",
			walk.stale_tmp.count, STALE_TMP_S, paths);
		g_free(paths);
	}
}

/* --- space, file system, clock --------------------------------------------- */

static void
check_space(struct doctor *d, const char *var, gint64 min_mb, gint64 min_inodes)
{
	struct statvfs sv;

	if (statvfs(var, &sv) < 0)
		return;
	guint64 free_mb = (guint64)sv.f_bavail * sv.f_frsize / (1024 * 1024);
	note("free space %" G_GUINT64_FORMAT " MB, free inodes %llu", free_mb,
	     (unsigned long long)sv.f_favail);
	if (free_mb < (guint64)min_mb)
		problem(d, "free some space on that file system (old archives, "
			"logs) or grow it: with a full disk herald defers mail "
			"(the MTA keeps it) but cannot work",
			"only %" G_GUINT64_FORMAT " MB free under %s (less than "
			"%" G_GINT64_FORMAT ")", free_mb, var, min_mb);
	if (sv.f_files > 0 && sv.f_favail < (fsfilcnt_t)min_inodes)
		problem(d, "free inodes (old queue files, archives) or grow the "
			"file system", "only %llu free inodes under %s (less than "
			"%" G_GINT64_FORMAT ")", (unsigned long long)sv.f_favail, var,
			min_inodes);
}

/* The mount that holds path (the longest mount point that is a prefix of
 * it): its type and options, from /proc/self/mountinfo. */
static gboolean
find_mount(const char *path, char **point_r, char **type_r, char **opts_r)
{
	char *text = NULL, **lines;
	size_t best = 0;

	if (!g_file_get_contents("/proc/self/mountinfo", &text, NULL, NULL))
		return FALSE;
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l != NULL; l++) {
		/* id parent maj:min root point opts [tags] - type source sopts */
		char **f = g_strsplit(*l, " ", -1);
		guint n = g_strv_length(f), dash = 6;
		size_t len;

		while (dash < n && strcmp(f[dash], "-") != 0)
			dash++;
		if (dash + 3 < n + 0 && n > 5) {
			len = strlen(f[4]);
			if (g_str_has_prefix(path, f[4]) &&
			    (len == 1 || path[len] == '/' || path[len] == '\0') &&
			    len >= best) {
				best = len;
				g_free(*point_r);
				g_free(*type_r);
				g_free(*opts_r);
				*point_r = g_strdup(f[4]);
				*type_r = g_strdup(f[dash + 1]);
				*opts_r = g_strdup_printf("%s,%s", f[5], f[dash + 3]);
			}
		}
		g_strfreev(f);
	}
	g_strfreev(lines);
	g_free(text);
	return best > 0;
}

static void
check_filesystem(struct doctor *d, const char *var)
{
	char *real = realpath(var, NULL), *point = NULL, *type = NULL, *opts = NULL;
	struct statfs sf;
	gboolean nfs = statfs(var, &sf) == 0 && sf.f_type == NFS_MAGIC;

	if (real != NULL && find_mount(real, &point, &type, &opts))
		note("file system %s, mounted on %s (%s)", type, point, opts);
	if (nfs) {
		note("the var dir is on NFS: herald's locks and leases are made "
		     "for it (docs/nfs-testing.md)");
		if (opts != NULL && strstr(opts, "lookupcache=none") != NULL)
			note("lookupcache=none: not needed by herald, and every "
			     "lookup goes to the server");
		if (opts != NULL && strstr(opts, "noac") != NULL)
			note("noac: not needed by herald (its locks do not trust "
			     "cached attributes); it costs a GETATTR per access");
		if (opts != NULL && strstr(opts, "actimeo=") != NULL)
			note("actimeo is set: other hosts' queue files are seen "
			     "at the next poll whatever it is");
		if (opts != NULL && strstr(opts, "vers=3") != NULL)
			problem(d, "mount with vers=4 or later", "NFSv3: herald's "
				"lock is tested on NFSv4 only");
	}
	free(real);
	g_free(point);
	g_free(type);
	g_free(opts);
}

/* The offset between this host's clock and the file server's, from the
 * mtime of a file written there (lock_server_now): the lock does not mind
 * it, schedules, retries and expiries do. */
static void
check_clock(struct doctor *d, struct site *site)
{
	char *leases = site_path(site, "leases", NULL);
	GError *error = NULL;
	int64_t server;

	if (lock_server_now(leases, &server, &error) < 0) {
		problem(d, "make the leases directory writable by herald's user",
			"cannot write to %s: %s", leases, error->message);
		g_clear_error(&error);
	} else {
		double offset = (double)(g_get_real_time() - server) / 1e6;
		note("this host's clock is %+.1f s off the var dir's file server",
		     offset);
		if (offset > MAX_CLOCK_OFFSET_S || offset < -MAX_CLOCK_OFFSET_S)
			problem(d, "run NTP (chrony, systemd-timesyncd) on this host "
				"and on the file server", "this host's clock is "
				"%+.0f s off the file server's: the lock copes, but "
				"schedules, retries and request expiries go by the "
				"local clock", offset);
	}
	g_free(leases);
}

/* --- the MTA ---------------------------------------------------------------- */

/* Runs argv with input (or nothing) on its standard input; its standard
 * output if it exits 0, else NULL. */
static char *
run_output(char **argv, const char *input)
{
	GSubprocess *p = g_subprocess_newv((const char *const *)argv,
					   G_SUBPROCESS_FLAGS_STDIN_PIPE |
					   G_SUBPROCESS_FLAGS_STDOUT_PIPE |
					   G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL);
	char *out = NULL;

	if (p == NULL)
		return NULL;
	if (!g_subprocess_communicate_utf8(p, input != NULL ? input : "", NULL,
					   &out, NULL, NULL) ||
	    !g_subprocess_get_successful(p)) {
		g_free(out);
		out = NULL;
	}
	g_object_unref(p);
	return out;
}

/* The keys of keys (one a line) that Postfix parameter param of config
 * dir pf finds: a set.  Literal domains in the parameter count as found. */
static GHashTable *
postfix_found(const char *pf, const char *param, const char *keys)
{
	char *argv[] = { (char *)"postconf", (char *)"-c", (char *)pf,
			 (char *)"-h", (char *)param, NULL };
	char *value = run_output(argv, NULL);
	GHashTable *found = g_hash_table_new_full(g_str_hash, g_str_equal,
						  g_free, NULL);
	char **maps;

	if (value == NULL)
		return found;
	maps = g_strsplit_set(g_strstrip(value), ", \t", -1);
	for (char **m = maps; *m != NULL; m++) {
		if (**m == '\0')
			continue;
		if (strchr(*m, ':') == NULL) {	/* a domain named as it is */
			g_hash_table_add(found, g_strdup(*m));
			continue;
		}
		char *q[] = { (char *)"postmap", (char *)"-c", (char *)pf,
			      (char *)"-q", (char *)"-", *m, NULL };
		char *out = run_output(q, keys);
		char **lines = g_strsplit(out != NULL ? out : "", "\n", -1);
		for (char **l = lines; *l != NULL; l++) {
			char *tab = strpbrk(*l, " \t");
			if (tab != NULL)
				g_hash_table_add(found, g_strndup(*l, (gsize)(tab - *l)));
		}
		g_strfreev(lines);
		g_free(out);
	}
	g_strfreev(maps);
	g_free(value);
	return found;
}

/* Which lists (or their domains) param misses: a problem naming them. */
static void
check_postfix_param(struct doctor *d, const char *pf, const char *param,
		    GPtrArray *keys, const char *var)
{
	GString *all = g_string_new(NULL), *missing = g_string_new(NULL);
	guint n = 0;

	for (guint i = 0; i < keys->len; i++)
		g_string_append_printf(all, "%s\n", (char *)keys->pdata[i]);
	GHashTable *found = postfix_found(pf, param, all->str);
	for (guint i = 0; i < keys->len; i++) {
		if (g_hash_table_contains(found, keys->pdata[i]))
			continue;
		if (n++ < SHOW_PATHS)
			g_string_append_printf(missing, "%s%s", n > 1 ? ", " : "",
					       (char *)keys->pdata[i]);
	}
	if (n > 0) {
		char *fix = g_strdup_printf("herald --var %s mta-config postfix "
					    "--write, and add the lines it prints "
					    "to %s/main.cf (docs/postfix.md)",
					    var, pf);
		problem(d, fix, "Postfix's %s (%s/main.cf) lacks %u of herald's "
			"%s: %s%s", param, pf, n,
			strcmp(param, "relay_domains") == 0 ? "domains" : "lists",
			missing->str, n > SHOW_PATHS ? " ..." : "");
		g_free(fix);
	}
	g_hash_table_destroy(found);
	g_string_free(all, TRUE);
	g_string_free(missing, TRUE);
}

/* Whether user pw may do mode (4 read, 2 write, 1 search) on st. */
static gboolean
user_may(const struct passwd *pw, const gid_t *groups, int ngroups,
	 const struct stat *st, mode_t mode)
{
	if (pw->pw_uid == 0)
		return TRUE;
	if (st->st_uid == pw->pw_uid)
		return ((st->st_mode >> 6) & mode) == mode;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] == st->st_gid)
			return ((st->st_mode >> 3) & mode) == mode;
	return (st->st_mode & mode) == mode;
}

/* The unix LMTP socket: every directory on its way searchable by the
 * postfix user, the socket writable by it. */
static void
check_socket_access(struct doctor *d, const char *sock)
{
	struct passwd *pw = getpwnam("postfix");
	gid_t groups[256];
	int ngroups = G_N_ELEMENTS(groups);
	char *path = g_strdup(sock), *fix;

	if (pw == NULL) {
		note("no user postfix on this host: the LMTP socket's "
		     "permissions are not checked");
		g_free(path);
		return;
	}
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups) < 0)
		ngroups = 0;
	for (char *p = path + 1;; p++) {
		gboolean last = (*p == '\0');
		struct stat st;

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (stat(path, &st) == 0 &&
		    !user_may(pw, groups, ngroups, &st, last ? 2 : 1)) {
			fix = g_strdup_printf("%s (lmtp.socket_group postfix and "
					      "chmod g+x, or a loopback "
					      "lmtp.listen 127.0.0.1:PORT; "
					      "docs/postfix.md)",
					      last ? "let the group postfix write to it"
						   : "let postfix through");
			problem(d, fix, "the postfix user cannot %s %s, on the "
				"way to the LMTP socket", last ? "write to" : "search",
				path);
			g_free(fix);
			break;
		}
		if (last)
			break;
		*p = '/';
	}
	g_free(path);
}

/* Whether Postfix's lmtp client runs chrooted (master.cf, column 5). */
static gboolean
lmtp_chrooted(const char *pf)
{
	char *path = g_build_filename(pf, "master.cf", NULL), *text = NULL;
	gboolean chrooted = FALSE;

	if (g_file_get_contents(path, &text, NULL, NULL)) {
		char **lines = g_strsplit(text, "\n", -1);
		for (char **l = lines; *l != NULL; l++) {
			char **f = g_strsplit_set(*l, " \t", -1);
			char *col[8];
			int n = 0;
			for (char **x = f; *x != NULL && n < 8; x++)
				if (**x != '\0')
					col[n++] = *x;
			if (n >= 5 && strcmp(col[0], "lmtp") == 0 &&
			    strcmp(col[1], "unix") == 0)
				chrooted = strcmp(col[4], "y") == 0;
			g_strfreev(f);
		}
		g_strfreev(lines);
	}
	g_free(text);
	g_free(path);
	return chrooted;
}

/* Whether the LMTP server answers 220 at listen (unix:PATH or
 * ADDRESS:PORT). */
static gboolean
lmtp_answers(const char *listen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	char buf[4] = "";
	int fd = -1, ok = -1;

	if (g_str_has_prefix(listen, "unix:")) {
		if (strlen(listen + 5) >= sizeof sun.sun_path)
			return FALSE;
		strcpy(sun.sun_path, listen + 5);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0)
			ok = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	} else {
		const char *colon = strrchr(listen, ':');
		char *host = colon != NULL ? g_strndup(listen, (gsize)(colon - listen))
					   : NULL;
		if (host != NULL && getaddrinfo(host, colon + 1, &hints, &ai) == 0 &&
		    (fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0)
			ok = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (ai != NULL)
			freeaddrinfo(ai);
		g_free(host);
	}
	if (ok == 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		if (read(fd, buf, 3) != 3)
			buf[0] = '\0';
	}
	if (fd >= 0)
		close(fd);
	return strncmp(buf, "220", 3) == 0;
}

static void
check_mta(struct doctor *d, struct site *site, const char *pf, gboolean running)
{
	char *main_cf = g_build_filename(pf, "main.cf", NULL);
	char *listen = site_get(site, "lmtp.listen", NULL);
	char *via = site_get(site, "mta.postfix_transport", NULL);
	const char *var = site_var_dir(site);
	GPtrArray *lists = list_all(site, NULL);

	if (*listen != '\0' && running && !lmtp_answers(listen))
		problem(d, "see logs/HOST/lmtp and `herald status`; the master "
			"restarts its LMTP server", "the master runs, but no LMTP "
			"server answers at %s (lmtp.listen)", listen);
	if (g_str_has_prefix(listen, "unix:"))
		check_socket_access(d, listen + 5);
	if (!g_file_test(main_cf, G_FILE_TEST_EXISTS)) {
		note("no Postfix configuration at %s: the MTA's wiring is not "
		     "checked (--postfix-config DIR)", pf);
	} else if (lists != NULL && lists->len > 0) {
		GPtrArray *addrs = g_ptr_array_new_with_free_func(g_free);
		GPtrArray *domains = g_ptr_array_new_with_free_func(g_free);
		for (guint i = 0; i < lists->len; i++) {
			const char *fqdn = lists->pdata[i];
			const char *dom = strrchr(fqdn, '@') + 1;
			g_ptr_array_add(addrs, g_strdup(fqdn));
			gboolean seen = FALSE;
			for (guint j = 0; j < domains->len; j++)
				seen = seen || strcmp(domains->pdata[j], dom) == 0;
			if (!seen)
				g_ptr_array_add(domains, g_strdup(dom));
		}
		check_postfix_param(d, pf, "transport_maps", addrs, var);
		check_postfix_param(d, pf, "relay_recipient_maps", addrs, var);
		check_postfix_param(d, pf, "relay_domains", domains, var);
		if (strcmp(via, "lmtp") == 0 && g_str_has_prefix(listen, "unix:") &&
		    lmtp_chrooted(pf))
			problem(d, "use a loopback lmtp.listen (127.0.0.1:PORT), or "
				"run lmtp unchrooted (column 5 of master.cf: n)",
				"Postfix's lmtp client runs chrooted (%s/master.cf): "
				"it cannot reach %s", pf, listen + 5);
		g_ptr_array_free(addrs, TRUE);
		g_ptr_array_free(domains, TRUE);
	}
	if (lists != NULL)
		g_ptr_array_free(lists, TRUE);
	g_free(via);
	g_free(listen);
	g_free(main_cf);
}

/* --- lists, queues, masters ----------------------------------------------- */

/* Each setting in l's config file is one herald knows, with a value its
 * type takes (list_get() reads a bad one as the default, quietly but for
 * a log line). */
static void
check_list_config(struct doctor *d, struct list *l)
{
	char *path = g_build_filename(list_dir(l), "config", NULL), *fix;
	GKeyFile *kf = g_key_file_new();
	GError *error = NULL;
	char **groups;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL)) {
		g_key_file_free(kf);
		g_free(path);
		return;	/* list_open() read it: gone since */
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g != NULL; g++) {
		char **keys;

		if (strcmp(*g, "herald-list") == 0)
			continue;
		keys = g_key_file_get_keys(kf, *g, NULL, NULL);
		for (char **k = keys; keys != NULL && *k != NULL; k++) {
			const struct list_setting *s = list_setting_find(*k);
			char *v = g_key_file_get_string(kf, *g, *k, NULL), *n = NULL;

			fix = g_strdup_printf("herald config set %s %s VALUE (or "
					      "remove the line from %s)",
					      list_fqdn(l), *k, path);
			if (s == NULL || strcmp(s->category, *g) != 0)
				problem(d, fix, "list %s: no setting %s in [%s]",
					list_fqdn(l), *k, *g);
			else if (v != NULL &&
				 (n = s->type == LS_PASSWORD
				      ? list_setting_password_hash(s, v, &error)
				      : list_setting_normalise(s, v, &error)) == NULL)
				problem(d, fix, "list %s: %s (the default is used)",
					list_fqdn(l), error->message);
			g_clear_error(&error);
			g_free(fix);
			g_free(n);
			g_free(v);
		}
		g_strfreev(keys);
	}
	g_strfreev(groups);
	g_key_file_free(kf);
	g_free(path);
}

/* A list: its settings and its roster. */
static void
check_list(struct doctor *d, struct site *site, const char *fqdn)
{
	GError *error = NULL;
	struct list *l = list_open(site, fqdn, &error);
	struct roster *r = NULL;
	char *fix;

	if (l == NULL) {
		fix = g_strdup_printf("repair lists/%s/config (herald config "
				      "export/import) or restore it", fqdn);
		problem(d, fix, "list %s cannot be read: %s", fqdn, error->message);
		g_free(fix);
		g_clear_error(&error);
		return;
	}
	check_list_config(d, l);
	if (roster_load(l, &r, &error) < 0) {
		fix = g_strdup_printf("see lists/%s/ (the roster files) and "
				      "restore them from a backup", fqdn);
		problem(d, fix, "list %s: its members cannot be read: %s", fqdn,
			error->message);
		g_free(fix);
		g_clear_error(&error);
	}
	roster_free(&r);
	list_free(&l);
}

static void
check_lists(struct doctor *d, struct site *site)
{
	GError *error = NULL;
	GPtrArray *lists = list_all(site, &error);

	if (lists == NULL) {
		problem(d, "make lists/ readable by herald's user",
			"the lists cannot be listed: %s", error->message);
		g_clear_error(&error);
		return;
	}
	note("%u lists", lists->len);
	for (guint i = 0; i < lists->len; i++)
		check_list(d, site, lists->pdata[i]);
	g_ptr_array_free(lists, TRUE);
}

/* Every queue directory and file readable; shunted messages. */
static void
check_queues(struct doctor *d, struct site *site)
{
	char *qdir = site_path(site, "queue", NULL);
	GPtrArray *names = fs_dir_names(qdir, NULL, NULL);
	struct found unreadable = { 0 };

	for (guint i = 0; names != NULL && i < names->len; i++) {
		char *dir = g_build_filename(qdir, names->pdata[i], NULL);
		GPtrArray *files = fs_dir_names(dir, NULL, NULL);
		guint msgs = 0;

		if (files == NULL || access(dir, R_OK | W_OK | X_OK) < 0)
			found_add(&unreadable, dir);
		for (guint j = 0; files != NULL && j < files->len; j++) {
			char *p = g_build_filename(dir, files->pdata[j], NULL);
			if (access(p, R_OK | W_OK) < 0)
				found_add(&unreadable, p);
			msgs += g_str_has_suffix(files->pdata[j], ".msg");
			g_free(p);
		}
		if (strcmp(names->pdata[i], QUEUE_SHUNT) == 0 && msgs > 0)
			problem(d, "read why in each (herald queue show), fix the "
				"cause, then herald queue unshunt", "%u messages "
				"failed and wait in the shunt queue", msgs);
		if (files != NULL)
			g_ptr_array_free(files, TRUE);
		g_free(dir);
	}
	if (unreadable.count > 0) {
		char *paths = found_text(&unreadable);
		problem(d, "chown them to herald's user", "%u queue files or "
			"directories herald cannot read and write: %s",
			unreadable.count, paths);
		g_free(paths);
	}
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	g_free(qdir);
}

/* The masters of every host (their host leases) and this host's pid
 * file; returns whether a master runs on this host. */
static gboolean
check_masters(struct doctor *d, struct site *site)
{
	char *leases = site_path(site, "leases", NULL);
	GPtrArray *names = fs_dir_names(leases, "host-", NULL);
	char *pidname = g_strdup_printf("master.%s.pid", herald_host());
	char *pidfile = site_path(site, "run", pidname, NULL), *text = NULL;
	gboolean here = FALSE;
	guint alive = 0;
	int64_t now = 0;

	(void)lock_server_now(leases, &now, NULL);
	for (guint i = 0; names != NULL && i < names->len; i++) {
		const char *host = (char *)names->pdata[i] + strlen("host-");
		char *claim = NULL;
		int64_t expiry = 0;

		if (lock_inspect(leases, names->pdata[i], &claim, &expiry, NULL) != 1)
			continue;
		if (g_str_has_suffix(claim, ".free")) {
			note("master on %s: stopped", host);
		} else if (expiry > now) {
			note("master on %s: running (%s)", host, claim);
			alive++;
		} else {
			char *fix = g_strdup_printf("start herald on %s (systemctl "
						    "start herald); the others "
						    "have taken its queue slices",
						    host);
			problem(d, fix, "the master on %s died: its lease expired "
				"%.0f s ago", host, (double)(now - expiry) / 1e6);
			g_free(fix);
		}
		g_free(claim);
	}
	if (alive == 0)
		problem(d, "systemctl start herald (or herald start)", "no master "
			"runs on any host: mail waits in the queues");
	if (fs_read_file(pidfile, &text, NULL, NULL) == 1) {
		pid_t pid = (pid_t)atoi(text);
		if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM))
			here = TRUE;
		else
			problem(d, "remove it (herald stop does)", "stale pid file "
				"%s: process %d is gone", pidfile, (int)pid);
	}
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	g_free(text);
	g_free(pidfile);
	g_free(pidname);
	g_free(leases);
	return here;
}

/* --- --deliver-test ----------------------------------------------------------- */

/* The scratch list's local part. */
#define TEST_LOCAL "herald-check"
/* How often the hops are looked at while the message travels. */
#define TEST_POLL_MS 200

struct deliver_test {
	struct site *site;
	const char *fqdn;	/* the scratch list */
	const char *sender;
	char *token;		/* in the test message's Message-ID */
	char *mta;		/* where it was sent, for the problem lines */
	char *queue_id;		/* the MTA's, from its reply, or NULL */
	int64_t started;	/* µs: queue entries named before are older */
	gboolean created;
};

/* An entry's head (meta and headers, where the Message-ID is) is read
 * up to this: a queue may hold large messages. */
#define TEST_HEAD_MAX 65536

/* The scratch list: created, with the Postfix tables, unless it is there
 * (left by a check that was killed: reused).  Non-members' posts are
 * accepted and archived, none goes to a digest; an existing list not
 * named herald-check@ (--test-list) is used as it is. */
static int
test_list_make(struct doctor *d, struct deliver_test *t)
{
	static const char *const names[] = { "generic_nonmember_action",
					     "archive", "digestable", NULL };
	static const char *const values[] = { "0", "yes", "no", NULL };
	const char *const owners[] = { t->sender, NULL };
	GError *error = NULL;
	struct list *l = NULL;
	int r = 0;

	if (list_create(t->site, t->fqdn, owners, &error) == 0) {
		t->created = TRUE;
		printf("deliver-test: scratch list %s created\n", t->fqdn);
		if (mtaconfig_refresh(t->site, &error) < 0) {
			problem(d, "see the error; herald mta-config postfix "
				"--write installs the tables", "deliver-test: "
				"the Postfix tables were not updated: %s",
				error->message);
			g_clear_error(&error);
		}
	} else if (g_error_matches(error, HERALD_ERROR, HERALD_ERR_EXISTS)) {
		printf("deliver-test: scratch list %s reused (it was there)\n",
		       t->fqdn);
		g_clear_error(&error);
	}
	if (error == NULL)
		l = list_open(t->site, t->fqdn, &error);
	for (guint i = 0; l != NULL && names[i] != NULL && r == 0 &&
	     (t->created || g_str_has_prefix(t->fqdn, TEST_LOCAL "@")); i++)
		r = list_set(l, names[i], values[i], &error);
	if (l == NULL || r < 0) {
		problem(d, "give a list address herald may create with "
			"--test-list, and see that lists/ is writable",
			"deliver-test: the scratch list %s: %s", t->fqdn,
			error->message);
		g_clear_error(&error);
		r = -1;
	}
	list_free(&l);
	return r;
}

/* The test message. */
static char *
test_message(const struct deliver_test *t)
{
	GDateTime *now = g_date_time_new_now_local();
	char *date = g_date_time_format(now, "%a, %d %b %Y %H:%M:%S %z");
	char *text = g_strdup_printf(
		"From: %s\nTo: %s\nSubject: herald check --deliver-test\n"
		"Date: %s\nMessage-ID: <%s@%s>\n\n"
		"A test message of `herald check --deliver-test` on %s: it may "
		"be deleted.\n", t->sender, t->fqdn, date, t->token,
		strrchr(t->fqdn, '@') + 1, herald_host());

	g_free(date);
	g_date_time_unref(now);
	return text;
}

/* Hands the test message to the MTA; 0 when it took it (2xx). */
static int
test_send(struct doctor *d, struct deliver_test *t)
{
	GError *error = NULL;
	struct deliver_settings *ds = deliver_settings_new(t->site, &error);
	struct smtp_conn *c = NULL;
	struct smtp_reply reply = { 0 };
	const char *rcpts[] = { t->fqdn, NULL };
	char *msg = test_message(t), *fix;
	int r = -1;

	if (ds == NULL) {
		problem(d, "herald site set mta.sendmail_command COMMAND",
			"deliver-test: %s", error->message);
		g_clear_error(&error);
		g_free(msg);
		return -1;
	}
	if (ds->transport == DELIVER_SENDMAIL) {
		t->mta = g_strjoinv(" ", ds->sendmail_argv);
		r = sendmail_send((const char *const *)ds->sendmail_argv,
				  ds->smtp.timeout_ms, t->sender, rcpts, 1, msg,
				  strlen(msg), &reply, &error);
	} else {
		t->mta = ds->smtp.unix_path != NULL ? g_strdup(ds->smtp.unix_path)
			: g_strdup_printf("%s:%d", ds->smtp.host, ds->smtp.port);
		if (smtp_connect(&ds->smtp, &c, NULL, &error) == 0)
			r = smtp_send(c, t->sender, rcpts, 1, msg, strlen(msg),
				      &reply, NULL, &error);
		smtp_close(&c);
	}
	if (r < 0) {
		fix = g_strdup_printf("start the MTA, or set where herald sends "
				      "mail: mta.transport, mta.smtp_host and "
				      "mta.smtp_port, or mta.sendmail_command "
				      "(herald site set)");
		problem(d, fix, "deliver-test: the MTA (%s) did not take the "
			"test message: %s", t->mta, error->message);
		g_free(fix);
		g_clear_error(&error);
	} else if (reply.code / 100 != 2) {
		fix = g_strdup_printf("the MTA must accept mail for %s and "
				      "send it to herald: in Postfix, its "
				      "domain in relay_domains, the address "
				      "in relay_recipient_maps and in "
				      "transport_maps (herald mta-config "
				      "postfix --write, docs/postfix.md)",
				      t->fqdn);
		problem(d, fix, "deliver-test: the MTA (%s) refused the test "
			"message to %s: %d %s", t->mta, t->fqdn, reply.code,
			reply.text != NULL ? reply.text : "");
		g_free(fix);
		r = -1;
	} else {
		const char *q = reply.text != NULL ? strstr(reply.text, "queued as ")
						   : NULL;
		if (q != NULL)
			t->queue_id = g_strndup(q + 10, strcspn(q + 10, " \n\r"));
		printf("deliver-test: ok: the MTA (%s) accepted the test message "
		       "<%s@...>: %d %s\n", t->mta, t->token, reply.code,
		       reply.text != NULL ? reply.text : "");
	}
	smtp_reply_clear(&reply);
	deliver_settings_free(&ds);
	g_free(msg);
	return r;
}

/* Whether the head of the file at path holds text. */
static gboolean
head_holds(const char *path, const char *text)
{
	char *buf = g_malloc(TEST_HEAD_MAX + 1);
	int fd = fs_open(path, O_RDONLY | O_NONBLOCK, 0);
	ssize_t n = fd >= 0 ? read(fd, buf, TEST_HEAD_MAX) : -1;
	gboolean found = FALSE;

	if (n > 0) {
		buf[n] = '\0';
		found = g_strstr_len(buf, n, text) != NULL;
	}
	if (fd >= 0)
		close(fd);
	g_free(buf);
	return found;
}

/* Whether a message of queue, ready or claimed, holds the test
 * message's token: only entries named since the test began (a name
 * starts with its µs time), each read up to its headers. */
static gboolean
test_in_queue(struct deliver_test *t, const char *queue)
{
	char *dir = site_path(t->site, "queue", queue, NULL);
	GPtrArray *names = fs_dir_names(dir, NULL, NULL);
	gboolean found = FALSE;

	for (guint i = 0; names != NULL && i < names->len && !found; i++) {
		const char *name = names->pdata[i];
		char *p;

		if ((!g_str_has_suffix(name, ".msg") &&
		     !g_str_has_suffix(name, ".bak")) ||
		    g_ascii_strtoll(name, NULL, 10) < t->started)
			continue;
		p = g_build_filename(dir, name, NULL);
		found = head_holds(p, t->token);
		g_free(p);
	}
	if (names != NULL)
		g_ptr_array_free(names, TRUE);
	g_free(dir);
	return found;
}

/* The scratch list's post number and archived count (-1: unreadable). */
static void
test_counts(struct deliver_test *t, int64_t *posts_r, int64_t *archived_r)
{
	struct list *l = list_open(t->site, t->fqdn, NULL);
	struct archive *a = l != NULL ? archive_open(l, NULL) : NULL;

	*posts_r = -1;
	*archived_r = a != NULL ? archive_count(a, NULL) : -1;
	if (l == NULL || list_counter_get(l, "post_id", posts_r, NULL) < 0)
		*posts_r = -1;
	archive_free(&a);
	list_free(&l);
}

/* Waits up to timeout_s for the message to be taken by the posting
 * pipeline and archived, then says which hop it did not pass. */
static void
test_wait(struct doctor *d, struct deliver_test *t, int64_t posts0,
	  int64_t archived0, int timeout_s)
{
	gint64 end = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
	int64_t posts = posts0, archived = archived0;
	gboolean taken = FALSE;
	char *fix;

	while (g_get_monotonic_time() < end) {
		test_counts(t, &posts, &archived);
		if (!taken && posts > posts0) {
			taken = TRUE;
			printf("deliver-test: ok: herald received it and its posting "
			       "pipeline took it (post %" G_GINT64_FORMAT ")\n", posts);
		}
		/* Archived, and the archive runner done with it (the
		 * scratch list goes next). */
		if (archived > archived0 && !test_in_queue(t, QUEUE_ARCHIVE)) {
			printf("deliver-test: ok: the archive runner archived it\n");
			return;
		}
		if (test_in_queue(t, QUEUE_SHUNT)) {
			problem(d, "herald queue show on it says why; fix that, "
				"then herald queue unshunt", "deliver-test: the "
				"test message failed in herald and was shunted");
			return;
		}
		g_usleep(TEST_POLL_MS * 1000);
	}
	if (taken) {
		problem(d, "herald status: a master must run with a runner for "
			"the archive queue ([runner.archive] in etc/herald.conf); "
			"see logs/HOST/runner", "deliver-test: the test message "
			"went through the pipeline but was not archived in %d s",
			timeout_s);
	} else if (test_in_queue(t, QUEUE_IN)) {
		problem(d, "herald status: a master must run with a runner for "
			"the in queue ([runner.in], handler incoming)",
			"deliver-test: the test message reached herald's in queue "
			"but no runner took it in %d s", timeout_s);
	} else {
		fix = g_strdup_printf("look for it in the MTA's queue and log "
				      "(postqueue -p; grep %s in the mail log): "
				      "Postfix's transport_maps must send %s to "
				      "herald's LMTP server (herald mta-config "
				      "postfix --write, docs/postfix.md), and "
				      "lmtp.listen must answer",
				      t->queue_id != NULL ? t->queue_id : t->token,
				      t->fqdn);
		problem(d, fix, "deliver-test: the MTA accepted the test message "
			"but it did not reach herald in %d s", timeout_s);
		g_free(fix);
	}
}

/* The scratch list made for the test goes again, archive and all. */
static void
test_cleanup(struct doctor *d, struct deliver_test *t)
{
	GError *error = NULL;

	if (!t->created)
		return;
	if (list_remove(t->site, t->fqdn, TRUE, &error) < 0 ||
	    mtaconfig_refresh(t->site, &error) < 0) {
		char *fix = g_strdup_printf("herald lists remove %s --purge",
					    t->fqdn);
		problem(d, fix, "deliver-test: the scratch list was not removed: "
			"%s", error->message);
		g_free(fix);
		g_clear_error(&error);
		return;
	}
	printf("deliver-test: scratch list %s removed\n", t->fqdn);
}

/* --deliver-test: the scratch list is list (NULL: herald-check@ the
 * domain of the first list). */
static void
check_delivery(struct doctor *d, struct site *site, const char *list,
	       const char *sender, int timeout_s)
{
	struct deliver_test t = { .site = site };
	GPtrArray *lists = list_all(site, NULL);
	char *fqdn = NULL, *from = NULL;
	int64_t posts0, archived0;

	if (list != NULL) {
		GError *e = NULL;

		if (list_name_check(list, NULL, NULL, &e) < 0) {
			problem(d, "name the scratch list NAME@DOMAIN, a domain "
				"the MTA sends to herald", "deliver-test: "
				"--test-list: %s", e->message);
			g_error_free(e);
			if (lists != NULL)
				g_ptr_array_free(lists, TRUE);
			return;
		}
		fqdn = g_strdup(list);
	} else if (lists != NULL && lists->len > 0)
		fqdn = g_strdup_printf(TEST_LOCAL "@%s",
				       strrchr(lists->pdata[0], '@') + 1);
	if (lists != NULL)
		g_ptr_array_free(lists, TRUE);
	if (fqdn == NULL) {
		problem(d, "create a list first, or name the scratch list with "
			"--test-list NAME@DOMAIN (a domain the MTA sends to herald)",
			"deliver-test: no list, so no domain for the scratch list");
		return;
	}
	if (sender == NULL)
		sender = from = g_strdup_printf("postmaster@%s", strrchr(fqdn, '@') + 1);
	t.fqdn = fqdn;
	t.sender = sender;
	/* A second early: the entries' stamps come from their writers'
	 * clocks, another host's perhaps. */
	t.started = g_get_real_time() - G_USEC_PER_SEC;
	t.token = g_strdup_printf("herald-check.%s.%d.%" G_GINT64_FORMAT,
				  herald_host(), (int)getpid(), g_get_real_time());
	if (test_list_make(d, &t) == 0) {
		test_counts(&t, &posts0, &archived0);
		if (test_send(d, &t) == 0)
			test_wait(d, &t, posts0, archived0, timeout_s);
	}
	test_cleanup(d, &t);
	g_free(t.token);
	g_free(t.mta);
	g_free(t.queue_id);
	g_free(from);
	g_free(fqdn);
}

int
cmd_check(struct cli *cli, int argc, char **argv)
{
	static const struct cli_help help = {
		.params = "", .min_args = 0, .max_args = 0,
		.summary = "Checks the set-up and prints each problem with what to "
			   "do about it: the var\ndir's owner and permissions "
			   "(nothing world-writable, secrets 0600), free\nspace "
			   "and inodes, the file system (NFS mount options, the "
			   "clock offset to\nthe file server), the MTA's wiring "
			   "(Postfix's maps hold every list, the\nLMTP socket "
			   "reachable by postfix), each list's settings and "
			   "members, the\nqueues, the masters of every host, "
			   "stale files.  Exits 1 when there is a\nproblem, 0 "
			   "when there is none.  It changes nothing, but for "
			   "--deliver-test:\na test message sent through the MTA "
			   "(mta.transport, mta.smtp_host,\nmta.smtp_port or "
			   "mta.sendmail_command) to a scratch list,\n"
			   "herald-check@ the first list's domain (--test-list), "
			   "made for the test\nwith the Postfix tables and removed "
			   "after; each hop it passes is printed\n(the MTA took it, "
			   "herald's pipeline took it, it was archived), the\n"
			   "first it does not pass within --deliver-timeout "
			   "seconds is a problem.",
	};
	char *pf = NULL;
	char *test_list = NULL, *test_sender = NULL;
	gint64 min_mb = 1024, min_inodes = 10000;
	gboolean deliver_test = FALSE;
	int deliver_timeout = 60;
	const GOptionEntry entries[] = {
		{ "postfix-config", 0, 0, G_OPTION_ARG_FILENAME, &pf,
		  "the Postfix configuration directory (default: the site "
		  "setting mta.postfix_config)", "DIR" },
		{ "min-free-mb", 0, 0, G_OPTION_ARG_INT64, &min_mb,
		  "less free space is a problem (default 1024)", "MB" },
		{ "min-free-inodes", 0, 0, G_OPTION_ARG_INT64, &min_inodes,
		  "fewer free inodes are a problem (default 10000)", "N" },
		{ "deliver-test", 0, 0, G_OPTION_ARG_NONE, &deliver_test,
		  "send a test message through the MTA to a scratch list and "
		  "follow it", NULL },
		{ "test-list", 0, 0, G_OPTION_ARG_STRING, &test_list,
		  "the scratch list (default: herald-check@ the first list's "
		  "domain)", "NAME@DOMAIN" },
		{ "test-sender", 0, 0, G_OPTION_ARG_STRING, &test_sender,
		  "the test message's sender (default: postmaster@ the scratch "
		  "list's domain)", "ADDR" },
		{ "deliver-timeout", 0, 0, G_OPTION_ARG_INT, &deliver_timeout,
		  "how long the test message may take (default 60)", "SECONDS" },
		G_OPTION_ENTRY_NULL
	};
	struct doctor d = { 0 };
	struct site *site;
	gboolean running;
	int ret;

	if ((ret = cli_parse(cli, &argc, &argv, entries, &help)) != CLI_GO)
		return ret;
	if (!g_file_test(cli->var_dir, G_FILE_TEST_IS_DIR)) {
		problem(&d, "herald init (with --var DIR or $HERALD_VAR)",
			"no var dir at %s", cli->var_dir);
		return CLI_FAIL;
	}
	if ((site = cli_site(cli)) == NULL)
		return CLI_FAIL;
	check_files(&d, site_var_dir(site));
	check_space(&d, site_var_dir(site), min_mb, min_inodes);
	check_filesystem(&d, site_var_dir(site));
	check_clock(&d, site);
	running = check_masters(&d, site);
	{
		char *dflt = site_get(site, "mta.postfix_config", NULL);
		check_mta(&d, site, pf != NULL ? pf : dflt, running);
		g_free(dflt);
	}
	check_lists(&d, site);
	check_queues(&d, site);
	if (deliver_test)
		check_delivery(&d, site, test_list, test_sender, deliver_timeout);
	if (d.problems == 0) {
		printf("no problem found\n");
		return CLI_OK;
	}
	printf("%d problem%s found\n", d.problems, d.problems == 1 ? "" : "s");
	return CLI_FAIL;
}
