/*
** fuzz_verify.c -- the event reader, canonical id and BIP-340 verifier
** (src/event.c, src/json.c, src/crypto.c), below the store: no database.
**
** Every input is used three ways:
**   1. As bytes: json_check_utf8 must agree with an independent UTF-8
**      validator written here (decode, then refuse overlongs, surrogates
**      and anything past U+10FFFF); json_check_string must accept all of
**      that too; and any string it accepts (json.h's internal form, with
**      U+0000 and lone surrogates) without a raw NUL must survive
**      strbuf_json_string (the NIP-01 escaping) and json_parse byte for
**      byte.
**   2. As JSON text: json_parse must accept exactly what json_check_text
**      accepts (cJSON never refuses text our grammar passed). An object,
**      or the event inside ["EVENT", ev] / ["EVENT", sub, ev], goes
**      through event_from_json, the id check and the signature check;
**      a readable event must survive event_to_json -> json_parse ->
**      event_from_json with every field and its id unchanged, and its
**      canonical text must be a fixed point.
**   3. As a structured event, so that the hashing and the verifier are
**      reached with arbitrary keys and signatures rather than only after
**      a JSON parse (the layout is make-seeds.js's too):
**        [0,32) pubkey  [32,96) sig  [96,102) created_at, big-endian
**        [102,104) kind, big-endian  [104] flags  [105,..) content
**      flags & 3 is how many ["t", content] tags the event gets; with
**      flags & 4 the event is also signed with the key SHA-256(input), and
**      then it must verify while a flipped bit of its id or signature
**      (bit flags >> 3 of byte i % 32 or i % 64) must not.
**      The id is computed here, so event_check_id must pass, and the
**      canonical text must read back to the same id.
*/
#include <string.h>
#include <time.h>

#include "cJSON.h"
#include "crypto.h"
#include "event.h"
#include "fuzz.h"
#include "json.h"
#include "sha256.h"
#include "strbuf.h"

#define HEAD 105   /* bytes before the content in the structured form */

/* The reference UTF-8 check: decode each sequence by its lead byte and
** refuse what RFC 3629 refuses. json.c checks by byte ranges instead; the
** two must agree on every input. */
static int ref_utf8_ok(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80) { i++; continue; }
    if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n - i < len) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (p[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += len;
  }
  return 1;
}

/* 1 when the two tag arrays hold the same strings in the same shape. */
static int tags_equal(const cJSON *a, const cJSON *b) {
  const cJSON *ta = a->child, *tb = b->child;
  for (; ta && tb; ta = ta->next, tb = tb->next) {
    const cJSON *sa = ta->child, *sb = tb->child;
    for (; sa && sb; sa = sa->next, sb = sb->next) {
      if (strcmp(sa->valuestring, sb->valuestring) != 0) return 0;
    }
    if (sa || sb) return 0;
  }
  return !ta && !tb;
}

/* Serializes a readable event, reads it back, and checks nothing changed:
** fields, id, and the canonical text itself (a fixed point). */
static void check_round_trip(const event *ev) {
  strbuf sb, sb2;
  strbuf_init(&sb);
  strbuf_init(&sb2);
  event_to_json(ev, &sb);
  FUZZ_CHECK(!sb.oom, "out of memory");
  const char *zWhy = NULL;
  cJSON *root = json_parse(sb.z, sb.n, &zWhy);
  FUZZ_CHECK(root != NULL, "canonical text does not parse (%s): %.300s", zWhy, sb.z);
  event ev2;
  int hasId = 0;
  FUZZ_CHECK(event_from_json(&ev2, root, &hasId, &zWhy) == 0 && hasId,
             "canonical text is not an event (%s): %.300s", zWhy, sb.z);
  FUZZ_CHECK(memcmp(ev->id, ev2.id, 32) == 0 && memcmp(ev->pubkey, ev2.pubkey, 32) == 0 &&
             memcmp(ev->sig, ev2.sig, 64) == 0 && ev->created_at == ev2.created_at &&
             ev->kind == ev2.kind, "fields changed: %.300s", sb.z);
  FUZZ_CHECK(ev->ncontent == ev2.ncontent &&
             memcmp(ev->content, ev2.content, ev->ncontent) == 0,
             "content changed: %.300s", sb.z);
  FUZZ_CHECK(tags_equal(ev->tags, ev2.tags), "tags changed: %.300s", sb.z);
  unsigned char id1[32], id2[32];
  FUZZ_CHECK(event_compute_id(ev, id1) == 0 && event_compute_id(&ev2, id2) == 0 &&
             memcmp(id1, id2, 32) == 0, "id changed: %.300s", sb.z);
  event_to_json(&ev2, &sb2);
  FUZZ_CHECK(!sb2.oom && sb.n == sb2.n && memcmp(sb.z, sb2.z, sb.n) == 0,
             "canonical text is not a fixed point: %.300s", sb.z);
  cJSON_Delete(root);
  strbuf_free(&sb);
  strbuf_free(&sb2);
}

