// relay.js -- a Nostr relay on the Hiroba engine: NIP-01 (EVENT/OK,
// REQ/EVENT/EOSE, live events, CLOSE/CLOSED, NOTICE), NIP-09 deletions,
// NIP-11 information, NIP-42 AUTH, NIP-45 COUNT and NIP-77 Negentropy,
// over WebSocket, stored in one SQLite file by the same wasm engine the
// browser tabs run.
//
//   const relay = await createRelay({ db: './relay.db' });
//   relay.handleUpgrade(req, socket, head);   // a WebSocket client
//   relay.handleInfo(req, res);               // NIP-11 and a plain page
//   await relay.close();
//
// The engine does the work a frame asks for -- checking and storing
// events, answering REQ, COUNT and NEG-* with connection-scoped sessions
// -- and this file decides who may ask for what, how much, and in which
// order (README "Relay").
//
// Fairness. The engine is single-threaded and every call blocks the
// process, so frames wait in a per-connection inbox and a scheduler serves
// the connections round-robin, at most TURN_FRAMES frames and
// TURN_BYTES bytes of one connection per engine call, and yields to the
// event loop between turns so sockets keep being read. A connection pays
// for its engine time from a token bucket (cpuBurstMs, refilled at
// cpuMsPerSecond); one that spent it waits, the others go on. Inboxes are
// bounded: past half the socket stops being read (TCP pushes back on the
// client), past the whole the client is dropped. A client that does not
// read its answers is not served (its frames wait) and, when even live
// events pile up past sendMaxBytes, dropped.
//
// Durability. An event is answered OK true only after the engine call
// that stored it returned, and the engine commits with synchronous=FULL:
// what a client was told is stored survives a SIGKILL.
//
// Exactly once. Within one engine call the frames are applied in order in
// one transaction, and accepted events are broadcast to live subscriptions
// in that same order, each REQ's subscription going live right after its
// stored answer: an event stored before a REQ is in its stored answer and
// never sent live to it, one stored after it is sent live only.

import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';

import { openFeed } from '../js-glue/node.js';
import { PeerGuard, matchFilter } from '../js-glue/peer-guard.js';
import { Bucket, clientKey } from '../web/budget.js';
import { loadVerifier } from '../web/verify.js';

// Every limit, with the default a relay starts with (README "Relay").
export const RELAY_LIMITS = Object.freeze({
  maxMessageLength: 256 * 1024,   // bytes of one frame; larger: refused with a reason
  hardMaxMessageLength: 1024 * 1024, // larger still: the socket is closed (1009)
  maxSubscriptions: 32,           // live subscriptions per connection
  maxFilters: 16,                 // filters per REQ or COUNT
  maxFilterBytes: 64 * 1024,      // JSON of one connection's live filters, in all
  maxLimit: 500,                  // events per filter in a stored answer (at most the engine's 500)
  maxSubidLength: 64,
  eventsPerSecond: 50,            // EVENTs per connection: refill ...
  eventBurst: 1000,               // ... and burst; beyond: OK false "rate-limited:"
  connectionsPerIp: 64,           // beyond: HTTP 429 at upgrade
  maxConnections: 10000,          // beyond: HTTP 503 at upgrade
  idleTimeoutMs: 10 * 60 * 1000,  // silent and without live subscriptions: closed
  heartbeatMs: 30 * 1000,         // a ping; no pong by the next one: closed
  inboxFrames: 1024,              // frames waiting per connection (half: stop reading)
  inboxBytes: 8 * 1024 * 1024,    // ... and their bytes
  sendHighBytes: 4 * 1024 * 1024, // unread answers past this: the client is not served
  sendMaxBytes: 32 * 1024 * 1024, // ... and past this (live events too): dropped
  cpuBurstMs: 2000,               // engine time per connection: burst ...
  cpuMsPerSecond: 250,            // ... and refill
  maxStrikes: 256,                // invalid frames or events (decaying 1/s); beyond: dropped
  negSessions: 4,                 // NIP-77 sessions per connection (the engine's cap)
  negItems: 500000,               // ... and their items (the engine's cap)
});

