/*
** merge_native.c -- the native anchor of bench/merge.bench.js: the same C
** engine as the wasm module, built with clang at the native flavour's
** flags (build/native/libhiroba.a), merging the same batches.
**
**   merge_native <batches file> <database path>
**
** The batches file holds one batch per line: a JSON array of
** ["EVENT", event] frames, exactly the text the wasm run passes to
** feed.merge. Every line is read into memory first; then the database is
** opened (a new one: the caller picks a fresh path) and the batches are
** merged twice through hiroba__merge_n, once into the empty database
** (every event new: id, signature, insert) and once more (every event a
** duplicate). Only the merge calls are timed, in wall-clock time and in
** this process's CPU time. Prints one JSON line:
**   {"batches":n,"freshMs":t,"dupMs":t,"freshCpuMs":t,"dupCpuMs":t,
**    "accepted":n,"duplicates":n,"rejected":n}
** and exits 1 on an engine failure.
**
** Uses only the public API plus the export-only shim hiroba__merge_n, as
** js-glue/engine.js does.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hiroba.h"

/* Export-only shim of hiroba.c (not in hiroba.h). */
char *hiroba__merge_n(int db, const char *z, size_t n);

typedef struct batch {
  char *z;    /* the batch text, NUL-terminated */
  size_t n;   /* its length */
} batch;

static double clock_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reads every non-empty line of zPath; returns the count or -1. */
static long read_batches(const char *zPath, batch **paBatch) {
  FILE *f = fopen(zPath, "rb");
  if (!f) return -1;
  long nBatch = 0, nAlloc = 0;
  batch *a = NULL;
  char *zLine = NULL;
  size_t nCap = 0;
  ssize_t n;
  while ((n = getline(&zLine, &nCap, f)) > 0) {
    while (n > 0 && (zLine[n - 1] == '\n' || zLine[n - 1] == '\r')) zLine[--n] = 0;
    if (n == 0) continue;
    if (nBatch == nAlloc) {
      nAlloc = nAlloc ? 2 * nAlloc : 256;
      batch *aNew = realloc(a, nAlloc * sizeof *a);
      if (!aNew) { fclose(f); return -1; }
      a = aNew;
    }
    a[nBatch].z = strdup(zLine);
    a[nBatch].n = (size_t)n;
    if (!a[nBatch].z) { fclose(f); return -1; }
    nBatch++;
  }
  free(zLine);
  fclose(f);
  *paBatch = a;
  return nBatch;
}

/* Adds what one merge result reports to the totals. Results look like
** {"accepted":["<64 hex>",...],"duplicates":n,"rejected":[...],...}. */
static void count_result(const char *z, long *pAccepted, long *pDup, long *pRejected) {
  const char *p = strstr(z, "\"accepted\":[");
  if (p) {
    p += strlen("\"accepted\":[");
    const char *e = strchr(p, ']');
    size_t n = e ? (size_t)(e - p) : 0;
    if (n) *pAccepted += (long)((n + 1) / 67);  /* "64 hex" plus a comma */
  }
  p = strstr(z, "\"duplicates\":");
  if (p) *pDup += strtol(p + strlen("\"duplicates\":"), NULL, 10);
  for (p = strstr(z, "\"reason\":"); p; p = strstr(p + 1, "\"reason\":")) (*pRejected)++;
}

/* Merges every batch once; returns the wall-clock milliseconds spent (and
** the CPU milliseconds in *pCpuMs), or -1. */
static double merge_all(int db, const batch *a, long nBatch, double *pCpuMs,
                        long *pAccepted, long *pDup, long *pRejected) {
  double ms = 0;
  *pCpuMs = 0;
  for (long i = 0; i < nBatch; i++) {
    double t0 = clock_ms(CLOCK_MONOTONIC), c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
    char *zOut = hiroba__merge_n(db, a[i].z, a[i].n);
    *pCpuMs += clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
    ms += clock_ms(CLOCK_MONOTONIC) - t0;
    if (!zOut) {
      fprintf(stderr, "merge_native: batch %ld: %s\n", i, hiroba_errmsg());
      return -1;
    }
    count_result(zOut, pAccepted, pDup, pRejected);
    hiroba_free(zOut);
  }
  return ms;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: merge_native <batches file> <database path>\n");
    return 2;
  }
  batch *aBatch = NULL;
  long nBatch = read_batches(argv[1], &aBatch);
  if (nBatch < 0) {
    fprintf(stderr, "merge_native: cannot read %s\n", argv[1]);
    return 1;
  }
  int db = hiroba_open(argv[2]);
  if (db < 0) {
    fprintf(stderr, "merge_native: open %s: %s\n", argv[2], hiroba_errmsg());
    return 1;
  }
  long nAccepted = 0, nDup = 0, nRejected = 0;
  double freshCpuMs = 0, dupCpuMs = 0;
  double freshMs = merge_all(db, aBatch, nBatch, &freshCpuMs, &nAccepted, &nDup, &nRejected);
  double dupMs = freshMs < 0 ? -1
    : merge_all(db, aBatch, nBatch, &dupCpuMs, &nAccepted, &nDup, &nRejected);
  int rc = hiroba_close(db);
  for (long i = 0; i < nBatch; i++) free(aBatch[i].z);
  free(aBatch);
  if (freshMs < 0 || dupMs < 0 || rc < 0) return 1;
  printf("{\"batches\":%ld,\"freshMs\":%.3f,\"dupMs\":%.3f,\"freshCpuMs\":%.3f,"
         "\"dupCpuMs\":%.3f,\"accepted\":%ld,\"duplicates\":%ld,\"rejected\":%ld}\n",
         nBatch, freshMs, dupMs, freshCpuMs, dupCpuMs, nAccepted, nDup, nRejected);
  return 0;
}