/* Part 1: the bytes as a string. */
static void fuzz_bytes(const uint8_t *data, size_t size) {
  int ours = json_check_utf8((const char *)data, size) == 0;
  int ref = ref_utf8_ok(data, size);
  FUZZ_CHECK(ours == ref, "json_check_utf8 says %d, the reference %d", ours, ref);
  int internal = json_check_string((const char *)data, size) == 0;
  FUZZ_CHECK(internal || !ours, "json_check_string refuses valid UTF-8");
  if (!internal || memchr(data, 0, size)) return;
  strbuf sb;
  strbuf_init(&sb);
  strbuf_json_string(&sb, (const char *)data, size);
  FUZZ_CHECK(!sb.oom, "out of memory");
  const char *zWhy = NULL;
  cJSON *s = json_parse(sb.z, sb.n, &zWhy);
  FUZZ_CHECK(cJSON_IsString(s), "escaped string does not parse (%s): %.300s", zWhy, sb.z);
  FUZZ_CHECK(strlen(s->valuestring) == size && memcmp(s->valuestring, data, size) == 0,
             "escaped string changed: %.300s", sb.z);
  cJSON_Delete(s);
  strbuf_free(&sb);
}

/* Part 2: the bytes as JSON text. */
static void fuzz_text(const uint8_t *data, size_t size) {
  const char *zWhy = NULL;
  int textOk = json_check_text((const char *)data, size, &zWhy) == 0;
  cJSON *root = json_parse((const char *)data, size, &zWhy);
  FUZZ_CHECK(!textOk == !root, "json_check_text says %d but json_parse %s (%s)",
             textOk, root ? "parsed" : "failed", zWhy);
  if (!root) return;

  const cJSON *obj = root;
  if (cJSON_IsArray(root)) {
    int n = cJSON_GetArraySize(root);
    obj = cJSON_GetArrayItem(root, n == 3 ? 2 : 1);
  }
  event ev;
  int hasId = 0;
  if (event_from_json(&ev, obj, &hasId, &zWhy) == 0) {
    FUZZ_CHECK(hasId, "a readable event has no id");
    (void)event_check_time(&ev, (int64_t)time(NULL), &zWhy);
    int idOk = event_check_id(&ev, &zWhy) == 0;
    /* Merge only verifies events whose id matched; the verifier must
    ** also refuse, never crash on, the mismatched ones. */
    int sigOk = event_check_sig(&ev, &zWhy) == 0;
    (void)idOk;
    (void)sigOk;
    check_round_trip(&ev);
  } else {
    FUZZ_CHECK(strncmp(zWhy, "invalid: ", 9) == 0, "reason not NIP-01: %s", zWhy);
  }
  cJSON_Delete(root);
}

/* Part 3: the bytes as a structured event. */
static void fuzz_struct(const uint8_t *data, size_t size) {
  if (size < HEAD) return;
  event ev;
  memset(&ev, 0, sizeof ev);
  memcpy(ev.pubkey, data, 32);
  memcpy(ev.sig, data + 32, 64);
  for (int i = 96; i < 102; i++) ev.created_at = ev.created_at << 8 | data[i];
  ev.kind = data[102] << 8 | data[103];
  unsigned flags = data[104];
  size_t nContent = size - HEAD;
  char *zContent = malloc(nContent + 1);
  FUZZ_CHECK(zContent != NULL, "out of memory");
  memcpy(zContent, data + HEAD, nContent);
  zContent[nContent] = 0;
  ev.content = zContent;
  ev.ncontent = nContent;
  cJSON *tags = cJSON_CreateArray();
  FUZZ_CHECK(tags != NULL, "out of memory");
  for (unsigned i = 0; i < (flags & 3); i++) {
    cJSON *tag = cJSON_CreateArray();
    FUZZ_CHECK(tag && cJSON_AddItemToArray(tags, tag), "out of memory");
    cJSON *name = cJSON_CreateString("t"), *value = cJSON_CreateString(zContent);
    FUZZ_CHECK(name && value && cJSON_AddItemToArray(tag, name) &&
               cJSON_AddItemToArray(tag, value), "out of memory");
  }
  ev.tags = tags;

  const char *zWhy = NULL;
  if (event_check_fields(&ev, &zWhy) == 0) {
    FUZZ_CHECK(event_compute_id(&ev, ev.id) == 0, "out of memory");
    FUZZ_CHECK(event_check_id(&ev, &zWhy) == 0, "computed id refused: %s", zWhy);
    if (event_check_sig(&ev, &zWhy) == 0) {
      /* A real signature (a seed's): any flipped id bit must break it. */
      ev.id[nContent % 32] ^= 1;
      FUZZ_CHECK(event_check_sig(&ev, &zWhy) != 0, "signature holds for another id");
      ev.id[nContent % 32] ^= 1;
    }
    check_round_trip(&ev);
    if (flags & 4) {
      unsigned char sk[32];
      sha256(data, size, sk);
      /* Fails only for a key of zero or above the group order: odds
      ** about 2^-128, so a failure here is the library's or ours. */
      FUZZ_CHECK(event_sign(&ev, sk) == 0, "cannot sign with a hashed key");
      FUZZ_CHECK(event_check_id(&ev, &zWhy) == 0 && event_check_sig(&ev, &zWhy) == 0,
                 "a fresh signature does not verify: %s", zWhy);
      unsigned bit = 1u << (flags >> 3 & 7);
      ev.sig[nContent % 64] ^= bit;
      FUZZ_CHECK(event_check_sig(&ev, &zWhy) != 0, "a flipped signature verifies");
      ev.sig[nContent % 64] ^= bit;
      ev.id[nContent % 32] ^= bit;
      FUZZ_CHECK(event_check_sig(&ev, &zWhy) != 0, "a signature verifies another id");
      ev.id[nContent % 32] ^= bit;
      check_round_trip(&ev);
    }
  }
  cJSON_Delete(tags);
  free(zContent);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_bytes(data, size);
  fuzz_text(data, size);
  fuzz_struct(data, size);
  return 0;
}
