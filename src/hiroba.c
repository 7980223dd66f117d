/*
** hiroba.c -- the public API of hiroba.h: handles, errors, identity, post,
** and the thin doors to merge.c and query.c.
**
** Handles are small positive integers indexing a fixed table, never
** pointers, so a stale or forged handle from JavaScript is caught
** (HIROBA_EHANDLE) instead of dereferenced. Each handle owns its store and
** its merge state (NIP-77 sessions per connection, refused signatures:
** merge.h), created on open and freed on close.
*/
#include "hiroba.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "event.h"
#include "hex.h"
#include "json.h"
#include "merge.h"
#include "state.h"
#include "store.h"
#include "strbuf.h"
#include "vfs.h"

#define MAX_HANDLES 16

static store *aStore[MAX_HANDLES + 1]; /* index = handle; slot 0 unused */
static merge_state *aMerge[MAX_HANDLES + 1]; /* the handle's merge state */
static int iErrCode;                   /* code of the last failure */
static char zErrMsg[1200];             /* message of the last failure */

/* Records a failure and returns its code, so callers can `return fail(..)`. */
static int fail(int rc, const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  vsnprintf(zErrMsg, sizeof zErrMsg, zFmt, ap);
  va_end(ap);
  iErrCode = rc;
  return rc;
}

static void ok(void) {
  iErrCode = HIROBA_OK;
  zErrMsg[0] = 0;
}

int hiroba_errcode(void) { return iErrCode; }
const char *hiroba_errmsg(void) { return zErrMsg; }
void hiroba_free(void *p) { free(p); }

static int64_t now(void) { return (int64_t)time(NULL); }

/* The store behind a handle, or NULL (and the error set). */
static store *get_store(int db) {
  vfs_clear_error();
  if (db < 1 || db > MAX_HANDLES || !aStore[db]) {
    fail(HIROBA_EHANDLE, "no open database has handle %d", db);
    return NULL;
  }
  return aStore[db];
}

/* Creates the local identity on first open, inside one transaction. */
static int ensure_identity(store *s) {
  unsigned char sk[32], pk[32];
  int rc = store_get_secret(s, sk);
  if (rc != 1) { /* there is one (perhaps of a public key alone), or an error */
    memset(sk, 0, sizeof sk);
    return rc < 0 ? rc : 0;
  }
  if (crypto_keygen(sk) || crypto_pubkey(sk, pk)) {
    return fail(HIROBA_ECRYPTO, "cannot generate a key: no secure randomness");
  }
  rc = store_begin(s);
  if (rc == 0) rc = store_set_identity(s, sk, pk);
  if (rc == 0) rc = store_commit(s);
  if (rc) store_rollback(s);
  memset(sk, 0, sizeof sk);
  return rc;
}

int hiroba_open(const char *path) {
  if (!path || !path[0]) return fail(HIROBA_EINVAL, "open needs a path");
  vfs_clear_error();
  int db = 1;
  while (db <= MAX_HANDLES && aStore[db]) db++;
  if (db > MAX_HANDLES) {
    return fail(HIROBA_EBUSY, "too many open databases (at most %d)", MAX_HANDLES);
  }
  store *s = NULL;
  merge_state *t = merge_state_new();
  int rc = t ? store_open(path, &s) : HIROBA_ENOMEM;
  if (rc == 0) rc = ensure_identity(s);
  if (rc) {
    /* ensure_identity already said why when signing keys failed. */
    if (rc != HIROBA_ECRYPTO) fail(rc, "%s", s ? store_errmsg(s) : "out of memory");
    store_close(s);
    merge_state_free(t);
    return rc;
  }
  aStore[db] = s;
  aMerge[db] = t;
  ok();
  return db;
}

int hiroba_close(int db) {
  store *s = get_store(db);
  if (!s) return HIROBA_EHANDLE;
  store_close(s);
  merge_state_free(aMerge[db]);
  aStore[db] = NULL;
  aMerge[db] = NULL;
  ok();
  return HIROBA_OK;
}

char *hiroba_identity(int db) {
  store *s = get_store(db);
  if (!s) return NULL;
  unsigned char pk[32];
  int rc = store_get_pubkey(s, pk);
  if (rc) {
    fail(rc < 0 ? rc : HIROBA_ECORRUPT, "cannot read the identity: %s",
         rc < 0 ? store_errmsg(s) : "the database has none");
    return NULL;
  }
  strbuf sb;
  strbuf_init(&sb);
  strbuf_puts(&sb, "{\"pubkey\":\"");
  strbuf_hex(&sb, pk, 32);
  strbuf_puts(&sb, "\"}");
  char *z = strbuf_finish(&sb);
  if (!z) fail(HIROBA_ENOMEM, "out of memory");
  else ok();
  return z;
}

/* Reads a draft {kind, content, tags, created_at?} into ev (borrowing from
** root). 0 or -1 with *pzReason. */
static int read_draft(const cJSON *root, event *ev, int *pHasTime,
                      const char **pzReason) {
  static const cJSON kEmptyTags = {NULL, NULL, NULL, cJSON_Array, NULL, 0, 0, NULL};
  long long v;
  memset(ev, 0, sizeof *ev);
  if (!cJSON_IsObject(root) || json_has_duplicate_keys(root)) {
    *pzReason = "invalid: a draft is an object {kind, content, tags}";
    return -1;
  }
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
  const cJSON *tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
  const cJSON *at = cJSON_GetObjectItemCaseSensitive(root, "created_at");
  if (json_get_int(kind, 0, EVENT_MAX_KIND, &v)) {
    *pzReason = "invalid: kind must be an integer from 0 to 65535";
    return -1;
  }
  ev->kind = (int)v;
  if (content && !cJSON_IsString(content)) {
    *pzReason = "invalid: content must be a string";
    return -1;
  }
  ev->content = content ? content->valuestring : "";
  ev->ncontent = strlen(ev->content);
  ev->tags = tags ? tags : &kEmptyTags;
  *pHasTime = at != NULL;
  if (at) {
    if (json_get_int(at, 0, 9007199254740991LL, &v)) {
      *pzReason = "invalid: created_at must be a non-negative integer";
      return -1;
    }
    ev->created_at = v;
  }
  return event_check_fields(ev, pzReason);
}

