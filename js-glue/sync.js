// sync.js -- joinRoom(): peers in a room (DESIGN §3, §5). It finds peers
// through the signaling server, keeps a bounded pool of WebRTC connections
// to them, and hands each open DataChannel to a SyncLink (sync-link.js),
// which keeps the feed in sync with that peer: reconcile (NIP-77), fetch
// what we lack, hold a live REQ, answer the peer's REQs and NEG-OPENs,
// forward new events to its live subscriptions and push ours. That is how
// a post reaches a reader through any peer that holds it, even while its
// author is offline.
//
// What happens on each connection -- the SyncLink, the budgets, dropping
// a misbehaving peer -- is peer-sync.js, shared with pairing (pair.js).

import { ConnectionPool } from './pool.js';
import { Peer } from './peer.js';
import { matchFilter } from './peer-guard.js';
import { createPeerSync } from './peer-sync.js';
import { SignalClient } from './signal-client.js';
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
  iceTransportPolicy = 'all', fetch: fetchImpl = globalThis.fetch, limits,
} = {}) {
  if (typeof RTCPeerConnection !== 'function') throw new Error('hiroba: this environment lacks WebRTC (RTCPeerConnection)');
  const hub = await createPeerSync(feed, { limits });
  const { self, events } = hub;
  let left = false;

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

  const pool = new ConnectionPool({
    capacity: poolSize,
    idleMs: idleMs ?? Infinity,
    isPreferred: (pk) => hub.isFollowed(pk),
    connect(remote) {
      const peer = new Peer({
        remote, self, RTCPeerConnection, iceServers, iceTransportPolicy,
        signal: (data) => signal.signal(remote, data),
      });
      hub.attach(peer, { onFrame: () => pool.touch(remote), onClosed: (p) => pool.closed(p) });
      return peer;
    },
  });

  const connectTo = (pk) => {
    if (left || pk === self || hub.isBanned(pk)) return;
    if (pool.has(pk)) {
      pool.get(pk).signalingBack();
      return;
    }
    // Beyond capacity, only authors we follow displace others.
    if (pool.size >= poolSize && !hub.isFollowed(pk)) return;
    pool.acquire(pk);
  };

  signal.on('signal', ({ from, data }) => {
    if (left || from === self || hub.isBanned(from)) return;
    if (!pool.has(from)) {
      // A full pool takes newcomers only for authors we follow; others'
      // offers go unanswered and their side gives up.
      if (pool.size >= poolSize && !hub.isFollowed(from)) return;
      pool.acquire(from);
    }
    pool.get(from)?.receive(data);
  });
  signal.on('join', connectTo);
  signal.on('peers', (list) => list.forEach(connectTo));
  // The WebRTC connection may outlive signaling (peer.js decides).
  signal.on('leave', (pk) => hub.get(pk)?.signalingGone());
  signal.on('error', (err) => events._emit('error', err));

  await signal.connect();

  return {
    /** The connected peers: { pubkey, state, route }. */
    get peers() {
      return hub.peers;
    },
    /**
     * Bytes on the data channels (chunk headers included), all peers so
     * far; peers dropped for misbehaving and those still kept away; and
     * per connected peer what it costs us.
     */
    stats() {
      return hub.stats();
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
      hub.resync();
    },
    /** Disconnects for good and stops syncing. */
    leave() {
      if (left) return;
      left = true;
      clearTimeout(turnTimer);
      hub.close();
      pool.close();
      signal.close();
    },
  };
}
