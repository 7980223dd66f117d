/*
** fuzz_merge.c -- arbitrary bytes as peer frames into hiroba__merge_n (the
** length-delimited merge, so NUL bytes arrive too), and once more wrapped
** as a batch of two through hiroba_merge, on one database per process.
**
** What must hold for every input (FUZZ_CHECK aborts otherwise):
**   - merge returns a result, never NULL: hostile input is data, not an
**     engine failure (the scratch database sits on tmpfs, so there is no
**     real I/O error to excuse one);
**   - the result is JSON that JSON.parse accepts (our strict parser), of
**     the documented shape: accepted/have/need lists of 64-hex ids,
**     duplicates a count, rejected {id: hex|null, reason: string}, replies
**     arrays that start with a frame type;
**   - and, via ASan/UBSan/LeakSanitizer, no memory error, UB or leak.
** Every AUDIT_EVERY inputs (and at exit) the stored data is audited:
** PRAGMA integrity_check is ok; every stored event parses, has the id it
** claims, a valid signature and the canonical text; answers come newest
** first, ties by lowest id; no muted author, no event its own author
** deleted, one version per replaceable slot.
**
** Setup, on the first input: the database gets a local identity (random,
** as always), a local mute list naming the author SHA-256("hiroba fuzz
** muted") -- make-seeds.js signs some seed events with that key -- a
** profile and a post. Before every input a session "mine" is (re)opened
** as the initiator over everything stored, so that NEG-MSG frames for
** "mine" reach the initiator's side and the "need" filtering.
**
** Not deterministic, on purpose and within bounds: the database keeps
** what earlier inputs stored. Only correctly signed events are ever
** stored, and the fuzzer cannot sign, so the stored set is at most the
** seeds' events plus the local ones; a crash that needs a stored event
** reproduces when its input carries that event (a batch).
*/
#include <string.h>

#include "cJSON.h"
#include "crypto.h"
#include "event.h"
#include "fuzz.h"
#include "hiroba.h"
#include "json.h"
#include "sha256.h"

/* Export-only shims of hiroba.c (not in hiroba.h). */
char *hiroba__merge_n(int db, const char *z, size_t n);
char *hiroba__neg_open(int db, const char *sub, const char *filter_json);
char *hiroba__integrity_check(int db);

#define AUDIT_EVERY 2048   /* inputs between two audits of the store */
#define BATCH_MAX 65536    /* longest input also tried as a batch */

static int g_db;                        /* the database, 0 until opened */
static unsigned long g_nRun;            /* inputs so far */
static unsigned char g_muted[32];       /* the author the local user muted */
static char g_zMuted[65];               /* the same, hex */

/* 1 when item is a string of exactly 64 lowercase hex digits. */
static int is_hex64(const cJSON *item) {
  if (!cJSON_IsString(item) || strlen(item->valuestring) != 64) return 0;
  for (const char *p = item->valuestring; *p; p++) {
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
  }
  return 1;
}

/* Checks one list member of the result: an array of hex ids. */
static void check_id_list(const cJSON *res, const char *zKey, const char *zText) {
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(res, zKey);
  FUZZ_CHECK(cJSON_IsArray(list), "%s is not an array in %.300s", zKey, zText);
  const cJSON *p;
  cJSON_ArrayForEach(p, list) {
    FUZZ_CHECK(is_hex64(p), "%s holds a non-id in %.300s", zKey, zText);
  }
}

