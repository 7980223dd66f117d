// js-neg-responder.js -- the anchor of bench/relay.bench.js's NIP-77
// figure: a minimal NIP-77 responder in JavaScript, built on nostr-tools'
// own Negentropy code (NegentropyStorageVector, and Negentropy for bounds,
// fingerprints and range splitting), served over a `ws` WebSocketServer on
// 127.0.0.1, an ephemeral port. It holds its events in memory and speaks
// only NEG-OPEN / NEG-MSG / NEG-CLOSE (everything else gets a NOTICE).
//
// Why not nostr-tools' Negentropy.reconcile() as it stands: nostr-tools
// 2.25 ships only the initiator's half of the protocol. Given an IdList
// range it works out have/need itself and answers nothing, where a
// responder must answer with its own ids of that range (Negentropy
// protocol V1, as NIP-77 attaches it) so the initiator can learn the
// differences. So the responder's reconcile below is ours -- the
// responder's side of the protocol over nostr-tools' primitives -- and
// every byte it sends is made by nostr-tools' encodeBound, splitRange and
// fingerprint. Frame size: the same rule as nostr-tools' initiator (stop
// at frameSizeLimit, 60,000 by default, and send one fingerprint for the
// rest).
//
// On NEG-OPEN the responder does what a relay does: picks its events that
// match the filter (nostr-tools' matchFilter), builds and seals a storage
// vector of them, then answers the initial message. That work is part of
// what the bench times, as the relay's query is on Hiroba's side.
//
//   const r = await startJsNegResponder(events);   // signed NIP-01 events
//   r.url; await r.close();

import { WebSocketServer } from 'ws';
import { matchFilter } from 'nostr-tools/filter';
import { nip77 } from 'nostr-tools';

const { Negentropy, NegentropyStorageVector } = nip77;

const PROTOCOL_VERSION = 0x61;    // Negentropy protocol V1
const ID_SIZE = 32;
const FINGERPRINT_SIZE = 16;
const MODE_SKIP = 0, MODE_FINGERPRINT = 1, MODE_IDLIST = 2;

function varint(n) {
  const out = [];
  do { out.unshift(n % 128); n = Math.floor(n / 128); } while (n > 0);
  for (let i = 0; i < out.length - 1; i++) out[i] |= 0x80;
  return Uint8Array.from(out);
}

/* The responder's side of Negentropy V1 over nostr-tools' Negentropy. */
export class NegentropyResponder extends Negentropy {
  constructor(storage, frameSizeLimit) {
    super(storage, frameSizeLimit);
    // nostr-tools does not export its growable buffer; every encodeBound()
    // returns one, so take the class from there.
    this.Buffer = this.encodeBound(this._bound(0)).constructor;
  }

  /* One NEG-MSG payload (hex) in, the answer (hex) out; never null: a
  ** responder always answers, and the initiator decides when it is done. */
  reconcile(queryHex) {
    const query = new this.Buffer(Buffer.from(queryHex, 'hex'));
    this.lastTimestampIn = this.lastTimestampOut = 0;
    const readVarint = () => {
      let n = 0;
      for (;;) {
        if (query.length === 0) throw new Error('negentropy: truncated varint');
        const b = query.shift();
        n = n * 128 + (b & 0x7f);
        if (!(b & 0x80)) return n;
      }
    };
    const version = query.shift();
    if (version !== PROTOCOL_VERSION) {
      // Tell the initiator which version we speak, as the protocol says.
      return Buffer.from([PROTOCOL_VERSION]).toString('hex');
    }
    const full = new this.Buffer();
    full.extend(Uint8Array.of(PROTOCOL_VERSION));
    const size = this.storage.size();
    let prevBound = this._bound(0);
    let prevIndex = 0;
    let skip = false;
    while (query.length !== 0) {
      const o = new this.Buffer();
      const flushSkip = () => {
        if (!skip) return;
        skip = false;
        o.extend(this.encodeBound(prevBound));
        o.extend(varint(MODE_SKIP));
      };
      const bound = this.decodeBound(query);
      const mode = readVarint();
      const lower = prevIndex;
      const upper = this.storage.findLowerBound(prevIndex, size, bound);
      if (mode === MODE_SKIP) {
        skip = true;
      } else if (mode === MODE_FINGERPRINT) {
        const theirs = query.shiftN(FINGERPRINT_SIZE);
        const ours = this.storage.fingerprint(lower, upper);
        if (Buffer.compare(Buffer.from(theirs), Buffer.from(ours)) === 0) {
          skip = true;
        } else {
          flushSkip();
          this.splitRange(lower, upper, bound, o);
        }
      } else if (mode === MODE_IDLIST) {
        const n = readVarint();
        query.shiftN(n * ID_SIZE);           // their ids: the initiator compares, not us
        flushSkip();
        o.extend(this.encodeBound(bound));
        o.extend(varint(MODE_IDLIST));
        o.extend(varint(upper - lower));
        this.storage.iterate(lower, upper, (item) => { o.extend(item.id); return true; });
      } else {
        throw new Error(`negentropy: unexpected mode ${mode}`);
      }
      if (this.exceededFrameSizeLimit(full.length + o.length)) {
        full.extend(this.encodeBound(this._bound(Number.MAX_VALUE)));
        full.extend(varint(MODE_FINGERPRINT));
        full.extend(this.storage.fingerprint(upper, size));
        break;
      }
      full.extend(o);
      prevIndex = upper;
      prevBound = bound;
    }
    return Buffer.from(full.unwrap()).toString('hex');
  }
}

export async function startJsNegResponder(events, { host = '127.0.0.1', port = 0, frameSizeLimit } = {}) {
  const wss = new WebSocketServer({ host, port, maxPayload: 64 << 20 });
  wss.on('connection', (ws) => {
    const sessions = new Map();     // subscription id -> NegentropyResponder
    const send = (frame) => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame)); };
    ws.on('message', (data) => {
      let msg;
      try { msg = JSON.parse(data.toString()); } catch { return send(['NOTICE', 'invalid: not JSON']); }
      if (!Array.isArray(msg)) return send(['NOTICE', 'invalid: not an array']);
      const [type, sub] = msg;
      try {
        if (type === 'NEG-OPEN') {
          const [, , filter, initial] = msg;
          const storage = new NegentropyStorageVector();
          for (const e of events) if (matchFilter(filter, e)) storage.insert(e.created_at, e.id);
          storage.seal();
          const neg = new NegentropyResponder(storage, frameSizeLimit);
          sessions.set(sub, neg);
          send(['NEG-MSG', sub, neg.reconcile(initial)]);
        } else if (type === 'NEG-MSG') {
          const neg = sessions.get(sub);
          if (!neg) return send(['NEG-ERR', sub, 'closed: no such negentropy session']);
          send(['NEG-MSG', sub, neg.reconcile(msg[2])]);
        } else if (type === 'NEG-CLOSE') {
          sessions.delete(sub);
        } else if (type === 'CLOSE') {
          // nostr-tools' NegentropySync closes its (never opened) subscription too
        } else {
          send(['NOTICE', `unsupported: ${String(type)}`]);
        }
      } catch (err) {
        sessions.delete(sub);
        send(['NEG-ERR', sub, `error: ${err.message}`]);
      }
    });
    ws.on('error', () => {});
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const { port: bound } = wss.address();
  return {
    url: `ws://${host}:${bound}/`,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}
