/*
** strbuf.c -- see strbuf.h.
*/
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void strbuf_init(strbuf *sb) { memset(sb, 0, sizeof *sb); }

/* Makes room for `extra` more bytes plus the NUL; 0 or -1 (oom set). */
static int strbuf_reserve(strbuf *sb, size_t extra) {
  if (sb->oom) return -1;
  if (sb->n + extra + 1 <= sb->cap) return 0;
  size_t cap = sb->cap ? sb->cap : 256;
  while (cap < sb->n + extra + 1) {
    if (cap > SIZE_MAX / 2) { sb->oom = 1; return -1; }
    cap *= 2;
  }
  char *z = realloc(sb->z, cap);
  if (!z) { sb->oom = 1; return -1; }
  sb->z = z;
  sb->cap = cap;
  return 0;
}

void strbuf_append(strbuf *sb, const char *p, size_t n) {
  if (strbuf_reserve(sb, n)) return;
  if (n) memcpy(sb->z + sb->n, p, n);
  sb->n += n;
  sb->z[sb->n] = 0;
}

void strbuf_puts(strbuf *sb, const char *z) { strbuf_append(sb, z, strlen(z)); }

void strbuf_putc(strbuf *sb, char c) { strbuf_append(sb, &c, 1); }

void strbuf_int(strbuf *sb, int64_t v) {
  char a[24];
  int n = snprintf(a, sizeof a, "%lld", (long long)v);
  strbuf_append(sb, a, (size_t)n);
}

void strbuf_hex(strbuf *sb, const unsigned char *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  if (strbuf_reserve(sb, 2 * n)) return;
  char *o = sb->z + sb->n;
  for (size_t i = 0; i < n; i++) {
    o[2 * i] = digits[p[i] >> 4];
    o[2 * i + 1] = digits[p[i] & 15];
  }
  sb->n += 2 * n;
  sb->z[sb->n] = 0;
}

void strbuf_json_string(strbuf *sb, const char *z, size_t n) {
  static const char digits[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)z;
  strbuf_putc(sb, '"');
  size_t run = 0; /* start of the current run of bytes copied verbatim */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = p[i];
    /* Besides the ASCII escapes, the internal forms of json.h (U+0000 and
    ** lone surrogates) are escaped; other bytes >= 0x80 are UTF-8, copied
    ** as they are. */
    unsigned cp = c;
    size_t nIn = c == 0xc0 || c == 0xed ? json_internal_form(z + i, n - i, &cp) : 0;
    if (!nIn) {
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      nIn = 1;
    }
    strbuf_append(sb, z + run, i - run);
    run = i + nIn;
    char e[6] = {'\\', 0};
    size_t ne = 2;
    switch (cp) {
      case '"': e[1] = '"'; break;
      case '\\': e[1] = '\\'; break;
      case '\b': e[1] = 'b'; break;
      case '\f': e[1] = 'f'; break;
      case '\n': e[1] = 'n'; break;
      case '\r': e[1] = 'r'; break;
      case '\t': e[1] = 't'; break;
      default:
        /* \u00xx for a control character, \udxxx for a lone surrogate:
        ** lowercase, as JSON.stringify writes both. */
        e[1] = 'u';
        e[2] = digits[cp >> 12];
        e[3] = digits[cp >> 8 & 15];
        e[4] = digits[cp >> 4 & 15];
        e[5] = digits[cp & 15];
        ne = 6;
    }
    strbuf_append(sb, e, ne);
    i += nIn - 1;
  }
  strbuf_append(sb, z + run, n - run);
  strbuf_putc(sb, '"');
}

char *strbuf_finish(strbuf *sb) {
  if (sb->oom) { strbuf_free(sb); return NULL; }
  if (!sb->z) {
    if (strbuf_reserve(sb, 0)) return NULL;
    sb->z[0] = 0;
  }
  char *z = sb->z;
  strbuf_init(sb);
  return z;
}

void strbuf_free(strbuf *sb) {
  free(sb->z);
  strbuf_init(sb);
}
