/*
** store_internal.h -- what store.c shares with query.c, and nobody else.
*/
#ifndef HIROBA_STORE_INTERNAL_H
#define HIROBA_STORE_INTERNAL_H

#include "sqlite3.h"
#include "store.h"

/* The store's connection. */
sqlite3 *store_db(store *s);
/* Keeps "zWhat: <sqlite message>" as the store's error and maps the SQLite
** code to a HIROBA_E* code. */
int store_fail(store *s, int rc, const char *zWhat);
/* Keeps zWhat as the store's error and returns HIROBA_ECORRUPT, for damage
** SQLite itself did not notice (a column of the wrong size). */
int store_corrupt(store *s, const char *zWhat);

#endif
