// demo-sns.test.js -- the demo page's social views, driven like a user
// would, once per browser of HIROBA_BROWSERS:
//   1. Alice and Bob meet in a room and fill in their profiles, each with
//      a picture on an https server of this test's own (it counts hits).
//      Alice, after following and unfollowing Bob, opens his profile: a
//      placeholder, and no request for his picture; she follows him there
//      and the picture loads (lazily, without a referrer). Bob replies to
//      Alice's post and reacts to it; Alice replies to the reply (NIP-10
//      tags); the thread view nests them; Alice's notifications count and
//      list Bob's reply and reaction. Bob's "@Alice" becomes a nostr:npub
//      mention with a "p" tag and shows as a link to her profile. Alice
//      mutes and unmutes Bob from his profile. Reload and back keep the view.
//   2. Paging: with more posts than a page, "Load older posts" brings the
//      older ones, in order, on the timeline and on a profile.
// Screenshots go to test-output/e2e/sns-<step>-<user>.png (Firefox's
// sns-<step>-firefox-<user>.png).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { BROWSERS, launchBrowser, startDemoServer } from './harness.js';

const OUT = fileURLToPath(new URL('../../test-output/e2e/', import.meta.url));
const LONG = 60_000;

let server;
let pictures;
const profiles = [];

