// verify-worker.js -- a verifier in a browser: a dedicated Worker that the
// page starts for the database worker (index.js, on worker.js's request)
// and that talks to that worker alone (verify-pool.js). The page's one
// message hands it its end of a MessageChannel whose other end the
// database worker holds; on that port the first message is the compiled
// wasm module, each one after it a request (verify-core.js).

import { serve, verifierEngine } from './verify-core.js';

self.onmessage = ({ data }) => {
  const port = data?.port;
  if (!(port instanceof MessagePort)) return;
  self.onmessage = null; // one port, once: nothing else is heard
  let handle = null;
  port.onmessage = ({ data: msg }) => {
    if (!handle) {
      handle = serve(verifierEngine(msg?.module), (reply, transfer) => port.postMessage(reply, transfer));
      return;
    }
    handle(msg);
  };
};
