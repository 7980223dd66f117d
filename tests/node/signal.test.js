// signal.test.js -- the signaling server (web/signal.js), its client
// (js-glue/signal-client.js) and the dev server (web/server.js), on a real
// server at an ephemeral port with real `ws` clients: presence, unicast
// isolation, NIP-42-style auth, every limit, a corpus of malformed frames,
// heartbeats, replacement, restart and rejoin, and the HTTP routes.
//
// No timing assertions: waits have generous timeouts and only fail a test
// when something never happens. Every test closes what it opened.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { WebSocket } from 'ws';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';

import { startServer } from '../../web/server.js';
import { SignalClient } from '../../js-glue/signal-client.js';

const WAIT_MS = 10_000;
const CODES = new Set(['bad-json', 'bad-frame', 'unknown-type', 'unauthorized', 'too-large',
  'rate-limited', 'room-full', 'no-such-peer']);
const nowSec = () => Math.floor(Date.now() / 1000);

// --- helpers -----------------------------------------------------------------

async function serve(t, options = {}) {
  const app = await startServer({ port: 0, turnEnv: {}, ...options });
  t.after(() => app.close());
  return app;
}

const signalUrl = (app) => `ws://127.0.0.1:${app.port}/signal`;

function makeKey() {
  const sk = generateSecretKey();
  return { sk, pk: getPublicKey(sk) };
}

// A kind-22242 answer to `nonce`, signed with sk; `over` replaces template fields.
function authEvent(sk, nonce, over = {}) {
  const ev = finalizeEvent({
    kind: 22242,
    created_at: nowSec(),
    tags: [['relay', 'ws://127.0.0.1/signal'], ['challenge', nonce]],
    content: '',
    ...over,
  }, sk);
  return JSON.parse(JSON.stringify(ev));
}

// A raw ws client with an inbox: next(pred) takes the first matching frame,
// waiting for it if needed; `all` keeps every frame ever received.
class Peer {
  static open(url, options) {
    const ws = new WebSocket(url, options);
    const peer = new Peer(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(peer));
      ws.once('error', reject);
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.inbox = [];
    this.all = [];
    this.waiters = [];
    this.raw = [];
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      this.raw.push({ data: data.toString(), isBinary });
      const frame = JSON.parse(data.toString());
      this.all.push(frame);
      this.inbox.push(frame);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.wake();
      });
    });
  }

  wake() {
    for (const w of [...this.waiters]) w();
  }

  send(frame) {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  next(pred = () => true, what = 'a frame') {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.inbox.findIndex(pred);
        if (i >= 0) {
          done();
          resolve(this.inbox.splice(i, 1)[0]);
        } else if (this.closeInfo) {
          done();
          reject(new Error(`socket closed (${this.closeInfo.code}) while waiting for ${what}; inbox: ${JSON.stringify(this.inbox).slice(0, 500)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; inbox: ${JSON.stringify(this.inbox).slice(0, 500)}`));
      }, WAIT_MS);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  nextType(type) {
    return this.next((f) => f.type === type, `a ${type} frame`);
  }

  async error(code) {
    const f = await this.nextType('error');
    if (code !== undefined) assert.equal(f.code, code, `error code (message: ${f.message})`);
    return f;
  }

  // A round trip: everything the server wrote to this socket before its
  // answer to this frame has been read once it returns.
  async barrier() {
    this.send({ type: 'barrier' });
    const f = await this.nextType('error');
    assert.equal(f.code, 'unknown-type');
  }

  close() {
    this.ws.terminate();
  }
}

async function openPeer(t, url, options) {
  const peer = await Peer.open(url, options);
  t.after(() => peer.close());
  return peer;
}

// Connects, joins `room` as `key` and authenticates. -> the Peer, with
// .pk and .joinedPeers (the `peers` frame's list).
async function joined(t, url, room, key = makeKey()) {
  const peer = await openPeer(t, url);
  peer.pk = key.pk;
  peer.sk = key.sk;
  await joinRoom(peer, room, key);
  return peer;
}

async function joinRoom(peer, room, key = { sk: peer.sk, pk: peer.pk }) {
  peer.send({ type: 'join', room, pubkey: key.pk });
  const { nonce } = await peer.nextType('challenge');
  assert.match(nonce, /^\S{16,}$/);
  peer.send({ type: 'auth', event: authEvent(key.sk, nonce) });
  const frame = await peer.nextType('peers');
  peer.joinedPeers = frame.peers;
  return frame;
}

// Frames that came from other peers (presence and relays).
const relayed = (peer) => peer.all.filter((f) => ['join', 'leave', 'signal', 'broadcast'].includes(f.type));

const waitFor = (emitter, name, pred = () => true) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`timed out waiting for '${name}'`)), WAIT_MS);
  const fn = (v) => {
    if (!pred(v)) return;
    clearTimeout(timer);
    emitter.off(name, fn);
    resolve(v);
  };
  emitter.on(name, fn);
});

async function until(cond, what) {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > WAIT_MS) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function client(t, url, room, key = makeKey(), options = {}) {
  const sc = new SignalClient({
    url, room, pubkey: key.pk,
    sign: async (template) => finalizeEvent(template, key.sk),
    WebSocket, initialDelayMs: 20, maxDelayMs: 200,
    ...options,
  });
  sc.key = key;
  t.after(() => sc.close());
  return sc;
}

// --- presence and unicast ------------------------------------------------------

