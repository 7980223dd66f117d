// signal-clients.js -- a worker thread of bench/load-signal.bench.js that
// drives the WebSocket clients of some rooms. Two of these share the 1,000
// clients so that the clients' own CPU (framing, JSON, bookkeeping) is
// spread over two event loops and the server, not one client loop, sets
// the pace.
//
// Every client of a room lives in the same worker, so a signal's sender
// and addressee share one clock (latency is measured with performance.now
// on both ends) and each worker can check on its own that every signal its
// clients sent reached its addressee exactly once. The worker still knows
// every client of the bench (workerData.roster) to tell a frame about
// someone from another room -- possibly another worker's -- for what it is.
//
// Commands from the main thread, each answered with { cmd, ...result,
// problems: [first few], nProblems }:
//   { cmd: 'join', concurrency }          connect, join, authenticate all
//   { cmd: 'latency', rate, seconds }     paced signals -> latencies
//   { cmd: 'burst', count }               count signals per client at once
//   { cmd: 'leave', perRoom }             the first perRoom of each room hang up
//   { cmd: 'close' }                      terminate every socket

import { parentPort, workerData } from 'node:worker_threads';
import { WebSocket } from 'ws';
import { initNostrWasm } from 'nostr-wasm';

const { url, roster, mine, perRoom, roomPrefix, waitMs } = workerData;
const nw = await initNostrWasm();
const nowSec = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- what browsers put in `data` ------------------------------------------------
const CANDIDATE = 'candidate:842163049 1 udp 1677729535 203.0.113.7 52000 typ srflx '
  + 'raddr 192.168.1.20 rport 52000 generation 0 ufrag Xb3q network-id 1 network-cost 10';
const SDP = [
  'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0',
  'a=group:BUNDLE 0', 'a=extmap-allow-mixed', 'a=msid-semantic: WMS',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:Xb3q', 'a=ice-pwd:r2Kf6mJd0tq1Yc9sVnQ4ZxLw', 'a=ice-options:trickle',
  `a=fingerprint:sha-256 ${Array.from({ length: 32 }, (_, i) => (i * 37 % 256).toString(16).padStart(2, '0').toUpperCase()).join(':')}`,
  'a=setup:actpass', 'a=mid:0', 'a=sctp-port:5000', 'a=max-message-size:262144',
].join('\r\n').repeat(2) + '\r\n';

// One time in ten an SDP offer (~1.5 KB), otherwise an ICE candidate.
function payload(n, to) {
  const t = performance.now();
  return n % 10 === 0
    ? { sdp: { type: 'offer', sdp: SDP }, n, t, to }
    : { candidate: { candidate: CANDIDATE, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'Xb3q' }, n, t, to };
}

// --- bookkeeping --------------------------------------------------------------------
let problems = [];
let nProblems = 0;
function problem(text) {
  nProblems++;
  if (problems.length < 20) problems.push(text);
}

const MAX_SIGNALS = 1 << 20;
const sentFrom = new Int32Array(MAX_SIGNALS).fill(-1);  // n -> sender index
const sentTo = new Int32Array(MAX_SIGNALS).fill(-1);    // n -> addressee index
const received = new Uint8Array(MAX_SIGNALS);           // n -> times received
let nSent = 0;
let nReceived = 0;
let latencies = [];

const byPubkey = new Map(roster.map((r, index) => [r.pk, { index, room: r.room }]));

