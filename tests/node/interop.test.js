// interop.test.js -- the engine against nostr-tools, an independent NIP-01
// implementation: what nostr-tools signs we accept byte-exact, what we sign
// nostr-tools verifies, and the contract's rules for merge, query, REQ,
// replaceable events, deletion, mute, timeline and feed.on('event')
// (DESIGN §2-5).
//
// Every test opens its own feed on a new database in a temp dir; the after
// hooks close it and remove the dir.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { verifyEvent, getEventHash } from 'nostr-tools/pure';
import { matchFilter } from 'nostr-tools/filter';
import {
  tempFeed, makeAuthor, plain, nowSec, byContractOrder, settle,
  assertMergeShape, mergeAccepted, mergeRejected,
} from './helpers.js';

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;
const utf8Len = (s) => Buffer.byteLength(s, 'utf8');
const sorted = (evs) => [...evs].sort(byContractOrder);
const ids = (evs) => evs.map((e) => e.id);
const tagValues = (ev, name) => ev.tags.filter((t) => t[0] === name).map((t) => t[1]);

/* An event as nostr-tools sees it: it verifies and its id is the hash. */
function assertValidNostr(ev, what) {
  const copy = plain(ev);
  assert.match(copy.id, HEX64, `${what}: id is 64 lowercase hex`);
  assert.match(copy.pubkey, HEX64, `${what}: pubkey is 64 lowercase hex`);
  assert.match(copy.sig, HEX128, `${what}: sig is 128 lowercase hex`);
  assert.ok(Number.isInteger(copy.created_at), `${what}: created_at is an integer`);
  assert.equal(getEventHash(copy), copy.id, `${what}: id equals nostr-tools getEventHash`);
  assert.equal(verifyEvent(copy), true, `${what}: nostr-tools verifyEvent`);
}

async function storedById(feed, id) {
  const got = await feed.query({ ids: [id] });
  assert.ok(got.length <= 1, 'at most one event per id');
  return got[0];
}

/* ------------------------------------------------------------------------ */
describe('events from nostr-tools are accepted byte-exact', () => {
  test('every kind the engine knows, and an unknown one', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const b = makeAuthor();
    const target = a.sign({ content: 'a post to react to' });
    const evs = [
      a.sign({ kind: 0, content: JSON.stringify({ name: 'alice', about: 'hi', picture: 'https://example.com/a.png' }) }),
      target,
      a.sign({ kind: 3, tags: [['p', b.pubkey], ['p', makeAuthor().pubkey, 'wss://relay.example', 'pet']] }),
      // A deletion of an event nobody has: stored, and deletes nothing.
      a.sign({ kind: 5, tags: [['e', 'ab'.repeat(32)]], content: 'oops' }),
      b.sign({ kind: 7, content: '+', tags: [['e', target.id], ['p', a.pubkey]] }),
      b.sign({ kind: 10000, tags: [['p', makeAuthor().pubkey]] }),
      a.sign({ kind: 30023, content: '# long form\n\nbody', tags: [['d', 'article-1'], ['title', 'Title']] }),
      a.sign({ kind: 1, content: 'unknown tag shapes', tags: [[], ['x'], ['e', 'not-hex', 'extra', 'fields', '']] }),
    ];
    for (const ev of evs) {
      const res = await mergeAccepted(feed, ev);
      assert.deepEqual(res.replies, [['OK', ev.id, true, '']], `kind ${ev.kind}`);
      assert.deepEqual(await storedById(feed, ev.id), ev, `kind ${ev.kind} stored byte-exact`);
    }
    assert.deepEqual(await feed.query({}), sorted(evs), 'query({}) returns exactly the merged events');
  });

  test('strings with escapes, control characters and non-ASCII survive', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const controls = Array.from({ length: 0x1f }, (_, i) => String.fromCharCode(i + 1));
    const contents = [
      'say "hi" \\ back\\slash \\" \\\\',
      'line1\nline2\r\nline3\ttabbed',
      controls.join(''),
      ...controls.map((c) => `[${c}]`),
      'del:\u007f',
      'emoji 😀 👩‍👩‍👧 🇯🇵 and a lone-free astral 𝄞',
      '広場 日本語 中文 한국어',
      '</script><script>alert(1)</script>',
      'slash / and \u2028 line sep \u2029 para sep',
      'combining e\u0301 and BOM-in-the-middle \ufeff here',
      '\u00a0\u00ff\u0100\uffff\ud7ff\ue000',
      '',
      ' ',
      '{"looks":"like json"}',
      '\\u0000 (a backslash-u, not a NUL)',
    ];
    for (const [i, content] of contents.entries()) {
      const ev = a.sign({ content, created_at: nowSec() - i, tags: [['t', content], ['x', content, content]] });
      await mergeAccepted(feed, ev);
      const got = await storedById(feed, ev.id);
      assert.deepEqual(got, ev, `content #${i} ${JSON.stringify(content)} byte-exact`);
      assertValidNostr(got, `content #${i}`);
    }
  });

  test('U+0000, lone surrogates and every control character are accepted and served back as JSON.stringify wrote them', async (t) => {
    const { feed } = await tempFeed(t, 'feed.db', { policy: { store: 'all' } });
    const { feed: other } = await tempFeed(t, 'other.db', { policy: { store: 'all' } });
    const a = makeAuthor();
    const u = (c) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    const controls = Array.from({ length: 0x1f }, (_, i) => String.fromCharCode(i + 1));
    const strings = [
      ['lone high surrogate (a truncated emoji)', 'cut \ud83d'],
      ['lone low surrogate', '\ude00 and more'],
      ['U+0000', '\u0000'],
      ...controls.map((c) => [u(c), c]),
      ['U+007F', '\u007f'],
      ['U+2028', '\u2028'],
      ['paired emoji', '\ud83d\ude00'],
      ['halves reversed, a pair then a half', '\ude00\ud83d \ud83d\ude00\ud83d'],
      ['all of them', `a\u0000b\ud800${controls.join('')}\u007f\u2028\udfff\ud83d\ude00`],
    ];
    for (const [i, [what, s]] of strings.entries()) {
      const ev = a.sign({ content: s, created_at: nowSec() - i, tags: [['t', s], ['x', 'value', s]] });
      assert.equal(verifyEvent(plain(ev)), true, `${what}: nostr-tools signed it`);
      await mergeAccepted(feed, ev);
      const got = await storedById(feed, ev.id);
      assert.ok(got, `${what}: stored`);
      assert.equal(got.id, ev.id, `${what}: same id`);
      assert.equal(got.content, s, `${what}: JSON.parse gives the same content`);
      assert.deepEqual(got.tags, ev.tags, `${what}: same tags`);
      const { id, pubkey, created_at, kind, tags, content, sig } = ev;
      assert.equal(JSON.stringify(got), JSON.stringify({ id, pubkey, created_at, kind, tags, content, sig }),
        `${what}: the JSON text JSON.stringify writes`);
      assertValidNostr(got, what);
      // A tag filter built from the same string finds it (same bytes in
      // the tag table), and a REQ answer carries it unchanged.
      assert.deepEqual(ids(await feed.query({ '#t': [s] })), [ev.id], `${what}: #t finds it`);
      const req = await feed.merge(['REQ', 'q', { '#t': [s] }]);
      assert.deepEqual(req.replies, [['EVENT', 'q', ev], ['EOSE', 'q']], `${what}: REQ answer`);
      // What was served merges into another feed as a string frame.
      await mergeAccepted(other, got, JSON.stringify(['EVENT', got]));
      assert.deepEqual(await storedById(other, ev.id), ev, `${what}: relayed byte-exact`);
    }
    // Our own posts with the same strings verify with nostr-tools.
    for (const [what, s] of strings) {
      const p = await feed.post(s, { tags: [['t', s]] });
      assertValidNostr(p, `post: ${what}`);
      assert.equal(p.content, s, `post: ${what}: content`);
      assert.deepEqual(await storedById(feed, p.id), p, `post: ${what}: stored as returned`);
    }
  });

  test('content of exactly 65536 bytes is accepted', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const contents = ['a'.repeat(65536), 'é'.repeat(32768), '😀'.repeat(16384), '\n'.repeat(65536)];
    for (const [i, content] of contents.entries()) {
      assert.equal(utf8Len(content), 65536);
      const ev = a.sign({ content, created_at: nowSec() - i });
      await mergeAccepted(feed, ev);
      assert.deepEqual(await storedById(feed, ev.id), ev);
    }
  });

  test('duplicates are idempotent', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const ev = a.sign({ content: 'once' });
    await mergeAccepted(feed, ev);
    for (let i = 0; i < 3; i++) {
      const res = await feed.merge(['EVENT', ev]);
      assertMergeShape(res);
      assert.deepEqual(res.accepted, []);
      assert.deepEqual(res.rejected, []);
      assert.equal(res.duplicates, 1);
      assert.equal(res.replies.length, 1);
      const [type, id, ok, msg] = res.replies[0];
      assert.deepEqual([type, id, ok], ['OK', ev.id, true]);
      assert.ok(msg.startsWith('duplicate:'), `"${msg}" starts with "duplicate:"`);
    }
    // Inside one batch, and a string frame, and raw bytes: still one copy.
    const ev2 = a.sign({ content: 'twice in a batch', created_at: ev.created_at - 1 });
    const res = await feed.merge([['EVENT', ev2], ['EVENT', ev2], ['EVENT', ev]]);
    assertMergeShape(res);
    assert.deepEqual(res.accepted, [ev2.id]);
    assert.equal(res.duplicates, 2);
    assert.deepEqual(res.rejected, []);
    const res2 = await feed.merge(JSON.stringify(['EVENT', ev2]));
    assert.equal(res2.duplicates, 1);
    const res3 = await feed.merge(new TextEncoder().encode(JSON.stringify(['EVENT', ev2])));
    assert.equal(res3.duplicates, 1);
    // Our own event sent back to us.
    const mine = await feed.post('my own');
    const res4 = await feed.merge(['EVENT', mine]);
    assert.equal(res4.duplicates, 1);
    assert.deepEqual(res4.accepted, []);
    assert.deepEqual(ids(await feed.query({})), ids(sorted([ev, ev2, mine])));
  });

  test('events survive close and reopen', async (t) => {
    const { feed, path, reopen } = await tempFeed(t);
    const a = makeAuthor();
    const b = makeAuthor();
    const { pubkey } = await feed.identity();
    assert.match(pubkey, HEX64);
    const foreign = a.sign({ content: 'from a peer' });
    await mergeAccepted(feed, foreign);
    const mine = await feed.post('persisted post', { tags: [['t', 'persist']] });
    await feed.setProfile({ name: 'me', about: 'before restart' });
    await feed.follow(a.pubkey);
    const before = await feed.query({});
    await feed.close();
    assert.ok(existsSync(path), 'the database file exists');
    assert.ok(statSync(path).size > 0, 'the database file is not empty');

    const feed2 = await reopen();
    assert.deepEqual(await feed2.identity(), { pubkey }, 'same identity after reopen');
    assert.deepEqual(await feed2.query({}), before, 'same events after reopen');
    assert.deepEqual(await storedById(feed2, mine.id), mine);
    assert.deepEqual(await storedById(feed2, foreign.id), foreign);
    // The follow list and the profile carry on from the stored versions.
    const k3 = await feed2.follow(b.pubkey);
    assert.deepEqual(new Set(tagValues(k3, 'p')), new Set([a.pubkey, b.pubkey]));
    const k0 = await feed2.setProfile({ picture: 'https://example.com/p.png' });
    assert.deepEqual(JSON.parse(k0.content), { name: 'me', about: 'before restart', picture: 'https://example.com/p.png' });
    const tl = await feed2.timeline({ limit: 10 });
    assert.deepEqual(tl.map((i) => i.event.id), ids(sorted([mine, foreign])));
  });
});

