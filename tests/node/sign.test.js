// sign.test.js -- feed.sign(): events that prove the identity (the
// signaling server's kind-22242 challenge answer) are signed like posts,
// verify in nostr-tools, and are neither stored nor announced.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyEvent } from 'nostr-tools/pure';
import { tempFeed } from './helpers.js';

test('sign() signs with the identity and stores nothing', async (t) => {
  const { feed } = await tempFeed(t);
  const announced = [];
  feed.on('event', (e) => announced.push(e));
  const { pubkey } = await feed.identity();
  const auth = await feed.sign({ kind: 22242, content: '', tags: [['challenge', 'abc'], ['relay', 'ws://x']] });
  assert.equal(auth.pubkey, pubkey);
  assert.equal(auth.kind, 22242);
  assert.deepEqual(auth.tags, [['challenge', 'abc'], ['relay', 'ws://x']]);
  assert.ok(Math.abs(auth.created_at - Date.now() / 1000) < 60);
  assert.equal(verifyEvent(structuredClone(auth)), true);
  assert.deepEqual(await feed.query({}), []);
  assert.deepEqual(announced, []);
  await assert.rejects(feed.sign({ kind: -1 }), (e) => e.code === -1);
});
