/*
** negentropy.c -- Negentropy protocol v1: see negentropy.h.
**
** The algorithm is the reference one (hoytech/negentropy, cpp/negentropy.h;
** the protocol text is its docs/negentropy-protocol-v1.md, the appendix of
** NIP-77), so that our messages interoperate with every implementation:
** 16 buckets per split, IdList below 32 items, minimal id prefixes for
** bounds, and a frame limit checked with 200 bytes of slack before each
** range is appended.
**
** Where we differ, on purpose:
**   - Decoding is strict. The reference saturates an overflowing timestamp
**     to infinity, reads any varint, accepts bounds in any order and id
**     lists of any claimed length; we refuse all of that with a reason
**     (nothing a conforming peer sends is refused).
**   - When a message is cut at the frame limit, the ranges already settled
**     (matched, skipped, or id lists an initiator has read) are closed
**     with a Skip first, and the closing fingerprint covers every item
**     after the last bound written, as the protocol defines a range. The
**     reference writes neither: its fingerprint starts at the range it was
**     processing, while the range it declares starts at its last written
**     bound, so the peer compares different sets and reopens ranges
**     already settled (an initiator then reports their ids again). Ours
**     cuts such repeats to the rare case the protocol cannot avoid: a
**     responder's cut reopening ranges the initiator had settled further
**     on in its message (no state is kept between messages).
**   - A responder's IdList answer counts the Skip range written before it
**     against the frame limit.
**
** Nothing here allocates in proportion to a message's claims: an id list
** is read in place, after checking that the message really holds that
** many ids.
*/
#include "negentropy.h"

#include <stdlib.h>
#include <string.h>

#include "hiroba.h"
#include "sha256.h"

enum { MODE_SKIP = 0, MODE_FINGERPRINT = 1, MODE_IDLIST = 2 };

#define BUCKETS 16               /* fingerprints per split range */
#define IDLIST_BELOW (2 * BUCKETS) /* smaller ranges are sent as id lists */
#define FRAME_SLACK 200          /* room kept for the closing range */
#define VARINT_MAX 10            /* bytes of the longest 64-bit varint */

/* A range's upper bound: a timestamp and an id prefix, zero-padded. */
typedef struct bound {
  uint64_t ts;                     /* timestamp, or NEG_INFINITY */
  unsigned char id[NEG_ID_SIZE];   /* prefix, then zeros */
  size_t nId;                      /* bytes of the prefix that are sent */
} bound;

/* --- the item set ------------------------------------------------------- */

void neg_set_init(neg_set *set) { memset(set, 0, sizeof *set); }

void neg_set_free(neg_set *set) {
  free(set->aItem);
  free(set->aSum);
  neg_set_init(set);
}

int neg_set_add(neg_set *set, uint64_t ts, const unsigned char id[NEG_ID_SIZE]) {
  if (set->sealed || ts == NEG_INFINITY) return HIROBA_EINVAL;
  if (set->nItem == set->nAlloc) {
    size_t n = set->nAlloc ? 2 * set->nAlloc : 256;
    if (n > SIZE_MAX / sizeof(neg_item) / 2) return HIROBA_ENOMEM;
    neg_item *a = realloc(set->aItem, n * sizeof *a);
    if (!a) return HIROBA_ENOMEM;
    set->aItem = a;
    set->nAlloc = n;
  }
  set->aItem[set->nItem].ts = ts;
  memcpy(set->aItem[set->nItem].id, id, NEG_ID_SIZE);
  set->nItem++;
  return 0;
}

static int item_cmp(const neg_item *a, const neg_item *b) {
  if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;
  return memcmp(a->id, b->id, NEG_ID_SIZE);
}

static int item_qsort_cmp(const void *a, const void *b) { return item_cmp(a, b); }

static uint64_t load_le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static void store_le64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++, v >>= 8) p[i] = (unsigned char)v;
}

