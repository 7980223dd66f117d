/*
** storage_posix.c -- the primitives of storage.h over POSIX files, for the
** native build (tests, fuzzers, sanitizers, benchmarks).
**
** What it does:
**   - Handles are indexes into a fixed table of POSIX_MAX_FILES slots, each
**     holding an OS descriptor. Reads and writes are positional
**     (pread/pwrite) and loop over short transfers and EINTR.
**   - One process, one descriptor per file: a second open of a file this
**     process already has open shares the first descriptor (matched by
**     device and inode). That keeps the POSIX record lock below from being
**     dropped when one of two handles on the file is closed.
**   - Cross-process exclusion, like OPFS gives the browser: every file is
**     opened with a whole-file fcntl() write lock. A file another process
**     holds opens with STORAGE_EBUSY instead of letting two processes
**     (or an outside sqlite3 shell, whose locks conflict with ours) write
**     the same database with no common locking protocol. Where the file
**     system has no locks (ENOLCK, some network mounts) the file opens
**     unlocked.
**   - A newly created file has its directory fsync'ed once, so the file's
**     name survives a crash (SQLite relies on a hot journal still existing).
**   - errno is mapped to STORAGE_* codes; the text of the last failure
**     (operation, path, strerror) is kept in a static buffer.
**
** Left out: read-only opens (every file is opened O_RDWR; a file the
** process may not write fails with STORAGE_EACCES), threads (the engine is
** single-threaded, SQLITE_THREADSAFE=0: the tables here have no mutex),
** directory sync on delete (SQLite's unix VFS also skips it unless
** synchronous=EXTRA; storage.h has no way to ask for it).
**
** Needs: POSIX.1-2008 (-D_DEFAULT_SOURCE with -std=c11).
*/
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define POSIX_MAX_FILES 64    /* open handles at once (SQLite needs ~3/db) */
#define POSIX_MAX_NAME  256   /* bytes of a path kept for error messages */

typedef struct PosixFile PosixFile;
struct PosixFile {
  int bUsed;                    /* 1 when the slot is a live handle */
  int osfd;                     /* OS descriptor (maybe shared, see above) */
  dev_t dev;                    /* device of the open file */
  ino_t ino;                    /* inode of the open file */
  char zName[POSIX_MAX_NAME];   /* path as opened, for error messages */
};

static PosixFile aFile[POSIX_MAX_FILES];   /* handle table */
static char zErrMsg[512] = "no error";     /* text of the last failure */

/* Maps errno to a STORAGE_* code. */
static int posixCode(int e){
  switch( e ){
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
      return STORAGE_EFULL;
    case ENOENT: return STORAGE_ENOENT;
    case EACCES: case EROFS: case EPERM: return STORAGE_EACCES;
    case EBUSY: case EAGAIN: return STORAGE_EBUSY;
    default: return STORAGE_EIO;
  }
}

/* Records "<op> <name>: <text>" as the last failure and returns the
** STORAGE_* code for errno value e. */
static int posixFail(const char *zOp, const char *zName, int e){
  snprintf(zErrMsg, sizeof(zErrMsg), "%s %s: %s", zOp, zName, strerror(e));
  return posixCode(e);
}

/* Records a failure that has no errno (bad handle, short write). */
static int posixFailMsg(int rc, const char *zFmt, ...){
  va_list ap;
  va_start(ap, zFmt);
  vsnprintf(zErrMsg, sizeof(zErrMsg), zFmt, ap);
  va_end(ap);
  return rc;
}

/* The slot of handle fd, or NULL (with the error recorded) when fd is not
** a live handle. */
static PosixFile *posixFile(int fd, const char *zOp){
  if( fd<0 || fd>=POSIX_MAX_FILES || !aFile[fd].bUsed ){
    posixFailMsg(STORAGE_EIO, "%s: bad storage handle %d", zOp, fd);
    return 0;
  }
  return &aFile[fd];
}

