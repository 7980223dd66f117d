/*
** merge.h -- frames from peers in, the merge result (with reply frames)
** out: the relay half of the peer protocol (DESIGN §3, §4).
*/
#ifndef HIROBA_MERGE_H
#define HIROBA_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include "store.h"

/* Applies the frame text z[0..n) -- one frame, or a JSON array of frames
** applied in one transaction -- to the store, with `now` as the clock for
** the future-timestamp rule. Returns the result object of hiroba_merge
** (caller frees with free()), or NULL with *pRc set to a negative HIROBA_E*
** code when the engine itself failed (storage, memory); in that case
** nothing of the frame was stored and store_errmsg() says why. */
char *merge_apply(store *s, const char *z, size_t n, int64_t now, int *pRc);

#endif
