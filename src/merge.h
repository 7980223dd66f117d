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

/* The merge state of one database (the engine owns one per handle): the
** open NIP-77 (Negentropy) sessions, each with its item set loaded once
** when it opened, keyed by (connection, subscription id); and the memory
** of refused signatures (refused.h).
**
** Connections are integers the caller names (0 is hiroba_merge's own); a
** peer's frames only ever reach its own connection's sessions. Caps: a
** connection holds at most NEG_MAX_CONN_SESSIONS sessions and
** NEG_MAX_ITEMS items (opening more closes its own least recently used);
** the database at most NEG_MAX_SESSIONS sessions and NEG_MAX_TOTAL_ITEMS
** items (past them a new session is refused: "blocked: too many
** reconciliations in progress"). A peer that finds its session gone gets
** "closed: unknown subscription" and can open it again. Sessions are not
** transactional: a merge that fails still leaves the sessions it opened
** or closed so. */
typedef struct merge_state merge_state;

#define NEG_MAX_CONN_SESSIONS 4     /* open sessions per connection */
#define NEG_MAX_SESSIONS 64         /* open sessions per database */
#define NEG_MAX_ITEMS 500000        /* items per connection (~36 MB) */
#define NEG_MAX_TOTAL_ITEMS 1000000 /* items in all sessions of a database */
/* Bytes of events one REQ answer may carry (then EOSE). */
#define MERGE_REQ_MAX_BYTES (1024 * 1024)

/* An empty state (NULL when out of memory); frame limit NEG_FRAME_DEFAULT. */
merge_state *merge_state_new(void);
/* Closes every session and frees the state (NULL is fine). */
void merge_state_free(merge_state *t);
/* Closes every session of connection conn (a peer went away). */
void merge_conn_close(merge_state *t, int conn);
/* Sets the limit on the binary size of every message we write from now
** on: 0 for the default, else NEG_FRAME_MIN..NEG_FRAME_DEFAULT. 0 or
** HIROBA_EINVAL. */
int merge_state_set_frame(merge_state *t, size_t nFrame);

/* The pre-verified path. A vouch is MERGE_VOUCH_SIZE bytes: an event id
** (32) then its signature (64), which a verifier of the engine's own found
** valid for that id (hiroba__vouch). merge_state_vouch(t, p, n) makes the
** n records at p (sorted here, in place) vouched for the merge calls that
** follow, until merge_state_vouch(t, NULL, 0): for a vouched (id, sig) the
** signature check is skipped; every other check still runs, the id's
** included. Who may vouch is the caller's trust decision: only code that
** verified the signatures itself (docs/DESIGN.md, "Verifying in
** parallel"); never anything a peer or a page sent. p stays the
** caller's and must outlive the calls. */
#define MERGE_VOUCH_SIZE 96
void merge_state_vouch(merge_state *t, unsigned char *p, size_t n);

/* Applies the frame text z[0..n) -- one frame, or a JSON array of frames
** applied in one transaction -- that came on connection conn, with `now`
** as the clock for the future-timestamp rule. Returns the result object
** of hiroba_merge (caller frees with free()), or NULL with *pRc set to a
** negative HIROBA_E* code when the engine itself failed (storage,
** memory); in that case nothing of the frame was stored and
** store_errmsg() says why. Keeps the store's size budget before commit. */
char *merge_apply(store *s, merge_state *t, int conn, const char *z, size_t n,
                  int64_t now, int *pRc);

/* Applies nFrame frames that came on connection conn, given as their
** texts back to back in z (frame i is aLen[i] bytes; each is parsed on
** its own, so a malformed one costs only itself), in one transaction.
** Returns a JSON array with one result object (as hiroba_merge's) per
** frame applied, in order; once the results pass nBudget bytes the
** remaining frames are left unapplied (the array is shorter; at least one
** frame is applied), so the caller passes them again. NULL with *pRc on
** an engine failure: then nothing was stored. Caller frees. */
char *merge_batch(store *s, merge_state *t, int conn, const char *z,
                  const uint32_t *aLen, int nFrame, size_t nBudget,
                  int64_t now, int *pRc);

/* Opens a session of connection conn as the initiator over the events
** matching zFilter (the JSON text of one filter object) and returns the
** frame to send, ["NEG-OPEN", zSub, filter, hex] (caller frees with
** free()). A session of conn with the same id is closed first. NULL on
** failure with *pRc: HIROBA_EINVAL with *pzReason (bad id or filter, too
** many events, caps reached), or an engine failure (store_errmsg() says
** why when storage failed). */
char *merge_neg_open(store *s, merge_state *t, int conn, const char *zSub,
                     const char *zFilter, size_t nFilter, int *pRc,
                     const char **pzReason);

/* For tests: opens a session of connection 0 over the given items instead
** of the store's (nItems records of 40 bytes: created_at as 8 bytes
** little-endian, then the 32-byte id). Returns the hex of the first
** message for an initiator, "" for a responder (caller frees), or NULL
** with *pRc / *pzReason. */
char *merge_neg_test_session(merge_state *t, const char *zSub,
                             const unsigned char *pItems, size_t nItems,
                             int isInitiator, int *pRc, const char **pzReason);

#endif
