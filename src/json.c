/*
** json.c -- reading untrusted JSON text exactly as strictly as
** JavaScript's JSON.parse, then handing it to cJSON to build the tree.
**
** An event id is a hash over strings taken out of JSON, so any byte that
** cJSON would read differently from JSON.parse becomes an id that only we
** compute. cJSON is lenient in ways that matter here: it treats every byte
** <= 0x20 as whitespace, skips a UTF-8 byte order mark, accepts numbers
** such as 01, 1. and -.5, passes raw control characters and invalid UTF-8
** through strings, and ends a string at \u0000. So json_check_text() walks
** the whole RFC 8259 grammar once, in a single pass with no allocation,
** and refuses everything JSON.parse refuses. After that check cJSON only
** ever sees text on which it and JSON.parse agree, and its grammar checks
** are a second line of defense.
**
** JSON.parse also takes two escapes that have no UTF-8 form: \u0000 (a
** C string cannot hold it) and a lone surrogate such as \ud83d (half of
** an emoji, cut by a client that counted UTF-16 units). Real relays carry
** signed notes with them, and their ids are well defined, so they are kept
** in the internal form of json.h: json_parse() rewrites just those escapes
** into the bytes C0 80 and ED A0..BF xx before cJSON sees the text (cJSON
** copies raw bytes through strings as they are, so it never meets a NUL),
** and strbuf_json_string() writes them back as the escapes JSON.stringify
** prints. Raw input can never hold those bytes: the UTF-8 check here
** refuses overlong and surrogate forms, so each internal form means one
** thing only.
**
** Nesting is bounded by JSON_MAX_DEPTH here rather than by cJSON's much
** larger limit, so hostile input cannot make either walk deep.
**
** cJSON's global error pointer is never read: it is shared process state,
** and cJSON_ParseWithLengthOpts already reports where it stopped.
*/
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at p[0..n), or 0. Follows the
** Unicode table of well-formed byte sequences (Table 3-7), which by its
** ranges alone excludes overlong forms, the surrogates U+D800..U+DFFF and
** everything past U+10FFFF. p[0] must be >= 0x80. */
static size_t utf8_seq_len(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;  /* allowed range of the 2nd byte */
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c == 0xe0) { len = 3; lo = 0xa0; }
  else if (c >= 0xe1 && c <= 0xec) len = 3;
  else if (c == 0xed) { len = 3; hi = 0x9f; }
  else if (c >= 0xee && c <= 0xef) len = 3;
  else if (c == 0xf0) { len = 4; lo = 0x90; }
  else if (c >= 0xf1 && c <= 0xf3) len = 4;
  else if (c == 0xf4) { len = 4; hi = 0x8f; }
  else return 0;  /* continuation byte, C0/C1 overlong lead, or F5..FF */
  if (n < len) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; i++) {
    if (p[i] < 0x80 || p[i] > 0xbf) return 0;
  }
  return len;
}

size_t json_internal_form(const char *z, size_t n, unsigned *pUnit) {
  const unsigned char *p = (const unsigned char *)z;
  if (n >= 2 && p[0] == 0xc0 && p[1] == 0x80) {
    *pUnit = 0;
    return 2;
  }
  if (n >= 3 && p[0] == 0xed && p[1] >= 0xa0 && p[1] <= 0xbf &&
      p[2] >= 0x80 && p[2] <= 0xbf) {
    *pUnit = 0xd000u | (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
    return 3;
  }
  return 0;
}

/* json_check_utf8, and with bInternal json_check_string: one walk. */
static int check_bytes(const char *z, size_t n, int bInternal) {
  const unsigned char *p = (const unsigned char *)z;
  size_t i = 0;
  unsigned prev = 1;  /* code unit of the internal form just before, or 1 */
  while (i < n) {
    unsigned unit = 1;
    size_t len = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, n - i);
    if (!len && bInternal) len = json_internal_form(z + i, n - i, &unit);
    if (!len) return -1;
    /* A high half right before a low half is a pair, which json_parse
    ** turns into one 4-byte character: in this two-piece shape it would
    ** be printed as two escapes, which JSON.stringify never writes. */
    if (prev >= 0xd800 && prev <= 0xdbff && unit >= 0xdc00 && unit <= 0xdfff) return -1;
    prev = unit;
    i += len;
  }
  return 0;
}