/* Export-only shim (not in hiroba.h): hiroba_post that also says whether
** the event is new (*pIsNew = 1) or was already stored (0: the same draft
** posted twice within one second). Either way the stored event is
** returned, so a caller never holds a second signature of one id. */
char *hiroba__post_ex(int db, const char *draft_json, int *pIsNew);

char *hiroba_post(int db, const char *draft_json) {
  return hiroba__post_ex(db, draft_json, NULL);
}

/* Export-only shim (not in hiroba.h): signs a draft with the local
** identity exactly as hiroba_post would, but stores nothing. For events
** that are proofs rather than content: the kind-22242 answer to a
** signaling server's challenge (NIP-42 style). Caller frees. */
char *hiroba__sign(int db, const char *draft_json);

static char *sign_draft(int db, const char *draft_json, int bStore, int *pIsNew);

char *hiroba__post_ex(int db, const char *draft_json, int *pIsNew) {
  return sign_draft(db, draft_json, 1, pIsNew);
}

char *hiroba__sign(int db, const char *draft_json) {
  return sign_draft(db, draft_json, 0, NULL);
}

static const char kNoKey[] =
  "the identity's secret key is not in this database (a signer holds it): "
  "open the feed with { signer } to post or sign";

/* Parses a draft into *pRoot and ev (which borrows from it; free *pRoot
** with cJSON_Delete). 0, or HIROBA_EINVAL recorded. */
static int parse_draft(const char *draft_json, cJSON **pRoot, event *ev, int *pHasTime) {
  *pRoot = NULL;
  if (!draft_json) return fail(HIROBA_EINVAL, "post needs a draft");
  const char *zReason = "invalid: bad JSON";
  cJSON *root = json_parse(draft_json, strlen(draft_json), &zReason);
  if (!root || read_draft(root, ev, pHasTime, &zReason)) {
    cJSON_Delete(root);
    return fail(HIROBA_EINVAL, "%s", zReason);
  }
  *pRoot = root;
  return 0;
}

/* created_at for the local user's draft that has none: now, but a
** replaceable update must sort after the version it replaces, even within
** one second (follow(a); follow(b) keeps both). ev->pubkey must be set. */
static int64_t draft_time(store *s, const event *ev) {
  int64_t t = now();
  if (event_kind_replaceable(ev->kind)) {
    int64_t prev = store_latest(s, ev->pubkey, ev->kind);
    if (prev >= t) t = prev + 1;
  }
  return t;
}

/* Dates a draft that has no created_at (draft_time) and checks the time
** as a peer would. 0, or HIROBA_EREJECTED with *pzWhy. */
static int date_draft(store *s, event *ev, int hasTime, const char **pzWhy) {
  if (!hasTime) ev->created_at = draft_time(s, ev);
  return event_check_time(ev, now(), pzWhy) ? HIROBA_EREJECTED : 0;
}

/* The local identity's keys, for signing: 0, or a code with *pzWhy
** saying why (left alone when the store's own message says it). */
static int read_keys(store *s, unsigned char sk[32], unsigned char pk[32],
                     const char **pzWhy) {
  int rc = store_get_secret(s, sk);
  if (rc == STORE_NO_SECRET) { *pzWhy = kNoKey; return HIROBA_ENOKEY; }
  if (rc == 1) { *pzWhy = "the database has no identity"; return HIROBA_ECORRUPT; }
  if (rc == 0 && crypto_pubkey(sk, pk)) {
    *pzWhy = "the stored secret key is not valid";
    return HIROBA_ECORRUPT;
  }
  return rc;
}

/* The local identity's public key: the same, for what a signer signs. */
static int read_pubkey(store *s, unsigned char pk[32], const char **pzWhy) {
  int rc = store_get_pubkey(s, pk);
  if (rc == 1) { *pzWhy = "the database has no identity"; return HIROBA_ECORRUPT; }
  return rc;
}

/* Stores the local user's signed event, whose canonical JSON is in *json,
** inside the caller's transaction. A duplicate is the same draft posted
** twice within a second: that succeeds too, with *json replaced by the
** event the first call stored. 0 (*pIsNew says which), or a code, with
** *pzWhy for HIROBA_EREJECTED. */
static int store_own(store *s, const event *ev, strbuf *json, int *pIsNew,
                     const char **pzWhy) {
  const char *zReason = "";
  int rc = store_insert(s, ev, json->z, json->n, &zReason);
  if (rc == STORE_OK && pIsNew) *pIsNew = 1;
  if (rc == STORE_DUPLICATE) {
    json->n = 0;
    rc = store_get_json(s, ev->id, json);
    if (rc == 1) rc = HIROBA_EINTERNAL; /* it was there a moment ago */
  }
  if (rc == STORE_REJECTED) {
    *pzWhy = zReason;
    rc = HIROBA_EREJECTED;
  }
  return rc;
}

/* The end of a transaction that made the local user's event: on rc 0 it
** commits and hands out json's text (caller frees); otherwise it rolls
** back and records why: zWhy, or else what the code and the store say.
** json is released either way. */
static char *finish_own(store *s, int rc, strbuf *json, const char *zWhy) {
  char *zOut = NULL;
  if (rc == 0) rc = store_commit(s);
  if (rc == 0) {
    zOut = strbuf_finish(json);
    if (!zOut) rc = HIROBA_ENOMEM;
  }
  if (rc) {
    store_rollback(s);
    if (zWhy) fail(rc, "%s", zWhy);
    else if (rc == HIROBA_ECRYPTO) fail(rc, "cannot sign the event");
    else if (rc == HIROBA_ENOMEM) fail(rc, "out of memory");
    else fail(rc, "%s", store_errmsg(s));
  } else {
    ok();
  }
  strbuf_free(json);
  return zOut;
}

