// feed.js -- the feed API of DESIGN §5, the same in Node and browsers.
//
// A Feed talks to an engine through a small backend of promise-returning
// calls -- identity(), post(draftJson) -> { json, isNew }, sign(draftJson),
// prepare(draftJson), postSigned(eventJson) -> { json, isNew },
// verify(eventJson), merge(frame),
// query(filterJson), count(filterJson), stateGet(key), stateSet(key, valueJson),
// negOpen(sub, filterJson), integrityCheck(), exportKey(options), close(),
// all JSON text -- which is the engine itself in Node (node.js) and a worker RPC
// in browsers. Everything above that line (follow lists, profiles,
// timelines, events) lives here once.

import { Emitter } from './emitter.js';
import { CODES, HirobaError, isReplaceable } from './engine.js';
import { matchFilter } from './filter.js';
import { decodeNcryptsec, isPubkey, pubkeyHex, secretKeyHex } from './nip19.js';

const PROFILE_FIELDS = ['name', 'about', 'picture'];
// The largest scrypt cost exportKey takes (nip49.js MAX_LOG_N: 1 GiB).
// Checked here so that a bad one is a TypeError on the page too.
const MAX_LOG_N = 20;
// hiroba.h codes the feed raises itself, about a signer: ECRYPTO (the
// signer failed or declined), EREJECTED (what it returned is refused),
// ENOKEY (the secret key is the signer's).
const { HIROBA_ECRYPTO, HIROBA_EREJECTED, HIROBA_ENOKEY, HIROBA_EINVAL } = CODES;
// How far (seconds) a signer's created_at may stray from the one it was
// asked to sign: some stamp their own clock. A replaceable kind's may not
// be earlier, so that the update still sorts after the version it replaces.
const SIGNER_CLOCK_SLACK = 60;

// The storage policy (README "Storage policy"): what a feed keeps from
// peers. "follows" keeps the user's own events, those of the authors they
// follow, and events that reference them (replies, reactions, the
// profiles of their authors); "all" keeps every valid event (a relay).
// maxBytes is the database's size budget: past it the oldest events that
// are neither the user's nor followed go first, then the oldest followed.
export const DEFAULT_POLICY = Object.freeze({ store: 'follows', maxBytes: 512 * 1024 * 1024 });

/**
 * openFeed's `policy` option, checked, over the defaults.
 */
export function resolvePolicy(policy = {}) {
  if (typeof policy !== 'object' || policy === null) throw new TypeError('openFeed: policy must be an object');
  const out = { ...DEFAULT_POLICY, ...policy };
  if (out.store !== 'follows' && out.store !== 'all') throw new TypeError('openFeed: policy.store is "follows" or "all"');
  if (!Number.isSafeInteger(out.maxBytes) || out.maxBytes < 0) throw new TypeError('openFeed: policy.maxBytes is a whole number of bytes (0: no budget)');
  return { store: out.store, maxBytes: out.maxBytes };
}

/**
 * openFeed's key options, checked: secretKey as 64 hex, an nsec, 32 bytes
 * or an ncryptsec (NIP-49) with its passphrase; or a signer (NIP-07, such
 * as window.nostr: getPublicKey() and signEvent(event), either may be
 * async), whose secret never enters Hiroba. -> { keyHex, ncryptsec,
 * signer }, null when not given: the caller decrypts an ncryptsec
 * (nip49.js; in the worker, in browsers) before anything is opened, so
 * that a wrong passphrase creates nothing.
 */
export function resolveKeyOptions({ secretKey, passphrase, signer }) {
  if (signer !== undefined) {
    if (secretKey !== undefined) throw new TypeError('openFeed: secretKey or signer, not both');
    if (typeof signer?.getPublicKey !== 'function' || typeof signer?.signEvent !== 'function') {
      throw new TypeError('openFeed: a signer has getPublicKey() and signEvent(event) (NIP-07, e.g. window.nostr)');
    }
  }
  if (typeof secretKey === 'string' && /^ncryptsec1/i.test(secretKey)) {
    if (!decodeNcryptsec(secretKey)) throw new TypeError('secretKey is not a valid ncryptsec (NIP-49, version 2)');
    if (typeof passphrase !== 'string') throw new TypeError('secretKey is an ncryptsec: pass its { passphrase } too');
    return { keyHex: null, ncryptsec: secretKey, signer: null };
  }
  if (passphrase !== undefined) throw new TypeError('openFeed: a passphrase goes with an ncryptsec secretKey');
  return { keyHex: secretKey === undefined ? null : secretKeyHex(secretKey), ncryptsec: null, signer: signer ?? null };
}

