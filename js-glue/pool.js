// pool.js -- the bounded pool of peer connections (DESIGN §3, §5
// poolSize): reuse an open connection, evict the least recently used one
// beyond capacity -- authors we follow are kept longest -- close idle ones,
// and never lose a frame to a connection that is going away.
//
// The pool is policy only: it knows connections through a small shape,
//   { pubkey, state: 'connecting'|'open'|'closing'|'closed',
//     send(frame) -> Promise, close() }
// made by the `connect(pubkey)` function it is given (peer.js in the
// product, plain objects in tests). Whoever owns a connection tells the
// pool when it ended, with closed(conn).

export class ConnectionPool {
  constructor({ capacity = 8, idleMs = 5 * 60_000, connect, isPreferred = () => false, now = Date.now } = {}) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('pool capacity must be a positive integer');
    if (typeof connect !== 'function') throw new TypeError('pool needs connect(pubkey)');
    this.capacity = capacity;
    this.idleMs = idleMs;
    this.connect = connect;
    this.isPreferred = isPreferred;
    this.now = now;
    this.conns = new Map(); // pubkey -> {conn, used}; Map order is not relied on
    this.timer = null;
    if (idleMs > 0 && Number.isFinite(idleMs)) {
      this.timer = setInterval(() => this.sweep(), Math.max(1000, idleMs / 4));
      this.timer.unref?.();
    }
  }

  get size() { return this.conns.size; }
  has(pubkey) { return this.conns.has(pubkey); }
  get(pubkey) { return this.conns.get(pubkey)?.conn ?? null; }
  pubkeys() { return [...this.conns.keys()]; }

  // The live connection to pubkey, made if needed; marks it used and
  // evicts beyond capacity (never the one returned).
  acquire(pubkey) {
    let entry = this.conns.get(pubkey);
    if (entry && (entry.conn.state === 'closing' || entry.conn.state === 'closed')) {
      this.conns.delete(pubkey);
      entry = null;
    }
    if (!entry) {
      entry = { conn: this.connect(pubkey), used: this.now() };
      this.conns.set(pubkey, entry);
    }
    entry.used = this.now();
    this._evict(pubkey);
    return entry.conn;
  }

  // Marks a connection used (a frame arrived on it).
  touch(pubkey) {
    const entry = this.conns.get(pubkey);
    if (entry) entry.used = this.now();
  }

  // Sends a frame to pubkey. A connection found closing is replaced by a
  // fresh one and the frame goes there; if that fails too, the promise
  // rejects with why -- a frame is delivered or refused, never dropped.
  async send(pubkey, frame) {
    let conn = this.acquire(pubkey);
    try {
      return await conn.send(frame);
    } catch (err) {
      if (conn.state !== 'closing' && conn.state !== 'closed') throw err;
      this.closed(conn);
      conn = this.acquire(pubkey);
      try {
        return await conn.send(frame);
      } catch (again) {
        throw new Error(`hiroba: could not deliver a frame to ${pubkey.slice(0, 8)}…: ${again.message}`);
      }
    }
  }

  // The owner of conn reports that it ended.
  closed(conn) {
    const entry = this.conns.get(conn.pubkey);
    if (entry?.conn === conn) this.conns.delete(conn.pubkey);
  }

  // Closes connections unused for idleMs.
  sweep() {
    const cutoff = this.now() - this.idleMs;
    for (const [pubkey, entry] of this.conns) {
      if (entry.used < cutoff) this._drop(pubkey, entry);
    }
  }

  _drop(pubkey, entry) {
    this.conns.delete(pubkey);
    try { entry.conn.close(); } catch { /* already gone */ }
  }

  // Beyond capacity: drop the least recently used, authors we follow last.
  _evict(keep) {
    while (this.conns.size > this.capacity) {
      let victim = null;
      for (const [pubkey, entry] of this.conns) {
        if (pubkey === keep) continue;
        const rank = [this.isPreferred(pubkey) ? 1 : 0, entry.used];
        if (!victim || rank[0] < victim.rank[0] || (rank[0] === victim.rank[0] && rank[1] < victim.rank[1])) {
          victim = { pubkey, entry, rank };
        }
      }
      if (!victim) return;
      this._drop(victim.pubkey, victim.entry);
    }
  }

  close() {
    clearInterval(this.timer);
    for (const [pubkey, entry] of this.conns) this._drop(pubkey, entry);
  }
}
