// sqlite-opt.bench.js -- SQLite compiled for speed against SQLite
// compiled for size, measured both ways in one run: what each build
// option costs in module size and buys in raw SQL speed, with both goals
// they trade between as anchors:
//   - wasm size, gzip -9: ours / sqlite-wasm's sqlite3.wasm   (goal <= 0.75)
//   - raw bulk SQL on OPFS: ours / sqlite-wasm opfs-sahpool   (goal <= 1.0)
// for the shipped build (SQLite at -Oz, linked at -O2: the Makefile) and
// the variants of mk/bench-opt.mk (SQLite at -Os, -O2, -O2 without
// inlining; the shipped objects linked at -O3, or with dlmalloc). Each
// variant is the shipped module linked again (its size) and the raw-SQL
// program bench/wasm/vfs_bench.c linked the same way (its speed), the
// program opfs-writes.bench.js runs: bench/pages/sql-workload.js's bulk of N
// events as event + tag rows in one transaction, after src/store.c's
// PRAGMAs, every variant and sahpool in a worker of its own in one page,
// in rotating order; and the same on an in-memory database (no OPFS:
// SQLite alone), each variant against the shipped build.

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { corpusLines } from './lib/events.js';
import { enginePragmas } from './lib/engine-pragmas.js';
import { ensureBuilt } from './lib/build.js';
import { ROOT, assertNoPageErrors, benchBrowser, benchSession, inBrowser, median, requireBrowserBuild } from './lib/browser.js';
import { report } from './report.js';

const N_BULK = 5_000;   // events in the bulk transaction, as opfs-writes
const ROUNDS = 7;       // bulk runs per build and place (rotating order)

// name -> what it is; '' is the shipped build.
const BUILDS = new Map([
  ['', 'shipped: SQLite -Oz, linked -O2'],
  ['Os', 'SQLite -Os, linked -O2'],
  ['O2', 'SQLite -O2, linked -O2'],
  ['O2-noinline', 'SQLite -O2 -fno-inline-functions, linked -O2'],
  ['link-O3', 'SQLite -Oz, linked -O3'],
  ['dlmalloc', 'SQLite -Oz, linked -O2 with dlmalloc instead of emmalloc'],
]);
const dir = (build) => (build ? `build/test/opt/${build}/` : 'build/hiroba/');
const programOf = (build) => (build ? `build/test/opt/${build}/vfs_bench.mjs` : 'build/test/vfs_bench.mjs');

requireBrowserBuild({ vfsBench: true });
ensureBuilt([...BUILDS.keys()].filter(Boolean).flatMap((b) => [`${dir(b)}hiroba.mjs`, programOf(b)]));
const browser = benchBrowser();
const pragmas = enginePragmas();
const lines = corpusLines().slice(0, N_BULK);

const gzipKiB = (file) => gzipSync(readFileSync(`${ROOT}${file}`), { level: 9 }).length / 1024;
const rawKiB = (file) => readFileSync(`${ROOT}${file}`).length / 1024;
const signed = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(0)}`;
const theirsGzip = gzipKiB('node_modules/@sqlite.org/sqlite-wasm/dist/sqlite3.wasm');

const session = benchSession({ limitMs: 170_000 });
try {
  const { page, rpc } = await session.benchPage(browser);
  const sides = [...[...BUILDS.keys()].map((b) => `ours:${b}`), 'sah'];
  await page.evaluate((builds) => {
    for (const b of builds) window.spawnWorker(`ours:${b}`, `/bench/ours-sql-worker.js${b ? `?build=${b}` : ''}`);
    window.spawnWorker('sah', '/bench/sahpool-worker.js');
  }, [...BUILDS.keys()]);
  for (const side of sides) {
    await rpc(side, 'setData', { lines });
    // Untimed warm-up (JIT, OPFS files created).
    await rpc(side, 'run', { workload: 'bulk', pragmas, n: 500 });
  }
  // On OPFS and in memory, each round every side once, in rotating order.
  const times = { opfs: new Map(sides.map((s) => [s, []])), memory: new Map(sides.map((s) => [s, []])) };
  for (let r = 0; r < ROUNDS; r++) {
    for (const memory of [true, false]) {
      for (let i = 0; i < sides.length; i++) {
        const side = sides[(i + r) % sides.length];
        const res = await rpc(side, 'run', { workload: 'bulk', pragmas, n: N_BULK, memory });
        times[memory ? 'memory' : 'opfs'].get(side).push(res.ms);
      }
    }
  }
  for (const side of sides) await rpc(side, 'release');
  assertNoPageErrors(page);

  const med = (where, side) => median(times[where].get(side));
  for (const [build, what] of BUILDS) {
    const id = build || 'shipped';
    const side = `ours:${build}`;
    const wasm = `${dir(build)}hiroba.wasm`;
    // SQLite alone: the build against the shipped one (the shipped one
    // against sqlite-wasm's), on an in-memory database.
    report(inBrowser(browser, {
      id: `sqlite-opt-memory-${id}`,
      what: `raw bulk SQL in memory (no OPFS: SQLite alone), ${what}`,
      value: med('memory', side), unit: 'ms',
      ...(build ? { anchor: 'the shipped build, same SQL', anchorValue: med('memory', 'ours:') }
        : { anchor: 'sqlite-wasm, same SQL', anchorValue: med('memory', 'sah') }),
      better: 'lower',
      note: `median of ${ROUNDS}; ${N_BULK.toLocaleString('en')} events as event + tag rows, one transaction`,
    }));
    report(inBrowser(browser, {
      id: `sqlite-opt-bulk-${id}`,
      what: `raw bulk SQL on OPFS, ${what}`,
      value: med('opfs', side), unit: 'ms',
      anchor: 'sqlite-wasm opfs-sahpool, same SQL', anchorValue: med('opfs', 'sah'),
      better: 'lower', target: 1.0,
      note: `median of ${ROUNDS}${build ? `; ${(med('opfs', side) / med('opfs', 'ours:')).toFixed(2)}x the shipped build's time` : ''}`,
    }));
    // The sizes are the files', whatever the browser: reported once.
    if (browser === 'chromium') {
      const gzip = gzipKiB(wasm);
      report({
        id: `sqlite-opt-gzip-${id}`,
        what: `wasm module size, gzip -9, ${what}`,
        value: gzip, unit: 'KiB',
        anchor: 'sqlite-wasm sqlite3.wasm, gzip -9', anchorValue: theirsGzip,
        better: 'lower', target: 0.75,
        note: `raw ${rawKiB(wasm).toFixed(0)} KiB; ${build ? `${signed(gzip - gzipKiB('build/hiroba/hiroba.wasm'))} KiB gzipped against the shipped module` : 'the module that ships'}`,
      });
    }
  }
} finally {
  await session.close();
}