test('50 clients in 5 rooms: presence, unicast isolation, leave notices', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const rooms = ['r0', 'r1', 'r2', 'r3', 'r4'];
  const members = new Map(rooms.map((r) => [r, []]));
  // Joined one by one per room, so each sees exactly the earlier ones.
  for (let i = 0; i < 10; i++) {
    for (const room of rooms) {
      const peer = await joined(t, url, room);
      peer.room = room;
      const before = members.get(room).map((p) => p.pk);
      assert.deepEqual([...peer.joinedPeers].sort(), [...before].sort(), 'peers list is the room so far');
      members.get(room).push(peer);
    }
  }
  const everyone = [...members.values()].flat();
  // Every earlier member got a join notice for each later one, and only those.
  for (const list of members.values()) {
    for (const [i, peer] of list.entries()) {
      for (const later of list.slice(i + 1)) {
        const f = await peer.next((x) => x.type === 'join' && x.pubkey === later.pk, 'a join notice');
        assert.deepEqual(f, { type: 'join', pubkey: later.pk });
      }
    }
  }
  // Each one signals every roommate, and also tries one peer of another room.
  for (const list of members.values()) {
    for (const from of list) {
      for (const to of list) {
        if (to !== from) from.send({ type: 'signal', to: to.pk, data: { sdp: { type: 'offer', sdp: `${from.pk}>${to.pk}` } } });
      }
    }
  }
  const stranger = members.get('r1')[0];
  members.get('r0')[0].send({ type: 'signal', to: stranger.pk, data: { candidate: { candidate: 'x' } } });
  const refused = await members.get('r0')[0].error('no-such-peer');
  assert.ok(refused.message.length < 200);
  // Two barrier rounds: senders' frames are all processed, then receivers
  // have read everything written to them.
  await Promise.all(everyone.map((p) => p.barrier()));
  await Promise.all(everyone.map((p) => p.barrier()));
  for (const list of members.values()) {
    for (const to of list) {
      const signals = to.all.filter((f) => f.type === 'signal');
      assert.equal(signals.length, list.length - 1, 'one signal from each roommate');
      const froms = new Set(signals.map((f) => f.from));
      for (const from of list) {
        if (from === to) continue;
        assert.ok(froms.has(from.pk));
        const f = signals.find((s) => s.from === from.pk);
        assert.deepEqual(f, { type: 'signal', from: from.pk, data: { sdp: { type: 'offer', sdp: `${from.pk}>${to.pk}` } } });
      }
    }
  }
  // Leaving: the roommates see it, nobody else does.
  for (const room of rooms) members.get(room)[9].close();
  for (const room of rooms) {
    const gone = members.get(room)[9].pk;
    for (const peer of members.get(room).slice(0, 9)) {
      const f = await peer.next((x) => x.type === 'leave', 'a leave notice');
      assert.deepEqual(f, { type: 'leave', pubkey: gone });
    }
  }
  const survivors = everyone.filter((p) => members.get(p.room)[9] !== p);
  await Promise.all(survivors.map((p) => p.barrier()));
  for (const p of survivors) {
    const leaves = p.all.filter((f) => f.type === 'leave');
    assert.equal(leaves.length, 1, 'exactly one leave notice, from the own room');
    assert.equal(leaves[0].pubkey, members.get(p.room)[9].pk);
  }
});

test('broadcast reaches the room but not the sender nor other rooms', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const a = await joined(t, url, 'b');
  const b = await joined(t, url, 'b');
  const c = await joined(t, url, 'b');
  const other = await joined(t, url, 'elsewhere');
  a.send({ type: 'broadcast', data: { hello: [1, 'two', null] } });
  for (const p of [b, c]) {
    assert.deepEqual(await p.nextType('broadcast'), { type: 'broadcast', from: a.pk, data: { hello: [1, 'two', null] } });
  }
  await Promise.all([a, b, c, other].map((p) => p.barrier()));
  assert.equal(a.all.filter((f) => f.type === 'broadcast').length, 0);
  assert.equal(other.all.filter((f) => f.type === 'broadcast').length, 0);
});

test('a spoofed `from` is ignored: the server sets it', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const a = await joined(t, url, 'spoof');
  const b = await joined(t, url, 'spoof');
  const c = await joined(t, url, 'spoof');
  a.send({ type: 'signal', to: b.pk, from: c.pk, data: { sdp: 'x' } });
  const f = await b.nextType('signal');
  assert.equal(f.from, a.pk);
  a.send({ type: 'broadcast', from: c.pk, data: 'hi' });
  for (const p of [b, c]) assert.equal((await p.nextType('broadcast')).from, a.pk);
  a.send({ type: 'signal', to: c.pk, from: 'f'.repeat(64), data: { candidate: {} } });
  assert.equal((await c.nextType('signal')).from, a.pk);
});

// --- authentication -----------------------------------------------------------------------