/* Signs a draft; with bStore, stores it too (see hiroba__post_ex). */
static char *sign_draft(int db, const char *draft_json, int bStore, int *pIsNew) {
  if (pIsNew) *pIsNew = 0;
  store *s = get_store(db);
  if (!s) return NULL;
  cJSON *root;
  event ev;
  int hasTime = 0;
  if (parse_draft(draft_json, &root, &ev, &hasTime)) return NULL;

  unsigned char sk[32];
  const char *zWhy = NULL;
  strbuf json;
  strbuf_init(&json);
  int rc = store_begin(s);
  if (rc == 0) rc = read_keys(s, sk, ev.pubkey, &zWhy);
  if (rc == 0) rc = date_draft(s, &ev, hasTime, &zWhy);
  if (rc == 0 && event_sign(&ev, sk)) rc = HIROBA_ECRYPTO;
  memset(sk, 0, sizeof sk);
  if (rc == 0) {
    event_to_json(&ev, &json);
    if (json.oom) rc = HIROBA_ENOMEM;
  }
  if (rc == 0 && bStore) rc = store_own(s, &ev, &json, pIsNew, &zWhy);
  char *zOut = finish_own(s, rc, &json, zWhy);
  cJSON_Delete(root);
  return zOut;
}

/* Export-only shim (not in hiroba.h): the event a signer (NIP-07, in
** JavaScript) is to sign for a draft, unsigned: {"pubkey", "created_at",
** "kind", "tags", "content"}, with the local user's public key and
** created_at chosen as hiroba_post would, after the draft passed
** hiroba_post's checks. Works whether or not the database holds the
** secret key. What the signer returns goes to hiroba__post_signed (or,
** for a proof, hiroba__verify). Caller frees. */
char *hiroba__prepare(int db, const char *draft_json);

char *hiroba__prepare(int db, const char *draft_json) {
  store *s = get_store(db);
  if (!s) return NULL;
  cJSON *root;
  event ev;
  int hasTime = 0;
  if (parse_draft(draft_json, &root, &ev, &hasTime)) return NULL;
  const char *zWhy = NULL;
  char *zOut = NULL;
  int rc = read_pubkey(s, ev.pubkey, &zWhy);
  if (rc == 0) rc = date_draft(s, &ev, hasTime, &zWhy);
  if (rc == 0) {
    strbuf sb;
    strbuf_init(&sb);
    event_to_json_unsigned(&ev, &sb);
    zOut = strbuf_finish(&sb);
    if (!zOut) rc = HIROBA_ENOMEM;
  }
  if (!rc) ok();
  else if (zWhy) fail(rc, "%s", zWhy);
  else fail(rc, "%s", rc == HIROBA_ENOMEM ? "out of memory" : store_errmsg(s));
  cJSON_Delete(root);
  return zOut;
}

/* Export-only shim (not in hiroba.h): stores the local user's event that
** a signer signed (hiroba__prepare's event, with id and sig), along the
** path hiroba_post takes after signing: the same replaceable-kind rules,
** deletions, mutes, and the same answer for a duplicate (*pIsNew = 0,
** the stored event returned). Checked first as any event from a peer is
** -- strict JSON, shape and limits, id, BIP-340 signature, the clock --
** and it must be by the local identity. A refused event is
** HIROBA_EREJECTED with the reason, and nothing is stored. What is stored
** is the engine's canonical JSON of the event, not the signer's text.
** Caller frees. */
char *hiroba__post_signed(int db, const char *event_json, int *pIsNew);

char *hiroba__post_signed(int db, const char *event_json, int *pIsNew) {
  if (pIsNew) *pIsNew = 0;
  store *s = get_store(db);
  if (!s) return NULL;
  if (!event_json) { fail(HIROBA_EINVAL, "post_signed needs an event"); return NULL; }
  const char *zReason = "invalid: bad JSON";
  const char *zWhy = NULL;
  cJSON *root = json_parse(event_json, strlen(event_json), &zReason);
  event ev;
  unsigned char self[32];
  int hasId = 0;
  int rc = 0;
  if (!root || event_from_json(&ev, root, &hasId, &zReason)) {
    rc = HIROBA_EREJECTED;
  } else if ((rc = read_pubkey(s, self, &zWhy)) != 0) {
    /* said by zWhy or the store */
  } else if (memcmp(ev.pubkey, self, 32) != 0) {
    zReason = "invalid: not signed by this database's identity";
    rc = HIROBA_EREJECTED;
  } else if (event_check_id(&ev, &zReason)) {
    rc = strncmp(zReason, "error:", 6) == 0 ? HIROBA_ENOMEM : HIROBA_EREJECTED;
  } else if (event_check_sig(&ev, &zReason) || event_check_time(&ev, now(), &zReason)) {
    rc = HIROBA_EREJECTED;
  }
  if (rc) {
    if (rc == HIROBA_EREJECTED) fail(rc, "the signed event was refused (%s)", zReason);
    else if (zWhy) fail(rc, "%s", zWhy);
    else fail(rc, "%s", rc == HIROBA_ENOMEM ? "out of memory" : store_errmsg(s));
    cJSON_Delete(root);
    return NULL;
  }
  strbuf json;
  strbuf_init(&json);
  event_to_json(&ev, &json);
  rc = json.oom ? HIROBA_ENOMEM : store_begin(s);
  if (rc == 0) rc = store_own(s, &ev, &json, pIsNew, &zWhy);
  char *zOut = finish_own(s, rc, &json, zWhy);
  cJSON_Delete(root);
  return zOut;
}

