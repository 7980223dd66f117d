// Verifying in parallel (js-glue/verify-pool.js, docs/DESIGN.md): what a
// verifier vouches for, what a vouch covers in the engine (exactly one id
// and signature, the id still computed from the frame), and that a peer's
// batch merged through the verifier threads comes out as the engine alone
// makes it: the same accepted events, the same rejections with the same
// reasons, the same memory of refused signatures.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packFrames, VOUCH_SIZE } from '../../js-glue/engine.js';
import { mergePipelined, CHUNK_BYTES } from '../../js-glue/verify-pool.js';
import { nodeVerifyPool } from '../../js-glue/verify-node.js';
import { serve, verifierEngine } from '../../js-glue/verify-core.js';
import { createNodeStorage } from '../../js-glue/storage-node.js';
import { engineWasm, instantiateEngine, tempFeed, makeAuthor } from './helpers.js';

// An engine with no database, as a verifier has.
const bareEngine = () => instantiateEngine({});

// An engine with its own database, as the owner of a feed has (a file
// that tempFeed made, closed there).
async function ownerEngine(t, name) {
  const { feed, path } = await tempFeed(t, name);
  await feed.close();
  const owner = await instantiateEngine(createNodeStorage());
  const db = owner.open(path);
  t.after(() => owner.close(db));
  owner.setPolicy(db, JSON.stringify({ store: 'all', maxBytes: 0 }));
  return { owner, db };
}

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const flip = (h) => (h[0] === '0' ? '1' : '0') + h.slice(1);

function corpus(n, seed = 'pool') {
  const x = makeAuthor(seed);
  return Array.from({ length: n }, (_, i) => x.sign({ content: `note ${i} ${'x'.repeat(i % 300)}` }));
}

test('vouch: one record (id, sig) per valid event, in frames of every shape; forged and malformed ones get none', async () => {
  const engine = await bareEngine();
  const [a, b, c, d] = corpus(4);
  const forged = { ...c, sig: flip(c.sig) };
  const badId = { ...d, content: 'changed' };
  const frames = [
    JSON.stringify(['EVENT', a]),
    JSON.stringify(['EVENT', 'sub', b]),
    JSON.stringify(['EVENT', forged]),
    JSON.stringify(['EVENT', badId]),
    '["EVENT", {"id": 1}]',
    'not json',
    JSON.stringify([['EVENT', d], ['REQ', 's', {}]]), // a batch inside a frame
  ];
  const { bytes, lens } = packFrames(frames);
  const out = engine.vouch(bytes, lens);
  assert.equal(out.length % VOUCH_SIZE, 0);
  const got = [];
  for (let i = 0; i < out.length; i += VOUCH_SIZE) got.push([hex(out.subarray(i, i + 32)), hex(out.subarray(i + 32, i + VOUCH_SIZE))]);
  assert.deepEqual(got, [[a.id, a.sig], [b.id, b.sig], [d.id, d.sig]]);
});

test('a vouch covers exactly its (id, sig): another signature of the same id, or other content under the id, is still checked and refused', async (t) => {
  const engine = await bareEngine();
  const { owner, db } = await ownerEngine(t, 'cover.db');
  const [a, b] = corpus(2, 'cover');
  const vouches = engine.vouch(...Object.values(packFrames([JSON.stringify(['EVENT', a]), JSON.stringify(['EVENT', b])])));
  assert.equal(vouches.length, 2 * VOUCH_SIZE);
  const forgedA = { ...a, sig: flip(a.sig) };     // same id, another signature
  const changedB = { ...b, content: 'changed' };  // b's id and sig, other content
  const frames = [['EVENT', forgedA], ['EVENT', changedB], ['EVENT', a]].map((f) => JSON.stringify(f));
  const { bytes, lens } = packFrames(frames);
  const results = JSON.parse(owner.mergeVouched(db, 1, bytes, lens, 0, vouches));
  assert.deepEqual(results.map((r) => r.accepted), [[], [], [a.id]]);
  assert.equal(results[0].rejected[0].reason, 'invalid: bad signature');
  assert.match(results[1].rejected[0].reason, /^invalid: .*id/);
});

