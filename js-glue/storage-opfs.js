// storage-opfs.js -- the storage primitives of the wasm engine over the
// Origin Private File System, for the browser worker (worker.js):
//
//   const storage = await openOpfsStorage('default');
//   const module = await createHirobaModule({ hirobaStorage: storage });
//   ... hiroba_open(storage.path) ...
//   storage.release();
//
// The interface (open, close, read, write, truncate, size, sync, delete,
// exists, lastError) and its codes are documented at the top of
// storage-library.js, which calls it from wasm; storage.h is the C side;
// storage-node.js is the same interface over node:fs. Every primitive is
// synchronous, returns a number and never throws: a failure becomes a
// negative STORAGE_* code and lastError() tells what happened.
//
// Only in a dedicated Worker: createSyncAccessHandle() does not exist on
// the main thread (nor in shared or service workers).
//
// Choices (the idea of SQLite's opfs-sahpool VFS):
// - A pool fixed at open time. getFileHandle() and createSyncAccessHandle()
//   are async and the VFS is synchronous, so openOpfsStorage() opens every
//   file one database may need up front -- NAME.db, NAME.db-journal and
//   NAME.db-wal in the folder `directory` of the origin's OPFS -- and keeps
//   their access handles until release(). open() hands out small numbers
//   for those three paths only; close() forgets the number, not the handle.
// - "Missing" means empty. removeEntry() is async too, so delete() truncates
//   the file to zero bytes (and flushes), exists() is size > 0, and open()
//   without STORAGE_CREATE refuses an empty file with -3, exactly as it
//   would a deleted one. SQLite never needs an empty file to "exist": an
//   empty database and an empty journal mean the same as none.
// - Exclusive by construction: an access handle is exclusive, so while
//   this object holds the files, another tab's or worker's openOpfsStorage()
//   of the same name is refused with code -4 (STORAGE_EBUSY). When a holder
//   dies the browser frees its handles a little later (15-22 ms measured),
//   which is what { retryMs } is for.
//
// Left out: any file beyond the three (SQLite's temp files live in memory
// in vfs.c; ATTACH and its super-journals are not supported), the
// non-exclusive 'readwrite-unsafe' handle mode (two owners is what the
// design rules out), and removing the OPFS entries (release() keeps them).

import {
  STORAGE_EIO, STORAGE_EFULL, STORAGE_ENOENT, STORAGE_EBUSY, STORAGE_EACCES, STORAGE_CREATE,
} from './storage-codes.js';

export * from './storage-codes.js';

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
// Pause between two acquisition attempts while { retryMs } lasts.
const RETRY_PAUSE_MS = 10;

// The STORAGE_* code for an exception thrown by an access handle.
function codeOf(err) {
  switch (err && err.name) {
    case 'QuotaExceededError': return STORAGE_EFULL;
    // Firefox's word for it when a truncate would pass the origin's quota
    // (or the disk is full); its writes there write 0 bytes instead.
    case 'NS_ERROR_FILE_NO_DEVICE_SPACE': return STORAGE_EFULL;
    // On an open handle, NoModificationAllowedError means another handle
    // (another tab or worker) holds the file.
    case 'NoModificationAllowedError': return STORAGE_EBUSY;
    case 'NotAllowedError':
    case 'SecurityError': return STORAGE_EACCES;
    // InvalidStateError: the handle was closed under us; an I/O error.
    default: return STORAGE_EIO;
  }
}

