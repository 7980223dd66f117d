// signal.js -- the signaling server of DESIGN §6: a small relay on the `ws`
// package that introduces peers and knows nothing of WebRTC.
//
//   const signal = createSignalServer({ limits: { peersPerRoom: 50 } });
//   signal.attach(httpServer);          // upgrades on /signal
//   ...; await signal.close();
//
// A connection joins a room with a pubkey, answers the server's challenge
// with a kind-22242 event signed by that pubkey (NIP-42 style), and only
// then may signal (unicast to a pubkey in one of its rooms) and broadcast.
// The server sets `from` on every frame it relays, so nobody can appear
// under someone else's key.
//
// Every frame is untrusted: it is rate-limited, size-checked, parsed under
// try/catch, and validated field by field before use; a bad frame gets one
// `error` frame back (codes exactly as DESIGN §6) and never reaches another
// peer. Error messages are fixed text: nothing a client sent is echoed back
// except values already validated (a 64-hex pubkey).
//
// Room state lives behind a small interface (createMemoryRooms below), so
// that several server instances can later share rooms through Redis
// pub/sub: see "Scaling the signaling server" in README.md.
//
// Decisions the contract leaves open:
// - One pubkey per connection; a connection may be in several rooms (up to
//   limits.roomsPerConnection), and each join is authenticated on its own.
//   Frames the server sends carry the DESIGN fields only; a connection that
//   holds more than one room also gets a `room` field on peers/join/leave/
//   signal/broadcast, and may name a `room` in signal/broadcast/leave.
// - A client may leave a room without closing the socket:
//   {"type":"leave","room":r} (an addition to DESIGN §6).
// - A pubkey that joins a room it is already in (a reconnect whose old
//   socket is not dead yet, or a second tab) replaces the old connection:
//   the old one is closed with 4001 "replaced", and the room sees leave then
//   join for that pubkey, so peers renegotiate with the new session.
// - Rejected or dropped frames get exactly one error frame each, except
//   rate-limited drops, which are reported at most once a second (an error
//   per dropped frame would let a flood amplify itself).
// - Beyond the DESIGN limits: a connection that has not authenticated a
//   join within authTimeoutMs is closed (1008); a peer too slow to read
//   what it is sent (over maxBufferedBytes queued) is closed (1013);
//   relayed `data` nests at most 32 deep.
//
// What a stranger can make the server spend (the README states the same
// bounds; each is a limit below):
// - Connections: at most unauthPerIp connections per address (IPv6: per
//   /64) and unauthTotal in all may be unauthenticated at once; beyond
//   that an upgrade gets HTTP 503 before any WebSocket exists.
// - Signature checks, the only costly step (wasm libsecp256k1, verify.js):
//   done only for an auth event that passed every cheap check (shape,
//   kind, pubkey, challenge, freshness, id hash), and rationed by token
//   buckets, per address (verifyPerIpPerSecond, burst verifyBurstPerIp) and
//   for the whole server (verifyPerSecond, burst verifyBurst); an auth
//   beyond them is refused with rate-limited, unchecked. A connection
//   whose signature checks fail authFailuresPerConnection times is closed
//   (1008).
// - Broadcast bytes are counted per copy delivered: a broadcast of b bytes
//   into a room of n others spends b*n of its sender's budget
//   (broadcastBytesPerSecond, burst broadcastBurstBytes), so one
//   connection's broadcasts make the server send at most that much,
//   however big the room.

