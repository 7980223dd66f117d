/*
** test_vfs.c -- the "hiroba" VFS (vfs.c) over storage_posix.c: one test per
** VFS method, called directly through the sqlite3_vfs SQLite registered,
** then SQL through real SQLite: bulk inserts, reopen and integrity_check in
** WAL (exclusive locking), DELETE and TRUNCATE journals, rollbacks, hot
** journal and WAL recovery from a copy taken mid-transaction, and a second
** process kept out by the storage lock.
**
** Everything happens in a fresh mkdtemp() directory, removed at the end.
** The binary re-executes itself (argv[1] == "--child") for the
** second-process test.
*/
#include "check.h"
#include "sqlite3.h"
#include "storage.h"
#include "vfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char zDir[256];       /* the temp directory of this run */
static char *zSelf;          /* argv[0], for the second-process test */

/* zDir/zName into a static rotating buffer (enough for a few at once). */
static const char *path(const char *zName){
  static char aBuf[4][512];
  static int i = 0;
  char *z = aBuf[i++ % 4];
  snprintf(z, 512, "%s/%s", zDir, zName);
  return z;
}

static int fileExists(const char *zPath){
  struct stat st;
  return stat(zPath, &st)==0;
}

static long long fileSize(const char *zPath){
  struct stat st;
  return stat(zPath, &st)==0 ? (long long)st.st_size : -1;
}

/* Copies a file byte for byte (no-op when the source is missing). */
static void copyFile(const char *zFrom, const char *zTo){
  char aBuf[65536];
  ssize_t n;
  int in = open(zFrom, O_RDONLY), out;
  if( in<0 ) return;
  out = open(zTo, O_WRONLY|O_CREAT|O_TRUNC, 0644);
  while( out>=0 && (n = read(in, aBuf, sizeof(aBuf)))>0 ){
    if( write(out, aBuf, (size_t)n)!=n ) break;
  }
  if( out>=0 ) close(out);
  close(in);
}

/* Opens a file through the VFS into a freshly allocated sqlite3_file. */
static sqlite3_file *vfsOpen(sqlite3_vfs *pVfs, const char *zName, int flags, int *pRc){
  sqlite3_file *pFile = calloc(1, (size_t)pVfs->szOsFile);
  int outFlags = 0;
  *pRc = pVfs->xOpen(pVfs, zName, pFile, flags, &outFlags);
  if( *pRc!=SQLITE_OK ){
    CHECK( pFile->pMethods==0 );   /* so SQLite would not call xClose */
    free(pFile);
    return 0;
  }
  CHECK( outFlags==flags );
  return pFile;
}

static int vfsClose(sqlite3_file *pFile){
  int rc = pFile->pMethods->xClose(pFile);
  free(pFile);
  return rc;
}

#define RW_CREATE (SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE|SQLITE_OPEN_MAIN_DB)

/* ---- one test per VFS method ----------------------------------------------- */

static void test_register(void){
  sqlite3_vfs *pVfs = sqlite3_vfs_find(0);
  CHECK( pVfs!=0 && strcmp(pVfs->zName, "hiroba")==0 );
  CHECK( vfs_register()==SQLITE_OK );           /* again: harmless */
  CHECK( sqlite3_vfs_find(0)==pVfs );
  CHECK( sqlite3_vfs_find("hiroba")==pVfs );
  CHECK( pVfs->iVersion>=2 && pVfs->mxPathname>=256 );
}

static void test_open(sqlite3_vfs *pVfs){
  int rc;
  sqlite3_file *p;
  const char *zName = path("open.bin");

  /* Missing, without CREATE: CANTOPEN, and the reason is kept. */
  p = vfsOpen(pVfs, zName, SQLITE_OPEN_READWRITE|SQLITE_OPEN_MAIN_DB, &rc);
  CHECK( p==0 && rc==SQLITE_CANTOPEN );
  CHECK( !fileExists(zName) );

  p = vfsOpen(pVfs, zName, RW_CREATE, &rc);
  CHECK( p!=0 && rc==SQLITE_OK );
  CHECK( fileExists(zName) && fileSize(zName)==0 );
  if( p ) CHECK( vfsClose(p)==SQLITE_OK );

  /* CREATE|EXCLUSIVE on an existing file refuses. */
  p = vfsOpen(pVfs, zName, RW_CREATE|SQLITE_OPEN_EXCLUSIVE, &rc);
  CHECK( p==0 && rc==SQLITE_CANTOPEN );

  /* Existing file, without CREATE: opens. */
  p = vfsOpen(pVfs, zName, SQLITE_OPEN_READWRITE|SQLITE_OPEN_MAIN_DB, &rc);
  CHECK( p!=0 && rc==SQLITE_OK );
  if( p ) vfsClose(p);

  /* READONLY: opens, refuses writes with an I/O error. */
  p = vfsOpen(pVfs, zName, SQLITE_OPEN_READONLY|SQLITE_OPEN_MAIN_DB, &rc);
  CHECK( p!=0 );
  if( p ){
    CHECK( p->pMethods->xWrite(p, "x", 1, 0)==SQLITE_IOERR_WRITE );
    vfsClose(p);
  }
  CHECK( fileSize(zName)==0 );
  unlink(zName);
}

