// mixed-sync.test.js -- peers and a relay at once, one sync driver for
// both: A and B meet in a room over real WebRTC (@roamhq/wrtc) and both
// sync with Hiroba's relay; C only ever talks to the relay, D only to the
// room. Everyone follows everyone and posts before and during the run.
// At the end every feed holds the same events, each feed announced each
// event once (no duplicates), and none is lost.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import wrtc from '@roamhq/wrtc';
import { WebSocket } from 'ws';

import { startServer } from '../../web/server.js';
import { joinRoom, joinRelay } from '../../js-glue/network.js';
import { tempFeed, tempDir, until } from './helpers.js';

let server;
const handles = [];

after(async () => {
  for (const h of handles) h.leave();
  await server?.close();
});

test('peers and a relay at once: the same final database everywhere, nothing lost, nothing twice', async (t) => {
  const dir = tempDir(t, 'hiroba-mixed-');
  server = await startServer({ port: 0, turnEnv: {}, relay: { db: join(dir, 'relay.db') } });
  const base = server.url.replace(/^http/, 'ws').replace(/\/$/, '');
  const signalUrl = `${base}/signal`;
  const relayUrl = `${base}/relay`;
  const room = `mixed-${process.pid}`;

  const names = ['a', 'b', 'c', 'd'];
  const feeds = {};
  const seen = {};
  for (const n of names) {
    feeds[n] = (await tempFeed(t, `${n}.db`)).feed;
    seen[n] = new Map();
    feeds[n].on('event', (e) => seen[n].set(e.id, (seen[n].get(e.id) ?? 0) + 1));
  }
  const pk = {};
  for (const n of names) pk[n] = (await feeds[n].identity()).pubkey;
  for (const n of names) for (const m of names) if (n !== m) await feeds[n].follow(pk[m]);
  for (const n of names) for (let i = 0; i < 5; i++) await feeds[n].post(`${n} before ${i}`);

  const errors = [];
  const inRoom = async (n) => {
    const r = await joinRoom(feeds[n], { signalUrl, room, RTCPeerConnection: wrtc.RTCPeerConnection, WebSocket });
    r.on('error', (e) => errors.push(`${n} room: ${e.message}`));
    handles.push(r);
  };
  const onRelay = async (n) => {
    const r = await joinRelay(feeds[n], { url: relayUrl, WebSocket });
    r.on('error', (e) => errors.push(`${n} relay: ${e.message}`));
    handles.push(r);
  };
  await inRoom('a');
  await onRelay('a');
  await inRoom('b');
  await onRelay('b');
  await onRelay('c');
  await inRoom('d');
  for (const n of names) for (let i = 0; i < 3; i++) await feeds[n].post(`${n} during ${i}`);

  const everything = async () => {
    const all = new Set();
    for (const n of names) for (const e of await feeds[n].query({})) all.add(e.id);
    return all;
  };
  const describe = async () => {
    const out = [];
    for (const n of names) out.push(`${n}: ${await feeds[n].count({})}`);
    out.push(`relay: ${await server.relay.feed.count({})}`, ...handles.map((h) => JSON.stringify(h.stats?.() ?? {}).slice(0, 300)), ...errors.slice(0, 5));
    return out.join('; ');
  };
  // 4 × (one kind 3, the newest of three follows, + 8 posts) = 36.
  const TOTAL = 36;
  await until(async () => {
    for (const n of names) if ((await feeds[n].count({})) !== TOTAL) return false;
    return (await everything()).size === TOTAL;
  }, 'every feed to hold every event', 120_000, describe);
  const want = [...await everything()].sort();
  for (const n of names) {
    assert.deepEqual((await feeds[n].query({})).map((e) => e.id).sort(), want, `${n} holds everything`);
    const twice = [...seen[n]].filter(([, c]) => c > 1);
    assert.deepEqual(twice, [], `${n} announced no event twice`);
  }
  // The relay holds everything too: C reached the others only through it.
  assert.equal(await server.relay.feed.count({}), TOTAL);
  assert.deepEqual(errors.filter((e) => !/closed|peer|left/.test(e)), []);
});
