// pair.test.js -- two browser profiles pair with no signaling server at
// all: the pages come from the harness's static server, which has no
// /signal, and the invite and the answer go from one page to the other as
// strings (what a user copies and pastes). Then they trade posts, a reply
// and a reaction over the connection, and replayed, tampered and expired
// texts are refused. Two Chromium users, two Firefox
// users, and a Chromium user with a Firefox user (as HIROBA_BROWSERS allows).
//
// Then the demo page's "Pair without a server" panel, driven as a user
// would: its QR codes, read back from the canvas pixels with jsQR, hold the
// invite's link and the answer's text; the other side opens the link, the
// first pastes the answer, and a post crosses. The demo runs on the dev
// server, which does have signaling: the two users sit in different rooms,
// so only the pairing can connect them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsQR from 'jsqr';
import { BROWSERS, launchBrowser, startServer, startDemoServer } from './harness.js';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.close(); });

async function user(profiles, browser, name) {
  const profile = await launchBrowser(browser);
  profiles.push(profile);
  const page = await profile.newPage();
  await page.goto(`${server.origin}/pages/blank.html`);
  const pubkey = await page.evaluate(async (name) => {
    window.hiroba = { ...await import('/hiroba/js-glue/index.js'), ...await import('/hiroba/js-glue/network.js') };
    window.feed = await window.hiroba.openFeed({ name });
    return (await window.feed.identity()).pubkey;
  }, name);
  return { page, errors: page.errors, pubkey };
}

