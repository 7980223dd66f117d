/*
** state.c -- the sync driver's key-value store (state.h), in the `meta`
** table the identity lives in. Every key is stored under the prefix
** "state:", so no key a caller passes can reach the secret key or any
** other row of the engine's own.
*/
#include "state.h"

#include <stdio.h>
#include <string.h>

#include "hiroba.h"
#include "store_internal.h"

#define PREFIX "state:"

static void prefixed(char *z, const char *zKey) {
  memcpy(z, PREFIX, sizeof PREFIX - 1);
  strcpy(z + sizeof PREFIX - 1, zKey);
}

int state_get(store *s, const char *zKey, strbuf *sb) {
  char zFull[sizeof PREFIX + STATE_MAX_KEY];
  if (strlen(zKey) > STATE_MAX_KEY) return 1;
  prefixed(zFull, zKey);
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(store_db(s), "SELECT value FROM meta WHERE key=?1", -1, &q, NULL);
  if (rc != SQLITE_OK) return store_fail(s, rc, "cannot read the sync state");
  sqlite3_bind_text(q, 1, zFull, -1, SQLITE_STATIC);
  rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    strbuf_append(sb, (const char *)sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0));
    rc = sb->oom ? HIROBA_ENOMEM : 0;
  } else if (rc == SQLITE_DONE) {
    rc = 1;
  } else {
    rc = store_fail(s, rc, "cannot read the sync state");
  }
  sqlite3_finalize(q);
  return rc;
}

/* Runs one statement binding zFull (and zValue when not NULL). */
static int run(store *s, const char *zSql, const char *zFull, const char *zValue) {
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(store_db(s), zSql, -1, &q, NULL);
  if (rc != SQLITE_OK) return store_fail(s, rc, "cannot write the sync state");
  sqlite3_bind_text(q, 1, zFull, -1, SQLITE_STATIC);
  if (zValue) sqlite3_bind_blob(q, 2, zValue, (int)strlen(zValue), SQLITE_STATIC);
  rc = sqlite3_step(q);
  sqlite3_finalize(q);
  return rc == SQLITE_DONE ? 0 : store_fail(s, rc, "cannot write the sync state");
}

int state_set(store *s, const char *zKey, const char *zValue) {
  char zFull[sizeof PREFIX + STATE_MAX_KEY];
  if (strlen(zKey) > STATE_MAX_KEY) return HIROBA_EINVAL;
  prefixed(zFull, zKey);
  int own = sqlite3_get_autocommit(store_db(s));
  int rc = own ? store_begin(s) : 0;
  if (rc) return rc;
  if (!zValue) {
    rc = run(s, "DELETE FROM meta WHERE key=?1", zFull, NULL);
  } else {
    /* A new key only while there is room. */
    sqlite3_stmt *q = NULL;
    rc = sqlite3_prepare_v2(store_db(s),
        "SELECT (SELECT count(*) FROM meta WHERE key>='state:' AND key<'state;'),"
        " EXISTS(SELECT 1 FROM meta WHERE key=?1)", -1, &q, NULL);
    if (rc != SQLITE_OK) {
      rc = store_fail(s, rc, "cannot read the sync state");
    } else {
      sqlite3_bind_text(q, 1, zFull, -1, SQLITE_STATIC);
      rc = sqlite3_step(q);
      if (rc == SQLITE_ROW) {
        int full = sqlite3_column_int64(q, 0) >= STATE_MAX_KEYS && !sqlite3_column_int(q, 1);
        rc = full ? HIROBA_EFULL : 0;
      } else {
        rc = store_fail(s, rc, "cannot read the sync state");
      }
      sqlite3_finalize(q);
    }
    if (rc == 0) rc = run(s, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1,?2)", zFull, zValue);
  }
  if (own) {
    if (rc == 0) rc = store_commit(s);
    if (rc) store_rollback(s);
  }
  return rc;
}
