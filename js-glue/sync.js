// sync.js -- joinRoom(): the sync driver (DESIGN §3, §5). It finds peers
// through the signaling server, keeps a bounded pool of WebRTC connections
// to them, and keeps the feed in sync with each:
//
//   1. on connect, reconcile with Negentropy (NIP-77) over the authors we
//      follow plus ourselves, and fetch what we lack with REQ by ids, in
//      batches;
//   2. then hold a live REQ, so new events arrive as they are posted;
//   3. answer the peer's own REQs, NEG-OPENs and pushes through
//      feed.mergeBatch(), and forward new events to every peer whose live
//      subscription matches them -- which is how a post reaches a reader
//      through any peer that holds it, even while its author is offline;
//   4. push our own new events to every connected peer.
//
// Frames from one peer are merged in order; when several are waiting they
// go to the engine as one batch (one SQLite transaction, one result per
// frame). Each peer connection is its own engine connection (a random
// number): its NIP-77 sessions are its own, and closing it frees them.
// The ids we choose (reconciliation, fetches, live REQ) are random, so a
// peer cannot name, guess or close another's.
//
// What a peer may make us spend is bounded (peer-guard.js): frames
// waiting, live subscriptions, engine time, answers waiting to be sent;
// one that keeps sending invalid data is dropped and kept away a while.
//
// Fetching is recovered: an id we lack stays wanted until an answer for
// it was merged (stored, or refused for a reason). Ids a fetch did not
// bring -- a storage error, an answer cut at its byte budget -- are asked
// again after a back-off, and the peer counts as synced ("done") only
// when nothing is wanted. An id the peer advertised but never delivers is
// given up after GIVE_UP_ROUNDS answers without it (a storage error does
// not count as its fault).

import { Emitter } from './emitter.js';
import { ConnectionPool } from './pool.js';
import { Peer } from './peer.js';
import { LIMITS, PeerGuard, matchFilter } from './peer-guard.js';
import { SignalClient } from './signal-client.js';
import { fetchIceServers } from './turn-client.js';

export { matchFilter };

const FETCH_BATCH = 500;   // ids per REQ when fetching what we lack
const MERGE_BATCH = 256;   // frames per engine call
const RETRY_MS = 2000;     // first back-off before asking again for what is missing
const RETRY_MAX_MS = 60_000;
const GIVE_UP_ROUNDS = 3;
// A reconciliation may teach at most MAX_WANTED ids at a time (what is
// left over is learned by reconciling again once they are fetched, at most
// MAX_RESYNCS times per connection), and take at most MAX_NEG_ROUNDS
// rounds: a peer that claims endless ids, or never converges, cannot grow
// our memory without bound.
const MAX_WANTED = 50_000;
const MAX_RESYNCS = 20;
const MAX_NEG_ROUNDS = 500;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const clock = () => (globalThis.performance ?? Date).now();

// A random subscription id: what we open cannot be guessed by a peer.
function randomSub(kind) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return kind + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// A random engine connection number (1 .. 2^31-1): tabs sharing one
// database never pick the same.
function randomConn() {
  return (crypto.getRandomValues(new Uint32Array(1))[0] >>> 1) || 1;
}

// Per-peer sync state.
class Link {
  constructor(peer, limits) {
    this.peer = peer;
    this.conn = randomConn();
    this.guard = new PeerGuard(limits);
    this.inbox = [];          // frame texts waiting to be merged
    this.merging = false;
    this.dropped = false;
    this.live = new Map();    // their subscription id -> { filters, bytes }
    this.liveBytes = 0;
    this.negSub = null;       // our reconciliation's subscription id
    this.wanted = new Map();  // id we lack -> answers that did not bring it
    this.toFetch = [];        // wanted ids not asked for yet
    this.fetching = new Map(); // our fetch subscription id -> ids asked
    this.storageFailed = new Set(); // ids whose answer we failed to store
    this.retryTimer = null;
    this.retryMs = RETRY_MS;
    this.have = 0;            // ids we hold that they lack (last reconciliation)
    this.need = 0;            // ids they hold that we lack
    this.received = 0;        // events accepted from them
    this.unavailable = 0;     // advertised ids they never delivered
    this.reconciled = false;
    this.done = false;        // reconciliation and fetches finished
    this.negRounds = 0;       // NEG-MSG rounds of the current reconciliation
    this.overflow = false;    // ids were left out at MAX_WANTED: reconcile again
    this.resyncs = 0;         // reconciliations started for that reason
    this.lastError = 0;       // when a storage error was last reported
  }
}

