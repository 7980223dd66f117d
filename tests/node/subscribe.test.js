// subscribe.test.js -- feed.subscribe(): stored matches, then EOSE, then
// new matches as they are stored (own posts, merged events), each once;
// nothing after close(); a bad filter ends it with onclose(err).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempFeed, makeAuthor, until } from './helpers.js';

test('subscribe: stored, then EOSE, then live from any source, each once; nothing after close', async (t) => {
  const { feed } = await tempFeed(t);
  const bob = makeAuthor('subscribe bob');
  const mine = await feed.post('stored one', { tags: [['t', 'x']] });
  await feed.post('not tagged');
  const got = [];
  let eoseAt = -1;
  let closedWith = 'open';
  const sub = feed.subscribe([{ '#t': ['x'] }, { authors: [bob.pubkey] }], {
    onevent: (e) => got.push(e.id),
    oneose: () => { eoseAt = got.length; },
    onclose: (err) => { closedWith = err; },
  });
  await until(() => eoseAt >= 0, 'EOSE', 10_000);
  assert.deepEqual(got, [mine.id]);
  assert.equal(eoseAt, 1);
  const live = await feed.post('live one', { tags: [['t', 'x']] });
  const fromBob = bob.sign({ content: 'from a peer' });
  await feed.merge(['EVENT', fromBob]);
  await feed.merge(['EVENT', fromBob]); // a duplicate: not delivered again
  await feed.post('still not tagged');
  await until(() => got.length === 3, 'the live events', 10_000);
  assert.deepEqual(got, [mine.id, live.id, fromBob.id]);
  sub.close();
  assert.equal(closedWith, undefined);
  await feed.post('after close', { tags: [['t', 'x']] });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(got.length, 3, 'nothing after close()');
});

test('subscribe: a bad filter ends the subscription with onclose(err), nothing delivered', async (t) => {
  const { feed } = await tempFeed(t);
  await feed.post('something');
  const got = [];
  const err = await new Promise((resolve) => {
    feed.subscribe({ ids: 5 }, { onevent: (e) => got.push(e), oneose: () => got.push('eose'), onclose: resolve });
  });
  assert.match(err.message, /filter|ids/);
  await feed.post('more');
  assert.deepEqual(got, []);
});

test('subscribe: a handler that throws on a stored event does not end the subscription', async (t) => {
  const { feed } = await tempFeed(t);
  await feed.post('stored');
  const got = [];
  let eose = false;
  // The error is rethrown in a microtask of its own (an uncaught error
  // there, as a listener's); caught here so the test runner does not fail.
  const thrown = [];
  const realQueue = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (fn) => realQueue(() => {
    try { fn(); } catch (err) { thrown.push(err.message); }
  });
  t.after(() => { globalThis.queueMicrotask = realQueue; });
  const sub = feed.subscribe({ kinds: [1] }, {
    onevent: (e) => { got.push(e.content); if (e.content === 'stored') throw new Error('handler bug'); },
    oneose: () => { eose = true; },
  });
  await until(() => eose, 'EOSE after the throwing handler', 10_000);
  await feed.post('live');
  await until(() => got.length === 2, 'the live event', 10_000);
  assert.deepEqual(got, ['stored', 'live']);
  await until(() => thrown.length === 1, 'the handler error reported apart', 10_000);
  assert.deepEqual(thrown, ['handler bug']);
  sub.close();
});