/* Export-only shim (not in hiroba.h): hiroba_merge with an explicit
** length, so bytes from JavaScript or a fuzzer arrive whole even when they
** hold a NUL (which then gets rejected, instead of ending the frame early
** and letting its prefix pass for the frame). */
char *hiroba__merge_n(int db, const char *z, size_t n);

char *hiroba_merge(int db, const char *frame_json) {
  return hiroba__merge_n(db, frame_json, frame_json ? strlen(frame_json) : 0);
}

/* The end of every merge call: the result, or the failure recorded. */
static char *merged(store *s, char *z, int rc) {
  if (!z) fail(rc ? rc : HIROBA_ENOMEM, "%s", rc == HIROBA_ENOMEM ? "out of memory" : store_errmsg(s));
  else ok();
  return z;
}

char *hiroba__merge_n(int db, const char *frame_json, size_t n) {
  store *s = get_store(db);
  if (!s) return NULL;
  if (!frame_json) { fail(HIROBA_EINVAL, "merge needs a frame"); return NULL; }
  int rc = 0;
  char *z = merge_apply(s, aMerge[db], 0, frame_json, n, now(), &rc);
  return merged(s, z, rc);
}

/* Export-only shim (not in hiroba.h): applies nFrame frames that arrived
** on connection `conn` (a positive number the caller picks per peer
** connection; its NIP-77 sessions are its own), given back to back in z
** with frame i aLen[i] bytes long. Each frame is parsed alone, so a
** malformed one costs only itself, and all are applied in one
** transaction. Returns a JSON array of one hiroba_merge result per frame
** applied; once the results pass nBudget bytes (0: 2 MiB) the rest is
** left unapplied -- the array is shorter, and the caller passes those
** frames again after sending the replies. Caller frees. */
char *hiroba__merge_batch(int db, int conn, const char *z, const uint32_t *aLen,
                          int nFrame, int nBudget);

char *hiroba__merge_batch(int db, int conn, const char *z, const uint32_t *aLen,
                          int nFrame, int nBudget) {
  store *s = get_store(db);
  if (!s) return NULL;
  if (conn < 1 || nFrame < 1 || nBudget < 0 || !z || !aLen) {
    fail(HIROBA_EINVAL, "mergeBatch needs a connection >= 1 and frames");
    return NULL;
  }
  int rc = 0;
  char *zOut = merge_batch(s, aMerge[db], conn, z, aLen, nFrame,
                           nBudget ? (size_t)nBudget : 2u << 20, now(), &rc);
  return merged(s, zOut, rc);
}

/* Export-only shim (not in hiroba.h): forgets connection `conn`: closes
** its NIP-77 sessions. 0, or HIROBA_EHANDLE. */
int hiroba__conn_close(int db, int conn);

int hiroba__conn_close(int db, int conn) {
  if (!get_store(db)) return HIROBA_EHANDLE;
  merge_conn_close(aMerge[db], conn);
  ok();
  return HIROBA_OK;
}

/* Export-only shim (not in hiroba.h): the storage policy of DESIGN §2 for
** what merge keeps from peers, as JSON {"store": "follows" | "all",
** "maxBytes": n}: "follows" keeps the local user's events, followed
** authors' and what references them (store.h, store_admit); "all" every
** valid event. maxBytes > 0 is a database size budget kept by evicting
** the oldest data that is neither own nor followed first (0: none).
** Missing fields keep their value. A database opens with "all" and no
** budget; openFeed sets its own default. 0 or HIROBA_EINVAL. */
int hiroba__set_policy(int db, const char *policy_json);

int hiroba__set_policy(int db, const char *policy_json) {
  store *s = get_store(db);
  if (!s) return HIROBA_EHANDLE;
  const char *zReason = "invalid: bad JSON";
  cJSON *root = policy_json ? json_parse(policy_json, strlen(policy_json), &zReason) : NULL;
  if (!root || !cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return fail(HIROBA_EINVAL, "a policy is a JSON object");
  }
  store_policy p = store_get_policy(s);
  const cJSON *mode = cJSON_GetObjectItemCaseSensitive(root, "store");
  const cJSON *max = cJSON_GetObjectItemCaseSensitive(root, "maxBytes");
  int rc = 0;
  if (mode && cJSON_IsString(mode) && strcmp(mode->valuestring, "follows") == 0) {
    p.mode = STORE_POLICY_FOLLOWS;
  } else if (mode && cJSON_IsString(mode) && strcmp(mode->valuestring, "all") == 0) {
    p.mode = STORE_POLICY_ALL;
  } else if (mode) {
    rc = fail(HIROBA_EINVAL, "policy.store is \"follows\" or \"all\"");
  }
  if (max && (!cJSON_IsNumber(max) || max->valuedouble < 0 ||
              max->valuedouble > 9007199254740991.0 ||
              max->valuedouble != (double)(int64_t)max->valuedouble)) {
    rc = fail(HIROBA_EINVAL, "policy.maxBytes is a whole number of bytes, 0 for none");
  } else if (max) {
    p.maxBytes = (int64_t)max->valuedouble;
  }
  cJSON_Delete(root);
  if (rc) return rc;
  store_set_policy(s, &p);
  ok();
  return HIROBA_OK;
}

/* Export-only shim (not in hiroba.h): opens a NIP-77 reconciliation with a
** peer, this database as the initiator, over the stored events matching
** `filter_json` (one NIP-01 filter object; its own "limit", if any,
** applies). Returns the frame to send, ["NEG-OPEN", sub, filter, hex]
** (caller frees). The peer's answers go to hiroba_merge, whose results
** then list what this side has and the peer lacks ("have") and what the
** peer has and this side lacks ("need"), until a reply frame NEG-CLOSE
** says it is done. A session with the same `sub` is replaced. NULL with
** HIROBA_EINVAL for a bad sub (1 to 64 chars) or filter, or when more
** than NEG_MAX_ITEMS events match. */
char *hiroba__neg_open(int db, const char *sub, const char *filter_json);
char *hiroba__conn_neg_open(int db, int conn, const char *sub, const char *filter_json);