/* ------------------------------------------------------------------------ */
describe('events we sign verify with nostr-tools', () => {
  test('post, setProfile, follow, unfollow, mute, unmute, react, delete', async (t) => {
    const { feed } = await tempFeed(t);
    const { pubkey: me } = await feed.identity();
    const a = makeAuthor();
    const b = makeAuthor();
    const check = (ev, kind, what) => {
      assertValidNostr(ev, what);
      assert.equal(ev.pubkey, me, `${what}: signed by our identity`);
      assert.equal(ev.kind, kind, `${what}: kind`);
      return ev;
    };

    const tricky = 'post with "quotes", \\, \n, \t, \u0001, 😀, 広場, </script>';
    const p = check(await feed.post(tricky, { tags: [['t', 'hiroba'], ['e', 'ab'.repeat(32)]] }), 1, 'post');
    assert.equal(p.content, tricky);
    assert.deepEqual(p.tags, [['t', 'hiroba'], ['e', 'ab'.repeat(32)]]);
    assert.deepEqual(await storedById(feed, p.id), p, 'post is stored as returned');
    const p0 = check(await feed.post('no tags'), 1, 'post without options');
    assert.deepEqual(p0.tags, []);

    const k0a = check(await feed.setProfile({ name: 'Me', about: 'about me' }), 0, 'setProfile');
    assert.deepEqual(JSON.parse(k0a.content), { name: 'Me', about: 'about me' });
    const k0b = check(await feed.setProfile({ picture: 'https://example.com/me.png' }), 0, 'setProfile again');
    assert.deepEqual(JSON.parse(k0b.content), { name: 'Me', about: 'about me', picture: 'https://example.com/me.png' },
      'profile fields are merged with the previous ones');
    assert.ok(k0b.created_at > k0a.created_at, 'a replaceable update is newer than the previous version');
    assert.deepEqual(await feed.query({ kinds: [0], authors: [me] }), [k0b], 'only the newest profile is kept');

    const f1 = check(await feed.follow(a.pubkey), 3, 'follow');
    assert.deepEqual(tagValues(f1, 'p'), [a.pubkey]);
    const f2 = check(await feed.follow(b.pubkey), 3, 'follow again');
    assert.deepEqual(new Set(tagValues(f2, 'p')), new Set([a.pubkey, b.pubkey]), 'follow(a); follow(b) follows both');
    assert.ok(f2.created_at >= f1.created_at + 1, 'created_at is max(now, previous + 1)');
    const f3 = check(await feed.unfollow(a.pubkey), 3, 'unfollow');
    assert.deepEqual(tagValues(f3, 'p'), [b.pubkey]);
    assert.ok(f3.created_at >= f2.created_at + 1);
    assert.deepEqual(await feed.query({ kinds: [3], authors: [me] }), [f3]);

    const m1 = check(await feed.mute(a.pubkey), 10000, 'mute');
    assert.deepEqual(tagValues(m1, 'p'), [a.pubkey]);
    const m2 = check(await feed.unmute(a.pubkey), 10000, 'unmute');
    assert.deepEqual(tagValues(m2, 'p'), []);
    assert.ok(m2.created_at >= m1.created_at + 1);

    // A reaction to a known event names its author; to an unknown one, not.
    const known = a.sign({ content: 'react to me' });
    await mergeAccepted(feed, known);
    const r1 = check(await feed.react(known.id, '+'), 7, 'react');
    assert.equal(r1.content, '+');
    assert.deepEqual(tagValues(r1, 'e'), [known.id]);
    assert.deepEqual(tagValues(r1, 'p'), [a.pubkey]);
    const unknownId = 'cd'.repeat(32);
    const r2 = check(await feed.react(unknownId, '🔥'), 7, 'react to an unknown event');
    assert.equal(r2.content, '🔥');
    assert.deepEqual(tagValues(r2, 'e'), [unknownId]);

    const d = check(await feed.delete(p.id), 5, 'delete');
    assert.deepEqual(tagValues(d, 'e'), [p.id]);
    assert.equal(await storedById(feed, p.id), undefined, 'our deleted post is gone');
    const d2 = check(await feed.delete('ef'.repeat(32)), 5, 'delete of an unknown event');
    assert.deepEqual(tagValues(d2, 'e'), ['ef'.repeat(32)]);

    // Every local event round-trips through another feed too.
    const { feed: other } = await tempFeed(t, 'other.db');
    for (const ev of [p0, k0b, f3, m2, r1, r2, d, d2]) await mergeAccepted(other, ev);
  });

  test('deleting a known event of someone else throws and changes nothing', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const theirs = a.sign({ content: 'not yours to delete' });
    await mergeAccepted(feed, theirs);
    await assert.rejects(feed.delete(theirs.id), (err) => {
      assert.ok(err instanceof Error);
      assert.ok(typeof err.message === 'string' && err.message.length > 0);
      // The contract only says "throws"; an engine code, when given, is negative.
      if (err.code !== undefined) assert.ok(err.code < 0, `negative code, got ${err.code}`);
      return true;
    });
    assert.deepEqual(await storedById(feed, theirs.id), theirs);
    assert.deepEqual(await feed.query({ kinds: [5] }), [], 'no deletion event was made');
  });

  test('a bad filter throws an Error with a negative code', async (t) => {
    const { feed } = await tempFeed(t);
    for (const bad of [{ ids: ['not hex'] }, { kinds: 'one' }, { authors: [42] }]) {
      await assert.rejects(feed.query(bad), (err) => {
        assert.ok(err instanceof Error);
        assert.ok(Number.isInteger(err.code) && err.code < 0, `negative code for ${JSON.stringify(bad)}: ${err.code}`);
        return true;
      });
    }
    // The feed still works afterwards.
    const p = await feed.post('still alive');
    assert.deepEqual(await feed.query({}), [p]);
  });
});

