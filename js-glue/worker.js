// worker.js -- the dedicated module Worker behind the browser entry
// (index.js). One per openFeed() call; of all the workers of one origin
// that open the same database name, exactly one owns it.
//
// Ownership is a Web Lock named "hiroba:<name>": the worker holding it
// opens the OPFS files (their sync access handles are exclusive anyway),
// runs the engine, and serves every other worker of that name over a
// BroadcastChannel. The others wait in the lock's queue; when the owner's
// tab closes or its worker dies, the browser releases the lock, the next
// worker in line takes over, and requests that were in flight are sent
// again to it. Everything it can do is idempotent when repeated:
// merges and queries by nature, and posts because the original caller's
// worker stamps created_at on non-replaceable drafts before the first
// send, so a resent post has the same id and is stored once.
//
// Messages with the main thread (index.js), after the sqlite ext/wasm
// Worker1 shape:
//   in:  {type: 'open', messageId, args: {name}}
//        {type: 'call', messageId, args: {op, params}}
//        {type: 'decryptKey', messageId, args: {ncryptsec, passphrase}}
//        {type: 'verifierPorts', ports: [MessagePort]}  the verifiers asked for
//        {type: 'verifierLost', index}      that verifier failed to start or died
//   out: {type: 'open' | 'call', messageId, result}
//        {type: 'error', messageId, result: {operation, code, message}}
//        {type: 'events', result: [event]}  newly stored events
//        {type: 'verifiers', count, module} start this many verifiers of this
//                                           WebAssembly.Module, please
// Messages between workers, on the BroadcastChannel "hiroba:<name>":
//   {kind: 'req', from, id, op, params}       a call for the owner
//   {kind: 'res', to, id, result} | {kind: 'res', to, id, error}
//   {kind: 'owner', from}                     a new owner is serving
//   {kind: 'events', events}                  newly stored events

import createHirobaModule from '../build/hiroba/hiroba.mjs';
import { CODES, Engine, instantiateModule, isReplaceable } from './engine.js';
import { openOpfsStorage } from './storage-opfs.js';
// Imported here too, not only through storage-opfs.js, so that it loads
// beside it and not after it: one module round trip less at start-up.
import { STORAGE_EBUSY } from './storage-codes.js';
import { mergePipelined, VerifyPool, verifierCount } from './verify-pool.js';

const { HIROBA_EIO, HIROBA_EBUSY, HIROBA_EINVAL } = CODES;

const OPS = new Set(['identity', 'post', 'sign', 'merge', 'mergeBatch', 'connClose', 'query', 'count', 'stateGet', 'stateSet', 'adoptKey',
  'negOpen', 'integrityCheck', 'adoptPubkey', 'prepare', 'postSigned', 'verify']);
// How long a new owner keeps trying for the OPFS handles after it gets
// the lock: the old holder's handles are released 15-22 ms after it dies.
const HANDLE_RETRY_MS = 3000;

const self_ = globalThis;
const workerId = crypto.randomUUID();

let name = null;           // database name
let policy = null;         // storage policy JSON this worker's openFeed asked for
let fresh = false;         // this owner made the database and no key was adopted yet
let allowEmpty = false;    // openFeed's allowEmpty: an emptied database may get a new identity
let channel = null;        // BroadcastChannel to the other workers
let role = 'starting';     // 'follower' | 'owner' | 'failed' | 'closed'
let failure = null;        // {code, message} when taking ownership failed
let engine = null;         // owner only
let db = 0;                // owner only: engine handle
let storage = null;        // owner only: OPFS pool
let releaseLock = null;    // owner only: resolves the held lock
let verifiers = null;      // owner only: the VerifyPool (verify-pool.js), from the first mergeBatch
let compiledModule = null; // owner only: the engine's WebAssembly.Module, for verifiers
let nextId = 1;
const pending = new Map(); // id -> {op, params, resolve, reject}: our calls

