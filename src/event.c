/*
** event.c -- NIP-01 events: reading one out of a cJSON tree, the limits of
** DESIGN §2, the canonical serialization and id, BIP-340 signing and
** verification, and printing an event back as JSON.
**
** The id is SHA-256 over
**   [0,"<pubkey hex>",<created_at>,<kind>,<tags>,"<content>"]
** with no whitespace and strings escaped as JSON.stringify escapes them
** (strbuf_json_string). Every Nostr implementation hashes that same text,
** so an event read here, stored, and sent on keeps its id byte for byte.
**
** Strings may hold U+0000 and lone surrogates, which JSON.parse and so
** every JS client accept (a truncated emoji is common on relays): they
** are in json.h's internal form here, and strbuf_json_string prints them
** as JSON.stringify does (\u0000, lowercase \udxxx), so their ids match.
**
** Reading is strict where leniency would be ambiguous: duplicate keys
** (JSON.parse keeps the last, cJSON finds the first), uppercase hex, and
** numbers that are not integers as JavaScript sees them. Strings are
** checked to be in that internal form here too (json_check_string), not
** only in json_parse, so a tree that reached us another way cannot
** smuggle in text whose JSON.stringify form differs from ours. (A tree
** cJSON alone built from "\u0000" holds a string cut short; its id then no
** longer matches, so such an event is refused as a mismatch, never stored
** altered.)
**
** Reasons are static strings in the NIP-01 "invalid: ..." form, meant to
** be shown to a person and sent back in an OK message as they are.
*/
#include "event.h"

#include <string.h>

#include "crypto.h"
#include "hex.h"
#include "json.h"
#include "sha256.h"

/* The largest integer JavaScript represents exactly: created_at beyond it
** would be rounded by every JS client, and so hashed differently. */
#define EVENT_MAX_CREATED_AT 9007199254740991LL

/* Reads obj[zKey] as exactly 2*n lowercase hex into out. Returns NULL on
** success, or zMissing / zBad as the reason. */
static const char *read_hex(const cJSON *obj, const char *zKey, unsigned char *out,
                            size_t n, const char *zMissing, const char *zBad) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, zKey);
  if (!item) return zMissing;
  if (!cJSON_IsString(item) || !item->valuestring) return zBad;
  if (hex_decode(item->valuestring, out, n)) return zBad;
  return NULL;
}

/* How many members of obj are named zKey. */
static int count_key(const cJSON *obj, const char *zKey) {
  int nKey = 0;
  for (const cJSON *p = obj->child; p; p = p->next) {
    if (p->string && strcmp(p->string, zKey) == 0) nKey++;
  }
  return nKey;
}

int event_from_json(event *ev, const cJSON *obj, int *pHasId,
                    const char **pzReason) {
  const char *zErr;
  const cJSON *item;
  long long v;
  *pHasId = 0;
  memset(ev, 0, sizeof *ev);
  if (!obj || !cJSON_IsObject(obj)) {
    *pzReason = "invalid: event must be a JSON object";
    return -1;
  }
  /* The id comes first so that even a refused event can be answered with
  ** ["OK", id, false, reason]; but not when "id" itself is given twice,
  ** since then there is no single id to answer with. */
  zErr = read_hex(obj, "id", ev->id, 32, "invalid: missing id",
                  "invalid: id must be 64 lowercase hex");
  if (!zErr && count_key(obj, "id") == 1) *pHasId = 1;
  if (json_has_duplicate_keys(obj)) {
    *pzReason = "invalid: duplicate key in event";
    return -1;
  }
  if (zErr) goto fail;

  zErr = read_hex(obj, "pubkey", ev->pubkey, 32, "invalid: missing pubkey",
                  "invalid: pubkey must be 64 lowercase hex");
  if (zErr) goto fail;
  zErr = read_hex(obj, "sig", ev->sig, 64, "invalid: missing sig",
                  "invalid: sig must be 128 lowercase hex");
  if (zErr) goto fail;

  item = cJSON_GetObjectItemCaseSensitive(obj, "created_at");
  if (!item) { zErr = "invalid: missing created_at"; goto fail; }
  if (json_get_int(item, 0, EVENT_MAX_CREATED_AT, &v)) {
    zErr = "invalid: created_at must be an integer from 0 to 2^53-1";
    goto fail;
  }
  ev->created_at = v;

  item = cJSON_GetObjectItemCaseSensitive(obj, "kind");
  if (!item) { zErr = "invalid: missing kind"; goto fail; }
  if (json_get_int(item, 0, EVENT_MAX_KIND, &v)) {
    zErr = "invalid: kind must be an integer from 0 to 65535";
    goto fail;
  }
  ev->kind = (int)v;

  item = cJSON_GetObjectItemCaseSensitive(obj, "tags");
  if (!item) { zErr = "invalid: missing tags"; goto fail; }
  if (!cJSON_IsArray(item)) { zErr = "invalid: tags must be an array"; goto fail; }
  ev->tags = item;

  item = cJSON_GetObjectItemCaseSensitive(obj, "content");
  if (!item) { zErr = "invalid: missing content"; goto fail; }
  if (!cJSON_IsString(item) || !item->valuestring) {
    zErr = "invalid: content must be a string";
    goto fail;
  }
  ev->content = item->valuestring;
  ev->ncontent = strlen(item->valuestring);

  /* The rules shared with drafts: sizes, tag shape, UTF-8. */
  return event_check_fields(ev, pzReason);

fail:
  *pzReason = zErr;
  return -1;
}

