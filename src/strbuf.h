/*
** strbuf.h -- a growable byte buffer for building JSON text.
**
** Appends never fail loudly: on allocation failure the buffer remembers it
** (`oom`), drops further appends, and strbuf_finish() returns NULL, so a
** builder can append freely and check once at the end.
*/
#ifndef HIROBA_STRBUF_H
#define HIROBA_STRBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct strbuf {
  char *z;      /* bytes so far, NUL-terminated when z != NULL */
  size_t n;     /* bytes used, not counting the NUL */
  size_t cap;   /* bytes allocated */
  int oom;      /* nonzero once an allocation failed */
} strbuf;

void strbuf_init(strbuf *sb);
void strbuf_append(strbuf *sb, const char *p, size_t n);
void strbuf_puts(strbuf *sb, const char *z);
void strbuf_putc(strbuf *sb, char c);
void strbuf_int(strbuf *sb, int64_t v);
/* `n` bytes as lowercase hex. */
void strbuf_hex(strbuf *sb, const unsigned char *p, size_t n);
/* A JSON string literal (quotes included) escaped exactly as JavaScript's
** JSON.stringify does: \" \\ \b \f \n \r \t, \u00xx for the other control
** characters, the internal forms of json.h as \u0000 and \udxxx (lowercase
** hex), every other byte verbatim (U+007F and U+2028 included). This is
** the NIP-01 canonical form. */
void strbuf_json_string(strbuf *sb, const char *z, size_t n);
/* Hands the text to the caller (free() it; hiroba_free() at the API) and
** resets the buffer. NULL if any append ran out of memory. */
char *strbuf_finish(strbuf *sb);
/* Releases the buffer's memory (after an error path). */
void strbuf_free(strbuf *sb);

#endif
