// storage-node.js -- the storage primitives of the wasm engine over
// node:fs, for the Node entry (node.js) and tests:
//
//   createHirobaModule({ wasmBinary, hirobaStorage: createNodeStorage() })
//
// The interface (open, close, read, write, truncate, size, sync, delete,
// exists, lastError) and its codes are documented at the top of
// storage-library.js, which calls it from wasm; storage.h is the C side.
// Every method is synchronous, returns a number and never throws: a failure
// becomes a negative STORAGE_* code and lastError() tells what happened.
//
// Choices:
// - Files open read-write, created when asked (O_CREAT without O_TRUNC).
//   A newly created file gets one fsync of its directory, so its name
//   survives a crash (SQLite relies on a hot journal still being there).
// - sync() is fs.fsyncSync: Emscripten's own fdatasync does nothing, so
//   we never rely on it.
// - Like OPFS, a file is held by one owner at a time within this process:
//   while a storage object (one engine instance) has a path open, another
//   storage object opening it gets -4 (busy) instead of two SQLite
//   instances writing one file with no shared locks. Node has no file
//   locks, so two processes are not kept apart -- one process per database.

import fs from 'node:fs';
import path from 'node:path';

import {
  STORAGE_EIO, STORAGE_EFULL, STORAGE_ENOENT, STORAGE_EBUSY, STORAGE_EACCES, STORAGE_CREATE,
} from './storage-codes.js';

export * from './storage-codes.js';

// errno code -> STORAGE_* code
const CODES = {
  ENOSPC: STORAGE_EFULL,
  EDQUOT: STORAGE_EFULL,
  ENOENT: STORAGE_ENOENT,
  EACCES: STORAGE_EACCES,
  EPERM: STORAGE_EACCES,
  EROFS: STORAGE_EACCES,
  EBUSY: STORAGE_EBUSY,
  EAGAIN: STORAGE_EBUSY,
};

// Resolved path -> the storage object that has it open, with a count.
// Shared by every storage object of this process (module scope).
const owners = new Map();

// The name under which a file is owned: its folder's real path (symlinks
// resolved, so two spellings of one folder are one key) and its own name.
// (Hard links to one file are still two keys; Node has no file locks to
// catch them.)
function ownerKey(p) {
  const abs = path.resolve(p);
  try {
    return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
  } catch {
    return abs; // no such folder: the open fails anyway
  }
}

