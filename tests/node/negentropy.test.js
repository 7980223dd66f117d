// negentropy.test.js -- NIP-77 reconciliation in the wasm engine against
// nostr-tools' nip77 (an independent implementation), both directions:
//
//   - item sets of 0 to 100,000 through an export-only shim that opens a
//     session over given (created_at, id) items (signing 100,000 events
//     would take minutes), with and without a small frame limit, so that
//     messages are continued;
//   - signed events (at most ~1,300, signed with nostr-tools) stored through
//     merge, end to end through feed.negOpen and feed.merge: the exact
//     difference, convergence, deletions and replaced versions, and every
//     way a session ends (NEG-CLOSE, NEG-ERR, unknown ids, the cap of 4 per connection,
//     garbage).
//
// One nostr-tools quirk shapes the "their responder" checks: its
// Negentropy.reconcile() plays no role, so as a responder it answers an
// IdList range by reporting the difference itself (its onhave/onneed) and
// skipping the range, instead of sending its own ids back as the protocol's
// reference responder does. Against it, the difference is the union of
// what both sides report; against our responder, nostr-tools alone learns
// all of it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nip77 } from 'nostr-tools';
// The test module: the shipped one plus the test-only exports (Makefile
// TEST_EXPORTS) this suite calls.
import createHirobaModule from '../../build/hiroba-test/hiroba.mjs';
import { Engine } from '../../js-glue/engine.js';
import { createNodeStorage } from '../../js-glue/storage-node.js';
import { tempFeed, makeAuthor, makeRng, pickSeed, assertMergeShape } from './helpers.js';

const { Negentropy, NegentropyStorageVector } = nip77;
const seed = pickSeed();
const SMALL_FRAME = 4096; // the smallest frame limit Negentropy allows

// --- an engine instance with the export-only shims ---------------------------

let compiled = null;
async function openEngine(t) {
  compiled ??= readFile(new URL('../../build/hiroba-test/hiroba.wasm', import.meta.url))
    .then((bytes) => WebAssembly.compile(bytes));
  const wasmModule = await compiled;
  const m = await createHirobaModule({
    hirobaStorage: createNodeStorage(),
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(wasmModule, imports).then((instance) => done(instance, wasmModule));
      return {};
    },
  });
  const engine = new Engine(m);
  const dir = mkdtempSync(join(tmpdir(), 'hiroba-neg-'));
  const db = engine.open(join(dir, 'neg.db'));
  t.after(() => {
    engine.close(db);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    engine,
    merge: (frame) => {
      const res = JSON.parse(engine.merge(db, typeof frame === 'string' ? frame : JSON.stringify(frame)));
      assertMergeShape(res);
      assert.ok(Array.isArray(res.have) && Array.isArray(res.need), 'have and need are arrays');
      return res;
    },
    frameLimit(n) {
      assert.equal(m._hiroba__neg_frame_limit(db, n), 0);
    },
    // Opens session `sub` over items [{ts, id}] without the store; returns
    // the first message (hex) of an initiator, '' for a responder.
    session(sub, items, isInitiator) {
      const p = m._malloc(Math.max(1, 40 * items.length));
      const pSub = engine._in(sub);
      try {
        const heap = m.HEAPU8; // read after malloc: the heap may have grown
        const view = new DataView(heap.buffer, p, Math.max(1, 40 * items.length));
        items.forEach((it, i) => {
          view.setBigUint64(40 * i, BigInt(it.ts), true);
          heap.set(it.bytes, p + 40 * i + 8);
        });
        const out = m._hiroba__neg_test_session(db, pSub, p, items.length, isInitiator ? 1 : 0);
        if (!out) throw engine._error('negTestSession');
        try { return m.UTF8ToString(out); } finally { m._hiroba_free(out); }
      } finally {
        m._free(p);
        m._free(pSub);
      }
    },
    negOpen: (sub, filter) => JSON.parse(engine.negOpen(db, sub, JSON.stringify(filter))),
  };
}

