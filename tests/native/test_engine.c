/*
** test_engine.c -- the public API (hiroba.h) end to end, natively, under
** AddressSanitizer + UBSan: open, identity, post, query, merge between two
** databases, REQ answers, the storage rules, reopen.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "hiroba.h"

static char zDir[] = "/tmp/hiroba-test-engine-XXXXXX";

/* Path of a file in the test folder (static buffer, one at a time). */
static const char *path(const char *zName) {
  static char z[256];
  snprintf(z, sizeof z, "%s/%s", zDir, zName);
  return z;
}

static int contains(const char *z, const char *zNeedle) {
  return z && strstr(z, zNeedle) != NULL;
}

/* Number of top-level elements in a JSON array of objects (counts the
** objects' opening braces at depth 1; good enough for our own output). */
static int count_objects(const char *z) {
  int depth = 0, n = 0, inStr = 0;
  for (; z && *z; z++) {
    if (inStr) {
      if (*z == '\\') z++;
      else if (*z == '"') inStr = 0;
      continue;
    }
    if (*z == '"') inStr = 1;
    else if (*z == '[' || *z == '{') { if (depth++ == 1 && *z == '{') n++; }
    else if (*z == ']' || *z == '}') depth--;
  }
  return n;
}

/* Merges a frame and returns the result text (caller frees). */
static char *merge(int db, const char *zFmt, const char *zArg) {
  char *zFrame = malloc(strlen(zFmt) + strlen(zArg) + 1);
  sprintf(zFrame, zFmt, zArg);
  char *z = hiroba_merge(db, zFrame);
  free(zFrame);
  return z;
}

static void remove_db(const char *zName) {
  char z[300];
  snprintf(z, sizeof z, "%s", path(zName));
  unlink(z);
  strcat(z, "-wal");
  unlink(z);
  snprintf(z, sizeof z, "%s-journal", path(zName));
  unlink(z);
}

