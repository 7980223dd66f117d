// pair.js -- pairing two feeds with no server at all: the inviter's offer
// and the accepter's answer travel as text (copy/paste, a link, a QR
// code), each carrying its ICE candidates (Vanilla ICE: gathering is
// waited for, nothing is trickled). Once the connection opens it is synced
// exactly as a room's peers are (peer-sync.js).
//
//   const invite = await createInvite(feed, { iceServers, ttlMs });
//   send invite.text  ->  const answer = await acceptInvite(feed2, text);
//   answer.text back  ->  const pair = await invite.complete(answerText);
//                         const pair2 = await answer.connected();
//
// A text is a signed Nostr event of an ephemeral kind (PAIR_KIND, never
// published), signed through feed.sign so NIP-07 signers work, packed in
// binary and base64url-encoded:
//
//   format (1) | type (1: invite, 2: answer) | app length (1) | app |
//   pubkey (32) | sig (64) | created_at (4) | expiration (4) |
//   [answer: the invite's id (32)] | content (the compact description)
//
// The id is not sent: it is recomputed from the event rebuilt with tags
//   ["expiration", exp], ["pair", app, "invite"|"answer", format]
//   (+ ["e", invite id] in an answer)
// so a changed byte anywhere fails the signature. The content keeps of
// the SDP what a data-channel-only session needs -- ICE ufrag and pwd, the
// DTLS fingerprint and setup role, the mid, the SCTP port and maximum
// message size, UDP candidates -- and the other side rebuilds a valid SDP
// from it; every field is checked against a strict pattern first, since a
// valid signature says who wrote a text, not that it is harmless.

import { fromBase64url, fromHex, sha256Hex, toBase64url, toHex } from './bytes.js';
import { CODES, HirobaError } from './engine.js';
import { Peer } from './peer.js';
import { createPeerSync } from './peer-sync.js';

export const PAIR_KIND = 21590;
const FORMAT = 1;
const INVITE = 1;
const ANSWER = 2;
const DEFAULT_TTL_MS = 10 * 60_000;
const MAX_TTL_MS = 24 * 3600_000;
const GATHER_MS = 5000;     // Vanilla ICE: what is gathered by then goes in
const OPEN_MS = 30_000;     // from complete() to an open channel
const ANSWERED_KEY = 'hiroba.pair.answered'; // invite ids answered -> expiration

const fail = (reason, message, operation) =>
  Object.assign(new HirobaError(CODES.HIROBA_EINVAL, `hiroba: ${message}`, operation), { reason });

// --- the description, compact ----------------------------------------------

const ICE_CHARS = /^[A-Za-z0-9+/]{4,256}$/;
const TOKEN = /^[A-Za-z0-9+/]{1,32}$/;
const ADDRESS = /^[0-9A-Za-z.:-]{1,64}$/; // IPv4, IPv6, or an mDNS name
const MAX_PER_TYPE = 6;                   // candidates of one type kept in a text
const SETUP = { actpass: 'a', active: 'c', passive: 'p' };
const TYPES = { host: 'h', srflx: 's', prflx: 'p', relay: 'r' };
const invert = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [v, k]));

