// invite.test.js -- pairing without a server (js-glue/pair.js) in Node with
// real feeds and real WebRTC (@roamhq/wrtc): two feeds pair by passing the
// invite and the answer as text, then sync both ways; the texts' sizes;
// host candidates, and relayed through a real TURN server (coturn) when it
// is installed; an answer pasted back late; a NIP-07 signer; the compact
// description; and every refusal: tampered, expired, replayed, foreign.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import wrtc from '@roamhq/wrtc';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { createInvite, acceptInvite } from '../../js-glue/network.js';
import { compactSdp, expandSdp } from '../../js-glue/pair.js';
import { restCredentials } from '../../web/turn.js';
import { startCoturn, haveCommand } from '../shared/coturn.js';
import { tempFeed, tempDir, loadOpenFeed, until } from './helpers.js';

const { RTCPeerConnection } = wrtc;
const opts = { RTCPeerConnection };
// Invites, answers and pairs to close when a test ends: registered before
// the test opens its feeds, so they close before the feeds do.
function keeper(t) {
  const handles = [];
  t.after(() => { for (const h of handles) (h.close ?? h.cancel)(); });
  return (h) => { handles.push(h); return h; };
}

// Two feeds that follow each other.
async function twoFeeds(t) {
  const { feed: a } = await tempFeed(t, 'a.db');
  const { feed: b } = await tempFeed(t, 'b.db');
  await a.follow((await b.identity()).pubkey);
  await b.follow((await a.identity()).pubkey);
  return { a, b };
}

const has = async (feed, id) => (await feed.query({ ids: [id] })).length === 1;

// Rejects with a HirobaError whose reason is `reason` and whose message matches.
async function refused(promise, reason, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, 'HirobaError');
    assert.equal(err.reason, reason, err.message);
    assert.match(err.message, message);
    return true;
  });
}

// The same text with one character changed at index i.
const flip = (text, i) => text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);

test('two feeds pair by passing texts, then trade posts both ways, old and live', async (t) => {
  const keep = keeper(t);
  const { a, b } = await twoFeeds(t);
  const old = await a.post('from a, before pairing');
  const invite = keep(await createInvite(a, opts));
  assert.match(invite.text, /^[A-Za-z0-9_-]+$/);
  assert.equal(invite.hash, `#pair=${invite.text}`);
  assert.ok(invite.expiresAt > Date.now() + 9 * 60_000, 'ten minutes by default');
  // The link works as well as the bare text.
  const answer = keep(await acceptInvite(b, `https://example.org/${invite.hash}`, opts));
  assert.equal(answer.inviter, (await a.identity()).pubkey);
  const pa = keep(await invite.complete(answer.text));
  const pb = keep(await answer.connected());
  assert.equal(pa.pubkey, (await b.identity()).pubkey);
  assert.equal(pa.state, 'open');
  assert.equal(pb.state, 'open');
  await until(() => has(b, old.id), 'the old post reaches b');
  const fromB = await b.post('from b, live');
  await until(() => has(a, fromB.id), 'b\'s live post reaches a');
  const fromA = await a.post('from a, live');
  await until(() => has(b, fromA.id), 'a\'s live post reaches b');
  await until(() => pa.route === 'direct', 'a direct route');
  assert.ok(pa.stats().bytesSent > 0);
  t.diagnostic(`invite ${invite.text.length} chars, answer ${answer.text.length} chars (host candidates only)`);
  assert.ok(invite.text.length < 1200 && answer.text.length < 1200, 'short enough for a QR code');
  pa.close();
  pb.close();
});

test('pairing through a TURN server (relay only) when coturn is installed', { skip: !haveCommand('turnserver') && 'coturn (turnserver) not installed' }, async (t) => {
  const keep = keeper(t);
  const secret = 'pair-test-secret';
  const turn = await startCoturn({ secret });
  t.after(() => turn.stop());
  const { username, credential } = restCredentials(secret, Math.floor(Date.now() / 1000) + 600, 'pair');
  const iceServers = [{ urls: [`turn:127.0.0.1:${turn.port}?transport=udp`], username, credential }];
  const relayed = { ...opts, iceServers, iceTransportPolicy: 'relay' };
  const { a, b } = await twoFeeds(t);
  const invite = keep(await createInvite(a, relayed));
  const answer = keep(await acceptInvite(b, invite.text, relayed));
  const pa = keep(await invite.complete(answer.text));
  keep(await answer.connected());
  const post = await b.post('through the relay');
  await until(() => has(a, post.id), 'the post, relayed');
  await until(() => pa.route === 'relayed', 'a relayed route');
  t.diagnostic(`relay-only invite ${invite.text.length} chars, answer ${answer.text.length} chars`);
});

