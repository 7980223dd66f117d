/*
** sha256.h -- SHA-256 (FIPS 180-4), for event ids and Negentropy
** fingerprints. Small and portable; tested against the NIST vectors.
*/
#ifndef HIROBA_SHA256_H
#define HIROBA_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx {
  uint32_t h[8];          /* chaining state */
  uint64_t nbytes;        /* message bytes hashed so far */
  unsigned char buf[64];  /* pending partial block */
  size_t nbuf;            /* bytes in buf */
} sha256_ctx;

void sha256_init(sha256_ctx *ctx);
void sha256_update(sha256_ctx *ctx, const void *p, size_t n);
void sha256_final(sha256_ctx *ctx, unsigned char out[32]);
/* One-shot convenience. */
void sha256(const void *p, size_t n, unsigned char out[32]);

#endif
