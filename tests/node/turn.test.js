// turn.test.js -- GET /turn (web/turn.js, DESIGN.md §6).
//
// Cloudflare mode runs against a local fake of the documented
// generate-ice-servers endpoint (node:http on 127.0.0.1) that checks what it
// is sent and can answer 201, the older single-object shape, 500, bad JSON,
// a wrong shape, or nothing at all. coturn mode runs against a real
// `turnserver` (Debian's coturn) on 127.0.0.1: credentials from the handler
// must let turnutils_uclient allocate and relay over UDP and TCP, and
// credentials signed with another secret, or expired, must be refused.
// The coturn tests skip, saying why, when coturn is not installed
// (scripts/setup-system.sh installs it).
//
// Credential modes need NIP-98 auth: every request here signs a fresh
// kind-27235 event (nostr-tools) naming the URL it asks, with created_at
// from the handler's clock when the test fakes one. The refusals (401, 429)
// and their bounds under attack are in turn-attack.test.js.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import { createTurnHandler, restCredentials } from '../../web/turn.js';
import { fetchIceServers } from '../../js-glue/turn-client.js';
import { startCoturn, haveCommand } from '../shared/coturn.js';

const TOKEN = 'cf-api-token-SHOULD-NEVER-LEAK-6f1c';
const KEY_ID = 'key-id-0123';
const UPSTREAM_SECRET_BODY = 'upstream-body-SHOULD-NOT-BE-ECHOED';
const quiet = () => {};

/* Listen on 127.0.0.1:0; returns { server, port, base, close }. close()
** also drops kept-alive and hanging connections. */
async function listen(handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    server,
    port,
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/* A NIP-98 Authorization header for `method` on `url`, signed with sk (a
** fresh key unless given) at `now` (ms). */
function nip98(url, { method = 'GET', sk = generateSecretKey(), now = Date.now() } = {}) {
  const event = finalizeEvent({
    kind: 27235,
    created_at: Math.floor(now / 1000),
    tags: [['u', url], ['method', method]],
    content: '',
  }, sk);
  return `Nostr ${Buffer.from(JSON.stringify(event)).toString('base64')}`;
}

/* GET (or another method) on our /turn mount, authenticated (a fresh key
** per call; `now` is the clock the handler under test runs on); the whole
** answer, raw too. */
async function ask(base, method = 'GET', { now, sk } = {}) {
  const url = `${base}/turn`;
  const res = await fetch(url, { method, headers: { authorization: nip98(url, { method, now, sk }) } });
  const text = await res.text();
  const headers = Object.fromEntries(res.headers);
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers, text, json, raw: JSON.stringify(headers) + text };
}