export async function joinRoom(feed, {
  signalUrl, room, poolSize = 8, turnUrl, idleMs,
  RTCPeerConnection = globalThis.RTCPeerConnection, WebSocket = globalThis.WebSocket,
  iceTransportPolicy = 'all', fetch: fetchImpl = globalThis.fetch, limits: limitOverrides,
} = {}) {
  if (typeof RTCPeerConnection !== 'function') throw new Error('hiroba: this environment lacks WebRTC (RTCPeerConnection)');
  const limits = Object.freeze({ ...LIMITS, ...limitOverrides });
  const { pubkey: self } = await feed.identity();
  const events = new Emitter();
  const links = new Map(); // pubkey -> Link
  const banned = new Map(); // pubkey -> until (ms since epoch)
  let dropped = 0;          // peers dropped for misbehaving
  let follows = new Set(await feed.following());
  let left = false;
  const closedBytes = { sent: 0, received: 0 }; // of connections gone

  // TURN credentials are short-lived (NIP-98-authenticated GET /turn):
  // fetched at join and again before they expire, for the connections
  // made after that.
  let iceServers = [];
  let turnTimer = null;
  const fetchTurn = async () => {
    try {
      const got = await fetchIceServers({ url: turnUrl, sign: (template) => feed.sign(template), fetch: fetchImpl });
      iceServers = got.iceServers;
      const refreshIn = Math.max(10_000, (got.expiresAt - Date.now()) * 0.8);
      if (!left) {
        turnTimer = setTimeout(fetchTurn, refreshIn);
        turnTimer.unref?.();
      }
    } catch (err) {
      // Direct connections may still work: say so and go on without TURN.
      queueMicrotask(() => events._emit('error', new Error(`hiroba: no TURN credentials: ${err.message}`)));
    }
  };
  if (turnUrl) await fetchTurn();

  const signal = new SignalClient({
    url: signalUrl, room, pubkey: self, WebSocket,
    sign: (template) => feed.sign(template),
  });

  const send = (link, frame) => {
    if (link.peer.state !== 'open' && link.peer.state !== 'connecting') return Promise.resolve();
    return link.peer.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
      .catch((err) => { if (!link.dropped && link.peer.state === 'open') events._emit('error', err); });
  };

  const progress = (link) => events._emit('sync', {
    peer: link.peer.pubkey, have: link.have, need: link.need,
    received: link.received, missing: link.wanted.size, done: link.done,
  });

  const peerInfo = (peer) => ({ pubkey: peer.pubkey, state: peer.state, route: peer.route });

  const isBanned = (pk) => {
    const until = banned.get(pk);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    banned.delete(pk);
    return false;
  };

  const pool = new ConnectionPool({
    capacity: poolSize,
    idleMs: idleMs ?? Infinity,
    isPreferred: (pk) => follows.has(pk),
    connect(remote) {
      const peer = new Peer({
        remote, self, RTCPeerConnection, iceServers, iceTransportPolicy,
        signal: (data) => signal.signal(remote, data),
        onFrame: (text) => receive(link, text),
        onError: (err) => events._emit('error', err),
        onState: (state) => {
          events._emit('peer', peerInfo(peer));
          if (state === 'open') startSync(link);
          if (state === 'closed') {
            closedBytes.sent += peer.framed.bytesSent;
            closedBytes.received += peer.framed.bytesReceived;
            pool.closed(peer);
            if (links.get(remote) === link) links.delete(remote);
            forget(link);
          }
        },
      });
      const link = new Link(peer, limits);
      links.set(remote, link);
      events._emit('peer', peerInfo(peer));
      return peer;
    },
  });

  // A closed connection's state goes: timers, inbox, engine sessions.
  function forget(link) {
    clearTimeout(link.retryTimer);
    link.guard.taken(link.guard.inboxFrames, link.guard.inboxBytes);
    link.inbox.length = 0;
    feed.connClose(link.conn).catch(() => {});
  }

  // Drops a misbehaving peer and keeps it away for a while.
  function drop(link, why) {
    if (link.dropped) return;
    link.dropped = true;
    const pk = link.peer.pubkey;
    banned.set(pk, Date.now() + limits.BAN_MS);
    dropped++;
    events._emit('error', Object.assign(new Error(`hiroba: dropped peer ${pk.slice(0, 8)}…: ${why}`),
      { code: 'peer-dropped', peer: pk, reason: why }));
    link.peer.close();
  }

  async function startSync(link) {
    follows = new Set(await feed.following());
    const authors = [self, ...follows];
    link.negSub = randomSub('n');
    link.reconciled = false;
    link.done = false;
    link.negRounds = 0;
    try {
      const open = await feed.negOpen(link.negSub, { authors }, link.conn);
      await send(link, open);
    } catch (err) {
      events._emit('error', err);
    }
    progress(link);
  }

  // Asks for queued ids, at most FETCH_IN_FLIGHT REQs at a time, so the
  // answers we invite stay within the peer's inbox budget on our side.
  function pumpFetch(link) {
    while (link.fetching.size < limits.FETCH_IN_FLIGHT && link.toFetch.length) {
      const ids = link.toFetch.splice(0, FETCH_BATCH).filter((id) => link.wanted.has(id));
      if (!ids.length) continue;
      const sub = randomSub('f');
      link.fetching.set(sub, { ids: new Set(ids), brought: 0 });
      send(link, ['REQ', sub, { ids }]);
    }
  }

  function want(link, ids) {
    for (const id of ids) {
      // A continued reconciliation may name an id twice: ask once.
      if (link.wanted.has(id)) continue;
      if (link.wanted.size >= MAX_WANTED) { link.overflow = true; break; }
      link.wanted.set(id, 0);
      link.toFetch.push(id);
    }
    pumpFetch(link);
  }

  // A fetch ended (EOSE): what it did not bring is asked again later.
  function fetchDone(link, sub) {
    const { ids, brought } = link.fetching.get(sub);
    link.fetching.delete(sub);
    send(link, ['CLOSE', sub]);
    const again = [];
    for (const id of ids) {
      if (!link.wanted.has(id)) continue;
      if (link.storageFailed.delete(id)) continue; // ours to retry, not their fault
      // An answer that brought some of its ids was cut at its byte budget:
      // the rest is asked again at once, no fault of the peer's.
      if (brought) { again.push(id); continue; }
      const misses = link.wanted.get(id) + 1;
      if (misses >= GIVE_UP_ROUNDS) {
        link.wanted.delete(id);
        link.unavailable++;
      } else {
        link.wanted.set(id, misses);
      }
    }
    link.toFetch.unshift(...again);
    pumpFetch(link);
    if (!link.fetching.size && !link.toFetch.length && link.wanted.size) scheduleRetry(link);
    maybeDone(link);
  }

  function scheduleRetry(link) {
    if (link.retryTimer || left) return;
    link.retryTimer = setTimeout(() => {
      link.retryTimer = null;
      if (left || link.peer.state !== 'open') return;
      link.toFetch = [...link.wanted.keys()];
      pumpFetch(link);
    }, link.retryMs);
    link.retryTimer.unref?.();
    link.retryMs = Math.min(RETRY_MAX_MS, link.retryMs * 2);
  }

  function maybeDone(link) {
    if (!link.reconciled || link.fetching.size || link.toFetch.length || link.wanted.size || link.done) return;
    if (link.overflow && link.resyncs < MAX_RESYNCS) {
      link.overflow = false;
      link.resyncs++;
      startSync(link);
      return;
    }
    link.done = true;
    link.retryMs = RETRY_MS;
    // From now on new events by the authors we follow come as they happen.
    const authors = [self, ...follows];
    send(link, ['REQ', randomSub('l'), { authors, since: Math.floor(Date.now() / 1000) }]);
    progress(link);
  }

  function receive(link, text) {
    if (link.dropped) return;
    pool.touch(link.peer.pubkey);
    const why = link.guard.admit(text.length);
    if (why) return drop(link, why);
    link.inbox.push(text);
    if (!link.merging) drain(link);
  }

  // Merges the inbox in batches. Waits while our answers to this peer are
  // not being read, or while it is over its CPU budget: others go on.
  async function drain(link) {
    link.merging = true;
    try {
      while (link.inbox.length && !left && !link.dropped) {
        while ((link.peer.framed?.queued ?? 0) > limits.SEND_HIGH && link.peer.state === 'open') await sleep(20);
        const wait = link.guard.cpuWait();
        if (wait) await sleep(wait);
        if (link.dropped || link.peer.state === 'closed') break;
        const texts = link.inbox.slice(0, MERGE_BATCH);
        const started = clock();
        let results;
        try {
          results = await feed.mergeBatch(link.conn, texts, limits.MERGE_BUDGET);
        } catch (err) {
          // The engine failed (storage full, I/O): nothing of the batch
          // was kept. Each frame alone, to keep what can be kept. Said at
          // most once a second per peer: a full disk fails every frame.
          if (Date.now() - link.lastError > 1000) {
            link.lastError = Date.now();
            events._emit('error', err);
          }
          results = [];
          for (const text of texts) {
            try {
              results.push((await feed.mergeBatch(link.conn, [text], limits.MERGE_BUDGET))[0]);
            } catch (failure) {
              results.push({ failed: failure });
            }
          }
        }
        link.guard.spent(clock() - started);
        if (link.dropped) break;
        const consumed = results.length;
        let bytes = 0;
        for (let i = 0; i < consumed; i++) bytes += texts[i].length;
        link.inbox.splice(0, consumed);
        link.guard.taken(consumed, bytes);
        for (let i = 0; i < consumed && !link.dropped; i++) apply(link, texts[i], results[i]);
      }
    } catch (err) {
      events._emit('error', err);
    } finally {
      link.merging = false;
    }
  }

  function parse(text) {
    try { return JSON.parse(text); } catch { return null; }
  }

  // What a merged frame means for the driver.
  function apply(link, text, result) {
    const frame = parse(text);
    const type = Array.isArray(frame) ? frame[0] : null;
    const sub = Array.isArray(frame) && typeof frame[1] === 'string' ? frame[1] : null;
    if (result.failed) {
      if (type === 'EVENT' && sub && link.fetching.has(sub) && typeof frame[2]?.id === 'string') {
        link.storageFailed.add(frame[2].id);
      }
      return;
    }
    const invalid = result.rejected.filter((r) => typeof r.reason === 'string' && r.reason.startsWith('invalid:')).length;
    if (invalid && link.guard.strike(invalid)) {
      drop(link, `${link.guard.invalid} invalid frames or events`);
      return;
    }
    link.received += result.accepted.length;
    if (type === 'NEG-MSG' && sub === link.negSub && !link.reconciled && ++link.negRounds > MAX_NEG_ROUNDS) {
      send(link, ['NEG-CLOSE', sub]);
      drop(link, `reconciliation did not converge in ${MAX_NEG_ROUNDS} rounds`);
      return;
    }
    for (const reply of result.replies) {
      if (reply[0] === 'NEG-CLOSE' && reply[1] === link.negSub) link.reconciled = true;
      send(link, reply);
    }
    if (type === 'REQ' && sub) {
      unlive(link, sub);
      if (result.replies.some((r) => r[0] === 'EOSE' && r[1] === sub)) live(link, sub, frame.slice(2), text.length);
    } else if (type === 'CLOSE' && sub) {
      unlive(link, sub);
    } else if (type === 'NEG-ERR' && sub === link.negSub && !link.reconciled) {
      // The peer will not reconcile with us: take what we learned.
      link.reconciled = true;
      events._emit('error', new Error(`hiroba: peer ${link.peer.pubkey.slice(0, 8)}… ended reconciliation: ${String(frame[2]).slice(0, 200)}`));
    } else if (type === 'EVENT' && sub && link.fetching.has(sub) && typeof frame[2]?.id === 'string') {
      if (link.wanted.delete(frame[2].id)) {
        link.retryMs = RETRY_MS;
        link.fetching.get(sub).brought++;
      }
    } else if (type === 'EOSE' && sub && link.fetching.has(sub)) {
      fetchDone(link, sub);
    }
    if (result.have?.length) link.have += result.have.length;
    if (result.need?.length) {
      link.need += result.need.length;
      want(link, result.need);
    }
    if (result.accepted.length || result.need?.length || link.reconciled) progress(link);
    maybeDone(link);
  }

  // A live subscription of the peer, kept within its caps (the engine has
  // checked the filters: it answered EOSE).
  function live(link, sub, filters, bytes) {
    if (link.live.size >= limits.LIVE_SUBS || link.liveBytes + bytes > limits.LIVE_FILTER_BYTES) {
      send(link, ['CLOSED', sub, `blocked: at most ${limits.LIVE_SUBS} live subscriptions and ${limits.LIVE_FILTER_BYTES} bytes of filters per peer`]);
      return;
    }
    link.live.set(sub, { filters, bytes });
    link.liveBytes += bytes;
  }

  function unlive(link, sub) {
    const held = link.live.get(sub);
    if (!held) return;
    link.live.delete(sub);
    link.liveBytes -= held.bytes;
  }

  // New events, from anywhere: ours go to every peer; every event goes to
  // the peers whose live subscriptions match it.
  const onEvent = (event) => {
    if (event.kind === 3 && event.pubkey === self) follows = new Set(event.tags.filter((t) => t[0] === 'p').map((t) => t[1]));
    for (const link of links.values()) {
      if (link.peer.state !== 'open' || link.dropped) continue;
      let sent = false;
      for (const [sub, { filters }] of link.live) {
        if (filters.some((f) => matchFilter(f, event))) {
          send(link, ['EVENT', sub, event]);
          sent = true;
          break;
        }
      }
      if (!sent && event.pubkey === self) send(link, ['EVENT', event]);
    }
  };
  feed.on('event', onEvent);

  const connectTo = (pk) => {
    if (left || pk === self || isBanned(pk)) return;
    if (pool.has(pk)) {
      pool.get(pk).signalingBack();
      return;
    }
    // Beyond capacity, only authors we follow displace others.
    if (pool.size >= poolSize && !follows.has(pk)) return;
    pool.acquire(pk);
  };

  signal.on('signal', ({ from, data }) => {
    if (left || from === self || isBanned(from)) return;
    if (!pool.has(from)) {
      // A full pool takes newcomers only for authors we follow; others'
      // offers go unanswered and their side gives up.
      if (pool.size >= poolSize && !follows.has(from)) return;
      pool.acquire(from);
    }
    pool.get(from)?.receive(data);
  });
  signal.on('join', connectTo);
  signal.on('peers', (list) => list.forEach(connectTo));
  // The WebRTC connection may outlive signaling (peer.js decides).
  signal.on('leave', (pk) => links.get(pk)?.peer.signalingGone());
  signal.on('error', (err) => events._emit('error', err));

  await signal.connect();

  return {
    get peers() {
      return [...links.values()].map((l) => peerInfo(l.peer));
    },
    // Bytes on the data channels (chunk headers included), all peers so
    // far; peers dropped for misbehaving and those still kept away; and
    // per connected peer what it costs us.
    stats() {
      let bytesSent = closedBytes.sent;
      let bytesReceived = closedBytes.received;
      const peers = [];
      for (const link of links.values()) {
        bytesSent += link.peer.framed.bytesSent;
        bytesReceived += link.peer.framed.bytesReceived;
        peers.push({
          pubkey: link.peer.pubkey, inboxFrames: link.guard.inboxFrames, inboxBytes: link.guard.inboxBytes,
          liveSubs: link.live.size, invalid: link.guard.invalid, cpuMs: Math.round(link.guard.cpuMs),
          missing: link.wanted.size, unavailable: link.unavailable, done: link.done,
        });
      }
      const now = Date.now();
      const bannedNow = [...banned].filter(([, until]) => until > now).map(([pk]) => pk);
      return { bytesSent, bytesReceived, dropped, banned: bannedNow, peers };
    },
    on(name, fn) { events.on(name, fn); return this; },
    off(name, fn) { events.off(name, fn); return this; },
    // Reconciles again with every connected peer (e.g. after following).
    resync() {
      for (const link of links.values()) if (link.peer.state === 'open') startSync(link);
    },
    leave() {
      if (left) return;
      left = true;
      clearTimeout(turnTimer);
      feed.off('event', onEvent);
      pool.close();
      signal.close();
    },
  };
}
