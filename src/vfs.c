/*
** vfs.c -- Hiroba's SQLite VFS ("hiroba", the default) on the small set of
** synchronous primitives in storage.h.
**
** The split follows SQLite's os_kv.c: every SQLite semantic lives here --
** open flags, short-read zero-fill, locking, error codes, temp files --
** and a platform only stores bytes in named files (storage_posix.c
** natively, storage_js.c + js-glue/storage-library.js in wasm, where the
** bytes end up in OPFS or node:fs).
**
** How it is meant to be used, and what it leaves out:
**   - One connection owns the database, in PRAGMA locking_mode=EXCLUSIVE
**     (the worker that holds the Web Lock; see store.c). Locks are tracked
**     in memory, per path, shared by every handle in this process, so two
**     connections of one process still exclude each other the way SQLite
**     expects. Exclusion between processes or tabs is the storage layer's
**     job (OPFS access handles; fcntl() locks in storage_posix.c; one
**     engine instance per file in js-glue/storage-node.js).
**   - No xShm* methods (io_methods version 1). SQLite then allows
**     journal_mode=WAL only in locking_mode=EXCLUSIVE, keeping the
**     wal-index in heap memory. So set locking_mode=EXCLUSIVE before
**     journal_mode=WAL -- and, when reopening a database that was left in
**     WAL mode, before the first read: otherwise SQLite reports
**     SQLITE_CANTOPEN. DELETE, TRUNCATE, PERSIST, MEMORY and OFF journals
**     work in either locking mode.
**   - A temp file without a name (zName==NULL) lives in a heap buffer. With
**     SQLITE_TEMP_STORE=3 SQLite keeps temp databases, statement journals
**     and sorter runs in memory anyway; this covers what is left.
**   - No loadable extensions (xDl* are stubs that fail cleanly).
**   - Error codes: a failed open is SQLITE_CANTOPEN, or SQLITE_BUSY when
**     the file is held elsewhere. On the data path (read, write, truncate,
**     sync, size) only SQLITE_FULL and SQLITE_IOERR_* are returned, also
**     for a storage EACCES or EBUSY: those are the codes for which the
**     pager enters its error state and re-reads the file (rolling back a
**     hot journal) before going on; SQLITE_READONLY or SQLITE_BUSY from
**     the middle of a commit would leave its cache out of step with the
**     file. The storage layer's message says what happened; it is kept
**     for xGetLastError and sent to sqlite3_log().
**
** Needs: SQLITE_OS_OTHER=1 (this file supplies sqlite3_os_init/_end),
** SQLITE_THREADSAFE=0 (the lock table and error buffer have no mutex),
** SQLITE_TEMP_STORE=3 recommended; -D_DEFAULT_SOURCE for getentropy and
** nanosleep.
*/
#include "vfs.h"
#include "storage.h"
#include "sqlite3.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define HB_MAX_PATHNAME 512   /* mxPathname: longest name SQLite passes */
#define HB_SECTOR_SIZE 4096   /* xSectorSize: OPFS and most disks use 4 KiB */

/* Lock state shared by every handle open on one path (the in-memory
** stand-in for the OS locks SQLite's unix VFS takes). */
typedef struct HbLockNode HbLockNode;
struct HbLockNode {
  HbLockNode *pNext;   /* next node in the list at pLockList */
  char *zPath;         /* path, as SQLite passed it to xOpen */
  int nRef;            /* handles open on the path */
  int eLock;           /* strongest SQLITE_LOCK_* held by any handle */
  int nShared;         /* handles holding SHARED or stronger */
};

/* An open file: the sqlite3_file SQLite allocates, szOsFile bytes. */
typedef struct HbFile HbFile;
struct HbFile {
  sqlite3_file base;     /* base class; pMethods first, must come first */
  int fd;                /* storage handle; -1 for a memory file */
  int flags;             /* SQLITE_OPEN_* flags it was opened with */
  int eLock;             /* SQLITE_LOCK_* this handle holds */
  HbLockNode *pNode;     /* lock state of the path; NULL for memory */
  const char *zPath;     /* name (SQLite keeps it valid until xClose) */
  unsigned char *aMem;   /* memory file: contents */
  sqlite3_int64 nMem;    /* memory file: size in bytes */
  sqlite3_int64 nAlloc;  /* memory file: bytes allocated at aMem */
};

