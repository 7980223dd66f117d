/*
** fuzz_negentropy.c -- the Negentropy decoder and both roles
** (src/negentropy.c), directly and through NEG-OPEN / NEG-MSG frames
** (src/merge.c) against sessions over a small stored set.
**
** Input: data[0] picks a mode (data[0] % 8), data[1] is the mode's
** parameter p, data[2..] the payload. Two fixed sets, both ones
** make-seeds.js rebuilds in JavaScript:
**   S  the 60 events stored in the database on the first input: kind 1,
**      created_at 1700000000 + i/3, content "hiroba fuzz <i>", no tags,
**      signed with the key SHA-256("hiroba fuzz negentropy");
**   L  600 items, id SHA-256("hiroba neg <i>"), created_at
**      1700000000 + i/3 (tests/native/test_negentropy.c's items).
** Modes, with F(p) a frame limit (none, 4096, 4096 + 97k or 500000):
**   0, 1  the payload as a binary message to our responder over S, L;
**   2, 3  the same to our initiator (neg_reconcile is stateless: any
**         message may arrive in any round);
**   4     the payload as the NIP-77 hex text (neg_hex_decode), then
**         to the responder over L;
**   5     ["NEG-OPEN", "fz", filter p & 7, hex(payload)] through merge:
**         a session we serve over the stored events the filter matches;
**   6     ["NEG-MSG", "ts", hex(payload)] through merge, to a session
**         over L (hiroba__neg_test_session) in role p & 1;
**   7     a whole reconciliation between two of our sides, S or L
**         against a set built from the payload (3 bytes an item: an item
**         of the fixed set, a new one near its timestamps, or a new one
**         whose id shares 31 bytes with one of its ids, which then
**         comes along), until the initiator is done.
** What must hold (FUZZ_CHECK):
**   - a malformed message is HIROBA_EINVAL with a reason, never a crash;
**   - every reply starts with the version byte, fits the frame limit,
**     and our own other role reads it without complaint;
**   - "have" only names our items;
**   - through merge: a result, with exactly one reply of the right type;
**   - mode 7 ends within 10,000 rounds with have and need exactly the
**     two set differences (as sets: a continued round may repeat an id).
*/
#include <string.h>

#include "cJSON.h"
#include "crypto.h"
#include "event.h"
#include "fuzz.h"
#include "hiroba.h"
#include "negentropy.h"
#include "sha256.h"
#include "strbuf.h"

/* Export-only shims of hiroba.c (not in hiroba.h). */
int hiroba__neg_frame_limit(int db, int nFrame);
char *hiroba__neg_test_session(int db, const char *sub, const unsigned char *pItems,
                               size_t nItems, int isInitiator);

#define N_S 60            /* events in set S */
#define N_L 600           /* items in set L: enough that a 4096-byte
                          ** frame (about 120 ids) must be continued */
#define TS0 1700000000u   /* first timestamp of both sets */
#define MAX_ROUNDS 10000  /* mode 7 must end sooner */

static int g_db;                       /* the database holding S */
static neg_set g_S, g_L;               /* the fixed sets, sealed */
static unsigned char *g_aLItems;       /* L as 40-byte records for the shim */
static char g_zAuthor[65];             /* hex pubkey of S's author */
static char g_zIds[3 * 67 + 1];        /* three ids of S, as a JSON list body */

static void neg_close(void) {
  if (g_db) hiroba_close(g_db);
  g_db = 0;
  neg_set_free(&g_S);
  neg_set_free(&g_L);
  free(g_aLItems);
  g_aLItems = NULL;
}

