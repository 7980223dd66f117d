/*
** sql_list.c -- the hiroba_list(?) table-valued function (sql_list.h).
**
** An eponymous virtual table with one visible column, `value`, and one
** hidden column, the list pointer, which must be given by equality (that
** is what hiroba_list(?) means). Without it the table has no usable plan,
** so it can never be scanned by mistake.
*/
#include "sql_list.h"

#include <stdlib.h>
#include <string.h>

#include "hex.h"

#define POINTER_TYPE "hiroba_list"

struct sql_list {
  sql_list_type type;
  int n;
  long long *aInt;       /* SQL_LIST_INT: n integers */
  unsigned char *aId;    /* SQL_LIST_ID: n*32 bytes */
  char **azText;         /* SQL_LIST_TEXT: n owned strings */
};

void sql_list_free(sql_list *list) {
  if (!list) return;
  if (list->azText) {
    for (int i = 0; i < list->n; i++) free(list->azText[i]);
  }
  free(list->azText);
  free(list->aInt);
  free(list->aId);
  free(list);
}

sql_list *sql_list_from_json(const cJSON *array, sql_list_type type) {
  if (!cJSON_IsArray(array)) return NULL;
  int n = cJSON_GetArraySize(array);
  sql_list *list = calloc(1, sizeof *list);
  if (!list) return NULL;
  list->type = type;
  size_t m = n ? (size_t)n : 1;
  if (type == SQL_LIST_INT) list->aInt = malloc(m * sizeof *list->aInt);
  else if (type == SQL_LIST_ID) list->aId = malloc(m * 32);
  else list->azText = calloc(m, sizeof *list->azText);
  if (!list->aInt && !list->aId && !list->azText) goto fail;
  const cJSON *it;
  cJSON_ArrayForEach(it, array) {
    int i = list->n;
    if (type == SQL_LIST_INT) {
      if (!cJSON_IsNumber(it)) goto fail;
      list->aInt[i] = (long long)it->valuedouble;
    } else if (type == SQL_LIST_ID) {
      if (!cJSON_IsString(it) || hex_decode(it->valuestring, list->aId + 32 * i, 32)) goto fail;
    } else {
      if (!cJSON_IsString(it) || !(list->azText[i] = strdup(it->valuestring))) goto fail;
    }
    list->n++;
  }
  return list;
fail:
  sql_list_free(list);
  return NULL;
}

int sql_list_bind(sqlite3_stmt *q, int i, sql_list *list) {
  return sqlite3_bind_pointer(q, i, list, POINTER_TYPE, NULL);
}

/* --- the virtual table ------------------------------------------------------ */

enum { COL_VALUE, COL_LIST };

typedef struct cursor {
  sqlite3_vtab_cursor base;
  const sql_list *list; /* borrowed from the bound parameter */
  int i;
} cursor;

static int list_connect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                        sqlite3_vtab **ppVtab, char **pzErr) {
  (void)pAux; (void)argc; (void)argv; (void)pzErr;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(value, list HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  sqlite3_vtab *v = sqlite3_malloc(sizeof *v);
  if (!v) return SQLITE_NOMEM;
  memset(v, 0, sizeof *v);
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = v;
  return SQLITE_OK;
}

static int list_disconnect(sqlite3_vtab *v) {
  sqlite3_free(v);
  return SQLITE_OK;
}

static int list_best_index(sqlite3_vtab *v, sqlite3_index_info *info) {
  (void)v;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->iColumn == COL_LIST && c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->usable) {
      info->aConstraintUsage[i].argvIndex = 1;
      info->aConstraintUsage[i].omit = 1;
      info->estimatedCost = 10;
      info->estimatedRows = 10;
      info->idxNum = 1;
      return SQLITE_OK;
    }
  }
  return SQLITE_CONSTRAINT; /* no list given: no plan */
}

static int list_open(sqlite3_vtab *v, sqlite3_vtab_cursor **ppCursor) {
  (void)v;
  cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *ppCursor = &c->base;
  return SQLITE_OK;
}

static int list_close(sqlite3_vtab_cursor *cur) {
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int list_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr,
                       int argc, sqlite3_value **argv) {
  (void)idxStr;
  cursor *c = (cursor *)cur;
  c->list = idxNum == 1 && argc == 1 ? sqlite3_value_pointer(argv[0], POINTER_TYPE) : NULL;
  c->i = 0;
  return SQLITE_OK;
}

static int list_next(sqlite3_vtab_cursor *cur) {
  ((cursor *)cur)->i++;
  return SQLITE_OK;
}

static int list_eof(sqlite3_vtab_cursor *cur) {
  const cursor *c = (const cursor *)cur;
  return !c->list || c->i >= c->list->n;
}

static int list_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  const cursor *c = (const cursor *)cur;
  if (col != COL_VALUE) return SQLITE_OK; /* the hidden column reads as NULL */
  const sql_list *l = c->list;
  if (l->type == SQL_LIST_INT) sqlite3_result_int64(ctx, l->aInt[c->i]);
  else if (l->type == SQL_LIST_ID) sqlite3_result_blob(ctx, l->aId + 32 * c->i, 32, SQLITE_STATIC);
  else {
    unsigned char key[32];
    if (l->type == SQL_LIST_TAG && hex_decode(l->azText[c->i], key, 32) == 0) {
      sqlite3_result_blob(ctx, key, 32, SQLITE_TRANSIENT);
    } else {
      sqlite3_result_text(ctx, l->azText[c->i], -1, SQLITE_STATIC);
    }
  }
  return SQLITE_OK;
}

static int list_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid) {
  *pRowid = ((const cursor *)cur)->i;
  return SQLITE_OK;
}

static const sqlite3_module kModule = {
  .iVersion = 0,
  .xCreate = NULL, /* eponymous only: never CREATE VIRTUAL TABLE */
  .xConnect = list_connect,
  .xBestIndex = list_best_index,
  .xDisconnect = list_disconnect,
  .xDestroy = list_disconnect,
  .xOpen = list_open,
  .xClose = list_close,
  .xFilter = list_filter,
  .xNext = list_next,
  .xEof = list_eof,
  .xColumn = list_column,
  .xRowid = list_rowid,
};

int sql_list_register(sqlite3 *db) {
  return sqlite3_create_module(db, POINTER_TYPE, &kModule, NULL);
}
