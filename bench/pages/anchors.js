// anchors.js -- the page side of bench/anchors.bench.js: the same events
// stored and queried by three in-browser stores of one page, each as it
// ships, so the bench can time them side by side.
//
//   Hiroba        openFeed() of the browser package (/hiroba/js-glue/),
//                 its engine in a worker of its own, SQLite on our OPFS VFS;
//                 feed.merge() verifies every id and signature.
//   worker-relay  @snort/worker-relay's own worker script
//                 (dist/esm/worker.mjs, SQLite wasm on opfs-sahpool; as
//                 mk/bench-anchors.mk resolves its one Vite import, in
//                 build/test/anchors/worker-relay/), spoken
//                 to with the messages its WorkerRelayInterface sends
//                 ({id, cmd, args} -> {id, cmd: 'reply', args}); that class
//                 only adds uuid ids and a timeout around them, and imports
//                 bare module names a page without a bundler cannot load. It
//                 stores what it is given: no id or signature check.
//   nostr-idb     its functions on IndexedDB, in this page (it has no
//                 worker), from a bundle of the package made by
//                 mk/bench-anchors.mk (build/test/anchors/nostr-idb.js).
//                 addEvents() checks an event's shape, not its signature.
//
// Every time here is performance.now() in this page, so each includes the
// round trip to the store's worker where it has one.

const KEEP_ALL = { store: 'all', maxBytes: 0 };
const WORKER_RELAY = '/test-build/anchors/worker-relay/worker.mjs';
const POOL_DIR = '.opfs-sahpool';   // worker-relay's opfs-sahpool directory (its default)
const BATCH = 1000;

let lines = [];
let events = [];
let hiroba = null;     // the module
let idb = null;        // the nostr-idb module
let nostrWasm = null;  // nostr-wasm's API, for worker-relay + verification

const feeds = new Map();   // name -> feed
const relays = new Map();  // name -> WorkerRelay
const idbs = new Map();    // name -> nostr-idb database

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function setup(corpusLines) {
  lines = corpusLines;
  events = lines.map((l) => JSON.parse(l));
  hiroba = await import('/hiroba/js-glue/index.js');
  idb = await import('/test-build/anchors/nostr-idb.js');
  const { initNostrWasm } = await import('/node_modules/nostr-wasm/dist/main.js');
  nostrWasm = await initNostrWasm();
  return events.length;
}

// --- worker-relay ------------------------------------------------------------

class WorkerRelay {
  constructor() {
    this.worker = new Worker(WORKER_RELAY, { type: 'module' });
    this.pending = new Map();
    this.next = 1;
    this.failed = null;
    this.worker.onmessage = ({ data }) => {
      if (data.cmd !== 'reply') return;
      const call = this.pending.get(data.id);
      if (!call) return;
      this.pending.delete(data.id);
      if (data.args && data.args.error) call.reject(new Error(`worker-relay: ${data.args.error}`));
      else call.resolve(data.args);
    };
    this.worker.onerror = (e) => {
      this.failed = new Error(`worker-relay worker: ${e.message || 'failed to load'}`);
      for (const { reject } of this.pending.values()) reject(this.failed);
      this.pending.clear();
    };
  }

  call(cmd, args) {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const id = String(this.next++);
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, cmd, args });
    });
  }

  terminate() { this.worker.terminate(); }
}

// A worker-relay on database `path`. Its init falls back to an in-memory
// store when SQLite cannot open (as when the pool's OPFS handles are still
// held by a worker just terminated); its dumpDb returns the database file for
// SQLite and nothing in memory, so an empty dump means that fallback, and
// the worker is started again.
async function startRelay(path) {
  for (let attempt = 0; ; attempt++) {
    const r = new WorkerRelay();
    await r.call('init', { databasePath: path });
    const file = await r.call('dumpDb');
    if (file && file.byteLength > 0) return r;
    r.terminate();
    if (attempt >= 10) throw new Error('worker-relay: SQLite did not open (in-memory fallback)');
    await sleep(300);
  }
}

