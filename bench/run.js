// run.js -- `make bench`: runs every bench/*.bench.js (or those whose name
// contains argv[2], or one of its comma-separated parts) one after the
// other, each in its own process so one cannot warm or slow another, then
// prints all figures as a table, then the goal table (GOALS: each goal's
// ratio from a row of this run, found by its key, or "not run"), and
// writes both (markdown, for the README) to test-output/bench/table.md.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { RESULTS } from './report.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const only = (process.argv[2] ?? '').split(',');
const files = readdirSync(here).filter((f) => f.endsWith('.bench.js') && only.some((o) => f.includes(o))).sort();
if (!files.length) {
  console.error(`no bench/*.bench.js matches ${JSON.stringify(only)}`);
  process.exit(2);
}
rmSync(RESULTS, { force: true });
const failed = [];
for (const f of files) {
  console.log(`\n=== ${f}`);
  const r = spawnSync(process.execPath, [join(here, f)], { stdio: 'inherit', env: { ...process.env, BENCH_OUT: RESULTS } });
  if (r.status !== 0) failed.push(`${f} (exit ${r.status ?? r.signal})`);
}

const rows = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
const num = (v) => (typeof v !== 'number' ? '' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));
const lines = [
  '| Figure | Hiroba | Anchor | Ratio | Target |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.what} | ${num(r.value)} ${r.unit} | ${r.anchor ? `${r.anchor}: ${num(r.anchorValue)} ${r.unit}` : '—'} | ${
    r.ratio === null ? '—' : `${r.ratio >= 0.1 ? r.ratio.toFixed(2) : r.ratio.toPrecision(2)}×`} | ${
    r.target === undefined || r.target === null ? '—' : `${r.better === 'lower' ? '≤' : '≥'} ${r.target}× ${r.met ? '(met)' : '(missed)'}`} |`),
];

// The goals the figures are held to, each the ratio of one row (the first
// of `keys` measured in this run) to that row's anchor. A goal's bound may
// differ from the target its bench states (the row's own Target column).
const GOALS = [
  { goal: 'sync goodput / raw DataChannel', keys: ['datachannel-sync'], better: 'higher', bound: 0.6 },
  { goal: 'merge 100k in the browser, wall time / native single-thread', keys: ['merge-100k-browser-peer', 'merge-100k-browser', 'merge-100k'], better: 'lower', bound: 1.0,
    fallback: { 'merge-100k-browser': 'feed.merge(), the engine alone', 'merge-100k': 'wasm in Node, not the browser' } },
  { goal: 'raw bulk SQL / opfs-sahpool', keys: ['opfs-bulk-sql'], better: 'lower', bound: 1.0 },
  { goal: 'wasm gzip / sqlite3.wasm gzip', keys: ['wasm-size-gzip'], better: 'lower', bound: 0.75 },
  ...['10k', '50k'].flatMap((n) => [
    ['timeline', 'timeline query'], ['etag', '#e query'], ['ids', 'id query'], ['since', 'since query'],
  ].map(([q, label]) => ({ goal: `${label} at ${n} / worker-relay`, keys: [`anchors-${q}-${n}`], better: 'lower', bound: 0.8 }))),
  { goal: 'count of 50k / worker-relay', keys: ['anchors-count-50k'], better: 'lower', bound: 1.0 },
  { goal: 'database bytes per event (50k) / worker-relay', keys: ['anchors-bytes-50k'], better: 'lower', bound: 1.0 },
  { goal: 'start-up to first query / sqlite-wasm', keys: ['startup-first-query'], better: 'lower', bound: 0.4 },
];
const byKey = new Map(rows.map((r) => [r.key ?? r.id, r]));
const ratioText = (x) => `${x >= 0.1 ? x.toFixed(2) : x.toPrecision(2)}×`;
const goalLines = [
  '| Goal | Row | Ratio | Goal | |',
  '|---|---|---|---|---|',
  ...GOALS.map((g) => {
    const bound = `${g.better === 'lower' ? '≤' : '≥'} ${g.bound}×`;
    const key = g.keys.find((k) => byKey.get(k)?.ratio != null);
    if (!key) return `| ${g.goal} | — | not run | ${bound} | |`;
    const { ratio } = byKey.get(key);
    const met = g.better === 'lower' ? ratio <= g.bound : ratio >= g.bound;
    const row = g.fallback?.[key] ? `${key} (${g.fallback[key]})` : key;
    return `| ${g.goal} | ${row} | ${ratioText(ratio)} | ${bound} | ${met ? 'met' : 'missed'} |`;
  }),
];
const table = `${lines.join('\n')}\n\nGoals:\n\n${goalLines.join('\n')}\n`;
mkdirSync(join(here, '../test-output/bench'), { recursive: true });
writeFileSync(join(here, '../test-output/bench/table.md'), table);
console.log(`\n${table}`);
if (failed.length) {
  console.error(`bench files that failed: ${failed.join(', ')}`);
  process.exit(1);
}
