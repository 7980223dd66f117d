// engine-data.js -- the cached data of bench/load-engine.bench.js: N signed
// events written by the native generator (bench/native/gen_events.c) and
// the databases the native loader (bench/native/load_events.c) fills with
// them through hiroba_merge, all under build/bench/load/.
//
//   const data = ensureData(1_000_000, { minus: true });
//   data.db        database with all N events
//   data.minusDb   the same without meta.withheld (with { minus: true })
//   data.meta      what gen_events wrote about the events (meta-N.json)
//
// Generation is one-time: events-N.key records the generator's source hash,
// db-N.key that plus the loader's source and the engine's file format: the
// schema text of src/store.c (kSchema, which ends with its PRAGMA
// user_version). When either no longer matches, what depends on it is
// rebuilt. Other engine changes (queries, sync, build flags) do not
// change what is in the file, and reloading 1,000,000 events takes ~15
// minutes, so they keep the cache. Key files are written last, so an
// interrupted build is redone, never trusted.
//
// The "minus" database is loaded first (every event but the withheld
// ones), copied, and the copy gets the withheld events merged in: both are
// then exactly what the engine builds from those events.

import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DIR = join(ROOT, 'build/bench/load');
export const GEN = join(DIR, 'gen_events');
export const LOAD = join(DIR, 'load_events');

function hashFiles(files) {
  const h = createHash('sha256');
  for (const f of files) h.update(f).update('\0').update(readFileSync(join(ROOT, f))).update('\0');
  return h.digest('hex');
}

// The engine's file format: the schema block of store.c.
function schemaText() {
  const store = readFileSync(join(ROOT, 'src/store.c'), 'utf8');
  const start = store.indexOf('kSchema =');
  const end = store.indexOf(';', store.indexOf('user_version', start));
  if (start < 0 || end < 0) throw new Error('src/store.c: cannot find kSchema and its user_version');
  return store.slice(start, end);
}

export function keys(n, minus) {
  const eventsKey = `${hashFiles(['bench/native/gen_events.c'])} n=${n}`;
  const schema = createHash('sha256').update(schemaText()).digest('hex');
  const dbKey = `${eventsKey} ${hashFiles(['bench/native/load_events.c'])} schema=${schema} minus=${minus}`;
  return { eventsKey, dbKey };
}

function readKey(file) {
  try { return readFileSync(file, 'utf8').trim(); } catch { return null; }
}

function run(cmd, args) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ').slice(0, 200)} failed (${r.status ?? r.signal})`);
  return (performance.now() - t0) / 1000;
}

const removeDb = (path) => { for (const s of ['', '-wal', '-journal']) rmSync(path + s, { force: true }); };

export function ensureData(n, { minus = false } = {}) {
  for (const tool of [GEN, LOAD]) {
    if (!existsSync(tool)) throw new Error(`${tool} is missing: run \`make bench BENCH=load\` (mk/bench-load.mk builds it)`);
  }
  const events = join(DIR, `events-${n}.ndjson`);
  const metaFile = join(DIR, `meta-${n}.json`);
  const eventsKeyFile = join(DIR, `events-${n}.key`);
  const db = join(DIR, `db-${n}.db`);
  const minusDb = join(DIR, `db-${n}-minus.db`);
  const dbKeyFile = join(DIR, `db-${n}.key`);

  const { eventsKey, dbKey } = keys(n, minus);
  if (readKey(eventsKeyFile) !== eventsKey || !existsSync(events) || !existsSync(metaFile)) {
    rmSync(eventsKeyFile, { force: true });
    rmSync(dbKeyFile, { force: true });
    console.log(`load-engine: generating ${n.toLocaleString('en')} signed events (one-time, cached in build/bench/load/)`);
    const s = run(GEN, [String(n), events, metaFile]);
    console.log(`load-engine: generated in ${s.toFixed(0)} s`);
    writeFileSync(eventsKeyFile, `${eventsKey}\n`);
  }
  const meta = JSON.parse(readFileSync(metaFile, 'utf8'));

  if (readKey(dbKeyFile) !== dbKey || !existsSync(db) || (minus && !existsSync(minusDb))) {
    rmSync(dbKeyFile, { force: true });
    removeDb(db);
    removeDb(minusDb);
    console.log(`load-engine: loading ${n.toLocaleString('en')} events into the engine natively (one-time)`);
    if (minus) {
      const lines = meta.withheld.map((w) => w.line).join(',');
      let s = run(LOAD, ['load', minusDb, events, 'skip', lines]);
      copyFileSync(minusDb, db);
      if (existsSync(`${minusDb}-wal`)) copyFileSync(`${minusDb}-wal`, `${db}-wal`);
      s += run(LOAD, ['load', db, events, 'only', lines]);
      console.log(`load-engine: loaded in ${s.toFixed(0)} s`);
    } else {
      run(LOAD, ['load', db, events]);
    }
    writeFileSync(dbKeyFile, `${dbKey}\n`);
  }
  return { n, events, db, minusDb: minus ? minusDb : null, meta };
}