/* The merge result must be strict JSON of the documented shape. */
static void check_result(const char *zRes) {
  const char *zWhy = NULL;
  cJSON *res = json_parse(zRes, strlen(zRes), &zWhy);
  FUZZ_CHECK(res != NULL, "result is not JSON (%s): %.300s", zWhy, zRes);
  FUZZ_CHECK(cJSON_IsObject(res) && !json_has_duplicate_keys(res),
             "result is not an object: %.300s", zRes);
  check_id_list(res, "accepted", zRes);
  check_id_list(res, "have", zRes);
  check_id_list(res, "need", zRes);
  long long nDup;
  FUZZ_CHECK(json_get_int(cJSON_GetObjectItemCaseSensitive(res, "duplicates"),
                          0, 1LL << 53, &nDup) == 0,
             "bad duplicates in %.300s", zRes);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(res, "rejected");
  const cJSON *p;
  FUZZ_CHECK(cJSON_IsArray(list), "rejected is not an array: %.300s", zRes);
  cJSON_ArrayForEach(p, list) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "id");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(p, "reason");
    FUZZ_CHECK(cJSON_IsObject(p) && (cJSON_IsNull(id) || is_hex64(id)) &&
               cJSON_IsString(why), "bad rejection in %.300s", zRes);
  }
  list = cJSON_GetObjectItemCaseSensitive(res, "replies");
  FUZZ_CHECK(cJSON_IsArray(list), "replies is not an array: %.300s", zRes);
  cJSON_ArrayForEach(p, list) {
    static const char *const azType[] = {
      "OK", "EVENT", "EOSE", "COUNT", "CLOSED", "NOTICE", "NEG-MSG", "NEG-ERR", "NEG-CLOSE",
    };
    const cJSON *type = cJSON_GetArrayItem(p, 0);
    int known = 0;
    for (size_t i = 0; cJSON_IsString(type) && i < sizeof azType / sizeof *azType; i++) {
      if (strcmp(type->valuestring, azType[i]) == 0) known = 1;
    }
    FUZZ_CHECK(cJSON_IsArray(p) && known, "bad reply frame in %.300s", zRes);
  }
  cJSON_Delete(res);
}

/* Reads one stored event and checks it is valid and canonical. */
static void audit_event(const cJSON *obj, event *ev) {
  int hasId;
  const char *zWhy = NULL;
  FUZZ_CHECK(event_from_json(ev, obj, &hasId, &zWhy) == 0, "stored event: %s", zWhy);
  FUZZ_CHECK(event_check_id(ev, &zWhy) == 0, "stored event: %s", zWhy);
  FUZZ_CHECK(event_check_sig(ev, &zWhy) == 0, "stored event: %s", zWhy);
  FUZZ_CHECK(memcmp(ev->pubkey, g_muted, 32) != 0, "a muted author's event is stored");
}

/* The audit of the whole store described at the top. */
static void audit(void) {
  char *z = hiroba__integrity_check(g_db);
  FUZZ_CHECK(z && strncmp(z, "{\"ok\":true", 10) == 0, "integrity: %s",
             z ? z : hiroba_errmsg());
  hiroba_free(z);

  z = hiroba_query(g_db, "{}");
  FUZZ_CHECK(z != NULL, "query failed: %s", hiroba_errmsg());
  const char *zWhy = NULL;
  cJSON *all = json_parse(z, strlen(z), &zWhy);
  FUZZ_CHECK(cJSON_IsArray(all), "query answer is not a JSON array (%s)", zWhy);
  int n = cJSON_GetArraySize(all);
  event *aEv = calloc(n ? (size_t)n : 1, sizeof *aEv);
  FUZZ_CHECK(aEv != NULL, "out of memory");
  int i = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, all) audit_event(p, &aEv[i++]);

  /* The stored text is the canonical one, served as is. */
  strbuf sb;
  strbuf_init(&sb);
  strbuf_putc(&sb, '[');
  for (i = 0; i < n; i++) {
    if (i) strbuf_putc(&sb, ',');
    event_to_json(&aEv[i], &sb);
  }
  strbuf_putc(&sb, ']');
  FUZZ_CHECK(!sb.oom && sb.n == strlen(z) && memcmp(sb.z, z, sb.n) == 0,
             "stored text is not canonical");
  strbuf_free(&sb);

  for (i = 0; i < n; i++) {
    const event *a = &aEv[i];
    if (i + 1 < n) {
      const event *b = &aEv[i + 1];
      FUZZ_CHECK(a->created_at > b->created_at ||
                 (a->created_at == b->created_at && memcmp(a->id, b->id, 32) < 0),
                 "answer not newest first, ties by lowest id");
    }
    int replaceable = a->kind == 0 || a->kind == 3 || (a->kind >= 10000 && a->kind < 20000);
    for (int j = 0; j < n; j++) {
      const event *b = &aEv[j];
      if (j == i || memcmp(a->pubkey, b->pubkey, 32) != 0) continue;
      FUZZ_CHECK(!(replaceable && j > i && b->kind == a->kind),
                 "two versions of replaceable kind %d are stored", a->kind);
      if (b->kind != 5 || a->kind == 5) continue;
      /* b is a deletion by a's author: it must not name a. */
      char zId[65];
      fuzz_hex(a->id, 32, zId);
      const cJSON *tag;
      cJSON_ArrayForEach(tag, b->tags) {
        const cJSON *name = cJSON_GetArrayItem(tag, 0);
        const cJSON *value = cJSON_GetArrayItem(tag, 1);
        FUZZ_CHECK(!(cJSON_IsString(name) && strcmp(name->valuestring, "e") == 0 &&
                     cJSON_IsString(value) && strcmp(value->valuestring, zId) == 0),
                   "event %s is stored though its author deleted it", zId);
      }
    }
  }
  free(aEv);
  cJSON_Delete(all);
  hiroba_free(z);
}

