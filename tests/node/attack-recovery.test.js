// attack-recovery.test.js -- a victim feed in a room recovers from what
// goes wrong underneath it or comes at it from a peer, through the public
// API (joinRoom over real WebRTC, the real signaling server):
//
//   7. the disk fills up mid-sync (a real small tmpfs), then space returns:
//      the room never says "done" while events are missing, and once there
//      is room again every event arrives and "done" comes
//   8. a seeded fuzz of the sync driver: a raw hostile peer sends random
//      frame sequences (valid and invalid events, REQs with random filters,
//      CLOSE, NEG-*, garbage, oversized and unframed messages, relay
//      replies) while an honest peer posts; the victim converges with the
//      honest peer and never fails. HIROBA_SEED=<n> replays a run.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { getEventHash } from 'nostr-tools/pure';
import { initNostrWasm } from 'nostr-wasm';

import {
  startSignal, scope, setupRoom, joinTracked, openTracked, freshRoom,
  arrives, until, sleep, MiB,
} from './fixtures/hostile-peer.js';
import { makeAuthor, makeRng, nowSec, pickSeed } from './helpers.js';

let sig;
let nw;
before(async () => {
  sig = await startSignal();
  nw = await initNostrWasm();
});
after(async () => { await sig?.close(); });

const HEADER = fs.readFileSync(new URL('../../src/hiroba.h', import.meta.url), 'utf8');
const HIROBA_EFULL = Number(/#define\s+HIROBA_EFULL\s+\((-\d+)\)/.exec(HEADER)[1]);
const statsOf = (room, pk) => room.stats().peers.find((p) => p.pubkey === pk);
const mib = (n) => `${(n / MiB).toFixed(2)} MiB`;

/* Mounts a tmpfs of `mib` MiB on dir (unmounted by the scope, after the
** feeds on it are closed). null, or why it cannot. */
function mountTmpfs(sc, dir, size) {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'mounting a tmpfs needs root';
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}m,mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return `mount -t tmpfs failed: ${(r.stderr || r.error?.message || '').trim()}`;
  sc.defer(() => {
    if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
  });
  return null;
}

