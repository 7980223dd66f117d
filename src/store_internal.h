/*
** store_internal.h -- what store.c shares with query.c, and nobody else.
*/
#ifndef HIROBA_STORE_INTERNAL_H
#define HIROBA_STORE_INTERNAL_H

#include "sqlite3.h"
#include "store.h"
#include "strbuf.h"

/* The replaceable kinds (event_kind_replaceable) as an SQL term: the WHERE of the
** partial index event_slot, which a query must repeat word for word for
** SQLite to use that index. */
#define REPLACEABLE_SQL "(kind=0 OR kind=3 OR kind BETWEEN 10000 AND 19999)"

/* The store's connection. */
sqlite3 *store_db(store *s);
/* Keeps "zWhat: <sqlite message>" as the store's error and maps the SQLite
** code to a HIROBA_E* code. */
int store_fail(store *s, int rc, const char *zWhat);
/* Keeps zWhat as the store's error and returns HIROBA_ECORRUPT, for damage
** SQLite itself did not notice (a column of the wrong size). */
int store_corrupt(store *s, const char *zWhat);

/* A prepared statement for SQL text that query.c built, ready to bind:
** the store keeps the last few it prepared, so a query of a shape seen
** before (lists are bound as one parameter each, so the text repeats)
** is not parsed and planned again. 0 and *pq, or a negative code (the
** store's error says why). Every *pq goes back through
** store_stmt_release, which resets it and clears its bindings (a list
** bound to it is freed after). */
int store_stmt_acquire(store *s, const char *zSql, size_t nSql, sqlite3_stmt **pq);
void store_stmt_release(store *s, sqlite3_stmt *q);

/* The SQL text store_query (bCount 0, with maxLimit as there) or
** store_count (bCount 1) runs for `filters`, appended to *pSql, its
** parameters unbound: for tests that check its plan with EXPLAIN QUERY
** PLAN (which the shipped SQLite leaves out). 0, HIROBA_EINVAL with
** *pzReason, or HIROBA_ENOMEM. */
int store_query_sql(const cJSON *filters, int64_t maxLimit, int bCount,
                    strbuf *pSql, const char **pzReason);

#endif
