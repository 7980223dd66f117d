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

test('state: keys must be well-formed strings and values JSON-serializable; null-like values delete', async (t) => {
  const { feed } = await tempFeed(t);
  // Not strings, or a lone surrogate (which UTF-8 would turn into U+FFFD,
  // so 'a\ud800' and 'a\udbff' would share a slot): refused before the engine.
  for (const key of [undefined, 1, {}, 'a\ud800']) {
    await assert.rejects(feed.setState(key, 1), /state key/);
    await assert.rejects(feed.getState(key), /state key/);
  }
  await assert.rejects(feed.setState('a\u0085b', 1), /state key/);   // C1 control
  await assert.rejects(feed.setState('f', () => 1), /JSON-serializable/);
  await assert.rejects(feed.setState('f', 1n), /BigInt/);
  await feed.setState('caf\u00e9 \ud83d\ude00', { ok: true });      // a surrogate pair is fine
  assert.deepEqual(await feed.getState('caf\u00e9 \ud83d\ude00'), { ok: true });
  await feed.setState('n', 1);
  await feed.setState('n', NaN);
  assert.equal(await feed.getState('n'), null);
  await feed.setState('n', 2);
  await feed.setState('n', undefined);
  assert.equal(await feed.getState('n'), null);
  await feed.setState('x'.repeat(256), 0);                            // the longest key
  assert.equal(await feed.getState('x'.repeat(256)), 0);
});
