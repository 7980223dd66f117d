// sync.test.js -- two browser profiles (two users, two OPFS databases)
// find each other through the dev server's signaling and sync over real
// RTCDataChannels: what each posted before reaches the other, new posts,
// reactions and deletions arrive live. Two Chromium users, two Firefox
// users, and a Chromium user with a Firefox user, directly and, forced
// through a real coturn, relayed (each pair as HIROBA_BROWSERS allows).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { BROWSERS, launchBrowser, startDemoServer, startTurnDemoServer } from './harness.js';
import { verifierCount } from '../../js-glue/verify-pool.js';

let server;

before(async () => {
  // The demo page (this suite's origin) joins the server's /relay itself.
  server = await startDemoServer();
});

after(async () => {
  await server?.close();
});

async function user(profiles, browser, name, on) {
  const profile = await launchBrowser(browser);
  profiles.push(profile);
  const page = await profile.newPage();
  await page.goto(on.url);
  await page.evaluate(async (name) => {
    // The feed ('hiroba') and rooms ('hiroba/sync') are two entries.
    window.hiroba = { ...await import('/hiroba/js-glue/index.js'), ...await import('/hiroba/js-glue/network.js') };
    window.feed = await window.hiroba.openFeed({ name });
    window.pubkey = (await window.feed.identity()).pubkey;
  }, name);
  return { page, errors: page.errors, pubkey: await page.evaluate(() => window.pubkey) };
}

