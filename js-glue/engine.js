// engine.js -- the C API of src/hiroba.h, called on an instantiated wasm
// module. Synchronous: it runs wherever the module lives (in-process in
// Node, inside the worker in browsers).
//
// Memory: every string passed in is copied into a wasm buffer that this
// file allocates and frees around the call; every string the engine
// returns is copied out and released with hiroba_free before returning.
// No wasm pointer ever leaves this file.

/**
 * An engine failure: `code` is a negative HIROBA_E* number (docs/DESIGN.md
 * §4), `operation` the call that failed. Hostile input is never one: it
 * is a rejection with a reason inside a merge result.
 */
export class HirobaError extends Error {
  constructor(code, message, operation) {
    super(message);
    this.name = 'HirobaError';
    this.code = code;          // negative HIROBA_E* number
    this.operation = operation;
  }
}

// The codes of src/hiroba.h, for code that raises or tests them where no
// module is loaded (the page, the worker before the engine starts). Every
// Engine checks this table against the module's own hiroba_constants(),
// so it cannot drift from the C.
export const CODES = Object.freeze({
  HIROBA_OK: 0, HIROBA_EINVAL: -1, HIROBA_ENOMEM: -2, HIROBA_EIO: -3, HIROBA_EFULL: -4,
  HIROBA_ECORRUPT: -5, HIROBA_EBUSY: -6, HIROBA_EHANDLE: -7, HIROBA_ECRYPTO: -8,
  HIROBA_EREJECTED: -9, HIROBA_EINTERNAL: -10, HIROBA_ENOKEY: -11,
});

/** The replaceable kinds (docs/DESIGN.md §2), as src/event.h has them. */
export const isReplaceable = (kind) => kind === 0 || kind === 3 || (kind >= 10000 && kind < 20000);

const encoder = new TextEncoder();

// Bytes of one vouch: an event id (32) and its signature (64), src/merge.h.
export const VOUCH_SIZE = 96;

/**
 * The engine's Emscripten module over a new instance of `wasmModule` (a
 * compiled WebAssembly.Module), with `options` for the loader
 * (hirobaStorage). createHirobaModule is the loader (build/hiroba/hiroba.mjs),
 * passed in so that this file never imports the build. Rejects when the
 * instantiation fails: the loader cannot hear that itself and would wait
 * forever.
 */
export function instantiateModule(createHirobaModule, wasmModule, options) {
  let instantiateFailed;
  const failed = new Promise((_, reject) => { instantiateFailed = reject; });
  return Promise.race([failed, createHirobaModule({
    ...options,
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(wasmModule, imports).then((instance) => done(instance, wasmModule)).catch(instantiateFailed);
      return {};
    },
  })]);
}

/**
 * Frames (strings or Uint8Arrays) laid out as the engine takes them:
 * -> { bytes: their UTF-8 back to back, lens: the byte length of each }.
 */
export function packFrames(frames) {
  const parts = frames.map((f) => (typeof f === 'string' ? encoder.encode(f) : f));
  let total = 0;
  for (const p of parts) total += p.length;
  const bytes = new Uint8Array(total);
  const lens = new Uint32Array(parts.length);
  let off = 0;
  parts.forEach((p, i) => { bytes.set(p, off); off += p.length; lens[i] = p.length; });
  return { bytes, lens };
}

export class Engine {
  constructor(module) {
    this.m = module;
    // The C constants, read once from the module.
    this.codes = JSON.parse(module.UTF8ToString(module._hiroba_constants()));
    if (JSON.stringify(this.codes) !== JSON.stringify(CODES)) {
      throw new HirobaError(CODES.HIROBA_EINTERNAL, 'hiroba: js-glue/engine.js CODES differ from the wasm module\'s hiroba_constants()', 'open');
    }
  }

  // Copies text (string, or Uint8Array taken byte-exact) into a fresh
  // NUL-terminated wasm buffer; the caller frees it.
  _in(text) {
    const m = this.m;
    const bytes = typeof text === 'string' ? encoder.encode(text) : text;
    const p = m._malloc(bytes.length + 1);
    if (!p) throw new HirobaError(this.codes.HIROBA_ENOMEM, 'out of memory', 'alloc');
    // HEAPU8 is re-read after malloc: the heap may have grown.
    m.HEAPU8.set(bytes, p);
    m.HEAPU8[p + bytes.length] = 0;
    return p;
  }

  _error(operation) {
    const m = this.m;
    return new HirobaError(m._hiroba_errcode(), m.UTF8ToString(m._hiroba_errmsg()), operation);
  }

  // Calls a `char *fn(int db, const char *json)` export; returns the text.
  _call(operation, fn, db, text) {
    const p = this._in(text);
    let out;
    try {
      out = fn(db, p);
    } finally {
      this.m._free(p);
    }
    if (!out) throw this._error(operation);
    try {
      return this.m.UTF8ToString(out);
    } finally {
      this.m._hiroba_free(out);
    }
  }

