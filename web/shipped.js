// shipped.js -- which files of this repository the npm package ships, read
// from package.json's "files" the way npm reads the patterns used there:
// a folder ("js-glue/"), a file ("build/hiroba/hiroba.wasm"), and "!path"
// to leave one out again (the last pattern that matches decides). The dev
// server and the browser test harness serve only these under /hiroba/, so
// a page that works there imports nothing the package lacks;
// tests/node/package.test.js checks this reading against `npm pack`.

import { readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// The package's root: the repository.
export const PACKAGE_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

// -> (relative path, '/'-separated) => whether the package ships it.
export function shippedFilter(files = JSON.parse(readFileSync(resolve(PACKAGE_ROOT, 'package.json'), 'utf8')).files) {
  const rules = files.map((pattern) => {
    const exclude = pattern.startsWith('!');
    const path = (exclude ? pattern.slice(1) : pattern).replace(/^\.\//, '').replace(/\/$/, '');
    // A glob would need npm's matcher; refused rather than read wrongly.
    if (/[*?[\]{}]/.test(path)) throw new Error(`shipped.js: "files" pattern ${pattern} is a glob, which it does not read`);
    return { exclude, path };
  });
  return (rel) => {
    let shipped = false;
    for (const { exclude, path } of rules) {
      if (rel === path || rel.startsWith(`${path}/`)) shipped = !exclude;
    }
    return shipped;
  };
}

// An absolute file path -> whether it is a shipped file of the package
// (false for anything outside PACKAGE_ROOT).
export function shippedFile(isShipped, file) {
  const rel = relative(PACKAGE_ROOT, resolve(file));
  if (!rel || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return false;
  return isShipped(rel.split(sep).join('/'));
}

// The package's npm dependencies, as a page without a bundler can reach
// them: a browser cannot resolve a bare import ('@noble/hashes/scrypt.js')
// and a module worker has no import map. The dev server and the browser
// test harness serve the modules of the dependencies that the package's
// browser side (js-glue/) imports from node_modules/ beside the package
// (at /hiroba/node_modules/) and, in the package's own modules, point bare
// imports of a dependency there, as a bundler would. Our dependencies'
// subpaths name their files (e.g. '@noble/hashes/scrypt.js' is scrypt.js).
const BARE_IMPORT = /(\bfrom\s*|\bimport\s*\(\s*|^\s*import\s*)(['"])([^'"./][^'"]*)\2/gm;
const DEPENDENCIES = Object.keys(JSON.parse(readFileSync(resolve(PACKAGE_ROOT, 'package.json'), 'utf8')).dependencies ?? {});

function dependencyOf(spec, names = DEPENDENCIES) {
  return names.find((name) => spec === name || spec.startsWith(`${name}/`)) ?? null;
}

// The dependencies js-glue/ imports (not the servers' own, such as ws).
const BROWSER_DEPENDENCIES = (() => {
  const found = new Set();
  const dir = resolve(PACKAGE_ROOT, 'js-glue');
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    for (const m of readFileSync(resolve(dir, name), 'utf8').matchAll(BARE_IMPORT)) {
      const dep = dependencyOf(m[3]);
      if (dep) found.add(dep);
    }
  }
  return [...found];
})();

// An absolute file path -> whether it is a module (.js) of a dependency
// the package's browser side imports, in its node_modules.
export function dependencyFile(file) {
  const rel = relative(resolve(PACKAGE_ROOT, 'node_modules'), resolve(file));
  if (!rel || rel.startsWith('..') || isAbsolute(rel) || !rel.endsWith('.js')) return false;
  return dependencyOf(rel.split(sep).join('/'), BROWSER_DEPENDENCIES) !== null;
}

// A shipped module's text with its bare imports of dependencies made
// relative URLs into /hiroba/node_modules/ (other text unchanged).
export function linkDependencies(file, text) {
  const rel = relative(PACKAGE_ROOT, resolve(file)).split(sep).join('/');
  const up = '../'.repeat(rel.split('/').length - 1);
  return text.replace(BARE_IMPORT, (whole, before, quote, spec) => (
    dependencyOf(spec) ? `${before}${quote}${up}node_modules/${spec}${quote}` : whole));
}