/* Signs and stores event i of S; adds its item to g_S. */
static void store_s_event(const unsigned char sk[32], int i, cJSON *tags) {
  char zContent[32];
  snprintf(zContent, sizeof zContent, "hiroba fuzz %d", i);
  event ev;
  memset(&ev, 0, sizeof ev);
  ev.created_at = TS0 + i / 3;
  ev.kind = 1;
  ev.tags = tags;
  ev.content = zContent;
  ev.ncontent = strlen(zContent);
  FUZZ_CHECK(event_sign(&ev, sk) == 0, "cannot sign");
  strbuf sb;
  strbuf_init(&sb);
  strbuf_puts(&sb, "[\"EVENT\",");
  event_to_json(&ev, &sb);
  strbuf_putc(&sb, ']');
  FUZZ_CHECK(!sb.oom, "out of memory");
  char *z = hiroba_merge(g_db, sb.z);
  FUZZ_CHECK(z && strstr(z, "\"accepted\":[\""), "event %d not stored: %s", i,
             z ? z : hiroba_errmsg());
  hiroba_free(z);
  strbuf_free(&sb);
  FUZZ_CHECK(neg_set_add(&g_S, (uint64_t)ev.created_at, ev.id) == 0, "out of memory");
  if (i < 3) {
    char zId[65];
    fuzz_hex(ev.id, 32, zId);
    snprintf(g_zIds + strlen(g_zIds), sizeof g_zIds - strlen(g_zIds), "%s\"%s\"",
             i ? "," : "", zId);
  }
}

static void neg_init(void) {
  const char *zWhy = NULL;
  g_db = hiroba_open(fuzz_path("negentropy.db"));
  FUZZ_CHECK(g_db > 0, "open: %s", hiroba_errmsg());
  atexit(neg_close);

  unsigned char sk[32], pk[32];
  const char *zKey = "hiroba fuzz negentropy";
  sha256(zKey, strlen(zKey), sk);
  FUZZ_CHECK(crypto_pubkey(sk, pk) == 0, "no pubkey");
  fuzz_hex(pk, 32, g_zAuthor);
  cJSON *tags = cJSON_CreateArray();
  FUZZ_CHECK(tags != NULL, "out of memory");
  neg_set_init(&g_S);
  for (int i = 0; i < N_S; i++) store_s_event(sk, i, tags);
  cJSON_Delete(tags);
  FUZZ_CHECK(neg_set_seal(&g_S, &zWhy) == 0, "seal S: %s", zWhy);

  neg_set_init(&g_L);
  g_aLItems = malloc(40 * N_L);
  FUZZ_CHECK(g_aLItems != NULL, "out of memory");
  for (int i = 0; i < N_L; i++) {
    char z[32];
    unsigned char *p = g_aLItems + 40 * i;
    uint64_t ts = TS0 + (uint64_t)(i / 3);
    snprintf(z, sizeof z, "hiroba neg %d", i);
    sha256(z, strlen(z), p + 8);
    for (int j = 0; j < 8; j++) p[j] = (unsigned char)(ts >> (8 * j));
    FUZZ_CHECK(neg_set_add(&g_L, ts, p + 8) == 0, "out of memory");
  }
  FUZZ_CHECK(neg_set_seal(&g_L, &zWhy) == 0, "seal L: %s", zWhy);
}

/* The frame limit named by two bits of a parameter. */
static size_t frame_of(unsigned p, unsigned k) {
  switch (p & 3) {
    case 0: return 0;
    case 1: return NEG_FRAME_MIN;
    case 2: return NEG_FRAME_MIN + 97 * (size_t)k;
    default: return NEG_FRAME_DEFAULT;
  }
}

/* 1 when the sealed set holds an item with this id. */
static int set_has_id(const neg_set *set, const unsigned char *id) {
  for (size_t i = 0; i < set->nItem; i++) {
    if (memcmp(set->aItem[i].id, id, 32) == 0) return 1;
  }
  return 0;
}

/* Checks a reply we wrote: version byte first, within the frame limit,
** and readable by the other role (over S: any set reads any message). */
static void check_reply(const strbuf *out, size_t nFrame, int bFromInitiator) {
  FUZZ_CHECK(out->n >= 1 && (unsigned char)out->z[0] == NEG_VERSION,
             "reply does not start with the version byte");
  if (nFrame) {
    size_t nLimit = nFrame < NEG_FRAME_MIN ? NEG_FRAME_MIN : nFrame;
    FUZZ_CHECK(out->n <= nLimit, "reply of %zu bytes over the limit %zu", out->n, nLimit);
  }
  strbuf back, have, need;
  strbuf_init(&back);
  strbuf_init(&have);
  strbuf_init(&need);
  const char *zWhy = NULL;
  int rc = neg_reconcile(&g_S, !bFromInitiator, 0, (const unsigned char *)out->z,
                         out->n, &back, &have, &need, &zWhy);
  FUZZ_CHECK(rc == 0, "our own %s cannot read our %s's reply: %s",
             bFromInitiator ? "responder" : "initiator",
             bFromInitiator ? "initiator" : "responder", zWhy);
  strbuf_free(&back);
  strbuf_free(&have);
  strbuf_free(&need);
}

