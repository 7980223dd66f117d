/*
** hiroba.h -- the whole public C API of the Hiroba engine.
**
** Hiroba stores signed Nostr events (NIP-01) in SQLite and trades them with
** peers as NIP-01/NIP-77 frames. The same API is exported from the wasm
** module (js-glue/ wraps it) and built as a native library.
**
** Conventions, for every function below:
**   - Strings in and out are NUL-terminated UTF-8 JSON.
**   - Input strings are borrowed: the caller keeps ownership, and the engine
**     keeps no pointer to them after the call returns.
**   - A returned `char *` is owned by the caller and must be released with
**     hiroba_free(). NULL means failure: hiroba_errcode() gives the negative
**     HIROBA_E* code and hiroba_errmsg() the reason.
**   - Functions returning int give 0 (or a positive handle) on success and a
**     negative HIROBA_E* code on failure.
**   - Nothing aborts on bad input: every input, however hostile, gets a code
**     or, for frames from peers, a rejection inside the merge result.
**   - Not thread-safe: one thread (the worker) drives the engine.
*/
#ifndef HIROBA_H
#define HIROBA_H

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. JS reads them through hiroba_constants(); never retype them. */
#define HIROBA_OK          0
#define HIROBA_EINVAL    (-1)  /* bad argument, JSON, draft or filter */
#define HIROBA_ENOMEM    (-2)  /* out of memory */
#define HIROBA_EIO       (-3)  /* storage read/write/sync failed */
#define HIROBA_EFULL     (-4)  /* disk full or storage quota exceeded */
#define HIROBA_ECORRUPT  (-5)  /* the database file is damaged */
#define HIROBA_EBUSY     (-6)  /* the database is held by someone else */
#define HIROBA_EHANDLE   (-7)  /* no open database has this handle */
#define HIROBA_ECRYPTO   (-8)  /* key generation or signing failed */
#define HIROBA_EREJECTED (-9)  /* the event was refused (see hiroba_errmsg) */
#define HIROBA_EINTERNAL (-10) /* a bug: SQLite or the engine misbehaved */
#define HIROBA_ENOKEY    (-11) /* the identity's secret key is not in the
                                  database (a signer holds it): nothing can
                                  be signed here */

/* Opens (creating if needed) the database at `path` and returns a positive
** handle. On first open a secret key is generated from the platform's
** secure random source and kept in the database. A database opens with
** the storage policy "all" (every valid event from a peer is kept) and no
** size budget; hiroba__set_policy (hiroba.c) changes that, and the
** JavaScript openFeed sets its safer default ("follows"). */
int hiroba_open(const char *path);

/* Closes the database; the handle is invalid afterwards. */
int hiroba_close(int db);

/* {"pubkey": <64 hex>} of the local user. Caller frees. */
char *hiroba_identity(int db);

/* Signs and stores the local user's event. `draft_json` is
** {"kind": int, "content": string, "tags": [[string,...],...]} with an
** optional integer "created_at" (default: now; for replaceable kinds never
** earlier than the stored version + 1). Returns the signed event. Caller
** frees. HIROBA_ENOKEY when the identity is a public key alone (made for
** a signer, which signs in JavaScript: hiroba.c's hiroba__prepare and
** hiroba__post_signed). */
char *hiroba_post(int db, const char *draft_json);

/* Applies one frame from a peer, or a batch: a JSON array of frames, all
** applied in one SQLite transaction. Returns
**   {"accepted":[ids], "duplicates":n, "rejected":[{"id","reason"}],
**    "replies":[frames to send back], "have":[ids], "need":[ids]}
** A malformed or hostile frame is not a failure: it lands in "rejected"
** (id null when none could be read) with a NIP-01 machine-readable reason
** ("invalid: ...", "blocked: ...") and, where the protocol has one, a reply
** (OK false, CLOSED, NOTICE, NEG-ERR). NULL only for engine failures (I/O,
** memory). Caller frees.
** NIP-77 (Negentropy) frames are served too: NEG-OPEN opens a session this
** database answers, NEG-MSG advances a session in either role, NEG-CLOSE
** ends one; sessions live with the handle, on connection 0 (at most 4,
** the least recently used closed first; the export-only
** hiroba__merge_batch gives each peer connection its own: merge.h). "have" and "need" (always present, usually empty)
** are what a NEG-MSG round taught a session this side initiated: ids it
** has that the peer lacks, and ids the peer has that it lacks (minus ids
** it stores or holds a tombstone for: deleted and replaced events are
** never fetched again). When messages are continued (over 500,000 bytes)
** an id may rarely show up again in a later round. A NEG-ERR from the
** peer ends such a session and is recorded in "rejected" with id null and
** the peer's reason.
** NIP-45: ["COUNT", sub, filter, ...] is answered with ["COUNT", sub,
** {"count": n}] (as hiroba_count), or ["CLOSED", sub, "invalid: ..."] for
** a bad filter, as REQ is; a peer's own answer, ["COUNT", sub, {"count":
** n}], is information and ignored like EOSE. */
char *hiroba_merge(int db, const char *frame_json);

/* Events matching a NIP-01 filter (or a JSON array of filters, OR-ed), as a
** JSON array, newest first, ties by lowest id. No "limit" means every
** match. Caller frees. */
char *hiroba_query(int db, const char *filter_json);

/* {"count": n}: how many stored events match a NIP-01 filter (or a JSON
** array of filters, OR-ed: an event two filters match counts once), as a
** NIP-45 COUNT answer. Filters are checked as by hiroba_query (a bad one:
** NULL with HIROBA_EINVAL and the reason); "limit" is ignored, since a
** count is of every match. Answered by SQL count(*) over the indexes,
** without reading any event's JSON. Deleted, replaced and evicted events
** are not stored, so not counted. Caller frees. */
char *hiroba_count(int db, const char *filter_json);

/* Releases a string returned by this API. NULL is fine. */
void hiroba_free(void *ptr);

/* The code and message of the last failure (or of the last rejection by
** hiroba_post). The message is owned by the engine and valid until the
** next call into it. */
int hiroba_errcode(void);
const char *hiroba_errmsg(void);

/* {"HIROBA_EINVAL": -1, ...}: every constant above, for bindings. Static
** storage; do not free. */
const char *hiroba_constants(void);

#ifdef __cplusplus
}
#endif
#endif /* HIROBA_H */
