// opfs-primitives.js -- the OPFS storage primitives (js-glue/
// storage-opfs.js) called directly, the way storage-library.js calls them
// from wasm: codes, not exceptions. The cases of tests/node/
// storage-node.test.js, translated to the pool's rules (three files per
// name, "deleted" = empty), plus what only OPFS has (quota, release).
//
// Runs inside a dedicated worker (vfs-suite-worker.js); tests/e2e/
// vfs-suite.test.js imports this file in Node only for the case names, so
// it imports nothing and touches no browser API until a case runs: each
// case gets the module under test as `api`.

function fail(msg) {
  throw new Error(msg);
}

// A 20-line assert: what the cases need, with the values in the message.
const assert = {
  equal(actual, expected, what = '') {
    if (!Object.is(actual, expected)) fail(`${what} expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  },
  ok(value, what = '') {
    if (!value) fail(`${what} expected truthy, got ${JSON.stringify(value)}`);
  },
  match(text, re, what = '') {
    if (typeof text !== 'string' || !re.test(text)) fail(`${what} ${JSON.stringify(text)} does not match ${re}`);
  },
  bytes(actual, expected, what = '') {
    if (actual.length !== expected.length) fail(`${what} length ${actual.length}, expected ${expected.length}`);
    for (let i = 0; i < actual.length; i++) {
      if (actual[i] !== expected[i]) fail(`${what} byte ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  },
  async rejects(promise, check, what = '') {
    let err = null;
    try { await promise; } catch (e) { err = e; }
    if (!err) fail(`${what} expected a rejection`);
    check(err);
    return err;
  },
};

const bytes = (s) => new TextEncoder().encode(s);
const text = (v) => new TextDecoder().decode(v);

// Opens a pool for one case (its own name, so cases never share files) and
// always releases it.
async function withPool(api, name, fn) {
  const s = await api.openOpfsStorage(name);
  try {
    return await fn(s);
  } finally {
    s.release();
  }
}

// The bytes OPFS holds for hiroba/<file>, read through the async File API
// (only once no access handle is open on it).
async function fileText(file, directory = 'hiroba') {
  const root = await navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle(directory);
  return (await (await dir.getFileHandle(file)).getFile()).text();
}

export const PRIMITIVE_CASES = [
  {
    name: 'codes match storage.h',
    async run(api) {
      assert.equal(api.STORAGE_EIO, -1);
      assert.equal(api.STORAGE_EFULL, -2);
      assert.equal(api.STORAGE_ENOENT, -3);
      assert.equal(api.STORAGE_EBUSY, -4);
      assert.equal(api.STORAGE_EACCES, -5);
      assert.equal(api.STORAGE_CREATE, 1);
    },
  },
  {
    name: 'bad names and options are TypeErrors',
    async run(api) {
      const bad = [['a/b'], [''], ['x'.repeat(65)], [42], [undefined], ['a b'],
        ['ok', { directory: '..' }], ['ok', { directory: 'a/b' }], ['ok', { retryMs: -1 }]];
      for (const args of bad) {
        await assert.rejects(api.openOpfsStorage(...args), (err) => {
          assert.ok(err instanceof TypeError, `${JSON.stringify(args)}: ${err}`);
        }, JSON.stringify(args));
      }
    },
  },
  {
    name: 'the pool: path, files, a folder of its own; nothing else opens',
    async run(api) {
      await withPool(api, 'prim-pool', async (s) => {
        assert.equal(s.path, 'prim-pool.db');
        assert.equal(s.files.join(' '), 'prim-pool.db prim-pool.db-journal prim-pool.db-wal');
        for (const p of ['other.db', 'prim-pool.db-shm', '/prim-pool.db', 'hiroba/prim-pool.db', '']) {
          assert.equal(s.open(p, api.STORAGE_CREATE), api.STORAGE_ENOENT, p);
          assert.match(s.lastError(), /not a file of this OPFS pool/, p);
          assert.equal(s.exists(p), 0, p);
          assert.equal(s.delete(p), api.STORAGE_ENOENT, p);
        }
      });
      // The three files exist in the folder, created empty.
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle('hiroba');
      for (const f of ['prim-pool.db', 'prim-pool.db-journal', 'prim-pool.db-wal']) {
        assert.equal((await (await dir.getFileHandle(f)).getFile()).size, 0, f);
      }
      // Another directory keeps another database of the same name.
      const a = await api.openOpfsStorage('prim-pool', { directory: 'other-dir' });
      const b = await api.openOpfsStorage('prim-pool');
      try {
        const fa = a.open(a.path, api.STORAGE_CREATE);
        assert.equal(a.write(fa, bytes('in other-dir'), 0), 0);
        assert.equal(b.exists(b.path), 0);
      } finally {
        a.release();
        b.release();
      }
      assert.equal(await fileText('prim-pool.db', 'other-dir'), 'in other-dir');
    },
  },
  {
    name: 'open without CREATE on a missing (empty) file: -3 and a message',
    async run(api) {
      await withPool(api, 'prim-missing', async (s) => {
        assert.equal(s.open(s.path, 0), api.STORAGE_ENOENT);
        assert.match(s.lastError(), /prim-missing\.db/);
        assert.match(s.lastError(), /no such file/);
        assert.equal(s.open(`${s.path}-journal`, 0), api.STORAGE_ENOENT);
      });
    },
  },
  {
    name: 'open with CREATE makes an empty file and never truncates; data survives release',
    async run(api) {
      await withPool(api, 'prim-create', async (s) => {
        const fd = s.open(s.path, api.STORAGE_CREATE);
        assert.ok(Number.isInteger(fd) && fd >= 0, `fd ${fd}`);
        assert.equal(s.size(fd), 0);
        assert.equal(s.write(fd, bytes('keep me'), 0), 0);
        assert.equal(s.close(fd), 0);
        const fd2 = s.open(s.path, api.STORAGE_CREATE);
        assert.ok(fd2 >= 0 && fd2 !== fd);
        assert.equal(s.size(fd2), 7);
        assert.equal(s.close(fd2), 0);
        // Not empty now: opens without CREATE.
        const fd3 = s.open(s.path, 0);
        assert.ok(fd3 >= 0);
        assert.equal(s.close(fd3), 0);
      });
      assert.equal(await fileText('prim-create.db'), 'keep me');
      await withPool(api, 'prim-create', async (s) => {
        assert.equal(s.exists(s.path), 1);
        const fd = s.open(s.path, 0);
        const v = new Uint8Array(7);
        assert.equal(s.read(fd, v, 0), 7);
        assert.equal(text(v), 'keep me');
      });
    },
  },
  {
    name: 'positional write and read back; read past the end gives 0',
    async run(api) {
      await withPool(api, 'prim-rw', async (s) => {
        const fd = s.open(s.path, api.STORAGE_CREATE);
        assert.equal(s.write(fd, bytes('hello'), 4096), 0);
        assert.equal(s.size(fd), 4101);
        const out = new Uint8Array(5);
        assert.equal(s.read(fd, out, 4096), 5);
        assert.equal(text(out), 'hello');
        // The hole reads as zeros.
        const hole = new Uint8Array(4096).fill(0xaa);
        assert.equal(s.read(fd, hole, 0), 4096);
        assert.ok(hole.every((b) => b === 0), 'hole is zeros');
        // Short at the end, nothing past it.
        const tail = new Uint8Array(100);
        assert.equal(s.read(fd, tail, 4099), 2);
        assert.equal(text(tail.subarray(0, 2)), 'lo');
        assert.equal(s.read(fd, new Uint8Array(10), 1e6), 0);
        // A view into a larger buffer (like HEAPU8.subarray) is honoured.
        const heap = new Uint8Array(64);
        assert.equal(s.write(fd, bytes('XYZ'), 1), 0);
        assert.equal(s.read(fd, heap.subarray(10, 14), 0), 4);
        assert.bytes([...heap.subarray(9, 15)], [0, 0, 88, 89, 90, 0]);
        // ... and so is a write from one.
        const src = new Uint8Array(16).map((_, i) => 100 + i);
        assert.equal(s.write(fd, src.subarray(4, 8), 20), 0);
        const back4 = new Uint8Array(4);
        assert.equal(s.read(fd, back4, 20), 4);
        assert.bytes([...back4], [104, 105, 106, 107]);
        // A large write.
        const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
        assert.equal(s.write(fd, big, 10), 0);
        const back = new Uint8Array(big.length);
        assert.equal(s.read(fd, back, 10), big.length);
        assert.bytes(back, big, 'big');
        // Zero bytes: fine both ways.
        assert.equal(s.write(fd, new Uint8Array(0), 5), 0);
        assert.equal(s.read(fd, new Uint8Array(0), 5), 0);
        assert.equal(s.close(fd), 0);
      });
    },
  },
  {
    name: 'truncate grows with zeros and shrinks; size follows',
    async run(api) {
      await withPool(api, 'prim-trunc', async (s) => {
        const fd = s.open(s.path, api.STORAGE_CREATE);
        assert.equal(s.write(fd, bytes('abcdefghij'), 0), 0);
        assert.equal(s.truncate(fd, 4), 0);
        assert.equal(s.size(fd), 4);
        assert.equal(s.truncate(fd, 10000), 0);
        assert.equal(s.size(fd), 10000);
        const v = new Uint8Array(8);
        assert.equal(s.read(fd, v, 0), 8);
        assert.bytes([...v], [97, 98, 99, 100, 0, 0, 0, 0]);
        assert.equal(s.truncate(fd, 0), 0);
        assert.equal(s.size(fd), 0);
        assert.equal(s.close(fd), 0);
      });
    },
  },
  {
    name: 'sync succeeds on an open file',
    async run(api) {
      await withPool(api, 'prim-sync', async (s) => {
        const fd = s.open(s.path, api.STORAGE_CREATE);
        assert.equal(s.write(fd, bytes('x'), 0), 0);
        assert.equal(s.sync(fd), 0);
        assert.equal(s.close(fd), 0);
      });
    },
  },
  {
    name: 'exists and delete (delete empties the file)',
    async run(api) {
      await withPool(api, 'prim-del', async (s) => {
        const file = `${s.path}-journal`;
        assert.equal(s.exists(file), 0);
        const fd = s.open(file, api.STORAGE_CREATE);
        assert.equal(s.exists(file), 0);   // empty counts as missing
        assert.equal(s.write(fd, bytes('journal'), 0), 0);
        assert.equal(s.exists(file), 1);
        assert.equal(s.close(fd), 0);
        assert.equal(s.delete(file), 0);
        assert.equal(s.exists(file), 0);
        assert.equal(s.delete(file), api.STORAGE_ENOENT);
        assert.match(s.lastError(), /prim-del\.db-journal/);
        // Deleting while a number is open on it: the number still works,
        // on an empty file (like an unlinked file on POSIX, minus the data).
        const fd2 = s.open(file, api.STORAGE_CREATE);
        assert.equal(s.write(fd2, bytes('again'), 0), 0);
        assert.equal(s.delete(file), 0);
        assert.equal(s.size(fd2), 0);
        assert.equal(s.close(fd2), 0);
        // The others are untouched.
        assert.equal(s.exists(s.path), 0);
      });
      assert.equal(await fileText('prim-del.db-journal'), '');
    },
  },
  {
    name: 'close keeps the pooled handle: numbers are per open',
    async run(api) {
      await withPool(api, 'prim-close', async (s) => {
        const a = s.open(s.path, api.STORAGE_CREATE);
        const b = s.open(s.path, api.STORAGE_CREATE);
        assert.ok(a >= 0 && b >= 0 && a !== b, `${a} ${b}`);
        assert.equal(s.write(a, bytes('shared'), 0), 0);
        assert.equal(s.close(a), 0);
        const v = new Uint8Array(6);
        assert.equal(s.read(b, v, 0), 6);
        assert.equal(text(v), 'shared');
        assert.equal(s.read(a, v, 0), api.STORAGE_EIO);   // closed number
        assert.match(s.lastError(), /bad storage handle/);
        assert.equal(s.close(a), api.STORAGE_EIO);        // closed twice
        assert.equal(s.close(b), 0);
        // Reopening after every number closed still works.
        const c = s.open(s.path, 0);
        assert.equal(s.size(c), 6);
        assert.equal(s.close(c), 0);
      });
    },
  },
  {
    name: 'never throws: bad handles, bad arguments, odd paths',
    async run(api) {
      await withPool(api, 'prim-odd', async (s) => {
        const fd = s.open(s.path, api.STORAGE_CREATE);
        const calls = [
          () => s.read(12345, new Uint8Array(4), 0),
          () => s.write(12345, new Uint8Array(4), 0),
          () => s.truncate(12345, 0),
          () => s.size(12345),
          () => s.sync(12345),
          () => s.close(12345),
          () => s.read(fd, null, 0),
          () => s.read(fd, new Uint8Array(4), -1),
          () => s.read(fd, new Uint8Array(4), 2 ** 53),
          () => s.write(fd, 'not a view', 0),
          () => s.write(fd, new Uint8Array(4), Number.NaN),
          () => s.truncate(fd, -5),
          () => s.truncate(fd, 1.5),
          () => s.open(undefined, 0),
          () => s.open('\0bad', api.STORAGE_CREATE),
          () => s.delete({}),
        ];
        for (const call of calls) {
          let r;
          try { r = call(); } catch (err) { fail(`${call} threw ${err}`); }
          assert.ok(Number.isInteger(r) && r < 0, `${call}: ${r}`);
          assert.equal(typeof s.lastError(), 'string');
          assert.ok(s.lastError().length > 0, 'message');
        }
        assert.equal(s.exists('\0bad'), 0);
        assert.equal(s.close(fd), 0);
      });
    },
  },
  {
    name: 'quota exceeded is -2 (STORAGE_EFULL) with the reason',
    async run(api) {
      await withPool(api, 'prim-quota', async (s) => {
        const fd = s.open(s.path, api.STORAGE_CREATE);
        const { quota } = await navigator.storage.estimate();
        // Far beyond the origin's quota: OPFS refuses before writing. Below
        // 16 TiB, ext4's largest file, past which Firefox fails with a
        // plain NS_ERROR_FAILURE rather than for the quota.
        const huge = Math.max(quota * 4, 2 ** 40);
        // Chromium throws QuotaExceededError from both; Firefox throws
        // NS_ERROR_FILE_NO_DEVICE_SPACE from truncate and writes 0 bytes.
        assert.equal(s.truncate(fd, huge), api.STORAGE_EFULL);
        assert.match(s.lastError(), /QuotaExceededError|NS_ERROR_FILE_NO_DEVICE_SPACE/);
        assert.equal(s.write(fd, bytes('x'), huge), api.STORAGE_EFULL);
        assert.match(s.lastError(), /QuotaExceededError|quota or disk full/);
        // The file is unharmed and still usable.
        assert.equal(s.size(fd), 0);
        assert.equal(s.write(fd, bytes('fine'), 0), 0);
        assert.equal(s.size(fd), 4);
        assert.equal(s.close(fd), 0);
      });
    },
  },
  {
    name: 'release: idempotent; the primitives then fail with -1, never throw',
    async run(api) {
      const s = await api.openOpfsStorage('prim-release');
      const fd = s.open(s.path, api.STORAGE_CREATE);
      assert.equal(s.write(fd, bytes('before release'), 0), 0);
      s.release();
      s.release();
      const calls = [
        () => s.read(fd, new Uint8Array(4), 0),
        () => s.write(fd, new Uint8Array(4), 0),
        () => s.truncate(fd, 0),
        () => s.size(fd),
        () => s.sync(fd),
        () => s.close(fd),
        () => s.open(s.path, api.STORAGE_CREATE),
        () => s.delete(s.path),
        () => s.exists(s.path),
      ];
      for (const call of calls) {
        let r;
        try { r = call(); } catch (err) { fail(`${call} threw ${err}`); }
        assert.equal(r, api.STORAGE_EIO, `${call}`);
        assert.match(s.lastError(), /released/);
      }
      // Released means reopenable, with the data flushed.
      assert.equal(await fileText('prim-release.db'), 'before release');
      await withPool(api, 'prim-release', async (s2) => {
        assert.equal(s2.exists(s2.path), 1);
      });
    },
  },
];
