/*
** crypto.c -- BIP-340 Schnorr keys and signatures over libsecp256k1 0.2.0,
** and the secure random source.
**
** One context serves the whole process (Hiroba is single-threaded: one
** engine per Web Worker). It is made on first use rather than at start-up,
** since creating it costs a self-test. It is built with the preallocated
** API on memory we malloc ourselves, not with secp256k1_context_create,
** because the latter answers a failed malloc by calling the library's
** default error handler, which aborts; we must return -1 instead.
**
** libsecp256k1 reports misuse through callbacks whose defaults abort.
** Ours only raise a flag: every input is validated before it reaches the
** library so they should never fire, and if one ever does, the call in
** progress fails and the context is retired (see crypto_ctx).
**
** Randomness comes from getentropy(): getrandom() on Linux, and in
** Emscripten crypto.getRandomValues (browsers) or node:crypto. It is used
** to blind the context against side channels (secp256k1_context_randomize)
** and as BIP-340 auxiliary randomness for every signature. Verification
** needs neither, so it keeps working even where randomness is missing.
*/
#include "crypto.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secp256k1.h"
#include "secp256k1_extrakeys.h"
#include "secp256k1_preallocated.h"
#include "secp256k1_schnorrsig.h"

static secp256k1_context *g_pCtx;   /* lazily created, kept for the process */
static int g_bRandomized;           /* g_pCtx has been blinded */
static int g_bCallbackFired;        /* libsecp256k1 reported misuse or a fault */

/* Stands in for the library's abort(): note the event so the API call in
** progress is treated as failed. */
static void on_secp_callback(const char *zMessage, void *pData) {
  (void)zMessage;
  (void)pData;
  g_bCallbackFired = 1;
}

/* Overwrites secrets in a way the compiler may not drop as a dead store. */
static void wipe(void *p, size_t n) {
  volatile unsigned char *v = p;
  while (n--) *v++ = 0;
}

int crypto_random(unsigned char *p, size_t n) {
  /* getentropy refuses requests over 256 bytes, so feed it in chunks. */
  while (n) {
    size_t nChunk = n > 256 ? 256 : n;
    if (getentropy(p, nChunk) != 0) return -1;
    p += nChunk;
    n -= nChunk;
  }
  return 0;
}

/* The shared context, creating it on first use; NULL when memory ran out.
** If a callback has ever fired, the library is in a state we did not
** plan for: refuse all further work rather than trust it. */
static secp256k1_context *crypto_ctx(void) {
  if (g_bCallbackFired) return NULL;
  if (g_pCtx) return g_pCtx;
  size_t nCtx = secp256k1_context_preallocated_size(SECP256K1_CONTEXT_NONE);
  void *pMem = malloc(nCtx);
  if (!pMem) return NULL;
  secp256k1_context *pCtx =
      secp256k1_context_preallocated_create(pMem, SECP256K1_CONTEXT_NONE);
  if (!pCtx) { free(pMem); return NULL; }
  secp256k1_context_set_illegal_callback(pCtx, on_secp_callback, NULL);
  secp256k1_context_set_error_callback(pCtx, on_secp_callback, NULL);
  /* The context lives at the start of pMem, so the process keeps the
  ** allocation reachable for its whole life; it is never freed. */
  g_pCtx = pCtx;
  return g_pCtx;
}

/* The shared context, blinded, for operations on secret keys; NULL when
** it cannot be had. A failed randomization is retried on the next call
** rather than skipped: signing unblinded would be correct but would give
** up the side-channel protection without anyone noticing. */
static secp256k1_context *crypto_ctx_secret(void) {
  secp256k1_context *pCtx = crypto_ctx();
  if (!pCtx) return NULL;
  if (!g_bRandomized) {
    unsigned char seed[32];
    if (crypto_random(seed, sizeof seed)) return NULL;
    int ok = secp256k1_context_randomize(pCtx, seed);
    wipe(seed, sizeof seed);
    if (!ok || g_bCallbackFired) return NULL;
    g_bRandomized = 1;
  }
  return pCtx;
}

