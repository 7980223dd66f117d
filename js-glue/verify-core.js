// verify-core.js -- the inside of a verifier worker (verify-pool.js): an
// instance of the engine's wasm module with no database, answering each
// request { id, bytes, lens } (packed frames, engine.js packFrames) with
// { id, vouches }: the id and signature of every valid event in them
// (engine.vouch). verify-worker.js runs it in a browser's dedicated
// Worker, verify-worker-node.js in a Node worker_threads Worker.

import createHirobaModule from '../build/hiroba/hiroba.mjs';
import { Engine, instantiateModule } from './engine.js';

// -> the Engine over a new instance of the compiled module; rejects when
// there is no module or it does not instantiate.
export async function verifierEngine(wasmModule) {
  if (!(wasmModule instanceof WebAssembly.Module)) throw new TypeError('a verifier needs the compiled WebAssembly.Module');
  // No database is ever opened here: the storage primitives stay unused.
  return new Engine(await instantiateModule(createHirobaModule, wasmModule, { hirobaStorage: {} }));
}

// -> a handler for one request; post(message, transfer) answers it.
// A verifier without an engine answers every request with no vouches.
export function serve(enginePromise, post) {
  enginePromise.catch(() => {}); // its failure is each request's answer, not an error
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
