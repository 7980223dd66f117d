// schema-migration.test.js -- a database of schema version 1 (the
// fixture tests/node/fixtures/v1.db, made by the version 1 engine with
// make-v1-db.js) opened by this engine: migrated to version 2 losing
// nothing. Every query and count gives byte for byte the text version 1
// gave (v1-answers.json), the identity and the sync state are there, and
// the tombstones and mutes still decide later merges as they did; and a
// process killed at any write of the migration leaves files that open to
// the same answers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeStorage } from '../../js-glue/storage-node.js';
import { instantiateEngine, loadOpenFeed, tempDir } from './helpers.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const v1 = JSON.parse(readFileSync(new URL('v1-answers.json', FIXTURES), 'utf8'));

async function openCopy(t) {
  const dir = tempDir(t);
  const path = join(dir, 'v1.db');
  copyFileSync(new URL('v1.db', FIXTURES), path);
  const openFeed = await loadOpenFeed();
  const feed = await openFeed({ path, policy: { store: 'all' } });
  t.after(() => feed.close());
  return { feed, path };
}

test('a version 1 database answers every query and count as version 1 did', async (t) => {
  const { feed } = await openCopy(t);
  assert.deepEqual(await feed.identity(), v1.identity);
  for (const a of v1.answers) {
    assert.equal(await feed._backend.query(JSON.stringify(a.filter)), a.query, `query ${JSON.stringify(a.filter)}`);
    assert.equal(await feed._backend.count(JSON.stringify(a.filter)), a.count, `count ${JSON.stringify(a.filter)}`);
  }
  for (const [key, value] of Object.entries(v1.state)) assert.deepEqual(await feed.getState(key), value, key);
  assert.equal((await feed.checkIntegrity()).ok, true);
});

test('its tombstones and mutes decide later merges as before', async (t) => {
  const { feed } = await openCopy(t);
  for (const [i, ev] of v1.later.entries()) {
    assert.equal(await feed._backend.merge(JSON.stringify(['EVENT', ev])), v1.laterResults[i], `later merge ${i}`);
  }
  assert.equal(await feed._backend.query('{}'), v1.afterLater);
});

test('the migration is kept: a second open finds version 2 and the same answers', async (t) => {
  const { feed, path } = await openCopy(t);
  await feed.close();
  // The file's header: user_version is the big-endian integer at byte 60.
  assert.equal(readFileSync(path).readUInt32BE(60), 2);
  const openFeed = await loadOpenFeed();
  const again = await openFeed({ path, policy: { store: 'all' } });
  t.after(() => again.close());
  for (const a of v1.answers) assert.equal(await again._backend.query(JSON.stringify(a.filter)), a.query);
  // And the fixture itself is version 1 (it must never be regenerated).
  assert.equal(readFileSync(new URL('v1.db', FIXTURES)).readUInt32BE(60), 1);
});

// The engine on node:fs storage that calls beforeWrite() ahead of every
// write it passes on.
function engineWatchingWrites(beforeWrite) {
  const storage = createNodeStorage();
  const write = storage.write;
  storage.write = (fd, view, offset) => { beforeWrite(); return write(fd, view, offset); };
  return instantiateEngine(storage);
}

const FILES = (path) => [path, `${path}-wal`, `${path}-journal`];

test('a process killed at any write of the migration leaves a database that opens to the same answers', async (t) => {
  // The migration's writes, counted on a copy of the fixture.
  const dir = tempDir(t);
  const source = join(dir, 'v1.db');
  copyFileSync(new URL('v1.db', FIXTURES), source);
  let writes = 0;
  const counting = await engineWatchingWrites(() => { writes++; });
  counting.close(counting.open(source));
  assert.ok(writes > 0, 'the migration wrote nothing');
  // Then again on another copy, with the files as they stand copied
  // before each write: what a process killed at that instant leaves (the
  // OS has every write made so far; none after).
  const crashed = join(dir, 'crashing.db');
  copyFileSync(new URL('v1.db', FIXTURES), crashed);
  const images = [];
  let n = 0;
  const watching = await engineWatchingWrites(() => {
    n++;
    const image = join(dir, `at-${n}`);
    mkdirSync(image);
    FILES(crashed).forEach((f, i) => { if (existsSync(f)) copyFileSync(f, FILES(join(image, 'v1.db'))[i]); });
    images.push({ n, path: join(image, 'v1.db') });
  });
  watching.close(watching.open(crashed));
  assert.equal(n, writes, 'the second migration wrote as often as the first');
  assert.equal(images.length, writes);
  // Each image opens (migrating again where the first never committed)
  // and answers every query and count as version 1 did.
  const openFeed = await loadOpenFeed();
  const versions = new Set();
  for (const { n: at, path: image } of images) {
    versions.add(readFileSync(image).readUInt32BE(60));
    const feed = await openFeed({ path: image, policy: { store: 'all' } });
    try {
      assert.deepEqual(await feed.identity(), v1.identity, `killed before write ${at}`);
      for (const a of v1.answers) {
        assert.equal(await feed._backend.query(JSON.stringify(a.filter)), a.query, `killed before write ${at}: query ${JSON.stringify(a.filter)}`);
      }
      assert.equal((await feed.checkIntegrity()).ok, true, `killed before write ${at}`);
    } finally {
      await feed.close();
    }
  }
  t.diagnostic(`${writes} writes in the migration; ${images.length} crash images, file headers at versions ${[...versions].sort()}`);
});