test('the answer may come back late: completed 35 s after it was made, the connection opens', async (t) => {
  // A person carries the answer back: the accepter's side must not give up
  // after the usual 30 s for a connection to open.
  const keep = keeper(t);
  const { a, b } = await twoFeeds(t);
  const invite = keep(await createInvite(a, opts));
  const answer = keep(await acceptInvite(b, invite.text, opts));
  await new Promise((resolve) => setTimeout(resolve, 35_000));
  keep(await invite.complete(answer.text));
  const pb = keep(await answer.connected());
  assert.equal(pb.state, 'open');
});

test('a NIP-07 signer signs the invite and the answer', async (t) => {
  const keep = keeper(t);
  const sk = generateSecretKey();
  const signer = {
    signed: 0,
    async getPublicKey() { return getPublicKey(sk); },
    async signEvent(template) { signer.signed++; return { ...finalizeEvent(template, sk) }; },
  };
  const openFeed = await loadOpenFeed();
  const a = await openFeed({ path: `${tempDir(t)}/signer.db`, signer });
  t.after(() => a.close());
  const { feed: b } = await tempFeed(t, 'b.db');
  const invite = keep(await createInvite(a, opts));
  assert.equal(signer.signed, 1);
  const answer = keep(await acceptInvite(b, invite.text, opts));
  const pa = keep(await invite.complete(answer.text));
  assert.equal(pa.pubkey, (await b.identity()).pubkey);
});

test('the compact description keeps what a data channel needs and rebuilds a valid SDP', async () => {
  const pc = new RTCPeerConnection();
  pc.createDataChannel('x');
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription.sdp;
  pc.close();
  const host = (i) => `a=candidate:${i} 1 udp ${2122260223 - i} 192.168.1.${i} ${50000 + i} typ host generation 0`;
  const withCandidates = sdp.replace(/^(a=mid:.*)$/m, [
    '$1', ...Array.from({ length: 10 }, (_, i) => host(i + 1)),
    'a=candidate:20 1 udp 41885439 203.0.113.5 3478 typ relay raddr 0.0.0.0 rport 0',
    'a=candidate:21 1 tcp 1518280447 192.168.1.1 9 typ host tcptype active',
    'a=candidate:22 1 udp 2122262783 fe80::1%eth0 50022 typ host',
  ].join('\r\n'));
  const compact = compactSdp(withCandidates);
  const cands = compact.split(' ').slice(7);
  assert.equal(cands.filter((c) => c.startsWith('h,')).length, 6, 'the six best host candidates');
  assert.ok(cands.includes('r,203.0.113.5,3478,41885439,20'), 'the relay candidate is never crowded out');
  assert.ok(!compact.includes('tcp') && !compact.includes('%'), 'no TCP, no scoped address');
  const rebuilt = expandSdp(compact);
  for (const line of ['a=ice-ufrag:', 'a=ice-pwd:', 'a=fingerprint:sha-256 ', 'a=setup:actpass', 'a=sctp-port:', 'a=end-of-candidates']) {
    assert.ok(rebuilt.includes(line), line);
  }
  assert.equal(sdp.match(/^a=fingerprint:(.*)\r$/m)[1].toUpperCase(), rebuilt.match(/^a=fingerprint:(.*)\r$/m)[1].toUpperCase());
  // What a valid signature cannot vouch for: anything outside the patterns.
  for (const bad of [compact.replace(/^\S+/, 'u\r\na=evil'), `${compact} h,1.2.3.4\r\na=x,1,1,1`, compact.split(' ').slice(0, 7).join(' ')]) {
    assert.equal(expandSdp(bad), null, JSON.stringify(bad.slice(0, 40)));
  }
  assert.throws(() => compactSdp(sdp.replace(/^a=candidate.*\r\n/gm, '')), /no network address was gathered/);
});