// --- item sets ---------------------------------------------------------------

const hex = (bytes) => Buffer.from(bytes).toString('hex');

/* Two sets of n items each sharing round(n * overlap), timestamps from a
** narrow window so that many are equal (bounds then need id prefixes). */
function makeSets(rng, n, overlap) {
  const shared = Math.round(n * overlap);
  const own = n - shared;
  const spread = Math.floor(n / 8) + 2;
  const item = () => {
    const bytes = new Uint8Array(32);
    for (let i = 0; i < 32; i += 4) new DataView(bytes.buffer).setUint32(i, Math.floor(rng.next() * 2 ** 32));
    return { ts: 1600000000 + rng.int(spread), bytes, id: hex(bytes) };
  };
  const common = Array.from({ length: shared }, item);
  const onlyA = Array.from({ length: own }, item);
  const onlyB = Array.from({ length: own }, item);
  return { a: [...common, ...onlyA], b: [...common, ...onlyB], onlyA: onlyA.map((x) => x.id), onlyB: onlyB.map((x) => x.id) };
}

function storageOf(items) {
  const s = new NegentropyStorageVector();
  for (const it of items) s.insert(it.ts, it.id);
  s.seal();
  return s;
}

const sorted = (ids) => [...new Set(ids)].sort();
const frameBytes = (frame) => Buffer.byteLength(JSON.stringify(frame));

/* nostr-tools initiates; our engine answers through merge (a test session
** over `ours`). Returns what nostr-tools learned and the traffic. */
function theirInitiator(e, sub, theirs, ours, theirFrame, ourFrame) {
  e.frameLimit(ourFrame);
  assert.equal(e.session(sub, ours, false), '');
  const neg = new Negentropy(storageOf(theirs), theirFrame);
  const have = [], need = [];
  let msg = neg.initiate();
  let rounds = 0, bytes = 0, largest = 0, ms = 0;
  while (msg !== null) {
    rounds++;
    const frame = ['NEG-MSG', sub, msg];
    bytes += frameBytes(frame);
    const t0 = performance.now();
    const res = e.merge(frame);
    ms += performance.now() - t0;
    assert.deepEqual(res.rejected, []);
    assert.equal(res.replies.length, 1);
    const [reply] = res.replies;
    assert.equal(reply[0], 'NEG-MSG', JSON.stringify(reply).slice(0, 200));
    assert.equal(reply[1], sub);
    bytes += frameBytes(reply);
    largest = Math.max(largest, reply[2].length / 2);
    if (ourFrame) assert.ok(reply[2].length / 2 <= ourFrame, `our message of ${reply[2].length / 2} bytes fits ${ourFrame}`);
    msg = neg.reconcile(reply[2], (id) => have.push(id), (id) => need.push(id));
    assert.ok(rounds < 5000, 'ends');
  }
  const closed = e.merge(['NEG-CLOSE', sub]);
  assert.deepEqual(closed.replies, []);
  return { have, need, rounds, bytes, largest, ms };
}

/* Our engine initiates (test session over `ours`); nostr-tools answers. */
function ourInitiator(e, sub, ours, theirs, ourFrame, theirFrame) {
  e.frameLimit(ourFrame);
  const neg = new Negentropy(storageOf(theirs), theirFrame);
  const have = [], need = [], theirHave = [], theirNeed = [];
  let t0 = performance.now();
  let msg = e.session(sub, ours, true);
  let rounds = 0, bytes = 0, largest = 0, ms = performance.now() - t0;
  for (;;) {
    rounds++;
    bytes += frameBytes(['NEG-MSG', sub, msg]);
    largest = Math.max(largest, msg.length / 2);
    if (ourFrame) assert.ok(msg.length / 2 <= ourFrame);
    // nostr-tools returns null for "nothing to say": on the wire that is
    // the message holding only the version byte.
    const reply = neg.reconcile(msg, (id) => theirHave.push(id), (id) => theirNeed.push(id)) ?? '61';
    const frame = ['NEG-MSG', sub, reply];
    bytes += frameBytes(frame);
    t0 = performance.now();
    const res = e.merge(frame);
    ms += performance.now() - t0;
    assert.deepEqual(res.rejected, []);
    have.push(...res.have);
    need.push(...res.need);
    assert.equal(res.replies.length, 1);
    const [next] = res.replies;
    if (next[0] === 'NEG-CLOSE') {
      assert.deepEqual(next, ['NEG-CLOSE', sub]);
      break;
    }
    assert.equal(next[0], 'NEG-MSG');
    msg = next[2];
    assert.ok(rounds < 5000, 'ends');
  }
  return { have, need, theirHave, theirNeed, rounds, bytes, largest, ms };
}

