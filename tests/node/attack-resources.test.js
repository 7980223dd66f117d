// attack-resources.test.js -- hostile peers that try to make a victim feed
// spend storage or memory, through the public API (joinRoom over real
// WebRTC, the real signaling server, a raw hostile peer from
// fixtures/hostile-peer.js), plus one engine rule checked through
// feed.merge:
//
//   3. storage: events from throwaway keys, 2,000-tag events, events over
//      128 KiB, deletions naming 2,000 ids -- refused or capped, and the
//      database grows by a bounded amount; mentions from throwaway keys
//      (kept by design) stay within the size budget
//   4. REQ answers: 500 events per filter, 1 MiB per REQ; 64 REQs for
//      everything at once do not make the victim build them all
//  10. a deletion and a deletion of that deletion: same stored set in every
//      order of arrival

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { initNostrWasm } from 'nostr-wasm';

import {
  startSignal, scope, setupRoom, arrives, until, dbBytes, rssSampler, MiB,
} from './fixtures/hostile-peer.js';
import { join } from 'node:path';
import { loadOpenFeed, makeAuthor, nowSec } from './helpers.js';

let sig;
let nw;
before(async () => {
  sig = await startSignal();
  nw = await initNostrWasm();
});
after(async () => { await sig?.close(); });

const statsOf = (room, pk) => room.stats().peers.find((p) => p.pubkey === pk);
const hex = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
const mib = (n) => `${(n / MiB).toFixed(2)} MiB`;

/* Signs a template with nostr-wasm (fast): a fresh throwaway key unless sk. */
function signed({ kind = 1, content = '', tags = [], created_at = nowSec() } = {}, sk = nw.generateSecretKey()) {
  const ev = { kind, created_at, tags, content };
  nw.finalizeEvent(ev, sk);
  return { id: ev.id, pubkey: ev.pubkey, created_at, kind, tags, content, sig: ev.sig };
}

/* Pushes events as ['EVENT', ev] in rounds of `round`, waiting for each
** round's OK replies (so the victim's inbox never holds more than a round);
** -> Map id -> [accepted, reason]. */
async function push(h, events, round = 250) {
  const oks = new Map();
  const off = h.onFrame((f) => { if (f[0] === 'OK') oks.set(f[1], [f[2], f[3]]); });
  try {
    for (let i = 0; i < events.length; i += round) {
      const part = events.slice(i, i + round);
      for (const ev of part) h.send(['EVENT', ev]).catch(() => {});
      await until(() => part.every((ev) => oks.has(ev.id)), `OK for events ${i}..${i + part.length - 1}`, 60_000);
    }
  } finally {
    off();
  }
  return oks;
}

async function storedCount(feed, ids) {
  let n = 0;
  for (let i = 0; i < ids.length; i += 500) n += (await feed.query({ ids: ids.slice(i, i + 500) })).length;
  return n;
}