static HbLockNode *pLockList = 0;   /* lock nodes of every open path */
static char zLastErr[600] = "";     /* message of the last failure */
static int iLastErr = 0;            /* its code for sqlite3_system_errno() */

const char *vfs_last_error(void){ return zLastErr; }

void vfs_clear_error(void){
  zLastErr[0] = 0;
  iLastErr = 0;
}

/*
** Records a failure: rc is the SQLite code to return, rcStorage the
** storage code behind it (0 when the VFS itself refused), zFmt the
** message. The storage layer's own text is appended when there is one.
** Returns rc, so callers can `return hbFail(...)`.
*/
static int hbFail(int rc, int rcStorage, const char *zFmt, const char *zArg){
  char zMsg[300];
  sqlite3_snprintf((int)sizeof(zMsg), zMsg, zFmt, zArg);
  if( rcStorage ){
    sqlite3_snprintf((int)sizeof(zLastErr), zLastErr, "%s (%s)", zMsg,
                     storage_errmsg());
    iLastErr = -rcStorage;
  }else{
    sqlite3_snprintf((int)sizeof(zLastErr), zLastErr, "%s", zMsg);
    iLastErr = 0;
  }
  sqlite3_log(rc, "hiroba vfs: %s", zLastErr);
  return rc;
}

/* The SQLite code for a failed data-path call: SQLITE_FULL when storage
** is full, else rcIoerr (see the file comment for why not BUSY/READONLY). */
static int hbIoErr(int rcStorage, int rcIoerr){
  return rcStorage==STORAGE_EFULL ? SQLITE_FULL : rcIoerr;
}

/* ---- lock table ------------------------------------------------------ */

/* Finds or creates the lock node of zPath, taking a reference; NULL when
** out of memory. */
static HbLockNode *lockNodeAcquire(const char *zPath){
  HbLockNode *p;
  for(p=pLockList; p; p=p->pNext){
    if( strcmp(p->zPath, zPath)==0 ){
      p->nRef++;
      return p;
    }
  }
  p = sqlite3_malloc64(sizeof(*p));
  if( p==0 ) return 0;
  memset(p, 0, sizeof(*p));
  p->zPath = sqlite3_mprintf("%s", zPath);
  if( p->zPath==0 ){
    sqlite3_free(p);
    return 0;
  }
  p->nRef = 1;
  p->pNext = pLockList;
  pLockList = p;
  return p;
}

/* Drops a reference; frees the node with the last one. */
static void lockNodeRelease(HbLockNode *pNode){
  HbLockNode **pp;
  if( --pNode->nRef>0 ) return;
  for(pp=&pLockList; *pp; pp=&(*pp)->pNext){
    if( *pp==pNode ){
      *pp = pNode->pNext;
      break;
    }
  }
  sqlite3_free(pNode->zPath);
  sqlite3_free(pNode);
}

