/*
** fuzz.h -- what the three fuzz targets share: a check that aborts (so
** libFuzzer and the replay driver both see a crash and keep the input),
** a scratch folder for databases, and small helpers.
**
** Every target defines LLVMFuzzerTestOneInput and nothing else libFuzzer
** knows about, and sets itself up on its first input: the same file then
** links either with libFuzzer (mk/fuzz.mk, `make fuzz`) or with
** replay_main.c (`make test-fuzz-replay`), which has no libFuzzer at all.
**
** The scratch folder is HIROBA_FUZZ_TMPDIR when set, else /dev/shm when it
** is writable (tmpfs: SQLite's fsyncs cost nothing there, and a commit per
** input is most of merge's cost on a disk), else /tmp. It is named
** hiroba-fuzz-<pid>-XXXXXX and removed at exit. A crash cannot remove it
** (libFuzzer owns the crash handlers, and -minimize_crash crashes on
** purpose, hundreds of times), so each new process first removes the
** folders of processes that no longer exist: on tmpfs they are memory.
*/
#ifndef HIROBA_FUZZ_H
#define HIROBA_FUZZ_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the engine that must hold for every input. Aborting is
** the point: libFuzzer saves the input as a crash, the replay fails. */
#define FUZZ_CHECK(cond, ...) do { \
    if (!(cond)) { \
      fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__); \
      fputc('\n', stderr); \
      abort(); \
    } \
  } while (0)

static char fuzz_zDir[512];   /* the scratch folder, "" until made */

/* Removes a folder and the files in it (SQLite's -wal and friends). */
static inline void fuzz_rmtree(const char *zDir) {
  DIR *d = opendir(zDir);
  if (d) {
    struct dirent *e;
    char zPath[1024];
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      snprintf(zPath, sizeof zPath, "%s/%s", zDir, e->d_name);
      unlink(zPath);
    }
    closedir(d);
  }
  rmdir(zDir);
}

/* Removes the scratch folder. Registered with atexit by fuzz_path. */
static inline void fuzz_rmdir(void) {
  if (!fuzz_zDir[0]) return;
  fuzz_rmtree(fuzz_zDir);
  fuzz_zDir[0] = 0;
}

/* Removes the scratch folders under zBase whose process is gone. */
static inline void fuzz_sweep(const char *zBase) {
  DIR *d = opendir(zBase);
  if (!d) return;
  struct dirent *e;
  char zPath[1024];
  while ((e = readdir(d)) != NULL) {
    long pid = 0;
    if (sscanf(e->d_name, "hiroba-fuzz-%ld-", &pid) != 1 || pid <= 0) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    snprintf(zPath, sizeof zPath, "%s/%s", zBase, e->d_name);
    fuzz_rmtree(zPath);
  }
  closedir(d);
}

/* Makes the scratch folder once and returns a path in it for zName
** (static buffer). Aborts when no folder can be made: a fuzz run without
** its database would test nothing. */
static inline const char *fuzz_path(const char *zName) {
  static char zPath[1024];
  if (!fuzz_zDir[0]) {
    const char *zBase = getenv("HIROBA_FUZZ_TMPDIR");
    if (!zBase || !zBase[0]) zBase = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    fuzz_sweep(zBase);
    snprintf(fuzz_zDir, sizeof fuzz_zDir, "%s/hiroba-fuzz-%ld-XXXXXX", zBase, (long)getpid());
    FUZZ_CHECK(mkdtemp(fuzz_zDir) != NULL, "cannot make a folder under %s", zBase);
    atexit(fuzz_rmdir);
  }
  snprintf(zPath, sizeof zPath, "%s/%s", fuzz_zDir, zName);
  return zPath;
}

/* Lowercase hex of p[0..n) into z (2n+1 bytes). */
static inline void fuzz_hex(const unsigned char *p, size_t n, char *z) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    z[2 * i] = digits[p[i] >> 4];
    z[2 * i + 1] = digits[p[i] & 15];
  }
  z[2 * n] = 0;
}

#endif
