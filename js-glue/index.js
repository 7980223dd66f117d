// index.js -- the browser entry of the package ('hiroba' in browsers and
// bundlers; rooms and relays are 'hiroba/sync', network.js): the engine runs
// in a dedicated module Worker (worker.js), its SQLite database in the
// Origin Private File System. No COOP/COEP headers are needed: the VFS is
// synchronous inside the worker, over OPFS sync access handles.
//
//   import { openFeed } from 'hiroba';
//   const feed = await openFeed({ name: 'default' });
//
// Several tabs (or several openFeed calls) may open the same name: one
// worker owns the database and the others work through it, taking over
// when it goes away (see worker.js).

import { HirobaError } from './engine.js';
import { Feed, resolveKeyOptions, resolvePolicy, signerPubkey } from './feed.js';
import { secretKeyHex } from './nip19.js';
import { MAX_VERIFIERS } from './verify-pool.js';

export { Feed } from './feed.js';
export { HirobaError } from './engine.js';

/**
 * What this browser lacks for Hiroba, or null: what a page can see without
 * starting a worker or opening a database.
 *
 * The one thing it cannot see is createSyncAccessHandle(), which browsers
 * expose only in dedicated workers: FileSystemFileHandle.prototype has no
 * such method on any page, Chromium's and Firefox's included, so looking
 * for it here would call every browser unsupported. openFeed's worker
 * checks it before anything else (and takes a NotSupportedError from it,
 * a browser having the method without the backend, as the same lack):
 * openFeed then rejects with a HirobaError -1 whose `lacking` says so.
 */
export function unsupported() {
  if (typeof Worker !== 'function') return 'Web Workers';
  if (!globalThis.navigator?.storage?.getDirectory) return 'the Origin Private File System (OPFS)';
  if (!globalThis.navigator?.locks) return 'Web Locks';
  if (typeof BroadcastChannel !== 'function') return 'BroadcastChannel';
  if (!globalThis.isSecureContext) return 'a secure context (https:// or http://127.0.0.1)';
  return null;
}

// A promise RPC over one worker: {type, messageId, args} out, the same
// messageId back with a result or {operation, code, message}.
class WorkerClient {
  constructor(worker) {
    this.worker = worker;
    this.nextId = 1;
    this.pending = new Map(); // messageId -> {resolve, reject, operation}
    this.onEvent = null;
    this.dead = null;         // the error every call gets once the worker died
    this.verifiers = [];      // the verifier Workers started for the worker
    worker.onmessage = ({ data }) => this._receive(data);
    worker.onerror = (e) => {
      e.preventDefault?.();
      this._die(new HirobaError(-10, `hiroba: the worker failed: ${e.message ?? 'script error'}`, 'worker'));
    };
    worker.onmessageerror = () => this._die(new HirobaError(-10, 'hiroba: unreadable message from the worker', 'worker'));
  }

  _receive(data) {
    if (data?.type === 'verifiers') {
      this._startVerifiers(data.count, data.module);
      return;
    }
    if (data?.type === 'event') {
      this.onEvent?.(data.result);
      return;
    }
    // Many at once (a merged batch): one message instead of one each.
    if (data?.type === 'events') {
      for (const event of data.result) this.onEvent?.(event);
      return;
    }
    const call = this.pending.get(data?.messageId);
    if (!call) return;
    this.pending.delete(data.messageId);
    if (data.type === 'error') {
      const { operation, code, message, lacking } = data.result;
      const err = new HirobaError(code, message, operation);
      if (lacking) err.lacking = lacking;
      call.reject(err);
    } else {
      call.resolve(data.result);
    }
  }

  // The database worker's verifiers (verify-pool.js), which it asks for
  // when it first merges a peer's batch: started here, by the page, and not
  // by the worker itself (worker.js says why), each tied to the worker by a
  // MessageChannel whose ends only the two of them hold. One that fails to
  // start or dies is reported, so that its work goes back to the engine.
  _startVerifiers(count, module) {
    this.stopVerifiers();
    const lost = (index) => this.worker.postMessage({ type: 'verifierLost', index });
    const ports = [];
    for (let i = 0; i < Math.min(Number(count) || 0, MAX_VERIFIERS); i++) {
      let verifier;
      try {
        verifier = new Worker(new URL('./verify-worker.js', import.meta.url), { type: 'module', name: 'hiroba-verify' });
      } catch {
        ports.push(null);
        lost(i);
        continue;
      }
      const { port1, port2 } = new MessageChannel();
      verifier.onerror = (e) => { e.preventDefault?.(); lost(i); };
      verifier.postMessage({ port: port1, module }, [port1]);
      this.verifiers.push(verifier);
      ports.push(port2);
    }
    this.worker.postMessage({ type: 'verifierPorts', ports }, ports.filter(Boolean));
  }

