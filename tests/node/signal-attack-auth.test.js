// signal-attack-auth.test.js -- the signature-check flood against /signal:
// unauthenticated connections answer challenges with auth events that pass
// every cheap check (right pubkey, kind, challenge, freshness, id) and
// carry random signatures, as fast as the server answers, reconnecting
// whenever they are closed. Before the fix, 16 such connections held the
// server at 100% CPU (4.5 ms per pure-JS Schnorr check, no limit).
//
// Now each check runs in the wasm engine and is rationed: the suite
// asserts the stated bounds on counts (never on wall-clock time): at most
// verifyBurstPerIp + verifyPerIpPerSecond * T checks for one address over
// T seconds, at most verifyBurst + verifyPerSecond * T for all of them, at
// most authFailuresPerConnection failed checks per connection (then it is
// closed 1008) -- and that honest clients on other addresses join and
// signal meanwhile, and the server is up afterwards.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { DEFAULT_LIMITS } from '../../web/signal.js';
import {
  Peer, serve, signalUrl, makeKey, forgedAuth, joined, sleep, until,
} from './signal-attack-helpers.js';

// One attacking connection, forever: join, answer the challenge with a
// forgery, again on each refusal, a new socket when closed (also after a
// 503). Returns { stop(), sockets: [Peer], failures: [count per socket] }.
function attacker(url, localAddress) {
  const state = { stopped: false, sockets: [], refusedUpgrades: 0 };
  (async () => {
    while (!state.stopped) {
      let peer;
      try {
        peer = await Peer.open(url, { localAddress });
      } catch (err) {
        if (err.status === 503) state.refusedUpgrades++;
        await sleep(20);
        continue;
      }
      state.sockets.push(peer);
      // A connection that opened after stop() is closed here, or it would
      // linger until the server's auth timeout.
      if (state.stopped) { peer.close(); break; }
      const key = makeKey(); // a real pubkey: the forgery must reach the Schnorr check
      peer.ws.on('message', (data) => {
        const f = JSON.parse(data.toString());
        if (f.type === 'challenge') peer.send({ type: 'auth', event: forgedAuth(key.pk, f.nonce) });
        else if (f.type === 'error' && !state.stopped) peer.send({ type: 'join', room: 'victim', pubkey: key.pk });
      });
      peer.send({ type: 'join', room: 'victim', pubkey: key.pk });
      await peer.closed;
    }
  })();
  state.stop = () => {
    state.stopped = true;
    for (const p of state.sockets) p.close();
  };
  return state;
}

const failedChecks = (peer) => peer.all.filter((f) => f.type === 'error' && /signature is invalid/.test(f.message)).length;

test('16 connections forging signatures from one address: checks per address bounded, honest clients unaffected', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const L = DEFAULT_LIMITS;
  const start = Date.now();
  const attackers = Array.from({ length: 16 }, () => attacker(url, '127.0.0.2'));
  t.after(() => attackers.forEach((a) => a.stop()));

  // While it runs, honest clients on other addresses join and signal.
  await sleep(500);
  const room = [];
  for (let i = 0; i < 6; i++) room.push(await joined(t, url, 'honest', { localAddress: `127.0.1.${i + 1}` }));
  room[0].send({ type: 'signal', to: room[5].pk, data: { sdp: 'during the attack' } });
  assert.equal((await room[5].nextType('signal')).data.sdp, 'during the attack');
  await sleep(2000);
  for (const a of attackers) a.stop();
  // Measured once the server has closed every attacking socket: nothing it
  // checks can fall outside the window.
  await until(() => app.signal.stats().unauthenticated === 0, 'the attackers are gone');
  const elapsed = (Date.now() - start) / 1000;

  const stats = app.signal.stats();
  const honest = room.length;
  const bound = L.verifyBurstPerIp + L.verifyPerIpPerSecond * elapsed + honest;
  t.diagnostic(`${elapsed.toFixed(1)} s: ${stats.verifications} signature checks (bound ${Math.floor(bound)}), `
    + `${stats.refusedVerifications} refused unchecked, ${attackers.reduce((n, a) => n + a.sockets.length, 0)} attacking sockets`);
  assert.ok(stats.verifications <= bound, `${stats.verifications} checks in ${elapsed} s exceeds ${bound}`);
  assert.ok(stats.refusedVerifications > 0, 'the attack hit the per-address budget');
  assert.ok(stats.verifications >= honest);
  // No connection had more than 3 failed checks, and the 3rd closed it.
  for (const a of attackers) {
    for (const peer of a.sockets) {
      const n = failedChecks(peer);
      assert.ok(n <= L.authFailuresPerConnection, `a connection had ${n} failed signature checks`);
      if (n === L.authFailuresPerConnection) assert.equal(peer.closeInfo?.code, 1008);
    }
  }
  // The server is up, and a newcomer from the attacked address is served
  // once the budget refills.
  await sleep(1000);
  const late = await joined(t, url, 'honest', { localAddress: '127.0.0.2' });
  assert.equal(late.joinedPeers.length, honest);
  late.send({ type: 'broadcast', data: 'after' });
  assert.equal((await room[0].nextType('broadcast')).data, 'after');
});

test('many addresses forging at once: the server-wide budget bounds the checks', async (t) => {
  const limits = { verifyPerIpPerSecond: 1000, verifyBurstPerIp: 1000, verifyPerSecond: 40, verifyBurst: 40 };
  const app = await serve(t, { signal: { limits } });
  const url = signalUrl(app);
  const before = await joined(t, url, 'honest');
  const start = Date.now();
  const attackers = [];
  for (let ip = 2; ip < 10; ip++) for (let i = 0; i < 3; i++) attackers.push(attacker(url, `127.0.2.${ip}`));
  t.after(() => attackers.forEach((a) => a.stop()));
  await sleep(2500);
  for (const a of attackers) a.stop();
  // Measured once the server has closed every attacking socket: nothing it
  // checks can fall outside the window.
  await until(() => app.signal.stats().unauthenticated === 0, 'the attackers are gone');
  const elapsed = (Date.now() - start) / 1000;
  const stats = app.signal.stats();
  const bound = limits.verifyBurst + limits.verifyPerSecond * elapsed + 1;
  t.diagnostic(`${elapsed.toFixed(1)} s: ${stats.verifications} signature checks (bound ${Math.floor(bound)}), ${stats.refusedVerifications} refused`);
  assert.ok(stats.verifications <= bound, `${stats.verifications} checks in ${elapsed} s exceeds ${bound}`);
  assert.ok(stats.refusedVerifications > 0, 'the attack hit the server-wide budget');
  // Joined clients were never affected; once the flood stops, joins work.
  await sleep(1100);
  const after = await joined(t, url, 'honest');
  assert.deepEqual(after.joinedPeers, [before.pk]);
  assert.deepEqual(await before.nextType('join'), { type: 'join', pubkey: after.pk });
});
