// verify-worker.js -- a verifier in a browser: a dedicated Worker that the
// page starts for the database worker (index.js, on worker.js's request)
// and that talks to that worker alone (verify-pool.js). The page's one
// message hands it the compiled wasm module and its end of a
// MessageChannel whose other end the database worker holds; every message
// on that port is a request (verify-core.js). The module comes from the
// page and not over the port: Firefox may fail to deliver a
// WebAssembly.Module posted on a port that is still on its way to the
// worker (seen once in the tests as a messageerror).

import { serve, verifierEngine } from './verify-core.js';

self.onmessage = ({ data }) => {
  const port = data?.port;
  if (!(port instanceof MessagePort)) return;
  self.onmessage = null; // one port, once: nothing else is heard
  const handle = serve(verifierEngine(data.module), (reply, transfer) => port.postMessage(reply, transfer));
  port.onmessage = ({ data: request }) => handle(request);
};