/* The fake Cloudflare endpoint. `behaviour` decides each answer; every
** request is recorded (method, path, headers, parsed body). */
async function fakeCloudflare() {
  const fake = { behaviour: 'ok', requests: [], problems: [] };
  const path = `/v1/turn/keys/${KEY_ID}/credentials/generate-ice-servers`;
  const srv = await listen((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      let parsed;
      try { parsed = JSON.parse(body); } catch { parsed = undefined; }
      fake.requests.push({ method: req.method, url: req.url, headers: req.headers, body: parsed });
      // What the documented API needs; anything else is a bug in turn.js.
      if (req.method !== 'POST') fake.problems.push(`method ${req.method}`);
      if (req.url !== path) fake.problems.push(`path ${req.url}`);
      if (req.headers.authorization !== `Bearer ${TOKEN}`) fake.problems.push('authorization header');
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) fake.problems.push(`content-type ${req.headers['content-type']}`);
      if (!parsed || !Number.isInteger(parsed.ttl) || Object.keys(parsed).length !== 1) fake.problems.push(`body ${body}`);
      const n = fake.requests.length;
      const documented = {
        iceServers: [
          { urls: ['stun:stun.cloudflare.com:3478', 'stun:stun.cloudflare.com:53'] },
          {
            urls: [
              'turn:turn.cloudflare.com:3478?transport=udp',
              'turn:turn.cloudflare.com:53?transport=udp',
              'turn:turn.cloudflare.com:3478?transport=tcp',
              'turn:turn.cloudflare.com:80?transport=tcp',
              'turns:turn.cloudflare.com:5349?transport=tcp',
              'turns:turn.cloudflare.com:443?transport=tcp',
            ],
            username: `cf-user-${n}`,
            credential: `cf-cred-${n}`,
          },
        ],
      };
      const json = (status, value) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      switch (fake.behaviour) {
        case 'ok': return json(201, documented);
        case 'legacy': return json(201, { iceServers: { urls: documented.iceServers[1].urls, username: `cf-user-${n}`, credential: `cf-cred-${n}` } });
        case 'extra-fields': return json(201, { iceServers: [{ ...documented.iceServers[1], secretStuff: UPSTREAM_SECRET_BODY }] });
        case '500': res.writeHead(500, { 'Content-Type': 'text/plain' }); return res.end(`${UPSTREAM_SECRET_BODY} ${TOKEN}`);
        case '401': return json(401, { error: UPSTREAM_SECRET_BODY });
        case 'bad-json': res.writeHead(201, { 'Content-Type': 'application/json' }); return res.end(`{"iceServers": [${UPSTREAM_SECRET_BODY}`);
        case 'wrong-shape': return json(201, { servers: [], note: UPSTREAM_SECRET_BODY });
        case 'turn-without-credential': return json(201, { iceServers: [{ urls: ['turn:turn.cloudflare.com:3478'] }] });
        case 'bad-url': return json(201, { iceServers: [{ urls: ['http://evil.example/'], username: 'u', credential: 'c' }] });
        case 'hang': return undefined; // never answers
        case 'hang-body': res.writeHead(201, { 'Content-Type': 'application/json' }); res.write('{"iceServers":'); return undefined;
        default: throw new Error(`fake: unknown behaviour ${fake.behaviour}`);
      }
    });
  });
  fake.url = `${srv.base}${path}`;
  fake.close = srv.close;
  return fake;
}

/* A handler mounted at /turn on a server of our own, closed after the test. */
async function mount(t, env, options = {}) {
  const logs = [];
  const handler = createTurnHandler(env, { log: (m) => logs.push(m), ...options });
  const srv = await listen((req, res) => {
    if (new URL(req.url, 'http://x').pathname !== '/turn') { res.writeHead(404); res.end(); return; }
    handler(req, res);
  });
  t.after(srv.close);
  return { base: srv.base, handler, logs };
}

function assertNoSecrets(answer, logs, ...secrets) {
  for (const s of secrets) {
    assert.ok(!answer.raw.includes(s), `the answer leaks ${JSON.stringify(s)}: ${answer.raw}`);
    assert.ok(!logs.join('\n').includes(s), `the log leaks ${JSON.stringify(s)}`);
  }
}

function assert502(answer, logs, pattern) {
  assert.equal(answer.status, 502, answer.text);
  assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(answer.headers['cache-control'], 'no-store');
  assert.equal(answer.json?.error, 'turn-upstream', answer.text);
  assert.equal(typeof answer.json.message, 'string');
  if (pattern) assert.match(answer.json.message, pattern);
  assertNoSecrets(answer, logs, TOKEN, UPSTREAM_SECRET_BODY, KEY_ID);
}

