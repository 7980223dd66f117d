/*
** hex.c -- lowercase hex encoding and strict decoding.
**
** NIP-01 fixes ids, public keys and signatures as lowercase hex, and an
** event id is a hash of text that contains the pubkey hex: accepting
** "ABCD" for "abcd" would let two different texts name one key. So the
** decoder refuses uppercase, and any length but the exact one.
*/
#include "hex.h"

void hex_encode(const unsigned char *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = 0;
}

/* The value of a lowercase hex digit, or -1. */
static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int hex_decode(const char *z, unsigned char *out, size_t n) {
  if (!z) return -1;
  /* Reading digit by digit stops at the first non-digit (a NUL included),
  ** so a short string is never read past its end. */
  for (size_t i = 0; i < n; i++) {
    int hi = hex_digit(z[2 * i]);
    if (hi < 0) return -1;
    int lo = hex_digit(z[2 * i + 1]);
    if (lo < 0) return -1;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return z[2 * n] == 0 ? 0 : -1;
}