// Sends the first n events one by one, as a client hands them to
// worker-relay (its event() call: it replies at once and writes them in a
// transaction per 50 ms window), and waits until the last one can be read
// back -- its windows are written in order. With verify, each event's
// signature is checked with nostr-wasm first, in this page.
export async function relayIngest(name, n, { verify = false } = {}) {
  const r = await startRelay(`${name}.db`);
  relays.set(name, r);
  const slice = events.slice(0, n);
  const last = slice[slice.length - 1].id;
  const t0 = now();
  const acks = [];
  for (const ev of slice) {
    if (verify) nostrWasm.verifyEvent(ev);   // throws when invalid
    acks.push(r.call('event', ev));
  }
  const sent = now() - t0;
  const replies = await Promise.all(acks);
  let polls = 0;
  for (;;) {
    polls++;
    const got = await r.call('req', ['REQ', 'ingest', { ids: [last] }]);
    if (got.length === 1) break;
    await sleep(5);
  }
  const ms = now() - t0;
  const stored = await r.call('count', ['REQ', 'n', {}]);
  return { ms, sentMs: sent, ok: replies.filter((x) => x && x.ok).length, stored, polls };
}

// Ends a worker-relay (its worker and OPFS handles); with wipe, removes
// its pool directory afterwards (retrying while the handles are released).
export async function relayEnd(name, { wipe = false } = {}) {
  relays.get(name)?.terminate();
  relays.delete(name);
  if (!wipe) return true;
  const root = await navigator.storage.getDirectory();
  for (let attempt = 0; ; attempt++) {
    try {
      await root.removeEntry(POOL_DIR, { recursive: true });
      return true;
    } catch (err) {
      if (err.name === 'NotFoundError') return true;
      if (attempt >= 20) throw err;
      await sleep(200);
    }
  }
}

// --- Hiroba ------------------------------------------------------------------

// The first n events as feed.merge() batches of BATCH frames (text, as a
// peer's batch arrives), made before the clock starts.
function batchesOf(n) {
  const out = [];
  for (let i = 0; i < n; i += BATCH) {
    out.push(`[${lines.slice(i, Math.min(n, i + BATCH)).map((l) => `["EVENT",${l}]`).join(',')}]`);
  }
  return out;
}

export async function hirobaIngest(name, n) {
  const feed = await hiroba.openFeed({ name, policy: KEEP_ALL });
  await feed.identity();
  feeds.set(name, feed);
  const batches = batchesOf(n);
  let accepted = 0;
  let rejected = 0;
  const t0 = now();
  for (const b of batches) {
    const res = await feed.merge(b);
    accepted += res.accepted.length;
    rejected += res.rejected.length;
  }
  const ms = now() - t0;
  return { ms, accepted, rejected, stored: await feed.count({}) };
}

// --- nostr-idb ---------------------------------------------------------------

export async function idbIngest(name, n) {
  const before = await usage();
  const db = await idb.openDB(name);
  idbs.set(name, db);
  const t0 = now();
  for (let i = 0; i < n; i += BATCH) await idb.addEvents(db, events.slice(i, Math.min(n, i + BATCH)));
  const ms = now() - t0;
  const stored = await db.count('events');
  return { ms, stored, usageBefore: before };
}

// Chromium's own account of this origin's IndexedDB bytes.
async function usage() {
  const e = await navigator.storage.estimate();
  return e.usageDetails ? e.usageDetails.indexedDB ?? 0 : null;
}

// --- queries -------------------------------------------------------------------

// One query on one side -> the ids it returned, in order.
async function runQuery(side, name, filter) {
  if (side === 'hiroba') return (await feeds.get(name).query(filter)).map((e) => e.id);
  if (side === 'relay') return (await relays.get(name).call('req', ['REQ', 'q', filter])).map((e) => e.id);
  return (await idb.getEventsForFilter(idbs.get(name), filter)).map((e) => e.id);
}

