/*
** test_event.c -- the event layer and what it stands on: the strict JSON
** check (json.c), canonical serialization and id, signing and verifying
** (crypto.c), and the field rules of DESIGN §2, each refusal with its
** reason.
**
** The strongest checks use real events made by nostr-tools 2.25.2
** (finalizeEvent with fresh keys; generator script in the comment above
** aRealEvent): our id must be theirs, their signature must verify, and
** printing the event back must give their JSON.stringify text byte for
** byte. Test texts are copied into exact-size heap buffers without a NUL
** so that AddressSanitizer catches any read past the end.
*/
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "event.h"
#include "hex.h"
#include "json.h"
#include "sha256.h"

/* ---- helpers ------------------------------------------------------------ */

/* json_parse over an exact-size copy of z[0..n) with no terminator. */
static cJSON *parse_exact(const char *z, size_t n, const char **pzReason) {
  char *p = malloc(n ? n : 1);
  if (!p) return NULL;
  memcpy(p, z, n);
  cJSON *pRoot = json_parse(p, n, pzReason);
  free(p);
  return pRoot;
}

static cJSON *parse_str(const char *z, const char **pzReason) {
  return parse_exact(z, strlen(z), pzReason);
}

/* json_check_text over an exact-size copy. */
static int check_exact(const char *z, size_t n, const char **pzReason) {
  char *p = malloc(n ? n : 1);
  if (!p) return -2;
  memcpy(p, z, n);
  int rc = json_check_text(p, n, pzReason);
  free(p);
  return rc;
}

static int has(const char *zReason, const char *zPart) {
  return zReason && strstr(zReason, zPart) != NULL;
}

/* Parses zJson and reads it as an event; returns event_from_json's code
** and its reason. The tree is returned in *ppRoot (caller deletes it). */
static int read_event(const char *zJson, event *ev, int *pHasId, cJSON **ppRoot,
                      const char **pzReason) {
  *ppRoot = parse_exact(zJson, strlen(zJson), pzReason);
  if (!*ppRoot) { *pHasId = 0; return -2; }
  return event_from_json(ev, *ppRoot, pHasId, pzReason);
}

/* event_from_json's verdict on zJson: 0 with *pzReason untouched on
** success, else the reason. */
static const char *reject_reason(const char *zJson, int *pHasId) {
  event ev;
  cJSON *pRoot;
  const char *zReason = NULL;
  int hasId = 0;
  int rc = read_event(zJson, &ev, &hasId, &pRoot, &zReason);
  cJSON_Delete(pRoot);
  if (pHasId) *pHasId = hasId;
  return rc == 0 ? NULL : zReason;
}

/* ---- canonical serialization ------------------------------------------- */

/* Every byte JSON.stringify escapes, and several it must not. The expected
** text and id were produced by node (JSON.stringify and nostr-tools'
** getEventHash); the text is also spelled out here by hand. */
static void test_canonical_escaping(void) {
  char aContent[64];
  size_t n = 0;
  for (int c = 0; c < 0x20; c++) aContent[n++] = (char)c;  /* 0x00 too */
  const char *zTail = "\"\\/\x7f" "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x8e\x89\xe2\x80\xa8";
  memcpy(aContent + n, zTail, strlen(zTail));
  n += strlen(zTail);

  cJSON *pTags = cJSON_CreateArray();
  cJSON *pTag = cJSON_CreateArray();
  cJSON_AddItemToArray(pTag, cJSON_CreateString("a"));
  cJSON_AddItemToArray(pTag, cJSON_CreateString("\"\\/\x7f\x01\x1f"));
  cJSON_AddItemToArray(pTags, pTag);
  pTag = cJSON_CreateArray();
  cJSON_AddItemToArray(pTag, cJSON_CreateString("\xc3\xa9\xe6\x97\xa5\xf0\x9f\x8e\x89"));
  cJSON_AddItemToArray(pTags, pTag);

  event ev;
  memset(&ev, 0, sizeof ev);
  memset(ev.pubkey, 0x11, 32);
  ev.created_at = 1234567890;
  ev.kind = 1;
  ev.tags = pTags;
  ev.content = aContent;
  ev.ncontent = n;

  const char *zCanon =
      "[0,\"1111111111111111111111111111111111111111111111111111111111111111\","
      "1234567890,1,[[\"a\",\"\\\"\\\\/\x7f" "\\u0001\\u001f\"],"
      "[\"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x8e\x89\"]],"
      "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
      "\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
      "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
      "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"
      "\\\"\\\\/\x7f" "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x8e\x89\xe2\x80\xa8\"]";
  unsigned char want[32], got[32], fromNode[32];
  sha256(zCanon, strlen(zCanon), want);
  CHECK(hex_decode("f941469c96fcd14e97c052cb9c6e7594e9983fe07a8e5408d9709cb934fb4a1f",
                   fromNode, 32) == 0);
  CHECK(memcmp(want, fromNode, 32) == 0);
  CHECK(event_compute_id(&ev, got) == 0);
  CHECK(memcmp(got, want, 32) == 0);

  /* The printed object uses the same escaping (0x00 excepted: a draft
  ** holding it is refused, see test_check_fields). */
  ev.content = aContent + 1;
  ev.ncontent = n - 1;
  strbuf sb;
  strbuf_init(&sb);
  event_to_json(&ev, &sb);
  char *zJson = strbuf_finish(&sb);
  CHECK(zJson != NULL);
  CHECK(zJson && strstr(zJson,
      "\"tags\":[[\"a\",\"\\\"\\\\/\x7f" "\\u0001\\u001f\"],"
      "[\"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x8e\x89\"]],"
      "\"content\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
      "\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
      "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
      "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"
      "\\\"\\\\/\x7f" "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x8e\x89\xe2\x80\xa8\",") != NULL);
  /* Key order and the integer fields. */
  CHECK(zJson && strncmp(zJson, "{\"id\":\"0000", 11) == 0);
  CHECK(zJson && strstr(zJson, "\",\"created_at\":1234567890,\"kind\":1,\"tags\":") != NULL);
  CHECK(zJson && strstr(zJson, "\",\"sig\":\"0000") != NULL);
  CHECK(zJson && strcmp(zJson + strlen(zJson) - 2, "\"}") == 0);
  free(zJson);

  /* Empty tags and content; integers printed plainly at the extremes. */
  cJSON *pEmpty = cJSON_CreateArray();
  ev.tags = pEmpty;
  ev.content = "";
  ev.ncontent = 0;
  ev.created_at = 9007199254740991LL;
  ev.kind = 65535;
  const char *zMax = "[0,\"1111111111111111111111111111111111111111111111111111111111111111\","
                     "9007199254740991,65535,[],\"\"]";
  sha256(zMax, strlen(zMax), want);
  CHECK(event_compute_id(&ev, got) == 0 && memcmp(got, want, 32) == 0);
  ev.created_at = 0;
  ev.kind = 0;
  const char *zMin = "[0,\"1111111111111111111111111111111111111111111111111111111111111111\","
                     "0,0,[],\"\"]";
  sha256(zMin, strlen(zMin), want);
  CHECK(event_compute_id(&ev, got) == 0 && memcmp(got, want, 32) == 0);
  cJSON_Delete(pEmpty);
  cJSON_Delete(pTags);
}

/* ---- json_check_text / json_parse -------------------------------------- */

typedef struct jcase {
  const char *z;        /* the text */
  size_t n;             /* its length, or 0 for strlen */
  int ok;               /* JSON.parse would accept it and it survives */
  const char *zPart;    /* for a refusal: a piece of the expected reason */
} jcase;