// 100,000 items with small frames take thousands of rounds, each making
// nostr-tools (no prefix sums) rescan its whole set: those runs use the
// default frames, and one small-frame run uses 99.9% overlap. nostr-tools'
// own default frame limit is 60,000; at 100,000 items it gets ours.
const theirFrame = (n, small) => (small ? SMALL_FRAME : n >= 100000 ? 500000 : 60000);
const CASES = [];
for (const n of [0, 1, 2, 100, 1000, 10000]) {
  for (const overlap of [0, 0.5, 0.999, 1]) {
    CASES.push({ n, overlap, small: false }, { n, overlap, small: true });
  }
}
for (const overlap of [0, 0.5, 0.999, 1]) CASES.push({ n: 100000, overlap, small: false });
CASES.push({ n: 100000, overlap: 0.999, small: true });

test(`interop: nostr-tools initiator, our responder, 0 to 100,000 items (seed ${seed})`, async (t) => {
  const e = await openEngine(t);
  const rng = makeRng(seed);
  for (const [i, { n, overlap, small }] of CASES.entries()) {
    const { a, b, onlyA, onlyB } = makeSets(rng, n, overlap);
    const frame = small ? SMALL_FRAME : 0;
    const r = theirInitiator(e, `their-${i}`, a, b, theirFrame(n, small), frame);
    const what = `${n} items, overlap ${overlap}, ${small ? 'small frames' : 'default frames'}`;
    assert.deepEqual(sorted(r.have), sorted(onlyA), `${what}: what nostr-tools has and we lack`);
    assert.deepEqual(sorted(r.need), sorted(onlyB), `${what}: what we have and nostr-tools lacks`);
    if (small && n >= 1000 && overlap < 1) assert.ok(r.rounds > 1, `${what}: continued over ${r.rounds} rounds`);
    t.diagnostic(`${what}: ${r.rounds} rounds, ${r.bytes} bytes, largest message ${r.largest}, ${Math.round(r.ms)} ms in our engine`);
  }
});

test(`interop: our initiator, nostr-tools responder, 0 to 100,000 items (seed ${seed})`, async (t) => {
  const e = await openEngine(t);
  const rng = makeRng(seed + 1);
  for (const [i, { n, overlap, small }] of CASES.entries()) {
    const { a, b, onlyA, onlyB } = makeSets(rng, n, overlap);
    const r = ourInitiator(e, `our-${i}`, a, b, small ? SMALL_FRAME : 0, theirFrame(n, small));
    const what = `${n} items, overlap ${overlap}, ${small ? 'small frames' : 'default frames'}`;
    // Each id of the difference is learned by one side or the other (see
    // the quirk above), never by a side that has it wrong.
    assert.deepEqual(sorted([...r.have, ...r.theirNeed]), sorted(onlyA), `${what}: ours only`);
    assert.deepEqual(sorted([...r.need, ...r.theirHave]), sorted(onlyB), `${what}: theirs only`);
    t.diagnostic(`${what}: ${r.rounds} rounds, ${r.bytes} bytes, largest message ${r.largest}, ${Math.round(r.ms)} ms in our engine`);
  }
});

