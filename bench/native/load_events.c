/*
** load_events.c -- the native side of the engine load benchmark
** (bench/load-engine.bench.js): fills a database with the frames that
** gen_events wrote, through the public API (hiroba_merge, batches of 1,000
** frames in one transaction each, every signature verified), and shows
** SQLite's plan for a query.
**
**   load_events load DB EVENTS [skip|only LINE,LINE,...]
**       merges every line of EVENTS (or all but / only the listed 0-based
**       lines) into DB, created if needed; fails unless every event is
**       accepted or a duplicate
**   load_events explain DB SQL
**       prints EXPLAIN QUERY PLAN of SQL on DB (read only; refuses when
**       the native build omits EXPLAIN)
**
** The database is the engine's own file format, so the wasm engine in Node
** opens it as it would one it filled itself.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cJSON.h"
#include "hiroba.h"
#include "sqlite3.h"

#define BATCH 1000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Merges the batch text (a JSON array of frames) and checks the result:
** nFrames events accepted or duplicates, none rejected. */
static int merge_batch(int db, const char *z, long nFrames, long *pAccepted) {
  char *zRes = hiroba_merge(db, z);
  if (!zRes) {
    fprintf(stderr, "load_events: merge failed: %s\n", hiroba_errmsg());
    return 1;
  }
  cJSON *res = cJSON_Parse(zRes);
  long nAcc = cJSON_GetArraySize(cJSON_GetObjectItem(res, "accepted"));
  long nDup = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(res, "duplicates"));
  cJSON *rej = cJSON_GetObjectItem(res, "rejected");
  int rc = 0;
  if (!res || cJSON_GetArraySize(rej) || nAcc + nDup != nFrames) {
    char *zRej = rej ? cJSON_PrintUnformatted(rej) : NULL;
    fprintf(stderr, "load_events: %ld frames, %ld accepted, %ld duplicates, rejected %.2000s\n",
            nFrames, nAcc, nDup, zRej ? zRej : "?");
    free(zRej);
    rc = 1;
  }
  *pAccepted += nAcc;
  cJSON_Delete(res);
  hiroba_free(zRes);
  return rc;
}

/* Parses "3,17,42" into a sorted-as-given list of line numbers. */
static long parse_lines(const char *z, long *a, long nMax) {
  long n = 0;
  while (*z && n < nMax) {
    char *end;
    a[n++] = strtol(z, &end, 10);
    z = *end == ',' ? end + 1 : end;
    if (end == z && *z) break;
  }
  return n;
}

static int listed(long line, const long *a, long n) {
  for (long i = 0; i < n; i++) if (a[i] == line) return 1;
  return 0;
}

