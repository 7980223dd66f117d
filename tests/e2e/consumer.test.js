// consumer.test.js -- Hiroba as a web developer gets it: the tarball
// `npm pack` makes, installed into a fresh app outside the repository.
//
//   - Vite: the app (index.html + src/main.js doing import { openFeed }
//     from 'hiroba', no vite config) is built with this repository's vite
//     and served as static files; in Chromium and Firefox (as
//     HIROBA_BROWSERS says) it opens a feed and posts, and after a reload
//     the post is read back from OPFS.
//   - Node, in that app (the "node" condition): openFeed({ path }), post,
//     close, reopen, the post is there; 'hiroba/sync' gives joinRoom and
//     joinRelay, 'hiroba/relay' the relay server.
//   - TypeScript: the entries type-check under moduleResolution
//     "bundler" (strict).
//
// Nothing here needs the network: the app's lockfile is written from this
// repository's (the versions its suites ran with), so `npm ci --offline`
// takes the tarball's dependencies from the cache that `npm ci` filled.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { BROWSERS, launchBrowser } from './harness.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = (name, file) => join(ROOT, 'node_modules', name, file);

let dir = null;        // temp folder: the tarball and the app
let app = null;        // the app folder
let packed = null;     // { filename, files }
let server = null;     // static server of app/dist
const served = [];     // [{ path, type }] every request the static server answered

const INDEX_HTML = `<!doctype html>
<html>
<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Hiroba consumer</title></head>
<body>
<p id="status">starting</p>
<p id="pubkey"></p>
<ul id="posts"></ul>
<script type="module" src="/src/main.js"></script>
</body>
</html>
`;

// Opens a feed, posts ?post= when given, lists every kind-1 event.
const MAIN_JS = `import { openFeed, unsupported } from 'hiroba';

const status = document.getElementById('status');
try {
  const lacking = unsupported();
  if (lacking) throw new Error(\`this browser lacks \${lacking}\`);
  const feed = await openFeed({ name: 'consumer' });
  const text = new URLSearchParams(location.search).get('post');
  if (text) await feed.post(text);
  document.getElementById('pubkey').textContent = (await feed.identity()).pubkey;
  for (const event of await feed.query({ kinds: [1] })) {
    const li = document.createElement('li');
    li.textContent = event.content;
    document.getElementById('posts').append(li);
  }
  status.textContent = 'ready';
} catch (err) {
  status.textContent = \`failed: \${err.message}\`;
}
`;

// Run in the app with `node --input-type=module`: what a Node user does.
const NODE_SCRIPT = `
import { openFeed, unsupported } from 'hiroba';
const path = process.env.CONSUMER_DB;
let feed = await openFeed({ path });
const posted = await feed.post('hello from node');
await feed.close();
feed = await openFeed({ path });
const found = await feed.query({ ids: [posted.id] });
await feed.close();
const sync = await import('hiroba/sync');
const relay = await import('hiroba/relay');
console.log(JSON.stringify({
  entry: import.meta.resolve('hiroba'),
  unsupported: unsupported(),
  posted: posted.content,
  found: found.map((e) => e.content),
  sync: Object.keys(sync).sort(),
  relay: [typeof relay.startRelay, typeof relay.createRelay],
}));
`;