test('two engines: 10,000 shared + 10 differing cost a few KB, not a transfer', async (t) => {
  const x = await openEngine(t);
  const y = await openEngine(t);
  const rng = makeRng(seed + 2);
  const { a, b, onlyA, onlyB } = makeSets(rng, 10005, 10000 / 10005);
  assert.equal(onlyA.length + onlyB.length, 10);
  y.frameLimit(0);
  assert.equal(y.session('z', b, false), '');
  let msg = x.session('z', a, true);
  const have = [], need = [];
  let rounds = 0, bytes = 0;
  for (;;) {
    rounds++;
    const frame = ['NEG-MSG', 'z', msg];
    bytes += frameBytes(frame);
    const [reply] = y.merge(frame).replies;
    bytes += frameBytes(reply);
    const res = x.merge(reply);
    have.push(...res.have);
    need.push(...res.need);
    const [next] = res.replies;
    if (next[0] === 'NEG-CLOSE') { bytes += frameBytes(next); break; }
    msg = next[2];
  }
  assert.deepEqual(sorted(have), sorted(onlyA));
  assert.deepEqual(sorted(need), sorted(onlyB));
  // What the alternatives would move: every id (as hex in a JSON array),
  // or every event (a short note is ~400 bytes of JSON).
  const allIds = Buffer.byteLength(JSON.stringify(a.map((it) => it.id)));
  const allEvents = a.length * 400;
  t.diagnostic(`10,000 shared + 10 differing: ${rounds} round trips, ${bytes} bytes both ways ` +
    `(every id: ${allIds} bytes; every event: ~${allEvents} bytes)`);
  console.log(`# negentropy: 10,000 shared + 10 differing: ${rounds} round trips, ${bytes} bytes both ways; ` +
    `sending every id would take ${allIds} bytes, every event ~${allEvents}`);
  assert.ok(rounds <= 4, `${rounds} round trips`);
  assert.ok(bytes < allIds / 20, `${bytes} bytes is tiny next to ${allIds}`);
});

// --- stored events, end to end ------------------------------------------------

const BASE_TIME = Math.floor(Date.now() / 1000) - 100000;

/* Signed notes by a few nostr-tools authors, created_at spread so that
** several share a second. Signed once per tag (signing is the slow part). */
const signed = new Map();
function signNotes(count, tag) {
  if (!signed.has(tag)) {
    const authors = [0, 1, 2].map((i) => makeAuthor(`neg ${tag} ${i}`));
    signed.set(tag, Array.from({ length: count }, (_, i) =>
      authors[i % 3].sign({ kind: 1, content: `${tag} ${i}`, created_at: BASE_TIME + Math.floor(i / 4) })));
  }
  return signed.get(tag);
}

async function store(feed, events) {
  for (let i = 0; i < events.length; i += 500) {
    const res = await feed.merge(events.slice(i, i + 500).map((ev) => ['EVENT', ev]));
    assert.deepEqual(res.rejected, []);
  }
}

/* x initiates with y (feeds or engines with merge/negOpen). */
async function syncFeeds(x, y, sub, filter = {}) {
  let frame = await x.negOpen(sub, filter);
  assert.equal(frame[0], 'NEG-OPEN');
  assert.equal(frame[1], sub);
  assert.deepEqual(frame[2], filter);
  const have = [], need = [];
  let rounds = 0;
  for (;;) {
    rounds++;
    const ry = await y.merge(frame);
    assert.deepEqual(ry.rejected, []);
    const [reply] = ry.replies;
    assert.equal(reply[0], 'NEG-MSG', JSON.stringify(reply));
    const rx = await x.merge(reply);
    assert.deepEqual(rx.rejected, []);
    have.push(...rx.have);
    need.push(...rx.need);
    const [next] = rx.replies;
    if (next[0] === 'NEG-CLOSE') {
      assert.deepEqual((await y.merge(next)).replies, []);
      break;
    }
    frame = next;
    assert.ok(rounds < 1000);
  }
  return { have: sorted(have), need: sorted(need), rounds };
}