function describe(err) {
  if (err && err.name && err.message) return `${err.name}: ${err.message}`;
  // Firefox's NS_ERROR_* exceptions have a name and an empty message.
  if (err && err.name) return err.name;
  return String(err && err.message ? err.message : err);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Acquires one file's sync access handle; retries while another holder
// has it and the deadline has not passed.
async function acquire(dir, file, deadline) {
  const fileHandle = await dir.getFileHandle(file, { create: true });
  for (;;) {
    try {
      return await fileHandle.createSyncAccessHandle();
    } catch (err) {
      if (err?.name !== 'NoModificationAllowedError' || Date.now() >= deadline) throw err;
    }
    await sleep(RETRY_PAUSE_MS);
  }
}

// Opens the pool of database `name` (its .db, .db-journal and .db-wal) in
// the OPFS folder `directory` (created when missing). Resolves to the
// storage object: the primitives, plus `path` (the name to give
// hiroba_open), `files` (the three paths) and release() (closes every
// handle; idempotent). Rejects with a TypeError for a bad name or
// directory, and otherwise with an Error whose .code is -4 (STORAGE_EBUSY)
// when another tab or worker holds one of the files -- after retrying for
// up to retryMs -- or -1 for anything else; nothing stays acquired then.
export async function openOpfsStorage(name, { directory = 'hiroba', retryMs = 0 } = {}) {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new TypeError(`openOpfsStorage: name must be 1-64 of A-Z a-z 0-9 . _ - (got ${JSON.stringify(name)})`);
  }
  if (typeof directory !== 'string' || !NAME_RE.test(directory) || directory === '.' || directory === '..') {
    throw new TypeError(`openOpfsStorage: directory must be 1-64 of A-Z a-z 0-9 . _ - other than . and .. (got ${JSON.stringify(directory)})`);
  }
  if (!Number.isFinite(retryMs) || retryMs < 0) {
    throw new TypeError(`openOpfsStorage: retryMs must be a number >= 0 (got ${retryMs})`);
  }
  const dbPath = `${name}.db`;
  const paths = [dbPath, `${dbPath}-journal`, `${dbPath}-wal`];
  const handles = new Map();   // path -> FileSystemSyncAccessHandle
  const deadline = Date.now() + retryMs;
  let current = null;          // the file that failed, for the message
  let existed = true;          // the .db file was there before this open
  let dir = null;
  try {
    if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory) {
      throw new Error('OPFS is not available here (navigator.storage.getDirectory is missing)');
    }
    if (typeof FileSystemFileHandle === 'undefined'
        || typeof FileSystemFileHandle.prototype.createSyncAccessHandle !== 'function') {
      throw new Error('createSyncAccessHandle() is missing: OPFS storage works only in a dedicated Worker');
    }
    const root = await navigator.storage.getDirectory();
    dir = await root.getDirectoryHandle(directory, { create: true });
    // Whether the database file was there before (an existing one that is
    // empty lost its identity: see foundEmpty below) is known before it is
    // created. The three files are acquired at once: each acquisition is
    // two round trips to the browser's storage, and at start-up nothing
    // waits on more of them than it must.
    const checked = dir.getFileHandle(dbPath).catch((err) => {
      if (err?.name !== 'NotFoundError') throw err;
      existed = false;
    });
    const settled = await Promise.allSettled(paths.map((file) => (file === dbPath
      ? checked.then(() => acquire(dir, file, deadline))
      : acquire(dir, file, deadline))));
    settled.forEach((r, i) => { if (r.status === 'fulfilled') handles.set(paths[i], r.value); });
    const failed = settled.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      current = paths[failed];
      throw settled[failed].reason;
    }
  } catch (err) {
    for (const h of handles.values()) {
      try { h.close(); } catch { /* closing what we hold; nothing to report */ }
    }
    // A first open that failed leaves no empty files behind: the next open
    // would take them for a database that lost its identity.
    if (!existed) {
      for (const file of handles.keys()) {
        await dir?.removeEntry(file).catch(() => { /* held by someone else; it stays */ });
      }
    }
    const where = current ? `${directory}/${current}` : directory;
    if (err?.name === 'NoModificationAllowedError') {
      throw Object.assign(new Error(`openOpfsStorage: ${where} is held by another tab or worker `
        + `(${describe(err)})${retryMs ? `; still held after retrying for ${retryMs} ms` : ''}`),
      { code: STORAGE_EBUSY, cause: err });
    }
    throw Object.assign(new Error(`openOpfsStorage: cannot open ${where}: ${describe(err)}`),
      { code: STORAGE_EIO, cause: err });
  }
  // An existing database and its WAL both empty: it holds no identity.
  const foundEmpty = existed && handles.get(dbPath).getSize() === 0 && handles.get(`${dbPath}-wal`).getSize() === 0;
  return createPool(handles, { directory, path: dbPath, files: paths, foundEmpty, created: !existed });
}