static void test_write_read(sqlite3_vfs *pVfs){
  int rc, i;
  unsigned char aOut[100], aIn[100], aHole[4096];
  sqlite3_file *p = vfsOpen(pVfs, path("rw.bin"), RW_CREATE, &rc);
  if( !p ){ CHECK( 0 ); return; }
  for(i=0; i<100; i++) aOut[i] = (unsigned char)(i*7 + 1);
  CHECK( p->pMethods->xWrite(p, aOut, 100, 4096)==SQLITE_OK );
  memset(aIn, 0, sizeof(aIn));
  CHECK( p->pMethods->xRead(p, aIn, 100, 4096)==SQLITE_OK );
  CHECK( memcmp(aIn, aOut, 100)==0 );
  /* The hole before the write reads back as zeros, in full. */
  memset(aHole, 0xAA, sizeof(aHole));
  CHECK( p->pMethods->xRead(p, aHole, 4096, 0)==SQLITE_OK );
  for(i=0; i<4096 && aHole[i]==0; i++){}
  CHECK( i==4096 );
  /* Overwrite in the middle. */
  CHECK( p->pMethods->xWrite(p, "abc", 3, 4100)==SQLITE_OK );
  CHECK( p->pMethods->xRead(p, aIn, 10, 4096)==SQLITE_OK );
  CHECK( memcmp(aIn, aOut, 4)==0 && memcmp(aIn+4, "abc", 3)==0 && memcmp(aIn+7, aOut+7, 3)==0 );
  vfsClose(p);
  unlink(path("rw.bin"));
}

static void test_short_read(sqlite3_vfs *pVfs){
  int rc, i, nZero;
  unsigned char aIn[200];
  sqlite3_file *p = vfsOpen(pVfs, path("short.bin"), RW_CREATE, &rc);
  if( !p ){ CHECK( 0 ); return; }
  CHECK( p->pMethods->xWrite(p, "0123456789", 10, 0)==SQLITE_OK );
  memset(aIn, 0xAA, sizeof(aIn));
  CHECK( p->pMethods->xRead(p, aIn, 200, 5)==SQLITE_IOERR_SHORT_READ );
  CHECK( memcmp(aIn, "56789", 5)==0 );
  for(i=5, nZero=0; i<200; i++) nZero += aIn[i]==0;
  CHECK( nZero==195 );
  /* Entirely past the end: all zeros. */
  memset(aIn, 0xAA, sizeof(aIn));
  CHECK( p->pMethods->xRead(p, aIn, 200, 100000)==SQLITE_IOERR_SHORT_READ );
  for(i=0, nZero=0; i<200; i++) nZero += aIn[i]==0;
  CHECK( nZero==200 );
  vfsClose(p);
  unlink(path("short.bin"));
}

static void test_truncate_size_sync(sqlite3_vfs *pVfs){
  int rc, i;
  sqlite3_int64 size = -1;
  unsigned char aIn[16];
  sqlite3_file *p = vfsOpen(pVfs, path("trunc.bin"), RW_CREATE, &rc);
  if( !p ){ CHECK( 0 ); return; }
  CHECK( p->pMethods->xFileSize(p, &size)==SQLITE_OK && size==0 );
  CHECK( p->pMethods->xWrite(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26, 0)==SQLITE_OK );
  CHECK( p->pMethods->xFileSize(p, &size)==SQLITE_OK && size==26 );
  CHECK( p->pMethods->xTruncate(p, 10)==SQLITE_OK );
  CHECK( p->pMethods->xFileSize(p, &size)==SQLITE_OK && size==10 );
  CHECK( fileSize(path("trunc.bin"))==10 );
  /* Growing by truncate zero-extends. */
  CHECK( p->pMethods->xTruncate(p, 8192)==SQLITE_OK );
  CHECK( p->pMethods->xFileSize(p, &size)==SQLITE_OK && size==8192 );
  CHECK( p->pMethods->xRead(p, aIn, 16, 4)==SQLITE_OK );
  CHECK( memcmp(aIn, "EFGHIJ", 6)==0 );
  for(i=6; i<16 && aIn[i]==0; i++){}
  CHECK( i==16 );
  CHECK( p->pMethods->xSync(p, SQLITE_SYNC_NORMAL)==SQLITE_OK );
  CHECK( p->pMethods->xSync(p, SQLITE_SYNC_FULL|SQLITE_SYNC_DATAONLY)==SQLITE_OK );
  vfsClose(p);
  unlink(path("trunc.bin"));
}

static void test_delete_access(sqlite3_vfs *pVfs){
  int rc, res = -1;
  const char *zName = path("del.bin");
  sqlite3_file *p = vfsOpen(pVfs, zName, RW_CREATE, &rc);
  if( p ) vfsClose(p);
  CHECK( pVfs->xAccess(pVfs, zName, SQLITE_ACCESS_EXISTS, &res)==SQLITE_OK && res==1 );
  CHECK( pVfs->xAccess(pVfs, zName, SQLITE_ACCESS_READWRITE, &res)==SQLITE_OK && res==1 );
  CHECK( pVfs->xDelete(pVfs, zName, 0)==SQLITE_OK );
  CHECK( !fileExists(zName) );
  CHECK( pVfs->xAccess(pVfs, zName, SQLITE_ACCESS_EXISTS, &res)==SQLITE_OK && res==0 );
  CHECK( pVfs->xAccess(pVfs, zName, SQLITE_ACCESS_READWRITE, &res)==SQLITE_OK && res==0 );
  CHECK( pVfs->xDelete(pVfs, zName, 1)==SQLITE_IOERR_DELETE_NOENT );

  /* DELETEONCLOSE removes the file with the last close. */
  p = vfsOpen(pVfs, zName, RW_CREATE|SQLITE_OPEN_DELETEONCLOSE, &rc);
  CHECK( p!=0 && fileExists(zName) );
  if( p ) CHECK( vfsClose(p)==SQLITE_OK );
  CHECK( !fileExists(zName) );
}