/* Fetches ids from `from` the way a sync driver does: REQ by ids. */
async function fetchInto(to, from, ids) {
  const res = await from.merge(['REQ', 'fetch', { ids }]);
  const events = res.replies.filter((r) => r[0] === 'EVENT').map((r) => r[2]);
  assert.equal(events.length, ids.length);
  await store(to, events);
}

test('two feeds: negOpen/merge find exactly the difference of stored events, then converge', async (t) => {
  const { feed: a } = await tempFeed(t, 'a.db');
  const { feed: b } = await tempFeed(t, 'b.db');
  const shared = signNotes(1000, 'shared');
  const onlyA = signNotes(150, 'a');
  const onlyB = signNotes(150, 'b');
  await store(a, [...shared, ...onlyA]);
  await store(b, [...shared, ...onlyB]);
  const mine = await a.post('from a itself'); // a's own event counts too

  const r = await syncFeeds(a, b, 'sync-1');
  assert.deepEqual(r.have, sorted([...onlyA.map((e) => e.id), mine.id]));
  assert.deepEqual(r.need, sorted(onlyB.map((e) => e.id)));
  // A filter narrows both sides alike.
  const author = onlyB[0].pubkey;
  const narrow = await syncFeeds(a, b, 'sync-2', { authors: [author] });
  assert.deepEqual(narrow.have, sorted(onlyA.filter((e) => e.pubkey === author).map((e) => e.id)));
  assert.deepEqual(narrow.need, sorted(onlyB.filter((e) => e.pubkey === author).map((e) => e.id)));

  // Fetch what each lacks; then there is nothing left to reconcile.
  await fetchInto(a, b, r.need);
  await fetchInto(b, a, r.have);
  const again = await syncFeeds(b, a, 'sync-3');
  assert.deepEqual(again, { have: [], need: [], rounds: 1 });
  assert.deepEqual((await a.query({})).map((e) => e.id).sort(), (await b.query({})).map((e) => e.id).sort());
});

test('stored events against nostr-tools, both directions, with our messages continued', async (t) => {
  const e = await openEngine(t);
  const shared = signNotes(1000, 'shared');
  const ours = [...shared, ...signNotes(150, 'a')];
  const theirs = [...shared.slice(0, 700), ...signNotes(150, 'b')];
  await store(e, ours);
  const items = (events) => events.map((ev) => ({ ts: ev.created_at, id: ev.id }));
  const onlyOurs = sorted(ours.slice(700).map((ev) => ev.id));
  const onlyTheirs = sorted(theirs.slice(700).map((ev) => ev.id));

  // Their initiator sends NEG-OPEN; our responder loads the stored events.
  // Our frame limit is small, so our answers (450 ids and more) continue.
  e.frameLimit(SMALL_FRAME);
  const neg = new Negentropy(storageOf(items(theirs)), SMALL_FRAME);
  let res = e.merge(['NEG-OPEN', 'x1', { kinds: [1] }, neg.initiate()]);
  const have = [], need = [];
  let rounds = 0;
  for (;;) {
    rounds++;
    const [reply] = res.replies;
    assert.equal(reply[0], 'NEG-MSG');
    assert.ok(reply[2].length / 2 <= SMALL_FRAME);
    const msg = neg.reconcile(reply[2], (id) => have.push(id), (id) => need.push(id));
    if (msg === null) break;
    res = e.merge(['NEG-MSG', 'x1', msg]);
  }
  assert.ok(rounds > 2, `continued: ${rounds} rounds`);
  assert.deepEqual(sorted(have), onlyTheirs);
  assert.deepEqual(sorted(need), onlyOurs);

  // Our initiator (negOpen over the store) against their responder.
  e.frameLimit(0);
  const neg2 = new Negentropy(storageOf(items(theirs)), SMALL_FRAME);
  let [, , , msg] = e.negOpen('x2', { kinds: [1] });
  const ourHave = [], ourNeed = [], theirHave = [], theirNeed = [];
  for (;;) {
    const reply = neg2.reconcile(msg, (id) => theirHave.push(id), (id) => theirNeed.push(id)) ?? '61';
    const r2 = e.merge(['NEG-MSG', 'x2', reply]);
    ourHave.push(...r2.have);
    ourNeed.push(...r2.need);
    if (r2.replies[0][0] === 'NEG-CLOSE') break;
    msg = r2.replies[0][2];
  }
  assert.deepEqual(sorted([...ourHave, ...theirNeed]), onlyOurs);
  assert.deepEqual(sorted([...ourNeed, ...theirHave]), onlyTheirs);
});

