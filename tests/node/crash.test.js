// crash.test.js -- DESIGN §7: a post that feed.post() resolved survives a
// crash, and after any crash the database passes PRAGMA integrity_check.
//
// A child process (fixtures/post-loop.js) posts continuously on one
// database file and prints each event id only after its promise resolved;
// the parent SIGKILLs it at a seeded random moment, then checks the file --
// in-process, or in a verifier child that itself dies by SIGKILL without
// closing, so the next open is again a crash recovery. Every id ever
// reported, over every cycle, must stay stored.
//
// The seed is printed; HIROBA_SEED=<n> replays a run's choices (the
// moments of the kills still depend on the machine's speed).

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { byContractOrder, loadOpenFeed, makeAuthor, makeRng, nowSec, pickSeed } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/post-loop.js', import.meta.url));
const CYCLES = 30;        // kill cycles on one database (at least 25)
const BATCH_SIZE = 1000;  // events in the big batch frame
const HEX64 = /^[0-9a-f]{64}$/;

// Every child still running; killed by the after hooks whatever happens.
const live = new Set();
function killStragglers() {
  const waits = [];
  for (const child of live) {
    waits.push(new Promise((resolve) => child.once('close', resolve)));
    child.kill('SIGKILL');
  }
  return Promise.all(waits);
}
after(killStragglers);

/* A temp dir removed after the test, once every child is dead. (One hook
** does both: the order of separate t.after hooks is not to be relied on.) */
function crashDir(t, prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(async () => {
    await killStragglers();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/* Starts the fixture with args. Lines are collected as they arrive;
** waitFor(pred) resolves with the first line (in order) matching pred, or
** null once the child has exited without one. */
function startChild(args) {
  const child = spawn(process.execPath, [FIXTURE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines = [];
  const waiters = [];
  let partial = '';
  let stderr = '';
  let done = false;
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      while (w.seen < lines.length) {
        const line = lines[w.seen++];
        if (w.pred(line, w.seen)) { waiters.splice(i, 1); w.resolve(line); break; }
      }
      if (done && waiters.includes(w)) { waiters.splice(i, 1); w.resolve(null); }
    }
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop();   // a line without its newline is not a claim
    lines.push(...parts);
    check();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      live.delete(child);
      done = true;
      check();
      resolve({ code, signal });
    });
  });
  return {
    child,
    lines,
    exited,
    stderr: () => stderr,
    waitFor(pred) {
      return new Promise((resolve) => { waiters.push({ pred, resolve, seen: 0 }); check(); });
    },
    async kill() {
      child.kill('SIGKILL');
      return exited;
    },
  };
}

/* The child must have died by our SIGKILL, not by an error of its own. */
function assertKilled(run, { code, signal }, what) {
  assert.equal(signal, 'SIGKILL',
    `${what}: the child ended by itself (exit code ${code}); stderr:\n${run.stderr()}`);
}

/* What is stored, read in-process (then closed cleanly, which checkpoints
** the WAL) or by a verifier child that dies without closing. */
async function inspect(dbPath, ids, how, scratchDir) {
  if (how === 'in-process') {
    const openFeed = await loadOpenFeed();
    const feed = await openFeed({ path: dbPath, policy: { store: 'all' } });
    try {
      const { pubkey } = await feed.identity();
      const integrity = await feed.checkIntegrity();
      const found = new Set();
      for (let i = 0; i < ids.length; i += 500) {
        for (const ev of await feed.query({ ids: ids.slice(i, i + 500) })) found.add(ev.id);
      }
      const replaceable = await feed.query({ authors: [pubkey], kinds: [0, 3] });
      return { pubkey, integrity, missing: ids.filter((id) => !found.has(id)), replaceable };
    } finally {
      await feed.close();
    }
  }
  const request = path.join(scratchDir, 'verify-request.json');
  fs.writeFileSync(request, JSON.stringify({ ids }));
  const run = startChild([dbPath, 'verify', request]);
  const line = await run.waitFor((l) => l.startsWith('verify '));
  const end = await run.exited;
  assert.ok(line, `the verifier child reported nothing (exit ${end.code}, ${end.signal}); stderr:\n${run.stderr()}`);
  assertKilled(run, end, 'verifier');
  return JSON.parse(line.slice('verify '.length));
}

