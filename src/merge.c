/*
** merge.c -- applying peer frames (NIP-01) to the store.
**
** A frame is parsed once, strictly (json.h), then dispatched on its type.
** Every outcome that concerns the peer -- a bad frame, a forged event, a
** bad filter -- is data in the result and a reply frame, never a failure
** of the call: only the engine's own trouble (storage, memory) fails, and
** then the transaction is rolled back so that nothing of the frame is kept.
**
** A batch (a JSON array of frames) is applied in one transaction: that is
** how the worker amortizes commits when frames arrive faster than disk
** syncs.
**
** Work per EVENT is ordered cheapest first: shape, id hash, duplicate and
** tombstone lookups, and only then the signature check, which costs more
** than everything else together.
**
** REQ is answered with the stored matches and EOSE; COUNT (NIP-45) with
** ["COUNT", sub, {"count": n}] from store_count, which counts over the
** indexes without reading events; a bad filter in either gets CLOSED.
** Relay-to-client frames (OK, EOSE, NOTICE, CLOSED, and a peer's COUNT
** answer, ["COUNT", sub, {"count": n}]) are information for the sync
** driver and never answered, so two peers cannot loop.
**
** NIP-77 frames drive the Negentropy sessions kept here (negentropy.c is
** the protocol): NEG-OPEN opens one as the responder, NEG-MSG advances
** either role, NEG-CLOSE and NEG-ERR end one. As the initiator, what each
** round teaches lands in the result's "have" (ids we hold and the peer
** lacks) and "need" (ids the peer holds and we lack, minus those we
** stored meanwhile or hold a tombstone for). Replies follow NIP-77: a
** responder always answers NEG-MSG, an initiator answers NEG-MSG while
** there is more to learn and NEG-CLOSE when done; a session we cannot
** serve ends with NEG-ERR ("blocked: ..." or "closed: ..."), and a frame
** that was malformed is also recorded in "rejected" ("invalid: ...").
** NEG-ERR and NEG-CLOSE are never answered, so two peers cannot loop.
**
** Connections. Sessions belong to the connection a frame came on (an
** integer the caller names; 0 is hiroba_merge's), keyed by subscription
** id within it as NIP-77 keys them, so no peer can reach, replace or
** close another's. Caps are per connection first: a connection that opens
** too many sessions, or too many items, loses its own oldest, never
** anyone else's; past the database-wide caps a new session is refused.
**
** Budgets. A REQ answer stops at STORE_REQ_MAX_LIMIT events per filter
** and MERGE_REQ_MAX_BYTES in all (then EOSE: the client pages with
** "until", or asks again for the ids it still lacks). A batch stops taking
** frames once its results pass the caller's byte budget, so the memory a
** call builds is bounded by that budget plus one frame's answer. An
** (id, sig) whose signature failed is remembered (refused.h) and refused
** again without verifying.
*/
#include "merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "hiroba.h"
#include "json.h"
#include "negentropy.h"
#include "refused.h"
#include "strbuf.h"

#define MAX_SUBID 64  /* NIP-01: subscription ids are at most 64 chars */

typedef struct neg_session {
  int conn;                  /* the connection it belongs to */
  char zSub[MAX_SUBID + 1];  /* subscription id, unique within conn */
  int isInitiator;           /* we opened it (merge_neg_open) */
  uint64_t iUsed;            /* last use, on the table's clock */
  neg_set set;               /* our items, sealed */
} neg_session;

struct merge_state {
  neg_session *a[NEG_MAX_SESSIONS];  /* open sessions; NULL: free slot */
  uint64_t iClock;                   /* ticks on every use */
  size_t nFrame;                     /* limit on the messages we write */
  refused_set *refused;              /* (id, sig) pairs that failed */
  /* The pre-verified path (merge_state_vouch): MERGE_VOUCH_SIZE-byte
  ** records id||sig, sorted, whose signatures the engine's own verifier
  ** workers checked; only for the duration of one merge call. */
  const unsigned char *pVouched;
  size_t nVouched;
};

typedef struct result {
  strbuf accepted;   /* "id","id",... */
  strbuf rejected;   /* {"id":..,"reason":..},... */
  strbuf replies;    /* frame,frame,... */
  strbuf have;       /* "id",...: reconciliation, we have, peer lacks */
  strbuf need;       /* "id",...: reconciliation, peer has, we lack */
  int64_t nDup;      /* duplicates seen */
  int64_t now;       /* clock for the future-timestamp rule */
  int rc;            /* first engine failure (negative), or 0 */
  int conn;          /* the connection the frames came on */
  merge_state *m;    /* sessions and refused signatures */
} result;

static void list_sep(strbuf *sb) {
  if (sb->n) strbuf_putc(sb, ',');
}

static void reply_notice(result *r, const char *zMsg) {
  list_sep(&r->replies);
  strbuf_puts(&r->replies, "[\"NOTICE\",");
  strbuf_json_string(&r->replies, zMsg, strlen(zMsg));
  strbuf_putc(&r->replies, ']');
}

/* Records a rejection. pId is the event id when one could be read. */
static void reject(result *r, const unsigned char *pId, const char *zReason) {
  list_sep(&r->rejected);
  strbuf_puts(&r->rejected, "{\"id\":");
  if (pId) {
    strbuf_putc(&r->rejected, '"');
    strbuf_hex(&r->rejected, pId, 32);
    strbuf_putc(&r->rejected, '"');
  } else {
    strbuf_puts(&r->rejected, "null");
  }
  strbuf_puts(&r->rejected, ",\"reason\":");
  strbuf_json_string(&r->rejected, zReason, strlen(zReason));
  strbuf_putc(&r->rejected, '}');
}

