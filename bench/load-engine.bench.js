// load-engine.bench.js -- the load figures of the engine: the wasm
// engine in Node (openFeed, the Node entry) on a database of 1,000,000
// real signed events, with the same figures on 10,000 events as anchors.
//
// The events (20,000 authors with power-law activity; notes, replies,
// reactions, profiles, follow lists) are generated and loaded natively
// once, through the engine's own merge, and cached under build/bench/load/
// (bench/lib/load/engine-data.js). The figures here are all the wasm
// engine's, on those files:
//
//   size      database bytes (file + WAL, as the engine leaves it) per event
//   open      openFeed on the database (new wasm instance, SQLite open,
//             schema check), median of re-opens after a warm-up
//   queries   median latency of feed.query (JSON parse included) for
//             by author (limit 50), kind + since (~1,000 newest notes),
//             #e tag (replies and reactions to a post), 100 ids, and by
//             author (limit 50) for the busiest author
//   merge     10,000 new events merged (batches of 500, signatures
//             checked) into a scratch copy of the 1M database, events/s,
//             against the same into an empty database
//   sync      NIP-77 reconciliation between the 1M database and a copy
//             lacking 10 events: over one follow list (~150 authors,
//             ~10,000 events) and over all 1,000,000 events (in three
//             created_at windows: the engine caps a session at 500,000
//             items). Time and bytes of all frames both ways; the 10
//             missing ids must come out exactly (else exit 1).
//
// Query parameters are drawn from the events themselves (meta-N.json):
// authors of randomly chosen events (so busy authors come up as often as
// readers would ask for them), posts that got reactions, random ids. The
// anchor is the same query shape on the 10,000-event database, with
// parameters drawn the same way; "kind + since" keeps its answer at ~1,000
// events on both, so the ratio shows what the size of the store costs.

import { copyFileSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openFeed } from '../js-glue/node.js';
import { DIR, ensureData } from './lib/load/engine-data.js';
import { report, medianMs } from './report.js';

// The corpus is many authors nobody follows: the feeds keep every valid
// event with no size budget (a relay's policy); the default policy would
// refuse them.
const KEEP_ALL = { store: 'all', maxBytes: 0 };

const BIG = 1_000_000;
const SMALL = 10_000;
const RUNS = 21;

let failures = 0;
function fail(text) {
  failures++;
  console.error(`load-engine: ${text}`);
}

// Deterministic picks, so every run asks the same questions.
function picker(seed) {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s % n;
  };
}

// k different items of list.
function distinct(list, k, pick) {
  const out = new Set();
  while (out.size < k) out.add(list[pick(list.length)]);
  return [...out];
}

// The author who wrote most of the sampled events: the busiest account.
function busiestAuthor(meta) {
  const counts = new Map();
  for (const a of meta.sampleAuthors) counts.set(a, (counts.get(a) ?? 0) + 1);
  return [...counts].sort((x, y) => y[1] - x[1])[0][0];
}

// The frames of an events file, as batches (JSON text of arrays of frames).
function frameBatches(file, size) {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const out = [];
  for (let i = 0; i < lines.length; i += size) out.push(`[${lines.slice(i, i + size).join(',')}]`);
  return out;
}

const removeDb = (path) => { for (const s of ['', '-wal', '-journal']) rmSync(path + s, { force: true }); };

// Merges every batch into the database at path: -> { ms, accepted, rejected }.
async function mergeAll(path, batches) {
  const feed = await openFeed({ path, policy: KEEP_ALL });
  let accepted = 0;
  let rejected = 0;
  const t0 = performance.now();
  for (const b of batches) {
    const r = await feed.merge(b);
    accepted += r.accepted.length;
    rejected += r.rejected.length;
    for (const x of r.rejected) if (!/^replaced/.test(x.reason)) fail(`merge refused ${x.id}: ${x.reason}`);
  }
  const ms = performance.now() - t0;
  await feed.close();
  return { ms, accepted, rejected };
}

const eventsBy = async (feed, pubkey) => (await feed.query({ authors: [pubkey] })).length;

const fileBytes = (path) => [path, `${path}-wal`].reduce((sum, p) => sum + (existsSync(p) ? statSync(p).size : 0), 0);

async function timeOpen(path) {
  const t0 = performance.now();
  const feed = await openFeed({ path, policy: KEEP_ALL });
  const first = performance.now() - t0;
  await feed.close();
  const again = await medianMs(5, async () => {
    const f = await openFeed({ path, policy: KEEP_ALL });
    await f.close();
  });
  return { first, again };
}