/* ------------------------------------------------------------------------ */
describe('bad events are rejected with a NIP-01 reason', () => {
  const SIG = /signature|\bsig\b/i;
  const ID = /\bid\b/i;

  test('tampered events', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const b = makeAuthor();
    const base = a.sign({ content: 'hello world', tags: [['t', 'x'], ['p', b.pubkey]] });
    const flip = (hex, i) => hex.slice(0, i) + (hex[i] === '0' ? '1' : '0') + hex.slice(i + 1);
    const rehash = (ev) => ({ ...ev, id: getEventHash(ev) });
    const cases = [
      ['content changed', { ...base, content: 'hello world!' }, ID],
      ['created_at changed', { ...base, created_at: base.created_at + 1 }, ID],
      ['kind changed', { ...base, kind: 2 }, ID],
      ['tag value changed', { ...base, tags: [['t', 'y'], ['p', b.pubkey]] }, ID],
      ['tag added', { ...base, tags: [...base.tags, ['t', 'z']] }, ID],
      ['tag removed', { ...base, tags: [['t', 'x']] }, ID],
      ['pubkey changed', { ...base, pubkey: b.pubkey }, ID],
      ['id changed', { ...base, id: flip(base.id, 10) }, ID],
      ['first byte of sig', { ...base, sig: flip(base.sig, 0) }, SIG],
      ['last byte of sig', { ...base, sig: flip(base.sig, 127) }, SIG],
      ['middle byte of sig', { ...base, sig: flip(base.sig, 64) }, SIG],
      ['content changed, id recomputed', rehash({ ...base, content: 'forged' }), SIG],
      ['pubkey changed, id recomputed', rehash({ ...base, pubkey: b.pubkey }), SIG],
      ['sig of another event', { ...base, sig: a.sign({ content: 'other' }).sig }, SIG],
    ];
    for (const [what, ev, word] of cases) {
      const r = await mergeRejected(feed, ['EVENT', ev], { prefix: 'invalid:', id: ev.id });
      assert.match(r.reason, word, `${what}: reason "${r.reason}"`);
      assert.equal(await storedById(feed, ev.id), undefined, `${what}: not stored`);
    }
    // The original is still fine after all that.
    await mergeAccepted(feed, base);
  });

  test('bad hex', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const base = a.sign({ content: 'hex' });
    const cases = [
      ['uppercase id', { ...base, id: base.id.toUpperCase() }, undefined],
      ['uppercase pubkey', { ...base, pubkey: base.pubkey.toUpperCase() }, base.id],
      ['uppercase sig', { ...base, sig: base.sig.toUpperCase() }, base.id],
      ['id of 63 chars', { ...base, id: base.id.slice(1) }, null],
      ['id of 65 chars', { ...base, id: base.id + '0' }, null],
      ['id of 66 chars', { ...base, id: base.id + '00' }, null],
      ['id with a non-hex char', { ...base, id: 'g' + base.id.slice(1) }, null],
      ['empty id', { ...base, id: '' }, null],
      ['pubkey of 63 chars', { ...base, pubkey: base.pubkey.slice(1) }, base.id],
      ['sig of 126 chars', { ...base, sig: base.sig.slice(2) }, base.id],
      ['sig of 130 chars', { ...base, sig: base.sig + 'ab' }, base.id],
      ['pubkey not on the curve', { ...base, pubkey: 'f'.repeat(64) }, base.id],
    ];
    for (const [what, ev, id] of cases) {
      await mergeRejected(feed, ['EVENT', ev], { prefix: 'invalid:', id });
      assert.deepEqual(await feed.query({}), [], `${what}: nothing stored`);
    }
  });

  test('content over 65536 bytes, more than 2000 tags', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const big1 = a.sign({ content: 'a'.repeat(65537) });
    const big2 = a.sign({ content: 'é'.repeat(32768) + 'a' });   // 32769 chars, 65537 bytes
    const big3 = a.sign({ content: '😀'.repeat(16384) + 'a' });
    for (const ev of [big1, big2, big3]) {
      assert.equal(utf8Len(ev.content), 65537);
      await mergeRejected(feed, ['EVENT', ev], { prefix: 'invalid:', id: ev.id });
    }
    const tags = (n) => Array.from({ length: n }, (_, i) => ['t', `tag${i}`]);
    const ok2000 = a.sign({ content: '2000 tags', tags: tags(2000) });
    await mergeAccepted(feed, ok2000);
    assert.deepEqual(await storedById(feed, ok2000.id), ok2000);
    const bad2001 = a.sign({ content: '2001 tags', tags: tags(2001) });
    await mergeRejected(feed, ['EVENT', bad2001], { prefix: 'invalid:', id: bad2001.id });
    assert.deepEqual(ids(await feed.query({})), [ok2000.id]);
  });

  test('created_at: 14 minutes ahead is accepted, 16 minutes ahead is not', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const soon = a.sign({ content: 'in 14 minutes', created_at: nowSec() + 14 * 60 });
    await mergeAccepted(feed, soon);
    const late = a.sign({ content: 'in 16 minutes', created_at: nowSec() + 16 * 60 });
    await mergeRejected(feed, ['EVENT', late], { prefix: 'invalid:', id: late.id });
    const far = a.sign({ content: 'in a year', created_at: nowSec() + 365 * 86400 });
    await mergeRejected(feed, ['EVENT', far], { prefix: 'invalid:', id: far.id });
    // The past is fine, however far.
    const old = a.sign({ content: '1970', created_at: 1 });
    await mergeAccepted(feed, old);
    assert.deepEqual(ids(await feed.query({})), [soon.id, old.id]);
  });

  test('invalid UTF-8 in raw bytes is rejected', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const base = a.sign({ content: 'XX' });
    const text = JSON.stringify(['EVENT', base]);
    const at = Buffer.from(text).indexOf('"XX"') + 1;
    for (const bad of [[0xff, 0xfe], [0xc0, 0xaf], [0x80, 0x80], [0xed, 0xa0], [0xe3, 0x81], [0xf8, 0x88]]) {
      const bytes = new Uint8Array(Buffer.from(text));
      bytes[at] = bad[0];
      bytes[at + 1] = bad[1];
      const res = await feed.merge(bytes);
      assertMergeShape(res);
      assert.deepEqual(res.accepted, [], `bytes ${bad}`);
      assert.equal(res.rejected.length, 1, `bytes ${bad}: one rejection`);
      assert.ok(res.rejected[0].reason.startsWith('invalid:'), res.rejected[0].reason);
    }
    assert.deepEqual(await feed.query({}), []);
  });
});