/* fsyncs the directory holding zPath, so that a file just created there
** keeps its name after a crash. Best effort: some file systems refuse to
** fsync a directory (EINVAL), and the file itself is fine either way. */
static void posixSyncDir(const char *zPath){
  char zDir[4096];
  const char *zSlash = strrchr(zPath, '/');
  size_t n;
  int dfd;
  if( zSlash==0 ){
    strcpy(zDir, ".");
  }else{
    n = zSlash==zPath ? 1 : (size_t)(zSlash - zPath);
    if( n>=sizeof(zDir) ) return;
    memcpy(zDir, zPath, n);
    zDir[n] = 0;
  }
  do{ dfd = open(zDir, O_RDONLY|O_DIRECTORY|O_CLOEXEC); }while( dfd<0 && errno==EINTR );
  if( dfd<0 ) return;
  while( fsync(dfd)!=0 && errno==EINTR ){}
  close(dfd);
}

/* Takes the whole-file write lock that keeps other processes out.
** 0 on success (or when the file system has no locks), else a code. */
static int posixLockFile(int osfd, const char *zPath){
  struct flock lk;
  memset(&lk, 0, sizeof(lk));
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;   /* l_start 0, l_len 0: the whole file */
  while( fcntl(osfd, F_SETLK, &lk)!=0 ){
    if( errno==EINTR ) continue;
    if( errno==EACCES || errno==EAGAIN ){
      return posixFailMsg(STORAGE_EBUSY,
          "open %s: the file is held by another process", zPath);
    }
    return 0;   /* no locking here (ENOLCK, ...): open unlocked */
  }
  return 0;
}

int storage_open(const char *zPath, int flags, int *pFd){
  int i, slot = -1, osfd, bCreated = 0, rc;
  struct stat st;

  *pFd = -1;
  for(i=0; i<POSIX_MAX_FILES; i++){
    if( !aFile[i].bUsed ){ slot = i; break; }
  }
  if( slot<0 ){
    return posixFailMsg(STORAGE_EIO, "open %s: more than %d files open",
                        zPath, POSIX_MAX_FILES);
  }

  /* Already open in this process: share that descriptor (and its lock).
  ** This must be decided before open(): closing a second descriptor of
  ** the file would drop the process's fcntl() lock on it. */
  if( stat(zPath, &st)==0 ){
    for(i=0; i<POSIX_MAX_FILES; i++){
      if( aFile[i].bUsed && aFile[i].dev==st.st_dev && aFile[i].ino==st.st_ino ){
        aFile[slot] = aFile[i];
        snprintf(aFile[slot].zName, sizeof(aFile[slot].zName), "%s", zPath);
        *pFd = slot;
        return STORAGE_OK;
      }
    }
  }

  /* Open without O_CREAT first, so we know whether we created the file
  ** (and must sync its directory); O_EXCL settles a race with a creator. */
  for(;;){
    osfd = open(zPath, O_RDWR|O_CLOEXEC);
    if( osfd>=0 ) break;
    if( errno==EINTR ) continue;
    if( errno!=ENOENT || !(flags & STORAGE_CREATE) ){
      return posixFail("open", zPath, errno);
    }
    osfd = open(zPath, O_RDWR|O_CLOEXEC|O_CREAT|O_EXCL, 0644);
    if( osfd>=0 ){ bCreated = 1; break; }
    if( errno!=EEXIST && errno!=EINTR ) return posixFail("create", zPath, errno);
  }
  if( bCreated ) posixSyncDir(zPath);

  if( fstat(osfd, &st)!=0 ){
    rc = posixFail("stat", zPath, errno);
    close(osfd);
    return rc;
  }
  rc = posixLockFile(osfd, zPath);
  if( rc ){
    close(osfd);
    return rc;
  }

  aFile[slot].bUsed = 1;
  aFile[slot].osfd = osfd;
  aFile[slot].dev = st.st_dev;
  aFile[slot].ino = st.st_ino;
  snprintf(aFile[slot].zName, sizeof(aFile[slot].zName), "%s", zPath);
  *pFd = slot;
  return STORAGE_OK;
}

