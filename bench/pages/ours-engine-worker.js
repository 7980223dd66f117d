// ours-engine-worker.js -- the engine in a worker of the bench's own, for
// what the feed API cannot show: the steps of start-up and the OPFS calls
// of one post. It runs the engine the way js-glue/worker.js does
// (openOpfsStorage, createHirobaModule, Engine); keep the steps in step
// with becomeOwner() and open() there.
//
// ops:
//   startup({name}) -> stamps {top, lock, storage, module, open, query,
//     closed, reopen} (absolute ms: timeOrigin + now, comparable with the
//     page's clock) and openIo, the OPFS calls hiroba_open made (see
//     rpc-worker.js); reopen is a second open + close in this worker.
//   posts({name, n}) -> {ms, io}: n engine.post() calls, io counted.

import createHirobaModule from '/hiroba/build/hiroba/hiroba.mjs';
import { Engine } from '/hiroba/js-glue/engine.js';
import { openOpfsStorage } from '/hiroba/js-glue/storage-opfs.js';
import { ioCounter, serve } from './rpc-worker.js';

const counter = ioCounter();
const now = () => performance.timeOrigin + performance.now();
const top = now();   // every import above has loaded and run

serve({
  async startup({ name }) {
    const t = { top };
    const channel = new BroadcastChannel(`hiroba:${name}`);
    await new Promise((resolve, reject) => {
      navigator.locks.request(`hiroba:${name}`, { ifAvailable: true }, async (lock) => {
        if (!lock) return reject(new Error('lock held'));
        t.lock = now();
        let storage;
        try {
          storage = await openOpfsStorage(name, { retryMs: 3000 });
          t.storage = now();
          const engine = new Engine(await createHirobaModule({ hirobaStorage: storage }));
          t.module = now();
          counter.start();
          const db = engine.open(storage.path);
          t.open = now();
          t.openIo = counter.stop();
          engine.query(db, JSON.stringify({ limit: 1 }));
          t.query = now();
          engine.close(db);
          t.closed = now();
          engine.close(engine.open(storage.path));
          t.reopen = now();
          resolve();
        } catch (err) {
          reject(err);
        } finally {
          storage?.release();
        }
      });
    });
    channel.close();
    return t;
  },

  async posts({ name, n }) {
    const storage = await openOpfsStorage(name);
    try {
      const engine = new Engine(await createHirobaModule({ hirobaStorage: storage }));
      const db = engine.open(storage.path);
      engine.post(db, JSON.stringify({ kind: 1, content: 'warm-up', tags: [] }));
      counter.start();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        engine.post(db, JSON.stringify({ kind: 1, content: `post ${i}: a sentence or two, as people write them`, tags: [], created_at: 1735689600 + i }));
      }
      const ms = performance.now() - t0;
      const io = counter.stop();
      engine.close(db);
      return { ms, io };
    } finally {
      storage.release();
    }
  },
});
