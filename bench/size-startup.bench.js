// size-startup.bench.js -- what a page pays before
// Hiroba answers, against @sqlite.org/sqlite-wasm.
//   - module size: build/hiroba/hiroba.wasm vs sqlite-wasm's sqlite3.wasm,
//     raw and gzip -9 (node:zlib), which is what travels over the wire;
//   - start-up to first query, in headless Chromium and Firefox ESR (a
//     row each, lib/browser.js's benchBrowser) on a persistent
//     profile: ours is openFeed({name}) -> first feed.query({limit: 1})
//     result (worker start, wasm fetch + compile, OPFS handles, open,
//     schema check); theirs is new Worker -> sqlite3InitModule() ->
//     installOpfsSAHPoolVfs() -> open a database -> `select 1`
//     (bench/pages/sahpool-worker.js, op startup). Both in the same fresh
//     tab (a new page per run, databases already on disk from a warm-up
//     run, the server sending no-store so nothing comes from the HTTP
//     cache), the order alternating; the median is reported.
// Where the start-up time goes is in the note: each tab also runs our
// start-up step by step in a worker of its own (bench/pages/
// ours-engine-worker.js, the steps of js-glue/worker.js, stamped, plus the
// OPFS calls hiroba_open makes and a second open in the same worker), and
// sqlite-wasm's worker stamps its steps too; a last tab times
// WebAssembly.compileStreaming() of each module alone.

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { BROWSERS, ROOT, assertNoPageErrors, benchBrowser, benchPage, benchSession, inBrowser, median, ms, requireBrowserBuild } from './lib/browser.js';
import { report } from './report.js';

const RUNS = 7;

requireBrowserBuild();
const browser = benchBrowser();
const OURS = `${ROOT}build/hiroba/hiroba.wasm`;
const THEIRS = `${ROOT}node_modules/@sqlite.org/sqlite-wasm/dist/sqlite3.wasm`;
const sizes = (file) => {
  const bytes = readFileSync(file);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};
const ours = sizes(OURS);
const theirs = sizes(THEIRS);
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;

