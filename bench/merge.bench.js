// merge.bench.js -- merging 100,000 signed events (id and
// signature checked, then stored) in the wasm engine under Node, against
// the same C built natively (clang, the native flavour's -O2) merging the
// same bytes. Target: wasm time <= 1.5 x native time.
//
// Both sides get the corpus of bench/lib/events.js in the same batches of
// 1,000 ["EVENT", event] frames, each batch one hiroba__merge_n call (one
// SQLite transaction), on a new database file in a temp directory:
//   - wasm: js-glue/node.js openFeed({ path, policy: KEEP_ALL }) and feed.merge(array of
//     frames), so the figure includes what a Node caller pays around the
//     engine (JSON.stringify of the batch, copying it in, JSON.parse of
//     the result with its 1,000 OK replies);
//   - native: build/bench/merge_native (bench/native/merge_native.c)
//     reading the same batch texts from a file.
// Only the merge calls are timed. Then the same batches are merged a
// second time into the same database: every event is a duplicate (parse,
// id hash, one index lookup, no signature check), the cost of a peer
// resending what we hold.
//
// The native run goes once before and once after the wasm run, each on a
// fresh database, and the anchor is their mean: on a shared machine the
// load drifts, and bracketing the wasm run cancels most of the drift.
// Wall-clock time is the figure; CPU time (the process's, so it leaves
// out waiting for the disk and for other processes) is in the note, as
// the steadier ratio on a busy machine.
//
// A third row merges the same batches as a peer's frames go in: each batch
// one feed.mergeBatch(conn, frames) call, the path of the sync driver, which
// verifies on the feed's verifier threads while the engine stores
// (docs/DESIGN.md "Verifying in parallel"; one transaction per ~64 KiB
// chunk). Its CPU time includes the verifier threads'.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report } from './report.js';
import { corpusLines, BENCH_DIR } from './lib/events.js';
import { ensureBuilt, requireWasm } from './lib/build.js';

// The corpus is many authors nobody follows: the feeds keep every valid
// event with no size budget (a relay's policy); the default policy would
// refuse them.
const KEEP_ALL = { store: 'all', maxBytes: 0 };

const BATCH = 1000;

ensureBuilt(['build/bench/merge_native']);
requireWasm();
const { openFeed } = await import('../js-glue/node.js');

const lines = corpusLines();
const N = lines.length;
const batchTexts = [];
for (let i = 0; i < N; i += BATCH) {
  batchTexts.push(`[${lines.slice(i, i + BATCH).map((l) => `["EVENT",${l}]`).join(',')}]`);
}

