// peer-sync.js -- what every peer connection does once it exists, however
// it was made (joinRoom through a signaling server, or a pairing by
// copy/paste, pair.js): one SyncLink (sync-link.js) per Peer, the same
// budgets and guard, our new events pushed to every open peer, a peer
// that keeps sending invalid data dropped and kept away a while (BAN_MS),
// and the bytes and costs reported by stats().

import { Emitter } from './emitter.js';
import { LIMITS } from './peer-guard.js';
import { SyncLink } from './sync-link.js';

/**
 * -> the hub: attach(peer, hooks), get(pubkey), isBanned(pubkey),
 * isFollowed(pubkey), peers, stats(), resync(), close(), and its emitter
 * `events` ('peer', 'sync', 'error').
 */
export async function createPeerSync(feed, { limits: overrides } = {}) {
  const limits = Object.freeze({ ...LIMITS, ...overrides });
  const { pubkey: self } = await feed.identity();
  const events = new Emitter();
  const links = new Map();   // pubkey -> { peer, link }
  const banned = new Map();  // pubkey -> until (ms since epoch)
  let dropped = 0;           // peers dropped for misbehaving
  let follows = new Set(await feed.following());
  const closedBytes = { sent: 0, received: 0 }; // of connections gone

  const peerInfo = (peer) => ({ pubkey: peer.pubkey, state: peer.state, route: peer.route });

  // Drops a misbehaving peer and keeps it away for a while.
  function drop(peer, why) {
    const pk = peer.pubkey;
    banned.set(pk, Date.now() + limits.BAN_MS);
    dropped++;
    events._emit('error', Object.assign(new Error(`hiroba: dropped peer ${pk.slice(0, 8)}…: ${why}`),
      { code: 'peer-dropped', peer: pk, reason: why }));
    peer.close();
  }

  // Reported, not thrown: it runs on a connection's events.
  async function startSync(link) {
    try {
      follows = new Set(await feed.following());
      await link.start();
    } catch (err) {
      events._emit('error', err);
    }
  }

  // New events, from anywhere: to every open peer's link.
  const onEvent = (event) => {
    if (event.kind === 3 && event.pubkey === self) follows = new Set(event.tags.filter((t) => t[0] === 'p').map((t) => t[1]));
    for (const { peer, link } of links.values()) if (peer.state === 'open') link.onEvent(event);
  };
  feed.on('event', onEvent);

  return {
    self,
    limits,
    events,
    /**
     * Syncs the feed over a Peer (peer.js) whose remote pubkey is known:
     * its frames go to a new SyncLink, which starts when the channel
     * opens. hooks.onFrame() runs on every frame (the pool marks the
     * connection used), hooks.onClosed(peer) once it has closed.
     */
    attach(peer, { onFrame, onClosed } = {}) {
      const remote = peer.pubkey;
      let link = null;
      peer.onFrame = (text) => {
        onFrame?.();
        link.receive(text);
      };
      peer.onError = (err) => events._emit('error', err);
      peer.onState = (state) => {
        events._emit('peer', peerInfo(peer));
        if (state === 'open') startSync(link);
        if (state === 'closed') {
          closedBytes.sent += peer.framed.bytesSent;
          closedBytes.received += peer.framed.bytesReceived;
          onClosed?.(peer);
          if (links.get(remote)?.link === link) links.delete(remote);
          link.close();
        }
      };
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
      if (peer.state === 'open') startSync(link);
      return link;
    },
    get: (pk) => links.get(pk)?.peer ?? null,
    isBanned(pk) {
      const until = banned.get(pk);
      if (until === undefined) return false;
      if (until > Date.now()) return true;
      banned.delete(pk);
      return false;
    },
    isFollowed: (pk) => follows.has(pk),
    get peers() {
      return [...links.values()].map(({ peer }) => peerInfo(peer));
    },
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
    resync() {
      for (const { peer, link } of links.values()) if (peer.state === 'open') startSync(link);
    },
    // Stops pushing events; the caller closes its peers.
    close() {
      feed.off('event', onEvent);
    },
  };
}
