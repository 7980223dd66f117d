// vfs-suite-worker.js -- the dedicated module worker of tests/e2e/
// vfs-suite.test.js (started by vfs-suite.html). It runs, next to real
// OPFS access handles:
//   - the VFS suite (tests/shared/vfs-suite.js on build/test/vfs_suite.mjs)
//     over openOpfsStorage('vfs-suite'), the package's own js-glue/storage-opfs.js;
//   - the OPFS primitive cases (opfs-primitives.js);
//   - openOpfsStorage() and raw access handles on request, so the test can
//     hold files from one worker and open them from another.
//
// Messages: in {id, op, args}; out {id, ok: true, result} or
// {id, ok: false, error: {name, message, code}}.

import createVfsSuiteModule from '/test-build/vfs_suite.mjs';
import * as api from '/hiroba/js-glue/storage-opfs.js';
import { VFS_TESTS, runVfsTest } from '/shared/vfs-suite.js';
import { PRIMITIVE_CASES } from './opfs-primitives.js';

let suite = null;            // { storage, module } while the suite runs
const pools = new Map();     // key -> storage from openOpfsStorage
const raw = new Map();       // "dir/file" -> a FileSystemSyncAccessHandle

const ops = {
  ping: () => 'pong',

  async 'suite-start'() {
    if (suite) throw new Error('suite already started');
    const storage = await api.openOpfsStorage('vfs-suite');
    try {
      const module = await createVfsSuiteModule({ hirobaStorage: storage });
      suite = { storage, module };
    } catch (err) {
      storage.release();
      throw err;
    }
    return { path: storage.path, tests: VFS_TESTS.length };
  },

  'suite-run'({ fn }) {
    if (!suite) throw new Error('suite not started');
    const r = runVfsTest(suite.module, fn);
    // What the files hold afterwards: every test must leave them empty.
    r.sizes = suite.storage.files.map((f) => {
      const fd = suite.storage.open(f, api.STORAGE_CREATE);
      const n = suite.storage.size(fd);
      suite.storage.close(fd);
      return n;
    });
    return r;
  },

  'suite-stop'() {
    suite?.storage.release();
    suite = null;
    return true;
  },

  async primitive({ name }) {
    const c = PRIMITIVE_CASES.find((x) => x.name === name);
    if (!c) throw new Error(`no such case: ${name}`);
    await c.run(api);
    return true;
  },

  // openOpfsStorage(name, options) kept under `key`; a rejection comes
  // back as a result, so the test can look at its code and message.
  async open({ key, name, options }) {
    try {
      const s = await api.openOpfsStorage(name, options);
      pools.set(key, s);
      return { opened: true, path: s.path, files: s.files };
    } catch (err) {
      return { opened: false, name: err.name, code: err.code, message: err.message };
    }
  },

  release({ key }) {
    const s = pools.get(key);
    if (!s) return false;
    s.release();
    pools.delete(key);
    return true;
  },

  // Writes text into the pool's database file and reads it back (proof
  // that the pool under `key` really holds working handles).
  roundTrip({ key, value }) {
    const s = pools.get(key);
    const fd = s.open(s.path, api.STORAGE_CREATE);
    const bytes = new TextEncoder().encode(value);
    const rc = s.write(fd, bytes, 0);
    const back = new Uint8Array(bytes.length);
    const n = s.read(fd, back, 0);
    s.close(fd);
    return { rc, n, text: new TextDecoder().decode(back) };
  },

  // The first `length` bytes of the pool's database file, as text.
  peek({ key, length }) {
    const s = pools.get(key);
    const fd = s.open(s.path, 0);
    if (fd < 0) return s.lastError();
    const back = new Uint8Array(length);
    const n = s.read(fd, back, 0);
    s.close(fd);
    return new TextDecoder().decode(back.subarray(0, Math.max(n, 0)));
  },

  // Takes one raw access handle, as another tab's engine would.
  async hold({ dir = 'hiroba', file }) {
    const root = await navigator.storage.getDirectory();
    const d = await root.getDirectoryHandle(dir, { create: true });
    const fh = await d.getFileHandle(file, { create: true });
    try {
      raw.set(`${dir}/${file}`, await fh.createSyncAccessHandle());
      return { held: true };
    } catch (err) {
      return { held: false, name: err.name, message: err.message };
    }
  },

  unhold({ dir = 'hiroba', file }) {
    const h = raw.get(`${dir}/${file}`);
    if (!h) return false;
    h.close();
    raw.delete(`${dir}/${file}`);
    return true;
  },
};

self.onmessage = async ({ data }) => {
  const { id, op, args } = data ?? {};
  try {
    if (!Object.hasOwn(ops, op)) throw new Error(`unknown op ${op}`);
    const result = await ops[op](args ?? {});
    self.postMessage({ id, ok: true, result });
  } catch (err) {
    // The message with where it came from: Chromium's stack starts with
    // "Error: message", Firefox's holds the frames alone.
    const stack = err?.stack ? String(err.stack) : '';
    const message = stack.startsWith(String(err)) ? stack : [String(err), stack].filter(Boolean).join('\n');
    self.postMessage({
      id,
      ok: false,
      error: { name: err?.name ?? 'Error', message, code: err?.code },
    });
  }
};
