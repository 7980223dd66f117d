/*
** store.h -- the SQLite store: schema, the storage rules of DESIGN §2
** (duplicates, replaceable kinds, deletions and tombstones, mutes), the
** local identity, and NIP-01 filter queries and NIP-45 counts.
**
** The store owns one SQLite connection in exclusive locking mode; the
** engine (hiroba.c) owns the store. Return values are HIROBA_* codes unless
** stated; a failure leaves its message in store_errmsg().
*/
#ifndef HIROBA_STORE_H
#define HIROBA_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "cJSON.h"
#include "event.h"
#include "strbuf.h"

typedef struct store store;

/* Verdicts of store_precheck / store_insert (non-negative; errors are
** negative HIROBA_E* codes). */
#define STORE_OK         0   /* may be stored / was stored */
#define STORE_DUPLICATE  1   /* already stored */
#define STORE_REJECTED   2   /* refused; *pzReason says why */

/* The most a REQ from a peer may return per filter (a relay's max_limit),
** so one frame cannot make us build an answer the size of the database. */
#define STORE_REQ_MAX_LIMIT 500

/* Rows an event may add besides itself: single-letter tags indexed for
** #x queries (values up to STORE_MAX_TAG_VALUE bytes; others stay in the
** JSON, unindexed), and the events a deletion may name (each may leave a
** tombstone). So an event costs at most about twice its JSON on disk. */
#define STORE_MAX_TAG_ROWS 256
#define STORE_MAX_TAG_VALUE 256
#define STORE_MAX_DELETE_TARGETS 256

/* What merge keeps from peers (DESIGN §2, storage policy). */
#define STORE_POLICY_ALL 0      /* every valid event (a relay, tests) */
#define STORE_POLICY_FOLLOWS 1  /* own, followed, and what references them */
typedef struct store_policy {
  int mode;          /* STORE_POLICY_* */
  int64_t maxBytes;  /* database size budget in bytes; 0: none */
} store_policy;

/* Opens or creates the database at zPath and its schema. On failure
** *ppStore may still be set, holding only the reason: read store_errmsg()
** and then store_close() it. */
int store_open(const char *zPath, store **ppStore);
/* Closes the connection and frees the store (NULL is fine). */
void store_close(store *s);
/* The message of the store's last failure (static or store-owned). */
const char *store_errmsg(store *s);

/* Sets the policy (copied). The default is STORE_POLICY_ALL, no budget. */
void store_set_policy(store *s, const store_policy *p);
store_policy store_get_policy(store *s);

/* Whether the policy lets a peer's event in: STORE_OK, STORE_REJECTED
** with *pzReason ("blocked: ..."), or a negative code. Follows mode keeps
** the local user's events, those of the authors in their newest kind 3
** list, events with a "p" tag naming one of those, events with an "e" tag
** naming a stored event by one of those or by the same author (replies,
** reactions, an author's deletion of its own stored reply), and the kind
** 0 profile of an author who has a stored event. Cheap: run it before the
** signature check. */
int store_admit(store *s, const event *ev, const char **pzReason);

/* Keeps the database within the policy's size budget, inside the
** caller's write transaction: evicts the oldest events that are neither
** the local user's nor by a followed author, then the oldest followed
** ones, never the local user's and never replaceable kinds, until the
** events removed held the excess over 90% of the budget (the used pages
** shrink only as whole pages empty, so a later call may evict more). Evicted followed events leave a
** tombstone, so sync does not fetch them again. *pnEvicted counts them.
** 0 or a negative code. */
int store_enforce_budget(store *s, int64_t *pnEvicted);

/* Bytes the database uses (pages in use x page size). */
int store_used_bytes(store *s, int64_t *pn);

/* Transactions: one write transaction per merged frame or batch. */
int store_begin(store *s);
int store_commit(store *s);
void store_rollback(store *s);

/* The local user's secret key: 0 and the key when present, 1 when no
** identity exists yet, STORE_NO_SECRET when the identity is a public key
** alone (its secret is held by a signer, NIP-07), negative on error. */
#define STORE_NO_SECRET 2
int store_get_secret(store *s, unsigned char seckey[32]);
/* The local user's public key: 0 and the key, 1 when no identity exists
** yet, negative on error. */
int store_get_pubkey(store *s, unsigned char pubkey[32]);
/* Keeps the local identity (inside the caller's transaction); seckey
** NULL keeps the public key alone. */
int store_set_identity(store *s, const unsigned char *seckey,
                       const unsigned char pubkey[32]);

