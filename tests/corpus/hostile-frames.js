// hostile-frames.js -- a deterministic corpus of malformed and hostile peer
// frames, for hiroba_merge in wasm (tests/node/hostile.test.js) and natively
// under ASan+UBSan (tests/native/hostile_runner.c).
//
//   import { hostileFrames } from '../corpus/hostile-frames.js';
//   hostileFrames() -> [{ label, bytes: Uint8Array, expect }]
//
//   node tests/corpus/hostile-frames.js OUT.bin
//     writes the corpus as records of a 4-byte little-endian length
//     followed by that many bytes (no labels: record i is hostileFrames()[i]).
//
// `expect` is what the contract (DESIGN §2-4) demands beyond "no crash,
// nothing stored, nothing accepted", which holds for every frame:
//   'reject'  the frame must be refused: a non-empty "rejected" list or a
//             NOTICE / CLOSED (or NEG-ERR) reply.
//   'any'     the contract leaves the answer open (a REQ with an unknown
//             filter field or a huge limit may well be answered with EOSE).
//
// Nothing here may be storable under any reading of the contract, or the
// "nothing stored" check would be wrong: frames that carry the one valid
// signed event (BASE) are invalid as frames (truncated, BOM, trailing
// garbage, JSON that JSON.parse refuses, ...), everything else carries an
// event whose id or signature does not match. Frames with a raw NUL byte
// never become a valid frame when cut at the NUL (the native runner passes
// frames as C strings).
//
// No randomness and no clock: the signed events below were made once with
// nostr-tools (secret key = SHA-256("hiroba hostile corpus"), created_at
// 1700000000) and are written out, so the corpus is the same bytes forever.

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/* Valid: signed by nostr-tools. */
export const BASE = Object.freeze({
  id: '55fa26a8561b8b8a7d01a31ab85b3e392fd410bf5fcac2eefc68b7d3ce8db2ba',
  pubkey: '4f0903c638491a9516b4300d8ab168e2547ef6c199cec951f0a41e33d2e0e3ad',
  created_at: 1700000000,
  kind: 1,
  tags: [['t', 'hiroba']],
  content: 'hello',
  sig: 'd9c1edbb68f2c9c218c7630101d2f2e180bb9121c7bfc850aca86b2a5ad71b245d2cad31901e092fe12d858e558c4c08e4512cb2926acca931163193cefef586',
});

/* BASE with one signature nibble changed: never storable. */
const flip = (hex, i) => hex.slice(0, i) + (hex[i] === '0' ? '1' : '0') + hex.slice(i + 1);
export const BAD = Object.freeze({ ...BASE, sig: flip(BASE.sig, 0) });

const FIELDS = ['id', 'pubkey', 'created_at', 'kind', 'tags', 'content', 'sig'];
const enc = new TextEncoder();

