// engine-pragmas.js -- the engine's connection settings, as src/store.c
// sets them on open, read from that file so that the raw-SQL benches
// (opfs-writes, sqlite-opt) cannot drift from it. PRAGMA user_version
// belongs to the schema, not the settings.

import { readFileSync } from 'node:fs';
import { ROOT } from './browser.js';

export function enginePragmas() {
  const pragmas = [...readFileSync(`${ROOT}src/store.c`, 'utf8').matchAll(/"(PRAGMA [a-z_]+=[^;"]+);"/g)]
    .map((m) => m[1]).filter((p) => !p.startsWith('PRAGMA user_version'));
  if (!pragmas.some((p) => /journal_mode/.test(p))) throw new Error(`no journal_mode among the PRAGMAs of src/store.c: ${pragmas}`);
  return pragmas;
}