/* created_at of the stored (pubkey, kind) event, or -1 when none. For the
** local user's replaceable updates. Negative HIROBA_E* below -1 on error
** is not possible: errors return -1 too (the caller then uses now). */
int64_t store_latest(store *s, const unsigned char pubkey[32], int kind);

/* Appends the stored canonical JSON of event `id` to sb: 0, 1 when no such
** event is stored, or a negative code. */
int store_get_json(store *s, const unsigned char id[32], strbuf *sb);

/* Appends the text of PRAGMA integrity_check ("ok" when sound, else one
** problem per line) to sb. 0 or a negative code. */
int store_integrity(store *s, strbuf *sb);

/* The cheap checks, before paying for signature verification: already
** stored, tombstoned (deleted or replaced), muted author. STORE_OK,
** STORE_DUPLICATE, STORE_REJECTED (with *pzReason) or a negative code.
** ev's id must already be checked (event_check_id): a refused deleted
** event still teaches its replaceable slot what was newest, and that is
** recorded here. */
int store_precheck(store *s, const event *ev, const char **pzReason);

/* Stores a verified event whose canonical JSON is zJson[0..nJson), and
** applies its effects: replaces the older version of a replaceable kind
** (or refuses ev as "replaced:" when a newer one was stored or deleted),
** performs a kind-5 deletion, updates the mute list when the local user's
** kind 10000 changes. Runs store_precheck itself (and returns its verdict
** when that is not STORE_OK), so it is safe to call alone. */
int store_insert(store *s, const event *ev, const char *zJson, size_t nJson,
                 const char **pzReason);

/* Calls xRow with the canonical JSON of each event matching the filters
** (a cJSON array of filter objects), newest first, ties by lowest id, no
** event twice. maxLimit caps each filter's limit (and is the limit when a
** filter has none); -1 for none. A bad filter gives HIROBA_EINVAL with
** *pzReason ("invalid: ..."). xRow returns 0 to go on, non-zero to stop
** (that value is returned). */
int store_query(store *s, const cJSON *filters, int64_t maxLimit,
                int (*xRow)(void *pCtx, const char *zJson, int nJson),
                void *pCtx, const char **pzReason);

/* What a count's statement did, so that tests can hold store_count to
** answering from indexes: steps of loops over a whole table or index
** (SQLITE_STMTSTATUS_FULLSCAN_STEP; 0 when every loop was an index
** lookup), and pages read from storage rather than the page cache. */
typedef struct store_count_cost {
  int64_t nFullScanStep;
  int64_t nPageRead;
} store_count_cost;

/* *pnCount = the number of stored events matching the filters (a cJSON
** array of filter objects, OR-ed: an event matched twice counts once),
** NIP-45 COUNT. Each filter is checked as by store_query, and its "limit"
** is ignored (a count is of every match). Deleted, replaced and evicted
** events are not in the store, so never counted. pCost may be NULL. A
** bad filter gives HIROBA_EINVAL with *pzReason ("invalid: ..."). */
int store_count(store *s, const cJSON *filters, int64_t *pnCount,
                store_count_cost *pCost, const char **pzReason);

/* Calls xItem with (created_at, id) of every event matching one filter
** object, ascending by (created_at, id): the item set of a Negentropy
** (NIP-77) session. No cap but the filter's own "limit" (the newest that
** many). A bad filter gives HIROBA_EINVAL with *pzReason ("invalid: ...").
** xItem returns 0 to go on, non-zero to stop (that value is returned). */
int store_neg_items(store *s, const cJSON *filter,
                    int (*xItem)(void *pCtx, int64_t createdAt,
                                 const unsigned char *id),
                    void *pCtx, const char **pzReason);

/* 1 when an event id is not worth fetching: the event is stored, or a
** tombstone of any author names the id (deleted by its author, or an
** older version of a replaceable event); 0 when it is wanted; negative
** on error. For the ids a reconciliation says we lack. */
int store_unwanted(store *s, const unsigned char id[32]);

#endif