// What openFeed rejects with (-1, and `lacking` for the page to show, as
// unsupported() would) when this browser cannot give the engine its
// storage. createSyncAccessHandle() exists only in dedicated workers, so
// no page can check it: it is checked here, first, before the Web Lock is
// requested or any file touched.
const SYNC_HANDLES = 'OPFS sync access handles (FileSystemFileHandle.createSyncAccessHandle in a dedicated worker)';
const lacks = (what, detail) => Object.assign(
  new Error(`hiroba: this browser lacks ${what}${detail ? ` (${detail})` : ''}`), { code: HIROBA_EINVAL, lacking: what });

function replyError(messageId, operation, err) {
  self_.postMessage({
    type: 'error',
    messageId,
    result: { operation, code: err.code ?? -10, message: err.message ?? String(err), lacking: err.lacking },
  });
}

// --- the owner's side ---------------------------------------------------------

// Runs one operation on the engine; returns a structured-cloneable result.
function execute(op, params) {
  switch (op) {
    case 'identity': return engine.identity(db);
    case 'post': return engine.post(db, params);
    case 'sign': return engine.sign(db, params);
    case 'merge': return engine.merge(db, params);
    case 'query': return engine.query(db, params);
    case 'count': return engine.count(db, params);
    case 'stateGet': return engine.stateGet(db, params);
    case 'adoptKey': {
      // Only the first adoption on a database this owner made may change
      // its identity; every later one (other tabs) is a check.
      const first = fresh;
      fresh = false;
      return engine.adoptKey(db, params, first) ?? null;
    }
    case 'adoptPubkey': {
      // A signer's public key, by adoptKey's rule.
      const first = fresh;
      fresh = false;
      return engine.adoptPubkey(db, params, first) ?? null;
    }
    case 'prepare': return engine.prepare(db, params);
    case 'postSigned': return engine.postSigned(db, params);
    case 'verify': return engine.verify(params) ?? null;
    case 'stateSet': return engine.stateSet(db, params[0], params[1]) ?? null;
    case 'mergeBatch': return engine.mergeBatch(db, params[0], params[1], params[2]);
    case 'connClose': return engine.connClose(db, params);
    case 'negOpen': return engine.negOpen(db, params[0], params[1], params[2]);
    case 'integrityCheck': return engine.integrityCheck(db);
    case 'secretKey': return engine.secretKey(db); // for exportKey, never asked by a page
    default: throw Object.assign(new Error(`unknown operation ${op}`), { code: HIROBA_EINVAL });
  }
}

// The owner's verifiers: dedicated Workers that the page starts for it
// (index.js) with the compiled module this worker sends, each connected to
// this worker by a MessageChannel whose other end only that verifier
// holds; this worker hears them only on those ports (verify-pool.js says
// why that is the whole trust). Not nested Workers of this one: in Firefox
// a worker that starts a worker while a debugger or WebDriver BiDi is
// attached (WorkerDebuggerManager has listeners) waits for the main thread
// to register the child's debugger, on the child's condition variable,
// which the child's own thread also waits on; the main thread's single
// notify can wake the child instead, and this worker then never runs
// again (seen in about 3% of first merges under load; thread stacks
// taken with gdb). A worker the page starts is registered on the main
// thread, with no wait. A browser that cannot start them gets an empty pool: the engine
// verifies everything itself.
// Started with the first mergeBatch, not at open: a feed that never
// syncs starts none, and start-up (the first query) does not share the
// cores with spawning them. Until its port arrives, a verifier's requests
// wait here. -> the pool, or null (the engine verifies).
function ensureVerifiers() {
  if (!verifiers && compiledModule) {
    try { verifiers = startVerifiers(compiledModule); } catch { verifiers = null; }
    compiledModule = null;   // one attempt per owner
  }
  return verifiers;
}

let verifierSlots = []; // index -> { port, queue, message, exit }: the pool's verifiers
function startVerifiers(compiled) {
  const size = verifierCount(navigator.hardwareConcurrency);
  verifierSlots = [];
  const pool = new VerifyPool(size, (i) => {
    const slot = { port: null, queue: [], message: null, exit: null };
    verifierSlots[i] = slot;
    return {
      post: (msg, transfer) => (slot.port ? slot.port.postMessage(msg, transfer) : slot.queue.push([msg, transfer])),
      onMessage: (fn) => { slot.message = fn; },
      onExit: (fn) => { slot.exit = fn; },
      busy: () => {},
      terminate: () => { slot.port?.close(); slot.queue = []; },
    };
  });
  self_.postMessage({ type: 'verifiers', count: size, module: compiled });
  return pool;
}

