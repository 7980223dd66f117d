// turn-client.js -- asks the dev server's GET /turn (web/turn.js) for ICE
// servers, proving the user's pubkey with NIP-98 HTTP auth, for browsers
// and Node.
//
//   const { iceServers, expiresAt } = await fetchIceServers({
//     url: '/turn', sign: (template) => feed.sign(template) });
//   new RTCPeerConnection({ iceServers });   // ask again before expiresAt
//
// sign(template) turns the unsigned kind-27235 template {kind, created_at,
// tags, content} into a signed event (feed.sign, a NIP-07 signer, or
// nostr-tools' finalizeEvent). A relative `url` is resolved against the
// page (globalThis.location); outside a page it must be absolute. The
// event's "u" tag names that absolute URL and its "method" tag GET, as the
// server checks; a new event is signed for every call (the server accepts
// each once).
//
// Resolves to { iceServers, expiresAt } with expiresAt in ms since the
// epoch: the server's "ttl" counted from when the request was sent (so
// never later than the credentials' real end), or, from a server without
// "ttl", the expiry in a TURN REST API username ("<unix expiry>:<id>").
// Anything else rejects with an Error whose message says what went wrong
// and, for an HTTP refusal, `status` (401, 429, 503, ...) and `retryAfter`
// (seconds, when the server said).

import { toBase64 } from './bytes.js';

const AUTH_KIND = 27235;

function fail(message, extra = {}) {
  return Object.assign(new Error(`hiroba: TURN credentials: ${message}`), extra);
}

// The request's absolute URL: a page resolves a relative one against
// itself, as fetch would.
function absolute(url) {
  if (typeof url !== 'string' || url === '') throw new TypeError('fetchIceServers: url must be a non-empty string');
  const base = globalThis.location?.href;
  let href;
  try {
    href = new URL(url, base).href;
  } catch {
    throw new TypeError(base
      ? `fetchIceServers: ${JSON.stringify(url)} is not a URL`
      : `fetchIceServers: ${JSON.stringify(url)} must be an absolute http(s) URL outside a web page`);
  }
  if (!/^https?:/.test(href)) throw new TypeError(`fetchIceServers: ${JSON.stringify(url)} is not an http(s) URL`);
  return href;
}

// The expiry of TURN REST API credentials, from any username that has one.
function restExpiry(iceServers) {
  for (const s of iceServers) {
    const m = typeof s?.username === 'string' ? /^(\d{9,12}):/.exec(s.username) : null;
    if (m) return Number(m[1]) * 1000;
  }
  return null;
}

export async function fetchIceServers({ url, sign, fetch = globalThis.fetch, now = () => Date.now() } = {}) {
  const href = absolute(url);
  if (typeof sign !== 'function') throw new TypeError('fetchIceServers: sign(template) must be a function returning a signed event');
  if (typeof fetch !== 'function') throw new TypeError('fetchIceServers: no fetch here: pass one');

  const sentAt = now();
  let event;
  try {
    event = await sign({
      kind: AUTH_KIND,
      created_at: Math.floor(sentAt / 1000),
      tags: [['u', href], ['method', 'GET']],
      content: '',
    });
  } catch (err) {
    throw fail(`signing the NIP-98 auth event failed: ${err?.message ?? err}`);
  }
  if (!event || typeof event !== 'object' || typeof event.sig !== 'string' || typeof event.id !== 'string') {
    throw fail('sign(template) did not return a signed event');
  }

  let res;
  try {
    res = await fetch(href, {
      method: 'GET',
      headers: { Authorization: `Nostr ${toBase64(new TextEncoder().encode(JSON.stringify(event)))}`, Accept: 'application/json' },
    });
  } catch (err) {
    throw fail(`GET ${href} failed: ${err?.message ?? err}`);
  }
  let body = null;
  try { body = await res.json(); } catch { /* not JSON: said below */ }

  if (!res.ok) {
    const seconds = Number(res.headers?.get?.('retry-after'));
    const retryAfter = Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
    const said = typeof body?.message === 'string' ? `: ${body.message}` : '';
    const code = typeof body?.error === 'string' ? ` ${body.error}` : '';
    const wait = retryAfter !== undefined ? ` (retry after ${retryAfter} s)` : '';
    throw fail(`GET ${href} answered ${res.status}${code}${said}${wait}`, { status: res.status, retryAfter });
  }
  if (!body || !Array.isArray(body.iceServers)) throw fail(`GET ${href} answered without an iceServers list`);
  const { iceServers } = body;
  let expiresAt;
  if (typeof body.ttl === 'number' && Number.isFinite(body.ttl) && body.ttl > 0) {
    expiresAt = sentAt + body.ttl * 1000;
  } else {
    expiresAt = restExpiry(iceServers);
    if (expiresAt === null) throw fail(`GET ${href} answered without a ttl, and no username says when its credentials expire`);
  }
  return { iceServers, expiresAt };
}
