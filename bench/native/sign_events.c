/*
** sign_events.c -- the signer behind bench/lib/events.js: BIP-340
** signatures for the benchmark corpus, made with the engine's own
** crypto.c (libsecp256k1), because signing 100,000 events in JavaScript
** takes minutes and natively a few seconds.
**
** Reads lines "<secret key hex> <event id hex>" on stdin (ids are computed
** in JavaScript, which also builds the events) and writes one line
** "<signature hex>" per input line on stdout. Exits 1 on a malformed line
** or a failed signature. The signatures are checked by the caller with an
** independent implementation (@noble/curves) on a sample.
**
** Built by mk/bench-node.mk against build/native/libhiroba.a; uses
** crypto.h and hex.h, which are internal to the engine.
*/
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "hex.h"

int main(void) {
  char zLine[256];
  unsigned char sk[32], id[32], sig[64];
  char zSig[129];
  long iLine = 0;
  while (fgets(zLine, sizeof zLine, stdin)) {
    iLine++;
    size_t n = strcspn(zLine, "\r\n");
    zLine[n] = 0;
    if (n != 129 || zLine[64] != ' ') {
      fprintf(stderr, "sign_events: line %ld: want \"<sk hex> <id hex>\"\n", iLine);
      return 1;
    }
    zLine[64] = 0;
    if (hex_decode(zLine, sk, 32) || hex_decode(zLine + 65, id, 32)) {
      fprintf(stderr, "sign_events: line %ld: bad hex\n", iLine);
      return 1;
    }
    if (crypto_sign(sk, id, sig)) {
      fprintf(stderr, "sign_events: line %ld: signing failed\n", iLine);
      return 1;
    }
    hex_encode(sig, 64, zSig);
    fputs(zSig, stdout);
    fputc('\n', stdout);
  }
  memset(sk, 0, sizeof sk);
  return ferror(stdin) || fflush(stdout) ? 1 : 0;
}
