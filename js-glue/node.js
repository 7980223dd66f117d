// node.js -- the Node entry of the package ('hiroba/node'): the engine runs
// in-process on the same wasm module as in browsers, its database in a
// file through the node:fs storage primitives (storage-node.js).
//
//   import { openFeed } from 'hiroba/node';
//   const feed = await openFeed({ path: './my.db' });

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import createHirobaModule from '../build/hiroba/hiroba.mjs';
import { Engine } from './engine.js';
import { Feed } from './feed.js';
import { createNodeStorage } from './storage-node.js';

export { Feed } from './feed.js';
// Node has no WebRTC or WebSocket of its own: pass { RTCPeerConnection,
// WebSocket } (e.g. from @roamhq/wrtc or node-datachannel, and ws).
export { joinRoom } from './sync.js';
export { HirobaError } from './engine.js';

// Compiled once per process; every feed gets its own instance (its own
// memory), so feeds never share state or handles.
let compiled = null;

function compile() {
  compiled ??= readFile(new URL('../build/hiroba/hiroba.wasm', import.meta.url))
    .then((bytes) => WebAssembly.compile(bytes));
  return compiled;
}

async function instantiate() {
  const wasmModule = await compile();
  return createHirobaModule({
    hirobaStorage: createNodeStorage(),
    // Emscripten 3.1.6's loader cannot fetch a file path under Node:
    // hand it the compiled module instead.
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(wasmModule, imports).then((instance) => done(instance, wasmModule));
      return {};
    },
  });
}

export async function openFeed({ path } = {}) {
  if (typeof path !== 'string' || !path) throw new TypeError('openFeed({ path }): path is required');
  const engine = new Engine(await instantiate());
  const db = engine.open(resolve(path));
  let closed = false;
  return new Feed({
    identity: async () => engine.identity(db),
    post: async (draft) => engine.post(db, draft),
    sign: async (draft) => engine.sign(db, draft),
    merge: async (frame) => engine.merge(db, frame),
    query: async (filter) => engine.query(db, filter),
    negOpen: async (sub, filter) => engine.negOpen(db, sub, filter),
    integrityCheck: async () => engine.integrityCheck(db),
    close: async () => {
      if (!closed) { closed = true; engine.close(db); }
    },
  });
}
