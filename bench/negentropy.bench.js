// negentropy.bench.js -- what a Negentropy (NIP-77) re-sync costs
// on the wire, against sending everything. Two feeds share 10,000 events
// and one (B) has 10 more; A re-syncs with B the way js-glue/sync.js does
// on connect: NEG-OPEN over the authors it follows, NEG-MSG rounds until
// its NEG-CLOSE, REQ by ids for what it lacks (500 ids a REQ), the EVENT
// answers and EOSE, then CLOSE. The alternative is B sending all 10,010
// events as ["EVENT", event] frames. Target: re-sync bytes <= 1% of that.
//
// No WebRTC: the two feeds (wasm engine, node:fs databases in a temp
// directory) are driven directly, each frame A sends merged into B and
// each reply merged into A. Bytes are the UTF-8 JSON text of every frame,
// both ways (the transport's chunk headers, one byte per 16 KiB, left
// out). A round trip is one flight from A that waits for an answer
// (NEG-OPEN, NEG-MSG, REQ) and its replies; a flight of frames that get
// no answer (NEG-CLOSE, CLOSE) adds bytes, not a round trip. REQs go out
// in the same flight as the NEG-MSG that taught A the ids, as sync.js
// sends them as soon as they are known.

import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report } from './report.js';
import { corpus, makeRng } from './lib/events.js';
import { requireWasm } from './lib/build.js';

// The corpus is many authors nobody follows: the feeds keep every valid
// event with no size budget (a relay's policy); the default policy would
// refuse them.
const KEEP_ALL = { store: 'all', maxBytes: 0 };

const SHARED = 10000;
const EXTRA = 10;
const FETCH_BATCH = 500;   // ids per REQ, as js-glue/sync.js

requireWasm();
const { openFeed } = await import('../js-glue/node.js');

// 10,010 events picked across the corpus (so across all authors, kinds and
// the two months); the last 10 are B's alone.
const events = corpus();
const rng = makeRng(1077);
for (let i = events.length - 1; i > 0; i--) {
  const j = rng.int(i + 1);
  [events[i], events[j]] = [events[j], events[i]];
}
const picked = events.slice(0, SHARED + EXTRA);
const shared = picked.slice(0, SHARED);
const extra = picked.slice(SHARED);
const authors = [...new Set(events.map((e) => e.pubkey))];

const bytes = (frame) => Buffer.byteLength(typeof frame === 'string' ? frame : JSON.stringify(frame));

