/*
** state.h -- a small key-value store in the database for the sync
** driver's bookkeeping (per relay: the last completed sync, the outbox's
** watermark), kept beside the events so it survives reloads and travels
** with the identity.
*/
#ifndef HIROBA_STATE_H
#define HIROBA_STATE_H

#include "store.h"
#include "strbuf.h"

#define STATE_MAX_KEY 256          /* bytes of a key */
#define STATE_MAX_VALUE 65536      /* bytes of a value's JSON */
#define STATE_MAX_KEYS 1024        /* keys per database */

/* Appends the value of zKey to sb: 0, or 1 when there is none (sb
** untouched), or a HIROBA_E* code. */
int state_get(store *s, const char *zKey, strbuf *sb);

/* Sets zKey to the JSON text zValue, or deletes it when zValue is NULL.
** The caller has checked both. 0, HIROBA_EFULL past STATE_MAX_KEYS, or a
** HIROBA_E* code. Its own transaction unless one is open. */
int state_set(store *s, const char *zKey, const char *zValue);

#endif