/* Concatenates strings (UTF-8), byte arrays and numbers (single bytes). */
function bytes(...parts) {
  const chunks = [];
  for (const p of parts.flat(Infinity)) {
    if (typeof p === 'string') chunks.push(enc.encode(p));
    else if (typeof p === 'number') chunks.push(Uint8Array.of(p));
    else chunks.push(p);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let i = 0;
  for (const c of chunks) { out.set(c, i); i += c.length; }
  return out;
}

const J = (v) => JSON.stringify(v);

/* An event object as text, fields in NIP-01 order. `raw` maps a field to
** the raw text (or bytes) of its value, or to null to leave it out;
** `extra` appends raw members [keyText, valueText]. */
function eventText(ev = BASE, raw = {}, extra = []) {
  const members = [];
  for (const f of FIELDS) {
    if (raw[f] === null) continue;
    members.push([J(f), ':', raw[f] !== undefined ? raw[f] : J(ev[f])]);
  }
  for (const [k, v] of extra) members.push([k, ':', v]);
  const out = ['{'];
  members.forEach((m, i) => { if (i) out.push(','); out.push(m); });
  out.push('}');
  return bytes(out);
}

const eventFrame = (evBytes) => bytes('["EVENT",', evBytes, ']');
const VALID_TEXT = J(['EVENT', BASE]);

export function hostileFrames() {
  const out = [];
  const add = (label, data, expect = 'reject') => {
    out.push({ label, bytes: typeof data === 'string' ? enc.encode(data) : bytes(data), expect });
  };

  // --- truncation: every cut point of a valid EVENT frame, and of a REQ and
  // a batch (every 5th cut: they add length, not new kinds of cut).
  const valid = enc.encode(VALID_TEXT);
  for (let n = 0; n < valid.length; n++) add(`EVENT truncated to ${n} bytes`, valid.slice(0, n));
  const req = enc.encode(J(['REQ', 'sub', { kinds: [1], authors: [BASE.pubkey], '#t': ['hiroba'], limit: 5 }]));
  for (let n = 1; n < req.length; n += 5) add(`REQ truncated to ${n} bytes`, req.slice(0, n));
  const batch = enc.encode(J([['EVENT', BASE], ['EVENT', BAD]]));
  for (let n = 1; n < batch.length; n += 5) add(`batch truncated to ${n} bytes`, batch.slice(0, n));

  // --- deep nesting
  for (const d of [10, 100, 10000]) {
    add(`${d} nested arrays`, '['.repeat(d) + ']'.repeat(d));
    add(`${d} unclosed arrays`, '['.repeat(d));
    add(`${d} nested objects`, '{"a":'.repeat(d) + '1' + '}'.repeat(d));
    add(`${d} nested arrays in tags`, eventFrame(eventText(BASE, { tags: '['.repeat(d) + '"t"' + ']'.repeat(d) })));
    add(`${d} nested objects in content`, eventFrame(eventText(BASE, { content: '{"a":'.repeat(d) + '1' + '}'.repeat(d) })));
    add(`EVENT frame inside ${d} arrays`, '['.repeat(d) + VALID_TEXT.replace(BASE.sig, BAD.sig) + ']'.repeat(d));
    add(`REQ filter nested ${d} deep`, `["REQ","s",{"kinds":${'['.repeat(d)}1${']'.repeat(d)}}]`);
    add(`extra field nested ${d} deep`, eventFrame(eventText(BAD, {}, [['"x"', '['.repeat(d) + ']'.repeat(d)]])));
  }

  // --- wrong types for every field
  const hexWrong = ['null', 'true', 'false', '0', '123', '[]', '{}', J([BASE.id]), J({ x: BASE.id }), '""'];
  for (const f of ['id', 'pubkey', 'sig']) {
    for (const v of hexWrong) add(`${f} = ${v.slice(0, 20)}`, eventFrame(eventText(BASE, { [f]: v })));
  }
  const numWrong = ['null', 'true', 'false', '"1"', '""', '[]', '{}', '[1]', '1.5', '-1', '1e309', '-1e309',
    '18446744073709551616', '9223372036854775808', '9223372036854775807', '-9223372036854775809',
    '4294967297', '2147483648', '1e-400', '-0', '1E400'];
  for (const v of numWrong) add(`created_at = ${v}`, eventFrame(eventText(BASE, { created_at: v })));
  add('created_at = 1700000000.5', eventFrame(eventText(BASE, { created_at: '1700000000.5' })));
  add('created_at = "1700000000"', eventFrame(eventText(BASE, { created_at: '"1700000000"' })));
  for (const v of [...numWrong, '65536', '65535', '70000', '1.0000001']) {
    add(`kind = ${v}`, eventFrame(eventText(BASE, { kind: v })));
  }
  const tagsWrong = ['null', 'true', '0', '"t"', '{}', '["t"]', '[["t",1]]', '[["t",null]]', '[[["t"]]]',
    '[[{}]]', '[1]', '[null]', '[["t",true]]', '[["t","x"],"y"]', '[["t","x"],{}]', '[[1,"t"]]', '{"0":["t"]}'];
  for (const v of tagsWrong) add(`tags = ${v}`, eventFrame(eventText(BASE, { tags: v })));
  for (const v of ['null', 'true', '0', '[]', '{}', '["hello"]', '{"hello":1}', '1e309']) {
    add(`content = ${v}`, eventFrame(eventText(BASE, { content: v })));
  }
  for (const f of FIELDS) add(`missing ${f}`, eventFrame(eventText(BASE, { [f]: null })));
  add('every field missing', eventFrame('{}'));
  for (const v of ['null', '1', '"event"', '[]', J([BASE]), 'true', J(J(BASE))]) {
    add(`event = ${v.slice(0, 20)}`, `["EVENT",${v}]`);
  }

  // --- huge
  const MiB = 1 << 20;
  add('content of 1 MiB', eventFrame(eventText(BASE, { content: J('a'.repeat(MiB)) })));
  add('content of 1 MiB of escapes', eventFrame(eventText(BASE, { content: '"' + '\\n'.repeat(MiB / 2) + '"' })));
  add('100k tags', eventFrame(eventText(BASE, { tags: J(Array.from({ length: 100000 }, () => ['t', 'x'])) })));
  add('one tag of 100k strings', eventFrame(eventText(BASE, { tags: J([Array.from({ length: 100000 }, () => 'x')]) })));
  add('tag value of 1 MiB', eventFrame(eventText(BASE, { tags: J([['t', 'v'.repeat(MiB)]]) })));
  add('extra field key of 1 MiB', eventFrame(eventText(BAD, {}, [[J('k'.repeat(MiB)), '1']])));
  add('extra field value of 1 MiB', eventFrame(eventText(BAD, {}, [['"x"', J('v'.repeat(MiB))]])));
  add('batch of 10000 empty events', J(Array.from({ length: 10000 }, () => ['EVENT', {}])));
  add('batch of 2000 bad-signature events', J(Array.from({ length: 2000 }, () => ['EVENT', BAD])));
  add('REQ with 100k ids', J(['REQ', 's', { ids: Array.from({ length: 100000 }, (_, i) => i.toString(16).padStart(64, '0')) }]), 'any');
  add('REQ with 100k authors', J(['REQ', 's', { authors: Array.from({ length: 100000 }, () => BASE.pubkey) }]), 'any');
  add('REQ with 10000 filters', J(['REQ', 's', ...Array.from({ length: 10000 }, () => ({ kinds: [1] }))]), 'any');
  add('REQ with a 1 MiB sub id', J(['REQ', 's'.repeat(MiB), {}]), 'any');
  add('1 MiB of whitespace', ' '.repeat(MiB));
  add('1 MiB string frame', J('x'.repeat(MiB)));

  // --- bad hex (the rest of the event as signed)
  const hexCases = {
    id: BASE.id, pubkey: BASE.pubkey, sig: BASE.sig,
  };
  for (const [f, h] of Object.entries(hexCases)) {
    const variants = [
      ['uppercase', h.toUpperCase()],
      ['one uppercase digit', h.replace(/[a-f]/, (c) => c.toUpperCase())],
      ['odd length (-1)', h.slice(1)],
      ['odd length (+1)', h + '0'],
      ['too short (-2)', h.slice(2)],
      ['too long (+2)', h + '00'],
      ['half length', h.slice(0, h.length / 2)],
      ['double length', h + h],
      ['non-hex g', 'g' + h.slice(1)],
      ['non-hex space', ' ' + h.slice(1)],
      ['non-hex dash', h.slice(0, -1) + '-'],
      ['0x prefix', '0x' + h.slice(2)],
      ['empty', ''],
      ['with \\u0000', h + '\u0000'],
    ];
    for (const [what, v] of variants) add(`${f} ${what}`, eventFrame(eventText(BASE, { [f]: J(v) })));
    // The last digit replaced by an escaped "0": to JSON.parse that is just
    // a different digit (none of the three signed strings ends in 0).
    if (h.endsWith('0')) throw new Error('hostile-frames: pick a digit the string does not end with');
    add(`${f} last digit \\u0030`, eventFrame(eventText(BASE, { [f]: `"${h.slice(0, -1)}\\u0030"` })));
  }

  // --- NUL: raw bytes and \u0000 escapes
  const vt = VALID_TEXT;
  const at = (s, needle) => { const i = s.indexOf(needle); if (i < 0) throw new Error(needle); return i; };
  const iContent = at(vt, '"hello"') + 4;   // inside "hello"
  add('raw NUL inside content', [vt.slice(0, iContent), 0, vt.slice(iContent)]);
  add('raw NUL inside a key', [vt.slice(0, at(vt, '"content"') + 4), 0, vt.slice(at(vt, '"content"') + 4)]);
  add('raw NUL inside a tag', [vt.slice(0, at(vt, 'hiroba') + 2), 0, vt.slice(at(vt, 'hiroba') + 2)]);
  add('raw NUL inside the frame type', [vt.slice(0, 3), 0, vt.slice(3)]);
  add('raw NUL before the final ]', [vt.slice(0, -1), 0, ']']);
  add('raw NUL between members', [vt.slice(0, at(vt, ',"pubkey"')), 0, vt.slice(at(vt, ',"pubkey"'))]);
  add('raw NUL first', [0, vt]);
  add('raw NUL only', [0]);
  add('raw NULs only', [0, 0, 0, 0]);
  add('bad-signature frame then raw NUL', [J(['EVENT', BAD]), 0]);
  add('bad-signature frame, raw NUL, garbage', [J(['EVENT', BAD]), 0, 'garbage']);
  add('\\u0000 in content', eventFrame(eventText(BASE, { content: '"hel\\u0000lo"' })));
  add('\\u0000 alone in content', eventFrame(eventText(BASE, { content: '"\\u0000"' })));
  add('\\u0000 in a tag value', eventFrame(eventText(BASE, { tags: '[["t","hir\\u0000oba"]]' })));
  add('\\u0000 in a tag name', eventFrame(eventText(BASE, { tags: '[["t\\u0000","hiroba"]]' })));
  add('\\u0000 in a key', eventFrame(eventText(BASE, { content: null }, [['"con\\u0000tent"', '"hello"']])));
  add('\\u0000 in an extra key', eventFrame(eventText(BAD, {}, [['"x\\u0000"', '1']])));
  add('\\u0000 in the frame type', vt.replace('"EVENT"', '"EVENT\\u0000"'));
  add('\\u0000 as the frame type', vt.replace('"EVENT"', '"\\u0000"'));
  add('\\u0000 in a REQ sub id', '["REQ","s\\u0000",{}]', 'any');
  add('\\u0000 in a REQ tag filter', '["REQ","s",{"#t":["a\\u0000"]}]', 'any');
  add('\\u0000 in a NOTICE', '["NOTICE","a\\u0000b"]', 'any');

  // --- surrogates (a correctly signed lone surrogate is storable, as
  // JSON.parse and verifyEvent take it: tests/node/interop.test.js)
  add('lone surrogate in a tag', eventFrame(eventText(BASE, { tags: '[["t","\\ud800"]]' })));
  add('lone surrogate in a key', eventFrame(eventText(BAD, {}, [['"\\udbff"', '1']])));
  add('reversed surrogate pair', eventFrame(eventText(BASE, { content: '"\\udc00\\ud800"' })));
  add('high surrogate then \\u0041', eventFrame(eventText(BASE, { content: '"\\ud800\\u0041"' })));
  add('high surrogate at end of string', eventFrame(eventText(BASE, { content: '"hello\\ud83d"' })));
  add('truncated \\u escape', eventFrame(eventText(BASE, { content: '"\\ud8"' })));
  add('lone surrogate in the frame type', '["\\ud800",1]');
  add('lone surrogate in a REQ sub id', '["REQ","\\udfff",{}]', 'any');

  // --- invalid UTF-8 (raw bytes), in content, key, tag, frame type, alone
  const badUtf8 = {
    'overlong NUL C0 80': [0xc0, 0x80],
    'overlong / C0 AF': [0xc0, 0xaf],
    'overlong C1 BF': [0xc1, 0xbf],
    'overlong 3-byte E0 80 AF': [0xe0, 0x80, 0xaf],
    'overlong 4-byte F0 80 80 AF': [0xf0, 0x80, 0x80, 0xaf],
    'byte FF': [0xff],
    'byte FE': [0xfe],
    'lone continuation 80': [0x80],
    'lone continuation BF': [0xbf],
    'truncated 2-byte C3': [0xc3],
    'truncated 3-byte E3 81': [0xe3, 0x81],
    'truncated 4-byte F0 9F 98': [0xf0, 0x9f, 0x98],
    'beyond U+10FFFF F4 90 80 80': [0xf4, 0x90, 0x80, 0x80],
    'F5 lead byte': [0xf5, 0x80, 0x80, 0x80],
    'F8 5-byte lead': [0xf8, 0x88, 0x80, 0x80, 0x80],
    'encoded surrogate ED A0 80': [0xed, 0xa0, 0x80],
    'encoded surrogate ED BF BF': [0xed, 0xbf, 0xbf],
    'encoded surrogate pair (CESU-8)': [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80],
  };
  for (const [what, b] of Object.entries(badUtf8)) {
    add(`content: ${what}`, [vt.slice(0, iContent), b, vt.slice(iContent)]);
  }
  for (const what of ['overlong NUL C0 80', 'byte FF', 'encoded surrogate ED A0 80', 'truncated 3-byte E3 81']) {
    const b = badUtf8[what];
    add(`key: ${what}`, eventFrame(eventText(BAD, {}, [[['"k', b, '"'], '1']])));
    add(`tag: ${what}`, eventFrame(eventText(BASE, { tags: ['[["t","', b, '"]]'] })));
    add(`frame type: ${what}`, ['["EV', b, 'ENT",', J(BAD), ']']);
    add(`whole frame: ${what}`, [b]);
    add(`between tokens: ${what}`, ['["EVENT",', b, J(BASE), ']']);
    add(`REQ sub id: ${what}`, ['["REQ","s', b, '",{}]']);
    add(`REQ filter value: ${what}`, ['["REQ","s",{"#t":["', b, '"]}]']);
  }

  // --- JSON that JSON.parse refuses, around the valid event (a lenient
  // parser would store BASE from these)
  const ca = J(BASE.created_at);
  const lenient = {
    'leading zero in created_at': vt.replace(`:${ca},`, `:0${ca},`),
    'trailing dot in created_at': vt.replace(`:${ca},`, `:${ca}.,`),
    'dot-exponent in created_at (17.e8)': vt.replace(`:${ca},`, ':17.e8,'),
    'plus sign on created_at': vt.replace(`:${ca},`, `:+${ca},`),
    'leading zero in kind': vt.replace('"kind":1', '"kind":01'),
    'hex kind': vt.replace('"kind":1', '"kind":0x1'),
    'kind NaN': vt.replace('"kind":1', '"kind":NaN'),
    'kind Infinity': vt.replace('"kind":1', '"kind":Infinity'),
    'trailing comma in frame': vt.slice(0, -1) + ',]',
    'trailing comma in event': vt.slice(0, -2) + ',}]',
    'trailing comma in tags': vt.replace('["t","hiroba"]]', '["t","hiroba"],]'),
    'trailing comma in a tag': vt.replace('["t","hiroba"]', '["t","hiroba",]'),
    'missing comma between members': vt.replace(',"pubkey"', '"pubkey"'),
    'double comma': vt.replace(',"pubkey"', ',,"pubkey"'),
    'single-quoted frame type': vt.replace('"EVENT"', "'EVENT'"),
    'single-quoted key': vt.replace('"kind"', "'kind'"),
    'unquoted key': vt.replace('"kind"', 'kind'),
    'comment inside': vt.replace('["EVENT",', '["EVENT",/* c */'),
    'line comment inside': vt.replace('["EVENT",', '["EVENT",// c\n'),
    'raw tab in content': vt.replace('"hello"', '"hel\tlo"'),
    'raw newline in content': vt.replace('"hello"', '"hel\nlo"'),
    'raw 0x01 in content': vt.replace('"hello"', '"hel\u0001lo"'),
    'raw 0x1F in a tag': vt.replace('"hiroba"', '"hir\u001foba"'),
    'invalid escape \\x41': vt.replace('"hello"', '"hel\\x41lo"'),
    'invalid escape \\U0041': vt.replace('"hello"', '"hel\\U0041lo"'),
    "invalid escape \\'": vt.replace('"hello"', '"hel\\\'lo"'),
    'short \\u escape': vt.replace('"hello"', '"hel\\u12lo"'),
    'backslash at end of string': vt.replace('"hello"', '"hello\\"'),
    'unterminated string': vt.replace('"hello"', '"hello'),
    'colon instead of comma': vt.replace(',"pubkey"', ':"pubkey"'),
    'equals instead of colon': vt.replace('"kind":', '"kind"='),
    'True instead of a value': vt.replace('"kind":1', '"kind":True'),
    'frame as object': vt.replace('["EVENT",', '{"EVENT":').slice(0, -1) + '}',
    'vertical tab before frame': '\v' + vt,
    'form feed after frame': vt + '\f',
    'NBSP before frame': '\u00a0' + vt,
    'NEL before frame': '\u0085' + vt,
    'vertical tab between tokens': vt.replace('["EVENT",', '["EVENT",\v'),
    'raw 0x01 between tokens': vt.replace('["EVENT",', '["EVENT",\u0001'),
    'ideographic space between tokens': vt.replace('["EVENT",', '["EVENT",\u3000'),
  };
  for (const [what, text] of Object.entries(lenient)) {
    if (text === vt) throw new Error(`hostile-frames: "${what}" did not change the frame`);
    add(what, text);
  }

  // --- duplicate keys (JSON.parse keeps the last; a parser keeping the
  // first would see the signed values)
  add('duplicate content, last differs', eventFrame(eventText(BASE, {}, [['"content"', '"evil"']])));
  add('duplicate kind, last differs', eventFrame(eventText(BASE, {}, [['"kind"', '2']])));
  add('duplicate tags, last differs', eventFrame(eventText(BASE, {}, [['"tags"', '[]']])));
  add('duplicate sig, last bad', eventFrame(eventText(BASE, {}, [['"sig"', J(BAD.sig)]])));
  add('duplicate pubkey, last differs', eventFrame(eventText(BASE, {}, [['"pubkey"', J('0'.repeat(64))]])));
  add('duplicate id, same value', eventFrame(eventText(BAD, {}, [['"id"', J(BAD.id)]])));
  add('duplicate created_at, last a string', eventFrame(eventText(BASE, {}, [['"created_at"', '"x"']])));
  add('the whole event twice over', eventFrame(eventText(BAD, {}, FIELDS.map((f) => [J(f), J(BAD[f])]))));
  add('duplicate filter keys', '["REQ","s",{"kinds":[1],"kinds":[2]}]', 'any');

  // --- extra fields (on an event that fails anyway; what matters is that
  // odd extras do not trip the parser)
  for (const [k, v] of [['"extra"', '1'], ['"x"', '{"a":[1,2,{"b":null}]}'], ['""', '""'], ['"id2"', J(BASE.id)],
    ['"__proto__"', '{"polluted":true}'], ['"constructor"', '{}'], ['"content2"', J('y'.repeat(70000))]]) {
    add(`extra field ${k}`, eventFrame(eventText(BAD, {}, [[k, v]])));
  }
  add('EVENT with an extra element', J(['EVENT', BAD, 'extra']));
  add('EVENT with sub id and an extra element', J(['EVENT', 'sub', BAD, 'extra']));
  add('EVENT with two events', J(['EVENT', BAD, BAD]));
  add('EVENT with a numeric sub id', J(['EVENT', 1, BAD]));
  add('EVENT with a null sub id', J(['EVENT', null, BAD]));

  // --- empty arrays and missing parts
  add('empty array', '[]', 'any');               // an empty batch, or an empty frame
  add('array of an empty array', '[[]]');
  add('two empty arrays', '[[],[]]');
  add('EVENT with no event', '["EVENT"]');
  add('EVENT with null', '["EVENT",null]');
  add('EVENT with empty array', '["EVENT",[]]');
  add('EVENT with empty object', '["EVENT",{}]');
  add('EVENT with only a sub id', '["EVENT","sub"]');
  add('EVENT with sub id and null', '["EVENT","sub",null]');
  add('EVENT with two strings', '["EVENT","sub","sub2"]');
  add('REQ alone', '["REQ"]');
  add('REQ with a sub id only', '["REQ","s"]', 'any');
  add('CLOSE alone', '["CLOSE"]', 'any');
  add('CLOSE with a number', '["CLOSE",1]', 'any');
  add('OK alone', '["OK"]', 'any');
  add('EOSE alone', '["EOSE"]', 'any');
  add('NOTICE with a number', '["NOTICE",1]', 'any');
  add('CLOSED alone', '["CLOSED"]', 'any');

  // --- REQ with bad filters
  const badFilters = [
    ['non-object 1', '1'], ['non-object string', '"x"'], ['null', 'null'], ['array', '[]'], ['true', 'true'],
    ['ids not hex', '{"ids":["xyz"]}'], ['ids uppercase', J({ ids: [BASE.id.toUpperCase()] })],
    ['ids a number', '{"ids":[1]}'], ['ids a string', '{"ids":"ab"}'], ['ids with null', '{"ids":[null]}'],
    ['ids too long', J({ ids: [BASE.id + '00'] })], ['authors not hex', '{"authors":["zz"]}'],
    ['authors a number', '{"authors":1}'], ['kinds strings', '{"kinds":["1"]}'], ['kinds float', '{"kinds":[1.5]}'],
    ['kinds 1e309', '{"kinds":[1e309]}'], ['kinds an object', '{"kinds":{}}'],
    ['#e a string', '{"#e":"x"}'], ['#e numbers', '{"#e":[1]}'], ['since a string', '{"since":"x"}'],
    ['until float', '{"until":1.5}'], ['since 1e309', '{"since":1e309}'],
    ['limit negative', '{"limit":-1}'], ['limit float', '{"limit":1.5}'], ['limit 1e309', '{"limit":1e309}'],
    ['limit a string', '{"limit":"10"}'], ['good then bad', '{"kinds":[1]},{"ids":["xyz"]}'],
  ];
  for (const [what, f] of badFilters) add(`REQ filter ${what}`, `["REQ","s",${f}]`);
  const oddFilters = [
    ['limit huge', '{"limit":1000000000}'], ['limit 2^64', '{"limit":18446744073709551616}'],
    ['limit 2^53+1', '{"limit":9007199254740993}'], ['unknown field', '{"foo":1}'], ['search field', '{"search":"x"}'],
    ['# alone', '{"#":["x"]}'], ['multi-letter tag', '{"#ee":["x"]}'], ['id prefix', '{"ids":["55fa"]}'],
    ['empty ids', '{"ids":[]}'], ['since after until', '{"since":2,"until":1}'], ['kinds 65536', '{"kinds":[65536]}'],
    ['kinds negative', '{"kinds":[-1]}'], ['since negative', '{"since":-1}'], ['limit null', '{"limit":null}'],
  ];
  for (const [what, f] of oddFilters) add(`REQ filter ${what}`, `["REQ","s",${f}]`, 'any');
  add('REQ with a numeric sub id', '["REQ",1,{}]');
  add('REQ with a null sub id', '["REQ",null,{}]');
  add('REQ with an object sub id', '["REQ",{},{}]');
  add('REQ with an empty sub id', '["REQ","",{}]', 'any');
  add('REQ with a control-character sub id', '["REQ","a\\nb\\u0001",{}]', 'any');

  // --- NIP-77 frames with garbage (a NEG-ERR, a NOTICE or silence all fit)
  for (const [what, f] of [
    ['NEG-OPEN bad hex', '["NEG-OPEN","n",{},"zz"]'], ['NEG-OPEN odd hex', '["NEG-OPEN","n",{},"6"]'],
    ['NEG-OPEN empty', '["NEG-OPEN","n",{},""]'], ['NEG-OPEN version 2', '["NEG-OPEN","n",{},"62"]'],
    ['NEG-OPEN truncated bound', '["NEG-OPEN","n",{},"61ff"]'],
    ['NEG-OPEN huge varint', `["NEG-OPEN","n",{},"61${'ff'.repeat(64)}"]`],
    ['NEG-OPEN bad filter', '["NEG-OPEN","n","x","61"]'], ['NEG-OPEN alone', '["NEG-OPEN"]'],
    ['NEG-OPEN 1 MiB hex', `["NEG-OPEN","n",{},"61${'00'.repeat(MiB / 2)}"]`],
    ['NEG-MSG unknown sub', '["NEG-MSG","nope","61"]'], ['NEG-MSG bad hex', '["NEG-MSG","n","xyz"]'],
    ['NEG-CLOSE alone', '["NEG-CLOSE"]'], ['NEG-ERR from peer', '["NEG-ERR","n","blocked: no"]'],
  ]) add(what, f, 'any');

  // --- NIP-45 COUNT: a sound one is answered with its count (nothing is
  // stored), a bad one refused like a REQ
  add('COUNT of everything', '["COUNT","s",{}]', 'any');
  add('COUNT answer from a peer', '["COUNT","s",{"count":3}]', 'any');
  for (const [what, f] of [
    ['alone', '["COUNT"]'], ['without filters', '["COUNT","s"]'], ['with a numeric sub id', '["COUNT",1,{}]'],
    ['with a 65-char sub id', `["COUNT","${'s'.repeat(65)}",{}]`], ['string filter', '["COUNT","s","x"]'],
    ['unknown filter field', '["COUNT","s",{"search":"x"}]'], ['negative limit', '["COUNT","s",{"limit":-1}]'],
    ['answer with a negative count', '["COUNT","s",{"count":-1}]'],
    ['answer with a second field', '["COUNT","s",{"count":3,"kinds":[1]}]'],
    ['65 filters', `["COUNT","s"${',{}'.repeat(65)}]`],
  ]) add(`COUNT ${what}`, f);

  // --- unknown frame types
  for (const [what, f] of [
    ['FOO', '["FOO"]'], ['lowercase event', J(['event', BAD])], ['AUTH', '["AUTH","challenge"]'],
    ['empty type', '["",1]'], ['numeric type', '[1]'], ['null type', '[null]'],
    ['true type', '[true]'], ['object type', '[{}]'], ['type with a space', J(['EVENT ', BAD])],
    ['NEG-FOO', '["NEG-FOO","n"]'], ['type of 64 KiB', J(['E'.repeat(65536)])],
  ]) add(`unknown type ${what}`, f);

  // --- non-array top levels
  for (const [what, f] of [
    ['number', '42'], ['negative', '-1'], ['float', '1.5'], ['1e309', '1e309'], ['zero', '0'], ['string', '"EVENT"'],
    ['empty string', '""'], ['object', '{}'], ['object with EVENT', J({ EVENT: BASE })], ['null', 'null'],
    ['true', 'true'], ['false', 'false'], ['bare word', 'EVENT'],
  ]) add(`top level ${what}`, f);

  // --- trailing and leading garbage around the valid frame
  for (const [what, g] of [['x', 'x'], [']', ']'], ['[]', '[]'], [',', ','], ['{}', '{}'], ['a second frame', '\n' + vt],
    ['garbage', ' garbage'], ['a comment', '/* c */'], ['0', '0'], ['"', '"']]) {
    add(`trailing ${what}`, vt + g);
  }
  add('leading x', 'x' + vt);
  add('leading ]', ']' + vt);
  add('two frames with a comma', vt + ',' + vt);

  // --- byte order marks
  add('UTF-8 BOM then the valid frame', [0xef, 0xbb, 0xbf, vt]);
  add('two UTF-8 BOMs then the valid frame', [0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, vt]);
  add('UTF-8 BOM then a REQ', [0xef, 0xbb, 0xbf, '["REQ","s",{}]']);
  add('UTF-8 BOM only', [0xef, 0xbb, 0xbf]);
  add('UTF-16BE BOM then the frame', [0xfe, 0xff, vt]);
  add('UTF-16LE frame', [0xff, 0xfe, ...[...vt].flatMap((c) => [c.charCodeAt(0), 0])]);
  add('BOM between tokens', ['["EVENT",', 0xef, 0xbb, 0xbf, J(BASE), ']']);

  // --- whitespace only and empty
  for (const [what, f] of [['space', ' '], ['newline', '\n'], ['tab', '\t'], ['mixed', ' \t\r\n '],
    ['CR', '\r'], ['vertical tab', '\v'], ['form feed', '\f'], ['NBSP', '\u00a0']]) {
    add(`only whitespace: ${what}`, f);
  }
  add('empty frame', '');

  const seen = new Set();
  for (const f of out) {
    if (seen.has(f.label)) throw new Error(`hostile-frames: duplicate label "${f.label}"`);
    seen.add(f.label);
  }
  return out;
}

/* The corpus as records of a 4-byte little-endian length and the bytes. */
export function encodeCorpus(frames) {
  const parts = [];
  for (const { bytes: b } of frames) {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length, true);
    parts.push(len, b);
  }
  return bytes(parts);
}

export function writeCorpus(path, frames = hostileFrames()) {
  writeFileSync(path, encodeCorpus(frames));
  return frames.length;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = process.argv[2];
  if (!path) {
    console.error('usage: node tests/corpus/hostile-frames.js OUT.bin');
    process.exit(2);
  }
  const n = writeCorpus(path);
  console.log(`hostile-frames: wrote ${n} frames to ${path}`);
}