test('unauthenticated or wrongly signed joins are refused', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const observer = await joined(t, url, 'auth');
  const victim = makeKey();
  const fresh = async () => {
    const p = await openPeer(t, url);
    return p;
  };

  // Frames before any join.
  let p = await fresh();
  p.send({ type: 'signal', to: observer.pk, data: { sdp: 'x' } });
  await p.error('unauthorized');
  p.send({ type: 'broadcast', data: 'x' });
  await p.error('unauthorized');
  p.send({ type: 'leave', room: 'auth' });
  await p.error('unauthorized');
  p.send({ type: 'auth', event: authEvent(victim.sk, 'no-such-nonce') });
  await p.error('unauthorized');

  // Joined but not yet authenticated: still nothing but auth.
  p.send({ type: 'join', room: 'auth', pubkey: victim.pk });
  const { nonce } = await p.nextType('challenge');
  p.send({ type: 'signal', to: observer.pk, data: { sdp: 'x' } });
  await p.error('unauthorized');
  p.send({ type: 'broadcast', data: 'x' });
  await p.error('unauthorized');

  // Each bad answer consumes the challenge; a fresh join is needed each time.
  const attacker = makeKey();
  const bad = {
    'stale (created_at 11 minutes ago)': (n) => authEvent(victim.sk, n, { created_at: nowSec() - 11 * 60 }),
    'from the future (11 minutes ahead)': (n) => authEvent(victim.sk, n, { created_at: nowSec() + 11 * 60 }),
    'wrong nonce': () => authEvent(victim.sk, 'f'.repeat(64)),
    'no challenge tag': () => authEvent(victim.sk, 'x', { tags: [['relay', 'ws://x']] }),
    'wrong kind': (n) => authEvent(victim.sk, n, { kind: 1 }),
    'kind 22242 as a string': (n) => ({ ...authEvent(victim.sk, n), kind: '22242' }),
    'signed by another key': (n) => authEvent(attacker.sk, n),
    'another key\'s event claiming the victim\'s pubkey': (n) => ({ ...authEvent(attacker.sk, n), pubkey: victim.pk }),
    'valid id, signature of another event': (n) => ({ ...authEvent(victim.sk, n), sig: authEvent(victim.sk, n, { content: 'other' }).sig }),
    'content changed after signing': (n) => ({ ...authEvent(victim.sk, n), content: 'changed' }),
    'created_at changed after signing': (n) => ({ ...authEvent(victim.sk, n), created_at: nowSec() - 1 }),
    'uppercase hex': (n) => {
      const e = authEvent(victim.sk, n);
      return { ...e, sig: e.sig.toUpperCase() };
    },
    'created_at as a string': (n) => ({ ...authEvent(victim.sk, n), created_at: String(nowSec()) }),
    'tags not an array': (n) => ({ ...authEvent(victim.sk, n), tags: { challenge: n } }),
    'event missing': () => undefined,
    'event is a string': (n) => JSON.stringify(authEvent(victim.sk, n)),
    'event is an array': (n) => [authEvent(victim.sk, n)],
    'sig missing': (n) => {
      const { sig, ...rest } = authEvent(victim.sk, n);
      return rest;
    },
  };
  let first = true;
  for (const [label, make] of Object.entries(bad)) {
    let n = nonce;
    if (!first) {
      p.send({ type: 'join', room: 'auth', pubkey: victim.pk });
      n = (await p.nextType('challenge')).nonce;
    }
    first = false;
    p.send({ type: 'auth', event: make(n) });
    const err = await p.error();
    assert.equal(err.code, 'unauthorized', `${label}: ${err.message}`);
    // The challenge is spent: even a correct answer now is refused.
    p.send({ type: 'auth', event: authEvent(victim.sk, n) });
    await p.error('unauthorized');
    // Not in the room: signalling is still refused, and nobody can reach it.
    p.send({ type: 'signal', to: observer.pk, data: { sdp: label } });
    await p.error('unauthorized');
  }
  observer.send({ type: 'signal', to: victim.pk, data: { sdp: 'x' } });
  await observer.error('no-such-peer');

  // A valid answer for another connection's nonce does not work here.
  const other = await fresh();
  other.send({ type: 'join', room: 'auth', pubkey: victim.pk });
  const otherNonce = (await other.nextType('challenge')).nonce;
  p.send({ type: 'join', room: 'auth', pubkey: victim.pk });
  await p.nextType('challenge');
  p.send({ type: 'auth', event: authEvent(victim.sk, otherNonce) });
  await p.error('unauthorized');

  await observer.barrier();
  assert.deepEqual(relayed(observer), [], 'the observer saw no join and no frame');

  // And the honest path still works on the same connection.
  p.pk = victim.pk;
  p.sk = victim.sk;
  const frame = await joinRoom(p, 'auth', victim);
  assert.deepEqual(frame, { type: 'peers', peers: [observer.pk] });
  assert.deepEqual(await observer.nextType('join'), { type: 'join', pubkey: victim.pk });
  // A connection keeps one identity: another pubkey is refused.
  p.send({ type: 'join', room: 'auth2', pubkey: attacker.pk });
  await p.error('unauthorized');
});

test('a second connection with the same pubkey replaces the first', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const key = makeKey();
  const observer = await joined(t, url, 'dup');
  const first = await joined(t, url, 'dup', key);
  await observer.nextType('join');
  const second = await joined(t, url, 'dup', key);
  assert.deepEqual(second.joinedPeers, [observer.pk]);
  const { code } = await first.closed;
  assert.equal(code, 4001);
  assert.deepEqual(await observer.nextType('leave'), { type: 'leave', pubkey: key.pk });
  assert.deepEqual(await observer.nextType('join'), { type: 'join', pubkey: key.pk });
  observer.send({ type: 'signal', to: key.pk, data: { sdp: 'to the new one' } });
  assert.deepEqual(await second.nextType('signal'), { type: 'signal', from: observer.pk, data: { sdp: 'to the new one' } });
  // The replaced socket's close does not make the pubkey leave.
  await observer.barrier();
  assert.equal(observer.all.filter((f) => f.type === 'leave').length, 1);
});

// --- limits ---------------------------------------------------------------------------------

test('frame size: over 64 KiB is too-large, the connection goes on; beyond the hard cap ws closes 1009', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const a = await joined(t, url, 'size');
  const b = await joined(t, url, 'size');
  // Exactly 64 KiB is allowed...
  const frame = (n) => {
    const base = JSON.stringify({ type: 'broadcast', data: '' });
    return JSON.stringify({ type: 'broadcast', data: 'x'.repeat(n - base.length) });
  };
  a.send(frame(64 * 1024));
  const got = await b.nextType('broadcast');
  assert.equal(got.data.length, 64 * 1024 - JSON.stringify({ type: 'broadcast', data: '' }).length);
  // ...one byte more is not.
  a.send(frame(64 * 1024 + 1));
  const err = await a.error('too-large');
  assert.ok(err.message.length < 200);
  a.send(frame(500 * 1024));
  await a.error('too-large');
  a.send(Buffer.alloc(70 * 1024, 0x20));
  await a.error('bad-frame'); // binary is refused before its size matters
  // Still connected and relaying.
  a.send({ type: 'signal', to: b.pk, data: { sdp: 'after' } });
  assert.deepEqual(await b.nextType('signal'), { type: 'signal', from: a.pk, data: { sdp: 'after' } });
  await b.barrier();
  assert.equal(b.all.filter((f) => f.type === 'broadcast').length, 1, 'the oversized frames reached nobody');

  // Beyond the hard cap (1 MiB) ws itself ends the connection.
  const c = await openPeer(t, url);
  c.send('x'.repeat(1024 * 1024 + 1));
  assert.equal((await c.closed).code, 1009);
  // The server is fine.
  a.send({ type: 'signal', to: b.pk, data: { sdp: 'still' } });
  assert.equal((await b.nextType('signal')).data.sdp, 'still');
});

test('binary frames are refused with bad-frame and reach nobody', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const a = await joined(t, url, 'bin');
  const b = await joined(t, url, 'bin');
  a.send(Buffer.from(JSON.stringify({ type: 'signal', to: b.pk, data: { sdp: 'bin' } })));
  await a.error('bad-frame');
  const u = await openPeer(t, url);
  u.send(Buffer.from([0, 1, 2, 255]));
  await u.error('bad-frame');
  await b.barrier();
  assert.equal(b.all.filter((f) => f.type === 'signal').length, 0);
});

