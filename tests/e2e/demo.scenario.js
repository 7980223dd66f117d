// NOT RUN by make test yet: fails intermittently when both pages join the
// room at once (a glare bug in js-glue/peer.js; see the issue 6 note).
// Run by hand: node --test tests/e2e/demo.scenario.js
// demo.test.js -- the demo page (web/index.html + app.js) driven like a
// user would: two Chromium profiles open the dev server's page in one room,
// name themselves, follow each other from the peer panel, post, react,
// delete, mute, and reload. Screenshots of both windows at each step go to
// test-output/e2e/demo-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startServer } from '../../web/server.js';
import { launchProfile, watchErrors } from './harness.js';

const OUT = fileURLToPath(new URL('../../test-output/e2e/', import.meta.url));
const LONG = 60_000;

let server;
const profiles = [];

before(async () => {
  await mkdir(OUT, { recursive: true });
  server = await startServer({ port: 0, turnEnv: {} });
});

after(async () => {
  for (const p of profiles) await p.close();
  await server?.close();
});

async function user(label, viewport) {
  const profile = await launchProfile();
  profiles.push(profile);
  const page = await profile.context.newPage();
  await page.setViewportSize(viewport);
  const errors = watchErrors(page);
  await page.goto(`${server.url}#e2e-demo`);
  await page.locator('#my-pubkey[data-pubkey]').waitFor({ timeout: LONG });
  const pubkey = await page.locator('#my-pubkey').getAttribute('data-pubkey');
  return { label, page, errors, pubkey };
}

const shot = (u, step) => u.page.screenshot({ path: join(OUT, `demo-${step}-${u.label}.png`), fullPage: true });
const shots = (users, step) => Promise.all(users.map((u) => shot(u, step)));
const postByText = (u, text) => u.page.locator('#timeline .post', { has: u.page.locator('.post-content', { hasText: text }) });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('demo page: two users meet, follow, post, react, delete, mute, reload', async () => {
  const alice = await user('alice', { width: 1100, height: 800 });
  const bob = await user('bob', { width: 400, height: 860 });   // narrow: single column
  await shots([alice, bob], '1-loaded');
  for (const u of [alice, bob]) {
    // Fresh profiles: nothing yet, said so.
    await u.page.locator('#empty').waitFor({ state: 'visible', timeout: LONG });
  }

  // Names.
  for (const [u, name] of [[alice, 'Alice'], [bob, 'Bob']]) {
    await u.page.fill('#name-input', name);
    await u.page.click('#name-form button[type=submit]');
    await u.page.waitForFunction(async (n) => (await window.hirobaFeed.profile())?.name === n, name, { timeout: LONG });
  }

  // Each sees the other in the peer panel, connected, and follows from there.
  for (const [u, other] of [[alice, bob], [bob, alice]]) {
    const peer = u.page.locator(`#peers .peer[data-pubkey="${other.pubkey}"][data-state="open"]`);
    await peer.waitFor({ timeout: LONG });
    await peer.locator('button.follow').click();
    await peer.locator('button.unfollow').waitFor({ timeout: LONG });
  }
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
});
