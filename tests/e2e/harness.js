// harness.js -- what every browser test needs: a static server for the
// browser package and test pages (or the dev server with its relay, for
// the demo page), and Debian's headless browsers (never downloaded ones):
// Chromium driven by playwright-core, Firefox ESR by puppeteer-core over
// WebDriver BiDi (Debian ships no geckodriver), both behind one small
// interface (launchBrowser). Everything started here is stopped by the
// returned close functions; tests call them in after().

import { createServer } from 'node:http';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'node:test';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { Locator } from './locator.js';
import { startCoturn } from '../shared/coturn.js';

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

// A real coturn on 127.0.0.1 (tests/shared/coturn.js) and a dev server
// (startDemoServer) whose /turn mints credentials for it from the same
// secret, for pages that force their connections through TURN
// (iceTransportPolicy 'relay'). close() stops both.
// -> startDemoServer's result + { coturn }
export async function startTurnDemoServer({ secret = 'hiroba-e2e-coturn-secret' } = {}) {
  const coturn = await startCoturn({ secret });
  let app;
  try {
    app = await startDemoServer({
      turnEnv: { TURN_SECRET: secret, TURN_URLS: `turn:127.0.0.1:${coturn.port}?transport=udp` },
    });
  } catch (err) {
    await coturn.stop();
    throw err;
  }
  return {
    ...app,
    coturn,
    close: async () => {
      try {
        await app.close();
      } finally {
        await coturn.stop();
      }
    },
  };
}

// Flags verified on these machines: without the
// networking ones Chromium floods the closed network with connections.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

// The browsers a ported suite runs in: HIROBA_BROWSERS=chromium,firefox
// (the default), or either alone.
const KNOWN = ['chromium', 'firefox'];
export const BROWSERS = (process.env.HIROBA_BROWSERS || KNOWN.join(','))
  .split(',').map((b) => b.trim()).filter(Boolean);
for (const b of BROWSERS) {
  if (!KNOWN.includes(b)) throw new Error(`HIROBA_BROWSERS: unknown browser ${JSON.stringify(b)} (known: ${KNOWN.join(', ')})`);
}

// Runs fn(browser) inside a describe() per browser of BROWSERS, so that a
// suite's before/after hooks launch and close one browser at a time.
export function eachBrowser(fn) {
  for (const browser of BROWSERS) describe(`[${browser}]`, () => fn(browser));
}

// Firefox prefs for WebRTC between two profiles on this machine: host
// candidates in the clear (no mDNS names, which nothing here resolves),
// loopback allowed, and no permission prompt a headless browser could not
// answer.
const FIREFOX_PREFS = {
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.no_host': false,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.navigator.permission.disabled': true,
};

// One browser on a persistent profile in `dir` (default: a fresh temp
// folder): real on-disk OPFS that survives a browser restart (incognito
// contexts keep OPFS in memory). The same few operations in either engine:
//   { browser, dir, newPage(), restart(), close(), context }
// newPage() -> a Page (below); restart() closes the browser and starts it
// again on the same profile (its OPFS kept); close() also removes the
// folder unless keepDir. `prefs` are extra Firefox prefs (ignored by
// Chromium). insecureCerts: accept any TLS certificate (a test's own
// self-signed https server). `context` is playwright's BrowserContext in Chromium (for
// what only Chromium has, the DevTools protocol), null in Firefox.
export async function launchBrowser(browser, { dir, keepDir = false, prefs = {}, insecureCerts = false } = {}) {
  if (!KNOWN.includes(browser)) throw new Error(`unknown browser ${browser}`);
  const folder = dir ?? await mkdtemp(join(tmpdir(), `hiroba-${browser}-`));
  let engine = null;
  const start = async () => {
    if (browser === 'chromium') {
      engine = await chromium.launchPersistentContext(folder, {
        executablePath: '/usr/bin/chromium', args: ARGS, headless: true, ignoreHTTPSErrors: insecureCerts,
      });
    } else {
      engine = await puppeteer.launch({
        browser: 'firefox', executablePath: '/usr/bin/firefox-esr', headless: true,
        userDataDir: folder, extraPrefsFirefox: { ...FIREFOX_PREFS, ...prefs }, acceptInsecureCerts: insecureCerts,
      });
    }
  };
  const stop = async () => {
    const e = engine;
    engine = null;
    await e?.close().catch(() => {});
  };
  try {
    await start();
  } catch (err) {
    if (!dir) await rm(folder, { recursive: true, force: true });
    throw err;
  }
  return {
    browser,
    dir: folder,
    get context() { return browser === 'chromium' ? engine : null; },
    newPage: async () => new Page(browser, await engine.newPage()),
    restart: async () => { await stop(); await start(); },
    close: async () => {
      await stop();
      if (!keepDir) await rm(folder, { recursive: true, force: true });
    },
  };
}

// A tab, the same in either engine: its console errors and uncaught
// exceptions collect in `errors`; `raw` is the engine's own page object.
// evaluate and waitForFunction pass one argument, as playwright does.
class Page {
  constructor(browser, raw) {
    this.browser = browser;
    this.raw = raw;
    this.errors = watchErrors(raw);
  }

  goto(url) { return this.raw.goto(url); }
  reload() { return this.raw.reload(); }
  evaluate(fn, arg) { return this.raw.evaluate(fn, arg); }
  exposeFunction(name, fn) { return this.raw.exposeFunction(name, fn); }
  close() { return this.raw.close(); }

  // Resolves once fn(arg), run in the page (it may be async), is truthy.
  waitForFunction(fn, arg, { timeout = 30_000 } = {}) {
    if (this.browser === 'chromium') return this.raw.waitForFunction(fn, arg, { timeout });
    return this.raw.waitForFunction(fn, { timeout, polling: 50 }, arg);
  }

  setViewportSize({ width, height }) {
    if (this.browser === 'chromium') return this.raw.setViewportSize({ width, height });
    return this.raw.setViewport({ width, height });
  }

  // -> a Buffer of the PNG (also written to `path` when given).
  async screenshot({ path, fullPage = false } = {}) {
    return Buffer.from(await this.raw.screenshot({ path, fullPage }));
  }

  // fn runs in every document the page loads, before its own scripts.
  addInitScript(fn) {
    if (this.browser === 'chromium') return this.raw.addInitScript(fn);
    return this.raw.evaluateOnNewDocument(fn);
  }

  setContent(html) { return this.raw.setContent(html); }

  // The DOM as a user meets it: playwright's locators in Chromium, the same
  // calls over puppeteer in Firefox (locator.js).
  locator(selector, options) {
    if (this.browser === 'chromium') return this.raw.locator(selector, options);
    return Locator.of(this.raw, selector, options);
  }

  // page.fill(selector, ...) and the like: playwright's own in Chromium.
  fill(selector, value) { return this.#act('fill', selector, value); }
  click(selector) { return this.#act('click', selector); }
  press(selector, key) { return this.#act('press', selector, key); }
  inputValue(selector) { return this.#act('inputValue', selector); }
  getAttribute(selector, name) { return this.#act('getAttribute', selector, name); }

  #act(what, selector, ...args) {
    if (this.browser === 'chromium') return this.raw[what](selector, ...args);
    return this.locator(selector)[what](...args);
  }
}

// Collects a page's console errors and uncaught exceptions, so a test can
// assert there were none and show them when it fails.
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
  return errors;
}