test('flooding: rate-limited, then closed with 1008; a short burst is only slowed', async (t) => {
  // A burst: 200 are handled, the rest dropped with one report. (Its own
  // server, with a high close threshold, so a slow machine cannot turn the
  // burst into a flood.)
  {
    const app = await serve(t, { signal: { limits: { floodStrikes: 100_000 } } });
    const url = signalUrl(app);
    const b = await joined(t, url, 'burst');
    const burst = await joined(t, url, 'burst');
    for (let i = 0; i < 400; i++) burst.send({ type: 'broadcast', data: i });
    await burst.error('rate-limited');
    await until(() => b.all.filter((f) => f.type === 'broadcast').length >= 190, 'the burst was relayed');
    // The bucket refills: after a pause it is served again.
    await new Promise((r) => setTimeout(r, 1500));
    burst.send({ type: 'signal', to: b.pk, data: { sdp: 'after the burst' } });
    assert.equal((await b.next((f) => f.type === 'signal')).data.sdp, 'after the burst');
    assert.equal(burst.closeInfo, undefined, 'a burst does not close the connection');
    assert.ok(b.all.filter((f) => f.type === 'broadcast').length < 400, 'some of the burst was dropped');
  }

  const app = await serve(t);
  const url = signalUrl(app);
  const a = await joined(t, url, 'flood');
  const b = await joined(t, url, 'flood');

  // A sustained flood is closed.
  const flooder = await joined(t, url, 'flood');
  for (let i = 0; i < 2000 && flooder.ws.readyState === WebSocket.OPEN; i++) flooder.send({ type: 'nope', i });
  const { code } = await flooder.closed;
  assert.equal(code, 1008);
  assert.ok(flooder.all.some((f) => f.type === 'error' && f.code === 'rate-limited'));
  assert.ok(flooder.all.filter((f) => f.code === 'rate-limited').length <= 3, 'rate-limited is reported, not echoed per frame');
  // Its departure is announced and the others still talk.
  await a.next((f) => f.type === 'leave' && f.pubkey === flooder.pk, 'the flooder leaving');
  a.send({ type: 'signal', to: b.pk, data: { sdp: 'fine' } });
  assert.equal((await b.next((f) => f.type === 'signal' && f.from === a.pk)).data.sdp, 'fine');

  // An unauthenticated flood is closed too.
  const anon = await openPeer(t, url);
  for (let i = 0; i < 2000 && anon.ws.readyState === WebSocket.OPEN; i++) anon.send('not json');
  assert.equal((await anon.closed).code, 1008);
});

test('broadcast bytes have their own budget: big broadcasts are rate-limited', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const a = await joined(t, url, 'bb');
  const b = await joined(t, url, 'bb');
  const big = 'x'.repeat(60 * 1024);
  for (let i = 0; i < 20; i++) a.send({ type: 'broadcast', data: big });
  const err = await a.error('rate-limited');
  assert.ok(err.message.length < 200);
  await b.barrier();
  const got = b.all.filter((f) => f.type === 'broadcast').length;
  assert.ok(got >= 10 && got < 20, `${got} of 20 big broadcasts relayed`);
  // Small frames are still served, and the connection stays open.
  a.send({ type: 'signal', to: b.pk, data: { sdp: 'small' } });
  assert.equal((await b.nextType('signal')).data.sdp, 'small');
});

test('room-full, rooms per connection, no-such-peer', async (t) => {
  const app = await serve(t, { signal: { limits: { peersPerRoom: 2, roomsPerConnection: 2 } } });
  const url = signalUrl(app);
  const a = await joined(t, url, 'small');
  const b = await joined(t, url, 'small');
  const c = await openPeer(t, url);
  const ck = makeKey();
  c.send({ type: 'join', room: 'small', pubkey: ck.pk });
  await c.error('room-full');
  // A pubkey already in the room may come back (replacement) though.
  const b2 = await joined(t, url, 'small', { sk: b.sk, pk: b.pk });
  assert.deepEqual(b2.joinedPeers, [a.pk]);

  // Rooms per connection: a is in 'small'; one more is fine, a third is not.
  const second = await joinRoom(a, 'second');
  assert.deepEqual(second, { type: 'peers', peers: [], room: 'second' }, 'in several rooms, frames name the room');
  a.send({ type: 'join', room: 'third', pubkey: a.pk });
  await a.error('room-full');
  // Several rooms: broadcast and signal name theirs.
  c.pk = ck.pk;
  c.sk = ck.sk;
  await joinRoom(c, 'second', ck);
  assert.deepEqual(await a.next((f) => f.type === 'join' && f.pubkey === ck.pk), { type: 'join', pubkey: ck.pk, room: 'second' });
  c.send({ type: 'signal', to: a.pk, data: { sdp: 'hi' } });
  assert.deepEqual(await a.nextType('signal'), { type: 'signal', from: ck.pk, data: { sdp: 'hi' }, room: 'second' });
  a.send({ type: 'broadcast', data: 'ambiguous', room: 'nowhere' });
  await a.error('bad-frame');
  a.send({ type: 'broadcast', data: 'to second', room: 'second' });
  assert.equal((await c.nextType('broadcast')).data, 'to second');
  // Leaving one room without closing.
  a.send({ type: 'leave', room: 'second' });
  assert.deepEqual(await c.nextType('leave'), { type: 'leave', pubkey: a.pk });
  a.send({ type: 'signal', to: c.pk, data: { sdp: 'gone' } });
  await a.error('no-such-peer');

  // no-such-peer: unknown pubkey, or a pubkey only in another room.
  b2.send({ type: 'signal', to: makeKey().pk, data: { sdp: 'x' } });
  const e = await b2.error('no-such-peer');
  assert.ok(e.message.length < 200);
  b2.send({ type: 'signal', to: ck.pk, data: { sdp: 'x' } });
  await b2.error('no-such-peer');
  await c.barrier();
  assert.equal(c.all.filter((f) => f.type === 'signal').length, 0);
});

