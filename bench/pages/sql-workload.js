// sql-workload.js -- the SQL of bench/opfs-writes.bench.js, written once
// and run by both workers: ours-sql-worker.js (SQLite on our VFS,
// build/test/vfs_bench.mjs) and sahpool-worker.js (sqlite-wasm on its
// opfs-sahpool VFS). Both sides get the same SQL text through one
// exec(sql) each, so they differ only in their SQLite build, their VFS and
// how each copies a string into wasm memory (each its fastest way: ours
// as the engine does, sqlite-wasm through its own db.exec).
//
// The rows are what the engine stores for an event (src/store.c): the
// event table with its three indexes and UNIQUE id, and one tag row per
// single-letter tag. The engine's own lookups before an insert (duplicate,
// tombstone, mute, replaceable slot) are left out: this is the write path
// alone. Keep SCHEMA in step with kSchema in src/store.c.
//
// Values travel as SQL literals (ids as unhex('...'), text quoted), built
// before the clock starts: our SQLite is built without JSON functions and
// blob literals (SQLITE_OMIT_JSON, SQLITE_OMIT_BLOB_LITERAL in the
// Makefile), and literal SQL needs no per-row calls across the JS/wasm
// boundary on either side. Parsing that SQL is part of the timed work, the
// same on both sides.
//
// Environment-agnostic: no DOM or worker APIs (timing uses performance).

export const SCHEMA = [
  'CREATE TABLE event(seq INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, pubkey BLOB NOT NULL,'
    + ' created_at INTEGER NOT NULL, kind INTEGER NOT NULL, json TEXT NOT NULL)',
  'CREATE INDEX event_time ON event(created_at DESC, id)',
  'CREATE INDEX event_kind ON event(kind, created_at DESC, id)',
  'CREATE INDEX event_author ON event(pubkey, kind, created_at DESC, id)',
  'CREATE TABLE tag(name TEXT NOT NULL, value TEXT NOT NULL, ev INTEGER NOT NULL,'
    + ' PRIMARY KEY(name, value, ev)) WITHOUT ROWID',
  'CREATE INDEX tag_ev ON tag(ev)',
];

// Settings. The engine's come from the bench, which reads them from
// src/store.c (store_open), so they cannot drift; 'default' leaves the
// VFS's and build's defaults alone; sahSizes() turns the engine's into
// the same with the page and cache size that sqlite-wasm's build has by
// default (8 KiB pages, 16 MiB cache), so that both sides do the same
// SQLite work and what differs is the VFS. page_size goes first: it
// cannot change once the database is in WAL mode.
export const sahSizes = (pragmas) => ['PRAGMA page_size=8192', ...pragmas, 'PRAGMA cache_size=-16384'];

const EVENTS_PER_STATEMENT = 250;   // rows per INSERT in the bulk workload

const text = (s) => `'${String(s).replaceAll("'", "''")}'`;

// One event line -> its event row and tag rows, as SQL value lists. The
// tag rows are the single-letter tags with a string value, as
// store_insert keeps them; seq is given, so tags need no lookup.
function rowsOf(line, seq) {
  const e = JSON.parse(line);
  const event = `(${seq},unhex('${e.id}'),unhex('${e.pubkey}'),${e.created_at},${e.kind},${text(line)})`;
  const tags = e.tags
    .filter((t) => /^[A-Za-z]$/.test(t[0] ?? '') && typeof t[1] === 'string')
    .map((t) => `(${text(t[0])},${text(t[1])},${seq})`);
  return { event, tags };
}

const insertEvents = (values) => `INSERT INTO event(seq, id, pubkey, created_at, kind, json) VALUES ${values.join(',')}`;
const insertTags = (values) => `INSERT OR IGNORE INTO tag(name, value, ev) VALUES ${values.join(',')}`;

// The settings in effect, for the report's notes.
export function settings(exec) {
  const out = {};
  for (const p of ['journal_mode', 'locking_mode', 'synchronous', 'page_size', 'cache_size']) {
    out[p] = exec(`PRAGMA ${p}`);
  }
  return out;
}

// Prepares a fresh database: pragmas (an array of statements), schema.
// -> settings()
export function prepare(exec, pragmas) {
  for (const sql of pragmas) exec(sql);
  for (const sql of SCHEMA) exec(sql);
  return settings(exec);
}

// Runs one workload on a prepared database; lines are event JSON texts.
//   bulk    every event in one transaction (INSERTs of 250 rows each)
//   single  one transaction per event (its row and its tags): one durable
//           commit each, as feed.post() makes
// counter (optional): {start(), stop()} around the timed part, e.g. the
// OPFS call counter of rpc-worker.js.
// -> { ms, events, tags, io } (ms: the timed part only; io: counter.stop())
export function run(exec, workload, lines, counter) {
  const rows = lines.map((l, i) => rowsOf(l, i + 1));
  const script = [];
  if (workload === 'bulk') {
    script.push('BEGIN');
    for (let i = 0; i < rows.length; i += EVENTS_PER_STATEMENT) {
      const chunk = rows.slice(i, i + EVENTS_PER_STATEMENT);
      script.push(insertEvents(chunk.map((r) => r.event)));
      const tags = chunk.flatMap((r) => r.tags);
      if (tags.length) script.push(insertTags(tags));
    }
    script.push('COMMIT');
  } else if (workload === 'single') {
    for (const r of rows) {
      script.push(`BEGIN; ${insertEvents([r.event])}; ${r.tags.length ? `${insertTags(r.tags)}; ` : ''}COMMIT`);
    }
  } else {
    throw new Error(`unknown workload ${workload}`);
  }
  counter?.start();
  const t0 = performance.now();
  for (const sql of script) exec(sql);
  const ms = performance.now() - t0;
  const io = counter?.stop();
  const events = Number(exec('SELECT count(*) FROM event'));
  const tags = Number(exec('SELECT count(*) FROM tag'));
  if (events !== lines.length) throw new Error(`${workload}: ${events} rows stored, expected ${lines.length}`);
  return { ms, events, tags, io };
}