// The query suite on one database: median ms and mean answer size per query.
async function querySuite(feed, meta) {
  const pick = picker(7);
  const authors = [...new Set(meta.sampleAuthors)];
  const targets = [...new Set(meta.sampleTargets)];
  const suite = {
    author: () => ({ authors: [authors[pick(authors.length)]], limit: 50 }),
    since: () => ({ kinds: [1], since: meta.since1000Notes }),
    tag: () => ({ '#e': [targets[pick(targets.length)]] }),
    ids: () => ({ ids: distinct(meta.sampleIds, 100, pick) }),
    busiest: () => ({ authors: [busiestAuthor(meta)], limit: 50 }),
  };
  const out = {};
  for (const [name, make] of Object.entries(suite)) {
    const filters = Array.from({ length: RUNS + 1 }, make);
    let rows = 0;
    await feed.query(filters[RUNS]); // warm-up, not counted
    const ms = await medianMs(RUNS, async (i) => { rows += (await feed.query(filters[i])).length; });
    out[name] = { ms, rows: rows / RUNS };
  }
  return out;
}

// One NIP-77 reconciliation, `initiator` opening over `filter` against
// `responder`: -> { ms, bytes, rounds, have, need }.
async function reconcile(initiator, responder, filter, sub) {
  const t0 = performance.now();
  let frame = await initiator.negOpen(sub, filter);
  let bytes = JSON.stringify(frame).length;
  let rounds = 0;
  const have = new Set();
  const need = new Set();
  for (;;) {
    rounds++;
    const answer = await responder.merge(frame);
    if (answer.rejected.length) throw new Error(`responder rejected: ${JSON.stringify(answer.rejected).slice(0, 300)}`);
    const reply = answer.replies.find((f) => f[0] === 'NEG-MSG' || f[0] === 'NEG-ERR');
    if (!reply || reply[0] !== 'NEG-MSG') throw new Error(`responder answered ${JSON.stringify(answer.replies).slice(0, 300)}`);
    bytes += JSON.stringify(reply).length;
    const result = await initiator.merge(reply);
    if (result.rejected.length) throw new Error(`initiator rejected: ${JSON.stringify(result.rejected).slice(0, 300)}`);
    for (const id of result.have) have.add(id);
    for (const id of result.need) need.add(id);
    const next = result.replies.find((f) => f[0] === 'NEG-MSG' || f[0] === 'NEG-CLOSE');
    if (!next) throw new Error(`initiator answered ${JSON.stringify(result.replies).slice(0, 300)}`);
    bytes += JSON.stringify(next).length;
    if (next[0] === 'NEG-CLOSE') {
      await responder.merge(next);
      break;
    }
    frame = next;
  }
  return { ms: performance.now() - t0, bytes, rounds, have, need };
}

function checkNeed(what, r, expected) {
  const missing = [...expected].filter((id) => !r.need.has(id));
  const extra = [...r.need].filter((id) => !expected.has(id));
  if (missing.length || extra.length || r.have.size) {
    fail(`${what}: need ${r.need.size} (missing ${missing.length}, extra ${extra.length}), have ${r.have.size}; expected need = the ${expected.size} withheld ids, have none`);
  }
}