/** SDP -> "ufrag pwd fingerprint setup mid sctpPort maxMessageSize cand..." */
export function compactSdp(sdp) {
  const get = (name) => sdp.match(new RegExp(`^a=${name}:(.*?)\\r?$`, 'm'))?.[1].trim();
  const [alg, hex] = (get('fingerprint') ?? '').split(' ');
  if (alg?.toLowerCase() !== 'sha-256' || !hex) throw new Error('hiroba: the description has no sha-256 fingerprint');
  const found = [];
  for (const m of sdp.matchAll(/^a=candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (\S+)/gm)) {
    const [, foundation, component, protocol, priority, address, port, type] = m;
    // One component (data only, rtcp-mux); TCP candidates are rarely what
    // works and cost room; an address the other side would refuse (a
    // scoped IPv6 one) is left out rather than spoil the whole text.
    if (component !== '1' || protocol.toLowerCase() !== 'udp' || !TYPES[type] || !ADDRESS.test(address) ||
        !TOKEN.test(foundation) || priority.length > 10) continue;
    found.push({ type, priority: Number(priority), text: [TYPES[type], address, port, priority, foundation].join(',') });
  }
  // A host with many interfaces: the best few of each type, so that the
  // text stays short and a relay candidate is never crowded out.
  const candidates = [];
  for (const type of Object.keys(TYPES)) {
    candidates.push(...found.filter((c) => c.type === type).sort((x, y) => y.priority - x.priority)
      .slice(0, MAX_PER_TYPE).map((c) => c.text));
  }
  if (candidates.length === 0) {
    throw new Error('hiroba: no network address was gathered (no network, or the STUN/TURN servers did not answer in time)');
  }
  const fields = [get('ice-ufrag'), get('ice-pwd'), toBase64url(fromHex(hex.replace(/:/g, '').toLowerCase())),
    SETUP[get('setup')], get('mid'), get('sctp-port') ?? '5000', get('max-message-size') ?? '0', ...candidates];
  if (fields.slice(0, 5).some((f) => !f)) throw new Error('hiroba: the description lacks ICE credentials, setup or mid');
  return fields.join(' ');
}

