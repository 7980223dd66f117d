/*
** json.h -- reading untrusted JSON text the way JavaScript's JSON.parse
** reads it, so that an event's id computed here matches the one every
** other Nostr implementation computes.
**
** cJSON alone is more lenient than JSON.parse: it passes raw control
** characters and invalid UTF-8 through, and it turns \u0000 into a string
** terminator (silently truncating). json_parse() checks the text strictly
** first and refuses all of that with a reason.
**
** The internal form of strings. JSON.parse accepts two escapes that have
** no UTF-8 form, and signed events carry them, so json_parse keeps them
** as byte sequences that raw UTF-8 input can never hold (both are refused
** in raw text as overlong or surrogate forms):
**   \u0000                  -> C0 80 (the 2-byte overlong form of U+0000)
**   lone \ud800..\udfff      -> ED A0..BF 80..BF (the 3-byte generalized
**                             UTF-8 of that code unit)
** Everything else is ordinary UTF-8; a paired \ud83d\ude00 is one 4-byte
** character, as before. strbuf_json_string() prints the two forms back as
** the escapes JSON.stringify prints, so the text, and the id hashed over
** it, round-trip byte for byte.
*/
#ifndef HIROBA_JSON_H
#define HIROBA_JSON_H

#include <stddef.h>
#include "cJSON.h"

/* Deepest nesting accepted; a batch of EVENT frames needs 5 levels. */
#define JSON_MAX_DEPTH 16

/* 0 when z[0..n) is JSON that JSON.parse would accept: valid UTF-8 (no
** overlongs, no surrogate code points, nothing past U+10FFFF), no raw
** control characters inside strings, only JSON's escapes (\u0000 and lone
** surrogates included: see the internal form above), nesting no deeper
** than JSON_MAX_DEPTH. Otherwise -1 with *pzReason set to a static
** "invalid: ..." message. The full RFC 8259 grammar is checked too (cJSON
** alone also takes 01, -.5, a BOM, and any byte <= 0x20 as whitespace). */
int json_check_text(const char *z, size_t n, const char **pzReason);

/* 0 when z[0..n) is well-formed UTF-8 by the rules above (no overlongs,
** no surrogate code points, nothing past U+10FFFF), else -1. For raw text
** from outside, which never holds the internal forms. */
int json_check_utf8(const char *z, size_t n);

/* 0 when z[0..n) is a string as json_parse hands them out: well-formed
** UTF-8 plus the internal forms above, with no high surrogate form
** directly before a low one (json_parse makes such a pair one 4-byte
** character). Else -1. For event strings, which may have reached us as a
** tree built without json_parse (drafts, trees built directly). */
int json_check_string(const char *z, size_t n);

/* When z[0..n) starts with one of the internal forms above, its length (2
** or 3) with the UTF-16 code unit it stands for in *pUnit (0, or 0xD800 to
** 0xDFFF); else 0. */
size_t json_internal_form(const char *z, size_t n, unsigned *pUnit);

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
