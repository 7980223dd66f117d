// verify-node.js -- the verifier pool of a Node feed (verify-pool.js):
// worker_threads Workers running verify-worker-node.js, one less than the
// machine's hardware threads (at least one). A verifier keeps the process
// alive only while it has work: a feed left open does not hold up exit.

import { Worker } from 'node:worker_threads';
import { availableParallelism, cpus } from 'node:os';
import { VerifyPool, verifierCount } from './verify-pool.js';

export function nodeVerifyPool(wasmModule, size = verifierCount(availableParallelism?.() ?? cpus().length)) {
  return new VerifyPool(size, () => {
    const w = new Worker(new URL('./verify-worker-node.js', import.meta.url), { workerData: { module: wasmModule } });
    return {
      post: (msg, transfer) => w.postMessage(msg, transfer),
      onMessage: (fn) => w.on('message', fn),
      onExit: (fn) => { w.on('exit', fn); w.on('error', fn); },
      busy: (yes) => (yes ? w.ref() : w.unref()),
      terminate: () => w.terminate(),
    };
  });
}
