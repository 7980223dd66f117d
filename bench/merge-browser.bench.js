// merge-browser.bench.js -- merging the 100,000 signed events of
// bench/lib/events.js in headless Chromium (the browser package as it
// ships: openFeed() in a page, the engine in its worker, SQLite on OPFS),
// against the same C built natively on one thread (build/bench/
// merge_native, as bench/merge.bench.js runs it), in wall-clock time.
// bench/merge.bench.js measures the same wasm under Node; this is the
// figure a user's browser gets.
//
// Both sides merge the same batches of 1,000 ["EVENT", event] frames, one
// feed.merge() (one hiroba__merge_n, one transaction) each, into a new
// database; only the merge calls are timed (the page builds its batch
// texts before the clock starts). The native run goes once before and once
// after the browser runs and the anchor is their mean, as in merge.bench.js.
// A second row merges the same frames as a peer's (feed.mergeBatch(), the
// sync driver's path), whose signatures are checked on the worker's
// verifier workers while its engine stores: verification in parallel.
// Chromium only.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, corpusLines } from './lib/events.js';
import { ensureBuilt } from './lib/build.js';
import { BROWSERS, assertNoPageErrors, benchSession, requireBrowserBuild } from './lib/browser.js';
import { report } from './report.js';
import { verifierCount } from '../js-glue/verify-pool.js';

const BATCH = 1000;
const KEEP_ALL = { store: 'all', maxBytes: 0 };

// Chromium only: a run for other browsers (HIROBA_BROWSERS) skips it.
if (!BROWSERS.includes('chromium')) {
  console.log('skipped: this bench runs in Chromium only, which HIROBA_BROWSERS leaves out');
  process.exit(0);
}
ensureBuilt(['build/bench/merge_native']);
requireBrowserBuild();
const lines = corpusLines();
const N = lines.length;
const batchTexts = [];
for (let i = 0; i < N; i += BATCH) batchTexts.push(`[${lines.slice(i, i + BATCH).map((l) => `["EVENT",${l}]`).join(',')}]`);

const dir = mkdtempSync(join(tmpdir(), 'hiroba-bench-merge-browser-'));
const session = benchSession({ limitMs: 300_000 });
session.add(() => rmSync(dir, { recursive: true, force: true }));
try {
  const batchFile = join(dir, 'batches.jsonl');
  writeFileSync(batchFile, `${batchTexts.join('\n')}\n`);
  const runNative = (run) => {
    const r = JSON.parse(execFileSync(`${BENCH_DIR}merge_native`, [batchFile, join(dir, `native-${run}.db`)], { encoding: 'utf8' }));
    if (r.accepted !== N || r.rejected !== 0) throw new Error(`native merge: ${JSON.stringify(r)}`);
    return r.freshMs;
  };

  const { page } = await session.benchPage('chromium');
  // The corpus goes into the page before anything is timed.
  await page.evaluate((l) => { window.mergeLines = l; return l.length; }, lines);

  const before = runNative(0);
  const browser = await page.evaluate(async ({ batch, policy }) => {
    const { openFeed } = await import('/hiroba/js-glue/index.js');
    const l = window.mergeLines;
    const texts = [];
    for (let i = 0; i < l.length; i += batch) texts.push(`[${l.slice(i, i + batch).map((x) => `["EVENT",${x}]`).join(',')}]`);
    window.mergeLines = null;
    const feed = await openFeed({ name: 'merge-100k', policy });
    await feed.identity();
    let ms = 0;
    let accepted = 0;
    let rejected = 0;
    for (const t of texts) {
      const t0 = performance.now();
      const res = await feed.merge(t);
      ms += performance.now() - t0;
      accepted += res.accepted.length;
      rejected += res.rejected.length;
    }
    await feed.close();
    return { ms, accepted, rejected };
  }, { batch: BATCH, policy: KEEP_ALL });
  // The same events as a peer's frames, the sync driver's path:
  // feed.mergeBatch() of 1,000 frames, verified on the worker's verifier
  // workers while its engine stores them (js-glue/verify-pool.js).
  await page.evaluate((l) => { window.mergeLines = l; return l.length; }, lines);
  const peer = await page.evaluate(async ({ batch, policy }) => {
    const { openFeed } = await import('/hiroba/js-glue/index.js');
    const l = window.mergeLines;
    const batches = [];
    for (let i = 0; i < l.length; i += batch) batches.push(l.slice(i, i + batch).map((x) => `["EVENT","s",${x}]`));
    window.mergeLines = null;
    const feed = await openFeed({ name: 'merge-100k-peer', policy });
    await feed.identity();
    let ms = 0;
    let accepted = 0;
    let rejected = 0;
    let calls = 0;
    for (const frames of batches) {
      for (let rest = frames; rest.length;) {
        const t0 = performance.now();
        const got = await feed.mergeBatch(1, rest);
        ms += performance.now() - t0;
        calls++;
        for (const r of got) { accepted += r.accepted.length; rejected += r.rejected.length; }
        rest = rest.slice(got.length);
      }
    }
    await feed.close();
    return { ms, accepted, rejected, calls, cores: navigator.hardwareConcurrency };
  }, { batch: BATCH, policy: KEEP_ALL });
  const after = runNative(1);
  assertNoPageErrors(page);
  if (browser.accepted !== N || browser.rejected) throw new Error(`browser merge: ${JSON.stringify(browser)}`);
  if (peer.accepted !== N || peer.rejected) throw new Error(`browser mergeBatch: ${JSON.stringify(peer)}`);

  const native = (before + after) / 2;
  const us = (msTotal) => `${((msTotal * 1000) / N).toFixed(0)} us/event`;
  report({
    id: 'merge-100k-browser',
    what: `merge ${N.toLocaleString('en')} signed events in Chromium (feed.merge(), verification included), batches of ${BATCH}`,
    value: browser.ms / 1000, unit: 's',
    anchor: 'same C, native -O2, one thread', anchorValue: native / 1000,
    better: 'lower', target: 1.0,
    note: `browser ${us(browser.ms)}, native ${us(native)} (${(before / 1000).toFixed(1)} s before, ${(after / 1000).toFixed(1)} s after); wall-clock time, the page-worker round trip of each batch included`,
  });
  report({
    id: 'merge-100k-browser-peer',
    what: `merge ${N.toLocaleString('en')} signed events in Chromium as a peer's frames (feed.mergeBatch() of ${BATCH} frames), verified on the worker's verifier workers while the engine stores`,
    value: peer.ms / 1000, unit: 's',
    anchor: 'same C, native -O2, one thread', anchorValue: native / 1000,
    better: 'lower', target: 1.0,
    note: `browser ${us(peer.ms)} in ${peer.calls} calls, ${peer.cores} cores (hardwareConcurrency), so ${verifierCount(peer.cores)} verifier worker(s) beside the engine; feed.merge() of the same on the engine alone: ${us(browser.ms)}; native ${us(native)}`,
  });
} finally {
  await session.close();
}
