// sync.js -- joinRoom(): the sync driver (DESIGN §3, §5). It finds peers
// through the signaling server, keeps a bounded pool of WebRTC connections
// to them, and keeps the feed in sync with each:
//
//   1. on connect, reconcile with Negentropy (NIP-77) over the authors we
//      follow plus ourselves, and fetch what we lack with REQ by ids, in
//      batches;
//   2. then hold a live REQ, so new events arrive as they are posted;
//   3. answer the peer's own REQs, NEG-OPENs and pushes through
//      feed.merge(), and forward new events to every peer whose live
//      subscription matches them -- which is how a post reaches a reader
//      through any peer that holds it, even while its author is offline;
//   4. push our own new events to every connected peer.
//
// Frames from one peer are merged in order; when several are waiting they
// go to the engine as one batch (one SQLite transaction).
//
// Subscription ids. Both sides are client and relay on one channel, and
// the engine keeps its subscriptions per database, not per peer. So the
// ids a peer chooses are namespaced per peer ("<link>|<id>") before they
// reach the engine and restored in the replies, and the ids we choose
// carry our pubkey's prefix, which is how a NEG-MSG answering our
// reconciliation is told from one in a reconciliation the peer started.

import { Emitter } from './emitter.js';
import { ConnectionPool } from './pool.js';
import { Peer } from './peer.js';
import { SignalClient } from './signal-client.js';

const FETCH_BATCH = 500;   // ids per REQ when fetching what we lack
const MERGE_BATCH = 256;   // frames per engine call
const LIVE_SUB = 'live';

// Does event match a NIP-01 filter? (For live subscriptions; stored
// events are matched by the engine.)
export function matchFilter(filter, event) {
  if (!filter || typeof filter !== 'object') return false;
  for (const [key, value] of Object.entries(filter)) {
    if (key === 'ids') { if (!value.includes(event.id)) return false; }
    else if (key === 'authors') { if (!value.includes(event.pubkey)) return false; }
    else if (key === 'kinds') { if (!value.includes(event.kind)) return false; }
    else if (key === 'since') { if (event.created_at < value) return false; }
    else if (key === 'until') { if (event.created_at > value) return false; }
    else if (key === 'limit') { /* applies to stored events only */ }
    else if (key.length === 2 && key[0] === '#') {
      const values = new Set(event.tags.filter((t) => t[0] === key[1]).map((t) => t[1]));
      if (!Array.isArray(value) || !value.some((v) => values.has(v))) return false;
    } else return false;
  }
  return true;
}

// Per-peer sync state.
let nextLinkId = 1;

class Link {
  constructor(peer) {
    this.peer = peer;
    this.ns = `${nextLinkId++}|`; // namespace of the peer's subscription ids
    this.inbox = [];          // frame texts waiting to be merged
    this.merging = false;
    this.live = new Map();    // their subscription id -> filters
    this.negSub = null;       // our reconciliation's subscription id
    this.fetching = new Set(); // our fetch subscription ids awaiting EOSE
    this.requested = new Set(); // ids asked for on this connection
    this.have = 0;            // ids we hold that they lack (last reconciliation)
    this.need = 0;            // ids they hold that we lack
    this.received = 0;        // events accepted from them
    this.reconciled = false;
    this.done = false;        // reconciliation and fetches finished
  }
}

