// count.test.js -- NIP-45 counts through the Node entry: feed.count against
// nostr-tools' matchFilter (an independent oracle) and against the events
// feed.query returns, for every filter field and for unions of filters
// that overlap; deleted events left out; bad filters refused; and the
// COUNT frame between peers (answered, CLOSED for a bad filter, a peer's
// answer ignored).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchFilter, matchFilters } from 'nostr-tools/filter';
import { tempFeed, makeAuthor, makeRng, pickSeed, assertMergeShape } from './helpers.js';

const T0 = 1_700_000_000;

/* Three authors, 60 events of kinds 1 and 7 with "e" and "p" tags that
** point at each other, merged into a feed that keeps everything. */
async function populated(t) {
  const { feed } = await tempFeed(t, 'count.db');
  const authors = [makeAuthor('count a'), makeAuthor('count b'), makeAuthor('count c')];
  const events = [];
  for (let i = 0; i < 60; i++) {
    const tags = [];
    if (i % 3 === 1) tags.push(['e', events[i - 1].id]);
    if (i % 4 === 0) tags.push(['p', authors[(i / 4) % 3].pubkey]);
    if (i % 5 === 0) tags.push(['t', `topic${i % 2}`]);
    const ev = authors[i % 3].sign({ kind: i % 2 ? 7 : 1, created_at: T0 + i, tags, content: `event ${i}` });
    events.push(ev);
  }
  const res = await feed.merge(events.map((ev) => ['EVENT', ev]));
  assert.equal(res.accepted.length, events.length);
  return { feed, authors, events };
}

test('count matches nostr-tools and query for each filter field', async (t) => {
  const { feed, authors, events } = await populated(t);
  const [a, b] = authors;
  const filters = [
    {},
    { ids: [events[0].id, events[7].id, 'f'.repeat(64)] },
    { authors: [a.pubkey] },
    { authors: [a.pubkey, b.pubkey], kinds: [7] },
    { kinds: [1] },
    { kinds: [1, 7, 3] },
    { '#e': [events[0].id, events[3].id] },
    { '#p': [b.pubkey] },
    { '#t': ['topic0'] },
    { '#e': [events[0].id], '#t': ['topic0', 'topic1'] },
    { kinds: [7], '#e': events.map((e) => e.id) },
    { since: T0 + 50 },
    { until: T0 + 9 },
    { since: T0 + 10, until: T0 + 19, authors: [a.pubkey] },
    { since: T0 + 100 },
  ];
  for (const f of filters) {
    const expected = events.filter((ev) => matchFilter(f, ev)).length;
    assert.equal(await feed.count(f), expected, JSON.stringify(f));
    assert.equal((await feed.query(f)).length, expected, `query ${JSON.stringify(f)}`);
  }
  // NIP-45 counts every match: a limit is ignored (query applies it).
  assert.equal(await feed.count({ kinds: [1], limit: 2 }), 30);
  assert.equal(await feed.count({ limit: 0 }), 60);
});

test('a union of overlapping filters counts each event once', async (t) => {
  const { feed, authors, events } = await populated(t);
  const seed = pickSeed();
  t.diagnostic(`seed ${seed} (HIROBA_SEED=${seed} to replay)`);
  const rng = makeRng(seed);
  const pieces = [
    () => ({ kinds: [rng.pick([1, 7])] }),
    () => ({ authors: [rng.pick(authors).pubkey] }),
    () => ({ since: T0 + rng.int(60) }),
    () => ({ until: T0 + rng.int(60) }),
    () => ({ ids: Array.from({ length: 1 + rng.int(10) }, () => rng.pick(events).id) }),
    () => ({ '#e': [rng.pick(events).id, rng.pick(events).id] }),
    () => ({ '#p': [rng.pick(authors).pubkey] }),
  ];
  const filter = () => Object.assign({}, ...Array.from({ length: 1 + rng.int(2) }, () => rng.pick(pieces)()));
  for (let i = 0; i < 40; i++) {
    const fs = Array.from({ length: 1 + rng.int(4) }, filter);
    const expected = events.filter((ev) => matchFilters(fs, ev)).length;
    assert.equal(await feed.count(fs), expected, JSON.stringify(fs));
  }
  // The same filter twice, and one inside another.
  assert.equal(await feed.count([{ kinds: [7] }, { kinds: [7] }]), 30);
  assert.equal(await feed.count([{ kinds: [7] }, { kinds: [7], authors: [authors[0].pubkey] }]), 30);
  assert.equal(await feed.count([{ kinds: [7] }, { kinds: [1] }]), 60);
});

test('deleted events are not counted', async (t) => {
  const { feed } = await tempFeed(t, 'count-deleted.db');
  const posts = [await feed.post('one'), await feed.post('two'), await feed.post('three')];
  const { pubkey } = await feed.identity();
  assert.equal(await feed.count({ authors: [pubkey], kinds: [1] }), 3);
  await feed.delete(posts[1].id);
  assert.equal(await feed.count({ authors: [pubkey], kinds: [1] }), 2);
  assert.equal(await feed.count({ ids: posts.map((p) => p.id) }), 2);
  assert.equal(await feed.count({ kinds: [5] }), 1);
});

test('a bad filter is refused with the reason, as query refuses it', async (t) => {
  const { feed } = await tempFeed(t, 'count-bad.db');
  for (const [f, word] of [
    [{ search: 'x' }, /unsupported filter field/],
    [{ limit: -1 }, /limit/],
    [{ kinds: ['1'] }, /kinds/],
    [{ ids: ['ABC'] }, /ids/],
    [{ '#e': 'x' }, /tag filters/],
    [[], /from 1 to 64 filters/],
    [Array.from({ length: 65 }, () => ({})), /from 1 to 64 filters/],
  ]) {
    await assert.rejects(feed.count(f), (err) => {
      assert.equal(err.name, 'HirobaError');
      assert.equal(err.code, -1);
      assert.match(err.message, word);
      return true;
    }, JSON.stringify(f).slice(0, 80));
    await assert.rejects(feed.query(f), { code: -1 });
  }
});

test('COUNT frames: answered with the count, CLOSED for a bad filter, a peer answer ignored', async (t) => {
  const { feed, events } = await populated(t);
  let res = await feed.merge(['COUNT', 'c1', { kinds: [7] }, { '#e': [events[0].id] }]);
  assertMergeShape(res);
  assert.deepEqual(res.replies, [['COUNT', 'c1', { count: 30 }]]);
  assert.deepEqual(res.rejected, []);
  res = await feed.merge(['COUNT', 'c2', { kinds: [1], search: 'x' }]);
  assert.deepEqual(res.replies, [['CLOSED', 'c2', 'invalid: unsupported filter field']]);
  assert.deepEqual(res.rejected, [{ id: null, reason: 'invalid: unsupported filter field' }]);
  res = await feed.merge(['COUNT', 'c3', { count: 12 }]);
  assert.deepEqual(res.replies, []);
  assert.deepEqual(res.rejected, []);
  res = await feed.merge(['COUNT', 'c4']);
  assert.deepEqual(res.replies, [['NOTICE', 'invalid: COUNT takes a subscription id and filters']]);
  // In a batch, one answer per COUNT, in order.
  const results = await feed.mergeBatch(1, [
    JSON.stringify(['COUNT', 'x', { kinds: [1] }]),
    JSON.stringify(['COUNT', 'y', {}]),
  ]);
  assert.deepEqual(results.map((r) => r.replies), [[['COUNT', 'x', { count: 30 }]], [['COUNT', 'y', { count: 60 }]]]);
});
