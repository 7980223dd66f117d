// browser.js -- what the three browser benchmarks share
// (bench/opfs-writes, bench/datachannel, bench/size-startup): Debian's
// headless Chromium and Firefox ESR on persistent profiles (real on-disk
// OPFS; tests/e2e/harness.js's launchBrowser), one process per browser,
// the bench page (bench/pages/bench.html, served as /bench/), a
// watchdog, and cleanup of everything they started, also when they fail.
//
//   const browser = benchBrowser();                  // per browser from here on
//   const run = benchSession({ limitMs: 170_000 });
//   try {
//     const server = await run.staticServer();       // harness server
//     const profile = await run.profile(browser);    // closed by run.close()
//     const page = await benchPage(profile, server.origin);
//     ...
//     report(inBrowser(browser, { id, what, ... }));
//   } finally { await run.close(); }

import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BROWSERS, launchBrowser, startServer } from '../../tests/e2e/harness.js';
import { ensureBuilt, requireWasm } from './build.js';

// The repository's root folder, ending in '/'.
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export { BROWSERS };

// The browser this run of a bench measures in. Run as `node x.bench.js`
// (as bench/run.js does), the bench runs itself again once per browser of
// HIROBA_BROWSERS (default chromium,firefox; harness.js), each in a
// process of its own, as run.js keeps benches apart, so that one browser
// cannot warm or slow the other; then it exits, failing if any run failed.
// In those runs, it returns the browser.
export function benchBrowser() {
  const browser = process.env.BENCH_BROWSER;
  if (browser) return browser;
  let failed = false;
  for (const b of BROWSERS) {
    console.log(`--- ${b}`);
    const r = spawnSync(process.execPath, [process.argv[1]], { stdio: 'inherit', env: { ...process.env, BENCH_BROWSER: b } });
    if (r.status !== 0) {
      console.error(`${b}: exit ${r.status ?? r.signal}`);
      failed = true;
    }
  }
  process.exit(failed ? 1 : 0);
}

const NAMES = { chromium: 'Chromium', firefox: 'Firefox ESR' };

// A figure measured in `browser`, for report(): Chromium's keep the ids
// and descriptions they had when Chromium was the only browser measured
// (the README's rows); another browser's id ends in -<browser> and its
// description starts with the browser's name.
export function inBrowser(browser, figure) {
  if (browser === 'chromium') return figure;
  return { ...figure, id: `${figure.id}-${browser}`, what: `${NAMES[browser]}: ${figure.what}` };
}

// Everything started through the session is closed by close(), newest
// first; past limitMs the watchdog closes it all and exits with 1, so a
// stuck browser never outlives the bench.
export function benchSession({ limitMs = 170_000 } = {}) {
  const closers = [];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    clearTimeout(watchdog);
    while (closers.length) {
      try { await closers.pop()(); } catch { /* close the rest anyway */ }
    }
  };
  const watchdog = setTimeout(() => {
    console.error(`bench: over ${limitMs / 1000} s, giving up`);
    close().finally(() => process.exit(1));
  }, limitMs);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => close().finally(() => process.exit(130)));
  }
  return {
    close,
    // Registers a close function for something started elsewhere.
    add(fn) { closers.push(fn); },
    async staticServer() {
      const s = await startServer();
      closers.push(() => s.close());
      return s;
    },
    async profile(browser) {
      const p = await launchBrowser(browser);
      closers.push(() => p.close());
      return p;
    },
    // What most browser benches start with: a static server, a profile of
    // `browser` and a benchPage in it. -> { page, rpc: pageRpc(page) }
    async benchPage(browser) {
      const server = await this.staticServer();
      const page = await benchPage(await this.profile(browser), server.origin);
      return { page, rpc: pageRpc(page) };
    },
  };
}

// Opens bench/pages/bench.html in a new tab of profile (harness.js's
// Page: evaluate, waitForFunction, close in either browser); the page's
// console errors and exceptions are collected in page.benchErrors.
export async function benchPage(profile, origin) {
  const page = await profile.newPage();
  page.benchErrors = page.errors;
  await page.goto(`${origin}/bench/bench.html`);
  await page.waitForFunction(() => window.benchReady === true);
  return page;
}

// rpc(key, op, args): a call to the bench worker `key` of a benchPage
// (bench.html's window.rpc), from Node.
export const pageRpc = (page) => (key, op, args) => page.evaluate(([k, o, a]) => window.rpc(k, o, a), [key, op, args]);

// Makes sure the browser package (and, with vfsBench, the raw-SQL wasm
// program) exists: under `make bench` they are built already.
export function requireBrowserBuild({ vfsBench = false } = {}) {
  requireWasm();
  if (vfsBench && !existsSync(`${ROOT}build/test/vfs_bench.mjs`)) ensureBuilt(['build/test/vfs_bench.mjs']);
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// "12.3 ms" style: for notes.
export const ms = (v) => `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms`;

// Throws when a page reported errors (a bench must not time a broken run).
export function assertNoPageErrors(...pages) {
  const errors = pages.flatMap((p) => p.benchErrors ?? []);
  if (errors.length) throw new Error(`page errors:\n${errors.join('\n')}`);
}
