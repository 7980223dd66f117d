// vfs-suite.test.js -- the VFS suite (tests/shared/vfs-suite.js driving
// tests/wasm/vfs_suite.c, built by `make build/test/vfs_suite.mjs`) on the
// node:fs storage primitives (js-glue/storage-node.js), through the real
// wasm VFS. tests/e2e/vfs-suite.test.js runs the same list on OPFS.
//
// The suite's files live in a fresh temp folder (passed as a path prefix:
// the test runner's worker threads may not chdir), removed at the end.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import createVfsSuiteModule from '../../build/test/vfs_suite.mjs';
import { createNodeStorage } from '../../js-glue/storage-node.js';
import { VFS_TESTS, runVfsTest, setPrefix } from '../shared/vfs-suite.js';

let dir;
let module;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiroba-vfs-suite-'));
  const bytes = fs.readFileSync(new URL('../../build/test/vfs_suite.wasm', import.meta.url));
  const wasmModule = await WebAssembly.compile(bytes);
  module = await createVfsSuiteModule({
    hirobaStorage: createNodeStorage(),
    // Emscripten 3.1.6's loader cannot fetch a file path under Node.
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(wasmModule, imports).then((instance) => done(instance, wasmModule));
      return {};
    },
  });
  setPrefix(module, `${dir}${path.sep}`);
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('VFS suite on node:fs', () => {
  for (const t of VFS_TESTS) {
    test(t.name, () => {
      const r = runVfsTest(module, t);
      assert.ok(r.ok, `${t.fn} failed at line ${r.line}:\n${r.message}`);
      // Every test leaves no files behind (node:fs deletes for real).
      assert.deepEqual(fs.readdirSync(dir), []);
    });
  }

  test('every export the suite lists exists', () => {
    for (const t of VFS_TESTS) assert.equal(typeof module[`_${t.fn}`], 'function', t.fn);
  });
});
