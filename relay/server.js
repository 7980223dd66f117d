// server.js -- a standalone Hiroba relay: one HTTP server whose every path
// answers NIP-11 (GET with Accept: application/nostr+json) and WebSocket
// upgrades (the relay, relay.js). The `hiroba-relay` command (bin.js) and
// the tests start it; the dev server mounts the same relay at /relay.
//
//   const r = await startRelay({ port: 0, db: './relay.db' });
//   r.url     // ws://127.0.0.1:PORT/
//   await r.close();

import { createServer } from 'node:http';

import { createRelay } from './relay.js';

/**
 * Options: port (0: ephemeral), host, and everything createRelay takes.
 * -> { url, httpUrl, port, relay, server, close() }
 */
export async function startRelay({ port = 7777, host = '127.0.0.1', ...options } = {}) {
  const relay = await createRelay(options);
  const server = createServer((req, res) => {
    try {
      relay.handleInfo(req, res);
    } catch (err) {
      if (!res.headersSent) { res.writeHead(500); res.end(); } else res.destroy();
      console.error('hiroba relay:', err);
    }
  });
  server.on('upgrade', (req, socket, head) => relay.handleUpgrade(req, socket, head));
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
  } catch (err) {
    await relay.close();
    throw err;
  }
  const actual = server.address().port;
  const shown = host.includes(':') ? `[${host}]` : host;
  let closed = null;
  return {
    url: `ws://${shown}:${actual}/`,
    httpUrl: `http://${shown}:${actual}/`,
    port: actual,
    relay,
    server,
    close() {
      closed ??= (async () => {
        const stopped = new Promise((r) => server.close(r));
        await relay.close();
        server.closeAllConnections();
        await stopped;
      })();
      return closed;
    },
  };
}