  stopVerifiers() {
    for (const verifier of this.verifiers) verifier.terminate();
    this.verifiers = [];
  }

  _die(err) {
    this.stopVerifiers();
    this.dead = err;
    for (const call of this.pending.values()) call.reject(err);
    this.pending.clear();
  }

  request(type, args) {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      const messageId = this.nextId++;
      this.pending.set(messageId, { resolve, reject });
      this.worker.postMessage({ type, messageId, args });
    });
  }

  call(op, params) { return this.request('call', { op, params }); }
}

/**
 * Opens (or creates, with a new identity) the feed `name` of this origin:
 * a module Worker runs the engine on OPFS; tabs that open the same name
 * share one database. Rejects with a HirobaError: -1 when the browser
 * lacks something (unsupported(), or OPFS sync access handles, which only
 * the worker can see; `lacking` then names it), -6 (HIROBA_EBUSY) while
 * it is held.
 *
 * secretKey: a key the user already has (64 hex, nsec, 32 bytes, or an
 * ncryptsec with its passphrase), adopted by a database this open creates
 * and checked against the identity of an existing one (a different key is
 * refused). signer: a NIP-07 signer (window.nostr) instead, called here
 * on the page; the worker gets only its public key and what it signed.
 * policy: what to keep from peers (README "Storage policy").
 * @param {{ name?: string, policy?: object, allowEmpty?: boolean, secretKey?: string | Uint8Array, passphrase?: string, signer?: object }} [options]
 * @returns {Promise<import('./feed.js').Feed>}
 */
export async function openFeed({ name = 'default', policy, allowEmpty = false, secretKey, passphrase, signer } = {}) {
  const keys = resolveKeyOptions({ secretKey, passphrase, signer });
  const lacking = unsupported();
  if (lacking) throw Object.assign(new HirobaError(-1, `hiroba: this browser lacks ${lacking}`, 'open'), { lacking });
  const policyJson = JSON.stringify(resolvePolicy(policy));
  const signerHex = keys.signer ? await signerPubkey(keys.signer) : null;
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: `hiroba:${name}` });
  const client = new WorkerClient(worker);
  try {
    // scrypt runs in the worker, and before the database is opened: a
    // wrong passphrase creates nothing.
    const keyHex = keys.ncryptsec
      ? secretKeyHex(await client.request('decryptKey', { ncryptsec: keys.ncryptsec, passphrase }))
      : keys.keyHex;
    await client.request('open', { name, policy: policyJson, allowEmpty });
    if (keyHex) await client.call('adoptKey', keyHex);
    if (signerHex) await client.call('adoptPubkey', signerHex);
  } catch (err) {
    worker.terminate();
    client.stopVerifiers();
    throw err;
  }
  const feed = new Feed({
    identity: () => client.call('identity'),
    post: (draft) => client.call('post', draft),
    sign: (draft) => client.call('sign', draft),
    prepare: (draft) => client.call('prepare', draft),
    postSigned: (event) => client.call('postSigned', event),
    verify: (event) => client.call('verify', event),
    merge: (frame) => client.call('merge', frame),
    mergeBatch: (conn, frames, budget) => client.call('mergeBatch', [conn, frames, budget]),
    connClose: (conn) => client.call('connClose', conn),
    query: (filter) => client.call('query', filter),
    count: (filter) => client.call('count', filter),
    stateGet: (key) => client.call('stateGet', key),
    stateSet: (key, value) => client.call('stateSet', [key, value]),
    negOpen: (sub, filter, conn) => client.call('negOpen', [sub, filter, conn]),
    integrityCheck: () => client.call('integrityCheck'),
    exportKey: (options) => client.call('exportKey', options),
    close: async () => {
      try { await client.call('close'); } finally { worker.terminate(); client.stopVerifiers(); }
    },
    // Events come from the owner worker, whichever tab made them.
    subscribe: (fn) => { client.onEvent = fn; },
  }, { signer: keys.signer });
  // For tests and diagnostics: the worker, to simulate a crash; how many
  // verifier workers this page runs for it.
  Object.defineProperty(feed, '_worker', { value: worker });
  Object.defineProperty(feed, '_verifiers', { get: () => client.verifiers.length });
  return feed;
}
