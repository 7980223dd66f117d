// coturn.js -- a real TURN server (Debian's coturn `turnserver`) on
// 127.0.0.1 for the tests that need one (tests/node/turn.test.js, the
// demo's relayed run in tests/e2e/). Node only; not served to pages.
//
// startCoturn({secret}) -> { port, log(), stop(), child } once its listener
// accepts. It runs with a shared secret (TURN REST API credentials, as
// web/turn.js mints them), no TLS, loopback peers allowed (both ends of a
// relayed test connection are on this machine) and a random 200-port relay
// window, with its pid file and database in a temp folder that stop()
// removes.

import net from 'node:net';
import dgram from 'node:dgram';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const haveCommand = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/* A port free on 127.0.0.1 for both TCP and UDP right now. */
export async function freePort() {
  for (let i = 0; i < 20; i++) {
    const tcp = net.createServer();
    await new Promise((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const { port } = tcp.address();
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) await new Promise((resolve) => udp.close(resolve));
    await new Promise((resolve) => tcp.close(resolve));
    if (ok) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

export async function startCoturn({ secret, realm = 'hiroba.test' }) {
  if (!haveCommand('turnserver')) throw new Error("turnserver missing: install Debian's coturn (scripts/setup-system.sh)");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hiroba-coturn-'));
  const minPort = 40000 + Math.floor(Math.random() * 100) * 200;
  const args = [
    '-n', // no config file
    `--listening-port=${port}`, '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1',
    '--use-auth-secret', `--static-auth-secret=${secret}`, `--realm=${realm}`,
    '--no-tls', '--no-dtls', '--no-cli',
    '--log-file=stdout', '--simple-log', '--verbose',
    '--allow-loopback-peers', '--no-multicast-peers',
    `--min-port=${minPort}`, `--max-port=${minPort + 199}`,
    `--pidfile=${join(dir, 'turnserver.pid')}`, `--db=${join(dir, 'turndb')}`,
  ];
  const child = spawn('turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when its TCP listener accepts (UDP and TCP start together).
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`turnserver exited early:\n${log}`);
    }
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`turnserver did not listen on ${port} within 15 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, child, log: () => log, stop };
}