test('deleted events are not advertised, tombstoned and replaced ids are not needed', async (t) => {
  const { feed: a } = await tempFeed(t, 'a.db');
  const { feed: b } = await tempFeed(t, 'b.db');
  const alice = makeAuthor('neg tomb alice');
  const notes = [0, 1, 2].map((i) => alice.sign({ kind: 1, content: `n${i}`, created_at: BASE_TIME + i }));
  const oldProfile = alice.sign({ kind: 0, content: '{"name":"old"}', created_at: BASE_TIME });
  const newProfile = alice.sign({ kind: 0, content: '{"name":"new"}', created_at: BASE_TIME + 10 });
  const deletion = alice.sign({ kind: 5, content: '', tags: [['e', notes[0].id]], created_at: BASE_TIME + 20 });
  // a: every note, and only the old profile (it never heard of the rest).
  await store(a, [...notes, oldProfile]);
  // b: saw note 0 and then its deletion, the old profile and then the new.
  await store(b, [notes[0], notes[1], notes[2], oldProfile, newProfile, deletion]);
  assert.equal((await b.query({ ids: [notes[0].id, oldProfile.id] })).length, 0);

  // b initiates: a advertises note 0 and the old profile, b needs neither.
  const fromB = await syncFeeds(b, a, 'tomb-1');
  assert.deepEqual(fromB.need, []);
  assert.deepEqual(fromB.have, sorted([newProfile.id, deletion.id]));
  // a initiates: b advertises neither dead event; a has them, b "lacks" them.
  const fromA = await syncFeeds(a, b, 'tomb-2');
  assert.deepEqual(fromA.have, sorted([notes[0].id, oldProfile.id]));
  assert.deepEqual(fromA.need, sorted([newProfile.id, deletion.id]));
  // Once a fetches them, the dead events leave a too, and they are done.
  await fetchInto(a, b, fromA.need);
  assert.deepEqual(await syncFeeds(a, b, 'tomb-3'), { have: [], need: [], rounds: 1 });
});

