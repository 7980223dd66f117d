/*
** test_plan.c -- schema version 2: each anchor query and count of the
** store uses a fitting index (EXPLAIN QUERY PLAN of the very statement
** query.c builds; this binary links an SQLite with EXPLAIN, see the
** Makefile), and a version 1 database (tests/node/fixtures/v1.db, made
** by the version 1 engine) is migrated on open: every query and count
** answers byte for byte what version 1 answered (v1-answers.json), and a
** migration that fails part way leaves version 1 as it was.
**
** Run from the repository root (make test-native does).
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
#include "store_internal.h"

#define FIXTURE "tests/node/fixtures/v1.db"
#define ANSWERS "tests/node/fixtures/v1-answers.json"

static char zDir[] = "/tmp/hiroba-test-plan-XXXXXX";

static const char *path(const char *zName) {
  static char z[256];
  snprintf(z, sizeof z, "%s/%s", zDir, zName);
  return z;
}

/* The whole of a file, NUL-terminated (caller frees), or NULL. */
static char *slurp(const char *zPath, long *pn) {
  FILE *f = fopen(zPath, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *z = malloc((size_t)n + 1);
  if (z && fread(z, 1, (size_t)n, f) != (size_t)n) { free(z); z = NULL; }
  if (z) z[n] = 0;
  fclose(f);
  if (pn) *pn = n;
  return z;
}

static int copy_fixture(const char *zTo) {
  long n = 0;
  char *z = slurp(FIXTURE, &n);
  if (!z) return -1;
  FILE *f = fopen(zTo, "wb");
  int rc = f && fwrite(z, 1, (size_t)n, f) == (size_t)n ? 0 : -1;
  if (f) fclose(f);
  free(z);
  return rc;
}

/* One integer from a statement on a store's connection, or -1. */
static long long one_int(sqlite3 *db, const char *zSql) {
  sqlite3_stmt *q = NULL;
  long long v = -1;
  if (sqlite3_prepare_v2(db, zSql, -1, &q, NULL) == SQLITE_OK &&
      sqlite3_step(q) == SQLITE_ROW) {
    v = sqlite3_column_int64(q, 0);
  }
  sqlite3_finalize(q);
  return v;
}

/* The plan of a query (bCount 0) or count (1) of filters, its detail
** lines joined by " | " into z. */
static void plan(store *s, const char *zFilters, int bCount, char *z, size_t n) {
  cJSON *filters = cJSON_Parse(zFilters);
  if (cJSON_IsObject(filters)) {
    cJSON *one = cJSON_CreateArray();
    cJSON_AddItemToArray(one, filters);
    filters = one;
  }
  strbuf sql;
  strbuf_init(&sql);
  strbuf_puts(&sql, "EXPLAIN QUERY PLAN ");
  const char *zReason = "";
  z[0] = 0;
  CHECK(store_query_sql(filters, 500, bCount, &sql, &zReason) == 0);
  cJSON_Delete(filters);
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(store_db(s), sql.z, (int)sql.n, &q, NULL);
  CHECK(rc == SQLITE_OK);
  if (rc != SQLITE_OK) fprintf(stderr, "%s\n%s\n", sql.z, sqlite3_errmsg(store_db(s)));
  while (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
    if (z[0]) strncat(z, " | ", n - strlen(z) - 1);
    strncat(z, (const char *)sqlite3_column_text(q, 3), n - strlen(z) - 1);
  }
  sqlite3_finalize(q);
  strbuf_free(&sql);
}

/* The plan contains zWant and none of the others (NULL-terminated). */
static int plan_is(store *s, const char *zFilters, int bCount, const char *zWant, ...) {
  static char z[4000];
  plan(s, zFilters, bCount, z, sizeof z);
  int ok = strstr(z, zWant) != NULL;
  va_list ap;
  va_start(ap, zWant);
  const char *zNot;
  while ((zNot = va_arg(ap, const char *)) != NULL) ok = ok && strstr(z, zNot) == NULL;
  va_end(ap);
  if (!ok) fprintf(stderr, "%s%s: %s\n", bCount ? "count " : "", zFilters, z);
  return ok;
}

/* How many sorts the plan of a query of filters makes. */
static int plan_sorts(store *s, const char *zFilters) {
  static char z[4000];
  plan(s, zFilters, 0, z, sizeof z);
  int n = 0;
  for (const char *p = z; (p = strstr(p, "TEMP B-TREE FOR ORDER BY")) != NULL; p++) n++;
  if (n > 1) fprintf(stderr, "%s: %d sorts: %s\n", zFilters, n, z);
  return n;
}

#define A1 "\"00d07f998931c566543bb67c995f73848740f27b16924b6561eb0d0ba0d0c1a1\""
#define A2 "\"142715675faf8da1ecc4d51e0b9e539fa0d52fdd96ed60dbe99adb15d6b05ad9\""
#define ID "\"51daad34809ea60920bbd45550473efb4195306fa8f44d9cb19bd5e4e9ec3b9b\""

static void test_plans(void) {
  store *s = NULL;
  CHECK(store_open(path("plan.db"), &s) == 0);
  if (!s) return;
  /* A full scan of the event table reads every row's json. */
  const char *kScan = "SCAN event";
  CHECK(plan_is(s, "{\"kinds\":[1],\"authors\":[" A1 "," A2 "],\"limit\":50}", 0,
                "COVERING INDEX event_author (pubkey=?)", kScan, NULL));
  /* One author: their newest in index order, no sort but the final one. */
  CHECK(plan_is(s, "{\"authors\":[" A1 "],\"limit\":50}", 0,
                "COVERING INDEX event_author (pubkey=?)", kScan,
                "TEMP B-TREE FOR ORDER BY | USE TEMP B-TREE FOR ORDER BY", NULL));
  /* A lone filter's matches come out in the order their keys were
  ** picked in: at most that one sort, none where an index gives it. */
  CHECK(plan_sorts(s, "{\"authors\":[" A1 "],\"limit\":50}") == 0);
  CHECK(plan_sorts(s, "{\"limit\":50}") == 0);
  CHECK(plan_sorts(s, "{\"kinds\":[1],\"authors\":[" A1 "," A2 "],\"limit\":50}") == 1);
  CHECK(plan_sorts(s, "{\"kinds\":[1],\"since\":1700000000,\"limit\":50}") <= 1);
  CHECK(plan_sorts(s, "{\"kinds\":[7],\"#e\":[" ID "]}") <= 1);
  CHECK(plan_is(s, "{\"kinds\":[0],\"authors\":[" A1 "," A2 "]}", 0,
                "event_slot (pubkey=? AND kind=?)", kScan, NULL));
  CHECK(plan_is(s, "{\"kinds\":[7],\"#e\":[" ID "]}", 0,
                "tag USING PRIMARY KEY (name=? AND value=?)", kScan, NULL));
  CHECK(plan_is(s, "{\"ids\":[" ID "]}", 0, "sqlite_autoindex_event_1 (id=?)", kScan, NULL));
  CHECK(plan_is(s, "{\"since\":1700000000}", 0, "event_time (created_at>?)", NULL));
  CHECK(plan_is(s, "{\"limit\":20}", 0, "SCAN event USING COVERING INDEX event_time", NULL));
  /* Counts: from an index alone, never a row. */
  CHECK(plan_is(s, "{}", 1, "USING COVERING INDEX", "SCAN event |", NULL));
  CHECK(plan_is(s, "{\"kinds\":[1]}", 1, "COVERING INDEX event_kind (kind=?)", kScan, NULL));
  CHECK(plan_is(s, "{\"authors\":[" A1 "]}", 1, "COVERING INDEX event_author (pubkey=?)", kScan, NULL));
  CHECK(plan_is(s, "{\"authors\":[" A1 "],\"kinds\":[7]}", 1, "COVERING INDEX event_author (pubkey=?)", kScan, NULL));
  CHECK(plan_is(s, "{\"#p\":[" A1 "]}", 1, "tag USING PRIMARY KEY (name=? AND value=?)", "event", NULL));
  store_close(s);
}

/* The migrated fixture answers as version 1 did, and is version 2. */
static void test_migration(void) {
  CHECK(copy_fixture(path("v1.db")) == 0);
  char *zAnswers = slurp(ANSWERS, NULL);
  cJSON *answers = zAnswers ? cJSON_Parse(zAnswers) : NULL;
  free(zAnswers);
  CHECK(answers != NULL);
  int db = hiroba_open(path("v1.db"));
  CHECK(db > 0);
  int n = 0;
  const cJSON *a;
  cJSON_ArrayForEach(a, cJSON_GetObjectItem(answers, "answers")) {
    char *zFilter = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "filter"));
    char *zq = hiroba_query(db, zFilter);
    char *zc = hiroba_count(db, zFilter);
    int same = zq && zc && strcmp(zq, cJSON_GetObjectItem(a, "query")->valuestring) == 0 &&
               strcmp(zc, cJSON_GetObjectItem(a, "count")->valuestring) == 0;
    CHECK(same);
    if (!same) fprintf(stderr, "differs: %s\n", zFilter);
    n += same;
    hiroba_free(zq); hiroba_free(zc); free(zFilter);
  }
  CHECK(n == 32);
  char *zId = hiroba_identity(db);
  char zWant[100];
  snprintf(zWant, sizeof zWant, "{\"pubkey\":\"%s\"}",
           cJSON_GetObjectItem(cJSON_GetObjectItem(answers, "identity"), "pubkey")->valuestring);
  CHECK(zId && strcmp(zId, zWant) == 0);
  hiroba_free(zId);
  hiroba_close(db);
  cJSON_Delete(answers);

  store *s = NULL;
  CHECK(store_open(path("v1.db"), &s) == 0);
  if (s) {
    CHECK(one_int(store_db(s), "PRAGMA user_version") == 2);
    /* "e" and "p" values are packed; what is not lowercase 64-hex is not. */
    CHECK(one_int(store_db(s), "SELECT count(*) FROM tag WHERE typeof(value)='blob'") > 100);
    CHECK(one_int(store_db(s), "SELECT count(*) FROM tag WHERE typeof(value)='blob' AND length(value)<>32") == 0);
    CHECK(one_int(store_db(s), "SELECT count(*) FROM tag WHERE name='e' AND typeof(value)='text'") == 3);
    CHECK(one_int(store_db(s), "SELECT count(*) FROM sqlite_schema WHERE name='tag_v1'") == 0);
  }
  store_close(s);
  remove(path("v1.db"));
}