async function main() {
  const small = ensureData(SMALL);
  const big = ensureData(BIG, { minus: true });
  const withheld = new Set(big.meta.withheld.map((w) => w.id));
  if (withheld.size !== 10) fail(`expected 10 withheld events, meta has ${withheld.size}`);

  // --- size ------------------------------------------------------------------
  const bytesBig = fileBytes(big.db);
  const bytesSmall = fileBytes(small.db);
  report({
    id: 'engine-bytes-per-event-1m',
    what: 'database size per event at 1,000,000 events (file + WAL)',
    value: bytesBig / BIG, unit: 'B', anchor: '10,000 events', anchorValue: bytesSmall / SMALL, better: 'lower',
    note: `${(bytesBig / 2 ** 30).toFixed(2)} GiB; the events as NIP-01 frames take ${(statSync(big.events).size / BIG).toFixed(0)} B each`,
  });

  // --- open ------------------------------------------------------------------
  // The first open compiles the wasm module, and the engine's code gets
  // faster over its first calls (V8 tiers it up): warm up once on the small
  // database, then measure both.
  const warm = await timeOpen(small.db);
  const openSmall = await timeOpen(small.db);
  const openBig = await timeOpen(big.db);
  report({
    id: 'engine-open-1m',
    what: 'openFeed on the 1,000,000-event database (median of re-opens)',
    value: openBig.again, unit: 'ms', anchor: '10,000 events', anchorValue: openSmall.again, better: 'lower',
    note: `first open in the process, wasm compile included: ${warm.first.toFixed(0)} ms (10k database)`,
  });

  // --- queries -----------------------------------------------------------------
  let feed = await openFeed({ path: small.db, policy: KEEP_ALL });
  await querySuite(feed, small.meta); // warm-up pass (tier-up), not counted
  const qSmall = await querySuite(feed, small.meta);
  const busiestSmall = await eventsBy(feed, busiestAuthor(small.meta));
  await feed.close();
  feed = await openFeed({ path: big.db, policy: KEEP_ALL });
  const qBig = await querySuite(feed, big.meta);
  const names = {
    author: 'query by author, limit 50',
    since: 'query kind 1 since (~1,000 newest notes)',
    tag: 'query #e tag (replies and reactions to a post)',
    ids: 'query 100 ids',
    busiest: 'query by author, limit 50, for the busiest author',
  };
  const busiestBig = await eventsBy(feed, busiestAuthor(big.meta));
  for (const name of Object.keys(names)) {
    report({
      id: `engine-query-${name}-1m`,
      what: `${names[name]} at 1,000,000 events (median of ${RUNS})`,
      value: qBig[name].ms, unit: 'ms', anchor: '10,000 events', anchorValue: qSmall[name].ms, better: 'lower',
      note: `answers of ${qBig[name].rows.toFixed(0)} events (10k: ${qSmall[name].rows.toFixed(0)})${
        name === 'busiest' ? `; the author has ${busiestBig.toLocaleString('en')} events (10k: ${busiestSmall})` : ''}`,
    });
  }

  // --- merge ---------------------------------------------------------------------
  // New events into the big database (a scratch copy: the cache stays as
  // generated), in batches of 500 as sync fetches them, against the same
  // events into an empty database. The 10,000-event set is new to the big
  // one (other times, so other ids), but its 200 authors are the big
  // set's busiest: their profiles and follow lists replace or lose to
  // the stored ones, as they would.
  await feed.close();
  const batches = frameBatches(small.events, 500);
  const scratch = join(DIR, 'scratch-merge.db');
  const scratchEmpty = join(DIR, 'scratch-empty.db');
  let mergeBig, mergeEmpty;
  try {
    for (const p of [scratch, scratchEmpty]) removeDb(p);
    mergeEmpty = await mergeAll(scratchEmpty, batches);
    copyFileSync(big.db, scratch);
    mergeBig = await mergeAll(scratch, batches);
  } finally {
    for (const p of [scratch, scratchEmpty]) removeDb(p);
  }
  report({
    id: 'engine-merge-1m',
    what: `merge ${SMALL.toLocaleString('en')} new events in batches of 500 into the 1,000,000-event database, events/s`,
    value: SMALL / (mergeBig.ms / 1000), unit: 'events/s', anchor: 'into an empty database', anchorValue: SMALL / (mergeEmpty.ms / 1000), better: 'higher',
    note: `${mergeBig.accepted} accepted, ${mergeBig.rejected} refused as replaced (empty: ${mergeEmpty.accepted}/${mergeEmpty.rejected}); signatures verified in wasm`,
  });
  feed = await openFeed({ path: big.db, policy: KEEP_ALL });

  // --- reconciliation ------------------------------------------------------------------
  const minus = await openFeed({ path: big.minusDb, policy: KEEP_ALL });
  const followFilter = { authors: big.meta.followed };
  const followed = await feed.query(followFilter);
  const followedBytes = followed.reduce((sum, e) => sum + JSON.stringify(e).length, 0);
  const f = await reconcile(minus, feed, followFilter, 'bench-follow');
  checkNeed('follow-list reconciliation', f, withheld);
  report({
    id: 'engine-neg-follow-1m',
    what: `NIP-77 reconciliation over a follow list (${big.meta.followed.length} authors, ${followed.length.toLocaleString('en')} events) in the 1M database, peer lacking 10`,
    value: f.ms, unit: 'ms', better: 'lower',
    note: `${f.rounds} round trips, ${(f.bytes / 1024).toFixed(1)} KiB both ways (${(100 * f.bytes / followedBytes).toFixed(2)}% of sending those events); found the 10`,
  });

  const [c1, c2] = big.meta.cuts;
  const windows = [{ until: c1 - 1 }, { since: c1, until: c2 - 1 }, { since: c2 }];
  const all = { ms: 0, bytes: 0, rounds: 0, have: new Set(), need: new Set() };
  for (const [i, w] of windows.entries()) {
    const r = await reconcile(minus, feed, w, `bench-all-${i}`);
    all.ms += r.ms;
    all.bytes += r.bytes;
    all.rounds += r.rounds;
    for (const id of r.have) all.have.add(id);
    for (const id of r.need) all.need.add(id);
  }
  checkNeed('full reconciliation', all, withheld);
  report({
    id: 'engine-neg-all-1m',
    what: 'NIP-77 reconciliation of all 1,000,000 events (3 created_at windows of ~333k), peer lacking 10',
    value: all.ms, unit: 'ms', better: 'lower',
    note: `${all.rounds} round trips, ${(all.bytes / 1024).toFixed(1)} KiB both ways (${(100 * all.bytes / statSync(big.events).size).toFixed(3)}% of sending the events); found the 10`,
  });
  await minus.close();
  await feed.close();

  if (failures) process.exit(1);
}

await main();