int neg_set_seal(neg_set *set, const char **pzReason) {
  if (set->sealed) return 0;
  size_t n = set->nItem;
  /* Rows from the store arrive sorted: check before paying for a sort. */
  for (size_t i = 1; i < n; i++) {
    if (item_cmp(&set->aItem[i - 1], &set->aItem[i]) >= 0) {
      qsort(set->aItem, n, sizeof *set->aItem, item_qsort_cmp);
      break;
    }
  }
  for (size_t i = 1; i < n; i++) {
    if (item_cmp(&set->aItem[i - 1], &set->aItem[i]) == 0) {
      *pzReason = "duplicate item";
      return HIROBA_EINVAL;
    }
  }
  if (n + 1 > SIZE_MAX / (4 * sizeof(uint64_t))) return HIROBA_ENOMEM;
  uint64_t *s = malloc((n + 1) * 4 * sizeof *s);
  if (!s) return HIROBA_ENOMEM;
  memset(s, 0, 4 * sizeof *s);
  for (size_t i = 0; i < n; i++) {
    const unsigned char *id = set->aItem[i].id;
    const uint64_t *a = s + 4 * i;
    uint64_t *b = s + 4 * (i + 1);
    uint64_t carry = 0;
    for (int j = 0; j < 4; j++) {
      uint64_t x = load_le64(id + 8 * j);
      uint64_t t = a[j] + x;
      uint64_t c = t < x;
      b[j] = t + carry;
      carry = c | (b[j] < t);
    }
  }
  set->aSum = s;
  set->sealed = 1;
  return 0;
}

/* Encodes v as a varint into out (VARINT_MAX bytes); returns its length. */
static size_t varint_encode(uint64_t v, unsigned char out[VARINT_MAX]) {
  unsigned char rev[VARINT_MAX];
  size_t n = 0;
  do {
    rev[n++] = (unsigned char)(v & 0x7f);
    v >>= 7;
  } while (v);
  for (size_t i = 0; i < n; i++) {
    out[i] = rev[n - 1 - i] | (i + 1 < n ? 0x80 : 0);
  }
  return n;
}

void neg_set_fingerprint(const neg_set *set, size_t lo, size_t hi,
                         unsigned char out[NEG_FP_SIZE]) {
  const uint64_t *a = set->aSum + 4 * lo, *b = set->aSum + 4 * hi;
  unsigned char buf[NEG_ID_SIZE + VARINT_MAX], hash[32];
  uint64_t borrow = 0;
  for (int j = 0; j < 4; j++) {
    uint64_t d = b[j] - a[j];
    uint64_t nb = b[j] < a[j];
    uint64_t e = d - borrow;
    nb |= d < borrow;
    store_le64(buf + 8 * j, e);
    borrow = nb;
  }
  size_t n = varint_encode((uint64_t)(hi - lo), buf + NEG_ID_SIZE);
  sha256(buf, NEG_ID_SIZE + n, hash);
  memcpy(out, hash, NEG_FP_SIZE);
}

/* --- varints and hex ---------------------------------------------------- */

void neg_varint_put(strbuf *sb, uint64_t v) {
  unsigned char b[VARINT_MAX];
  size_t n = varint_encode(v, b);
  strbuf_append(sb, (const char *)b, n);
}

