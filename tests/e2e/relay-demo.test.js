// relay-demo.test.js -- the demo page's Relays panel, driven like a user
// would, with no two users ever meeting over WebRTC (each is in a room of
// their own): the dev server's relay (/relay, the page's default) is all
// that carries posts between them.
//   1. Alice names herself, posts and reacts to her own post; the panel
//      says the relay took it all. Bad relay URLs get an inline error.
//      Alice closes her browser.
//   2. Carol, in a fresh profile, follows Alice's key and gets the post,
//      the name and the reaction from the relay alone.
//   3. Alice comes back while the relay is unreachable (its WebSocket
//      upgrade refused): her page opens from OPFS, she posts, the panel
//      says the post waits for the relay -- across a reload too. The relay
//      comes back; her outbox delivers the post and Carol sees it.
//   4. Carol removes the relay; the page remembers that after a reload.
// Once per browser of HIROBA_BROWSERS. Screenshots go to
// test-output/e2e/relay-demo-*.png (Firefox's to relay-demo-firefox-*.png).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { BROWSERS, launchBrowser, startDemoServer } from './harness.js';

const OUT = fileURLToPath(new URL('../../test-output/e2e/', import.meta.url));
const LONG = 60_000;

let server;
const profiles = [];
const keptDirs = [];

before(async () => {
  await mkdir(OUT, { recursive: true });
  server = await startDemoServer();
});

after(async () => {
  for (const p of profiles) await p.close();
  for (const dir of keptDirs) await rm(dir, { recursive: true, force: true });
  await server?.close();
});

// A user's page in a browser on a profile (fresh, or `dir` again), opened
// at `path`.
async function open(browser, label, path, { dir, keepDir = false, viewport = { width: 1000, height: 900 } } = {}) {
  const profile = await launchBrowser(browser, { dir, keepDir });
  profiles.push(profile);
  if (keepDir && !keptDirs.includes(profile.dir)) keptDirs.push(profile.dir);
  const page = await profile.newPage();
  await page.setViewportSize(viewport);
  await page.goto(`${server.url}${path}`);
  await page.locator('#my-pubkey[data-pubkey]').waitFor({ timeout: LONG });
  const pubkey = await page.locator('#my-pubkey').getAttribute('data-pubkey');
  const tag = browser === 'chromium' ? '' : `${browser}-`;
  return { label: `${tag}${label}`, page, errors: page.errors, pubkey, profile };
}

const relayRow = (u, url = server.relayUrl) => u.page.locator(`#relays .relay[data-url="${url}"]`);
const postByText = (u, text) => u.page.locator('#timeline .post', { has: u.page.locator('.post-content', { hasText: text }) });
const shot = (u, step) => u.page.screenshot({ path: join(OUT, `relay-demo-${step}-${u.label}.png`), fullPage: true });
const relayStats = (u, url = server.relayUrl) => u.page.evaluate((url) => window.hirobaRelays.get(url)?.handle?.stats(), url);

async function waitRelay(u, what, pred, url = server.relayUrl) {
  await u.page.waitForFunction(({ url, pred }) => {
    const s = window.hirobaRelays.get(url)?.handle?.stats();
    return s && new Function('s', `return ${pred}`)(s);
  }, { url, pred }, { timeout: LONG }).catch(async (err) => {
    throw new Error(`${u.label}: waiting for relay ${what}: ${JSON.stringify(await relayStats(u, url))}: ${err.message}`);
  });
}

async function post(u, text) {
  await u.page.fill('#compose-text', text);
  await u.page.click('#post-button');
  await postByText(u, text).waitFor({ timeout: LONG });
}

