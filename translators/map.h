/*
 * map - the in-memory form of a message map, and its loader.
 *
 * OWNS
 *   Reading a map file (maps/x12/, maps/edifact/) or an override
 *   file with libxml2, checking it against maps/map.xsd and against the
 *   rules a schema cannot express (code lists that exist, cases only where
 *   a select element is named, case paths that share one parent), and
 *   compiling it into a structure the translation engine walks without
 *   string comparisons: segment tags are packed into integers, element
 *   rules are indexed by position, canonical paths are split into steps
 *   once, code lists are resolved to pointers.
 *
 *   An <override> file names a base map (relative to the override's own
 *   folder), which is loaded first and then changed: code lists merged
 *   code by code, cases added, element rules replaced or added, use and
 *   max of a segment changed. The 005010 maps and partner conventions
 *   are overrides.
 *
 * INVARIANTS
 *   A loaded map is immutable and may be shared by any number of
 *   translations running at once. Every loop has at least one child, its
 *   trigger segment, at index 0.
 *
 * ERRORS
 *   map_load() returns NULL and a malloc'd text of "file:line: message"
 *   lines, one per problem, in the order the file has them.
 *
 * NEVER
 *   Fetches anything from the network (XML_PARSE_NONET), expands external
 *   entities, or knows about a particular message type.
 */
#ifndef EDIGATE_MAP_H
#define EDIGATE_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef enum map_standard {
	MAP_X12 = 1,
	MAP_EDIFACT = 2
} map_standard;

typedef enum map_type {
	MAP_TYPE_AN = 0, /* X12 AN, EDIFACT an */
	MAP_TYPE_ID,     /* X12 ID: a code */
	MAP_TYPE_NUM,    /* X12 N0-N9 (decimals in map_value.decimals) */
	MAP_TYPE_R,      /* X12 R, EDIFACT n: a decimal number */
	MAP_TYPE_DT,
	MAP_TYPE_TM,
	MAP_TYPE_B,
	MAP_TYPE_ALPHA   /* EDIFACT a */
} map_type;

typedef enum map_use {
	MAP_USE_OPTIONAL = 0,
	MAP_USE_MANDATORY,
	MAP_USE_CONDITIONAL
} map_use;

typedef enum map_convert {
	MAP_CONVERT_NONE = 0,
	MAP_CONVERT_DATE,     /* CCYYMMDD / YYMMDD <-> YYYY-MM-DD */
	MAP_CONVERT_TIME,     /* HHMM[SS] <-> HH:MM[:SS] */
	MAP_CONVERT_DATETIME, /* CCYYMMDDHHMM[SS] <-> YYYY-MM-DDTHH:MM[:SS] */
	MAP_CONVERT_DECIMAL   /* EDIFACT decimal mark <-> '.' */
} map_convert;

#define MAP_UNBOUNDED UINT32_MAX

/* A code list: EDI codes and their canonical names. */
typedef struct map_code {
	const char *edi;
	const char *canonical; /* NULL: the code is valid but keeps its name */
	size_t edi_len, canonical_len; /* compared before any byte */
} map_code;

typedef struct map_codelist {
	const char *id;
	int closed;
	map_code *codes;
	size_t count;
	size_t cap;
} map_codelist;

/* A canonical path, split into keys. append on a step means "[]";
 * index >= 0 means "[N]", item N of an array of objects (-1: a plain
 * key). An empty path (steps == 0) is "." : the value of the case itself. */
typedef struct map_step {
	const char *key;
	size_t len;
	int append;
	int index;
} map_step;

typedef struct map_path {
	map_step *steps;
	size_t count;
} map_path;

/* The rule and binding of one simple element or one component. */
typedef struct map_value {
	unsigned pos;         /* element position, or component position */
	map_type type;
	unsigned decimals;    /* N0-N9 */
	map_use use;
	unsigned min, max;    /* lengths */
	const map_codelist *codelist;
	map_path *path;       /* NULL: not bound */
	map_convert convert;
	int pair;             /* qualifier or value of a keyed <pairs> */
	const char *fixed;    /* a constant, or NULL */
	size_t fixed_len;
	const char *dflt;     /* written out when the document has nothing */
	size_t dflt_len;
	int line;
} map_value;

