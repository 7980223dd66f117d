// sync.test.js -- joinRoom() end to end in Node: real feeds (wasm engine,
// files), the real signaling server, real WebRTC (@roamhq/wrtc), Negentropy
// reconciliation, fetch by ids, live subscriptions, store-and-forward, the
// pool, a peer vanishing mid-sync, 10,000 events, and the bytes a re-sync
// costs against a full transfer.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import wrtc from '@roamhq/wrtc';
import { WebSocket } from 'ws';
import { startServer } from '../../web/server.js';
import { joinRoom } from '../../js-glue/sync.js';
import { tempFeed, makeAuthor, until } from './helpers.js';

let server;
let signalUrl;
const rooms = [];

before(async () => {
  server = await startServer({ port: 0, turnEnv: {} });
  signalUrl = `${server.url.replace(/^http/, 'ws').replace(/\/$/, '')}/signal`;
});

after(async () => {
  for (const r of rooms) r.leave();
  await server?.close();
});

let roomSeq = 0;
const freshRoom = () => `sync-${process.pid}-${roomSeq++}`;

async function join(feed, room, options = {}) {
  const r = await joinRoom(feed, {
    signalUrl, room, RTCPeerConnection: wrtc.RTCPeerConnection, WebSocket, ...options,
  });
  r.on('error', () => {}); // peers going away mid-test are expected
  rooms.push(r);
  return r;
}

const count = async (feed, filter) => (await feed.query(filter)).length;

test('two feeds converge, then new posts arrive live', async (t) => {
  const { feed: a } = await tempFeed(t, 'a.db');
  const { feed: b } = await tempFeed(t, 'b.db');
  const pa = (await a.identity()).pubkey;
  const pb = (await b.identity()).pubkey;
  await a.follow(pb);
  await b.follow(pa);
  for (let i = 0; i < 3; i++) await a.post(`a${i}`);
  for (let i = 0; i < 2; i++) await b.post(`b${i}`);
  const room = freshRoom();
  const ra = await join(a, room);
  const rb = await join(b, room);
  const syncs = [];
  rb.on('sync', (s) => syncs.push(s));
  await until(async () => await count(a, { kinds: [1] }) === 5 && await count(b, { kinds: [1] }) === 5, 'convergence');
  await until(() => syncs.some((s) => s.done), 'a finished sync report');
  assert.ok(syncs.some((s) => s.need >= 3), 'B reported what it needed');
  const live = await a.post('live one');
  await until(async () => (await b.query({ ids: [live.id] })).length === 1, 'the live post');
  assert.deepEqual((await a.query({})).map((e) => e.id).sort(), (await b.query({})).map((e) => e.id).sort());
  assert.ok(ra.peers.every((p) => p.state === 'open' && p.route === 'direct'));
  ra.leave();
  rb.leave();
});

test('two feeds joining at the same instant connect (no glare stall), ten times over', async (t) => {
  // Both sides learn of each other at once and both have a reason to
  // offer; perfect negotiation must settle it every time.
  for (let round = 0; round < 10; round++) {
    const { feed: a } = await tempFeed(t, `a${round}.db`);
    const { feed: b } = await tempFeed(t, `b${round}.db`);
    await a.follow((await b.identity()).pubkey);
    await b.follow((await a.identity()).pubkey);
    const pa = await a.post(`a says ${round}`);
    const pb = await b.post(`b says ${round}`);
    const room = freshRoom();
    const [ra, rb] = await Promise.all([join(a, room), join(b, room)]);
    await until(async () => (await a.query({ ids: [pb.id] })).length === 1 &&
      (await b.query({ ids: [pa.id] })).length === 1, `round ${round}: both posts across`, 40_000);
    assert.ok(ra.peers.some((p) => p.state === 'open') && rb.peers.some((p) => p.state === 'open'));
    ra.leave();
    rb.leave();
  }
});

test("a post reaches a reader through another peer while its author is offline", async (t) => {
  const { feed: a } = await tempFeed(t, 'a.db');
  const { feed: b } = await tempFeed(t, 'b.db');
  const { feed: c } = await tempFeed(t, 'c.db');
  const pa = (await a.identity()).pubkey;
  await b.follow(pa);
  await c.follow(pa);
  const post = await a.post('written by A');
  const room = freshRoom();
  const ra = await join(a, room);
  const rb = await join(b, room);
  await until(async () => (await b.query({ ids: [post.id] })).length === 1, 'B to get A\'s post');
  ra.leave();
  await a.close();
  const rc = await join(c, room);
  await until(async () => (await c.query({ ids: [post.id] })).length === 1, 'C to get A\'s post from B');
  assert.deepEqual((await c.query({ ids: [post.id] }))[0], post);
  rb.leave();
  rc.leave();
});

