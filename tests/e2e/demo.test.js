// demo.test.js -- the demo page (web/index.html + app.js) driven like a
// user would, each user a browser profile of its own (its own OPFS), every
// test once per browser of HIROBA_BROWSERS (Chromium, Firefox):
//   1. two users meet in a room, name themselves, follow each other from
//      the peer panel, post, react, delete, mute, and reload;
//   2. store and forward: A posts and leaves, C joins and gets A's post
//      from B;
//   3. the same over TURN only (?ice=relay) through a real coturn on
//      127.0.0.1: the peer panel says "relayed via TURN";
//   4. the live timeline: another tab's post, and 300 posts a followed
//      peer brings by sync, appear without a reload, for a few renders;
// and pages lacking OPFS, WebRTC or (Chromium only) OPFS sync access
// handles in workers say so plainly.
// The server is the dev server with its Nostr relay (the page's default
// relay, see relay-demo.test.js); the store-and-forward test removes it
// from Carol's list first, so her post can only have come from Bob.
// Screenshots of every window at each step go to test-output/e2e/demo-*.png,
// and one of two windows side by side to demo-side-by-side.png (the
// README's picture is a copy of Chromium's); Firefox's are named
// demo-firefox-*.png. Each browser's users meet in rooms of their own.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { BROWSERS, launchBrowser, startDemoServer, startTurnDemoServer } from './harness.js';

const OUT = fileURLToPath(new URL('../../test-output/e2e/', import.meta.url));
const LONG = 60_000;

let server;
const relayServers = [];
const profiles = [];

before(async () => {
  await mkdir(OUT, { recursive: true });
  server = await startDemoServer();
});

after(async () => {
  for (const p of profiles) await p.close();
  await server?.close();
  for (const r of relayServers) await r.close();
});

// Closes the browsers a test opened (after() closes them when it failed).
async function closeUsers() {
  for (const p of profiles.splice(0)) await p.close();
}

// Each browser's screenshots and rooms are its own; Chromium's keep the
// names they had before there were two browsers.
const tagOf = (browser) => (browser === 'chromium' ? '' : `${browser}-`);

