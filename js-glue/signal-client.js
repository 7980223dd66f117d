// signal-client.js -- the signaling client (DESIGN §6), for browsers and Node.
//
//   const sc = new SignalClient({ url, room, pubkey, sign });
//   sc.on('join', (pubkey) => ...).on('signal', ({ from, data }) => ...);
//   await sc.connect();            // joined and authenticated; sc.peers filled
//   await sc.signal(peer, { sdp });
//   sc.close();
//
// `sign(template)` turns an unsigned kind-22242 template into a signed
// event (the feed's identity, or nostr-tools' finalizeEvent in tests).
// Browsers use the global WebSocket; Node 20 has none, so pass one
// (`WebSocket` from the `ws` package).
//
// Behaviour:
// - connect() resolves after the server's `peers` frame. If that first
//   attempt fails (server unreachable, auth refused) it rejects and the
//   client stops: the caller decides whether to try again.
// - Once connected, a lost connection is retried with capped exponential
//   back-off with jitter (initialDelayMs doubling up to maxDelayMs), and
//   every new socket joins and authenticates again -- e.g. after the server
//   restarts. sc.peers is kept while reconnecting, and on rejoin 'peers'
//   reports the room's full list, which replaces it. No 'leave' is made up
//   for a peer missing from it: after a server restart the others come
//   back one by one, and the WebRTC connections signaling introduced do not
//   depend on it -- a peer that really left ends its connection itself.
// - A server that closes with 4001 (this pubkey joined the room on another
//   connection, e.g. another tab) stops the client: retrying would only
//   kick the other connection out in turn.
//
// Events (sc.on(name, fn)):
//   'state'     'connecting' -> 'authenticating' -> 'open'; after a loss
//               'reconnecting' -> 'authenticating' -> 'open'; 'closed'
//   'peers'     [pubkeys] on every (re)join
//   'join'      pubkey        'leave'   pubkey
//   'signal'    { from, data }          'broadcast' { from, data }
//   'error'     a SignalError with `code`: the DESIGN §6 code of an error
//               frame (frames the server refused land here), 'replaced'
//               or 'sign'. Lost connections show as 'state' changes.

import { Emitter } from './emitter.js';

const HEX64 = /^[0-9a-f]{64}$/;
const AUTH_KIND = 22242;
export const CLOSE_REPLACED = 4001;

export class SignalError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SignalError';
    this.code = code;
  }
}

export class SignalClient extends Emitter {
  constructor({
    url, room, pubkey, sign,
    WebSocket: WebSocketImpl = globalThis.WebSocket,
    initialDelayMs = 250,
    maxDelayMs = 10_000,
    connectTimeoutMs = 15_000,
  } = {}) {
    super();
    if (typeof url !== 'string' || !/^wss?:\/\//.test(url)) throw new TypeError('SignalClient: url must be a ws:// or wss:// URL');
    if (typeof room !== 'string' || room === '') throw new TypeError('SignalClient: room must be a non-empty string');
    if (typeof pubkey !== 'string' || !HEX64.test(pubkey)) throw new TypeError('SignalClient: pubkey must be 64 lowercase hex');
    if (typeof sign !== 'function') throw new TypeError('SignalClient: sign(template) must be a function returning a signed event');
    if (typeof WebSocketImpl !== 'function') {
      throw new TypeError('SignalClient: no WebSocket here: pass one, e.g. { WebSocket } from the ws package');
    }
    this.url = url;
    this.room = room;
    this.pubkey = pubkey;
    this.peers = new Set();
    this.state = 'closed';
    this._sign = sign;
    this._WebSocket = WebSocketImpl;
    this._initialDelayMs = initialDelayMs;
    this._maxDelayMs = maxDelayMs;
    this._connectTimeoutMs = connectTimeoutMs;
    this._ws = null;             // the current socket; frames from others are ignored
    this._attempt = 0;           // failed attempts since the last successful join
    this._retryTimer = null;
    this._connectTimer = null;
    this._wanted = false;        // connect() was called and close() was not
    this._everOpen = false;      // the first join succeeded: reconnect from now on
    this._first = null;          // { resolve, reject } of the pending connect()
  }

  // --- events ----------------------------------------------------------------



  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this._emit('state', state);
  }

