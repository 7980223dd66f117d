// hostile.test.js -- the hostile corpus (tests/corpus/hostile-frames.js)
// against the wasm engine through feed.merge (full bytes, embedded NULs
// included), and against the native engine under ASan+UBSan through
// build/asan/hostile_runner. Every frame must be refused without harm: no
// throw, nothing accepted, nothing stored, the feed still works.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyEvent } from 'nostr-tools/pure';
import { hostileFrames, writeCorpus } from '../corpus/hostile-frames.js';
import { tempFeed, tempDir, byContractOrder, plain } from './helpers.js';

const frames = hostileFrames();
// HIROBA_HOSTILE_RUNNER overrides the binary (e.g. a runner built elsewhere).
const RUNNER = process.env.HIROBA_HOSTILE_RUNNER || fileURLToPath(new URL('../../build/asan/hostile_runner', import.meta.url));
const REFUSALS = new Set(['NOTICE', 'CLOSED', 'NEG-ERR']);

/* Could a strict reader (JSON.parse on fatal UTF-8 decoding, nostr-tools
** verifyEvent) store an event from these bytes? Strings with U+0000 or a
** lone surrogate count as storable: JSON.parse and verifyEvent take them,
** and so does the engine. */
function storable(bytes) {
  let value;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch {
    return false;
  }
  // Only the fields that make an event: extras may nest 10000 deep.
  const wellFormed = (ev) => Array.isArray(ev.tags) &&
    ev.tags.every((t) => Array.isArray(t) && t.every((x) => typeof x === 'string'));
  const eventOf = (f) => {
    if (!Array.isArray(f) || f[0] !== 'EVENT') return null;
    if (f.length === 2) return f[1];
    if (f.length === 3 && typeof f[1] === 'string') return f[2];
    return null;
  };
  const list = Array.isArray(value) && Array.isArray(value[0]) ? value : [value];
  return list.some((f) => {
    const ev = eventOf(f);
    if (!ev || typeof ev !== 'object' || !wellFormed(ev)) return false;
    // nostr-tools reads the signature's hex case-insensitively; the
    // contract wants lowercase hex everywhere.
    if (typeof ev.sig !== 'string' || !/^[0-9a-f]{128}$/.test(ev.sig)) return false;
    try {
      return verifyEvent(plain(ev));
    } catch {
      return false;
    }
  });
}

test('the corpus: at least 300 frames, deterministic, labelled, nothing storable', () => {
  assert.ok(frames.length >= 300, `${frames.length} frames`);
  const again = hostileFrames();
  assert.equal(again.length, frames.length);
  for (const [i, f] of frames.entries()) {
    assert.ok(f.bytes instanceof Uint8Array);
    assert.ok(typeof f.label === 'string' && f.label.length > 0);
    assert.ok(f.expect === 'reject' || f.expect === 'any', f.label);
    assert.deepEqual(again[i].bytes, f.bytes, `frame ${i} (${f.label}) is the same every time`);
    assert.equal(storable(f.bytes), false, `frame ${i} (${f.label}) must not hold a storable event`);
    const nul = f.bytes.indexOf(0);
    if (nul >= 0) {
      assert.equal(storable(f.bytes.subarray(0, nul)), false,
        `frame ${i} (${f.label}) cut at its NUL (as the C runner sees it) must not hold a storable event`);
    }
  }
  assert.equal(new Set(frames.map((f) => f.label)).size, frames.length, 'labels are unique');
});

/* What is wrong with one merge result, or null. */
function problemWith(res, frame) {
  if (!res || typeof res !== 'object') return `result is not an object: ${JSON.stringify(res)}`;
  const { accepted, duplicates, rejected, replies } = res;
  if (!Array.isArray(accepted) || !Array.isArray(rejected) || !Array.isArray(replies) || typeof duplicates !== 'number') {
    return `result has the wrong shape: ${JSON.stringify(res).slice(0, 200)}`;
  }
  if (accepted.length) return `accepted ${JSON.stringify(accepted)}`;
  if (duplicates) return `${duplicates} duplicates`;
  for (const r of rejected) {
    if (!r || (r.id !== null && !/^[0-9a-fA-F]{64}$/.test(r.id))) return `bad rejection id: ${JSON.stringify(r)}`;
    if (typeof r.reason !== 'string' || !r.reason.startsWith('invalid:')) return `reason is not "invalid: ...": ${JSON.stringify(r).slice(0, 200)}`;
  }
  for (const r of replies) {
    if (!Array.isArray(r) || typeof r[0] !== 'string') return `reply is not a frame: ${JSON.stringify(r).slice(0, 200)}`;
    if (r[0] === 'OK' && r[2] !== false) return `OK true for a hostile frame: ${JSON.stringify(r).slice(0, 200)}`;
    if (REFUSALS.has(r[0]) && typeof r.at(-1) !== 'string') return `refusal without a message: ${JSON.stringify(r).slice(0, 200)}`;
  }
  if (frame.expect === 'reject' && !rejected.length && !replies.some((r) => REFUSALS.has(r[0]))) {
    return `not refused: no rejection and no NOTICE/CLOSED; replies ${JSON.stringify(replies).slice(0, 200)}`;
  }
  return null;
}

test('wasm: every hostile frame is refused, nothing is stored, the feed keeps working', async (t) => {
  const { feed } = await tempFeed(t, 'hostile.db');
  const mine = [await feed.post('before the corpus')];
  const failures = [];
  for (const [i, f] of frames.entries()) {
    let res;
    try {
      res = await feed.merge(f.bytes);
    } catch (err) {
      failures.push(`#${i} ${f.label}: merge threw (code ${err.code}): ${err.message}`);
      continue;
    }
    const p = problemWith(res, f);
    if (p) failures.push(`#${i} ${f.label}: ${p}`);
    if (i % 100 === 99) mine.push(await feed.post(`still here after frame ${i}`));
  }
  mine.push(await feed.post('after the corpus'));
  assert.deepEqual(failures, [], `${failures.length} of ${frames.length} frames misbehaved`);
  assert.deepEqual(await feed.query({}), mine.sort(byContractOrder), 'only the events this test posted are stored');
});

test('native (ASan+UBSan): hostile_runner survives the corpus', async (t) => {
  if (!existsSync(RUNNER)) {
    t.skip(`${RUNNER} is missing: the Makefile builds it with ASan+UBSan from tests/native/hostile_runner.c (make native)`);
    return;
  }
  const dir = tempDir(t);
  const corpus = join(dir, 'corpus.bin');
  writeCorpus(corpus, frames);
  const { code, signal, stdout, stderr } = await new Promise((resolve, reject) => {
    const child = spawn(RUNNER, [corpus, join(dir, 'hostile.db')], {
      env: { ...process.env, ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? 'detect_leaks=1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // If this test is cut short, do not leave the runner behind.
    t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (c, s) => resolve({ code: c, signal: s, stdout: out, stderr: err }));
  });
  // Name the frames the runner complained about.
  const named = [...stderr.matchAll(/record (\d+)/g)].map((m) => `#${m[1]} ${frames[Number(m[1])]?.label}`);
  const report = `exit ${code}${signal ? ` (${signal})` : ''}\n${stdout}\n${stderr.slice(-4000)}\n${[...new Set(named)].slice(0, 50).join('\n')}`;
  assert.equal(code, 0, report);
  assert.match(stdout, new RegExp(`hostile_runner: ${frames.length + 2} passed, 0 failed`), report);
});
