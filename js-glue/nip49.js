// nip49.js -- NIP-49 private key encryption: a secret key sealed with a
// passphrase as 'ncryptsec1...', for feed.exportKey({ passphrase }) and
// openFeed({ secretKey: 'ncryptsec1...', passphrase }).
//
//   bytes: 0x02 (version), log_n, salt (16), nonce (24), key security
//          byte (1), ciphertext (32-byte key + 16-byte tag) = 91 bytes
//   key  = scrypt(NFKC(passphrase), salt, N = 2^log_n, r = 8, p = 1, 32)
//   ciphertext = XChaCha20-Poly1305(key, nonce, aad = key security byte)
//
// scrypt is made to be slow (64 MiB and about a second at log_n 16): in
// browsers this module runs in the worker, never on the page (worker.js
// imports it when asked). Its two npm packages are the package's runtime
// dependencies: a bundler resolves them; without one, serve them as the
// dev server does (web/shipped.js).

import { scrypt } from '@noble/hashes/scrypt.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { CODES, HirobaError } from './engine.js';
import { bech32Encode, decodeNcryptsec, nsecEncode } from './nip19.js';


// The key security byte: 0x00 handled insecurely, 0x01 not, 0x02 the
// client does not track it. Hiroba keeps keys in a database file and
// cannot say how the user handled them before: 0x02.
const KEY_SECURITY_UNKNOWN = 0x02;
// scrypt's memory is 128 * r * N bytes: log_n 20 is 1 GiB, the most
// @noble/hashes allows by default (and more than a browser tab should
// take). feed.js checks exportKey's logN against the same number.
export const MAX_LOG_N = 20;

// The parts of an ncryptsec, or null when the text is not one (a bech32
// string of that prefix, 91 bytes, version 2). Cheap: no scrypt.
export function parseNcryptsec(text) {
  const b = decodeNcryptsec(text);
  return b && { logN: b[1], salt: b.subarray(2, 18), nonce: b.subarray(18, 42), aad: b.subarray(42, 43), ciphertext: b.subarray(43) };
}

function symmetricKey(passphrase, salt, logN) {
  return scrypt(passphrase.normalize('NFKC'), salt, { N: 2 ** logN, r: 8, p: 1, dkLen: 32 });
}

// 64 hex of a secret key -> 'ncryptsec1...'. logN: an integer 1..20,
// checked by the caller (feed.exportKey).
export function encryptKey(secretHex, passphrase, logN) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const nonce = crypto.getRandomValues(new Uint8Array(24));
  const aad = Uint8Array.of(KEY_SECURITY_UNKNOWN);
  const key = symmetricKey(passphrase, salt, logN);
  const secret = hexToBytes(secretHex);
  const ciphertext = xchacha20poly1305(key, nonce, aad).encrypt(secret);
  key.fill(0);
  secret.fill(0);
  const out = new Uint8Array(91);
  out.set([0x02, logN]); // the version, then the cost
  out.set(salt, 2);
  out.set(nonce, 18);
  out.set(aad, 42);
  out.set(ciphertext, 43);
  return bech32Encode('ncryptsec', out);
}

// 'ncryptsec1...' + passphrase -> 64 hex of the secret key. A text that is
// no ncryptsec is a TypeError; a wrong passphrase (or a damaged
// ncryptsec: the tag cannot tell them apart) a HirobaError HIROBA_EINVAL.
export function decryptKey(ncryptsec, passphrase) {
  const parts = parseNcryptsec(ncryptsec);
  if (!parts) throw new TypeError('secretKey is not a valid ncryptsec (NIP-49, version 2)');
  if (typeof passphrase !== 'string') throw new TypeError('secretKey is an ncryptsec: pass its { passphrase } too');
  if (parts.logN < 1 || parts.logN > MAX_LOG_N) {
    throw new HirobaError(CODES.HIROBA_EINVAL, `hiroba: this ncryptsec asks for scrypt log_n ${parts.logN}; Hiroba takes 1 to ${MAX_LOG_N}`, 'decryptKey');
  }
  const key = symmetricKey(passphrase, parts.salt, parts.logN);
  let secret;
  try {
    secret = xchacha20poly1305(key, parts.nonce, parts.aad).decrypt(parts.ciphertext);
  } catch {
    throw new HirobaError(CODES.HIROBA_EINVAL, 'hiroba: cannot decrypt the ncryptsec: wrong passphrase (or a damaged ncryptsec)', 'decryptKey');
  } finally {
    key.fill(0);
  }
  const hex = bytesToHex(secret);
  secret.fill(0);
  return hex;
}

// What feed.exportKey hands out for the secret key (64 hex), with options
// the feed already checked: its nsec when asked for { nsec: true }, else
// its ncryptsec under { passphrase, logN }.
export function exportSecretKey(secretHex, { nsec, passphrase, logN }) {
  return nsec ? nsecEncode(secretHex) : encryptKey(secretHex, passphrase, logN);
}
