/*
** gen_events.c -- writes N real signed Nostr events for the load benchmark
** (bench/load-engine.bench.js), one ["EVENT",{...}] frame per line, and a
** JSON file of facts about them that the benchmark picks its queries from.
**
**   gen_events N events.ndjson meta.json
**
** The events look like a year of a small network: N/50 authors whose
** activity follows a power law (a few very busy accounts, a long tail),
** each with one profile (kind 0) and one follow list (kind 3, 5 to 300 p
** tags) written just before its first post; the rest are text notes
** (kind 1, ~72%: a third of them replies with NIP-10 e/p tags, some with
** a hashtag) and reactions (kind 7: e and p tags), whose targets lean
** towards recent posts, so that some posts gather many replies. created_at
** runs over the year ending at T_END, in file order (with a minute of
** jitter), always in the past.
**
** Everything is deterministic: keys come from SHA-256 of a fixed seed and
** the author number, choices from a seeded PRNG, and signatures use no
** auxiliary randomness (BIP-340 allows it; the engine does not care how a
** signature was made), so the same N always gives the same file.
**
** Ids are computed and events serialized by the engine's own code
** (event_compute_id, event_to_json); signing calls libsecp256k1 directly
** with one keypair kept per author, which is three times faster than
** event_sign (which re-derives the key and verifies each signature).
**
** The meta file also names what the negentropy part needs: a set of
** "followed" authors with about N/100 events between them, and 10 of
** their notes (spread over the year) that the second database withholds
** (fewer for a small N, whose followed set is too small to find 10).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "cJSON.h"
#include "event.h"
#include "secp256k1.h"
#include "secp256k1_extrakeys.h"
#include "secp256k1_schnorrsig.h"
#include "sha256.h"
#include "strbuf.h"

#define T_END 1750000000LL         /* 2025-06-15: the newest event */
#define SPAN (365LL * 86400)       /* a year of events */
#define RING 8192                  /* recent notes that replies/reactions pick from */
#define N_WITHHELD 10              /* notes the "minus 10" database lacks */
#define N_SAMPLE 1000              /* ids, authors and e-targets sampled for queries */

typedef struct author {
  secp256k1_keypair kp;            /* signing key */
  unsigned char pk[32];            /* x-only public key */
  long nEvents;                    /* events in the file, kinds 0 and 3 included */
  int seen;                        /* its profile and follows were written */
  int followed;                    /* in the followed set of the meta file */
} author;

typedef struct note {
  unsigned char id[32];            /* a recent kind-1 event */
  unsigned char root[32];          /* the thread's root (itself if none) */
  int iAuthor;                     /* who wrote it */
} note;

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;

