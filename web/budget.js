// budget.js -- how much work a client may make the dev server do: token
// buckets, alone or one per key (an IP address, a pubkey), and the key
// that names a client's address. Used by signal.js and turn.js.
//
//   const perIp = new KeyedBuckets({ perSecond: 0.5, burst: 30 });
//   const wait = perIp.take(clientKey(req));  // 0: go on; else seconds to wait
//
// A bucket holds up to `burst` tokens and refills at `perSecond`; each
// unit of work takes one. So over any T seconds a key gets at most
// burst + perSecond * T units: the bound the README states for each use.

const FULL_SWEEP_EVERY = 1024; // inserts between sweeps of full buckets

// One bucket. `now` is a ms clock (tests pass their own).
export class Bucket {
  constructor({ perSecond, burst, now = () => Date.now() }) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new TypeError('Bucket: perSecond must be > 0 and burst >= 1');
    this.perSecond = perSecond;
    this.burst = burst;
    this.now = now;
    this.tokens = burst;
    this.at = now();
  }

  refill() {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.at) / 1000) * this.perSecond);
    this.at = t;
    return this.tokens;
  }

  // Takes n tokens and returns 0, or takes nothing and returns the seconds
  // until n tokens will be there (Infinity when n exceeds the burst: never).
  take(n = 1) {
    const tokens = this.refill();
    if (tokens >= n) {
      this.tokens = tokens - n;
      return 0;
    }
    if (n > this.burst) return Infinity;
    return (n - tokens) / this.perSecond;
  }
}

// A bucket per key, created full on first use. A bucket that has refilled
// completely holds no information (a new one would be the same), so full
// buckets are swept now and then; the table never grows past maxKeys --
// beyond it new keys are refused (as if their bucket were empty) until
// sweeps make room, so a flood of fresh keys costs memory only up to there.
export class KeyedBuckets {
  constructor({ perSecond, burst, maxKeys = 100_000, now = () => Date.now() }) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new TypeError('KeyedBuckets: perSecond must be > 0 and burst >= 1');
    this.perSecond = perSecond;
    this.burst = burst;
    this.maxKeys = maxKeys;
    this.now = now;
    this.buckets = new Map(); // key -> Bucket
    this.inserts = 0;
  }

  // As Bucket#take, for the bucket of `key`.
  take(key, n = 1) {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (++this.inserts % FULL_SWEEP_EVERY === 0 || this.buckets.size >= this.maxKeys) this.sweep();
      if (this.buckets.size >= this.maxKeys) return 1;
      bucket = new Bucket({ perSecond: this.perSecond, burst: this.burst, now: this.now });
      this.buckets.set(key, bucket);
    }
    return bucket.take(n);
  }

  sweep() {
    for (const [key, bucket] of this.buckets) {
      if (bucket.refill() >= this.burst) this.buckets.delete(key);
    }
  }

  get size() { return this.buckets.size; }
}

// The key of a client's address: IPv4 as is (also when IPv4-mapped), IPv6
// by its /64 -- one host is routinely given a whole /64, so a per-address
// limit on IPv6 would limit nothing.
export function addressKey(address) {
  if (typeof address !== 'string' || address === '') return 'unknown';
  let a = address.trim().toLowerCase();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1];
  if (!a.includes(':')) return a;
  // Expand "::" to the missing zero groups, then keep the first four.
  const [head, tail] = a.includes('::') ? a.split('::', 2) : [a, null];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  if (right.length && right.at(-1).includes('.')) right.splice(-1, 1, '0', '0'); // embedded IPv4: low 32 bits
  const groups = tail === null ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => (g || '0').replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

// The address a request came from: the socket's peer, or -- only when the
// server sits behind a reverse proxy it trusts to set it (trustProxy) --
// the last X-Forwarded-For entry, the one that proxy appended. (Earlier
// entries are whatever the client claimed.)
export function clientAddress(req, { trustProxy = false } = {}) {
  if (trustProxy) {
    const header = req.headers?.['x-forwarded-for'];
    const value = Array.isArray(header) ? header.at(-1) : header;
    if (typeof value === 'string') {
      const last = value.split(',').at(-1).trim();
      if (last) return last;
    }
  }
  return req.socket?.remoteAddress ?? '';
}

// clientAddress as a budget key.
export const clientKey = (req, options) => addressKey(clientAddress(req, options));
