// make-seeds.js -- writes the seed corpora of the fuzz targets:
//
//   node tests/fuzz/make-seeds.js            rewrites tests/fuzz/corpus/<target>/
//   node tests/fuzz/make-seeds.js --hostile DIR
//                                            writes the small frames of
//                                            tests/corpus/hostile-frames.js to
//                                            DIR (make fuzz: build/fuzz/seeds/,
//                                            not committed: make test already
//                                            runs them through hostile_runner)
//
// Deterministic: keys are SHA-256 of fixed strings, timestamps fixed, and
// BIP-340 signatures use all-zero auxiliary randomness (which BIP-340
// allows), so rerunning the script rewrites the same bytes. Every event
// is hashed by nostr-tools (getEventHash) and signed by @noble/curves, an
// implementation independent of ours.
//
// The C targets rebuild some of the same data; these must match:
//   fuzz_merge.c       mutes the author SHA-256("hiroba fuzz muted");
//   fuzz_verify.c      reads the structured layout written by structSeed();
//   fuzz_negentropy.c  stores set S (negS below) and holds set L (negL), and
//                      reads [mode, parameter, payload] inputs.

import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { nip77 } from 'nostr-tools';
import { getEventHash } from 'nostr-tools/pure';
import { hostileFrames } from '../corpus/hostile-frames.js';

const { Negentropy, NegentropyStorageVector } = nip77;
const here = dirname(fileURLToPath(import.meta.url));
const utf8 = (s) => new TextEncoder().encode(s);
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));
const T = 1700000000;

// --- keys and events ----------------------------------------------------------

function key(name) {
  const sk = sha256(utf8(name));
  return { sk, pk: hex(schnorr.getPublicKey(sk)) };
}
const alice = key('hiroba fuzz alice');
const bob = key('hiroba fuzz bob');
const muted = key('hiroba fuzz muted');        // fuzz_merge.c mutes this one
const negAuthor = key('hiroba fuzz negentropy'); // fuzz_negentropy.c's set S

function sign(who, created_at, kind, tags, content) {
  const ev = { pubkey: who.pk, created_at, kind, tags, content };
  const id = getEventHash(ev);
  const sig = hex(schnorr.sign(unhex(id), who.sk, new Uint8Array(32)));
  return { id, pubkey: who.pk, created_at, kind, tags, content, sig };
}

const b1 = sign(bob, T, 1, [], 'hi from bob');
const a1 = sign(alice, T, 1, [['t', 'hiroba']], 'hello');
const a2 = sign(alice, T + 1, 1, [['e', a1.id], ['p', bob.pk], ['t', 'x']],
  'line\n"quoted" \\ tab\t ctl\u0001\u001f del\u007f é 日本 😀 /slash');
const a3 = sign(alice, T + 2, 7, [['e', b1.id], ['p', bob.pk]], '+');
const aProf1 = sign(alice, T + 3, 0, [], '{"name":"alice"}');
const aProf2 = sign(alice, T + 4, 0, [], '{"name":"alice, again"}');
const aFollow = sign(alice, T + 5, 3, [['p', bob.pk], ['p', muted.pk]], '');
const aDel = sign(alice, T + 6, 5, [['e', a1.id]], 'mistake');
const aDelForeign = sign(alice, T + 7, 5, [['e', b1.id]], 'not mine to delete');
const aLate = sign(alice, T + 8, 1, [], 'deleted before it arrived');
const aDelEarly = sign(alice, T + 9, 5, [['e', aLate.id]], '');
const aDelDel = sign(alice, T + 10, 5, [['e', aDel.id]], 'deleting a deletion');
const bMute = sign(bob, T + 1, 10000, [['p', alice.pk]], '');
const b42 = sign(bob, T + 2, 42, [['e', a1.id, '', 'root']], 'channel message');
const bLong = sign(bob, T + 3, 1, [], 'x'.repeat(2000));
const bTags = sign(bob, T + 4, 1, Array.from({ length: 50 }, (_, i) => ['t', `tag${i}`]), 'many tags');
const bTieA = sign(bob, T + 10, 0, [], '{"name":"bob"}');
const bTieB = sign(bob, T + 10, 0, [], '{"name":"bob!"}');
const bParam = sign(bob, T + 11, 30023, [['d', 'post']], 'an article');
const m1 = sign(muted, T, 1, [], 'you cannot see me');
const future = sign(alice, 4000000000, 1, [], 'from the future');
const zeroTime = sign(bob, 0, 1, [], 'at the epoch');
const maxKind = sign(bob, T + 12, 65535, [], 'largest kind');
const EVENTS = { b1, a1, a2, a3, aProf1, aProf2, aFollow, aDel, aDelForeign, aLate,
  aDelEarly, aDelDel, bMute, b42, bLong, bTags, bTieA, bTieB, bParam, m1, future,
  zeroTime, maxKind };

