/*
** store.c -- the SQLite store: schema, storage rules, identity.
**
** Schema (PRAGMA user_version 2; a version 1 database is migrated when
** opened, see kMigrate1to2):
**   event      one row per stored event; `json` is the canonical text that is
**              served as is, so answers never re-serialize
**   event indexes: event_time (created_at DESC, id) for since/until and
**              newest-first scans and eviction; event_kind (kind,
**              created_at DESC, id) for kinds and their counts;
**              event_author (pubkey, created_at DESC, id, kind) for
**              authors with or without kinds, newest first, and their
**              counts, all from the index; event_slot, partial, for the
**              current version of a replaceable slot in one seek
**   tag        single-letter tags (the only ones NIP-01 filters can name),
**              for #e/#p/#x queries; a lowercase 64-hex value is kept as
**              its 32-byte blob (half the bytes, twice: the row and tag_ev)
**   tombstone  ids that must never be stored (or fetched) again: events
**              deleted by their author (kind 5) and older versions of
**              replaceable events; a deletion that arrives before its
**              target leaves a tombstone naming the deleter, which then
**              blocks the target only if the same author wrote it. A
**              tombstone also remembers the kind and created_at of its
**              event once seen, so a deleted newest version of a
**              replaceable kind still outranks older versions arriving
**              later: every peer ends with the same slot, whatever the
**              order of arrival
**   mute       the authors in the local user's newest kind 10000 list
**   meta       the local identity, and the sync state (state.c)
**
** The connection runs in locking_mode=EXCLUSIVE with journal_mode=WAL: one
** owner (the worker) per database, no shared memory needed by the VFS, and
** a commit appends to the WAL instead of rewriting pages. synchronous=FULL
** so that a post whose call returned survives a crash. secure_delete=ON so
** a deleted event's content is overwritten in the file, not merely
** unlinked from the b-tree.
*/
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "hiroba.h"
#include "json.h"
#include "sql_list.h"
#include "sqlite3.h"
#include "store_internal.h"
#include "vfs.h"

/* PRAGMA user_version of the schema below; older ones are migrated. */
#define SCHEMA_VERSION 2

static const char *const kSchema =
  "CREATE TABLE IF NOT EXISTS event("
  "  seq INTEGER PRIMARY KEY,"
  "  id BLOB NOT NULL UNIQUE,"
  "  pubkey BLOB NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  kind INTEGER NOT NULL,"
  "  json TEXT NOT NULL);"
  "CREATE INDEX IF NOT EXISTS event_time ON event(created_at DESC, id);"
  "CREATE INDEX IF NOT EXISTS event_kind ON event(kind, created_at DESC, id);"
  /* An author's events newest first whatever their kind; kind rides
  ** along so that a filter of authors and kinds is answered from the
  ** index alone. */
  "CREATE INDEX IF NOT EXISTS event_author"
  "  ON event(pubkey, created_at DESC, id, kind);"
  /* The current version of each replaceable slot (and the profiles and
  ** follow lists of any author) in one seek, however many events the
  ** author has. Holds only replaceable events, so it is small. */
  "CREATE INDEX IF NOT EXISTS event_slot"
  "  ON event(pubkey, kind, created_at DESC, id) WHERE " REPLACEABLE_SQL ";"
  /* value: a lowercase 64-hex value (an "e" or "p" tag, mostly) as its
  ** 32-byte blob, anything else as text (store_insert, SQL_LIST_TAG). */
  "CREATE TABLE IF NOT EXISTS tag("
  "  name TEXT NOT NULL, value NOT NULL, ev INTEGER NOT NULL,"
  "  PRIMARY KEY(name, value, ev)) WITHOUT ROWID;"
  "CREATE INDEX IF NOT EXISTS tag_ev ON tag(ev);"
  "CREATE TABLE IF NOT EXISTS tombstone("
  "  id BLOB NOT NULL,"
  "  pubkey BLOB NOT NULL,"      /* the author it applies to */
  "  kind INTEGER,"              /* of the dead event, once seen */
  "  created_at INTEGER,"        /* of the dead event, once seen */
  "  why INTEGER NOT NULL,"      /* TOMB_REPLACED or TOMB_DELETED */
  "  PRIMARY KEY(id, pubkey)"    /* so nobody's deletion can mask another's */
  ") WITHOUT ROWID;"
  "CREATE INDEX IF NOT EXISTS tombstone_slot"
  "  ON tombstone(pubkey, kind, created_at DESC, id) WHERE kind IS NOT NULL;"
  "CREATE TABLE IF NOT EXISTS mute(pubkey BLOB PRIMARY KEY) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB)"
  "  WITHOUT ROWID;"
  "PRAGMA user_version=2;";

/* Version 1 to 2, run inside store_open's transaction, so that a failure
** or a crash part way leaves version 1 as it was. Events, tombstones,
** mutes and meta (identity, sync state) are not touched; the author
** index is rebuilt in its new order, the slot index made, and every tag
** row copied with its 64-hex values packed. */
static const char *const kMigrate1to2 =
  "DROP INDEX event_author;"
  "CREATE INDEX event_author ON event(pubkey, created_at DESC, id, kind);"
  "CREATE INDEX event_slot"
  "  ON event(pubkey, kind, created_at DESC, id) WHERE " REPLACEABLE_SQL ";"
  /* Copied out and back rather than renamed: ALTER TABLE RENAME needs
  ** the temp schema, which the build leaves out. */
  "CREATE TABLE tag_v1(name, value, ev);"
  "INSERT INTO tag_v1 SELECT name, value, ev FROM tag;"
  "DROP TABLE tag;"
  "CREATE TABLE tag("
  "  name TEXT NOT NULL, value NOT NULL, ev INTEGER NOT NULL,"
  "  PRIMARY KEY(name, value, ev)) WITHOUT ROWID;"
  "INSERT INTO tag(name, value, ev) SELECT name,"
  "  CASE WHEN length(value)=64 AND value NOT GLOB '*[^0-9a-f]*'"
  "  THEN unhex(value) ELSE value END, ev FROM tag_v1 ORDER BY 1, 2, 3;"
  "DROP TABLE tag_v1;"
  "CREATE INDEX tag_ev ON tag(ev);"
  "PRAGMA user_version=2;";