/* ------------------------------------------------------------------------ */
describe('query follows NIP-01 filter semantics', () => {
  // One dataset, built once per test: three nostr-tools authors plus one
  // local post, with shared timestamps so ties happen.
  async function dataset(t) {
    const { feed } = await tempFeed(t);
    const A = makeAuthor('query-A');
    const B = makeAuthor('query-B');
    const C = makeAuthor('query-C');
    const T = nowSec() - 5000;
    const X = '12'.repeat(32);
    const a1 = A.sign({ created_at: T + 1, content: 'a1', tags: [['t', 'nostr']] });
    const ev = [
      a1,
      A.sign({ created_at: T + 2, content: 'a2', tags: [['e', X], ['p', B.pubkey]] }),
      A.sign({ created_at: T + 3, kind: 7, content: '+', tags: [['e', a1.id], ['p', A.pubkey]] }),
      A.sign({ created_at: T + 4, kind: 30023, content: 'article', tags: [['d', 'art'], ['t', 'long']] }),
      A.sign({ created_at: T + 5, content: 'a5', tags: [['t', 'nostr'], ['t', 'hiroba']] }),
      B.sign({ created_at: T + 2, content: 'b2', tags: [['p', A.pubkey]] }),
      B.sign({ created_at: T + 3, content: 'b3', tags: [['p', A.pubkey], ['p', C.pubkey]] }),
      B.sign({ created_at: T + 5, kind: 7, content: '-', tags: [['e', a1.id]] }),
      B.sign({ created_at: T + 5, content: 'b5', tags: [['E', 'Upper']] }),
      B.sign({ created_at: T + 6, content: 'b6', tags: [['t', 'nostr', 'extra']] }),
      C.sign({ created_at: T + 3, content: 'c3a', tags: [['e', a1.id]] }),
      C.sign({ created_at: T + 3, content: 'c3b' }),
      C.sign({ created_at: T + 3, content: 'c3c' }),
      C.sign({ created_at: T + 7, kind: 42, content: 'c7', tags: [['e', X, 'wss://r', 'root']] }),
    ];
    for (const e of ev) await mergeAccepted(feed, e);
    const mine = await feed.post('mine', { tags: [['t', 'nostr']] });
    return { feed, A, B, C, T, X, a1, all: [...ev, mine], mine };
  }

  const expectFor = (all, filters) => {
    const fs = Array.isArray(filters) ? filters : [filters];
    return sorted(all.filter((e) => fs.some((f) => matchFilter(f, e))));
  };

  test('each field alone and in combinations (nostr-tools matchFilter as oracle)', async (t) => {
    const { feed, A, B, C, T, X, a1, all } = await dataset(t);
    const some = all.filter((e) => e.content.startsWith('c3'));
    const filters = [
      {},
      { ids: [a1.id] },
      { ids: [a1.id, some[1].id, '00'.repeat(32)] },
      { authors: [A.pubkey] },
      { authors: [A.pubkey, C.pubkey] },
      { authors: ['00'.repeat(32)] },
      { kinds: [1] },
      { kinds: [7, 30023] },
      { kinds: [42] },
      { kinds: [9999] },
      { '#e': [a1.id] },
      { '#e': [X] },
      { '#p': [A.pubkey] },
      { '#p': [A.pubkey, B.pubkey] },
      { '#t': ['nostr'] },
      { '#t': ['hiroba', 'long'] },
      { '#d': ['art'] },
      { '#E': ['Upper'] },
      { '#t': ['extra'] },
      { since: T + 3 },
      { until: T + 3 },
      { since: T + 3, until: T + 3 },
      { since: T + 2, until: T + 5, kinds: [1] },
      { authors: [B.pubkey], '#p': [A.pubkey] },
      { '#e': [X], '#p': [B.pubkey] },
      { '#e': [X], '#p': [C.pubkey] },
      { authors: [C.pubkey], kinds: [1], since: T + 3, until: T + 3 },
      { authors: [A.pubkey], kinds: [7] },
      { '#t': ['nostr'], since: T + 5 },
      { ids: [a1.id], authors: [B.pubkey] },
      { since: T + 8, until: T + 2 },
    ];
    for (const f of filters) {
      const got = await feed.query(f);
      assert.deepEqual(got, expectFor(all, f), `filter ${JSON.stringify(f)}`);
    }
  });

  test('ties on created_at are ordered by lowest id', async (t) => {
    const { feed, T } = await dataset(t);
    const got = await feed.query({ since: T + 3, until: T + 3 });
    assert.ok(got.length >= 4);
    for (let i = 1; i < got.length; i++) {
      assert.ok(got[i - 1].id < got[i].id, `ids ascending within one second: ${got[i - 1].id} < ${got[i].id}`);
    }
    // More ties from many authors at one second.
    const T2 = T + 100;
    const many = Array.from({ length: 12 }, (_, i) => makeAuthor().sign({ created_at: T2, content: `tie ${i}` }));
    for (const e of many) await mergeAccepted(feed, e);
    assert.deepEqual(await feed.query({ since: T2, until: T2 }), sorted(many));
    assert.deepEqual(await feed.query({ since: T2, until: T2, limit: 5 }), sorted(many).slice(0, 5),
      'limit keeps the lowest ids of a tie');
  });

  test('limit keeps the newest matches', async (t) => {
    const { feed, A, C, T, all } = await dataset(t);
    const cases = [
      { limit: 1 }, { limit: 3 }, { kinds: [1], limit: 4 }, { authors: [C.pubkey], limit: 2 },
      { until: T + 3, limit: 2 }, { authors: [A.pubkey], limit: 100 }, { limit: 1000000 },
    ];
    for (const f of cases) {
      const { limit, ...rest } = f;
      assert.deepEqual(await feed.query(f), expectFor(all, rest).slice(0, limit), `filter ${JSON.stringify(f)}`);
    }
    assert.equal((await feed.query({})).length, all.length, 'no limit means every match');
  });

  test('limit 0 returns nothing', async (t) => {
    const { feed } = await dataset(t);
    assert.deepEqual(await feed.query({ limit: 0 }), []);
  });

  test('several filters are OR-ed and de-duplicated', async (t) => {
    const { feed, A, B, C, T, a1, all } = await dataset(t);
    const cases = [
      [{ authors: [A.pubkey] }, { kinds: [1] }],
      [{ ids: [a1.id] }, { ids: [a1.id] }],
      [{ '#t': ['nostr'] }, { authors: [C.pubkey] }],
      [{ authors: [B.pubkey], kinds: [7] }, { since: T + 6 }, { '#e': [a1.id] }],
      [{ kinds: [9999] }, { ids: ['00'.repeat(32)] }],
    ];
    for (const fs of cases) {
      const got = await feed.query(fs);
      assert.deepEqual(got, expectFor(all, fs), `filters ${JSON.stringify(fs)}`);
      assert.equal(new Set(ids(got)).size, got.length, 'no event twice');
    }
    assert.deepEqual(await feed.query([{}]), expectFor(all, {}));
  });
});