import { createHash, randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';

import { Bucket, KeyedBuckets, clientKey } from './budget.js';
import { loadVerifier } from './verify.js';

export const DEFAULT_LIMITS = Object.freeze({
  maxFrameBytes: 64 * 1024,        // DESIGN §6: larger frames are dropped with too-large
  hardMaxFrameBytes: 1024 * 1024,  // ws's maxPayload: beyond it ws closes with 1009
  ratePerSecond: 100,              // token bucket refill (frames per second)
  rateBurst: 200,                  // token bucket size
  floodStrikes: 100,               // dropped frames (decaying) before closing 1008
  strikeDecayPerSecond: 10,        // a client just over the rate is slowed, not closed
  broadcastBytesPerSecond: 256 * 1024, // bytes x copies a connection's broadcasts
  broadcastBurstBytes: 1024 * 1024,    // may make the server send (per second, at once)
  peersPerRoom: 500,
  roomsPerConnection: 8,
  maxRoomLength: 128,              // characters of a room name
  maxDataDepth: 32,                // nesting of relayed `data`
  authWindowSeconds: 600,          // DESIGN §6: created_at within 10 minutes of now
  maxBufferedBytes: 8 * 1024 * 1024,
  unauthPerIp: 16,                 // unauthenticated connections per address at once
  unauthTotal: 1000,               // ... and in all; beyond: HTTP 503 at upgrade
  authFailuresPerConnection: 3,    // failed signature checks before closing 1008
  verifyPerIpPerSecond: 50,        // signature checks per address
  verifyBurstPerIp: 100,
  verifyPerSecond: 400,            // signature checks for the whole server
  verifyBurst: 800,
});

export const CLOSE_REPLACED = 4001;  // same pubkey joined the same room again

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;
const AUTH_KIND = 22242;
const MAX_AUTH_TAGS = 16;

// ---------------------------------------------------------------------------
// Room state.
//
// The interface (all methods may return a promise; the server awaits them):
//   join(room, pubkey, member, maxPeers)
//       -> { ok: true, peers: [pubkeys already there], replaced: member|null }
//        | { ok: false }                       (room is full)
//   leave(room, pubkey, member) -> true when `member` held that pubkey and
//       was removed (false once a newer connection replaced it)
//   members(room) -> [pubkeys]
//   deliver(room, toPubkey, frame) -> true when the pubkey is in the room
//   broadcast(room, fromPubkey, frame) -> count delivered (sender excluded)
//   close()
// `member` is the server's handle on one local connection:
//   member.send(room, frame)   frame: a plain object the server built
//   member.close(code, reason)
// Frames are plain, server-built objects (never client text), so a shared
// implementation can serialize them onto a bus and rebuild them elsewhere.

export function createMemoryRooms() {
  const rooms = new Map(); // room -> Map(pubkey -> member)
  return {
    join(room, pubkey, member, maxPeers) {
      let peers = rooms.get(room);
      if (!peers) rooms.set(room, (peers = new Map()));
      const replaced = peers.get(pubkey) ?? null;
      if (!replaced && peers.size >= maxPeers) {
        if (peers.size === 0) rooms.delete(room);
        return { ok: false };
      }
      const others = [...peers.keys()].filter((p) => p !== pubkey);
      peers.set(pubkey, member);
      return { ok: true, peers: others, replaced: replaced === member ? null : replaced };
    },
    leave(room, pubkey, member) {
      const peers = rooms.get(room);
      if (!peers || peers.get(pubkey) !== member) return false;
      peers.delete(pubkey);
      if (peers.size === 0) rooms.delete(room);
      return true;
    },
    members(room) {
      return [...(rooms.get(room)?.keys() ?? [])];
    },
    deliver(room, toPubkey, frame) {
      const member = rooms.get(room)?.get(toPubkey);
      if (!member) return false;
      member.send(room, frame);
      return true;
    },
    broadcast(room, fromPubkey, frame) {
      let n = 0;
      for (const [pubkey, member] of rooms.get(room) ?? []) {
        if (pubkey === fromPubkey) continue;
        member.send(room, frame);
        n++;
      }
      return n;
    },
    // For tests and stats: how many rooms exist.
    size() { return rooms.size; },
    close() { rooms.clear(); },
  };
}

// ---------------------------------------------------------------------------
// Validation helpers: each takes an untrusted value and says whether it is
// exactly what the protocol expects, without throwing.

// A frame sent to many members is serialized once.
const serialized = new WeakMap();
function serialize(frame) {
  let text = serialized.get(frame);
  if (text === undefined) {
    text = JSON.stringify(frame);
    serialized.set(frame, text);
  }
  return text;
}

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const isHex64 = (v) => typeof v === 'string' && HEX64.test(v);

// Depth of a parsed JSON value, walked iteratively (a 64 KiB frame can nest
// 32k levels; recursion or JSON.stringify on that would overflow the stack).
// Stops counting once past `max`.
function depthWithin(value, max) {
  const stack = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (d > max) return false;
    for (const k in v) stack.push([v[k], d + 1]);
  }
  return true;
}