static const jcase aJsonCase[] = {
  /* grammar that JSON.parse accepts */
  {"{}", 0, 1, 0},
  {"[]", 0, 1, 0},
  {"0", 0, 1, 0},
  {"-0", 0, 1, 0},
  {"1.5e-3", 0, 1, 0},
  {"-12.0E+2", 0, 1, 0},
  {"\"a\"", 0, 1, 0},
  {"true", 0, 1, 0},
  {"false", 0, 1, 0},
  {"null", 0, 1, 0},
  {" \t\n\r[1 , 2 ,{\"a\" : [ ] }]\r\n ", 0, 1, 0},
  {"{\"a\":1,\"b\":{\"c\":[true,false,null]}}", 0, 1, 0},
  {"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0001 \\u001F \\uFFFF\"", 0, 1, 0},
  {"\"\\u00e9\\uD83D\\uDE00\\ud83d\\ude00\"", 0, 1, 0},
  {"\"\x7f\"", 0, 1, 0},                          /* raw DEL is fine */
  {"\"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x8e\x89\"", 0, 1, 0},
  {"\"\xc2\x80\xdf\xbf\"", 0, 1, 0},               /* U+0080, U+07FF */
  {"\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"", 0, 1, 0}, /* U+0800 U+D7FF U+E000 U+FFFF */
  {"\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"", 0, 1, 0}, /* U+10000, U+10FFFF */
  {"[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]", 0, 1, 0},    /* depth 16 */
  {"{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
   "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}}}}}}}}}", 0, 1, 0},
  /* grammar that JSON.parse refuses (cJSON takes several of these) */
  {"", 0, 0, "truncated"},
  {" \n ", 0, 0, "truncated"},
  {"\xef\xbb\xbf{}", 0, 0, "bad JSON"},            /* BOM: cJSON skips it */
  {"\x01[]", 0, 0, "bad JSON"},                    /* cJSON: whitespace */
  {"[\x0b" "1]", 0, 0, "bad JSON"},
  {"[1]\x1f", 0, 0, "trailing"},
  {"[1]\0", 4, 0, "trailing"},
  {"{\"a\":1,}", 0, 0, "bad JSON"},
  {"[1,]", 0, 0, "bad JSON"},
  {"[,1]", 0, 0, "bad JSON"},
  {"[1 2]", 0, 0, "bad JSON"},
  {"{\"a\" 1}", 0, 0, "bad JSON"},
  {"{\"a\":}", 0, 0, "bad JSON"},
  {"{a:1}", 0, 0, "bad JSON"},
  {"{1:1}", 0, 0, "bad JSON"},
  {"['a']", 0, 0, "bad JSON"},
  {"[1]x", 0, 0, "trailing"},
  {"[1] [2]", 0, 0, "trailing"},
  {"[1", 0, 0, "truncated"},
  {"{\"a\":1", 0, 0, "truncated"},
  {"[1]]", 0, 0, "trailing"},
  {"[}", 0, 0, "bad JSON"},
  {"01", 0, 0, "trailing"},
  {"-01", 0, 0, "trailing"},
  {"1.", 0, 0, "number"},
  {".5", 0, 0, "bad JSON"},
  {"-.5", 0, 0, "number"},
  {"+1", 0, 0, "bad JSON"},
  {"1e", 0, 0, "number"},
  {"1e+", 0, 0, "number"},
  {"1.e5", 0, 0, "number"},
  {"-", 0, 0, "number"},
  {"0x10", 0, 0, "trailing"},
  {"NaN", 0, 0, "bad JSON"},
  {"Infinity", 0, 0, "bad JSON"},
  {"-Infinity", 0, 0, "number"},
  {"tru", 0, 0, "bad JSON"},
  {"nul", 0, 0, "bad JSON"},
  {"True", 0, 0, "bad JSON"},
  {"\"abc", 0, 0, "unterminated"},
  {"\"abc\\", 0, 0, "unterminated"},
  {"\"\\x41\"", 0, 0, "escape"},
  {"\"\\'\"", 0, 0, "escape"},
  {"\"\\u12\"", 0, 0, "\\u escape"},
  {"\"\\u12g4\"", 0, 0, "\\u escape"},
  {"\"\\u123", 0, 0, "\\u escape"},
  /* raw control characters inside strings */
  {"\"\x01\"", 0, 0, "control character"},
  {"\"\x1f\"", 0, 0, "control character"},
  {"\"a\nb\"", 0, 0, "control character"},
  {"\"a\tb\"", 0, 0, "control character"},
  {"\"a\0b\"", 5, 0, "control character"},
  /* \u0000 and lone surrogates: JSON.parse takes them, so do we (kept in
  ** json.h's internal form; test_internal_forms checks the bytes) */
  {"\"\\u0000\"", 0, 1, 0},
  {"[\"a\\u0000b\"]", 0, 1, 0},
  {"{\"k\\u0000\":\"\\u0000\\u0000\"}", 0, 1, 0},
  {"\"\\ud800\"", 0, 1, 0},
  {"\"\\uDBFFx\"", 0, 1, 0},
  {"\"\\ud800\\u0041\"", 0, 1, 0},
  {"\"\\ud800\\ud800\"", 0, 1, 0},
  {"\"\\ud800\\n\"", 0, 1, 0},
  {"\"\\udc00\"", 0, 1, 0},
  {"\"\\udfff\\ud800\"", 0, 1, 0},
  {"\"\\ud800\\ud800\\udc00\"", 0, 1, 0},
  /* ... but a broken escape after a lone surrogate is still refused */
  {"\"\\ud800\\udc0", 0, 0, "\\u escape"},
  {"\"\\ud800\\udc0g\"", 0, 0, "\\u escape"},
  {"\"\\ud800\\u\"", 0, 0, "\\u escape"},
  {"\"\\ud800\\x\"", 0, 0, "escape"},
  /* the internal forms as raw bytes are not UTF-8: refused, never read
  ** as the escapes */
  {"\"\xc0\x80\"", 0, 0, "UTF-8"},
  {"\"a\xc0\x80\"", 0, 0, "UTF-8"},
  /* invalid UTF-8 */
  {"\"\x80\"", 0, 0, "UTF-8"},                      /* stray continuation */
  {"\"\xbf\"", 0, 0, "UTF-8"},
  {"\"\xc0\xaf\"", 0, 0, "UTF-8"},                  /* overlong '/' */
  {"\"\xc1\xbf\"", 0, 0, "UTF-8"},
  {"\"\xe0\x80\xaf\"", 0, 0, "UTF-8"},              /* overlong, 3 bytes */
  {"\"\xe0\x9f\xbf\"", 0, 0, "UTF-8"},
  {"\"\xf0\x80\x80\xaf\"", 0, 0, "UTF-8"},          /* overlong, 4 bytes */
  {"\"\xf0\x8f\xbf\xbf\"", 0, 0, "UTF-8"},
  {"\"\xed\xa0\x80\"", 0, 0, "UTF-8"},              /* U+D800 as UTF-8 */
  {"\"\xed\xbf\xbf\"", 0, 0, "UTF-8"},              /* U+DFFF as UTF-8 */
  {"\"\xed\xa0\xbd\xed\xb8\x80\"", 0, 0, "UTF-8"},  /* CESU-8 pair */
  {"\"\xf4\x90\x80\x80\"", 0, 0, "UTF-8"},          /* U+110000 */
  {"\"\xf5\x80\x80\x80\"", 0, 0, "UTF-8"},
  {"\"\xf8\x88\x80\x80\x80\"", 0, 0, "UTF-8"},
  {"\"\xfe\"", 0, 0, "UTF-8"},
  {"\"\xff\"", 0, 0, "UTF-8"},
  {"\"\xe6\x97\"", 0, 0, "UTF-8"},                  /* truncated before quote */
  {"\"\xe6\x97x\"", 0, 0, "UTF-8"},
  {"\"\xf0\x9f\x8e\"", 0, 0, "UTF-8"},
  {"\"\xe6", 0, 0, "UTF-8"},                        /* truncated at the end */
  {"\"\xf0\x9f\x8e", 0, 0, "UTF-8"},
  {"\xc3\xa9", 0, 0, "bad JSON"},                   /* non-ASCII outside strings */
  /* nesting */
  {"[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]", 0, 0, "nested too deeply"},  /* 17 */
  {"{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
   "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":[]}}}}}}}}}}}}}}}}", 0, 0, "nested too deeply"},
  /* brackets inside strings do not count */
  {"[\"[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{{{{\"]", 0, 1, 0},
};