test('sessions: NEG-CLOSE, NEG-ERR, unknown ids, the cap of 4 per connection, garbage; the feed keeps working', async (t) => {
  const { feed } = await tempFeed(t, 'sessions.db');
  await feed.post('something to reconcile');
  const one = async (frame) => {
    const res = await feed.merge(frame);
    assertMergeShape(res);
    assert.deepEqual(res.accepted, []);
    return res;
  };

  // Unknown subscription.
  let res = await one(['NEG-MSG', 'nope', '61']);
  assert.deepEqual(res.replies, [['NEG-ERR', 'nope', 'closed: unknown subscription']]);
  assert.deepEqual(res.rejected, []);

  // A session we serve, closed by the peer.
  res = await one(['NEG-OPEN', 'r', {}, new Negentropy(storageOf([])).initiate()]);
  assert.equal(res.replies[0][0], 'NEG-MSG');
  assert.deepEqual((await one(['NEG-CLOSE', 'r'])).replies, []);
  assert.equal((await one(['NEG-MSG', 'r', '61'])).replies[0][0], 'NEG-ERR');

  // A session we opened, ended by the peer's NEG-ERR: the reason surfaces.
  const open = await feed.negOpen('mine', { kinds: [1] });
  assert.deepEqual(open.slice(0, 3), ['NEG-OPEN', 'mine', { kinds: [1] }]);
  assert.match(open[3], /^61[0-9a-f]*$/);
  res = await one(['NEG-ERR', 'mine', 'blocked: this query is too big']);
  assert.deepEqual(res.replies, []);
  assert.deepEqual(res.rejected, [{ id: null, reason: 'blocked: this query is too big' }]);
  assert.equal((await one(['NEG-MSG', 'mine', '61'])).replies[0][0], 'NEG-ERR');
  // A NEG-ERR for nothing is ignored, never answered.
  res = await one(['NEG-ERR', 'nothing', 'closed: bye']);
  assert.deepEqual([res.replies, res.rejected], [[], []]);

  // At most 4 sessions per connection: opening 40, the 36 least recently
  // used are gone.
  for (let i = 0; i < 40; i++) await feed.negOpen(`cap-${i}`, {});
  for (let i = 0; i < 40; i++) {
    res = await one(['NEG-MSG', `cap-${i}`, '61']);
    assert.equal(res.replies[0][0], i < 36 ? 'NEG-ERR' : 'NEG-CLOSE', `cap-${i}`);
  }

  // Bad arguments to negOpen are errors, not sessions.
  await assert.rejects(feed.negOpen('', {}), /subscription id/);
  await assert.rejects(feed.negOpen('x'.repeat(65), {}), /subscription id/);
  await assert.rejects(feed.negOpen('x', { search: 'q' }), /unsupported/);
  await assert.rejects(feed.negOpen('x', [{}]), /object/);

  // Garbage: refused with NEG-ERR (or NOTICE when there is no usable id),
  // rejected as "invalid: ...", never a crash.
  const garbage = [
    ['NEG-OPEN', 'g1', {}, 'zz'], ['NEG-OPEN', 'g2', {}, '6'], ['NEG-OPEN', 'g3', {}, ''],
    ['NEG-OPEN', 'g4', {}, '61ff'], ['NEG-OPEN', 'g5', {}, `61${'ff'.repeat(64)}`],
    ['NEG-OPEN', 'g6', { kinds: 'x' }, '61'], ['NEG-OPEN', 'g7', 'x', '61'], ['NEG-OPEN', 'g8', {}],
    ['NEG-OPEN', 'g9', {}, 61], ['NEG-OPEN', 'g10', {}, `61${'00'.repeat(100000)}`],
    ['NEG-OPEN', 'g11', {}, '6100000240' + 'aa'.repeat(10)], ['NEG-OPEN', 'g12', {}, '61000003'],
    ['NEG-OPEN', 'g13', {}, 'FF'], ['NEG-OPEN', 'g14', {}, '610000'],
  ];
  for (const frame of garbage) {
    res = await one(frame);
    assert.equal(res.replies.length, 1, JSON.stringify(frame).slice(0, 80));
    assert.equal(res.replies[0][0], 'NEG-ERR', JSON.stringify(frame).slice(0, 80));
    assert.equal(res.replies[0][1], frame[1]);
    assert.match(res.replies[0][2], /^(blocked|closed): /);
    assert.equal(res.rejected.length, 1);
    assert.match(res.rejected[0].reason, /^invalid: /);
  }
  // A session we serve that gets garbage ends.
  await one(['NEG-OPEN', 'h', {}, '61']);
  res = await one(['NEG-MSG', 'h', 'not hex']);
  assert.equal(res.replies[0][0], 'NEG-ERR');
  assert.equal((await one(['NEG-MSG', 'h', '61'])).replies[0][2], 'closed: unknown subscription');
  // Frames without a usable id get a NOTICE.
  for (const frame of [['NEG-OPEN'], ['NEG-MSG', 7, '61'], ['NEG-CLOSE'], ['NEG-CLOSE', 'x', 'y']]) {
    res = await one(frame);
    assert.equal(res.replies[0][0], 'NOTICE');
  }
  // Another protocol version gets ours back, per the protocol.
  assert.deepEqual((await one(['NEG-OPEN', 'v2', {}, '62'])).replies, [['NEG-MSG', 'v2', '61']]);

  const after = await feed.post('still working');
  assert.equal((await feed.query({ ids: [after.id] })).length, 1);
});
