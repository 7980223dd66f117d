// sahpool-worker.js -- the anchor side of the browser benchmarks:
// @sqlite.org/sqlite-wasm (its own sqlite3.wasm) on its opfs-sahpool VFS,
// the one that, like ours, needs no SharedArrayBuffer or COOP/COEP.
//
// ops:
//   setData({lines}), run({workload, pragmas, n, from, memory, countIo})
//     -> {ms, events, tags, io, settings}: bench/opfs-writes.bench.js, the
//     workload of sql-workload.js with the same arguments and the same SQL
//     as ours-sql-worker.js runs on our VFS (memory: a temporary database
//     '', SQLite without OPFS);
//   startup() -> {value, t}: bench/size-startup.bench.js, everything from
//     a fresh worker to the first query (module init, VFS install, open,
//     `select 1`); the page times it from `new Worker`; t holds absolute
//     stamps (top: imports done, init, install, query);
//   release(): closes the pool's access handles.

import sqlite3InitModule from '/node_modules/@sqlite.org/sqlite-wasm/dist/index.mjs';
import { prepare, run } from './sql-workload.js';
import { ioCounter, serve } from './rpc-worker.js';

const counter = ioCounter();

let sqlite3 = null;
let pool = null;
let lines = [];

// Absolute milliseconds (timeOrigin + now), comparable with the page's.
const now = () => performance.timeOrigin + performance.now();
const top = now();   // the imports above have loaded and run

// stamps (optional) gets init and install times.
async function ready(directory, stamps = {}) {
  if (pool) return;
  // sqlite-wasm prints its banner and OPFS probing to the console; the
  // "opfs" VFS (needs SharedArrayBuffer) is skipped without COOP/COEP.
  sqlite3 = await sqlite3InitModule({ print: () => {}, printErr: () => {} });
  stamps.init = now();
  pool = await sqlite3.installOpfsSAHPoolVfs({ directory, initialCapacity: 6 });
  stamps.install = now();
}

serve({
  async startup() {
    const t = { top };
    await ready('.bench-startup', t);
    const db = new pool.OpfsSAHPoolDb('/startup.db');
    const value = db.selectValue('select 1');
    t.query = now();
    db.close();
    return { value, t };
  },

  async setData({ lines: l }) {
    await ready('.bench-sahpool');
    lines = l;
    return lines.length;
  },

  async run({ workload, pragmas, n, from = 0, memory = false, countIo = false }) {
    await ready('.bench-sahpool');
    const path = '/bench.db';
    pool.unlink(path);
    const db = memory ? new sqlite3.oo1.DB('') : new pool.OpfsSAHPoolDb(path);
    const exec = (sql) => {
      const rows = db.exec({ sql, returnValue: 'resultRows', rowMode: 'array' });
      return rows.length ? String(rows[rows.length - 1][0]) : '';
    };
    try {
      const settings = prepare(exec, pragmas);
      return { ...run(exec, workload, lines.slice(from, n === undefined ? undefined : from + n), countIo ? counter : null), settings };
    } finally {
      db.close();
      pool.unlink(path);
    }
  },

  async release() {
    if (pool) await pool.removeVfs();
    pool = null;
    return true;
  },
});