static void test_json_check(void) {
  size_t nCase = sizeof aJsonCase / sizeof aJsonCase[0];
  for (size_t k = 0; k < nCase; k++) {
    const jcase *p = &aJsonCase[k];
    size_t n = p->n ? p->n : strlen(p->z);
    const char *zReason = NULL;
    int rc = check_exact(p->z, n, &zReason);
    const char *zReason2 = NULL;
    cJSON *pRoot = parse_exact(p->z, n, &zReason2);
    int ok = p->ok ? (rc == 0 && pRoot != NULL)
                   : (rc == -1 && pRoot == NULL && has(zReason, p->zPart) &&
                      zReason2 == zReason && strncmp(zReason, "invalid: ", 9) == 0);
    if (!ok) {
      fprintf(stderr, "  json case %zu (%s) %s: rc=%d reason=%s\n", k,
              p->ok ? "accept" : "reject", p->z, rc, zReason ? zReason : "(none)");
    }
    CHECK(ok);
    cJSON_Delete(pRoot);
  }

  /* What json_parse hands back. */
  const char *zReason = NULL;
  cJSON *pRoot = parse_str(" {\"a\":\"\\u00e9\\ud83c\\udf89\",\"b\":[1,\"x\"]} \n", &zReason);
  CHECK(pRoot != NULL);
  const cJSON *pA = cJSON_GetObjectItemCaseSensitive(pRoot, "a");
  CHECK(cJSON_IsString(pA) && strcmp(pA->valuestring, "\xc3\xa9\xf0\x9f\x8e\x89") == 0);
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pRoot, "b")) == 2);
  cJSON_Delete(pRoot);
  CHECK(json_parse(NULL, 0, &zReason) == NULL && has(zReason, "invalid:"));
  CHECK(json_check_text(NULL, 0, &zReason) == -1);

  /* A long number (cJSON once cut numbers at 63 characters). */
  char aNum[300];
  aNum[0] = '[';
  aNum[1] = '1';
  aNum[2] = '.';
  memset(aNum + 3, '0', 280);
  aNum[283] = '1';
  aNum[284] = ']';
  pRoot = parse_exact(aNum, 285, &zReason);
  CHECK(pRoot != NULL && cJSON_GetArrayItem(pRoot, 0)->valuedouble == 1.0);
  cJSON_Delete(pRoot);

  /* json_has_duplicate_keys, small objects and large ones (sorted path). */
  pRoot = parse_str("{\"a\":1,\"b\":2,\"a\":3}", &zReason);
  CHECK(pRoot && json_has_duplicate_keys(pRoot) == 1);
  cJSON_Delete(pRoot);
  pRoot = parse_str("{\"a\":1,\"b\":2,\"ab\":3,\"A\":4}", &zReason);
  CHECK(pRoot && json_has_duplicate_keys(pRoot) == 0);
  cJSON_Delete(pRoot);
  pRoot = parse_str("[1,1]", &zReason);
  CHECK(pRoot && json_has_duplicate_keys(pRoot) == 0);
  cJSON_Delete(pRoot);
  /* Nested duplicates are the nested object's business. */
  pRoot = parse_str("{\"a\":{\"x\":1,\"x\":2}}", &zReason);
  CHECK(pRoot && json_has_duplicate_keys(pRoot) == 0);
  cJSON_Delete(pRoot);
  cJSON *pBig = cJSON_CreateObject();
  char zKey[16];
  for (int k = 0; k < 1000; k++) {
    snprintf(zKey, sizeof zKey, "k%d", k);
    cJSON_AddNumberToObject(pBig, zKey, k);
  }
  CHECK(json_has_duplicate_keys(pBig) == 0);
  cJSON_AddNumberToObject(pBig, "k500", 1);
  CHECK(json_has_duplicate_keys(pBig) == 1);
  cJSON_Delete(pBig);
  CHECK(json_has_duplicate_keys(NULL) == 0);

  /* json_check_utf8 directly. */
  CHECK(json_check_utf8("", 0) == 0);
  CHECK(json_check_utf8("a\xc3\xa9\xf4\x8f\xbf\xbf", 7) == 0);
  CHECK(json_check_utf8("\xc3", 1) == -1);
  CHECK(json_check_utf8("\xed\xa0\x80", 3) == -1);
  CHECK(json_check_utf8("\xf4\x90\x80\x80", 4) == -1);
}

/* ---- \u0000 and lone surrogates: the internal form --------------------- */

/* json_parse of the JSON string literal zText must give exactly the bytes
** z[0..n), and strbuf_json_string must print those bytes as zPrinted
** (JSON.stringify's text for the same string). */
static void check_form(const char *zText, const char *z, size_t n, const char *zPrinted) {
  const char *zReason = NULL;
  cJSON *pRoot = parse_str(zText, &zReason);
  int ok = cJSON_IsString(pRoot) && strlen(pRoot->valuestring) == n &&
           memcmp(pRoot->valuestring, z, n) == 0;
  if (!ok) fprintf(stderr, "  internal form of %s: %s\n", zText, zReason ? zReason : "wrong bytes");
  CHECK(ok);
  cJSON_Delete(pRoot);
  CHECK(json_check_string(z, n) == 0);
  strbuf sb;
  strbuf_init(&sb);
  strbuf_json_string(&sb, z, n);
  char *zOut = strbuf_finish(&sb);
  ok = zOut && strcmp(zOut, zPrinted) == 0;
  if (!ok) fprintf(stderr, "  printed %s as %s, want %s\n", zText, zOut ? zOut : "(oom)", zPrinted);
  CHECK(ok);
  free(zOut);
}

static void test_internal_forms(void) {
  /* The expected printed texts are node's JSON.stringify of the strings. */
  check_form("\"\\u0000\"", "\xc0\x80", 2, "\"\\u0000\"");
  check_form("\"a\\u0000b\\u0000\"", "a\xc0\x80" "b\xc0\x80", 6, "\"a\\u0000b\\u0000\"");
  check_form("\"\\ud800\"", "\xed\xa0\x80", 3, "\"\\ud800\"");
  check_form("\"\\uD83D\"", "\xed\xa0\xbd", 3, "\"\\ud83d\"");   /* printed lowercase */
  check_form("\"\\udbff\"", "\xed\xaf\xbf", 3, "\"\\udbff\"");
  check_form("\"\\udc00\"", "\xed\xb0\x80", 3, "\"\\udc00\"");
  check_form("\"\\uDFFF\"", "\xed\xbf\xbf", 3, "\"\\udfff\"");
  /* A low half before a high one: two lone halves, not a pair. */
  check_form("\"\\ude00\\ud83d\"", "\xed\xb8\x80\xed\xa0\xbd", 6, "\"\\ude00\\ud83d\"");
  /* A pair is one character, printed verbatim, lone halves around it. */
  check_form("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");
  check_form("\"\\ud83d\\ud83d\\ude00\\ude00\"", "\xed\xa0\xbd\xf0\x9f\x98\x80\xed\xb8\x80", 10,
             "\"\\ud83d\xf0\x9f\x98\x80\\ude00\"");
  check_form("\"\\ud800x\\udc00\"", "\xed\xa0\x80x\xed\xb0\x80", 7, "\"\\ud800x\\udc00\"");
  /* Escaped backslashes and quotes around them are left alone. */
  check_form("\"\\\\u0000\"", "\\u0000", 6, "\"\\\\u0000\"");
  check_form("\"\\\\\\u0000\\\"\\ud800\\\\\"", "\\\xc0\x80\"\xed\xa0\x80\\", 8,
             "\"\\\\\\u0000\\\"\\ud800\\\\\"");
  /* Control characters, DEL, U+2028 (JSON.stringify escapes only the
  ** controls). */
  check_form("\"\\u0001\\u001f\\u007f\\u2028\\b\"", "\x01\x1f\x7f\xe2\x80\xa8\b", 7,
             "\"\\u0001\\u001f\x7f\xe2\x80\xa8\\b\"");

  /* Keys get the same treatment, so "k\u0000" and "k" are two keys. */
  const char *zReason = NULL;
  cJSON *pRoot = parse_str("{\"k\\u0000\":1,\"k\":2,\"\\ud800\":3}", &zReason);
  CHECK(pRoot != NULL && json_has_duplicate_keys(pRoot) == 0);
  CHECK(pRoot && cJSON_GetObjectItemCaseSensitive(pRoot, "k\xc0\x80")->valueint == 1);
  CHECK(pRoot && cJSON_GetObjectItemCaseSensitive(pRoot, "\xed\xa0\x80")->valueint == 3);
  cJSON_Delete(pRoot);
  pRoot = parse_str("{\"\\u0000\":1,\"\\u0000\":2}", &zReason);
  CHECK(pRoot && json_has_duplicate_keys(pRoot) == 1);
  cJSON_Delete(pRoot);
  /* The escapes inside a larger document, and whitespace after it. */
  pRoot = parse_str(" [\"\\u0000\", {\"a\" : \"x\\udc00y\"}, 1] \n", &zReason);
  CHECK(pRoot && strcmp(cJSON_GetArrayItem(pRoot, 0)->valuestring, "\xc0\x80") == 0);
  CHECK(pRoot && strcmp(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pRoot, 1), "a")->valuestring,
                        "x\xed\xb0\x80y") == 0);
  CHECK(pRoot && cJSON_GetArrayItem(pRoot, 2)->valueint == 1);
  cJSON_Delete(pRoot);
  CHECK(parse_str("[\"\\u0000\"] x", &zReason) == NULL && has(zReason, "trailing"));

  /* json_check_string: UTF-8 plus the two forms, nothing else. */
  CHECK(json_check_string("", 0) == 0);
  CHECK(json_check_string("a\xc3\xa9\xf4\x8f\xbf\xbf", 7) == 0);
  CHECK(json_check_string("\xc0\x80\xed\xbf\xbf\xed\xa0\x80", 8) == 0);
  CHECK(json_check_string("\xed\xb0\x80\xed\xa0\x80", 6) == 0);   /* low, high */
  CHECK(json_check_string("\xed\xa0\x80x\xed\xb0\x80", 7) == 0);
  CHECK(json_check_string("\xed\xa0\xbd\xed\xb8\x80", 6) == -1);  /* CESU-8 pair */
  CHECK(json_check_string("\xc0\xaf", 2) == -1);                  /* overlong '/' */
  CHECK(json_check_string("\xc0", 1) == -1);
  CHECK(json_check_string("\xc1\x80", 2) == -1);
  CHECK(json_check_string("\xe0\x80\x80", 3) == -1);
  CHECK(json_check_string("\xed\xa0", 2) == -1);
  CHECK(json_check_string("\xed\xa0x", 3) == -1);
  CHECK(json_check_string("\xf4\x90\x80\x80", 4) == -1);
  /* ... while json_check_utf8, for raw text, refuses the forms too. */
  CHECK(json_check_utf8("\xc0\x80", 2) == -1);
  CHECK(json_check_utf8("\xed\xa0\x80", 3) == -1);
}