int neg_varint_get(const unsigned char **pp, const unsigned char *end,
                   uint64_t *pv, const char **pzReason) {
  const unsigned char *p = *pp;
  uint64_t v = 0;
  for (int i = 0;; i++) {
    if (i == VARINT_MAX) { *pzReason = "varint longer than 10 bytes"; return -1; }
    if (p >= end) { *pzReason = "truncated varint"; return -1; }
    unsigned char c = *p++;
    if (v > (UINT64_MAX >> 7)) { *pzReason = "varint above 2^64-1"; return -1; }
    v = v << 7 | (c & 0x7f);
    if (!(c & 0x80)) break;
  }
  *pp = p;
  *pv = v;
  return 0;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int neg_hex_decode(const char *z, size_t n, unsigned char **pOut,
                   size_t *pnOut, const char **pzReason) {
  *pOut = NULL;
  *pnOut = 0;
  if (n < 2) { *pzReason = "empty message"; return HIROBA_EINVAL; }
  if (n % 2) { *pzReason = "odd number of hex digits"; return HIROBA_EINVAL; }
  unsigned char *p = malloc(n / 2);
  if (!p) return HIROBA_ENOMEM;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hex_value(z[2 * i]), lo = hex_value(z[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      free(p);
      *pzReason = "not lowercase hex";
      return HIROBA_EINVAL;
    }
    p[i] = (unsigned char)(hi << 4 | lo);
  }
  *pOut = p;
  *pnOut = n / 2;
  return 0;
}

/* --- bounds --------------------------------------------------------------- */

/* One message being read and one being written (timestamps are
** delta-encoded, and the deltas restart with each message). */
typedef struct ctx {
  const neg_set *set;        /* our items */
  int isInitiator;           /* our role */
  size_t nFrame;             /* frame limit, 0 for none */
  const unsigned char *p;    /* next unread byte of the message */
  const unsigned char *end;  /* end of the message */
  uint64_t lastIn;           /* previous timestamp read */
  uint64_t lastOut;          /* previous timestamp written */
  const char *zReason;       /* why the message was refused */
} ctx;

static int bound_cmp(const bound *a, const bound *b) {
  if (a->ts != b->ts) return a->ts < b->ts ? -1 : 1;
  return memcmp(a->id, b->id, NEG_ID_SIZE);
}

/* An item sorts before a bound (ids compared with the prefix zero-padded,
** which orders exactly as the reference's prefix comparison). */
static int item_below(const neg_item *it, const bound *b) {
  if (it->ts != b->ts) return it->ts < b->ts;
  return memcmp(it->id, b->id, NEG_ID_SIZE) < 0;
}

/* The first index in [lo, hi) whose item is not below b, or hi. */
static size_t lower_bound(const neg_set *set, size_t lo, size_t hi, const bound *b) {
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (item_below(&set->aItem[mid], b)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static void bound_infinity(bound *b) {
  memset(b, 0, sizeof *b);
  b->ts = NEG_INFINITY;
}

static void bound_of_item(bound *b, const neg_item *it) {
  b->ts = it->ts;
  memcpy(b->id, it->id, NEG_ID_SIZE);
  b->nId = NEG_ID_SIZE;
}

/* The shortest bound above prev and at most cur (two adjacent items). */
static void bound_between(bound *b, const neg_item *prev, const neg_item *cur) {
  memset(b, 0, sizeof *b);
  b->ts = cur->ts;
  if (cur->ts == prev->ts) {
    size_t k = 0;
    while (k < NEG_ID_SIZE && cur->id[k] == prev->id[k]) k++;
    /* Distinct items with one timestamp differ somewhere: k < 32. */
    b->nId = k + 1;
    memcpy(b->id, cur->id, b->nId);
  }
}

static void put_bound(ctx *c, strbuf *o, const bound *b) {
  if (b->ts == NEG_INFINITY) {
    neg_varint_put(o, 0);
    c->lastOut = NEG_INFINITY;
  } else {
    /* Bounds are written in ascending order, so the delta is >= 0. */
    neg_varint_put(o, b->ts - c->lastOut + 1);
    c->lastOut = b->ts;
  }
  neg_varint_put(o, b->nId);
  strbuf_append(o, (const char *)b->id, b->nId);
}

static int get_varint(ctx *c, uint64_t *pv) {
  return neg_varint_get(&c->p, c->end, pv, &c->zReason);
}

static int get_bound(ctx *c, bound *b) {
  uint64_t t, n;
  if (get_varint(c, &t)) return -1;
  memset(b, 0, sizeof *b);
  if (t == 0) {
    b->ts = NEG_INFINITY;
  } else {
    if (t - 1 > NEG_INFINITY - c->lastIn) {
      c->zReason = "timestamp past infinity";
      return -1;
    }
    b->ts = c->lastIn + (t - 1);
  }
  c->lastIn = b->ts;
  if (get_varint(c, &n)) return -1;
  if (n > NEG_ID_SIZE) { c->zReason = "bound id prefix longer than 32 bytes"; return -1; }
  if ((size_t)(c->end - c->p) < n) { c->zReason = "truncated bound"; return -1; }
  memcpy(b->id, c->p, (size_t)n);
  b->nId = (size_t)n;
  c->p += n;
  return 0;
}

/* --- messages ------------------------------------------------------------ */

static int exceeded(const ctx *c, size_t n) {
  return c->nFrame && n > c->nFrame - FRAME_SLACK;
}

/* Describes our items [lo, hi), up to bound ub: one id list when small,
** else 16 fingerprinted buckets. */
static void split_range(ctx *c, size_t lo, size_t hi, const bound *ub, strbuf *o) {
  const neg_set *set = c->set;
  size_t n = hi - lo;
  if (n < IDLIST_BELOW) {
    put_bound(c, o, ub);
    neg_varint_put(o, MODE_IDLIST);
    neg_varint_put(o, n);
    for (size_t i = lo; i < hi; i++) {
      strbuf_append(o, (const char *)set->aItem[i].id, NEG_ID_SIZE);
    }
    return;
  }
  size_t per = n / BUCKETS, extra = n % BUCKETS, cur = lo;
  for (size_t i = 0; i < BUCKETS; i++) {
    size_t size = per + (i < extra ? 1 : 0);
    unsigned char fp[NEG_FP_SIZE];
    neg_set_fingerprint(set, cur, cur + size, fp);
    cur += size;
    bound nb;
    if (cur == hi) nb = *ub;
    else bound_between(&nb, &set->aItem[cur - 1], &set->aItem[cur]);
    put_bound(c, o, &nb);
    neg_varint_put(o, MODE_FINGERPRINT);
    strbuf_append(o, (const char *)fp, NEG_FP_SIZE);
  }
}

static int id_cmp(const void *a, const void *b) { return memcmp(a, b, NEG_ID_SIZE); }

/* The initiator's side of an id list: our items [lo, hi) against the
** peer's n ids at pTheirs. Appends ours they lack to have, theirs we lack
** to need, each once. */
static int diff_ids(const neg_set *set, size_t lo, size_t hi,
                    const unsigned char *pTheirs, size_t n,
                    strbuf *have, strbuf *need) {
  size_t nOurs = hi - lo;
  unsigned char *theirs = NULL, *ours = NULL;
  if (n) {
    theirs = malloc(n * NEG_ID_SIZE);
    if (!theirs) return HIROBA_ENOMEM;
    memcpy(theirs, pTheirs, n * NEG_ID_SIZE);
    qsort(theirs, n, NEG_ID_SIZE, id_cmp);
  }
  if (nOurs) {
    ours = malloc(nOurs * NEG_ID_SIZE);
    if (!ours) { free(theirs); return HIROBA_ENOMEM; }
    for (size_t i = 0; i < nOurs; i++) {
      memcpy(ours + i * NEG_ID_SIZE, set->aItem[lo + i].id, NEG_ID_SIZE);
    }
    qsort(ours, nOurs, NEG_ID_SIZE, id_cmp);
  }
  /* A merge of the two sorted lists; an id listed twice (by a peer, or in
  ** our set under two timestamps) is taken once: copies are adjacent. */
  size_t i = 0, j = 0;
  while (i < nOurs || j < n) {
    const unsigned char *a = i < nOurs ? ours + i * NEG_ID_SIZE : NULL;
    const unsigned char *b = j < n ? theirs + j * NEG_ID_SIZE : NULL;
    int d = !a ? 1 : !b ? -1 : memcmp(a, b, NEG_ID_SIZE);
    if (d < 0) strbuf_append(have, (const char *)a, NEG_ID_SIZE);
    if (d > 0) strbuf_append(need, (const char *)b, NEG_ID_SIZE);
    if (d <= 0) {
      while (i < nOurs && memcmp(ours + i * NEG_ID_SIZE, a, NEG_ID_SIZE) == 0) i++;
    }
    if (d >= 0) {
      while (j < n && memcmp(theirs + j * NEG_ID_SIZE, b, NEG_ID_SIZE) == 0) j++;
    }
  }
  free(theirs);
  free(ours);
  return have->oom || need->oom ? HIROBA_ENOMEM : 0;
}

int neg_initiate(const neg_set *set, size_t nFrame, strbuf *out) {
  ctx c;
  memset(&c, 0, sizeof c);
  c.set = set;
  c.isInitiator = 1;
  c.nFrame = nFrame;
  bound inf;
  bound_infinity(&inf);
  strbuf_putc(out, (char)NEG_VERSION);
  /* At most 16 fingerprints or 31 ids: always far below the limit. */
  split_range(&c, 0, set->nItem, &inf, out);
  return out->oom ? HIROBA_ENOMEM : 0;
}

int neg_reconcile(const neg_set *set, int isInitiator, size_t nFrame,
                  const unsigned char *msg, size_t nMsg, strbuf *out,
                  strbuf *have, strbuf *need, const char **pzReason) {
  ctx c;
  memset(&c, 0, sizeof c);
  c.set = set;
  c.isInitiator = isInitiator;
  c.nFrame = nFrame && nFrame < NEG_FRAME_MIN ? NEG_FRAME_MIN : nFrame;
  c.p = msg;
  c.end = msg + nMsg;
  c.zReason = "bad message";

  size_t base = out->n;   /* our reply starts here in out */
  strbuf o;               /* the current range's output */
  strbuf_init(&o);
  int rc = 0;

  if (nMsg == 0) { *pzReason = "empty message"; return HIROBA_EINVAL; }
  unsigned char version = *c.p++;
  if (version < 0x60 || version > 0x6f) {
    *pzReason = "not a negentropy message (bad version byte)";
    return HIROBA_EINVAL;
  }
  strbuf_putc(out, (char)NEG_VERSION);
  if (version != NEG_VERSION) {
    if (isInitiator) {
      *pzReason = "the peer does not speak negentropy protocol version 1";
      return HIROBA_EINVAL;
    }
    return out->oom ? HIROBA_ENOMEM : 0;
  }

  const size_t nItem = set->nItem;
  bound prev;              /* upper bound of the previous range */
  memset(&prev, 0, sizeof prev);
  size_t prevIndex = 0;    /* our first item at or above prev */
  size_t writtenIndex = 0; /* our first item above the last bound written */
  int skip = 0;            /* a Skip up to prev is pending */
  int first = 1;           /* no range read yet */
  int atInfinity = 0;      /* the last bound written is infinity */

  while (c.p < c.end) {
    bound cur;
    uint64_t mode;
    int skipBefore = skip;        /* ranges up to prev settled, unwritten */
    uint64_t lastOut = c.lastOut; /* the delta base, should o be dropped */
    o.n = 0;
    if (get_bound(&c, &cur) || get_varint(&c, &mode)) goto bad;
    if (!first) {
      /* Ranges ascend. The one repeat allowed is an empty range at
      ** infinity: the reference writes one when a message fills up just
      ** as its last range (an id list up to infinity) is written. */
      int d = bound_cmp(&cur, &prev);
      if (d < 0 || (d == 0 && cur.ts != NEG_INFINITY)) {
        c.zReason = "bounds not increasing";
        goto bad;
      }
    }
    first = 0;

    size_t lower = prevIndex;
    size_t upper = lower_bound(set, prevIndex, nItem, &cur);

    if (mode == MODE_SKIP) {
      skip = 1;
    } else if (mode == MODE_FINGERPRINT) {
      unsigned char ours[NEG_FP_SIZE];
      if ((size_t)(c.end - c.p) < NEG_FP_SIZE) { c.zReason = "truncated fingerprint"; goto bad; }
      neg_set_fingerprint(set, lower, upper, ours);
      if (memcmp(ours, c.p, NEG_FP_SIZE) != 0) {
        if (skip) { put_bound(&c, &o, &prev); neg_varint_put(&o, MODE_SKIP); skip = 0; }
        split_range(&c, lower, upper, &cur, &o);
      } else {
        skip = 1;
      }
      c.p += NEG_FP_SIZE;
    } else if (mode == MODE_IDLIST) {
      uint64_t n;
      if (get_varint(&c, &n)) goto bad;
      if (n > (uint64_t)(c.end - c.p) / NEG_ID_SIZE) { c.zReason = "id list longer than the message"; goto bad; }
      const unsigned char *pTheirs = c.p;
      c.p += n * NEG_ID_SIZE;
      if (isInitiator) {
        rc = diff_ids(set, lower, upper, pTheirs, (size_t)n, have, need);
        if (rc) goto done;
        skip = 1;
      } else {
        /* Answer with our ids of the range, as many as the frame holds;
        ** the range then ends at the first id left out. The first id
        ** always goes in (the slack has room for it): cut before it, the
        ** range would end at our first item, which can be prev itself
        ** (a peer's bound may be a whole id), and bounds must ascend. */
        if (skip) { put_bound(&c, &o, &prev); neg_varint_put(&o, MODE_SKIP); skip = 0; }
        bound end = cur;
        size_t count = 0;
        for (size_t i = lower; i < upper; i++) {
          if (count && exceeded(&c, out->n - base + o.n + count * NEG_ID_SIZE)) {
            bound_of_item(&end, &set->aItem[i]);
            upper = i;
            break;
          }
          count++;
        }
        put_bound(&c, &o, &end);
        neg_varint_put(&o, MODE_IDLIST);
        neg_varint_put(&o, count);
        for (size_t i = lower; i < lower + count; i++) {
          strbuf_append(&o, (const char *)set->aItem[i].id, NEG_ID_SIZE);
        }
        strbuf_append(out, o.z, o.n);
        o.n = 0;
        writtenIndex = upper;
        atInfinity = end.ts == NEG_INFINITY;
      }
    } else {
      c.zReason = "unknown range mode";
      goto bad;
    }

    if (exceeded(&c, out->n - base + o.n)) {
      /* Out of room: this range's output is dropped. The ranges settled
      ** before it are closed with a Skip (so the peer does not reopen
      ** them), then one fingerprint covers everything after, which the
      ** peer splits in its next message. */
      if (o.n && skipBefore) {
        c.lastOut = lastOut;
        put_bound(&c, out, &prev);
        neg_varint_put(out, MODE_SKIP);
        writtenIndex = prevIndex;
        atInfinity = prev.ts == NEG_INFINITY;
      }
      if (!atInfinity) {
        unsigned char fp[NEG_FP_SIZE];
        bound inf;
        bound_infinity(&inf);
        neg_set_fingerprint(set, writtenIndex, nItem, fp);
        put_bound(&c, out, &inf);
        neg_varint_put(out, MODE_FINGERPRINT);
        strbuf_append(out, (const char *)fp, NEG_FP_SIZE);
      }
      break;
    }
    if (o.n) {
      /* o ends with a split up to cur. */
      strbuf_append(out, o.z, o.n);
      writtenIndex = upper;
      atInfinity = cur.ts == NEG_INFINITY;
    }
    prevIndex = upper;
    prev = cur;
  }
  rc = out->oom || o.oom ? HIROBA_ENOMEM : 0;
  goto done;

bad:
  *pzReason = c.zReason;
  rc = HIROBA_EINVAL;
done:
  strbuf_free(&o);
  return rc;
}