const badSig = { ...a1, sig: a1.sig.slice(0, -2) + (a1.sig.endsWith('00') ? '01' : '00') };
const badId = { ...a1, content: 'hello!' };

// --- negentropy sets (fuzz_negentropy.c builds the same) ----------------------

const negS = Array.from({ length: 60 }, (_, i) => {
  const ev = sign(negAuthor, T + Math.floor(i / 3), 1, [], `hiroba fuzz ${i}`);
  return { ts: ev.created_at, id: ev.id };
});
const negL = Array.from({ length: 600 }, (_, i) => ({
  ts: T + Math.floor(i / 3), id: hex(sha256(utf8(`hiroba neg ${i}`))),
}));

function storage(items) {
  const s = new NegentropyStorageVector();
  for (const it of items) s.insert(it.ts, it.id);
  s.seal();
  return s;
}

/* A variant of a set: every k-th item dropped, n new items added. */
function variant(items, k, n, tag) {
  const out = items.filter((_, i) => i % k !== 0);
  for (let i = 0; i < n; i++) {
    out.push({ ts: items[0].ts + (i % 40), id: hex(sha256(utf8(`${tag} ${i}`))) });
  }
  return out;
}

/* A whole nostr-tools exchange; returns both sides' messages (hex). */
function exchange(initItems, respItems, frame) {
  const ini = new Negentropy(storage(initItems), frame);
  const resp = new Negentropy(storage(respItems), frame);
  const fromInit = [], fromResp = [];
  let msg = ini.initiate();
  for (let round = 0; msg !== null && round < 100; round++) {
    fromInit.push(msg);
    const reply = resp.reconcile(msg, () => {}, () => {}) ?? '61';
    fromResp.push(reply);
    msg = ini.reconcile(reply, () => {}, () => {});
  }
  return { fromInit, fromResp };
}

// --- writing ---------------------------------------------------------------------

function resetDir(dir) {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
}

function writer(dir) {
  resetDir(dir);
  const names = new Set();
  return (name, data) => {
    if (names.has(name)) throw new Error(`seed ${name} written twice`);
    names.add(name);
    writeFileSync(join(dir, name), typeof data === 'string' ? utf8(data) : data);
  };
}

const J = (v) => JSON.stringify(v);

/* A Negentropy varint (base 128, most significant first) as hex. */
function varint(n) {
  const digits = [n & 0x7f];
  for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) digits.unshift((n & 0x7f) | 0x80);
  return hex(Uint8Array.from(digits));
}