describe('Cloudflare mode (local fake of the documented API)', () => {
  let fake;
  before(async () => { fake = await fakeCloudflare(); });
  after(() => fake.close());
  const cfEnv = (extra = {}) => ({
    CLOUDFLARE_TURN_KEY_ID: KEY_ID,
    CLOUDFLARE_TURN_API_TOKEN: TOKEN,
    CLOUDFLARE_TURN_URL: fake.url,
    ...extra,
  });
  const reset = (behaviour = 'ok') => { fake.behaviour = behaviour; fake.requests.length = 0; fake.problems.length = 0; };

  test('POSTs {ttl} with the bearer token and answers the iceServers array', async (t) => {
    reset();
    const { base, handler, logs } = await mount(t, cfEnv({ TURN_TTL: '3600', STUN_URLS: 'stun:stun.example.org:3478, stun:stun2.example.org:19302' }));
    assert.equal(handler.mode, 'cloudflare');
    const a = await ask(base);
    assert.equal(a.status, 200, a.text);
    assert.equal(a.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(a.headers['cache-control'], 'no-store');
    assert.deepEqual(fake.problems, []);
    assert.equal(fake.requests.length, 1);
    assert.deepEqual(fake.requests[0].body, { ttl: 3600 });
    assert.ok(Array.isArray(a.json.iceServers));
    assert.deepEqual(a.json.iceServers[0], { urls: ['stun:stun.example.org:3478', 'stun:stun2.example.org:19302'] });
    assert.deepEqual(a.json.iceServers[1], { urls: ['stun:stun.cloudflare.com:3478', 'stun:stun.cloudflare.com:53'] });
    assert.equal(a.json.iceServers[2].username, 'cf-user-1');
    assert.equal(a.json.iceServers[2].credential, 'cf-cred-1');
    assert.ok(a.json.iceServers[2].urls.includes('turns:turn.cloudflare.com:5349?transport=tcp'));
    assert.deepEqual(Object.keys(a.json), ['iceServers', 'ttl']);
    assert.ok(a.json.ttl >= 3599 && a.json.ttl <= 3600, 'what is left of the TTL, rounded down'); // real clock
    assertNoSecrets(a, logs, TOKEN, KEY_ID);
  });

  test('default TTL is 600 and the default URL is Cloudflare\'s generate-ice-servers', async (t) => {
    reset();
    const seen = [];
    const spyFetch = async (url, init) => { seen.push({ url, init }); return fetch(fake.url, init); };
    const env = cfEnv();
    delete env.CLOUDFLARE_TURN_URL;
    const { base } = await mount(t, env, { fetch: spyFetch });
    const a = await ask(base);
    assert.equal(a.status, 200, a.text);
    assert.equal(seen[0].url, `https://rtc.live.cloudflare.com/v1/turn/keys/${KEY_ID}/credentials/generate-ice-servers`);
    assert.deepEqual(fake.requests[0].body, { ttl: 600 });
    assert.ok(a.json.ttl >= 599 && a.json.ttl <= 600);
    assert.deepEqual(fake.problems, []);
  });

  test('caches the answer until half the TTL is left; concurrent loads share one call', async (t) => {
    reset();
    let clock = 1_000_000_000_000;
    const { base } = await mount(t, cfEnv({ TURN_TTL: '600' }), { now: () => clock });
    const burst = await Promise.all(Array.from({ length: 8 }, () => ask(base, 'GET', { now: clock })));
    assert.equal(fake.requests.length, 1, 'eight simultaneous page loads make one upstream call');
    for (const a of burst) assert.equal(a.json.iceServers[1].username, 'cf-user-1');
    for (const a of burst) assert.equal(a.json.ttl, 600);
    clock += 299_000; // 301 s of the 600 s TTL left
    const cachedAnswer = await ask(base, 'GET', { now: clock });
    assert.equal(cachedAnswer.json.iceServers[1].username, 'cf-user-1');
    assert.equal(cachedAnswer.json.ttl, 301, 'a cached answer says what is left of its life');
    assert.equal(fake.requests.length, 1);
    clock += 2_000; // past half the TTL
    const fresh = await ask(base, 'GET', { now: clock });
    assert.equal(fake.requests.length, 2);
    assert.equal(fresh.json.iceServers[1].username, 'cf-user-2');
    assert.equal(fresh.json.ttl, 600);
    assert.deepEqual(fake.problems, []);
  });

  test('accepts the older single-object shape and answers an array', async (t) => {
    reset('legacy');
    const { base } = await mount(t, cfEnv());
    const a = await ask(base);
    assert.equal(a.status, 200, a.text);
    assert.ok(Array.isArray(a.json.iceServers));
    assert.equal(a.json.iceServers.length, 1);
    assert.equal(a.json.iceServers[0].username, 'cf-user-1');
  });

  test('passes only urls/username/credential through', async (t) => {
    reset('extra-fields');
    const { base, logs } = await mount(t, cfEnv());
    const a = await ask(base);
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(Object.keys(a.json.iceServers[0]).sort(), ['credential', 'urls', 'username']);
    assertNoSecrets(a, logs, UPSTREAM_SECRET_BODY);
  });

  for (const [behaviour, pattern] of [
    ['500', /HTTP 500/],
    ['401', /HTTP 401/],
    ['bad-json', /invalid JSON/],
    ['wrong-shape', /without iceServers/],
    ['turn-without-credential', /malformed/],
    ['bad-url', /malformed/],
  ]) {
    test(`upstream ${behaviour} gives 502 JSON without leaking, and is not cached`, async (t) => {
      reset(behaviour);
      const { base, logs } = await mount(t, cfEnv());
      const a = await ask(base);
      assert502(a, logs, pattern);
      assert.equal(logs.length, 1, 'the failure is logged once');
      fake.behaviour = 'ok';
      const b = await ask(base);
      assert.equal(b.status, 200, 'a failure is not cached');
      assert.equal(fake.requests.length, 2);
    });
  }

  for (const behaviour of ['hang', 'hang-body']) {
    test(`an upstream that ${behaviour === 'hang' ? 'never answers' : 'stalls mid-body'} gives 502 after the timeout`, async (t) => {
      reset(behaviour);
      const { base, logs } = await mount(t, cfEnv(), { timeoutMs: 300 });
      const a = await ask(base);
      assert502(a, logs, /did not answer within 300 ms/);
    });
  }

  test('an unreachable upstream gives 502', async (t) => {
    reset();
    const closed = await listen(() => {});
    await closed.close(); // nothing listens on this port now
    const { base, logs } = await mount(t, cfEnv({ CLOUDFLARE_TURN_URL: `${closed.base}/x` }));
    const a = await ask(base);
    assert502(a, logs, /request failed/);
  });

  test('other methods get 405 JSON and no upstream call', async (t) => {
    reset();
    const { base } = await mount(t, cfEnv());
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const a = await ask(base, method);
      assert.equal(a.status, 405);
      assert.equal(a.headers.allow, 'GET');
      assert.equal(a.json.error, 'method-not-allowed');
    }
    assert.equal(fake.requests.length, 0);
  });
});