/* The stronger reason wins when both apply (max), except that eviction
** is the weakest of all (see Q_TOMB_PUT). */
#define TOMB_REPLACED 1
#define TOMB_DELETED 2
#define TOMB_EVICTED 3  /* dropped to keep within the size budget */

/* Prepared statements, kept for the life of the connection; the order
** must match kSql. */
enum {
  Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
  Q_HAS, Q_TOMB_GET, Q_MUTED, Q_LATEST, Q_INSERT, Q_TAG_INSERT,
  Q_DELETE_EVENT, Q_DELETE_TAGS, Q_TOMB_PUT, Q_TOMB_SLOT, Q_EVENT_BY_ID,
  Q_MUTE_CLEAR, Q_MUTE_ADD, Q_MUTED_EVENTS, Q_META_GET, Q_META_PUT, Q_JSON,
  Q_UNWANTED, Q_SELF_FOLLOWS, Q_AUTHOR_HAS, Q_PAGE_COUNT, Q_FREELIST,
  Q_PAGE_SIZE, Q_OLDEST, Q_COUNT
};
static const char *const kSql[Q_COUNT] = {
  "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK",
  "SELECT 1 FROM event WHERE id=?1",
  "SELECT why FROM tombstone WHERE id=?1 AND pubkey=?2",
  "SELECT 1 FROM mute WHERE pubkey=?1",
  "SELECT seq, id, created_at FROM event WHERE pubkey=?1 AND kind=?2"
  "  AND " REPLACEABLE_SQL " ORDER BY created_at DESC, id LIMIT 1",
  "INSERT INTO event(id, pubkey, created_at, kind, json) VALUES(?1,?2,?3,?4,?5)",
  "INSERT OR IGNORE INTO tag(name, value, ev) VALUES(?1,?2,?3)",
  "DELETE FROM event WHERE seq=?1",
  "DELETE FROM tag WHERE ev=?1",
  "INSERT INTO tombstone(id, pubkey, kind, created_at, why)"
  "  VALUES(?1,?2,?3,?4,?5) ON CONFLICT(id, pubkey) DO UPDATE SET"
  "  kind=coalesce(excluded.kind, kind),"
  "  created_at=coalesce(excluded.created_at, created_at),"
  "  why=CASE WHEN why=3 OR excluded.why=3 THEN min(why, excluded.why)"
  "  ELSE max(why, excluded.why) END",
  "SELECT id, created_at FROM tombstone WHERE pubkey=?1 AND kind=?2"
  "  ORDER BY created_at DESC, id LIMIT 1",
  "SELECT seq, pubkey, created_at, kind FROM event WHERE id=?1",
  "DELETE FROM mute",
  "INSERT OR IGNORE INTO mute(pubkey) VALUES(?1)",
  "SELECT seq FROM event WHERE pubkey IN (SELECT pubkey FROM mute)",
  "SELECT value FROM meta WHERE key=?1",
  "INSERT OR REPLACE INTO meta(key, value) VALUES(?1,?2)",
  "SELECT json FROM event WHERE id=?1",
  /* A sync message carries ids only, so a tombstone counts here once it
  ** is confirmed: its event was seen (kind known), which proves the
  ** author matched. An unconfirmed one -- a deletion that arrived before
  ** its target, possibly from someone else -- must not stop the target
  ** from being fetched once; that fetch confirms or voids it. */
  "SELECT 1 WHERE EXISTS(SELECT 1 FROM event WHERE id=?1)"
  "  OR EXISTS(SELECT 1 FROM tombstone WHERE id=?1 AND kind IS NOT NULL)",
  "SELECT json FROM event WHERE pubkey=?1 AND kind=3 AND " REPLACEABLE_SQL
  "  ORDER BY created_at DESC, id LIMIT 1",
  "SELECT 1 FROM event WHERE pubkey=?1 LIMIT 1",
  "PRAGMA page_count", "PRAGMA freelist_count", "PRAGMA page_size",
  /* Oldest first, from a cursor (created_at, id); ties come by id
  ** descending so that the event_time index is read backwards. */
  "SELECT seq, id, pubkey, kind, created_at, length(json) FROM event"
  "  WHERE created_at > ?1 OR (created_at = ?1 AND id < ?2)"
  "  ORDER BY created_at, id DESC LIMIT 128",
};

/* Statements of query.c's SQL, kept prepared (store_stmt_acquire). Eight
** cover a page's shapes (timeline, thread, profile, notifications, ...)
** and a sync's; each holds one compiled statement. */
#define STMT_CACHE 8

typedef struct cached_stmt {
  char *zSql;          /* owned copy of its text; NULL: the slot is empty */
  size_t nSql;         /* bytes of zSql */
  sqlite3_stmt *q;     /* prepared from zSql */
  int busy;            /* acquired and not yet released */
} cached_stmt;

struct store {
  sqlite3 *db;                    /* the connection */
  cached_stmt aCache[STMT_CACHE]; /* most recently used first */
  sqlite3_stmt *aStmt[Q_COUNT];   /* kSql, each prepared at first use */
  int rcPrepare;                  /* SQLite code of stmt()'s last prepare */
  unsigned char self[32];         /* the local user's pubkey */
  int hasSelf;                    /* nonzero once self is known */
  int selfPending;                /* self was set in the open transaction */
  store_policy policy;            /* what merge keeps, and the budget */
  unsigned char (*aFollow)[32];   /* followed pubkeys, sorted; owned */
  size_t nFollow;                 /* entries in aFollow */
  int followsValid;               /* aFollow matches the stored kind 3 */
  char zErr[1024];                /* message of the last failure */
};

sqlite3 *store_db(store *s) { return s->db; }

const char *store_errmsg(store *s) { return s ? s->zErr : "out of memory"; }

int store_corrupt(store *s, const char *zWhat) {
  snprintf(s->zErr, sizeof s->zErr, "%s", zWhat);
  return HIROBA_ECORRUPT;
}

