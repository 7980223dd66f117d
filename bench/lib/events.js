// events.js -- the benchmarks' corpus of signed events, made once and
// cached in build/bench/ (git-ignored), so reruns skip the signing.
//
// 100,000 NIP-01 events by 100 authors over two months: per author one
// profile (kind 0) and one follow list (kind 3, 20 to 60 "p" tags); the
// rest text notes (kind 1: words, some Japanese and emoji, links,
// hashtags with their "t" tags, a quarter of them replies with NIP-10
// "e" root/reply and "p" tags) and reactions (kind 7 with "e", "p", "k").
// The notes are sized like real ones: most a sentence or two, a few long.
// Replies and reactions point at earlier events of the corpus.
//
// Events are built and their ids computed here (SHA-256 of the canonical
// [0,pubkey,created_at,kind,tags,content] as JSON.stringify writes it);
// the BIP-340 signatures come from build/bench/sign_events, the engine's
// own crypto.c built natively, which signs 100,000 ids in seconds where
// JavaScript takes minutes. A sample of every fresh corpus is then checked
// with nostr-tools' verifyEvent (@noble/curves), an independent
// implementation, so the signatures are known to be real.
//
// The corpus is deterministic except for the signatures (BIP-340 adds
// fresh randomness); ids, contents and tags are the same on every machine.

import { makeRng } from '../../tests/shared/prng.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { schnorr } from '@noble/curves/secp256k1.js';
import { verifyEvent } from 'nostr-tools/pure';
import { ensureBuilt } from './build.js';

export const BENCH_DIR = fileURLToPath(new URL('../../build/bench/', import.meta.url));

const CORPUS_VERSION = 1;             // bump when the generator changes
const N_EVENTS = 100000;
const N_AUTHORS = 100;
const BASE_TIME = 1735689600;         // 2025-01-01T00:00:00Z
const SPAN = 60 * 86400;              // two months


const WORDS = (
  'the a of to and in is it that for on with this was just be have not are at so but my you ' +
  'nostr relay note zap sats bitcoin lightning keys client post thread reply feed peer sync ' +
  'browser wasm sqlite offline today morning coffee rain train weekend music book reading ' +
  'building shipping testing debugging release bug fix feature idea design code open source ' +
  'really pretty quite very good great nice weird slow fast small simple hard easy new old ' +
  'think know want need like love hate see look make take give find tell ask work try use ' +
  'おはよう こんにちは ありがとう 今日 明日 広場 東京 コーヒー 雨 電車 音楽 本 ' +
  '🤙 ⚡ 🚀 ☕ 😂 👀 🌧️ 🎉 🙏 💜'
).split(' ');
const HASHTAGS = ['nostr', 'bitcoin', 'zap', 'wasm', 'sqlite', 'p2p', 'photography', 'coffee', 'music', '広場', 'dev', 'grownostr'];
const LINKS = ['https://example.com/blog/2025/01/a-long-post-about-relays', 'https://nostr.example/note/abc123',
  'https://image.example/i/8f3a9c2d.jpg', 'https://video.example/watch?v=dQw4w9WgXcQ'];
const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj',
  'olivia', 'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'yuki', 'hana', 'sora', 'ren', 'kai'];

/* A note's text: mostly one or two sentences, sometimes a long post. */
function makeText(rng) {
  const roll = rng.next();
  const nWords = roll < 0.6 ? 4 + rng.int(20) : roll < 0.95 ? 20 + rng.int(60) : 100 + rng.int(400);
  const words = [];
  for (let i = 0; i < nWords; i++) {
    words.push(rng.pick(WORDS));
    if (rng.chance(0.06)) words[words.length - 1] += rng.pick(['.', ',', '!', '?', '\n', '\n\n']);
  }
  let text = words.join(' ').replace(/ \n/g, '\n');
  if (rng.chance(0.05)) text = `"${text}" -- someone`;
  if (rng.chance(0.12)) text += ` ${rng.pick(LINKS)}`;
  const tags = [];
  if (rng.chance(0.2)) {
    const n = 1 + rng.int(3);
    for (let i = 0; i < n; i++) {
      const t = rng.pick(HASHTAGS);
      text += ` #${t}`;
      tags.push(['t', t]);
    }
  }
  return { text, tags };
}

const sha256hex = (s) => createHash('sha256').update(s).digest('hex');
const idOf = (ev) => sha256hex(JSON.stringify([0, ev.pubkey, ev.created_at, ev.kind, ev.tags, ev.content]));

