/*
** storage_js.c -- the primitives of storage.h in the wasm build: each one
** calls a function that JavaScript supplies, which forwards to the object
** the host passed as Module.hirobaStorage (node:fs in js-glue/
** storage-node.js, OPFS access handles in the browser worker).
**
** Twin file: js-glue/storage-library.js implements the imports declared
** below. This list must match the other file.
**
** Offsets and sizes cross the boundary as doubles (exact below 2^53), so
** the module needs no -sWASM_BIGINT. The JS side catches every exception
** and answers with a STORAGE_* code; the message waits in JS until
** storage_errmsg() asks for it.
**
** Left out: nothing of storage.h; file handles are whatever small
** non-negative numbers the JS object hands out.
**
** Needs: Emscripten, linked with --js-library js-glue/storage-library.js.
*/
#include "storage.h"

#include <string.h>

/* ---- imports from js-glue/storage-library.js (this list must match) ---- */
/* open(path, flags) -> handle >= 0, or a negative STORAGE_* code */
extern int hiroba_js_open(const char *zPath, int flags);
/* close(handle) -> 0 or a negative code */
extern int hiroba_js_close(int fd);
/* read(handle, p, n, offset) -> bytes read (short at end of file) or < 0 */
extern int hiroba_js_read(int fd, void *p, int n, double iOff);
/* write(handle, p, n, offset) -> 0 or a negative code */
extern int hiroba_js_write(int fd, const void *p, int n, double iOff);
/* truncate(handle, size) -> 0 or a negative code */
extern int hiroba_js_truncate(int fd, double size);
/* size(handle) -> size in bytes, or a negative code */
extern double hiroba_js_size(int fd);
/* sync(handle) -> 0 or a negative code */
extern int hiroba_js_sync(int fd);
/* delete(path) -> 0 or a negative code (STORAGE_ENOENT when missing) */
extern int hiroba_js_delete(const char *zPath);
/* exists(path) -> 1, 0, or a negative code */
extern int hiroba_js_exists(const char *zPath);
/* Copies the last failure's message into zBuf (NUL-terminated, truncated
** to nBuf bytes). */
extern void hiroba_js_errmsg(char *zBuf, int nBuf);

static char zErrMsg[512];   /* storage_errmsg()'s copy of the JS message */

/* Anything but a known code from JS is an I/O error. */
static int jsCode(int rc){
  return rc<STORAGE_EACCES ? STORAGE_EIO : rc;
}

int storage_open(const char *zPath, int flags, int *pFd){
  int rc = hiroba_js_open(zPath, flags);
  if( rc<0 ){
    *pFd = -1;
    return jsCode(rc);
  }
  *pFd = rc;
  return STORAGE_OK;
}

int storage_close(int fd){
  int rc = hiroba_js_close(fd);
  return rc<0 ? jsCode(rc) : STORAGE_OK;
}

int storage_read(int fd, void *p, int n, int64_t iOff){
  int rc = hiroba_js_read(fd, p, n, (double)iOff);
  if( rc<0 ) return jsCode(rc);
  return rc>n ? n : rc;
}

int storage_write(int fd, const void *p, int n, int64_t iOff){
  int rc = hiroba_js_write(fd, p, n, (double)iOff);
  return rc<0 ? jsCode(rc) : STORAGE_OK;
}

int storage_truncate(int fd, int64_t size){
  int rc = hiroba_js_truncate(fd, (double)size);
  return rc<0 ? jsCode(rc) : STORAGE_OK;
}

int storage_size(int fd, int64_t *pSize){
  double r = hiroba_js_size(fd);
  /* The JS side returns an integer or a code; still, never convert a NaN
  ** or out-of-range double (undefined behaviour in C). */
  if( !(r>=0 && r<9007199254740992.0) ){
    return r<0 && r>=STORAGE_EACCES ? (int)r : STORAGE_EIO;
  }
  *pSize = (int64_t)r;
  return STORAGE_OK;
}

int storage_sync(int fd){
  int rc = hiroba_js_sync(fd);
  return rc<0 ? jsCode(rc) : STORAGE_OK;
}

int storage_delete(const char *zPath){
  int rc = hiroba_js_delete(zPath);
  return rc<0 ? jsCode(rc) : STORAGE_OK;
}

int storage_exists(const char *zPath){
  int rc = hiroba_js_exists(zPath);
  return rc<0 ? jsCode(rc) : rc>0;
}

const char *storage_errmsg(void){
  hiroba_js_errmsg(zErrMsg, (int)sizeof(zErrMsg));
  zErrMsg[sizeof(zErrMsg)-1] = 0;
  return zErrMsg;
}
