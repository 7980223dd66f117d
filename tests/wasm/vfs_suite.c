/*
** vfs_suite.c -- the "hiroba" VFS (src/vfs.c) tested through the real wasm
** build, one test per VFS method plus SQL through SQLite, on whatever
** storage the host passes as Module.hirobaStorage: node:fs
** (js-glue/storage-node.js) in Node, OPFS access handles
** (js-glue/storage-opfs.js) in a Chromium worker. tests/shared/vfs-suite.js
** lists the tests and drives them; tests/node/vfs-suite.test.js and
** tests/e2e/vfs-suite.test.js run that list on each backend.
**
** Every test is an exported `int vfs_test_*(void)`: 0 when it passed, else
** the source line of the first failed check; vfs_suite_message() then says
** which checks failed and with what values. Each test starts from and
** leaves behind no files (vfs_suite_cleanup() also does it on demand).
** Exports are listed once, in the Makefile (VFS_SUITE_EXPORTS); this file,
** that list and tests/shared/vfs-suite.js must match (the JS side fails a
** test whose export is missing).
**
** File names: only NAME, NAME-journal and NAME-wal with NAME = prefix +
** "vfs-suite.db", because the OPFS pool of openOpfsStorage('vfs-suite')
** knows no other paths. The prefix (vfs_suite_set_prefix) is a folder in
** Node and empty in the browser. On OPFS "deleted" means "empty" (see
** storage-opfs.js), so the tests never ask whether an empty file exists.
**
** Left out (covered natively by tests/native/test_vfs.c, which can see
** the files behind the VFS): crash copies of a database mid-transaction,
** /dev/full, a second process. xSleep is called, never timed.
**
** Needs: Emscripten, src/vfs.c + src/storage_js.c, SQLite built with the
** project's SQLITE_DEFS; linked with --js-library js-glue/storage-library.js
** (see the Makefile's "wasm test modules" section for the export list).
*/
#include "sqlite3.h"
#include "storage.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- check machinery ---------------------------------------------------- */

static char zMsg[4096];     /* failures of the current test, one per line */
static int nMsg = 0;        /* bytes used in zMsg */
static int iFirstLine = 0;  /* line of the first failed check, 0 if none */

static void note(int iLine, const char *zFmt, ...){
  va_list ap;
  int n;
  if( iFirstLine==0 ) iFirstLine = iLine;
  if( nMsg>=(int)sizeof(zMsg)-1 ) return;
  n = snprintf(zMsg + nMsg, sizeof(zMsg) - (size_t)nMsg, "vfs_suite.c:%d: ", iLine);
  if( n>0 ) nMsg += n;
  if( nMsg>=(int)sizeof(zMsg)-1 ){ nMsg = (int)sizeof(zMsg)-1; return; }
  va_start(ap, zFmt);
  n = vsnprintf(zMsg + nMsg, sizeof(zMsg) - (size_t)nMsg, zFmt, ap);
  va_end(ap);
  if( n>0 ) nMsg += n;
  if( nMsg>=(int)sizeof(zMsg)-1 ){ nMsg = (int)sizeof(zMsg)-1; return; }
  zMsg[nMsg++] = '\n';
  zMsg[nMsg] = 0;
}

