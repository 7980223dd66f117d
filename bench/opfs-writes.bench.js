// opfs-writes.bench.js -- SQLite writes on OPFS
// through our VFS vs sqlite-wasm's opfs-sahpool VFS (the one that, like
// ours, needs no COOP/COEP), in one headless browser on a persistent
// profile (on-disk OPFS), each in a dedicated worker of the same page:
// Chromium, then Firefox ESR (every figure once per browser, the anchors
// measured in the same browser; lib/browser.js's benchBrowser).
//
// Like for like, raw SQL without the engine: build/test/vfs_bench.mjs
// (bench/wasm/vfs_bench.c: our SQLite object + src/vfs.c + storage_js.c
// over the shipped storage-opfs.js) against @sqlite.org/sqlite-wasm's own
// build on opfs-sahpool, both running bench/pages/sql-workload.js -- the
// rows the engine stores for an event (event table and its indexes, tag
// rows) -- after the PRAGMAs src/store.c sets (WAL, locking_mode=
// EXCLUSIVE, synchronous=FULL, ...), read from that file:
//   opfs-bulk-sql      N events in one transaction         (target <= 1.0)
//   opfs-single-sql    one transaction per event, durable  (target <= 1.0)
//   opfs-bulk-sql-vfs  the bulk again with our page and cache size set to
//                      sqlite-wasm's defaults: the VFS alone
// with, in the notes, the OPFS calls each side makes (every
// FileSystemSyncAccessHandle call counted), the same SQL on an in-memory
// database (the two SQLite builds alone) and sahpool as shipped.
//
// Then what an application gets, through the feed API, with the crypto
// measured apart so the reader sees how much is storage:
//   opfs-bulk-feed     feed.merge() of the same N pre-signed events as one
//                      batch (one transaction, every signature verified)
//   opfs-bulk-crypto   the same batch with bad signatures: all the work
//                      but the writing (and, in the note, as duplicates:
//                      no signature checks either)
//   opfs-single-feed   feed.post() one by one (sign, store, commit)
//   opfs-single-sign   feed.sign() alone
//
// Events: the first N of the shared corpus (bench/lib/events.js).

import { corpusLines } from './lib/events.js';
import { enginePragmas } from './lib/engine-pragmas.js';
import { sahSizes } from './pages/sql-workload.js';
import { assertNoPageErrors, benchBrowser, benchSession, inBrowser, median, ms, requireBrowserBuild } from './lib/browser.js';
import { report } from './report.js';

const N_BULK = 5_000;      // events per bulk transaction (3.4 MB of JSON, more than a 2 MiB cache)
const N_SINGLE = 200;      // single commits per run
const ROUNDS_SQL = 7;      // raw-SQL runs per side (rotating order)
const ROUNDS_FEED = 3;     // feed-level runs

const ENGINE_PRAGMAS = enginePragmas();
const PRAGMAS = { engine: ENGINE_PRAGMAS, engineSahSizes: sahSizes(ENGINE_PRAGMAS), default: [] };

requireBrowserBuild({ vfsBench: true });
const browser = benchBrowser();
const lines = corpusLines().slice(0, N_BULK);
const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);