test('tampered texts are refused: a changed byte anywhere, cut short, not base64url', async (t) => {
  const keep = keeper(t);
  const { a, b } = await twoFeeds(t);
  const invite = keep(await createInvite(a, opts));
  // Past the format, type and app bytes: the key, the signature, the times, the description.
  for (const i of [20, 60, 150, Math.floor(invite.text.length / 2), invite.text.length - 3]) {
    await refused(acceptInvite(b, flip(invite.text, i), opts), 'tampered', /acceptInvite: this invite was altered or is not signed by its key/);
  }
  await refused(acceptInvite(b, invite.text.slice(0, 100), opts), 'tampered', /cut short/);
  await refused(acceptInvite(b, 'not an invite!', opts), 'tampered', /not a pairing invite/);
  await assert.rejects(acceptInvite(b, 42, opts), TypeError);
  // The untouched invite still works, once.
  const answer = keep(await acceptInvite(b, invite.text, opts));
  await refused(invite.complete(flip(answer.text, 200)), 'tampered', /complete: this answer was altered/);
  keep(await invite.complete(answer.text));
});

test('expired invites and answers are refused', async (t) => {
  const keep = keeper(t);
  const { a, b } = await twoFeeds(t);
  const invite = keep(await createInvite(a, { ...opts, ttlMs: 1000 }));
  const late = keep(await createInvite(a, { ...opts, ttlMs: 1500 }));
  const answer = keep(await acceptInvite(b, late.text, opts));
  await new Promise((resolve) => setTimeout(resolve, 2100));
  await refused(acceptInvite(b, invite.text, opts), 'expired', /acceptInvite: this invite expired at/);
  await refused(late.complete(answer.text), 'expired', /complete: this (invite|answer) expired/);
});

test('replays are refused: an invite answered twice, an invite completed twice', async (t) => {
  const keep = keeper(t);
  const { a, b } = await twoFeeds(t);
  const invite = keep(await createInvite(a, opts));
  const answer = keep(await acceptInvite(b, invite.text, opts));
  await refused(acceptInvite(b, invite.text, opts), 'replayed', /acceptInvite: this invite was already answered/);
  keep(await invite.complete(answer.text));
  await refused(invite.complete(answer.text), 'replayed', /complete: this invite was already completed/);
  const cancelled = await createInvite(a, opts);
  cancelled.cancel();
  const late = keep(await acceptInvite(b, cancelled.text, opts));
  await refused(cancelled.complete(late.text), 'replayed', /already cancelled/);
});

test('an invite whose answer could not be made may be answered again', async (t) => {
  const keep = keeper(t);
  const { a, b } = await twoFeeds(t);
  const invite = keep(await createInvite(a, opts));
  // A connection that fails while making its answer (as one that can
  // reach no network fails to gather): nothing went back to the inviter.
  class Failing extends RTCPeerConnection {
    createAnswer() { return Promise.reject(new Error('no answer here')); }
  }
  await assert.rejects(acceptInvite(b, invite.text, { RTCPeerConnection: Failing }), /no answer here/);
  const answer = keep(await acceptInvite(b, invite.text, opts));
  const pair = keep(await invite.complete(answer.text));
  keep(await answer.connected());
  assert.equal(pair.pubkey, (await b.identity()).pubkey);
});

test('foreign texts are refused: an answer to another invite, another app, another format, the wrong kind of text, one\'s own', async (t) => {
  const keep = keeper(t);
  const { a, b } = await twoFeeds(t);
  const { feed: c } = await tempFeed(t, 'c.db');
  const first = keep(await createInvite(a, opts));
  const second = keep(await createInvite(a, opts));
  const toFirst = keep(await acceptInvite(b, first.text, opts));
  await refused(second.complete(toFirst.text), 'foreign', /complete: this answer is to another invite/);
  // Another app's invite: signed and valid, but not for us.
  const other = keep(await createInvite(a, { ...opts, app: 'another-app' }));
  await refused(acceptInvite(c, other.text, opts), 'foreign', /for the app "another-app", not "hiroba"/);
  // A format this version does not read (the first byte).
  const bytes = Buffer.from(first.text, 'base64url');
  bytes[0] = 2;
  await refused(acceptInvite(c, bytes.toString('base64url'), opts), 'foreign', /pairing format 2; this version reads format 1/);
  await refused(acceptInvite(c, toFirst.text, opts), 'foreign', /this is an answer, not an invite/);
  await refused(second.complete(second.text), 'foreign', /this is an invite, not an answer/);
  await refused(acceptInvite(a, second.text, opts), 'foreign', /this invite is your own/);
  // After all that, the first invite still completes with its own answer.
  keep(await first.complete(toFirst.text));
  keep(await toFirst.connected());
});