static void test_full_pathname(sqlite3_vfs *pVfs){
  char zOut[600], zLong[700];
  const char *zIn = "some/dir/name.db";
  CHECK( pVfs->xFullPathname(pVfs, zIn, (int)sizeof(zOut), zOut)==SQLITE_OK );
  CHECK( strcmp(zOut, zIn)==0 );
  CHECK( pVfs->xFullPathname(pVfs, zIn, (int)strlen(zIn)+1, zOut)==SQLITE_OK );
  CHECK( pVfs->xFullPathname(pVfs, zIn, (int)strlen(zIn), zOut)==SQLITE_CANTOPEN );
  memset(zLong, 'a', sizeof(zLong)-1);
  zLong[sizeof(zLong)-1] = 0;
  CHECK( pVfs->xFullPathname(pVfs, zLong, pVfs->mxPathname+1, zOut)==SQLITE_CANTOPEN );
}

static void test_randomness(sqlite3_vfs *pVfs){
  char a[64], b[64], aBig[1000];
  int i, nZero = 0;
  memset(a, 0, sizeof(a));
  memset(b, 0, sizeof(b));
  CHECK( pVfs->xRandomness(pVfs, 64, a)==64 );
  CHECK( pVfs->xRandomness(pVfs, 64, b)==64 );
  CHECK( memcmp(a, b, 64)!=0 );
  memset(aBig, 0, sizeof(aBig));
  CHECK( pVfs->xRandomness(pVfs, 1000, aBig)==1000 );   /* > getentropy's 256 */
  for(i=744; i<1000; i++) nZero += aBig[i]==0;
  CHECK( nZero<32 );
}

static void test_time_sleep(sqlite3_vfs *pVfs){
  sqlite3_int64 iNow = 0, iExpect = 24405875*(sqlite3_int64)8640000 + 1000*(sqlite3_int64)time(0);
  double rNow = 0;
  struct timespec t0, t1;
  long long nUs;
  CHECK( pVfs->xCurrentTimeInt64(pVfs, &iNow)==SQLITE_OK );
  CHECK( iNow>=iExpect-2000 && iNow<=iExpect+2000 );
  CHECK( pVfs->xCurrentTime(pVfs, &rNow)==SQLITE_OK );
  CHECK( rNow>iNow/86400000.0-0.001 && rNow<iNow/86400000.0+0.001 );
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK( pVfs->xSleep(pVfs, 20000)==20000 );
  clock_gettime(CLOCK_MONOTONIC, &t1);
  nUs = (t1.tv_sec - t0.tv_sec)*1000000LL + (t1.tv_nsec - t0.tv_nsec)/1000;
  CHECK( nUs>=19000 );
}

static void test_last_error(sqlite3_vfs *pVfs){
  char zBuf[600], zSmall[8];
  int rc;
  sqlite3_file *p = vfsOpen(pVfs, path("missing.db"), SQLITE_OPEN_READWRITE|SQLITE_OPEN_MAIN_DB, &rc);
  CHECK( p==0 );
  CHECK( pVfs->xGetLastError(pVfs, (int)sizeof(zBuf), zBuf)==0 );
  CHECK( strstr(zBuf, "missing.db")!=0 );
  CHECK( strstr(zBuf, "No such file")!=0 );
  CHECK( pVfs->xGetLastError(pVfs, 0, 0)==-STORAGE_ENOENT );
  CHECK( pVfs->xGetLastError(pVfs, (int)sizeof(zSmall), zSmall)==1 );   /* truncated */
  CHECK( strlen(zSmall)==sizeof(zSmall)-1 );

  /* Through SQLite: the open fails, the errno-like code is the storage one. */
  {
    sqlite3 *db = 0;
    rc = sqlite3_open_v2(path("missing.db"), &db, SQLITE_OPEN_READWRITE, 0);
    CHECK( rc==SQLITE_CANTOPEN );
    CHECK( sqlite3_system_errno(db)==-STORAGE_ENOENT );
    sqlite3_close(db);
  }
}

