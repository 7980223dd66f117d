/*
** refused.c -- the memory of refused signatures (refused.h).
*/
#include "refused.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "sha256.h"

#define FP_SIZE 16

struct refused_set {
  unsigned char key[32];                      /* random, per set */
  unsigned char aFp[REFUSED_SLOTS][FP_SIZE];  /* fingerprints; zero: empty */
};

refused_set *refused_new(void) {
  refused_set *r = calloc(1, sizeof *r);
  /* Without randomness the key stays zero: the set still works, its slots
  ** are merely predictable. */
  if (r) crypto_random(r->key, sizeof r->key);
  return r;
}

void refused_free(refused_set *r) { free(r); }

/* The fingerprint of (id, sig) and its slot. */
static unsigned fingerprint(const refused_set *r, const unsigned char id[32],
                            const unsigned char sig[64],
                            unsigned char fp[FP_SIZE]) {
  sha256_ctx ctx;
  unsigned char h[32];
  sha256_init(&ctx);
  sha256_update(&ctx, r->key, sizeof r->key);
  sha256_update(&ctx, id, 32);
  sha256_update(&ctx, sig, 64);
  sha256_final(&ctx, h);
  memcpy(fp, h, FP_SIZE);
  fp[0] |= 1; /* never all zero, which marks an empty slot */
  return ((unsigned)h[16] << 8 | h[17]) % REFUSED_SLOTS;
}

void refused_add(refused_set *r, const unsigned char id[32],
                 const unsigned char sig[64]) {
  unsigned char fp[FP_SIZE];
  unsigned i = fingerprint(r, id, sig, fp);
  memcpy(r->aFp[i], fp, FP_SIZE);
}

int refused_has(const refused_set *r, const unsigned char id[32],
                const unsigned char sig[64]) {
  unsigned char fp[FP_SIZE];
  unsigned i = fingerprint(r, id, sig, fp);
  return memcmp(r->aFp[i], fp, FP_SIZE) == 0;
}