// The app's lockfile: the tarball, and its dependencies as this
// repository's lockfile has them (closed over their own dependencies).
async function appLockfile(tarball, integrity) {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')).packages;
  const packages = {
    '': { name: 'hiroba-consumer', dependencies: { hiroba: `file:../${tarball}` } },
    'node_modules/hiroba': {
      version: pkg.version,
      resolved: `file:../${tarball}`,
      integrity,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  const todo = Object.keys(pkg.dependencies ?? {});
  while (todo.length) {
    const key = `node_modules/${todo.pop()}`;
    if (packages[key]) continue;
    assert.ok(lock[key], `${key} is not in package-lock.json`);
    const { dev, devOptional, ...entry } = lock[key];
    packages[key] = entry;
    todo.push(...Object.keys(entry.dependencies ?? {}));
  }
  return { name: 'hiroba-consumer', lockfileVersion: 3, requires: true, packages };
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
};

function serveStatic(root) {
  const http = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = normalize(join(root, path === '/' ? 'index.html' : path));
    const type = MIME[extname(file)] ?? 'application/octet-stream';
    try {
      if (!file.startsWith(root + sep)) throw new Error('outside');
      const body = await readFile(file);
      served.push({ path, type });
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((resolve) => http.listen(0, '127.0.0.1', () => resolve({
    origin: `http://127.0.0.1:${http.address().port}`,
    close: () => new Promise((r) => { http.closeAllConnections(); http.close(r); }),
  })));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hiroba-consumer-'));
  const pack = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
  const [{ filename, integrity, files }] = JSON.parse(pack.stdout);
  packed = { filename, files: files.map((f) => f.path) };

  app = join(dir, 'app');
  await mkdir(join(app, 'src'), { recursive: true });
  await writeFile(join(app, 'package.json'), `${JSON.stringify({
    name: 'hiroba-consumer', private: true, type: 'module', dependencies: { hiroba: `file:../${filename}` },
  }, null, 2)}\n`);
  await writeFile(join(app, 'package-lock.json'), `${JSON.stringify(await appLockfile(filename, integrity), null, 2)}\n`);
  await writeFile(join(app, 'index.html'), INDEX_HTML);
  await writeFile(join(app, 'src/main.js'), MAIN_JS);
  try {
    await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app });
  } catch (err) {
    throw new Error(`npm ci --offline in the app failed (is the npm cache filled? make setup runs npm ci): ${err.stderr}`);
  }
  // Vite from this repository, the app as its root, its defaults.
  await run(process.execPath, [BIN('vite', 'bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: app });
  server = await serveStatic(join(app, 'dist'));
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the tarball installs: the app gets the package as packed', async () => {
  const installed = join(app, 'node_modules/hiroba');
  for (const f of packed.files) assert.ok(existsSync(join(installed, f)), f);
  assert.ok(existsSync(join(app, 'node_modules/ws')), 'the runtime dependency ws is installed');
});

test('a default Vite build emits the worker, the verifier and the wasm, and no sync code', async () => {
  const assets = await readdir(join(app, 'dist/assets'));
  const wasm = assets.filter((f) => f.endsWith('.wasm'));
  assert.equal(wasm.length, 1, assets.join(' '));
  assert.deepEqual(await readFile(join(app, 'dist/assets', wasm[0])), await readFile(join(ROOT, 'build/hiroba/hiroba.wasm')));
  const scripts = assets.filter((f) => f.endsWith('.js'));
  assert.ok(scripts.some((f) => f.startsWith('worker')), `a worker chunk: ${assets.join(' ')}`);
  assert.ok(scripts.some((f) => f.startsWith('verify-worker')), `a verifier chunk: ${assets.join(' ')}`);
  // 'hiroba' is storage and the feed: no peer connection code comes with it.
  for (const f of scripts) {
    assert.doesNotMatch(await readFile(join(app, 'dist/assets', f), 'utf8'), /RTCPeerConnection/, f);
  }
});

for (const browser of BROWSERS) test(`the built app posts, and after a reload reads the post from OPFS [${browser}]`, async () => {
  const profile = await launchBrowser(browser);
  const firstRequest = served.length;   // this browser's requests follow
  try {
    const page = await profile.newPage();
    const errors = page.errors;
    const load = async (url) => {
      await page.goto(url);
      await page.waitForFunction(() => document.getElementById('status').textContent !== 'starting', null, { timeout: 30000 });
      return {
        status: await page.locator('#status').textContent(),
        pubkey: await page.locator('#pubkey').textContent(),
        posts: await page.locator('#posts li').evaluateAll((items) => items.map((li) => li.textContent)),
      };
    };
    const first = await load(`${server.origin}/?post=${encodeURIComponent('hello from vite')}`);
    assert.equal(first.status, 'ready');
    assert.deepEqual(first.posts, ['hello from vite']);
    const again = await load(`${server.origin}/`);
    assert.equal(again.status, 'ready');
    assert.equal(again.pubkey, first.pubkey, 'the same identity after the reload');
    assert.deepEqual(again.posts, ['hello from vite'], 'the post, read back from OPFS');
    assert.deepEqual(errors, []);
    const wasm = served.slice(firstRequest).filter((r) => r.path.endsWith('.wasm'));
    assert.ok(wasm.length > 0, 'the worker fetched the wasm');
    for (const r of wasm) assert.equal(r.type, 'application/wasm');
  } finally {
    await profile.close();
  }
});

test('from Node the installed package opens, posts and reopens a feed; hiroba/sync and hiroba/relay load', async () => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', NODE_SCRIPT], {
    cwd: app,
    env: { ...process.env, CONSUMER_DB: join(dir, 'node.db') },
  });
  const r = JSON.parse(stdout);
  assert.equal(fileURLToPath(r.entry), join(app, 'node_modules/hiroba/js-glue/node.js'), 'the "node" condition');
  assert.equal(r.unsupported, null);
  assert.equal(r.posted, 'hello from node');
  assert.deepEqual(r.found, ['hello from node']);
  assert.deepEqual(r.sync, ['acceptInvite', 'createInvite', 'joinRelay', 'joinRoom']);
  assert.deepEqual(r.relay, ['function', 'function']);
});

test('the entries type-check in the app (TypeScript, moduleResolution "bundler")', async () => {
  await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'es2022', module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'],
      strict: true, noEmit: true, skipLibCheck: false, types: [],
    },
    include: ['src/check.ts'],
  }));
  await writeFile(join(app, 'src/check.ts'), `import { openFeed, unsupported, HirobaError } from 'hiroba';
import { joinRoom, joinRelay } from 'hiroba/sync';

export async function main(): Promise<void> {
  if (unsupported()) return;
  const feed = await openFeed({ name: 'consumer' });
  await feed.post('typed');
  void [joinRoom, joinRelay, HirobaError];
}
`);
  try {
    await run(process.execPath, [BIN('typescript', 'bin/tsc'), '-p', app], { cwd: app });
  } catch (err) {
    assert.fail(`tsc: ${err.stdout}${err.stderr}`);
  }
});