function mergeSeeds(put) {
  for (const [name, ev] of Object.entries(EVENTS)) put(`event-${name}`, J(['EVENT', ev]));
  put('answer-a1', J(['EVENT', 'sub1', a1]));
  put('answer-bTags', J(['EVENT', 'sub1', bTags]));
  put('event-bad-sig', J(['EVENT', badSig]));
  put('event-bad-id', J(['EVENT', badId]));
  put('event-spaced', JSON.stringify(['EVENT', a2], null, 1));
  put('req-all', J(['REQ', 's1', {}]));
  put('req-ids', J(['REQ', 's1', { ids: [a1.id, b1.id, a2.id] }]));
  put('req-authors', J(['REQ', 's1', { authors: [alice.pk], kinds: [1, 7] }]));
  put('req-kinds', J(['REQ', 's1', { kinds: [0, 3, 10000] }]));
  put('req-tag-e', J(['REQ', 's1', { '#e': [a1.id] }]));
  put('req-tag-p', J(['REQ', 's1', { '#p': [bob.pk], limit: 5 }]));
  put('req-tag-t', J(['REQ', 's1', { '#t': ['hiroba', 'x'] }]));
  put('req-window', J(['REQ', 's1', { since: T + 1, until: T + 5 }]));
  put('req-limit', J(['REQ', 's1', { limit: 2 }]));
  put('req-limit-0', J(['REQ', 's1', { limit: 0 }]));
  put('req-multi', J(['REQ', 's1', { kinds: [1] }, { authors: [bob.pk] }, { ids: [a3.id] }]));
  put('req-bad-filter', J(['REQ', 's1', { kinds: '1' }]));
  put('req-unknown-field', J(['REQ', 's1', { search: 'x' }]));
  put('close', J(['CLOSE', 's1']));
  put('ok', J(['OK', a1.id, true, '']));
  put('eose', J(['EOSE', 's1']));
  put('notice', J(['NOTICE', 'hello']));
  put('closed', J(['CLOSED', 's1', 'error: x']));
  put('count-authors', J(['COUNT', 'c1', { authors: [alice.pk], kinds: [1, 7] }]));
  put('count-union', J(['COUNT', 'c1', { kinds: [1] }, { '#e': [a1.id] }, { '#p': [bob.pk], '#t': ['hiroba'] }]));
  put('count-answer', J(['COUNT', 'c1', { count: 3 }]));

  const stored = [b1, a1, a2, a3, aProf2, aFollow, bTags].map((e) => ({ ts: e.created_at, id: e.id }));
  const ex = exchange(variant(stored, 2, 3, 'merge'), stored, 4096);
  put('neg-open-all', J(['NEG-OPEN', 'n1', {}, ex.fromInit[0]]));
  put('neg-open-kinds', J(['NEG-OPEN', 'n1', { kinds: [1] }, new Negentropy(storage([]), 4096).initiate()]));
  put('neg-open-authors', J(['NEG-OPEN', 'n2', { authors: [alice.pk, bob.pk] }, ex.fromInit[0]]));
  put('neg-open-bad-hex', J(['NEG-OPEN', 'n1', {}, '6Z']));
  put('neg-open-bad-version', J(['NEG-OPEN', 'n1', {}, '62']));
  ex.fromInit.slice(1).forEach((m, i) => put(`neg-msg-n1-${i}`, J(['NEG-MSG', 'n1', m])));
  ex.fromResp.forEach((m, i) => put(`neg-msg-mine-${i}`, J(['NEG-MSG', 'mine', m])));
  // A whole-range IdList: to "mine" (our initiator: stored, tombstoned,
  // deleted and unknown ids reach the "need" filter), and to a session we
  // serve (which answers with its own ids).
  const idList = (ids) => '61' + '0000' + '02' + varint(ids.length) + ids.join('');
  const unknown = [1, 2].map((i) => hex(sha256(utf8(`unknown ${i}`))));
  put('neg-msg-mine-idlist', J(['NEG-MSG', 'mine', idList([a1.id, b1.id, aLate.id, a2.id, ...unknown])]));
  put('batch-neg-idlist', J([['NEG-OPEN', 'n3', {}, idList([b1.id, ...unknown])], ['NEG-MSG', 'n3', idList([a3.id])]]));
  put('neg-close', J(['NEG-CLOSE', 'n1']));
  put('neg-err', J(['NEG-ERR', 'mine', 'blocked: no']));

  put('batch-events', J(Object.values(EVENTS).map((e) => ['EVENT', e])));
  put('batch-delete-first', J([['EVENT', aDelEarly], ['EVENT', aLate]]));
  put('batch-delete-after', J([['EVENT', a1], ['EVENT', aDel], ['EVENT', a1]]));
  put('batch-replace', J([['EVENT', aProf2], ['EVENT', aProf1]]));
  put('batch-tie', J([['EVENT', bTieB], ['EVENT', bTieA]]));
  put('batch-neg', J([['NEG-OPEN', 'n1', {}, ex.fromInit[0]], ['NEG-MSG', 'n1', ex.fromInit[1] ?? '61'], ['NEG-CLOSE', 'n1']]));
  put('batch-mixed', J([['EVENT', b42], ['REQ', 's2', { kinds: [42] }], ['NOTICE', 'x'], ['CLOSE', 's2']]));
  put('batch-nested', '[[["EVENT"]]]');
  put('unicode-escapes', '["NOTICE","\\ud83d\\ude00 \\u00e9 \\n \\/"]');
}