// The page's answer to 'verifiers': a port per verifier, in order.
function verifierPortsArrived(ports) {
  if (!Array.isArray(ports)) return;
  ports.forEach((port, i) => {
    const slot = verifierSlots[i];
    if (!slot || slot.port || !(port instanceof MessagePort)) return;
    slot.port = port;
    port.onmessage = ({ data }) => slot.message?.(data);
    port.onmessageerror = () => slot.exit?.();
    for (const [msg, transfer] of slot.queue) port.postMessage(msg, transfer);
    slot.queue = [];
  });
}

// The events of merged frames that the engine accepted, from the frames
// themselves (the fields an event has; a frame is ["EVENT", sub?, event]):
// no query to read back what was just written.
function acceptedEvents(frames, results) {
  const events = [];
  for (let i = 0; i < results.length; i++) {
    if (!results[i].accepted.length) continue;
    let frame;
    try { frame = JSON.parse(frames[i]); } catch { continue; }
    const e = Array.isArray(frame) ? frame[frame.length - 1] : null;
    if (!e || !results[i].accepted.includes(e.id)) continue;
    events.push({
      id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig,
    });
  }
  return events;
}

// Tells every worker (this one included, through its main thread) about
// events that are new to the database.
function announce(events) {
  if (!events.length) return;
  self_.postMessage({ type: 'events', result: events });
  channel.postMessage({ kind: 'events', events });
}

// execute() plus the events it stored. A mergeBatch (a peer's frames) is
// verified in parallel and stored in chunks (verify-pool.js): a Promise.
function executeAndAnnounce(op, params) {
  if (op === 'mergeBatch' && ensureVerifiers() && typeof params?.[0] === 'number' && params[0] >= 1 && Array.isArray(params[1])
      && params[1].length && params[1].every((f) => typeof f === 'string')) {
    return mergePipelined(engine, db, params[0], params[1], params[2], verifiers).then(({ text, results }) => {
      announce(acceptedEvents(params[1], results));
      return text;
    });
  }
  const result = execute(op, params);
  if ((op === 'post' || op === 'postSigned') && result.isNew) {
    announce([JSON.parse(result.json)]);
  } else if (op === 'merge' || op === 'mergeBatch') {
    const parsed = JSON.parse(result);
    const accepted = op === 'merge' ? parsed.accepted : parsed.flatMap((r) => r.accepted);
    if (accepted.length) announce(JSON.parse(engine.query(db, JSON.stringify({ ids: accepted }))));
  }
  return result;
}

// The engine's wasm, named by a literal `new URL(..., import.meta.url)` so
// that bundlers see the file and emit it beside the worker they build
// (Vite does with its defaults: tests/e2e/consumer.test.js).
const WASM_URL = new URL('../build/hiroba/hiroba.wasm', import.meta.url);

// The wasm is fetched and compiled while the Web Lock and the OPFS handles
// are being taken, not after (bench/size-startup). null when streaming
// compilation is unavailable or failed: the loader then fetches it itself,
// from WASM_URL too (locateFile below).
let compiling = null;
function compileWasm() {
  if (typeof WebAssembly.compileStreaming !== 'function') return Promise.resolve(null);
  return WebAssembly.compileStreaming(fetch(WASM_URL))
    .catch(() => null);
}

