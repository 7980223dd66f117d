// relay-client.js -- joinRelay(): the feed kept in sync with one Nostr
// relay (Hiroba's own or any other) over a WebSocket, by the same SyncLink
// a room uses for a peer (sync-link.js): NIP-77 when the relay has it,
// REQ by authors otherwise; our own events through a persistent outbox;
// NIP-42 AUTH answered with the feed's identity when the relay asks.
// Any number at once: one joinRelay per relay.
//
//   const relay = await joinRelay(feed, { url: 'wss://relay.example.org' });
//   relay.on('state', ({ state }) => ...);   // connecting, open, offline, closed
//   relay.on('sync', (progress) => ...);
//   relay.on('error', (err) => ...);
//   relay.stats(); relay.resync(); relay.leave();
//
// The connection comes back after a drop with capped exponential back-off
// (1 s doubling to 60 s, with jitter; a relay that misbehaved waits the
// longest). A relay is not trusted: its frames go through the same
// budgets as a peer's, and every event through merge's checks.

import { Emitter } from './emitter.js';
import { LIMITS } from './peer-guard.js';
import { SyncLink } from './sync-link.js';

const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
const STABLE_MS = 30_000;      // a connection this old resets the back-off
const INFO_TIMEOUT_MS = 3000;  // the NIP-11 probe

// ws(s):// URL -> its NIP-11 document's http(s):// URL.
function infoUrl(url) {
  const u = new URL(url);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return u.href;
}