test('3a. storage, default policy: events from throwaway keys are refused (blocked:), oversized ones refused, and the database barely grows', async (t) => {
  const sc = scope(t);
  const { victim, honest, victimPath, rv, h } = await setupRoom(sc, { signalUrl: sig.signalUrl, victimPolicy: {} });
  const before = dbBytes(victimPath);

  // 2,000 posts from 2,000 throwaway keys.
  const posts = Array.from({ length: 2000 }, (_, i) => signed({ content: `spam ${i} ${'x'.repeat(200)}` }));
  // 20 events with 2,000 tags each, 20 deletions naming 2,000 random ids,
  // 20 naming 256, all from throwaway keys.
  const manyTags = Array.from({ length: 20 }, (_, i) => signed({
    content: `tags ${i}`, tags: Array.from({ length: 2000 }, (_, j) => ['t', `v${j}`]),
  }));
  const delete2000 = Array.from({ length: 20 }, () => signed({ kind: 5, tags: Array.from({ length: 2000 }, () => ['e', hex(32)]) }));
  const delete256 = Array.from({ length: 20 }, () => signed({ kind: 5, tags: Array.from({ length: 256 }, () => ['e', hex(32)]) }));
  // Over 128 KiB of tags and content, and 2,001 tags: malformed (a strike each).
  const oversized = [
    signed({ content: 'c'.repeat(60 * 1024), tags: Array.from({ length: 80 }, () => ['t', 'v'.repeat(1000)]) }),
    signed({ content: 'c'.repeat(65 * 1024 + 1) }),
    signed({ content: 'tags', tags: Array.from({ length: 2001 }, (_, j) => ['t', `${j}`]) }),
  ];
  const all = [...posts, ...manyTags, ...delete2000, ...delete256, ...oversized];

  const oks = await push(h, all);
  const reasons = new Map();
  for (const [ok, why] of oks.values()) {
    assert.equal(ok, false, `an event was accepted: ${why}`);
    const key = why.replace(/\d+/g, 'N');
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  t.diagnostic(`refusals: ${JSON.stringify(Object.fromEntries(reasons))}`);
  for (const ev of [...posts, ...manyTags, ...delete256]) {
    assert.equal(oks.get(ev.id)[1], 'blocked: not from or about anyone this feed follows');
  }
  for (const ev of delete2000) assert.equal(oks.get(ev.id)[1], 'blocked: a deletion may name at most 256 events');
  assert.equal(oks.get(oversized[0].id)[1], 'invalid: tags and content over 128 KiB');
  assert.equal(oks.get(oversized[1].id)[1], 'invalid: content over 64 KiB');
  assert.equal(oks.get(oversized[2].id)[1], 'invalid: more than 2000 tags');

  assert.equal(await storedCount(victim, all.map((e) => e.id)), 0, 'nothing of it was stored');
  const grew = dbBytes(victimPath) - before;
  t.diagnostic(`${all.length} events (${mib(all.reduce((n, e) => n + JSON.stringify(e).length, 0))} of JSON) pushed; database + WAL grew ${mib(grew)} (bound 2 MiB)`);
  assert.ok(grew < 2 * MiB, `the database grew ${mib(grew)}`);
  assert.ok(statsOf(rv, h.pubkey), 'refusals by policy are not strikes: the attacker is still connected');

  const p = await honest.post('an honest post after the storage attack');
  await arrives(victim, p.id);
});

test('3b. storage, a followed author turned hostile: 256 tag rows per event, at most 256 deletion targets, the file within 3x the JSON', async (t) => {
  const sc = scope(t);
  const { victim, honest, victimPath, rv, h } = await setupRoom(sc, { signalUrl: sig.signalUrl, victimPolicy: {} });
  // The victim follows the attacker: its events pass the policy.
  await victim.follow(h.pubkey);
  const before = dbBytes(victimPath);
  const base = nowSec() - 3600;
  const manyTags = Array.from({ length: 50 }, (_, i) => signed({
    content: `tags ${i}`, created_at: base + i, tags: Array.from({ length: 2000 }, (_, j) => ['t', `v${j}`]),
  }, h.sk));
  const delete256 = Array.from({ length: 50 }, (_, i) => signed({
    kind: 5, created_at: base + i, tags: Array.from({ length: 256 }, () => ['e', hex(32)]),
  }, h.sk));
  const delete2000 = Array.from({ length: 5 }, (_, i) => signed({
    kind: 5, created_at: base + i, tags: Array.from({ length: 2000 }, () => ['e', hex(32)]),
  }, h.sk));
  const kept = [...manyTags, ...delete256];
  const json = kept.reduce((n, e) => n + JSON.stringify(e).length, 0);

  const oks = await push(h, [...kept, ...delete2000], 25);
  for (const ev of kept) assert.deepEqual(oks.get(ev.id), [true, ''], 'accepted');
  for (const ev of delete2000) assert.deepEqual(oks.get(ev.id), [false, 'blocked: a deletion may name at most 256 events']);

  // Only the first 256 tags are indexed; the event keeps all 2,000.
  assert.equal((await victim.query({ '#t': ['v0'] })).length, 50);
  assert.equal((await victim.query({ '#t': ['v255'] })).length, 50);
  assert.equal((await victim.query({ '#t': ['v256'] })).length, 0, 'the 257th tag is not indexed');
  assert.equal((await victim.query({ '#t': ['v1999'] })).length, 0);
  assert.equal((await victim.query({ ids: [manyTags[0].id] }))[0].tags.length, 2000);

  const grew = dbBytes(victimPath) - before;
  t.diagnostic(`${kept.length} events kept, ${mib(json)} of JSON; database + WAL grew ${mib(grew)} (bound: 4x the JSON + 10 MiB of WAL)`);
  assert.ok(grew < 4 * json + 10 * MiB, `database + WAL grew ${mib(grew)} for ${mib(json)} of JSON`);

  const p = await honest.post('an honest post after the tag attack');
  await arrives(victim, p.id);
  assert.ok(statsOf(rv, h.pubkey), 'the attacker is still connected');

  // Checkpointed (closed), the file alone is about twice the JSON.
  rv.leave();
  h.close();
  await victim.close();
  const file = dbBytes(victimPath);
  t.diagnostic(`after close: database file ${mib(file)} in all (a fresh one is well under 1 MiB); bound 3x the JSON + 1 MiB (README: "about twice")`);
  assert.ok(file < 3 * json + MiB, `the database file is ${mib(file)} for ${mib(json)} of JSON`);
});

test('3c. storage: mentions from throwaway keys (kept by design) stay within the size budget; own and followed events stay', async (t) => {
  const sc = scope(t);
  const budget = 4 * MiB;
  let own;
  const { victim, honest, victimPk, honestPk, victimPath, rv, h } = await setupRoom(sc, {
    signalUrl: sig.signalUrl,
    victimPolicy: { maxBytes: budget },
    beforeJoin: async ({ victim: v }) => { own = await v.post('my own post, older than the flood'); },
  });
  const followedPost = await honest.post('a followed post, older than the flood');
  await arrives(victim, followedPost.id);
  // 3,000 replies to the victim from 3,000 throwaway keys, 2 KiB each:
  // ~7 MiB of JSON that the default policy keeps (they mention the user).
  const mentions = Array.from({ length: 3000 }, (_, i) => signed({
    content: `@you ${i} ${'m'.repeat(2048)}`, tags: [['p', victimPk]],
  }));
  const json = mentions.reduce((n, e) => n + JSON.stringify(e).length, 0);
  const peak = { all: 0 };
  const sample = setInterval(() => {
    peak.all = Math.max(peak.all, dbBytes(victimPath));
  }, 50);
  let oks;
  try {
    oks = await push(h, mentions, 250);
  } finally {
    clearInterval(sample);
  }
  peak.all = Math.max(peak.all, dbBytes(victimPath));
  const accepted = [...oks.values()].filter(([ok]) => ok).length;
  t.diagnostic(`${accepted} of ${mentions.length} mentions accepted (${mib(json)} of JSON); database + WAL peaked at ${mib(peak.all)} for a budget of ${mib(budget)}`);
  assert.ok(accepted > 1000, 'mentions are kept by design (this is about the budget)');
  // The budget counts pages in use; the WAL adds up to ~8 MiB (README).
  assert.ok(peak.all < budget * 1.25 + 10 * MiB, `database + WAL reached ${mib(peak.all)}`);
  const kept = await storedCount(victim, mentions.map((e) => e.id));
  assert.ok(kept < accepted, `older mentions were evicted (${kept} of ${accepted} left)`);
  assert.equal((await victim.query({ ids: [own.id] })).length, 1, 'own post kept');
  assert.equal((await victim.query({ ids: [followedPost.id] })).length, 1, 'followed post kept');
  const p = await honest.post('an honest post after the mention flood');
  await arrives(victim, p.id);
  assert.ok(statsOf(rv, honestPk)?.done);

  // Closed (checkpointed), the file alone is within the budget and a bit.
  rv.leave();
  h.close();
  await victim.close();
  const file = dbBytes(victimPath);
  t.diagnostic(`after close: database file ${mib(file)} (budget ${mib(budget)})`);
  assert.ok(file < budget * 1.25 + MiB, `the database file is ${mib(file)}`);
});

test('4. 64 REQs for everything at once, read or not: each answer stops at 500 events and 1 MiB, the victim\'s memory stays bounded, an honest post still arrives', async (t) => {
  const sc = scope(t);
  const x = makeAuthor('attack-4 big');   // 3,000 events of ~4 KiB
  const y = makeAuthor('attack-4 small'); // 1,000 small events
  const base = nowSec() - 20_000;
  const big = Array.from({ length: 3000 }, (_, i) => signed({ content: `${i} ${'b'.repeat(4000)}`, created_at: base + i }, x.sk));
  const small = Array.from({ length: 1000 }, (_, i) => signed({ content: `small ${i}`, created_at: base + i }, y.sk));
  // The attacker runs in a child process: this process's memory is the
  // victim's and the honest peer's.
  const { victim, honest, rv, h } = await setupRoom(sc, {
    signalUrl: sig.signalUrl,
    victimPolicy: {},
    hostile: { remote: true },
    beforeJoin: async ({ victim: v }) => {
      await v.follow(x.pubkey);
      await v.follow(y.pubkey);
      for (const events of [big, small]) {
        for (let i = 0; i < events.length; i += 500) {
          const r = await v.merge(events.slice(i, i + 500).map((e) => ['EVENT', e]));
          assert.equal(r.accepted.length, Math.min(500, events.length - i), JSON.stringify(r.rejected[0]));
        }
      }
    },
  });
  const N = 64;
  const subsOf = async () => (await h.stats()).subs;

  // A: 64 REQs {} at once, answers read as they come.
  const rss = rssSampler();
  await h.send(Array.from({ length: N }, (_, i) => ['REQ', `q${i}`, {}]));
  await until(async () => Object.keys(await subsOf()).length > 0, 'the first answers');
  const p = await honest.post('an honest post during 64 REQs');
  await arrives(victim, p.id, 'the honest post during the REQ flood', 90_000);
  let subs = await until(async () => {
    const now = await subsOf();
    return Array.from({ length: N }, (_, i) => now[`q${i}`]?.eose).every(Boolean) && now;
  }, `EOSE for all ${N} REQs`, 90_000, 250);
  rss.stop();
  let total = 0;
  for (let i = 0; i < N; i++) {
    const s = subs[`q${i}`];
    assert.ok(s.events <= 500, `q${i}: ${s.events} events`);
    assert.ok(s.bytes <= MiB, `q${i}: ${s.bytes} bytes`);
    assert.ok(s.events > 100, `q${i}: an answer of ${s.events} events (the 1 MiB budget holds ~240 of 4 KiB)`);
    total += s.bytes;
  }
  const grew = rss.peak - rss.base;
  t.diagnostic(`A, read: ${N} REQs {} -> ${mib(total)} of answers, largest ${mib(Math.max(...Object.values(subs).map((s) => s.bytes)))}; ` +
    `victim-side RSS ${mib(rss.base)} -> peak ${mib(rss.peak)} (+${mib(grew)}, bound 100 MiB)`);
  assert.ok(grew < 100 * MiB, `RSS grew ${mib(grew)} while answering ${N} REQs`);

  // B: 64 more, and the attacker stops reading for 10 s (its process
  // stalls); the honest peer is served meanwhile.
  const rssB = rssSampler();
  await h.send(Array.from({ length: N }, (_, i) => ['REQ', `r${i}`, {}]));
  const blocked = h.call('block', { ms: 10_000 });
  const p2 = await honest.post('an honest post while the attacker does not read');
  await arrives(victim, p2.id, 'the honest post while the attacker does not read', 60_000);
  await blocked;
  subs = await until(async () => {
    const now = await subsOf();
    return Array.from({ length: N }, (_, i) => now[`r${i}`]?.eose).every(Boolean) && now;
  }, `EOSE for the ${N} REQs sent before the stall`, 90_000, 250);
  rssB.stop();
  const grewB = rssB.peak - rssB.base;
  for (let i = 0; i < N; i++) assert.ok(subs[`r${i}`].events <= 500 && subs[`r${i}`].bytes <= MiB, `r${i}: ${JSON.stringify(subs[`r${i}`])}`);
  t.diagnostic(`B, not read for 10 s: victim-side RSS ${mib(rssB.base)} -> peak ${mib(rssB.peak)} (+${mib(grewB)}, bound 100 MiB)`);
  assert.ok(grewB < 100 * MiB, `RSS grew ${mib(grewB)} while the attacker did not read`);

  // 500 events per filter, then EOSE, whatever the limit asked.
  await h.send([['REQ', 'small', { authors: [y.pubkey], limit: 100_000 }]]);
  subs = await until(async () => { const now = await subsOf(); return now.small?.eose && now; }, 'EOSE small');
  assert.equal(subs.small.events, 500);
  // Two filters: each up to 500, 1 MiB in all.
  await h.send([['REQ', 'two', { authors: [y.pubkey] }, { authors: [x.pubkey] }]]);
  subs = await until(async () => { const now = await subsOf(); return now.two?.eose && now; }, 'EOSE two');
  assert.ok(subs.two.events > 100 && subs.two.events <= 1000 && subs.two.bytes <= MiB, JSON.stringify(subs.two));

  assert.ok(statsOf(rv, h.pubkey), 'the attacker was served, not dropped');
  const p3 = await honest.post('after the REQ flood');
  await arrives(victim, p3.id);
});

test('10. a deletion and a deletion of that deletion: the same stored set in every order of arrival', async (t) => {
  const sc = scope(t);
  const author = makeAuthor('attack-10 author');
  const base = nowSec() - 100;
  const post = author.sign({ content: 'to be deleted', created_at: base });
  const del = author.sign({ kind: 5, tags: [['e', post.id]], created_at: base + 1 });
  const delDel = author.sign({ kind: 5, tags: [['e', del.id]], created_at: base + 2 });
  // Another author's deletion of the deletion has no effect either.
  const other = makeAuthor('attack-10 other');
  const otherDel = other.sign({ kind: 5, tags: [['e', del.id], ['e', post.id]], created_at: base + 3 });
  const events = [post, del, delDel, otherDel];
  const orders = [];
  const permute = (rest, acc) => {
    if (!rest.length) { orders.push(acc); return; }
    rest.forEach((e, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...acc, e]));
  };
  permute(events, []);
  assert.equal(orders.length, 24);
  const sets = new Map();
  const openFeed = await loadOpenFeed();
  const dir = sc.dir();
  for (const [n, order] of orders.entries()) {
    for (const batch of [false, true]) {
      // Opened and closed here (not held by the scope): 48 engines in turn.
      const feed = await openFeed({ path: join(dir, `f${n}-${batch}.db`), policy: { store: 'all' } });
      try {
      if (batch) await feed.merge(order.map((e) => ['EVENT', e]));
      else for (const e of order) await feed.merge(['EVENT', e]);
      const ids = (await feed.query({})).map((e) => e.id).sort().join(',');
      // And the deleted post stays refused afterwards.
      const again = await feed.merge(['EVENT', post]);
      assert.equal(again.accepted.length, 0, `order ${order.map((e) => events.indexOf(e)).join('')}: the post came back`);
      sets.set(`${order.map((e) => events.indexOf(e)).join('')}${batch ? ' batch' : ''}`, ids);
      } finally {
        await feed.close();
      }
    }
  }
  const distinct = new Set(sets.values());
  assert.equal(distinct.size, 1, `stored sets differ by order: ${JSON.stringify(Object.fromEntries(sets))}`);
  assert.deepEqual([...distinct][0].split(','), [del.id, delDel.id, otherDel.id].sort(),
    'both deletions and the other author\'s stay, the post goes');
});