async function becomeOwner() {
  try {
    try {
      storage = await openOpfsStorage(name, { retryMs: HANDLE_RETRY_MS });
    } catch (err) {
      // A browser that has the method but no backend for it (WebKitGTK:
      // "NotSupportedError: Backend does not support this operation").
      if (err.cause?.name === 'NotSupportedError') throw lacks(SYNC_HANDLES, err.message);
      // The storage primitives have codes of their own (storage.h): the
      // caller of openFeed gets the engine's (hiroba.h).
      throw Object.assign(err, { code: err.code === STORAGE_EBUSY ? HIROBA_EBUSY : HIROBA_EIO });
    }
    // A key made silently over an emptied database would be a different
    // identity: said instead, unless the page asked for that.
    if (storage.foundEmpty && !allowEmpty) {
      throw Object.assign(new Error(`the database file exists but is empty: it holds no identity; `
        + 'pass { allowEmpty: true } to openFeed to start a new one'), { code: -5 });
    }
    fresh = storage.created;
    const compiled = await (compiling ??= compileWasm());
    const options = { hirobaStorage: storage, locateFile: (file) => (file.endsWith('.wasm') ? WASM_URL.href : file) };
    engine = new Engine(await (compiled
      ? instantiateModule(createHirobaModule, compiled, options)
      : createHirobaModule(options)));
    db = engine.open(storage.path);
    compiledModule = compiled;
    // The policy is the database's while this worker owns it (tabs of one
    // name are expected to ask for the same).
    if (policy) engine.setPolicy(db, policy);
  } catch (err) {
    storage?.release();
    storage = null;
    engine = null;
    role = 'failed';
    failure = {
      code: err.code ?? -3,
      message: `hiroba: cannot take over database "${name}": ${err.message}`,
      lacking: err.lacking,
    };
    // Whoever waits on us gets the reason instead of waiting forever.
    for (const [id, call] of pending) { pending.delete(id); call.reject(failure); }
    channel.postMessage({ kind: 'failed', from: workerId, error: failure });
    return;
  }
  role = 'owner';
  channel.postMessage({ kind: 'owner', from: workerId });
  // Our own calls that were waiting for an owner run here now.
  for (const [id, call] of pending) {
    pending.delete(id);
    runLocal(call);
  }
}

function runLocal(call) {
  const failed = (err) => call.reject({ code: err.code ?? -10, message: err.message });
  try {
    Promise.resolve(executeAndAnnounce(call.op, call.params)).then(call.resolve, failed);
  } catch (err) {
    failed(err);
  }
}

// --- every worker's side ------------------------------------------------------

function onChannel({ data }) {
  if (!data || typeof data !== 'object') return;
  if (data.kind === 'req' && role === 'owner') {
    const reply = (result) => channel.postMessage({ kind: 'res', to: data.from, id: data.id, result });
    const failed = (err) => channel.postMessage({ kind: 'res', to: data.from, id: data.id, error: { code: err.code ?? -10, message: err.message } });
    try {
      Promise.resolve(executeAndAnnounce(data.op, data.params)).then(reply, failed);
    } catch (err) {
      failed(err);
    }
  } else if (data.kind === 'res' && data.to === workerId) {
    const call = pending.get(data.id);
    if (!call) return;
    pending.delete(data.id);
    if (data.error) call.reject(data.error);
    else call.resolve(data.result);
  } else if (data.kind === 'owner' && role !== 'owner') {
    // A new owner: whatever we sent to the old one may be lost with it.
    for (const [id, call] of pending) send(id, call);
  } else if (data.kind === 'failed' && role !== 'owner') {
    for (const [id, call] of pending) { pending.delete(id); call.reject(data.error); }
  } else if (data.kind === 'events') {
    self_.postMessage({ type: 'events', result: data.events });
  }
}

function send(id, call) {
  channel.postMessage({ kind: 'req', from: workerId, id, op: call.op, params: call.params });
}

// A draft of a kind that is not replaceable gets its created_at now, once,
// so that sending it again after an owner change yields the same event.
function stampDraft(draftJson) {
  const draft = JSON.parse(draftJson);
  if (draft && typeof draft === 'object' && !isReplaceable(draft.kind) && draft.created_at === undefined) {
    draft.created_at = Math.floor(Date.now() / 1000);
  }
  return JSON.stringify(draft);
}

