// signal-attack-helpers.js -- what the attack suites (signal-attack-*.test.js,
// turn-attack.test.js) share: the real dev server on an ephemeral port, raw
// `ws` clients with an inbox that can connect from any 127.x.y.z address
// (Linux routes all of 127/8 to loopback, so each address is a distinct
// client address to the server's per-address limits), honest and forged
// auth events, and waits.
//
// Not a test file (node --test only picks up *.test.js).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';

import { startServer } from '../../web/server.js';

export const WAIT_MS = 15_000;
export const nowSec = () => Math.floor(Date.now() / 1000);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function serve(t, options = {}) {
  const app = await startServer({ port: 0, turnEnv: {}, ...options });
  t.after(() => app.close());
  return app;
}

export const signalUrl = (app) => `ws://127.0.0.1:${app.port}/signal`;

export function makeKey() {
  const sk = generateSecretKey();
  return { sk, pk: getPublicKey(sk) };
}

// An honest answer to `nonce`.
export function authEvent(sk, nonce, over = {}) {
  return JSON.parse(JSON.stringify(finalizeEvent({
    kind: 22242,
    created_at: nowSec(),
    tags: [['challenge', nonce]],
    content: '',
    ...over,
  }, sk)));
}

// The attack: an answer that passes every cheap check -- right pubkey,
// kind, challenge, freshness, a correct id -- with a random signature, so
// only the signature check can refuse it.
export function forgedAuth(pk, nonce) {
  const e = { pubkey: pk, created_at: nowSec(), kind: 22242, tags: [['challenge', nonce]], content: '' };
  const id = createHash('sha256').update(JSON.stringify([0, e.pubkey, e.created_at, e.kind, e.tags, e.content])).digest('hex');
  return { id, ...e, sig: randomBytes(64).toString('hex') };
}

// A raw ws client with an inbox: next(pred) takes the first matching frame,
// waiting for it if needed; `all` keeps every frame; `bytes` counts what
// arrived, by frame type.
export class Peer {
  // -> a Peer once open; rejects with err.status set when the server
  // answered the upgrade with an HTTP status instead.
  static open(url, { localAddress, ...options } = {}) {
    const ws = new WebSocket(url, { localAddress, ...options });
    const peer = new Peer(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(peer));
      ws.once('unexpected-response', (req, res) => {
        const err = new Error(`upgrade refused: HTTP ${res.statusCode}`);
        err.status = res.statusCode;
        err.retryAfter = res.headers['retry-after'];
        res.resume();
        req.destroy();
        reject(err);
      });
      ws.once('error', reject);
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.inbox = [];
    this.all = [];
    this.bytes = {};
    this.waiters = [];
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      this.bytes[frame.type] = (this.bytes[frame.type] ?? 0) + data.length;
      this.all.push(frame);
      this.inbox.push(frame);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.wake();
      });
    });
  }

  wake() {
    for (const w of [...this.waiters]) w();
  }

  send(frame) {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  next(pred = () => true, what = 'a frame') {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.inbox.findIndex(pred);
        if (i >= 0) {
          done();
          resolve(this.inbox.splice(i, 1)[0]);
        } else if (this.closeInfo) {
          done();
          reject(new Error(`socket closed (${this.closeInfo.code}) while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; inbox: ${JSON.stringify(this.inbox).slice(0, 300)}`));
      }, WAIT_MS);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  nextType(type) {
    return this.next((f) => f.type === type, `a ${type} frame`);
  }

  // Everything the server wrote to this socket before answering this frame
  // has been read once it returns.
  async barrier() {
    this.send({ type: 'barrier' });
    const f = await this.next((x) => x.type === 'error' && x.code === 'unknown-type', 'the barrier');
    assert.equal(f.code, 'unknown-type');
  }

  close() {
    this.ws.terminate();
  }
}

export async function openPeer(t, url, options) {
  const peer = await Peer.open(url, options);
  t.after(() => peer.close());
  return peer;
}

// Connects from `localAddress` (default 127.0.0.1), joins `room` and
// authenticates honestly. -> the Peer, with .pk, .sk and .joinedPeers.
export async function joined(t, url, room, { key = makeKey(), localAddress } = {}) {
  const peer = await openPeer(t, url, { localAddress });
  peer.pk = key.pk;
  peer.sk = key.sk;
  peer.send({ type: 'join', room, pubkey: key.pk });
  const { nonce } = await peer.nextType('challenge');
  peer.send({ type: 'auth', event: authEvent(key.sk, nonce) });
  const frame = await peer.next((f) => f.type === 'peers' || f.type === 'error', 'peers');
  assert.equal(frame.type, 'peers', `join refused: ${JSON.stringify(frame)}`);
  peer.joinedPeers = frame.peers;
  return peer;
}

export async function until(cond, what, ms = WAIT_MS) {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}