/* Modes 0-4: one message to one role, directly. */
static void fuzz_direct(const neg_set *set, int isInitiator, size_t nFrame,
                        const unsigned char *msg, size_t n) {
  strbuf out, have, need;
  strbuf_init(&out);
  strbuf_init(&have);
  strbuf_init(&need);
  const char *zWhy = NULL;
  int rc = neg_reconcile(set, isInitiator, nFrame, msg, n, &out,
                         isInitiator ? &have : NULL, isInitiator ? &need : NULL, &zWhy);
  FUZZ_CHECK(rc == 0 || (rc == HIROBA_EINVAL && zWhy), "rc %d", rc);
  if (rc == 0) {
    check_reply(&out, nFrame, isInitiator);
    FUZZ_CHECK(have.n % 32 == 0 && need.n % 32 == 0, "partial ids");
    for (size_t i = 0; i < have.n; i += 32) {
      FUZZ_CHECK(set_has_id(set, (const unsigned char *)have.z + i), "have names a stranger");
    }
  }
  strbuf_free(&out);
  strbuf_free(&have);
  strbuf_free(&need);
}

/* Merges a frame; returns its one reply (a cJSON tree the caller frees
** with cJSON_Delete(*pRoot)). */
static const cJSON *merge_reply(const char *zFrame, cJSON **pRoot) {
  char *z = hiroba_merge(g_db, zFrame);
  FUZZ_CHECK(z != NULL, "merge failed: %s", hiroba_errmsg());
  cJSON *root = cJSON_Parse(z);
  const cJSON *replies = cJSON_GetObjectItemCaseSensitive(root, "replies");
  FUZZ_CHECK(cJSON_GetArraySize(replies) == 1, "not one reply: %.300s", z);
  hiroba_free(z);
  *pRoot = root;
  return replies->child;
}

/* Builds ["TYPE", "sub", (filter,) "hex"] around the payload. */
static char *neg_frame(const char *zType, const char *zSub, const char *zFilter,
                       const unsigned char *p, size_t n) {
  strbuf sb;
  strbuf_init(&sb);
  strbuf_puts(&sb, "[\"");
  strbuf_puts(&sb, zType);
  strbuf_puts(&sb, "\",\"");
  strbuf_puts(&sb, zSub);
  strbuf_puts(&sb, "\",");
  if (zFilter) { strbuf_puts(&sb, zFilter); strbuf_putc(&sb, ','); }
  strbuf_putc(&sb, '"');
  strbuf_hex(&sb, p, n);
  strbuf_puts(&sb, "\"]");
  char *z = strbuf_finish(&sb);
  FUZZ_CHECK(z != NULL, "out of memory");
  return z;
}

/* Checks a NEG-MSG reply from merge: its hex is a message we can read. */
static void check_neg_msg(const cJSON *reply, size_t nFrame, int bFromInitiator) {
  const cJSON *hex = cJSON_GetArrayItem(reply, 2);
  FUZZ_CHECK(cJSON_IsString(hex), "NEG-MSG without hex");
  unsigned char *p = NULL;
  size_t n = 0;
  const char *zWhy = NULL;
  FUZZ_CHECK(neg_hex_decode(hex->valuestring, strlen(hex->valuestring), &p, &n, &zWhy) == 0,
             "our hex does not decode: %s", zWhy);
  strbuf sb = {(char *)p, n, n, 0};
  check_reply(&sb, nFrame ? nFrame : NEG_FRAME_DEFAULT, bFromInitiator);
  free(p);
}

/* 1 when the reply is a frame of type zType. */
static int is_type(const cJSON *reply, const char *zType) {
  const cJSON *t = cJSON_GetArrayItem(reply, 0);
  return cJSON_IsString(t) && strcmp(t->valuestring, zType) == 0;
}

