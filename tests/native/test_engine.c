/*
** test_engine.c -- the public API (hiroba.h) end to end, natively, under
** AddressSanitizer + UBSan: open, identity, post, query, merge between two
** databases, REQ answers, the storage rules, reopen; NIP-45 counts, and
** that a count is answered from indexes.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cJSON.h"
#include "check.h"
#include "hiroba.h"
#include "store.h"

static char zDir[] = "/tmp/hiroba-test-engine-XXXXXX";

/* Path of a file in the test folder (static buffer, one at a time). */
static const char *path(const char *zName) {
  static char z[256];
  snprintf(z, sizeof z, "%s/%s", zDir, zName);
  return z;
}

static int contains(const char *z, const char *zNeedle) {
  return z && strstr(z, zNeedle) != NULL;
}

/* Number of top-level elements in a JSON array of objects (counts the
** objects' opening braces at depth 1; good enough for our own output). */
static int count_objects(const char *z) {
  int depth = 0, n = 0, inStr = 0;
  for (; z && *z; z++) {
    if (inStr) {
      if (*z == '\\') z++;
      else if (*z == '"') inStr = 0;
      continue;
    }
    if (*z == '"') inStr = 1;
    else if (*z == '[' || *z == '{') { if (depth++ == 1 && *z == '{') n++; }
    else if (*z == ']' || *z == '}') depth--;
  }
  return n;
}

/* Merges a frame and returns the result text (caller frees). */
static char *merge(int db, const char *zFmt, const char *zArg) {
  char *zFrame = malloc(strlen(zFmt) + strlen(zArg) + 1);
  sprintf(zFrame, zFmt, zArg);
  char *z = hiroba_merge(db, zFrame);
  free(zFrame);
  return z;
}

static void remove_db(const char *zName) {
  char z[300];
  snprintf(z, sizeof z, "%s", path(zName));
  unlink(z);
  strcat(z, "-wal");
  unlink(z);
  snprintf(z, sizeof z, "%s-journal", path(zName));
  unlink(z);
}

/* hiroba_count's n, or -1 when it failed. */
static long long count(int db, const char *zFilter) {
  char *z = hiroba_count(db, zFilter);
  long long n = -1;
  if (z && sscanf(z, "{\"count\":%lld}", &n) != 1) n = -2;
  hiroba_free(z);
  return n;
}

/* count() of a filter written with printf's format. */
static long long countf(int db, const char *zFmt, ...) {
  char z[600];
  va_list ap;
  va_start(ap, zFmt);
  vsnprintf(z, sizeof z, zFmt, ap);
  va_end(ap);
  return count(db, z);
}

/* The "id" of an event text (static buffer). */
static const char *id_of(const char *zEvent) {
  static char z[65];
  const char *p = zEvent ? strstr(zEvent, "\"id\":\"") : NULL;
  memset(z, 0, sizeof z);
  if (p) memcpy(z, p + 6, 64);
  return z;
}

/* Signs and stores a draft {kind, created_at, tags, content}; the event's
** text (caller frees). */
static char *post_at(int db, int kind, int at, const char *zTags) {
  char zDraft[600];
  snprintf(zDraft, sizeof zDraft,
           "{\"kind\":%d,\"created_at\":%d,\"content\":\"\",\"tags\":%s}", kind, at, zTags);
  char *z = hiroba_post(db, zDraft);
  CHECK(z != NULL);
  return z;
}

/* The store keeps the statements of recent queries prepared and reuses
** them for the same text with other values: each answer is still its
** own, through more shapes than it keeps, and a kept count's cost
** (its full-scan steps) is that run's, not a running total. */
static void test_stmt_cache(void) {
  int a = hiroba_open(path("cache.db"));
  CHECK(a > 0);
  for (int i = 0; i < 12; i++) hiroba_free(post_at(a, i % 3 == 0 ? 7 : 1, 1700000000 + i, "[]"));
  for (int round = 0; round < 3; round++) {
    CHECK(countf(a, "{\"kinds\":[1]}") == 8);
    CHECK(countf(a, "{\"kinds\":[7]}") == 4);
    for (int k = 1; k <= 12; k++) {   /* twelve shapes: more than are kept */
      char zf[200];
      snprintf(zf, sizeof zf, "{\"kinds\":[%d],\"limit\":%d%s}", k % 2 ? 1 : 7, k,
               k % 3 == 0 ? ",\"since\":1700000004" : k % 3 == 1 ? ",\"until\":1700000009" : "");
      char *zq = hiroba_query(a, zf);
      int want = k % 2 ? 8 : 4;   /* kind 1 at i % 3 != 0, kind 7 at 0, 3, 6, 9 */
      if (k % 3 == 0) want = k % 2 ? 6 : 2;
      if (k % 3 == 1) want = k % 2 ? 6 : 4;
      if (want > k) want = k;
      CHECK(count_objects(zq) == want);
      if (count_objects(zq) != want) fprintf(stderr, "%s: %d, not %d\n", zf, count_objects(zq), want);
      hiroba_free(zq);
    }
  }
  hiroba_close(a);

  store *s = NULL;
  CHECK(store_open(path("cache.db"), &s) == 0);
  cJSON *all = cJSON_Parse("[{}]");
  int64_t n1 = 0, n2 = 0;
  store_count_cost c1, c2;
  const char *zReason = "";
  CHECK(store_count(s, all, &n1, &c1, &zReason) == 0);
  CHECK(store_count(s, all, &n2, &c2, &zReason) == 0);
  CHECK(n1 == 12 && n2 == 12);
  CHECK(c1.nFullScanStep > 0 && c1.nFullScanStep == c2.nFullScanStep);
  cJSON_Delete(all);
  store_close(s);
  remove_db("cache.db");
}