/* Maps an SQLite result to a HIROBA_E* code and keeps the message. */
int store_fail(store *s, int rc, const char *zWhat) {
  /* A statement stmt() could not prepare: its error, not the misuse. */
  if (rc == SQLITE_MISUSE && s->rcPrepare != SQLITE_OK) {
    rc = s->rcPrepare;
    zWhat = "cannot prepare a statement";
  }
  s->rcPrepare = SQLITE_OK;
  int ext = rc;
  rc &= 0xff;
  /* The VFS knows which file and why ("open /x/a.db (ENOENT: ...)");
  ** SQLite's text alone does not say. */
  const char *zVfs = vfs_last_error();
  snprintf(s->zErr, sizeof s->zErr, "%s: %s%s%s", zWhat,
           s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(ext),
           zVfs[0] ? ": " : "", zVfs);
  switch (rc) {
    case SQLITE_NOMEM: return HIROBA_ENOMEM;
    case SQLITE_FULL: return HIROBA_EFULL;
    case SQLITE_CORRUPT: case SQLITE_NOTADB: return HIROBA_ECORRUPT;
    case SQLITE_BUSY: case SQLITE_LOCKED: return HIROBA_EBUSY;
    case SQLITE_IOERR: case SQLITE_CANTOPEN: case SQLITE_READONLY:
    case SQLITE_PERM: return HIROBA_EIO;
    default: return HIROBA_EINTERNAL;
  }
}

/* The statement, ready to bind: prepared on first use, reset with its
** bindings cleared after that. Lazily, because the first run of SQLite's
** parser and planner in a fresh wasm instance is slow (V8 compiles each
** function at its first call), and an open that prepared every statement
** spent a third of its time on statements most sessions never run. NULL
** when it cannot be prepared (out of memory): every sqlite3_* call then
** fails with SQLITE_MISUSE, and store_fail reports the prepare's error. */
static sqlite3_stmt *stmt(store *s, int q) {
  sqlite3_stmt *p = s->aStmt[q];
  if (!p) {
    int rc = sqlite3_prepare_v3(s->db, kSql[q], -1, SQLITE_PREPARE_PERSISTENT,
                                &s->aStmt[q], NULL);
    s->rcPrepare = rc;
    return rc == SQLITE_OK ? s->aStmt[q] : NULL;
  }
  sqlite3_reset(p);
  sqlite3_clear_bindings(p);
  return p;
}

/* Runs a statement that returns no rows we need. */
static int step_done(store *s, sqlite3_stmt *p, const char *zWhat) {
  int rc = sqlite3_step(p);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) { sqlite3_reset(p); return 0; }
  rc = store_fail(s, rc, zWhat);
  sqlite3_reset(p);
  return rc;
}

