// nip19.js -- the bech32 keys of NIP-19 (npub, nsec) and hex, for the
// places a user hands Hiroba a key: openFeed({ secretKey }), follow(),
// mute(). Only the plain 32-byte forms; nprofile/nevent are not keys.
// The bech32 code also serves NIP-49's ncryptsec (nip49.js).

import { fromHex, toHex } from './bytes.js';

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values) {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i];
  }
  return chk;
}

const expand = (hrp) => [...[...hrp].map((c) => c.charCodeAt(0) >>> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];

// A bech32 string of `prefix` -> its bytes, or null when it is not one.
// `limit`: the longest text taken (BIP-173's 90 fits a key; an ncryptsec
// is longer, as NIP-19 allows).
export function bech32Decode(text, prefix, limit = 90) {
  if (typeof text !== 'string' || text.length > limit) return null;
  const s = text.toLowerCase();
  if (s !== text && text.toUpperCase() !== text) return null; // mixed case
  const sep = s.lastIndexOf('1');
  if (s.slice(0, sep) !== prefix) return null;
  const data = [];
  for (const c of s.slice(sep + 1)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) return null;
    data.push(v);
  }
  if (data.length < 6 || polymod([...expand(prefix), ...data]) !== 1) return null;
  // 5-bit groups -> bytes.
  let acc = 0;
  let bits = 0;
  const out = [];
  for (const v of data.slice(0, -6)) {
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) { bits -= 8; out.push((acc >>> bits) & 0xff); }
  }
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) return null;
  return Uint8Array.from(out);
}

// Bytes -> the bech32 string of `prefix`.
export function bech32Encode(prefix, bytes) {
  // Bytes -> 5-bit groups, the last one padded with zero bits.
  const data = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc & 0xff) << 8) | b;
    bits += 8;
    while (bits >= 5) { bits -= 5; data.push((acc >>> bits) & 31); }
  }
  if (bits > 0) data.push((acc << (5 - bits)) & 31);
  const chk = polymod([...expand(prefix), ...data, 0, 0, 0, 0, 0, 0]) ^ 1;
  for (let i = 0; i < 6; i++) data.push((chk >>> (5 * (5 - i))) & 31);
  return `${prefix}1${data.map((v) => CHARSET[v]).join('')}`;
}

// 'npub1...' / 'nsec1...' -> 64 lowercase hex, or null when it is not a
// valid bech32 string of that prefix holding 32 bytes.
function decode(text, prefix) {
  const bytes = bech32Decode(text, prefix);
  return bytes?.length === 32 ? toHex(bytes) : null;
}

const HEX64 = /^[0-9a-f]{64}$/;

// A pubkey as 64 hex or npub -> 64 hex; throws a TypeError otherwise.
export function pubkeyHex(value, what = 'pubkey') {
  if (typeof value === 'string' && HEX64.test(value)) return value;
  const hex = decode(value, 'npub');
  if (hex) return hex;
  throw new TypeError(`${what} must be 64 lowercase hex characters or an npub`);
}

// secp256k1's field prime.
const P = 2n ** 256n - 2n ** 32n - 977n;

function powMod(base, exp, mod) {
  let result = 1n;
  for (let b = base % mod, e = exp; e > 0n; e >>= 1n, b = (b * b) % mod) {
    if (e & 1n) result = (result * b) % mod;
  }
  return result;
}

// Whether 64 hex is an x-only public key (BIP-340): x < p, and x^3 + 7 a
// square mod p (Euler's criterion), so that a curve point has this x.
// Checked before a signer's key is given to a new database, which would
// otherwise be left with an identity nobody can sign for.
export function isPubkey(hex) {
  if (typeof hex !== 'string' || !HEX64.test(hex)) return false;
  const x = BigInt(`0x${hex}`);
  return x < P && powMod((x * x * x + 7n) % P, (P - 1n) / 2n, P) === 1n;
}

// secp256k1's group order: a secret key is 1 .. ORDER-1 (as equal-length
// lowercase hex, string order is numeric order).
const ORDER = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';
const ZERO = '0'.repeat(64);

// A secret key as 64 hex, nsec or 32 bytes -> 64 hex; throws otherwise.
export function secretKeyHex(value) {
  let hex = null;
  if (value instanceof Uint8Array && value.length === 32) {
    hex = toHex(value);
  } else if (typeof value === 'string' && HEX64.test(value)) {
    hex = value;
  } else {
    hex = decode(value, 'nsec');
  }
  if (!hex) throw new TypeError('secretKey must be 64 lowercase hex characters, an nsec, or 32 bytes');
  if (hex === ZERO || hex >= ORDER) throw new TypeError('secretKey is not a valid secp256k1 secret key (0 or past the group order)');
  return hex;
}

// 64 hex of a secret key -> its nsec (for feed.exportKey({ nsec: true })).
export function nsecEncode(hex) {
  return bech32Encode('nsec', fromHex(hex));
}

// An ncryptsec (NIP-49) -> its 91 bytes, version 2 first, or null: its
// outer form, checked where no scrypt is at hand (the page); nip49.js
// reads the parts.
export function decodeNcryptsec(text) {
  const bytes = bech32Decode(text, 'ncryptsec', 200);
  return bytes?.length === 91 && bytes[0] === 0x02 ? bytes : null;
}
