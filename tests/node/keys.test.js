// keys.test.js -- a key the user already has: openFeed({ secretKey }) as
// 32 bytes (nostr-tools' generateSecretKey()), hex or nsec adopts it on a
// new database; the same key reopens; a different key on an existing
// database is refused and changes nothing; npub wherever a pubkey goes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey, getPublicKey, verifyEvent } from 'nostr-tools/pure';
import { nip19 } from 'nostr-tools';
import { bytesToHex } from '@noble/hashes/utils.js';

import { openFeed } from '../../js-glue/node.js';

function tmp(t) {
  const dir = mkdtempSync(join(tmpdir(), 'hiroba-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a nostr-tools key (bytes, hex, nsec) drives a feed; what it signs verifies with nostr-tools', async (t) => {
  const dir = tmp(t);
  for (const [i, form] of ['bytes', 'hex', 'nsec'].entries()) {
    const sk = generateSecretKey();
    const secretKey = form === 'bytes' ? sk : form === 'hex' ? bytesToHex(sk) : nip19.nsecEncode(sk);
    const feed = await openFeed({ path: join(dir, `${i}.db`), secretKey });
    assert.equal((await feed.identity()).pubkey, getPublicKey(sk), form);
    const post = await feed.post(`signed with a ${form} key`);
    assert.equal(post.pubkey, getPublicKey(sk));
    assert.equal(verifyEvent(post), true);
    await feed.close();
  }
});

test('the same key reopens; no key reopens; a different key is refused and changes nothing', async (t) => {
  const dir = tmp(t);
  const path = join(dir, 'alice.db');
  const sk = generateSecretKey();
  const first = await openFeed({ path, secretKey: sk });
  const post = await first.post('kept');
  await first.close();
  const same = await openFeed({ path, secretKey: nip19.nsecEncode(sk) });
  await same.close();
  const plain = await openFeed({ path });
  assert.equal((await plain.identity()).pubkey, getPublicKey(sk));
  await plain.close();
  await assert.rejects(openFeed({ path, secretKey: generateSecretKey() }), /another identity/);
  const after = await openFeed({ path });
  assert.equal((await after.identity()).pubkey, getPublicKey(sk));
  assert.equal((await after.query({ ids: [post.id] })).length, 1);
  await after.close();
  // A database made without a key keeps its own identity too.
  const other = join(dir, 'random.db');
  await (await openFeed({ path: other })).close();
  await assert.rejects(openFeed({ path: other, secretKey: sk }), /another identity/);
});

test('bad keys are clear TypeErrors and leave no database behind; npub goes where a pubkey goes', async (t) => {
  const dir = tmp(t);
  const path = join(dir, 'bad.db');
  for (const bad of ['abc', 'A'.repeat(64), 'nsec1qqqq', nip19.npubEncode(getPublicKey(generateSecretKey())), new Uint8Array(31), 42]) {
    await assert.rejects(openFeed({ path, secretKey: bad }), TypeError);
  }
  assert.equal(existsSync(path), false);
  // 64 hex digits that are no secp256k1 key: zero, and the group order.
  await assert.rejects(openFeed({ path, secretKey: '0'.repeat(64) }), /not a valid secp256k1 secret key/);
  await assert.rejects(openFeed({ path, secretKey: 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141' }), /not a valid secp256k1/);
  assert.equal(existsSync(path), false, 'a refused first open leaves nothing behind');
  const feed = await openFeed({ path });
  const bob = getPublicKey(generateSecretKey());
  await feed.follow(nip19.npubEncode(bob));
  assert.deepEqual(await feed.following(), [bob]);
  await feed.mute(nip19.npubEncode(bob));
  assert.deepEqual(await feed.muted(), [bob]);
  await assert.rejects(feed.follow('npub1notakey'), TypeError);
  await feed.close();
});
