// relay-client.test.js -- joinRelay(): feeds kept in sync through a relay
// with nobody else online. Against Hiroba's relay (NIP-77) and against an
// independent relay from npm (@nostr-relay/core: no NIP-77, the REQ
// fallback); the outbox across a relay outage and a reopened feed;
// until-paging against a relay that caps `limit`; NIP-42 AUTH; and the
// sync class alone over an in-memory frame pipe.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

import { openFeed } from '../../js-glue/node.js';
import { joinRelay } from '../../js-glue/network.js';
import { SyncLink } from '../../js-glue/sync-link.js';
import { LIMITS } from '../../js-glue/peer-guard.js';
import { startRelay } from '../../relay/server.js';
import { startAnchorRelay } from '../../bench/lib/anchor-relay.js';
import { until } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'hiroba-relay-client-'));
const cleanup = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function feedNamed(name) {
  const path = join(dir, `${name}-${++n}.db`);
  const feed = await openFeed({ path });
  let closed = false;
  const close = feed.close.bind(feed);
  feed.close = async () => { if (!closed) { closed = true; await close(); } };
  cleanup.push(() => feed.close());
  return { feed, path };
}

async function relay(options = {}) {
  const r = await startRelay({ port: 0, db: join(dir, `relay-${++n}.db`), ...options });
  cleanup.push(() => r.close());
  return r;
}

function joined(feed, options) {
  return joinRelay(feed, { WebSocket, ...options }).then((h) => {
    cleanup.push(() => h.leave());
    return h;
  });
}

const ids = (events) => events.map((e) => e.id).sort();

// Alice posts and leaves; Carol, who follows her, gets everything from the
// relay alone, then live.
async function readerGetsAuthor(relayUrl, { expectMode, duplicates = null }) {
  const { feed: alice } = await feedNamed('alice');
  const { pubkey: alicePk } = await alice.identity();
  await alice.setProfile({ name: 'Alice' });
  const posts = [await alice.post('one'), await alice.post('two')];
  const a = await joined(alice, { url: relayUrl });
  await until(() => a.stats().done && a.stats().outbox === 0, 'alice to push her events');
  a.leave();

  const { feed: carol } = await feedNamed('carol');
  await carol.follow(alicePk);
  const dupsBefore = duplicates?.();
  const c = await joined(carol, { url: relayUrl });
  await until(async () => (await carol.query({ authors: [alicePk], kinds: [1] })).length === 2, 'carol to get alice\'s posts');
  assert.equal((await carol.profile(alicePk))?.name, 'Alice');
  assert.equal(c.stats().mode, expectMode);
  await until(() => c.stats().done, 'carol done');
  // What Carol got from the relay is not sent back to it.
  if (duplicates) {
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(duplicates(), dupsBefore, 'no event echoed back to the relay');
  }

  // Live: Alice comes back and posts; Carol gets it while connected.
  const a2 = await joined(alice, { url: relayUrl });
  const late = await alice.post('three');
  await until(async () => (await carol.query({ ids: [late.id] })).length === 1, 'the live post');
  assert.deepEqual(ids(await carol.query({ authors: [alicePk], kinds: [1] })), ids([...posts, late]));
  a2.leave();
  c.leave();
}

test('joinRelay against Hiroba\'s relay (NIP-77): a reader gets an offline author\'s posts and profile, then live ones', async () => {
  const r = await relay();
  await readerGetsAuthor(r.url, { expectMode: 'nip77', duplicates: () => r.relay.stats().duplicates });
});

test('joinRelay against @nostr-relay/core (no NIP-77): the REQ fallback gets the same', async () => {
  const anchor = await startAnchorRelay();
  cleanup.push(() => anchor.close());
  await readerGetsAuthor(anchor.url, { expectMode: 'req' });
});

test('the outbox: posts made while the relay is down, and a feed reopened in between, reach the relay when it is back', async () => {
  const db = join(dir, 'outbox-relay.db');
  let r = await startRelay({ port: 0, db });
  const port = r.port;
  const { feed: alice, path } = await feedNamed('outbox');
  const h = await joined(alice, { url: r.url });
  await until(() => h.stats().done, 'first sync');
  await r.close();
  await until(() => h.state === 'offline', 'offline');
  const offline = [await alice.post('while the relay is down 1'), await alice.post('while the relay is down 2')];
  h.leave();
  await alice.close();
  // A reload: the outbox's record is in the database.
  const again = await openFeed({ path });
  cleanup.push(() => again.close());
  r = await startRelay({ port, db });
  cleanup.push(() => r.close());
  const h2 = await joined(again, { url: r.url });
  await until(async () => {
    const stored = await r.relay.feed.query({ ids: offline.map((e) => e.id) });
    return stored.length === 2;
  }, 'the relay to get the posts made offline');
  await until(() => h2.stats().outbox === 0, 'an empty outbox');
  assert.equal(h2.stats().refused, 0);
});

