// relay.test.js -- Hiroba's relay (relay/) as independent Nostr clients
// see it: nostr-tools' Relay and SimplePool over real WebSockets, and raw
// frames where a client library would hide the answer. NIP-01 (OK reasons,
// EOSE, live, CLOSE, CLOSED), NIP-09, NIP-11, NIP-42, NIP-45, NIP-77
// (nostr-tools' nip77), the limits and their prefixed reasons.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay';
import { SimplePool, useWebSocketImplementation as usePoolWebSocket } from 'nostr-tools/pool';
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { nip77 } from 'nostr-tools';

const { NegentropyStorageVector, NegentropySync } = nip77;

import { startRelay } from '../../relay/server.js';

useWebSocketImplementation(WebSocket);
usePoolWebSocket(WebSocket);

const dir = mkdtempSync(join(tmpdir(), 'hiroba-relay-'));
const started = [];
after(async () => {
  for (const r of started) await r.close();
  rmSync(dir, { recursive: true, force: true });
});

let dbs = 0;
async function relayWith(options = {}) {
  const r = await startRelay({ port: 0, db: join(dir, `relay-${++dbs}.db`), ...options });
  started.push(r);
  return r;
}

const now = () => Math.floor(Date.now() / 1000);
function note(sk, content, { kind = 1, tags = [], created_at = now() } = {}) {
  return finalizeEvent({ kind, created_at, tags, content }, sk);
}

// A raw client: every frame the relay sends, and a way to wait for one.
async function rawClient(url) {
  const ws = new WebSocket(url);
  const frames = [];
  let waiters = [];
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)));
    waiters = waiters.filter((w) => !w());
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  return {
    ws,
    frames,
    closed,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    // Resolves with the first frame (from `from` on) that pred accepts.
    until(pred, from = 0, ms = 10000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const f = frames.slice(from).find(pred);
          if (f) { clearTimeout(timer); resolve(f); return true; }
          return false;
        };
        const timer = setTimeout(() => reject(new Error(`no matching frame in ${ms} ms; got ${JSON.stringify(frames.slice(-5))}`)), ms);
        if (!check()) waiters.push(check);
      });
    },
    close: () => ws.close(),
  };
}

const okFor = (id) => (f) => f[0] === 'OK' && f[1] === id;

