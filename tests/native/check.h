/*
** check.h -- the whole C test "framework": CHECK a condition, count
** failures, and print node-style closing counts.
*/
#ifndef HIROBA_CHECK_H
#define HIROBA_CHECK_H

#include <stdio.h>

static int check_pass, check_fail;

#define CHECK(cond) do { \
    if (cond) check_pass++; \
    else { check_fail++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
  } while (0)

/* Call last from main: prints "N passed, N failed" and the exit code. */
static int check_report(const char *zSuite) {
  printf("%s: %d passed, %d failed\n", zSuite, check_pass, check_fail);
  return check_fail ? 1 : 0;
}

#endif
