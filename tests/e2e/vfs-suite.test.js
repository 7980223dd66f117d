// vfs-suite.test.js -- OPFS storage in headless Chromium and Firefox (once
// per browser of HIROBA_BROWSERS), on a persistent profile (real on-disk
// OPFS):
//   1. the VFS suite (tests/shared/vfs-suite.js, the list tests/node/
//      vfs-suite.test.js runs on node:fs) through the real wasm VFS over
//      openOpfsStorage('vfs-suite'), inside a dedicated module worker;
//   2. the OPFS primitives called directly (pages/opfs-primitives.js);
//   3. one owner at a time: a second openOpfsStorage() of a name that is
//      held -- in the same worker, another tab's worker, or on one file
//      only -- is refused with code -4 and a clear message, and succeeds
//      once the holder releases it or dies.
// Needs `make wasm build/test/vfs_suite.mjs`. The OPFS files stay in the
// temp profile, which after() removes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { eachBrowser, launchBrowser, startServer } from './harness.js';
import { VFS_TESTS } from '../shared/vfs-suite.js';
import { PRIMITIVE_CASES } from './pages/opfs-primitives.js';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.close();
});

const rpc = (p, key, op, args) => p.evaluate(([k, o, a]) => window.rpc(k, o, a), [key, op, args]);
const spawn = (p, key) => p.evaluate((k) => window.spawnWorker(k), key);
const kill = (p, key) => p.evaluate((k) => window.killWorker(k), key);

