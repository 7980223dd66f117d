// framing.js -- whole protocol frames over one ordered, reliable
// RTCDataChannel: chunking, reassembly, and back-pressure (DESIGN §3).
//
// Every browser's SCTP stack delivers a message of 16 KiB whole, and larger
// ones not everywhere, so a frame travels as binary chunks of at most
// 16 KiB: one header byte (FINAL on the frame's last chunk) and up to
// 16 KiB - 1 bytes of its UTF-8 text. The channel is ordered, so chunks
// of one frame arrive together and in order; a frame is whole at FINAL.
// Frames over 1 MiB are refused on both sides: the sender's send() rejects,
// the receiver drops the frame and reports it, and both go on.
//
// Back-pressure: chunks are handed to the channel only while its
// bufferedAmount is under a small window (64 KiB; larger windows made SCTP
// stall for seconds after connecting, see TOOLCHAIN.md). Then the sender
// waits for 'bufferedamountlow' -- and also polls, because some WebRTC
// implementations do not always fire it. Nothing is dropped silently:
// send() resolves when the whole frame is handed over, or rejects.

export const CHUNK_SIZE = 16 * 1024;
export const MAX_FRAME = 1024 * 1024;
const FINAL = 1;
const HIGH_WATER = 64 * 1024;
const LOW_WATER = 16 * 1024;
const POLL_MS = 20;
// Bytes queued beyond the channel before send() refuses more: a peer that
// stops reading must not make us hold unbounded memory.
const MAX_QUEUED = 16 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export class FramedChannel {
  // channel: an RTCDataChannel (or anything with its shape).
  // onFrame(text) gets each whole frame; onError(err) each refused one.
  constructor(channel, { onFrame, onError, maxFrame = MAX_FRAME, chunkSize = CHUNK_SIZE } = {}) {
    this.channel = channel;
    this.onFrame = onFrame ?? (() => {});
    this.onError = onError ?? (() => {});
    this.maxFrame = maxFrame;
    this.chunkSize = chunkSize;
    this.queue = [];        // {chunks, next, resolve, reject, bytes}: frames to send
    this.queued = 0;        // bytes in queue
    this.pumping = false;
    this.parts = [];        // chunks of the frame being received
    this.partBytes = 0;
    this.discarding = false; // the frame being received is over the cap
    this.bytesSent = 0;     // payload bytes handed to the channel (for sync stats)
    this.bytesReceived = 0;
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = LOW_WATER;
    channel.addEventListener('message', (e) => this._receive(e.data));
    channel.addEventListener('close', () => this._failAll(new Error('hiroba: the data channel closed')));
  }

  // Sends one frame (a string). Resolves once every chunk is handed to the
  // channel; rejects when the frame is too large, the queue is full, or the
  // channel closes first.
  send(text) {
    const bytes = encoder.encode(text);
    if (bytes.length > this.maxFrame) {
      return Promise.reject(new RangeError(`hiroba: frame of ${bytes.length} bytes is over the ${this.maxFrame}-byte limit`));
    }
    if (this.queued + bytes.length > MAX_QUEUED) {
      return Promise.reject(new Error('hiroba: send queue full (the peer is not reading)'));
    }
    if (this.channel.readyState !== 'open') {
      return Promise.reject(new Error(`hiroba: the data channel is ${this.channel.readyState}`));
    }
    const body = this.chunkSize - 1;
    const chunks = [];
    for (let at = 0; at < bytes.length || at === 0; at += body) {
      const part = bytes.subarray(at, Math.min(at + body, bytes.length));
      const chunk = new Uint8Array(part.length + 1);
      chunk[0] = at + body >= bytes.length ? FINAL : 0;
      chunk.set(part, 1);
      chunks.push(chunk);
      if (bytes.length === 0) break;
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ chunks, next: 0, resolve, reject, bytes: bytes.length });
      this.queued += bytes.length;
      this._pump();
    });
  }

  async _pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length) {
        const item = this.queue[0];
        while (item.next < item.chunks.length) {
          if (this.channel.readyState !== 'open') throw new Error(`hiroba: the data channel is ${this.channel.readyState}`);
          if (this.channel.bufferedAmount > HIGH_WATER) {
            await this._drained();
            continue;
          }
          const chunk = item.chunks[item.next++];
          this.channel.send(chunk);
          this.bytesSent += chunk.length;
        }
        this.queue.shift();
        this.queued -= item.bytes;
        item.resolve();
      }
    } catch (err) {
      this._failAll(err);
    } finally {
      this.pumping = false;
    }
  }

  // Resolves when the channel's buffer is low again (or it closed).
  _drained() {
    return new Promise((resolve) => {
      const done = () => {
        clearInterval(timer);
        this.channel.removeEventListener('bufferedamountlow', done);
        resolve();
      };
      const timer = setInterval(() => {
        if (this.channel.bufferedAmount <= LOW_WATER || this.channel.readyState !== 'open') done();
      }, POLL_MS);
      this.channel.addEventListener('bufferedamountlow', done);
    });
  }

  _failAll(err) {
    const items = this.queue.splice(0);
    this.queued = 0;
    for (const item of items) item.reject(err);
  }

  _receive(data) {
    if (typeof data === 'string' || !(data instanceof ArrayBuffer) || data.byteLength < 1) {
      this.onError(new Error('hiroba: a chunk that is not framed binary was dropped'));
      return;
    }
    const chunk = new Uint8Array(data);
    this.bytesReceived += chunk.length;
    const final = (chunk[0] & FINAL) !== 0;
    if (!this.discarding) {
      this.partBytes += chunk.length - 1;
      if (this.partBytes > this.maxFrame) {
        this.discarding = true;
        this.parts = [];
        this.onError(new RangeError(`hiroba: an incoming frame is over the ${this.maxFrame}-byte limit; dropped`));
      } else {
        this.parts.push(chunk.subarray(1));
      }
    }
    if (!final) return;
    const parts = this.parts;
    const wasDiscarding = this.discarding;
    this.parts = [];
    this.partBytes = 0;
    this.discarding = false;
    if (wasDiscarding) return;
    const bytes = parts.length === 1 ? parts[0] : concat(parts);
    let text;
    try {
      text = decoder.decode(bytes);
    } catch {
      this.onError(new Error('hiroba: an incoming frame is not valid UTF-8; dropped'));
      return;
    }
    this.onFrame(text);
  }
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