/* fuzz_verify.c's structured form: pubkey, sig, created_at (6 bytes BE),
** kind (2 bytes BE), flags, content. With a signer, the signature is real
** for the event the C code rebuilds (flags & 3 tags ["t", content]). */
function structSeed(who, createdAt, kind, flags, content, sigOverride) {
  const c = utf8(content);
  const tags = Array.from({ length: flags & 3 }, () => ['t', content]);
  const ev = who ? sign(who, createdAt, kind, tags, content) : null;
  const out = new Uint8Array(105 + c.length);
  out.set(who ? unhex(ev.pubkey) : sha256(utf8(`not a key ${content}`)), 0);
  out.set(sigOverride ?? (ev ? unhex(ev.sig) : new Uint8Array(64).fill(0xab)), 32);
  for (let i = 0; i < 6; i++) out[96 + i] = Math.floor(createdAt / 2 ** (8 * (5 - i))) & 0xff;
  out[102] = kind >> 8;
  out[103] = kind & 0xff;
  out[104] = flags;
  out.set(c, 105);
  return out;
}

function verifySeeds(put) {
  for (const name of ['a1', 'a2', 'bLong', 'bTags', 'future', 'zeroTime', 'maxKind']) {
    put(`event-${name}`, J(EVENTS[name]));
  }
  put('frame-a2', J(['EVENT', a2]));
  put('answer-b1', J(['EVENT', 'sub', b1]));
  put('event-bad-sig', J(badSig));
  put('event-bad-id', J(badId));
  put('event-dup-key', J(a1).replace('"kind":1', '"kind":1,"kind":1'));
  put('event-escapes', '{"id":"' + a1.id + '","pubkey":"' + a1.pubkey + '","created_at":1.7e9,"kind":1,"tags":[["\\u0074","\\ud83d\\ude00"]],"content":"\\u00e9\\n\\/","sig":"' + a1.sig + '"}');
  put('struct-signed', structSeed(alice, T, 1, 0, 'structured'));
  put('struct-signed-tags', structSeed(bob, T + 5, 7, 2, 'tags é 😀\n\u0001'));
  put('struct-signed-sign', structSeed(alice, T, 1, 4 | (5 << 3), 'and sign again'));
  put('struct-kind-max', structSeed(bob, 2 ** 40, 65535, 1, 'big'));
  put('struct-not-a-key', structSeed(null, T, 1, 0, 'no such key'));
  put('struct-zero-sig', structSeed(alice, T, 1, 0, 'zero sig', new Uint8Array(64)));
  put('struct-bad-utf8', Uint8Array.from([...structSeed(alice, T, 1, 0, 'x'), 0xed, 0xa0, 0x80]));
  put('utf8-edges', Uint8Array.from([0x7f, 0xc2, 0x80, 0xdf, 0xbf, 0xe0, 0xa0, 0x80, 0xef, 0xbf, 0xbf,
    0xf0, 0x90, 0x80, 0x80, 0xf4, 0x8f, 0xbf, 0xbf]));
  put('utf8-overlong', Uint8Array.from([0xc0, 0x80, 0xe0, 0x80, 0x80, 0xf0, 0x80, 0x80, 0x80]));
  put('utf8-surrogate', Uint8Array.from([0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf]));
  put('utf8-too-high', Uint8Array.from([0xf4, 0x90, 0x80, 0x80, 0xf5, 0x80, 0x80, 0x80]));
  put('json-escapes-lone', '["\\u0000","a\\ud83d","\\ude00\\ud83d","\\ud83d\\ude00\\ud83d","\\uDBFF\\uDFFF\\uDFFF"]');
  put('json-numbers', '[0,-0,1e2,1E-2,-1.5e+3,9007199254740993,1e400]');
  put('json-deep', '['.repeat(16) + ']'.repeat(16));
}

