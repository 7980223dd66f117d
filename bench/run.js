// run.js -- `make bench`: runs every bench/*.bench.js (or those whose name
// contains argv[2]) one after the other, each in its own process so one
// cannot warm or slow another, then prints all figures as a table and
// writes it (markdown, for the README) to test-output/bench/table.md.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { RESULTS } from './report.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv[2] ?? '';
const files = readdirSync(here).filter((f) => f.endsWith('.bench.js') && f.includes(only)).sort();
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
const table = `${lines.join('\n')}\n`;
mkdirSync(join(here, '../test-output/bench'), { recursive: true });
writeFileSync(join(here, '../test-output/bench/table.md'), table);
console.log(`\n${table}`);
if (failed.length) {
  console.error(`bench files that failed: ${failed.join(', ')}`);
  process.exit(1);
}
