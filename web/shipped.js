// shipped.js -- which files of this repository the npm package ships, read
// from package.json's "files" the way npm reads the patterns used there:
// a folder ("js-glue/"), a file ("build/hiroba/hiroba.wasm"), and "!path"
// to leave one out again (the last pattern that matches decides). The dev
// server and the browser test harness serve only these under /hiroba/, so
// a page that works there imports nothing the package lacks;
// tests/node/package.test.js checks this reading against `npm pack`.

import { readFileSync } from 'node:fs';
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