/* A frame that is not even a well-formed message: rejected, and the peer
** is told with a NOTICE (there is no id or subscription to answer). */
static void reject_frame(result *r, const char *zReason) {
  reject(r, NULL, zReason);
  reply_notice(r, zReason);
}

static void reply_ok(result *r, const unsigned char *id, int ok,
                     const char *zMsg) {
  list_sep(&r->replies);
  strbuf_puts(&r->replies, "[\"OK\",\"");
  strbuf_hex(&r->replies, id, 32);
  strbuf_puts(&r->replies, ok ? "\",true," : "\",false,");
  strbuf_json_string(&r->replies, zMsg, strlen(zMsg));
  strbuf_putc(&r->replies, ']');
}

static int vouch_cmp(const void *a, const void *b) {
  return memcmp(a, b, MERGE_VOUCH_SIZE);
}

/* True when (id, sig) is among the vouched records of this call. The
** record holds both: a signature is vouched for the id it was checked
** against, and the id is checked from the frame's bytes before this, so
** a vouch cannot lend itself to other content or another signature. */
static int vouched(const merge_state *t, const unsigned char id[32],
                   const unsigned char sig[64]) {
  if (!t->nVouched) return 0;
  unsigned char key[MERGE_VOUCH_SIZE];
  memcpy(key, id, 32);
  memcpy(key + 32, sig, 64);
  return bsearch(key, t->pVouched, t->nVouched, MERGE_VOUCH_SIZE, vouch_cmp) != NULL;
}

void merge_state_vouch(merge_state *t, unsigned char *p, size_t n) {
  if (p && n) qsort(p, n, MERGE_VOUCH_SIZE, vouch_cmp);
  t->pVouched = n ? p : NULL;
  t->nVouched = p ? n : 0;
}

/* Applies one event. bAnswer is set for ["EVENT", sub, ev] (an answer to
** our REQ), which gets no OK reply. */
static void merge_event(result *r, store *s, const cJSON *obj, int bAnswer) {
  event ev;
  int hasId = 0;
  const char *zReason = NULL;
  int rc = event_from_json(&ev, obj, &hasId, &zReason);
  if (rc == 0) rc = event_check_time(&ev, r->now, &zReason);
  if (rc == 0) rc = event_check_id(&ev, &zReason);
  if (rc == 0) {
    rc = store_precheck(s, &ev, &zReason);
    if (rc < 0) { r->rc = rc; return; }
    if (rc == STORE_DUPLICATE) {
      r->nDup++;
      if (!bAnswer) reply_ok(r, ev.id, 1, "duplicate: already have this event");
      return;
    }
    if (rc == STORE_OK) rc = store_admit(s, &ev, &zReason);
    if (rc < 0) { r->rc = rc; return; }
    if (rc == STORE_OK && refused_has(r->m->refused, ev.id, ev.sig)) {
      zReason = "invalid: bad signature";
      rc = STORE_REJECTED;
    } else if (rc == STORE_OK && vouched(r->m, ev.id, ev.sig)) {
      /* Verified already by the engine's own verifier (the id above was
      ** checked here, from these very bytes). */
    } else if (rc == STORE_OK && event_check_sig(&ev, &zReason)) {
      refused_add(r->m->refused, ev.id, ev.sig);
      rc = STORE_REJECTED;
    }
  }
  if (rc == 0) {
    strbuf json;
    strbuf_init(&json);
    event_to_json(&ev, &json);
    if (json.oom) { strbuf_free(&json); r->rc = HIROBA_ENOMEM; return; }
    rc = store_insert(s, &ev, json.z, json.n, &zReason);
    strbuf_free(&json);
    if (rc < 0) { r->rc = rc; return; }
  }
  if (rc == 0) {
    list_sep(&r->accepted);
    strbuf_putc(&r->accepted, '"');
    strbuf_hex(&r->accepted, ev.id, 32);
    strbuf_putc(&r->accepted, '"');
    if (!bAnswer) reply_ok(r, ev.id, 1, "");
    return;
  }
  if (rc == STORE_DUPLICATE) { r->nDup++; return; }
  reject(r, hasId ? ev.id : NULL, zReason);
  if (!bAnswer) {
    if (hasId) reply_ok(r, ev.id, 0, zReason);
    else reply_notice(r, zReason);
  }
}

/* Writes a subscription id as a JSON string, quotes included. */
static void put_subid(strbuf *sb, const cJSON *sub) {
  strbuf_json_string(sb, sub->valuestring, strlen(sub->valuestring));
}

typedef struct req_ctx {
  result *r;          /* where replies go */
  const cJSON *sub;   /* the subscription id */
  size_t nLeft;       /* bytes the answer may still take */
} req_ctx;

#define REQ_FULL 1  /* req_row: the answer reached its byte budget */

