// verify.js -- checks a Nostr event's id and BIP-340 signature for the dev
// server (signaling auth in signal.js, NIP-98 in turn.js) with the engine's
// own wasm build: libsecp256k1, about 0.1-0.3 ms a check, where the pure-JS
// verifier (@noble/curves) took 4.5 ms -- a cost strangers choose to make
// us pay, so it had better be small. Callers still ration it (see
// budget.js) and run their cheap checks first.
//
//   const verifier = await loadVerifier();
//   verifier.verify(event)   // null when valid, else a short reason
//
// The module is the one `make wasm` builds (build/hiroba/hiroba.mjs +
// .wasm), instantiated once per process and shared. It gets no storage:
// hiroba__verify touches no database, and any storage call would fail.

import { readFile } from 'node:fs/promises';

const MJS = new URL('../build/hiroba/hiroba.mjs', import.meta.url);
const WASM = new URL('../build/hiroba/hiroba.wasm', import.meta.url);

let loading = null;

async function load() {
  let factory;
  let wasmBinary;
  try {
    [{ default: factory }, wasmBinary] = await Promise.all([import(MJS.href), readFile(WASM)]);
  } catch (err) {
    throw new Error(`verify: cannot load the wasm engine from build/hiroba/ (run make wasm): ${err.message}`);
  }
  const m = await factory({ wasmBinary });
  if (typeof m._hiroba__verify !== 'function') {
    throw new Error('verify: build/hiroba/hiroba.mjs has no hiroba__verify export (rebuild with make wasm)');
  }
  let checks = 0;
  return {
    // The event as an object; only its NIP-01 fields are handed to the
    // engine, re-serialized here, so nothing else a client put in it is
    // ever parsed by C. -> null when id and signature are valid, else the
    // engine's reason (fixed text such as "invalid: bad signature").
    verify(event) {
      let text;
      try {
        const { id, pubkey, created_at: createdAt, kind, tags, content, sig } = event;
        text = JSON.stringify({ id, pubkey, created_at: createdAt, kind, tags, content, sig });
      } catch {
        return 'invalid: not an event';
      }
      checks++;
      const n = m.lengthBytesUTF8(text) + 1;
      const p = m._malloc(n);
      if (!p) return 'error: out of memory';
      try {
        m.stringToUTF8(text, p, n);
        return m._hiroba__verify(p) === 0 ? null : m.UTF8ToString(m._hiroba_errmsg());
      } finally {
        m._free(p);
      }
    },
    // How many events were handed to the engine (tests and stats).
    get checks() { return checks; },
  };
}

// The shared verifier; rejects (with what to do) when the build is missing.
export function loadVerifier() {
  loading ??= load().catch((err) => {
    loading = null; // a later call may find the build
    throw err;
  });
  return loading;
}