eachBrowser((browser) => {
  let profile;
  let page;          // "tab 1"
  let page2;         // "tab 2", same origin, so the same OPFS
  const errors = []; // per tab: its console errors and uncaught exceptions

  async function openTab() {
    const p = await profile.newPage();
    errors.push(p.errors);
    await p.goto(`${server.origin}/pages/vfs-suite.html`);
    await p.waitForFunction(() => typeof window.rpc === 'function');
    return p;
  }

  before(async () => {
    profile = await launchBrowser(browser);
    page = await openTab();
    page2 = await openTab();
    await spawn(page, 'suite');
    await spawn(page, 'a');
    await spawn(page2, 'b');
  });

  after(async () => {
    await profile?.close();
  });

  describe('VFS suite on OPFS (dedicated worker, persistent profile)', () => {
    before(async () => {
      const r = await rpc(page, 'suite', 'suite-start');
      assert.equal(r.path, 'vfs-suite.db');
    });
    after(async () => {
      await rpc(page, 'suite', 'suite-stop').catch(() => {});
    });

    for (const t of VFS_TESTS) {
      test(t.name, async () => {
        const r = await rpc(page, 'suite', 'suite-run', { fn: t.fn });
        assert.ok(r.ok, `${t.fn} failed at line ${r.line}:\n${r.message}`);
        assert.deepEqual(r.sizes, [0, 0, 0], 'the test left data in its files');
      });
    }
  });

  describe('OPFS storage primitives', () => {
    for (const c of PRIMITIVE_CASES) {
      test(c.name, async () => {
        await rpc(page, 'a', 'primitive', { name: c.name });
      });
    }
  });

  describe('one owner per database', () => {
    test('a second open in the same worker is refused with -4, and succeeds after release()', async () => {
      const first = await rpc(page, 'a', 'open', { key: 'one', name: 'owned' });
      assert.equal(first.opened, true, first.message);
      const second = await rpc(page, 'a', 'open', { key: 'two', name: 'owned' });
      assert.equal(second.opened, false);
      assert.equal(second.code, -4);
      assert.match(second.message, /owned\.db/);
      assert.match(second.message, /held by another tab or worker/);
      assert.equal(await rpc(page, 'a', 'release', { key: 'one' }), true);
      const third = await rpc(page, 'a', 'open', { key: 'two', name: 'owned' });
      assert.equal(third.opened, true, third.message);
      assert.deepEqual(await rpc(page, 'a', 'roundTrip', { key: 'two', value: 'mine now' }),
        { rc: 0, n: 8, text: 'mine now' });
      await rpc(page, 'a', 'release', { key: 'two' });
    });

    test("another tab's worker is refused with -4 while the first holds it, then gets in", async () => {
      const a = await rpc(page, 'a', 'open', { key: 'tab1', name: 'shared' });
      assert.equal(a.opened, true, a.message);
      const b = await rpc(page2, 'b', 'open', { key: 'tab2', name: 'shared' });
      assert.equal(b.opened, false);
      assert.equal(b.code, -4);
      assert.match(b.message, /hiroba\/shared\.db\b/);
      assert.match(b.message, /held by another tab or worker/);
      // The holder is unaffected.
      assert.equal((await rpc(page, 'a', 'roundTrip', { key: 'tab1', value: 'still mine' })).text, 'still mine');
      await rpc(page, 'a', 'release', { key: 'tab1' });
      const b2 = await rpc(page2, 'b', 'open', { key: 'tab2', name: 'shared' });
      assert.equal(b2.opened, true, b2.message);
      assert.equal((await rpc(page2, 'b', 'roundTrip', { key: 'tab2', value: 'tab 2 now' })).text, 'tab 2 now');
      await rpc(page2, 'b', 'release', { key: 'tab2' });
    });

    test('when only one file is held, the refusal names it and nothing stays acquired', async () => {
      // Tab 1 holds only the WAL file.
      assert.deepEqual(await rpc(page, 'a', 'hold', { file: 'partial.db-wal' }), { held: true });
      const b = await rpc(page2, 'b', 'open', { key: 'partial', name: 'partial' });
      assert.equal(b.opened, false);
      assert.equal(b.code, -4);
      assert.match(b.message, /partial\.db-wal/);
      // The .db and .db-journal handles tab 2 took beside it were released.
      assert.deepEqual(await rpc(page, 'a', 'hold', { file: 'partial.db' }), { held: true });
      assert.deepEqual(await rpc(page, 'a', 'hold', { file: 'partial.db-journal' }), { held: true });
      for (const file of ['partial.db', 'partial.db-journal', 'partial.db-wal']) {
        assert.equal(await rpc(page, 'a', 'unhold', { file }), true);
      }
      const b2 = await rpc(page2, 'b', 'open', { key: 'partial', name: 'partial' });
      assert.equal(b2.opened, true, b2.message);
      await rpc(page2, 'b', 'release', { key: 'partial' });
    });

    test('retryMs: the open waits for a holder that releases', async () => {
      const a = await rpc(page, 'a', 'open', { key: 'retry', name: 'retry' });
      assert.equal(a.opened, true, a.message);
      // Tab 2 starts waiting (up to a minute: generous, this is no timing
      // check), then tab 1 lets go.
      const waiting = rpc(page2, 'b', 'open', { key: 'retry', name: 'retry', options: { retryMs: 60000 } });
      await rpc(page, 'a', 'release', { key: 'retry' });
      const b = await waiting;
      assert.equal(b.opened, true, b.message);
      await rpc(page2, 'b', 'release', { key: 'retry' });
    });

    test('retryMs: a worker that dies holding the files frees them', async () => {
      await spawn(page, 'doomed');
      const d = await rpc(page, 'doomed', 'open', { key: 'x', name: 'crash' });
      assert.equal(d.opened, true, d.message);
      const w = await rpc(page, 'doomed', 'roundTrip', { key: 'x', value: 'written before the crash' });
      assert.equal(w.rc, 0);
      assert.equal(await kill(page, 'doomed'), true);   // no release()
      const b = await rpc(page2, 'b', 'open', { key: 'crash', name: 'crash', options: { retryMs: 60000 } });
      assert.equal(b.opened, true, b.message);
      // What the dead worker wrote (without a sync) is there.
      assert.equal(await rpc(page2, 'b', 'peek', { key: 'crash', length: 24 }), 'written before the crash');
      await rpc(page2, 'b', 'release', { key: 'crash' });
    });

    test('no page or worker errors were reported', () => {
      assert.deepEqual(errors.flat(), []);
    });
  });
});
