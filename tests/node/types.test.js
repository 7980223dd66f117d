// types.test.js -- the .d.ts files say what the JavaScript exports: for
// every entry of package.json "exports", the values its module exports at
// run time (functions, classes, constants) are exactly the values its
// types declare. The typed examples (tests/types, compiled by tsc in make
// test) check the shapes; this checks nothing is missing or extra.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8'));

// The file a target of "exports" resolves to under some conditions, the
// way Node and TypeScript resolve it: the first key in order that is one
// of the conditions wins, recursively.
function resolveTarget(target, conditions) {
  if (typeof target === 'string') return target;
  for (const [key, value] of Object.entries(target ?? {})) {
    if (!conditions.includes(key)) continue;
    const found = resolveTarget(value, conditions);
    if (found) return found;
  }
  return null;
}

// Value names a .d.ts declares, following `export * from`.
function declared(file, seen = new Set()) {
  if (seen.has(file)) return new Set();
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  const names = new Set();
  for (const m of text.matchAll(/^export (?:declare )?(?:async )?(?:function|class|const|let) ([A-Za-z_$][\w$]*)/gm)) names.add(m[1]);
  for (const m of text.matchAll(/^export \* from '(\.[^']+)\.js';/gm)) {
    for (const name of declared(resolve(dirname(file), `${m[1]}.d.ts`), seen)) names.add(name);
  }
  return names;
}

// Browser entries load under Node too (nothing runs until openFeed), so
// both sides of each condition are checked here.
for (const [subpath, target] of Object.entries(pkg.exports)) {
  if (subpath === './package.json') continue;
  for (const env of ['node', 'browser']) {
    const js = resolveTarget(target, [env, 'import', 'default']);
    if (!js) continue; // a Node-only entry has no browser side
    test(`${subpath} (${env}): its types declare exactly what ${js} exports`, async () => {
      const types = resolveTarget(target, ['types', env, 'import', 'default']);
      assert.ok(types?.endsWith('.d.ts'), `${subpath} has a "types" condition for ${env}`);
      const module = await import(pathToFileURL(resolve(ROOT, js)).href);
      assert.deepEqual(Object.keys(module).sort(), [...declared(resolve(ROOT, types))].sort());
    });
  }
}