function call(op, params) {
  return new Promise((resolve, reject) => {
    if (op === 'post') {
      try { params = stampDraft(params); } catch { /* the engine will say what is wrong */ }
    }
    const id = `${workerId}:${nextId++}`;
    const entry = { op, params, resolve, reject };
    if (role === 'owner') return runLocal(entry);
    if (role === 'failed') return reject(failure);
    if (role === 'closed') return reject({ code: -7, message: 'hiroba: the feed is closed' });
    pending.set(id, entry);
    send(id, entry);
  });
}

// feed.exportKey: the owner reads the key; this worker seals it, so that
// scrypt (slow by design) holds up neither the page nor, when another
// tab's worker owns the database, that tab. nip49.js (and the scrypt it
// brings) is loaded only for this.
async function exportKey(options) {
  const [hex, { exportSecretKey }] = await Promise.all([call('secretKey'), import('./nip49.js')]);
  return exportSecretKey(hex, options);
}

async function open(args) {
  name = args.name;
  policy = typeof args.policy === 'string' ? args.policy : null;
  allowEmpty = args.allowEmpty === true;
  channel = new BroadcastChannel(`hiroba:${name}`);
  channel.onmessage = onChannel;
  role = 'follower';
  compiling ??= compileWasm();
  const lockName = `hiroba:${name}`;
  // Holding the lock is owning the database; returning from the callback
  // (closed, or failed to open) lets the next worker in line try.
  const own = async (settled) => {
    if (role === 'closed') return;
    await becomeOwner();
    settled?.();
    if (role === 'owner') await new Promise((resolve) => { releaseLock = resolve; });
  };
  // Try at once: the first worker of a name answers openFeed() only after
  // the database is open, so that open errors reach the caller. The others
  // are followers, usable at once, and queue for ownership.
  const tookIt = await new Promise((resolve) => {
    navigator.locks.request(lockName, { ifAvailable: true },
      (lock) => (lock ? own(() => resolve(true)) : resolve(false)));
  });
  if (!tookIt) navigator.locks.request(lockName, () => own());
  else if (role === 'failed') throw failure;
  return { role };
}

function close() {
  const wasOwner = role === 'owner';
  role = 'closed';
  for (const [id, c] of pending) { pending.delete(id); c.reject({ code: -7, message: 'hiroba: the feed is closed' }); }
  if (wasOwner) {
    verifiers?.close();
    verifiers = null;
    verifierSlots = [];
    compiledModule = null;
    try { engine.close(db); } finally {
      storage.release();
      releaseLock?.();
    }
  }
  channel?.close();
  return { closed: true };
}

self_.onmessage = async ({ data }) => {
  const { type, messageId, args } = data ?? {};
  // From the page, not calls: the verifiers this worker asked for.
  if (type === 'verifierPorts') return verifierPortsArrived(data.ports);
  if (type === 'verifierLost') return verifierSlots[data.index]?.exit?.();
  try {
    let result;
    if (type === 'open') {
      if (typeof args?.name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(args.name)) {
        throw Object.assign(new Error('hiroba: openFeed({ name }): name must be 1-64 of A-Z a-z 0-9 . _ -'), { code: HIROBA_EINVAL });
      }
      if (typeof FileSystemFileHandle !== 'function'
          || typeof FileSystemFileHandle.prototype.createSyncAccessHandle !== 'function') throw lacks(SYNC_HANDLES);
      result = await open(args);
    } else if (type === 'call' && args?.op === 'close') {
      result = close();
    } else if (type === 'call' && args?.op === 'exportKey') {
      result = await exportKey(args.params);
    } else if (type === 'decryptKey') {
      // openFeed({ secretKey: ncryptsec, passphrase }), before 'open'.
      result = (await import('./nip49.js')).decryptKey(args?.ncryptsec, args?.passphrase);
    } else if (type === 'call' && OPS.has(args?.op)) {
      result = await call(args.op, args.params);
    } else {
      throw Object.assign(new Error(`hiroba: unknown message ${type}`), { code: HIROBA_EINVAL });
    }
    self_.postMessage({ type, messageId, result });
  } catch (err) {
    replyError(messageId, type === 'call' ? args?.op : type, err);
  }
};