describe('STUN-only mode and configuration checks', () => {
  test('no TURN configured: STUN_URLS, or an empty list', async (t) => {
    const none = await mount(t, {});
    assert.equal(none.handler.mode, 'stun');
    const a = await ask(none.base);
    assert.equal(a.status, 200);
    assert.equal(a.headers['cache-control'], 'no-store');
    assert.deepEqual(a.json, { iceServers: [], ttl: 600 });
    const stun = await mount(t, { STUN_URLS: 'stun:stun.example.org:3478,,' });
    assert.deepEqual((await ask(stun.base)).json, { iceServers: [{ urls: ['stun:stun.example.org:3478'] }], ttl: 600 });
    // Nothing secret is handed out, so no auth is needed (nor checked).
    const anonymous = await fetch(`${stun.base}/turn`);
    assert.equal(anonymous.status, 200);
    assert.deepEqual(await anonymous.json(), { iceServers: [{ urls: ['stun:stun.example.org:3478'] }], ttl: 600 });
  });

  test('bad configurations throw at creation, without echoing secrets', () => {
    const bad = [
      [{ CLOUDFLARE_TURN_KEY_ID: KEY_ID }, /CLOUDFLARE_TURN_API_TOKEN/],
      [{ CLOUDFLARE_TURN_API_TOKEN: TOKEN }, /CLOUDFLARE_TURN_KEY_ID/],
      [{ TURN_SECRET: 'shh-secret' }, /TURN_URLS/],
      [{ TURN_URLS: 'turn:127.0.0.1:3478' }, /TURN_SECRET/],
      [{ TURN_SECRET: 'shh-secret', TURN_URLS: 'stun:127.0.0.1:3478' }, /TURN_URLS entry/],
      [{ TURN_SECRET: 'shh-secret', TURN_URLS: 'http://127.0.0.1:3478' }, /TURN_URLS entry/],
      [{ STUN_URLS: 'turn:127.0.0.1:3478' }, /STUN_URLS entry/],
      [{ TURN_TTL: '-5' }, /TURN_TTL/],
      [{ TURN_TTL: '1.5' }, /TURN_TTL/],
      [{ TURN_TTL: 'a day' }, /TURN_TTL/],
      [{ CLOUDFLARE_TURN_URL: 'https://example.org/' }, /CLOUDFLARE_TURN_URL/],
      [{ CLOUDFLARE_TURN_KEY_ID: KEY_ID, CLOUDFLARE_TURN_API_TOKEN: TOKEN, CLOUDFLARE_TURN_URL: 'ftp://x/' }, /CLOUDFLARE_TURN_URL/],
      [{ CLOUDFLARE_TURN_KEY_ID: KEY_ID, CLOUDFLARE_TURN_API_TOKEN: TOKEN, TURN_SECRET: 'shh-secret', TURN_URLS: 'turn:127.0.0.1:3478' }, /choose one/],
    ];
    for (const [env, pattern] of bad) {
      assert.throws(() => createTurnHandler(env), (err) => {
        assert.match(err.message, pattern, JSON.stringify(env));
        assert.ok(!err.message.includes(TOKEN) && !err.message.includes('shh-secret'), err.message);
        return true;
      }, JSON.stringify(env));
    }
    // Empty strings count as unset.
    assert.equal(createTurnHandler({ CLOUDFLARE_TURN_KEY_ID: '', TURN_SECRET: ' ' }).mode, 'stun');
  });

  test('coturn credentials follow the TURN REST API (known answer)', () => {
    // HMAC-SHA1 computed independently: printf %s '1700000000:hiroba' | openssl dgst -sha1 -hmac SECRET -binary | base64
    assert.deepEqual(restCredentials('SECRET', 1700000000, 'hiroba'), {
      username: '1700000000:hiroba',
      credential: 'MEdukFWjImxvfaEMFmQ56iDCFkk=',
    });
  });

  test('coturn mode: username is expiry:id, credential the HMAC, secret never sent', async (t) => {
    const clock = 1_700_000_000_123;
    const { base, handler, logs } = await mount(t, {
      TURN_SECRET: 'shh-secret',
      TURN_URLS: 'turn:127.0.0.1:3478?transport=udp, turns:turn.example.org:5349?transport=tcp',
      STUN_URLS: 'stun:127.0.0.1:3478',
      TURN_TTL: '120',
    }, { now: () => clock, userid: () => 'abc' });
    assert.equal(handler.mode, 'coturn');
    const a = await ask(base, 'GET', { now: clock });
    assert.equal(a.status, 200);
    assert.equal(a.headers['cache-control'], 'no-store');
    assert.deepEqual(a.json.iceServers, [
      { urls: ['stun:127.0.0.1:3478'] },
      { urls: ['turn:127.0.0.1:3478?transport=udp', 'turns:turn.example.org:5349?transport=tcp'], ...restCredentials('shh-secret', 1_700_000_120, 'abc') },
    ]);
    assert.equal(a.json.ttl, 120);
    assertNoSecrets(a, logs, 'shh-secret');
    // The default id is random, so two loads get different usernames.
    const r = await mount(t, { TURN_SECRET: 'shh-secret', TURN_URLS: 'turn:127.0.0.1:3478' });
    const [u1, u2] = [(await ask(r.base)).json.iceServers[0].username, (await ask(r.base)).json.iceServers[0].username];
    assert.match(u1, /^\d{10}:[0-9a-f]{16}$/);
    assert.notEqual(u1, u2);
  });
});

