// load-signal.bench.js -- the load figures of the signaling server
// (web/signal.js behind web/server.js): 1,000 concurrent WebSocket clients
// on loopback, 50 rooms of 20, each joining and answering the kind-22242
// challenge with its own key, then signalling its room mates.
//
// The server runs in a child process (bench/lib/load/signal-server.js) so
// its memory and CPU are its own; the clients run in two worker threads of
// this process (bench/lib/load/signal-clients.js), 25 rooms each, since one
// client event loop could not keep up with the server. Phases:
//
//   join       1,000 clients connect, join and authenticate (50 at a time)
//   memory     server RSS and V8 heap (after a full GC) minus the same
//              before any client, per connection
//   latency    every client sends a signal to a room mate twice a second
//              (2,000 signals/s in all) for 10 s: time from send to the
//              addressee's 'message' event, p50/p95/p99
//   burst      every client sends 150 signals at once (within the server's
//              burst allowance of 200, so none is rate-limited): 150,000
//              signals, delivered per second, and CPU per signal (server
//              and clients: on two cores they compete, so the server's
//              share says what it could do alone)
//   leave      10 members of each room hang up; the other 10 must each
//              hear exactly those 10 leave
//
// Checked throughout, and the run fails (exit 1) on any breach: every
// signal reaches its addressee exactly once, with `from` naming its real
// sender; no client ever hears of (peers, join, leave, signal) anyone
// outside its room; each client learns each room mate exactly once (peers
// list or join); no error frame comes back.
//
// Payloads are what browsers send: ICE candidates (~250 bytes) and, one
// time in ten, an SDP offer (~1.5 KB), plus the bench's sequence number
// and send time.

import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { initNostrWasm } from 'nostr-wasm';

import { report } from './report.js';

const ROOMS = 50;
const PER_ROOM = 20;
const CLIENTS = ROOMS * PER_ROOM;
const WORKERS = 2;               // client threads (rooms split between them)
const JOIN_CONCURRENCY = 50;     // joins in flight, over all workers
const LATENCY_RATE = 2;          // signals per client per second
const LATENCY_SECONDS = 10;
const BURST = 150;               // signals per client, under rateBurst (200)
const LEAVERS_PER_ROOM = 10;
const WAIT_MS = 60_000;          // the longest a phase may wait for its last frame

const SERVER = fileURLToPath(new URL('./lib/load/signal-server.js', import.meta.url));
const CLIENT_WORKER = new URL('./lib/load/signal-clients.js', import.meta.url);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const problems = [];
let nProblems = 0;
function problem(text) {
  nProblems++;
  if (problems.length < 20) problems.push(text);
}

// --- the server child ---------------------------------------------------------------
function startServerChild() {
  const child = fork(SERVER, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map();
  let nextId = 1;
  child.on('exit', (code, sig) => {
    if (!child.closing) problem(`signal server exited (${code ?? sig})`);
  });
  const ready = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, sig) => reject(new Error(`signal server exited early (${code ?? sig})`)));
    child.on('message', (msg) => {
      if (msg.type === 'ready') resolve(msg);
      else if (msg.type === 'stats') waiting.get(msg.id)?.(msg);
    });
  });
  return {
    child,
    ready,
    // Server memory (process.memoryUsage, and VmRSS/VmHWM from /proc), CPU
    // and connection count; gc: after two full collections.
    stats(gc = false) {
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, (msg) => {
          waiting.delete(id);
          const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
          const kb = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN);
          resolve({ ...msg, vmRssKb: kb('VmRSS'), vmHwmKb: kb('VmHWM') });
        });
        child.send({ type: 'stats', id, gc });
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.closing = true;
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// --- the client workers ------------------------------------------------------------------
function startWorkers(url, roster) {
  return Array.from({ length: WORKERS }, (_, w) => {
    const mine = roster.map((r, i) => (r.room % WORKERS === w ? i : -1)).filter((i) => i >= 0);
    const worker = new Worker(CLIENT_WORKER, {
      workerData: { url, roster, mine, perRoom: PER_ROOM, roomPrefix: 'load-room-', waitMs: WAIT_MS },
    });
    const pending = [];
    worker.on('message', (msg) => pending.shift()?.resolve(msg));
    worker.on('error', (err) => {
      problem(`client worker ${w}: ${err.stack ?? err}`);
      for (const p of pending.splice(0)) p.resolve({});
    });
    return {
      worker,
      // Sends a command; resolves with its answer (problems folded in).
      run(cmd, args = {}) {
        return new Promise((resolve) => {
          pending.push({ resolve });
          worker.postMessage({ cmd, ...args });
        }).then((answer) => {
          nProblems += answer.nProblems ?? 0;
          for (const p of answer.problems ?? []) if (problems.length < 20) problems.push(p);
          return answer;
        });
      },
    };
  });
}

