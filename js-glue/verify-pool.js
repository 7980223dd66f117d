// verify-pool.js -- verifying signatures in parallel with storing them
// (docs/DESIGN.md, "Verifying in parallel"). The engine's owner -- the
// database worker in browsers (worker.js), the process in Node (node.js)
// -- has a few verifier workers (verify-worker.js, which the page starts
// for the database worker; verify-worker-node.js), each with its own
// instance of the same wasm module and no database. A batch of frames
// from a peer is cut into chunks of about CHUNK_BYTES; every chunk with
// events goes to a verifier, which answers with a vouch for each valid
// event (its id and signature); the engine merges chunk after chunk as
// their vouches come back, and skips the signature checks vouched for. So
// receiving, verifying and storing overlap, and the verifiers use the
// cores the engine does not.
//
// Trust. A vouch makes the engine skip a signature check, so only the
// engine's own verifiers may give one. The pool hears them only on private
// ports: in Node a worker_threads Worker's, created by the process; in a
// browser one end of a MessageChannel per verifier, whose two ends the
// package's page code (index.js) hands to the verifier and to the database
// worker at once -- the code that opened the feed and may post as its user
// anyway. Other tabs and peers can reach neither those ports nor the
// engine's vouched entry point (worker.js has no operation for it). The
// vouch itself is bound to what it covers: the engine still computes the
// id from the frame's own bytes, and the (id, signature) pair must match
// the vouch exactly. Events a verifier found invalid get no vouch: the
// engine checks them itself and refuses them with the same reasons,
// counters and refused-signature memory as ever. A verifier that fails or
// dies only costs speed: its chunks are merged without vouches (the
// engine verifies).

import { packFrames } from './engine.js';

// Bytes of frames per chunk: small enough that the first chunk is stored
// while the next ones are verified, large enough that a chunk's
// transaction and message costs stay small next to its signature checks
// (about 100 events).
export const CHUNK_BYTES = 64 * 1024;
// Verifiers at most, whatever the core count.
export const MAX_VERIFIERS = 4;
// Bytes of frames the engine stores in one transaction at most: the
// chunks already verified when their turn comes go in together. A
// transaction per chunk rewrote the same index pages (ids, tags and
// authors are random keys) once per chunk: storing vouched events took
// 107 us/event at ~90 a transaction against 66 at 1,000 (Chromium, 100k
// events). Larger groups grow the WAL of a flooded peer past its bound.
const STORE_BYTES = 256 * 1024;
// Chunks each verifier holds at once.
const IN_FLIGHT = 2;
const DEFAULT_BUDGET = 2 * 1024 * 1024; // the engine's own default, src/hiroba.c
// How long the engine waits for a chunk's vouches before verifying it
// itself (a chunk takes a verifier tens of milliseconds).
const VERIFY_WAIT_MS = 5000;

/** Verifiers for this many hardware threads: one less, at least one. */
export function verifierCount(cores) {
  return Math.max(1, Math.min(MAX_VERIFIERS, (Number(cores) || 2) - 1));
}

