// browser.js -- what the three browser benchmarks share
// (bench/opfs-writes, bench/datachannel, bench/size-startup): Debian's
// headless Chromium on persistent profiles (real on-disk OPFS; see
// tests/e2e/harness.js), the bench page (bench/pages/bench.html, served
// as /bench/), a watchdog, and cleanup of everything they started, also
// when they fail.
//
//   const run = benchSession({ limitMs: 170_000 });
//   try {
//     const server = await run.staticServer();       // harness server
//     const profile = await run.profile();           // closed by run.close()
//     const page = await benchPage(profile, server.origin);
//     ...
//   } finally { await run.close(); }

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchProfile, startServer, watchErrors } from '../../tests/e2e/harness.js';
import { ensureBuilt, requireWasm } from './build.js';

// The repository's root folder, ending in '/'.
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

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
    async profile() {
      const p = await launchProfile();
      closers.push(() => p.close());
      return p;
    },
  };
}

// Opens bench/pages/bench.html in a new tab of profile; the page's console
// errors and exceptions are collected in page.benchErrors.
export async function benchPage(profile, origin) {
  const page = await profile.context.newPage();
  page.benchErrors = watchErrors(page);
  await page.goto(`${origin}/bench/bench.html`);
  await page.waitForFunction(() => window.benchReady === true);
  return page;
}

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