// The browser says so on the console when a WebSocket cannot connect
// (Chromium and Firefox in their words): expected while the relay is
// down, nothing else is.
const unexpected = (errors) => errors.filter((e) => !/WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/relay' failed|can.t establish a connection to the server at ws:\/\/127\.0\.0\.1:\d+\/relay/.test(e));

for (const browser of BROWSERS) {
  test(`relays panel: posts, a name and a reaction reach a reader through the relay alone; the outbox delivers what was written offline [${browser}]`, () => relayPanel(browser));
}

async function relayPanel(browser) {
  // Each browser's users in rooms of their own.
  const room = (name) => `#e2e-relay-${name}-${browser}`;
  // --- 1. Alice, her own room: nobody to meet over WebRTC ----------------------
  let alice = await open(browser, 'alice', room('alice'), { keepDir: true });
  const aliceDir = alice.profile.dir;
  // The dev server's relay is listed on a first visit, and connects.
  assert.deepEqual(await alice.page.locator('#relays .relay').evaluateAll((rows) => rows.map((r) => r.dataset.url)), [server.relayUrl]);
  await relayRow(alice).locator('.state', { hasText: 'open' }).waitFor({ timeout: LONG });
  await waitRelay(alice, 'in sync', 's.done');
  assert.equal(await relayRow(alice).locator('.relay-mode').textContent(), 'NIP-77');

  await alice.page.fill('#name-input', 'Alice');
  await alice.page.click('#name-form button[type=submit]');
  await alice.page.waitForFunction(async () => (await window.hirobaFeed.profile())?.name === 'Alice', null, { timeout: LONG });
  await post(alice, 'Alice, through the relay');
  await postByText(alice, 'Alice, through the relay').locator('button.react').click();
  await postByText(alice, 'Alice, through the relay').locator('.reaction-count', { hasText: /^1$/ }).waitFor({ timeout: LONG });
  // The relay acknowledged all three (profile, post, reaction): nothing owed.
  await waitRelay(alice, 'to take profile, post and reaction', 's.pushed >= 3 && s.outbox === 0');
  await relayRow(alice).locator('.waiting').waitFor({ state: 'detached', timeout: LONG });

  // Bad URLs are refused inline, and nothing is added.
  for (const [typed, message] of [
    ['https://relay.damus.io', /starts with wss:\/\//],
    ['relay.damus.io', /is not a URL/],
    ['', /Type a relay URL/],
    [server.relayUrl, /in the list already/],
  ]) {
    await alice.page.fill('#relay-input', typed);
    await alice.page.click('#relay-form button[type=submit]');
    const error = alice.page.locator('#relay-error');
    await error.waitFor({ state: 'visible', timeout: LONG });
    assert.match(await error.textContent(), message, `for ${JSON.stringify(typed)}`);
    assert.equal(await alice.page.getAttribute('#relay-input', 'aria-invalid'), 'true');
  }
  assert.equal(await alice.page.locator('#relays .relay').count(), 1);
  await alice.page.fill('#relay-input', 'https://relay.damus.io');
  await alice.page.click('#relay-form button[type=submit]');
  await shot(alice, '1-posted');
  // Typing again clears the error.
  await alice.page.fill('#relay-input', 'wss://');
  assert.equal(await alice.page.locator('#relay-error').isHidden(), true);
  assert.deepEqual(unexpected(alice.errors), []);
  await alice.profile.close();   // her browser closes; the profile stays on disk

  // --- 2. Carol, her own room: follows Alice's key, gets it all from the relay --
  const carol = await open(browser, 'carol', room('carol'), { viewport: { width: 1000, height: 900 } });
  await waitRelay(carol, 'in sync', 's.done');
  await carol.page.fill('#follow-input', alice.pubkey);
  await carol.page.press('#follow-input', 'Enter');
  await carol.page.locator(`#following .person[data-pubkey="${alice.pubkey}"]`).waitFor({ timeout: LONG });
  const atCarol = postByText(carol, 'Alice, through the relay');
  await atCarol.waitFor({ timeout: LONG });
  await atCarol.locator('.author', { hasText: 'Alice' }).waitFor({ timeout: LONG });
  await atCarol.locator('.reaction-count', { hasText: /^1$/ }).waitFor({ timeout: LONG });
  // The panel says where they came from; nobody was met over WebRTC.
  await waitRelay(carol, 'to bring 3 events', 's.received >= 3 && s.done');
  await carol.page.waitForFunction((url) => Number(document.querySelector(`#relays .relay[data-url="${url}"] .received`)?.dataset.received) >= 3,
    server.relayUrl, { timeout: LONG });
  assert.equal(await carol.page.locator('#peers .peer').count(), 0);
  await shot(carol, '2-followed');

  // --- 3. The relay is unreachable; Alice comes back and posts offline ----------
  server.setRelayReachable(false);
  alice = await open(browser, 'alice', room('alice'), { dir: aliceDir, keepDir: true });
  await postByText(alice, 'Alice, through the relay').waitFor({ timeout: LONG });   // from OPFS
  await relayRow(alice).locator('.state', { hasText: 'offline' }).waitFor({ timeout: LONG });
  await post(alice, 'Alice, written while the relay was down');
  await relayRow(alice).locator('.waiting[data-waiting="1"]').waitFor({ timeout: LONG });
  await shot(alice, '3-offline');
  // The outbox outlives a reload.
  await alice.page.reload();
  await postByText(alice, 'Alice, written while the relay was down').waitFor({ timeout: LONG });
  await relayRow(alice).locator('.state', { hasText: 'offline' }).waitFor({ timeout: LONG });
  await relayRow(alice).locator('.waiting[data-waiting="1"]').waitFor({ timeout: LONG });
  assert.equal(await postByText(carol, 'Alice, written while the relay was down').count(), 0);

  // The relay comes back: Alice's page reconnects on its own and delivers.
  server.setRelayReachable(true);
  await relayRow(alice).locator('.state', { hasText: 'open' }).waitFor({ timeout: LONG });
  await waitRelay(alice, 'to take the offline post', 's.outbox === 0 && s.pushed >= 1');
  await postByText(carol, 'Alice, written while the relay was down').locator('.author', { hasText: 'Alice' }).waitFor({ timeout: LONG });
  await relayRow(alice).locator('.waiting').waitFor({ state: 'detached', timeout: LONG });
  await shot(alice, '4-back');
  await shot(carol, '4-received');
  assert.equal(await alice.page.locator('#peers .peer').count(), 0);
  assert.equal(await carol.page.locator('#peers .peer').count(), 0);

  // --- 4. Carol removes the relay; that is remembered -----------------------------
  await relayRow(carol).locator('button.remove-relay').click();
  await relayRow(carol).waitFor({ state: 'detached', timeout: LONG });
  await carol.page.locator('#no-relays').waitFor({ state: 'visible', timeout: LONG });
  await carol.page.reload();
  await postByText(carol, 'Alice, written while the relay was down').waitFor({ timeout: LONG });
  await carol.page.locator('#no-relays').waitFor({ state: 'visible', timeout: LONG });
  assert.equal(await carol.page.locator('#relays .relay').count(), 0);
  await shot(carol, '5-removed');

  for (const u of [alice, carol]) {
    assert.equal(await u.page.locator('#banner').isHidden(), true, `${u.label}: error banner shown`);
  }
  assert.deepEqual(unexpected([...alice.errors, ...carol.errors]), []);
  for (const u of [alice, carol]) await u.profile.close();
}
