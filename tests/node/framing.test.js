// framing.test.js -- js-glue/framing.js over a real RTCDataChannel pair
// (@roamhq/wrtc, in-process, loopback ICE): whole frames of every size,
// order, back-pressure under bulk, the 1 MiB cap on both sides, garbage.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import wrtc from '@roamhq/wrtc';
import { FramedChannel, CHUNK_SIZE, MAX_FRAME } from '../../js-glue/framing.js';

const { RTCPeerConnection } = wrtc;
const pcs = [];

after(() => { for (const pc of pcs) pc.close(); });

// Two connected peer connections with one ordered channel "hiroba".
async function channelPair() {
  const a = new RTCPeerConnection({ iceServers: [] });
  const b = new RTCPeerConnection({ iceServers: [] });
  pcs.push(a, b);
  // A candidate may arrive after a test closed the pair: ignore it then.
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate).catch(() => {});
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate).catch(() => {});
  const ca = a.createDataChannel('hiroba', { ordered: true });
  const cbPromise = new Promise((resolve) => { b.ondatachannel = (e) => resolve(e.channel); });
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  const cb = await cbPromise;
  await Promise.all([ca, cb].map((c) => (c.readyState === 'open'
    ? null : new Promise((resolve) => c.addEventListener('open', resolve, { once: true })))));
  return [ca, cb];
}

function framed(channel) {
  const frames = [];
  const errors = [];
  let waiters = [];
  const fc = new FramedChannel(channel, {
    onFrame: (t) => { frames.push(t); waiters = waiters.filter((w) => !w()); },
    onError: (e) => { errors.push(e.message); waiters = waiters.filter((w) => !w()); },
  });
  const until = (pred) => new Promise((resolve) => {
    const check = () => (pred() ? (resolve(), true) : false);
    if (!check()) waiters.push(check);
  });
  return { fc, frames, errors, until };
}

test('frames of every size arrive whole and in order', async () => {
  const [ca, cb] = await channelPair();
  const a = framed(ca);
  const b = framed(cb);
  const body = CHUNK_SIZE - 1;
  const sizes = [0, 1, body - 1, body, body + 1, 2 * body, 2 * body + 1, 100_000, MAX_FRAME];
  const frames = sizes.map((n) => 'x'.repeat(n));
  // Multi-byte characters straddling chunk boundaries come back intact.
  frames.push('日本語🙂'.repeat(20_000));
  await Promise.all(frames.map((f) => a.fc.send(f)));
  await b.until(() => b.frames.length === frames.length);
  assert.deepEqual(b.frames, frames);
  assert.deepEqual(b.errors, []);
  // Both directions at once.
  await Promise.all([a.fc.send('["to-b"]'), b.fc.send('["to-a"]')]);
  await a.until(() => a.frames.length === 1);
  assert.deepEqual(a.frames, ['["to-a"]']);
});

test('bulk sending respects the window and loses nothing', async () => {
  const [ca, cb] = await channelPair();
  const a = framed(ca);
  const b = framed(cb);
  const frame = 'x'.repeat(64 * 1024);
  let maxBuffered = 0;
  const sends = [];
  for (let i = 0; i < 200; i++) {
    sends.push(a.fc.send(`${i} ${frame}`));
    maxBuffered = Math.max(maxBuffered, ca.bufferedAmount);
  }
  const watch = setInterval(() => { maxBuffered = Math.max(maxBuffered, ca.bufferedAmount); }, 1);
  await Promise.all(sends);
  await b.until(() => b.frames.length === 200);
  clearInterval(watch);
  assert.deepEqual(b.frames.map((f) => Number(f.split(' ')[0])), [...Array(200).keys()]);
  // The window is 64 KiB plus at most one chunk handed over past it.
  assert.ok(maxBuffered <= 64 * 1024 + CHUNK_SIZE, `bufferedAmount reached ${maxBuffered}`);
});

test('over 1 MiB: the sender refuses; a receiver drops a huge incoming frame and goes on', async () => {
  const [ca, cb] = await channelPair();
  const a = framed(ca);
  const b = framed(cb);
  await assert.rejects(a.fc.send('y'.repeat(MAX_FRAME + 1)), /over the 1048576-byte limit/);
  // A peer that does not respect the cap (a sender with a larger limit).
  const rogue = new FramedChannel(ca, { maxFrame: 4 * MAX_FRAME });
  await rogue.send('z'.repeat(2 * MAX_FRAME));
  await a.fc.send('["after"]');
  await b.until(() => b.frames.length === 1);
  assert.deepEqual(b.frames, ['["after"]']);
  assert.equal(b.errors.length, 1);
  assert.match(b.errors[0], /over the 1048576-byte limit; dropped/);
});

test('garbage chunks are reported and dropped; the channel keeps working', async () => {
  const [ca, cb] = await channelPair();
  const b = framed(cb);
  ca.send('a text message');
  ca.send(new Uint8Array([1, 0xff, 0xfe])); // final chunk, invalid UTF-8
  ca.send(new Uint8Array(0));
  const a = framed(ca);
  await a.fc.send('["ok"]');
  await b.until(() => b.frames.length === 1);
  assert.deepEqual(b.frames, ['["ok"]']);
  assert.equal(b.errors.length, 3, b.errors.join('; '));
});

test('a closed channel rejects pending and new sends', async () => {
  const [ca] = await channelPair();
  const a = framed(ca);
  const pending = Array.from({ length: 50 }, () => a.fc.send('w'.repeat(200_000)));
  ca.close();
  const results = await Promise.allSettled(pending);
  // Nothing is dropped silently: each send was either handed to the channel
  // whole (on an idle machine the channel may drain all of them before the
  // close takes effect) or refused with a reason.
  const handed = results.filter((r) => r.status === 'fulfilled').length;
  for (const r of results) if (r.status === 'rejected') assert.match(r.reason.message, /data channel/);
  assert.ok(a.fc.bytesSent >= handed * 200_000, `${handed} sends resolved but only ${a.fc.bytesSent} bytes went out`);
  assert.equal(a.fc.queue.length, 0, 'no send is left pending');
  await assert.rejects(a.fc.send('["late"]'), /data channel is (closing|closed)/);
});