static int req_row(void *pCtx, const char *zJson, int nJson) {
  req_ctx *c = pCtx;
  strbuf *sb = &c->r->replies;
  if ((size_t)nJson + 80 > c->nLeft) return REQ_FULL;
  c->nLeft -= (size_t)nJson + 80;
  list_sep(sb);
  strbuf_puts(sb, "[\"EVENT\",");
  put_subid(sb, c->sub);
  strbuf_putc(sb, ',');
  strbuf_append(sb, zJson, (size_t)nJson);
  strbuf_putc(sb, ']');
  return sb->oom ? HIROBA_ENOMEM : 0;
}

static int valid_subid(const cJSON *sub) {
  if (!cJSON_IsString(sub)) return 0;
  size_t n = strlen(sub->valuestring);
  return n >= 1 && n <= MAX_SUBID;
}

/* The filters of a REQ or COUNT frame (the items after sub), borrowed by
** reference into a new array that store_query and store_count take (a
** non-object becomes null, which they refuse). NULL when out of memory
** (r->rc set). */
static cJSON *frame_filters(result *r, const cJSON *sub) {
  cJSON *filters = cJSON_CreateArray();
  if (!filters) { r->rc = HIROBA_ENOMEM; return NULL; }
  for (const cJSON *f = sub->next; f; f = f->next) {
    cJSON *ref = cJSON_CreateObjectReference(f->child);
    if (!cJSON_IsObject(f)) {
      cJSON_Delete(ref);
      ref = cJSON_CreateNull();
    }
    if (!ref) { cJSON_Delete(filters); r->rc = HIROBA_ENOMEM; return NULL; }
    cJSON_AddItemToArray(filters, ref);
  }
  return filters;
}

/* A bad filter: ["CLOSED", sub, zReason], and the frame rejected. */
static void reply_closed(result *r, const cJSON *sub, const char *zReason) {
  list_sep(&r->replies);
  strbuf_puts(&r->replies, "[\"CLOSED\",");
  put_subid(&r->replies, sub);
  strbuf_putc(&r->replies, ',');
  strbuf_json_string(&r->replies, zReason, strlen(zReason));
  strbuf_putc(&r->replies, ']');
  reject(r, NULL, zReason);
}

/* ["REQ", sub, filter, ...]: stored matches, then EOSE (or CLOSED). */
static void merge_req(result *r, store *s, const cJSON *frame) {
  const cJSON *sub = cJSON_GetArrayItem(frame, 1);
  if (!valid_subid(sub)) {
    reject_frame(r, "invalid: REQ needs a subscription id of 1 to 64 chars");
    return;
  }
  cJSON *filters = frame_filters(r, sub);
  if (!filters) return;
  req_ctx c = {r, sub, MERGE_REQ_MAX_BYTES};
  size_t mark = r->replies.n;
  const char *zReason = "invalid: bad filter";
  int rc = store_query(s, filters, STORE_REQ_MAX_LIMIT, req_row, &c, &zReason);
  if (rc == REQ_FULL) rc = 0;
  cJSON_Delete(filters);
  if (rc == HIROBA_EINVAL) {
    /* Drop any partial answer, then close the subscription with why. */
    r->replies.n = mark;
    if (r->replies.z) r->replies.z[mark] = 0;
    reply_closed(r, sub, zReason);
    return;
  }
  if (rc < 0) { r->rc = rc; return; }
  list_sep(&r->replies);
  strbuf_puts(&r->replies, "[\"EOSE\",");
  put_subid(&r->replies, sub);
  strbuf_putc(&r->replies, ']');
}

/* 1 when a COUNT frame is a peer's answer, ["COUNT", sub, {"count": n}]:
** three items, the last an object holding only a non-negative integer
** "count". No filter looks like that ("count" is not a filter field), so
** an answer is never taken for a question. */
static int is_count_answer(const cJSON *frame, int n) {
  const cJSON *o = cJSON_GetArrayItem(frame, 2);
  long long v;
  return n == 3 && cJSON_IsObject(o) && o->child && !o->child->next &&
         strcmp(o->child->string, "count") == 0 &&
         json_get_int(o->child, 0, 9007199254740991LL, &v) == 0;
}

/* ["COUNT", sub, filter, ...] (NIP-45): ["COUNT", sub, {"count": n}], or
** CLOSED for a bad filter as REQ has. */
static void merge_count(result *r, store *s, const cJSON *frame) {
  const cJSON *sub = cJSON_GetArrayItem(frame, 1);
  if (!valid_subid(sub)) {
    reject_frame(r, "invalid: COUNT needs a subscription id of 1 to 64 chars");
    return;
  }
  cJSON *filters = frame_filters(r, sub);
  if (!filters) return;
  const char *zReason = "invalid: bad filter";
  int64_t nCount = 0;
  int rc = store_count(s, filters, &nCount, NULL, &zReason);
  cJSON_Delete(filters);
  if (rc == HIROBA_EINVAL) { reply_closed(r, sub, zReason); return; }
  if (rc < 0) { r->rc = rc; return; }
  list_sep(&r->replies);
  strbuf_puts(&r->replies, "[\"COUNT\",");
  put_subid(&r->replies, sub);
  strbuf_puts(&r->replies, ",{\"count\":");
  strbuf_int(&r->replies, nCount);
  strbuf_puts(&r->replies, "}]");
}

/* --- NIP-77 sessions ------------------------------------------------------- */

merge_state *merge_state_new(void) {
  merge_state *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->nFrame = NEG_FRAME_DEFAULT;
  t->refused = refused_new();
  if (!t->refused) { free(t); return NULL; }
  return t;
}

