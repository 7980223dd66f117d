// feed.test.js -- the browser entry in real Chromium and Firefox (each
// test once per browser of HIROBA_BROWSERS): the engine in a module
// Worker, SQLite on OPFS, persistence across reloads, several tabs on one
// database, and crash safety when the worker is killed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { nip19 } from 'nostr-tools';
import * as nip49 from 'nostr-tools/nip49';
import { bytesToHex } from '@noble/hashes/utils.js';
import { startServer, launchBrowser, eachBrowser } from './harness.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.close();
});

eachBrowser((browser) => {
  let profile;

  before(async () => {
    profile = await launchBrowser(browser);
  });

  after(async () => {
    await profile?.close();
  });

  // A fresh page of the test origin with the package imported as window.hiroba.
  async function openPage(on = profile) {
    const page = await on.newPage();
    await page.goto(`${server.origin}/pages/blank.html`);
    await page.evaluate(async () => { window.hiroba = await import('/hiroba/js-glue/index.js'); });
    return { page, errors: page.errors };
  }

  test('post, reload, and the post is still there; no cross-origin isolation needed', async () => {
    const { page, errors } = await openPage();
    const first = await page.evaluate(async () => {
      const feed = await window.hiroba.openFeed({ name: 'persist' });
      const { pubkey } = await feed.identity();
      const event = await feed.post('hello from OPFS');
      const found = await feed.query({ ids: [event.id] });
      await feed.close();
      return { pubkey, event, found: found.length, isolated: self.crossOriginIsolated };
    });
    assert.equal(first.found, 1);
    assert.equal(first.isolated, false, 'the page must work without COOP/COEP');
    assert.equal(first.event.content, 'hello from OPFS');

    await page.reload();
    await page.evaluate(async () => { window.hiroba = await import('/hiroba/js-glue/index.js'); });
    const second = await page.evaluate(async (id) => {
      const feed = await window.hiroba.openFeed({ name: 'persist' });
      const { pubkey } = await feed.identity();
      const events = await feed.query({ ids: [id] });
      const integrity = await feed.checkIntegrity();
      await feed.close();
      return { pubkey, events, integrity };
    }, first.event.id);
    assert.equal(second.pubkey, first.pubkey, 'the identity persists');
    assert.deepEqual(second.events, [first.event]);
    assert.equal(second.integrity.ok, true);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a post survives closing the browser and starting it again on the same profile', async () => {
    const { page, errors } = await openPage();
    const first = await page.evaluate(async () => {
      const feed = await window.hiroba.openFeed({ name: 'restart' });
      const event = await feed.post('before the restart');
      await feed.close();
      return event;
    });
    assert.deepEqual(errors, []);
    await profile.restart();
    const again = await openPage();
    const out = await again.page.evaluate(async (id) => {
      const feed = await window.hiroba.openFeed({ name: 'restart' });
      const events = await feed.query({ ids: [id] });
      const integrity = await feed.checkIntegrity();
      await feed.close();
      return { events, integrity };
    }, first.id);
    assert.deepEqual(out.events, [first]);
    assert.equal(out.integrity.ok, true);
    assert.deepEqual(again.errors, []);
    await again.page.close();
  });

  test('feed.on("event") reports local posts and accepted merges', async () => {
    const { page, errors } = await openPage();
    const seen = await page.evaluate(async () => {
      const a = await window.hiroba.openFeed({ name: 'events-a' });
      // b stores everyone's events (the default keeps only follows).
      const b = await window.hiroba.openFeed({ name: 'events-b', policy: { store: 'all' } });
      const seenA = [];
      const seenB = [];
      a.on('event', (e) => seenA.push(e.id));
      b.on('event', (e) => seenB.push(e.id));
      const post = await a.post('travels');
      const result = await b.merge(['EVENT', post]);
      await b.merge(['EVENT', post]); // a duplicate: no second announcement
      await new Promise((r) => setTimeout(r, 50));
      await a.close();
      await b.close();
      return { id: post.id, seenA, seenB, accepted: result.accepted };
    });
    assert.deepEqual(seen.seenA, [seen.id]);
    assert.deepEqual(seen.accepted, [seen.id]);
    assert.deepEqual(seen.seenB, [seen.id]);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a note with a lone surrogate (a truncated emoji) made by nostr-tools is accepted and served back byte-exact', async () => {
    const ev = finalizeEvent({
      kind: 1,
      created_at: Math.floor(Date.now() / 1000),
      tags: [['t', 'cut \ud83d']],
      content: 'truncated emoji \ud83d, a lone low half \ude00, U+0000 \u0000, a pair \ud83d\ude00',
    }, generateSecretKey());
    const { id, pubkey, created_at, kind, tags, content, sig } = ev;
    // JSON text both ways: JSON.stringify writes lone surrogates as \udxxx
    // escapes, so nothing between here and the page can replace them.
    const text = JSON.stringify({ id, pubkey, created_at, kind, tags, content, sig });
    const { page, errors } = await openPage();
    const out = JSON.parse(await page.evaluate(async (text) => {
      const feed = await window.hiroba.openFeed({ name: 'lone-surrogate', policy: { store: 'all' } });
      const ev = JSON.parse(text);
      const res = await feed.merge(['EVENT', ev]);
      const got = await feed.query({ ids: [ev.id] });
      const byTag = await feed.query({ '#t': [ev.tags[0][1]] });
      await feed.close();
      return JSON.stringify({ accepted: res.accepted, rejected: res.rejected, got, byTag: byTag.map((e) => e.id) });
    }, text));
    assert.deepEqual(out.rejected, []);
    assert.deepEqual(out.accepted, [id]);
    assert.equal(out.got.length, 1);
    assert.equal(JSON.stringify(out.got[0]), text, 'served back byte-exact');
    assert.equal(out.got[0].id, id);
    assert.equal(out.got[0].content, content);
    assert.equal(verifyEvent(out.got[0]), true, 'nostr-tools verifies what was served');
    assert.deepEqual(out.byTag, [id], 'a #t filter with the same lone surrogate finds it');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a batch with refused frames in the middle keeps every other frame (worker)', async () => {
    const sk = generateSecretKey();
    const sign = (content) => finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content }, sk);
    const before = sign('before');
    const after = sign('after');
    const forged = { ...sign('forged'), sig: before.sig };
    const frames = [
      JSON.stringify(['EVENT', before]),
      JSON.stringify(['EVENT', forged]),
      '["EVENT", {"id": ',
      JSON.stringify(['REQ', 'bad', { ids: 5 }]),
      JSON.stringify(['EVENT', after]),
    ];
    const { page, errors } = await openPage();
    const out = await page.evaluate(async (frames) => {
      const feed = await window.hiroba.openFeed({ name: 'batch', policy: { store: 'all' } });
      const results = await feed.mergeBatch(1, frames);
      const stored = (await feed.query({})).map((e) => e.id);
      await feed.close();
      return { results, stored };
    }, frames);
    assert.equal(out.results.length, frames.length, 'one result per frame');
    assert.deepEqual(out.results.map((r) => r.accepted), [[before.id], [], [], [], [after.id]]);
    assert.match(out.results[1].rejected[0].reason, /^invalid: /);
    assert.deepEqual(out.results.slice(1, 4).map((r) => r.replies[0][0]), ['OK', 'NOTICE', 'CLOSED']);
    assert.deepEqual(out.stored.sort(), [before.id, after.id].sort());
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('feed state (the sync driver\'s bookkeeping) survives closing and reopening in the browser', async () => {
    const { page, errors } = await openPage();
    const out = await page.evaluate(async () => {
      const a = await window.hiroba.openFeed({ name: 'state' });
      await a.setState('relay:wss://r.example/', { since: 42, refused: [] });
      await a.setState('outbox', 7);
      await a.setState('outbox', null);   // a delete crosses the worker too
      await a.close();
      const b = await window.hiroba.openFeed({ name: 'state' });
      const got = await b.getState('relay:wss://r.example/');
      const gone = await b.getState('outbox');
      let refused = null;
      try { await b.setState('', 1); } catch (e) { refused = e.message; }
      await b.close();
      return { got, gone, refused };
    });
    assert.deepEqual(out.got, { since: 42, refused: [] });
    assert.equal(out.gone, null);
    assert.match(out.refused, /state key/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('openFeed({ secretKey }) in the browser: a nostr-tools key adopted, reopened, a different one refused', async () => {
    const sk = generateSecretKey();
    const hex = Array.from(sk, (b) => b.toString(16).padStart(2, '0')).join('');
    const other = Array.from(generateSecretKey(), (b) => b.toString(16).padStart(2, '0')).join('');
    const { page, errors } = await openPage();
    const out = await page.evaluate(async ({ hex, other }) => {
      const a = await window.hiroba.openFeed({ name: 'adopted', secretKey: hex });
      const pubkey = (await a.identity()).pubkey;
      const post = await a.post('my own key');
      await a.close();
      const b = await window.hiroba.openFeed({ name: 'adopted', secretKey: hex });
      const again = (await b.identity()).pubkey;
      await b.close();
      let refused = null;
      try { await window.hiroba.openFeed({ name: 'adopted', secretKey: other }); } catch (e) { refused = e.message; }
      return { pubkey, again, post, refused };
    }, { hex, other });
    assert.equal(out.pubkey, getPublicKey(sk));
    assert.equal(out.again, out.pubkey);
    assert.equal(verifyEvent(out.post), true);
    assert.match(out.refused, /another identity/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('exportKey in the browser: scrypt in the worker, an ncryptsec nostr-tools opens; an ncryptsec opens a feed', async () => {
    const sk = generateSecretKey();
    const hex = bytesToHex(sk);
    const sealedByNostrTools = nip49.encrypt(sk, 'tools', 10);
    const { page, errors } = await openPage();
    const out = await page.evaluate(async ({ hex, sealedByNostrTools }) => {
      const a = await window.hiroba.openFeed({ name: 'export', secretKey: hex });
      const sealed = await a.exportKey({ passphrase: 'in the worker' });
      // A second feed of the name works through the owner's worker.
      const b = await window.hiroba.openFeed({ name: 'export' });
      const fromFollower = await b.exportKey({ passphrase: 'follower', logN: 10 });
      const nsec = await b.exportKey({ nsec: true });
      let typeError = null;
      try { await a.exportKey({}); } catch (e) { typeError = e instanceof TypeError; }
      await b.close();
      await a.close();
      // A wrong passphrase creates nothing: the right one then adopts the
      // key on a new database (an identity made meanwhile would refuse it).
      let wrong = null;
      try { await window.hiroba.openFeed({ name: 'sealed', secretKey: sealedByNostrTools, passphrase: 'nope' }); } catch (e) { wrong = [e.code, e.message]; }
      const c = await window.hiroba.openFeed({ name: 'sealed', secretKey: sealedByNostrTools, passphrase: 'tools' });
      const pubkey = (await c.identity()).pubkey;
      await c.close();
      // The page itself never loaded scrypt.
      const pageLoaded = performance.getEntriesByType('resource').map((r) => r.name).filter((n) => /nip49|noble/.test(n));
      return { sealed, fromFollower, nsec, typeError, wrong, pubkey, pageLoaded };
    }, { hex, sealedByNostrTools });
    assert.equal(bytesToHex(nip49.decrypt(out.sealed, 'in the worker')), hex);
    assert.equal(bytesToHex(nip49.decrypt(out.fromFollower, 'follower')), hex);
    assert.equal(out.nsec, nip19.nsecEncode(sk));
    assert.equal(out.typeError, true);
    assert.equal(out.wrong[0], -1);
    assert.match(out.wrong[1], /wrong passphrase/);
    assert.equal(out.pubkey, getPublicKey(sk));
    assert.deepEqual(out.pageLoaded, []);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('openFeed({ name, signer }) in the browser: a page signer (signing in Node) posts; the post survives a reload; no signer, no post', async () => {
    const sk = generateSecretKey();
    const { page, errors } = await openPage();
    // The page's window.nostr-like signer calls into Node, where nostr-tools
    // holds the key: the secret never reaches the browser at all.
    const signed = [];
    await page.exposeFunction('nodeGetPublicKey', () => getPublicKey(sk));
    await page.exposeFunction('nodeSignEvent', (template) => {
      const event = JSON.parse(JSON.stringify(finalizeEvent(template, sk)));
      signed.push(event);
      return event;
    });
    const makeSigner = () => ({ getPublicKey: () => window.nodeGetPublicKey(), signEvent: (e) => window.nodeSignEvent(e) });
    const first = await page.evaluate(async (makeSignerText) => {
      const signer = (0, eval)(makeSignerText)();
      const feed = await window.hiroba.openFeed({ name: 'signed', signer });
      const { pubkey } = await feed.identity();
      const seen = [];
      feed.on('event', (e) => seen.push(e.id));
      const post = await feed.post('signed in Node, stored in OPFS');
      const follow = await feed.follow('79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
      let exportRefused = null;
      try { await feed.exportKey({ nsec: true }); } catch (e) { exportRefused = e.code; }
      await new Promise((r) => setTimeout(r, 50));
      await feed.close();
      return { pubkey, post, follow, seen, exportRefused };
    }, makeSigner.toString());
    assert.equal(first.pubkey, getPublicKey(sk));
    assert.equal(verifyEvent(structuredClone(first.post)), true);
    assert.equal(first.post.pubkey, getPublicKey(sk));
    assert.deepEqual(signed.map((e) => e.id), [first.post.id, first.follow.id]);
    assert.deepEqual(first.seen, [first.post.id, first.follow.id], 'each announced once, through the worker');
    assert.equal(first.exportRefused, -11);

    await page.reload();
    await page.evaluate(async () => { window.hiroba = await import('/hiroba/js-glue/index.js'); });
    const second = await page.evaluate(async ({ id, makeSignerText }) => {
      const plain = await window.hiroba.openFeed({ name: 'signed' });
      const { pubkey } = await plain.identity();
      const events = await plain.query({ ids: [id] });
      let refused = null;
      try { await plain.post('no signer here'); } catch (e) { refused = [e.code, e.message]; }
      await plain.close();
      let other = null;
      const stranger = { getPublicKey: () => '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', signEvent: () => null };
      try { await window.hiroba.openFeed({ name: 'signed', signer: stranger }); } catch (e) { other = e.message; }
      const again = await window.hiroba.openFeed({ name: 'signed', signer: (0, eval)(makeSignerText)() });
      const later = await again.post('and again');
      await again.close();
      return { pubkey, events, refused, other, later };
    }, { id: first.post.id, makeSignerText: makeSigner.toString() });
    assert.equal(second.pubkey, getPublicKey(sk));
    assert.deepEqual(second.events, [first.post]);
    assert.equal(second.refused[0], -11);
    assert.match(second.refused[1], /signer/);
    assert.match(second.other, /another identity/);
    assert.equal(verifyEvent(structuredClone(second.later)), true);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('bad names and bad input are clear errors, and the worker keeps serving', async () => {
    const { page } = await openPage();
    const out = await page.evaluate(async () => {
      const errs = [];
      try { await window.hiroba.openFeed({ name: '../etc' }); } catch (e) { errs.push([e.code, e.message]); }
      const feed = await window.hiroba.openFeed({ name: 'bad-input' });
      try { await feed.query({ search: 'x' }); } catch (e) { errs.push([e.code, e.message]); }
      const merged = await feed.merge(new Uint8Array([0x5b, 0x00, 0x5d]));
      const post = await feed.post('still alive');
      await feed.close();
      return { errs, merged, post: post.content };
    });
    assert.equal(out.errs.length, 2);
    assert.ok(out.errs[0][0] < 0 && /name/.test(out.errs[0][1]), out.errs[0][1]);
    assert.ok(out.errs[1][0] < 0 && /unsupported/.test(out.errs[1][1]), out.errs[1][1]);
    assert.equal(out.merged.accepted.length, 0);
    assert.match(out.merged.rejected[0].reason, /^invalid:/);
    assert.equal(out.post, 'still alive');
    await page.close();
  });

  test('feed.count in the worker: filters, unions counted once, deletions, bad filters, a second tab', async () => {
    const { page, errors } = await openPage();
    const out = await page.evaluate(async () => {
      const feed = await window.hiroba.openFeed({ name: 'count' });
      const { pubkey } = await feed.identity();
      const posts = [];
      for (const text of ['one', 'two', 'three']) posts.push(await feed.post(text));
      await feed.react(posts[0].id);
      await feed.delete(posts[2].id);
      const counts = {
        all: await feed.count({}),
        notes: await feed.count({ kinds: [1], authors: [pubkey], limit: 1 }),
        reactions: await feed.count({ kinds: [7], '#e': [posts[0].id] }),
        union: await feed.count([{ kinds: [1] }, { ids: [posts[0].id] }, { '#e': [posts[0].id] }]),
      };
      let bad = null;
      try { await feed.count({ search: 'x' }); } catch (e) { bad = [e.name, e.code, e.message]; }
      // A second openFeed of the name is a follower: its count goes through
      // the owner worker.
      const other = await window.hiroba.openFeed({ name: 'count' });
      const fromFollower = await other.count([{ kinds: [1] }, { kinds: [5] }]);
      const peerAnswer = (await feed.merge(['COUNT', 'c', { kinds: [1] }])).replies;
      await other.close();
      await feed.close();
      return { counts, bad, fromFollower, peerAnswer };
    });
    // two notes, one reaction, one deletion (the third note is gone)
    assert.deepEqual(out.counts, { all: 4, notes: 2, reactions: 1, union: 3 });
    assert.equal(out.bad[0], 'HirobaError');
    assert.equal(out.bad[1], -1);
    assert.match(out.bad[2], /invalid: unsupported filter field/);
    assert.equal(out.fromFollower, 3);
    assert.deepEqual(out.peerAnswer, [['COUNT', 'c', { count: 2 }]]);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('feed.subscribe across tabs: stored, EOSE, then what another tab posts; nothing after close', async () => {
    const a = await openPage();
    const b = await openPage();
    await a.page.evaluate(async () => {
      window.feed = await window.hiroba.openFeed({ name: 'subscribe' });
      await window.feed.post('stored', { tags: [['t', 'sub']] });
      window.got = [];
      window.eose = -1;
      window.sub = window.feed.subscribe({ '#t': ['sub'] }, {
        onevent: (e) => window.got.push(e.content),
        oneose: () => { window.eose = window.got.length; },
      });
    });
    await a.page.waitForFunction(() => window.eose >= 0);
    await b.page.evaluate(async () => {
      window.feed = await window.hiroba.openFeed({ name: 'subscribe' });
      await window.feed.post('from the other tab', { tags: [['t', 'sub']] });
      await window.feed.post('untagged');
    });
    await a.page.waitForFunction(() => window.got.length === 2);
    await a.page.evaluate(() => window.sub.close());
    await b.page.evaluate(async () => { await window.feed.post('after close', { tags: [['t', 'sub']] }); });
    await sleep(300);
    assert.deepEqual(await a.page.evaluate(() => ({ got: window.got, eose: window.eose })),
      { got: ['stored', 'from the other tab'], eose: 1 });
    for (const tab of [b, a]) {
      await tab.page.evaluate(() => window.feed.close());
      await tab.page.close();
    }
  });

  test('two tabs share one database; the other tab takes over when the owner closes', async () => {
    const a = await openPage();
    const b = await openPage();
    await a.page.evaluate(async () => {
      window.feed = await window.hiroba.openFeed({ name: 'tabs' });
      window.seen = [];
      window.feed.on('event', (e) => window.seen.push(e.id));
    });
    await b.page.evaluate(async () => {
      window.feed = await window.hiroba.openFeed({ name: 'tabs' });
      window.seen = [];
      window.feed.on('event', (e) => window.seen.push(e.id));
    });
    const idA = await a.page.evaluate(async () => (await window.feed.identity()).pubkey);
    const idB = await b.page.evaluate(async () => (await window.feed.identity()).pubkey);
    assert.equal(idA, idB, 'one database, one identity');

    const fromB = await b.page.evaluate(async () => (await window.feed.post('from tab B')).id);
    const fromA = await a.page.evaluate(async () => (await window.feed.post('from tab A')).id);
    // Each tab hears about both posts, whichever tab made them.
    for (const tab of [a, b]) {
      await tab.page.waitForFunction((ids) => ids.every((id) => window.seen.includes(id)), [fromA, fromB]);
    }

    // The owner tab goes away while B has posts in flight through it: B
    // takes over, resends what was unanswered, and every post lands once.
    await b.page.evaluate(() => {
      window.inFlight = Promise.all(Array.from({ length: 20 }, (_, i) => window.feed.post(`in flight ${i}`)));
    });
    await a.page.close();
    const after = await b.page.evaluate(async () => {
      const flown = await window.inFlight;
      const post = await window.feed.post('after takeover');
      const all = await window.feed.query({ kinds: [1] });
      return {
        flown: flown.length,
        post: post.id,
        all: all.map((e) => e.content).sort(),
        integrity: await window.feed.checkIntegrity(),
      };
    });
    assert.equal(after.flown, 20);
    const expected = ['after takeover', 'from tab A', 'from tab B',
      ...Array.from({ length: 20 }, (_, i) => `in flight ${i}`)].sort();
    assert.deepEqual(after.all, expected, 'every post once, none lost');
    assert.equal(after.integrity.ok, true);

    // A new tab joins as a follower of B.
    const c = await openPage();
    const seenByC = await c.page.evaluate(async () => {
      const feed = await window.hiroba.openFeed({ name: 'tabs' });
      const all = await feed.query({ kinds: [1] });
      await feed.close();
      return all.length;
    });
    assert.equal(seenByC, 23);
    await b.page.evaluate(() => window.feed.close());
    assert.deepEqual([...a.errors, ...b.errors, ...c.errors], []);
    await b.page.close();
    await c.page.close();
  });

  test('a killed worker loses no resolved post and leaves a sound database', async () => {
    const { page } = await openPage();
    const resolved = new Set();
    for (let round = 0; round < 6; round++) {
      const ids = await page.evaluate(async (round) => {
        const feed = await window.hiroba.openFeed({ name: 'crash' });
        const done = [];
        let stop = false;
        const loop = (async () => {
          for (let i = 0; !stop; i++) {
            try {
              done.push((await feed.post(`round ${round} post ${i}`)).id);
            } catch {
              return; // the worker is gone
            }
          }
        })();
        // Let a stream of posts run, then kill the worker mid-stream.
        while (done.length < 15 + round * 5) await new Promise((r) => setTimeout(r, 5));
        feed._worker.terminate();
        stop = true;
        await Promise.race([loop, new Promise((r) => setTimeout(r, 200))]);
        return done;
      }, round);
      for (const id of ids) resolved.add(id);
      await page.reload();
      await page.evaluate(async () => { window.hiroba = await import('/hiroba/js-glue/index.js'); });
      const check = await page.evaluate(async (ids) => {
        // The old worker's lock and handles are released asynchronously;
        // openFeed waits for them.
        const feed = await window.hiroba.openFeed({ name: 'crash' });
        const found = await feed.query({ ids });
        const integrity = await feed.checkIntegrity();
        await feed.close();
        return { found: found.length, integrity };
      }, [...resolved]);
      assert.equal(check.integrity.ok, true, `round ${round}: ${check.integrity.result}`);
      assert.equal(check.found, resolved.size, `round ${round}: every resolved post survives`);
    }
    await page.close();
  });

  test('when the database cannot be taken over, openFeed says so and nothing hangs', async () => {
    const { page } = await openPage();
    const out = await page.evaluate(async () => {
      const first = await window.hiroba.openFeed({ name: 'stuck' });
      const kept = await first.post('before the holder');
      await first.close();
      // Something else holds the OPFS file (a stray worker of another app
      // version, say): the owner-to-be cannot get its handles.
      const holder = new Worker(URL.createObjectURL(new Blob([`
        onmessage = async () => {
          const root = await navigator.storage.getDirectory();
          const dir = await root.getDirectoryHandle('hiroba', { create: true });
          const file = await dir.getFileHandle('stuck.db', { create: true });
          self.handle = await file.createSyncAccessHandle();
          postMessage('held');
        };`], { type: 'text/javascript' })));
      await new Promise((resolve) => { holder.onmessage = resolve; holder.postMessage('go'); });
      let error = null;
      try {
        await window.hiroba.openFeed({ name: 'stuck' });
      } catch (e) {
        error = { code: e.code, message: e.message, operation: e.operation };
      }
      holder.terminate();
      // Once the holder is gone the same name opens normally.
      const feed = await window.hiroba.openFeed({ name: 'stuck' });
      const post = await feed.post('free again');
      const found = (await feed.query({ ids: [kept.id] })).length;
      await feed.close();
      return { error, post: post.content, found };
    });
    assert.ok(out.error, 'openFeed must reject');
    assert.equal(out.error.code, -6, 'HIROBA_EBUSY');
    assert.match(out.error.message, /cannot take over database "stuck".*held by another tab or worker/s);
    assert.equal(out.post, 'free again');
    assert.equal(out.found, 1, 'what was stored before is still there');
    await page.close();
  });

  test('storage quota exhausted: a clear HIROBA_EFULL, nothing lost, the worker keeps serving', async () => {
    // A real browser quota, lowered for this origin, so that OPFS writes fail
    // the way they do on a full profile: in Chromium through the DevTools
    // protocol; Firefox has no such call, so a browser of its own whose
    // storage limit (a launch pref, in KiB) is low: an origin gets a fifth
    // of it, here 10 MiB (Firefox's least).
    let quotaProfile = profile;
    let restore = async () => {};
    if (browser === 'firefox') {
      quotaProfile = await launchBrowser('firefox', { prefs: { 'dom.quotaManager.temporaryStorage.fixedLimit': 50 * 1024 } });
      restore = () => quotaProfile.close();   // its pages with it
    }
    const { page } = await openPage(quotaProfile);
    if (browser === 'chromium') {
      const cdp = await profile.context.newCDPSession(page.raw);
      const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.origin, quotaSize: usage + 16 * 1024 * 1024 });
      restore = async () => {
        await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.origin }).catch(() => {});
        await cdp.detach().catch(() => {});
      };
    }
    try {
      const out = await page.evaluate(async () => {
        const feed = await window.hiroba.openFeed({ name: 'quota' });
        const stored = [];
        let error = null;
        const text = 'x'.repeat(60000);
        for (let i = 0; i < 1000 && !error; i++) {
          try {
            stored.push((await feed.post(`${i} ${text}`)).id);
          } catch (e) {
            error = { code: e.code, message: e.message, operation: e.operation };
          }
        }
        const found = await feed.query({ ids: stored });
        const integrity = await feed.checkIntegrity();
        await feed.close();
        return { error, stored: stored.length, found: found.length, integrity };
      });
      assert.ok(out.error, 'posting must eventually fail');
      assert.equal(out.error.code, -4, out.error.message);
      assert.match(out.error.message, /full|quota/i);
      assert.ok(out.stored > 0);
      assert.equal(out.found, out.stored, 'every resolved post is still there');
      assert.equal(out.integrity.ok, true);
    } finally {
      await restore();
      await page.close().catch(() => {});
    }
  });

  test('an OPFS database emptied behind its back: a clear ECORRUPT, not a new identity; allowEmpty starts one', async () => {
    const { page, errors } = await openPage();
    const result = await page.evaluate(async () => {
      const first = await window.hiroba.openFeed({ name: 'emptied' });
      const { pubkey } = await first.identity();
      await first.close();
      // Something else empties the files (the main thread may write them
      // through createWritable once the worker let go).
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('hiroba');
      for (const file of ['emptied.db', 'emptied.db-wal']) {
        const w = await (await dir.getFileHandle(file)).createWritable();
        await w.truncate(0);
        await w.close();
      }
      let refused = null;
      try {
        const f = await window.hiroba.openFeed({ name: 'emptied' });
        await f.close();
      } catch (err) {
        refused = { code: err.code, message: err.message };
      }
      const fresh = await window.hiroba.openFeed({ name: 'emptied', allowEmpty: true });
      const after = (await fresh.identity()).pubkey;
      await fresh.close();
      return { pubkey, refused, after };
    });
    assert.ok(result.refused, 'opening an emptied database must fail');
    assert.equal(result.refused.code, -5);
    assert.match(result.refused.message, /exists but is empty/);
    assert.notEqual(result.after, result.pubkey);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