static void merge_close(void) {
  if (!g_db) return;
  audit();
  hiroba_close(g_db);
  g_db = 0;
}

/* Posts a local event from a draft; aborts on failure. */
static void post(const char *zDraft) {
  char *z = hiroba_post(g_db, zDraft);
  FUZZ_CHECK(z != NULL, "post %s: %s", zDraft, hiroba_errmsg());
  hiroba_free(z);
}

static void merge_init(void) {
  g_db = hiroba_open(fuzz_path("merge.db"));
  FUZZ_CHECK(g_db > 0, "open: %s", hiroba_errmsg());
  atexit(merge_close);  /* runs before fuzz_path's cleanup (LIFO) */

  unsigned char sk[32];
  const char *zSeed = "hiroba fuzz muted";
  sha256(zSeed, strlen(zSeed), sk);
  FUZZ_CHECK(crypto_pubkey(sk, g_muted) == 0, "no pubkey");
  fuzz_hex(g_muted, 32, g_zMuted);
  char zDraft[256];
  snprintf(zDraft, sizeof zDraft,
           "{\"kind\":10000,\"content\":\"\",\"tags\":[[\"p\",\"%s\"]]}", g_zMuted);
  post(zDraft);
  post("{\"kind\":0,\"content\":\"{\\\"name\\\":\\\"fuzz\\\"}\",\"tags\":[]}");
  post("{\"kind\":1,\"content\":\"local post\",\"tags\":[[\"t\",\"hiroba\"]]}");
}

/* Merges z[0..n) (z NUL-terminated at n when bTerminated) and checks the
** result. */
static void merge_one(const char *z, size_t n, int bTerminated) {
  char *zRes = bTerminated ? hiroba_merge(g_db, z) : hiroba__merge_n(g_db, z, n);
  FUZZ_CHECK(zRes != NULL, "merge failed on hostile input: %d %s",
             hiroba_errcode(), hiroba_errmsg());
  check_result(zRes);
  hiroba_free(zRes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_db) merge_init();

  char *zOpen = hiroba__neg_open(g_db, "mine", "{}");
  FUZZ_CHECK(zOpen != NULL, "negOpen: %s", hiroba_errmsg());
  hiroba_free(zOpen);

  merge_one((const char *)data, size, 0);

  /* The same frame twice in one batch (one transaction): a second copy
  ** of an event is a duplicate, of a NEG-OPEN a reopened session. Only
  ** for what looks like a single frame: a batch does not nest. */
  size_t i = 0;
  while (i < size && (data[i] == ' ' || data[i] == '\n')) i++;
  if (size <= BATCH_MAX && i + 1 < size && data[i] == '[' && data[i + 1] != '[') {
    char *zBatch = malloc(2 * size + 4);
    FUZZ_CHECK(zBatch != NULL, "out of memory");
    zBatch[0] = '[';
    memcpy(zBatch + 1, data, size);
    zBatch[1 + size] = ',';
    memcpy(zBatch + 2 + size, data, size);
    zBatch[2 + 2 * size] = ']';
    zBatch[3 + 2 * size] = 0;
    merge_one(zBatch, 3 + 2 * size, 1);
    free(zBatch);
  }

  if (++g_nRun % AUDIT_EVERY == 0) audit();
  return 0;
}