// A frame that holds an event (the engine looks at the rest itself).
const EVENT_PREFIX = /^\s*\[\s*"EVENT"/;
const decoder = new TextDecoder();
function hasEvent(frame) {
  const head = typeof frame === 'string' ? frame.slice(0, 32) : decoder.decode(frame.subarray(0, 32));
  return EVENT_PREFIX.test(head);
}

export class VerifyPool {
  // spawn(i) -> a verifier: { post(message, transfer), onMessage(fn),
  // onExit(fn), busy(isBusy), terminate() } (the runtime's Worker, wrapped).
  constructor(size, spawn) {
    this.nextId = 1;
    this.pending = new Map();   // request id -> { resolve, reject, worker }
    this.workers = [];
    for (let i = 0; i < size; i++) {
      let w;
      try { w = spawn(i); } catch { continue; }
      const entry = { w, load: 0, dead: false };
      w.onMessage((msg) => this.answer(entry, msg));
      w.onExit(() => this.lost(entry));
      // Idle until asked (after the listeners: in Node adding one refs).
      w.busy(false);
      this.workers.push(entry);
    }
  }

  get size() {
    return this.workers.filter((e) => !e.dead).length;
  }

  // A verifier with room for another request (each keeps IN_FLIGHT, so
  // it never waits for the next), or null.
  free() {
    let best = null;
    for (const e of this.workers) if (!e.dead && e.load < IN_FLIGHT && (!best || e.load < best.load)) best = e;
    return best;
  }

  // -> a Promise of the vouches (Uint8Array) for packed frames, or of
  // null when no verifier is there to ask (the engine then verifies).
  vouch(bytes, lens) {
    const best = this.free() ?? this.workers.find((e) => !e.dead);
    if (!best) return Promise.resolve(null);
    const id = this.nextId++;
    // The verifier gets copies: the engine needs the bytes too.
    const copy = bytes.slice();
    const lensCopy = lens.slice();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, entry: best });
      if (best.load++ === 0) best.w.busy(true);
      best.w.post({ id, bytes: copy, lens: lensCopy }, [copy.buffer, lensCopy.buffer]);
    });
  }

  answer(entry, msg) {
    const call = this.pending.get(msg?.id);
    // Only an answer to our own request, from the verifier it went to.
    if (!call || call.entry !== entry) return;
    this.pending.delete(msg.id);
    if (--entry.load === 0) entry.w.busy(false);
    if (msg.vouches instanceof Uint8Array) call.resolve(msg.vouches);
    else call.resolve(null);
  }

  // A verifier died: what it was asked is merged without its vouches.
  lost(entry) {
    entry.dead = true;
    for (const [id, call] of this.pending) {
      if (call.entry === entry) { this.pending.delete(id); call.resolve(null); }
    }
  }

  close() {
    for (const e of this.workers) {
      e.dead = true;
      try { e.w.terminate(); } catch { /* gone already */ }
    }
    for (const call of this.pending.values()) call.resolve(null);
    this.pending.clear();
  }
}

// Lets the messages that arrived run (verifiers' answers are tasks, not
// microtasks).
const tick = typeof setImmediate === 'function'
  ? () => new Promise((resolve) => setImmediate(resolve))
  : () => new Promise((resolve) => setTimeout(resolve, 0));

// Chunks as one: their frames back to back, and the vouches of those
// that have them (null when none has).
function joinChunks(group) {
  if (group.length === 1) {
    const c = group[0];
    return { packed: c.bytes, lens: c.lens, vouches: c.state === 'ready' ? c.vouches : null };
  }
  const concat = (parts, Type) => {
    const out = new Type(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) { out.set(p, off); off += p.length; }
    return out;
  };
  const vouched = group.filter((c) => c.state === 'ready' && c.vouches).map((c) => c.vouches);
  return {
    packed: concat(group.map((c) => c.bytes), Uint8Array),
    lens: concat(group.map((c) => c.lens), Uint32Array),
    vouches: vouched.length ? concat(vouched, Uint8Array) : null,
  };
}

/**
 * engine.mergeBatch, pipelined: the frames are cut into chunks of about
 * CHUNK_BYTES; the verifiers take the chunks that hold events from the
 * front, a few ahead, and the engine's thread verifies too (engine.vouch,
 * on its own instance: as trusted as its merge), taking chunks from the
 * back. It stores the verified chunks in order, with their vouches, a
 * transaction per group of up to STORE_BYTES, once the group can grow
 * no more (the next chunk would not fit, or none is left). With no
 * verifier at all this is mergeBatch in groups.
 * The contract is mergeBatch's: one result per frame applied, in order;
 * fewer once the results pass `budget` bytes (0: 2 MiB); a throw means
 * nothing of the frames was stored (a failure after the first group ends
 * the call there instead: the caller passes the rest again, and the
 * failure, if it lasts, is thrown then).
 * -> { text: the JSON array of results, results: it parsed }.
 */