test('7. the disk fills mid-sync, then space returns: never "done" while events are missing, then every event arrives and "done" comes', async (t) => {
  const sc = scope(t);
  const dir = sc.dir('hiroba-attack-full-');
  const why = mountTmpfs(sc, dir, 48);
  if (why) { t.skip(why); return; }

  const x = makeAuthor('attack-7 author');
  const N = 2000;
  const base = nowSec() - 10_000;
  const events = Array.from({ length: N }, (_, i) => x.sign({ content: `${i} ${'d'.repeat(1000)}`, created_at: base + i }));
  const { feed: victim, path: victimPath } = await openTracked(sc, { dir, name: 'victim.db', policy: {} });
  const { feed: honest } = await openTracked(sc, { name: 'honest.db', policy: { store: 'all' } });
  const victimPk = (await victim.identity()).pubkey;
  const honestPk = (await honest.identity()).pubkey;
  await victim.follow(honestPk);
  await victim.follow(x.pubkey);
  await honest.follow(victimPk);
  for (let i = 0; i < N; i += 500) {
    const r = await honest.merge(events.slice(i, i + 500).map((e) => ['EVENT', e]));
    assert.equal(r.accepted.length, 500);
  }

  // Fill the filesystem but ~1.5 MiB: about a fifth of what the events need.
  const ballast = join(dir, 'ballast');
  const { bavail, bsize } = fs.statfsSync(dir);
  const free = Number(bavail) * Number(bsize);
  fs.writeFileSync(ballast, Buffer.alloc(Math.max(0, free - 1.5 * MiB), 0x61));
  t.diagnostic(`tmpfs 48 MiB: ${mib(free)} free before the ballast, ${mib(Number(fs.statfsSync(dir).bavail) * Number(bsize))} after`);

  const countX = async () => (await victim.query({ authors: [x.pubkey], kinds: [1] })).length;
  const room = freshRoom('full');
  const rv = await joinTracked(sc, victim, { signalUrl: sig.signalUrl, room });
  const full = [];
  rv.on('error', (err) => { if (err.code === HIROBA_EFULL) full.push(err); });
  // Every "done" for the honest peer: what the victim held at that moment.
  const dones = [];
  const syncs = [];
  rv.on('sync', (s) => {
    if (s.peer !== honestPk) return;
    syncs.push(s);
    if (s.done) dones.push(countX().then((n) => ({ n, missing: s.missing, at: Date.now() })));
  });
  await joinTracked(sc, honest, { signalUrl: sig.signalUrl, room });

  await until(() => full.length > 0, 'the disk to fill (HIROBA_EFULL)', 60_000);
  const heldWhenFull = await countX();
  t.diagnostic(`disk full after ${heldWhenFull} of ${N}: "${full[0].message}"`);
  assert.ok(heldWhenFull < N, 'the disk filled before every event was stored');
  // Give the driver time to finish its fetch round and fail a retry or two
  // (back-off from 2 s): it must keep the missing ids and not say "done".
  await until(() => {
    const s = statsOf(rv, honestPk);
    return s && s.missing > 0 && !s.done;
  }, 'the missing ids to be counted', 30_000);
  await sleep(5000);
  const whileFull = statsOf(rv, honestPk);
  const heldStill = await countX();
  t.diagnostic(`while full: ${JSON.stringify(whileFull)}; ${heldStill} of ${N} stored; ${full.length} EFULL errors`);
  assert.ok(whileFull.missing > 0, 'the ids not stored are still wanted');
  assert.equal(whileFull.done, false, 'not "done" while the disk is full');
  assert.equal(whileFull.unavailable, 0, 'our storage failure is not held against the peer');
  assert.equal((await Promise.all(dones)).length, 0, 'no "done" was reported while events were missing');

  // Space returns.
  fs.unlinkSync(ballast);
  const freed = Date.now();
  await until(async () => await countX() === N, `all ${N} events once space returned`, 120_000, 250);
  await until(() => syncs.some((s) => s.done), '"done" once everything is stored', 60_000);
  t.diagnostic(`all ${N} stored ${Date.now() - freed} ms after space returned`);
  const reported = await Promise.all(dones);
  assert.ok(reported.length >= 1);
  for (const d of reported) {
    assert.equal(d.n, N, `"done" was reported with ${d.n} of ${N} events stored`);
    assert.equal(d.missing, 0);
    assert.ok(d.at >= freed, '"done" only came after space returned');
  }
  const final = statsOf(rv, honestPk);
  assert.equal(final.unavailable, 0, 'no id was given up');
  assert.equal(final.missing, 0);
  assert.deepEqual(await victim.checkIntegrity(), { ok: true, result: 'ok' });
  // Live sync works again too.
  const p = await honest.post('after the disk had room again');
  await arrives(victim, p.id);
  t.diagnostic(`victim database ${mib(fs.statSync(victimPath).size)}`);
});

// --- 8: the driver fuzz ---------------------------------------------------------

const HEXCHARS = '0123456789abcdef';

