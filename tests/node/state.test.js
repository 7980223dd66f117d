// state.test.js -- feed.getState / feed.setState: the sync driver's
// key-value store in the database (per-relay bookkeeping), in Node.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempFeed } from './helpers.js';

test('state: round trip, overwrite, delete, survives a reopen; bad keys and values are clear errors', async (t) => {
  const { feed, reopen } = await tempFeed(t);
  assert.equal(await feed.getState('relay:wss://r.example/'), null);
  await feed.setState('relay:wss://r.example/', { since: 5, pending: null, refused: ['ab'] });
  await feed.setState('lone', 'truncated \ud83d');
  await feed.setState('gone', [1]);
  await feed.setState('gone', null);
  assert.equal(await feed.getState('gone'), null);
  const { pubkey } = await feed.identity();
  await feed.close();
  const again = await reopen();
  assert.deepEqual(await again.getState('relay:wss://r.example/'), { since: 5, pending: null, refused: ['ab'] });
  assert.equal(await again.getState('lone'), 'truncated \ud83d');
  assert.equal((await again.identity()).pubkey, pubkey);
  await assert.rejects(again.setState('', 1), /state key/);
  await assert.rejects(again.setState('x'.repeat(257), 1), /state key/);
  await assert.rejects(again.setState('big', 'x'.repeat(70000)), /at most 65536 bytes/);
  await assert.rejects(again.getState('a\u0001b'), /state key/);
});