/*
** xLock: the rules of unixLock() in os_unix.c, without the OS. A handle
** may go to SHARED while no other handle holds PENDING or more; to
** RESERVED while it is the only one above SHARED; to EXCLUSIVE once it is
** the only reader -- until then it holds PENDING (keeping new readers out)
** and gets SQLITE_BUSY, and SQLite retries.
*/
static int hbLock(sqlite3_file *pFile, int eLock){
  HbFile *p = (HbFile*)pFile;
  HbLockNode *pNode = p->pNode;
  if( p->eLock>=eLock ) return SQLITE_OK;
  if( pNode==0 ){                       /* memory file: nobody to exclude */
    p->eLock = eLock;
    return SQLITE_OK;
  }
  /* Another handle holds a lock that rules this one out. */
  if( pNode->eLock!=p->eLock
   && (pNode->eLock>=SQLITE_LOCK_PENDING || eLock>SQLITE_LOCK_SHARED) ){
    return SQLITE_BUSY;
  }
  if( eLock==SQLITE_LOCK_SHARED ){
    if( pNode->eLock==SQLITE_LOCK_NONE ) pNode->eLock = SQLITE_LOCK_SHARED;
    pNode->nShared++;
    p->eLock = SQLITE_LOCK_SHARED;
    return SQLITE_OK;
  }
  if( eLock==SQLITE_LOCK_RESERVED ){
    pNode->eLock = p->eLock = SQLITE_LOCK_RESERVED;
    return SQLITE_OK;
  }
  /* PENDING or EXCLUSIVE. */
  if( pNode->nShared>1 ){
    pNode->eLock = p->eLock = SQLITE_LOCK_PENDING;
    return SQLITE_BUSY;
  }
  pNode->eLock = p->eLock = eLock;
  return SQLITE_OK;
}

/* xUnlock: down to SHARED or NONE. */
static int hbUnlock(sqlite3_file *pFile, int eLock){
  HbFile *p = (HbFile*)pFile;
  HbLockNode *pNode = p->pNode;
  if( p->eLock<=eLock ) return SQLITE_OK;
  if( pNode ){
    /* Only one handle can hold more than SHARED: if this one does, the
    ** path drops to SHARED with it. */
    if( p->eLock>SQLITE_LOCK_SHARED ) pNode->eLock = SQLITE_LOCK_SHARED;
    if( eLock==SQLITE_LOCK_NONE && --pNode->nShared==0 ){
      pNode->eLock = SQLITE_LOCK_NONE;
    }
  }
  p->eLock = eLock;
  return SQLITE_OK;
}

/* xCheckReservedLock: does any handle (this one too) hold RESERVED+? */
static int hbCheckReservedLock(sqlite3_file *pFile, int *pResOut){
  HbFile *p = (HbFile*)pFile;
  *pResOut = p->pNode ? p->pNode->eLock>SQLITE_LOCK_SHARED
                      : p->eLock>SQLITE_LOCK_SHARED;
  return SQLITE_OK;
}

/* ---- methods shared by stored and memory files ----------------------- */

static int hbFileControl(sqlite3_file *pFile, int op, void *pArg){
  HbFile *p = (HbFile*)pFile;
  switch( op ){
    case SQLITE_FCNTL_VFSNAME:
      *(char**)pArg = sqlite3_mprintf("hiroba");
      return SQLITE_OK;
    case SQLITE_FCNTL_LOCKSTATE:
      *(int*)pArg = p->eLock;
      return SQLITE_OK;
  }
  return SQLITE_NOTFOUND;
}

static int hbSectorSize(sqlite3_file *pFile){
  return HB_SECTOR_SIZE;
}

/*
** What SQLite may assume about the storage, chosen for the weakest
** platform we run on (OPFS in Chromium, ext4 or APFS under node:fs or
** POSIX), since a wrong claim costs data after a crash:
**   POWERSAFE_OVERWRITE  yes: writing a range never damages bytes outside
**                        it (SQLite's unix VFS assumes the same by
**                        default); SQLite then pads neither WAL frames
**                        nor journal headers to the 4 KiB sector.
**   SUBPAGE_READ         yes: every platform reads any byte range.
**   SAFE_APPEND          no: no platform promises that data lands before
**                        the size grows, and SQLite would then skip the
**                        journal-header sync it needs after a crash.
**   SEQUENTIAL           no: page caches reorder writes; SQLite would skip
**                        the syncs that order journal before database.
**   UNDELETABLE_WHEN_OPEN no: all three delete open files fine (OPFS
**                        "delete" is a truncate); the flag would only keep
**                        journals open longer outside exclusive mode.
*/
static int hbDeviceCharacteristics(sqlite3_file *pFile){
  return SQLITE_IOCAP_POWERSAFE_OVERWRITE | SQLITE_IOCAP_SUBPAGE_READ;
}