static void session_drop(merge_state *t, int i) {
  neg_set_free(&t->a[i]->set);
  free(t->a[i]);
  t->a[i] = NULL;
}

void merge_state_free(merge_state *t) {
  if (!t) return;
  for (int i = 0; i < NEG_MAX_SESSIONS; i++) {
    if (t->a[i]) session_drop(t, i);
  }
  refused_free(t->refused);
  free(t);
}

void merge_conn_close(merge_state *t, int conn) {
  for (int i = 0; i < NEG_MAX_SESSIONS; i++) {
    if (t->a[i] && t->a[i]->conn == conn) session_drop(t, i);
  }
}

int merge_state_set_frame(merge_state *t, size_t nFrame) {
  if (nFrame == 0) nFrame = NEG_FRAME_DEFAULT;
  if (nFrame < NEG_FRAME_MIN || nFrame > NEG_FRAME_DEFAULT) return HIROBA_EINVAL;
  t->nFrame = nFrame;
  return 0;
}

/* The slot of connection conn's session named zSub, or -1. */
static int session_find(merge_state *t, int conn, const char *zSub) {
  for (int i = 0; i < NEG_MAX_SESSIONS; i++) {
    if (t->a[i] && t->a[i]->conn == conn && strcmp(t->a[i]->zSub, zSub) == 0) return i;
  }
  return -1;
}

#define SESSION_REFUSED 2 /* session_add: the database-wide caps are reached */

static const char *kBusy =
  "too many reconciliations in progress: try again later";

/* Adds a session of connection conn, taking over *set (left empty):
** closes the one with the same id, then that connection's least recently
** used ones until its caps hold. 0; SESSION_REFUSED (set freed) when the
** database-wide caps would not hold; or HIROBA_ENOMEM (set freed). */
static int session_add(merge_state *t, int conn, const char *zSub,
                       int isInitiator, neg_set *set) {
  int i = session_find(t, conn, zSub);
  if (i >= 0) session_drop(t, i);
  for (;;) {
    size_t nMine = set->nItem;
    int nOpen = 0, iOld = -1;
    for (int j = 0; j < NEG_MAX_SESSIONS; j++) {
      if (!t->a[j] || t->a[j]->conn != conn) continue;
      nOpen++;
      nMine += t->a[j]->set.nItem;
      if (iOld < 0 || t->a[j]->iUsed < t->a[iOld]->iUsed) iOld = j;
    }
    if (iOld < 0 || (nOpen < NEG_MAX_CONN_SESSIONS && nMine <= NEG_MAX_ITEMS)) break;
    session_drop(t, iOld);
  }
  size_t nTotal = set->nItem;
  int iFree = -1;
  for (int j = 0; j < NEG_MAX_SESSIONS; j++) {
    if (t->a[j]) nTotal += t->a[j]->set.nItem;
    else if (iFree < 0) iFree = j;
  }
  if (iFree < 0 || nTotal > NEG_MAX_TOTAL_ITEMS) {
    neg_set_free(set);
    return SESSION_REFUSED;
  }
  neg_session *p = calloc(1, sizeof *p);
  if (!p) { neg_set_free(set); return HIROBA_ENOMEM; }
  p->conn = conn;
  snprintf(p->zSub, sizeof p->zSub, "%s", zSub);
  p->isInitiator = isInitiator;
  p->iUsed = ++t->iClock;
  p->set = *set;
  neg_set_init(set);
  t->a[iFree] = p;
  return 0;
}

#define NEG_TOO_MANY 1 /* load_items: the filter matches too many events */

static int load_item(void *pCtx, int64_t createdAt, const unsigned char *id) {
  neg_set *set = pCtx;
  if (set->nItem >= NEG_MAX_ITEMS) return NEG_TOO_MANY;
  if (createdAt < 0) return HIROBA_ECORRUPT; /* stored events have >= 0 */
  return neg_set_add(set, (uint64_t)createdAt, id);
}

/* Loads and seals the items of one filter object: 0, HIROBA_EINVAL with
** *pzReason, NEG_TOO_MANY, or an engine failure. The set is freed unless
** 0 is returned. */
static int load_items(store *s, const cJSON *filter, neg_set *set,
                      const char **pzReason) {
  neg_set_init(set);
  int rc = store_neg_items(s, filter, load_item, set, pzReason);
  if (rc == 0) {
    const char *zWhy;
    rc = neg_set_seal(set, &zWhy);
    if (rc == HIROBA_EINVAL) rc = HIROBA_EINTERNAL; /* ids are unique */
  }
  if (rc) neg_set_free(set);
  return rc;
}

static const char *kTooMany =
  "blocked: too many events to reconcile (more than 500000): use a narrower filter";
_Static_assert(NEG_MAX_ITEMS == 500000, "kTooMany names NEG_MAX_ITEMS");

/* Appends ["NEG-ERR", sub, zPrefix zWhy] to the replies. */
static void reply_neg_err(result *r, const cJSON *sub, const char *zPrefix,
                          const char *zWhy) {
  strbuf z;
  strbuf_init(&z);
  strbuf_puts(&z, zPrefix);
  strbuf_puts(&z, zWhy);
  list_sep(&r->replies);
  strbuf_puts(&r->replies, "[\"NEG-ERR\",");
  put_subid(&r->replies, sub);
  strbuf_putc(&r->replies, ',');
  strbuf_json_string(&r->replies, z.z ? z.z : "", z.n);
  strbuf_putc(&r->replies, ']');
  if (z.oom) r->rc = HIROBA_ENOMEM;
  strbuf_free(&z);
}