function makeFuzzer(rng, ctx) {
  const hexOf = (n) => Array.from({ length: n * 2 }, () => HEXCHARS[rng.int(16)]).join('');
  const skOf = () => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 + rng.int(200) : rng.int(256)));
  const pick = rng.pick;
  const str = () => pick(['', 'a', 'x'.repeat(65), 'é', '\u0000', '\ud800', '"', '\\', 'sub', hexOf(8), '🦀', ' ']);
  const sign = (template, sk = skOf()) => {
    const ev = { kind: 1, created_at: nowSec(), tags: [], content: '', ...template };
    nw.finalizeEvent(ev, sk);
    return { id: ev.id, pubkey: ev.pubkey, created_at: ev.created_at, kind: ev.kind, tags: ev.tags, content: ev.content, sig: ev.sig };
  };
  const someId = () => (ctx.honestIds.length && rng.chance(0.5) ? pick(ctx.honestIds) : hexOf(32));
  const someSub = () => pick([
    () => `s${rng.int(40)}`, () => str(), () => (ctx.theirSubs.length ? pick(ctx.theirSubs) : 'live'),
    () => `n${hexOf(12)}`, () => `f${hexOf(12)}`, () => 'live',
  ])();
  const mutate = (ev) => {
    const e = { ...ev };
    const f = rng.int(6);
    if (f === 0) e.sig = hexOf(64);
    else if (f === 1) e.content += 'x';
    else if (f === 2) e.id = hexOf(32);
    else if (f === 3) e.created_at = pick([-1, 2 ** 53, nowSec() + 3600, 1.5, '1']);
    else if (f === 4) e.kind = pick([-1, 65536, 'x', null]);
    else e.tags = pick([null, 'x', [[1]], [['e']], Array.from({ length: 3 }, () => ['p', hexOf(32)])]);
    return e;
  };
  const validEvent = () => pick([
    () => sign({ content: `stranger ${rng.int(1e6)}` }),
    () => sign({ content: `mine ${rng.int(1e6)}` }, ctx.hostileSk),
    () => sign({ content: 'hi you', tags: [['p', ctx.victimPk]] }),
    () => sign({ kind: 5, tags: [['e', someId()]] }, ctx.hostileSk),
    () => sign({ kind: 5, tags: Array.from({ length: 1 + rng.int(300) }, () => ['e', someId()]) }),
    () => sign({ kind: 7, content: '+', tags: [['e', someId()], ['p', ctx.honestPk]] }),
    () => sign({ kind: pick([0, 3, 10000, 30023]), content: '{}', tags: [['p', ctx.honestPk]] }, ctx.hostileSk),
    () => (ctx.honestEvents.length ? pick(ctx.honestEvents) : sign({})),
  ])();
  const forged = () => {
    const ev = { pubkey: ctx.honestPk, created_at: nowSec(), kind: 1, tags: [], content: `forged ${rng.int(1e6)}` };
    ev.id = getEventHash(ev);
    ev.sig = hexOf(64);
    return ev;
  };
  const filter = () => {
    const f = {};
    const n = rng.int(4);
    for (let i = 0; i < n; i++) {
      const k = pick(['ids', 'authors', 'kinds', 'since', 'until', 'limit', '#e', '#p', '#t', 'search', 'x', '#']);
      const good = rng.chance(0.7);
      if (k === 'ids') f.ids = good ? Array.from({ length: rng.int(4) }, someId) : pick([5, 'x', [1], [hexOf(31)]]);
      else if (k === 'authors') f.authors = good ? [pick([ctx.honestPk, ctx.victimPk, hexOf(32)])] : pick([5, ['X'.repeat(64)], {}]);
      else if (k === 'kinds') f.kinds = good ? [rng.int(3)] : pick([[-1], ['1'], 1, [70000]]);
      else if (k === 'since' || k === 'until') f[k] = good ? nowSec() - rng.int(1e5) : pick([-1, 'x', 1.5, 2 ** 60]);
      else if (k === 'limit') f.limit = good ? rng.int(1000) : pick([-1, 'x', 1e20]);
      else if (k[0] === '#') f[k] = good ? [someId()] : pick([5, [5], 'x']);
      else f[k] = str();
    }
    return rng.chance(0.05) ? pick([5, null, 'x', [], [f]]) : f;
  };
  const garbage = () => pick([
    () => '', () => '[', () => '{}', () => '[]', () => 'null', () => '[1,2,3]', () => '["EVENT"]', () => '["REQ"]',
    () => '['.repeat(5000) + ']'.repeat(5000), () => '"\\ud800"', () => '["EVENT",{"id":"' + '\\u0000'.repeat(10) + '"}]',
    () => Array.from({ length: 1 + rng.int(200) }, () => String.fromCharCode(rng.int(128))).join(''),
    () => `["REQ","${str()}",${'{'.repeat(100)}`, () => '["EVENT",{},{},{}]', () => '[' + '1e999,'.repeat(10) + '1]',
    () => JSON.stringify(['EVENT', { ...forged(), extra: 'x'.repeat(rng.int(1000)) }]) + ' trailing',
    () => JSON.stringify([['EVENT', forged()], ['REQ', 'nested', {}]]),
  ])();
  const negHex = () => pick(['', '61', '6100', hexOf(1 + rng.int(40)), 'zz', '62', '61' + hexOf(rng.int(100)), ctx.negTemplate[3]]);

  // One frame: { text } to send through the framing, or { raw } (chunks by
  // hand, any size), or { unframed } (a message that is not a chunk).
  return function frame() {
    const kind = rng.int(100);
    if (kind < 14) return { text: JSON.stringify(['EVENT', validEvent()]) };
    if (kind < 20) return { text: JSON.stringify(['EVENT', forged()]) };
    if (kind < 26) return { text: JSON.stringify(['EVENT', mutate(validEvent())]) };
    if (kind < 30) return { text: JSON.stringify(['EVENT', someSub(), validEvent()]) };
    if (kind < 44) {
      const fs2 = Array.from({ length: 1 + rng.int(rng.chance(0.05) ? 70 : 3) }, filter);
      return { text: JSON.stringify(['REQ', someSub(), ...fs2]) };
    }
    if (kind < 50) return { text: JSON.stringify(['CLOSE', someSub()]) };
    if (kind < 55) {
      const f = ctx.negTemplate.slice();
      f[1] = someSub();
      if (rng.chance(0.3)) f[2] = filter();
      if (rng.chance(0.3)) f[3] = negHex();
      return { text: JSON.stringify(f) };
    }
    if (kind < 62) return { text: JSON.stringify(['NEG-MSG', someSub(), negHex()]) };
    if (kind < 65) return { text: JSON.stringify(['NEG-CLOSE', someSub()]) };
    if (kind < 68) return { text: JSON.stringify(['NEG-ERR', someSub(), str()]) };
    if (kind < 76) {
      return {
        text: JSON.stringify(pick([
          () => ['OK', someId(), rng.chance(0.5), str()], () => ['EOSE', someSub()], () => ['NOTICE', str()],
          () => ['CLOSED', someSub(), str()], () => ['AUTH', str()], () => ['COUNT', someSub(), {}], () => [str(), 1],
        ])()),
      };
    }
    if (kind < 92) return { text: garbage() };
    if (kind < 94) return { raw: JSON.stringify(['REQ', 'big', { ids: Array.from({ length: 16_000 + rng.int(1000) }, () => hexOf(32)) }]) };
    if (kind < 97) return { unframed: pick(['text message', '']) };
    return { text: JSON.stringify(['REQ', someSub(), { kinds: [1], authors: [ctx.honestPk], since: nowSec() - 5 }]) };
  };
}

