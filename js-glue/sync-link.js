// sync-link.js -- the sync of one connection, over any transport that
// carries whole frames: a WebRTC peer (sync.js, joinRoom) or a relay's
// WebSocket (relay-client.js, joinRelay). One SyncLink per connection:
//
//   1. open a live REQ for the authors we follow plus ourselves, so that
//      new events arrive as they are posted, from before step 2 on;
//   2. reconcile with Negentropy (NIP-77) over the authors we follow plus
//      ourselves, and fetch what we lack with REQ by ids, in batches; a
//      relay without NIP-77 is asked by authors instead (REQ with `since`
//      the last completed sync, paged with `until`, so a relay that caps
//      `limit` still yields everything);
//   3. answer the other side's REQs, NEG-OPENs and pushes through
//      feed.mergeBatch() (a peer asks; a relay only answers), and send new
//      events to its live subscriptions;
//   4. push our own new events (to a relay through the outbox, below), and
//      to a relay also the events of authors we follow that it lacks or
//      that reached us elsewhere, so a reader who only uses relays gets
//      them while their author is offline.
//
// Frames from the connection are merged in order; when several are
// waiting they go to the engine as one batch of up to MERGE_BATCH_BYTES
// (one result per frame; the engine verifies its events on its verifier
// workers while it stores, verify-pool.js). The connection is its own engine connection (a
// random number): its NIP-77 sessions are its own, and closing it frees
// them. The ids we choose (reconciliation, fetches, live REQ) are random.
//
// What the other side may make us spend is bounded (peer-guard.js), for a
// relay as for a peer: frames waiting, live subscriptions, engine time,
// answers waiting to be sent; one that keeps sending invalid data is
// dropped (onDrop). Every event still goes through merge's checks.
//
// Fetching is recovered: an id we lack stays wanted until an answer for
// it was merged (stored, or refused for a reason). Ids a fetch did not
// bring -- a storage error, an answer cut at its byte budget -- are asked
// again after a back-off, and the link counts as synced ("done") only
// when nothing is wanted. An id advertised but never delivered is given up
// after GIVE_UP_ROUNDS answers without it.
//
// The outbox (relays only). Our own events go to a relay until it answers
// OK true (or "duplicate:"); a transient refusal ("rate-limited:",
// "error:", "auth-required:", or no answer) is retried after a back-off
// and after every reconnect; a permanent one ("invalid:", "blocked:", ...)
// is reported once and not retried. What is still owed survives a reload:
// the relay's record in the feed's state store (feed.setState) keeps the
// oldest created_at not yet acknowledged, and each connect pushes our
// events from there on.

import { PeerGuard, matchFilter } from './peer-guard.js';

const FETCH_BATCH = 500;   // ids per REQ when fetching what we lack
// Frames per engine call, by bytes: a batch of many small frames (NEG-MSG,
// EOSE, short notes) is as cheap to hand over as one of a few large ones,
// and the engine verifies a batch's events in parallel (verify-pool.js),
// so a call holds about MERGE_BATCH_BYTES; MERGE_BATCH_FRAMES bounds the
// results a call builds.
const MERGE_BATCH_BYTES = 512 * 1024;
const MERGE_BATCH_FRAMES = 2048;
const RETRY_MS = 2000;     // first back-off before asking again for what is missing
const RETRY_MAX_MS = 60_000;
const GIVE_UP_ROUNDS = 3;
// A reconciliation may teach at most MAX_WANTED ids at a time (what is
// left over is learned by reconciling again once they are fetched, at most
// MAX_RESYNCS times per connection), and take at most MAX_NEG_ROUNDS
// rounds: a peer that claims endless ids, or never converges, cannot grow
// our memory without bound.
const MAX_WANTED = 50_000;
const MAX_RESYNCS = 20;
const MAX_NEG_ROUNDS = 500;
// A Negentropy session holds at most NEG_ITEMS items on either side (the
// engine's NEG_MAX_ITEMS, src/merge.h): past that the side that holds more
// refuses the session ("blocked: too many events to reconcile"). The
// driver then reconciles in created_at windows instead: a window that
// holds more of ours than that (feed.count), or that either side refuses
// as too many, is halved -- the newer half first -- until each fits. At
// most MAX_WINDOW_SPLITS halvings per reconciliation, and never below one
// second: a peer that claims "too many" forever costs a bounded number of
// rounds. limits.NEG_ITEMS may lower it (tests).
const NEG_ITEMS = 500_000;
const MAX_WINDOW_SPLITS = 64;
const TOO_MANY = /too many events to reconcile/;
// The newest created_at a valid event can have (src/event.c: 15 minutes
// ahead), and a margin for clocks: where the open-ended window is cut.
const FUTURE_S = 3600;
// A relay that has not answered NEG-OPEN in this long is taken to lack
// NIP-77 (a NOTICE or a NEG-ERR says so sooner).
const NEG_ANSWER_MS = 5000;
// REQ fallback: events per page, and the pages of one pass.
const PAGE_LIMIT = 500;
const MAX_PAGES = 2000;
// The relay's record: `since` for the next REQ pass starts this much
// before the last pass began (clocks differ; events arrive late).
const SINCE_MARGIN_S = 600;
const OUTBOX_IN_FLIGHT = 64;
const OUTBOX_RETRY_MS = 5000;
const OUTBOX_GIVEN_UP_MAX = 1000; // ids remembered as refused for good
const FROM_HERE_MAX = 10_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const clock = () => (globalThis.performance ?? Date).now();
const nowSec = () => Math.floor(Date.now() / 1000);