/* A malformed negentropy message from the peer: the frame is rejected
** ("invalid: bad negentropy message: why") and the session ends, with
** NEG-ERR when we serve it, or NEG-CLOSE when it is ours. */
static void neg_bad_message(result *r, const cJSON *sub, int isInitiator,
                            const char *zWhy) {
  strbuf z;
  strbuf_init(&z);
  strbuf_puts(&z, "invalid: bad negentropy message: ");
  strbuf_puts(&z, zWhy);
  reject(r, NULL, z.z ? z.z : "invalid: bad negentropy message");
  strbuf_free(&z);
  if (isInitiator) {
    list_sep(&r->replies);
    strbuf_puts(&r->replies, "[\"NEG-CLOSE\",");
    put_subid(&r->replies, sub);
    strbuf_putc(&r->replies, ']');
  } else {
    reply_neg_err(r, sub, "closed: bad negentropy message: ", zWhy);
  }
}

/* Appends a NEG-MSG reply carrying msg as hex. */
static void reply_neg_msg(result *r, const cJSON *sub, const strbuf *msg) {
  list_sep(&r->replies);
  strbuf_puts(&r->replies, "[\"NEG-MSG\",");
  put_subid(&r->replies, sub);
  strbuf_puts(&r->replies, ",\"");
  strbuf_hex(&r->replies, (const unsigned char *)msg->z, msg->n);
  strbuf_puts(&r->replies, "\"]");
}

/* Appends 32-byte ids as JSON hex strings to a list. */
static void put_ids(strbuf *list, const strbuf *ids) {
  for (size_t i = 0; i + 32 <= ids->n; i += 32) {
    list_sep(list);
    strbuf_putc(list, '"');
    strbuf_hex(list, (const unsigned char *)ids->z + i, 32);
    strbuf_putc(list, '"');
  }
}

/* Decodes a hex message string; 0, or HIROBA_EINVAL with *pzWhy, or
** HIROBA_ENOMEM (r->rc set). */
static int neg_decode(result *r, const cJSON *hex, unsigned char **pMsg,
                      size_t *pn, const char **pzWhy) {
  int rc = neg_hex_decode(hex->valuestring, strlen(hex->valuestring), pMsg, pn, pzWhy);
  if (rc == HIROBA_ENOMEM) r->rc = rc;
  return rc;
}

/* ["NEG-OPEN", sub, filter, hex]: a peer opens a session that we serve. */
static void merge_neg_open_frame(result *r, store *s, const cJSON *frame, int n) {
  merge_state *t = r->m;
  const cJSON *sub = cJSON_GetArrayItem(frame, 1);
  const cJSON *filter = cJSON_GetArrayItem(frame, 2);
  const cJSON *hex = cJSON_GetArrayItem(frame, 3);
  if (!valid_subid(sub)) {
    reject_frame(r, "invalid: NEG-OPEN needs a subscription id of 1 to 64 chars");
    return;
  }
  /* NIP-77: a NEG-OPEN for an open id closes that session first. */
  int i = session_find(t, r->conn, sub->valuestring);
  if (i >= 0) session_drop(t, i);
  if (n != 4 || !cJSON_IsString(hex)) {
    reject(r, NULL, "invalid: NEG-OPEN takes a subscription id, a filter and a hex message");
    reply_neg_err(r, sub, "closed: ", "NEG-OPEN takes a subscription id, a filter and a hex message");
    return;
  }
  if (!cJSON_IsObject(filter)) {
    reject(r, NULL, "invalid: a filter must be an object");
    reply_neg_err(r, sub, "blocked: bad filter: ", "a filter must be an object");
    return;
  }
  unsigned char *msg = NULL;
  size_t nMsg = 0;
  const char *zWhy = "bad message";
  int rc = neg_decode(r, hex, &msg, &nMsg, &zWhy);
  if (rc == HIROBA_EINVAL) neg_bad_message(r, sub, 0, zWhy);
  if (rc) return;

  neg_set set;
  const char *zReason = "invalid: bad filter";
  rc = load_items(s, filter, &set, &zReason);
  if (rc == HIROBA_EINVAL) {
    reject(r, NULL, zReason);
    if (strncmp(zReason, "invalid: ", 9) == 0) zReason += 9;
    reply_neg_err(r, sub, "blocked: bad filter: ", zReason);
  } else if (rc == NEG_TOO_MANY) {
    reply_neg_err(r, sub, kTooMany, "");
  } else if (rc) {
    r->rc = rc;
  }
  if (rc) { free(msg); return; }

  strbuf out;
  strbuf_init(&out);
  rc = neg_reconcile(&set, 0, t->nFrame, msg, nMsg, &out, NULL, NULL, &zWhy);
  free(msg);
  if (rc == 0) rc = session_add(t, r->conn, sub->valuestring, 0, &set);
  else neg_set_free(&set);
  if (rc == HIROBA_EINVAL) neg_bad_message(r, sub, 0, zWhy);
  else if (rc == SESSION_REFUSED) reply_neg_err(r, sub, "blocked: ", kBusy);
  else if (rc) r->rc = rc;
  else reply_neg_msg(r, sub, &out);
  strbuf_free(&out);
}

