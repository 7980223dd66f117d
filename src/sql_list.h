/*
** sql_list.h -- a list of values as ONE SQL parameter: the table-valued
** function hiroba_list(?) reads a C array bound with sqlite3_bind_pointer.
**
** A filter's ids, authors, kinds or tag values reach SQL this way with no
** text to build or parse, whatever their number, so statement text never
** grows with the data. (It replaced json_each, which let the build leave
** out SQLite's JSON support: about 40 KB of the gzipped wasm.)
*/
#ifndef HIROBA_SQL_LIST_H
#define HIROBA_SQL_LIST_H

#include "cJSON.h"
#include "sqlite3.h"

typedef enum sql_list_type {
  SQL_LIST_INT,   /* integers (JSON numbers already range-checked) */
  SQL_LIST_ID,    /* 64-hex strings, yielded as 32-byte blobs */
  SQL_LIST_TEXT,  /* strings, yielded as text */
  SQL_LIST_TAG    /* tag values: a lowercase 64-hex string is yielded as its
                  ** 32-byte blob (the form the tag table stores it in,
                  ** store.c), anything else as text */
} sql_list_type;

typedef struct sql_list sql_list;

/* A list from a JSON array whose elements all suit `type` (the caller has
** checked them). Owned by the caller: sql_list_free(). NULL when out of
** memory or when an element does not suit. */
sql_list *sql_list_from_json(const cJSON *array, sql_list_type type);
void sql_list_free(sql_list *list);

/* Binds list to parameter i of q, for "... IN (SELECT value FROM
** hiroba_list(?i))". The list stays owned by the caller and must outlive
** the statement's steps. Returns an SQLite code. */
int sql_list_bind(sqlite3_stmt *q, int i, sql_list *list);

/* Makes hiroba_list() known to a connection; an SQLite code. */
int sql_list_register(sqlite3 *db);

#endif