/* Mode 5: NEG-OPEN through merge, a session we serve over stored events. */
static void fuzz_neg_open(unsigned p, const unsigned char *msg, size_t n) {
  char zFilter[512];
  switch (p & 7) {
    case 0: snprintf(zFilter, sizeof zFilter, "{}"); break;
    case 1: snprintf(zFilter, sizeof zFilter, "{\"kinds\":[1]}"); break;
    case 2: snprintf(zFilter, sizeof zFilter, "{\"since\":%u}", TS0 + 5); break;
    case 3: snprintf(zFilter, sizeof zFilter, "{\"until\":%u}", TS0 + 10); break;
    case 4: snprintf(zFilter, sizeof zFilter, "{\"authors\":[\"%s\"]}", g_zAuthor); break;
    case 5: snprintf(zFilter, sizeof zFilter, "{\"limit\":7}"); break;
    case 6: snprintf(zFilter, sizeof zFilter, "{\"kinds\":[7]}"); break;
    default: snprintf(zFilter, sizeof zFilter, "{\"ids\":[%s]}", g_zIds); break;
  }
  size_t nFrame = frame_of(p >> 3, p >> 5);
  FUZZ_CHECK(hiroba__neg_frame_limit(g_db, (int)nFrame) == 0, "frame limit");
  char *zFrame = neg_frame("NEG-OPEN", "fz", zFilter, msg, n);
  cJSON *root;
  const cJSON *reply = merge_reply(zFrame, &root);
  if (is_type(reply, "NEG-MSG")) check_neg_msg(reply, nFrame, 0);
  else FUZZ_CHECK(is_type(reply, "NEG-ERR"), "NEG-OPEN answered otherwise");
  cJSON_Delete(root);
  free(zFrame);
}

/* Mode 6: NEG-MSG through merge, to a session over L in role p & 1. */
static void fuzz_neg_msg(unsigned p, const unsigned char *msg, size_t n) {
  int isInitiator = p & 1;
  size_t nFrame = frame_of(p >> 1, p >> 3);
  FUZZ_CHECK(hiroba__neg_frame_limit(g_db, (int)nFrame) == 0, "frame limit");
  char *z = hiroba__neg_test_session(g_db, "ts", g_aLItems, N_L, isInitiator);
  FUZZ_CHECK(z != NULL, "test session: %s", hiroba_errmsg());
  hiroba_free(z);
  char *zFrame = neg_frame("NEG-MSG", "ts", NULL, msg, n);
  cJSON *root;
  const cJSON *reply = merge_reply(zFrame, &root);
  if (is_type(reply, "NEG-MSG")) {
    check_neg_msg(reply, nFrame, isInitiator);
  } else {
    /* A bad message ends the session: NEG-ERR when we serve it, NEG-CLOSE
    ** when it is ours (which is also how an initiator says "done"). */
    FUZZ_CHECK(is_type(reply, isInitiator ? "NEG-CLOSE" : "NEG-ERR"),
               "NEG-MSG answered otherwise");
  }
  const cJSON *have = cJSON_GetObjectItemCaseSensitive(root, "have"), *id;
  cJSON_ArrayForEach(id, have) {
    unsigned char b[32];
    FUZZ_CHECK(cJSON_IsString(id) && strlen(id->valuestring) == 64, "bad have");
    for (int i = 0; i < 32; i++) {
      unsigned v;
      sscanf(id->valuestring + 2 * i, "%2x", &v);
      b[i] = (unsigned char)v;
    }
    FUZZ_CHECK(set_has_id(&g_L, b), "have names a stranger");
  }
  cJSON_Delete(root);
  free(zFrame);
}

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, 32); }
static int item_id_cmp(const void *a, const void *b) {
  return memcmp(((const neg_item *)a)->id, ((const neg_item *)b)->id, 32);
}

/* Sorts 32-byte ids in place and drops repeats; returns how many remain. */
static size_t sort_unique(unsigned char *a, size_t n) {
  if (!n) return 0;
  qsort(a, n, 32, id_cmp);
  size_t k = 1;
  for (size_t i = 1; i < n; i++) {
    if (memcmp(a + 32 * (k - 1), a + 32 * i, 32) != 0) memmove(a + 32 * k++, a + 32 * i, 32);
  }
  return k;
}

