// datachannel.bench.js -- sync goodput between two
// profiles of one browser over a real RTCDataChannel, against the raw
// throughput of a DataChannel between the same two browsers in the same
// run: two Chromium profiles, then two Firefox ESR profiles (a row each,
// lib/browser.js's benchBrowser).
//
//   A holds the events of a few corpus authors (bench/lib/events.js),
//   merged in before the clock starts. B follows those authors, then
//   joins the room (the dev server's signaling, web/server.js) and syncs:
//   Negentropy over its follows, REQ by ids, every event verified and
//   stored by B's engine. Goodput = the events' JSON bytes / time from
//   B's joinRoom() call to B having stored the last of them.
//
//   Raw: a plain RTCPeerConnection pair between the same two pages (SDP
//   through this process, no trickle), one ordered DataChannel, A sending
//   the same number of bytes as 16 KiB messages under the same
//   back-pressure as js-glue/framing.js (bufferedAmount kept under 64 KiB,
//   low threshold 16 KiB), until B acknowledges the last byte.
//
// Where the time goes is measured after the sync, in the same pages: the
// pure engine costs of both ends (B merging the same events in the
// driver's batches of 256 frames into a fresh database; A answering the
// same REQs by ids of 500) and the phases of the sync itself (signaling +
// connection, reconciliation, fetch).

import { startServer } from '../web/server.js';
import { corpusLines } from './lib/events.js';
import { assertNoPageErrors, benchBrowser, benchSession, inBrowser, median, ms, requireBrowserBuild } from './lib/browser.js';
import { report } from './report.js';

const N_AUTHORS = 6;        // corpus authors A holds (about 1,000 events each)
const RAW_ROUNDS = 3;

requireBrowserBuild();
const browser = benchBrowser();
const all = corpusLines();
const pubkeys = all.map((l) => JSON.parse(l).pubkey);
const authors = [...new Set(pubkeys)].slice(0, N_AUTHORS);
const lines = all.filter((l, i) => authors.includes(pubkeys[i]));
const N = lines.length;
const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
const MBps = (b, t) => b / 1e6 / (t / 1000);