/* PRAGMA user_version into *pVersion; an SQLite code. */
static int schema_version(sqlite3 *db, int *pVersion) {
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      *pVersion = sqlite3_column_int(q, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(q);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int store_open(const char *zPath, store **ppStore) {
  *ppStore = NULL;
  store *s = calloc(1, sizeof *s);
  if (!s) return HIROBA_ENOMEM;
  int rc = sqlite3_open_v2(zPath, &s->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_extended_result_codes(s->db, 1);
    rc = sql_list_register(s->db);
  }
  if (rc == SQLITE_OK) {
    /* Order matters. Nothing may read the file before locking_mode=EXCLUSIVE (cache_size
    ** reads the schema, for one), or WAL would want shared memory.
    ** page_size before WAL, which fixes it (and it only applies to a new
    ** file). 8 KiB pages and a 16 MiB cache, sqlite-wasm's defaults, halve
    ** the storage calls per megabyte and let a large merge batch commit
    ** without spilling pages to the WAL mid-way (bench/opfs-writes: 7,001
    ** writes and 3,409 reads became 1,714 and 0 for a 3.4 MB batch). */
    rc = sqlite3_exec(s->db,
                      "PRAGMA locking_mode=EXCLUSIVE;"
                      "PRAGMA page_size=8192;"
                      "PRAGMA journal_mode=WAL;"
                      "PRAGMA cache_size=-16384;"
                      "PRAGMA synchronous=FULL;"
                      "PRAGMA secure_delete=ON;", NULL, NULL, NULL);
  }
  /* The schema is created only when user_version says it is missing, so
  ** opening an existing database writes nothing (its transaction commits
  ** empty; rewriting user_version cost writes and two flushes at every
  ** start-up). */
  int version = 0;
  if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", 0, 0, 0);
  if (rc == SQLITE_OK) {
    rc = schema_version(s->db, &version);
    if (rc == SQLITE_OK && version > SCHEMA_VERSION) {
      /* Its tables may mean something this engine does not know. */
      sqlite3_exec(s->db, "ROLLBACK", 0, 0, 0);
      *ppStore = s;
      snprintf(s->zErr, sizeof s->zErr,
               "the database has schema version %d, newer than this Hiroba's %d",
               version, SCHEMA_VERSION);
      return HIROBA_ECORRUPT;
    }
    if (rc == SQLITE_OK && version == 1) {
      rc = sqlite3_exec(s->db, kMigrate1to2, NULL, NULL, NULL);
    } else if (rc == SQLITE_OK && version != SCHEMA_VERSION) {
      rc = sqlite3_exec(s->db, kSchema, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
      /* The message now: the rollback would replace it. */
      int code = store_fail(s, rc, version == 1 ? "cannot migrate the database"
                                                : "cannot open the database");
      sqlite3_exec(s->db, "ROLLBACK", 0, 0, 0);
      *ppStore = s;
      return code;
    }
    rc = sqlite3_exec(s->db, "COMMIT", 0, 0, 0);
  }
  /* The others wait for their first use (stmt), but a rollback must never
  ** fail for want of memory to prepare it. */
  for (int i = Q_BEGIN; rc == SQLITE_OK && i <= Q_ROLLBACK; i++) {
    rc = sqlite3_prepare_v3(s->db, kSql[i], -1, SQLITE_PREPARE_PERSISTENT,
                            &s->aStmt[i], NULL);
  }
  *ppStore = s;
  if (rc != SQLITE_OK) return store_fail(s, rc, "cannot open the database");
  unsigned char sk[32];
  rc = store_get_secret(s, sk); /* learns self when an identity exists */
  memset(sk, 0, sizeof sk);
  return rc < 0 ? rc : HIROBA_OK;
}

int store_stmt_acquire(store *s, const char *zSql, size_t nSql, sqlite3_stmt **pq) {
  *pq = NULL;
  cached_stmt *a = s->aCache;
  for (int i = 0; i < STMT_CACHE && a[i].zSql; i++) {
    if (a[i].busy || a[i].nSql != nSql || memcmp(a[i].zSql, zSql, nSql) != 0) continue;
    cached_stmt hit = a[i];
    memmove(&a[1], &a[0], (size_t)i * sizeof *a);
    a[0] = hit;
    a[0].busy = 1;
    *pq = hit.q;
    return HIROBA_OK;
  }
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v3(s->db, zSql, (int)nSql, SQLITE_PREPARE_PERSISTENT, &q, NULL);
  if (rc != SQLITE_OK) return store_fail(s, rc, "cannot query");
  *pq = q;
  /* Kept in the front slot, the least recent one going, unless that one
  ** is in use (queries nested that deep): then q is finalized on release. */
  cached_stmt *last = &a[STMT_CACHE - 1];
  char *zCopy = last->busy ? NULL : malloc(nSql);
  if (!zCopy) return HIROBA_OK;
  sqlite3_finalize(last->q);
  free(last->zSql);
  memmove(&a[1], &a[0], (STMT_CACHE - 1) * sizeof *a);
  memcpy(zCopy, zSql, nSql);
  a[0] = (cached_stmt){zCopy, nSql, q, 1};
  return HIROBA_OK;
}

void store_stmt_release(store *s, sqlite3_stmt *q) {
  if (!q) return;
  for (int i = 0; i < STMT_CACHE; i++) {
    if (s->aCache[i].q == q) {
      sqlite3_reset(q);
      sqlite3_clear_bindings(q);
      s->aCache[i].busy = 0;
      return;
    }
  }
  sqlite3_finalize(q);
}

void store_close(store *s) {
  if (!s) return;
  free(s->aFollow);
  for (int i = 0; i < STMT_CACHE; i++) {
    sqlite3_finalize(s->aCache[i].q);
    free(s->aCache[i].zSql);
  }
  for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(s->aStmt[i]);
  sqlite3_close(s->db);
  memset(s, 0, sizeof *s);
  free(s);
}

int store_begin(store *s) {
  return step_done(s, stmt(s, Q_BEGIN), "cannot begin a transaction");
}

int store_commit(store *s) {
  int rc = step_done(s, stmt(s, Q_COMMIT), "cannot commit");
  if (rc == 0) s->selfPending = 0;
  return rc;
}

void store_rollback(store *s) {
  /* A kind 3 stored in the rolled-back transaction may have changed it. */
  s->followsValid = 0;
  if (!sqlite3_get_autocommit(s->db)) {
    sqlite3_stmt *p = stmt(s, Q_ROLLBACK);
    sqlite3_step(p);
    sqlite3_reset(p);
  }
  /* An identity set in it is gone too: self is the stored one again. */
  if (s->selfPending) {
    unsigned char pk[32];
    s->selfPending = 0;
    s->hasSelf = 0;
    store_get_pubkey(s, pk);
  }
}

/* --- identity ------------------------------------------------------------- */

/* 0 and the value's n bytes in p; 1 when the key has no row; 2 when its
** value is NULL; negative on error. */
static int meta_get(store *s, const char *zKey, unsigned char *p, int n) {
  sqlite3_stmt *q = stmt(s, Q_META_GET);
  sqlite3_bind_text(q, 1, zKey, -1, SQLITE_STATIC);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_NULL) {
    sqlite3_reset(q);
    return 2;
  }
  if (rc == SQLITE_ROW) {
    if (sqlite3_column_bytes(q, 0) != n) {
      sqlite3_reset(q);
      snprintf(s->zErr, sizeof s->zErr, "meta %s has the wrong size", zKey);
      return HIROBA_ECORRUPT;
    }
    memcpy(p, sqlite3_column_blob(q, 0), (size_t)n);
    sqlite3_reset(q);
    return 0;
  }
  if (rc == SQLITE_DONE) { sqlite3_reset(q); return 1; }
  rc = store_fail(s, rc, "cannot read the identity");
  sqlite3_reset(q);
  return rc;
}

/* p NULL stores a NULL value. */
static int meta_put(store *s, const char *zKey, const unsigned char *p, int n) {
  sqlite3_stmt *q = stmt(s, Q_META_PUT);
  sqlite3_bind_text(q, 1, zKey, -1, SQLITE_STATIC);
  if (p) sqlite3_bind_blob(q, 2, p, n, SQLITE_STATIC);
  else sqlite3_bind_null(q, 2);
  return step_done(s, q, "cannot store the identity");
}

/* The identity is two meta rows: "pubkey" and "seckey". A secret held by
** a signer (NIP-07) leaves "seckey" NULL rather than absent, so that an
** older Hiroba refuses such a database ("wrong size") instead of taking
** the missing row for a new database and making a key over it. */
int store_get_secret(store *s, unsigned char seckey[32]) {
  int rc = meta_get(s, "seckey", seckey, 32);
  if (rc == 2) rc = STORE_NO_SECRET;
  if ((rc == 0 || rc == STORE_NO_SECRET) && !s->hasSelf) {
    int rcPub = meta_get(s, "pubkey", s->self, 32);
    if (rcPub > 0) {
      snprintf(s->zErr, sizeof s->zErr, "identity without a public key");
      rcPub = HIROBA_ECORRUPT;
    }
    s->hasSelf = rcPub == 0;
    if (rcPub) rc = rcPub;
  }
  return rc;
}

int store_get_pubkey(store *s, unsigned char pubkey[32]) {
  if (!s->hasSelf) {
    unsigned char sk[32];
    int rc = store_get_secret(s, sk); /* learns self */
    memset(sk, 0, sizeof sk);
    if (rc < 0 || rc == 1) return rc;
  }
  memcpy(pubkey, s->self, 32);
  return 0;
}

int store_set_identity(store *s, const unsigned char *seckey,
                       const unsigned char pubkey[32]) {
  int rc = meta_put(s, "seckey", seckey, 32);
  if (rc == 0) rc = meta_put(s, "pubkey", pubkey, 32);
  if (rc == 0) { memcpy(s->self, pubkey, 32); s->hasSelf = 1; s->selfPending = 1; }
  return rc;
}

int store_get_json(store *s, const unsigned char id[32], strbuf *sb) {
  sqlite3_stmt *q = stmt(s, Q_JSON);
  sqlite3_bind_blob(q, 1, id, 32, SQLITE_STATIC);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    strbuf_append(sb, (const char *)sqlite3_column_text(q, 0),
                  (size_t)sqlite3_column_bytes(q, 0));
    rc = sb->oom ? HIROBA_ENOMEM : 0;
  } else if (rc == SQLITE_DONE) {
    rc = 1;
  } else {
    rc = store_fail(s, rc, "cannot read the store");
  }
  sqlite3_reset(q);
  return rc;
}

int store_integrity(store *s, strbuf *sb) {
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &q, NULL);
  if (rc != SQLITE_OK) return store_fail(s, rc, "cannot check integrity");
  int n = 0;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    if (n++) strbuf_putc(sb, '\n');
    strbuf_append(sb, (const char *)sqlite3_column_text(q, 0),
                  (size_t)sqlite3_column_bytes(q, 0));
  }
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) return store_fail(s, rc, "cannot check integrity");
  return sb->oom ? HIROBA_ENOMEM : 0;
}