/* The ids of a that are not in b (both sorted unique), appended to out. */
static void minus(const unsigned char *a, size_t na, const unsigned char *b, size_t nb,
                  strbuf *out) {
  size_t j = 0;
  for (size_t i = 0; i < na; i++) {
    while (j < nb && memcmp(b + 32 * j, a + 32 * i, 32) < 0) j++;
    if (j < nb && memcmp(b + 32 * j, a + 32 * i, 32) == 0) continue;
    strbuf_append(out, (const char *)a + 32 * i, 32);
  }
}

/* The sorted unique ids of a set, in a new buffer (caller frees). */
static unsigned char *ids_of(const neg_set *set) {
  unsigned char *a = malloc(32 * set->nItem + 1);
  FUZZ_CHECK(a != NULL, "out of memory");
  for (size_t i = 0; i < set->nItem; i++) memcpy(a + 32 * i, set->aItem[i].id, 32);
  FUZZ_CHECK(sort_unique(a, set->nItem) == set->nItem, "a set with a repeated id");
  return a;
}

/* Mode 7's other set: built from the payload against X (sealed). */
static void make_peer_set(const neg_set *X, const unsigned char *pay, size_t n, neg_set *B) {
  neg_set_init(B);
  unsigned char *aTaken = calloc(X->nItem, 1);
  neg_item *aNew = malloc((n / 3 + 1) * sizeof *aNew);
  FUZZ_CHECK(aTaken && aNew, "out of memory");
  size_t nNew = 0;
  for (size_t i = 0; i + 3 <= n; i += 3) {
    unsigned c0 = pay[i], c1 = pay[i + 1], c2 = pay[i + 2];
    size_t k = ((c0 & 0x3f) << 8 | c1) % X->nItem;
    if (c0 & 0xc0) {
      /* An item both sides have. */
      if (!aTaken[k]) FUZZ_CHECK(neg_set_add(B, X->aItem[k].ts, X->aItem[k].id) == 0, "add");
      aTaken[k] = 1;
      if (c0 & 0x80) continue;
    }
    neg_item *it = &aNew[nNew++];
    if (c0 & 0x40) {
      /* Next to X's item k: same timestamp, id equal but for its last
      ** byte, so bounds need 32-byte prefixes. Item k came along above:
      ** the fingerprint is a sum of ids, so two such items without theirs
      ** could cancel out (last bytes +1 and -1) and hide a difference.
      ** That is the protocol's, not a bug; this fuzzer found it. */
      *it = X->aItem[k];
      it->id[31] ^= (unsigned char)(c2 | 1);
    } else {
      unsigned char seed[8] = {'f', 'z', (unsigned char)(i >> 16), (unsigned char)(i >> 8),
                               (unsigned char)i, (unsigned char)c0, (unsigned char)c1,
                               (unsigned char)c2};
      it->ts = X->aItem[0].ts + (uint64_t)(c2 % (X->nItem / 3 + 4));
      sha256(seed, sizeof seed, it->id);
    }
  }
  /* New ids are unique among themselves and (but for a 2^-256 chance)
  ** unlike X's: one item per id. */
  if (nNew) qsort(aNew, nNew, sizeof *aNew, item_id_cmp);
  for (size_t i = 0; i < nNew; i++) {
    if (i && memcmp(aNew[i].id, aNew[i - 1].id, 32) == 0) continue;
    FUZZ_CHECK(neg_set_add(B, aNew[i].ts, aNew[i].id) == 0, "add");
  }
  free(aNew);
  free(aTaken);
  const char *zWhy = NULL;
  FUZZ_CHECK(neg_set_seal(B, &zWhy) == 0, "seal: %s", zWhy);
}

