/*
** test_peers.c -- what a hostile peer can and cannot make the engine do,
** natively under AddressSanitizer + UBSan: connections that cannot reach
** each other's NIP-77 sessions, one result per frame in a batch, the byte
** budget of a batch and of a REQ answer, the memory of refused
** signatures, the storage policy (follows), the size caps of one event,
** deletions of deletions in either order, and the database size budget.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cJSON.h"
#include "check.h"
#include "hiroba.h"
#include "merge.h"
#include "store.h"
#include "strbuf.h"

/* Export-only shims (hiroba.c). */
char *hiroba__merge_batch(int db, int conn, const char *z, const uint32_t *aLen,
                          int nFrame, int nBudget);
int hiroba__conn_close(int db, int conn);
char *hiroba__conn_neg_open(int db, int conn, const char *sub, const char *filter_json);
int hiroba__set_policy(int db, const char *policy_json);

static char zDir[] = "/tmp/hiroba-test-peers-XXXXXX";

static const char *path(const char *zName) {
  static char z[256];
  snprintf(z, sizeof z, "%s/%s", zDir, zName);
  return z;
}

static void remove_db(const char *zName) {
  char z[300];
  snprintf(z, sizeof z, "%s", path(zName));
  unlink(z);
  strcat(z, "-wal");
  unlink(z);
}

/* Merges frames on a connection as one batch; returns the parsed array of
** results (caller deletes), or NULL. */
static cJSON *batch(int db, int conn, int nBudget, int nFrame, const char **azFrame) {
  size_t n = 0;
  uint32_t aLen[64];
  for (int i = 0; i < nFrame; i++) n += (aLen[i] = (uint32_t)strlen(azFrame[i]));
  char *z = malloc(n + 1), *p = z;
  for (int i = 0; i < nFrame; i++) { memcpy(p, azFrame[i], aLen[i]); p += aLen[i]; }
  *p = 0;
  char *zOut = hiroba__merge_batch(db, conn, z, aLen, nFrame, nBudget);
  free(z);
  cJSON *r = zOut ? cJSON_Parse(zOut) : NULL;
  hiroba_free(zOut);
  return r;
}

/* One frame on a connection; returns its result object (caller deletes). */
static cJSON *one(int db, int conn, const char *zFrame) {
  cJSON *a = batch(db, conn, 0, 1, &zFrame);
  CHECK(cJSON_GetArraySize(a) == 1);
  cJSON *r = cJSON_DetachItemFromArray(a, 0);
  cJSON_Delete(a);
  return r;
}

static int n_items(const cJSON *r, const char *zKey) {
  return cJSON_GetArraySize(cJSON_GetObjectItem(r, zKey));
}

static const char *reply_type(const cJSON *r, int i) {
  const cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "replies"), i);
  const cJSON *t = cJSON_GetArrayItem(f, 0);
  return cJSON_IsString(t) ? t->valuestring : "";
}

static const char *first_reason(const cJSON *r) {
  const cJSON *j = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rejected"), 0);
  const cJSON *w = cJSON_GetObjectItem(j, "reason");
  return cJSON_IsString(w) ? w->valuestring : "";
}

/* Signs a draft on db (the author) and returns the event text (caller
** frees with hiroba_free). */
static char *sign_on(int db, const char *zDraft) {
  char *z = hiroba_post(db, zDraft);
  CHECK(z != NULL);
  return z;
}

/* ["EVENT", ev] (static buffer, big enough for the tests' events). */
static const char *event_frame(const char *zEvent) {
  static char z[300000];
  snprintf(z, sizeof z, "[\"EVENT\",%s]", zEvent);
  return z;
}

/* The 64-hex value of a field of an event text (static buffer). */
static const char *field(const char *zEvent, const char *zKey) {
  static char z[129];
  char zPat[32];
  snprintf(zPat, sizeof zPat, "\"%s\":\"", zKey);
  const char *p = strstr(zEvent, zPat);
  size_t n = 0;
  if (p) {
    p += strlen(zPat);
    while (p[n] && p[n] != '"' && n < 128) n++;
    memcpy(z, p, n);
  }
  z[n] = 0;
  return z;
}