/* ---- stored files ------------------------------------------------------ */

static int hbClose(sqlite3_file *pFile){
  HbFile *p = (HbFile*)pFile;
  int rc = SQLITE_OK, rcS;
  hbUnlock(pFile, SQLITE_LOCK_NONE);
  rcS = storage_close(p->fd);
  if( rcS ) rc = hbFail(SQLITE_IOERR_CLOSE, rcS, "close %s", p->zPath);
  if( p->flags & SQLITE_OPEN_DELETEONCLOSE ){
    rcS = storage_delete(p->zPath);
    if( rcS && rcS!=STORAGE_ENOENT && rc==SQLITE_OK ){
      rc = hbFail(SQLITE_IOERR_DELETE, rcS, "delete %s on close", p->zPath);
    }
  }
  lockNodeRelease(p->pNode);
  p->pNode = 0;
  p->fd = -1;
  return rc;
}

/* xRead: a short read (past the end of the file) zero-fills the rest of
** the buffer and says so; SQLite relies on the zeros. */
static int hbRead(sqlite3_file *pFile, void *zBuf, int iAmt, sqlite3_int64 iOfst){
  HbFile *p = (HbFile*)pFile;
  int n = storage_read(p->fd, zBuf, iAmt, iOfst);
  if( n<0 ) return hbFail(SQLITE_IOERR_READ, n, "read %s", p->zPath);
  if( n<iAmt ){
    memset((char*)zBuf + n, 0, (size_t)(iAmt - n));
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

static int hbWrite(sqlite3_file *pFile, const void *zBuf, int iAmt, sqlite3_int64 iOfst){
  HbFile *p = (HbFile*)pFile;
  int rcS;
  if( p->flags & SQLITE_OPEN_READONLY ){
    return hbFail(SQLITE_IOERR_WRITE, 0, "write %s: opened read-only", p->zPath);
  }
  rcS = storage_write(p->fd, zBuf, iAmt, iOfst);
  if( rcS ) return hbFail(hbIoErr(rcS, SQLITE_IOERR_WRITE), rcS, "write %s", p->zPath);
  return SQLITE_OK;
}

static int hbTruncate(sqlite3_file *pFile, sqlite3_int64 size){
  HbFile *p = (HbFile*)pFile;
  int rcS = storage_truncate(p->fd, size);
  if( rcS ) return hbFail(hbIoErr(rcS, SQLITE_IOERR_TRUNCATE), rcS, "truncate %s", p->zPath);
  return SQLITE_OK;
}

/* xSync: flags (NORMAL/FULL/DATAONLY) all mean the same full sync here. */
static int hbSync(sqlite3_file *pFile, int flags){
  HbFile *p = (HbFile*)pFile;
  int rcS = storage_sync(p->fd);
  if( rcS ) return hbFail(hbIoErr(rcS, SQLITE_IOERR_FSYNC), rcS, "sync %s", p->zPath);
  return SQLITE_OK;
}

static int hbFileSize(sqlite3_file *pFile, sqlite3_int64 *pSize){
  HbFile *p = (HbFile*)pFile;
  int64_t size = 0;
  int rcS = storage_size(p->fd, &size);
  if( rcS ) return hbFail(SQLITE_IOERR_FSTAT, rcS, "size of %s", p->zPath);
  *pSize = size;
  return SQLITE_OK;
}

static const sqlite3_io_methods hbIoMethods = {
  1,                          /* iVersion: no xShm*, no xFetch */
  hbClose,
  hbRead,
  hbWrite,
  hbTruncate,
  hbSync,
  hbFileSize,
  hbLock,
  hbUnlock,
  hbCheckReservedLock,
  hbFileControl,
  hbSectorSize,
  hbDeviceCharacteristics,
  0, 0, 0, 0,                 /* xShm*: absent (exclusive locking only) */
  0, 0                        /* xFetch, xUnfetch: no memory mapping */
};

/* ---- memory files (temp files SQLite opens without a name) ------------- */

/* Makes room for nNeed bytes, zeroing what is new. */
static int memReserve(HbFile *p, sqlite3_int64 nNeed){
  sqlite3_int64 nNew;
  unsigned char *aNew;
  if( nNeed<=p->nAlloc ) return SQLITE_OK;
  nNew = p->nAlloc ? p->nAlloc : 8192;
  while( nNew<nNeed ) nNew *= 2;
  aNew = sqlite3_realloc64(p->aMem, (sqlite3_uint64)nNew);
  if( aNew==0 ) return hbFail(SQLITE_IOERR_NOMEM, 0, "temp file: %s", "out of memory");
  memset(aNew + p->nAlloc, 0, (size_t)(nNew - p->nAlloc));
  p->aMem = aNew;
  p->nAlloc = nNew;
  return SQLITE_OK;
}

static int memClose(sqlite3_file *pFile){
  HbFile *p = (HbFile*)pFile;
  sqlite3_free(p->aMem);
  p->aMem = 0;
  p->nMem = p->nAlloc = 0;
  return SQLITE_OK;
}

static int memRead(sqlite3_file *pFile, void *zBuf, int iAmt, sqlite3_int64 iOfst){
  HbFile *p = (HbFile*)pFile;
  sqlite3_int64 n = p->nMem - iOfst;
  if( n>iAmt ) n = iAmt;
  if( n<0 ) n = 0;
  if( n>0 ) memcpy(zBuf, p->aMem + iOfst, (size_t)n);
  if( n<iAmt ){
    memset((char*)zBuf + n, 0, (size_t)(iAmt - n));
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

static int memWrite(sqlite3_file *pFile, const void *zBuf, int iAmt, sqlite3_int64 iOfst){
  HbFile *p = (HbFile*)pFile;
  int rc = memReserve(p, iOfst + iAmt);
  if( rc ) return rc;
  memcpy(p->aMem + iOfst, zBuf, (size_t)iAmt);
  if( iOfst + iAmt>p->nMem ) p->nMem = iOfst + iAmt;
  return SQLITE_OK;
}

static int memTruncate(sqlite3_file *pFile, sqlite3_int64 size){
  HbFile *p = (HbFile*)pFile;
  int rc = memReserve(p, size);
  if( rc ) return rc;
  /* Bytes beyond the new end must read back as zeros if it grows again. */
  if( size<p->nMem ) memset(p->aMem + size, 0, (size_t)(p->nMem - size));
  p->nMem = size;
  return SQLITE_OK;
}

static int memSync(sqlite3_file *pFile, int flags){
  return SQLITE_OK;
}

static int memFileSize(sqlite3_file *pFile, sqlite3_int64 *pSize){
  *pSize = ((HbFile*)pFile)->nMem;
  return SQLITE_OK;
}

static const sqlite3_io_methods hbMemMethods = {
  1,
  memClose,
  memRead,
  memWrite,
  memTruncate,
  memSync,
  memFileSize,
  hbLock,
  hbUnlock,
  hbCheckReservedLock,
  hbFileControl,
  hbSectorSize,
  hbDeviceCharacteristics,
  0, 0, 0, 0,                 /* xShm*: absent (exclusive locking only) */
  0, 0                        /* xFetch, xUnfetch: no memory mapping */
};

/* ---- the VFS ------------------------------------------------------------ */

/*
** xOpen. On failure pMethods stays NULL, so SQLite will not call xClose.
** SQLITE_OPEN_READONLY files are opened through the same storage call
** (storage.h has no read-only mode) and refuse writes here.
*/
static int hbOpen(sqlite3_vfs *pVfs, sqlite3_filename zName, sqlite3_file *pFile,
                  int flags, int *pOutFlags){
  HbFile *p = (HbFile*)pFile;
  int rcS, fd = -1;

  memset(p, 0, sizeof(*p));
  p->fd = -1;
  p->flags = flags;
  if( zName==0 ){
    /* A temp file SQLite wants no name for: it never outlives the handle,
    ** so a heap buffer is exact. */
    p->base.pMethods = &hbMemMethods;
    if( pOutFlags ) *pOutFlags = flags;
    return SQLITE_OK;
  }

  if( (flags & SQLITE_OPEN_EXCLUSIVE) && (flags & SQLITE_OPEN_CREATE) ){
    rcS = storage_exists(zName);
    if( rcS<0 ) return hbFail(SQLITE_CANTOPEN, rcS, "open %s", zName);
    if( rcS>0 ) return hbFail(SQLITE_CANTOPEN, 0, "open %s: file already exists", zName);
  }
  rcS = storage_open(zName, (flags & SQLITE_OPEN_CREATE) ? STORAGE_CREATE : 0, &fd);
  if( rcS==STORAGE_EBUSY ){
    return hbFail(SQLITE_BUSY, rcS,
        "open %s: the file is held elsewhere (another tab, worker or process has it open)",
        zName);
  }
  if( rcS ) return hbFail(SQLITE_CANTOPEN, rcS, "open %s", zName);

  p->pNode = lockNodeAcquire(zName);
  if( p->pNode==0 ){
    storage_close(fd);
    return hbFail(SQLITE_NOMEM, 0, "open %s: out of memory", zName);
  }
  p->fd = fd;
  p->zPath = zName;
  p->base.pMethods = &hbIoMethods;
  if( pOutFlags ) *pOutFlags = flags;
  return SQLITE_OK;
}

static int hbDelete(sqlite3_vfs *pVfs, const char *zPath, int syncDir){
  int rcS = storage_delete(zPath);
  if( rcS==STORAGE_ENOENT ){
    /* SQLite treats this one as "already gone"; no need to log it. */
    return SQLITE_IOERR_DELETE_NOENT;
  }
  if( rcS ) return hbFail(SQLITE_IOERR_DELETE, rcS, "delete %s", zPath);
  return SQLITE_OK;
}

/* xAccess: EXISTS and READWRITE both ask storage_exists (every file this
** VFS can open, it opens for writing); READ is the same question. */
static int hbAccess(sqlite3_vfs *pVfs, const char *zPath, int flags, int *pResOut){
  int r = storage_exists(zPath);
  *pResOut = 0;
  if( r<0 ) return hbFail(SQLITE_IOERR_ACCESS, r, "access %s", zPath);
  *pResOut = r>0;
  return SQLITE_OK;
}

/* xFullPathname: names are used as given. In wasm they are names in the
** storage (OPFS pool, node:fs path); natively, relative to the working
** directory, like the platform's own open(). */
static int hbFullPathname(sqlite3_vfs *pVfs, const char *zPath, int nOut, char *zOut){
  size_t n = strlen(zPath);
  if( nOut<=0 || n>=(size_t)nOut ){
    return hbFail(SQLITE_CANTOPEN, 0, "path too long: %s", zPath);
  }
  memcpy(zOut, zPath, n + 1);
  return SQLITE_OK;
}

/* Loadable extensions are not supported (the engine is built with
** SQLITE_OMIT_LOAD_EXTENSION); these stubs keep any caller safe. */
static void *hbDlOpen(sqlite3_vfs *pVfs, const char *zPath){
  return 0;
}
static void hbDlError(sqlite3_vfs *pVfs, int nByte, char *zErrMsg){
  if( nByte>0 ) sqlite3_snprintf(nByte, zErrMsg, "loadable extensions are not supported");
}
static void (*hbDlSym(sqlite3_vfs *pVfs, void *pH, const char *z))(void){
  return 0;
}
static void hbDlClose(sqlite3_vfs *pVfs, void *pHandle){
}

/* xRandomness: getentropy() (the kernel natively, crypto.getRandomValues
** in wasm). Should it fail, a time-and-counter mix still gives SQLite
** distinct temp names and journal nonces: they need not be secret. */
static int hbRandomness(sqlite3_vfs *pVfs, int nByte, char *zOut){
  static sqlite3_uint64 iCounter = 0;
  int i = 0;
  while( i<nByte ){
    int n = nByte - i > 256 ? 256 : nByte - i;   /* getentropy's limit */
    if( getentropy(zOut + i, (size_t)n)!=0 ) break;
    i += n;
  }
  for(; i<nByte; i++){
    sqlite3_uint64 x = (sqlite3_uint64)time(0) + (++iCounter)*0x9E3779B97F4A7C15ull
                     + (sqlite3_uint64)(size_t)zOut;
    x = (x ^ (x>>30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x>>27)) * 0x94D049BB133111EBull;
    zOut[i] = (char)(x ^ (x>>31));
  }
  return nByte;
}

/* xSleep: returns the microseconds slept. In wasm nanosleep busy-waits;
** SQLite only sleeps in its busy handler, which one owner never needs. */
static int hbSleep(sqlite3_vfs *pVfs, int microseconds){
  struct timespec ts;
  if( microseconds<=0 ) return 0;
  ts.tv_sec = microseconds / 1000000;
  ts.tv_nsec = (long)(microseconds % 1000000) * 1000;
  nanosleep(&ts, 0);
  return microseconds;
}

/* xCurrentTimeInt64: milliseconds since the Julian epoch. */
static int hbCurrentTimeInt64(sqlite3_vfs *pVfs, sqlite3_int64 *piNow){
  static const sqlite3_int64 unixEpoch = 24405875*(sqlite3_int64)8640000;
  struct timespec ts;
  if( clock_gettime(CLOCK_REALTIME, &ts)==0 ){
    *piNow = unixEpoch + 1000*(sqlite3_int64)ts.tv_sec + ts.tv_nsec/1000000;
  }else{
    *piNow = unixEpoch + 1000*(sqlite3_int64)time(0);
  }
  return SQLITE_OK;
}

static int hbCurrentTime(sqlite3_vfs *pVfs, double *prNow){
  sqlite3_int64 i = 0;
  hbCurrentTimeInt64(pVfs, &i);
  *prNow = i/86400000.0;
  return SQLITE_OK;
}

/*
** xGetLastError. SQLite calls it two ways: with no buffer, to record a
** number for sqlite3_system_errno() -- we return the storage code of the
** last failure, made positive (1 EIO, 2 full, 3 no such file, 4 busy,
** 5 access), or 0 when the VFS itself refused; and with a buffer, to get
** the text -- we copy the last failure's message and, as sqlite3.h asks,
** return 0 when it fit and 1 when it was truncated.
*/
static int hbGetLastError(sqlite3_vfs *pVfs, int nBuf, char *zBuf){
  size_t n;
  if( zBuf==0 || nBuf<=0 ) return iLastErr;
  n = strlen(zLastErr);
  sqlite3_snprintf(nBuf, zBuf, "%s", zLastErr);
  return n>=(size_t)nBuf;
}

static sqlite3_vfs hbVfs = {
  2,                      /* iVersion: up to xCurrentTimeInt64 */
  sizeof(HbFile),         /* szOsFile */
  HB_MAX_PATHNAME,        /* mxPathname */
  0,                      /* pNext (SQLite's) */
  "hiroba",               /* zName */
  0,                      /* pAppData */
  hbOpen,
  hbDelete,
  hbAccess,
  hbFullPathname,
  hbDlOpen,
  hbDlError,
  hbDlSym,
  hbDlClose,
  hbRandomness,
  hbSleep,
  hbCurrentTime,
  hbGetLastError,
  hbCurrentTimeInt64,
  0, 0, 0                 /* xSetSystemCall & co. (version 3): unused */
};

int vfs_register(void){
  return sqlite3_vfs_register(&hbVfs, 1);
}

/* SQLite's OS layer entry points (SQLITE_OS_OTHER=1 leaves them to us). */
int sqlite3_os_init(void){
  return vfs_register();
}

int sqlite3_os_end(void){
  return SQLITE_OK;
}
