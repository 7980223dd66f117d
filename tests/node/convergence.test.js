// convergence.test.js -- three feeds that see the same events, in different
// orders, with duplicates, singles and batches, end in the same state, and
// that state is the one the contract predicts (DESIGN §2-3): every event
// stored except deleted ones (deleted by their own author) and replaced
// ones (not the newest of its pubkey+kind, ties by lowest id).
//
// The script is random but seeded: the seed is printed, and HIROBA_SEED=<n>
// replays the same script (feed identities and local timestamps still come
// from the engine and the clock, so event ids differ between runs, but the
// sequence of operations, authors and shuffles is the same).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchFilter } from 'nostr-tools/filter';
import {
  tempFeed, makeAuthor, nowSec, byContractOrder, makeRng, pickSeed, assertMergeShape,
} from './helpers.js';

const N_OPS = 300;
const isReplaceable = (k) => k === 0 || k === 3 || (k >= 10000 && k < 20000);
const sorted = (evs) => [...evs].sort(byContractOrder);
const ids = (evs) => evs.map((e) => e.id);

/* What every feed should hold once it has seen `all`. */
function model(all) {
  const byId = new Map(all.map((e) => [e.id, e]));
  const deleted = new Set();
  for (const d of all) {
    if (d.kind !== 5) continue;
    for (const t of d.tags) {
      const target = t[0] === 'e' ? byId.get(t[1]) : undefined;
      if (target && target.pubkey === d.pubkey) deleted.add(target.id);
    }
  }
  const winners = new Map();  // pubkey:kind -> event
  for (const e of all) {
    if (!isReplaceable(e.kind)) continue;
    const key = `${e.pubkey}:${e.kind}`;
    const w = winners.get(key);
    if (!w || byContractOrder(e, w) < 0) winners.set(key, e);
  }
  const replaced = new Set(all.filter((e) => isReplaceable(e.kind) && winners.get(`${e.pubkey}:${e.kind}`) !== e).map((e) => e.id));
  const stored = sorted(all.filter((e) => !deleted.has(e.id) && !replaced.has(e.id)));
  return { stored, deleted, replaced, winners };
}

/* The timeline every feed should show when it follows every author. */
function modelTimeline(stored, winners) {
  const posts = stored.filter((e) => e.kind === 1);
  return posts.map((event) => {
    const reactions = {};
    for (const r of stored) {
      if (r.kind !== 7) continue;
      const es = r.tags.filter((t) => t[0] === 'e');
      if (es.length && es[es.length - 1][1] === event.id) {
        const key = r.content === '' ? '+' : r.content;
        reactions[key] = (reactions[key] ?? 0) + 1;
      }
    }
    const replies = stored.filter((r) => r.kind === 1 && r.tags.some((t) => t[0] === 'e' && t[1] === event.id)).length;
    const p = winners.get(`${event.pubkey}:0`);
    let profile = null;
    if (p) { try { profile = JSON.parse(p.content); } catch { profile = null; } }
    return { event, profile, reactions, replies };
  });
}