/* --- storage rules ---------------------------------------------------------- */

int64_t store_latest(store *s, const unsigned char pubkey[32], int kind) {
  sqlite3_stmt *q = stmt(s, Q_LATEST);
  sqlite3_bind_blob(q, 1, pubkey, 32, SQLITE_STATIC);
  sqlite3_bind_int(q, 2, kind);
  int64_t t = -1;
  if (sqlite3_step(q) == SQLITE_ROW) t = sqlite3_column_int64(q, 2);
  sqlite3_reset(q);
  return t;
}

/* 1 when a query with one blob parameter finds a row, 0 when not, <0 err. */
static int exists(store *s, int iQuery, const unsigned char *p, int n) {
  sqlite3_stmt *q = stmt(s, iQuery);
  sqlite3_bind_blob(q, 1, p, n, SQLITE_STATIC);
  int rc = sqlite3_step(q);
  sqlite3_reset(q);
  if (rc == SQLITE_ROW) return 1;
  if (rc == SQLITE_DONE) return 0;
  return store_fail(s, rc, "cannot read the store");
}

int store_unwanted(store *s, const unsigned char id[32]) {
  return exists(s, Q_UNWANTED, id, 32);
}

/* Event a sorts before event b: newer first, then lower id. A replaceable
** slot keeps whichever sorts first. */
static int newer(int64_t ta, const void *ida, int64_t tb, const void *idb) {
  if (ta != tb) return ta > tb;
  return memcmp(ida, idb, 32) < 0;
}

/* Records (or strengthens) a tombstone; kind and createdAt are -1 when
** the dead event has not been seen. */
static int tomb_put(store *s, const unsigned char *id, const unsigned char *pk,
                    int kind, int64_t createdAt, int why) {
  sqlite3_stmt *q = stmt(s, Q_TOMB_PUT);
  sqlite3_bind_blob(q, 1, id, 32, SQLITE_STATIC);
  sqlite3_bind_blob(q, 2, pk, 32, SQLITE_STATIC);
  if (kind >= 0) sqlite3_bind_int(q, 3, kind);
  if (createdAt >= 0) sqlite3_bind_int64(q, 4, createdAt);
  sqlite3_bind_int(q, 5, why);
  return step_done(s, q, "cannot write a tombstone");
}

/* Removes an event row and its tags (content included: secure_delete). */
static int remove_event(store *s, sqlite3_int64 seq) {
  sqlite3_stmt *q = stmt(s, Q_DELETE_TAGS);
  sqlite3_bind_int64(q, 1, seq);
  int rc = step_done(s, q, "cannot delete tags");
  if (rc) return rc;
  q = stmt(s, Q_DELETE_EVENT);
  sqlite3_bind_int64(q, 1, seq);
  return step_done(s, q, "cannot delete an event");
}

/* Removes the stored version of ev's replaceable slot when ev outranks it,
** leaving a REPLACED tombstone. *pOlder is set when ev is the one that
** loses (to a stored version or to a deleted one that was newer). */
static int settle_slot(store *s, const event *ev, int *pOlder) {
  *pOlder = 0;
  /* A deleted version newer than ev also outranks it. */
  sqlite3_stmt *q = stmt(s, Q_TOMB_SLOT);
  sqlite3_bind_blob(q, 1, ev->pubkey, 32, SQLITE_STATIC);
  sqlite3_bind_int(q, 2, ev->kind);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    *pOlder = memcmp(sqlite3_column_blob(q, 0), ev->id, 32) != 0 &&
              !newer(ev->created_at, ev->id, sqlite3_column_int64(q, 1),
                     sqlite3_column_blob(q, 0));
  }
  sqlite3_reset(q);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return store_fail(s, rc, "cannot read tombstones");
  }
  if (*pOlder) return 0;

  q = stmt(s, Q_LATEST);
  sqlite3_bind_blob(q, 1, ev->pubkey, 32, SQLITE_STATIC);
  sqlite3_bind_int(q, 2, ev->kind);
  rc = sqlite3_step(q);
  if (rc == SQLITE_DONE) { sqlite3_reset(q); return 0; }
  if (rc != SQLITE_ROW) {
    rc = store_fail(s, rc, "cannot read the store");
    sqlite3_reset(q);
    return rc;
  }
  sqlite3_int64 seq = sqlite3_column_int64(q, 0);
  unsigned char oldId[32];
  memcpy(oldId, sqlite3_column_blob(q, 1), 32);
  int64_t t = sqlite3_column_int64(q, 2);
  sqlite3_reset(q);
  if (!newer(ev->created_at, ev->id, t, oldId)) { *pOlder = 1; return 0; }
  rc = remove_event(s, seq);
  if (rc == 0) rc = tomb_put(s, oldId, ev->pubkey, ev->kind, t, TOMB_REPLACED);
  return rc;
}

