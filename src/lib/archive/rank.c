/*
 * rank.c - the order of search results: Okapi BM25, as FTS5's own bm25()
 * computes it (k1 1.2, b 0.75, every column weighing 1), except for where
 * a phrase's document frequency comes from.
 *
 * FTS5's bm25() counts, at every query, every document that holds each
 * phrase of the query: for a phrase of two words that half the archive
 * uses, that is a walk of both words' position lists through 100,000
 * messages (18-23 ms), while finding the newest 500 matches takes 2-4 ms.
 * Here the frequency is estimated from the newest SAMPLE messages (exact
 * in an archive no bigger), a rowid range FTS5 seeks to, and handed to
 * the ranking function herald_rank(fts, SHARES) as the share of those
 * messages that hold each phrase.
 */
#include "archive/archive-private.h"
#include "archive/rank.h"
#include "base/base.h"

#include <math.h>
#include <sqlite3.h>

#define SAMPLE 5000	/* newest messages that estimate a frequency */
#define K1 1.2
#define B 0.75
#define SHARES_TYPE "herald_shares"	/* sqlite3_bind_pointer's type */

/* BM25's inverse document frequency, as FTS5 computes it. */
static double
idf_of(double rows, double n)
{
	double idf = log((rows - n + 0.5) / (n + 0.5));

	return idf > 1e-6 ? idf : 1e-6;
}

/* herald_rank(fts, SHARES): minus the BM25 score of the row (lower is
 * better, as with bm25()); SHARES holds, per phrase of the query, the
 * share of messages that hold it. */
static void
rank_row(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
	 int nval, sqlite3_value **val)
{
	const GArray *shares = nval == 1 ? sqlite3_value_pointer(val[0], SHARES_TYPE) : NULL;
	int nphrase = api->xPhraseCount(fts);
	sqlite3_int64 rows = 0, tokens = 0;
	int ninst = 0, len = 0;
	double score = 0;

	if (shares == NULL || (int)shares->len != nphrase) {
		sqlite3_result_error(ctx, "herald_rank: one share a phrase", -1);
		return;
	}
	if (api->xInstCount(fts, &ninst) != SQLITE_OK ||
	    api->xRowCount(fts, &rows) != SQLITE_OK ||
	    api->xColumnTotalSize(fts, -1, &tokens) != SQLITE_OK ||
	    api->xColumnSize(fts, -1, &len) != SQLITE_OK) {
		sqlite3_result_error(ctx, "herald_rank: no statistics", -1);
		return;
	}
	double avg = rows > 0 && tokens > 0 ? (double)tokens / (double)rows : 1;
	double norm = K1 * (1 - B + B * (double)len / avg);

	for (int p = 0; p < nphrase; p++) {
		int freq = 0;

		for (int i = 0; i < ninst; i++) {
			int phrase, col, off;

			if (api->xInst(fts, i, &phrase, &col, &off) == SQLITE_OK &&
			    phrase == p)
				freq++;
		}
		double idf = idf_of((double)rows,
				    g_array_index(shares, double, p) * (double)rows);

		score += idf * freq * (K1 + 1) / (freq + norm);
	}
	sqlite3_result_double(ctx, -score);
}

/* The FTS5 API of the connection (SQLite's documented way to reach it). */
static fts5_api *
fts5_of(sqlite3 *db)
{
	fts5_api *api = NULL;
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_pointer(st, 1, &api, "fts5_api_ptr", NULL);
		(void)sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return api;
}

int
rank_register(sqlite3 *db)
{
	fts5_api *api = fts5_of(db);

	if (api == NULL)
		return SQLITE_ERROR;
	return api->xCreateFunction(api, "herald_rank", NULL, rank_row, NULL);
}

static int64_t
count(sqlite3 *db, const char *sql, const char *match, int64_t from)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (match != NULL)
			sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
		if (sqlite3_bind_parameter_count(st) >= 2)
			sqlite3_bind_int64(st, 2, from);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return n;
}

GArray *
rank_shares(sqlite3 *db, GPtrArray *phrases)
{
	GArray *shares = g_array_sized_new(FALSE, FALSE, sizeof(double), phrases->len);
	int64_t from = count(db, "SELECT coalesce(max(num), 0) FROM msg", NULL, 0) - SAMPLE;
	int64_t sampled = count(db, "SELECT count(*) FROM msg WHERE num > ?2", NULL, from);

	for (guint i = 0; i < phrases->len; i++) {
		int64_t n = count(db, "SELECT count(*) FROM fts WHERE fts MATCH ?1"
				  " AND rowid > ?2", g_ptr_array_index(phrases, i), from);
		double share = sampled > 0 && n > 0 ? (double)n / (double)sampled : 0;

		g_array_append_val(shares, share);
	}
	return shares;
}

void
rank_bind(sqlite3_stmt *st, int column, GArray *shares)
{
	sqlite3_bind_pointer(st, column, shares, SHARES_TYPE, NULL);
}
