/*
** query.c -- NIP-01 filters to SQL: store_query() of store.h.
**
** Each filter becomes one SELECT over the event table; several filters are
** OR-ed with UNION (which also drops an event matched twice) and the whole
** is ordered newest first, ties by lowest id. A filter first picks the
** keys of its newest `limit` matches, from an index where one holds every
** column it names (store.c lists them; test_plan checks the plans), and
** only those rows are read for their json, in that order. A count (NIP-45) is the same
** UNION over `seq` alone, unordered and without limits, under count(*):
** the indexes on event (and the tag table for #x) answer it, and no row's
** json is read (a filter of tags alone never touches the event table). Lists (ids, authors, kinds,
** tag values) are bound as one parameter each and read with hiroba_list()
** (sql_list.h), so a filter of any length needs a fixed number of SQL
** parameters and no statement text grows with the data: the text repeats
** for queries of one shape, and the store keeps the last few prepared
** (store_stmt_acquire).
**
** Filters come from peers: every field is checked before any SQL is built,
** and unknown fields are refused rather than ignored, so that a client
** asking for something we do not support (NIP-50 "search", say) gets an
** error and not a wrong answer.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "hiroba.h"
#include "json.h"
#include "sql_list.h"
#include "store_internal.h"
#include "strbuf.h"

#define MAX_SAFE_INT 9007199254740991LL /* 2^53-1, JavaScript's safe limit */
#define MAX_FILTERS 64                  /* filters in one REQ */

typedef struct bind {
  char *zText;      /* owned text, or NULL */
  sql_list *pList;  /* owned list, or NULL */
  long long iValue; /* the integer when both are NULL */
} bind;

typedef struct builder {
  strbuf sql;       /* statement text so far */
  bind *aBind;      /* values for ?1.. in order */
  int nBind;        /* used entries of aBind */
  int nAlloc;       /* allocated entries of aBind */
  int oom;          /* an allocation failed */
} builder;

/* Adds a parameter and its placeholder. Takes over zText or pList
** (owned); an integer parameter has both NULL and isRef 0. */
static void add_param(builder *b, char *zText, sql_list *pList, int isRef, long long iValue) {
  if (isRef && !zText && !pList) { b->oom = 1; return; }
  if (b->nBind == b->nAlloc) {
    int n = b->nAlloc ? 2 * b->nAlloc : 16;
    bind *a = realloc(b->aBind, (size_t)n * sizeof *a);
    if (!a) { free(zText); sql_list_free(pList); b->oom = 1; return; }
    b->aBind = a;
    b->nAlloc = n;
  }
  b->aBind[b->nBind].zText = zText;
  b->aBind[b->nBind].pList = pList;
  b->aBind[b->nBind].iValue = iValue;
  b->nBind++;
  char z[16];
  snprintf(z, sizeof z, "?%d", b->nBind);
  strbuf_puts(&b->sql, z);
}

static void add_int(builder *b, long long v) { add_param(b, NULL, NULL, 0, v); }

/* " AND <zColumn> IN (...)" over a checked JSON array, as one parameter. */
static void add_list(builder *b, const char *zColumn, const cJSON *list, sql_list_type type) {
  strbuf_puts(&b->sql, " AND ");
  strbuf_puts(&b->sql, zColumn);
  strbuf_puts(&b->sql, " IN (SELECT value FROM hiroba_list(");
  add_param(b, NULL, sql_list_from_json(list, type), 1, 0);
  strbuf_puts(&b->sql, "))");
}

/* Checks that `list` is an array of lowercase 64-hex strings. */
static int check_hex_list(const cJSON *list) {
  if (!cJSON_IsArray(list)) return -1;
  const cJSON *it;
  unsigned char tmp[32];
  cJSON_ArrayForEach(it, list) {
    if (!cJSON_IsString(it) || hex_decode(it->valuestring, tmp, 32)) return -1;
  }
  return 0;
}

/* add_filter's columns for a query's answer: the event itself (json),
** and its keys to order by. */
#define COLS_EVENT "created_at, id, json"

/* add_filter's maxLimit for a count: every match, in no order; the
** filter's own limit is checked but ignored (NIP-45 counts all matches),
** and without ORDER BY nothing steers SQLite towards the time index. */
#define ALL_MATCHES (-2)

/* A "#x" key: a filter on a single-letter tag. */
static int is_tag_key(const char *k) {
  return k[0] == '#' && ((k[1] >= 'a' && k[1] <= 'z') ||
                         (k[1] >= 'A' && k[1] <= 'Z')) && k[2] == 0;
}