// A user: a fresh profile of `browser` with the page open at `path` (query
// and hash; the hash, the room, gets the browser's tag). `before` runs in
// the page before its own scripts (to take features away); `init` too,
// for a page that still starts (e.g. to set its relay list).
async function user(browser, label, viewport, path, on = server, before = null, init = null) {
  const profile = await launchBrowser(browser);
  profiles.push(profile);
  const page = await profile.newPage();
  if (before) await page.addInitScript(before);
  if (init) await page.addInitScript(init);
  await page.setViewportSize(viewport);
  const tag = tagOf(browser);
  await page.goto(`${on.url}${tag ? path.replace('#', `#${tag}`) : path}`);
  label = `${tag}${label}`;
  if (before) return { label, page, errors: page.errors, profile };
  await page.locator('#my-pubkey[data-pubkey]').waitFor({ timeout: LONG });
  const pubkey = await page.locator('#my-pubkey').getAttribute('data-pubkey');
  return { label, page, errors: page.errors, pubkey, profile };
}

async function setName(u, name) {
  await u.page.fill('#name-input', name);
  await u.page.click('#name-form button[type=submit]');
  await u.page.waitForFunction(async (n) => (await window.hirobaFeed.profile())?.name === n, name, { timeout: LONG });
}

// u's peer panel row for other, once it is in `state`.
const peerRow = (u, other, state = 'open') => u.page.locator(`#peers .peer[data-pubkey="${other.pubkey}"][data-state="${state}"]`);

async function followFromPanel(u, other) {
  const peer = peerRow(u, other);
  await peer.waitFor({ timeout: LONG });
  await peer.locator('button.follow').click();
  await peer.locator('button.unfollow').waitFor({ timeout: LONG });
}

// Two windows' screenshots side by side in one picture, rendered by the
// browser itself (no image library).
async function sideBySide(users, file) {
  const images = [];
  for (const u of users) {
    // As a person would see the window: from the top, nothing focused.
    await u.page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
    images.push((await u.page.screenshot()).toString('base64'));
  }
  const page = await users[0].profile.newPage();
  try {
    await page.setViewportSize({ width: 1600, height: 1000 });
    await page.setContent(`<div id="pair" style="display:inline-flex;gap:16px;padding:16px;background:#8a8680;align-items:flex-start">${
      images.map((b) => `<img style="border-radius:8px;box-shadow:0 2px 10px #0005" src="data:image/png;base64,${b}">`).join('')}</div>`);
    await page.locator('#pair').screenshot({ path: join(OUT, file) });
  } finally {
    await page.close();
  }
}

// name -> async (browser) => ..., run once per browser at the end.
const tests = [];

const shot = (u, step) => u.page.screenshot({ path: join(OUT, `demo-${step}-${u.label}.png`), fullPage: true });
const shots = (users, step) => Promise.all(users.map((u) => shot(u, step)));
const postByText = (u, text) => u.page.locator('#timeline .post', { has: u.page.locator('.post-content', { hasText: text }) });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

tests.push(['demo page: two users meet, follow, post, react, delete, mute, reload', async (browser) => {
  const alice = await user(browser, 'alice', { width: 1000, height: 760 }, '#e2e-demo');
  const bob = await user(browser, 'bob', { width: 420, height: 760 }, '#e2e-demo');   // narrow: single column
  await shots([alice, bob], '1-loaded');
  for (const u of [alice, bob]) {
    // Fresh profiles: nothing yet, said so.
    await u.page.locator('#empty').waitFor({ state: 'visible', timeout: LONG });
  }

  await setName(alice, 'Alice');
  await setName(bob, 'Bob');

  // Each sees the other in the peer panel, connected, and follows from there.
  await followFromPanel(alice, bob);
  await followFromPanel(bob, alice);
  assert.equal(await peerRow(alice, bob).locator('.state').textContent(), 'direct');
  // Following brings the other's profile: the peer panel names them.
  await alice.page.locator(`#peers .peer[data-pubkey="${bob.pubkey}"] .peer-name`, { hasText: 'Bob' }).waitFor({ timeout: LONG });
  await bob.page.locator(`#peers .peer[data-pubkey="${alice.pubkey}"] .peer-name`, { hasText: 'Alice' }).waitFor({ timeout: LONG });
  await shots([alice, bob], '2-following');

  // Alice posts (Ctrl+Enter); Bob sees it, under her name.
  await alice.page.fill('#compose-text', 'hello from Alice');
  await alice.page.press('#compose-text', 'Control+Enter');
  await postByText(alice, 'hello from Alice').waitFor({ timeout: LONG });
  const atBob = postByText(bob, 'hello from Alice');
  await atBob.waitFor({ timeout: LONG });
  assert.equal(await atBob.locator('.author').textContent(), 'Alice');
  // Bob posts too (with the button), and Alice sees it.
  await bob.page.fill('#compose-text', 'hello from Bob');
  await bob.page.click('#post-button');
  await postByText(alice, 'hello from Bob').waitFor({ timeout: LONG });
  await shots([alice, bob], '3-posted');

  // Bob reacts "+"; Alice sees the count go to 1.
  await atBob.locator('button.react').click();
  await postByText(alice, 'hello from Alice').locator('.reaction-count', { hasText: /^1$/ }).waitFor({ timeout: LONG });
  await shots([alice, bob], '4-reacted');
  await sideBySide([alice, bob], `demo-${tagOf(browser)}side-by-side.png`);

  // Alice deletes her post; it disappears at Bob.
  await postByText(alice, 'hello from Alice').locator('button.delete').click();
  await postByText(alice, 'hello from Alice').waitFor({ state: 'detached', timeout: LONG });
  await atBob.waitFor({ state: 'detached', timeout: LONG });
  await shots([alice, bob], '5-deleted');

  // Bob mutes Alice (from one of her posts); her next post never shows up.
  await alice.page.fill('#compose-text', 'second from Alice');
  await alice.page.click('#post-button');
  await postByText(bob, 'second from Alice').waitFor({ timeout: LONG });
  await postByText(bob, 'second from Alice').locator('button.mute').click();
  await postByText(bob, 'second from Alice').waitFor({ state: 'detached', timeout: LONG });
  await bob.page.locator(`#muted .person[data-pubkey="${alice.pubkey}"]`).waitFor({ timeout: LONG });
  await sleep(1000); // let the mute list's own traffic settle
  const before = await bob.page.evaluate(() => window.hirobaRoom.stats().bytesReceived);
  await alice.page.fill('#compose-text', 'muted words from Alice');
  await alice.page.click('#post-button');
  await postByText(alice, 'muted words from Alice').waitFor({ timeout: LONG });
  // Wait until Bob's side has received the post's frame, then for its merge.
  await bob.page.waitForFunction((b) => window.hirobaRoom.stats().bytesReceived > b, before, { timeout: LONG });
  await sleep(1500);
  assert.equal(await postByText(bob, 'muted words from Alice').count(), 0);
  assert.equal(await bob.page.evaluate(async (a) => (await window.hirobaFeed.query({ authors: [a], kinds: [1] })).length, alice.pubkey), 0);
  await shots([alice, bob], '6-muted');

  // Bob reloads: his post (OPFS) and name are still there.
  await bob.page.reload();
  await postByText(bob, 'hello from Bob').waitFor({ timeout: LONG });
  assert.equal(await bob.page.inputValue('#name-input'), 'Bob');
  await shots([alice, bob], '7-reloaded');

  for (const u of [alice, bob]) {
    assert.equal(await u.page.locator('#banner').isHidden(), true, `${u.label}: error banner shown`);
  }
  assert.deepEqual([...alice.errors, ...bob.errors], []);
  await closeUsers();
}]);

// The user removed every relay (on a first visit: later visits keep it so).
const noRelays = () => { if (localStorage.getItem('hiroba-relays') === null) localStorage.setItem('hiroba-relays', '[]'); };

tests.push(['store and forward: A posts and leaves, C joins and gets the post from B', async (browser) => {
  const alice = await user(browser, 'fwd-alice', { width: 900, height: 700 }, '#e2e-forward', server, null, noRelays);
  const bob = await user(browser, 'fwd-bob', { width: 900, height: 700 }, '#e2e-forward', server, null, noRelays);
  await setName(alice, 'Alice');
  await followFromPanel(bob, alice);
  await alice.page.fill('#compose-text', 'Alice wrote this before she left');
  await alice.page.click('#post-button');
  await postByText(bob, 'Alice wrote this before she left').waitFor({ timeout: LONG });

  // Alice closes her browser. Bob's panel says so.
  await alice.profile.close();
  await peerRow(bob, alice, 'closed').waitFor({ timeout: LONG });
  await shot(bob, 'fwd-1-alice-gone');

  // Carol arrives, pastes Alice's key, and gets her post (and name) from Bob.
  const carol = await user(browser, 'fwd-carol', { width: 900, height: 700 }, '#e2e-forward', server, null, noRelays);
  assert.equal(await carol.page.locator('#relays .relay').count(), 0);
  await peerRow(carol, bob).waitFor({ timeout: LONG });
  await carol.page.fill('#follow-input', alice.pubkey);
  await carol.page.press('#follow-input', 'Enter');
  await carol.page.locator(`#following .person[data-pubkey="${alice.pubkey}"]`).waitFor({ timeout: LONG });
  const atCarol = postByText(carol, 'Alice wrote this before she left');
  await atCarol.waitFor({ timeout: LONG });
  await atCarol.locator('.author', { hasText: 'Alice' }).waitFor({ timeout: LONG });
  assert.equal(await carol.page.locator(`#peers .peer[data-pubkey="${alice.pubkey}"]`).count(), 0, 'Carol never met Alice');
  // The peer panel says where it came from: Bob.
  await carol.page.waitForFunction((b) => Number(document.querySelector(`#peers .peer[data-pubkey="${b}"] .received`)?.dataset.received) >= 2,
    bob.pubkey, { timeout: LONG });
  await shot(carol, 'fwd-2-carol');
  assert.deepEqual([...bob.errors, ...carol.errors], []);
  await closeUsers();
}]);

tests.push(['relay only (?ice=relay) through a real coturn: the panel says "relayed via TURN"', async (browser) => {
  const relayServer = await startTurnDemoServer();
  relayServers.push(relayServer);
  const { coturn } = relayServer;
  const alice = await user(browser, 'relay-alice', { width: 900, height: 700 }, '?ice=relay#e2e-relay', relayServer);
  const bob = await user(browser, 'relay-bob', { width: 900, height: 700 }, '?ice=relay#e2e-relay', relayServer);
  for (const [u, other] of [[alice, bob], [bob, alice]]) {
    await peerRow(u, other).waitFor({ timeout: LONG });
    await u.page.locator(`#peers .peer[data-pubkey="${other.pubkey}"][data-route="relayed"]`).waitFor({ timeout: LONG });
    assert.equal(await peerRow(u, other).locator('.state').textContent(), 'relayed via TURN');
  }
  await followFromPanel(bob, alice);
  await alice.page.fill('#compose-text', 'this one went through TURN');
  await alice.page.click('#post-button');
  await postByText(bob, 'this one went through TURN').waitFor({ timeout: LONG });
  await shots([alice, bob], 'relay');
  // coturn's own word: it allocated relays and carried the channel's data.
  assert.match(coturn.log(), /ALLOCATE processed, success/);
  assert.match(coturn.log(), /(CHANNEL_BIND|CREATE_PERMISSION) processed, success/);
  assert.deepEqual([...alice.errors, ...bob.errors], []);
  await closeUsers();
  await relayServers.pop().close();
}]);

tests.push(['a browser without OPFS, or without WebRTC, is told so plainly', async (browser) => {
  const noOpfs = await user(browser, 'no-opfs', { width: 800, height: 500 }, '#e2e-lacking', server,
    () => { delete Object.getPrototypeOf(navigator.storage).getDirectory; });
  const box = noOpfs.page.locator('#unsupported');
  await box.waitFor({ timeout: LONG });
  assert.match(await box.textContent(), /lacks the Origin Private File System \(OPFS\)/);
  assert.equal(await noOpfs.page.locator('#app').getAttribute('aria-busy'), 'false');
  await shot(noOpfs, 'lacking-opfs');

  // Without WebRTC the feed still works locally; the room says why it is empty.
  const noRtc = await user(browser, 'no-webrtc', { width: 800, height: 600 }, '#e2e-lacking', server,
    () => { delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection; });
  await noRtc.page.locator('#room-status', { hasText: 'no WebRTC' }).waitFor({ timeout: LONG });
  assert.match(await noRtc.page.locator('#no-peers').textContent(), /lacks WebRTC/);
  await noRtc.page.fill('#compose-text', 'kept locally');
  await noRtc.page.click('#post-button');
  await postByText(noRtc, 'kept locally').waitFor({ timeout: LONG });
  await shot(noRtc, 'lacking-webrtc');
  assert.deepEqual([...noOpfs.errors, ...noRtc.errors], []);
  await closeUsers();
}]);

tests.push(['a malformed room name in the URL (#50%) is taken as typed, not a stuck page', async (browser) => {
  const u = await user(browser, 'bad-hash', { width: 800, height: 600 }, '#50%25%', server);
  const room = `${tagOf(browser)}50%25%`;
  assert.equal(await u.page.locator('#room-name').textContent(), room);
  await u.page.locator('#room-status', { hasText: `Room “${room}”` }).waitFor({ timeout: LONG });
  assert.deepEqual(u.errors, []);
  await closeUsers();
}]);

// The timeline of `u`, as the ids shown, top to bottom.
const shownIds = (u) => u.page.locator('#timeline .post').evaluateAll((rows) => rows.map((r) => r.dataset.id));
// What it should show: the newest 100 posts of u and those u follows
// (feed.query's order: newest first, ties by id).
const expectedIds = (u) => u.page.evaluate(async () => {
  const feed = window.hirobaFeed;
  const authors = [(await feed.identity()).pubkey, ...await feed.following()];
  return (await feed.query({ kinds: [1], authors, limit: 100 })).map((e) => e.id);
});
const stats = (u) => u.page.evaluate(() => ({ ...window.__hirobaDemoStats }));

tests.push(['live timeline: a second tab\'s post and a followed peer\'s synced posts appear without reload, at the cost of a render per frame', async (browser) => {
  const N = 300;
  const dave = await user(browser, 'live-dave', { width: 1000, height: 800 }, '#e2e-live', server, null, noRelays);
  await dave.page.locator('#empty').waitFor({ state: 'visible', timeout: LONG });

  // A second tab on the same feed (in a room of its own: one key joining
  // the same room twice would take its own place at the signaling server).
  const tab = await dave.profile.newPage();
  const tabErrors = tab.errors;
  await tab.goto(`${server.url}#${tagOf(browser)}e2e-live-tab`);
  await tab.locator('#my-pubkey[data-pubkey]').waitFor({ timeout: LONG });
  assert.equal(await tab.locator('#my-pubkey').getAttribute('data-pubkey'), dave.pubkey);
  await tab.fill('#compose-text', 'from the second tab');
  await tab.click('#post-button');
  await postByText(dave, 'from the second tab').waitFor({ timeout: LONG });
  await tab.close();

  // Erin writes N posts, names herself and reacts to her newest post, all
  // before Dave follows her: they reach him by sync, in a burst.
  const erin = await user(browser, 'live-erin', { width: 900, height: 700 }, '#e2e-live', server, null, noRelays);
  await setName(erin, 'Erin');
  const newest = await erin.page.evaluate(async (n) => {
    let last = null;
    for (let i = 1; i <= n; i++) last = await window.hirobaFeed.post(`Erin's post ${i} of ${n}`);
    await window.hirobaFeed.react(last.id);
    return last.id;
  }, N);
  await peerRow(dave, erin).waitFor({ timeout: LONG });
  const before = await stats(dave);
  // The DOM's own count, independent of the page's: batches of changes to
  // the timeline's rows.
  await dave.page.evaluate(() => {
    window.timelineChanges = 0;
    new MutationObserver(() => { window.timelineChanges++; }).observe(document.getElementById('timeline'), { childList: true });
  });
  await followFromPanel(dave, erin);
  const top = dave.page.locator(`#timeline .post[data-id="${newest}"]`);
  await top.locator('.author', { hasText: 'Erin' }).waitFor({ timeout: LONG });
  await top.locator('.reaction-count', { hasText: /^1$/ }).waitFor({ timeout: LONG });
  await dave.page.waitForFunction(async ({ erin, n }) => await window.hirobaFeed.count({ kinds: [1], authors: [erin] }) === n,
    { erin: erin.pubkey, n: N }, { timeout: LONG });
  await sleep(500);   // the last frames
  const after = await stats(dave);
  const changes = await dave.page.evaluate(() => window.timelineChanges);
  assert.deepEqual(await shownIds(dave), await expectedIds(dave));
  assert.equal((await shownIds(dave)).length, 100);
  console.log('dave: delivering', N, 'posts by sync:', { events: after.events - before.events,
    queries: after.queries - before.queries, renders: after.renders - before.renders, changes });
  assert.ok(after.events - before.events >= N, 'every post was delivered to the page');
  assert.ok(after.renders - before.renders < N / 10, `${after.renders - before.renders} renders for ${N} posts`);
  assert.ok(after.queries - before.queries < N / 10, `${after.queries - before.queries} queries for ${N} posts`);
  assert.ok(changes <= after.renders - before.renders, `${changes} changes to the timeline for ${N} posts`);

  // Live: Erin's next post goes on top; her deleting it takes it away.
  await erin.page.fill('#compose-text', 'Erin, live');
  await erin.page.click('#post-button');
  await dave.page.locator('#timeline .post:first-child .post-content', { hasText: 'Erin, live' }).waitFor({ timeout: LONG });
  // The window only: a hundred posts make the whole page 13,000 pixels tall.
  await dave.page.screenshot({ path: join(OUT, `demo-live-1-synced-${dave.label}.png`) });
  await postByText(erin, 'Erin, live').locator('button.delete').click();
  await postByText(dave, 'Erin, live').waitFor({ state: 'detached', timeout: LONG });
  await dave.page.waitForFunction(() => document.querySelectorAll('#timeline .post').length === 100, null, { timeout: LONG });
  assert.deepEqual(await shownIds(dave), await expectedIds(dave));

  // Unfollowing resubscribes: only Dave's own post is left.
  await peerRow(dave, erin).locator('button.unfollow').click();
  await dave.page.waitForFunction(() => document.querySelectorAll('#timeline .post').length === 1, null, { timeout: LONG });
  assert.deepEqual(await shownIds(dave), await expectedIds(dave));
  await shot(dave, 'live-2-unfollowed');
  assert.deepEqual([...dave.errors, ...tabErrors, ...erin.errors], []);
  await closeUsers();
}]);

for (const browser of BROWSERS) {
  for (const [name, fn] of tests) test(`${name} [${browser}]`, () => fn(browser));
}

// createSyncAccessHandle() exists only in workers, where no init script
// reaches: the feed's worker is served with a first line that removes it,
// or that makes it fail as WebKitGTK's does (the method there, no backend
// for it), as such a browser would be (playwright's route, so Chromium only).
const SYNC_HANDLES_GONE = {
  missing: 'delete FileSystemFileHandle.prototype.createSyncAccessHandle;',
  'without a backend': 'FileSystemFileHandle.prototype.createSyncAccessHandle = async () => { '
    + 'throw new DOMException("Backend does not support this operation", "NotSupportedError"); };',
};
for (const [how, firstLine] of Object.entries(SYNC_HANDLES_GONE)) {
  test(`a browser whose workers lack OPFS sync access handles (${how}) is told so plainly [chromium]`,
    { skip: !BROWSERS.includes('chromium') && 'needs chromium in HIROBA_BROWSERS' }, async () => {
      const profile = await launchBrowser('chromium');
      profiles.push(profile);
      await profile.context.route('**/hiroba/js-glue/worker.js', async (route) => {
        const response = await route.fetch();
        await route.fulfill({ response, body: `${firstLine}\n${await response.text()}` });
      });
      const page = await profile.newPage();
      await page.goto(`${server.url}#e2e-lacking`);
      const box = page.locator('#unsupported');
      await box.waitFor({ timeout: LONG });
      assert.match(await box.textContent(), /lacks OPFS sync access handles \(FileSystemFileHandle\.createSyncAccessHandle in a dedicated worker\)/);
      assert.equal(await page.locator('#app').getAttribute('aria-busy'), 'false');
      assert.equal(await page.evaluate(() => window.hirobaFeed), undefined);
      await page.screenshot({ path: join(OUT, `demo-lacking-sync-handles-${how.replace(/ /g, '-')}.png`), fullPage: true });
      // The page's unsupported() cannot see it (not there on any page): null.
      assert.equal(await page.evaluate(async () => (await import('/hiroba/js-glue/index.js')).unsupported()), null);
      assert.deepEqual(page.errors, []);
      await closeUsers();
    });
}
