// verify.bench.js -- event verifications per second, in one Node
// process on the same events: our wasm engine (hiroba__verify: strict
// JSON parse, event shape and limits, id hash, BIP-340 check, all in C)
// against nostr-wasm (libsecp256k1 in wasm behind a JS wrapper) and
// @noble/curves (pure JS, the verifier inside nostr-tools).
// Target: ours >= nostr-wasm. noble is shown for scale, with no target.
//
// Each side is timed doing everything it needs to verify one event given
// the event's JSON text, as a peer sends it:
//   - ours: copy the UTF-8 text into wasm memory, hiroba__verify, free;
//   - nostr-wasm: JSON.parse, then verifyEvent(object), which rebuilds the
//     id text in JS (JSON.stringify of tags and content), hashes it in
//     wasm, decodes the hex fields and checks the signature;
//   - noble: JSON.parse, the id text and @noble/hashes sha256, compare,
//     hex decode, schnorr.verify(sig, id, pubkey).
// Ours also checks what the others skip (UTF-8 well-formedness, exact
// field types, duplicate keys, size limits): the price of taking bytes
// from strangers.
//
// The sides take turns (ROUNDS rounds, each over the whole set, after a
// warm-up), and each side's best round counts, so a burst of load on a
// shared machine hurts one round, not one side.

import { readFile } from 'node:fs/promises';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { initNostrWasm } from 'nostr-wasm';
import { report } from './report.js';
import { corpusLines, makeRng } from './lib/events.js';
import { requireWasm } from './lib/build.js';

const N = 3000;
const ROUNDS = 3;
const WARMUP = 200;

requireWasm();
const { default: createHirobaModule } = await import('../build/hiroba/hiroba.mjs');
const { Engine } = await import('../js-glue/engine.js');
const { createNodeStorage } = await import('../js-glue/storage-node.js');

// The same events for everyone: N picked across the corpus.
const all = corpusLines();
const rng = makeRng(77);
const texts = Array.from({ length: N }, () => all[rng.int(all.length)]);

// --- ours: the module itself, as js-glue/node.js instantiates it ------------
const wasmModule = await WebAssembly.compile(await readFile(new URL('../build/hiroba/hiroba.wasm', import.meta.url)));
const m = await createHirobaModule({
  hirobaStorage: createNodeStorage(),
  instantiateWasm(imports, done) {
    WebAssembly.instantiate(wasmModule, imports).then((instance) => done(instance, wasmModule));
    return {};
  },
});
if (typeof m._hiroba__verify !== 'function') throw new Error('the wasm module has no hiroba__verify export: rebuild it (make wasm)');
const engine = new Engine(m);
const ours = (text) => {
  const p = engine._in(text);
  const rc = m._hiroba__verify(p);
  m._free(p);
  if (rc !== 0) throw new Error(`hiroba__verify: ${rc} ${m.UTF8ToString(m._hiroba_errmsg())}`);
};

// --- nostr-wasm --------------------------------------------------------------
const nw = await initNostrWasm();
const nostrWasm = (text) => nw.verifyEvent(JSON.parse(text)); // throws when invalid

// --- @noble/curves -----------------------------------------------------------
const noble = (text) => {
  const ev = JSON.parse(text);
  const id = sha256(utf8ToBytes(JSON.stringify([0, ev.pubkey, ev.created_at, ev.kind, ev.tags, ev.content])));
  const claimed = hexToBytes(ev.id);
  for (let i = 0; i < 32; i++) if (id[i] !== claimed[i]) throw new Error('noble: id mismatch');
  if (!schnorr.verify(hexToBytes(ev.sig), id, hexToBytes(ev.pubkey))) throw new Error('noble: bad signature');
};

// Every side must refuse a forgery, or it is not verifying anything.
const forged = JSON.parse(texts[0]);
forged.sig = forged.sig.replace(/^./, (c) => (c === '0' ? '1' : '0'));
const forgedText = JSON.stringify(forged);
for (const [name, fn] of [['ours', ours], ['nostr-wasm', nostrWasm], ['noble', noble]]) {
  let refused = false;
  try { fn(forgedText); } catch { refused = true; }
  if (!refused) throw new Error(`${name} accepted a forged signature`);
}

const sides = { ours, 'nostr-wasm': nostrWasm, noble };
const best = {};
for (const [name, fn] of Object.entries(sides)) {
  for (let i = 0; i < WARMUP; i++) fn(texts[i]);
  best[name] = 0;
}
for (let round = 0; round < ROUNDS; round++) {
  const order = Object.keys(sides);
  for (let i = 0; i < round; i++) order.push(order.shift()); // rotate who goes first
  for (const name of order) {
    const fn = sides[name];
    const t0 = performance.now();
    for (const t of texts) fn(t);
    const perSec = N / ((performance.now() - t0) / 1000);
    best[name] = Math.max(best[name], perSec);
  }
}

report({
  id: 'verify-vs-nostr-wasm',
  what: `event verifications per second, JSON text in (${N.toLocaleString('en')} events)`,
  value: best.ours,
  unit: '/s',
  anchor: 'nostr-wasm 0.1.0',
  anchorValue: best['nostr-wasm'],
  better: 'higher',
  target: 1.0,
  note: `ours: text copied in, hiroba__verify (strict parse + checks + id + sig); nostr-wasm: JSON.parse + verifyEvent(object); best of ${ROUNDS} rounds`,
});
report({
  id: 'verify-vs-noble',
  what: 'event verifications per second vs pure JS',
  value: best.ours,
  unit: '/s',
  anchor: '@noble/curves 2.0.1 schnorr.verify',
  anchorValue: best.noble,
  better: 'higher',
  note: 'noble: JSON.parse + id via @noble/hashes sha256 + hex decode + schnorr.verify',
});
