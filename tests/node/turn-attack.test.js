// turn-attack.test.js -- harvesting TURN credentials from GET /turn. Before
// the fix it gave 24-hour coturn credentials to anyone who asked (1,392 in
// 2 s from one script). Now, on the real dev server in front of a real
// coturn (tests/shared/coturn.js):
//   - without NIP-98 auth nothing is handed out (401);
//   - one address gets at most 30 answers a minute (burst 30) of any kind,
//     which also bounds the signatures it can make us check; beyond: 429
//     with Retry-After;
//   - one pubkey gets at most 10 credentials a minute (burst 10): 429;
//   - all addresses together make at most verifyBurst + verifyPerSecond * T
//     signature checks: 503 beyond;
//   - credentials live at most TURN_TTL, 600 s by default;
// while an honest client on another address gets credentials that coturn
// accepts for a relayed allocation, and the server stays up. Bounds are
// asserted on counts, never on timing. Skips, saying why, without coturn.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';

import { DEFAULT_TURN_LIMITS } from '../../web/turn.js';
import { fetchIceServers } from '../../js-glue/turn-client.js';
import { startCoturn, haveCommand } from '../shared/coturn.js';
import { serve } from './signal-attack-helpers.js';

const SECRET = 'turn-attack-coturn-secret';
const missing = ['turnserver', 'turnutils_uclient'].filter((c) => !haveCommand(c));
const skip = missing.length ? `${missing.join(', ')} missing: install Debian's coturn (scripts/setup-system.sh)` : false;

function nip98(url, sk = generateSecretKey()) {
  const event = finalizeEvent({ kind: 27235, created_at: Math.floor(Date.now() / 1000), tags: [['u', url], ['method', 'GET']], content: '' }, sk);
  return `Nostr ${Buffer.from(JSON.stringify(event)).toString('base64')}`;
}

// GET from a chosen local address. -> { status, headers, json }
function get(url, { localAddress, authorization } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, agent: false, headers: authorization ? { authorization } : {} }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, json });
      });
    });
    req.on('error', reject);
  });
}

// n requests, `concurrency` at a time; make(i) -> request options.
async function blast(url, n, make, concurrency = 16) {
  const answers = [];
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      answers.push(await get(url, make(i)));
    }
  }));
  return answers;
}

const count = (answers, status) => answers.filter((a) => a.status === status).length;