/* Adds the need ids that are still worth fetching to the result. */
static int add_need(result *r, store *s, const strbuf *need) {
  for (size_t i = 0; i + 32 <= need->n; i += 32) {
    const unsigned char *id = (const unsigned char *)need->z + i;
    int rc = store_unwanted(s, id);
    if (rc < 0) return rc;
    if (rc) continue;
    list_sep(&r->need);
    strbuf_putc(&r->need, '"');
    strbuf_hex(&r->need, id, 32);
    strbuf_putc(&r->need, '"');
  }
  return 0;
}

/* ["NEG-MSG", sub, hex]: the next round of a session, in either role. */
static void merge_neg_msg_frame(result *r, store *s, const cJSON *frame, int n) {
  merge_state *t = r->m;
  const cJSON *sub = cJSON_GetArrayItem(frame, 1);
  const cJSON *hex = cJSON_GetArrayItem(frame, 2);
  if (!valid_subid(sub)) {
    reject_frame(r, "invalid: NEG-MSG needs a subscription id of 1 to 64 chars");
    return;
  }
  int i = session_find(t, r->conn, sub->valuestring);
  if (i < 0) {
    reply_neg_err(r, sub, "closed: unknown subscription", "");
    return;
  }
  neg_session *p = t->a[i];
  int isInitiator = p->isInitiator;
  p->iUsed = ++t->iClock;
  const char *zWhy = "NEG-MSG takes a subscription id and a hex message";
  unsigned char *msg = NULL;
  size_t nMsg = 0;
  int rc = n == 3 && cJSON_IsString(hex) ? neg_decode(r, hex, &msg, &nMsg, &zWhy)
                                         : HIROBA_EINVAL;
  strbuf out, have, need;
  strbuf_init(&out);
  strbuf_init(&have);
  strbuf_init(&need);
  if (rc == 0) {
    rc = neg_reconcile(&p->set, isInitiator, t->nFrame, msg, nMsg, &out,
                       &have, &need, &zWhy);
  }
  free(msg);
  if (rc == HIROBA_EINVAL) {
    session_drop(t, i);
    neg_bad_message(r, sub, isInitiator, zWhy);
  } else if (rc) {
    r->rc = rc;
  } else if (!isInitiator) {
    reply_neg_msg(r, sub, &out);
  } else {
    put_ids(&r->have, &have);
    rc = add_need(r, s, &need);
    if (rc) r->rc = rc;
    if (out.n == 1) {
      /* Nothing left to reconcile. */
      session_drop(t, i);
      list_sep(&r->replies);
      strbuf_puts(&r->replies, "[\"NEG-CLOSE\",");
      put_subid(&r->replies, sub);
      strbuf_putc(&r->replies, ']');
    } else {
      reply_neg_msg(r, sub, &out);
    }
  }
  if (out.oom || have.oom || need.oom) r->rc = HIROBA_ENOMEM;
  strbuf_free(&out);
  strbuf_free(&have);
  strbuf_free(&need);
}

/* ["NEG-ERR", sub, reason]: the peer ended a session. Ours (initiator)
** ends with the peer's reason in "rejected"; a malformed NEG-ERR, or one
** for no session of ours, is ignored like any other answer. */
static void merge_neg_err_frame(result *r, const cJSON *frame, int n) {
  merge_state *t = r->m;
  const cJSON *sub = cJSON_GetArrayItem(frame, 1);
  const cJSON *why = cJSON_GetArrayItem(frame, 2);
  if (n != 3 || !valid_subid(sub) || !cJSON_IsString(why)) return;
  int i = session_find(t, r->conn, sub->valuestring);
  if (i < 0) return;
  if (t->a[i]->isInitiator) reject(r, NULL, why->valuestring);
  session_drop(t, i);
}

char *merge_neg_open(store *s, merge_state *t, int conn, const char *zSub,
                     const char *zFilter, size_t nFilter, int *pRc,
                     const char **pzReason) {
  size_t nSub = zSub ? strlen(zSub) : 0;
  *pRc = HIROBA_EINVAL;
  if (nSub < 1 || nSub > MAX_SUBID || json_check_utf8(zSub, nSub)) {
    *pzReason = "invalid: a subscription id is 1 to 64 chars of UTF-8";
    return NULL;
  }
  cJSON *filter = json_parse(zFilter, nFilter, pzReason);
  if (!filter) return NULL;
  if (!cJSON_IsObject(filter)) {
    cJSON_Delete(filter);
    *pzReason = "invalid: a filter must be an object";
    return NULL;
  }
  neg_set set;
  int rc = load_items(s, filter, &set, pzReason);
  cJSON_Delete(filter);
  if (rc == NEG_TOO_MANY) {
    *pzReason = kTooMany;
    rc = HIROBA_EINVAL;
  }
  if (rc) { *pRc = rc; return NULL; }

  strbuf msg, frame;
  strbuf_init(&msg);
  strbuf_init(&frame);
  rc = neg_initiate(&set, t->nFrame, &msg);
  if (rc == 0) rc = session_add(t, conn, zSub, 1, &set);
  else neg_set_free(&set);
  if (rc == SESSION_REFUSED) {
    *pzReason = "blocked: too many reconciliations in progress: try again later";
    rc = HIROBA_EINVAL;
  }
  if (rc == 0) {
    strbuf_puts(&frame, "[\"NEG-OPEN\",");
    strbuf_json_string(&frame, zSub, nSub);
    strbuf_putc(&frame, ',');
    strbuf_append(&frame, zFilter, nFilter);  /* checked JSON, as given */
    strbuf_puts(&frame, ",\"");
    strbuf_hex(&frame, (const unsigned char *)msg.z, msg.n);
    strbuf_puts(&frame, "\"]");
  }
  strbuf_free(&msg);
  char *z = rc ? NULL : strbuf_finish(&frame);
  strbuf_free(&frame);
  if (rc == 0 && !z) rc = HIROBA_ENOMEM;
  *pRc = rc;
  return z;
}