test('a connection that never authenticates is closed', async (t) => {
  const app = await serve(t, { signal: { authTimeoutMs: 100 } });
  const p = await openPeer(t, signalUrl(app));
  p.send({ type: 'join', room: 'slow', pubkey: makeKey().pk });
  await p.nextType('challenge');
  assert.equal((await p.closed).code, 1008);
});

test('heartbeat: a client that stops answering pings is dropped', async (t) => {
  // Not much shorter: a busy machine can stall this process for tens of
  // milliseconds, and the live client must answer within one interval.
  const app = await serve(t, { signal: { heartbeatMs: 250 } });
  const url = signalUrl(app);
  const live = await joined(t, url, 'hb');
  const deadKey = makeKey();
  const dead = await openPeer(t, url, { autoPong: false });
  dead.pk = deadKey.pk;
  dead.sk = deadKey.sk;
  await joinRoom(dead, 'hb', deadKey);
  await live.nextType('join');
  assert.deepEqual(await live.nextType('leave'), { type: 'leave', pubkey: deadKey.pk });
  const { code } = await dead.closed;
  assert.equal(code, 1006, 'terminated, not closed politely');
  // The answering client stays through several heartbeats.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(live.closeInfo, undefined);
  await live.barrier();
});

// --- the malformed corpus ------------------------------------------------------------------------

// [label, frame text, expected code for an authenticated sender, for an
// unauthenticated one]. `B` in a frame is replaced by the observer's pubkey,
// `A` by the sender's.
function corpus() {
  // Both just under 64 KiB, so they are parsed, not dropped for size.
  const deepArray = '['.repeat(32_000) + ']'.repeat(32_000);
  const deepObject = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
  const nested = (n) => JSON.parse('{"x":'.repeat(n) + '1' + '}'.repeat(n));
  const huge = 'x'.repeat(60_000);
  const J = JSON.stringify;
  const both = (code) => [code, code];
  const rows = [
    // Not JSON at all.
    ['empty', '', ...both('bad-json')],
    ['space', ' ', ...both('bad-json')],
    ['word', 'hello', ...both('bad-json')],
    ['open brace', '{', ...both('bad-json')],
    ['close brace', '}', ...both('bad-json')],
    ['truncated', '{"type":"join"', ...both('bad-json')],
    ['trailing garbage', '{"type":"join"}x', ...both('bad-json')],
    ['trailing comma', '{"type":"signal",}', ...both('bad-json')],
    ['unquoted keys', '{type:"join"}', ...both('bad-json')],
    ['single quotes', "{'type':'join'}", ...both('bad-json')],
    ['undefined', 'undefined', ...both('bad-json')],
    ['NaN', 'NaN', ...both('bad-json')],
    ['Infinity', 'Infinity', ...both('bad-json')],
    ['hex number', '0x10', ...both('bad-json')],
    ['NUL', '\u0000', ...both('bad-json')],
    ['unterminated deep array', '['.repeat(60_000), ...both('bad-json')],
    ['two objects', '{"type":"join"}{"type":"join"}', ...both('bad-json')],
    ['huge non-JSON', huge, ...both('bad-json')],
    // JSON, but not an object with a string type.
    ['array', '[]', ...both('bad-frame')],
    ['array of a type', '["join"]', ...both('bad-frame')],
    ['NIP-01 frame', '["EVENT",{}]', ...both('bad-frame')],
    ['number', '1', ...both('bad-frame')],
    ['negative zero', '-0', ...both('bad-frame')],
    ['overflowing number', '1e999', ...both('bad-frame')],
    ['null', 'null', ...both('bad-frame')],
    ['true', 'true', ...both('bad-frame')],
    ['string', '"join"', ...both('bad-frame')],
    ['lone surrogate string', '"\\ud800"', ...both('bad-frame')],
    ['empty object', '{}', ...both('bad-frame')],
    ['type number', '{"type":1}', ...both('bad-frame')],
    ['type null', '{"type":null}', ...both('bad-frame')],
    ['type array', '{"type":["join"]}', ...both('bad-frame')],
    ['type object', '{"type":{"toString":"join"}}', ...both('bad-frame')],
    ['Type capitalized', '{"Type":"join"}', ...both('bad-frame')],
    ['__proto__ type', '{"__proto__":{"type":"join"}}', ...both('bad-frame')],
    ['deep array', deepArray, ...both('bad-frame')],
    ['deep object', deepObject, ...both('bad-frame')],
    // Unknown types.
    ['JOIN', J({ type: 'JOIN' }), ...both('unknown-type')],
    ['empty type', J({ type: '' }), ...both('unknown-type')],
    ['type with space', J({ type: 'join ' }), ...both('unknown-type')],
    ['type __proto__', J({ type: '__proto__' }), ...both('unknown-type')],
    ['type constructor', J({ type: 'constructor' }), ...both('unknown-type')],
    ['type toString', J({ type: 'toString' }), ...both('unknown-type')],
    ['type hasOwnProperty', J({ type: 'hasOwnProperty' }), ...both('unknown-type')],
    ['server frame challenge', J({ type: 'challenge', nonce: 'x' }), ...both('unknown-type')],
    ['server frame peers', J({ type: 'peers', peers: ['B'] }), ...both('unknown-type')],
    ['server frame error', J({ type: 'error', code: 'x', message: 'y' }), ...both('unknown-type')],
    ['huge type', J({ type: huge }), ...both('unknown-type')],
    ['NIP-01 REQ as type', J({ type: 'REQ' }), ...both('unknown-type')],
    // Known types with wrong fields.
    ['join no fields', J({ type: 'join' }), ...both('bad-frame')],
    ['join room number', J({ type: 'join', room: 1, pubkey: 'A' }), ...both('bad-frame')],
    ['join room empty', J({ type: 'join', room: '', pubkey: 'A' }), ...both('bad-frame')],
    ['join room too long', J({ type: 'join', room: 'r'.repeat(129), pubkey: 'A' }), ...both('bad-frame')],
    ['join room huge', J({ type: 'join', room: huge, pubkey: 'A' }), ...both('bad-frame')],
    ['join room array', J({ type: 'join', room: ['c'], pubkey: 'A' }), ...both('bad-frame')],
    ['join pubkey uppercase', J({ type: 'join', room: 'c', pubkey: 'A'.repeat(64) }), ...both('bad-frame')],
    ['join pubkey short', J({ type: 'join', room: 'c', pubkey: 'a'.repeat(63) }), ...both('bad-frame')],
    ['join pubkey long', J({ type: 'join', room: 'c', pubkey: 'a'.repeat(65) }), ...both('bad-frame')],
    ['join pubkey number', J({ type: 'join', room: 'c', pubkey: 1 }), ...both('bad-frame')],
    ['join pubkey npub', J({ type: 'join', room: 'c', pubkey: 'npub1' + 'q'.repeat(58) }), ...both('bad-frame')],
    ['signal no fields', J({ type: 'signal' }), 'bad-frame', 'unauthorized'],
    ['signal to number', J({ type: 'signal', to: 5, data: { sdp: 'x' } }), 'bad-frame', 'unauthorized'],
    ['signal to huge', J({ type: 'signal', to: huge, data: { sdp: 'x' } }), 'bad-frame', 'unauthorized'],
    ['signal to uppercase', J({ type: 'signal', to: 'F'.repeat(64), data: { sdp: 'x' } }), 'bad-frame', 'unauthorized'],
    ['signal data missing', J({ type: 'signal', to: 'B' }), 'bad-frame', 'unauthorized'],
    ['signal data string', J({ type: 'signal', to: 'B', data: 'sdp' }), 'bad-frame', 'unauthorized'],
    ['signal data array', J({ type: 'signal', to: 'B', data: [{ sdp: 'x' }] }), 'bad-frame', 'unauthorized'],
    ['signal data null', J({ type: 'signal', to: 'B', data: null }), 'bad-frame', 'unauthorized'],
    ['signal data number', J({ type: 'signal', to: 'B', data: 42 }), 'bad-frame', 'unauthorized'],
    ['signal data too deep', J({ type: 'signal', to: 'B', data: nested(100) }), 'bad-frame', 'unauthorized'],
    ['signal data very deep', `{"type":"signal","to":"B","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`, 'bad-frame', 'unauthorized'],
    ['signal to self', J({ type: 'signal', to: 'A', data: { sdp: 'x' } }), 'bad-frame', 'unauthorized'],
    ['signal room number', J({ type: 'signal', to: 'B', data: { sdp: 'x' }, room: 7 }), 'bad-frame', 'unauthorized'],
    ['signal room not joined', J({ type: 'signal', to: 'B', data: { sdp: 'x' }, room: 'other' }), 'bad-frame', 'unauthorized'],
    ['signal to stranger', J({ type: 'signal', to: 'c'.repeat(64), data: { sdp: 'x' } }), 'no-such-peer', 'unauthorized'],
    ['broadcast no data', J({ type: 'broadcast' }), 'bad-frame', 'unauthorized'],
    ['broadcast data too deep', J({ type: 'broadcast', data: nested(100) }), 'bad-frame', 'unauthorized'],
    ['broadcast deep array data', `{"type":"broadcast","data":${'['.repeat(30_000)}${']'.repeat(30_000)}}`, 'bad-frame', 'unauthorized'],
    ['broadcast room not joined', J({ type: 'broadcast', data: 1, room: 'other' }), 'bad-frame', 'unauthorized'],
    ['leave room number', J({ type: 'leave', room: 3 }), 'bad-frame', 'unauthorized'],
    ['leave room not joined', J({ type: 'leave', room: 'other' }), 'bad-frame', 'unauthorized'],
    ['auth without a pending join', J({ type: 'auth', event: {} }), ...both('unauthorized')],
    ['auth event huge', J({ type: 'auth', event: { content: huge } }), ...both('unauthorized')],
    ['too large', J({ type: 'signal', to: 'B', data: { sdp: 'x'.repeat(70_000) } }), ...both('too-large')],
  ];
  return rows;
}