/* ---- json_get_int -------------------------------------------------------- */

/* json_get_int on the number text z; returns its code, value in *pOut. */
static int get_int_text(const char *z, long long lo, long long hi, long long *pOut) {
  const char *zReason;
  cJSON *pRoot = parse_exact(z, strlen(z), &zReason);
  if (!pRoot) return -2;
  int rc = json_get_int(pRoot, lo, hi, pOut);
  cJSON_Delete(pRoot);
  return rc;
}

static void test_json_get_int(void) {
  const long long MAX53 = 9007199254740991LL;
  long long v = 42;
  CHECK(get_int_text("0", 0, MAX53, &v) == 0 && v == 0);
  CHECK(get_int_text("-0", 0, MAX53, &v) == 0 && v == 0);
  CHECK(get_int_text("1e3", 0, MAX53, &v) == 0 && v == 1000);
  CHECK(get_int_text("1.0", 0, MAX53, &v) == 0 && v == 1);
  CHECK(get_int_text("0.1e1", 0, MAX53, &v) == 0 && v == 1);
  CHECK(get_int_text("1700000000", 0, MAX53, &v) == 0 && v == 1700000000);
  CHECK(get_int_text("9007199254740991", 0, MAX53, &v) == 0 && v == MAX53);
  v = 42;
  CHECK(get_int_text("9007199254740992", 0, MAX53, &v) == -1 && v == 42);
  /* JS reads ...993 as 2^53 too: still out of range. */
  CHECK(get_int_text("9007199254740993", 0, MAX53, &v) == -1);
  CHECK(get_int_text("1.5", 0, MAX53, &v) == -1);
  CHECK(get_int_text("-1", 0, MAX53, &v) == -1);
  CHECK(get_int_text("-1", -5, 5, &v) == 0 && v == -1);
  CHECK(get_int_text("0.5", -5, 5, &v) == -1);
  CHECK(get_int_text("-0.5", -5, 5, &v) == -1);
  CHECK(get_int_text("4.9e-324", 0, 5, &v) == -1);      /* smallest denormal */
  CHECK(get_int_text("1e-400", 0, 5, &v) == 0 && v == 0); /* JS: 0 too */
  CHECK(get_int_text("1e400", 0, MAX53, &v) == -1);     /* Infinity */
  CHECK(get_int_text("-1e400", LLONG_MIN, LLONG_MAX, &v) == -1);
  CHECK(get_int_text("65535", 0, 65535, &v) == 0 && v == 65535);
  CHECK(get_int_text("65536", 0, 65535, &v) == -1);
  /* Outside long long: refused without an undefined conversion. */
  CHECK(get_int_text("9223372036854775807", LLONG_MIN, LLONG_MAX, &v) == -1);
  CHECK(get_int_text("9223372036854775808", LLONG_MIN, LLONG_MAX, &v) == -1);
  CHECK(get_int_text("1e19", LLONG_MIN, LLONG_MAX, &v) == -1);
  CHECK(get_int_text("-9223372036854775808", LLONG_MIN, LLONG_MAX, &v) == 0 && v == LLONG_MIN);
  CHECK(get_int_text("-9223372036854777856", LLONG_MIN, LLONG_MAX, &v) == -1);
  CHECK(get_int_text("9223372036854774784", LLONG_MIN, LLONG_MAX, &v) == 0 &&
        v == 9223372036854774784LL);
  /* Not numbers. */
  CHECK(get_int_text("\"5\"", 0, 10, &v) == -1);
  CHECK(get_int_text("null", 0, 10, &v) == -1);
  CHECK(get_int_text("true", 0, 10, &v) == -1);
  CHECK(get_int_text("[5]", 0, 10, &v) == -1);
  CHECK(json_get_int(NULL, 0, 10, &v) == -1);
  /* NaN and infinities only reach us from trees built in C. */
  /* (cJSON_CreateNumber(NAN) itself converts NaN to int: set it after.) */
  cJSON *pNum = cJSON_CreateNumber(0);
  pNum->valuedouble = NAN;
  CHECK(json_get_int(pNum, LLONG_MIN, LLONG_MAX, &v) == -1);
  cJSON_Delete(pNum);
  pNum = cJSON_CreateNumber(INFINITY);
  CHECK(json_get_int(pNum, LLONG_MIN, LLONG_MAX, &v) == -1);
  cJSON_Delete(pNum);
  pNum = cJSON_CreateNumber(-INFINITY);
  CHECK(json_get_int(pNum, LLONG_MIN, LLONG_MAX, &v) == -1);
  cJSON_Delete(pNum);
}

/* ---- real events from nostr-tools --------------------------------------- */

/* Made with nostr-tools 2.25.2 by this script (node, ESM):
**   import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
**   const ev = finalizeEvent(draft, generateSecretKey());
**   console.log(JSON.stringify({id: ev.id, pubkey: ev.pubkey,
**     created_at: ev.created_at, kind: ev.kind, tags: ev.tags,
**     content: ev.content, sig: ev.sig}));
** with drafts: (1) kind 1, content with newlines, CRLF, quotes,
** backslashes, a tab, U+0001, DEL, '/', emoji (with a skin-tone modifier),
** Japanese and U+2028/U+2029, tags holding the same kinds of characters and
** an empty tag; (2) a kind 0 profile whose content is itself JSON; (3) a
** kind 7 reaction at created_at 0; (4) created_at 2^53-1 and every
** control character U+0001..U+001F in both a tag and the content, then
** U+007F, U+0080, U+00FF, U+FFFF, U+10FFFF; (5) lone surrogates, high and
** low, in content and tags (a truncated emoji, a reversed pair, a pair
** followed by a half) and U+0000, as JSON.stringify escapes them; (6)
** content "\u0000" alone; (7) a high half followed by a pair, and U+10FFFF
** followed by a lone low half. */
static const char *aRealEvent[] = {
  "{\"id\":\"8047a7c9903838d325e1e111ccf2b207b34bca107f0f8f6519361812550"
  "98efe\",\"pubkey\":\"1b1b46f1e780d7c97a8d8570a74b7a034589098b71cf878d"
  "eecaa03a05fbc721\",\"created_at\":1700000000,\"kind\":1,\"tags\":[[\""
  "e\",\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
  "a\",\"wss://relay.example/\",\"reply\"],[\"p\",\"bbbbbbbbbbbbbbbbbbbb"
  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"],[\"t\",\"\346\227\245"
  "\346\234\254\350\252\236\"],[\"x\",\"q\\\"uote \\\\back\\nline\\ttab\\"
  "u0001/\"],[]],\"content\":\"line one\\nline two\\r\\n\\\"quoted\\\" a"
  "nd \\\\backslash\\\\ and a\\ttab, \\u0001 ctl, \177 del, / slash, emo"
  "ji \360\237\216\211\360\237\221\215\360\237\217\275, \346\227\245\346"
  "\234\254\350\252\236\343\201\256\343\203\206\343\202\255\343\202\271\343"
  "\203\210, \342\200\250\342\200\251 seps\",\"sig\":\"86d6673d9201ee256"
  "0583d6c1bdd14185d971044ee82e2265f495788de91ba8f83467362612b45c5e768ac"
  "e5c3a1ae049597319a5920ec2ab16fce3a0825d6fe\"}",
  "{\"id\":\"a2b91fb03534f8e74e142b45dc62edf800c50923409e75ab0add311088f"
  "b1fe1\",\"pubkey\":\"845fc928b57aceacb3375c42913873c90dd074930368b7e8"
  "549d753eb0783afe\",\"created_at\":1712345678,\"kind\":0,\"tags\":[],\""
  "content\":\"{\\\"name\\\":\\\"Alice\\\",\\\"about\\\":\\\"hello\\\\nw"
  "orld \\\\\\\"x\\\\\\\"\\\",\\\"picture\\\":\\\"https://example.com/a."
  "png\\\"}\",\"sig\":\"8ba4d447fb4ff947d177b6184c0000bae665e2a0593f2c6f"
  "7b0161d2660d2225c5210f341437f79662d56058ad7df0088fde5dd04c6a153c43992"
  "613a680b75f\"}",
  "{\"id\":\"5df49a64c566a11c3792a057316a31127ece29a3a05730fbdfe9e4923d3"
  "25d06\",\"pubkey\":\"8b20d7627666dd77b5b8698fb08a45b39352da1d1f33f43b"
  "7d0e1663301e1602\",\"created_at\":0,\"kind\":7,\"tags\":[[\"e\",\"ccc"
  "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"],[\"p"
  "\",\"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
  "\"],[\"k\",\"1\"]],\"content\":\"+\",\"sig\":\"e030587cd115d83709afa7"
  "4372388383fe7b3d414e62f51acc4ee8273780cd1c1110c7dad3cff4d100678243d70"
  "a9b9b8dfcfe20c15bb68f10866f22076d6238\"}",
  "{\"id\":\"d204feb192b114f80a18afb5de7b068cbf66d6d612208de16a8ebb9912f"
  "87f1e\",\"pubkey\":\"bb065bdcd63c4989c9a5e8c7149ad0ee5eedff4152c18895"
  "14f6eae18e3e9f15\",\"created_at\":9007199254740991,\"kind\":1,\"tags\""
  ":[[\"ctl\",\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\"
  "n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u001"
  "5\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u00"
  "1f\"]],\"content\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u000"
  "7\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0"
  "014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u"
  "001e\\u001f\177\302\200\303\277\357\277\277\364\217\277\277\",\"sig\""
  ":\"4e11a94b179c43c4f4f0db74bea7cdc770b319e008c314688a7505cdff21fa499a"
  "a14213b3aebbb83443b3137a7c1b6a77b27f0c082c498ababaea0d629fa724\"}",  "{\"id\":\"c54ee433baf7532b84f19e4f18c02a70674ab7d15d328f6282091edc35"
  "d61161\",\"pubkey\":\"e14edc28cc4ec105310cf849e17b6a73c0305f1ad8b85a"
  "66d61429925d1656bb\",\"created_at\":1700000000,\"kind\":1,\"tags\":["
  "[\"t\",\"cut \\ud83d\"],[\"x\",\"\\udc00\",\"\\u0000\"]],\"content\""
  ":\"truncated emoji \\ud83d, lone low \\ude00, reversed \\ude00\\ud83"
  "d, pair \360\237\230\200, pair then half \360\237\230\200\\ud83d, NU"
  "L \\u0000 end\",\"sig\":\"41703e54e0f6f0c87f3782cd10209fbff417ed2f67"
  "38ff9e4d47be7fee04bb30c15e6e55f53a8a112dfd6686e54561459bd658289f7f9b"
  "df025be2e2ed129b7d\"}",
  "{\"id\":\"1943bc76b45f129f084d2d082ac17c10917b859883dd780cd4d2f4c4ac"
  "b311ca\",\"pubkey\":\"051225e79e480891c3ef87152a2d5e3790b77145eb83be"
  "ce0ea85809f1fe9de6\",\"created_at\":1700000001,\"kind\":1,\"tags\":["
  "],\"content\":\"\\u0000\",\"sig\":\"3f674266d28508cd0a59f3d78d47475c"
  "d1fa7bc7df4aa3756d2730085508ea16a44568a544f6612e6cc1e3b6c09d9038b990"
  "09a78bb4453df893635667b222c5\"}",
  "{\"id\":\"de33f714db86afe00b1a6898b4e9ed4f82f04a46331e5ea4d5ce187dfa"
  "bae146\",\"pubkey\":\"1c9fd8176bf9584ad76271a021ee59e1d937e56528fa8f"
  "ac29b36a078559dcc2\",\"created_at\":1700000002,\"kind\":1,\"tags\":["
  "[\"t\",\"\364\217\277\277\\udfff\"]],\"content\":\"\\ud800\360\220"
  "\200\200\",\"sig\":\"d6e1b90a72edeea0810569249416ad4e3e31d50743f111d"
  "ecf3ad0d723f128d47aef11d08a26d8a779fb8f6625ab033fc60e8128e9d5c5d9099"
  "d5fb2cb28fd0c\"}",
};