  // --- lifecycle ---------------------------------------------------------------
  // Resolves once joined and authenticated (after `peers`).
  connect() {
    if (this.state === 'open') return Promise.resolve();
    if (this._first) return this._first.promise;
    this._wanted = true;
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    this._first = { promise, resolve, reject };
    if (!this._ws && !this._retryTimer) this._open();
    return promise;
  }

  close() {
    this._wanted = false;
    clearTimeout(this._retryTimer);
    clearTimeout(this._connectTimer);
    this._retryTimer = null;
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      try { ws.close(1000, 'bye'); } catch { /* already closing */ }
    }
    this._settleFirst(new SignalError('closed', 'signaling: closed before it connected'));
    // A later connect() starts afresh: first-attempt rules, no old peers.
    this._everOpen = false;
    this._attempt = 0;
    this.peers = new Set();
    this._setState('closed');
  }

  _settleFirst(err) {
    const first = this._first;
    if (!first) return;
    this._first = null;
    if (err) first.reject(err);
    else first.resolve();
  }

  _open() {
    this._setState(this._everOpen ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new this._WebSocket(this.url);
    } catch (err) {
      this._failed(new SignalError('connection', `signaling: cannot connect to ${this.url}: ${err.message}`));
      return;
    }
    this._ws = ws;
    clearTimeout(this._connectTimer);
    this._connectTimer = setTimeout(() => {
      if (this._ws !== ws || this.state === 'open') return;
      this._drop(ws);
      this._failed(new SignalError('connection', `signaling: no answer from ${this.url} within ${this._connectTimeoutMs} ms`));
    }, this._connectTimeoutMs);
    ws.onopen = () => {
      if (this._ws !== ws) return;
      this._setState('authenticating');
      this._send(ws, { type: 'join', room: this.room, pubkey: this.pubkey });
    };
    ws.onmessage = (e) => {
      if (this._ws === ws) this._receive(ws, e.data);
    };
    ws.onerror = () => {}; // the close event follows and carries what we need
    ws.onclose = (e) => {
      if (this._ws !== ws) return;
      this._ws = null;
      if (e.code === CLOSE_REPLACED) {
        const err = new SignalError('replaced', 'signaling: this pubkey joined the room on another connection');
        this._emit('error', err);
        this._wanted = false;
        this._settleFirst(err);
        this._setState('closed');
        return;
      }
      this._failed(new SignalError('connection', `signaling: connection closed (${e.code}${e.reason ? ` ${e.reason}` : ''})`));
    };
  }

  // Stop listening to a socket and close it.
  _drop(ws) {
    if (this._ws === ws) this._ws = null;
    try { ws.close(1000); } catch { /* not open */ }
  }

  // The current attempt failed: report it to connect() the first time,
  // otherwise try again later.
  _failed(err) {
    clearTimeout(this._connectTimer);
    if (!this._wanted) return;
    if (!this._everOpen) {
      this._wanted = false;
      this._settleFirst(err);
      this._setState('closed');
      return;
    }
    this._setState('reconnecting');
    const cap = Math.min(this._maxDelayMs, this._initialDelayMs * 2 ** Math.min(this._attempt, 30));
    this._attempt++;
    // "Equal jitter": half fixed, half random, so a server restart is not
    // met by every client at the same instant.
    const delay = cap / 2 + Math.random() * (cap / 2);
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      if (this._wanted) this._open();
    }, delay);
  }

  _send(ws, frame) {
    ws.send(JSON.stringify(frame));
  }

  // --- frames from the server ------------------------------------------------------
  _receive(ws, text) {
    let msg;
    try {
      msg = JSON.parse(typeof text === 'string' ? text : String(text));
    } catch {
      return; // not from a Hiroba server; nothing to do with it
    }
    if (typeof msg !== 'object' || msg === null || typeof msg.type !== 'string') return;
    if (msg.room !== undefined && msg.room !== this.room) return; // another room on a shared socket
    switch (msg.type) {
      case 'challenge':
        if (typeof msg.nonce === 'string') this._answer(ws, msg.nonce);
        return;
      case 'peers':
        if (Array.isArray(msg.peers)) this._joined(msg.peers.filter((p) => typeof p === 'string' && HEX64.test(p) && p !== this.pubkey));
        return;
      case 'join':
        if (typeof msg.pubkey === 'string' && HEX64.test(msg.pubkey) && msg.pubkey !== this.pubkey) {
          this.peers.add(msg.pubkey);
          this._emit('join', msg.pubkey);
        }
        return;
      case 'leave':
        if (typeof msg.pubkey === 'string' && this.peers.delete(msg.pubkey)) this._emit('leave', msg.pubkey);
        return;
      case 'signal':
      case 'broadcast':
        if (typeof msg.from === 'string' && HEX64.test(msg.from)) this._emit(msg.type, { from: msg.from, data: msg.data });
        return;
      case 'error': {
        const code = typeof msg.code === 'string' ? msg.code : 'unknown';
        const err = new SignalError(code, `signaling: ${code}: ${typeof msg.message === 'string' ? msg.message : ''}`);
        this._emit('error', err);
        // Refused while joining (unauthorized, room-full...): this attempt failed.
        if (this.state === 'authenticating') {
          this._drop(ws);
          this._failed(err);
        }
        return;
      }
      default:
    }
  }

  async _answer(ws, nonce) {
    let event;
    try {
      event = await this._sign({
        kind: AUTH_KIND,
        created_at: Math.floor(Date.now() / 1000),
        tags: [['relay', this.url], ['challenge', nonce]],
        content: '',
      });
    } catch (err) {
      if (this._ws !== ws) return;
      const e = new SignalError('sign', `signaling: signing the auth event failed: ${err?.message ?? err}`);
      this._emit('error', e);
      this._drop(ws);
      this._failed(e);
      return;
    }
    if (this._ws !== ws) return;
    try {
      this._send(ws, { type: 'auth', event });
    } catch { /* the close event follows */ }
  }

  _joined(list) {
    clearTimeout(this._connectTimer);
    this.peers = new Set(list);
    this._attempt = 0;
    this._everOpen = true;
    this._setState('open');
    this._emit('peers', [...this.peers]);
    this._settleFirst(null);
  }

  // --- sending -----------------------------------------------------------------------
  _sendable() {
    if (this.state !== 'open' || !this._ws) {
      throw new SignalError('not-connected', `signaling: not connected (state ${this.state})`);
    }
    return this._ws;
  }

  // Sends {signal, to, data}. Resolves once handed to the socket; rejects
  // when not connected or `to` is not a known peer of the room (the server
  // would answer no-such-peer). A refusal the server still sends (the peer
  // left meanwhile) arrives as an 'error' event.
  async signal(to, data) {
    if (typeof to !== 'string' || !HEX64.test(to)) throw new TypeError('signal(to, data): to must be a 64-hex pubkey');
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new TypeError('signal(to, data): data must be an object');
    const ws = this._sendable();
    if (!this.peers.has(to)) throw new SignalError('no-such-peer', `signaling: no peer ${to} in room ${JSON.stringify(this.room)}`);
    this._send(ws, { type: 'signal', to, data });
  }

  async broadcast(data) {
    if (data === undefined) throw new TypeError('broadcast(data): data is required');
    this._send(this._sendable(), { type: 'broadcast', data });
  }
}
