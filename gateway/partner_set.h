/*
 * partner_set - every partner profile of partners_dir, loaded and checked
 * together, for the daemon's modules to look partners up by id or by AS2
 * name.
 *
 * OWNS
 *   Loading every partners_dir/<id>.xml (partner.xsd beside them, or the one in
 *   maps_dir's parent as installed), refusing the whole set when one
 *   profile is invalid (errors "file:line: message", as partner check
 *   prints them) or when two profiles claim the same id or AS2 name, and
 *   the reference count that lets a reload swap the set while worker
 *   jobs still use the old one.
 *
 * THREADS
 *   A loaded set is read-only: lookups are safe from any thread. ref and
 *   unref are atomic; the set is freed by the last unref.
 *
 * NEVER
 *   Opens certificate or key files (the AS2 module does, at load of its
 *   own state), or changes a profile after loading.
 */
#ifndef EDIGATE_PARTNER_SET_H
#define EDIGATE_PARTNER_SET_H

#include <stddef.h>

struct partner;
struct partner_set;

/* xsd_path NULL: <partners_dir>/partner.xsd. maps_dir (may be NULL)
 * lets overrides be checked against their base maps. NULL on failure
 * with *errors malloc'd (one "file:line: message" per line). A directory
 * without profiles is a valid, empty set. */
struct partner_set *partner_set_load(const char *partners_dir,
    const char *xsd_path, const char *maps_dir, char **errors);

struct partner_set *partner_set_ref(struct partner_set *ps);
void partner_set_unref(struct partner_set *ps);

size_t partner_set_count(const struct partner_set *ps);
const struct partner *partner_set_at(const struct partner_set *ps, size_t i);
const struct partner *partner_set_find(const struct partner_set *ps,
    const char *id);
/* The partner whose <as2 id="..."> is as2_name (case-sensitive, RFC 4130
 * section 6.2), or NULL. */
const struct partner *partner_set_find_as2(const struct partner_set *ps,
    const char *as2_name);

#endif