int store_precheck(store *s, const event *ev, const char **pzReason) {
  int rc = exists(s, Q_HAS, ev->id, 32);
  if (rc) return rc < 0 ? rc : STORE_DUPLICATE;

  sqlite3_stmt *q = stmt(s, Q_TOMB_GET);
  sqlite3_bind_blob(q, 1, ev->id, 32, SQLITE_STATIC);
  sqlite3_bind_blob(q, 2, ev->pubkey, 32, SQLITE_STATIC);
  rc = sqlite3_step(q);
  int why = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
  sqlite3_reset(q);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return store_fail(s, rc, "cannot read tombstones");
  }
  /* A deletion is never deleted (NIP-09: a deletion of a deletion has no
  ** effect), whichever of the two arrives first, so every peer ends with
  ** the same events whatever the order of arrival. */
  if (why == TOMB_DELETED && ev->kind == 5) why = 0;
  if (ev->kind == 5) {
    int nTarget = 0;
    const cJSON *tag;
    cJSON_ArrayForEach(tag, ev->tags) {
      const cJSON *name = cJSON_GetArrayItem(tag, 0);
      if (cJSON_IsString(name) && strcmp(name->valuestring, "e") == 0) nTarget++;
    }
    if (nTarget > STORE_MAX_DELETE_TARGETS) {
      *pzReason = "blocked: a deletion may name at most 256 events";
      return STORE_REJECTED;
    }
  }
  if (why) {
    *pzReason = why == TOMB_DELETED ? "blocked: deleted by its author"
              : why == TOMB_EVICTED ? "blocked: evicted to keep within the size budget"
                                    : "replaced: have a newer version";
    /* A deleted event is refused, but what it says still counts: its id
    ** hash matched, so kind and created_at are the author's. Remember
    ** them (which confirms the tombstone for sync), and for a
    ** replaceable kind let it displace older versions. */
    if (why == TOMB_DELETED) {
      int older;
      rc = tomb_put(s, ev->id, ev->pubkey, ev->kind, ev->created_at, TOMB_DELETED);
      if (rc == 0 && event_kind_replaceable(ev->kind)) rc = settle_slot(s, ev, &older);
      if (rc) return rc;
    }
    return STORE_REJECTED;
  }

  rc = exists(s, Q_MUTED, ev->pubkey, 32);
  if (rc) {
    *pzReason = "blocked: author is muted";
    return rc < 0 ? rc : STORE_REJECTED;
  }
  return STORE_OK;
}

/* Applies a kind-5 deletion: each "e" tag names an event that is removed
** if its author wrote the deletion (NIP-09); a target not seen yet gets a
** tombstone naming the deleter, which blocks it only if the same author
** wrote it. Deletions of deletions have no effect. */
static int apply_deletion(store *s, const event *ev) {
  const cJSON *tag;
  cJSON_ArrayForEach(tag, ev->tags) {
    const cJSON *name = cJSON_GetArrayItem(tag, 0);
    const cJSON *value = cJSON_GetArrayItem(tag, 1);
    unsigned char id[32];
    if (!cJSON_IsString(name) || strcmp(name->valuestring, "e") != 0 ||
        !cJSON_IsString(value) || hex_decode(value->valuestring, id, 32)) {
      continue;
    }
    sqlite3_stmt *q = stmt(s, Q_EVENT_BY_ID);
    sqlite3_bind_blob(q, 1, id, 32, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      sqlite3_int64 seq = sqlite3_column_int64(q, 0);
      int mine = memcmp(sqlite3_column_blob(q, 1), ev->pubkey, 32) == 0;
      int64_t t = sqlite3_column_int64(q, 2);
      int kind = sqlite3_column_int(q, 3);
      sqlite3_reset(q);
      if (!mine || kind == 5) continue;
      rc = remove_event(s, seq);
      if (rc == 0) rc = tomb_put(s, id, ev->pubkey, kind, t, TOMB_DELETED);
    } else if (rc == SQLITE_DONE) {
      sqlite3_reset(q);
      rc = tomb_put(s, id, ev->pubkey, -1, -1, TOMB_DELETED);
    } else {
      rc = store_fail(s, rc, "cannot read the store");
      sqlite3_reset(q);
    }
    if (rc) return rc;
  }
  return 0;
}

/* Rebuilds the mute table from the local user's newest kind 10000 and
** drops everything stored from the authors it names. */
static int apply_mutes(store *s, const event *ev) {
  int rc = step_done(s, stmt(s, Q_MUTE_CLEAR), "cannot update mutes");
  const cJSON *tag;
  cJSON_ArrayForEach(tag, ev->tags) {
    const cJSON *name = cJSON_GetArrayItem(tag, 0);
    const cJSON *value = cJSON_GetArrayItem(tag, 1);
    unsigned char pk[32];
    if (rc || !cJSON_IsString(name) || strcmp(name->valuestring, "p") != 0 ||
        !cJSON_IsString(value) || hex_decode(value->valuestring, pk, 32) ||
        memcmp(pk, s->self, 32) == 0) {
      continue;
    }
    sqlite3_stmt *q = stmt(s, Q_MUTE_ADD);
    sqlite3_bind_blob(q, 1, pk, 32, SQLITE_STATIC);
    rc = step_done(s, q, "cannot update mutes");
  }
  while (rc == 0) {
    sqlite3_stmt *q = stmt(s, Q_MUTED_EVENTS);
    int step = sqlite3_step(q);
    if (step == SQLITE_DONE) { sqlite3_reset(q); break; }
    if (step != SQLITE_ROW) {
      rc = store_fail(s, step, "cannot read the store");
      sqlite3_reset(q);
      break;
    }
    sqlite3_int64 seq = sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    rc = remove_event(s, seq);
  }
  return rc;
}

