/*
** sha256.c -- SHA-256 as specified in FIPS 180-4, in portable C11.
**
** Event ids (NIP-01) and Negentropy fingerprints are SHA-256 digests, and
** both must match what every other implementation computes, so this is a
** plain, byte-order-independent transcription of the standard: no
** platform intrinsics, no assumptions about endianness or alignment.
** Speed is adequate for our sizes (events are at most ~1 MiB of text).
*/
#include "sha256.h"

#include <string.h>

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube
** roots of the first 64 primes. */
static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
  0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

/* Rotation is always by 1..31 here, so the shift by (32 - n) is defined. */
static uint32_t ror32(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

/* Big-endian loads and stores, byte by byte so that alignment and host
** byte order never matter. */
static uint32_t load_be32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void store_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

/* FIPS 180-4 §6.2.2: one 64-byte block into the chaining state. */
static void sha256_block(uint32_t h[8], const unsigned char *p) {
  uint32_t w[64];
  for (int t = 0; t < 16; t++) w[t] = load_be32(p + 4 * t);
  for (int t = 16; t < 64; t++) {
    uint32_t s0 = ror32(w[t - 15], 7) ^ ror32(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = ror32(w[t - 2], 17) ^ ror32(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
  uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int t = 0; t < 64; t++) {
    uint32_t S1 = ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = hh + S1 + ch + K[t] + w[t];
    uint32_t S0 = ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22);
    uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = S0 + maj;
    hh = g; g = f; f = e; e = d + t1;
    d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d;
  h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void sha256_init(sha256_ctx *ctx) {
  /* FIPS 180-4 §5.3.3: square roots of the first 8 primes. */
  static const uint32_t H0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  };
  memcpy(ctx->h, H0, sizeof H0);
  ctx->nbytes = 0;
  ctx->nbuf = 0;
}

void sha256_update(sha256_ctx *ctx, const void *pData, size_t n) {
  const unsigned char *p = pData;
  if (n == 0) return;  /* p may then be NULL, which memcpy must not see */
  ctx->nbytes += n;
  /* Top up a pending partial block first, so blocks are hashed in order. */
  if (ctx->nbuf) {
    size_t nTake = 64 - ctx->nbuf;
    if (nTake > n) nTake = n;
    memcpy(ctx->buf + ctx->nbuf, p, nTake);
    ctx->nbuf += nTake;
    p += nTake;
    n -= nTake;
    if (ctx->nbuf < 64) return;
    sha256_block(ctx->h, ctx->buf);
    ctx->nbuf = 0;
  }
  /* Whole blocks straight from the caller's memory: no copy needed. */
  while (n >= 64) {
    sha256_block(ctx->h, p);
    p += 64;
    n -= 64;
  }
  if (n) {
    memcpy(ctx->buf, p, n);
    ctx->nbuf = n;
  }
}

void sha256_final(sha256_ctx *ctx, unsigned char out[32]) {
  /* FIPS 180-4 §5.1.1: a 1 bit, zeros to 56 mod 64 bytes, then the
  ** message length in bits as a 64-bit big-endian number. */
  uint64_t nbits = ctx->nbytes * 8;
  ctx->buf[ctx->nbuf++] = 0x80;
  if (ctx->nbuf > 56) {
    memset(ctx->buf + ctx->nbuf, 0, 64 - ctx->nbuf);
    sha256_block(ctx->h, ctx->buf);
    ctx->nbuf = 0;
  }
  memset(ctx->buf + ctx->nbuf, 0, 56 - ctx->nbuf);
  store_be32(ctx->buf + 56, (uint32_t)(nbits >> 32));
  store_be32(ctx->buf + 60, (uint32_t)nbits);
  sha256_block(ctx->h, ctx->buf);
  for (int i = 0; i < 8; i++) store_be32(out + 4 * i, ctx->h[i]);
  /* The state may have hashed secret material; leave nothing behind. */
  memset(ctx, 0, sizeof *ctx);
}

void sha256(const void *p, size_t n, unsigned char out[32]) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, p, n);
  sha256_final(&ctx, out);
}