// Does the relay say it speaks NIP-77? true / false, or null when it
// cannot tell (no NIP-11, CORS, a timeout).
async function probeNip77(url, fetchImpl) {
  if (typeof fetchImpl !== 'function') return null;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), INFO_TIMEOUT_MS);
  try {
    const res = await fetchImpl(infoUrl(url), { headers: { accept: 'application/nostr+json' }, signal: abort.signal });
    if (!res.ok) return null;
    const info = JSON.parse((await res.text()).slice(0, 65536));
    if (!Array.isArray(info?.supported_nips)) return null;
    return info.supported_nips.includes(77) ? true : null; // not listed: NEG-OPEN decides
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Keeps the feed in sync with one Nostr relay (ws:// or wss://): fetches
 * followed authors' events (NIP-77 where the relay speaks it, REQ paging
 * otherwise), pushes the user's own events from a persistent outbox, stays
 * live, reconnects with back-off. -> the link: url, state, stats(),
 * on('state' | 'sync' | 'error'), resync(), leave().
 * @param {import('./feed.js').Feed} feed
 * @param {{ url: string, nip77?: boolean, WebSocket?: Function, fetch?: Function }} options
 */
export async function joinRelay(feed, {
  url, WebSocket = globalThis.WebSocket, fetch: fetchImpl = globalThis.fetch, limits: limitOverrides,
  nip77,
} = {}) {
  let parsed;
  try { parsed = new URL(url); } catch { parsed = null; }
  if (!parsed || (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:')) {
    throw new TypeError(`joinRelay: url must be a ws:// or wss:// URL (got ${JSON.stringify(url)})`);
  }
  if (typeof WebSocket !== 'function') throw new Error('hiroba: this environment lacks WebSocket: pass { WebSocket } (e.g. from ws)');
  url = parsed.href;
  const limits = Object.freeze({ ...LIMITS, ...limitOverrides });
  const { pubkey: self } = await feed.identity();
  const events = new Emitter();
  // nip77: true / false to say what the relay speaks (false: REQ by
  // authors only, e.g. for a relay whose NIP-77 is broken); left out, NIP-11
  // and the answer to NEG-OPEN decide.
  const relay = { url, nip77: typeof nip77 === 'boolean' ? nip77 : await probeNip77(url, fetchImpl) };
  let follows = new Set(await feed.following());
  let state = 'connecting';
  let ws = null;
  let link = null;
  let left = false;
  let backoff = BACKOFF_MIN_MS;
  let reconnectTimer = null;
  let openedAt = 0;
  let misbehaved = false;
  const totals = { connects: 0, bytesSent: 0, bytesReceived: 0, received: 0, pushed: 0, refused: 0, dropped: 0 };
  let lastProgress = null;

  const setState = (next, extra = {}) => {
    if (state === next && !extra.error) return;
    state = next;
    events._emit('state', { url, state, ...extra });
  };

  const decoder = new TextDecoder();
  const text = (data) => {
    if (typeof data === 'string') return data;
    if (data instanceof ArrayBuffer) return decoder.decode(data);
    if (ArrayBuffer.isView(data)) return decoder.decode(data);
    return null; // a Blob (binary frame in a browser): not NIP-01
  };

  function connect() {
    if (left) return;
    setState('connecting');
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (err) {
      events._emit('error', err);
      scheduleReconnect();
      return;
    }
    ws = socket;
    socket.binaryType = 'arraybuffer';
    let current = null;
    socket.onopen = () => {
      if (left) { socket.close(); return; }
      openedAt = Date.now();
      totals.connects++;
      misbehaved = false;
      current = new SyncLink({
        feed, self, limits, kind: 'relay', relay,
        follows: () => follows,
        transport: {
          label: url,
          send: (t) => { totals.bytesSent += t.length; socket.send(t); },
          queued: () => socket.bufferedAmount ?? 0,
          isOpen: () => socket.readyState === 1,
        },
        hooks: {
          progress: (info) => { lastProgress = info; events._emit('sync', { url, ...info }); },
          error: (err) => events._emit('error', err),
          drop: (why) => {
            misbehaved = true;
            totals.dropped++;
            events._emit('error', Object.assign(new Error(`hiroba: relay ${url} dropped: ${why}`), { code: 'relay-dropped', url, reason: why }));
            socket.close();
          },
          auth: (challenge) => authenticate(current, challenge),
        },
      });
      link = current;
      setState('open');
      current.start().catch((err) => events._emit('error', err));
    };
    socket.onmessage = (e) => {
      const t = text(e.data);
      if (t === null || !current) return;
      totals.bytesReceived += t.length;
      current.receive(t);
    };
    socket.onerror = () => { /* onclose follows and says it */ };
    socket.onclose = () => {
      if (current) {
        const s = current.stats();
        totals.received += s.received;
        totals.pushed += s.pushed;
        totals.refused += s.refused;
        current.close();
      }
      if (link === current) link = null;
      if (ws === socket) ws = null;
      if (left) { setState('closed'); return; }
      setState('offline');
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (left || reconnectTimer) return;
    if (openedAt && Date.now() - openedAt >= STABLE_MS && !misbehaved) backoff = BACKOFF_MIN_MS;
    const wait = misbehaved ? BACKOFF_MAX_MS : backoff;
    backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    openedAt = 0;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      connect();
    }, wait * (0.75 + Math.random() * 0.5));
    reconnectTimer.unref?.();
  }

  // NIP-42: a kind 22242 event naming the relay and its challenge.
  async function authenticate(current, challenge) {
    try {
      const event = await feed.sign({ kind: 22242, content: '', tags: [['relay', url], ['challenge', challenge]] });
      if (link === current) current.send(['AUTH', event]);
    } catch (err) {
      events._emit('error', err);
    }
  }

  const onEvent = (event) => {
    if (event.kind === 3 && event.pubkey === self) follows = new Set(event.tags.filter((t) => t[0] === 'p').map((t) => t[1]));
    link?.onEvent(event);
  };
  feed.on('event', onEvent);
  connect();

  return {
    url,
    /** connecting, open, offline (waiting to reconnect) or closed. */
    get state() { return state; },
    /**
     * Listens to 'state' ({ url, state }), 'sync' (progress), 'error' (a refused
     * event, a dropped relay, ...).
     */
    on(name, fn) { events.on(name, fn); return this; },
    /** Stops listening. */
    off(name, fn) { events.off(name, fn); return this; },
    /** What this relay has cost and brought, this connection and before. */
    stats() {
      const now = link?.stats() ?? {};
      return {
        url, state, nip77: relay.nip77, mode: now.mode ?? (relay.nip77 === false ? 'req' : 'nip77'),
        connects: totals.connects, bytesSent: totals.bytesSent, bytesReceived: totals.bytesReceived,
        received: totals.received + (now.received ?? 0),
        pushed: totals.pushed + (now.pushed ?? 0),
        refused: totals.refused + (now.refused ?? 0),
        outbox: now.outbox ?? null,
        dropped: totals.dropped,
        done: now.done ?? false,
        missing: now.missing ?? 0,
        invalid: now.invalid ?? 0,
        progress: lastProgress,
      };
    },
    /**
     * Syncs again (e.g. after following someone); reconnects at once if
     * the relay is down.
     */
    resync() {
      if (left) return;
      if (link) {
        feed.following().then((list) => { follows = new Set(list); return link?.start(); })
          .catch((err) => events._emit('error', err));
      } else if (reconnectTimer) {
        clearTimeout(reconnectTimer);
        reconnectTimer = null;
        connect();
      }
    },
    /** Disconnects for good and stops syncing. */
    leave() {
      if (left) return;
      left = true;
      clearTimeout(reconnectTimer);
      feed.off('event', onEvent);
      if (ws) ws.close(); else setState('closed');
    },
  };
}