// The storage object over the acquired handles (path -> handle).
function createPool(handles, { directory, path, files, foundEmpty = false, created = false }) {
  const fds = new Map();   // fd -> path, for every open()ed number
  let nextFd = 1;
  let released = false;
  let lastError = 'no error';

  function failMsg(code, msg) {
    lastError = msg;
    return code;
  }

  function fail(op, target, err) {
    return failMsg(codeOf(err), `${op} ${directory}/${target}: ${describe(err)}`);
  }

  function gone(op) {
    return failMsg(STORAGE_EIO, `${op}: the OPFS storage was released`);
  }

  // The path and handle behind fd, or null with the error recorded.
  function fileOf(fd, op) {
    if (released) {
      gone(op);
      return null;
    }
    const p = fds.get(fd);
    if (p === undefined) {
      failMsg(STORAGE_EIO, `${op}: bad storage handle ${fd}`);
      return null;
    }
    return { path: p, handle: handles.get(p) };
  }

  const validView = (view) => view instanceof Uint8Array;
  const validOffset = (n) => Number.isSafeInteger(n) && n >= 0;

  const self = {
    path,
    files: files.slice(),
    foundEmpty,
    created,   // this open made the .db file (a new key may be adopted)

    open(file, flags) {
      if (released) return gone(`open ${file}`);
      const p = String(file);
      const handle = handles.get(p);
      if (!handle) {
        return failMsg(STORAGE_ENOENT, `open ${p}: not a file of this OPFS pool `
          + `(it holds only ${files.join(', ')} in ${directory}/)`);
      }
      try {
        if (!(flags & STORAGE_CREATE) && handle.getSize() === 0) {
          return failMsg(STORAGE_ENOENT, `open ${directory}/${p}: no such file (empty, or deleted)`);
        }
      } catch (err) {
        return fail('open', p, err);
      }
      const fd = nextFd++;
      fds.set(fd, p);
      return fd;
    },

    close(fd) {
      const f = fileOf(fd, 'close');
      if (!f) return STORAGE_EIO;
      fds.delete(fd);   // the access handle stays in the pool
      return 0;
    },

    read(fd, view, offset) {
      const f = fileOf(fd, 'read');
      if (!f) return STORAGE_EIO;
      if (!validView(view) || !validOffset(offset)) {
        return failMsg(STORAGE_EIO, `read ${f.path}: bad arguments`);
      }
      try {
        let done = 0;
        while (done < view.length) {
          const n = f.handle.read(view.subarray(done), { at: offset + done });
          if (!(n > 0)) break;   // end of file
          done += n;
        }
        return done;
      } catch (err) {
        return fail('read', f.path, err);
      }
    },

    write(fd, view, offset) {
      const f = fileOf(fd, 'write');
      if (!f) return STORAGE_EIO;
      if (!validView(view) || !validOffset(offset)) {
        return failMsg(STORAGE_EIO, `write ${f.path}: bad arguments`);
      }
      try {
        let done = 0;
        while (done < view.length) {
          const n = f.handle.write(view.subarray(done), { at: offset + done });
          if (!(n > 0)) return failMsg(STORAGE_EFULL, `write ${directory}/${f.path}: no bytes written (storage quota or disk full)`);
          done += n;
        }
        return 0;
      } catch (err) {
        return fail('write', f.path, err);
      }
    },

    truncate(fd, size) {
      const f = fileOf(fd, 'truncate');
      if (!f) return STORAGE_EIO;
      if (!validOffset(size)) return failMsg(STORAGE_EIO, `truncate ${f.path}: bad size ${size}`);
      try {
        f.handle.truncate(size);
        return 0;
      } catch (err) {
        return fail('truncate', f.path, err);
      }
    },

    size(fd) {
      const f = fileOf(fd, 'size');
      if (!f) return STORAGE_EIO;
      try {
        return f.handle.getSize();
      } catch (err) {
        return fail('size of', f.path, err);
      }
    },

    sync(fd) {
      const f = fileOf(fd, 'sync');
      if (!f) return STORAGE_EIO;
      try {
        f.handle.flush();
        return 0;
      } catch (err) {
        return fail('sync', f.path, err);
      }
    },

    // Deleting is emptying: OPFS can only remove an entry asynchronously,
    // and not while its access handle is open.
    delete(file) {
      if (released) return gone(`delete ${file}`);
      const p = String(file);
      const handle = handles.get(p);
      if (!handle) return failMsg(STORAGE_ENOENT, `delete ${p}: no such file (not in this OPFS pool)`);
      try {
        if (handle.getSize() === 0) {
          return failMsg(STORAGE_ENOENT, `delete ${directory}/${p}: no such file (already empty)`);
        }
        handle.truncate(0);
        handle.flush();
        return 0;
      } catch (err) {
        return fail('delete', p, err);
      }
    },

    exists(file) {
      if (released) return gone(`exists ${file}`);
      const handle = handles.get(String(file));
      if (!handle) return 0;
      try {
        return handle.getSize() > 0 ? 1 : 0;
      } catch (err) {
        return fail('exists', String(file), err);
      }
    },

    lastError: () => lastError,

    // Closes every access handle, so another worker or tab can open the
    // files. The primitives then fail with -1. Safe to call again.
    release() {
      if (released) return;
      released = true;
      fds.clear();
      for (const h of handles.values()) {
        try { h.flush(); } catch { /* closing anyway */ }
        try { h.close(); } catch { /* already closed */ }
      }
    },
  };
  return self;
}