char *hiroba__neg_open(int db, const char *sub, const char *filter_json) {
  return hiroba__conn_neg_open(db, 0, sub, filter_json);
}

/* Export-only shim (not in hiroba.h): hiroba__neg_open for the session of
** connection `conn` (see hiroba__merge_batch), whose answers come back
** through hiroba__merge_batch on the same connection. */
char *hiroba__conn_neg_open(int db, int conn, const char *sub, const char *filter_json);

char *hiroba__conn_neg_open(int db, int conn, const char *sub, const char *filter_json) {
  store *s = get_store(db);
  if (!s) return NULL;
  if (!sub || !filter_json || conn < 0) { fail(HIROBA_EINVAL, "negOpen needs a sub and a filter"); return NULL; }
  int rc = 0;
  const char *zReason = "invalid: bad filter";
  char *z = merge_neg_open(s, aMerge[db], conn, sub, filter_json, strlen(filter_json), &rc, &zReason);
  if (z) ok();
  else if (rc == HIROBA_EINVAL) fail(rc, "%s", zReason);
  else if (rc == HIROBA_ENOMEM) fail(rc, "out of memory");
  else fail(rc, "%s", store_errmsg(s));
  return z;
}

/* Export-only shim (not in hiroba.h), for tests: the limit on the binary
** size of every negentropy message this database writes from now on
** (0: the default, 500000; else 4096..500000), so that continuation can
** be tested with small sets. 0 or HIROBA_EINVAL. */
int hiroba__neg_frame_limit(int db, int nFrame);

int hiroba__neg_frame_limit(int db, int nFrame) {
  if (!get_store(db)) return HIROBA_EHANDLE;
  if (nFrame < 0 || merge_state_set_frame(aMerge[db], (size_t)nFrame)) {
    return fail(HIROBA_EINVAL, "the frame limit is 0 or 4096 to 500000");
  }
  ok();
  return HIROBA_OK;
}

/* Export-only shim (not in hiroba.h), for tests: opens session `sub` in
** the database's table over given items instead of stored events, so that
** reconciliation of 100,000 items can be tested without signing 100,000
** events. pItems holds nItems records of 40 bytes: created_at as 8 bytes
** little-endian, then the 32-byte id. Returns the first message (hex) for
** an initiator, "" for a responder (caller frees); the rest goes through
** hiroba_merge as for any session. */
char *hiroba__neg_test_session(int db, const char *sub, const unsigned char *pItems,
                               size_t nItems, int isInitiator);

char *hiroba__neg_test_session(int db, const char *sub, const unsigned char *pItems,
                               size_t nItems, int isInitiator) {
  if (!get_store(db)) return NULL;
  int rc = 0;
  const char *zReason = "invalid: bad items";
  char *z = merge_neg_test_session(aMerge[db], sub, pItems, nItems, isInitiator, &rc, &zReason);
  if (z) ok();
  else fail(rc, "%s", rc == HIROBA_ENOMEM ? "out of memory" : zReason);
  return z;
}

/* Export-only shim (not in hiroba.h): {"ok":bool,"result":text} of
** PRAGMA integrity_check, for crash tests and a page's own health check.
** Caller frees. */
char *hiroba__integrity_check(int db);

char *hiroba__integrity_check(int db) {
  store *s = get_store(db);
  if (!s) return NULL;
  strbuf text, out;
  strbuf_init(&text);
  strbuf_init(&out);
  int rc = store_integrity(s, &text);
  if (rc) {
    strbuf_free(&text);
    fail(rc, "%s", rc == HIROBA_ENOMEM ? "out of memory" : store_errmsg(s));
    return NULL;
  }
  int sound = text.n == 2 && memcmp(text.z, "ok", 2) == 0;
  strbuf_puts(&out, sound ? "{\"ok\":true,\"result\":" : "{\"ok\":false,\"result\":");
  strbuf_json_string(&out, text.z ? text.z : "", text.n);
  strbuf_putc(&out, '}');
  strbuf_free(&text);
  char *z = strbuf_finish(&out);
  if (!z) fail(HIROBA_ENOMEM, "out of memory");
  else ok();
  return z;
}

/* Appends each row to a JSON array being built. */
static int query_row(void *pCtx, const char *zJson, int nJson) {
  strbuf *sb = pCtx;
  if (sb->n > 1) strbuf_putc(sb, ',');
  strbuf_append(sb, zJson, (size_t)nJson);
  return sb->oom ? HIROBA_ENOMEM : 0;
}

/* Parses a filter or a JSON array of filters into *pRoot, and sets
** *pFilters to an array of them (a one-filter array holding a reference
** into *pRoot, or *pRoot itself): free both with free_filters. 0, or the
** failure recorded. */
static int read_filters(const char *filter_json, const char *zOp,
                        cJSON **pRoot, cJSON **pFilters) {
  *pRoot = *pFilters = NULL;
  if (!filter_json) return fail(HIROBA_EINVAL, "%s needs a filter", zOp);
  const char *zReason = "invalid: bad JSON";
  cJSON *root = json_parse(filter_json, strlen(filter_json), &zReason);
  if (!root) return fail(HIROBA_EINVAL, "%s", zReason);
  cJSON *filters = root;
  if (cJSON_IsObject(root)) {
    /* One filter: wrap it, so the store always sees an array. */
    filters = cJSON_CreateArray();
    if (!filters || !cJSON_AddItemReferenceToArray(filters, root)) {
      cJSON_Delete(filters);
      cJSON_Delete(root);
      return fail(HIROBA_ENOMEM, "out of memory");
    }
  }
  *pRoot = root;
  *pFilters = filters;
  return 0;
}

