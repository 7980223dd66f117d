/*
** storage.h -- the few synchronous storage primitives the SQLite VFS
** (vfs.c) asks of its platform. All SQLite semantics (locking, journal
** handling, short reads, error mapping) stay in vfs.c; a platform only
** stores bytes in named files.
**
** Implementations (this list must match them):
**   storage_posix.c   native builds: POSIX open/pread/pwrite/fsync
**   storage_js.c      wasm builds: forwards to the object that JavaScript
**                     passes as Module.hirobaStorage
**                     (js-glue/storage-node.js over node:fs;
**                      the OPFS one comes with the browser worker)
**
** Offsets and sizes are int64_t in C; across the wasm boundary they travel
** as doubles (exact below 2^53) so no BigInt is needed.
*/
#ifndef HIROBA_STORAGE_H
#define HIROBA_STORAGE_H

#include <stdint.h>

/* Codes returned by every primitive (0 is success). */
#define STORAGE_OK       0
#define STORAGE_EIO     (-1)  /* any other I/O failure */
#define STORAGE_EFULL   (-2)  /* disk full / quota exceeded */
#define STORAGE_ENOENT  (-3)  /* no such file (open without CREATE) */
#define STORAGE_EBUSY   (-4)  /* the file is held by another owner */
#define STORAGE_EACCES  (-5)  /* permission denied / read-only */

/* Flags for storage_open. */
#define STORAGE_CREATE   1    /* create the file when missing */

/* Opens the file named zPath; *pFd receives a small non-negative handle. */
int storage_open(const char *zPath, int flags, int *pFd);
/* Closes a handle; always releases it, even when it reports an error. */
int storage_close(int fd);
/* Reads up to n bytes at iOff; returns the count read (short at end of
** file: the VFS zero-fills) or a negative code. */
int storage_read(int fd, void *p, int n, int64_t iOff);
/* Writes all n bytes at iOff (growing the file); 0 or a negative code. */
int storage_write(int fd, const void *p, int n, int64_t iOff);
/* Sets the file's size (shrinking or zero-extending); 0 or negative. */
int storage_truncate(int fd, int64_t size);
/* Stores the file's size in *pSize; 0 or negative. */
int storage_size(int fd, int64_t *pSize);
/* Makes every write so far durable; 0 or negative. */
int storage_sync(int fd);
/* Removes the named file; STORAGE_ENOENT when it does not exist. */
int storage_delete(const char *zPath);
/* 1 when the named file exists (and is non-empty when it is a journal the
** platform cannot really delete), 0 when not, negative on error. */
int storage_exists(const char *zPath);
/* Text of the most recent failure, for xGetLastError; never NULL. */
const char *storage_errmsg(void);

#endif