export async function mergePipelined(engine, db, conn, frames, budget, pool) {
  const limit = budget || DEFAULT_BUDGET;
  // state: 'new' (nobody took it), 'sent' (a verifier has it), 'ready'
  // (vouches in hand), 'own' (nothing to verify, or the engine verifies
  // it as it merges: its verifier failed).
  const chunks = [];
  for (let i = 0; i < frames.length;) {
    let bytes = 0;
    let j = i;
    while (j < frames.length && (j === i || bytes + frames[j].length <= CHUNK_BYTES)) bytes += frames[j++].length;
    const part = frames.slice(i, j);
    const events = part.some(hasEvent);
    chunks.push({ ...packFrames(part), state: events ? 'new' : 'own', vouches: null, verifying: null });
    i = j;
  }
  // A call of one chunk is the engine's own: a small batch (what a peer
  // sends live) is stored at once, not after a verifier's round trip.
  if (chunks.length === 1 && chunks[0].state === 'new') chunks[0].state = 'own';
  let next = 0; // no chunk before it is 'new'
  const pump = () => {
    if (!pool) return;
    for (; next < chunks.length && pool.free(); next++) {
      const c = chunks[next];
      if (c.state !== 'new') continue;
      c.state = 'sent';
      c.verifying = pool.vouch(c.bytes, c.lens).then((vouches) => {
        c.vouches = vouches;
        c.state = 'ready';
        pump();
      });
    }
  };
  pump();
  const isReady = (c) => c.state === 'ready' || c.state === 'own';
  const texts = [];
  const results = [];
  let used = 0;
  for (let k = 0; k < chunks.length;) {
    if (k > 0 && used >= limit) break;
    // The ready chunks from k on, as many as fit in one transaction.
    let end = k;
    let bytes = 0;
    while (end < chunks.length && isReady(chunks[end])
           && (end === k || bytes + chunks[end].bytes.length <= STORE_BYTES)) bytes += chunks[end++].bytes.length;
    const full = end === chunks.length || (end > k && bytes + chunks[end].bytes.length > STORE_BYTES);
    if (!full) {
      // Verify meanwhile: the last chunk nobody took.
      let j = chunks.length - 1;
      while (j >= end && chunks[j].state !== 'new') j--;
      if (j >= end) {
        const later = chunks[j];
        try {
          later.vouches = engine.vouch(later.bytes, later.lens);
          later.state = 'ready';
        } catch {
          later.state = 'own';
        }
        await tick();
        continue;
      }
      // Chunk `end` is with a verifier and nothing is left to verify
      // here: waiting for it (a chunk takes it milliseconds) costs less
      // than storing the group in two transactions. One that never
      // answers (a script that never loaded) must not hold up the merge:
      // past the wait, the engine verifies.
      const c = chunks[end];
      let timer;
      await Promise.race([c.verifying, new Promise((resolve) => { timer = setTimeout(resolve, VERIFY_WAIT_MS); })]);
      clearTimeout(timer);
      if (c.state === 'sent') c.state = 'own';
      continue;
    }
    const group = chunks.slice(k, end);
    const { packed, lens, vouches } = joinChunks(group);
    let text;
    try {
      text = engine.mergeVouched(db, conn, packed, lens, limit - used, vouches);
    } catch (err) {
      if (k === 0) throw err;
      break;
    }
    k = end;
    used += text.length;
    const got = JSON.parse(text);
    for (const r of got) results.push(r);
    if (got.length) texts.push(text.slice(1, -1));
    if (got.length < lens.length) break;
    // The verifiers' answers wait for this thread to yield, and each
    // answer sends that verifier its next chunk (pump).
    if (k < chunks.length && pool) await tick();
  }
  return { text: `[${texts.join(',')}]`, results };
}
