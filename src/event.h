/*
** event.h -- NIP-01 events: reading, canonical serialization, id, BIP-340
** signing and verification, and the limits of DESIGN §2.
**
** An `event` borrows its tags and content from the cJSON tree it was read
** from (or built on), so the tree must outlive it. Every failure comes with
** a static reason string in NIP-01 form ("invalid: ..."), never allocated.
*/
#ifndef HIROBA_EVENT_H
#define HIROBA_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include "cJSON.h"
#include "strbuf.h"

#define EVENT_MAX_CONTENT 65536     /* bytes of content, after unescaping */
#define EVENT_MAX_TAGS 2000         /* tags per event */
#define EVENT_MAX_FUTURE 900        /* seconds created_at may lead our clock */
#define EVENT_MAX_KIND 65535        /* NIP-01 kinds are 0..65535 */
/* Bytes of text in tags and content together (UTF-8, before JSON
** escaping): with the fixed fields, an event's JSON stays near 128 KiB.
** Without it one tag value could carry most of the 1 MiB frame cap. */
#define EVENT_MAX_TEXT 131072

typedef struct event {
  unsigned char id[32];      /* claimed id (read) or computed id (signed) */
  unsigned char pubkey[32];  /* x-only public key of the author */
  unsigned char sig[64];     /* BIP-340 signature of id */
  int64_t created_at;        /* unix seconds, >= 0 */
  int kind;                  /* 0..EVENT_MAX_KIND */
  const cJSON *tags;         /* borrowed: array of arrays of strings */
  const char *content;       /* borrowed: UTF-8 in json.h's internal form, NUL-terminated */
  size_t ncontent;           /* bytes in content */
} event;

/* 1 for the replaceable kinds of DESIGN §2 (0, 3, 10000..19999): the store
** keeps only the newest event per (pubkey, kind). store_internal.h's
** REPLACEABLE_SQL says the same in SQL. */
static inline int event_kind_replaceable(long long kind) {
  return kind == 0 || kind == 3 || (kind >= 10000 && kind < 20000);
}

/* Reads an event object: every field present with the right type
** (lowercase hex of the exact length for id/pubkey/sig, integer
** created_at >= 0 and kind in range, tags an array of arrays of strings),
** no duplicate keys, content at most EVENT_MAX_CONTENT bytes, at most
** EVENT_MAX_TAGS tags. Unknown extra fields are ignored. Does not hash or
** verify. Returns 0, or -1 with *pzReason set. *pHasId is set to 1 when the
** "id" field was valid hex (ev->id then holds it, even on failure), so the
** caller can answer ["OK", id, false, reason]. */
int event_from_json(event *ev, const cJSON *obj, int *pHasId,
                    const char **pzReason);

/* The rules of event_from_json for the fields a draft sets itself (kind,
** tags, content, created_at >= 0), for hiroba_post. 0 or -1 with *pzReason. */
int event_check_fields(const event *ev, const char **pzReason);

/* -1 with *pzReason when created_at is more than EVENT_MAX_FUTURE seconds
** after now, else 0. */
int event_check_time(const event *ev, int64_t now, const char **pzReason);

/* SHA-256 of the canonical serialization
** [0,<pubkey>,<created_at>,<kind>,<tags>,<content>]. 0, or -1 on OOM. */
int event_compute_id(const event *ev, unsigned char id[32]);

/* 0 when ev->id is the event's real id, else -1 with *pzReason
** ("invalid: id does not match the event", or "error: out of memory"). */
int event_check_id(const event *ev, const char **pzReason);

/* 0 when ev->sig is a valid signature of ev->id by ev->pubkey, else -1
** with *pzReason ("invalid: bad signature"). */
int event_check_sig(const event *ev, const char **pzReason);

/* Appends the event as its canonical JSON object:
** {"id":..,"pubkey":..,"created_at":..,"kind":..,"tags":..,"content":..,"sig":..}
** with strings escaped as JSON.stringify does. */
void event_to_json(const event *ev, strbuf *sb);

/* The same without id and sig: {"pubkey":..,"created_at":..,"kind":..,
** "tags":..,"content":..}, an event for a signer to sign (NIP-07). */
void event_to_json_unsigned(const event *ev, strbuf *sb);

/* Completes a draft: sets pubkey from seckey, computes id, signs it.
** created_at, kind, tags and content must already be set (and valid).
** 0, or -1 on failure (bad key, OOM, no randomness). */
int event_sign(event *ev, const unsigned char seckey[32]);

#endif