/**
 * The signer's public key as 64 hex, checked before any database is
 * opened with it.
 */
export async function signerPubkey(signer) {
  let value;
  try {
    value = await signer.getPublicKey();
  } catch (err) {
    throw new HirobaError(HIROBA_ECRYPTO, `hiroba: the signer's getPublicKey() failed: ${err?.message ?? err}`, 'open');
  }
  if (!isPubkey(value)) {
    throw new HirobaError(HIROBA_EREJECTED, `hiroba: the signer's getPublicKey() gave ${describe(value)}, `
      + 'not a public key (64 lowercase hex, the x of a secp256k1 point)', 'open');
  }
  return value;
}

// A short, safe rendering of a value a signer returned, for messages.
function describe(value) {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

// What a signer returned for the unsigned event `asked` (hiroba__prepare's),
// checked: the engine verifies id and signature; here, that it is this
// identity's event with nothing changed but, a little, the time. -> the
// event's NIP-01 fields alone (nothing else a signer added goes further).
function checkSigned(asked, signed, operation) {
  const refuse = (why) => {
    throw new HirobaError(HIROBA_EREJECTED, `hiroba: the signer's event was refused: ${why}`, operation);
  };
  if (!signed || typeof signed !== 'object') refuse(`it returned ${describe(signed)}, not an event`);
  if (signed.pubkey !== asked.pubkey) {
    refuse(`it is signed by ${describe(signed.pubkey)}, not by this feed's identity ${asked.pubkey}`);
  }
  if (signed.kind !== asked.kind) refuse(`the signer changed the kind (${describe(signed.kind)}, asked ${asked.kind})`);
  if (signed.content !== asked.content) refuse('the signer changed the content');
  if (!sameTags(signed.tags, asked.tags)) refuse('the signer changed the tags');
  const t = signed.created_at;
  if (!Number.isSafeInteger(t) || Math.abs(t - asked.created_at) > SIGNER_CLOCK_SLACK
      || (isReplaceable(asked.kind) && t < asked.created_at)) {
    refuse(`created_at ${describe(t)} strays from the ${asked.created_at} asked for`);
  }
  const { pubkey, kind, tags, content } = asked;
  return { id: signed.id, pubkey, created_at: t, kind, tags, content, sig: signed.sig };
}

function sameTags(a, b) {
  return Array.isArray(a) && a.length === b.length && a.every((tag, i) => Array.isArray(tag)
    && tag.length === b[i].length && tag.every((v, j) => v === b[i][j]));
}

// Refusals of a signer's event by the engine (bad id or signature, not an
// event at all) are said as refusals, whatever code the check gave.
function signerRefused(err, operation) {
  if (!(err instanceof HirobaError) || (err.code !== HIROBA_EINVAL && err.code !== HIROBA_EREJECTED)) return err;
  const why = err.message.replace(/^the signed event was refused \((.*)\)$/s, '$1');
  return new HirobaError(HIROBA_EREJECTED, `hiroba: the signer's event was refused: ${why}`, operation);
}

// The engine checks a state key's bytes; what it cannot see is a key that
// is not a string, or one with a lone surrogate, which the UTF-8 encoding
// would turn into U+FFFD so that two different keys shared one slot.
function checkStateKey(key) {
  if (typeof key !== 'string' || /\p{Cs}/u.test(key)) {
    throw new TypeError('hiroba: a state key is a string of 1 to 256 bytes of printable UTF-8');
  }
}

export class Feed extends Emitter {
  // signer: openFeed's NIP-07 signer, through which every event of the
  // local user is signed (backend.prepare / postSigned / verify), or null.
  constructor(backend, { signer = null } = {}) {
    super();
    this._backend = backend;
    this._signer = signer;
    this._pubkey = null;         // cached: the identity never changes
    this._closed = false;
    // A backend that reports stored events itself (the browser's worker,
    // which also hears about other tabs' events) is the only source;
    // otherwise this feed announces what its own calls stored.
    this._external = typeof backend.subscribe === 'function';
    if (this._external) backend.subscribe((event) => this._emit('event', event));
  }

  _check() {
    if (this._closed) throw new Error('hiroba: the feed is closed');
  }

  // --- engine calls -----------------------------------------------------------
  /**
   * The local user's public key (made on the database's first open, or
   * the key or signer given to openFeed).
   * @returns {Promise<{ pubkey: string }>} 64 lowercase hex
   */
  async identity() {
    this._check();
    if (!this._pubkey) this._pubkey = (await this._backend.identity()).pubkey;
    return { pubkey: this._pubkey };
  }

  /**
   * Signs and stores a draft {kind, content, tags}; returns the event.
   * With a signer, the event it signs is checked, then stored exactly as
   * the engine stores its own; anything wrong stores nothing.
   */
  async publish(draft) {
    this._check();
    let result;
    if (this._signer) {
      const event = await this._signWithSigner(draft, 'post');
      try {
        result = await this._backend.postSigned(JSON.stringify(event));
      } catch (err) {
        throw signerRefused(err, 'post');
      }
    } else {
      result = await this._backend.post(JSON.stringify(draft));
    }
    const event = JSON.parse(result.json);
    if (result.isNew && !this._external) this._emit('event', event);
    return event;
  }

  /**
   * Signs a draft {kind, content, tags} with the local identity without
   * storing or announcing it (e.g. the signaling server's auth event).
   */
  async sign(draft) {
    this._check();
    if (!this._signer) return JSON.parse(await this._backend.sign(JSON.stringify(draft)));
    const event = await this._signWithSigner(draft, 'sign');
    try {
      await this._backend.verify(JSON.stringify(event));
    } catch (err) {
      throw signerRefused(err, 'sign');
    }
    return event;
  }

  /**
   * Checks an event's id and signature as merge would, storing nothing;
   * rejects with a HirobaError saying why when they are not valid.
   */
  async verify(event) {
    this._check();
    await this._backend.verify(JSON.stringify(event));
  }

  // The signer signs the engine's unsigned event for a draft (pubkey and
  // created_at as the engine chooses them; a bad draft is refused before
  // the signer is asked) -> what it returned, checked by checkSigned.
  async _signWithSigner(draft, operation) {
    const unsigned = await this._backend.prepare(JSON.stringify(draft));
    let signed;
    try {
      // A copy of its own: a signer that edits its argument edits nothing of ours.
      signed = await this._signer.signEvent(JSON.parse(unsigned));
    } catch (err) {
      throw new HirobaError(HIROBA_ECRYPTO, `hiroba: the signer did not sign: ${err?.message ?? err}`, operation);
    }
    return checkSigned(JSON.parse(unsigned), signed, operation);
  }

  /**
   * frame: an array/object (stringified here), a string, or a Uint8Array
   * (bytes passed through exactly). A JSON array of frames is a batch.
   */
  async merge(frame) {
    this._check();
    const text = typeof frame === 'string' || frame instanceof Uint8Array
      ? frame : JSON.stringify(frame);
    const result = JSON.parse(await this._backend.merge(text));
    if (!this._external && result.accepted.length && this._hasListeners('event')) {
      for (const event of await this.query({ ids: result.accepted })) {
        this._emit('event', event);
      }
    }
    return result;
  }

  /**
   * Frames that arrived on one peer connection `conn` (a number >= 1 the
   * caller picks per connection: NIP-77 sessions are scoped to it), each
   * applied and answered on its own; their events are verified on the
   * feed's verifier workers while the engine stores them in groups, a
   * transaction each (docs/DESIGN.md §3). -> an array with one merge
   * result per frame applied; it is shorter than `frames` when the results
   * passed `budget` bytes (default 2 MiB), or storing failed after the
   * first group: pass the rest again. A rejection means nothing was stored.
   */
  async mergeBatch(conn, frames, budget = 0) {
    this._check();
    const results = JSON.parse(await this._backend.mergeBatch(conn, frames, budget));
    const accepted = results.flatMap((r) => r.accepted);
    if (!this._external && accepted.length && this._hasListeners('event')) {
      for (const event of await this.query({ ids: accepted })) this._emit('event', event);
    }
    return results;
  }

  /**
   * Forgets a peer connection: its NIP-77 sessions close.
   */
  async connClose(conn) {
    this._check();
    await this._backend.connClose(conn);
  }

  /**
   * A filter or an array of filters; no limit means every match.
   */
  async query(filter) {
    this._check();
    return JSON.parse(await this._backend.query(JSON.stringify(filter)));
  }

  /**
   * A small key-value store in the database (keys of 1-256 printable
   * characters, JSON values up to 64 KiB, 1,024 keys): the sync driver
   * keeps its per-relay bookkeeping there; an app may keep its own.
   * -> the stored value, or null when the key has none.
   */
  async getState(key) {
    this._check();
    checkStateKey(key);
    return JSON.parse(await this._backend.stateGet(key));
  }

  /**
   * value: anything JSON can hold; null (or undefined) deletes the key.
   */
  async setState(key, value) {
    this._check();
    checkStateKey(key);
    const json = value === undefined ? 'null' : JSON.stringify(value);
    if (json === undefined) throw new TypeError('hiroba: a state value must be JSON-serializable');
    // A value that serializes to null (NaN, null) would read back as "no
    // value" anyway: delete rather than spend one of the 1,024 keys on it.
    await this._backend.stateSet(key, json === 'null' ? null : json);
  }

  /**
   * How many stored events match a filter or an array of filters (NIP-45:
   * an event several filters match counts once; limit is ignored), counted
   * in SQL over the engine's indexes: no event is read into JavaScript.
   */
  async count(filter) {
    this._check();
    return JSON.parse(await this._backend.count(JSON.stringify(filter))).count;
  }

  /**
   * A live query: the stored events matching `filters` (a filter or an
   * array of them, as query() takes), then oneose(), then every new event
   * that matches as it is stored, from any source (own posts, peers,
   * relays, other tabs), each once. -> { close() }. A bad filter ends the
   * subscription with onclose(err) before anything is delivered.
   */
  subscribe(filters, { onevent = () => {}, oneose = () => {}, onclose = () => {} } = {}) {
    this._check();
    const list = Array.isArray(filters) ? filters : [filters];
    let closed = false;
    let early = [];   // new events that came while the stored ones were read
    const listener = (event) => {
      if (closed || !list.some((f) => matchFilter(f, event))) return;
      if (early) early.push(event);
      else onevent(event);
    };
    const close = (err) => {
      if (closed) return;
      closed = true;
      this.off('event', listener);
      onclose(err);
    };
    // A handler's bug must not end the subscription: like a listener's in
    // the live phase (emitter.js), it is rethrown apart and delivery goes on.
    const call = (fn, value) => {
      try {
        fn(value);
      } catch (err) {
        queueMicrotask(() => { throw err; });
      }
    };
    // Listening first, so nothing stored meanwhile falls between.
    this.on('event', listener);
    this.query(list).then((stored) => {
      if (closed) return;
      const seen = new Set();
      for (const event of stored) {
        seen.add(event.id);
        call(onevent, event);
        if (closed) return;
      }
      call(oneose);
      const waiting = early;
      early = null;
      for (const event of waiting) if (!closed && !seen.has(event.id)) call(onevent, event);
    }, (err) => close(err));
    return { close: () => close() };
  }

  /**
   * Starts a NIP-77 reconciliation with a peer over the stored events
   * matching one filter; returns the frame to send it,
   * ['NEG-OPEN', sub, filter, hex]. Feed the peer's answers to merge():
   * each result's "have" (ids we hold, the peer lacks) and "need" (ids
   * the peer holds, we lack) grow the picture, and its replies go back to
   * the peer, until one of them is ['NEG-CLOSE', sub]. Sessions are keyed
   * by (conn, sub): a peer's answers go to mergeBatch(conn, ...) on the
   * same connection (conn 0 is merge()'s own).
   */
  async negOpen(sub, filter, conn = 0) {
    this._check();
    return JSON.parse(await this._backend.negOpen(sub, JSON.stringify(filter), conn));
  }

  /**
   * The identity's secret key, to take to another client: an ncryptsec
   * (NIP-49) sealed with `passphrase`, whose scrypt costs 2^logN (16: 64
   * MiB and about a second; in browsers it runs in the worker), or the
   * bare nsec, only when asked for in so many words: { nsec: true }.
   */
  async exportKey({ passphrase, logN = 16, nsec } = {}) {
    this._check();
    if (nsec === true) {
      if (passphrase !== undefined) throw new TypeError('exportKey: { passphrase } for an ncryptsec or { nsec: true } for the bare key, not both');
    } else if (typeof passphrase !== 'string' || !passphrase) {
      throw new TypeError('exportKey: pass { passphrase } (a non-empty string) for an ncryptsec, or { nsec: true } for the bare key');
    } else if (!Number.isInteger(logN) || logN < 1 || logN > MAX_LOG_N) {
      throw new TypeError(`exportKey: logN is an integer from 1 to ${MAX_LOG_N}`);
    }
    if (this._signer) {
      throw new HirobaError(HIROBA_ENOKEY, 'hiroba: this feed signs through its signer: the secret key is '
        + "the signer's to export, not Hiroba's", 'exportKey');
    }
    return this._backend.exportKey(nsec === true ? { nsec: true } : { passphrase, logN });
  }

  /**
   * { ok, result } of SQLite's PRAGMA integrity_check on the database.
   */
  async checkIntegrity() {
    this._check();
    return this._backend.integrityCheck();
  }

  /** Closes the database (in browsers, this tab's worker too); later calls throw. */
  async close() {
    if (this._closed) return;
    this._closed = true;
    await this._backend.close();
  }

  // --- the local user's events ------------------------------------------------
  /**
   * Publishes a kind-1 note.
   * @param {string} text
   * @param {{ tags?: string[][] }} [options]
   * @returns {Promise<object>} the signed event
   */
  post(text, { tags = [] } = {}) {
    if (typeof text !== 'string') throw new TypeError('post(text): text must be a string');
    return this.publish({ kind: 1, content: text, tags });
  }

  async _latest(kind) {
    const { pubkey } = await this.identity();
    const [event] = await this.query({ authors: [pubkey], kinds: [kind], limit: 1 });
    return event ?? null;
  }

  /**
   * The newest profile (kind 0) of an author (hex or npub), the local
   * user's by default; null when none is stored or its content is no
   * JSON object.
   */
  async profile(pubkey) {
    const author = pubkey === undefined || pubkey === null ? (await this.identity()).pubkey : pubkeyHex(pubkey);
    const [event] = await this.query({ authors: [author], kinds: [0], limit: 1 });
    return event ? parseProfile(event) : null;
  }

  /**
   * Merges the given fields into the current profile (kind 0).
   */
  async setProfile(fields = {}) {
    const current = await this._latest(0);
    const profile = current ? parseProfile(current) ?? {} : {};
    for (const key of PROFILE_FIELDS) {
      if (fields[key] !== undefined) {
        if (typeof fields[key] !== 'string') throw new TypeError(`setProfile: ${key} must be a string`);
        profile[key] = fields[key];
      }
    }
    return this.publish({ kind: 0, content: JSON.stringify(profile), tags: current?.tags ?? [] });
  }

  // The "p" entries of the local user's newest event of a list kind.
  async _list(kind) {
    const event = await this._latest(kind);
    return event ? event.tags.filter((t) => t[0] === 'p' && typeof t[1] === 'string').map((t) => t[1]) : [];
  }

  /** Pubkeys the local user follows (their newest kind 3). */
  async following() { return this._list(3); }
  /** Pubkeys the local user muted (their newest kind 10000). */
  async muted() { return this._list(10000); }

  // Adds or removes one "p" tag of a list kind, keeping every other tag
  // (and a kind-3 content) as it was.
  async _editList(kind, key, add) {
    const pubkey = pubkeyHex(key);
    const current = await this._latest(kind);
    const tags = (current?.tags ?? []).filter((t) => !(t[0] === 'p' && t[1] === pubkey));
    if (add) tags.push(['p', pubkey]);
    return this.publish({ kind, content: current?.content ?? '', tags });
  }

  /**
   * Follows, unfollows, mutes or unmutes an author (hex or npub) by
   * publishing the list again with one "p" tag more or less.
   * @returns {Promise<object>} the new list event
   */
  follow(pubkey) { return this._editList(3, pubkey, true); }
  unfollow(pubkey) { return this._editList(3, pubkey, false); }
  mute(pubkey) { return this._editList(10000, pubkey, true); }
  unmute(pubkey) { return this._editList(10000, pubkey, false); }

  /**
   * A NIP-25 reaction to an event ("+" by default).
   */
  async react(eventId, content = '+') {
    checkHex(eventId, 'eventId');
    const [target] = await this.query({ ids: [eventId] });
    const tags = [['e', eventId]];
    if (target) tags.push(['p', target.pubkey], ['k', String(target.kind)]);
    return this.publish({ kind: 7, content, tags });
  }

  /**
   * A NIP-09 deletion of one of the local user's events.
   */
  async delete(eventId) {
    checkHex(eventId, 'eventId');
    const { pubkey } = await this.identity();
    const [target] = await this.query({ ids: [eventId] });
    if (target && target.pubkey !== pubkey) {
      throw new Error('hiroba: only the author can delete an event');
    }
    const tags = [['e', eventId]];
    if (target) tags.push(['k', String(target.kind)]);
    return this.publish({ kind: 5, content: '', tags });
  }

  /**
   * Posts of followed authors and self, newest first, each with its
   * author's profile, reaction counts and reply count.
   */
  async timeline({ limit = 50, until } = {}) {
    const { pubkey } = await this.identity();
    const authors = [...new Set([pubkey, ...(await this.following())])];
    const filter = { kinds: [1], authors, limit };
    if (until !== undefined) filter.until = until;
    const posts = await this.query(filter);
    if (!posts.length) return [];
    const ids = posts.map((e) => e.id);
    const [reactions, replies, profiles] = await Promise.all([
      this.query({ kinds: [7], '#e': ids }),
      this.query({ kinds: [1], '#e': ids }),
      this.query({ kinds: [0], authors: [...new Set(posts.map((e) => e.pubkey))] }),
    ]);
    const counts = new Map(ids.map((id) => [id, {}]));
    for (const r of reactions) {
      // NIP-25: the last "e" tag is the event reacted to.
      const target = r.tags.filter((t) => t[0] === 'e').at(-1)?.[1];
      const c = counts.get(target);
      if (!c) continue;
      const key = r.content === '' ? '+' : r.content;
      c[key] = (c[key] ?? 0) + 1;
    }
    const replyCount = new Map();
    for (const r of replies) {
      for (const id of new Set(r.tags.filter((t) => t[0] === 'e').map((t) => t[1]))) {
        replyCount.set(id, (replyCount.get(id) ?? 0) + 1);
      }
    }
    const profileOf = new Map(profiles.map((e) => [e.pubkey, parseProfile(e)]));
    return posts.map((event) => ({
      event,
      profile: profileOf.get(event.pubkey) ?? null,
      reactions: counts.get(event.id),
      replies: replyCount.get(event.id) ?? 0,
    }));
  }
}

// The profile fields of a kind-0 event, or null when its content is not a
// JSON object (other clients write all sorts of things there).
function parseProfile(event) {
  try {
    const value = JSON.parse(event.content);
    if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
    return value;
  } catch {
    return null;
  }
}

function checkHex(value, name) {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) {
    throw new TypeError(`${name} must be 64 lowercase hex characters`);
  }
}