static void test_real_events(void) {
  size_t nEvent = sizeof aRealEvent / sizeof aRealEvent[0];
  CHECK(nEvent >= 3);
  for (size_t k = 0; k < nEvent; k++) {
    const char *zJson = aRealEvent[k];
    event ev;
    cJSON *pRoot;
    int hasId = 0;
    const char *zReason = NULL;
    int rc = read_event(zJson, &ev, &hasId, &pRoot, &zReason);
    if (rc) fprintf(stderr, "  real event %zu: %s\n", k, zReason);
    CHECK(rc == 0);
    CHECK(hasId == 1);
    if (rc == 0) {
      unsigned char id[32];
      CHECK(event_compute_id(&ev, id) == 0);
      CHECK(memcmp(id, ev.id, 32) == 0);
      CHECK(event_check_id(&ev, &zReason) == 0);
      CHECK(event_check_sig(&ev, &zReason) == 0);
      CHECK(event_check_time(&ev, 1700000000, &zReason) == 0 || ev.created_at > 1700000900);
      /* Printing it back gives nostr-tools' text exactly. */
      strbuf sb;
      strbuf_init(&sb);
      event_to_json(&ev, &sb);
      char *zOut = strbuf_finish(&sb);
      CHECK(zOut && strcmp(zOut, zJson) == 0);
      free(zOut);
      /* Any single flipped bit in id, pubkey or sig is caught. */
      event bad = ev;
      bad.id[31] ^= 0x01;
      CHECK(event_check_id(&bad, &zReason) == -1 &&
            strcmp(zReason, "invalid: id does not match the event") == 0);
      CHECK(event_check_sig(&bad, &zReason) == -1 &&
            strcmp(zReason, "invalid: bad signature") == 0);
      bad = ev;
      bad.sig[0] ^= 0x80;
      CHECK(event_check_id(&bad, &zReason) == 0);
      CHECK(event_check_sig(&bad, &zReason) == -1);
      bad = ev;
      bad.sig[63] ^= 0x01;
      CHECK(event_check_sig(&bad, &zReason) == -1);
      bad = ev;
      bad.pubkey[5] ^= 0x10;
      CHECK(event_check_id(&bad, &zReason) == -1);
      CHECK(event_check_sig(&bad, &zReason) == -1);
    }
    cJSON_Delete(pRoot);
  }
  /* Their kind-7 reaction and a change to one content byte. */
  event ev;
  cJSON *pRoot;
  int hasId;
  const char *zReason;
  CHECK(read_event(aRealEvent[2], &ev, &hasId, &pRoot, &zReason) == 0);
  ev.content = "-";
  ev.ncontent = 1;
  CHECK(event_check_id(&ev, &zReason) == -1);
  cJSON_Delete(pRoot);
}

/* ---- event_from_json refusals ------------------------------------------- */

