/*
 * search.c - the search index, archives/<list>/search.db: SQLite with an
 * FTS5 table (subject, author, body) whose rowid is the message number,
 * and a table msg of what a result line shows (period, date, author,
 * subject).  The index is derived: `archive rebuild` makes it again from
 * the store, and `archive check` compares its count with the state.
 *
 * Only archive writers write it, under the archive lock, so SQLite's own
 * locking (which NFS may not give) never has two writers to order; a
 * reader on another host may see a stale page and retry (SQLITE_BUSY).
 */
#include "archive/archive-private.h"
#include "archive/rank.h"
#include "list/listurls.h"
#include "base/base.h"

#include <sqlite3.h>
#include <string.h>

#define BODY_MAX (256 * 1024)	/* of a message's text, indexed */
/* Ranking scores every match, which for a word in half of 100,000
 * messages takes 130 ms: only the newest RANK_WINDOW matches are ranked
 * (a bound on the cost, and in an archive the recent thread is the one
 * usually sought). */
#define RANK_WINDOW 500

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS msg(num INTEGER PRIMARY KEY, period TEXT,"
	" date INTEGER, author TEXT, subject TEXT, mid TEXT);"
	"CREATE INDEX IF NOT EXISTS msg_date ON msg(date);"
	"CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(subject, author, body,"
	" content='', tokenize='unicode61 remove_diacritics 2');";

/* A rendering worker's rows, until the parent merges them. */
static const char part_schema[] =
	"CREATE TABLE IF NOT EXISTS part(num INTEGER PRIMARY KEY, period TEXT,"
	" date INTEGER, author TEXT, subject TEXT, fauthor TEXT, body TEXT,"
	" mid TEXT);";

/* An index made before msg had its column mid (the Message-ID's key,
 * listurls_msgid_key) gets it, empty for the messages it holds until
 * `archive rebuild`; then the lookup by key. */
static const char mid_column[] = "ALTER TABLE msg ADD COLUMN mid TEXT";
static const char mid_index[] = "CREATE INDEX IF NOT EXISTS msg_mid ON msg(mid)";

static gboolean
has_mid(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	gboolean yes = sqlite3_prepare_v2(db, "SELECT mid FROM msg LIMIT 0", -1,
					  &st, NULL) == SQLITE_OK;

	sqlite3_finalize(st);
	return yes;
}

static int
add_mid(sqlite3 *db)
{
	if (!has_mid(db))
		(void)sqlite3_exec(db, mid_column, NULL, NULL, NULL);	/* or another did */
	return has_mid(db) ? sqlite3_exec(db, mid_index, NULL, NULL, NULL) : SQLITE_ERROR;
}

static int
db_error(sqlite3 *db, const char *what, GError **error)
{
	g_set_error(error, HERALD_ERROR, HERALD_ERR_IO, "sqlite %s: %s", what,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
	return -1;
}

static sqlite3 *
db_open(struct archive *a, GError **error)
{
	if (a->search != NULL)
		return a->search;
	char *name = a->search_part > 0 ? g_strdup_printf("search.part%d.db", a->search_part)
					: g_strdup("search.db");
	char *path = store_path(a, name);
	sqlite3 *db = NULL;

	g_free(name);
	if (a->search_part > 0)
		(void)fs_unlink(path);	/* a dead worker's */
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 10000) != SQLITE_OK ||
	    sqlite3_exec(db, a->search_part > 0 ? "PRAGMA synchronous=OFF;"
			 : "PRAGMA synchronous=NORMAL;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, a->search_part > 0 ? part_schema : schema, NULL, NULL,
			 NULL) != SQLITE_OK ||
	    (a->search_part == 0 && (add_mid(db) != SQLITE_OK ||
				     rank_register(db) != SQLITE_OK))) {
		db_error(db, path, error);
		sqlite3_close(db);
		db = NULL;
	}
	g_free(path);
	a->search = db;
	return db;
}

void
search_close(struct archive *a)
{
	if (a->search != NULL)
		sqlite3_close(a->search);
	a->search = NULL;
}

