// harness.js -- what every browser test needs: a static server for the
// browser package and test pages (or the dev server with its relay, for
// the demo page), and Debian's headless Chromium driven by playwright-core
// (never a downloaded browser). Everything started here is
// stopped by the returned close functions; tests call them in after().

import { createServer } from 'node:http';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { PACKAGE_ROOT, dependencyFile, linkDependencies, shippedFile, shippedFilter } from '../../web/shipped.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

// URL prefix -> folder, which of its files are served (all when no
// filter), and how a module's text is served. /hiroba/ is the npm package
// as it ships, at its own paths (/hiroba/js-glue/index.js,
// /hiroba/build/hiroba/hiroba.wasm), with its dependencies beside it, as
// the dev server serves it.
const isShipped = shippedFilter();
const ROUTES = [
  ['/hiroba/', PACKAGE_ROOT, (file) => shippedFile(isShipped, file) || dependencyFile(file),
    (file, text) => (shippedFile(isShipped, file) ? linkDependencies(file, text) : text)],
  ['/pages/', join(repo, 'tests/e2e/pages')],
  ['/node_modules/', join(repo, 'node_modules')],
  ['/test-build/', join(repo, 'build/test')],
  ['/shared/', join(repo, 'tests/shared')],
  ['/bench/', join(repo, 'bench/pages')],
];

// Serves ROUTES on 127.0.0.1 at an ephemeral port (no COOP/COEP headers:
// Hiroba must not need them). -> { origin, close() }
export async function startServer() {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path === '/favicon.ico') {
      // Browsers ask for it on every page; a 404 would read as an error.
      res.writeHead(204).end();
      return;
    }
    const route = ROUTES.find(([prefix]) => path.startsWith(prefix));
    const file = route && normalize(join(route[1], path.slice(route[0].length)));
    if (!file || !file.startsWith(route[1] + sep) || (route[2] && !route[2](file))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    try {
      let body = await readFile(file);
      if (route[3] && extname(file) === '.js') body = Buffer.from(route[3](file, body.toString('utf8')));
      res.writeHead(200, {
        'content-type': MIME[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      }).end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

// The dev server (web/server.js) as `make demo` runs it, with its Nostr
// relay at /relay (the demo page's default relay) on a database in a fresh
// temp folder that close() removes. `options` go to startServer (port 0 and
// no TURN unless given). setRelayReachable(false) refuses new WebSocket
// connections to /relay with 503, as an unreachable relay would (the open
// ones stay; HTTP, /signal and NIP-11 are unaffected); true serves again.
// -> startServer's { url, port, server, relay, close() } + { relayUrl,
// setRelayReachable(on) }
export async function startDemoServer(options = {}) {
  const { startServer: startDev } = await import('../../web/server.js');
  const dir = await mkdtemp(join(tmpdir(), 'hiroba-demo-relay-'));
  let app;
  try {
    app = await startDev({ port: 0, turnEnv: {}, ...options, relay: { db: join(dir, 'relay.db'), ...options.relay } });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let reachable = true;
  const upgrades = app.server.listeners('upgrade');
  app.server.removeAllListeners('upgrade');
  app.server.on('upgrade', (req, socket, head) => {
    let pathname = null;
    try { pathname = new URL(req.url, 'http://x').pathname; } catch { /* the server's own handler says 404 */ }
    if (!reachable && pathname === '/relay') {
      socket.on('error', () => {});
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    for (const fn of upgrades) fn.call(app.server, req, socket, head);
  });
  return {
    ...app,
    relayUrl: `ws://127.0.0.1:${app.port}/relay`,
    setRelayReachable(on) { reachable = !!on; },
    close: async () => {
      try {
        await app.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

// Flags verified on these machines (see TOOLCHAIN.md): without the
// networking ones Chromium floods the closed network with connections.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

// A persistent profile in a fresh temp folder: real on-disk OPFS that
// survives a browser restart (incognito contexts keep OPFS in memory).
// -> { context, dir, close() }; close() also removes the folder unless
// keepDir (to reopen the same profile later, then remove it yourself).
export async function launchProfile({ dir, keepDir = false } = {}) {
  const folder = dir ?? await mkdtemp(join(tmpdir(), 'hiroba-profile-'));
  const context = await chromium.launchPersistentContext(folder, {
    executablePath: '/usr/bin/chromium',
    args: ARGS,
    headless: true,
  });
  return {
    context,
    dir: folder,
    close: async () => {
      await context.close().catch(() => {});
      if (!keepDir) await rm(folder, { recursive: true, force: true });
    },
  };
}

// Collects a page's console errors and uncaught exceptions, so a test can
// assert there were none and show them when it fails.
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  return errors;
}
