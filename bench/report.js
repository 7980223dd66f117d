// report.js -- how every benchmark states a figure (README "Speed"): the figure
// itself, the anchor measured in the same run, and their ratio, because
// on shared, noisy machines an absolute time alone means little.
//
//   report({
//     id: 'merge-100k',                 // stable, one per figure
//     key: 'merge-100k',                // optional: what bench/run.js's goal
//                                       // table looks the row up by (default: id)
//     what: 'merge 100,000 signed events (verification included)',
//     value: 4.2, unit: 's',            // ours
//     anchor: 'same C, native -O2', anchorValue: 3.1,
//     better: 'lower',                  // 'lower' (times, bytes) or 'higher' (rates)
//     target: 1.5,                      // the target for the ratio, if any
//     note: 'optional detail',
//   });
//
// ratio = value / anchorValue, always (so for 'lower' figures < 1 is
// better than the anchor, for 'higher' figures > 1 is). The line goes to
// stdout and, as JSON, to $BENCH_OUT (default
// test-output/bench/results.jsonl), which bench/run.js turns into the
// README's table. A figure without an anchor (load figures) leaves
// anchor/anchorValue out and has no ratio.

import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS = process.env.BENCH_OUT ??
  fileURLToPath(new URL('../test-output/bench/results.jsonl', import.meta.url));

const fmt = (v) => (typeof v !== 'number' ? String(v)
  : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));

export function report(figure) {
  const { id, key = id, what, value, unit = '', anchor, anchorValue, better = 'lower', target, note } = figure;
  if (!id || !what || typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`bench report needs id, what and a finite value: ${JSON.stringify(figure)}`);
  }
  const ratio = typeof anchorValue === 'number' && anchorValue > 0 ? value / anchorValue : null;
  const met = ratio === null || target === undefined ? null
    : better === 'lower' ? ratio <= target : ratio >= target;
  const row = { id, key, what, value, unit, anchor, anchorValue, ratio, better, target, met, note, at: new Date().toISOString() };
  mkdirSync(dirname(RESULTS), { recursive: true });
  appendFileSync(RESULTS, `${JSON.stringify(row)}\n`);
  let line = `${id}: ${what}: ${fmt(value)} ${unit}`;
  if (ratio !== null) {
    line += ` | ${anchor}: ${fmt(anchorValue)} ${unit} | ratio ${ratio.toFixed(3)} (${better} is better)`;
    if (target !== undefined) line += ` | target ${better === 'lower' ? '<=' : '>='} ${target}: ${met ? 'met' : 'MISSED'}`;
  }
  if (note) line += ` | ${note}`;
  console.log(line);
  return row;
}

// Median of n timed runs of fn (async ok), in milliseconds.
export async function medianMs(n, fn) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