/* CHECK(cond): records the failure and goes on. */
#define CHECK(x) do{ if( !(x) ) note(__LINE__, "check failed: %s", #x); }while(0)
/* CHECK_EQ(actual, expected): integers, both values in the message. */
#define CHECK_EQ(a, b) do{ long long a_ = (long long)(a), b_ = (long long)(b); \
  if( a_!=b_ ) note(__LINE__, "%s is %lld, expected %lld", #a, a_, b_); }while(0)

static void begin(void){
  zMsg[0] = 0;
  nMsg = 0;
  iFirstLine = 0;
}

/* ---- exported helpers ----------------------------------------------------- */

static char zPrefix[400] = "";   /* folder prepended to the three names */

/* Sets the folder (ending in '/') before the file names; "" for none.
** Returns 0, or 1 when it is too long. */
int vfs_suite_set_prefix(const char *z){
  if( strlen(z)>=sizeof(zPrefix) ) return 1;
  snprintf(zPrefix, sizeof(zPrefix), "%s", z);
  return 0;
}

/* What the last test found wrong ("" when it passed). */
const char *vfs_suite_message(void){
  return zMsg;
}

/* The three paths, in static buffers. */
static const char *dbPath(void){
  static char z[512];
  snprintf(z, sizeof(z), "%svfs-suite.db", zPrefix);
  return z;
}
static const char *journalPath(void){
  static char z[520];
  snprintf(z, sizeof(z), "%s-journal", dbPath());
  return z;
}
static const char *walPath(void){
  static char z[520];
  snprintf(z, sizeof(z), "%s-wal", dbPath());
  return z;
}

static sqlite3_vfs *vfs(void){
  return sqlite3_vfs_find(0);
}

/* Deletes the three files through the VFS; a missing one is fine. Returns
** 0, or the SQLite code of the first other failure. */
int vfs_suite_cleanup(void){
  const char *az[3];
  int i, rc, rcFirst = 0;
  sqlite3_vfs *pVfs = vfs();
  if( pVfs==0 ) return SQLITE_ERROR;
  az[0] = dbPath(); az[1] = journalPath(); az[2] = walPath();
  for(i=0; i<3; i++){
    rc = pVfs->xDelete(pVfs, az[i], 0);
    if( rc!=SQLITE_OK && rc!=SQLITE_IOERR_DELETE_NOENT && rcFirst==0 ) rcFirst = rc;
  }
  return rcFirst;
}

/* Every test: begin, clean, run, clean, report. */
static int finish(void){
  int rc = vfs_suite_cleanup();
  if( rc ) note(__LINE__, "cleanup failed with %d", rc);
  return iFirstLine;
}

static void start(void){
  int rc;
  begin();
  rc = sqlite3_initialize();
  if( rc ) note(__LINE__, "sqlite3_initialize: %d", rc);
  rc = vfs_suite_cleanup();
  if( rc ) note(__LINE__, "cleanup before the test failed with %d", rc);
}

/* ---- file helpers --------------------------------------------------------- */

#define RW_CREATE (SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE|SQLITE_OPEN_MAIN_DB)
#define RW (SQLITE_OPEN_READWRITE|SQLITE_OPEN_MAIN_DB)

/* Opens zName through the VFS into a freshly allocated sqlite3_file;
** NULL (with *pRc set) when the open fails. */
static sqlite3_file *vfsOpen(const char *zName, int flags, int *pRc){
  sqlite3_vfs *pVfs = vfs();
  sqlite3_file *pFile = calloc(1, (size_t)pVfs->szOsFile);
  int outFlags = 0;
  if( pFile==0 ){ *pRc = SQLITE_NOMEM; return 0; }
  *pRc = pVfs->xOpen(pVfs, zName, pFile, flags, &outFlags);
  if( *pRc!=SQLITE_OK ){
    CHECK( pFile->pMethods==0 );   /* so SQLite would not call xClose */
    free(pFile);
    return 0;
  }
  CHECK_EQ( outFlags, flags );
  return pFile;
}

static int vfsClose(sqlite3_file *pFile){
  int rc = pFile->pMethods->xClose(pFile);
  free(pFile);
  return rc;
}

static int accessOf(const char *zName, int flags){
  int res = -1;
  int rc = vfs()->xAccess(vfs(), zName, flags, &res);
  if( rc!=SQLITE_OK ){
    note(__LINE__, "xAccess(%s) failed with %d", zName, rc);
    return -1;
  }
  return res;
}

/* Makes zName a file holding n bytes (0..n-1 mod 251). */
static void makeFile(const char *zName, int n){
  int rc, i;
  unsigned char *a = malloc((size_t)n);
  sqlite3_file *p = vfsOpen(zName, RW_CREATE, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( p && a ){
    for(i=0; i<n; i++) a[i] = (unsigned char)(i % 251);
    CHECK_EQ( p->pMethods->xWrite(p, a, n, 0), SQLITE_OK );
  }
  if( p ) CHECK_EQ( vfsClose(p), SQLITE_OK );
  free(a);
}

static int allZero(const unsigned char *a, int n){
  int i;
  for(i=0; i<n; i++) if( a[i] ) return 0;
  return 1;
}

/* ---- one test per VFS method ------------------------------------------------ */

/* The VFS is registered as the default, under its name. */
int vfs_test_register(void){
  sqlite3_vfs *pVfs;
  start();
  pVfs = vfs();
  CHECK( pVfs!=0 );
  if( pVfs==0 ) return finish();
  CHECK( strcmp(pVfs->zName, "hiroba")==0 );
  CHECK( sqlite3_vfs_find("hiroba")==pVfs );
  CHECK( pVfs->iVersion>=2 );
  CHECK( pVfs->mxPathname>=256 );
  CHECK( pVfs->szOsFile>=(int)sizeof(sqlite3_file) );
  return finish();
}

int vfs_test_open(void){
  int rc;
  sqlite3_int64 size = -1;
  sqlite3_file *p;
  const char *zName = dbPath();
  start();

  /* Missing, without CREATE: CANTOPEN, nothing allocated. */
  p = vfsOpen(zName, RW, &rc);
  CHECK( p==0 );
  CHECK_EQ( rc, SQLITE_CANTOPEN );
  if( p ) vfsClose(p);

  /* With CREATE: an empty file. */
  p = vfsOpen(zName, RW_CREATE, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( p ){
    CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
    CHECK_EQ( size, 0 );
    CHECK_EQ( p->pMethods->xWrite(p, "hello", 5, 0), SQLITE_OK );
    CHECK_EQ( vfsClose(p), SQLITE_OK );
  }

  /* CREATE again never truncates. */
  p = vfsOpen(zName, RW_CREATE, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( p ){
    CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
    CHECK_EQ( size, 5 );
    vfsClose(p);
  }

  /* CREATE|EXCLUSIVE on an existing file refuses. */
  p = vfsOpen(zName, RW_CREATE|SQLITE_OPEN_EXCLUSIVE, &rc);
  CHECK( p==0 );
  CHECK_EQ( rc, SQLITE_CANTOPEN );
  if( p ) vfsClose(p);

  /* Existing, without CREATE: opens. */
  p = vfsOpen(zName, RW, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( p ) vfsClose(p);

  /* Two handles on one path at once (SQLite may hold several). */
  {
    sqlite3_file *a = vfsOpen(zName, RW, &rc), *b = vfsOpen(zName, RW, &rc);
    char z[5];
    CHECK( a!=0 && b!=0 );
    if( a && b ){
      CHECK_EQ( a->pMethods->xWrite(a, "HE", 2, 0), SQLITE_OK );
      CHECK_EQ( b->pMethods->xRead(b, z, 5, 0), SQLITE_OK );
      CHECK( memcmp(z, "HEllo", 5)==0 );
    }
    if( a ) vfsClose(a);
    if( b ){
      /* Closing one leaves the other working. */
      CHECK_EQ( b->pMethods->xRead(b, z, 5, 0), SQLITE_OK );
      vfsClose(b);
    }
  }

  /* READONLY: opens, refuses writes with an I/O error. */
  p = vfsOpen(zName, SQLITE_OPEN_READONLY|SQLITE_OPEN_MAIN_DB, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( p ){
    CHECK_EQ( p->pMethods->xWrite(p, "x", 1, 0), SQLITE_IOERR_WRITE );
    CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
    CHECK_EQ( size, 5 );
    vfsClose(p);
  }

  /* Journal and WAL names open too. */
  p = vfsOpen(journalPath(), SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE|SQLITE_OPEN_MAIN_JOURNAL, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( p ) vfsClose(p);
  p = vfsOpen(walPath(), SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE|SQLITE_OPEN_WAL, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( p ) vfsClose(p);
  return finish();
}

/* A temp file SQLite opens without a name lives in memory. */
int vfs_test_open_temp(void){
  int rc, i;
  sqlite3_int64 size = -1;
  static unsigned char aBuf[100000];
  unsigned char aIn[300];
  sqlite3_file *p;
  start();
  p = vfsOpen(0, SQLITE_OPEN_TEMP_JOURNAL|SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE|
              SQLITE_OPEN_EXCLUSIVE|SQLITE_OPEN_DELETEONCLOSE, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( !p ) return finish();
  for(i=0; i<(int)sizeof(aBuf); i++) aBuf[i] = (unsigned char)(i%251);
  CHECK_EQ( p->pMethods->xWrite(p, aBuf, (int)sizeof(aBuf), 1000), SQLITE_OK );
  CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
  CHECK_EQ( size, 101000 );
  CHECK_EQ( p->pMethods->xRead(p, aIn, 100, 6000), SQLITE_OK );
  CHECK( memcmp(aIn, aBuf+5000, 100)==0 );
  memset(aIn, 0xAA, sizeof(aIn));
  CHECK_EQ( p->pMethods->xRead(p, aIn, 300, 100900), SQLITE_IOERR_SHORT_READ );
  CHECK( memcmp(aIn, aBuf+99900, 100)==0 );
  CHECK( allZero(aIn+100, 200) );
  CHECK_EQ( p->pMethods->xTruncate(p, 1010), SQLITE_OK );
  CHECK_EQ( p->pMethods->xTruncate(p, 2000), SQLITE_OK );
  CHECK_EQ( p->pMethods->xRead(p, aIn, 20, 1000), SQLITE_OK );
  CHECK( memcmp(aIn, aBuf, 10)==0 && allZero(aIn+10, 10) );
  CHECK_EQ( p->pMethods->xSync(p, SQLITE_SYNC_NORMAL), SQLITE_OK );
  CHECK_EQ( vfsClose(p), SQLITE_OK );
  return finish();
}

int vfs_test_write_read(void){
  int rc, i;
  unsigned char aOut[100], aIn[100], aHole[4096];
  static unsigned char aBig[300000], aBack[300000];
  sqlite3_file *p;
  start();
  p = vfsOpen(dbPath(), RW_CREATE, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( !p ) return finish();
  for(i=0; i<100; i++) aOut[i] = (unsigned char)(i*7 + 1);
  CHECK_EQ( p->pMethods->xWrite(p, aOut, 100, 4096), SQLITE_OK );
  memset(aIn, 0, sizeof(aIn));
  CHECK_EQ( p->pMethods->xRead(p, aIn, 100, 4096), SQLITE_OK );
  CHECK( memcmp(aIn, aOut, 100)==0 );
  /* The hole before the write reads back as zeros, in full. */
  memset(aHole, 0xAA, sizeof(aHole));
  CHECK_EQ( p->pMethods->xRead(p, aHole, 4096, 0), SQLITE_OK );
  CHECK( allZero(aHole, 4096) );
  /* Overwrite in the middle. */
  CHECK_EQ( p->pMethods->xWrite(p, "abc", 3, 4100), SQLITE_OK );
  CHECK_EQ( p->pMethods->xRead(p, aIn, 10, 4096), SQLITE_OK );
  CHECK( memcmp(aIn, aOut, 4)==0 && memcmp(aIn+4, "abc", 3)==0 && memcmp(aIn+7, aOut+7, 3)==0 );
  /* A large write and read (pages of a big transaction come this way). */
  for(i=0; i<(int)sizeof(aBig); i++) aBig[i] = (unsigned char)((i*31) % 253);
  CHECK_EQ( p->pMethods->xWrite(p, aBig, (int)sizeof(aBig), 8192), SQLITE_OK );
  CHECK_EQ( p->pMethods->xRead(p, aBack, (int)sizeof(aBack), 8192), SQLITE_OK );
  CHECK( memcmp(aBig, aBack, sizeof(aBig))==0 );
  CHECK_EQ( vfsClose(p), SQLITE_OK );

  /* Another handle sees the bytes. */
  p = vfsOpen(dbPath(), RW, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( p ){
    CHECK_EQ( p->pMethods->xRead(p, aIn, 4, 4096), SQLITE_OK );
    CHECK( memcmp(aIn, aOut, 4)==0 );
    vfsClose(p);
  }
  return finish();
}

/* A read past the end zero-fills the rest and says SHORT_READ; SQLite
** relies on the zeros. */
int vfs_test_short_read(void){
  int rc;
  unsigned char aIn[200];
  sqlite3_file *p;
  start();
  p = vfsOpen(dbPath(), RW_CREATE, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( !p ) return finish();
  /* An empty file: all zeros. */
  memset(aIn, 0xAA, sizeof(aIn));
  CHECK_EQ( p->pMethods->xRead(p, aIn, 100, 0), SQLITE_IOERR_SHORT_READ );
  CHECK( allZero(aIn, 100) );
  CHECK_EQ( p->pMethods->xWrite(p, "0123456789", 10, 0), SQLITE_OK );
  memset(aIn, 0xAA, sizeof(aIn));
  CHECK_EQ( p->pMethods->xRead(p, aIn, 200, 5), SQLITE_IOERR_SHORT_READ );
  CHECK( memcmp(aIn, "56789", 5)==0 );
  CHECK( allZero(aIn+5, 195) );
  /* Entirely past the end. */
  memset(aIn, 0xAA, sizeof(aIn));
  CHECK_EQ( p->pMethods->xRead(p, aIn, 200, 100000), SQLITE_IOERR_SHORT_READ );
  CHECK( allZero(aIn, 200) );
  /* Exactly to the end is a full read. */
  CHECK_EQ( p->pMethods->xRead(p, aIn, 10, 0), SQLITE_OK );
  CHECK( memcmp(aIn, "0123456789", 10)==0 );
  CHECK_EQ( vfsClose(p), SQLITE_OK );
  return finish();
}

int vfs_test_truncate(void){
  int rc;
  sqlite3_int64 size = -1;
  unsigned char aIn[16];
  sqlite3_file *p;
  start();
  p = vfsOpen(dbPath(), RW_CREATE, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( !p ) return finish();
  CHECK_EQ( p->pMethods->xWrite(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26, 0), SQLITE_OK );
  /* Shrink. */
  CHECK_EQ( p->pMethods->xTruncate(p, 10), SQLITE_OK );
  CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
  CHECK_EQ( size, 10 );
  memset(aIn, 0xAA, sizeof(aIn));
  CHECK_EQ( p->pMethods->xRead(p, aIn, 16, 0), SQLITE_IOERR_SHORT_READ );
  CHECK( memcmp(aIn, "ABCDEFGHIJ", 10)==0 && allZero(aIn+10, 6) );
  /* Grow: zero-extends (the cut bytes do not come back). */
  CHECK_EQ( p->pMethods->xTruncate(p, 8192), SQLITE_OK );
  CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
  CHECK_EQ( size, 8192 );
  CHECK_EQ( p->pMethods->xRead(p, aIn, 16, 4), SQLITE_OK );
  CHECK( memcmp(aIn, "EFGHIJ", 6)==0 && allZero(aIn+6, 10) );
  /* To zero. */
  CHECK_EQ( p->pMethods->xTruncate(p, 0), SQLITE_OK );
  CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
  CHECK_EQ( size, 0 );
  CHECK_EQ( vfsClose(p), SQLITE_OK );
  return finish();
}

#define BIG_SIZE (4294967296LL + 8)   /* just past 2^32 */

int vfs_test_file_size(void){
  int rc;
  sqlite3_int64 size = -1;
  sqlite3_file *p, *q;
  start();
  p = vfsOpen(dbPath(), RW_CREATE, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( !p ) return finish();
  CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
  CHECK_EQ( size, 0 );
  CHECK_EQ( p->pMethods->xWrite(p, "x", 1, 0), SQLITE_OK );
  CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
  CHECK_EQ( size, 1 );
  /* A write past the end grows the file to its end. */
  CHECK_EQ( p->pMethods->xWrite(p, "yz", 2, 65536), SQLITE_OK );
  CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
  CHECK_EQ( size, 65538 );
  /* An overwrite inside does not. */
  CHECK_EQ( p->pMethods->xWrite(p, "abc", 3, 100), SQLITE_OK );
  CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
  CHECK_EQ( size, 65538 );
  /* Past 4 GiB: offsets cross the wasm boundary as doubles, and must not
  ** wrap at 32 bits. Growing by truncate writes no data (both backends
  ** keep the file sparse), but OPFS counts the 4 GiB against the origin's
  ** quota: where that is smaller, SQLITE_FULL is the right answer and the
  ** rest of this check is skipped. */
  rc = p->pMethods->xTruncate(p, BIG_SIZE);
  if( rc!=SQLITE_FULL ){
    CHECK_EQ( rc, SQLITE_OK );
    CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
    CHECK_EQ( size, BIG_SIZE );
    CHECK_EQ( p->pMethods->xWrite(p, "end", 3, BIG_SIZE - 3), SQLITE_OK );
    {
      char z[3];
      CHECK_EQ( p->pMethods->xRead(p, z, 3, BIG_SIZE - 3), SQLITE_OK );
      CHECK( memcmp(z, "end", 3)==0 );
    }
  }
  CHECK_EQ( p->pMethods->xTruncate(p, 65538), SQLITE_OK );
  /* Another handle on the path agrees. */
  q = vfsOpen(dbPath(), RW, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( q ){
    CHECK_EQ( q->pMethods->xFileSize(q, &size), SQLITE_OK );
    CHECK_EQ( size, 65538 );
    vfsClose(q);
  }
  CHECK_EQ( vfsClose(p), SQLITE_OK );
  return finish();
}

int vfs_test_sync(void){
  int rc;
  char z[8];
  sqlite3_file *p;
  start();
  p = vfsOpen(dbPath(), RW_CREATE, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( !p ) return finish();
  CHECK_EQ( p->pMethods->xWrite(p, "durable", 7, 0), SQLITE_OK );
  CHECK_EQ( p->pMethods->xSync(p, SQLITE_SYNC_NORMAL), SQLITE_OK );
  CHECK_EQ( p->pMethods->xSync(p, SQLITE_SYNC_FULL), SQLITE_OK );
  CHECK_EQ( p->pMethods->xSync(p, SQLITE_SYNC_FULL|SQLITE_SYNC_DATAONLY), SQLITE_OK );
  /* Syncing an empty file is fine too. */
  CHECK_EQ( p->pMethods->xTruncate(p, 0), SQLITE_OK );
  CHECK_EQ( p->pMethods->xSync(p, SQLITE_SYNC_NORMAL), SQLITE_OK );
  CHECK_EQ( p->pMethods->xWrite(p, "durable", 7, 0), SQLITE_OK );
  CHECK_EQ( p->pMethods->xSync(p, SQLITE_SYNC_NORMAL), SQLITE_OK );
  CHECK_EQ( vfsClose(p), SQLITE_OK );
  p = vfsOpen(dbPath(), RW, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( p ){
    CHECK_EQ( p->pMethods->xRead(p, z, 7, 0), SQLITE_OK );
    CHECK( memcmp(z, "durable", 7)==0 );
    vfsClose(p);
  }
  return finish();
}

int vfs_test_delete(void){
  int rc;
  sqlite3_vfs *pVfs;
  sqlite3_file *p;
  start();
  pVfs = vfs();
  makeFile(journalPath(), 3000);
  CHECK_EQ( accessOf(journalPath(), SQLITE_ACCESS_EXISTS), 1 );
  CHECK_EQ( pVfs->xDelete(pVfs, journalPath(), 0), SQLITE_OK );
  CHECK_EQ( accessOf(journalPath(), SQLITE_ACCESS_EXISTS), 0 );
  /* Gone: it no longer opens without CREATE, and a second delete says so. */
  p = vfsOpen(journalPath(), SQLITE_OPEN_READWRITE|SQLITE_OPEN_MAIN_JOURNAL, &rc);
  CHECK( p==0 );
  CHECK_EQ( rc, SQLITE_CANTOPEN );
  if( p ) vfsClose(p);
  CHECK_EQ( pVfs->xDelete(pVfs, journalPath(), 1), SQLITE_IOERR_DELETE_NOENT );
  /* Created again, it starts empty. */
  p = vfsOpen(journalPath(), SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE|SQLITE_OPEN_MAIN_JOURNAL, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( p ){
    sqlite3_int64 size = -1;
    CHECK_EQ( p->pMethods->xFileSize(p, &size), SQLITE_OK );
    CHECK_EQ( size, 0 );
    vfsClose(p);
  }

  /* Deleting one file leaves the others alone. */
  makeFile(dbPath(), 100);
  makeFile(walPath(), 100);
  CHECK_EQ( pVfs->xDelete(pVfs, walPath(), 1), SQLITE_OK );
  CHECK_EQ( accessOf(dbPath(), SQLITE_ACCESS_EXISTS), 1 );
  CHECK_EQ( accessOf(walPath(), SQLITE_ACCESS_EXISTS), 0 );

  /* DELETEONCLOSE removes the file with the close. */
  p = vfsOpen(walPath(), SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE|SQLITE_OPEN_WAL|
              SQLITE_OPEN_DELETEONCLOSE, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( p ){
    CHECK_EQ( p->pMethods->xWrite(p, "temp", 4, 0), SQLITE_OK );
    CHECK_EQ( accessOf(walPath(), SQLITE_ACCESS_EXISTS), 1 );
    CHECK_EQ( vfsClose(p), SQLITE_OK );
  }
  CHECK_EQ( accessOf(walPath(), SQLITE_ACCESS_EXISTS), 0 );
  return finish();
}

int vfs_test_access(void){
  start();
  /* Nothing there yet. */
  CHECK_EQ( accessOf(dbPath(), SQLITE_ACCESS_EXISTS), 0 );
  CHECK_EQ( accessOf(dbPath(), SQLITE_ACCESS_READWRITE), 0 );
  CHECK_EQ( accessOf(dbPath(), SQLITE_ACCESS_READ), 0 );
  CHECK_EQ( accessOf(walPath(), SQLITE_ACCESS_EXISTS), 0 );
  /* A file with content: every flag says yes. */
  makeFile(dbPath(), 512);
  CHECK_EQ( accessOf(dbPath(), SQLITE_ACCESS_EXISTS), 1 );
  CHECK_EQ( accessOf(dbPath(), SQLITE_ACCESS_READWRITE), 1 );
  CHECK_EQ( accessOf(dbPath(), SQLITE_ACCESS_READ), 1 );
  /* Only that one. */
  CHECK_EQ( accessOf(journalPath(), SQLITE_ACCESS_EXISTS), 0 );
  CHECK_EQ( accessOf(walPath(), SQLITE_ACCESS_EXISTS), 0 );
  return finish();
}

int vfs_test_full_pathname(void){
  char zOut[600], zLong[700];
  const char *zIn = dbPath();
  sqlite3_vfs *pVfs;
  start();
  pVfs = vfs();
  /* Names are used as given (a pool name in OPFS, a path in Node). */
  CHECK_EQ( pVfs->xFullPathname(pVfs, zIn, (int)sizeof(zOut), zOut), SQLITE_OK );
  CHECK( strcmp(zOut, zIn)==0 );
  CHECK_EQ( pVfs->xFullPathname(pVfs, "vfs-suite.db", (int)sizeof(zOut), zOut), SQLITE_OK );
  CHECK( strcmp(zOut, "vfs-suite.db")==0 );
  CHECK_EQ( pVfs->xFullPathname(pVfs, zIn, (int)strlen(zIn)+1, zOut), SQLITE_OK );
  CHECK_EQ( pVfs->xFullPathname(pVfs, zIn, (int)strlen(zIn), zOut), SQLITE_CANTOPEN );
  memset(zLong, 'a', sizeof(zLong)-1);
  zLong[sizeof(zLong)-1] = 0;
  CHECK_EQ( pVfs->xFullPathname(pVfs, zLong, pVfs->mxPathname+1, zOut), SQLITE_CANTOPEN );
  return finish();
}

/* Randomness comes from crypto.getRandomValues in wasm. */
int vfs_test_randomness(void){
  char a[64], b[64];
  static char aBig[1000];
  int i, nZero = 0;
  sqlite3_vfs *pVfs;
  start();
  pVfs = vfs();
  memset(a, 0, sizeof(a));
  memset(b, 0, sizeof(b));
  CHECK_EQ( pVfs->xRandomness(pVfs, 64, a), 64 );
  CHECK_EQ( pVfs->xRandomness(pVfs, 64, b), 64 );
  CHECK( memcmp(a, b, 64)!=0 );
  memset(aBig, 0, sizeof(aBig));
  CHECK_EQ( pVfs->xRandomness(pVfs, 1000, aBig), 1000 );   /* > getentropy's 256 */
  for(i=744; i<1000; i++) nZero += aBig[i]==0;
  CHECK( nZero<32 );
  CHECK_EQ( pVfs->xRandomness(pVfs, 0, a), 0 );
  return finish();
}

/* xCurrentTimeInt64 (and xCurrentTime, xSleep): the clock is checked
** against time(), never timed. */
int vfs_test_current_time(void){
  static const sqlite3_int64 unixEpochMs = 24405875*(sqlite3_int64)8640000;
  sqlite3_int64 iNow = 0, iExpect;
  double rNow = 0;
  sqlite3_vfs *pVfs;
  start();
  pVfs = vfs();
  iExpect = unixEpochMs + 1000*(sqlite3_int64)time(0);
  CHECK_EQ( pVfs->xCurrentTimeInt64(pVfs, &iNow), SQLITE_OK );
  /* Same clock, so a generous margin: this checks the epoch arithmetic. */
  CHECK( iNow>=iExpect-60000 && iNow<=iExpect+60000 );
  /* After 2024-01-01 (unix 1704067200). */
  CHECK( iNow>unixEpochMs + 1704067200000LL );
  CHECK_EQ( pVfs->xCurrentTime(pVfs, &rNow), SQLITE_OK );
  CHECK( rNow>iNow/86400000.0-1.0 && rNow<iNow/86400000.0+1.0 );
  CHECK_EQ( pVfs->xSleep(pVfs, 1000), 1000 );
  CHECK_EQ( pVfs->xSleep(pVfs, 0), 0 );
  return finish();
}

/* xGetLastError after a failed open: the message names the file, the
** number is the storage code made positive (3: no such file). */
int vfs_test_last_error(void){
  char zBuf[600], zSmall[8];
  int rc;
  sqlite3_vfs *pVfs;
  sqlite3_file *p;
  start();
  pVfs = vfs();
  p = vfsOpen(dbPath(), RW, &rc);
  CHECK( p==0 );
  CHECK_EQ( rc, SQLITE_CANTOPEN );
  if( p ) vfsClose(p);
  CHECK_EQ( pVfs->xGetLastError(pVfs, (int)sizeof(zBuf), zBuf), 0 );
  if( strstr(zBuf, "vfs-suite.db")==0 ) note(__LINE__, "message lacks the file name: %s", zBuf);
  CHECK_EQ( pVfs->xGetLastError(pVfs, 0, 0), -STORAGE_ENOENT );
  CHECK_EQ( pVfs->xGetLastError(pVfs, (int)sizeof(zSmall), zSmall), 1 );   /* truncated */
  CHECK_EQ( strlen(zSmall), sizeof(zSmall)-1 );

  /* Through SQLite: the open fails, and says why. */
  {
    sqlite3 *db = 0;
    rc = sqlite3_open_v2(dbPath(), &db, SQLITE_OPEN_READWRITE, 0);
    CHECK_EQ( rc, SQLITE_CANTOPEN );
    CHECK_EQ( sqlite3_system_errno(db), -STORAGE_ENOENT );
    sqlite3_close(db);
  }
  /* A successful call afterwards does not invent an error. */
  makeFile(dbPath(), 10);
  CHECK_EQ( accessOf(dbPath(), SQLITE_ACCESS_EXISTS), 1 );
  return finish();
}

/* xLock, xUnlock, xCheckReservedLock: the rules of os_unix.c between two
** handles of one path (locks are kept in memory, per path). */
int vfs_test_locks(void){
  int rc, res = -1;
  sqlite3_file *a, *b;
  const sqlite3_io_methods *m;
  start();
  a = vfsOpen(dbPath(), RW_CREATE, &rc);
  b = vfsOpen(dbPath(), RW_CREATE, &rc);
  CHECK( a!=0 && b!=0 );
  if( !a || !b ){
    if( a ) vfsClose(a);
    if( b ) vfsClose(b);
    return finish();
  }
  m = a->pMethods;
  CHECK_EQ( m->xCheckReservedLock(a, &res), SQLITE_OK );
  CHECK_EQ( res, 0 );
  CHECK_EQ( m->xLock(a, SQLITE_LOCK_SHARED), SQLITE_OK );
  CHECK_EQ( m->xLock(b, SQLITE_LOCK_SHARED), SQLITE_OK );
  CHECK_EQ( m->xCheckReservedLock(b, &res), SQLITE_OK );
  CHECK_EQ( res, 0 );
  CHECK_EQ( m->xLock(a, SQLITE_LOCK_RESERVED), SQLITE_OK );
  CHECK_EQ( m->xCheckReservedLock(b, &res), SQLITE_OK );
  CHECK_EQ( res, 1 );
  CHECK_EQ( m->xLock(b, SQLITE_LOCK_RESERVED), SQLITE_BUSY );
  /* b still reads: a waits in PENDING, which keeps new readers out. */
  CHECK_EQ( m->xLock(a, SQLITE_LOCK_EXCLUSIVE), SQLITE_BUSY );
  CHECK_EQ( m->xFileControl(a, SQLITE_FCNTL_LOCKSTATE, &res), SQLITE_OK );
  CHECK_EQ( res, SQLITE_LOCK_PENDING );
  CHECK_EQ( m->xUnlock(b, SQLITE_LOCK_NONE), SQLITE_OK );
  CHECK_EQ( m->xLock(b, SQLITE_LOCK_SHARED), SQLITE_BUSY );
  CHECK_EQ( m->xLock(a, SQLITE_LOCK_EXCLUSIVE), SQLITE_OK );
  CHECK_EQ( m->xFileControl(a, SQLITE_FCNTL_LOCKSTATE, &res), SQLITE_OK );
  CHECK_EQ( res, SQLITE_LOCK_EXCLUSIVE );
  CHECK_EQ( m->xLock(b, SQLITE_LOCK_SHARED), SQLITE_BUSY );
  CHECK_EQ( m->xUnlock(a, SQLITE_LOCK_SHARED), SQLITE_OK );
  CHECK_EQ( m->xCheckReservedLock(b, &res), SQLITE_OK );
  CHECK_EQ( res, 0 );
  CHECK_EQ( m->xLock(b, SQLITE_LOCK_SHARED), SQLITE_OK );
  CHECK_EQ( m->xUnlock(a, SQLITE_LOCK_NONE), SQLITE_OK );
  CHECK_EQ( m->xLock(b, SQLITE_LOCK_EXCLUSIVE), SQLITE_OK );
  CHECK_EQ( m->xUnlock(b, SQLITE_LOCK_NONE), SQLITE_OK );
  CHECK_EQ( m->xLock(a, SQLITE_LOCK_SHARED), SQLITE_OK );
  /* Unlocking to a level already held is a no-op. */
  CHECK_EQ( m->xUnlock(a, SQLITE_LOCK_SHARED), SQLITE_OK );
  /* Closing with a lock held releases it. */
  vfsClose(a);
  CHECK_EQ( m->xLock(b, SQLITE_LOCK_SHARED), SQLITE_OK );
  CHECK_EQ( m->xLock(b, SQLITE_LOCK_EXCLUSIVE), SQLITE_OK );
  vfsClose(b);

  /* Through SQLite: a second connection waits while the first holds its
  ** exclusive lock, then gets in. */
  {
    sqlite3 *db1 = 0, *db2 = 0;
    CHECK_EQ( sqlite3_open_v2(dbPath(), &db1, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0), SQLITE_OK );
    CHECK_EQ( sqlite3_exec(db1, "PRAGMA locking_mode=EXCLUSIVE; CREATE TABLE t(x); "
                                "INSERT INTO t VALUES(1)", 0, 0, 0), SQLITE_OK );
    CHECK_EQ( sqlite3_open_v2(dbPath(), &db2, SQLITE_OPEN_READWRITE, 0), SQLITE_OK );
    CHECK_EQ( sqlite3_exec(db2, "SELECT * FROM t", 0, 0, 0), SQLITE_BUSY );
    CHECK_EQ( sqlite3_close(db1), SQLITE_OK );
    CHECK_EQ( sqlite3_exec(db2, "SELECT * FROM t", 0, 0, 0), SQLITE_OK );
    CHECK_EQ( sqlite3_close(db2), SQLITE_OK );
  }
  return finish();
}

/* xSectorSize, xDeviceCharacteristics and xFileControl. */
int vfs_test_sector_device(void){
  int rc, dc;
  char *zName = 0;
  sqlite3_file *p;
  start();
  p = vfsOpen(dbPath(), RW_CREATE, &rc);
  CHECK_EQ( rc, SQLITE_OK );
  if( !p ) return finish();
  CHECK_EQ( p->pMethods->xSectorSize(p), 4096 );
  dc = p->pMethods->xDeviceCharacteristics(p);
  CHECK( dc & SQLITE_IOCAP_POWERSAFE_OVERWRITE );
  CHECK( dc & SQLITE_IOCAP_SUBPAGE_READ );
  CHECK( !(dc & (SQLITE_IOCAP_SAFE_APPEND|SQLITE_IOCAP_SEQUENTIAL|
                 SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN|SQLITE_IOCAP_ATOMIC)) );
  CHECK_EQ( p->pMethods->iVersion, 1 );
  CHECK_EQ( p->pMethods->xFileControl(p, 0x7fff, 0), SQLITE_NOTFOUND );
  CHECK_EQ( p->pMethods->xFileControl(p, SQLITE_FCNTL_VFSNAME, &zName), SQLITE_OK );
  CHECK( zName && strcmp(zName, "hiroba")==0 );
  sqlite3_free(zName);
  CHECK_EQ( vfsClose(p), SQLITE_OK );
  return finish();
}

/* ---- SQL through SQLite ------------------------------------------------------ */

static int exec(sqlite3 *db, const char *zSql, int iLine){
  int rc = sqlite3_exec(db, zSql, 0, 0, 0);
  if( rc!=SQLITE_OK ) note(iLine, "sql error %d (%s) in: %s", rc, sqlite3_errmsg(db), zSql);
  return rc;
}
#define EXEC(db, z) exec(db, z, __LINE__)

/* The text of the first column of the first row, into a static buffer. */
static const char *queryText(sqlite3 *db, const char *zSql){
  static char zOut[256];
  sqlite3_stmt *pStmt = 0;
  zOut[0] = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_text(pStmt, 0) ){
    snprintf(zOut, sizeof(zOut), "%s", (const char*)sqlite3_column_text(pStmt, 0));
  }else{
    snprintf(zOut, sizeof(zOut), "error: %s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(pStmt);
  return zOut;
}

static long long queryInt(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  long long v = -1;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    v = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  return v;
}

/* Opens the suite's database in a journal mode; "wal" runs in exclusive
** locking (the only way WAL works without xShm), set before the first
** read. NULL on failure (recorded). */
static sqlite3 *openDb(const char *zJournal, int bExclusive){
  sqlite3 *db = 0;
  char zSql[100];
  const char *zGot;
  int rc = sqlite3_open_v2(dbPath(), &db, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0);
  if( rc ){
    note(__LINE__, "open %s: %d (%s)", dbPath(), rc, db ? sqlite3_errmsg(db) : "");
    sqlite3_close(db);
    return 0;
  }
  sqlite3_extended_result_codes(db, 1);
  snprintf(zSql, sizeof(zSql), "PRAGMA locking_mode=%s", bExclusive ? "EXCLUSIVE" : "NORMAL");
  EXEC(db, zSql);
  snprintf(zSql, sizeof(zSql), "PRAGMA journal_mode=%s", zJournal);
  zGot = queryText(db, zSql);
  if( strcmp(zGot, zJournal)!=0 ) note(__LINE__, "%s gave %s", zSql, zGot);
  EXEC(db, "PRAGMA synchronous=FULL");
  return db;
}

#define SUM_SQL "SELECT sum(n) + sum(length(v)) FROM t"

/* nRow rows in one transaction, with an index so pages split. */
static void insertRows(sqlite3 *db, int nRow){
  sqlite3_stmt *pStmt = 0;
  int i, rc = SQLITE_OK;
  EXEC(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INT)");
  EXEC(db, "CREATE INDEX t_n ON t(n)");
  EXEC(db, "BEGIN");
  CHECK_EQ( sqlite3_prepare_v2(db, "INSERT INTO t(v, n) VALUES(?1, ?2)", -1, &pStmt, 0), SQLITE_OK );
  for(i=0; i<nRow && rc==SQLITE_OK && pStmt; i++){
    char zV[64];
    snprintf(zV, sizeof(zV), "row %d with some padding text", i);
    sqlite3_bind_text(pStmt, 1, zV, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(pStmt, 2, (i*7919) % 10007);
    rc = sqlite3_step(pStmt)==SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_reset(pStmt);
  }
  if( rc ) note(__LINE__, "insert failed with %d (%s)", rc, sqlite3_errmsg(db));
  sqlite3_finalize(pStmt);
  EXEC(db, "COMMIT");
}

/* The committed rows, and nothing else, are there; the database is sound. */
static void checkContent(sqlite3 *db, long long nRow, long long iSum, int iLine){
  const char *z;
  long long n = queryInt(db, "SELECT count(*) FROM t");
  if( n!=nRow ) note(iLine, "count(*) is %lld, expected %lld", n, nRow);
  n = queryInt(db, SUM_SQL);
  if( n!=iSum ) note(iLine, "checksum is %lld, expected %lld", n, iSum);
  z = queryText(db, "PRAGMA integrity_check");
  if( strcmp(z, "ok")!=0 ) note(iLine, "integrity_check: %s", z);
}

/* WAL in exclusive locking (how the engine runs): 10,000 rows in one
** transaction, close (checkpoint, WAL removed), reopen, count, check. */
int vfs_test_sql_wal_reopen(void){
  const int nRow = 10000;
  long long iSum;
  sqlite3 *db;
  start();
  db = openDb("wal", 1);
  if( !db ) return finish();
  insertRows(db, nRow);
  iSum = queryInt(db, SUM_SQL);
  CHECK( iSum>0 );
  checkContent(db, nRow, iSum, __LINE__);
  /* The commit went to the WAL file. */
  CHECK_EQ( accessOf(walPath(), SQLITE_ACCESS_EXISTS), 1 );
  CHECK_EQ( sqlite3_close(db), SQLITE_OK );
  /* Checkpointed into the database and the WAL removed at close. */
  CHECK_EQ( accessOf(walPath(), SQLITE_ACCESS_EXISTS), 0 );
  CHECK_EQ( accessOf(dbPath(), SQLITE_ACCESS_EXISTS), 1 );

  db = openDb("wal", 1);
  if( !db ) return finish();
  checkContent(db, nRow, iSum, __LINE__);
  /* More after the reopen, then once more. */
  EXEC(db, "INSERT INTO t(v, n) VALUES('after reopen', 1)");
  CHECK_EQ( sqlite3_close(db), SQLITE_OK );
  db = openDb("wal", 1);
  if( !db ) return finish();
  checkContent(db, nRow + 1, iSum + 1 + (long long)strlen("after reopen"), __LINE__);
  CHECK_EQ( sqlite3_close(db), SQLITE_OK );
  return finish();
}

/* A transaction big enough to spill pages into the database file before
** it commits (tiny cache), then rolled back: the old data stays. */
static void rollbackTest(const char *zJournal, int bExclusive){
  const int nRow = 3000;
  long long iSum;
  sqlite3 *db = openDb(zJournal, bExclusive);
  if( !db ) return;
  insertRows(db, nRow);
  iSum = queryInt(db, SUM_SQL);
  EXEC(db, "PRAGMA cache_size=5");
  EXEC(db, "BEGIN");
  EXEC(db, "UPDATE t SET v = v || ' changed', n = n + 1");
  EXEC(db, "DELETE FROM t WHERE id % 3 = 0");
  CHECK( queryInt(db, "SELECT count(*) FROM t")<nRow );
  /* The journal (or WAL) holds what undoes the change. */
  CHECK_EQ( accessOf(strcmp(zJournal, "wal")==0 ? walPath() : journalPath(),
                     SQLITE_ACCESS_EXISTS), 1 );
  EXEC(db, "ROLLBACK");
  checkContent(db, nRow, iSum, __LINE__);
  /* A failed statement inside a transaction rolls back alone. */
  EXEC(db, "BEGIN");
  EXEC(db, "INSERT INTO t(v, n) VALUES('kept', 1)");
  CHECK_EQ( sqlite3_exec(db, "INSERT INTO t(id, v, n) VALUES(1, 'dup', 1)", 0, 0, 0),
            SQLITE_CONSTRAINT_PRIMARYKEY );
  EXEC(db, "COMMIT");
  iSum += 1 + (long long)strlen("kept");
  checkContent(db, nRow + 1, iSum, __LINE__);
  CHECK_EQ( sqlite3_close(db), SQLITE_OK );
  /* After close: a DELETE journal is gone, and so is the WAL. */
  if( strcmp(zJournal, "delete")==0 ){
    CHECK_EQ( accessOf(journalPath(), SQLITE_ACCESS_EXISTS), 0 );
  }
  CHECK_EQ( accessOf(walPath(), SQLITE_ACCESS_EXISTS), 0 );
  db = openDb(zJournal, bExclusive);
  if( !db ) return;
  checkContent(db, nRow + 1, iSum, __LINE__);
  CHECK_EQ( sqlite3_close(db), SQLITE_OK );
}

int vfs_test_sql_rollback_wal(void){
  start();
  rollbackTest("wal", 1);
  return finish();
}

/* The -journal file: DELETE mode, normal locking (deleted after every
** transaction: on OPFS that is an emptied pool file). */
int vfs_test_sql_rollback_journal(void){
  start();
  rollbackTest("delete", 0);
  return finish();
}

/* A temp table and a big sort stay in memory (SQLITE_TEMP_STORE=3), so the
** pool's three files are all SQLite needs; SQL functions that use the
** VFS's clock and randomness work. */
int vfs_test_sql_temp_time_random(void){
  sqlite3 *db;
  start();
  db = openDb("wal", 1);
  if( !db ) return finish();
  EXEC(db, "CREATE TEMP TABLE x(a); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
           "SELECT i+1 FROM c WHERE i<20000) INSERT INTO x SELECT random() FROM c");
  CHECK_EQ( queryInt(db, "SELECT count(*) FROM (SELECT a FROM x ORDER BY a)"), 20000 );
  CHECK_EQ( queryInt(db, "SELECT count(DISTINCT a) > 19990 FROM x"), 1 );
  /* No julianday('now') here: the build leaves SQLite's date functions
  ** out (Makefile SQLITE_OMIT); xCurrentTime has its own test. */
  CHECK_EQ( queryInt(db, "SELECT length(randomblob(32))"), 32 );
  CHECK_EQ( queryInt(db, "SELECT randomblob(16) != randomblob(16)"), 1 );
  CHECK( strcmp(queryText(db, "PRAGMA main.integrity_check"), "ok")==0 );
  CHECK_EQ( sqlite3_close(db), SQLITE_OK );
  return finish();
}