static int
exec(struct archive *a, const char *sql, GError **error)
{
	sqlite3 *db = db_open(a, error);

	if (db == NULL)
		return -1;
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(db, sql, error);
	return 0;
}

int
search_begin(struct archive *a, GError **error)
{
	return exec(a, "BEGIN IMMEDIATE", error);
}

int
search_commit(struct archive *a, GError **error)
{
	return exec(a, "COMMIT", error);
}

void
search_rollback(struct archive *a)
{
	if (a->search != NULL)
		(void)sqlite3_exec(a->search, "ROLLBACK", NULL, NULL, NULL);
}

int
search_clear(struct archive *a, GError **error)
{
	return exec(a, "DROP TABLE IF EXISTS fts; DROP TABLE IF EXISTS msg;", error) < 0 ||
	       exec(a, schema, error) < 0 ? -1 : 0;
}

int64_t
search_count(struct archive *a, GError **error)
{
	sqlite3 *db = db_open(a, error);
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	if (db == NULL)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM msg", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		db_error(db, "count", error);
	else
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int
put_part(struct archive *a, sqlite3 *db, const struct entry *e,
	 const char *period, const char *body, GError **error)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO part VALUES(?,?,?,?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(db, "insert", error);
	sqlite3_bind_int64(st, 1, e->num);
	sqlite3_bind_text(st, 2, period, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, e->date);
	sqlite3_bind_text(st, 4, e->author, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, g_strdup_printf("%s %s", e->author, e->addr), -1, g_free);
	sqlite3_bind_text(st, 7, body, (int)MIN(strlen(body), BODY_MAX), SQLITE_STATIC);
	sqlite3_bind_text(st, 8, listurls_msgid_key(e->msgid), -1, g_free);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_error(db, "insert", error);
	sqlite3_finalize(st);
	return r;
}

int
search_merge_part(struct archive *a, int part, GError **error)
{
	char *name = g_strdup_printf("search.part%d.db", part);
	char *path = store_path(a, name);
	char *sql = sqlite3_mprintf(
		"ATTACH %Q AS p; BEGIN;"
		" INSERT INTO fts(rowid, subject, author, body) SELECT num, subject,"
		"  fauthor, body FROM p.part WHERE num NOT IN (SELECT num FROM msg);"
		" INSERT OR IGNORE INTO msg SELECT num, period, date, author, subject,"
		"  mid FROM p.part;"
		" COMMIT; DETACH p;", path);
	int r = exec(a, sql, error);

	if (r == 0 && fs_unlink(path) < 0) {
		set_errno_error(error, "unlink(%s)", path);
		r = -1;
	}
	sqlite3_free(sql);
	g_free(path);
	g_free(name);
	return r;
}

int
search_put(struct archive *a, const struct entry *e, const char *period,
	   const char *body, GError **error)
{
	sqlite3 *db = db_open(a, error);
	sqlite3_stmt *st = NULL;
	char *author;
	int r = -1;

	if (db == NULL)
		return -1;
	if (a->search_part > 0)
		return put_part(a, db, e, period, body, error);
	/* Both rows or neither, also outside an import's transaction. */
	if (exec(a, "SAVEPOINT put", error) < 0)
		return -1;
	/* Once only: a contentless FTS5 row cannot be replaced. */
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO msg VALUES(?,?,?,?,?,?)",
			       -1, &st, NULL) != SQLITE_OK) {
		db_error(db, "insert", error);
		goto out;
	}
	sqlite3_bind_int64(st, 1, e->num);
	sqlite3_bind_text(st, 2, period, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, e->date);
	sqlite3_bind_text(st, 4, e->author, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, listurls_msgid_key(e->msgid), -1, g_free);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_error(db, "insert", error);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_changes(db) == 0) {
		r = 0;
		goto out;
	}
	if (sqlite3_prepare_v2(db, "INSERT INTO fts(rowid, subject, author, body)"
			       " VALUES(?,?,?,?)", -1, &st, NULL) != SQLITE_OK) {
		db_error(db, "insert", error);
		goto out;
	}
	author = g_strdup_printf("%s %s", e->author, e->addr);
	sqlite3_bind_int64(st, 1, e->num);
	sqlite3_bind_text(st, 2, e->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, author, -1, g_free);
	sqlite3_bind_text(st, 4, body, (int)MIN(strlen(body), BODY_MAX), SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_error(db, "insert", error);
	else
		r = 0;
out:
	sqlite3_finalize(st);
	if (exec(a, r == 0 ? "RELEASE put" : "ROLLBACK TO put; RELEASE put",
		 r == 0 ? error : NULL) < 0)
		r = -1;
	return r;
}