static void test_locks(sqlite3_vfs *pVfs){
  int rc, res = -1;
  const char *zName = path("lock.db");
  sqlite3_file *a = vfsOpen(pVfs, zName, RW_CREATE, &rc);
  sqlite3_file *b = vfsOpen(pVfs, zName, RW_CREATE, &rc);
  const sqlite3_io_methods *m;
  if( !a || !b ){ CHECK( 0 ); return; }
  m = a->pMethods;
  CHECK( m->xLock(a, SQLITE_LOCK_SHARED)==SQLITE_OK );
  CHECK( m->xLock(b, SQLITE_LOCK_SHARED)==SQLITE_OK );
  CHECK( m->xCheckReservedLock(b, &res)==SQLITE_OK && res==0 );
  CHECK( m->xLock(a, SQLITE_LOCK_RESERVED)==SQLITE_OK );
  CHECK( m->xCheckReservedLock(b, &res)==SQLITE_OK && res==1 );
  CHECK( m->xLock(b, SQLITE_LOCK_RESERVED)==SQLITE_BUSY );
  /* b still reads: a is waiting in PENDING, which keeps new readers out. */
  CHECK( m->xLock(a, SQLITE_LOCK_EXCLUSIVE)==SQLITE_BUSY );
  CHECK( m->xFileControl(a, SQLITE_FCNTL_LOCKSTATE, &res)==SQLITE_OK && res==SQLITE_LOCK_PENDING );
  CHECK( m->xUnlock(b, SQLITE_LOCK_NONE)==SQLITE_OK );
  CHECK( m->xLock(b, SQLITE_LOCK_SHARED)==SQLITE_BUSY );
  CHECK( m->xLock(a, SQLITE_LOCK_EXCLUSIVE)==SQLITE_OK );
  CHECK( m->xLock(b, SQLITE_LOCK_SHARED)==SQLITE_BUSY );
  CHECK( m->xUnlock(a, SQLITE_LOCK_SHARED)==SQLITE_OK );
  CHECK( m->xCheckReservedLock(b, &res)==SQLITE_OK && res==0 );
  CHECK( m->xLock(b, SQLITE_LOCK_SHARED)==SQLITE_OK );
  CHECK( m->xUnlock(a, SQLITE_LOCK_NONE)==SQLITE_OK );
  CHECK( m->xLock(b, SQLITE_LOCK_EXCLUSIVE)==SQLITE_OK );
  CHECK( m->xUnlock(b, SQLITE_LOCK_NONE)==SQLITE_OK );
  CHECK( m->xLock(a, SQLITE_LOCK_SHARED)==SQLITE_OK );
  /* Closing with a lock held releases it. */
  vfsClose(a);
  CHECK( m->xLock(b, SQLITE_LOCK_SHARED)==SQLITE_OK );
  CHECK( m->xLock(b, SQLITE_LOCK_EXCLUSIVE)==SQLITE_OK );
  vfsClose(b);
  unlink(zName);
}

static void test_file_control_sector_device(sqlite3_vfs *pVfs){
  int rc, dc;
  char *zName = 0;
  sqlite3_file *p = vfsOpen(pVfs, path("fc.db"), RW_CREATE, &rc);
  if( !p ){ CHECK( 0 ); return; }
  CHECK( p->pMethods->xFileControl(p, 0x7fff, 0)==SQLITE_NOTFOUND );
  CHECK( p->pMethods->xFileControl(p, SQLITE_FCNTL_MMAP_SIZE, 0)==SQLITE_NOTFOUND );
  CHECK( p->pMethods->xFileControl(p, SQLITE_FCNTL_VFSNAME, &zName)==SQLITE_OK );
  CHECK( zName && strcmp(zName, "hiroba")==0 );
  sqlite3_free(zName);
  CHECK( p->pMethods->xSectorSize(p)==4096 );
  dc = p->pMethods->xDeviceCharacteristics(p);
  CHECK( dc & SQLITE_IOCAP_POWERSAFE_OVERWRITE );
  CHECK( !(dc & (SQLITE_IOCAP_SAFE_APPEND|SQLITE_IOCAP_SEQUENTIAL|SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN)) );
  CHECK( p->pMethods->iVersion==1 );
  vfsClose(p);
  unlink(path("fc.db"));
}

/* A temp file without a name lives in memory. */
static void test_temp_memory(sqlite3_vfs *pVfs){
  int rc, i, nZero = 0;
  sqlite3_int64 size = -1;
  unsigned char aBuf[100000], aIn[300];
  sqlite3_file *p = vfsOpen(pVfs, 0, SQLITE_OPEN_TEMP_JOURNAL|SQLITE_OPEN_READWRITE|
                            SQLITE_OPEN_CREATE|SQLITE_OPEN_EXCLUSIVE|
                            SQLITE_OPEN_DELETEONCLOSE, &rc);
  if( !p ){ CHECK( 0 ); return; }
  for(i=0; i<(int)sizeof(aBuf); i++) aBuf[i] = (unsigned char)(i%251);
  CHECK( p->pMethods->xWrite(p, aBuf, (int)sizeof(aBuf), 1000)==SQLITE_OK );
  CHECK( p->pMethods->xFileSize(p, &size)==SQLITE_OK && size==101000 );
  CHECK( p->pMethods->xRead(p, aIn, 100, 1000+5000)==SQLITE_OK );
  CHECK( memcmp(aIn, aBuf+5000, 100)==0 );
  memset(aIn, 0xAA, sizeof(aIn));
  CHECK( p->pMethods->xRead(p, aIn, 300, 100900)==SQLITE_IOERR_SHORT_READ );
  CHECK( memcmp(aIn, aBuf+99900, 100)==0 );
  for(i=100; i<300; i++) nZero += aIn[i]==0;
  CHECK( nZero==200 );
  CHECK( p->pMethods->xTruncate(p, 1010)==SQLITE_OK );
  CHECK( p->pMethods->xTruncate(p, 2000)==SQLITE_OK );
  CHECK( p->pMethods->xRead(p, aIn, 20, 1000)==SQLITE_OK );
  CHECK( memcmp(aIn, aBuf, 10)==0 );
  for(i=10, nZero=0; i<20; i++) nZero += aIn[i]==0;
  CHECK( nZero==10 );
  CHECK( p->pMethods->xSync(p, SQLITE_SYNC_NORMAL)==SQLITE_OK );
  CHECK( p->pMethods->xLock(p, SQLITE_LOCK_EXCLUSIVE)==SQLITE_OK );
  CHECK( p->pMethods->xUnlock(p, SQLITE_LOCK_NONE)==SQLITE_OK );
  CHECK( vfsClose(p)==SQLITE_OK );
}