// A random subscription id: what we open cannot be guessed by the other side.
export function randomSub(kind) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return kind + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// A random engine connection number (1 .. 2^31-1): tabs sharing one
// database never pick the same.
function randomConn() {
  return (crypto.getRandomValues(new Uint32Array(1))[0] >>> 1) || 1;
}

function parse(text) {
  try { return JSON.parse(text); } catch { return null; }
}

// The id of an event in ["EVENT", sub, {..."id":"..."...}] (a hint only:
// a wrong one costs a forward, nothing else).
const EVENT_ID = /^\s*\[\s*"EVENT"\s*,\s*"[^"]*"\s*,\s*\{.*?"id"\s*:\s*"([0-9a-f]{64})"/;

// The relay-to-client frames relayFrame() looks at.
const RELAY_FRAME = /^\s*\[\s*"(AUTH|OK|NOTICE|CLOSED|NEG-ERR)"/;

// Reasons after which an event is offered again (NIP-01 prefixes).
const TRANSIENT = /^(rate-limited|error|auth-required):/;

export class SyncLink {
  // feed: the Feed. transport: { send(text) -> Promise, queued() -> bytes
  // waiting to go out, isOpen() }. kind: 'peer' | 'relay'. self: our
  // pubkey. follows(): the Set of authors we follow. limits: peer-guard's.
  // hooks: { progress(info), error(err), drop(why), auth(challenge) }.
  // relay (kind 'relay'): { url, nip77: true | false | null (unknown) }.
  constructor({ feed, transport, kind = 'peer', self, follows, limits, hooks = {}, relay = null }) {
    this.feed = feed;
    this.transport = transport;
    this.kind = kind;
    this.self = self;
    this.follows = follows;
    this.limits = limits;
    this.hooks = hooks;
    this.relay = relay;
    this.conn = randomConn();
    this.guard = new PeerGuard(limits);
    this.inbox = [];          // frame texts waiting to be merged
    this.merging = false;
    this.dropped = false;
    this.closed = false;
    this.live = new Map();    // their subscription id -> { filters, bytes }
    this.liveBytes = 0;
    this.negSub = null;       // our reconciliation's subscription id
    this.negTimer = null;
    this.mode = kind === 'relay' && relay?.nip77 === false ? 'req' : 'nip77';
    this.wanted = new Map();  // id we lack -> answers that did not bring it
    this.toFetch = [];        // wanted ids not asked for yet
    this.fetching = new Map(); // our fetch subscription id -> { ids, brought }
    this.storageFailed = new Set(); // ids whose answer we failed to store
    this.retryTimer = null;
    this.retryMs = RETRY_MS;
    this.liveSub = null;
    this.paging = null;       // REQ fallback: { sub, since, until, seen, count, oldest, pages, startedAt }
    this.have = 0;            // ids we hold that they lack (last reconciliation)
    this.need = 0;            // ids they hold that we lack
    this.received = 0;        // events accepted from them
    this.unavailable = 0;     // advertised ids they never delivered
    this.reconciled = false;
    this.done = false;        // reconciliation and fetches finished
    this.negRounds = 0;
    this.overflow = false;
    this.resyncs = 0;
    this.lastError = 0;
    // Outbox (relays): id -> { event, sentAt } in flight or waiting.
    this.outbox = new Map();
    this.outboxQueue = [];    // ids waiting to be sent
    this.outboxInFlight = 0;  // sent, not answered yet
    this.outboxTimer = null;
    this.flushed = false;     // every own event owed was queued (flushOutbox)
    this.pushed = 0;          // own events the relay accepted this connection
    this.refused = 0;         // own events it refused for good
    this.record = null;       // the relay's persistent record (feed state)
    this.fromHere = new Set(); // ids accepted from this relay (not sent back)
  }

  get label() {
    return this.kind === 'relay' ? this.relay.url : this.transport.label ?? 'peer';
  }

  send(frame) {
    if (this.closed || !this.transport.isOpen()) return Promise.resolve();
    return Promise.resolve()
      .then(() => this.transport.send(typeof frame === 'string' ? frame : JSON.stringify(frame)))
      .catch((err) => { if (!this.dropped && !this.closed && this.transport.isOpen()) this.hooks.error?.(err); });
  }

  progress() {
    this.hooks.progress?.({
      have: this.have, need: this.need, received: this.received, missing: this.wanted.size,
      done: this.done, mode: this.mode, outbox: this.outbox.size,
    });
  }

  authors() {
    return [this.self, ...this.follows()];
  }

  // --- reconciliation -----------------------------------------------------------
  async start() {
    if (this.closed) return;
    this.reconciled = false;
    this.done = false;
    this.negRounds = 0;
    clearTimeout(this.negTimer);
    if (this.kind === 'relay') {
      this.record = (await this.feed.getState(this.recordKey()).catch(() => null)) ?? {};
      this.flushOutbox();
    }
    this.openLive();
    if (this.mode === 'req') {
      this.startPaging();
    } else {
      // One window (all of time) unless it holds too much (openWindow).
      this.windows = [{ since: null, until: null }];
      this.windowSplits = 0;
      this.windowsDone = 0;
      await this.openWindow();
      // A relay that says nothing to NEG-OPEN lacks NIP-77.
      if (this.kind === 'relay' && this.relay.nip77 !== true) {
        this.negTimer = setTimeout(() => this.negUnsupported(), NEG_ANSWER_MS);
        this.negTimer.unref?.();
      }
    }
    this.progress();
  }

  // --- reconciliation windows (see NEG_ITEMS) -----------------------------------
  windowFilter({ since, until }) {
    const filter = { authors: this.authors() };
    if (since !== null) filter.since = since;
    if (until !== null) filter.until = until;
    return filter;
  }

  // Halves the first window in place, the newer half first: false when it
  // cannot be (one second, or MAX_WINDOW_SPLITS reached).
  splitWindow() {
    const w = this.windows[0];
    const lo = w.since ?? 0;
    const hi = w.until ?? nowSec() + FUTURE_S;
    if (hi <= lo || this.windowSplits >= MAX_WINDOW_SPLITS) return false;
    const mid = lo + Math.floor((hi - lo) / 2);
    this.windowSplits++;
    this.windows.splice(0, 1, { since: mid + 1, until: w.until }, { since: w.since, until: mid });
    return true;
  }

  // Opens the session of the first window that fits, halving those that
  // hold too much of ours; a window that cannot be reconciled is reported
  // and skipped. When none is left the reconciliation is over.
  async openWindow() {
    const limit = this.limits.NEG_ITEMS ?? NEG_ITEMS;
    while (this.windows.length && !this.closed) {
      const filter = this.windowFilter(this.windows[0]);
      let tooMany = false;
      try {
        // At the engine's own limit negOpen says "too many" itself; a
        // lower one (tests) is checked by counting.
        if (limit < NEG_ITEMS) tooMany = await this.feed.count(filter) > limit;
        if (!tooMany) {
          this.negSub = randomSub('n');
          this.negRounds = 0;
          const open = await this.feed.negOpen(this.negSub, filter, this.conn);
          await this.send(open);
          return;
        }
      } catch (err) {
        // Any other failure ends this attempt, as it always has: the
        // link is not reconciled (a resync tries again).
        if (!TOO_MANY.test(err?.message ?? '')) {
          this.hooks.error?.(err);
          return;
        }
      }
      if (!this.splitWindow()) {
        this.hooks.error?.(new Error(`hiroba: too many events to reconcile with ${this.label} in ${JSON.stringify(this.windowFilter(this.windows[0]))}: skipped`));
        this.windows.shift();
      }
    }
    this.negSub = null;
    this.reconciled = true;
    this.maybeDone();
  }

  // The window of the current session is reconciled: on to the next.
  windowDone() {
    this.windows.shift();
    this.windowsDone++;
    if (this.windows.length) this.openWindow();
    else this.reconciled = true;
  }

  // New events by the authors we follow come as they happen, from before
  // the reconciliation starts: what reaches the other side meanwhile is
  // sent live, what it held before is reconciled, nothing falls between.
  // `limit: 0` asks for no stored events, and no `since`: an old event
  // that reaches the other side later (from a peer of theirs, a relay's
  // other client) is new to us too. A REQ under the same id replaces the
  // last one (the authors change when we follow someone).
  openLive() {
    this.liveSub ??= randomSub('l');
    this.send(['REQ', this.liveSub, { authors: this.authors(), limit: 0 }]);
  }

  negUnsupported() {
    if (this.closed || this.mode !== 'nip77' || this.reconciled) return;
    clearTimeout(this.negTimer);
    this.relay.nip77 = false;
    this.mode = 'req';
    this.feed.connClose(this.conn).catch(() => {});
    this.startPaging();
  }

  // --- REQ fallback: by authors, since the last completed pass, paged ----------
  startPaging() {
    const since = Math.max(0, (this.record?.since ?? 0));
    // boundary: ids of the last page at its oldest second, the one the
    // next page (until = that second) returns again.
    this.paging = { since, until: null, boundary: new Set(), pages: 0, startedAt: nowSec() };
    this.nextPage();
  }

  nextPage() {
    const p = this.paging;
    p.sub = randomSub('p');
    p.count = 0;      // events on this page
    p.fresh = 0;      // ... not on the last one
    p.oldest = null;  // its oldest created_at
    p.atOldest = new Set();
    p.pages++;
    const filter = { authors: this.authors(), limit: PAGE_LIMIT };
    if (p.since) filter.since = p.since;
    if (p.until !== null) filter.until = p.until;
    this.send(['REQ', p.sub, filter]);
  }

  pageEvent(event) {
    const p = this.paging;
    p.count++;
    if (!p.boundary.has(event.id)) p.fresh++;
    if (p.oldest === null || event.created_at < p.oldest) { p.oldest = event.created_at; p.atOldest = new Set(); }
    if (event.created_at === p.oldest) p.atOldest.add(event.id);
  }

  async pageDone() {
    const p = this.paging;
    this.send(['CLOSE', p.sub]);
    // An empty page ends the pass. A page of only events seen already (many
    // share one timestamp past the relay's limit) steps below it.
    let more = p.count > 0 && p.pages < MAX_PAGES && p.oldest !== null && p.oldest >= p.since;
    if (more) p.until = p.fresh ? p.oldest : p.oldest - 1;
    if (more && p.until < p.since) more = false;
    if (more) { p.boundary = p.atOldest; this.nextPage(); return; }
    this.paging = null;
    this.reconciled = true;
    this.record = { ...this.record, since: Math.max(0, p.startedAt - SINCE_MARGIN_S) };
    await this.saveRecord();
    this.maybeDone();
  }

  // --- fetching by ids --------------------------------------------------------------
  // Asks for queued ids, at most FETCH_IN_FLIGHT REQs at a time, so the
  // answers we invite stay within the inbox budget on our side.
  pumpFetch() {
    while (this.fetching.size < this.limits.FETCH_IN_FLIGHT && this.toFetch.length) {
      const ids = this.toFetch.splice(0, FETCH_BATCH).filter((id) => this.wanted.has(id));
      if (!ids.length) continue;
      const sub = randomSub('f');
      this.fetching.set(sub, { ids: new Set(ids), brought: 0 });
      this.send(['REQ', sub, { ids }]);
    }
  }

  want(ids) {
    for (const id of ids) {
      if (this.wanted.has(id)) continue;
      if (this.wanted.size >= MAX_WANTED) { this.overflow = true; break; }
      this.wanted.set(id, 0);
      this.toFetch.push(id);
    }
    this.pumpFetch();
  }

  // A fetch ended (EOSE): what it did not bring is asked again later.
  fetchDone(sub) {
    const { ids, brought } = this.fetching.get(sub);
    this.fetching.delete(sub);
    this.send(['CLOSE', sub]);
    const again = [];
    for (const id of ids) {
      if (!this.wanted.has(id)) continue;
      if (this.storageFailed.delete(id)) continue; // ours to retry, not their fault
      // An answer that brought some of its ids was cut at its byte budget:
      // the rest is asked again at once, no fault of theirs.
      if (brought) { again.push(id); continue; }
      const misses = this.wanted.get(id) + 1;
      if (misses >= GIVE_UP_ROUNDS) {
        this.wanted.delete(id);
        this.unavailable++;
      } else {
        this.wanted.set(id, misses);
      }
    }
    this.toFetch.unshift(...again);
    this.pumpFetch();
    if (!this.fetching.size && !this.toFetch.length && this.wanted.size) this.scheduleRetry();
    this.maybeDone();
  }

  scheduleRetry() {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closed || !this.transport.isOpen()) return;
      this.toFetch = [...this.wanted.keys()];
      this.pumpFetch();
    }, this.retryMs);
    this.retryTimer.unref?.();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  maybeDone() {
    if (!this.reconciled || this.fetching.size || this.toFetch.length || this.wanted.size || this.done || this.paging) return;
    if (this.overflow && this.resyncs < MAX_RESYNCS) {
      this.overflow = false;
      this.resyncs++;
      this.start();
      return;
    }
    this.done = true;
    this.retryMs = RETRY_MS;
    if (this.kind === 'relay' && this.mode === 'nip77') {
      this.record = { ...this.record, since: Math.max(0, nowSec() - SINCE_MARGIN_S) };
      this.saveRecord();
    }
    this.progress();
  }

  // --- receiving --------------------------------------------------------------------
  receive(text) {
    if (this.dropped || this.closed) return;
    const why = this.guard.admit(text.length);
    if (why) { this.drop(why); return; }
    this.inbox.push(text);
    if (!this.merging) this.drain();
  }

  // Merges the inbox in batches. Waits while our answers are not being
  // read, or while the connection is over its CPU budget: others go on.
  async drain() {
    this.merging = true;
    try {
      while (this.inbox.length && !this.closed && !this.dropped) {
        while (this.transport.queued() > this.limits.SEND_HIGH && this.transport.isOpen()) await sleep(20);
        const wait = this.guard.cpuWait();
        if (wait) await sleep(wait);
        if (this.dropped || this.closed) break;
        // A relay's frames that only this file reads (AUTH, OK, NOTICE,
        // CLOSED) are handled in their turn: the frames before one are
        // merged first.
        const texts = [];
        let batchBytes = 0;
        while (this.inbox.length && texts.length < MERGE_BATCH_FRAMES
               && (!texts.length || batchBytes + this.inbox[0].length <= MERGE_BATCH_BYTES)) {
          const text = this.inbox[0];
          if (this.kind === 'relay' && RELAY_FRAME.test(text.slice(0, 16))) {
            if (texts.length) break;
            this.inbox.shift();
            if (this.relayFrame(text)) {
              this.guard.taken(1, text.length);
              continue;
            }
          } else {
            this.inbox.shift();
          }
          texts.push(text);
          batchBytes += text.length;
        }
        if (!texts.length) continue;
        // The feed announces what it stores before mergeBatch returns, so
        // what a relay sends is noted first: never sent back to it.
        if (this.kind === 'relay') {
          for (const t of texts) {
            const m = EVENT_ID.exec(t.slice(0, 256));
            if (m) this.noteFromHere(m[1]);
          }
        }
        const started = clock();
        let results;
        try {
          results = await this.feed.mergeBatch(this.conn, texts, this.limits.MERGE_BUDGET);
        } catch (err) {
          // The engine failed (storage full, I/O): nothing of the batch was
          // kept. Each frame alone, to keep what can be kept. Said at most
          // once a second: a full disk fails every frame.
          if (Date.now() - this.lastError > 1000) {
            this.lastError = Date.now();
            this.hooks.error?.(err);
          }
          results = [];
          for (const text of texts) {
            try {
              results.push((await this.feed.mergeBatch(this.conn, [text], this.limits.MERGE_BUDGET))[0]);
            } catch (failure) {
              results.push({ failed: failure });
            }
          }
        }
        this.guard.spent(clock() - started);
        if (this.dropped) break;
        const consumed = results.length;
        let bytes = 0;
        for (let i = 0; i < consumed; i++) bytes += texts[i].length;
        this.guard.taken(consumed, bytes);
        // What the engine left for later (its answer budget) goes back.
        if (consumed < texts.length) this.inbox.unshift(...texts.slice(consumed));
        for (let i = 0; i < consumed && !this.dropped && !this.closed; i++) await this.apply(texts[i], results[i]);
      }
    } catch (err) {
      this.hooks.error?.(err);
    } finally {
      this.merging = false;
    }
  }

  // Relay-to-client frames the engine has no use for: AUTH, OK (the
  // outbox), NOTICE and CLOSED (NIP-77 support, subscriptions refused).
  // -> true when handled here.
  relayFrame(text) {
    const frame = parse(text);
    if (!Array.isArray(frame)) return false;
    switch (frame[0]) {
      case 'AUTH':
        if (typeof frame[1] === 'string' && frame[1].length <= 256) this.hooks.auth?.(frame[1]);
        return true;
      case 'OK':
        if (typeof frame[1] === 'string') this.outboxAnswer(frame[1], frame[2] === true, typeof frame[3] === 'string' ? frame[3] : '');
        return true;
      case 'NOTICE':
        // Relays without NIP-77 answer NEG-OPEN with a NOTICE.
        if (this.mode === 'nip77' && !this.reconciled && this.negSub && /neg|unknown|unsupported|not supported/i.test(String(frame[1]))) {
          this.negUnsupported();
        }
        return true;
      case 'CLOSED':
        this.closedSub(frame[1], String(frame[2] ?? ''));
        return true;
      case 'NEG-ERR':
        if (frame[1] === this.negSub && !this.reconciled && /unsupported|not supported|unknown|disabled/i.test(String(frame[2]))) {
          this.negUnsupported();
          return true;
        }
        return false; // the engine ends the session
    }
    return false;
  }

  // A relay closed one of our subscriptions.
  closedSub(sub, why) {
    if (this.fetching.has(sub)) { this.fetchDone(sub); return; }
    if (this.paging?.sub === sub) {
      this.hooks.error?.(new Error(`hiroba: relay ${this.label} refused the REQ: ${why.slice(0, 200)}`));
      this.paging = null;
      this.reconciled = true;
      this.maybeDone();
    }
  }

  // What a merged frame means for the driver.
  async apply(text, result) {
    const frame = parse(text);
    const type = Array.isArray(frame) ? frame[0] : null;
    const sub = Array.isArray(frame) && typeof frame[1] === 'string' ? frame[1] : null;
    if (result.failed) {
      if (type === 'EVENT' && sub && this.fetching.has(sub) && typeof frame[2]?.id === 'string') {
        this.storageFailed.add(frame[2].id);
      }
      return;
    }
    const invalid = result.rejected.filter((r) => typeof r.reason === 'string' && r.reason.startsWith('invalid:')).length;
    if (invalid && this.guard.strike(invalid)) {
      this.drop(`${this.guard.invalid} invalid frames or events`);
      return;
    }
    this.received += result.accepted.length;
    if (type === 'NEG-MSG' && sub === this.negSub) {
      clearTimeout(this.negTimer);
      if (this.relay) this.relay.nip77 = true;
      if (!this.reconciled && ++this.negRounds > MAX_NEG_ROUNDS) {
        this.send(['NEG-CLOSE', sub]);
        this.drop(`reconciliation did not converge in ${MAX_NEG_ROUNDS} rounds`);
        return;
      }
    }
    let windowDone = false;
    for (const reply of result.replies) {
      if (reply[0] === 'NEG-CLOSE' && reply[1] === this.negSub && !this.reconciled) windowDone = true;
      // A relay is not a peer: it gets no NOTICE or OK from us.
      if (this.kind === 'relay' && (reply[0] === 'NOTICE' || reply[0] === 'OK')) continue;
      this.send(reply);
    }
    if (type === 'REQ' && sub) {
      this.unlive(sub);
      if (result.replies.some((r) => r[0] === 'EOSE' && r[1] === sub)) this.goLive(sub, frame.slice(2), text.length);
    } else if (type === 'CLOSE' && sub) {
      this.unlive(sub);
    } else if (type === 'NEG-ERR' && sub === this.negSub && !this.reconciled) {
      clearTimeout(this.negTimer);
      if (TOO_MANY.test(String(frame[2])) && this.splitWindow()) {
        // They hold too many in this window: halves of it, one at a time.
        this.openWindow();
      } else {
        // They will not reconcile with us: take what we learned.
        this.windows = [];
        this.reconciled = true;
        this.hooks.error?.(new Error(`hiroba: ${this.label} ended reconciliation: ${String(frame[2]).slice(0, 200)}`));
      }
    } else if (type === 'EVENT' && sub && typeof frame[2]?.id === 'string') {
      if (this.fetching.has(sub) && this.wanted.delete(frame[2].id)) {
        this.retryMs = RETRY_MS;
        this.fetching.get(sub).brought++;
      } else if (this.paging?.sub === sub) {
        this.pageEvent(frame[2]);
      }
    } else if (type === 'EOSE' && sub) {
      if (this.fetching.has(sub)) this.fetchDone(sub);
      else if (this.paging?.sub === sub) await this.pageDone();
    }
    if (windowDone) this.windowDone();
    if (result.have?.length) {
      this.have += result.have.length;
      if (this.kind === 'relay') this.offerHave(result.have);
    }
    if (result.need?.length) {
      this.need += result.need.length;
      this.want(result.need);
    }
    if (result.accepted.length || result.need?.length || this.reconciled) this.progress();
    this.maybeDone();
  }

  // A live subscription of theirs, kept within its caps (the engine has
  // checked the filters: it answered EOSE).
  goLive(sub, filters, bytes) {
    if (this.live.size >= this.limits.LIVE_SUBS || this.liveBytes + bytes > this.limits.LIVE_FILTER_BYTES) {
      this.send(['CLOSED', sub, `blocked: at most ${this.limits.LIVE_SUBS} live subscriptions and ${this.limits.LIVE_FILTER_BYTES} bytes of filters per peer`]);
      return;
    }
    this.live.set(sub, { filters, bytes });
    this.liveBytes += bytes;
  }

  unlive(sub) {
    const held = this.live.get(sub);
    if (!held) return;
    this.live.delete(sub);
    this.liveBytes -= held.bytes;
  }

  // A new event in the feed (ours or anyone's): to their matching live
  // subscription, and ours pushed (to a relay through the outbox).
  onEvent(event) {
    // Closed: a relay's record still says from when our events are owed,
    // and the next connection pushes them.
    if (this.closed || this.dropped || !this.transport.isOpen()) return;
    for (const [sub, { filters }] of this.live) {
      if (filters.some((f) => matchFilter(f, event))) {
        this.send(['EVENT', sub, event]);
        return;
      }
    }
    if (event.pubkey === this.self) {
      if (this.kind === 'relay') this.queueOwn(event);
      else this.send(['EVENT', event]);
    } else if (this.kind === 'relay' && this.follows().has(event.pubkey) && !this.fromHere.has(event.id)) {
      // A followed author's event that came from elsewhere (a peer,
      // another relay): the relay gets it too, so readers who only use
      // relays get it while its author and we are gone. Not kept in the
      // outbox: it is the author's to deliver; we only help.
      this.send(['EVENT', event]);
    }
  }

  // --- the outbox (relays) ----------------------------------------------------------
  recordKey() {
    return `relay:${this.relay.url}`;
  }

  // Writes the relay's record; once every own event owed has been queued,
  // with `pending`: the oldest created_at still owed (now, when none is).
  async saveRecord() {
    if (this.flushed) {
      let oldest = null;
      for (const { event } of this.outbox.values()) if (oldest === null || event.created_at < oldest) oldest = event.created_at;
      this.record = { ...this.record, pending: oldest ?? nowSec(), pushedAll: true };
    }
    try {
      await this.feed.setState(this.recordKey(), this.record);
    } catch (err) {
      this.hooks.error?.(err);
    }
  }

  queueOwn(event, pump = true) {
    if (this.outbox.has(event.id)) return;
    if (this.record?.refused?.includes(event.id)) return;
    this.outbox.set(event.id, { event, sentAt: 0 });
    this.outboxQueue.push(event.id);
    if (pump) this.pumpOutbox();
  }

  // Events the relay lacks (a reconciliation's "have", all by authors we
  // follow or ourselves): ours through the outbox, the others sent once.
  async offerHave(ids) {
    try {
      for (let i = 0; i < ids.length; i += FETCH_BATCH) {
        for (const event of await this.feed.query({ ids: ids.slice(i, i + FETCH_BATCH) })) {
          if (event.pubkey === this.self) this.queueOwn(event, false);
          else this.send(['EVENT', event]);
        }
      }
    } catch (err) {
      this.hooks.error?.(err);
    }
    this.pumpOutbox();
  }

  // Ids accepted from this relay (the newest FROM_HERE_MAX): never sent back.
  noteFromHere(id) {
    this.fromHere.add(id);
    if (this.fromHere.size > FROM_HERE_MAX) this.fromHere.delete(this.fromHere.values().next().value);
  }

  // At connect: everything of ours from the oldest unacknowledged on.
  // On first contact with a relay that is all of ours.
  async flushOutbox() {
    try {
      const filter = { authors: [this.self] };
      if (this.record?.pushedAll && Number.isSafeInteger(this.record.pending)) filter.since = this.record.pending;
      for (const event of await this.feed.query(filter)) this.queueOwn(event, false);
      this.flushed = true;
    } catch (err) {
      this.hooks.error?.(err);
    }
    this.pumpOutbox();
  }

  pumpOutbox() {
    if (this.closed || !this.transport.isOpen()) return;
    while (this.outboxInFlight < OUTBOX_IN_FLIGHT && this.outboxQueue.length) {
      const item = this.outbox.get(this.outboxQueue.shift());
      if (!item) continue;
      item.sentAt = Date.now();
      this.outboxInFlight++;
      this.send(['EVENT', item.event]);
    }
    this.scheduleSave();
    // Events sent but never answered go again after a while.
    if (!this.outboxTimer && this.outbox.size) {
      this.outboxTimer = setTimeout(() => {
        this.outboxTimer = null;
        const t = Date.now();
        for (const [id, item] of this.outbox) {
          if (item.sentAt && t - item.sentAt >= OUTBOX_RETRY_MS) {
            item.sentAt = 0;
            this.outboxInFlight--;
            this.outboxQueue.push(id);
          }
        }
        this.pumpOutbox();
      }, OUTBOX_RETRY_MS);
      this.outboxTimer.unref?.();
    }
  }

  outboxAnswer(id, ok, reason) {
    const item = this.outbox.get(id);
    if (!item?.sentAt) return;
    this.outboxInFlight--;
    if (ok || /^duplicate:/.test(reason)) {
      this.outbox.delete(id);
      this.pushed++;
    } else if (TRANSIENT.test(reason)) {
      // Still owed: counted in flight again, offered anew by the retry timer.
      item.sentAt = Date.now();
      this.outboxInFlight++;
    } else {
      this.outbox.delete(id);
      this.refused++;
      const refused = [...(this.record?.refused ?? []), id].slice(-OUTBOX_GIVEN_UP_MAX);
      this.record = { ...this.record, refused };
      this.hooks.error?.(Object.assign(new Error(`hiroba: relay ${this.label} refused our event ${id.slice(0, 8)}…: ${reason.slice(0, 200)}`),
        { code: 'relay-refused', id, reason }));
    }
    this.pumpOutbox();
    this.progress();
  }

  // The record is written a moment after the outbox last changed.
  scheduleSave() {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => { this.saveTimer = null; this.saveRecord(); }, 200);
    this.saveTimer.unref?.();
  }

  // --- ending -----------------------------------------------------------------------
  drop(why) {
    if (this.dropped) return;
    this.dropped = true;
    this.hooks.drop?.(why);
  }

  // The connection is gone: timers, inbox, engine sessions. The outbox's
  // record is written at once.
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.negTimer);
    clearTimeout(this.outboxTimer);
    if (this.saveTimer) { clearTimeout(this.saveTimer); this.saveRecord(); }
    this.guard.taken(this.guard.inboxFrames, this.guard.inboxBytes);
    this.inbox.length = 0;
    this.feed.connClose(this.conn).catch(() => {});
  }

  stats() {
    return {
      inboxFrames: this.guard.inboxFrames, inboxBytes: this.guard.inboxBytes,
      liveSubs: this.live.size, invalid: this.guard.invalid, cpuMs: Math.round(this.guard.cpuMs),
      missing: this.wanted.size, unavailable: this.unavailable, done: this.done,
      received: this.received, mode: this.mode,
      ...(this.kind === 'relay' ? { outbox: this.outbox.size, pushed: this.pushed, refused: this.refused } : {}),
    };
  }
}