class Client {
  constructor(index) {
    const r = roster[index];
    this.index = index;
    this.room = r.room;
    this.pk = r.pk;
    this.sk = Buffer.from(r.sk, 'hex');
    this.mates = [];          // the other clients of the room (all in this worker)
    this.known = new Set();   // pubkeys the server told us are in the room
    this.leaves = 0;
    this.leaving = false;
    this.ws = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client ${this.index}: no peers frame within ${waitMs} ms`)), waitMs);
      this.onJoined = () => { clearTimeout(timer); resolve(); };
      const ws = new WebSocket(url, { perMessageDeflate: false });
      this.ws = ws;
      ws.on('open', () => ws.send(JSON.stringify({ type: 'join', room: roomPrefix + this.room, pubkey: this.pk })));
      ws.on('message', (data) => this.receive(data));
      ws.on('error', (err) => { clearTimeout(timer); reject(err); });
      ws.on('close', (code) => {
        if (!this.leaving) problem(`client ${this.index}: server closed its socket (${code})`);
      });
    });
  }

  // A pubkey the server named as a room mate: it must be one.
  mate(pk, what) {
    const c = byPubkey.get(pk);
    if (!c || c.room !== this.room || c.index === this.index) {
      problem(`client ${this.index} (room ${this.room}) heard of ${String(pk).slice(0, 8)} (${c ? `room ${c.room}` : 'unknown'}) in ${what}`);
      return null;
    }
    return c;
  }

  learn(pk, what) {
    if (!this.mate(pk, what)) return;
    if (this.known.has(pk)) problem(`client ${this.index}: told twice of ${pk.slice(0, 8)} (${what})`);
    this.known.add(pk);
  }

  receive(data) {
    const at = performance.now();
    let f;
    try { f = JSON.parse(data.toString()); } catch { problem(`client ${this.index}: bad JSON from the server`); return; }
    switch (f.type) {
      case 'challenge': {
        const event = { kind: 22242, created_at: nowSec(), content: '', tags: [['relay', url], ['challenge', f.nonce]] };
        nw.finalizeEvent(event, this.sk);
        this.ws.send(JSON.stringify({ type: 'auth', event }));
        return;
      }
      case 'peers':
        for (const pk of f.peers) this.learn(pk, 'peers');
        this.onJoined?.();
        return;
      case 'join':
        this.learn(f.pubkey, 'join');
        return;
      case 'leave':
        if (this.mate(f.pubkey, 'leave')) {
          if (!this.known.delete(f.pubkey)) problem(`client ${this.index}: leave of ${f.pubkey.slice(0, 8)}, not known here`);
          this.leaves++;
        }
        return;
      case 'signal': {
        const sender = this.mate(f.from, 'signal');
        if (!sender) return;
        const n = f.data?.n;
        if (!Number.isInteger(n) || n < 0 || n >= MAX_SIGNALS || sentFrom[n] < 0) {
          problem(`client ${this.index}: signal with unknown sequence ${n}`);
          return;
        }
        if (sentFrom[n] !== sender.index || sentTo[n] !== this.index || f.data.to !== this.pk) {
          problem(`client ${this.index}: signal ${n} sent by ${sentFrom[n]} to ${sentTo[n]} arrived from ${sender.index}`);
          return;
        }
        if (received[n]++) {
          problem(`client ${this.index}: signal ${n} received twice`);
          return;
        }
        nReceived++;
        latencies.push(at - f.data.t);
        return;
      }
      case 'error':
        problem(`client ${this.index}: error frame ${f.code}: ${f.message}`);
        return;
      default:
        problem(`client ${this.index}: unexpected frame type ${JSON.stringify(f.type)}`);
    }
  }

  signal(to) {
    const n = nSent++;
    if (n >= MAX_SIGNALS) throw new Error('bench bug: MAX_SIGNALS too small');
    sentFrom[n] = this.index;
    sentTo[n] = to.index;
    this.ws.send(JSON.stringify({ type: 'signal', to: to.pk, data: payload(n, to.pk) }));
  }
}

const clients = mine.map((i) => new Client(i));
for (const c of clients) c.mates = clients.filter((o) => o.room === c.room && o !== c);

async function until(cond, what) {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > waitMs) throw new Error(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

const allReceived = () => until(() => nReceived === nSent || nProblems > 0, 'every signal arrived');

const commands = {
  async join({ concurrency }) {
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < clients.length) await clients[next++].connect();
    }));
    await until(() => clients.every((c) => c.known.size === perRoom - 1), `every client knows its ${perRoom - 1} room mates`);
    return {};
  },

  // rate signals per client per second for `seconds`, round-robin over
  // clients and their mates; catches up with the clock after a late tick.
  async latency({ rate, seconds }) {
    latencies = [];
    const total = clients.length * rate * seconds;
    const perMs = (clients.length * rate) / 1000;
    const t0 = performance.now();
    let k = 0;
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor((performance.now() - t0) * perMs));
        for (; k < due; k++) {
          const c = clients[k % clients.length];
          c.signal(c.mates[Math.floor(k / clients.length) % c.mates.length]);
        }
        if (k >= total) { clearInterval(timer); resolve(); }
      }, 10);
    });
    await allReceived();
    return { sent: total, seconds: (performance.now() - t0) / 1000, latencies: Float64Array.from(latencies) };
  },

  async burst({ count }) {
    latencies = [];
    const before = nSent;
    const t0 = performance.now();
    // Corked, each socket's frames leave in one write: the load generator
    // spends its CPU on frames, not on a syscall per frame. The server
    // still gets `count` separate WebSocket frames per client.
    for (const c of clients) c.ws._socket.cork();
    for (let j = 0; j < count; j++) {
      for (const c of clients) c.signal(c.mates[j % c.mates.length]);
    }
    for (const c of clients) c.ws._socket.uncork();
    const sendMs = performance.now() - t0;
    await allReceived();
    return { sent: nSent - before, sendMs, latencies: Float64Array.from(latencies) };
  },

  async leave({ perRoom: leaversPerRoom }) {
    const leavers = clients.filter((c) => c.mates.filter((m) => m.index < c.index).length < leaversPerRoom);
    const stayers = clients.filter((c) => !leavers.includes(c));
    for (const c of leavers) { c.leaving = true; c.ws.close(1000, 'bye'); }
    await until(() => stayers.every((c) => c.leaves >= leaversPerRoom) || nProblems > 0, 'every stayer heard its room\'s leaves');
    await sleep(300);
    for (const c of stayers) {
      if (c.leaves !== leaversPerRoom) problem(`client ${c.index} heard ${c.leaves} leaves, expected ${leaversPerRoom}`);
    }
    let wrong = 0;
    for (let n = 0; n < nSent; n++) if (received[n] !== 1) wrong++;
    if (wrong) problem(`${wrong} of ${nSent} signals not received exactly once`);
    return { leavers: leavers.length, signals: nSent };
  },

  async close() {
    for (const c of clients) { c.leaving = true; c.ws?.terminate(); }
    return {};
  },
};

parentPort.on('message', async (msg) => {
  let result;
  try {
    result = await commands[msg.cmd](msg);
  } catch (err) {
    problem(`${msg.cmd}: ${err.stack ?? err}`);
    result = {};
  }
  parentPort.postMessage({ cmd: msg.cmd, ...result, problems, nProblems });
  problems = [];
  nProblems = 0;
  if (msg.cmd === 'close') parentPort.close();
});
