// signer.test.js -- openFeed({ signer }): a NIP-07 signer (here built on
// nostr-tools, the independent oracle) signs every event of the feed and
// its secret never enters Hiroba: not in the database file, not exported.
// Whatever a signer gets wrong is a clear error that stores nothing; a
// database made for a signer opens without one for reading only; relay
// AUTH, signaling auth and TURN credentials go through the signer too.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import wrtc from '@roamhq/wrtc';
import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { bytesToHex } from '@noble/hashes/utils.js';

import { openFeed } from '../../js-glue/node.js';
import { joinRelay, joinRoom } from '../../js-glue/network.js';
import { fetchIceServers } from '../../js-glue/turn-client.js';
import { startRelay } from '../../relay/server.js';
import { startServer } from '../../web/server.js';
import { makeAuthor, plain, tempDir, until } from './helpers.js';

const cleanup = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

// A NIP-07 signer over a nostr-tools key: async, as window.nostr is, and
// counting what it signed. `tamper(event)` may change what it returns.
function makeSigner(sk = generateSecretKey(), { tamper = (e) => e } = {}) {
  const signer = {
    sk,
    pubkey: getPublicKey(sk),
    signed: [],
    async getPublicKey() { return signer.pubkey; },
    async signEvent(template) {
      const event = plain(finalizeEvent(template, sk));
      signer.signed.push(event);
      return tamper(event);
    },
  };
  return signer;
}

async function signerFeed(t, name = 'signer.db', signer = makeSigner()) {
  const dir = tempDir(t, 'hiroba-signer-');
  const path = join(dir, name);
  const feed = await openFeed({ path, signer });
  t.after(() => feed.close());
  return { feed, path, dir, signer };
}

// Every byte of the database and its WAL.
function fileBytes(path) {
  return Buffer.concat([path, `${path}-wal`].filter(existsSync).map((f) => readFileSync(f)));
}

test('a signer drives a feed: posts, reactions, follows, profile, deletions verify in nostr-tools; the secret never reaches the file', async (t) => {
  const { feed, path, signer } = await signerFeed(t);
  const { pubkey } = await feed.identity();
  assert.equal(pubkey, signer.pubkey);
  const seen = [];
  feed.on('event', (e) => seen.push(e.id));
  const bob = makeAuthor();
  const post = await feed.post('signed elsewhere', { tags: [['t', 'nip07']] });
  const reaction = await feed.react(post.id, '🤙');
  const follow1 = await feed.follow(bob.pubkey);
  const follow2 = await feed.follow(getPublicKey(generateSecretKey()));  // within the same second
  const profile = await feed.setProfile({ name: 'Sig', about: 'keys stay home' });
  const deletion = await feed.delete(reaction.id);
  const events = [post, reaction, follow1, follow2, profile, deletion];
  for (const e of events) {
    assert.equal(verifyEvent(structuredClone(e)), true, `kind ${e.kind} verifies`);
    assert.equal(e.pubkey, signer.pubkey);
  }
  assert.equal(signer.signed.length, events.length, 'each event signed once, by the signer');
  assert.ok(follow2.created_at > follow1.created_at, 'a replaceable update sorts after the one it replaces');
  assert.deepEqual(await feed.following(), [bob.pubkey, follow2.tags[1][1]]);
  assert.equal((await feed.profile()).name, 'Sig');
  assert.deepEqual(await feed.query({ ids: [reaction.id] }), [], 'the deletion applied');
  assert.deepEqual((await feed.query({ ids: [post.id] }))[0], post);
  assert.deepEqual(seen, [post.id, reaction.id, follow1.id, follow2.id, profile.id, deletion.id], 'each announced once');
  // The same post twice within a second is stored once, as without a signer.
  const twice = await feed.post('signed elsewhere', { tags: [['t', 'nip07']] });
  if (twice.created_at === post.created_at) assert.equal(twice.id, post.id);

  // sign(): through the signer, checked, not stored.
  const proof = await feed.sign({ kind: 22242, content: '', tags: [['challenge', 'c']] });
  assert.equal(verifyEvent(structuredClone(proof)), true);
  assert.equal(proof.pubkey, signer.pubkey);
  assert.deepEqual(await feed.query({ kinds: [22242] }), []);

  // Not Hiroba's key to export.
  await assert.rejects(feed.exportKey({ passphrase: 'x', logN: 8 }), (e) => e.code === -11 && /signer/.test(e.message));
  await assert.rejects(feed.exportKey({ nsec: true }), (e) => e.code === -11);

  await feed.close();
  const bytes = fileBytes(path);
  assert.ok(bytes.length > 0);
  assert.equal(bytes.indexOf(Buffer.from(signer.sk)), -1, 'the raw secret is not in the file');
  assert.equal(bytes.indexOf(Buffer.from(bytesToHex(signer.sk))), -1, 'nor its hex');
  assert.ok(bytes.indexOf(Buffer.from(signer.pubkey, 'hex')) >= 0, 'the public key is');
});

