// relay-nip77.test.js -- NIP-77 against Hiroba's relay with two clients
// that are not ours: rust-nostr (@rust-nostr/nostr-sdk, its negentropy
// sync in dry-run mode) and nostr-tools' nip77. For 10, 2,000 and 20,000
// events, with and without an author filter, the ids each client learns
// it has and lacks must be exactly the sets' differences.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openFeed } from '../../js-glue/node.js';
import { startRelay } from '../../relay/server.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nostrToolsNip77Sync } from './fixtures/rust-nostr-sync.js';
import { makeRng, pickSeed } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'hiroba-relay-nip77-'));
const seed = pickSeed();
const rng = makeRng(seed);
const AUTHORS = 4;
let signers = [];

// Events signed by the engine (libsecp256k1: fast enough for 20,000; the
// relay and both clients check them as they would anyone's).
before(async () => {
  console.log(`# relay-nip77 seed ${seed} (HIROBA_SEED=${seed} to replay)`);
  signers = await Promise.all(Array.from({ length: AUTHORS }, (_, i) => openFeed({ path: join(dir, `author-${i}.db`) })));
});
after(async () => {
  for (const f of signers) await f.close();
  rmSync(dir, { recursive: true, force: true });
});

async function makeEvents(n) {
  const base = Math.floor(Date.now() / 1000) - 10 * n - 1000;
  const out = [];
  for (let i = 0; i < n; i++) {
    // Runs of equal timestamps, so the ids' order matters too.
    const created_at = base + Math.floor(i / 3) * 7;
    out.push(await signers[i % AUTHORS].sign({ kind: 1, content: `nip77 ${n} ${i} ${rng.int(1e9)}`, tags: [], created_at }));
  }
  return out;
}

// rust-nostr's sync, in a child process (fixtures/rust-nostr-child.js).
const CHILD = fileURLToPath(new URL('./fixtures/rust-nostr-child.js', import.meta.url));
function rustNostrSync(url, filter, events) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        const res = JSON.parse(out);
        if (res.error) reject(new Error(res.error));
        else resolve(res);
      } catch {
        reject(new Error(`rust-nostr child exited with ${code} and no answer`));
      }
    });
    child.stdin.end(JSON.stringify({ url, filter, events }));
  });
}

// A relay whose database holds `events` (merged before it starts: the same
// checks a publish gets, without a socket per event).
async function relayHolding(name, events) {
  const db = join(dir, `${name}.db`);
  const feed = await openFeed({ path: db, policy: { store: 'all', maxBytes: 0 } });
  for (let i = 0; i < events.length; i += 500) {
    const res = await feed.merge(events.slice(i, i + 500).map((e) => ['EVENT', e]));
    assert.equal(res.accepted.length, Math.min(500, events.length - i));
  }
  await feed.close();
  return startRelay({ port: 0, db });
}

for (const n of [10, 2000, 20000]) {
  test(`NIP-77, ${n.toLocaleString('en')} events: rust-nostr and nostr-tools learn exactly what differs, with and without an author filter`, { timeout: 600000 }, async () => {
    const all = await makeEvents(n);
    // About 10% only on the relay, 10% only at the client (at least one each).
    const onlyRelay = new Set();
    const onlyClient = new Set();
    for (const e of all) {
      const r = rng.int(10);
      if (r === 0) onlyRelay.add(e.id);
      else if (r === 1) onlyClient.add(e.id);
    }
    // (The one added is never one the other side alone has: that event
    // would then be on neither side.)
    if (!onlyRelay.size) onlyRelay.add(all.find((e) => !onlyClient.has(e.id)).id);
    if (!onlyClient.size) onlyClient.add(all.findLast((e) => !onlyRelay.has(e.id)).id);
    const relayEvents = all.filter((e) => !onlyClient.has(e.id));
    const clientEvents = all.filter((e) => !onlyRelay.has(e.id));
    const relay = await relayHolding(`relay-${n}`, relayEvents);
    try {
      const expect = (filter) => {
        const ok = (id) => !filter.authors || filter.authors.includes(all.find((e) => e.id === id).pubkey);
        return { have: [...onlyClient].filter(ok).sort(), need: [...onlyRelay].filter(ok).sort() };
      };
      for (const filter of [{}, { authors: [all[1].pubkey] }]) {
        const want = expect(filter);
        assert.deepEqual(await rustNostrSync(relay.url, filter, clientEvents), want, `rust-nostr, filter ${JSON.stringify(filter)}`);
        assert.deepEqual(await nostrToolsNip77Sync(relay.url, filter, clientEvents), want, `nostr-tools, filter ${JSON.stringify(filter)}`);
      }
    } finally {
      await relay.close();
    }
  });
}