/* ------------------------------------------------------------------------ */
describe('peer frames', () => {
  test('REQ is answered with stored events, newest first, then EOSE', async (t) => {
    const { feed } = await tempFeed(t);
    const A = makeAuthor();
    const B = makeAuthor();
    const T = nowSec() - 100;
    const evs = [
      A.sign({ created_at: T, content: 'a0' }),
      A.sign({ created_at: T + 1, content: 'a1' }),
      A.sign({ created_at: T + 1, content: 'a1 tie' }),
      B.sign({ created_at: T + 2, content: 'b2' }),
      B.sign({ created_at: T + 3, kind: 7, content: '+' }),
    ];
    for (const e of evs) await mergeAccepted(feed, e);
    const cases = [
      [{ kinds: [1] }],
      [{ authors: [A.pubkey] }, { ids: [evs[3].id] }],
      [{ limit: 2 }],
      [{ kinds: [1], since: T + 1, until: T + 1 }],
      [{ kinds: [12345] }],
      [{}],
    ];
    for (const [i, filters] of cases.entries()) {
      const sub = `sub-${i}`;
      const res = await feed.merge(['REQ', sub, ...filters]);
      assertMergeShape(res);
      assert.deepEqual(res.accepted, []);
      assert.deepEqual(res.rejected, []);
      assert.equal(res.duplicates, 0);
      const expected = await feed.query(filters);
      assert.deepEqual(res.replies, [...expected.map((e) => ['EVENT', sub, e]), ['EOSE', sub]],
        `REQ ${JSON.stringify(filters)}`);
    }
  });

  test('REQ with a bad filter is answered with CLOSED', async (t) => {
    const { feed } = await tempFeed(t);
    await mergeAccepted(feed, makeAuthor().sign({ content: 'something to serve' }));
    const bad = [
      { ids: ['xyz'] },
      { ids: 'not an array' },
      { authors: [123] },
      { kinds: ['1'] },
      { since: 'yesterday' },
      'not an object',
      42,
      null,
    ];
    for (const [i, f] of bad.entries()) {
      const sub = `bad-${i}`;
      const res = await feed.merge(['REQ', sub, f]);
      assertMergeShape(res);
      assert.deepEqual(res.accepted, []);
      assert.equal(res.replies.length, 1, `one reply for ${JSON.stringify(f)}: ${JSON.stringify(res.replies)}`);
      const [type, id, msg] = res.replies[0];
      assert.equal(type, 'CLOSED', `filter ${JSON.stringify(f)}`);
      assert.equal(id, sub);
      assert.ok(typeof msg === 'string' && msg.startsWith('invalid:'), `"${msg}" starts with "invalid:"`);
    }
  });

  test('CLOSE, OK, EOSE, NOTICE and CLOSED from a peer get no reply', async (t) => {
    const { feed } = await tempFeed(t);
    await feed.merge(['REQ', 'live', {}]);
    const frames = [
      ['CLOSE', 'live'],
      ['CLOSE', 'never-opened'],
      ['OK', 'ab'.repeat(32), true, ''],
      ['OK', 'ab'.repeat(32), false, 'blocked: you'],
      ['EOSE', 'sub'],
      ['NOTICE', 'hello there'],
      ['CLOSED', 'sub', 'error: shutting down'],
    ];
    for (const f of frames) {
      const res = await feed.merge(f);
      assertMergeShape(res);
      assert.deepEqual([res.accepted, res.rejected, res.replies, res.duplicates], [[], [], [], 0], JSON.stringify(f));
    }
  });

  test('unknown frame types, non-array frames and garbage get a NOTICE', async (t) => {
    const { feed } = await tempFeed(t);
    const frames = [
      ['FOO', 1],
      ['AUTH'],
      [1, 2, 3],
      '{"EVENT": 1}',
      '42',
      '"EVENT"',
      'null',
      'true',
      'not json at all',
      '["EVENT", {"id": }]',
      '',
      new Uint8Array([0xff, 0xfe, 0xfd]),
    ];
    for (const f of frames) {
      await mergeRejected(feed, f, { prefix: 'invalid:', id: null });
    }
    assert.deepEqual(await feed.query({}), []);
  });

  test('["EVENT", subId, ev] is applied like a push but gets no OK', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const ev = a.sign({ content: 'an answer to our REQ' });
    const res = await feed.merge(['EVENT', 'our-sub', ev]);
    assertMergeShape(res);
    assert.deepEqual(res.accepted, [ev.id]);
    assert.deepEqual(res.replies, []);
    const dup = await feed.merge(['EVENT', 'our-sub', ev]);
    assert.equal(dup.duplicates, 1);
    assert.ok(!dup.replies.some((r) => r[0] === 'OK'), 'no OK for a duplicate answer');
    const bad = { ...ev, content: 'tampered' };
    const rej = await feed.merge(['EVENT', 'our-sub', bad]);
    assertMergeShape(rej);
    assert.deepEqual(rej.accepted, []);
    assert.equal(rej.rejected.length, 1);
    assert.equal(rej.rejected[0].id, bad.id);
    assert.ok(rej.rejected[0].reason.startsWith('invalid:'));
    assert.ok(!rej.replies.some((r) => r[0] === 'OK'), 'no OK for a rejected answer');
    assert.deepEqual(await feed.query({}), [ev]);
  });

  test('a batch applies every frame: good ones stored, bad ones rejected', async (t) => {
    const { feed } = await tempFeed(t);
    const a = makeAuthor();
    const g1 = a.sign({ content: 'good 1', created_at: nowSec() - 2 });
    const g2 = a.sign({ content: 'good 2', created_at: nowSec() - 1 });
    const bad = { ...a.sign({ content: 'bad' }), content: 'tampered' };
    const res = await feed.merge([['EVENT', g1], ['EVENT', bad], ['EVENT', g2], ['EVENT', g1], ['NOTICE', 'hi']]);
    assertMergeShape(res);
    assert.deepEqual(res.accepted, [g1.id, g2.id]);
    assert.equal(res.duplicates, 1);
    assert.equal(res.rejected.length, 1);
    assert.equal(res.rejected[0].id, bad.id);
    assert.ok(res.rejected[0].reason.startsWith('invalid:'));
    const oks = res.replies.filter((r) => r[0] === 'OK');
    assert.deepEqual(oks.map((r) => [r[1], r[2]]), [[g1.id, true], [bad.id, false], [g2.id, true], [g1.id, true]]);
    assert.deepEqual(await feed.query({}), [g2, g1]);
  });
});