static void free_filters(cJSON *root, cJSON *filters) {
  if (filters != root) cJSON_Delete(filters);
  cJSON_Delete(root);
}

/* The end of a query or count: z (built from sb) on success, else NULL
** and the failure recorded. */
static char *answer(store *s, strbuf *sb, int rc, const char *zReason) {
  char *z = NULL;
  if (rc == 0) {
    z = strbuf_finish(sb);
    if (!z) rc = HIROBA_ENOMEM;
  }
  strbuf_free(sb);
  if (rc == HIROBA_EINVAL) fail(rc, "%s", zReason);
  else if (rc == HIROBA_ENOMEM) fail(rc, "out of memory");
  else if (rc) fail(rc, "%s", store_errmsg(s));
  else ok();
  return z;
}

char *hiroba_query(int db, const char *filter_json) {
  store *s = get_store(db);
  cJSON *root, *filters;
  if (!s || read_filters(filter_json, "query", &root, &filters)) return NULL;
  const char *zReason = "invalid: bad filter";
  strbuf sb;
  strbuf_init(&sb);
  strbuf_putc(&sb, '[');
  int rc = store_query(s, filters, -1, query_row, &sb, &zReason);
  strbuf_putc(&sb, ']');
  free_filters(root, filters);
  return answer(s, &sb, rc, zReason);
}

char *hiroba_count(int db, const char *filter_json) {
  store *s = get_store(db);
  cJSON *root, *filters;
  if (!s || read_filters(filter_json, "count", &root, &filters)) return NULL;
  const char *zReason = "invalid: bad filter";
  int64_t n = 0;
  int rc = store_count(s, filters, &n, NULL, &zReason);
  free_filters(root, filters);
  strbuf sb;
  strbuf_init(&sb);
  strbuf_puts(&sb, "{\"count\":");
  strbuf_int(&sb, n);
  strbuf_putc(&sb, '}');
  return answer(s, &sb, rc, zReason);
}

/* Export-only shims (not in hiroba.h): the sync driver's key-value store
** (state.h). A key is 1..256 bytes of printable UTF-8; a value is JSON
** text of at most 64 KiB. hiroba__state_get returns the value's JSON, or
** "null" when the key has none (caller frees); hiroba__state_set with
** value_json NULL deletes the key. */
char *hiroba__state_get(int db, const char *key);
int hiroba__state_set(int db, const char *key, const char *value_json);

/* Printable: no C0, DEL or C1 control (U+0080..U+009F, encoded C2 80..C2
** 9F), so that a key is safe to log and show. */
static int check_state_key(const char *key) {
  size_t n = key ? strlen(key) : 0;
  if (n < 1 || n > STATE_MAX_KEY || json_check_utf8(key, n)) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)key[i];
    if (c < 0x20 || c == 0x7f) return 0;
    if (c == 0xc2 && i + 1 < n && (unsigned char)key[i + 1] <= 0x9f) return 0;
  }
  return 1;
}

char *hiroba__state_get(int db, const char *key) {
  store *s = get_store(db);
  if (!s) return NULL;
  if (!check_state_key(key)) {
    fail(HIROBA_EINVAL, "a state key is 1 to %d bytes of printable UTF-8", STATE_MAX_KEY);
    return NULL;
  }
  strbuf sb;
  strbuf_init(&sb);
  int rc = state_get(s, key, &sb);
  if (rc == 1) { strbuf_puts(&sb, "null"); rc = 0; }
  return answer(s, &sb, rc, "");
}

int hiroba__state_set(int db, const char *key, const char *value_json) {
  store *s = get_store(db);
  if (!s) return HIROBA_EHANDLE;
  if (!check_state_key(key)) {
    return fail(HIROBA_EINVAL, "a state key is 1 to %d bytes of printable UTF-8", STATE_MAX_KEY);
  }
  if (value_json) {
    size_t n = strlen(value_json);
    if (n > STATE_MAX_VALUE) return fail(HIROBA_EINVAL, "a state value is at most %d bytes of JSON", STATE_MAX_VALUE);
    const char *zReason = "invalid: bad JSON";
    cJSON *v = json_parse(value_json, n, &zReason);
    if (!v) return fail(HIROBA_EINVAL, "a state value is JSON text (%s)", zReason);
    cJSON_Delete(v);
  }
  int rc = state_set(s, key, value_json);
  if (rc == HIROBA_EFULL) return fail(rc, "at most %d state keys per database", STATE_MAX_KEYS);
  if (rc) return fail(rc, "%s", store_errmsg(s));
  ok();
  return 0;
}

/* Makes (sk, pk) the database's identity, sk NULL for a public key alone
** (a signer holds the secret). The same public key as the stored one is
** fine on any database, and a secret it lacked is kept then (the user
** handed it over); a different one is taken only on a database this open
** created (`fresh`) that holds no event yet. Anything else is refused: an
** identity never changes under a user's events. 0 or a code, recorded. */
static int adopt(store *s, const unsigned char *sk, const unsigned char pk[32], int fresh) {
  unsigned char cur[32], curSk[32];
  int rc = store_get_pubkey(s, cur);
  int hasSecret = 0;
  if (rc == 0) {
    int rcSk = store_get_secret(s, curSk);
    memset(curSk, 0, sizeof curSk);
    if (rcSk < 0) rc = rcSk;
    hasSecret = rcSk == 0;
  }
  if (rc) {
    return fail(rc < 0 ? rc : HIROBA_ECORRUPT, "%s", rc < 0 ? store_errmsg(s) : "the database has no identity");
  }
  int same = memcmp(cur, pk, 32) == 0;
  if (same && (hasSecret || !sk)) {
    ok();
    return HIROBA_OK;
  }
  if (!same) {
    int64_t n = 1;
    const char *zReason = "";
    cJSON *all = cJSON_Parse("[{}]");
    if (!all) rc = HIROBA_ENOMEM;
    else rc = store_count(s, all, &n, NULL, &zReason);
    cJSON_Delete(all);
    if (rc) return fail(rc, "%s", rc == HIROBA_ENOMEM ? "out of memory" : store_errmsg(s));
    if (!fresh || n > 0) {
      return fail(HIROBA_EINVAL, "this database already has another identity (a different key); "
                  "an identity never changes: open another database for this key");
    }
  }
  rc = store_begin(s);
  if (rc == 0) rc = store_set_identity(s, sk, pk);
  if (rc == 0) rc = store_commit(s);
  if (rc) {
    store_rollback(s);
    return fail(rc, "%s", store_errmsg(s));
  }
  ok();
  return HIROBA_OK;
}