function isTags(tags) {
  if (!Array.isArray(tags) || tags.length > MAX_AUTH_TAGS) return false;
  return tags.every((t) => Array.isArray(t) && t.every((s) => typeof s === 'string'));
}

// Every check of an auth event but its signature -- all cheap, so they run
// first and a stranger cannot make the server verify a signature for an
// event that could not have been accepted anyway. -> a reason string, or
// null when only the signature is left to check (verify.js does that).
export function precheckAuthEvent(event, { pubkey, nonce, now = Date.now() / 1000, windowSeconds = 600 }) {
  if (!isObject(event)) return 'auth event must be an object';
  const { id, pubkey: pk, created_at: createdAt, kind, tags, content, sig } = event;
  if (!isHex64(id)) return 'auth event id must be 64 lowercase hex';
  if (!isHex64(pk)) return 'auth event pubkey must be 64 lowercase hex';
  if (typeof sig !== 'string' || !HEX128.test(sig)) return 'auth event sig must be 128 lowercase hex';
  if (!Number.isSafeInteger(createdAt) || createdAt < 0) return 'auth event created_at must be a non-negative integer';
  if (!Number.isSafeInteger(kind)) return 'auth event kind must be an integer';
  if (!isTags(tags)) return 'auth event tags must be a short array of string arrays';
  if (typeof content !== 'string') return 'auth event content must be a string';
  if (kind !== AUTH_KIND) return `auth event kind must be ${AUTH_KIND}`;
  if (pk !== pubkey) return 'auth event is not by the joined pubkey';
  if (!tags.some((t) => t.length >= 2 && t[0] === 'challenge' && t[1] === nonce)) {
    return 'auth event does not name this connection\'s challenge';
  }
  if (Math.abs(now - createdAt) > windowSeconds) return 'auth event is not fresh (created_at more than 10 minutes from now)';
  if (eventId(event) !== id) return 'auth event id does not match its content';
  return null;
}

// The NIP-01 id of an event whose fields have been checked. (A microsecond
// of hashing: it keeps mismatched ids, which cost an attacker nothing to
// send, away from the signature check and its failure count.)
export function eventId({ pubkey, created_at: createdAt, kind, tags, content }) {
  try {
    return createHash('sha256').update(JSON.stringify([0, pubkey, createdAt, kind, tags, content])).digest('hex');
  } catch {
    return null; // e.g. a string that cannot be serialized
  }
}

// ---------------------------------------------------------------------------
// The server.

