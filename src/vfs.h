/*
** vfs.h -- Hiroba's SQLite VFS, on the primitives of storage.h.
**
** SQLite is built with SQLITE_OS_OTHER=1, so it has no OS layer of its own:
** vfs.c provides sqlite3_os_init()/sqlite3_os_end() and registers this VFS
** (named "hiroba") as the default, in native and wasm builds alike. The
** database is meant to be used by one connection in
** PRAGMA locking_mode=EXCLUSIVE (the worker owns it; see store.c), so
** locking is tracked in memory and no shared-memory (xShm*) methods exist.
*/
#ifndef HIROBA_VFS_H
#define HIROBA_VFS_H

/* Registers the VFS as the default; SQLITE_OK or an SQLite error code.
** Called by sqlite3_os_init(); safe to call more than once. */
int vfs_register(void);

/* The message of the VFS's most recent failure since vfs_clear_error()
** (path, operation and the storage layer's reason), or "" when none.
** SQLite's own messages ("unable to open database file") do not carry
** it, so the engine appends it to the errors it reports. */
const char *vfs_last_error(void);
/* Forgets the last failure; the engine calls it as each API call starts,
** so a message never outlives the call it belongs to. */
void vfs_clear_error(void);

#endif