/* ------------------------------------------------------------------------ */
describe('replaceable events', () => {
  for (const kind of [0, 3, 10000, 10002, 19999]) {
    test(`kind ${kind}: the newest per author wins, ties go to the lowest id`, async (t) => {
      const { feed } = await tempFeed(t);
      const T = nowSec() - 1000;
      const content = (s) => (kind === 0 ? JSON.stringify({ name: s }) : s);
      const q = (who) => feed.query({ authors: [who.pubkey], kinds: [kind] });

      // Older first, then newer: both accepted, newer kept; older re-sent: replaced.
      const A = makeAuthor();
      const oldA = A.sign({ kind, created_at: T, content: content('old') });
      const newA = A.sign({ kind, created_at: T + 10, content: content('new') });
      await mergeAccepted(feed, oldA);
      await mergeAccepted(feed, newA);
      assert.deepEqual(await q(A), [newA]);
      await mergeRejected(feed, ['EVENT', oldA], { prefix: 'replaced:', id: oldA.id });
      assert.deepEqual(await q(A), [newA]);

      // Newer first: the older one is refused.
      const B = makeAuthor();
      const oldB = B.sign({ kind, created_at: T, content: content('old') });
      const newB = B.sign({ kind, created_at: T + 1, content: content('new') });
      await mergeAccepted(feed, newB);
      await mergeRejected(feed, ['EVENT', oldB], { prefix: 'replaced:', id: oldB.id });
      assert.deepEqual(await q(B), [newB]);

      // Equal created_at: the lowest id wins whatever the order.
      const tie = (who) => {
        const [lo, hi] = sorted([who.sign({ kind, created_at: T, content: content('x') }),
          who.sign({ kind, created_at: T, content: content('y') })]);
        assert.ok(lo.id < hi.id);
        return { lo, hi };
      };
      const C = makeAuthor();
      const c = tie(C);
      await mergeAccepted(feed, c.hi);
      await mergeAccepted(feed, c.lo);
      assert.deepEqual(await q(C), [c.lo], 'lower id replaces the higher');
      await mergeRejected(feed, ['EVENT', c.hi], { prefix: 'replaced:', id: c.hi.id });
      const D = makeAuthor();
      const d = tie(D);
      await mergeAccepted(feed, d.lo);
      await mergeRejected(feed, ['EVENT', d.hi], { prefix: 'replaced:', id: d.hi.id });
      assert.deepEqual(await q(D), [d.lo]);

      // In one batch, in any order.
      const E = makeAuthor();
      const e = tie(E);
      const e3 = E.sign({ kind, created_at: T - 5, content: content('older') });
      const res = await feed.merge([['EVENT', e.hi], ['EVENT', e3], ['EVENT', e.lo]]);
      assertMergeShape(res);
      assert.ok(res.accepted.includes(e.lo.id));
      assert.deepEqual(await q(E), [e.lo]);

      // Another author's version replaces nothing; REQ serves only winners.
      assert.deepEqual(await feed.query({ kinds: [kind] }), sorted([newA, newB, c.lo, d.lo, e.lo]));
      const req = await feed.merge(['REQ', 'r', { kinds: [kind] }]);
      assert.deepEqual(req.replies.slice(0, -1).map((r) => r[2].id), ids(sorted([newA, newB, c.lo, d.lo, e.lo])));
      // The winner re-sent is a duplicate.
      const dup = await feed.merge(['EVENT', newA]);
      assert.equal(dup.duplicates, 1);
    });
  }

  test('kind 1 is never replaced', async (t) => {
    const { feed } = await tempFeed(t);
    const A = makeAuthor();
    const T = nowSec() - 100;
    const evs = [
      A.sign({ kind: 1, created_at: T, content: 'one' }),
      A.sign({ kind: 1, created_at: T + 1, content: 'two' }),
      A.sign({ kind: 1, created_at: T + 1, content: 'three' }),
    ];
    for (const e of evs) await mergeAccepted(feed, e);
    assert.deepEqual(await feed.query({ authors: [A.pubkey] }), sorted(evs));
  });

  test('kind 30023 is stored untouched (contract: only 0, 3 and 10000-19999 are replaceable)', async (t) => {
    const { feed } = await tempFeed(t);
    const A = makeAuthor();
    const T = nowSec() - 100;
    const evs = [
      A.sign({ kind: 30023, created_at: T, content: 'v1', tags: [['d', 'same']] }),
      A.sign({ kind: 30023, created_at: T + 1, content: 'v2', tags: [['d', 'same']] }),
    ];
    for (const e of evs) await mergeAccepted(feed, e);
    assert.deepEqual(await feed.query({ authors: [A.pubkey] }), sorted(evs));
  });
});