/* /dev/full fails every write with ENOSPC: SQLITE_FULL, with the reason. */
static void test_disk_full(sqlite3_vfs *pVfs){
  int rc;
  char zBuf[600];
  sqlite3_file *p;
  if( access("/dev/full", W_OK)!=0 ) return;
  p = vfsOpen(pVfs, "/dev/full", SQLITE_OPEN_READWRITE|SQLITE_OPEN_MAIN_JOURNAL, &rc);
  if( !p ) return;   /* no lock on the device here: nothing to learn */
  CHECK( p->pMethods->xWrite(p, "x", 1, 0)==SQLITE_FULL );
  CHECK( pVfs->xGetLastError(pVfs, (int)sizeof(zBuf), zBuf)==0 );
  CHECK( strstr(zBuf, "/dev/full") && strstr(zBuf, "No space left") );
  CHECK( pVfs->xGetLastError(pVfs, 0, 0)==-STORAGE_EFULL );
  vfsClose(p);
}

/* ---- storage_posix.c directly ------------------------------------------- */

static void test_storage_posix(void){
  int fd = -1, fd2 = -1, rc;
  char aBuf[16];
  int64_t size = -1;
  const char *zName = path("st.bin");

  CHECK( storage_open(zName, 0, &fd)==STORAGE_ENOENT && fd==-1 );
  CHECK( strstr(storage_errmsg(), "st.bin")!=0 );
  CHECK( storage_exists(zName)==0 );
  CHECK( storage_open(zName, STORAGE_CREATE, &fd)==STORAGE_OK && fd>=0 );
  CHECK( storage_exists(zName)==1 );
  CHECK( storage_write(fd, "hello", 5, 3)==STORAGE_OK );
  CHECK( storage_size(fd, &size)==STORAGE_OK && size==8 );
  CHECK( storage_read(fd, aBuf, 16, 0)==8 );           /* short at EOF */
  CHECK( memcmp(aBuf, "\0\0\0hello", 8)==0 );
  CHECK( storage_read(fd, aBuf, 16, 100)==0 );         /* past the end */
  CHECK( storage_sync(fd)==STORAGE_OK );

  /* A second handle on the same file shares the descriptor: closing one
  ** leaves the other working. */
  CHECK( storage_open(zName, 0, &fd2)==STORAGE_OK && fd2>=0 && fd2!=fd );
  CHECK( storage_close(fd)==STORAGE_OK );
  CHECK( storage_read(fd2, aBuf, 5, 3)==5 && memcmp(aBuf, "hello", 5)==0 );
  CHECK( storage_truncate(fd2, 2)==STORAGE_OK );
  CHECK( storage_size(fd2, &size)==STORAGE_OK && size==2 );

  /* Bad handles fail cleanly, never crash. */
  CHECK( storage_read(fd, aBuf, 1, 0)==STORAGE_EIO );    /* closed */
  CHECK( storage_write(-1, "x", 1, 0)==STORAGE_EIO );
  CHECK( storage_close(999)==STORAGE_EIO );
  CHECK( strstr(storage_errmsg(), "bad storage handle")!=0 );
  CHECK( storage_close(fd2)==STORAGE_OK );

  CHECK( storage_delete(zName)==STORAGE_OK );
  CHECK( storage_delete(zName)==STORAGE_ENOENT );
  CHECK( storage_exists(zName)==0 );
  rc = storage_open(path("no/such/dir/x.bin"), STORAGE_CREATE, &fd);
  CHECK( rc==STORAGE_ENOENT );
}

/* ---- SQL through real SQLite ------------------------------------------------ */

static int exec(sqlite3 *db, const char *zSql){
  int rc = sqlite3_exec(db, zSql, 0, 0, 0);
  if( rc!=SQLITE_OK ) fprintf(stderr, "  sql error %d (%s) in: %s\n", rc, sqlite3_errmsg(db), zSql);
  return rc;
}

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

/* Opens zName with the pragmas of a mode: "wal" runs in exclusive locking
** (the only way WAL works without xShm), the others in the given one. */
static sqlite3 *openDb(const char *zName, const char *zJournal, int bExclusive){
  sqlite3 *db = 0;
  char zSql[200];
  int rc = sqlite3_open_v2(zName, &db, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0);
  CHECK( rc==SQLITE_OK );
  if( rc ){
    sqlite3_close(db);
    return 0;
  }
  snprintf(zSql, sizeof(zSql), "PRAGMA locking_mode=%s",
           bExclusive ? "EXCLUSIVE" : "NORMAL");
  CHECK( exec(db, zSql)==SQLITE_OK );
  snprintf(zSql, sizeof(zSql), "PRAGMA journal_mode=%s", zJournal);
  CHECK( strcmp(queryText(db, zSql), zJournal)==0 );
  CHECK( exec(db, "PRAGMA synchronous=FULL")==SQLITE_OK );
  return db;
}

