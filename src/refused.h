/*
** refused.h -- a small memory of events whose signature failed, so that a
** peer repeating one costs a hash lookup instead of a BIP-340 check (the
** most expensive thing merge does).
**
** An entry is a fingerprint of (id, sig), never of the id alone: an
** attacker who knows an honest event's id could otherwise send it with a
** bad signature first and have the honest copy refused from then on.
** The fingerprint is SHA-256 over a per-set random key, the id and the
** signature, so entries cannot be aimed at each other's slots.
**
** Fixed size (REFUSED_SLOTS entries, about 70 KiB), direct-mapped: a new
** entry overwrites whatever held its slot. Forgetting is harmless (the
** event is checked again); a false "refused" would need a SHA-256
** collision on 128 bits.
*/
#ifndef HIROBA_REFUSED_H
#define HIROBA_REFUSED_H

#define REFUSED_SLOTS 4096

typedef struct refused_set refused_set;

/* A new, empty set (NULL when out of memory). */
refused_set *refused_new(void);
/* Frees the set (NULL is fine). */
void refused_free(refused_set *r);
/* Remembers that (id, sig) failed verification. */
void refused_add(refused_set *r, const unsigned char id[32],
                 const unsigned char sig[64]);
/* 1 when (id, sig) is remembered as refused, else 0. */
int refused_has(const refused_set *r, const unsigned char id[32],
                const unsigned char sig[64]);

#endif