/* ------------------------------------------------------------------------ */
describe('deletion (NIP-09)', () => {
  test("an author's deletion removes the event and blocks it for good", async (t) => {
    const { feed } = await tempFeed(t);
    const A = makeAuthor();
    const B = makeAuthor();
    const T = nowSec() - 100;
    const a1 = A.sign({ created_at: T, content: 'regret' });
    const b1 = B.sign({ created_at: T, content: 'b stays' });
    await mergeAccepted(feed, a1);
    await mergeAccepted(feed, b1);
    const del = A.sign({ kind: 5, created_at: T + 1, tags: [['e', a1.id], ['e', b1.id]] });
    await mergeAccepted(feed, del);
    assert.equal(await storedById(feed, a1.id), undefined, 'deleted event gone');
    assert.deepEqual(await storedById(feed, b1.id), b1, "B's event stays: A cannot delete it");
    assert.deepEqual(await feed.query({ kinds: [5] }), [del], 'the deletion itself is kept');
    const r = await mergeRejected(feed, ['EVENT', a1], { prefix: 'blocked:', id: a1.id });
    assert.ok(r);
    assert.equal(await storedById(feed, a1.id), undefined, 'still gone after being re-sent');
    const req = await feed.merge(['REQ', 's', { ids: [a1.id] }]);
    assert.deepEqual(req.replies, [['EOSE', 's']], 'a tombstone is never served');
    assert.equal((await feed.merge(['EVENT', del])).duplicates, 1);
  });

  test('a deletion that arrives before its target blocks the target', async (t) => {
    const { feed } = await tempFeed(t);
    const A = makeAuthor();
    const a1 = A.sign({ created_at: nowSec() - 10, content: 'late arrival' });
    const del = A.sign({ kind: 5, tags: [['e', a1.id]] });
    await mergeAccepted(feed, del);
    await mergeRejected(feed, ['EVENT', a1], { prefix: 'blocked:', id: a1.id });
    // The same in one batch, deletion after the target.
    const a2 = A.sign({ created_at: nowSec() - 10, content: 'in a batch' });
    const del2 = A.sign({ kind: 5, tags: [['e', a2.id]] });
    const res = await feed.merge([['EVENT', del2], ['EVENT', a2]]);
    assertMergeShape(res);
    assert.deepEqual(res.accepted, [del2.id]);
    assert.equal(res.rejected[0]?.id, a2.id);
    assert.ok(res.rejected[0].reason.startsWith('blocked:'));
    assert.deepEqual(await feed.query({}), sorted([del, del2]));
  });

  test("someone else's deletion has no effect, before or after the target", async (t) => {
    const { feed } = await tempFeed(t);
    const A = makeAuthor();
    const B = makeAuthor();
    const a1 = A.sign({ created_at: nowSec() - 20, content: 'a1' });
    const a2 = A.sign({ created_at: nowSec() - 19, content: 'a2' });
    await mergeAccepted(feed, a1);
    const delAfter = B.sign({ kind: 5, tags: [['e', a1.id]] });
    const delBefore = B.sign({ kind: 5, tags: [['e', a2.id]], created_at: nowSec() - 1 });
    await mergeAccepted(feed, delAfter);
    await mergeAccepted(feed, delBefore);
    await mergeAccepted(feed, a2);
    assert.deepEqual(await feed.query({ authors: [A.pubkey] }), [a2, a1]);
  });

  test('feed.delete removes our post everywhere in the API and blocks it', async (t) => {
    const { feed } = await tempFeed(t);
    const p = await feed.post('to be deleted');
    const keep = await feed.post('to be kept');
    const d = await feed.delete(p.id);
    assert.equal(await storedById(feed, p.id), undefined);
    assert.deepEqual((await feed.timeline({ limit: 10 })).map((i) => i.event.id), [keep.id]);
    await mergeRejected(feed, ['EVENT', p], { prefix: 'blocked:', id: p.id });
    // Another feed that had the post loses it when the deletion arrives.
    const { feed: other } = await tempFeed(t, 'other.db');
    await mergeAccepted(other, p);
    await mergeAccepted(other, d);
    assert.equal(await storedById(other, p.id), undefined);
    await mergeRejected(other, ['EVENT', p], { prefix: 'blocked:', id: p.id });
  });

  test("a deleted event's content is gone from the database files", async (t) => {
    const { feed, dir } = await tempFeed(t);
    const A = makeAuthor();
    const marker1 = `SECRET-LOCAL-${'9f3a'.repeat(8)}`;
    const marker2 = `SECRET-PEER-${'7c1e'.repeat(8)}`;
    // Enough rows around them that the deleted ones share pages with live data.
    for (let i = 0; i < 20; i++) await feed.post(`filler ${i} ${'x'.repeat(200)}`);
    const p = await feed.post(marker1);
    const a1 = A.sign({ content: marker2, created_at: nowSec() - 5 });
    await mergeAccepted(feed, a1);
    for (let i = 0; i < 20; i++) await feed.post(`more filler ${i} ${'y'.repeat(200)}`);
    await feed.delete(p.id);
    await mergeAccepted(feed, A.sign({ kind: 5, tags: [['e', a1.id]] }));
    await feed.close();
    for (const name of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, name));
      for (const m of [marker1, marker2]) {
        assert.equal(bytes.indexOf(Buffer.from(m)), -1, `${name} still holds the deleted content "${m.slice(0, 14)}..."`);
      }
    }
  });
});

/* ------------------------------------------------------------------------ */
describe('mute', () => {
  test('muting removes the author, blocks new events and stops serving them; unmute lets new ones in', async (t) => {
    const { feed } = await tempFeed(t);
    const A = makeAuthor();
    const B = makeAuthor();
    const T = nowSec() - 100;
    const a1 = A.sign({ created_at: T, content: 'noise' });
    const a0 = A.sign({ kind: 0, created_at: T, content: JSON.stringify({ name: 'noisy' }) });
    const b1 = B.sign({ created_at: T + 1, content: 'reply to noise', tags: [['e', a1.id], ['p', A.pubkey]] });
    for (const e of [a1, a0, b1]) await mergeAccepted(feed, e);
    await feed.follow(A.pubkey);
    await feed.follow(B.pubkey);

    const m = await feed.mute(A.pubkey);
    assert.equal(m.kind, 10000);
    assert.deepEqual(await feed.query({ authors: [A.pubkey] }), [], 'stored events of the muted author are removed');
    assert.deepEqual(await storedById(feed, b1.id), b1, 'events that mention them stay');
    const a2 = A.sign({ created_at: T + 2, content: 'more noise' });
    await mergeRejected(feed, ['EVENT', a2], { prefix: 'blocked:', id: a2.id });
    await mergeRejected(feed, ['EVENT', a1], { prefix: 'blocked:', id: a1.id });
    const req = await feed.merge(['REQ', 's', { authors: [A.pubkey] }]);
    assert.deepEqual(req.replies, [['EOSE', 's']]);
    assert.ok(!(await feed.timeline({ limit: 50 })).some((i) => i.event.pubkey === A.pubkey));

    await feed.unmute(A.pubkey);
    const a3 = A.sign({ created_at: T + 3, content: 'allowed again' });
    await mergeAccepted(feed, a3);
    assert.deepEqual(await storedById(feed, a3.id), a3);
  });
});

