/*
 * jtree - canonical documents as arena-allocated JSON trees, written as
 * text without a general-purpose JSON library in between.
 *
 * OWNS
 *   A small JSON tree (objects keep insertion order, as the canonical
 *   documents need) whose nodes, keys and strings live in one arena that
 *   is reset between documents, so building a document costs no malloc
 *   per node; its compact serialisation, byte for byte what jansson's
 *   json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) writes for the same
 *   tree; and the conversion to a jansson tree for callers that need one.
 *
 * INVARIANTS
 *   Every string held is valid UTF-8: jtree_text() reads bytes that are
 *   not (ISO 8859-1 from an UNOC interchange or a Latin-1 partner) as
 *   ISO 8859-1, the way the canonical model always has. Setting a key
 *   that exists replaces its value in place (the key keeps its position),
 *   as jansson does. Nothing is freed on its own: a whole document goes
 *   at once with jtree_arena_reset().
 *
 * FAILURE
 *   Out of memory makes the constructors return NULL and the arena
 *   remember it (jtree_arena_failed); setters ignore NULL nodes, so a
 *   caller checks once per document, not per call.
 *
 * NEVER
 *   Holds a pointer into memory it was given: keys and strings are copied.
 */
#ifndef EDIGATE_JTREE_H
#define EDIGATE_JTREE_H

#include <stddef.h>

#include <jansson.h>

typedef struct jtree_arena jtree_arena;

typedef enum jtree_kind {
	JTREE_NULL = 0,
	JTREE_TRUE,
	JTREE_FALSE,
	JTREE_INTEGER,
	JTREE_STRING,
	JTREE_ARRAY,
	JTREE_OBJECT,
	/* A number with a fraction or an exponent, kept as its text (in
	 * u.string) so that nothing is rounded on the way through. */
	JTREE_REAL
} jtree_kind;

typedef struct jtree jtree;
typedef struct jtree_member jtree_member;

struct jtree_member {
	const char *key;
	size_t key_len;
	jtree *value;
	jtree_member *next;
};

struct jtree {
	jtree_kind kind;
	union {
		long long integer;
		struct {
			const char *ptr;
			size_t len;
		} string;
		struct {
			jtree **items;
			size_t size, cap;
		} array;
		struct {
			jtree_member *first, *last;
			size_t size;
		} object;
	} u;
};

jtree_arena *jtree_arena_new(void);
void jtree_arena_free(jtree_arena *a);
/* Forgets every node; keeps the first block for the next document. */
void jtree_arena_reset(jtree_arena *a);
int jtree_arena_failed(const jtree_arena *a);
/* n bytes (16-byte aligned, not cleared) that live until the reset;
 * NULL when out of memory (and the arena remembers it). For callers
 * that lay out their own members (map_in) without a copy per key. */
void *jtree_arena_alloc(jtree_arena *a, size_t n);

jtree *jtree_object(jtree_arena *a);
jtree *jtree_array(jtree_arena *a);
jtree *jtree_null(jtree_arena *a);
jtree *jtree_true(jtree_arena *a);
jtree *jtree_false(jtree_arena *a);
jtree *jtree_integer(jtree_arena *a, long long v);
/* A JSON number text with a fraction or exponent (the caller checked
 * its grammar); written back as the same text. */
jtree *jtree_real(jtree_arena *a, const char *p, size_t n);
/* A string of valid UTF-8 (the caller knows it is). */
jtree *jtree_string(jtree_arena *a, const char *p, size_t n);
/* NULL when p is not valid UTF-8 (what jansson's json_stringn does). */
jtree *jtree_string_checked(jtree_arena *a, const char *p, size_t n);
/* EDI bytes as JSON text: UTF-8 when they are, else ISO 8859-1. */
jtree *jtree_text(jtree_arena *a, const char *p, size_t n);

static inline int jtree_is_object(const jtree *j) { return j && j->kind == JTREE_OBJECT; }
static inline int jtree_is_array(const jtree *j) { return j && j->kind == JTREE_ARRAY; }

jtree *jtree_object_getn(const jtree *o, const char *key, size_t len);
/* Sets key (copied) to v; an existing key keeps its place. */
void jtree_object_setn(jtree_arena *a, jtree *o, const char *key, size_t len, jtree *v);
/* Appends key (copied, valid UTF-8, not yet in o) without looking for
 * it: for a parser that keeps its own index of the keys it has seen.
 * NULL when out of memory. */
jtree_member *jtree_object_append(jtree_arena *a, jtree *o, const char *key,
    size_t len, jtree *v);
/* The same for a key that is not copied: it must outlive the tree (the
 * map engine's interned keys live as long as the map). */
jtree_member *jtree_object_append_kept(jtree_arena *a, jtree *o,
    const char *key, size_t len, jtree *v);
void jtree_object_set(jtree_arena *a, jtree *o, const char *key, jtree *v);
void jtree_object_del(jtree *o, const char *key);

size_t jtree_array_size(const jtree *arr);
jtree *jtree_array_get(const jtree *arr, size_t i);
void jtree_array_append(jtree_arena *a, jtree *arr, jtree *v);
/* Replaces item i < size. */
void jtree_array_set(jtree *arr, size_t i, jtree *v);

/* A deep copy of j into a (keys and strings copied too); NULL when out
 * of memory or nested deeper than JTREE_MAX_DEPTH. */
jtree *jtree_copy(jtree_arena *a, const jtree *j);
/* A new object with o's members in o's order, sharing their values (the
 * keys are copied): for a caller that replaces or drops a few members of
 * a document it must not change. NULL when o is not an object or out of
 * memory. */
jtree *jtree_object_shallow_copy(jtree_arena *a, const jtree *o);

/* Compact JSON text of j appended to *buf (malloc'd, grown as needed;
 * *len and *cap track it). Returns 0, or -1 when out of memory. */
int jtree_write(const jtree *j, char **buf, size_t *len, size_t *cap);

/* jtree_write, except that where one of the n nodes in `known` is met
 * its text is copied from there instead of being written again: for
 * parts many documents share (meta's envelope). Each text must be what
 * jtree_write writes for its node. */
typedef struct jtree_known_text {
	const jtree *node;
	const char *text;
	size_t len;
} jtree_known_text;
int jtree_write_known(const jtree *j, const jtree_known_text *known, size_t n,
    char **buf, size_t *len, size_t *cap);

/* A jansson tree with the same content (new reference), NULL when out
 * of memory. */
json_t *jtree_to_json(const jtree *j);

/* An arena tree with the same content as a jansson tree (insertion
 * order kept; a real becomes JTREE_REAL with jansson's text of it).
 * NULL when out of memory or nested deeper than JTREE_MAX_DEPTH. */
#define JTREE_MAX_DEPTH 4096
jtree *jtree_from_json(jtree_arena *a, const json_t *j);

#endif
