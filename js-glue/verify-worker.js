// verify-worker.js -- a verifier in a browser: a dedicated Worker that the
// database worker (worker.js) starts and alone talks to (verify-pool.js).
// Its first message is the compiled wasm module; each one after it a
// request (verify-core.js).

import { serve, verifierEngine } from './verify-core.js';

let handle = null;
self.onmessage = ({ data }) => {
  if (!handle) {
    handle = serve(verifierEngine(data.module), (msg, transfer) => self.postMessage(msg, transfer));
    return;
  }
  handle(data);
};
