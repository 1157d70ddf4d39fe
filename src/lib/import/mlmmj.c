/*
 * mlmmj.c - an mlmmj list directory into herald: `herald import mlmmj`.
 *
 * mlmmj keeps a list as files: control/ (one file per tunable: present
 * means on, its lines the value), subscribers.d/, digesters.d/ and
 * nomailsubs.d/ (addresses one a line, in files named by their first
 * letter), and archive/N (message N, from 1).  Members come in as
 * regular, MIME digest, or with delivery off; control files become the
 * settings herald has, the others are reported; the archive is imported
 * in number order (herald numbers from 0: mlmmj's archive/N is herald's
 * N-1, and the report says so).
 */
#include "import/import-private.h"
#include "archive/archive.h"
#include "base/base.h"
#include "list/roster.h"
#include "mail/address.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

/* control/ files herald has a setting for: on/off ones, and valued ones. */
static const struct { const char *file, *setting, *on; } controls[] = {
	{ "moderated", "generic_nonmember_action", "1" },
	{ "subonlypost", "generic_nonmember_action", "1" },
	{ "closedlist", "subscribe_policy", "2" },
	{ "submod", "subscribe_policy", "2" },
	{ "noarchive", "archive", "no" },
	{ "private", "archive_private", "1" },
	{ "tocc", "require_explicit_destination", "no" },
	{ "notifysub", "admin_notify_mchanges", "yes" },
	{ "nodigestsub", "digestable", "no" },
	{ "prefix", "subject_prefix", NULL },
	{ "owner", "owner", NULL },
	{ "moderators", "moderator", NULL },
	{ "footer", "msg_footer", NULL },
	{ "maxmailsize", "max_message_size", NULL },
};

static char *
read_text(const char *path)
{
	char *data = NULL;
	size_t len;

	if (fs_read_file(path, &data, &len, NULL) <= 0)
		return NULL;
	return data;
}

/* Every address of the files of folder dir/sub. */
static GPtrArray *
addresses(const char *dir, const char *sub)
{
	char *d = g_build_filename(dir, sub, NULL);
	GDir *gd = g_dir_open(d, 0, NULL);
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	const char *f;

	while (gd != NULL && (f = g_dir_read_name(gd)) != NULL) {
		char *p = g_build_filename(d, f, NULL), *t = read_text(p);
		char **lines = g_strsplit(t != NULL ? t : "", "\n", -1);
		for (char **l = lines; *l != NULL; l++)
			if (*g_strstrip(*l) != '\0')
				g_ptr_array_add(out, g_strdup(*l));
		g_strfreev(lines);
		g_free(t);
		g_free(p);
	}
	if (gd != NULL)
		g_dir_close(gd);
	g_free(d);
	return out;
}

static void
add_members(GPtrArray *addrs, enum member_mode mode, enum member_status st,
	    struct roster_change *c, GHashTable *seen, GString *report,
	    struct import_totals *t)
{
	for (guint i = 0; i < addrs->len; i++) {
		const char *a = addrs->pdata[i];
		struct member mb = { 0 };
		GError *local = NULL;

		if (address_validate(a, &local) < 0) {
			g_string_append_printf(report, "  member not carried: %s: %s\n",
					       a, local->message);
			g_clear_error(&local);
			t->not_carried++;
			continue;
		}
		mb.key = address_key(a);
		if (g_hash_table_contains(seen, mb.key)) {
			g_free(mb.key);
			continue;	/* listed in two files: the first wins */
		}
		g_hash_table_add(seen, g_strdup(mb.key));
		mb.addr = (char *)a;
		mb.name = mb.language = mb.password = mb.status_reason = "";
		mb.bounce.reason = "";
		mb.mode = mode;
		mb.status = st;
		mb.options = OPT_NODUPES;
		mb.subscribed = now_usec() / 1000000;
		roster_change_put(c, &mb);
		t->members++;
		g_free(mb.key);
	}
}

static int
mlmmj_archive(struct list *l, const char *dir, GString *report,
	      struct import_totals *t, GError **error)
{
	char *adir = g_build_filename(dir, "archive", NULL);
	GDir *gd = g_dir_open(adir, 0, NULL);
	GArray *nums = g_array_new(FALSE, FALSE, sizeof(long));
	struct archive *a = NULL;
	const char *f;
	int ret = -1;

	while (gd != NULL && (f = g_dir_read_name(gd)) != NULL) {
		char *end;
		long n = strtol(f, &end, 10);
		if (*end == '\0' && n > 0)
			g_array_append_val(nums, n);
	}
	if (gd != NULL)
		g_dir_close(gd);
	ret = 0;
	if (nums->len == 0 || l == NULL)
		goto out;
	ret = -1;
	if ((a = archive_open(l, error)) == NULL)
		goto out;
	for (long n = 1, done = 0; done < (long)nums->len; n++) {
		struct stat st;
		char *p = g_strdup_printf("%s/%ld", adir, n), *data = NULL;
		size_t len;
		int r = fs_read_file(p, &data, &len, NULL);
		g_free(p);
		if (r <= 0) {
			g_string_append_printf(report, "  archive: no message %ld "
					       "(numbers after it shift)\n", n);
			continue;
		}
		done++;
		/* The file's time is when mlmmj archived it: the arrival
		 * time Pipermail's date policy falls back on. */
		p = g_strdup_printf("%s/%ld", adir, n);
		if (fs_stat(p, &st) < 0)
			st.st_mtime = (time_t)(now_usec() / 1000000);
		g_free(p);
		if (archive_add(a, data, len, NULL, FALSE, (int64_t)st.st_mtime,
				NULL, error) < 0) {
			g_free(data);
			goto out;
		}
		t->archived++;
		g_free(data);
	}
	ret = 0;
out:
	if (nums->len > 0)
		g_string_append_printf(report, "  archive: %u messages (mlmmj's "
				       "archive/N is herald's N-1)\n", nums->len);
	archive_free(&a);
	g_array_free(nums, TRUE);
	g_free(adir);
	return ret;
}