/* 1 when a filter names tags and nothing else but a limit. A count of
** such a filter reads the tag table alone: every tag row belongs to a
** stored event (store.c inserts and removes them together), so the
** event table's pages -- which hold the json -- are never visited. */
static int tags_only(const cJSON *f) {
  const cJSON *it;
  int nTag = 0;
  cJSON_ArrayForEach(it, f) {
    if (is_tag_key(it->string)) nTag++;
    else if (strcmp(it->string, "limit") != 0) return 0;
  }
  return nTag > 0;
}

/* 1 when kinds is an array of replaceable kinds only (and not empty). */
static int all_replaceable(const cJSON *kinds) {
  const cJSON *it;
  long long v;
  int n = 0;
  if (!cJSON_IsArray(kinds)) return 0;
  cJSON_ArrayForEach(it, kinds) {
    if (json_get_int(it, 0, 65535, &v) ||
        !event_kind_replaceable(v)) return 0;
    n++;
  }
  return n > 0;
}

/* Appends one filter's SELECT of the columns zCols (from the event
** table), newest first and at most maxLimit rows (-1: no cap but the
** filter's own limit; ALL_MATCHES above); 0, or -1 with *pzReason. */
static int add_filter(builder *b, const cJSON *f, int64_t maxLimit,
                      const char *zCols, const char **pzReason) {
  if (!cJSON_IsObject(f)) {
    *pzReason = "invalid: a filter must be an object";
    return -1;
  }
  if (json_has_duplicate_keys(f)) {
    *pzReason = "invalid: duplicate key in filter";
    return -1;
  }
  long long limit = maxLimit;
  int bTags = maxLimit == ALL_MATCHES && tags_only(f), nTag = 0;
  /* A query picks the keys of its matches first (seq, created_at, id:
  ** columns every index on event holds), ordered and limited, and reads
  ** the rows (their json) of those alone, in that order (k is the outer
  ** loop of a CROSS JOIN): an index that holds every column the filter
  ** names (event_author holds kind) then finds the newest `limit`
  ** without visiting the rows it passes over, and a lone filter's answer
  ** needs no second sort. */
  int bJoin = maxLimit != ALL_MATCHES && strcmp(zCols, COLS_EVENT) == 0;
  strbuf_puts(&b->sql, "SELECT ");
  strbuf_puts(&b->sql, bJoin ? "k.created_at, k.id, e.json" : zCols);
  strbuf_puts(&b->sql, " FROM (SELECT ");
  strbuf_puts(&b->sql, bTags ? "DISTINCT ev AS seq FROM tag WHERE 1"
                     : bJoin ? "seq, created_at, id FROM event WHERE 1"
                             : zCols);
  if (!bTags && !bJoin) strbuf_puts(&b->sql, " FROM event WHERE 1");
  /* Lets SQLite use event_slot, the small index of replaceable events
  ** (profiles and follow lists of many authors, say). */
  if (all_replaceable(cJSON_GetObjectItemCaseSensitive(f, "kinds"))) {
    strbuf_puts(&b->sql, " AND " REPLACEABLE_SQL);
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, f) {
    const char *k = it->string;
    long long v;
    if (strcmp(k, "ids") == 0 || strcmp(k, "authors") == 0) {
      if (check_hex_list(it)) {
        *pzReason = k[0] == 'i' ? "invalid: ids must be 64-hex event ids"
                                : "invalid: authors must be 64-hex pubkeys";
        return -1;
      }
      if (k[0] == 'a' && cJSON_GetArraySize(it) == 1) {
        /* One author: an equality, so that event_author gives their
        ** events in order and a limit stops the scan (an IN list, even
        ** of one, makes SQLite sort every match first). */
        strbuf_puts(&b->sql, " AND pubkey=(SELECT value FROM hiroba_list(");
        add_param(b, NULL, sql_list_from_json(it, SQL_LIST_ID), 1, 0);
        strbuf_puts(&b->sql, "))");
      } else {
        add_list(b, k[0] == 'i' ? "id" : "pubkey", it, SQL_LIST_ID);
      }
    } else if (strcmp(k, "kinds") == 0) {
      const cJSON *kind;
      if (!cJSON_IsArray(it)) goto bad_kinds;
      cJSON_ArrayForEach(kind, it) {
        if (json_get_int(kind, 0, 65535, &v)) goto bad_kinds;
      }
      add_list(b, "kind", it, SQL_LIST_INT);
    } else if (strcmp(k, "since") == 0 || strcmp(k, "until") == 0) {
      if (json_get_int(it, 0, MAX_SAFE_INT, &v)) {
        *pzReason = "invalid: since and until must be non-negative integers";
        return -1;
      }
      strbuf_puts(&b->sql, k[0] == 's' ? " AND created_at >= " : " AND created_at <= ");
      add_int(b, v);
    } else if (strcmp(k, "limit") == 0) {
      if (json_get_int(it, 0, MAX_SAFE_INT, &v)) {
        *pzReason = "invalid: limit must be a non-negative integer";
        return -1;
      }
      if (maxLimit < 0 || v < maxLimit) limit = v;
    } else if (is_tag_key(k)) {
      const cJSON *value;
      if (!cJSON_IsArray(it)) goto bad_tags;
      cJSON_ArrayForEach(value, it) {
        if (!cJSON_IsString(value)) goto bad_tags;
      }
      char zName[2] = {k[1], 0};
      /* A tags-only count selects from its first tag's rows themselves. */
      int bOuter = bTags && nTag++ == 0;
      strbuf_puts(&b->sql, bOuter ? " AND name="
                         : bTags  ? " AND ev IN (SELECT ev FROM tag WHERE name="
                                  : " AND seq IN (SELECT ev FROM tag WHERE name=");
      add_param(b, strdup(zName), NULL, 1, 0);
      add_list(b, "value", it, SQL_LIST_TAG);
      if (!bOuter) strbuf_puts(&b->sql, ")");
    } else {
      *pzReason = "invalid: unsupported filter field";
      return -1;
    }
  }
  if (maxLimit != ALL_MATCHES) {
    strbuf_puts(&b->sql, " ORDER BY created_at DESC, id LIMIT ");
    add_int(b, limit);
  }
  strbuf_puts(&b->sql, bJoin ? ") AS k CROSS JOIN event AS e ON e.seq=k.seq" : ")");
  return 0;

bad_kinds:
  *pzReason = "invalid: kinds must be integers from 0 to 65535";
  return -1;
bad_tags:
  *pzReason = "invalid: tag filters must be arrays of strings";
  return -1;
}

