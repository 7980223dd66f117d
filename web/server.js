// server.js -- the dev server: one Node process that serves
//
//   /            the demo page (web/index.html) and its static files in web/
//   /hiroba/*    the npm package as it ships (shipped.js: the files of
//                package.json "files"), at its own paths:
//                /hiroba/js-glue/index.js, /hiroba/build/hiroba/hiroba.wasm
//   /signal      WebSocket signaling (signal.js, DESIGN §6)
//   /turn        ICE servers with short-lived TURN credentials (turn.js)
//   /vendor/qrcode-generator.mjs  the demo's QR code generator, from
//                node_modules (a devDependency: the demo's, not the package's)
//   /relay       a Nostr relay on the engine (relay/relay.js): WebSocket,
//                and NIP-11 for Accept: application/nostr+json; `make demo`
//                keeps its database in data/relay.db (HIROBA_RELAY_DB)
//
// on 127.0.0.1:$PORT (default 8080). `node web/server.js` runs it;
// `make demo` builds the package first. Nothing here needs COOP/COEP; set
// HIROBA_COOP_COEP=1 to send them anyway (to check the page works isolated).
// Behind a reverse proxy, HIROBA_TRUST_PROXY=1 makes the per-address limits
// of /signal and /turn count the address the proxy puts last in
// X-Forwarded-For (without it, every client would share the proxy's).
//
// For tests: startServer({ port: 0 }) -> { url, port, close() }.

import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { clientKey } from './budget.js';
import { createSignalServer } from './signal.js';
import { createRelay } from '../relay/relay.js';
import { PACKAGE_ROOT, dependencyFile, linkDependencies, shippedFile, shippedFilter } from './shipped.js';
import { loadVerifier } from './verify.js';

const WEB = resolve(fileURLToPath(new URL('.', import.meta.url)));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

// The server's own modules live in web/ too; they are not the page's.
// Third-party files the demo page uses, served from node_modules by name.
const VENDOR = new Map([
  ['/vendor/qrcode-generator.mjs', resolve(WEB, '../node_modules/qrcode-generator/dist/qrcode.mjs')],
]);
const PRIVATE = new Set(['server.js', 'signal.js', 'turn.js', 'verify.js', 'budget.js', 'shipped.js'].map((f) => join(WEB, f)));

// Until turn.js exists: STUN only, per DESIGN §6 (no ICE servers configured).
function stunOnlyHandler() {
  return async (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end('{"iceServers":[],"ttl":600}');
  };
}

async function loadTurnHandler(env, options) {
  let mod;
  try {
    mod = await import('./turn.js');
  } catch (err) {
    // Only a missing turn.js falls back; a broken one is a real error.
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('turn.js')) return stunOnlyHandler();
    throw err;
  }
  return mod.createTurnHandler(env, options);
}

