/*
** vfs_bench.c -- raw SQL on the "hiroba" VFS (src/vfs.c over
** storage_js.c), for bench/opfs-writes.bench.js: the same SQL text the
** bench runs on sqlite-wasm's opfs-sahpool VFS, so the two sides differ
** only in their SQLite build and their VFS. No events, no signing, no
** engine: one connection, statements in, one text value out.
**
** Built by mk/bench-browser.mk into build/test/vfs_bench.mjs, from the
** same objects and flags as the VFS suite (tests/wasm/vfs_suite.c): the
** cached wasm SQLite object, vfs.o and storage_js.o, linked with
** --js-library js-glue/storage-library.js. The host passes the storage as
** Module.hirobaStorage (openOpfsStorage() in bench/pages/ours-sql-worker.js).
** Exports are listed once, in mk/bench-browser.mk (VFS_BENCH_EXPORTS).
**
** Left out: error detail beyond sqlite3_errmsg(), more than one
** connection, bound parameters (the bench sends SQL literals).
*/
#include "sqlite3.h"

#include <stdio.h>
#include <string.h>

static sqlite3 *pDb = 0;       /* the one connection, or 0 */
static char zOut[1024];        /* first column of the last row, as text */
static char zErr[1024];        /* message of the last failure */

/* Opens zPath on the default VFS ("hiroba"); "" opens a temporary
** database, which vfs.c keeps in memory. 0 or an SQLite code. */
int vfs_bench_open(const char *zPath){
  int rc;
  if( pDb ) return SQLITE_MISUSE;
  /* Explicitly: the build may have SQLITE_OMIT_AUTOINIT. */
  rc = sqlite3_initialize();
  if( rc ){
    snprintf(zErr, sizeof(zErr), "sqlite3_initialize: %d", rc);
    return rc;
  }
  rc = sqlite3_open_v2(zPath, &pDb, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0);
  if( rc ){
    snprintf(zErr, sizeof(zErr), "open %s: %s", zPath, pDb ? sqlite3_errmsg(pDb) : "?");
    sqlite3_close(pDb);
    pDb = 0;
  }
  return rc;
}

/* Runs every statement of zSql in turn. The first column of the last row
** any statement returned is kept for vfs_bench_result(). 0 or the SQLite
** code of the first failure (the rest of zSql is not run). */
int vfs_bench_exec(const char *zSql){
  const char *zTail = zSql;
  int rc = SQLITE_OK;
  zOut[0] = 0;
  if( !pDb ) return SQLITE_MISUSE;
  while( rc==SQLITE_OK && zTail && zTail[0] ){
    sqlite3_stmt *pStmt = 0;
    rc = sqlite3_prepare_v2(pDb, zTail, -1, &pStmt, &zTail);
    if( rc || !pStmt ) break;    /* error, or only whitespace/comments left */
    while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
      const unsigned char *z = sqlite3_column_text(pStmt, 0);
      snprintf(zOut, sizeof(zOut), "%s", z ? (const char *)z : "");
    }
    rc = rc==SQLITE_DONE ? SQLITE_OK : rc;
    sqlite3_finalize(pStmt);
  }
  if( rc ) snprintf(zErr, sizeof(zErr), "%s", sqlite3_errmsg(pDb));
  return rc;
}

/* The kept value of the last vfs_bench_exec ("" when no row came back). */
const char *vfs_bench_result(void){
  return zOut;
}

/* The message of the last failure. */
const char *vfs_bench_errmsg(void){
  return zErr;
}

/* Closes the connection (a WAL is checkpointed and removed). 0 or a code. */
int vfs_bench_close(void){
  int rc = sqlite3_close(pDb);
  if( rc ) snprintf(zErr, sizeof(zErr), "close: %s", sqlite3_errmsg(pDb));
  else pDb = 0;
  return rc;
}
