// verify-worker-node.js -- a verifier in Node: a worker_threads Worker that
// the feed's process (node.js) starts and alone talks to (verify-pool.js),
// given the compiled wasm module as its workerData.

import { parentPort, workerData } from 'node:worker_threads';
import { serve, verifierEngine } from './verify-core.js';

const handle = serve(verifierEngine(workerData.module), (msg, transfer) => parentPort.postMessage(msg, transfer));
parentPort.on('message', handle);