/* ------------------------------------------------------------------------ */
describe('timeline', () => {
  test('posts of followed authors and self, newest first, with profiles, reactions and replies', async (t) => {
    const { feed } = await tempFeed(t);
    const { pubkey: me } = await feed.identity();
    const A = makeAuthor();   // followed, has a profile
    const B = makeAuthor();   // not followed
    const C = makeAuthor();   // followed, no profile
    await feed.follow(A.pubkey);
    await feed.follow(C.pubkey);
    const T = nowSec() - 1000;
    const aProfileOld = A.sign({ kind: 0, created_at: T, content: JSON.stringify({ name: 'Alice', about: 'old' }) });
    const aProfile = A.sign({ kind: 0, created_at: T + 1, content: JSON.stringify({ name: 'Alice', about: 'a', picture: 'https://example.com/a.png' }) });
    const c1 = C.sign({ created_at: T + 5, content: 'c1' });
    const a1 = A.sign({ created_at: T + 10, content: 'a1' });
    const b1 = B.sign({ created_at: T + 15, content: 'b1, not followed' });
    const bReply = B.sign({ created_at: T + 16, content: 'reply to a1', tags: [['e', a1.id], ['p', A.pubkey]] });
    const a2 = A.sign({ created_at: T + 20, content: 'a2' });
    const c2 = C.sign({ created_at: T + 25, content: 'reply to a2', tags: [['e', a2.id]] });
    const a3 = A.sign({ created_at: T + 30, content: 'a3, deleted' });
    const a3del = A.sign({ kind: 5, created_at: T + 31, tags: [['e', a3.id]] });
    const aArticle = A.sign({ kind: 30023, created_at: T + 32, content: 'not a post', tags: [['d', 'x']] });
    const reacts = [
      C.sign({ kind: 7, created_at: T + 40, content: '+', tags: [['e', a1.id], ['p', A.pubkey]] }),
      B.sign({ kind: 7, created_at: T + 41, content: '+', tags: [['e', a1.id]] }),
      makeAuthor().sign({ kind: 7, created_at: T + 42, content: '+', tags: [['e', a1.id]] }),
      C.sign({ kind: 7, created_at: T + 43, content: '🔥', tags: [['e', a2.id]] }),
      // The last "e" tag is the one reacted to: this counts for a1, not a2.
      B.sign({ kind: 7, created_at: T + 44, content: '-', tags: [['e', a2.id], ['e', a1.id]] }),
    ];
    for (const e of [aProfileOld, aProfile, c1, a1, b1, bReply, a2, c2, a3, a3del, aArticle, ...reacts]) {
      await mergeAccepted(feed, e);
    }
    const m1 = await feed.post('my own post');

    const tl = await feed.timeline({ limit: 100 });
    assert.ok(Array.isArray(tl));
    for (const item of tl) {
      assert.deepEqual(Object.keys(item).sort(), ['event', 'profile', 'reactions', 'replies']);
    }
    assert.deepEqual(tl.map((i) => i.event), [m1, c2, a2, a1, c1]);
    const byId = Object.fromEntries(tl.map((i) => [i.event.id, i]));
    const aliceProfile = { name: 'Alice', about: 'a', picture: 'https://example.com/a.png' };
    assert.deepEqual(byId[m1.id], { event: m1, profile: null, reactions: {}, replies: 0 });
    assert.deepEqual(byId[c2.id], { event: c2, profile: null, reactions: {}, replies: 0 });
    assert.deepEqual(byId[a2.id], { event: a2, profile: aliceProfile, reactions: { '🔥': 1 }, replies: 1 });
    assert.deepEqual(byId[a1.id], { event: a1, profile: aliceProfile, reactions: { '+': 3, '-': 1 }, replies: 1 });
    assert.deepEqual(byId[c1.id], { event: c1, profile: null, reactions: {}, replies: 0 });

    assert.deepEqual((await feed.timeline({ limit: 2 })).map((i) => i.event.id), [m1.id, c2.id]);
    assert.deepEqual((await feed.timeline({ limit: 100, until: T + 20 })).map((i) => i.event.id),
      [a2.id, a1.id, c1.id], 'until is inclusive');
    assert.deepEqual((await feed.timeline({ limit: 2, until: T + 20 })).map((i) => i.event.id), [a2.id, a1.id]);

    // Our own profile shows up once set; unfollowing drops an author.
    await feed.setProfile({ name: 'Me' });
    await feed.unfollow(C.pubkey);
    const tl2 = await feed.timeline({ limit: 100 });
    assert.deepEqual(tl2.map((i) => i.event.id), [m1.id, a2.id, a1.id]);
    assert.deepEqual(tl2[0].profile, { name: 'Me' });
    assert.ok(me);
  });
});

/* ------------------------------------------------------------------------ */
describe("feed.on('event')", () => {
  test('fires once for every newly stored event, local or merged, and never for duplicates or rejections', async (t) => {
    const { feed } = await tempFeed(t);
    const seen = [];
    feed.on('event', (ev) => seen.push(ev));
    const A = makeAuthor();
    const p = await feed.post('hello listeners');
    const m = A.sign({ content: 'merged' });
    await mergeAccepted(feed, m);
    await feed.merge(['EVENT', m]);                          // duplicate
    await feed.merge(['EVENT', { ...m, content: 'bad' }]);   // rejected
    await feed.merge(['REQ', 's', {}]);                      // serving is not storing
    const f = await feed.follow(A.pubkey);
    const prof = await feed.setProfile({ name: 'listener' });
    const r = await feed.react(m.id, '+');
    const m2 = A.sign({ content: 'batched', created_at: nowSec() - 1 });
    await feed.merge([['EVENT', m2], ['EVENT', m2]]);
    const d = await feed.delete(p.id);
    await feed.query({});
    await settle();
    assert.deepEqual(seen.map((e) => e.id), [p.id, m.id, f.id, prof.id, r.id, m2.id, d.id]);
    assert.deepEqual(seen[0], p);
    assert.deepEqual(seen[1], m);
    for (const ev of seen) assertValidNostr(ev, 'event passed to the listener');
  });
});

/* Reacts to one event with '+' until two calls fall in the same second
** (so they sign the same template: same id, new signature). The clock may
** tick between calls, hence a few tries; nothing is timed. */
async function sameSecondReactions(feed) {
  const target = 'ab'.repeat(32);
  const made = [];
  for (let i = 0; i < 10; i++) {
    made.push(await feed.react(target, '+'));
    if (new Set(ids(made)).size < made.length) return made;
  }
  assert.fail('ten reactions in a row never shared a second');
}

describe('the same local draft twice', () => {
  test("feed.on('event') fires once per stored event, not again for a re-signed duplicate", async (t) => {
    const { feed } = await tempFeed(t);
    const seen = [];
    feed.on('event', (ev) => seen.push(ev.id));
    const made = await sameSecondReactions(feed);
    await settle();
    const stored = await feed.query({ kinds: [7] });
    assert.deepEqual(new Set(ids(stored)), new Set(ids(made)));
    assert.deepEqual(seen, [...new Set(ids(made))], 'one announcement per newly stored event');
  });

  test('what feed.react returns for a duplicate is the stored event', async (t) => {
    const { feed } = await tempFeed(t);
    const made = await sameSecondReactions(feed);
    for (const ev of made) {
      assertValidNostr(ev, 'returned reaction');
      assert.deepEqual(ev, await storedById(feed, ev.id), 'the returned event (signature included) is the one stored');
    }
  });
});