export async function joinRoom(feed, {
  signalUrl, room, poolSize = 8, turnUrl, idleMs,
  RTCPeerConnection = globalThis.RTCPeerConnection, WebSocket = globalThis.WebSocket,
  iceTransportPolicy = 'all', fetch: fetchImpl = globalThis.fetch,
} = {}) {
  if (typeof RTCPeerConnection !== 'function') throw new Error('hiroba: this environment lacks WebRTC (RTCPeerConnection)');
  const { pubkey: self } = await feed.identity();
  const events = new Emitter();
  const links = new Map(); // pubkey -> Link
  let follows = new Set(await feed.following());
  let left = false;
  let nextSub = 1;
  const mine = `${self.slice(0, 8)}:`; // prefix of the subscription ids we choose
  const closedBytes = { sent: 0, received: 0 }; // of connections gone

  let iceServers = [];
  if (turnUrl) {
    try {
      const response = await fetchImpl(turnUrl);
      if (!response.ok) throw new Error(`GET ${turnUrl}: ${response.status}`);
      iceServers = (await response.json()).iceServers ?? [];
    } catch (err) {
      // Direct connections may still work: say so and go on without TURN.
      queueMicrotask(() => events._emit('error', new Error(`hiroba: no TURN credentials: ${err.message}`)));
    }
  }

  const signal = new SignalClient({
    url: signalUrl, room, pubkey: self, WebSocket,
    sign: (template) => feed.sign(template),
  });

  const send = (link, frame) => link.peer.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
    .catch((err) => events._emit('error', err));

  const progress = (link) => events._emit('sync', {
    peer: link.peer.pubkey, have: link.have, need: link.need,
    received: link.received, done: link.done,
  });

  const peerInfo = (peer) => ({ pubkey: peer.pubkey, state: peer.state, route: peer.route });

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
          }
        },
      });
      const link = new Link(peer);
      links.set(remote, link);
      events._emit('peer', peerInfo(peer));
      return peer;
    },
  });

  async function startSync(link) {
    follows = new Set(await feed.following());
    const authors = [self, ...follows];
    link.negSub = `${mine}n${nextSub++}`;
    link.reconciled = false;
    link.done = false;
    const open = await feed.negOpen(link.negSub, { authors });
    await send(link, open);
    progress(link);
  }

  function fetchIds(link, all) {
    // A continued reconciliation may name an id twice: ask once.
    const ids = all.filter((id) => !link.requested.has(id));
    for (const id of ids) link.requested.add(id);
    for (let i = 0; i < ids.length; i += FETCH_BATCH) {
      const sub = `${mine}f${nextSub++}`;
      link.fetching.add(sub);
      send(link, ['REQ', sub, { ids: ids.slice(i, i + FETCH_BATCH) }]);
    }
  }

  function maybeDone(link) {
    if (!link.reconciled || link.fetching.size || link.done) return;
    link.done = true;
    // From now on new events by the authors we follow come as they happen.
    const authors = [self, ...follows];
    send(link, ['REQ', LIVE_SUB, { authors, since: Math.floor(Date.now() / 1000) }]);
    progress(link);
  }

  // Notes what a frame from the peer means for the driver and puts the
  // peer's own subscription ids in its namespace. Returns the frame text
  // for the engine.
  function inbound(link, text, frame) {
    if (!Array.isArray(frame) || typeof frame[1] !== 'string') return text;
    const [type, sub] = frame;
    const ours = sub.startsWith(mine);
    if (type === 'REQ') link.live.set(sub, frame.slice(2));
    else if (type === 'CLOSE') link.live.delete(sub);
    else if (type === 'EOSE' && link.fetching.delete(sub)) {
      send(link, ['CLOSE', sub]);
      queueMicrotask(() => maybeDone(link));
    }
    const theirs = type === 'REQ' || type === 'CLOSE' || type === 'NEG-OPEN' || type === 'NEG-CLOSE' ||
      ((type === 'NEG-MSG' || type === 'NEG-ERR') && !ours);
    if (!theirs) return text;
    const copy = frame.slice();
    copy[1] = link.ns + sub;
    return JSON.stringify(copy);
  }

  // Restores the peer's subscription id in a reply bound for it.
  function outbound(link, reply) {
    if (Array.isArray(reply) && typeof reply[1] === 'string' && reply[1].startsWith(link.ns)) {
      const copy = reply.slice();
      copy[1] = reply[1].slice(link.ns.length);
      return copy;
    }
    return reply;
  }

  function receive(link, text) {
    pool.touch(link.peer.pubkey);
    link.inbox.push(text);
    if (!link.merging) drain(link);
  }

  async function drain(link) {
    link.merging = true;
    try {
      while (link.inbox.length && !left) {
        const raw = link.inbox.splice(0, MERGE_BATCH);
        const frames = raw.map((t) => { try { return JSON.parse(t); } catch { return null; } });
        const texts = raw.map((t, i) => inbound(link, t, frames[i]));
        let results;
        if (texts.length === 1 || frames.some((f) => !Array.isArray(f))) {
          results = [];
          for (const t of texts) results.push(await feed.merge(t));
        } else {
          const batch = await feed.merge(`[${texts.join(',')}]`);
          // One frame the engine reads more strictly than JSON.parse spoils
          // the batch text: then every frame goes alone, to get its answer.
          const spoiled = batch.accepted.length === 0 && batch.rejected.length === 1 &&
            batch.rejected[0].id === null && batch.replies.length === 1 && batch.replies[0][0] === 'NOTICE';
          results = spoiled ? [] : [batch];
          if (spoiled) for (const t of texts) results.push(await feed.merge(t));
        }
        for (const result of results) await apply(link, result);
      }
    } catch (err) {
      events._emit('error', err);
    } finally {
      link.merging = false;
    }
  }

  async function apply(link, result) {
    link.received += result.accepted.length;
    for (const reply of result.replies) {
      if (reply[0] === 'NEG-CLOSE' && reply[1] === link.negSub) link.reconciled = true;
      send(link, outbound(link, reply));
    }
    if (result.have?.length) link.have += result.have.length;
    if (result.need?.length) {
      link.need += result.need.length;
      fetchIds(link, result.need);
    }
    if (result.accepted.length || result.need?.length || link.reconciled) progress(link);
    maybeDone(link);
  }

  // New events, from anywhere: ours go to every peer; every event goes to
  // the peers whose live subscriptions match it.
  const onEvent = (event) => {
    if (event.kind === 3 && event.pubkey === self) follows = new Set(event.tags.filter((t) => t[0] === 'p').map((t) => t[1]));
    for (const link of links.values()) {
      if (link.peer.state !== 'open') continue;
      let sent = false;
      for (const [sub, filters] of link.live) {
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
    if (left || pk === self) return;
    if (pool.has(pk)) {
      pool.get(pk).signalingBack();
      return;
    }
    // Beyond capacity, only authors we follow displace others.
    if (pool.size >= poolSize && !follows.has(pk)) return;
    pool.acquire(pk);
  };

  signal.on('signal', ({ from, data }) => {
    if (left || from === self) return;
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
    // Bytes on the data channels (chunk headers included), all peers so far.
    stats() {
      let bytesSent = closedBytes.sent;
      let bytesReceived = closedBytes.received;
      for (const link of links.values()) {
        bytesSent += link.peer.framed.bytesSent;
        bytesReceived += link.peer.framed.bytesReceived;
      }
      return { bytesSent, bytesReceived };
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
      feed.off('event', onEvent);
      pool.close();
      signal.close();
    },
  };
}