function run(cmd, args, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

describe('credential harvesting against /turn (real coturn)', { skip }, () => {
  let coturn = null;
  before(async () => { coturn = await startCoturn({ secret: SECRET }); });
  after(async () => { await coturn?.stop(); });
  const turnEnv = () => ({
    TURN_SECRET: SECRET,
    TURN_URLS: `turn:127.0.0.1:${coturn.port}?transport=udp`,
  });
  const L = DEFAULT_TURN_LIMITS;

  test('anonymous, one-key and many-key floods from one address; an honest client still relays', async (t) => {
    const app = await serve(t, { turnEnv: turnEnv() });
    const url = `http://127.0.0.1:${app.port}/turn`;
    const start = Date.now();

    // The attack as reported: ask without auth, fast. Nothing is handed out.
    const anonymous = await blast(url, 300, () => ({ localAddress: '127.0.5.1' }));
    assert.equal(count(anonymous, 200), 0, 'no credentials without auth');
    assert.equal(count(anonymous, 401) + count(anonymous, 429), 300);
    assert.ok(count(anonymous, 401) <= L.perIpPerMinute + 1, 'the address budget counts refused requests too');
    for (const a of anonymous.filter((x) => x.status === 429)) assert.ok(Number(a.headers['retry-after']) >= 1);
    for (const a of anonymous.filter((x) => x.status === 401)) {
      assert.equal(a.json.error, 'unauthorized');
      assert.match(a.json.message, /NIP-98/);
    }

    // One key, properly signed, from a fresh address: 10 credentials.
    const sk = generateSecretKey();
    const oneKey = await blast(url, 40, () => ({ localAddress: '127.0.5.2', authorization: nip98(url, sk) }));
    const elapsedOne = (Date.now() - start) / 60_000; // minutes
    assert.ok(count(oneKey, 200) <= L.perPubkeyPerMinute * (1 + elapsedOne) + 1, `${count(oneKey, 200)} credentials for one key`);
    assert.ok(count(oneKey, 200) >= 1);
    assert.equal(count(oneKey, 200) + count(oneKey, 429), 40);
    const limited = oneKey.find((a) => a.status === 429);
    assert.match(limited.json.message, /pubkey/);
    assert.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 60);

    // A fresh key per request from another address: 30, then 429.
    const manyKeys = await blast(url, 80, () => ({ localAddress: '127.0.5.3', authorization: nip98(url) }));
    const elapsed = (Date.now() - start) / 60_000;
    const granted = count(manyKeys, 200);
    t.diagnostic(`one address, fresh keys: ${granted} of 80 granted; one key: ${count(oneKey, 200)} of 40; anonymous: 0 of 300`);
    assert.ok(granted <= L.perIpPerMinute * (1 + elapsed) + 1, `${granted} credentials for one address`);
    assert.equal(granted + count(manyKeys, 429), 80);

    // Every credential handed out lives at most 600 s.
    for (const a of [...oneKey, ...manyKeys].filter((x) => x.status === 200)) {
      assert.equal(a.json.ttl, 600);
      const expiry = Number(a.json.iceServers[0].username.split(':')[0]);
      assert.ok(expiry <= Date.now() / 1000 + 600 + 1, 'at most 10 minutes');
    }
    const stats = app.turn.stats();
    assert.equal(stats.granted, count(oneKey, 200) + granted);

    // The honest client, on its own address, through js-glue/turn-client.js.
    const { iceServers, expiresAt } = await fetchIceServers({ url, sign: async (tpl) => finalizeEvent(tpl, generateSecretKey()) });
    assert.ok(expiresAt <= Date.now() + 600_000);
    const { username, credential } = iceServers[0];
    const r = await run('turnutils_uclient', ['-u', username, '-w', credential, '-p', String(coturn.port), '-n', '4', '-m', '1', '-y', '127.0.0.1']);
    assert.equal(r.code, 0, `${r.out}\n${coturn.log().slice(-3000)}`);
    assert.ok(Number([...r.out.matchAll(/tot_recv_msgs=(\d+)/g)].at(-1)?.[1] ?? 0) > 0, r.out);
    // The server is up, and so is coturn.
    assert.equal((await get(`http://127.0.0.1:${app.port}/`)).status, 200);
    assert.equal(coturn.child.exitCode, null);
  });

  test('forged signatures from many addresses: the server-wide check budget holds', async (t) => {
    const limits = { verifyPerSecond: 10, verifyBurst: 10, perIpPerMinute: 1000 };
    const app = await serve(t, { turnEnv: turnEnv(), turn: { limits } });
    const url = `http://127.0.0.1:${app.port}/turn`;
    // Well-formed events with a correct id and a random signature: only
    // the signature check can refuse them.
    const forged = () => {
      const e = JSON.parse(Buffer.from(nip98(url).slice(6), 'base64').toString());
      e.sig = [...Array(128)].map(() => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
      return `Nostr ${Buffer.from(JSON.stringify(e)).toString('base64')}`;
    };
    const start = Date.now();
    const answers = await blast(url, 200, (i) => ({ localAddress: `127.0.6.${1 + (i % 20)}`, authorization: forged() }));
    const elapsed = (Date.now() - start) / 1000;
    const checks = app.turn.stats().verifications;
    t.diagnostic(`${checks} signature checks for 200 forgeries in ${elapsed.toFixed(1)} s; ${count(answers, 503)} answered 503`);
    assert.ok(checks <= limits.verifyBurst + limits.verifyPerSecond * elapsed + 1, `${checks} checks`);
    assert.equal(count(answers, 200), 0);
    assert.equal(count(answers, 401) + count(answers, 503), 200);
    assert.ok(count(answers, 503) > 0);
    assert.ok(answers.filter((a) => a.status === 503).every((a) => Number(a.headers['retry-after']) >= 1));
  });
});
