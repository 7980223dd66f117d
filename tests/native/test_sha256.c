/*
** test_sha256.c -- sha256.c against the NIST FIPS 180-4 example vectors,
** and the incremental interface split every way that matters (inside a
** block, at block edges, across the 55/56-byte padding boundary) giving
** the same digest as one call.
*/
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hex.h"
#include "sha256.h"

/* 1 when sha256(p, n) is the digest spelled by zHex. */
static int digest_is(const void *p, size_t n, const char *zHex) {
  unsigned char d[32];
  char z[65];
  sha256(p, n, d);
  hex_encode(d, 32, z);
  if (strcmp(z, zHex) != 0) {
    fprintf(stderr, "  got      %s\n  expected %s\n", z, zHex);
    return 0;
  }
  return 1;
}

/* The digest of p[0..n) fed to sha256_update in pieces of the given
** sizes, cycling through aSize until the input is used up. */
static void digest_split(const unsigned char *p, size_t n, const size_t *aSize,
                         size_t nSize, unsigned char out[32]) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  size_t i = 0, k = 0;
  while (i < n) {
    size_t m = aSize[k++ % nSize];
    if (m > n - i) m = n - i;
    sha256_update(&ctx, p + i, m);
    i += m;
  }
  sha256_final(&ctx, out);
}

static void test_nist_vectors(void) {
  CHECK(digest_is("", 0,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  CHECK(digest_is("abc", 3,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  const char *z448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(strlen(z448) * 8 == 448);
  CHECK(digest_is(z448, strlen(z448),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  const char *z896 =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
      "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  CHECK(strlen(z896) * 8 == 896);
  CHECK(digest_is(z896, strlen(z896),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));

  /* One million 'a', once in one call and once in 1000-byte updates. */
  size_t nMillion = 1000000;
  unsigned char *a = malloc(nMillion);
  CHECK(a != NULL);
  if (!a) return;
  memset(a, 'a', nMillion);
  CHECK(digest_is(a, nMillion,
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
  sha256_ctx ctx;
  sha256_init(&ctx);
  for (int k = 0; k < 1000; k++) sha256_update(&ctx, a, 1000);
  unsigned char d[32];
  char z[65];
  sha256_final(&ctx, d);
  hex_encode(d, 32, z);
  CHECK(strcmp(z, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
  free(a);
}

static void test_incremental(void) {
  /* Every length 0..200 covers each padding case (nbuf <= 55, 56..63,
  ** exactly 64) several times over. */
  unsigned char p[200];
  for (size_t i = 0; i < sizeof p; i++) p[i] = (unsigned char)(i * 37 + 11);
  static const size_t aaSplit[][4] = {
    {1, 1, 1, 1}, {3, 5, 7, 11}, {63, 1, 64, 2}, {64, 64, 64, 64},
    {55, 1, 8, 200}, {56, 7, 65, 1}, {0, 1, 0, 2}, {127, 129, 3, 0},
  };
  int nBad = 0;
  for (size_t n = 0; n <= sizeof p; n++) {
    unsigned char want[32];
    sha256(p, n, want);
    for (size_t s = 0; s < sizeof aaSplit / sizeof aaSplit[0]; s++) {
      /* A zero-sized piece is a legal no-op update; skip sets that
      ** could never advance. */
      unsigned char got[32];
      size_t aSize[4];
      size_t nSize = 0;
      for (int k = 0; k < 4; k++) if (aaSplit[s][k]) aSize[nSize++] = aaSplit[s][k];
      digest_split(p, n, aSize, nSize, got);
      if (memcmp(got, want, 32) != 0) nBad++;
    }
  }
  CHECK(nBad == 0);

  /* Zero-length updates, including with a NULL pointer, change nothing. */
  sha256_ctx ctx;
  unsigned char d[32], want[32];
  sha256_init(&ctx);
  sha256_update(&ctx, NULL, 0);
  sha256_update(&ctx, "ab", 2);
  sha256_update(&ctx, "", 0);
  sha256_update(&ctx, "c", 1);
  sha256_final(&ctx, d);
  sha256("abc", 3, want);
  CHECK(memcmp(d, want, 32) == 0);

  /* The 896-bit vector split inside the second block. */
  const char *z896 =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
      "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  sha256_init(&ctx);
  sha256_update(&ctx, z896, 70);
  sha256_update(&ctx, z896 + 70, strlen(z896) - 70);
  sha256_final(&ctx, d);
  char z[65];
  hex_encode(d, 32, z);
  CHECK(strcmp(z, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1") == 0);
}

static void test_hex(void) {
  unsigned char a[4] = {0x00, 0x9f, 0xab, 0xff};
  char z[9];
  hex_encode(a, 4, z);
  CHECK(strcmp(z, "009fabff") == 0);
  unsigned char b[4];
  CHECK(hex_decode("009fabff", b, 4) == 0 && memcmp(a, b, 4) == 0);
  CHECK(hex_decode("009FABFF", b, 4) == -1);   /* uppercase refused */
  CHECK(hex_decode("009fabf", b, 4) == -1);    /* short */
  CHECK(hex_decode("009fabff0", b, 4) == -1);  /* long */
  CHECK(hex_decode("009fabfg", b, 4) == -1);   /* not hex */
  CHECK(hex_decode("", b, 0) == 0);
  CHECK(hex_decode(NULL, b, 4) == -1);
}

int main(void) {
  test_nist_vectors();
  test_incremental();
  test_hex();
  return check_report("test_sha256");
}