function plain(res, status, text, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

// URL path -> file path inside `root`, or null when it would leave root.
function inside(root, relative) {
  const file = resolve(root, '.' + sep + relative);
  return file.startsWith(root + sep) ? file : null;
}

// transform: (file, text) -> text, for a module served as a bundler would
// see it (shipped.js linkDependencies).
async function serveFile(req, res, file, extra, transform = null) {
  let info;
  try {
    info = await stat(file);
  } catch {
    return plain(res, 404, 'not found\n', extra);
  }
  if (!info.isFile()) return plain(res, 404, 'not found\n', extra);
  let body = await readFile(file);
  if (transform) body = Buffer.from(transform(file, body.toString('utf8')));
  res.writeHead(200, {
    'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...extra,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

// Starts the dev server. -> { url, port, server, signal, turn, close() }
//   port        0 for an ephemeral port (tests)
//   turnEnv     the environment turn.js reads its secrets from
//   coopCoep    send Cross-Origin-Opener/Embedder-Policy headers (never needed)
//   trustProxy  per-address limits use the last X-Forwarded-For entry
//   signal      options for createSignalServer (limits, heartbeatMs, ...)
//   turn        options for createTurnHandler (limits, ...)
//   relay       options for createRelay ({ db, limits, ... }) to serve
//               /relay; null (the default for tests): no relay
export async function startServer({
  port = 8080,
  host = '127.0.0.1',
  turnEnv = process.env,
  coopCoep = false,
  trustProxy = false,
  signal: signalOptions = {},
  turn: turnOptions = {},
  relay: relayOptions = null,
} = {}) {
  // Auth needs the engine's signature check: a missing build stops the
  // start-up here, with what to run, rather than failing every join.
  const verifier = await loadVerifier();
  const clientIp = (req) => clientKey(req, { trustProxy });
  const turn = await loadTurnHandler(turnEnv, { verifier, clientIp, ...turnOptions });
  const signal = createSignalServer({ verifier, clientIp, ...signalOptions });
  const relay = relayOptions ? await createRelay({ trustProxy, ...relayOptions }) : null;
  const isShipped = shippedFilter();
  const isolation = coopCoep
    ? {
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cross-origin-resource-policy': 'same-origin',
    }
    : {};

  const server = createServer(async (req, res) => {
    try {
      let pathname;
      try {
        pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
      } catch {
        return plain(res, 400, 'bad request\n', isolation);
      }
      if (pathname.includes('\0')) return plain(res, 400, 'bad request\n', isolation);

      if (pathname === '/turn') return await turn(req, res);
      if (pathname === '/relay' && relay) return relay.handleInfo(req, res);
      if (pathname === '/signal') {
        return plain(res, 426, 'WebSocket only: connect with new WebSocket(url)\n', { upgrade: 'websocket', ...isolation });
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return plain(res, 405, 'method not allowed\n', { allow: 'GET, HEAD', ...isolation });
      }

      let file = null;
      let transform = null;
      if (pathname === '/') {
        file = join(WEB, 'index.html');
      } else if (VENDOR.has(pathname)) {
        file = VENDOR.get(pathname);
      } else if (pathname.startsWith('/hiroba/')) {
        file = inside(PACKAGE_ROOT, pathname.slice('/hiroba/'.length));
        if (file && shippedFile(isShipped, file)) {
          if (extname(file) === '.js') transform = linkDependencies;
        } else if (!file || !dependencyFile(file)) {
          file = null;
        }
      } else {
        file = inside(WEB, pathname.slice(1));
        if (PRIVATE.has(file)) file = null;
      }
      if (!file) return plain(res, 404, 'not found\n', isolation);
      return await serveFile(req, res, file, isolation, transform);
    } catch (err) {
      if (!res.headersSent) plain(res, 500, 'internal error\n');
      else res.destroy();
      console.error('hiroba dev server:', err);
    }
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.on('upgrade', (req, socket, head) => {
    let pathname = null;
    try { pathname = new URL(req.url, 'http://localhost').pathname; } catch { /* a bad URL: 404 */ }
    if (pathname === '/signal') return signal.handleUpgrade(req, socket, head);
    if (pathname === '/relay' && relay) return relay.handleUpgrade(req, socket, head);
    socket.on('error', () => {});
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  await new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const actual = server.address().port;
  let closed = null;
  return {
    url: `http://${host}:${actual}/`,
    port: actual,
    server,
    signal,
    turn,
    relay,
    close() {
      closed ??= (async () => {
        const stopped = new Promise((r) => server.close(r));
        await signal.close();
        await relay?.close();
        server.closeAllConnections();
        await stopped;
      })();
      return closed;
    },
  };
}

async function main() {
  const port = process.env.PORT === undefined || process.env.PORT === '' ? 8080 : Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be a port number, not ${JSON.stringify(process.env.PORT)}`);
    process.exit(2);
  }
  const host = process.env.HOST || '127.0.0.1';
  // The relay's database lives in the git-ignored data/ folder.
  const relayDb = process.env.HIROBA_RELAY_DB || resolve(WEB, '../data/relay.db');
  mkdirSync(dirname(relayDb), { recursive: true });
  const app = await startServer({
    port,
    host,
    relay: { db: relayDb },
    coopCoep: process.env.HIROBA_COOP_COEP === '1',
    trustProxy: process.env.HIROBA_TRUST_PROXY === '1',
  });
  console.log(`Hiroba demo: ${app.url}`);
  console.log(`Nostr relay: ws://${host}:${app.port}/relay (database ${relayDb})`);
  const stop = async (sig) => {
    console.log(`\n${sig}: shutting down`);
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(err?.code === 'EADDRINUSE' ? `port ${process.env.PORT ?? 8080} is in use: set PORT=...` : err);
    process.exit(1);
  });
}
