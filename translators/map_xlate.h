/*
 * map_xlate - the translation engine: one map drives EDI -> canonical JSON
 * (with structure validation, the "guide") and canonical JSON -> EDI.
 *
 * OWNS
 *   EDI -> canonical (map_in_*): fed the body segments of one transaction
 *   set / message (between ST and SE, UNH and UNT) one by one, it follows
 *   the map's segment order and loops, binds elements to canonical paths,
 *   converts values, records what it could not bind in the document's
 *   "unmapped" array, and collects guide issues with the codes 997 AK3/AK4,
 *   999 IK3/IK4 and CONTRL UCS/UCD use.
 *
 *   Canonical -> EDI (map_out_*): walks the map and the document together
 *   and hands each body segment to a sink; unmapped entries are put back
 *   at their positions, so EDI -> canonical -> EDI gives the same segments.
 *
 * LOSSLESS RULE
 *   A segment is either mapped or, whole, in "unmapped" with its position
 *   (ST = 1, UNH = 1) and its elements. A mapped segment whose elements the
 *   map does not all bind gets an "unmapped" entry holding just those
 *   elements (bound ones are null); the way back merges them in. A segment
 *   is unmapped whole when its qualifier has no case, a constant does not
 *   match, or what it binds is already set (a repeated qualifier).
 *
 * NEVER
 *   Allocates per element on the hot path (the JSON it builds comes from
 *   its arena), holds
 *   on to segment slices after the call, or contains message-specific code.
 */
#ifndef EDIGATE_MAP_XLATE_H
#define EDIGATE_MAP_XLATE_H

#include <jansson.h>

#include "edi_reader.h"
#include "edi_writer.h"
#include "jtree.h"
#include "map.h"

typedef enum map_issue_kind {
	MAP_ISSUE_UNRECOGNIZED_SEGMENT = 1, /* tag not in the message at all */
	MAP_ISSUE_UNEXPECTED_SEGMENT,       /* known tag, wrong place */
	MAP_ISSUE_MANDATORY_SEGMENT_MISSING,
	MAP_ISSUE_LOOP_OVER_MAX,
	MAP_ISSUE_SEGMENT_OVER_MAX,
	MAP_ISSUE_ELEMENT_MISSING,
	MAP_ISSUE_TOO_MANY_ELEMENTS,
	MAP_ISSUE_TOO_SHORT,
	MAP_ISSUE_TOO_LONG,
	MAP_ISSUE_BAD_CHARACTER,
	MAP_ISSUE_BAD_CODE,
	MAP_ISSUE_BAD_DATE,
	MAP_ISSUE_BAD_TIME,
	MAP_ISSUE_TOO_MANY_REPETITIONS,
	MAP_ISSUE_TOO_MANY_COMPONENTS
} map_issue_kind;

typedef struct map_issue {
	map_issue_kind kind;
	unsigned position;  /* segment position in the set, ST/UNH = 1 */
	char tag[4];
	unsigned element;   /* 0 for segment-level issues */
	unsigned component; /* 0 when not inside a composite */
	char message[160];
} map_issue;

/* 997 AK304 / 999 IK304 segment syntax error code; 8 ("segment has data
 * element errors") for element-level issues. */
int map_issue_x12_segment_code(map_issue_kind kind);
/* 997 AK403 / 999 IK403 element syntax error code; 0 for segment issues. */
int map_issue_x12_element_code(map_issue_kind kind);
/* CONTRL UCS02 / UCD01 syntax error code (UN/EDIFACT 0085). */
int map_issue_edifact_code(map_issue_kind kind);
const char *map_issue_kind_name(map_issue_kind kind);

/* ------------------------------------------------------ EDI -> canonical */

typedef struct map_in map_in;

/* One engine per thread; reusable for any number of messages. The
 * document it builds lives in the engine's arena (no malloc per value)
 * until the next map_in_new_document(). */
map_in *map_in_new(void);
void map_in_free(map_in *in);

/* Forgets the previous document and returns an empty object for the
 * next one, from the engine's arena (map_in_arena), to which the caller
 * adds "type" and "meta" before map_in_begin. NULL when out of memory. */
jtree *map_in_new_document(map_in *in);
jtree_arena *map_in_arena(map_in *in);

/* Starts a message: bindings go into doc (from map_in_new_document);
 * the engine adds "unmapped". */
void map_in_begin(map_in *in, const map *m, jtree *doc);
/* One body segment; position is its 1-based place in the set (ST = 1). */
void map_in_segment(map_in *in, const edi_segment *segment, unsigned position);
/* Ends the message: checks mandatory segments not seen. */
void map_in_end(map_in *in, unsigned position);

/* Issues found so far (at most MAP_IN_MAX_ISSUES are kept; the count
 * returned by map_in_issue_total() goes on). */
#define MAP_IN_MAX_ISSUES 100
const map_issue *map_in_issues(const map_in *in, size_t *count);
size_t map_in_issue_total(const map_in *in);

/* ------------------------------------------------------ canonical -> EDI */

#define MAP_OUT_MAX_ELEMENTS 64
#define MAP_OUT_MAX_COMPONENTS 16

typedef struct map_field {
	const char *ptr;
	size_t len;
} map_field;

/* One segment to write. Values are plain text (no release characters);
 * element n has component_count[n] components (0 = empty element). */
typedef struct map_out_segment {
	char tag[4];
	unsigned element_count;
	unsigned component_count[MAP_OUT_MAX_ELEMENTS + 1];
	map_field components[MAP_OUT_MAX_ELEMENTS + 1][MAP_OUT_MAX_COMPONENTS];
} map_out_segment;

/* The interface the engine writes through; a writer plugs in here. */
typedef int (*map_out_sink)(void *ctx, const map_out_segment *segment);

/* Writes the body segments of doc. Returns the number of segments, or -1
 * with a message in err (a value that does not fit, a sink failure). */
long map_out_document(const map *m, json_t *doc, map_out_sink sink, void *ctx,
    char *err, size_t errlen);
/* The same from an arena tree (jparse's): what map_out_document does
 * after copying its json_t into one. */
struct jtree;
long map_out_jtree(const map *m, const struct jtree *doc, map_out_sink sink,
    void *ctx, char *err, size_t errlen);

/* Hands one segment to the EDI writer (the usual sink: pass the writer as
 * ctx of map_out_writer_sink). Returns the writer's status. */
edi_write_status map_out_write(const map_out_segment *segment, edi_writer *w);
int map_out_writer_sink(void *ctx, const map_out_segment *segment);

/* Formats one segment with the given delimiters (terminator and line
 * suffix included), escaping EDIFACT release characters; X12 data that
 * contains a delimiter is refused. Returns the length, or -1. */
long map_out_format(const map_out_segment *segment, const edi_delimiters *d,
    char *buf, size_t cap);

#endif