// Polls until query(filter) holds at least n events.
async function until(u, filter, n) {
  const end = Date.now() + 60_000;
  for (;;) {
    const got = await u.page.evaluate(async (f) => (await window.feed.query(f)).length, filter);
    if (got >= n) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${n} events of ${JSON.stringify(filter)} (have ${got})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function pairUp(a, b) {
  const profiles = [];
  try {
    const alice = await user(profiles, a, 'alice');
    const bob = await user(profiles, b, 'bob');
    for (const [u, other] of [[alice, bob], [bob, alice]]) {
      await u.page.evaluate(async (pk) => {
        await window.feed.follow(pk);
        await window.feed.post(`hello from ${pk.slice(0, 4)}'s friend`);
      }, other.pubkey);
    }
    // No server: the strings go through this test, as a user's clipboard would.
    const invite = await alice.page.evaluate(async () => {
      window.invite = await window.hiroba.createInvite(window.feed);
      return window.invite.text;
    });
    const answer = await bob.page.evaluate(async (text) => {
      window.answer = await window.hiroba.acceptInvite(window.feed, text);
      return window.answer.text;
    }, invite);
    const sizes = { invite: invite.length, answer: answer.length };
    await alice.page.evaluate(async (text) => { window.pair = await window.invite.complete(text); }, answer);
    await bob.page.evaluate(async () => { window.pair = await window.answer.connected(); });
    for (const [u, other] of [[alice, bob], [bob, alice]]) {
      assert.deepEqual(await u.page.evaluate(() => ({ pubkey: window.pair.pubkey, state: window.pair.state })),
        { pubkey: other.pubkey, state: 'open' });
    }

    // What each posted before pairing reaches the other.
    for (const u of [alice, bob]) await until(u, { kinds: [1] }, 2);
    // Live: Alice posts, Bob replies and reacts, Alice gets both.
    const post = await alice.page.evaluate(() => window.feed.post('live from alice'));
    await until(bob, { ids: [post.id] }, 1);
    await bob.page.evaluate(async (p) => {
      await window.feed.post('a reply from bob', { tags: [['e', p.id, '', 'reply'], ['p', p.pubkey]] });
      await window.feed.react(p.id, '+');
    }, post);
    await until(alice, { kinds: [1], '#e': [post.id] }, 1);
    await until(alice, { kinds: [7], '#e': [post.id] }, 1);

    // Refusals, in the browser: the same invite again (replayed), a changed
    // character (tampered), one a second past its lifetime (expired).
    const refusal = (text) => bob.page.evaluate(async (t) => {
      try { (await window.hiroba.acceptInvite(window.feed, t)).cancel(); return 'accepted'; } catch (err) { return `${err.name} ${err.reason}`; }
    }, text);
    assert.equal(await refusal(invite), 'HirobaError replayed');
    const flipped = invite.slice(0, 200) + (invite[200] === 'A' ? 'B' : 'A') + invite.slice(201);
    assert.equal(await refusal(flipped), 'HirobaError tampered');
    const short = await alice.page.evaluate(async () => {
      window.short = await window.hiroba.createInvite(window.feed, { ttlMs: 1000 });
      return window.short.text;
    });
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal(await refusal(short), 'HirobaError expired');

    for (const u of [alice, bob]) await u.page.evaluate(() => { window.pair.close(); return window.feed.close(); });
    assert.deepEqual([...alice.errors, ...bob.errors], []);
    return sizes;
  } finally {
    for (const p of profiles) await p.close();
  }
}

for (const browser of BROWSERS) {
  test(`two browsers pair by copy/paste with no server, then trade posts, a reply and a reaction [${browser}]`, async (t) => {
    const sizes = await pairUp(browser, browser);
    t.diagnostic(`invite ${sizes.invite} chars, answer ${sizes.answer} chars`);
  });
}

const mixed = BROWSERS.includes('chromium') && BROWSERS.includes('firefox');
test('a Chromium user and a Firefox user pair by copy/paste with no server [chromium+firefox]',
  { skip: !mixed && 'needs both chromium and firefox in HIROBA_BROWSERS' },
  async (t) => {
    const sizes = await pairUp('chromium', 'firefox');
    t.diagnostic(`invite ${sizes.invite} chars, answer ${sizes.answer} chars`);
  });

// The QR code on the demo page, decoded: its canvas pixels go to jsQR.
async function readQr(page) {
  const { width, height, data } = await page.evaluate(() => {
    const canvas = document.getElementById('pair-qr');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    return { width: pixels.width, height: pixels.height, data: Array.from(pixels.data) };
  });
  return jsQR(Uint8ClampedArray.from(data), width, height)?.data ?? null;
}

const OUT = fileURLToPath(new URL('../../test-output/e2e/', import.meta.url));
// The pairing card of a page, as its user sees it.
async function shotPanel(u, file) {
  await mkdir(OUT, { recursive: true });
  await u.page.evaluate(() => document.activeElement?.blur());
  await u.page.locator('section.pair').screenshot({ path: join(OUT, file) });
}

for (const browser of BROWSERS) {
  test(`the demo pairs two browsers in different rooms: invite link, QR codes, pasted answer, a post crosses [${browser}]`, async () => {
    const demo = await startDemoServer();
    const profiles = [];
    try {
      const open = async (url) => {
        const profile = await launchBrowser(browser);
        profiles.push(profile);
        const page = await profile.newPage();
        await page.setViewportSize({ width: 1200, height: 1400 });
        await page.goto(url);
        await page.locator('#my-pubkey[data-pubkey]').waitFor({ timeout: 60_000 });
        return { page, pubkey: await page.getAttribute('#my-pubkey', 'data-pubkey') };
      };
      const status = (u) => u.page.locator('#pair-status').textContent();
      const alice = await open(`${demo.url}#pair-demo-alice-${browser}`);

      await alice.page.click('#pair-create');
      await alice.page.waitForFunction(() => !document.getElementById('pair-out').hidden && document.getElementById('pair-qr').dataset.text);
      const invite = await alice.page.inputValue('#pair-text');
      const link = await alice.page.getAttribute('#pair-link', 'href');
      assert.equal(link, `${demo.url}#pair=${invite}`);
      assert.match(await status(alice), /^Invite ready \(\d+ characters\)\. Send it to the other browser/);
      assert.equal(await readQr(alice.page), link, 'the QR code holds the invite link');
      await shotPanel(alice, `pair-1-invite-${browser}.png`);

      // Bob opens the link: his page answers it at once.
      const bob = await open(link);
      await bob.page.waitForFunction(() => document.getElementById('pair-text').value && document.getElementById('pair-qr').dataset.text, undefined, { timeout: 60_000 });
      const answer = await bob.page.inputValue('#pair-text');
      assert.match(await status(bob), /^Invite from .* accepted\. Send this answer back/);
      assert.equal(await readQr(bob.page), answer, 'the QR code holds the answer');
      assert.equal(await bob.page.evaluate(() => location.hash), '', 'the invite left the address bar');
      await shotPanel(bob, `pair-2-answer-${browser}.png`);

      await alice.page.fill('#pair-input', answer);
      await alice.page.click('#pair-use');
      for (const u of [alice, bob]) {
        await u.page.waitForFunction(() => /^Paired with /.test(document.getElementById('pair-status').textContent), undefined, { timeout: 60_000 });
      }
      // Not through the room: they are in different ones and never met there.
      assert.deepEqual(await alice.page.evaluate(() => window.hirobaRoom.peers), []);
      // The Peers panel lists the paired connection, saying it is one.
      for (const [u, other] of [[alice, bob], [bob, alice]]) {
        const row = u.page.locator(`#peers li[data-paired="1"][data-pubkey="${other.pubkey}"][data-state="open"]`);
        await row.waitFor({ timeout: 60_000 });
        assert.match(await row.locator('.state').textContent(), /^paired, (direct|open)$/);
      }
      await alice.page.locator('section[aria-labelledby="peers-heading"]').screenshot({ path: join(OUT, `pair-4-peers-${browser}.png`) });
      const post = await bob.page.evaluate(() => window.hirobaFeed.post('from bob, paired'));
      await alice.page.waitForFunction(async (id) => (await window.hirobaFeed.query({ ids: [id] })).length === 1, post.id, { timeout: 60_000 });
      await alice.page.locator(`#timeline li[data-id="${post.id}"]`).waitFor({ timeout: 60_000 });
      await shotPanel(alice, `pair-3-paired-${browser}.png`);
    } finally {
      for (const p of profiles) await p.close();
      await demo.close();
    }
  });
}
