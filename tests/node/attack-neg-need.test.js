// attack-neg-need.test.js -- regression: a hostile responder to the
// victim's own NIP-77 reconciliation answers every round with 15,000
// made-up ids and a fingerprint that never matches. The driver wants at
// most 50,000 ids at a time and drops a peer whose reconciliation takes
// over 500 rounds, so the victim's memory stays bounded.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startSignal, scope, setupRoom, arrives, sleep, MiB } from './fixtures/hostile-peer.js';

let sig;
before(async () => { sig = await startSignal(); });
after(async () => { await sig?.close(); });

function varint(n) {
  const out = [n & 0x7f];
  for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) out.unshift((n & 0x7f) | 0x80);
  return Buffer.from(out);
}
// A responder message: an id list of k made-up ids up to timestamp 1, then
// a fingerprint that never matches, up to infinity (so the initiator answers).
function hostileMsg(k) {
  return Buffer.concat([
    Buffer.from([0x61]), varint(2), varint(0), varint(2), varint(k), randomBytes(32 * k),
    varint(0), varint(0), varint(1), randomBytes(16),
  ]).toString('hex');
}

test('a hostile responder cannot make the victim want made-up ids without bound', async (t) => {
  const sc = scope(t);
  const { rv, h, victim, honest } = await setupRoom(sc, { signalUrl: sig.signalUrl, victimPolicy: {} });
  const open = await h.waitFor((f) => f[0] === 'NEG-OPEN', "the victim's NEG-OPEN");
  const sub = open[1];
  let rounds = 0;
  h.onFrame((f) => {
    if (f[0] === 'NEG-MSG' && f[1] === sub) { rounds++; h.send(['NEG-MSG', sub, hostileMsg(15000)]).catch(() => {}); }
    if (f[0] === 'REQ' && f[1] !== sub) h.send(['EOSE', f[1]]).catch(() => {}); // fetches: nothing
  });
  await h.send(['NEG-MSG', sub, hostileMsg(15000)]);
  const rss0 = process.memoryUsage().rss;
  let most = 0;
  for (let i = 0; i < 5; i++) {
    await sleep(2000);
    const s = rv.stats().peers.find((p) => p.pubkey === h.pubkey);
    most = Math.max(most, s?.missing ?? 0);
    t.diagnostic(`t=${2 * (i + 1)} s: ${rounds} rounds, ${s?.missing} ids wanted from the attacker, ` +
      `RSS +${((process.memoryUsage().rss - rss0) / MiB).toFixed(0)} MiB`);
  }
  const p = await honest.post('still syncing');
  await arrives(victim, p.id);
  assert.ok(most < 100_000, `the victim wanted ${most} made-up ids from one peer after 10 s of this`);
});
