// schema-migration.test.js -- a database of schema version 1 (the
// fixture tests/node/fixtures/v1.db, made by the version 1 engine with
// make-v1-db.js) opened by this engine: migrated to version 2 losing
// nothing. Every query and count gives byte for byte the text version 1
// gave (v1-answers.json), the identity and the sync state are there, and
// the tombstones and mutes still decide later merges as they did.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadOpenFeed, tempDir } from './helpers.js';

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