/** The compact form -> a valid SDP of type `type`; null when malformed. */
export function expandSdp(compact) {
  if (typeof compact !== 'string') return null;
  const [ufrag, pwd, fp, setup, mid, sctpPort, maxSize, ...cands] = compact.split(' ');
  const fingerprint = fromBase64url(fp ?? '');
  if (!ICE_CHARS.test(ufrag ?? '') || !ICE_CHARS.test(pwd ?? '') || fingerprint?.length !== 32 ||
      !invert(SETUP)[setup] || !TOKEN.test(mid ?? '') || !/^\d{1,5}$/.test(sctpPort ?? '') ||
      !/^\d{1,10}$/.test(maxSize ?? '') || cands.length === 0 || cands.length > 4 * MAX_PER_TYPE) return null;
  const lines = [];
  for (const c of cands) {
    const [t, address, port, priority, foundation, extra] = c.split(',');
    if (extra !== undefined || !invert(TYPES)[t] || !ADDRESS.test(address ?? '') || !/^\d{1,5}$/.test(port ?? '') ||
        !/^\d{1,10}$/.test(priority ?? '') || !TOKEN.test(foundation ?? '')) return null;
    lines.push(`a=candidate:${foundation} 1 udp ${priority} ${address} ${port} typ ${invert(TYPES)[t]}`);
  }
  const hex = toHex(fingerprint).toUpperCase().match(/../g).join(':');
  return [
    'v=0', `o=- ${Date.now()} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0', `a=group:BUNDLE ${mid}`,
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0',
    `a=ice-ufrag:${ufrag}`, `a=ice-pwd:${pwd}`, `a=fingerprint:sha-256 ${hex}`,
    `a=setup:${invert(SETUP)[setup]}`, `a=mid:${mid}`, `a=sctp-port:${sctpPort}`,
    ...(maxSize !== '0' ? [`a=max-message-size:${maxSize}`] : []),
    ...lines, 'a=end-of-candidates', '',
  ].join('\r\n');
}

// --- the signed envelope ------------------------------------------------------

const pairTags = ({ exp, app, type, inviteId }) => [
  ['expiration', String(exp)], ['pair', app, type === INVITE ? 'invite' : 'answer', String(FORMAT)],
  ...(inviteId ? [['e', inviteId]] : []),
];

// NIP-01's id; the engine's verify checks it again with the signature.
function eventId({ pubkey, created_at: createdAt, kind, tags, content }) {
  return sha256Hex(new TextEncoder().encode(JSON.stringify([0, pubkey, createdAt, kind, tags, content])));
}

async function seal(feed, { type, app, exp, inviteId, content }) {
  const event = await feed.sign({ kind: PAIR_KIND, content, tags: pairTags({ exp, app, type, inviteId }) });
  const appBytes = new TextEncoder().encode(app);
  const body = new TextEncoder().encode(content);
  const out = new Uint8Array(3 + appBytes.length + 32 + 64 + 8 + (inviteId ? 32 : 0) + body.length);
  const view = new DataView(out.buffer);
  out.set([FORMAT, type, appBytes.length]);
  let at = 3;
  for (const part of [appBytes, fromHex(event.pubkey), fromHex(event.sig)]) { out.set(part, at); at += part.length; }
  view.setUint32(at, event.created_at); view.setUint32(at + 4, exp); at += 8;
  if (inviteId) { out.set(fromHex(inviteId), at); at += 32; }
  out.set(body, at);
  return { text: toBase64url(out), event };
}

// A pasted text may be the bare text, a "#pair=..." fragment or a whole link.
const bare = (text) => text.trim().replace(/^.*[#&?]pair=/s, '').replace(/[&#].*$/s, '');

// -> { event, type, app, exp, inviteId, sdp }, or throws saying why.
async function open(feed, text, { want, app, operation }) {
  const what = want === INVITE ? 'invite' : 'answer';
  if (typeof text !== 'string') throw new TypeError(`hiroba: ${operation}: the ${what} is a string`);
  const bytes = fromBase64url(bare(text));
  if (!bytes || bytes.length < 3) throw fail('tampered', `${operation}: this is not a pairing ${what} (mangled text)`, operation);
  if (bytes[0] !== FORMAT) throw fail('foreign', `${operation}: this ${what} is of pairing format ${bytes[0]}; this version reads format ${FORMAT}`, operation);
  if (bytes[1] !== want) {
    throw fail('foreign', `${operation}: this is ${bytes[1] === INVITE ? 'an invite' : bytes[1] === ANSWER ? 'an answer' : 'not a pairing text'}, not an ${what}`, operation);
  }
  const appEnd = 3 + bytes[2];
  const head = appEnd + 32 + 64 + 8 + (want === ANSWER ? 32 : 0);
  if (bytes.length <= head) throw fail('tampered', `${operation}: this ${what} is cut short (mangled text)`, operation);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let theirApp, content;
  try {
    theirApp = decoder.decode(bytes.subarray(3, appEnd));
    content = decoder.decode(bytes.subarray(head));
  } catch {
    throw fail('tampered', `${operation}: this ${what} is mangled (not UTF-8)`, operation);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const createdAt = view.getUint32(appEnd + 96);
  const exp = view.getUint32(appEnd + 100);
  const inviteId = want === ANSWER ? toHex(bytes.subarray(appEnd + 104, appEnd + 136)) : null;
  const event = {
    pubkey: toHex(bytes.subarray(appEnd, appEnd + 32)), created_at: createdAt, kind: PAIR_KIND,
    tags: pairTags({ exp, app: theirApp, type: want, inviteId }), content,
    sig: toHex(bytes.subarray(appEnd + 32, appEnd + 96)),
  };
  event.id = await eventId(event);
  try {
    await feed.verify(event);
  } catch (err) {
    throw fail('tampered', `${operation}: this ${what} was altered or is not signed by its key (${err.message})`, operation);
  }
  if (theirApp !== app) throw fail('foreign', `${operation}: this ${what} is for the app "${theirApp}", not "${app}"`, operation);
  if (exp * 1000 <= Date.now()) throw fail('expired', `${operation}: this ${what} expired at ${new Date(exp * 1000).toISOString()}`, operation);
  const sdp = expandSdp(content);
  if (!sdp) throw fail('tampered', `${operation}: this ${what} carries no usable connection description`, operation);
  return { event, exp, inviteId, sdp };
}

// --- connecting ---------------------------------------------------------------

function checkOptions(operation, { iceServers = [], ttlMs = DEFAULT_TTL_MS, app = 'hiroba', RTCPeerConnection = globalThis.RTCPeerConnection }) {
  if (typeof RTCPeerConnection !== 'function') throw new Error('hiroba: this environment lacks WebRTC (RTCPeerConnection)');
  if (!Array.isArray(iceServers)) throw new TypeError(`hiroba: ${operation}: iceServers is an array of RTCIceServer`);
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000 || ttlMs > MAX_TTL_MS) throw new TypeError(`hiroba: ${operation}: ttlMs is a whole number of milliseconds from 1 s to 24 h`);
  if (typeof app !== 'string' || !/^[\x21-\x7e]{1,32}$/.test(app)) throw new TypeError(`hiroba: ${operation}: app is 1 to 32 printable ASCII characters`);
}

// Vanilla ICE: wait for gathering to complete, or what there is by `ms`.
async function gather(peer, ms) {
  let timer;
  await Promise.race([peer.gathered, new Promise((resolve) => { timer = setTimeout(resolve, ms); })]);
  clearTimeout(timer);
  return peer.pc.localDescription.sdp;
}

// The paired connection, as a one-peer room.
function pairHandle(hub, peer) {
  return {
    pubkey: peer.pubkey,
    get state() { return peer.state; },
    get route() { return peer.route; },
    stats: () => hub.stats(),
    on(name, fn) { hub.events.on(name, fn); return this; },
    off(name, fn) { hub.events.off(name, fn); return this; },
    resync: () => hub.resync(),
    close() { hub.close(); peer.close(); },
  };
}

async function opened(hub, peer) {
  try {
    await peer.opened;
  } catch (err) {
    hub.close();
    throw err;
  }
  return pairHandle(hub, peer);
}

/**
 * Makes an invite: an offer with its candidates, signed, valid ttlMs.
 * -> { text, hash, expiresAt, complete(answerText) -> Promise<Pair>, cancel() }
 */
export async function createInvite(feed, options = {}) {
  checkOptions('createInvite', options);
  const { iceServers = [], ttlMs = DEFAULT_TTL_MS, app = 'hiroba', RTCPeerConnection = globalThis.RTCPeerConnection,
    iceTransportPolicy = 'all', limits, gatherMs = GATHER_MS } = options;
  const hub = await createPeerSync(feed, { limits });
  const peer = new Peer({ remote: null, self: hub.self, signal: null, RTCPeerConnection, iceServers, iceTransportPolicy });
  let sealed;
  try {
    await peer.pc.setLocalDescription(await peer.pc.createOffer());
    const exp = Math.floor((Date.now() + ttlMs) / 1000);
    sealed = await seal(feed, { type: INVITE, app, exp, content: compactSdp(await gather(peer, gatherMs)) });
  } catch (err) {
    peer.close();
    hub.close();
    throw err;
  }
  const expiresAt = Number(sealed.event.tags[0][1]) * 1000;
  let state = 'waiting'; // -> 'completing' -> 'completed'; or 'cancelled', 'expired'
  // Nobody answered in time: the connection it kept ready goes.
  const expiry = setTimeout(() => {
    if (state !== 'waiting') return;
    invite.cancel();
    state = 'expired';
  }, expiresAt - Date.now());
  expiry.unref?.();
  const invite = {
    text: sealed.text,
    hash: `#pair=${sealed.text}`,
    id: sealed.event.id,
    expiresAt,
    async complete(answerText) {
      if (state === 'expired') throw fail('expired', `complete: this invite expired at ${new Date(expiresAt).toISOString()}; make a new one`, 'complete');
      if (state !== 'waiting') throw fail('replayed', `complete: this invite was already ${state}; make a new one`, 'complete');
      const answer = await open(feed, answerText, { want: ANSWER, app, operation: 'complete' });
      if (answer.inviteId !== sealed.event.id) throw fail('foreign', 'complete: this answer is to another invite', 'complete');
      if (answer.event.pubkey === hub.self) throw fail('foreign', 'complete: this answer is signed by this same key', 'complete');
      if (state !== 'waiting') throw fail('replayed', 'complete: this invite was already completed', 'complete');
      state = 'completing';
      clearTimeout(expiry);
      peer.pubkey = answer.event.pubkey;
      hub.attach(peer);
      peer.armOpenTimer(OPEN_MS);
      try {
        await peer.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
      } catch (err) {
        peer.close();
        hub.close();
        throw fail('tampered', `complete: the answer's description was refused: ${err.message}`, 'complete');
      }
      state = 'completed';
      return opened(hub, peer);
    },
    cancel() {
      if (state !== 'waiting') return;
      state = 'cancelled';
      clearTimeout(expiry);
      peer.close();
      hub.close();
    },
  };
  return invite;
}