// Validated options -> { handleUpgrade, attach, close, connections(), stats() }.
//   rooms         the room state (createMemoryRooms() by default)
//   limits        overrides of DEFAULT_LIMITS
//   heartbeatMs   ping interval; a socket that has not answered the previous
//                 ping by the next one is terminated
//   authTimeoutMs a connection must authenticate a join within this
//   path          the upgrade path attach() serves
//   verifier      verify.js's verifier, or a promise of one (default: the
//                 shared loadVerifier())
//   clientIp      req -> the key per-address limits count under (default:
//                 budget.js clientKey, the socket's address; web/server.js
//                 passes one that trusts a reverse proxy when told to)
export function createSignalServer({
  rooms = createMemoryRooms(),
  limits: overrides = {},
  heartbeatMs = 30_000,
  authTimeoutMs = 60_000,
  path = '/signal',
  verifier = loadVerifier(),
  clientIp = (req) => clientKey(req),
} = {}) {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [k, v] of Object.entries(limits)) {
    if (typeof v !== 'number' || !(v > 0)) throw new TypeError(`createSignalServer: limits.${k} must be a positive number`);
  }
  if (limits.hardMaxFrameBytes < limits.maxFrameBytes) {
    throw new TypeError('createSignalServer: limits.hardMaxFrameBytes must be at least limits.maxFrameBytes');
  }
  // Awaited at the first auth; until then a load failure must not surface
  // as an unhandled rejection (it is reported to each auth instead).
  const verifierReady = Promise.resolve(verifier);
  verifierReady.catch(() => {});

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.hardMaxFrameBytes,
    // Compression would let a small frame inflate past our size checks'
    // intent and costs CPU per frame; signaling frames are small.
    perMessageDeflate: false,
  });
  wss.on('error', () => {}); // never crash on a server-level socket error
  const conns = new Set();
  let closing = false;

  const stats = {
    refusedUpgrades: 0,      // HTTP 503: over the unauthenticated caps
    verifications: 0,        // signatures handed to the verifier
    failedVerifications: 0,  // ... and found invalid
    refusedVerifications: 0, // auths refused unchecked: over a verify budget
  };
  // Unauthenticated connections, counted from the upgrade request (so a
  // handshake in progress holds its slot) until the first successful auth
  // or the socket's end.
  const unauth = new Map(); // address key -> count
  let unauthTotal = 0;
  const releaseUnauth = (ip) => {
    unauthTotal--;
    const n = unauth.get(ip) - 1;
    if (n > 0) unauth.set(ip, n); else unauth.delete(ip);
  };
  const verifyPerIp = new KeyedBuckets({ perSecond: limits.verifyPerIpPerSecond, burst: limits.verifyBurstPerIp });
  const verifyAll = new Bucket({ perSecond: limits.verifyPerSecond, burst: limits.verifyBurst });
  const shared = {
    rooms, limits, authTimeoutMs, stats, releaseUnauth,
    verifier: verifierReady,
    // May `ip` have one more signature checked now? The address's bucket
    // first, so an address over its own budget does not drain the server's.
    mayVerify(ip) {
      if (verifyPerIp.take(ip) > 0 || verifyAll.take() > 0) {
        stats.refusedVerifications++;
        return false;
      }
      return true;
    },
  };

  // The verdict waits for setImmediate, which runs after the event loop
  // has read its sockets: after a stall of the server's own (GC, a busy
  // machine), pongs that arrived meanwhile count before anyone is judged.
  const heartbeat = setInterval(() => setImmediate(() => {
    for (const c of conns) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      try { c.ws.ping(); } catch { c.ws.terminate(); }
    }
  }), heartbeatMs);
  heartbeat.unref?.();

  wss.on('connection', (ws, req, ip) => {
    const conn = new Connection(ws, ip, shared);
    conns.add(conn);
    ws.on('close', () => {
      conns.delete(conn);
      conn.closed();
    });
    if (closing) ws.close(1001, 'server shutting down');
  });

  // A refusal costs one write: no WebSocket, no parser, no timers.
  const retryAfter = Math.min(60, Math.max(1, Math.ceil(authTimeoutMs / 1000)));
  const busy = 'too many unauthenticated connections: try again later\n';
  const BUSY = `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: ${retryAfter}\r\n`
    + `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${busy.length}\r\n\r\n${busy}`;

  function handleUpgrade(req, socket, head) {
    socket.on('error', () => {}); // a reset during the handshake is not our crash
    if (closing) {
      socket.destroy();
      return;
    }
    let ip;
    try { ip = String(clientIp(req)); } catch { ip = 'unknown'; }
    const held = unauth.get(ip) ?? 0;
    if (held >= limits.unauthPerIp || unauthTotal >= limits.unauthTotal) {
      stats.refusedUpgrades++;
      socket.end(BUSY);
      return;
    }
    unauth.set(ip, held + 1);
    unauthTotal++;
    let handed = false;
    // A handshake ws refuses (bad headers) never reaches the callback:
    // its slot is freed when the socket goes.
    socket.once('close', () => { if (!handed) releaseUnauth(ip); });
    wss.handleUpgrade(req, socket, head, (ws) => {
      handed = true;
      wss.emit('connection', ws, req, ip);
    });
  }

  return {
    limits,
    handleUpgrade,
    // Serves upgrades on `path` of an http.Server; other upgrade paths get 404.
    attach(server) {
      server.on('upgrade', (req, socket, head) => {
        let pathname = null;
        try { pathname = new URL(req.url, 'http://localhost').pathname; } catch { /* bad URL */ }
        if (pathname === path) {
          handleUpgrade(req, socket, head);
        } else {
          socket.on('error', () => {});
          socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        }
      });
      return this;
    },
    connections: () => conns.size,
    // Counters for operators and tests: what strangers made the server do.
    stats: () => ({ ...stats, connections: conns.size, unauthenticated: unauthTotal }),
    // Closes every connection with 1001 and stops the heartbeat.
    async close() {
      closing = true;
      clearInterval(heartbeat);
      const gone = [...conns].map((c) => new Promise((resolve) => {
        if (c.ws.readyState === c.ws.CLOSED) { resolve(); return; }
        c.ws.once('close', resolve);
        c.ws.close(1001, 'server shutting down');
        // A peer that never answers the close handshake is cut off.
        setTimeout(() => { c.ws.terminate(); resolve(); }, 1000).unref?.();
      }));
      await Promise.all(gone);
      await new Promise((resolve) => wss.close(() => resolve()));
      await rooms.close?.();
    },
  };
}

