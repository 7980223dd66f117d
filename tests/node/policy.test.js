// policy.test.js -- the storage policy of openFeed (README "Storage
// policy"): by default a feed keeps its own events, followed authors',
// and what references them; "all" keeps every valid event; maxBytes is a
// size budget that never evicts the user's own events. Authors are
// nostr-tools keys (the independent implementation).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { tempDir, tempFeed, makeAuthor, loadOpenFeed } from './helpers.js';

const DEFAULT = { policy: {} }; // tempFeed's own default is "all"

test('by default: own, followed, and what references them; strangers are blocked', async (t) => {
  const { feed } = await tempFeed(t, 'feed.db', DEFAULT);
  const me = (await feed.identity()).pubkey;
  const alice = makeAuthor('policy alice');
  const stranger = makeAuthor('policy stranger');
  await feed.follow(alice.pubkey);

  const byAlice = alice.sign({ content: 'hello' });
  const byStranger = stranger.sign({ content: 'buy my coin' });
  const replyToMe = stranger.sign({ content: 'hi you', tags: [['p', me]] });
  const reaction = stranger.sign({ kind: 7, content: '+', tags: [['e', byAlice.id], ['p', alice.pubkey]] });
  const strangerName = stranger.sign({ kind: 0, content: '{"name":"s"}' });

  let r = await feed.merge(['EVENT', byStranger]);
  assert.equal(r.accepted.length, 0);
  assert.match(r.rejected[0].reason, /^blocked: /);
  assert.deepEqual(r.replies[0].slice(0, 3), ['OK', byStranger.id, false]);
  // A profile of someone we hold nothing from is blocked too.
  r = await feed.merge(['EVENT', strangerName]);
  assert.equal(r.accepted.length, 0);

  for (const ev of [byAlice, replyToMe, reaction, strangerName]) {
    r = await feed.merge(['EVENT', ev]);
    assert.deepEqual(r.accepted, [ev.id], `kept ${ev.content}`);
  }
  assert.equal((await feed.query({ ids: [byStranger.id] })).length, 0);
});

test('policy "all" keeps every valid event; bad policies are refused', async (t) => {
  const { feed } = await tempFeed(t, 'feed.db', { policy: { store: 'all' } });
  const ev = makeAuthor().sign({ content: 'anyone' });
  assert.deepEqual((await feed.merge(['EVENT', ev])).accepted, [ev.id]);
  const openFeed = await loadOpenFeed();
  const never = join(tempDir(t), 'never-opened.db');
  for (const policy of [{ store: 'some' }, { maxBytes: -1 }, { maxBytes: 1.5 }, 'all']) {
    await assert.rejects(openFeed({ path: never, policy }), TypeError, JSON.stringify(policy));
  }
  assert.equal(fs.existsSync(never), false, 'a refused policy opens nothing');
});

test('maxBytes: strangers go first, then followed authors; own events stay', async (t) => {
  const { feed, path } = await tempFeed(t, 'feed.db', { policy: { store: 'all', maxBytes: 2_000_000 } });
  const mine = await feed.post('mine, and older than everything else');
  const followed = makeAuthor('budget followed');
  await feed.follow(followed.pubkey);
  const body = 'x'.repeat(3000);
  const base = Math.floor(Date.now() / 1000) - 100_000;
  const strangers = [];
  for (let i = 0; i < 600; i++) strangers.push(makeAuthor().sign({ content: `${i}${body}`, created_at: base + i }));
  const theirs = [];
  for (let i = 0; i < 600; i++) theirs.push(followed.sign({ content: `f${i}${body}`, created_at: base + 1000 + i }));
  for (let i = 0; i < strangers.length; i += 50) await feed.merge(strangers.slice(i, i + 50).map((e) => ['EVENT', e]));
  for (let i = 0; i < theirs.length; i += 50) await feed.merge(theirs.slice(i, i + 50).map((e) => ['EVENT', e]));
  // 1,200 events of ~3.3 KB (4 MB) into a 2 MB budget.
  const keptStrangers = (await feed.query({ ids: strangers.map((e) => e.id) })).length;
  const keptFollowed = (await feed.query({ ids: theirs.map((e) => e.id) })).length;
  t.diagnostic(`kept ${keptStrangers} of 600 strangers' and ${keptFollowed} of 600 followed events`);
  assert.ok(keptStrangers < 100, 'strangers were evicted first');
  assert.ok(keptFollowed > 300, 'followed authors mostly kept');
  assert.equal((await feed.query({ ids: [mine.id] })).length, 1, 'own event kept');
  const dbSize = fs.statSync(path).size;
  const walSize = fs.existsSync(`${path}-wal`) ? fs.statSync(`${path}-wal`).size : 0;
  t.diagnostic(`database ${dbSize} bytes, WAL ${walSize} bytes`);
  // The budget counts pages in use; the file keeps its free pages, and
  // the WAL is bounded apart (README).
  assert.ok(walSize <= 9 * 1024 * 1024, 'WAL within its bound');
  // Evicted followed events are not taken again (sync would fetch them back).
  const stored = new Set((await feed.query({ ids: theirs.map((e) => e.id) })).map((e) => e.id));
  const evicted = theirs.find((e) => !stored.has(e.id));
  const again = await feed.merge(['EVENT', evicted]);
  assert.equal(again.accepted.length, 0);
  assert.match(again.rejected[0].reason, /^blocked: evicted/);
});