test('a batch through the verifier threads: the same results as the engine alone, forged signatures refused with the same reasons and remembered', async (t) => {
  const { owner, db } = await ownerEngine(t, 'alone.db');
  const { feed: piped } = await tempFeed(t, 'piped.db');
  const events = corpus(600, 'batch');
  const frames = events.map((e, i) => {
    if (i % 50 === 7) return JSON.stringify(['EVENT', 'f', { ...e, sig: flip(e.sig) }]);
    if (i % 97 === 3) return JSON.stringify(['EVENT', 'f', { ...e, content: `${e.content}!` }]);
    return JSON.stringify(['EVENT', 'f', e]);
  });
  frames.splice(300, 0, '["REQ","q",{"limit":2}]', 'garbage', '["EOSE","f"]');
  assert.ok(frames.join('').length > 4 * CHUNK_BYTES, 'several chunks');
  const strip = (rs) => rs.map((r) => ({ ...r, replies: r.replies.map((f) => f[0]) }));
  const engineAlone = JSON.parse(owner.mergeBatch(db, 1, frames, 1 << 30));
  const pipelined = await piped.mergeBatch(1, frames, 1 << 30);
  assert.equal(pipelined.length, frames.length);
  assert.deepEqual(strip(pipelined), strip(engineAlone));
  const reasons = pipelined.flatMap((r) => r.rejected.map((x) => x.reason));
  assert.equal(reasons.filter((r) => r === 'invalid: bad signature').length, 12);
  // Sent again, a refused signature is refused from memory, the same way.
  const again = await piped.mergeBatch(2, frames.filter((f, i) => i < 300 && i % 50 === 7), 0);
  assert.ok(again.every((r) => r.rejected[0]?.reason === 'invalid: bad signature'));
});

test('budget: the pipelined call stops once the results pass it, and the rest goes in the next call', async (t) => {
  const { feed } = await tempFeed(t);
  const events = corpus(400, 'budget');
  await feed.merge(events.slice(0, 200).map((e) => ['EVENT', e]));
  // REQs by ids (answers of ~30 KiB each) between runs of new events, so
  // that the frames span several chunks; a 64 KiB budget takes a few REQs.
  const frames = [];
  for (let i = 0; i < 4; i++) {
    frames.push(JSON.stringify(['REQ', `r${i}`, { ids: events.slice(i * 50, i * 50 + 50).map((e) => e.id) }]));
    for (const e of events.slice(200 + i * 50, 250 + i * 50)) frames.push(JSON.stringify(['EVENT', 's', e]));
  }
  assert.ok(frames.join('').length > CHUNK_BYTES, 'more than one chunk');
  const first = await feed.mergeBatch(1, frames, 64 * 1024);
  assert.ok(first.length >= 1 && first.length < frames.length, `${first.length} of ${frames.length} applied`);
  const rest = await feed.mergeBatch(1, frames.slice(first.length), 0);
  assert.equal(first.length + rest.length, frames.length);
  assert.equal(await feed.count({}), 400);
});

test('a verifier that dies costs speed, not results: its chunks are verified by the engine', async (t) => {
  const { owner, db } = await ownerEngine(t, 'dies.db');
  const pool = nodeVerifyPool(await engineWasm(), 2);
  t.after(() => pool.close());
  const events = corpus(500, 'dies');
  const frames = events.map((e) => JSON.stringify(['EVENT', 's', e]));
  // Kill one verifier as the batch starts.
  const run = mergePipelined(owner, db, 1, frames, 1 << 30, pool);
  pool.workers[0].w.terminate();
  const { results } = await run;
  assert.equal(results.flatMap((r) => r.accepted).length, events.length);
});

test('a verifier given no module, or one that does not instantiate, answers every request at once with no vouches', async () => {
  const [a] = corpus(1, 'nomodule');
  const { bytes, lens } = packFrames([JSON.stringify(['EVENT', a])]);
  const notWasm = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])); // empty: no exports, no imports
  for (const module of [undefined, { not: 'a module' }, notWasm]) {
    const replies = [];
    const handle = serve(verifierEngine(module), (reply) => replies.push(reply));
    await handle({ id: 7, bytes, lens });
    await handle({ id: 8, bytes, lens });
    assert.deepEqual(replies, [{ id: 7, vouches: null }, { id: 8, vouches: null }]);
  }
});

test('verifier threads do not hold the process: a script that synced and left its feed open, or closed one mid-start, still exits', async (t) => {
  const { dir } = await tempFeed(t, 'unused.db');
  const { spawnSync } = await import('node:child_process');
  const [e] = corpus(1, 'exit');
  const script = `
    const { openFeed } = await import(${JSON.stringify(new URL('../../js-glue/node.js', import.meta.url).href)});
    const feed = await openFeed({ path: ${JSON.stringify(`${dir}/open.db`)}, policy: { store: 'all' } });
    await feed.mergeBatch(1, ['["EOSE","x"]']);
    const r = await feed.mergeBatch(1, [${JSON.stringify(JSON.stringify(['EVENT', 's', e]))}, ${JSON.stringify(JSON.stringify(['EVENT', 's', e]))}]);
    console.log(r[0].accepted.length);
    // And a feed closed while its verifiers are still starting.
    const other = await openFeed({ path: ${JSON.stringify(`${dir}/other.db`)}, policy: { store: 'all' } });
    const late = other.mergeBatch(1, ['["EOSE","y"]']).catch(() => {});
    await other.close();
    await late;`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, 'the process exited by itself');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '1');
});
