// sync.js -- joinRoom(): peers in a room (DESIGN §3, §5). It finds peers
// through the signaling server, keeps a bounded pool of WebRTC connections
// to them, and hands each open DataChannel to a SyncLink (sync-link.js),
// which keeps the feed in sync with that peer: reconcile (NIP-77), fetch
// what we lack, hold a live REQ, answer the peer's REQs and NEG-OPENs,
// forward new events to its live subscriptions and push ours. That is how
// a post reaches a reader through any peer that holds it, even while its
// author is offline.
//
// What a peer may make us spend is bounded (peer-guard.js, per link); one
// that keeps sending invalid data is dropped and its pubkey kept away a
// while (BAN_MS).

import { Emitter } from './emitter.js';
import { ConnectionPool } from './pool.js';
import { Peer } from './peer.js';
import { LIMITS, matchFilter } from './peer-guard.js';
import { SignalClient } from './signal-client.js';
import { SyncLink } from './sync-link.js';
import { fetchIceServers } from './turn-client.js';

export { matchFilter };

/**
 * Joins a room: finds its peers through the signaling server (signalUrl),
 * keeps at most poolSize WebRTC connections (least recently used goes),
 * and keeps the feed in sync with each. Node passes RTCPeerConnection and
 * WebSocket. -> the room: peers, stats(), on('peer' | 'sync' | 'error'),
 * resync(), leave().
 * @param {import('./feed.js').Feed} feed
 * @param {{ signalUrl: string, room: string, poolSize?: number, turnUrl?: string, idleMs?: number }} options
 */
export async function joinRoom(feed, {
  signalUrl, room, poolSize = 8, turnUrl, idleMs,
  RTCPeerConnection = globalThis.RTCPeerConnection, WebSocket = globalThis.WebSocket,
  iceTransportPolicy = 'all', fetch: fetchImpl = globalThis.fetch, limits: limitOverrides,
} = {}) {
  if (typeof RTCPeerConnection !== 'function') throw new Error('hiroba: this environment lacks WebRTC (RTCPeerConnection)');
  const limits = Object.freeze({ ...LIMITS, ...limitOverrides });
  const { pubkey: self } = await feed.identity();
  const events = new Emitter();
  const links = new Map(); // pubkey -> { peer, link }
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
      let link = null;
      const peer = new Peer({
        remote, self, RTCPeerConnection, iceServers, iceTransportPolicy,
        signal: (data) => signal.signal(remote, data),
        onFrame: (text) => {
          pool.touch(remote);
          link.receive(text);
        },
        onError: (err) => events._emit('error', err),
        onState: (state) => {
          events._emit('peer', peerInfo(peer));
          if (state === 'open') startSync(link);
          if (state === 'closed') {
            closedBytes.sent += peer.framed.bytesSent;
            closedBytes.received += peer.framed.bytesReceived;
            pool.closed(peer);
            if (links.get(remote)?.link === link) links.delete(remote);
            link.close();
          }
        },
      });
      link = new SyncLink({
        feed, self, limits, kind: 'peer',
        follows: () => follows,
        transport: {
          label: `peer ${remote.slice(0, 8)}…`,
          send: (text) => peer.send(text),
          queued: () => peer.framed?.queued ?? 0,
          isOpen: () => peer.state === 'open' || peer.state === 'connecting',
        },
        hooks: {
          progress: (info) => events._emit('sync', { peer: remote, ...info }),
          error: (err) => events._emit('error', err),
          drop: (why) => drop(peer, why),
        },
      });
      links.set(remote, { peer, link });
      events._emit('peer', peerInfo(peer));
      return peer;
    },
  });

  // Drops a misbehaving peer and keeps it away for a while.
  function drop(peer, why) {
    const pk = peer.pubkey;
    banned.set(pk, Date.now() + limits.BAN_MS);
    dropped++;
    events._emit('error', Object.assign(new Error(`hiroba: dropped peer ${pk.slice(0, 8)}…: ${why}`),
      { code: 'peer-dropped', peer: pk, reason: why }));
    peer.close();
  }

  async function startSync(link) {
    follows = new Set(await feed.following());
    await link.start();
  }

  // New events, from anywhere: to every open peer's link.
  const onEvent = (event) => {
    if (event.kind === 3 && event.pubkey === self) follows = new Set(event.tags.filter((t) => t[0] === 'p').map((t) => t[1]));
    for (const { peer, link } of links.values()) if (peer.state === 'open') link.onEvent(event);
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
    /** The connected peers: { pubkey, state, route }. */
    get peers() {
      return [...links.values()].map(({ peer }) => peerInfo(peer));
    },
    /**
     * Bytes on the data channels (chunk headers included), all peers so
     * far; peers dropped for misbehaving and those still kept away; and
     * per connected peer what it costs us.
     */
    stats() {
      let bytesSent = closedBytes.sent;
      let bytesReceived = closedBytes.received;
      const peers = [];
      for (const { peer, link } of links.values()) {
        bytesSent += peer.framed.bytesSent;
        bytesReceived += peer.framed.bytesReceived;
        peers.push({ pubkey: peer.pubkey, ...link.stats() });
      }
      const now = Date.now();
      const bannedNow = [...banned].filter(([, until]) => until > now).map(([pk]) => pk);
      return { bytesSent, bytesReceived, dropped, banned: bannedNow, peers };
    },
    /**
     * Listens to 'peer' (a peer's { pubkey, state, route } changed), 'sync' (a
     * peer's sync progress), 'error' (a peer dropped, no TURN, ...).
     */
    on(name, fn) { events.on(name, fn); return this; },
    /** Stops listening. */
    off(name, fn) { events.off(name, fn); return this; },
    /** Reconciles again with every connected peer (e.g. after following). */
    resync() {
      for (const { peer, link } of links.values()) if (peer.state === 'open') startSync(link);
    },
    /** Disconnects for good and stops syncing. */
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
