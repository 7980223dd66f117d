// schema-quick.js -- a quick comparison of two engines' storage on the
// benchmark corpus (bench/lib/events.js, made by `make bench` or on first
// use): merge the first N events, then time the anchor queries and counts
// (median of repeats) and measure database bytes per stored event.
//
//   node bench/schema-quick.js [N] [otherEngineDir]
//
// otherEngineDir: a folder holding js-glue/ and build/hiroba/ of another
// build (say the previous schema's), measured in the same run as the
// anchor; ratios are this build's figure over the anchor's. Not part of
// `make bench` (the name does not end in .bench.js).

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { corpusLines } from './lib/events.js';

const N = Number(process.argv[2] ?? 50000);
const otherDir = process.argv[3];
const REPEAT = 15;

const lines = corpusLines().slice(0, N);
const events = lines.map((l) => JSON.parse(l));
const byAuthor = new Map();
for (const ev of events) byAuthor.set(ev.pubkey, (byAuthor.get(ev.pubkey) ?? 0) + 1);
const authors = [...byAuthor.entries()].sort((x, y) => y[1] - x[1]).map(([pk]) => pk);
const busiest = authors[0];
const notes = events.filter((e) => e.kind === 1);
const lastT = events.at(-1).created_at;
// The anchors bench's own shapes (bench/anchors.bench.js).
const firstAuthors = [...new Set(events.map((e) => e.pubkey))].slice(0, 50);
const since90 = events[Math.floor(N * 0.9)].created_at;
const queries = {
  'anchors timeline (first 50 authors)': { authors: firstAuthors, kinds: [1], limit: 50 },
  'anchors since (newest 10%, kinds [1])': { kinds: [1], since: since90, limit: 50 },
  'timeline 50 authors kinds [1] limit 50': { kinds: [1], authors: authors.slice(0, 50), limit: 50 },
  'busiest author, no kinds, limit 50': { authors: [busiest], limit: 50 },
  'busiest author, no kinds, all': { authors: [busiest] },
  '#e of 50 notes, kinds [7]': { kinds: [7], '#e': notes.slice(-400, -350).map((e) => e.id) },
  '#e of 50 notes': { '#e': notes.slice(-400, -350).map((e) => e.id) },
  'ids, 50': { ids: events.filter((_, i) => i % 997 === 0).slice(0, 50).map((e) => e.id) },
  'since last hour': { since: lastT - 3600 },
  'newest 50': { limit: 50 },
};
const counts = {
  'count all': {},
  'count kinds [1]': { kinds: [1] },
  'count busiest author': { authors: [busiest] },
  'count author+kind': { authors: [busiest], kinds: [7] },
  'count #p': { '#p': [busiest] },
};

async function open(dir) {
  const { openFeed } = await import(pathToFileURL(join(dir, 'js-glue/node.js')).href);
  const tmp = mkdtempSync(join(tmpdir(), 'schema-quick-'));
  const path = join(tmp, 'q.db');
  const feed = await openFeed({ path, policy: { store: 'all' } });
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += 1000) {
    await feed._backend.merge(JSON.stringify(events.slice(i, i + 1000).map((ev) => ['EVENT', ev])));
  }
  return { feed, tmp, path, out: { merge: performance.now() - t0, answers: {}, times: {} } };
}

// The engines take turns at every repeat, so load from elsewhere on the
// machine falls on both alike.
async function measureAll(runs) {
  const jobs = [
    ...Object.entries(queries).map(([name, f]) => [name, 'query', JSON.stringify(f)]),
    ...Object.entries(counts).map(([name, f]) => [name, 'count', JSON.stringify(f)]),
  ];
  for (const [name, op, text] of jobs) {
    for (let i = 0; i < REPEAT; i++) {
      for (const r of runs) {
        const s = performance.now();
        const answer = await r.feed._backend[op](text);
        (r.out.times[name] ??= []).push(performance.now() - s);
        r.out.answers[name] = answer;
      }
    }
  }
  for (const r of runs) {
    for (const [name, ts] of Object.entries(r.out.times)) r.out[name] = ts.sort((x, y) => x - y)[ts.length >> 1];
    r.out.stored = JSON.parse(await r.feed._backend.count('{}')).count;
    await r.feed.close();
    r.out.bytesPerEvent = statSync(r.path).size / r.out.stored;
    if (process.env.SCHEMA_KEEP) console.log(`kept ${r.path}`);
    else rmSync(r.tmp, { recursive: true, force: true });
  }
}

const here = resolve(new URL('..', import.meta.url).pathname);
const res = {};
const opened = [];
if (otherDir) opened.push(res.anchor = await open(resolve(otherDir)));
opened.push(res.this = await open(here));
await measureAll(opened);
for (const k of Object.keys(res)) res[k] = res[k].out;
const keys = ['merge', ...Object.keys(queries), ...Object.keys(counts), 'bytesPerEvent'];
console.log(`${N} events, ${res.this.stored} stored; busiest author has ${byAuthor.get(busiest)}`);
for (const k of keys) {
  const a = res.anchor?.[k], b = res.this[k];
  const unit = k === 'bytesPerEvent' ? 'B' : 'ms';
  console.log(`${k.padEnd(42)} ${a === undefined ? '' : `${a.toFixed(2)} ${unit} -> `}${b.toFixed(2)} ${unit}${a ? `  (x${(b / a).toFixed(2)})` : ''}`);
}
if (res.anchor) {
  for (const k of Object.keys(res.this.answers)) {
    if (res.this.answers[k] !== res.anchor.answers[k]) console.log(`ANSWER DIFFERS: ${k}`);
  }
}