  open(path) {
    const p = this._in(path);
    let db;
    try {
      db = this.m._hiroba_open(p);
    } finally {
      this.m._free(p);
    }
    if (db < 0) throw this._error('open');
    return db;
  }

  close(db) {
    if (this.m._hiroba_close(db) < 0) throw this._error('close');
  }

  identity(db) { return this._json('identity', this.m._hiroba_identity(db)); }

  // { ok, result } of PRAGMA integrity_check.
  integrityCheck(db) { return this._json('integrityCheck', this.m._hiroba__integrity_check(db)); }

  // Parses and frees a returned JSON string.
  _json(operation, out) {
    if (!out) throw this._error(operation);
    try {
      return JSON.parse(this.m.UTF8ToString(out));
    } finally {
      this.m._hiroba_free(out);
    }
  }

  // The methods below take and return JSON text; parsing is the caller's,
  // so a worker can forward text without decoding it.
  // Signs a draft with the local identity without storing it; -> JSON text.
  sign(db, draftJson) { return this._call('sign', this.m._hiroba__sign, db, draftJson); }

  // -> { json, isNew }: isNew is false when the same draft was already
  // stored (posted twice within a second); json is the stored event.
  post(db, draftJson) { return this._store('post', this.m._hiroba__post_ex, db, draftJson); }

  // A signer's event (made from prepare()'s) checked and stored as post()
  // stores: -> { json, isNew } the same way.
  postSigned(db, eventJson) { return this._store('post', this.m._hiroba__post_signed, db, eventJson); }

  _store(operation, fn, db, text) {
    const m = this.m;
    const pIsNew = m._malloc(4);
    if (!pIsNew) throw new HirobaError(this.codes.HIROBA_ENOMEM, 'out of memory', 'alloc');
    try {
      const json = this._call(operation, (d, p) => fn(d, p, pIsNew), db, text);
      return { json, isNew: m.HEAP32[pIsNew >> 2] !== 0 };
    } finally {
      m._free(pIsNew);
    }
  }

  // The unsigned event a signer is to sign for a draft (pubkey and
  // created_at chosen as post() would); -> JSON text.
  prepare(db, draftJson) { return this._call('prepare', this.m._hiroba__prepare, db, draftJson); }

  // Checks an event's id and signature as merge would, storing nothing;
  // throws a HirobaError with the reason when it is not valid.
  verify(eventJson) {
    const p = this._in(eventJson);
    let rc;
    try {
      rc = this.m._hiroba__verify(p);
    } finally {
      this.m._free(p);
    }
    if (rc < 0) throw this._error('verify');
  }
  // Frames go in with their length (hiroba__merge_n), so a NUL byte from a
  // peer is seen and rejected rather than cutting the frame short.
  merge(db, frame) {
    const bytes = typeof frame === 'string' ? encoder.encode(frame) : frame;
    return this._call('merge', (d, p) => this.m._hiroba__merge_n(d, p, bytes.length), db, bytes);
  }
  // Frames that arrived on one peer connection `conn` (>= 1), each a
  // string or Uint8Array, applied in one transaction, each parsed alone;
  // -> the JSON text of an array with one merge result per frame applied.
  // Once the results pass `budget` bytes (0: the engine's 2 MiB) the rest
  // is left: the array is shorter, and the caller passes those again.
  mergeBatch(db, conn, frames, budget = 0) {
    const { bytes, lens } = packFrames(frames);
    return this._frames('merge', (d, p, pLen) => this.m._hiroba__merge_batch(d, conn, p, pLen, lens.length, budget), db, bytes, lens);
  }

  // The pre-verified path (docs/DESIGN.md, "Verifying in parallel").
  // vouch(): run by a verifier worker on its own instance, no database:
  // packed frames (packFrames) in -> a Uint8Array of 96-byte records
  // (event id, signature) for each valid event in them.
  vouch(bytes, lens) {
    const m = this.m;
    let nMax = 0;
    for (const n of lens) nMax += Math.floor(n / 200) + 1; // an event's JSON is > 200 bytes
    const pOut = m._malloc(nMax * VOUCH_SIZE || 1);
    if (!pOut) throw new HirobaError(this.codes.HIROBA_ENOMEM, 'out of memory', 'alloc');
    try {
      const n = this._withFrames(bytes, lens, (p, pLen) => m._hiroba__vouch(p, pLen, lens.length, pOut, nMax));
      if (n < 0) throw this._error('vouch');
      return m.HEAPU8.slice(pOut, pOut + n * VOUCH_SIZE);
    } finally {
      m._free(pOut);
    }
  }

  // mergeBatch with `vouches` (what vouch() returned, on the engine's own
  // verifier workers only: the signatures they cover are not checked
  // again) and conn 0 allowed (merge()'s connection).
  mergeVouched(db, conn, bytes, lens, budget, vouches) {
    const m = this.m;
    const n = vouches ? vouches.length / VOUCH_SIZE : 0;
    const pV = m._malloc(n * VOUCH_SIZE || 1);
    if (!pV) throw new HirobaError(this.codes.HIROBA_ENOMEM, 'out of memory', 'alloc');
    try {
      if (n) m.HEAPU8.set(vouches, pV);
      return this._frames('merge', (d, p, pLen) => m._hiroba__merge_vouched(d, conn, p, pLen, lens.length, budget, pV, n), db, bytes, lens);
    } finally {
      m._free(pV);
    }
  }