int crypto_keygen(unsigned char seckey[32]) {
  secp256k1_context *pCtx = crypto_ctx_secret();
  if (!pCtx) return -1;
  /* A random 32-byte string is a valid key unless it is zero or >= the
  ** group order, odds about 2^-128; the loop bound is only a guard
  ** against a broken random source. */
  for (int k = 0; k < 64; k++) {
    if (crypto_random(seckey, 32)) break;
    if (secp256k1_ec_seckey_verify(pCtx, seckey) && !g_bCallbackFired) return 0;
  }
  wipe(seckey, 32);
  return -1;
}

/* Builds the keypair for seckey; 0 or -1. The key is checked first so
** that an invalid one is a plain failure, not a library callback. */
static int make_keypair(secp256k1_context *pCtx, const unsigned char seckey[32],
                        secp256k1_keypair *pKeypair) {
  if (!secp256k1_ec_seckey_verify(pCtx, seckey)) return -1;
  if (!secp256k1_keypair_create(pCtx, pKeypair, seckey)) return -1;
  return g_bCallbackFired ? -1 : 0;
}

int crypto_pubkey(const unsigned char seckey[32], unsigned char pubkey[32]) {
  secp256k1_context *pCtx = crypto_ctx_secret();
  if (!pCtx || !seckey || !pubkey) return -1;
  secp256k1_keypair keypair;
  secp256k1_xonly_pubkey xonly;
  int rc = -1;
  if (make_keypair(pCtx, seckey, &keypair) == 0 &&
      secp256k1_keypair_xonly_pub(pCtx, &xonly, NULL, &keypair) &&
      secp256k1_xonly_pubkey_serialize(pCtx, pubkey, &xonly) &&
      !g_bCallbackFired) {
    rc = 0;
  }
  wipe(&keypair, sizeof keypair);
  return rc;
}

int crypto_sign(const unsigned char seckey[32], const unsigned char msg[32],
                unsigned char sig[64]) {
  secp256k1_context *pCtx = crypto_ctx_secret();
  if (!pCtx || !seckey || !msg || !sig) return -1;
  secp256k1_keypair keypair;
  secp256k1_xonly_pubkey xonly;
  unsigned char aux[32];
  int rc = -1;
  if (make_keypair(pCtx, seckey, &keypair) == 0 &&
      crypto_random(aux, sizeof aux) == 0 &&
      secp256k1_schnorrsig_sign32(pCtx, sig, msg, &keypair, aux) &&
      secp256k1_keypair_xonly_pub(pCtx, &xonly, NULL, &keypair) &&
      /* BIP-340 advises checking a fresh signature: a fault during
      ** signing (bad RAM, a miscompiled wasm engine) could otherwise leak
      ** the key through the published signature. */
      secp256k1_schnorrsig_verify(pCtx, sig, msg, 32, &xonly) &&
      !g_bCallbackFired) {
    rc = 0;
  }
  wipe(&keypair, sizeof keypair);
  wipe(aux, sizeof aux);
  if (rc) memset(sig, 0, 64);
  return rc;
}

int crypto_pubkey_valid(const unsigned char pubkey[32]) {
  secp256k1_context *pCtx = crypto_ctx();
  if (!pCtx || !pubkey) return 0;
  secp256k1_xonly_pubkey xonly;
  /* Fails for an x that is >= p or has no point on the curve. */
  int ok = secp256k1_xonly_pubkey_parse(pCtx, &xonly, pubkey);
  return ok && !g_bCallbackFired;
}

int crypto_verify(const unsigned char pubkey[32], const unsigned char msg[32],
                  const unsigned char sig[64]) {
  secp256k1_context *pCtx = crypto_ctx();
  if (!pCtx || !pubkey || !msg || !sig) return 0;
  secp256k1_xonly_pubkey xonly;
  /* Parsing fails for an x that is >= p or has no point on the curve:
  ** such a key verifies nothing. */
  if (!secp256k1_xonly_pubkey_parse(pCtx, &xonly, pubkey)) return 0;
  int ok = secp256k1_schnorrsig_verify(pCtx, sig, msg, 32, &xonly);
  return ok && !g_bCallbackFired;
}