test('an OK false with a permanent reason is reported once, not retried', async () => {
  const { feed: alice } = await feedNamed('refused');
  const other = '0'.repeat(63) + '1';
  const r = await relay({ allow: [other] }); // Alice may not write here
  const errors = [];
  const h = await joined(alice, { url: r.url });
  h.on('error', (e) => errors.push(e));
  await alice.post('refused here');
  await until(() => h.stats().refused === 1, 'the refusal');
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(errors.filter((e) => e.code === 'relay-refused').length, 1);
  assert.match(errors.find((e) => e.code === 'relay-refused').reason, /^blocked: /);
  assert.equal(h.stats().outbox, 0);
});

test('REQ fallback pages with until through a relay that caps limit at 7', async () => {
  const r = await relay({ limits: { maxLimit: 7 } });
  const { feed: alice } = await feedNamed('pager');
  const { pubkey } = await alice.identity();
  const base = Math.floor(Date.now() / 1000) - 1000;
  const posts = [];
  // 40 posts, several sharing a second.
  for (let i = 0; i < 40; i++) posts.push(await alice.publish({ kind: 1, content: `p${i}`, tags: [], created_at: base + Math.floor(i / 3) }));
  const a = await joined(alice, { url: r.url });
  await until(() => a.stats().outbox === 0 && a.stats().done, 'alice to push');
  a.leave();
  const { feed: carol } = await feedNamed('reader');
  await carol.follow(pubkey);
  const c = await joined(carol, { url: r.url, nip77: false });
  await until(() => c.stats().done, 'carol done');
  assert.equal(c.stats().mode, 'req');
  assert.deepEqual(ids(await carol.query({ authors: [pubkey], kinds: [1] })), ids(posts));
});

test('NIP-42: a relay that requires AUTH for writes and reads gets it from the feed\'s identity', async () => {
  const r = await relay({ auth: { write: true, read: true } });
  const { feed: alice } = await feedNamed('auth');
  const post = await alice.post('behind auth');
  const h = await joined(alice, { url: r.url });
  await until(async () => (await r.relay.feed.query({ ids: [post.id] })).length === 1, 'the post behind AUTH');
  h.leave();
});

test('SyncLink alone: two feeds over an in-memory frame pipe converge', async () => {
  const { feed: a } = await feedNamed('pipe-a');
  const { feed: b } = await feedNamed('pipe-b');
  const [pa, pb] = [(await a.identity()).pubkey, (await b.identity()).pubkey];
  await a.follow(pb);
  await b.follow(pa);
  const aPosts = [await a.post('a1'), await a.post('a2')];
  const bPosts = [await b.post('b1')];
  const links = {};
  const pipe = (from, to) => ({
    label: `pipe ${from}`,
    send: (text) => { setImmediate(() => links[to].receive(text)); },
    queued: () => 0,
    isOpen: () => true,
  });
  const make = (feed, self, name, other) => new SyncLink({
    feed, self, kind: 'peer', limits: LIMITS, transport: pipe(name, other),
    follows: () => new Set([name === 'a' ? pb : pa]),
    hooks: { error: (e) => { throw e; } },
  });
  links.a = make(a, pa, 'a', 'b');
  links.b = make(b, pb, 'b', 'a');
  a.on('event', (e) => links.a.onEvent(e));
  b.on('event', (e) => links.b.onEvent(e));
  await Promise.all([links.a.start(), links.b.start()]);
  await until(() => links.a.done && links.b.done, 'both done');
  const want = ids([...aPosts, ...bPosts]);
  await until(async () => ids(await b.query({ kinds: [1] })).join() === want.join(), 'b to hold every post');
  assert.deepEqual(ids(await a.query({ kinds: [1] })), want);
  const late = await a.post('live over the pipe');
  await until(async () => (await b.query({ ids: [late.id] })).length === 1, 'live post');
  links.a.close();
  links.b.close();
});

test('a hostile relay (garbage, forged events, a flood) is dropped and reported; nothing of it is stored; the feed keeps working', async () => {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  cleanup.push(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r); }));
  let connections = 0;
  wss.on('connection', (ws) => {
    connections++;
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame[0] !== 'REQ' && frame[0] !== 'NEG-OPEN') return;
      // Every request answered with garbage and forged events.
      for (let i = 0; i < 400; i++) {
        if (ws.readyState !== 1) return;
        ws.send(i % 2 ? 'not json at all' : JSON.stringify(['EVENT', frame[1], {
          id: 'a'.repeat(64), pubkey: 'b'.repeat(64), created_at: 1, kind: 1, tags: [], content: 'forged', sig: 'c'.repeat(128),
        }]));
      }
    });
  });
  const { feed } = await feedNamed('victim');
  const errors = [];
  const h = await joined(feed, { url: `ws://127.0.0.1:${wss.address().port}/`, nip77: false });
  h.on('error', (e) => errors.push(e));
  await until(() => errors.some((e) => e.code === 'relay-dropped'), 'the relay to be dropped');
  assert.match(errors.find((e) => e.code === 'relay-dropped').reason, /invalid/);
  assert.equal(h.stats().dropped, 1);
  // Only our own kind-0-free database: nothing from the relay.
  assert.deepEqual(await feed.query({ authors: ['b'.repeat(64)] }), []);
  const mine = await feed.post('still fine');
  assert.equal((await feed.query({ ids: [mine.id] })).length, 1);
  // A misbehaving relay waits the longest before the next try.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(connections, 1);
});