// Times each of `queries` ({key, filters: [filter per repetition]}) on
// each side: `warm` untimed rounds, then `reps` rounds, the sides in a
// rotating order within each query; a side in `slow` ({side: [warm,
// reps]}) takes part in fewer of them. A sample is `inner` queries back
// to back (the round's filter and the ones after it), timed together and
// divided: a query takes a millisecond or two here, and performance.now()
// ticks in 0.1 ms on a page without cross-origin isolation; a slow side
// (in `slow`) runs one. -> {key: {side: {ms: [..], n: [..], same: rounds
// whose ids equal Hiroba's as a set}}}
export async function timeQueries(name, queries, sides, { warm = 2, reps = 11, slow = {}, inner = 5 } = {}) {
  const out = {};
  for (const q of queries) {
    out[q.key] = {};
    for (const s of sides) out[q.key][s] = { ms: [], n: [], same: 0, rounds: 0 };
  }
  for (let round = 0; round < warm + reps; round++) {
    for (const q of queries) {
      const filter = q.filters[round % q.filters.length];
      const ids = {};
      for (let i = 0; i < sides.length; i++) {
        const side = sides[(i + round) % sides.length];
        const [sideWarm, sideReps] = slow[side] ?? [warm, reps];
        if (round < warm ? round >= sideWarm : round >= warm + sideReps) continue;
        const k = slow[side] ? 1 : inner;
        const t0 = now();
        for (let j = k - 1; j >= 1; j--) await runQuery(side, name, q.filters[(round + j) % q.filters.length]);
        ids[side] = await runQuery(side, name, filter);
        const ms = (now() - t0) / k;
        if (round < warm) continue;
        const r = out[q.key][side];
        r.ms.push(ms);
        r.n.push(ids[side].length);
        r.rounds++;
      }
      if (round < warm) continue;
      const ref = new Set(ids.hiroba ?? []);
      for (const s of Object.keys(ids)) {
        if (ids[s].length === ref.size && ids[s].every((id) => ref.has(id))) out[q.key][s].same++;
      }
    }
  }
  return out;
}

// Counting every event: Hiroba's feed.count, worker-relay's count call,
// and nostr-idb's countEventsForFilter where it takes the filter.
export async function timeCount(name, { warm = 2, reps = 11 } = {}) {
  const sides = {
    hiroba: () => feeds.get(name).count({}),
    relay: () => relays.get(name).call('count', ['REQ', 'c', {}]),
    idb: () => idb.countEventsForFilter(idbs.get(name), {}),
    idbStore: () => idbs.get(name).count('events'),
  };
  const out = {};
  for (const [side, fn] of Object.entries(sides)) {
    out[side] = { ms: [], value: null, error: null };
    for (let i = 0; i < warm + reps; i++) {
      const t0 = now();
      try {
        out[side].value = await fn();
      } catch (err) {
        out[side].error = String(err && err.message || err);
        break;
      }
      if (i >= warm) out[side].ms.push(now() - t0);
    }
  }
  return out;
}

// --- bytes ---------------------------------------------------------------------

// Closes every store of `name` and sums what each keeps on disk:
//   Hiroba: its OPFS files hiroba/<name>.db, .db-wal, .db-journal after
//     feed.close() (which checkpoints the WAL into the database);
//   worker-relay: the opfs-sahpool files that hold <name>.db and its
//     journal (each such file names its path in its header; sizes include
//     the pool's 4 KiB header per file), read after its worker is ended
//     (its empty spare files are not counted);
//   nostr-idb: Chromium's usageDetails.indexedDB after the ingest minus
//     before it (an estimate: LevelDB files, not compacted).
export async function closeAndMeasure(name) {
  const idbAfter = await usage();
  const out = { hiroba: { bytes: 0, files: {} }, relay: { bytes: 0, files: {} }, idb: { bytes: idbAfter } };
  await feeds.get(name).close();
  feeds.delete(name);
  relays.get(name).terminate();
  relays.delete(name);
  idbs.get(name).close();
  idbs.delete(name);
  const root = await navigator.storage.getDirectory();
  const sizeOf = async (handle, header) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const file = await handle.getFile();
        return header ? { size: file.size, head: new Uint8Array(await file.slice(0, 512).arrayBuffer()) } : { size: file.size };
      } catch (err) {
        if (attempt >= 20) throw err;
        await sleep(200);
      }
    }
  };
  const ours = await root.getDirectoryHandle('hiroba');
  for await (const [file, handle] of ours.entries()) {
    if (handle.kind !== 'file' || !file.startsWith(`${name}.db`)) continue;
    const { size } = await sizeOf(handle);
    out.hiroba.files[file] = size;
    out.hiroba.bytes += size;
  }
  // The pool keeps its files in a subfolder (.opaque in this version).
  const poolFiles = [];
  const walk = async (dir) => {
    for await (const handle of dir.values()) {
      if (handle.kind === 'directory') await walk(handle);
      else poolFiles.push(handle);
    }
  };
  await walk(await root.getDirectoryHandle(POOL_DIR));
  for (const handle of poolFiles) {
    const { size, head } = await sizeOf(handle, true);
    const end = head.indexOf(0);
    const path = new TextDecoder().decode(head.subarray(0, end < 0 ? head.length : end));
    if (!path.startsWith(`/${name}.db`)) continue;
    out.relay.files[path] = size;
    out.relay.bytes += size;
  }
  return out;
}