test('a corpus of malformed frames: each refused with one error, none reaches a peer, the server goes on', async (t) => {
  // Rates raised so the corpus is not throttled; everything else as shipped.
  const app = await serve(t, { signal: { limits: { ratePerSecond: 100_000, rateBurst: 100_000 } } });
  const url = signalUrl(app);
  const room = 'corpus';
  const a = await joined(t, url, room);
  const b = await joined(t, url, room);
  await a.nextType('join');
  const anon = await openPeer(t, url);
  const rows = corpus();
  assert.ok(rows.length >= 50, `corpus has ${rows.length} frames`);
  for (const [label, text, authed, unauthed] of rows) {
    const frame = text.replaceAll('"B"', JSON.stringify(b.pk)).replaceAll('"A"', JSON.stringify(a.pk));
    for (const [sender, expected] of [[a, authed], [anon, unauthed]]) {
      sender.send(frame);
      const err = await sender.nextType('error');
      assert.equal(err.code, expected, `${label}: got ${err.code} (${err.message})`);
      assert.ok(CODES.has(err.code));
      assert.deepEqual(Object.keys(err).sort(), ['code', 'message', 'type']);
      assert.equal(typeof err.message, 'string');
      assert.ok(err.message.length < 300, `${label}: the error message is short`);
      assert.ok(!err.message.includes('xxxxxxxxxx'), `${label}: untrusted input is not echoed`);
      assert.equal(sender.inbox.length, 0, `${label}: exactly one reply`);
    }
  }
  // Nothing reached the observer; the prototype is untouched.
  await b.barrier();
  assert.deepEqual(relayed(b), []);
  assert.equal(({}).type, undefined);
  // The server still relays between well-behaved clients.
  a.send({ type: 'signal', to: b.pk, data: { sdp: { type: 'offer', sdp: 'v=0' } } });
  assert.deepEqual(await b.nextType('signal'), { type: 'signal', from: a.pk, data: { sdp: { type: 'offer', sdp: 'v=0' } } });
  const c = await joined(t, url, room);
  assert.deepEqual(c.joinedPeers.sort(), [a.pk, b.pk].sort());
  assert.equal(anon.closeInfo, undefined, 'bad frames alone do not close a connection');
});