/* A valid event (nostr-tools' kind 7) assembled from parts, so that each
** test below can replace exactly one part. */
#define EV_ID "\"id\":\"5df49a64c566a11c3792a057316a31127ece29a3a05730fbdfe9e4923d325d06\""
#define EV_PUBKEY "\"pubkey\":\"8b20d7627666dd77b5b8698fb08a45b39352da1d1f33f43b7d0e1663301e1602\""
#define EV_CREATED "\"created_at\":0"
#define EV_KIND "\"kind\":7"
#define EV_TAGS "\"tags\":[[\"e\",\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"]," \
  "[\"p\",\"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"],[\"k\",\"1\"]]"
#define EV_CONTENT "\"content\":\"+\""
#define EV_SIG "\"sig\":\"e030587cd115d83709afa74372388383fe7b3d414e62f51acc4ee8273780cd1c" \
  "1110c7dad3cff4d100678243d70a9b9b8dfcfe20c15bb68f10866f22076d6238\""
#define EV(id, pk, ca, kind, tags, content, sig) \
  "{" id "," pk "," ca "," kind "," tags "," content "," sig "}"

/* 1 when zJson is refused with exactly zWant. */
static int refused(const char *zJson, const char *zWant) {
  const char *zGot = reject_reason(zJson, NULL);
  if (zGot && strcmp(zGot, zWant) == 0) return 1;
  fprintf(stderr, "  wanted \"%s\", got \"%s\"\n", zWant, zGot ? zGot : "(accepted)");
  return 0;
}

/* Makes {"tags":[<nTag> tags]...} with the other fields valid; caller frees. */
static char *event_with_tags(int nTag) {
  strbuf sb;
  strbuf_init(&sb);
  strbuf_puts(&sb, "{" EV_ID "," EV_PUBKEY "," EV_CREATED "," EV_KIND ",\"tags\":[");
  for (int k = 0; k < nTag; k++) strbuf_puts(&sb, k ? ",[\"t\",\"x\"]" : "[\"t\",\"x\"]");
  strbuf_puts(&sb, "]," EV_CONTENT "," EV_SIG "}");
  return strbuf_finish(&sb);
}

/* Makes an event whose content is nContent 'a's; caller frees. */
static char *event_with_content(size_t nContent) {
  strbuf sb;
  strbuf_init(&sb);
  strbuf_puts(&sb, "{" EV_ID "," EV_PUBKEY "," EV_CREATED "," EV_KIND "," EV_TAGS ",\"content\":\"");
  for (size_t k = 0; k < nContent; k++) strbuf_putc(&sb, 'a');
  strbuf_puts(&sb, "\"," EV_SIG "}");
  return strbuf_finish(&sb);
}

static void test_from_json_rules(void) {
  int hasId = -1;
  /* The base event is valid as it stands, and so is a reordering of it
  ** with unknown fields added. */
  CHECK(reject_reason(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG), &hasId) == NULL);
  CHECK(hasId == 1);
  CHECK(reject_reason("{\"extra\":[1,{\"x\":null}]," EV_SIG "," EV_CONTENT "," EV_TAGS "," EV_KIND ","
                      EV_CREATED "," EV_PUBKEY "," EV_ID ",\"seen\":true}", &hasId) == NULL);

  /* Not an object. */
  CHECK(refused("[]", "invalid: event must be a JSON object"));
  CHECK(refused("\"event\"", "invalid: event must be a JSON object"));
  CHECK(refused("null", "invalid: event must be a JSON object"));

  /* Duplicate keys: ambiguous between JSON.parse and cJSON. */
  CHECK(refused("{" EV_ID "," EV_PUBKEY "," EV_CREATED "," EV_KIND "," EV_TAGS "," EV_CONTENT ","
                EV_SIG ",\"kind\":1}", "invalid: duplicate key in event"));
  CHECK(reject_reason("{" EV_ID "," EV_PUBKEY "," EV_CREATED "," EV_KIND "," EV_TAGS "," EV_CONTENT ","
                      EV_SIG ",\"extra\":1,\"extra\":2}", &hasId) != NULL);
  CHECK(hasId == 1);  /* the id is still known, so OK can carry it */
  CHECK(refused("{" EV_ID "," EV_PUBKEY "," EV_CREATED "," EV_KIND "," EV_TAGS "," EV_CONTENT ","
                EV_SIG "," EV_ID "}", "invalid: duplicate key in event"));
  reject_reason("{" EV_ID "," EV_PUBKEY "," EV_CREATED "," EV_KIND "," EV_TAGS "," EV_CONTENT ","
                EV_SIG "," EV_ID "}", &hasId);
  CHECK(hasId == 0);  /* "id" twice: no single id to answer with */
  /* The same key spelled with an escape is the same key. */
  CHECK(refused("{" EV_ID "," EV_PUBKEY "," EV_CREATED "," EV_KIND "," EV_TAGS "," EV_CONTENT ","
                EV_SIG ",\"\\u006bind\":7}", "invalid: duplicate key in event"));

  /* id */
  CHECK(refused(EV("\"x\":1", EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                "invalid: missing id"));
  CHECK(refused(EV("\"id\":\"5DF49A64C566A11C3792A057316A31127ECE29A3A05730FBDFE9E4923D325D06\"",
                   EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                "invalid: id must be 64 lowercase hex"));
  CHECK(refused(EV("\"id\":\"5df49a64c566a11c3792a057316a31127ece29a3a05730fbdfe9e4923d325d0\"",
                   EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                "invalid: id must be 64 lowercase hex"));
  CHECK(refused(EV("\"id\":\"5df49a64c566a11c3792a057316a31127ece29a3a05730fbdfe9e4923d325d066\"",
                   EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                "invalid: id must be 64 lowercase hex"));
  CHECK(refused(EV("\"id\":\"5df49a64c566a11c3792a057316a31127ece29a3a05730fbdfe9e4923d325d0g\"",
                   EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                "invalid: id must be 64 lowercase hex"));
  CHECK(refused(EV("\"id\":12", EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                "invalid: id must be 64 lowercase hex"));
  reject_reason(EV("\"id\":12", EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG), &hasId);
  CHECK(hasId == 0);

  /* pubkey */
  CHECK(refused(EV(EV_ID, "\"pk\":1", EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                "invalid: missing pubkey"));
  CHECK(refused(EV(EV_ID, "\"pubkey\":\"8B20d7627666dd77b5b8698fb08a45b39352da1d1f33f43b7d0e1663301e1602\"",
                   EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                "invalid: pubkey must be 64 lowercase hex"));
  CHECK(refused(EV(EV_ID, "\"pubkey\":null", EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                "invalid: pubkey must be 64 lowercase hex"));
  /* The id was fine, so it is reported even though the event is not. */
  reject_reason(EV(EV_ID, "\"pubkey\":null", EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG), &hasId);
  CHECK(hasId == 1);

  /* sig */
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT, "\"s\":0"),
                "invalid: missing sig"));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT,
                   "\"sig\":\"e030587cd115d83709afa74372388383fe7b3d414e62f51acc4ee8273780cd1c"
                   "1110c7dad3cff4d100678243d70a9b9b8dfcfe20c15bb68f10866f22076d623\""),
                "invalid: sig must be 128 lowercase hex"));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, EV_CONTENT,
                   "\"sig\":\"E030587cd115d83709afa74372388383fe7b3d414e62f51acc4ee8273780cd1c"
                   "1110c7dad3cff4d100678243d70a9b9b8dfcfe20c15bb68f10866f22076d6238\""),
                "invalid: sig must be 128 lowercase hex"));

  /* created_at */
  const char *zCa = "invalid: created_at must be an integer from 0 to 2^53-1";
  CHECK(refused(EV(EV_ID, EV_PUBKEY, "\"created\":0", EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                "invalid: missing created_at"));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, "\"created_at\":-1", EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG), zCa));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, "\"created_at\":1.5", EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG), zCa));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, "\"created_at\":\"0\"", EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG), zCa));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, "\"created_at\":9007199254740992", EV_KIND, EV_TAGS, EV_CONTENT,
                   EV_SIG), zCa));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, "\"created_at\":1e400", EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG), zCa));
  /* 0e5 is the integer 0 to JavaScript too; the event stays valid. */
  CHECK(reject_reason(EV(EV_ID, EV_PUBKEY, "\"created_at\":0e5", EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                      NULL) == NULL);
  {
    event ev;
    cJSON *pRoot;
    const char *zReason;
    CHECK(read_event(EV(EV_ID, EV_PUBKEY, "\"created_at\":1e3", EV_KIND, EV_TAGS, EV_CONTENT, EV_SIG),
                     &ev, &hasId, &pRoot, &zReason) == 0);
    CHECK(ev.created_at == 1000);
    CHECK(event_check_id(&ev, &zReason) == -1);  /* signed for created_at 0 */
    cJSON_Delete(pRoot);
  }

  /* kind */
  const char *zKind = "invalid: kind must be an integer from 0 to 65535";
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, "\"knd\":7", EV_TAGS, EV_CONTENT, EV_SIG),
                "invalid: missing kind"));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, "\"kind\":65536", EV_TAGS, EV_CONTENT, EV_SIG), zKind));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, "\"kind\":-1", EV_TAGS, EV_CONTENT, EV_SIG), zKind));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, "\"kind\":7.5", EV_TAGS, EV_CONTENT, EV_SIG), zKind));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, "\"kind\":\"7\"", EV_TAGS, EV_CONTENT, EV_SIG), zKind));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, "\"kind\":true", EV_TAGS, EV_CONTENT, EV_SIG), zKind));
  CHECK(reject_reason(EV(EV_ID, EV_PUBKEY, EV_CREATED, "\"kind\":65535", EV_TAGS, EV_CONTENT, EV_SIG),
                      NULL) == NULL);

  /* tags */
  const char *zShape = "invalid: tags must be arrays of strings";
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, "\"tag\":[]", EV_CONTENT, EV_SIG),
                "invalid: missing tags"));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, "\"tags\":{}", EV_CONTENT, EV_SIG),
                "invalid: tags must be an array"));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, "\"tags\":\"e\"", EV_CONTENT, EV_SIG),
                "invalid: tags must be an array"));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, "\"tags\":[\"e\"]", EV_CONTENT, EV_SIG), zShape));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, "\"tags\":[[\"e\",1]]", EV_CONTENT, EV_SIG),
                zShape));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, "\"tags\":[[\"e\",null]]", EV_CONTENT, EV_SIG),
                zShape));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, "\"tags\":[[[\"e\"]]]", EV_CONTENT, EV_SIG),
                zShape));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, "\"tags\":[[],{}]", EV_CONTENT, EV_SIG),
                zShape));
  char *z = event_with_tags(2000);
  /* 2000 tags pass the field rules (the id, made for other tags, would
  ** not match, but event_from_json leaves that to event_check_id). */
  CHECK(z && reject_reason(z, NULL) == NULL);
  free(z);
  z = event_with_tags(2001);
  CHECK(z && refused(z, "invalid: more than 2000 tags"));
  free(z);

  /* content */
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, "\"text\":\"+\"", EV_SIG),
                "invalid: missing content"));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, "\"content\":1", EV_SIG),
                "invalid: content must be a string"));
  CHECK(refused(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS, "\"content\":[\"+\"]", EV_SIG),
                "invalid: content must be a string"));
  z = event_with_content(EVENT_MAX_CONTENT);
  CHECK(z && reject_reason(z, NULL) == NULL);
  free(z);
  z = event_with_content(EVENT_MAX_CONTENT + 1);
  CHECK(z && refused(z, "invalid: content over 64 KiB"));
  free(z);
  /* The limit is on bytes after unescaping: 65536 bytes written as
  ** 16384 \u00e9 escapes (2 bytes each) plus 32768 'a's is fine... */
  strbuf sb;
  strbuf_init(&sb);
  strbuf_puts(&sb, "{" EV_ID "," EV_PUBKEY "," EV_CREATED "," EV_KIND "," EV_TAGS ",\"content\":\"");
  for (int k = 0; k < 16384; k++) strbuf_puts(&sb, "\\u00e9");
  for (int k = 0; k < 32768; k++) strbuf_putc(&sb, 'a');
  strbuf_puts(&sb, "\"," EV_SIG "}");
  z = strbuf_finish(&sb);
  CHECK(z && reject_reason(z, NULL) == NULL);
  free(z);
  /* ...and one more 'a' is not. */
  strbuf_init(&sb);
  strbuf_puts(&sb, "{" EV_ID "," EV_PUBKEY "," EV_CREATED "," EV_KIND "," EV_TAGS ",\"content\":\"");
  for (int k = 0; k < 16384; k++) strbuf_puts(&sb, "\\u00e9");
  for (int k = 0; k < 32769; k++) strbuf_putc(&sb, 'a');
  strbuf_puts(&sb, "\"," EV_SIG "}");
  z = strbuf_finish(&sb);
  CHECK(z && refused(z, "invalid: content over 64 KiB"));
  free(z);
}