// One WebSocket connection: its identity, rooms, pending challenges and
// rate-limit state. Frames are checked synchronously on arrival (rate,
// size, JSON, shape) and then handled one at a time in arrival order,
// since the room state may answer asynchronously.
class Connection {
  constructor(ws, ip, shared) {
    const { rooms, limits, authTimeoutMs } = shared;
    this.ws = ws;
    this.ip = ip;              // the key per-address limits count under
    this.shared = shared;      // the server's budgets, verifier and stats
    this.rooms = rooms;
    this.limits = limits;
    this.pubkey = null;        // set by the first successful auth
    this.unauthSlot = true;    // holds one of the unauthenticated slots
    this.authFailures = 0;     // signature checks that failed
    this.joined = new Set();   // rooms this connection is a member of
    this.pending = new Map();  // nonce -> { room, pubkey } awaiting auth
    this.tokens = limits.rateBurst;
    this.broadcastBytes = limits.broadcastBurstBytes;
    this.broadcastAt = Date.now();
    this.strikes = 0;
    this.lastRefill = Date.now();
    this.lastRateError = 0;
    this.alive = true;         // answered the last heartbeat ping
    this.queue = Promise.resolve();
    this.inflight = 0;         // frames accepted but not yet handled
    this.gone = false;         // the socket has closed
    this.closing = false;      // we are closing it: ignore what still arrives

    ws.on('error', () => {});  // e.g. maxPayload exceeded: ws closes 1009 itself
    ws.on('pong', () => { this.alive = true; });
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
    this.authTimer = setTimeout(() => {
      if (!this.pubkey) this.close(1008, 'no authenticated join in time');
    }, authTimeoutMs);
    this.authTimer.unref?.();
  }