test('poolSize 2 with 4 peers: never more than 2 connections', async (t) => {
  const feeds = [];
  for (let i = 0; i < 4; i++) feeds.push((await tempFeed(t, `p${i}.db`)).feed);
  const room = freshRoom();
  const joined = [];
  for (const f of feeds.slice(1)) joined.push(await join(f, room, { poolSize: 4 }));
  const d = await join(feeds[0], room, { poolSize: 2 });
  let most = 0;
  d.on('peer', () => {
    most = Math.max(most, d.peers.filter((p) => p.state === 'open' || p.state === 'connecting').length);
  });
  await until(() => d.peers.filter((p) => p.state === 'open').length === 2, 'two open connections');
  // Others keep trying to reach D; it still holds no more than two.
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(most <= 2, `pool held ${most} connections`);
  assert.ok(d.peers.filter((p) => p.state === 'open').length <= 2);
  for (const r of [d, ...joined]) r.leave();
});

// Signs n kind-1 events by one nostr-tools author, in batch frames.
function signedPosts(author, n, tag = '') {
  const base = Math.floor(Date.now() / 1000) - n - 100;
  return Array.from({ length: n }, (_, i) => author.sign({ content: `${tag}${i}`, created_at: base + i }));
}

async function mergeAll(feed, events) {
  for (let i = 0; i < events.length; i += 1000) {
    const r = await feed.merge(events.slice(i, i + 1000).map((e) => ['EVENT', e]));
    assert.equal(r.rejected.length, 0, JSON.stringify(r.rejected[0]));
  }
}

test('a peer vanishing mid-sync leaves both databases sound, and the next sync completes', async (t) => {
  const x = makeAuthor('vanish');
  const events = signedPosts(x, 3000, 'v');
  const { feed: a, path: pathA } = await tempFeed(t, 'a.db');
  const { feed: b } = await tempFeed(t, 'b.db');
  await mergeAll(a, events);
  await b.follow(x.pubkey);
  const room = freshRoom();
  let ra = await join(a, room);
  let vanished = null;
  const rb = await join(b, room);
  // A goes away as soon as B knows what it lacks: B's fetches are in flight.
  rb.on('sync', (s) => {
    if (s.need > 0 && !vanished) vanished = (async () => { ra.leave(); await a.close(); })();
  });
  await until(() => vanished !== null, 'reconciliation to report what B needs');
  await vanished;
  const partial = await count(b, { authors: [x.pubkey] });
  assert.ok(partial < 3000, 'A vanished before B had everything');
  assert.equal((await b.checkIntegrity()).ok, true);
  const { openFeed } = await import('../../js-glue/node.js');
  const a2 = await openFeed({ path: pathA });
  t.after(() => a2.close().catch(() => {}));
  assert.equal((await a2.checkIntegrity()).ok, true);
  ra = await join(a2, room);
  await until(async () => await count(b, { authors: [x.pubkey] }) === 3000, 'the rest after A came back');
  t.diagnostic(`B had ${partial} of 3000 when A vanished`);
  ra.leave();
  rb.leave();
});

test('10,000 events in one go, then a re-sync of 10 differing costs under 2% of the bytes', async (t) => {
  const x = makeAuthor('bulk');
  const events = signedPosts(x, 10_010, 'b');
  const { feed: a } = await tempFeed(t, 'a.db');
  const { feed: b } = await tempFeed(t, 'b.db');
  const { feed: c } = await tempFeed(t, 'c.db');
  await mergeAll(a, events.slice(0, 10_000));
  await b.follow(x.pubkey);
  await c.follow(x.pubkey);

  // Full transfer: B starts empty.
  const room1 = freshRoom();
  const ra = await join(a, room1);
  const rb = await join(b, room1);
  await until(async () => await count(b, { authors: [x.pubkey] }) === 10_000, '10,000 events at B', 300_000);
  const full = ra.stats().bytesSent + ra.stats().bytesReceived + rb.stats().bytesSent + rb.stats().bytesReceived;
  ra.leave();
  rb.leave();

  // Re-sync: A and C share 10,000 and A has 10 more.
  await mergeAll(a, events.slice(10_000));
  await mergeAll(c, events.slice(0, 10_000));
  const room2 = freshRoom();
  const ra2 = await join(a, room2);
  const rc = await join(c, room2);
  await until(async () => await count(c, { authors: [x.pubkey] }) === 10_010, 'the 10 differing at C');
  const sc = rc.stats();
  const sa = ra2.stats();
  const resync = sa.bytesSent + sa.bytesReceived + sc.bytesSent + sc.bytesReceived;
  const ratio = resync / full;
  t.diagnostic(`full transfer ${full} bytes; re-sync of 10 differing ${resync} bytes (${(100 * ratio).toFixed(2)}%)`);
  console.log(`# sync bytes: full ${full}, re-sync ${resync}, ratio ${(100 * ratio).toFixed(2)}%`);
  assert.ok(ratio < 0.02, `re-sync took ${(100 * ratio).toFixed(2)}% of a full transfer`);
  ra2.leave();
  rc.leave();
});