const session = benchSession({ limitMs: 170_000 });
try {
  const server = await session.staticServer();
  const profile = await session.profile(browser);

  // One fresh tab per run: ours and theirs in it, in alternating order.
  const runOnce = async (oursFirst) => {
    const page = await benchPage(profile, server.origin);
    const r = await page.evaluate(async (oursFirst) => {
      const out = {};
      const t0 = performance.now();
      const { openFeed } = await import('/hiroba/js-glue/index.js');
      out.importMs = performance.now() - t0;
      const measureOurs = async () => {
        const t = performance.now();
        const feed = await openFeed({ name: 'startup' });
        out.oursOpenMs = performance.now() - t;
        await feed.query({ limit: 1 });
        out.oursMs = performance.now() - t;
        await feed.close();
      };
      const abs = () => performance.timeOrigin + performance.now();
      // Stamps -> durations of each step from the previous one.
      const steps = (start, stamps, names) => {
        const d = {};
        let prev = start;
        for (const n of names) { d[n] = stamps[n] - prev; prev = stamps[n]; }
        return d;
      };
      const measureTheirs = async () => {
        const t = performance.now();
        const start = abs();
        window.spawnWorker('sah', '/bench/sahpool-worker.js');
        const { value, t: stamps } = await window.rpc('sah', 'startup');
        out.theirsMs = performance.now() - t;
        out.theirsSteps = steps(start, stamps, ['top', 'init', 'install', 'query']);
        if (value !== 1) throw new Error(`select 1 gave ${value}`);
        await window.rpc('sah', 'release');
        window.killWorker('sah');
      };
      if (oursFirst) { await measureOurs(); await measureTheirs(); } else { await measureTheirs(); await measureOurs(); }
      // Our steps, one by one, as worker.js takes them (untimed above).
      const start = abs();
      window.spawnWorker('steps', '/bench/ours-engine-worker.js');
      const stamps = await window.rpc('steps', 'startup', { name: 'startup' });
      out.oursSteps = steps(start, stamps, ['top', 'lock', 'storage', 'module', 'open', 'query', 'closed', 'reopen']);
      out.openIo = stamps.openIo;
      window.killWorker('steps');
      return out;
    }, oursFirst);
    assertNoPageErrors(page);
    await page.close();
    return r;
  };

  await runOnce(true);   // warm-up: creates both databases and our identity
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await runOnce(i % 2 === 1));

  // Where the time goes: compiling each module alone in a fresh tab.
  const page = await benchPage(profile, server.origin);
  const compile = await page.evaluate(async () => {
    const time = async (url) => {
      const t = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await WebAssembly.compileStreaming(fetch(url));
        t.push(performance.now() - t0);
      }
      return t.sort((a, b) => a - b)[1];
    };
    return {
      ours: await time('/hiroba/build/hiroba/hiroba.wasm'),
      theirs: await time('/node_modules/@sqlite.org/sqlite-wasm/dist/sqlite3.wasm'),
    };
  });
  assertNoPageErrors(page);

  // The sizes are the files', whatever the browser: reported once.
  if (browser === BROWSERS[0]) report({
    id: 'wasm-size-raw',
    what: 'wasm module size, raw (build/hiroba/hiroba.wasm)',
    value: ours.raw / 1024, unit: 'KiB',
    anchor: 'sqlite-wasm sqlite3.wasm', anchorValue: theirs.raw / 1024,
    better: 'lower',
    note: 'ours is SQLite + the engine + libsecp256k1 (with its precomputed tables) + cJSON; theirs is SQLite with its JS bindings\' C side',
  });
  if (browser === BROWSERS[0]) report({
    id: 'wasm-size-gzip',
    what: 'wasm module size, gzip -9',
    value: ours.gzip / 1024, unit: 'KiB',
    anchor: 'sqlite-wasm sqlite3.wasm, gzip -9', anchorValue: theirs.gzip / 1024,
    better: 'lower', target: 0.75,
    note: `gzip/raw: ours ${(ours.gzip / ours.raw).toFixed(2)}, theirs ${(theirs.gzip / theirs.raw).toFixed(2)}`,
  });
  const stepText = (list, names) => Object.entries(names)
    .map(([k, label]) => `${label} ${ms(median(list.map((s) => s[k])))}`).join(', ');
  const oursMs = median(runs.map((r) => r.oursMs));
  const theirsMs = median(runs.map((r) => r.theirsMs));
  report(inBrowser(browser, {
    id: 'startup-first-query',
    what: 'start-up to first query: openFeed({name}) -> first feed.query({limit: 1}) result',
    value: oursMs, unit: 'ms',
    anchor: 'sqlite-wasm: new Worker + init + opfs-sahpool install + open + select 1', anchorValue: theirsMs,
    better: 'lower', target: 0.5,
    note: `median of ${RUNS} fresh tabs; of ours, openFeed() itself ${ms(median(runs.map((r) => r.oursOpenMs)))}`
      + ` (the main-thread import of /hiroba/js-glue/index.js before it, untimed: ${ms(median(runs.map((r) => r.importMs)))})`
      + `; steps (medians): ours ${stepText(runs.map((r) => r.oursSteps), { top: 'worker + imports', lock: 'Web Lock', storage: 'OPFS handles', module: 'wasm fetch+compile+instantiate', open: 'hiroba_open', query: 'query' })}`
      + `; a second hiroba_open + close in that worker ${ms(median(runs.map((r) => r.oursSteps.reopen)))}`
      + (browser === 'chromium' ? ', so most of the first is one-time V8 work (lazy compilation of the functions it runs first)' : '')
      + `; an open of the existing database makes ${median(runs.map((r) => r.openIo.write.calls))} OPFS writes and ${median(runs.map((r) => r.openIo.flush.calls))} flushes (medians)`
      + `; theirs ${stepText(runs.map((r) => r.theirsSteps), { top: 'worker + imports', init: 'sqlite3InitModule (wasm fetch+compile+instantiate)', install: 'installOpfsSAHPoolVfs', query: 'open + select 1' })}`
      + `; WebAssembly.compileStreaming alone: hiroba.wasm ${ms(compile.ours)}, sqlite3.wasm ${ms(compile.theirs)}`
      + `; sizes ${kib(ours.raw)} vs ${kib(theirs.raw)}`
      // Without cross-origin isolation Firefox rounds performance.now() to
      // whole milliseconds, which the short steps show.
      + (browser === 'firefox' ? '; Firefox\'s clock here ticks in whole ms' : ''),
  }));
} finally {
  await session.close();
}