  // --- sending ---------------------------------------------------------------
  sendRaw(frame) {
    if (this.gone || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.close(1013, 'too slow: too much unread data');
      return;
    }
    let text;
    try {
      text = serialize(frame);
    } catch {
      return; // cannot happen for validated data; never throw into a relay loop
    }
    try { this.ws.send(text); } catch { /* closing socket */ }
  }

  error(code, message) {
    this.sendRaw({ type: 'error', code, message });
  }

  // The room member handle (see createMemoryRooms).
  send(room, frame) {
    // A connection in several rooms needs to know which one a frame is about.
    this.sendRaw(this.joined.size > 1 ? { ...frame, room } : frame);
  }

  close(code, reason) {
    if (this.gone || this.closing) return;
    this.closing = true;
    try { this.ws.close(code, reason); } catch { this.ws.terminate(); }
  }

  // --- receiving -------------------------------------------------------------
  rateAllows() {
    const now = Date.now();
    const dt = (now - this.lastRefill) / 1000;
    this.lastRefill = now;
    this.tokens = Math.min(this.limits.rateBurst, this.tokens + dt * this.limits.ratePerSecond);
    this.strikes = Math.max(0, this.strikes - dt * this.limits.strikeDecayPerSecond);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.strikes += 1;
    if (this.strikes > this.limits.floodStrikes) {
      this.close(1008, 'flooding');
      return false;
    }
    if (now - this.lastRateError >= 1000) {
      this.lastRateError = now;
      this.error('rate-limited', `over ${this.limits.ratePerSecond} frames per second: frames are being dropped`);
    }
    return false;
  }

  receive(data, isBinary) {
    if (this.gone || this.closing || !this.rateAllows()) return;
    if (isBinary) {
      this.error('bad-frame', 'binary frames are not accepted: send JSON text');
      return;
    }
    // ws hands text frames over as one Buffer (binaryType 'nodebuffer').
    if (data.length > this.limits.maxFrameBytes) {
      this.error('too-large', `frame over ${this.limits.maxFrameBytes} bytes dropped`);
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      this.error('bad-json', 'frame is not valid JSON');
      return;
    }
    if (!isObject(msg) || typeof msg.type !== 'string') {
      this.error('bad-frame', 'frame must be a JSON object with a string "type"');
      return;
    }
    if (this.inflight >= 2 * this.limits.rateBurst) {
      this.error('rate-limited', 'too many frames waiting to be handled');
      return;
    }
    this.inflight++;
    this.queue = this.queue
      .then(() => this.handle(msg))
      .catch(() => this.error('bad-frame', 'frame could not be handled'))
      .finally(() => { this.inflight--; });
  }

  async handle(msg) {
    if (this.gone) return;
    switch (msg.type) {
      case 'join': return this.onJoin(msg);
      case 'auth': return this.onAuth(msg);
      case 'signal':
      case 'broadcast':
      case 'leave':
        if (!this.pubkey || this.joined.size === 0) {
          this.error('unauthorized', 'join a room and authenticate first');
          return;
        }
        if (msg.type === 'signal') return this.onSignal(msg);
        if (msg.type === 'broadcast') return this.onBroadcast(msg);
        return this.onLeave(msg);
      default:
        this.error('unknown-type', 'unknown frame type (expected join, auth, signal, broadcast or leave)');
    }
  }

  isRoomName(room) {
    return typeof room === 'string' && room.length > 0 && room.length <= this.limits.maxRoomLength;
  }

