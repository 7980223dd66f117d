// turn.js -- GET /turn: an RTCConfiguration-shaped {"iceServers":[...],
// "ttl":seconds} with short-lived TURN credentials (DESIGN.md §6). The
// secrets that mint them stay on the server; the browser only ever sees the
// minted credentials.
//
// Modes, chosen once from the environment when the handler is created:
//   cloudflare  CLOUDFLARE_TURN_KEY_ID + CLOUDFLARE_TURN_API_TOKEN: POST
//               {"ttl":TURN_TTL} to Cloudflare's generate-ice-servers
//               endpoint (CLOUDFLARE_TURN_URL overrides the whole URL, e.g.
//               for a local fake), with the API token as a bearer token.
//   coturn      TURN_SECRET + TURN_URLS: the TURN REST API scheme that
//               coturn's use-auth-secret/static-auth-secret implements:
//               username "<unix expiry>:<id>", credential
//               base64(HMAC-SHA1(secret, username)). Minted locally, no I/O.
//   stun        neither: STUN_URLS only (or an empty list).
// STUN_URLS (comma-separated stun:/stuns: URLs) is added as its own entry in
// every mode. TURN_TTL is the credential lifetime in seconds (default 600:
// a relay that anyone holding credentials may use is lent for minutes, not
// a day; the client asks again when they run out). "ttl" in the answer is
// what is left of it (less than TURN_TTL for cached Cloudflare answers).
//
// Who may ask (cloudflare and coturn modes): a client that proves a pubkey
// with NIP-98 HTTP auth -- header `Authorization: Nostr <base64 of a
// kind-27235 event>` whose "u" tag is this request's URL (its Host and
// path; the scheme is not compared, TLS usually ends at a proxy), whose
// "method" tag is GET, created within 60 s of now, signed by its pubkey
// (verify.js), and not seen before (the same signature is accepted once). Anything else is a 401 with a JSON reason. Keys
// cost nothing to make, so what this buys is a rate per key and per
// address, both token buckets:
//   per address  30 requests a minute (burst 30), charged before anything
//                is parsed, so it also bounds the signatures a stranger can
//                make us check: 429 + Retry-After beyond it;
//   per pubkey   10 credentials a minute (burst 10): 429 + Retry-After;
//   in all       50 signature checks a second (burst 100): 503 + Retry-After.
// STUN-only mode answers anyone: it hands out nothing secret, and a public
// STUN list costs nothing to give.
//
// A configuration that is half set, sets both modes, or has malformed URLs
// throws at creation, so a bad deployment fails at start-up rather than on
// the first page load.
//
// Cloudflare answers are cached until half their TTL is left, and concurrent
// requests share one upstream call, so page loads do not hammer the API
// (everyone gets the same credentials meanwhile, as with any cache). Any
// upstream failure -- non-2xx, bad JSON, unexpected shape, network error,
// timeout -- is a 502 {"error":"turn-upstream","message":...}; the message is
// ours, never the upstream body, the request URL or the token.
//
// The handler does not route: mount it on /turn. Node 20, no dependencies
// beyond the engine's wasm build (verify.js).

import { createHash, createHmac, randomBytes } from 'node:crypto';

import { Bucket, KeyedBuckets, clientKey } from './budget.js';
import { loadVerifier } from './verify.js';

const CLOUDFLARE_API = 'https://rtc.live.cloudflare.com/v1/turn/keys';
const DEFAULT_TTL = 600;            // seconds: at most 10 minutes unless the operator says so
const MAX_UPSTREAM_BYTES = 64 * 1024; // a credentials answer is < 1 KiB

/* Split a comma-separated env value into trimmed, non-empty entries and check
** each against `scheme` (a RegExp on the whole entry). Throws naming `name`. */
function urlList(env, name, scheme, what) {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [];
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const url of list) {
    if (!scheme.test(url)) throw new Error(`turn: ${name} entry ${JSON.stringify(url)} is not a ${what} URL`);
  }
  return list;
}

const isSet = (v) => typeof v === 'string' && v.trim() !== '';