/**
 * Answers an invite: checks it (signature, expiry, app, not answered
 * before by this feed), connects toward the inviter and makes the answer
 * to send back. -> { text, hash, inviter, expiresAt, connected() -> Promise<Pair>, cancel() }
 */
export async function acceptInvite(feed, inviteText, options = {}) {
  checkOptions('acceptInvite', options);
  const { iceServers = [], app = 'hiroba', RTCPeerConnection = globalThis.RTCPeerConnection,
    iceTransportPolicy = 'all', limits, gatherMs = GATHER_MS } = options;
  const invite = await open(feed, inviteText, { want: INVITE, app, operation: 'acceptInvite' });
  const { pubkey: self } = await feed.identity();
  if (invite.event.pubkey === self) throw fail('foreign', 'acceptInvite: this invite is your own', 'acceptInvite');
  // An invite is answered once: answering it again would give its
  // inviter a second answer for one connection. Remembered in the feed
  // until the invite expires, so a reload does not forget it.
  const now = Date.now() / 1000;
  const answered = Object.fromEntries(Object.entries(await feed.getState(ANSWERED_KEY) ?? {}).filter(([, exp]) => exp > now));
  if (answered[invite.event.id]) throw fail('replayed', 'acceptInvite: this invite was already answered', 'acceptInvite');
  answered[invite.event.id] = invite.exp;
  await feed.setState(ANSWERED_KEY, answered);

  const hub = await createPeerSync(feed, { limits });
  const peer = new Peer({ remote: invite.event.pubkey, self, signal: null, RTCPeerConnection, iceServers, iceTransportPolicy });
  hub.attach(peer);
  let sealed;
  try {
    try {
      await peer.pc.setRemoteDescription({ type: 'offer', sdp: invite.sdp });
    } catch (err) {
      throw fail('tampered', `acceptInvite: the invite's description was refused: ${err.message}`, 'acceptInvite');
    }
    await peer.pc.setLocalDescription(await peer.pc.createAnswer());
    const content = compactSdp(await gather(peer, gatherMs));
    sealed = await seal(feed, { type: ANSWER, app, exp: invite.exp, inviteId: invite.event.id, content });
  } catch (err) {
    peer.close();
    hub.close();
    // No answer left this side, so the invite may be answered again
    // (after a network that gathered nothing, say).
    const marks = { ...(await feed.getState(ANSWERED_KEY).catch(() => null)) };
    delete marks[invite.event.id];
    await feed.setState(ANSWERED_KEY, marks).catch(() => {});
    throw err;
  }
  // The inviter has until the invite expires to paste the answer.
  peer.armOpenTimer(Math.max(0, invite.exp * 1000 - Date.now()) + OPEN_MS);
  const connection = opened(hub, peer);
  connection.catch(() => {}); // observed through connected()
  return {
    text: sealed.text,
    hash: `#pair=${sealed.text}`,
    inviter: invite.event.pubkey,
    expiresAt: invite.exp * 1000,
    connected: () => connection,
    cancel() { if (peer.state !== 'open') { peer.close(); hub.close(); } },
  };
}