/* [mode, parameter, ...payload] for fuzz_negentropy.c. */
const negSeed = (mode, p, payload) => Uint8Array.from([mode, p, ...payload]);

function negentropySeeds(put) {
  const bS = variant(negS, 3, 10, 'seed S');
  const bL = variant(negL, 7, 200, 'seed L');
  const toS = exchange(bS, negS, 60000);          // their initiator, our S
  const toL = exchange(bL, negL, 4096);           // small frames: continued
  const fromS = exchange(negS, bS, 60000);        // our S initiates
  const fromL = exchange(negL, bL, 4096);
  toS.fromInit.forEach((m, i) => put(`responder-S-${i}`, negSeed(0, 0, unhex(m))));
  toL.fromInit.forEach((m, i) => put(`responder-L-${i}`, negSeed(1, 1, unhex(m))));
  fromS.fromResp.forEach((m, i) => put(`initiator-S-${i}`, negSeed(2, 0, unhex(m))));
  fromL.fromResp.forEach((m, i) => put(`initiator-L-${i}`, negSeed(3, 1, unhex(m))));
  put('responder-S-empty', negSeed(0, 0, unhex(new Negentropy(storage([]), 4096).initiate())));
  put('responder-L-version', negSeed(1, 0, [0x62]));
  put('hex-L-0', negSeed(4, 1, utf8(toL.fromInit[0])));
  put('hex-upper', negSeed(4, 0, utf8(toL.fromInit[0].toUpperCase())));
  for (let f = 0; f < 8; f++) put(`neg-open-filter-${f}`, negSeed(5, f | (1 << 3), unhex(toS.fromInit[0])));
  toL.fromInit.slice(0, 3).forEach((m, i) => put(`neg-msg-responder-${i}`, negSeed(6, 0 | (1 << 1), unhex(m))));
  fromL.fromResp.slice(0, 3).forEach((m, i) => put(`neg-msg-initiator-${i}`, negSeed(6, 1 | (1 << 1), unhex(m))));
  // Mode 7 payloads: 3 bytes an item (see fuzz_negentropy.c).
  const taken = (k) => [0x80 | ((k >> 8) & 0x3f), k & 0xff, 0];
  const fresh = (a, b, c) => [a & 0x3f, b, c];
  const near = (k, c) => [0x40 | ((k >> 8) & 0x3f), k & 0xff, c];
  const same = (n) => Array.from({ length: n }, (_, k) => taken(k)).flat();
  put('converge-S-same', negSeed(7, 0, same(60)));
  put('converge-S-empty', negSeed(7, 0, []));
  put('converge-S-mixed', negSeed(7, 2, [...same(40), ...fresh(1, 2, 3), ...fresh(4, 5, 6), ...near(10, 7)]));
  put('converge-L-half', negSeed(7, 1 | (1 << 2), Array.from({ length: 300 }, (_, k) => taken(2 * k)).flat()));
  put('converge-L-near', negSeed(7, 1 | 2 | (2 << 2) | (9 << 4), Array.from({ length: 120 }, (_, k) => near(5 * k, k)).flat()));
  put('converge-L-fresh', negSeed(7, 1 | (1 << 2), Array.from({ length: 300 }, (_, k) => fresh(k >> 8, k, k)).flat()));
}

// --- main ---------------------------------------------------------------------------

const args = process.argv.slice(2);
if (args[0] === '--hostile') {
  if (!args[1]) throw new Error('usage: make-seeds.js --hostile DIR');
  const put = writer(args[1]);
  hostileFrames().forEach((f, i) => {
    if (f.bytes.length <= 1024) put(`hostile-${String(i).padStart(4, '0')}`, f.bytes);
  });
} else {
  mergeSeeds(writer(join(here, 'corpus', 'fuzz_merge')));
  verifySeeds(writer(join(here, 'corpus', 'fuzz_verify')));
  negentropySeeds(writer(join(here, 'corpus', 'fuzz_negentropy')));
}
