// attack-fetch-budget.test.js -- regression: an honest sync whose REQ
// answers are cut at their 1 MiB budget still fetches everything. B
// follows an author of whom A holds 3,000 events of ~4 KiB; B asks 500 ids
// per REQ, A's engine cuts each answer at ~240 such events. The ids an
// answer that brought some did not bring are asked again at once, not
// counted against A, so B reports done only with all 3,000 stored.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { initNostrWasm } from 'nostr-wasm';
import { startSignal, scope, openTracked, joinTracked, freshRoom, until } from './fixtures/hostile-peer.js';
import { makeAuthor, nowSec } from './helpers.js';

let sig;
let nw;
before(async () => { sig = await startSignal(); nw = await initNostrWasm(); });
after(async () => { await sig?.close(); });

test('honest sync of 3,000 events of ~4 KiB: "done" only with all of them stored', async (t) => {
  const sc = scope(t);
  const x = makeAuthor('repro fetch budget');
  const base = nowSec() - 20_000;
  const events = Array.from({ length: 3000 }, (_, i) => {
    const ev = { kind: 1, created_at: base + i, tags: [], content: `${i} ${'b'.repeat(4000)}` };
    nw.finalizeEvent(ev, x.sk);
    return ev;
  });
  const { feed: a } = await openTracked(sc, { name: 'a.db', policy: { store: 'all' } });
  const { feed: b } = await openTracked(sc, { name: 'b.db', policy: {} });
  for (let i = 0; i < events.length; i += 500) await a.merge(events.slice(i, i + 500).map((e) => ['EVENT', e]));
  await b.follow(x.pubkey);
  const room = freshRoom('fetch-budget');
  await joinTracked(sc, a, { signalUrl: sig.signalUrl, room });
  const rb = await joinTracked(sc, b, { signalUrl: sig.signalUrl, room });
  const syncs = [];
  rb.on('sync', (s) => syncs.push(s));
  await until(() => syncs.some((s) => s.done), 'B to report done', 120_000);
  const stored = (await b.query({ authors: [x.pubkey] })).length;
  const link = rb.stats().peers[0];
  t.diagnostic(`done reported with ${stored} of 3000 stored; B's link to A: ${JSON.stringify(link)}`);
  assert.equal(link.unavailable, 0, 'ids A holds and serves were given up');
  assert.equal(stored, 3000);
});