// One engine call takes at most this much of one connection.
const TURN_FRAMES = 64;
const TURN_BYTES = 512 * 1024;
// Engine answers per call stop near this many bytes (the rest of the
// frames wait for the next turn).
const TURN_ANSWER_BYTES = 2 * 1024 * 1024;
// Wall time the scheduler works before it yields to the event loop.
const SLICE_MS = 20;
const AUTH_MAX_SKEW_S = 600;
const ENGINE_MAX_LIMIT = 500; // events per filter in a stored answer (store.h)
const EPHEMERAL = (kind) => kind >= 20000 && kind < 30000;
const HEX64 = /^[0-9a-f]{64}$/;

const now = () => performance.now();

/**
 * Options -> the relay. db: the SQLite file. allow: pubkeys (hex) that may
 * write (none: anyone); allowFollows: also whom they follow (their newest
 * kind 3). auth: { write, read } require NIP-42 AUTH first. maxBytes: the
 * database's size budget (0: none). name/description: NIP-11.
 */
export async function createRelay({
  db,
  name = 'Hiroba relay',
  description = 'A Nostr relay on the Hiroba engine (SQLite, WebAssembly).',
  contact = undefined,
  allow = null,
  allowFollows = false,
  auth = {},
  maxBytes = 0,
  limits: overrides = {},
  trustProxy = false,
} = {}) {
  const limits = { ...RELAY_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (!(key in RELAY_LIMITS)) throw new TypeError(`createRelay: unknown limit ${key}`);
    if (!Number.isFinite(value) || value < 0) throw new TypeError(`createRelay: limits.${key} must be a number >= 0`);
  }
  const allowList = allow === null ? null : [...allow];
  if (allowList) {
    for (const pk of allowList) {
      if (!HEX64.test(pk)) throw new TypeError(`createRelay: allow takes 64-hex pubkeys (got ${JSON.stringify(pk)})`);
    }
  }
  if (typeof db !== 'string' || !db) throw new TypeError('createRelay({ db }): db is a file path');
  const verifier = await loadVerifier();
  const feed = await openFeed({ path: db, policy: { store: 'all', maxBytes } });
  const authWrite = auth.write === true;
  const authRead = auth.read === true;

  // Who may write: the allow list, and with allowFollows whom its members
  // follow, recomputed when one of them publishes a new kind 3.
  let writers = null;
  async function computeWriters() {
    if (!allowList) return;
    const set = new Set(allowList);
    if (allowFollows && allowList.length) {
      for (const list of await feed.query({ kinds: [3], authors: allowList })) {
        for (const t of list.tags) if (t[0] === 'p' && HEX64.test(t[1] ?? '')) set.add(t[1]);
      }
    }
    writers = set;
  }
  await computeWriters();

  const stats = {
    connections: 0, refusedUpgrades: 0, framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0,
    accepted: 0, duplicates: 0, rejected: 0, rateLimited: 0, dropped: 0, engineMs: 0,
  };
  const conns = new Set();
  const perIp = new Map(); // address key -> open connections
  let nextConn = 1;
  let closing = false;

  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.hardMaxMessageLength, perMessageDeflate: false });
  wss.on('error', () => {});

  // --- the scheduler -----------------------------------------------------------
  const ready = [];        // connections with frames waiting, in turn order
  let pumping = false;
  let wakeTimer = null;

  function schedule(conn) {
    if (conn.queued || conn.gone) return;
    conn.queued = true;
    ready.push(conn);
    kick();
  }
  function kick() {
    if (pumping || closing) return;
    pumping = true;
    setImmediate(pump);
  }
  async function pump() {
    const start = now();
    try {
      let served = 0;
      const n = ready.length;
      // One pass at most over the connections that were ready at the start:
      // those that stay ready go to the back.
      for (let i = 0; i < n && ready.length && now() - start < SLICE_MS; i++) {
        const conn = ready.shift();
        conn.queued = false;
        if (conn.gone || !conn.inbox.length) continue;
        if (!mayServe(conn)) continue;
        await serve(conn);
        served++;
        if (conn.inbox.length && !conn.gone) { conn.queued = true; ready.push(conn); }
      }
      if (!served && ready.length) {
        // Everyone waiting is out of CPU or blocked on output: look again soon.
        wakeTimer ??= setTimeout(() => { wakeTimer = null; kick(); }, 25);
        pumping = false;
        return;
      }
    } catch (err) {
      console.error('hiroba relay: scheduler:', err);
    }
    pumping = false;
    if (ready.length) kick();
  }
  // May conn be served now? Not while it does not read its answers or owes
  // engine time; it is put back to wait.
  function mayServe(conn) {
    if (conn.ws.bufferedAmount > limits.sendHighBytes || conn.guard.cpuWait() > 0) {
      conn.queued = true;
      ready.push(conn);
      return false;
    }
    return true;
  }

  // --- one connection's turn ---------------------------------------------------
  async function serve(conn) {
    // Take frames up to the turn's size.
    const take = [];
    let bytes = 0;
    while (conn.inbox.length && take.length < TURN_FRAMES && (bytes === 0 || bytes + conn.inbox[0].length <= TURN_BYTES)) {
      const data = conn.inbox.shift();
      bytes += data.length;
      take.push(data);
    }
    conn.guard.taken(take.length, bytes);
    if (conn.paused && conn.guard.inboxFrames <= limits.inboxFrames / 4 && conn.guard.inboxBytes <= limits.inboxBytes / 4) {
      conn.paused = false;
      conn.ws._socket?.resume();
    }
    // Frames for the engine are applied together, in order; a frame this
    // file answers itself first lets the engine's before it finish.
    let segment = [];
    const flush = async () => {
      if (!segment.length) return;
      const batch = segment;
      segment = [];
      await runEngine(conn, batch);
    };
    for (const data of take) {
      if (conn.gone) return;
      let item;
      try {
        item = classify(conn, data);
      } catch (err) {
        // A frame this file did not foresee costs itself only.
        item = { run: () => send(conn, ['NOTICE', 'error: the relay could not handle this frame']) };
        console.error('hiroba relay: frame:', err);
      }
      if (item.engine) segment.push(item);
      else {
        await flush();
        try {
          item.run?.();
        } catch (err) {
          send(conn, ['NOTICE', 'error: the relay could not handle this frame']);
          console.error('hiroba relay: frame:', err);
        }
      }
    }
    await flush();
  }

  // Applies frames on conn's engine connection; answers and broadcasts in
  // frame order. Frames the engine left for later (its answer budget) go
  // back to the front of the inbox.
  async function runEngine(conn, items) {
    const t0 = now();
    let results;
    try {
      results = await feed.mergeBatch(conn.id, items.map((it) => it.text), TURN_ANSWER_BYTES);
    } catch (err) {
      // The engine's own trouble (a full disk, I/O): nothing of the batch
      // was kept. Every EVENT is told so; other frames get a NOTICE.
      const reason = `error: ${err.message}`;
      for (const it of items) {
        if (it.type === 'EVENT') send(conn, ['OK', it.id ?? '', false, reason]);
        else if (it.type === 'REQ' || it.type === 'COUNT') {
          if (it.type === 'REQ') unsubscribe(conn, it.sub);
          send(conn, ['CLOSED', it.sub, reason]);
        }
        else send(conn, ['NOTICE', reason]);
      }
      return;
    } finally {
      const ms = now() - t0;
      conn.guard.spent(ms);
      stats.engineMs += ms;
    }
    const accepted = [];
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      const it = items[i];
      stats.duplicates += r.duplicates;
      stats.rejected += r.rejected.length;
      const invalid = r.rejected.filter((x) => /^invalid:/.test(x.reason)).length;
      if (invalid && conn.guard.strike(invalid)) {
        drop(conn, 'invalid: too many invalid frames');
        return;
      }
      for (const reply of r.replies) send(conn, reply);
      if (it.type === 'REQ') {
        if (r.replies.at(-1)?.[0] === 'EOSE') goLive(conn, it);
        else unsubscribe(conn, it.sub);
      }
      if (r.accepted.length && it.type === 'EVENT') {
        stats.accepted += r.accepted.length;
        broadcast(it.event);
        accepted.push(it.event);
      }
    }
    // What the engine left for later waits at the front of the inbox.
    if (results.length < items.length) {
      const rest = items.slice(results.length).map((it) => it.data);
      conn.inbox.unshift(...rest);
      let b = 0;
      for (const d of rest) b += d.length;
      conn.guard.inboxFrames += rest.length;
      conn.guard.inboxBytes += b;
    }
    if (allowList && allowFollows && accepted.some((e) => e.kind === 3 && allowList.includes(e.pubkey))) {
      await computeWriters();
    }
  }

  // --- frames --------------------------------------------------------------------
  // data (a Buffer) -> { engine: true, text, type, ... } for the engine, or
  // { run } for what this file answers itself.
  function classify(conn, data) {
    const reply = (...frame) => ({ run: () => send(conn, frame) });
    const invalid = (why) => {
      if (conn.guard.strike(1)) return { run: () => drop(conn, 'invalid: too many invalid frames') };
      return reply('NOTICE', `invalid: ${why}`);
    };
    let text;
    let frame;
    try {
      text = data.toString('utf8');
      frame = JSON.parse(text);
    } catch {
      return invalid('a frame is JSON text');
    }
    if (!Array.isArray(frame) || typeof frame[0] !== 'string') return invalid('a frame is a JSON array starting with its type');
    const type = frame[0];
    const tooBig = data.length > limits.maxMessageLength;
    const sub = frame[1];
    const subOk = typeof sub === 'string' && sub.length >= 1 && sub.length <= limits.maxSubidLength;
    switch (type) {
      case 'EVENT': {
        const event = frame[1];
        if (frame.length !== 2 || !event || typeof event !== 'object' || Array.isArray(event)) {
          return invalid('EVENT takes one event object');
        }
        const id = typeof event.id === 'string' ? event.id : '';
        const ok = (accepted, why) => ({ run: () => send(conn, ['OK', id, accepted, why]) });
        if (tooBig) return ok(false, `invalid: message of ${data.length} bytes is over this relay's ${limits.maxMessageLength}-byte limit`);
        if (conn.events.take() > 0) {
          stats.rateLimited++;
          return ok(false, `rate-limited: at most ${limits.eventsPerSecond} events a second (burst ${limits.eventBurst}) per connection`);
        }
        if (authWrite && !conn.authed.size) return ok(false, 'auth-required: this relay takes events from authenticated clients (NIP-42)');
        if (writers && !writers.has(event.pubkey)) return ok(false, 'blocked: this relay takes events only from its members');
        if (event.kind === 22242) return ok(false, 'invalid: AUTH events are not published');
        if (EPHEMERAL(event.kind)) {
          return {
            run: () => {
              const why = verifier.verify(event);
              if (why) {
                if (conn.guard.strike(1)) { drop(conn, 'invalid: too many invalid frames'); return; }
                send(conn, ['OK', id, false, why]);
                return;
              }
              send(conn, ['OK', id, true, '']);
              broadcast(event);
            },
          };
        }
        return { engine: true, data, text, type, id, event };
      }
      case 'REQ':
      case 'COUNT': {
        if (!subOk) return invalid(`${type} needs a subscription id of 1 to ${limits.maxSubidLength} characters`);
        const closed = (why) => reply('CLOSED', sub, why);
        if (tooBig) return closed(`invalid: message of ${data.length} bytes is over this relay's ${limits.maxMessageLength}-byte limit`);
        const filters = frame.slice(2);
        if (!filters.length) return closed(`invalid: ${type} takes at least one filter`);
        if (filters.length > limits.maxFilters) return closed(`invalid: at most ${limits.maxFilters} filters per ${type}`);
        if (authRead && !conn.authed.size) return closed('auth-required: reading this relay needs NIP-42 AUTH');
        if (type === 'COUNT') return { engine: true, data, text, type, sub };
        // A REQ under an id in use replaces that subscription.
        const old = conn.subs.get(sub);
        let size;
        try {
          size = Buffer.byteLength(JSON.stringify(filters));
        } catch {
          // Nested past what JSON.stringify's recursion survives.
          return closed('invalid: a filter nested too deep');
        }
        if (!old && conn.subs.size >= limits.maxSubscriptions) {
          return closed(`blocked: at most ${limits.maxSubscriptions} subscriptions per connection`);
        }
        if (conn.filterBytes - (old?.size ?? 0) + size > limits.maxFilterBytes) {
          return closed(`blocked: at most ${limits.maxFilterBytes} bytes of filters per connection`);
        }
        // The subscription holds its place (and its share of the caps)
        // from now; it matches live events once its stored answer is out.
        if (old) unsubscribe(conn, sub);
        conn.subs.set(sub, { filters: null, size });
        conn.filterBytes += size;
        // Under the engine's own cap (500), the relay's maxLimit is applied
        // here: each filter's limit is clamped to it.
        let reqText = text;
        if (limits.maxLimit < ENGINE_MAX_LIMIT) {
          const clamped = filters.map((f) => (f && typeof f === 'object' && !Array.isArray(f)
            && !(Number.isInteger(f.limit) && f.limit >= 0 && f.limit <= limits.maxLimit)
            ? { ...f, limit: limits.maxLimit } : f));
          reqText = JSON.stringify(['REQ', sub, ...clamped]);
        }
        return { engine: true, data, text: reqText, type, sub, filters, size };
      }
      case 'CLOSE':
        if (!subOk || frame.length !== 2) return invalid('CLOSE takes a subscription id');
        return { run: () => unsubscribe(conn, sub) };
      case 'AUTH':
        return { run: () => authenticate(conn, frame[1]) };
      case 'NEG-OPEN':
        if (subOk && tooBig) return reply('NEG-ERR', sub, `blocked: message over this relay's ${limits.maxMessageLength}-byte limit`);
        if (subOk && authRead && !conn.authed.size) return reply('NEG-ERR', sub, 'auth-required: reading this relay needs NIP-42 AUTH');
        return { engine: true, data, text, type, sub };
      case 'NEG-MSG':
      case 'NEG-CLOSE':
        if (tooBig) return invalid(`message over this relay's ${limits.maxMessageLength}-byte limit`);
        return { engine: true, data, text, type, sub };
      default:
        return invalid(`unknown message type ${JSON.stringify(type.slice(0, 32))}`);
    }
  }

  function goLive(conn, item) {
    const s = conn.subs.get(item.sub);
    if (s) s.filters = item.filters;
  }
  function unsubscribe(conn, sub) {
    const old = conn.subs.get(sub);
    if (!old) return;
    conn.subs.delete(sub);
    conn.filterBytes -= old.size;
  }

  // Sends event to every live subscription it matches, once each: its
  // NIP-01 fields only, as a stored answer has them (members a client
  // added are not passed on).
  function broadcast(event) {
    let json = null;
    for (const c of conns) {
      if (c.gone || !c.subs.size) continue;
      for (const [sub, s] of c.subs) {
        if (!s.filters?.some((f) => matchFilter(f, event))) continue;
        const { id, pubkey, created_at: createdAt, kind, tags, content, sig } = event;
        json ??= JSON.stringify({ id, pubkey, created_at: createdAt, kind, tags, content, sig });
        sendText(c, `["EVENT",${JSON.stringify(sub)},${json}]`);
        if (c.ws.bufferedAmount > limits.sendMaxBytes) {
          drop(c, `rate-limited: over ${limits.sendMaxBytes} bytes of answers unread`);
          break;
        }
      }
    }
  }

  // NIP-42: a kind 22242 event signed by the client, naming our challenge
  // and this relay, recent. A client may authenticate several pubkeys.
  function authenticate(conn, event) {
    const id = typeof event?.id === 'string' ? event.id : '';
    const no = (why) => send(conn, ['OK', id, false, why]);
    if (!event || typeof event !== 'object' || Array.isArray(event)) { no('invalid: AUTH takes a signed event'); return; }
    if (event.kind !== 22242) { no('invalid: an AUTH event is of kind 22242'); return; }
    if (!Number.isSafeInteger(event.created_at) || Math.abs(event.created_at - Date.now() / 1000) > AUTH_MAX_SKEW_S) {
      no(`invalid: created_at must be within ${AUTH_MAX_SKEW_S / 60} minutes of now`);
      return;
    }
    const tag = (k) => (Array.isArray(event.tags) ? event.tags.find((t) => Array.isArray(t) && t[0] === k)?.[1] : undefined);
    if (tag('challenge') !== conn.challenge) { no('auth-required: the challenge does not match'); return; }
    if (!sameRelay(tag('relay'), conn.host)) { no('auth-required: the relay tag names another relay'); return; }
    const t0 = now();
    const why = verifier.verify(event);
    conn.guard.spent(now() - t0);
    if (why) {
      if (conn.guard.strike(1)) { drop(conn, 'invalid: too many invalid frames'); return; }
      no(why);
      return;
    }
    conn.authed.add(event.pubkey);
    send(conn, ['OK', id, true, '']);
  }

  // --- sending ---------------------------------------------------------------------
  function send(conn, frame) { sendText(conn, JSON.stringify(frame)); }
  function sendText(conn, text) {
    if (conn.gone || conn.ws.readyState !== conn.ws.OPEN) return;
    stats.framesOut++;
    stats.bytesOut += text.length;
    conn.ws.send(text);
  }
  function drop(conn, why) {
    if (conn.gone) return;
    stats.dropped++;
    send(conn, ['NOTICE', why]);
    conn.ws.close(1008, why.slice(0, 120));
    release(conn);
    // A client that does not finish the closing handshake is cut off.
    setTimeout(() => conn.ws.terminate(), 2000).unref?.();
  }
  // Frees everything a connection holds, once.
  function release(conn) {
    if (conn.gone) return;
    conn.gone = true;
    conns.delete(conn);
    conn.inbox.length = 0;
    conn.subs.clear();
    const n = (perIp.get(conn.ip) ?? 1) - 1;
    if (n > 0) perIp.set(conn.ip, n); else perIp.delete(conn.ip);
    feed.connClose(conn.id).catch(() => { /* the feed closed first: nothing left to free */ });
  }

  // --- connections -----------------------------------------------------------------
  const heartbeat = setInterval(() => {
    const t = Date.now();
    for (const c of conns) {
      if (!c.alive || (t - c.lastFrame > limits.idleTimeoutMs && !c.subs.size)) {
        c.ws.terminate();
        release(c);
        continue;
      }
      c.alive = false;
      try { c.ws.ping(); } catch { c.ws.terminate(); }
    }
  }, limits.heartbeatMs);
  heartbeat.unref?.();

  function refuse(socket, status, text) {
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n`
      + `Retry-After: 10\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  }

  function handleUpgrade(req, socket, head) {
    socket.on('error', () => {});
    if (closing) { socket.destroy(); return; }
    let ip;
    try { ip = String(clientKey(req, { trustProxy })); } catch { ip = 'unknown'; }
    if (conns.size >= limits.maxConnections) {
      stats.refusedUpgrades++;
      refuse(socket, '503 Service Unavailable', 'rate-limited: the relay is full\n');
      return;
    }
    if ((perIp.get(ip) ?? 0) >= limits.connectionsPerIp) {
      stats.refusedUpgrades++;
      refuse(socket, '429 Too Many Requests', `rate-limited: at most ${limits.connectionsPerIp} connections per address\n`);
      return;
    }
    perIp.set(ip, (perIp.get(ip) ?? 0) + 1);
    let handed = false;
    socket.once('close', () => {
      if (handed) return;
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n > 0) perIp.set(ip, n); else perIp.delete(ip);
    });
    wss.handleUpgrade(req, socket, head, (ws) => {
      handed = true;
      open(ws, req, ip);
    });
  }

  function open(ws, req, ip) {
    const conn = {
      id: nextConn++,
      ws,
      ip,
      host: req.headers.host ?? '',
      inbox: [],
      queued: false,
      paused: false,
      gone: false,
      alive: true,
      lastFrame: Date.now(),
      subs: new Map(),          // sub id -> { filters, size }
      filterBytes: 0,
      authed: new Set(),        // pubkeys proven with NIP-42
      challenge: randomBytes(16).toString('hex'),
      guard: new PeerGuard({
        INBOX_FRAMES: limits.inboxFrames,
        INBOX_BYTES: limits.inboxBytes,
        CPU_BURST_MS: limits.cpuBurstMs,
        CPU_MS_PER_SECOND: limits.cpuMsPerSecond,
        MAX_STRIKES: limits.maxStrikes,
        STRIKE_DECAY_PER_SECOND: 1,
      }),
      events: new Bucket({ perSecond: limits.eventsPerSecond, burst: limits.eventBurst }),
    };
    if (nextConn > 0x7fffffff) nextConn = 1;
    conns.add(conn);
    stats.connections++;
    ws.on('error', () => {});
    ws.on('pong', () => { conn.alive = true; });
    ws.on('close', () => release(conn));
    ws.on('message', (data, isBinary) => {
      if (conn.gone) return;
      conn.alive = true;
      conn.lastFrame = Date.now();
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      stats.framesIn++;
      stats.bytesIn += buf.length;
      if (isBinary) {
        send(conn, ['NOTICE', 'invalid: frames are text']);
        return;
      }
      const why = conn.guard.admit(buf.length);
      if (why) { drop(conn, `rate-limited: ${why}`); return; }
      conn.inbox.push(buf);
      if (!conn.paused && (conn.guard.inboxFrames > limits.inboxFrames / 2 || conn.guard.inboxBytes > limits.inboxBytes / 2)) {
        conn.paused = true;
        ws._socket?.pause();
      }
      schedule(conn);
    });
    send(conn, ['AUTH', conn.challenge]);
  }

  // --- NIP-11 ------------------------------------------------------------------------
  const info = () => ({
    name,
    description,
    ...(contact ? { contact } : {}),
    software: 'hiroba',
    version: '0.1.0',
    supported_nips: [1, 9, 11, 42, 45, 77],
    limitation: {
      max_message_length: limits.maxMessageLength,
      max_subscriptions: limits.maxSubscriptions,
      max_filters: limits.maxFilters,
      max_limit: limits.maxLimit,
      max_subid_length: limits.maxSubidLength,
      max_event_tags: 2000,
      max_content_length: 65536,
      auth_required: authRead,
      restricted_writes: authWrite || !!allowList,
      created_at_upper_limit: 900,
      // Not in NIP-11's list; the same figures the README states.
      max_events_per_second: limits.eventsPerSecond,
      max_event_burst: limits.eventBurst,
      max_neg_sessions: limits.negSessions,
      max_neg_items: limits.negItems,
      max_connections_per_ip: limits.connectionsPerIp,
      idle_timeout_seconds: Math.round(limits.idleTimeoutMs / 1000),
    },
  });

  // GET of the relay's URL: NIP-11 for Accept: application/nostr+json, a
  // short page otherwise.
  function handleInfo(req, res) {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-headers': '*',
      'access-control-allow-methods': 'GET, HEAD, OPTIONS',
    };
    if (req.method === 'OPTIONS') { res.writeHead(204, cors); res.end(); return; }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD, OPTIONS', ...cors });
      res.end();
      return;
    }
    if (/application\/nostr\+json/.test(req.headers.accept ?? '')) {
      const body = JSON.stringify(info());
      res.writeHead(200, { 'content-type': 'application/nostr+json', 'cache-control': 'no-cache', ...cors });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', ...cors });
    res.end(req.method === 'HEAD' ? undefined : `${name}: a Nostr relay. Connect a Nostr client over WebSocket to this URL.\n`);
  }

  return {
    limits,
    feed,
    info,
    handleUpgrade,
    handleInfo,
    stats: () => ({ ...stats, open: conns.size, waiting: ready.length }),
    // Closes every connection (1001), then the database.
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(heartbeat);
      clearTimeout(wakeTimer);
      const gone = [...conns].map((c) => new Promise((resolve) => {
        if (c.ws.readyState === c.ws.CLOSED) { resolve(); return; }
        c.ws.once('close', resolve);
        c.ws.close(1001, 'relay shutting down');
        setTimeout(() => { c.ws.terminate(); resolve(); }, 1000).unref?.();
      }));
      await Promise.all(gone);
      for (const c of [...conns]) release(c);
      // Let a turn in progress finish before the database goes.
      while (pumping) await new Promise((r) => setTimeout(r, 5));
      await feed.close();
    },
  };
}

// Does the relay tag of an AUTH event name this relay? Its host (and
// port) must be the one the client connected to; scheme and path may
// differ (a proxy may terminate TLS or mount the relay elsewhere).
function sameRelay(url, host) {
  if (typeof url !== 'string' || !host) return false;
  try {
    return new URL(url).host.toLowerCase() === String(host).toLowerCase();
  } catch {
    return false;
  }
}
