/*
** json.h -- reading untrusted JSON text the way JavaScript's JSON.parse
** reads it, so that an event's id computed here matches the one every
** other Nostr implementation computes.
**
** cJSON alone is more lenient than JSON.parse: it passes raw control
** characters and invalid UTF-8 through, and it turns \u0000 into a string
** terminator (silently truncating). json_parse() checks the text strictly
** first and refuses all of that with a reason.
*/
#ifndef HIROBA_JSON_H
#define HIROBA_JSON_H

#include <stddef.h>
#include "cJSON.h"

/* Deepest nesting accepted; a batch of EVENT frames needs 5 levels. */
#define JSON_MAX_DEPTH 16

/* 0 when z[0..n) is JSON that JSON.parse would accept and whose strings all
** survive byte-exact: valid UTF-8 (no overlongs, no surrogate code points,
** nothing past U+10FFFF), no raw control characters inside strings, no
** \u0000 escape, every \uD800-\uDBFF escape followed by a \uDC00-\uDFFF one
** and no lone low surrogate, nesting no deeper than JSON_MAX_DEPTH.
** Otherwise -1 with *pzReason set to a static "invalid: ..." message.
** The full RFC 8259 grammar is checked too (cJSON alone also takes 01,
** -.5, a BOM, and any byte <= 0x20 as whitespace). */
int json_check_text(const char *z, size_t n, const char **pzReason);

/* 0 when z[0..n) is well-formed UTF-8 by the rules above (no overlongs,
** no surrogate code points, nothing past U+10FFFF), else -1. For strings
** that did not come through json_parse (drafts, trees built directly). */
int json_check_utf8(const char *z, size_t n);

/* json_check_text, then cJSON_ParseWithLengthOpts requiring that nothing
** but whitespace follows the value. Returns the tree (caller owns it:
** cJSON_Delete) or NULL with *pzReason set to a static message. */
cJSON *json_parse(const char *z, size_t n, const char **pzReason);

/* 1 when the object has two members with the same key (JSON.parse keeps
** the last, cJSON finds the first: such input is ambiguous), else 0. */
int json_has_duplicate_keys(const cJSON *obj);

/* When item is a number holding an integer in [lo, hi], stores it and
** returns 0; otherwise -1. */
int json_get_int(const cJSON *item, long long lo, long long hi, long long *pOut);

#endif