static void insertRows(sqlite3 *db, int nRow){
  sqlite3_stmt *pStmt = 0;
  int i, rc = SQLITE_OK;
  CHECK( exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INT)")==SQLITE_OK );
  CHECK( exec(db, "CREATE INDEX t_n ON t(n)")==SQLITE_OK );
  CHECK( exec(db, "BEGIN")==SQLITE_OK );
  CHECK( sqlite3_prepare_v2(db, "INSERT INTO t(v, n) VALUES(?1, ?2)", -1, &pStmt, 0)==SQLITE_OK );
  for(i=0; i<nRow && rc==SQLITE_OK; i++){
    char zV[64];
    snprintf(zV, sizeof(zV), "row %d with some padding text", i);
    sqlite3_bind_text(pStmt, 1, zV, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(pStmt, 2, (i*7919) % 10007);
    rc = sqlite3_step(pStmt)==SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_reset(pStmt);
  }
  CHECK( rc==SQLITE_OK );
  sqlite3_finalize(pStmt);
  CHECK( exec(db, "COMMIT")==SQLITE_OK );
}

/* A transaction big enough to spill pages into the database file before
** it commits (cache_size is tiny); the caller rolls back or commits. */
static void bigChange(sqlite3 *db){
  CHECK( exec(db, "PRAGMA cache_size=5")==SQLITE_OK );
  CHECK( exec(db, "BEGIN")==SQLITE_OK );
  CHECK( exec(db, "UPDATE t SET v = v || ' changed', n = n + 1")==SQLITE_OK );
  CHECK( exec(db, "DELETE FROM t WHERE id % 3 = 0")==SQLITE_OK );
}

/* Copies zName and its -journal / -wal to zCopy: what a crash at this
** moment would leave on disk (nothing is buffered above the OS). */
static void snapshot(const char *zName, const char *zCopy){
  char zFrom[600], zTo[600];
  copyFile(zName, zCopy);
  snprintf(zFrom, sizeof(zFrom), "%s-journal", zName);
  snprintf(zTo, sizeof(zTo), "%s-journal", zCopy);
  copyFile(zFrom, zTo);
  snprintf(zFrom, sizeof(zFrom), "%s-wal", zName);
  snprintf(zTo, sizeof(zTo), "%s-wal", zCopy);
  copyFile(zFrom, zTo);
}

#define SUM_SQL "SELECT sum(n) + sum(length(v)) FROM t"

/* Checks a database holds the committed rows and nothing else. */
static void checkContent(sqlite3 *db, long long nRow, long long iSum){
  CHECK( queryInt(db, "SELECT count(*) FROM t")==nRow );
  CHECK( queryInt(db, SUM_SQL)==iSum );
  CHECK( strcmp(queryText(db, "PRAGMA integrity_check"), "ok")==0 );
}

static void test_sql_mode(const char *zJournal, int bExclusive){
  char zName[64], zCopy[64];
  const char *zDb, *zCp;
  sqlite3 *db, *db2;
  long long iSum;
  int nRow = 10000;

  snprintf(zName, sizeof(zName), "sql-%s-%d.db", zJournal, bExclusive);
  snprintf(zCopy, sizeof(zCopy), "crash-%s-%d.db", zJournal, bExclusive);
  zDb = path(zName);
  zCp = path(zCopy);
  printf("# sql: journal_mode=%s locking_mode=%s\n", zJournal, bExclusive ? "exclusive" : "normal");

  db = openDb(zDb, zJournal, bExclusive);
  if( !db ) return;
  insertRows(db, nRow);
  iSum = queryInt(db, SUM_SQL);
  CHECK( iSum>0 );
  checkContent(db, nRow, iSum);

  /* Rollback leaves the old data, also after pages were spilled. */
  bigChange(db);
  CHECK( queryInt(db, "SELECT count(*) FROM t")<nRow );
  snapshot(zDb, zCp);          /* a crash mid-transaction */
  {
    /* Pages were spilled: the database file alone is not the old state,
    ** only with its journal (or with the WAL ignored) is it. */
    char zJ[600], zTorn[64];
    const char *zT;
    snprintf(zJ, sizeof(zJ), "%s-%s", zCp, strcmp(zJournal, "wal")==0 ? "wal" : "journal");
    CHECK( fileSize(zJ)>0 );
    if( strcmp(zJournal, "wal")!=0 ){
      snprintf(zTorn, sizeof(zTorn), "torn-%s-%d.db", zJournal, bExclusive);
      zT = path(zTorn);
      copyFile(zCp, zT);
      db2 = 0;
      if( sqlite3_open_v2(zT, &db2, SQLITE_OPEN_READWRITE, 0)==SQLITE_OK ){
        CHECK( queryInt(db2, "SELECT count(*) FROM t")!=nRow
            || queryInt(db2, SUM_SQL)!=iSum );
      }
      sqlite3_close(db2);
    }
  }
  CHECK( exec(db, "ROLLBACK")==SQLITE_OK );
  checkContent(db, nRow, iSum);
  CHECK( sqlite3_close(db)==SQLITE_OK );

  if( strcmp(zJournal, "delete")==0 && !bExclusive ){
    char zJ[600];
    snprintf(zJ, sizeof(zJ), "%s-journal", zDb);
    CHECK( !fileExists(zJ) );
  }
  if( strcmp(zJournal, "wal")==0 ){
    char zW[600];
    snprintf(zW, sizeof(zW), "%s-wal", zDb);
    CHECK( !fileExists(zW) );    /* checkpointed and removed at close */
  }

  /* Reopen: the rows are there. */
  db = openDb(zDb, zJournal, bExclusive);
  if( !db ) return;
  checkContent(db, nRow, iSum);
  CHECK( sqlite3_close(db)==SQLITE_OK );

  /* The crash copy recovers (hot journal rollback / WAL recovery) to the
  ** last commit. */
  db = openDb(zCp, zJournal, bExclusive);
  if( !db ) return;
  checkContent(db, nRow, iSum);
  CHECK( sqlite3_close(db)==SQLITE_OK );
}

/* WAL: a copy taken after a commit, before any checkpoint, keeps the
** commit (it lives only in the -wal file). */
static void test_wal_committed_crash(void){
  const char *zDb = path("walc.db"), *zCp = path("walc-crash.db");
  char zW[600];
  long long iSum;
  sqlite3 *db = openDb(zDb, "wal", 1);
  if( !db ) return;
  CHECK( exec(db, "PRAGMA wal_autocheckpoint=0")==SQLITE_OK );
  insertRows(db, 2000);
  CHECK( exec(db, "UPDATE t SET n = n * 2 WHERE id % 2 = 0")==SQLITE_OK );
  iSum = queryInt(db, SUM_SQL);
  snprintf(zW, sizeof(zW), "%s-wal", zDb);
  CHECK( fileSize(zW)>0 );
  snapshot(zDb, zCp);
  CHECK( sqlite3_close(db)==SQLITE_OK );
  db = openDb(zCp, "wal", 1);
  if( !db ) return;
  checkContent(db, 2000, iSum);
  CHECK( sqlite3_close(db)==SQLITE_OK );
}

/* Documented limit: a database left in WAL mode must be reopened in
** exclusive locking mode (no xShm), else SQLite says CANTOPEN. */
static void test_wal_needs_exclusive(void){
  const char *zDb = path("walx.db");
  sqlite3 *db = openDb(zDb, "wal", 1);
  if( !db ) return;
  insertRows(db, 10);
  sqlite3_close(db);
  CHECK( sqlite3_open_v2(zDb, &db, SQLITE_OPEN_READWRITE, 0)==SQLITE_OK );
  CHECK( queryInt(db, "SELECT count(*) FROM t")==-1 );
  CHECK( sqlite3_errcode(db)==SQLITE_CANTOPEN );
  sqlite3_close(db);
}

/* Two connections of this process: the in-memory locks make the second
** one wait (SQLITE_BUSY) while the first holds its exclusive lock. */
static void test_two_connections(void){
  const char *zDb = path("two.db");
  sqlite3 *a = openDb(zDb, "wal", 1), *b = 0;
  if( !a ) return;
  insertRows(a, 10);
  CHECK( sqlite3_open_v2(zDb, &b, SQLITE_OPEN_READWRITE, 0)==SQLITE_OK );
  CHECK( exec(b, "PRAGMA locking_mode=EXCLUSIVE")==SQLITE_OK );
  CHECK( sqlite3_exec(b, "SELECT count(*) FROM t", 0, 0, 0)==SQLITE_BUSY );
  sqlite3_close(a);
  CHECK( queryInt(b, "SELECT count(*) FROM t")==10 );
  sqlite3_close(b);

  /* Rollback journal, normal locking: readers share, a writer waits. */
  zDb = path("two-del.db");
  a = openDb(zDb, "delete", 0);
  if( !a ) return;
  insertRows(a, 10);
  CHECK( sqlite3_open_v2(zDb, &b, SQLITE_OPEN_READWRITE, 0)==SQLITE_OK );
  CHECK( exec(a, "BEGIN; INSERT INTO t(v, n) VALUES('x', 1)")==SQLITE_OK );
  CHECK( queryInt(b, "SELECT count(*) FROM t")==10 );    /* RESERVED: reads ok */
  CHECK( sqlite3_exec(b, "INSERT INTO t(v, n) VALUES('y', 2)", 0, 0, 0)==SQLITE_BUSY );
  CHECK( exec(a, "COMMIT")==SQLITE_OK );
  CHECK( queryInt(b, "SELECT count(*) FROM t")==11 );
  sqlite3_close(a);
  sqlite3_close(b);
}

/* A temp table and a big sort: SQLITE_TEMP_STORE=3 keeps both in memory. */
static void test_temp_sql(void){
  sqlite3 *db = openDb(path("tmp.db"), "wal", 1);
  if( !db ) return;
  CHECK( exec(db, "CREATE TEMP TABLE x(a); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
                  "SELECT i+1 FROM c WHERE i<50000) INSERT INTO x SELECT random() FROM c")==SQLITE_OK );
  CHECK( queryInt(db, "SELECT count(*) FROM (SELECT a FROM x ORDER BY a)")==50000 );
  CHECK( strcmp(queryText(db, "PRAGMA main.integrity_check"), "ok")==0 );
  CHECK( sqlite3_close(db)==SQLITE_OK );
  CHECK( !fileExists(path("tmp.db-wal")) );
}

/* SQLite's own view of the VFS through the public API. */
static void test_sql_file_control(void){
  sqlite3 *db = openDb(path("fc2.db"), "delete", 0);
  char *zName = 0;
  if( !db ) return;
  CHECK( sqlite3_file_control(db, "main", SQLITE_FCNTL_VFSNAME, &zName)==SQLITE_OK );
  CHECK( zName && strcmp(zName, "hiroba")==0 );
  sqlite3_free(zName);
  CHECK( sqlite3_file_control(db, "main", 0x7fff, 0)==SQLITE_NOTFOUND );
  /* No julianday('now') here: the build leaves SQLite's date functions
  ** out (Makefile SQLITE_OMIT); xCurrentTime has its own test. */
  CHECK( queryInt(db, "SELECT length(randomblob(32))")==32 );
  sqlite3_close(db);
}

/* ---- a second process --------------------------------------------------- */

/* Child: try to open the database the parent holds. Exits 0 when both the
** storage open and SQLite's open are refused as busy, and the message says
** why; 1-3 name the check that failed. */
static int childMain(const char *zDb){
  int fd = -1, rcS, rc;
  sqlite3 *db = 0;
  char zBuf[600];
  sqlite3_vfs *pVfs = sqlite3_vfs_find(0);
  rcS = storage_open(zDb, 0, &fd);
  if( rcS==STORAGE_OK ) storage_close(fd);
  rc = sqlite3_open_v2(zDb, &db, SQLITE_OPEN_READWRITE, 0);
  pVfs->xGetLastError(pVfs, (int)sizeof(zBuf), zBuf);
  sqlite3_close(db);
  if( rcS!=STORAGE_EBUSY ) return 1;
  if( rc!=SQLITE_BUSY ) return 2;
  if( !strstr(zBuf, "held elsewhere") ) return 3;
  return 0;
}

static void test_second_process(void){
  const char *zDb = path("proc.db");
  sqlite3 *db = openDb(zDb, "wal", 1);
  pid_t pid;
  int status = -1;
  if( !db ) return;
  insertRows(db, 10);
  pid = fork();
  if( pid==0 ){
    char *argv[] = { zSelf, "--child", (char*)zDb, 0 };
    execv(zSelf, argv);
    _exit(99);
  }
  CHECK( pid>0 && waitpid(pid, &status, 0)==pid );
  CHECK( WIFEXITED(status) && WEXITSTATUS(status)==0 );
  if( !WIFEXITED(status) || WEXITSTATUS(status)!=0 ){
    fprintf(stderr, "  child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  sqlite3_close(db);

  /* Once the parent closed it, another process gets in. */
  pid = fork();
  if( pid==0 ){
    char *argv[] = { zSelf, "--child-ok", (char*)zDb, 0 };
    execv(zSelf, argv);
    _exit(99);
  }
  CHECK( pid>0 && waitpid(pid, &status, 0)==pid );
  CHECK( WIFEXITED(status) && WEXITSTATUS(status)==0 );
}

static int childOkMain(const char *zDb){
  sqlite3 *db = 0;
  int ok;
  if( sqlite3_open_v2(zDb, &db, SQLITE_OPEN_READWRITE, 0)!=SQLITE_OK ) return 1;
  sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE", 0, 0, 0);
  ok = queryInt(db, "SELECT count(*) FROM t")==10;
  sqlite3_close(db);
  return ok ? 0 : 2;
}

/* ---- main ---------------------------------------------------------------- */

/* Removes every file in zDir, then zDir. */
static void removeDir(void){
  DIR *d = opendir(zDir);
  struct dirent *e;
  if( d ){
    while( (e = readdir(d))!=0 ){
      if( strcmp(e->d_name, ".")==0 || strcmp(e->d_name, "..")==0 ) continue;
      unlink(path(e->d_name));
    }
    closedir(d);
  }
  CHECK( rmdir(zDir)==0 );
}

int main(int argc, char **argv){
  sqlite3_vfs *pVfs;
  const char *zTmp = getenv("TMPDIR");

  if( argc==3 && strcmp(argv[1], "--child")==0 ) return childMain(argv[2]);
  if( argc==3 && strcmp(argv[1], "--child-ok")==0 ) return childOkMain(argv[2]);
  zSelf = argv[0];

  snprintf(zDir, sizeof(zDir), "%s/hiroba-test-vfs-XXXXXX", zTmp && *zTmp ? zTmp : "/tmp");
  if( mkdtemp(zDir)==0 ){
    perror("mkdtemp");
    return 1;
  }

  CHECK( sqlite3_initialize()==SQLITE_OK );
  pVfs = sqlite3_vfs_find(0);
  test_register();
  test_open(pVfs);
  test_write_read(pVfs);
  test_short_read(pVfs);
  test_truncate_size_sync(pVfs);
  test_delete_access(pVfs);
  test_full_pathname(pVfs);
  test_randomness(pVfs);
  test_time_sleep(pVfs);
  test_last_error(pVfs);
  test_locks(pVfs);
  test_file_control_sector_device(pVfs);
  test_temp_memory(pVfs);
  test_disk_full(pVfs);
  test_storage_posix();

  test_sql_mode("wal", 1);
  test_sql_mode("delete", 0);
  test_sql_mode("delete", 1);
  test_sql_mode("truncate", 0);
  test_sql_mode("truncate", 1);
  test_wal_committed_crash();
  test_wal_needs_exclusive();
  test_two_connections();
  test_temp_sql();
  test_sql_file_control();
  test_second_process();

  removeDir();
  sqlite3_shutdown();
  return check_report("test_vfs");
}
