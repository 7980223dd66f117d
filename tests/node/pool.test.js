// pool.test.js -- the pool's policy (js-glue/pool.js) with plain
// connection objects: capacity, reuse, LRU eviction with preferred
// authors kept longest, idle sweeping, and delivery across a closing
// connection. Real connections are exercised by the sync tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionPool } from '../../js-glue/pool.js';

// A connection double that records what happens to it.
function makeConnect(log) {
  return (pubkey) => {
    const conn = {
      pubkey,
      state: 'open',
      sent: [],
      failNext: false,
      async send(frame) {
        if (this.state !== 'open') throw new Error(`connection ${this.state}`);
        this.sent.push(frame);
      },
      close() { this.state = 'closed'; log.push(`close ${pubkey}`); },
    };
    log.push(`open ${pubkey}`);
    return conn;
  };
}

function clock() {
  let t = 1000;
  const now = () => t;
  now.advance = (ms) => { t += ms; };
  return now;
}

test('reuses a connection and never exceeds capacity; evicts the least recently used', () => {
  const log = [];
  const now = clock();
  const pool = new ConnectionPool({ capacity: 2, idleMs: Infinity, connect: makeConnect(log), now });
  const a = pool.acquire('a'); now.advance(1);
  assert.equal(pool.acquire('a'), a, 'reused');
  pool.acquire('b'); now.advance(1);
  pool.touch('a'); now.advance(1);
  pool.acquire('c'); now.advance(1);
  assert.deepEqual(pool.pubkeys().sort(), ['a', 'c']);
  assert.deepEqual(log, ['open a', 'open b', 'open c', 'close b']);
  pool.acquire('d');
  assert.equal(pool.size, 2);
  assert.deepEqual(log.slice(-2), ['open d', 'close a']);
  pool.close();
  assert.equal(pool.size, 0);
});

test('poolSize 2 with 4 peers, preferring followed authors', () => {
  const log = [];
  const now = clock();
  const followed = new Set(['f1']);
  const pool = new ConnectionPool({
    capacity: 2, idleMs: Infinity, connect: makeConnect(log), now, isPreferred: (pk) => followed.has(pk),
  });
  for (const pk of ['f1', 'x', 'y', 'z']) { pool.acquire(pk); now.advance(1); }
  // f1 was used first but is followed: it outlives newer strangers.
  assert.deepEqual(pool.pubkeys().sort(), ['f1', 'z']);
  assert.deepEqual(log.filter((l) => l.startsWith('close')), ['close x', 'close y']);
  // With only followed authors to choose from, the oldest goes.
  followed.add('z').add('w');
  pool.acquire('w');
  assert.deepEqual(pool.pubkeys().sort(), ['w', 'z']);
  pool.close();
});

test('idle connections are closed by the sweep', () => {
  const log = [];
  const now = clock();
  const pool = new ConnectionPool({ capacity: 4, idleMs: 60_000, connect: makeConnect(log), now });
  pool.acquire('old');
  now.advance(30_000);
  pool.acquire('new');
  now.advance(40_000);
  pool.sweep();
  assert.deepEqual(pool.pubkeys(), ['new']);
  assert.ok(log.includes('close old'));
  pool.close();
});

test('a frame sent while its connection is closing goes out on a fresh one', async () => {
  const log = [];
  const pool = new ConnectionPool({ capacity: 2, idleMs: Infinity, connect: makeConnect(log) });
  const first = pool.acquire('p');
  first.state = 'closing';
  await pool.send('p', '["EVENT",{}]');
  const second = pool.get('p');
  assert.notEqual(second, first);
  assert.deepEqual(second.sent, ['["EVENT",{}]']);
  assert.deepEqual(first.sent, []);
  pool.close();
});

test('a connection that starts closing mid-send is replaced; if the fresh one fails too, send rejects', async () => {
  const log = [];
  let attempts = 0;
  const connect = (pubkey) => ({
    pubkey,
    state: 'open',
    async send() {
      attempts++;
      this.state = 'closing';
      throw new Error('channel closing');
    },
    close() { this.state = 'closed'; },
  });
  const pool = new ConnectionPool({ capacity: 2, idleMs: Infinity, connect });
  await assert.rejects(pool.send('q', '["REQ","s",{}]'), /could not deliver a frame to q.*channel closing/);
  assert.equal(attempts, 2, 'retried once on a fresh connection');
  // A failure that is not about closing is reported as is, without retry.
  const pool2 = new ConnectionPool({
    capacity: 2,
    idleMs: Infinity,
    connect: (pubkey) => ({ pubkey, state: 'open', async send() { throw new RangeError('too big'); }, close() {} }),
  });
  await assert.rejects(pool2.send('r', 'x'), RangeError);
  pool.close();
  pool2.close();
  assert.deepEqual(log, []);
});

test('closed() forgets a connection that ended by itself', () => {
  const log = [];
  const pool = new ConnectionPool({ capacity: 2, idleMs: Infinity, connect: makeConnect(log) });
  const c = pool.acquire('gone');
  c.state = 'closed';
  pool.closed(c);
  assert.equal(pool.has('gone'), false);
  assert.throws(() => new ConnectionPool({ capacity: 0, connect() {} }), RangeError);
  assert.throws(() => new ConnectionPool({ capacity: 1 }), TypeError);
  pool.close();
});
