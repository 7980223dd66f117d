// signal-attack-broadcast.test.js -- broadcast amplification. Before the
// fix a broadcast spent its sender's byte budget once, however many peers
// it was copied to: one authenticated client in a room of 100 sent 1.5 MiB
// and made the server send 147 MiB. Now each copy delivered is paid for:
// a connection's broadcasts make the server send at most
// broadcastBurstBytes (1 MiB) at once and broadcastBytesPerSecond
// (256 KiB/s) after that, whatever the size of the room. The suite counts
// the bytes every member received and asserts that bound, and that the
// other members keep talking.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { DEFAULT_LIMITS } from '../../web/signal.js';
import { serve, signalUrl, joined } from './signal-attack-helpers.js';

test('a broadcast flood into a room of 100 sends at most burst + rate * T bytes', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const L = DEFAULT_LIMITS;
  // 100 members, joined from four addresses (25 each) in small batches.
  const members = [];
  for (let ip = 1; ip <= 4; ip++) {
    for (let batch = 0; batch < 5; batch++) {
      members.push(...await Promise.all(Array.from({ length: 5 }, () => joined(t, url, 'crowd', { localAddress: `127.0.4.${ip}` }))));
    }
  }
  assert.equal(members.length, 100);
  const [attacker, speaker, ...others] = members;

  // The attack of the report: 24 frames of 64 KiB (1.5 MiB in), then
  // smaller ones that could fit the budget one by one.
  const start = Date.now();
  const big = 'x'.repeat(64 * 1024 - 100);
  for (let i = 0; i < 24; i++) attacker.send({ type: 'broadcast', data: big });
  const mid = 'y'.repeat(4 * 1024);
  for (let i = 0; i < 100; i++) attacker.send({ type: 'broadcast', data: mid });
  const sentIn = 24 * (big.length + 30) + 100 * (mid.length + 30);
  // Meanwhile another member still reaches everyone.
  speaker.send({ type: 'broadcast', data: 'hello from an honest member' });
  await attacker.barrier(); // every attacking frame has been handled
  await Promise.all(members.map((p) => p.barrier())); // and every copy read
  const elapsed = (Date.now() - start) / 1000;

  let fromAttacker = 0;
  for (const p of members) {
    for (const f of p.all) if (f.type === 'broadcast' && f.from === attacker.pk) fromAttacker += JSON.stringify(f).length;
  }
  const bound = L.broadcastBurstBytes + L.broadcastBytesPerSecond * elapsed;
  t.diagnostic(`${(sentIn / 1048576).toFixed(2)} MiB in, ${(fromAttacker / 1048576).toFixed(2)} MiB out in ${elapsed.toFixed(1)} s `
    + `(bound ${(bound / 1048576).toFixed(2)} MiB; before the fix ${(99 * sentIn / 1048576).toFixed(0)} MiB)`);
  assert.ok(fromAttacker <= bound, `${fromAttacker} bytes out exceeds ${bound}`);
  // A 64 KiB broadcast into 99 peers is over the whole budget: none went out.
  for (const p of others) assert.ok(!p.all.some((f) => f.type === 'broadcast' && f.data === big));
  const refusals = attacker.all.filter((f) => f.type === 'error' && f.code === 'rate-limited');
  assert.ok(refusals.length >= 24, `${refusals.length} broadcasts refused`);
  assert.ok(refusals.some((f) => /exceeds the 1048576-byte budget/.test(f.message)));

  // The honest member's broadcast reached all 99 others; signals flow.
  for (const p of [attacker, ...others]) {
    assert.ok(p.all.some((f) => f.type === 'broadcast' && f.from === speaker.pk), 'the honest broadcast arrived');
  }
  speaker.send({ type: 'signal', to: others[50].pk, data: { sdp: 'still here' } });
  assert.equal((await others[50].nextType('signal')).data.sdp, 'still here');
  // The attacker is slowed, not cut off: a small broadcast passes once the
  // budget refills (100 bytes x 99 copies).
  await new Promise((r) => setTimeout(r, 1000));
  attacker.send({ type: 'broadcast', data: 'small' });
  assert.equal((await others[0].next((f) => f.type === 'broadcast' && f.data === 'small')).from, attacker.pk);
  assert.equal(attacker.closeInfo, undefined);
  // And the server takes newcomers.
  const late = await joined(t, url, 'crowd', { localAddress: '127.0.4.9' });
  assert.equal(late.joinedPeers.length, 100);
});
