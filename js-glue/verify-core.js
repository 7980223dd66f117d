// verify-core.js -- the inside of a verifier worker (verify-pool.js): an
// instance of the engine's wasm module with no database, answering each
// request { id, bytes, lens } (packed frames, engine.js packFrames) with
// { id, vouches }: the id and signature of every valid event in them
// (engine.vouch). verify-worker.js runs it in a browser's dedicated
// Worker, verify-worker-node.js in a Node worker_threads Worker.

import createHirobaModule from '../build/hiroba/hiroba.mjs';
import { Engine } from './engine.js';

// -> the Engine over a new instance of the compiled module.
export async function verifierEngine(wasmModule) {
  const m = await createHirobaModule({
    // No database is ever opened here: the storage primitives stay unused.
    hirobaStorage: {},
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(wasmModule, imports).then((instance) => done(instance, wasmModule));
      return {};
    },
  });
  return new Engine(m);
}

// -> a handler for one request; post(message, transfer) answers it.
export function serve(enginePromise, post) {
  return async (msg) => {
    const { id, bytes, lens } = msg ?? {};
    let vouches = null;
    try {
      if (bytes instanceof Uint8Array && lens instanceof Uint32Array) vouches = (await enginePromise).vouch(bytes, lens);
    } catch {
      vouches = null; // the engine verifies these itself
    }
    post({ id, vouches }, vouches ? [vouches.buffer] : []);
  };
}
