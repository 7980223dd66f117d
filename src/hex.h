/*
** hex.h -- lowercase hex, the only form NIP-01 allows for ids, keys, sigs.
*/
#ifndef HIROBA_HEX_H
#define HIROBA_HEX_H

#include <stddef.h>

/* Writes 2*n lowercase hex digits and a NUL to out (2*n+1 bytes). */
void hex_encode(const unsigned char *p, size_t n, char *out);
/* Decodes exactly 2*n lowercase hex digits from z (whose strlen must be
** exactly 2*n) into out. 0 on success, -1 on any other input (uppercase,
** wrong length, non-hex); out is then unspecified. */
int hex_decode(const char *z, unsigned char *out, size_t n);

#endif
