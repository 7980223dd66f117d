/*
** hostile_runner.c -- feeds the hostile corpus to hiroba_merge natively, so
** that AddressSanitizer and UBSan watch the engine parse every malformed
** frame (tests/node/hostile.test.js does the same against the wasm build).
**
**   usage: hostile_runner CORPUS.bin DBPATH
**
** CORPUS.bin is written by `node tests/corpus/hostile-frames.js CORPUS.bin`:
** records of a 4-byte little-endian length and that many bytes. DBPATH is
** opened (created) with hiroba_open; use a fresh path, since the final
** check expects an empty store.
**
** For every record: hiroba_merge must return a result (never NULL: a
** hostile frame is not an engine failure), the result must be a JSON
** object whose "accepted" list is empty, and it is freed. At the end
** hiroba_query(db, "{}") must return "[]": nothing hostile was stored.
**
** Left out, on purpose:
**   - Frames go in as C strings (hiroba_merge takes a NUL-terminated
**     string), so a frame with a raw NUL byte is seen only up to that byte.
**     The corpus is built so that such a prefix is never a valid frame; the
**     wasm suite passes the full bytes (with their length).
**   - The result is not parsed as JSON: only the public API of hiroba.h is
**     used, and the wasm suite checks the result's content in detail.
**
** Build (the Makefile's rule): clang with -fsanitize=address,undefined,
** -Isrc, linked against build/asan/libhiroba.a.
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hiroba.h"
#include "check.h"

/* Reads the whole file; *pn gets its size. NULL on failure. Caller frees. */
static unsigned char *read_file(const char *zPath, size_t *pn) {
  FILE *f = fopen(zPath, "rb");
  unsigned char *a = NULL;
  size_t n = 0, cap = 0;
  if (!f) return NULL;
  for (;;) {
    if (n == cap) {
      size_t newCap = cap ? cap * 2 : 1 << 20;
      unsigned char *aNew = realloc(a, newCap);
      if (!aNew) { free(a); fclose(f); return NULL; }
      a = aNew;
      cap = newCap;
    }
    size_t got = fread(a + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) { free(a); fclose(f); return NULL; }
  fclose(f);
  *pn = n;
  return a;
}

/* 1 when z is a JSON object whose "accepted" member is an empty array.
** A textual check, good enough for the engine's own output. */
static int accepted_is_empty(const char *z) {
  const char *p = strstr(z, "\"accepted\"");
  if (!p) return 0;
  p += strlen("\"accepted\"");
  while (isspace((unsigned char)*p)) p++;
  if (*p++ != ':') return 0;
  while (isspace((unsigned char)*p)) p++;
  if (*p++ != '[') return 0;
  while (isspace((unsigned char)*p)) p++;
  return *p == ']';
}

static void fail(int iRec, const char *zWhy, const char *zDetail) {
  check_fail++;
  fprintf(stderr, "hostile_runner: record %d: %s%s%.200s\n", iRec, zWhy,
          zDetail ? ": " : "", zDetail ? zDetail : "");
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s CORPUS.bin DBPATH\n", argv[0]);
    return 2;
  }
  size_t nCorpus = 0;
  unsigned char *aCorpus = read_file(argv[1], &nCorpus);
  if (!aCorpus) {
    fprintf(stderr, "hostile_runner: cannot read %s\n", argv[1]);
    return 2;
  }
  int db = hiroba_open(argv[2]);
  if (db < 0) {
    fprintf(stderr, "hostile_runner: hiroba_open(%s) = %d: %s\n", argv[2], db, hiroba_errmsg());
    free(aCorpus);
    return 2;
  }

  size_t i = 0;
  int iRec = 0;
  while (i < nCorpus) {
    if (nCorpus - i < 4) { fail(iRec, "corpus ends inside a length", NULL); break; }
    size_t nFrame = (size_t)aCorpus[i] | (size_t)aCorpus[i + 1] << 8
                  | (size_t)aCorpus[i + 2] << 16 | (size_t)aCorpus[i + 3] << 24;
    i += 4;
    if (nFrame > nCorpus - i) { fail(iRec, "corpus ends inside a frame", NULL); break; }
    char *zFrame = malloc(nFrame + 1);
    if (!zFrame) { fail(iRec, "out of memory in the runner", NULL); break; }
    memcpy(zFrame, aCorpus + i, nFrame);
    zFrame[nFrame] = 0;
    i += nFrame;

    char *zOut = hiroba_merge(db, zFrame);
    if (!zOut) {
      char zCode[64];
      snprintf(zCode, sizeof zCode, "code %d, ", hiroba_errcode());
      fprintf(stderr, "hostile_runner: record %d: hiroba_merge returned NULL (%s%s)\n",
              iRec, zCode, hiroba_errmsg());
      check_fail++;
    } else if (zOut[0] != '{') {
      fail(iRec, "result is not a JSON object", zOut);
    } else if (!accepted_is_empty(zOut)) {
      fail(iRec, "a hostile frame was accepted", zOut);
    } else {
      check_pass++;
    }
    hiroba_free(zOut);
    free(zFrame);
    iRec++;
  }
  free(aCorpus);

  /* Nothing hostile may have been stored. */
  char *zAll = hiroba_query(db, "{}");
  if (!zAll) {
    fail(iRec, "hiroba_query({}) returned NULL", hiroba_errmsg());
  } else {
    const char *p = zAll;
    size_t n = strlen(zAll);
    while (isspace((unsigned char)*p)) { p++; n--; }
    while (n && isspace((unsigned char)p[n - 1])) n--;
    if (n == 2 && p[0] == '[' && p[1] == ']') check_pass++;
    else fail(iRec, "hiroba_query({}) is not [] after the corpus", zAll);
  }
  hiroba_free(zAll);
  if (hiroba_close(db) != 0) fail(iRec, "hiroba_close failed", hiroba_errmsg());
  else check_pass++;

  fprintf(stderr, "hostile_runner: %d records\n", iRec);
  return check_report("hostile_runner");
}