  async onJoin({ room, pubkey }) {
    if (!this.isRoomName(room)) {
      this.error('bad-frame', `join: room must be a string of 1 to ${this.limits.maxRoomLength} characters`);
      return;
    }
    if (!isHex64(pubkey)) {
      this.error('bad-frame', 'join: pubkey must be 64 lowercase hex');
      return;
    }
    if (this.pubkey && pubkey !== this.pubkey) {
      this.error('unauthorized', 'this connection is authenticated as another pubkey');
      return;
    }
    if (this.joined.has(room)) {
      this.error('bad-frame', 'join: already in this room');
      return;
    }
    // A repeated join for a room replaces its pending challenge.
    for (const [nonce, p] of this.pending) if (p.room === room) this.pending.delete(nonce);
    if (this.joined.size + this.pending.size >= this.limits.roomsPerConnection) {
      this.error('room-full', `a connection may be in at most ${this.limits.roomsPerConnection} rooms`);
      return;
    }
    const members = await this.rooms.members(room);
    if (members.length >= this.limits.peersPerRoom && !members.includes(pubkey)) {
      this.error('room-full', `room is full (${this.limits.peersPerRoom} peers)`);
      return;
    }
    const nonce = randomBytes(32).toString('hex');
    this.pending.set(nonce, { room, pubkey });
    this.sendRaw({ type: 'challenge', nonce });
  }

  async onAuth({ event }) {
    if (this.pending.size === 0) {
      this.error('unauthorized', 'auth: no join awaits authentication');
      return;
    }
    // Find the pending join this event answers; any failure consumes it,
    // so each signature check costs the client a fresh join.
    let nonce = null;
    if (isObject(event) && isTags(event.tags)) {
      const tag = event.tags.find((t) => t.length >= 2 && t[0] === 'challenge' && this.pending.has(t[1]));
      if (tag) nonce = tag[1];
    }
    if (nonce === null) {
      // Without a recognizable nonce, the answer is to the oldest pending join.
      nonce = this.pending.keys().next().value;
    }
    const { room, pubkey } = this.pending.get(nonce);
    this.pending.delete(nonce);
    const reason = precheckAuthEvent(event, { pubkey, nonce, windowSeconds: this.limits.authWindowSeconds });
    if (reason) {
      this.error('unauthorized', reason);
      return;
    }
    if (!await this.checkSignature(event)) return;
    if (this.pubkey && this.pubkey !== pubkey) {
      this.error('unauthorized', 'this connection is authenticated as another pubkey');
      return;
    }
    const result = await this.rooms.join(room, pubkey, this, this.limits.peersPerRoom);
    if (this.gone) {
      // The socket died while the room state answered: undo.
      await this.rooms.leave(room, pubkey, this);
      return;
    }
    if (!result.ok) {
      this.error('room-full', `room is full (${this.limits.peersPerRoom} peers)`);
      return;
    }
    this.pubkey = pubkey;
    clearTimeout(this.authTimer);
    this.releaseSlot();
    this.joined.add(room);
    this.send(room, { type: 'peers', peers: result.peers });
    if (result.replaced) {
      result.replaced.close(CLOSE_REPLACED, 'replaced: this pubkey joined the room again');
      await this.rooms.broadcast(room, pubkey, { type: 'leave', pubkey });
    }
    await this.rooms.broadcast(room, pubkey, { type: 'join', pubkey });
  }

  // The one costly step of an auth, within the budgets. -> true when the
  // signature is valid; otherwise the error is reported (and the
  // connection closed after too many failures) and it is false.
  async checkSignature(event) {
    if (!this.shared.mayVerify(this.ip)) {
      this.error('rate-limited', 'too many signature checks from this address or in all: auth refused, try again later');
      return false;
    }
    let verifier;
    try {
      verifier = await this.shared.verifier;
    } catch {
      this.error('unauthorized', 'the server cannot check signatures right now');
      return false;
    }
    if (this.gone) return false;
    this.shared.stats.verifications++;
    if (verifier.verify(event) === null) return true;
    this.shared.stats.failedVerifications++;
    this.authFailures++;
    this.error('unauthorized', 'auth event signature is invalid');
    if (this.authFailures >= this.limits.authFailuresPerConnection) {
      this.close(1008, 'too many failed authentications');
    }
    return false;
  }

  releaseSlot() {
    if (!this.unauthSlot) return;
    this.unauthSlot = false;
    this.shared.releaseUnauth(this.ip);
  }