const short = (ids) => `${ids.length} missing, e.g. ${ids.slice(0, 3).join(', ')}`;

describe('crash safety (SIGKILL)', () => {
  test(`every resolved post, follow, profile and merge survives ${CYCLES} SIGKILLs of the writer`, async (t) => {
    const seed = pickSeed();
    console.log(`# crash loop seed ${seed} (HIROBA_SEED=${seed} to replay)`);
    t.diagnostic(`seed ${seed}`);
    const rng = makeRng(seed);
    const dir = crashDir(t, 'hiroba-crash-');
    const dbPath = path.join(dir, 'feed.db');

    const claimed = new Set();              // kind-1 posts and merged ids, every cycle
    const latestRep = new Map();            // kind -> newest reported {id, created_at, ps}
    let pubkey = null;                      // fixed once a child said "ready"
    const plans = { open: 0, lines: 0, time: 0 };
    const verifies = { 'in-process': 0, child: 0 };
    let reportedTotal = 0;

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const r = rng.next();
      const plan = r < 0.2 ? 'open' : r < 0.6 ? 'lines' : 'time';
      plans[plan]++;
      const run = startChild([dbPath, 'loop', String(rng.int(2 ** 32)), String(cycle)]);
      let what;
      if (plan === 'open') {
        // Soon after "opening": during wasm start-up, the open itself (WAL
        // recovery of the last crash) or the first writes.
        const ms = rng.int(250);
        what = `${ms} ms after opening`;
        await run.waitFor((l) => l === 'opening');
        await sleep(ms);
      } else if (plan === 'lines') {
        // Right after the n-th resolved write was reported: the next write
        // is in flight.
        const n = 1 + rng.int(300);
        what = `after ${n} reported writes`;
        let seen = 0;
        await run.waitFor((l) => !/^(opening|ready )/.test(l) && ++seen >= n);
      } else {
        const ms = rng.int(1000);
        what = `${ms} ms after ready`;
        await run.waitFor((l) => l.startsWith('ready '));
        await sleep(ms);
      }
      assertKilled(run, await run.kill(), `cycle ${cycle} (${what})`);

      // Everything the child reported is now a claim.
      let reported = 0;
      for (const line of run.lines) {
        const [tag, ...rest] = line.split(' ');
        if (tag === 'ready') {
          if (pubkey === null) pubkey = rest[0];
          assert.equal(rest[0], pubkey, `cycle ${cycle}: the identity changed after a crash`);
        } else if (tag === 'post' || tag === 'merged') {
          assert.match(rest[0], HEX64, line);
          claimed.add(rest[0]);
          reported++;
        } else if (tag === 'rep') {
          const [kind, id, createdAt, ps = ''] = rest;
          const ev = { id, created_at: Number(createdAt), ps: ps ? ps.split(',') : [] };
          const prev = latestRep.get(kind);
          if (!prev || byContractOrder(ev, prev) < 0) latestRep.set(kind, ev);
          reported++;
        } else {
          assert.equal(tag, 'opening', `unexpected line from the child: ${line}`);
        }
      }
      reportedTotal += reported;

      const how = rng.chance(0.3) ? 'in-process' : 'child';
      verifies[how]++;
      const state = await inspect(dbPath, [...claimed], how, dir);
      const where = `cycle ${cycle} (seed ${seed}, killed ${what}, checked ${how})`;
      assert.equal(state.integrity.ok, true, `${where}: integrity_check says ${JSON.stringify(state.integrity.result)}`);
      if (pubkey !== null) assert.equal(state.pubkey, pubkey, `${where}: the identity changed`);
      assert.deepEqual(state.missing, [], `${where}: resolved events lost: ${short(state.missing)}`);
      for (const kind of ['0', '3']) {
        const stored = state.replaceable.filter((e) => String(e.kind) === kind);
        assert.ok(stored.length <= 1, `${where}: ${stored.length} kind-${kind} events stored for one author`);
        const claim = latestRep.get(kind);
        if (!claim) continue;
        assert.equal(stored.length, 1, `${where}: the resolved kind-${kind} event ${claim.id} is gone`);
        const [ev] = stored;
        // The newest reported version, or one committed after it whose
        // report the kill cut off -- never an older one.
        assert.ok(ev.id === claim.id || byContractOrder(ev, claim) < 0,
          `${where}: kind ${kind}: stored ${ev.id}@${ev.created_at} is older than the resolved ${claim.id}@${claim.created_at}`);
        if (kind === '3') {
          // follow() only adds: a later list holds every pubkey of the claim.
          const ps = new Set(ev.tags.filter((tg) => tg[0] === 'p').map((tg) => tg[1]));
          const lost = claim.ps.filter((p) => !ps.has(p));
          assert.deepEqual(lost, [], `${where}: follows lost from the kind-3 list`);
        }
      }
    }

    t.diagnostic(`kill plans ${JSON.stringify(plans)}, checks ${JSON.stringify(verifies)}, ` +
      `${reportedTotal} resolved writes reported, ${claimed.size} posts/merged ids claimed`);
    assert.ok(pubkey !== null && claimed.size > 0, 'the children never got to post: the test proved nothing');

    // Last: a clean open still works normally on the file after all that.
    const openFeed = await loadOpenFeed();
    const feed = await openFeed({ path: dbPath, policy: { store: 'all' } });
    try {
      assert.equal((await feed.identity()).pubkey, pubkey);
      const ev = await feed.post('after the crashes');
      assert.deepEqual((await feed.query({ ids: [ev.id] })).map((e) => e.id), [ev.id]);
      assert.equal((await feed.checkIntegrity()).ok, true);
    } finally {
      await feed.close();
    }
  });

  test(`a kill during a ${BATCH_SIZE}-event batch merge leaves all of the batch or none of it`, async (t) => {
    const seed = pickSeed();
    console.log(`# crash batch seed ${seed} (HIROBA_SEED=${seed} to replay)`);
    t.diagnostic(`seed ${seed}`);
    const rng = makeRng(seed);
    const dir = crashDir(t, 'hiroba-crash-batch-');
    const dbPath = path.join(dir, 'feed.db');
    const authors = Array.from({ length: 8 }, (_, i) => makeAuthor(`crash-batch-${seed}-${i}`));

    // nostr-tools signs slowly (ms per event): a batch that was not stored
    // is used again for the next kill, a fresh one only after a batch landed.
    let made = 0;
    function makeBatch() {
      const b = made++;
      const ids = [];
      const frames = [];
      for (let i = 0; i < BATCH_SIZE; i++) {
        const ev = authors[i % authors.length].sign({
          kind: 1,
          content: `batch ${b} event ${i} ${'z'.repeat(rng.int(400))}`,
          tags: i % 3 ? [['t', `batch${b}`]] : [],
          created_at: nowSec() - rng.int(86400),
        });
        ids.push(ev.id);
        frames.push(['EVENT', ev]);
      }
      const file = path.join(dir, `batch-${b}.json`);
      fs.writeFileSync(file, JSON.stringify(frames));   // one frame: an array of 1,000 frames
      return { name: `batch ${b}`, ids, file };
    }

    const stored = [];     // batches known to be fully stored
    const runBatch = (b, extra = []) => startChild([dbPath, 'batch', b.file, ...extra]);

    // 1. Uninterrupted: the whole batch is accepted; how many storage
    //    writes/syncs its merge makes sets where the later kills land.
    let batch = makeBatch();
    let run = runBatch(batch);
    const doneLine = await run.waitFor((l) => l.startsWith('batch-done '));
    assertKilled(run, await run.kill(), 'calibration');
    assert.ok(doneLine, `the uninterrupted batch merge never finished; stderr:\n${run.stderr()}`);
    const [, accepted, duplicates, rejected] = doneLine.split(' ');
    assert.deepEqual([accepted, duplicates, rejected], [String(BATCH_SIZE), '0', '0'], doneLine);
    const ops = Number(/ops=(\d+)/.exec(doneLine)[1]);
    assert.ok(ops > 0, `the merge made no storage writes: ${doneLine}`);
    t.diagnostic(`a ${BATCH_SIZE}-event merge made ${ops} storage writes/syncs`);
    stored.push(batch);
    batch = makeBatch();

    // 2. Kills during later batch merges:
    //    commit  - the parent kills as soon as the child says the merge's
    //              first storage write is starting
    //    op      - the child SIGKILLs itself at its k-th storage write or
    //              sync of the merge (k within the first 90%), before or
    //              after that call: the kill lands inside the merge for sure
    //    tail    - the same within the last 10%, after the call
    //    sync    - at the merge's first sync (the commit's), before it (the
    //              commit frame is written, not synced) or after it (the
    //              commit is durable, the merge has not returned yet)
    const plans = ['commit', 'op', 'sync', 'tail', 'op', 'commit', 'sync', 'op', 'tail', 'op'];
    const outcomes = [];
    const head = Math.max(1, Math.floor(ops * 0.9));
    for (const [i, plan] of plans.entries()) {
      let what;
      let label = plan;
      if (plan === 'commit') {
        what = 'by the parent at the first write of the merge';
        run = runBatch(batch);
        await run.waitFor((l) => l === 'batch-commit');
      } else if (plan === 'sync') {
        const when = rng.chance(0.5) ? 'after' : 'before';
        what = `by itself ${when} the first sync of the merge`;
        label = `sync(${when})`;
        run = runBatch(batch, ['sync', when]);
        await run.waitFor((l) => l.startsWith('batch-done '));
      } else {
        const k = plan === 'op' ? 1 + rng.int(head) : head + 1 + rng.int(Math.max(1, ops - head));
        const when = plan === 'tail' || rng.chance(0.5) ? 'after' : 'before';
        what = `by itself ${when} storage call ${k} of ~${ops}`;
        label = `${plan}(${when} ${k})`;
        run = runBatch(batch, [String(k), when]);
        // Until it is dead -- or, should the merge make fewer calls than
        // k this time, until it finished.
        await run.waitFor((l) => l.startsWith('batch-done '));
      }
      assertKilled(run, await run.kill(), `batch kill ${i} (${what})`);
      const began = run.lines.includes('batch-begin');
      const finished = run.lines.some((l) => l.startsWith('batch-done '));
      assert.ok(began, `batch kill ${i}: the child died before starting the merge; stderr:\n${run.stderr()}`);
      if (plan === 'op' || plan === 'sync') {
        assert.equal(finished, false, `batch kill ${i}: the kill (${what}) did not land inside the merge`);
      }

      const all = [...stored.flatMap((b) => b.ids), ...batch.ids];
      const state = await inspect(dbPath, all, rng.chance(0.3) ? 'in-process' : 'child', dir);
      const where = `batch kill ${i} (seed ${seed}, ${what})`;
      assert.equal(state.integrity.ok, true, `${where}: integrity_check says ${JSON.stringify(state.integrity.result)}`);
      const missingSet = new Set(state.missing);
      for (const b of stored) {
        assert.deepEqual(b.ids.filter((id) => missingSet.has(id)), [], `${where}: the earlier ${b.name} lost events`);
      }
      const have = batch.ids.filter((id) => !missingSet.has(id)).length;
      assert.ok(have === 0 || have === BATCH_SIZE,
        `${where}: ${have} of the ${BATCH_SIZE} events of one batch frame are stored -- a partial batch`);
      if (finished) assert.equal(have, BATCH_SIZE, `${where}: the merge resolved but its batch is not stored`);
      outcomes.push(`${label}:${have === 0 ? 'none' : 'all'}`);
      if (have === BATCH_SIZE) {
        stored.push(batch);
        batch = makeBatch();
      }
    }
    t.diagnostic(`outcomes ${outcomes.join(' ')}`);
  });
});