  // Copies packed frames in (bytes, and their lengths as uint32) around
  // fn(pBytes, pLens); -> what fn returns.
  _withFrames(bytes, lens, fn) {
    const m = this.m;
    const pLen = m._malloc(lens.length * 4 || 4);
    if (!pLen) throw new HirobaError(this.codes.HIROBA_ENOMEM, 'out of memory', 'alloc');
    let p = 0;
    try {
      p = this._in(bytes);
      // HEAPU32 is read after every malloc: the heap may have grown.
      m.HEAPU32.set(lens, pLen >> 2);
      return fn(p, pLen);
    } finally {
      if (p) m._free(p);
      m._free(pLen);
    }
  }

  // A `char *fn(db, frames, lens)` export over packed frames -> its text.
  _frames(operation, fn, db, bytes, lens) {
    const out = this._withFrames(bytes, lens, (p, pLen) => fn(db, p, pLen));
    if (!out) throw this._error(operation);
    try {
      return this.m.UTF8ToString(out);
    } finally {
      this.m._hiroba_free(out);
    }
  }

  // Forgets a peer connection: closes its NIP-77 sessions.
  connClose(db, conn) {
    if (this.m._hiroba__conn_close(db, conn) < 0) throw this._error('connClose');
  }

  // The storage policy: JSON {"store": "follows"|"all", "maxBytes": n}.
  setPolicy(db, policyJson) {
    const p = this._in(policyJson);
    let rc;
    try {
      rc = this.m._hiroba__set_policy(db, p);
    } finally {
      this.m._free(p);
    }
    if (rc < 0) throw this._error('setPolicy');
  }

  query(db, filterJson) { return this._call('query', this.m._hiroba_query, db, filterJson); }
  // -> the text {"count": n}: stored events matching the filter(s), NIP-45.
  count(db, filterJson) { return this._call('count', this.m._hiroba_count, db, filterJson); }

  // Makes a secret key (64 hex) the database's identity: the same key is
  // fine anywhere; another only on a database this open created (fresh)
  // with no event yet.
  adoptKey(db, seckeyHex, fresh) { this._adopt('adoptKey', this.m._hiroba__adopt_key, db, seckeyHex, fresh); }

  // Makes a public key (64 hex) the identity without a secret, for a
  // signer, by adoptKey's rules; the same key with its secret stays as is.
  adoptPubkey(db, pubkeyHex, fresh) { this._adopt('adoptPubkey', this.m._hiroba__adopt_pubkey, db, pubkeyHex, fresh); }

  _adopt(operation, fn, db, hex, fresh) {
    const p = this._in(hex);
    let rc;
    try {
      rc = fn(db, p, fresh ? 1 : 0);
    } finally {
      this.m._free(p);
    }
    if (rc < 0) throw this._error(operation);
  }

  // The identity's secret key as 64 hex, for feed.exportKey. The engine's
  // copy is zeroed before it is freed, so the key is not left lying in
  // the wasm heap.
  secretKey(db) {
    const m = this.m;
    const out = m._hiroba__secret_key(db);
    if (!out) throw this._error('exportKey');
    try {
      return m.UTF8ToString(out);
    } finally {
      m.HEAPU8.fill(0, out, out + 64);
      m._hiroba_free(out);
    }
  }

  // The sync driver's key-value store: -> the value's JSON text, "null"
  // when the key has none.
  stateGet(db, key) { return this._call('stateGet', this.m._hiroba__state_get, db, key); }
  // valueJson: JSON text, or null to delete the key.
  stateSet(db, key, valueJson) {
    const pKey = this._in(key);
    const pValue = valueJson == null ? 0 : this._in(valueJson);
    let rc;
    try {
      rc = this.m._hiroba__state_set(db, pKey, pValue);
    } finally {
      this.m._free(pKey);
      if (pValue) this.m._free(pValue);
    }
    if (rc < 0) throw this._error('stateSet');
  }
  // Opens a NIP-77 reconciliation as the initiator over the stored events
  // matching one filter; -> the frame text ["NEG-OPEN", sub, filter, hex]
  // to send. The peer's answers go through merge(), whose results carry
  // "have" and "need" until a NEG-CLOSE reply says it is done.
  // conn: the peer connection the session belongs to (0: hiroba_merge's).
  negOpen(db, sub, filterJson, conn = 0) {
    const pSub = this._in(sub);
    try {
      return this._call('negOpen', (d, p) => this.m._hiroba__conn_neg_open(d, conn, pSub, p), db, filterJson);
    } finally {
      this.m._free(pSub);
    }
  }
}