// The same command on every worker at once -> their answers.
const all = (workers, cmd, args) => Promise.all(workers.map((w) => w.run(cmd, args)));

function sortedLatencies(answers) {
  const n = answers.reduce((s, a) => s + (a.latencies?.length ?? 0), 0);
  const out = new Float64Array(n);
  let i = 0;
  for (const a of answers) { out.set(a.latencies ?? [], i); i += a.latencies?.length ?? 0; }
  return out.sort();
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const cpuMs = (a, b) => (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1000;
const cpuOf = (usage) => (usage.user + usage.system) / 1000;
const sum = (answers, key) => answers.reduce((s, a) => s + (a[key] ?? 0), 0);

async function main() {
  const server = startServerChild();
  let workers = [];
  try {
    const { port } = await server.ready;
    const url = `ws://127.0.0.1:${port}/signal`;

    // Keys made here (libsecp256k1 in wasm, quicker than pure JS), rooms
    // in order: clients 0-19 in room 0, and so on.
    const nw = await initNostrWasm();
    const roster = Array.from({ length: CLIENTS }, (_, i) => {
      const sk = nw.generateSecretKey();
      return { sk: Buffer.from(sk).toString('hex'), pk: Buffer.from(nw.getPublicKey(sk)).toString('hex'), room: Math.floor(i / PER_ROOM) };
    });
    workers = startWorkers(url, roster);
    await sleep(500);
    const base = await server.stats(true);

    // --- join ---------------------------------------------------------------
    const tJoin0 = performance.now();
    await all(workers, 'join', { concurrency: JOIN_CONCURRENCY / WORKERS });
    const joinSec = (performance.now() - tJoin0) / 1000;
    await sleep(500);
    const joined = await server.stats(true);
    if (joined.connections !== CLIENTS) problem(`server holds ${joined.connections} connections, expected ${CLIENTS}`);
    if (nProblems) throw new Error('the join phase failed: no figures');

    // --- latency at a steady rate ---------------------------------------------
    // Client CPU is this whole process's (both worker threads): Node 20
    // has no per-thread CPU clock.
    const beforeLat = await server.stats();
    let clientCpu = process.cpuUsage();
    const lat = await all(workers, 'latency', { rate: LATENCY_RATE, seconds: LATENCY_SECONDS });
    const latClientMs = cpuOf(process.cpuUsage(clientCpu));
    const afterLat = await server.stats();
    const latSorted = sortedLatencies(lat);
    const latSent = sum(lat, 'sent');
    const latRate = latSent / Math.max(...lat.map((a) => a.seconds ?? 0));

    // --- burst throughput --------------------------------------------------------
    await sleep(2500); // every token bucket back to its full burst
    const beforeBurst = await server.stats();
    clientCpu = process.cpuUsage();
    const tBurst0 = performance.now();
    const burst = await all(workers, 'burst', { count: BURST });
    const burstSec = (performance.now() - tBurst0) / 1000;
    const burstClientMs = cpuOf(process.cpuUsage(clientCpu));
    const afterBurst = await server.stats();
    const burstSorted = sortedLatencies(burst);
    const burstCount = sum(burst, 'sent');

    // --- leave ---------------------------------------------------------------------
    const left = await all(workers, 'leave', { perRoom: LEAVERS_PER_ROOM });
    const afterTraffic = await server.stats(true);

    report({
      id: 'signal-lost-or-crossed',
      what: 'signals lost, duplicated or misaddressed, presence or signals crossing rooms, error frames',
      value: nProblems, unit: '', better: 'lower',
      note: `${sum(left, 'signals').toLocaleString('en')} signals, ${CLIENTS} joins, ${sum(left, 'leavers')} leaves checked`,
    });
    if (nProblems) throw new Error('signals were lost or crossed: no figures');

    const perConnKiB = (a, b) => (b - a) / CLIENTS / 1024;
    const heapOf = (s) => s.memory.heapUsed + s.memory.external + s.memory.arrayBuffers;
    const mib = (b) => (b / 2 ** 20).toFixed(1);
    report({
      id: 'signal-join-1k',
      what: `signaling: ${CLIENTS} clients connect, join and authenticate (kind-22242, ${JOIN_CONCURRENCY} at a time)`,
      value: joinSec, unit: 's', better: 'lower',
      note: `${(CLIENTS / joinSec).toFixed(0)} joins/s; server CPU ${(cpuMs(base, joined) / CLIENTS).toFixed(2)} ms per join (mostly the BIP-340 check)`,
    });
    report({
      id: 'signal-rss-per-conn',
      what: 'signaling server RSS per joined connection (1,000 in 50 rooms)',
      value: perConnKiB(base.vmRssKb * 1024, joined.vmRssKb * 1024), unit: 'KiB', better: 'lower',
      note: `VmRSS ${mib(base.vmRssKb * 1024)} -> ${mib(joined.vmRssKb * 1024)} MiB; after the traffic ${mib(afterTraffic.vmRssKb * 1024)} MiB, peak ${mib(afterTraffic.vmHwmKb * 1024)} MiB`,
    });
    report({
      id: 'signal-heap-per-conn',
      what: 'signaling server JS heap + external per joined connection (after GC)',
      value: perConnKiB(heapOf(base), heapOf(joined)), unit: 'KiB', better: 'lower',
      note: `heapUsed ${mib(base.memory.heapUsed)} -> ${mib(joined.memory.heapUsed)} MiB, external+arrayBuffers ${mib(base.memory.external + base.memory.arrayBuffers)} -> ${mib(joined.memory.external + joined.memory.arrayBuffers)} MiB`,
    });
    for (const p of [50, 95, 99]) {
      report({
        id: `signal-latency-p${p}`,
        what: `signal relay latency p${p}, sender to addressee, at ${CLIENTS * LATENCY_RATE} signals/s over ${CLIENTS} clients`,
        value: percentile(latSorted, p), unit: 'ms', better: 'lower',
        note: p === 50 ? `${latSorted.length} signals at ${latRate.toFixed(0)}/s; server CPU ${(cpuMs(beforeLat, afterLat) * 1000 / latSent).toFixed(0)} us/signal, clients ${(latClientMs * 1000 / latSent).toFixed(0)} us/signal` : undefined,
      });
    }
    report({
      id: 'signal-throughput',
      what: `signaling throughput: a burst of ${burstCount.toLocaleString('en')} signals (${BURST} per client), delivered per second`,
      value: burstCount / burstSec, unit: 'signals/s', better: 'higher',
      note: `all delivered in ${burstSec.toFixed(2)} s (sending took ${(Math.max(...burst.map((a) => a.sendMs ?? 0)) / 1000).toFixed(2)} s); CPU per signal: server ${(cpuMs(beforeBurst, afterBurst) * 1000 / burstCount).toFixed(1)} us, clients ${(burstClientMs * 1000 / burstCount).toFixed(1)} us; latency in the burst p50 ${percentile(burstSorted, 50).toFixed(0)} ms, p99 ${percentile(burstSorted, 99).toFixed(0)} ms`,
    });
  } catch (err) {
    problem(`bench failed: ${err.stack ?? err}`);
  } finally {
    await Promise.all(workers.map((w) => w.run('close').catch(() => {})));
    await Promise.all(workers.map((w) => w.worker.terminate()));
    await server.close().catch(() => server.child.kill('SIGKILL'));
  }
  if (nProblems) {
    console.error(`load-signal: ${nProblems} problem(s):\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
}

await main();