test('raw garbage on the socket: invalid UTF-8 and handshake junk do not hurt the server', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const a = await joined(t, url, 'junk');
  const b = await joined(t, url, 'junk');
  // Invalid UTF-8 in a text frame: ws closes it (1007) by itself.
  const bad = await openPeer(t, url);
  // A masked (all-zero key) text frame holding the bytes C3 28.
  bad.ws._socket.write(Buffer.from([0x81, 0x82, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x28]));
  assert.ok([1006, 1007].includes((await bad.closed).code));
  // A non-WebSocket request on /signal, and an upgrade on another path.
  const net = await import('node:net');
  for (const text of ['GET /signal HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    'GET /elsewhere HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    '\u0000\u0001garbage\r\n\r\n']) {
    await new Promise((resolve) => {
      const s = net.connect(app.port, '127.0.0.1', () => s.end(text));
      s.on('data', () => {});
      s.on('error', resolve);
      s.on('close', resolve);
    });
  }
  a.send({ type: 'signal', to: b.pk, data: { sdp: 'ok' } });
  assert.equal((await b.nextType('signal')).data.sdp, 'ok');
});

// --- the client ----------------------------------------------------------------------------------

test('SignalClient: connect, presence events, signal and broadcast, errors', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const a = client(t, url, 'sc');
  const states = [];
  a.on('state', (s) => states.push(s));
  await a.signal(makeKey().pk, { sdp: 'x' }).then(() => assert.fail('sent while closed'), (err) => assert.equal(err.code, 'not-connected'));
  await a.connect();
  assert.equal(a.state, 'open');
  assert.deepEqual(states, ['connecting', 'authenticating', 'open']);
  assert.equal(a.peers.size, 0);

  const b = client(t, url, 'sc');
  const joinedA = waitFor(a, 'join');
  const peersB = waitFor(b, 'peers');
  await b.connect();
  assert.deepEqual(await peersB, [a.key.pk]);
  assert.equal(await joinedA, b.key.pk);
  assert.ok(a.peers.has(b.key.pk) && b.peers.has(a.key.pk));

  const got = waitFor(b, 'signal');
  await a.signal(b.key.pk, { sdp: { type: 'offer', sdp: 'v=0' } });
  assert.deepEqual(await got, { from: a.key.pk, data: { sdp: { type: 'offer', sdp: 'v=0' } } });
  const bc = waitFor(a, 'broadcast');
  await b.broadcast({ hello: 1 });
  assert.deepEqual(await bc, { from: b.key.pk, data: { hello: 1 } });

  await assert.rejects(a.signal(makeKey().pk, { sdp: 'x' }), (err) => err.code === 'no-such-peer');
  await assert.rejects(a.signal('nope', { sdp: 'x' }), TypeError);

  const left = waitFor(a, 'leave');
  b.close();
  assert.equal(await left, b.key.pk);
  assert.equal(a.peers.size, 0);
  assert.equal(b.state, 'closed');
});

test('SignalClient: refused auth and an unreachable server reject connect()', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const key = makeKey();
  const liar = client(t, url, 'sc', key, { sign: async (tpl) => finalizeEvent(tpl, generateSecretKey()) });
  const errors = [];
  liar.on('error', (e) => errors.push(e.code));
  await assert.rejects(liar.connect(), (err) => err.code === 'unauthorized');
  assert.equal(liar.state, 'closed');
  assert.deepEqual(errors, ['unauthorized']);

  const broken = client(t, url, 'sc', key, { sign: async () => { throw new Error('no key'); } });
  await assert.rejects(broken.connect(), (err) => err.code === 'sign');

  const closed = await startServer({ port: 0, turnEnv: {} });
  const deadUrl = signalUrl(closed);
  await closed.close();
  const nobody = client(t, deadUrl, 'sc');
  await assert.rejects(nobody.connect(), (err) => err.code === 'connection');
  if (typeof globalThis.WebSocket !== 'function') {
    assert.throws(() => new SignalClient({ url, room: 'x', pubkey: key.pk, sign: async () => {} }), /WebSocket/);
  }
});

test('SignalClient: replaced by another connection of the same pubkey stops', async (t) => {
  const app = await serve(t);
  const url = signalUrl(app);
  const key = makeKey();
  const first = client(t, url, 'tab', key);
  await first.connect();
  const replaced = waitFor(first, 'error', (e) => e.code === 'replaced');
  const second = client(t, url, 'tab', key);
  await second.connect();
  await replaced;
  assert.equal(first.state, 'closed');
  assert.equal(second.state, 'open');
});

test('server restart: clients reconnect with back-off, rejoin and see each other again', async (t) => {
  let app = await startServer({ port: 0, turnEnv: {} });
  const port = app.port;
  t.after(() => app.close());
  const url = signalUrl(app);
  const a = client(t, url, 'restart');
  const b = client(t, url, 'restart');
  await a.connect();
  await b.connect();
  await until(() => a.peers.has(b.key.pk), 'a hears b join');
  const states = [];
  a.on('state', (s) => states.push(s));
  let rejoinedA = 0;
  let rejoinedB = 0;
  a.on('peers', () => rejoinedA++);
  b.on('peers', () => rejoinedB++);
  const leaves = [];
  a.on('leave', (p) => leaves.push(p));
  b.on('leave', (p) => leaves.push(p));

  await app.close();
  await until(() => a.state === 'reconnecting' && b.state === 'reconnecting', 'both clients notice');
  // Let a few attempts fail against the closed port, then come back.
  await new Promise((r) => setTimeout(r, 300));
  app = await startServer({ port, turnEnv: {} });
  await until(() => rejoinedA > 0 && rejoinedB > 0, 'both clients rejoin');
  await until(() => a.peers.has(b.key.pk) && b.peers.has(a.key.pk), 'they see each other again');
  assert.equal(a.state, 'open');
  assert.ok(states.includes('reconnecting') && states.at(-1) === 'open', states.join(' '));
  assert.deepEqual(leaves, [], 'a server restart is not reported as peers leaving');
  const got = waitFor(b, 'signal');
  await a.signal(b.key.pk, { candidate: { candidate: 'after restart' } });
  assert.deepEqual(await got, { from: a.key.pk, data: { candidate: { candidate: 'after restart' } } });
});