int
import_mlmmj(struct site *site, const char *dir,
	     const struct import_options *o, GString *report,
	     struct import_totals *totals, GError **error)
{
	struct import_totals local_t = { 0 };
	struct import_totals *t = totals != NULL ? totals : &local_t;
	char *cdir = g_build_filename(dir, "control", NULL);
	char *owner_path = g_build_filename(cdir, "owner", NULL);
	char *owner_text = read_text(owner_path);
	char **owners = g_strsplit(owner_text != NULL ? owner_text : "", "\n", -1);
	GPtrArray *own = g_ptr_array_new();
	struct import_stage *st = NULL;
	struct list *l = NULL;
	struct roster_change *c = roster_change_new();
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GPtrArray *subs = addresses(dir, "subscribers.d");
	GPtrArray *digs = addresses(dir, "digesters.d");
	GPtrArray *nomail = addresses(dir, "nomailsubs.d");
	GDir *gd = NULL;
	const char *f;
	int ret = -1, r;

	g_string_append_printf(report, "list %s (mlmmj's %s)%s\n", o->fqdn, dir,
			       o->dry_run ? ", dry run: nothing written" : "");
	for (char **p = owners; *p != NULL; p++)
		if (*g_strstrip(*p) != '\0')
			g_ptr_array_add(own, *p);
	g_ptr_array_add(own, NULL);
	if (!g_file_test(cdir, G_FILE_TEST_IS_DIR) || own->len < 2) {
		g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
			    "%s: not an mlmmj list directory with an owner "
			    "(control/owner)", dir);
		goto out;
	}
	if (!o->dry_run) {
		if ((r = import_stage_begin(site, o->fqdn, &st, error)) <= 0) {
			if (r == 0) {
				g_string_append(report, "  exists already: left as it is\n");
				t->lists_skipped++;
				ret = 0;
			}
			goto out;
		}
		if (list_create(st->stage, o->fqdn, (const char *const *)own->pdata,
				error) < 0 ||
		    (l = list_open(st->stage, o->fqdn, error)) == NULL)
			goto out;
	}
	gd = g_dir_open(cdir, 0, NULL);
	while (gd != NULL && (f = g_dir_read_name(gd)) != NULL) {
		const char *setting = NULL, *on = NULL;
		for (size_t i = 0; i < G_N_ELEMENTS(controls); i++)
			if (strcmp(controls[i].file, f) == 0) {
				setting = controls[i].setting;
				on = controls[i].on;
			}
		if (setting == NULL) {
			g_string_append_printf(report, "  not carried: control/%s: "
					       "herald has no such setting\n", f);
			t->not_carried++;
			continue;
		}
		char *p = g_build_filename(cdir, f, NULL), *v = read_text(p);
		char *value = on != NULL ? g_strdup(on) : g_strstrip(g_strdup(v != NULL ? v : ""));
		GError *local = NULL;
		if (strcmp(f, "maxmailsize") == 0) {
			char *kb = g_strdup_printf("%lld", (strtoll(value, NULL, 10) + 1023) / 1024);
			g_free(value);
			value = kb;
		}
		if (l != NULL && list_set(l, setting, value, &local) < 0) {
			g_string_append_printf(report, "  not carried: control/%s: %s\n",
					       f, local->message);
			g_clear_error(&local);
			t->not_carried++;
		} else {
			t->settings++;
		}
		g_free(value);
		g_free(v);
		g_free(p);
	}
	add_members(subs, MODE_REGULAR, STATUS_ENABLED, c, seen, report, t);
	add_members(digs, MODE_MIME_DIGEST, STATUS_ENABLED, c, seen, report, t);
	add_members(nomail, MODE_REGULAR, STATUS_BY_USER, c, seen, report, t);
	g_string_append_printf(report, "  members: %u regular, %u digest, %u "
			       "with delivery off\n", subs->len, digs->len,
			       nomail->len);
	if (l != NULL && roster_change_count(c) > 0 &&
	    roster_commit(l, c, NULL, error) < 0)
		goto out;
	if (mlmmj_archive(l, dir, report, t, error) < 0)
		goto out;
	list_free(&l);
	if (st != NULL) {
		if (import_stage_commit(st, error) < 0)
			goto out;
		t->lists++;
	}
	ret = 0;
out:
	if (ret < 0 && error != NULL && *error != NULL)
		g_string_append_printf(report, "  NOT IMPORTED: %s\n", (*error)->message);
	if (gd != NULL)
		g_dir_close(gd);
	list_free(&l);
	import_stage_free(&st);
	roster_change_free(&c);
	g_hash_table_destroy(seen);
	g_ptr_array_free(subs, TRUE);
	g_ptr_array_free(digs, TRUE);
	g_ptr_array_free(nomail, TRUE);
	g_ptr_array_free(own, TRUE);
	g_strfreev(owners);
	g_free(owner_text);
	g_free(owner_path);
	g_free(cdir);
	return ret;
}