static int is_tag_letter(const char *z) {
  return ((z[0] >= 'a' && z[0] <= 'z') || (z[0] >= 'A' && z[0] <= 'Z')) &&
         z[1] == 0;
}

int store_insert(store *s, const event *ev, const char *zJson, size_t nJson,
                 const char **pzReason) {
  int rc = store_precheck(s, ev, pzReason);
  if (rc != STORE_OK) return rc;
  if (event_kind_replaceable(ev->kind)) {
    int older;
    if ((rc = settle_slot(s, ev, &older)) != 0) return rc;
    if (older) {
      /* Remembered, so that sync never fetches this version again. */
      *pzReason = "replaced: have a newer version";
      rc = tomb_put(s, ev->id, ev->pubkey, ev->kind, ev->created_at, TOMB_REPLACED);
      return rc ? rc : STORE_REJECTED;
    }
  }

  sqlite3_stmt *q = stmt(s, Q_INSERT);
  sqlite3_bind_blob(q, 1, ev->id, 32, SQLITE_STATIC);
  sqlite3_bind_blob(q, 2, ev->pubkey, 32, SQLITE_STATIC);
  sqlite3_bind_int64(q, 3, ev->created_at);
  sqlite3_bind_int(q, 4, ev->kind);
  sqlite3_bind_text(q, 5, zJson, (int)nJson, SQLITE_STATIC);
  if ((rc = step_done(s, q, "cannot store an event")) != 0) return rc;
  sqlite3_int64 seq = sqlite3_last_insert_rowid(s->db);

  const cJSON *tag;
  int nRow = 0;
  cJSON_ArrayForEach(tag, ev->tags) {
    const cJSON *name = cJSON_GetArrayItem(tag, 0);
    const cJSON *value = cJSON_GetArrayItem(tag, 1);
    if (!cJSON_IsString(name) || !is_tag_letter(name->valuestring) ||
        !cJSON_IsString(value) ||
        strlen(value->valuestring) > STORE_MAX_TAG_VALUE) {
      continue;
    }
    if (++nRow > STORE_MAX_TAG_ROWS) break;
    q = stmt(s, Q_TAG_INSERT);
    sqlite3_bind_text(q, 1, name->valuestring, -1, SQLITE_STATIC);
    /* Packed as a query's SQL_LIST_TAG list yields it (sql_list.h). */
    unsigned char key[32];
    if (hex_decode(value->valuestring, key, 32) == 0) {
      sqlite3_bind_blob(q, 2, key, 32, SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_text(q, 2, value->valuestring, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(q, 3, seq);
    if ((rc = step_done(s, q, "cannot store a tag")) != 0) return rc;
  }

  if (ev->kind == 5 && (rc = apply_deletion(s, ev)) != 0) return rc;
  if (ev->kind == 3 && s->hasSelf && memcmp(ev->pubkey, s->self, 32) == 0) {
    s->followsValid = 0;
  }
  if (ev->kind == 10000 && s->hasSelf && memcmp(ev->pubkey, s->self, 32) == 0) {
    rc = apply_mutes(s, ev);
  }
  return rc ? rc : STORE_OK;
}

/* --- storage policy and size budget ----------------------------------------- */

void store_set_policy(store *s, const store_policy *p) { s->policy = *p; }
store_policy store_get_policy(store *s) { return s->policy; }

static int cmp_key(const void *a, const void *b) { return memcmp(a, b, 32); }

/* Reloads the followed pubkeys from the local user's newest kind 3. */
static int load_follows(store *s) {
  free(s->aFollow);
  s->aFollow = NULL;
  s->nFollow = 0;
  if (!s->hasSelf) { s->followsValid = 1; return 0; }
  sqlite3_stmt *q = stmt(s, Q_SELF_FOLLOWS);
  sqlite3_bind_blob(q, 1, s->self, 32, SQLITE_STATIC);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_DONE) { sqlite3_reset(q); s->followsValid = 1; return 0; }
  if (rc != SQLITE_ROW) {
    rc = store_fail(s, rc, "cannot read the follow list");
    sqlite3_reset(q);
    return rc;
  }
  const char *zWhy;
  cJSON *root = json_parse((const char *)sqlite3_column_text(q, 0),
                           (size_t)sqlite3_column_bytes(q, 0), &zWhy);
  sqlite3_reset(q);
  if (!root) return store_corrupt(s, "a stored follow list is not JSON");
  const cJSON *tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
  int nTag = cJSON_GetArraySize(tags);
  s->aFollow = malloc((size_t)(nTag ? nTag : 1) * 32);
  if (!s->aFollow) { cJSON_Delete(root); return HIROBA_ENOMEM; }
  const cJSON *tag;
  cJSON_ArrayForEach(tag, tags) {
    const cJSON *name = cJSON_GetArrayItem(tag, 0);
    const cJSON *value = cJSON_GetArrayItem(tag, 1);
    if (cJSON_IsString(name) && strcmp(name->valuestring, "p") == 0 &&
        cJSON_IsString(value) &&
        hex_decode(value->valuestring, s->aFollow[s->nFollow], 32) == 0) {
      s->nFollow++;
    }
  }
  cJSON_Delete(root);
  qsort(s->aFollow, s->nFollow, 32, cmp_key);
  s->followsValid = 1;
  return 0;
}

/* 1 when pk is the local user or someone they follow, 0 when not, <0 on
** error. */
static int is_close(store *s, const unsigned char pk[32]) {
  if (s->hasSelf && memcmp(pk, s->self, 32) == 0) return 1;
  if (!s->followsValid) {
    int rc = load_follows(s);
    if (rc) return rc;
  }
  return s->nFollow && bsearch(pk, s->aFollow, s->nFollow, 32, cmp_key) != NULL;
}

/* The most "e" tags store_admit looks up (one query each). */
#define ADMIT_MAX_LOOKUPS 16

int store_admit(store *s, const event *ev, const char **pzReason) {
  if (s->policy.mode == STORE_POLICY_ALL) return STORE_OK;
  int rc = is_close(s, ev->pubkey);
  if (rc) return rc < 0 ? rc : STORE_OK;
  const cJSON *tag;
  int nLookup = 0;
  cJSON_ArrayForEach(tag, ev->tags) {
    const cJSON *name = cJSON_GetArrayItem(tag, 0);
    const cJSON *value = cJSON_GetArrayItem(tag, 1);
    unsigned char key[32];
    if (!cJSON_IsString(name) || !cJSON_IsString(value) ||
        name->valuestring[0] == 0 || name->valuestring[1] != 0 ||
        hex_decode(value->valuestring, key, 32)) {
      continue;
    }
    if (name->valuestring[0] == 'p') {
      rc = is_close(s, key);
      if (rc) return rc < 0 ? rc : STORE_OK;
    } else if (name->valuestring[0] == 'e' && nLookup++ < ADMIT_MAX_LOOKUPS) {
      sqlite3_stmt *q = stmt(s, Q_EVENT_BY_ID);
      sqlite3_bind_blob(q, 1, key, 32, SQLITE_STATIC);
      rc = sqlite3_step(q);
      if (rc == SQLITE_ROW) {
        unsigned char author[32];
        memcpy(author, sqlite3_column_blob(q, 1), 32);
        sqlite3_reset(q);
        if (memcmp(author, ev->pubkey, 32) == 0) return STORE_OK;
        rc = is_close(s, author);
        if (rc) return rc < 0 ? rc : STORE_OK;
      } else {
        sqlite3_reset(q);
        if (rc != SQLITE_DONE) return store_fail(s, rc, "cannot read the store");
      }
    }
  }
  if (ev->kind == 0) {
    /* The name and picture of someone whose reply or reaction we keep. */
    rc = exists(s, Q_AUTHOR_HAS, ev->pubkey, 32);
    if (rc) return rc < 0 ? rc : STORE_OK;
  }
  *pzReason = "blocked: not from or about anyone this feed follows";
  return STORE_REJECTED;
}

/* The integer a one-row PRAGMA statement returns, into *pn. */
static int pragma_int(store *s, int iQuery, int64_t *pn) {
  sqlite3_stmt *q = stmt(s, iQuery);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) *pn = sqlite3_column_int64(q, 0);
  sqlite3_reset(q);
  return rc == SQLITE_ROW ? 0 : store_fail(s, rc, "cannot measure the database");
}

int store_used_bytes(store *s, int64_t *pn) {
  int64_t nPage = 0, nFree = 0, szPage = 0;
  int rc = pragma_int(s, Q_PAGE_COUNT, &nPage);
  if (rc == 0) rc = pragma_int(s, Q_FREELIST, &nFree);
  if (rc == 0) rc = pragma_int(s, Q_PAGE_SIZE, &szPage);
  *pn = rc ? 0 : (nPage - nFree) * szPage;
  return rc;
}

typedef struct victim {
  sqlite3_int64 seq;
  unsigned char id[32];
  unsigned char pubkey[32];
  int kind;
  int64_t createdAt;
  int64_t nJson;
} victim;

/* One pass of eviction, oldest first: strangers (bFollowed 0) or the
** authors the local user follows (1), until the events removed held
** *pnExcess bytes (counted twice: the row, and its share of indexes and
** tags). Freed space shows in the page count only once whole pages
** empty, so the pages are not what stops it; the next merge over budget
** evicts again. */
static int evict_pass(store *s, int bFollowed, int64_t *pnExcess, int64_t *pnEvicted) {
  int64_t t = -1;
  unsigned char cursor[32];
  memset(cursor, 0xff, sizeof cursor);
  victim a[128];
  int rc = 0;
  while (rc == 0 && *pnExcess > 0) {
    sqlite3_stmt *q = stmt(s, Q_OLDEST);
    sqlite3_bind_int64(q, 1, t);
    sqlite3_bind_blob(q, 2, cursor, 32, SQLITE_TRANSIENT);
    int n = 0, step;
    while (n < 128 && (step = sqlite3_step(q)) == SQLITE_ROW) {
      victim *v = &a[n++];
      v->seq = sqlite3_column_int64(q, 0);
      memcpy(v->id, sqlite3_column_blob(q, 1), 32);
      memcpy(v->pubkey, sqlite3_column_blob(q, 2), 32);
      v->kind = sqlite3_column_int(q, 3);
      v->createdAt = sqlite3_column_int64(q, 4);
      v->nJson = sqlite3_column_int64(q, 5);
    }
    sqlite3_reset(q);
    if (n < 128 && step != SQLITE_DONE) return store_fail(s, step, "cannot read the store");
    if (n == 0) break;
    for (int i = 0; rc == 0 && i < n && *pnExcess > 0; i++) {
      victim *v = &a[i];
      t = v->createdAt;
      memcpy(cursor, v->id, 32);
      if (event_kind_replaceable(v->kind)) continue;
      if (s->hasSelf && memcmp(v->pubkey, s->self, 32) == 0) continue;
      int close = is_close(s, v->pubkey);
      if (close < 0) return close;
      if (close != bFollowed) continue;
      rc = remove_event(s, v->seq);
      if (rc == 0 && bFollowed) {
        rc = tomb_put(s, v->id, v->pubkey, v->kind, v->createdAt, TOMB_EVICTED);
      }
      if (rc == 0) {
        ++*pnEvicted;
        *pnExcess -= 2 * (v->nJson + 100);
      }
    }
  }
  return rc;
}

int store_enforce_budget(store *s, int64_t *pnEvicted) {
  *pnEvicted = 0;
  if (s->policy.maxBytes <= 0) return 0;
  int64_t used = 0;
  int rc = store_used_bytes(s, &used);
  if (rc || used <= s->policy.maxBytes) return rc;
  int64_t excess = used - s->policy.maxBytes / 10 * 9;
  rc = evict_pass(s, 0, &excess, pnEvicted);
  if (rc == 0) rc = evict_pass(s, 1, &excess, pnEvicted);
  return rc;
}