// --- the dev server over HTTP ---------------------------------------------------------------------

function get(port, path, { method = 'GET' } = {}) {
  return new Promise((resolve, reject) => {
    // http.request sends the path as given (no client-side normalization).
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('dev server: routes, types, 404s, no traversal, no COOP/COEP by default', async (t) => {
  const app = await serve(t);
  assert.equal(app.url, `http://127.0.0.1:${app.port}/`);
  const home = await get(app.port, '/');
  assert.equal(home.status, 200);
  assert.match(home.headers['content-type'], /^text\/html/);
  assert.match(home.body.toString(), /<html/i);

  // /hiroba/ is the package as it ships, at its own paths.
  const wasm = await get(app.port, '/hiroba/build/hiroba/hiroba.wasm');
  assert.equal(wasm.status, 200, 'build/hiroba/hiroba.wasm exists (run make first)');
  assert.equal(wasm.headers['content-type'], 'application/wasm');
  assert.deepEqual([...wasm.body.subarray(0, 4)], [0x00, 0x61, 0x73, 0x6d]);
  const entry = await get(app.port, '/hiroba/js-glue/index.js');
  assert.equal(entry.status, 200);
  assert.match(entry.headers['content-type'], /^text\/javascript/);
  const loader = await get(app.port, '/hiroba/build/hiroba/hiroba.mjs');
  assert.match(loader.headers['content-type'], /^text\/javascript/);
  const head = await get(app.port, '/hiroba/build/hiroba/hiroba.wasm', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);

  // The modules of the dependencies js-glue/ imports are served beside the
  // package, and its modules' bare imports point there (no bundler here).
  const nip49 = await get(app.port, '/hiroba/js-glue/nip49.js');
  assert.match(nip49.body.toString(), /from '\.\.\/node_modules\/@noble\/hashes\/scrypt\.js'/);
  assert.doesNotMatch(nip49.body.toString(), /from '@noble\//);
  const scrypt = await get(app.port, '/hiroba/node_modules/@noble/hashes/scrypt.js');
  assert.equal(scrypt.status, 200);
  assert.match(scrypt.headers['content-type'], /^text\/javascript/);

  // The demo's QR code generator, by its explicit route; nothing else of
  // node_modules is reachable beside it.
  const qr = await get(app.port, '/vendor/qrcode-generator.mjs');
  assert.equal(qr.status, 200);
  assert.match(qr.headers['content-type'], /^text\/javascript/);
  assert.match(qr.body.toString(), /export default qrcode/);
  for (const path of ['/vendor/', '/vendor/qrcode.mjs', '/vendor/qrcode-generator.js', '/vendor/../package.json', '/node_modules/qrcode-generator/dist/qrcode.mjs']) {
    assert.equal((await get(app.port, path)).status, 404, path);
  }

  // What the package does not ship is not served there: the old flat
  // layout, the test module, sources, tests, the server's own files.
  for (const path of ['/nope', '/hiroba/nope.js', '/hiroba/', '/hiroba', '/index.htm', '/hiroba/index.js',
    '/hiroba/hiroba.wasm', '/hiroba/js-glue/', '/hiroba/build/hiroba-test/hiroba.wasm', '/hiroba/build/test/vfs_suite.mjs',
    '/hiroba/js-glue/storage-library.js', '/hiroba/src/hiroba.c', '/hiroba/tests/node/helpers.js', '/hiroba/web/server.js', '/hiroba/web/index.html',
    '/hiroba/package.json', '/hiroba/package-lock.json', '/hiroba/node_modules/ws/package.json', '/hiroba/node_modules/ws/index.js',
    '/hiroba/node_modules/@noble/hashes/package.json', '/hiroba/node_modules/nostr-tools/lib/esm/index.js', '/hiroba/.git/HEAD']) {
    const r = await get(app.port, path);
    assert.equal(r.status, 404, path);
    assert.match(r.headers['content-type'], /^text\/plain/, path);
  }
  const secret = /"name": "hiroba"|createSignalServer|createTurnHandler|root:/;
  for (const path of ['/../package.json', '/hiroba/../../package.json', '/hiroba/%2e%2e/%2e%2e/package.json',
    '/hiroba/..%2f..%2fpackage.json', '/..%2fpackage.json', '/%2e%2e%2fpackage.json', '/hiroba/..%5c..%5cpackage.json',
    '/..%2f..%2f..%2f..%2fetc%2fpasswd', '/hiroba/%2e%2e%2f%2e%2e%2fweb%2fserver.js', '//etc/passwd',
    '/server.js', '/signal.js', '/turn.js', '/verify.js', '/budget.js', '/./server.js', '/%73erver.js', '/%', '/%zz', '/%00', '/index.html%00.js']) {
    const r = await get(app.port, path);
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
    assert.doesNotMatch(r.body.toString(), secret, path);
  }
  for (const r of [home, wasm, entry]) {
    assert.equal(r.headers['cross-origin-opener-policy'], undefined);
    assert.equal(r.headers['cross-origin-embedder-policy'], undefined);
  }
  const post = await get(app.port, '/', { method: 'POST' });
  assert.equal(post.status, 405);
  const sig = await get(app.port, '/signal');
  assert.equal(sig.status, 426);

  // STUN only (no TURN configured): nothing secret, so no auth needed.
  const turn = await get(app.port, '/turn');
  assert.equal(turn.status, 200);
  assert.match(turn.headers['content-type'], /^application\/json/);
  assert.ok(Array.isArray(JSON.parse(turn.body).iceServers));
  assert.equal(JSON.parse(turn.body).ttl, 600);

  // A WebSocket upgrade elsewhere than /signal is refused.
  await assert.rejects(Peer.open(`ws://127.0.0.1:${app.port}/other`), /404/);
});

test('dev server: COOP/COEP only when asked', async (t) => {
  const app = await serve(t, { coopCoep: true });
  const home = await get(app.port, '/');
  assert.equal(home.headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(home.headers['cross-origin-embedder-policy'], 'require-corp');
  const wasm = await get(app.port, '/hiroba/build/hiroba/hiroba.wasm');
  assert.equal(wasm.headers['cross-origin-embedder-policy'], 'require-corp');
});