/* Mode 7: a whole reconciliation, our initiator against our responder. */
static void fuzz_converge(unsigned p, const unsigned char *pay, size_t n) {
  const neg_set *X = (p & 1) ? &g_L : &g_S;
  size_t nFrame = frame_of(p >> 2, p >> 4);
  neg_set B;
  const char *zWhy = NULL;
  make_peer_set(X, pay, n, &B);

  const neg_set *I = (p & 2) ? &B : X, *R = (p & 2) ? X : &B;
  strbuf msg, reply, have, need;
  strbuf_init(&msg);
  strbuf_init(&reply);
  strbuf_init(&have);
  strbuf_init(&need);
  FUZZ_CHECK(neg_initiate(I, nFrame, &msg) == 0, "initiate");
  if (nFrame) FUZZ_CHECK(msg.n <= nFrame, "first message over the limit");
  for (int round = 0;; round++) {
    FUZZ_CHECK(round < MAX_ROUNDS, "no end after %d rounds", round);
    reply.n = 0;
    int rc = neg_reconcile(R, 0, nFrame, (const unsigned char *)msg.z, msg.n, &reply,
                           NULL, NULL, &zWhy);
    FUZZ_CHECK(rc == 0, "responder refused our initiator (round %d): %s", round, zWhy);
    if (nFrame) FUZZ_CHECK(reply.n <= nFrame, "responder over the limit");
    msg.n = 0;
    rc = neg_reconcile(I, 1, nFrame, (const unsigned char *)reply.z, reply.n, &msg,
                       &have, &need, &zWhy);
    FUZZ_CHECK(rc == 0, "initiator refused our responder (round %d): %s", round, zWhy);
    if (nFrame) FUZZ_CHECK(msg.n <= nFrame, "initiator over the limit");
    if (msg.n == 1) break;
  }
  FUZZ_CHECK(!msg.oom && !reply.oom && !have.oom && !need.oom, "out of memory");

  unsigned char *aI = ids_of(I), *aR = ids_of(R);
  strbuf wantHave, wantNeed;
  strbuf_init(&wantHave);
  strbuf_init(&wantNeed);
  minus(aI, I->nItem, aR, R->nItem, &wantHave);
  minus(aR, R->nItem, aI, I->nItem, &wantNeed);
  size_t nHave = sort_unique((unsigned char *)have.z, have.n / 32);
  size_t nNeed = sort_unique((unsigned char *)need.z, need.n / 32);
  FUZZ_CHECK(nHave * 32 == wantHave.n &&
             (nHave == 0 || memcmp(have.z, wantHave.z, wantHave.n) == 0),
             "have: %zu ids, want %zu", nHave, wantHave.n / 32);
  FUZZ_CHECK(nNeed * 32 == wantNeed.n &&
             (nNeed == 0 || memcmp(need.z, wantNeed.z, wantNeed.n) == 0),
             "need: %zu ids, want %zu", nNeed, wantNeed.n / 32);
  free(aI);
  free(aR);
  strbuf_free(&wantHave);
  strbuf_free(&wantNeed);
  strbuf_free(&msg);
  strbuf_free(&reply);
  strbuf_free(&have);
  strbuf_free(&need);
  neg_set_free(&B);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_db) neg_init();
  if (size < 2) return 0;
  unsigned p = data[1];
  const unsigned char *pay = data + 2;
  size_t n = size - 2;
  switch (data[0] % 8) {
    case 0: fuzz_direct(&g_S, 0, frame_of(p, p >> 2), pay, n); break;
    case 1: fuzz_direct(&g_L, 0, frame_of(p, p >> 2), pay, n); break;
    case 2: fuzz_direct(&g_S, 1, frame_of(p, p >> 2), pay, n); break;
    case 3: fuzz_direct(&g_L, 1, frame_of(p, p >> 2), pay, n); break;
    case 4: {
      unsigned char *msg = NULL;
      size_t nMsg = 0;
      const char *zWhy = NULL;
      int rc = neg_hex_decode((const char *)pay, n, &msg, &nMsg, &zWhy);
      FUZZ_CHECK(rc == 0 || (rc == HIROBA_EINVAL && zWhy), "rc %d", rc);
      if (rc == 0) {
        FUZZ_CHECK(nMsg * 2 == n, "decoded length");
        fuzz_direct(&g_L, 0, frame_of(p, p >> 2), msg, nMsg);
      }
      free(msg);
      break;
    }
    case 5: fuzz_neg_open(p, pay, n); break;
    case 6: fuzz_neg_msg(p, pay, n); break;
    default: fuzz_converge(p, pay, n); break;
  }
  return 0;
}