int json_check_utf8(const char *z, size_t n) { return check_bytes(z, n, 0); }

int json_check_string(const char *z, size_t n) { return check_bytes(z, n, 1); }

/* JSON whitespace is exactly these four (RFC 8259 §2); cJSON's wider
** notion of whitespace is one of the leniencies refused here. */
static int is_json_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex_val(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits at p[0..4) (uppercase allowed, as in JSON), or -1 when
** fewer than 4 bytes remain or one is not a hex digit. */
static long hex4(const unsigned char *p, size_t nLeft) {
  if (nLeft < 4) return -1;
  long v = 0;
  for (int k = 0; k < 4; k++) {
    int d = hex_val(p[k]);
    if (d < 0) return -1;
    v = v << 4 | d;
  }
  return v;
}

/* The value of a low surrogate escape (\uDC00..\uDFFF) at z[i..n), or -1:
** what makes a high surrogate escape just before it the first half of a
** pair rather than a lone one. */
static long low_surrogate_at(const unsigned char *z, size_t n, size_t i) {
  if (i + 1 >= n || z[i] != '\\' || z[i + 1] != 'u') return -1;
  long u = hex4(z + i + 2, n - (i + 2));
  return u >= 0xdc00 && u <= 0xdfff ? u : -1;
}

/* Scans the string whose opening quote is at z[*pi]; on success leaves *pi
** just past the closing quote and returns 0, else -1 with a reason.
** Counts in *pnSpecial the escapes json_parse must rewrite (\u0000 and
** lone surrogates). */
static int scan_string(const unsigned char *z, size_t n, size_t *pi,
                       size_t *pnSpecial, const char **pzReason) {
  size_t i = *pi + 1;
  for (;;) {
    if (i >= n) { *pzReason = "invalid: unterminated JSON string"; return -1; }
    unsigned char c = z[i];
    if (c == '"') break;
    if (c < 0x20) {
      *pzReason = "invalid: control character in JSON string";
      return -1;
    }
    if (c == '\\') {
      if (i + 1 >= n) { *pzReason = "invalid: unterminated JSON string"; return -1; }
      switch (z[i + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          i += 2;
          continue;
        case 'u': break;
        default:
          *pzReason = "invalid: bad escape in JSON string";
          return -1;
      }
      long u = hex4(z + i + 2, n - (i + 2));
      if (u < 0) { *pzReason = "invalid: bad \\u escape in JSON string"; return -1; }
      i += 6;
      if (u >= 0xd800 && u <= 0xdbff && low_surrogate_at(z, n, i) >= 0) {
        i += 6;  /* a pair: one character, which cJSON decodes itself */
      } else if (u == 0 || (u >= 0xd800 && u <= 0xdfff)) {
        ++*pnSpecial;
      }
      continue;
    }
    if (c < 0x80) { i++; continue; }
    size_t len = utf8_seq_len(z + i, n - i);
    if (!len) { *pzReason = "invalid: JSON text is not valid UTF-8"; return -1; }
    i += len;
  }
  *pi = i + 1;
  return 0;
}

/* Scans a number at z[*pi] with the RFC 8259 grammar
**   -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?
** which is JSON.parse's; cJSON's strtod would also take 01, 1. and -.5. */
static int scan_number(const unsigned char *z, size_t n, size_t *pi,
                       const char **pzReason) {
  size_t i = *pi;
  if (i < n && z[i] == '-') i++;
  if (i < n && z[i] == '0') {
    i++;
  } else if (i < n && z[i] >= '1' && z[i] <= '9') {
    while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  } else {
    goto bad;
  }
  if (i < n && z[i] == '.') {
    i++;
    if (i >= n || z[i] < '0' || z[i] > '9') goto bad;
    while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  }
  if (i < n && (z[i] == 'e' || z[i] == 'E')) {
    i++;
    if (i < n && (z[i] == '+' || z[i] == '-')) i++;
    if (i >= n || z[i] < '0' || z[i] > '9') goto bad;
    while (i < n && z[i] >= '0' && z[i] <= '9') i++;
  }
  *pi = i;
  return 0;
bad:
  *pzReason = "invalid: bad number in JSON";
  return -1;
}

/* json_check_text, also counting in *pnSpecial the escapes to rewrite. */
static int check_text(const char *zText, size_t n, size_t *pnSpecial,
                      const char **pzReason) {
  const unsigned char *z = (const unsigned char *)zText;
  /* One byte per open container: '[' or '{'. */
  unsigned char aOpen[JSON_MAX_DEPTH];
  int nOpen = 0;
  size_t i = 0;
  /* What the grammar expects next. */
  enum { WANT_VALUE, WANT_KEY, AFTER_VALUE } want = WANT_VALUE;

  if (!z && n) { *pzReason = "invalid: bad JSON"; return -1; }
  for (;;) {
    while (i < n && is_json_ws(z[i])) i++;
    if (want == AFTER_VALUE) {
      if (nOpen == 0) {
        if (i == n) return 0;
        *pzReason = "invalid: trailing characters after JSON value";
        return -1;
      }
      if (i >= n) break;
      unsigned char top = aOpen[nOpen - 1];
      if (z[i] == ',') {
        i++;
        want = top == '{' ? WANT_KEY : WANT_VALUE;
      } else if ((top == '{' && z[i] == '}') || (top == '[' && z[i] == ']')) {
        i++;
        nOpen--;
      } else {
        break;
      }
      continue;
    }
    if (i >= n) break;
    if (want == WANT_KEY) {
      if (z[i] != '"') break;
      if (scan_string(z, n, &i, pnSpecial, pzReason)) return -1;
      while (i < n && is_json_ws(z[i])) i++;
      if (i >= n || z[i] != ':') break;
      i++;
      want = WANT_VALUE;
      continue;
    }
    /* WANT_VALUE */
    unsigned char c = z[i];
    if (c == '[' || c == '{') {
      if (nOpen == JSON_MAX_DEPTH) {
        *pzReason = "invalid: JSON nested too deeply";
        return -1;
      }
      aOpen[nOpen++] = c;
      i++;
      while (i < n && is_json_ws(z[i])) i++;
      if (i < n && z[i] == (c == '[' ? ']' : '}')) {
        i++;
        nOpen--;
        want = AFTER_VALUE;
      } else {
        want = c == '{' ? WANT_KEY : WANT_VALUE;
      }
      continue;
    }
    if (c == '"') {
      if (scan_string(z, n, &i, pnSpecial, pzReason)) return -1;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      if (scan_number(z, n, &i, pzReason)) return -1;
    } else if (n - i >= 4 && memcmp(z + i, "true", 4) == 0) {
      i += 4;
    } else if (n - i >= 5 && memcmp(z + i, "false", 5) == 0) {
      i += 5;
    } else if (n - i >= 4 && memcmp(z + i, "null", 4) == 0) {
      i += 4;
    } else {
      break;
    }
    want = AFTER_VALUE;
  }
  *pzReason = i >= n ? "invalid: truncated JSON" : "invalid: bad JSON";
  return -1;
}

int json_check_text(const char *z, size_t n, const char **pzReason) {
  size_t nSpecial = 0;
  return check_text(z, n, &nSpecial, pzReason);
}

/* Copies the checked text z[0..n) to out, each \u0000 and lone surrogate
** escape replaced by its internal form (json.h), everything else as it
** is; returns the bytes written, never more than n (an escape is 6 bytes,
** its internal form 2 or 3). Only strings hold a backslash, and outside
** them a quote always opens one, so tracking quotes is enough to know
** where a string is. */
static size_t rewrite_special(const unsigned char *z, size_t n, unsigned char *out) {
  size_t i = 0, o = 0;
  int inString = 0;
  while (i < n) {
    unsigned char c = z[i];
    if (c == '"') inString = !inString;
    if (!inString || c != '\\' || i + 1 >= n) { out[o++] = c; i++; continue; }
    if (z[i + 1] != 'u') {
      /* \" must not end the string; \\ must not start an escape. */
      out[o++] = c;
      out[o++] = z[i + 1];
      i += 2;
      continue;
    }
    long u = hex4(z + i + 2, n - (i + 2));
    size_t len = 6;
    if (u >= 0xd800 && u <= 0xdbff && low_surrogate_at(z, n, i + 6) >= 0) len = 12;
    if (u == 0) {
      out[o++] = 0xc0;
      out[o++] = 0x80;
    } else if (len == 6 && u >= 0xd800 && u <= 0xdfff) {
      out[o++] = 0xed;
      out[o++] = (unsigned char)(0x80 | (u >> 6 & 0x3f));
      out[o++] = (unsigned char)(0x80 | (u & 0x3f));
    } else {
      memcpy(out + o, z + i, len);
      o += len;
    }
    i += len;
  }
  return o;
}

cJSON *json_parse(const char *z, size_t n, const char **pzReason) {
  size_t nSpecial = 0;
  if (check_text(z, n, &nSpecial, pzReason)) return NULL;
  /* Only text with \u0000 or a lone surrogate is copied; everything else
  ** goes to cJSON as it is. */
  unsigned char *zCopy = NULL;
  if (nSpecial) {
    zCopy = malloc(n + 1);
    if (!zCopy) {
      *pzReason = "error: could not parse JSON (out of memory)";
      return NULL;
    }
    n = rewrite_special((const unsigned char *)z, n, zCopy);
    zCopy[n] = 0;
    z = (const char *)zCopy;
  }
  const char *zEnd = NULL;
  cJSON *pRoot = cJSON_ParseWithLengthOpts(z, n, &zEnd, 0);
  if (!pRoot) {
    /* The text passed the full grammar above, so this is cJSON running
    ** out of memory (or, should the two grammars ever disagree, cJSON
    ** refusing something JSON.parse takes: still a refusal, never an
    ** altered value). */
    free(zCopy);
    *pzReason = "error: could not parse JSON (out of memory?)";
    return NULL;
  }
  /* cJSON stops after one value; only JSON whitespace may follow it. */
  const char *zStop = z + n;
  while (zEnd && zEnd < zStop && is_json_ws((unsigned char)*zEnd)) zEnd++;
  int bTrailing = zEnd != zStop;
  free(zCopy);  /* the tree holds copies of its strings */
  if (bTrailing) {
    cJSON_Delete(pRoot);
    *pzReason = "invalid: trailing characters after JSON value";
    return NULL;
  }
  return pRoot;
}

/* qsort comparator over key pointers. */
static int cmp_key(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int json_has_duplicate_keys(const cJSON *obj) {
  if (!obj || !cJSON_IsObject(obj)) return 0;
  size_t nMember = 0;
  for (const cJSON *p = obj->child; p; p = p->next) {
    if (!p->string) return 1;  /* a member without a key: not a sane object */
    nMember++;
  }
  /* A real event has 7 members: compare pairwise. A hostile object may
  ** have hundreds of thousands, where pairwise would take minutes, so
  ** those are sorted instead. */
  if (nMember <= 32) {
    for (const cJSON *p = obj->child; p; p = p->next) {
      for (const cJSON *q = p->next; q; q = q->next) {
        if (strcmp(p->string, q->string) == 0) return 1;
      }
    }
    return 0;
  }
  const char **azKey = malloc(nMember * sizeof *azKey);
  /* Without memory we cannot tell, and "ambiguous" is the safe answer:
  ** the caller refuses the object rather than guessing its meaning. */
  if (!azKey) return 1;
  size_t k = 0;
  for (const cJSON *p = obj->child; p; p = p->next) azKey[k++] = p->string;
  qsort(azKey, nMember, sizeof *azKey, cmp_key);
  int rc = 0;
  for (k = 1; k < nMember && !rc; k++) {
    if (strcmp(azKey[k - 1], azKey[k]) == 0) rc = 1;
  }
  free(azKey);
  return rc;
}

int json_get_int(const cJSON *item, long long lo, long long hi, long long *pOut) {
  if (!item || !cJSON_IsNumber(item)) return -1;
  double d = item->valuedouble;
  /* Converting a double outside long long's range is undefined behaviour,
  ** so bound it first: [-2^63, 2^63) are exactly representable limits.
  ** NaN fails both comparisons, and so do the infinities. */
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return -1;
  long long v = (long long)d;
  /* Truncation changed the value: it had a fractional part. */
  if ((double)v != d) return -1;
  if (v < lo || v > hi) return -1;
  *pOut = v;
  return 0;
}