const dir = mkdtempSync(join(tmpdir(), 'hiroba-bench-merge-'));
try {
  const batchFile = join(dir, 'batches.jsonl');
  writeFileSync(batchFile, `${batchTexts.join('\n')}\n`);

  const runNative = (run) => {
    const db = join(dir, `native-${run}.db`);
    const out = execFileSync(`${BENCH_DIR}merge_native`, [batchFile, db], { encoding: 'utf8' });
    const r = JSON.parse(out);
    if (r.accepted !== N || r.duplicates !== N || r.rejected !== 0) {
      throw new Error(`native merge: expected ${N} accepted then ${N} duplicates, got ${out}`);
    }
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${db}${suffix}`, { force: true });
    return r;
  };

  // --- wasm in Node ----------------------------------------------------------
  const batches = batchTexts.map((t) => JSON.parse(t)); // parsed outside the timing
  const runWasm = async () => {
    const feed = await openFeed({ path: join(dir, 'wasm.db'), policy: KEEP_ALL });
    const pass = async () => {
      let ms = 0, cpuUs = 0, accepted = 0, duplicates = 0, rejected = 0;
      for (const b of batches) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const res = await feed.merge(b);
        ms += performance.now() - t0;
        const c = process.cpuUsage(c0);
        cpuUs += c.user + c.system;
        accepted += res.accepted.length;
        duplicates += res.duplicates;
        rejected += res.rejected.length;
      }
      return { ms, cpuMs: cpuUs / 1000, accepted, duplicates, rejected };
    };
    const fresh = await pass();
    const dup = await pass();
    await feed.close();
    if (fresh.accepted !== N || fresh.rejected || dup.duplicates !== N || dup.rejected) {
      throw new Error(`wasm merge: expected ${N} accepted then ${N} duplicates, got ${JSON.stringify({ fresh, dup })}`);
    }
    return { fresh, dup };
  };

  // --- wasm in Node, the sync driver's path (verifier threads) -------------
  const frameBatches = batchTexts.map((_, i) => lines.slice(i * BATCH, (i + 1) * BATCH).map((l) => `["EVENT",${l}]`));
  const runParallel = async () => {
    const feed = await openFeed({ path: join(dir, 'parallel.db'), policy: KEEP_ALL });
    // The verifier threads start with the first call: not timed.
    await feed.mergeBatch(1, ['["EOSE","warm-up"]']);
    let ms = 0, cpuUs = 0, accepted = 0, rejected = 0;
    for (const frames of frameBatches) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let rest = frames; rest.length;) {
        const res = await feed.mergeBatch(1, rest);
        for (const r of res) { accepted += r.accepted.length; rejected += r.rejected.length; }
        rest = rest.slice(res.length);
      }
      ms += performance.now() - t0;
      const c = process.cpuUsage(c0);
      cpuUs += c.user + c.system;
    }
    await feed.close();
    if (accepted !== N || rejected) throw new Error(`wasm mergeBatch: expected ${N} accepted, got ${accepted} (${rejected} rejected)`);
    return { ms, cpuMs: cpuUs / 1000 };
  };

  const before = runNative(0);
  const { fresh, dup } = await runWasm();
  const parallel = await runParallel();
  const after = runNative(1);
  const mean = (k) => (before[k] + after[k]) / 2 / 1000;
  const nativeFresh = mean('freshMs');
  const nativeDup = mean('dupMs');
  const cpuRatio = (w, n) => `CPU time ${(w / 1000).toFixed(1)} s vs ${n.toFixed(1)} s, ratio ${(w / 1000 / n).toFixed(2)}`;

  const perEvent = (s) => `${((s * 1e6) / N).toFixed(0)} us/event`;
  report({
    id: 'merge-100k',
    what: `merge ${N.toLocaleString('en')} signed events (verification included), batches of ${BATCH}`,
    value: fresh.ms / 1000,
    unit: 's',
    anchor: 'same C, native -O2',
    anchorValue: nativeFresh,
    better: 'lower',
    target: 1.5,
    note: `wasm ${perEvent(fresh.ms / 1000)}, native ${perEvent(nativeFresh)} (${(before.freshMs / 1000).toFixed(1)} s before, ${(after.freshMs / 1000).toFixed(1)} s after); ${cpuRatio(fresh.cpuMs, mean('freshCpuMs'))}`,
  });
  const { availableParallelism, cpus } = await import('node:os');
  const threads = availableParallelism?.() ?? cpus().length;
  report({
    id: 'merge-100k-parallel',
    what: `merge ${N.toLocaleString('en')} signed events as a peer's frames: feed.mergeBatch() of ${BATCH} frames, verified on the feed's verifier threads while the engine stores`,
    value: parallel.ms / 1000,
    unit: 's',
    anchor: 'same C, native -O2, single thread',
    anchorValue: nativeFresh,
    better: 'lower',
    target: 1.0,
    note: `wasm ${perEvent(parallel.ms / 1000)} with ${Math.max(1, Math.min(4, threads - 1))} verifier thread(s) on ${threads} hardware threads; the single-thread feed.merge() above took ${(fresh.ms / 1000).toFixed(1)} s (${(parallel.ms / fresh.ms).toFixed(2)}x of it here); ${cpuRatio(parallel.cpuMs, mean('freshCpuMs'))} (all threads)`,
  });
  report({
    id: 'merge-100k-dup',
    what: `merge the same ${N.toLocaleString('en')} events again (all duplicates)`,
    value: dup.ms / 1000,
    unit: 's',
    anchor: 'same C, native -O2',
    anchorValue: nativeDup,
    better: 'lower',
    note: `wasm ${perEvent(dup.ms / 1000)}, native ${perEvent(nativeDup)}; ${cpuRatio(dup.cpuMs, mean('dupCpuMs'))}`,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