/* Export-only shim (not in hiroba.h): makes `seckey_hex` (64 hex) the
** database's identity, for openFeed({ secretKey }), by the rules of
** adopt(): the same identity anywhere (a database made for a signer then
** keeps the secret too), another only on a fresh empty database. 0 or a
** code. */
int hiroba__adopt_key(int db, const char *seckey_hex, int fresh);

int hiroba__adopt_key(int db, const char *seckey_hex, int fresh) {
  store *s = get_store(db);
  if (!s) return HIROBA_EHANDLE;
  unsigned char sk[32], pk[32];
  int rc;
  if (!seckey_hex || strlen(seckey_hex) != 64 || hex_decode(seckey_hex, sk, 32)) {
    rc = fail(HIROBA_EINVAL, "a secret key is 64 hex characters");
  } else if (crypto_pubkey(sk, pk)) {
    rc = fail(HIROBA_EINVAL, "not a valid secp256k1 secret key");
  } else {
    rc = adopt(s, sk, pk, fresh);
  }
  memset(sk, 0, sizeof sk);
  return rc;
}

/* Export-only shim (not in hiroba.h): makes `pubkey_hex` (64 hex, an
** x-only secp256k1 public key) the database's identity without a secret,
** for openFeed({ signer }): the signer (NIP-07) signs, in JavaScript,
** what hiroba__prepare gives it, and hiroba__post_signed stores it. On a
** database with this public key already (with or without its secret)
** nothing changes; another identity only by adopt()'s rules. 0 or a
** code. */
int hiroba__adopt_pubkey(int db, const char *pubkey_hex, int fresh);

int hiroba__adopt_pubkey(int db, const char *pubkey_hex, int fresh) {
  store *s = get_store(db);
  if (!s) return HIROBA_EHANDLE;
  unsigned char pk[32];
  if (!pubkey_hex || strlen(pubkey_hex) != 64 || hex_decode(pubkey_hex, pk, 32)) {
    return fail(HIROBA_EINVAL, "a public key is 64 lowercase hex characters");
  }
  if (!crypto_pubkey_valid(pk)) return fail(HIROBA_EINVAL, "not a secp256k1 public key (no point has this x)");
  return adopt(s, NULL, pk, fresh);
}

/* Export-only shim (not in hiroba.h): the local identity's secret key as
** 64 lowercase hex, for feed.exportKey (which encrypts it, NIP-49, or
** encodes it as an nsec when asked). The caller owns the returned string:
** it should overwrite it with zeros, then release it with hiroba_free.
** Written into one allocation of its final size, so no copy of the key is
** left behind in memory this function freed. NULL on failure:
** HIROBA_ENOKEY when the identity is a public key alone (a signer holds
** the secret). */
char *hiroba__secret_key(int db);

char *hiroba__secret_key(int db) {
  store *s = get_store(db);
  if (!s) return NULL;
  unsigned char sk[32], pk[32];
  const char *zWhy = NULL;
  int rc = read_keys(s, sk, pk, &zWhy);
  char *z = NULL;
  if (rc == HIROBA_ENOKEY) {
    fail(rc, "the identity's secret key is not in this database: its signer holds it");
  } else if (rc) {
    fail(rc, "cannot read the secret key: %s", zWhy ? zWhy : store_errmsg(s));
  } else if (!(z = malloc(65))) {
    fail(HIROBA_ENOMEM, "out of memory");
  } else {
    hex_encode(sk, 32, z);
    ok();
  }
  memset(sk, 0, sizeof sk);
  return z;
}

const char *hiroba_constants(void) {
#define C(name) "\"" #name "\":" "%d"
  static char z[512];
  if (!z[0]) {
    snprintf(z, sizeof z,
             "{" C(HIROBA_OK) "," C(HIROBA_EINVAL) "," C(HIROBA_ENOMEM) ","
             C(HIROBA_EIO) "," C(HIROBA_EFULL) "," C(HIROBA_ECORRUPT) ","
             C(HIROBA_EBUSY) "," C(HIROBA_EHANDLE) "," C(HIROBA_ECRYPTO) ","
             C(HIROBA_EREJECTED) "," C(HIROBA_EINTERNAL) "," C(HIROBA_ENOKEY) "}",
             HIROBA_OK, HIROBA_EINVAL, HIROBA_ENOMEM, HIROBA_EIO, HIROBA_EFULL,
             HIROBA_ECORRUPT, HIROBA_EBUSY, HIROBA_EHANDLE, HIROBA_ECRYPTO,
             HIROBA_EREJECTED, HIROBA_EINTERNAL, HIROBA_ENOKEY);
  }
#undef C
  return z;
}

