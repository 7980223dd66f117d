// build.js -- lets a bench run on its own (`node bench/x.bench.js`) by
// asking make for the native helpers it needs; under `make bench` they are
// already built (mk/bench-node.mk) and this is a no-op.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function ensureBuilt(targets) {
  // Not a sub-make of `make bench`: it must not inherit its jobserver.
  const env = { ...process.env };
  delete env.MAKEFLAGS;
  delete env.MFLAGS;
  delete env.MAKELEVEL;
  const r = spawnSync('make', ['-s', '--no-print-directory', ...targets], { cwd: ROOT, env, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`make ${targets.join(' ')} failed`);
  for (const t of targets) {
    if (!existsSync(`${ROOT}${t}`)) throw new Error(`${t} is missing after make`);
  }
}

/* The wasm module is built by `make` (or `make bench`); say so clearly. */
export function requireWasm() {
  if (!existsSync(`${ROOT}build/hiroba/hiroba.wasm`)) {
    throw new Error('build/hiroba/hiroba.wasm is missing: run `make bench` (or `make wasm`) first');
  }
}