// Polls a page until query(filter) holds n events (or, with `exactly`,
// no more than n).
async function until(u, filter, n, exactly = false) {
  const end = Date.now() + 60_000;
  for (;;) {
    const got = await u.page.evaluate(async (f) => (await window.feed.query(f)).length, filter);
    if (exactly ? got === n : got >= n) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${n} events of ${JSON.stringify(filter)} (have ${got})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Alice in browser a and Bob in browser b follow each other, post, meet in
// `room`, and trade posts, a reaction and a deletion. With `relay`, both
// connect through TURN alone (iceTransportPolicy 'relay') via `on`'s /turn.
async function pair(a, b, room, { on = server, relay = false } = {}) {
  const profiles = [];
  try {
    const alice = await user(profiles, a, 'alice', on);
    const bob = await user(profiles, b, 'bob', on);
    await alice.page.evaluate(async (other) => {
      await window.feed.follow(other);
      await window.feed.post('hello from alice');
    }, bob.pubkey);
    await bob.page.evaluate(async (other) => {
      await window.feed.follow(other);
      await window.feed.post('hello from bob');
    }, alice.pubkey);

    const join = (u) => u.page.evaluate(async ({ room, relay }) => {
      const signalUrl = `${location.origin.replace(/^http/, 'ws')}/signal`;
      window.room = await window.hiroba.joinRoom(window.feed, {
        signalUrl, room, turnUrl: '/turn', poolSize: 4,
        iceTransportPolicy: relay ? 'relay' : 'all',
      });
      window.syncs = [];
      window.room.on('sync', (s) => window.syncs.push(s));
    }, { room, relay });
    await join(alice);
    await join(bob);

    const texts = (u) => u.page.evaluate(async () => (await window.feed.query({ kinds: [1] })).map((e) => e.content).sort());
    for (const u of [alice, bob]) await until(u, { kinds: [1] }, 2);
    assert.deepEqual(await texts(alice), ['hello from alice', 'hello from bob']);
    assert.deepEqual(await texts(bob), ['hello from alice', 'hello from bob']);

    // Live: a new post reaches the other browser without a new sync.
    const live = await alice.page.evaluate(() => window.feed.post('live from alice'));
    await until(bob, { kinds: [1] }, 3);
    for (const [u, other] of [[alice, bob], [bob, alice]]) {
      const peers = await u.page.evaluate(() => window.room.peers);
      assert.equal(peers.length, 1);
      assert.equal(peers[0].state, 'open');
      assert.equal(peers[0].route, relay ? 'relayed' : 'direct');
      assert.equal(peers[0].pubkey, other.pubkey);
    }
    assert.ok(await bob.page.evaluate(() => window.syncs.some((s) => s.done)));

    // Bob reacts to it; Alice deletes it, and it is gone at Bob's too.
    await bob.page.evaluate((id) => window.feed.react(id, '+'), live.id);
    await until(alice, { kinds: [7], '#e': [live.id] }, 1);
    await alice.page.evaluate((id) => window.feed.delete(id), live.id);
    await until(bob, { kinds: [5], authors: [alice.pubkey] }, 1);
    await until(bob, { ids: [live.id] }, 0, true);

    for (const u of [alice, bob]) await u.page.evaluate(() => { window.room.leave(); return window.feed.close(); });
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  } finally {
    for (const p of profiles) await p.close();
  }
}

for (const browser of BROWSERS) {
  test(`two browsers sync over RTCDataChannels: posts, live posts, a reaction, a deletion [${browser}]`,
    () => pair(browser, browser, `e2e-${browser}`));
}

// A peer's batch of many events goes through the database worker's own
// verifier workers, which the page starts for it, while the engine stores
// it (js-glue/verify-pool.js): the same outcome as the engine alone --
// every valid event stored once, every forged one refused as a bad
// signature, twice over the same.
for (const browser of BROWSERS) {
  test(`a peer's large batch is verified in parallel and stored: valid events kept, forged ones refused [${browser}]`, async () => {
    const sk = generateSecretKey();
    const base = Math.floor(Date.now() / 1000) - 100_000;
    const events = Array.from({ length: 1200 }, (_, i) => JSON.parse(JSON.stringify(
      finalizeEvent({ kind: 1, created_at: base + i, tags: [], content: `batch ${i} ${'.'.repeat(i % 400)}` }, sk))));
    const forged = new Set();
    const frames = events.map((e, i) => {
      if (i % 100 !== 42) return JSON.stringify(['EVENT', 'f', e]);
      forged.add(e.id);
      return JSON.stringify(['EVENT', 'f', { ...e, sig: (e.sig[0] === '0' ? '1' : '0') + e.sig.slice(1) }]);
    });
    const profile = await launchBrowser(browser);
    try {
      const page = await profile.newPage();
      await page.goto(server.url);
      const out = await page.evaluate(async (frames) => {
        const { openFeed } = await import('/hiroba/js-glue/index.js');
        const feed = await openFeed({ name: 'parallel', policy: { store: 'all' } });
        const pass = async (conn) => {
          const results = [];
          for (let rest = frames; rest.length;) {
            const got = await feed.mergeBatch(conn, rest);
            results.push(...got);
            rest = rest.slice(got.length);
          }
          return results;
        };
        const first = await pass(1);
        const second = await pass(2);
        const stored = (await feed.query({ kinds: [1] })).map((e) => e.id);
        // Started by the page for the database worker, not by the worker
        // (a nested worker can stop it for good in Firefox: worker.js).
        const verifiers = feed._verifiers;
        await feed.close();
        const summary = (rs) => ({
          accepted: rs.flatMap((r) => r.accepted),
          rejected: rs.flatMap((r) => r.rejected),
          duplicates: rs.reduce((n, r) => n + r.duplicates, 0),
        });
        return { first: summary(first), second: summary(second), stored, verifiers, cores: navigator.hardwareConcurrency, after: feed._verifiers };
      }, frames);
      assert.equal(out.verifiers, verifierCount(out.cores), 'the page runs the verifiers');
      assert.equal(out.after, 0, 'closing the feed stops them');
      const valid = events.filter((e) => !forged.has(e.id)).map((e) => e.id);
      assert.deepEqual(out.first.accepted, valid);
      assert.deepEqual(out.first.rejected.map((r) => [r.id, r.reason]), [...forged].map((id) => [id, 'invalid: bad signature']));
      assert.deepEqual(out.second.accepted, []);
      assert.equal(out.second.duplicates, valid.length);
      assert.deepEqual(out.second.rejected.map((r) => r.reason), [...forged].map(() => 'invalid: bad signature'));
      assert.deepEqual(out.stored.sort(), [...valid].sort());
      assert.deepEqual(page.errors, []);
    } finally {
      await profile.close();
    }
  });
}

const mixed = BROWSERS.includes('chromium') && BROWSERS.includes('firefox');
const needsBoth = !mixed && 'needs both chromium and firefox in HIROBA_BROWSERS';
test('a Chromium user and a Firefox user sync directly: posts, live posts, a reaction, a deletion [chromium+firefox]',
  { skip: needsBoth },
  () => pair('chromium', 'firefox', 'e2e-mixed'));

test('a Chromium user and a Firefox user sync through TURN alone (a real coturn): posts, live posts, a reaction, a deletion [chromium+firefox]',
  { skip: needsBoth },
  async () => {
    const turn = await startTurnDemoServer();
    try {
      await pair('chromium', 'firefox', 'e2e-mixed-relay', { on: turn, relay: true });
      // coturn's own word: it allocated relays and carried the channel's data.
      assert.match(turn.coturn.log(), /ALLOCATE processed, success/);
      assert.match(turn.coturn.log(), /(CHANNEL_BIND|CREATE_PERMISSION) processed, success/);
    } finally {
      await turn.close();
    }
  });