/* Read and check the environment. Returns the frozen configuration; throws
** an Error whose message names the variable at fault (never its value when
** that value is a secret). */
export function turnConfig(env = process.env) {
  const stunUrls = urlList(env, 'STUN_URLS', /^stuns?:\S+$/, 'stun:/stuns:');

  let ttl = DEFAULT_TTL;
  if (isSet(env.TURN_TTL)) {
    if (!/^\s*\d+\s*$/.test(env.TURN_TTL) || Number(env.TURN_TTL) <= 0) {
      throw new Error(`turn: TURN_TTL must be a positive whole number of seconds, got ${JSON.stringify(env.TURN_TTL)}`);
    }
    ttl = Number(env.TURN_TTL);
  }

  const cfKey = isSet(env.CLOUDFLARE_TURN_KEY_ID);
  const cfToken = isSet(env.CLOUDFLARE_TURN_API_TOKEN);
  const coSecret = isSet(env.TURN_SECRET);
  const coUrls = isSet(env.TURN_URLS);
  if (cfKey !== cfToken) {
    throw new Error('turn: set both CLOUDFLARE_TURN_KEY_ID and CLOUDFLARE_TURN_API_TOKEN for Cloudflare TURN, or neither');
  }
  if (coSecret !== coUrls) {
    throw new Error('turn: set both TURN_SECRET and TURN_URLS for coturn, or neither');
  }
  if (cfKey && coSecret) {
    throw new Error('turn: both Cloudflare (CLOUDFLARE_TURN_*) and coturn (TURN_SECRET/TURN_URLS) are configured; choose one');
  }
  if (isSet(env.CLOUDFLARE_TURN_URL) && !cfKey) {
    throw new Error('turn: CLOUDFLARE_TURN_URL is set but CLOUDFLARE_TURN_KEY_ID/CLOUDFLARE_TURN_API_TOKEN are not');
  }

  if (cfKey) {
    let url = `${CLOUDFLARE_API}/${encodeURIComponent(env.CLOUDFLARE_TURN_KEY_ID.trim())}/credentials/generate-ice-servers`;
    if (isSet(env.CLOUDFLARE_TURN_URL)) {
      let parsed;
      try { parsed = new URL(env.CLOUDFLARE_TURN_URL.trim()); } catch { parsed = null; }
      if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
        throw new Error('turn: CLOUDFLARE_TURN_URL must be an http(s) URL');
      }
      url = parsed.href;
    }
    return Object.freeze({ mode: 'cloudflare', stunUrls, ttl, url, token: env.CLOUDFLARE_TURN_API_TOKEN.trim() });
  }
  if (coSecret) {
    const turnUrls = urlList(env, 'TURN_URLS', /^turns?:\S+$/, 'turn:/turns:');
    return Object.freeze({ mode: 'coturn', stunUrls, ttl, turnUrls, secret: env.TURN_SECRET });
  }
  return Object.freeze({ mode: 'stun', stunUrls, ttl });
}

