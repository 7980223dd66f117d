// sync.test.js -- two Chromium profiles (two users, two OPFS databases)
// find each other through the dev server's signaling and sync over real
// RTCDataChannels: what each posted before reaches the other, and new
// posts arrive live.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchProfile, startDemoServer, watchErrors } from './harness.js';

let server;
const profiles = [];

before(async () => {
  // The demo page (this suite's origin) joins the server's /relay itself.
  server = await startDemoServer();
});

after(async () => {
  for (const p of profiles) await p.close();
  await server?.close();
});

async function user(name) {
  const profile = await launchProfile();
  profiles.push(profile);
  const page = await profile.context.newPage();
  const errors = watchErrors(page);
  await page.goto(server.url);
  await page.evaluate(async (name) => {
    // The feed ('hiroba') and rooms ('hiroba/sync') are two entries.
    window.hiroba = { ...await import('/hiroba/js-glue/index.js'), ...await import('/hiroba/js-glue/network.js') };
    window.feed = await window.hiroba.openFeed({ name });
    window.pubkey = (await window.feed.identity()).pubkey;
  }, name);
  return { page, errors, pubkey: await page.evaluate(() => window.pubkey) };
}

test('two browsers sync over RTCDataChannels', async () => {
  const alice = await user('alice');
  const bob = await user('bob');
  await alice.page.evaluate(async (other) => {
    await window.feed.follow(other);
    await window.feed.post('hello from alice');
  }, bob.pubkey);
  await bob.page.evaluate(async (other) => {
    await window.feed.follow(other);
    await window.feed.post('hello from bob');
  }, alice.pubkey);

  const join = (u) => u.page.evaluate(async () => {
    const signalUrl = `${location.origin.replace(/^http/, 'ws')}/signal`;
    window.room = await window.hiroba.joinRoom(window.feed, {
      signalUrl, room: 'e2e', turnUrl: '/turn', poolSize: 4,
    });
    window.syncs = [];
    window.room.on('sync', (s) => window.syncs.push(s));
  });
  await join(alice);
  await join(bob);

  // Polls a page until its feed holds n kind-1 posts.
  const posts = async (u, n) => {
    const end = Date.now() + 60_000;
    while ((await u.page.evaluate(async () => (await window.feed.query({ kinds: [1] })).length)) < n) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${n} posts`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const texts = (u) => u.page.evaluate(async () => (await window.feed.query({ kinds: [1] })).map((e) => e.content).sort());
  for (const u of [alice, bob]) await posts(u, 2);
  assert.deepEqual(await texts(alice), ['hello from alice', 'hello from bob']);
  assert.deepEqual(await texts(bob), ['hello from alice', 'hello from bob']);

  // Live: a new post reaches the other browser without a new sync.
  await alice.page.evaluate(() => window.feed.post('live from alice'));
  await posts(bob, 3);
  const peers = await bob.page.evaluate(() => window.room.peers);
  assert.equal(peers.length, 1);
  assert.equal(peers[0].state, 'open');
  assert.equal(peers[0].pubkey, alice.pubkey);
  assert.ok(await bob.page.evaluate(() => window.syncs.some((s) => s.done)));
  for (const u of [alice, bob]) await u.page.evaluate(() => { window.room.leave(); return window.feed.close(); });
  assert.deepEqual([...alice.errors, ...bob.errors], []);
});
