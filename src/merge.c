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
*/
#include "merge.h"

#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "hiroba.h"
#include "json.h"
#include "strbuf.h"

#define MAX_SUBID 64  /* NIP-01: subscription ids are at most 64 chars */

typedef struct result {
  strbuf accepted;   /* "id","id",... */
  strbuf rejected;   /* {"id":..,"reason":..},... */
  strbuf replies;    /* frame,frame,... */
  int64_t nDup;      /* duplicates seen */
  int64_t now;       /* clock for the future-timestamp rule */
  int rc;            /* first engine failure (negative), or 0 */
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
    if (rc == STORE_OK) rc = event_check_sig(&ev, &zReason);
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
} req_ctx;

static int req_row(void *pCtx, const char *zJson, int nJson) {
  req_ctx *c = pCtx;
  strbuf *sb = &c->r->replies;
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

/* ["REQ", sub, filter, ...]: stored matches, then EOSE (or CLOSED). */
static void merge_req(result *r, store *s, const cJSON *frame) {
  const cJSON *sub = cJSON_GetArrayItem(frame, 1);
  if (!valid_subid(sub)) {
    reject_frame(r, "invalid: REQ needs a subscription id of 1 to 64 chars");
    return;
  }
  cJSON *filters = cJSON_CreateArray();
  if (!filters) { r->rc = HIROBA_ENOMEM; return; }
  /* The filters are borrowed into a temporary array by reference. */
  for (const cJSON *f = sub->next; f; f = f->next) {
    cJSON *ref = cJSON_CreateObjectReference(f->child);
    if (!cJSON_IsObject(f)) {
      cJSON_Delete(ref);
      ref = cJSON_CreateNull();
    }
    if (!ref) { cJSON_Delete(filters); r->rc = HIROBA_ENOMEM; return; }
    cJSON_AddItemToArray(filters, ref);
  }
  req_ctx c = {r, sub};
  size_t mark = r->replies.n;
  const char *zReason = "invalid: bad filter";
  int rc = store_query(s, filters, STORE_REQ_MAX_LIMIT, req_row, &c, &zReason);
  cJSON_Delete(filters);
  if (rc == HIROBA_EINVAL) {
    /* Drop any partial answer, then close the subscription with why. */
    r->replies.n = mark;
    if (r->replies.z) r->replies.z[mark] = 0;
    list_sep(&r->replies);
    strbuf_puts(&r->replies, "[\"CLOSED\",");
    put_subid(&r->replies, sub);
    strbuf_putc(&r->replies, ',');
    strbuf_json_string(&r->replies, zReason, strlen(zReason));
    strbuf_putc(&r->replies, ']');
    reject(r, NULL, zReason);
    return;
  }
  if (rc < 0) { r->rc = rc; return; }
  list_sep(&r->replies);
  strbuf_puts(&r->replies, "[\"EOSE\",");
  put_subid(&r->replies, sub);
  strbuf_putc(&r->replies, ']');
}

/* Dispatches one frame (already parsed) on its type. */
static void merge_frame(result *r, store *s, const cJSON *frame) {
  const cJSON *type = cJSON_GetArrayItem(frame, 0);
  int n = cJSON_GetArraySize(frame);
  if (!cJSON_IsArray(frame) || !cJSON_IsString(type)) {
    reject_frame(r, "invalid: a frame is a JSON array starting with its type");
    return;
  }
  const char *t = type->valuestring;
  if (strcmp(t, "EVENT") == 0) {
    if (n == 2 && cJSON_IsObject(type->next)) {
      merge_event(r, s, type->next, 0);
    } else if (n == 3 && valid_subid(type->next) &&
               cJSON_IsObject(type->next->next)) {
      merge_event(r, s, type->next->next, 1);
    } else {
      reject_frame(r, "invalid: EVENT takes an event object");
    }
  } else if (strcmp(t, "REQ") == 0) {
    if (n < 3) reject_frame(r, "invalid: REQ takes a subscription id and filters");
    else merge_req(r, s, frame);
  } else if (strcmp(t, "CLOSE") == 0) {
    /* Stored answers are complete when sent; live subscriptions are the
    ** sync driver's, so there is nothing to close here. */
    if (n != 2 || !valid_subid(type->next)) {
      reject_frame(r, "invalid: CLOSE takes a subscription id");
    }
  } else if (strcmp(t, "OK") == 0 || strcmp(t, "EOSE") == 0 ||
             strcmp(t, "NOTICE") == 0 || strcmp(t, "CLOSED") == 0) {
    /* Relay-to-client messages: information for the sync driver, nothing
    ** for the store. Never answered, so two peers cannot loop. */
  } else if (strcmp(t, "NEG-OPEN") == 0 || strcmp(t, "NEG-MSG") == 0) {
    /* NIP-77 reconciliation comes with the sync issue; until then every
    ** attempt is ended the way NIP-77 ends a session it cannot serve. */
    const cJSON *sub = type->next;
    if (!valid_subid(sub)) {
      reject_frame(r, "invalid: NEG frames take a subscription id");
      return;
    }
    list_sep(&r->replies);
    strbuf_puts(&r->replies, "[\"NEG-ERR\",");
    put_subid(&r->replies, sub);
    strbuf_puts(&r->replies, ",\"closed: negentropy is not supported yet\"]");
  } else if (strcmp(t, "NEG-CLOSE") == 0 || strcmp(t, "NEG-ERR") == 0) {
    /* Nothing is open, so nothing to close; never answered. */
  } else {
    reject_frame(r, "invalid: unknown frame type");
  }
}

static char *finish(result *r) {
  strbuf out;
  strbuf_init(&out);
  strbuf_puts(&out, "{\"accepted\":[");
  strbuf_append(&out, r->accepted.z ? r->accepted.z : "", r->accepted.n);
  strbuf_puts(&out, "],\"duplicates\":");
  strbuf_int(&out, r->nDup);
  strbuf_puts(&out, ",\"rejected\":[");
  strbuf_append(&out, r->rejected.z ? r->rejected.z : "", r->rejected.n);
  strbuf_puts(&out, "],\"replies\":[");
  strbuf_append(&out, r->replies.z ? r->replies.z : "", r->replies.n);
  strbuf_puts(&out, "]}");
  return strbuf_finish(&out);
}

static void result_free(result *r) {
  strbuf_free(&r->accepted);
  strbuf_free(&r->rejected);
  strbuf_free(&r->replies);
}

char *merge_apply(store *s, const char *z, size_t n, int64_t now, int *pRc) {
  result r;
  memset(&r, 0, sizeof r);
  r.now = now;
  const char *zReason = "invalid: bad JSON";
  cJSON *root = json_parse(z, n, &zReason);
  r.rc = store_begin(s);
  if (r.rc == 0 && !root) {
    reject_frame(&r, zReason);
  } else if (r.rc == 0 && cJSON_IsArray(root) && cJSON_IsArray(root->child)) {
    /* A batch: every element a frame, all in one transaction. */
    for (const cJSON *f = root->child; f && r.rc == 0; f = f->next) {
      if (cJSON_IsArray(f) && cJSON_IsArray(f->child)) {
        reject_frame(&r, "invalid: batches do not nest");
      } else {
        merge_frame(&r, s, f);
      }
    }
  } else if (r.rc == 0) {
    merge_frame(&r, s, root);
  }
  cJSON_Delete(root);
  /* The result is built before the commit, so that when this returns
  ** NULL nothing of the frame was stored. */
  char *zOut = NULL;
  if (r.rc == 0) {
    zOut = finish(&r);
    if (!zOut || r.accepted.oom || r.rejected.oom || r.replies.oom) {
      r.rc = HIROBA_ENOMEM;
    }
  }
  if (r.rc == 0) r.rc = store_commit(s);
  if (r.rc) {
    store_rollback(s);
    free(zOut);
    zOut = NULL;
  }
  result_free(&r);
  *pRc = r.rc;
  return zOut;
}
