/*
** crypto.h -- BIP-340 Schnorr keys and signatures (libsecp256k1) and the
** platform's secure random source.
**
** One secp256k1 context is created lazily and kept for the process; it is
** randomized once (side-channel blinding) from the secure random source.
*/
#ifndef HIROBA_CRYPTO_H
#define HIROBA_CRYPTO_H

#include <stddef.h>

/* Fills p with n bytes from the OS / browser CSPRNG (getentropy: Linux
** getrandom, crypto.getRandomValues in browsers, node:crypto in Node).
** 0 on success, -1 on failure. */
int crypto_random(unsigned char *p, size_t n);

/* A fresh valid secret key. 0 or -1. */
int crypto_keygen(unsigned char seckey[32]);

/* The x-only public key of seckey. 0 or -1 (invalid key). */
int crypto_pubkey(const unsigned char seckey[32], unsigned char pubkey[32]);

/* 1 when pubkey is an x-only public key (the x of a curve point), else 0. */
int crypto_pubkey_valid(const unsigned char pubkey[32]);

/* BIP-340 signature of the 32-byte msg, with fresh auxiliary randomness.
** 0 or -1. */
int crypto_sign(const unsigned char seckey[32], const unsigned char msg[32],
                unsigned char sig[64]);

/* 1 when sig is a valid BIP-340 signature of msg by the x-only pubkey,
** 0 otherwise (including a pubkey that is not on the curve). */
int crypto_verify(const unsigned char pubkey[32], const unsigned char msg[32],
                  const unsigned char sig[64]);

#endif