char *merge_neg_test_session(merge_state *t, const char *zSub,
                             const unsigned char *pItems, size_t nItems,
                             int isInitiator, int *pRc, const char **pzReason) {
  size_t nSub = zSub ? strlen(zSub) : 0;
  *pRc = HIROBA_EINVAL;
  if (nSub < 1 || nSub > MAX_SUBID) {
    *pzReason = "invalid: a subscription id is 1 to 64 chars";
    return NULL;
  }
  if (nItems > NEG_MAX_ITEMS || (nItems && !pItems)) {
    *pzReason = "invalid: too many items";
    return NULL;
  }
  neg_set set;
  neg_set_init(&set);
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < nItems; i++) {
    const unsigned char *p = pItems + 40 * i;
    uint64_t ts = 0;
    for (int j = 7; j >= 0; j--) ts = ts << 8 | p[j];
    rc = neg_set_add(&set, ts, p + 8);
    if (rc == HIROBA_EINVAL) *pzReason = "invalid: a timestamp is the reserved infinity";
  }
  if (rc == 0) {
    rc = neg_set_seal(&set, pzReason);
  }
  strbuf msg;
  strbuf_init(&msg);
  if (rc == 0 && isInitiator) rc = neg_initiate(&set, t->nFrame, &msg);
  if (rc == 0) rc = session_add(t, 0, zSub, isInitiator, &set);
  else neg_set_free(&set);
  if (rc == SESSION_REFUSED) {
    *pzReason = "blocked: too many reconciliations in progress";
    rc = HIROBA_EINVAL;
  }
  strbuf hex;
  strbuf_init(&hex);
  if (rc == 0) strbuf_hex(&hex, (const unsigned char *)(msg.z ? msg.z : ""), msg.n);
  strbuf_free(&msg);
  char *z = rc ? NULL : strbuf_finish(&hex);
  strbuf_free(&hex);
  if (rc == 0 && !z) rc = HIROBA_ENOMEM;
  *pRc = rc;
  return z;
}

/* Dispatches one frame (already parsed) on its type. */
static void merge_frame(result *r, store *s, const cJSON *frame) {
  const cJSON *type = cJSON_GetArrayItem(frame, 0);
  int n = cJSON_GetArraySize(frame);
  if (!cJSON_IsArray(frame) || !cJSON_IsString(type)) {
    reject_frame(r, "invalid: a frame is a JSON array starting with its type");
    return;
  }
  const char *zType = type->valuestring;
  if (strcmp(zType, "EVENT") == 0) {
    if (n == 2 && cJSON_IsObject(type->next)) {
      merge_event(r, s, type->next, 0);
    } else if (n == 3 && valid_subid(type->next) &&
               cJSON_IsObject(type->next->next)) {
      merge_event(r, s, type->next->next, 1);
    } else {
      reject_frame(r, "invalid: EVENT takes an event object");
    }
  } else if (strcmp(zType, "REQ") == 0) {
    if (n < 3) reject_frame(r, "invalid: REQ takes a subscription id and filters");
    else merge_req(r, s, frame);
  } else if (strcmp(zType, "COUNT") == 0) {
    if (is_count_answer(frame, n)) {
      /* A peer's answer to a COUNT: information, like EOSE. */
    } else if (n < 3) {
      reject_frame(r, "invalid: COUNT takes a subscription id and filters");
    } else {
      merge_count(r, s, frame);
    }
  } else if (strcmp(zType, "CLOSE") == 0) {
    /* Stored answers are complete when sent; live subscriptions are the
    ** sync driver's, so there is nothing to close here. */
    if (n != 2 || !valid_subid(type->next)) {
      reject_frame(r, "invalid: CLOSE takes a subscription id");
    }
  } else if (strcmp(zType, "OK") == 0 || strcmp(zType, "EOSE") == 0 ||
             strcmp(zType, "NOTICE") == 0 || strcmp(zType, "CLOSED") == 0) {
    /* Relay-to-client messages: information for the sync driver, nothing
    ** for the store. Never answered, so two peers cannot loop. */
  } else if (strcmp(zType, "NEG-OPEN") == 0) {
    merge_neg_open_frame(r, s, frame, n);
  } else if (strcmp(zType, "NEG-MSG") == 0) {
    merge_neg_msg_frame(r, s, frame, n);
  } else if (strcmp(zType, "NEG-CLOSE") == 0) {
    if (n != 2 || !valid_subid(type->next)) {
      reject_frame(r, "invalid: NEG-CLOSE takes a subscription id");
    } else {
      int i = session_find(r->m, r->conn, type->next->valuestring);
      if (i >= 0) session_drop(r->m, i);
    }
  } else if (strcmp(zType, "NEG-ERR") == 0) {
    merge_neg_err_frame(r, frame, n);
  } else {
    reject_frame(r, "invalid: unknown frame type");
  }
}