const session = benchSession({ limitMs: 170_000 });
try {
  const server = await startServer({ port: 0, turnEnv: {} });
  session.add(() => server.close());

  // A page of the dev server's origin without the demo app (which would
  // open a feed and join a room of its own): its plain 404 page. (A page
  // made up by Playwright's route.fulfill() is refused the WebSocket by
  // Chromium's local network access checks.)
  // A holds other people's events, as a peer that stores everything
  // (policy store 'all'); B keeps what it follows (the default).
  const openUser = async (name, policy) => {
    const profile = await session.profile(browser);
    const page = await profile.newPage();
    page.benchErrors = [];
    page.raw.on('pageerror', (err) => page.benchErrors.push(`pageerror: ${err.message}`));
    page.raw.on('console', (msg) => {
      // The 404 of the page itself (and its favicon) is expected.
      if (msg.type() === 'error' && !/status of 404/.test(msg.text())) page.benchErrors.push(`console: ${msg.text()}`);
    });
    await page.goto(`${server.url}bench-blank`);
    await page.evaluate(async ({ name, policy }) => {
      // The feed ('hiroba') and rooms ('hiroba/sync') are two entries.
      window.hiroba = { ...await import('/hiroba/js-glue/index.js'), ...await import('/hiroba/js-glue/network.js') };
      window.feed = await window.hiroba.openFeed({ name, policy });
      window.pubkey = (await window.feed.identity()).pubkey;
    }, { name, policy });
    return page;
  };
  const a = await openUser('bench-a', { store: 'all' });
  const b = await openUser('bench-b');

  // A: the events, merged before anything is timed.
  const stored = await a.evaluate(async (lines) => {
    let n = 0;
    for (let i = 0; i < lines.length; i += 1000) {
      const batch = `[${lines.slice(i, i + 1000).map((l) => `["EVENT",${l}]`).join(',')}]`;
      n += (await window.feed.merge(batch)).accepted.length;
    }
    return n;
  }, lines);
  if (stored !== N) throw new Error(`A stored ${stored} of ${N} events`);

  // B follows the authors (before joining: sync covers what it follows).
  await b.evaluate(async (authors) => {
    for (const pk of authors) await window.feed.follow(pk);
  }, authors);

  const join = (page) => page.evaluate(async () => {
    const signalUrl = `${location.origin.replace(/^http/, 'ws')}/signal`;
    window.errors = [];
    window.room = await window.hiroba.joinRoom(window.feed, { signalUrl, room: 'bench', poolSize: 4 });
    window.room.on('error', (e) => window.errors.push(String(e?.message ?? e)));
  });
  await join(a);

  // B: count what arrives, then join; the clock runs from joinRoom().
  const sync = await b.evaluate(async ({ authors, n }) => {
    const want = new Set(authors);
    const t = {};
    let got = 0;
    const now = () => performance.now();
    const allIn = new Promise((resolve) => {
      window.feed.on('event', (e) => {
        if (!want.has(e.pubkey)) return;
        if (got === 0) t.first = now();
        if (++got === n) { t.all = now(); resolve(); }
      });
    });
    // Time the sync driver spent waiting on the engine (mergeBatch calls:
    // the worker round trip, verification and storage), summed over the
    // sync, and how many calls it made.
    let mergeMs = 0;
    let batches = 0;
    const merge = window.feed.mergeBatch.bind(window.feed);
    window.feed.mergeBatch = async (...args) => {
      const t0 = now();
      batches++;
      try { return await merge(...args); } finally { mergeMs += now() - t0; }
    };
    t.start = now();
    const signalUrl = `${location.origin.replace(/^http/, 'ws')}/signal`;
    window.errors = [];
    const room = await window.hiroba.joinRoom(window.feed, { signalUrl, room: 'bench', poolSize: 4 });
    window.room = room;
    t.joined = now();
    room.on('error', (e) => window.errors.push(String(e?.message ?? e)));
    room.on('peer', (p) => { if (p.state === 'open' && !t.open) t.open = now(); });
    room.on('sync', (s) => {
      if (s.need && !t.need) t.need = now();
      if (s.done && !t.done) t.done = now();
    });
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`sync: ${got} of ${n} events after 120 s`)), 120_000);
    });
    await Promise.race([allIn, timeout]);
    clearTimeout(timer);
    window.feed.mergeBatch = merge;
    return { t, batches, mergeMs, stats: room.stats(), errors: window.errors };
  }, { authors, n: N });
  const syncMs = sync.t.all - sync.t.start;
  const goodput = MBps(bytes, syncMs);

  // Raw DataChannel between the same two browsers.
  await a.evaluate(() => {
    window.rawPc = new RTCPeerConnection({ iceServers: [] });
    window.rawDc = window.rawPc.createDataChannel('raw', { ordered: true });
    window.rawDc.binaryType = 'arraybuffer';
  });
  const offer = await a.evaluate(async () => {
    const pc = window.rawPc;
    await pc.setLocalDescription(await pc.createOffer());
    if (pc.iceGatheringState !== 'complete') {
      await new Promise((r) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r()));
    }
    return pc.localDescription.toJSON();
  });
  const answer = await b.evaluate(async (offer) => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    window.rawPc = pc;
    window.rawDcReady = new Promise((resolve) => {
      pc.ondatachannel = ({ channel }) => {
        channel.binaryType = 'arraybuffer';
        window.rawDc = channel;
        if (channel.readyState === 'open') resolve(); else channel.onopen = () => resolve();
      };
    });
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    if (pc.iceGatheringState !== 'complete') {
      await new Promise((r) => pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r()));
    }
    return pc.localDescription.toJSON();
  }, offer);
  await a.evaluate(async (answer) => {
    await window.rawPc.setRemoteDescription(answer);
    if (window.rawDc.readyState !== 'open') await new Promise((r) => { window.rawDc.onopen = r; });
  }, answer);
  await b.evaluate(() => window.rawDcReady);

  const raw = [];
  for (let r = 0; r < RAW_ROUNDS; r++) {
    // B acknowledges once every byte of this round is in.
    await b.evaluate((total) => {
      let got = 0;
      window.rawDc.onmessage = ({ data }) => {
        got += data.byteLength;
        if (got >= total) window.rawDc.send('done');
      };
    }, bytes);
    raw.push(await a.evaluate(async (total) => {
      const dc = window.rawDc;
      const CHUNK = 16 * 1024;
      const HIGH = 64 * 1024;
      dc.bufferedAmountLowThreshold = 16 * 1024;
      const chunk = new Uint8Array(CHUNK);
      const acked = new Promise((resolve) => { dc.onmessage = () => resolve(); });
      // bufferedamountlow, with a poll as a net (it can be missed).
      const drained = () => new Promise((resolve) => {
        const done = () => { clearInterval(poll); dc.removeEventListener('bufferedamountlow', done); resolve(); };
        const poll = setInterval(() => { if (dc.bufferedAmount <= dc.bufferedAmountLowThreshold) done(); }, 5);
        dc.addEventListener('bufferedamountlow', done);
      });
      const t0 = performance.now();
      for (let sent = 0; sent < total;) {
        if (dc.bufferedAmount > HIGH) await drained();
        const n = Math.min(CHUNK, total - sent);
        dc.send(n === CHUNK ? chunk : chunk.subarray(0, n));
        sent += n;
      }
      await acked;
      return performance.now() - t0;
    }, bytes));
  }
  await a.evaluate(() => window.rawPc.close());
  await b.evaluate(() => window.rawPc.close());
  const rawMs = median(raw);
  const rawRate = MBps(bytes, rawMs);

  // Where the time goes: each end's engine work for the same events, alone.
  await b.evaluate(() => window.room.leave());
  await a.evaluate(() => window.room.leave());
  const bMerge = await b.evaluate(async (lines) => {
    // All of them, as the sync stored (B's follows are in another database).
    const feed = await window.hiroba.openFeed({ name: 'bench-b-merge', policy: { store: 'all' } });
    const frames = lines.map((l) => `["EVENT","x",${l}]`);
    const t0 = performance.now();
    let n = 0;
    for (let i = 0; i < frames.length; i += 256) n += (await feed.merge(`[${frames.slice(i, i + 256).join(',')}]`)).accepted.length;
    const t = performance.now() - t0;
    await feed.close();
    return { t, n };
  }, lines);
  const aServe = await a.evaluate(async (ids) => {
    const t0 = performance.now();
    let n = 0;
    for (let i = 0; i < ids.length; i += 500) {
      const sub = `bench${i}`;
      const r = await window.feed.merge(['REQ', sub, { ids: ids.slice(i, i + 500) }]);
      n += r.replies.filter((f) => f[0] === 'EVENT').length;
      await window.feed.merge(['CLOSE', sub]);
    }
    return { t: performance.now() - t0, n };
  }, lines.map((l) => JSON.parse(l).id));
  if (bMerge.n !== N || aServe.n !== N) throw new Error(`diagnostics: B merged ${bMerge.n}, A served ${aServe.n} of ${N}`);
  const roomErrors = [...sync.errors, ...await a.evaluate(() => window.errors)];
  if (roomErrors.length) throw new Error(`room errors: ${roomErrors.join('; ')}`);
  assertNoPageErrors(a, b);

  const t = sync.t;
  // "+x ms" from one stamp to the next (a phase whose event was missed: ?).
  const step = (from, to) => (t[from] === undefined || t[to] === undefined ? '?' : `+${ms(t[to] - t[from])}`);
  report(inBrowser(browser, {
    id: 'datachannel-sync',
    what: `sync goodput, A -> B over an RTCDataChannel: ${N.toLocaleString('en')} events of ${N_AUTHORS} authors (${(bytes / 1e6).toFixed(2)} MB JSON), joinRoom() to all stored`,
    value: goodput, unit: 'MB/s',
    anchor: 'raw RTCDataChannel, same browsers, same bytes, 16 KiB messages', anchorValue: rawRate,
    better: 'higher',
    note: `sync ${ms(syncMs)}: joined signaling ${step('start', 'joined')}, connection open ${step('joined', 'open')}, reconciled (first need) ${step('open', 'need')}, first event ${step('need', 'first')}, last event ${step('first', 'all')}`
      + `; on the wire ${(sync.stats.bytesReceived / 1e6).toFixed(2)} MB received by B; B's sync driver made ${sync.batches} feed.mergeBatch() calls (${(N / Math.max(1, sync.batches)).toFixed(0)} events each on average) and waited on them ${ms(sync.mergeMs)} in all`
      + `; engine alone: B merging the same events in batches of 256 ${ms(bMerge.t)} (${(bMerge.t / N * 1000).toFixed(0)} us/event, mostly signature checks), A answering REQs of 500 ids ${ms(aServe.t)}`
      + `; raw ${ms(rawMs)} (median of ${RAW_ROUNDS}, window 64 KiB as framing.js)`,
  }));
} finally {
  await session.close();
}