int event_check_fields(const event *ev, const char **pzReason) {
  if (ev->created_at < 0 || ev->created_at > EVENT_MAX_CREATED_AT) {
    *pzReason = "invalid: created_at must be an integer from 0 to 2^53-1";
    return -1;
  }
  if (ev->kind < 0 || ev->kind > EVENT_MAX_KIND) {
    *pzReason = "invalid: kind must be an integer from 0 to 65535";
    return -1;
  }
  if (!ev->tags || !cJSON_IsArray(ev->tags)) {
    *pzReason = "invalid: tags must be an array";
    return -1;
  }
  /* Counted while walking, so a huge array is refused without walking
  ** it all. */
  int nTag = 0;
  size_t nText = ev->ncontent;
  for (const cJSON *pTag = ev->tags->child; pTag; pTag = pTag->next) {
    if (++nTag > EVENT_MAX_TAGS) {
      *pzReason = "invalid: more than 2000 tags";
      return -1;
    }
    if (!cJSON_IsArray(pTag)) {
      *pzReason = "invalid: tags must be arrays of strings";
      return -1;
    }
    for (const cJSON *pStr = pTag->child; pStr; pStr = pStr->next) {
      if (!cJSON_IsString(pStr) || !pStr->valuestring) {
        *pzReason = "invalid: tags must be arrays of strings";
        return -1;
      }
      size_t n = strlen(pStr->valuestring);
      nText += n;
      if (nText > EVENT_MAX_TEXT) {
        *pzReason = "invalid: tags and content over 128 KiB";
        return -1;
      }
      if (json_check_string(pStr->valuestring, n)) {
        *pzReason = "invalid: tag is not valid UTF-8";
        return -1;
      }
    }
  }
  if (!ev->content) {
    *pzReason = "invalid: content must be a string";
    return -1;
  }
  if (ev->ncontent > EVENT_MAX_CONTENT) {
    *pzReason = "invalid: content over 64 KiB";
    return -1;
  }
  /* Stored and sent content is a C string, so a raw NUL byte inside a
  ** draft would be cut off later, after the id was computed over all of
  ** it. (U+0000 itself is fine in its internal form, json.h.) */
  if (memchr(ev->content, 0, ev->ncontent)) {
    *pzReason = "invalid: content holds a raw NUL byte";
    return -1;
  }
  if (json_check_string(ev->content, ev->ncontent)) {
    *pzReason = "invalid: content is not valid UTF-8";
    return -1;
  }
  return 0;
}

int event_check_time(const event *ev, int64_t now, const char **pzReason) {
  /* Written so that now + EVENT_MAX_FUTURE cannot overflow. */
  if (now <= INT64_MAX - EVENT_MAX_FUTURE && ev->created_at > now + EVENT_MAX_FUTURE) {
    *pzReason = "invalid: created_at is more than 15 minutes in the future";
    return -1;
  }
  return 0;
}