char *
archive_find_msgid(struct archive *a, const char *key, GError **error)
{
	sqlite3 *db = db_open(a, error);
	sqlite3_stmt *st = NULL;
	char *path = NULL;

	if (db == NULL)
		return NULL;
	if (sqlite3_prepare_v2(db, "SELECT period, num FROM msg WHERE mid = ?1"
			       " ORDER BY num LIMIT 1", -1, &st, NULL) != SQLITE_OK) {
		db_error(db, "find", error);
		return NULL;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		path = g_strdup_printf("%s/%06" G_GINT64_FORMAT ".html",
				       sqlite3_column_text(st, 0),
				       (gint64)sqlite3_column_int64(st, 1));
		break;
	case SQLITE_DONE:
		break;
	default:
		db_error(db, "find", error);
	}
	sqlite3_finalize(st);
	return path;
}

void
archive_hit_free(gpointer p)
{
	struct archive_hit *h = p;

	g_free(h->path);
	g_free(h->author);
	g_free(h->subject);
	g_free(h);
}

/* A date YYYY-MM-DD as epoch seconds (UTC), -1 when it is not one. */
static int64_t
parse_day(const char *s)
{
	GDateTime *d;
	int y, m, dd;
	int64_t t = -1;

	if (sscanf(s, "%4d-%2d-%2d", &y, &m, &dd) != 3)
		return -1;
	if ((d = g_date_time_new_utc(y, m, dd, 0, 0, 0)) != NULL) {
		t = g_date_time_to_unix(d);
		g_date_time_unref(d);
	}
	return t;
}

/* One term of FTS5's syntax, quoted so that nothing in it is an
 * operator, added to the expression and to the list of phrases. */
static void
term(GString *fts, GPtrArray *phrases, const char *column, const char *text)
{
	GString *t = g_string_new(NULL);

	if (column != NULL)
		g_string_append_printf(t, "%s : ", column);
	g_string_append_c(t, '"');
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '"')
			g_string_append_c(t, '"');
		g_string_append_c(t, *p);
	}
	g_string_append_c(t, '"');
	g_string_append_printf(fts, "%s%s", fts->len > 0 ? " AND " : "", t->str);
	g_ptr_array_add(phrases, g_string_free(t, FALSE));
}

/* The query's words and phrases as an FTS5 expression and one by one,
 * its dates as a range [*after_r, *before_r). */
static int
parse_query(const char *query, GString *fts, GPtrArray *phrases,
	    int64_t *after_r, int64_t *before_r, GError **error)
{
	const char *p = query;

	*after_r = G_MININT64;
	*before_r = G_MAXINT64;
	while (*p != '\0') {
		const char *column = NULL;
		char *word;

		while (g_ascii_isspace(*p))
			p++;
		if (*p == '\0')
			break;
		if (g_ascii_strncasecmp(p, "from:", 5) == 0)
			column = "author", p += 5;
		else if (g_ascii_strncasecmp(p, "subject:", 8) == 0)
			column = "subject", p += 8;
		if (*p == '"') {
			const char *end = strchr(++p, '"');

			word = g_strndup(p, end != NULL ? (size_t)(end - p) : strlen(p));
			p = end != NULL ? end + 1 : p + strlen(p);
		} else {
			const char *end = p;

			while (*end != '\0' && !g_ascii_isspace(*end))
				end++;
			word = g_strndup(p, end - p);
			p = end;
		}
		if (column == NULL && (g_str_has_prefix(word, "after:") ||
				       g_str_has_prefix(word, "before:"))) {
			gboolean after = word[0] == 'a';
			int64_t t = parse_day(strchr(word, ':') + 1);

			if (t < 0) {
				g_set_error(error, HERALD_ERROR, HERALD_ERR_INVALID,
					    "'%s': a date is YYYY-MM-DD", word);
				g_free(word);
				return -1;
			}
			if (after)
				*after_r = t;
			else
				*before_r = t;
		} else if (*word != '\0') {
			term(fts, phrases, column, word);
		}
		g_free(word);
	}
	return 0;
}