static int stored(int db, const char *zId) {
  char zFilter[100];
  snprintf(zFilter, sizeof zFilter, "{\"ids\":[\"%s\"]}", zId);
  char *z = hiroba_query(db, zFilter);
  int found = z && strstr(z, zId) != NULL;
  hiroba_free(z);
  return found;
}

static void test_batch_results(int v, int alice) {
  char *zEv = sign_on(alice, "{\"kind\":1,\"content\":\"hello\",\"tags\":[]}");
  char zEvFrame[4096];
  snprintf(zEvFrame, sizeof zEvFrame, "[\"EVENT\",%s]", zEv);
  const char *az[] = {
    "[\"EVENT\",{\"id\":1}", /* not even JSON */
    zEvFrame,
    "[\"REQ\",\"q\",{\"kinds\":[1]}]",
    "[\"REQ\",\"x\",{\"ids\":5}]",
  };
  cJSON *a = batch(v, 1, 0, 4, az);
  CHECK(cJSON_GetArraySize(a) == 4);
  cJSON *r0 = cJSON_GetArrayItem(a, 0), *r1 = cJSON_GetArrayItem(a, 1);
  cJSON *r2 = cJSON_GetArrayItem(a, 2), *r3 = cJSON_GetArrayItem(a, 3);
  CHECK(n_items(r0, "rejected") == 1 && n_items(r0, "accepted") == 0);
  CHECK(strcmp(reply_type(r0, 0), "NOTICE") == 0);
  CHECK(n_items(r1, "accepted") == 1 && strcmp(reply_type(r1, 0), "OK") == 0);
  /* The REQ after the event already sees it (same transaction). */
  CHECK(n_items(r2, "replies") == 2 && strcmp(reply_type(r2, 1), "EOSE") == 0);
  CHECK(strcmp(reply_type(r3, 0), "CLOSED") == 0);
  cJSON_Delete(a);
  hiroba_free(zEv);

  /* Bad arguments are refused, not crashed on. */
  uint32_t len = 2;
  CHECK(hiroba__merge_batch(v, 0, "[]", &len, 1, 0) == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(hiroba__merge_batch(v, 1, "[]", &len, 0, 0) == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(hiroba__merge_batch(99, 1, "[]", &len, 1, 0) == NULL && hiroba_errcode() == HIROBA_EHANDLE);
}

static void test_budgets(int v, int alice) {
  /* 40 events of ~1 KiB by alice. */
  char zDraft[2000], zContent[1001];
  memset(zContent, 'a', 1000);
  zContent[1000] = 0;
  for (int i = 0; i < 40; i++) {
    snprintf(zDraft, sizeof zDraft, "{\"kind\":1,\"content\":\"%d%s\",\"tags\":[]}", i, zContent);
    char *zEv = sign_on(alice, zDraft);
    cJSON *r = one(v, 1, event_frame(zEv));
    CHECK(n_items(r, "accepted") == 1);
    cJSON_Delete(r);
    hiroba_free(zEv);
  }
  /* A batch of 8 REQs with a 10 KiB budget: the first answer (40 KiB)
  ** passes the budget, so only that frame is applied. */
  const char *az[8];
  for (int i = 0; i < 8; i++) az[i] = "[\"REQ\",\"q\",{\"kinds\":[1]}]";
  cJSON *a = batch(v, 1, 10000, 8, az);
  CHECK(cJSON_GetArraySize(a) == 1);
  cJSON_Delete(a);
  /* The default budget (2 MiB) takes all 8. */
  a = batch(v, 1, 0, 8, az);
  CHECK(cJSON_GetArraySize(a) == 8);
  cJSON_Delete(a);
  /* A REQ answer never passes MERGE_REQ_MAX_BYTES: 1,200 events of 1 KiB
  ** are more than 1 MiB, and a filter's limit is at most 500 events. */
  for (int i = 40; i < 1200; i++) {
    snprintf(zDraft, sizeof zDraft, "{\"kind\":1,\"content\":\"%d%s\",\"tags\":[]}", i, zContent);
    char *zEv = sign_on(alice, zDraft);
    hiroba_free(hiroba_merge(v, event_frame(zEv)));
    hiroba_free(zEv);
  }
  cJSON *r = one(v, 1, "[\"REQ\",\"q\",{\"kinds\":[1]},{\"kinds\":[1],\"until\":1}]");
  int nEvents = n_items(r, "replies") - 1;
  CHECK(nEvents > 0 && nEvents <= STORE_REQ_MAX_LIMIT);
  CHECK(strcmp(reply_type(r, nEvents), "EOSE") == 0);
  cJSON_Delete(r);
  const char *az3[] = {
    "[\"REQ\",\"a\",{\"kinds\":[1],\"limit\":499}]",
    "[\"REQ\",\"b\",{\"kinds\":[1],\"limit\":499},{\"kinds\":[1],\"since\":0,\"limit\":499}]",
  };
  a = batch(v, 1, 4 << 20, 2, az3);
  char *z = cJSON_PrintUnformatted(a);
  CHECK(z && strlen(z) < 2 * (MERGE_REQ_MAX_BYTES + 4096));
  free(z);
  cJSON_Delete(a);
}

static void test_connections(int v) {
  /* Connection 1 opens a session; connection 2 cannot close it, replace
  ** it or push it out by opening many of its own. */
  char *zOpen = hiroba__conn_neg_open(v, 1, "s1", "{\"kinds\":[1]}");
  CHECK(zOpen != NULL);
  hiroba_free(zOpen);
  cJSON *r = one(v, 2, "[\"NEG-ERR\",\"s1\",\"closed: go away\"]");
  CHECK(n_items(r, "replies") == 0 && n_items(r, "rejected") == 0);
  cJSON_Delete(r);
  r = one(v, 2, "[\"NEG-CLOSE\",\"s1\"]");
  cJSON_Delete(r);
  for (int i = 0; i < 40; i++) {
    char zFrame[80];
    snprintf(zFrame, sizeof zFrame, "[\"NEG-OPEN\",\"o%d\",{},\"6100000200\"]", i);
    r = one(v, 2, zFrame);
    CHECK(strcmp(reply_type(r, 0), "NEG-MSG") == 0);
    cJSON_Delete(r);
  }
  /* "61" from the peer: nothing more to say; our open session closes. */
  r = one(v, 1, "[\"NEG-MSG\",\"s1\",\"61\"]");
  CHECK(strcmp(reply_type(r, 0), "NEG-CLOSE") == 0);
  cJSON_Delete(r);
  /* Connection 2 kept only its last 4 sessions. */
  r = one(v, 2, "[\"NEG-MSG\",\"o0\",\"61\"]");
  CHECK(strcmp(reply_type(r, 0), "NEG-ERR") == 0);
  cJSON_Delete(r);
  r = one(v, 2, "[\"NEG-MSG\",\"o39\",\"6100000200\"]");
  CHECK(strcmp(reply_type(r, 0), "NEG-MSG") == 0);
  cJSON_Delete(r);
  /* Closing a connection frees its sessions. */
  CHECK(hiroba__conn_close(v, 2) == 0);
  r = one(v, 2, "[\"NEG-MSG\",\"o39\",\"6100000200\"]");
  CHECK(strcmp(reply_type(r, 0), "NEG-ERR") == 0);
  cJSON_Delete(r);
  CHECK(hiroba__conn_close(v, 2) == 0 && hiroba__conn_close(99, 2) == HIROBA_EHANDLE);

  /* Past the database-wide cap (64 sessions), new ones are refused, and
  ** nobody's open session is closed for them. */
  zOpen = hiroba__conn_neg_open(v, 1, "keep", "{}");
  CHECK(zOpen != NULL);
  hiroba_free(zOpen);
  int nRefused = 0;
  for (int c = 10; c < 30; c++) {
    for (int i = 0; i < 4; i++) {
      char zFrame[80];
      snprintf(zFrame, sizeof zFrame, "[\"NEG-OPEN\",\"o%d\",{},\"6100000200\"]", i);
      r = one(v, c, zFrame);
      nRefused += strcmp(reply_type(r, 0), "NEG-ERR") == 0;
      cJSON_Delete(r);
    }
  }
  CHECK(nRefused == 20 * 4 - 63);
  r = one(v, 1, "[\"NEG-MSG\",\"keep\",\"61\"]");
  CHECK(strcmp(reply_type(r, 0), "NEG-CLOSE") == 0);
  cJSON_Delete(r);
  for (int c = 10; c < 30; c++) hiroba__conn_close(v, c);
}

static void test_refused_signatures(int v, int alice) {
  char *zEv = sign_on(alice, "{\"kind\":1,\"content\":\"signed\",\"tags\":[]}");
  char *zBad = strdup(zEv);
  char *pSig = strstr(zBad, "\"sig\":\"") + 7;
  pSig[10] = pSig[10] == '0' ? '1' : '0';
  for (int i = 0; i < 3; i++) {
    cJSON *r = one(v, 3, event_frame(zBad));
    CHECK(n_items(r, "rejected") == 1 && strcmp(first_reason(r), "invalid: bad signature") == 0);
    cJSON_Delete(r);
  }
  /* The honest copy of the same id is not refused for it. */
  cJSON *r = one(v, 4, event_frame(zEv));
  CHECK(n_items(r, "accepted") == 1);
  cJSON_Delete(r);
  free(zBad);
  hiroba_free(zEv);
}

static void test_policy(void) {
  remove_db("p-v.db"); remove_db("p-alice.db"); remove_db("p-bob.db"); remove_db("p-carol.db");
  int v = hiroba_open(path("p-v.db"));
  int alice = hiroba_open(path("p-alice.db"));
  int bob = hiroba_open(path("p-bob.db"));
  int carol = hiroba_open(path("p-carol.db"));
  CHECK(hiroba__set_policy(v, "{\"store\":\"follows\"}") == 0);
  CHECK(hiroba__set_policy(v, "{\"store\":\"some\"}") == HIROBA_EINVAL);
  CHECK(hiroba__set_policy(v, "{\"maxBytes\":-1}") == HIROBA_EINVAL);
  CHECK(hiroba__set_policy(v, "[]") == HIROBA_EINVAL);
  char zAlice[65];
  char *zId = hiroba_identity(alice);
  snprintf(zAlice, sizeof zAlice, "%s", field(zId, "pubkey"));
  hiroba_free(zId);
  char zDraft[400];
  snprintf(zDraft, sizeof zDraft, "{\"kind\":3,\"content\":\"\",\"tags\":[[\"p\",\"%s\"]]}", zAlice);
  hiroba_free(sign_on(v, zDraft));

  char *zA = sign_on(alice, "{\"kind\":1,\"content\":\"by alice\",\"tags\":[]}");
  char zAId[65];
  snprintf(zAId, sizeof zAId, "%s", field(zA, "id"));
  char *zB = sign_on(bob, "{\"kind\":1,\"content\":\"by bob\",\"tags\":[]}");
  snprintf(zDraft, sizeof zDraft, "{\"kind\":1,\"content\":\"reply\",\"tags\":[[\"p\",\"%s\"]]}", zAlice);
  char *zReply = sign_on(bob, zDraft);
  snprintf(zDraft, sizeof zDraft, "{\"kind\":7,\"content\":\"+\",\"tags\":[[\"e\",\"%s\"]]}", zAId);
  char *zReact = sign_on(carol, zDraft);
  char *zBobName = sign_on(bob, "{\"kind\":0,\"content\":\"{\\\"name\\\":\\\"bob\\\"}\",\"tags\":[]}");
  char *zCarolName = sign_on(carol, "{\"kind\":0,\"content\":\"{}\",\"tags\":[]}");
  char *zDave = sign_on(carol, "{\"kind\":1,\"content\":\"stranger\",\"tags\":[]}");

  struct { const char *zEv; int ok; } a[] = {
    {zB, 0},          /* a stranger's post */
    {zA, 1},          /* a followed author */
    {zReact, 1},      /* reacts to alice's stored post */
    {zReply, 1},      /* names alice */
    {zBobName, 1},    /* bob now has a stored event */
    {zDave, 0},
  };
  for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
    cJSON *r = one(v, 1, event_frame(a[i].zEv));
    CHECK(n_items(r, "accepted") == a[i].ok);
    if (!a[i].ok) CHECK(strncmp(first_reason(r), "blocked: ", 9) == 0);
    cJSON_Delete(r);
  }
  /* Carol's reaction is stored, so her profile is welcome too. */
  cJSON *r = one(v, 1, event_frame(zCarolName));
  CHECK(n_items(r, "accepted") == 1);
  cJSON_Delete(r);
  /* Unfollowing closes the door (the follow set is reloaded). */
  hiroba_free(sign_on(v, "{\"kind\":3,\"content\":\"\",\"tags\":[]}"));
  char *zA2 = sign_on(alice, "{\"kind\":1,\"content\":\"alice again\",\"tags\":[]}");
  r = one(v, 1, event_frame(zA2));
  CHECK(n_items(r, "accepted") == 0);
  cJSON_Delete(r);
  /* The "all" policy keeps it. */
  CHECK(hiroba__set_policy(v, "{\"store\":\"all\"}") == 0);
  r = one(v, 1, event_frame(zA2));
  CHECK(n_items(r, "accepted") == 1);
  cJSON_Delete(r);

  hiroba_free(zA); hiroba_free(zB); hiroba_free(zReply); hiroba_free(zReact);
  hiroba_free(zBobName); hiroba_free(zCarolName); hiroba_free(zDave); hiroba_free(zA2);
  hiroba_close(v); hiroba_close(alice); hiroba_close(bob); hiroba_close(carol);
  remove_db("p-v.db"); remove_db("p-alice.db"); remove_db("p-bob.db"); remove_db("p-carol.db");
}

static void test_event_caps(int v, int alice) {
  /* 60 KB of content and 75 KB of tag text: over 128 KiB in all. */
  size_t n = 75000;
  char *zDraft = malloc(200000);
  char *zTag = malloc(n + 1);
  memset(zTag, 'x', n);
  zTag[n] = 0;
  char *zContent = malloc(60001);
  memset(zContent, 'c', 60000);
  zContent[60000] = 0;
  snprintf(zDraft, 200000, "{\"kind\":1,\"content\":\"%s\",\"tags\":[[\"t\",\"%s\"]]}", zContent, zTag);
  CHECK(hiroba_post(alice, zDraft) == NULL && strstr(hiroba_errmsg(), "128 KiB"));
  free(zContent);

  /* 300 short "t" tags: only the first 256 are indexed. */
  strbuf tags;
  strbuf_init(&tags);
  for (int i = 0; i < 300; i++) {
    char z[40];
    snprintf(z, sizeof z, "%s[\"t\",\"tag%d\"]", i ? "," : "", i);
    strbuf_puts(&tags, z);
  }
  snprintf(zDraft, 200000, "{\"kind\":1,\"content\":\"tags\",\"tags\":[%s]}", tags.z);
  strbuf_free(&tags);
  char *zEv = sign_on(alice, zDraft);
  cJSON *r = one(v, 1, event_frame(zEv));
  CHECK(n_items(r, "accepted") == 1);
  cJSON_Delete(r);
  char *zQ = hiroba_query(v, "{\"#t\":[\"tag10\"]}");
  CHECK(zQ && strstr(zQ, field(zEv, "id")));
  hiroba_free(zQ);
  zQ = hiroba_query(v, "{\"#t\":[\"tag299\"]}");
  CHECK(zQ && strcmp(zQ, "[]") == 0);
  hiroba_free(zQ);
  hiroba_free(zEv);

  /* A deletion naming more than 256 events is refused. */
  strbuf_init(&tags);
  for (int i = 0; i < 257; i++) {
    char z[100];
    snprintf(z, sizeof z, "%s[\"e\",\"%064x\"]", i ? "," : "", i + 1);
    strbuf_puts(&tags, z);
  }
  snprintf(zDraft, 200000, "{\"kind\":5,\"content\":\"\",\"tags\":[%s]}", tags.z);
  strbuf_free(&tags);
  CHECK(hiroba_post(alice, zDraft) == NULL && strstr(hiroba_errmsg(), "at most 256"));
  free(zDraft);
  free(zTag);
}

/* D2 deletes D1, which deletes X: whatever the order, both deletions stay
** and X is gone. */
static void test_deletion_order(int alice) {
  char *zX = sign_on(alice, "{\"kind\":1,\"content\":\"x\",\"tags\":[],\"created_at\":1700000000}");
  char zDraft[300];
  snprintf(zDraft, sizeof zDraft, "{\"kind\":5,\"content\":\"\",\"tags\":[[\"e\",\"%s\"]],\"created_at\":1700000001}", field(zX, "id"));
  char *zD1 = sign_on(alice, zDraft);
  snprintf(zDraft, sizeof zDraft, "{\"kind\":5,\"content\":\"\",\"tags\":[[\"e\",\"%s\"]],\"created_at\":1700000002}", field(zD1, "id"));
  char *zD2 = sign_on(alice, zDraft);
  const char *orders[][3] = {{zX, zD1, zD2}, {zD2, zD1, zX}, {zD1, zD2, zX}, {zD2, zX, zD1}};
  for (int o = 0; o < 4; o++) {
    remove_db("order.db");
    int d = hiroba_open(path("order.db"));
    for (int i = 0; i < 3; i++) hiroba_free(hiroba_merge(d, event_frame(orders[o][i])));
    char zD1Id[65], zD2Id[65], zXId[65];
    snprintf(zD1Id, sizeof zD1Id, "%s", field(zD1, "id"));
    snprintf(zD2Id, sizeof zD2Id, "%s", field(zD2, "id"));
    snprintf(zXId, sizeof zXId, "%s", field(zX, "id"));
    CHECK(stored(d, zD1Id) && stored(d, zD2Id) && !stored(d, zXId));
    hiroba_close(d);
  }
  remove_db("order.db");
  hiroba_free(zX); hiroba_free(zD1); hiroba_free(zD2);
}

static long file_size(const char *zName) {
  struct stat st;
  return stat(path(zName), &st) == 0 ? (long)st.st_size : -1;
}

static void test_size_budget(int alice) {
  remove_db("budget.db");
  int d = hiroba_open(path("budget.db"));
  CHECK(hiroba__set_policy(d, "{\"store\":\"all\",\"maxBytes\":1000000}") == 0);
  char *zMine = sign_on(d, "{\"kind\":1,\"content\":\"my own, oldest\",\"tags\":[],\"created_at\":1000}");
  char zMineId[65];
  snprintf(zMineId, sizeof zMineId, "%s", field(zMine, "id"));
  hiroba_free(zMine);
  char zContent[2001];
  memset(zContent, 'z', 2000);
  zContent[2000] = 0;
  char zDraft[2200];
  int nStored = 0;
  for (int i = 0; i < 2000; i++) {
    snprintf(zDraft, sizeof zDraft, "{\"kind\":1,\"content\":\"%s\",\"tags\":[],\"created_at\":%d}", zContent, 2000 + i);
    char *zEv = sign_on(alice, zDraft);
    hiroba_free(hiroba_merge(d, event_frame(zEv)));
    hiroba_free(zEv);
  }
  char *zAll = hiroba_query(d, "{\"kinds\":[1]}");
  for (const char *p = zAll; p && (p = strstr(p, "\"kind\":1")); p++) nStored++;
  hiroba_free(zAll);
  /* 2,000 events of ~2.3 KiB (4.6 MB) into a 1 MB budget. */
  CHECK(nStored > 100 && nStored < 600);
  CHECK(stored(d, zMineId));
  /* The newest stayed, the oldest went. */
  char *zNew = hiroba_query(d, "{\"kinds\":[1],\"since\":3999}");
  CHECK(zNew && strstr(zNew, "\"created_at\":3999"));
  hiroba_free(zNew);
  hiroba_close(d);
  long n = file_size("budget.db") + file_size("budget.db-wal");
  CHECK(n > 0 && n < 3 * 1000000);
  remove_db("budget.db");
}

int main(void) {
  if (!mkdtemp(zDir)) { perror("mkdtemp"); return 1; }
  remove_db("v.db");
  remove_db("alice.db");
  int v = hiroba_open(path("v.db"));
  int alice = hiroba_open(path("alice.db"));
  CHECK(v > 0 && alice > 0);
  test_batch_results(v, alice);
  test_connections(v);
  test_refused_signatures(v, alice);
  test_event_caps(v, alice);
  test_budgets(v, alice);
  test_deletion_order(alice);
  test_policy();
  test_size_budget(alice);
  hiroba_close(v);
  hiroba_close(alice);
  remove_db("v.db");
  remove_db("alice.db");
  rmdir(zDir);
  return check_report("test_peers");
}