/* A migration that fails part way (here: a table in the way of the one
** it makes) changes nothing; once the obstacle is gone it runs. */
static void test_failed_migration(void) {
  CHECK(copy_fixture(path("v1b.db")) == 0);
  sqlite3 *db = NULL;
  CHECK(sqlite3_open_v2(path("v1b.db"), &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; CREATE TABLE tag_v1(x)", 0, 0, 0) == SQLITE_OK);
  long long nTag = one_int(db, "SELECT count(*) FROM tag");
  long long nEvent = one_int(db, "SELECT count(*) FROM event");
  sqlite3_close(db);
  CHECK(nTag > 100 && nEvent == 110);

  store *s = NULL;
  CHECK(store_open(path("v1b.db"), &s) == HIROBA_EINTERNAL);
  CHECK(s && strstr(store_errmsg(s), "cannot migrate") != NULL);
  store_close(s);

  CHECK(sqlite3_open_v2(path("v1b.db"), &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE", 0, 0, 0) == SQLITE_OK);
  CHECK(one_int(db, "PRAGMA user_version") == 1);
  CHECK(one_int(db, "SELECT count(*) FROM tag") == nTag);
  CHECK(one_int(db, "SELECT count(*) FROM tag WHERE typeof(value)<>'text'") == 0);
  CHECK(one_int(db, "SELECT count(*) FROM event") == nEvent);
  CHECK(one_int(db, "SELECT count(*) FROM sqlite_schema WHERE name='event_slot'") == 0);
  CHECK(one_int(db, "SELECT count(*) FROM sqlite_schema WHERE name='event_author'"
                    " AND sql LIKE '%pubkey, kind%'") == 1);
  CHECK(sqlite3_exec(db, "DROP TABLE tag_v1", 0, 0, 0) == SQLITE_OK);
  sqlite3_close(db);

  CHECK(store_open(path("v1b.db"), &s) == 0);
  if (s) {
    CHECK(one_int(store_db(s), "PRAGMA user_version") == 2);
    CHECK(one_int(store_db(s), "SELECT count(*) FROM tag") == nTag);
    CHECK(one_int(store_db(s), "SELECT count(*) FROM event") == nEvent);
  }
  store_close(s);

  /* A database from a newer Hiroba is refused, not rewritten. */
  CHECK(sqlite3_open_v2(path("v1b.db"), &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA user_version=3", 0, 0, 0) == SQLITE_OK);
  sqlite3_close(db);
  CHECK(store_open(path("v1b.db"), &s) == HIROBA_ECORRUPT);
  CHECK(s && strstr(store_errmsg(s), "newer") != NULL);
  store_close(s);
  remove(path("v1b.db"));
}

/* An open prepares only the transaction statements; the others are
** prepared at first use, and one that cannot be prepared (here: longer
** than the connection's SQL length limit) is an error with the prepare's
** own reason, not a crash or a misuse, and the store works on after it. */
static void test_lazy_prepare(void) {
  store *s = NULL;
  CHECK(store_open(path("plan.db"), &s) == 0);
  if (!s) return;
  unsigned char id[32] = {1};
  strbuf sb;
  strbuf_init(&sb);
  int old = sqlite3_limit(store_db(s), SQLITE_LIMIT_SQL_LENGTH, 8);
  CHECK(store_begin(s) == 0);
  int rc = store_get_json(s, id, &sb);
  CHECK(rc < 0);
  CHECK(strstr(store_errmsg(s), "cannot prepare a statement: ") != NULL);
  CHECK(strstr(store_errmsg(s), "misuse") == NULL);
  store_rollback(s);
  sqlite3_limit(store_db(s), SQLITE_LIMIT_SQL_LENGTH, old);
  CHECK(store_get_json(s, id, &sb) == 1);   /* prepared now: not found */
  strbuf_free(&sb);
  store_close(s);
}

int main(void) {
  CHECK(mkdtemp(zDir) != NULL);
  test_lazy_prepare();
  test_plans();
  test_migration();
  test_failed_migration();
  remove(path("plan.db"));
  remove(path("plan.db-wal"));
  rmdir(zDir);
  return check_report("test_plan");
}