/* The built statement (store_stmt_acquire: prepared, or kept from an
** earlier query of the same text) with its parameters bound: 0 and *pq
** (caller gives it back with store_stmt_release before builder_free frees
** the lists bound to it), or a negative code. */
static int prepare(store *s, builder *b, sqlite3_stmt **pq) {
  *pq = NULL;
  if (b->oom || b->sql.oom) return HIROBA_ENOMEM;
  sqlite3_stmt *q = NULL;
  int rc = store_stmt_acquire(s, b->sql.z, b->sql.n, &q);
  if (rc != HIROBA_OK) return rc;
  for (int j = 0; j < b->nBind; j++) {
    if (b->aBind[j].zText) {
      sqlite3_bind_text(q, j + 1, b->aBind[j].zText, -1, SQLITE_STATIC);
    } else if (b->aBind[j].pList) {
      sql_list_bind(q, j + 1, b->aBind[j].pList);
    } else {
      sqlite3_bind_int64(q, j + 1, b->aBind[j].iValue);
    }
  }
  *pq = q;
  return HIROBA_OK;
}

static void builder_free(builder *b) {
  for (int j = 0; j < b->nBind; j++) {
    free(b->aBind[j].zText);
    sql_list_free(b->aBind[j].pList);
  }
  free(b->aBind);
  strbuf_free(&b->sql);
}

/* Appends the filters (a cJSON array of 1 to MAX_FILTERS filter objects)
** as one UNION of add_filter SELECTs; 0, or HIROBA_EINVAL with *pzReason. */
static int add_filters(builder *b, const cJSON *filters, int64_t maxLimit,
                       const char *zCols, const char **pzReason) {
  int n = cJSON_GetArraySize(filters);
  if (!cJSON_IsArray(filters) || n < 1 || n > MAX_FILTERS) {
    *pzReason = "invalid: expected from 1 to 64 filters";
    return HIROBA_EINVAL;
  }
  const cJSON *f;
  int i = 0;
  cJSON_ArrayForEach(f, filters) {
    if (i++) strbuf_puts(&b->sql, " UNION ");
    if (add_filter(b, f, maxLimit, zCols, pzReason)) return HIROBA_EINVAL;
  }
  return HIROBA_OK;
}

/* The statement of a query (bCount 0) or a count (1) into b. */
static int build(builder *b, const cJSON *filters, int64_t maxLimit, int bCount,
                 const char **pzReason) {
  if (bCount) {
    /* UNION over seq: an event two filters match is counted once. */
    strbuf_puts(&b->sql, "SELECT count(*) FROM (");
    int rc = add_filters(b, filters, ALL_MATCHES, "seq", pzReason);
    strbuf_puts(&b->sql, ")");
    return rc;
  }
  strbuf_puts(&b->sql, "SELECT json FROM (");
  int rc = add_filters(b, filters, maxLimit, COLS_EVENT, pzReason);
  strbuf_puts(&b->sql, ") ORDER BY created_at DESC, id");
  return rc;
}