static int cmd_load(int argc, char **argv) {
  const char *zDb = argv[2], *zEvents = argv[3];
  int mode = 0;                     /* 0 all, 1 skip listed, 2 only listed */
  long aLine[64], nLine = 0;
  if (argc == 6) {
    mode = strcmp(argv[4], "skip") == 0 ? 1 : strcmp(argv[4], "only") == 0 ? 2 : -1;
    nLine = parse_lines(argv[5], aLine, 64);
  }
  if (mode < 0 || (argc != 4 && argc != 6)) {
    fprintf(stderr, "usage: load_events load DB EVENTS [skip|only LINE,...]\n");
    return 2;
  }
  FILE *in = fopen(zEvents, "rb");
  if (!in) { perror(zEvents); return 1; }
  int db = hiroba_open(zDb);
  if (db < 0) { fprintf(stderr, "load_events: open %s: %s\n", zDb, hiroba_errmsg()); return 1; }

  size_t cap = 1 << 22, used = 0;
  char *zBatch = malloc(cap);
  char *zLine = NULL;
  size_t nLineCap = 0;
  ssize_t nRead;
  long line = 0, nFrames = 0, nAccepted = 0;
  double t0 = now_s();
  int rc = 0;
  zBatch[used++] = '[';
  while ((nRead = getline(&zLine, &nLineCap, in)) > 0) {
    long here = line++;
    if (mode == 1 && listed(here, aLine, nLine)) continue;
    if (mode == 2 && !listed(here, aLine, nLine)) continue;
    while (nRead > 0 && (zLine[nRead - 1] == '\n' || zLine[nRead - 1] == '\r')) nRead--;
    if (used + (size_t)nRead + 3 > cap) {
      cap = 2 * (cap + (size_t)nRead);
      zBatch = realloc(zBatch, cap);
      if (!zBatch) { fprintf(stderr, "load_events: out of memory\n"); return 1; }
    }
    if (nFrames) zBatch[used++] = ',';
    memcpy(zBatch + used, zLine, (size_t)nRead);
    used += (size_t)nRead;
    if (++nFrames == BATCH) {
      zBatch[used++] = ']';
      zBatch[used] = 0;
      if ((rc = merge_batch(db, zBatch, nFrames, &nAccepted)) != 0) break;
      used = 1;
      nFrames = 0;
      if (line % 100000 < BATCH) {
        fprintf(stderr, "load_events: %ld lines, %.0f s\n", line, now_s() - t0);
      }
    }
  }
  if (rc == 0 && nFrames) {
    zBatch[used++] = ']';
    zBatch[used] = 0;
    rc = merge_batch(db, zBatch, nFrames, &nAccepted);
  }
  free(zLine);
  free(zBatch);
  fclose(in);
  if (hiroba_close(db)) { fprintf(stderr, "load_events: close: %s\n", hiroba_errmsg()); rc = 1; }
  fprintf(stderr, "load_events: %s: %ld events accepted from %ld lines in %.1f s\n",
          zDb, nAccepted, line, now_s() - t0);
  return rc;
}

static int cmd_explain(const char *zDb, const char *zSql) {
  sqlite3 *pDb = NULL;
  /* The engine's files are WAL in exclusive locking mode (no shared
  ** memory): take the same mode before the first read. */
  int rc = sqlite3_open_v2(zDb, &pDb, SQLITE_OPEN_READWRITE, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_exec(pDb, "PRAGMA locking_mode=EXCLUSIVE", 0, 0, 0);
  sqlite3_stmt *q = NULL;
  char *zPlan = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", zSql);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(pDb, zPlan, -1, &q, NULL);
  sqlite3_free(zPlan);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "load_events: explain: %s\n", pDb ? sqlite3_errmsg(pDb) : sqlite3_errstr(rc));
    sqlite3_close(pDb);
    return 1;
  }
  /* Columns: id, parent, notused, detail; indent children under parents. */
  int aId[64], aDepth[64], n = 0;
  while (sqlite3_step(q) == SQLITE_ROW) {
    /* A build with SQLITE_OMIT_EXPLAIN runs the query itself instead,
    ** under the plan's column names: a real plan's detail is text. */
    if (sqlite3_column_count(q) != 4 || sqlite3_column_type(q, 3) != SQLITE_TEXT) {
      fprintf(stderr, "load_events: explain: this build of SQLite has no EXPLAIN (SQLITE_OMIT_EXPLAIN)\n");
      sqlite3_finalize(q);
      sqlite3_close(pDb);
      return 1;
    }
    int id = sqlite3_column_int(q, 0), parent = sqlite3_column_int(q, 1), depth = 0;
    for (int i = 0; i < n; i++) if (aId[i] == parent) depth = aDepth[i] + 1;
    if (n < 64) { aId[n] = id; aDepth[n] = depth; n++; }
    printf("%*s%s\n", 2 * depth, "", (const char *)sqlite3_column_text(q, 3));
  }
  sqlite3_finalize(q);
  sqlite3_close(pDb);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "load") == 0) return cmd_load(argc, argv);
  if (argc == 4 && strcmp(argv[1], "explain") == 0) return cmd_explain(argv[2], argv[3]);
  fprintf(stderr, "usage: load_events load DB EVENTS [skip|only LINE,...]\n"
                  "       load_events explain DB SQL\n");
  return 2;
}