/* The unsigned corpus: [{ ev (id set, sig missing), author index }]. */
function buildUnsigned() {
  const rng = makeRng(20250101);
  const authors = [];
  for (let i = 0; i < N_AUTHORS; i++) {
    const sk = createHash('sha256').update(`hiroba bench author ${i}`).digest();
    authors.push({ sk: sk.toString('hex'), pubkey: Buffer.from(schnorr.getPublicKey(sk)).toString('hex') });
  }
  const out = [];
  const notes = [];     // earlier kind-1 events: { id, pubkey, root }
  let t = BASE_TIME;
  const step = SPAN / N_EVENTS;
  const add = (a, kind, tags, content) => {
    t += step * 2 * rng.next();
    const ev = { pubkey: authors[a].pubkey, created_at: Math.floor(t), kind, tags, content };
    ev.id = idOf(ev);
    out.push({ ev, a });
    return ev;
  };
  // Profiles and follow lists first, as a new network would see them.
  for (let a = 0; a < N_AUTHORS; a++) {
    const name = `${NAMES[a % NAMES.length]}${a >= NAMES.length ? a : ''}`;
    add(a, 0, [], JSON.stringify({ name, about: makeText(rng).text.slice(0, 160), picture: `https://image.example/avatar/${a}.png` }));
  }
  for (let a = 0; a < N_AUTHORS; a++) {
    const tags = [];
    const n = 20 + rng.int(41);
    const seen = new Set([a]);
    while (tags.length < n) {
      const b = rng.int(N_AUTHORS);
      if (!seen.has(b)) { seen.add(b); tags.push(['p', authors[b].pubkey]); }
    }
    add(a, 3, tags, '');
  }
  while (out.length < N_EVENTS) {
    const a = rng.int(N_AUTHORS);
    if (notes.length > 50 && rng.chance(0.15)) {
      const target = notes[notes.length - 1 - rng.int(Math.min(notes.length, 2000))];
      add(a, 7, [['e', target.id], ['p', target.pubkey], ['k', '1']], rng.chance(0.8) ? '+' : rng.pick(['🤙', '⚡', '❤️', '😂']));
      continue;
    }
    const { text, tags } = makeText(rng);
    let root = null;
    if (notes.length > 50 && rng.chance(0.25)) {
      const parent = notes[notes.length - 1 - rng.int(Math.min(notes.length, 2000))];
      root = parent.root ?? parent.id;
      tags.unshift(['e', root, '', 'root'], ...(root === parent.id ? [] : [['e', parent.id, '', 'reply']]), ['p', parent.pubkey]);
    }
    if (rng.chance(0.1)) tags.push(['client', 'hiroba-bench']);
    const ev = add(a, 1, tags, text);
    notes.push({ id: ev.id, pubkey: ev.pubkey, root });
  }
  return { authors, out };
}

/* Signs the corpus with build/bench/sign_events; returns the events. */
function signAll({ authors, out }) {
  ensureBuilt(['build/bench/sign_events']);
  const input = out.map(({ ev, a }) => `${authors[a].sk} ${ev.id}\n`).join('');
  const r = spawnSync(`${BENCH_DIR}sign_events`, [], { input, maxBuffer: 64 << 20, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sign_events failed (${r.status ?? r.signal}): ${r.stderr}`);
  const sigs = r.stdout.split('\n');
  return out.map(({ ev }, i) => {
    const { id, pubkey, created_at, kind, tags, content } = ev;
    return { id, pubkey, created_at, kind, tags, content, sig: sigs[i] };
  });
}

export const CORPUS_PATH = `${BENCH_DIR}events-100k-v${CORPUS_VERSION}.jsonl`;

/* The corpus as JSON lines (one event each, as JSON.stringify writes it),
** generated and cached on first use. */
export function corpusLines() {
  if (!existsSync(CORPUS_PATH)) {
    const t0 = performance.now();
    console.log(`generating the corpus (${N_EVENTS} signed events) into ${CORPUS_PATH} ...`);
    const events = signAll(buildUnsigned());
    // An independent check (nostr-tools, @noble/curves) of a sample:
    // ids and signatures must be real, or every figure would be wrong.
    const rng = makeRng(7);
    for (let i = 0; i < 300; i++) {
      const ev = events[rng.int(events.length)];
      if (!verifyEvent({ ...ev })) throw new Error(`corpus: event ${ev.id} does not verify with nostr-tools`);
    }
    mkdirSync(BENCH_DIR, { recursive: true });
    writeFileSync(`${CORPUS_PATH}.tmp`, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    renameSync(`${CORPUS_PATH}.tmp`, CORPUS_PATH);
    console.log(`corpus ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  return readFileSync(CORPUS_PATH, 'utf8').split('\n').filter(Boolean);
}

/* The corpus as event objects. */
export function corpus() {
  return corpusLines().map((l) => JSON.parse(l));
}

/* A seeded PRNG for benches that pick from the corpus. */
export { makeRng };