// --- NIP-98 auth and the client ---------------------------------------------

describe('NIP-98 auth (coturn mode, minting only)', () => {
  const env = { TURN_SECRET: 'shh-secret', TURN_URLS: 'turn:127.0.0.1:3478' };

  /* A signed kind-27235 event; `over` replaces template fields; `after`
  ** edits the signed event. -> the Authorization header. */
  const header = (over = {}, after = (e) => e) => {
    const e = finalizeEvent({ kind: 27235, created_at: Math.floor(Date.now() / 1000), tags: [], content: '', ...over }, generateSecretKey());
    return `Nostr ${Buffer.from(JSON.stringify(after({ ...e }))).toString('base64')}`;
  };
  const raw = async (url, headers = {}) => {
    const res = await fetch(url, { headers });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: Object.fromEntries(res.headers), text, json };
  };

  test('refused with 401 JSON, saying why, unless the header proves a pubkey for this request', async (t) => {
    const { base, handler } = await mount(t, env);
    const url = `${base}/turn`;
    const now = Math.floor(Date.now() / 1000);
    const good = [['u', url], ['method', 'GET']];
    const cases = {
      'no header': [undefined, /needs NIP-98 auth/],
      'another scheme': ['Bearer abc', /"Nostr <base64 event>"/],
      'not base64 JSON': ['Nostr !!!!', /"Nostr <base64 event>"/],
      'base64 of garbage': [`Nostr ${Buffer.from('{"kind":').toString('base64')}`, /not base64 of JSON/],
      'an array': [`Nostr ${Buffer.from('[1]').toString('base64')}`, /JSON object/],
      'wrong kind': [header({ kind: 22242, tags: good }), /kind 27235/],
      'no method tag': [header({ tags: [['u', url]] }), /method/],
      'method POST': [header({ tags: [['u', url], ['method', 'POST']] }), /method/],
      'no u tag': [header({ tags: [['method', 'GET']] }), /"u"/],
      'relative u': [header({ tags: [['u', '/turn'], ['method', 'GET']] }), /"u"/],
      'u of another path': [header({ tags: [['u', `${base}/turn2`], ['method', 'GET']] }), /not the URL of this request/],
      'u of another host': [header({ tags: [['u', 'http://evil.example/turn'], ['method', 'GET']] }), /not the URL of this request/],
      'u with a query': [header({ tags: [['u', `${url}?x=1`], ['method', 'GET']] }), /not the URL of this request/],
      'u not http': [header({ tags: [['u', `ftp://127.0.0.1/turn`], ['method', 'GET']] }), /"u"/],
      // Well past the 60 s window either way (a busy machine may take a
      // few seconds between signing and checking).
      '70 s old': [header({ tags: good, created_at: now - 70 }), /not fresh/],
      '70 s ahead': [header({ tags: good, created_at: now + 70 }), /not fresh/],
      'content changed after signing': [header({ tags: good }, (e) => ({ ...e, content: 'x' })), /id does not match/],
      'bad signature': [header({ tags: good }, (e) => ({ ...e, sig: e.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')) })), /signature is invalid/],
      'uppercase sig': [header({ tags: good }, (e) => ({ ...e, sig: e.sig.toUpperCase() })), /sig must be/],
      'huge header': [`Nostr ${'A'.repeat(10_000)}`, /too large/],
    };
    for (const [label, [authorization, pattern]] of Object.entries(cases)) {
      const a = await raw(url, authorization === undefined ? {} : { authorization });
      assert.equal(a.status, 401, `${label}: ${a.text}`);
      assert.equal(a.headers['www-authenticate'], 'Nostr', label);
      assert.equal(a.headers['content-type'], 'application/json; charset=utf-8', label);
      assert.equal(a.json?.error, 'unauthorized', label);
      assert.match(a.json.message, pattern, `${label}: ${a.json.message}`);
      assert.ok(!a.text.includes('evil.example') && !a.text.includes('shh-secret'), `${label}: nothing echoed`);
    }
    // Within the window either way is accepted; case of the scheme does not matter.
    for (const created_at of [now - 45, now + 55]) {
      const a = await raw(url, { authorization: header({ tags: good, created_at }).replace(/^Nostr/, 'nostr') });
      assert.equal(a.status, 200, a.text);
    }
    // The scheme of "u" is not compared (TLS ends at a proxy), host and path are.
    const https = await raw(url, { authorization: header({ tags: [['u', url.replace('http:', 'https:')], ['method', 'GET']] }) });
    assert.equal(https.status, 200, https.text);
    assert.equal(handler.stats().granted, 3);
  });

  test('an auth event is good for one request', async (t) => {
    const { base } = await mount(t, env);
    const url = `${base}/turn`;
    const authorization = nip98(url);
    assert.equal((await raw(url, { authorization })).status, 200);
    const again = await raw(url, { authorization });
    assert.equal(again.status, 401);
    assert.match(again.json.message, /already used/);
  });

  test('the Host the request names is what "u" must match', async (t) => {
    const { base } = await mount(t, env);
    const signed = 'http://turn.example.org/turn';
    const res = await new Promise((resolve, reject) => {
      const req = http.request(`${base}/turn`, { headers: { host: 'turn.example.org', authorization: nip98(signed) } }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res, 200);
  });
});

describe('fetchIceServers (js-glue/turn-client.js)', () => {
  const env = { TURN_SECRET: 'shh-secret', TURN_URLS: 'turn:127.0.0.1:3478', STUN_URLS: 'stun:127.0.0.1:3478', TURN_TTL: '300' };
  const signer = (sk = generateSecretKey()) => async (template) => finalizeEvent(template, sk);

  test('signs a NIP-98 event for the URL and resolves to { iceServers, expiresAt }', async (t) => {
    const { base } = await mount(t, env);
    const templates = [];
    const sk = generateSecretKey();
    const before = Date.now();
    const { iceServers, expiresAt } = await fetchIceServers({
      url: `${base}/turn`,
      sign: async (template) => { templates.push(structuredClone(template)); return finalizeEvent(template, sk); },
    });
    assert.deepEqual(templates, [{ kind: 27235, created_at: templates[0].created_at, tags: [['u', `${base}/turn`], ['method', 'GET']], content: '' }]);
    assert.ok(Math.abs(templates[0].created_at - before / 1000) < 5);
    assert.deepEqual(iceServers[0], { urls: ['stun:127.0.0.1:3478'] });
    assert.match(iceServers[1].username, /^\d{10}:[0-9a-f]{16}$/);
    assert.ok(expiresAt >= before + 300_000 && expiresAt <= Date.now() + 300_000, `expiresAt ${expiresAt}`);
    // The credentials outlive expiresAt, never the reverse.
    assert.ok(expiresAt <= Number(iceServers[1].username.split(':')[0]) * 1000 + 1000);
  });

  test('a relative URL resolves against the page (location), as in a browser', async (t) => {
    const { base } = await mount(t, env);
    const had = Object.getOwnPropertyDescriptor(globalThis, 'location');
    Object.defineProperty(globalThis, 'location', { value: new URL(`${base}/app/index.html`), configurable: true });
    t.after(() => {
      if (had) Object.defineProperty(globalThis, 'location', had);
      else delete globalThis.location;
    });
    const seen = [];
    const { iceServers } = await fetchIceServers({ url: '/turn', sign: async (tpl) => { seen.push(tpl.tags[0][1]); return finalizeEvent(tpl, generateSecretKey()); } });
    assert.deepEqual(seen, [`${base}/turn`]);
    assert.equal(iceServers.length, 2);
  });

  test('clear errors: relative URL outside a page, refusals with status, retryAfter, a failing signer', async (t) => {
    const { base } = await mount(t, env, { limits: { perPubkeyPerMinute: 1 } });
    if (!globalThis.location) {
      await assert.rejects(fetchIceServers({ url: '/turn', sign: signer() }), (err) => err instanceof TypeError && /absolute/.test(err.message));
    }
    await assert.rejects(fetchIceServers({ url: `${base}/turn` }), TypeError);
    // A signer that signs with another key than it claims: the id no longer matches.
    const liar = async (tpl) => ({ ...finalizeEvent(tpl, generateSecretKey()), pubkey: 'a'.repeat(64) });
    await assert.rejects(fetchIceServers({ url: `${base}/turn`, sign: liar }), (err) => {
      assert.equal(err.status, 401);
      assert.match(err.message, /401 unauthorized: the auth event id does not match/);
      return true;
    });
    await assert.rejects(fetchIceServers({ url: `${base}/turn`, sign: async () => { throw new Error('locked'); } }), /signing the NIP-98 auth event failed: locked/);
    await assert.rejects(fetchIceServers({ url: `${base}/turn`, sign: async () => 'nope' }), /did not return a signed event/);
    const sk = generateSecretKey();
    await fetchIceServers({ url: `${base}/turn`, sign: signer(sk) });
    await assert.rejects(fetchIceServers({ url: `${base}/turn`, sign: signer(sk) }), (err) => {
      assert.equal(err.status, 429);
      assert.ok(err.retryAfter >= 1 && err.retryAfter <= 60, String(err.retryAfter));
      assert.match(err.message, /429 rate-limited: over 1 TURN credentials a minute for this pubkey \(retry after \d+ s\)/);
      return true;
    });
    const nobody = await listen(() => {});
    await nobody.close();
    await assert.rejects(fetchIceServers({ url: `${nobody.base}/turn`, sign: signer() }), /GET .* failed/);
  });

  test('without a ttl field, the TURN REST username says when the credentials end', async (t) => {
    const expiry = Math.floor(Date.now() / 1000) + 123;
    const srv = await listen((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ iceServers: [{ urls: ['turn:x'], username: `${expiry}:abc`, credential: 'c' }] }));
    });
    t.after(srv.close);
    const { expiresAt } = await fetchIceServers({ url: `${srv.base}/turn`, sign: signer() });
    assert.equal(expiresAt, expiry * 1000);
  });
});

// --- coturn ------------------------------------------------------------------

/* Run a command to completion; kills it after `timeoutMs`. */
function run(cmd, args, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out }); });
  });
}