/* Counts: each filter field, limits ignored, unions counted once,
** deleted and replaced events left out, bad filters refused, and the
** COUNT frame between peers. */
static void test_count(void) {
  int a = hiroba_open(path("count-a.db"));
  int b = hiroba_open(path("count-b.db"));
  CHECK(a > 0 && b > 0);
  char zX[65];
  memset(zX, 'c', 64);
  zX[64] = 0;
  char zTags[300], zF[600];
  char *e1 = post_at(a, 1, 1000, "[]");
  char zE1[65];
  snprintf(zE1, sizeof zE1, "%s", id_of(e1));
  snprintf(zTags, sizeof zTags, "[[\"p\",\"%s\"]]", zX);
  char *e2 = post_at(a, 1, 2000, zTags);
  snprintf(zTags, sizeof zTags, "[[\"e\",\"%s\"],[\"p\",\"%s\"]]", zE1, zX);
  char *e3 = post_at(a, 7, 3000, zTags);
  snprintf(zTags, sizeof zTags, "[[\"e\",\"%s\"]]", zE1);
  char *e4 = post_at(a, 7, 4000, zTags);
  snprintf(zTags, sizeof zTags, "[[\"e\",\"%s\"]]", id_of(e2));
  char *e5 = post_at(a, 1, 5000, zTags);
  snprintf(zTags, sizeof zTags, "[[\"e\",\"%s\"]]", zE1);
  char *b1 = post_at(b, 1, 1500, zTags);
  hiroba_free(merge(a, "[\"EVENT\",%s]", b1));
  char zA[65], zB[65];
  char *zIdA = hiroba_identity(a), *zIdB = hiroba_identity(b);
  snprintf(zA, sizeof zA, "%s", zIdA ? zIdA + 11 : "");
  snprintf(zB, sizeof zB, "%s", zIdB ? zIdB + 11 : "");

  char *z = hiroba_count(a, "{}");
  CHECK(z && strcmp(z, "{\"count\":6}") == 0);
  hiroba_free(z);
  CHECK(countf(a, "{\"ids\":[\"%s\",\"%s\"]}", zE1, id_of(e2)) == 2);
  CHECK(countf(a, "{\"ids\":[\"%s\",\"%s\"]}", zE1, zX) == 1);
  CHECK(countf(a, "{\"authors\":[\"%s\"]}", zA) == 5);
  CHECK(countf(a, "{\"authors\":[\"%s\"]}", zB) == 1);
  CHECK(countf(a, "{\"authors\":[\"%s\",\"%s\"],\"kinds\":[1]}", zA, zB) == 4);
  CHECK(count(a, "{\"kinds\":[7]}") == 2);
  CHECK(count(a, "{\"kinds\":[1,7]}") == 6);
  CHECK(countf(a, "{\"#e\":[\"%s\"]}", zE1) == 3);
  CHECK(countf(a, "{\"#p\":[\"%s\"]}", zX) == 2);
  CHECK(countf(a, "{\"#e\":[\"%s\"],\"#p\":[\"%s\"]}", zE1, zX) == 1);
  CHECK(countf(a, "{\"kinds\":[7],\"#e\":[\"%s\"]}", zE1) == 2);
  CHECK(count(a, "{\"since\":2000}") == 4);
  CHECK(count(a, "{\"until\":2000}") == 3);
  CHECK(count(a, "{\"since\":1500,\"until\":3000}") == 3);
  CHECK(count(a, "{\"since\":9000}") == 0);
  /* NIP-45 counts every match: limit is checked, then ignored. */
  CHECK(count(a, "{\"kinds\":[1],\"limit\":1}") == 4);
  CHECK(count(a, "{\"limit\":0}") == 6);
  /* Unions: an event that several filters match counts once. */
  CHECK(countf(a, "[{\"kinds\":[7]},{\"#e\":[\"%s\"]}]", zE1) == 3);
  CHECK(countf(a, "[{\"authors\":[\"%s\"]},{\"kinds\":[1]}]", zA) == 6);
  CHECK(count(a, "[{\"kinds\":[7]},{\"kinds\":[7]},{\"since\":4000}]") == 3);
  /* The same matches as a query, which reads them. */
  snprintf(zF, sizeof zF, "[{\"authors\":[\"%s\"]},{\"kinds\":[1]}]", zA);
  char *zq = hiroba_query(a, zF);
  CHECK(count_objects(zq) == 6);
  hiroba_free(zq);

  /* Deleted and replaced events are gone from the store, so from counts. */
  snprintf(zTags, sizeof zTags, "[[\"e\",\"%s\"]]", id_of(e4));
  char *zDel = post_at(a, 5, 6000, zTags);
  CHECK(count(a, "{\"kinds\":[7]}") == 1);
  CHECK(countf(a, "{\"#e\":[\"%s\"]}", zE1) == 2);
  CHECK(count(a, "{\"kinds\":[5]}") == 1);
  CHECK(count(a, "{}") == 6);
  hiroba_free(post_at(a, 0, 7000, "[]"));
  hiroba_free(post_at(a, 0, 7001, "[]"));
  CHECK(count(a, "{\"kinds\":[0]}") == 1);

  /* Bad filters: refused as a query refuses them, with the reason. */
  CHECK(hiroba_count(a, "{\"search\":\"x\"}") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(contains(hiroba_errmsg(), "invalid: unsupported filter field"));
  CHECK(hiroba_count(a, "{\"limit\":-1}") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(contains(hiroba_errmsg(), "limit"));
  CHECK(hiroba_count(a, "{\"kinds\":[\"1\"]}") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(hiroba_count(a, "{\"#e\":\"x\"}") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(hiroba_count(a, "{\"ids\":[\"ABC\"]}") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(hiroba_count(a, "[]") == NULL && contains(hiroba_errmsg(), "from 1 to 64 filters"));
  CHECK(hiroba_count(a, "[{},7]") == NULL && contains(hiroba_errmsg(), "must be an object"));
  CHECK(hiroba_count(a, "not json") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(hiroba_count(a, NULL) == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(hiroba_count(99, "{}") == NULL && hiroba_errcode() == HIROBA_EHANDLE);
  {
    char zMany[65 * 3 + 3] = "[";
    for (int i = 0; i < 65; i++) strcat(zMany, i ? ",{}" : "{}");
    strcat(zMany, "]");
    CHECK(hiroba_count(a, zMany) == NULL && hiroba_errcode() == HIROBA_EINVAL);
    zMany[strlen(zMany) - 4] = ']';
    zMany[strlen(zMany) - 3] = 0;
    CHECK(count(a, zMany) == 7);
  }

  /* COUNT between peers: answered, refused with CLOSED, or (a peer's
  ** answer) ignored. */
  static const char *const aFrame[][2] = {
    {"[\"COUNT\",\"c1\",{\"kinds\":[1]},{\"kinds\":[0,1]}]",
     "\"rejected\":[],\"replies\":[[\"COUNT\",\"c1\",{\"count\":5}]]"},
    {"[\"COUNT\",\"c2\",{\"kinds\":[1],\"search\":\"x\"}]",
     "\"reason\":\"invalid: unsupported filter field\"}],"
     "\"replies\":[[\"CLOSED\",\"c2\",\"invalid: unsupported filter field\"]]"},
    {"[\"COUNT\",\"c3\",\"x\"]", "[\"CLOSED\",\"c3\",\"invalid: a filter must be an object\"]"},
    {"[\"COUNT\",\"c4\",{\"count\":5}]", "\"rejected\":[],\"replies\":[]"},
    {"[\"COUNT\",\"c5\",{\"count\":5},{}]", "[\"CLOSED\",\"c5\",\"invalid: unsupported filter field\"]"},
    {"[\"COUNT\",\"c6\"]", "[\"NOTICE\",\"invalid: COUNT takes a subscription id and filters\"]"},
    {"[\"COUNT\",7,{}]", "[\"NOTICE\",\"invalid: COUNT needs a subscription id"},
  };
  for (size_t i = 0; i < sizeof aFrame / sizeof aFrame[0]; i++) {
    char *zr = hiroba_merge(a, aFrame[i][0]);
    CHECK(contains(zr, aFrame[i][1]));
    if (!contains(zr, aFrame[i][1])) fprintf(stderr, "  %s -> %s\n", aFrame[i][0], zr);
    hiroba_free(zr);
  }

  hiroba_free(e1); hiroba_free(e2); hiroba_free(e3); hiroba_free(e4);
  hiroba_free(e5); hiroba_free(b1); hiroba_free(zDel);
  hiroba_free(zIdA); hiroba_free(zIdB);
  hiroba_close(a); hiroba_close(b);
  remove_db("count-a.db"); remove_db("count-b.db");
}

/* store_count of one filter on a freshly opened store (a cold page
** cache), with what it cost. */
static long long cold_count(const char *zFilter, store_count_cost *pCost) {
  store *s = NULL;
  int rc = store_open(path("plan.db"), &s);
  CHECK(rc == 0);
  cJSON *filters = cJSON_Parse(zFilter);
  if (cJSON_IsObject(filters)) {
    cJSON *one = cJSON_CreateArray();
    cJSON_AddItemToArray(one, filters);
    filters = one;
  }
  int64_t n = -1;
  const char *zReason = "";
  memset(pCost, 0, sizeof *pCost);
  if (rc == 0 && filters) rc = store_count(s, filters, &n, pCost, &zReason);
  CHECK(rc == 0);
  cJSON_Delete(filters);
  store_close(s);
  return rc ? -1 : (long long)n;
}

/* A count is answered from indexes: no loop over a whole table or index
** (SQLite's full-scan step counter stays 0 while the unindexed count of
** everything moves it), and for authors, kinds, ids and time ranges a
** handful of pages, where visiting the rows (each about a page of
** content here) would read one page per event. */
static void test_count_plan(void) {
  enum { N = 120 };
  int a = hiroba_open(path("plan.db"));
  CHECK(a > 0);
  static char zDraft[16000];
  char zFirst[65] = {0};
  for (int i = 0; i < N; i++) {
    int n = snprintf(zDraft, sizeof zDraft,
                     "{\"kind\":%d,\"created_at\":%d,\"tags\":[[\"e\",\"%064d\"]],\"content\":\"",
                     i % 2 ? 7 : 1, 1000 + i, i % 3);
    memset(zDraft + n, 'x', 6000);
    strcpy(zDraft + n + 6000, "\"}");
    char *z = hiroba_post(a, zDraft);
    CHECK(z != NULL);
    if (i == 0) memcpy(zFirst, id_of(z), 64);
    hiroba_free(z);
  }
  char *zId = hiroba_identity(a);
  char zA[65];
  snprintf(zA, sizeof zA, "%s", zId ? zId + 11 : "");
  hiroba_free(zId);
  hiroba_close(a);

  char zF[300];
  store_count_cost cost;
  snprintf(zF, sizeof zF, "{\"authors\":[\"%s\"]}", zA);
  CHECK(cold_count(zF, &cost) == N);
  CHECK(cost.nFullScanStep == 0);
  CHECK(cost.nPageRead > 0 && cost.nPageRead < 20);
  snprintf(zF, sizeof zF, "{\"authors\":[\"%s\"],\"kinds\":[7],\"since\":1010}", zA);
  CHECK(cold_count(zF, &cost) == (N - 10) / 2);
  CHECK(cost.nFullScanStep == 0 && cost.nPageRead < 20);
  CHECK(cold_count("{\"kinds\":[1]}", &cost) == N / 2);
  CHECK(cost.nFullScanStep == 0 && cost.nPageRead < 20);
  CHECK(cold_count("{\"since\":1100,\"until\":1109}", &cost) == 10);
  CHECK(cost.nFullScanStep == 0 && cost.nPageRead < 20);
  snprintf(zF, sizeof zF, "{\"ids\":[\"%s\"]}", zFirst);
  CHECK(cold_count(zF, &cost) == 1);
  CHECK(cost.nFullScanStep == 0 && cost.nPageRead < 20);
  snprintf(zF, sizeof zF, "[{\"kinds\":[1]},{\"authors\":[\"%s\"]}]", zA);
  CHECK(cold_count(zF, &cost) == N);
  CHECK(cost.nFullScanStep == 0 && cost.nPageRead < 40);
  /* Tags alone: the tag table answers (the rows' pages are never read). */
  snprintf(zF, sizeof zF, "{\"#e\":[\"%064d\",\"%064d\"],\"limit\":1}", 1, 2);
  CHECK(cold_count(zF, &cost) == 2 * N / 3);
  CHECK(cost.nFullScanStep == 0 && cost.nPageRead < 20);
  /* With other fields the matching events are looked up by rowid. */
  snprintf(zF, sizeof zF, "{\"kinds\":[7],\"#e\":[\"%064d\"]}", 1);
  CHECK(cold_count(zF, &cost) == N / 6);
  CHECK(cost.nFullScanStep == 0);
  /* The counters see what they claim to: a count of everything loops
  ** over an index, and one that needs a column outside the id index
  ** (created_at, for each of N ids) reads the rows. */
  CHECK(cold_count("{}", &cost) == N);
  CHECK(cost.nFullScanStep >= N - 1);
  strcpy(zDraft, "{\"since\":0,\"ids\":[");
  a = hiroba_open(path("plan.db"));
  char *zAll = hiroba_query(a, "{}");
  hiroba_close(a);
  for (const char *p = zAll; p && (p = strstr(p, "\"id\":\"")) != NULL; p += 70) {
    strcat(zDraft, zDraft[strlen(zDraft) - 1] == '[' ? "\"" : ",\"");
    strncat(zDraft, p + 6, 64);
    strcat(zDraft, "\"");
  }
  strcat(zDraft, "]}");
  hiroba_free(zAll);
  CHECK(cold_count(zDraft, &cost) == N);
  CHECK(cost.nFullScanStep == 0 && cost.nPageRead >= N);
  remove_db("plan.db");
}

/* The sync driver's key-value store: round trips, deletion, reopening,
** bounds, and no key that reaches the identity. */
char *hiroba__state_get(int db, const char *key);
int hiroba__state_set(int db, const char *key, const char *value_json);

static void test_state(void) {
  int db = hiroba_open(path("state.db"));
  CHECK(db > 0);
  char *z = hiroba__state_get(db, "relay:wss://x");
  CHECK(z && strcmp(z, "null") == 0);
  hiroba_free(z);
  CHECK(hiroba__state_set(db, "relay:wss://x", "{\"since\":12}") == 0);
  CHECK(hiroba__state_set(db, "relay:wss://x", "{\"since\":13}") == 0);
  z = hiroba__state_get(db, "relay:wss://x");
  CHECK(z && strcmp(z, "{\"since\":13}") == 0);
  hiroba_free(z);
  CHECK(hiroba__state_set(db, "gone", "[1,2]") == 0);
  CHECK(hiroba__state_set(db, "gone", NULL) == 0);
  z = hiroba__state_get(db, "gone");
  CHECK(z && strcmp(z, "null") == 0);
  hiroba_free(z);
  /* Bad keys and values are clear errors. */
  CHECK(hiroba__state_set(db, "", "1") == HIROBA_EINVAL);
  CHECK(hiroba__state_set(db, "a\x7f", "1") == HIROBA_EINVAL);
  CHECK(hiroba__state_set(db, "a\xc2\x85" "b", "1") == HIROBA_EINVAL); /* C1 NEL */
  CHECK(hiroba__state_set(db, "a\xff", "1") == HIROBA_EINVAL);         /* not UTF-8 */
  CHECK(hiroba__state_set(db, "caf\xc3\xa9", "1") == 0);
  CHECK(hiroba__state_set(db, "caf\xc3\xa9", NULL) == 0);
  CHECK(hiroba__state_set(db, "k", "1 2") == HIROBA_EINVAL);
  CHECK(hiroba__state_set(db, "k", "") == HIROBA_EINVAL);
  CHECK(hiroba__state_set(db, "a\nb", "1") == HIROBA_EINVAL && contains(hiroba_errmsg(), "state key"));
  CHECK(hiroba__state_set(999, "k", "1") == HIROBA_EHANDLE);
  CHECK(hiroba__state_set(db, "k", "{not json") == HIROBA_EINVAL && contains(hiroba_errmsg(), "JSON"));
  CHECK(hiroba__state_set(db, NULL, "1") == HIROBA_EINVAL);
  CHECK(hiroba__state_get(db, "") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  char zLong[300];
  memset(zLong, 'k', sizeof zLong - 1);
  zLong[sizeof zLong - 1] = 0;
  CHECK(hiroba__state_set(db, zLong, "1") == HIROBA_EINVAL);
  static char zBig[70000];
  zBig[0] = '"';
  memset(zBig + 1, 'x', sizeof zBig - 3);
  zBig[sizeof zBig - 2] = '"';
  CHECK(hiroba__state_set(db, "big", zBig) == HIROBA_EINVAL && contains(hiroba_errmsg(), "65536"));
  /* The identity's rows are not state keys. */
  z = hiroba__state_get(db, "seckey");
  CHECK(z && strcmp(z, "null") == 0);
  hiroba_free(z);
  char *zId = hiroba_identity(db);
  CHECK(hiroba__state_set(db, "seckey", "1") == 0);
  CHECK(hiroba__state_set(db, "pubkey", "1") == 0);
  z = hiroba__state_get(db, "seckey");   /* the state value, not the key */
  CHECK(z && strcmp(z, "1") == 0);
  hiroba_free(z);
  CHECK(hiroba__state_set(db, "seckey", NULL) == 0);
  CHECK(hiroba_close(db) == 0);
  /* Everything survives a reopen, the identity untouched. */
  db = hiroba_open(path("state.db"));
  char *zId2 = hiroba_identity(db);
  CHECK(zId && zId2 && strcmp(zId, zId2) == 0);
  hiroba_free(zId);
  hiroba_free(zId2);
  z = hiroba__state_get(db, "relay:wss://x");
  CHECK(z && strcmp(z, "{\"since\":13}") == 0);
  hiroba_free(z);
  /* At most 1,024 keys: one more is refused, overwriting still works. */
  char zKey[32];
  int rc = 0;
  for (int i = 0; i < 1024 && rc == 0; i++) {
    snprintf(zKey, sizeof zKey, "k%d", i);
    rc = hiroba__state_set(db, zKey, "0");
  }
  CHECK(rc == HIROBA_EFULL && contains(hiroba_errmsg(), "1024"));
  CHECK(hiroba__state_set(db, "relay:wss://x", "2") == 0);
  CHECK(hiroba__state_set(db, "one more", "0") == HIROBA_EFULL);
  CHECK(hiroba__state_set(db, "k0", NULL) == 0);      /* a delete frees a slot */
  CHECK(hiroba__state_set(db, "one more", "0") == 0);
  zId = hiroba_identity(db);                         /* the identity still reads */
  CHECK(zId != NULL);
  hiroba_free(zId);
  CHECK(hiroba_close(db) == 0);
  remove_db("state.db");
}

/* The key shims of openFeed({ secretKey }) and feed.exportKey. */
int hiroba__adopt_key(int db, const char *seckey_hex, int fresh);
char *hiroba__secret_key(int db);

static void test_keys(void) {
  static const char zSk[] = "4242424242424242424242424242424242424242424242424242424242424242";
  static const char zOther[] = "0101010101010101010101010101010101010101010101010101010101010101";
  int db = hiroba_open(path("keys.db"));
  CHECK(db > 0);
  /* A new database's own random key is there to export. */
  char *z = hiroba__secret_key(db);
  CHECK(z && strlen(z) == 64 && strcmp(z, zSk) != 0);
  hiroba_free(z);
  CHECK(hiroba__adopt_key(db, zSk, 1) == 0);
  z = hiroba__secret_key(db);
  CHECK(z && strcmp(z, zSk) == 0);
  hiroba_free(z);
  /* The same key again is fine anywhere; another only on a fresh,
  ** empty database; bad keys are codes. */
  CHECK(hiroba__adopt_key(db, zSk, 0) == 0);
  CHECK(hiroba__adopt_key(db, zOther, 0) == HIROBA_EINVAL && contains(hiroba_errmsg(), "another identity"));
  CHECK(hiroba__adopt_key(db, "abc", 1) == HIROBA_EINVAL);
  CHECK(hiroba__adopt_key(db, NULL, 1) == HIROBA_EINVAL);
  CHECK(hiroba__adopt_key(db, "0000000000000000000000000000000000000000000000000000000000000000", 1) == HIROBA_EINVAL);
  CHECK(hiroba__secret_key(99) == NULL && hiroba_errcode() == HIROBA_EHANDLE);
  hiroba_close(db);
  /* The key survives a reopen. */
  db = hiroba_open(path("keys.db"));
  z = hiroba__secret_key(db);
  CHECK(z && strcmp(z, zSk) == 0);
  hiroba_free(z);
  hiroba_close(db);
  remove_db("keys.db");
}

/* The signer shims of openFeed({ signer }): a database whose identity is
** a public key alone. Here the "signer" is another database holding the
** secret: hiroba__sign signs the unsigned event hiroba__prepare gives. */
int hiroba__adopt_pubkey(int db, const char *pubkey_hex, int fresh);
char *hiroba__prepare(int db, const char *draft_json);
char *hiroba__post_signed(int db, const char *event_json, int *pIsNew);
char *hiroba__sign(int db, const char *draft_json);

static void test_signer(void) {
  static const char zSk[] = "4242424242424242424242424242424242424242424242424242424242424242";
  int holder = hiroba_open(path("holder.db"));
  CHECK(hiroba__adopt_key(holder, zSk, 1) == 0);
  char *zId = hiroba_identity(holder);
  char zPk[65] = {0};
  if (zId) memcpy(zPk, zId + 11, 64);
  hiroba_free(zId);

  int db = hiroba_open(path("signer.db"));
  /* Bad public keys: not hex, and x values with no curve point. */
  CHECK(hiroba__adopt_pubkey(db, "abc", 1) == HIROBA_EINVAL);
  CHECK(hiroba__adopt_pubkey(db, NULL, 1) == HIROBA_EINVAL);
  CHECK(hiroba__adopt_pubkey(db, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", 1) == HIROBA_EINVAL);
  CHECK(hiroba__adopt_pubkey(db, "0000000000000000000000000000000000000000000000000000000000000005", 1) == HIROBA_EINVAL);
  CHECK(hiroba__adopt_pubkey(db, zPk, 1) == 0);
  zId = hiroba_identity(db);
  CHECK(contains(zId, zPk));
  hiroba_free(zId);
  CHECK(hiroba__adopt_pubkey(db, zPk, 0) == 0); /* the same again: fine */

  /* Nothing to sign with here: a clear code, nothing stored. */
  CHECK(hiroba_post(db, "{\"kind\":1,\"content\":\"x\"}") == NULL && hiroba_errcode() == HIROBA_ENOKEY);
  CHECK(contains(hiroba_errmsg(), "signer"));
  CHECK(hiroba__sign(db, "{\"kind\":22242}") == NULL && hiroba_errcode() == HIROBA_ENOKEY);
  CHECK(hiroba__secret_key(db) == NULL && hiroba_errcode() == HIROBA_ENOKEY);
  CHECK(contains(hiroba_constants(), "\"HIROBA_ENOKEY\":-11"));

  /* prepare -> signed elsewhere -> post_signed: stored as hiroba_post
  ** stores, a second time a duplicate with the same event. */
  CHECK(hiroba__prepare(db, "{\"kind\":-1}") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  char *zU = hiroba__prepare(db, "{\"kind\":1,\"content\":\"via a signer\",\"tags\":[[\"t\",\"x\"]]}");
  CHECK(contains(zU, "{\"pubkey\":\"") && contains(zU, zPk) && contains(zU, "\"content\":\"via a signer\"") && !contains(zU, "\"sig\""));
  char *zSigned = hiroba__sign(holder, zU ? zU : "{}");
  int isNew = -1;
  char *zStored = hiroba__post_signed(db, zSigned ? zSigned : "{}", &isNew);
  CHECK(zStored && zSigned && strcmp(zStored, zSigned) == 0 && isNew == 1);
  hiroba_free(zStored);
  zStored = hiroba__post_signed(db, zSigned ? zSigned : "{}", &isNew);
  CHECK(zStored && isNew == 0);
  hiroba_free(zStored);
  char *zq = hiroba_query(db, "{\"#t\":[\"x\"]}");
  CHECK(count_objects(zq) == 1);
  hiroba_free(zq);

  /* Refused, and nothing stored: a forged signature, bad JSON, another
  ** author's event. */
  char *zForged = strdup(zSigned ? zSigned : "{}");
  char *pSig = strstr(zForged, "\"sig\":\"");
  if (pSig) pSig[7] = pSig[7] == '0' ? '1' : '0';
  CHECK(hiroba__post_signed(db, zForged, &isNew) == NULL && hiroba_errcode() == HIROBA_EREJECTED);
  CHECK(contains(hiroba_errmsg(), "refused") && (contains(hiroba_errmsg(), "signature") || contains(hiroba_errmsg(), "id")));
  free(zForged);
  CHECK(hiroba__post_signed(db, "not json", &isNew) == NULL && hiroba_errcode() == HIROBA_EREJECTED);
  CHECK(hiroba__post_signed(db, NULL, &isNew) == NULL && hiroba_errcode() == HIROBA_EINVAL);
  char *zOther = hiroba_post(holder, "{\"kind\":1,\"content\":\"not yours\"}");
  int other = hiroba_open(path("other.db"));
  char *zOtherU = hiroba__prepare(other, "{\"kind\":1,\"content\":\"not yours\"}");
  char *zOtherSigned = hiroba_post(other, "{\"kind\":1,\"content\":\"by other\"}");
  CHECK(hiroba__post_signed(db, zOtherSigned ? zOtherSigned : "{}", &isNew) == NULL && hiroba_errcode() == HIROBA_EREJECTED);
  CHECK(contains(hiroba_errmsg(), "identity"));
  hiroba_free(zOther); hiroba_free(zOtherU); hiroba_free(zOtherSigned);
  hiroba_close(other);
  remove_db("other.db");
  zq = hiroba_query(db, "{}");
  CHECK(count_objects(zq) == 1);
  hiroba_free(zq);

  /* Replaceable kinds: a second prepared update sorts after the first. */
  char *zL1 = hiroba__prepare(db, "{\"kind\":3,\"tags\":[[\"p\",\"aa\"]]}");
  char *zL1s = hiroba__sign(holder, zL1 ? zL1 : "{}");
  hiroba_free(hiroba__post_signed(db, zL1s ? zL1s : "{}", &isNew));
  char *zL2 = hiroba__prepare(db, "{\"kind\":3,\"tags\":[[\"p\",\"bb\"]]}");
  cJSON *j1 = cJSON_Parse(zL1 ? zL1 : "{}"), *j2 = cJSON_Parse(zL2 ? zL2 : "{}");
  CHECK(cJSON_GetObjectItem(j2, "created_at") && cJSON_GetObjectItem(j1, "created_at") &&
        cJSON_GetObjectItem(j2, "created_at")->valuedouble > cJSON_GetObjectItem(j1, "created_at")->valuedouble);
  cJSON_Delete(j1); cJSON_Delete(j2);
  hiroba_free(zL1); hiroba_free(zL1s); hiroba_free(zL2);

  /* Reopened, the identity is still the public key alone: no key was made. */
  hiroba_close(db);
  db = hiroba_open(path("signer.db"));
  zId = hiroba_identity(db);
  CHECK(contains(zId, zPk));
  hiroba_free(zId);
  CHECK(hiroba_post(db, "{\"kind\":1}") == NULL && hiroba_errcode() == HIROBA_ENOKEY);
  /* Another identity is refused on a database with events, fresh or not. */
  CHECK(hiroba__adopt_pubkey(db, "0000000000000000000000000000000000000000000000000000000000000001", 1) == HIROBA_EINVAL);
  CHECK(contains(hiroba_errmsg(), "another identity"));
  /* The secret, handed over, is kept: then the database signs itself. */
  CHECK(hiroba__adopt_key(db, zSk, 0) == 0);
  char *zPost = hiroba_post(db, "{\"kind\":1,\"content\":\"signed here\"}");
  CHECK(contains(zPost, zPk));
  hiroba_free(zPost);
  char *zKey = hiroba__secret_key(db);
  CHECK(zKey && strcmp(zKey, zSk) == 0);
  hiroba_free(zKey);
  /* And a signer may still be used on it. */
  CHECK(hiroba__adopt_pubkey(db, zPk, 0) == 0);
  zKey = hiroba__secret_key(db);
  CHECK(zKey && strcmp(zKey, zSk) == 0);
  hiroba_free(zKey);

  hiroba_free(zU); hiroba_free(zSigned);
  hiroba_close(db); hiroba_close(holder);
  remove_db("signer.db"); remove_db("holder.db");
}

int main(void) {
  CHECK(mkdtemp(zDir) != NULL);

  /* Bad arguments get codes, never crashes. */
  CHECK(hiroba_open("") == HIROBA_EINVAL);
  CHECK(hiroba_open(NULL) == HIROBA_EINVAL);
  CHECK(hiroba_close(99) == HIROBA_EHANDLE);
  CHECK(hiroba_query(99, "{}") == NULL && hiroba_errcode() == HIROBA_EHANDLE);
  CHECK(hiroba_post(0, "{}") == NULL);
  CHECK(contains(hiroba_constants(), "\"HIROBA_EREJECTED\":-9"));

  int a = hiroba_open(path("a.db"));
  int b = hiroba_open(path("b.db"));
  CHECK(a > 0 && b > 0 && a != b);

  char *zIdA = hiroba_identity(a);
  char *zIdB = hiroba_identity(b);
  CHECK(contains(zIdA, "{\"pubkey\":\"") && strlen(zIdA) == 77);
  CHECK(zIdA && zIdB && strcmp(zIdA, zIdB) != 0);

  /* Drafts are checked. */
  CHECK(hiroba_post(a, "not json") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(hiroba_post(a, "{\"kind\":-1}") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(hiroba_post(a, "{\"kind\":1,\"tags\":[[1]]}") == NULL);
  CHECK(hiroba_post(a, "{\"kind\":1,\"content\":7}") == NULL);

  char *zPost = hiroba_post(a, "{\"kind\":1,\"content\":\"hello \\\"world\\\"\\n\",\"tags\":[[\"t\",\"hi\"]]}");
  CHECK(contains(zPost, "\"content\":\"hello \\\"world\\\"\\n\""));
  CHECK(contains(zPost, "\"kind\":1") && contains(zPost, "\"sig\":\""));
  char zId[65] = {0};
  if (zPost) memcpy(zId, strstr(zPost, "\"id\":\"") + 6, 64);

  /* Query: by id, by tag, by kind, by author. */
  char zFilter[200];
  snprintf(zFilter, sizeof zFilter, "{\"ids\":[\"%s\"]}", zId);
  char *zq = hiroba_query(a, zFilter);
  CHECK(count_objects(zq) == 1 && contains(zq, zId));
  hiroba_free(zq);
  zq = hiroba_query(a, "{\"#t\":[\"hi\"]}");
  CHECK(count_objects(zq) == 1);
  hiroba_free(zq);
  zq = hiroba_query(a, "[{\"kinds\":[7]},{\"kinds\":[1]}]");
  CHECK(count_objects(zq) == 1);
  hiroba_free(zq);
  CHECK(hiroba_query(a, "{\"search\":\"x\"}") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(contains(hiroba_errmsg(), "unsupported"));
  CHECK(hiroba_query(a, "{\"ids\":[\"ABC\"]}") == NULL);

  /* A's post merged into B: accepted, then a duplicate. */
  char *zr = merge(b, "[\"EVENT\",%s]", zPost);
  CHECK(contains(zr, "\"accepted\":[\"") && contains(zr, "[\"OK\",\""));
  CHECK(contains(zr, "\",true,\"\"]"));
  hiroba_free(zr);
  zr = merge(b, "[\"EVENT\",%s]", zPost);
  CHECK(contains(zr, "\"duplicates\":1") && contains(zr, "duplicate:"));
  hiroba_free(zr);

  /* A forged signature is rejected with OK false, and not stored. */
  char *zForged = strdup(zPost);
  char *pSig = strstr(zForged, "\"sig\":\"") + 7;
  *pSig = *pSig == '0' ? '1' : '0';
  char *zForged2 = strdup(zForged);
  char *pContent = strstr(zForged2, "hello");
  pContent[0] = 'j';
  zr = merge(b, "[\"EVENT\",%s]", zForged2);
  CHECK(contains(zr, "id does not match") || contains(zr, "invalid:"));
  CHECK(contains(zr, "\"accepted\":[]"));
  hiroba_free(zr);
  int c = hiroba_open(path("c.db"));
  zr = merge(c, "[\"EVENT\",%s]", zForged);
  CHECK(contains(zr, "bad signature") && contains(zr, ",false,"));
  hiroba_free(zr);
  zq = hiroba_query(c, "{}");
  CHECK(zq && strcmp(zq, "[]") == 0);
  hiroba_free(zq);
  free(zForged);
  free(zForged2);

  /* REQ: stored events then EOSE; a bad filter closes the subscription. */
  zr = hiroba_merge(b, "[\"REQ\",\"s1\",{\"kinds\":[1]}]");
  CHECK(contains(zr, "[\"EVENT\",\"s1\",{") && contains(zr, "[\"EOSE\",\"s1\"]"));
  hiroba_free(zr);
  zr = hiroba_merge(b, "[\"REQ\",\"s2\",{\"limit\":-1}]");
  CHECK(contains(zr, "[\"CLOSED\",\"s2\",\"invalid:"));
  hiroba_free(zr);
  zr = hiroba_merge(b, "[\"FOO\"]");
  CHECK(contains(zr, "\"NOTICE\"") && contains(zr, "unknown frame type"));
  hiroba_free(zr);

  /* Replaceable: two updates within a second both count, newest kept. */
  char *zF1 = hiroba_post(a, "{\"kind\":3,\"content\":\"\",\"tags\":[[\"p\",\"aa\"]]}");
  char *zF2 = hiroba_post(a, "{\"kind\":3,\"content\":\"\",\"tags\":[[\"p\",\"bb\"]]}");
  CHECK(zF1 && zF2);
  zq = hiroba_query(a, "{\"kinds\":[3]}");
  CHECK(count_objects(zq) == 1 && contains(zq, "\"bb\""));
  hiroba_free(zq);
  /* B receives them out of order: the older one is refused as replaced. */
  zr = merge(b, "[\"EVENT\",%s]", zF2);
  CHECK(contains(zr, "\"accepted\":[\""));
  hiroba_free(zr);
  zr = merge(b, "[\"EVENT\",%s]", zF1);
  CHECK(contains(zr, "replaced:"));
  hiroba_free(zr);

  /* Deletion: A deletes its post; B applies it; the post never returns. */
  char zDraft[300];
  snprintf(zDraft, sizeof zDraft, "{\"kind\":5,\"content\":\"\",\"tags\":[[\"e\",\"%s\"]]}", zId);
  char *zDel = hiroba_post(a, zDraft);
  CHECK(zDel != NULL);
  zq = hiroba_query(a, zFilter);
  CHECK(zq && strcmp(zq, "[]") == 0);
  hiroba_free(zq);
  zr = merge(b, "[\"EVENT\",%s]", zDel);
  CHECK(contains(zr, "\"accepted\":[\""));
  hiroba_free(zr);
  zr = merge(b, "[\"EVENT\",%s]", zPost);
  CHECK(contains(zr, "blocked:") && contains(zr, "\"accepted\":[]"));
  hiroba_free(zr);
  /* A deletion arriving first blocks its target too. */
  zr = merge(c, "[\"EVENT\",%s]", zDel);
  hiroba_free(zr);
  zr = merge(c, "[[\"EVENT\",%s]]", zPost);
  CHECK(contains(zr, "blocked:"));
  hiroba_free(zr);

  /* A deleted newest version of a replaceable kind: every arrival order
  ** ends with the same (empty) slot. */
  {
    char *zV1 = hiroba_post(a, "{\"kind\":0,\"content\":\"{}\",\"tags\":[]}");
    char *zV2 = hiroba_post(a, "{\"kind\":0,\"content\":\"{\\\"name\\\":\\\"x\\\"}\",\"tags\":[]}");
    CHECK(zV1 && zV2);
    char zV2Id[65] = {0};
    if (zV2) memcpy(zV2Id, strstr(zV2, "\"id\":\"") + 6, 64);
    snprintf(zDraft, sizeof zDraft, "{\"kind\":5,\"content\":\"\",\"tags\":[[\"e\",\"%s\"]]}", zV2Id);
    char *zD = hiroba_post(a, zDraft);
    CHECK(zD != NULL);
    const char *aOrder[3][3] = {{zV1, zV2, zD}, {zD, zV1, zV2}, {zV2, zD, zV1}};
    for (int i = 0; i < 3; i++) {
      char zName[16];
      snprintf(zName, sizeof zName, "slot%d.db", i);
      int x = hiroba_open(path(zName));
      for (int j = 0; j < 3; j++) hiroba_free(merge(x, "[\"EVENT\",%s]", aOrder[i][j]));
      zq = hiroba_query(x, "{\"kinds\":[0]}");
      CHECK(zq && strcmp(zq, "[]") == 0);
      hiroba_free(zq);
      hiroba_close(x);
      remove_db(zName);
    }
    hiroba_free(zV1); hiroba_free(zV2); hiroba_free(zD);
  }

  /* Mute: B mutes A; A's events go and stay away. */
  char zPk[65] = {0};
  memcpy(zPk, zIdA + 11, 64);
  snprintf(zDraft, sizeof zDraft, "{\"kind\":10000,\"content\":\"\",\"tags\":[[\"p\",\"%s\"]]}", zPk);
  char *zMute = hiroba_post(b, zDraft);
  CHECK(zMute != NULL);
  snprintf(zFilter, sizeof zFilter, "{\"authors\":[\"%s\"]}", zPk);
  zq = hiroba_query(b, zFilter);
  CHECK(zq && strcmp(zq, "[]") == 0);
  hiroba_free(zq);
  char *zLater = hiroba_post(a, "{\"kind\":1,\"content\":\"still here\"}");
  zr = merge(b, "[\"EVENT\",%s]", zLater);
  CHECK(contains(zr, "blocked: author is muted"));
  hiroba_free(zr);

  /* Close and reopen: identity and events persist. */
  CHECK(hiroba_close(a) == 0);
  CHECK(hiroba_close(a) == HIROBA_EHANDLE);
  a = hiroba_open(path("a.db"));
  char *zIdA2 = hiroba_identity(a);
  CHECK(zIdA2 && strcmp(zIdA, zIdA2) == 0);
  zq = hiroba_query(a, "{\"kinds\":[1]}");
  CHECK(count_objects(zq) == 1 && contains(zq, "still here"));
  hiroba_free(zq);

  /* U+0000 and a lone surrogate (a truncated emoji): kept, printed back
  ** as JSON.stringify escapes them (lowercase), and found by tag filters
  ** spelled with the same escapes in either case. */
  char *zOdd = hiroba_post(c, "{\"kind\":1,\"content\":\"cut \\uD83D and \\u0000\","
                              "\"tags\":[[\"t\",\"\\ud83d\\u0000\"]]}");
  CHECK(contains(zOdd, "\"content\":\"cut \\ud83d and \\u0000\""));
  CHECK(contains(zOdd, "[[\"t\",\"\\ud83d\\u0000\"]]"));
  zq = hiroba_query(c, "{\"#t\":[\"\\uD83D\\u0000\"]}");
  CHECK(zOdd && count_objects(zq) == 1 && contains(zq, zOdd));
  hiroba_free(zq);
  zq = hiroba_query(c, "{\"#t\":[\"\\ud83d\"]}");
  CHECK(zq && strcmp(zq, "[]") == 0);
  hiroba_free(zq);
  zr = merge(b, "[\"EVENT\",%s]", zOdd ? zOdd : "null");
  CHECK(contains(zr, "\",true,\"\"]"));
  hiroba_free(zr);
  zr = hiroba_merge(b, "[\"REQ\",\"s\\udc00\",{\"#t\":[\"\\ud83d\\u0000\"]}]");
  CHECK(zOdd && contains(zr, "[\"EVENT\",\"s\\udc00\",") && contains(zr, zOdd));
  CHECK(contains(zr, "[\"EOSE\",\"s\\udc00\"]"));
  hiroba_free(zr);

  hiroba_free(zOdd);
  hiroba_free(zIdA); hiroba_free(zIdA2); hiroba_free(zIdB);
  hiroba_free(zPost); hiroba_free(zF1); hiroba_free(zF2); hiroba_free(zDel);
  hiroba_free(zMute); hiroba_free(zLater);
  hiroba_close(a); hiroba_close(b); hiroba_close(c);
  remove_db("a.db"); remove_db("b.db"); remove_db("c.db");
  test_count();
  test_count_plan();
  test_stmt_cache();
  test_state();
  test_keys();
  test_signer();
  rmdir(zDir);
  return check_report("test_engine");
}
