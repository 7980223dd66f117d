// peer-guard.js -- what one peer may make this tab spend, and what happens
// when it tries for more (README "Budgets"). The sync driver (sync.js)
// keeps one PeerGuard per connection and asks it before doing work.
//
// Budgets:
//   inbox      frames waiting to be merged: at most INBOX_FRAMES frames
//              and INBOX_BYTES bytes. A WebRTC channel cannot be told to
//              stop sending, so a peer past it is dropped. An honest
//              Hiroba peer stays far below: what it sends unasked is its
//              own posts and answers to at most FETCH_IN_FLIGHT of our
//              REQs of 1 MiB each.
//   live REQs  at most LIVE_SUBS subscriptions and LIVE_FILTER_BYTES of
//              filter JSON held per peer; past it a REQ gets CLOSED.
//   engine     each engine call's answers stop at MERGE_BUDGET bytes (the
//              rest of the batch waits for the next call), and nothing new
//              is merged while SEND_HIGH bytes of answers wait to go out:
//              a peer that does not read its answers stops being served.
//   CPU        engine time spent on one peer's frames is a token bucket of
//              CPU_BURST_MS, refilled at CPU_MS_PER_SECOND: past it the
//              peer waits (served at that rate), never the others.
//   strikes    each refused frame or event that is malformed or forged
//              ("invalid: ...") is a strike; strikes decay by
//              STRIKE_DECAY_PER_SECOND. Past MAX_STRIKES the peer is
//              dropped and its pubkey kept away for BAN_MS.

export const LIMITS = Object.freeze({
  INBOX_FRAMES: 4096,
  INBOX_BYTES: 8 * 1024 * 1024,
  LIVE_SUBS: 32,
  LIVE_FILTER_BYTES: 256 * 1024,
  MERGE_BUDGET: 1024 * 1024,
  SEND_HIGH: 2 * 1024 * 1024,
  CPU_BURST_MS: 2000,
  CPU_MS_PER_SECOND: 500,
  MAX_STRIKES: 64,
  STRIKE_DECAY_PER_SECOND: 1,
  BAN_MS: 10 * 60 * 1000,
  FETCH_IN_FLIGHT: 2,
});

const now = () => (globalThis.performance ?? Date).now();

export class PeerGuard {
  constructor(limits = LIMITS) {
    this.limits = limits;
    this.inboxFrames = 0;
    this.inboxBytes = 0;
    this.strikes = 0;
    this.strikesAt = now();
    this.cpu = limits.CPU_BURST_MS;  // ms of engine time the peer may use now
    this.cpuAt = now();
    this.invalid = 0;                // refused as invalid, in all
    this.cpuMs = 0;                  // engine time spent on this peer, in all
  }

  // A frame arrived: null when it may wait in the inbox, else why the peer
  // must be dropped.
  admit(bytes) {
    const { INBOX_FRAMES, INBOX_BYTES } = this.limits;
    if (this.inboxFrames + 1 > INBOX_FRAMES || this.inboxBytes + bytes > INBOX_BYTES) {
      return `flooding: over ${INBOX_FRAMES} frames or ${INBOX_BYTES} bytes waiting`;
    }
    this.inboxFrames++;
    this.inboxBytes += bytes;
    return null;
  }

  // Frames left the inbox (merged, or dropped with the peer).
  taken(frames, bytes) {
    this.inboxFrames -= frames;
    this.inboxBytes -= bytes;
  }

  // Records n refused-as-invalid items; true when the peer must go.
  strike(n = 1) {
    const t = now();
    this.strikes = Math.max(0, this.strikes - ((t - this.strikesAt) / 1000) * this.limits.STRIKE_DECAY_PER_SECOND) + n;
    this.strikesAt = t;
    this.invalid += n;
    return this.strikes > this.limits.MAX_STRIKES;
  }

  // Engine time spent on the peer's frames.
  spent(ms) {
    this.refill();
    this.cpu -= ms;
    this.cpuMs += ms;
  }

  refill() {
    const t = now();
    const { CPU_BURST_MS, CPU_MS_PER_SECOND } = this.limits;
    this.cpu = Math.min(CPU_BURST_MS, this.cpu + ((t - this.cpuAt) / 1000) * CPU_MS_PER_SECOND);
    this.cpuAt = t;
  }

  // Milliseconds to wait before the peer may use the engine again (0: now).
  cpuWait() {
    this.refill();
    return this.cpu >= 0 ? 0 : Math.ceil((-this.cpu / this.limits.CPU_MS_PER_SECOND) * 1000);
  }
}

// The live-filter matcher lives with the feed's (filter.js).
export { matchFilter } from './filter.js';