/* TURN REST API credentials (draft-uberti-behave-turn-rest-00, as coturn's
** use-auth-secret checks them): valid until `expiry` (unix seconds). */
export function restCredentials(secret, expiry, userid) {
  const username = `${expiry}:${userid}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential };
}

class UpstreamError extends Error {}

const ICE_URL = /^(stuns?|turns?):\S+$/;

/* Check one RTCIceServer from upstream and copy only the fields a browser
** needs; anything else upstream sent is dropped. Returns null if malformed. */
function cleanIceServer(s) {
  if (s === null || typeof s !== 'object' || Array.isArray(s)) return null;
  const urls = typeof s.urls === 'string' ? [s.urls] : s.urls;
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string' && ICE_URL.test(u))) return null;
  const out = { urls };
  const needsAuth = urls.some((u) => u.startsWith('turn'));
  for (const k of ['username', 'credential']) {
    if (s[k] === undefined) continue;
    if (typeof s[k] !== 'string') return null;
    out[k] = s[k];
  }
  if (needsAuth && (out.username === undefined || out.credential === undefined)) return null;
  return out;
}

/* Accept both documented shapes (generate-ice-servers: an array;
** the older .../credentials/generate: one object) and return an array. */
function iceServersFrom(body) {
  const list = body?.iceServers;
  const arr = Array.isArray(list) ? list : (list && typeof list === 'object' ? [list] : null);
  if (!arr || arr.length === 0) throw new UpstreamError('Cloudflare TURN API answered without iceServers');
  const clean = arr.map(cleanIceServer);
  if (clean.includes(null)) throw new UpstreamError('Cloudflare TURN API answered with a malformed iceServers entry');
  return clean;
}

// NIP-98 (HTTP auth) as /turn checks it.
const AUTH_KIND = 27235;
const AUTH_WINDOW_SECONDS = 60;
const MAX_AUTH_HEADER = 8192;   // characters of base64; an auth event is < 1 KiB
const MAX_AUTH_TAGS = 16;
const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

export const DEFAULT_TURN_LIMITS = Object.freeze({
  perIpPerMinute: 30,     // requests per address (IPv6: per /64), burst the same
  perPubkeyPerMinute: 10, // credentials per pubkey, burst the same
  verifyPerSecond: 50,    // signature checks for the whole handler
  verifyBurst: 100,
});

const tag = (tags, name) => tags.find((t) => t.length >= 2 && t[0] === name)?.[1];

/* The NIP-98 event of a request, checked for everything but its signature
** (cheap checks first: the signature is what costs). -> { event } or
** { reason } (fixed text; nothing the client sent is echoed). */
export function readNip98(req, nowSeconds) {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || header === '') {
    return { reason: 'GET /turn needs NIP-98 auth: Authorization: Nostr <base64 of a signed kind-27235 event>' };
  }
  const m = /^Nostr +([A-Za-z0-9+/_-]+={0,2})$/i.exec(header.trim());
  if (!m) return { reason: 'the Authorization header must be "Nostr <base64 event>"' };
  if (m[1].length > MAX_AUTH_HEADER) return { reason: 'the auth event is too large' };
  let event;
  try {
    event = JSON.parse(Buffer.from(m[1], 'base64').toString('utf8'));
  } catch {
    return { reason: 'the auth event is not base64 of JSON' };
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return { reason: 'the auth event must be a JSON object' };
  const { id, pubkey, created_at: createdAt, kind, tags, content, sig } = event;
  if (typeof id !== 'string' || !HEX64.test(id)) return { reason: 'the auth event id must be 64 lowercase hex' };
  if (typeof pubkey !== 'string' || !HEX64.test(pubkey)) return { reason: 'the auth event pubkey must be 64 lowercase hex' };
  if (typeof sig !== 'string' || !HEX128.test(sig)) return { reason: 'the auth event sig must be 128 lowercase hex' };
  if (!Number.isSafeInteger(createdAt) || createdAt < 0) return { reason: 'the auth event created_at must be a non-negative integer' };
  if (kind !== AUTH_KIND) return { reason: `the auth event must be of kind ${AUTH_KIND} (NIP-98)` };
  if (!Array.isArray(tags) || tags.length > MAX_AUTH_TAGS
      || !tags.every((t) => Array.isArray(t) && t.every((x) => typeof x === 'string'))) {
    return { reason: 'the auth event tags must be a short array of string arrays' };
  }
  if (typeof content !== 'string') return { reason: 'the auth event content must be a string' };
  if (Math.abs(nowSeconds - createdAt) > AUTH_WINDOW_SECONDS) {
    return { reason: `the auth event is not fresh (created_at more than ${AUTH_WINDOW_SECONDS} s from the server's clock)` };
  }
  if (tag(tags, 'method') !== 'GET') return { reason: 'the auth event needs a ["method","GET"] tag' };
  const u = tag(tags, 'u');
  let signed = null;
  try { signed = new URL(u); } catch { /* not absolute */ }
  if (!signed || (signed.protocol !== 'http:' && signed.protocol !== 'https:')) {
    return { reason: 'the auth event needs a ["u", <absolute http(s) URL of this request>] tag' };
  }
  // This request as the client would name it: its Host header and path,
  // with the scheme it signed (TLS usually ends at a proxy before us).
  let asked = null;
  try { asked = new URL(req.url, `${signed.protocol}//${req.headers.host}`); } catch { /* bad Host */ }
  if (!asked || asked.host !== signed.host || asked.pathname !== signed.pathname || asked.search !== signed.search) {
    return { reason: 'the auth event\'s "u" tag is not the URL of this request (host and path)' };
  }
  let computed = null;
  try {
    computed = createHash('sha256').update(JSON.stringify([0, pubkey, createdAt, kind, tags, content])).digest('hex');
  } catch { /* unserializable */ }
  if (computed !== id) return { reason: 'the auth event id does not match its content' };
  return { event };
}

