/*
** negentropy.h -- Negentropy set reconciliation, protocol version 1 (the
** binary protocol under NIP-77), over an in-memory item vector.
**
** An item is (timestamp, 32-byte id); a set is every item of one side,
** sorted by (timestamp, id) and sealed once, with prefix sums of the ids so
** that the fingerprint of any range costs one subtraction and one SHA-256,
** never a rescan: a session loads its set once and then answers every
** round from memory.
**
** Messages are binary here (hex is the NIP-77 wrapper's business, see
** neg_hex_decode). Every decoder path treats its input as hostile: any
** malformed message -- truncated, overlong varints, absurd counts, bounds
** out of order, unknown modes -- gives HIROBA_EINVAL with a static reason,
** never a read out of bounds or an allocation the message size does not
** justify.
**
** Both roles: the initiator (client) builds the first message and learns
** from each reply the ids it has and the peer lacks ("have") and the ids
** the peer has and it lacks ("need"); the responder (server) answers every
** message. Frame-size limits follow the reference implementation
** (hoytech/negentropy): a message never grows past the limit; what did not
** fit is summarized as one fingerprint up to infinity, which the peer
** answers in its next message (continuation).
*/
#ifndef HIROBA_NEGENTROPY_H
#define HIROBA_NEGENTROPY_H

#include <stddef.h>
#include <stdint.h>
#include "strbuf.h"

#define NEG_VERSION 0x61            /* protocol version 1 */
#define NEG_ID_SIZE 32              /* bytes of an id */
#define NEG_FP_SIZE 16              /* bytes of a fingerprint */
#define NEG_INFINITY UINT64_MAX     /* the reserved "infinity" timestamp */
#define NEG_FRAME_MIN 4096          /* smallest frame limit (as the reference) */
/* Our default limit on one binary message: its hex (twice the size) plus
** the NIP-77 envelope stays below the transport's 1 MiB frame cap. */
#define NEG_FRAME_DEFAULT 500000

typedef struct neg_item {
  uint64_t ts;                      /* timestamp (created_at) */
  unsigned char id[NEG_ID_SIZE];    /* event id */
} neg_item;

typedef struct neg_set {
  neg_item *aItem;     /* the items; sorted by (ts, id) once sealed */
  uint64_t *aSum;      /* 4*(nItem+1) limbs once sealed: aSum[4i..4i+4) is
                       ** the sum of the ids of aItem[0..i) mod 2^256, as
                       ** little-endian 64-bit limbs, least significant first */
  size_t nItem;        /* items added */
  size_t nAlloc;       /* allocated entries of aItem */
  int sealed;          /* nonzero once neg_set_seal succeeded */
} neg_set;

/* An empty, unsealed set. */
void neg_set_init(neg_set *set);
/* Adds an item to an unsealed set: 0, HIROBA_EINVAL (sealed, or ts is the
** reserved infinity) or HIROBA_ENOMEM. */
int neg_set_add(neg_set *set, uint64_t ts, const unsigned char id[NEG_ID_SIZE]);
/* Sorts the items and builds the prefix sums: 0, HIROBA_EINVAL with
** *pzReason when two items are equal, or HIROBA_ENOMEM. */
int neg_set_seal(neg_set *set, const char **pzReason);
/* Releases the set's memory and leaves it empty and unsealed. */
void neg_set_free(neg_set *set);
/* Fingerprint of the sealed set's items [lo, hi): the first 16 bytes of
** SHA-256(sum of the ids as 256-bit little-endian integers mod 2^256 ||
** varint(hi - lo)). */
void neg_set_fingerprint(const neg_set *set, size_t lo, size_t hi,
                         unsigned char out[NEG_FP_SIZE]);

/* Varints: base-128 digits, most significant first, the high bit set on
** every byte but the last. neg_varint_get reads one from [*pp, end) and
** advances *pp: 0, or -1 with *pzReason when truncated or above 2^64-1
** (more than 10 bytes is refused even if its value would fit). */
void neg_varint_put(strbuf *sb, uint64_t v);
int neg_varint_get(const unsigned char **pp, const unsigned char *end,
                   uint64_t *pv, const char **pzReason);

/* The first message of an initiator over the sealed set, appended to out
** (binary). nFrame is the frame limit in bytes (0 for none; anything below
** NEG_FRAME_MIN counts as NEG_FRAME_MIN). 0 or HIROBA_ENOMEM. */
int neg_initiate(const neg_set *set, size_t nFrame, strbuf *out);

/* Reconciles the peer's message msg[0..nMsg) against the sealed set and
** appends our reply to out (binary). As the initiator (isInitiator), the
** ids we have and the peer lacks are appended to `have` and those the
** peer has and we lack to `need` (32 bytes each, each id once per call,
** though a continued reconciliation may rarely report one again in a
** later call);
** a reply of only the version byte (out grows by exactly 1) means the
** reconciliation is complete and nothing should be sent. As the responder,
** have/need are not used (may be NULL) and the reply is always sent; a
** message of an unknown protocol version gets the one-byte reply naming
** ours, as the protocol asks.
** Returns 0, HIROBA_EINVAL with *pzReason for a malformed message (out,
** have and need then hold partial output: discard them), or
** HIROBA_ENOMEM. */
int neg_reconcile(const neg_set *set, int isInitiator, size_t nFrame,
                  const unsigned char *msg, size_t nMsg, strbuf *out,
                  strbuf *have, strbuf *need, const char **pzReason);

/* Decodes the NIP-77 hex message z[0..n) (lowercase, even length, at
** least the version byte) into a new buffer *pOut of *pnOut bytes (caller
** frees). 0, HIROBA_EINVAL with *pzReason, or HIROBA_ENOMEM. */
int neg_hex_decode(const char *z, size_t n, unsigned char **pOut,
                   size_t *pnOut, const char **pzReason);

#endif
