/*
** merge.h -- frames from peers in, the merge result (with reply frames)
** out: the relay half of the peer protocol (DESIGN §3, §4), and the NIP-77
** reconciliation sessions of one database, in both roles.
*/
#ifndef HIROBA_MERGE_H
#define HIROBA_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include "store.h"

/* The open NIP-77 (Negentropy) sessions of one database, keyed by
** subscription id, each with its item set loaded once when it opened.
** The engine (hiroba.c) owns one per open database handle and frees it on
** close. At most NEG_MAX_SESSIONS are open: opening one more closes the
** least recently used, as does going over NEG_MAX_TOTAL_ITEMS items in
** all (a peer that finds its session gone gets "closed: unknown
** subscription" and can open it again). Sessions are not transactional:
** a merge that fails still leaves the sessions it opened or closed so. */
typedef struct neg_sessions neg_sessions;

#define NEG_MAX_SESSIONS 32         /* open sessions per database */
#define NEG_MAX_ITEMS 500000        /* items in one session (~36 MB) */
#define NEG_MAX_TOTAL_ITEMS 1000000 /* items in all sessions of a database */

/* An empty table (NULL when out of memory); frame limit NEG_FRAME_DEFAULT. */
neg_sessions *neg_sessions_new(void);
/* Closes every session and frees the table (NULL is fine). */
void neg_sessions_free(neg_sessions *t);
/* Sets the limit on the binary size of every message we write from now
** on: 0 for the default, else NEG_FRAME_MIN..NEG_FRAME_DEFAULT. 0 or
** HIROBA_EINVAL. */
int neg_sessions_set_frame(neg_sessions *t, size_t nFrame);

/* Applies the frame text z[0..n) -- one frame, or a JSON array of frames
** applied in one transaction -- to the store, with `now` as the clock for
** the future-timestamp rule; NEG-* frames use and change the sessions in
** t. Returns the result object of hiroba_merge (caller frees with free()),
** or NULL with *pRc set to a negative HIROBA_E* code when the engine
** itself failed (storage, memory); in that case nothing of the frame was
** stored and store_errmsg() says why. */
char *merge_apply(store *s, neg_sessions *t, const char *z, size_t n,
                  int64_t now, int *pRc);

/* Opens a session as the initiator over the events matching zFilter (the
** JSON text of one filter object) and returns the frame to send,
** ["NEG-OPEN", zSub, filter, hex] (caller frees with free()). A session
** with the same id is closed first. NULL on failure with *pRc:
** HIROBA_EINVAL with *pzReason (bad id or filter, too many events), or an
** engine failure (store_errmsg() says why when storage failed). */
char *merge_neg_open(store *s, neg_sessions *t, const char *zSub,
                     const char *zFilter, size_t nFilter, int *pRc,
                     const char **pzReason);

/* For tests: opens a session over the given items instead of the store's
** (nItems records of 40 bytes: created_at as 8 bytes little-endian, then
** the 32-byte id). Returns the hex of the first message for an initiator,
** "" for a responder (caller frees), or NULL with *pRc / *pzReason. */
char *merge_neg_test_session(neg_sessions *t, const char *zSub,
                             const unsigned char *pItems, size_t nItems,
                             int isInitiator, int *pRc, const char **pzReason);

#endif