/* Create the /turn request handler. `env` is read once, here (throws on a bad
** configuration). Options: `fetch` and `now` (ms clock, also the clock of
** the auth window and the rate limits) for tests, `timeoutMs` for the
** upstream request (default 5000), `userid()` for the coturn username
** suffix (default 8 random bytes, hex), `log` for upstream failures
** (default console.error; it never receives a secret), `verifier`
** (verify.js's, or a promise of one; default the shared loadVerifier()),
** `clientIp(req)` (the key per-address limits count under; default the
** socket's address, see budget.js) and `limits` (overrides of
** DEFAULT_TURN_LIMITS). The returned handler carries `.mode`
** ('cloudflare' | 'coturn' | 'stun'). */
export function createTurnHandler(env = process.env, {
  fetch = globalThis.fetch,
  now = () => Date.now(),
  timeoutMs = 5000,
  userid = () => randomBytes(8).toString('hex'),
  log = (msg) => console.error(msg),
  verifier = null,
  clientIp = (req) => clientKey(req),
  limits: overrides = {},
} = {}) {
  const cfg = turnConfig(env);
  const stunEntry = cfg.stunUrls.length ? [{ urls: cfg.stunUrls }] : [];
  const limits = { ...DEFAULT_TURN_LIMITS, ...overrides };
  for (const [k, v] of Object.entries(limits)) {
    if (typeof v !== 'number' || !(v > 0)) throw new TypeError(`createTurnHandler: limits.${k} must be a positive number`);
  }

  // Only modes that hand out secrets check signatures (and load the engine).
  let verifierReady = null;
  if (cfg.mode !== 'stun') {
    verifierReady = Promise.resolve(verifier ?? loadVerifier());
    verifierReady.catch(() => {}); // reported per request
  }
  const perIp = new KeyedBuckets({ perSecond: limits.perIpPerMinute / 60, burst: limits.perIpPerMinute, now });
  const perPubkey = new KeyedBuckets({ perSecond: limits.perPubkeyPerMinute / 60, burst: limits.perPubkeyPerMinute, now });
  const verifyAll = new Bucket({ perSecond: limits.verifyPerSecond, burst: limits.verifyBurst, now });
  // Signatures already used, until their events could no longer pass the
  // window anyway: at most verifyPerSecond * 122 s of them. Keyed by the
  // signature, not the id: one key asking twice in one second signs the
  // same id twice, but BIP-340 signers draw fresh auxiliary randomness, so
  // only a replay repeats the signature.
  const used = new Map(); // sig -> ms after which it is stale
  let usedInserts = 0;
  const stats = { granted: 0, unauthorized: 0, rateLimited: 0, verifications: 0 };

  let cached = null;   // { iceServers, freshUntil, expiresAt } for Cloudflare
  let inflight = null; // the shared upstream call while one is running

  async function fetchCloudflare() {
    let res;
    try {
      res = await fetch(cfg.url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${cfg.token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ ttl: cfg.ttl }),
        redirect: 'error', // a redirect is unexpected; never resend the token elsewhere
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      if (err?.name === 'TimeoutError' || err?.name === 'AbortError') {
        throw new UpstreamError(`Cloudflare TURN API did not answer within ${timeoutMs} ms`);
      }
      // undici hides the socket error in .cause; its code (ECONNREFUSED, ...) is safe to show.
      const code = err?.cause?.code ?? err?.code;
      throw new UpstreamError(`Cloudflare TURN API request failed${typeof code === 'string' ? ` (${code})` : ''}`);
    }
    if (res.status < 200 || res.status > 299) {
      res.body?.cancel().catch(() => {});
      throw new UpstreamError(`Cloudflare TURN API answered HTTP ${res.status}`);
    }
    let text;
    try {
      text = await res.text(); // the timeout signal also bounds the body
    } catch (err) {
      const timedOut = err?.name === 'TimeoutError' || err?.name === 'AbortError';
      throw new UpstreamError(timedOut ? `Cloudflare TURN API did not answer within ${timeoutMs} ms` : 'Cloudflare TURN API answer was cut short');
    }
    if (text.length > MAX_UPSTREAM_BYTES) throw new UpstreamError('Cloudflare TURN API answer is too large');
    let body;
    try { body = JSON.parse(text); } catch { throw new UpstreamError('Cloudflare TURN API answered with invalid JSON'); }
    return iceServersFrom(body);
  }

  // -> { iceServers, ttl } with ttl what is left of the credentials' life.
  async function cloudflareServers() {
    if (!cached || now() >= cached.freshUntil) {
      // Counted from before the request: Cloudflare minted them after it,
      // so they never expire before we say.
      const asked = now();
      inflight ??= fetchCloudflare().then((iceServers) => {
        // Fresh until half the TTL is left, so a browser that keeps them
        // still has at least TTL/2 of validity.
        cached = { iceServers, freshUntil: asked + (cfg.ttl * 1000) / 2, expiresAt: asked + cfg.ttl * 1000 };
      }).finally(() => { inflight = null; });
      await inflight;
    }
    return { iceServers: cached.iceServers, ttl: Math.max(1, Math.floor((cached.expiresAt - now()) / 1000)) };
  }

  function coturnServers() {
    const expiry = Math.floor(now() / 1000) + cfg.ttl;
    return { iceServers: [{ urls: cfg.turnUrls, ...restCredentials(cfg.secret, expiry, userid()) }], ttl: cfg.ttl };
  }

  function send(res, status, body, extra = {}) {
    const json = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(json),
      'Cache-Control': 'no-store',
      ...extra,
    });
    res.end(json);
  }

  const retryAfter = (seconds) => ({ 'Retry-After': String(Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : 60) });
  function refuse(res, status, error, message, extra = {}) {
    if (status === 401) stats.unauthorized++;
    else stats.rateLimited++;
    send(res, status, { error, message }, extra);
  }

  // The pubkey a request proves, or null once the refusal is sent.
  async function authenticate(req, res) {
    const wait = perIp.take(clientIp(req));
    if (wait > 0) {
      refuse(res, 429, 'rate-limited', `over ${limits.perIpPerMinute} /turn requests a minute from this address`, retryAfter(wait));
      return null;
    }
    const t = now();
    const { event, reason } = readNip98(req, t / 1000);
    if (reason) {
      refuse(res, 401, 'unauthorized', reason, { 'WWW-Authenticate': 'Nostr' });
      return null;
    }
    if ((used.get(event.sig) ?? 0) > t) {
      refuse(res, 401, 'unauthorized', 'this auth event was already used: sign a new one per request', { 'WWW-Authenticate': 'Nostr' });
      return null;
    }
    const busy = verifyAll.take();
    if (busy > 0) {
      refuse(res, 503, 'busy', 'too many /turn requests on this server right now', retryAfter(busy));
      return null;
    }
    let v;
    try {
      v = await verifierReady;
    } catch (err) {
      log(`turn: cannot check signatures: ${err.message}`);
      send(res, 500, { error: 'internal', message: 'the server cannot check signatures' });
      return null;
    }
    stats.verifications++;
    if (v.verify(event) !== null) {
      refuse(res, 401, 'unauthorized', 'the auth event signature is invalid', { 'WWW-Authenticate': 'Nostr' });
      return null;
    }
    if (++usedInserts % 256 === 0) for (const [sig, until] of used) if (until <= t) used.delete(sig);
    used.set(event.sig, (event.created_at + AUTH_WINDOW_SECONDS) * 1000 + 1000);
    const later = perPubkey.take(event.pubkey);
    if (later > 0) {
      refuse(res, 429, 'rate-limited', `over ${limits.perPubkeyPerMinute} TURN credentials a minute for this pubkey`, retryAfter(later));
      return null;
    }
    return event.pubkey;
  }

  async function handler(req, res) {
    if (req.method !== 'GET') {
      send(res, 405, { error: 'method-not-allowed', message: 'use GET /turn' }, { Allow: 'GET' });
      return;
    }
    try {
      if (cfg.mode === 'stun') {
        send(res, 200, { iceServers: stunEntry, ttl: cfg.ttl });
        return;
      }
      if (!await authenticate(req, res)) return;
      const turn = cfg.mode === 'cloudflare' ? await cloudflareServers() : coturnServers();
      stats.granted++;
      send(res, 200, { iceServers: [...stunEntry, ...turn.iceServers], ttl: turn.ttl });
    } catch (err) {
      if (res.headersSent) return;
      if (err instanceof UpstreamError) {
        log(`turn: ${err.message}`);
        send(res, 502, { error: 'turn-upstream', message: err.message });
      } else {
        log('turn: internal error while minting credentials');
        send(res, 500, { error: 'internal', message: 'could not produce TURN credentials' });
      }
    }
  }
  handler.mode = cfg.mode;
  handler.limits = limits;
  // Counters for operators and tests: what was granted and refused.
  handler.stats = () => ({ ...stats });
  return handler;
}
