// turn.js -- GET /turn: an RTCConfiguration-shaped {"iceServers":[...]} with
// short-lived TURN credentials (DESIGN.md §6). The secrets that mint them stay
// on the server; the browser only ever sees the minted credentials.
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
// every mode. TURN_TTL is the credential lifetime in seconds (default 86400).
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
// The handler does not route: mount it on /turn. Node 20, no dependencies.

import { createHmac, randomBytes } from 'node:crypto';

const CLOUDFLARE_API = 'https://rtc.live.cloudflare.com/v1/turn/keys';
const DEFAULT_TTL = 86400;          // seconds; Cloudflare's documented example
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

/* Create the /turn request handler. `env` is read once, here (throws on a bad
** configuration). Options: `fetch` and `now` (ms clock) for tests,
** `timeoutMs` for the upstream request (default 5000), `userid()` for the
** coturn username suffix (default 8 random bytes, hex), `log` for upstream
** failures (default console.error; it never receives a secret). The returned
** handler carries `.mode` ('cloudflare' | 'coturn' | 'stun'). */
export function createTurnHandler(env = process.env, {
  fetch = globalThis.fetch,
  now = () => Date.now(),
  timeoutMs = 5000,
  userid = () => randomBytes(8).toString('hex'),
  log = (msg) => console.error(msg),
} = {}) {
  const cfg = turnConfig(env);
  const stunEntry = cfg.stunUrls.length ? [{ urls: cfg.stunUrls }] : [];

  let cached = null;   // { iceServers, freshUntil } for Cloudflare
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

  async function cloudflareServers() {
    if (cached && now() < cached.freshUntil) return cached.iceServers;
    if (!inflight) {
      inflight = fetchCloudflare().then((iceServers) => {
        // Fresh until half the TTL is left, so a browser that keeps them
        // still has at least TTL/2 of validity.
        cached = { iceServers, freshUntil: now() + (cfg.ttl * 1000) / 2 };
        return iceServers;
      }).finally(() => { inflight = null; });
    }
    return inflight;
  }

  function coturnServers() {
    const expiry = Math.floor(now() / 1000) + cfg.ttl;
    return [{ urls: cfg.turnUrls, ...restCredentials(cfg.secret, expiry, userid()) }];
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

  async function handler(req, res) {
    if (req.method !== 'GET') {
      send(res, 405, { error: 'method-not-allowed', message: 'use GET /turn' }, { Allow: 'GET' });
      return;
    }
    try {
      let turn = [];
      if (cfg.mode === 'cloudflare') turn = await cloudflareServers();
      else if (cfg.mode === 'coturn') turn = coturnServers();
      send(res, 200, { iceServers: [...stunEntry, ...turn] });
    } catch (err) {
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
  return handler;
}