const dir = mkdtempSync(join(tmpdir(), 'hiroba-bench-neg-'));
try {
  // A holds the shared events; B is a copy of A's file plus the 10 extra
  // (merging once and copying halves the setup, which verifies every
  // signature). Both files are closed while copied.
  const pathA = join(dir, 'a.db');
  const pathB = join(dir, 'b.db');
  let a = await openFeed({ path: pathA, policy: KEEP_ALL });
  for (let i = 0; i < SHARED; i += 1000) {
    const res = await a.merge(shared.slice(i, i + 1000).map((e) => ['EVENT', e]));
    if (res.accepted.length !== Math.min(1000, SHARED - i)) throw new Error(`setup: ${JSON.stringify(res.rejected.slice(0, 3))}`);
  }
  await a.close();
  copyFileSync(pathA, pathB);
  a = await openFeed({ path: pathA, policy: KEEP_ALL });
  const b = await openFeed({ path: pathB, policy: KEEP_ALL });
  const res = await b.merge(extra.map((e) => ['EVENT', e]));
  if (res.accepted.length !== EXTRA) throw new Error('setup: B did not take the extra events');

  // --- the re-sync -------------------------------------------------------------
  const t0 = performance.now();
  const negSub = 'bench-neg';
  const filter = { authors };
  let flight = [await a.negOpen(negSub, filter)];
  const wire = { neg: 0, req: 0, events: 0, other: 0 };   // bytes, both ways
  const count = (frame) => {
    const n = bytes(frame);
    const type = frame[0];
    if (type.startsWith('NEG-')) wire.neg += n;
    else if (type === 'REQ' || type === 'CLOSE' || type === 'EOSE') wire.req += n;
    else if (type === 'EVENT') wire.events += n;
    else wire.other += n;
  };
  const requested = new Set();
  const fetching = new Set();
  let roundTrips = 0, negRounds = 0, nextSub = 0, received = 0, have = 0, done = false;
  while (flight.length) {
    if (flight.some((f) => f[0] === 'NEG-OPEN' || f[0] === 'NEG-MSG')) negRounds++;
    if (flight.some((f) => f[0] === 'NEG-OPEN' || f[0] === 'NEG-MSG' || f[0] === 'REQ')) roundTrips++;
    const replies = [];
    for (const frame of flight) {
      count(frame);
      const r = await b.merge(frame);
      if (r.rejected.length) throw new Error(`B rejected ${JSON.stringify(frame).slice(0, 100)}: ${JSON.stringify(r.rejected)}`);
      replies.push(...r.replies);
    }
    const next = [];
    for (const reply of replies) {
      count(reply);
      const r = await a.merge(reply);
      if (r.rejected.length) throw new Error(`A rejected ${JSON.stringify(reply).slice(0, 100)}: ${JSON.stringify(r.rejected)}`);
      received += r.accepted.length;
      have += r.have.length;
      for (const f of r.replies) {
        if (f[0] === 'NEG-CLOSE' && f[1] === negSub) done = true;
        next.push(f);
      }
      const ids = r.need.filter((id) => !requested.has(id));
      for (const id of ids) requested.add(id);
      for (let i = 0; i < ids.length; i += FETCH_BATCH) {
        const sub = `bench-f${nextSub++}`;
        fetching.add(sub);
        next.push(['REQ', sub, { ids: ids.slice(i, i + FETCH_BATCH) }]);
      }
      if (reply[0] === 'EOSE' && fetching.delete(reply[1])) next.push(['CLOSE', reply[1]]);
    }
    flight = next;
    if (roundTrips > 100) throw new Error('re-sync does not end');
  }
  const ms = performance.now() - t0;
  if (!done || received !== EXTRA || requested.size !== EXTRA || have !== 0) {
    throw new Error(`re-sync: done ${done}, received ${received}, requested ${requested.size}, have ${have}`);
  }
  const stored = await a.query({ ids: extra.map((e) => e.id) });
  if (stored.length !== EXTRA) throw new Error('A does not hold the 10 events after the re-sync');
  await a.close();
  await b.close();

  const resync = wire.neg + wire.req + wire.events + wire.other;
  const full = picked.reduce((n, e) => n + bytes(['EVENT', e]), 0);
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  report({
    id: 'negentropy-bytes',
    what: `re-sync bytes, ${SHARED.toLocaleString('en')} shared events + ${EXTRA} missing (both ways)`,
    value: resync,
    unit: 'B',
    anchor: `full transfer (${(SHARED + EXTRA).toLocaleString('en')} EVENT frames)`,
    anchorValue: full,
    better: 'lower',
    target: 0.01,
    note: `NEG frames ${kb(wire.neg)}, REQ/EOSE/CLOSE ${kb(wire.req)}, the ${EXTRA} EVENTs ${kb(wire.events)}; full ${kb(full)}; ${ms.toFixed(0)} ms in-process`,
  });
  report({
    id: 'negentropy-round-trips',
    what: 'round trips of that re-sync (Negentropy rounds + the REQ by ids)',
    value: roundTrips,
    unit: 'RT',
    anchor: 'full transfer (one REQ)',
    anchorValue: 1,
    better: 'lower',
    note: `${negRounds} carrying Negentropy messages (NEG-OPEN, then NEG-MSG), ${roundTrips - negRounds} only for the REQ by ids`,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