// An https server with a self-signed certificate for 127.0.0.1 (the
// browsers are told to accept it) serving an SVG picture at any path and
// counting the requests per path.
async function startPictureServer() {
  const dir = await mkdtemp(join(tmpdir(), 'hiroba-pictures-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const hits = new Map();
  const https = createServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, (req, res) => {
    const path = new URL(req.url, 'https://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const hue = [...path].reduce((a, c) => a + c.charCodeAt(0), 0) % 360;
    res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'no-store' }).end(
      `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="hsl(${hue} 70% 50%)"/>`
      + '<circle cx="5" cy="4" r="2" fill="#fff"/><rect x="2" y="7" width="6" height="3" rx="1.5" fill="#fff"/></svg>');
  });
  await new Promise((resolve) => https.listen(0, '127.0.0.1', resolve));
  return {
    url: (path) => `https://127.0.0.1:${https.address().port}${path}`,
    hits: (path) => hits.get(path) ?? 0,
    close: async () => {
      https.closeAllConnections();
      await new Promise((resolve) => https.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

before(async () => {
  await mkdir(OUT, { recursive: true });
  server = await startDemoServer();
  pictures = await startPictureServer();
});

after(async () => {
  for (const p of profiles) await p.close();
  await server?.close();
  await pictures?.close();
});

async function closeUsers() {
  for (const p of profiles.splice(0)) await p.close();
}

const tagOf = (browser) => (browser === 'chromium' ? '' : `${browser}-`);

// A user: a fresh profile with the page open in `room` (the browser's tag
// in front), at `route` within it.
async function user(browser, label, viewport, room, route = '') {
  const profile = await launchBrowser(browser, { insecureCerts: true });
  profiles.push(profile);
  const page = await profile.newPage();
  await page.setViewportSize(viewport);
  const roomRaw = `${tagOf(browser)}${room}`;
  await page.goto(`${server.url}#${roomRaw}${route}`);
  await page.locator('#my-pubkey[data-pubkey]').waitFor({ timeout: LONG });
  const pubkey = await page.locator('#my-pubkey').getAttribute('data-pubkey');
  return { label: `${tagOf(browser)}${label}`, page, errors: page.errors, pubkey, profile, room: roomRaw };
}

// Goes to a route of u's room by the address bar (as a pasted link would).
const go = (u, route) => u.page.evaluate((hash) => { location.hash = hash; }, `#${u.room}${route}`);

async function setProfile(u, { name, about, picture }) {
  await u.page.fill('#name-input', name);
  await u.page.fill('#about-input', about);
  await u.page.fill('#picture-input', picture);
  await u.page.click('#name-form button[type=submit]');
  await u.page.waitForFunction(async (p) => (await window.hirobaFeed.profile())?.picture === p, picture, { timeout: LONG });
}

const peerRow = (u, other, state = 'open') => u.page.locator(`#peers .peer[data-pubkey="${other.pubkey}"][data-state="${state}"]`);
const postIn = (u, list, text) => u.page.locator(`${list} .post`, { has: u.page.locator('.post-content', { hasText: text }) });
const shot = (u, step) => u.page.screenshot({ path: join(OUT, `sns-${step}-${u.label}.png`), fullPage: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const eventOf = (u, text) => u.page.evaluate(async (t) => (await window.hirobaFeed.query({ kinds: [1] })).find((e) => e.content === t), text);

async function reply(u, list, parentText, text, { keys = false } = {}) {
  const row = postIn(u, list, parentText);
  await row.locator('button.reply').click();
  await row.locator('textarea.reply-text').waitFor({ timeout: LONG });
  await row.locator('textarea.reply-text').fill(text);
  if (keys) await row.locator('textarea.reply-text').press('Control+Enter');
  else await row.locator('.reply-form button[type=submit]').click();
  await row.locator('.reply-form').waitFor({ state: 'detached', timeout: LONG });
}

const tests = [];

tests.push(['social views: replies, thread, notifications, profile with follow and mute, mentions, pictures', async (browser) => {
  const alice = await user(browser, 'alice', { width: 1000, height: 800 }, 'e2e-sns', '/notifications');
  const bob = await user(browser, 'bob', { width: 1000, height: 800 }, 'e2e-sns', '/notifications');
  const alicePic = `/alice-${browser}.svg`;
  const bobPic = `/bob-${browser}.svg`;
  await setProfile(alice, { name: 'Alice', about: 'Writes one-liners.', picture: pictures.url(alicePic) });
  await setProfile(bob, { name: 'Bob', about: 'Replies to everything.', picture: pictures.url(bobPic) });

  // Bob follows Alice. Alice follows Bob (bringing his profile) and
  // unfollows him again: to her he is a stranger whose profile she holds.
  for (const [u, other] of [[bob, alice], [alice, bob]]) {
    await peerRow(u, other).waitFor({ timeout: LONG });
    await peerRow(u, other).locator('button.follow').click();
    await peerRow(u, other).locator('button.unfollow').waitFor({ timeout: LONG });
  }
  await alice.page.locator(`#peers .peer[data-pubkey="${bob.pubkey}"] .peer-name`, { hasText: 'Bob' }).waitFor({ timeout: LONG });
  await alice.page.waitForFunction(async (b) => (await window.hirobaFeed.profile(b))?.picture, bob.pubkey, { timeout: LONG });
  await peerRow(alice, bob).locator('button.unfollow').click();
  await peerRow(alice, bob).locator('button.follow').waitFor({ timeout: LONG });

  // His profile: name and about, his picture not loaded (a placeholder).
  await go(alice, `/profile/${bob.pubkey}`);
  await alice.page.locator('#profile-name', { hasText: 'Bob' }).waitFor({ timeout: LONG });
  assert.equal(await alice.page.locator('#profile-about').textContent(), 'Replies to everything.');
  await alice.page.locator('#profile-card .avatar.placeholder').waitFor({ timeout: LONG });
  await sleep(1000);
  assert.equal(await alice.page.locator(`img[src$="${bobPic}"]`).count(), 0);
  assert.equal(pictures.hits(bobPic), 0, "a stranger's picture was requested");
  // Following him there loads it, lazily and without a referrer.
  await alice.page.click('#profile-follow');
  await alice.page.locator('#profile-follow', { hasText: 'Unfollow' }).waitFor({ timeout: LONG });
  const img = alice.page.locator('#profile-card img.avatar');
  await img.waitFor({ timeout: LONG });
  assert.equal(await img.getAttribute('src'), pictures.url(bobPic));
  assert.equal(await img.getAttribute('loading'), 'lazy');
  assert.equal(await img.getAttribute('referrerpolicy'), 'no-referrer');
  for (let i = 0; i < 100 && pictures.hits(bobPic) === 0; i++) await sleep(100);
  assert.ok(pictures.hits(bobPic) > 0, "a followed author's picture was not loaded");

  // Alice posts from the timeline; Bob replies to it and reacts.
  await alice.page.click('#nav-home');
  await alice.page.fill('#compose-text', 'Anyone up for a walk?');
  await alice.page.click('#post-button');
  await bob.page.click('#nav-home');
  await postIn(bob, '#timeline', 'Anyone up for a walk?').waitFor({ timeout: LONG });
  await reply(bob, '#timeline', 'Anyone up for a walk?', 'Yes, at noon!');
  await postIn(bob, '#timeline', 'Anyone up for a walk?').locator('button.react').click();
  const root = await eventOf(alice, 'Anyone up for a walk?');
  const bobsReply = await eventOf(bob, 'Yes, at noon!');
  assert.deepEqual(bobsReply.tags, [['e', root.id, '', 'root'], ['p', alice.pubkey]]);

  // Alice's notifications: an unread count, then Bob's reply and reaction.
  await alice.page.locator('#notif-count', { hasText: /^2$/ }).waitFor({ timeout: LONG });
  await alice.page.click('#nav-notifications');
  await alice.page.locator('#notes .note-reply', { hasText: 'Yes, at noon!' }).waitFor({ timeout: LONG });
  await alice.page.locator('#notes .note-reaction', { hasText: 'Bob reacted +' }).waitFor({ timeout: LONG });
  await alice.page.locator('#notes .note-reaction .quoted', { hasText: 'Anyone up for a walk?' }).waitFor({ timeout: LONG });
  await alice.page.locator('#notif-count').waitFor({ state: 'hidden', timeout: LONG });
  await shot(alice, '1-notifications');

  // From the notification to the thread; Alice replies to Bob's reply there.
  await alice.page.locator('#notes .note-reply .note-content').click();
  await postIn(alice, '#thread', 'Yes, at noon!').waitFor({ timeout: LONG });
  await reply(alice, '#thread', 'Yes, at noon!', 'Noon it is.', { keys: true });
  const alicesReply = await eventOf(alice, 'Noon it is.');
  assert.deepEqual(alicesReply.tags, [['e', root.id, '', 'root'], ['e', bobsReply.id, '', 'reply'], ['p', bob.pubkey]]);

  // Bob opens the thread from the reply count: nested, in reading order.
  const atBob = postIn(bob, '#timeline', 'Anyone up for a walk?');
  await atBob.locator('.replies', { hasText: '2 replies' }).waitFor({ timeout: LONG });
  await atBob.locator('.replies').click();
  await postIn(bob, '#thread', 'Noon it is.').waitFor({ timeout: LONG });
  const rows = await bob.page.locator('#thread .post').evaluateAll((r) => r.map((x) => [x.querySelector('.post-content').textContent, x.dataset.depth]));
  assert.deepEqual(rows, [['Anyone up for a walk?', '0'], ['Yes, at noon!', '1'], ['Noon it is.', '2']]);
  assert.ok(bob.page.raw.url().endsWith(`#${bob.room}/thread/${root.id}`));
  await shot(bob, '2-thread');
  // A reload keeps the view; back returns to the timeline.
  await bob.page.reload();
  await postIn(bob, '#thread', 'Noon it is.').waitFor({ timeout: LONG });
  await bob.page.evaluate(() => history.back());
  await postIn(bob, '#timeline', 'Anyone up for a walk?').waitFor({ timeout: LONG });
  assert.equal(await bob.page.locator('#view').isHidden(), true);

  // Bob mentions Alice by name: a nostr:npub and a "p" tag, shown as a link.
  await bob.page.fill('#compose-text', 'Thanks @Alice for the idea');
  await bob.page.click('#post-button');
  await postIn(bob, '#timeline', 'Thanks').waitFor({ timeout: LONG });
  const mention = await bob.page.evaluate(async (b) => (await window.hirobaFeed.query({ kinds: [1], authors: [b], limit: 1 }))[0], bob.pubkey);
  assert.match(mention.content, /^Thanks nostr:npub1[02-9ac-hj-np-z]{58} for the idea$/);
  assert.deepEqual(mention.tags, [['p', alice.pubkey]]);
  const link = alice.page.locator('#timeline .post-content a.mention', { hasText: '@Alice' });
  await alice.page.click('#nav-home');
  await link.waitFor({ timeout: LONG });
  assert.equal(await link.getAttribute('href'), `#${alice.room}/profile/${alice.pubkey}`);
  await link.click();
  await alice.page.locator('#profile-name', { hasText: 'Alice' }).waitFor({ timeout: LONG });

  // Bob's profile at Alice: his posts, newest first; mute hides them, unmute brings them back.
  await go(alice, `/profile/${bob.pubkey}`);
  await alice.page.locator('#profile-posts .post', { hasText: 'Thanks' }).waitFor({ timeout: LONG });
  const texts = await alice.page.locator('#profile-posts .post-content').evaluateAll((r) => r.map((x) => x.textContent));
  assert.deepEqual(texts, ['Thanks @Alice for the idea', 'Yes, at noon!']);
  await shot(alice, '3-profile');
  await alice.page.click('#profile-mute');
  await alice.page.locator('#profile-mute', { hasText: 'Unmute' }).waitFor({ timeout: LONG });
  await alice.page.locator('#profile-posts .post').waitFor({ state: 'detached', timeout: LONG });
  await alice.page.locator('#profile-empty', { hasText: 'Muted' }).waitFor({ timeout: LONG });
  await alice.page.click('#profile-mute');
  await alice.page.locator('#profile-mute', { hasText: /^Mute$/ }).waitFor({ timeout: LONG });
  await alice.page.locator('#profile-posts .post', { hasText: 'Thanks' }).waitFor({ timeout: LONG });

  for (const u of [alice, bob]) {
    assert.equal(await u.page.locator('#banner').isHidden(), true, `${u.label}: error banner shown`);
  }
  assert.deepEqual([...alice.errors, ...bob.errors], []);
  await closeUsers();
}]);

tests.push(['paging: "Load older posts" brings the older ones in order, on the timeline and a profile', async (browser) => {
  const N = 130;
  const u = await user(browser, 'pager', { width: 1000, height: 800 }, 'e2e-sns-paging');
  await u.page.evaluate(async (n) => {
    for (let i = 1; i <= n; i++) await window.hirobaFeed.post(`Post ${i} of ${n}`);
  }, N);
  const expected = await u.page.evaluate(async () => (await window.hirobaFeed.query({ kinds: [1] })).map((e) => e.id));
  assert.equal(expected.length, N);
  const ids = (list) => u.page.locator(`${list} .post`).evaluateAll((r) => r.map((x) => x.dataset.id));
  for (const [list, button, route] of [['#timeline', '#timeline-older', ''], ['#profile-posts', '#profile-older button', `/profile/${u.pubkey}`]]) {
    if (route) await go(u, route);
    await u.page.waitForFunction((l) => document.querySelectorAll(`${l} .post`).length === 100, list, { timeout: LONG });
    assert.deepEqual(await ids(list), expected.slice(0, 100));
    await u.page.click(button);
    await u.page.waitForFunction((l) => document.querySelectorAll(`${l} .post`).length === 130, list, { timeout: LONG });
    assert.deepEqual(await ids(list), expected);
    await u.page.locator(button).waitFor({ state: 'hidden', timeout: LONG });
  }
  assert.deepEqual(u.errors, []);
  await closeUsers();
}]);

for (const browser of BROWSERS) {
  for (const [name, fn] of tests) test(`${name} [${browser}]`, () => fn(browser));
}