int store_query_sql(const cJSON *filters, int64_t maxLimit, int bCount,
                    strbuf *pSql, const char **pzReason) {
  builder b;
  memset(&b, 0, sizeof b);
  strbuf_init(&b.sql);
  int rc = build(&b, filters, maxLimit, bCount, pzReason);
  if (rc == HIROBA_OK && (b.oom || b.sql.oom)) rc = HIROBA_ENOMEM;
  if (rc == HIROBA_OK) strbuf_append(pSql, b.sql.z, b.sql.n);
  builder_free(&b);
  return rc == HIROBA_OK && pSql->oom ? HIROBA_ENOMEM : rc;
}

int store_query(store *s, const cJSON *filters, int64_t maxLimit,
                int (*xRow)(void *pCtx, const char *zJson, int nJson),
                void *pCtx, const char **pzReason) {
  builder b;
  memset(&b, 0, sizeof b);
  strbuf_init(&b.sql);
  int rc = build(&b, filters, maxLimit, 0, pzReason);
  if (rc) goto done;

  sqlite3_stmt *q = NULL;
  if ((rc = prepare(s, &b, &q)) != HIROBA_OK) goto done;
  int src;
  while ((src = sqlite3_step(q)) == SQLITE_ROW) {
    int stop = xRow(pCtx, (const char *)sqlite3_column_text(q, 0),
                    sqlite3_column_bytes(q, 0));
    if (stop) { rc = stop; break; }
  }
  if (src != SQLITE_ROW && src != SQLITE_DONE) rc = store_fail(s, src, "cannot query");
  store_stmt_release(s, q);

done:
  builder_free(&b);
  return rc;
}

int store_count(store *s, const cJSON *filters, int64_t *pnCount,
                store_count_cost *pCost, const char **pzReason) {
  *pnCount = 0;
  builder b;
  memset(&b, 0, sizeof b);
  strbuf_init(&b.sql);
  int rc = build(&b, filters, -1, 1, pzReason);
  if (rc) goto done;

  sqlite3_stmt *q = NULL;
  if ((rc = prepare(s, &b, &q)) != HIROBA_OK) goto done;
  int cur = 0, hi = 0, missBefore = 0;
  if (pCost) sqlite3_db_status(store_db(s), SQLITE_DBSTATUS_CACHE_MISS, &missBefore, &hi, 0);
  int src = sqlite3_step(q);
  if (src == SQLITE_ROW) *pnCount = sqlite3_column_int64(q, 0);
  else rc = store_fail(s, src, "cannot count");
  if (pCost) {
    sqlite3_db_status(store_db(s), SQLITE_DBSTATUS_CACHE_MISS, &cur, &hi, 0);
    pCost->nPageRead = cur - missBefore;
    /* Reset as read: a kept statement counts across its runs. */
    pCost->nFullScanStep = sqlite3_stmt_status(q, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
  }
  store_stmt_release(s, q);

done:
  builder_free(&b);
  return rc;
}

int store_neg_items(store *s, const cJSON *filter,
                    int (*xItem)(void *pCtx, int64_t createdAt,
                                 const unsigned char *id),
                    void *pCtx, const char **pzReason) {
  builder b;
  memset(&b, 0, sizeof b);
  strbuf_init(&b.sql);
  int rc = HIROBA_OK;
  /* Only the two columns: the json of a large event is never read. The
  ** filter's own "limit" still applies (newest first, as in a REQ). */
  strbuf_puts(&b.sql, "SELECT created_at, id FROM (");
  if (add_filter(&b, filter, -1, "created_at, id", pzReason)) {
    rc = HIROBA_EINVAL;
    goto done;
  }
  strbuf_puts(&b.sql, ") ORDER BY created_at, id");

  sqlite3_stmt *q = NULL;
  if ((rc = prepare(s, &b, &q)) != HIROBA_OK) goto done;
  int src;
  while ((src = sqlite3_step(q)) == SQLITE_ROW) {
    if (sqlite3_column_bytes(q, 1) != 32) {
      rc = store_corrupt(s, "an event id is not 32 bytes");
      break;
    }
    int stop = xItem(pCtx, sqlite3_column_int64(q, 0),
                     (const unsigned char *)sqlite3_column_blob(q, 1));
    if (stop) { rc = stop; break; }
  }
  if (rc == HIROBA_OK && src != SQLITE_ROW && src != SQLITE_DONE) {
    rc = store_fail(s, src, "cannot query");
  }
  store_stmt_release(s, q);

done:
  builder_free(&b);
  return rc;
}