int storage_close(int fd){
  PosixFile *p = posixFile(fd, "close");
  int i, rc = STORAGE_OK;
  if( p==0 ) return STORAGE_EIO;
  p->bUsed = 0;
  for(i=0; i<POSIX_MAX_FILES; i++){
    if( aFile[i].bUsed && aFile[i].osfd==p->osfd ) return STORAGE_OK;
  }
  /* Last handle on this descriptor. close() is not retried on EINTR: on
  ** Linux the descriptor is gone either way. */
  if( close(p->osfd)!=0 && errno!=EINTR ) rc = posixFail("close", p->zName, errno);
  return rc;
}

int storage_read(int fd, void *p, int n, int64_t iOff){
  PosixFile *pFile = posixFile(fd, "read");
  int nDone = 0;
  if( pFile==0 ) return STORAGE_EIO;
  if( n<0 || iOff<0 ) return posixFailMsg(STORAGE_EIO, "read %s: bad range", pFile->zName);
  while( nDone<n ){
    ssize_t got = pread(pFile->osfd, (char*)p + nDone, (size_t)(n - nDone),
                        (off_t)(iOff + nDone));
    if( got<0 ){
      if( errno==EINTR ) continue;
      return posixFail("read", pFile->zName, errno);
    }
    if( got==0 ) break;   /* end of file: the caller zero-fills */
    nDone += (int)got;
  }
  return nDone;
}

int storage_write(int fd, const void *p, int n, int64_t iOff){
  PosixFile *pFile = posixFile(fd, "write");
  int nDone = 0;
  if( pFile==0 ) return STORAGE_EIO;
  if( n<0 || iOff<0 ) return posixFailMsg(STORAGE_EIO, "write %s: bad range", pFile->zName);
  while( nDone<n ){
    ssize_t put = pwrite(pFile->osfd, (const char*)p + nDone, (size_t)(n - nDone),
                         (off_t)(iOff + nDone));
    if( put<0 ){
      if( errno==EINTR ) continue;
      return posixFail("write", pFile->zName, errno);
    }
    if( put==0 ) return posixFail("write", pFile->zName, ENOSPC);
    nDone += (int)put;
  }
  return STORAGE_OK;
}

int storage_truncate(int fd, int64_t size){
  PosixFile *p = posixFile(fd, "truncate");
  if( p==0 ) return STORAGE_EIO;
  if( size<0 ) return posixFailMsg(STORAGE_EIO, "truncate %s: bad size", p->zName);
  while( ftruncate(p->osfd, (off_t)size)!=0 ){
    if( errno!=EINTR ) return posixFail("truncate", p->zName, errno);
  }
  return STORAGE_OK;
}

int storage_size(int fd, int64_t *pSize){
  PosixFile *p = posixFile(fd, "stat");
  struct stat st;
  if( p==0 ) return STORAGE_EIO;
  if( fstat(p->osfd, &st)!=0 ) return posixFail("stat", p->zName, errno);
  *pSize = (int64_t)st.st_size;
  return STORAGE_OK;
}

int storage_sync(int fd){
  PosixFile *p = posixFile(fd, "sync");
  if( p==0 ) return STORAGE_EIO;
  /* fsync, not fdatasync: SQLite's files change size (journal, WAL), and
  ** the size is metadata that fdatasync may skip on some systems. */
  while( fsync(p->osfd)!=0 ){
    if( errno!=EINTR ) return posixFail("sync", p->zName, errno);
  }
  return STORAGE_OK;
}

int storage_delete(const char *zPath){
  if( unlink(zPath)!=0 ) return posixFail("delete", zPath, errno);
  return STORAGE_OK;
}

int storage_exists(const char *zPath){
  struct stat st;
  if( stat(zPath, &st)==0 ) return 1;
  if( errno==ENOENT || errno==ENOTDIR ) return 0;
  return posixFail("stat", zPath, errno);
}

const char *storage_errmsg(void){
  return zErrMsg;
}
