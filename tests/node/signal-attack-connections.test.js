// signal-attack-connections.test.js -- holding /signal connections open
// without authenticating. Before the fix nothing capped them: one address
// could open as many as the process had file descriptors, each with its
// timers and buffers. Now at most unauthPerIp (16) per address (per /64 on
// IPv6) and unauthTotal (1,000) in all may be unauthenticated at once;
// beyond that the upgrade is answered HTTP 503 with Retry-After and no
// WebSocket is made. An authenticated connection leaves the count, and
// authTimeoutMs (kept) closes the ones that never authenticate. The suite
// asserts those counts, that honest clients on other addresses connect
// and work meanwhile, and that the server is up afterwards; and that the
// address counted is the socket's, or behind a trusted proxy the one it
// appended to X-Forwarded-For (IPv6 grouped by /64).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { DEFAULT_LIMITS } from '../../web/signal.js';
import { Peer, serve, signalUrl, openPeer, joined, until } from './signal-attack-helpers.js';

// Opens n sockets from `localAddress` at once. -> { open: [Peer], refused: [err] }
async function flood(t, url, localAddress, n) {
  const results = await Promise.allSettled(Array.from({ length: n }, () => Peer.open(url, { localAddress })));
  const open = [];
  const refused = [];
  for (const r of results) {
    if (r.status === 'fulfilled') {
      open.push(r.value);
      t.after(() => r.value.close());
    } else {
      refused.push(r.reason);
    }
  }
  return { open, refused };
}

test('one address: 16 unauthenticated connections, the rest get 503 at upgrade; others are served', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const cap = DEFAULT_LIMITS.unauthPerIp;
  const { open, refused } = await flood(t, url, '127.0.0.3', 60);
  assert.equal(open.length, cap, `${open.length} of 60 opened`);
  assert.equal(refused.length, 60 - cap);
  for (const err of refused) {
    assert.equal(err.status, 503, err.message);
    assert.ok(Number(err.retryAfter) >= 1, 'Retry-After is set');
  }
  const stats = app.signal.stats();
  assert.equal(stats.unauthenticated, cap);
  assert.equal(stats.refusedUpgrades, 60 - cap);

  // Another address is not affected: it joins and signals.
  const a = await joined(t, url, 'r', { localAddress: '127.0.0.4' });
  const b = await joined(t, url, 'r', { localAddress: '127.0.0.5' });
  a.send({ type: 'signal', to: b.pk, data: { sdp: 'fine' } });
  assert.equal((await b.nextType('signal')).data.sdp, 'fine');

  // A freed slot is a slot again.
  for (const p of open.slice(0, 4)) p.close();
  await until(() => app.signal.stats().unauthenticated === cap - 4, 'four slots are freed');
  const again = await flood(t, url, '127.0.0.3', 10);
  assert.equal(again.open.length, 4);
  assert.equal(app.signal.stats().unauthenticated, cap);

  // Authenticated connections leave the count: from a full address, the
  // open sockets authenticate and the address may open more.
  for (const p of [...open.slice(4), ...again.open]) p.close();
  await until(() => app.signal.stats().unauthenticated === 0, 'all attackers gone');
  const members = [];
  for (let i = 0; i < cap; i++) members.push(await joined(t, url, 'big', { localAddress: '127.0.0.6' }));
  const more = await flood(t, url, '127.0.0.6', cap + 4);
  assert.equal(more.open.length, cap);
  assert.equal(members.at(-1).joinedPeers.length, cap - 1);
});

test('all addresses: unauthTotal caps the server; the auth timeout frees the slots', async (t) => {
  const app = await serve(t, { signal: { limits: { unauthTotal: 40 }, authTimeoutMs: 1500 } });
  const url = signalUrl(app);
  const honest = await joined(t, url, 'r');
  let opened = 0;
  for (let ip = 10; ip < 14; ip++) opened += (await flood(t, url, `127.0.3.${ip}`, 16)).open.length;
  assert.equal(opened, 40);
  const stats = app.signal.stats();
  assert.equal(stats.unauthenticated, 40);
  assert.equal(stats.refusedUpgrades, 64 - 40);
  // Full: even a fresh address is refused...
  await assert.rejects(Peer.open(url, { localAddress: '127.0.3.99' }), (err) => err.status === 503);
  // ...while the joined client keeps working.
  honest.send({ type: 'broadcast', data: 'x' });
  await honest.barrier();
  assert.equal(honest.closeInfo, undefined);
  // authTimeoutMs closes the squatters (1008), and the server takes new
  // clients again.
  await until(() => app.signal.stats().unauthenticated === 0, 'the auth timeout closes the squatters');
  const late = await joined(t, url, 'r', { localAddress: '127.0.3.99' });
  assert.deepEqual(late.joinedPeers, [honest.pk]);
});

test('a handshake that ws refuses frees its slot', async (t) => {
  const app = await serve(t, { signal: { limits: { unauthPerIp: 2 } } });
  const net = await import('node:net');
  // Upgrade requests without a Sec-WebSocket-Key: ws answers 400.
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => {
      const s = net.connect({ port: app.port, host: '127.0.0.1', localAddress: '127.0.0.7' }, () => {
        s.end('GET /signal HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      });
      s.on('data', () => {});
      s.on('error', resolve);
      s.on('close', resolve);
    });
  }
  await until(() => app.signal.stats().unauthenticated === 0, 'no slot is held');
  const p = await openPeer(t, signalUrl(app), { localAddress: '127.0.0.7' });
  assert.equal(p.ws.readyState, 1);
});

test('behind a trusted proxy: the forwarded address counts, IPv6 by its /64', async (t) => {
  const app = await serve(t, { trustProxy: true, signal: { limits: { unauthPerIp: 2 } } });
  const url = signalUrl(app);
  // What the proxy appended last is the client; what the client claimed
  // before it is ignored.
  const from = (xff) => ({ headers: { 'x-forwarded-for': xff } });
  await openPeer(t, url, from('10.9.9.9, 203.0.113.5'));
  await openPeer(t, url, from('10.9.9.8, 203.0.113.5'));
  await assert.rejects(Peer.open(url, from('203.0.113.5')), (err) => err.status === 503);
  await openPeer(t, url, from('203.0.113.6'));
  // One /64 is one client, whatever its low bits.
  await openPeer(t, url, from('2001:db8:1:2::1'));
  await openPeer(t, url, from('2001:0db8:0001:0002:ffff:0:0:9'));
  await assert.rejects(Peer.open(url, from('2001:db8:1:2:abcd::1')), (err) => err.status === 503);
  await openPeer(t, url, from('2001:db8:1:3::1'));
  assert.equal(app.signal.stats().unauthenticated, 6);
});

test('without trustProxy, X-Forwarded-For is ignored: a client cannot pick its own address', async (t) => {
  const app = await serve(t, { signal: { limits: { unauthPerIp: 2 } } });
  const url = signalUrl(app);
  const claim = (i) => ({ localAddress: '127.0.0.8', headers: { 'x-forwarded-for': `198.51.100.${i}` } });
  await openPeer(t, url, claim(1));
  await openPeer(t, url, claim(2));
  await assert.rejects(Peer.open(url, claim(3)), (err) => err.status === 503);
});
