// helpers.js -- what the node suites share: temp feeds that clean up after
// themselves, nostr-tools authors (the independent oracle), a seeded PRNG,
// the contract's ordering rule, and assertions on merge results.
//
// Not a test file (node --test only picks up *.test.js), so it must not
// register tests itself.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finalizeEvent, getPublicKey, generateSecretKey } from 'nostr-tools/pure';

export const ENGINE_URL = new URL('../../js-glue/node.js', import.meta.url);

// Imported lazily so a suite can still load (and report clearly) while the
// engine is missing.
let openFeedFn = null;
export async function loadOpenFeed() {
  if (!openFeedFn) ({ openFeed: openFeedFn } = await import(ENGINE_URL.href));
  return openFeedFn;
}

// The shipped wasm module, compiled once per process.
let compiledWasm = null;
export function engineWasm() {
  compiledWasm ??= readFile(new URL('../../build/hiroba/hiroba.wasm', import.meta.url)).then((b) => WebAssembly.compile(b));
  return compiledWasm;
}

// An Engine (js-glue/engine.js) over a new instance of engineWasm(), on
// `hirobaStorage` (storage-node.js's, a wrapper of it, or {} for one that
// opens no database), for suites that drive the engine below the feed.
export async function instantiateEngine(hirobaStorage) {
  const [{ default: createHirobaModule }, { Engine, instantiateModule }, wasm] = await Promise.all([
    import('../../build/hiroba/hiroba.mjs'), import('../../js-glue/engine.js'), engineWasm()]);
  return new Engine(await instantiateModule(createHirobaModule, wasm, { hirobaStorage }));
}

/* A fresh directory under os.tmpdir(), removed by the test's after hook. */
export function tempDir(t, prefix = 'hiroba-test-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/* Opens a feed on a new database in a temp dir. One after hook closes it
** (if the test did not) and then removes the directory, in that order
** (t.after hooks run in registration order, so one hook does both).
** Returns { feed, dir, path, reopen }. The policy defaults to keeping
** every valid event: these suites test merge semantics with authors
** nobody follows; the storage policy has its own tests (policy.test.js). */
export async function tempFeed(t, name = 'feed.db', { policy = { store: 'all' } } = {}) {
  const openFeed = await loadOpenFeed();
  const dir = mkdtempSync(join(tmpdir(), 'hiroba-test-'));
  const path = join(dir, name);
  const open = [];
  const track = async () => {
    const feed = await openFeed({ path, policy });
    const close = feed.close.bind(feed);
    let closed = false;
    // Closing twice is not part of the contract; remember who closed.
    feed.close = async () => { closed = true; return close(); };
    open.push(() => (closed ? undefined : feed.close()));
    return feed;
  };
  t.after(async () => {
    for (const c of open.reverse()) await c();
    rmSync(dir, { recursive: true, force: true });
  });
  const feed = await track();
  return { feed, dir, path, reopen: track };
}

export const nowSec = () => Math.floor(Date.now() / 1000);

/* A nostr-tools author. With a seed string the key is derived from it, so
** seeded tests get the same pubkeys on every run. */
export function makeAuthor(seed) {
  const sk = seed === undefined
    ? generateSecretKey()
    : new Uint8Array(createHash('sha256').update(`hiroba author ${seed}`).digest());
  const pubkey = getPublicKey(sk);
  return {
    sk,
    pubkey,
    /* Signs a template with nostr-tools; returns a plain object (no
    ** verifiedSymbol cache, so later verifyEvent calls really verify). */
    sign({ kind = 1, content = '', tags = [], created_at = nowSec() } = {}) {
      const ev = finalizeEvent({ kind, created_at, tags, content }, sk);
      return plain(ev);
    },
  };
}

/* A JSON round-trip: drops nostr-tools' verification cache and anything
** that is not JSON. */
export const plain = (ev) => JSON.parse(JSON.stringify(ev));

/* The contract's order: created_at descending, ties by lowest id. */
export function byContractOrder(a, b) {
  if (a.created_at !== b.created_at) return b.created_at - a.created_at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export { makeRng } from '../shared/prng.js';

/* The seed for randomized suites: HIROBA_SEED if set, else a fresh one. */
export function pickSeed() {
  const env = process.env.HIROBA_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    assert.ok(Number.isInteger(n), `HIROBA_SEED must be an integer, got ${env}`);
    return n >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32);
}

/* Resolves after pending macrotasks, so listeners fired "soon" have run.
** Not a timing assertion: nothing is measured. */
export const settle = () => new Promise((resolve) => setImmediate(resolve));

/* Polls until pred() is truthy (generous: machines here are shared);
** describe() may add what the state was when it gave up. */
export async function until(pred, what, ms = 120_000, describe = null) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${describe ? `: ${await describe()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/* Checks the shape every merge result has (DESIGN §4). */
export function assertMergeShape(res) {
  assert.ok(res && typeof res === 'object', 'merge result is an object');
  assert.ok(Array.isArray(res.accepted), 'accepted is an array');
  assert.equal(typeof res.duplicates, 'number', 'duplicates is a number');
  assert.ok(Array.isArray(res.rejected), 'rejected is an array');
  assert.ok(Array.isArray(res.replies), 'replies is an array');
  for (const r of res.rejected) {
    assert.ok(r.id === null || /^[0-9a-fA-F]{64}$/.test(r.id), `rejected id is null or 64 hex: ${JSON.stringify(r)}`);
    assert.equal(typeof r.reason, 'string');
  }
}

/* A single-event merge that must be accepted. */
export async function mergeAccepted(feed, ev, frame = ['EVENT', ev]) {
  const res = await feed.merge(frame);
  assertMergeShape(res);
  assert.deepEqual(res.rejected, [], `rejected: ${JSON.stringify(res.rejected)}`);
  assert.deepEqual(res.accepted, [ev.id]);
  assert.equal(res.duplicates, 0);
  return res;
}

/* A single-event merge that must be rejected with `prefix` ("invalid:",
** "blocked:", "replaced:"), and, when given, a reason matching `word`.
** `id`: the id the rejection must carry (a 64-hex string, or null);
** undefined accepts either, as long as the reply agrees with it. */
export async function mergeRejected(feed, frame, { prefix, word, id } = {}) {
  const res = await feed.merge(frame);
  assertMergeShape(res);
  assert.deepEqual(res.accepted, [], `accepted: ${JSON.stringify(res.accepted)}`);
  assert.equal(res.rejected.length, 1, `one rejection: ${JSON.stringify(res)}`);
  const [r] = res.rejected;
  if (prefix) assert.ok(r.reason.startsWith(prefix), `reason "${r.reason}" starts with "${prefix}"`);
  if (word) assert.match(r.reason, word);
  if (id !== undefined) assert.equal(r.id, id);
  if (r.id === null) {
    assert.deepEqual(res.replies, [['NOTICE', r.reason]]);
  } else {
    assert.deepEqual(res.replies, [['OK', r.id, false, r.reason]]);
  }
  return r;
}