test('NIP-11: the relay document for Accept: application/nostr+json, with its limits; CORS', async () => {
  const r = await relayWith({ name: 'test relay' });
  const res = await fetch(r.httpUrl, { headers: { accept: 'application/nostr+json' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/nostr+json');
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  const info = await res.json();
  assert.equal(info.name, 'test relay');
  for (const nip of [1, 9, 11, 42, 45, 77]) assert.ok(info.supported_nips.includes(nip), `NIP-${nip}`);
  const l = info.limitation;
  assert.equal(l.max_message_length, r.relay.limits.maxMessageLength);
  assert.equal(l.max_subscriptions, r.relay.limits.maxSubscriptions);
  assert.equal(l.max_limit, 500);
  assert.equal(l.auth_required, false);
  assert.equal(l.restricted_writes, false);
  const page = await fetch(r.httpUrl);
  assert.match(await page.text(), /Nostr relay/);
});

test('NIP-01 with nostr-tools: publish (OK reasons), stored events then EOSE, live events, CLOSE', async () => {
  const r = await relayWith();
  const sk = generateSecretKey();
  const relay = await Relay.connect(r.url);
  const first = note(sk, 'stored before the subscription');
  assert.equal(await relay.publish(first), '');
  assert.match(await relay.publish(first), /^duplicate:/);
  const forged = { ...note(sk, 'forged'), sig: first.sig };
  await assert.rejects(relay.publish(forged), /^Error: invalid: /);
  const future = note(sk, 'from the future', { created_at: now() + 3600 });
  await assert.rejects(relay.publish(future), /invalid: .*future|invalid: created_at/);

  const got = [];
  let eoseAt = -1;
  const sub = relay.subscribe([{ kinds: [1], authors: [getPublicKey(sk)] }], {
    onevent: (e) => got.push(e),
    oneose: () => { eoseAt = got.length; },
  });
  const live = note(sk, 'live');
  await relay.publish(live);
  for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(got.map((e) => e.id), [first.id, live.id]);
  assert.equal(eoseAt, 1, 'the stored event before EOSE, the live one after');
  assert.ok(got.every((e) => verifyEvent(e)));
  sub.close();
  await new Promise((res) => setTimeout(res, 50));
  await relay.publish(note(sk, 'after CLOSE'));
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(got.length, 2, 'nothing arrives after CLOSE');
  relay.close();
});

test('REQ limits: a bad filter, too many filters, too many subscriptions get CLOSED with the prefix; limit clamps', async () => {
  const r = await relayWith({ limits: { maxSubscriptions: 3, maxFilters: 2 } });
  const c = await rawClient(r.url);
  c.send(['REQ', 'bad', { ids: 5 }]);
  const bad = await c.until((f) => f[0] === 'CLOSED' && f[1] === 'bad');
  assert.match(bad[2], /^invalid: /);
  c.send(['REQ', 'many', {}, {}, {}]);
  assert.match((await c.until((f) => f[0] === 'CLOSED' && f[1] === 'many'))[2], /^invalid: at most 2 filters/);
  for (const s of ['a', 'b', 'c']) c.send(['REQ', s, { kinds: [1] }]);
  await c.until((f) => f[0] === 'EOSE' && f[1] === 'c');
  c.send(['REQ', 'd', { kinds: [1] }]);
  assert.match((await c.until((f) => f[0] === 'CLOSED' && f[1] === 'd'))[2], /^blocked: at most 3 subscriptions/);
  // Replacing an existing subscription is not a new one.
  c.send(['REQ', 'a', { kinds: [7] }]);
  await c.until((f) => f[0] === 'EOSE' && f[1] === 'a', c.frames.length);
  c.send(['REQ', '', {}]);
  assert.match((await c.until((f) => f[0] === 'NOTICE'))[1], /^invalid: /);
  c.send('not json');
  c.send(['HELLO']);
  await c.until((f) => f[0] === 'NOTICE' && /unknown message type/.test(f[1]));
  c.close();
});

const BULK = { eventsPerSecond: 1e6, eventBurst: 1e6 };

test('limit: stored answers newest first, clamped to 500 per filter; until pages through the rest', async () => {
  const r = await relayWith({ limits: BULK });
  const sk = generateSecretKey();
  const c = await rawClient(r.url);
  const t0 = now() - 10000;
  const events = Array.from({ length: 620 }, (_, i) => note(sk, `n${i}`, { created_at: t0 + i }));
  // Published in bursts under the per-connection event rate.
  const relay = await Relay.connect(r.url);
  relay.publishTimeout = 30000;
  for (let i = 0; i < events.length; i += 100) {
    await Promise.all(events.slice(i, i + 100).map((e) => relay.publish(e)));
    await new Promise((res) => setTimeout(res, 10));
  }
  c.send(['REQ', 'all', { authors: [getPublicKey(sk)], limit: 10000 }]);
  await c.until((f) => f[0] === 'EOSE' && f[1] === 'all');
  const page1 = c.frames.filter((f) => f[0] === 'EVENT' && f[1] === 'all').map((f) => f[2]);
  assert.equal(page1.length, 500);
  assert.deepEqual(page1.map((e) => e.content), events.slice(-500).reverse().map((e) => e.content));
  c.send(['REQ', 'rest', { authors: [getPublicKey(sk)], until: page1.at(-1).created_at - 1 }]);
  await c.until((f) => f[0] === 'EOSE' && f[1] === 'rest');
  const page2 = c.frames.filter((f) => f[0] === 'EVENT' && f[1] === 'rest').map((f) => f[2]);
  assert.equal(page2.length, 120);
  relay.close();
  c.close();
}, { timeout: 120000 });

test('rate and size: EVENTs past the burst get OK false "rate-limited:", an oversized frame "invalid:", and the connection stays', async () => {
  const r = await relayWith({ limits: { eventBurst: 5, eventsPerSecond: 0.001, maxMessageLength: 4096 } });
  const sk = generateSecretKey();
  const c = await rawClient(r.url);
  const events = Array.from({ length: 8 }, (_, i) => note(sk, `e${i}`));
  for (const e of events) c.send(['EVENT', e]);
  const oks = await Promise.all(events.map((e) => c.until(okFor(e.id))));
  assert.deepEqual(oks.map((f) => f[2]), [true, true, true, true, true, false, false, false]);
  assert.match(oks[5][3], /^rate-limited: /);
  const big = note(sk, 'x'.repeat(5000));
  c.send(['EVENT', big]);
  const refused = await c.until(okFor(big.id));
  assert.equal(refused[2], false);
  assert.match(refused[3], /^invalid: message of \d+ bytes is over/);
  c.send(['REQ', 'q', { authors: [getPublicKey(sk)] }]);
  await c.until((f) => f[0] === 'EOSE' && f[1] === 'q');
  assert.equal(c.frames.filter((f) => f[0] === 'EVENT').length, 5);
  c.close();
});

test('NIP-09: an author\'s deletion removes the event; a stranger\'s deletes nothing; ephemeral events go live, unstored', async () => {
  const r = await relayWith();
  const alice = generateSecretKey();
  const mallory = generateSecretKey();
  const relay = await Relay.connect(r.url);
  const keep = note(alice, 'keep');
  const gone = note(alice, 'gone');
  await relay.publish(keep);
  await relay.publish(gone);
  await relay.publish(note(mallory, '', { kind: 5, tags: [['e', keep.id]] }));
  await relay.publish(note(alice, '', { kind: 5, tags: [['e', gone.id]] }));
  const left = await collect(relay, [{ kinds: [1] }]);
  assert.deepEqual(left.map((e) => e.id), [keep.id]);
  await assert.rejects(relay.publish(gone), /^Error: blocked: |deleted/);

  const heard = [];
  const listener = relay.subscribe([{ kinds: [20001] }], { onevent: (e) => heard.push(e.id) });
  await new Promise((res) => setTimeout(res, 50));
  const ephemeral = note(alice, 'typing…', { kind: 20001 });
  await relay.publish(ephemeral);
  for (let i = 0; i < 100 && !heard.length; i++) await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(heard, [ephemeral.id]);
  listener.close();
  assert.deepEqual(await collect(relay, [{ kinds: [20001] }]), []);
  relay.close();
});

// Stored events for filters, via a subscription that ends at EOSE.
function collect(relay, filters) {
  return new Promise((resolve) => {
    const out = [];
    const sub = relay.subscribe(filters, {
      onevent: (e) => out.push(e),
      oneose: () => { sub.close(); resolve(out); },
    });
  });
}

test('NIP-42: auth-required for writes and reads until the client authenticates; bad AUTH events refused', async () => {
  const r = await relayWith({ auth: { write: true, read: true } });
  const info = await (await fetch(r.httpUrl, { headers: { accept: 'application/nostr+json' } })).json();
  assert.equal(info.limitation.auth_required, true);
  assert.equal(info.limitation.restricted_writes, true);
  const sk = generateSecretKey();
  const c = await rawClient(r.url);
  const [, challenge] = await c.until((f) => f[0] === 'AUTH');
  const e = note(sk, 'hello');
  c.send(['EVENT', e]);
  assert.match((await c.until(okFor(e.id)))[3], /^auth-required: /);
  c.send(['REQ', 'r', {}]);
  assert.match((await c.until((f) => f[0] === 'CLOSED' && f[1] === 'r'))[2], /^auth-required: /);
  const authEvent = (tags) => note(sk, '', { kind: 22242, tags });
  const wrong = authEvent([['relay', r.url], ['challenge', 'not-it']]);
  c.send(['AUTH', wrong]);
  assert.equal((await c.until(okFor(wrong.id)))[2], false);
  const elsewhere = authEvent([['relay', 'wss://other.example/'], ['challenge', challenge]]);
  c.send(['AUTH', elsewhere]);
  assert.equal((await c.until(okFor(elsewhere.id)))[2], false);
  const forged = { ...authEvent([['relay', r.url], ['challenge', challenge]]), sig: e.sig };
  c.send(['AUTH', forged]);
  assert.equal((await c.until(okFor(forged.id)))[2], false);
  c.close();

  // nostr-tools answers the challenge itself.
  const relay = await Relay.connect(r.url);
  await new Promise((res) => setTimeout(res, 50));
  await relay.auth(async (template) => finalizeEvent(template, sk));
  assert.equal(await relay.publish(e), '');
  assert.deepEqual((await collect(relay, [{ ids: [e.id] }])).map((x) => x.id), [e.id]);
  relay.close();
});

test('allow list: writes only from members and, with allowFollows, whom they follow', async () => {
  const member = generateSecretKey();
  const friend = generateSecretKey();
  const stranger = generateSecretKey();
  const r = await relayWith({ allow: [getPublicKey(member)], allowFollows: true });
  const relay = await Relay.connect(r.url);
  assert.equal(await relay.publish(note(member, 'member')), '');
  await assert.rejects(relay.publish(note(friend, 'not yet')), /^Error: blocked: /);
  await relay.publish(note(member, '', { kind: 3, tags: [['p', getPublicKey(friend)]] }));
  assert.equal(await relay.publish(note(friend, 'now followed')), '');
  await assert.rejects(relay.publish(note(stranger, 'stranger')), /^Error: blocked: /);
  relay.close();
});

test('NIP-45 COUNT: counts of one filter and of overlapping filters (their union)', { timeout: 20000 }, async () => {
  const r = await relayWith();
  const a = generateSecretKey();
  const b = generateSecretKey();
  const relay = await Relay.connect(r.url);
  for (let i = 0; i < 5; i++) await relay.publish(note(a, `a${i}`, { tags: i < 2 ? [['t', 'x']] : [] }));
  for (let i = 0; i < 3; i++) await relay.publish(note(b, `b${i}`, { tags: [['t', 'x']] }));
  assert.equal(await relay.count([{ authors: [getPublicKey(a)] }], {}), 5);
  assert.equal(await relay.count([{ '#t': ['x'] }], {}), 5);
  assert.equal(await relay.count([{ authors: [getPublicKey(a)] }, { '#t': ['x'] }], {}), 8);
  const c = await rawClient(r.url);
  c.send(['COUNT', 'bad', { kinds: 'x' }]);
  assert.match((await c.until((f) => f[0] === 'CLOSED' && f[1] === 'bad'))[2], /^invalid: /);
  c.close();
  relay.close();
});

test('SimplePool: one publish reaches two Hiroba relays; a query merges them', async () => {
  const r1 = await relayWith();
  const r2 = await relayWith();
  const pool = new SimplePool();
  const sk = generateSecretKey();
  const e = note(sk, 'to both');
  const results = await Promise.allSettled(pool.publish([r1.url, r2.url], e));
  assert.deepEqual(results.map((x) => x.status), ['fulfilled', 'fulfilled']);
  const only1 = note(sk, 'only on one');
  await Promise.all(pool.publish([r1.url], only1));
  const found = await pool.querySync([r1.url, r2.url], { authors: [getPublicKey(sk)] });
  assert.deepEqual(found.map((x) => x.id).sort(), [e.id, only1.id].sort());
  pool.close([r1.url, r2.url]);
});

test('NIP-77 with nostr-tools\' nip77: the ids each side lacks, exactly, with and without an author filter', async () => {
  const r = await relayWith({ limits: BULK });
  const keys = [generateSecretKey(), generateSecretKey()];
  const relay = await Relay.connect(r.url);
  relay.publishTimeout = 30000;
  const t0 = now() - 5000;
  const all = Array.from({ length: 300 }, (_, i) => note(keys[i % 2], `n${i}`, { created_at: t0 + i }));
  // The relay gets events 0..199, the client holds 100..299.
  for (let i = 0; i < 200; i += 50) {
    await Promise.all(all.slice(i, i + 50).map((e) => relay.publish(e)));
  }
  const sync = async (filter, mine) => {
    const storage = new NegentropyStorageVector();
    for (const e of mine) storage.insert(e.created_at, e.id);
    storage.seal();
    const have = [];
    const need = [];
    // start() only sends NEG-OPEN: the sync is over when onclose runs
    // (with a reason on NEG-ERR or a reconcile error).
    await new Promise((resolve, reject) => {
      const neg = new NegentropySync(relay, storage, filter, {
        onhave: (id) => have.push(id),
        onneed: (id) => need.push(id),
        onclose: (why) => (why ? reject(new Error(why)) : resolve()),
      });
      neg.start();
    });
    return { have: have.sort(), need: need.sort() };
  };
  const ids = (list) => list.map((e) => e.id).sort();
  const mine = all.slice(100);
  assert.deepEqual(await sync({}, mine), { have: ids(all.slice(200)), need: ids(all.slice(0, 100)) });
  const pk = getPublicKey(keys[0]);
  const by = (list) => list.filter((e) => e.pubkey === pk);
  assert.deepEqual(await sync({ authors: [pk] }, by(mine)), { have: ids(by(all.slice(200))), need: ids(by(all.slice(0, 100))) });
  relay.close();
});

test('fairness: a client with a deep backlog of REQs does not hold up another client\'s publish', async () => {
  const r = await relayWith({ limits: { ...BULK, maxSubscriptions: 10000, inboxFrames: 100000, maxFilterBytes: 1e9 } });
  const sk = generateSecretKey();
  const relay = await Relay.connect(r.url);
  relay.publishTimeout = 30000;
  for (let i = 0; i < 400; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => relay.publish(note(sk, `bulk ${i + j}`))));
  }
  const greedy = await rawClient(r.url);
  const N = 2000;
  for (let i = 0; i < N; i++) greedy.send(['REQ', `g${i}`, { kinds: [1], limit: 500 }]);
  await greedy.until((f) => f[0] === 'EOSE' && f[1] === 'g0');
  const honest = await rawClient(r.url);
  const e = note(generateSecretKey(), 'honest');
  honest.send(['EVENT', e]);
  await honest.until(okFor(e.id), 0, 60000);
  const answered = greedy.frames.filter((f) => f[0] === 'EOSE').length;
  assert.ok(answered < N, `the honest OK came while ${N - answered} of the greedy REQs were still waiting`);
  greedy.close();
  honest.close();
  relay.close();
}, { timeout: 120000 });

test('interop: notes with lone surrogates and control characters from nostr-tools are accepted and served back byte-exact', async () => {
  const r = await relayWith();
  const sk = generateSecretKey();
  const contents = ['truncated emoji \ud83d', 'a lone low half \ude00 here', 'NUL \u0000 and \u0001\u001f\u007f\u2028', 'a pair \ud83d\ude00'];
  const events = contents.map((content) => note(sk, content, { tags: [['t', content.slice(0, 18)]] }));
  const relay = await Relay.connect(r.url);
  for (const e of events) assert.equal(await relay.publish(e), '', e.content);
  const c = await rawClient(r.url);
  c.ws.removeAllListeners('message');
  const texts = [];
  c.ws.on('message', (data) => texts.push(String(data)));
  c.send(['REQ', 'all', { authors: [getPublicKey(sk)] }]);
  for (let i = 0; i < 200 && !texts.some((t) => t.startsWith('["EOSE"')); i++) await new Promise((res) => setTimeout(res, 10));
  const served = texts.filter((t) => t.startsWith('["EVENT"')).map((t) => JSON.parse(t)[2]);
  assert.equal(served.length, events.length);
  for (const e of events) {
    const got = served.find((x) => x.id === e.id);
    assert.ok(got, `served back: ${JSON.stringify(e.content)}`);
    assert.equal(got.content, e.content);
    assert.equal(verifyEvent({ ...got }), true);
    const { id, pubkey, created_at, kind, tags, content, sig } = e;
    assert.equal(JSON.stringify(got), JSON.stringify({ id, pubkey, created_at, kind, tags, content, sig }));
  }
  c.close();
  relay.close();
});

test('the dev server mounts the relay at /relay: NIP-11 over HTTP, NIP-01 over WebSocket, /signal still served', async () => {
  const { startServer } = await import('../../web/server.js');
  const app = await startServer({ port: 0, relay: { db: join(dir, 'dev-server.db') } });
  try {
    const base = `127.0.0.1:${app.port}`;
    const info = await (await fetch(`http://${base}/relay`, { headers: { accept: 'application/nostr+json' } })).json();
    assert.ok(info.supported_nips.includes(77));
    const relay = await Relay.connect(`ws://${base}/relay`);
    const e = note(generateSecretKey(), 'through the dev server');
    assert.equal(await relay.publish(e), '');
    assert.deepEqual((await collect(relay, [{ ids: [e.id] }])).map((x) => x.id), [e.id]);
    relay.close();
    const signal = new WebSocket(`ws://${base}/signal`);
    await new Promise((resolve, reject) => { signal.once('open', resolve); signal.once('error', reject); });
    signal.close();
    const other = new WebSocket(`ws://${base}/elsewhere`);
    await assert.rejects(new Promise((resolve, reject) => { other.once('open', resolve); other.once('error', reject); }), /404/);
  } finally {
    await app.close();
  }
});
