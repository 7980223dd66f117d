// node.js -- the Node entry of the package ('hiroba' under Node, and
// 'hiroba/node'; rooms and relays are 'hiroba/sync'): the engine runs
// in-process on the same wasm module as in browsers, its database in a
// file through the node:fs storage primitives (storage-node.js).
//
//   import { openFeed } from 'hiroba/node';
//   const feed = await openFeed({ path: './my.db' });

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';

import createHirobaModule from '../build/hiroba/hiroba.mjs';
import { Engine, HirobaError, instantiateModule } from './engine.js';
import { Feed, resolveKeyOptions, resolvePolicy, signerPubkey } from './feed.js';
import { createNodeStorage } from './storage-node.js';
import { secretKeyHex } from './nip19.js';
import { decryptKey, exportSecretKey } from './nip49.js';
import { mergePipelined } from './verify-pool.js';
import { nodeVerifyPool } from './verify-node.js';

export { Feed } from './feed.js';
export { HirobaError } from './engine.js';

/**
 * What this runtime lacks for Hiroba: nothing in Node. Here so that code
 * importing 'hiroba' gets the same names under both conditions.
 */
export function unsupported() { return null; }

// Compiled once per process; every feed gets its own instance (its own
// memory), so feeds never share state or handles.
let compiled = null;

function compile() {
  compiled ??= readFile(new URL('../build/hiroba/hiroba.wasm', import.meta.url))
    .then((bytes) => WebAssembly.compile(bytes));
  return compiled;
}

// Emscripten 3.1.6's loader cannot fetch a file path under Node: it is
// handed the compiled module instead.
async function instantiate() {
  return instantiateModule(createHirobaModule, await compile(), { hirobaStorage: createNodeStorage() });
}

function isEmptyFile(path) {
  try {
    const info = statSync(path);
    return info.isFile() && info.size === 0;
  } catch {
    return false;
  }
}

// A new database is made under a temporary name, its identity committed,
// and only then renamed into place: a process killed during its first
// open leaves no empty file at `path` (which the next open would have to
// refuse as a database emptied behind its back).
function createWithIdentity(engine, path) {
  const temp = `${path}.creating`;
  const files = (base) => [base, `${base}-wal`, `${base}-journal`];
  // Best effort: where nothing can be created the open below says why.
  const removeTemp = () => {
    for (const file of files(temp)) {
      try { rmSync(file, { force: true }); } catch { /* not there, or no folder to hold it */ }
    }
  };
  removeTemp();
  try {
    engine.close(engine.open(resolve(temp)));
    for (const [from, to] of files(temp).map((f, i) => [f, files(path)[i]])) {
      if (existsSync(from)) renameSync(from, to);
    }
  } catch (err) {
    removeTemp();
    throw err;
  }
}

/**
 * Opens (or creates, with a new identity) the feed on a database file;
 * the same Feed as in browsers. Options as the browser's openFeed, with
 * `path` instead of `name`.
 * @param {{ path: string, policy?: object, allowEmpty?: boolean, secretKey?: string | Uint8Array, passphrase?: string, signer?: object }} options
 * @returns {Promise<import('./feed.js').Feed>}
 */
export async function openFeed({ path, policy, allowEmpty = false, secretKey, passphrase, signer } = {}) {
  if (typeof path !== 'string' || !path) throw new TypeError('openFeed({ path }): path is required');
  const keys = resolveKeyOptions({ secretKey, passphrase, signer });
  const keyHex = keys.ncryptsec ? secretKeyHex(decryptKey(keys.ncryptsec, passphrase)) : keys.keyHex;
  const signerHex = keys.signer ? await signerPubkey(keys.signer) : null;
  const policyJson = JSON.stringify(resolvePolicy(policy));
  const engine = new Engine(await instantiate());
  // A database file that exists but holds nothing lost its identity
  // (truncated by something else): making a new key over it silently
  // would hand the user a different identity. Said instead, unless asked.
  if (!allowEmpty && isEmptyFile(path) && !(existsSync(`${path}-wal`) && !isEmptyFile(`${path}-wal`))) {
    throw new HirobaError(engine.codes.HIROBA_ECORRUPT,
      `hiroba: ${resolve(path)} exists but is empty: it holds no identity; pass { allowEmpty: true } to start a new one there`, 'open');
  }
  const existed = existsSync(path);
  let db;
  try {
    if (!existed) createWithIdentity(engine, path);
    db = engine.open(resolve(path));
  } catch (err) {
    // A first open that failed (a full disk, say) leaves no empty file
    // behind, which the next open would refuse as an emptied database.
    if (!existed) {
      for (const file of [path, `${path}-wal`, `${path}-journal`]) {
        if (isEmptyFile(file)) rmSync(file, { force: true });
      }
    }
    throw err;
  }
  try {
    // A key the user already has: adopted by a database this open made,
    // checked against the identity of any other.
    if (keyHex) engine.adoptKey(db, keyHex, !existed);
    // A signer's public key: the identity of a database this open made
    // (no secret kept), the same as an existing one's.
    if (signerHex) engine.adoptPubkey(db, signerHex, !existed);
    engine.setPolicy(db, policyJson);
  } catch (err) {
    engine.close(db);
    // The database this open made holds nothing: gone with the failure.
    if (!existed) for (const file of [path, `${path}-wal`, `${path}-journal`]) rmSync(file, { force: true });
    throw err;
  }
  let closed = false;
  // Verifier threads for what peers send (verify-pool.js), started with
  // the first mergeBatch: a feed that never syncs starts none.
  let pool = null;
  let starting = null;
  const verifiers = () => (starting ??= compile().then((m) => {
    if (!closed) pool = nodeVerifyPool(m);
    return pool;
  }));
  return new Feed({
    identity: async () => engine.identity(db),
    post: async (draft) => engine.post(db, draft),
    sign: async (draft) => engine.sign(db, draft),
    prepare: async (draft) => engine.prepare(db, draft),
    postSigned: async (event) => engine.postSigned(db, event),
    verify: async (event) => engine.verify(event),
    merge: async (frame) => engine.merge(db, frame),
    mergeBatch: async (conn, frames, budget) => {
      if (conn < 1) return engine.mergeBatch(db, conn, frames, budget); // its error
      return (await mergePipelined(engine, db, conn, frames, budget, await verifiers())).text;
    },
    connClose: async (conn) => engine.connClose(db, conn),
    query: async (filter) => engine.query(db, filter),
    count: async (filter) => engine.count(db, filter),
    stateGet: async (key) => engine.stateGet(db, key),
    stateSet: async (key, value) => engine.stateSet(db, key, value),
    negOpen: async (sub, filter, conn) => engine.negOpen(db, sub, filter, conn),
    integrityCheck: async () => engine.integrityCheck(db),
    exportKey: async (options) => exportSecretKey(engine.secretKey(db), options),
    close: async () => {
      if (!closed) { closed = true; pool?.close(); engine.close(db); }
    },
  }, { signer: keys.signer });
}
