/*
 * rank.h - the order of search results (rank.c): BM25 with each phrase's
 * document frequency estimated from the newest messages.
 */
#ifndef HERALD_ARCHIVE_RANK_H
#define HERALD_ARCHIVE_RANK_H

#include <glib.h>
#include <sqlite3.h>

/* Makes herald_rank(fts, SHARES) known to the connection. */
int rank_register(sqlite3 *db);
/* Per phrase (FTS5 expressions, in the query's order), the share of the
 * newest messages that hold it; free with g_array_free(). */
GArray *rank_shares(sqlite3 *db, GPtrArray *phrases);
/* Binds shares (which must outlive the statement's steps) to the
 * statement's parameter column, herald_rank's second argument. */
void rank_bind(sqlite3_stmt *st, int column, GArray *shares);

#endif