test('8. driver fuzz: random frame sequences from a hostile peer while an honest peer posts; the victim converges and never fails', async (t) => {
  const seed = pickSeed();
  t.diagnostic(`fuzz seed ${seed} (HIROBA_SEED=${seed} to replay)`);
  console.log(`# attack fuzz seed ${seed}`);
  const rng = makeRng(seed);
  const sc = scope(t);
  // The attacker's own store: it answers the victim's reconciliation and
  // fetches from it (when the dice say so), holding 30 events of its own
  // that it never pushes -- so the victim, which follows it, has ids to
  // want, fetch, retry and give up on.
  const { feed: store } = await openTracked(sc, { name: 'attacker-store.db', policy: { store: 'all' } });
  const negTemplate = await store.negOpen('tmpl', {}, 1);
  // The strike limit is raised for this victim (joinRoom's `limits`) so the
  // fuzzer is not cut off after 64 invalid frames and reaches every path;
  // dropping and banning have their own test.
  const { victim, honest, victimPk, honestPk, rv, h } = await setupRoom(sc, {
    signalUrl: sig.signalUrl, victimPolicy: {}, victimOptions: { limits: { MAX_STRIKES: 1e9 } },
  });
  const own = Array.from({ length: 30 }, (_, i) => {
    const ev = { kind: 1, created_at: nowSec() - 1000 + i, tags: [], content: `attacker's own ${i}` };
    nw.finalizeEvent(ev, h.sk);
    return { id: ev.id, pubkey: ev.pubkey, created_at: ev.created_at, kind: ev.kind, tags: ev.tags, content: ev.content, sig: ev.sig };
  });
  await store.merge(own.map((e) => ['EVENT', e]));
  await victim.follow(h.pubkey);

  const ctx = {
    victimPk, honestPk, hostileSk: h.sk, negTemplate,
    honestIds: [], honestEvents: [], theirSubs: [],
  };
  const next = makeFuzzer(rng, ctx);
  const replies = {};
  let answered = 0;
  // What the victim sends the attacker: its subscription ids become fuzz
  // targets, and its NEG-* and REQs are answered through the attacker's
  // store, often faithfully, sometimes mangled, sometimes not at all.
  const respond = async (f, text) => {
    const roll = rng.int(10);
    if (roll >= 8) return; // ignored
    const [res] = await store.mergeBatch(77, [text], 0);
    let out = res.replies;
    if (roll >= 6 && out.length) {
      out = out.filter(() => rng.chance(0.6)); // some dropped (an EOSE, events)
      if (rng.chance(0.5)) out.reverse();      // EOSE before the events
      if (rng.chance(0.3)) out.push(['EVENT', f[1], { ...own[rng.int(own.length)], content: 'tampered' }]);
    }
    for (const r of out) h.send(r).catch(() => {});
    answered++;
  };
  const seen = (f, _remote, text) => {
    const type = Array.isArray(f) ? String(f[0]).slice(0, 12) : 'unparsed';
    replies[type] = (replies[type] ?? 0) + 1;
    if (!Array.isArray(f) || typeof f[1] !== 'string') return;
    if (f[0] === 'REQ' || f[0] === 'NEG-OPEN' || f[0] === 'NEG-MSG') {
      if (ctx.theirSubs.length < 50 && !ctx.theirSubs.includes(f[1])) ctx.theirSubs.push(f[1]);
      respond(f, text).catch(() => {});
    }
  };
  for (const f of h.frames) seen(f, null, JSON.stringify(f)); // before we listened
  h.onFrame(seen);
  rv.resync();

  const started = Date.now();
  const BUDGET_MS = 30_000;
  const ROUNDS = 150;
  const PER_ROUND = 40;
  let sent = 0;
  let rounds = 0;
  const kinds = { text: 0, raw: 0, unframed: 0 };
  for (let round = 0; round < ROUNDS && Date.now() - started < BUDGET_MS; round++) {
    // The honest peer posts as the fuzz goes on.
    const post = await honest.post(`honest ${round}`);
    ctx.honestIds.push(post.id);
    ctx.honestEvents.push(post);
    for (let i = 0; i < PER_ROUND; i++) {
      const f = next();
      if (f.text !== undefined) { kinds.text++; h.send(f.text).catch(() => {}); }
      else if (f.raw !== undefined) { kinds.raw++; await h.sendRaw(f.raw).catch(() => {}); }
      else { kinds.unframed++; h.sendUnframed(f.unframed); }
      sent++;
    }
    // Now and then the victim reconciles again, with fetches in flight.
    if (rng.chance(0.05)) rv.resync();
    // A ping: once answered, the victim has merged everything before it
    // (frames from one peer are merged in order), so its inbox stays small.
    const ping = `ping${round}`;
    await h.send(['REQ', ping, { ids: [ctx.honestIds[0]] }]);
    await h.waitFor((f) => Array.isArray(f) && (f[0] === 'EOSE' || f[0] === 'CLOSED') && f[1] === ping, `the answer to ${ping}`, 60_000);
    await h.send(['CLOSE', ping]);
    rounds++;
    h.frames.length = 0; // keep memory flat
  }
  const hs = statsOf(rv, h.pubkey);
  t.diagnostic(`${rounds} rounds, ${sent} frames (${JSON.stringify(kinds)}) in ${Date.now() - started} ms; ` +
    `frames back: ${JSON.stringify(replies)}; ${answered} answered through the attacker's store; attacker link: ${JSON.stringify(hs)}`);
  assert.ok(rounds >= 10, `the fuzz ran ${rounds} rounds`);

  // The attacker is still connected (no strikes drop here; its inbox never
  // overflowed), and its live subscriptions are within the cap.
  assert.ok(hs, 'the fuzzing peer is still connected');
  assert.ok(hs.liveSubs <= 32, `${hs.liveSubs} live subscriptions`);

  // Convergence: the victim holds exactly the honest author's events.
  const last = await honest.post('the last honest post');
  const want = (await honest.query({ authors: [honestPk] })).map((e) => e.id).sort();
  await until(async () => (await victim.query({ authors: [honestPk] })).map((e) => e.id).sort().join() === want.join(),
    'the victim to hold exactly the honest author\'s events', 60_000, 250);
  assert.ok(want.includes(last.id));
  assert.deepEqual(await victim.checkIntegrity(), { ok: true, result: 'ok' });
  // Nothing forged was stored: every event the victim holds verifies, and
  // the attacker's own events there are exactly ones it signed.
  const held = await victim.query({});
  for (const ev of held) assert.doesNotThrow(() => nw.verifyEvent({ ...ev }), `stored event ${ev.id} does not verify`);
  const ownIds = new Set(own.map((e) => e.id));
  const heldOwn = held.filter((e) => ownIds.has(e.id)).length;
  t.diagnostic(`victim holds ${held.length} events; ${heldOwn} of the attacker's 30 unpushed ones (fetched from it)`);

  // Nothing the driver reported is a programming error (a TypeError etc.
  // caught in its merge loop would land here) or an engine failure.
  const kindsOfErrors = {};
  for (const e of rv.errors) {
    const k = `${e.name}: ${String(e.message).replace(/[0-9a-f]{8}…/g, '…').replace(/\d+/g, 'N').slice(0, 90)}`;
    kindsOfErrors[k] = (kindsOfErrors[k] ?? 0) + 1;
  }
  t.diagnostic(`room errors: ${JSON.stringify(kindsOfErrors)}`);
  const bugs = rv.errors.filter((e) => e instanceof TypeError || e instanceof ReferenceError || e instanceof SyntaxError ||
    e.name === 'HirobaError');
  assert.deepEqual(bugs.map((e) => `${e.name}: ${e.message}`), [], 'the driver failed on some input');
  assert.ok(statsOf(rv, honestPk)?.done, 'still synced with the honest peer');
});
