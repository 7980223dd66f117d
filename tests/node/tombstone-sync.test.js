// tombstone-sync.test.js -- a deletion by someone else must not hide an
// event from reconciliation: only confirmed tombstones (the dead event
// was seen, so its author matched the deleter) keep ids out of "need".

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempFeed, makeAuthor } from './helpers.js';

// Runs a reconciliation from `from` against `to` (frames passed by hand)
// and returns every id `from` reported as needed.
async function reconcile(from, to, filter) {
  const need = [];
  let frame = await from.negOpen('t:1', filter);
  for (let round = 0; round < 20 && frame; round++) {
    const answer = await to.merge(frame);
    const reply = answer.replies.find((r) => r[0] === 'NEG-MSG');
    if (!reply) break;
    const result = await from.merge(reply);
    need.push(...result.need);
    frame = result.replies.find((r) => r[0] === 'NEG-MSG') ?? null;
  }
  return need;
}

test("someone else's early deletion does not stop the target being fetched", async (t) => {
  const alice = makeAuthor('tomb-alice');
  const mallory = makeAuthor('tomb-mallory');
  const post = alice.sign({ content: 'mine' });
  const forged = mallory.sign({ kind: 5, tags: [['e', post.id]] });
  const { feed: holder } = await tempFeed(t, 'holder.db');
  const { feed: reader } = await tempFeed(t, 'reader.db');
  await holder.merge(['EVENT', post]);
  await reader.merge(['EVENT', forged]);
  const need = await reconcile(reader, holder, { authors: [alice.pubkey] });
  assert.deepEqual(need, [post.id]);
  const r = await reader.merge(['EVENT', post]);
  assert.deepEqual(r.accepted, [post.id], 'a deletion by another author has no effect');
});

test("the author's own deletion, once confirmed, keeps the id out of need", async (t) => {
  const alice = makeAuthor('tomb-alice2');
  const post = alice.sign({ content: 'regret' });
  const deletion = alice.sign({ kind: 5, tags: [['e', post.id]] });
  const { feed: holder } = await tempFeed(t, 'holder.db');
  const { feed: reader } = await tempFeed(t, 'reader.db');
  await holder.merge(['EVENT', post]); // a holder that never saw the deletion
  await reader.merge(['EVENT', deletion]);
  // Unconfirmed: fetched once, then refused and the tombstone confirmed.
  assert.deepEqual(await reconcile(reader, holder, { authors: [alice.pubkey], kinds: [1] }), [post.id]);
  const r = await reader.merge(['EVENT', post]);
  assert.match(r.rejected[0].reason, /^blocked: deleted/);
  assert.deepEqual(await reconcile(reader, holder, { authors: [alice.pubkey], kinds: [1] }), []);
});