/* Trees that did not come through json_parse: cJSON alone is lenient, and
** event_from_json must still refuse or at least never store altered text. */
static void test_from_cjson_directly(void) {
  event ev;
  int hasId;
  const char *zReason = NULL;
  /* Invalid UTF-8 in content and in a tag. */
  cJSON *pRoot = cJSON_Parse(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS,
                                "\"content\":\"\xc0\xaf\"", EV_SIG));
  CHECK(pRoot != NULL);
  CHECK(event_from_json(&ev, pRoot, &hasId, &zReason) == -1 &&
        strcmp(zReason, "invalid: content is not valid UTF-8") == 0);
  cJSON_Delete(pRoot);
  /* A CESU-8 pair (two 3-byte halves): json_parse never makes one, and
  ** it would print as two escapes where JSON.stringify prints the pair. */
  pRoot = cJSON_Parse(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND,
                         "\"tags\":[[\"t\",\"\xed\xa0\xbd\xed\xb8\x80\"]]", EV_CONTENT, EV_SIG));
  CHECK(pRoot != NULL);
  CHECK(event_from_json(&ev, pRoot, &hasId, &zReason) == -1 &&
        strcmp(zReason, "invalid: tag is not valid UTF-8") == 0);
  cJSON_Delete(pRoot);
  pRoot = cJSON_Parse(EV(EV_ID, EV_PUBKEY, EV_CREATED, EV_KIND, EV_TAGS,
                         "\"content\":\"\xed\xa0\xbd\xed\xb8\x80\"", EV_SIG));
  CHECK(pRoot != NULL);
  CHECK(event_from_json(&ev, pRoot, &hasId, &zReason) == -1 &&
        strcmp(zReason, "invalid: content is not valid UTF-8") == 0);
  cJSON_Delete(pRoot);

  /* "a\u0000b": cJSON alone keeps only "a". Whoever signed "a\u0000b"
  ** made an id over all three characters, so the cut event fails the id
  ** check; json_parse keeps all three, and the id matches. */
  const char *zCanon =
      "[0,\"8b20d7627666dd77b5b8698fb08a45b39352da1d1f33f43b7d0e1663301e1602\",0,7,[],"
      "\"a\\u0000b\"]";
  unsigned char id[32];
  char zId[65];
  sha256(zCanon, strlen(zCanon), id);
  hex_encode(id, 32, zId);
  strbuf sb;
  strbuf_init(&sb);
  strbuf_puts(&sb, "{\"id\":\"");
  strbuf_puts(&sb, zId);
  strbuf_puts(&sb, "\"," EV_PUBKEY "," EV_CREATED "," EV_KIND ",\"tags\":[],\"content\":\"a\\u0000b\","
              EV_SIG "}");
  char *z = strbuf_finish(&sb);
  CHECK(z != NULL);
  pRoot = json_parse(z, strlen(z), &zReason);
  CHECK(pRoot != NULL);
  CHECK(pRoot && event_from_json(&ev, pRoot, &hasId, &zReason) == 0);
  CHECK(pRoot && ev.ncontent == 4 && memcmp(ev.content, "a\xc0\x80" "b", 4) == 0);
  CHECK(pRoot && event_check_id(&ev, &zReason) == 0);
  cJSON_Delete(pRoot);
  pRoot = cJSON_Parse(z);
  CHECK(pRoot != NULL);
  CHECK(event_from_json(&ev, pRoot, &hasId, &zReason) == 0);
  CHECK(ev.ncontent == 1);
  CHECK(event_check_id(&ev, &zReason) == -1);
  cJSON_Delete(pRoot);
  free(z);

  /* Hand-built trees with holes in them: no crash, a reason. */
  cJSON *pObj = cJSON_CreateObject();
  cJSON_AddStringToObject(pObj, "id", "5df49a64c566a11c3792a057316a31127ece29a3a05730fbdfe9e4923d325d06");
  cJSON_AddStringToObject(pObj, "pubkey", "8b20d7627666dd77b5b8698fb08a45b39352da1d1f33f43b7d0e1663301e1602");
  cJSON_AddStringToObject(pObj, "sig", "e030587cd115d83709afa74372388383fe7b3d414e62f51acc4ee8273780cd1c"
                          "1110c7dad3cff4d100678243d70a9b9b8dfcfe20c15bb68f10866f22076d6238");
  cJSON_AddNumberToObject(pObj, "created_at", 0)->valuedouble = NAN;
  cJSON_AddNumberToObject(pObj, "kind", 7);
  cJSON_AddItemToObject(pObj, "tags", cJSON_CreateArray());
  cJSON_AddStringToObject(pObj, "content", "+");
  CHECK(event_from_json(&ev, pObj, &hasId, &zReason) == -1 && has(zReason, "created_at"));
  cJSON_ReplaceItemInObjectCaseSensitive(pObj, "created_at", cJSON_CreateNumber(0));
  CHECK(event_from_json(&ev, pObj, &hasId, &zReason) == 0);
  CHECK(event_check_id(&ev, &zReason) == -1);  /* the real one has tags */
  cJSON_Delete(pObj);
  CHECK(event_from_json(&ev, NULL, &hasId, &zReason) == -1 && hasId == 0);
}

/* ---- drafts, time, signing ---------------------------------------------- */

static void test_check_fields_and_time(void) {
  cJSON *pTags = cJSON_CreateArray();
  event ev;
  memset(&ev, 0, sizeof ev);
  ev.created_at = 1700000000;
  ev.kind = 1;
  ev.tags = pTags;
  ev.content = "hello";
  ev.ncontent = 5;
  const char *zReason = NULL;
  CHECK(event_check_fields(&ev, &zReason) == 0);
  ev.content = "a\0b";
  ev.ncontent = 3;
  CHECK(event_check_fields(&ev, &zReason) == -1 && strcmp(zReason, "invalid: content holds a raw NUL byte") == 0);
  /* U+0000 and lone surrogates in json.h's internal form are fine. */
  ev.content = "a\xc0\x80" "b\xed\xa0\xbd" "c\xed\xb0\x80";
  ev.ncontent = 11;
  CHECK(event_check_fields(&ev, &zReason) == 0);
  ev.content = "\xed\xa0\xbd\xed\xb8\x80";  /* CESU-8: a pair in two halves */
  ev.ncontent = 6;
  CHECK(event_check_fields(&ev, &zReason) == -1 && strcmp(zReason, "invalid: content is not valid UTF-8") == 0);
  ev.content = "\xc0\xaf";
  ev.ncontent = 2;
  CHECK(event_check_fields(&ev, &zReason) == -1 && strcmp(zReason, "invalid: content is not valid UTF-8") == 0);
  ev.content = "\xe6\x97";
  ev.ncontent = 2;
  CHECK(event_check_fields(&ev, &zReason) == -1 && strcmp(zReason, "invalid: content is not valid UTF-8") == 0);
  ev.content = NULL;
  ev.ncontent = 0;
  CHECK(event_check_fields(&ev, &zReason) == -1 && strcmp(zReason, "invalid: content must be a string") == 0);
  ev.content = "x";
  ev.ncontent = EVENT_MAX_CONTENT + 1;  /* only the length is looked at first */
  CHECK(event_check_fields(&ev, &zReason) == -1 && strcmp(zReason, "invalid: content over 64 KiB") == 0);
  ev.ncontent = 1;
  ev.kind = -1;
  CHECK(event_check_fields(&ev, &zReason) == -1 && has(zReason, "kind"));
  ev.kind = 65536;
  CHECK(event_check_fields(&ev, &zReason) == -1 && has(zReason, "kind"));
  ev.kind = 1;
  ev.created_at = -1;
  CHECK(event_check_fields(&ev, &zReason) == -1 && has(zReason, "created_at"));
  ev.created_at = 9007199254740992LL;
  CHECK(event_check_fields(&ev, &zReason) == -1 && has(zReason, "created_at"));
  ev.created_at = 1700000000;
  ev.tags = NULL;
  CHECK(event_check_fields(&ev, &zReason) == -1 && strcmp(zReason, "invalid: tags must be an array") == 0);
  ev.tags = pTags;
  for (int k = 0; k < EVENT_MAX_TAGS; k++) {
    cJSON *pTag = cJSON_CreateArray();
    cJSON_AddItemToArray(pTag, cJSON_CreateString("t"));
    cJSON_AddItemToArray(pTags, pTag);
  }
  CHECK(event_check_fields(&ev, &zReason) == 0);
  cJSON_AddItemToArray(pTags, cJSON_CreateArray());
  CHECK(event_check_fields(&ev, &zReason) == -1 && strcmp(zReason, "invalid: more than 2000 tags") == 0);
  cJSON_Delete(pTags);

  /* created_at may lead our clock by at most 15 minutes. */
  ev.created_at = 1700000900;
  CHECK(event_check_time(&ev, 1700000000, &zReason) == 0);
  ev.created_at = 1700000901;
  CHECK(event_check_time(&ev, 1700000000, &zReason) == -1 &&
        strcmp(zReason, "invalid: created_at is more than 15 minutes in the future") == 0);
  ev.created_at = 0;
  CHECK(event_check_time(&ev, 1700000000, &zReason) == 0);  /* the past is fine */
  ev.created_at = 9007199254740991LL;
  CHECK(event_check_time(&ev, INT64_MAX, &zReason) == 0);   /* no overflow */
  CHECK(event_check_time(&ev, INT64_MAX - 900, &zReason) == 0);
  CHECK(event_check_time(&ev, INT64_MIN, &zReason) == -1);
}