export function createNodeStorage() {
  const files = new Map();   // fd -> { path, key } for every open handle
  let lastError = 'no error';
  const self = {};

  function fail(op, target, err) {
    const code = (err && CODES[err.code]) || STORAGE_EIO;
    const text = err && err.message ? err.message : String(err);
    lastError = `${op} ${target}: ${text}`;
    return code;
  }

  function failMsg(code, msg) {
    lastError = msg;
    return code;
  }

  function fileOf(fd, op) {
    const f = files.get(fd);
    if (!f) failMsg(STORAGE_EIO, `${op}: bad storage handle ${fd}`);
    return f;
  }

  function validView(view) {
    return view instanceof Uint8Array;
  }

  function validOffset(n) {
    return Number.isSafeInteger(n) && n >= 0;
  }

  function syncDir(file) {
    let dfd = -1;
    try {
      dfd = fs.openSync(path.dirname(file), 'r');
      fs.fsyncSync(dfd);
    } catch {
      // Best effort: some systems cannot fsync a directory; the file is
      // fine either way.
    } finally {
      if (dfd >= 0) try { fs.closeSync(dfd); } catch { /* ignore */ }
    }
  }

  self.open = (file, flags) => {
    try {
      const p = String(file);
      const key = ownerKey(p);
      const owner = owners.get(key);
      if (owner && owner.storage !== self) {
        return failMsg(STORAGE_EBUSY,
          `open ${p}: the file is held by another engine instance in this process`);
      }
      const { O_RDWR, O_CREAT, O_EXCL } = fs.constants;
      let fd;
      let created = false;
      for (;;) {
        try {
          fd = fs.openSync(p, O_RDWR);
          break;
        } catch (err) {
          if (err.code !== 'ENOENT' || !(flags & STORAGE_CREATE)) return fail('open', p, err);
        }
        // Missing: create it, exclusively, so we know we did (and sync the
        // directory); EEXIST means someone else just did -- open that.
        try {
          fd = fs.openSync(p, O_RDWR | O_CREAT | O_EXCL, 0o644);
          created = true;
          break;
        } catch (err) {
          if (err.code !== 'EEXIST') return fail('create', p, err);
        }
      }
      if (created) syncDir(p);
      files.set(fd, { path: p, key });
      if (owner) owner.count++;
      else owners.set(key, { storage: self, count: 1 });
      return fd;
    } catch (err) {
      return fail('open', String(file), err);
    }
  };

  self.close = (fd) => {
    const f = fileOf(fd, 'close');
    if (!f) return STORAGE_EIO;
    files.delete(fd);
    const owner = owners.get(f.key);
    if (owner && owner.storage === self && --owner.count === 0) owners.delete(f.key);
    try {
      fs.closeSync(fd);
      return 0;
    } catch (err) {
      return fail('close', f.path, err);
    }
  };

  self.read = (fd, view, offset) => {
    const f = fileOf(fd, 'read');
    if (!f) return STORAGE_EIO;
    if (!validView(view) || !validOffset(offset)) {
      return failMsg(STORAGE_EIO, `read ${f.path}: bad arguments`);
    }
    try {
      let done = 0;
      while (done < view.length) {
        const n = fs.readSync(fd, view, done, view.length - done, offset + done);
        if (n === 0) break;   // end of file
        done += n;
      }
      return done;
    } catch (err) {
      return fail('read', f.path, err);
    }
  };

  self.write = (fd, view, offset) => {
    const f = fileOf(fd, 'write');
    if (!f) return STORAGE_EIO;
    if (!validView(view) || !validOffset(offset)) {
      return failMsg(STORAGE_EIO, `write ${f.path}: bad arguments`);
    }
    try {
      let done = 0;
      while (done < view.length) {
        const n = fs.writeSync(fd, view, done, view.length - done, offset + done);
        if (n <= 0) return failMsg(STORAGE_EFULL, `write ${f.path}: no bytes written`);
        done += n;
      }
      return 0;
    } catch (err) {
      return fail('write', f.path, err);
    }
  };

  self.truncate = (fd, size) => {
    const f = fileOf(fd, 'truncate');
    if (!f) return STORAGE_EIO;
    if (!validOffset(size)) return failMsg(STORAGE_EIO, `truncate ${f.path}: bad size ${size}`);
    try {
      fs.ftruncateSync(fd, size);
      return 0;
    } catch (err) {
      return fail('truncate', f.path, err);
    }
  };

  self.size = (fd) => {
    const f = fileOf(fd, 'size');
    if (!f) return STORAGE_EIO;
    try {
      return fs.fstatSync(fd).size;
    } catch (err) {
      return fail('stat', f.path, err);
    }
  };

  self.sync = (fd) => {
    const f = fileOf(fd, 'sync');
    if (!f) return STORAGE_EIO;
    try {
      fs.fsyncSync(fd);
      return 0;
    } catch (err) {
      return fail('sync', f.path, err);
    }
  };

  self.delete = (file) => {
    try {
      fs.unlinkSync(String(file));
      return 0;
    } catch (err) {
      return fail('delete', String(file), err);
    }
  };

  self.exists = (file) => {
    try {
      return fs.statSync(String(file), { throwIfNoEntry: false }) ? 1 : 0;
    } catch (err) {
      if (err && err.code === 'ENOTDIR') return 0;
      return fail('stat', String(file), err);
    }
  };

  self.lastError = () => lastError;

  return self;
}
