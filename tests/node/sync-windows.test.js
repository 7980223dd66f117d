// Reconciling more events than one Negentropy session may hold: the sync
// driver (js-glue/sync-link.js) splits the reconciliation into created_at
// windows. The engine's own limit is 500,000 items per session
// (src/merge.h); here the driver's limit is lowered (limits.NEG_ITEMS) so
// that a few hundred events need several windows, and the other side's
// refusal ("blocked: too many events to reconcile") is the exact NEG-ERR
// the engine sends. Two real feeds, two real SyncLinks, frames passed
// between them in memory.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SyncLink } from '../../js-glue/sync-link.js';
import { LIMITS } from '../../js-glue/peer-guard.js';
import { tempFeed, makeAuthor, nowSec, until } from './helpers.js';

const TOO_MANY = 'blocked: too many events to reconcile (more than 500000): use a narrower filter';

// Two links over one in-memory connection (each feed's pubkey in
// feed.self). tap(from, text) -> (a Promise of) the text to deliver, or
// null to drop it.
function connect(feedA, feedB, { limits, follows, tap = (from, text) => text }) {
  const errors = [];
  const sent = { a: [], b: [] };
  const links = {};
  const make = (name, feed, other) => new SyncLink({
    feed, self: feed.self, limits, kind: 'peer', follows: () => follows,
    transport: {
      label: name,
      send: async (text) => {
        sent[name].push(text);
        const out = await tap(name, text);
        if (out !== null) setImmediate(() => links[other].receive(out));
      },
      queued: () => 0,
      isOpen: () => true,
    },
    hooks: { error: (err) => errors.push(`${name}: ${err.message}`), drop: (why) => errors.push(`${name} dropped: ${why}`) },
  });
  links.a = make('a', feedA, 'b');
  links.b = make('b', feedB, 'a');
  return { links, sent, errors };
}

async function setup(t, n, bHolds) {
  const { feed: a } = await tempFeed(t, 'a.db');
  const { feed: b } = await tempFeed(t, 'b.db');
  const x = makeAuthor('windows');
  const t0 = nowSec() - 3600;
  // One event an hour back in time, so windows cut between them.
  const events = Array.from({ length: n }, (_, i) => x.sign({ content: `note ${i}`, created_at: t0 - i * 3600 }));
  await a.merge(events.map((e) => ['EVENT', e]));
  await b.merge(events.slice(0, bHolds).map((e) => ['EVENT', e]));
  for (const f of [a, b]) f.self = (await f.identity()).pubkey;
  return { a, b, x, events };
}

const negOpens = (texts) => texts.filter((t) => t.startsWith('["NEG-OPEN"')).map((t) => JSON.parse(t)[2]);

test('over the item limit, reconciliation runs in created_at windows, each within the limit, and misses nothing', async (t) => {
  const { a, b, x, events } = await setup(t, 200, 40);
  const limits = { ...LIMITS, NEG_ITEMS: 50 };
  const { links, sent, errors } = connect(a, b, { limits, follows: new Set([x.pubkey]) });
  await Promise.all([links.a.start(), links.b.start()]);
  await until(() => links.a.done && links.b.done, 'both links done', 60_000);
  assert.deepEqual(errors, []);
  assert.equal(await b.count({ authors: [x.pubkey] }), events.length, 'B got every event');
  // A holds 200: at least four windows, and none held more than 50 of A's.
  const windows = negOpens(sent.a);
  assert.ok(windows.length >= 4, `A opened ${windows.length} windows`);
  for (const f of windows) assert.ok(await a.count(f) <= 50, `window ${JSON.stringify({ since: f.since, until: f.until })}`);
  // The windows cover all of time, without overlap.
  const spans = windows.map((f) => [f.since ?? 0, f.until ?? Infinity]).sort((p, q) => p[0] - q[0]);
  assert.equal(spans[0][0], 0);
  assert.equal(spans.at(-1)[1], Infinity);
  for (let i = 1; i < spans.length; i++) assert.equal(spans[i][0], spans[i - 1][1] + 1);
  for (const l of Object.values(links)) l.close();
});

test('a peer that refuses a window as too many gets halves of it until it accepts', async (t) => {
  const { a, b, x, events } = await setup(t, 120, 10);
  // A refuses, as the engine does past its limit, any NEG-OPEN whose
  // window holds more than 30 of its events.
  const refused = [];
  const tap = async (from, text) => {
    if (from !== 'b' || !text.startsWith('["NEG-OPEN"')) return text;
    const [, sub, f] = JSON.parse(text);
    if (await a.count(f) <= 30) return text;
    refused.push(sub);
    setImmediate(() => t.links.b.receive(JSON.stringify(['NEG-ERR', sub, TOO_MANY])));
    return null;
  };
  const { links, errors } = connect(a, b, { limits: LIMITS, follows: new Set([x.pubkey]), tap });
  t.links = links;
  await links.b.start();
  await until(() => links.b.done, 'B done', 60_000);
  assert.deepEqual(errors, []);
  assert.ok(refused.length >= 2, `${refused.length} windows refused`);
  assert.equal(await b.count({ authors: [x.pubkey] }), events.length, 'B got every event');
  for (const l of Object.values(links)) l.close();
});
