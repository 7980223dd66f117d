/*
** replay_main.c -- runs a fuzz target's LLVMFuzzerTestOneInput over saved
** inputs, without libFuzzer: the seed corpus and every regression found,
** replayed by `make test` under the ASan+UBSan build (build/asan).
**
**   usage: replay_TARGET PATH...
**
** Each PATH is a file or a folder; a folder's files are replayed in name
** order (so a run is repeatable), its dotfiles and subfolders skipped.
** A missing PATH is an error: a typo must not pass as "nothing to test".
** A crash or a failed FUZZ_CHECK aborts the process (non-zero exit, with
** the sanitizer's report), and the name of the input being replayed is
** printed then (from the sanitizers' death callback or a SIGABRT
** handler), so the report says which file did it. Exit 0 after printing
** how many inputs were replayed. REPLAY_VERBOSE=1 names every input.
*/
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/common_interface_defs.h>
#define HAVE_SANITIZER 1
#endif
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char zCurrent[4096];   /* the input being replayed, "" between inputs */
static int bVerbose;          /* REPLAY_VERBOSE is set: name every input */

/* Names the input that crashed. Runs from a signal handler or a dying
** sanitizer, so it only calls write(). */
static void say_current(void) {
  if (!zCurrent[0]) return;
  static const char zHead[] = "replay: crashed on ";
  ssize_t rc = write(2, zHead, sizeof zHead - 1);
  rc = write(2, zCurrent, strlen(zCurrent));
  rc = write(2, "\n", 1);
  (void)rc;
}

static void on_abort(int sig) {
  say_current();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Reads a whole file into a new buffer (caller frees); *pn gets its
** size. NULL on failure. */
static unsigned char *read_all(const char *zPath, size_t *pn) {
  FILE *f = fopen(zPath, "rb");
  if (!f) return NULL;
  unsigned char *a = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      size_t newCap = cap ? 2 * cap : 4096;
      unsigned char *aNew = realloc(a, newCap);
      if (!aNew) { free(a); fclose(f); return NULL; }
      a = aNew;
      cap = newCap;
    }
    size_t got = fread(a + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) { free(a); return NULL; }
  *pn = n;
  return a;
}

/* Replays one file; 0, or -1 when it cannot be read. */
static int replay_file(const char *zPath) {
  size_t n = 0;
  unsigned char *a = read_all(zPath, &n);
  if (!a) { fprintf(stderr, "replay: cannot read %s\n", zPath); return -1; }
  if (bVerbose) fprintf(stderr, "replay: %s\n", zPath);
  snprintf(zCurrent, sizeof zCurrent, "%s", zPath);
  /* A copy of exactly n bytes, so ASan sees any read past the input. */
  unsigned char *exact = malloc(n ? n : 1);
  if (!exact) { free(a); return -1; }
  memcpy(exact, a, n);
  free(a);
  LLVMFuzzerTestOneInput(exact, n);
  zCurrent[0] = 0;
  free(exact);
  return 0;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays a folder's files in name order; returns how many, or -1. */
static int replay_dir(const char *zDir) {
  DIR *d = opendir(zDir);
  if (!d) { fprintf(stderr, "replay: cannot open %s\n", zDir); return -1; }
  char **azName = NULL;
  size_t nName = 0, nAlloc = 0;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (nName == nAlloc) {
      nAlloc = nAlloc ? 2 * nAlloc : 64;
      char **aNew = realloc(azName, nAlloc * sizeof *aNew);
      if (!aNew) { rc = -1; break; }
      azName = aNew;
    }
    azName[nName] = strdup(e->d_name);
    if (!azName[nName]) { rc = -1; break; }
    nName++;
  }
  closedir(d);
  if (rc == 0 && nName) qsort(azName, nName, sizeof *azName, cmp_name);
  int nRun = 0;
  for (size_t i = 0; rc == 0 && i < nName; i++) {
    char zPath[4096];
    struct stat st;
    snprintf(zPath, sizeof zPath, "%s/%s", zDir, azName[i]);
    if (stat(zPath, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (replay_file(zPath)) rc = -1;
    else nRun++;
  }
  for (size_t i = 0; i < nName; i++) free(azName[i]);
  free(azName);
  return rc ? -1 : nRun;
}

int main(int argc, char **argv) {
  int nTotal = 0;
  bVerbose = getenv("REPLAY_VERBOSE") != NULL;
  signal(SIGABRT, on_abort);
#ifdef HAVE_SANITIZER
  __sanitizer_set_death_callback(say_current);
#endif
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s does not exist\n", argv[i]);
      return 1;
    }
    int n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : (replay_file(argv[i]) ? -1 : 1);
    if (n < 0) return 1;
    nTotal += n;
  }
  printf("%s: replayed %d inputs, no crash\n", argv[0], nTotal);
  return 0;
}