  // The room a signal/broadcast/leave is about: the named one, or the only
  // one. -> room, or null after reporting the error.
  pickRoom(msg, { all = false } = {}) {
    if (msg.room !== undefined) {
      if (!this.isRoomName(msg.room) || !this.joined.has(msg.room)) {
        this.error('bad-frame', `${msg.type}: "room" must name a room this connection joined`);
        return null;
      }
      return [msg.room];
    }
    if (all || this.joined.size === 1) return [...this.joined];
    this.error('bad-frame', `${msg.type}: this connection is in several rooms: name one in "room"`);
    return null;
  }

  async onSignal(msg) {
    const { to, data } = msg;
    if (!isHex64(to)) {
      this.error('bad-frame', 'signal: "to" must be a 64-hex pubkey');
      return;
    }
    if (to === this.pubkey) {
      this.error('bad-frame', 'signal: "to" is this connection\'s own pubkey');
      return;
    }
    if (!isObject(data) || !depthWithin(data, this.limits.maxDataDepth)) {
      this.error('bad-frame', `signal: "data" must be an object nested at most ${this.limits.maxDataDepth} deep`);
      return;
    }
    // Without a room, the first joined room that holds `to`.
    const candidates = msg.room === undefined ? [...this.joined] : this.pickRoom(msg);
    if (!candidates) return;
    const frame = { type: 'signal', from: this.pubkey, data };
    for (const room of candidates) {
      if (await this.rooms.deliver(room, to, frame)) return;
    }
    this.error('no-such-peer', `no peer ${to} in ${candidates.length > 1 ? 'these rooms' : 'this room'}`);
  }

  async onBroadcast(msg) {
    const { data } = msg;
    if (data === undefined || !depthWithin(data, this.limits.maxDataDepth)) {
      this.error('bad-frame', `broadcast: "data" must be a JSON value nested at most ${this.limits.maxDataDepth} deep`);
      return;
    }
    const targets = this.pickRoom(msg, { all: true });
    if (!targets) return;
    const frame = { type: 'broadcast', from: this.pubkey, data };
    // Paid per copy: what the server sends, not what the client sent.
    let copies = 0;
    for (const room of targets) copies += (await this.rooms.members(room)).filter((p) => p !== this.pubkey).length;
    const cost = Buffer.byteLength(serialize(frame)) * copies;
    const now = Date.now();
    this.broadcastBytes = Math.min(this.limits.broadcastBurstBytes,
      this.broadcastBytes + ((now - this.broadcastAt) / 1000) * this.limits.broadcastBytesPerSecond);
    this.broadcastAt = now;
    if (cost > this.broadcastBytes) {
      this.error('rate-limited', cost > this.limits.broadcastBurstBytes
        ? `broadcast dropped: its size times the ${copies} peers exceeds the ${this.limits.broadcastBurstBytes}-byte budget`
        : `over ${this.limits.broadcastBytesPerSecond} broadcast bytes per second (each copy counts): broadcast dropped`);
      return;
    }
    this.broadcastBytes -= cost;
    for (const room of targets) await this.rooms.broadcast(room, this.pubkey, frame);
  }

  async onLeave(msg) {
    const targets = this.pickRoom(msg);
    if (!targets) return;
    for (const room of targets) await this.leaveRoom(room);
  }

  async leaveRoom(room) {
    this.joined.delete(room);
    if (await this.rooms.leave(room, this.pubkey, this)) {
      await this.rooms.broadcast(room, this.pubkey, { type: 'leave', pubkey: this.pubkey });
    }
  }

  // The socket is gone: leave every room (unless replaced meanwhile).
  closed() {
    this.gone = true;
    clearTimeout(this.authTimer);
    this.releaseSlot();
    this.pending.clear();
    const rooms = [...this.joined];
    this.queue = this.queue
      .then(() => Promise.all(rooms.map((room) => this.leaveRoom(room))))
      .catch(() => {});
  }
}