test('three feeds converge on the same events, whatever the order of delivery', async (t) => {
  const seed = pickSeed();
  t.diagnostic(`seed ${seed} (replay with HIROBA_SEED=${seed})`);
  const rng = makeRng(seed);
  const say = (msg) => `${msg} [seed ${seed}]`;

  const feeds = [];
  for (let i = 0; i < 3; i++) feeds.push((await tempFeed(t, `feed${i}.db`)).feed);
  const extras = Array.from({ length: 4 }, (_, i) => makeAuthor(`convergence ${seed} ${i}`));

  // Actors: the three feeds (local API) and the extras (nostr-tools, with
  // created_at of our choosing, in the past hour).
  const actors = [];
  for (const [i, feed] of feeds.entries()) {
    actors.push({ name: `feed${i}`, feed, pubkey: (await feed.identity()).pubkey, posts: [], deleted: new Set() });
  }
  for (const [i, a] of extras.entries()) actors.push({ name: `x${i}`, author: a, pubkey: a.pubkey, posts: [], deleted: new Set() });
  const pubkeys = actors.map((a) => a.pubkey);

  const all = new Map();          // id -> event: everything any actor made
  const keep = (ev) => {
    // The same template signed twice gives one id with two valid
    // signatures; which one a feed keeps would depend on arrival order.
    // The script avoids that (see `once`), and this catches a slip.
    const prev = all.get(ev.id);
    assert.ok(!prev || JSON.stringify(prev) === JSON.stringify(ev), say(`the script made two versions of ${ev.id}`));
    all.set(ev.id, ev);
    return ev;
  };
  const made = new Set();         // reactions and deletions already made
  const once = (key) => (made.has(key) ? false : (made.add(key), true));
  const T0 = nowSec() - 3600;
  const pastTime = () => T0 + rng.int(600);  // narrow, so created_at ties are common
  const posts = [];               // every kind-1 event made so far
  const counts = {};

  for (let op = 0; op < N_OPS; op++) {
    const actor = rng.pick(actors);
    const r = rng.next();
    let kind;
    if (r < 0.35) kind = 'post';
    else if (r < 0.55) kind = 'react';
    else if (r < 0.63) kind = 'delete-own';
    else if (r < 0.66) kind = 'delete-other';
    else if (r < 0.74) kind = 'profile';
    else if (r < 0.84) kind = 'follow';
    else kind = 'replaceable-tie';
    counts[kind] = (counts[kind] ?? 0) + 1;

    if (kind === 'post') {
      const tags = [];
      if (posts.length && rng.chance(0.3)) {
        const parent = rng.pick(posts);
        tags.push(['e', parent.id], ['p', parent.pubkey]);
      }
      if (rng.chance(0.3)) tags.push(['t', rng.pick(['nostr', 'hiroba', 'p2p'])]);
      const text = `op ${op} by ${actor.name}: ${rng.pick(['hello', 'こんにちは', 'quote " and \\', 'tab\there', '😀'])}`;
      const ev = actor.feed
        ? await actor.feed.post(text, { tags })
        : actor.author.sign({ kind: 1, content: text, tags, created_at: pastTime() });
      keep(ev);
      posts.push(ev);
      actor.posts.push(ev);
    } else if (kind === 'react') {
      if (!posts.length) continue;
      const target = rng.pick(posts);
      const content = rng.pick(['+', '+', '-', '🔥']);
      if (!once(`${actor.name} 7 ${target.id} ${content}`)) continue;
      keep(actor.feed
        ? await actor.feed.react(target.id, content)
        : actor.author.sign({ kind: 7, content, tags: [['e', target.id], ['p', target.pubkey]], created_at: pastTime() }));
    } else if (kind === 'delete-own') {
      const mine = actor.posts.filter((p) => !actor.deleted.has(p.id));
      if (!mine.length) continue;
      const victim = rng.pick(mine);
      actor.deleted.add(victim.id);
      if (!once(`${actor.name} 5 ${victim.id}`)) continue;
      keep(actor.feed
        ? await actor.feed.delete(victim.id)
        : actor.author.sign({ kind: 5, tags: [['e', victim.id]], created_at: pastTime() }));
    } else if (kind === 'delete-other') {
      // A deletion of someone else's post: stored, deletes nothing.
      const theirs = posts.filter((p) => p.pubkey !== actor.pubkey);
      if (!theirs.length) continue;
      const victim = rng.pick(theirs);
      if (!once(`${actor.name} 5 ${victim.id}`)) continue;
      if (actor.feed) {
        // The feed does not know the post yet (nothing is delivered before
        // the end), so it signs the deletion without complaint.
        keep(await actor.feed.delete(victim.id));
      } else {
        keep(actor.author.sign({ kind: 5, tags: [['e', victim.id]], created_at: pastTime() }));
      }
    } else if (kind === 'profile') {
      const name = `${actor.name}-${op}`;
      keep(actor.feed
        ? await actor.feed.setProfile(rng.chance(0.5) ? { name } : { about: `about ${op}` })
        : actor.author.sign({ kind: 0, content: JSON.stringify({ name, about: `op ${op}` }), created_at: pastTime() }));
    } else if (kind === 'follow') {
      const other = rng.pick(pubkeys);
      if (actor.feed) {
        keep(rng.chance(0.7) ? await actor.feed.follow(other) : await actor.feed.unfollow(other));
      } else {
        keep(actor.author.sign({ kind: 3, content: `op ${op}`, tags: [['p', other]], created_at: pastTime() }));
      }
    } else {
      // Two or three versions of one replaceable event with the same
      // created_at: the lowest id must win everywhere.
      const a = actor.author ?? rng.pick(extras);
      const k = rng.pick([0, 3, 10000, 10002]);
      const at = pastTime();
      const n = 2 + rng.int(2);
      for (let i = 0; i < n; i++) {
        const content = k === 0 ? JSON.stringify({ name: `tie ${op}.${i}` }) : `tie ${op}.${i}`;
        keep(a.sign({ kind: k, content, tags: k === 0 ? [] : [['p', rng.pick(pubkeys)]], created_at: at }));
      }
    }
  }
  // Every feed follows every author, so their timelines cover the same set.
  for (const f of feeds) for (const pk of pubkeys) keep(await f.follow(pk));
  t.diagnostic(`ops ${JSON.stringify(counts)}; ${all.size} events`);

  // Deliver everything to every feed: its own shuffle, ~20% duplicates,
  // singles (both EVENT forms) and batches.
  const events = [...all.values()];
  for (const [fi, feed] of feeds.entries()) {
    const list = rng.shuffle([...events, ...events.filter(() => rng.chance(0.2))]);
    let i = 0;
    let nFrames = 0;
    const tally = { accepted: 0, duplicates: 0, rejected: 0 };
    while (i < list.length) {
      const r = rng.next();
      let frame;
      let n;
      if (r < 0.35) {
        frame = ['EVENT', list[i]]; n = 1;
      } else if (r < 0.5) {
        frame = ['EVENT', `sub-${fi}`, list[i]]; n = 1;
      } else {
        n = Math.min(2 + rng.int(11), list.length - i);
        frame = list.slice(i, i + n).map((e) => (rng.chance(0.2) ? ['EVENT', 'sub', e] : ['EVENT', e]));
      }
      i += n;
      nFrames++;
      const res = await feed.merge(frame);
      assertMergeShape(res);
      assert.equal(res.accepted.length + res.duplicates + res.rejected.length, n,
        say(`feed${fi}: every event of a frame is accounted for: ${JSON.stringify(res).slice(0, 300)}`));
      for (const rej of res.rejected) {
        assert.match(rej.reason, /^(blocked|replaced):/, say(`feed${fi}: only blocked/replaced rejections, got ${JSON.stringify(rej)}`));
      }
      tally.accepted += res.accepted.length;
      tally.duplicates += res.duplicates;
      tally.rejected += res.rejected.length;
    }
    t.diagnostic(`feed${fi}: ${nFrames} frames, ${list.length} events: ${JSON.stringify(tally)}`);
  }

  const { stored, deleted, replaced, winners } = model(events);
  t.diagnostic(`model: ${stored.length} stored, ${deleted.size} deleted, ${replaced.size} replaced`);
  assert.ok(deleted.size > 0 && replaced.size > 0, say('the script exercised deletion and replacement'));

  // Identical results everywhere, and equal to the model.
  const postIds = events.filter((e) => e.kind === 1).map((e) => e.id);
  const filters = [
    {},
    ...[0, 1, 3, 5, 7, 10000, 10002].map((k) => ({ kinds: [k] })),
    ...pubkeys.map((pk) => ({ authors: [pk] })),
    ...pubkeys.map((pk) => ({ '#p': [pk] })),
    { '#e': [postIds[0], ...postIds.filter(() => rng.chance(0.15))] },
    ...Array.from({ length: 5 }, () => ({ '#e': [rng.pick(postIds)] })),
    { '#t': ['nostr', 'p2p'] },
    { limit: 25 },
    { kinds: [1], since: T0 + 200, until: T0 + 400 },
    { authors: [pubkeys[0], pubkeys[4]], kinds: [1, 7], limit: 10 },
    [{ kinds: [0] }, { authors: [pubkeys[5]] }],
  ];
  for (const f of filters) {
    const results = [];
    for (const feed of feeds) results.push(await feed.query(f));
    const fs = Array.isArray(f) ? f : [f];
    let expected = stored.filter((e) => fs.some((x) => matchFilter(x, e)));
    if (!Array.isArray(f) && f.limit !== undefined) expected = expected.slice(0, f.limit);
    const label = JSON.stringify(f).slice(0, 120);
    assert.deepEqual(ids(results[1]), ids(results[0]), say(`feed1 and feed0 agree on ${label}`));
    assert.deepEqual(ids(results[2]), ids(results[0]), say(`feed2 and feed0 agree on ${label}`));
    assert.deepEqual(results[0], expected, say(`the feeds hold what the contract predicts for ${label}`));
  }

  // Deleted and replaced events are absent everywhere, even by id.
  const gone = [...deleted, ...replaced];
  for (const [fi, feed] of feeds.entries()) {
    assert.deepEqual(await feed.query({ ids: gone }), [], say(`feed${fi} holds no deleted or replaced event`));
    const req = await feed.merge(['REQ', 'gone', { ids: gone }]);
    assert.deepEqual(req.replies, [['EOSE', 'gone']], say(`feed${fi} serves no deleted or replaced event`));
  }

  // A REQ for everything is answered identically by every feed.
  const answers = [];
  for (const feed of feeds) answers.push((await feed.merge(['REQ', 'all', {}])).replies);
  assert.deepEqual(answers[1], answers[0], say('REQ answers agree (feed1, feed0)'));
  assert.deepEqual(answers[2], answers[0], say('REQ answers agree (feed2, feed0)'));

  // Timelines agree, since all three follow every author.
  const timelines = [];
  for (const feed of feeds) timelines.push(await feed.timeline({ limit: 1000 }));
  assert.deepEqual(timelines[1], timelines[0], say('timelines agree (feed1, feed0)'));
  assert.deepEqual(timelines[2], timelines[0], say('timelines agree (feed2, feed0)'));
  assert.deepEqual(timelines[0], modelTimeline(stored, winners), say('the timeline is what the contract predicts'));
});
