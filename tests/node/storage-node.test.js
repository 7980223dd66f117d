// storage-node.test.js -- the node:fs storage primitives (js-glue/
// storage-node.js) called directly, the way storage-library.js calls them
// from wasm: codes, not exceptions.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  createNodeStorage, STORAGE_CREATE, STORAGE_EBUSY, STORAGE_EIO, STORAGE_ENOENT,
} from '../../js-glue/storage-node.js';

let dir;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hiroba-storage-node-')); });
after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const bytes = (s) => new TextEncoder().encode(s);
const text = (v) => new TextDecoder().decode(v);

describe('storage-node', () => {
  test('codes match storage.h', () => {
    assert.equal(STORAGE_EIO, -1);
    assert.equal(STORAGE_ENOENT, -3);
    assert.equal(STORAGE_EBUSY, -4);
    assert.equal(STORAGE_CREATE, 1);
  });

  test('open without CREATE on a missing file: -3, no file, message', () => {
    const s = createNodeStorage();
    const file = path.join(dir, 'missing.db');
    assert.equal(s.open(file, 0), STORAGE_ENOENT);
    assert.equal(fs.existsSync(file), false);
    assert.match(s.lastError(), /missing\.db/);
    assert.match(s.lastError(), /ENOENT/);
    assert.equal(s.open(path.join(dir, 'no', 'such', 'dir.db'), STORAGE_CREATE), STORAGE_ENOENT);
  });

  test('open with CREATE makes an empty file and never truncates', () => {
    const s = createNodeStorage();
    const file = path.join(dir, 'create.db');
    const fd = s.open(file, STORAGE_CREATE);
    assert.ok(Number.isInteger(fd) && fd >= 0);
    assert.equal(s.size(fd), 0);
    assert.equal(s.write(fd, bytes('keep me'), 0), 0);
    assert.equal(s.close(fd), 0);
    const fd2 = s.open(file, STORAGE_CREATE);
    assert.ok(fd2 >= 0);
    assert.equal(s.size(fd2), 7);
    assert.equal(s.close(fd2), 0);
    assert.equal(fs.readFileSync(file, 'utf8'), 'keep me');
  });

  test('positional write and read back; read past the end gives 0', () => {
    const s = createNodeStorage();
    const fd = s.open(path.join(dir, 'rw.db'), STORAGE_CREATE);
    assert.equal(s.write(fd, bytes('hello'), 4096), 0);
    assert.equal(s.size(fd), 4101);
    const out = new Uint8Array(5);
    assert.equal(s.read(fd, out, 4096), 5);
    assert.equal(text(out), 'hello');
    // The hole reads as zeros.
    const hole = new Uint8Array(4096).fill(0xaa);
    assert.equal(s.read(fd, hole, 0), 4096);
    assert.ok(hole.every((b) => b === 0));
    // Short at the end, nothing past it.
    const tail = new Uint8Array(100);
    assert.equal(s.read(fd, tail, 4099), 2);
    assert.equal(text(tail.subarray(0, 2)), 'lo');
    assert.equal(s.read(fd, new Uint8Array(10), 1e6), 0);
    // A view into a larger buffer (like HEAPU8.subarray) is honoured.
    const heap = new Uint8Array(64);
    assert.equal(s.write(fd, bytes('XYZ'), 1), 0);
    assert.equal(s.read(fd, heap.subarray(10, 14), 0), 4);
    assert.deepEqual([...heap.subarray(9, 15)], [0, 0, 88, 89, 90, 0]);
    // A large write, bigger than one syscall may take.
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    assert.equal(s.write(fd, big, 10), 0);
    const back = new Uint8Array(big.length);
    assert.equal(s.read(fd, back, 10), big.length);
    assert.deepEqual(back, big);
    assert.equal(s.close(fd), 0);
  });

  test('truncate grows with zeros and shrinks; size follows', () => {
    const s = createNodeStorage();
    const fd = s.open(path.join(dir, 'trunc.db'), STORAGE_CREATE);
    assert.equal(s.write(fd, bytes('abcdefghij'), 0), 0);
    assert.equal(s.truncate(fd, 4), 0);
    assert.equal(s.size(fd), 4);
    assert.equal(s.truncate(fd, 10000), 0);
    assert.equal(s.size(fd), 10000);
    const v = new Uint8Array(8);
    assert.equal(s.read(fd, v, 0), 8);
    assert.deepEqual([...v], [97, 98, 99, 100, 0, 0, 0, 0]);
    assert.equal(s.truncate(fd, 0), 0);
    assert.equal(s.size(fd), 0);
    assert.equal(s.close(fd), 0);
  });

  test('sync succeeds on an open file', () => {
    const s = createNodeStorage();
    const fd = s.open(path.join(dir, 'sync.db'), STORAGE_CREATE);
    assert.equal(s.write(fd, bytes('x'), 0), 0);
    assert.equal(s.sync(fd), 0);
    assert.equal(s.close(fd), 0);
  });

  test('exists and delete', () => {
    const s = createNodeStorage();
    const file = path.join(dir, 'del.db');
    assert.equal(s.exists(file), 0);
    const fd = s.open(file, STORAGE_CREATE);
    assert.equal(s.exists(file), 1);
    assert.equal(s.close(fd), 0);
    assert.equal(s.delete(file), 0);
    assert.equal(s.exists(file), 0);
    assert.equal(fs.existsSync(file), false);
    assert.equal(s.delete(file), STORAGE_ENOENT);
    assert.match(s.lastError(), /del\.db/);
    assert.equal(s.exists(path.join(dir, 'del.db', 'below-a-file')), 0);
  });

  test('a second engine instance cannot open a file the first holds', () => {
    const a = createNodeStorage();
    const b = createNodeStorage();
    const file = path.join(dir, 'owned.db');
    const fa = a.open(file, STORAGE_CREATE);
    const fa2 = a.open(path.join(dir, '.', 'owned.db'), 0);   // same owner: fine
    assert.ok(fa >= 0 && fa2 >= 0);
    assert.equal(b.open(file, STORAGE_CREATE), STORAGE_EBUSY);
    assert.match(b.lastError(), /held/);
    assert.equal(a.close(fa), 0);
    assert.equal(b.open(file, 0), STORAGE_EBUSY);   // a still has fa2
    assert.equal(a.close(fa2), 0);
    const fb = b.open(file, 0);
    assert.ok(fb >= 0);
    assert.equal(b.close(fb), 0);
  });

  test('never throws: bad handles, bad arguments, odd paths', () => {
    const s = createNodeStorage();
    const fd = s.open(path.join(dir, 'odd.db'), STORAGE_CREATE);
    const calls = [
      () => s.read(12345, new Uint8Array(4), 0),
      () => s.write(12345, new Uint8Array(4), 0),
      () => s.truncate(12345, 0),
      () => s.size(12345),
      () => s.sync(12345),
      () => s.close(12345),
      () => s.read(fd, null, 0),
      () => s.read(fd, new Uint8Array(4), -1),
      () => s.write(fd, 'not a view', 0),
      () => s.write(fd, new Uint8Array(4), Number.NaN),
      () => s.truncate(fd, -5),
      () => s.open(dir, 0),                       // a directory
      () => s.open('', 0),
      () => s.delete(dir),                        // a directory
      () => s.exists('\0bad'),
      () => s.open('\0bad', STORAGE_CREATE),
    ];
    for (const call of calls) {
      let r;
      assert.doesNotThrow(() => { r = call(); });
      assert.ok(Number.isInteger(r) && r < 0, `${call}: ${r}`);
      assert.equal(typeof s.lastError(), 'string');
      assert.ok(s.lastError().length > 0);
    }
    assert.match(s.lastError(), /bad|invalid|null/i);
    assert.equal(s.close(fd), 0);
    assert.equal(s.close(fd), STORAGE_EIO);        // closed twice
  });
});
