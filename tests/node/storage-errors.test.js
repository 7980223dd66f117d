// storage-errors.test.js -- DESIGN §7: quota exhaustion and I/O errors
// reach the caller as clear errors (a HirobaError with a HIROBA_E* code and
// a message that says what happened), and the engine stays usable.
//
//   disk full        a real small filesystem (tmpfs, or a loop-mounted
//                    ext2 image), filled by posting; needs root (skipped
//                    with the reason otherwise)
//   not a database   8 KiB of garbage where the database should be
//   bad directories  a missing directory, a path under a regular file, a
//                    read-only filesystem, a directory the user cannot write
//   held twice       one path opened twice in one process

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ENGINE_URL, makeAuthor, tempDir } from './helpers.js';

// The codes, read from the C header rather than retyped.
const HEADER = fs.readFileSync(new URL('../../src/hiroba.h', import.meta.url), 'utf8');
const CODES = Object.fromEntries(
  [...HEADER.matchAll(/#define\s+(HIROBA_E\w+)\s+\((-\d+)\)/g)].map(([, name, n]) => [name, Number(n)]));
const NAME_OF = Object.fromEntries(Object.entries(CODES).map(([k, v]) => [v, k]));
const { HIROBA_EIO, HIROBA_EFULL, HIROBA_ECORRUPT, HIROBA_EBUSY } = CODES;

let engine = null;
async function load() {
  engine ??= await import(ENGINE_URL.href);
  return engine;
}

/* Cleanups of one test, run in reverse order of registration by a single
** after hook (feeds closed before their filesystem is unmounted). */
function scope(t) {
  const steps = [];
  t.after(async () => {
    const errors = [];
    for (const step of steps.reverse()) {
      try { await step(); } catch (err) { errors.push(err); }
    }
    if (errors.length) throw errors[0];
  });
  return {
    defer: (fn) => steps.push(fn),
    /* A fresh temp dir, removed after everything deferred after it. */
    dir(prefix) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      steps.push(() => fs.rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
  };
}

/* Opens a feed that the scope closes (unless the test did). */
async function openTracked(sc, p) {
  const { openFeed } = await load();
  const feed = await openFeed({ path: p, policy: { store: 'all' } });
  const close = feed.close.bind(feed);
  let closed = false;
  feed.close = async () => { closed = true; return close(); };
  sc.defer(() => (closed ? undefined : close()));
  return feed;
}

/* Asserts that `promise` rejects with a HirobaError of `code` whose message
** matches every regexp of `says`; returns the error. */
async function rejectsWith(promise, code, says, what) {
  let err = null;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${what}: resolved, expected ${NAME_OF[code]} (${code})`);
  const { HirobaError } = await load();
  const shown = `${err.name} code=${err.code} (${NAME_OF[err.code] ?? '?'}) op=${err.operation} "${err.message}"`;
  assert.ok(err instanceof HirobaError, `${what}: not a HirobaError: ${shown}\n${err.stack}`);
  assert.equal(err.code, code, `${what}: expected ${NAME_OF[code]} (${code}), got ${shown}`);
  for (const re of says) assert.match(err.message, re, `${what}: the message should say ${re}: ${shown}`);
  return err;
}

const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' });

/* Mounts a small filesystem of `mib` MiB on dir: tmpfs, else a loop-mounted
** ext2 image. Returns null, or why it could not. Unmounts in the scope. */
function mountSmall(sc, dir, mib) {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'mounting a small filesystem needs root, and this runs as an ordinary user';
  }
  const unmount = () => {
    if (run('umount', [dir]).status !== 0) run('umount', ['-l', dir]);
  };
  const tmpfs = run('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0755`, 'tmpfs', dir]);
  if (tmpfs.status === 0) {
    sc.defer(unmount);
    return null;
  }
  const image = `${dir}.img`;
  fs.writeFileSync(image, '');
  fs.truncateSync(image, mib * 1024 * 1024);
  sc.defer(() => fs.rmSync(image, { force: true }));
  const mkfs = run('mkfs.ext2', ['-q', '-F', '-m', '0', image]);
  const loop = mkfs.status === 0 ? run('mount', ['-o', 'loop', image, dir]) : mkfs;
  if (loop.status === 0) {
    sc.defer(unmount);
    return null;
  }
  return `cannot mount a small filesystem here: mount -t tmpfs said "${(tmpfs.stderr || tmpfs.error?.message || '').trim()}", ` +
    `a loop-mounted ext2 image said "${(loop.stderr || loop.error?.message || '').trim()}"`;
}

/* Every id that a query by ids finds. */
async function stored(feed, ids) {
  const found = new Set();
  for (let i = 0; i < ids.length; i += 500) {
    for (const ev of await feed.query({ ids: ids.slice(i, i + 500) })) found.add(ev.id);
  }
  return found;
}

const FULL = [/full/i, /disk|storage|quota/i];

describe('storage errors reach the caller', () => {
  test('disk full: HIROBA_EFULL, nothing resolved is lost, and posting resumes once space is freed', async (t) => {
    const sc = scope(t);
    const dir = sc.dir('hiroba-full-');
    const why = mountSmall(sc, dir, 2);
    if (why) {
      t.skip(why);
      return;
    }
    // Ballast: a file put on the filesystem first, deleted to free space.
    const ballast = path.join(dir, 'ballast');
    fs.writeFileSync(ballast, Buffer.alloc(512 * 1024, 0x61));
    const dbPath = path.join(dir, 'feed.db');
    let feed = await openTracked(sc, dbPath);
    const { pubkey } = await feed.identity();

    const resolved = [];
    let full = null;
    for (let i = 0; i < 2000 && !full; i++) {
      try {
        const ev = await feed.post(`post ${i} ${'x'.repeat(2048)}`);
        resolved.push(ev.id);
      } catch (err) {
        full = err;
      }
    }
    assert.ok(full, `2,000 posts of 2 KiB never filled a 2 MiB filesystem`);
    t.diagnostic(`${resolved.length} posts resolved, then: code ${full.code} op ${full.operation} "${full.message}"`);
    await rejectsWith(Promise.reject(full), HIROBA_EFULL, FULL, 'the post that did not fit');
    assert.equal(full.operation, 'post');
    assert.ok(resolved.length > 0, 'not even one post fitted: the test proved little');

    // Every other write is refused the same way while the disk is full
    // (or fits, if it is small enough) -- never a crash or another code.
    const other = makeAuthor('storage-errors-full');
    for (const [what, call] of [
      ['a merge', () => feed.merge(['EVENT', other.sign({ content: 'y'.repeat(2048) })])],
      ['a follow', () => feed.follow(other.pubkey)],
      ['another post', () => feed.post('z'.repeat(2048))],
    ]) {
      try {
        await call();
      } catch (err) {
        await rejectsWith(Promise.reject(err), HIROBA_EFULL, FULL, `${what} on a full disk`);
      }
    }

    // Opening a new database on the full disk: a clear error too.
    const otherPath = path.join(dir, 'other.db');
    const { openFeed } = await load();
    await rejectsWith(openFeed({ path: otherPath, policy: { store: 'all' } }), HIROBA_EFULL, FULL, 'opening a new database on a full disk');

    // Reads still work, the file is sound, every resolved post is there and
    // the post that failed left nothing behind.
    assert.deepEqual((await feed.checkIntegrity()).ok, true);
    const found = await stored(feed, resolved);
    assert.deepEqual(resolved.filter((id) => !found.has(id)), [], 'resolved posts missing after the disk filled up');
    const mine = await feed.query({ authors: [pubkey], kinds: [1] });
    assert.deepEqual(mine.map((e) => e.id).sort(), [...resolved].sort(),
      'kind-1 posts stored are exactly the resolved ones (the refused post left nothing)');

    // Free space: writing works again, on the same feed.
    fs.unlinkSync(ballast);
    const after = [];
    for (let i = 0; i < 3; i++) after.push((await feed.post(`after ${i} ${'y'.repeat(2048)}`)).id);
    const ev = other.sign({ content: 'merged after the disk was freed' });
    const res = await feed.merge(['EVENT', ev]);
    assert.deepEqual(res.accepted, [ev.id]);
    assert.ok((await feed.follow(other.pubkey)).tags.some((tg) => tg[0] === 'p' && tg[1] === other.pubkey));
    assert.equal((await stored(feed, [...after, ev.id])).size, 4);
    assert.deepEqual((await feed.checkIntegrity()).ok, true);

    // And after a close and reopen, everything resolved is still there.
    await feed.close();
    feed = await openTracked(sc, dbPath);
    assert.equal((await feed.identity()).pubkey, pubkey);
    const all = [...resolved, ...after, ev.id];
    const again = await stored(feed, all);
    assert.deepEqual(all.filter((id) => !again.has(id)), [], 'resolved events missing after reopening');
    assert.deepEqual(await feed.checkIntegrity(), { ok: true, result: 'ok' });

    // The database whose open failed on the full disk opens now.
    const second = await openTracked(sc, otherPath);
    const p = await second.post('the disk has room again');
    assert.equal((await second.query({ ids: [p.id] })).length, 1);
  });

  test('an existing empty database file: HIROBA_ECORRUPT instead of a silent new identity; allowEmpty opens it', async (t) => {
    const sc = scope(t);
    const dir = sc.dir('hiroba-empty-');
    const { openFeed } = await load();
    const p = path.join(dir, 'feed.db');
    // A feed with an identity, then its file emptied behind its back.
    const first = await openFeed({ path: p });
    const { pubkey } = await first.identity();
    await first.close();
    fs.truncateSync(p, 0);
    fs.rmSync(`${p}-wal`, { force: true });
    const err = await rejectsWith(openFeed({ path: p }), HIROBA_ECORRUPT, [/exists but is empty/, /allowEmpty/], 'opening an emptied database');
    t.diagnostic(`empty file: ${err.code} "${err.message}"`);
    assert.equal(fs.statSync(p).size, 0, 'the refused open left the file as it was');
    const fresh = await openFeed({ path: p, allowEmpty: true });
    assert.notEqual((await fresh.identity()).pubkey, pubkey, 'a new identity, as asked');
    await fresh.close();
    // A path with no file at all is simply a new database.
    const other = await openFeed({ path: path.join(dir, 'new.db') });
    await other.close();
  });

  test('a file that is not a database: HIROBA_ECORRUPT, the file is left alone, nothing is held', async (t) => {
    const sc = scope(t);
    const dir = sc.dir('hiroba-notdb-');
    const { openFeed } = await load();
    const cases = {
      'random bytes': randomBytes(8192),
      'text': Buffer.from('this is my diary, not a database\n'.repeat(256)).subarray(0, 8192),
      'an SQLite header then garbage': Buffer.concat([Buffer.from('SQLite format 3\0'), randomBytes(8192 - 16)]),
    };
    const seen = [];
    for (const [name, bytes] of Object.entries(cases)) {
      const p = path.join(dir, `${name.replace(/\W+/g, '-')}.db`);
      fs.writeFileSync(p, bytes);
      const err = await rejectsWith(openFeed({ path: p, policy: { store: 'all' } }), HIROBA_ECORRUPT,
        [/not a database|corrupt|damaged|malformed/i], `opening ${name}`);
      seen.push(`${name}: ${err.code} "${err.message}"`);
      // A second attempt fails the same way: the failed open let go of the file.
      await rejectsWith(openFeed({ path: p, policy: { store: 'all' } }), HIROBA_ECORRUPT,
        [/not a database|corrupt|damaged|malformed/i], `opening ${name} again`);
      assert.ok(fs.readFileSync(p).equals(bytes), `opening ${name} changed the file`);
      // The path is free: once the garbage is gone, a database opens there.
      fs.unlinkSync(p);
      for (const side of ['-wal', '-journal']) fs.rmSync(p + side, { force: true });
      const feed = await openTracked(sc, p);
      const ev = await feed.post('a real database now');
      assert.equal((await feed.query({ ids: [ev.id] })).length, 1);
      await feed.close();
    }
    t.diagnostic(seen.join('; '));
  });

  describe('a path that cannot hold a database: a clear error with a code, saying why', () => {
    // Opens p, which must fail with HIROBA_EIO and a message matching says.
    const expectOpenFails = async (t, what, p, says) => {
      const { openFeed } = await load();
      const err = await rejectsWith(openFeed({ path: p, policy: { store: 'all' } }), HIROBA_EIO, says, what);
      t.diagnostic(`${what}: ${err.code} op=${err.operation} "${err.message}"`);
      return err;
    };
    const READ_ONLY = [/read-only|EROFS|permission|EACCES|not writable/i];

    test('a missing directory', async (t) => {
      const dir = tempDir(t, 'hiroba-baddir-');
      await expectOpenFails(t, 'a missing directory', path.join(dir, 'no', 'such', 'dir', 'feed.db'),
        [/no such file|does not exist|not exist|ENOENT|not found|missing/i]);
      assert.equal(fs.existsSync(path.join(dir, 'no')), false, 'the failed open created directories');
    });

    test('a path under a regular file', async (t) => {
      const dir = tempDir(t, 'hiroba-baddir-');
      fs.writeFileSync(path.join(dir, 'plain-file'), 'x');
      await expectOpenFails(t, 'a path under a regular file', path.join(dir, 'plain-file', 'feed.db'),
        [/not a directory|ENOTDIR/i]);
    });

    test('a read-only filesystem, with a database already on it and a new one', async (t) => {
      const sc = scope(t);
      const dir = sc.dir('hiroba-rofs-');
      const why = mountSmall(sc, dir, 1);
      if (why) {
        t.skip(why);
        return;
      }
      const existing = path.join(dir, 'feed.db');
      const feed = await openTracked(sc, existing);
      await feed.post('written before the filesystem went read-only');
      await feed.close();
      const remount = run('mount', ['-o', 'remount,ro', dir]);
      assert.equal(remount.status, 0, `remount read-only: ${remount.stderr}`);
      // Both cases run before either failure is reported.
      const failures = [];
      for (const [what, p] of [
        ['a new database on a read-only filesystem', path.join(dir, 'new.db')],
        ['an existing database on a read-only filesystem', existing],
      ]) {
        try {
          await expectOpenFails(t, what, p, READ_ONLY);
        } catch (err) {
          failures.push(err);
        }
      }
      if (failures.length) throw failures.length > 1 ? new AggregateError(failures, failures.map((e) => e.message).join('\n')) : failures[0];
    });

    test('a directory the user may not write to', async (t) => {
      const dir = tempDir(t, 'hiroba-locked-');
      fs.chmodSync(dir, 0o755);
      const locked = path.join(dir, 'locked');
      fs.mkdirSync(locked);
      fs.chmodSync(locked, 0o555);
      const target = path.join(locked, 'feed.db');
      let result;
      if (process.getuid?.() === 0) {
        // Root may write anywhere: the open runs in a child as nobody.
        const script = `
          const { openFeed } = await import(${JSON.stringify(ENGINE_URL.href)});
          try { await openFeed({ path: ${JSON.stringify(target)} }); console.log(JSON.stringify({ opened: true })); }
          catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }`;
        const child = spawnSync(process.execPath, ['--input-type=module', '-e', script],
          { uid: 65534, gid: 65534, cwd: os.tmpdir(), encoding: 'utf8' });
        if (child.status !== 0 || !child.stdout.trim()) {
          t.skip(`cannot run node as nobody (uid 65534) here: ${child.error?.message ?? child.stderr}`);
          return;
        }
        result = JSON.parse(child.stdout.trim().split('\n').pop());
      } else {
        const { openFeed } = await load();
        try {
          const feed = await openFeed({ path: target, policy: { store: 'all' } });
          await feed.close();
          result = { opened: true };
        } catch (e) {
          result = { name: e.name, code: e.code, message: e.message };
        }
      }
      t.diagnostic(`an unwritable directory: ${JSON.stringify(result)}`);
      assert.equal(result.opened, undefined, 'opened a database in a directory the user cannot write');
      assert.equal(result.name, 'HirobaError', JSON.stringify(result));
      assert.equal(result.code, HIROBA_EIO, `expected HIROBA_EIO: ${JSON.stringify(result)}`);
      assert.match(result.message, /permission|EACCES|denied|not writable|read-only/i,
        `the message should say the directory is not writable: ${JSON.stringify(result)}`);
    });
  });

  test('one path opened twice in one process: HIROBA_EBUSY for the second, the first keeps working', async (t) => {
    const sc = scope(t);
    const dir = sc.dir('hiroba-twice-');
    const dbPath = path.join(dir, 'feed.db');
    const { openFeed } = await load();
    const first = await openTracked(sc, dbPath);
    const posts = [(await first.post('before the second open')).id];

    const err = await rejectsWith(openFeed({ path: dbPath, policy: { store: 'all' } }), HIROBA_EBUSY,
      [/held|locked|in use|busy|another/i], 'the second open of a held path');
    t.diagnostic(`second open: ${err.code} op=${err.operation} "${err.message}"`);
    // The same file through another spelling of its path (relative to the
    // working directory) is the same file.
    await rejectsWith(openFeed({ path: path.relative(process.cwd(), dbPath), policy: { store: 'all' } }), HIROBA_EBUSY,
      [/held|locked|in use|busy|another/i], 'the second open through another spelling of the path');

    // The first feed is untouched by the refused opens.
    posts.push((await first.post('after the second open')).id);
    const author = makeAuthor('storage-errors-twice');
    const ev = author.sign({ content: 'merged while a second open was refused' });
    assert.deepEqual((await first.merge(['EVENT', ev])).accepted, [ev.id]);
    assert.equal((await stored(first, [...posts, ev.id])).size, 3);
    assert.deepEqual(await first.checkIntegrity(), { ok: true, result: 'ok' });

    // Once the first closes, the path opens again with everything in it.
    await first.close();
    const again = await openTracked(sc, dbPath);
    assert.equal((await stored(again, [...posts, ev.id])).size, 3);
    assert.deepEqual(await again.checkIntegrity(), { ok: true, result: 'ok' });
  });

  test('one file opened twice through a symlinked directory: held as well', async (t) => {
    const sc = scope(t);
    const dir = sc.dir('hiroba-twice-link-');
    const real = path.join(dir, 'real');
    fs.mkdirSync(real);
    const link = path.join(dir, 'link');
    fs.symlinkSync(real, link);
    const { openFeed } = await load();
    const first = await openTracked(sc, path.join(real, 'feed.db'));
    const posts = [(await first.post('before the second open')).id];

    // Were the second open allowed, two engines would append to one WAL,
    // each unaware of the other's frames: posts that resolved get lost.
    let second = null;
    let err = null;
    try {
      second = await openFeed({ path: path.join(link, 'feed.db'), policy: { store: 'all' } });
    } catch (e) {
      err = e;
    }
    if (second) {
      const lost = await second.post('through the symlink');
      await first.post('after the second open');
      await second.close();
      await first.close();
      const check = await openTracked(sc, path.join(real, 'feed.db'));
      const kept = (await check.query({ ids: [lost.id] })).length;
      assert.fail(`the same file opened twice through a symlinked directory; a post resolved through ` +
        `the second feed is ${kept ? 'kept' : 'LOST'} after both wrote`);
    }
    await rejectsWith(Promise.reject(err), HIROBA_EBUSY, [/held|locked|in use|busy|another/i],
      'the second open through a symlink');
    posts.push((await first.post('after the second open')).id);
    assert.equal((await stored(first, posts)).size, 2);
  });
});
