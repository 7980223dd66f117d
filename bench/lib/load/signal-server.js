// signal-server.js -- the signaling server under test for
// bench/load-signal.bench.js, in a process of its own so that its memory
// and CPU are measured apart from the 1,000 clients.
//
// It runs the real dev server (web/server.js startServer: HTTP + /signal,
// default limits) on 127.0.0.1 at a free port and talks to its parent over
// the IPC channel of child_process.fork:
//
//   -> { type: 'ready', port, pid }        once listening
//   <- { type: 'stats', id, gc }           -> { type: 'stats', id, memory, cpu, connections }
//                                             (gc: collect twice first; needs --expose-gc)
//   <- { type: 'close' }                   closes the server and exits 0
//
// It exits by itself when the parent goes away, so a crashed benchmark
// never leaves a server behind.

import { startServer } from '../../../web/server.js';

// Every load client comes from 127.0.0.1: the per-address caps on
// unauthenticated connections and signature checks, made for attackers,
// are lifted so the bench measures the server, not those caps.
const app = await startServer({
  port: 0, host: '127.0.0.1', turnEnv: {},
  signal: { limits: { unauthPerIp: 1000, verifyPerIpPerSecond: 1e4, verifyBurstPerIp: 1e4, verifyPerSecond: 1e4, verifyBurst: 1e4 } },
});

process.on('message', async (msg) => {
  if (msg?.type === 'stats') {
    if (msg.gc && typeof globalThis.gc === 'function') {
      globalThis.gc();
      globalThis.gc();
    }
    process.send({
      type: 'stats',
      id: msg.id,
      memory: process.memoryUsage(),
      cpu: process.cpuUsage(),
      connections: app.signal.connections(),
    });
  } else if (msg?.type === 'close') {
    await app.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));

process.send({ type: 'ready', port: app.port, pid: process.pid });