/* Appends tags as JSON: an array of arrays of strings. Tags that are not
** that shape are printed as far as they are, never crash: callers have
** run event_check_fields first. */
static void put_tags(strbuf *sb, const cJSON *tags) {
  strbuf_putc(sb, '[');
  const cJSON *pTag = tags ? tags->child : NULL;
  for (; pTag; pTag = pTag->next) {
    strbuf_putc(sb, '[');
    for (const cJSON *pStr = pTag->child; pStr; pStr = pStr->next) {
      const char *z = pStr->valuestring ? pStr->valuestring : "";
      strbuf_json_string(sb, z, strlen(z));
      if (pStr->next) strbuf_putc(sb, ',');
    }
    strbuf_putc(sb, ']');
    if (pTag->next) strbuf_putc(sb, ',');
  }
  strbuf_putc(sb, ']');
}

/* Appends a content string: ncontent bytes, or "" for a missing one. */
static void put_content(strbuf *sb, const event *ev) {
  if (ev->content) strbuf_json_string(sb, ev->content, ev->ncontent);
  else strbuf_json_string(sb, "", 0);
}

int event_compute_id(const event *ev, unsigned char id[32]) {
  strbuf sb;
  strbuf_init(&sb);
  strbuf_puts(&sb, "[0,\"");
  strbuf_hex(&sb, ev->pubkey, 32);
  strbuf_puts(&sb, "\",");
  strbuf_int(&sb, ev->created_at);
  strbuf_putc(&sb, ',');
  strbuf_int(&sb, ev->kind);
  strbuf_putc(&sb, ',');
  put_tags(&sb, ev->tags);
  strbuf_putc(&sb, ',');
  put_content(&sb, ev);
  strbuf_putc(&sb, ']');
  if (sb.oom) {
    strbuf_free(&sb);
    return -1;
  }
  sha256(sb.z, sb.n, id);
  strbuf_free(&sb);
  return 0;
}

int event_check_id(const event *ev, const char **pzReason) {
  unsigned char id[32];
  if (event_compute_id(ev, id)) {
    *pzReason = "error: out of memory";
    return -1;
  }
  if (memcmp(id, ev->id, 32) != 0) {
    *pzReason = "invalid: id does not match the event";
    return -1;
  }
  return 0;
}

int event_check_sig(const event *ev, const char **pzReason) {
  if (!crypto_verify(ev->pubkey, ev->id, ev->sig)) {
    *pzReason = "invalid: bad signature";
    return -1;
  }
  return 0;
}

/* pubkey, created_at, kind, tags and content as members of an object. */
static void put_fields(strbuf *sb, const event *ev) {
  strbuf_puts(sb, "\"pubkey\":\"");
  strbuf_hex(sb, ev->pubkey, 32);
  strbuf_puts(sb, "\",\"created_at\":");
  strbuf_int(sb, ev->created_at);
  strbuf_puts(sb, ",\"kind\":");
  strbuf_int(sb, ev->kind);
  strbuf_puts(sb, ",\"tags\":");
  put_tags(sb, ev->tags);
  strbuf_puts(sb, ",\"content\":");
  put_content(sb, ev);
}

void event_to_json(const event *ev, strbuf *sb) {
  strbuf_puts(sb, "{\"id\":\"");
  strbuf_hex(sb, ev->id, 32);
  strbuf_puts(sb, "\",");
  put_fields(sb, ev);
  strbuf_puts(sb, ",\"sig\":\"");
  strbuf_hex(sb, ev->sig, 64);
  strbuf_puts(sb, "\"}");
}

void event_to_json_unsigned(const event *ev, strbuf *sb) {
  strbuf_putc(sb, '{');
  put_fields(sb, ev);
  strbuf_putc(sb, '}');
}

int event_sign(event *ev, const unsigned char seckey[32]) {
  if (crypto_pubkey(seckey, ev->pubkey)) return -1;
  if (event_compute_id(ev, ev->id)) return -1;
  if (crypto_sign(seckey, ev->id, ev->sig)) return -1;
  return 0;
}