/* Export-only shim (not in hiroba.h), for bench/verify.bench.js: checks
** one event, given as its JSON text, exactly as merge checks an event from
** a peer -- strict JSON, the event's shape and limits, its id, its
** BIP-340 signature -- with no database and nothing stored (so neither the
** clock rule nor mutes apply). 0 when the event is valid; otherwise
** HIROBA_EINVAL (not JSON, or not an event), HIROBA_EREJECTED (wrong id
** or bad signature) or HIROBA_ENOMEM, with hiroba_errmsg() giving the
** NIP-01 reason. */
int hiroba__verify(const char *event_json);

int hiroba__verify(const char *event_json) {
  if (!event_json) return fail(HIROBA_EINVAL, "verify needs an event");
  const char *zReason = "invalid: bad JSON";
  cJSON *root = json_parse(event_json, strlen(event_json), &zReason);
  event ev;
  int hasId = 0;
  int rc = HIROBA_OK;
  if (!root || event_from_json(&ev, root, &hasId, &zReason)) {
    rc = HIROBA_EINVAL;
  } else if (event_check_id(&ev, &zReason)) {
    rc = strncmp(zReason, "error:", 6) == 0 ? HIROBA_ENOMEM : HIROBA_EREJECTED;
  } else if (event_check_sig(&ev, &zReason)) {
    rc = HIROBA_EREJECTED;
  }
  cJSON_Delete(root);
  if (rc) return fail(rc, "%s", zReason);
  ok();
  return HIROBA_OK;
}

/* Verifying in parallel (docs/DESIGN.md, "Verifying in parallel"). A
** verifier worker -- its own instance of this module, with no database --
** checks the events of incoming frames and vouches for the valid ones; the
** engine's worker then merges the frames with those vouches and skips the
** signature checks they cover. The two shims below are that split.
**
** Export-only shim (not in hiroba.h): checks every event of nFrame frames
** given back to back in z (frame i is aLen[i] bytes; a frame that is a
** JSON array of frames counts each of them), as hiroba__verify checks one,
** and writes the id and signature (MERGE_VOUCH_SIZE bytes) of each valid
** event to pOut, which has room for nMax. Frames that do not parse and
** events that fail are skipped: the merge checks them again itself and
** says why. Returns the number written, or HIROBA_EINVAL. pOut is the
** caller's. */
int hiroba__vouch(const char *z, const uint32_t *aLen, int nFrame,
                  unsigned char *pOut, int nMax);

/* Vouches for the event of one frame when it has a valid one. */
static void vouch_frame(const cJSON *frame, unsigned char *pOut, int nMax, int *pN) {
  const cJSON *type = cJSON_GetArrayItem(frame, 0);
  if (*pN >= nMax || !cJSON_IsArray(frame) || !cJSON_IsString(type) ||
      strcmp(type->valuestring, "EVENT") != 0) {
    return;
  }
  int n = cJSON_GetArraySize(frame);
  const cJSON *obj = n == 2 ? type->next : n == 3 ? type->next->next : NULL;
  if (!cJSON_IsObject(obj)) return;
  event ev;
  int hasId = 0;
  const char *zReason = NULL;
  if (event_from_json(&ev, obj, &hasId, &zReason) || event_check_id(&ev, &zReason) ||
      event_check_sig(&ev, &zReason)) {
    return;
  }
  unsigned char *p = pOut + (size_t)*pN * MERGE_VOUCH_SIZE;
  memcpy(p, ev.id, 32);
  memcpy(p + 32, ev.sig, 64);
  (*pN)++;
}

int hiroba__vouch(const char *z, const uint32_t *aLen, int nFrame,
                  unsigned char *pOut, int nMax) {
  if (nFrame < 0 || nMax < 0 || (nFrame && (!z || !aLen)) || (nMax && !pOut)) {
    return fail(HIROBA_EINVAL, "vouch needs frames and room");
  }
  int nOut = 0;
  size_t off = 0;
  for (int i = 0; i < nFrame && nOut < nMax; i++) {
    const char *zReason = NULL;
    cJSON *root = json_parse(z + off, aLen[i], &zReason);
    off += aLen[i];
    if (root && cJSON_IsArray(root) && cJSON_IsArray(root->child)) {
      for (const cJSON *f = root->child; f; f = f->next) vouch_frame(f, pOut, nMax, &nOut);
    } else if (root) {
      vouch_frame(root, pOut, nMax, &nOut);
    }
    cJSON_Delete(root);
  }
  ok();
  return nOut;
}

/* Export-only shim (not in hiroba.h): hiroba__merge_batch with vouches --
** nVouched records of MERGE_VOUCH_SIZE bytes at pVouched (sorted in place;
** the caller's memory) whose signatures need no check -- and conn 0
** allowed (hiroba_merge's connection). nBudget 0 is 2 MiB. Only the
** engine's worker calls this, with what its own verifier workers
** returned; nothing from a page or a peer reaches it (js-glue/worker.js,
** js-glue/node.js). Caller frees. */
char *hiroba__merge_vouched(int db, int conn, const char *z, const uint32_t *aLen,
                            int nFrame, int nBudget, unsigned char *pVouched,
                            int nVouched);

char *hiroba__merge_vouched(int db, int conn, const char *z, const uint32_t *aLen,
                            int nFrame, int nBudget, unsigned char *pVouched,
                            int nVouched) {
  store *s = get_store(db);
  if (!s) return NULL;
  if (conn < 0 || nFrame < 1 || nBudget < 0 || nVouched < 0 || !z || !aLen ||
      (nVouched && !pVouched)) {
    fail(HIROBA_EINVAL, "mergeVouched needs a connection >= 0, frames and vouches");
    return NULL;
  }
  int rc = 0;
  merge_state_vouch(aMerge[db], pVouched, (size_t)nVouched);
  char *zOut = merge_batch(s, aMerge[db], conn, z, aLen, nFrame,
                           nBudget ? (size_t)nBudget : 2u << 20, now(), &rc);
  merge_state_vouch(aMerge[db], NULL, 0);
  return merged(s, zOut, rc);
}