test('a signer that forges, swaps keys, edits, throws or strays in time: a clear error and nothing stored', async (t) => {
  const sk = generateSecretKey();
  const other = generateSecretKey();
  let mode = null;
  const signer = makeSigner(sk, {
    tamper(event) {
      switch (mode) {
        case 'forged': return { ...event, sig: `${event.sig[0] === '0' ? '1' : '0'}${event.sig.slice(1)}` };
        case 'other-key': return plain(finalizeEvent({ ...event, id: undefined, sig: undefined, pubkey: undefined }, other));
        case 'content': return plain(finalizeEvent({ ...event, content: `${event.content}!` }, sk));
        case 'tags': return plain(finalizeEvent({ ...event, tags: [...event.tags, ['t', 'extra']] }, sk));
        case 'kind': return plain(finalizeEvent({ ...event, kind: 30023 }, sk));
        case 'bad-id': return { ...event, id: 'f'.repeat(64) };
        case 'late': return plain(finalizeEvent({ ...event, created_at: event.created_at - 3600 }, sk));
        case 'slightly-late': return plain(finalizeEvent({ ...event, created_at: event.created_at + 5 }, sk));
        case 'null': return null;
        case 'throws': throw new Error('the user said no');
        default: return event;
      }
    },
  });
  const { feed } = await signerFeed(t, 'tamper.db', signer);
  const cases = [
    ['forged', -9, /signer's event was refused: invalid: bad signature/],
    ['other-key', -9, /not by this feed's identity/],
    ['content', -9, /changed the content/],
    ['tags', -9, /changed the tags/],
    ['kind', -9, /changed the kind/],
    ['bad-id', -9, /id does not match/],
    ['late', -9, /created_at/],
    ['null', -9, /not an event/],
    ['throws', -8, /signer did not sign: the user said no/],
  ];
  for (const [m, code, message] of cases) {
    mode = m;
    await assert.rejects(feed.post(`case ${m}`), (e) => e.name === 'HirobaError' && e.code === code && message.test(e.message), m);
    await assert.rejects(feed.sign({ kind: 22242, content: m }), (e) => e.code === code, `sign: ${m}`);
  }
  assert.equal(await feed.count({}), 0, 'nothing stored');
  // A signer that stamps its own clock a few seconds off is fine.
  mode = 'slightly-late';
  const ok = await feed.post('a few seconds off');
  assert.equal(verifyEvent(structuredClone(ok)), true);
  assert.equal(await feed.count({}), 1);
  // A bad draft is refused before the signer is bothered.
  const before = signer.signed.length;
  await assert.rejects(feed.publish({ kind: -1 }), (e) => e.code === -1);
  assert.equal(signer.signed.length, before);
});

test('reopening: another signer or key is refused, no signer reads but cannot post, the key\'s own secret may join', async (t) => {
  const { feed, path, signer } = await signerFeed(t, 'reopen.db');
  const post = await feed.post('mine');
  await feed.close();

  await assert.rejects(openFeed({ path, signer: makeSigner() }), /another identity/);
  await assert.rejects(openFeed({ path, secretKey: generateSecretKey() }), /another identity/);
  await assert.rejects(openFeed({ path, signer, secretKey: signer.sk }), TypeError);
  await assert.rejects(openFeed({ path, signer: { getPublicKey() {} } }), TypeError);
  await assert.rejects(openFeed({ path, signer: { getPublicKey: () => 'nope', signEvent() {} } }), /not a public key/);
  await assert.rejects(openFeed({ path, signer: { getPublicKey: () => '0'.repeat(63) + '5', signEvent() {} } }), /not a public key/);
  await assert.rejects(openFeed({ path, signer: { getPublicKey: async () => { throw new Error('locked'); }, signEvent() {} } }), /locked/);

  // Without a signer: reading and merging work; signing says what to do.
  const plainOpen = await openFeed({ path });
  assert.equal((await plainOpen.identity()).pubkey, signer.pubkey);
  assert.deepEqual((await plainOpen.query({ ids: [post.id] }))[0], post);
  const bob = makeAuthor();
  await plainOpen.merge(['EVENT', bob.sign({ content: 'a reply', tags: [['p', signer.pubkey]] })]);
  assert.equal(await plainOpen.count({ authors: [bob.pubkey] }), 1);
  await assert.rejects(plainOpen.post('no signer'), (e) => e.code === -11 && /signer/.test(e.message));
  await assert.rejects(plainOpen.sign({ kind: 22242 }), (e) => e.code === -11);
  await assert.rejects(plainOpen.exportKey({ nsec: true }), (e) => e.code === -11);
  await plainOpen.close();

  // The same key given as a secret: kept from now on; the database then
  // signs itself, and a signer may still be used on it.
  const withKey = await openFeed({ path, secretKey: signer.sk });
  const own = await withKey.post('signed by Hiroba now');
  assert.equal(own.pubkey, signer.pubkey);
  assert.equal(await withKey.exportKey({ nsec: true }), (await import('nostr-tools')).nip19.nsecEncode(signer.sk));
  await withKey.close();
  const again = await openFeed({ path, signer });
  const before = signer.signed.length;
  await again.post('through the signer again');
  assert.equal(signer.signed.length, before + 1);
  await again.close();
});

test('an existing database with its own secret for the signer\'s key: the signer signs', async (t) => {
  const dir = tempDir(t, 'hiroba-signer-');
  const path = join(dir, 'had-key.db');
  const signer = makeSigner();
  const first = await openFeed({ path, secretKey: signer.sk });
  await first.post('before');
  await first.close();
  const feed = await openFeed({ path, signer });
  const post = await feed.post('after');
  assert.equal(signer.signed.length, 1);
  assert.equal(signer.signed[0].id, post.id);
  await feed.close();
});

test('NIP-42 AUTH to a relay and TURN credentials through the signer', async (t) => {
  const dir = tempDir(t, 'hiroba-signer-relay-');
  const r = await startRelay({ port: 0, db: join(dir, 'relay.db'), auth: { write: true, read: true } });
  cleanup.push(() => r.close());
  const { feed, signer } = await signerFeed(t, 'auth.db');
  const post = await feed.post('behind auth, signed elsewhere');
  const h = await joinRelay(feed, { url: r.url, WebSocket });
  cleanup.push(() => h.leave());
  await until(async () => (await r.relay.feed.query({ ids: [post.id] })).length === 1, 'the post behind AUTH');
  assert.ok(signer.signed.some((e) => e.kind === 22242 && e.tags.some((tag) => tag[0] === 'challenge')), 'the AUTH event came from the signer');
  h.leave();

  const server = await startServer({ port: 0, turnEnv: { TURN_SECRET: 'signer-test', TURN_URLS: 'turn:127.0.0.1:3478' } });
  cleanup.push(() => server.close());
  const got = await fetchIceServers({ url: `${server.url.replace(/\/$/, '')}/turn`, sign: (template) => feed.sign(template) });
  assert.ok(got.iceServers.some((s) => [s.urls].flat().some((u) => u.startsWith('turn:'))));
  assert.ok(signer.signed.some((e) => e.kind === 27235), 'the NIP-98 event came from the signer');
});

test('joinRoom: a signer feed passes signaling auth and syncs with a plain feed', async (t) => {
  const server = await startServer({ port: 0, turnEnv: {} });
  cleanup.push(() => server.close());
  const signalUrl = `${server.url.replace(/^http/, 'ws').replace(/\/$/, '')}/signal`;
  const { feed: a, signer } = await signerFeed(t, 'room-a.db');
  const dir = tempDir(t, 'hiroba-signer-room-');
  const b = await openFeed({ path: join(dir, 'room-b.db'), policy: { store: 'all' } });
  t.after(() => b.close());
  const pb = (await b.identity()).pubkey;
  await a.follow(pb);
  await b.follow(signer.pubkey);
  const post = await a.post('over WebRTC, signed elsewhere');
  const room = `signer-${process.pid}`;
  const errors = [];
  for (const feed of [a, b]) {
    const h = await joinRoom(feed, { signalUrl, room, RTCPeerConnection: wrtc.RTCPeerConnection, WebSocket });
    h.on('error', (e) => errors.push(e.message));
    cleanup.push(() => h.leave());
  }
  await until(async () => (await b.query({ ids: [post.id] })).length === 1, 'the post at b');
  assert.ok(signer.signed.some((e) => e.kind === 22242), 'the signaling auth event came from the signer');
  const reply = await b.post('seen', { tags: [['e', post.id], ['p', signer.pubkey]] });
  await until(async () => (await a.query({ ids: [reply.id] })).length === 1, 'the reply at a');
  assert.deepEqual(errors.filter((e) => !/closed|peer|left/.test(e)), []);
});