/* splitmix64: small, fast, good enough for choosing words. */
static uint64_t rnd(void) {
  uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double rndf(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static long rndn(long n) { return (long)(rnd() % (uint64_t)n); }

static const char *const kWords[] = {
  "the", "a", "of", "and", "to", "in", "is", "it", "that", "for", "on", "with",
  "this", "just", "about", "nostr", "relay", "zap", "coffee", "morning", "code",
  "sqlite", "browser", "peer", "sync", "bitcoin", "music", "photo", "walk",
  "rain", "train", "book", "reading", "garden", "cat", "dog", "weekend",
  "working", "shipping", "release", "bug", "fixed", "today", "tomorrow",
  "really", "great", "nice", "thanks", "agree", "maybe", "never", "always",
  "people", "network", "open", "source", "privacy", "keys", "wasm", "rust",
  "c", "javascript", "lunch", "dinner", "city", "mountain", "sea", "river",
  "night", "sun", "moon", "東京", "広場", "café", "good", "bad", "new", "old",
};
#define N_WORDS (sizeof kWords / sizeof kWords[0])

static const char *const kTopics[] = {
  "nostr", "bitcoin", "photography", "music", "art", "dev", "foodstr",
  "plebchain", "grownostr", "books", "running", "coffee",
};
#define N_TOPICS (sizeof kTopics / sizeof kTopics[0])

static void words(strbuf *sb, int n) {
  for (int i = 0; i < n; i++) {
    if (i) strbuf_putc(sb, ' ');
    strbuf_puts(sb, kWords[rndn(N_WORDS)]);
  }
}

static void hex32(char out[65], const unsigned char *p) {
  static const char k[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = k[p[i] >> 4];
    out[2 * i + 1] = k[p[i] & 15];
  }
  out[64] = 0;
}

static void add_tag(cJSON *tags, const char *a, const char *b, const char *c,
                    const char *d) {
  const char *v[4] = {a, b, c, d};
  int n = d ? 4 : c ? 3 : 2;
  cJSON_AddItemToArray(tags, cJSON_CreateStringArray(v, n));
}

/* Signs ev (pubkey, created_at, kind, tags, content set) with the author's
** keypair and writes it as one frame line. */
static void emit(FILE *out, secp256k1_context *ctx, author *a, event *ev,
                 strbuf *line) {
  memcpy(ev->pubkey, a->pk, 32);
  if (event_compute_id(ev, ev->id) ||
      !secp256k1_schnorrsig_sign32(ctx, ev->sig, ev->id, &a->kp, NULL)) {
    fprintf(stderr, "gen_events: cannot sign\n");
    exit(1);
  }
  line->n = 0;
  strbuf_puts(line, "[\"EVENT\",");
  event_to_json(ev, line);
  strbuf_puts(line, "]\n");
  if (line->oom || fwrite(line->z, 1, line->n, out) != line->n) {
    fprintf(stderr, "gen_events: cannot write\n");
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: gen_events N events.ndjson meta.json\n");
    return 2;
  }
  long n = atol(argv[1]);
  if (n < 1000) { fprintf(stderr, "gen_events: N must be at least 1000\n"); return 2; }
  long nAuthors = n / 50;
  long nRest = n - 2 * nAuthors;   /* kinds 1 and 7 */

  secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  author *aAuthor = calloc((size_t)nAuthors, sizeof *aAuthor);
  long *aSeq = malloc((size_t)nRest * sizeof *aSeq);
  if (!ctx || !aAuthor || !aSeq) { fprintf(stderr, "gen_events: out of memory\n"); return 1; }

  /* Keys, and each author's share of the notes and reactions: weight
  ** 1/(rank+1)^0.8, at least one each. */
  double w = 0;
  for (long i = 0; i < nAuthors; i++) w += pow((double)(i + 1), -0.8);
  long given = 0;
  for (long i = 0; i < nAuthors; i++) {
    unsigned char seed[40], sk[32];
    memcpy(seed, "hiroba-bench-load-author", 24);
    memset(seed + 24, 0, 16);
    memcpy(seed + 24, &i, sizeof i);
    sha256(seed, sizeof seed, sk);
    secp256k1_xonly_pubkey xonly;
    if (!secp256k1_keypair_create(ctx, &aAuthor[i].kp, sk) ||
        !secp256k1_keypair_xonly_pub(ctx, &xonly, NULL, &aAuthor[i].kp) ||
        !secp256k1_xonly_pubkey_serialize(ctx, aAuthor[i].pk, &xonly)) {
      fprintf(stderr, "gen_events: bad key %ld\n", i);
      return 1;
    }
    long c = (long)((double)nRest * pow((double)(i + 1), -0.8) / w);
    if (c < 1) c = 1;
    aAuthor[i].nEvents = c;
    given += c;
  }
  for (long i = 0; given != nRest; i = (i + 1) % nAuthors) {
    if (given < nRest) { aAuthor[i].nEvents++; given++; }
    else if (aAuthor[i].nEvents > 1) { aAuthor[i].nEvents--; given--; }
  }
  long k = 0;
  for (long i = 0; i < nAuthors; i++) {
    for (long j = 0; j < aAuthor[i].nEvents; j++) aSeq[k++] = i;
    aAuthor[i].nEvents += 2;       /* profile and follow list */
  }
  for (long i = nRest - 1; i > 0; i--) {   /* Fisher-Yates */
    long j = rndn(i + 1), t = aSeq[i];
    aSeq[i] = aSeq[j];
    aSeq[j] = t;
  }

  /* The followed set: authors of every rank but the busiest 50 (every
  ** 71st from rank 50) up to about n/100 events: at N = 1,000,000, ~150
  ** accounts, what a user's follow list would sync. */
  long followTarget = n / 100, followEvents = 0, nFollowed = 0;
  for (long i = 50; i < nAuthors && followEvents < followTarget; i += 71) {
    aAuthor[i].followed = 1;
    followEvents += aAuthor[i].nEvents;
    nFollowed++;
  }

  FILE *out = fopen(argv[2], "wb");
  if (!out) { perror(argv[2]); return 1; }
  setvbuf(out, NULL, _IOFBF, 1 << 20);

  note *aRing = calloc(RING, sizeof *aRing);
  long *aMark = calloc((size_t)nAuthors, sizeof *aMark);   /* follow list being written */
  long nRing = 0;                   /* notes written so far */
  long line = 0, nKind[8] = {0};
  long withheldLine[N_WITHHELD];
  char withheldId[N_WITHHELD][65];
  int nWithheld = 0;
  char (*aSampleId)[65] = calloc(N_SAMPLE, 65);
  char (*aSampleAuthor)[65] = calloc(N_SAMPLE, 65);
  char (*aSampleTarget)[65] = calloc(N_SAMPLE, 65);
  long nSampleId = 0, nSampleTarget = 0, sampleEvery = n / N_SAMPLE;
  int64_t *aNoteTime = malloc((size_t)n * sizeof *aNoteTime);
  long nNoteTime = 0;
  int64_t cut1 = 0, cut2 = 0;       /* created_at at lines n/3 and 2n/3 */
  strbuf lineBuf, content;
  strbuf_init(&lineBuf);
  strbuf_init(&content);
  char hA[65], hB[65], hC[65];

  for (long s = 0; s < nRest; s++) {
    long ia = aSeq[s];
    author *a = &aAuthor[ia];
    for (int pass = 0; pass < 3; pass++) {
      if (pass < 2 && a->seen) continue;   /* profile and follows come first */
      event ev;
      memset(&ev, 0, sizeof ev);
      cJSON *tags = cJSON_CreateArray();
      content.n = 0;
      int kind;
      int isTarget = 0;
      note target;
      memset(&target, 0, sizeof target);
      if (pass == 0) {
        kind = 0;
        strbuf_puts(&content, "{\"name\":\"user");
        strbuf_int(&content, ia);
        strbuf_puts(&content, "\",\"about\":\"");
        words(&content, 5 + (int)rndn(15));
        strbuf_puts(&content, "\",\"picture\":\"https://example.com/avatar/");
        strbuf_int(&content, ia);
        strbuf_puts(&content, ".png\"}");
      } else if (pass == 1) {
        kind = 3;
        a->seen = 1;
        long nf = 5 + rndn(296);
        if (nf > nAuthors - 1) nf = nAuthors - 1;
        for (long f = 0; f < nf; f++) {
          long who = rndn(nAuthors);
          if (who == ia || aMark[who] == ia + 1) continue;   /* no one twice */
          aMark[who] = ia + 1;
          hex32(hA, aAuthor[who].pk);
          add_tag(tags, "p", hA, NULL, NULL);
        }
      } else {
        /* Reactions and replies need something to point at. */
        kind = nRing > 0 && rndf() < 0.28 ? 7 : 1;
        int replying = kind == 7 || (nRing > 0 && rndf() < 0.33);
        if (replying) {
          long have = nRing < RING ? nRing : RING;
          double u = rndf();
          long back = (long)((double)have * u * u * u);   /* recent ones, mostly */
          target = aRing[(nRing - 1 - back) % RING];
          isTarget = 1;
        }
        if (kind == 7) {
          hex32(hA, target.id);
          hex32(hB, aAuthor[target.iAuthor].pk);
          add_tag(tags, "e", hA, NULL, NULL);
          add_tag(tags, "p", hB, NULL, NULL);
          double u = rndf();
          strbuf_puts(&content, u < 0.75 ? "+" : u < 0.85 ? "🤙" : u < 0.95 ? "❤️" : "-");
        } else {
          if (isTarget) {
            hex32(hA, target.root);
            hex32(hB, target.id);
            hex32(hC, aAuthor[target.iAuthor].pk);
            add_tag(tags, "e", hA, "", "root");
            if (memcmp(target.root, target.id, 32)) add_tag(tags, "e", hB, "", "reply");
            add_tag(tags, "p", hC, NULL, NULL);
          }
          words(&content, 3 + (int)rndn(38));
          if (rndf() < 0.15) {
            const char *t = kTopics[rndn(N_TOPICS)];
            strbuf_puts(&content, " #");
            strbuf_puts(&content, t);
            add_tag(tags, "t", t, NULL, NULL);
          }
        }
      }
      ev.kind = kind;
      ev.created_at = T_END - SPAN + (int64_t)((double)line * SPAN / n) + rndn(60);
      if (ev.created_at > T_END) ev.created_at = T_END;
      ev.tags = tags;
      ev.content = content.z;
      ev.ncontent = content.n;
      emit(out, ctx, a, &ev, &lineBuf);

      if (kind == 1) {
        note *nt = &aRing[nRing % RING];
        memcpy(nt->id, ev.id, 32);
        memcpy(nt->root, isTarget ? target.root : ev.id, 32);
        nt->iAuthor = (int)ia;
        nRing++;
        aNoteTime[nNoteTime++] = ev.created_at;
        if (a->followed && nWithheld < N_WITHHELD &&
            line >= (2 * nWithheld + 1) * (n / (2 * N_WITHHELD))) {
          withheldLine[nWithheld] = line;
          hex32(withheldId[nWithheld], ev.id);
          nWithheld++;
        }
      }
      if (line % sampleEvery == 0 && nSampleId < N_SAMPLE) {
        hex32(aSampleId[nSampleId], ev.id);
        hex32(aSampleAuthor[nSampleId], a->pk);
        nSampleId++;
      }
      if (kind == 7 && nSampleTarget < N_SAMPLE && rndf() < 4.0 * N_SAMPLE / n) {
        hex32(aSampleTarget[nSampleTarget++], target.id);
      }
      if (line == n / 3) cut1 = ev.created_at;
      if (line == 2 * n / 3) cut2 = ev.created_at;
      nKind[kind == 0 ? 0 : kind == 3 ? 3 : kind == 1 ? 1 : 7]++;
      line++;
      cJSON_Delete(tags);
    }
  }
  if (fclose(out)) { perror(argv[2]); return 1; }
  if (line != n) {
    fprintf(stderr, "gen_events: wrote %ld events, expected %ld\n", line, n);
    return 1;
  }

  FILE *meta = fopen(argv[3], "wb");
  if (!meta) { perror(argv[3]); return 1; }
  fprintf(meta, "{\"n\":%ld,\"authors\":%ld,\"t0\":%lld,\"tEnd\":%lld,"
          "\"kinds\":{\"0\":%ld,\"1\":%ld,\"3\":%ld,\"7\":%ld},"
          "\"cuts\":[%lld,%lld],\"since1000Notes\":%lld,\"followedEvents\":%ld,",
          n, nAuthors, (long long)(T_END - SPAN), (long long)T_END,
          nKind[0], nKind[1], nKind[3], nKind[7], (long long)cut1, (long long)cut2,
          (long long)(nNoteTime >= 1000 ? aNoteTime[nNoteTime - 1000] : 0), followEvents);
  fprintf(meta, "\"followed\":[");
  for (long i = 0, c = 0; i < nAuthors; i++) {
    if (!aAuthor[i].followed) continue;
    hex32(hA, aAuthor[i].pk);
    fprintf(meta, "%s\"%s\"", c++ ? "," : "", hA);
  }
  fprintf(meta, "],\"withheld\":[");
  for (int i = 0; i < nWithheld; i++) {
    fprintf(meta, "%s{\"line\":%ld,\"id\":\"%s\"}", i ? "," : "", withheldLine[i], withheldId[i]);
  }
  fprintf(meta, "],\"sampleIds\":[");
  for (long i = 0; i < nSampleId; i++) fprintf(meta, "%s\"%s\"", i ? "," : "", aSampleId[i]);
  fprintf(meta, "],\"sampleAuthors\":[");
  for (long i = 0; i < nSampleId; i++) fprintf(meta, "%s\"%s\"", i ? "," : "", aSampleAuthor[i]);
  fprintf(meta, "],\"sampleTargets\":[");
  for (long i = 0; i < nSampleTarget; i++) fprintf(meta, "%s\"%s\"", i ? "," : "", aSampleTarget[i]);
  fprintf(meta, "],\"followedCount\":%ld}\n", nFollowed);
  if (fclose(meta)) { perror(argv[3]); return 1; }
  fprintf(stderr, "gen_events: %ld events by %ld authors (kind 1: %ld, 7: %ld)\n",
          n, nAuthors, nKind[1], nKind[7]);
  strbuf_free(&lineBuf);
  strbuf_free(&content);
  secp256k1_context_destroy(ctx);
  return 0;
}