const session = benchSession({ limitMs: 170_000 });
try {
  const { page, rpc } = await session.benchPage(browser);

  // --- raw SQL: our VFS vs opfs-sahpool --------------------------------------
  await page.evaluate(() => {
    window.spawnWorker('ours', '/bench/ours-sql-worker.js');
    window.spawnWorker('sah', '/bench/sahpool-worker.js');
  });
  await rpc('ours', 'setData', { lines });
  await rpc('sah', 'setData', { lines });
  // Untimed warm-up per side (JIT, OPFS files created), then rounds in a
  // rotating order, so neither side always runs first.
  for (const side of ['ours', 'sah']) await rpc(side, 'run', { workload: 'single', pragmas: ENGINE_PRAGMAS, n: 20, from: 200 });
  const PLAN = [
    ['ours', 'engine', 'bulk'], ['sah', 'engine', 'bulk'], ['ours', 'engineSahSizes', 'bulk'],
    ['ours', 'engine', 'single'], ['sah', 'engine', 'single'],
  ];
  const times = new Map(PLAN.map((p) => [p.join('/'), []]));
  const seen = {};   // settings in effect, per side and pragmas
  // Single commits take events from the 200th on: the corpus opens with
  // 100 profiles and 100 follow lists (20-60 "p" tags each), untypical
  // of what one posts.
  const runSql = (side, pragmas, workload, extra = {}) => rpc(side, 'run', {
    workload, pragmas: PRAGMAS[pragmas], ...(workload === 'bulk' ? { n: N_BULK } : { n: N_SINGLE, from: 200 }), ...extra,
  });
  for (let r = 0; r < ROUNDS_SQL; r++) {
    for (let i = 0; i < PLAN.length; i++) {
      const [side, pragmas, workload] = PLAN[(i + r) % PLAN.length];
      const res = await runSql(side, pragmas, workload);
      times.get([side, pragmas, workload].join('/')).push(res.ms);
      seen[`${side}/${pragmas}`] = res.settings;
    }
  }
  const med = (key) => median(times.get(key));
  // Diagnostics for the notes, one or two runs each: sahpool as
  // sqlite-wasm ships it (no pragmas); both on a temporary database held
  // in memory ('': the SQLite builds alone, no OPFS); the OPFS calls each
  // side makes.
  const diag = {};
  const diagRuns = async (name, n, side, pragmas, workload, extra) => {
    const t = [];
    for (let i = 0; i < n; i++) {
      const res = await runSql(side, pragmas, workload, extra);
      t.push(res.ms);
      diag[name] = { ...res, ms: median(t) };
    }
  };
  await diagRuns('sahDefaultBulk', 2, 'sah', 'default', 'bulk');
  await diagRuns('sahDefaultSingle', 1, 'sah', 'default', 'single', { n: 50 });
  for (let i = 0; i < 2; i++) {
    await diagRuns(`oursMemory${i}`, 1, 'ours', 'engineSahSizes', 'bulk', { memory: true });
    await diagRuns(`sahMemory${i}`, 1, 'sah', 'engine', 'bulk', { memory: true });
  }
  for (const [name, side, pragmas, workload] of [
    ['oursIoBulk', 'ours', 'engine', 'bulk'], ['sahIoBulk', 'sah', 'engine', 'bulk'],
    ['oursSizesIoBulk', 'ours', 'engineSahSizes', 'bulk'],
    ['oursIoSingle', 'ours', 'engine', 'single'], ['sahIoSingle', 'sah', 'engine', 'single'],
  ]) await diagRuns(name, 1, side, pragmas, workload, { countIo: true });
  await rpc('ours', 'release');
  await rpc('sah', 'release');

  const set = (s) => `journal_mode=${s.journal_mode}, locking_mode=${s.locking_mode}, synchronous=${s.synchronous}, page_size=${s.page_size}, cache_size=${s.cache_size}`;
  const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
  const ioText = ({ io }, per = 1) => (per === 1
    ? `${io.write.calls} writes (${mb(io.write.bytes)}), ${io.read.calls} reads (${mb(io.read.bytes)}), ${io.flush.calls} flushes`
    : `${(io.write.calls / per).toFixed(0)} writes (${(io.write.bytes / per / 1024).toFixed(0)} KiB), ${(io.flush.calls / per).toFixed(2)} flushes (${(io.flush.ms / io.flush.calls).toFixed(2)} ms each)`);
  const bulkOurs = med('ours/engine/bulk');
  const bulkSah = med('sah/engine/bulk');
  const bulkOursSizes = med('ours/engineSahSizes/bulk');
  const singleOurs = med('ours/engine/single') / N_SINGLE;
  const singleSah = med('sah/engine/single') / N_SINGLE;
  const memOurs = median([diag.oursMemory0.ms, diag.oursMemory1.ms]);
  const memSah = median([diag.sahMemory0.ms, diag.sahMemory1.ms]);

  // --- the feed API: merge (verify + store) and post (sign + store) --------
  const feedRuns = await page.evaluate(async ({ lines, rounds, nSingle }) => {
    const { openFeed } = await import('/hiroba/js-glue/index.js');
    const batch = `[${lines.map((l) => `["EVENT",${l}]`).join(',')}]`;
    // The same events with one hex digit of each signature changed: the
    // engine does all its work up to and including the signature check,
    // rejects them, and stores nothing.
    const forged = `[${lines.map((l) => {
      const e = JSON.parse(l);
      e.sig = e.sig.slice(0, -1) + (e.sig.endsWith('0') ? '1' : '0');
      return `["EVENT",${JSON.stringify(e)}]`;
    }).join(',')}]`;
    const out = { merge: [], dup: [], verify: [], post: [], sign: [], accepted: 0, rejected: 0, duplicates: 0, forgedRejected: 0 };
    const timed = async (fn) => { const t0 = performance.now(); const r = await fn(); return [performance.now() - t0, r]; };
    // The corpus is other people's events: feeds that merge it keep
    // everything (policy store 'all'), as the raw SQL does, instead of
    // blocking what they do not follow before its signature is checked.
    const all = { store: 'all' };
    for (let r = 0; r < rounds; r++) {
      let feed = await openFeed({ name: `bench-merge-${r}`, policy: all });
      await feed.identity();
      const [tm, res] = await timed(() => feed.merge(batch));
      out.merge.push(tm);
      out.accepted = res.accepted.length;
      out.rejected = res.rejected.length;
      // Again: every event is a duplicate, found before its signature is
      // checked -- parse, id hash and lookup only.
      const [td, dup] = await timed(() => feed.merge(batch));
      out.dup.push(td);
      out.duplicates = dup.duplicates;
      await feed.close();

      feed = await openFeed({ name: `bench-forged-${r}`, policy: all });
      await feed.identity();
      const [tv, bad] = await timed(() => feed.merge(forged));
      out.verify.push(tv);
      out.forgedRejected = bad.rejected.length;
      await feed.close();

      feed = await openFeed({ name: `bench-post-${r}` });
      await feed.post('warm-up');
      await feed.sign({ kind: 1, content: 'warm-up', tags: [] });
      const [tp] = await timed(async () => {
        for (let i = 0; i < nSingle; i++) await feed.post(`post ${i} of round ${r}: a sentence or two, as people write them`);
      });
      out.post.push(tp / nSingle);
      const [ts] = await timed(async () => {
        for (let i = 0; i < nSingle; i++) await feed.sign({ kind: 1, content: `signed ${i} of round ${r}: a sentence or two, as people write them`, tags: [] });
      });
      out.sign.push(ts / nSingle);
      await feed.close();
    }
    return out;
  }, { lines, rounds: ROUNDS_FEED, nSingle: N_SINGLE });
  if (feedRuns.accepted !== N_BULK) throw new Error(`feed.merge accepted ${feedRuns.accepted} of ${N_BULK} (${feedRuns.rejected} rejected)`);
  if (feedRuns.duplicates !== N_BULK) throw new Error(`second merge: ${feedRuns.duplicates} of ${N_BULK} duplicates`);
  if (feedRuns.forgedRejected !== N_BULK) throw new Error(`forged batch: ${feedRuns.forgedRejected} of ${N_BULK} rejected`);
  // The OPFS calls of one post: the engine in a worker of our own.
  await page.evaluate(() => window.spawnWorker('engine', '/bench/ours-engine-worker.js'));
  const posts = await rpc('engine', 'posts', { name: 'bench-post-io', n: 100 });
  assertNoPageErrors(page);

  const merge = median(feedRuns.merge);
  const verify = median(feedRuns.verify);
  const dup = median(feedRuns.dup);
  const post = median(feedRuns.post);
  const sign = median(feedRuns.sign);
  const rows = `${N_BULK.toLocaleString('en')} corpus events (${(bytes / 1e6).toFixed(1)} MB JSON)`;

  report(inBrowser(browser, {
    id: 'opfs-bulk-sql',
    what: `raw SQL on our OPFS VFS: ${rows} as event + tag rows, one transaction`,
    value: bulkOurs, unit: 'ms',
    anchor: 'sqlite-wasm opfs-sahpool, same SQL', anchorValue: bulkSah,
    better: 'lower', target: 1.0,
    note: `median of ${ROUNDS_SQL}; on both the settings of src/store.c (${ENGINE_PRAGMAS.map((p) => p.slice(7)).join(', ')}), build defaults otherwise: ours ${set(seen['ours/engine'])}; sahpool ${set(seen['sah/engine'])}`
      + `; OPFS calls: ours ${ioText(diag.oursIoBulk)}, sahpool ${ioText(diag.sahIoBulk)}`
      + `; same SQL on an in-memory temporary database, 8 KiB pages on both (no OPFS: the SQLite builds alone): ours ${ms(memOurs)}, sqlite-wasm ${ms(memSah)}`
      + `; sahpool as shipped (${set(diag.sahDefaultBulk.settings)}): ${ms(diag.sahDefaultBulk.ms)}`,
  }));
  report(inBrowser(browser, {
    id: 'opfs-bulk-sql-vfs',
    what: 'the same bulk with our page and cache size set to sqlite-wasm\'s (8 KiB, 16 MiB): the VFS alone',
    value: bulkOursSizes, unit: 'ms',
    anchor: 'sqlite-wasm opfs-sahpool, same SQL', anchorValue: bulkSah,
    better: 'lower',
    note: `median of ${ROUNDS_SQL}; ours ${set(seen['ours/engineSahSizes'])}; OPFS calls: ${ioText(diag.oursSizesIoBulk)}`,
  }));
  report(inBrowser(browser, {
    id: 'opfs-single-sql',
    what: 'raw SQL on our OPFS VFS: one event + its tags per transaction, durable commit',
    value: singleOurs, unit: 'ms/commit',
    anchor: 'sqlite-wasm opfs-sahpool, same SQL', anchorValue: singleSah,
    better: 'lower', target: 1.0,
    note: `median of ${ROUNDS_SQL} runs of ${N_SINGLE} commits, settings as opfs-bulk-sql; per commit: ours ${ioText(diag.oursIoSingle, N_SINGLE)}, sahpool ${ioText(diag.sahIoSingle, N_SINGLE)}`
      + `; sahpool as shipped (${diag.sahDefaultSingle.settings.journal_mode} journal, 1 run of 50): ${(diag.sahDefaultSingle.ms / 50).toFixed(2)} ms/commit`,
  }));
  report(inBrowser(browser, {
    id: 'opfs-bulk-feed',
    what: `feed.merge() of the same ${N_BULK.toLocaleString('en')} pre-signed events as one batch (one transaction)`,
    value: merge, unit: 'ms',
    anchor: 'sqlite-wasm opfs-sahpool raw SQL bulk', anchorValue: bulkSah,
    better: 'lower',
    note: `median of ${ROUNDS_FEED}; not like for like: merge also parses each event, recomputes its id, checks duplicates/tombstones/mutes/replaceable slots and verifies every BIP-340 signature (see opfs-bulk-crypto), plus the worker round trip of a ${(bytes / 1e6).toFixed(1)} MB batch`,
  }));
  report(inBrowser(browser, {
    id: 'opfs-bulk-crypto',
    what: `the same merge minus storage: ${N_BULK.toLocaleString('en')} events with a bad signature (parse, id hash, lookups, verify; nothing stored)`,
    value: verify, unit: 'ms',
    anchor: 'the whole feed.merge() (opfs-bulk-feed)', anchorValue: merge,
    better: 'lower',
    note: `ratio = share of the merge that is not writing; the same batch merged a second time (all duplicates: parse, id hash, lookup, no signature check) ${ms(dup)}`
      + `, so signature checks ~${((verify - dup) / N_BULK * 1000).toFixed(0)} us/event and writing ~${ms(Math.max(0, merge - verify))}; median of ${ROUNDS_FEED}`,
  }));
  report(inBrowser(browser, {
    id: 'opfs-single-feed',
    what: 'feed.post() one by one: sign + store + durable commit per post',
    value: post, unit: 'ms/post',
    anchor: 'sqlite-wasm opfs-sahpool raw SQL single commit', anchorValue: singleSah,
    better: 'lower',
    note: `median of ${ROUNDS_FEED} runs of ${N_SINGLE}; includes signing (opfs-single-sign) and the page-worker round trip`
      + `; engine.post() called inside a worker (no round trip): ${(posts.ms / 100).toFixed(2)} ms/post, ${ioText(posts, 100)}`,
  }));
  report(inBrowser(browser, {
    id: 'opfs-single-sign',
    what: 'feed.sign() alone (sign, no storage), per call',
    value: sign, unit: 'ms/call',
    anchor: 'feed.post() (opfs-single-feed)', anchorValue: post,
    better: 'lower',
    note: `ratio = share of a post that is signing + round trip; storage part = ${(Math.max(0, post - sign)).toFixed(2)} ms/post vs raw-SQL commit on our VFS ${singleOurs.toFixed(2)} ms`,
  }));
} finally {
  await session.close();
}