static void test_sign_verify(void) {
  unsigned char sk[32], pk[32], msg[32], sig[64];
  CHECK(crypto_random(msg, 32) == 0);
  unsigned char aBig[1000];
  CHECK(crypto_random(aBig, sizeof aBig) == 0);  /* more than one chunk */
  CHECK(crypto_random(aBig, 0) == 0);
  CHECK(crypto_keygen(sk) == 0);
  CHECK(crypto_pubkey(sk, pk) == 0);
  CHECK(crypto_sign(sk, msg, sig) == 0);
  CHECK(crypto_verify(pk, msg, sig) == 1);
  msg[0] ^= 1;
  CHECK(crypto_verify(pk, msg, sig) == 0);
  msg[0] ^= 1;
  /* Fresh aux randomness: signing twice gives two valid signatures. */
  unsigned char sig2[64];
  CHECK(crypto_sign(sk, msg, sig2) == 0 && memcmp(sig, sig2, 64) != 0);
  CHECK(crypto_verify(pk, msg, sig2) == 1);

  /* Invalid secret keys: 0 and the group order n. */
  unsigned char bad[32];
  memset(bad, 0, 32);
  CHECK(crypto_pubkey(bad, pk) == -1);
  CHECK(crypto_sign(bad, msg, sig) == -1);
  CHECK(hex_decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", bad, 32) == 0);
  CHECK(crypto_pubkey(bad, pk) == -1);

  /* A pubkey that is not a curve point (x >= p) verifies nothing. */
  unsigned char offCurve[32];
  memset(offCurve, 0xff, 32);
  CHECK(crypto_verify(offCurve, msg, sig) == 0);

  /* BIP-340 test vectors 0 and 1: our key derivation, and their
  ** signatures verify; vector 6's (a bad signature) does not. */
  unsigned char vSk[32], vPk[32], vMsg[32], vSig[64], got[32];
  CHECK(hex_decode("0000000000000000000000000000000000000000000000000000000000000003", vSk, 32) == 0);
  CHECK(hex_decode("f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9", vPk, 32) == 0);
  memset(vMsg, 0, 32);
  CHECK(hex_decode("e907831f80848d1069a5371b402410364bdf1c5f8307b0084c55f1ce2dca8215"
                   "25f66a4a85ea8b71e482a74f382d2ce5ebeee8fdb2172f477df4900d310536c0", vSig, 64) == 0);
  CHECK(crypto_pubkey(vSk, got) == 0 && memcmp(got, vPk, 32) == 0);
  CHECK(crypto_verify(vPk, vMsg, vSig) == 1);
  CHECK(hex_decode("b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef", vSk, 32) == 0);
  CHECK(hex_decode("dff1d77f2a671c5f36183726db2341be58feae1da2deceD843240f7b502ba659", vPk, 32) == -1);
  CHECK(hex_decode("dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659", vPk, 32) == 0);
  CHECK(hex_decode("243f6a8885a308d313198a2e03707344a4093822299f31d0082efa98ec4e6c89", vMsg, 32) == 0);
  CHECK(hex_decode("6896bd60eeae296db48a229ff71dfe071bde413e6d43f917dc8dcf8c78de3341"
                   "8906d11ac976abccb20b091292bff4ea897efcb639ea871cfa95f6de339e4b0a", vSig, 64) == 0);
  CHECK(crypto_pubkey(vSk, got) == 0 && memcmp(got, vPk, 32) == 0);
  CHECK(crypto_verify(vPk, vMsg, vSig) == 1);
  CHECK(hex_decode("dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659", vPk, 32) == 0);
  CHECK(hex_decode("fff97bd5755eeea420453a14355235d382f6472f8568a18b2f057a1460297556"
                   "3cc27944640ac607cd107ae10923d9ef7a73c643e166be5ebeafa34b1ac553e2", vSig, 64) == 0);
  CHECK(crypto_verify(vPk, vMsg, vSig) == 0);

  /* An event signed here: id and signature check, JSON round trip. */
  cJSON *pTags = cJSON_CreateArray();
  cJSON *pTag = cJSON_CreateArray();
  cJSON_AddItemToArray(pTag, cJSON_CreateString("t"));
  cJSON_AddItemToArray(pTag, cJSON_CreateString("\xe6\x97\xa5\xe6\x9c\xac \"q\" \\ \n"));
  cJSON_AddItemToArray(pTags, pTag);
  event ev;
  memset(&ev, 0, sizeof ev);
  ev.created_at = 1700000123;
  ev.kind = 1;
  ev.tags = pTags;
  ev.content = "hi \xf0\x9f\x91\x8b\n\t\"x\"\x01";
  ev.ncontent = strlen(ev.content);
  const char *zReason = NULL;
  CHECK(event_check_fields(&ev, &zReason) == 0);
  CHECK(event_sign(&ev, sk) == 0);
  CHECK(crypto_pubkey(sk, pk) == 0 && memcmp(ev.pubkey, pk, 32) == 0);
  CHECK(event_check_id(&ev, &zReason) == 0);
  CHECK(event_check_sig(&ev, &zReason) == 0);
  strbuf sb;
  strbuf_init(&sb);
  event_to_json(&ev, &sb);
  char *zJson = strbuf_finish(&sb);
  CHECK(zJson != NULL);
  if (zJson) {
    event ev2;
    cJSON *pRoot;
    int hasId;
    CHECK(read_event(zJson, &ev2, &hasId, &pRoot, &zReason) == 0);
    CHECK(memcmp(ev2.id, ev.id, 32) == 0 && memcmp(ev2.sig, ev.sig, 64) == 0);
    CHECK(ev2.ncontent == ev.ncontent && memcmp(ev2.content, ev.content, ev.ncontent) == 0);
    CHECK(event_check_id(&ev2, &zReason) == 0);
    CHECK(event_check_sig(&ev2, &zReason) == 0);
    strbuf_init(&sb);
    event_to_json(&ev2, &sb);
    char *zAgain = strbuf_finish(&sb);
    CHECK(zAgain && strcmp(zAgain, zJson) == 0);
    free(zAgain);
    cJSON_Delete(pRoot);
    free(zJson);
  }
  /* Flipped bits. */
  for (int bit = 0; bit < 8; bit++) {
    event bad2 = ev;
    bad2.id[bit * 4] ^= (unsigned char)(1 << bit);
    CHECK(event_check_id(&bad2, &zReason) == -1 && event_check_sig(&bad2, &zReason) == -1);
    bad2 = ev;
    bad2.sig[bit * 8 + 3] ^= (unsigned char)(1 << bit);
    CHECK(event_check_sig(&bad2, &zReason) == -1);
    bad2 = ev;
    bad2.pubkey[bit * 4 + 1] ^= (unsigned char)(1 << bit);
    CHECK(event_check_id(&bad2, &zReason) == -1 && event_check_sig(&bad2, &zReason) == -1);
  }
  /* Signing with a bad key fails cleanly. */
  memset(bad, 0, 32);
  CHECK(event_sign(&ev, bad) == -1);
  cJSON_Delete(pTags);
}

int main(void) {
  test_canonical_escaping();
  test_json_check();
  test_internal_forms();
  test_json_get_int();
  test_real_events();
  test_from_json_rules();
  test_from_cjson_directly();
  test_check_fields_and_time();
  test_sign_verify();
  return check_report("test_event");
}