/* Appends the result object of r to out. */
static void finish_into(const result *r, strbuf *out) {
  strbuf_puts(out, "{\"accepted\":[");
  strbuf_append(out, r->accepted.z ? r->accepted.z : "", r->accepted.n);
  strbuf_puts(out, "],\"duplicates\":");
  strbuf_int(out, r->nDup);
  strbuf_puts(out, ",\"rejected\":[");
  strbuf_append(out, r->rejected.z ? r->rejected.z : "", r->rejected.n);
  strbuf_puts(out, "],\"replies\":[");
  strbuf_append(out, r->replies.z ? r->replies.z : "", r->replies.n);
  strbuf_puts(out, "],\"have\":[");
  strbuf_append(out, r->have.z ? r->have.z : "", r->have.n);
  strbuf_puts(out, "],\"need\":[");
  strbuf_append(out, r->need.z ? r->need.z : "", r->need.n);
  strbuf_puts(out, "]}");
}

static int result_oom(const result *r) {
  return r->accepted.oom || r->rejected.oom || r->replies.oom ||
         r->have.oom || r->need.oom;
}

static void result_free(result *r) {
  strbuf_free(&r->accepted);
  strbuf_free(&r->rejected);
  strbuf_free(&r->replies);
  strbuf_free(&r->have);
  strbuf_free(&r->need);
}

static void result_init(result *r, merge_state *t, int conn, int64_t now) {
  memset(r, 0, sizeof *r);
  r->now = now;
  r->conn = conn;
  r->m = t;
}

/* Applies one parsed frame (NULL: it did not parse, for zReason). */
static void merge_root(result *r, store *s, const cJSON *root, const char *zReason) {
  if (!root) {
    reject_frame(r, zReason);
  } else if (cJSON_IsArray(root) && cJSON_IsArray(root->child)) {
    reject_frame(r, "invalid: batches do not nest");
  } else {
    merge_frame(r, s, root);
  }
}

/* Ends the transaction of a merge whose output *pzOut was built: keeps
** the size budget, then commits; on any failure rolls back and frees
** *pzOut. Returns the code. */
static int merge_end(store *s, int rc, char **pzOut) {
  int64_t nEvicted = 0;
  if (rc == 0 && !*pzOut) rc = HIROBA_ENOMEM;
  if (rc == 0) rc = store_enforce_budget(s, &nEvicted);
  if (rc == 0) rc = store_commit(s);
  if (rc) {
    store_rollback(s);
    free(*pzOut);
    *pzOut = NULL;
  }
  return rc;
}

char *merge_apply(store *s, merge_state *t, int conn, const char *z, size_t n,
                  int64_t now, int *pRc) {
  result r;
  result_init(&r, t, conn, now);
  const char *zReason = "invalid: bad JSON";
  cJSON *root = json_parse(z, n, &zReason);
  r.rc = store_begin(s);
  if (r.rc == 0 && root && cJSON_IsArray(root) && cJSON_IsArray(root->child)) {
    /* A batch: every element a frame, all in one transaction. */
    for (const cJSON *f = root->child; f && r.rc == 0; f = f->next) {
      merge_root(&r, s, f, zReason);
    }
  } else if (r.rc == 0) {
    merge_root(&r, s, root, zReason);
  }
  cJSON_Delete(root);
  /* The result is built before the commit, so that when this returns
  ** NULL nothing of the frame was stored. */
  char *zOut = NULL;
  if (r.rc == 0) {
    strbuf out;
    strbuf_init(&out);
    finish_into(&r, &out);
    zOut = strbuf_finish(&out);
    strbuf_free(&out);
    if (zOut && result_oom(&r)) r.rc = HIROBA_ENOMEM;
  }
  r.rc = merge_end(s, r.rc, &zOut);
  result_free(&r);
  *pRc = r.rc;
  return zOut;
}

char *merge_batch(store *s, merge_state *t, int conn, const char *z,
                  const uint32_t *aLen, int nFrame, size_t nBudget,
                  int64_t now, int *pRc) {
  strbuf out;
  strbuf_init(&out);
  strbuf_putc(&out, '[');
  int rc = store_begin(s);
  size_t off = 0;
  for (int i = 0; rc == 0 && i < nFrame; i++) {
    /* Past the budget the rest waits for the next call (at least one
    ** frame always goes, so every call makes progress). */
    if (i > 0 && out.n >= nBudget) break;
    result r;
    result_init(&r, t, conn, now);
    const char *zReason = "invalid: bad JSON";
    cJSON *root = json_parse(z + off, aLen[i], &zReason);
    off += aLen[i];
    merge_root(&r, s, root, zReason);
    cJSON_Delete(root);
    rc = r.rc;
    if (rc == 0 && result_oom(&r)) rc = HIROBA_ENOMEM;
    if (rc == 0) {
      if (i) strbuf_putc(&out, ',');
      finish_into(&r, &out);
    }
    result_free(&r);
  }
  strbuf_putc(&out, ']');
  char *zOut = rc == 0 ? strbuf_finish(&out) : NULL;
  strbuf_free(&out);
  rc = merge_end(s, rc, &zOut);
  *pRc = rc;
  return zOut;
}
