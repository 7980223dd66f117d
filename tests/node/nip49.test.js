// nip49.test.js -- feed.exportKey and ncryptsec keys (NIP-49), against
// nostr-tools as the independent implementation: what we seal it opens,
// what it seals we open; a wrong passphrase is a clear error that creates
// nothing; the bare nsec only when asked for in so many words.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { nip19 } from 'nostr-tools';
import * as nip49 from 'nostr-tools/nip49';
import { bytesToHex } from '@noble/hashes/utils.js';

import { openFeed } from '../../js-glue/node.js';
import { bech32Decode } from '../../js-glue/nip19.js';
import { tempDir } from './helpers.js';

test('exportKey({ passphrase }) -> an ncryptsec nostr-tools opens to the key openFeed was given', async (t) => {
  const dir = tempDir(t);
  const sk = generateSecretKey();
  const feed = await openFeed({ path: join(dir, 'a.db'), secretKey: sk });
  const sealed = await feed.exportKey({ passphrase: 'correct horse', logN: 8 });
  assert.match(sealed, /^ncryptsec1[02-9ac-hj-np-z]+$/);
  const bytes = bech32Decode(sealed, 'ncryptsec', 200);
  assert.equal(bytes.length, 91);
  assert.deepEqual([bytes[0], bytes[1], bytes[42]], [0x02, 8, 0x02], 'version, log_n, key security byte "not tracked"');
  assert.equal(bytesToHex(nip49.decrypt(sealed, 'correct horse')), bytesToHex(sk));
  // Fresh salt and nonce every time.
  assert.notEqual(await feed.exportKey({ passphrase: 'correct horse', logN: 8 }), sealed);
  // The passphrase is NFKC-normalized (NIP-49): the decomposed form opens it.
  const composed = await feed.exportKey({ passphrase: 'caf\u00e9', logN: 8 });
  assert.equal(bytesToHex(nip49.decrypt(composed, 'cafe\u0301')), bytesToHex(sk));
  await feed.close();
});

test('the default cost is log_n 16, and nostr-tools opens it', async (t) => {
  const dir = tempDir(t);
  const sk = generateSecretKey();
  const feed = await openFeed({ path: join(dir, 'a.db'), secretKey: bytesToHex(sk) });
  const sealed = await feed.exportKey({ passphrase: 'slow and steady' });
  assert.equal(bech32Decode(sealed, 'ncryptsec', 200)[1], 16);
  assert.equal(bytesToHex(nip49.decrypt(sealed, 'slow and steady')), bytesToHex(sk));
  await feed.close();
});

test('openFeed({ secretKey: ncryptsec, passphrase }) adopts a key nostr-tools sealed, and reopens with it', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.db');
  const sk = generateSecretKey();
  const sealed = nip49.encrypt(sk, 'hunter2', 8);
  const feed = await openFeed({ path, secretKey: sealed, passphrase: 'hunter2' });
  assert.equal((await feed.identity()).pubkey, getPublicKey(sk));
  const post = await feed.post('from a sealed key');
  assert.equal(post.pubkey, getPublicKey(sk));
  await feed.close();
  // Our own export opens our own open, at another cost.
  const again = await openFeed({ path, secretKey: sealed, passphrase: 'hunter2' });
  const ours = await again.exportKey({ passphrase: 'another', logN: 10 });
  await again.close();
  const third = await openFeed({ path, secretKey: ours, passphrase: 'another' });
  assert.equal((await third.identity()).pubkey, getPublicKey(sk));
  await third.close();
});

test('a wrong passphrase is a clear error and creates nothing; bad ncryptsec and option mixes are TypeErrors', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.db');
  const sealed = nip49.encrypt(generateSecretKey(), 'right', 8);
  await assert.rejects(openFeed({ path, secretKey: sealed, passphrase: 'wrong' }),
    (e) => e.name === 'HirobaError' && e.code === -1 && /wrong passphrase/.test(e.message));
  assert.equal(existsSync(path), false, 'nothing created');
  await assert.rejects(openFeed({ path, secretKey: sealed }), /pass its \{ passphrase \}/);
  // Its last checksum character changed (to another: one in 32 ends in q).
  const broken = `${sealed.slice(0, -1)}${sealed.endsWith('q') ? 'p' : 'q'}`;
  await assert.rejects(openFeed({ path, secretKey: broken }), /not a valid ncryptsec/);
  await assert.rejects(openFeed({ path, secretKey: generateSecretKey(), passphrase: 'x' }), TypeError);
  // A damaged ciphertext is told like a wrong passphrase (the tag cannot
  // tell them apart); a cost past what Hiroba takes is said as such.
  const bytes = bech32Decode(sealed, 'ncryptsec', 200);
  const { bech32Encode } = await import('../../js-glue/nip19.js');
  const damaged = Uint8Array.from(bytes);
  damaged[60] ^= 1;
  await assert.rejects(openFeed({ path, secretKey: bech32Encode('ncryptsec', damaged), passphrase: 'right' }), /wrong passphrase/);
  const costly = Uint8Array.from(bytes);
  costly[1] = 30;
  await assert.rejects(openFeed({ path, secretKey: bech32Encode('ncryptsec', costly), passphrase: 'right' }), /log_n 30/);
  assert.equal(existsSync(path), false, 'still nothing created');
});

test('exportKey({ nsec: true }) is nostr-tools\' nsec; anything else but a passphrase is a TypeError', async (t) => {
  const dir = tempDir(t);
  const sk = generateSecretKey();
  const feed = await openFeed({ path: join(dir, 'a.db'), secretKey: nip19.nsecEncode(sk) });
  assert.equal(await feed.exportKey({ nsec: true }), nip19.nsecEncode(sk));
  for (const bad of [undefined, {}, { nsec: 'yes' }, { passphrase: '' }, { passphrase: 42 },
    { passphrase: 'x', nsec: true }, { passphrase: 'x', logN: 0 }, { passphrase: 'x', logN: 21 }, { passphrase: 'x', logN: 8.5 }]) {
    await assert.rejects(feed.exportKey(bad), TypeError, JSON.stringify(bad));
  }
  await feed.close();
  // A database with its own random key exports that one.
  const own = await openFeed({ path: join(dir, 'b.db') });
  const nsec = await own.exportKey({ nsec: true });
  assert.equal(getPublicKey(nip19.decode(nsec).data), (await own.identity()).pubkey);
  await own.close();
});