const COTURN_SECRET = 'coturn-static-secret-7d2a';

describe('coturn mode (real turnserver on 127.0.0.1)', () => {
  const missing = ['turnserver', 'turnutils_uclient'].filter((c) => !haveCommand(c));
  const skip = missing.length ? `${missing.join(', ')} missing: install Debian's coturn (scripts/setup-system.sh)` : false;
  let coturn = null; // startCoturn()'s { port, log(), stop(), child }

  before(async () => {
    if (skip) return;
    coturn = await startCoturn({ secret: COTURN_SECRET });
  });

  after(async () => {
    await coturn?.stop();
  });

  const env = () => ({
    TURN_SECRET: COTURN_SECRET,
    TURN_URLS: `turn:127.0.0.1:${coturn.port}?transport=udp,turn:127.0.0.1:${coturn.port}?transport=tcp`,
    STUN_URLS: `stun:127.0.0.1:${coturn.port}`,
  });
  const turnEntry = (a) => a.json.iceServers.find((s) => s.urls.some((u) => u.startsWith('turn:')));
  // -y: two clients relay to each other through their allocations (no peer
  // process needed); -n 4 messages each; -t: TCP to the server.
  const uclient = (user, credential, ...flags) =>
    run('turnutils_uclient', ['-u', user, '-w', credential, '-p', String(coturn.port), '-n', '4', '-m', '1', '-y', ...flags, '127.0.0.1']);
  // The last progress line has the totals.
  const received = (out) => Number([...out.matchAll(/tot_recv_msgs=(\d+)/g)].at(-1)?.[1] ?? 0);
  // coturn's own word on a username: wait (briefly) for its log line.
  const coturnSaid = async (pattern) => {
    for (let i = 0; i < 50 && !pattern.test(coturn.log()); i++) await new Promise((r) => setTimeout(r, 100));
    return pattern.test(coturn.log());
  };
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const report = (r) => `uclient exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n${r.out}\n--- turnserver log (tail) ---\n${coturn.log().slice(-4000)}`;

  for (const [name, flags] of [['UDP', []], ['TCP', ['-t']]]) {
    test(`credentials from /turn allocate and relay (${name})`, { skip }, async (t) => {
      const { base } = await mount(t, env());
      // As a page gets them: through the client, signed by the user's key.
      const { iceServers } = await fetchIceServers({ url: `${base}/turn`, sign: async (tpl) => finalizeEvent(tpl, generateSecretKey()) });
      const { username, credential } = turnEntry({ json: { iceServers } });
      assert.ok(Number(username.split(':')[0]) <= Date.now() / 1000 + 600, 'the default lifetime is at most 10 minutes');
      const r = await uclient(username, credential, ...flags);
      assert.equal(r.code, 0, report(r));
      assert.doesNotMatch(r.out, /ERROR/, report(r));
      assert.ok(received(r.out) > 0, `no packets came back through the relay\n${report(r)}`);
      assert.ok(await coturnSaid(new RegExp(`user <${esc(username)}>: incoming packet ALLOCATE processed, success`)), report(r));
    });
  }

  test('coturn refuses credentials signed with another secret', { skip }, async (t) => {
    const { base } = await mount(t, { ...env(), TURN_SECRET: 'not-the-coturn-secret' });
    const { username, credential } = turnEntry(await ask(base));
    const r = await uclient(username, credential);
    assert.notEqual(r.code, 0, report(r));
    assert.match(r.out, /Cannot complete Allocation/, report(r));
    assert.equal(received(r.out), 0, report(r));
    assert.ok(await coturnSaid(new RegExp(`user <${esc(username)}>: incoming packet message processed, error 401`)), report(r));
  });

  test('coturn refuses expired credentials', { skip }, async (t) => {
    // A clock two TTLs in the past mints a username whose expiry has passed.
    const { base } = await mount(t, { ...env(), TURN_TTL: '600' }, { now: () => Date.now() - 1_200_000 });
    const { username, credential } = turnEntry(await ask(base, 'GET', { now: Date.now() - 1_200_000 }));
    assert.ok(Number(username.split(':')[0]) < Date.now() / 1000);
    const r = await uclient(username, credential);
    assert.notEqual(r.code, 0, report(r));
    assert.match(r.out, /Cannot complete Allocation/, report(r));
    assert.ok(await coturnSaid(new RegExp(`user <${esc(username)}>: incoming packet message processed, error 401`)), report(r));
  });

  test('coturn is still running after the refusals', { skip }, () => {
    assert.equal(coturn.child.exitCode, null, coturn.log());
  });
});