static int
by_score(const void *x, const void *y)
{
	const struct archive_hit *a = *(struct archive_hit *const *)x;
	const struct archive_hit *b = *(struct archive_hit *const *)y;

	/* herald_rank(), as bm25(), is lower for a better match; then the
	 * newer first. */
	if (a->score != b->score)
		return a->score < b->score ? -1 : 1;
	return a->date > b->date ? -1 : a->date < b->date;
}

GPtrArray *
archive_search(struct archive *a, const char *query, int limit, GError **error)
{
	GString *fts = g_string_new(NULL);
	GPtrArray *phrases = g_ptr_array_new_with_free_func(g_free);
	GArray *shares = NULL;
	GPtrArray *hits = NULL;
	sqlite3_stmt *st = NULL;
	int64_t after, before;
	sqlite3 *db;
	int r;

	if (parse_query(query, fts, phrases, &after, &before, error) < 0 ||
	    (db = db_open(a, error)) == NULL)
		goto out;
	/* The newest RANK_WINDOW matches with their scores, in one pass
	 * from the newest (FTS5 walks its lists by rowid), sorted here. */
	const char *sql = fts->len > 0
		? "SELECT m.period, m.num, m.date, m.author, m.subject, herald_rank(fts, ?5) FROM fts"
		  " JOIN msg m ON m.num = fts.rowid WHERE fts MATCH ?1"
		  " AND m.date >= ?2 AND m.date < ?3 ORDER BY fts.rowid DESC LIMIT ?4"
		: "SELECT period, num, date, author, subject, 0 FROM msg WHERE"
		  " date >= ?2 AND date < ?3 ORDER BY date DESC LIMIT ?4";

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_error(db, "search", error);
		goto out;
	}
	if (fts->len > 0) {
		sqlite3_bind_text(st, 1, fts->str, -1, SQLITE_STATIC);
		shares = rank_shares(db, phrases);
		rank_bind(st, 5, shares);
	}
	sqlite3_bind_int64(st, 2, after);
	sqlite3_bind_int64(st, 3, before);
	sqlite3_bind_int(st, 4, fts->len > 0 ? MAX(RANK_WINDOW, limit) : limit);
	hits = g_ptr_array_new_with_free_func(archive_hit_free);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct archive_hit *h = g_new0(struct archive_hit, 1);

		h->path = g_strdup_printf("%s/%06" G_GINT64_FORMAT ".html",
					  sqlite3_column_text(st, 0),
					  (gint64)sqlite3_column_int64(st, 1));
		h->date = sqlite3_column_int64(st, 2);
		h->author = g_strdup((const char *)sqlite3_column_text(st, 3));
		h->subject = g_strdup((const char *)sqlite3_column_text(st, 4));
		h->score = sqlite3_column_double(st, 5);
		g_ptr_array_add(hits, h);
	}
	if (fts->len > 0)
		g_ptr_array_sort(hits, by_score);
	if (hits->len > (guint)MAX(limit, 0))
		g_ptr_array_set_size(hits, (guint)MAX(limit, 0));
	if (r != SQLITE_DONE) {
		db_error(db, "search", error);
		g_ptr_array_free(hits, TRUE);
		hits = NULL;
	}
out:
	sqlite3_finalize(st);
	if (shares != NULL)
		g_array_free(shares, TRUE);
	g_ptr_array_free(phrases, TRUE);
	g_string_free(fts, TRUE);
	return hits;
}
