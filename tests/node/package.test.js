// package.test.js -- what `npm pack` would publish, read from
// `npm pack --dry-run --json`: each file once (no path twice, no two files
// with the same bytes, as when the glue was copied beside the wasm), no
// test build, tests or sources, every entry and bin present, every
// relative import or `new URL(..., import.meta.url)` of every shipped
// module resolving to a shipped file, and the npm packages they import
// declared in "dependencies". Also: the dev server's reading of "files"
// (web/shipped.js) agrees with npm's, and the shipped wasm module has what
// the shipped glue calls and none of the test-only exports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';

import { shippedFilter } from '../../web/shipped.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));

function packList() {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `npm pack --dry-run failed: ${r.stderr}`);
  return JSON.parse(r.stdout)[0].files;
}
const packed = packList();
const files = packed.map((f) => f.path);
const shipped = new Set(files);

test('the package ships each file once, and no test build, test or source', () => {
  assert.equal(shipped.size, files.length, 'a path is listed twice');
  assert.ok(shipped.has('build/hiroba/hiroba.wasm') && shipped.has('build/hiroba/hiroba.mjs'),
    'the wasm module is in the package (run make wasm first)');
  const byContent = new Map();
  for (const f of files) {
    const hash = createHash('sha256').update(readFileSync(ROOT + f)).digest('hex');
    assert.ok(!byContent.has(hash), `${f} and ${byContent.get(hash)} are the same bytes`);
    byContent.set(hash, f);
  }
  for (const f of files) {
    if (f.startsWith('build/')) {
      assert.ok(['build/hiroba/hiroba.mjs', 'build/hiroba/hiroba.wasm'].includes(f), `${f}: only the shipped module leaves build/`);
    }
    assert.doesNotMatch(f, /^(tests|bench|src|deps|scripts|mk|node_modules|data|test-output)\//, f);
  }
  // An Emscripten link input, not a module anything loads.
  assert.ok(!shipped.has('js-glue/storage-library.js'));
  // Only the command is executable (emcc writes the .wasm executable).
  for (const { path, mode } of packed) {
    const bin = Object.values(pkg.bin).map((b) => posix.normalize(b)).includes(path);
    assert.equal(mode & 0o111 ? 'executable' : 'data', bin ? 'executable' : 'data', `${path}: mode ${mode.toString(8)}`);
  }
  for (const f of ['package.json', 'README.md', 'LICENSE', 'docs/DESIGN.md']) assert.ok(shipped.has(f), f);
});

// Every file an "exports" condition or "bin" names.
function targets(value) {
  if (typeof value === 'string') return [value];
  return Object.values(value).flatMap(targets);
}

test('every entry and bin is a shipped file', () => {
  const named = [...targets(pkg.exports), pkg.types, ...Object.values(pkg.bin)].map((p) => posix.normalize(p));
  for (const path of named) {
    assert.ok(shipped.has(path), `${path} is named in package.json but not shipped`);
  }
  // Conditions are read in order, at every level: types first (each
  // runtime gets its own declarations: browser, node), default last.
  const checkOrder = (entry, conditions) => {
    if (typeof conditions === 'string') return;
    const keys = Object.keys(conditions);
    if (keys.includes('types')) assert.equal(keys[0], 'types', `${entry}: "types" comes first`);
    else for (const value of Object.values(conditions)) assert.equal(typeof value, 'object', `${entry}: every condition names its types`);
    if (keys.includes('default')) assert.equal(keys.at(-1), 'default', `${entry}: "default" comes last`);
    for (const value of Object.values(conditions)) checkOrder(entry, value);
  };
  for (const [entry, conditions] of Object.entries(pkg.exports)) checkOrder(entry, conditions);
});

// The module specifiers a file's code refers to: static and dynamic
// imports, re-exports, and assets named by new URL(..., import.meta.url).
// Comment lines are skipped (they show usage such as import ... from 'hiroba').
function references(text) {
  const code = text.split('\n').filter((line) => !/^\s*(\/\/|\/?\*)/.test(line)).join('\n');
  const found = [];
  const patterns = [
    [/^\s*(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]/gm, 'module'],
    [/^\s*import\s*['"]([^'"]+)['"]/gm, 'module'],
    [/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g, 'module'],
    [/\bnew URL\(\s*['"`]([^'"`$]+)['"`]\s*,\s*import\.meta\.url\s*\)/g, 'url'],
  ];
  for (const [re, kind] of patterns) for (const m of code.matchAll(re)) found.push({ spec: m[1], kind });
  return found;
}

const modules = files.filter((f) => /\.(m?js)$/.test(f));
const builtins = new Set(builtinModules);
const packageName = (spec) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

test('every relative import of a shipped module resolves to a shipped file', () => {
  let seen = 0;
  for (const f of modules) {
    for (const { spec, kind } of references(readFileSync(ROOT + f, 'utf8'))) {
      const relative = kind === 'url' ? !/^[a-z][a-z0-9+.-]*:|^\//i.test(spec) : /^\.\.?\//.test(spec);
      if (!relative) continue;
      seen++;
      const target = posix.normalize(posix.join(posix.dirname(f), spec));
      assert.ok(shipped.has(target), `${f} refers to ${spec} (${target}), which the package does not ship`);
    }
  }
  assert.ok(seen > 30, `only ${seen} relative references found: the scan is broken`);
});

test('the npm packages shipped modules import are runtime dependencies', () => {
  const dependencies = new Set(Object.keys(pkg.dependencies ?? {}));
  for (const f of modules) {
    for (const { spec, kind } of references(readFileSync(ROOT + f, 'utf8'))) {
      if (kind !== 'module' || /^\.\.?\//.test(spec)) continue;
      assert.doesNotMatch(spec, /^\/|^[a-z]+:\/\//i, `${f} imports ${spec}: an absolute path the package cannot hold`);
      if (spec.startsWith('node:') || builtins.has(spec)) continue;
      assert.ok(dependencies.has(packageName(spec)), `${f} imports ${spec}, which "dependencies" lacks`);
    }
  }
});

// The other way: nothing in "dependencies" that no shipped module imports.
// @noble/hashes is held there for the NIP-49 key export (js-glue/nip49.js);
// until that module is in the tree, this is a todo.
test('every runtime dependency is imported by a shipped module',
  { todo: existsSync(`${ROOT}js-glue/nip49.js`) ? false : 'js-glue/nip49.js, which imports @noble/hashes, is not here yet' }, () => {
    const imported = new Set();
    for (const f of modules) {
      for (const { spec, kind } of references(readFileSync(ROOT + f, 'utf8'))) {
        if (kind === 'module' && !/^\.\.?\//.test(spec) && !spec.startsWith('node:')) imported.add(packageName(spec));
      }
    }
    for (const name of Object.keys(pkg.dependencies ?? {})) {
      assert.ok(imported.has(name), `"dependencies" has ${name}, which no shipped module imports (a devDependency?)`);
    }
  });

// What npm ships, checked against web/shipped.js for every file of the
// repository and of build/hiroba*/ (npm adds package.json and the README
// whatever "files" says; the dev server does not serve those).
test('web/shipped.js reads "files" as npm does', () => {
  const git = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(git.status, 0, git.stderr);
  const candidates = new Set(git.stdout.split('\0').filter(Boolean));
  for (const dir of ['build/hiroba', 'build/hiroba-test']) {
    if (existsSync(ROOT + dir)) for (const f of readdirSync(ROOT + dir)) candidates.add(`${dir}/${f}`);
  }
  for (const f of files) candidates.add(f);
  const isShipped = shippedFilter();
  for (const f of candidates) {
    // npm adds these whatever "files" says; nothing serves them.
    if (f === 'package.json' || f === 'README.md' || f === 'LICENSE') continue;
    assert.equal(isShipped(f), shipped.has(f), `${f}: web/shipped.js says ${isShipped(f)}, npm ${shipped.has(f)}`);
  }
});

// The wasm exports: the shipped module has every one the shipped glue
// calls, and none of TEST_EXPORTS (Makefile), which the test module has.
test('the shipped wasm has what the glue calls and no test-only export', () => {
  const exportsOf = (dir) => new Set(WebAssembly.Module.exports(
    new WebAssembly.Module(readFileSync(`${ROOT}build/${dir}/hiroba.wasm`))).map((e) => e.name));
  const prod = exportsOf('hiroba');
  const testModule = exportsOf('hiroba-test');
  const testOnly = readFileSync(`${ROOT}Makefile`, 'utf8').match(/^TEST_EXPORTS := (.+)$/m)[1].trim().split(/\s+/);
  assert.ok(testOnly.length > 0);
  for (const name of testOnly) {
    assert.ok(!prod.has(name), `the shipped module exports ${name}`);
    assert.ok(testModule.has(name), `the test module lacks ${name}`);
  }
  const called = new Set();
  for (const f of modules.filter((m) => !m.startsWith('build/'))) {
    for (const m of readFileSync(ROOT + f, 'utf8').matchAll(/\._(hiroba_\w+)/g)) called.add(m[1]);
  }
  assert.ok(called.has('hiroba__verify') && called.has('hiroba__integrity_check'), [...called].join(' '));
  for (const name of called) assert.ok(prod.has(name), `shipped glue calls _${name}, which the shipped module lacks`);
});
