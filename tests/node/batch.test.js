// batch.test.js -- feed.mergeBatch: frames applied together, each answered
// on its own. One refused frame (forged, malformed, not JSON, a bad
// filter) in the middle of a batch costs only itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempFeed, makeAuthor, nowSec } from './helpers.js';

test('a batch with refused frames in the middle keeps every other frame', async (t) => {
  const { feed } = await tempFeed(t);
  const alice = makeAuthor(1);
  const before = alice.sign({ kind: 1, content: 'before', created_at: nowSec() });
  const after = alice.sign({ kind: 1, content: 'after', created_at: nowSec() });
  const forged = { ...alice.sign({ kind: 1, content: 'forged', created_at: nowSec() }), sig: before.sig };
  const frames = [
    JSON.stringify(['EVENT', before]),
    JSON.stringify(['EVENT', forged]),
    '["EVENT", {"id": ',
    JSON.stringify(['REQ', 'bad', { ids: 5 }]),
    JSON.stringify(['EVENT', after]),
    JSON.stringify(['REQ', 'good', { ids: [before.id, after.id] }]),
  ];
  const results = await feed.mergeBatch(1, frames);
  assert.equal(results.length, frames.length, 'one result per frame');
  assert.deepEqual(results.map((r) => r.accepted), [[before.id], [], [], [], [after.id], []]);
  assert.match(results[1].rejected[0].reason, /^invalid: /);
  assert.deepEqual(results[1].replies, [['OK', forged.id, false, results[1].rejected[0].reason]]);
  assert.equal(results[2].replies[0][0], 'NOTICE');
  assert.equal(results[3].replies[0][0], 'CLOSED');
  // The REQ after the refused frames sees both events of the same batch.
  assert.deepEqual(results[5].replies.map((f) => f[0]), ['EVENT', 'EVENT', 'EOSE']);
  const stored = await feed.query({ authors: [alice.pubkey] });
  assert.deepEqual(stored.map((e) => e.id).sort(), [before.id, after.id].sort());
});