int main(void) {
  CHECK(mkdtemp(zDir) != NULL);

  /* Bad arguments get codes, never crashes. */
  CHECK(hiroba_open("") == HIROBA_EINVAL);
  CHECK(hiroba_open(NULL) == HIROBA_EINVAL);
  CHECK(hiroba_close(99) == HIROBA_EHANDLE);
  CHECK(hiroba_query(99, "{}") == NULL && hiroba_errcode() == HIROBA_EHANDLE);
  CHECK(hiroba_post(0, "{}") == NULL);
  CHECK(contains(hiroba_constants(), "\"HIROBA_EREJECTED\":-9"));

  int a = hiroba_open(path("a.db"));
  int b = hiroba_open(path("b.db"));
  CHECK(a > 0 && b > 0 && a != b);

  char *zIdA = hiroba_identity(a);
  char *zIdB = hiroba_identity(b);
  CHECK(contains(zIdA, "{\"pubkey\":\"") && strlen(zIdA) == 77);
  CHECK(zIdA && zIdB && strcmp(zIdA, zIdB) != 0);

  /* Drafts are checked. */
  CHECK(hiroba_post(a, "not json") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(hiroba_post(a, "{\"kind\":-1}") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(hiroba_post(a, "{\"kind\":1,\"tags\":[[1]]}") == NULL);
  CHECK(hiroba_post(a, "{\"kind\":1,\"content\":7}") == NULL);

  char *zPost = hiroba_post(a, "{\"kind\":1,\"content\":\"hello \\\"world\\\"\\n\",\"tags\":[[\"t\",\"hi\"]]}");
  CHECK(contains(zPost, "\"content\":\"hello \\\"world\\\"\\n\""));
  CHECK(contains(zPost, "\"kind\":1") && contains(zPost, "\"sig\":\""));
  char zId[65] = {0};
  if (zPost) memcpy(zId, strstr(zPost, "\"id\":\"") + 6, 64);

  /* Query: by id, by tag, by kind, by author. */
  char zFilter[200];
  snprintf(zFilter, sizeof zFilter, "{\"ids\":[\"%s\"]}", zId);
  char *zq = hiroba_query(a, zFilter);
  CHECK(count_objects(zq) == 1 && contains(zq, zId));
  hiroba_free(zq);
  zq = hiroba_query(a, "{\"#t\":[\"hi\"]}");
  CHECK(count_objects(zq) == 1);
  hiroba_free(zq);
  zq = hiroba_query(a, "[{\"kinds\":[7]},{\"kinds\":[1]}]");
  CHECK(count_objects(zq) == 1);
  hiroba_free(zq);
  CHECK(hiroba_query(a, "{\"search\":\"x\"}") == NULL && hiroba_errcode() == HIROBA_EINVAL);
  CHECK(contains(hiroba_errmsg(), "unsupported"));
  CHECK(hiroba_query(a, "{\"ids\":[\"ABC\"]}") == NULL);

  /* A's post merged into B: accepted, then a duplicate. */
  char *zr = merge(b, "[\"EVENT\",%s]", zPost);
  CHECK(contains(zr, "\"accepted\":[\"") && contains(zr, "[\"OK\",\""));
  CHECK(contains(zr, "\",true,\"\"]"));
  hiroba_free(zr);
  zr = merge(b, "[\"EVENT\",%s]", zPost);
  CHECK(contains(zr, "\"duplicates\":1") && contains(zr, "duplicate:"));
  hiroba_free(zr);

  /* A forged signature is rejected with OK false, and not stored. */
  char *zForged = strdup(zPost);
  char *pSig = strstr(zForged, "\"sig\":\"") + 7;
  *pSig = *pSig == '0' ? '1' : '0';
  char *zForged2 = strdup(zForged);
  char *pContent = strstr(zForged2, "hello");
  pContent[0] = 'j';
  zr = merge(b, "[\"EVENT\",%s]", zForged2);
  CHECK(contains(zr, "id does not match") || contains(zr, "invalid:"));
  CHECK(contains(zr, "\"accepted\":[]"));
  hiroba_free(zr);
  int c = hiroba_open(path("c.db"));
  zr = merge(c, "[\"EVENT\",%s]", zForged);
  CHECK(contains(zr, "bad signature") && contains(zr, ",false,"));
  hiroba_free(zr);
  zq = hiroba_query(c, "{}");
  CHECK(zq && strcmp(zq, "[]") == 0);
  hiroba_free(zq);
  free(zForged);
  free(zForged2);

  /* REQ: stored events then EOSE; a bad filter closes the subscription. */
  zr = hiroba_merge(b, "[\"REQ\",\"s1\",{\"kinds\":[1]}]");
  CHECK(contains(zr, "[\"EVENT\",\"s1\",{") && contains(zr, "[\"EOSE\",\"s1\"]"));
  hiroba_free(zr);
  zr = hiroba_merge(b, "[\"REQ\",\"s2\",{\"limit\":-1}]");
  CHECK(contains(zr, "[\"CLOSED\",\"s2\",\"invalid:"));
  hiroba_free(zr);
  zr = hiroba_merge(b, "[\"FOO\"]");
  CHECK(contains(zr, "\"NOTICE\"") && contains(zr, "unknown frame type"));
  hiroba_free(zr);

  /* Replaceable: two updates within a second both count, newest kept. */
  char *zF1 = hiroba_post(a, "{\"kind\":3,\"content\":\"\",\"tags\":[[\"p\",\"aa\"]]}");
  char *zF2 = hiroba_post(a, "{\"kind\":3,\"content\":\"\",\"tags\":[[\"p\",\"bb\"]]}");
  CHECK(zF1 && zF2);
  zq = hiroba_query(a, "{\"kinds\":[3]}");
  CHECK(count_objects(zq) == 1 && contains(zq, "\"bb\""));
  hiroba_free(zq);
  /* B receives them out of order: the older one is refused as replaced. */
  zr = merge(b, "[\"EVENT\",%s]", zF2);
  CHECK(contains(zr, "\"accepted\":[\""));
  hiroba_free(zr);
  zr = merge(b, "[\"EVENT\",%s]", zF1);
  CHECK(contains(zr, "replaced:"));
  hiroba_free(zr);

  /* Deletion: A deletes its post; B applies it; the post never returns. */
  char zDraft[300];
  snprintf(zDraft, sizeof zDraft, "{\"kind\":5,\"content\":\"\",\"tags\":[[\"e\",\"%s\"]]}", zId);
  char *zDel = hiroba_post(a, zDraft);
  CHECK(zDel != NULL);
  zq = hiroba_query(a, zFilter);
  CHECK(zq && strcmp(zq, "[]") == 0);
  hiroba_free(zq);
  zr = merge(b, "[\"EVENT\",%s]", zDel);
  CHECK(contains(zr, "\"accepted\":[\""));
  hiroba_free(zr);
  zr = merge(b, "[\"EVENT\",%s]", zPost);
  CHECK(contains(zr, "blocked:") && contains(zr, "\"accepted\":[]"));
  hiroba_free(zr);
  /* A deletion arriving first blocks its target too. */
  zr = merge(c, "[\"EVENT\",%s]", zDel);
  hiroba_free(zr);
  zr = merge(c, "[[\"EVENT\",%s]]", zPost);
  CHECK(contains(zr, "blocked:"));
  hiroba_free(zr);

  /* A deleted newest version of a replaceable kind: every arrival order
  ** ends with the same (empty) slot. */
  {
    char *zV1 = hiroba_post(a, "{\"kind\":0,\"content\":\"{}\",\"tags\":[]}");
    char *zV2 = hiroba_post(a, "{\"kind\":0,\"content\":\"{\\\"name\\\":\\\"x\\\"}\",\"tags\":[]}");
    CHECK(zV1 && zV2);
    char zV2Id[65] = {0};
    if (zV2) memcpy(zV2Id, strstr(zV2, "\"id\":\"") + 6, 64);
    snprintf(zDraft, sizeof zDraft, "{\"kind\":5,\"content\":\"\",\"tags\":[[\"e\",\"%s\"]]}", zV2Id);
    char *zD = hiroba_post(a, zDraft);
    CHECK(zD != NULL);
    const char *aOrder[3][3] = {{zV1, zV2, zD}, {zD, zV1, zV2}, {zV2, zD, zV1}};
    for (int i = 0; i < 3; i++) {
      char zName[16];
      snprintf(zName, sizeof zName, "slot%d.db", i);
      int x = hiroba_open(path(zName));
      for (int j = 0; j < 3; j++) hiroba_free(merge(x, "[\"EVENT\",%s]", aOrder[i][j]));
      zq = hiroba_query(x, "{\"kinds\":[0]}");
      CHECK(zq && strcmp(zq, "[]") == 0);
      hiroba_free(zq);
      hiroba_close(x);
      remove_db(zName);
    }
    hiroba_free(zV1); hiroba_free(zV2); hiroba_free(zD);
  }

  /* Mute: B mutes A; A's events go and stay away. */
  char zPk[65] = {0};
  memcpy(zPk, zIdA + 11, 64);
  snprintf(zDraft, sizeof zDraft, "{\"kind\":10000,\"content\":\"\",\"tags\":[[\"p\",\"%s\"]]}", zPk);
  char *zMute = hiroba_post(b, zDraft);
  CHECK(zMute != NULL);
  snprintf(zFilter, sizeof zFilter, "{\"authors\":[\"%s\"]}", zPk);
  zq = hiroba_query(b, zFilter);
  CHECK(zq && strcmp(zq, "[]") == 0);
  hiroba_free(zq);
  char *zLater = hiroba_post(a, "{\"kind\":1,\"content\":\"still here\"}");
  zr = merge(b, "[\"EVENT\",%s]", zLater);
  CHECK(contains(zr, "blocked: author is muted"));
  hiroba_free(zr);

  /* Close and reopen: identity and events persist. */
  CHECK(hiroba_close(a) == 0);
  CHECK(hiroba_close(a) == HIROBA_EHANDLE);
  a = hiroba_open(path("a.db"));
  char *zIdA2 = hiroba_identity(a);
  CHECK(zIdA2 && strcmp(zIdA, zIdA2) == 0);
  zq = hiroba_query(a, "{\"kinds\":[1]}");
  CHECK(count_objects(zq) == 1 && contains(zq, "still here"));
  hiroba_free(zq);

  /* U+0000 and a lone surrogate (a truncated emoji): kept, printed back
  ** as JSON.stringify escapes them (lowercase), and found by tag filters
  ** spelled with the same escapes in either case. */
  char *zOdd = hiroba_post(c, "{\"kind\":1,\"content\":\"cut \\uD83D and \\u0000\","
                              "\"tags\":[[\"t\",\"\\ud83d\\u0000\"]]}");
  CHECK(contains(zOdd, "\"content\":\"cut \\ud83d and \\u0000\""));
  CHECK(contains(zOdd, "[[\"t\",\"\\ud83d\\u0000\"]]"));
  zq = hiroba_query(c, "{\"#t\":[\"\\uD83D\\u0000\"]}");
  CHECK(zOdd && count_objects(zq) == 1 && contains(zq, zOdd));
  hiroba_free(zq);
  zq = hiroba_query(c, "{\"#t\":[\"\\ud83d\"]}");
  CHECK(zq && strcmp(zq, "[]") == 0);
  hiroba_free(zq);
  zr = merge(b, "[\"EVENT\",%s]", zOdd ? zOdd : "null");
  CHECK(contains(zr, "\",true,\"\"]"));
  hiroba_free(zr);
  zr = hiroba_merge(b, "[\"REQ\",\"s\\udc00\",{\"#t\":[\"\\ud83d\\u0000\"]}]");
  CHECK(zOdd && contains(zr, "[\"EVENT\",\"s\\udc00\",") && contains(zr, zOdd));
  CHECK(contains(zr, "[\"EOSE\",\"s\\udc00\"]"));
  hiroba_free(zr);

  hiroba_free(zOdd);
  hiroba_free(zIdA); hiroba_free(zIdA2); hiroba_free(zIdB);
  hiroba_free(zPost); hiroba_free(zF1); hiroba_free(zF2); hiroba_free(zDel);
  hiroba_free(zMute); hiroba_free(zLater);
  hiroba_close(a); hiroba_close(b); hiroba_close(c);
  remove_db("a.db"); remove_db("b.db"); remove_db("c.db");
  rmdir(zDir);
  return check_report("test_engine");
}