/* What a segment allows at one element position. */
typedef struct map_slot {
	int defined;
	int composite;
	map_use use;
	unsigned repeat;
	map_value simple;         /* when !composite */
	map_value *components;    /* when composite, indexed 1..component_count */
	unsigned component_count; /* highest component position */
	int pair;                 /* part of a <pairs> */
} map_slot;

/* Qualifier pairs: elements from..to as (qualifier, value), or one pair
 * at given positions inside a composite (qualifier_element > 0). */
typedef struct map_pairs {
	unsigned from, to;
	unsigned qualifier_element, qualifier_component;
	unsigned value_element, value_component;
	map_path *path;
	const map_codelist *codelist;
	unsigned max;
	int line;
} map_pairs;

typedef struct map_case {
	const char *value;
	size_t value_len;
	map_path *path;  /* relative to the node's path */
	int line;
} map_case;

/* A hierarchical level of an HL loop. */
typedef struct map_level {
	const char *code;
	const char *parents; /* space-separated codes, NULL for a top level */
	map_path *path;
	int line;
} map_level;

typedef enum map_node_kind {
	MAP_NODE_SEGMENT = 1,
	MAP_NODE_LOOP
} map_node_kind;

typedef struct map_node map_node;
struct map_node {
	map_node_kind kind;
	uint32_t tag;        /* packed tag (map_tag_pack); a loop: its trigger's */
	char tag_text[4];
	const char *id;      /* loop id, or the tag */
	map_use use;
	uint32_t max;        /* MAP_UNBOUNDED for "unbounded" */
	map_path *path;
	unsigned select_element;   /* 0: no select */
	unsigned select_component; /* 0: the element itself */
	map_case *cases;
	size_t case_count;
	/* Segment */
	map_slot *slots;     /* indexed 1..slot_count */
	unsigned slot_count;
	map_pairs *pairs;
	size_t pair_count;
	int bound;           /* any binding at all (path, case, pairs) */
	int has_append;      /* an element path ends in [] */
	/* Loop */
	map_node **children;
	size_t child_count;
	map_level *levels;
	size_t level_count;
	int line;
};

typedef struct map {
	map_standard standard;
	const char *version;
	const char *message;
	const char *document;
	const char *file;
	map_codelist *codelists;
	size_t codelist_count;
	map_node root;       /* a loop without trigger: the message body */
	size_t max_children; /* largest child_count, for the engine's stack */
	unsigned depth;      /* deepest loop nesting */
	struct map_arena *arena;
} map;

/* Compiles maps/map.xsd once; a loader may be used by one thread at a
 * time. NULL and *errors on failure. */
typedef struct map_loader map_loader;
map_loader *map_loader_new(const char *xsd_path, char **errors);
void map_loader_free(map_loader *loader);

/* Loads a map or an override file. NULL and *errors (malloc'd
 * "file:line: message" lines) on failure. */
map *map_load(map_loader *loader, const char *path, char **errors);
void map_free(map *m);

/* Checks a file against the schema and the map rules (edigate map check). */
int map_check(map_loader *loader, const char *path, char **errors);

/* Applies an override file to a loaded map (partner conventions). */
int map_apply_override(map_loader *loader, map *m, const char *path,
    char **errors);

/* Tags packed into an integer: "N1" and "N1 " differ from "N10". */
static inline uint32_t
map_tag_pack(const char *p, size_t len)
{
	uint32_t t = 0;
	for (size_t i = 0; i < len && i < 3; i++)
		t = (t << 8) | (unsigned char)p[i];
	return t | ((uint32_t)len << 24);
}

const map_codelist *map_find_codelist(const map *m, const char *id);
/* EDI code -> canonical name, NULL when the list does not know it. */
const map_code *map_code_by_edi(const map_codelist *cl, const char *s, size_t len);
const map_code *map_code_by_canonical(const map_codelist *cl, const char *s, size_t len);

/* Node a path of tags names ("N1/N4"), NULL if none. */
map_node *map_find_node(map *m, const char *tag_path);

#endif
